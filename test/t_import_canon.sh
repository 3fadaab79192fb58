# relayq import and the sender canonical map: Postfix's
# sender_canonical_maps and smtp_generic_maps (the text source of a hash:
# or texthash: map), ssmtp's revaliases, nullmailer's allmailfrom and
# msmtp's aliases.  The map written with -c, named by the generated
# relayq.conf, makes sendmail queue the mapped sender.
# Sourced by test/check.sh, which provides test/lib.sh.

# import_canon_run FROM FILES...: relayq import -c $T/canonical, as the
# test user in $T; the generated config in $T/generated.conf
import_canon_run() {
	local from=$1
	shift
	rm -f "$T/canonical"
	(cd "$T" && as_user "$TOP/relayq" import --from "$from" -c canonical "$@" >"$T/generated.conf" 2>"$T/import.err")
}

# import_canon_queue ARGS...: queue a message with the generated config
# (no daemon); prints the S record
import_canon_queue() {
	rm -f "$T"/spool/drop/*
	{ cat "$T/generated.conf"; printf '%s\n' "spool $T/spool" "log $T/log" "aliases /dev/null" "domain example.org"; } > "$T/conf"
	printf 'From: root\nSubject: x\n\nx\n' | submit "$@" 2>/dev/null
	sed -n 's/^S //p' "$T"/spool/drop/*
}

test_import_canon_postfix() {
	local rc
	new_env import_canon_postfix
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"
	touch "$T/log" && chown $RUNUID:$RUNGID "$T/log"
	cat > "$T/main.cf" <<-EOF
	myorigin = example.org
	relayhost = [smtp.example.net]:587
	smtp_tls_security_level = encrypt
	sender_canonical_maps = hash:$T/sender_canonical, regexp:/etc/postfix/canon.re
	smtp_generic_maps = texthash:$T/generic
	EOF
	printf '%s\n' "root	ops@host.example.org" "alice alice.smith@example.com" > "$T/sender_canonical"
	printf '%s\n' "@host.example.org @example.com" > "$T/generic"
	chown $RUNUID:$RUNGID "$T"
	import_canon_run postfix main.cf; rc=$?
	check "import canon postfix: exit 0" test $rc -eq 0
	check "import canon postfix: the map, canonical then generic" cmp -s "$T/canonical" - <<-EOF
	# sender_canonical for relayq.conf(5), converted by \`relayq import' from postfix: main.cf
	root	ops@example.com
	alice	alice.smith@example.com
	@host.example.org	@example.com
	EOF
	check "import canon postfix: map mode 0644" test "$(stat -c %a "$T/canonical")" = 644
	check "import canon postfix: relayq.conf names it" grep -qx "sender_canonical $T/canonical" "$T/generated.conf"
	check "import canon postfix: no 'not converted' for the hash: map" \
	    sh -c "! grep -q 'sender_canonical_maps not converted\|smtp_generic_maps not converted' '$T/import.err'"
	check "import canon postfix: regexp: noted as not converted" \
	    grep -q "main.cf:4: sender_canonical_maps regexp:/etc/postfix/canon.re not converted" "$T/import.err"
	check "import canon postfix: says where the map went" \
	    grep -qx "relayq import: 3 sender_canonical entries are in $T/canonical (mode 0644)" "$T/import.err"
	check "import canon postfix: root's mail queued from the mapped sender" \
	    test "$(import_canon_queue -f root bob@example.net)" = ops@example.com
	check "import canon postfix: the From field too" grep -qx $'From: ops@example.com\r' "$T"/spool/drop/*

	# without -c the map is not written, and the config does not name it
	(cd "$T" && as_user "$TOP/relayq" import main.cf >"$T/generated.conf" 2>"$T/import.err")
	check "import canon postfix: without -c, only a comment in relayq.conf" \
	    grep -qx "# sender_canonical /etc/relayq.canonical (3 entries found: relayq import -c FILE writes them)" "$T/generated.conf"
	check "import canon postfix: without -c, stderr says how to write it" \
	    grep -q "3 sender_canonical entries found; run again with -c /etc/relayq.canonical" "$T/import.err"
	# an existing map is never replaced
	(cd "$T" && as_user "$TOP/relayq" import -c canonical main.cf >/dev/null 2>"$T/import.err"); rc=$?
	check "import canon postfix: an existing map is not overwritten (exit 73)" test $rc -eq 73
}

test_import_canon_others() {
	new_env import_canon_others
	mkdir -p "$T/spool/drop" "$T/ssmtp" && chown $RUNUID:$RUNGID "$T/spool/drop"
	touch "$T/log" && chown $RUNUID:$RUNGID "$T/log"
	chown $RUNUID:$RUNGID "$T"
	# ssmtp: revaliases beside ssmtp.conf, read without being named
	printf '%s\n' "mailhub=smtp.example.net:587" "UseSTARTTLS=YES" > "$T/ssmtp/ssmtp.conf"
	printf '%s\n' "# sSMTP aliases" "root:ops@example.com:smtp.example.net:587" \
	    "backup:backup@example.com:other.example.net" > "$T/ssmtp/revaliases"
	import_canon_run ssmtp ssmtp/ssmtp.conf
	check "import canon ssmtp: revaliases converted" cmp -s "$T/canonical" - <<-EOF
	# sender_canonical for relayq.conf(5), converted by \`relayq import' from ssmtp: ssmtp/ssmtp.conf
	root	ops@example.com
	backup	backup@example.com
	EOF
	check "import canon ssmtp: another mailhub noted" \
	    grep -q "revaliases:3: mailhub other.example.net for backup not converted" "$T/import.err"
	check "import canon ssmtp: root's mail queued from the mapped sender" \
	    test "$(import_canon_queue -f root bob@example.net)" = ops@example.com
	# nullmailer: allmailfrom replaces every envelope sender, -f too:
	# force_sender, not a map
	echo "smtp.example.net smtp --port=587 --starttls" > "$T/remotes"
	echo "all@example.com" > "$T/allmailfrom"
	import_canon_run nullmailer remotes allmailfrom
	check "import canon nullmailer: allmailfrom is force_sender" grep -qx "force_sender all@example.com" "$T/generated.conf"
	check "import canon nullmailer: no map" test ! -e "$T/canonical"
	check "import canon nullmailer: every sender replaced" \
	    test "$(import_canon_queue -f someone@other.example bob@example.net)" = all@example.com
	# msmtp: its aliases file is an alias file
	printf '%s\n' "account default" "host smtp.example.net" "port 587" "tls on" "aliases /etc/aliases.msmtp" > "$T/msmtprc"
	import_canon_run msmtp msmtprc
	check "import canon msmtp: aliases converted" grep -qx "aliases /etc/aliases.msmtp" "$T/generated.conf"
	check "import canon msmtp: no 'aliases not converted'" sh -c "! grep -q 'aliases not converted' '$T/import.err'"
}

test_import_canon_postfix
test_import_canon_others
