# A clone where the test user cannot reach it (root's 0700 home, the
# default place to clone as root): make demo and make check still pass,
# from a copy they make themselves.  Sourced by test/check.sh.
#
# The "clone" is a copy of this tree, so that what is tested is the code
# at hand, uncommitted changes included; its modes are those of a clone
# made with umask 077, in a 0700 directory owned by root.

test_reach() {
	local d out rc
	if [ "$(id -u)" != 0 ]; then
		echo "# unreachable clone: skipped, needs root (as any other user the tests run as that user)"
		return
	fi
	d=$(mktemp -d /root/relayq-test.XXXXXX 2>/dev/null || mktemp -d "$WORK/reach.XXXXXX")
	chmod 700 "$d"
	cp -a "$TOP/." "$d/relayq" && chmod -R go-rwx "$d/relayq"
	check "unreachable clone: uid $RUNUID cannot read it" sh -c "! ${AS_USER[*]} test -r '$d/relayq/Makefile'"
	out=$(cd "$d/relayq" && timeout 120 make -s demo 2>&1); rc=$?
	check "unreachable clone: make demo exits 0" test $rc -eq 0
	check "unreachable clone: make demo says it runs from a copy" \
	    grep -q "^# $d/relayq: not reachable by uid $RUNUID (.*), the user the tests run as; running from a copy in " <<<"$out"
	check "unreachable clone: make demo delivered" grep -qx "demo ok: delivered over TLS with AUTH; everything cleaned up." <<<"$out"
	out=$(cd "$d/relayq" && timeout 300 make -s check TESTS=test/t_submit.sh 2>&1); rc=$?
	check "unreachable clone: make check subset exits 0" test $rc -eq 0
	check "unreachable clone: make check subset: nothing failed" \
	    grep -qE '^[1-9][0-9]* passed, 0 failed$' <<<"$out"
	[ $rc -eq 0 ] || echo "$out" | grep -E '^not ok|set-up' | head -5 | sed 's/^/# /'
	rm -rf "$d"
}

test_reach
