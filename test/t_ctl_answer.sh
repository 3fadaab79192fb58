# A long answer on the control socket (a listing of thousands of queued
# messages) reaches a client that reads it, however long the daemon took
# to build it, and a cut one is never taken for a whole one (the daemon
# still cuts an exchange that goes on past 30 seconds).  Before, the
# daemon gave each connection 5 seconds from connect to the last byte:
# under load (or ASan) a 10 000-message listing was cut at the socket
# buffer (some 2 000 lines), and mailq printed those with exit 0, as if
# the queue were that short.  Sourced by test/check.sh.

# ctl_reader SPOOL MODE: "queue" on the control socket, as the test
# user; prints the length the status line announces and the bytes that
# came.  MODE "slow": 16 KB every 0.5 s (a whole listing takes several
# seconds, more than the old deadline)
ctl_reader() {
	as_user /usr/bin/python3 - "$@" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1] + "/ctl")
s.sendall(b"queue\n")
s.settimeout(90)
buf = b""
while b"\n" not in buf:
    d = s.recv(64)
    if not d:
        break
    buf += d
status, _, body = buf.partition(b"\n")
while True:
    d = s.recv(16384)
    if not d:
        break
    body += d
    if sys.argv[2] == "slow":
        time.sleep(0.5)
print(status.decode(), len(body))
PY
}

# ctl_fake_daemon DIR ANNOUNCED SENT: a stand-in daemon on DIR/ctl (its
# pid in DIR/pid) that answers one request "OK ANNOUNCED" and then SENT
# bytes only, and closes
ctl_fake_daemon() {
	as_user /usr/bin/python3 - "$@" <<'PY' &
import os, socket, sys
d, announced, sent = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
l.bind(d + "/ctl")
l.listen(1)
l.settimeout(30)
open(d + "/pid", "w").write("%d\n" % os.getpid())
c, _ = l.accept()
c.recv(100)
c.sendall(b"OK %d\n" % announced + b"1LH0000000000000    1234 Thu Dec  3 10:00:00  a@example.org\n" * (sent // 60) + b"x" * (sent % 60))
c.close()
PY
	echo $! > "$T/fake.pid"
}

test_ctl_answer() {
	local n=3000 out len got
	new_env ctlanswer
	start_smtpd && stop_pid "$T/smtpd.pid" &&
	    write_conf "retry_min 1h" "retry_max 1h" && mkqueue $n answer later ||
	    { not_ok "control answer: set-up" "see $T"; return; }
	start_daemon || { not_ok "control answer: daemon" "see $T"; return; }
	# a reader that keeps reading, slowly: the whole answer
	out=$(ctl_reader "$T/spool" slow)
	len=$(sed -n 's/^OK \([0-9]*\) [0-9]*$/\1/p' <<<"$out")
	got=${out##* }
	check "control answer: the status line gives the length" test -n "$len"
	check "control answer: a slow reader gets all of it" test -n "$len" -a "$got" = "$len"
	check "control answer: ... and it is the whole listing (over 5 s of reading)" test "${len:-0}" -gt $((16384 * 12))
	check "control answer: the daemon alive" kill -0 "$(cat "$T/daemon.pid")"
	stop_daemon

	# relayq queue and mailq, given a cut answer: an error, not a short queue
	rm -f "$T/spool/ctl" "$T/spool/pid"
	ctl_fake_daemon "$T/spool" 6000 600
	wait_for 10 test -S "$T/spool/ctl" -a -s "$T/spool/pid" ||
	    { not_ok "control answer: stand-in daemon" "see $T"; return; }
	out=$(as_user "$TOP/relayq" -C "$T/conf" queue 2>&1); rc=$?
	check "control answer: relayq queue, answer cut: exit 74" test $rc -eq 74
	check "control answer: relayq queue, answer cut: says so" \
	    grep -qF "the daemon's answer on $T/spool/ctl ended after 600 of its 6000 bytes" <<<"$out"
	check "control answer: relayq queue, answer cut: prints no listing" sh -c "! grep -q '^1LH' <<'X'
$out
X"
	stop_pid "$T/fake.pid"
}

test_ctl_answer
