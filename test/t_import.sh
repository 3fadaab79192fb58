# relayq import: each other null client's configuration, pointing at the
# test smarthost, is converted; the generated relayq.conf (plus only the
# test's spool and log lines) must deliver a message with the converted
# credentials, and the secret must never reach standard output.
# Sourced by test/check.sh, which provides test/lib.sh.

# import_case NAME FROM EXTRA-CONF -- FILES...: convert, then deliver
import_case() {
	local name=$1 from=$2 extra=$3 out rc
	shift 4
	rm -f "$T/pw"
	# as the daemon's uid, so the secret file is owned as drain demands
	out=$(cd "$T" && as_user "$TOP/relayq" import --from "$from" -p "$T/pw" "$@" 2>"$T/import.err"); rc=$?
	check "import $name: exit 0" test $rc -eq 0
	printf '%s\n' "$out" > "$T/generated.conf"
	check "import $name: the secret is not on standard output" \
	    sh -c "! grep -q secret '$T/generated.conf'"
	check "import $name: config names the password file" \
	    grep -qx "auth_password_file $T/pw" "$T/generated.conf"
	check "import $name: secret written, mode 0600" \
	    test "$(stat -c %a "$T/pw")" = 600 -a "$(cat "$T/pw")" = secret
	check "import $name: stderr says where the password went" \
	    grep -q "^relayq import: the password from .* is in $T/pw (mode 0600)$" "$T/import.err"
	{
		cat "$T/generated.conf"
		printf '%s\n' "spool $T/spool" "log $T/log" "retry_min 1s" \
		    "retry_max 2s" "aliases /dev/null"
		[ -n "$extra" ] && printf '%s\n' "$extra"
	} > "$T/conf"
	touch "$T/log"
	chown $RUNUID:$RUNGID "$T/log"
	if ! start_daemon; then
		not_ok "import $name: generated config starts the daemon" "$(cat "$T/daemon.err")"
		return 1
	fi
	printf 'Subject: imported from %s\n\nhello\n' "$name" | submit ops@example.net
	if wait_for 15 test -s "$T/mail/1.env"; then
		ok "import $name: generated config delivers"
	else
		not_ok "import $name: generated config delivers" "$(tail -2 "$T/log")"
	fi
	check "import $name: authenticated with the converted login" \
	    grep -qx 'auth=PLAIN:user' "$T/mail/1.env"
	stop_daemon
}

# import_follows NAME MAINFILE PWFILE: the main file alone finds the
# password file it names, and the result is the same configuration
import_follows() {
	local name=$1 main=$2 pwf=$3 out
	rm -f "$T/pw2"
	out=$(cd "$T" && as_user "$TOP/relayq" import -p "$T/pw2" "$main" 2>"$T/follow.err")
	check "import $name: $main alone reads the password file it names" \
	    test "$(cat "$T/pw2" 2>/dev/null)" = secret
	check "import $name: and says so" \
	    grep -qx "relayq import: read the passwords from $pwf, named in $main" "$T/follow.err"
	check "import $name: same relayq.conf as with both files" \
	    test "$(printf '%s\n' "$out" | sed "1d;s|$T/pw2|$T/pw|")" = "$(sed 1d "$T/generated.conf")"
}

test_import_ssmtp() {
	new_env import_ssmtp
	start_smtpd || { not_ok "import ssmtp: set-up" "see $T"; return; }
	cat > "$T/ssmtp.conf" <<-EOF
	root=postmaster@example.org
	mailhub=localhost:$PORT
	rewriteDomain=example.org
	UseSTARTTLS=YES
	TLS_CA_File=$CERTS/ca.pem
	AuthUser=user
	AuthPass=secret
	EOF
	import_case ssmtp ssmtp "" -- ssmtp.conf
	check "import ssmtp: exact relayq.conf" cmp -s "$T/generated.conf" - <<-EOF
	# relayq.conf(5) converted by \`relayq import' from ssmtp: ssmtp.conf
	smarthost localhost:$PORT
	tls_ca_file $CERTS/ca.pem
	auth_user user
	auth_password_file $T/pw
	domain example.org
	admin_address postmaster@example.org
	EOF
	stop_pid "$T/smtpd.pid"
}

