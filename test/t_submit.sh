# Submission over the control socket, for callers on whom setgid has no
# effect (NoNewPrivileges=): the installed model of t_spool.sh, with the
# caller's sendmail running without the relayq group.
# Sourced by test/check.sh, which provides test/lib.sh.

test_submit_socket() {
	local rc out G=4250 U=4252
	[ "$(id -u)" = 0 ] || return 0
	new_env submit
	chown -R $RUNUID:$G "$T"
	mkdir -m 1730 "$T/spool/drop" && chown $RUNUID:$G "$T/spool/drop" && chmod 1730 "$T/spool/drop"
	start_smtpd && write_conf || { not_ok "submit: set-up" "see $T"; return; }
	chmod 644 "$T/conf"
	mkdir -p "$TOP/test/sgid-etc" && cp "$T/conf" "$TOP/test/sgid-etc/relayq.conf"
	# the daemon down: the caller hears it before its message is read
	out=$(printf 'Subject: x\n\nbody\n' | setpriv --reuid=$U --regid=$U --clear-groups -- "$TOP/test/sendmail-sgid" root 2>&1); rc=$?
	check "no setgid, no daemon: exit 69" test $rc -eq 69
	check "no setgid, no daemon: says what to do" grep -qF "and the relayq daemon's socket $T/spool/ctl does not answer" <<<"$out"
	setpriv --reuid=$RUNUID --regid=$G --clear-groups -- "$TOP/relayq" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	wait_for 10 test -S "$T/spool/ctl" || { not_ok "submit: daemon start" "$(cat "$T/daemon.err")"; return; }
	(umask 077; printf 'Subject: via the socket\n\nbody\n' |
	    setpriv --reuid=$U --regid=$U --clear-groups -- "$TOP/test/sendmail-sgid" root 2>"$T/sm.err"); rc=$?
	check "no setgid: sendmail hands the message to the daemon, exit 0" test $rc -eq 0
	check "no setgid: the daemon logs the submission with the caller's uid" log_has "submitted over the control socket by uid $U\$"
	check "no setgid: message delivered" wait_for 15 test -s "$T/mail/1.env"
	check "no setgid: the caller's uid is in the envelope" grep -qx "mail=MAIL FROM:<uid$U@example.org> SIZE=[0-9]*" "$T/mail/1.env"
	check "no setgid: the message arrives intact" grep -q '^Subject: via the socket' "$T/mail/1.msg"
	stop_daemon
	stop_pid "$T/smtpd.pid"
	rm -rf "$TOP/test/sgid-etc"
}

test_submit_socket
