/*
 * RFC 5322 address lists as real callers write them: "a@x, b@y",
 * "Name <a@x>", "root (Cron Daemon)", "undisclosed-recipients:;",
 * "Group: a@x, b@y;", trailing commas.  Only the addr-specs are kept;
 * comments and display names are dropped, quoting is kept verbatim.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"

/* FNV-1a, 64 bits: the index of a list, not a defence against anyone */
static uint64_t
addr_hash(const char *a)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;

	for (; *a != '\0'; a++)
		h = (h ^ (unsigned char)*a) * 0x100000001b3ULL;
	return h;
}

/* The index slot that holds `a', or the free one where it would go. */
static size_t *
addr_list_slot(const struct addr_list *l, const char *a)
{
	size_t	 mask = l->idxsz - 1, i;

	for (i = addr_hash(a) & mask; l->idx[i] != 0; i = (i + 1) & mask)
		if (strcmp(l->v[l->idx[i] - 1], a) == 0)
			break;
	return &l->idx[i];
}

/*
 * Index every address of `l' that is not yet, with room for `want'
 * (at most half full, so that a probe stays short).  A list that
 * addr_list_append filled may hold a value twice: the first one is
 * indexed, as the linear scan this replaces found the first one.
 */
static int
addr_list_index(struct addr_list *l, size_t want)
{
	size_t	*idx, *slot, sz;

	if (want > l->idxsz / 2) {
		for (sz = l->idxsz != 0 ? l->idxsz : 16; want > sz / 2; sz *= 2)
			;
		if ((idx = calloc(sz, sizeof(*idx))) == NULL)
			return -1;
		free(l->idx);
		l->idx = idx;
		l->idxsz = sz;
		l->nidx = 0;
	}
	for (; l->nidx < l->n; l->nidx++)
		if (*(slot = addr_list_slot(l, l->v[l->nidx])) == 0)
			*slot = l->nidx + 1;
	return 0;
}

/*
 * Append a copy of `a', duplicate or not (a list kept parallel to
 * another, like the originals of the recipients).  The array doubles at
 * each power of two: thousands of recipients must not mean thousands of
 * copies.
 */
int
addr_list_append(struct addr_list *l, const char *a)
{
	char	**v, *dup;

	if ((dup = strdup(a)) == NULL)
		return -1;
	if ((l->n & (l->n - 1)) == 0) {
		if ((v = reallocarray(l->v, l->n == 0 ? 1 : l->n * 2,
		    sizeof(*v))) == NULL) {
			free(dup);
			return -1;
		}
		l->v = v;
	}
	l->v[l->n++] = dup;
	return 0;
}

/*
 * Append a copy of `a' unless the list has it already (exact match:
 * the case of the local part matters, and a domain's case is left to
 * the smarthost).  A hash index finds it: a linear scan made 10 000
 * recipients quadratic.
 */
int
addr_list_add(struct addr_list *l, const char *a)
{
	size_t	*slot;

	if (addr_list_index(l, l->n + 1) == -1)
		return -1;
	if (*(slot = addr_list_slot(l, a)) != 0)
		return 0;
	if (addr_list_append(l, a) == -1)
		return -1;
	*slot = l->n;
	l->nidx = l->n;
	return 0;
}

void
addr_list_free(struct addr_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->idx);
	l->v = NULL;
	l->n = 0;
	l->idx = NULL;
	l->idxsz = l->nidx = 0;
}

/*
 * Envelope-safe: 1..ADDR_MAX bytes, no control characters, no angle
 * brackets or unquoted white space, at most one unquoted '@' ("x@@y" and
 * "a@b@c" are bad address syntax to Postfix too; "a@b"@c is an address).
 * 8-bit bytes pass (SMTPUTF8).
 */
