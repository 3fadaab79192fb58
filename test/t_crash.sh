# The crash battery: kill -9 at each commit point (crash points compiled
# into test/relayq-crash and test/sendmail-crash only), and at random
# under load; then an invariant checker: every message sendmail accepted
# (exit 0) reaches the smarthost, and more than once only when the kill
# fell after the final dot and before the daemon recorded it.  Also a
# full disk (root only: a small tmpfs spool).
# Sourced by test/check.sh, which provides test/lib.sh.

# copies of the message with this Subject that the smarthost stored
copies() { grep -lx "Subject: $1"$'\r' "$T"/mail/*.msg 2>/dev/null | wc -l; }
# has_copies SUBJECT N: exactly N so far (a command for wait_for)
has_copies() { [ "$(copies "$1")" -eq "$2" ]; }

# start_crash_daemon POINT: a test-build daemon that dies at POINT
start_crash_daemon() {
	"${AS_USER[@]}" env RELAYQ_CRASH="$1" "$TOP/test/relayq-crash" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	wait_for 10 grep -q "started:" "$T/log"
}

# crashed: the daemon died by SIGKILL within 20 s (else it is killed
# here, and this fails)
crashed() {
	local pid rc
	pid=$(cat "$T/daemon.pid")
	wait_for 20 sh -c "! kill -0 $pid 2>/dev/null"
	rc=$?
	[ $rc -ne 0 ] && kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ $? -eq 137 ] || rc=1
	rm -f "$T/daemon.pid"
	return $rc
}

# crash_case POINT WANT: one message, the daemon dies at POINT, a normal
# daemon takes over; the smarthost must end with WANT copies
crash_case() {
	local point=$1 want=$2 subj="crash $1"
	new_env "crash-$point"
	start_smtpd && write_conf && start_crash_daemon "$point" || { not_ok "crash $point: set-up" "see $T"; return; }
	printf 'Subject: %s\n\nbody\n' "$subj" | submit user@example.net
	check "crash $point: sendmail accepted (exit 0)" test $? -eq 0
	check "crash $point: the daemon died there" crashed
	restart_daemon
	check "crash $point: delivered after restart" wait_for 15 has_copies "$subj" "$want"
	check "crash $point: spool clean afterwards" wait_for 10 spool_clean
	check "crash $point: $want cop$([ "$want" = 1 ] && echo y || echo ies) at the smarthost" test "$(copies "$subj")" -eq "$want"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_crash_points() {
	# before the dot or after the success is recorded: exactly once
	crash_case drain-import-before-fsync 1
	crash_case drain-finish-mid 1
	# 250 received, not yet recorded: the one window for a duplicate
	crash_case drain-after-dot 2
	crash_state_case
}

# The state file records one recipient sent and one deferred; the kill
# falls before its rename.  The sent one is sent again (its 250 was not
# recorded: the post-dot window), the deferred one once it is accepted.
crash_state_case() {
	local subj="crash state"
	new_env crash-state
	start_smtpd --reply 'RCPT:later@=450 4.2.0 busy' && write_conf && start_crash_daemon state-before-rename || { not_ok "crash state: set-up" "see $T"; return; }
	printf 'Subject: %s\n\nbody\n' "$subj" | submit good@example.net later@example.net
	check "crash state-before-rename: the daemon died there" crashed
	check "crash state-before-rename: new state never replaced the old" test ! -e "$T/spool/state/$(ls "$T/spool/queue")"
	stop_pid "$T/smtpd.pid"
	SMTPD_PORT=$PORT start_smtpd
	restart_daemon
	check "crash state-before-rename: delivered after restart" wait_for 15 has_copies "$subj" 2
	check "crash state-before-rename: the second copy has both recipients" test "$(grep -c '^rcpt=' "$T/mail/2.env")" -eq 2
	check "crash state-before-rename: spool clean afterwards" wait_for 10 spool_clean
	check "crash state-before-rename: stale ID.tmp removed at start-up, logged" log_has 'state/[0-9A-V]{16}\.tmp: removed: left by an interrupted state update$'
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# hang-after CMD: the daemon waits in that command; kill it there
crash_in_session() {
	local cmd=$1 grepfor=$2 subj="crash in $1"
	new_env "crash-in-$cmd"
	start_smtpd --hang-after "$cmd" && write_conf && start_daemon || { not_ok "crash in $cmd: set-up" "see $T"; return; }
	printf 'Subject: %s\n\nbody\n' "$subj" | submit user@example.net
	check "crash in $cmd: daemon reached it" wait_for 15 grep -q "$grepfor" "$T/transcript"
	kill_daemon
	stop_pid "$T/smtpd.pid"
	SMTPD_PORT=$PORT start_smtpd
	restart_daemon
	check "crash in $cmd: delivered once after restart" wait_for 15 has_copies "$subj" 1
	has_copies "$subj" 1 || { echo "# log:"; sed 's/^/#   /' "$T/log"; echo "# daemon stderr:"; sed 's/^/#   /' "$T/daemon.err"; echo "# smtpd:"; sed 's/^/#   /' "$T/smtpd.err"; }
	check "crash in $cmd: spool clean afterwards" wait_for 10 spool_clean
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_crash_sessions() {
	crash_in_session MAIL '^C: MAIL FROM'
	crash_in_session DATA '^C: DATA'
}

# the front end killed before its fsync: not accepted (no exit 0), and
# it leaves either nothing or a complete message, never a partial one
test_crash_sendmail() {
	local point rc n
	for point in sendmail-before-fsync sendmail-before-dirfsync; do
		new_env "crash-$point"
		start_smtpd && write_conf && start_daemon || { not_ok "crash $point: set-up" "see $T"; continue; }
		printf 'Subject: %s\n\nbody\n' "$point" | as_user env RELAYQ_CONFIG="$T/conf" RELAYQ_CRASH=$point "$TOP/test/sendmail-crash" user@example.net
		rc=$?
		check "crash $point: sendmail killed, not exit 0" test $rc -eq 137
		printf 'Subject: after %s\n\nbody\n' "$point" | submit user@example.net
		wait_for 15 has_copies "after $point" 1
		n=$(copies "$point")
		check "crash $point: at most one copy ($n)" test "$n" -le 1
		check "crash $point: nothing partial left in drop/" wait_for 10 spool_clean
		stop_daemon
		stop_pid "$T/smtpd.pid"
	done
}

# a bounce must exist even if the daemon dies right after queueing it
# (a second bounce is allowed: the failure was not yet recorded)
test_crash_bounce() {
	local point n
	for point in bounce-before-fsync drain-bounce-queued drain-failed-mid; do
		new_env "crash-$point"
		start_smtpd --reply 'RCPT:bad@=550 5.1.1 no such user' && write_conf && start_crash_daemon "$point" || { not_ok "crash $point: set-up" "see $T"; continue; }
		printf 'Subject: %s\n\nbody\n' "$point" | submit -f alice@example.org bad@example.net
		check "crash $point: the daemon died there" crashed
		restart_daemon
		check "crash $point: bounce delivered" wait_for 15 bash -c "grep -lx 'rcpt=RCPT TO:<alice@example.org>' '$T'/mail/*.env >/dev/null 2>&1"
		check "crash $point: spool clean afterwards" wait_for 10 spool_clean
		n=$(grep -lx 'rcpt=RCPT TO:<alice@example.org>' "$T"/mail/*.env | wc -l)
		check "crash $point: one or two bounces ($n)" test "$n" -ge 1 -a "$n" -le 2
		check "crash $point: message kept in failed/" test -n "$(ls "$T/spool/failed")"
		stop_daemon
		stop_pid "$T/smtpd.pid"
	done
}

# kill -9 at random moments while mail flows; bounded: 6 rounds.
# test_crash_random SESSIONS: with that many parallel sessions
# (max_sessions), each kill may catch that many messages in flight
test_crash_random() {
	local round i kills=0 lost=0 dups=0 n s sessions=$1
	new_env "crash-random-$sessions"
	start_smtpd && write_conf "max_sessions $sessions" || { not_ok "random kills: set-up" "see $T"; return; }
	: > "$T/accepted"
	for round in 1 2 3 4 5 6; do
		start_daemon
		for i in 1 2 3 4 5 6 7 8; do
			s="random $round.$i"
			printf 'Subject: %s\n\nbody\n' "$s" | submit user@example.net && echo "$s" >> "$T/accepted"
		done
		# the kill lands somewhere in the delivery of this batch
		sleep "0.$((RANDOM % 20))"
		kill -0 "$(cat "$T/daemon.pid")" 2>/dev/null && kills=$((kills + 1))
		kill_daemon
	done
	restart_daemon
	wait_for 30 spool_clean
	check "random kills ($sessions session(s)): spool clean at the end" spool_clean
	while IFS= read -r s; do
		n=$(copies "$s")
		[ "$n" -eq 0 ] && { lost=$((lost + 1)); echo "# lost: $s"; }
		[ "$n" -gt 1 ] && dups=$((dups + n - 1))
	done < "$T/accepted"
	check "random kills ($sessions session(s)): $(wc -l < "$T/accepted") accepted messages, none lost" test $lost -eq 0
	# one message is in flight per session and kill: at most that many
	# duplicates each
	check "random kills ($sessions session(s)): duplicates ($dups) <= kills ($kills) x sessions" test $dups -le $((kills * sessions))
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# A full disk: sendmail says 75 and leaves nothing; the daemon lives on
# and delivers once there is room again.
test_disk_full() {
	local out rc
	if [ "$(id -u)" != 0 ]; then
		echo "# skip disk full: needs root to mount a small tmpfs"
		return
	fi
	new_env diskfull
	if ! mount -t tmpfs -o size=512k,mode=755,uid=$RUNUID,gid=$RUNGID tmpfs "$T/spool"; then
		echo "# skip disk full: cannot mount tmpfs here"
		return
	fi
	# queue_minfree 1: the reserve out of the way when there is room
	# (t_minfree.sh tests it); on the full disk it or the write refuses
	start_smtpd && write_conf "queue_minfree 1" && start_daemon || { not_ok "disk full: set-up" "see $T"; umount "$T/spool"; return; }
	# fill it up, as root so that it stays full
	dd if=/dev/zero of="$T/spool/filler" bs=4k 2>/dev/null
	out=$(head -c 200000 /dev/zero | tr '\0' 'x' | fold -w 70 | { printf 'Subject: big\n\n'; cat; } | submit user@example.net 2>&1); rc=$?
	check "disk full: sendmail exits 75" test $rc -eq 75
	check "disk full: says why" grep -qE "No space left on device|KB free, less than the 1 KB kept free" <<<"$out"
	check "disk full: nothing left in drop/" dir_empty "$T/spool/drop"
	check "disk full: daemon still running" kill -0 "$(cat "$T/daemon.pid")"
	rm -f "$T/spool/filler"
	printf 'Subject: after full\n\nbody\n' | submit user@example.net
	check "disk full: accepted again once there is room" test $? -eq 0
	check "disk full: delivered after recovery" wait_for 15 has_copies 'after full' 1
	stop_daemon
	stop_pid "$T/smtpd.pid"
	umount "$T/spool"
}

test_crash_points
test_crash_sessions
test_crash_sendmail
test_crash_bounce
test_crash_random 1
test_crash_random 2
test_disk_full
