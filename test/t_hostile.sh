# A hostile smarthost (test/smtpd --raw, --endless, --bytewise,
# --tls-alert-in-data): whatever it sends, relayq must not crash, must
# give up within its configured timeout, must keep the message queued
# and must log one sanitised line saying why.  Sourced by test/check.sh.
#
# Checked against deliberately broken builds: with the "sent data nobody
# asked for" test in smtp_reply (src/smtp.c) disabled, "pipelined ahead
# of EHLO" fails (the early 250 is taken as the EHLO reply); with the control-character test of smtp_reply_line
# disabled, "unprintable bytes" fails (the EHLO reply is accepted); with
# the same pipelining check disabled, "reply injected after the STARTTLS
# 220" fails (the injected reply is taken as the EHLO reply over TLS).

HOSTILE_TIMEOUT=2	# timeout_command and timeout_data, seconds

# hostile_case NAME LOG-REGEX SMTPD-OPTIONS...: the message must stay queued
hostile_case() {
	local name=$1 re=$2 t0 t1 pid; shift 2
	new_env "hostile_$(echo "$name" | tr -c 'a-z0-9\n' _)"
	start_smtpd "$@" && write_conf "timeout_command ${HOSTILE_TIMEOUT}s" \
	    "timeout_data ${HOSTILE_TIMEOUT}s" && start_daemon ||
	    { not_ok "hostile $name: set-up" "see $T"; return; }
	t0=$(date +%s)
	# HOSTILE_BIG: 3 MB of body, so the client is still sending when the
	# server acts up in the middle of DATA
	{ printf 'Subject: x\n\nbody\n'; [ -z "${HOSTILE_BIG:-}" ] ||
	    head -c 3000000 /dev/zero | tr '\0' a | fold -w 76; } |
	    submit user@example.net
	# the first attempt starts at once: its verdict is due within the
	# timeout, plus the time to connect and hand shake
	if wait_for $((HOSTILE_TIMEOUT + 8)) log_has "$re"; then
		t1=$(date +%s)
		ok "hostile $name: deferred with the reason logged ($((t1 - t0))s)"
	else
		not_ok "hostile $name: deferred with the reason logged" \
		    "want /$re/, log: $(grep -v started "$T/log" | tail -2)"
	fi
	check "hostile $name: message stays queued" test "$(queue_count)" -eq 1
	check "hostile $name: nothing delivered" test ! -e "$T/mail/1.msg"
	pid=$(cat "$T/daemon.pid")
	check "hostile $name: daemon still running" kill -0 "$pid"
	check "hostile $name: log lines printable ASCII only" \
	    sh -c "! LC_ALL=C grep -q '[^[:print:]]' '$T/log'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_hostile() {
	local relay="relay=[^,]+, .*status=deferred"

	hostile_case "reply line longer than any limit" \
	    "$relay \(reply line too long from localhost" \
	    --raw 'GREETING=220 {100000*x}\r\n'
	hostile_case "multi-line reply longer than the total limit" \
	    "$relay \(malformed reply from localhost\[127\.0\.0\.1\]:[0-9]+: \"250-a{100}" \
	    --raw "EHLO=$(for i in 1 2 3 4 5 6 7 8 9 10; do printf '250-{2000*a}\\r\\n'; done)250 end\r\n"
	hostile_case "unprintable bytes" \
	    "$relay \(malformed reply from localhost\[127\.0\.0\.1\]:[0-9]+: \"250 \\\\033\[31m\\\\001\\\\377\"" \
	    --raw 'EHLO=250-localhost\r\n250 \x1b[31m\x01\xff\r\n'
	hostile_case "continuation lines with different codes" \
	    "$relay \(malformed reply from localhost\[127\.0\.0\.1\]:[0-9]+: \"251-second\"" \
	    --raw 'EHLO=250-localhost\r\n251-second\r\n250 STARTTLS\r\n'
	hostile_case "reply pipelined ahead of EHLO" \
	    "$relay \(localhost\[127\.0\.0\.1\]:[0-9]+ sent data nobody asked for after a reply; aborting\)" \
	    --raw 'GREETING=220 localhost ESMTP\r\n250 ahead of EHLO\r\n'
	# MAIL, RCPT and DATA go in one write (PIPELINING): an extra reply
	# shifts the count, DATA gets a 250 where a 354 belongs, and the
	# session is dropped with no data sent
	hostile_case "pipelined ahead of MAIL" \
	    "$relay \(unexpected reply to DATA: 250 2\.1\.5 Ok\)" \
	    --raw 'MAIL=250 2.1.0 Ok\r\n250 2.1.5 Ok for the RCPT not yet sent\r\n'
	hostile_case "endless multi-line reply" \
	    "$relay \(malformed reply from localhost\[127\.0\.0\.1\]:[0-9]+: \"250-endless continuation line\"" \
	    --endless EHLO
	hostile_case "garbage after the STARTTLS 220" \
	    "$relay \((localhost\[127\.0\.0\.1\]:[0-9]+ sent data after the STARTTLS reply; aborting|TLS handshake with localhost\[127\.0\.0\.1\]:[0-9]+ failed)" \
	    --raw 'STARTTLS=220 2.0.0 go ahead\r\n\x16\x03\x01\x00\x05garbage{5000*G}\r\n'
	# CVE-2011-0411: a plaintext EHLO reply sent with the 220, to be
	# read as if it came through TLS; the bytes arrive in the read that
	# holds the 220, so the verdict is always the same
	hostile_case "reply injected after the STARTTLS 220" \
	    "$relay \(localhost\[127\.0\.0\.1\]:[0-9]+ sent data after the STARTTLS reply; aborting\)" \
	    --raw 'STARTTLS=220 2.0.0 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n'
	check "hostile reply injected after the STARTTLS 220: no AUTH sent" \
	    sh -c "! grep -q '^C: AUTH' '$T/transcript'"
	HOSTILE_BIG=1 hostile_case "TLS alert in the middle of DATA" \
	    "$relay \(lost connection with localhost\[127\.0\.0\.1\]:[0-9]+\)" \
	    --tls-alert-in-data
	hostile_case "silence after MAIL" \
	    "$relay \(timeout reading from localhost\[127\.0\.0\.1\]:[0-9]+\)" \
	    --hang-after MAIL
}

