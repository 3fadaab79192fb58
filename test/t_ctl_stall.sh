# The control socket cannot be held by a local user, and socket
# submission is exactly once.  Sourced by test/check.sh.
#
# Before drain_conn.c the daemon read one connection at a time, in the
# thread that delivers, with a 2 s timeout per read: the slow clients
# here (a byte every 1.8 s on each of 3 connections) held every delivery
# and made another user's mailq time out (exit 69).  And a submission
# whose client had given up was still copied and delivered: the
# caller's retry was a second message.

# ctl_slow SPOOL N READY: N connections as another user (uid 4261),
# trickling a request, a byte every 1.8 s; READY is created once all are
# connected
ctl_slow() {
	setpriv --reuid=4261 --regid=4261 --clear-groups -- /usr/bin/python3 - "$@" <<'PY' &
import socket, sys, time
path, n = sys.argv[1] + "/ctl", int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
open(sys.argv[3], "w").close()
end = time.time() + 12
while time.time() < end:
    for s in socks:
        try:
            s.send(b"q")
        except OSError:
            pass
    time.sleep(1.8)
PY
	echo $! > "$T/slow.pid"
}

# ctl_submit_raw SPOOL MODE FILE: hand FILE to the daemon as "submit"
# does, then MODE: "giveup" closes at once (a client that timed out),
# "nocommit" waits for READY and closes without committing
ctl_submit_raw() {
	"${AS_USER[@]}" /usr/bin/python3 - "$@" <<'PY'
import os, socket, sys
path, mode, f = sys.argv[1] + "/ctl", sys.argv[2], sys.argv[3]
fd = os.memfd_create("t")
os.write(fd, open(f, "rb").read())
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
socket.send_fds(s, [b"submit\n"], [fd])
if mode == "nocommit":
    s.settimeout(10)
    print(s.recv(100).decode().strip())
s.close()
PY
}

# ms since the epoch
ctl_ms() { echo $(( $(date +%s%N) / 1000000 )); }

ctl_delivered() { [ "$(ls "$T/mail" | grep -c '\.msg$')" -ge "$1" ]; }

# ctl_root_env NAME WHAT: a daemon for a test whose clients are other
# users (root only); 1 when skipped or the set-up failed (said so)
ctl_root_env() {
	if [ "$(id -u)" != 0 ]; then
		echo "# $2: skipped, needs root (the clients are other users)"
		return 1
	fi
	new_env "$1"
	start_smtpd && write_conf && start_daemon ||
	    { not_ok "$2: set-up" "see $T"; return 1; }
	chmod 755 "$T/spool"
}

