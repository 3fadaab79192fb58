#!/bin/bash
# make bench: relayq's speed and memory, each figure beside its reference
# measured in the same run (doc/PERFORMANCE.md).  Reports; never fails the
# build on a number.
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh
N=${BENCH_N:-300}

cc -O2 -o "$WORK/benchrun" test/benchrun.c && cc -O2 -o "$WORK/floor" test/floor.c || exit 1
# a 1.7 KB message, like the reference figures in doc/PERFORMANCE.md
{ printf 'From: bench@example.org\nTo: sink@example.net\nSubject: bench\n\n'
  for i in $(seq 1 26); do echo "line $i of the benchmark message body, some sixty octets of text."; done
} > "$WORK/msg"

rss() { awk '/^'"$2"':/ {print $2}' /proc/$1/status; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# --- submission latency vs the floor, interleaved rounds -------------
new_env bench
mkdir -p "$T/spool/drop" "$WORK/floordir"
PORT=1 write_conf
for round in 1 2 3 4 5; do
	"$WORK/benchrun" $((N / 5)) "$WORK/msg" "$WORK/floor" "$WORK/floordir" |
	    sed 's/.*median_ms=\([0-9.]*\).*/\1/' >> "$WORK/floor.ms"
	RELAYQ_CONFIG="$T/conf" "$WORK/benchrun" $((N / 5)) "$WORK/msg" "$TOP/sendmail" root >> "$WORK/sm.out"
	sed 's/.*median_ms=\([0-9.]*\).*/\1/' <<<"$(tail -1 "$WORK/sm.out")" >> "$WORK/sm.ms"
done
floor_ms=$(median < "$WORK/floor.ms")
sm_ms=$(median < "$WORK/sm.ms")
sm_rss=$(sed 's/.*maxrss_kb=//' "$WORK/sm.out" | sort -n | tail -1)

# --- drain N queued messages over STARTTLS + AUTH to the sink ---------
chown -R $RUNUID:$RUNGID "$T/spool"
start_smtpd --sink
write_conf
t0=$(date +%s%N)
start_daemon
wait_for 300 sh -c "[ \"\$(cat '$T/mail/count' 2>/dev/null)\" -ge $N ]"
t1=$(date +%s%N)
drain_rate=$(awk -v n=$N -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}')
drain_hwm=$(rss "$(cat "$T/daemon.pid")" VmHWM)
stop_daemon
stop_pid "$T/smtpd.pid"

# --- idle: a daemon with nothing queued, asleep in poll(2); it trims
# (src/idle.c) before it sleeps, so asleep means trimmed -----------------
new_env idle
start_smtpd --sink && write_conf && start_daemon
dpid=$(cat "$T/daemon.pid")
wait_for 10 grep -q poll "/proc/$dpid/wchan"
idle_rss=$(rss "$dpid" VmRSS)
idle_pss=$(awk '/^Pss:/ {print $2}' "/proc/$dpid/smaps_rollup")
stop_daemon
stop_pid "$T/smtpd.pid"

# --- a long queue: 100 000 files in queue/, the smarthost down ----------
# The daemon holds at most active_queue_limit (10 000) of them in memory;
# the files are empty, so each try ends at once with a logged error.
new_env longq
mkdir -p "$T/spool/queue"
(cd "$T/spool/queue" && seq -w 0000000000000001 0000000000100000 | xargs touch)
chown -R $RUNUID:$RUNGID "$T/spool"
PORT=1 write_conf
start_daemon
dpid=$(cat "$T/daemon.pid")
wait_for 60 grep -q poll "/proc/$dpid/wchan"
longq_rss=$(rss "$dpid" VmRSS)
longq_hwm=$(rss "$dpid" VmHWM)
stop_daemon

# --- the same smarthost from a bare client (Postfix smtp-source) -------
ref="n/a (smtp-source missing: make interop installs postfix)"
if command -v smtp-source >/dev/null || [ -x /usr/sbin/smtp-source ]; then
	new_env benchref
	"$TOP/test/smtpd" --port 0 --portfile "$T/port" --pidfile "$T/smtpd.pid" \
	    --sink --maildir "$T/mail" 2>/dev/null &
	wait_for 10 test -s "$T/port"
	t0=$(date +%s%N)
	PATH=$PATH:/usr/sbin smtp-source -s 1 -m $N -l 1700 -f bench@example.org \
	    -t sink@example.net "127.0.0.1:$(cat "$T/port")"
	t1=$(date +%s%N)
	ref="$(awk -v n=$N -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}') msg/s (plaintext, 1 session)"
	stop_pid "$T/smtpd.pid"
fi

# --- the same against a real Postfix (test/postfix.sh), as root --------
# relayq drains N queued messages over STARTTLS + AUTH to the submission
# port; the reference is smtp-source sending N over one plaintext session
# to the same instance.  Done when Postfix has accepted all N (its log
# has N "client=" lines for the service), not when they reach its sink.
PATH=$PATH:/usr/sbin
pf_rate="n/a (needs root and postfix: make interop installs it)"
pf_ref=""
pf_accepted() {	# SERVICE N: Postfix's smtpd SERVICE accepted N messages
	[ "$(grep -c "postfix-rq/$1/smtpd\[.*: client=" "$MAILLOG" 2>/dev/null)" -ge "$2" ]
}
bench_postfix() {
	local t0 t1
	D=$WORK/pf PRIV=() REALM=relayq.test SASL_USER=relayqtest WAIT=30
	mkdir -p "$D" && chmod 755 "$D"
	. "$TOP/test/postfix.sh"
	bail() { echo "# postfix bench: $1: $2" >&2; }
	trap 'pf_teardown; cleanup' EXIT
	pf_setup || return 1
	new_env pfbench
	printf '%s\n' "$SASL_PW" > "$T/pw"
	PORT=$P1 write_conf "tls_ca_file $D/tls/ca.pem" "auth_user $SASL_USER@$REALM"
	mkdir -p "$T/spool/drop"
	RELAYQ_CONFIG="$T/conf" "$WORK/benchrun" $N "$WORK/msg" "$TOP/sendmail" sink@example.net >/dev/null
	chown -R $RUNUID:$RUNGID "$T"
	t0=$(date +%s%N)
	start_daemon || return 1
	wait_for 300 pf_accepted starttls $N
	t1=$(date +%s%N)
	pf_rate=$(awk -v n=$N -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}')
	stop_daemon
	t0=$(date +%s%N)
	smtp-source -s 1 -m $N -l 1700 -f bench@example.org \
	    -t sink@example.net "127.0.0.1:$P4"
	wait_for 60 pf_accepted plain $N
	t1=$(date +%s%N)
	pf_ref="$(awk -v n=$N -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}') msg/s (smtp-source, plaintext, 1 session)"
	pf_teardown
}
if [ "$(id -u)" = 0 ] && command -v postfix >/dev/null &&
    command -v smtp-source >/dev/null; then
	bench_postfix || pf_rate="n/a (set-up failed, see above)"
fi

# --- the SMTP listener: N messages over 1 and over 8 sessions ---------
# Into drop/ with no daemon running, as the sendmail figure above: what
# is measured is the submission path, each message fsynced before 250.
listen_bench() {	# CONNECTIONS
	local port out
	new_env "listen$1"
	port=$(free_port)
	PORT=1 write_conf "listen 127.0.0.1:$port"
	mkdir -p "$T/spool/drop" && chown -R $RUNUID:$RUNGID "$T/spool"
	"${AS_USER[@]}" "$TOP/relayq" -C "$T/conf" smtpd 2>>"$T/listen.err" &
	echo $! > "$T/listen.pid"
	wait_for 10 grep -q 'smtpd: started' "$T/log" || { echo "n/a"; return; }
	out=$(/usr/bin/python3 "$TOP/test/listen_bench.py" "$port" "$N" "$1" "$WORK/msg")
	stop_pid "$T/listen.pid"
	echo "${out#msg_per_s=}"
}
listen1=$(listen_bench 1)
listen8=$(listen_bench 8)

# --- burst: parallel sendmail calls while the daemon runs -------------
new_env burst
start_smtpd --sink && write_conf && start_daemon
t0=$(date +%s%N)
pids=()
for i in $(seq 1 50); do submit root < "$WORK/msg" & pids+=($!); done
wait "${pids[@]}"
wait_for 60 sh -c "[ \"\$(cat '$T/mail/count' 2>/dev/null)\" -ge 50 ]"
t1=$(date +%s%N)
burst_ms=$(( (t1 - t0) / 1000000 ))
stop_daemon
stop_pid "$T/smtpd.pid"

# --- one 50 MB message -------------------------------------------------
new_env big
head -c 52000000 /dev/urandom | base64 -w 76 | head -c 50000000 > "$WORK/big.body"
{ printf 'Subject: big\n\n'; cat "$WORK/big.body"; } > "$WORK/big.msg"
start_smtpd --sink && write_conf "max_message_size 60M" && start_daemon
RELAYQ_CONFIG="$T/conf" "$WORK/benchrun" 1 "$WORK/big.msg" "$TOP/sendmail" root > "$WORK/big.out" 2>&1
big_sm_rss=$(sed 's/.*maxrss_kb=//' "$WORK/big.out")
wait_for 120 sh -c "[ \"\$(cat '$T/mail/count' 2>/dev/null)\" -ge 1 ]"
big_hwm=$(rss "$(cat "$T/daemon.pid")" VmHWM)
stop_daemon
stop_pid "$T/smtpd.pid"

printf '\n%-44s %14s %s\n' "figure" "relayq" "reference (same run)"
printf '%-44s %11s ms  floor %s ms (ratio %s; target <= 1.2)\n' "sendmail per call (median, 1.7 KB)" "$sm_ms" "$floor_ms" \
    "$(awk -v a="$sm_ms" -v b="$floor_ms" 'BEGIN {printf "%.2f", a / b}')"
printf '%-44s %8s msg/s  sendmail one after another %s msg/s (per message %s x; target <= 1.2)\n' \
    "listener: $N over 1 session" "$listen1" \
    "$(awk -v a="$sm_ms" 'BEGIN {printf "%.0f", 1000 / a}')" \
    "$(awk -v a="$sm_ms" -v r="$listen1" 'BEGIN {if (r > 0) printf "%.2f", (1000 / r) / a; else print "n/a"}')"
printf '%-44s %8s msg/s\n' "listener: $N over 8 sessions" "$listen8"
printf '%-44s %8s msg/s  %s\n' "drain $N queued, STARTTLS+AUTH, test sink" "$drain_rate" "$ref"
printf '%-44s %8s msg/s  %s\n' "drain $N queued, STARTTLS+AUTH, Postfix" "$pf_rate" "$pf_ref"
printf '%-44s %11s ms\n' "burst: 50 parallel sendmail until delivered" "$burst_ms"
printf '%-44s %11s KB  target <= 2048 (PSS %s KB)\n' "daemon idle RSS" "$idle_rss" "$idle_pss"
printf '%-44s %11s KB\n' "daemon peak RSS draining $N" "$drain_hwm"
printf '%-44s %11s KB\n' "daemon peak RSS with one 50 MB message" "$big_hwm"
printf '%-44s %11s KB  (peak %s KB)\n' "daemon RSS, 100 000 messages queued" "$longq_rss" "$longq_hwm"
printf '%-44s %11s KB\n' "sendmail peak RSS, 1.7 KB message" "$sm_rss"
printf '%-44s %11s KB\n' "sendmail peak RSS, 50 MB message" "$big_sm_rss"
printf '%-44s %11s B\n' "sendmail binary" "$(stat -c %s "$TOP/sendmail")"
printf '%-44s %11s B\n' "relayq binary" "$(stat -c %s "$TOP/relayq")"