# a function, so that wait_for counts again on each poll
hostile_queue_empty() { [ "$(queue_count)" -eq 0 ]; }

# Replies split byte by byte are legal: the message must get through.
test_hostile_bytewise() {
	new_env hostile_bytewise
	start_smtpd --bytewise && write_conf "timeout_command ${HOSTILE_TIMEOUT}s" &&
	    start_daemon || { not_ok "bytewise: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit user@example.net
	check "hostile replies split byte by byte: delivered" wait_for 20 test -s "$T/mail/1.msg"
	check "hostile replies split byte by byte: queue empty" wait_for 10 hostile_queue_empty
	stop_daemon
}

# Argument injection through sendmail's argv (CVE-2016-10033, PHP mail()):
# -X names a file that sendmail never opens, and a -f value carrying a
# second option is refused, not split.  Checked against a broken build:
# with the addr_valid test of the -f value in sendmail's main removed,
# the -f case queues (exit 0).
test_argv_injection() {
	local rc
	new_env argv
	start_smtpd && write_conf && start_daemon && stop_daemon ||
	    { not_ok "argv injection: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit -X "$T/xlog" user@example.net; rc=$?
	check "argv injection: -X accepted, message queued" test $rc -eq 0
	check "argv injection: -X file never created" test ! -e "$T/xlog"
	printf 'Subject: x\n\nbody\n' | submit -f "a@example.org -X$T/xlog2" user@example.net 2>/dev/null; rc=$?
	check "argv injection: -f with a space and a second option refused (64)" test $rc -eq 64
	check "argv injection: -f injection creates no file" test ! -e "$T/xlog2"
}

test_hostile
test_hostile_bytewise
test_argv_injection
