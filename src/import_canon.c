/*
 * relayq import: the sender canonical map (sender_canonical, canon.c)
 * from the other programs' per-sender rewriting:
 *
 *   Postfix  sender_canonical_maps and smtp_generic_maps: the text source
 *            of each hash:, texthash:, btree:, lmdb:, cdb: or dbm: map,
 *            which has our format already; generic applied after
 *            canonical, as Postfix applies it on the way out
 *   ssmtp    revaliases: "local:address[:mailhub[:port]]"
 *
 * The entries collect in ic->canon (k = key, v = address); import.c
 * reads the files and writes the map.  Pure functions over buffers, in
 * test/unit_import.c.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

/* the types whose file is the text source of the table */
static const char *const import_canon_types[] = {
	"hash", "texthash", "btree", "lmdb", "cdb", "dbm", "sdbm", NULL
};

/*
 * The map files the configuration names, in the order they apply:
 * Postfix's sender_canonical_maps then smtp_generic_maps (each a list
 * of TYPE:PATH), and its sender_dependent_relayhost_maps (routes:
 * import_postfix.c), ssmtp's revaliases beside ssmtp.conf.  Maps of other
 * types (regexp:, pcre:, ldap:, ...) are noted, not converted.  Returns
 * how many went into `out' (at most `max').
 */
size_t
import_canon_maps(struct import *ic, struct import_map *out, size_t max)
{
	static const char *const params[] = { "sender_canonical_maps",
	    "smtp_generic_maps", "sender_dependent_relayhost_maps" };
	static const enum import_map_kind kinds[] = { IMPORT_MAP_CANONICAL,
	    IMPORT_MAP_GENERIC, IMPORT_MAP_RELAYHOST };
	const struct import_kv	*e;
	const char		*slash;
	char			 v[IMPORT_LINE], *tok, *last, *colon;
	size_t			 n = 0, i, t;

	if (ic->from == IMPORT_SSMTP && ic->mainname[0] != '\0' && max > 0) {
		slash = strrchr(ic->mainname, '/');
		(void)snprintf(out[0].path, sizeof(out[0].path), "%.*srevaliases",
		    slash != NULL ? (int)(slash - ic->mainname + 1) : 0,
		    ic->mainname);
		out[0].kind = IMPORT_MAP_REVALIASES;
		out[0].line = 0;
		return 1;
	}
	if (ic->from != IMPORT_POSTFIX)
		return 0;
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		if ((e = import_kvs_get(&ic->ctl, params[i])) == NULL)
			continue;
		import_postfix_expand(ic, e->v, v, sizeof(v), 0);
		for (tok = strtok_r(v, ", \t", &last); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &last)) {
			colon = strchr(tok, ':');
			for (t = 0; colon != NULL &&
			    import_canon_types[t] != NULL; t++)
				if (strlen(import_canon_types[t]) ==
				    (size_t)(colon - tok) && strncmp(tok,
				    import_canon_types[t], (size_t)(colon -
				    tok)) == 0)
					break;
			if (colon == NULL || import_canon_types[t] == NULL ||
			    colon[1] != '/') {
				import_note(ic, "%s:%u: %s %s not converted: "
				    "only the text file of a hash: or "
				    "texthash: map can be read; write its "
				    "entries into %s", ic->mainname, e->line,
				    params[i], tok, kinds[i] ==
				    IMPORT_MAP_RELAYHOST ? "route blocks" :
				    "a sender_canonical file");
				continue;
			}
			if (n == max || strlcpy(out[n].path, colon + 1,
			    sizeof(out[n].path)) >= sizeof(out[n].path))
				continue;
			out[n].kind = kinds[i];
			out[n].line = e->line;
			n++;
		}
	}
	return n;
}

