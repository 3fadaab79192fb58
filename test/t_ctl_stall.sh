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

test_ctl_stall() {
	local t0 base slow rc out
	if [ "$(id -u)" != 0 ]; then
		echo "# control socket stall: skipped, needs root (the slow clients and the mailq are two other users)"
		return
	fi
	new_env ctlstall
	start_smtpd && write_conf && start_daemon ||
	    { not_ok "control socket stall: set-up" "see $T"; return; }
	chmod 755 "$T/spool"
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

test_ctl_stall
test_ctl_submit_once
