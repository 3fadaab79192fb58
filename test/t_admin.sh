# An administrator's first hour: the PID file of a detached daemon,
# mailq and relayq queue while the daemon is down, sendmail's warning
# when nothing will take its message, a missing spool the daemon makes,
# relayq check by an ordinary user.  Sourced by test/check.sh.

# relayq drain without -f: the PID file names the daemon, not the parent
# that daemon() left behind
test_admin_pidfile() {
	local pid
	new_env admin-pid
	start_smtpd && write_conf || { not_ok "pid file: set-up" "see $T"; return; }
	as_user "$TOP/relayq" -C "$T/conf" drain 2>"$T/daemon.err"
	check "pid file: relayq drain detaches with exit 0" test $? -eq 0
	check "pid file: daemon started" wait_for 10 log_has "started:"
	pid=$(cat "$T/spool/pid")
	echo "$pid" > "$T/daemon.pid"	# stopped at cleanup whatever happens
	check "pid file: names a live process" kill -0 "$pid"
	check "pid file: ... which is relayq" test "$(cat "/proc/$pid/comm" 2>/dev/null)" = relayq
	kill "$pid"
	check "pid file: kill \$(cat pid) stops the daemon" wait_for 10 log_has "stopping$"
	wait_for 5 sh -c "! kill -0 $pid" && rm -f "$T/daemon.pid"
	stop_pid "$T/smtpd.pid"
}

# relayq stop: the daemon goes, and says so; a second stop says why not
test_admin_stop() {
	local out rc pid
	new_env admin-stop
	start_smtpd && write_conf || { not_ok "relayq stop: set-up" "see $T"; return; }
	as_user "$TOP/relayq" -C "$T/conf" drain 2>"$T/daemon.err" &&
	    wait_for 10 log_has "started:" || { not_ok "relayq stop: set-up" "$(cat "$T/daemon.err")"; return; }
	pid=$(cat "$T/spool/pid")
	echo "$pid" > "$T/daemon.pid"
	out=$(as_user "$TOP/relayq" -C "$T/conf" stop 2>&1); rc=$?
	check "relayq stop: exit 0" test $rc -eq 0
	check "relayq stop: says the daemon stopped" grep -qxF "relayq: the daemon (pid $pid) on $T/spool has stopped" <<<"$out"
	check "relayq stop: the daemon is gone" sh -c "! kill -0 $pid 2>/dev/null"
	check "relayq stop: the daemon logged it" log_has "stopping$"
	rm -f "$T/daemon.pid"
	out=$(as_user "$TOP/relayq" -C "$T/conf" stop 2>&1); rc=$?
	check "relayq stop, not running: exit 69 and why" test $rc -eq 69 -a \
	    "$out" = "relayq: stop: the relayq daemon is not running on $T/spool"
	stop_pid "$T/smtpd.pid"
}

# --help and help CMD: on stdout, exit 0
test_admin_help() {
	local out rc
	out=$("$TOP/relayq" --help); rc=$?
	check "relayq --help: exit 0, every command" test $rc -eq 0 -a \
	    "$(grep -cE '^relayq (\[-C file\] )?(drain|stop|probe|queue|status|show|hold|release|flush|delete|check|import|version|help)( |$)' <<<"$out")" -eq 14
	out=$("$TOP/relayq" help flush); rc=$?
	check "relayq help flush: that command only" test $rc -eq 0 -a \
	    "$out" = "relayq [-C file] flush [ID]
    retry deferred mail now"
	"$TOP/relayq" help nosuch >/dev/null 2>&1
	check "relayq help nosuch: usage error" test $? -eq 64
	out=$("$TOP/sendmail" --help); rc=$?
	check "sendmail --help: exit 0 with the usage on stdout" test $rc -eq 0 -a \
	    "$(head -1 <<<"$out" | cut -c1-15)" = "usage: sendmail"
}

