/*
 * relayq import's parsers: another null client's configuration, which
 * the administrator may have copied from anywhere.  The first byte picks
 * the format (and msmtp's account); the rest is one file or more,
 * separated by 0xff bytes, fed to import_format_parse as import_main()
 * feeds them:
 *   ssmtp         ssmtp.conf, then revaliases
 *   msmtp         one file
 *   nullmailer    the control files remotes, me, defaultdomain,
 *                 defaulthost, adminaddr, allmailfrom, helohost in turn
 *   dma, postfix  the main file, then the password map (auth.conf,
 *                 sasl_passwd); without one, the companion lookup only
 *   postfix       then, after import_format_finish, the text of
 *                 sender_dependent_relayhost_maps (import_postfix_routes)
 * then import_format_finish and import_write.
 *
 * Oracle: a refusal says why; what import_write produces is a
 * relayq.conf whose every line is a comment or "known-key value" without
 * a control character but TAB (a value cannot smuggle in a second line, a
 * CR or an escape sequence) and that does not depend on the password
 * (written again with another one, it is the same); the notes are
 * NUL-ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"
#include "fuzz.h"

static const char *const nullmailer_files[] = {
	"/etc/nullmailer/remotes", "/etc/nullmailer/me",
	"/etc/nullmailer/defaultdomain", "/etc/nullmailer/defaulthost",
	"/etc/nullmailer/adminaddr", "/etc/nullmailer/allmailfrom",
	"/etc/nullmailer/helohost"
};
static const char *const accounts[] = { NULL, "default", "work", "gmail" };
static const char *const keys[] = {
	"smarthost ", "tls ", "tls_ca_file ", "auth_user ",
	"auth_password_file ", "helo_name ", "domain ", "admin_address ",
	"force_sender ", "force_from ", "aliases ", "sender_canonical ",
	/* a route block (msmtp accounts), after an empty line */
	"route ", "  sender ", "  smarthost ", "  tls ", "  tls_ca_file ",
	"  auth_user ", "  auth_password_file "
};

/* one file's bytes in an exact-size buffer (a read past it is a report) */
static int
fuzz_part(struct import *ic, enum import_from from, int n, const char *path,
    const uint8_t *p, size_t len, const char *account, char *err,
    size_t errsz)
{
	char	*buf;
	int	 rc;

	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(buf, p, len);
	rc = import_format_parse(ic, from, path, n > 0, account, buf, len,
	    err, errsz);
	free(buf);
	return rc;
}

