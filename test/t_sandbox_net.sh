# Landlock's network rules (ABI 4, Linux 6.7): the sandboxed daemon may
# connect over TCP only to its smarthosts' ports (and 53, for DNS over
# TCP) and bind nothing.  test/relayq-crash connects to 127.0.0.1:PORT
# right after the sandbox (RELAYQ_TEST_CONNECT) and logs the outcome.
# Before the rules, the connection to a port no smarthost uses was made.
# Skipped on kernels without ABI 4 and in sanitizer builds (no sandbox).
# Sourced by test/check.sh.

# sbn_listen FILE: a TCP listener on a free loopback port, its port in
# FILE, its pid in $T/listen.pid
sbn_listen() {
	/usr/bin/python3 - "$1" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(60)
PY
	echo $! > "$T/listen.pid"
	wait_for 10 test -s "$1"
}

# sbn_daemon PORT: the test build tries PORT after the sandbox
sbn_daemon() {
	"${AS_USER[@]}" env RELAYQ_TEST_CONNECT="$1" "$TOP/test/relayq-crash" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	wait_for 10 log_has "sandbox test: connect to port $1"
}

test_sandbox_net() {
	local other
	sandbox_sanitizer_build && return 0
	new_env sandbox_net
	start_smtpd && write_conf && sbn_listen "$T/otherport" ||
	    { not_ok "sandbox net: set-up" "see $T"; return; }
	other=$(cat "$T/otherport")
	sbn_daemon "$other" || { not_ok "sandbox net: daemon" "see $T"; stop_daemon; return; }
	if ! log_has 'sandbox: Landlock ABI ([4-9]|[1-9][0-9])'; then
		ok "sandbox net: skipped, no Landlock ABI 4 in this kernel"
		stop_daemon; stop_pid "$T/listen.pid"; stop_pid "$T/smtpd.pid"
		return
	fi
	check "sandbox net: the rules are logged" \
	    log_has "Landlock network rules: TCP connect to port 53, $PORT only, no bind$"
	check "sandbox net: a port no smarthost uses is refused" \
	    log_has "sandbox test: connect to port $other: Permission denied$"
	printf 'Subject: net\n\nx\n' | submit user@example.net
	check "sandbox net: the smarthost's port still delivers" wait_for 15 test -s "$T/mail/1.env"
	stop_daemon
	: > "$T/log"
	sbn_daemon "$PORT"
	check "sandbox net: connecting to the smarthost's port is allowed" \
	    log_has "sandbox test: connect to port $PORT: connected$"
	stop_daemon
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_sandbox_net
