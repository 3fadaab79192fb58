# The log file belongs to the daemon: sendmail run by root before the
# daemon first started (or after the file was rotated away) must not
# create it (a root-owned 0640 file the
# daemon, running as its own user, could never open: all its logging
# would go to syslog for good).  Sourced by test/check.sh.

test_logfile_root_first() {
	new_env logfile
	if [ "$(id -u)" != 0 ]; then
		ok "log file: root's sendmail does not create it (needs root; skipped)"
		return
	fi
	# the spool as make install leaves it: the daemon made it once
	start_smtpd && write_conf && start_daemon && stop_daemon || { not_ok "log file: set-up" "see $T"; return; }
	rm -f "$T/log"
	# root with the daemon's group, as the set-group-ID sendmail runs
	printf 'Subject: first\n\nbody\n' | setpriv --regid=$RUNGID --clear-groups -- \
	    env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" user@example.net
	check "log file: root's sendmail queues" test $? -eq 0
	check "log file: root's sendmail does not create it" test ! -e "$T/log"
	start_daemon || { not_ok "log file: the daemon starts and logs to it" "see $T"; return; }
	check "log file: the daemon creates it as its own user" test "$(stat -c %u "$T/log")" = "$RUNUID"
	check "log file: root's message delivered and logged there" wait_for 15 log_has 'status=sent'
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_logfile_root_first
