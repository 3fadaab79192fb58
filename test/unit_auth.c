/*
 * Unit tests for src/auth.c: SASL mechanisms over buffers, with the RFCs' own
 * vectors.
 * Linked into test/unit; group auth in unit.c's table.
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
#include "client.h"
#include "unit.h"

/* auth.c: SASL mechanisms over buffers, with the RFCs' own vectors */
static void
auth_run(struct auth *a, const char *ch, const char *want, const char *name)
{
	char	 out[1024], err[256] = "";
	size_t	 olen = 0;
	int	 rc;

	rc = auth_step(a, ch, ch != NULL ? strlen(ch) : 0, out, sizeof(out),
	    &olen, err, sizeof(err));
	CASE(name);
	EXPECT_INT("auth_step", rc, 0);
	EXPECT_MEM("response", out, olen, want, strlen(want));
	END();
}

/*
 * A SCRAM-SHA-256 exchange with client nonce `nonce' up to the challenge
 * `ch' (after the server-first `sf' when not NULL): auth_step's result
 * for it, its error in `err'.
 */
static int
scram_upto(const char *nonce, const char *sf, const char *ch, char *err,
    size_t errsz)
{
	struct auth	 a;
	char		 out[1024];
	size_t		 olen;
	int		 rc;

	auth_start(&a, auth_mech_byname("SCRAM-SHA-256", 13), "user", "pencil",
	    "h", "587", nonce);
	(void)auth_step(&a, NULL, 0, out, sizeof(out), &olen, err, errsz);
	if (sf != NULL)
		(void)auth_step(&a, sf, strlen(sf), out, sizeof(out), &olen,
		    err, errsz);
	rc = auth_step(&a, ch, strlen(ch), out, sizeof(out), &olen, err,
	    errsz);
	auth_done(&a);
	return rc;
}

