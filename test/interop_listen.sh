# interop_listen.sh - real SMTP clients through relayq's listener (relayq
# smtpd) and relayq drain to the private Postfix.  Sourced by
# test/interop.sh after its set-up: uses its helpers (setup_relayq,
# start_relayq, sink_file, maillog_*), $D, $P1 and $UNPRIV.
#
# Python's smtplib, curl, swaks and Node's nodemailer (from the npm registry
# into $D) each send one message with a token of their own to the
# listener on 127.0.0.1; each must reach Postfix's sink exactly once, with
# the envelope the client gave, the client's Received field from relayq,
# and Postfix's SASL-authenticated Received field above it.

name=listen
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
pick_port || bail "$name: free port" "none found"
LPORT=$PORT
echo "listen 127.0.0.1:$LPORT" >>"$D/rq-$name/relayq.conf"

# listener_up: relayq smtpd answers on $LPORT
listener_up() {
	/usr/bin/python3 -c 'import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=5); s.quit()' "$LPORT" 2>/dev/null
}

# start_listener NAME [WHAT]: relayq drain -f and relayq smtpd for
# scenario NAME, the latter answering on $LPORT.  Returns 1 when the
# daemon did not start, 2 when the listener does not answer (stop both
# with stop_listener), 0 when both run.
start_listener() {
	local dir=$D/rq-$1
	if ! start_relayq "$1"; then
		not_ok "$1: relayq drain -f starts" \
		    "exited: $(tail -n 5 "$dir/daemon.out" | tr '\n' ' ')"
		return 1
	fi
	(cd "$dir" && exec "${UNPRIV[@]}" "$RELAYQ" -C "$dir/relayq.conf" \
	    smtpd) </dev/null >"$dir/smtpd.out" 2>&1 &
	echo $! >"$RUN/$1-smtpd.pid"
	if ! wait_for 10 listener_up; then
		not_ok "$1: relayq smtpd ${2:+$2 }answers on 127.0.0.1:$LPORT" \
		    "$(tail -n 5 "$dir/smtpd.out" | tr '\n' ' ')"
		return 2
	fi
	ok "$1: relayq smtpd ${2:+$2 }answers on 127.0.0.1:$LPORT"
}
# stop_listener NAME: stops what start_listener started
stop_listener() {
	stop_pid "$RUN/$1-smtpd.pid"
	stop_relayq "$1"
}