/* Postfix's sender_dependent_relayhost_maps text, in an exact-size buffer */
static int
fuzz_routes(struct import *ic, const uint8_t *p, size_t len, char *err,
    size_t errsz)
{
	struct import_map	 map;
	char			*buf;
	int			 rc;

	if ((buf = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(buf, p, len);
	memset(&map, 0, sizeof(map));
	(void)strlcpy(map.path, "/etc/postfix/sender_relay", sizeof(map.path));
	map.kind = IMPORT_MAP_RELAYHOST;
	rc = import_postfix_routes(ic, &map, buf, len, err, errsz);
	free(buf);
	return rc;
}

/* relayq.conf for `ic' (in memory, to be freed) */
static char *
fuzz_write(const struct import *ic, size_t *len)
{
	char	*out = NULL;
	FILE	*fp;

	if ((fp = open_memstream(&out, len)) == NULL)
		abort();
	if (import_write(ic, fp, "/etc/relayq.secret", "fuzz") == -1 ||
	    fclose(fp) == EOF)
		abort();
	return out;
}

static void
fuzz_check_conf(const char *out, size_t len)
{
	const char	*l = out, *nl, *c;
	size_t		 i;

	if (len == 0 || out[len - 1] != '\n' || strlen(out) != len)
		abort();
	for (; l < out + len; l = nl + 1) {
		nl = strchr(l, '\n');
		for (c = l; c < nl; c++)
			if (((unsigned char)*c < 0x20 && *c != '\t') ||
			    *c == 0x7f)
				abort();
		if (*l == '#' || (nl == l && strncmp(nl + 1, "route ", 6) == 0))
			continue;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(l, keys[i], strlen(keys[i])) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0]) ||
		    nl == l + strlen(keys[i]))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mains[] = { "", "/etc/ssmtp/ssmtp.conf",
	    "/root/.msmtprc", "", "/etc/dma/dma.conf", "/etc/postfix/main.cf" };
	static const char *const maps[] = { "", "/etc/ssmtp/revaliases", "", "",
	    "/etc/dma/auth.conf", "/etc/postfix/sasl_passwd" };
	struct import		 ic;
	enum import_from	 from;
	const uint8_t		*p, *end = data + size, *sep, *relay = NULL;
	size_t			 relaylen = 0;
	const char		*account, *path;
	char			 err[1200], cpath[1024], *out, *again, *saved;
	char			 other[] = "another secret";
	size_t			 outlen = 0, againlen = 0, i;
	int			 n, rc = 0;

	if (size == 0)
		return 0;
	from = (enum import_from)(IMPORT_SSMTP + data[0] % 5);
	account = accounts[(data[0] >> 3) & 3];
	import_init(&ic);
	err[0] = '\0';
	for (p = data + 1, n = 0; rc == 0 && p != NULL; n++) {
		if ((sep = memchr(p, 0xff, (size_t)(end - p))) == NULL)
			sep = end;
		if (from == IMPORT_NULLMAILER) {
			if ((size_t)n == sizeof(nullmailer_files) /
			    sizeof(nullmailer_files[0]))
				break;
			path = nullmailer_files[n];
		} else if (n == 2 && from == IMPORT_POSTFIX) {
			/* sender_dependent_relayhost_maps, after finish */
			relay = p;
			relaylen = (size_t)(sep - p);
			break;
		} else if (n > 1 || (n == 1 && maps[from][0] == '\0'))
			break;
		else
			path = n == 0 ? mains[from] : maps[from];
		rc = fuzz_part(&ic, from, n, path, p, (size_t)(sep - p),
		    account, err, sizeof(err));
		if (rc == 0 && n == 0 && sep == end)
			(void)import_format_companion(&ic, cpath, sizeof(cpath));
		p = sep < end ? sep + 1 : NULL;
	}
	if (rc == 0)
		rc = import_format_finish(&ic, err, sizeof(err));
	if (rc == 0 && relay != NULL)
		rc = fuzz_routes(&ic, relay, relaylen, err, sizeof(err));
	if (rc == -1) {
		if (err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		import_free(&ic);
		return 0;
	}
	for (i = 0; i < ic.nnotes; i++)
		if (memchr(ic.notes[i], '\0', sizeof(ic.notes[i])) == NULL)
			abort();
	out = fuzz_write(&ic, &outlen);
	fuzz_check_conf(out, outlen);
	for (i = 0; i < ic.nroute; i++)
		if (!route_name_ok(ic.route[i].name) ||
		    strcmp(ic.route[i].name, "default") == 0)
			abort();
	/* the secrets stay out: other passwords, the same relayq.conf */
	saved = ic.password;
	ic.password = other;
	for (i = 0; i < ic.nroute; i++)
		if (ic.route[i].password != NULL &&
		    ic.route[i].password[0] != '\0')
			ic.route[i].password[0] ^= 1;
	again = fuzz_write(&ic, &againlen);
	ic.password = saved;
	for (i = 0; i < ic.nroute; i++)
		if (ic.route[i].password != NULL &&
		    ic.route[i].password[0] != '\0')
			ic.route[i].password[0] ^= 1;
	if (againlen != outlen || memcmp(again, out, outlen) != 0)
		abort();
	free(again);
	free(out);
	import_free(&ic);
	return 0;
}
