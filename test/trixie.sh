#!/bin/bash
#
# trixie.sh - the README's first hour and the whole suite on a fresh
# Debian minbase system: Debian 13 (trixie, mbedTLS 3.6) by default, or
# Debian 12 with RELAYQ_MINBASE_SUITE=bookworm, from a Debian 12 host.
# Run by `make check-trixie' as root (CI), from the top of the
# repository.
#
# A root is made with debootstrap --variant=minbase from the Debian
# mirror, with only what the README's prerequisite line installs (make
# and git), and the mirror's package lists.  It is cached in
# $RELAYQ_TRIXIE_CACHE (default /var/cache/relayq-ci/SUITE) and used
# again while its stamp -- suite, mirror and package list -- is the same
# and it is less than 7 days old (security updates); otherwise it is made
# anew.  The cached root is never written by a run: each run sees it
# through an overlay (or a copy where the kernel has no overlayfs) in a
# temp dir, so one run's packages, spools and Postfix state cannot leak
# into the next.
#
# Inside: a private mount and PID namespace (unshare), so that /proc,
# /dev, /sys and the overlay vanish with it and every process the tests
# leave behind is killed when it ends, even on failure; then chroot.  A
# copy of this tree (the files git knows, plus uncommitted changes) is
# put where a new user clones it as root, /root/relayq (a 0700 home the
# tests' unprivileged user cannot enter), and the README's two commands
# run there as written: `make demo' and `make check' install what they
# need themselves.  Then, as .ci/run does on the host, -Werror builds
# with Debian's hardening flags (dpkg-dev installed for those) and `make
# interop'.
#
# Output: the inner runs' lines, then `SUITE: make demo ...', `SUITE:
# make check N passed, N failed' and `SUITE: make interop N passed, N
# failed'; exit 1 on any failure.  Never passes by skipping: not root or
# no debootstrap is a failure with the reason.
# Environment: RELAYQ_MINBASE_SUITE (trixie or bookworm),
# RELAYQ_TRIXIE_CACHE (cache dir), RELAYQ_DEBIAN_MIRROR (mirror URI,
# default http://deb.debian.org/debian), TRIXIE_KEEP=1 (keep the temp dir
# and print its path).

