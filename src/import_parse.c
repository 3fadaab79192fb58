/*
 * relayq import, the parsers' common part: the toolbox every format's
 * parser uses (lines, keys, hosts, the secret) and the relayq.conf the
 * struct import stands for.  The formats (import_ssmtp.c, import_msmtp.c,
 * import_nullmailer.c, import_dma.c, import_postfix.c) call this file
 * and nothing above it; import_format.c picks a format's parser.  Pure
 * functions (no I/O but the FILE given to import_write), unit-tested in
 * test/unit_import.c and fuzzed by test/fuzz/fuzz_import.c.  The command
 * is in import.c.
 *
 * Whatever cannot be expressed in relayq.conf becomes a note naming its
 * file and line, so nothing is dropped silently.  The secret is kept in
 * the struct (freezero'd by import_free) and never written by
 * import_write.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

static const char *const import_names[] = {
	"", "ssmtp", "msmtp", "nullmailer", "dma", "postfix",
};

void
import_init(struct import *ic)
{
	memset(ic, 0, sizeof(*ic));
	ic->tls = -1;
}

void
import_kvs_free(struct import_kvs *s)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].k);
		if (s->v[i].v != NULL)
			freezero(s->v[i].v, strlen(s->v[i].v));
		if (s->v[i].x != NULL)
			freezero(s->v[i].x, strlen(s->v[i].x));
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

void
import_free(struct import *ic)
{
	size_t	 i;

	if (ic->password != NULL)
		freezero(ic->password, strlen(ic->password));
	for (i = 0; i < ic->nroute; i++)
		if (ic->route[i].password != NULL)
			freezero(ic->route[i].password,
			    strlen(ic->route[i].password));
	import_kvs_free(&ic->ctl);
	import_kvs_free(&ic->sasl);
	import_kvs_free(&ic->canon);
	import_init(ic);
}

void
import_note(struct import *ic, const char *fmt, ...)
{
	va_list	 ap;

	if (ic->nnotes == IMPORT_MAXNOTES)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(ic->notes[ic->nnotes++], sizeof(ic->notes[0]), fmt,
	    ap);
	va_end(ap);
}

/* set (replace = 1) or append a key; values are copied */
int
import_kvs_put(struct import_kvs *s, const char *k, const char *v,
    const char *x, unsigned int line, int replace)
{
	struct import_kv	*nv, *e = NULL;
	size_t			 i;

	for (i = 0; replace && i < s->n; i++)
		if (strcasecmp(s->v[i].k, k) == 0)
			e = &s->v[i];
	if (e == NULL) {
		if ((nv = reallocarray(s->v, s->n + 1, sizeof(*nv))) == NULL)
			return -1;
		s->v = nv;
		e = &s->v[s->n++];
		memset(e, 0, sizeof(*e));
		if ((e->k = strdup(k)) == NULL)
			return -1;
	} else {
		if (e->v != NULL)
			freezero(e->v, strlen(e->v));
		if (e->x != NULL)
			freezero(e->x, strlen(e->x));
		e->v = e->x = NULL;
	}
	e->line = line;
	if ((e->v = strdup(v)) == NULL)
		return -1;
	if (x != NULL && (e->x = strdup(x)) == NULL)
		return -1;
	return 0;
}

void
import_kvs_del(struct import_kvs *s, const char *k)
{
	size_t	 i;

	for (i = 0; i < s->n; i++) {
		if (strcasecmp(s->v[i].k, k) != 0)
			continue;
		free(s->v[i].k);
		freezero(s->v[i].v, strlen(s->v[i].v));
		if (s->v[i].x != NULL)
			freezero(s->v[i].x, strlen(s->v[i].x));
		s->v[i] = s->v[--s->n];
		return;
	}
}

const struct import_kv *
import_kvs_get(const struct import_kvs *s, const char *k)
{
	size_t	 i;

	for (i = 0; i < s->n; i++)
		if (strcasecmp(s->v[i].k, k) == 0)
			return &s->v[i];
	return NULL;
}

/*
 * Next line of buf into `line', without its end of line, counted in *n;
 * 1 = a line, 0 = end, -1 = too long or not text (`err' says
 * "FILE:LINE: ...").  Every value that reaches relayq.conf passes here:
 * a control character (a CR inside the line, an escape sequence) would
 * be written into it, so it is refused here, once for all formats.
 */
int
import_getline(const char **pp, const char *end, char *line, size_t sz,
    unsigned int *n, const char *file, char *err, size_t errsz)
{
	const char		*p = *pp, *nl;
	const unsigned char	*c;
	size_t			 len;

	if (p >= end)
		return 0;
	(*n)++;
	if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
		nl = end;
	len = (size_t)(nl - p);
	*pp = nl < end ? nl + 1 : end;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len >= sz) {
		(void)snprintf(err, errsz, "%s:%u: line too long", file, *n);
		return -1;
	}
	memcpy(line, p, len);
	line[len] = '\0';
	if (strlen(line) != len) {	/* NUL byte: treat as garbage */
		line[0] = '\0';
		return 1;
	}
	for (c = (const unsigned char *)line; *c != '\0'; c++)
		if ((*c < 0x20 && *c != '\t') || *c == 0x7f) {
			(void)snprintf(err, errsz, "%s:%u: control character "
			    "0x%02x: not a configuration line", file, *n, *c);
			return -1;
		}
	return 1;
}

