/*
 * relayq import, the parsers: the files of ssmtp, msmtp, nullmailer, dma
 * and a Postfix null client, as buffers, into a struct import; then the
 * relayq.conf it stands for.  Pure functions (no I/O but the FILE given
 * to import_write), unit-tested in test/unit_import.c.  The command is in
 * import.c.
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

#define IMPORT_LINE	4096
#define TLS_PLAIN	(-2)	/* the old configuration used no TLS */
/* relayq.conf's default: implicit TLS on 465 only */
#define IMPORT_DEFTLS(port) \
	(strcmp((port), "465") == 0 ? TLS_IMPLICIT : TLS_STARTTLS)

static const char *const import_names[] = {
	"", "ssmtp", "msmtp", "nullmailer", "dma", "postfix",
};

void
import_init(struct import *ic)
{
	memset(ic, 0, sizeof(*ic));
	ic->tls = -1;
}

static void
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
	if (ic->password != NULL)
		freezero(ic->password, strlen(ic->password));
	import_kvs_free(&ic->ctl);
	import_kvs_free(&ic->sasl);
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
static int
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

static void
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

static const struct import_kv *
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
 * 1 = a line, 0 = end, -1 = too long (`err' says "FILE:LINE: ...").
 */
static int
import_getline(const char **pp, const char *end, char *line, size_t sz,
    unsigned int *n, const char *file, char *err, size_t errsz)
{
	const char	*p = *pp, *nl;
	size_t		 len;

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
	if (strlen(line) != len)	/* NUL byte: treat as garbage */
		line[0] = '\0';
	return 1;
}

static char *
import_trim(char *s)
{
	char	*e;

	s += strspn(s, " \t");
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
import_yes(const char *v)
{
	return strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 ||
	    strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static int
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

static int
import_secret(struct import *ic, const char *pw, const char *file,
    unsigned int line, char *err, size_t errsz)
{
	if (ic->password != NULL)
		freezero(ic->password, strlen(ic->password));
	if ((ic->password = strdup(pw)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	(void)snprintf(ic->pwsrc, sizeof(ic->pwsrc), "%s:%u", file, line);
	return 0;
}

/*
 * "host", "host:port", "[host]:port", "[v6]:port".  The brackets (Postfix:
 * no MX lookup) are dropped: relayq never looks up MX records anyway.
 */
static int
import_hostport(struct import *ic, const char *spec, const char *defport,
    const char *file, unsigned int line, char *err, size_t errsz)
{
	const char	*port = defport, *end, *errstr;
	char		 name[256];
	size_t		 len;

	if (ic->nhost == CONF_MAXHOSTS) {
		import_note(ic, "%s:%u: more than %d relays; \"%s\" dropped",
		    file, line, CONF_MAXHOSTS, spec);
		return 0;
	}
	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL)
			goto bad;
		len = (size_t)(end - spec - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			goto bad;
		spec++;
	} else if ((end = strchr(spec, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		len = (size_t)(end - spec);
		port = end + 1;
	} else
		len = strlen(spec);
	if (len == 0 || len >= sizeof(name))
		goto bad;
	memcpy(name, spec, len);
	name[len] = '\0';
	if (strcspn(name, " \t[]/") != len)
		goto bad;
	(void)strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL || strspn(port, "0123456789") != strlen(port))
		goto bad;
	(void)strlcpy(ic->host[ic->nhost], name, sizeof(ic->host[0]));
	(void)strlcpy(ic->port[ic->nhost], port, sizeof(ic->port[0]));
	ic->nhost++;
	return 0;
 bad:
	(void)snprintf(err, errsz, "%s:%u: bad relay host \"%s\"", file, line,
	    spec);
	return -1;
}

/* --- ssmtp.conf: Key=Value, keys case-insensitive ----------------------- */

int
import_ssmtp(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *k, *v, *eq;
	unsigned int	 n = 0;
	int		 r, usetls = 0, starttls = 0;

	ic->from = IMPORT_SSMTP;
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		/* ssmtp itself cuts every line at the first '#' */
		line[strcspn(line, "#")] = '\0';
		k = import_trim(line);
		if (*k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			import_note(ic, "%s:%u: not Key=Value, ignored", file,
			    n);
			continue;
		}
		*eq = '\0';
		k = import_trim(k);
		v = import_trim(eq + 1);
		if (strcasecmp(k, "mailhub") == 0) {
			if (import_hostport(ic, v, "25", file, n, err,
			    errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "UseTLS") == 0)
			usetls = import_yes(v);
		else if (strcasecmp(k, "UseSTARTTLS") == 0)
			starttls = import_yes(v);
		else if (strcasecmp(k, "AuthUser") == 0) {
			if (import_copy(ic->user, sizeof(ic->user), v,
			    "AuthUser", file, n, err, errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "AuthPass") == 0) {
			if (import_secret(ic, v, file, n, err, errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "rewriteDomain") == 0) {
			if (import_copy(ic->domain, sizeof(ic->domain), v,
			    "rewriteDomain", file, n, err, errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "hostname") == 0) {
			if (import_copy(ic->helo, sizeof(ic->helo), v,
			    "hostname", file, n, err, errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "root") == 0) {
			if (strchr(v, '@') == NULL)
				import_note(ic, "%s:%u: root=%s is not an "
				    "address; set admin_address to the mailbox "
				    "that should get root's mail", file, n, v);
			else if (import_copy(ic->admin, sizeof(ic->admin), v,
			    "root", file, n, err, errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "TLS_CA_File") == 0) {
			if (import_copy(ic->ca_file, sizeof(ic->ca_file), v,
			    "TLS_CA_File", file, n, err, errsz) == -1)
				return -1;
		} else if (strcasecmp(k, "FromLineOverride") == 0)
			;	/* relayq never replaces an existing From */
		else if (strcasecmp(k, "AuthMethod") == 0)
			import_note(ic, "%s:%u: AuthMethod %s not converted: "
			    "relayq uses PLAIN or LOGIN, only over verified "
			    "TLS", file, n, v);
		else
			import_note(ic, "%s:%u: %s not converted", file, n, k);
	}
	if (r == -1)
		return -1;
	/* ssmtp: UseSTARTTLS implies TLS; UseTLS alone wraps the socket */
	if (starttls)
		ic->tls = TLS_STARTTLS;
	else if (usetls)
		ic->tls = TLS_IMPLICIT;
	else
		ic->tls = TLS_PLAIN;
	return 0;
}

/* --- msmtprc: "defaults", "account NAME [: PARENT, ...]", "key value" --- */

struct msmtp_account {
	char			 name[128];
	struct import_kvs	 kv;
};

/* msmtp values may be double-quoted with \" and \\ escapes */
static void
msmtp_unquote(char *v)
{
	char	*s = v, *d = v;

	if (*s != '"')
		return;
	for (s++; *s != '\0' && *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		*d++ = *s;
	}
	*d = '\0';
}

static int
msmtp_copy_kvs(struct import_kvs *dst, const struct import_kvs *src)
{
	size_t	 i;

	for (i = 0; i < src->n; i++)
		if (import_kvs_put(dst, src->v[i].k, src->v[i].v, NULL,
		    src->v[i].line, 1) == -1)
			return -1;
	return 0;
}

static int
msmtp_apply(struct import *ic, const char *file, const char *acct,
    const struct import_kvs *kv, char *err, size_t errsz)
{
	const struct import_kv	*e;
	const char		*k, *v, *port;
	int			 tls = 0, starttls = 1;
	size_t			 i;

	if ((e = import_kvs_get(kv, "host")) == NULL) {
		(void)snprintf(err, errsz, "%s: account %s has no host", file,
		    acct);
		return -1;
	}
	if ((e = import_kvs_get(kv, "tls")) != NULL)
		tls = import_yes(e->v);
	if ((e = import_kvs_get(kv, "tls_starttls")) != NULL)
		starttls = import_yes(e->v);
	ic->tls = !tls ? TLS_PLAIN : starttls ? TLS_STARTTLS : TLS_IMPLICIT;
	/* msmtp's default port: 465 for TLS without STARTTLS, else 25 */
	e = import_kvs_get(kv, "port");
	port = e != NULL ? e->v : ic->tls == TLS_IMPLICIT ? "465" : "25";
	e = import_kvs_get(kv, "host");
	if (strchr(e->v, ':') != NULL && e->v[0] != '[') {
		(void)snprintf(err, errsz, "%s:%u: bad host \"%s\"", file,
		    e->line, e->v);
		return -1;
	}
	if (ic->nhost < CONF_MAXHOSTS) {
		if (strlcpy(ic->host[ic->nhost], e->v, sizeof(ic->host[0])) >=
		    sizeof(ic->host[0]) || strtonum(port, 1, 65535, &k) == 0 ||
		    strlcpy(ic->port[ic->nhost], port, sizeof(ic->port[0])) >=
		    sizeof(ic->port[0])) {
			(void)snprintf(err, errsz, "%s:%u: bad host or port",
			    file, e->line);
			return -1;
		}
		ic->nhost++;
	}
	for (i = 0; i < kv->n; i++) {
		k = kv->v[i].k;
		v = kv->v[i].v;
		if (strcmp(k, "host") == 0 || strcmp(k, "port") == 0 ||
		    strcmp(k, "tls") == 0 || strcmp(k, "tls_starttls") == 0 ||
		    strcmp(k, "logfile") == 0 || strcmp(k, "syslog") == 0 ||
		    strcmp(k, "timeout") == 0 || strcmp(k, "auto_from") == 0)
			continue;
		if (strcmp(k, "user") == 0) {
			e = import_kvs_get(kv, "auth");
			if (e != NULL && strcasecmp(e->v, "off") == 0)
				continue;
			if (import_copy(ic->user, sizeof(ic->user), v, "user",
			    file, kv->v[i].line, err, errsz) == -1)
				return -1;
		} else if (strcmp(k, "password") == 0) {
			if (import_secret(ic, v, file, kv->v[i].line, err,
			    errsz) == -1)
				return -1;
		} else if (strcmp(k, "passwordeval") == 0)
			import_note(ic, "%s:%u: passwordeval not converted: "
			    "run the command once and store its output in the "
			    "password file", file, kv->v[i].line);
		else if (strcmp(k, "auth") == 0) {
			if (strcasecmp(v, "on") != 0 &&
			    strcasecmp(v, "off") != 0 &&
			    strcasecmp(v, "plain") != 0 &&
			    strcasecmp(v, "login") != 0)
				import_note(ic, "%s:%u: auth %s not converted: "
				    "relayq uses PLAIN or LOGIN over verified "
				    "TLS", file, kv->v[i].line, v);
		} else if (strcmp(k, "from") == 0) {
			/* msmtp sends every message without -f from here */
			if (import_copy(ic->force_sender,
			    sizeof(ic->force_sender), v, "from", file,
			    kv->v[i].line, err, errsz) == -1)
				return -1;
		} else if (strcmp(k, "set_from_header") == 0)
			ic->force_from = import_yes(v);
		else if (strcmp(k, "domain") == 0) {
			if (import_copy(ic->helo, sizeof(ic->helo), v,
			    "domain", file, kv->v[i].line, err, errsz) == -1)
				return -1;
		} else if (strcmp(k, "maildomain") == 0) {
			if (import_copy(ic->domain, sizeof(ic->domain), v,
			    "maildomain", file, kv->v[i].line, err,
			    errsz) == -1)
				return -1;
		} else if (strcmp(k, "tls_trust_file") == 0) {
			if (strcmp(v, "system") != 0 && strcmp(v, "") != 0 &&
			    import_copy(ic->ca_file, sizeof(ic->ca_file), v,
			    "tls_trust_file", file, kv->v[i].line, err,
			    errsz) == -1)
				return -1;
		} else if (strcmp(k, "tls_certcheck") == 0 && !import_yes(v))
			import_note(ic, "%s:%u: tls_certcheck off not "
			    "converted: relayq always verifies the certificate "
			    "(use tls_ca_file for a private CA)", file,
			    kv->v[i].line);
		else if (strcmp(k, "tls_certcheck") != 0)
			import_note(ic, "%s:%u: %s not converted", file,
			    kv->v[i].line, k);
	}
	return 0;
}

int
import_msmtp(struct import *ic, const char *file, const char *buf,
    size_t len, const char *want, char *err, size_t errsz)
{
	struct msmtp_account	*acc = NULL, *na;
	struct import_kvs	 defaults = { NULL, 0 }, *cur = &defaults;
	const char		*p = buf, *end = buf + len, *use = want;
	char			 line[IMPORT_LINE], *k, *v, *par, *tok, *last;
	size_t			 nacc = 0, i, j;
	unsigned int		 n = 0;
	int			 r, rc = -1;

	ic->from = IMPORT_MSMTP;
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		k = import_trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		v = k + strcspn(k, " \t");
		if (*v != '\0')
			*v++ = '\0';
		v = import_trim(v);
		if (strcmp(k, "defaults") == 0) {
			cur = &defaults;
			continue;
		}
		if (strcmp(k, "account") != 0) {
			msmtp_unquote(v);
			/* like msmtp: the later of the two replaces the other */
			if (strcmp(k, "password") == 0)
				import_kvs_del(cur, "passwordeval");
			else if (strcmp(k, "passwordeval") == 0)
				import_kvs_del(cur, "password");
			if (import_kvs_put(cur, k, v, NULL, n, 1) == -1)
				goto oom;
			continue;
		}
		if ((na = reallocarray(acc, nacc + 1, sizeof(*acc))) == NULL)
			goto oom;
		acc = na;
		memset(&acc[nacc], 0, sizeof(acc[0]));
		cur = &acc[nacc].kv;
		nacc++;
		if ((par = strchr(v, ':')) != NULL)
			*par++ = '\0';
		v = import_trim(v);
		if (*v == '\0' || strlcpy(acc[nacc - 1].name, v,
		    sizeof(acc[0].name)) >= sizeof(acc[0].name)) {
			(void)snprintf(err, errsz, "%s:%u: bad account name",
			    file, n);
			goto done;
		}
		/* an account starts from the defaults, then its parents */
		if (msmtp_copy_kvs(cur, &defaults) == -1)
			goto oom;
		for (tok = par != NULL ? strtok_r(par, ", \t", &last) : NULL;
		    tok != NULL; tok = strtok_r(NULL, ", \t", &last)) {
			for (j = 0; j + 1 < nacc; j++)
				if (strcmp(acc[j].name, tok) == 0)
					break;
			if (j + 1 == nacc) {
				(void)snprintf(err, errsz, "%s:%u: account "
				    "\"%s\" not defined before", file, n, tok);
				goto done;
			}
			if (msmtp_copy_kvs(cur, &acc[j].kv) == -1)
				goto oom;
		}
	}
	if (r == -1)
		goto done;
	/* msmtp uses the account "default" unless told otherwise */
	if (use == NULL) {
		use = "default";
		for (i = 0; i < nacc; i++)
			if (strcmp(acc[i].name, "default") == 0)
				break;
		if (i == nacc && nacc == 1) {
			use = acc[0].name;
			import_note(ic, "%s: no account \"default\"; using the "
			    "only account, \"%s\"", file, use);
		}
	}
	for (i = 0; i < nacc; i++)
		if (strcmp(acc[i].name, use) == 0)
			break;
	if (i == nacc) {
		(void)snprintf(err, errsz, "%s: no account \"%s\"%s", file, use,
		    want == NULL ? " (choose one with -a NAME)" : "");
		goto done;
	}
	rc = msmtp_apply(ic, file, use, &acc[i].kv, err, errsz);
	goto done;
 oom:
	(void)snprintf(err, errsz, "out of memory");
 done:
	for (i = 0; i < nacc; i++)
		import_kvs_free(&acc[i].kv);
	free(acc);
	import_kvs_free(&defaults);
	return rc;
}

/* --- nullmailer: control files named by their base name ----------------- */

static const char *
import_base(const char *path)
{
	const char	*s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static int
nullmailer_remote(struct import *ic, const char *file, unsigned int n,
    char *line, char *err, size_t errsz)
{
	char		*tok, *last, *host, *proto, *o, *val;
	char		 port[8] = "", user[256] = "";
	int		 ssl = 0, starttls = 0;

	host = strtok_r(line, " \t", &last);
	proto = strtok_r(NULL, " \t", &last);
	if (proto == NULL || strcmp(proto, "smtp") != 0) {
		import_note(ic, "%s:%u: %s: only the smtp protocol is "
		    "converted", file, n, host);
		return 0;
	}
	while ((tok = strtok_r(NULL, " \t", &last)) != NULL) {
		/* nullmailer 1.x wrote options without the leading -- */
		o = tok[0] == '-' && tok[1] == '-' ? tok + 2 : tok;
		if ((val = strchr(o, '=')) != NULL)
			*val++ = '\0';
		if (strcmp(o, "port") == 0 && val != NULL)
			(void)strlcpy(port, val, sizeof(port));
		else if (strcmp(o, "user") == 0 && val != NULL)
			(void)strlcpy(user, val, sizeof(user));
		else if (strcmp(o, "pass") == 0 && val != NULL) {
			if (ic->password == NULL && import_secret(ic, val,
			    file, n, err, errsz) == -1)
				return -1;
		} else if (strcmp(o, "ssl") == 0)
			ssl = 1;
		else if (strcmp(o, "starttls") == 0)
			starttls = 1;
		else if (strcmp(o, "x509cafile") == 0 && val != NULL)
			(void)strlcpy(ic->ca_file, val, sizeof(ic->ca_file));
		else if (strcmp(o, "insecure") == 0)
			import_note(ic, "%s:%u: --insecure not converted: "
			    "relayq always verifies the certificate", file, n);
		else if (strcmp(o, "auth-login") != 0)
			import_note(ic, "%s:%u: --%s not converted", file, n,
			    o);
	}
	if (user[0] != '\0') {
		if (ic->user[0] != '\0' && strcmp(ic->user, user) != 0)
			import_note(ic, "%s:%u: relayq has one login for all "
			    "relays; keeping user %s", file, n, ic->user);
		else
			(void)strlcpy(ic->user, user, sizeof(ic->user));
	}
	if (import_hostport(ic, host, port[0] != '\0' ? port :
	    ssl && !starttls ? "465" : "25", file, n, err, errsz) == -1)
		return -1;
	ic->htls[ic->nhost - 1] = starttls ? TLS_STARTTLS : ssl ?
	    TLS_IMPLICIT : TLS_PLAIN;
	return 0;
}

int
import_nullmailer(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	static const char *const ctl[] = { "me", "defaultdomain",
	    "defaulthost", "adminaddr", "allmailfrom", "helohost" };
	const char	*p = buf, *end = buf + len, *role = import_base(file);
	char		 line[IMPORT_LINE], *l;
	unsigned int	 n = 0;
	size_t		 i;
	int		 r;

	ic->from = IMPORT_NULLMAILER;
	for (i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++)
		if (strcmp(role, ctl[i]) == 0)
			break;
	if (strcmp(role, "remotes") != 0 && i == sizeof(ctl) / sizeof(ctl[0])) {
		import_note(ic, "%s: not a nullmailer control file that "
		    "relayq converts, ignored", file);
		return 0;
	}
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		l = import_trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		if (strcmp(role, "remotes") == 0) {
			if (nullmailer_remote(ic, file, n, l, err, errsz) == -1)
				return -1;
			continue;
		}
		/* one value per control file: the first line */
		if (import_kvs_put(&ic->ctl, role, l, NULL, n, 1) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		break;
	}
	if (r == -1)
		return -1;
	return 0;
}

/* name, with ".defaultdomain" when it has no dot (nullmailer's rule) */
static void
nullmailer_qualify(const struct import *ic, char *dst, size_t sz,
    const char *name)
{
	const struct import_kv	*dd = import_kvs_get(&ic->ctl, "defaultdomain");

	if (strchr(name, '.') == NULL && dd != NULL &&
	    strcmp(name, "localhost") != 0)
		(void)snprintf(dst, sz, "%s.%s", name, dd->v);
	else
		(void)strlcpy(dst, name, sz);
}

static void
nullmailer_finish(struct import *ic)
{
	const struct import_kv	*me, *e;

	me = import_kvs_get(&ic->ctl, "me");
	if ((e = import_kvs_get(&ic->ctl, "defaulthost")) == NULL)
		e = me;
	if (e != NULL)
		nullmailer_qualify(ic, ic->domain, sizeof(ic->domain), e->v);
	if ((e = import_kvs_get(&ic->ctl, "helohost")) == NULL)
		e = me;
	if (e != NULL)
		nullmailer_qualify(ic, ic->helo, sizeof(ic->helo), e->v);
	if ((e = import_kvs_get(&ic->ctl, "adminaddr")) != NULL) {
		(void)strlcpy(ic->admin, e->v, sizeof(ic->admin));
		if (strchr(ic->admin, ',') != NULL) {
			ic->admin[strcspn(ic->admin, ",")] = '\0';
			import_note(ic, "adminaddr: relayq's admin_address is "
			    "one address; kept %s", ic->admin);
		}
	}
	if ((e = import_kvs_get(&ic->ctl, "allmailfrom")) != NULL)
		(void)strlcpy(ic->force_sender, e->v,
		    sizeof(ic->force_sender));
}

/* --- dma.conf: "KEY value" or "KEY"; auth.conf: user|host:password ------ */

int
import_dma(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *k, *v;
	unsigned int	 n = 0;
	int		 r;

	ic->from = IMPORT_DMA;
	(void)strlcpy(ic->mainname, file, sizeof(ic->mainname));
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		line[strcspn(line, "#")] = '\0';
		k = import_trim(line);
		if (*k == '\0')
			continue;
		v = k + strcspn(k, " \t");
		if (*v != '\0')
			*v++ = '\0';
		v = import_trim(v);
		if (import_kvs_put(&ic->ctl, k, v, NULL, n, 1) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
	}
	if (r == -1)
		return -1;
	return 0;
}

int
import_dma_auth(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *l, *bar, *colon;
	unsigned int	 n = 0;
	int		 r;

	(void)strlcpy(ic->saslname, file, sizeof(ic->saslname));
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		l = import_trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		if ((bar = strchr(l, '|')) == NULL ||
		    (colon = strchr(bar, ':')) == NULL) {
			import_note(ic, "%s:%u: not user|host:password, "
			    "ignored", file, n);
			continue;
		}
		*bar++ = '\0';
		*colon++ = '\0';
		if (import_kvs_put(&ic->sasl, bar, l, colon, n, 0) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			goto fail;
		}
	}
	if (r == -1)
		goto fail;
	explicit_bzero(line, sizeof(line));
	return 0;
 fail:
	explicit_bzero(line, sizeof(line));
	return -1;
}

/* the sasl entry whose key names `host' (any [], :port), or NULL */
static const struct import_kv *
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

static int
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

static int
dma_finish(struct import *ic, char *err, size_t errsz)
{
	const struct import_kv	*e, *port;
	const char		*f = ic->mainname;
	size_t			 i;

	port = import_kvs_get(&ic->ctl, "PORT");
	if ((e = import_kvs_get(&ic->ctl, "SMARTHOST")) != NULL &&
	    import_hostport(ic, e->v, port != NULL ? port->v : "25", f,
	    e->line, err, errsz) == -1)
		return -1;
	if (import_kvs_get(&ic->ctl, "SECURETRANSFER") == NULL)
		ic->tls = TLS_PLAIN;
	else if (import_kvs_get(&ic->ctl, "STARTTLS") != NULL)
		ic->tls = TLS_STARTTLS;
	else
		ic->tls = TLS_IMPLICIT;
	for (i = 0; i < ic->ctl.n; i++) {
		e = &ic->ctl.v[i];
		if (strcasecmp(e->k, "MAILNAME") == 0) {
			if (e->v[0] != '/')
				(void)strlcpy(ic->domain, e->v,
				    sizeof(ic->domain));
			else if (strcmp(e->v, "/etc/mailname") != 0)
				import_note(ic, "%s:%u: MAILNAME %s: set "
				    "domain to the name in that file", f,
				    e->line, e->v);
		} else if (strcasecmp(e->k, "MASQUERADE") == 0) {
			if (e->v[0] != '@' && strchr(e->v, '@') != NULL &&
			    e->v[strlen(e->v) - 1] != '@')
				(void)strlcpy(ic->force_sender, e->v,
				    sizeof(ic->force_sender));
			else if (strchr(e->v, '@') == NULL)
				(void)strlcpy(ic->domain, e->v,
				    sizeof(ic->domain));
			else
				import_note(ic, "%s:%u: MASQUERADE %s not "
				    "converted: use force_sender ADDRESS", f,
				    e->line, e->v);
		} else if (strcasecmp(e->k, "ALIASES") == 0)
			(void)strlcpy(ic->aliases, e->v, sizeof(ic->aliases));
		else if (strcasecmp(e->k, "CERTFILE") == 0)
			import_note(ic, "%s:%u: CERTFILE not converted: relayq "
			    "has no client certificates yet", f, e->line);
		else if (strcasecmp(e->k, "OPPORTUNISTIC_TLS") == 0)
			import_note(ic, "%s:%u: OPPORTUNISTIC_TLS not "
			    "converted: relayq never falls back to plaintext",
			    f, e->line);
		else if (strcasecmp(e->k, "INSECURE") == 0)
			import_note(ic, "%s:%u: INSECURE not converted: relayq "
			    "sends credentials only over verified TLS", f,
			    e->line);
		else if (strcasecmp(e->k, "FINGERPRINT") == 0)
			import_note(ic, "%s:%u: FINGERPRINT not converted: "
			    "relayq pins the public key, not the certificate",
			    f, e->line);
		else if (strcasecmp(e->k, "SMARTHOST") != 0 &&
		    strcasecmp(e->k, "PORT") != 0 &&
		    strcasecmp(e->k, "AUTHPATH") != 0 &&
		    strcasecmp(e->k, "SECURETRANSFER") != 0 &&
		    strcasecmp(e->k, "STARTTLS") != 0 &&
		    strcasecmp(e->k, "SPOOLDIR") != 0 &&
		    strcasecmp(e->k, "NULLCLIENT") != 0)
			import_note(ic, "%s:%u: %s not converted", f, e->line,
			    e->k);
	}
	if (ic->nhost > 0 && ic->sasl.n > 0) {
		if ((e = import_sasl_find(ic, NULL, ic->host[0])) != NULL)
			return import_use_sasl(ic, e, err, errsz);
		import_note(ic, "%s: no entry for %s", ic->saslname,
		    ic->host[0]);
	}
	return 0;
}

/* --- Postfix main.cf (name = value, indented continuation) + sasl_passwd - */

int
import_postfix(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], val[IMPORT_LINE], name[128];
	char		*l, *eq;
	unsigned int	 n = 0, at = 0;
	int		 r, have = 0;

	ic->from = IMPORT_POSTFIX;
	(void)strlcpy(ic->mainname, file, sizeof(ic->mainname));
	for (;;) {
		r = import_getline(&p, end, line, sizeof(line), &n, file,
		    err, errsz);
		if (r == -1)
			return -1;
		l = r == 1 ? import_trim(line) : NULL;
		if (r == 1 && (*l == '\0' || *l == '#'))
			continue;
		/* an indented line continues the parameter above it */
		if (r == 1 && have && (line[0] == ' ' || line[0] == '\t')) {
			if (strlcat(val, " ", sizeof(val)) >= sizeof(val) ||
			    strlcat(val, l, sizeof(val)) >= sizeof(val)) {
				(void)snprintf(err, errsz, "%s:%u: value too "
				    "long", file, n);
				return -1;
			}
			continue;
		}
		if (have && import_kvs_put(&ic->ctl, name, import_trim(val),
		    NULL, at, 1) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		have = 0;
		if (r == 0)
			break;
		if ((eq = strchr(l, '=')) == NULL) {
			import_note(ic, "%s:%u: not name = value, ignored",
			    file, n);
			continue;
		}
		*eq = '\0';
		if (strlcpy(name, import_trim(l), sizeof(name)) >=
		    sizeof(name) || strlcpy(val, eq + 1, sizeof(val)) >=
		    sizeof(val))
			continue;
		have = 1;
		at = n;
	}
	return 0;
}

int
import_postfix_sasl(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *l, *v, *colon;
	unsigned int	 n = 0;
	int		 r, rc = -1;

	(void)strlcpy(ic->saslname, file, sizeof(ic->saslname));
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		l = import_trim(line);
		if (*l == '\0' || *l == '#')
			continue;
		v = l + strcspn(l, " \t");
		if (*v != '\0')
			*v++ = '\0';
		v = import_trim(v);
		if ((colon = strchr(v, ':')) == NULL) {
			import_note(ic, "%s:%u: not \"host user:password\", "
			    "ignored", file, n);
			continue;
		}
		*colon++ = '\0';
		if (import_kvs_put(&ic->sasl, l, v, colon, n, 1) == -1) {
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

/* $name, ${name}, $(name) from main.cf; unknown names stay as written */
static void
postfix_expand(const struct import *ic, const char *in, char *out,
    size_t sz, int depth)
{
	const struct import_kv	*e;
	char			 name[128], sub[1024];
	size_t			 o = 0, nl;
	const char		*s = in, *close;

	out[0] = '\0';
	while (*s != '\0' && o + 1 < sz) {
		if (*s != '$' || depth > 8) {
			out[o++] = *s++;
			continue;
		}
		if (s[1] == '{' || s[1] == '(') {
			close = strchr(s + 2, s[1] == '{' ? '}' : ')');
			if (close == NULL)
				break;
			nl = (size_t)(close - s - 2);
			s += 2;
		} else {
			nl = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
			s += 1;
			close = s + nl - 1;
		}
		if (nl == 0 || nl >= sizeof(name)) {
			out[o++] = '$';
			continue;
		}
		memcpy(name, s, nl);
		name[nl] = '\0';
		s = close + 1;
		if ((e = import_kvs_get(&ic->ctl, name)) != NULL) {
			postfix_expand(ic, e->v, sub, sizeof(sub), depth + 1);
			o += strlcpy(out + o, sub, sz - o);
		} else
			o += (size_t)snprintf(out + o, sz - o, "$%s", name);
		if (o >= sz)
			o = sz - 1;
	}
	out[o < sz ? o : sz - 1] = '\0';
}

static int
postfix_finish(struct import *ic, char *err, size_t errsz)
{
	const struct import_kv	*e;
	const char		*f = ic->mainname, *lvl = "";
	char			 v[IMPORT_LINE], *tok, *last, first[300] = "";
	int			 wrap = 0;

	if ((e = import_kvs_get(&ic->ctl, "relayhost")) == NULL ||
	    e->v[0] == '\0') {
		(void)snprintf(err, errsz, "%s: no relayhost: Postfix delivers "
		    "directly here, there is no relay to convert", f);
		return -1;
	}
	postfix_expand(ic, e->v, v, sizeof(v), 0);
	for (tok = strtok_r(v, ", \t", &last); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &last)) {
		if (tok[0] != '[')
			import_note(ic, "%s:%u: relayhost %s: Postfix looked "
			    "up its MX records; relayq connects to the name "
			    "itself", f, e->line, tok);
		if (first[0] == '\0')
			(void)strlcpy(first, tok, sizeof(first));
		if (import_hostport(ic, tok, "25", f, e->line, err,
		    errsz) == -1)
			return -1;
	}
	if ((e = import_kvs_get(&ic->ctl, "smtp_tls_wrappermode")) != NULL)
		wrap = import_yes(e->v);
	if ((e = import_kvs_get(&ic->ctl, "smtp_tls_security_level")) != NULL)
		lvl = e->v;
	else if ((e = import_kvs_get(&ic->ctl, "smtp_enforce_tls")) != NULL &&
	    import_yes(e->v))
		lvl = "encrypt";
	else if ((e = import_kvs_get(&ic->ctl, "smtp_use_tls")) != NULL &&
	    import_yes(e->v))
		lvl = "may";
	if (wrap)
		ic->tls = TLS_IMPLICIT;
	else if (strcmp(lvl, "encrypt") == 0 || strcmp(lvl, "verify") == 0 ||
	    strcmp(lvl, "secure") == 0 || strcmp(lvl, "dane") == 0 ||
	    strcmp(lvl, "dane-only") == 0 || strcmp(lvl, "fingerprint") == 0)
		ic->tls = TLS_STARTTLS;
	else {
		ic->tls = TLS_PLAIN;
		if (strcmp(lvl, "may") == 0)
			import_note(ic, "%s: smtp_tls_security_level may: "
			    "relayq never falls back to plaintext", f);
	}
	if ((e = import_kvs_get(&ic->ctl, "smtp_tls_CAfile")) != NULL)
		postfix_expand(ic, e->v, ic->ca_file, sizeof(ic->ca_file), 0);
	if ((e = import_kvs_get(&ic->ctl, "smtp_helo_name")) == NULL)
		e = import_kvs_get(&ic->ctl, "myhostname");
	if (e != NULL) {
		postfix_expand(ic, e->v, ic->helo, sizeof(ic->helo), 0);
		if (strchr(ic->helo, '$') != NULL)
			ic->helo[0] = '\0';
	}
	if ((e = import_kvs_get(&ic->ctl, "myorigin")) != NULL) {
		postfix_expand(ic, e->v, ic->domain, sizeof(ic->domain), 0);
		/* relayq reads /etc/mailname itself when domain is unset */
		if (strchr(ic->domain, '$') != NULL || ic->domain[0] == '/') {
			if (strcmp(ic->domain, "/etc/mailname") != 0)
				import_note(ic, "%s:%u: myorigin %s not "
				    "converted: set domain", f, e->line, e->v);
			ic->domain[0] = '\0';
		}
	}
	if ((e = import_kvs_get(&ic->ctl, "sender_canonical_maps")) != NULL)
		import_note(ic, "%s:%u: sender_canonical_maps not converted: "
		    "see force_sender and force_from", f, e->line);
	if ((e = import_kvs_get(&ic->ctl, "smtp_generic_maps")) != NULL)
		import_note(ic, "%s:%u: smtp_generic_maps not converted: see "
		    "force_sender and force_from", f, e->line);
	e = import_kvs_get(&ic->ctl, "smtp_sasl_auth_enable");
	if (e == NULL || !import_yes(e->v)) {
		if (ic->sasl.n > 0)
			import_note(ic, "%s: smtp_sasl_auth_enable is not yes; "
			    "%s not used", f, ic->saslname);
		return 0;
	}
	if (ic->sasl.n == 0) {
		e = import_kvs_get(&ic->ctl, "smtp_sasl_password_maps");
		import_note(ic, "%s: SASL is on but no password map was read "
		    "(smtp_sasl_password_maps %s)", f, e != NULL ? e->v :
		    "not set");
		return 0;
	}
	if ((e = import_sasl_find(ic, first, ic->host[0])) != NULL)
		return import_use_sasl(ic, e, err, errsz);
	import_note(ic, "%s: no entry for %s", ic->saslname, first);
	return 0;
}

/* After every file is read: resolve what spans files, check the result. */
int
import_finish(struct import *ic, char *err, size_t errsz)
{
	size_t	 i;

	if (ic->from == IMPORT_NULLMAILER)
		nullmailer_finish(ic);
	else if (ic->from == IMPORT_DMA && dma_finish(ic, err, errsz) == -1)
		return -1;
	else if (ic->from == IMPORT_POSTFIX &&
	    postfix_finish(ic, err, errsz) == -1)
		return -1;
	if (ic->nhost == 0) {
		(void)snprintf(err, errsz, "no relay host found in the %s "
		    "configuration", import_names[ic->from]);
		return -1;
	}
	/*
	 * relayq never sends mail in plaintext to a smarthost it was not
	 * told is a trusted LAN relay; the conversion keeps that rule and
	 * says so, rather than carrying the old risk over silently.
	 */
	for (i = 0; i < ic->nhost; i++) {
		if (ic->from != IMPORT_NULLMAILER)
			ic->htls[i] = ic->tls;
		if (ic->htls[i] == TLS_PLAIN || ic->htls[i] == -1) {
			if (ic->htls[i] == TLS_PLAIN)
				import_note(ic, "%s: the %s configuration used "
				    "no TLS; relayq will require it (tls off "
				    "only for a trusted LAN relay, and then "
				    "without auth_user)", ic->host[i],
				    import_names[ic->from]);
			ic->htls[i] = IMPORT_DEFTLS(ic->port[i]);
		}
	}
	/* one `tls' line for all relays; none when the ports say it all */
	ic->tls = -1;
	for (i = 0; i < ic->nhost; i++)
		if (ic->htls[i] != IMPORT_DEFTLS(ic->port[i]))
			ic->tls = ic->htls[i];
	for (i = 0; ic->tls != -1 && i < ic->nhost; i++)
		if (ic->htls[i] != ic->tls)
			import_note(ic, "%s: relayq uses one TLS mode for all "
			    "relays: tls %s", ic->host[i],
			    ic->tls == TLS_IMPLICIT ? "implicit" :
			    "starttls");
	if (ic->password != NULL && ic->user[0] == '\0')
		import_note(ic, "%s: a password but no user name; set "
		    "auth_user", ic->pwsrc);
	return 0;
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
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

const char *
import_name(enum import_from from)
{
	return import_names[from];
}

/*
 * The password file that the main file names, the way the program itself
 * finds it: dma's AUTHPATH, Postfix's smtp_sasl_password_maps TYPE:PATH
 * (PATH being the text source of a hash/lmdb/btree map).  1 = `path'
 * names it, 0 = none named, -1 = named but not usable here (`path' says
 * what was written).
 */
int
import_companion(const struct import *ic, char *path, size_t sz)
{
	const struct import_kv	*e;
	const char		*colon;

	if (ic->from == IMPORT_DMA &&
	    (e = import_kvs_get(&ic->ctl, "AUTHPATH")) != NULL)
		(void)strlcpy(path, e->v, sz);
	else if (ic->from == IMPORT_POSTFIX &&
	    (e = import_kvs_get(&ic->ctl, "smtp_sasl_password_maps")) !=
	    NULL) {
		postfix_expand(ic, e->v, path, sz, 0);
		if ((colon = strchr(path, ':')) != NULL)
			memmove(path, colon + 1, strlen(colon + 1) + 1);
	} else
		return 0;
	return path[0] == '/' && strpbrk(path, " ,$") == NULL ? 1 : -1;
}
