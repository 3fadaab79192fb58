/*
 * Unit tests for src/sasl.c, the server side of AUTH PLAIN and LOGIN in
 * sendmail -bs: base64 (RFC 4648 section 10 vectors, non-canonical and
 * malformed input refused), PLAIN's three fields, LOGIN's responses.
 * Linked into test/unit; main() there calls test_sasl().
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "relayq.h"
#include "msg.h"
#include "unit.h"

static const char *
sasl_dec(const char *in, char *out, size_t sz)
{
	ssize_t	 n;

	if ((n = sasl_b64_decode(in, strlen(in), (unsigned char *)out,
	    sz - 1)) == -1)
		return "(error)";
	out[n] = '\0';
	return out;
}

void
test_sasl(void)
{
	char	 out[300], user[SASL_USERMAX + 1], pass[SASL_PASSMAX + 1];

	CASE("sasl: base64, RFC 4648 section 10");
	EXPECT_STR("empty", sasl_dec("", out, sizeof(out)), "");
	EXPECT_STR("f", sasl_dec("Zg==", out, sizeof(out)), "f");
	EXPECT_STR("fo", sasl_dec("Zm8=", out, sizeof(out)), "fo");
	EXPECT_STR("foo", sasl_dec("Zm9v", out, sizeof(out)), "foo");
	EXPECT_STR("foob", sasl_dec("Zm9vYg==", out, sizeof(out)), "foob");
	EXPECT_STR("fooba", sasl_dec("Zm9vYmE=", out, sizeof(out)), "fooba");
	EXPECT_STR("foobar", sasl_dec("Zm9vYmFy", out, sizeof(out)),
	    "foobar");
	END();

	CASE("sasl: base64 refused: no padding, bad characters, padding "
	    "inside, non-zero dropped bits, too long for the buffer");
	EXPECT_STR("no padding", sasl_dec("Zg", out, sizeof(out)), "(error)");
	EXPECT_STR("space", sasl_dec("Zm9 v", out, sizeof(out)), "(error)");
	EXPECT_STR("!", sasl_dec("Zm9!", out, sizeof(out)), "(error)");
	EXPECT_STR("= inside", sasl_dec("Zg==Zm9v", out, sizeof(out)),
	    "(error)");
	EXPECT_STR("=x", sasl_dec("Zg=v", out, sizeof(out)), "(error)");
	EXPECT_STR("Zh== (bits)", sasl_dec("Zh==", out, sizeof(out)),
	    "(error)");
	EXPECT_STR("too long", sasl_dec("Zm9vYmFy", out, 6), "(error)");
	END();

	CASE("sasl: PLAIN: authcid and password; authzid empty or the same");
	/* "\0app\0s3cret pass" */
	EXPECT_INT("no authzid", sasl_plain("AGFwcABzM2NyZXQgcGFzcw==", user,
	    sizeof(user), pass, sizeof(pass)), 11);
	EXPECT_STR("user", user, "app");
	EXPECT_STR("pass", pass, "s3cret pass");
	/* "app\0app\0x" */
	EXPECT_INT("authzid = authcid", sasl_plain("YXBwAGFwcAB4", user,
	    sizeof(user), pass, sizeof(pass)), 1);
	/* "root\0app\0x": acting for another is refused */
	EXPECT_INT("another authzid", sasl_plain("cm9vdABhcHAAeA==", user,
	    sizeof(user), pass, sizeof(pass)), -1);
	/* "\0app" */
	EXPECT_INT("one NUL", sasl_plain("AGFwcA==", user, sizeof(user),
	    pass, sizeof(pass)), -1);
	/* "\0app\0" */
	EXPECT_INT("empty password", sasl_plain("AGFwcAA=", user,
	    sizeof(user), pass, sizeof(pass)), -1);
	/* "\0a p\0x" */
	EXPECT_INT("a space in the user", sasl_plain("AGEgcAB4", user,
	    sizeof(user), pass, sizeof(pass)), -1);
	/* "\0app\0x\ny" */
	EXPECT_INT("a LF in the password", sasl_plain("AGFwcAB4Cnk=", user,
	    sizeof(user), pass, sizeof(pass)), -1);
	END();

	CASE("sasl: LOGIN: the user, then the password");
	EXPECT_INT("user", sasl_login("YXBw", 1, user, sizeof(user)), 3);
	EXPECT_STR("user", user, "app");
	EXPECT_INT("password with a space", sasl_login("YSBi", 0, pass,
	    sizeof(pass)), 3);
	EXPECT_INT("user with a space", sasl_login("YSBi", 1, user,
	    sizeof(user)), -1);
	EXPECT_INT("empty", sasl_login("", 0, pass, sizeof(pass)), -1);
	END();
}
