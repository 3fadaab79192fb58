# The listener's AUTH (listen_auth_file) and STARTTLS
# (listen_tls_cert/listen_tls_key): relayq listen-passwd makes the
# file's lines; clients authenticate with PLAIN or LOGIN; a bad password
# gets 535 and a log line with the client; AUTH is never offered in
# plaintext off loopback.  Sourced by test/check.sh.
. test/lib_listen.sh

test_listen_passwd() {
	new_env lpasswd
	printf 's3cret pass\n' | "$TOP/relayq" listen-passwd app.grafana > "$T/line" 2> "$T/err"
	check "listen-passwd: exit 0" test $? -eq 0
	check "listen-passwd: one line user:\$pbkdf2-sha256\$100000\$SALT\$KEY" \
	    grep -qxE 'app\.grafana:\$pbkdf2-sha256\$100000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}' "$T/line"
	check "listen-passwd: ... verifiable by another implementation" \
	    /usr/bin/python3 -c '
import base64, hashlib, sys
user, h = open(sys.argv[1]).read().strip().split(":", 1)
_, scheme, rounds, salt, key = h.split("$")
k = hashlib.pbkdf2_hmac("sha256", b"s3cret pass", base64.b64decode(salt), int(rounds))
sys.exit(0 if k == base64.b64decode(key) else 1)' "$T/line"
	printf '' | "$TOP/relayq" listen-passwd app > "$T/out" 2> "$T/err"
	check "listen-passwd: no password: exit 65 and why" \
	    sh -c "[ $? -eq 65 ] && grep -q 'no password on standard input' '$T/err' && ! grep -q . '$T/out'"
	printf 'x\n' | "$TOP/relayq" listen-passwd 'a:b' > "$T/out" 2> "$T/err"
	check "listen-passwd: a name with a colon is refused" \
	    sh -c "[ $? -ne 0 ] && grep -q 'bad user name' '$T/err'"
}

# lauth_file USER PASSWORD: $T/users with that user, for the listener
lauth_file() {
	printf '%s\n' "$2" | "$TOP/relayq" listen-passwd "$1" > "$T/users" &&
	    chmod 600 "$T/users" && chown $RUNUID:$RUNGID "$T/users"
}

# swaks_to PORT [swaks options]: one message through the listener
swaks_to() {
	local port=$1
	shift
	swaks --server 127.0.0.1:$port --from app@example.org \
	    --to user@example.net --helo app.example.org \
	    --header "Subject: via swaks" --body "hello" "$@"
}

