# Queue control over the daemon's socket: relayq queue/show/flush/hold/
# release/delete/status, sendmail -bp and -q, and who may see what.
# Sourced by test/check.sh, which provides test/lib.sh.

rq() { as_user "$TOP/relayq" -C "$T/conf" "$@"; }

# one queued message per call, deferred (the smarthost port is closed)
queued_ids() { ls "$T/spool/queue" | sort; }

test_queue_daemon_down() {
	local out rc
	new_env qdown
	PORT=1 write_conf
	# the queue from the files, with a warning (t_admin.sh has more)
	out=$(rq queue 2>&1); rc=$?
	check "relayq queue, daemon down: exit 0" test $rc -eq 0
	check "relayq queue, daemon down: says so, and lists from the files" test "$out" = \
	    "relayq: warning: the relayq daemon is not running (start it: relayq drain, or systemctl start relayq); reading the queue in $T/spool directly
Mail queue is empty"
	out=$(rq status 2>&1); rc=$?
	check "relayq status, daemon down: exit 69" test $rc -eq 69
	check "relayq status, daemon down: says so" grep -qF "the relayq daemon is not running" <<<"$out"
	out=$(submit -bp 2>&1); rc=$?
	check "sendmail -bp, daemon down: exit 0" test $rc -eq 0
	check "sendmail -bp, daemon down: says so" grep -qxF "sendmail: warning: the relayq daemon is not running (start it: relayq drain, or systemctl start relayq); reading the queue in $T/spool directly" <<<"$out"
}

