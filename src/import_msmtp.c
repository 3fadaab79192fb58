/*
 * relayq import: an msmtprc ("defaults", "account NAME [: PARENT, ...]",
 * "key value") into a struct import, for the account msmtp would use.
 * The toolbox is in import_parse.c.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

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

/*
 * An account's server: host, port (msmtp's default: 465 for TLS without
 * STARTTLS, else 25) and TLS mode (*tls: a tls_mode or TLS_PLAIN).
 */
static int
msmtp_server(const char *file, const char *acct, const struct import_kvs *kv,
    int *tls, char *host, size_t hostsz, char *port, size_t portsz,
    char *err, size_t errsz)
{
	const struct import_kv	*e;
	const char		*p, *errstr;
	int			 on = 0, starttls = 1;

	if ((e = import_kvs_get(kv, "tls")) != NULL)
		on = import_yes(e->v);
	if ((e = import_kvs_get(kv, "tls_starttls")) != NULL)
		starttls = import_yes(e->v);
	*tls = !on ? TLS_PLAIN : starttls ? TLS_STARTTLS : TLS_IMPLICIT;
	e = import_kvs_get(kv, "port");
	p = e != NULL ? e->v : *tls == TLS_IMPLICIT ? "465" : "25";
	if ((e = import_kvs_get(kv, "host")) == NULL) {
		(void)snprintf(err, errsz, "%s: account %s has no host", file,
		    acct);
		return -1;
	}
	if (strchr(e->v, ':') != NULL && e->v[0] != '[') {
		(void)snprintf(err, errsz, "%s:%u: bad host \"%s\"", file,
		    e->line, e->v);
		return -1;
	}
	if (strlcpy(host, e->v, hostsz) >= hostsz ||
	    strtonum(p, 1, 65535, &errstr) == 0 ||
	    strlcpy(port, p, portsz) >= portsz) {
		(void)snprintf(err, errsz, "%s:%u: bad host or port", file,
		    e->line);
		return -1;
	}
	return 0;
}

