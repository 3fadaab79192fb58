#!/bin/sh
# make deb: build the Debian package from a copy of the tree, with
# contrib/debian as debian/ and contrib/relayq.service as its unit.
# As root, installs missing build dependencies with apt-get; otherwise
# prints the command.  Never installs the package it builds.
# Output: build/deb/relayq_VERSION_ARCH.deb
set -eu
top=$(pwd)
version=$(sed -n 's/^#define RELAYQ_VERSION[^"]*"\(.*\)"/\1/p' src/relayq.h)
out=$top/build/deb
src=$out/relayq-$version

need="build-essential debhelper dpkg-dev fakeroot libmbedtls-dev libbsd-dev"
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "building the package needs:$missing"
		echo "run as root: apt-get install -y$missing"
		exit 1
	fi
	echo "installing:$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $missing >/dev/null
fi

rm -rf "$out"
mkdir -p "$src"
cp -R Makefile README.md src doc contrib test "$src/"
rm -f "$src"/src/*.o
cp -R contrib/debian "$src/debian"
rm -f "$src/debian/mkdeb.sh"
cp contrib/relayq.service "$src/debian/relayq.service"
cd "$src"
# a `make check CFLAGS=...' above us must not leak its flags
# (environment, MAKEFLAGS) into the package build: dpkg-buildflags only
# as a user would build it, not with the variables of a make around us
# (make exports command-line variables such as SANITIZE=)
unset MAKEFLAGS MFLAGS MAKELEVEL CFLAGS CPPFLAGS LDFLAGS SANITIZE
dpkg-buildpackage -us -uc -b >"$out/build.log" 2>&1 || {
	tail -30 "$out/build.log"
	echo "dpkg-buildpackage failed: see $out/build.log"
	exit 1
}
ls "$out"/*.deb
