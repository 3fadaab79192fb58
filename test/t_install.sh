# make install DESTDIR=...: exactly the documented layout and modes.
# Sourced by test/check.sh, which provides test/lib.sh.

test_install_layout() {
	local root=$WORK/destdir want got
	make -s install DESTDIR="$root" >/dev/null 2>"$WORK/install.err"
	check "make install DESTDIR: succeeds" test $? -eq 0
	want=$(cat <<'EOT'
755 d /etc
644 f /etc/relayq.conf
755 d /usr
755 d /usr/bin
777 l /usr/bin/mailq -> /usr/sbin/sendmail
777 l /usr/bin/newaliases -> /usr/sbin/sendmail
755 d /usr/lib
777 l /usr/lib/sendmail -> /usr/sbin/sendmail
755 d /usr/sbin
755 f /usr/sbin/relayq
2755 f /usr/sbin/sendmail
755 d /usr/share
755 d /usr/share/doc
755 d /usr/share/doc/relayq
644 f /usr/share/doc/relayq/PERFORMANCE.md
644 f /usr/share/doc/relayq/QUICKSTART.md
644 f /usr/share/doc/relayq/README.md
644 f /usr/share/doc/relayq/SECURITY.md
755 d /usr/share/man
755 d /usr/share/man/man5
644 f /usr/share/man/man5/relayq-spool.5
644 f /usr/share/man/man5/relayq.conf.5
755 d /usr/share/man/man8
644 f /usr/share/man/man8/relayq.8
644 f /usr/share/man/man8/sendmail.8
755 d /var
755 d /var/spool
755 d /var/spool/relayq
700 d /var/spool/relayq/corrupt
1730 d /var/spool/relayq/drop
700 d /var/spool/relayq/failed
700 d /var/spool/relayq/hold
700 d /var/spool/relayq/queue
700 d /var/spool/relayq/state
EOT
)
	got=$(cd "$root" && find . -mindepth 1 | sort | while read -r f; do
		printf '%s %s %s' "$(stat -c %a "$f")" "$(stat -c %F "$f" | cut -c1 | sed 's/r/f/;s/s/l/')" "${f#.}"
		[ -L "$f" ] && printf ' -> %s' "$(readlink "$f")"
		echo
	done)
	if [ "$got" = "$want" ]; then
		ok "make install DESTDIR: documented layout and modes"
	else
		not_ok "make install DESTDIR: documented layout and modes" "$(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"
	fi
	rm -rf "$root"
}

test_install_layout
