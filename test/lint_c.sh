#!/bin/sh
# make lint: C static analysis, clean on the whole tree.
#
#  - cppcheck (warning, style, performance, portability) on every C file.
#    A finding on one line is suppressed where it is, with a comment
#    saying why (/* cppcheck-suppress ID */); whole-tree choices are in
#    test/cppcheck.supp, one reason each.
#  - gcc -fanalyzer on src/ and the fuzz targets (the rest of test/ was
#    clean too when this was written, but takes two more minutes).  gcc
#    cannot suppress an analyzer finding on one line, so the known false
#    ones are in test/analyzer.supp: file, warning option and the text of
#    the message (no line numbers, so that edits elsewhere do not break
#    it), each with its reason.  A finding not listed there fails.
cd "$(dirname "$0")/.." || exit 1
export LC_ALL=C	# the messages' quotes in ASCII, as test/analyzer.supp has them
T=$(mktemp -d /tmp/relayq-lint.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
failed=0

if cppcheck --enable=warning,style,performance,portability --std=c11 \
    --inline-suppr --suppressions-list=test/cppcheck.supp -q -j2 \
    -D_GNU_SOURCE -Isrc -Itest/fuzz --error-exitcode=1 \
    --template='{file}:{line}: {severity}: {message} [{id}]' \
    src/*.c test/*.c test/fuzz/*.c >"$T/cppcheck" 2>&1; then
	echo "cppcheck: $(ls src/*.c test/*.c test/fuzz/*.c | wc -l) files clean"
else
	failed=1
	cat "$T/cppcheck"
	echo "cppcheck: findings above; fix them, or suppress one where it" \
	    "is with a comment saying why"
fi

# one "file<TAB>line<TAB>option<TAB>message" line per analyzer finding
ANALYZE=$(ls src/*.c test/fuzz/*.c)
echo "$ANALYZE" | xargs -P2 -I{} sh -c 'gcc -D_GNU_SOURCE -Isrc -Itest/fuzz \
    -std=gnu11 -fanalyzer -c -o /dev/null {} 2>&1' |
    sed -e 's/ \[CWE-[0-9]*\]\( \[-Wanalyzer\)/\1/' -n \
    -e 's/^\([^:]*\):\([0-9]*\):[0-9]*: warning: \(.*\) \[\(-Wanalyzer-[^]]*\)\]$/\1	\2	\4	\3/p' \
    >"$T/analyzer"
# the findings not listed, and the entries no longer found
sed -e '/^#/d' -e '/^$/d' test/analyzer.supp >"$T/known"
if awk -F '\t+' 'NR == FNR { known[$1 "\t" $2 "\t" $3] = 1; next }
    {
	key = $1 "\t" $3 "\t" $4
	found[key] = 1
	if (!(key in known)) {
		print "gcc -fanalyzer: " $1 ":" $2 ": " $4 " [" $3 "]"
		bad = 1
	}
    }
    END {
	for (k in known)
		if (!(k in found)) {
			split(k, f, "\t")
			print "test/analyzer.supp: no longer found (remove it): " \
			    f[1] ": " f[3] " [" f[2] "]"
			bad = 1
		}
	exit bad
    }' "$T/known" "$T/analyzer" >"$T/report"; then
	echo "gcc -fanalyzer: $(echo "$ANALYZE" | wc -l) files clean" \
	    "($(wc -l <"$T/analyzer") known false findings," \
	    "test/analyzer.supp)"
else
	failed=1
	cat "$T/report"
	echo "gcc -fanalyzer: findings above (gcc -fanalyzer -c FILE shows" \
	    "the path); fix them, or list a false one in test/analyzer.supp"
fi
[ $failed = 0 ]
