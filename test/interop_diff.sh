# interop_diff.sh - differential test: Postfix's sendmail against relayq's.
#
# Sourced by test/interop.sh after the private Postfix (test/postfix.sh)
# is up; uses its helpers (ok, not_ok, wait_for, bail, alive, pick_port)
# and variables (D, PFC, PFQ, RUN, RUN_UID, UNPRIV, PRIV, SENDMAIL, RELAYQ).
#
# Every case of test/diff/cases (the exact argv of a real caller, or an
# awkward input) is submitted twice, as the same unprivileged user: once
# with Postfix's sendmail (a null client relaying everything) and once
# with relayq's sendmail (its daemon delivering directly).  Both deliver
# to ONE recording sink, test/smtpd, which offers PIPELINING, SIZE,
# 8BITMIME, DSN and SMTPUTF8 and writes each transaction's envelope
# (MAIL and RCPT lines with their parameters) and message bytes.
# test/diff/compare.py then compares exit code, envelope, header fields
# and body bytes after masking what must differ: Received fields, the
# values of generated Date and Message-ID fields, SIZE=.  Every remaining
# difference must be listed with its reason in test/diff/accepted; an
# unlisted one fails.  Prints the count of cases, identical and accepted.

DIFF=$TOP/test/diff
DD=$D/diff
mkdir -p "$DD/pf" "$DD/rq" "$DD/mail" "$DD/rqspool"
chmod 755 "$DD" "$DD/mail"

# --- the sink: test/smtpd, plaintext for Postfix, STARTTLS for relayq ---
if [ ! -x "$TOP/test/smtpd" ]; then
	make -s -C "$TOP" test/smtpd >"$DD/make.log" 2>&1 ||
	    bail "diff: test/smtpd" "make test/smtpd failed: $(tail -n 3 "$DD/make.log")"
fi
pick_port || bail "diff: free port" "none found"
PS=$PORT
chown -R "$RUN_UID:$RUN_GID" "$DD/mail"
"$TOP/test/smtpd" --port "$PS" --pidfile "$RUN/diffsink.pid" \
    --cert "$D/tls/server.pem" --key "$D/tls/server.key" \
    --maildir "$DD/mail" --raw 'EHLO=250-sink.relayq.test\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n' \
    2>"$DD/sink.err" &
wait_for 10 port_listening "$PS" ||
    bail "diff: sink" "test/smtpd not listening on $PS: $(head -c 300 "$DD/sink.err")"

# --- Postfix: relay to the sink.  Its sendmail and postdrop take -C from
# a user only for a directory that the default main.cf names in
# alternate_config_directories: they run in a mount namespace of their
# own where a copy of /etc/postfix that says so is mounted over it (the
# real /etc/postfix is never touched).
# the sender canonical map of both sides (the canon-* cases): keys that
# no other case's sender or header uses
printf '%s\n' "# sender canonical map, Postfix's texthash format" \
    "cronjob		ops@example.com" \
    "dana@$REALM	Dana.Smith@example.com" \
    "@canon.example	@example.com" >"$DD/canonical"
chmod 644 "$DD/canonical"
"${PRIV[@]}" postconf -c "$PFC" -e "relayhost = [127.0.0.1]:$PS" \
    "smtp_tls_security_level = none" "smtputf8_enable = yes" \
    "sender_canonical_maps = texthash:$DD/canonical" ||
    bail "diff: postconf" "cannot point the private Postfix at the sink"
mkdir -p "$DD/etc-postfix"
cp -a /etc/postfix/. "$DD/etc-postfix/" &&
    echo "alternate_config_directories = $PFC" >>"$DD/etc-postfix/main.cf" ||
    bail "diff: /etc/postfix copy" "cannot copy /etc/postfix"
"${PRIV[@]}" postfix -c "$PFC" reload >"$DD/reload.log" 2>&1 ||
    bail "diff: postfix reload" "$(cat "$DD/reload.log")"

# --- relayq: its own spool and daemon, delivering to the sink ----------
cat >"$DD/relayq.conf" <<EOF
# relayq differential test
smarthost localhost:$PS
tls starttls
tls_ca_file $D/tls/ca.pem
spool $DD/rqspool
domain $REALM
log $DD/relayq.log
aliases /dev/null
retry_min 1s
sender_canonical $DD/canonical
EOF
chmod 644 "$DD/relayq.conf"
chmod 700 "$DD/rqspool"
chown -R "$RUN_UID:$RUN_GID" "$DD/rqspool"
touch "$DD/relayq.log" && chown "$RUN_UID:$RUN_GID" "$DD/relayq.log"
(cd "$DD" && exec "${UNPRIV[@]}" "$RELAYQ" -C "$DD/relayq.conf" drain -f) \
    </dev/null >"$DD/daemon.out" 2>&1 &
