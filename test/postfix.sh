# postfix.sh - a private Postfix submission server on loopback, the real
# smarthost of `make interop' (test/interop.sh) and `make bench'
# (test/bench.sh).  Sourced, never run.
#
# The caller sets D (an empty directory of its own), PRIV (an empty array
# as root, else (sudo -n)), REALM, SASL_USER, WAIT and TOP, and defines
# wait_for SECONDS COMMAND... and bail NAME DETAILS (report a failed
# set-up step).  pf_setup then makes, all under $D and on 127.0.0.1 only:
#   P1  submission with STARTTLS, P2 implicit TLS (both requiring Cyrus
#       SASL: PLAIN, LOGIN, SCRAM-SHA-256 for SASL_USER@REALM with the
#       password SASL_PW, over TLS with the test PKI of test/mkcerts.sh in
#       $D/tls), P4 plaintext for mynetworks without AUTH (the bare-client
#       reference of make bench);
#   P5  a second submission service with STARTTLS ("subb"), for a second
#       user SASL_USER_B@REALM (password SASL_PW_B) only: Postfix's
#       check_sasl_access relays for SASL_USER on P1 and P2 and for
#       SASL_USER_B on P5, and refuses each on the other's ports;
#   P3  Postfix's smtp-sink, to which Postfix relays everything, writing
#       each message to $SINK.
# It returns 1 after bail when a step fails.  pf_teardown stops what
# pf_setup started.  /etc/postfix and any system Postfix are left alone.

PFC=$D/postfix			# config_directory
PFQ=$D/postfix-queue		# queue_directory
PFDATA=$D/postfix-data		# data_directory
MAILLOG=$D/maillog
SINK=$D/sink
RUN=$D/run			# PID files of what was started here
SASLDIR=$PFC/sasl		# Debian's Postfix reads $config_directory/sasl/
SASLDB=$D/sasldb/sasldb2
PF_STARTED=0

# alive PID: running and not a zombie.
alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# Free loopback ports.

USED_PORTS=" "
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
	command -v ss >/dev/null 2>&1 &&
	    [ -n "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}
# port_listening PORT: something listens on 127.0.0.1:PORT (without
# connecting when ss(8) is there, to keep the Postfix log clean).
port_listening() {
	if command -v ss >/dev/null 2>&1; then
		[ -n "$(ss -Hltn "( sport = :$1 )" 2>/dev/null)" ]
	else
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}
# pick_port: sets PORT to a free port below the ephemeral range.
pick_port() {
	local i p
	for ((i = 0; i < 500; i++)); do
		p=$((20000 + RANDOM % 12000))
		case $USED_PORTS in *" $p "*) continue ;; esac
		port_busy "$p" && continue
		USED_PORTS="$USED_PORTS$p "
		PORT=$p
		return 0
	done
	return 1
}

# pf_master on|off: writes master.cf, with service B (P5) or without it.
pf_master() {
	local svc_b=
	[ "$1" = on ] && svc_b="127.0.0.1:$P5 inet n - n - - smtpd
  -o syslog_name=postfix-rq/subb
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=\$users_b
  -o smtpd_recipient_restrictions=\$users_b
"
	cat >"$PFC/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$P1 inet n - n - - smtpd
  -o syslog_name=postfix-rq/starttls
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=\$users_a
  -o smtpd_recipient_restrictions=\$users_a
127.0.0.1:$P2 inet n - n - - smtpd
  -o syslog_name=postfix-rq/implicit
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_relay_restrictions=\$users_a
  -o smtpd_recipient_restrictions=\$users_a
127.0.0.1:$P4 inet n - n - - smtpd
  -o syslog_name=postfix-rq/plain
  -o smtpd_tls_security_level=none
  -o smtpd_tls_auth_only=no
  -o smtpd_sasl_auth_enable=no
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
${svc_b}pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	chmod 644 "$PFC/master.cf"
}

