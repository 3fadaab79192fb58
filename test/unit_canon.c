/*
 * Unit tests for the sender canonical map (src/canon.c): the file parser
 * (Postfix's texthash source format, errors naming file and line), the
 * lookup order of Postfix's canonical(5), and the rewriting of sender
 * header fields (src/addr.c addr_rewrite, src/msg.c msg_hdr_canonical).
 * Linked into test/unit; main() there calls test_canon().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "import.h"
#include "unit.h"

#define S(lit)	lit, sizeof(lit) - 1

static const char *const canon_locals[] = { "localhost", "vm", NULL };

static const char canon_map[] =
    "# sender canonical map\n"
    "root\t\tops@example.com\n"
    "\n"
    "Alice@Example.ORG   Alice Smith\n"		/* rejected below */
    ;

static const char canon_good[] =
    "# cron and daemons\n"
    "root\t\tops@example.com\n"
    "\n"
    "   # an indented comment ends nothing\n"
    "Alice@Example.ORG   alice.smith@example.com\n"
    "www-data\n"
    "\t\tweb@example.com\n"				/* continuation */
    "@host.example.org   @example.com\n"
    "bob@example.org     robert\r\n"			/* CRLF, bare name */
    "@old.example        catchall@example.com";	/* no final newline */

/* parse `text' into c with the test context; rc, err */
static int
canon_from(struct canon *c, const char *text, char *err, size_t errsz)
{
	canon_init(c, "example.org", canon_locals);
	err[0] = '\0';
	return canon_parse(c, "/etc/relayq/canonical", text, strlen(text),
	    err, errsz);
}

static void
test_canon_parse(void)
{
	struct canon	 c;
	char		 err[256];
	int		 rc;

	CASE("canon: Postfix texthash lines, comments, continuation, CRLF");
	rc = canon_from(&c, canon_good, err, sizeof(err));
	EXPECT_INT("rc", rc, 0);
	EXPECT_STR("err", err, "");
	EXPECT_INT("entries", c.n, 6);
	if (c.n == 6) {
		EXPECT_STR("key 1", c.v[0].key, "root");
		EXPECT_STR("value 1", c.v[0].value, "ops@example.com");
		EXPECT_INT("line 1", c.v[0].line, 2);
		EXPECT_STR("continued value", c.v[2].value, "web@example.com");
		EXPECT_INT("continued line", c.v[2].line, 6);
		EXPECT_STR("CRLF value", c.v[4].value, "robert");
		EXPECT_STR("last line", c.v[5].value, "catchall@example.com");
	}
	canon_free(&c);
	END();

	CASE("canon: a value that is not one address names file:line");
	rc = canon_from(&c, canon_map, err, sizeof(err));
	EXPECT_INT("rc", rc, -1);
	EXPECT_HAS("err", err, "/etc/relayq/canonical:4: Alice@Example.ORG: "
	    "bad address \"Alice Smith\"");
	EXPECT_INT("emptied", c.n, 0);
	canon_free(&c);
	END();

	CASE("canon: a key without a value");
	rc = canon_from(&c, "root ops@example.com\nalice\n\n", err,
	    sizeof(err));
	EXPECT_INT("rc", rc, -1);
	EXPECT_HAS("err", err, "canonical:2: \"alice\" has no value");
	END();

	CASE("canon: a duplicate key (case-insensitive) names both lines");
	rc = canon_from(&c, "root a@example.com\n# x\nROOT b@example.com\n",
	    err, sizeof(err));
	EXPECT_INT("rc", rc, -1);
	EXPECT_HAS("err", err, "canonical:3: duplicate key \"ROOT\" (first "
	    "on line 1)");
	END();

	CASE("canon: continuation before any entry");
	rc = canon_from(&c, "  root a@example.com\n", err, sizeof(err));
	EXPECT_INT("rc", rc, -1);
	EXPECT_HAS("err", err, "canonical:1: continuation line");
	END();

	CASE("canon: bad keys: empty domain, angle brackets, quotes");
	EXPECT_INT("user@", canon_from(&c, "root@ a@x\n", err, sizeof(err)),
	    -1);
	EXPECT_HAS("err", err, "bad key \"root@\"");
	EXPECT_INT("<root>", canon_from(&c, "<root> a@x\n", err,
	    sizeof(err)), -1);
	EXPECT_INT("@ alone", canon_from(&c, "@ a@x\n", err, sizeof(err)),
	    -1);
	EXPECT_INT("value @", canon_from(&c, "root @\n", err, sizeof(err)),
	    -1);
	EXPECT_INT("value <a@x>", canon_from(&c, "root <a@x>\n", err,
	    sizeof(err)), -1);
	END();

	CASE("canon: NUL byte and over-long line are errors");
	canon_init(&c, "example.org", canon_locals);
	rc = canon_parse(&c, "m", "root a@x\0\n", 10, err, sizeof(err));
	EXPECT_INT("NUL", rc, -1);
	EXPECT_HAS("err", err, "m:1: NUL byte");
	{
		char	*big = malloc(5000);

		if (EXPECT(big != NULL, "malloc")) {
			memset(big, 'a', 4999);
			big[4999] = '\0';
			EXPECT_INT("long", canon_from(&c, big, err,
			    sizeof(err)), -1);
			EXPECT_HAS("err", err, "canonical:1: line longer");
			free(big);
		}
	}
	END();
}

