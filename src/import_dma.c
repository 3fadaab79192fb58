/*
 * relayq import: DragonFly Mail Agent's dma.conf ("KEY value" or "KEY")
 * and auth.conf (user|host:password) into a struct import.  The toolbox
 * is in import_parse.c.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

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
		if (*(k = import_uncomment(line)) == '\0')
			continue;
		v = import_word(k);
		if (import_kvs_put(&ic->ctl, k, v, NULL, n, 1) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
	}
	if (r == -1)
		return -1;
	return 0;
}

/* auth.conf: "user|host:password" */
static int
dma_auth_split(char *l, char **host, char **user, char **pw)
{
	char	*bar, *colon;

	if ((bar = strchr(l, '|')) == NULL ||
	    (colon = strchr(bar, ':')) == NULL)
		return -1;
	*bar++ = '\0';
	*colon++ = '\0';
	*host = bar;
	*user = l;
	*pw = colon;
	return 0;
}

/* dma takes the first entry for a host: later ones are kept, not used */
int
import_dma_auth(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	return import_sasl_read(ic, file, buf, len, dma_auth_split,
	    "user|host:password", 0, err, errsz);
}

int
import_dma_finish(struct import *ic, char *err, size_t errsz)
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
