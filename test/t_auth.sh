# AUTH mechanisms against the test smarthost: SCRAM-SHA-256,
# preference order, XOAUTH2/OAUTHBEARER with auth_password_command, and
# secrets that never reach a log, stderr or the process title.
# Sourced by test/check.sh, which provides test/lib.sh.

AUTH_PW='Pw-x7Qz9kLm'		# distinctive, so a grep cannot miss it
AUTH_TOKEN='tok-Hq2xYv8wRr'

# auth_env NAME SMTPD-OPTS [conf lines...]: one message submitted
auth_env() {
	local name=$1 opts=$2
	shift 2
	new_env "auth_$(echo "$name" | tr -c 'a-z0-9\n' _)"
	echo "$AUTH_PW" > "$T/pw"
	echo "$AUTH_TOKEN" > "$T/token"
	eval "start_smtpd --auth 'user:$AUTH_PW' $opts" && write_conf "$@" &&
	    start_daemon || return 1
	printf 'Subject: auth\n\nbody\n' | submit user@example.net
}

# auth_ok NAME MECH SMTPD-OPTS [conf lines...]
auth_ok() {
	local name=$1 mech=$2 opts=$3
	shift 3
	auth_env "$name" "$opts" "$@" ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	if wait_for 15 test -s "$T/mail/1.env"; then
		ok "$name: delivered"
	else
		not_ok "$name: delivered" "log: $(grep -v started "$T/log" | tail -1)"
	fi
	check "$name: authenticated with $mech" grep -qx "auth=$mech:user" "$T/mail/1.env"
	check "$name: no core dump, not dumpable" sh -c "grep -qE '^Max core file size +0 +0 ' /proc/$(cat "$T/daemon.pid")/limits && [ \$(stat -c %u /proc/$(cat "$T/daemon.pid")/environ) = 0 ]"
	check "$name: process title shows no secret" \
	    sh -c "! tr '\0' ' ' < /proc/$(cat "$T/daemon.pid")/cmdline | grep -qe '$AUTH_PW' -e '$AUTH_TOKEN'"
	stop_daemon
}

# auth_deferred NAME SMTPD-OPTS REASON-REGEX [conf lines...]
auth_deferred() {
	local name=$1 opts=$2 re=$3
	shift 3
	auth_env "$name" "$opts" "$@" ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	if wait_for 15 log_has "status=deferred \($re\)$"; then
		ok "$name: deferred with the exact reason"
	else
		not_ok "$name: deferred with the exact reason" \
		    "want /$re/, log: $(grep deferred "$T/log" | tail -1)"
	fi
	check "$name: no mail sent" sh -c "! grep -qE '^C: (MAIL|RCPT|DATA)' '$T/transcript'"
	check "$name: message still queued" test "$(queue_count)" -eq 1
	stop_daemon
}

test_auth_mechanisms() {
	local all='--auth-mechs "PLAIN LOGIN SCRAM-SHA-256"'
	auth_ok "SCRAM-SHA-256 preferred by default" SCRAM-SHA-256 "$all"
	auth_ok "auth_mechanisms sets the order" LOGIN "$all" \
	    "auth_mechanisms LOGIN PLAIN"
	auth_ok "PLAIN when SCRAM is not offered" PLAIN ""
	echo 'wrong-password' > "$WORK/wrongpw"
	auth_deferred "SCRAM-SHA-256 wrong password" "$all" \
	    'authentication failed: 535 5\.7\.8 Authentication credentials invalid \(AUTH SCRAM-SHA-256\)' \
	    "auth_password_command cat $WORK/wrongpw"
	auth_deferred "SCRAM-SHA-256 server cannot prove the password" \
	    "$all --scram-bad-sig" \
	    'SCRAM-SHA-256: server signature does not verify: this server does not know the password \(an impostor\?\)'
	auth_deferred "CRAM-MD5 never by default" '--auth-mechs CRAM-MD5' \
	    'localhost\[127\.0\.0\.1\]:[0-9]+ offers no AUTH mechanism relayq may use \(SCRAM-SHA-256 PLAIN LOGIN\)'
	check "CRAM-MD5 never by default: no AUTH sent" sh -c "! grep -q '^C: AUTH' '$T/transcript'"
}

test_auth_tokens() {
	local x="--auth-mechs 'XOAUTH2 OAUTHBEARER' --token $AUTH_TOKEN"
	auth_ok "XOAUTH2 with auth_password_command" XOAUTH2 "$x" \
	    "auth_mechanisms XOAUTH2" "auth_password_command cat $WORK/auth_token"
	auth_ok "OAUTHBEARER with auth_password_command" OAUTHBEARER "$x" \
	    "auth_mechanisms OAUTHBEARER" "auth_password_command cat $WORK/auth_token"
	# first run prints an expired token: the 535 makes relayq run it again
	printf '%s\n' "if [ -e \"\$1/ran\" ]; then echo $AUTH_TOKEN; else : > \"\$1/ran\"; echo expired-token; fi" > "$WORK/auth_tokcmd"
	auth_ok "token command re-run after 535" XOAUTH2 "$x" \
	    "auth_mechanisms XOAUTH2" "auth_password_command sh $WORK/auth_tokcmd $WORK/auth_rerun"
	check "token command re-run after 535: two AUTH in one session" \
	    test "$(grep -c '^C: AUTH XOAUTH2' "$T/transcript")" -eq 2
	echo 'not-the-token' > "$WORK/auth_badtoken"
	auth_deferred "XOAUTH2 wrong token" "$x" \
	    'authentication failed: 535 5\.7\.8 Username and Password not accepted \(AUTH XOAUTH2; server said \{"status":"401","schemes":"bearer"\}\)' \
	    "auth_mechanisms XOAUTH2" "auth_password_command cat $WORK/auth_badtoken"
	auth_deferred "auth_password_command failing" "$x" \
	    'auth_password_command failed \(non-zero exit\)' \
	    "auth_mechanisms XOAUTH2" "auth_password_command false"
}

test_auth_secrets_never_logged() {
	local f found=""
	for f in "$WORK"/auth_*/log "$WORK"/auth_*/daemon.err "$WORK"/tls_*/log "$WORK"/tls_*/daemon.err; do
		[ -e "$f" ] || continue
		grep -qe "$AUTH_PW" -e "$AUTH_TOKEN" -e secret "$f" && found="$found $f"
	done
	check "no password or token in any log or stderr${found:+:$found}" test -z "$found"
}

mkdir -p "$WORK/auth_rerun"
chown "$RUNUID:$RUNGID" "$WORK/auth_rerun"
echo "$AUTH_TOKEN" > "$WORK/auth_token"
chmod 644 "$WORK/auth_token"
test_auth_mechanisms
test_auth_tokens
test_auth_secrets_never_logged
