# Reloading the configuration (SIGHUP, relayq reload), as postfix reload:
# the daemon re-reads its file, keeps the running configuration when the
# new one is bad (and says why, with file and line), takes what it can,
# names what needs a restart, and retries deferred mail at once.  The
# file is replaced by rename, as editors, sed -i and configuration
# management do, under the real sandbox.  Sourced by test/check.sh.

rl() { as_user "$TOP/relayq" -C "$T/conf" "$@"; }

test_reload() {
	local out rc pid
	new_env reload
	start_smtpd || { not_ok "reload: set-up" "see $T"; return; }
	# a smarthost address nothing listens on, same port: deferred
	write_conf "retry_min 1h" "retry_max 1h"
	sed -i "s/^smarthost .*/smarthost 127.0.0.2:$PORT/" "$T/conf"
	start_daemon || { not_ok "reload: set-up" "see $T"; return; }
	pid=$(cat "$T/daemon.pid")
	printf 'Subject: reload 1\n\nbody\n' | submit user@example.net
	check "reload: first message deferred" wait_for 15 log_has 'status=deferred'

	# good file, by rename, SIGHUP
	write_conf "retry_min 1h" "retry_max 1h"
	mv "$T/conf" "$T/conf.good"
	cp "$T/conf.good" "$T/conf.tmp" && mv "$T/conf.tmp" "$T/conf"
	kill -HUP "$pid"
	check "reload: SIGHUP: logged" wait_for 10 log_has "reload: $T/conf reloaded \\(SIGHUP\\)\$"
	check "reload: SIGHUP: deferred mail retried at once, to the new smarthost" wait_for 15 log_has 'status=sent'
	check "reload: SIGHUP: daemon alive" kill -0 "$pid"

	# bad file: the running configuration stays
	{ cat "$T/conf.good"; echo "retry_min soon"; } > "$T/conf.tmp" && mv "$T/conf.tmp" "$T/conf"
	kill -HUP "$pid"
	check "reload: bad file: logged with file and line" wait_for 10 log_has "reload: $T/conf:[0-9]+: retry_min: bad duration \"soon\".*; the running configuration stays\$"
	check "reload: bad file: daemon alive" kill -0 "$pid"
	# (sendmail reads the file too: a good copy, the same spool)
	printf 'Subject: reload 2\n\nbody\n' | as_user env RELAYQ_CONFIG="$T/conf.good" "$TOP/sendmail" user@example.net
	check "reload: bad file: mail still delivered" wait_for 15 log_count_ge 'status=sent' 2
	out=$(rl reload 2>&1); rc=$?
	check "reload: relayq reload of a bad file: exit 78" test $rc -eq 78
	check "reload: relayq reload of a bad file: says where and what" grep -qE "^relayq: $T/conf:[0-9]+: retry_min: bad duration \"soon\".*; the daemon was not asked to reload and keeps its running configuration\$" <<<"$out"

	# relayq reload of a good file; a key that needs a restart keeps its value
	{ cat "$T/conf.good"; echo "max_sessions 3"; } > "$T/conf.tmp" && mv "$T/conf.tmp" "$T/conf"
	out=$(rl reload 2>&1); rc=$?
	check "reload: relayq reload: exit 0" test $rc -eq 0
	check "reload: relayq reload: says so" grep -qx "$T/conf reloaded" <<<"$out"
	check "reload: relayq reload: names the key that needs a restart" grep -qx "max_sessions changed: takes effect when the daemon restarts (relayq stop, then start it)" <<<"$out"
	check "reload: relayq reload: the key is logged" log_has "reload: max_sessions changed: takes effect when the daemon restarts; the running value stays\$"
	check "reload: relayq reload: logged with the uid" log_has "reload: $T/conf reloaded \\(relayq reload by uid $RUNUID\\)\$"
	check "reload: still one daemon" kill -0 "$pid"
	stop_daemon
	out=$(rl reload 2>&1); rc=$?
	check "reload: relayq reload with no daemon: exit 69" test $rc -eq 69
	check "reload: relayq reload with no daemon: says so" grep -q "the relayq daemon is not running" <<<"$out"
	stop_pid "$T/smtpd.pid"
}

# With delivery workers (max_sessions 2): each reads the file again too,
# and a rotated secret (same file, new password) needs only a reload.
test_reload_workers() {
	local out rc
	new_env reloadw
	start_smtpd || { not_ok "reload, workers: set-up" "see $T"; return; }
	write_conf "max_sessions 2" "retry_min 1h" "retry_max 1h"
	echo wrong > "$T/pw"
	chown $RUNUID:$RUNGID "$T/pw"
	chmod 600 "$T/pw"
	start_daemon || { not_ok "reload, workers: set-up" "see $T"; return; }
	for i in 1 2 3; do
		printf 'Subject: rotate %s\n\nbody\n' "$i" | submit user@example.net
	done
	check "reload, workers: the old password is refused, deferred" wait_for 20 log_count_ge 'status=deferred \(authentication failed' 3
	echo secret > "$T/pw.new" && chown $RUNUID:$RUNGID "$T/pw.new" && chmod 600 "$T/pw.new" && mv "$T/pw.new" "$T/pw"
	out=$(rl reload 2>&1); rc=$?
	check "reload, workers: relayq reload: exit 0" test $rc -eq 0
	check "reload, workers: all three delivered with the new password" wait_for 20 log_count_ge 'status=sent' 3
	check "reload, workers: each delivery authenticated" test "$(grep -c '^auth=PLAIN:user$' "$T"/mail/*.env | awk -F: '{ s += $NF } END { print s }')" -eq 3
	check "reload, workers: no worker complained" sh -c "! grep -q 'reload: a delivery worker' '$T/log'"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_reload
test_reload_workers
