# TLS failures that say why: each case of doc/TLS.md's table, with the
# exact line the daemon logs (the reason of the deferral) and the same
# cause from relayq probe, on the mbedTLS this tree is built with (2.28
# on Debian 12, 3.6 on Debian 13).  Servers: test/smtpd, and openssl
# s_server where a TLS version mbedTLS cannot serve is needed.
# Sourced by test/check.sh, which provides test/lib.sh.

TLSERR_MBEDTLS=$(printf '#include <mbedtls/version.h>\nMBEDTLS_VERSION_MAJOR\n' |
    ${CC:-cc} -E -P - 2>/dev/null | tail -1)
case $TLSERR_MBEDTLS in
3) TLSERR_OFFER="TLS 1\.2 to 1\.3" ;;
*) TLSERR_OFFER="TLS 1\.2" ;;
esac
TLSERR_P='localhost\[127\.0\.0\.1\]'

# tlserr_ossl NAME S_SERVER-OPTIONS...: openssl s_server (implicit TLS,
# no SMTP) with the test server certificate on a free loopback port
tlserr_ossl() {
	new_env "tlserr_$1"
	shift
	openssl s_server -accept 127.0.0.1:0 -cert "$CERTS/server.pem" \
	    -key "$CERTS/server.key" -www "$@" </dev/null >"$T/ossl.out" 2>&1 &
	echo $! > "$T/ossl.pid"
	wait_for 10 grep -q '^ACCEPT' "$T/ossl.out" || return 1
	PORT=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$T/ossl.out")
}

# tlserr_smtpd NAME CERT SMTPD-OPTIONS...: test/smtpd with CERT.pem/.key
tlserr_smtpd() {
	local cert=$2
	new_env "tlserr_$1"
	shift 2
	CERT=$CERTS/$cert.pem KEY=$CERTS/$cert.key start_smtpd "$@"
}

# tlserr_expect NAME REGEX [conf lines...]: with $T/conf made of the
# conf lines, one message is deferred with exactly REGEX as the reason,
# nothing is sent, and relayq probe prints the same reason
tlserr_expect() {
	local name=$1 re=$2
	shift 2
	write_conf "$@" && start_daemon ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	printf 'Subject: tls\n\nbody\n' | submit user@example.net
	if wait_for 20 log_has "relay=none, .*status=deferred \($re\)$"; then
		ok "$name: deferred, the log says why"
	else
		not_ok "$name: deferred, the log says why" \
		    "want /$re/, log: $(grep deferred "$T/log" | tail -1)"
	fi
	check "$name: message still queued" test "$(queue_count)" -eq 1
	stop_daemon
	timeout 60 "$TOP/relayq" -C "$T/conf" probe >"$T/probe.out" 2>&1
	check "$name: relayq probe gives the same cause" \
	    grep -qE -- "(REFUSED|FAILED): $re$" "$T/probe.out"
}

test_tlserr_mode() {
	# implicit TLS against a STARTTLS port: the greeting comes back
	if tlserr_smtpd implicit_on_starttls server; then
		tlserr_expect "implicit TLS against a STARTTLS port" \
		    "TLS handshake with $TLSERR_P:$PORT failed: the server sent an SMTP greeting, not TLS: port $PORT wants STARTTLS or plain SMTP, not implicit TLS \(set tls starttls, or use the server's implicit TLS port, usually 465\)" \
		    "tls implicit"
	else
		not_ok "implicit TLS against a STARTTLS port: set-up" "see $T"
	fi
	# STARTTLS against an implicit TLS port: silence, for timeout_connect
	if tlserr_smtpd starttls_on_implicit server --implicit; then
		tlserr_expect "STARTTLS against an implicit TLS port" \
		    "no SMTP greeting from $TLSERR_P:$PORT in 2 s \(timeout_connect\): a port with implicit TLS \(usually 465\) waits silently for a TLS hello; if this is one, set tls implicit" \
		    "tls starttls" "timeout_connect 2s"
	else
		not_ok "STARTTLS against an implicit TLS port: set-up" "see $T"
	fi
}

