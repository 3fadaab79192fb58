# Quarantine, never delete: a committed queue file the daemon cannot
# read goes to corrupt/ with one log line and a non-delivery notification
# to its sender; relayq status and relayq check report it.  A file
# without a commit mark (a killed sendmail) is still removed once stale.
# Sourced by test/check.sh, which provides test/lib.sh.

# quar_file ID RCPT...: a complete queue file by the test user, as
# sendmail writes one, with the recipients as given (even invalid ones)
quar_file() {
	local id=$1 data r; shift
	data=$'Subject: quarantine\r\nFrom: a@example.org\r\n\r\nbody\r\n'
	{
		printf 'RELAYQ 1\nI %s\nT %s\nU %s nobody\nS a@example.org\n' "$id" "$(date +%s)" "$RUNUID"
		for r in "$@"; do printf 'R %s\n' "$r"; done
		printf 'M\n%sE %d 7BIT\n' "$data" "${#data}"
	}
}

quar_count() { ls "$T/spool/corrupt" | grep -vc '\.state$'; }

test_quarantine() {
	local id=1LH0000000000001 old=1LH0000000000002 q out rc
	new_env quarantine
	start_smtpd --reply 'RCPT:later@example.net=450 4.2.0 busy' && write_conf && start_daemon || { not_ok "quarantine: set-up" "see $T"; return; }
	check "quarantine: the daemon creates corrupt/ 0700" test "$(stat -c %a "$T/spool/corrupt")" = 700
	# a committed file with a record the parser refuses
	quar_file $id 'bad address' good@example.net | as_user sh -c "cat > '$T/spool/drop/$id'"
	check "quarantine: moved to corrupt/" wait_for 15 test -e "$T/spool/corrupt/$id"
	check "quarantine: not left in drop/" test ! -e "$T/spool/drop/$id"
	check "quarantine: one log line with id, reason and the notification" wait_for 10 log_has "drop/$id: quarantined in corrupt/$id: bad 'R' record; sender non-delivery notification: [0-9A-V]{16}\$"
	check "quarantine: the sender is notified through the smarthost" wait_for 15 test -s "$T/mail/1.env"
	check "quarantine: notification to the envelope sender" grep -qx 'rcpt=RCPT TO:<a@example.org>' "$T/mail/1.env"
	check "quarantine: notification has the null sender" grep -qx 'mail=MAIL FROM:<> SIZE=[0-9]*' "$T/mail/1.env"
	check "quarantine: notification names the queue id" grep -qF "X-Relayq-Queue-ID: $id" "$T/mail/1.msg"
	check "quarantine: notification names the recipient it could read" grep -qF "Final-Recipient: rfc822; good@example.net" "$T/mail/1.msg"
	check "quarantine: notification says why" grep -qF "the queue file could not be read (bad 'R' record)" "$T/mail/1.msg"
	out=$(as_user "$TOP/relayq" -C "$T/conf" status)
	check "quarantine: relayq status counts it" grep -qxF "corrupt: 1 queue file(s) quarantined in $T/spool/corrupt (relayq check and the log say more)" <<<"$out"
	out=$(as_user "$TOP/relayq" -C "$T/conf" check); rc=$?
	check "quarantine: relayq check exits 78" test $rc -eq 78
	check "quarantine: relayq check says how to inspect" grep -qxF "relayq check: $T/spool/corrupt: 1 queue file(s) the daemon could not read, quarantined (its log says why: grep quarantined; inspect them with less, then remove them, or repair one and move it to $T/spool/drop)" <<<"$out"
	# a queued message whose file changed under the daemon: quarantined
	# at its next try, with its state
	printf 'Subject: later\n\nbody\n' | submit later@example.net
	check "quarantine: queued message deferred once" wait_for 15 log_has 'to=<later@example.net>.*status=deferred'
	q=$(ls "$T/spool/queue")
	sed -i 's/^R later@example.net$/R later example.net/' "$T/spool/queue/$q"
	as_user "$TOP/relayq" -C "$T/conf" flush "$q" >/dev/null 2>&1	# or the retry
	check "quarantine: a queue/ file that no longer parses is moved" wait_for 15 test -e "$T/spool/corrupt/$q"
	check "quarantine: its state goes with it" wait_for 10 test -e "$T/spool/corrupt/$q.state"
	check "quarantine: queue/ and state/ empty" sh -c "dir_empty() { [ -z \"\$(ls -A \"\$1\")\" ]; }; dir_empty '$T/spool/queue' && dir_empty '$T/spool/state'"
	check "quarantine: logged from queue/" wait_for 10 log_has "queue/$q: quarantined in corrupt/$q: bad 'R' record; no notification: sender or recipients unreadable\$"
	# no commit mark (sendmail killed before its trailer): removed once
	# stale, as before; the restart scans drop/
	stop_daemon
	quar_file $old good@example.net | head -c 40 | as_user sh -c "cat > '$T/spool/drop/$old'"
	touch -d '-11 minutes' "$T/spool/drop/$old"
	start_daemon
	check "quarantine: an uncommitted leftover is removed" wait_for 15 log_has "drop/$old: removed: incomplete envelope, and no commit mark \(left by a killed sendmail\)"
	check "quarantine: ... and not quarantined" test ! -e "$T/spool/corrupt/$old"
	check "quarantine: nothing else quarantined" test "$(quar_count)" -eq 2
	check "quarantine: daemon alive" kill -0 "$(cat "$T/daemon.pid")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# The notification for a quarantined queue/ file lists only the
# recipients its state file has still open: one already delivered must
# not be reported as failed.
test_quarantine_open() {
	local q
	new_env quarantine-open
	start_smtpd --reply 'RCPT:later@example.net=450 4.2.0 busy' && write_conf && start_daemon || { not_ok "quarantine open: set-up" "see $T"; return; }
	printf 'Subject: half\n\nbody\n' | submit done@example.net later@example.net
	check "quarantine open: one delivered, one deferred" wait_for 15 eval 'log_has "to=<done@example.net>.*status=sent" && log_has "to=<later@example.net>.*status=deferred"'
	q=$(ls "$T/spool/queue")
	check "quarantine open: the state says done@ is done" wait_for 10 grep -q '^R 0 sent ' "$T/spool/state/$q"
	# a record the parser refuses, the recipients still readable
	sed -i 's/^T [0-9]*$/T never/' "$T/spool/queue/$q"
	as_user "$TOP/relayq" -C "$T/conf" flush "$q" >/dev/null 2>&1	# or the retry
	check "quarantine open: moved to corrupt/" wait_for 15 test -e "$T/spool/corrupt/$q"
	check "quarantine open: notified" wait_for 15 log_has "queue/$q: quarantined in corrupt/$q: .*; sender non-delivery notification: [0-9A-V]{16}\$"
	check "quarantine open: the notification reaches the smarthost" wait_for 15 test -s "$T/mail/2.env"
	check "quarantine open: it names the open recipient" grep -qF "Final-Recipient: rfc822; later@example.net" "$T/mail/2.msg"
	check "quarantine open: not the delivered one" sh -c "! grep -qE '^(Final-Recipient: rfc822; )?<?done@example.net>?' '$T/mail/2.msg'"
	check "quarantine open: daemon alive" kill -0 "$(cat "$T/daemon.pid")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_quarantine
test_quarantine_open
