# rate_limit and rate_limit_recipients: a burst leaves at the configured
# rate, as the test smarthost's clock sees it (the time= of each stored
# message, taken when it accepted the final dot); the window survives a
# restart (state/rate); with max_sessions the limit holds over all
# sessions; a throttling reply pauses sending and the message goes later,
# without the attempt counted and without a DSN.  Each route has its own
# limit and pause: a route held back by its window or a throttling reply
# leaves the other routes' mail going (state/rate.NAME for route NAME).
# Sourced by test/check.sh, which provides test/lib.sh.

# rate_most_in SECONDS [DIR]: the most messages the smarthost accepted in
# any window of that length (from the sorted time= of every .env in DIR,
# $T/mail by default)
rate_most_in() {
	cat "${2:-$T/mail}"/*.env | sed -n 's/^time=//p' | sort -n |
	    awk -v w="$1" '{ t[NR] = $1 }
		END { best = 0; j = 1
		      for (i = 1; i <= NR; i++) {
			while (t[i] - t[j] >= w) j++
			if (i - j + 1 > best) best = i - j + 1 }
		      print best }'
}

# rate_last DIR: when the smarthost of DIR accepted its last message
rate_last() {
	cat "$1"/*.env | sed -n 's/^time=//p' | sort -n | tail -1
}

# rate_span: seconds from the first accepted message to the last
rate_span() {
	cat "$T"/mail/*.env | sed -n 's/^time=//p' | sort -n |
	    awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%d\n", b - a }'
}

# rate_none_for SECONDS COMMAND...: the command never succeeds meanwhile
rate_none_for() { ! wait_for "$@"; }

rate_status() { as_user "$TOP/relayq" -C "$T/conf" status; }

# rate_status_has LINE: relayq status prints LINE (for wait_for: a
# status answered during the daemon's first run may come before it has
# read the messages and found their route held back)
rate_status_has() { rate_status | grep -qxF -- "$1"; }

# rate_lacks REGEX TEXT: no line of TEXT matches
rate_lacks() { ! grep -qE -- "$1" <<<"$2"; }

# relayq check runs and names no file of state/rate* (as_user is a bash
# function: it cannot run inside sh -c)
rate_check_quiet() {
	local out
	out=$(as_user "$TOP/relayq" -C "$T/conf" check 2>&1)
	[ -n "$out" ] && rate_lacks 'state/rate' "$out"
}

# rate_burst NAME SESSIONS: 20 messages at 5/s on SESSIONS sessions
rate_burst() {
	local name=$1
	new_env "rate-$name"
	start_smtpd && write_conf "rate_limit 5/s" "max_sessions $2" &&
	    queue_before_daemon 20 "$name" && start_daemon ||
	    { not_ok "rate $name: set-up" "see $T"; return; }
	check "rate $name: all 20 delivered exactly once" wait_for 30 delivered_once "$name" 20
	check "rate $name: never more than 5 in any second at the smarthost (most: $(rate_most_in 1))" \
	    test "$(rate_most_in 1)" -le 5
	check "rate $name: the burst took at least 3 s (span $(rate_span) s)" \
	    test "$(rate_span)" -ge 3
	check "rate $name: nothing deferred" sh -c "! grep -q 'status=deferred' '$T/log'"
	check "rate $name: spool clean but for the window" wait_for 5 spool_clean_rate
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# the spool's work is done; state/ holds only the rate windows
spool_clean_rate() {
	dir_empty "$T/spool/drop" && dir_empty "$T/spool/queue" &&
	    [ "$(ls -A "$T/spool/state")" = rate ]
}

test_rate_restart() {
	local out
	new_env rate-restart
	start_smtpd && write_conf "rate_limit 5/min" &&
	    queue_before_daemon 8 restart && start_daemon ||
	    { not_ok "rate restart: set-up" "see $T"; return; }
	check "rate restart: the first 5 delivered" wait_for 15 delivered_once restart 5
	stop_daemon
	check "rate restart: the window is saved in state/rate" \
	    test "$(grep -c '^M ' "$T/spool/state/rate" 2>/dev/null)" -eq 5
	restart_daemon || { not_ok "rate restart: restart" "see $T"; return; }
	out=$(rate_status)
	check "rate restart: status shows the window kept" \
	    grep -qxF "rate: 5/min messages (5 in the window)" <<<"$out"
	check "rate restart: status shows the backlog held back" \
	    wait_for 5 rate_status_has "backlog: 3 message(s) due now, waiting for room in the window"
	check "rate restart: relayq check accepts state/rate" rate_check_quiet
	# the window holds the other 3 for the rest of the minute
	check "rate restart: nothing more sent after the restart (3 s)" \
	    rate_none_for 3 test -s "$T/mail/6.env"
	check "rate restart: 3 still queued" test "$(queue_count)" -eq 3
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_rate_corrupt() {
	new_env rate-corrupt
	mkdir -p "$T/spool/state"
	printf 'RELAYQ-RATE 1\nM 12x 1\n.\n' > "$T/spool/state/rate"
	chown -R $RUNUID:$RUNGID "$T/spool"
	start_smtpd && write_conf "rate_limit 5/s" && start_daemon ||
	    { not_ok "rate corrupt: set-up" "see $T"; return; }
	check "rate corrupt: logged, named and ignored" \
	    log_has 'state/rate: line 2: bad record; ignored: the rate windows start empty'
	check "rate corrupt: the daemon delivers" deliver_one corrupt 1
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

deliver_one() {
	printf 'Subject: %s\n\nbody\n' "$1" | submit user@example.net &&
	    wait_for 15 test -s "$T/mail/$2.env"
}

# rate_throttling NAME REPLY RETRY_MIN RETRY_MAX SUBJECT...: a daemon
# whose smarthost answers MAIL with REPLY, and a message per SUBJECT
rate_throttling() {
	local name=$1 reply=$2 min=$3 max=$4 subject
	shift 4
	new_env "rate-$name"
	start_smtpd --reply "MAIL=$reply" &&
	    write_conf "retry_min $min" "retry_max $max" && start_daemon || return 1
	for subject in "$@"; do
		printf 'Subject: %s\n\nbody\n' "$subject" | submit user@example.net || return 1
	done
}

test_rate_throttle() {
	local id out
	rate_throttling throttle '451 4.7.500 Server busy. Please try again later' 4s 1h throttled ||
	    { not_ok "rate throttle: set-up" "see $T"; return; }
	check "rate throttle: logged with host, reply and pause" \
	    wait_for 10 log_has "throttled by localhost\[127\.0\.0\.1\]:$PORT: 451 4\.7\.500 Server busy\. Please try again later; sending paused for 4s$"
	check "rate throttle: the recipient deferred" log_has 'status=deferred \(host .* said: 451 4\.7\.500'
	id=$(ls "$T/spool/queue")
	check "rate throttle: the attempt is not counted (A 0)" \
	    wait_for 2 grep -q '^A 0 ' "$T/spool/state/$id"
	out=$(rate_status)
	check "rate throttle: status shows the pause" \
	    grep -qE '^paused: [1-4]s more, after a throttling reply \(backoff 4s\)$' <<<"$out"
	stop_pid "$T/smtpd.pid"
	SMTPD_PORT=$PORT start_smtpd || { not_ok "rate throttle: second smarthost" "see $T"; return; }
	check "rate throttle: delivered after the pause" wait_for 15 test -s "$T/mail/1.env"
	check "rate throttle: sent" wait_for 5 log_has "$id: to=<user@example.net>.*status=sent"
	check "rate throttle: exactly one message at the smarthost (no DSN)" \
	    test "$(ls "$T"/mail/*.msg | wc -l)" -eq 1
	check "rate throttle: no non-delivery or delay notification" \
	    sh -c "! grep -q 'notification' '$T/log'"
	check "rate throttle: the pause file goes with the backoff" wait_for 5 spool_clean
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# Amazon SES's reply, every time: the pause doubles up to retry_max, and
# each pause lets one message try, not the whole queue
test_rate_throttle_backoff() {
	local mails throttles
	rate_throttling backoff '454 Throttling failure: Maximum sending rate exceeded' 1s 3s a b ||
	    { not_ok "rate backoff: set-up" "see $T"; return; }
	check "rate backoff: paused for 1s" wait_for 10 log_has 'Maximum sending rate exceeded; sending paused for 1s$'
	check "rate backoff: then 2s" wait_for 10 log_has 'Maximum sending rate exceeded; sending paused for 2s$'
	check "rate backoff: then 3s (retry_max)" wait_for 10 log_has 'Maximum sending rate exceeded; sending paused for 3s$'
	stop_daemon
	mails=$(grep -c '^C: MAIL FROM' "$T/transcript")
	throttles=$(grep -c 'throttled by' "$T/log")
	check "rate backoff: one transaction per pause ($mails MAIL, $throttles throttled)" \
	    test "$mails" -eq "$throttles"
	check "rate backoff: no attempt counted" \
	    sh -c "grep -h '^A ' '$T'/spool/state/* | grep -qv '^A 0 ' && exit 1; exit 0"
	stop_pid "$T/smtpd.pid"
}

test_rate_not_throttle() {
	new_env rate-452
	start_smtpd --reply 'MAIL=452 4.5.3 Too many recipients' &&
	    write_conf && start_daemon ||
	    { not_ok "rate 452: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit user@example.net
	check "rate 452 4.5.3: deferred" wait_for 10 log_has 'status=deferred'
	check "rate 452 4.5.3: not taken for throttling" sh -c "! grep -q 'throttled by' '$T/log'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_rate_recipients() {
	local out
	new_env rate-rcpt
	start_smtpd && write_conf "rate_limit_recipients 4/min" && start_daemon ||
	    { not_ok "rate recipients: set-up" "see $T"; return; }
	printf 'Subject: six\n\nbody\n' |
	    submit r1@example.net r2@example.net r3@example.net r4@example.net r5@example.net r6@example.net
	check "rate recipients: 6 recipients over a budget of 4 still go, alone" \
	    wait_for 10 test -s "$T/mail/1.env"
	check "rate recipients: all 6 in that transaction" \
	    test "$(grep -c '^rcpt=' "$T/mail/1.env")" -eq 6
	printf 'Subject: one\n\nbody\n' | submit r7@example.net
	check "rate recipients: the next waits for the window (2 s)" \
	    rate_none_for 2 test -s "$T/mail/2.env"
	out=$(rate_status)
	check "rate recipients: status shows the recipients' window" \
	    grep -qxF "rate: 4/min recipients (6 in the window)" <<<"$out"
	check "rate recipients: status shows the message waiting" \
	    grep -qxF "backlog: 1 message(s) due now, waiting for room in the window" <<<"$out"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# rate_got DIR TAG N: the smarthost of DIR has N messages tagged TAG,
# each exactly once
rate_got() {
	[ "$(cat "$1"/*.msg 2>/dev/null | grep -a "^Subject: $2 " | sort | uniq -d | wc -l)" -eq 0 ] &&
	[ "$(cat "$1"/*.msg 2>/dev/null | grep -a "^Subject: $2 " | sort -u | wc -l)" -eq "$3" ]
}

# rate_queue N SENDER TAG: N messages from SENDER in drop/ before any
# daemon runs (as queue_before_daemon)
rate_queue() {
	local i
	mkdir -p "$T/spool/drop"
	chmod 1730 "$T/spool/drop"
	chown $RUNUID:$RUNGID "$T/spool/drop"
	for i in $(seq 1 "$1"); do
		printf 'Subject: %s %s\n\nbody\n' "$3" "$i" |
		    submit -f "$2" user@example.net 2>/dev/null || return 1
	done
}

# rate_routes_env NAME SESSIONS TOPLINES AREPLY [route a lines]:
# smarthosts a and b, route a for @a.example (with the lines given),
# route b for @b.example without a limit; TOPLINES ("" for none) at the
# top level; AREPLY ("" for none): smarthost a's answer to MAIL
rate_routes_env() {
	local name=$1 sessions=$2 top=$3 reply=$4
	shift 4
	new_env "rate-$name"
	start_smtpd && routes_smtpd a user:secret 0 ${reply:+--reply "MAIL=$reply"} &&
	    routes_smtpd b user:secret &&
	    write_conf "max_sessions $sessions" "$top" \
	    "route a" "  sender @a.example" \
	    "  smarthost localhost:$(cat "$T/port-a")" \
	    "  auth_user user" "  auth_password_file $T/pw" "$@" \
	    "route b" "  sender @b.example" \
	    "  smarthost localhost:$(cat "$T/port-b")" \
	    "  auth_user user" "  auth_password_file $T/pw"
}

rate_routes_stop() {
	stop_daemon
	stop_pid "$T/smtpd.pid"
	stop_pid "$T/smtpd-a.pid"
	stop_pid "$T/smtpd-b.pid"
}

# rate_routes NAME SESSIONS WHERE: 15 messages for route a (3/s) queued
# before 15 for route b (no limit).  WHERE: "block", a's limit in its
# block; "top", a is the default route (its limit at the top level) and
# route a's block is not used
rate_routes() {
	local name=$1 adir alast blast
	# $T is set by rate_routes_env
	if [ "$3" = top ]; then
		rate_routes_env "$name" "$2" "rate_limit 3/s" "" &&
		    adir=$T/mail && rate_queue 15 x@default.example ra
	else
		rate_routes_env "$name" "$2" "" "" "  rate_limit 3/s" &&
		    adir=$T/mail-a && rate_queue 15 x@a.example ra
	fi || { not_ok "rate $name: set-up" "see $T"; rate_routes_stop; return; }
	rate_queue 15 x@b.example rb && start_daemon ||
	    { not_ok "rate $name: set-up" "see $T"; rate_routes_stop; return; }
	check "rate $name: route b's 15 delivered exactly once" wait_for 10 rate_got "$T/mail-b" rb 15
	check "rate $name: route b's done before route a's (a has $(ls "$adir"/*.env 2>/dev/null | wc -l) of 15)" \
	    test "$(ls "$adir"/*.env 2>/dev/null | wc -l)" -lt 15
	check "rate $name: route a's 15 delivered exactly once" wait_for 20 rate_got "$adir" ra 15
	alast=$(rate_last "$adir")
	blast=$(rate_last "$T/mail-b")
	check "rate $name: b's last at least 2 s before a's last (b $blast, a $alast)" \
	    awk -v a="$alast" -v b="$blast" 'BEGIN { exit !(b + 2 <= a) }'
	check "rate $name: never more than 3 of a's in any second (most: $(rate_most_in 1 "$adir"))" \
	    test "$(rate_most_in 1 "$adir")" -le 3
	check "rate $name: b got only b's, a only a's" \
	    sh -c "! cat '$T/mail-b'/*.msg | grep -qa '^Subject: ra ' && ! cat '$adir'/*.msg | grep -qa '^Subject: rb '"
	check "rate $name: nothing deferred" sh -c "! grep -q 'status=deferred' '$T/log'"
	rate_routes_stop
}

# a throttling reply on route a pauses route a only
test_rate_routes_throttle() {
	local i out
	rate_routes_env routes-throttle 1 "$(printf 'retry_min 30s\nretry_max 1h')" \
	    '451 4.7.500 Server busy. Please try again later' && start_daemon ||
	    { not_ok "rate routes throttle: set-up" "see $T"; rate_routes_stop; return; }
	printf 'Subject: ta 1\n\nbody\n' | submit -f x@a.example user@example.net
	check "rate routes throttle: route a paused, logged with its name" \
	    wait_for 10 log_has "route=a: throttled by localhost\[127\.0\.0\.1\]:$(cat "$T/port-a"): 451 4\.7\.500 Server busy\. Please try again later; sending paused for 30s$"
	printf 'Subject: ta 2\n\nbody\n' | submit -f x@a.example user@example.net
	for i in 1 2 3; do
		printf 'Subject: tb %s\n\nbody\n' "$i" | submit -f x@b.example user@example.net
	done
	check "rate routes throttle: route b keeps delivering during a's pause" \
	    wait_for 10 rate_got "$T/mail-b" tb 3
	check "rate routes throttle: route a tried once (one MAIL)" \
	    test "$(grep -c '^C: MAIL FROM' "$T/transcript-a")" -eq 1
	out=$(rate_status)
	check "rate routes throttle: status shows route a's pause" \
	    grep -qE '^route a: paused: ([12][0-9]|30)s more, after a throttling reply \(backoff 30s\)$' <<<"$out"
	check "rate routes throttle: status shows route a's backlog" \
	    wait_for 5 rate_status_has "route a: backlog: 1 message(s) due now, waiting for room in the window"
	check "rate routes throttle: no pause for the default route or b" \
	    rate_lacks '^(route b: )?paused:' "$out"
	check "rate routes throttle: the pause is kept in state/rate.a" \
	    wait_for 5 test -s "$T/spool/state/rate.a"
	rate_routes_stop
}

# route a's window survives a restart in state/rate.a; the file of a
# route no longer configured is removed at start
test_rate_routes_restart() {
	local out
	rate_routes_env routes-restart 1 "" "" "  rate_limit 5/min" &&
	    rate_queue 8 x@a.example rr && start_daemon ||
	    { not_ok "rate routes restart: set-up" "see $T"; rate_routes_stop; return; }
	check "rate routes restart: the first 5 delivered" wait_for 15 rate_got "$T/mail-a" rr 5
	stop_daemon
	check "rate routes restart: the window is saved in state/rate.a" \
	    test "$(grep -c '^M ' "$T/spool/state/rate.a" 2>/dev/null)" -eq 5
	check "rate routes restart: no state/rate for the default route (no limit)" \
	    test ! -e "$T/spool/state/rate"
	printf 'RELAYQ-RATE 1\n.\n' > "$T/spool/state/rate.gone"
	chown $RUNUID:$RUNGID "$T/spool/state/rate.gone"
	restart_daemon || { not_ok "rate routes restart: restart" "see $T"; rate_routes_stop; return; }
	check "rate routes restart: a gone route's file removed and logged" \
	    log_has 'state/rate\.gone: removed: the rate windows of route gone, which the configuration no longer has'
	check "rate routes restart: it is gone" test ! -e "$T/spool/state/rate.gone"
	out=$(rate_status)
	check "rate routes restart: status shows route a's window kept" \
	    grep -qxF "route a: rate: 5/min messages (5 in the window)" <<<"$out"
	check "rate routes restart: status shows route a's backlog held back" \
	    wait_for 5 rate_status_has "route a: backlog: 3 message(s) due now, waiting for room in the window"
	check "rate routes restart: status shows the default route without a limit" \
	    grep -qxF "rate: no limit" <<<"$out"
	check "rate routes restart: status shows route b without a limit" \
	    grep -qxF "route b: rate: no limit" <<<"$out"
	check "rate routes restart: relayq check accepts state/rate.a" rate_check_quiet
	check "rate routes restart: nothing more sent after the restart (3 s)" \
	    rate_none_for 3 rate_got "$T/mail-a" rr 6
	check "rate routes restart: 3 still queued" test "$(queue_count)" -eq 3
	rate_routes_stop
}

rate_burst burst 1
rate_burst sessions 2
test_rate_restart
test_rate_recipients
test_rate_corrupt
test_rate_throttle
test_rate_throttle_backoff
test_rate_not_throttle
rate_routes routes 1 block
rate_routes routes-sessions 2 block
rate_routes routes-default 1 top
test_rate_routes_throttle
test_rate_routes_restart
