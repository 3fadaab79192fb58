# The stages of a submission (src/submission.c) as sendmail reports them:
# each failure names what failed, exits with its code, is logged, and
# leaves nothing in drop/.  Sourced by test/check.sh (test/lib.sh).

test_submission() {
	local out rc long
	new_env submission
	PORT=1 write_conf "aliases /dev/null" || { not_ok "submission: set-up" "see $T"; return; }
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	# a local name that cannot be qualified within 512 octets
	long=$(head -c 511 /dev/zero | tr '\0' a)
	out=$(printf 'Subject: x\n\n' | submit root "$long" 2>&1); rc=$?
	check "submission: recipient too long to qualify -> 65" test $rc -eq 65
	check "submission: recipient too long: named" grep -qxF "sendmail: bad recipient address \"$(head -c 100 <<<"$long")\"" <<<"$out"
	check "submission: recipient too long: logged" log_has 'sendmail\[[0-9]+\]: bad recipient address'
	check "submission: recipient too long: nothing queued" test -z "$(ls -A "$T/spool/drop")"

	# 49 Received fields and ours: a loop
	out=$( { for i in $(seq 49); do echo "Received: by hop$i"; done; printf 'Subject: x\n\nbody\n'; } | submit root 2>&1); rc=$?
	check "submission: 50 Received fields with ours -> 65" test $rc -eq 65
	check "submission: mail loop: says why" grep -qxF "sendmail: mail loop: with ours, 50 or more Received header fields" <<<"$out"
	check "submission: mail loop: nothing queued" test -z "$(ls -A "$T/spool/drop")"

	out=$(printf 'x\n' | submit -f 'a@@b <c' root 2>&1); rc=$?
	check "submission: bad -f -> 64" test $rc -eq 64
	check "submission: bad -f: says how to write it" grep -qF -- '-f: bad address "a@@b <c" (use -f address or -f "Name <address>")' <<<"$out"

	# and a good one: envelope records in their place, -v's listing
	out=$(printf 'Subject: x\n\nbody\n' | submit -v -N success -R hdrs -f '<alice@example.org>' root 2>&1); rc=$?
	check "submission: queued -> 0" test $rc -eq 0
	check "submission: -v lists the recipient and its original" grep -q '^sendmail: to=<root@.*>, orig_to=<root>$' <<<"$out"
	check "submission: the envelope as written" sh -c "sed -n '5,9p' '$T'/spool/drop/* | tr '\n' '|' | grep -qE '^S alice@example.org\|D HDRS\|R root@[^|]+\|O root\|N SUCCESS\|\$'"
}

test_submission
