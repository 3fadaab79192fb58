#!/bin/sh
# make install: binaries, spool, config and man pages with explicit owners
# and modes.  Honours DESTDIR, PREFIX, SYSCONFDIR, SPOOLDIR from make.
set -eu
: "${DESTDIR:=}" "${PREFIX:=/usr}" "${SYSCONFDIR:=/etc}"
: "${SPOOLDIR:=/var/spool/relayq}" "${SBINDIR:=$PREFIX/sbin}"
: "${MANDIR:=$PREFIX/share/man}"

# A sendmail that a Debian package owns (postfix, exim4, relayq's own
# .deb) is not replaced behind dpkg's back: the package's next upgrade
# would put its own back, and its removal would delete ours.  First, so
# that a refusal changes nothing.
if [ -z "$DESTDIR" ] && [ "${FORCE:-}" != 1 ] && command -v dpkg >/dev/null &&
    pkg=$(dpkg -S "$SBINDIR/sendmail" 2>/dev/null | sed -n '1s/: .*//p') &&
    [ -n "$pkg" ]; then
	echo "make install: $SBINDIR/sendmail belongs to the Debian package $pkg;" \
	    "replacing it would be undone by the package's next upgrade and" \
	    "deleted by its removal.  Remove $pkg (apt-get remove $pkg) or" \
	    "install relayq as a package (make deb), or replace it anyway" \
	    "with: make install FORCE=1" >&2
	exit 1
fi

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
install -d -m 755 "$DESTDIR$PREFIX/share/doc/relayq"
install -m 644 README.md doc/QUICKSTART.md doc/SECURITY.md doc/PERFORMANCE.md \
    "$DESTDIR$PREFIX/share/doc/relayq/"

# on the real system: what is left to do (nothing starts by itself)
[ -n "$DESTDIR" ] || cat <<EOT
relayq is installed.  Next:
  1. $SYSCONFDIR/relayq.conf: smarthost, auth_user, auth_password_file, domain
  2. the password, readable by relayq alone:
     chown relayq:relayq $SYSCONFDIR/relayq.secret; chmod 600 $SYSCONFDIR/relayq.secret
  3. relayq check            (each problem with its fix)
  4. relayq drain            (or the systemd unit: contrib/relayq.service)
Guide: $PREFIX/share/doc/relayq/QUICKSTART.md; make uninstall removes it.
EOT
