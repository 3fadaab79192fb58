#!/bin/sh
# make lint: test/layering.sh (make layering) finds what it is for, on
# four small objects: a.c and b.c call each other (a cycle), c.c calls
# a.c (no cycle), and c.c exports a variable (d.c's is const, c_own
# static: neither counts).  Then a report with nothing in it exits 0.
# Then the gate on the tree itself (LAYERING_SRCS), below.
cd "$(dirname "$0")/.." || exit 1
T=$(mktemp -d /tmp/relayq-layering.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
echo 'int b(int); int a(int n) { return n ? b(n - 1) : 0; }' >"$T/a.c"
echo 'int a(int); int b(int n) { return a(n); }' >"$T/b.c"
echo 'int a(int); int c_count; static int c_own; int c(void) { return a(c_own++); }' >"$T/c.c"
echo 'const int d_limit = 3; int d(void) { return d_limit; }' >"$T/d.c"
for f in a b c d; do
	cc -c -o "$T/$f.o" "$T/$f.c" || exit 1
done
sh test/layering.sh "$T/c.o" "$T/d.o" -- "$T/a.o" "$T/b.o" "$T/c.o" \
    "$T/d.o" >"$T/out"
st=$?
cat >"$T/want" <<'END'
layering: 1 cycle(s) between src/ files
  cycle: a.c b.c
    a.c -> b.c: b
    b.c -> a.c: a
layering: 1 exported mutable variable(s) in the daemon
  c.c: c_count
END
if [ $st = 1 ] && cmp -s "$T/want" "$T/out"; then
	echo "make layering: reports a cycle and an exported variable"
else
	echo "make layering: wrong report (exit $st, want 1):"
	diff "$T/want" "$T/out"
	exit 1
fi
# and nothing to report is a success
if ! sh test/layering.sh "$T/d.o" -- "$T/c.o" "$T/d.o" >"$T/out"; then
	echo "make layering: fails where there is nothing to report:"
	cat "$T/out"
	exit 1
fi

# The gate: the real tree, LAYERING_SRCS of the Makefile (the daemon's
# files stay out until their refactor: see there), compiled here at -O0
# so that make lint leaves the build's objects and flags alone.  No
# cycle between these files and no exported mutable variable in them.
srcs=$(make -s --no-print-directory --eval \
    'layering-srcs: ; @echo $(LAYERING_SRCS)' layering-srcs) || exit 1
objs=""
for s in $srcs; do
	o="$T/gate/$(basename "$s" .c).o"
	objs="$objs $o"
	echo "$s $o"
done >"$T/list"
mkdir -p "$T/gate"
if ! xargs -P2 -L1 sh -c 'cc -D_GNU_SOURCE -Isrc -std=gnu11 -O0 -w -c \
    -o "$1" "$0"' <"$T/list" >"$T/cc" 2>&1; then
	echo "make layering gate: the sources do not compile:"
	cat "$T/cc"
	exit 1
fi
# shellcheck disable=SC2086 # one word per object
if sh test/layering.sh $objs -- $objs >"$T/out"; then
	echo "make layering gate: $(echo $srcs | wc -w) files, no cycle," \
	    "no exported mutable variable"
else
	echo "make layering gate: fails:"
	cat "$T/out"
	exit 1
fi
