# TLS verification by the rules: every refusal defers with the
# exact reason, before any AUTH or MAIL; pins; address literals.
# Sourced by test/check.sh, which provides test/lib.sh.

# names under relayq.test resolve to 127.0.0.1 in the daemon
FAKEDNS=$TOP/test/fakedns.so

# SHA-256 of a certificate's SubjectPublicKeyInfo, in hex
spki_pin() {
	openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform DER |
	    sha256sum | cut -d' ' -f1
}

# tls_env NAME CERT HOST SMTPD-OPTS [conf lines...]: smarthost with
# CERT.pem, relayq pointed at HOST:PORT, one message submitted
tls_env() {
	local name=$1 cert=$2 host=$3 opts=$4
	shift 4
	new_env "tls_$(echo "$name" | tr -c 'a-z0-9\n' _)"
	CERT=$CERTS/$cert.pem KEY=$CERTS/$cert.key eval "start_smtpd $opts" &&
	    write_conf "$@" &&
	    sed -i "s/^smarthost localhost:/smarthost $host:/" "$T/conf" &&
	    start_daemon LD_PRELOAD="$FAKEDNS" || return 1
	printf 'Subject: tls\n\nbody\n' | submit user@example.net
}

no_cmd() { ! grep -qE "^C: ($1)" "$T/transcript"; }

