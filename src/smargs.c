/*
 * sendmail(8)'s command line, parsed like Postfix's into a
 * struct smargs.  A pure function over argv: it never prints, logs or
 * exits, so that sendmail.c decides how an error is reported and the
 * parser can be unit-tested and fuzzed (test/fuzz/fuzz_argv.c).
 *
 * Callers such as PHP's mail() pass caller data into this argv
 * (CVE-2016-10033, "-X/var/www/shell.php"): no option names a file that
 * is ever written, and -C is only recorded here; sendmail.c allows it to
 * root alone.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "relayq.h"
#include "smargs.h"

static int __attribute__((format(printf, 4, 5)))
smargs_fail(struct smargs_err *e, int code, int usage, const char *fmt, ...)
{
	va_list	 ap;

	e->code = code;
	e->usage = usage;
	va_start(ap, fmt);
	(void)vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/* a value with a line break would forge envelope records */
static int
smargs_value(int opt, const char *v, struct smargs_err *e)
{
	if (strpbrk(v, "\r\n") != NULL)
		return smargs_fail(e, EX_USAGE, 0, "-%c: value contains a "
		    "line break", opt);
	return 0;
}

/* One option that takes a value. */
static int
smargs_option(struct smargs *o, int c, const char *v, struct smargs_err *e)
{
	switch (c) {
	case 'B':
		if (strcasecmp(v, "8BITMIME") == 0)
			o->body_decl = BODY_8BITMIME;
		else if (strcasecmp(v, "7BIT") == 0)
			o->body_decl = BODY_7BIT;
		else
			return smargs_fail(e, EX_USAGE, 1, "-B: use 7BIT or "
			    "8BITMIME");
		break;
	case 'C':
		o->config = v;
		break;
	case 'F':
		o->fullname = v;
		break;
	case 'f':
	case 'r':
		o->sender = v;
		break;
	case 'N':
		if (spool_notify_parse(v, &o->notify) == -1)
			return smargs_fail(e, EX_USAGE, 1, "-N: use never, or "
			    "a list of success, failure, delay");
		break;
	case 'R':
		if (strcasecmp(v, "full") == 0)
			o->dsn_ret = DSN_RET_FULL;
		else if (strcasecmp(v, "hdrs") == 0)
			o->dsn_ret = DSN_RET_HDRS;
		else
			return smargs_fail(e, EX_USAGE, 1, "-R: use full or "
			    "hdrs");
		break;
	case 'V':
		if (!spool_envid_ok(v))
			return smargs_fail(e, EX_USAGE, 1, "-V: envid must be "
			    "1-100 printable ASCII characters without space, "
			    "'+' or '='");
		o->envid = v;
		break;
	case 'b':
		if (v[0] != '\0' && v[1] == '\0' &&
		    strchr("mpisv", v[0]) != NULL)
			o->mode = v[0];
		else if (strcmp(v, "h") == 0 || strcmp(v, "H") == 0)
			o->mode = 'h';	/* host status: nothing to do */
		else
			return smargs_fail(e, EX_USAGE, 1, "unsupported -b "
			    "mode (use -bm, -bs, -bv, -bi or -bp)");
		break;
	case 'o':
		/* -oi is -i; -oem, -od*, -om, -o7 and the rest: ignored */
		if (strcmp(v, "i") == 0)
			o->iflag = 1;
		break;
	default:
		/* -A -D -L -O -X -d -e -h -p: accepted, ignored.  -X and -D
		 * name files that are NEVER opened (CVE-2016-10033: PHP
		 * mail() passes caller data into the argv). */
		break;
	}
	return 0;
}

/*
 * -q: bare, -qR<x>, -qI<id>, or an interval (-q30m): a daemon's run
 * interval, meaningless here, so the caller exits 0 at once.
 */
