# make deb: the Debian package built from contrib/debian, checked from
# the outside (control fields, conffiles, file list with owners and modes,
# maintainer scripts), then installed, used by a cron-style sendmail call
# and purged in a throwaway overlay root (test_package_lifecycle).  The
# machine's own dpkg database never changes: make interop installs
# Postfix, which this package conflicts with.  Root only: building may
# apt-get install the build dependencies.
# Sourced by test/check.sh, which provides test/lib.sh.

test_package() {
	local deb ctl want got
	if [ "$(id -u)" != 0 ]; then
		echo "# package test skipped: needs root (make deb installs build dependencies)"
		return
	fi
	if make -s deb >"$WORK/deb.out" 2>&1; then
		ok "make deb: dpkg-buildpackage succeeds"
	else
		not_ok "make deb: dpkg-buildpackage succeeds" "$(tail -5 "$WORK/deb.out" | tr '\n' ' ')"
		return
	fi
	deb=$(ls "$TOP"/build/deb/relayq_*_*.deb 2>/dev/null | head -1)
	check "make deb: build/deb/relayq_VERSION_ARCH.deb exists" test -s "$deb" || return
	ctl=$WORK/debctl
	rm -rf "$ctl"
	dpkg-deb -e "$deb" "$ctl"
	check "package: Provides mail-transport-agent" \
	    test "$(dpkg-deb -f "$deb" Provides)" = mail-transport-agent
	check "package: Conflicts mail-transport-agent" \
	    test "$(dpkg-deb -f "$deb" Conflicts)" = mail-transport-agent
	check "package: Replaces mail-transport-agent" \
	    test "$(dpkg-deb -f "$deb" Replaces)" = mail-transport-agent
	check "package: Depends on adduser, mbedTLS and libbsd" \
	    sh -c "dpkg-deb -f '$deb' Depends | grep -q '^adduser, libbsd0 .*libmbedtls'"
	check "package: /etc/relayq.conf is the one conffile" \
	    test "$(cat "$ctl/conffiles")" = /etc/relayq.conf
	want=$(cat <<'EOT'
drwxr-xr-x root/root ./etc/
-rw-r--r-- root/root ./etc/relayq.conf
-rw-r--r-- root/root ./lib/systemd/system/relayq.service
lrwxrwxrwx root/root ./usr/bin/mailq -> ../sbin/sendmail
lrwxrwxrwx root/root ./usr/bin/newaliases -> ../sbin/sendmail
lrwxrwxrwx root/root ./usr/lib/sendmail -> ../sbin/sendmail
-rwxr-xr-x root/root ./usr/sbin/relayq
-rwxr-xr-x root/root ./usr/sbin/sendmail
-rw-r--r-- root/root ./usr/share/doc/relayq/copyright
lrwxrwxrwx root/root ./usr/share/man/man1/mailq.1.gz -> ../man8/sendmail.8.gz
-rw-r--r-- root/root ./usr/share/man/man5/relayq-spool.5.gz
-rw-r--r-- root/root ./usr/share/man/man5/relayq.conf.5.gz
lrwxrwxrwx root/root ./usr/share/man/man8/newaliases.8.gz -> sendmail.8.gz
-rw-r--r-- root/root ./usr/share/man/man8/relayq.8.gz
-rw-r--r-- root/root ./usr/share/man/man8/sendmail.8.gz
drwxr-xr-x root/root ./var/spool/relayq/
drwxr-xr-x root/root ./var/spool/relayq/corrupt/
drwxr-xr-x root/root ./var/spool/relayq/drop/
drwxr-xr-x root/root ./var/spool/relayq/failed/
drwxr-xr-x root/root ./var/spool/relayq/hold/
drwxr-xr-x root/root ./var/spool/relayq/queue/
drwxr-xr-x root/root ./var/spool/relayq/state/
EOT
)
	# the files and directories that matter, as "mode owner path [-> target]";
	# Debian 13's debhelper puts the unit in /usr/lib (merged /usr), 12's in /lib
	got=$(dpkg-deb -c "$deb" | awk '{ $3 = $4 = $5 = ""; print }' |
	    sed -e 's/   */ /' -e 's| \./usr/lib/systemd/system/relayq| ./lib/systemd/system/relayq|' |
	    grep -v -E ' \./usr/lib/systemd/(system/)?$' | grep -E ' \./(etc/|lib/systemd/system/relayq|usr/(bin|lib|sbin)/.|usr/share/(man/man./.|doc/relayq/copyright)|var/spool/relayq/)' | sort -k3)
	if [ "$got" = "$want" ]; then
		ok "package: file list, owners and modes"
	else
		not_ok "package: file list, owners and modes" "$(diff <(echo "$want") <(echo "$got") | tr '\n' ' ')"
	fi
	check "package: postinst creates the relayq user and group" \
	    sh -c "grep -q 'addgroup --quiet --system relayq' '$ctl/postinst' && grep -q 'adduser --quiet --system --ingroup relayq' '$ctl/postinst'"
	check "package: postinst makes sendmail setgid relayq via dpkg-statoverride" \
	    grep -q 'dpkg-statoverride --update --add root relayq 2755' "$ctl/postinst"
	check "package: postinst sets the spool modes (drop 1730, private 700, hold/ too)" \
	    sh -c "grep -q 'chmod 1730 \"\$SPOOL/drop\"' '$ctl/postinst' && grep -q 'chmod 700 \"\$SPOOL/queue\" \"\$SPOOL/state\" \"\$SPOOL/failed\" \"\$SPOOL/hold\"' '$ctl/postinst' && grep -q 'chmod 700 \"\$SPOOL/corrupt\"' '$ctl/postinst'"
	check "package: systemd unit enabled at installation" \
	    grep -q "deb-systemd-helper enable 'relayq.service'" "$ctl/postinst"
	check "package: purge says what it removes before removing the spool" \
	    awk '/relayq: purge: removing the spool/ {said=1} /rm -rf "\$SPOOL"/ {exit !said}' "$ctl/postrm"
	check "package: maintainer scripts parse (sh -n)" \
	    sh -c "sh -n '$ctl/postinst' && sh -n '$ctl/postrm' && sh -n '$ctl/preinst'"
	check "package: the machine's dpkg database does not list relayq" \
	    sh -c "! dpkg-query -W -f='\${Status}' relayq 2>/dev/null | grep -q installed"
	if command -v lintian >/dev/null; then
		check "package: lintian finds no errors" lintian --fail-on error "$deb"
	fi
}

