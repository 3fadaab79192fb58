# interop_routes.sh - sender-dependent routes against two real Postfix
# submission services with different SASL users.  Sourced by
# test/interop.sh after its set-up: uses its helpers (setup_relayq,
# start_relayq, submit, sclient_send, pf_session_check, maillog_*), $D,
# $P1 (service A, user SASL_USER) and $P5 (service B, user SASL_USER_B;
# see test/postfix.sh).
#
# First Postfix's own split is checked: user B delivers on service B and
# each user is refused at RCPT on the other's service, so an arrival
# proves which credentials were used.  Then one relayq with routes
#   @a.example -> service A as user A, @b.example -> service B as user B,
#   anything else -> the default route, service A as user A
# sends one message per sender: Postfix's log must show each accepted on
# its own service ("postfix-rq/starttls" or "postfix-rq/subb") with its own
# sasl_username, and no other session.  Service B is then stopped (a
# postfix reload without it): B's next message defers and stays queued
# while A's is delivered; B is started again and its message arrives once.

name=routes

# --- Postfix's split of users and services ------------------------------

tok=$(openssl rand -hex 8)
make_message "$D/harness-subb.eml" harness-subb "$tok" harness-subb@example.org full
off=$(maillog_size)
SC_ERR= SC_QID=
if SC_USER=$SASL_USER_B SC_PW=$SASL_PW_B sclient_send starttls "$P5" \
    "$D/harness-subb.eml" harness-subb@example.org; then
	ok "$name: harness: openssl s_client delivered on service B as $SASL_USER_B"
	pf_session_check "$off" subb "$SC_QID" "$name: harness" PLAIN "$SASL_USER_B"
else
	not_ok "$name: harness: openssl s_client delivered on service B as $SASL_USER_B" "$SC_ERR"
fi
# user:password:port:service of the refused pairs
for pair in "$SASL_USER:$SASL_PW:$P5:B" "$SASL_USER_B:$SASL_PW_B:$P1:A"; do
	IFS=: read -r u pw port svc <<<"$pair"
	SC_ERR= SC_QID=
	if SC_USER=$u SC_PW=$pw sclient_send starttls "$port" \
	    "$D/harness-subb.eml" harness-subb@example.org; then
		not_ok "$name: harness: Postfix refuses $u on service $svc" \
		    "it accepted the message (queued as $SC_QID)"
	else
		check "$name: harness: Postfix refuses $u on service $svc at RCPT (5xx)" \
		    "$SC_ERR" grep -qE '^RCPT: 5[0-9][0-9] ' <<<"$SC_ERR"
	fi
done

# --- relayq with three routes -------------------------------------------

dir=$D/rq-$name
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
printf '%s\n' "$SASL_PW_B" >"$dir/password-b"
cat >>"$dir/relayq.conf" <<EOF
idle_timeout 0
route a
sender @a.example
smarthost localhost:$P1
tls starttls
auth_user $SASL_USER@$REALM
auth_password_file $dir/password
idle_timeout 0
route b
sender @b.example
smarthost localhost:$P5
tls starttls
auth_user $SASL_USER_B@$REALM
auth_password_file $dir/password-b
idle_timeout 0
EOF
chmod 600 "$dir/password-b"
[ $ROOT -eq 1 ] && chown "$RUN_UID:$RUN_GID" "$dir/password-b"

# route_msg FILE SENDER RCPT TOKEN: a small message
route_msg() {
	printf 'From: %s\nTo: %s\nSubject: relayq interop routes %s\n\nrouted %s\n' \
	    "$2" "$3" "$4" "$4" >"$1"
}

# route_sent RCPT PORT ROUTE: relayq's log line of RCPT's delivery through
# ROUTE to localhost:PORT
route_sent_rx() {
	echo "to=<$(ere_quote "$1")>, relay=localhost\[127\.0\.0\.1\]:$2, tls=[^,]+, .*route=$3, dsn=2\.0\.0, status=sent \(250 "
}

# pf_client_line OFFSET QUEUEID: Postfix's "QUEUEID: client=" line
pf_client_line() {
	maillog_since "$1" | grep -F "]: $2: client=" | head -n 1
}

# check_route LABEL SENDER ROUTE PORT SERVICE USER TOKEN: the message of
# LABEL went through ROUTE, and Postfix accepted it on SERVICE as USER
check_route() {
	local rcpt=rcpt-$name-$1@example.org line qid pline
	if ! wait_for "$WAIT" relayq_logged "$name" "$(route_sent_rx "$rcpt" "$4" "$3")"; then
		not_ok "$name: $2 sent through route $3 to port $4" \
		    "$(relayq_log "$name" | grep -F "$rcpt" | tail -n 2 | tr '\n' ' ')"
		return
	fi
	ok "$name: $2 sent through route $3 to port $4"
	line=$(relayq_log "$name" | grep -E "$(route_sent_rx "$rcpt" "$4" "$3")" | head -n 1)
	qid=$(pf_qid "$line")
	pline=$(pf_client_line "$off" "$qid")
	check "$name: Postfix accepted $2's message on service $5 as $6" \
	    "queue id ${qid:-?}: ${pline:-no client= line}" \
	    grep -qE "postfix-rq/$5/smtpd\[[0-9]+\]: $qid: client=.*, sasl_username=$6(@$REALM)?(,|\$)" \
	    <<<"$pline"
	check "$name: $2's message reached the sink once" \
	    "$(sink_holds "$7") sink files hold $7" wait_for "$WAIT" sent_once "$7"
}