int
addr_valid(const char *a)
{
	size_t	 i, len = strlen(a);
	int	 inq = 0, nat = 0;

	if (len == 0 || len > ADDR_MAX)
		return 0;
	for (i = 0; i < len; i++)	/* escaped or not: never in a record */
		if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f)
			return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)a[i];

		if (inq) {
			if (c == '\\' && a[i + 1] != '\0')
				i++;
			else if (c == '"')
				inq = 0;
			continue;
		}
		if (c == '"')
			inq = 1;
		else if (c == '<' || c == '>' || c == ' ' || c == ',' ||
		    (c == '@' && nat++ > 0))
			return 0;
	}
	return !inq;
}

static int
addr_push(char *buf, size_t *n, size_t sz, char c)
{
	if (*n + 1 >= sz)
		return -1;
	buf[(*n)++] = c;
	return 0;
}

/* One mailbox collected: the <angle> part wins over the plain text. */
static int
addr_finish(struct addr_list *l, char *plain, size_t np, char *angle,
    size_t na, int hasangle, char *err, size_t errsz)
{
	char	*a = hasangle ? angle : plain;
	size_t	 n = hasangle ? na : np;
	char	*colon;

	a[n] = '\0';
	/* obsolete source route <@a,@b:user@c>: keep user@c (RFC 5321 C) */
	if (hasangle && a[0] == '@' && (colon = strchr(a, ':')) != NULL)
		a = colon + 1;
	if (*a == '\0')
		return 0;
	if (!addr_valid(a)) {
		(void)snprintf(err, errsz, "bad address syntax \"%.64s\"", a);
		return -1;
	}
	if (addr_list_add(l, a) == -1) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/* append to the <angle> or the plain buffer, noting overflow */
#define ADDR_PUT(ch) do {						\
	if (inangle)							\
		anglelong |= addr_push(angle, &na, sizeof(angle), (ch));	\
	else								\
		plainlong |= addr_push(plain, &np, sizeof(plain), (ch));	\
} while (0)

int
addr_parse_list(const char *s, size_t len, struct addr_list *l, char *err,
    size_t errsz)
{
	char	 plain[ADDR_MAX + 2], angle[ADDR_MAX + 2];
	size_t	 i, np = 0, na = 0;
	int	 inq = 0, depth = 0, inangle = 0, hasangle = 0;
	int	 plainlong = 0, anglelong = 0;
	char	 c;

	/* quoted or escaped, a line break or NUL never reaches a record */
	if (memchr(s, '\0', len) != NULL || memchr(s, '\r', len) != NULL ||
	    memchr(s, '\n', len) != NULL) {
		(void)snprintf(err, errsz, "control character in address list");
		return -1;
	}
	for (i = 0; i <= len; i++) {
		c = i < len ? s[i] : ',';	/* the end closes the last one */
		if (inq) {
			if (c == '\\' && i + 1 < len) {
				ADDR_PUT(c);	/* quoted-pair kept verbatim */
				c = s[++i];
			} else if (c == '"')
				inq = 0;
			ADDR_PUT(c);
			if (i == len)
				break;
			continue;
		}
		if (depth > 0) {
			if (c == '\\')
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == '(') {
			depth++;
			continue;
		}
		if (c == ')') {
			(void)snprintf(err, errsz, "unbalanced parenthesis in "
			    "address list");
			return -1;
		}
		if (c == '"') {
			inq = 1;
			ADDR_PUT(c);
			continue;
		}
		if (inangle) {
			if (c == '>')
				inangle = 0;
			else if (!isspace((unsigned char)c))
				ADDR_PUT(c);
			continue;
		}
		switch (c) {
		case '<':
			if (hasangle) {
				(void)snprintf(err, errsz, "two <addresses> "
				    "in one mailbox");
				return -1;
			}
			inangle = hasangle = 1;
			na = 0;
			break;
		case ':':
			/* "Group name:" - what came before is the group's name */
			np = 0;
			plainlong = 0;
			break;
		case ',':
		case ';':
			/* a long display name is fine, a long address is not */
			if (hasangle ? anglelong : plainlong) {
				(void)snprintf(err, errsz, "address too long");
				return -1;
			}
			if (addr_finish(l, plain, np, angle, na, hasangle, err,
			    errsz) == -1)
				return -1;
			np = na = 0;
			hasangle = plainlong = anglelong = 0;
			break;
		default:
			/* display-name words collapse; an addr-spec has none */
			if (!isspace((unsigned char)c))
				ADDR_PUT(c);
			break;
		}
	}
	if (inq || depth > 0 || inangle) {
		(void)snprintf(err, errsz, "unbalanced %s in address list",
		    inq ? "quote" : depth > 0 ? "parenthesis" : "'<'");
		return -1;
	}
	return 0;
}

