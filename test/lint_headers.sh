#!/bin/sh
# make lint: `touch' on any header rebuilds exactly the objects whose
# source includes it, in every binary the Makefile builds.
#
# A copy of the tree is built once (-O0, for speed); then for each header
# in turn its time is moved forward, `make -n' says which objects it
# would compile, and the time is put back.  What it says is compared with
# the sources that #include the header, found by reading them (not from
# the compiler's .d files, which are what is being tested).
# The fuzz targets are included where they build (clang: make fuzz-deps).
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CPPFLAGS LDFLAGS SANITIZE
cd "$(dirname "$0")/.." || exit 1
T=$(mktemp -d /tmp/relayq-headers.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/test/fuzz"
cp -R Makefile src "$T/" &&
    cp test/*.c test/*.h "$T/test/" &&
    cp test/fuzz/*.c test/fuzz/*.h "$T/test/fuzz/" || exit 1
cd "$T" || exit 1
make -s clean >/dev/null 2>&1

TARGETS="all test/unit test/sendmail-sgid test/relayq-crash \
    test/sendmail-crash test/smtpd test/nosandbox test/fakedns.so"
if ! make -j2 -s CFLAGS=-O0 $TARGETS >build.log 2>&1; then
	echo "not ok - headers: the copy of the tree does not build"
	sed 's/^/# /' build.log | tail -20
	exit 1
fi
# the fuzz targets where they build (make fuzz checks that they do)
FUZZ=$(make -s --eval 'fuzz-bins: ; @echo $(FUZZ_BINS)' fuzz-bins)
if make -j2 -s CFLAGS=-O0 $FUZZ >build.log 2>&1; then
	TARGETS="$TARGETS $FUZZ"
else
	echo "# headers: fuzz targets left out, they do not build here" \
	    "(clang: make fuzz-deps)"
	rm -rf build/fuzz
fi

failed=0
if ! make -q $TARGETS CFLAGS=-O0 2>/dev/null; then
	failed=1
	echo "not ok - headers: a build right after a build is not up to date"
	make -n $TARGETS CFLAGS=-O0 | grep -o -- '-c -o [^ ]*' | sed 's/^/# /'
fi

# The include graph, "includer included" per line: a quoted name
# resolves beside the includer, then in src/ and test/fuzz/ (-I).
grep -H '^#[ \t]*include[ \t]*"' src/*.[ch] test/*.[ch] test/fuzz/*.[ch] |
    sed 's/^\([^:]*\):[^"]*"\([^"]*\)".*/\1 \2/' |
    while read -r f inc; do
	for dir in "$(dirname "$f")" src test/fuzz; do
		if [ -f "$dir/$inc" ]; then
			echo "$f $dir/$inc"
			break
		fi
	done
    done >includes

# users HEADER: the sources that include it, directly or through headers
users() {
	awk -v h="$1" '{ by[$2] = by[$2] " " $1 }
	    END {
		want[h] = 1; todo[1] = h; n = 1
		while (n > 0) {
			x = todo[n--]
			k = split(by[x], inc, " ")
			for (i = 1; i <= k; i++)
				if (!(inc[i] in want)) {
					want[inc[i]] = 1
					todo[++n] = inc[i]
				}
		}
		for (f in want)
			if (f ~ /\.c$/)
				print f
	    }' includes
}

# every object built: X.o, or build/VARIANT/X.o
find . -name '*.o' | sed 's|^\./||' | sort >objs
for h in src/*.h test/*.h test/fuzz/*.h; do
	touch -r "$h" ref
	users "$h" | sort >want.src
	# the objects built from them
	awk 'NR == FNR { u[$0] = 1; next }
	    { s = $0; sub(/^build\/[^\/]*\//, "", s); sub(/\.o$/, ".c", s) }
	    s in u' want.src objs | sort >want
	touch -d '+1 hour' "$h"
	make -n $TARGETS CFLAGS=-O0 2>&1 | grep -o -- '-c -o [^ ]*' |
	    sed 's/^-c -o //' | sort -u >got
	touch -r ref "$h"
	if ! cmp -s want got; then
		failed=1
		echo "not ok - headers: touch $h: rebuilt objects differ" \
		    "(- not rebuilt, + rebuilt though it does not include it)"
		diff want got | sed -n 's/^< /# - /p; s/^> /# + /p'
	elif [ -s want ]; then
		echo "ok - headers: touch $h rebuilds its $(wc -l <want) objects"
	else
		echo "ok - headers: touch $h rebuilds nothing (no object" \
		    "built here includes it)"
	fi
done

make -s clean >/dev/null 2>&1
left=$(find . -name '*.[do]' | head -5)
if [ -n "$left" ]; then
	failed=1
	echo "not ok - headers: make clean leaves" $left
else
	echo "ok - headers: make clean removes every object and .d file"
fi
[ $failed = 0 ]
