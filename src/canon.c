/*
 * The sender canonical map (sender_canonical): who the mail is from, as
 * the world should see it.  The file is Postfix's texthash / postmap
 * source format, so a Postfix sender_canonical_maps or smtp_generic_maps
 * source file works unchanged:
 *
 *	# comment
 *	root		ops@example.com
 *	alice@host.example.org	alice@example.com
 *	@host.example.org	@example.com
 *	    (a line starting with white space continues the one above)
 *
 * Lookup order as Postfix's canonical(5): user@domain, then user when
 * the domain is ours (domain or a local name), then @domain; a bare
 * user is looked up as user@domain (the domain setting).  Addresses are
 * looked up as written, before masquerading turns user@localhost into
 * user@domain, so that an @localhost key works as in Postfix.  Keys are
 * case-insensitive (postmap folds them); values are used as written.  A
 * value "@other" keeps the local part (user@domain -> user@other); a
 * bare name is qualified with the domain.
 *
 * Unlike Postfix, which warns and skips, any problem makes the whole
 * file unusable (canon_parse fails, naming file and line): sendmail then
 * refuses the message rather than send it under the identity the map
 * was written to replace.  relayq check reports the same problem first.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"

#define CANON_FILEMAX	(1024 * 1024)	/* bytes of the file */
#define CANON_MAX	10000		/* entries; lookups are linear */
#define CANON_LINEMAX	4096		/* a logical line */

void
canon_init(struct canon *c, const char *domain, const char *const *locals)
{
	memset(c, 0, sizeof(*c));
	c->domain = domain;
	c->locals = locals;
}

void
canon_free(struct canon *c)
{
	size_t	 i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static const struct canon_entry *
canon_find(const struct canon *c, const char *key, size_t len)
{
	size_t	 i;

	for (i = 0; i < c->n; i++)
		if (strlen(c->v[i].key) == len &&
		    strncasecmp(c->v[i].key, key, len) == 0)
			return &c->v[i];
	return NULL;
}

/* "user", "user@domain", "@domain": envelope-safe, nothing empty */
static int
canon_key_ok(const char *k)
{
	const char	*at = addr_domain(k);

	return addr_valid(k) && (at == NULL || at[1] != '\0') &&
	    strchr(k, '"') == NULL;
}

/* One logical line, "key value"; -1 with the reason in err. */
static int
canon_entry(struct canon *c, char *s, size_t line, char *err, size_t errsz)
{
	const struct canon_entry	*dup;
	struct canon_entry		*v;
	char				*key, *val, *e;
	const char			*at;

	key = s;
	val = key + strcspn(key, " \t");
	if (*val != '\0')
		*val++ = '\0';
	val += strspn(val, " \t");
	for (e = val + strlen(val); e > val && (e[-1] == ' ' ||
	    e[-1] == '\t'); e--)
		e[-1] = '\0';
	if (*val == '\0') {
		(void)snprintf(err, errsz, "\"%.64s\" has no value (expected "
		    "key, white space, address)", key);
		return -1;
	}
	if (!canon_key_ok(key)) {
		(void)snprintf(err, errsz, "bad key \"%.64s\" (use a user "
		    "name, user@domain or @domain)", key);
		return -1;
	}
	at = addr_domain(val);
	if (!addr_valid(val) || (at != NULL && at[1] == '\0')) {
		(void)snprintf(err, errsz, "%.64s: bad address \"%.64s\" (one "
		    "address, user@domain or @domain)", key, val);
		return -1;
	}
	if ((dup = canon_find(c, key, strlen(key))) != NULL) {
		(void)snprintf(err, errsz, "duplicate key \"%.64s\" (first on "
		    "line %zu)", key, dup->line);
		return -1;
	}
	if (c->n >= CANON_MAX) {
		(void)snprintf(err, errsz, "more than %d entries", CANON_MAX);
		return -1;
	}
	if ((v = reallocarray(c->v, c->n + 1, sizeof(*v))) == NULL)
		goto oom;
	c->v = v;
	v = &c->v[c->n];
	v->line = line;
	if ((v->key = strdup(key)) == NULL)
		goto oom;
	if ((v->value = strdup(val)) == NULL) {
		free(v->key);
		goto oom;
	}
	c->n++;
	return 0;
 oom:
	(void)snprintf(err, errsz, "out of memory");
	return -1;
}

/*
 * The map from the bytes of `path' (for the unit test and fuzz target
 * as for canon_load).  0, or -1 with "PATH:LINE: what" in err and the
 * map emptied.
 */
int
canon_parse(struct canon *c, const char *path, const char *buf, size_t len,
    char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len, *nl = NULL;
	char		 logical[CANON_LINEMAX], msg[256];
	size_t		 n = 0, ll = 0, line = 0, start = 0, ws;
	int		 have = 0;

	if (len > CANON_FILEMAX) {
		(void)snprintf(err, errsz, "%s: larger than %d bytes", path,
		    CANON_FILEMAX);
		return -1;
	}
	for (;;) {
		if (p < end) {
			line++;
			if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
				nl = end;
			n = (size_t)(nl - p);
			while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' ||
			    p[n - 1] == '\t'))
				n--;
			if (memchr(p, '\0', n) != NULL) {
				(void)snprintf(msg, sizeof(msg), "NUL byte");
				goto bad;
			}
			ws = 0;
			while (ws < n && (p[ws] == ' ' || p[ws] == '\t'))
				ws++;
			if (ws == n || p[ws] == '#') {
				/* comments and empty lines end nothing */
				p = nl < end ? nl + 1 : end;
				continue;
			}
			if (ws > 0 && !have) {
				(void)snprintf(msg, sizeof(msg), "continuation "
				    "line without an entry before it");
				goto bad;
			}
			if (ws > 0) {
				/* continued: joined with one space */
				if (ll + 1 + n - ws >= sizeof(logical))
					goto toolong;
				logical[ll++] = ' ';
				memcpy(logical + ll, p + ws, n - ws);
				ll += n - ws;
				p = nl < end ? nl + 1 : end;
				continue;
			}
		}
		if (have) {
			logical[ll] = '\0';
			if (canon_entry(c, logical, start, msg,
			    sizeof(msg)) == -1) {
				line = start;
				goto bad;
			}
			have = 0;
		}
		if (p >= end)
			break;
		if (n >= sizeof(logical))
			goto toolong;
		memcpy(logical, p, n);
		ll = n;
		have = 1;
		start = line;
		p = nl < end ? nl + 1 : end;
	}
	return 0;
 toolong:
	(void)snprintf(msg, sizeof(msg), "line longer than %d bytes",
	    CANON_LINEMAX - 1);
 bad:
	(void)snprintf(err, errsz, "%s:%zu: %s", path, line, msg);
	canon_free(c);
	return -1;
}