/* The last unquoted '@' of an address (its domain follows), or NULL. */
const char *
addr_domain(const char *a)
{
	const char	*at = NULL;
	int		 inq = 0;

	for (; *a != '\0'; a++) {
		if (inq && *a == '\\' && a[1] != '\0')
			a++;
		else if (*a == '"')
			inq = !inq;
		else if (!inq && *a == '@')
			at = a;
	}
	return at;
}

/* Is the domain of `a' missing or one of this host's names? */
int
addr_is_local(const char *a, const char *const *locals)
{
	const char	*at = addr_domain(a);

	if (at == NULL)
		return 1;
	for (; locals != NULL && *locals != NULL; locals++)
		if (strcasecmp(at + 1, *locals) == 0)
			return 1;
	return 0;
}

/*
 * Masquerade: "root" and "root@localhost" (any name in `locals') become
 * "root@DOMAIN"; other addresses are copied.  -1 if `out' is too small.
 */
int
addr_qualify(const char *a, const char *domain, const char *const *locals,
    char *out, size_t outsz)
{
	const char	*at = addr_domain(a);
	size_t		 local = at != NULL ? (size_t)(at - a) : strlen(a);
	int		 n;

	if (!addr_is_local(a, locals))
		return strlcpy(out, a, outsz) < outsz ? 0 : -1;
	n = snprintf(out, outsz, "%.*s@%s", (int)local, a, domain);
	return n >= 0 && (size_t)n < outsz && n <= ADDR_MAX ? 0 : -1;
}

/*
 * Walk the mailboxes of an address field value `s' (possibly folded with
 * CRLF) and call `cb' with the span [start, end) of each addr-spec: the
 * inside of <...>, or the plain addr-spec when there is no angle.  A
 * plain addr-spec split by white space or comments ("root (x) @ vm",
 * obsolete syntax) is not reported, never guessed at.  Group names,
 * display names and comments are skipped.  0, or -1 when the value does
 * not parse (unbalanced quote, comment or angle) or `cb' fails.
 */
static int
addr_scan(const char *s, size_t len,
    int (*cb)(void *, const char *, size_t, size_t), void *arg)
{
	size_t	 i, ps = 0, pe = 0, as = 0, ae = 0;
	int	 inq = 0, depth = 0, inangle = 0, hasangle = 0;
	int	 plain = 0, gap = 0, messy = 0, angleseen = 0;
	char	 c;

	for (i = 0; i <= len; i++) {
		c = i < len ? s[i] : ',';
		if (inq) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				inq = 0;
			if (i == len)
				return -1;
			if (inangle)
				ae = i + 1;
			else
				pe = i + 1;
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '(') {
			if (c == '(')
				depth++;
			if (plain && !inangle)
				gap = 1;
			continue;
		}
		if (inangle) {
			if (c == '>')
				inangle = 0;
			else {
				if (!angleseen)
					as = i;
				angleseen = 1;
				ae = i + 1;
				if (c == '"')
					inq = 1;
			}
			continue;
		}
		switch (c) {
		case '<':
			if (hasangle)
				return -1;
			inangle = hasangle = 1;
			angleseen = 0;
			as = ae = i + 1;
			break;
		case ':':	/* a group name, or nothing we rewrite */
			plain = gap = messy = 0;
			break;
		case ',':
		case ';':
			if (hasangle && cb(arg, s, as, ae) == -1)
				return -1;
			if (!hasangle && plain && !messy &&
			    cb(arg, s, ps, pe) == -1)
				return -1;
			plain = gap = messy = hasangle = 0;
			break;
		case ')':
		case '>':
			return -1;
		default:
			if (!plain)
				ps = i;
			else if (gap)
				messy = 1;
			plain = 1;
			gap = 0;
			pe = i + 1;
			if (c == '"')
				inq = 1;
			break;
		}
	}
	return depth > 0 || inangle ? -1 : 0;
}

