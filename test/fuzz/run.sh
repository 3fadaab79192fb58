#!/bin/sh
# make fuzz: run.sh SECONDS TARGET...  Each test/fuzz/fuzz_TARGET runs for
# SECONDS from its committed seeds (test/fuzz/corpus/TARGET, regression
# inputs of fixed findings included) into a scratch corpus, so the
# committed one changes only by hand.  A crash, sanitizer report, leak,
# hang (-timeout) or memory blow-up fails the run; the input that did it
# is kept in test/fuzz/findings/ for the fix and the regression corpus.
secs=$1; shift
cd "$(dirname "$0")" || exit 1
scratch=$(mktemp -d /tmp/relayq-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$scratch"' EXIT
mkdir -p findings
failed=0
for t in "$@"; do
	mkdir -p "$scratch/$t"
	if ./fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=0 \
	    -artifact_prefix="findings/$t-" "$scratch/$t" "corpus/$t" \
	    >"$scratch/$t.log" 2>&1; then
		echo "ok - fuzz $t: ${secs}s, $(grep -o 'cov: [0-9]*' \
		    "$scratch/$t.log" | tail -1), no finding"
	else
		failed=$((failed + 1))
		echo "not ok - fuzz $t: finding in test/fuzz/findings/"
		grep -A30 -E '^==[0-9]+==|runtime error|ERROR: libFuzzer' \
		    "$scratch/$t.log" | head -60 | sed 's/^/# /'
	fi
done
echo "$(($# - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
