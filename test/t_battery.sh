# The crash-and-fault battery: concurrent submitters, each message with a
# unique stamp, while the daemon and its delivery workers are killed with
# SIGKILL again and again, the smarthost restarts, and answers 4xx for a
# while and 5xx to one recipient throughout.  Afterwards every message
# whose sendmail exited 0 reached its recipient or was bounced to its
# sender; a message arrives twice only for a kill or restart that fell
# after its final dot (at most one per session in flight each time); the
# spool is empty and relayq check finds nothing wrong.
# Sourced by test/check.sh, which provides test/lib.sh.

# battery_submitter N: 8 messages, every 4th to the refused recipient
battery_submitter() {
	local i s to
	for i in 1 2 3 4 5 6 7 8; do
		s="battery $1.$i"
		to=user@example.net
		[ $((i % 4)) -eq 0 ] && to=perm@example.net
		printf 'Subject: %s\n\n%s\n' "$s" "$s" | submit "$to"
		echo "$s $to $?" >> "$T/accepted.$1"
	done
}

# the smarthost: $1 = 4xx to every recipient, else 5xx to perm@ only
battery_smtpd() {
	stop_pid "$T/smtpd.pid"
	if [ "$1" = 4xx ]; then
		SMTPD_PORT=$PORT start_smtpd --reply 'RCPT=451 4.3.0 try again later'
	else
		SMTPD_PORT=$PORT start_smtpd --reply 'RCPT:perm@example.net=550 5.1.1 no such user'
	fi
}

# stored messages for stamp $1: not bounces ($2 = plain) or bounces
battery_count() {
	local f n=0 bounce
	for f in $(grep -lx "Subject: $1"$'\r' "$T"/mail/*.msg 2>/dev/null); do
		grep -qx 'mail=MAIL FROM:<> SIZE=[0-9]*' "${f%.msg}.env" && bounce=1 || bounce=0
		if [ "$2" = plain ] && [ $bounce = 0 ]; then n=$((n + 1)); fi
		if [ "$2" = bounce ] && [ $bounce = 1 ]; then n=$((n + 1)); fi
	done
	echo $n
}

test_battery() {
	local k worker kills=0 restarts=0 s to rc n lost=0 dups=0 bad=0 total=0 out subs=""
	new_env battery
	start_smtpd --reply 'RCPT:perm@example.net=550 5.1.1 no such user' && write_conf "max_sessions 2" && start_daemon || { not_ok "battery: set-up" "see $T"; return; }
	for k in 1 2 3 4; do battery_submitter $k & subs="$subs $!"; done
	for k in 1 2 3 4 5 6 7 8; do
		sleep "0.$((5 + RANDOM % 5))"	# load, not a wait: the faults land anywhere
		case $((k % 4)) in
		1|3)	kill_daemon; kills=$((kills + 1)); restart_daemon ;;
		2)	worker=$(pgrep -P "$(cat "$T/daemon.pid")" | head -1)
			[ -n "$worker" ] && kill -9 "$worker" && kills=$((kills + 1)) ;;
		0)	battery_smtpd $([ $k = 4 ] && echo 4xx); restarts=$((restarts + 1)) ;;
		esac
	done
	wait $subs
	battery_smtpd
	kill -0 "$(cat "$T/daemon.pid")" 2>/dev/null || restart_daemon
	as_user "$TOP/relayq" -C "$T/conf" flush >/dev/null
	check "battery: spool empty at the end" wait_for 60 spool_clean
	cat "$T"/accepted.* > "$T/accepted"
	while read -r s1 s2 to rc; do
		s="$s1 $s2"
		total=$((total + 1))
		[ "$rc" = 0 ] || { bad=$((bad + 1)); continue; }
		if [ "$to" = perm@example.net ]; then
			n=$(battery_count "$s" bounce)
		else
			n=$(battery_count "$s" plain)
		fi
		[ "$n" -eq 0 ] && { lost=$((lost + 1)); echo "# battery: lost: $s"; }
		[ "$n" -gt 1 ] && dups=$((dups + n - 1))
	done < "$T/accepted"
	check "battery: 32 messages submitted, all accepted (exit 0)" test "$total" -eq 32 -a "$bad" -eq 0
	check "battery: every accepted message delivered or bounced" test $lost -eq 0
	check "battery: duplicates ($dups) <= (kills $kills + restarts $restarts) x 2 sessions" test $dups -le $(((kills + restarts) * 2))
	check "battery: nothing quarantined, no state/*.tmp" sh -c "[ -z \"\$(ls -A '$T/spool/corrupt')\" ] && ! ls '$T/spool/state' | grep -q tmp"
	out=$(as_user "$TOP/relayq" -C "$T/conf" check); rc=$?
	check "battery: relayq check finds no problems" test $rc -eq 0
	check "battery: the daemon is alive" kill -0 "$(cat "$T/daemon.pid")"
	echo "# battery: $kills kills, $restarts smarthost restarts, $dups duplicate(s)"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_battery
