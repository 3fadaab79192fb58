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
	check "listen-passwd: one line user:\$pbkdf2-sha256\$200000\$SALT\$KEY" \
	    grep -qxE 'app\.grafana:\$pbkdf2-sha256\$200000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}' "$T/line"
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
	lauth_file app 's3cret pass' && start_smtpd &&
	    write_conf "listen 127.0.0.1:2525" "listen_auth_file $T/users" &&
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
	check "listen auth required: ... AUTH is not offered to it in plaintext" \
	    sh -c "! grep -q '^250-AUTH' '$T/far.out' && grep -q '^503 5.5.1 Error: authentication not enabled' '$T/far.out'"
	$ns 'EHLO x\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n' > "$T/lo.out"
	check "listen auth required: loopback may send without AUTH" \
	    grep -q '^250 2.1.0 Ok' "$T/lo.out"
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_passwd
test_listen_auth_loopback
test_listen_auth_required
