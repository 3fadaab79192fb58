# queue_minfree: sendmail refuses new mail (exit 75, nothing written,
# a log line) while the spool's file system has less free space than it
# keeps (0: 1.5 x max_message_size).  On a small tmpfs, root only; the
# mount is undone whatever happens.  Before the fix the message was
# queued into the last free megabyte.  Sourced by test/check.sh.

test_minfree() {
	local rc
	[ "$(id -u)" = 0 ] || return 0
	new_env minfree
	mount -t tmpfs -o size=4M,mode=755 tmpfs "$T/spool" ||
	    { not_ok "queue_minfree: tmpfs mount" "see $T"; return; }
	mkdir -p "$T/spool/drop" && chown -R $RUNUID:$RUNGID "$T/spool"
	PORT=1 write_conf "max_message_size 1M"
	# 1.5 MB must stay free; leave about 1 MB
	dd if=/dev/zero of="$T/spool/fill" bs=1M count=3 2>/dev/null
	printf 'Subject: full\n\nx\n' | submit root 2>"$T/err"; rc=$?
	check "queue_minfree: nearly full spool, sendmail exits 75" test $rc -eq 75
	check "queue_minfree: says how much is free and kept" \
	    grep -qE "^sendmail: message not queued: the spool $T/spool has [0-9]+ KB free, less than the 1536 KB kept free \(queue_minfree 0: 1.5 x max_message_size\); try again when an administrator has made room$" "$T/err"
	check "queue_minfree: logged" log_has "message not queued: the spool $T/spool has [0-9]+ KB free"
	check "queue_minfree: nothing left in drop/" dir_empty "$T/spool/drop"
	rm -f "$T/spool/fill"
	printf 'Subject: room\n\nx\n' | submit root 2>"$T/err"; rc=$?
	check "queue_minfree: with room again, queued" test $rc -eq 0 -a "$(ls "$T/spool/drop" | wc -l)" -eq 1
	PORT=1 write_conf "max_message_size 1M" "queue_minfree 5M"
	printf 'Subject: kept\n\nx\n' | submit root 2>"$T/err"; rc=$?
	check "queue_minfree: an explicit value above the free space refuses" \
	    test $rc -eq 75 -a -n "$(grep -F 'KB kept free (queue_minfree);' "$T/err")"
	umount "$T/spool" || umount -l "$T/spool"
}

test_minfree
