/*
 * relayq import: an msmtprc ("defaults", "account NAME [: PARENT, ...]",
 * "key value") into a struct import, for the account msmtp would use.
 * The toolbox is in import_parse.c.
 */
#include <sys/types.h>

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
