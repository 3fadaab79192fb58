# A seccomp violation is never silent (src/sandbox.c, sandbox_sigsys):
# the filter traps, and the daemon logs which system call it was before
# it dies of SIGSYS, to each log destination: file, stderr, and syslog
# (as root: in a mount namespace whose /dev has a /dev/log served by
# test/syslogd.py, syslog_ns in test/lib.sh).
# test/relayq-crash execs /bin/sh right after the sandbox when
# RELAYQ_TEST_EXEC is set (what code run through a parser bug would do).
# Before, the kernel killed the process and the log said nothing.
# Sourced by test/check.sh.

TRAP_LINE='relayq\[[0-9]+\]: sandbox: system call [0-9]+ \(execve\) refused by the seccomp filter: stopping with SIGSYS; queued mail is safe\.  Please report this line as a relayq bug$'

# trap_run DEST FILE: the test daemon logging to DEST (file or stderr),
# whose lines end up in FILE; its exit status in TRAP_RC
# trap_reap PID: wait (15 s at most) for the daemon to die; its exit
# status into TRAP_RC, -1 when it is still running
trap_reap() {
	echo "$1" > "$T/daemon.pid"
	if wait_for 15 sh -c "! kill -0 $1 2>/dev/null"; then
		wait "$1" 2>/dev/null
		TRAP_RC=$?
	else
		TRAP_RC=-1
	fi
	rm -f "$T/daemon.pid"
}

trap_run() {
	local pid
	new_env "trap_$1"
	start_smtpd || return 1
	if [ "$1" = stderr ]; then write_conf "log stderr"; else write_conf; fi
	"${AS_USER[@]}" env RELAYQ_TEST_EXEC="$T/escaped" "$TOP/test/relayq-crash" \
	    -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	pid=$!
	trap_reap $pid
	stop_pid "$T/smtpd.pid"
}

test_sandbox_trap() {
	local dest f
	if sandbox_sanitizer_build; then
		ok "seccomp violation logged: sanitizer build, no sandbox to test (skipped)"
		return
	fi
	for dest in file stderr; do
		trap_run $dest || { not_ok "seccomp violation, log $dest: set-up" "see $T"; continue; }
		f=$T/log
		[ $dest = stderr ] && f=$T/daemon.err
		check "seccomp violation, log $dest: the sandbox was on" \
		    grep -qE 'sandbox: Landlock ABI [0-9]+, seccomp allow-list$' "$f"
		check "seccomp violation, log $dest: the call is named in the log" \
		    grep -qE "$TRAP_LINE" "$f"
		check "seccomp violation, log $dest: then killed by SIGSYS (status $TRAP_RC)" \
		    test "$TRAP_RC" -eq 159
		check "seccomp violation, log $dest: /bin/sh never ran" test ! -e "$T/escaped"
	done
}

# The same with `log syslog': the line reaches the syslog socket, with
# facility mail and level crit (<18>), after the daemon's own lines.
test_sandbox_trap_syslog() {
	local pid
	if [ "$(id -u)" != 0 ] || sandbox_sanitizer_build; then
		ok "seccomp violation, log syslog: needs root and the sandbox (skipped)"
		return
	fi
	new_env trap_syslog
	start_smtpd && write_conf "log syslog" || { not_ok "seccomp violation, log syslog: set-up" "see $T"; return; }
	syslog_ns "${AS_USER[@]}" env RELAYQ_TEST_EXEC="$T/escaped" \
	    "$TOP/test/relayq-crash" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	pid=$!
	trap_reap $pid
	check "seccomp violation, log syslog: the sandbox was on" \
	    wait_for 5 grep -qE 'sandbox: Landlock ABI [0-9]+, seccomp allow-list$' "$T/syslog"
	check "seccomp violation, log syslog: the call is named, facility mail, level crit" \
	    grep -qE "^<18>$TRAP_LINE" "$T/syslog"
	check "seccomp violation, log syslog: then killed by SIGSYS (status $TRAP_RC)" \
	    test "$TRAP_RC" -eq 159
	check "seccomp violation, log syslog: /bin/sh never ran" test ! -e "$T/escaped"
	stop_pid "$T/syslogd.pid"
	stop_pid "$T/smtpd.pid"
}

test_sandbox_trap
test_sandbox_trap_syslog
