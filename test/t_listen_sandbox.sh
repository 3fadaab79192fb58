# The listener's sandbox holds for every session it starts: a session
# cannot read the smarthost secret, run another program or open a TCP
# connection, and can still queue in the spool.  A copy of relayq runs
# test/listen_probe as its "sendmail", which tries each and says what
# happened.  And the real listener says in the log that it is confined.
# Sourced by test/check.sh.
. test/lib_listen.sh

test_listen_sandbox() {
	new_env listensandbox
	LPORT=$(free_port)
	start_smtpd && write_conf "listen 127.0.0.1:$LPORT" ||
	    { not_ok "listen sandbox: set-up" "see $T"; return; }
	if sandbox_sanitizer_build; then
		ok "listen sandbox: skipped (a sanitizer build applies none)"
		stop_pid "$T/smtpd.pid"
		return
	fi
	mkdir "$T/bin" && cp "$TOP/relayq" "$T/bin/relayq" &&
	    cp "$TOP/test/listen_probe" "$T/bin/sendmail" && chmod -R a+rX "$T/bin"
	start_daemon && stop_daemon || { not_ok "listen sandbox: spool" "see $T"; return; }
	"${AS_USER[@]}" env LISTEN_PROBE="$T/pw" LISTEN_SPOOL="$T/spool" \
	    LISTEN_PORT="$PORT" "$T/bin/relayq" -C "$T/conf" smtpd 2>>"$T/smtpd-listen.err" &
	echo $! > "$T/listen.pid"
	wait_for 10 log_has 'smtpd: started' ||
	    { not_ok "listen sandbox: listener" "$(cat "$T/smtpd-listen.err")"; return; }
	check "listen sandbox: the test user could read the secret without it" \
	    as_user test -r "$T/pw"
	raw "$LPORT" "" > "$T/probe.out"
	check "listen sandbox: logged as applied" log_has 'smtpd: sandbox: Landlock ABI [0-9]+'
	check "listen sandbox: a session cannot read the smarthost secret" \
	    grep -q '^250-read secret: Permission denied' "$T/probe.out"
	check "listen sandbox: a session can create its queue file" \
	    grep -q '^250-create in drop: allowed' "$T/probe.out"
	check "listen sandbox: a session cannot run another program" \
	    grep -q '^250-exec /bin/sh: Permission denied' "$T/probe.out"
	if log_has 'no TCP bind or connect'; then
		check "listen sandbox: a session cannot connect out over TCP" \
		    grep -q '^250-tcp connect: Permission denied' "$T/probe.out"
	fi
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_sandbox
