# The queue table refills continuously (src/drain_import.c, drain_import_refill): with
# more messages queued than active_queue_limit, each that leaves the
# table makes room for the next from queue/ at once, whatever
# max_sessions is.  Before, they waited for the scan a minute later:
# with active_queue_limit 100, 300 queued and max_sessions 2, 200 were
# delivered after 76 s.  Here the deadline is well under that minute.
# Sourced by test/check.sh.

test_refill() {	# SESSIONS
	local s=$1 tag=refill$1
	new_env "refill$s"
	start_smtpd && write_conf "active_queue_limit 10" "max_sessions $s" &&
	    mkqueue 45 "$tag" || { not_ok "refill, max_sessions $s: set-up" "see $T"; return; }
	start_daemon || { not_ok "refill, max_sessions $s: daemon" "see $T"; return; }
	check "refill, max_sessions $s: start-up says some wait past the limit" \
	    log_has 'started: .*, 45 message\(s\) queued \(past active_queue_limit'
	check "refill, max_sessions $s: all 45 delivered within 30 s (the scan is every 60 s)" \
	    wait_for 30 dir_empty "$T/spool/queue"
	check "refill, max_sessions $s: each exactly once at the smarthost" \
	    wait_for 5 delivered_once "$tag" 45
	check "refill, max_sessions $s: daemon alive" kill -0 "$(cat "$T/daemon.pid")"
	stop_daemon
	stop_pid "$T/smtpd.pid"
}

test_refill 1
test_refill 2