test_tlserr_version() {
	# a server of TLS 1.1 at most: both builds refuse it
	if tlserr_ossl tls11 -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'; then
		tlserr_expect "TLS 1.1-only server" \
		    "TLS handshake with $TLSERR_P:$PORT failed: (the server chose a TLS version we do not offer|alert protocol_version from the server: no TLS version in common) \(we offer $TLSERR_OFFER(, tls_min_version 1\.2)?\)" \
		    "tls implicit"
	else
		not_ok "TLS 1.1-only server: set-up" "$(cat "$T/ossl.out")"
	fi
	if [ "$TLSERR_MBEDTLS" = 2 ]; then
		# TLS 1.3 only: 2.28 cannot, and says so
		if tlserr_ossl tls13 -tls1_3; then
			tlserr_expect "TLS 1.3-only server, mbedTLS 2.28" \
			    "TLS handshake with $TLSERR_P:$PORT failed: alert protocol_version from the server: no TLS version in common \(we offer TLS 1\.2\); this build's mbedTLS 2\.[0-9.]+ has no TLS 1\.3: a server that wants TLS 1\.3 only needs relayq built with mbedTLS 3\.6" \
			    "tls implicit"
		else
			not_ok "TLS 1.3-only server: set-up" "$(cat "$T/ossl.out")"
		fi
		new_env tlserr_min13
		PORT=25
		write_conf "tls_min_version 1.3"
		"$TOP/relayq" -C "$T/conf" check >"$T/check.out" 2>&1
		check "tls_min_version 1.3 on mbedTLS 2.28: relayq check fails" \
		    test $? -ne 0
		check "tls_min_version 1.3 on mbedTLS 2.28: ... and says why" \
		    grep -qE "tls_min_version 1\.3: this mbedTLS \(2\.[0-9.]+\) has no TLS 1\.3" "$T/check.out"
	else
		# tls_min_version 1.3 against a TLS 1.2 server
		if tlserr_ossl tls12 -tls1_2; then
			tlserr_expect "tls_min_version 1.3 against a TLS 1.2 server" \
			    "TLS handshake with $TLSERR_P:$PORT failed: alert protocol_version from the server: no TLS version in common \(we offer TLS 1\.3\)" \
			    "tls implicit" "tls_min_version 1.3"
		else
			not_ok "TLS 1.2 server: set-up" "$(cat "$T/ossl.out")"
		fi
		# and against a TLS 1.3 server it works, with TLS 1.3
		if tlserr_smtpd min13 server; then
			write_conf "tls_min_version 1.3" && start_daemon &&
			    printf 'Subject: tls\n\nbody\n' | submit user@example.net
			check "tls_min_version 1.3: delivered" wait_for 20 test -s "$T/mail/1.env"
			check "tls_min_version 1.3: TLSv1.3 in the delivery line" \
			    wait_for 5 log_has "relay=$TLSERR_P:$PORT, tls=TLSv1\.3/TLS1-3-[A-Z0-9-]+, .*status=sent"
			stop_daemon
		else
			not_ok "tls_min_version 1.3: set-up" "see $T"
		fi
	fi
}

test_tlserr_client_cert() {
	# TLS 1.2 (2.28): an alert in the handshake; TLS 1.3 (3.6): the
	# handshake completes and certificate_required ends the session
	if tlserr_smtpd clientcert server --client-ca "$CERTS/ca.pem"; then
		if [ "$TLSERR_MBEDTLS" = 2 ]; then
			tlserr_expect "client certificate required, none configured" \
			    "TLS handshake with $TLSERR_P:$PORT failed: the server wants a client certificate and none is configured \(set tls_client_cert and tls_client_key\)"
		else
			tlserr_expect "client certificate required, none configured" \
			    "(error reading from|lost connection with) $TLSERR_P:$PORT: the server ended TLS( \(alert certificate_required\))?: it wants a client certificate and none is configured \(set tls_client_cert and tls_client_key\)"
		fi
	else
		not_ok "client certificate required: set-up" "see $T"
	fi
}

test_tlserr_chain() {
	local v="certificate verify failed for localhost"
	# the test CA's server, checked against another CA
	if tlserr_smtpd untrusted server; then
		tlserr_expect "untrusted issuer" \
		    "$v: not signed by a trusted CA \(its issuer CN=relayq test CA is not a trusted CA, and the server sent no CA certificate for it: an intermediate missing on the server, or a CA missing from tls_ca_file\)" \
		    "tls_ca_file $CERTS/selfsigned.pem"
	else
		not_ok "untrusted issuer: set-up" "see $T"
	fi
	# the leaf of "chain" without its intermediate
	openssl x509 -in "$CERTS/chain.pem" -out "$CERTS/leafonly.pem" &&
	    cp "$CERTS/chain.key" "$CERTS/leafonly.key" && chmod 644 "$CERTS/leafonly.pem"
	if tlserr_smtpd nointermediate leafonly; then
		tlserr_expect "missing intermediate" \
		    "$v: not signed by a trusted CA \(its issuer CN=relayq test intermediate CA is not a trusted CA, and the server sent no CA certificate for it: an intermediate missing on the server, or a CA missing from tls_ca_file\)"
	else
		not_ok "missing intermediate: set-up" "see $T"
	fi
	# a 1024-bit RSA key, signed by the test CA
	openssl req -new -newkey rsa:1024 -nodes -keyout "$CERTS/weak.key" \
	    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
	    -out "$WORK/weak.csr" 2>/dev/null &&
	    openssl x509 -req -in "$WORK/weak.csr" -CA "$CERTS/ca.pem" \
	    -CAkey "$CERTS/ca.key" -CAcreateserial -days 30 -copy_extensions copy \
	    -out "$CERTS/weak.pem" 2>/dev/null && chmod 644 "$CERTS/weak.pem"
	if tlserr_smtpd weak weak; then
		tlserr_expect "weak key" "$v: weak signature or key"
	else
		not_ok "weak key: set-up" "see $T"
	fi
}

test_tlserr_mode
test_tlserr_version
test_tlserr_client_cert
test_tlserr_chain
