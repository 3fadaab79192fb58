/*
 * The listener's users and password hashes (listen_auth_file), for SMTP
 * AUTH PLAIN and LOGIN from its clients.  One user a line:
 *
 *	user:$pbkdf2-sha256$ROUNDS$SALT$KEY
 *
 * SALT and KEY in base64, KEY the PBKDF2-HMAC-SHA256 of the password
 * (RFC 8018) with that salt and that many rounds, at least
 * LAUTH_MINROUNDS: a stolen file then costs an attacker that many
 * SHA-256 pairs per guess.  `relayq listen-passwd USER' makes a line.
 * Blank lines and lines starting with '#' are skipped.
 *
 * The file is read once, by the listener as it starts (as root, before
 * it drops to the relayq user and confines itself), so that it may be
 * readable by root alone; the sessions check passwords against the copy
 * in memory (listen_session.c).  The parser is a pure function over a
 * buffer (test/unit_lauth.c, test/fuzz/fuzz_lauth.c).
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <mbedtls/base64.h>

#include "relayq.h"
#include "client.h"
#include "listen.h"

#define LAUTH_SCHEME	"$pbkdf2-sha256$"
#define LAUTH_FILEMAX	(1024 * 1024)
#define LAUTH_SALTLEN	16	/* what listen-passwd makes */

/* a name that fits the file's syntax and a log line */
int
lauth_user_ok(const char *user)
{
	size_t	 n = strlen(user);

	return n > 0 && n <= LAUTH_USERMAX && strspn(user,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    "._@+-") == n;
}

/* base64 text of at most len bytes into out (outsz bytes); its length,
 * or -1 when it is not base64 or is empty */
static int
lauth_b64(const char *s, size_t len, unsigned char *out, size_t outsz,
    size_t *outlen)
{
	if (len == 0 || mbedtls_base64_decode(out, outsz, outlen,
	    (const unsigned char *)s, len) != 0 || *outlen == 0)
		return -1;
	return 0;
}

/*
 * One line, without its newline, into `u'.  0, or -1 with why in err.
 */
int
lauth_parse_line(const char *line, size_t len, struct lauth_user *u,
    char *err, size_t errsz)
{
	const char	*colon, *p, *end = line + len, *d1, *d2, *errstr;
	char		 num[16];
	long long	 rounds;

	memset(u, 0, sizeof(*u));
	if ((colon = memchr(line, ':', len)) == NULL ||
	    (size_t)(colon - line) > LAUTH_USERMAX) {
		(void)snprintf(err, errsz, "not \"user:%s...\"", LAUTH_SCHEME);
		return -1;
	}
	memcpy(u->name, line, (size_t)(colon - line));
	u->name[colon - line] = '\0';
	if (!lauth_user_ok(u->name)) {
		(void)snprintf(err, errsz, "bad user name (1-%d of a-z A-Z "
		    "0-9 . _ @ + -)", LAUTH_USERMAX);
		return -1;
	}
	p = colon + 1;
	if ((size_t)(end - p) < sizeof(LAUTH_SCHEME) - 1 ||
	    memcmp(p, LAUTH_SCHEME, sizeof(LAUTH_SCHEME) - 1) != 0) {
		(void)snprintf(err, errsz, "the hash of %s is not %sROUNDS$SALT"
		    "$KEY (make one with relayq listen-passwd)", u->name,
		    LAUTH_SCHEME);
		return -1;
	}
	p += sizeof(LAUTH_SCHEME) - 1;
	if ((d1 = memchr(p, '$', (size_t)(end - p))) == NULL ||
	    (d2 = memchr(d1 + 1, '$', (size_t)(end - d1 - 1))) == NULL ||
	    memchr(d2 + 1, '$', (size_t)(end - d2 - 1)) != NULL ||
	    (size_t)(d1 - p) >= sizeof(num)) {
		(void)snprintf(err, errsz, "the hash of %s is not %sROUNDS$SALT"
		    "$KEY", u->name, LAUTH_SCHEME);
		return -1;
	}
	memcpy(num, p, (size_t)(d1 - p));
	num[d1 - p] = '\0';
	rounds = strtonum(num, LAUTH_MINROUNDS, LAUTH_MAXROUNDS, &errstr);
	if (errstr != NULL) {
		(void)snprintf(err, errsz, "the rounds of %s are %s (%d-%d): "
		    "make the hash again with relayq listen-passwd", u->name,
		    errstr, LAUTH_MINROUNDS, LAUTH_MAXROUNDS);
		return -1;
	}
	u->rounds = (unsigned int)rounds;
	if (lauth_b64(d1 + 1, (size_t)(d2 - d1 - 1), u->salt, sizeof(u->salt),
	    &u->saltlen) == -1 || lauth_b64(d2 + 1, (size_t)(end - d2 - 1),
	    u->key, sizeof(u->key), &u->keylen) == -1 || u->keylen < 16) {
		(void)snprintf(err, errsz, "the salt or key of %s is not base64 "
		    "(salt 1-%zu bytes, key 16-%zu)", u->name, sizeof(u->salt),
		    sizeof(u->key));
		return -1;
	}
	return 0;
}

