#!/bin/sh
# Install what building and testing relayq needs, from Debian's packages
# (or the ones in \$PKGS: make fuzz-deps).
# As root: apt-get installs what is missing.  Otherwise: print the exact
# command and fail, so `make check' never half-runs.
# The same names on Debian 12 and 13 (libmbedtls-dev: mbedTLS 2.28 on 12,
# 3.6 on 13; make fuzz-deps: libclang-rt-dev follows the release's clang).
# python3 runs the tests' small clients and servers, iproute2 (ip) sets up
# a network namespace: a Debian minbase system has neither; curl and
# swaks are real SMTP clients for the listener's tests, and swaks --tls
# needs Net::SSLeay, only a Recommends of swaks (without it: "TLS not
# available: requires Net::SSLeay").
PKGS=${PKGS:-"gcc make libc6-dev libmbedtls-dev libbsd-dev openssl util-linux procps mandoc python3 iproute2 curl swaks libnet-ssleay-perl"}
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "relayq needs these Debian packages:$missing"
	echo "run as root: apt-get update && apt-get install -y$missing"
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null &&
	apt-get install -y -q --no-install-recommends $missing >/dev/null
} || { echo "apt-get install$missing failed"; exit 1; }