static void
test_canon_lookup(void)
{
	struct canon	 c;
	char		 err[256], out[ADDR_MAX + 1];

	CASE("canon: lookup order user@domain, user (local), @domain");
	if (EXPECT(canon_from(&c, canon_good, err, sizeof(err)) == 0, "%s",
	    err)) {
		EXPECT_INT("root", canon_lookup(&c, "root@example.org", out,
		    sizeof(out)), 1);
		EXPECT_STR("root", out, "ops@example.com");
		EXPECT_INT("root@vm", canon_lookup(&c, "root@VM", out,
		    sizeof(out)), 1);
		EXPECT_STR("root@vm", out, "ops@example.com");
		/* a user key never matches a foreign domain */
		EXPECT_INT("root@other", canon_lookup(&c, "root@other.net",
		    out, sizeof(out)), 0);
		EXPECT_INT("alice, any case", canon_lookup(&c,
		    "alice@example.org", out, sizeof(out)), 1);
		EXPECT_STR("alice", out, "alice.smith@example.com");
		EXPECT_INT("@domain keeps user", canon_lookup(&c,
		    "carol@host.example.org", out, sizeof(out)), 1);
		EXPECT_STR("@domain", out, "carol@example.com");
		EXPECT_INT("bare value qualified", canon_lookup(&c,
		    "bob@example.org", out, sizeof(out)), 1);
		EXPECT_STR("bare", out, "robert@example.org");
		EXPECT_INT("@domain to address", canon_lookup(&c,
		    "x@old.example", out, sizeof(out)), 1);
		EXPECT_STR("catchall", out, "catchall@example.com");
		EXPECT_INT("unmapped", canon_lookup(&c, "dave@example.org",
		    out, sizeof(out)), 0);
		EXPECT_INT("null sender", canon_lookup(&c, "", out,
		    sizeof(out)), 0);
	}
	canon_free(&c);
	END();

	CASE("canon: user@domain wins over user and @domain");
	if (EXPECT(canon_from(&c, "@example.org all@example.com\n"
	    "root r@example.com\nroot@example.org exact@example.com\n", err,
	    sizeof(err)) == 0, "%s", err)) {
		EXPECT_INT("exact", canon_lookup(&c, "root@example.org", out,
		    sizeof(out)), 1);
		EXPECT_STR("exact", out, "exact@example.com");
		EXPECT_INT("user", canon_lookup(&c, "root@localhost", out,
		    sizeof(out)), 1);
		EXPECT_STR("user", out, "r@example.com");
		EXPECT_INT("domain", canon_lookup(&c, "eve@example.org", out,
		    sizeof(out)), 1);
		EXPECT_STR("domain", out, "all@example.com");
		/* a bare user is user@domain: all three keys apply */
		EXPECT_INT("bare exact", canon_lookup(&c, "root", out,
		    sizeof(out)), 1);
		EXPECT_STR("bare exact", out, "exact@example.com");
		EXPECT_INT("bare domain", canon_lookup(&c, "eve", out,
		    sizeof(out)), 1);
		EXPECT_STR("bare domain", out, "all@example.com");
	}
	canon_free(&c);
	END();

	CASE("canon: a result too long is an error, not a truncation");
	{
		char	 a[ADDR_MAX + 1];

		memset(a, 'u', ADDR_MAX - 12);
		(void)strlcpy(a + ADDR_MAX - 12, "@example.org", 13);
		if (EXPECT(canon_from(&c, "@example.org @long-long-domain.test"
		    "\n", err, sizeof(err)) == 0, "%s", err))
			EXPECT_INT("rc", canon_lookup(&c, a, out, sizeof(out)),
			    -1);
		canon_free(&c);
	}
	END();
}