test_queue_commands() {
	local out rc a b other=12345
	new_env queue
	PORT=1 write_conf "retry_min 1h" "retry_max 1h"
	start_daemon || { not_ok "queue: set-up" "see $T"; return; }
	out=$(rq queue); rc=$?
	check "relayq queue, empty: exit 0" test $rc -eq 0
	check "relayq queue, empty: Mail queue is empty" test "$out" = "Mail queue is empty"
	printf 'Subject: one\n\nbody\n' | submit -f alice@example.org bob@example.net
	printf 'Subject: two\n\nbody\n' | submit carol@example.net dave@example.net
	wait_for 15 log_count_ge 'status=deferred' 3
	check "queue: three deferrals logged" test "$(grep -c 'status=deferred' "$T/log")" -eq 3
	a=$(queued_ids | sed -n 1p); b=$(queued_ids | sed -n 2p)
	out=$(rq queue); rc=$?
	check "relayq queue: exit 0" test $rc -eq 0
	check "relayq queue: Postfix header line" test "$(sed -n 1p <<<"$out")" = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
	check "relayq queue: entry line (id, size, date, sender)" \
	    grep -qE "^$a  +[0-9]+ [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8}  alice@example\.org\$" <<<"$out"
	check "relayq queue: deferral reason in parentheses" grep -qE '^\(.*connect.*\)$' <<<"$out"
	check "relayq queue: recipients indented 41 columns" grep -qx "$(printf '%41s' '')dave@example.net" <<<"$out"
	check "relayq queue: last line counts requests" grep -qxE -- '-- [0-9]+ Kbytes in 2 Requests\.' <<<"$(tail -1 <<<"$out")"
	check "sendmail -bp: same listing" test "$(submit -bp)" = "$out"
	check "mailq (argv[0]): same listing" test "$(as_user env RELAYQ_CONFIG="$T/conf" bash -c "exec -a mailq '$TOP/sendmail'")" = "$out"
	out=$(submit -bp bob 2>&1); rc=$?
	check "sendmail -bp with recipients: exit 64" test $rc -eq 64

	out=$(rq show "$a"); rc=$?
	check "relayq show: exit 0" test $rc -eq 0
	check "relayq show: id" grep -qx "id: $a" <<<"$out"
	check "relayq show: sender" grep -qx "sender: <alice@example.org>" <<<"$out"
	check "relayq show: recipient deferred with reason" grep -qE "^recipient: <bob@example\.net> deferred dsn=4\.4\.1 \(.+\)\$" <<<"$out"
	check "relayq show: header shown" grep -qx "Subject: one" <<<"$out"
	out=$(rq show 0000000000000000 2>&1); rc=$?
	check "relayq show unknown id: exit 66" test $rc -eq 66
	check "relayq show unknown id: says so" grep -qF "relayq: show: 0000000000000000: no such message in the queue" <<<"$out"
	out=$(rq show nonsense 2>&1); rc=$?
	check "relayq show bad id: exit 64 from the daemon's parser" test $rc -eq 64
	check "relayq show bad id: says why" grep -qF 'show: "nonsense" is not a queue id' <<<"$out"

	# flush: one more attempt now despite the one-hour backoff
	out=$(rq flush "$a"); rc=$?
	check "relayq flush ID: exit 0" test $rc -eq 0
	check "relayq flush ID: answer" test "$out" = "1 message(s) scheduled for delivery now"
	check "relayq flush ID: a new attempt is made" wait_for 10 log_count_ge "$a: to=<bob@example.net>.*status=deferred" 2
	out=$(submit -qI"$b" 2>&1); rc=$?
	check "sendmail -qI<id>: exit 0, silent" test $rc -eq 0 -a -z "$out"
	check "sendmail -qI<id>: a new attempt is made" wait_for 10 log_count_ge "$b: to=<carol@example.net>.*status=deferred" 2
	out=$(submit -q 2>&1); rc=$?
	check "sendmail -q: exit 0, silent" test $rc -eq 0 -a -z "$out"
	check "sendmail -q: every message tried again" wait_for 10 log_count_ge "$b: to=<carol@example.net>.*status=deferred" 3
	check "sendmail -q: flush logged" log_has "flush of the queue requested by uid $RUNUID"
	out=$(submit -qRexample.net 2>&1); rc=$?
	check "sendmail -qR: exit 0" test $rc -eq 0

	# hold and release
	out=$(rq hold "$a"); rc=$?
	check "relayq hold: exit 0" test $rc -eq 0 -a "$out" = "$a: placed on hold"
	check "relayq hold: file moved to hold/" test -f "$T/spool/hold/$a" -a ! -e "$T/spool/queue/$a"
	check "relayq hold: logged" log_has "^.*$a: placed on hold by uid $RUNUID\$"
	check "relayq queue: held message marked with !" grep -qE "^$a! " <<<"$(rq queue)"
	out=$(rq flush "$a" 2>&1); rc=$?
	check "relayq flush of a held message: exit 69 with advice" test $rc -eq 69
	check "relayq flush of a held message: says release" grep -qF "$a: on hold; relayq release it first" <<<"$out"
	out=$(rq status); rc=$?
	check "relayq status: exit 0" test $rc -eq 0
	check "relayq status: up" grep -qE "^daemon: up, pid [0-9]+, since " <<<"$out"
	check "relayq status: queue size and held" grep -qx "queue: 2 message(s), 1 held" <<<"$out"
	check "relayq status: oldest age" grep -qE "^oldest: [0-9]+s\$" <<<"$out"
	check "relayq status: no delivery yet" grep -qx "last delivery: never" <<<"$out"
	check "relayq status: last error" grep -qE "^last error: .+ \([0-9A-V]{16}: .+\)\$" <<<"$out"
	check "relayq status: counters" grep -qE "^counters: received 2, sent 0, deferred [0-9]+, bounced 0\$" <<<"$out"
	out=$(rq release "$a"); rc=$?
	check "relayq release: exit 0" test $rc -eq 0 -a "$out" = "$a: released from hold"
	check "relayq release: back in queue/" test -f "$T/spool/queue/$a" -a ! -e "$T/spool/hold/$a"
	check "relayq release: tried at once" wait_for 10 log_count_ge "$a: to=<bob@example.net>.*status=deferred" 4

	# another user sees and changes only their own messages
	if [ "$(id -u)" = 0 ]; then
		# as if sendmail were setgid to the daemon's group: the file is
		# created with that group, the query comes with the user's own
		chmod 1770 "$T/spool/drop"
		printf 'Subject: other\n\nbody\n' | setpriv --reuid=$other --regid=$RUNGID --clear-groups -- env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" erin@example.net
		wait_for 10 bash -c "[ \$(ls '$T/spool/queue' | wc -l) -eq 3 ]"
		ro() { setpriv --reuid=$other --regid=$other --clear-groups -- "$TOP/relayq" -C "$T/conf" "$@"; }
		out=$(ro queue)
		check "other user: queue lists only their message" grep -qxE -- '-- [0-9]+ Kbytes in 1 Request\.' <<<"$(tail -1 <<<"$out")"
		check "other user: queue does not show alice's mail" test "$(grep -c alice <<<"$out")" -eq 0
		out=$(ro show "$a" 2>&1); rc=$?
		check "other user: show of another's message: exit 66" test $rc -eq 66
		check "other user: show says not theirs" grep -qF "$a: no such message in the queue (or not yours)" <<<"$out"
		out=$(ro delete "$a" 2>&1); rc=$?
		check "other user: delete of another's message refused" test $rc -eq 66 -a -f "$T/spool/queue/$a"
		out=$(ro status)
		check "other user: status counts their messages only" grep -qx "queue: 1 message(s) of yours, 0 held" <<<"$out"
		check "other user: status hides the error text" grep -qF "(details for root and group relayq)" <<<"$out"
		out=$(ro delete all); rc=$?
		check "other user: delete all removes only their own" test $rc -eq 0 -a "$out" = "1 message(s) deleted" -a "$(queue_count)" -eq 2
		check "other user: ctl socket is 0666, the daemon decides" test "$(stat -c %a "$T/spool/ctl")" = 666
		check "other user: cannot read queued mail" sh -c "! setpriv --reuid=$other --regid=$other --clear-groups -- cat '$T/spool/queue/$a' 2>/dev/null"
		check "other user: cannot read the secret file" sh -c "! setpriv --reuid=$other --regid=$other --clear-groups -- cat '$T/pw' 2>/dev/null"
		chmod 1730 "$T/spool/drop"
		check "other user: cannot list the drop directory" sh -c "! setpriv --reuid=$other --regid=$other --clear-groups -- ls '$T/spool/drop' 2>/dev/null"
		check "other user: cannot list the queue directory" sh -c "! setpriv --reuid=$other --regid=$other --clear-groups -- ls '$T/spool/queue' 2>/dev/null"
	else
		echo "# skip other-user queue tests: need root to run as a second uid"
	fi

	out=$(rq delete "$a"); rc=$?
	check "relayq delete ID: exit 0" test $rc -eq 0 -a "$out" = "$a: deleted"
	check "relayq delete ID: queue and state files gone" test ! -e "$T/spool/queue/$a" -a ! -e "$T/spool/state/$a"
	check "relayq delete ID: removed logged" log_has "$a: removed\$"
	rq hold "$b" >/dev/null
	out=$(rq delete all); rc=$?
	check "relayq delete all: held ones too" test $rc -eq 0 -a "$out" = "1 message(s) deleted"
	check "relayq delete all: queue empty" test "$(rq queue)" = "Mail queue is empty"
	stop_daemon
}

