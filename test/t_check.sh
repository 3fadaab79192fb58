# relayq check: configuration, permissions and spool, one precise line
# per problem, exit 78 when there is any.  Sourced by test/check.sh.

test_check() {
	local out rc rq RUNNAME RUNGROUP
	RUNNAME=$(id -un "$RUNUID")
	RUNGROUP=$(id -gn "$RUNUID")
	new_env check
	start_smtpd && write_conf && start_daemon || { not_ok "check: set-up" "see $T"; return; }
	rq=(as_user "$TOP/relayq" -C "$T/conf" check)
	out=$("${rq[@]}"); rc=$?
	check "relayq check, all fine: exit 0" test $rc -eq 0
	check "relayq check, all fine: says so" test "$(tail -1 <<<"$out")" = "relayq check: no problems found"
	check "relayq check: daemon is running" grep -qx "relayq check: daemon is running" <<<"$out"
	stop_daemon
	out=$("${rq[@]}"); rc=$?
	check "relayq check, daemon down: not a problem, noted" test $rc -eq 0
	check "relayq check, daemon down: note" grep -qF "relayq check: note: the relayq daemon is not running" <<<"$out"
	chmod 644 "$T/pw"
	chmod 755 "$T/spool/drop"
	echo junk > "$T/spool/queue/junk"; chown $RUNUID "$T/spool/queue/junk"
	printf 'RELAYQ 1\nI 0000000000000000\n' > "$T/spool/queue/0000000000000000"; chown $RUNUID "$T/spool/queue/0000000000000000"
	out=$("${rq[@]}"); rc=$?
	check "relayq check, problems: exit 78" test $rc -eq 78
	check "relayq check: password file readable by others" grep -qxF "relayq check: auth_password_file $T/pw: must be owned by $RUNNAME and not readable by others (chown $RUNNAME:$RUNGROUP $T/pw; chmod 600 $T/pw)" <<<"$out"
	check "relayq check: drop/ mode" grep -qxF "relayq check: $T/spool/drop: mode 755, must be 1730 (chmod 1730 $T/spool/drop)" <<<"$out"
	check "relayq check: junk name in queue/" grep -qxF "relayq check: $T/spool/queue/junk: stray file: not a name the daemon makes there; it ignores it (remove it)" <<<"$out"
	check "relayq check: broken queue file" grep -qxF "relayq check: $T/spool/queue/0000000000000000: incomplete envelope (the daemon moves it to corrupt/ when it tries it)" <<<"$out"
	check "relayq check: count on the last line" test "$(tail -1 <<<"$out")" = "relayq check: 4 problem(s) found"
	# auth_password_command alone is a complete AUTH configuration
	grep -v '^auth_password_file ' "$T/conf" > "$T/conf3"
	echo "auth_password_command echo secret" >> "$T/conf3"
	out=$(as_user "$TOP/relayq" -C "$T/conf3" check 2>&1)
	check "relayq check: auth_password_command without a password file is fine" \
	    test "$(grep -c 'auth_user needs' <<<"$out")" -eq 0
	grep -v '^auth_password_file ' "$T/conf" > "$T/conf3"
	out=$(as_user "$TOP/relayq" -C "$T/conf3" check 2>&1)
	check "relayq check: auth_user without any secret" grep -qxF "relayq check: $T/conf3: auth_user needs auth_password_file or auth_password_command" <<<"$out"
	printf 'smarthost\n' > "$T/conf2"
	out=$(as_user "$TOP/relayq" -C "$T/conf2" check 2>&1); rc=$?
	check "relayq check, bad config: exit 78 with file:line" test $rc -eq 78
	check "relayq check, bad config: message" grep -qF "$T/conf2:1:" <<<"$out"
	stop_pid "$T/smtpd.pid"
}

test_check
