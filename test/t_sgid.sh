# The front end under a real set-group-ID install (root only): a copy of
# test/sendmail-sgid, group G, mode 2755, run by a user U.  The process
# that reads the SMTP session holds no trace of the group (real,
# effective and saved gid are U's): only the opener (src/smdrop.c) keeps
# it, for the open(2).  And the retry on a clash of queue file names
# works: before the opener, the second try called setegid after
# setresgid had given the group up (exit 71).
# Sourced by test/check.sh.

# sgid_id SECONDS MICROSECONDS PID: the queue id spool_make_id makes
sgid_id() {
	/usr/bin/python3 -c '
import sys
a = "0123456789ABCDEFGHIJKLMNOPQRSTUV"
def enc(v, n): return "".join(a[(v >> (5 * (n - 1 - i))) & 31] for i in range(n))
s, us, p = map(int, sys.argv[1:])
print(enc(s, 7) + enc(us, 4) + enc(p, 5))' "$@"
}

sgid_setup() {
	G=4270 U=4271
	new_env "$1"
	chown -R $RUNUID:$G "$T"
	mkdir -m 1730 "$T/spool/drop" && chown $RUNUID:$G "$T/spool/drop" && chmod 1730 "$T/spool/drop"
	PORT=1 write_conf && chmod 644 "$T/conf" || return 1
	mkdir -p "$TOP/test/sgid-etc" && cp "$T/conf" "$TOP/test/sgid-etc/relayq.conf"
	mkdir -m 755 "$T/bin" && cp "$TOP/test/sendmail-sgid" "$T/bin/sendmail" &&
	    chown root:$G "$T/bin/sendmail" && chmod 2755 "$T/bin/sendmail"
}

test_sgid_bs_group() {
	local pid gids rc
	[ "$(id -u)" = 0 ] || return 0
	sgid_setup sgidbs || { not_ok "setgid -bs: set-up" "see $T"; return; }
	mkfifo -m 666 "$T/in"
	setpriv --reuid=$U --regid=$U --clear-groups -- "$T/bin/sendmail" -bs < "$T/in" > "$T/out" 2>"$T/err" &
	pid=$!
	exec 3>"$T/in"
	wait_for 10 grep -q '^220 ' "$T/out"
	gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' /proc/$pid/status)
	check "setgid -bs: the session holds no relayq group, not even saved (Gid: $gids)" \
	    test "$gids" = "$U $U $U $U"
	printf 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: sgid\r\n\r\nx\r\n.\r\nQUIT\r\n' >&3
	exec 3>&-
	wait $pid; rc=$?
	check "setgid -bs: the message is queued (250, exit 0)" \
	    test $rc -eq 0 -a -n "$(grep '^250 2.0.0 Ok: queued as' "$T/out")"
	check "setgid -bs: the file is in drop/, the caller's uid in it" \
	    grep -qx "U $U uid$U" "$T/spool/drop/$(sed -n 's/^250 2.0.0 Ok: queued as \([0-9A-V]*\).*/\1/p' "$T/out")"
	rm -rf "$TOP/test/sgid-etc"
}

test_sgid_clash() {
	local id0 id1 id2 rc
	[ "$(id -u)" = 0 ] || return 0
	sgid_setup sgidclash || { not_ok "setgid clash: set-up" "see $T"; return; }
	id0=$(sgid_id 1700000000 0 4242)
	id1=$(sgid_id 1700000000 1 4242)
	id2=$(sgid_id 1700000000 2 4242)
	: > "$T/spool/drop/$id0"
	: > "$T/spool/drop/$id1"
	printf 'Subject: clash\n\nx\n' |
	    setpriv --reuid=$U --regid=$U --clear-groups -- env RELAYQ_TEST_ID=1700000000.4242 "$T/bin/sendmail" root 2>"$T/err"; rc=$?
	check "setgid clash: two names taken, sendmail tries on and exits 0" test $rc -eq 0
	check "setgid clash: queued under the third name" grep -qx "I $id2" "$T/spool/drop/$id2"
	check "setgid clash: the planted files untouched" test ! -s "$T/spool/drop/$id0" -a ! -s "$T/spool/drop/$id1"
	rm -rf "$TOP/test/sgid-etc"
}

test_sgid_bs_group
test_sgid_clash
