#!/usr/bin/env bash
#
# interop.sh - relayq against a real Postfix smarthost.
#
# Run by `make interop` as `bash test/interop.sh` from the top of the
# repository, after `make` has built ./sendmail and ./relayq.
#
# What it does:
#   1. installs postfix, sasl2-bin, libsasl2-modules, openssl, nodejs and
#      ca-certificates (the npm registry is HTTPS) if missing;
#   2. (test/postfix.sh, shared with make bench) makes a test CA, a server
#      certificate for localhost/127.0.0.1 and a second, unrelated CA, in
#      a private temp dir;
#   3. starts a PRIVATE Postfix instance (own config, queue and data
#      directories in the temp dir, listening on 127.0.0.1 only, free
#      ports) with submission+STARTTLS on port P1 and implicit TLS
#      ("smtps") on port P2, both requiring Cyrus SASL (sasldb, PLAIN,
#      LOGIN, SCRAM-SHA-256) over TLS, relaying everything it accepts to Postfix's own
#      smtp-sink on port P3, which writes each message to a file;
#   4. checks that harness with openssl s_client (AUTH PLAIN on both
#      ports), so a failure further down is relayq's and not the setup's;
#   5. for both ports (SCRAM-SHA-256, relayq's first choice) and for
#      PLAIN and LOGIN on the STARTTLS port, runs `relayq drain -f` and `sendmail -t` as an
#      unprivileged uid (65534 when run as root), submits one message and
#      checks what reached the sink, the Postfix log (TLS, SASL) and the
#      relayq log (status=sent);
#   6. negative test: relayq configured with the wrong CA must defer,
#      keep the message queued, never authenticate, deliver nothing;
#   7. follows README.md's Install and Configure sections as written, in a
#      throwaway overlay root, with this Postfix as the provider
#      (test/interop_readme.sh);
#   8. the differential test (test/interop_diff.sh): the corpus of
#      test/diff/ through Postfix's sendmail and relayq's to one sink,
#      every difference either listed in test/diff/accepted or a failure;
#   9. real SMTP clients (Python's smtplib, curl, swaks, nodemailer from
#      the npm registry) through relayq's listener and relayq drain to
#      this Postfix (test/interop_listen.sh), in plaintext and then, to a
#      listener with listen_tls_cert/listen_tls_key and a listen_auth_file
#      from relayq listen-passwd, with STARTTLS (verified against the test
#      CA) and AUTH: relayq's Received field says ESMTPSA, and a wrong
#      password gets 535 and queues nothing;
#  10. sender-dependent routes (test/interop_routes.sh): a second
#      submission service (P5) for a second SASL user, each user refused
#      on the other's service; relayq's routes for @a.example and
#      @b.example and its default route each deliver through their own
#      service as their own user, as Postfix logs; with service B stopped
#      only B's mail waits, and it arrives once when B is back;
#  11. sender_canonical seen at Postfix (test/interop_canon.sh): cron's
#      call as root and a local user's message leave with the mapped
#      envelope sender (Postfix's from=<>) and sender fields, display
#      names and comments kept;
#  12. rate_limit 6/min against a burst of 18 (test/interop_rate.sh):
#      Postfix's log shows at most 6 accepted in any 59-s window (its
#      timestamps have 1-s resolution), all 18 arrive once, none deferred;
#      this part takes some 2 minutes.
#
# /etc/postfix is never modified and the system Postfix instance (if any)
# is left alone.  Nothing is sent to a non-loopback address.  Every wait
# has a deadline.  Prints `ok - NAME` / `not ok - NAME: DETAILS` per
# assertion and ends with `N passed, N failed`; exits 1 on any failure.
#
# Environment: INTEROP_KEEP=1 keeps the temp dir (its path is printed);
# INTEROP_TIMEOUT=SECONDS changes the per-wait deadline (default 30);
# INTEROP_RELAYQ, INTEROP_SENDMAIL test other binaries than ./relayq and
# ./sendmail; INTEROP_ONLY=diff runs the differential test (8) alone,
# INTEROP_ONLY=listen the listener's clients (9) alone, and routes (10)
# canon (11) and rate (12) likewise.

set -u
set -o pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd) || exit 1
cd "$TOP" || exit 1
RELAYQ=${INTEROP_RELAYQ:-$TOP/relayq}
SENDMAIL=${INTEROP_SENDMAIL:-$TOP/sendmail}
WAIT=${INTEROP_TIMEOUT:-30}
PKGS="postfix sasl2-bin libsasl2-modules openssl nodejs ca-certificates"
REALM=relayq.test
SASL_USER=relayqtest
PATH=$PATH:/usr/sbin:/sbin

# relayq reads RELAYQ_<KEY> variables as config overrides: none from outside.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^RELAYQ_')

npass=0
nfail=0
ok() { npass=$((npass + 1)); echo "ok - $1"; }
not_ok() { nfail=$((nfail + 1)); echo "not ok - $1: $2"; }
# check NAME DETAILS COMMAND...: ok if COMMAND succeeds.
check() {
	local name=$1 details=$2
	shift 2
	if "$@"; then ok "$name"; else not_ok "$name" "$details"; fi
}

