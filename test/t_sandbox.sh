# The daemon's sandbox (src/sandbox.c): on where the kernel has Landlock
# and seccomp, the daemon still delivers under it, and where they are
# missing (test/nosandbox fakes such a kernel) it says so in exactly one
# log line and delivers all the same.  A sanitizer build does not apply
# it (the runtimes need /proc and ptrace) and says that instead.
# With auth_password_command: test/t_sandbox_auth.sh.
# Sourced by test/check.sh.

# sandbox_deliver NAME: one message through the running daemon
sandbox_deliver() {
	printf 'Subject: sandbox\n\nbody\n' | submit user@example.net
	check "$1: message delivered" wait_for 15 test -s "$T/mail/1.msg"
	check "$1: removed from the queue" wait_for 5 log_has ': removed$'
}

test_sandbox_on() {
	local pid
	new_env sandbox_on
	start_smtpd && write_conf && start_daemon || { not_ok "sandbox: set-up" "see $T"; return; }
	pid=$(cat "$T/daemon.pid")
	if sandbox_sanitizer_build; then
		check "sandbox: not applied in a sanitizer build, and says so" \
		    wait_for 5 log_has 'relayq\[[0-9]+\]: sandbox: not applied in a sanitizer build$'
	else
		check "sandbox: applied, logged once" wait_for 5 sh -c \
		    "[ \$(grep -cE 'relayq\[[0-9]+\]: sandbox: Landlock ABI [0-9]+, seccomp allow-list$' '$T/log') -eq 1 ]"
		check "sandbox: seccomp filter on the daemon" grep -qx 'Seccomp:[[:space:]]*2' "/proc/$pid/status"
		check "sandbox: no new privileges" grep -qx 'NoNewPrivs:[[:space:]]*1' "/proc/$pid/status"
	fi
	sandbox_deliver "sandbox on"
	check "sandbox on: daemon still running after delivery" kill -0 "$pid"
	stop_daemon
}

test_sandbox_unavailable() {
	new_env sandbox_off
	start_smtpd && write_conf || { not_ok "sandbox unavailable: set-up" "see $T"; return; }
	"${AS_USER[@]}" "$TOP/test/nosandbox" "$TOP/relayq" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	wait_for 10 grep -q "started:" "$T/log" || { not_ok "sandbox unavailable: daemon" "$(cat "$T/daemon.err")"; return; }
	sandbox_deliver "sandbox unavailable"
	if sandbox_sanitizer_build; then
		check "sandbox unavailable: sanitizer build says so" \
		    log_has 'sandbox: not applied in a sanitizer build$'
	else
		check "sandbox unavailable: said once in the log" test \
		    "$(grep -c 'relayq\[[0-9]*\]: sandbox: partial or none, running anyway: Landlock unavailable (not in this kernel), seccomp unavailable (Function not implemented)$' "$T/log")" -eq 1
	fi
	check "sandbox unavailable: no other sandbox line" test "$(grep -c 'sandbox:' "$T/log")" -eq 1
	stop_daemon
}

test_sandbox_on
test_sandbox_unavailable