# the daemon down: mailq and relayq queue read the files, with a note
test_admin_mailq_down() {
	local out err rc
	new_env admin-mailq
	PORT=1 write_conf || { not_ok "mailq, daemon down: set-up" "see $T"; return; }
	sed -i 's/^smarthost .*/smarthost 127.0.0.1:1/' "$T/conf"
	start_daemon || { not_ok "mailq, daemon down: set-up" "see $T"; return; }
	printf 'Subject: one\n\nbody\n' | submit first@example.net
	check "mailq, daemon down: first message deferred" wait_for 10 log_has "to=<first@example.net>, .*status=deferred"
	stop_daemon
	out=$(printf 'Subject: two\n\nbody\n' | submit second@example.net 2>&1); rc=$?
	check "sendmail, daemon down: still queues (exit 0)" test $rc -eq 0
	check "sendmail, daemon down: warns on stderr that the message waits" \
	    grep -qE "^sendmail: warning: [0-9A-Z]+: queued in $T/spool, but the relayq daemon is not running: the message waits until it starts \(relayq drain, or systemctl start relayq\)$" <<<"$out"
	check "sendmail, daemon down: and logs it" \
	    log_has "sendmail\[[0-9]+\]: [0-9A-Z]+: queued while the relayq daemon is not running on $T/spool: the message waits until it starts"
	out=$(as_user env RELAYQ_CONFIG="$T/conf" bash -c "exec -a mailq '$TOP/sendmail'" 2>"$T/mailq.err"); rc=$?
	check "mailq, daemon down: exit 0" test $rc -eq 0
	check "mailq, daemon down: says it reads the files" grep -qxF "mailq: warning: the relayq daemon is not running (start it: relayq drain, or systemctl start relayq); reading the queue in $T/spool directly" "$T/mailq.err"
	check "mailq, daemon down: the deferred message with its reason" \
	    grep -qzE "\(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:1: Connection refused\)
 +first@example\.net" <<<"$out"
	check "mailq, daemon down: the message not yet taken in" grep -qE "^ +second@example\.net$" <<<"$out"
	check "mailq, daemon down: total of 2" grep -qE "^-- [0-9]+ Kbytes in 2 Requests\.$" <<<"$out"
	out=$(as_user "$TOP/relayq" -C "$T/conf" queue 2>"$T/queue.err"); rc=$?
	check "relayq queue, daemon down: exit 0 and the same listing" \
	    test $rc -eq 0 -a "$(grep -c example.net <<<"$out")" -eq 2
	check "relayq queue, daemon down: note" grep -qF "relayq: warning: the relayq daemon is not running" "$T/queue.err"
	if [ "$(id -u)" = 0 ]; then
		# another user may not read the queue without the daemon
		out=$(setpriv --reuid=4243 --regid=4243 --clear-groups -- env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" -bp 2>&1); rc=$?
		check "mailq, daemon down, another user: exit 69" test $rc -eq 69
		check "mailq, daemon down, another user: says who can" \
		    grep -qF "the queue can be read without the daemon by root and the relayq user only (run mailq as root, or start the daemon: relayq drain)" <<<"$out"
	fi
	start_daemon
	out=$(printf 'Subject: three\n\nbody\n' | submit third@example.net 2>&1)
	check "sendmail, daemon up: no warning" test -z "$out"
	stop_daemon
}

# RELAYQ_SPOOL in an empty volume: the daemon makes the spool
test_admin_spool_missing() {
	local out
	new_env admin-nospool
	start_smtpd && write_conf || { not_ok "missing spool: set-up" "see $T"; return; }
	rmdir "$T/spool"
	check "missing spool: absent before" test ! -e "$T/spool"
	start_daemon || { not_ok "missing spool: daemon starts and creates it" "$(cat "$T/daemon.err")"; return; }
	ok "missing spool: daemon starts and creates it"
	check "missing spool: logged" log_has "created the missing spool $T/spool$"
	check "missing spool: modes and owner as make install" test \
	    "$(stat -c '%a %u' "$T/spool" "$T/spool/drop" "$T/spool/queue" "$T/spool/state" "$T/spool/failed" "$T/spool/hold" | tr '\n' ' ')" = \
	    "755 $RUNUID 1730 $RUNUID 700 $RUNUID 700 $RUNUID 700 $RUNUID 700 $RUNUID "
	printf 'Subject: spool\n\nbody\n' | submit user@example.net
	check "missing spool: delivers" wait_for 15 test -s "$T/mail/1.env"
	stop_daemon
	# a parent it may not write: one line with the command that fixes it
	sed -i "s|^spool .*|spool $T/locked/spool|" "$T/conf"
	mkdir -p "$T/locked" && chmod 755 "$T/locked" && chown 0:0 "$T/locked"
	if [ "$(id -u)" = 0 ]; then
		out=$(as_user "$TOP/relayq" -C "$T/conf" drain -f 2>&1)
		check "missing spool, parent not writable: exit 78 and the fix" \
		    grep -qF "relayq: spool $T/locked/spool does not exist, and the daemon ($(id -un $RUNUID):$(getent group $RUNGID | cut -d: -f1)) cannot create it (mkdir: Permission denied): as root, \"install -d -m 0755 -o $(id -un $RUNUID) -g $(getent group $RUNGID | cut -d: -f1) $T/locked/spool\" (make install does), or correct \`spool' in $T/conf" <<<"$out"
	fi
	stop_pid "$T/smtpd.pid"
}

# relayq check run by an ordinary user on a system installation (spool
# owned by the relayq user): judged against relayq, names not numbers
test_admin_check_nonroot() {
	local out rc made=
	if [ "$(id -u)" != 0 ]; then
		echo "# check as non-root: skipped, needs root (to make a system installation's spool)"
		return
	fi
	# the user make install creates, as make install and the package make
	# it; made here for the test when missing and removed after it
	if ! getent passwd relayq >/dev/null; then
		getent group relayq >/dev/null || { groupadd --system relayq && made=group; }
		useradd --system --gid relayq --no-create-home --home-dir /var/spool/relayq \
		    --shell /usr/sbin/nologin relayq && made="user $made"
	fi
	admin_check_nonroot
	case $made in *user*) userdel relayq ;; esac
	case $made in *group*) groupdel relayq 2>/dev/null ;; esac
}