test_package

# The package's life cycle in a throwaway root: an overlay of / in a
# private mount namespace, so the install, the maintainer scripts, a delivery
# and dpkg --purge all run for real while every write (the dpkg database
# included) lands in $R/up and disappears with the test.  Service actions
# are refused by a policy-rc.d inside the overlay.
test_package_lifecycle() {
	local deb R
	[ "$(id -u)" = 0 ] || return
	deb=$(ls "$TOP"/build/deb/relayq_*_*.deb 2>/dev/null | head -1)
	[ -s "$deb" ] || return
	new_env pkgroot
	R=$T/root
	mkdir -p "$R/up" "$R/work" "$R/m" "$T/out"
	start_smtpd || { not_ok "package life cycle: set-up" "see $T"; return; }
	timeout 150 unshare -m bash -s "$R" "$deb" "$PORT" "$CERTS/ca.pem" "$T/out" "$T/mail" >"$T/out/inner.log" 2>&1 <<'INNER'
R=$1 deb=$2 port=$3 ca=$4 out=$5 mail=$6 m=$1/m
set -u
mount --make-rprivate / &&
mount -t overlay overlay -o lowerdir=/,upperdir=$R/up,workdir=$R/work $m &&
mount -t proc proc $m/proc && mount --bind /dev $m/dev || { echo overlay > $out/skip; exit 0; }
inroot() { chroot $m "$@"; }
printf '#!/bin/sh\nexit 101\n' > $m/usr/sbin/policy-rc.d
chmod 755 $m/usr/sbin/policy-rc.d
cp "$deb" $m/tmp/relayq.deb
# another MTA (make interop installs Postfix) leaves, in the overlay only
for p in $(inroot dpkg-query -W -f='${Package} ${Status} ${Provides}\n' |
    awk '/ok installed/ && /mail-transport-agent/ {print $1}'); do
	inroot dpkg --remove --force-depends "$p" >>$out/remove.log 2>&1
done
# as on a minimal system: apt-get brings what the package depends on
# (adduser is not in a minbase root; dpkg -i alone would fail there)
inroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends /tmp/relayq.deb >$out/install.log 2>&1
echo $? > $out/install.rc
# inside: the names come from the throwaway root's passwd and group
inroot stat -c '%a %U:%G %n' /usr/sbin/sendmail /var/spool/relayq \
    /var/spool/relayq/drop /var/spool/relayq/queue \
    /var/spool/relayq/state /var/spool/relayq/failed \
    /var/spool/relayq/hold /var/spool/relayq/corrupt > $out/modes
inroot getent passwd relayq | cut -d: -f1,6,7 > $out/user
readlink $m/etc/systemd/system/multi-user.target.wants/relayq.service > $out/enabled
printf '%s\n' "smarthost localhost:$port" "tls_ca_file /etc/relayq-ca.pem" \
    "auth_user user" "auth_password_file /etc/relayq.secret" \
    "domain example.org" "aliases /dev/null" "retry_min 1s" > $m/etc/relayq.conf
cp "$ca" $m/etc/relayq-ca.pem
echo secret > $m/etc/relayq.secret
inroot chown relayq:relayq /etc/relayq.secret
chmod 600 $m/etc/relayq.secret
chroot $m /usr/sbin/relayq drain -f 2>$out/daemon.err &
dpid=$!
# what Debian's cron runs, as an ordinary user
printf 'Subject: Cron <nobody@web1> date\n\nTue Nov 24 10:00:00 UTC 2026\n' |
    chroot --userspec=nobody:nogroup $m /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root
echo $? > $out/sendmail.rc
for i in $(seq 200); do [ -s $mail/1.env ] && break; sleep 0.05; done
kill $dpid; wait $dpid
inroot dpkg --purge relayq >$out/purge.log 2>&1; echo $? > $out/purge.rc
test -e $m/var/spool/relayq; echo $? > $out/spool_gone
inroot dpkg-query -W -f='${Status}' relayq > $out/status_after 2>/dev/null
exit 0
INNER
	grep -q . "$T/out/inner.log" && sed "s/^/# package root: /" "$T/out/inner.log"
	if [ -e "$T/out/skip" ]; then
		echo "# package life cycle skipped: no overlay mount here"
		stop_pid "$T/smtpd.pid"; return
	fi
	check "package life cycle: apt-get install of the .deb succeeds in the throwaway root" \
	    test "$(cat "$T/out/install.rc" 2>/dev/null)" = 0
	check "package life cycle: sendmail setgid relayq, spool owned by relayq with its modes" \
	    test "$(cat "$T/out/modes")" = "2755 root:relayq /usr/sbin/sendmail
755 relayq:relayq /var/spool/relayq
1730 relayq:relayq /var/spool/relayq/drop
700 relayq:relayq /var/spool/relayq/queue
700 relayq:relayq /var/spool/relayq/state
700 relayq:relayq /var/spool/relayq/failed
700 relayq:relayq /var/spool/relayq/hold
700 relayq:relayq /var/spool/relayq/corrupt"
	check "package life cycle: system user relayq, home the spool, no shell" \
	    test "$(cat "$T/out/user")" = "relayq:/var/spool/relayq:/usr/sbin/nologin"
	check "package life cycle: relayq.service enabled" \
	    grep -q 'relayq.service$' "$T/out/enabled"
	check "package life cycle: cron-style sendmail -FCronDaemon -i -B8BITMIME -oem root exits 0" \
	    test "$(cat "$T/out/sendmail.rc")" = 0
	check "package life cycle: the cron mail is delivered, root qualified" \
	    grep -qx 'rcpt=RCPT TO:<root@example.org>' "$T/mail/1.env"
	check "package life cycle: purge says it removes the spool" \
	    grep -q '^relayq: purge: removing the spool /var/spool/relayq' "$T/out/purge.log"
	check "package life cycle: purge succeeds and removes the spool" \
	    test "$(cat "$T/out/purge.rc")" = 0 -a "$(cat "$T/out/spool_gone")" = 1
	check "package life cycle: dpkg forgets it after purge" \
	    sh -c "! grep -q installed '$T/out/status_after'"
	check "package life cycle: the machine's own dpkg database never saw it" \
	    sh -c "! dpkg-query -W -f='\${Status}' relayq 2>/dev/null | grep -q installed"
	check "package life cycle: the machine's sendmail untouched" \
	    sh -c "! dpkg -S /usr/sbin/sendmail 2>/dev/null | grep -q relayq"
	stop_pid "$T/smtpd.pid"
}

test_package_lifecycle