test_ctl_stall() {
	local t0 base slow rc out
	ctl_root_env ctlstall "control socket stall" || return
	# a baseline delivery, with nobody on the socket
	t0=$(ctl_ms)
	printf 'Subject: base\n\nx\n' | submit user@example.net
	wait_for 10 ctl_delivered 1
	base=$(( $(ctl_ms) - t0 ))
	# another local user holds 3 connections, trickling
	mkdir -m 777 "$T/slow"
	ctl_slow "$T/spool" 3 "$T/slow/ready"
	wait_for 10 test -e "$T/slow/ready" ||
	    { not_ok "control socket stall: slow clients connected" "see $T"; return; }
	t0=$(ctl_ms)
	printf 'Subject: during\n\nx\n' | submit user@example.net
	wait_for 10 ctl_delivered 2
	slow=$(( $(ctl_ms) - t0 ))
	echo "# delivery: ${base} ms alone, ${slow} ms with 3 slow connections"
	check "control socket: 3 slow connections delay a delivery by less than a second" \
	    test $((slow - base)) -lt 1000
	out=$(timeout 10 setpriv --reuid=4262 --regid=4262 --clear-groups -- env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" -bp 2>&1); rc=$?
	check "control socket: another user's mailq answers meanwhile" \
	    test "$rc" = 0 -a "$out" = "Mail queue is empty"
	check "control socket: a slow connection is closed at its deadline, logged" \
	    wait_for 10 log_has 'control socket: connection from uid 4261 closed: the exchange took more than 5 seconds \(at the request\)'
	stop_pid "$T/slow.pid"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_ctl_submit_once() {
	local f out
	new_env ctlonce
	start_smtpd && write_conf && start_daemon ||
	    { not_ok "socket submission: set-up" "see $T"; return; }
	# a queue file as sendmail would hand it over, in the caller's name
	f=$T/qf
	printf 'RELAYQ 1\nI 0000000000000001\nT 1000\nU %s x\nS a@example.org\nR user@example.net\nM\nSubject: once\r\n\r\nx\r\nE 20 7BIT\n' "$RUNUID" > "$f"
	chmod 644 "$f"
	# the client gives up (its timeout) while the daemon is busy: here
	# the daemon is stopped, so the request waits in the socket's queue
	kill -STOP "$(cat "$T/daemon.pid")"
	ctl_submit_raw "$T/spool" giveup "$f"
	kill -CONT "$(cat "$T/daemon.pid")"
	check "socket submission: the request of a client that gave up is dropped, logged" \
	    wait_for 10 log_has 'submission by uid [0-9]+ dropped: the client went away before the daemon took it'
	# a client that heard READY but never said commit: dropped too
	out=$(ctl_submit_raw "$T/spool" nocommit "$f")
	check "socket submission: READY with the daemon's id" grep -qE '^READY [0-9A-V]{16}$' <<<"$out"
	check "socket submission: no commit, dropped and logged" \
	    wait_for 10 log_has "${out#READY }: submission by uid [0-9]+ dropped: the client did not commit it"
	check "socket submission: nothing left in drop/" dir_empty "$T/spool/drop"
	# the caller's retry: sendmail's own path
	printf 'Subject: once\n\nx\n' | submit user@example.net
	check "socket submission: the retry delivered" wait_for 10 ctl_delivered 1
	# both earlier requests were dropped (logged above), so the queue
	# and drop/ hold nothing that could follow
	check "socket submission: exactly one message at the smarthost, nothing more queued" \
	    test "$(ls "$T/mail" | grep -c '\.msg$')" -eq 1 -a "$(queue_count)" -eq 0 -a -z "$(ls "$T/spool/drop")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# The control socket's caps: one uid may hold CONN_PER_UID (4)
# connections at once (src/drain_conn.c), so a local user who opens many
# and sends nothing gets "too many connections from your uid" on the
# next one, while another user's mailq answers and delivery goes on.
# Before: a client refused after the daemon had already closed got EPIPE
# for its request and exited 69 ("Broken pipe") without the reason.
CTLCAP_PER_UID=4	# CONN_PER_UID in src/drain_conn.c

# ctlcap_hold SPOOL N READY DONE: N idle connections as uid 4261, held
# until DONE exists (at most 8 s; the daemon closes them after 5 s of
# silence anyway); READY is created once all are connected
ctlcap_hold() {
	setpriv --reuid=4261 --regid=4261 --clear-groups -- /usr/bin/python3 - "$@" <<'PY' &
import os, socket, sys, time
path, n, ready, done = sys.argv[1] + "/ctl", int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    socks.append(s)
open(ready, "w").close()
end = time.time() + 8
while time.time() < end and not os.path.exists(done):
    time.sleep(0.05)
PY
	echo $! > "$T/hold.pid"
}

# ctlcap_mailq UID: sendmail -bp as UID; output in $T/mailq.out, exit code
# in CTLCAP_RC
ctlcap_mailq() {
	timeout 10 setpriv --reuid="$1" --regid="$1" --clear-groups -- \
	    env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" -bp >"$T/mailq.out" 2>&1
	CTLCAP_RC=$?
}

test_ctl_cap() {
	ctl_root_env ctlcap "control socket caps" || return
	mkdir -m 777 "$T/hold"
	ctlcap_hold "$T/spool" "$CTLCAP_PER_UID" "$T/hold/ready" "$T/hold/done"
	if ! wait_for 5 test -e "$T/hold/ready"; then
		not_ok "control socket caps: $CTLCAP_PER_UID idle connections as uid 4261" "see $T"
		stop_pid "$T/hold.pid"; stop_daemon; stop_pid "$T/smtpd.pid"
		return
	fi
	# everything below happens well inside the 5 s the daemon gives an
	# idle connection: the holder's connections are all still open
	ctlcap_mailq 4261
	check "control socket caps: connection $((CTLCAP_PER_UID + 1)) of one uid refused (exit 75, got $CTLCAP_RC)" \
	    test "$CTLCAP_RC" -eq 75
	check "control socket caps: the refusal says why (got: $(head -c 200 "$T/mailq.out"))" \
	    grep -q 'too many connections from your uid' "$T/mailq.out"
	check "control socket caps: the refusal is logged with the uid" \
	    wait_for 5 log_has 'control socket: connection from uid 4261 refused: it holds the most one uid may'
	ctlcap_mailq 4262
	check "control socket caps: another uid's mailq answers meanwhile" \
	    eval '[ "$CTLCAP_RC" -eq 0 ] && [ "$(cat "$T/mailq.out")" = "Mail queue is empty" ]'
	printf 'Subject: cap\n\nx\n' | submit user@example.net
	check "control socket caps: a delivery happens meanwhile" wait_for 4 ctl_delivered 1
	ctlcap_mailq 4261
	check "control socket caps: the holder is still refused afterwards (its connections were open throughout)" \
	    test "$CTLCAP_RC" -eq 75
	# released: the same uid is served again
	touch "$T/hold/done"
	wait_for 10 sh -c "! kill -0 $(cat "$T/hold.pid")"
	rm -f "$T/hold.pid"
	check "control socket caps: served again once its connections close" \
	    wait_for 10 eval 'ctlcap_mailq 4261; [ "$CTLCAP_RC" -eq 0 ]'
	check "control socket caps: daemon alive" kill -0 "$(cat "$T/daemon.pid")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_ctl_stall
test_ctl_submit_once
test_ctl_cap
