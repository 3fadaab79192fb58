# Resolver files that change (src/sandbox.c, sandbox_ro and
# sandbox_links): a sandboxed daemon keeps delivering when /etc/hosts,
# /etc/nsswitch.conf, /etc/gai.conf and a resolv.conf that is a symbolic
# link out of /etc (as systemd-resolved makes it) are replaced by rename,
# as DHCP clients and configuration management do.  Before, the Landlock
# rules held the old inodes and every delivery deferred with "cannot
# resolve" until restart.  The same rules cut off /etc/passwd and
# /etc/group, so a member of the daemon's group by a supplementary group
# was not recognised as an admin on the control socket.
#
# The daemon runs in namespaces of its own (unshare: mount and network,
# so needs root): its /etc is a bind mount of a copy ($T/etc) that the
# test changes by real renames, its loopback has the test smarthost on
# port 2525 and test/dnsd.py on 127.0.0.53 port 53 (not 127.0.0.1,
# where glibc looks when it cannot read resolv.conf), and the smarthost's name
# (mx.relayq.test, matching the test CA's wildcard certificate) comes
# from /etc/hosts first, then from DNS.  Real Landlock, real rename.
# Sourced by test/check.sh.

# res_replace FILE CONTENT: FILE replaced by a new one, by rename
res_replace() {
	printf '%s\n' "$2" > "$1.new" && chmod 644 "$1.new" && mv -f "$1.new" "$1"
}

# res_deliver N WHAT: message N goes through the namespaced daemon
res_deliver() {
	printf 'Subject: resolver %s\n\nbody\n' "$1" | submit user@example.net
	check "resolver: delivered after $2" wait_for 20 \
	    grep -qx "Subject: resolver $1"$'\r' "$T/mail/$1.msg"
}

test_resolver() {
	local pid hosts
	if [ "$(id -u)" != 0 ] || sandbox_sanitizer_build; then
		ok "resolver files replaced by rename: needs root and the sandbox (skipped)"
		return
	fi
	new_env resolver
	write_conf "idle_timeout 0"	# a new connection, so a new look-up, per message
	sed -i 's/^smarthost .*/smarthost mx.relayq.test:2525/' "$T/conf"
	cp -a /etc "$T/etc" && mkdir -p "$T/resolve" || { not_ok "resolver: set-up" "copy of /etc"; return; }
	hosts='127.0.0.1 localhost'
	res_replace "$T/etc/hosts" "$hosts
127.0.0.1 mx.relayq.test"
	res_replace "$T/etc/nsswitch.conf" 'passwd: files
group: files
hosts: files dns'
	res_replace "$T/etc/gai.conf" '# empty'
	# resolv.conf a link out of /etc; no name server there at first
	res_replace "$T/resolve/resolv.conf" 'nameserver 127.0.0.2
options timeout:1 attempts:1'
	rm -f "$T/etc/resolv.conf" && ln -s "$T/resolve/resolv.conf" "$T/etc/resolv.conf"
	# a user known only to the daemon's /etc, in the daemon's group as a
	# supplementary group: an admin of the control socket (drain_ctl.c
	# reads /etc/passwd and /etc/group under the sandbox for that)
	echo "rqadmin:x:54330:54330::/nonexistent:/usr/sbin/nologin" >> "$T/etc/passwd"
	echo "rqadmin:x:54330:" >> "$T/etc/group"
	sed -i "s/^\([^:]*:[^:]*:$RUNGID:.*[^:]\)\$/\1,rqadmin/; s/^\([^:]*:[^:]*:$RUNGID:\)\$/\1rqadmin/" "$T/etc/group"
	mkqueue 1 later later || { not_ok "resolver: set-up" "queue"; return; }
	cat > "$T/ns.sh" <<NS
ip link set lo up || exit 1
mount --bind "$T/etc" /etc || exit 1
/usr/bin/python3 "$TOP/test/dnsd.py" 127.0.0.53 53 "$T/dnsd.pid" mx.relayq.test=127.0.0.1 2>>"$T/dnsd.err" &
"$TOP/test/smtpd" --port 2525 --portfile "$T/port" --pidfile "$T/smtpd.pid" \
    --cert "$CERTS/wildcard.pem" --key "$CERTS/wildcard.key" --maildir "$T/mail" \
    --transcript "$T/transcript" --auth user:secret 2>>"$T/smtpd.err" &
while [ ! -s "$T/port" ] || [ ! -s "$T/dnsd.pid" ]; do sleep 0.05; done
exec ${AS_USER[*]} "$TOP/relayq" -C "$T/conf" drain -f
NS
	unshare -m -n --propagation private bash "$T/ns.sh" 2>>"$T/daemon.err" &
	pid=$!
	echo $pid > "$T/daemon.pid"
	if ! wait_for 15 log_has 'started:'; then
		if grep -q 'unshare' "$T/daemon.err"; then
			ok "resolver files replaced by rename: no namespaces here (skipped)"
		else
			not_ok "resolver: daemon" "$(cat "$T/daemon.err")"
		fi
		return
	fi
	check "resolver: the daemon is sandboxed" wait_for 5 log_has 'sandbox: Landlock ABI [0-9]+, seccomp allow-list$'
	res_deliver 1 "start-up (name from /etc/hosts)"
	res_replace "$T/etc/hosts" "$hosts
127.0.0.1 mx.relayq.test
# replaced"
	res_deliver 2 "/etc/hosts was replaced by rename"
	res_replace "$T/etc/nsswitch.conf" 'passwd: files
group: files
hosts: files dns
# replaced'
	res_deliver 3 "/etc/nsswitch.conf was replaced by rename"
	res_replace "$T/etc/gai.conf" '# replaced'
	res_deliver 4 "/etc/gai.conf was replaced by rename"
	# the name now only in DNS, and resolv.conf's target replaced by
	# rename in its directory (as systemd-resolved does in /run)
	res_replace "$T/resolve/resolv.conf" 'nameserver 127.0.0.53
options timeout:1 attempts:1'
	res_replace "$T/etc/hosts" "$hosts"
	res_deliver 5 "resolv.conf's target out of /etc was replaced by rename (name from DNS)"
	check "resolver: a member of the daemon's group by /etc/group sees every message" \
	    sh -c "setpriv --reuid=54330 --regid=54330 --clear-groups -- '$TOP/relayq' -C '$T/conf' queue | grep -q '^1LH0000000000000'"
	check "resolver: no resolution failure logged" sh -c "! grep -q 'cannot resolve' '$T/log'"
	check "resolver: one connection per message (each looked the name up)" \
	    test "$(grep -c '^-- connection opened' "$T/transcript")" -eq 5
	check "resolver: daemon alive" kill -0 "$pid"
	stop_daemon
	stop_pid "$T/smtpd.pid"
	stop_pid "$T/dnsd.pid"
}

test_resolver