# tls_refused NAME CERT HOST REASON-REGEX [SMTPD-OPTS [conf lines...]]
tls_refused() {
	local name=$1 cert=$2 host=$3 re=$4 opts=${5:-}
	shift 4; [ $# -gt 0 ] && shift
	tls_env "$name" "$cert" "$host" "$opts" "$@" ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	if wait_for 15 log_has "relay=none, .*status=deferred \($re\)$"; then
		ok "$name: refused with the exact reason"
	else
		not_ok "$name: refused with the exact reason" \
		    "want /$re/, log: $(grep deferred "$T/log" | tail -1)"
	fi
	check "$name: no AUTH sent" no_cmd AUTH
	check "$name: no mail sent" no_cmd 'MAIL|RCPT|DATA'
	check "$name: nothing delivered" test ! -e "$T/mail/1.msg"
	check "$name: message still queued" test "$(queue_count)" -eq 1
	stop_daemon
}

# tls_accepted NAME CERT HOST [SMTPD-OPTS [conf lines...]]
tls_accepted() {
	local name=$1 cert=$2 host=$3 opts=${4:-}
	shift 3; [ $# -gt 0 ] && shift
	tls_env "$name" "$cert" "$host" "$opts" "$@" ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	if wait_for 15 test -s "$T/mail/1.env"; then
		ok "$name: accepted and delivered"
	else
		not_ok "$name: accepted and delivered" \
		    "log: $(grep -v started "$T/log" | tail -1)"
	fi
	check "$name: AUTH after the handshake" \
	    awk '/^-- tls established/ {t=1} /^C: AUTH/ {a=1; if (!t) exit 1} END {exit !a}' "$T/transcript"
	stop_daemon
}

test_tls_verification() {
	local v='certificate verify failed for'
	tls_refused "wrong name" wrong localhost \
	    "$v localhost: name mismatch \(want localhost; certificate is for DNS:wrong\.example\)"
	tls_refused "expired" expired localhost "$v localhost: expired"
	tls_refused "not yet valid" notyet localhost "$v localhost: not yet valid"
	tls_refused "self-signed without pin" selfsigned localhost \
	    "$v localhost: not signed by a trusted CA"
	tls_accepted "wildcard, one label deep" wildcard mail.relayq.test
	tls_refused "wildcard, two labels deep" wildcard a.mail.relayq.test \
	    "$v a\.mail\.relayq\.test: name mismatch \(want a\.mail\.relayq\.test; certificate is for DNS:\*\.relayq\.test\)"
	tls_refused "wildcard does not cover the bare domain" wildcard relayq.test \
	    "$v relayq\.test: name mismatch \(want relayq\.test; certificate is for DNS:\*\.relayq\.test\)"
	tls_accepted "IP SAN for an address literal" server 127.0.0.1
	tls_refused "address literal against a DNS-ID only" dnsip 127.0.0.1 \
	    "$v 127\.0\.0\.1: name mismatch \(an address needs an IP SAN for 127\.0\.0\.1; certificate is for DNS:127\.0\.0\.1\)"
	tls_accepted "CN used when there is no SAN" cnonly localhost
	tls_refused "CN ignored when there are SANs" cnignored localhost \
	    "$v localhost: name mismatch \(want localhost; certificate is for DNS:other\.example\)"
	tls_accepted "intermediate CA sent by the server" chain localhost
	tls_refused "intermediate that is not a CA" notca localhost \
	    "$v localhost: not signed by a trusted CA"
	tls_refused "TLS 1.1-only server" server localhost \
	    "TLS handshake with localhost\[127\.0\.0\.1\]:[0-9]+ failed: server offers no TLS version >= 1\.2 \(tls_min_version\)" \
	    --tls11
	tls_refused "STARTTLS not offered" server localhost \
	    "localhost\[127\.0\.0\.1\]:[0-9]+ does not offer STARTTLS; not sending in plaintext" \
	    --no-starttls
	tls_refused "STARTTLS 454" server localhost \
	    "STARTTLS refused: 454 4\.7\.0 TLS not available due to temporary reason" \
	    "--reply 'STARTTLS=454 4.7.0 TLS not available due to temporary reason'"
	tls_refused "bytes injected after the STARTTLS 220" server localhost \
	    "localhost\[127\.0\.0\.1\]:[0-9]+ sent data after the STARTTLS reply; aborting" \
	    --tls-garbage
}

test_tls_pinning() {
	local self srv
	self=$(spki_pin "$CERTS/selfsigned.pem")
	srv=$(spki_pin "$CERTS/server.pem")
	tls_accepted "pin: self-signed relay with its pin" selfsigned localhost "" \
	    "tls_fingerprint sha256:$self"
	tls_refused "pin: self-signed relay with a wrong pin" selfsigned localhost \
	    "certificate verify failed for localhost: public key matches no tls_fingerprint \(server key is sha256:$self\)" \
	    "" "tls_fingerprint sha256:$srv"
	tls_refused "pin: CA-signed relay with a wrong pin" server localhost \
	    "certificate verify failed for localhost: public key matches no tls_fingerprint \(server key is sha256:$srv\)" \
	    "" "tls_fingerprint sha256:$self"
	tls_accepted "pin: several pins, one matches (rotation)" selfsigned localhost "" \
	    "tls_fingerprint sha256:$srv" \
	    "tls_fingerprint sha256:$(echo "$self" | tr a-f A-F | sed 's/../&:/g; s/:$//')"
}

test_tls_verification
test_tls_pinning

# probe_run: relayq probe with $T/conf, output in $T/probe.out, exit
# code in $PROBE_RC
probe_run() {
	"$TOP/relayq" -C "$T/conf" probe >"$T/probe.out" 2>&1
	PROBE_RC=$?
}

# probe_env NAME CERT SMTPD-OPTS: smarthost with CERT.pem and a config
probe_env() {
	new_env "probe_$1"
	CERT=$CERTS/$2.pem KEY=$CERTS/$2.key eval "start_smtpd $3" && write_conf || return 1
}

test_probe() {
	local pin
	probe_env ok server "--auth-mechs 'PLAIN SCRAM-SHA-256'" ||
	    { not_ok "probe: set-up" "see $T"; return; }
	probe_run
	check "probe: usable smarthost exits 0" test "$PROBE_RC" -eq 0
	check "probe: shows DNS, connect, banner, EHLO, STARTTLS" \
	    grep -qzE "DNS: localhost ->( [0-9a-f:.]+)* 127\.0\.0\.1.*connect: localhost\[127\.0\.0\.1\]:$PORT.*S: 220 localhost ESMTP.*C: EHLO .*C: STARTTLS.*S: 220 2\.0\.0 Ready" "$T/probe.out"
	check "probe: shows the server certificate with its pin" \
	    grep -qzE "subject:  CN=localhost.*issuer:   CN=relayq test CA.*names:    DNS:localhost, IP:127\.0\.0\.1.*valid:    [0-9-]+ [0-9:]+ UTC to .*pin:      tls_fingerprint sha256:$(spki_pin "$CERTS/server.pem")" "$T/probe.out"
	check "probe: verdict and AUTH result" \
	    grep -qzE "S: 250-AUTH PLAIN SCRAM-SHA-256.*C: AUTH SCRAM-SHA-256 \[[0-9]+ bytes of AUTH data not shown\].*verdict: certificate accepted \(chain to a trusted CA, name matches\).*AUTH: ok with SCRAM-SHA-256 as user.*result: usable" "$T/probe.out"
	check "probe: sends no mail" sh -c "! grep -qE '^C: (MAIL|RCPT|DATA)' '$T/transcript' && grep -q '^C: QUIT' '$T/transcript'"
	check "probe: shows no password" sh -c "! grep -q secret '$T/probe.out'"

	probe_env wrongname wrong "" || { not_ok "probe: set-up" "see $T"; return; }
	probe_run
	check "probe: TLS failure exits 3" test "$PROBE_RC" -eq 3
	check "probe: TLS failure says why" grep -qF "verdict: REFUSED: certificate verify failed for localhost: name mismatch (want localhost; certificate is for DNS:wrong.example)" "$T/probe.out"
	check "probe: TLS failure, no AUTH sent" sh -c "! grep -q '^C: AUTH' '$T/transcript'"

	probe_env selfsigned selfsigned "" || { not_ok "probe: set-up" "see $T"; return; }
	probe_run
	pin=$(sed -n 's/.*pin:      \(tls_fingerprint sha256:[0-9a-f]*\)$/\1/p' "$T/probe.out" | tail -1)
	echo "$pin" >> "$T/conf"
	probe_run
	check "probe: the printed pin, pasted, makes a self-signed relay usable" \
	    test "$PROBE_RC" -eq 0 -a -n "$pin"
	check "probe: pinned verdict" grep -qF "verdict: certificate accepted (public key matches tls_fingerprint)" "$T/probe.out"

	probe_env badpw server "" || { not_ok "probe: set-up" "see $T"; return; }
	echo wrong > "$T/pw"
	probe_run
	check "probe: AUTH failure exits 4" test "$PROBE_RC" -eq 4
	check "probe: AUTH failure names mechanism and reply" grep -qF "AUTH: FAILED: authentication failed: 535 5.7.8 Authentication credentials invalid (AUTH PLAIN)" "$T/probe.out"

	stop_pid "$T/smtpd.pid"
	probe_run
	check "probe: network failure exits 2" test "$PROBE_RC" -eq 2
	check "probe: connect failure shown" grep -qE "connect: FAILED: connect to localhost\[[0-9a-f:.]+\]:$PORT: Connection refused" "$T/probe.out"
}

test_client_cert() {
	new_env tls_client_cert
	cp "$CERTS/client.pem" "$CERTS/client.key" "$T/"
	chown "$RUNUID:$RUNGID" "$T/client.pem" "$T/client.key"
	chmod 600 "$T/client.key"
	start_smtpd --client-ca "$CERTS/ca.pem" &&
	    write_conf "tls_client_cert $T/client.pem" "tls_client_key $T/client.key" &&
	    start_daemon || { not_ok "client certificate: set-up" "see $T"; stop_daemon; return; }
	printf 'Subject: cc\n\nbody\n' | submit user@example.net
	check "client certificate: delivered to a relay that requires one" wait_for 15 test -s "$T/mail/1.env"
	check "client certificate: the relay saw it" grep -qx -- '-- client certificate CN=relayq client' "$T/transcript"
	stop_daemon
	chmod 640 "$T/client.key"
	timeout 10 "${AS_USER[@]}" "$TOP/relayq" -C "$T/conf" drain -f 2>"$T/keyerr"
	check "client certificate: key readable by others refused at start" \
	    grep -qF "tls_client_key $T/client.key is readable by others or not a regular file: refusing it (chmod 600 $T/client.key)" "$T/keyerr"
	tls_refused "relay requires a client certificate, none configured" server localhost \
	    "TLS handshake with localhost\[127\.0\.0\.1\]:[0-9]+ failed: .*" \
	    "--client-ca $CERTS/ca.pem"
}

test_probe
test_client_cert

# Two smarthosts: the first presents a certificate for another name, the
# second is right; each is checked against its own name.
test_failover() {
	local port1
	new_env tls_failover
	CERT=$CERTS/wrong.pem KEY=$CERTS/wrong.key start_smtpd ||
	    { not_ok "failover: set-up" "see $T"; return; }
	port1=$PORT
	mv "$T/smtpd.pid" "$T/smtpd1.pid"
	start_smtpd && write_conf && sed -i "1i smarthost mail.relayq.test:$port1" "$T/conf" &&
	    start_daemon LD_PRELOAD="$FAKEDNS" || { not_ok "failover: set-up" "see $T"; stop_daemon; return; }
	printf 'Subject: failover\n\nbody\n' | submit user@example.net
	check "failover: delivered by the second smarthost" wait_for 15 test -s "$T/mail/1.env"
	check "failover: the first smarthost's refusal is logged" \
	    log_has "smarthost mail\.relayq\.test: certificate verify failed for mail\.relayq\.test: name mismatch \(want mail\.relayq\.test; certificate is for DNS:wrong\.example\); trying localhost$"
	check "failover: sent through the second" log_has "relay=localhost\[127\.0\.0\.1\]:$PORT, .*status=sent"
	stop_daemon
}

test_failover
