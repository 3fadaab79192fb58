/*
 * SASL mechanisms for SMTP AUTH (RFC 4954), client side: SCRAM-SHA-256
 * (RFC 5802, 7677), PLAIN (RFC 4616), LOGIN, XOAUTH2, OAUTHBEARER
 * (RFC 7628) and CRAM-MD5 (RFC 2195, only when auth_mechanisms names it).
 *
 * Pure functions over buffers: auth_step() is fed the decoded server
 * challenge and produces the next client response, so the unit tests run
 * the RFC 7677 test vector without a network.  The secret (password or
 * token) and everything derived from it live in the struct auth and in
 * the caller's buffers; auth_done() wipes the struct.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/version.h>

#include "relayq.h"
#include "client.h"

#define AUTH_SCRAM_MINITER	4096	/* RFC 7677 section 4 */
#define AUTH_SCRAM_MAXITER	1000000	/* a hostile server cannot pin a CPU */

static const struct auth_mech auth_mechs[] = {
	{ "SCRAM-SHA-256",	AUTH_SCRAM,	CAP_AUTH_SCRAM,		1 },
	{ "PLAIN",		AUTH_PLAIN,	CAP_AUTH_PLAIN,		1 },
	{ "LOGIN",		AUTH_LOGIN,	CAP_AUTH_LOGIN,		1 },
	{ "XOAUTH2",		AUTH_XOAUTH2,	CAP_AUTH_XOAUTH2,	0 },
	{ "OAUTHBEARER",	AUTH_OAUTHBEARER, CAP_AUTH_OAUTHBEARER,	0 },
	{ "CRAM-MD5",		AUTH_CRAMMD5,	CAP_AUTH_CRAMMD5,	0 },
};
#define AUTH_NMECHS	(sizeof(auth_mechs) / sizeof(auth_mechs[0]))

/* The mechanism called `name' (any case), or NULL. */
const struct auth_mech *
auth_mech_byname(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < AUTH_NMECHS; i++)
		if (strlen(auth_mechs[i].name) == len &&
		    strncasecmp(auth_mechs[i].name, name, len) == 0)
			return &auth_mechs[i];
	return NULL;
}

/* EHLO "AUTH" keyword arguments to CAP_AUTH_* bits. */
unsigned int
auth_caps(const char *list)
{
	const struct auth_mech	*m;
	unsigned int		 caps = 0;
	size_t			 n;

	while (*list != '\0') {
		n = strcspn(list, " ");
		if ((m = auth_mech_byname(list, n)) != NULL)
			caps |= m->cap;
		list += n;
		list += strspn(list, " ");
	}
	return caps;
}

/*
 * The mechanisms to try, in order: auth_mechanisms when set (checked by
 * auth_check_list), else those a password serves, strongest first.
 * CRAM-MD5 and the token mechanisms are never chosen by default: CRAM-MD5
 * makes the server keep the password in clear, and a token is no password.
 */
size_t
auth_order(const struct route *r, const struct auth_mech **out, size_t max)
{
	const char	*p = r->auth_mechanisms;
	size_t		 i, n = 0, len;

	if (p == NULL) {
		for (i = 0; i < AUTH_NMECHS && n < max; i++)
			if (auth_mechs[i].dflt)
				out[n++] = &auth_mechs[i];
		return n;
	}
	while (*p != '\0' && n < max) {
		p += strspn(p, " ,");
		len = strcspn(p, " ,");
		if (len > 0 && (out[n] = auth_mech_byname(p, len)) != NULL)
			n++;
		p += len;
	}
	return n;
}

/* Config check for auth_mechanisms: every name known. */
int
auth_check_list(const char *list, char *err, size_t errsz)
{
	const char	*p = list;
	size_t		 len;

	while (*p != '\0') {
		p += strspn(p, " ,");
		if ((len = strcspn(p, " ,")) == 0)
			break;
		if (auth_mech_byname(p, len) == NULL) {
			(void)snprintf(err, errsz, "auth_mechanisms: unknown "
			    "mechanism \"%.*s\" (known: SCRAM-SHA-256 PLAIN "
			    "LOGIN XOAUTH2 OAUTHBEARER CRAM-MD5)", (int)len, p);
			return -1;
		}
		p += len;
	}
	return 0;
}

