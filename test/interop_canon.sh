# interop_canon.sh - sender_canonical as the real smarthost sees it.
# Sourced by test/interop.sh after its set-up: uses its helpers
# (setup_relayq, start_relayq, submit, maillog_*, sink_file), $D
# and $P1.
#
# The map turns root into ops@example.org, the local user www-data into
# webmaster@example.com and any user @old.example.net or @localhost into
# the same user @example.net.  Three messages:
#   - cron's call as root (sendmail -FCronDaemon -i -B8BITMIME -oem root,
#     no -f: the envelope sender is root) with From: Cron Daemon <root>;
#   - the same with Debian cron's From: root (Cron Daemon);
#   - www-data's, with -f www-data, a quoted display name, Sender and a
#     Reply-To with three addresses, one @old.example.net, one @localhost
#     on a folded line.
# Postfix must log from=<the mapped address> for each, and the sink must
# hold the sender fields rewritten with display names and comments kept,
# and To: root qualified but not mapped.

name=canon
dir=$D/rq-$name
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
cat >"$dir/canonical" <<EOF
# cron and system mail
root		ops@example.org
www-data	webmaster@example.com
@old.example.net	@example.net
@localhost	@example.net
EOF
chmod 644 "$dir/canonical"
echo "sender_canonical $dir/canonical" >>"$dir/relayq.conf"

# canon_msg FILE TOKEN FROM [HEADER...]: a cron-like message to root
canon_msg() {
	local f=$1 tok=$2 from=$3
	shift 3
	{
		printf 'From: %s\n' "$from"
		printf 'To: root\n'
		printf 'Subject: Cron <root@vm> /usr/local/bin/backup %s\n' "$tok"
		printf '%s\n' "$@"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n\n'
		printf 'backup of /srv done, 3 files \xc3\xbcber 1 GB (%s)\n' "$tok"
	} >"$f"
}

# sink_headers TOKEN: the header of the sink file holding TOKEN, LF-ended
sink_headers() {
	local f
	f=$(sink_file "$1") && [ -n "$f" ] &&
	    "${PRIV[@]}" tr -d '\r' <"$f" | sed '/^$/q'
}

# canon_check LABEL TOKEN ENVFROM FIELD...: the message of LABEL reached
# the sink once with each FIELD line in its header exactly, and Postfix
# logged the envelope sender ENVFROM for it (its queue id is in its
# Received field)
canon_check() {
	local label=$1 tok=$2 envfrom=$3 qid hdr fld
	shift 3
	if ! wait_for "$WAIT" sent_once "$tok"; then
		not_ok "$name: $label: reached the sink once" \
		    "$(sink_holds "$tok") sink files; relayq: $(relayq_log "$name" | grep 'status=' | tail -n 2 | tr '\n' ' ')"
		return
	fi
	ok "$name: $label: reached the sink once"
	hdr=$(sink_headers "$tok")
	qid=$(sed -n 's/.* with ESMTPSA id \([0-9A-Za-z]*\).*/\1/p' <<<"$hdr" | head -n 1)
	check "$name: $label: Postfix logged from=<$envfrom>" \
	    "queue id ${qid:-?}: $(maillog_since "$off" | grep -F "]: $qid: from=" | head -n 1)" \
	    eval "[ -n '$qid' ] && maillog_since $off | grep -qF ']: $qid: from=<$envfrom>, '"
	for fld in "$@"; do
		check "$name: $label: sink has \"$fld\"" \
		    "header: $(grep -iE '^(from|sender|reply-to|to):' <<<"$hdr" | tr '\n' '|')" \
		    grep -qxF -- "$fld" <<<"$hdr"
	done
}

off=$(maillog_size)
if ! start_relayq "$name"; then
	not_ok "$name: relayq drain -f starts" \
	    "exited: $(tail -n 5 "$dir/daemon.out" | tr '\n' ' ')"
else
	ok "$name: relayq drain -f with sender_canonical running"
	declare -A ctok
	for c in cron debian www; do ctok[$c]=$(openssl rand -hex 8); done
	canon_msg "$D/canon-cron.eml" "${ctok[cron]}" "Cron Daemon <root>"
	canon_msg "$D/canon-debian.eml" "${ctok[debian]}" "root (Cron Daemon)"
	# cron runs sendmail as the crontab's owner: root here, with -C as
	# sendmail takes it from root only.  Installed, sendmail is set-group-ID
	# relayq, so that root's queue files are the daemon's to read: a copy
	# set-group-ID to the daemon's group does the same here.
	if [ $ROOT -eq 1 ]; then
		cp "$SENDMAIL" "$D/bin/sendmail-sgid" &&
		    chgrp "$RUN_GID" "$D/bin/sendmail-sgid" &&
		    chmod 2755 "$D/bin/sendmail-sgid"
	fi
	for c in cron debian; do
		if [ $ROOT -eq 1 ]; then
			(cd "$dir" && exec timeout 60 "$D/bin/sendmail-sgid" -C "$dir/relayq.conf" \
			    -FCronDaemon -i -B8BITMIME -oem root) \
			    <"$D/canon-$c.eml" >"$dir/sendmail.out" 2>&1
			rc=$?
			check "$name: $c: sendmail -FCronDaemon -i -B8BITMIME -oem root as root exits 0" \
			    "exit $rc: $(head -c 300 "$dir/sendmail.out" | tr '\n' ' ')" test $rc -eq 0
		else
			submit "$name" "$D/canon-$c.eml" -FCronDaemon -i -B8BITMIME -oem -f root root
		fi
	done
	canon_check "cron as root" "${ctok[cron]}" ops@example.org \
	    "From: Cron Daemon <ops@example.org>" "To: root@example.org"
	canon_check "Debian cron's From" "${ctok[debian]}" ops@example.org \
	    "From: ops@example.org (Cron Daemon)" "To: root@example.org"

	{
		printf 'From: "Web Server (www)" <www-data>\n'
		printf 'Sender: www-data\n'
		printf 'Reply-To: Helpdesk <help@old.example.net>, other@example.net,\n'
		printf '  "Backup job" <backup@localhost>\n'
		printf 'To: rcpt-canon-www@example.org\n'
		printf 'Subject: relayq interop canon %s\n\nreport %s\n' \
		    "${ctok[www]}" "${ctok[www]}"
	} >"$D/canon-www.eml"
	submit "$name" "$D/canon-www.eml" -f www-data -t
	canon_check "www-data" "${ctok[www]}" webmaster@example.com \
	    'From: "Web Server (www)" <webmaster@example.com>' \
	    "Sender: webmaster@example.com" \
	    "Reply-To: Helpdesk <help@example.net>, other@example.net," \
	    '  "Backup job" <backup@example.net>'
	stop_relayq "$name"
fi
