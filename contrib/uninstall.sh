#!/bin/sh
# make uninstall: what make install put there, with the same variables.
# The configuration, the secret, the spool (mail may still be queued in
# it) and the relayq user stay; the last lines say how to remove them.
set -eu
: "${DESTDIR:=}" "${PREFIX:=/usr}" "${SYSCONFDIR:=/etc}"
: "${SPOOLDIR:=/var/spool/relayq}" "${SBINDIR:=$PREFIX/sbin}"
: "${MANDIR:=$PREFIX/share/man}"

# files a package installed are the package's to remove
if [ -z "$DESTDIR" ] && command -v dpkg >/dev/null &&
    pkg=$(dpkg -S "$SBINDIR/relayq" 2>/dev/null | sed -n '1s/: .*//p') &&
    [ -n "$pkg" ]; then
	echo "make uninstall: $SBINDIR/relayq belongs to the Debian package" \
	    "$pkg: remove it with apt-get remove $pkg" >&2
	exit 1
fi
if [ -z "$DESTDIR" ] && [ -s "$SPOOLDIR/pid" ] &&
    kill -0 "$(cat "$SPOOLDIR/pid")" 2>/dev/null; then
	echo "make uninstall: the relayq daemon is running on $SPOOLDIR:" \
	    "stop it first (relayq stop, or systemctl stop relayq)" >&2
	exit 1
fi
rm -f "$DESTDIR$SBINDIR/relayq" "$DESTDIR$SBINDIR/sendmail" \
    "$DESTDIR$PREFIX/lib/sendmail" "$DESTDIR$PREFIX/bin/mailq" \
    "$DESTDIR$PREFIX/bin/newaliases" \
    "$DESTDIR$MANDIR/man8/sendmail.8" "$DESTDIR$MANDIR/man8/relayq.8" \
    "$DESTDIR$MANDIR/man5/relayq.conf.5" "$DESTDIR$MANDIR/man5/relayq-spool.5"
rm -rf "$DESTDIR$PREFIX/share/doc/relayq"
n=$(find "$DESTDIR$SPOOLDIR/queue" "$DESTDIR$SPOOLDIR/hold" \
    "$DESTDIR$SPOOLDIR/drop" -type f 2>/dev/null | wc -l)
echo "relayq uninstalled.  Kept: $SYSCONFDIR/relayq.conf (and the secret it" \
    "names), the spool $SPOOLDIR ($n queued message file(s)) and user" \
    "relayq; to remove them too: rm -r $SYSCONFDIR/relayq.conf $SPOOLDIR;" \
    "userdel relayq"
