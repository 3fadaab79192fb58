# interop_readme.sh - the README, followed as a newcomer would, against the
# private Postfix of interop.sh standing in for the provider.  Sourced by
# test/interop.sh after its own scenarios (it uses P1, SASL_USER, REALM,
# SASL_PW, D, SINK and the check helpers from there).
#
# The commands are read out of README.md itself, so the test follows the
# text and fails when the text stops working:
#   "## Install"   the apt-get line, then its block: make, make install;
#   "## Configure" block 1, /etc/relayq.conf; block 2, the secret file
#                  (the password typed on standard input); block 3, the
#                  unit copied in, the daemon started, the test message
#                  sent, and the log line the README says to look for.
# They run as root in a throwaway root: an overlay of / in a private mount
# namespace, so make install, the relayq user and /usr/sbin/sendmail land
# in the overlay only.  Three things differ from a real machine, and only
# these: the smarthost and user are the private Postfix's (localhost:P1,
# its SASL user), its private CA is named with tls_ca_file (the README's
# troubleshooting table says so for a private CA), and systemd is not PID
# 1 in a chroot, so the unit's own ExecStart runs as its User and its
# stderr stands in for the journal.

readme_test() {
	local R=$D/readme out=$D/readme/out conf_block secret_block start_block
	local install_block apt want rx

	if [ "$ROOT" -ne 1 ]; then
		echo "# README walk-through skipped: needs root for the overlay root"
		return
	fi
	mkdir -p "$R/up" "$R/work" "$R/m" "$out"
	# readme_block SECTION N: the Nth indented block of a section
	readme_block() {
		awk -v sec="## $1" -v n="$2" '
			/^## / { in_sec = ($0 == sec); next }
			!in_sec { next }
			/^    / { if (!inb) { k++; inb = 1 } if (k == n) print substr($0, 5); next }
			/^$/ { next }
			{ inb = 0 }' "$TOP/README.md"
	}
	install_block=$(readme_block Install 1)
	conf_block=$(readme_block Configure 1)
	secret_block=$(readme_block Configure 2)
	start_block=$(readme_block Configure 3)
	apt=$(awk '/^## Install/ { s = 1 } s' "$TOP/README.md" | tr '\n' ' ' |
	    sed -n 's/.*`\(apt-get install [^`]*\)`.*/\1/p')
	check "README: the sections this test follows are there" \
	    "apt '$apt', install '$install_block', conf '$conf_block'" \
	    test -n "$apt" -a -n "$install_block" -a -n "$conf_block" -a \
	    -n "$secret_block" -a -n "$start_block"
	want=$(printf '%s\n' "$start_block" | sed -n 's/^journalctl.*# want: //p')
	check "README: it says which log line to look for" "none after '# want:'" \
	    test -n "$want"

	# the block's example provider becomes the private Postfix
	printf '%s\n' "$conf_block" |
	    sed -e "s/^smarthost .*/smarthost localhost:$P1/" \
	    -e "s/^auth_user .*/auth_user $SASL_USER@$REALM/" > "$out/relayq.conf"
	echo "tls_ca_file /etc/relayq-provider-ca.pem" >> "$out/relayq.conf"
	cp "$D/tls/ca.pem" "$out/ca.pem"
	printf '%s\n' "$install_block" | sed 's/[[:space:]]*#.*//' > "$out/install.sh"
	printf '%s\n' "$secret_block" | sed 's/[[:space:]]*#.*//' > "$out/secret.sh"
	printf '%s\n' "$start_block" | grep '^printf .*| sendmail ' > "$out/send.sh"
	printf '%s\n' "$start_block" | sed -n 's/^\(cp contrib\/relayq.service [^&]*\)&&.*/\1/p' > "$out/unit.sh"

	timeout 300 unshare -m bash -s "$R" "$TOP" "$out" "$apt" "$SASL_PW" \
	    >"$out/inner.log" 2>&1 <<'INNER'
R=$1 top=$2 out=$3 apt=$4 pw=$5 m=$1/m
set -u
mount --make-rprivate / &&
mount -t overlay overlay -o lowerdir=/,upperdir=$R/up,workdir=$R/work $m &&
mount -t proc proc $m/proc && mount --bind /dev $m/dev || { echo overlay > $out/skip; exit 0; }
inroot() { chroot $m "$@"; }
# no service may start or stop for real from inside
printf '#!/bin/sh\nexit 101\n' > $m/usr/sbin/policy-rc.d
chmod 755 $m/usr/sbin/policy-rc.d
# the newcomer's clone, unbuilt, and the steps, inside the root
mkdir -p $m/root/relayq $m/tmp/readme
cp -a $top/. $m/root/relayq && make -s -C $m/root/relayq clean
cp $out/*.sh $m/tmp/readme/
# Install: the build dependencies (present: apt-get only checks), then
# the README's block, from the top of the clone
inroot sh -c "DEBIAN_FRONTEND=noninteractive $apt" >$out/apt.log 2>&1; echo $? > $out/apt.rc
# FORCE=1, as the README says for a machine where an MTA package owns
# /usr/sbin/sendmail: here that is the stand-in provider's Postfix, which
# a relayq host does not have (its provider is another machine)
inroot sh -c "cd /root/relayq && FORCE=1 sh -e /tmp/readme/install.sh" >$out/install.log 2>&1; echo $? > $out/install.rc
# Configure: the file, the CA, the secret typed on stdin
cp $out/relayq.conf $m/etc/relayq.conf
cp $out/ca.pem $m/etc/relayq-provider-ca.pem
printf '%s\n' "$pw" | inroot sh -e /tmp/readme/secret.sh >$out/secret.log 2>&1; echo $? > $out/secret.rc
inroot stat -c '%a %U:%G' /etc/relayq.secret > $out/secret.mode
# the unit goes where the README puts it; its ExecStart runs as its User
inroot sh -c "cd /root/relayq && sh -e /tmp/readme/unit.sh" >$out/unit.log 2>&1; echo $? > $out/unit.rc
unit=$m/etc/systemd/system/relayq.service
exe=$(sed -n 's/^ExecStart=//p' $unit) user=$(sed -n 's/^User=//p' $unit)
group=$(sed -n 's/^Group=//p' $unit)
echo "$exe as $user:$group" > $out/exec
chroot --userspec=$user:$group $m sh -c "umask 077; exec $exe" 2>$out/journal &
dpid=$!
for i in $(seq 100); do grep -q 'started:' $out/journal && break; sleep 0.1; done
# the test message, from the root shell the README has been typed into
inroot env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin sh /tmp/readme/send.sh >$out/send.log 2>&1; echo $? > $out/send.rc
for i in $(seq 300); do grep -q 'status=' $out/journal && break; sleep 0.1; done
kill $dpid; wait $dpid
exit 0
INNER
	if [ -e "$out/skip" ]; then
		echo "# README walk-through skipped: no overlay mount here"
		return
	fi
	rcof() { cat "$out/$1.rc" 2>/dev/null || echo missing; }
	check "README: the apt-get line of Install runs" "rc $(rcof apt): $(tail -n 3 "$out/apt.log" | tr '\n' ' ')" \
	    test "$(rcof apt)" = 0
	check "README: make && make install as root" "rc $(rcof install): $(tail -n 5 "$out/install.log" | tr '\n' ' ')" \
	    test "$(rcof install)" = 0
	check "README: the secret commands give a 0600 file owned by relayq" "rc $(rcof secret), $(cat "$out/secret.mode" 2>/dev/null)" \
	    test "$(rcof secret)" = 0 -a "$(cat "$out/secret.mode" 2>/dev/null)" = "600 relayq:relayq"
	check "README: the unit is copied into place" "rc $(rcof unit): $(cat "$out/unit.log")" \
	    test "$(rcof unit)" = 0
	check "README: the daemon starts as the unit says ($(cat "$out/exec" 2>/dev/null))" \
	    "$(head -n 5 "$out/journal" 2>/dev/null | tr '\n' ' ')" grep -q 'started:' "$out/journal"
	check "README: the test message is accepted (sendmail exits 0)" "rc $(rcof send): $(cat "$out/send.log")" \
	    test "$(rcof send)" = 0
	# "to=<you@example.com>, ... status=sent (250 ...)": ... is anything
	rx=$(printf '%s' "$want" | sed -e 's/[][\.*^$()+?{}|/]/\\&/g' -e 's/\\\.\\\.\\\./.*/g')
	check "README: the log line it promises: $want" \
	    "journal: $(grep 'status=' "$out/journal" | head -n 3 | tr '\n' ' ')" \
	    grep -qE -- "$rx" "$out/journal"
	check "README: the message reached the provider's mailbox (the sink)" \
	    "no sink file with 'It works.'" have_sink_file "It works."
}

readme_test
