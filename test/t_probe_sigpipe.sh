# relayq probe against a smarthost that aborts the TLS handshake (it
# requires a client certificate, none is configured): the probe must
# give its verdict and exit 2, never die of SIGPIPE (exit 141, no
# verdict) when it writes to the reset connection.  Ten runs: the write
# that meets the reset is a matter of timing.  Sourced by test/check.sh.

test_probe_sigpipe() {
	local i rc bad=0 noverdict=0
	new_env probe_sigpipe
	start_smtpd --client-ca "$CERTS/ca.pem" && write_conf ||
	    { not_ok "probe SIGPIPE: set-up" "see $T"; return; }
	for i in $(seq 10); do
		"$TOP/relayq" -C "$T/conf" probe >"$T/probe.out" 2>&1; rc=$?
		[ $rc -eq 141 ] && bad=$((bad + 1))
		grep -q '^result: ' "$T/probe.out" || noverdict=$((noverdict + 1))
	done
	check "probe SIGPIPE: no run killed by SIGPIPE (exit 141: $bad of 10)" test $bad -eq 0
	check "probe SIGPIPE: every run gives its verdict ($noverdict of 10 without)" test $noverdict -eq 0
	stop_pid "$T/smtpd.pid"
}

test_probe_sigpipe