static int
msmtp_apply(struct import *ic, const char *file, const char *acct,
    const struct import_kvs *kv, char *err, size_t errsz)
{
	const struct import_kv	*e;
	const char		*k, *v;
	char			 host[256], port[8];
	size_t			 i;

	if (msmtp_server(file, acct, kv, &ic->tls, host, sizeof(host), port,
	    sizeof(port), err, errsz) == -1)
		return -1;
	if (ic->nhost < CONF_MAXHOSTS) {
		(void)strlcpy(ic->host[ic->nhost], host, sizeof(ic->host[0]));
		(void)strlcpy(ic->port[ic->nhost], port, sizeof(ic->port[0]));
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
		} else if (strcmp(k, "aliases") == 0) {
			/* msmtp's alias file has the aliases(5) form */
			if (v[0] != '/')
				import_note(ic, "%s:%u: aliases %s not "
				    "converted: give relayq's aliases key an "
				    "absolute path", file, kv->v[i].line, v);
			else if (import_copy(ic->aliases, sizeof(ic->aliases),
			    v, "aliases", file, kv->v[i].line, err,
			    errsz) == -1)
				return -1;
			else
				import_note(ic, "%s:%u: aliases %s: its "
				    "\"default\" entry is an alias like any "
				    "other in relayq; set admin_address for "
				    "the mailbox of local names without one",
				    file, kv->v[i].line, v);
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

/*
 * msmtp's "from" as a route's sender: an address, or "*@domain" (msmtp
 * matches the envelope sender against it as a pattern) as "@domain".
 * 0 when it has no such form.
 */
static int
msmtp_sender(const char *from, char *out, size_t sz)
{
	const char	*d = from;

	if (strncmp(from, "*@", 2) == 0)
		d = from + 1;
	if (strpbrk(d, "*?[") != NULL || !route_sender_ok(d) ||
	    strlcpy(out, d, sz) >= sz)
		return 0;
	return 1;
}

/* An account name as a route name: lower case, '-' for the rest. */
static int
msmtp_route_name(const char *acct, char *out, size_t sz)
{
	size_t	 i;

	for (i = 0; acct[i] != '\0' && i + 1 < sz; i++)
		out[i] = isalnum((unsigned char)acct[i]) ?
		    (char)tolower((unsigned char)acct[i]) : '-';
	out[i] = '\0';
	return acct[i] == '\0' && route_name_ok(out) &&
	    strcmp(out, "default") != 0;
}

/*
 * Every other account with a "from" becomes a route for that sender, as
 * msmtp picks the account whose from matches the envelope sender.  The
 * chosen account's from then cannot be force_sender (every message would
 * carry it, and no route would ever match): noted instead.
 */
static int
msmtp_routes(struct import *ic, const char *file,
    const struct msmtp_account *acc, size_t nacc, size_t chosen, char *err,
    size_t errsz)
{
	const struct import_kv	*e, *f;
	struct import_route	*r;
	size_t			 i, j;

	f = import_kvs_get(&acc[chosen].kv, "from");
	for (i = 0; i < nacc; i++) {
		if (i == chosen ||
		    (e = import_kvs_get(&acc[i].kv, "from")) == NULL ||
		    (f != NULL && strcmp(e->v, f->v) == 0))
			continue;
		for (j = 0; j < ic->nroute; j++)	/* an alias account */
			if (strcmp(ic->route[j].sender, e->v) == 0)
				break;
		if (j < ic->nroute)
			continue;
		if (ic->nroute == sizeof(ic->route) / sizeof(ic->route[0])) {
			import_note(ic, "%s: account %s not converted: more "
			    "than %zu routes", file, acc[i].name, ic->nroute);
			continue;
		}
		r = &ic->route[ic->nroute];
		memset(r, 0, sizeof(*r));
		if (!msmtp_route_name(acc[i].name, r->name, sizeof(r->name)) ||
		    !msmtp_sender(e->v, r->sender, sizeof(r->sender))) {
			import_note(ic, "%s:%u: account %s (from %s) not "
			    "converted to a route: its name or from does not "
			    "fit (a route is named [a-z0-9-], its sender an "
			    "address or *@domain)", file, e->line, acc[i].name,
			    e->v);
			continue;
		}
		if (msmtp_server(file, acc[i].name, &acc[i].kv, &r->tls,
		    r->host, sizeof(r->host), r->port, sizeof(r->port), err,
		    errsz) == -1)
			return -1;
		if ((e = import_kvs_get(&acc[i].kv, "user")) != NULL &&
		    strlcpy(r->user, e->v, sizeof(r->user)) >= sizeof(r->user)) {
			(void)snprintf(err, errsz, "%s:%u: user name too long",
			    file, e->line);
			return -1;
		}
		if ((e = import_kvs_get(&acc[i].kv, "password")) != NULL &&
		    import_secret_to(&r->password, r->pwsrc, sizeof(r->pwsrc),
		    e->v, file, e->line, err, errsz) == -1)
			return -1;
		if ((e = import_kvs_get(&acc[i].kv, "tls_trust_file")) != NULL &&
		    strcmp(e->v, "system") != 0 && e->v[0] == '/')
			(void)strlcpy(r->ca_file, e->v, sizeof(r->ca_file));
		if (r->tls == TLS_PLAIN)
			import_note(ic, "%s: account %s used no TLS: route %s "
			    "uses STARTTLS (relayq never sends mail or "
			    "credentials in clear)", file, acc[i].name,
			    r->name);
		import_note(ic, "%s: account %s is route %s, for sender %s%s",
		    file, acc[i].name, r->name, r->sender,
		    r->user[0] != '\0' ? "; its password file is the main "
		    "one's name followed by -ROUTE" : "");
		ic->nroute++;
	}
	if (ic->nroute > 0 && ic->force_sender[0] != '\0') {
		import_note(ic, "%s: from %s of the account used is not made "
		    "force_sender: every message would carry it and no route "
		    "would match (map local users to it with sender_canonical)",
		    file, ic->force_sender);
		ic->force_sender[0] = '\0';
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
		v = import_word(k);
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
	if ((rc = msmtp_apply(ic, file, use, &acc[i].kv, err, errsz)) == 0)
		rc = msmtp_routes(ic, file, acc, nacc, i, err, errsz);
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