admin_check_nonroot() {
	local out rc
	new_env admin-check
	start_smtpd && write_conf || { not_ok "check as non-root: set-up" "see $T"; return; }
	chown -R relayq:relayq "$T/spool" "$T/pw" "$T/log"
	chmod 755 "$T"
	"$TOP/relayq" -C "$T/conf" check >/dev/null 2>&1	# as root: makes nothing
	for d in drop queue state failed hold; do mkdir -p "$T/spool/$d"; done
	chmod 1730 "$T/spool/drop"; chmod 700 "$T/spool"/{queue,state,failed,hold}
	chown -R relayq:relayq "$T/spool"; chgrp relayq "$T/spool/drop"
	out=$(as_user "$TOP/relayq" -C "$T/conf" check 2>&1); rc=$?
	check "check as non-root: a correct installation has no problem" test $rc -eq 0
	check "check as non-root: says whom it judged against" \
	    grep -qxF "relayq check: note: not run as root: ownership judged against user relayq, who owns the spool; run as root to check the queue files as well" <<<"$out"
	chown "$RUNUID" "$T/pw"
	out=$(as_user "$TOP/relayq" -C "$T/conf" check 2>&1); rc=$?
	check "check as non-root: a secret owned by another user: names relayq" \
	    grep -qxF "relayq check: auth_password_file $T/pw: must be owned by relayq and not readable by others (chown relayq:$(id -gn relayq) $T/pw; chmod 600 $T/pw)" <<<"$out"
	# a log file the daemon cannot write: flagged
	chown root:root "$T/log"
	out=$(as_user "$TOP/relayq" -C "$T/conf" check 2>&1)
	check "check: a log file the daemon cannot write" \
	    grep -qF "relayq check: log $T/log: the daemon's user relayq cannot write it, and would log to syslog instead (chown relayq:$(id -gn relayq) $T/log; chmod 640 $T/log)" <<<"$out"
	sed -i "s|^log .*|log $T/nolog/relayq.log|" "$T/conf"
	mkdir -p "$T/nolog"
	out=$("$TOP/relayq" -C "$T/conf" check 2>&1)
	check "check: a log file in a directory the daemon cannot write" \
	    grep -qF "relayq check: log $T/nolog/relayq.log does not exist, and the daemon's user relayq cannot create it in $T/nolog: it would log to syslog instead." <<<"$out"
	stop_pid "$T/smtpd.pid"
}

test_admin_pidfile
test_admin_stop
test_admin_help
test_admin_mailq_down
test_admin_spool_missing
test_admin_check_nonroot
