# Shared by test/check.sh and test/demo.sh: a private spool, config,
# test smarthost and daemon per test, torn down by PID even on failure.
# Sourced by bash; expects to run from the repository top.

TOP=$(pwd)
PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/relayq-test.XXXXXX)
chmod 755 "$WORK"
PIDS=""

# Tests run the programs as an unprivileged uid: the daemon must never
# need root, and a container runs everything as one arbitrary uid.
# AS_USER is a command prefix, not a function, so that "${AS_USER[@]}" cmd &
# leaves $! the PID of cmd itself (setpriv and env exec), for kill -9.
if [ "$(id -u)" = 0 ]; then
	RUNUID=65534
	RUNGID=65534
	AS_USER=(setpriv --reuid=$RUNUID --regid=$RUNGID --clear-groups --)
else
	RUNUID=$(id -u)
	RUNGID=$(id -g)
	AS_USER=()
fi
as_user() { "${AS_USER[@]}" "$@"; }

# Sanitizer builds (make check SANITIZE=...): every report of every program
# the suite runs, whatever its stderr is redirected to, lands in $SAN, and
# check.sh fails when that directory is not empty.  Harmless otherwise.
SAN=$WORK/san
mkdir -p "$SAN" && chmod 1777 "$SAN"
export ASAN_OPTIONS="log_path=$SAN/asan:detect_leaks=1:verify_asan_link_order=0:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$SAN/ubsan:print_stacktrace=1:halt_on_error=1"

# The test user must reach the binaries: a clone in /root (0700) or under
# a home directory that others cannot enter is not reachable by nobody.
# Then the tests run from a copy in $WORK, which they can reach, and say
# so in one line.  test/sendmail-sgid has the tree's path compiled in
# (its config directory), so the copy rebuilds it.  If the user still
# cannot run relayq, stop here with one line instead of letting every
# test time out on its own.
lib_reach_tree() {
	local who="uid $RUNUID ($(id -un "$RUNUID" 2>/dev/null || echo "no name"))"
	if ! as_user test -r "$TOP/test/lib.sh"; then
		echo "# $TOP: not reachable by $who, the user the tests run as; running from a copy in $WORK/tree"
		cp -a "$TOP/." "$WORK/tree" && chmod -R go+rX "$WORK/tree" ||
		    { echo "set-up failed: cannot copy $TOP to $WORK/tree"; exit 1; }
		TOP=$WORK/tree
		cd "$TOP" || exit 1
		if [ -e test/sendmail-sgid ]; then
			rm -f test/sendmail-sgid
			make -s test/sendmail-sgid >/dev/null ||
			    { echo "set-up failed: cannot rebuild test/sendmail-sgid in $TOP"; exit 1; }
		fi
	fi
	if ! as_user "$TOP/relayq" version >/dev/null 2>"$WORK/reach.err"; then
		echo "set-up failed: $who cannot run $TOP/relayq ($(head -1 "$WORK/reach.err")); every test needs it: make the tree readable (chmod -R a+rX) or clone it elsewhere"
		exit 1
	fi
}

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $1: $2"; }

# check NAME COMMAND...: the command's status decides
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# wait_for SECONDS COMMAND...: poll every 50 ms until it succeeds
wait_for() {
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	while ! "$@" 2>/dev/null; do
		[ $(( $(date +%s%N) / 1000000 )) -ge $deadline ] && return 1
		sleep 0.05
	done
	return 0
}

stop_pid() {	# by PID file, only what we started
	local f=$1 pid
	[ -s "$f" ] || return 0
	pid=$(cat "$f")
	kill "$pid" 2>/dev/null
	wait_for 5 sh -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
	rm -f "$f"
}