# ---------------------------------------------------------------------------
# Privileges.  Postfix needs root; relayq must never run as root.

if [ "$(id -u)" -eq 0 ]; then
	ROOT=1
	PRIV=()
	RUN_UID=65534
	RUN_GID=65534
	UNPRIV=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
else
	ROOT=0
	RUN_UID=$(id -u)
	RUN_GID=$(id -g)
	UNPRIV=()
	PRIV=(sudo -n)	# only for the private Postfix instance, if allowed
fi

missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PKGS"
	if [ $ROOT -ne 1 ]; then
		echo "interop: missing packages:$missing; as root run:" >&2
		echo "  apt-get update && $install_cmd" >&2
		exit 1
	fi
	echo "# installing$missing"
	ilog=$(mktemp /tmp/relayq-interop-apt.XXXXXX)
	if ! eval "$install_cmd" >"$ilog" 2>&1; then
		if ! { apt-get update && eval "$install_cmd"; } >>"$ilog" 2>&1; then
			tail -n 30 "$ilog" >&2
			rm -f "$ilog"
			echo "not ok - install packages: apt-get failed"
			echo "0 passed, 1 failed"
			exit 1
		fi
	fi
	rm -f "$ilog"
fi
if [ $ROOT -ne 1 ] && ! sudo -n true 2>/dev/null; then
	echo "interop: a private Postfix instance needs root (or sudo -n);" \
	    "run as root" >&2
	echo "not ok - privileges: not root and no passwordless sudo"
	echo "0 passed, 1 failed"
	exit 1
fi
for c in postfix postconf smtp-sink saslpasswd2 openssl setpriv perl; do
	if ! command -v "$c" >/dev/null 2>&1; then
		echo "not ok - tools: $c not found"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

# ---------------------------------------------------------------------------
# Temp dir, cleanup.

D=$(mktemp -d /tmp/relayq-interop.XXXXXX) || exit 1
chmod 755 "$D"
. "$TOP/test/postfix.sh"	# PFC, SINK, RUN ... under $D; pf_setup below
mkdir -p "$RUN"

# stop_pid PIDFILE: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
	local pid n
	pid=$(cat "$1" 2>/dev/null) || return 0
	rm -f "$1"
	[ -n "$pid" ] || return 0
	"${PRIV[@]}" kill -TERM "$pid" 2>/dev/null || return 0
	for ((n = 0; n < 100; n++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	"${PRIV[@]}" kill -KILL "$pid" 2>/dev/null
}

cleanup() {
	local f
	trap - EXIT INT TERM HUP
	for f in "$RUN"/*.pid; do
		[ -e "$f" ] && stop_pid "$f"
	done
	pf_teardown
	if [ "${INTEROP_KEEP:-0}" = 1 ]; then
		echo "# kept $D"
	else
		"${PRIV[@]}" rm -rf "$D"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# wait_for SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" && return 0
		[ $SECONDS -ge $end ] && return 1
		sleep 0.1
	done
}

maillog() { "${PRIV[@]}" cat "$MAILLOG" 2>/dev/null; }
maillog_size() { maillog | wc -c; }
# maillog_since OFFSET: the Postfix log after byte OFFSET.
maillog_since() { maillog | tail -c +$(($1 + 1)); }

dump_logs() {
	local f
	for f in "$D"/rq-*/relayq.log "$D"/rq-*/daemon.out \
	    "$D"/rq-*/sendmail.out; do
		[ -s "$f" ] || continue
		echo "# ---- tail of ${f#"$D"/}"
		tail -n 40 "$f" | sed 's/^/#   /'
	done
	echo "# ---- tail of Postfix maillog"
	maillog | tail -n 80 | sed 's/^/#   /'
	if [ -s "$D/sink.out" ]; then
		echo "# ---- smtp-sink output"
		tail -n 20 "$D/sink.out" | sed 's/^/#   /'
	fi
}

finish() {
	[ $nfail -gt 0 ] && dump_logs
	echo "$npass passed, $nfail failed"
	[ $nfail -eq 0 ]
	exit
}

# bail NAME DETAILS: a setup step failed; nothing after it can run.
bail() {
	not_ok "$1" "$2"
	finish
}

# ---------------------------------------------------------------------------
# The private Postfix (test/postfix.sh): ports, test PKI, sasldb, config,
# smtp-sink, start.

pf_setup || finish
ok "private Postfix $(postconf -h mail_version) on 127.0.0.1:$P1 (STARTTLS), :$P2 (implicit TLS), :$P5 (STARTTLS, user B), sink :$P3"

# ---------------------------------------------------------------------------
# Helpers for messages and logs.

# sink_file TOKEN: prints the sink file holding TOKEN.
sink_file() {
	"${PRIV[@]}" grep -rlF -- "$1" "$SINK" 2>/dev/null | head -n 1
}
have_sink_file() { [ -n "$(sink_file "$1")" ]; }
# sink_holds TOKEN: how many sink files hold TOKEN
sink_holds() { "${PRIV[@]}" grep -rlF -- "$1" "$SINK" 2>/dev/null | wc -l; }
# sent_once TOKEN: exactly one sink file holds TOKEN
sent_once() { [ "$(sink_holds "$1")" -eq 1 ]; }
# pf_delivered OFFSET QUEUEID: Postfix logged delivery of QUEUEID to the sink.
pf_delivered() {
	maillog_since "$1" | grep -qE "]: $2: to=<[^>]*>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P3, .*status=sent"
}

# make_message FILE MODE TOKEN RCPT [full]: the test message.  Without
# "full" it has no Date/Message-ID (relayq adds them).  Has a folded
# header, lines starting with "." and "..", a "From " line, trailing
# white space, tabs, empty lines, and some 100 KB of body.
make_message() {
	{
		echo "From: Relayq Interop <sender@example.org>"
		echo "To: Interop Recipient <$4>"
		echo "Subject: relayq interop $2 $3"
		if [ "${5:-}" = full ]; then
			echo "Date: $(LC_ALL=C date -R)"
			echo "Message-ID: <$3.$2@interop.$REALM>"
		fi
		printf 'X-Relayq-Interop: folded header, first line\n'
		printf '\tsecond line after a tab\n    third line after spaces\n'
		echo "MIME-Version: 1.0"
		echo "Content-Type: text/plain; charset=us-ascii"
		echo ""
		echo "Hello from the relayq interop test ($2)."
		echo ".a line starting with a dot"
		echo "..x"
		echo "..."
		echo ". dot and space"
		echo "From the body, a line starting with From and a space"
		echo ""
		echo "trailing white space   "
		printf '\ttab at the start, tab at the end\t\n'
		echo ""
		echo ""
		awk 'BEGIN {
			s = "The quick brown fox jumps over the lazy dog 0123456789 ";
			s = s s s s;
			for (i = 1; i <= 1500; i++) {
				l = sprintf("%04d %s", i, substr(s, 1, (i * 37) % 180));
				if (i % 250 == 0) l = "." l;
				print l;
			}
		}'
		echo "last line: ..x and . in the middle"
	} >"$1"
}

