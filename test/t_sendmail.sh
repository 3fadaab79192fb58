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
	check "sendmail: the error is logged too" log_has 'sendmail\[[0-9]+\]: no recipients given'
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
	check "sendmail: missing drop directory: says the daemon creates it" grep -qxF "sendmail: $T/spool/drop does not exist: the relayq daemon creates it when it first starts (start relayq drain before the first message), and make install does (relayq check tells)" <<<"$out"
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

# opt_rc WANT NAME ARGS...: exit code of sendmail ARGS with a small message
opt_rc() {
	local want=$1 name=$2 rc
	shift 2
	rm -f "$T/spool/drop"/*
	printf 'Subject: opt\n\nbody\n' | submit "$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ $rc -eq "$want" ]; then ok "options: $name -> $want"
	else not_ok "options: $name -> $want" "got $rc: $(cat "$T/err")"; fi
}

# the envelope recipients of the one queued file, space-separated
opt_rcpts() { sed -n '/^M$/q; s/^R //p' "$T/spool/drop"/* | tr '\n' ' '; }

test_sendmail_options() {
	local rc out o
	new_env options
	PORT=1 write_conf "aliases /dev/null"	# not the host's /etc/aliases
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	# accepted and ignored: each still queues the message to root only
	for o in "-oem" "-oep" "-oeq" "-oee" "-odi" "-odb" "-odq" "-om" "-o7" \
	    "-o8" "-oAx" "-o x" "-h 30" "-h30" "-L tag" "-O Timeout=1" "-A m" \
	    "-G" "-U" "-m" "-n" "-c" "-x" "-p smtp" "-e x" "-d 0.1" \
	    "-X $T/xlog" "-X$T/xlog" "-D $T/dlog" "-Uim" "-bm"; do
		# shellcheck disable=SC2086 # split on purpose: option and value
		opt_rc 0 "$o (accepted, ignored)" $o root
		check "options: $o: only root is a recipient" test "$(opt_rcpts)" = "root@example.org "
	done
	check "options: -X file never opened (CVE-2016-10033)" test ! -e "$T/xlog"
	check "options: -D file never opened" test ! -e "$T/dlog"

	# rejected, with a usage line
	for o in "-bd" "-bl" "-bz" "-bpx" "-qS" "-qfoo" "-Q" "-k" "-B 9BIT" \
	    "-N maybe" "-N never,success" "-N success,success" "-R body" \
	    "-V a+b"; do
		# shellcheck disable=SC2086
		opt_rc 64 "$o rejected" $o root
		check "options: $o: usage line" grep -q '^usage: sendmail' "$T/err"
		check "options: $o: nothing queued" test -z "$(ls -A "$T/spool/drop")"
	done
	opt_rc 64 "-f missing its value" -f
	check "options: -f missing its value: message" grep -q 'option requires an argument' "$T/err"
	opt_rc 64 "CR in -F rejected" -F $'a\rb' root
	opt_rc 64 "LF in a recipient rejected" $'root\nBcc: x@y'
	opt_rc 64 "-bp with recipients" -bp root
	check "options: -bp with recipients: message" grep -q 'takes no recipients' "$T/err"
	opt_rc 64 "-qI with a bad id" -qIxyz

	# -q variants: an interval is meaningless here and ignored
	opt_rc 0 "-q30m ignored" -q30m
	opt_rc 0 "-q1h ignored" -q1h

	# stop at -- and at the first non-option; clusters; glued values
	# (a recipient starting with "-" is skipped: t_postfixcompat.sh)
	opt_rc 64 "-- ends the options" -i -- -t
	check "options: after --, -t is a recipient (and skipped)" grep -q 'recipient "-t": bad address syntax' "$T/err"
	opt_rc 0 "first non-option ends the options" root -t
	check "options: after a recipient, -t is one too (and skipped)" test "$(opt_rcpts)" = "root@example.org "
	opt_rc 0 "-o consumes one argument" -o ignored root
	check "options: -o value is not a recipient" test "$(opt_rcpts)" = "root@example.org "
	opt_rc 0 "cluster with a glued value (-tif a@x)" -tifann@example.com bob@example.com
	check "options: -tif: sender from the cluster" grep -qx 'S ann@example.com' "$T/spool/drop"/*
	opt_rc 0 "-r is -f" -r '<ann@example.com>' root
	check "options: -r: angle brackets stripped" grep -qx 'S ann@example.com' "$T/spool/drop"/*
	opt_rc 0 "-f '<>' is the null sender" -f '<>' root
	check "options: -f <>: S record empty" grep -qx 'S ' "$T/spool/drop"/*
	opt_rc 0 "address list in one argument, trailing comma" 'a@x.org, Bob <b@y.org>,'
	check "options: address list split" test "$(opt_rcpts)" = "a@x.org b@y.org "
	opt_rc 0 "-V envid recorded" -V 'env-1' root
	check "options: -V: V record" grep -qx 'V env-1' "$T/spool/drop"/*
	opt_rc 0 "-N never recorded per recipient" -N never root bob@example.com
	check "options: -N never: one N record per recipient" test "$(grep -c '^N NEVER$' "$T/spool/drop"/*)" = 2
	opt_rc 0 "-R full recorded" -R full root
	check "options: -R full: D record" grep -qx 'D FULL' "$T/spool/drop"/*
	opt_rc 0 "-B 7BIT recorded" -B 7BIT root
	check "options: -B 7BIT: B record" grep -qx 'B 7BIT' "$T/spool/drop"/*

	opt_rc 0 "UTF-8 recipient" $'j\xc3\xb6rg@example.com'
	check "options: UTF-8 address recorded for SMTPUTF8" grep -qx 'F SMTPUTF8' "$T/spool/drop"/*
	opt_rc 0 "ASCII only" root
	check "options: no F record for ASCII addresses" test -z "$(grep '^F ' "$T/spool/drop"/*)"

	# -v: queue id and envelope on stderr
	opt_rc 0 "-v" -v root
	check "options: -v prints the queue id" grep -qE '^sendmail: queued as [0-9A-V]{16}, from=<' "$T/err"
	check "options: -v prints the rewritten recipient" grep -qx 'sendmail: to=<root@example.org>, orig_to=<root>' "$T/err"

	# -bv: the recipients after qualification, nothing queued
	opt_rc 0 "-bv" -bv root bob@example.com
	check "options: -bv output" cmp -s "$T/out" <(printf 'root -> root@example.org\nbob@example.com -> bob@example.com\n')
	check "options: -bv queues nothing" test -z "$(ls -A "$T/spool/drop")"

	# mode from argv[0]; an explicit -b wins
	ln -sf "$TOP/sendmail" "$T/mailq"
	ln -sf "$TOP/sendmail" "$T/newaliases"
	out=$(as_user env RELAYQ_CONFIG="$T/conf" "$T/mailq" 2>&1); rc=$?
	check "options: mailq -> -bp (daemon down: from the files, 0)" test $rc -eq 0
	check "options: mailq says why" grep -q '^mailq: warning: the relayq daemon is not running' <<<"$out"
	printf 'x\n' | as_user env RELAYQ_CONFIG="$T/conf" "$T/mailq" -bm root; rc=$?
	check "options: mailq -bm queues (explicit -b wins)" test $rc -eq 0
	out=$(as_user env RELAYQ_CONFIG="$T/conf" "$T/mailq" root 2>&1); rc=$?
	check "options: mailq with recipients -> 64" test $rc -eq 64
	out=$(submit -q 2>&1); rc=$?
	check "options: -q: daemon down -> 69" test $rc -eq 69
	check "options: -q says why" grep -q 'queue run: the relayq daemon is not running' <<<"$out"
}

test_sendmail_aliases() {
	local rc out
	new_env aliases
	printf 'postmaster: root\nroot: admin, ops@example.com\nadmin: alice@example.com\nweb: "|/usr/bin/handler"\nbroken\n' > "$T/aliases"
	PORT=1 write_conf "aliases $T/aliases" "admin_address hostmaster@example.net"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	out=$(submit -bi 2>"$T/err"); rc=$?
	check "aliases: -bi with problems still exits 0" test $rc -eq 0
	check "aliases: -bi summary" test "$out" = "$T/aliases: 4 aliases, 2 problems"
	check "aliases: -bi names file and line of each problem" cmp -s "$T/err" <(printf 'sendmail: %s:4: web: "|/usr/bin/handler": pipes, files and :include: are not supported by a relay, skipped\nsendmail: %s:5: no '"':'"' after the alias name\n' "$T/aliases" "$T/aliases")
	ln -sf "$TOP/sendmail" "$T/newaliases"
	out=$(as_user env RELAYQ_CONFIG="$T/conf" "$T/newaliases" 2>/dev/null); rc=$?
	check "aliases: newaliases is -bi" test $rc -eq 0 -a "$out" = "$T/aliases: 4 aliases, 2 problems"

	out=$(submit -bv postmaster www-data bob@example.com 2>&1); rc=$?
	check "aliases: -bv exit 0" test $rc -eq 0
	check "aliases: -bv shows aliases and admin_address" test "$out" = "postmaster -> alice@example.com
postmaster -> ops@example.com
www-data -> hostmaster@example.net
bob@example.com -> bob@example.com"

	printf 'Subject: a\n\nx\n' | submit root@localhost web 2>"$T/err"; rc=$?
	check "aliases: queued, exit 0" test $rc -eq 0
	check "aliases: envelope R/O records" test "$(sed -n '/^M$/q; /^[RO] /p' "$T/spool/drop"/*)" = "R alice@example.com
O root@localhost
R ops@example.com
O root@localhost
R hostmaster@example.net
O web"
	check "aliases: skipped pipe logged" log_has 'alias "web": target "\|/usr/bin/handler" skipped'

	chmod 000 "$T/aliases"
	out=$(submit -bi 2>&1); rc=$?
	check "aliases: -bi on an unreadable file -> 78" test $rc -eq 78
	check "aliases: -bi unreadable names the file" grep -q "alias file $T/aliases: Permission denied" <<<"$out"
	rm -f "$T/spool/drop"/*
	printf 'Subject: a\n\nx\n' | submit root 2>"$T/err"; rc=$?
	check "aliases: unreadable file does not stop a submission" test $rc -eq 0
	check "aliases: unreadable: admin_address still applies" grep -qx 'R hostmaster@example.net' "$T/spool/drop"/*
}

# the header of the one queued file, CR stripped, Received/Date/Message-ID out
sp_header() {
	sed -n '/^M$/,/^\r$/p' "$T/spool/drop"/* | tr -d '\r' | sed '1d;$d' |
	    grep -v -e '^Received:' -e '^	id ' -e '^Date:' -e '^Message-ID:'
}

test_sender_policy() {
	local rc
	new_env policy
	PORT=1 write_conf "force_sender app@ses.example" "force_from yes" \
	    "aliases /dev/null"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	printf 'From: Cron Daemon <root>\nSubject: s\n\nx\n' | submit -f someone@example.com root; rc=$?
	check "policy: queued" test $rc -eq 0
	check "policy: force_sender overrides -f" grep -qx 'S app@ses.example' "$T/spool/drop"/*
	check "policy: force_from: display name kept, original to Reply-To" test "$(sp_header)" = "From: Cron Daemon <app@ses.example>
Subject: s
Reply-To: Cron Daemon <root@example.org>"
	rm -f "$T/spool/drop"/*
	printf 'From: a@example.com\nReply-To: r@example.com\n\nx\n' | submit root; rc=$?
	check "policy: existing Reply-To kept" test "$(sp_header)" = "From: app@ses.example
Reply-To: r@example.com"
	rm -f "$T/spool/drop"/*
	printf 'Subject: s\n\nx\n' | submit -f '<>' root; rc=$?
	check "policy: the null sender stays null" grep -qx 'S ' "$T/spool/drop"/*
	rm -f "$T/spool/drop"/*

	PORT=1 write_conf "force_sender not an address"
	printf 'x\n' | submit root 2>"$T/err"; rc=$?
	check "policy: bad force_sender -> 78" test $rc -eq 78
	check "policy: bad force_sender message" grep -q "$T/conf: force_sender: bad address" "$T/err"

	# a uid without a passwd entry (containers)
	if [ "$(id -u)" = 0 ] && ! getent passwd 54321 >/dev/null; then
		chmod 1777 "$T/spool/drop"
		PORT=1 write_conf "default_sender app@example.net" "aliases /dev/null"
		chmod 666 "$T/log"
		printf 'Subject: s\n\nx\n' | setpriv --reuid=54321 --regid=54321 --clear-groups -- env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" root; rc=$?
		check "policy: uid without passwd entry: queued" test $rc -eq 0
		check "policy: default_sender is the sender" grep -qx 'S app@example.net' "$T/spool/drop"/*
		check "policy: U record names uid54321" grep -qx 'U 54321 uid54321' "$T/spool/drop"/*
		check "policy: generated From uses default_sender" grep -q '^From: app@example.net' "$T/spool/drop"/*
		check "policy: missing passwd entry logged" log_has 'uid 54321 has no passwd entry: sender <app@example.net>'
		rm -f "$T/spool/drop"/*
		PORT=1 write_conf "aliases /dev/null"
		chmod 666 "$T/log"
		printf 'Subject: s\n\nx\n' | setpriv --reuid=54321 --regid=54321 --clear-groups -- env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" root; rc=$?
		check "policy: no default_sender: uid<N>@domain" grep -qx 'S uid54321@example.org' "$T/spool/drop"/*
		check "policy: no default_sender: the log says how to choose" log_has 'uid 54321 has no passwd entry: sender <uid54321@example.org> \(set default_sender to choose it\)'
	fi
}

# bs_session: run sendmail -bs -odb -oem on the SMTP input in $1 (printf %b)
bs_session() {
	printf '%b' "$1" | submit -bs -odb -oem 2>"$T/err" | sed -E 's/queued as [0-9A-V]{16}/queued as ID/'
}

test_sendmail_bs() {
	local out want rc f
	new_env bs
	PORT=1 write_conf "max_message_size 2K" "aliases /dev/null"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	out=$(bs_session 'EHLO client\r\nMAIL FROM:<ann@example.com> BODY=8BITMIME\r\nRCPT TO:<root>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nSubject: bs\r\n\r\n..leading dot\r\nline\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<carol@example.com>\r\nDATA\r\nsecond\r\n.\r\nQUIT\r\n')
	want=$(printf '220 %s ESMTP relayq 0.1.0 (sendmail -bs)\r\n250-%s\r\n250-PIPELINING\r\n250-SIZE 2048\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ID\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as ID\r\n221 2.0.0 Bye\r' "$(hostname)" "$(hostname)")
	check "bs: session transcript, exact bytes (pipelined)" test "$out" = "$want"
	check "bs: two messages queued" test "$(ls "$T/spool/drop" | wc -l)" = 2
	f=$(grep -l '^S ann@example.com$' "$T/spool/drop"/*)
	check "bs: first envelope" test "$(sed -n '/^M$/q; /^[SRO] /p' "$f")" = "S ann@example.com
R root@example.org
O root
R bob@example.com"
	check "bs: MAIL ... BODY=8BITMIME is the queue file's B record" grep -qx 'B 8BITMIME' "$f"
	check "bs: dot-unstuffed on input, stuffed again in the queue" grep -q $'^\\.\\.leading dot\r$' "$f"
	check "bs: the lone dot is not in the message" test -z "$(sed -n '/^M$/,$p' "$f" | grep -x $'\\.\r')"
	f=$(grep -l '^S $' "$T/spool/drop"/*)
	check "bs: MAIL FROM:<> is the null sender" test -n "$f"
	check "bs: the id in the reply is the queued file" grep -q "^I $(basename "$f")$" "$f"

	out=$(bs_session 'HELO c\r\nRCPT TO:<a@x.org>\r\nDATA\r\nMAIL FROM:a@x.org\r\nMAIL FROM:<a b@x>\r\nMAIL FROM:<a@x.org> SIZE=99999\r\nMAIL FROM:<a@x.org> FOO=1\r\nMAIL FROM:<a@x.org>\r\nMAIL FROM:<a@x.org>\r\nDATA\r\nRCPT TO:<bad address>\r\nVRFY root\r\nNOOP\r\nETRN x\r\nRSET\r\nQUIT\r\n')
	want=$(printf '220 %s ESMTP relayq 0.1.0 (sendmail -bs)\r\n250 %s\r\n503 5.5.1 Error: need MAIL command\r\n503 5.5.1 Error: need MAIL command\r\n501 5.5.4 Syntax: MAIL FROM:<address>\r\n553 5.1.7 Bad sender address syntax\r\n552 5.3.4 Message size exceeds fixed limit\r\n555 5.5.4 Unsupported option: FOO=1\r\n250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n554 5.5.1 Error: no valid recipients\r\n553 5.1.3 Bad recipient address syntax\r\n252 2.0.0 Cannot VRFY, but will take the message\r\n250 2.0.0 Ok\r\n502 5.5.2 Error: command not recognized\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r' "$(hostname)" "$(hostname)")
	check "bs: error replies, exact bytes" test "$out" = "$want"

	rm -f "$T/spool/drop"/*
	out=$(bs_session 'MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nSubject: cut\r\n\r\nno end')
	check "bs: input ends inside DATA: nothing queued" test -z "$(ls -A "$T/spool/drop")"
	check "bs: input ends inside DATA: no 250 after 354" test "$(printf '%s' "$out" | tail -1)" = $'354 End data with <CR><LF>.<CR><LF>\r'

	out=$(bs_session "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n$(for i in $(seq 51); do printf 'Received: from x\\r\\n'; done)\r\nloop\r\n.\r\nQUIT\r\n")
	check "bs: mail loop rejected with 554, the session goes on" grep -q $'^554 5.6.0 Message rejected: bad data, too large or a mail loop (see the log)\r$' <<<"$out"
	check "bs: mail loop: nothing queued" test -z "$(ls -A "$T/spool/drop")"
	out=$(bs_session "MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n$(head -c 5000 /dev/zero | tr '\0' x)\r\n.\r\nQUIT\r\n")
	check "bs: over max_message_size: 552" grep -q '^552 5.3.4 Message size exceeds fixed limit' <<<"$out"
	check "bs: over max_message_size: nothing queued" test -z "$(ls -A "$T/spool/drop")"

	rmdir "$T/spool/drop"
	out=$(bs_session 'MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n')
	check "bs: spool unusable: 451, never 250 (250 only after commit)" grep -q $'^451 4.3.0 Message not queued (exit 73): try again later\r$' <<<"$out"
	check "bs: spool unusable: no 250 for the message" test -z "$(grep '^250 2.0.0 Ok: queued' <<<"$out")"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
}

# End to end: what the test smarthost receives for a cron report to root
# with aliases, admin_address, masquerading and force_from.
test_rewrite_delivered() {
	new_env rewrite
	printf 'root: admin\nadmin: ops@example.net\n' > "$T/aliases"
	start_smtpd && write_conf "add_received no" "aliases $T/aliases" \
	    "admin_address hostmaster@example.net" "force_sender app@example.org" \
	    "force_from yes" && start_daemon || { not_ok "rewrite: set-up" "see $T"; return; }
	printf 'From: root (Cron Daemon)\nTo: root, www-data@localhost\nCc: Fail2Ban <fail2ban>\nDate: x\nMessage-ID: <m@x>\nSubject: Cron <root@%s> job\n\n.\nout\n' "$(hostname)" | submit -FCronDaemon -i -B8BITMIME -oem root www-data
	check "rewrite: delivered" wait_for 15 test -s "$T/mail/1.env"
	check "rewrite: smarthost got the forced sender" grep -qx 'mail=MAIL FROM:<app@example.org> SIZE=[0-9]* BODY=8BITMIME' "$T/mail/1.env"
	check "rewrite: smarthost got the aliased recipients" \
	    test "$(grep '^rcpt=' "$T/mail/1.env" | tr '\n' ' ')" = "rcpt=RCPT TO:<ops@example.net> rcpt=RCPT TO:<hostmaster@example.net> "
	check "rewrite: smarthost got exactly these bytes" cmp -s "$T/mail/1.msg" <(printf 'From: app@example.org (Cron Daemon)\r\nTo: root@example.org, www-data@example.org\r\nCc: Fail2Ban <fail2ban@example.org>\r\nDate: x\r\nMessage-ID: <m@x>\r\nSubject: Cron <root@%s> job\r\nReply-To: root@example.org (Cron Daemon)\r\n\r\n.\r\nout\r\n' "$(hostname)")
	check "rewrite: orig_to logged for the alias" log_has 'to=<ops@example.net>, orig_to=<root>'
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# Property: for random input (CR, LF, dots, NUL, 8-bit, long lines), -bs
# queues exactly the data that -bm -i queues for the same message, so
# the -bs path inherits every rule and the unit property test of -bm.
bs_norm() {	# the queued data without what differs between two runs
	sed -n '/^M$/,$p' "$1" | grep -av -e '^Received: by ' -e '^	id ' \
	    -e '^Date: ' -e '^Message-ID: <' -e '^E [0-9]* '
}

test_bs_property() {
	local i f g bad=0
	new_env bsprop
	PORT=1 write_conf "aliases /dev/null"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	for i in $(seq 30); do
		# seeded, so a failure names an input that fails every time
		awk -v seed=$i 'BEGIN { srand(seed); n = int(rand() * 3000)
		    for (k = 0; k < n; k++) printf "%d", int(rand() * 10) }' |
		    tr '0123456789' 'a.\r\n\000\377 x.\n' > "$T/in"
		[ $((i % 5)) = 0 ] && head -c 2500 /dev/zero | tr '\000' y >> "$T/in"
		# SMTP data ends with a CRLF before the dot (only
		# <CR><LF>.<CR><LF> ends it): give both paths the same complete
		# last line (an unterminated one is a unit test of its own)
		[ -s "$T/in" ] && perl -0777 -pi -e 's/\r?\n?\z/\r\n/' "$T/in"
		rm -f "$T/spool/drop"/*
		submit -i -f a@x.org b@y.org < "$T/in" 2>/dev/null || { bad=1; break; }
		f=$(ls "$T/spool/drop")
		mv "$T/spool/drop/$f" "$T/bm"
		# SMTP dot-stuffing of the same input
		{ printf 'MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n'
		  sed 's/^\./../' "$T/in"
		  printf '.\r\nQUIT\r\n'; } |
		    submit -bs >/dev/null 2>&1
		g=$(ls "$T/spool/drop")
		[ -n "$g" ] && cmp -s <(bs_norm "$T/bm") <(bs_norm "$T/spool/drop/$g") || { bad=$i; cp "$T/in" "$T/failed.in"; break; }
	done
	check "bs property: 30 seeded random messages queue the same data via -bs and -bm -i (first failing seed: $bad)" test "$bad" = 0
}

test_sendmail_errors
test_message_repair
test_sendmail_options
test_sendmail_aliases
test_sender_policy
test_sendmail_bs
test_rewrite_delivered
test_bs_property
