# sender_canonical: the envelope sender and the From, Sender and
# Reply-To fields as the smarthost receives them (a cron message from
# root, a display name, @domain wildcards), the order against
# force_sender and force_from, the bounce address of a mapped local
# sender, and what sendmail and relayq check say about a bad map.
# Sourced by test/check.sh, which provides test/lib.sh.

canon_user=$(getent passwd "$RUNUID" | cut -d: -f1)

# canon_msg SUBJECT: the file the smarthost stored for that subject
canon_msg() { grep -l -a "^Subject: $1"$'\r'"\$" "$T"/mail/*.msg 2>/dev/null | head -1; }
canon_arrived() { [ -n "$(canon_msg "$1")" ]; }
# canon_env SUBJECT: its .env
canon_env() { local m; m=$(canon_msg "$1"); echo "${m%.msg}.env"; }

canon_write_map() {
	cat > "$T/canonical" <<-EOF
	# who the mail is from, as the world sees it
	root			ops@example.com
	$canon_user		alice@example.com
	@host.example.org	@example.com
	@localhost		@example.net
	EOF
	chmod 644 "$T/canonical"
}

test_canon_smarthost() {
	local m e
	new_env canon
	canon_write_map
	start_smtpd && write_conf "sender_canonical $T/canonical" &&
	    start_daemon || { not_ok "canon: set-up" "see $T"; return; }

	# Debian cron's call, as root would make it: the envelope is root
	printf 'From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@vm> run-parts /etc/cron.hourly\n\nok\n' |
	    submit -FCronDaemon -i -oem -f root root
	check "canon: cron: delivered" wait_for 15 canon_arrived "Cron <root@vm> run-parts /etc/cron.hourly"
	m=$(canon_msg "Cron <root@vm> run-parts /etc/cron.hourly")
	e=$(canon_env "Cron <root@vm> run-parts /etc/cron.hourly")
	check "canon: cron: MAIL FROM is the ops address" grep -qx 'mail=MAIL FROM:<ops@example.com> SIZE=[0-9]*' "$e"
	check "canon: cron: From keeps the comment" grep -qx $'From: ops@example.com (Cron Daemon)\r' "$m"
	check "canon: cron: the recipient root is not rewritten" grep -qx 'rcpt=RCPT TO:<root@example.org>' "$e"
	check "canon: cron: To is not rewritten" grep -qx $'To: root@example.org\r' "$m"
	check "canon: cron: log names the canonical sender" log_has "from=<ops@example.com>"

	# the user's own mail, no -f: the envelope from the user name; the
	# display name and the other mailboxes of each field are kept
	printf 'From: "Example, Alice" <%s>\nSender: %s@localhost\nReply-To: Team <x@host.example.org>, y@other.example\nTo: bob@example.net\nSubject: display name\n\nhi\n' \
	    "$canon_user" "$canon_user" | submit bob@example.net
	check "canon: user: delivered" wait_for 15 canon_arrived "display name"
	m=$(canon_msg "display name") e=$(canon_env "display name")
	check "canon: user: MAIL FROM from the user name" grep -qx 'mail=MAIL FROM:<alice@example.com> SIZE=[0-9]*' "$e"
	check "canon: user: From keeps the display name" grep -qx $'From: "Example, Alice" <alice@example.com>\r' "$m"
	check "canon: user: Sender at a local name mapped" grep -qx $'Sender: alice@example.com\r' "$m"
	check "canon: user: Reply-To @domain keeps the user, others kept" \
	    grep -qx $'Reply-To: Team <x@example.com>, y@other.example\r' "$m"

	# an @domain wildcard for the envelope; an unmapped sender as it is
	printf 'Subject: wildcard\n\nhi\n' | submit -f backup@host.example.org bob@example.net
	printf 'Subject: unmapped\nFrom: carol@other.example\n\nhi\n' | submit -f carol@other.example bob@example.net
	check "canon: wildcard: delivered" wait_for 15 canon_arrived "wildcard"
	check "canon: wildcard: MAIL FROM keeps the user" grep -qx 'mail=MAIL FROM:<backup@example.com> SIZE=[0-9]*' "$(canon_env wildcard)"
	check "canon: unmapped: delivered" wait_for 15 canon_arrived "unmapped"
	check "canon: unmapped: MAIL FROM as given" grep -qx 'mail=MAIL FROM:<carol@other.example> SIZE=[0-9]*' "$(canon_env unmapped)"
	check "canon: unmapped: From as given" grep -qx $'From: carol@other.example\r' "$(canon_msg unmapped)"

	# an @localhost key: local names are masqueraded to the domain, but
	# only after the map has seen the address as written (as Postfix's
	# canonical maps see user@localhost); the user key still wins
	printf 'Subject: at localhost\nFrom: Backup <backup@localhost>\nReply-To: help@localhost, %s@localhost, dave\n\nhi\n' \
	    "$canon_user" | submit -f backup@localhost bob@example.net
	check "canon: @localhost: delivered" wait_for 15 canon_arrived "at localhost"
	check "canon: @localhost: MAIL FROM mapped by the @localhost key" \
	    grep -qx 'mail=MAIL FROM:<backup@example.net> SIZE=[0-9]*' "$(canon_env "at localhost")"
	check "canon: @localhost: From mapped, display name kept" \
	    grep -qx $'From: Backup <backup@example.net>\r' "$(canon_msg "at localhost")"
	check "canon: @localhost: Reply-To: the key, the user key, a bare name masqueraded" \
	    grep -qx $'Reply-To: help@example.net, alice@example.com, dave@example.org\r' "$(canon_msg "at localhost")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

# canon_queued: the one file in drop/ (no daemon runs)
canon_queued() { cat "$T"/spool/drop/*; }

test_canon_order() {
	local rc
	new_env canon_order
	canon_write_map
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	# a mapped local sender: its bounces go to the mapped address, not
	# through the aliases of the local name (no L record)
	PORT=1 write_conf "sender_canonical $T/canonical"
	printf 'Subject: x\n\nx\n' | submit -f root bob@example.net 2>/dev/null
	check "canon: mapped sender: S is the canonical address" grep -qx 'S ops@example.com' "$T"/spool/drop/*
	check "canon: mapped sender: no L record" bash -c "! grep -q '^L ' $T/spool/drop/*"
	rm -f "$T"/spool/drop/*

	# force_sender and force_from come after the map: the envelope is
	# the forced address; the From value force_from moves to Reply-To
	# is the canonical one
	PORT=1 write_conf "sender_canonical $T/canonical" "force_sender relay@example.net" "force_from yes"
	printf 'From: root (Cron Daemon)\nSubject: x\n\nx\n' | submit -f root bob@example.net 2>/dev/null
	check "canon: force_sender wins over the map" grep -qx 'S relay@example.net' "$T"/spool/drop/*
	check "canon: force_from after the map: From" grep -qx $'From: relay@example.net (Cron Daemon)\r' "$T"/spool/drop/*
	check "canon: force_from after the map: Reply-To is canonical" grep -qx $'Reply-To: ops@example.com (Cron Daemon)\r' "$T"/spool/drop/*
	rm -f "$T"/spool/drop/*

	# the container form: RELAYQ_SENDER_CANONICAL
	PORT=1 write_conf
	printf 'Subject: x\n\nx\n' | as_user env RELAYQ_CONFIG="$T/conf" RELAYQ_SENDER_CANONICAL="$T/canonical" "$TOP/sendmail" -f root bob@example.net 2>/dev/null
	check "canon: RELAYQ_SENDER_CANONICAL applies" grep -qx 'S ops@example.com' "$T"/spool/drop/*
	rm -f "$T"/spool/drop/*

	# a bad map: the message is refused, naming file and line
	printf 'root ops@example.com\nalice Alice Smith <alice@example.com>\n' > "$T/bad"
	chmod 644 "$T/bad"
	PORT=1 write_conf "sender_canonical $T/bad"
	printf 'Subject: x\n\nx\n' | submit bob@example.net 2>"$T/err"; rc=$?
	check "canon: bad map: sendmail exits 78" test $rc -eq 78
	check "canon: bad map: the error names file and line" \
	    grep -q "sendmail: sender_canonical $T/bad:2: alice: bad address \"Alice Smith <alice@example.com>\"" "$T/err"
	check "canon: bad map: nothing queued" dir_empty "$T/spool/drop"
	"$TOP/relayq" -C "$T/conf" check >"$T/check.out" 2>&1; rc=$?
	check "canon: bad map: relayq check exits 78" test $rc -eq 78
	check "canon: bad map: relayq check names file and line" grep -q "^relayq check: sender_canonical $T/bad:2: alice: bad address" "$T/check.out"

	# a missing map: refused too
	PORT=1 write_conf "sender_canonical $T/missing"
	printf 'Subject: x\n\nx\n' | submit bob@example.net 2>"$T/err"; rc=$?
	check "canon: missing map: sendmail exits 78" test $rc -eq 78
	check "canon: missing map: the error names the file" grep -q "sender_canonical $T/missing: No such file or directory" "$T/err"

	# relayq check: a good map is counted; one only root can read is a problem
	PORT=1 write_conf "sender_canonical $T/canonical"
	"$TOP/relayq" -C "$T/conf" check >"$T/check.out" 2>&1
	check "canon: relayq check counts the entries" grep -q "^relayq check: sender_canonical $T/canonical: 4 entries" "$T/check.out"
	chmod 600 "$T/canonical"
	"$TOP/relayq" -C "$T/conf" check >"$T/check.out" 2>&1
	check "canon: relayq check: a map others cannot read" grep -q "sender_canonical $T/canonical: not readable by every user" "$T/check.out"
}

test_canon_smarthost
test_canon_order
