# Crash safety and hostile files in the drop directory.
# Sourced by test/check.sh, which provides test/lib.sh.

test_crash_safety() {
	local pid
	new_env crash
	start_smtpd && write_conf && start_daemon || { not_ok "crash: set-up" "see $T"; return; }
	# sendmail killed mid-message: nothing is delivered from it
	mkfifo "$T/fifo" && chmod 666 "$T/fifo"
	# setpriv and env exec: $! is sendmail itself
	"${AS_USER[@]}" env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" root < "$T/fifo" &
	pid=$!
	exec 7>"$T/fifo"
	printf 'Subject: partial\n\nhalf a mess' >&7
	wait_for 5 sh -c "ls '$T/spool/drop' | grep -q ."
	kill -9 $pid
	exec 7>&-
	wait $pid 2>/dev/null
	printf 'Subject: barrier\n\nbody\n' | submit root
	check "kill -9 of sendmail: a later message is delivered" wait_for 15 test -s "$T/mail/1.env"
	check "kill -9 of sendmail: the partial message is never delivered" \
	    sh -c "! grep -q partial '$T/mail/'*.msg && [ ! -e '$T/mail/2.msg' ]"
	stop_daemon
	stop_pid "$T/smtpd.pid"

	# daemon killed during delivery: delivered after restart
	new_env crash2
	start_smtpd --hang-after DOT && write_conf && start_daemon || { not_ok "crash2: set-up" "see $T"; return; }
	printf 'Subject: survive\n\nbody\n' | submit root
	wait_for 10 grep -q '^C: DATA' "$T/transcript"
	wait_for 10 sh -c "grep -q '^C: \\.\$' '$T/transcript'"
	kill_daemon
	stop_pid "$T/smtpd.pid"
	check "kill -9 of the daemon: message still queued" test "$(queue_count)" -eq 1
	start_smtpd && write_conf && start_daemon
	check "kill -9 of the daemon: delivered after restart" wait_for 15 test -s "$T/mail/1.env"
	check "kill -9 of the daemon: queue empty after restart" wait_for 5 dir_empty "$T/spool/queue"
	stop_daemon
}

# Planted entries in drop/.  The daemon opens with O_NOFOLLOW and takes
# only a regular file with one link, so a link to a file that is a valid
# queue file in every other way is refused, with its reason in the log:
# through a symlink the daemon would read whatever the planter points it
# at; through a second hard link the planter could rewrite the file after
# the daemon checked it.  Checked against deliberately broken builds:
# without O_NOFOLLOW in drain_import_one (src/drain.c) "planted symlink:
# refused as a symbolic link" and "planted symlink elsewhere" fail; without
# the st_nlink test, "planted hard link to a queue file: refused" fails.
test_drop_hostile() {
	local id
	new_env hostile
	start_smtpd && write_conf && start_daemon || { not_ok "hostile: set-up" "see $T"; return; }
	echo "secret of someone" > "$WORK/victim"
	# valid queue files, made by sendmail in a spool of the planter's own
	mkdir -p "$T/own/drop" && chown -R $RUNUID:$RUNGID "$T/own"
	sed "s|^spool .*|spool $T/own|" "$T/conf" > "$T/own.conf"
	printf 'Subject: planted link\n\nbody\n' | as_user env RELAYQ_CONFIG="$T/own.conf" "$TOP/sendmail" root
	printf 'Subject: planted hard link\n\nbody\n' | as_user env RELAYQ_CONFIG="$T/own.conf" "$TOP/sendmail" root
	set -- $(ls "$T/own/drop")
	as_user ln -s "$T/own/drop/$1" "$T/spool/drop/$1"
	as_user ln "$T/own/drop/$2" "$T/spool/drop/$2"
	as_user ln -s "$WORK/victim" "$T/spool/drop/00000000000000SY"
	as_user mkfifo "$T/spool/drop/000000000000FIFO"
	printf 'Subject: barrier\n\nbody\n' | submit root
	check "planted links and FIFO: real mail still flows" wait_for 15 test -s "$T/mail/1.env"
	check "planted symlink to a queue file: refused as a symbolic link" wait_for 5 log_has "drop/$1: removed: a symbolic link\$"
	check "planted hard link to a queue file: refused" log_has "drop/$2: removed: not a queue file \\(type, links or name\\)\$"
	check "planted symlink elsewhere: refused as a symbolic link" log_has 'drop/00000000000000SY: removed: a symbolic link$'
	check "planted FIFO: refused" log_has 'drop/000000000000FIFO: removed: not a queue file'
	check "planted entries: nothing else delivered" test ! -e "$T/mail/2.msg"
	check "planted hard link: the planter's own file is untouched" test -f "$T/own/drop/$2"
	stop_daemon
}

# The installed model, as root only: the daemon runs as one uid in group
# G, the caller as another uid whose sendmail runs with effective gid G
# (what setgid relayq gives), drop/ is 1730.  A caller with umask 077 (many
# services) still gets its mail delivered, and cannot list drop/.
test_setgid_model() {
	local rc G=4250 U=4251
	[ "$(id -u)" = 0 ] || return 0
	new_env setgid
	chown -R $RUNUID:$G "$T"
	mkdir -m 1730 "$T/spool/drop" && chown $RUNUID:$G "$T/spool/drop" && chmod 1730 "$T/spool/drop"
	start_smtpd && write_conf || { not_ok "setgid model: set-up" "see $T"; return; }
	chmod 644 "$T/conf"
	# the compiled-in config path of test/sendmail-sgid
	mkdir -p "$TOP/test/sgid-etc" && cp "$T/conf" "$TOP/test/sgid-etc/relayq.conf"
	(umask 077; printf 'Subject: umask\n\nbody\n' |
	    setpriv --reuid=$U --rgid=$U --egid=$G --clear-groups -- "$TOP/test/sendmail-sgid" root 2>"$T/sm.err"); rc=$?
	check "setgid model, umask 077: sendmail exit 0" test $rc -eq 0
	local f=$(ls "$T/spool/drop")
	check "setgid model: queued file is mode 0640 despite umask 077" test "$(stat -c %a "$T/spool/drop/$f")" = 640
	check "setgid model: a user cannot list drop/" sh -c "! setpriv --reuid=$U --regid=$U --clear-groups -- ls '$T/spool/drop' 2>/dev/null"
	check "setgid model: a user cannot read a queued file, even by name" \
	    sh -c "! setpriv --reuid=$U --regid=$U --clear-groups -- cat '$T/spool/drop/$f' 2>/dev/null"
	setpriv --reuid=$RUNUID --regid=$G --clear-groups -- "$TOP/relayq" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	check "setgid model: message delivered" wait_for 15 test -s "$T/mail/1.env"
	check "setgid model: the caller's uid is in the envelope" grep -qx "mail=MAIL FROM:<uid$U@example.org> SIZE=[0-9]*" "$T/mail/1.env"
	stop_daemon
	rm -rf "$TOP/test/sgid-etc"
}

test_crash_safety
test_drop_hostile
test_setgid_model