# check_arrival CLIENT TOKEN HELO: the message from CLIENT reached the sink
# once, relayed by relayq for the listener's client
check_arrival() {
	local f
	if ! wait_for "$WAIT" sent_once "$2"; then
		not_ok "$name: $1's message reached Postfix's sink once" \
		    "$(sink_holds "$2") sink files hold $2"
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

# nodemailer_install DIR: nodemailer from the npm registry into
# DIR/node_modules, with npm where there is one (NodeSource's nodejs has
# it); else as npm would fetch it, since Debian's npm package pulls in
# some 380 others and nodemailer has no dependencies: the registry's
# metadata, the tarball it names, checked against its sha512 integrity
nodemailer_install() {
	if command -v npm >/dev/null; then
		(cd "$1" && timeout 180 npm install --no-audit --no-fund --silent \
		    nodemailer)
		return
	fi
	curl -fsS --max-time 60 -o "$1/meta.json" \
	    https://registry.npmjs.org/nodemailer/latest &&
	/usr/bin/python3 - "$1" <<'EOP'
import base64, hashlib, io, json, os, sys, tarfile, urllib.request
d = sys.argv[1]
dist = json.load(open(d + "/meta.json"))["dist"]
data = urllib.request.urlopen(dist["tarball"], timeout=120).read()
algo, want = dist["integrity"].split("-", 1)
if algo != "sha512" or base64.b64encode(hashlib.sha512(data).digest()).decode() != want:
    sys.exit("nodemailer tarball: integrity mismatch")
# package/PATH -> node_modules/nodemailer/PATH, regular files only
top = os.path.join(d, "node_modules", "nodemailer")
with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
    for m in t.getmembers():
        parts = m.name.split("/")[1:]
        if not m.isfile() or not parts or ".." in parts or m.name.startswith("/"):
            continue
        path = os.path.join(top, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(t.extractfile(m).read())
EOP
}

start_listener "$name"
lrc=$?
if [ $lrc -eq 0 ]; then
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
	rc=$?
	check "$name: Python smtplib sends" \
	    "$(tr '\n' ' ' <"$D/rq-$name/python.out")" test $rc -eq 0
	check_arrival "Python smtplib" "$tok" python.example.org

	tok=$(openssl rand -hex 8)
	printf 'From: app@example.org\r\nTo: rcpt-curl@example.org\r\nSubject: relayq listener curl %s\r\n\r\nhello from curl %s\r\n' \
	    "$tok" "$tok" >"$D/curl.eml"
	curl -sS --url "smtp://127.0.0.1:$LPORT/curl.example.org" \
	    --mail-from app@example.org --mail-rcpt rcpt-curl@example.org \
	    --upload-file "$D/curl.eml" >"$D/rq-$name/curl.out" 2>&1
	rc=$?
	check "$name: curl sends" "$(tr '\n' ' ' <"$D/rq-$name/curl.out")" \
	    test $rc -eq 0
	check_arrival curl "$tok" curl.example.org

	tok=$(openssl rand -hex 8)
	swaks --server 127.0.0.1 --port "$LPORT" --helo swaks.example.org \
	    --from app@example.org --to rcpt-swaks@example.org \
	    --header "Subject: relayq listener swaks $tok" \
	    --body "hello from swaks $tok" >"$D/rq-$name/swaks.out" 2>&1
	rc=$?
	check "$name: swaks sends" "$(tail -n 3 "$D/rq-$name/swaks.out" | tr '\n' ' ')" \
	    test $rc -eq 0
	check_arrival swaks "$tok" swaks.example.org

	# nodemailer from the npm registry, with DSN parameters
	tok=$(openssl rand -hex 8)
	mkdir -p "$D/node"
	if ! nodemailer_install "$D/node" >"$D/rq-$name/npm.out" 2>&1; then
		not_ok "$name: nodemailer from the npm registry" \
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
[ $lrc -ne 1 ] && stop_listener "$name"

# --- STARTTLS and AUTH: the same clients, authenticated over TLS ----------
# A second listener with listen_tls_cert/listen_tls_key (the server
# certificate for localhost/127.0.0.1 that Postfix uses) and a
# listen_auth_file made with relayq listen-passwd: each client does
# STARTTLS, verifies the certificate against the test CA, logs in and
# sends; relayq's Received field must say ESMTPSA.  A wrong password gets
# 535 and queues nothing.

name=listen-auth
dir=$D/rq-$name
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
pick_port || bail "$name: free port" "none found"
LPORT=$PORT
LUSER=app
LPW=$(openssl rand -hex 10)
cp "$D/tls/server.pem" "$dir/listen-cert.pem"
cp "$D/tls/server.key" "$dir/listen-key.pem"
printf '%s\n' "$LPW" | "$RELAYQ" -C "$dir/relayq.conf" listen-passwd "$LUSER" >"$dir/users" 2>"$dir/passwd.err"
check "$name: relayq listen-passwd makes the user's line" \
    "$(cat "$dir/passwd.err")" grep -q "^$LUSER:\\\$pbkdf2-sha256\\\$" "$dir/users"
chmod 600 "$dir/users" "$dir/listen-key.pem"
[ $ROOT -eq 1 ] && chown "$RUN_UID:$RUN_GID" "$dir/users" "$dir/listen-cert.pem" "$dir/listen-key.pem"
cat >>"$dir/relayq.conf" <<EOF
listen 127.0.0.1:$LPORT
listen_tls_cert $dir/listen-cert.pem
listen_tls_key $dir/listen-key.pem
listen_auth_file $dir/users
EOF

# check_esmtpsa CLIENT TOKEN: relayq's own Received field says ESMTPSA
check_esmtpsa() {
	local f
	f=$(sink_file "$2")
	check "$name: $1's message has relayq's Received field with ESMTPSA" \
	    "$([ -n "$f" ] && "${PRIV[@]}" grep -A1 '^Received: from' "$f" | tr '\n' ' ')" \
	    eval "[ -n '$f' ] && ${PRIV[*]} grep -qE '^.by .* \(relayq\) with ESMTPSA id ' '$f'"
}

start_listener "$name" "with STARTTLS and AUTH"
lrc=$?
if [ $lrc -eq 0 ]; then
	# Python: STARTTLS verified against the test CA, then LOGIN
	tok=$(openssl rand -hex 8)
	/usr/bin/python3 - "$LPORT" "$tok" "$D/tls/ca.pem" "$LUSER" "$LPW" \
	    >"$dir/python.out" 2>&1 <<'EOP'
import smtplib, ssl, sys
from email.message import EmailMessage
port, tok, ca, user, pw = sys.argv[1:6]
m = EmailMessage()
m["From"] = "App <app@example.org>"
m["To"] = "rcpt-tls-python@example.org"
m["Subject"] = "relayq listener tls python " + tok
m.set_content("hello over TLS from smtplib " + tok + "\n")
with smtplib.SMTP("127.0.0.1", int(port), local_hostname="python.example.org", timeout=30) as s:
    s.starttls(context=ssl.create_default_context(cafile=ca))
    s.login(user, pw)
    s.send_message(m)
EOP
	rc=$?
	check "$name: Python smtplib sends with starttls() and login()" \
	    "$(tr '\n' ' ' <"$dir/python.out")" test $rc -eq 0
	check_arrival "Python smtplib" "$tok" python.example.org
	check_esmtpsa "Python smtplib" "$tok"

	tok=$(openssl rand -hex 8)
	printf 'From: app@example.org\r\nTo: rcpt-tls-curl@example.org\r\nSubject: relayq listener tls curl %s\r\n\r\nhello over TLS from curl %s\r\n' \
	    "$tok" "$tok" >"$D/curl-tls.eml"
	curl -sS --url "smtp://127.0.0.1:$LPORT/curl.example.org" \
	    --ssl-reqd --cacert "$D/tls/ca.pem" --user "$LUSER:$LPW" \
	    --mail-from app@example.org --mail-rcpt rcpt-tls-curl@example.org \
	    --upload-file "$D/curl-tls.eml" >"$dir/curl.out" 2>&1
	rc=$?
	check "$name: curl sends with --ssl-reqd --user" \
	    "$(tr '\n' ' ' <"$dir/curl.out")" test $rc -eq 0
	check_arrival curl "$tok" curl.example.org
	check_esmtpsa curl "$tok"

	tok=$(openssl rand -hex 8)
	swaks --server 127.0.0.1 --port "$LPORT" --helo swaks.example.org \
	    --tls --tls-verify --tls-ca-path "$D/tls/ca.pem" \
	    --auth LOGIN --auth-user "$LUSER" --auth-password "$LPW" \
	    --from app@example.org --to rcpt-tls-swaks@example.org \
	    --header "Subject: relayq listener tls swaks $tok" \
	    --body "hello over TLS from swaks $tok" >"$dir/swaks.out" 2>&1
	rc=$?
	check "$name: swaks sends with --tls --auth LOGIN" \
	    "$(grep -E '^(<~?|\*\*\*)' "$dir/swaks.out" | tail -n 3 | tr '\n' ' ')" \
	    test $rc -eq 0
	check_arrival swaks "$tok" swaks.example.org
	check_esmtpsa swaks "$tok"

	if [ -f "$D/node/node_modules/nodemailer/package.json" ]; then
		tok=$(openssl rand -hex 8)
		cat >"$D/node/send-tls.js" <<'EOJ'
const fs = require("fs");
const nodemailer = require("nodemailer");
const [port, tok, ca, user, pass] = process.argv.slice(2);
const t = nodemailer.createTransport({ host: "127.0.0.1",
    port: Number(port), secure: false, requireTLS: true,
    tls: { ca: [fs.readFileSync(ca)] }, auth: { user, pass },
    name: "node.example.org" });
t.sendMail({ from: "app@example.org", to: "rcpt-tls-node@example.org",
    subject: "relayq listener tls nodemailer " + tok,
    text: "hello over TLS from nodemailer " + tok + "\n" })
  .then(i => { console.log(i.response); })
  .catch(e => { console.error(e.message); process.exit(1); });
EOJ
		(cd "$D/node" && node send-tls.js "$LPORT" "$tok" "$D/tls/ca.pem" \
		    "$LUSER" "$LPW") >"$dir/node.out" 2>&1
		check "$name: nodemailer (requireTLS, auth) gets 250 queued" \
		    "$(tr '\n' ' ' <"$dir/node.out")" \
		    grep -q '^250 2\.0\.0 Ok: queued as' "$dir/node.out"
		check_arrival nodemailer "$tok" node.example.org
		check_esmtpsa nodemailer "$tok"
	else
		not_ok "$name: nodemailer" "not installed by the first part"
	fi

	for rcpt in python curl swaks node; do
		check "$name: relayq logged status=sent for rcpt-tls-$rcpt" \
		    "$(relayq_log "$name" | grep "rcpt-tls-$rcpt" | tail -n 1)" \
		    relayq_logged "$name" "to=<rcpt-tls-$rcpt@example\.org>, relay=localhost\[127\.0\.0\.1\]:$P1, .*status=sent"
	done
	check "$name: the listener logged each message with auth=$LUSER" \
	    "$(relayq_log "$name" | grep -c "client=\[127\.0\.0\.1\] auth=$LUSER\$") lines" \
	    test "$(relayq_log "$name" | grep -c "client=\[127\.0\.0\.1\] auth=$LUSER\$")" -eq 4

	# a wrong password: 535, and nothing queued (a loopback client
	# may still send without AUTH: this one gives up, as clients do)
	tok=$(openssl rand -hex 8)
	nsent=$(relayq_log "$name" | grep -c 'status=sent')
	/usr/bin/python3 - "$LPORT" "$tok" "$D/tls/ca.pem" "$LUSER" >"$dir/badpw.out" 2>&1 <<'EOP'
import smtplib, ssl, sys
port, tok, ca, user = sys.argv[1:5]
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    s.starttls(context=ssl.create_default_context(cafile=ca))
    try:
        s.login(user, "wrong-" + tok)
        print("login accepted")
    except smtplib.SMTPAuthenticationError as e:
        print(e.smtp_code, e.smtp_error.decode())
EOP
	check "$name: a wrong password gets 535 5.7.8" \
	    "$(tr '\n' ' ' <"$dir/badpw.out")" grep -q '^535 5\.7\.8' "$dir/badpw.out"
	check "$name: the listener logged the failure with the client and user" \
	    "$(relayq_log "$name" | grep -i 'auth' | tail -n 2 | tr '\n' ' ')" \
	    relayq_logged "$name" "client=\[127\.0\.0\.1\]: AUTH (PLAIN|LOGIN) failed for user \"$LUSER\": 535"
	check "$name: nothing queued after the wrong password" \
	    "drop: $(spool_count "$name" drop), queue: $(spool_count "$name" queue), sent $(relayq_log "$name" | grep -c 'status=sent') (was $nsent)" \
	    eval "spool_empty '$name' && [ \$(relayq_log '$name' | grep -c 'status=sent') -eq $nsent ] && [ \$(sink_holds '$tok') -eq 0 ]"
fi
[ $lrc -ne 1 ] && stop_listener "$name"
