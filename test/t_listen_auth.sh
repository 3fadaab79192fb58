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

test_listen_passwd
