#!/bin/bash
# make check: unit tests, then the real binaries against the test
# smarthost, one private spool, config and daemon per test.
# Prints one "ok"/"not ok" line per assertion and "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

# --- unit tests: their ok/not ok lines count with ours ----------------
while IFS= read -r line; do
	echo "$line"
	case $line in
	"ok - "*) PASS=$((PASS + 1)) ;;
	"not ok - "*) FAIL=$((FAIL + 1)); unit_failed=1 ;;
	"unit-exit 0") ;;
	"unit-exit "*) [ -n "$unit_failed" ] || not_ok "unit tests" "test/unit exited with ${line#unit-exit }" ;;
	esac
done < <(./test/unit 2>"$WORK/unit.err"; echo "unit-exit $?")
grep -q . "$WORK/unit.err" && sed 's/^/# unit: /' "$WORK/unit.err"

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
	    log_has ': to=<carol@example.org>, orig_to=<carol>, relay=localhost\[127\.0\.0\.1\]:[0-9]+, delay=[0-9.]+, delays=[0-9.]+/0/[0-9.]+/[0-9.]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as 1\)'
	check "starttls: message removed from the queue" wait_for 5 test "$(queue_count)" -eq 0
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
	check "unreachable: queue empty after retry" wait_for 5 test "$(queue_count)" -eq 0
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

test_sendmail_errors() {
	local out rc n
	new_env errors
	start_smtpd && write_conf || { not_ok "errors: set-up" "see $T"; return; }
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	out=$(printf 'Subject: x\n\n' | submit 2>&1); rc=$?
	check "sendmail: no recipients -> 64" test $rc -eq 64
	check "sendmail: no recipients message" grep -q 'no recipients' <<<"$out"
	out=$(printf 'Subject: x\n\nbody\n' | submit -t 2>&1); rc=$?
	check "sendmail -t without any recipient -> 64" test $rc -eq 64
	out=$(submit -Q x </dev/null 2>&1); rc=$?
	check "sendmail: unknown option -> 64" test $rc -eq 64
	check "sendmail: unknown option prints usage" grep -q '^usage: sendmail' <<<"$out"
	echo "bogus_key 1" >> "$T/conf"
	n=$(wc -l < "$T/conf")
	out=$(printf 'x\n' | submit root 2>&1); rc=$?
	check "sendmail: bad config -> 78" test $rc -eq 78
	check "sendmail: bad config names file and line" grep -qF "$T/conf:$n: unknown key \"bogus_key\"" <<<"$out"
	write_conf
	out=$(printf 'x\n' | as_user "$TOP/sendmail" -C "$T/conf" root 2>&1); rc=$?
	if [ "$RUNUID" != 0 ]; then
		check "sendmail: -C refused for non-root -> 77" test $rc -eq 77
	fi
	out=$(printf 'x\n' | submit -f $'a\rb@x' root 2>&1); rc=$?
	check "sendmail: CR in an option value -> 64" test $rc -eq 64
	rmdir "$T/spool/drop"
	out=$(printf 'x\n' | submit root 2>&1); rc=$?
	check "sendmail: missing drop directory -> 73" test $rc -eq 73
	check "sendmail: missing drop directory message names the path" grep -q "cannot create queue file $T/spool/drop/" <<<"$out"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	out=$( (trap '' XFSZ; ulimit -f 1; head -c 100000 /dev/zero | tr '\0' 'a' | fold -w 70 | submit root) 2>&1); rc=$?
	check "sendmail: write error (file size limit) -> 75" test $rc -eq 75
	check "sendmail: failed write leaves nothing in drop" test -z "$(ls -A "$T/spool/drop")"
	printf 'Subject: big\n\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" > "$WORK/big"
	echo "max_message_size 1K" >> "$T/conf"
	out=$(submit root < "$WORK/big" 2>&1); rc=$?
	check "sendmail: over max_message_size -> 65" test $rc -eq 65
	check "sendmail: over max_message_size leaves nothing" test -z "$(ls -A "$T/spool/drop")"
	write_conf
	printf '' | submit root; rc=$?
	check "sendmail: empty input is queued" test $rc -eq 0
	stop_pid "$T/smtpd.pid"
}

