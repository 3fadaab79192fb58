# Delivery to the test smarthost: TLS, AUTH, failures that defer, retries.
# Sourced by test/check.sh, which provides test/lib.sh.

CRLF_MSG=$'From: Alice <alice@example.org>\nTo: Bob <bob@example.net>\nBcc: secret@example.net\nSubject: test\nDate: Tue, 24 Nov 2026 10:00:00 +0000\nMessage-ID: <fixed@example.org>\n\nHello.\n.leading dot\n..two dots\nlast line\n'
# what the smarthost must receive: Bcc gone, CRLF, dots as sent
CRLF_WANT=$'From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\nSubject: test\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <fixed@example.org>\r\n\r\nHello.\r\n.leading dot\r\n..two dots\r\nlast line\r\n'

test_starttls_delivery() {
	new_env starttls
	start_smtpd && write_conf "add_received no" && start_daemon || { not_ok "starttls: set-up" "see $T"; return; }
	printf '%s' "$CRLF_MSG" | submit -t -f alice@example.org carol
	check "sendmail -t: exit 0 once queued" test $? -eq 0
	if wait_for 15 test -s "$T/mail/1.env"; then
		ok "starttls: message reaches the smarthost"
	else
		not_ok "starttls: message reaches the smarthost" "$(tail -3 "$T/log")"
		stop_daemon; return
	fi
	check "starttls: body and header bytes exact (Bcc removed, dots unstuffed)" \
	    cmp -s "$T/mail/1.msg" <(printf '%s' "$CRLF_WANT")
	check "starttls: envelope sender from -f" grep -qx 'mail=MAIL FROM:<alice@example.org> SIZE=[0-9]*' "$T/mail/1.env"
	check "starttls: -t recipients merged with argv, bare name qualified" \
	    test "$(grep '^rcpt=' "$T/mail/1.env" | sort | tr '\n' ' ')" = "rcpt=RCPT TO:<bob@example.net> rcpt=RCPT TO:<carol@example.org> rcpt=RCPT TO:<secret@example.net> "
	check "starttls: session was TLS with AUTH PLAIN" grep -qx 'tls=1' "$T/mail/1.env"
	check "starttls: authenticated as user" grep -qx 'auth=PLAIN:user' "$T/mail/1.env"
	check "starttls: AUTH only after the TLS handshake" \
	    awk '/^-- tls established/ {t=1} /^C: AUTH/ && !t {exit 1}' "$T/transcript"
	check "starttls: EHLO repeated after STARTTLS" test "$(grep -c '^C: EHLO' "$T/transcript")" -eq 2
	check "starttls: Postfix-style log line per recipient" \
	    log_has ': to=<carol@example.org>, orig_to=<carol>, relay=localhost\[127\.0\.0\.1\]:[0-9]+, tls=TLSv1\.[23]/[A-Z0-9-]+, delay=[0-9.]+, delays=[0-9.]+/0/[0-9.]+/[0-9.]+, route=default, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as 1\)'
	check "starttls: message removed from the queue" wait_for 5 dir_empty "$T/spool/queue"
	check "starttls: removed is logged" log_has ': removed$'
	stop_daemon
}

test_implicit_delivery() {
	new_env implicit
	start_smtpd --implicit && write_conf "tls implicit" && start_daemon || { not_ok "implicit: set-up" "see $T"; return; }
	printf 'Subject: implicit\n\nbody\n' | submit root
	if wait_for 15 test -s "$T/mail/1.env"; then
		ok "implicit TLS: message delivered"
	else
		not_ok "implicit TLS: message delivered" "$(tail -3 "$T/log")"
	fi
	check "implicit TLS: no STARTTLS on the wire" sh -c "! grep -q '^C: STARTTLS' '$T/transcript'"
	check "implicit TLS: Received, Date, Message-ID and From added" \
	    grep -qE '^Received: by .* \(relayq, from userid [0-9]+\)' "$T/mail/1.msg"
	check "implicit TLS: Message-ID uses the domain, never localhost" \
	    grep -qE '^Message-ID: <[0-9]{14}\.[0-9A-V]{16}@example\.org>' "$T/mail/1.msg"
	check "implicit TLS: Date added" grep -qE '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}' "$T/mail/1.msg"
	check "implicit TLS: From added from the uid" grep -qE '^From: .*@example\.org' "$T/mail/1.msg"
	stop_daemon
}