# pf_service_b on|off: starts or stops service B with a postfix reload;
# waits until its port listens or no longer does.
pf_service_b() {
	pf_master "$1"
	"${PRIV[@]}" postfix -c "$PFC" reload >"$D/postfix-reload.log" 2>&1 ||
	    return 1
	if [ "$1" = on ]; then
		wait_for "$WAIT" port_listening "$P5"
	else
		wait_for "$WAIT" eval '! port_listening "$P5"'
	fi
}

pf_setup() {
	mkdir -p "$PFC" "$SASLDIR" "$SINK" "$RUN" "$D/tls" "$D/sasldb"
	pick_port || { bail "free ports" "no free port found"; return 1; }; P1=$PORT	# STARTTLS
	pick_port || { bail "free ports" "no free port found"; return 1; }; P2=$PORT	# implicit
	pick_port || { bail "free ports" "no free port found"; return 1; }; P3=$PORT	# sink
	pick_port || { bail "free ports" "no free port found"; return 1; }; P4=$PORT	# plaintext
	pick_port || { bail "free ports" "no free port found"; return 1; }; P5=$PORT	# service B

# ---------------------------------------------------------------------------
# Certificates: CA, server cert for localhost + 127.0.0.1, unrelated CA.

# the same test PKI as make check (test/mkcerts.sh checks each certificate
# fails or passes verification as intended), twice: the second CA is the
# unrelated one
	sh "$TOP/test/mkcerts.sh" "$D/tls" >"$D/tls.log" 2>&1 &&
	    sh "$TOP/test/mkcerts.sh" "$D/tls/other" >>"$D/tls.log" 2>&1 ||
	    { sed 's/^/#   /' "$D/tls.log"; bail "certificates" "test/mkcerts.sh failed"; return 1; }
	cp "$D/tls/other/ca.pem" "$D/tls/otherca.pem"
	if openssl verify -CAfile "$D/tls/otherca.pem" "$D/tls/server.pem" \
	    >/dev/null 2>&1; then
		bail "certificates" "server cert verifies against the unrelated CA"; return 1
	fi
	chmod 600 "$D"/tls/*.key
	chmod 644 "$D"/tls/*.pem

# ---------------------------------------------------------------------------
# Cyrus SASL: a private sasldb with one user.

	SASL_PW=$(openssl rand -hex 12)
	SASL_USER_B=${SASL_USER}b
	SASL_PW_B=$(openssl rand -hex 12)
	cat >"$SASLDIR/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASLDB
mech_list: PLAIN LOGIN SCRAM-SHA-256
EOF
	printf '%s' "$SASL_PW" |
	    saslpasswd2 -p -f "$SASLDB" -c -u "$REALM" "$SASL_USER" \
	    >"$D/sasldb/saslpasswd2.log" 2>&1 ||
	    { bail "sasldb" "saslpasswd2 failed: $(cat "$D/sasldb/saslpasswd2.log")"; return 1; }
	printf '%s' "$SASL_PW_B" |
	    saslpasswd2 -p -f "$SASLDB" -c -u "$REALM" "$SASL_USER_B" \
	    >"$D/sasldb/saslpasswd2.log" 2>&1 ||
	    { bail "sasldb" "saslpasswd2 failed: $(cat "$D/sasldb/saslpasswd2.log")"; return 1; }
	chmod 755 "$SASLDIR" "$D/sasldb"
	chmod 644 "$SASLDIR/smtpd.conf"
	"${PRIV[@]}" chown postfix "$SASLDB" &&
	    "${PRIV[@]}" chmod 400 "$SASLDB" ||
	    { bail "sasldb" "cannot make sasldb2 readable by postfix"; return 1; }

# ---------------------------------------------------------------------------
# The private Postfix instance.

	cat >"$PFC/main.cf" <<EOF
# Private Postfix instance for relayq's interop test; see test/interop.sh.
compatibility_level = 3.6
queue_directory = $PFQ
data_directory = $PFDATA
mail_owner = postfix
setgid_group = postdrop
myhostname = smarthost.$REALM
mydomain = $REALM
myorigin = \$mydomain
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
relay_domains =
relayhost = [127.0.0.1]:$P3
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
notify_classes =
delay_warning_time = 0h
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Leave headers exactly as received: no rewriting, no added Date or
# Message-ID (those must come from relayq).
local_header_rewrite_clients =
remote_header_rewrite_domain =
always_add_missing_headers = no
maillog_file = $MAILLOG
maillog_file_prefixes = $D
smtpd_banner = \$myhostname ESMTP relayq-interop
smtpd_tls_cert_file = $D/tls/server.pem
smtpd_tls_key_file = $D/tls/server.key
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $SASLDIR
smtpd_sasl_local_domain = $REALM
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = no
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtp_tls_security_level = none
smtp_sasl_auth_enable = no
# Each submission service relays for its own SASL user only.
users_a = check_sasl_access texthash:$PFC/users-a, reject
users_b = check_sasl_access texthash:$PFC/users-b, reject
EOF
	printf '%s OK\n%s@%s OK\n' "$SASL_USER" "$SASL_USER" "$REALM" >"$PFC/users-a"
	printf '%s OK\n%s@%s OK\n' "$SASL_USER_B" "$SASL_USER_B" "$REALM" >"$PFC/users-b"
	chmod 644 "$PFC/users-a" "$PFC/users-b"

	pf_master on
	chmod 755 "$PFC"
	chmod 644 "$PFC/main.cf"
	"${PRIV[@]}" mkdir -p "$PFQ"
	"${PRIV[@]}" chown -R root "$PFC" "$PFQ" "$D/tls" 2>/dev/null

# The sink: Postfix's smtp-sink writes every message to $SINK/MM.RANDOM.
	"${PRIV[@]}" chown postfix "$SINK"
	"${PRIV[@]}" smtp-sink -4 -u postfix -h sink.$REALM -d "$SINK/%M." \
	    "127.0.0.1:$P3" 10 >"$D/sink.out" 2>&1 &
	echo $! >"$RUN/smtp-sink.pid"
	wait_for 10 port_listening "$P3" ||
	    { bail "smtp-sink" "not listening on $P3: $(cat "$D/sink.out")"; return 1; }

	if ! "${PRIV[@]}" postfix -c "$PFC" check >"$D/postfix-check.log" 2>&1; then
		sed 's/^/#   /' "$D/postfix-check.log"
		bail "postfix check" "private instance config rejected"; return 1
	fi
	PF_STARTED=1
	if ! "${PRIV[@]}" postfix -c "$PFC" start >"$D/postfix-start.log" 2>&1; then
		sed 's/^/#   /' "$D/postfix-start.log"
		bail "postfix start" "private instance did not start"; return 1
	fi
	wait_for "$WAIT" port_listening "$P1" && wait_for "$WAIT" port_listening "$P2" &&
	    wait_for "$WAIT" port_listening "$P4" && wait_for "$WAIT" port_listening "$P5" ||
	    { bail "postfix start" "not listening on 127.0.0.1:$P1, :$P2, :$P4 and :$P5"; return 1; }
}

# pf_teardown: smtp-sink by its PID file, then the Postfix instance,
# aborted when it does not stop within 10 s.
pf_teardown() {
	local pid mpid n
	pid=$(cat "$RUN/smtp-sink.pid" 2>/dev/null) && rm -f "$RUN/smtp-sink.pid" &&
	    [ -n "$pid" ] && "${PRIV[@]}" kill -TERM "$pid" 2>/dev/null
	[ $PF_STARTED -eq 1 ] || return 0
	PF_STARTED=0
	mpid=$("${PRIV[@]}" cat "$PFQ/pid/master.pid" 2>/dev/null | tr -d ' ')
	"${PRIV[@]}" postfix -c "$PFC" stop >/dev/null 2>&1
	for ((n = 0; n < 100; n++)); do
		[ -n "$mpid" ] && alive "$mpid" || break
		sleep 0.1
	done
	if [ -n "$mpid" ] && alive "$mpid"; then
		"${PRIV[@]}" postfix -c "$PFC" abort >/dev/null 2>&1
	fi
}
