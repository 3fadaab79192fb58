# Real SMTP clients through the listener (relayq smtpd) and the daemon to
# the test smarthost: curl's SMTP support, swaks, and Node's nodemailer
# (installed with npm into the test's directory when the registry
# answers; skipped otherwise).  Python's smtplib is t_listen.sh's.  Each
# message must arrive once, with its text and the client's Received
# field.  Sourced by test/check.sh.
. test/lib_listen.sh

# at the smarthost: a message with this subject, relayed through us
arrived() { grep -ls "^Subject: $1" "$T"/mail/*.msg | head -1 | grep -q .; }

test_listen_clients() {
	new_env listencl
	LPORT=$(free_port)
	start_smtpd && write_conf "listen 127.0.0.1:$LPORT" && start_listener &&
	    start_daemon || { not_ok "listen clients: set-up" "see $T"; return; }

	printf 'From: app@example.org\r\nTo: user@example.net\r\nSubject: via curl\r\n\r\nhello from curl\r\n' > "$T/curl.eml"
	if command -v curl >/dev/null; then
		as_user curl -sS --url "smtp://127.0.0.1:$LPORT/app.example.org" \
		    --mail-from app@example.org --mail-rcpt user@example.net \
		    --upload-file "$T/curl.eml" > "$T/curl.out" 2>&1
		check "listen clients: curl exits 0" test $? -eq 0
		check "listen clients: curl's message delivered" wait_for 20 arrived "via curl"
	else
		ok "listen clients: curl skipped (not installed)"
	fi

	if command -v swaks >/dev/null; then
		as_user swaks --server 127.0.0.1 --port "$LPORT" --helo swaks.example.org \
		    --from app@example.org --to user@example.net \
		    --header "Subject: via swaks" --body "hello from swaks" \
		    > "$T/swaks.out" 2>&1
		check "listen clients: swaks exits 0" test $? -eq 0
		check "listen clients: swaks's message delivered" wait_for 20 arrived "via swaks"
		check "listen clients: swaks's Received field names the client" \
		    grep -q '^Received: from swaks.example.org (\[127.0.0.1\])' $(grep -l '^Subject: via swaks' "$T"/mail/*.msg)
	else
		ok "listen clients: swaks skipped (not installed)"
	fi

	if command -v node >/dev/null && command -v npm >/dev/null &&
	    (cd "$T" && timeout 120 npm install --no-audit --no-fund --silent nodemailer >/dev/null 2>&1); then
		cat > "$T/send.js" <<'EOJ'
const nodemailer = require("nodemailer");
const t = nodemailer.createTransport({ host: "127.0.0.1",
    port: Number(process.argv[2]), secure: false, ignoreTLS: true,
    name: "node.example.org" });
t.sendMail({ from: "app@example.org", to: "user@example.net",
    subject: "via nodemailer", text: "hello from node",
    dsn: { notify: ["failure"], ret: "headers", id: "node-1" } })
  .then(i => { console.log(i.response); })
  .catch(e => { console.error(e.message); process.exit(1); });
EOJ
		chmod -R a+rX "$T/node_modules"
		(cd "$T" && as_user node send.js "$LPORT") > "$T/node.out" 2>&1
		check "listen clients: nodemailer gets 250 queued" grep -q '^250 2.0.0 Ok: queued as' "$T/node.out"
		check "listen clients: nodemailer's message delivered" wait_for 20 arrived "via nodemailer"
	else
		ok "listen clients: nodemailer skipped (no node, npm or registry)"
	fi
	check "listen clients: each message once, nothing else" \
	    test "$(mail_count)" -eq "$(ls "$T"/*.out | wc -l)"
	stop_daemon
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_clients
