/*
 * relayq import: sSMTP's ssmtp.conf (Key=Value, keys in any case) into
 * a struct import.  The toolbox is in import_parse.c.
 */
#include <sys/types.h>

#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

int
import_ssmtp(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *k, *v, *eq;
	unsigned int	 n = 0;
	int		 r, usetls = 0, starttls = 0;

	ic->from = IMPORT_SSMTP;
	(void)strlcpy(ic->mainname, file, sizeof(ic->mainname));
	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		/* ssmtp itself cuts every line at the first '#' */
		if (*(k = import_uncomment(line)) == '\0')
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