/* Replace [at, end) of `s' by `rep' in each edit; a new string. */
struct addr_edit {
	size_t		 at;
	size_t		 end;
	char		*rep;	/* this edit's own text; NULL: the common */
};

struct addr_edits {
	struct addr_edit	*v;
	size_t			 n;
	const char *const	*locals;
	/* addr_rewrite: the caller's map */
	int			(*map)(void *, const char *, char *, size_t);
	void			*arg;
	int			 nomem;
};

static char *
addr_apply(const char *s, size_t len, const struct addr_edits *e,
    const char *rep)
{
	size_t	 rl, olen = len, k, from, i;
	char	*o;

	for (k = 0; k < e->n; k++)
		olen += strlen(e->v[k].rep != NULL ? e->v[k].rep : rep) -
		    (e->v[k].end - e->v[k].at);
	if ((o = malloc(olen + 1)) == NULL)
		return NULL;
	for (k = 0, from = 0, i = 0; k < e->n; k++) {
		memcpy(o + i, s + from, e->v[k].at - from);
		i += e->v[k].at - from;
		rl = strlen(e->v[k].rep != NULL ? e->v[k].rep : rep);
		memcpy(o + i, e->v[k].rep != NULL ? e->v[k].rep : rep, rl);
		i += rl;
		from = e->v[k].end;
	}
	memcpy(o + i, s + from, len - from);
	o[olen] = '\0';
	return o;
}

static int
addr_edit_push(struct addr_edits *e, size_t at, size_t end)
{
	struct addr_edit	*t;

	if ((t = reallocarray(e->v, e->n + 1, sizeof(*t))) == NULL)
		return -1;
	e->v = t;
	e->v[e->n].at = at;
	e->v[e->n].end = end;
	e->v[e->n].rep = NULL;
	e->n++;
	return 0;
}

/*
 * The addr-spec [*start, end) of `s' into `a' (ADDR_MAX + 1 bytes), for
 * a rewrite: an obsolete source route <@a,@b:user@c> gives user@c, and
 * *start moves to it.  0, or -1 when there is nothing envelope-safe.
 */
static int
addr_spec_copy(const char *s, size_t *start, size_t end, char *a)
{
	const char	*colon;
	size_t		 n;

	if (end <= *start || end - *start > ADDR_MAX)
		return -1;
	if (s[*start] == '@') {
		if ((colon = memchr(s + *start, ':', end - *start)) == NULL)
			return -1;
		*start = (size_t)(colon - s) + 1;
	}
	n = end - *start;
	memcpy(a, s + *start, n);
	a[n] = '\0';
	return addr_valid(a) ? 0 : -1;
}

/* masquerade: the domain part of a local addr-spec, or its end */
static int
addr_masq_cb(void *arg, const char *s, size_t start, size_t end)
{
	struct addr_edits	*e = arg;
	const char		*at;
	char			 a[ADDR_MAX + 1];

	if (addr_spec_copy(s, &start, end, a) == -1 ||
	    !addr_is_local(a, e->locals))
		return 0;
	if ((at = addr_domain(a)) == a)	/* "@vm": no local part */
		return 0;
	return addr_edit_push(e, at != NULL ? start + (size_t)(at - a) :
	    end, end);
}

/* force_from: the whole addr-spec of the first mailbox */
static int
addr_first_cb(void *arg, const char *s, size_t start, size_t end)
{
	struct addr_edits	*e = arg;

	(void)s;
	if (e->n > 0 || end <= start)
		return 0;
	return addr_edit_push(e, start, end);
}