# compare_message SUBMITTED RECEIVED LABEL [relayq]: prints ok/not ok
# lines.  With "relayq", Date and Message-ID must have been added.
COMPARE_PL='
use strict; use warnings;
my ($subf, $rcvf, $label, $mode) = @ARGV;
sub slurp { local $/; open(my $fh, "<", $_[0]) or die "$_[0]: $!"; binmode $fh;
    my $s = <$fh>; close $fh; $s =~ s/\r\n/\n/g; return $s; }
sub split_msg { my $s = shift; my $i = index($s, "\n\n");
    return ($s, "") if $i < 0; return (substr($s, 0, $i + 1), substr($s, $i + 2)); }
sub fields { my @out; for my $l (split /(?<=\n)/, $_[0]) {
    if ($l =~ /^[ \t]/ && @out) { $out[-1] .= $l } else { push @out, $l } } return @out; }
sub fname { my ($n) = $_[0] =~ /^([^:\s]+)\s*:/; return defined $n ? lc $n : "<malformed>"; }
sub esc { my $s = shift; $s = substr($s, 0, 100) . "..." if length $s > 100;
    $s =~ s/([^\x20-\x7e])/sprintf("\\x%02x", ord $1)/ge; return $s; }
my ($sh, $sb) = split_msg(slurp($subf));
my ($rh, $rb) = split_msg(slurp($rcvf));
# smtp-sink appends one empty line to every dump.
$rb =~ s/\n\n\z/\n/ or $rb =~ s/\n\z// if $rb ne "";
my @sf = fields($sh); my @rf = fields($rh);
my @out;
if ($sb eq $rb) { push @out, "ok - $label: body identical (" . length($sb) . " bytes)"; }
else {
    my @a = split /\n/, $sb, -1; my @b = split /\n/, $rb, -1; my $i = 0;
    $i++ while $i < @a && $i < @b && $a[$i] eq $b[$i];
    push @out, sprintf("not ok - %s: body differs: %d vs %d bytes, first at body line %d: sent \"%s\", got \"%s\"",
        $label, length $sb, length $rb, $i + 1, esc($a[$i] // "<EOF>"), esc($b[$i] // "<EOF>"));
}
my %have; $have{$_}++ for @rf;
my @missing = grep { !$have{$_} } @sf;
if (!@missing) { push @out, "ok - $label: all " . scalar(@sf) . " submitted header fields present unchanged"; }
else { push @out, "not ok - $label: submitted header fields missing or changed: " . join(" | ", map { esc($_) } @missing); }
my %subname; $subname{fname($_)}++ for @sf;
my %allowed = map { $_ => 1 } qw(received date message-id return-path x-client-addr
    x-client-proto x-helo-args x-mail-args x-rcpt-args);
$allowed{from} = 1 unless $subname{from};
my %seen; my @extra;
for my $f (@rf) { my $n = fname($f); $seen{$n}++;
    push @extra, esc($f) if !$subname{$n} && !$allowed{$n}; }
# Fields added although the submitted message had a field of that name.
for my $n (keys %subname) { push @extra, "$n x$seen{$n} (sent x$subname{$n})"
    if ($seen{$n} // 0) > $subname{$n} && $n ne "received"; }
if (!@extra) { push @out, "ok - $label: no unexpected header fields added"; }
else { push @out, "not ok - $label: unexpected header fields: " . join(" | ", @extra); }
if (($mode // "") eq "relayq") {
    my @d = grep { fname($_) eq "date" } @rf; my @m = grep { fname($_) eq "message-id" } @rf;
    if (@d == 1 && @m == 1 && $m[0] =~ /^Message-ID:\s*<[^<>\s\@]+\@[^<>\s\@]+>\s*$/i
        && $d[0] =~ /^Date:\s*(\w{3}, )?\s*\d{1,2} \w{3} \d{4} \d\d:\d\d(:\d\d)? [+-]\d{4}/i) {
        push @out, "ok - $label: relayq added one Date and one Message-ID";
    } else {
        push @out, "not ok - $label: expected one well-formed Date and Message-ID, got: "
            . join(" | ", map { esc($_) } @d, @m);
    }
}
print "$_\n" for @out;
'
compare_message() {
	local line
	while IFS= read -r line; do
		case $line in
		"ok - "*) ok "${line#ok - }" ;;
		"not ok - "*)
			line=${line#not ok - }
			not_ok "${line%%: *}" "${line#*: }"
			;;
		*) not_ok "$3: compare" "$line" ;;
		esac
	done < <("${PRIV[@]}" perl -e "$COMPARE_PL" "$1" "$2" "$3" "${4:-}" 2>&1)
}

# pf_session_check OFFSET SERVICE QUEUEID LABEL MECH [USER]: the Postfix
# smtpd session that accepted QUEUEID (on SERVICE) used TLS and SASL MECH
# as USER (default SASL_USER).
pf_session_check() {
	local out tls client user=${6:-$SASL_USER}
	out=$(maillog_since "$1" | awk -v svc="postfix-rq/$2/smtpd" -v q="$3" '
		{
			i = index($0, svc "[")
			if (i == 0) next
			rest = substr($0, i + length(svc) + 1)
			pid = substr(rest, 1, index(rest, "]") - 1)
			if ($0 ~ /: connect from /) tls[pid] = ""
			else if ($0 ~ /TLS connection established from/) tls[pid] = $0
			else if (index($0, ": " q ": client=")) {
				print "TLS\t" tls[pid]; print "CLIENT\t" $0
			}
		}')
	tls=$(printf '%s\n' "$out" | sed -n 's/^TLS\t//p' | head -n 1)
	client=$(printf '%s\n' "$out" | sed -n 's/^CLIENT\t//p' | head -n 1)
	if [ -z "$client" ]; then
		not_ok "$4: Postfix accepted it on the $2 port" \
		    "no \"$3: client=\" line from postfix-rq/$2/smtpd"
		return
	fi
	ok "$4: Postfix accepted it on the $2 port as $3"
	check "$4: Postfix logged a TLS connection for that session" \
	    "no \"TLS connection established\" line for that smtpd session" \
	    test -n "$tls"
	check "$4: Postfix logged SASL auth $5 as $user" \
	    "got: ${client#*: }" \
	    grep -qE "sasl_method=$5, sasl_username=$user(@$REALM)?(,|\$)" \
	    <<<"$client"
}

# ---------------------------------------------------------------------------
# Harness self-check: openssl s_client, AUTH PLAIN, one message per port.

# smtp_read CODE: read one SMTP reply from the s_client coprocess; succeed
# if it has CODE.  The reply is in SMTP_REPLY.
smtp_read() {
	local line
	SMTP_REPLY=
	while IFS= read -r -t 15 line <&"${SC[0]}"; do
		line=${line%$'\r'}
		SMTP_REPLY+="$line "
		if [[ $line =~ ^[0-9]{3}\  ]]; then
			[[ $line == "$1"* ]]
			return
		fi
	done
	SMTP_REPLY+="(no reply)"
	return 1
}
smtp_cmd() { printf '%s\n' "$1" >&"${SC[1]}" && smtp_read "$2"; }

# sclient_send MODE PORT MSGFILE RCPT: deliver MSGFILE the way a correct
# client would, as SC_USER with SC_PW (default SASL_USER, SASL_PW).  Fails
# with a description in SC_ERR.
sclient_send() {
	local mode=$1 port=$2 msg=$3 rcpt=$4 pid rc=0 auth line
	local -a args=(s_client -quiet -crlf -connect "127.0.0.1:$port"
	    -servername localhost -verify_hostname localhost
	    -verify_return_error -CAfile "$D/tls/ca.pem")
	[ "$mode" = starttls ] && args+=(-starttls smtp)
	auth=$(printf '\0%s\0%s' "${SC_USER:-$SASL_USER}@$REALM" "${SC_PW:-$SASL_PW}" | base64 -w0)
	coproc SC { exec openssl "${args[@]}" 2>"$D/sclient-$mode.err"; }
	pid=$SC_PID
	echo "$pid" >"$RUN/sclient.pid"
	{
		if [ "$mode" = implicit ]; then smtp_read 220 || { SC_ERR="greeting: $SMTP_REPLY"; false; }; fi &&
		smtp_cmd "EHLO client.example.org" 250 || { SC_ERR="EHLO: $SMTP_REPLY"; false; }
	} &&
	smtp_cmd "AUTH PLAIN $auth" 235 || { SC_ERR=${SC_ERR:-"AUTH PLAIN: $SMTP_REPLY"}; false; } &&
	smtp_cmd "MAIL FROM:<sender@example.org>" 250 || { SC_ERR=${SC_ERR:-"MAIL: $SMTP_REPLY"}; false; } &&
	smtp_cmd "RCPT TO:<$rcpt>" 250 || { SC_ERR=${SC_ERR:-"RCPT: $SMTP_REPLY"}; false; } &&
	smtp_cmd "DATA" 354 || { SC_ERR=${SC_ERR:-"DATA: $SMTP_REPLY"}; false; } &&
	{
		while IFS= read -r line; do
			[[ $line == .* ]] && line=.$line
			printf '%s\n' "$line"
		done <"$msg" >&"${SC[1]}"
		smtp_cmd "." 250 || { SC_ERR="end of data: $SMTP_REPLY"; false; }
	} &&
	SC_QID=$(sed -n 's/.*queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$SMTP_REPLY") &&
	smtp_cmd "QUIT" 221 || rc=1
	[ $rc -ne 0 ] && [ -z "${SC_ERR:-}" ] && SC_ERR="QUIT: $SMTP_REPLY"
	[ $rc -ne 0 ] && [ -s "$D/sclient-$mode.err" ] &&
	    SC_ERR="$SC_ERR; s_client: $(tr '\n' ' ' <"$D/sclient-$mode.err" | cut -c1-300)"
	[ -n "${SC[1]:-}" ] && eval "exec ${SC[1]}>&-" 2>/dev/null
	wait_for 5 eval '! alive '"$pid" || kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$RUN/sclient.pid"
	return $rc
}

for mode in starttls implicit; do
	case $mode in starttls) port=$P1 ;; implicit) port=$P2 ;; esac
	token=$(openssl rand -hex 8)
	rcpt=harness-$mode@example.org
	msg=$D/harness-$mode.eml
	make_message "$msg" "harness-$mode" "$token" "$rcpt" full
	off=$(maillog_size)
	SC_ERR= SC_QID=
	if ! sclient_send "$mode" "$port" "$msg" "$rcpt"; then
		bail "harness $mode: openssl s_client AUTH PLAIN + message" "$SC_ERR"
	fi
	ok "harness $mode: openssl s_client delivered with AUTH PLAIN (queued as $SC_QID)"
	wait_for "$WAIT" pf_delivered "$off" "$SC_QID" ||
	    bail "harness $mode: Postfix relayed it to the sink" \
	    "no status=sent to 127.0.0.1:$P3 for $SC_QID within ${WAIT}s"
	f=$(sink_file "$token")
	[ -n "$f" ] || bail "harness $mode: message in the sink" "no sink file has $token"
	compare_message "$msg" "$f" "harness $mode"
	pf_session_check "$off" "$mode" "$SC_QID" "harness $mode" PLAIN
done
[ $nfail -eq 0 ] || bail "harness" "the Postfix side does not work; not testing relayq"

# ---------------------------------------------------------------------------
# relayq.

if [ ! -x "$RELAYQ" ] || [ ! -x "$SENDMAIL" ]; then
	bail "relayq binaries" "$RELAYQ and $SENDMAIL must be built first (make)"
fi
# Copies in the temp dir, so that uid 65534 can run them even when the
# work tree is somewhere it cannot enter (e.g. under /root).
mkdir -p "$D/bin"
cp "$RELAYQ" "$D/bin/relayq" && cp "$SENDMAIL" "$D/bin/sendmail" ||
    bail "relayq binaries" "cannot copy them to $D/bin"
chmod 755 "$D/bin" "$D/bin/relayq" "$D/bin/sendmail"
RELAYQ=$D/bin/relayq
SENDMAIL=$D/bin/sendmail

# setup_relayq NAME MODE PORT CAFILE [MECH]: a spool, config and password file
# for one scenario in $D/rq-NAME, owned by the uid that runs relayq.
setup_relayq() {
	local dir=$D/rq-$1
	mkdir -p "$dir/spool"
	printf '%s\n' "$SASL_PW" >"$dir/password"
	chmod 600 "$dir/password"
	cat >"$dir/relayq.conf" <<EOF
# relayq interop test, scenario $1
smarthost localhost:$3
tls $2
tls_ca_file $4
auth_user $SASL_USER@$REALM
auth_password_file $dir/password
spool $dir/spool
domain example.org
log $dir/relayq.log
retry_min 1s
${5:+auth_mechanisms $5}
EOF
	chmod 644 "$dir/relayq.conf"
	chmod 700 "$dir/spool"
	chmod 755 "$dir"
	if [ $ROOT -eq 1 ]; then
		chown -R "$RUN_UID:$RUN_GID" "$dir"
	fi
}

# start_relayq NAME: relayq drain -f in the background, PID in $RUN.
start_relayq() {
	local dir=$D/rq-$1
	(cd "$dir" && exec "${UNPRIV[@]}" "$RELAYQ" -C "$dir/relayq.conf" \
	    drain -f) </dev/null >"$dir/daemon.out" 2>&1 &
	RQ_PID=$!
	echo "$RQ_PID" >"$RUN/relayq-$1.pid"
	# It creates the spool subdirectories; give it a moment to do so.
	wait_for 10 eval "[ -d '$dir/spool/drop' ] || ! alive $RQ_PID"
	alive "$RQ_PID"
}

# stop_relayq NAME: SIGTERM; it must exit within 10 s.
stop_relayq() {
	local pidf=$RUN/relayq-$1.pid pid
	pid=$(cat "$pidf" 2>/dev/null) || return 0
	if ! alive "$pid"; then
		not_ok "$1: relayq drain still running at the end" \
		    "it exited early: $(tail -n 3 "$D/rq-$1/daemon.out" | tr '\n' ' ')"
		rm -f "$pidf"
		return
	fi
	kill -TERM "$pid"
	if wait_for 10 eval "! alive $pid"; then
		ok "$1: relayq drain exits on SIGTERM"
		rm -f "$pidf"
	else
		not_ok "$1: relayq drain exits on SIGTERM" "still running after 10s"
	fi
}

# pf_qid LINE: Postfix's queue id in relayq's status=sent LINE
pf_qid() {
	sed -n 's/.*status=sent (250[ 0-9.]*Ok: queued as \([0-9A-Za-z]*\)).*/\1/p' <<<"$1"
}
relayq_log() { cat "$D/rq-$1/relayq.log" "$D/rq-$1/daemon.out" 2>/dev/null; }
relayq_logged() { relayq_log "$1" | grep -qE "$2"; }
spool_count() { find "$D/rq-$1/spool/$2" -mindepth 1 -maxdepth 1 -type f 2>/dev/null | wc -l; }
spool_empty() { [ "$(spool_count "$1" drop)" -eq 0 ] && [ "$(spool_count "$1" queue)" -eq 0 ]; }
ere_quote() { sed 's/[][\.*^$?+(){}|/]/\\&/g' <<<"$1"; }

# submit NAME MSGFILE [ARG...]: sendmail ARGs (default -t) as the relayq uid.  sendmail takes -C
# from root only (like Postfix's sendmail, it will not let a user point it
# at a config of their choosing); an unprivileged caller names it with
# RELAYQ_CONFIG.
submit() {
	local dir=$D/rq-$1 rc name=$1 msg=$2
	shift 2
	[ $# -gt 0 ] || set -- -t
	(cd "$dir" && RELAYQ_CONFIG=$dir/relayq.conf \
	    exec timeout 60 "${UNPRIV[@]}" "$SENDMAIL" "$@") \
	    <"$msg" >"$dir/sendmail.out" 2>&1
	rc=$?
	check "$name: sendmail $* exits 0" \
	    "exit $rc: $(head -c 300 "$dir/sendmail.out" | tr '\n' ' ')" test $rc -eq 0
	return $rc
}

# one part alone (INTEROP_ONLY=diff, listen or routes), while working on it
case ${INTEROP_ONLY:-} in
'') ;;
diff|listen|routes|canon|rate) . "$TOP/test/interop_$INTEROP_ONLY.sh"; finish ;;
*) bail "INTEROP_ONLY" "diff, listen, routes, canon or rate, not $INTEROP_ONLY" ;;
esac

# --- positive tests: STARTTLS and implicit TLS -------------------------------

# NAME:MODE:MECH; SCRAM-SHA-256 is what relayq picks when it is offered
for scen in starttls:starttls:SCRAM-SHA-256 implicit:implicit:SCRAM-SHA-256 \
    plain:starttls:PLAIN login:starttls:LOGIN; do
	IFS=: read -r name mode mech <<<"$scen"
	case $mode in starttls) port=$P1 ;; implicit) port=$P2 ;; esac
	token=$(openssl rand -hex 8)
	rcpt=rcpt-$name@example.org
	msg=$D/relayq-$name.eml
	make_message "$msg" "$name" "$token" "$rcpt"
	setup_relayq "$name" "$mode" "$port" "$D/tls/ca.pem" "$mech"
	off=$(maillog_size)
	if ! start_relayq "$name"; then
		not_ok "$name: relayq drain -f starts" \
		    "exited: $(tail -n 5 "$D/rq-$name/daemon.out" | tr '\n' ' ')"
		continue
	fi
	ok "$name: relayq drain -f running as uid $RUN_UID (pid $RQ_PID)"
	if ! submit "$name" "$msg"; then
		stop_relayq "$name"
		continue
	fi
	rx="to=<$(ere_quote "$rcpt")>, relay=localhost\[127\.0\.0\.1\]:$port, tls=TLSv1\.[23]/[A-Z0-9-]+, delay=[0-9.]+, (.*, )?dsn=2\.0\.0, status=sent \(250 "
	if ! wait_for "$WAIT" relayq_logged "$name" "$rx|status=(deferred|bounced)"; then
		not_ok "$name: relayq logged status=sent" "nothing logged within ${WAIT}s"
		stop_relayq "$name"
		continue
	fi
	# A deferral may be followed by a successful retry: give it the deadline.
	wait_for "$WAIT" relayq_logged "$name" "$rx"
	line=$(relayq_log "$name" | grep -E "$rx" | head -n 1)
	if [ -z "$line" ]; then
		not_ok "$name: relayq logged status=sent" \
		    "got: $(relayq_log "$name" | grep -E 'status=' | tail -n 2 | tr '\n' ' ')"
		stop_relayq "$name"
		continue
	fi
	ok "$name: relayq logged to=<$rcpt>, relay=localhost[127.0.0.1]:$port, dsn=2.0.0, status=sent (250 ...)"
	qid=$(pf_qid "$line")
	if [ -z "$qid" ]; then
		# Fall back on the last authenticated session on that port.
		qid=$(maillog_since "$off" | grep "postfix-rq/$mode/smtpd\[" |
		    sed -n 's/.*]: \([0-9A-Za-z]*\): client=.*/\1/p' | tail -n 1)
	fi
	pf_session_check "$off" "$mode" "$qid" "$name" "$mech"
	if ! wait_for "$WAIT" pf_delivered "$off" "$qid"; then
		not_ok "$name: Postfix relayed it to the sink" \
		    "no status=sent for $qid to 127.0.0.1:$P3 within ${WAIT}s"
	else
		ok "$name: Postfix relayed it to the sink"
		# Postfix's Received: field names its queue id.
		f=$(sink_file "$token")
		[ -n "$f" ] || f=$(sink_file "with ESMTPSA id $qid")
		if [ -n "$f" ]; then
			compare_message "$msg" "$f" "$name" relayq
		else
			not_ok "$name: message in the sink" \
			    "no sink file has $token or id $qid"
		fi
	fi
	if wait_for 5 spool_empty "$name"; then
		ok "$name: spool drop/ and queue/ empty after delivery"
	else
		not_ok "$name: spool drop/ and queue/ empty after delivery" \
		    "drop: $(spool_count "$name" drop), queue: $(spool_count "$name" queue)"
	fi
	stop_relayq "$name"