void
auth_start(struct auth *a, const struct auth_mech *m, const char *user,
    const char *secret, const char *host, const char *port,
    const char *nonce)
{
	unsigned char	 rnd[18];
	size_t		 olen;

	memset(a, 0, sizeof(*a));
	a->mech = m;
	a->user = user;
	a->secret = secret;
	a->host = host;
	a->port = port;
	if (nonce != NULL)
		(void)strlcpy(a->nonce, nonce, sizeof(a->nonce));
	else {
		/* 18 bytes -> 24 base64 characters, never ',' */
		arc4random_buf(rnd, sizeof(rnd));
		(void)mbedtls_base64_encode((unsigned char *)a->nonce,
		    sizeof(a->nonce), &olen, rnd, sizeof(rnd));
		a->nonce[olen] = '\0';
		explicit_bzero(rnd, sizeof(rnd));
	}
}

void
auth_done(struct auth *a)
{
	explicit_bzero(a, sizeof(*a));
}

static int
auth_hmac(const char *mdname, const unsigned char *key, size_t klen,
    const void *in, size_t inlen, unsigned char *out)
{
	const mbedtls_md_info_t	*md = mbedtls_md_info_from_string(mdname);

	if (md == NULL)
		return -1;
	return mbedtls_md_hmac(md, key, klen, in, inlen, out) == 0 ? 0 : -1;
}

/*
 * PBKDF2-HMAC-SHA256 (RFC 8018 5.2): SCRAM's salted password, and the
 * listener's password hashes (listen_auth.c).  0, or -1.
 */
int
auth_pbkdf2_sha256(const unsigned char *pass, size_t passlen,
    const unsigned char *salt, size_t saltlen, unsigned int rounds,
    unsigned char *out, size_t outlen)
{
	int			 r;
#if MBEDTLS_VERSION_NUMBER >= 0x03030000	/* _ext since 3.3 */
	r = mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, pass, passlen,
	    salt, saltlen, rounds, (uint32_t)outlen, out);
#else
	mbedtls_md_context_t	 md;

	mbedtls_md_init(&md);
	r = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    1);
	if (r == 0)
		r = mbedtls_pkcs5_pbkdf2_hmac(&md, pass, passlen, salt, saltlen,
		    rounds, (uint32_t)outlen, out);
	mbedtls_md_free(&md);
#endif
	return r == 0 ? 0 : -1;
}

/* RFC 5802 5.1 saslname: ',' -> "=2C", '=' -> "=3D" */
static int
auth_saslname(char *out, size_t sz, const char *in)
{
	size_t	 n = 0;

	for (; *in != '\0'; in++) {
		if (n + 4 > sz)
			return -1;
		if (*in == ',' || *in == '=') {
			memcpy(out + n, *in == ',' ? "=2C" : "=3D", 3);
			n += 3;
		} else
			out[n++] = *in;
	}
	out[n] = '\0';
	return 0;
}

/* "k=" attribute value from a SCRAM message, or NULL */
static const char *
auth_scram_attr(const char *msg, char k, size_t *len)
{
	const char	*p = msg;

	for (;;) {
		if (p[0] == k && p[1] == '=') {
			*len = strcspn(p + 2, ",");
			return p + 2;
		}
		if ((p = strchr(p, ',')) == NULL)
			return NULL;
		p++;
	}
}

/*
 * server-first "r=NONCE,s=SALT,i=ITER" -> client-final with the proof;
 * the expected server signature is kept for the last step.  The password
 * is used as given (no SASLprep): right for every ASCII password.
 */
