/*
 * Unit tests for src/listen_auth.c, the listener's password file: the
 * PBKDF2-HMAC-SHA256 under it (the RFC 7914 section 11 vectors), a line
 * made by another implementation (Python's hashlib), the parser's
 * refusals, and listen-passwd's lines verifying.
 * Linked into test/unit; main() there calls test_lauth().
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relayq.h"
#include "client.h"
#include "listen.h"
#include "unit.h"

/* hashlib.pbkdf2_hmac('sha256', b'sekr et', b'0123456789abcdef', 100000) */
#define ALICE	"alice:$pbkdf2-sha256$100000$MDEyMzQ1Njc4OWFiY2RlZg==$" \
		"EFI180UlW60xzEVB0OLey18893oQXeXOxzovM7OpYgU="

static int
lauth_refused(const char *text, const char *want)
{
	struct lauth	 a = { NULL, 0 };
	char		 err[512] = "";
	int		 r;

	r = lauth_parse(&a, text, strlen(text), err, sizeof(err));
	lauth_free(&a);
	EXPECT_INT("lauth_parse", r, -1);
	return EXPECT_HAS("error", err, want);
}

static double
lauth_now(void)
{
	struct timespec	 t;

	(void)clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * An unknown user costs the PBKDF2 of a known one.  Timed, so with a
 * wide margin: 300000 rounds against the 100000 an unknown user once
 * got (a third of the time: the name did not exist).
 */
static void
lauth_timing(void)
{
	struct lauth	 a = { NULL, 0 };
	char		 line[512], err[256];
	double		 t0, known = 0, unknown = 0;
	int		 i;

	CASE("lauth: an unknown user takes as long as a known one");
	EXPECT_INT("make", lauth_make("app", "pw", 2, 3 * LAUTH_MINROUNDS,
	    line, sizeof(line), err, sizeof(err)), 0);
	EXPECT_INT("parse", lauth_parse(&a, line, strlen(line), err,
	    sizeof(err)), 0);
	for (i = 0; i < 2; i++) {
		t0 = lauth_now();
		(void)lauth_check(&a, "app", "px", 2);
		known += lauth_now() - t0;
		t0 = lauth_now();
		(void)lauth_check(&a, "nobody", "px", 2);
		unknown += lauth_now() - t0;
	}
	EXPECT(unknown > 0.6 * known, "unknown user %.0f ms, known %.0f ms",
	    unknown * 500, known * 500);
	lauth_free(&a);
	END();
}

void
test_lauth(void)
{
	static const unsigned char v1[] = {
	    0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f, 0xec, 0x16, 0x91,
	    0xc2, 0x25, 0x44, 0xb6, 0x05, 0xf9, 0x41, 0x85, 0x21, 0x6d, 0xde,
	    0x04, 0x65, 0xe6, 0x8b, 0x9d, 0x57, 0xc2, 0x0d, 0xac, 0xbc, 0x49,
	    0xca, 0x9c, 0xcc, 0xf1, 0x79, 0xb6, 0x45, 0x99, 0x16, 0x64, 0xb3,
	    0x9d, 0x77, 0xef, 0x31, 0x7c, 0x71, 0xb8, 0x45, 0xb1, 0xe3, 0x0b,
	    0xd5, 0x09, 0x11, 0x20, 0x41, 0xd3, 0xa1, 0x97, 0x83 };
	static const unsigned char v2[] = {
	    0x4d, 0xdc, 0xd8, 0xf6, 0x0b, 0x98, 0xbe, 0x21, 0x83, 0x0c, 0xee,
	    0x5e, 0xf2, 0x27, 0x01, 0xf9, 0x64, 0x1a, 0x44, 0x18, 0xd0, 0x4c,
	    0x04, 0x14, 0xae, 0xff, 0x08, 0x87, 0x6b, 0x34, 0xab, 0x56, 0xa1,
	    0xd4, 0x25, 0xa1, 0x22, 0x58, 0x33, 0x54, 0x9a, 0xdb, 0x84, 0x1b,
	    0x51, 0xc9, 0xb3, 0x17, 0x6a, 0x27, 0x2b, 0xde, 0xbb, 0xa1, 0xd0,
	    0x78, 0x47, 0x8f, 0x62, 0xb3, 0x97, 0xf3, 0x3c, 0x8d };
	struct lauth	 a = { NULL, 0 };
	unsigned char	 out[64];
	char		 err[512] = "", line[512];
	const char	*text;

	CASE("lauth: PBKDF2-HMAC-SHA256, RFC 7914 section 11 vectors");
	EXPECT_INT("passwd/salt/1", auth_pbkdf2_sha256((const unsigned char *)
	    "passwd", 6, (const unsigned char *)"salt", 4, 1, out,
	    sizeof(out)), 0);
	EXPECT_MEM("passwd/salt/1 key", out, sizeof(out), v1, sizeof(v1));
	EXPECT_INT("Password/NaCl/80000", auth_pbkdf2_sha256(
	    (const unsigned char *)"Password", 8, (const unsigned char *)"NaCl",
	    4, 80000, out, sizeof(out)), 0);
	EXPECT_MEM("Password/NaCl/80000 key", out, sizeof(out), v2,
	    sizeof(v2));
	END();

	CASE("lauth: a line made by Python's hashlib verifies");
	text = "# users of the listener\n\n" ALICE "\r\nbob:$pbkdf2-sha256$"
	    "100000$c2FsdA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	EXPECT_INT("parse", lauth_parse(&a, text, strlen(text), err,
	    sizeof(err)), 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("users", a.n, 2);
	EXPECT_INT("alice's line", a.n > 0 ? a.v[0].line : 0, 3);
	EXPECT_INT("alice, right password", lauth_check(&a, "alice",
	    "sekr et", 7), 1);
	EXPECT_INT("alice, wrong password", lauth_check(&a, "alice",
	    "sekr eT", 7), 0);
	EXPECT_INT("alice, the password's prefix", lauth_check(&a, "alice",
	    "sekr et", 6), 0);
	EXPECT_INT("an unknown user with alice's password", lauth_check(&a,
	    "carol", "sekr et", 7), 0);
	EXPECT_INT("user names are exact", lauth_check(&a, "Alice",
	    "sekr et", 7), 0);
	lauth_free(&a);
	END();

	CASE("lauth: listen-passwd's line verifies, a new salt each time");
	EXPECT_INT("make", lauth_make("svc.grafana@example.org", "pa:ss word",
	    10, LAUTH_MINROUNDS, line, sizeof(line), err, sizeof(err)), 0);
	EXPECT(starts_with(line, "svc.grafana@example.org:$pbkdf2-sha256$"
	    "100000$"), "line: %s", line);
	EXPECT_INT("parse", lauth_parse(&a, line, strlen(line), err,
	    sizeof(err)), 0);
	EXPECT_INT("check", lauth_check(&a, "svc.grafana@example.org",
	    "pa:ss word", 10), 1);
	EXPECT_INT("salt length", a.n == 1 ? a.v[0].saltlen : 0, 16);
	lauth_free(&a);
	{
		char	 again[512];

		(void)lauth_make("u", "x", 1, LAUTH_MINROUNDS, line,
		    sizeof(line), err, sizeof(err));
		(void)lauth_make("u", "x", 1, LAUTH_MINROUNDS, again,
		    sizeof(again), err, sizeof(err));
		EXPECT(strcmp(line, again) != 0, "same line twice: %s", line);
	}
	EXPECT_INT("a name with a colon", lauth_make("a:b", "x", 1,
	    LAUTH_MINROUNDS, line, sizeof(line), err, sizeof(err)), -1);
	EXPECT_HAS("its error", err, "bad user name");
	END();

	CASE("lauth: no colon");
	lauth_refused("alice\n", "line 1: not \"user:");
	END();
	CASE("lauth: another scheme (crypt's $6$)");
	lauth_refused("# x\nalice:$6$salt$hash\n", "line 2: the hash of alice "
	    "is not $pbkdf2-sha256$");
	END();
	CASE("lauth: fewer rounds than the minimum");
	lauth_refused("a:$pbkdf2-sha256$99999$c2FsdA==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "the rounds of a are too small (100000-10000000)");
	END();
	CASE("lauth: rounds not a number");
	lauth_refused("a:$pbkdf2-sha256$1e6$c2FsdA==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "invalid");
	END();
	CASE("lauth: a key that is not base64");
	lauth_refused("a:$pbkdf2-sha256$100000$c2FsdA==$!!!!",
	    "is not base64");
	END();
	CASE("lauth: a key too short to be a SHA-256 output");
	lauth_refused("a:$pbkdf2-sha256$100000$c2FsdA==$AAAA",
	    "is not base64");
	END();
	CASE("lauth: a fourth field");
	lauth_refused("a:$pbkdf2-sha256$100000$c2FsdA==$AAAA$x",
	    "is not $pbkdf2-sha256$ROUNDS$SALT$KEY");
	END();
	CASE("lauth: a user name with a space");
	lauth_refused("a b:$pbkdf2-sha256$100000$c2FsdA==$AAAA",
	    "bad user name");
	END();
	CASE("lauth: the same user twice");
	lauth_refused(ALICE "\n" ALICE "\n", "line 2: user alice again (first "
	    "on line 1)");
	END();
	lauth_timing();
}
