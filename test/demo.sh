#!/bin/bash
# make demo: relayq delivering one real message through the project's own
# test smarthost, over STARTTLS with AUTH, on loopback; then clean up.
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

new_env demo
start_smtpd && write_conf && start_daemon || { echo "demo: set-up failed"; exit 1; }
cat <<EOT
== relayq demo: test smarthost on 127.0.0.1:$PORT (STARTTLS, AUTH PLAIN/LOGIN,
   certificate from a test CA made just now), private spool $T/spool

== configuration ($T/conf):
$(sed 's/^/   /' "$T/conf")

== submitting with: ./sendmail -t  (as uid $RUNUID)
EOT
MSG="From: Demo <demo@example.org>
To: Admin <admin@example.net>
Subject: Hello from relayq

relayq took this message from sendmail -t, queued it, and forwarded it
over verified TLS with SMTP AUTH.
"
printf '%s' "$MSG" | sed 's/^/   | /'
printf '%s' "$MSG" | submit -t
echo "   sendmail exit status: $?"
if ! wait_for 15 test -s "$T/mail/1.env"; then
	echo "== the message did not arrive; log:"
	cat "$T/log"
	exit 1
fi
echo
echo "== relayq log:"
sed 's/^/   /' "$T/log"
echo
echo "== what the smarthost received (envelope):"
sed 's/^/   /' "$T/mail/1.env"
echo
echo "== what the smarthost received (message, CRLF shown as lines):"
tr -d '\r' < "$T/mail/1.msg" | sed 's/^/   | /'
stop_daemon
echo
echo "demo ok: delivered over TLS with AUTH; everything cleaned up."