/*
 * Header masquerading.  `s' is the value of an address field
 * (From, To, ...).  Every mailbox whose addr-spec is a bare name or at a
 * local domain gets "@domain": the domain part is replaced, or appended
 * to a bare name.  Everything else (display names, comments, groups,
 * white space, folding) is copied byte for byte: the reader sees the
 * same field with a deliverable address.  A value that does not parse is
 * left alone.
 *
 * Returns the number of addresses rewritten with *out a new string
 * (caller frees), 0 with *out NULL when nothing changed, -1 when out of
 * memory.
 */
int
addr_masquerade(const char *s, size_t len, const char *domain,
    const char *const *locals, char **out)
{
	struct addr_edits	 e;
	char			*rep;
	int			 n;

	*out = NULL;
	memset(&e, 0, sizeof(e));
	e.locals = locals;
	if (addr_scan(s, len, addr_masq_cb, &e) == -1 || e.n == 0) {
		free(e.v);
		return 0;	/* unparsable, or out of memory: unchanged */
	}
	if (asprintf(&rep, "@%s", domain) == -1) {
		free(e.v);
		return -1;
	}
	*out = addr_apply(s, len, &e, rep);
	free(rep);
	free(e.v);
	n = (int)e.n;
	return *out != NULL ? n : -1;
}

/*
 * force_from: the addr-spec of the first mailbox of a From value becomes
 * `addr', display name and comments kept ("Cron <root>" -> "Cron <a@x>").
 * A value without a usable mailbox becomes " <addr>".  A new string, or
 * NULL when out of memory.
 */
char *
addr_force(const char *s, size_t len, const char *addr)
{
	struct addr_edits	 e;
	char			*o;

	memset(&e, 0, sizeof(e));
	if (addr_scan(s, len, addr_first_cb, &e) == -1 || e.n == 0) {
		free(e.v);
		return asprintf(&o, " <%s>", addr) == -1 ? NULL : o;
	}
	o = addr_apply(s, len, &e, addr);
	free(e.v);
	return o;
}

/* addr_rewrite: the whole addr-spec, when the map has it */
static int
addr_map_cb(void *arg, const char *s, size_t start, size_t end)
{
	struct addr_edits	*e = arg;
	char			 a[ADDR_MAX + 1], to[ADDR_MAX + 1];

	if (addr_spec_copy(s, &start, end, a) == -1 ||
	    !e->map(e->arg, a, to, sizeof(to)))
		return 0;
	if (addr_edit_push(e, start, end) == -1 ||
	    (e->v[e->n - 1].rep = strdup(to)) == NULL) {
		e->nomem = 1;
		return -1;
	}
	return 0;
}

/*
 * Replace each addr-spec of an address field value that `map' maps
 * (map(arg, addr, out, outsz) returns 1 with the new address in out, or
 * 0); display names, comments, groups, white space and folding are
 * copied byte for byte, as addr_masquerade does.  A value that does not
 * parse is left alone.  Returns the number of addresses replaced with
 * *out a new string, 0 with *out NULL when nothing changed, -1 when out
 * of memory.
 */
int
addr_rewrite(const char *s, size_t len,
    int (*map)(void *, const char *, char *, size_t), void *arg, char **out)
{
	struct addr_edits	 e;
	size_t			 k;
	int			 n = 0, rc;

	*out = NULL;
	memset(&e, 0, sizeof(e));
	e.map = map;
	e.arg = arg;
	rc = addr_scan(s, len, addr_map_cb, &e);
	if (rc == 0 && e.n > 0) {
		if ((*out = addr_apply(s, len, &e, "")) == NULL)
			n = -1;
		else
			n = (int)e.n;
	} else if (e.nomem)
		n = -1;
	for (k = 0; k < e.n; k++)
		free(e.v[k].rep);
	free(e.v);
	return n;
}
