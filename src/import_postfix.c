/*
 * relayq import: a Postfix null client's main.cf (name = value, indented
 * continuation lines, $name expansion) and sasl_passwd (host user:pass)
 * into a struct import.  The toolbox is in import_parse.c.
 */
#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

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

/* sasl_passwd: "host user:password" */
static int
postfix_sasl_split(char *l, char **host, char **user, char **pw)
{
	char	*v, *colon;

	v = import_word(l);
	if ((colon = strchr(v, ':')) == NULL)
		return -1;
	*colon++ = '\0';
	*host = l;
	*user = v;
	*pw = colon;
	return 0;
}

/* the text source of Postfix's map: a later line for a host wins */
int
import_postfix_sasl(struct import *ic, const char *file, const char *buf,
    size_t len, char *err, size_t errsz)
{
	return import_sasl_read(ic, file, buf, len, postfix_sasl_split,
	    "\"host user:password\"", 1, err, errsz);
}

/* $name, ${name}, $(name) from main.cf; unknown names stay as written */
void
import_postfix_expand(const struct import *ic, const char *in, char *out,
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
			import_postfix_expand(ic, e->v, sub, sizeof(sub), depth + 1);
			o += strlcpy(out + o, sub, sz - o);
		} else
			o += (size_t)snprintf(out + o, sz - o, "$%s", name);
		if (o >= sz)
			o = sz - 1;
	}
	out[o < sz ? o : sz - 1] = '\0';
}

int
import_postfix_finish(struct import *ic, char *err, size_t errsz)
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
	import_postfix_expand(ic, e->v, v, sizeof(v), 0);
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
		import_postfix_expand(ic, e->v, ic->ca_file, sizeof(ic->ca_file), 0);
	if ((e = import_kvs_get(&ic->ctl, "smtp_helo_name")) == NULL)
		e = import_kvs_get(&ic->ctl, "myhostname");
	if (e != NULL) {
		import_postfix_expand(ic, e->v, ic->helo, sizeof(ic->helo), 0);
		if (strchr(ic->helo, '$') != NULL)
			ic->helo[0] = '\0';
	}
	if ((e = import_kvs_get(&ic->ctl, "myorigin")) != NULL) {
		import_postfix_expand(ic, e->v, ic->domain, sizeof(ic->domain), 0);
		/* relayq reads /etc/mailname itself when domain is unset */
		if (strchr(ic->domain, '$') != NULL || ic->domain[0] == '/') {
			if (strcmp(ic->domain, "/etc/mailname") != 0)
				import_note(ic, "%s:%u: myorigin %s not "
				    "converted: set domain", f, e->line, e->v);
			ic->domain[0] = '\0';
		}
	}
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

/* A route's name from a sender key: "@shop.example" -> "shop-example" */
static void
postfix_route_name(const struct import *ic, const char *key, char *out,
    size_t sz)
{
	char	 base[ROUTE_NAMEMAX + 1], suf[8];
	size_t	 i, n = 0, j, k;

	i = key[0] == '@' ? 1 : 0;
	for (; key[i] != '\0' && n < ROUTE_NAMEMAX - 3; i++)
		base[n++] = isalnum((unsigned char)key[i]) ?
		    (char)tolower((unsigned char)key[i]) : '-';
	base[n] = '\0';
	(void)strlcpy(out, base, sz);
	for (k = 2; ; k++) {	/* unique: "-2", "-3", ... */
		for (j = 0; j < ic->nroute; j++)
			if (strcmp(ic->route[j].name, out) == 0)
				break;
		if (j == ic->nroute && strcmp(out, "default") != 0)
			return;
		(void)snprintf(suf, sizeof(suf), "-%zu", k % 100);
		(void)strlcpy(out, base, sz);
		(void)strlcat(out, suf, sz);
	}
}

/*
 * sender_dependent_relayhost_maps' text source, "SENDER RELAYHOST" lines:
 * each sender (an address or @domain) becomes a route to that relay,
 * with the TLS mode of relayhost and, when smtp_sasl_auth_enable is on,
 * the credentials sasl_passwd has for the sender (with
 * smtp_sender_dependent_authentication) or else for the relay, as
 * Postfix looks them up.  -1 with `err' when out of memory or the file
 * is not text.
 */
int
import_postfix_routes(struct import *ic, const struct import_map *map,
    const char *buf, size_t len, char *err, size_t errsz)
{
	const struct import_kv	*e = NULL;
	struct import_route	*r;
	const char		*p = buf, *end = buf + len;
	char			 line[IMPORT_LINE], *k, *v;
	unsigned int		 n = 0;
	int			 rv, sda, sasl;

	e = import_kvs_get(&ic->ctl, "smtp_sender_dependent_authentication");
	sda = e != NULL && import_yes(e->v);
	e = import_kvs_get(&ic->ctl, "smtp_sasl_auth_enable");
	sasl = e != NULL && import_yes(e->v);
	while ((rv = import_getline(&p, end, line, sizeof(line), &n,
	    map->path, err, errsz)) == 1) {
		k = import_trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		v = import_word(k);
		(void)import_word(v);	/* the relay: its first word */
		if (ic->nroute == sizeof(ic->route) / sizeof(ic->route[0])) {
			import_note(ic, "%s:%u: more than %zu routes; %s not "
			    "converted", map->path, n, ic->nroute, k);
			continue;
		}
		r = &ic->route[ic->nroute];
		memset(r, 0, sizeof(*r));
		postfix_route_name(ic, k, r->name, sizeof(r->name));
		if (!route_sender_ok(k) || !route_name_ok(r->name) ||
		    strlcpy(r->sender, k, sizeof(r->sender)) >=
		    sizeof(r->sender)) {
			import_note(ic, "%s:%u: %s not converted: a route is "
			    "for an address or an @domain", map->path, n, k);
			continue;
		}
		if (*v == '\0' || import_hostport_parse(v, "25", r->host,
		    sizeof(r->host), r->port, sizeof(r->port)) == -1) {
			import_note(ic, "%s:%u: %s: relay \"%s\" not "
			    "converted", map->path, n, k, v);
			continue;
		}
		r->tls = ic->tls == -1 ? TLS_PLAIN : ic->tls;
		e = NULL;
		if (sasl && sda)
			e = import_kvs_get(&ic->sasl, k);
		if (sasl && e == NULL)
			e = import_sasl_find(ic, v, r->host);
		if (e != NULL && (strlcpy(r->user, e->v, sizeof(r->user)) >=
		    sizeof(r->user) || import_secret_to(&r->password,
		    r->pwsrc, sizeof(r->pwsrc), e->x, ic->saslname, e->line,
		    err, errsz) == -1))
			return -1;
		import_note(ic, "%s:%u: %s is route %s, to %s%s%s", map->path,
		    n, k, r->name, v, e != NULL ? " as " : "",
		    e != NULL ? r->user : "");
		ic->nroute++;
	}
	return rv == -1 ? -1 : 0;
}