static int
auth_scram_final(struct auth *a, const char *sf, char *out, size_t outsz,
    char *err, size_t errsz)
{
	const char	*r, *s, *i, *errstr;
	char		 num[16], safe[64], amsg[1536], nobare[600];
	unsigned char	 salt[128], salted[32], ckey[32], skey[32], stored[32],
			 csig[32], proof[32];
	size_t		 rl, sl, il, saltlen, olen, k;
	long long	 iter;
	int		 rc = -1;

	/* RFC 5802 5.1: a mandatory extension we do not know ends it */
	if (strncmp(sf, "m=", 2) == 0) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: server requires an "
		    "extension relayq does not support");
		goto done;
	}
	if ((r = auth_scram_attr(sf, 'r', &rl)) == NULL ||
	    (s = auth_scram_attr(sf, 's', &sl)) == NULL ||
	    (i = auth_scram_attr(sf, 'i', &il)) == NULL ||
	    il >= sizeof(num)) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: malformed server "
		    "challenge");
		goto done;
	}
	/* the server's nonce must extend ours (RFC 5802 5.1) */
	if (rl <= strlen(a->nonce) || strncmp(r, a->nonce,
	    strlen(a->nonce)) != 0) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: server nonce does "
		    "not extend the client nonce");
		goto done;
	}
	memcpy(num, i, il);
	num[il] = '\0';
	iter = strtonum(num, 1, AUTH_SCRAM_MAXITER, &errstr);
	if (errstr != NULL || iter < AUTH_SCRAM_MINITER) {
		/* the server's bytes go into the log line: escaped */
		util_sanitise(safe, sizeof(safe), num, il);
		(void)snprintf(err, errsz, "SCRAM-SHA-256: iteration count "
		    "\"%s\" outside %d..%d", safe, AUTH_SCRAM_MINITER,
		    AUTH_SCRAM_MAXITER);
		goto done;
	}
	if (mbedtls_base64_decode(salt, sizeof(salt), &saltlen,
	    (const unsigned char *)s, sl) != 0 || saltlen == 0) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: bad salt");
		goto done;
	}
	/* "c=biws" is base64("n,,"): no channel binding, no authzid */
	if ((size_t)snprintf(nobare, sizeof(nobare), "c=biws,r=%.*s", (int)rl,
	    r) >= sizeof(nobare) ||
	    (size_t)snprintf(amsg, sizeof(amsg), "%s,%s,%s", a->first, sf,
	    nobare) >= sizeof(amsg)) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: message too long");
		goto done;
	}
	if (auth_pbkdf2_sha256((const unsigned char *)a->secret,
	    strlen(a->secret), salt, saltlen, (unsigned int)iter, salted,
	    sizeof(salted)) == -1)
		goto crypto;
	if (auth_hmac("SHA256", salted, 32, "Client Key", 10, ckey) == -1 ||
	    mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), ckey, 32,
	    stored) != 0 ||
	    auth_hmac("SHA256", stored, 32, amsg, strlen(amsg), csig) == -1 ||
	    auth_hmac("SHA256", salted, 32, "Server Key", 10, skey) == -1 ||
	    auth_hmac("SHA256", skey, 32, amsg, strlen(amsg), a->ssig) == -1)
		goto crypto;
	for (k = 0; k < 32; k++)
		proof[k] = ckey[k] ^ csig[k];
	k = (size_t)snprintf(out, outsz, "%s,p=", nobare);
	if (k >= outsz || mbedtls_base64_encode((unsigned char *)out + k,
	    outsz - k, &olen, proof, sizeof(proof)) != 0)
		goto crypto;
	out[k + olen] = '\0';
	rc = 0;
	goto done;
 crypto:
	(void)snprintf(err, errsz, "SCRAM-SHA-256: computation failed");
 done:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(skey, sizeof(skey));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(csig, sizeof(csig));
	explicit_bzero(proof, sizeof(proof));
	explicit_bzero(amsg, sizeof(amsg));
	return rc;
}

/* server-final "v=SIG": the server proves it knows the password too */
static int
auth_scram_verify(struct auth *a, const char *sf, char *err, size_t errsz)
{
	const char	*v, *e;
	char		 safe[260];
	unsigned char	 sig[64];
	size_t		 vl, siglen;

	if ((e = auth_scram_attr(sf, 'e', &vl)) != NULL) {
		/* the server's bytes go into the log line: escaped */
		util_sanitise(safe, sizeof(safe), e, vl < 64 ? vl : 64);
		(void)snprintf(err, errsz, "SCRAM-SHA-256: server error "
		    "\"%s\"", safe);
		return -1;
	}
	if ((v = auth_scram_attr(sf, 'v', &vl)) == NULL ||
	    mbedtls_base64_decode(sig, sizeof(sig), &siglen,
	    (const unsigned char *)v, vl) != 0 || siglen != 32 ||
	    memcmp(sig, a->ssig, 32) != 0) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: server signature "
		    "does not verify: this server does not know the password "
		    "(an impostor?)");
		return -1;
	}
	a->verified = 1;
	return 0;
}

/*
 * Next client response into `out' (raw bytes, `*outlen'; the caller
 * base64-encodes).  `ch' is the decoded server challenge, NULL for the
 * initial response.  Returns 0, or -1 with `err' set.
 */
