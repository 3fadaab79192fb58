/*
 * Unit tests for src/smargs.c, sendmail(8)'s command line: Postfix's
 * clustering and value rules, each refusal with its exact message, usage
 * flag and exit code (sendmail.c prints them), and the PHP mail()
 * injection of CVE-2016-10033 parsed as ignored options.
 * Linked into test/unit; its table of groups runs test_smargs().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <bsd/string.h>

#include "relayq.h"
#include "smargs.h"
#include "unit.h"

/* argv from a string: elements separated by '|' (none may be empty) */
static int
argv_of(char *s, char **v, int max)
{
	int	 n = 0;
	char	*p;

	while (n < max - 1 && (p = strsep(&s, "|")) != NULL)
		v[n++] = p;
	v[n] = NULL;
	return n;
}

/* a command line that must be refused with exactly this */
static void
refused(const char *name, const char *line, int code, int usage,
    const char *msg)
{
	struct smargs		 o;
	struct smargs_err	 e;
	char			 buf[512], *v[32];
	int			 argc;

	(void)strlcpy(buf, line, sizeof(buf));
	argc = argv_of(buf, v, 32);
	CASE(name);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), -1);
	EXPECT_INT("exit code", e.code, code);
	EXPECT_INT("usage line", e.usage, usage);
	EXPECT_STR("message", e.msg, msg);
	END();
}

static void
test_smargs_accepted(void)
{
	struct smargs		 o;
	struct smargs_err	 e;
	char			 buf[512], *v[32];
	int			 argc;

	(void)strlcpy(buf, "/usr/sbin/sendmail|-tif|a@b|-F|Full Name|-oi|"
	    "-B8BITMIME|x", sizeof(buf));
	CASE("smargs: a cluster ends at an option with a value, values "
	    "glued or separate");
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("-t", o.tflag, 1);
	EXPECT_INT("-i", o.iflag, 1);
	EXPECT_STR("-f", o.sender, "a@b");
	EXPECT_STR("-F", o.fullname, "Full Name");
	EXPECT_INT("-B", o.body_decl, BODY_8BITMIME);
	EXPECT_INT("mode", o.mode, 'm');
	EXPECT_INT("recipients", o.nrcpt, 1);
	EXPECT_STR("recipient", o.rcpt[0], "x");
	END();

	(void)strlcpy(buf, "sendmail|-NSUCCESS,delay|-Rhdrs|-Vabc|--|-x",
	    sizeof(buf));
	CASE("smargs: DSN options; \"--\" ends the options");
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("-N", o.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
	EXPECT_INT("-R", o.dsn_ret, DSN_RET_HDRS);
	EXPECT_STR("-V", o.envid, "abc");
	EXPECT_INT("recipients", o.nrcpt, 1);
	EXPECT_STR("recipient", o.rcpt[0], "-x");
	END();

	(void)strlcpy(buf, "/usr/bin/mailq", sizeof(buf));
	CASE("smargs: called as mailq, the mode is -bp; -bs wins over "
	    "newaliases");
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("mode", o.mode, 'p');
	(void)strlcpy(buf, "newaliases|-bs", sizeof(buf));
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("mode", o.mode, 's');
	END();

	(void)strlcpy(buf, "sendmail|-qI0000000000000001", sizeof(buf));
	CASE("smargs: -qI<id> and -qR<x>");
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("-q", o.qflag, 'I');
	EXPECT_STR("id", o.qid, "0000000000000001");
	(void)strlcpy(buf, "sendmail|-qRexample.org", sizeof(buf));
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("-q", o.qflag, 'R');
	END();

	/*
	 * CVE-2016-10033: PHP mail()'s fifth argument, escapeshellcmd'ed,
	 * reaches the argv as "-fa@b -X/var/www/x.php -OQueueDirectory=/tmp".
	 * -X is a log file in Sendmail; here it names nothing ever opened.
	 */
	(void)strlcpy(buf, "sendmail|-t|-i|-fa@b|-X/var/www/x.php|"
	    "-OQueueDirectory=/tmp|-C|/tmp/evil.cf", sizeof(buf));
	CASE("smargs: CVE-2016-10033 -X/-O are ignored, -C only recorded");
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_STR("-f", o.sender, "a@b");
	EXPECT_STR("-C", o.config, "/tmp/evil.cf");
	EXPECT_INT("recipients", o.nrcpt, 0);
	END();

	/* host status (-bh, -bH): Postfix exits 0 without reading */
	(void)strlcpy(buf, "sendmail|-bh|root", sizeof(buf));
	CASE("smargs: -bh and -bH are the do-nothing mode 'h'");
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("mode", o.mode, 'h');
	(void)strlcpy(buf, "sendmail|-bH", sizeof(buf));
	argc = argv_of(buf, v, 32);
	EXPECT_INT("rc", smargs_parse(argc, v, &o, &e), 0);
	EXPECT_INT("mode", o.mode, 'h');
	END();

	CASE("smargs: argc 0 gives the -bm defaults");
	EXPECT_INT("rc", smargs_parse(0, v, &o, &e), 0);
	EXPECT_INT("mode", o.mode, 'm');
	EXPECT_INT("recipients", o.nrcpt, 0);
	END();
}

static void
test_smargs_refused(void)
{
	refused("smargs: -q<interval> is nothing to do: exit 0, silent",
	    "sendmail|-q30m", EX_OK, 0, "");
	refused("smargs: a line break in a value is refused without usage",
	    "sendmail|-f|a@b\nR evil@x", EX_USAGE, 0,
	    "-f: value contains a line break");
	refused("smargs: a line break in a recipient is refused",
	    "sendmail|x@y\r", EX_USAGE, 0, "recipient \"x@y\": contains a line "
	    "break");
	refused("smargs: a missing value names the option",
	    "sendmail|-ti|-f", EX_USAGE, 1,
	    "-f: option requires an argument");
	refused("smargs: an unknown option", "sendmail|-tk", EX_USAGE, 1,
	    "-k: unknown option");
	refused("smargs: an unprintable option is not echoed",
	    "sendmail|-\x01", EX_USAGE, 1, "unknown option");
	refused("smargs: -B takes 7BIT or 8BITMIME", "sendmail|-Bbinary",
	    EX_USAGE, 1, "-B: use 7BIT or 8BITMIME");
	refused("smargs: -N", "sendmail|-Nsometimes", EX_USAGE, 1,
	    "-N: use never, or a list of success, failure, delay");
	refused("smargs: -R", "sendmail|-Rall", EX_USAGE, 1,
	    "-R: use full or hdrs");
	refused("smargs: -V with a '+'", "sendmail|-Va+b", EX_USAGE, 1,
	    "-V: envid must be 1-100 printable ASCII characters without "
	    "space, '+' or '='");
	refused("smargs: an unknown -b mode", "sendmail|-bd", EX_USAGE, 1,
	    "unsupported -b mode (use -bm, -bs, -bv, -bi or -bp)");
	refused("smargs: an unknown -q mode", "sendmail|-qX", EX_USAGE, 1,
	    "unsupported -q mode (use -q, -qI<id> or -qR<x>)");
	refused("smargs: -qI with a bad id", "sendmail|-qI../x", EX_USAGE, 1,
	    "-qI: not a queue id");
	refused("smargs: mailq takes no recipients", "mailq|x@y", EX_USAGE, 1,
	    "-bp (mailq) takes no recipients");
}

void
test_smargs(void)
{
	test_smargs_accepted();
	test_smargs_refused();
}