off=$(maillog_size)
if ! start_relayq "$name"; then
	not_ok "$name: relayq drain -f starts" \
	    "exited: $(tail -n 5 "$dir/daemon.out" | tr '\n' ' ')"
else
	ok "$name: relayq drain -f with routes a, b and default running"
	declare -A rtok
	for s in a b other; do
		rtok[$s]=$(openssl rand -hex 8)
		case $s in other) from=someone@example.org ;; *) from=someone@$s.example ;; esac
		route_msg "$D/route-$s.eml" "$from" "rcpt-$name-$s@example.org" "${rtok[$s]}"
		submit "$name" "$D/route-$s.eml" -f "$from" -t
	done
	check_route a someone@a.example a "$P1" starttls "$SASL_USER" "${rtok[a]}"
	check_route b someone@b.example b "$P5" subb "$SASL_USER_B" "${rtok[b]}"
	check_route other someone@example.org default "$P1" starttls "$SASL_USER" "${rtok[other]}"
	since=$(maillog_since "$off")
	check "$name: Postfix accepted 3 messages, 1 on service B, and nothing else" \
	    "$(grep -E ': client=|reject' <<<"$since" | tr '\n' ' ')" \
	    test "$(grep -c ': client=' <<<"$since")" -eq 3 -a \
	    "$(grep -c 'postfix-rq/subb/smtpd\[.*: client=' <<<"$since")" -eq 1 -a \
	    "$(grep -c 'reject' <<<"$since")" -eq 0

	# --- service B stopped: only B's mail waits -------------------------
	if ! pf_service_b off; then
		not_ok "$name: service B stopped with postfix reload" \
		    "port $P5 still listens: $(cat "$D/postfix-reload.log")"
	else
		ok "$name: service B stopped (postfix reload, port $P5 closed)"
		off=$(maillog_size)
		for s in b2 a2; do
			rtok[$s]=$(openssl rand -hex 8)
			from=someone@${s%2}.example
			route_msg "$D/route-$s.eml" "$from" "rcpt-$name-$s@example.org" "${rtok[$s]}"
			submit "$name" "$D/route-$s.eml" -f "$from" -t
		done
		check_route a2 someone@a.example a "$P1" starttls "$SASL_USER" "${rtok[a2]}"
		check "$name: B's message deferred while service B is down (route=b)" \
		    "$(relayq_log "$name" | grep -F "rcpt-$name-b2" | tail -n 2 | tr '\n' ' ')" \
		    wait_for "$WAIT" relayq_logged "$name" \
		    "to=<rcpt-$name-b2@example\.org>, relay=none, .*route=b, dsn=4\.[0-9.]+, status=deferred \("
		check "$name: B's message still queued, not at the sink" \
		    "queue/ has $(spool_count "$name" queue) files, sink $(sink_holds "${rtok[b2]}")" \
		    test "$(spool_count "$name" queue)" -eq 1 -a "$(sink_holds "${rtok[b2]}")" -eq 0
		if ! pf_service_b on; then
			not_ok "$name: service B started again" \
			    "port $P5 does not listen: $(cat "$D/postfix-reload.log")"
		else
			ok "$name: service B started again (postfix reload)"
			check_route b2 someone@b.example b "$P5" subb "$SASL_USER_B" "${rtok[b2]}"
			check "$name: spool empty after B's retry" \
			    "drop: $(spool_count "$name" drop), queue: $(spool_count "$name" queue)" \
			    wait_for 10 spool_empty "$name"
			since=$(maillog_since "$off")
			check "$name: during and after the outage Postfix accepted A's message once and B's once" \
			    "$(grep -E ': client=' <<<"$since" | tr '\n' ' ')" \
			    test "$(grep -c 'postfix-rq/starttls/smtpd\[.*: client=' <<<"$since")" -eq 1 -a \
			    "$(grep -c 'postfix-rq/subb/smtpd\[.*: client=' <<<"$since")" -eq 1
			check "$name: B's message reached the sink once" \
			    "$(sink_holds "${rtok[b2]}") sink files" test "$(sink_holds "${rtok[b2]}")" -eq 1
		fi
	fi
	stop_relayq "$name"
fi