done

# --- negative test: wrong CA ------------------------------------------------

for mode in starttls implicit; do
	case $mode in starttls) port=$P1 ;; implicit) port=$P2 ;; esac
	name=badca-$mode
	token=$(openssl rand -hex 8)
	rcpt=rcpt-$name@example.org
	msg=$D/relayq-$name.eml
	make_message "$msg" "$name" "$token" "$rcpt"
	setup_relayq "$name" "$mode" "$port" "$D/tls/otherca.pem"
	off=$(maillog_size)
	nsink=$(find "$SINK" -type f | wc -l)
	if ! start_relayq "$name"; then
		not_ok "$name: relayq drain -f starts" \
		    "exited: $(tail -n 5 "$D/rq-$name/daemon.out" | tr '\n' ' ')"
		continue
	fi
	submit "$name" "$msg" || { stop_relayq "$name"; continue; }
	if ! wait_for "$WAIT" relayq_logged "$name" "status=(deferred|sent|bounced)"; then
		not_ok "$name: relayq defers" "no status= line within ${WAIT}s"
		stop_relayq "$name"
		continue
	fi
	rx="to=<$(ere_quote "$rcpt")>, relay=.*status=deferred"
	check "$name: relayq defers the message (status=deferred)" \
	    "got: $(relayq_log "$name" | grep 'status=' | head -n 2 | tr '\n' ' ')" \
	    relayq_logged "$name" "$rx"
	check "$name: relayq log says certificate verification failed" \
	    "got: $(relayq_log "$name" | tail -n 3 | tr '\n' ' ')" \
	    relayq_logged "$name" '[Cc]ertificate.*(verif|fail|untrusted|not trusted)|[Vv]erif[a-z]* (of )?(the )?(server )?certificate|verify failed'
	check "$name: relayq never logs status=sent" \
	    "$(relayq_log "$name" | grep 'status=sent' | head -n 1)" \
	    eval "! relayq_logged '$name' 'status=sent'"
	check "$name: message still queued (1 file in queue/)" \
	    "queue/ has $(spool_count "$name" queue) files, drop/ $(spool_count "$name" drop)" \
	    test "$(spool_count "$name" queue)" -eq 1
	# The TLS failure and disconnect show up in the Postfix log.
	wait_for 10 eval "maillog_since $off | grep -q 'postfix-rq/$mode/smtpd\[.*disconnect from'"
	since=$(maillog_since "$off")
	check "$name: relayq connected to Postfix on the $mode port" \
	    "no connect from in the Postfix log" \
	    grep -q "postfix-rq/$mode/smtpd\[.*connect from" <<<"$since"
	check "$name: Postfix logged no SASL authentication" \
	    "$(grep -E 'sasl_(method|username)=' <<<"$since" | head -n 1)" \
	    eval "! grep -qE 'sasl_(method|username)=|authentication (succeeded|failed)' <<<\"\$since\""
	check "$name: Postfix accepted no message" \
	    "$(grep -E ': client=' <<<"$since" | head -n 1)" \
	    eval "! grep -q ': client=' <<<\"\$since\""
	check "$name: nothing reached the sink" \
	    "sink has $(find "$SINK" -type f | wc -l) files, had $nsink" \
	    eval "[ \"\$(find '$SINK' -type f | wc -l)\" -eq $nsink ] && ! have_sink_file $token"
	stop_relayq "$name"
