# Control commands say what happened: a hold or delete of a message that
# a delivery worker is sending cannot be done at once.  It exits 75 with
# the reason, and the daemon applies it when the attempt ends, unless the
# attempt delivered the message.
# Sourced by test/check.sh, which provides test/lib.sh.

ctl_as_user() { as_user "$TOP/relayq" -C "$T/conf" "$@"; }

test_ctl_in_flight() {
	local a b out rc
	new_env ctl-inflight
	start_smtpd --hang-after DATA && write_conf "max_sessions 2" "timeout_data 8s" "timeout_command 8s" && start_daemon || { not_ok "ctl in flight: set-up" "see $T"; return; }
	printf 'Subject: stuck a\n\nbody\n' | submit user@example.net
	check "ctl in flight: a worker is in DATA" wait_for 15 grep -q '^C: DATA' "$T/transcript"
	a=$(ls "$T/spool/queue")
	out=$(ctl_as_user delete "$a" 2>&1); rc=$?
	check "ctl in flight: delete exits 75 (EX_TEMPFAIL)" test $rc -eq 75
	check "ctl in flight: delete says what will happen" test "$out" = "relayq: delete: $a: being delivered now: it will be deleted when this delivery attempt ends, unless the attempt delivers it (the log says which)"
	printf 'Subject: stuck b\n\nbody\n' | submit user@example.net
	check "ctl in flight: the second message is in DATA" wait_for 30 sh -c "[ \$(grep -c '^C: DATA' '$T/transcript') -ge 2 ]"
	b=$(ls "$T/spool/queue" | grep -v "$a")
	out=$(ctl_as_user hold "$b" 2>&1); rc=$?
	check "ctl in flight: hold exits 75 (EX_TEMPFAIL)" test $rc -eq 75
	check "ctl in flight: hold says what will happen" grep -qF "$b: being delivered now: it will be placed on hold when this delivery attempt ends" <<<"$out"
	check "ctl in flight: the attempts end deferred" wait_for 30 sh -c "grep -q '$a: to=.*status=deferred' '$T/log' && grep -q '$b: to=.*status=deferred' '$T/log'"
	check "ctl in flight: delete applied afterwards" wait_for 10 log_has "^.* $a: deleted by uid $RUNUID\$"
	check "ctl in flight: deleted message gone from the spool" wait_for 10 sh -c "! ls '$T/spool/queue' '$T/spool/hold' '$T/spool/state' | grep -q '$a'"
	check "ctl in flight: hold applied afterwards" wait_for 10 test -e "$T/spool/hold/$b"
	check "ctl in flight: held message not in queue/" test ! -e "$T/spool/queue/$b"
	out=$(ctl_as_user delete "$b" 2>&1); rc=$?
	check "ctl: delete of a held message exits 0" test $rc -eq 0
	check "ctl: delete of a held message says deleted" test "$out" = "$b: deleted"
	out=$(ctl_as_user delete "$b" 2>&1); rc=$?
	check "ctl: delete of a message not queued exits 66 (EX_NOINPUT)" test $rc -eq 66
	check "ctl in flight: daemon alive" kill -0 "$(cat "$T/daemon.pid")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_ctl_in_flight
