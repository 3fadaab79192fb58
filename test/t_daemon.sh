# The daemon's configuration, secrets and privileges.
# Sourced by test/check.sh, which provides test/lib.sh.

test_daemon_config() {
	local out rc n
	new_env dconf
	start_smtpd && write_conf || { not_ok "daemon config: set-up" "see $T"; return; }
	echo "retry_min soon" >> "$T/conf"
	n=$(wc -l < "$T/conf")
	out=$(as_user "$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
	check "relayq: bad duration -> 78" test $rc -eq 78
	check "relayq: bad duration names file:line" grep -qF "$T/conf:$n: retry_min: bad duration \"soon\"" <<<"$out"
	write_conf
	chmod 644 "$T/pw"
	out=$(as_user "$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
	check "relayq: password file readable by others -> 78" test $rc -eq 78
	check "relayq: password file message says how to fix" grep -qF "must be owned by $(id -un "$RUNUID"), the user the daemon runs as, and readable by it alone: as root, \"chown $(id -un "$RUNUID"):$(getent group "$RUNGID" | cut -d: -f1) $T/pw; chmod 600 $T/pw\"" <<<"$out"
	chmod 600 "$T/pw"
	# the environment wins over the file (containers)
	sed -i "s/^smarthost .*/smarthost localhost:1/" "$T/conf"
	start_daemon RELAYQ_SMARTHOST="localhost:$PORT"
	printf 'Subject: env\n\nbody\n' | submit root
	check "RELAYQ_SMARTHOST overrides the file" wait_for 15 test -s "$T/mail/1.env"
	stop_daemon
	out=$(RELAYQ_TLS=maybe "$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
	check "bad RELAYQ_TLS -> 78" test $rc -eq 78
	check "bad RELAYQ_TLS names the variable" grep -qF 'RELAYQ_TLS: tls: "maybe" is not one of' <<<"$out"
}

# Started as root, the daemon becomes user relayq before reading mail, or
# refuses with a message that says what to do when that user is missing.
test_root_drop() {
	local out rc pid
	[ "$(id -u)" = 0 ] || return 0
	new_env rootdrop
	start_smtpd && write_conf || { not_ok "root drop: set-up" "see $T"; return; }
	if ! getent passwd relayq >/dev/null; then
		out=$("$TOP/relayq" -C "$T/conf" drain -f 2>&1); rc=$?
		check "started as root without user relayq: exit 78" test $rc -eq 78
		check "started as root without user relayq: says so" grep -qF 'started as root, but user "relayq" does not exist' <<<"$out"
	else
		chown -R relayq "$T/spool" "$T/pw" "$T/log"
		"$TOP/relayq" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
		pid=$!
		echo $pid > "$T/daemon.pid"
		wait_for 10 log_has "started:"
		check "started as root: runs as user relayq" \
		    test "$(awk '/^Uid:/ {print $2 $3 $4 $5}' /proc/$pid/status)" = "$(id -u relayq)$(id -u relayq)$(id -u relayq)$(id -u relayq)"
		stop_daemon
	fi
	stop_pid "$T/smtpd.pid"
}

test_daemon_config
test_root_drop
