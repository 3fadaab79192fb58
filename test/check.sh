#!/bin/bash
# make check: unit tests, then the real binaries against the test
# smarthost, one private spool, config and daemon per test.
# Prints one "ok"/"not ok" line per assertion and "N passed, N failed".
cd "$(dirname "$0")/.." || exit 1
. test/lib.sh

# One smarthost and daemon first: when this environment cannot run them,
# say so once and stop, rather than every test waiting for its own.
new_env preflight
if ! { start_smtpd && write_conf && start_daemon; }; then
	echo "set-up failed: the test smarthost and daemon do not start as uid $RUNUID (see above); no test can pass, stopping"
	exit 1
fi
stop_daemon
stop_pid "$T/smtpd.pid"

# --- unit tests: their ok/not ok lines count with ours ----------------
while IFS= read -r line; do
	echo "$line"
	case $line in
	"ok - "*) PASS=$((PASS + 1)) ;;
	"not ok - "*) FAIL=$((FAIL + 1)); unit_failed=1 ;;
	"unit-exit 0") ;;
	"unit-exit "*) [ -n "$unit_failed" ] || not_ok "unit tests" "test/unit exited with ${line#unit-exit }" ;;
	esac
done < <(./test/unit 2>"$WORK/unit.err"; echo "unit-exit $?")
grep -q . "$WORK/unit.err" && sed 's/^/# unit: /' "$WORK/unit.err"

for t in ${TESTS:-test/t_*.sh}; do
	. "$t"
done
# sanitizer builds: zero reports from any program the suite ran
if ls "$SAN" | grep -q .; then
	not_ok "sanitizers: no reports" "$(ls "$SAN" | wc -l) report(s)"
	for f in "$SAN"/*; do sed 's/^/# /' "$f"; done
else
	ok "sanitizers: no reports"
fi
summary
