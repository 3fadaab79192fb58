# One limit contract: sendmail refuses, before it exits 0, every queue
# file the daemon's parser would refuse (relayq-spool(5) LIMITS), so that
# no accepted message is later found unreadable.
# Sourced by test/check.sh, which provides test/lib.sh.

test_limits() {
	local out rc n
	new_env limits
	start_smtpd && write_conf && start_daemon || { not_ok "limits: set-up" "see $T"; return; }
	# 10 001 recipients on the command line: one more than a file holds
	out=$(printf 'Subject: many\n\nbody\n' | submit -f a@example.org $(seq -f 'r%05g@example.net' 1 10001) 2>&1); rc=$?
	check "limits: 10001 argv recipients: exit 65 (EX_DATAERR)" test $rc -eq 65
	check "limits: 10001 argv recipients: says which limit" grep -qF "sendmail: cannot queue the message: more than 10000 recipients (10001 recipients; the limits of a queue file are 10000 recipients and 1048576 bytes of envelope; send it in parts)" <<<"$out"
	check "limits: 10001 argv recipients: nothing left in drop/" dir_empty "$T/spool/drop"
	# 2 300 recipients with 480-character local parts: over 1 MiB
	out=$(printf 'Subject: long\n\nbody\n' | submit -f a@example.org $(for n in $(seq 1 2300); do printf '%s%04d@example.net ' "$(head -c 476 /dev/zero | tr '\0' x)" $n; done) 2>&1); rc=$?
	check "limits: 1 MiB envelope: exit 65 (EX_DATAERR)" test $rc -eq 65
	check "limits: 1 MiB envelope: says which limit" grep -qF "sendmail: cannot queue the message: envelope larger than 1048576 bytes (2300 recipients;" <<<"$out"
	check "limits: 1 MiB envelope: nothing left in drop/" dir_empty "$T/spool/drop"
	# at the limit: accepted and delivered (10 000 RCPTs, one message)
	printf 'Subject: at the limit\n\nbody\n' | submit -f a@example.org $(seq -f 'r%05g@example.net' 1 10000); rc=$?
	check "limits: 10000 argv recipients: exit 0" test $rc -eq 0
	check "limits: 10000 argv recipients: delivered" wait_for 120 log_count_ge 'to=<r[0-9]+@example.net>.*status=sent' 10000
	check "limits: nothing quarantined or removed" sh -c "! grep -q 'drop/.*removed' '$T/log'"
	check "limits: spool empty afterwards" wait_for 10 spool_clean
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_limits
