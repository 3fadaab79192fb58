# The container set-up (README.md, "containers"): one arbitrary uid
# with no passwd entry, no setgid, no config file, everything from
# RELAYQ_* variables and a mounted secret, the daemon in the foreground
# logging to stderr, the spool on a volume.
# Sourced by test/check.sh, which provides test/lib.sh.

test_container() {
	local cuid=4242 runas=() out rc cname
	new_env container
	[ "$(id -u)" = 0 ] && runas=(setpriv --reuid=$cuid --regid=$cuid --clear-groups --) || cuid=$(id -u)
	mkdir -p "$T/volume/spool" "$T/secrets"
	echo secret > "$T/secrets/password"
	chmod 600 "$T/secrets/password"
	chown -R $cuid:$cuid "$T/volume" "$T/secrets"
	start_smtpd || { not_ok "container: set-up" "see $T"; return; }
	local env=(env -i PATH=/usr/bin:/bin
	    RELAYQ_SMARTHOST="localhost:$PORT" RELAYQ_TLS_CA_FILE="$CERTS/ca.pem"
	    RELAYQ_AUTH_USER=user RELAYQ_AUTH_PASSWORD_FILE="$T/secrets/password"
	    RELAYQ_SPOOL="$T/volume/spool" RELAYQ_DOMAIN=app.example.org
	    RELAYQ_RETRY_MIN=1s RELAYQ_LOG=stderr)
	"${runas[@]}" "${env[@]}" "$TOP/relayq" drain -f 2>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	check "container: daemon starts from the environment alone" \
	    wait_for 10 grep -q 'started: relayq' "$T/daemon.err"
	out=$(printf 'To: ops@example.net\nSubject: from the app\n\nhello\n' |
	    "${runas[@]}" "${env[@]}" "$TOP/sendmail" -t 2>&1); rc=$?
	check "container: sendmail without setgid queues (exit 0)" test $rc -eq 0
	check "container: sendmail writes nothing to the caller's stderr" test -z "$out"
	check "container: message delivered" wait_for 15 test -s "$T/mail/1.env"
	# as root the test picks a uid with no passwd entry; an ordinary
	# user running the suite has one, and its login name is the sender
	if ! cname=$(id -un "$cuid" 2>/dev/null); then
		check "container: uid without a passwd entry becomes uid$cuid@domain" \
		    grep -qx "mail=MAIL FROM:<uid$cuid@app.example.org> SIZE=[0-9]*" "$T/mail/1.env"
	else
		check "container: uid $cuid becomes its login name $cname@domain" \
		    grep -qx "mail=MAIL FROM:<$cname@app.example.org> SIZE=[0-9]*" "$T/mail/1.env"
	fi
	check "container: delivery logged to the daemon's stderr" \
	    wait_for 5 grep -q 'to=<ops@example.net>, .*status=sent' "$T/daemon.err"
	stop_pid "$T/daemon.pid"
	check "container: daemon stops on SIGTERM and says so" grep -q 'stopping' "$T/daemon.err"
	stop_pid "$T/smtpd.pid"
}

test_container
