# Every caller sendmail(8) names, one row each: its exact argv and a
# realistic message produce exactly this queued envelope and header.
# No daemon runs: the committed file stays in the drop directory and is
# read from there.  Sourced by test/check.sh, which provides test/lib.sh.
#
# In the expectations: USER is the submitting user (nobody when the
# suite runs as root), HOST the short hostname, DATE and MSGID stand for
# a generated Date and Message-ID (checked against their format), the
# Received line is checked apart (add_received is on).

compat_user=$(getent passwd "$RUNUID" | cut -d: -f1)
compat_gecos=$(getent passwd "$RUNUID" | cut -d: -f5 | cut -d, -f1)
# in a generated From: as it is when it is words of atext, else quoted
compat_atext="[A-Za-z0-9!#\$%&'*+/=?^_\`{|}~-]"
[ -z "$compat_gecos" ] ||
    [[ $compat_gecos =~ ^$compat_atext+( $compat_atext+)*$ ]] ||
    compat_gecos="\"$compat_gecos\""
compat_host=$(hostname | cut -d. -f1)

# compat_queued: the one file in drop/, normalised for comparison
compat_queued() {
	local f
	f=$(ls "$T/spool/drop")
	[ "$(echo "$f" | wc -w)" = 1 ] || { echo "expected one queued file, got: $f"; return 1; }
	# a generated Date has this year; the callers' dates are from 2024
	awk -v id="$f" -v year="$(date +%Y)" '
	BEGIN { state = "env" }
	state == "env" && /^[IT] / { next }
	state == "env" && /^M$/ { print "--"; state = "hdr"; next }
	state == "env" { print; next }
	state == "hdr" {
		sub(/\r$/, "")
		if ($0 == "") { print "--"; state = "body"; next }
		if ($0 ~ /^Received: by [^ ]+ \(relayq, from userid [0-9]+\)$/) { rcv = 1; next }
		if (rcv && $0 ~ "^\tid " id "; ") { rcv = 0; print "RECEIVED"; next }
		if ($0 ~ /^Date: [A-Z][a-z][a-z], [0-9]+ [A-Z][a-z][a-z] [0-9][0-9][0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [+-][0-9][0-9][0-9][0-9]$/ && index($0, " " year " ") > 0) $0 = "Date: DATE"
		if ($0 ~ "^Message-ID: <[0-9]+\\." id "@example\\.org>$") $0 = "Message-ID: MSGID"
		print; next
	}
	state == "body" {
		sub(/\r$/, "")
		if (/^E [0-9]+ (7BIT|8BITMIME)$/) { print "--"; $2 = "N" }
		print
	}
	' "$T/spool/drop/$f"
}

# compat_case NAME INPUT(printf %b) EXPECTED -- ARGV...
compat_case() {
	local name=$1 input=$2 want=$3 rc got
	shift 4
	rm -f "$T/spool/drop"/*
	printf '%b' "$input" | as_user env -u NAME RELAYQ_CONFIG="$T/conf" "$TOP/sendmail" "$@" 2>"$T/err"; rc=$?
	check "compat: $name: exit 0" test $rc -eq 0
	want=$(printf '%b' "$want")
	want=${want//USER/$compat_user}
	# an empty full name gives no empty quoted phrase, as in Postfix:
	# From: user@domain, not From: "" <user@domain>
	[ -n "$compat_gecos" ] || want=$(sed -E 's/^From: GECOS <(.*)>$/From: \1/' <<<"$want")
	want=${want//GECOS/$compat_gecos}
	want=${want//HOST/$compat_host}
	got=$(compat_queued)
	if [ "$got" = "$want" ]; then
		ok "compat: $name: queued envelope and header"
	else
		not_ok "compat: $name: queued envelope and header" "$(diff <(echo "$want") <(echo "$got") | tr '\n' '|')"
	fi
}

test_compat() {
	new_env compat
	# the host's /etc/aliases must not change the expected envelopes
	PORT=1 write_conf "aliases /dev/null"
	mkdir -p "$T/spool/drop" && chown $RUNUID:$RUNGID "$T/spool/drop"

	compat_case "Debian cron (-FCronDaemon -i -B8BITMIME -oem root)" \
	    "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@$compat_host> run-parts /etc/cron.hourly\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\nX-Cron-Env: <SHELL=/bin/sh>\n\nr\xc3\xa9sultat\n.\ndone\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
B 8BITMIME
R root@example.org
O root
--
RECEIVED
From: root@example.org (Cron Daemon)
To: root@example.org
Subject: Cron <root@HOST> run-parts /etc/cron.hourly
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit
X-Cron-Env: <SHELL=/bin/sh>
Date: DATE
Message-ID: MSGID
--
r\xc3\xa9sultat
..
done
--
E N 8BITMIME" \
	    -- -FCronDaemon -i -B8BITMIME -oem root

	compat_case "anacron (-FAnacron -odi root)" \
	    "Subject: Anacron job 'cron.daily' on $compat_host\n\nrun-parts: ok\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root
--
RECEIVED
Subject: Anacron job 'cron.daily' on HOST
Date: DATE
Message-ID: MSGID
From: Anacron <USER@example.org>
--
run-parts: ok
--
E N 7BIT" \
	    -- -FAnacron -odi root

	compat_case "at (-i user)" \
	    "Subject: Output from your job        3\nTo: $compat_user\n\nhello\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R USER@example.org
O USER
--
RECEIVED
Subject: Output from your job        3
To: USER@example.org
Date: DATE
Message-ID: MSGID
From: GECOS <USER@example.org>
--
hello
--
E N 7BIT" \
	    -- -i "$compat_user"

	compat_case "bsd-mailx (-i -t -f a): Bcc recipients kept, field removed" \
	    'To: bob@example.com\nBcc: secret@example.com\nSubject: hi\n\nbody\n' \
	    "RELAYQ 1
U $RUNUID USER
S ann@example.com
R bob@example.com
R secret@example.com
--
RECEIVED
To: bob@example.com
Subject: hi
Date: DATE
Message-ID: MSGID
From: GECOS <ann@example.com>
--
body
--
E N 7BIT" \
	    -- -i -t -f ann@example.com

	compat_case "mailutils (-oi -f user@shorthost -t)" \
	    "From: root@$compat_host\nTo: root@$compat_host, ops@example.com\nSubject: mailutils\n\nbody\n" \
	    "RELAYQ 1
U $RUNUID USER
S root@example.org
L root
R root@example.org
O root@HOST
R ops@example.com
--
RECEIVED
From: root@example.org
To: root@example.org, ops@example.com
Subject: mailutils
Date: DATE
Message-ID: MSGID
--
body
--
E N 7BIT" \
	    -- -oi -f "root@$compat_host" -t

	compat_case "s-nail (-i -F n -f a -- rcpts)" \
	    'Subject: s-nail\nTo: bob@example.com\n\nbody\n' \
	    "RELAYQ 1
U $RUNUID USER
S ann@example.com
R bob@example.com
R carol@example.com
--
RECEIVED
Subject: s-nail
To: bob@example.com
Date: DATE
Message-ID: MSGID
From: Ann Example <ann@example.com>
--
body
--
E N 7BIT" \
	    -- -i -F "Ann Example" -f ann@example.com -- bob@example.com carol@example.com

	compat_case "mutt (-oem -oi -B8BITMIME -f a -N .. -R .. -- rcpts)" \
	    'Date: Mon, 1 Jan 2024 10:00:00 +0100\nFrom: Ann <ann@example.com>\nTo: bob@example.com\nBcc: me@example.com\nSubject: mutt\nMessage-ID: <20240101@ann.example.com>\n\nbody\n' \
	    "RELAYQ 1
U $RUNUID USER
S ann@example.com
B 8BITMIME
D HDRS
R bob@example.com
N FAILURE,DELAY
R me@example.com
N FAILURE,DELAY
--
RECEIVED
Date: Mon, 1 Jan 2024 10:00:00 +0100
From: Ann <ann@example.com>
To: bob@example.com
Subject: mutt
Message-ID: <20240101@ann.example.com>
--
body
--
E N 8BITMIME" \
	    -- -oem -oi -B8BITMIME -f ann@example.com -N failure,delay -R hdrs -- bob@example.com me@example.com

	compat_case "git send-email (-i rcpts)" \
	    'From: Ann <ann@example.com>\nTo: list@example.com\nCc: bob@example.com\nSubject: [PATCH] fix\nDate: Mon,  1 Jan 2024 10:00:00 +0000\nMessage-ID: <1-ann@example.com>\nX-Mailer: git-send-email 2.39.2\nMIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n---\n.\n.dotfile | 1 +\n' \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R list@example.com
R bob@example.com
--
RECEIVED
From: Ann <ann@example.com>
To: list@example.com
Cc: bob@example.com
Subject: [PATCH] fix
Date: Mon,  1 Jan 2024 10:00:00 +0000
Message-ID: <1-ann@example.com>
X-Mailer: git-send-email 2.39.2
MIME-Version: 1.0
Content-Transfer-Encoding: 8bit
--
---
..
..dotfile | 1 +
--
E N 7BIT" \
	    -- -i list@example.com bob@example.com

	compat_case "PHP mail() (-t -i -fbounce@x), mixed CRLF/LF" \
	    'To: bob@example.com\r\nSubject: order\r\nX-PHP-Originating-Script: 33:shop.php\nFrom: shop@example.com\r\n\r\nline 1\r\nline 2\n' \
	    "RELAYQ 1
U $RUNUID USER
S bounce@example.com
R bob@example.com
--
RECEIVED
To: bob@example.com
Subject: order
X-PHP-Originating-Script: 33:shop.php
From: shop@example.com
Date: DATE
Message-ID: MSGID
--
line 1
line 2
--
E N 7BIT" \
	    -- -t -i -fbounce@example.com

	compat_case "PHPMailer (-oi -fX -t)" \
	    'Date: Mon, 1 Jan 2024 10:00:00 +0000\nTo: bob@example.com\nFrom: Shop <shop@example.com>\nSubject: PHPMailer\nMessage-ID: <x@shop.example.com>\nMIME-Version: 1.0\n\nbody\n' \
	    "RELAYQ 1
U $RUNUID USER
S shop@example.com
R bob@example.com
--
RECEIVED
Date: Mon, 1 Jan 2024 10:00:00 +0000
To: bob@example.com
From: Shop <shop@example.com>
Subject: PHPMailer
Message-ID: <x@shop.example.com>
MIME-Version: 1.0
--
body
--
E N 7BIT" \
	    -- -oi -fshop@example.com -t

	compat_case "Rails (-i -t -f from -- rcpt): -t merged with argv" \
	    'From: app@example.com\nTo: bob@example.com\nCc: Ops <ops@example.com>\nSubject: rails\n\nbody\n' \
	    "RELAYQ 1
U $RUNUID USER
S app@example.com
R audit@example.com
R bob@example.com
R ops@example.com
--
RECEIVED
From: app@example.com
To: bob@example.com
Cc: Ops <ops@example.com>
Subject: rails
Date: DATE
Message-ID: MSGID
--
body
--
E N 7BIT" \
	    -- -i -t -f app@example.com -- audit@example.com bob@example.com

	compat_case "logwatch (-t, no -i): From: Logwatch qualified, lone dot ends" \
	    "From: Logwatch\nTo: root\nSubject: Logwatch for $compat_host (Linux)\nContent-Type: text/plain; charset=\"iso-8859-1\"\n\n ### Logwatch ###\n.\nnot part of the message\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root
--
RECEIVED
From: Logwatch@example.org
To: root@example.org
Subject: Logwatch for HOST (Linux)
Content-Type: text/plain; charset=\"iso-8859-1\"
Date: DATE
Message-ID: MSGID
--
 ### Logwatch ###
--
E N 7BIT" \
	    -- -t

	compat_case "mdadm (-t)" \
	    "From: mdadm monitoring <root>\nTo: root\nSubject: Fail event on /dev/md0:$compat_host\n\nThis is an automatically generated mail message from mdadm\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root
--
RECEIVED
From: mdadm monitoring <root@example.org>
To: root@example.org
Subject: Fail event on /dev/md0:HOST
Date: DATE
Message-ID: MSGID
--
This is an automatically generated mail message from mdadm
--
E N 7BIT" \
	    -- -t

	compat_case "debsecan (-t)" \
	    "To: root@localhost\nSubject: Debian security status of $compat_host\nContent-Type: text/plain; charset=utf-8\n\nSecurity report based on the bookworm release\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root@localhost
--
RECEIVED
To: root@example.org
Subject: Debian security status of HOST
Content-Type: text/plain; charset=utf-8
Date: DATE
Message-ID: MSGID
From: GECOS <USER@example.org>
--
Security report based on the bookworm release
--
E N 7BIT" \
	    -- -t

	compat_case "sudo (-t): identity from the uid, not \$LOGNAME" \
	    "To: root\nFrom: root\nAuto-Submitted: auto-generated\nSubject: *** SECURITY information for $compat_host ***\n\n$compat_host : user NOT in sudoers\n" \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root
--
RECEIVED
To: root@example.org
From: root@example.org
Auto-Submitted: auto-generated
Subject: *** SECURITY information for HOST ***
Date: DATE
Message-ID: MSGID
--
HOST : user NOT in sudoers
--
E N 7BIT" \
	    -- -t

	compat_case "unattended-upgrades (-oi -t)" \
	    'Subject: [reboot required] unattended-upgrades result\nTo: root@localhost\nFrom: root\nAuto-Submitted: auto-generated\nContent-Type: text/plain; charset="utf-8"\n\nUnattended upgrade result: All upgrades installed\n' \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root@localhost
--
RECEIVED
Subject: [reboot required] unattended-upgrades result
To: root@example.org
From: root@example.org
Auto-Submitted: auto-generated
Content-Type: text/plain; charset=\"utf-8\"
Date: DATE
Message-ID: MSGID
--
Unattended upgrade result: All upgrades installed
--
E N 7BIT" \
	    -- -oi -t

	compat_case "fail2ban (-f fail2ban root)" \
	    "Subject: [Fail2Ban] sshd: started on $compat_host\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nFrom: Fail2Ban <fail2ban>\nTo: root\n\nHi,\n" \
	    "RELAYQ 1
U $RUNUID USER
S fail2ban@example.org
L fail2ban
R root@example.org
O root
--
RECEIVED
Subject: [Fail2Ban] sshd: started on HOST
Date: Mon, 1 Jan 2024 10:00:00 +0000
From: Fail2Ban <fail2ban@example.org>
To: root@example.org
Message-ID: MSGID
--
Hi,
--
E N 7BIT" \
	    -- -f fail2ban root

	compat_case "busybox crond (-ti)" \
	    'To: root\nSubject: cron: /etc/periodic/15min\n\noutput\n' \
	    "RELAYQ 1
U $RUNUID USER
S USER@example.org
L USER
R root@example.org
O root
--
RECEIVED
To: root@example.org
Subject: cron: /etc/periodic/15min
Date: DATE
Message-ID: MSGID
From: GECOS <USER@example.org>
--
output
--
E N 7BIT" \
	    -- -ti
}

test_compat