test_queue_daemon_down
test_queue_commands

# active_queue_limit: the daemon holds at most that many messages in
# memory; the rest stay in queue/, are listed, shown, held and deleted
# like the others, and are taken in as the table empties, each delivered
# exactly once.
test_queue_active_limit() {
	local out rc ids i n
	new_env qlimit
	start_smtpd && stop_pid "$T/smtpd.pid" || { not_ok "active limit: set-up" "see $T"; return; }
	write_conf "active_queue_limit 4" "retry_min 1h" "retry_max 1h"
	start_daemon || { not_ok "active limit: set-up" "see $T"; return; }
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf 'Subject: limit %s\n\nbody\n' "$i" | submit user@example.net
	done
	check "active limit: all ten queued" wait_for 15 sh -c "[ \$(ls '$T/spool/queue' | wc -l) -eq 10 ]"
	check "active limit: only the four held in memory are tried" wait_for 15 log_count_ge 'status=deferred' 4
	check "active limit: no more tries than that" test "$(grep -c 'status=deferred' "$T/log")" -eq 4
	out=$(rq queue); rc=$?
	check "active limit: relayq queue lists all ten" test $rc -eq 0 -a "$(tail -1 <<<"$out" | sed 's/.* in //')" = "10 Requests."
	ids=$(queued_ids)
	n=0
	for i in $ids; do rq show "$i" >/dev/null && n=$((n + 1)); done
	check "active limit: relayq show finds every one" test $n -eq 10
	set -- $ids
	check "active limit: hold of any one" test "$(rq hold "${10}")" = "${10}: placed on hold"
	check "active limit: delete of any one" test "$(rq delete "$9")" = "$9: deleted"
	stop_daemon
	SMTPD_PORT=$PORT start_smtpd || { not_ok "active limit: smarthost" "see $T"; return; }
	start_daemon || { not_ok "active limit: restart" "see $T"; return; }
	check "active limit: start-up says some wait past the limit" wait_for 10 log_has 'started: .*, 8 message\(s\) queued \(past active_queue_limit: taken in as others leave\)$'
	out=$(rq flush); rc=$?
	# (those never tried go at once, so the count depends on timing)
	check "active limit: flush answers" test $rc -eq 0 -a -n "$(grep -x '[0-9]* message(s) scheduled for delivery now' <<<"$out")"
	check "active limit: all eight delivered" wait_for 30 dir_empty "$T/spool/queue"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		n=$(grep -lx "Subject: limit $i"$'\r' "$T"/mail/*.msg 2>/dev/null | wc -l)
		case $n in 0|1) ;; *) break ;; esac
	done
	check "active limit: none delivered twice" test "$n" -le 1
	check "active limit: eight at the smarthost" test "$(ls "$T"/mail/*.env | wc -l)" -eq 8
	check "active limit: the held one is still held" test -e "$T/spool/hold/${10}"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_queue_active_limit

# A flush of the whole queue while the table is full and a pass over
# queue/ is under way (a message left the table, one from queue/ took its
# place): the messages still in queue/, tried before and due in an hour,
# are due now too when they are taken in, not an hour later.
test_queue_flush_mid_pass() {
	local first
	new_env qflush
	start_smtpd && stop_pid "$T/smtpd.pid" || { not_ok "flush mid-pass: set-up" "see $T"; return; }
	write_conf "retry_min 1h" "retry_max 1h"
	start_daemon || { not_ok "flush mid-pass: set-up" "see $T"; return; }
	for i in 1 2 3 4 5 6 7 8 9 10; do
		printf 'Subject: pass %s\n\nbody\n' "$i" | submit user@example.net
	done
	check "flush mid-pass: all ten tried once" wait_for 30 log_count_ge 'status=deferred' 10
	stop_daemon
	write_conf "active_queue_limit 4" "retry_min 1h" "retry_max 1h"
	restart_daemon || { not_ok "flush mid-pass: restart" "see $T"; return; }
	# the table holds the first four in directory order (ls -U reads it
	# as the daemon does); deleting one of them starts a pass over queue/
	first=$(ls -U "$T/spool/queue" | head -1)
	check "flush mid-pass: delete one held in memory" test "$(rq delete "$first")" = "$first: deleted"
	SMTPD_PORT=$PORT start_smtpd || { not_ok "flush mid-pass: smarthost" "see $T"; return; }
	check "flush mid-pass: flush answers" test "$(rq flush)" = "9 message(s) scheduled for delivery now"
	check "flush mid-pass: all nine delivered" wait_for 30 dir_empty "$T/spool/queue"
	check "flush mid-pass: nine at the smarthost" test "$(ls "$T"/mail/*.env 2>/dev/null | wc -l)" -eq 9
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_queue_flush_mid_pass
