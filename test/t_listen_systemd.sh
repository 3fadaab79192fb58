# relayq smtpd with systemd's socket activation (contrib/relayq-smtp.socket):
# the socket comes as LISTEN_FDS/LISTEN_PID, `listen' is not needed, and
# a message sent to it is queued and delivered.  systemd-socket-activate
# passes the socket as systemd would.  Sourced by test/check.sh.
. test/lib_listen.sh

test_listen_systemd() {
	if ! command -v systemd-socket-activate >/dev/null; then
		ok "listen systemd: skipped (no systemd-socket-activate)"
		return
	fi
	new_env listensd
	LPORT=$(free_port)
	start_smtpd && write_conf && start_daemon ||
	    { not_ok "listen systemd: set-up" "see $T"; return; }
	"${AS_USER[@]}" systemd-socket-activate -l "127.0.0.1:$LPORT" \
	    "$TOP/relayq" -C "$T/conf" smtpd 2>>"$T/smtpd-listen.err" &
	echo $! > "$T/listen.pid"
	wait_for 10 grep -q "^Listening on 127.0.0.1:$LPORT" "$T/smtpd-listen.err" ||
	    { not_ok "listen systemd: systemd-socket-activate listens" "see $T"; return; }
	# systemd-socket-activate answers at once; relayq starts on the
	# first connection, and takes that one from the socket
	raw "$LPORT" "EHLO app\r\nMAIL FROM:<app@example.org>\r\nRCPT TO:<user@example.net>\r\nDATA\r\nSubject: activated\r\n\r\nhi\r\n.\r\nQUIT\r\n" > "$T/sd.out"
	check "listen systemd: queued through the inherited socket" \
	    grep -q '^250 2.0.0 Ok: queued as' "$T/sd.out"
	check "listen systemd: one socket from systemd" log_has 'smtpd: started: 1 socket\(s\)'
	check "listen systemd: delivered" wait_for 20 sh -c "grep -qs '^Subject: activated' '$T'/mail/*.msg"
	stop_daemon
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_systemd