test_message_repair() {
	new_env repair
	start_smtpd && write_conf "add_received no" && start_daemon || { not_ok "repair: set-up" "see $T"; return; }
	printf 'Subject: repair\r\nDate: x\r\nMessage-ID: <m@x>\r\nFrom: a@example.org\r\n\r\nnul\0byte\r\nbare\rcr\nmixed\r\n.\r\nafter dot\n' | submit -i root
	check "repair: delivered" wait_for 15 test -s "$T/mail/1.env"
	check "repair: NUL dropped, bare CR a line break, lone dot kept with -i" \
	    cmp -s "$T/mail/1.msg" <(printf 'Subject: repair\r\nDate: x\r\nMessage-ID: <m@x>\r\nFrom: a@example.org\r\n\r\nnulbyte\r\nbare\r\ncr\r\nmixed\r\n.\r\nafter dot\r\n')
	check "repair: NUL drop is logged" log_has ': dropped 1 NUL bytes from the message'
	check "repair: bare CR repair is logged" log_has ': replaced 1 bare CR characters'
	printf 'Subject: dot\nDate: x\nMessage-ID: <m2@x>\nFrom: a@example.org\n\nbefore\n.\nnot sent\n' | submit root
	check "lone dot without -i ends the message" wait_for 15 test -s "$T/mail/2.env"
	check "lone dot without -i: the rest is dropped" \
	    cmp -s "$T/mail/2.msg" <(printf 'Subject: dot\r\nDate: x\r\nMessage-ID: <m2@x>\r\nFrom: a@example.org\r\n\r\nbefore\r\n')
	{ printf 'Subject: long\nDate: x\nMessage-ID: <m3@x>\nFrom: a@example.org\n\n'; head -c 2500 /dev/zero | tr '\0' y; printf '\n'; } | submit root
	check "long line: delivered" wait_for 15 test -s "$T/mail/3.env"
	check "long line: folded at 998 octets with CRLF SPACE" \
	    sh -c "awk 'length > 999 {exit 1}' '$T/mail/3.msg' && [ \$(tr -cd y < '$T/mail/3.msg' | wc -c) -eq 2500 ] && grep -q '^ y' '$T/mail/3.msg'"
	check "long line: folding is logged" log_has ': folded 1 lines longer than 998 octets'
	stop_daemon
}

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

test_daemon_config() {
	local out rc n
	new_env dconf
	start_smtpd && write_conf || { not_ok "daemon config: set-up" "see $T"; return; }
	echo "retry_min soon" >> "$T/conf"
	n=$(wc -l < "$T/conf")
	out=$(as_user "$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
	check "relayq: bad duration -> 78" test $rc -eq 78
	check "relayq: bad duration names file:line" grep -qF "$T/conf:$n: retry_min: bad duration \"soon\"" <<<"$out"
	write_conf
	chmod 644 "$T/pw"
	out=$(as_user "$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
	check "relayq: password file readable by others -> 78" test $rc -eq 78
	check "relayq: password file message says how to fix" grep -q "must be owned by uid $RUNUID and not readable by others" <<<"$out"
	chmod 600 "$T/pw"
	# the environment wins over the file (containers)
	sed -i "s/^smarthost .*/smarthost localhost:1/" "$T/conf"
	start_daemon RELAYQ_SMARTHOST="localhost:$PORT"
	printf 'Subject: env\n\nbody\n' | submit root
	check "RELAYQ_SMARTHOST overrides the file" wait_for 15 test -s "$T/mail/1.env"
	stop_daemon
	out=$(RELAYQ_TLS=maybe "$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
	check "bad RELAYQ_TLS -> 78" test $rc -eq 78
	check "bad RELAYQ_TLS names the variable" grep -qF 'RELAYQ_TLS: tls: "maybe" is not one of' <<<"$out"
}

test_starttls_delivery
test_implicit_delivery
test_tls_failures
test_unreachable_then_retry
test_per_recipient
test_sendmail_errors
test_message_repair
test_crash_safety
test_drop_hostile
test_daemon_config
summary
