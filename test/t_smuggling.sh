# SMTP smuggling property test (the 2023 bare-LF class): random bodies,
# built from the pieces that smuggling attacks use (bare LF, bare CR, lone
# dots, <LF>.<LF>, <CR>.<CR>, NUL, embedded SMTP commands), go through
# sendmail and the daemon to the test smarthost.  For every body:
#  - the queued data is in wire form: CRLF line ends only, no bare CR or
#    LF, no <CRLF>.<CRLF> (nor a leading ".<CRLF>") anywhere in it;
#  - what the smarthost receives (smtpd --wire) is, message by message,
#    exactly the queued data followed by the one terminating ".<CRLF>".
# The seed is printed; RELAYQ_SMUGGLE_SEED=N repeats a run.
#
# Checked against a deliberately broken build: with the dot doubling in
# msg_out_seg (src/msg.c) disabled, "queued data in wire form" fails on
# the first body with a line that is a lone dot (and the daemon refuses
# the file on import, so nothing is delivered).  Sourced by test/check.sh.

SMUGGLE_N=30

# smuggle_check_queued OUTDIR FILE...: each queue file's data is wire
# form; a copy of it goes to OUTDIR/NAME.data
smuggle_check_queued() {
	perl -e '
		my $bad = 0;
		my $out = shift;
		for my $f (@ARGV) {
			open(my $fh, "<:raw", $f) or die "$f: $!";
			local $/; my $s = <$fh>;
			$s =~ /\nM\n/g or die "$f: no M record";
			my $off = pos($s);
			$s =~ /\nE (\d+) (7BIT|8BITMIME)\n\z/ or die "$f: no trailer";
			my $d = substr($s, $off, $1);
			my $why = $d =~ /(?<!\r)\n/ ? "bare LF" :
			    $d =~ /\r(?!\n)/ ? "bare CR" :
			    $d =~ /\r\n\.\r\n/ || $d =~ /^\.\r\n/ ? "CRLF.CRLF" :
			    $d =~ /\0/ ? "NUL" : $d !~ /\r\n\z/ ? "no final CRLF" : "";
			if ($why ne "") { print "# $f: $why\n"; $bad = 1; }
			(my $b = $f) =~ s,.*/,,;
			open(my $o, ">:raw", "$out/$b.data") or die; print $o $d; close($o);
		}
		exit $bad;' "$@"
}

# smuggle_check_wire WIRE DATAFILE...: the wire is the data, each message
# ending at its one terminator, nothing else
smuggle_check_wire() {
	perl -e '
		my $w = shift;
		open(my $fh, "<:raw", $w) or die "$w: $!";
		local $/; my $s = <$fh>; close($fh);
		my @got;
		while ($s =~ /\G((?:[^\n]*\n)*?)\.\r\n/gc) { push @got, $1; }
		my $rest = substr($s, pos($s) // 0);
		my @want = map { open(my $f, "<:raw", $_) or die; local $/; my $x = <$f>; $x } @ARGV;
		@got = sort @got; @want = sort @want;
		if ($rest ne "") { print "# bytes after the last terminator\n"; exit 1; }
		if (@got != @want) { printf "# %d messages on the wire, %d queued\n", scalar @got, scalar @want; exit 1; }
		for my $i (0 .. $#got) {
			if ($got[$i] ne $want[$i]) { print "# message data differs from the queued data\n"; exit 1; }
		}
		exit 0;' "$@"
}

smuggle_queue_done() { [ "$(ls "$T/mail" | grep -c '\.msg$')" -eq "$SMUGGLE_N" ] && [ "$(queue_count)" -eq 0 ]; }

test_smuggling() {
	local seed=${RELAYQ_SMUGGLE_SEED:-$(date +%s)} i opt rc=0
	new_env smuggling
	mkdir "$T/data"
	# the daemon makes the spool, then stops: the queue files are
	# checked before it imports them
	start_smtpd --wire "$T/wire" && write_conf "add_received no" &&
	    start_daemon && stop_daemon ||
	    { not_ok "smuggling: set-up" "see $T"; return; }
	echo "# smuggling: seed $seed"
	perl -e '
		my ($dir, $n, $seed) = @ARGV;
		srand($seed);
		my @p = ("\n", "\r", "\r\n", ".", "..", ".\n", ".\r\n", "\n.\n",
		    "\r.\r", "\r\n.\r\n", "\n.\r\n", "\r\n.\n", "\r.\n", "\0",
		    "x", "word ", "\t", "\x80", " .", "QUIT\r\n",
		    "MAIL FROM:<evil\@example.com>\r\n",
		    "RCPT TO:<victim\@example.net>\r\n", "DATA\r\n",
		    "x" x 1000);
		for my $i (1 .. $n) {
			open(my $f, ">:raw", "$dir/body.$i") or die;
			print $f "Subject: smuggle $i\n\n";
			print $f $p[int(rand(@p))] for 1 .. 1 + int(rand(200));
			close($f);
		}' "$T" "$SMUGGLE_N" "$seed"
	for i in $(seq 1 $SMUGGLE_N); do
		# odd bodies with -i: a lone dot is data, not the end
		opt=; [ $((i % 2)) -eq 1 ] && opt=-i
		submit $opt user@example.net < "$T/body.$i" || rc=1
	done
	check "smuggling: $SMUGGLE_N random bodies queued" test $rc -eq 0
	check "smuggling: queued data in wire form (no bare CR/LF, no CRLF.CRLF)" \
	    smuggle_check_queued "$T/data" "$T"/spool/drop/*
	start_daemon || { not_ok "smuggling: daemon" "see $T"; return; }
	check "smuggling: all delivered" wait_for 60 smuggle_queue_done
	check "smuggling: on the wire, each message is its queued data and one terminator" \
	    smuggle_check_wire "$T/wire" "$T"/data/*.data
	stop_daemon
}

test_smuggling