done

# --- TLS version and session resumption ---------------------------------------
# Two messages with idle_timeout 0, so two connections to the STARTTLS port:
# the first negotiates the newest TLS this build's mbedTLS has (TLS 1.3 on
# 3.6, Debian 13; TLS 1.2 on 2.28, Debian 12), and Postfix logs that
# version; the second resumes the first's session (a TLS 1.3 ticket, or a
# TLS 1.2 ticket), as relayq logs.

want=TLSv1.2
[ "$(printf '#include <mbedtls/version.h>\nMBEDTLS_VERSION_MAJOR\n' |
    ${CC:-cc} -E -P - 2>/dev/null | tail -1)" = 3 ] && want=TLSv1.3
name=resume
setup_relayq "$name" starttls "$P1" "$D/tls/ca.pem"
echo "idle_timeout 0" >>"$D/rq-$name/relayq.conf"
off=$(maillog_size)
if start_relayq "$name"; then
	for i in 1 2; do
		make_message "$D/relayq-$name-$i.eml" "$name" "$(openssl rand -hex 8)" \
		    "rcpt-$name-$i@example.org"
		submit "$name" "$D/relayq-$name-$i.eml" &&
		    wait_for "$WAIT" relayq_logged "$name" "to=<rcpt-$name-$i@example\.org>, .*status=sent"
		check "$name: message $i sent" "$(relayq_log "$name" | tail -n 2 | tr '\n' ' ')" \
		    relayq_logged "$name" "to=<rcpt-$name-$i@example\.org>, relay=localhost\[127\.0\.0\.1\]:$P1, tls=$want/[A-Z0-9-]+, .*status=sent"
	done
	rx="Verified TLS connection established to localhost\[127\.0\.0\.1\]:$P1: $want with cipher [A-Z0-9-]+"
	check "$name: first connection: a full $want handshake, verified" \
	    "$(relayq_log "$name" | grep 'TLS connection' | tr '\n' ' ')" \
	    relayq_logged "$name" "$rx\$"
	check "$name: second connection resumed that session" \
	    "$(relayq_log "$name" | grep 'TLS connection' | tr '\n' ' ')" \
	    relayq_logged "$name" "$rx \(session resumed\)\$"
	wait_for 10 eval "[ \$(maillog_since $off | grep -c 'postfix-rq/starttls/smtpd\[.*TLS connection established from') -ge 2 ]"
	check "$name: Postfix logged two $want connections" \
	    "$(maillog_since "$off" | grep 'TLS connection established' | tr '\n' ' ')" \
	    test "$(maillog_since "$off" | grep -c "postfix-rq/starttls/smtpd\[.*TLS connection established from .*: $want with cipher")" -ge 2
	stop_relayq "$name"
else
	not_ok "$name: relayq drain -f starts" \
	    "exited: $(tail -n 5 "$D/rq-$name/daemon.out" | tr '\n' ' ')"
fi

# the README followed step by step, the private Postfix as the provider
. "$TOP/test/interop_readme.sh"

# the same callers through Postfix's sendmail and relayq's, compared
. "$TOP/test/interop_diff.sh"

# real SMTP clients through relayq's listener
. "$TOP/test/interop_listen.sh"

# routes through two submission services with two SASL users
. "$TOP/test/interop_routes.sh"

# sender_canonical in the envelope and header at the smarthost
. "$TOP/test/interop_canon.sh"

# rate_limit seen in the smarthost's log
. "$TOP/test/interop_rate.sh"

finish
