/*
 * relayq import, the formats by name: the parser of each program's files
 * (import_format_parse), what spans files once all are read
 * (import_format_finish), the password file the main file names
 * (import_format_companion).  It calls the
 * format files (import_ssmtp.c, ...) and their toolbox import_parse.c,
 * which never call back: the table of formats is here alone.  Pure, like
 * them; the command is in import.c.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

/* relayq.conf's default: implicit TLS on 465 only */
#define IMPORT_DEFTLS(port) \
	(strcmp((port), "465") == 0 ? TLS_IMPLICIT : TLS_STARTTLS)

/*
 * One file's bytes to the parser of `from'; `second': dma's or Postfix's
 * password map, ssmtp's revaliases, after the main file.  import.c reads the files; the
 * fuzz target (test/fuzz/fuzz_import.c) feeds its input here the same
 * way.
 */
int
import_format_parse(struct import *ic, enum import_from from, const char *path,
    int second, const char *account, const char *buf, size_t len,
    char *err, size_t errsz)
{
	switch (from) {
	case IMPORT_SSMTP:
		return second ? import_ssmtp_revaliases(ic, path, buf, len,
		    err, errsz) : import_ssmtp(ic, path, buf, len, err, errsz);
	case IMPORT_MSMTP:
		return import_msmtp(ic, path, buf, len, account, err, errsz);
	case IMPORT_NULLMAILER:
		return import_nullmailer(ic, path, buf, len, err, errsz);
	case IMPORT_DMA:
		return second ? import_dma_auth(ic, path, buf, len, err,
		    errsz) : import_dma(ic, path, buf, len, err, errsz);
	case IMPORT_POSTFIX:
		return second ? import_postfix_sasl(ic, path, buf, len, err,
		    errsz) : import_postfix(ic, path, buf, len, err, errsz);
	default:
		(void)snprintf(err, errsz, "%s: no parser for this program",
		    path);
		return -1;
	}
}

/* After every file is read: resolve what spans files, check the result. */
int
import_format_finish(struct import *ic, char *err, size_t errsz)
{
	size_t	 i;

	if (ic->from == IMPORT_NULLMAILER)
		import_nullmailer_finish(ic);
	else if (ic->from == IMPORT_DMA &&
	    import_dma_finish(ic, err, errsz) == -1)
		return -1;
	else if (ic->from == IMPORT_POSTFIX &&
	    import_postfix_finish(ic, err, errsz) == -1)
		return -1;
	if (ic->nhost == 0) {
		(void)snprintf(err, errsz, "no relay host found in the %s "
		    "configuration", import_name(ic->from));
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
				    import_name(ic->from));
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

/*
 * The password file that the main file names, the way the program itself
 * finds it: dma's AUTHPATH, Postfix's smtp_sasl_password_maps TYPE:PATH
 * (PATH being the text source of a hash/lmdb/btree map).  1 = `path'
 * names it, 0 = none named, -1 = named but not usable here (`path' says
 * what was written).
 */
int
import_format_companion(const struct import *ic, char *path, size_t sz)
{
	const struct import_kv	*e;
	const char		*colon;

	if (ic->from == IMPORT_DMA &&
	    (e = import_kvs_get(&ic->ctl, "AUTHPATH")) != NULL)
		(void)strlcpy(path, e->v, sz);
	else if (ic->from == IMPORT_POSTFIX &&
	    (e = import_kvs_get(&ic->ctl, "smtp_sasl_password_maps")) !=
	    NULL) {
		import_postfix_expand(ic, e->v, path, sz, 0);
		if ((colon = strchr(path, ':')) != NULL)
			memmove(path, colon + 1, strlen(colon + 1) + 1);
	} else
		return 0;
	return path[0] == '/' && strpbrk(path, " ,$") == NULL ? 1 : -1;
}