cleanup() {
	local f
	for f in "$WORK"/*/*.pid; do stop_pid "$f"; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
lib_reach_tree

CERTS=$WORK/certs
sh "$TOP/test/mkcerts.sh" "$CERTS" || { echo "mkcerts failed"; exit 1; }
chmod 755 "$CERTS"
chmod 644 "$CERTS"/*.pem

# new_env NAME: a fresh directory $T with spool, mail dir, password file
new_env() {
	T=$WORK/$1
	mkdir -p "$T/spool" "$T/mail"
	echo secret > "$T/pw"
	chmod 600 "$T/pw"
	chown -R $RUNUID:$RUNGID "$T"
	chmod 755 "$T"
}

# free_port: a TCP port on 127.0.0.1 nobody listens on now
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_smtpd [smtpd options...]: test smarthost for $T on a free port
start_smtpd() {
	rm -f "$T/port"
	"$TOP/test/smtpd" --port "${SMTPD_PORT:-0}" --portfile "$T/port" \
	    --pidfile "$T/smtpd.pid" --cert "${CERT:-$CERTS/server.pem}" \
	    --key "${KEY:-$CERTS/server.key}" --maildir "$T/mail" \
	    --transcript "$T/transcript" --auth user:secret "$@" \
	    2>>"$T/smtpd.err" &
	wait_for 10 test -s "$T/port" || { echo "smtpd did not start"; cat "$T/smtpd.err"; return 1; }
	PORT=$(cat "$T/port")
}

# routes_smtpd NAME USER:PASS [PORT [smtpd options...]]: test smarthost
# NAME of a route, its mail in $T/mail-NAME; its port in $T/port-NAME
routes_smtpd() {
	local n=$1 auth=$2 port=${3:-0}
	shift $(($# < 3 ? $# : 3))
	mkdir -p "$T/mail-$n"
	rm -f "$T/port-$n"
	"$TOP/test/smtpd" --port "$port" --portfile "$T/port-$n" \
	    --pidfile "$T/smtpd-$n.pid" --cert "$CERTS/server.pem" \
	    --key "$CERTS/server.key" --maildir "$T/mail-$n" \
	    --transcript "$T/transcript-$n" --auth "$auth" "$@" \
	    2>>"$T/smtpd-$n.err" &
	wait_for 10 test -s "$T/port-$n" ||
	    { echo "smtpd $n did not start"; cat "$T/smtpd-$n.err"; return 1; }
}

# write_conf [extra lines]: config for $T pointing at $PORT
write_conf() {
	{
		echo "smarthost localhost:$PORT"
		echo "tls_ca_file $CERTS/ca.pem"
		echo "auth_user user"
		echo "auth_password_file $T/pw"
		echo "spool $T/spool"
		echo "domain example.org"
		echo "log $T/log"
		echo "retry_min 1s"
		echo "retry_max 2s"
		echo "aliases /dev/null"	# the host's /etc/aliases must not matter
		for l in "$@"; do echo "$l"; done
	} > "$T/conf"
	touch "$T/log"
	chown $RUNUID:$RUNGID "$T/log"
}

start_daemon() {
	"${AS_USER[@]}" env "$@" "$TOP/relayq" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	wait_for 10 grep -q "started:" "$T/log" || { echo "daemon did not start"; cat "$T/daemon.err"; return 1; }
}

stop_daemon() { stop_pid "$T/daemon.pid"; }

# kill -9 the daemon and reap it: its lock on spool/pid is released only
# when it is really gone, and a daemon restarted before that refuses to
# run (a second daemon on the spool)
kill_daemon() {
	local pid
	pid=$(cat "$T/daemon.pid")
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$T/daemon.pid"
}

# submit ARGS... < message: run sendmail as the test user
submit() { as_user env RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" "$@"; }

# queue_before_daemon N SUBJECT: N messages in drop/ before any daemon
# runs, so that one scan and one delivery run take them all (sendmail's
# warning that no daemon runs is expected, and not shown)
queue_before_daemon() {
	local i
	mkdir -p "$T/spool/drop"
	chmod 1730 "$T/spool/drop"
	chown $RUNUID:$RUNGID "$T/spool/drop"
	for i in $(seq 1 "$1"); do
		printf 'Subject: %s %s\n\nbody\n' "$2" "$i" | submit user@example.net 2>/dev/null || return 1
	done
}

queue_count() { ls "$T/spool/queue" 2>/dev/null | wc -l; }
log_has() { grep -qE -- "$1" "$T/log"; }
# log_count_ge REGEX N: the log has at least N matching lines (for wait_for,
# which needs a command that looks again each time)
log_count_ge() { [ "$(grep -cE -- "$1" "$T/log")" -ge "$2" ]; }
dir_empty() { [ -z "$(ls -A "$1")" ]; }
# restart a normal daemon after a crash or kill -9 (the log already says started:)
restart_daemon() {
	local n
	n=$(grep -c 'started:' "$T/log")
	"${AS_USER[@]}" "$TOP/relayq" -C "$T/conf" drain -f 2>>"$T/daemon.err" &
	echo $! > "$T/daemon.pid"
	wait_for 10 log_count_ge 'started:' $((n + 1))
}

# the spool is clean once everything has left: nothing in drop/, queue/,
# state/ (the invariant that no half-done work is left behind)
spool_clean() { dir_empty "$T/spool/drop" && dir_empty "$T/spool/queue" && dir_empty "$T/spool/state"; }

# syslog_ns COMMAND...: exec COMMAND (so that "syslog_ns ... &" leaves
# $! its PID) in a mount namespace of its own whose /dev is a tmpfs with
# null, zero, random, urandom and a /dev/log served by test/syslogd.py,
# which appends what it gets to $T/syslog (its PID in $T/syslogd.pid).
# Root only; the namespace goes when its last process does.
syslog_ns() {
	mkdir -p "$T/olddev"
	cat > "$T/ns.sh" <<NS
mount --bind /dev "$T/olddev" && mount -t tmpfs tmpfs /dev || exit 1
for n in null zero random urandom; do
	touch /dev/\$n && mount --bind "$T/olddev/\$n" /dev/\$n || exit 1
done
/usr/bin/python3 "$TOP/test/syslogd.py" /dev/log "$T/syslog" "$T/syslogd.pid" &
# the syslog stand-in is listening once it wrote its pid: 10 s at most
i=0
while [ ! -s "$T/syslogd.pid" ]; do
	i=\$((i + 1))
	[ \$i -le 200 ] || { echo "syslogd.py did not start" >&2; exit 1; }
	sleep 0.05
done
exec "\$@"
NS
	exec unshare -m --propagation private bash "$T/ns.sh" "$@"
}

# a make SANITIZE=... build, which does not apply the sandbox (sandbox.c)
sandbox_sanitizer_build() { nm "$TOP/relayq" 2>/dev/null | grep -q '__asan_init'; }

summary() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# mkqueue N TAG [later]: N messages straight into $T/spool/queue (no
# daemon needed), each a copy of one that sendmail wrote, with its own id
# and the subject "TAG NNNNNN" (a unique stamp to count deliveries by).
# Thousands in a second, where sendmail would take a minute.  With
# "later", each has a state file that makes it due in an hour (tried
# once before), so that only relayq flush sends them.
mkqueue() {
	local tmpl
	mkdir -p "$T/spool/drop" "$T/spool/queue"
	chmod 1730 "$T/spool/drop"
	chown $RUNUID:$RUNGID "$T/spool/drop"
	printf 'Subject: %s 000000\n\nbody\n' "$2" | submit user@example.net || return 1
	tmpl=$(ls "$T/spool/drop"/*) || return 1
	mkdir -p "$T/spool/state"
	/usr/bin/python3 - "$tmpl" "$T/spool" "$1" "$2" "$3" <<'PY' || return 1
import sys, time
tmpl = open(sys.argv[1], "rb").read()
now = int(time.time())
old = tmpl.split(b"\n")[1][2:]		# "I <id>"
tag = sys.argv[4].encode()
for i in range(int(sys.argv[3])):
	new = b"1LH%013d" % i
	data = tmpl.replace(old, new).replace(b"Subject: " + tag + b" 000000",
	    b"Subject: " + tag + b" %06d" % i)
	with open(sys.argv[2] + "/queue/" + new.decode(), "wb") as f:
		f.write(data)
	if sys.argv[5] == "later":
		with open(sys.argv[2] + "/state/" + new.decode(), "w") as f:
			f.write("RELAYQ-STATE 1\nA 1 %d %d\n" % (now + 3600, now))
PY
	rm -f "$tmpl"
	chown -R $RUNUID:$RUNGID "$T/spool"
}

# delivered_once TAG N: the test smarthost has N messages tagged TAG,
# each stamp exactly once
delivered_once() {
	[ "$(cat "$T"/mail/*.msg 2>/dev/null | grep -a "^Subject: $1 " | sort | uniq -d | wc -l)" -eq 0 ] &&
	[ "$(cat "$T"/mail/*.msg 2>/dev/null | grep -a "^Subject: $1 " | sort -u | wc -l)" -eq "$2" ]
}