int
auth_step(struct auth *a, const char *ch, size_t chlen, char *out,
    size_t outsz, size_t *outlen, char *err, size_t errsz)
{
	unsigned char	 mac[16];
	char		 name[600], buf[1024];
	static const char hex[] = "0123456789abcdef";
	size_t		 ul = strlen(a->user), sl = strlen(a->secret), k;
	int		 n, step = a->step++;

	*outlen = 0;
	if (ch != NULL && chlen >= sizeof(buf)) {
		(void)snprintf(err, errsz, "%s: server challenge too long",
		    a->mech->name);
		return -1;
	}
	if (ch != NULL) {
		memcpy(buf, ch, chlen);
		buf[chlen] = '\0';
	}
	switch (a->mech->id) {
	case AUTH_PLAIN:
		if (step > 0)
			break;
		/* authzid (empty) NUL authcid NUL password */
		if (ul + sl + 2 > outsz)
			goto toolong;
		out[0] = '\0';
		memcpy(out + 1, a->user, ul + 1);
		memcpy(out + ul + 2, a->secret, sl);
		*outlen = ul + sl + 2;
		return 0;
	case AUTH_LOGIN:
		/* "Username:" then "Password:"; the prompts are not checked,
		 * servers word them differently */
		if (step == 0)
			return 0;	/* no initial response */
		if (step > 2)
			break;
		k = step == 1 ? ul : sl;
		if (k > outsz)
			goto toolong;
		memcpy(out, step == 1 ? a->user : a->secret, k);
		*outlen = k;
		return 0;
	case AUTH_SCRAM:
		if (step == 0) {
			if (auth_saslname(name, sizeof(name), a->user) == -1)
				goto toolong;
			n = snprintf(a->first, sizeof(a->first), "n=%s,r=%s",
			    name, a->nonce);
			if (n < 0 || (size_t)n >= sizeof(a->first) ||
			    (size_t)n + 3 >= outsz)
				goto toolong;
			*outlen = (size_t)snprintf(out, outsz, "n,,%s",
			    a->first);
			return 0;
		}
		if (step == 1) {
			if (auth_scram_final(a, buf, out, outsz, err,
			    errsz) == -1)
				return -1;
			*outlen = strlen(out);
			return 0;
		}
		if (step == 2)	/* empty response after the server-final */
			return auth_scram_verify(a, buf, err, errsz);
		break;
	case AUTH_XOAUTH2:
	case AUTH_OAUTHBEARER:
		if (step == 0) {
			if (a->mech->id == AUTH_XOAUTH2)
				n = snprintf(out, outsz, "user=%s\001auth="
				    "Bearer %s\001\001", a->user, a->secret);
			else
				n = snprintf(out, outsz, "n,a=%s,\001host=%s"
				    "\001port=%s\001auth=Bearer %s\001\001",
				    a->user, a->host, a->port, a->secret);
			if (n < 0 || (size_t)n >= outsz)
				goto toolong;
			*outlen = (size_t)n;
			return 0;
		}
		if (step > 1)
			break;
		/* a challenge now is the error JSON: keep its status for
		 * the message; RFC 7628 3.2.3 has the client answer %x01
		 * (XOAUTH2: an empty line), then the server says 535 */
		util_sanitise(a->detail, sizeof(a->detail), buf, chlen);
		if (a->mech->id == AUTH_OAUTHBEARER) {
			out[0] = '\001';
			*outlen = 1;
		}
		return 0;
	case AUTH_CRAMMD5:
		if (step == 0)
			return 0;	/* no initial response */
		if (step != 1)
			break;
		if (auth_hmac("MD5", (const unsigned char *)a->secret, sl, buf,
		    chlen, mac) == -1)
			goto toolong;
		if (ul + 1 + 32 > outsz)
			goto toolong;
		memcpy(out, a->user, ul);
		out[ul] = ' ';
		for (k = 0; k < 16; k++) {
			out[ul + 1 + 2 * k] = hex[mac[k] >> 4];
			out[ul + 2 + 2 * k] = hex[mac[k] & 15];
		}
		*outlen = ul + 33;
		explicit_bzero(mac, sizeof(mac));
		return 0;
	}
	(void)snprintf(err, errsz, "%s: unexpected challenge from the server",
	    a->mech->name);
	return -1;
 toolong:
	(void)snprintf(err, errsz, "%s: auth_user or secret too long",
	    a->mech->name);
	return -1;
}

/* Whether the exchange proved the server too (SCRAM) where it can. */
int
auth_finished(const struct auth *a, char *err, size_t errsz)
{
	if (a->mech->id == AUTH_SCRAM && !a->verified) {
		(void)snprintf(err, errsz, "SCRAM-SHA-256: server said 235 "
		    "without proving it knows the password");
		return -1;
	}
	return 0;
}

/*
 * Keep secrets out of core files and away from other processes of the
 * same user: no core dump, and not dumpable, which also refuses ptrace
 * and makes /proc/PID/mem and environ root's.  Called before the
 * password is read.
 */
int
auth_nodump(char *err, size_t errsz)
{
	struct rlimit	 rl;

	rl.rlim_cur = rl.rlim_max = 0;
	if (setrlimit(RLIMIT_CORE, &rl) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
		(void)snprintf(err, errsz, "cannot disable core dumps: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