static int
smargs_queue(struct smargs *o, const char *v, struct smargs_err *e)
{
	if (v[0] == '\0' || v[0] == 'R')
		o->qflag = 'R';
	else if (v[0] == 'I' && v[1] != '\0') {
		o->qflag = 'I';
		o->qid = v + 1;
	} else if (isdigit((unsigned char)v[0]) &&
	    strspn(v, "0123456789smhdw") == strlen(v))
		return -1;	/* e->code EX_OK, no message */
	else
		return smargs_fail(e, EX_USAGE, 1, "unsupported -q mode (use "
		    "-q, -qI<id> or -qR<x>)");
	return 0;
}

/* One argument of options: "-ti", "-fx", or "-f" with the value next. */
static int
smargs_cluster(int argc, char **argv, int *ip, struct smargs *o,
    struct smargs_err *e)
{
	const char	*v, *p;
	int		 c;

	for (p = argv[*ip] + 1; (c = (unsigned char)*p) != '\0'; p++) {
		if (c == 'q') {
			if (smargs_value(c, p + 1, e) == -1)
				return -1;
			return smargs_queue(o, p + 1, e);
		}
		if (strchr("ABCDFLNORVXbdefhopr", c) != NULL) {
			if (p[1] != '\0')
				v = p + 1;
			else if (*ip + 1 < argc)
				v = argv[++*ip];
			else
				return smargs_fail(e, EX_USAGE, 1,
				    "-%c: option requires an argument", c);
			if (smargs_value(c, v, e) == -1)
				return -1;
			/* the value ended this argument */
			return smargs_option(o, c, v, e);
		}
		switch (c) {
		case 't':
			o->tflag = 1;
			break;
		case 'i':
			o->iflag = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'I':
			o->mode = 'i';
			break;
		case 'G':
		case 'U':
		case 'm':
		case 'n':
		case 'c':
		case 'x':
			break;
		default:
			if (isprint(c))
				return smargs_fail(e, EX_USAGE, 1, "-%c: "
				    "unknown option", c);
			return smargs_fail(e, EX_USAGE, 1, "unknown option");
		}
	}
	return 0;
}

/*
 * Postfix parsing rules: options cluster (-ti), values may be glued or
 * separate (-fx, -f x), "--" and the first non-option end the options.
 * -q takes only a glued value (a bare -q is a mode of its own).  The
 * name we were called by sets the mode (mailq, newaliases); an explicit
 * -b wins.  Returns 0, or -1 with *e filled.  o points into argv.
 */
int
smargs_parse(int argc, char **argv, struct smargs *o, struct smargs_err *e)
{
	const char	*prog;
	int		 i;

	memset(o, 0, sizeof(*o));
	memset(e, 0, sizeof(*e));
	o->mode = 'm';
	if (argc <= 0)
		return 0;
	prog = argv[0] != NULL ? argv[0] : "sendmail";
	if (strrchr(prog, '/') != NULL)
		prog = strrchr(prog, '/') + 1;
	if (strcmp(prog, "mailq") == 0)
		o->mode = 'p';
	else if (strcmp(prog, "newaliases") == 0)
		o->mode = 'i';
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (smargs_cluster(argc, argv, &i, o, e) == -1)
			return -1;
	}
	o->rcpt = argv + i;
	o->nrcpt = argc - i;
	for (; i < argc; i++)
		if (strpbrk(argv[i], "\r\n") != NULL)
			/* named up to the break: it would forge records */
			return smargs_fail(e, EX_USAGE, 0, "recipient "
			    "\"%.*s\": contains a line break", (int)strcspn(
			    argv[i], "\r\n"), argv[i]);
	if (o->mode == 'p' && o->nrcpt > 0)
		return smargs_fail(e, EX_USAGE, 1, "-bp (mailq) takes no "
		    "recipients");
	if (o->qflag == 'I' && !spool_id_ok(o->qid))
		return smargs_fail(e, EX_USAGE, 1, "-qI: not a queue id");
	return 0;
}
