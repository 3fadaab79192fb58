# Sessions to the smarthost: kept open idle_timeout after the queue
# empties (and checked with RSET before reuse), ended with QUIT after
# idle_timeout or max_messages_per_session, TLS session resumption on
# reconnect, max_sessions parallel sessions.  Asserted on the test smarthost's transcript, where each
# connection starts with "-- connection opened".
# Sourced by test/check.sh, which provides test/lib.sh.

connections() { grep -c '^-- connection opened' "$T/transcript"; }
# deliver SUBJECT N: submit a message, wait until the smarthost stored
# its Nth (a command for check)
deliver() {
	printf 'Subject: %s\n\nbody\n' "$1" | submit user@example.net &&
	    wait_for 15 test -s "$T/mail/$2.env"
}

test_idle_reuse() {
	new_env sess-idle
	start_smtpd && write_conf "idle_timeout 1h" && start_daemon || { not_ok "idle reuse: set-up" "see $T"; return; }
	check "idle reuse: first message delivered" deliver one 1
	check "idle reuse: session kept open after the queue emptied (no QUIT)" \
	    sh -c "! grep -q '^C: QUIT' '$T/transcript'"
	check "idle reuse: message queued during idle_timeout delivered" deliver two 2
	check "idle reuse: one connection for both" test "$(connections)" -eq 1
	check "idle reuse: one TLS handshake for both" test "$(grep -c '^-- tls established' "$T/transcript")" -eq 1
	check "idle reuse: RSET checks the idle session before the second MAIL" \
	    test "$(grep -oE '^C: (RSET|MAIL FROM)' "$T/transcript" | tr '\n' ' ')" = "C: MAIL FROM C: RSET C: MAIL FROM "
	stop_daemon
	check "idle reuse: stopping the daemon ends the session with QUIT" \
	    wait_for 5 grep -q '^C: QUIT' "$T/transcript"
	stop_pid "$T/smtpd.pid"
}

