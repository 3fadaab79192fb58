# Where relayq's sendmail differed from Postfix's (3.7, as a null client)
# and now behaves like it: one check per difference found by the
# differential test (test/interop.sh, test/diff/).  Most need no daemon:
# the committed file stays in drop/ and is read from there.  Sourced by
# test/check.sh, which provides test/lib.sh.

# pfc_queued: the one file in drop/ with CR shown as "\r", or a complaint
pfc_queued() {
	local f
	f=$(ls "$T/spool/drop")
	[ "$(echo "$f" | wc -w)" = 1 ] || { echo "expected one queued file, got: $f"; return 1; }
	sed 's/\r/\\r/g' "$T/spool/drop/$f"
}
pfc_nqueued() { ls "$T/spool/drop" | wc -l; }
pfc_user=$(getent passwd "$RUNUID" | cut -d: -f1)

# pfc_body: the body of the queued message (after the header's empty line,
# up to the E trailer), CR shown as "\r"
pfc_body() {
	pfc_queued | awk '
		st == 2 && /^E [0-9]+ / { exit }
		st == 2 { print; next }
		st == 1 && $0 == "\\r" { st = 2; next }
		/^M$/ { st = 1 }'
}

# pfc_submit ARGS... < message: sendmail as the test user, stderr in
# $T/err, exit code in PFC_RC, drop/ emptied first
pfc_submit() {
	rm -f "$T/spool/drop"/*
	as_user env -u NAME RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" "$@" \
	    2>"$T/err"
	PFC_RC=$?
}

# pfc_received N: a message with N Received fields
pfc_received() {
	local i
	for ((i = 0; i < $1; i++)); do echo "Received: from h$i by h$((i + 1))"; done
	printf 'Subject: loop\n\nx\n'
}

test_postfixcompat_submission() {
	local got i

	new_env postfixcompat
	printf 'postmaster: root\n' >"$T/aliases"
	PORT=1 write_conf "aliases $T/aliases"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	# 1. -f "Name <address>": Postfix takes the address; relayq said
	# "-f: bad address" and the caller lost its mail
	pfc_submit -f "Alice Example <alice@example.org>" bob@example.org < <(printf 'Subject: 1\n\nx\n')
	check "postfixcompat 1: -f \"Name <addr>\" exits 0" test "$PFC_RC" -eq 0
	check "postfixcompat 1: -f \"Name <addr>\" gives the envelope sender addr" \
	    grep -qx 'S alice@example.org' <(pfc_queued)
	pfc_submit -f "A <a@example.org>, B <b@example.org>" bob@example.org < <(printf 'Subject: 1\n\nx\n')
	check "postfixcompat 1: -f with two mailboxes is refused (64), nothing queued" \
	    eval '[ "$PFC_RC" -eq 64 ] && [ "$(pfc_nqueued)" -eq 0 ] && grep -q -- "-f: bad address" "$T/err"'

	# 2. options after the recipients are recipients starting with "-":
	# Postfix refuses them (bad address syntax) and sends to the others
	pfc_submit bob@example.org -i -fsender@example.net < <(printf 'Subject: 2\n\nx\n')
	check "postfixcompat 2: options after the recipients: exit 0" test "$PFC_RC" -eq 0
	got=$(pfc_queued | grep '^R ')
	check "postfixcompat 2: only the real recipient is queued (got: $got)" \
	    test "$got" = "R bob@example.org"
	check "postfixcompat 2: the skipped ones are named on stderr" \
	    grep -q 'recipient "-i": bad address syntax' "$T/err"
	pfc_submit -- -i < <(printf 'Subject: 2\n\nx\n')
	check "postfixcompat 2: no recipient left: refused, nothing queued" \
	    eval '[ "$PFC_RC" -ne 0 ] && [ "$(pfc_nqueued)" -eq 0 ]'
	pfc_submit -f -i bob@example.org < <(printf 'Subject: 2\n\nx\n')
	check "postfixcompat 2: -f with an option as its value is refused (64)" \
	    eval '[ "$PFC_RC" -eq 64 ] && [ "$(pfc_nqueued)" -eq 0 ]'

	# two unquoted '@': Postfix says "bad address syntax" (64); a
	# quoted '@' in the local part is an address
	for i in 'x@@y' 'a@b@c' 'Bob <a@b@c>'; do
		pfc_submit bob@example.org "$i" < <(printf 'Subject: at\n\nx\n')
		check "postfixcompat: recipient \"$i\": refused (64), nothing queued" \
		    eval '[ "$PFC_RC" -eq 64 ] && [ "$(pfc_nqueued)" -eq 0 ] && grep -q "bad address syntax" "$T/err"'
	done
	pfc_submit '"a@b"@example.net' < <(printf 'Subject: at\n\nx\n')
	check "postfixcompat: recipient \"a@b\"@example.net: queued" \
	    eval '[ "$PFC_RC" -eq 0 ] && grep -qx "R \"a@b\"@example.net" <(pfc_queued)'

	# -t with Resent-From and no Resent-To/Cc/Bcc: Postfix takes the
	# recipients from To, Cc and Bcc (Resent- ones only when present)
	pfc_submit -t < <(printf 'From: ann@example.org\nTo: bob@example.org\nCc: carol@example.org\nResent-From: dave@example.org\nSubject: r\n\nx\n')
	got=$(pfc_queued | grep '^R ' | tr '\n' '|')
	check "postfixcompat: -t, Resent-From only: recipients from To and Cc (got: $got)" \
	    eval '[ "$PFC_RC" -eq 0 ] && [ "$got" = "R bob@example.org|R carol@example.org|" ]'
	# 3. CR CR LF (PHP mail(), Windows) is one line end, in the header and
	# in the body: no added blank lines, no trailing space
	pfc_submit bob@example.org < <(printf 'Subject: crcrlf\r\r\nX-A: b\r\r\n\r\r\nline 1\r\r\nline 2\r\r\n')
	check "postfixcompat 3: CRCRLF: exit 0" test "$PFC_RC" -eq 0
	check "postfixcompat 3: CRCRLF: header fields without a trailing space" \
	    eval 'pfc_queued | grep -qx "Subject: crcrlf\\\\r" && pfc_queued | grep -qx "X-A: b\\\\r"'
	got=$(pfc_body | tr '\n' '|')
	check "postfixcompat 3: CRCRLF: body lines without blank lines between (got: $got)" \
	    test "$got" = 'line 1\r|line 2\r|'
	pfc_submit bob@example.org < <(printf 'Subject: cr\n\na\r\r\rb\n')
	got=$(pfc_body | tr '\n' '|')
	check "postfixcompat 3: CRs that no LF follows still end lines (got: $got)" \
	    test "$got" = 'a\r|\r|\r|b\r|'

	# 4. a final "." without a newline ends the input (without -i)
	pfc_submit bob@example.org < <(printf 'Subject: dot\n\nbody\n.')
	got=$(pfc_body | tr '\n' '|')
	check "postfixcompat 4: a final \".\" without newline is not sent (got: $got)" \
	    test "$got" = 'body\r|'
	pfc_submit -i bob@example.org < <(printf 'Subject: dot\n\nbody\n.')
	got=$(pfc_body | tr '\n' '|')
	check "postfixcompat 4: with -i it is a line of the body (got: $got)" \
	    test "$got" = 'body\r|..\r|'

	# 5. -bh and -bH: exit 0, nothing read, nothing queued
	for i in -bh -bH; do
		pfc_submit "$i" bob@example.org < <(printf 'Subject: bh\n\nx\n')
		check "postfixcompat 5: $i exits 0 and queues nothing" \
		    eval '[ "$PFC_RC" -eq 0 ] && [ "$(pfc_nqueued)" -eq 0 ]'
	done

	# 6. the hop limit: 50 Received fields, counting the one we add, are
	# a loop (Postfix's hopcount_limit, which counts its own the same way)
	pfc_submit bob@example.org < <(pfc_received 50)
	check "postfixcompat 6: 50 Received fields: refused (65), nothing queued" \
	    eval '[ "$PFC_RC" -eq 65 ] && [ "$(pfc_nqueued)" -eq 0 ] && grep -q "mail loop: with ours, 50 or more Received" "$T/err"'
	pfc_submit bob@example.org < <(pfc_received 49)
	check "postfixcompat 6: 49 Received fields and ours: refused (65)" \
	    eval '[ "$PFC_RC" -eq 65 ] && [ "$(pfc_nqueued)" -eq 0 ]'
	pfc_submit bob@example.org < <(pfc_received 48)
	check "postfixcompat 6: 48 Received fields and ours: queued" \
	    eval '[ "$PFC_RC" -eq 0 ] && [ "$(pfc_nqueued)" -eq 1 ]'

	# a generated From: has the display name as it is when it is words of
	# atext, as Postfix writes it, quoted otherwise
	pfc_submit -F "Cron Daemon" bob@example.org < <(printf 'Subject: f\n\nx\n')
	check "postfixcompat: -F \"Cron Daemon\": From: Cron Daemon <...>" \
	    grep -qx "From: Cron Daemon <$pfc_user@example.org>\\\\r" <(pfc_queued)
	pfc_submit -F "J. Doe" bob@example.org < <(printf 'Subject: f\n\nx\n')
	check "postfixcompat: -F \"J. Doe\": From: \"J. Doe\" <...>" \
	    grep -qx "From: \"J. Doe\" <$pfc_user@example.org>\\\\r" <(pfc_queued)

	# 9. the error names the recipient, not "--"; -bv shows every name
	pfc_submit "$(printf 'bob@example.org\nX-Injected: 1')" < <(printf 'x\n')
	check "postfixcompat 9: a recipient with a line break is named in the error" \
	    eval '[ "$PFC_RC" -eq 64 ] && grep -q "recipient \"bob@example.org\": contains a line break" "$T/err"'
	got=$(as_user env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" -bv root postmaster 2>&1 | tr '\n' '|')
	check "postfixcompat 9: -bv root postmaster prints both (got: $got)" \
	    test "$got" = 'root -> root@example.org|postmaster -> root@example.org|'
	# a name given twice is two arguments: Postfix reports each
	got=$(as_user env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" -bv root postmaster root 2>&1 | tr '\n' '|')
	check "postfixcompat 9: -bv root postmaster root prints three lines (got: $got)" \
	    test "$got" = 'root -> root@example.org|postmaster -> root@example.org|root -> root@example.org|'
}

# 8. ORCPT: a bare local name is qualified; a non-ASCII address uses the
# utf-8 type of RFC 6533 in an SMTPUTF8 transaction.  The test smarthost
# offers DSN and SMTPUTF8 here (implicit TLS: one EHLO).
test_postfixcompat_orcpt() {
	new_env postfixcompat-orcpt
	start_smtpd --implicit --raw 'EHLO=250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n' || return
	write_conf "tls implicit"
	start_daemon || return
	printf 'Subject: orcpt\n\nx\n' | submit root $'j\303\266rg+x@example.org' ann@example.org
	check "postfixcompat 8: delivered" wait_for 15 eval 'ls "$T/mail/"*.env >/dev/null 2>&1'
	check "postfixcompat 8: ORCPT of a bare local name is qualified" \
	    grep -qx 'rcpt=RCPT TO:<root@example.org> ORCPT=rfc822;root@example.org' "$T/mail/"*.env
	check "postfixcompat 8: ORCPT of a non-ASCII address has the utf-8 type" \
	    grep -qxF "rcpt=RCPT TO:<j$(printf '\303\266')rg+x@example.org> ORCPT=utf-8;j\\x{F6}rg\\x{2B}x@example.org" "$T/mail/"*.env
	check "postfixcompat 8: an ASCII address keeps rfc822" \
	    grep -qx 'rcpt=RCPT TO:<ann@example.org> ORCPT=rfc822;ann@example.org' "$T/mail/"*.env
	stop_daemon
}

# 7. UTF-8 in the header only (cron's and mailx's "Subject: café"): the
# queue file says so (F UTF8HEADER); the daemon asks for SMTPUTF8 when the
# smarthost offers it (RFC 6532, as Postfix does) and sends the message
# as 8-bit data when it does not.  Latin-1 in a header is not UTF-8.
test_postfixcompat_utf8header() {
	local ehlo='EHLO=250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 AUTH PLAIN LOGIN\r\n'

	new_env postfixcompat-utf8
	PORT=1 write_conf
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	pfc_submit root < <(printf 'Subject: caf\303\251\n\nascii body\n')
	check "postfixcompat 7: UTF-8 in the header only: F UTF8HEADER queued" \
	    grep -qx 'F UTF8HEADER' <(pfc_queued)
	pfc_submit root < <(printf 'Subject: caf\351\n\nascii body\n')
	check "postfixcompat 7: Latin-1 in the header: no F record" \
	    eval '[ "$PFC_RC" -eq 0 ] && ! pfc_queued | grep -q "^F "'
	pfc_submit j$'\303\266'rg@example.org < <(printf 'Subject: caf\303\251\n\nx\n')
	check "postfixcompat 7: a non-ASCII address: F SMTPUTF8, not UTF8HEADER" \
	    eval 'pfc_queued | grep -qx "F SMTPUTF8" && ! pfc_queued | grep -q UTF8HEADER'
	rm -f "$T/spool/drop"/*

	start_smtpd --implicit --raw "$ehlo" || return
	write_conf "tls implicit"
	start_daemon || return
	printf 'Subject: caf\303\251\n\nascii body\n' | submit root
	check "postfixcompat 7: offered: delivered" wait_for 15 test -s "$T/mail/1.env"
	check "postfixcompat 7: offered: MAIL FROM asks for SMTPUTF8 (and 8BITMIME)" \
	    grep -qx "mail=MAIL FROM:<$pfc_user@example.org> BODY=8BITMIME SMTPUTF8" "$T/mail/1.env"
	stop_daemon
	stop_pid "$T/smtpd.pid"
	rm -rf "$T/mail" && mkdir "$T/mail"

	start_smtpd --implicit --raw "${ehlo//250-SMTPUTF8\\r\\n/}" || return
	write_conf "tls implicit"
	start_daemon || return
	printf 'Subject: caf\303\251\n\nascii body\n' | submit root
	check "postfixcompat 7: not offered: delivered all the same" wait_for 15 test -s "$T/mail/1.env"
	check "postfixcompat 7: not offered: MAIL FROM without SMTPUTF8" \
	    grep -qx "mail=MAIL FROM:<$pfc_user@example.org> BODY=8BITMIME" "$T/mail/1.env"
	stop_daemon
}

test_postfixcompat_submission
test_postfixcompat_orcpt
test_postfixcompat_utf8header
