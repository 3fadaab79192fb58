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
	printf 'Subject: reload 2\n\nbody\n' | submit user@example.net
	check "reload: bad file: mail still delivered" wait_for 15 log_count_ge 'status=sent' 2
	out=$(rl reload 2>&1); rc=$?
	check "reload: relayq reload of a bad file: exit 78" test $rc -eq 78
	check "reload: relayq reload of a bad file: says where and what" grep -qE "^relayq: reload: $T/conf:[0-9]+: retry_min: bad duration \"soon\".*; the running configuration stays\$" <<<"$out"

	# relayq reload of a good file; a key that needs a restart keeps its value
	{ cat "$T/conf.good"; echo "max_sessions 3"; } > "$T/conf.tmp" && mv "$T/conf.tmp" "$T/conf"
	out=$(rl reload 2>&1); rc=$?
	check "reload: relayq reload: exit 0" test $rc -eq 0
	check "reload: relayq reload: says so" grep -qx "relayq: $T/conf reloaded" <<<"$out"
	check "reload: relayq reload: names the key that needs a restart" grep -qx "relayq: max_sessions changed: takes effect when the daemon restarts (relayq stop, then start it)" <<<"$out"
	check "reload: relayq reload: logged with the uid" log_has "reload: $T/conf reloaded \\(relayq reload by uid $RUNUID\\)\$"
	check "reload: still one daemon" kill -0 "$pid"
	stop_daemon
	out=$(rl reload 2>&1); rc=$?
	check "reload: relayq reload with no daemon: exit 69" test $rc -eq 69
	check "reload: relayq reload with no daemon: says so" grep -q "the relayq daemon is not running" <<<"$out"
	stop_pid "$T/smtpd.pid"
}

test_reload