char *
import_trim(char *s)
{
	char	*e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* ssmtp and dma end a line at its first '#', wherever it is; trimmed */
char *
import_uncomment(char *line)
{
	line[strcspn(line, "#")] = '\0';
	return import_trim(line);
}

/* "word rest": the word ends at the first blank; the rest, trimmed */
char *
import_word(char *s)
{
	char	*v = s + strcspn(s, " \t");

	if (*v != '\0')
		*v++ = '\0';
	return import_trim(v);
}

int
import_yes(const char *v)
{
	return strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 ||
	    strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

int
import_copy(char *dst, size_t sz, const char *v, const char *what,
    const char *file, unsigned int line, char *err, size_t errsz)
{
	if (strlcpy(dst, v, sz) >= sz) {
		(void)snprintf(err, errsz, "%s:%u: %s too long", file, line,
		    what);
		return -1;
	}
	return 0;
}

int
import_secret(struct import *ic, const char *pw, const char *file,
    unsigned int line, char *err, size_t errsz)
{
	return import_secret_to(&ic->password, ic->pwsrc, sizeof(ic->pwsrc),
	    pw, file, line, err, errsz);
}

/* The secret `pw' into *dst (the old one wiped), FILE:LINE into `src'. */
int
import_secret_to(char **dst, char *src, size_t srcsz, const char *pw,
    const char *file, unsigned int line, char *err, size_t errsz)
{
	if (*dst != NULL)
		freezero(*dst, strlen(*dst));
	if ((*dst = strdup(pw)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	(void)snprintf(src, srcsz, "%s:%u", file, line);
	return 0;
}

/* A route's password file: the main one's name, "-", the route's. */
void
import_route_pwfile(const char *pwfile, const char *name, char *buf,
    size_t sz)
{
	(void)snprintf(buf, sz, "%s-%s", pwfile, name);
}

/*
 * "host", "host:port", "[host]:port", "[v6]:port".  The brackets (Postfix:
 * no MX lookup) are dropped: relayq never looks up MX records anyway.
 */
int
import_hostport(struct import *ic, const char *spec, const char *defport,
    const char *file, unsigned int line, char *err, size_t errsz)
{
	if (ic->nhost == CONF_MAXHOSTS) {
		import_note(ic, "%s:%u: more than %d relays; \"%s\" dropped",
		    file, line, CONF_MAXHOSTS, spec);
		return 0;
	}
	if (import_hostport_parse(spec, defport, ic->host[ic->nhost],
	    sizeof(ic->host[0]), ic->port[ic->nhost], sizeof(ic->port[0])) ==
	    -1) {
		(void)snprintf(err, errsz, "%s:%u: bad relay host \"%s\"", file,
		    line, spec);
		return -1;
	}
	ic->nhost++;
	return 0;
}

/* `spec' as in import_hostport into `host' and `port'; -1 when bad */
int
import_hostport_parse(const char *spec, const char *defport, char *host,
    size_t hostsz, char *port, size_t portsz)
{
	const char	*p = defport, *end, *errstr;
	size_t		 len;

	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL)
			return -1;
		len = (size_t)(end - spec - 1);
		if (end[1] == ':')
			p = end + 2;
		else if (end[1] != '\0')
			return -1;
		spec++;
	} else if ((end = strchr(spec, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		len = (size_t)(end - spec);
		p = end + 1;
	} else
		len = strlen(spec);
	if (len == 0 || len >= hostsz || strlen(p) >= portsz)
		return -1;
	memcpy(host, spec, len);
	host[len] = '\0';
	if (strcspn(host, " \t[]/") != len)
		return -1;
	(void)strtonum(p, 1, 65535, &errstr);
	if (errstr != NULL || strspn(p, "0123456789") != strlen(p))
		return -1;
	(void)strlcpy(port, p, portsz);
	return 0;
}

/* the sasl entry whose key names `host' (any [], :port), or NULL */
const struct import_kv *
import_sasl_find(const struct import *ic, const char *exact,
    const char *host)
{
	const struct import_kv	*e;
	char			 name[300];
	size_t			 i;

	if (exact != NULL && (e = import_kvs_get(&ic->sasl, exact)) != NULL)
		return e;
	for (i = 0; i < ic->sasl.n; i++) {
		e = &ic->sasl.v[i];
		(void)strlcpy(name, e->k[0] == '[' ? e->k + 1 : e->k,
		    sizeof(name));
		name[strcspn(name, "]")] = '\0';
		if (e->k[0] != '[')
			name[strcspn(name, ":")] = '\0';
		if (strcasecmp(name, host) == 0)
			return e;
	}
	return NULL;
}

/*
 * A password map, dma's auth.conf or Postfix's sasl_passwd, into
 * ic->sasl keyed by host.  `split' cuts a line (trimmed, not a comment)
 * into host, user and password, or returns -1 when it is not in `form':
 * noted and ignored.  `replace': a later line for a host replaces the
 * earlier one.  The line buffer held a password: wiped.
 */
int
import_sasl_read(struct import *ic, const char *file, const char *buf,
    size_t len, int (*split)(char *, char **, char **, char **),
    const char *form, int replace, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *l, *host, *user, *pw;
	unsigned int	 n = 0;
	int		 r, rc = -1;

	(void)strlcpy(ic->saslname, file, sizeof(ic->saslname));
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		l = import_trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		if (split(l, &host, &user, &pw) == -1) {
			import_note(ic, "%s:%u: not %s, ignored", file, n,
			    form);
			continue;
		}
		if (import_kvs_put(&ic->sasl, host, user, pw, n,
		    replace) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			goto done;
		}
	}
	if (r == -1)
		goto done;
	rc = 0;
 done:
	explicit_bzero(line, sizeof(line));
	return rc;
}

int
import_use_sasl(struct import *ic, const struct import_kv *e, char *err,
    size_t errsz)
{
	if (strlcpy(ic->user, e->v, sizeof(ic->user)) >= sizeof(ic->user)) {
		(void)snprintf(err, errsz, "%s:%u: user name too long",
		    ic->saslname, e->line);
		return -1;
	}
	return import_secret(ic, e->x, ic->saslname, e->line, err, errsz);
}

/* A `route' block; route blocks come after every top-level key. */
static void
import_write_route(const struct import *ic, const struct import_route *r,
    FILE *fp, const char *pwfile)
{
	char	 pw[1100];

	(void)fprintf(fp, "\nroute %s\n  sender %s\n", r->name, r->sender);
	(void)fprintf(fp, strchr(r->host, ':') != NULL ?
	    "  smarthost [%s]:%s\n" : "  smarthost %s:%s\n", r->host, r->port);
	if (r->tls == TLS_IMPLICIT)
		(void)fprintf(fp, "  tls implicit\n");
	/* the default route's is inherited */
	if (r->ca_file[0] != '\0' && strcmp(r->ca_file, ic->ca_file) != 0)
		(void)fprintf(fp, "  tls_ca_file %s\n", r->ca_file);
	if (r->user[0] != '\0') {
		import_route_pwfile(pwfile, r->name, pw, sizeof(pw));
		(void)fprintf(fp, "  auth_user %s\n  auth_password_file %s\n",
		    r->user, pw);
	}
}

/* relayq.conf for `ic'; the secret is never written here */
int
import_write(const struct import *ic, FILE *fp, const char *pwfile,
    const char *files)
{
	size_t	 i;

	(void)fprintf(fp, "# relayq.conf(5) converted by `relayq import' "
	    "from %s: %s\n", import_names[ic->from], files);
	for (i = 0; i < ic->nhost; i++)
		(void)fprintf(fp, strchr(ic->host[i], ':') != NULL ?
		    "smarthost [%s]:%s\n" : "smarthost %s:%s\n", ic->host[i],
		    ic->port[i]);
	if (ic->tls != -1)
		(void)fprintf(fp, "tls %s\n", ic->tls == TLS_IMPLICIT ?
		    "implicit" : "starttls");
	if (ic->ca_file[0] != '\0')
		(void)fprintf(fp, "tls_ca_file %s\n", ic->ca_file);
	if (ic->user[0] != '\0') {
		(void)fprintf(fp, "auth_user %s\n", ic->user);
		(void)fprintf(fp, "auth_password_file %s\n", pwfile);
	}
	if (ic->helo[0] != '\0')
		(void)fprintf(fp, "helo_name %s\n", ic->helo);
	if (ic->domain[0] != '\0')
		(void)fprintf(fp, "domain %s\n", ic->domain);
	if (ic->admin[0] != '\0')
		(void)fprintf(fp, "admin_address %s\n", ic->admin);
	if (ic->force_sender[0] != '\0')
		(void)fprintf(fp, "force_sender %s\n", ic->force_sender);
	if (ic->force_from)
		(void)fprintf(fp, "force_from yes\n");
	if (ic->aliases[0] != '\0')
		(void)fprintf(fp, "aliases %s\n", ic->aliases);
	/* a map that is not written must not be named: sendmail would
	   refuse every message */
	if (ic->canon.n > 0 && ic->canonfile[0] != '\0')
		(void)fprintf(fp, "sender_canonical %s\n", ic->canonfile);
	else if (ic->canon.n > 0)
		(void)fprintf(fp, "# sender_canonical %s (%zu entries found: "
		    "relayq import -c FILE writes them)\n", IMPORT_CANONFILE,
		    ic->canon.n);
	for (i = 0; i < ic->nroute; i++)
		import_write_route(ic, &ic->route[i], fp, pwfile);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

const char *
import_name(enum import_from from)
{
	return import_names[from];
}