test_import_msmtp() {
	new_env import_msmtp
	start_smtpd --implicit || { not_ok "import msmtp: set-up" "see $T"; return; }
	cat > "$T/msmtprc" <<-EOF
	defaults
	tls on
	tls_starttls off
	tls_trust_file $CERTS/ca.pem
	account other
	host nowhere.invalid
	account app
	host localhost
	port $PORT
	auth on
	user user
	password "secret"
	from app@example.org
	account default : app
	EOF
	import_case msmtp msmtp "" -- msmtprc
	check "import msmtp: implicit TLS (tls_starttls off) on a non-465 port" \
	    grep -qx 'tls implicit' "$T/generated.conf"
	check "import msmtp: from becomes the envelope sender" \
	    grep -qx 'mail=MAIL FROM:<app@example.org> SIZE=[0-9]*' "$T/mail/1.env"
	local pw
	pw=$(cd "$T" && as_user "$TOP/relayq" import --print-password msmtprc 2>/dev/null)
	check "import msmtp: --print-password prints only the secret" test "$pw" = secret
	(cd "$T" && as_user "$TOP/relayq" import -p "$T/pw" msmtprc >/dev/null 2>"$T/again.err")
	check "import msmtp: an existing password file is not overwritten (exit 73)" test $? -eq 73
	check "import msmtp: and says so" grep -q "File exists (not overwritten: remove it first)" "$T/again.err"
	stop_pid "$T/smtpd.pid"
}

test_import_nullmailer() {
	new_env import_nullmailer
	start_smtpd || { not_ok "import nullmailer: set-up" "see $T"; return; }
	echo "localhost smtp --port=$PORT --starttls --user=user --pass=secret --x509cafile=$CERTS/ca.pem" > "$T/remotes"
	echo web1 > "$T/me"
	echo example.org > "$T/defaultdomain"
	import_case nullmailer nullmailer "" -- remotes me defaultdomain
	check "import nullmailer: me + defaultdomain qualify the domain" \
	    grep -qx 'domain web1.example.org' "$T/generated.conf"
	check "import nullmailer: HELO is me" grep -qx 'C: EHLO web1.example.org' "$T/transcript"
	stop_pid "$T/smtpd.pid"
}

test_import_dma() {
	new_env import_dma
	start_smtpd || { not_ok "import dma: set-up" "see $T"; return; }
	printf '%s\n' "SMARTHOST localhost" "PORT $PORT" "SECURETRANSFER" \
	    "STARTTLS" "AUTHPATH $T/auth.conf" "MASQUERADE example.org" > "$T/dma.conf"
	echo "user|localhost:secret" > "$T/auth.conf"
	# dma has no CA setting: the test's private CA is added here
	import_case dma dma "tls_ca_file $CERTS/ca.pem" -- dma.conf auth.conf
	import_follows dma dma.conf "$T/auth.conf"
	stop_pid "$T/smtpd.pid"
}

test_import_postfix() {
	new_env import_postfix
	start_smtpd || { not_ok "import postfix: set-up" "see $T"; return; }
	cat > "$T/main.cf" <<-EOF
	myhostname = web1.example.org
	mydomain = example.org
	myorigin = \$mydomain
	relayhost = [localhost]:$PORT
	smtp_sasl_auth_enable = yes
	smtp_sasl_password_maps = hash:$T/sasl_passwd
	smtp_tls_security_level = encrypt
	smtp_tls_CAfile = $CERTS/ca.pem
	EOF
	echo "[localhost]:$PORT user:secret" > "$T/sasl_passwd"
	import_case postfix postfix "" -- main.cf sasl_passwd
	check "import postfix: \$mydomain expanded into domain" \
	    grep -qx 'domain example.org' "$T/generated.conf"
	import_follows postfix main.cf "$T/sasl_passwd"
	stop_pid "$T/smtpd.pid"
}

test_import_errors() {
	local rc
	new_env import_errors
	echo "nothing=here" > "$T/ssmtp.conf"
	"$TOP/relayq" import "$T/ssmtp.conf" >"$T/out" 2>"$T/err"; rc=$?
	check "import: no relay found exits 65" test $rc -eq 65
	check "import: no relay found says so" grep -qx "relayq: no relay host found in the ssmtp configuration" "$T/err"
	"$TOP/relayq" import "$T/nonexistent" >"$T/out" 2>"$T/err"; rc=$?
	check "import: unknown file name asks for --from (exit 64)" test $rc -eq 64
	"$TOP/relayq" import --from ssmtp "$T/nonexistent" >"$T/out" 2>"$T/err"; rc=$?
	check "import: unreadable file exits 66 naming it" \
	    sh -c "[ $rc -eq 66 ] && grep -q '$T/nonexistent: No such file' '$T/err'"
}

test_import_ssmtp
test_import_msmtp
test_import_nullmailer
test_import_dma
test_import_postfix
test_import_errors