void
test_auth(void)
{
	const struct auth_mech	*scram, *order[AUTH_MAXMECHS];
	struct auth		 a;
	struct conf		 c;
	char			 out[1024], err[256];
	size_t			 olen, n;
	int			 rc;
	static const char sf[] = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj"
	    ")hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

	scram = auth_mech_byname("scram-sha-256", 13);
	CASE("auth: SCRAM-SHA-256 known by name, any case");
	EXPECT(scram != NULL && scram->id == AUTH_SCRAM, "not found");
	END();
	if (scram == NULL)
		return;
	/* RFC 7677 section 3 */
	auth_start(&a, scram, "user", "pencil", "h", "587",
	    "rOprNGfwEbeRWgbNEkqO");
	auth_run(&a, NULL, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "auth: SCRAM-SHA-256 client-first (RFC 7677)");
	auth_run(&a, sf, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
	    "hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "auth: SCRAM-SHA-256 client-final with the RFC 7677 proof");
	auth_run(&a, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "",
	    "auth: SCRAM-SHA-256 server signature of RFC 7677 verifies");
	CASE("auth: SCRAM-SHA-256 finished only after the server proof");
	EXPECT_INT("auth_finished", auth_finished(&a, err, sizeof(err)), 0);
	END();
	auth_done(&a);

	auth_start(&a, scram, "user", "pencil", "h", "587",
	    "rOprNGfwEbeRWgbNEkqO");
	(void)auth_step(&a, NULL, 0, out, sizeof(out), &olen, err, sizeof(err));
	(void)auth_step(&a, sf, strlen(sf), out, sizeof(out), &olen, err,
	    sizeof(err));
	rc = auth_step(&a, "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", 46,
	    out, sizeof(out), &olen, err, sizeof(err));
	CASE("auth: SCRAM-SHA-256 wrong server signature is refused");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "server signature does not verify");
	EXPECT(auth_finished(&a, err, sizeof(err)) == -1, "finished");
	END();
	auth_done(&a);

	rc = scram_upto("abc", NULL, "r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 server nonce must extend ours");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "server nonce does not extend");
	END();

	rc = scram_upto("abc", NULL, "r=abcdef,s=QSXCR+Q6sek8bf92,i=1", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 iteration count below 4096 refused");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "iteration count \"1\"");
	END();

	rc = scram_upto("abc", NULL, "r=abcdef,s=QSXCR+Q6sek8bf92,i=9\r\n", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 iteration count from the server is escaped "
	    "in the error");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_STR("error", err, "SCRAM-SHA-256: iteration count \"9\\r\\n\" "
	    "outside 4096..1000000");
	END();

	rc = scram_upto("rOprNGfwEbeRWgbNEkqO", sf, "e=x\033[1m\nS: 250", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 server error text is escaped (fuzz_auth)");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_STR("error", err, "SCRAM-SHA-256: server error "
	    "\"x\\033[1m\\nS: 250\"");
	END();

	rc = scram_upto("abc", NULL, "m=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096",
	    err, sizeof(err));
	CASE("auth: SCRAM-SHA-256 unknown mandatory extension refused");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "requires an extension");
	END();

	auth_start(&a, scram, "a,b=c", "pencil", "h", "587", "n1");
	auth_run(&a, NULL, "n,,n=a=2Cb=3Dc,r=n1",
	    "auth: SCRAM-SHA-256 user name escapes ',' and '='");
	auth_done(&a);

	/* RFC 2195 section 2 */
	auth_start(&a, auth_mech_byname("CRAM-MD5", 8), "tim",
	    "tanstaaftanstaaf", "h", "587", "n");
	auth_run(&a, NULL, "", "auth: CRAM-MD5 has no initial response");
	auth_run(&a, "<1896.697170952@postoffice.reston.mci.net>",
	    "tim b913a602c7eda7a495b4e6e7334d3890",
	    "auth: CRAM-MD5 digest of RFC 2195");
	auth_done(&a);

	auth_start(&a, auth_mech_byname("PLAIN", 5), "u", "pw", "h", "587",
	    "n");
	CASE("auth: PLAIN initial response is NUL user NUL password");
	EXPECT_INT("auth_step", auth_step(&a, NULL, 0, out, sizeof(out),
	    &olen, err, sizeof(err)), 0);
	EXPECT_MEM("response", out, olen, "\0u\0pw", 5);
	END();
	auth_done(&a);

	auth_start(&a, auth_mech_byname("XOAUTH2", 7), "u@example.org", "tok",
	    "smtp.example.org", "587", "n");
	auth_run(&a, NULL, "user=u@example.org\001auth=Bearer tok\001\001",
	    "auth: XOAUTH2 initial response");
	auth_run(&a, "{\"status\":\"401\"}", "",
	    "auth: XOAUTH2 error challenge answered with an empty line");
	CASE("auth: XOAUTH2 error JSON kept for the message");
	EXPECT_STR("detail", a.detail, "{\"status\":\"401\"}");
	END();
	auth_done(&a);

	auth_start(&a, auth_mech_byname("OAUTHBEARER", 11), "u@example.org",
	    "tok", "smtp.example.org", "587", "n");
	auth_run(&a, NULL, "n,a=u@example.org,\001host=smtp.example.org\001"
	    "port=587\001auth=Bearer tok\001\001",
	    "auth: OAUTHBEARER initial response (RFC 7628)");
	auth_run(&a, "{\"status\":\"invalid_token\"}", "\001",
	    "auth: OAUTHBEARER error challenge answered with %x01");
	auth_done(&a);

	conf_init(&c);
	n = auth_order(&c.route[0], order, AUTH_MAXMECHS);
	CASE("auth: default order SCRAM-SHA-256 PLAIN LOGIN, no CRAM-MD5");
	EXPECT_INT("count", n, 3);
	EXPECT(n == 3 && order[0]->id == AUTH_SCRAM &&
	    order[1]->id == AUTH_PLAIN && order[2]->id == AUTH_LOGIN,
	    "wrong order");
	END();
	c.route[0].auth_mechanisms = (char *)"xoauth2, CRAM-MD5 PLAIN";
	n = auth_order(&c.route[0], order, AUTH_MAXMECHS);
	CASE("auth: auth_mechanisms sets the order");
	EXPECT_INT("count", n, 3);
	EXPECT(n == 3 && order[0]->id == AUTH_XOAUTH2 &&
	    order[1]->id == AUTH_CRAMMD5 && order[2]->id == AUTH_PLAIN,
	    "wrong order");
	END();
	CASE("auth: unknown mechanism in auth_mechanisms refused");
	EXPECT_INT("auth_check_list", auth_check_list("PLAIN DIGEST-MD5", err,
	    sizeof(err)), -1);
	EXPECT_HAS("error", err, "unknown mechanism \"DIGEST-MD5\"");
	END();
	conf_init(&c);
	CASE("conf: tls_fingerprint, several per line, colons and case");
	EXPECT_INT("conf_set", conf_set(&c, "tls_fingerprint", "sha256:"
	    "0c5694c9573888989699b89dfd634e4a2ce6ccce8ec275e82fd164838c38b95e,"
	    " SHA256:C2:6D:21:1F:6E:48:62:96:0C:19:76:39:22:E2:F1:BB:C0:F6:B0:"
	    "EE:32:1A:4C:F3:19:FA:40:84:04:8E:B3:5A", err, sizeof(err)), 0);
	EXPECT_INT("pins", c.route[0].ntls_pin, 2);
	EXPECT(c.route[0].tls_pin[0][0] == 0x0c && c.route[0].tls_pin[0][31] == 0x5e &&
	    c.route[0].tls_pin[1][0] == 0xc2 && c.route[0].tls_pin[1][31] == 0x5a, "bytes");
	END();
	CASE("conf: tls_fingerprint of 63 hex digits refused");
	EXPECT_INT("conf_set", conf_set(&c, "tls_fingerprint", "sha256:"
	    "0c5694c9573888989699b89dfd634e4a2ce6ccce8ec275e82fd164838c38b95",
	    err, sizeof(err)), -1);
	END();
	CASE("conf: tls_fingerprint other than sha256 refused");
	EXPECT_INT("conf_set", conf_set(&c, "tls_fingerprint", "sha1:"
	    "0c5694c9573888989699b89dfd634e4a2ce6ccce", err, sizeof(err)), -1);
	EXPECT_HAS("error", err, "is not sha256: and 64 hex digits");
	END();
	conf_free(&c);
	{
		static const struct {
			const char	*pat, *host;
			int		 want;
		} nm[] = {
			{ "smtp.example.net", "smtp.example.net", 1 },
			{ "SMTP.Example.NET", "smtp.example.net", 1 },
			{ "smtp.example.net", "smtp.example.net.", 1 },
			{ "smtp.example.net", "mail.example.net", 0 },
			{ "*.example.net", "smtp.example.net", 1 },
			{ "*.example.net", "a.smtp.example.net", 0 },
			{ "*.example.net", "example.net", 0 },
			{ "*.example.net", ".example.net", 0 },
			{ "*.net", "example.net", 0 },
			{ "s*.example.net", "smtp.example.net", 0 },
			{ "*", "localhost", 0 },
			{ "*.*.net", "a.b.net", 0 },
			{ "smtp.example.net.evil", "smtp.example.net", 0 },
		};
		size_t	 k;

		for (k = 0; k < sizeof(nm) / sizeof(nm[0]); k++) {
			(void)snprintf(out, sizeof(out), "tls: name \"%s\" "
			    "%s \"%s\"", nm[k].pat, nm[k].want ? "matches" :
			    "does not match", nm[k].host);
			CASE(out);
			EXPECT_INT("tls_name_match", tls_name_match(
			    (const unsigned char *)nm[k].pat,
			    strlen(nm[k].pat), nm[k].host), nm[k].want);
			END();
		}
	}
	CASE("auth: EHLO AUTH list to capabilities");
	EXPECT_INT("caps", auth_caps("PLAIN SCRAM-SHA-256 GSSAPI login"),
	    CAP_AUTH_PLAIN | CAP_AUTH_SCRAM | CAP_AUTH_LOGIN);
	END();
}