set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$(pwd)
SUITE=${RELAYQ_MINBASE_SUITE:-trixie}
CACHE=${RELAYQ_TRIXIE_CACHE:-/var/cache/relayq-ci/$SUITE}
MIRROR=${RELAYQ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# the README's prerequisite line, nothing more: the rest is the
# commands' own business
PKGS="make git"
STAMP="$SUITE $MIRROR $PKGS hosts"

fail() { echo "not ok - $SUITE: $1"; echo "0 passed, 1 failed"; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot): run as root: make check-trixie"
command -v debootstrap >/dev/null ||
    fail "debootstrap missing: apt-get install -y debootstrap (make check-trixie does)"

W=$(mktemp -d /var/tmp/relayq-trixie.XXXXXX) || fail "mktemp"
trap '[ -n "${TRIXIE_KEEP:-}" ] && echo "# kept $W" || rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

# make_root: the cached root, made anew unless its stamp matches and it
# is younger than 7 days.  Locked: two runs at once share one cache.
make_root() {
	local new=$CACHE.new t0
	mkdir -p "$(dirname "$CACHE")" || return 1
	exec 9>"$CACHE.lock"
	flock -w 1800 9 || { echo "# $CACHE.lock held for 30 minutes"; return 1; }
	if [ -d "$CACHE/root" ] && [ "$(cat "$CACHE/stamp" 2>/dev/null)" = "$STAMP" ] &&
	    [ -n "$(find "$CACHE/stamp" -mtime -7)" ]; then
		echo "# $SUITE root: cached $(date -r "$CACHE/stamp" -u +%FT%TZ)"
		return 0
	fi
	t0=$(date +%s)
	# a debootstrap that finished before an interrupted package step
	# is used again; anything else starts from scratch
	if [ ! -e "$new/.debootstrap-done" ]; then
		rm -rf "$new"
		echo "# $SUITE root: debootstrap --variant=minbase $SUITE $MIRROR"
		timeout 1800 debootstrap --variant=minbase $SUITE "$new" "$MIRROR" \
		    >"$W/debootstrap.log" 2>&1 ||
		    { tail -5 "$W/debootstrap.log"; return 1; }
		touch "$new/.debootstrap-done"
	fi
	printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" $SUITE \
	    "$MIRROR" $SUITE > "$new/etc/apt/sources.list"
	# what the Debian installer writes and debootstrap does not: without
	# it "localhost" goes to DNS, and the tests' smarthost is localhost
	printf '127.0.0.1\tlocalhost\n127.0.1.1\trelayq-ci\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' \
	    > "$new/etc/hosts"
	echo relayq-ci > "$new/etc/hostname"
	# no daemon started by a postinst in the root
	printf '#!/bin/sh\nexit 101\n' > "$new/usr/sbin/policy-rc.d"
	chmod 755 "$new/usr/sbin/policy-rc.d"
	echo "# $SUITE root: apt-get install $PKGS"
	in_root "$new" bash -c "apt-get update -q && apt-get install -y -q \
	    --no-install-recommends $PKGS" >"$W/apt.log" 2>&1 ||
	    { tail -20 "$W/apt.log"; return 1; }
	rm -f "$new/.debootstrap-done"
	rm -rf "$new"/var/cache/apt/archives/*.deb
	rm -rf "$CACHE"
	mkdir -p "$CACHE" && mv "$new" "$CACHE/root" &&
	    echo "$STAMP" > "$CACHE/stamp" || return 1
	echo "# $SUITE root: made in $(( $(date +%s) - t0 )) s"
}

# in_root ROOT COMMAND...: COMMAND chrooted in ROOT, in a private mount
# and PID namespace with /proc, /sys, /dev, /dev/pts, /dev/shm and /tmp
# mounted; all of it, and every process left, gone when COMMAND ends
in_root() {
	local root=$1
	shift
	cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
	unshare --mount --propagation private --pid --fork --kill-child \
	    --mount-proc="$root/proc" \
	    bash -c 'r=$1; shift
		mount --rbind /sys "$r/sys" && mount --make-rslave "$r/sys" &&
		mount --bind /dev "$r/dev" &&
		mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts" &&
		mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm" &&
		mount -t tmpfs -o mode=1777 tmpfs "$r/tmp" || exit 1
		exec chroot "$r" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' \
	    in_root "$root" "$@"
}

t0=$(date +%s)
make_root || fail "$SUITE root in $CACHE: see above"
exec 9>&-
t1=$(date +%s)

# the run's root: an overlay over the cache, or a copy of it
R=$W/root
mkdir -p "$R" "$W/upper" "$W/work"
if grep -qw overlay /proc/filesystems && [ "$(stat -f -c %T "$W")" != overlayfs ]; then
	MNT="mount -t overlay overlay -o lowerdir=$CACHE/root,upperdir=$W/upper,workdir=$W/work $R"
else
	cp -a "$CACHE/root/." "$R/" || fail "copy of $CACHE/root"
	MNT=true
fi

# the tree: files git knows and new ones it does not ignore, as they are
mkdir -p "$W/src"
{ git ls-files -co --exclude-standard -z 2>/dev/null || exit 1; } |
    tar -C "$TOP" --null -T - -cf "$W/src.tar" 2>/dev/null ||
    fail "no git checkout to copy in $TOP"

# The run itself: one unshare around overlay and chroot, so the overlay
# mount lives in the namespace too.
cat > "$W/inner.sh" <<'EOF'
set -u
cd /root/relayq || exit 1
flags="CFLAGS=-O2 -g -Werror"
echo "# $(. /etc/os-release; echo "$PRETTY_NAME"), in /root/relayq (/root mode $(stat -c %a /root))"
# the README, as written
make demo >/build/demo.log 2>&1
echo "demo-exit $?" >> /build/demo.log
tail -3 /build/demo.log
echo "# mbedTLS $(dpkg-query -W -f='${Version}' libmbedtls-dev), $(gcc --version | head -1)"
make check "$flags" 2>&1 | tee /build/check.log
# CI's hardened build (dpkg-buildflags: dpkg-dev, not a README step)
apt-get install -y -q --no-install-recommends dpkg-dev >/dev/null 2>&1 ||
    { echo "apt-get install dpkg-dev failed"; exit 1; }
make clean >/dev/null
make CFLAGS="$(dpkg-buildflags --get CFLAGS) -Werror" \
    CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)" \
    LDFLAGS="$(dpkg-buildflags --get LDFLAGS)" >/tmp/build.log 2>&1 ||
    { cat /tmp/build.log; echo "hardened -Werror build failed"; exit 1; }
make clean >/dev/null
make "$flags" >/tmp/build.log 2>&1 ||
    { cat /tmp/build.log; echo "-Werror build failed"; exit 1; }
echo "# -Werror builds (plain and hardened): clean"
make interop "$flags" 2>&1 | tee /build/interop.log
EOF
mkdir -p "$W/build"
# The host's own CAs (/usr/local/share/ca-certificates) go in too: where
# the network intercepts HTTPS (as this CI's egress proxy does), the npm
# registry that make interop fetches nodemailer from is trusted in the
# root as on the host; ca-certificates, when apt installs it, adds them.
unshare --mount --propagation private bash -c "$MNT && mkdir -p $R/build $R/root/relayq &&
    mkdir -p $R/usr/local/share/ca-certificates &&
    { cp /usr/local/share/ca-certificates/*.crt $R/usr/local/share/ca-certificates/ 2>/dev/null; true; } &&
    chmod 700 $R/root && tar -C $R/root/relayq -xf $W/src.tar && cp $W/inner.sh $R/build/ &&
    $(declare -f in_root); in_root $R bash /build/inner.sh;
    cp $R/build/*.log $W/build/ 2>/dev/null; true"
t2=$(date +%s)

rc=0
if grep -qx 'demo-exit 0' "$W/build/demo.log" 2>/dev/null; then
	echo "$SUITE: make demo from /root/relayq: exit 0"
else
	echo "$SUITE: make demo from /root/relayq: failed"
	rc=1
fi
for what in check interop; do
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$W/build/$what.log" 2>/dev/null | tail -1)
	echo "$SUITE: make $what ${line:-did not finish}"
	case $line in
	*" 0 failed") ;;
	*) rc=1 ;;
	esac
done
echo "# times: root $((t1 - t0)) s, build and tests $((t2 - t1)) s"
exit $rc
