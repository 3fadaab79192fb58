/*
 * relayq import: nullmailer's control files (remotes, me, defaultdomain,
 * defaulthost, adminaddr, allmailfrom, helohost), each named by its base
 * name, into a struct import.  The toolbox is in import_parse.c.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

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

void
import_nullmailer_finish(struct import *ic)
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
