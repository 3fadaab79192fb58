# Scheduling under trouble: 452 (the rest in a new transaction), and a
# smarthost outage that neither spins the CPU nor holds mail back once
# the smarthost is back.  Sourced by test/check.sh (test/lib.sh).

test_452_new_transaction() {
	new_env r452
	start_smtpd --reply 'RCPT:c@=452 4.5.3 too many recipients' && write_conf "retry_min 1h" "retry_max 1h" && start_daemon || { not_ok "452: set-up" "see $T"; return; }
	printf 'Subject: x\n\nbody\n' | submit a@example.net c@example.net b@example.net
	check "452: recipients before and after it delivered" wait_for 15 test -s "$T/mail/1.env"
	check "452: deferred with the server's reply" wait_for 5 log_has 'to=<c@example.net>, .*dsn=4\.5\.3, status=deferred \(host localhost\[127\.0\.0\.1\]:[0-9]+ said: 452 4\.5\.3 too many recipients\)'
	check "452: the rest tried again in a new transaction, same session" \
	    test "$(grep -c '^C: MAIL FROM' "$T/transcript")" -eq 2 -a "$(grep -c '^C: EHLO' "$T/transcript")" -eq 2
	check "452: the new transaction names only the 452 recipient" \
	    test "$(sed -n '/^C: MAIL FROM/h; /^C: RCPT/H; ${x;p}' "$T/transcript" | grep -c '^C: RCPT')" -eq 1
	check "452: no new round without progress (one 452 per try)" test "$(grep -c 'to=<c@example.net>' "$T/log")" -eq 1
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# utime+stime of a process, in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

test_outage() {
	local pid t0 t1 w0 w1 i
	new_env outage
	start_smtpd && stop_pid "$T/smtpd.pid"	# a port nobody listens on
	write_conf "retry_min 1s" "retry_max 2s" && start_daemon || { not_ok "outage: set-up" "see $T"; return; }
	pid=$(cat "$T/daemon.pid")
	for i in 1 2 3 4 5; do printf 'Subject: %s\n\nbody\n' $i | submit user$i@example.net; done
	wait_for 10 log_count_ge 'status=deferred' 5
	t0=$(cpu_ticks "$pid"); w0=$(date +%s%N)
	# several backoff rounds of every message
	check "outage: messages retried with backoff" wait_for 20 log_count_ge 'status=deferred' 20
	t1=$(cpu_ticks "$pid"); w1=$(date +%s%N)
	check "outage: daemon CPU stays small (<= 5% of $(( (w1 - w0) / 1000000 )) ms, used $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) )) ms)" \
	    test $(( (t1 - t0) * 1000 / $(getconf CLK_TCK) * 20 )) -le $(( (w1 - w0) / 1000000 ))
	check "outage: one connection attempt per run, not per message" \
	    test "$(grep -c 'user1@' "$T/log")" -le "$(( $(grep -c 'status=deferred' "$T/log") / 5 + 2 ))"
	stop_daemon
	# long backoff now; the smarthost comes back; new mail must not wait
	# and the backlog must follow at once
	write_conf "retry_min 1h" "retry_max 1h"
	start_daemon || { not_ok "outage: restart" "see $T"; return; }
	wait_for 10 log_count_ge 'status=deferred' 25
	SMTPD_PORT=$PORT start_smtpd
	printf 'Subject: new\n\nbody\n' | submit new@example.net
	check "outage over: new mail delivered at once" wait_for 10 log_has 'to=<new@example.net>, .*status=sent'
	check "outage over: logged" wait_for 5 log_has 'smarthost reachable again: retrying [0-9]+ queued message\(s\) now'
	check "outage over: backlog delivered without waiting for its backoff" wait_for 10 dir_empty "$T/spool/queue"
	check "outage over: six messages at the smarthost" test -s "$T/mail/6.env"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_452_new_transaction
test_outage
