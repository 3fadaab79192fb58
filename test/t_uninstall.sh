# make uninstall, and make install's refusal to replace a sendmail that
# a Debian package owns.  Sourced by test/check.sh.

test_uninstall() {
	local root=$WORK/uninst got
	make -s install DESTDIR="$root" >/dev/null 2>&1 &&
	    make -s uninstall DESTDIR="$root" >"$WORK/uninst.out" 2>&1
	check "make uninstall DESTDIR: succeeds" test $? -eq 0
	got=$(cd "$root" && find . -type f -o -type l | sort | tr '\n' ' ')
	check "make uninstall: only the configuration is left of the files" \
	    test "$got" = "./etc/relayq.conf "
	check "make uninstall: the spool stays" test -d "$root/var/spool/relayq/queue"
	check "make uninstall: says what it kept and how to remove it" \
	    grep -qF "relayq uninstalled.  Kept: /etc/relayq.conf (and the secret it names), the spool /var/spool/relayq (0 queued message file(s)) and user relayq; to remove them too: rm -r /etc/relayq.conf /var/spool/relayq; userdel relayq" "$WORK/uninst.out"
	rm -rf "$root"
}

# A package's sendmail: a stand-in dpkg says postfix owns it.  Every path
# points into $WORK, so that even a broken refusal writes nothing outside.
test_install_refuses_package_sendmail() {
	local d=$WORK/inst-pkg out rc
	mkdir -p "$d/bin"
	printf '#!/bin/sh\n[ "$1" = -S ] && echo "postfix: $2" && exit 0\nexit 1\n' > "$d/bin/dpkg"
	chmod 755 "$d/bin/dpkg"
	out=$(PATH=$d/bin:$PATH make -s install PREFIX="$d/usr" SYSCONFDIR="$d/etc" \
	    SPOOLDIR="$d/spool" 2>&1); rc=$?
	check "make install over a package's sendmail: refused" test $rc -ne 0
	check "make install over a package's sendmail: says why and what to do" \
	    grep -qF "make install: $d/usr/sbin/sendmail belongs to the Debian package postfix; replacing it would be undone by the package's next upgrade and deleted by its removal.  Remove postfix (apt-get remove postfix) or install relayq as a package (make deb), or replace it anyway with: make install FORCE=1" <<<"$out"
	check "make install over a package's sendmail: nothing installed" test ! -e "$d/usr"
}

test_uninstall
test_install_refuses_package_sendmail
