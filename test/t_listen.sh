# The SMTP listener (relayq smtpd): real clients deliver through it and
# the daemon to the test smarthost; the queue file carries the DSN
# parameters and a Received field naming the client; one log line per
# message with the client's address; 250 only for a committed file;
# nothing queued from a client that leaves inside DATA; a smuggling
# payload is one message.  Sourced by test/check.sh.

. test/lib_listen.sh

test_listen_smtplib() {
	new_env listen
	LPORT=$(free_port)
	start_smtpd && write_conf "listen 127.0.0.1:$LPORT" "helo_name mx.example.org" &&
	    start_listener || { not_ok "listen: set-up" "see $T"; return; }
	# no daemon yet: the queue file stays in drop/ for the checks
	cat > "$T/send.py" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="app.example.org")
code, ehlo = s.ehlo()
print(ehlo.decode())
s.sendmail("app@example.org", ["user@example.net"],
    b"Subject: via smtplib\r\n\r\nhello\r\n",
    mail_options=["RET=HDRS", "ENVID=job+2D42"],
    rcpt_options=["NOTIFY=SUCCESS,FAILURE"])
s.quit()
EOF
	as_user /usr/bin/python3 "$T/send.py" "$LPORT" > "$T/ehlo.out" 2>&1
	check "listen: EHLO offers the extensions" sh -c "for k in PIPELINING 'SIZE 52428800' 8BITMIME DSN SMTPUTF8 ENHANCEDSTATUSCODES; do grep -qx \"\$k\" '$T/ehlo.out' || exit 1; done"
	check "listen: smtplib's message is queued" test "$(drop_count)" -eq 1
	local f
	f=$(ls "$T/spool/drop"/* 2>/dev/null | head -1)
	check "listen: sender and recipient from MAIL and RCPT" \
	    sh -c "grep -qx 'S app@example.org' '$f' && grep -qx 'R user@example.net' '$f'"
	check "listen: DSN parameters in the queue file" \
	    sh -c "grep -qx 'D HDRS' '$f' && grep -qx 'V job-42' '$f' && grep -qx 'N SUCCESS,FAILURE' '$f'"
	check "listen: Received field names the client" \
	    grep -q $'^Received: from app.example.org (\\[127.0.0.1\\])\r$' "$f"
	check "listen: Received field says ESMTP and by whom" \
	    grep -q $'^\tby mx.example.org (relayq) with ESMTP id ' "$f"
	check "listen: Date and Message-ID added like sendmail" \
	    sh -c "grep -q '^Date: ' '$f' && grep -q '^Message-ID: <' '$f'"
	check "listen: one log line with queue id and client" \
	    log_has "^.* [0-9A-Z]{16}: uid=$RUNUID from=<app@example.org> size=[0-9]+ nrcpt=1 client=\\[127.0.0.1\\]$"
	start_daemon || { not_ok "listen: daemon" "see $T"; return; }
	check "listen: delivered to the smarthost" wait_for 20 sh -c "[ \$(ls '$T/mail' | grep -c '\.msg$') -ge 1 ]"
	check "listen: the smarthost got the text" grep -q '^Subject: via smtplib' "$T"/mail/*.msg
	stop_daemon
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_protocol() {
	new_env listenproto
	LPORT=$(free_port)
	start_smtpd && write_conf "listen 127.0.0.1:$LPORT" "max_message_size 2000" &&
	    start_listener || { not_ok "listen protocol: set-up" "see $T"; return; }
	local forged='MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<victim@example.net>\r\nDATA\r\nSubject: forged\r\n\r\nwire it\r\n'
	# smuggling: <LF>.<CR><LF> and <LF>.<LF> do not end the data
	raw "$LPORT" "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@example.net>\r\nDATA\r\nSubject: one\r\n\r\nhello\n.\r\n$forged.\r\nQUIT\r\n" > "$T/s1.out"
	raw "$LPORT" "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@example.net>\r\nDATA\r\nSubject: two\r\n\r\nhello\n.\n$forged.\r\nQUIT\r\n" > "$T/s2.out"
	check "listen smuggling: one 250 queued per session" \
	    test "$(cat "$T/s1.out" "$T/s2.out" | grep -c '^250 2.0.0 Ok: queued as')" -eq 2
	check "listen smuggling: two queue files, none from the forged sender" \
	    sh -c "[ \$(ls '$T/spool/drop' | wc -l) -eq 2 ] && ! grep -q '^S ceo@bank.example' '$T'/spool/drop/*"
	check "listen: a bare LF is written as CRLF" \
	    grep -qx $'hello\r' $(grep -l '^Subject: one' "$T"/spool/drop/*)
	# a client gone inside DATA leaves nothing
	raw "$LPORT" "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@example.net>\r\nDATA\r\nSubject: cut\r\n\r\nhalf a mess" --close-after-send > "$T/cut.out"
	check "listen: mid-DATA disconnect queues nothing" \
	    sh -c "sleep 0.5; [ \$(ls '$T/spool/drop' | wc -l) -eq 2 ] && ! grep -q '^Subject: cut' '$T'/spool/drop/*"
	# SIZE: declared, and not declared
	raw "$LPORT" "EHLO c\r\nMAIL FROM:<a@example.org> SIZE=999999\r\nQUIT\r\n" > "$T/size1.out"
	check "listen: declared SIZE over the limit: 552 at MAIL" grep -q '^552 5.3.4' "$T/size1.out"
	raw "$LPORT" "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@example.net>\r\nDATA\r\n$(printf 'x%.0s' $(seq 3000))\r\n.\r\nQUIT\r\n" > "$T/size2.out"
	check "listen: undeclared size over the limit: 552 after DATA" grep -q '^552 5.3.4' "$T/size2.out"
	raw "$LPORT" "EHLO c\r\nVRFY root\r\nHELP\r\nNOOP\r\nRSET\r\nMAIL FROM:<a@example.org> FOO=1\r\nRCPT TO:<u@example.net>\r\nQUIT\r\n" > "$T/misc.out"
	check "listen: VRFY 252, HELP 214, NOOP/RSET 250" \
	    sh -c "grep -q '^252 2.0.0' '$T/misc.out' && grep -q '^214 2.0.0' '$T/misc.out' && [ \$(grep -c '^250 2.0.0 Ok' '$T/misc.out') -eq 2 ]"
	check "listen: unknown MAIL parameter 555, then RCPT 503" \
	    sh -c "grep -q '^555 5.5.4 Unsupported option: FOO=1' '$T/misc.out' && grep -q '^503 5.5.1' '$T/misc.out'"
	raw "$LPORT" "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<u@example.net> NOTIFY=NEVER\r\nRCPT TO:<v@example.net> NOTIFY=SUCCESS\r\nQUIT\r\n" > "$T/notify.out"
	check "listen: a second NOTIFY in one transaction: 452" grep -q '^452 4.5.3' "$T/notify.out"
	start_daemon || { not_ok "listen protocol: daemon" "see $T"; return; }
	check "listen smuggling: exactly two messages at the smarthost" \
	    wait_for 20 sh -c "[ \$(ls '$T/mail' | grep -c '\.msg$') -eq 2 ] && [ -z \"\$(ls -A '$T/spool/drop')\" ]"
	check "listen smuggling: no message from the forged sender" \
	    sh -c "! grep -q 'ceo@bank.example' '$T'/mail/*.env"
	stop_daemon
	stop_pid "$T/listen.pid"
	stop_pid "$T/smtpd.pid"
}

test_listen_smtplib
test_listen_protocol
