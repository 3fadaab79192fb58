# Who may connect to the SMTP listener, and how many: loopback always;
# another address only in listen_allow, else 554 5.7.1 at connect and a
# log line; listen_max_per_client keeps a flood from one address from
# taking every slot (421 4.7.0 to it, 220 to another client);
# listen_max_connections in all (421 4.3.2); a silent client gets 421
# 4.4.2 after listen_timeout.  The non-loopback clients run in a network
# namespace of their own (root only), the rest on this host's loopback.
# Sourced by test/check.sh.
. test/lib_listen.sh

# hold.py PORT: N connections held open from each source of a list, the
# greeting each got on stdout, then one more from each of the others
cat > "$WORK/hold.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
held = []
def one(src):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    line = s.recv(512).decode().split("\r\n")[0]
    return s, line
for spec in sys.argv[2:]:
    src, n = spec.split("=")
    for i in range(int(n)):
        s, line = one(src)
        held.append(s)
        print(src, line, flush=True)
EOF

listen_served() { raw "$LPORT" 'QUIT\r\n' | grep -q '^221'; }

test_listen_limits() {
	new_env listenlim
	LPORT=$(free_port)
	start_smtpd && write_conf "listen 127.0.0.1:$LPORT" \
	    "listen_max_per_client 2" "listen_max_connections 3" \
	    "listen_timeout 1s" && start_listener ||
	    { not_ok "listen limits: set-up" "see $T"; return; }
	# 127.0.0.1 twice (its limit), then a third time, then 127.0.0.2
	# twice (the last slot, then all full)
	/usr/bin/python3 "$WORK/hold.py" "$LPORT" 127.0.0.1=3 127.0.0.2=2 \
	    > "$T/hold.out" 2>&1
	check "listen limits: the first two from one address are served" \
	    test "$(grep -c '^127.0.0.1 220 ' "$T/hold.out")" -eq 2
	check "listen limits: the third from that address: 421 4.7.0" \
	    grep -q '^127.0.0.1 421 4.7.0 .*too many connections from your address' "$T/hold.out"
	check "listen limits: another address still gets in (220)" \
	    grep -q '^127.0.0.2 220 ' "$T/hold.out"
	check "listen limits: all slots taken: 421 4.3.2" \
	    grep -q '^127.0.0.2 421 4.3.2 ' "$T/hold.out"
	check "listen limits: each refusal logged with the client" \
	    sh -c "grep -q 'smtpd: reject: connect from \[127.0.0.1\]:[0-9]*: 421 too many connections from this address' '$T/log' &&
	    grep -q 'smtpd: reject: connect from \[127.0.0.2\]:[0-9]*: 421 too many connections (listen_max_connections 3)' '$T/log'"
	# the slots come back when the clients are gone
	check "listen limits: slots freed when clients leave" wait_for 10 listen_served
	# a client that says nothing: 421 after listen_timeout, then closed
	local t0=$(date +%s)
	raw "$LPORT" "" > "$T/idle.out"
	check "listen limits: a silent client gets 421 4.4.2 and is closed" \
	    grep -q '^421 4.4.2 .* Error: timeout exceeded' "$T/idle.out"
	check "listen limits: ... within a few seconds" test $(( $(date +%s) - t0 )) -le 5
	check "listen limits: the timeout is logged with the client" \
	    log_has 'smtpd: client=\[127.0.0.1\]: timeout, session closed'
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

# the listener in a network namespace with two more addresses on its
# loopback device: 192.0.2.10 (not allowed) and 198.51.100.10 (allowed)
test_listen_allow() {
	if [ "$(id -u)" != 0 ] || ! unshare --net true 2>/dev/null; then
		ok "listen_allow: skipped (needs root and network namespaces)"
		return
	fi
	new_env listenallow
	start_smtpd && write_conf "listen *:2525" "listen_allow 198.51.100.0/24, 203.0.113.7" &&
	    start_daemon && stop_daemon ||
	    { not_ok "listen_allow: set-up" "see $T"; return; }
	unshare --net sh -c 'ip link set lo up &&
	    ip addr add 192.0.2.10/32 dev lo && ip addr add 198.51.100.10/32 dev lo &&
	    exec "$@"' sh "${AS_USER[@]}" "$TOP/relayq" -C "$T/conf" smtpd \
	    2>>"$T/smtpd-listen.err" &
	echo $! > "$T/listen.pid"
	wait_for 10 log_has 'smtpd: started' ||
	    { not_ok "listen_allow: listener" "$(cat "$T/smtpd-listen.err")"; stop_pid "$T/listen.pid"; return; }
	local ns="nsenter --net=/proc/$(cat "$T/listen.pid")/ns/net /usr/bin/python3 $TOP/test/smtpraw.py 2525 QUIT\r\n"
	$ns --host 198.51.100.10 --src 192.0.2.10 > "$T/denied.out"
	check "listen_allow: a client outside it gets 554 5.7.1 at connect" \
	    grep -q '^554 5.7.1 .* Error: access denied' "$T/denied.out"
	check "listen_allow: ... and nothing else" test "$(wc -l < "$T/denied.out")" -eq 1
	check "listen_allow: the refusal is logged with the address" \
	    log_has 'smtpd: reject: connect from \[192.0.2.10\]:[0-9]+: 554 5.7.1 not in listen_allow'
	$ns --host 198.51.100.10 --src 198.51.100.10 > "$T/allowed.out"
	check "listen_allow: a client in it is served" \
	    sh -c "grep -q '^220 ' '$T/allowed.out' && grep -q '^221 ' '$T/allowed.out'"
	$ns --host 127.0.0.1 > "$T/lo.out"
	check "listen_allow: loopback is always served" grep -q '^220 ' "$T/lo.out"
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_limits
test_listen_allow
