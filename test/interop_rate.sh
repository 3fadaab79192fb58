# interop_rate.sh - rate_limit as the real smarthost sees it.  Sourced
# by test/interop.sh after its set-up: uses its helpers (setup_relayq,
# start_relayq, submit, maillog_*, sink_holds), $D and $P1.
#
# relayq with rate_limit 6/min gets a burst of 18 messages.  Postfix logs
# one "client=" line per message it accepts, with a timestamp to the
# second.  relayq lets a message start only 60 s after the end of the one
# 6 places before it, so no 6 + 1 accepted messages can be logged within
# 59 s of each other even with 1-s timestamps (a real gap of at least
# 60 s is a gap of at least 60 between the seconds shown).  All 18 must
# arrive once, none deferred, within 4 minutes (they need a little over
# 2: the 7th and the 13th wait a full minute each).

name=rate
RATE_N=6
RATE_MSGS=18
RATE_DEADLINE=240
dir=$D/rq-$name
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
echo "rate_limit $RATE_N/min" >>"$dir/relayq.conf"

# rate_sent NAME: relayq logged status=sent for every message of the burst
rate_sent() {
	[ "$(relayq_log "$1" | grep -c 'to=<rcpt-rate-[0-9]*@example\.org>, .*status=sent')" -ge $RATE_MSGS ]
}

off=$(maillog_size)
if ! start_relayq "$name"; then
	not_ok "$name: relayq drain -f starts" \
	    "exited: $(tail -n 5 "$dir/daemon.out" | tr '\n' ' ')"
else
	ok "$name: relayq drain -f with rate_limit $RATE_N/min running"
	rtoks=()
	nsub=0
	for ((i = 1; i <= RATE_MSGS; i++)); do
		rtoks[i]=$(openssl rand -hex 8)
		printf 'From: sender@example.org\nTo: rcpt-rate-%d@example.org\nSubject: relayq interop rate %s\n\nburst message %d\n' \
		    "$i" "${rtoks[i]}" "$i" >"$D/rate-$i.eml"
		(cd "$dir" && RELAYQ_CONFIG=$dir/relayq.conf \
		    exec timeout 60 "${UNPRIV[@]}" "$SENDMAIL" -t) \
		    <"$D/rate-$i.eml" >>"$dir/sendmail.out" 2>&1 && nsub=$((nsub + 1))
	done
	check "$name: sendmail queued the burst of $RATE_MSGS" \
	    "$nsub exited 0: $(tail -n 3 "$dir/sendmail.out" | tr '\n' ' ')" \
	    test $nsub -eq $RATE_MSGS
	start=$SECONDS
	wait_for $RATE_DEADLINE rate_sent "$name"
	check "$name: relayq sent all $RATE_MSGS within ${RATE_DEADLINE}s (took $((SECONDS - start))s)" \
	    "$(relayq_log "$name" | grep -c 'status=sent') sent" rate_sent "$name"
	check "$name: relayq deferred nothing" \
	    "$(relayq_log "$name" | grep 'status=deferred' | head -n 2 | tr '\n' ' ')" \
	    eval "! relayq_logged '$name' 'status=deferred'"
	nonce=0
	for ((i = 1; i <= RATE_MSGS; i++)); do
		wait_for 10 sent_once "${rtoks[i]}" && nonce=$((nonce + 1))
	done
	check "$name: each of the $RATE_MSGS reached the sink exactly once" \
	    "$nonce of $RATE_MSGS once" test $nonce -eq $RATE_MSGS

	# Postfix's accept times, in seconds, one per message
	mapfile -t rtimes < <(maillog_since "$off" |
	    grep -E 'postfix-rq/starttls/smtpd\[[0-9]+\]: [0-9A-Za-z]+: client=' |
	    awk '{ print $1, $2, $3 }' |
	    while read -r ts; do date -d "$ts" +%s; done)
	check "$name: Postfix accepted $RATE_MSGS messages" \
	    "${#rtimes[@]} client= lines" test "${#rtimes[@]}" -eq $RATE_MSGS
	# most accepted in any window of 59 s (the seconds shown may differ
	# by 59 for events 59.x s apart)
	rmax=0
	for ((i = 0; i < ${#rtimes[@]}; i++)); do
		n=0
		for ((j = i; j < ${#rtimes[@]}; j++)); do
			[ $((rtimes[j] - rtimes[i])) -le 59 ] && n=$((n + 1))
		done
		[ $n -gt $rmax ] && rmax=$n
	done
	span=0
	[ ${#rtimes[@]} -gt 0 ] && span=$((rtimes[${#rtimes[@]} - 1] - rtimes[0]))
	echo "# rate: Postfix accepted ${#rtimes[@]} in ${span}s, at most $rmax in any 59-s window"
	check "$name: Postfix's log shows at most $RATE_N in any 59-s window (max $rmax, first to last ${span}s)" \
	    "max $rmax; times: ${rtimes[*]}" test $rmax -le $RATE_N -a $rmax -ge 1
	check "$name: the burst was held back: first to last at least 120 s" \
	    "first to last ${span}s" test $span -ge 120
	stop_relayq "$name"
fi