/* The whole file's text.  0, or -1 with "LINE: why" in err. */
int
lauth_parse(struct lauth *a, const char *buf, size_t len, char *err,
    size_t errsz)
{
	struct lauth_user	 u, *v;
	const char		*p = buf, *nl, *end = buf + len;
	char			 why[256];
	size_t			 lineno = 0, i, n;

	for (; p < end; p = nl + 1) {
		lineno++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#')
			continue;
		if (lauth_parse_line(p, n, &u, why, sizeof(why)) == -1) {
			(void)snprintf(err, errsz, "line %zu: %s", lineno, why);
			goto fail;
		}
		for (i = 0; i < a->n; i++)
			if (strcmp(a->v[i].name, u.name) == 0) {
				(void)snprintf(err, errsz, "line %zu: user %s "
				    "again (first on line %zu)", lineno, u.name,
				    a->v[i].line);
				goto fail;
			}
		u.line = lineno;
		if ((v = reallocarray(a->v, a->n + 1, sizeof(*v))) == NULL) {
			(void)snprintf(err, errsz, "out of memory");
			goto fail;
		}
		a->v = v;
		a->v[a->n++] = u;
	}
	explicit_bzero(&u, sizeof(u));
	return 0;
 fail:
	explicit_bzero(&u, sizeof(u));
	return -1;
}

/*
 * The file at `path': a regular file, not writable by others than its
 * owner and group, not readable by others (it holds the hashes).  0, or
 * -1 with "PATH: why" in err.
 */
int
lauth_load(struct lauth *a, const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	char		*buf = NULL, why[300];
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd, rc = -1;

	memset(a, 0, sizeof(*a));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > LAUTH_FILEMAX) {
		(void)snprintf(err, errsz, "%s: not a regular file of at most "
		    "%d bytes", path, LAUTH_FILEMAX);
		goto done;
	}
	if (st.st_mode & (S_IWGRP | S_IRWXO)) {
		(void)snprintf(err, errsz, "%s: mode %o lets others read or "
		    "change the password hashes: chmod 640 (owner root, group "
		    "relayq or root)", path, (unsigned int)(st.st_mode & 07777));
		goto done;
	}
	if ((buf = calloc(1, (size_t)st.st_size + 1)) == NULL) {
		(void)snprintf(err, errsz, "%s: out of memory", path);
		goto done;
	}
	while (len < (size_t)st.st_size && (r = read(fd, buf + len,
	    (size_t)st.st_size - len)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(err, errsz, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
		len += (size_t)r;
	}
	if (lauth_parse(a, buf, len, why, sizeof(why)) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, why);
		goto done;
	}
	rc = 0;
 done:
	if (buf != NULL)
		freezero(buf, (size_t)st.st_size + 1);
	(void)close(fd);
	if (rc == -1)
		lauth_free(a);
	return rc;
}

void
lauth_free(struct lauth *a)
{
	if (a->v != NULL)
		freezero(a->v, a->n * sizeof(*a->v));
	a->v = NULL;
	a->n = 0;
}

/*
 * Does `pass' open `user'?  1 yes, 0 no.  The comparison takes the same
 * time wherever the keys differ, and an unknown user costs the same
 * PBKDF2 as a known one (the rounds of the file's first user, as
 * listen-passwd makes them all alike), so that neither the time nor the
 * answer tells which names exist.
 */