/* canon_header over `in'; the new value or "(unchanged)" */
static void
canon_hdr_expect(const struct canon *c, const char *what, const char *in,
    const char *want, int n)
{
	char	*out = NULL;
	int	 r;

	r = canon_header(c, in, strlen(in), &out);
	EXPECT_INT(what, r, n);
	EXPECT_STR(what, out != NULL ? out : "(unchanged)", want);
	free(out);
}

static void
test_canon_header(void)
{
	struct canon	 c;
	char		 err[256];

	CASE("canon: header addresses replaced, names and comments kept");
	if (EXPECT(canon_from(&c, canon_good, err, sizeof(err)) == 0, "%s",
	    err)) {
		canon_hdr_expect(&c, "display name", " Cron Daemon "
		    "<root@example.org>", " Cron Daemon <ops@example.com>", 1);
		canon_hdr_expect(&c, "comment", " root@example.org (Cron "
		    "Daemon)", " ops@example.com (Cron Daemon)", 1);
		canon_hdr_expect(&c, "encoded word kept",
		    " =?UTF-8?Q?J=C3=B6rg?= <alice@example.org>",
		    " =?UTF-8?Q?J=C3=B6rg?= <alice.smith@example.com>", 1);
		canon_hdr_expect(&c, "list, one unmapped", " \"Doe, J\" "
		    "<root@example.org>, dave@example.org,\r\n\tbob@example.org",
		    " \"Doe, J\" <ops@example.com>, dave@example.org,\r\n"
		    "\trobert@example.org", 2);
		canon_hdr_expect(&c, "group syntax kept", " Ops: "
		    "root@example.org, x@other.net;", " Ops: ops@example.com, "
		    "x@other.net;", 1);
		canon_hdr_expect(&c, "empty group", " undisclosed:;",
		    "(unchanged)", 0);
		canon_hdr_expect(&c, "source route", " <@relay.test:"
		    "root@example.org>", " <@relay.test:ops@example.com>", 1);
		canon_hdr_expect(&c, "unparsable left alone", " Cron "
		    "<root@example.org", "(unchanged)", 0);
		canon_hdr_expect(&c, "nothing mapped", " x@other.net",
		    "(unchanged)", 0);
	}
	canon_free(&c);
	END();
}

/* msg_hdr_canonical on a whole header, as sendmail runs it */
static void
test_canon_msg(void)
{
	static const char *const fields[] = {
		"From: Cron Daemon <root@example.org>",
		"Sender: root@example.org",
		"Reply-To: root@example.org",
		"To: root@example.org",
		"Cc: root@example.org",
		"Resent-From: root@example.org",
		"Errors-To: root@example.org",
		NULL
	};
	struct canon	 c;
	struct msg	 m;
	char		 err[256];
	unsigned long	 n = 0;
	size_t		 i;

	CASE("canon: the sender fields rewritten; To and Cc never");
	memset(&m, 0, sizeof(m));
	m.hdr = calloc(8, sizeof(*m.hdr));
	if (EXPECT(m.hdr != NULL, "calloc") && EXPECT(canon_from(&c,
	    canon_good, err, sizeof(err)) == 0, "%s", err)) {
		for (i = 0; fields[i] != NULL; i++) {
			m.hdr[i].text = strdup(fields[i]);
			m.hdr[i].len = strlen(fields[i]);
			m.hdr[i].namelen = strcspn(fields[i], ":");
			m.hdrbytes += m.hdr[i].len;
		}
		m.nhdr = i;
		EXPECT_INT("rc", msg_hdr_canonical(&m, &c, &n), 0);
		EXPECT_INT("count", n, 5);
		EXPECT_STR("From", m.hdr[0].text,
		    "From: Cron Daemon <ops@example.com>");
		EXPECT_STR("Sender", m.hdr[1].text, "Sender: ops@example.com");
		EXPECT_STR("Reply-To", m.hdr[2].text,
		    "Reply-To: ops@example.com");
		EXPECT_STR("To", m.hdr[3].text, "To: root@example.org");
		EXPECT_STR("Cc", m.hdr[4].text, "Cc: root@example.org");
		EXPECT_STR("Resent-From", m.hdr[5].text,
		    "Resent-From: ops@example.com");
		EXPECT_STR("Errors-To", m.hdr[6].text,
		    "Errors-To: ops@example.com");
	}
	canon_free(&c);
	msg_free(&m);
	END();
}

