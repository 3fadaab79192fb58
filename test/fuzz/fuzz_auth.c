/*
 * SMTP AUTH against a hostile server: the 334 challenges, base64 as on
 * the wire, decoded the way smtp_sasl() does (mbedtls_base64_decode into
 * the same buffer) and fed to auth_step() for the mechanism that the
 * first byte picks; the RFC 7677 nonce, user and password, so that the
 * RFC's SCRAM-SHA-256 exchange in the seeds runs to the server proof.
 * The rest of the input is one challenge per line, four at most (the
 * limit of smtp_sasl).
 *
 * Oracle: base64 that decodes re-encodes to the same bytes; an error
 * message holds no control character (it goes into the log line and the
 * bounce); the OAuth detail likewise; the password never appears in a
 * SCRAM or CRAM-MD5 response; SCRAM finishes only after the server
 * signature verified, which needs the password.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "relayq.h"
#include "client.h"
#include "fuzz.h"

static const char *const mechs[] = {
	"SCRAM-SHA-256", "PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER",
	"CRAM-MD5"
};
static const char	 secret[] = "pencil";

static void
check_text(const char *s, size_t sz)
{
	if (memchr(s, '\0', sz) == NULL)
		abort();
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

/* decode like smtp_sasl; a decoded challenge survives a round trip */
static int
decode(const uint8_t *text, size_t len, char *raw, size_t rawsz,
    size_t *rawlen)
{
	static unsigned char	 b64[(AUTH_SECRET_MAX + 1024) * 4 / 3 + 8],
				 again[AUTH_SECRET_MAX + 1024];
	size_t			 blen, alen;

	if (mbedtls_base64_decode((unsigned char *)raw, rawsz, rawlen, text,
	    len) != 0)
		return -1;
	if (*rawlen > rawsz ||
	    mbedtls_base64_encode(b64, sizeof(b64), &blen,
	    (unsigned char *)raw, *rawlen) != 0 ||
	    mbedtls_base64_decode(again, sizeof(again), &alen, b64,
	    blen) != 0 || alen != *rawlen || memcmp(again, raw, alen) != 0)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 raw[AUTH_SECRET_MAX + 1024];
	const struct auth_mech	*m;
	struct auth		 a;
	const uint8_t		*p, *end = data + size, *nl;
	char			 err[512];
	size_t			 rawlen, n;
	int			 round, rc = 0;

	if (size == 0)
		return 0;
	n = data[0] % (sizeof(mechs) / sizeof(mechs[0]));
	if ((m = auth_mech_byname(mechs[n], strlen(mechs[n]))) == NULL)
		abort();
	auth_start(&a, m, "user", secret, "mx.test", "587",
	    "rOprNGfwEbeRWgbNEkqO");
	memset(err, 0, sizeof(err));
	if (auth_step(&a, NULL, 0, raw, sizeof(raw), &rawlen, err,
	    sizeof(err)) == -1)
		abort();	/* the initial response cannot fail here */
	for (p = data + 1, round = 0; p < end && round < 4; round++) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (decode(p, (size_t)(nl - p), raw, sizeof(raw),
		    &rawlen) == -1)
			break;	/* smtp_sasl cancels with "*" */
		p = nl + 1;
		err[0] = '\0';
		if ((rc = auth_step(&a, raw, rawlen, raw, sizeof(raw), &rawlen,
		    err, sizeof(err))) == -1) {
			if (err[0] == '\0')
				abort();
			check_text(err, sizeof(err));
			break;
		}
		if (rawlen > sizeof(raw))
			abort();
		if ((m->id == AUTH_SCRAM || m->id == AUTH_CRAMMD5) &&
		    memmem(raw, rawlen, secret, sizeof(secret) - 1) != NULL)
			abort();
	}
	check_text(a.detail, sizeof(a.detail));
	err[0] = '\0';
	if (m->id == AUTH_SCRAM && auth_finished(&a, err, sizeof(err)) == 0 &&
	    (!a.verified || a.step != 3 || rc != 0))
		abort();
	auth_done(&a);
	return 0;
}
