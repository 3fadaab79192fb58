#!/bin/sh
# make install: binaries, spool, config and man pages with explicit owners
# and modes.  Honours DESTDIR, PREFIX, SYSCONFDIR, SPOOLDIR from make.
set -eu
: "${DESTDIR:=}" "${PREFIX:=/usr}" "${SYSCONFDIR:=/etc}"
: "${SPOOLDIR:=/var/spool/relayq}" "${SBINDIR:=$PREFIX/sbin}"
: "${MANDIR:=$PREFIX/share/man}"

# the daemon's user and group: created on the real system only
if [ -z "$DESTDIR" ] && ! getent passwd relayq >/dev/null; then
	getent group relayq >/dev/null || groupadd --system relayq
	useradd --system --gid relayq --home-dir "$SPOOLDIR" \
	    --no-create-home --shell /usr/sbin/nologin relayq
fi
own() { [ -z "$DESTDIR" ] && chown "$@" || true; }

install -d -m 755 "$DESTDIR$SBINDIR" "$DESTDIR$PREFIX/bin" \
    "$DESTDIR$PREFIX/lib" "$DESTDIR$MANDIR/man5" "$DESTDIR$MANDIR/man8" \
    "$DESTDIR$SYSCONFDIR"
install -m 755 relayq "$DESTDIR$SBINDIR/relayq"
install -m 755 sendmail "$DESTDIR$SBINDIR/sendmail"
# setgid relayq: only to create files in the drop directory
own root:relayq "$DESTDIR$SBINDIR/sendmail"
chmod 2755 "$DESTDIR$SBINDIR/sendmail"
# the names callers use; the mode comes from argv[0]
ln -sf "$SBINDIR/sendmail" "$DESTDIR$PREFIX/lib/sendmail"
ln -sf "$SBINDIR/sendmail" "$DESTDIR$PREFIX/bin/mailq"
ln -sf "$SBINDIR/sendmail" "$DESTDIR$PREFIX/bin/newaliases"

install -d -m 755 "$DESTDIR$SPOOLDIR"
own relayq:relayq "$DESTDIR$SPOOLDIR"
install -d -m 1730 "$DESTDIR$SPOOLDIR/drop"
own relayq:relayq "$DESTDIR$SPOOLDIR/drop"
chmod 1730 "$DESTDIR$SPOOLDIR/drop"
for d in queue state failed hold corrupt; do
	install -d -m 700 "$DESTDIR$SPOOLDIR/$d"
	own relayq:relayq "$DESTDIR$SPOOLDIR/$d"
done

[ -e "$DESTDIR$SYSCONFDIR/relayq.conf" ] ||
    install -m 644 contrib/relayq.conf "$DESTDIR$SYSCONFDIR/relayq.conf"
install -m 644 doc/sendmail.8 doc/relayq.8 "$DESTDIR$MANDIR/man8/"
install -m 644 doc/relayq.conf.5 doc/relayq-spool.5 "$DESTDIR$MANDIR/man5/"
