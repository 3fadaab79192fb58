# The package's first-hour parts, from the .deb t_package.sh built: the
# documentation, the next steps printed at installation, the warning
# before a purge can delete queued mail.  Sourced by test/check.sh.

test_package_docs() {
	local deb ctl
	deb=$(ls "$TOP"/build/deb/relayq_*_*.deb 2>/dev/null | head -1)
	[ "$(id -u)" = 0 ] && [ -s "$deb" ] || return
	ctl=$WORK/debctl-docs
	rm -rf "$ctl"
	dpkg-deb -e "$deb" "$ctl"
	dpkg-deb -c "$deb" | awk '{ print $6 }' > "$ctl.files"
	check "package: README in /usr/share/doc/relayq" \
	    grep -qE '^\./usr/share/doc/relayq/README\.md(\.gz)?$' "$ctl.files"
	check "package: QUICKSTART in /usr/share/doc/relayq" \
	    grep -qE '^\./usr/share/doc/relayq/QUICKSTART\.md(\.gz)?$' "$ctl.files"
	check "package: postinst prints the next steps on a first installation" \
	    grep -q '^relayq is installed; the daemon is not started yet.  Next:$' "$ctl/postinst"
	check "package: prerm warns that a purge deletes queued mail" \
	    grep -q 'queued message file(s) stay in' "$ctl/prerm"
	check "package: prerm parses (sh -n)" sh -n "$ctl/prerm"
	check "package: the unit does not restart on a configuration error" \
	    sh -c "dpkg-deb --fsys-tarfile '$deb' | tar -xOf - --wildcards '*lib/systemd/system/relayq.service' | grep -qx 'RestartPreventExitStatus=78'"
}

test_package_docs
