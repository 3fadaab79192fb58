# Helpers of the listener's tests (test/t_listen*.sh), sourced by each.

# start_listener [env...]: relayq smtpd as the test user on $LPORT; the
# daemon ran once before it, to make the spool, and is not running
start_listener() {
	start_daemon && stop_daemon || return
	"${AS_USER[@]}" env "$@" "$TOP/relayq" -C "$T/conf" smtpd 2>>"$T/smtpd-listen.err" &
	echo $! > "$T/listen.pid"
	wait_for 10 log_has 'smtpd: started' ||
	    { echo "listener did not start"; cat "$T/smtpd-listen.err"; return 1; }
}

# raw PORT BYTES [options]: one raw session (test/smtpraw.py)
raw() { /usr/bin/python3 "$TOP/test/smtpraw.py" "$@"; }
drop_count() { ls "$T/spool/drop" | wc -l; }
mail_count() { ls "$T/mail" | grep -c '\.msg$'; }
