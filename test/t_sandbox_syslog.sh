# Normal work with `log syslog' under the real sandbox: the daemon,
# sandboxed, logs through /dev/log (served by test/syslogd.py in a mount
# namespace of its own, syslog_ns in test/lib.sh) while it delivers one
# message, defers another, and answers mailq and relayq status; it is
# alive afterwards.  Only a seccomp violation had been tested with
# syslog before (t_sandbox_trap.sh).  Sourced by test/check.sh.

test_sandbox_syslog() {
	local pid out rc
	if [ "$(id -u)" != 0 ] || sandbox_sanitizer_build; then
		ok "sandbox, log syslog: needs root and the sandbox (skipped)"
		return
	fi
	new_env sandbox_syslog
	start_smtpd --reply 'RCPT:later@example.net=450 4.2.0 busy' &&
	    write_conf "log syslog" ||
	    { not_ok "sandbox, log syslog: set-up" "see $T"; return; }
	syslog_ns "${AS_USER[@]}" "$TOP/relayq" -C "$T/conf" drain -f \
	    2>>"$T/daemon.err" &
	pid=$!
	echo $pid > "$T/daemon.pid"
	if ! wait_for 10 grep -q 'started:' "$T/syslog"; then
		not_ok "sandbox, log syslog: the daemon starts" "$(tail -n 3 "$T/daemon.err")"
		stop_daemon; stop_pid "$T/syslogd.pid"; stop_pid "$T/smtpd.pid"
		return
	fi
	check "sandbox, log syslog: the sandbox is on" \
	    grep -qE 'relayq\[[0-9]+\]: sandbox: Landlock ABI [0-9]+, seccomp allow-list$' "$T/syslog"
	check "sandbox, log syslog: seccomp filter on the daemon" \
	    grep -qx 'Seccomp:[[:space:]]*2' "/proc/$pid/status"
	printf 'Subject: syslog\n\nbody\n' | submit user@example.net
	check "sandbox, log syslog: delivered" wait_for 15 test -s "$T/mail/1.msg"
	check "sandbox, log syslog: the delivery line reaches syslog, facility mail, level info" \
	    wait_for 10 grep -qE '^<22>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} relayq\[[0-9]+\]: [0-9A-V]{16}: to=<user@example\.net>, relay=localhost\[127\.0\.0\.1\]:[0-9]+, .*status=sent ' "$T/syslog"
	check "sandbox, log syslog: the removal is logged" \
	    wait_for 5 grep -qE 'relayq\[[0-9]+\]: [0-9A-V]{16}: removed$' "$T/syslog"
	printf 'Subject: later\n\nbody\n' | submit later@example.net
	check "sandbox, log syslog: a deferral reaches syslog" \
	    wait_for 15 grep -qE 'relayq\[[0-9]+\]: [0-9A-V]{16}: to=<later@example\.net>.*status=deferred' "$T/syslog"
	out=$(as_user env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" -bp 2>&1); rc=$?
	check "sandbox, log syslog: mailq answers (exit $rc)" \
	    eval '[ "$rc" -eq 0 ] && grep -q "later@example.net" <<<"$out"'
	out=$(as_user "$TOP/relayq" -C "$T/conf" status 2>&1); rc=$?
	check "sandbox, log syslog: relayq status answers (exit $rc)" \
	    eval '[ "$rc" -eq 0 ] && grep -q "^queue: 1 " <<<"$out"'
	check "sandbox, log syslog: the daemon is alive afterwards" kill -0 "$pid"
	check "sandbox, log syslog: no seccomp violation" \
	    sh -c "! grep -q 'refused by the seccomp filter' '$T/syslog'"
	stop_daemon
	stop_pid "$T/syslogd.pid"
	stop_pid "$T/smtpd.pid"
}

test_sandbox_syslog
