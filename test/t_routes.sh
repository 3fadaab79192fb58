# Routes (relayq.conf(5) "Routes"): each message leaves through the
# smarthost and with the credentials of the route its envelope sender
# chooses, and only there; a route's outage defers only its mail.
# Three test smarthosts, each knowing one AUTH user: the default route's
# ("user", from write_conf), route a's and route b's.
# Sourced by test/check.sh, which provides test/lib.sh.

# routes_dir NAME: the mail directory of smarthost NAME ("": the default)
routes_dir() { echo "$T/mail${1:+-$1}"; }

# routes_count NAME: messages smarthost NAME received
routes_count() { ls "$(routes_dir "$1")"/*.env 2>/dev/null | wc -l; }

# routes_got NAME SENDER USER: smarthost NAME has a message from SENDER,
# sent after AUTH as USER
routes_got() {
	grep -lx "mail=MAIL FROM:<$2>.*" "$(routes_dir "$1")"/*.env 2>/dev/null |
	    xargs -r grep -lE "^auth=[A-Z0-9-]+:$3\$" | grep -q .
}

# routes_send SENDER SUBJECT: one message to rcpt@example.net
routes_send() {
	printf 'Subject: %s\n\nbody\n' "$2" | submit -f "$1" rcpt@example.net
}

# routes_env NAME [conf lines]: smarthosts default, a, b and the daemon
routes_env() {
	local name=$1
	shift
	new_env "routes_$(echo "$name" | tr -c 'a-z0-9\n' _)"
	echo 'pw-of-a' > "$T/pw-a"
	echo 'pw-of-b' > "$T/pw-b"
	chmod 600 "$T/pw-a" "$T/pw-b"
	chown $RUNUID:$RUNGID "$T/pw-a" "$T/pw-b"
	start_smtpd && routes_smtpd a usera:pw-of-a &&
	    routes_smtpd b userb:pw-of-b || return 1
	write_conf "$@" \
	    "route a" \
	    "  sender @a.example" \
	    "  smarthost localhost:$(cat "$T/port-a")" \
	    "  auth_user usera" \
	    "  auth_password_file $T/pw-a" \
	    "route b" \
	    "  sender bob@b.example" \
	    "  smarthost localhost:$(cat "$T/port-b")" \
	    "  auth_user userb" \
	    "  auth_password_file $T/pw-b" &&
	    start_daemon
}

# routes_scenario NAME [conf lines]: the whole story on one daemon
routes_scenario() {
	local name=$1 pb
	shift
	routes_env "$name" "$@" ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	routes_send x@a.example "to-a"
	routes_send bob@b.example "to-b"
	routes_send carol@b.example "carol-default"
	routes_send other@c.example "c-default"
	if wait_for 20 sh -c "[ \$(ls '$T/mail-a'/*.env '$T/mail-b'/*.env '$T/mail'/*.env 2>/dev/null | wc -l) -ge 4 ]"; then
		ok "$name: four messages delivered"
	else
		not_ok "$name: four messages delivered" "log: $(tail -3 "$T/log")"
	fi
	check "$name: @a.example went to a as usera" routes_got a x@a.example usera
	check "$name: bob@b.example went to b as userb" routes_got b bob@b.example userb
	check "$name: carol@b.example (not listed) went to the default as user" \
	    routes_got "" carol@b.example user
	check "$name: other sender went to the default as user" \
	    routes_got "" other@c.example user
	check "$name: a got only its one" test "$(routes_count a)" -eq 1
	check "$name: b got only its one" test "$(routes_count b)" -eq 1
	check "$name: the default got only its two" test "$(routes_count '')" -eq 2
	check "$name: log names route=a" \
	    log_has ': to=<rcpt@example\.net>, relay=localhost\[127\.0\.0\.1\]:'"$(cat "$T/port-a")"', tls=[^,]+, delay=[0-9.]+, delays=[0-9./]+, route=a, dsn=2\.0\.0, status=sent '
	check "$name: log names route=default" \
	    log_has ', route=default, dsn=2\.0\.0, status=sent '

	# b's smarthost stops: only b's mail waits
	pb=$(cat "$T/port-b")
	stop_pid "$T/smtpd-b.pid"
	routes_send bob@b.example "to-b-2"
	routes_send y@a.example "to-a-2"
	routes_send other@c.example "c-default-2"
	if wait_for 20 log_has 'relay=none, .*, route=b, dsn=4\.4\.1, status=deferred \('; then
		ok "$name: b down: its message deferred, log names route=b"
	else
		not_ok "$name: b down: its message deferred, log names route=b" \
		    "log: $(grep route=b "$T/log" | tail -2)"
	fi
	check "$name: b down: a's mail still delivered" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail-a'/*.env 2>/dev/null | wc -l) -eq 2 ]"
	check "$name: b down: the default route's still delivered" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail'/*.env 2>/dev/null | wc -l) -eq 3 ]"
	check "$name: b down: b's message still queued" test "$(queue_count)" -eq 1
	if [ "$name" = routes ]; then
		routes_visible "$name"
	fi

	# b comes back: its message goes, once
	routes_smtpd b userb:pw-of-b "$pb" ||
	    { not_ok "$name: b restarted" "see $T/smtpd-b.err"; stop_daemon; return; }
	check "$name: b back: delivered" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail-b'/*.env 2>/dev/null | wc -l) -ge 2 ]"
	check "$name: b back: queue empty" wait_for 10 spool_clean
	check "$name: b back: delivered once, as userb" sh -c \
	    "[ \$(grep -la '^Subject: to-b-2' '$T/mail-b'/*.msg | wc -l) -eq 1 ]"
	check "$name: b back: as userb" routes_got b bob@b.example userb
	check "$name: b back: nothing more went elsewhere" sh -c \
	    "[ \$(ls '$T/mail-a'/*.env | wc -l) -eq 2 ] && [ \$(ls '$T/mail'/*.env | wc -l) -eq 3 ]"
	stop_daemon
}

# mailq, relayq show, probe and check name the routes (b's smarthost is
# down, its message queued)
routes_visible() {
	local name=$1 out id o=$T/visible.out
	out=$(as_user "$TOP/relayq" -C "$T/conf" queue 2>&1)
	id=$(ls "$T/spool/queue" | head -1)
	check "$name: relayq queue: the sender line ends with route=b" \
	    grep -qE "^$id +[0-9]+ .* bob@b\.example  route=b\$" <<<"$out"
	out=$(as_user "$TOP/relayq" -C "$T/conf" show "$id" 2>&1)
	check "$name: relayq show: route: b" grep -qx 'route: b' <<<"$out"
	as_user "$TOP/relayq" -C "$T/conf" probe > "$o" 2>&1
	check "$name: relayq probe: every route, each named" sh -c \
	    "grep -qx 'route default: senders (all others)' '$o' && grep -qx 'route a: senders @a.example' '$o' && grep -qx 'route b: senders bob@b.example' '$o'"
	check "$name: relayq probe: a usable, b not" sh -c \
	    "grep -qx 'result: usable, route a' '$o' && grep -qx 'result: network or SMTP failure, route b' '$o'"
	as_user "$TOP/relayq" -C "$T/conf" probe a > "$o" 2>&1
	check "$name: relayq probe a: that route only" sh -c \
	    "grep -qx 'result: usable, route a' '$o' && ! grep -q 'route b' '$o' && ! grep -q 'route default' '$o'"
	out=$(as_user "$TOP/relayq" -C "$T/conf" probe nosuch 2>&1)
	check "$name: relayq probe nosuch: an error naming it" \
	    grep -q 'no route "nosuch"' <<<"$out"
	chmod 644 "$T/pw-b"
	as_user "$TOP/relayq" -C "$T/conf" check > "$o" 2>&1
	chmod 600 "$T/pw-b"
	check "$name: relayq check: b's readable password file, named with its route" \
	    grep -qE "^relayq check: route b: auth_password_file $T/pw-b" "$o"
	check "$name: relayq check: each route listed" sh -c \
	    "grep -q '^relayq check: route a: senders @a.example, smarthost localhost, auth_user usera' '$o' && grep -q '^relayq check: route default: senders (all others)' '$o'"
}

# Routes from the environment alone (containers): RELAYQ_ROUTES and
# RELAYQ_ROUTE_<NAME>_<KEY>, no route line in the file.
test_routes_env_only() {
	local name="routes from the environment"
	new_env routes_envonly
	echo 'pw-of-a' > "$T/pw-a"
	chmod 600 "$T/pw-a"
	chown $RUNUID:$RUNGID "$T/pw-a"
	start_smtpd && routes_smtpd a usera:pw-of-a && write_conf &&
	    start_daemon RELAYQ_ROUTES=my-env \
	    RELAYQ_ROUTE_MY_ENV_SENDER=@e.example \
	    RELAYQ_ROUTE_MY_ENV_SMARTHOST="localhost:$(cat "$T/port-a")" \
	    RELAYQ_ROUTE_MY_ENV_AUTH_USER=usera \
	    RELAYQ_ROUTE_MY_ENV_AUTH_PASSWORD_FILE="$T/pw-a" ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	routes_send z@e.example "to-env"
	routes_send z@f.example "to-default"
	check "$name: @e.example went to route my-env as usera" \
	    wait_for 20 routes_got a z@e.example usera
	check "$name: another sender went to the default" \
	    wait_for 20 routes_got "" z@f.example user
	check "$name: log names route=my-env" log_has ', route=my-env, dsn=2\.0\.0, status=sent '
	stop_daemon
}

routes_reload() { as_user "$TOP/relayq" -C "$T/conf" reload >/dev/null; }

# The route is chosen when the daemon takes a message up, not stored:
# a reload that moves a sender to another route applies to mail already
# queued for it.
test_routes_reload() {
	local name="routes: reload"
	routes_env reload ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	stop_pid "$T/smtpd-b.pid"
	routes_send bob@b.example "moved"
	check "$name: deferred on route b while b is down" \
	    wait_for 20 log_has ', route=b, dsn=4\.4\.1, status=deferred '
	sed -i 's/^  sender @a\.example$/  sender @a.example bob@b.example/; s/^  sender bob@b\.example$/  sender other@b.example/' "$T/conf"
	check "$name: relayq reload accepted" \
	    routes_reload
	check "$name: the queued message now goes through route a, as usera" \
	    wait_for 20 routes_got a bob@b.example usera
	check "$name: log names route=a for it" \
	    log_has ', route=a, dsn=2\.0\.0, status=sent '
	check "$name: queue empty" wait_for 10 spool_clean
	stop_daemon
}

# TLS resumption is kept per route: on one session slot, a then the
# default then a again; a's reconnection resumes a's session (the
# default's handshake in between does not replace it), and no session is
# offered across routes.
test_routes_tls_resumption() {
	local name="routes: TLS resumption"
	routes_env resume ||
	    { not_ok "$name: set-up" "see $T"; stop_daemon; return; }
	routes_send x@a.example "a-1"
	check "$name: a's first delivered" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail-a'/*.env 2>/dev/null | wc -l) -eq 1 ]"
	routes_send other@c.example "default-1"
	check "$name: the default's delivered" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail'/*.env 2>/dev/null | wc -l) -eq 1 ]"
	routes_send y@a.example "a-2"
	check "$name: a's second delivered" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail-a'/*.env 2>/dev/null | wc -l) -eq 2 ]"
	check "$name: a: full handshake, then resumed after the default's session" \
	    test "$(grep '^-- tls established' "$T/transcript-a" | tr '\n' '|')" = "-- tls established|-- tls established, session resumed|"
	check "$name: the default: one full handshake" \
	    test "$(grep '^-- tls established' "$T/transcript" | tr '\n' '|')" = "-- tls established|"
	stop_daemon
}

routes_scenario "routes"
routes_scenario "routes, max_sessions 2" "max_sessions 2"
test_routes_env_only
test_routes_reload
test_routes_tls_resumption