/*
 * Read the map `path' with the caller's rights.  0, or -1 with the
 * reason (file, line, what) in err.
 */
int
canon_load(struct canon *c, const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd, rc = -1;

	if (strlcpy(c->path, path, sizeof(c->path)) >= sizeof(c->path)) {
		(void)snprintf(err, errsz, "%.100s...: path too long", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CANON_FILEMAX) {
		(void)snprintf(err, errsz, "%s: not a regular file of at most "
		    "%d bytes", path, CANON_FILEMAX);
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		(void)snprintf(err, errsz, "%s: out of memory", path);
		goto done;
	}
	while (len < (size_t)st.st_size &&
	    (r = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			(void)snprintf(err, errsz, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
		len += (size_t)r;
	}
	rc = canon_parse(c, path, buf, len, err, errsz);
 done:
	free(buf);
	(void)close(fd);
	return rc;
}

/*
 * The canonical address of `a' into out: 1 when the map has it, 0 when
 * not (out untouched), -1 when the result is not a usable address (too
 * long: "@other" after a long local part).  The null sender and bare
 * "@domain" are never mapped; a bare user is looked up as user@domain.
 */
int
canon_lookup(const struct canon *c, const char *a, char *out, size_t outsz)
{
	const struct canon_entry	*e;
	const char			*at = addr_domain(a);
	size_t				 local = at != NULL ? (size_t)(at - a) :
					    strlen(a);
	char				 q[ADDR_MAX + 1];
	int				 n;

	if (c->n == 0 || local == 0)
		return 0;
	if (at == NULL) {
		n = snprintf(q, sizeof(q), "%s@%s", a, c->domain);
		if (n < 0 || (size_t)n >= sizeof(q))
			return 0;
		a = q;
		at = a + local;
	}
	if ((e = canon_find(c, a, strlen(a))) == NULL &&
	    (at == NULL || strcasecmp(at + 1, c->domain) == 0 ||
	    addr_is_local(a, c->locals)))
		e = canon_find(c, a, local);
	if (e == NULL && at != NULL)
		e = canon_find(c, at, strlen(at));
	if (e == NULL)
		return 0;
	if (e->value[0] == '@')		/* same user, other domain */
		n = snprintf(out, outsz, "%.*s%s", (int)local, a, e->value);
	else if (addr_domain(e->value) == NULL)
		n = snprintf(out, outsz, "%s@%s", e->value, c->domain);
	else
		n = snprintf(out, outsz, "%s", e->value);
	if (n < 0 || (size_t)n >= outsz || !addr_valid(out))
		return -1;
	return 1;
}

static int
canon_map_cb(void *arg, const char *a, char *out, size_t outsz)
{
	return canon_lookup(arg, a, out, outsz) == 1;
}

/*
 * The value of a sender field (From, Sender, Reply-To, ...): each addr-spec
 * the map has is replaced; display names, comments, groups, encoded
 * words and folding are kept byte for byte.  Returns the number of
 * addresses rewritten with *out a new string, 0 with *out NULL when
 * nothing changed (or the value does not parse), -1 when out of memory.
 */
int
canon_header(const struct canon *c, const char *s, size_t len, char **out)
{
	*out = NULL;
	if (c->n == 0)
		return 0;
	return addr_rewrite(s, len, canon_map_cb, (void *)c, out);
}
