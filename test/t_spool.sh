# Crash safety and hostile files in the drop directory.
# Sourced by test/check.sh, which provides test/lib.sh.

test_crash_safety() {
	local pid
	new_env crash
	start_smtpd && write_conf && start_daemon || { not_ok "crash: set-up" "see $T"; return; }
	# sendmail killed mid-message: nothing is delivered from it
	mkfifo "$T/fifo" && chmod 666 "$T/fifo"
	# setpriv and env exec: $! is sendmail itself
	"${AS_USER[@]}" env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" root < "$T/fifo" &
	pid=$!
	exec 7>"$T/fifo"
	printf 'Subject: partial\n\nhalf a mess' >&7
	wait_for 5 sh -c "ls '$T/spool/drop' | grep -q ."
	kill -9 $pid
	exec 7>&-
	wait $pid 2>/dev/null
	printf 'Subject: barrier\n\nbody\n' | submit root
	check "kill -9 of sendmail: a later message is delivered" wait_for 15 test -s "$T/mail/1.env"
	check "kill -9 of sendmail: the partial message is never delivered" \
	    sh -c "! grep -q partial '$T/mail/'*.msg && [ ! -e '$T/mail/2.msg' ]"
	stop_daemon
	stop_pid "$T/smtpd.pid"

	# daemon killed during delivery: delivered after restart
	new_env crash2
	start_smtpd --hang-after DOT && write_conf && start_daemon || { not_ok "crash2: set-up" "see $T"; return; }
	printf 'Subject: survive\n\nbody\n' | submit root
	wait_for 10 grep -q '^C: DATA' "$T/transcript"
	wait_for 10 sh -c "grep -q '^C: \\.\$' '$T/transcript'"
	kill -9 "$(cat "$T/daemon.pid")"; rm -f "$T/daemon.pid"
	stop_pid "$T/smtpd.pid"
	check "kill -9 of the daemon: message still queued" test "$(queue_count)" -eq 1
	start_smtpd && write_conf && start_daemon
	check "kill -9 of the daemon: delivered after restart" wait_for 15 test -s "$T/mail/1.env"
	check "kill -9 of the daemon: queue empty after restart" wait_for 5 test "$(queue_count)" -eq 0
	stop_daemon
}

test_drop_hostile() {
	new_env hostile
	start_smtpd && write_conf && start_daemon || { not_ok "hostile: set-up" "see $T"; return; }
	echo "secret of someone" > "$WORK/victim"
	as_user ln -s "$WORK/victim" "$T/spool/drop/0000000000000SYM"
	as_user mkfifo "$T/spool/drop/000000000000FIFO"
	printf 'Subject: barrier\n\nbody\n' | submit root
	check "planted symlink and FIFO: real mail still flows" wait_for 15 test -s "$T/mail/1.env"
	check "planted symlink: removed and logged" wait_for 5 log_has 'drop/0000000000000SYM: removed'
	check "planted FIFO: removed and logged" log_has 'drop/000000000000FIFO: removed'
	check "planted files: nothing else delivered" test ! -e "$T/mail/2.msg"
	stop_daemon
}

test_crash_safety
test_drop_hostile
