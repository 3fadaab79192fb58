# Scale under the real sandbox: 10 000 queued messages, every control
# command run against the sandboxed daemon, the daemon alive after each,
# then every message delivered exactly once (counted at the test
# smarthost by its unique subject).  Before, a listing of 57 or more
# messages made the daemon die of SIGSYS (glibc's qsort calls sysinfo:
# src/util.c, util_sort).  Sourced by test/check.sh.

scale_rq() { as_user "$TOP/relayq" -C "$T/conf" "$@"; }
scale_mailq() { as_user env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" "$@"; }

# scale_alive WHAT: the daemon still runs, and never logged a violation
scale_alive() {
	check "scale: daemon alive after $1" kill -0 "$(cat "$T/daemon.pid")"
}

test_scale() {
	local n=10000 out rc a b c
	new_env scale
	# tried once, due in an hour, the smarthost down: all stay queued
	start_smtpd && stop_pid "$T/smtpd.pid" &&
	    write_conf "retry_min 1h" "retry_max 1h" && mkqueue $n scale later ||
	    { not_ok "scale: set-up" "see $T"; return; }
	start_daemon || { not_ok "scale: daemon" "see $T"; return; }
	sandbox_sanitizer_build ||
	    check "scale: the daemon is sandboxed" log_has 'sandbox: Landlock ABI [0-9]+, seccomp allow-list$'
	out=$(scale_rq queue); rc=$?
	check "scale: relayq queue lists all $n" test $rc -eq 0 -a -n "$(tail -1 <<<"$out" | grep -E "^-- [0-9]+ Kbytes in $n Requests\.$")"
	scale_alive "relayq queue"
	a=$(grep -m1 '^1LH' <<<"$out" | cut -c1-16)
	check "scale: relayq queue lists oldest first" test "$a" = 1LH0000000000000
	out=$(scale_mailq -bp); rc=$?
	check "scale: sendmail -bp lists all $n" test $rc -eq 0 -a "$(grep -c '^1LH' <<<"$out")" -eq $n
	out=$(as_user env RELAYQ_CONFIG="$T/conf" bash -c "exec -a mailq '$TOP/sendmail'"); rc=$?
	check "scale: mailq lists all $n" test $rc -eq 0 -a "$(grep -c '^1LH' <<<"$out")" -eq $n
	scale_alive "mailq and sendmail -bp"
	out=$(scale_rq status); rc=$?
	check "scale: relayq status answers" test $rc -eq 0 -a -n "$(grep -E "^queue: $n message\(s\)" <<<"$out")"
	scale_alive "relayq status"
	a=1LH0000000000017 b=1LH0000000009998 c=1LH0000000004242
	out=$(scale_rq show $a); rc=$?
	check "scale: relayq show" test $rc -eq 0 -a -n "$(grep -F 'user@example.net' <<<"$out")"
	check "scale: relayq hold" test "$(scale_rq hold $b)" = "$b: placed on hold"
	check "scale: held one in hold/" test -e "$T/spool/hold/$b"
	check "scale: relayq release" test "$(scale_rq release $b)" = "$b: released from hold"
	check "scale: relayq delete" test "$(scale_rq delete $c)" = "$c: deleted"
	scale_alive "show, hold, release, delete"
	# the smarthost back on the same port; flush makes everything due
	SMTPD_PORT=$PORT start_smtpd || { not_ok "scale: smarthost" "see $T"; return; }
	out=$(scale_rq flush); rc=$?
	check "scale: relayq flush" test $rc -eq 0 -a -n "$(grep -x '[0-9]* message(s) scheduled for delivery now' <<<"$out")"
	check "scale: all delivered" wait_for 120 dir_empty "$T/spool/queue"
	check "scale: each exactly once at the smarthost, the deleted one not" \
	    wait_for 10 delivered_once scale $((n - 1))
	check "scale: the deleted one never sent" sh -c "! grep -aqx 'Subject: scale 004242.' '$T'/mail/*.msg"
	scale_alive "delivering $n"
	check "scale: no seccomp violation logged" sh -c "! grep -q 'sandbox: killed' '$T/log'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_scale