# defer_case NAME SMTPD-OPTS LOG-REGEX [CERT KEY]: message must stay queued
defer_case() {
	local name=$1 opts=$2 re=$3
	new_env "$(echo "$name" | tr -c 'a-z0-9\n' _)"
	CERT=${4:-} KEY=${5:-} eval "start_smtpd $opts" && write_conf && start_daemon || { not_ok "$name: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit user@example.net
	if wait_for 15 log_has "$re"; then
		ok "$name: logged"
	else
		not_ok "$name: logged" "want /$re/, log: $(grep -v started "$T/log" | tail -2)"
	fi
	check "$name: message stays queued" test "$(queue_count)" -eq 1
	check "$name: nothing delivered" test ! -e "$T/mail/1.msg"
	check "$name: deferred with retry" log_has 'status=deferred'
	stop_daemon
}

test_tls_failures() {
	defer_case "wrong certificate name" "" \
	    'certificate verify failed for localhost: name mismatch' \
	    "$CERTS/wrong.pem" "$CERTS/wrong.key"
	check "wrong certificate name: no AUTH sent" sh -c "! grep -q '^C: AUTH' '$T/transcript'"
	defer_case "untrusted certificate" "" \
	    'certificate verify failed for localhost: not signed by a trusted CA' \
	    "$CERTS/selfsigned.pem" "$CERTS/selfsigned.key"
	defer_case "expired certificate" "" \
	    'certificate verify failed for localhost: expired' \
	    "$CERTS/expired.pem" "$CERTS/expired.key"
	defer_case "STARTTLS not offered" "--no-starttls" \
	    'does not offer STARTTLS; not sending in plaintext'
	check "STARTTLS not offered: no MAIL or AUTH in plaintext" sh -c "! grep -qE '^C: (AUTH|MAIL)' '$T/transcript'"
	# the injected bytes arrive with the 220 (caught before the handshake)
	# or just after it (the handshake then fails on a non-TLS record)
	defer_case "STARTTLS response injection" "--tls-garbage" \
	    'sent data after the STARTTLS reply; aborting|TLS handshake with localhost\[127\.0\.0\.1\]:[0-9]+ failed'
	check "STARTTLS response injection: no AUTH" sh -c "! grep -q '^C: AUTH' '$T/transcript'"
	defer_case "AUTH 535" "--reply 'AUTH=535 5.7.8 Authentication credentials invalid'" \
	    'authentication failed: 535 5.7.8'
	defer_case "greeting 421" "--reply 'GREETING=421 4.3.2 busy'" \
	    'greeting: 421 4.3.2 busy'
	defer_case "4xx after the final dot" "--reply 'DOT=451 4.3.0 try later'" \
	    'dsn=4\.3\.0, status=deferred \(host localhost\[127\.0\.0\.1\]:[0-9]+ said: 451 4\.3\.0 try later\)'
	defer_case "connection lost after the final dot" "--drop-after DOT" \
	    'status=deferred \(lost connection with localhost.*after the final dot: message may be delivered more than once\)'
}

test_unreachable_then_retry() {
	new_env unreachable
	# a port that nobody listens on: take a free one from smtpd, stop it
	start_smtpd && stop_pid "$T/smtpd.pid"
	write_conf && start_daemon || { not_ok "unreachable: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit user@example.net
	check "unreachable: connection refused logged" wait_for 10 log_has "relay=none, .*status=deferred \(connect to localhost\[[0-9a-f:.]+\]:$PORT: Connection refused\)"
	check "unreachable: message stays queued" test "$(queue_count)" -eq 1
	SMTPD_PORT=$PORT start_smtpd
	check "unreachable: delivered on retry once the smarthost is back" wait_for 15 test -s "$T/mail/1.env"
	check "unreachable: queue empty after retry" wait_for 5 dir_empty "$T/spool/queue"
	stop_daemon
}

test_per_recipient() {
	new_env perrcpt
	start_smtpd --reply 'RCPT:bad@=550 5.1.1 no such user' --reply 'RCPT:later@=450 4.2.0 mailbox busy' && write_conf && start_daemon || { not_ok "per-recipient: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit good@example.net bad@example.net later@example.net
	check "per-recipient: accepted recipient delivered" wait_for 15 test -s "$T/mail/1.env"
	check "per-recipient: only the accepted recipient in the transaction" \
	    test "$(grep -c '^rcpt=' "$T/mail/1.env")" -eq 1
	check "per-recipient: 550 logged as bounced" wait_for 5 log_has 'to=<bad@example.net>, .*dsn=5\.1\.1, status=bounced \(host localhost\[127\.0\.0\.1\]:[0-9]+ said: 550 5\.1\.1 no such user\)'
	check "per-recipient: 450 logged as deferred" log_has 'to=<later@example.net>, .*dsn=4\.2\.0, status=deferred'
	check "per-recipient: retried recipient is only the deferred one" \
	    wait_for 10 sh -c "[ \$(grep -c 'to=<later@example.net>' '$T/log') -ge 2 ]"
	check "per-recipient: sent recipient never retried" test "$(grep -c 'to=<good@example.net>' "$T/log")" -eq 1
	check "per-recipient: state file records each recipient" \
	    sh -c "grep -q '^R 0 sent 2.0.0 250' '$T/spool/state/'* && grep -q '^R 1 failed 5.1.1 host' '$T/spool/state/'*"
	stop_daemon
}

test_starttls_delivery
test_implicit_delivery
test_tls_failures
test_unreachable_then_retry
test_per_recipient
