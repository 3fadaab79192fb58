# interop_listen.sh - real SMTP clients through relayq's listener (relayq
# smtpd) and relayq drain to the private Postfix.  Sourced by
# test/interop.sh after its set-up: uses its helpers (setup_relayq,
# start_relayq, sink_file, maillog_*), $D, $P1 and $UNPRIV.
#
# Python's smtplib, curl, swaks and Node's nodemailer (installed with npm
# into $D) each send one message with a token of their own to the
# listener on 127.0.0.1; each must reach Postfix's sink exactly once, with
# the envelope the client gave, the client's Received field from relayq,
# and Postfix's SASL-authenticated Received field above it.

name=listen
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
LPORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "listen 127.0.0.1:$LPORT" >>"$D/rq-$name/relayq.conf"

# listener_up: relayq smtpd answers on $LPORT
listener_up() {
	/usr/bin/python3 -c 'import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=5); s.quit()' "$LPORT" 2>/dev/null
}

# check_arrival CLIENT TOKEN HELO: the message from CLIENT reached the sink
# once, relayed by relayq for the listener's client
check_arrival() {
	local f
	if ! wait_for "$WAIT" sent_once "$2"; then
		not_ok "$name: $1's message reached Postfix's sink once" \
		    "$(sink_count "$2") sink files hold $2"
		return
	fi
	ok "$name: $1's message reached Postfix's sink once"
	f=$(sink_file "$2")
	check "$name: $1's message has relayq's Received field naming the client" \
	    "$("${PRIV[@]}" grep -m 3 '^Received:' "$f" | tr '\n' ' ')" \
	    "${PRIV[@]}" grep -qE "^Received: from $3 \(\[127\.0\.0\.1\]\)" "$f"
	check "$name: $1's message was relayed with SASL by Postfix" \
	    "$("${PRIV[@]}" grep -m 1 '^Received:' "$f")" \
	    "${PRIV[@]}" grep -qE "with ESMTPSA id" "$f"
}

if ! start_relayq "$name"; then
	not_ok "$name: relayq drain -f starts" \
	    "exited: $(tail -n 5 "$D/rq-$name/daemon.out" | tr '\n' ' ')"
else
	(cd "$D/rq-$name" && exec "${UNPRIV[@]}" "$RELAYQ" \
	    -C "$D/rq-$name/relayq.conf" smtpd) </dev/null \
	    >"$D/rq-$name/smtpd.out" 2>&1 &
	echo $! >"$RUN/listen-smtpd.pid"
	if ! wait_for 10 listener_up; then
		not_ok "$name: relayq smtpd answers on 127.0.0.1:$LPORT" \
		    "$(tail -n 5 "$D/rq-$name/smtpd.out" | tr '\n' ' ')"
	else
		ok "$name: relayq smtpd answers on 127.0.0.1:$LPORT"

		tok=$(openssl rand -hex 8)
		/usr/bin/python3 - "$LPORT" "$tok" >"$D/rq-$name/python.out" 2>&1 <<'EOP'
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "App <app@example.org>"
m["To"] = "rcpt-python@example.org"
m["Subject"] = "relayq listener python " + sys.argv[2]
m.set_content("hello from smtplib " + sys.argv[2] + "\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="python.example.org", timeout=30) as s:
    s.send_message(m)
EOP
		check "$name: Python smtplib sends" \
		    "$(tr '\n' ' ' <"$D/rq-$name/python.out")" test $? -eq 0
		check_arrival "Python smtplib" "$tok" python.example.org

		tok=$(openssl rand -hex 8)
		printf 'From: app@example.org\r\nTo: rcpt-curl@example.org\r\nSubject: relayq listener curl %s\r\n\r\nhello from curl %s\r\n' \
		    "$tok" "$tok" >"$D/curl.eml"
		curl -sS --url "smtp://127.0.0.1:$LPORT/curl.example.org" \
		    --mail-from app@example.org --mail-rcpt rcpt-curl@example.org \
		    --upload-file "$D/curl.eml" >"$D/rq-$name/curl.out" 2>&1
		check "$name: curl sends" "$(tr '\n' ' ' <"$D/rq-$name/curl.out")" \
		    test $? -eq 0
		check_arrival curl "$tok" curl.example.org

		tok=$(openssl rand -hex 8)
		swaks --server 127.0.0.1 --port "$LPORT" --helo swaks.example.org \
		    --from app@example.org --to rcpt-swaks@example.org \
		    --header "Subject: relayq listener swaks $tok" \
		    --body "hello from swaks $tok" >"$D/rq-$name/swaks.out" 2>&1
		check "$name: swaks sends" "$(tail -n 3 "$D/rq-$name/swaks.out" | tr '\n' ' ')" \
		    test $? -eq 0
		check_arrival swaks "$tok" swaks.example.org

		# nodemailer from the npm registry, with DSN parameters
		tok=$(openssl rand -hex 8)
		mkdir -p "$D/node"
		if ! (cd "$D/node" && timeout 180 npm install --no-audit --no-fund \
		    --silent nodemailer) >"$D/rq-$name/npm.out" 2>&1; then
			not_ok "$name: npm install nodemailer" \
			    "$(tail -n 3 "$D/rq-$name/npm.out" | tr '\n' ' ')"
		else
			cat >"$D/node/send.js" <<'EOJ'
const nodemailer = require("nodemailer");
const t = nodemailer.createTransport({ host: "127.0.0.1",
    port: Number(process.argv[2]), secure: false, ignoreTLS: true,
    name: "node.example.org" });
t.sendMail({ from: "app@example.org", to: "rcpt-node@example.org",
    subject: "relayq listener nodemailer " + process.argv[3],
    text: "hello from nodemailer " + process.argv[3] + "\n",
    dsn: { notify: ["failure"], ret: "headers", id: "node-" + process.argv[3] } })
  .then(i => { console.log(i.response); })
  .catch(e => { console.error(e.message); process.exit(1); });
EOJ
			(cd "$D/node" && node send.js "$LPORT" "$tok") \
			    >"$D/rq-$name/node.out" 2>&1
			check "$name: nodemailer gets 250 queued" \
			    "$(tr '\n' ' ' <"$D/rq-$name/node.out")" \
			    grep -q '^250 2\.0\.0 Ok: queued as' "$D/rq-$name/node.out"
			check_arrival nodemailer "$tok" node.example.org
		fi

		for rcpt in python curl swaks node; do
			check "$name: relayq logged status=sent for rcpt-$rcpt" \
			    "$(relayq_log "$name" | grep "rcpt-$rcpt" | tail -n 1)" \
			    relayq_logged "$name" "to=<rcpt-$rcpt@example\.org>, relay=localhost\[127\.0\.0\.1\]:$P1, tls=TLSv1\.[23]/.*status=sent"
		done
	fi
	stop_pid "$RUN/listen-smtpd.pid"
	stop_relayq "$name"
fi
