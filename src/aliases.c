/*
 * The alias file (aliases(5) syntax, as Postfix and sendmail read it) and
 * the expansion of local envelope recipients:
 *
 *	# comment
 *	name: target, target,
 *	    continued target	(white space first: a continuation)
 *
 * Names are case-insensitive.  A target is an address, or a bare local
 * name that is looked up again.  "|command", "/file" and ":include:"
 * targets cannot be delivered by a relay-only MTA: they are skipped with
 * a warning, never run or opened.  The file is read with the caller's
 * own rights (sendmail has given up its group by then).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"

#define ALIASES_DEPTH	20	/* nesting deeper than this is a loop */
#define ALIASES_MAX	10000	/* entries; lookups are linear */

static void
aliases_problem(struct aliases *al, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
aliases_problem(struct aliases *al, size_t line, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	al->nproblems++;
	if (al->report != NULL)
		al->report(al->path, line, msg);
}

/* "|cmd", "/file", ":include:": targets a relay cannot deliver */
static int
aliases_unsupported(const char *t)
{
	if (t[0] == '"')
		t++;
	return t[0] == '|' || t[0] == '/' ||
	    strncasecmp(t, ":include:", 9) == 0;
}

static int
aliases_add(struct aliases *al, const char *name, const char *value,
    size_t line)
{
	struct alias	*a;
	size_t		 i;

	for (i = 0; i < al->n; i++)
		if (strcasecmp(al->v[i].name, name) == 0) {
			/* the first one wins, as in postalias(1) */
			aliases_problem(al, line, "duplicate alias \"%.64s\" "
			    "ignored (first defined on line %zu)", name,
			    al->v[i].line);
			return 0;
		}
	if (al->n >= ALIASES_MAX) {
		aliases_problem(al, line, "more than %d aliases", ALIASES_MAX);
		return 0;
	}
	if ((a = reallocarray(al->v, al->n + 1, sizeof(*a))) == NULL)
		return -1;
	al->v = a;
	a = &al->v[al->n];
	memset(a, 0, sizeof(*a));
	a->line = line;
	if ((a->name = strdup(name)) == NULL ||
	    (a->value = strdup(value)) == NULL) {
		free(a->name);
		return -1;
	}
	al->n++;
	return 0;
}

/* One logical line: "name: targets".  Problems are reported, not fatal. */
static int
aliases_entry(struct aliases *al, char *s, size_t line)
{
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			*colon, *name, *e, err[128];
	size_t			 i;

	if ((colon = strchr(s, ':')) == NULL) {
		aliases_problem(al, line, "no ':' after the alias name");
		return 0;
	}
	*colon = '\0';
	name = s;
	for (e = colon; e > name && isspace((unsigned char)e[-1]); e--)
		e[-1] = '\0';
	if (name[0] == '"' && e - name >= 2 && e[-1] == '"') {
		e[-1] = '\0';
		name++;
	}
	if (name[0] == '\0' || !addr_valid(name) || strchr(name, '@') != NULL) {
		aliases_problem(al, line, "bad alias name \"%.64s\"", name);
		return 0;
	}
	/* check the targets now, so that -bi reports them */
	if (aliases_split(colon + 1, &l, err, sizeof(err)) == -1)
		aliases_problem(al, line, "%s: %s", name, err);
	else if (l.n == 0)
		aliases_problem(al, line, "%s: no targets", name);
	else {
		for (i = 0; i < l.n; i++)
			if (aliases_unsupported(l.v[i]))
				aliases_problem(al, line, "%s: \"%.64s\": "
				    "pipes, files and :include: are not "
				    "supported by a relay, skipped", name,
				    l.v[i]);
		if (aliases_add(al, name, colon + 1, line) == -1) {
			addr_list_free(&l);
			return -1;
		}
	}
	addr_list_free(&l);
	return 0;
}

/*
 * Split a target list.  Commas inside quotes do not split; "|cmd, x" in
 * quotes stays one target.  Addresses go through addr_parse_list, so
 * "Name <a@x>" and comments work as in a header.
 */
int
aliases_split(const char *s, struct addr_list *l, char *err, size_t errsz)
{
	const char	*p = s, *start;
	char		*tok;
	size_t		 n;
	int		 inq;

	for (;;) {
		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			return 0;
		start = p;
		for (inq = 0; *p != '\0' && (inq || *p != ','); p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				inq = !inq;
		}
		if (inq) {
			(void)snprintf(err, errsz, "unbalanced quote");
			return -1;
		}
		n = (size_t)(p - start);
		while (n > 0 && isspace((unsigned char)start[n - 1]))
			n--;
		if ((tok = strndup(start, n)) == NULL) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		if (aliases_unsupported(tok)) {
			/* "|cmd, args": the quotes only protect the comma */
			if (tok[0] == '"' && n >= 2 && tok[n - 1] == '"') {
				tok[n - 1] = '\0';
				memmove(tok, tok + 1, n - 1);
			}
			if (addr_list_add(l, tok) == -1) {
				free(tok);
				(void)snprintf(err, errsz, "out of memory");
				return -1;
			}
		} else if (addr_parse_list(tok, n, l, err, errsz) == -1) {
			free(tok);
			return -1;
		}
		free(tok);
	}
}

/*
 * Read `path'.  0 on success (problems counted in al->nproblems and
 * passed to al->report), -1 with errno when the file cannot be read.
 */
int
aliases_load(struct aliases *al, const char *path)
{
	FILE	*fp;
	char	*buf = NULL, *logical = NULL, *t;
	size_t	 bufsz = 0, ll = 0, line = 0, start = 0, n;
	ssize_t	 len;
	int	 rc = 0, saved;

	if (strlcpy(al->path, path, sizeof(al->path)) >= sizeof(al->path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	for (;;) {
		len = getline(&buf, &bufsz, fp);
		if (len != -1) {
			line++;
			while (len > 0 && (buf[len - 1] == '\n' ||
			    buf[len - 1] == '\r'))
				buf[--len] = '\0';
			if (memchr(buf, '\0', (size_t)len) != NULL) {
				aliases_problem(al, line, "NUL byte, line "
				    "ignored");
				continue;
			}
			/* comments and empty lines end nothing (aliases(5)) */
			n = strspn(buf, " \t");
			if (buf[n] == '#' || buf[n] == '\0')
				continue;
			if (n > 0 && logical != NULL) {
				/* a continuation line */
				t = realloc(logical, ll + (size_t)len + 2);
				if (t == NULL)
					goto oom;
				logical = t;
				logical[ll++] = ' ';
				memcpy(logical + ll, buf + n,
				    (size_t)len - n + 1);
				ll += (size_t)len - n;
				continue;
			}
			if (n > 0) {
				aliases_problem(al, line, "continuation line "
				    "without an alias before it");
				continue;
			}
		}
		if (logical != NULL) {
			if (aliases_entry(al, logical, start) == -1)
				goto oom;
			free(logical);
			logical = NULL;
		}
		if (len == -1)
			break;
		if ((logical = strdup(buf)) == NULL)
			goto oom;
		ll = (size_t)len;
		start = line;
	}
	if (ferror(fp)) {
		rc = -1;
		saved = errno;
	}
	goto done;
 oom:
	rc = -1;
	saved = ENOMEM;
 done:
	free(logical);
	free(buf);
	(void)fclose(fp);
	if (rc == -1)
		errno = saved;
	return rc;
}

void
aliases_free(struct aliases *al)
{
	size_t	 i;

	for (i = 0; i < al->n; i++) {
		free(al->v[i].name);
		free(al->v[i].value);
	}
	free(al->v);
	al->v = NULL;
	al->n = 0;
}

static const struct alias *
aliases_find(const struct aliases *al, const char *local, size_t len)
{
	size_t	 i;

	for (i = 0; i < al->n; i++)
		if (strlen(al->v[i].name) == len &&
		    strncasecmp(al->v[i].name, local, len) == 0)
			return &al->v[i];
	return NULL;
}

static int
aliases_walk(const struct aliases *al, const char *a,
    const struct aliases_ctx *cx, const char **chain, int depth,
    struct addr_list *out)
{
	const struct alias	*e;
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			 q[ADDR_MAX + 1], err[128];
	size_t			 i, before = out->n, len;
	int			 j, rc = 0;

	if (!addr_is_local(a, cx->locals)) {
		if (addr_list_add(out, a) == -1)
			return -1;
		return 0;
	}
	len = addr_domain(a) != NULL ? (size_t)(addr_domain(a) - a) :
	    strlen(a);
	e = aliases_find(al, a, len);
	for (j = 0; e != NULL && j < depth; j++)
		if (strcasecmp(chain[j], e->name) == 0) {
			/* "root: root, a@x": the name itself, not again */
			e = NULL;
		}
	if (e != NULL && depth >= ALIASES_DEPTH) {
		if (cx->warn != NULL)
			cx->warn(cx->arg, "alias \"%s\" nested more than %d "
			    "deep: treated as a loop", e->name, ALIASES_DEPTH);
		e = NULL;
	}
	if (e != NULL) {
		chain[depth] = e->name;
		if (aliases_split(e->value, &l, err, sizeof(err)) == -1)
			return -1;	/* reported by aliases_load already */
		for (i = 0; i < l.n && rc == 0; i++) {
			if (aliases_unsupported(l.v[i])) {
				if (cx->warn != NULL)
					cx->warn(cx->arg, "alias \"%s\": "
					    "target \"%.64s\" skipped (pipes, "
					    "files and :include: are not "
					    "supported)", e->name, l.v[i]);
				continue;
			}
			rc = aliases_walk(al, l.v[i], cx, chain, depth + 1,
			    out);
		}
		addr_list_free(&l);
		if (rc == -1 || out->n > before)
			return rc;
		/* nothing deliverable: as if there were no alias */
		if (cx->warn != NULL)
			cx->warn(cx->arg, "alias \"%s\" has no deliverable "
			    "target", e->name);
	}
	/* a local name without an alias: admin_address catches it */
	if (cx->admin != NULL)
		return addr_list_add(out, cx->admin);
	if (addr_qualify(a, cx->domain, cx->locals, q, sizeof(q)) == -1 ||
	    !addr_valid(q)) {
		errno = EINVAL;
		return -1;
	}
	return addr_list_add(out, q);
}

/*
 * The final addresses for recipient `a': local ones through the aliases
 * (recursively), then admin_address or name@domain; others unchanged.
 * -1 with errno on failure (EINVAL: an address too long to qualify).
 */
int
aliases_expand(const struct aliases *al, const char *a,
    const struct aliases_ctx *cx, struct addr_list *out)
{
	const char	*chain[ALIASES_DEPTH + 1];

	return aliases_walk(al, a, cx, chain, 0, out);
}

/*
 * The alias file of the configuration: `aliases', else /etc/aliases
 * when it exists (or always when `must': newaliases checks it).  0 with
 * al loaded, possibly empty; -1 with errno and al->path naming the file
 * when it cannot be read, al then empty.
 */
int
aliases_load_conf(struct aliases *al, const struct conf *conf,
    void (*report)(const char *, size_t, const char *), int must)
{
	const char	*path = conf->aliases;
	int		 saved;

	memset(al, 0, sizeof(*al));
	al->report = report;
	if (path == NULL) {
		path = SYSCONFDIR "/aliases";
		if (!must && access(path, F_OK) == -1 && errno == ENOENT)
			return 0;
	}
	if (aliases_load(al, path) == -1) {
		saved = errno;
		aliases_free(al);
		(void)strlcpy(al->path, path, sizeof(al->path));
		errno = saved;
		return -1;
	}
	return 0;
}

/*
 * The context for aliases_expand, from the configuration: the names
 * that make an address local (localhost, this host's name, short and
 * long; addr_is_local) and admin_address qualified with `domain'.  The
 * front end expands recipients with it, the daemon a local sender's
 * bounce address (bounce.c).  -1 with the reason in err when
 * admin_address is not a usable address.
 */
int
aliases_ctx_init(struct aliases_ctx *cx, struct conf *conf, char *err,
    size_t errsz)
{
	char	*dot;

	memset(cx, 0, sizeof(*cx));
	cx->domain = conf_domain(conf);
	(void)strlcpy(cx->shortname, util_hostname(), sizeof(cx->shortname));
	if ((dot = strchr(cx->shortname, '.')) != NULL)
		*dot = '\0';
	cx->localv[0] = "localhost";
	cx->localv[1] = "localhost.localdomain";
	cx->localv[2] = util_hostname();
	cx->localv[3] = cx->shortname;
	cx->localv[4] = NULL;
	cx->locals = cx->localv;
	if (conf->admin_address == NULL)
		return 0;
	if (addr_qualify(conf->admin_address, cx->domain, cx->locals,
	    cx->adminbuf, sizeof(cx->adminbuf)) == -1 ||
	    !addr_valid(cx->adminbuf)) {
		(void)snprintf(err, errsz, "admin_address: bad address "
		    "\"%.100s\"", conf->admin_address);
		return -1;
	}
	cx->admin = cx->adminbuf;
	return 0;
}