echo $! >"$RUN/relayq-diff.pid"
wait_for 10 grep -q "started:" "$DD/relayq.log" ||
    bail "diff: relayq drain" "did not start: $(tail -n 3 "$DD/daemon.out")"

# sink_count: transactions the sink has written (the .env comes last)
sink_count() { find "$DD/mail" -name '*.env' | wc -l; }

# diff_run SIDE NAME INPUT ARGV...: submit with SIDE's sendmail; the exit
# code and stderr go to $DD/SIDE/NAME.{rc,err}, the sink's files, if the
# message came, to $DD/SIDE/NAME.{env,msg}, and NAME.bounce says that a
# bounce (null sender) came too
diff_run() {
	local side=$1 name=$2 input=$3 rc n i
	shift 3
	n=$(sink_count)
	if [ "$side" = pf ]; then
		(cd / && exec timeout 30 "${PRIV[@]}" unshare -m sh -c \
		    'mount --bind "$0" /etc/postfix && exec "$@"' \
		    "$DD/etc-postfix" setpriv --reuid="$RUN_UID" \
		    --regid="$RUN_GID" --clear-groups -- /usr/sbin/sendmail \
		    -C "$PFC" "$@") <"$input" >/dev/null 2>"$DD/$side/$name.err"
	else
		(cd / && RELAYQ_CONFIG=$DD/relayq.conf exec timeout 30 \
		    "${UNPRIV[@]}" "$SENDMAIL" "$@") <"$input" >/dev/null \
		    2>"$DD/$side/$name.err"
	fi
	rc=$?
	echo "$rc" >"$DD/$side/$name.rc"
	# refused: nothing comes.  Accepted: the message (and perhaps a
	# bounce, e.g. for one bad recipient) within seconds; the sink
	# numbers its files 1, 2, ... in the order it stores them
	[ "$rc" -eq 0 ] || return 0
	wait_for "$DIFF_WAIT" eval "[ \$(sink_count) -gt $n ]" || return 0
	# relayq's sendmail bounces nothing: only Postfix's side waits
	[ "$side" = pf ] && wait_for 2 eval "[ \$(sink_count) -gt $((n + 1)) ]"
	for ((i = n + 1; i <= $(sink_count); i++)); do
		if grep -q '^mail=MAIL FROM:<> ' "$DD/mail/$i.env" ||
		    grep -qx 'mail=MAIL FROM:<>' "$DD/mail/$i.env"; then
			: >"$DD/$side/$name.bounce"
		elif [ ! -e "$DD/$side/$name.env" ]; then
			cp "$DD/mail/$i.env" "$DD/$side/$name.env"
			cp "$DD/mail/$i.msg" "$DD/$side/$name.msg"
		fi
	done
}
DIFF_WAIT=$((WAIT < 8 ? WAIT : 8))

# the cases: NAME, INPUT (a file in test/diff/in), ARGV as shell words
ncase=0
while IFS=$'\t' read -r name input argv; do
	case $name in '' | '#'*) continue ;; esac
	eval "set -- $argv"
	diff_run pf "$name" "$DIFF/in/$input" "$@"
	diff_run rq "$name" "$DIFF/in/$input" "$@"
	ncase=$((ncase + 1))
done <"$DIFF/cases"

while IFS= read -r line; do
	case $line in
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) line=${line#not ok - }; not_ok "${line%%: *}" "${line#*: }" ;;
	*) echo "$line" ;;
	esac
done < <(python3 "$DIFF/compare.py" "$DIFF/cases" "$DIFF/in" \
    "$DIFF/accepted" "$DD/pf" "$DD/rq" 2>&1)

# --- Postfix back on its smtp-sink, for the parts that follow -----------
"${PRIV[@]}" postconf -c "$PFC" -e "relayhost = [127.0.0.1]:$P3" \
    "sender_canonical_maps =" &&
    "${PRIV[@]}" postfix -c "$PFC" reload >"$DD/reload.log" 2>&1 ||
    not_ok "diff: Postfix relays to the smtp-sink again" "$(cat "$DD/reload.log")"
stop_pid "$RUN/diffsink.pid"
