# Bounces: RFC 3464 reports to the sender for 5xx and expiry, never for
# the null sender or for connection/TLS/AUTH trouble; failed/ and
# failed_keep.  Sourced by test/check.sh, which provides test/lib.sh.

test_bounce_5xx() {
	local id nid
	new_env bounce5xx
	start_smtpd --reply 'RCPT:bad@=550 5.1.1 no such user' && write_conf && start_daemon || { not_ok "bounce 5xx: set-up" "see $T"; return; }
	printf 'Subject: will bounce\nFrom: alice@example.org\n\nbody\n' | submit -f alice@example.org good@example.net bad@example.net
	check "bounce 5xx: original delivered to the good recipient" wait_for 15 test -s "$T/mail/1.env"
	check "bounce 5xx: DSN delivered through the smarthost" wait_for 15 test -s "$T/mail/2.env"
	id=$(sed -n 's/^.*: \([0-9A-V]\{16\}\): to=<bad@example.net>.*status=bounced.*$/\1/p' "$T/log")
	nid=$(sed -n "s/^.*$id: sender non-delivery notification: \([0-9A-V]\{16\}\)\$/\1/p" "$T/log")
	check "bounce 5xx: Postfix log line 'sender non-delivery notification: NEWID'" test -n "$nid"
	check "bounce 5xx: DSN has the null sender" grep -qx 'mail=MAIL FROM:<> SIZE=[0-9]*' "$T/mail/2.env"
	check "bounce 5xx: DSN goes to the envelope sender" grep -qx 'rcpt=RCPT TO:<alice@example.org>' "$T/mail/2.env"
	check "bounce 5xx: DSN logged as sent under its own id" log_has "$nid: to=<alice@example.org>, .*status=sent"
	local m=$T/mail/2.msg
	check "bounce 5xx: From MAILER-DAEMON" grep -qx $'From: MAILER-DAEMON@example.org (Mail Delivery System)\r' "$m"
	check "bounce 5xx: multipart/report delivery-status" grep -qx $'Content-Type: multipart/report; report-type=delivery-status;\r' "$m"
	check "bounce 5xx: boundary names the new id" grep -qx $'\tboundary="'"$nid"$'/example.org"\r' "$m"
	check "bounce 5xx: Auto-Submitted" grep -qx $'Auto-Submitted: auto-replied\r' "$m"
	check "bounce 5xx: message/delivery-status part" grep -qx $'Content-Type: message/delivery-status\r' "$m"
	check "bounce 5xx: Final-Recipient" grep -qx $'Final-Recipient: rfc822; bad@example.net\r' "$m"
	check "bounce 5xx: Action failed, Status 5.1.1" bash -c "grep -qx \$'Action: failed\r' '$m' && grep -qx \$'Status: 5.1.1\r' '$m'"
	check "bounce 5xx: Remote-MTA" grep -qx $'Remote-MTA: dns; localhost\r' "$m"
	check "bounce 5xx: Diagnostic-Code is the server's reply" grep -qx $'Diagnostic-Code: smtp; 550 5.1.1 no such user\r' "$m"
	check "bounce 5xx: only the failed recipient reported" test "$(grep -c 'Final-Recipient' "$m")" -eq 1
	check "bounce 5xx: original header returned" grep -qx $'Subject: will bounce\r' "$m"
	check "bounce 5xx: a small message returned whole as message/rfc822" \
	    bash -c "grep -qx \$'Content-Type: message/rfc822\r' '$m' && grep -qx \$'body\r' '$m'"
	check "bounce 5xx: closing boundary" test "$(tail -1 "$m")" = "--$nid/example.org--"$'\r'
	check "bounce 5xx: original kept in failed/ with its state" test -f "$T/spool/failed/$id" -a -f "$T/spool/failed/$id.state"
	check "bounce 5xx: queue empty" wait_for 5 dir_empty "$T/spool/queue"
	# -R hdrs: the sender asked for the header only
	printf 'Subject: headers only\n\nsecret body\n' | submit -R hdrs -f alice@example.org bad@example.net
	check "bounce -R hdrs: DSN delivered" wait_for 15 test -s "$T/mail/3.env"
	check "bounce -R hdrs: text/rfc822-headers, the body not returned" \
	    bash -c "grep -qx \$'Content-Type: text/rfc822-headers\r' '$T/mail/3.msg' && grep -qx \$'Subject: headers only\r' '$T/mail/3.msg' && ! grep -q 'secret body' '$T/mail/3.msg'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_bounce_null_sender_and_bounce_to() {
	new_env bouncenull
	start_smtpd --reply 'RCPT:bad@=550 5.1.1 no such user' && write_conf "bounce_to postmaster@example.org" "failed_keep 1s" && start_daemon || { not_ok "bounce null: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit -f '<>' bad@example.net
	check "null sender: bounced recipient logged" wait_for 15 log_has 'to=<bad@example.net>, .*status=bounced'
	check "null sender: no notification, logged" wait_for 5 log_has ': no non-delivery notification: null sender$'
	check "null sender: no notification logged as sent" test "$(grep -c 'sender non-delivery notification' "$T/log")" -eq 0
	printf 'Subject: y\n\nbody\n' | submit -f carol@example.org bad@example.net
	check "bounce_to: DSN delivered" wait_for 15 test -s "$T/mail/1.env"
	check "bounce_to: DSN goes to bounce_to, not the sender" grep -qx 'rcpt=RCPT TO:<postmaster@example.org>' "$T/mail/1.env"
	check "failed_keep: failed messages removed after failed_keep" wait_for 10 dir_empty "$T/spool/failed"
	check "failed_keep: removal logged" log_has ': removed from failed/ after failed_keep$'
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# A sender that was a local name has no mailbox of its own: its bounce
# goes where mail to that name goes (aliases, then admin_address), read
# by the daemon when it bounces; the To: field still names the sender.
# A sender given with a real domain is left alone even when an alias
# has its local part.
test_bounce_local_sender() {
	local f
	new_env bouncelocal
	printf 'daemon: ops@example.net, admin\nadmin: boss@example.net\nalice: wrong@example.net\n' > "$T/aliases"
	start_smtpd --reply 'RCPT:bad@=550 5.1.1 no such user' && write_conf "aliases $T/aliases" "admin_address hostmaster@example.net" || { not_ok "bounce local: set-up" "see $T"; return; }
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	printf 'Subject: l1\n\nbody\n' | submit -f daemon bad@example.net
	f=$(ls "$T/spool/drop")
	check "bounce local: envelope keeps the local name (L record)" test "$(sed -n '/^[SL] /p' "$T/spool/drop/$f")" = "S daemon@example.org
L daemon"
	start_daemon || { not_ok "bounce local: daemon" "see $T"; return; }
	check "bounce local: DSN delivered" wait_for 15 test -s "$T/mail/1.env"
	check "bounce local: DSN goes to the alias targets, recursively" test "$(grep '^rcpt=' "$T/mail/1.env")" = "rcpt=RCPT TO:<ops@example.net>
rcpt=RCPT TO:<boss@example.net>"
	check "bounce local: To: still names the sender" grep -qx $'To: <daemon@example.org>\r' "$T/mail/1.msg"
	printf 'Subject: l2\n\nbody\n' | submit -f cron@localhost bad@example.net
	check "bounce local: a name without an alias: DSN to admin_address" wait_for 15 grep -qx 'rcpt=RCPT TO:<hostmaster@example.net>' "$T/mail/2.env"
	printf 'Subject: l3\n\nbody\n' | submit -f alice@example.org bad@example.net
	check "bounce local: a sender with a domain: DSN to the sender, aliases not used" wait_for 15 grep -qx 'rcpt=RCPT TO:<alice@example.org>' "$T/mail/3.env"
	check "bounce local: one recipient only" test "$(grep -c '^rcpt=' "$T/mail/3.env")" -eq 1
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_bounce_expiry() {
	local qf
	new_env bounceexp
	PORT=1 write_conf "queue_lifetime 1s" && start_daemon || { not_ok "bounce expiry: set-up" "see $T"; return; }
	printf 'Subject: z\n\nbody\n' | submit -f dave@example.org user@example.net
	check "connection refused: deferred, no bounce" wait_for 10 log_has 'to=<user@example.net>, .*status=deferred \(connect to'
	check "expiry: recipient bounced with 4.4.7" wait_for 15 log_has 'to=<user@example.net>, .*dsn=4\.4\.7, status=bounced \(message expired'
	check "expiry: notification queued" wait_for 5 log_has ': sender non-delivery notification: [0-9A-V]{16}$'
	check "expiry: notification waits in the queue (smarthost down)" wait_for 5 bash -c "[ \$(ls '$T/spool/queue' | wc -l) -eq 1 ]"
	qf=$T/spool/queue/$(ls "$T/spool/queue")
	check "expiry: notification has the null sender" grep -qx 'S ' "$qf"
	check "expiry: notification to the sender" grep -qx 'R dave@example.org' "$qf"
	check "expiry: Status 4.4.7 with the reason" bash -c "grep -qx \$'Status: 4.4.7\r' '$qf' && grep -q '^Diagnostic-Code: X-relayq; message expired' '$qf'"
	stop_daemon
}

test_no_bounce_auth() {
	new_env bounceauth
	start_smtpd --reply 'AUTH=535 5.7.8 Authentication credentials invalid' && write_conf && start_daemon || { not_ok "no bounce on AUTH: set-up" "see $T"; return; }
	printf 'Subject: a\n\nbody\n' | submit -f erin@example.org user@example.net
	check "AUTH 535: deferred" wait_for 10 log_has 'to=<user@example.net>, .*status=deferred \(authentication failed: 535 5\.7\.8'
	check "AUTH 535: no bounce" test "$(grep -c 'non-delivery' "$T/log")" -eq 0
	check "AUTH 535: message stays queued" test "$(queue_count)" -eq 1
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# -N never: the sender asked for no report; -V: the report names the envid
test_bounce_dsn_options() {
	new_env bouncedsn
	start_smtpd --reply 'RCPT:bad@=550 5.1.1 no such user' && write_conf && start_daemon || { not_ok "bounce -N/-V: set-up" "see $T"; return; }
	printf 'Subject: n\n\nbody\n' | submit -N never -f alice@example.org bad@example.net
	check "-N never: no notification, logged" wait_for 15 log_has ': to=<bad@example.net>: no non-delivery notification: not requested \(NOTIFY\)$'
	printf 'Subject: v\n\nbody\n' | submit -V env-42 -f alice@example.org bad@example.net
	check "-V: notification delivered" wait_for 15 test -s "$T/mail/1.env"
	check "-V: only one notification for the two failures" test ! -e "$T/mail/2.env"
	check "-V: Original-Envelope-Id in the report" grep -qx $'Original-Envelope-Id: env-42\r' "$T/mail/1.msg"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_bounce_5xx
test_bounce_null_sender_and_bounce_to
test_bounce_local_sender
test_bounce_expiry
test_no_bounce_auth
test_bounce_dsn_options

# Trouble on the way never bounces: each fault leaves the message queued
# with a deferral in the log and no notification.
test_faults_defer_not_bounce() {
	local f name
	while IFS='|' read -r name f; do
		new_env "fault-${name// /_}"
		eval "start_smtpd $f" && write_conf "timeout_command 2s" "timeout_data 2s" && start_daemon || { not_ok "fault $name: set-up" "see $T"; continue; }
		printf 'Subject: f\n\nbody\n' | submit -f alice@example.org user@example.net
		check "fault $name: deferred, logged" wait_for 15 log_has 'to=<user@example\.net>, .*status=deferred'
		check "fault $name: message stays queued" test "$(queue_count)" -eq 1
		check "fault $name: no bounce" test "$(grep -c 'non-delivery' "$T/log")" -eq 0
		stop_daemon
		stop_pid "$T/smtpd.pid"
	done <<'EOT'
greeting 421|--reply 'GREETING=421 4.3.2 busy'
AUTH 454|--reply 'AUTH=454 4.7.0 temporary authentication failure'
AUTH 535|--reply 'AUTH=535 5.7.8 bad credentials'
MAIL 451|--reply 'MAIL=451 4.3.0 try later'
drop in DATA|--drop-after DATA
drop after dot|--drop-after DOT
hang after RCPT|--hang-after RCPT
TLS failure|--tls-garbage
EOT
}

test_faults_defer_not_bounce