test_listen_auth_loopback() {
	new_env lauth
	LPORT=$(free_port)
	lauth_file app 's3cret pass' && start_smtpd &&
	    write_conf "listen 127.0.0.1:$LPORT" "listen_auth_file $T/users" &&
	    start_listener || { not_ok "listen auth: set-up" "see $T"; return; }
	raw "$LPORT" 'EHLO x\r\nQUIT\r\n' > "$T/ehlo.out"
	check "listen auth: loopback is offered AUTH PLAIN LOGIN before TLS" \
	    grep -q '^250-AUTH PLAIN LOGIN' "$T/ehlo.out"
	check "listen auth: no STARTTLS without a certificate" \
	    sh -c "! grep -q STARTTLS '$T/ehlo.out'"
	swaks_to "$LPORT" --auth PLAIN --auth-user app \
	    --auth-password 's3cret pass' > "$T/plain.out" 2>&1
	check "listen auth: AUTH PLAIN with the right password: 235, queued" \
	    sh -c "grep -q '235 2.7.0 Authentication successful' '$T/plain.out' &&
	    grep -q '250 2.0.0 Ok: queued as' '$T/plain.out' && [ \$(ls '$T/spool/drop' | wc -l) -eq 1 ]"
	check "listen auth: the message's log line names the user" \
	    log_has ': uid=[0-9]+ from=<app@example.org> size=[0-9]+ nrcpt=1 client=\[127.0.0.1\] auth=app$'
	local f
	f=$(ls "$T/spool/drop"/* 2>/dev/null | head -1)
	check "listen auth: Received says ESMTPA (RFC 3848)" \
	    grep -q $'^\tby .* (relayq) with ESMTPA id ' "$f"
	swaks_to "$LPORT" --auth LOGIN --auth-user app \
	    --auth-password 's3cret pass' > "$T/login.out" 2>&1
	check "listen auth: AUTH LOGIN with the right password: 235, queued" \
	    sh -c "grep -q '235 2.7.0' '$T/login.out' && grep -q '250 2.0.0 Ok: queued as' '$T/login.out'"
	swaks_to "$LPORT" --auth PLAIN --auth-user app \
	    --auth-password 's3cret pasS' > "$T/bad.out" 2>&1
	check "listen auth: a wrong password gets 535 5.7.8, nothing queued" \
	    sh -c "grep -q '535 5.7.8 Error: authentication failed' '$T/bad.out' &&
	    ! grep -q 'queued as' '$T/bad.out'"
	check "listen auth: the failure is logged with the client and user" \
	    log_has 'smtpd: client=\[127.0.0.1\]: AUTH PLAIN failed for user "app": 535'
	swaks_to "$LPORT" --auth PLAIN --auth-user nobody \
	    --auth-password 's3cret pass' > "$T/nouser.out" 2>&1
	check "listen auth: an unknown user gets the same 535" \
	    grep -q '535 5.7.8 Error: authentication failed' "$T/nouser.out"
	# AUTH PLAIN, base64 of "\0app\0wrong", three times
	raw "$LPORT" 'EHLO x\r\nAUTH PLAIN AGFwcAB3cm9uZw==\r\nAUTH PLAIN AGFwcAB3cm9uZw==\r\nAUTH PLAIN AGFwcAB3cm9uZw==\r\nNOOP\r\n' > "$T/three.out"
	check "listen auth: the third failure ends the session with 421" \
	    sh -c "[ \$(grep -c '^535 ' '$T/three.out') -eq 3 ] &&
	    grep -q '^421 4.7.0 .* too many failed authentications' '$T/three.out' &&
	    ! grep -q '^250 2.0.0 Ok' '$T/three.out'"
	swaks_to "$LPORT" > "$T/noauth.out" 2>&1
	check "listen auth: loopback may still send without AUTH" \
	    grep -q '250 2.0.0 Ok: queued as' "$T/noauth.out"
	raw "$LPORT" 'EHLO x\r\nAUTH CRAM-MD5\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN !!!!\r\nQUIT\r\n' > "$T/odd.out"
	check "listen auth: an unknown mechanism 504, a cancelled one 501, bad base64 501" \
	    sh -c "grep -q '^504 5.5.4 ' '$T/odd.out' && grep -q '^334 ' '$T/odd.out' &&
	    grep -q '^501 5.7.0 Authentication aborted' '$T/odd.out' &&
	    grep -q '^501 5.5.2 Cannot decode' '$T/odd.out'"
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

# A client neither on loopback nor in listen_allow: let in only to
# authenticate; MAIL first gets 530.  The listener listens on loopback in
# a network namespace with 192.0.2.10 on its lo device: a client from
# that address reaches 127.0.0.1 and is not loopback (root only).
test_listen_auth_required() {
	if [ "$(id -u)" != 0 ] || ! unshare --net true 2>/dev/null; then
		ok "listen auth required: skipped (needs root and network namespaces)"
		return
	fi
	new_env lauthreq
	lauth_file app 's3cret pass' && ltls_files && start_smtpd &&
	    write_conf "listen 127.0.0.1:2525" "listen_auth_file $T/users" \
	    "listen_tls_cert $T/cert.pem" "listen_tls_key $T/key.pem" &&
	    start_daemon && stop_daemon ||
	    { not_ok "listen auth required: set-up" "see $T"; return; }
	unshare --net sh -c 'ip link set lo up &&
	    ip addr add 192.0.2.10/32 dev lo && exec "$@"' sh "${AS_USER[@]}" \
	    "$TOP/relayq" -C "$T/conf" smtpd 2>>"$T/smtpd-listen.err" &
	echo $! > "$T/listen.pid"
	wait_for 10 log_has 'smtpd: started' ||
	    { not_ok "listen auth required: listener" "$(cat "$T/smtpd-listen.err")"; stop_pid "$T/listen.pid"; return; }
	local ns="nsenter --net=/proc/$(cat "$T/listen.pid")/ns/net /usr/bin/python3 $TOP/test/smtpraw.py 2525"
	$ns 'EHLO x\r\nMAIL FROM:<a@example.org>\r\nAUTH PLAIN AGFwcABzM2NyZXQgcGFzcw==\r\nQUIT\r\n' --src 192.0.2.10 > "$T/far.out"
	check "listen auth required: a client outside listen_allow is let in (220)" \
	    grep -q '^220 ' "$T/far.out"
	check "listen auth required: ... MAIL before AUTH gets 530 5.7.0" \
	    grep -q '^530 5.7.0 Authentication required' "$T/far.out"
	check "listen auth required: ... AUTH is not offered to it before STARTTLS" \
	    sh -c "! grep -q '^250-AUTH' '$T/far.out' && grep -q '^250-STARTTLS' '$T/far.out' &&
	    grep -q '^503 5.5.1 Error: authentication not enabled' '$T/far.out'"
	nsenter --net=/proc/$(cat "$T/listen.pid")/ns/net "${AS_USER[@]}" \
	    /usr/bin/python3 "$WORK/starttls.py" 2525 app 's3cret pass' 192.0.2.10 \
	    "$CERTS/ca.pem" > "$T/fartls.out" 2>&1
	check "listen auth required: ... STARTTLS offered to it, then AUTH, then it sends" \
	    sh -c "grep '^before:' '$T/fartls.out' | grep -q STARTTLS &&
	    grep '^after:' '$T/fartls.out' | grep -q 'AUTH PLAIN LOGIN' && grep -qx sent '$T/fartls.out'"
	check "listen auth required: ... its message logged with its address and user" \
	    log_has 'nrcpt=1 client=\[192.0.2.10\] auth=app$'
	$ns 'EHLO x\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n' > "$T/lo.out"
	check "listen auth required: loopback may send without AUTH" \
	    grep -q '^250 2.1.0 Ok' "$T/lo.out"
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

# ltls_files: the test certificate and key for the listener, the key
# readable by the listener's user alone
ltls_files() {
	cp "$CERTS/server.pem" "$T/cert.pem" && cp "$CERTS/server.key" "$T/key.pem" &&
	    chmod 600 "$T/key.pem" && chown $RUNUID:$RUNGID "$T/cert.pem" "$T/key.pem"
}

# starttls.py PORT USER PASSWORD [SRC]: smtplib over STARTTLS, verifying
# the certificate against the test CA; the EHLO lists before and after
cat > "$WORK/starttls.py" <<'PY'
import smtplib, ssl, sys
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
src = (sys.argv[4], 0) if len(sys.argv) > 4 else None
ctx = ssl.create_default_context(cafile=sys.argv[5] if len(sys.argv) > 5 else None)
s = smtplib.SMTP("localhost", port, local_hostname="app.example.org", source_address=src)
print("before:", s.ehlo()[1].decode().replace("\n", " "))
s.starttls(context=ctx)
print("after:", s.ehlo()[1].decode().replace("\n", " "))
print("tls:", s.sock.version())
s.login(user, pw)
s.sendmail("app@example.org", ["user@example.net"], b"Subject: via smtplib over TLS\r\n\r\nhello\r\n")
s.quit()
print("sent")
PY

# inject.py PORT: the STARTTLS command injection (CVE-2011-0411):
# commands pipelined behind STARTTLS in plaintext must not run inside TLS
cat > "$WORK/inject.py" <<'PY'
import socket, ssl, sys
port = int(sys.argv[1])
c = socket.create_connection(("127.0.0.1", port), timeout=10)
f = c.makefile("rb")
def reply(f):
    out = []
    while True:
        l = f.readline().decode()
        out.append(l.strip())
        if len(l) < 4 or l[3] != "-":
            return out
print(reply(f))
c.sendall(b"EHLO x\r\n"); print(reply(f))
c.sendall(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n")
print(reply(f))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(c, server_hostname="localhost")
g = t.makefile("rb")
t.sendall(b"EHLO y\r\n"); print("tls-ehlo", reply(g))
t.sendall(b"MAIL FROM:<good@example.org>\r\n"); print("tls-mail", reply(g))
t.sendall(b"QUIT\r\n"); print("tls-quit", reply(g))
PY

# nohello.py PORT: STARTTLS, then plaintext instead of a TLS hello
cat > "$WORK/nohello.py" <<'PY'
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = c.makefile("rb")
f.readline()
c.sendall(b"EHLO x\r\n")
while f.readline()[3:4] == b"-":
    pass
c.sendall(b"STARTTLS\r\n")
print(f.readline().decode().strip())
c.sendall(b"this is no TLS hello\r\n\r\n")
print("end:", f.read())
PY

test_listen_starttls() {
	new_env ltls
	LPORT=$(free_port)
	lauth_file app 's3cret pass' && ltls_files && start_smtpd &&
	    write_conf "listen 127.0.0.1:$LPORT" "listen_auth_file $T/users" \
	    "listen_tls_cert $T/cert.pem" "listen_tls_key $T/key.pem" &&
	    start_listener || { not_ok "listen STARTTLS: set-up" "see $T"; return; }
	swaks_to "$LPORT" --tls --auth PLAIN --auth-user app \
	    --auth-password 's3cret pass' > "$T/swaks.out" 2>&1
	check "listen STARTTLS: swaks --tls with AUTH: queued" \
	    sh -c "grep -q 'TLS started' '$T/swaks.out' && grep -q '<~  250 2.0.0 Ok: queued as' '$T/swaks.out'"
	local f
	f=$(ls "$T/spool/drop"/* 2>/dev/null | head -1)
	check "listen STARTTLS: Received says ESMTPSA" \
	    grep -q $'^\tby .* (relayq) with ESMTPSA id ' "$f"
	check "listen STARTTLS: the helper logs the TLS version and cipher" \
	    log_has 'smtpd: client=\[127.0.0.1\]: STARTTLS: TLSv1\.[23] '
	as_user /usr/bin/python3 "$WORK/starttls.py" "$LPORT" app 's3cret pass' "" "$CERTS/ca.pem" > "$T/py.out" 2>&1
	check "listen STARTTLS: smtplib, certificate verified, login, sent" \
	    grep -qx sent "$T/py.out"
	check "listen STARTTLS: after TLS, EHLO offers no STARTTLS" \
	    sh -c "grep '^before:' '$T/py.out' | grep -q STARTTLS && ! grep '^after:' '$T/py.out' | grep -q STARTTLS"
	printf 'Subject: via curl\r\n\r\nhello\r\n' > "$T/curl.msg"
	curl -sS --ssl-reqd --cacert "$CERTS/ca.pem" "smtp://localhost:$LPORT" \
	    --user 'app:s3cret pass' --mail-from app@example.org \
	    --mail-rcpt curl@example.net --upload-file "$T/curl.msg" > "$T/curl.out" 2>&1
	check "listen STARTTLS: curl --ssl-reqd with AUTH: exit 0" test $? -eq 0
	local n=3
	if command -v node >/dev/null && command -v npm >/dev/null &&
	    (cd "$T" && timeout 120 npm install --no-audit --no-fund --silent nodemailer >/dev/null 2>&1); then
		cat > "$T/send.js" <<'EOJ'
const fs = require("fs");
const nodemailer = require("nodemailer");
const t = nodemailer.createTransport({ host: "localhost",
    port: Number(process.argv[2]), secure: false, requireTLS: true,
    tls: { ca: fs.readFileSync(process.argv[3]) },
    auth: { user: "app", pass: "s3cret pass" }, name: "node.example.org" });
t.sendMail({ from: "app@example.org", to: "user@example.net",
    subject: "via nodemailer over TLS", text: "hello from node" })
  .then(i => { console.log(i.response); })
  .catch(e => { console.error(e.message); process.exit(1); });
EOJ
		chmod -R a+rX "$T/node_modules"
		(cd "$T" && as_user node send.js "$LPORT" "$CERTS/ca.pem") > "$T/node.out" 2>&1
		check "listen STARTTLS: nodemailer with requireTLS and AUTH: 250 queued" \
		    grep -q '^250 2.0.0 Ok: queued as' "$T/node.out"
		n=4
	else
		ok "listen STARTTLS: nodemailer skipped (no node, npm or registry)"
	fi
	check "listen STARTTLS: $n messages queued" test "$(drop_count)" -eq $n
	start_daemon
	check "listen STARTTLS: they arrive at the smarthost" wait_for 15 sh -c "[ \$(ls '$T/mail' | grep -c '\.msg\$') -ge $n ]"
	check "listen STARTTLS: curl's among them" wait_for 5 sh -c "grep -q 'Subject: via curl' '$T/mail'/*.msg"
	stop_daemon
	as_user /usr/bin/python3 "$WORK/inject.py" "$LPORT" > "$T/inject.out" 2>&1
	check "listen STARTTLS: commands pipelined behind STARTTLS are not run (CVE-2011-0411)" \
	    sh -c "grep -q \"tls-ehlo \['250-\" '$T/inject.out' &&
	    grep -q \"tls-mail \['250 2.1.0 Ok'\]\" '$T/inject.out' &&
	    grep -q \"tls-quit \['221 \" '$T/inject.out' && ! grep -q '503' '$T/inject.out'"
	/usr/bin/python3 "$WORK/nohello.py" "$LPORT" > "$T/nohello.out" 2>&1
	check "listen STARTTLS: the helper answers STARTTLS with 220" \
	    grep -q '^220 2.0.0 Ready to start TLS' "$T/nohello.out"
	check "listen STARTTLS: a failed handshake is logged with the client" \
	    wait_for 10 log_has 'smtpd: client=\[127.0.0.1\]: TLS handshake failed: '
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

# What the listener refuses to start with: AUTH on a socket that is not
# loopback without TLS; a TLS key others may read; half a TLS pair
test_listen_tls_config() {
	new_env ltlsconf
	LPORT=$(free_port)
	lauth_file app 'x' && ltls_files && start_smtpd &&
	    write_conf "listen *:$LPORT" "listen_auth_file $T/users" &&
	    start_daemon && stop_daemon || { not_ok "listen TLS config: set-up" "see $T"; return; }
	as_user "$TOP/relayq" -C "$T/conf" smtpd > "$T/out" 2>&1
	check "listen TLS config: AUTH on a non-loopback address without TLS: exit 78" test $? -eq 78
	check "listen TLS config: ... and why" \
	    grep -q "listen_auth_file on \[0.0.0.0\]:$LPORT, which is not loopback: AUTH would send passwords in the clear" "$T/out"
	write_conf "listen 127.0.0.1:$LPORT" "listen_tls_cert $T/cert.pem" "listen_tls_key $T/key.pem"
	chmod 644 "$T/key.pem"
	as_user "$TOP/relayq" -C "$T/conf" smtpd > "$T/out" 2>&1
	check "listen TLS config: a key others may read is refused" \
	    sh -c "[ $? -eq 78 ] && grep -q 'listen_tls_key $T/key.pem is readable by others' '$T/out'"
	write_conf "listen 127.0.0.1:$LPORT" "listen_tls_cert $T/cert.pem"
	as_user "$TOP/relayq" -C "$T/conf" smtpd > "$T/out" 2>&1
	check "listen TLS config: a certificate without its key is refused" \
	    sh -c "[ $? -eq 78 ] && grep -q 'listen_tls_cert and listen_tls_key go together' '$T/out'"
	stop_pid "$T/smtpd.pid"
}

test_listen_passwd
test_listen_auth_loopback
test_listen_auth_required
test_listen_starttls
test_listen_tls_config
