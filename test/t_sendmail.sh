# The front end: exit codes, error messages, message repair.
# Sourced by test/check.sh, which provides test/lib.sh.

test_sendmail_errors() {
	local out rc n
	new_env errors
	start_smtpd && write_conf || { not_ok "errors: set-up" "see $T"; return; }
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	out=$(printf 'Subject: x\n\n' | submit 2>&1); rc=$?
	check "sendmail: no recipients -> 64" test $rc -eq 64
	check "sendmail: no recipients message" grep -q 'no recipients' <<<"$out"
	out=$(printf 'Subject: x\n\nbody\n' | submit -t 2>&1); rc=$?
	check "sendmail -t without any recipient -> 64" test $rc -eq 64
	out=$(submit -Q x </dev/null 2>&1); rc=$?
	check "sendmail: unknown option -> 64" test $rc -eq 64
	check "sendmail: unknown option prints usage" grep -q '^usage: sendmail' <<<"$out"
	echo "bogus_key 1" >> "$T/conf"
	n=$(wc -l < "$T/conf")
	out=$(printf 'x\n' | submit root 2>&1); rc=$?
	check "sendmail: bad config -> 78" test $rc -eq 78
	check "sendmail: bad config names file and line" grep -qF "$T/conf:$n: unknown key \"bogus_key\"" <<<"$out"
	write_conf
	out=$(printf 'x\n' | as_user "$TOP/sendmail" -C "$T/conf" root 2>&1); rc=$?
	if [ "$RUNUID" != 0 ]; then
		check "sendmail: -C refused for non-root -> 77" test $rc -eq 77
	fi
	out=$(printf 'x\n' | submit -f $'a\rb@x' root 2>&1); rc=$?
	check "sendmail: CR in an option value -> 64" test $rc -eq 64
	rmdir "$T/spool/drop"
	out=$(printf 'x\n' | submit root 2>&1); rc=$?
	check "sendmail: missing drop directory -> 73" test $rc -eq 73
	check "sendmail: missing drop directory message names the path" grep -q "cannot create queue file $T/spool/drop/" <<<"$out"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	out=$( (trap '' XFSZ; ulimit -f 1; head -c 100000 /dev/zero | tr '\0' 'a' | fold -w 70 | submit root) 2>&1); rc=$?
	check "sendmail: write error (file size limit) -> 75" test $rc -eq 75
	check "sendmail: failed write leaves nothing in drop" test -z "$(ls -A "$T/spool/drop")"
	printf 'Subject: big\n\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" > "$WORK/big"
	echo "max_message_size 1K" >> "$T/conf"
	out=$(submit root < "$WORK/big" 2>&1); rc=$?
	check "sendmail: over max_message_size -> 65" test $rc -eq 65
	check "sendmail: over max_message_size leaves nothing" test -z "$(ls -A "$T/spool/drop")"
	write_conf
	printf '' | submit root; rc=$?
	check "sendmail: empty input is queued" test $rc -eq 0
	stop_pid "$T/smtpd.pid"
}

test_message_repair() {
	new_env repair
	start_smtpd && write_conf "add_received no" && start_daemon || { not_ok "repair: set-up" "see $T"; return; }
	printf 'Subject: repair\r\nDate: x\r\nMessage-ID: <m@x>\r\nFrom: a@example.org\r\n\r\nnul\0byte\r\nbare\rcr\nmixed\r\n.\r\nafter dot\n' | submit -i root
	check "repair: delivered" wait_for 15 test -s "$T/mail/1.env"
	check "repair: NUL dropped, bare CR a line break, lone dot kept with -i" \
	    cmp -s "$T/mail/1.msg" <(printf 'Subject: repair\r\nDate: x\r\nMessage-ID: <m@x>\r\nFrom: a@example.org\r\n\r\nnulbyte\r\nbare\r\ncr\r\nmixed\r\n.\r\nafter dot\r\n')
	check "repair: NUL drop is logged" log_has ': dropped 1 NUL bytes from the message'
	check "repair: bare CR repair is logged" log_has ': replaced 1 bare CR characters'
	printf 'Subject: dot\nDate: x\nMessage-ID: <m2@x>\nFrom: a@example.org\n\nbefore\n.\nnot sent\n' | submit root
	check "lone dot without -i ends the message" wait_for 15 test -s "$T/mail/2.env"
	check "lone dot without -i: the rest is dropped" \
	    cmp -s "$T/mail/2.msg" <(printf 'Subject: dot\r\nDate: x\r\nMessage-ID: <m2@x>\r\nFrom: a@example.org\r\n\r\nbefore\r\n')
	{ printf 'Subject: long\nDate: x\nMessage-ID: <m3@x>\nFrom: a@example.org\n\n'; head -c 2500 /dev/zero | tr '\0' y; printf '\n'; } | submit root
	check "long line: delivered" wait_for 15 test -s "$T/mail/3.env"
	check "long line: folded at 998 octets with CRLF SPACE" \
	    sh -c "awk 'length > 999 {exit 1}' '$T/mail/3.msg' && [ \$(tr -cd y < '$T/mail/3.msg' | wc -c) -eq 2500 ] && grep -q '^ y' '$T/mail/3.msg'"
	check "long line: folding is logged" log_has ': folded 1 lines longer than 998 octets'
	stop_daemon
}

test_sendmail_errors
test_message_repair