/* the map import_canon_write makes of `ic', parsed back by canon.c */
static void
canon_import_expect(const struct import *ic, const char *want)
{
	struct canon	 c;
	char		*out = NULL, err[256];
	size_t		 len = 0;
	FILE		*fp;

	if (!EXPECT((fp = open_memstream(&out, &len)) != NULL, "memstream"))
		return;
	EXPECT_INT("write", import_canon_write(ic, fp, "f"), 0);
	(void)fclose(fp);
	EXPECT_STR("map", out, want);
	canon_init(&c, "example.org", canon_locals);
	EXPECT(canon_parse(&c, "written", out, len, err, sizeof(err)) == 0,
	    "written map does not parse: %s", err);
	canon_free(&c);
	free(out);
}

/* the relayq.conf import_write makes of `ic' has `want' */
static void
canon_import_conf(const struct import *ic, const char *want)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&out, &len)) == NULL) {
		(void)EXPECT(0, "open_memstream");
		return;
	}
	(void)import_write(ic, fp, "/etc/relayq.secret", "f");
	(void)fclose(fp);
	EXPECT_HAS("relayq.conf", out, want);
	free(out);
}

static int
canon_has_note(const struct import *ic, const char *want)
{
	size_t	 i;

	for (i = 0; i < ic->nnotes; i++)
		if (strstr(ic->notes[i], want) != NULL)
			return 1;
	return 0;
}