test_idle_timeout_quit() {
	local t0 t1
	new_env sess-timeout
	start_smtpd && write_conf "idle_timeout 2s" && start_daemon || { not_ok "idle_timeout: set-up" "see $T"; return; }
	check "idle_timeout: message delivered" deliver one 1
	t0=$(date +%s%N)
	check "idle_timeout: session ended with QUIT once idle" wait_for 15 grep -q '^C: QUIT' "$T/transcript"
	t1=$(date +%s%N)
	check "idle_timeout: not before about 2 s of idleness" test $(( (t1 - t0) / 1000000 )) -ge 1000
	check "idle_timeout: QUIT is the last command, then the connection closes" \
	    test "$(grep -E '^(C: |-- connection closed)' "$T/transcript" | tail -2 | tr '\n' ' ')" = "C: QUIT -- connection closed "
	check "idle_timeout: next message delivered" deliver two 2
	check "idle_timeout: it needed a new connection" test "$(connections)" -eq 2
	check "idle_timeout: no RSET on a fresh session" sh -c "! grep -q '^C: RSET' '$T/transcript'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# the smarthost drops a parked session (as servers do on their own
# timeout): the daemon notices and the next message gets a new session
test_idle_server_close() {
	new_env sess-srvclose
	start_smtpd --timeout 2 && write_conf "idle_timeout 1h" && start_daemon || { not_ok "server close: set-up" "see $T"; return; }
	check "server close: first message delivered" deliver one 1
	check "server close: the server ended the idle session" wait_for 10 grep -q '^S: 421 4.4.2' "$T/transcript"
	check "server close: noticed and logged" wait_for 10 log_has 'session to localhost\[127\.0\.0\.1\]:[0-9]+ closed by the server while idle$'
	check "server close: next message delivered on a new session" deliver two 2
	check "server close: two connections" test "$(connections)" -eq 2
	check "server close: nothing deferred" sh -c "! grep -q 'status=deferred' '$T/log'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_max_messages() {
	new_env sess-max
	start_smtpd && write_conf "max_messages_per_session 2" && queue_before_daemon 5 max || { not_ok "max_messages_per_session: set-up" "see $T"; return; }
	start_daemon || { not_ok "max_messages_per_session: daemon" "see $T"; return; }
	check "max_messages_per_session: 5 messages delivered" wait_for 20 test -s "$T/mail/5.env"
	check "max_messages_per_session=2, 5 messages: 3 connections" test "$(connections)" -eq 3
	check "max_messages_per_session: 2, 2, then 1 message per connection" \
	    test "$(awk '/^-- connection opened/ {if (n) printf "%d ", n; n = 0} /^C: MAIL FROM/ {n++} END {printf "%d", n}' "$T/transcript")" = "2 2 1"
	check "max_messages_per_session: full sessions end with QUIT" \
	    test "$(grep -c '^C: QUIT' "$T/transcript")" -ge 2
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_tls_resumption() {
	new_env sess-resume
	start_smtpd && write_conf "idle_timeout 0" && start_daemon || { not_ok "resumption: set-up" "see $T"; return; }
	check "resumption: first message delivered" deliver one 1
	check "resumption: idle_timeout 0 ends the session at once" wait_for 10 grep -q '^C: QUIT' "$T/transcript"
	check "resumption: second message delivered" deliver two 2
	check "resumption: two connections" test "$(connections)" -eq 2
	check "resumption: full handshake first, resumed on reconnect" \
	    test "$(grep '^-- tls established' "$T/transcript" | tr '\n' '|')" = "-- tls established|-- tls established, session resumed|"
	check "resumption: EHLO and AUTH again after the resumed handshake" \
	    test "$(sed -n '/session resumed/,$p' "$T/transcript" | grep -cE '^C: (EHLO|AUTH)')" -eq 2
	stop_daemon
	# memory only: a new daemon starts with a full handshake
	start_daemon
	check "resumption: after a restart, delivered" deliver three 3
	check "resumption: after a restart, no session offered" \
	    test "$(grep -c '^-- ticket offered' "$T/transcript")" -eq 1
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# tls_events_are WANT: the first three TLS events of the transcript
tls_events_are() {
	[ "$(grep -E '^-- (ticket offered|tls)' "$T/transcript" | head -3 | tr '\n' '|')" = "$1" ]
}

# a verify failure forgets the saved session: the ticket of the good
# server is offered to the impostor (which cannot use it), then never again
test_tls_resumption_verify_failure() {
	new_env sess-resume-bad
	start_smtpd && write_conf "idle_timeout 0" && start_daemon || { not_ok "resumption after verify failure: set-up" "see $T"; return; }
	check "resumption after verify failure: first message delivered" deliver one 1
	stop_pid "$T/smtpd.pid"
	CERT=$CERTS/wrong.pem KEY=$CERTS/wrong.key SMTPD_PORT=$PORT start_smtpd
	printf 'Subject: two\n\nbody\n' | submit user@example.net
	check "resumption after verify failure: impostor refused" wait_for 15 log_has 'status=deferred \(certificate verify failed for localhost: name mismatch'
	# the impostor notes its failed handshake after the client gave up:
	# poll for it
	check "resumption after verify failure: the impostor was offered the ticket, could not use it" \
	    wait_for 10 tls_events_are "-- tls established|-- ticket offered|-- tls handshake failed|"
	stop_pid "$T/smtpd.pid"
	SMTPD_PORT=$PORT start_smtpd
	check "resumption after verify failure: delivered by the good server" \
	    wait_for 30 sh -c "[ \$(ls '$T/mail' | grep -c '\.env\$') -eq 2 ]"
	# retries meanwhile may have met the impostor again: never with a ticket
	check "resumption after verify failure: no session offered again" \
	    test "$(grep -c '^-- ticket offered' "$T/transcript")" -eq 1
	check "resumption after verify failure: a full handshake with the good server" \
	    test "$(grep -E '^-- tls' "$T/transcript" | tail -1)" = "-- tls established"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# failover to the second smarthost: the session of the first is not
# offered to it (resumption never crosses smarthosts)
test_tls_resumption_failover() {
	local porta portb tb
	new_env sess-resume-b
	tb=$T
	start_smtpd || { not_ok "resumption failover: set-up" "see $T"; return; }
	portb=$PORT
	new_env sess-resume-a
	start_smtpd && porta=$PORT && write_conf "idle_timeout 0" "smarthost localhost:$portb" && start_daemon || { not_ok "resumption failover: set-up" "see $T"; return; }
	check "resumption failover: first message via the first smarthost" deliver one 1
	stop_pid "$T/smtpd.pid"
	printf 'Subject: two\n\nbody\n' | submit user@example.net
	check "resumption failover: second message via the second smarthost" wait_for 15 test -s "$tb/mail/1.env"
	check "resumption failover: logged the failover" log_has "smarthost localhost: connect to localhost\[127\.0\.0\.1\]:$porta: Connection refused; trying localhost"
	check "resumption failover: full handshake there, no session offered" \
	    test "$(grep -E '^-- (ticket offered|tls)' "$tb/transcript" | tr '\n' '|')" = "-- tls established|"
	stop_daemon
	stop_pid "$tb/smtpd.pid"
}

# max_sessions 2 with a backlog: two sessions at once, each message
# delivered exactly once, every worker sandboxed
test_max_sessions() {
	local i n dup=0
	new_env sess-parallel
	start_smtpd && write_conf "max_sessions 2" && queue_before_daemon 20 par || { not_ok "max_sessions: set-up" "see $T"; return; }
	start_daemon || { not_ok "max_sessions: daemon" "see $T"; return; }
	check "max_sessions: 20 messages delivered" wait_for 30 test -s "$T/mail/20.env"
	check "max_sessions: spool clean" wait_for 10 dir_empty "$T/spool/queue"
	check "max_sessions=2: two connections" test "$(connections)" -eq 2
	check "max_sessions=2: both open at once" grep -q '^-- connection opened, 2 active$' "$T/transcript"
	for i in $(seq 1 20); do
		n=$(grep -lx "Subject: par $i"$'\r' "$T"/mail/*.msg | wc -l)
		[ "$n" -eq 1 ] || dup=$((dup + 1))
	done
	check "max_sessions: every message arrived exactly once" test $dup -eq 0
	check "max_sessions: 20 messages, 20 at the smarthost" test "$(ls "$T/mail" | grep -c '\.msg$')" -eq 20
	check "max_sessions: the daemon and both workers are sandboxed" test "$(grep -c 'sandbox: ' "$T/log")" -eq 3
	check "max_sessions: logged" log_has '2 delivery workers \(max_sessions\)$'
	stop_daemon
	check "max_sessions: stopping ends both sessions with QUIT" wait_for 10 sh -c "[ \$(grep -c '^C: QUIT' '$T/transcript') -eq 2 ]"
	stop_pid "$T/smtpd.pid"
}

# a message in flight on a worker: the daemon still answers, and hold
# and delete leave that message alone
test_max_sessions_in_flight() {
	local id out
	new_env sess-inflight
	start_smtpd --hang-after DATA && write_conf "max_sessions 2" "timeout_data 3s" "timeout_command 3s" && start_daemon || { not_ok "in flight: set-up" "see $T"; return; }
	printf 'Subject: stuck\n\nbody\n' | submit user@example.net
	check "in flight: the worker is in DATA" wait_for 15 grep -q '^C: DATA' "$T/transcript"
	id=$(ls "$T/spool/queue")
	out=$(as_user "$TOP/relayq" -C "$T/conf" delete "$id" 2>&1)
	check "in flight: delete refused while it is being sent" grep -qF "$id: being delivered now: it will be deleted when this delivery attempt ends" <<<"$out"
	out=$(as_user "$TOP/relayq" -C "$T/conf" hold "$id" 2>&1)
	check "in flight: hold refused while it is being sent" grep -qF "$id: being delivered now: it will be placed on hold when this delivery attempt ends" <<<"$out"
	check "in flight: still queued" test -e "$T/spool/queue/$id"
	check "in flight: the timeout defers it" wait_for 15 log_has "$id: to=<user@example.net>, .*status=deferred"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# a worker that dies costs nothing: the others carry on
test_max_sessions_worker_dies() {
	local worker
	new_env sess-workerdies
	start_smtpd && write_conf "max_sessions 2" && start_daemon || { not_ok "worker dies: set-up" "see $T"; return; }
	worker=$(pgrep -P "$(cat "$T/daemon.pid")" | head -1)
	check "worker dies: the daemon has delivery workers" test -n "$worker"
	kill -9 "$worker"
	check "worker dies: first message delivered" deliver one 1
	check "worker dies: logged" wait_for 10 log_has 'delivery worker [12] exited; 1 left$'
	check "worker dies: second message delivered" deliver two 2
	check "worker dies: nothing deferred" sh -c "! grep -q 'status=deferred' '$T/log'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_idle_reuse
test_idle_timeout_quit
test_idle_server_close
test_max_messages
test_tls_resumption
test_tls_resumption_verify_failure
test_tls_resumption_failover
test_max_sessions
test_max_sessions_in_flight
test_max_sessions_worker_dies
