/*
 * The server's side of SASL PLAIN (RFC 4616) and LOGIN for sendmail -bs
 * under the listener (bs.c): base64 (RFC 4648 4, padding required, no
 * white space) and PLAIN's "authzid NUL authcid NUL passwd".  Pure
 * functions over buffers (test/unit_sasl.c, test/fuzz/fuzz_bs.c feeds
 * them through the session).  sendmail carries no TLS library, hence
 * its own decoder; the client side (auth.c) uses mbedTLS's.
 */
#include <sys/types.h>

#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"

static int
sasl_b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * base64 `in' (len characters) into out, at most outsz bytes.  The
 * number of bytes, or -1 when it is not canonical base64 or does not
 * fit.  "" decodes to 0 bytes.
 */
ssize_t
sasl_b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
	size_t		 i, n = 0, pad = 0;
	int		 v[4], k;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 ||
			    (v[k] = sasl_b64_value((unsigned char)in[i + k])) ==
			    -1)
				return -1;
		}
		if (n + 3 - pad > outsz)
			return -1;
		out[n++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
		/* the bits padding drops must be zero (canonical) */
		if ((pad == 2 && (v[1] & 0xf) != 0) ||
		    (pad == 1 && (v[2] & 0x3) != 0))
			return -1;
	}
	return (ssize_t)n;
}

/*
 * A user name we pass on and log: printable ASCII without space, 1 to
 * SASL_USERMAX bytes.  A password: 1 to SASL_PASSMAX bytes, no NUL, CR
 * or LF (the control channel carries it on one line).
 */
static int
sasl_user_ok(const char *u, size_t n)
{
	size_t	 i;

	if (n == 0 || n > SASL_USERMAX)
		return 0;
	for (i = 0; i < n; i++)
		if (u[i] <= ' ' || u[i] >= 0x7f)
			return 0;
	return 1;
}

static int
sasl_pass_ok(const char *p, size_t n)
{
	return n > 0 && n <= SASL_PASSMAX && memchr(p, '\0', n) == NULL &&
	    memchr(p, '\r', n) == NULL && memchr(p, '\n', n) == NULL;
}

/*
 * One base64 response of LOGIN (the user name, or the password) into
 * out (outsz >= SASL_PASSMAX + 1), NUL-terminated.  Its length, or -1.
 */
ssize_t
sasl_login(const char *b64, int is_user, char *out, size_t outsz)
{
	ssize_t	 n;

	if ((n = sasl_b64_decode(b64, strlen(b64), (unsigned char *)out,
	    outsz - 1)) <= 0)
		return -1;
	out[n] = '\0';
	if (is_user ? !sasl_user_ok(out, (size_t)n) :
	    !sasl_pass_ok(out, (size_t)n)) {
		explicit_bzero(out, outsz);
		return -1;
	}
	return n;
}

/*
 * PLAIN's response: user (NUL-terminated, usz >= SASL_USERMAX + 1) and
 * password (NUL-terminated, psz >= SASL_PASSMAX + 1).  An authorization
 * identity other than the user's own is refused: we do not act for
 * another.  The password's length, or -1.
 */
ssize_t
sasl_plain(const char *b64, char *user, size_t usz, char *pass, size_t psz)
{
	unsigned char	 raw[SASL_USERMAX * 2 + SASL_PASSMAX + 3];
	const char	*authz, *authc, *pw, *end;
	ssize_t		 n, rc = -1;
	size_t		 zl, cl, pl;

	if ((n = sasl_b64_decode(b64, strlen(b64), raw, sizeof(raw))) <= 0)
		return -1;
	authz = (const char *)raw;
	end = authz + n;
	if ((authc = memchr(authz, '\0', (size_t)n)) == NULL)
		goto done;
	zl = (size_t)(authc - authz);
	authc++;
	if ((pw = memchr(authc, '\0', (size_t)(end - authc))) == NULL)
		goto done;
	cl = (size_t)(pw - authc);
	pw++;
	pl = (size_t)(end - pw);
	if (!sasl_user_ok(authc, cl) || !sasl_pass_ok(pw, pl) ||
	    (zl > 0 && (zl != cl || memcmp(authz, authc, cl) != 0)) ||
	    cl >= usz || pl >= psz)
		goto done;
	memcpy(user, authc, cl);
	user[cl] = '\0';
	memcpy(pass, pw, pl);
	pass[pl] = '\0';
	rc = (ssize_t)pl;
 done:
	explicit_bzero(raw, sizeof(raw));
	return rc;
}