static void
test_canon_import(void)
{
	static const char	 maincf[] =
	    "myorigin = example.org\n"
	    "relayhost = [smtp.example.net]:587\n"
	    "canon = /etc/postfix/sender_canonical\n"
	    "sender_canonical_maps = hash:$canon, regexp:/etc/postfix/re\n"
	    "smtp_generic_maps = texthash:/etc/postfix/generic\n";
	static const char	 canonical[] =
	    "root ops@host.example.org\nalice alice@example.com\n";
	static const char	 generic[] =
	    "@host.example.org @example.com\nALICE other@example.com\n"
	    "bob@example.org robert@example.com\n";
	struct import_map	 maps[IMPORT_MAXMAPS];
	struct import		 ic;
	char			 err[256];
	size_t			 n;

	CASE("import: Postfix sender_canonical_maps, then smtp_generic_maps");
	import_init(&ic);
	EXPECT_INT("main.cf", import_postfix(&ic, "main.cf", maincf,
	    sizeof(maincf) - 1, err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	n = import_canon_maps(&ic, maps, IMPORT_MAXMAPS);
	EXPECT_INT("maps", n, 2);
	if (n == 2) {
		EXPECT_STR("canonical path", maps[0].path,
		    "/etc/postfix/sender_canonical");
		EXPECT_INT("canonical kind", maps[0].kind,
		    IMPORT_MAP_CANONICAL);
		EXPECT_STR("generic path", maps[1].path, "/etc/postfix/generic");
		EXPECT_INT("generic kind", maps[1].kind, IMPORT_MAP_GENERIC);
		EXPECT_INT("canonical", import_canon_postfix(&ic, &maps[0],
		    canonical, sizeof(canonical) - 1, err, sizeof(err)), 0);
		EXPECT_INT("generic", import_canon_postfix(&ic, &maps[1],
		    generic, sizeof(generic) - 1, err, sizeof(err)), 0);
		/* root -> ops@host -> ops@example.com; alice kept (first) */
		canon_import_expect(&ic, "# sender_canonical for relayq.conf(5), "
		    "converted by `relayq import' from postfix: f\n"
		    "root\tops@example.com\n"
		    "alice\talice@example.com\n"
		    "@host.example.org\t@example.com\n"
		    "bob@example.org\trobert@example.com\n");
	}
	EXPECT(canon_has_note(&ic, "main.cf:4: sender_canonical_maps "
	    "regexp:/etc/postfix/re not converted"), "no note for regexp:");
	EXPECT(!canon_has_note(&ic, "sender_canonical_maps not converted") &&
	    !canon_has_note(&ic, "smtp_generic_maps not converted"),
	    "the old 'not converted' note is still there");
	import_free(&ic);
	END();

	CASE("import: a Postfix map relayq would refuse is noted, skipped");
	import_init(&ic);
	(void)import_postfix(&ic, "main.cf", maincf, sizeof(maincf) - 1, err,
	    sizeof(err));
	(void)import_format_finish(&ic, err, sizeof(err));
	if (import_canon_maps(&ic, maps, IMPORT_MAXMAPS) == 2) {
		EXPECT_INT("rc", import_canon_postfix(&ic, &maps[0],
		    S("root Ops Team <ops@example.com>\n"), err,
		    sizeof(err)), 0);
		EXPECT_INT("nothing taken", ic.canon.n, 0);
		EXPECT(canon_has_note(&ic, "/etc/postfix/sender_canonical not "
		    "converted: /etc/postfix/sender_canonical:1: root: bad "
		    "address"), "no note for the refused map");
	}
	import_free(&ic);
	END();

	CASE("import: ssmtp revaliases, beside ssmtp.conf");
	import_init(&ic);
	EXPECT_INT("ssmtp.conf", import_ssmtp(&ic, "/etc/ssmtp/ssmtp.conf",
	    S("mailhub=smtp.example.net:587\n"), err, sizeof(err)), 0);
	n = import_canon_maps(&ic, maps, IMPORT_MAXMAPS);
	EXPECT_INT("maps", n, 1);
	EXPECT_STR("path", maps[0].path, "/etc/ssmtp/revaliases");
	EXPECT_INT("revaliases", import_format_parse(&ic, IMPORT_SSMTP,
	    "/etc/ssmtp/revaliases", 1, NULL, S("# sSMTP aliases\n"
	    "root:ops@example.com:smtp.example.net:587\n"
	    "www-data:web@example.com\n"
	    "joe:joe@other.example:smtp.other.example\n"
	    "bad line\n"
	    "x:not an address\n"), err, sizeof(err)), 0);
	canon_import_expect(&ic, "# sender_canonical for relayq.conf(5), "
	    "converted by `relayq import' from ssmtp: f\n"
	    "root\tops@example.com\n"
	    "www-data\tweb@example.com\n"
	    "joe\tjoe@other.example\n");
	EXPECT(canon_has_note(&ic, "revaliases:4: mailhub smtp.other.example "
	    "for joe not converted"), "no note for the other mailhub");
	EXPECT(canon_has_note(&ic, "revaliases:5: not local:address:mailhub"),
	    "no note for the bad line");
	EXPECT(canon_has_note(&ic, "revaliases:6:"),
	    "no note for the bad address");
	import_free(&ic);
	END();

	CASE("import: sender_canonical named only when the map is written");
	import_init(&ic);
	(void)import_ssmtp(&ic, "ssmtp.conf",
	    S("mailhub=smtp.example.net:587\n"), err, sizeof(err));
	(void)import_ssmtp_revaliases(&ic, "revaliases",
	    S("root:ops@example.com\n"), err, sizeof(err));
	(void)import_format_finish(&ic, err, sizeof(err));
	canon_import_conf(&ic, "\n# sender_canonical " IMPORT_CANONFILE
	    " (1 entries found");
	(void)strlcpy(ic.canonfile, "/etc/relayq/canon", sizeof(ic.canonfile));
	canon_import_conf(&ic, "\nsender_canonical /etc/relayq/canon\n");
	import_free(&ic);
	END();
}

void
test_canon(void)
{
	test_canon_parse();
	test_canon_lookup();
	test_canon_header();
	test_canon_msg();
	test_canon_import();
}