static int
import_canon_put(struct import *ic, const char *k, const char *v,
    unsigned int line, char *err, size_t errsz)
{
	if (import_kvs_get(&ic->canon, k) != NULL)
		return 0;	/* the first map (and line) that has it wins */
	if (import_kvs_put(&ic->canon, k, v, NULL, line, 0) == -1) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

/*
 * A Postfix map's text source.  A canonical map's entries are added
 * (the first map with a key wins, as Postfix's lookup in a list of
 * maps); a generic map is applied to those first, then adds its own
 * keys.  A file relayq would refuse is noted and skipped whole.  -1
 * only when out of memory.
 */
int
import_canon_postfix(struct import *ic, const struct import_map *map,
    const char *buf, size_t len, char *err, size_t errsz)
{
	struct canon	 c;
	char		 why[512], to[ADDR_MAX + 1];
	size_t		 i;
	int		 rc = 0;

	canon_init(&c, ic->domain, NULL);
	if (canon_parse(&c, map->path, buf, len, why, sizeof(why)) == -1) {
		import_note(ic, "%s not converted: %s", map->path, why);
		return 0;
	}
	if (map->kind == IMPORT_MAP_GENERIC) {
		/* canonical, then generic: a -> b -> c becomes a -> c */
		for (i = 0; i < ic->canon.n; i++) {
			if (canon_lookup(&c, ic->canon.v[i].v, to,
			    sizeof(to)) == 1 && import_kvs_put(&ic->canon,
			    ic->canon.v[i].k, to, NULL, ic->canon.v[i].line,
			    1) == -1) {
				(void)snprintf(err, errsz, "out of memory");
				rc = -1;
				goto done;
			}
		}
		import_note(ic, "%s: smtp_generic_maps rewrote every address "
		    "on the way out; relayq's sender_canonical rewrites "
		    "senders only (envelope, From, Sender, Reply-To, ...)",
		    map->path);
	}
	for (i = 0; i < c.n && rc == 0; i++)
		rc = import_canon_put(ic, c.v[i].key, c.v[i].value,
		    (unsigned int)c.v[i].line, err, errsz);
 done:
	canon_free(&c);
	return rc;
}

/*
 * ssmtp's revaliases: "local:address[:mailhub[:port]]", '#' comments.
 * The address becomes the local user's sender; a mailhub other than
 * ssmtp.conf's is noted (relayq sends all mail through its smarthost
 * list).  -1 with err on a line that is not text or out of memory.
 */
int
import_ssmtp_revaliases(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	const char	*p = buf, *end = buf + len;
	char		 line[IMPORT_LINE], *l, *addr, *hub, *at;
	unsigned int	 n = 0;
	int		 r;

	while ((r = import_getline(&p, end, line, sizeof(line), &n, file,
	    err, errsz)) == 1) {
		if (*(l = import_uncomment(line)) == '\0')
			continue;
		if ((addr = strchr(l, ':')) == NULL) {
			import_note(ic, "%s:%u: not local:address:mailhub, "
			    "ignored", file, n);
			continue;
		}
		*addr++ = '\0';
		if ((hub = strchr(addr, ':')) != NULL)
			*hub++ = '\0';
		l = import_trim(l);
		addr = import_trim(addr);
		at = strchr(addr, '@');
		if (*l == '\0' || strpbrk(l, "@\"") != NULL || !addr_valid(l) ||
		    at == NULL || at == addr || at[1] == '\0' ||
		    !addr_valid(addr)) {
			import_note(ic, "%s:%u: \"%s\" -> \"%s\": not a local "
			    "user and an address, ignored", file, n, l, addr);
			continue;
		}
		if (hub != NULL && *(hub = import_trim(hub)) != '\0' &&
		    (ic->nhost == 0 || strncasecmp(hub, ic->host[0],
		    strlen(ic->host[0])) != 0))
			import_note(ic, "%s:%u: mailhub %s for %s not "
			    "converted: relayq sends all mail through its "
			    "smarthost list", file, n, hub, l);
		if (import_canon_put(ic, l, addr, n, err, errsz) == -1)
			return -1;
	}
	return r == -1 ? -1 : 0;
}

/* The map file for ic->canon, in sender_canonical(5) form */
int
import_canon_write(const struct import *ic, FILE *fp, const char *files)
{
	size_t	 i;

	(void)fprintf(fp, "# sender_canonical for relayq.conf(5), converted "
	    "by `relayq import' from %s: %s\n", import_name(ic->from), files);
	for (i = 0; i < ic->canon.n; i++)
		(void)fprintf(fp, "%s\t%s\n", ic->canon.v[i].k,
		    ic->canon.v[i].v);
	return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}
