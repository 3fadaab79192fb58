# SMTP smuggling through sendmail -bs (CVE-2023-51765 and its kin): a mail
# library that dot-stuffs only after CRLF passes <LF>.<CR><LF> and
# <LF>.<LF> in a body; only <CR><LF>.<CR><LF> may end the data, so the
# forged transaction behind them stays text of the one real message and
# the smarthost gets exactly one message per session, none from the
# forged sender.  Before the fix: 2 messages per session, the second
# from <ceo@bank.example>.  Sourced by test/check.sh.

bs_smuggle_done() { [ "$(ls "$T/mail" | grep -c '\.msg$')" -ge "$1" ] && [ "$(queue_count)" -eq 0 ] && dir_empty "$T/spool/drop"; }

test_bs_smuggle() {
	local forged='MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: wire the money\r\n\r\nforged\r\n'
	new_env bssmuggle
	start_smtpd && write_conf && start_daemon ||
	    { not_ok "bs smuggling: set-up" "see $T"; return; }
	# <LF>.<CR><LF>, then <LF>.<LF>: one session each
	printf "MAIL FROM:<app@example.org>\r\nRCPT TO:<user@example.net>\r\nDATA\r\nSubject: one\r\n\r\nhello\n.\r\n$forged.\r\nQUIT\r\n" |
	    submit -bs > "$T/bs1.out" 2>&1
	printf "MAIL FROM:<app@example.org>\r\nRCPT TO:<user@example.net>\r\nDATA\r\nSubject: two\r\n\r\nhello\n.\n$forged.\r\nQUIT\r\n" |
	    submit -bs > "$T/bs2.out" 2>&1
	check "bs smuggling: one 250 queued per session" \
	    test "$(cat "$T/bs1.out" "$T/bs2.out" | grep -c '^250 2.0.0 Ok: queued as')" -eq 2
	check "bs smuggling: delivered" wait_for 20 bs_smuggle_done 2
	check "bs smuggling: exactly one message per session at the smarthost" \
	    test "$(ls "$T/mail" | grep -c '\.msg$')" -eq 2
	check "bs smuggling: no message from the forged sender" \
	    sh -c "! grep -q 'ceo@bank.example' \"$T/mail\"/*.env"
	check "bs smuggling: the forged lines arrived as text of the real message" \
	    grep -qx $'MAIL FROM:<ceo@bank.example>\r' $(grep -l '^Subject: one' "$T/mail"/*.msg)
	check "bs smuggling: the bare LFs are logged" \
	    log_has '-bs: [0-9]+ line\(s\) of the data ended in a bare LF'
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_bs_smuggle
