# No leftovers: a state update that fails on a full disk removes its
# state/ID.tmp at once (not only at the next start), and relayq check
# reports stray files in every spool directory.
# Sourced by test/check.sh, which provides test/lib.sh.

leftover_tmp() { ls "$T/spool/state" | grep -q '\.tmp$'; }

test_leftovers_disk_full() {
	local out rc id
	[ "$(id -u)" = 0 ] || { echo "# skip leftovers disk full: needs root for a tmpfs"; return; }
	new_env leftovers
	if ! mount -t tmpfs -o size=512k,mode=755,uid=$RUNUID,gid=$RUNGID tmpfs "$T/spool"; then
		echo "# skip leftovers disk full: cannot mount tmpfs here"
		return
	fi
	# queue_minfree 1: the reserve out of the way of this small spool
	start_smtpd --reply 'RCPT=450 4.2.0 try later' && write_conf "queue_minfree 1" && start_daemon || { not_ok "leftovers: set-up" "see $T"; umount "$T/spool"; return; }
	printf 'Subject: deferred\n\nbody\n' | submit user@example.net
	check "leftovers: first attempt deferred" wait_for 15 log_has 'status=deferred'
	id=$(ls "$T/spool/queue")
	# fill it up, as root so that it stays full; the retries now cannot
	# save their state
	dd if=/dev/zero of="$T/spool/filler" bs=4k 2>/dev/null
	n=$(grep -c "$id: saving delivery state" "$T/log")
	as_user "$TOP/relayq" -C "$T/conf" flush >/dev/null
	check "leftovers: a state update failed on the full disk" wait_for 15 log_count_ge "$id: saving delivery state: No space left on device" $((n + 1))
	check "leftovers: no state/ID.tmp left behind" sh -c "! ls '$T/spool/state' | grep -q '\.tmp$'"
	check "leftovers: daemon still running" kill -0 "$(cat "$T/daemon.pid")"
	rm -f "$T/spool/filler"
	stop_daemon
	# what a crash inside a state update leaves, and files nobody made
	: > "$T/spool/state/$id.tmp"
	: > "$T/spool/state/0000000000000000"
	: > "$T/spool/drop/core"
	: > "$T/spool/failed/notes.txt"
	chown $RUNUID "$T"/spool/*/*
	out=$(as_user "$TOP/relayq" -C "$T/conf" check); rc=$?
	check "leftovers: relayq check exits 78" test $rc -eq 78
	check "leftovers: check reports state/ID.tmp" grep -qxF "relayq check: $T/spool/state/$id.tmp: stray file: left by a state update that did not finish (the daemon removes it when it starts; or remove it)" <<<"$out"
	check "leftovers: check reports an orphan state file" grep -qxF "relayq check: $T/spool/state/0000000000000000: stray file: the state of a message that is gone (the daemon removes it when it starts; or remove it)" <<<"$out"
	check "leftovers: check reports a stray file in drop/" grep -qxF "relayq check: $T/spool/drop/core: stray file: not a name the daemon makes there; it removes it (remove it)" <<<"$out"
	check "leftovers: check reports a stray file in failed/" grep -qxF "relayq check: $T/spool/failed/notes.txt: stray file: not a name the daemon makes there; it ignores it (remove it)" <<<"$out"
	check "leftovers: check counts them" test "$(tail -1 <<<"$out")" = "relayq check: 4 problem(s) found"
	stop_pid "$T/smtpd.pid"
	umount "$T/spool"
}

test_leftovers_disk_full
