/*
 * Unit tests for src/addr.c: address lists, qualification, validity.
 * Linked into test/unit; group addr in unit.c's table.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "unit.h"

void
addr_join(const struct addr_list *l, char *out, size_t outsz)
{
	size_t	 i;

	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			(void)strlcat(out, "|", outsz);
		(void)strlcat(out, l->v[i], outsz);
	}
}

/*
 * One case for addr_parse_list: the return code, and when it is 0 the
 * addresses kept, joined by '|'.  A failure must come with a message.
 */
static void
addr_case_n(const char *name, const char *in, size_t len, int wantrc,
    const char *want)
{
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			 err[256] = "", got[4096];
	int			 rc;

	rc = addr_parse_list(in, len, &l, err, sizeof(err));
	addr_join(&l, got, sizeof(got));
	CASE(name);
	EXPECT_INT("addr_parse_list", rc, wantrc);
	if (rc == -1)
		EXPECT(err[0] != '\0', "no error message with -1");
	if (want != NULL)
		EXPECT_STR("addresses", got, want);
	END();
	addr_list_free(&l);
}

static void
addr_case(const char *name, const char *in, int wantrc, const char *want)
{
	addr_case_n(name, in, strlen(in), wantrc, want);
}

void
test_addr(void)
{
	const char *const	 locals[] = { "localhost", "VM", NULL };
	char			 buf[8300], out[ADDR_MAX + 1];
	size_t			 i;
	int			 rc;

	addr_case("addr: list split at commas", "a@x, b@y", 0, "a@x|b@y");
	addr_case("addr: display name dropped, angle address kept",
	    "Name <a@x>", 0, "a@x");
	addr_case("addr: comma inside a quoted display name",
	    "\"Doe, John\" <j@x>, k@y", 0, "j@x|k@y");
	addr_case("addr: comment dropped", "root (Cron Daemon)", 0, "root");
	addr_case("addr: nested comment with a comma dropped",
	    "a@x (Cron, (the) daemon), b@y", 0, "a@x|b@y");
	addr_case("addr: empty group gives no address",
	    "undisclosed-recipients:;", 0, "");
	addr_case("addr: group members kept, group name dropped",
	    "Group: a@x, Name <b@y>;, c@z", 0, "a@x|b@y|c@z");
	addr_case("addr: trailing and doubled commas ignored", "a@x,, b@y, ",
	    0, "a@x|b@y");
	addr_case("addr: obsolete source route dropped", "<@route,@r2:u@x>",
	    0, "u@x");
	addr_case("addr: quoted local part kept verbatim",
	    "\"john doe\"@x, Name <\"a b\"@y>", 0,
	    "\"john doe\"@x|\"a b\"@y");
	addr_case("addr: escaped quote in a quoted local part kept verbatim",
	    "\"a\\\"b\"@x", 0, "\"a\\\"b\"@x");
	addr_case("addr: duplicates removed", "a@x, b@y, a@x, Name <b@y>", 0,
	    "a@x|b@y");
	addr_case("addr: unbalanced quote rejected", "\"a@x, b@y", -1, NULL);
	addr_case("addr: unbalanced parenthesis rejected", "a@x (comment", -1,
	    NULL);
	addr_case("addr: unbalanced closing parenthesis rejected", "a@x)", -1,
	    NULL);
	addr_case("addr: unbalanced '<' rejected", "Name <a@x", -1, NULL);
	addr_case("addr: stray '>' rejected", "a@x>", -1, NULL);
	addr_case("addr: two angle addresses in one mailbox rejected",
	    "<a@x> <b@y>", -1, NULL);
	addr_case("addr: LF escaped in a quoted string rejected",
	    "\"a\\\nb\" <x@y>", -1, NULL);
	addr_case("addr: CR escaped in a comment rejected",
	    "x@y (a\\\rb)", -1, NULL);
	addr_case("addr: CR or LF in a list rejected (header injection)",
	    "a@x,\r\n b@y", -1, NULL);
	addr_case("addr: bare LF in a list rejected", "a@x\nBcc: evil@y", -1,
	    NULL);
	addr_case_n("addr: NUL in a list rejected", "a@x\0b@y", 7, -1, NULL);

	/* ADDR_MAX octets is the limit of an address */
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 2));
	addr_case("addr: address of ADDR_MAX octets accepted", buf, 0, buf);
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 1));
	addr_case("addr: address of ADDR_MAX+1 octets rejected", buf, -1, NULL);
	(void)snprintf(buf, sizeof(buf), "b@y, %s@x", rep('a', 1000));
	addr_case("addr: over-long address rejected, no overflow", buf, -1,
	    NULL);
	(void)snprintf(buf, sizeof(buf), "Name <%s@x>", rep('a', 1000));
	addr_case("addr: over-long angle address rejected", buf, -1, NULL);
	(void)snprintf(buf, sizeof(buf), "%s <a@x>", rep('N', 600));
	addr_case("addr: long display name with a short address accepted", buf,
	    0, "a@x");

	{
		struct addr_list	 l = ADDR_LIST_EMPTY;
		size_t			 bad = 0;

		rc = 0;
		CASE("addr: list_add keeps the first of each, in order, "
		    "exact match");
		rc |= addr_list_add(&l, "b@x");
		rc |= addr_list_add(&l, "a@x");
		rc |= addr_list_add(&l, "b@x");
		rc |= addr_list_add(&l, "B@x");	/* the case matters */
		rc |= addr_list_add(&l, "a@X");
		rc |= addr_list_add(&l, "a@x");
		addr_join(&l, buf, sizeof(buf));
		EXPECT_INT("rc", rc, 0);
		EXPECT_STR("list", buf, "b@x|a@x|B@x|a@X");
		END();

		CASE("addr: list_add with 20 000 adds, half of them again");
		addr_list_free(&l);
		for (i = 0; i < 20000 && rc == 0; i++) {
			(void)snprintf(buf, sizeof(buf), "u%zu@x", i / 2 +
			    (i % 2) * 5000);
			rc |= addr_list_add(&l, buf);
		}
		EXPECT_INT("rc", rc, 0);
		EXPECT_INT("distinct", l.n, 15000);
		/* u0 u5000 u1 u5001 ... u4999 u9999, then u5000 on are
		   repeats, u10000 to u14999 new */
		for (i = 0; i < l.n && i < 10000; i++) {
			(void)snprintf(buf, sizeof(buf), "u%zu@x", i / 2 +
			    (i % 2) * 5000);
			bad += strcmp(l.v[i], buf) != 0;
		}
		for (; i < l.n; i++) {
			(void)snprintf(buf, sizeof(buf), "u%zu@x", i);
			bad += strcmp(l.v[i], buf) != 0;
		}
		EXPECT_INT("out of order", bad, 0);
		END();

		CASE("addr: list_append keeps duplicates; list_add still "
		    "finds them");
		addr_list_free(&l);
		rc |= addr_list_append(&l, "a@x");
		rc |= addr_list_append(&l, "a@x");
		rc |= addr_list_add(&l, "a@x");
		rc |= addr_list_add(&l, "c@x");
		rc |= addr_list_append(&l, "d@x");
		rc |= addr_list_add(&l, "d@x");
		addr_join(&l, buf, sizeof(buf));
		EXPECT_INT("rc", rc, 0);
		EXPECT_STR("list", buf, "a@x|a@x|c@x|d@x");
		addr_list_free(&l);
		EXPECT_INT("freed", (int)(l.n + l.idxsz + l.nidx), 0);
		END();
	}

	CASE("addr: valid accepts envelope-safe addresses");
	EXPECT(addr_valid("a@x"), "a@x rejected");
	EXPECT(addr_valid("\"a b\"@x"), "quoted space rejected");
	EXPECT(addr_valid("\"a\\\"b\"@x"), "quoted escaped quote rejected");
	EXPECT(addr_valid("caf\xc3\xa9@x"), "UTF-8 local part rejected");
	EXPECT(addr_valid("root"), "bare name rejected");
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 2));
	EXPECT(addr_valid(buf), "ADDR_MAX octets rejected");
	END();

	CASE("addr: valid rejects empty, long, spaces, brackets, controls");
	EXPECT(!addr_valid(""), "empty accepted");
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 1));
	EXPECT(!addr_valid(buf), "ADDR_MAX+1 octets accepted");
	EXPECT(!addr_valid("a b@x"), "unquoted space accepted");
	EXPECT(!addr_valid("<a@x>"), "angle brackets accepted");
	EXPECT(!addr_valid("a,b@x"), "comma accepted");
	EXPECT(!addr_valid("a@x\r\nRCPT TO:<b@y>"), "CRLF accepted");
	EXPECT(!addr_valid("a\x01@x"), "control character accepted");
	EXPECT(!addr_valid("a\x7f@x"), "DEL accepted");
	EXPECT(!addr_valid("\"a@x"), "unbalanced quote accepted");
	EXPECT(!addr_valid("\"a\nb\"@x"), "LF inside quotes accepted");
	END();

	CASE("addr: valid rejects two unquoted '@' (bad address syntax)");
	EXPECT(!addr_valid("x@@y"), "x@@y accepted");
	EXPECT(!addr_valid("a@b@c"), "a@b@c accepted");
	EXPECT(!addr_valid("@@"), "@@ accepted");
	EXPECT(addr_valid("\"a@b\"@c"), "quoted @ in the local part rejected");
	EXPECT(addr_valid("\"a\\\"@b\"@c"), "escaped quote before a "
	    "quoted @ rejected");
	END();
	addr_case("addr: list with x@@y rejected", "a@x, x@@y", -1, NULL);
	addr_case("addr: Name <a@b@c> rejected", "Name <a@b@c>", -1, NULL);
	addr_case("addr: quoted @ in a local part kept", "\"a@b\"@c", 0,
	    "\"a@b\"@c");

	CASE("addr: valid rejects a control character escaped inside quotes");
	EXPECT(!addr_valid("\"a\\\x01\"@x"), "\"a\\<0x01>\"@x accepted");
	EXPECT(!addr_valid("\"a\\\n\"@x"), "\"a\\<LF>\"@x accepted");
	EXPECT(!addr_valid("\"a\\\r\"@x"), "\"a\\<CR>\"@x accepted");
	END();

	CASE("addr: is_local for bare names and local domains");
	EXPECT_INT("root", addr_is_local("root", locals), 1);
	EXPECT_INT("root@localhost", addr_is_local("root@localhost", locals),
	    1);
	EXPECT_INT("x@vm (case)", addr_is_local("x@vm", locals), 1);
	EXPECT_INT("a@other", addr_is_local("a@other", locals), 0);
	EXPECT_INT("a@localhost.other", addr_is_local("a@localhost.other",
	    locals), 0);
	EXPECT_INT("\"a@localhost\"@other",
	    addr_is_local("\"a@localhost\"@other", locals), 0);
	EXPECT_INT("NULL locals: a@localhost", addr_is_local("a@localhost",
	    NULL), 0);
	EXPECT_INT("NULL locals: root", addr_is_local("root", NULL), 1);
	END();

	{
		static const struct {
			const char	*in, *want;
		} q[] = {
			{ "root", "root@example.org" },
			{ "root@localhost", "root@example.org" },
			{ "x@VM", "x@example.org" },
			{ "x@vm", "x@example.org" },
			{ "a@other", "a@other" },
			{ "\"a@b\"@localhost", "\"a@b\"@example.org" },
			{ "\"a@b\"", "\"a@b\"@example.org" },
			{ "\"a@b\"@other", "\"a@b\"@other" },
		};

		CASE("addr: qualify bare names and local domains, keep others");
		for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			memset(out, 'Z', sizeof(out));
			rc = addr_qualify(q[i].in, "example.org", locals, out,
			    sizeof(out));
			EXPECT_INT(q[i].in, rc, 0);
			EXPECT_STR(q[i].in, rc == 0 ? out : "(failed)",
			    q[i].want);
		}
		END();
	}

	CASE("addr: qualify fails when the result does not fit");
	EXPECT_INT("out of 8 bytes", addr_qualify("root", "example.org",
	    locals, out, 8), -1);
	EXPECT_INT("foreign copy into 4 bytes", addr_qualify("a@other",
	    "example.org", locals, out, 4), -1);
	(void)snprintf(buf, sizeof(buf), "%s", rep('r', ADDR_MAX - 5));
	EXPECT_INT("over ADDR_MAX", addr_qualify(buf, "example.org", locals,
	    out, sizeof(out)), -1);
	END();
}