int
lauth_check(const struct lauth *a, const char *user, const char *pass,
    size_t passlen)
{
	struct lauth_user		 nobody = { .rounds = LAUTH_ROUNDS,
	    .salt = "relayq-nobody", .saltlen = 13, .keylen = 32 };
	const struct lauth_user		*u = &nobody;
	unsigned char			 key[sizeof(u->key)];
	volatile unsigned char		 diff = 0;
	size_t				 i;
	int				 known = 0;

	if (a->n > 0) {
		nobody.rounds = a->v[0].rounds;
		nobody.keylen = a->v[0].keylen;
	}
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, user) == 0) {
			u = &a->v[i];
			known = 1;
		}
	if (auth_pbkdf2_sha256((const unsigned char *)pass, passlen, u->salt,
	    u->saltlen, u->rounds, key, u->keylen) == -1)
		return 0;
	for (i = 0; i < u->keylen; i++)
		diff |= key[i] ^ u->key[i];
	explicit_bzero(key, sizeof(key));
	return known && diff == 0;
}

/* "user:$pbkdf2-sha256$ROUNDS$SALT$KEY" for a new random salt.  0, or -1
 * with why in err. */
int
lauth_make(const char *user, const char *pass, size_t passlen,
    unsigned int rounds, char *out, size_t outsz, char *err, size_t errsz)
{
	unsigned char	 salt[LAUTH_SALTLEN], key[32];
	char		 s64[64], k64[64];
	size_t		 sl, kl;
	int		 rc = -1;

	if (!lauth_user_ok(user)) {
		(void)snprintf(err, errsz, "bad user name \"%.64s\" (1-%d of "
		    "a-z A-Z 0-9 . _ @ + -)", user, LAUTH_USERMAX);
		return -1;
	}
	if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt) ||
	    auth_pbkdf2_sha256((const unsigned char *)pass, passlen, salt,
	    sizeof(salt), rounds, key, sizeof(key)) == -1 ||
	    mbedtls_base64_encode((unsigned char *)s64, sizeof(s64), &sl, salt,
	    sizeof(salt)) != 0 || mbedtls_base64_encode((unsigned char *)k64,
	    sizeof(k64), &kl, key, sizeof(key)) != 0) {
		(void)snprintf(err, errsz, "cannot compute the hash");
		goto done;
	}
	if ((size_t)snprintf(out, outsz, "%s:%s%u$%s$%s", user, LAUTH_SCHEME,
	    rounds, s64, k64) >= outsz) {
		(void)snprintf(err, errsz, "hash line too long");
		goto done;
	}
	rc = 0;
 done:
	explicit_bzero(key, sizeof(key));
	return rc;
}

/*
 * relayq listen-passwd USER: the password from standard input (not
 * echoed when it is a terminal), its line for listen_auth_file on
 * standard output.
 */
int
lauth_passwd_main(struct conf *conf, int argc, char *argv[])
{
	struct termios	 t, quiet;
	char		*pass = NULL, line[512], err[256];
	size_t		 sz = 0;
	ssize_t		 n;
	int		 tty, rc = EX_DATAERR;

	(void)conf;
	if (argc != 2) {
		(void)fprintf(stderr, "usage: relayq listen-passwd USER\n");
		return EX_USAGE;
	}
	if ((tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t) == 0)) {
		quiet = t;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)fprintf(stderr, "Password for %s: ", argv[1]);
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	n = getline(&pass, &sz, stdin);
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		(void)fputc('\n', stderr);
	}
	if (n > 0 && pass[n - 1] == '\n')
		pass[--n] = '\0';
	if (n > 0 && pass[n - 1] == '\r')
		pass[--n] = '\0';
	if (n <= 0) {
		(void)fprintf(stderr, "relayq listen-passwd: no password on "
		    "standard input\n");
		goto done;
	}
	if (lauth_make(argv[1], pass, (size_t)n, LAUTH_ROUNDS, line,
	    sizeof(line), err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "relayq listen-passwd: %s\n", err);
		goto done;
	}
	(void)printf("%s\n", line);
	rc = fflush(stdout) == EOF ? EX_IOERR : EX_OK;
 done:
	if (pass != NULL)
		freezero(pass, sz);
	return rc;
}
