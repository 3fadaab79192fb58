/*
 * relayq.conf: one "key value" per line, '#' comments, blank lines.
 * Environment variables RELAYQ_<KEY> override the file (containers).
 * Every error names the file and line, or the variable, and what to fix.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "rate.h"

enum conf_type {
	CT_HOST,
	CT_TLS,
	CT_STR,
	CT_PATH,
	CT_DURATION,
	CT_SIZE,
	CT_BOOL,
	CT_TLSVER,
	CT_PIN,
	CT_COUNT,
	CT_LIST,	/* repeatable: the values joined by spaces */
	CT_RATE,	/* N/s, N/min, N/h (rate.c), kept as written */
};

/*
 * `restart': the running daemon cannot take a new value on reload
 * (SIGHUP, relayq reload) and keeps the one it started with until it is
 * restarted (conf_keep_running).  Why, key by key: the sandbox holds
 * the spool, log, alias and CA files by the inodes it found at start-up
 * and allows TCP connections to the smarthost ports it had then (a
 * Landlock ruleset can be narrowed, never widened); the TLS
 * configuration and the password helper are set up once, before the
 * sandbox; the session slots are sized at start-up.
 *
 * `scope': where a key may stand.  A route key lives in struct route
 * (`off' is into it): at the top level it sets the default route, in a
 * `route NAME' block that route.  `sender' stands in blocks only; every
 * other key at the top level only.
 */
enum conf_scope {
	CS_GLOBAL,
	CS_ROUTE,
	CS_BLOCK,
};

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	int		 restart;
	enum conf_scope	 scope;
};

#define O(f)	offsetof(struct conf, f)
#define R(f)	offsetof(struct route, f)
static const struct conf_key conf_keys[] = {
	{ "sender",		CT_LIST,	R(sender), 0, CS_BLOCK },
	{ "smarthost",		CT_HOST,	0, 1, CS_ROUTE },
	{ "tls",		CT_TLS,		0, 0, CS_ROUTE },
	{ "tls_ca_file",	CT_PATH,	R(tls_ca_file), 1, CS_ROUTE },
	{ "tls_min_version",	CT_TLSVER,	0, 1, CS_ROUTE },
	{ "tls_fingerprint",	CT_PIN,		0, 0, CS_ROUTE },
	{ "tls_client_cert",	CT_PATH,	R(tls_client_cert), 1, CS_ROUTE },
	{ "tls_client_key",	CT_PATH,	R(tls_client_key), 1, CS_ROUTE },
	{ "auth_user",		CT_STR,		R(auth_user), 0, CS_ROUTE },
	{ "auth_password_file",	CT_PATH,	R(auth_password_file), 1,
	    CS_ROUTE },
	{ "auth_password_command", CT_STR,	R(auth_password_command), 1,
	    CS_ROUTE },
	{ "auth_mechanisms",	CT_STR,		R(auth_mechanisms), 0, CS_ROUTE },
	{ "helo_name",		CT_STR,		R(helo_name), 0, CS_ROUTE },
	{ "timeout_connect",	CT_DURATION,	R(timeout_connect), 0, CS_ROUTE },
	{ "timeout_command",	CT_DURATION,	R(timeout_command), 0, CS_ROUTE },
	{ "timeout_data",	CT_DURATION,	R(timeout_data), 0, CS_ROUTE },
	{ "max_messages_per_session", CT_COUNT,	R(max_messages_per_session), 0,
	    CS_ROUTE },
	{ "idle_timeout",	CT_DURATION,	R(idle_timeout), 0, CS_ROUTE },
	{ "rate_limit",		CT_RATE,	R(rate_limit), 1, CS_ROUTE },
	{ "rate_limit_recipients", CT_RATE,	R(rate_limit_recipients), 1,
	    CS_ROUTE },
	{ "domain",		CT_STR,		O(domain), 0, CS_GLOBAL },
	{ "spool",		CT_PATH,	O(spool), 1, CS_GLOBAL },
	{ "log",		CT_STR,		O(log), 1, CS_GLOBAL },
	{ "max_message_size",	CT_SIZE,	O(max_message_size), 0, CS_GLOBAL },
	{ "queue_minfree",	CT_SIZE,	O(queue_minfree), 0, CS_GLOBAL },
	{ "queue_lifetime",	CT_DURATION,	O(queue_lifetime), 0, CS_GLOBAL },
	{ "retry_min",		CT_DURATION,	O(retry_min), 0, CS_GLOBAL },
	{ "retry_max",		CT_DURATION,	O(retry_max), 0, CS_GLOBAL },
	{ "add_received",	CT_BOOL,	O(add_received), 0, CS_GLOBAL },
	{ "aliases",		CT_PATH,	O(aliases), 1, CS_GLOBAL },
	{ "admin_address",	CT_STR,		O(admin_address), 0, CS_GLOBAL },
	{ "default_sender",	CT_STR,		O(default_sender), 0, CS_GLOBAL },
	{ "force_sender",	CT_STR,		O(force_sender), 0, CS_GLOBAL },
	{ "force_from",		CT_BOOL,	O(force_from), 0, CS_GLOBAL },
	{ "sender_canonical",	CT_PATH,	O(sender_canonical), 0, CS_GLOBAL },
	{ "bounce_to",		CT_STR,		O(bounce_to), 0, CS_GLOBAL },
	{ "max_sessions",	CT_COUNT,	O(max_sessions), 1, CS_GLOBAL },
	{ "active_queue_limit",	CT_COUNT,	O(active_queue_limit), 0,
	    CS_GLOBAL },
	{ "failed_keep",	CT_DURATION,	O(failed_keep), 0, CS_GLOBAL },
	/* the listener's (listen.c): read when relayq smtpd starts */
	{ "listen",		CT_LIST,	O(listen), 0, CS_GLOBAL },
	{ "listen_allow",	CT_LIST,	O(listen_allow), 0, CS_GLOBAL },
	{ "listen_max_connections", CT_COUNT,	O(listen_max_connections), 0,
	    CS_GLOBAL },
	{ "listen_max_per_client", CT_COUNT,	O(listen_max_per_client), 0,
	    CS_GLOBAL },
	{ "listen_timeout",	CT_DURATION,	O(listen_timeout), 0, CS_GLOBAL },
	{ "listen_data_timeout", CT_DURATION,	O(listen_data_timeout), 0,
	    CS_GLOBAL },
	{ "listen_auth_file",	CT_PATH,	O(listen_auth_file), 0, CS_GLOBAL },
	{ "listen_tls_cert",	CT_PATH,	O(listen_tls_cert), 0, CS_GLOBAL },
	{ "listen_tls_key",	CT_PATH,	O(listen_tls_key), 0, CS_GLOBAL },
};
#undef O
#undef R
#define CONF_NKEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

/* Where key `k' of route `ri' (or the global one) is stored. */
static void *
conf_field(struct conf *c, size_t ri, const struct conf_key *k)
{
	if (k->scope == CS_GLOBAL)
		return (char *)c + k->off;
	return (char *)&c->route[ri] + k->off;
}

/*
 * A route's defaults.  Routes other than the default one leave the keys
 * they inherit from it unset (helo_name, tls_ca_file: NULL; timeouts:
 * -1) until conf_load has read everything (conf_inherit).
 */
static void
conf_route_init(struct route *r, size_t idx, const char *name)
{
	memset(r, 0, sizeof(*r));
	(void)strlcpy(r->name, name, sizeof(r->name));
	r->idx = (unsigned int)idx;
	r->tls = TLS_STARTTLS;
	r->tls_min_version = 2;
	if (idx == 0) {
		r->timeout_connect = 30;
		r->timeout_command = 300;
		/* RFC 5321 4.5.3.2.6: final dot, 10 minutes */
		r->timeout_data = 600;
	} else
		r->timeout_connect = r->timeout_command = r->timeout_data = -1;
	/* Postfix: smtp_connection_cache_time_limit 2s, and
	   smtp_connection_reuse_count_limit 0 (no limit) */
	r->idle_timeout = 2;
	r->max_messages_per_session = 0;
}

void
conf_init(struct conf *c)
{
	/* up to the default route (struct conf says why) */
	memset(c, 0, offsetof(struct conf, route[1]));
	conf_route_init(&c->route[0], 0, "default");
	c->nroute = 1;
	c->max_message_size = 50LL * 1024 * 1024;
	c->queue_lifetime = 5 * 86400;
	c->retry_min = 60;
	c->retry_max = 3600;
	c->add_received = 1;
	c->failed_keep = 7 * 86400;
	c->max_sessions = 1;
	/* Postfix: qmgr_message_active_limit 20000; ours costs about 40
	   bytes a message, so 10000 is some 400 KB */
	c->active_queue_limit = 10000;
	/* the listener: Postfix's default_process_limit 100,
	   smtpd_client_connection_count_limit 50 (ours lower: a flood
	   from one address must leave room for others), smtpd_timeout
	   300s; a whole DATA phase at most 30 minutes */
	c->listen_max_connections = 100;
	c->listen_max_per_client = 10;
	c->listen_timeout = 300;
	c->listen_data_timeout = 1800;
}

void
conf_free(struct conf *c)
{
	const struct conf_key	*k;
	size_t			 i, ri;

	for (i = 0; i < CONF_NKEYS; i++) {
		k = &conf_keys[i];
		if (k->type != CT_STR && k->type != CT_PATH &&
		    k->type != CT_LIST && k->type != CT_RATE)
			continue;
		for (ri = 0; ri < (k->scope == CS_GLOBAL ? 1 : c->nroute);
		    ri++)
			free(*(char **)conf_field(c, ri, k));
	}
	conf_init(c);
}

/*
 * Every port of route `a' is one a route of `run' has: the sandbox
 * allows only those.
 */
static int
conf_ports_within(const struct route *a, const struct conf *run)
{
	size_t	 i, j, ri;

	for (i = 0; i < a->nhost; i++) {
		for (ri = 0; ri < run->nroute; ri++) {
			for (j = 0; j < run->route[ri].nhost; j++)
				if (strcmp(a->host[i].port,
				    run->route[ri].host[j].port) == 0)
					break;
			if (j < run->route[ri].nhost)
				break;
		}
		if (ri == run->nroute)
			return 0;
	}
	return 1;
}

/* The same routes, by name and in the same order (tls.c keeps by index). */
static int
conf_same_routes(const struct conf *a, const struct conf *b)
{
	size_t	 i;

	if (a->nroute != b->nroute)
		return 0;
	for (i = 0; i < a->nroute; i++)
		if (strcmp(a->route[i].name, b->route[i].name) != 0)
			return 0;
	return 1;
}

/* Key `k' of route `ri' takes its running value; 1 when it had it. */
static int
conf_keep_key(struct conf *next, struct conf *run, size_t ri,
    const struct conf_key *k)
{
	struct route	*nr = &next->route[ri], *rr = &run->route[ri];
	char		**a, **b, *t;
	long long	*x, *y;
	int		 same;

	switch (k->type) {
	case CT_HOST:
		same = conf_ports_within(nr, run);
		if (!same) {
			memcpy(nr->host, rr->host, sizeof(rr->host));
			nr->nhost = rr->nhost;
		}
		return same;
	case CT_TLSVER:
		same = nr->tls_min_version == rr->tls_min_version;
		nr->tls_min_version = rr->tls_min_version;
		return same;
	case CT_COUNT:
		x = conf_field(next, ri, k);
		y = conf_field(run, ri, k);
		same = *x == *y;
		*x = *y;
		return same;
	case CT_STR:
	case CT_PATH:
	case CT_RATE:
		a = conf_field(next, ri, k);
		b = conf_field(run, ri, k);
		same = *a == NULL || *b == NULL ? *a == *b :
		    strcmp(*a, *b) == 0;
		if (!same) {
			t = *a;
			*a = *b;
			*b = t;
		}
		return same;
	default:	/* no other type is marked restart */
		return 1;
	}
}

/*
 * On reload: `next' (just loaded) takes back the running value of every
 * key marked `restart' in conf_keys that it changes, and `note' is told
 * the key's name.  Values are swapped, not copied, so conf_free(run)
 * afterwards frees what `next' had.  A smarthost list is taken as it
 * is unless it needs a port the running daemon may not connect to.  The
 * set of routes (names and order) is fixed at start-up too: TLS is set
 * up for each before the sandbox, so a file that adds, removes or
 * reorders routes leaves the running routes in place ("route").
 * Returns how many keys kept their running value.
 */
size_t
conf_keep_running(struct conf *next, struct conf *run,
    void (*note)(void *, const char *), void *arg)
{
	const struct conf_key	*k;
	struct route		 t;
	size_t			 i, ri, n = 0, nr;
	int			 same = conf_same_routes(next, run);

	if (!same) {
		nr = next->nroute > run->nroute ? next->nroute : run->nroute;
		for (ri = 0; ri < nr; ri++) {
			t = next->route[ri];
			next->route[ri] = run->route[ri];
			run->route[ri] = t;
		}
		nr = next->nroute;
		next->nroute = run->nroute;
		run->nroute = nr;
		note(arg, "route");
		n++;
	}
	for (i = 0; i < CONF_NKEYS; i++) {
		k = &conf_keys[i];
		if (!k->restart || (!same && k->scope != CS_GLOBAL))
			continue;
		for (ri = 0; ri < (k->scope == CS_GLOBAL ? 1 : next->nroute);
		    ri++)
			if (!conf_keep_key(next, run, ri, k)) {
				note(arg, k->name);
				n++;
			}
	}
	return n;
}

/* "host", "host:port", "[host]:port", "[2001:db8::1]:port" */
static int
conf_add_host(struct route *c, const char *v, char *err, size_t errsz)
{
	struct smarthost	*h;
	const char		*port = "587", *errstr, *end;
	char			 name[256];
	size_t			 len;
	long long		 pn;

	if (c->nhost == CONF_MAXHOSTS) {
		(void)snprintf(err, errsz, "more than %d smarthost lines",
		    CONF_MAXHOSTS);
		return -1;
	}
	if (v[0] == '[') {
		if ((end = strchr(v, ']')) == NULL) {
			(void)snprintf(err, errsz, "missing ']' in \"%s\"", v);
			return -1;
		}
		len = (size_t)(end - v - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			goto bad;
		v++;
	} else if ((end = strchr(v, ':')) != NULL &&
	    strchr(end + 1, ':') == NULL) {
		len = (size_t)(end - v);
		port = end + 1;
	} else
		len = strlen(v);
	if (len == 0 || len >= sizeof(name))
		goto bad;
	memcpy(name, v, len);
	name[len] = '\0';
	/*
	 * A DNS name or an address literal, nothing else: the name goes
	 * into log lines and TLS name checks, where a space, CR or other
	 * control byte (found by test/fuzz/fuzz_conf) would forge or
	 * confuse them.  RELAYQ_SMARTHOST is set by whoever runs us.
	 */
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789.-_:%") != len)
		goto bad;
	pn = strtonum(port, 1, 65535, &errstr);
	if (errstr != NULL || strspn(port, "0123456789") != strlen(port)) {
		(void)snprintf(err, errsz, "bad port \"%s\" in smarthost", port);
		return -1;
	}
	h = &c->host[c->nhost++];
	(void)strlcpy(h->name, name, sizeof(h->name));
	(void)snprintf(h->port, sizeof(h->port), "%lld", pn);
	return 0;
 bad:
	util_sanitise(name, sizeof(name), v, strlen(v));
	(void)snprintf(err, errsz, "bad smarthost \"%s\": use HOST[:PORT]",
	    name);
	return -1;
}

static int
conf_size(const char *v, long long *out)
{
	char		 num[32];
	const char	*errstr;
	size_t		 len = strlen(v);
	long long	 mul = 1;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, v, len + 1);
	switch (toupper((unsigned char)num[len - 1])) {
	case 'K':
		mul = 1024;
		break;
	case 'M':
		mul = 1024 * 1024;
		break;
	case 'G':
		mul = 1024 * 1024 * 1024;
		break;
	}
	if (mul != 1)
		num[--len] = '\0';
	*out = strtonum(num, 1, (1LL << 40) / mul, &errstr) * mul;
	return errstr == NULL ? 0 : -1;
}

/*
 * "sha256:HEX" (64 hex digits, colons between bytes allowed, as openssl
 * prints them); several separated by spaces or commas, and the key may be
 * repeated, so a new key can be pinned before the relay switches to it.
 */
static int
conf_add_pins(struct route *c, const char *v, char *err, size_t errsz)
{
	char		 buf[1024], *tok, *last, *p;
	unsigned char	*pin;
	size_t		 n;
	int		 hi;

	if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
		(void)snprintf(err, errsz, "tls_fingerprint: value too long");
		return -1;
	}
	for (tok = strtok_r(buf, ", \t", &last); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &last)) {
		if (c->ntls_pin == CONF_MAXPINS) {
			(void)snprintf(err, errsz, "tls_fingerprint: more than "
			    "%d pins", CONF_MAXPINS);
			return -1;
		}
		if (strncasecmp(tok, "sha256:", 7) != 0)
			goto bad;
		pin = c->tls_pin[c->ntls_pin];
		n = 0;
		hi = -1;
		for (p = tok + 7; *p != '\0'; p++) {
			if (*p == ':')
				continue;
			if (!isxdigit((unsigned char)*p) || n == 32)
				goto bad;
			if (hi == -1) {
				hi = isdigit((unsigned char)*p) ? *p - '0' :
				    tolower((unsigned char)*p) - 'a' + 10;
				continue;
			}
			pin[n++] = (unsigned char)(hi << 4 |
			    (isdigit((unsigned char)*p) ? *p - '0' :
			    tolower((unsigned char)*p) - 'a' + 10));
			hi = -1;
		}
		if (n != 32 || hi != -1)
			goto bad;
		c->ntls_pin++;
	}
	return 0;
 bad:
	(void)snprintf(err, errsz, "tls_fingerprint: \"%s\" is not sha256: "
	    "and 64 hex digits (see relayq probe)", tok);
	return -1;
}

/* A repeatable key: "a" then "b, c" is "a b c" (commas as spaces). */
static int
conf_list_add(char **sp, const char *v)
{
	char	*n, *p;

	if (asprintf(&n, "%s%s%s", *sp != NULL ? *sp : "", *sp != NULL ?
	    " " : "", v) == -1)
		return -1;
	for (p = n; *p != '\0'; p++)
		if (*p == ',' || *p == '\t')
			*p = ' ';
	free(*sp);
	*sp = n;
	return 0;
}

/*
 * Set one key of route `ri' (0: the top level); `err' gets a message
 * without location on failure.
 */
static int
conf_set_in(struct conf *c, size_t ri, const char *key, const char *v,
    char *err, size_t errsz)
{
	const struct conf_key	*k = NULL;
	struct route		*r = &c->route[ri];
	const char		*errstr;
	char			**sp, msg[256];
	unsigned long		 rmax;
	long long		 rper;
	void			*f;
	size_t			 i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			k = &conf_keys[i];
	if (k == NULL) {
		(void)snprintf(err, errsz, "unknown key \"%s\"", key);
		return -1;
	}
	if (ri > 0 && k->scope == CS_GLOBAL) {
		(void)snprintf(err, errsz, "%s is not a route setting; put it "
		    "above the first route line", key);
		return -1;
	}
	if (ri == 0 && k->scope == CS_BLOCK) {
		(void)snprintf(err, errsz, "%s belongs to a route: put it "
		    "after a \"route NAME\" line", key);
		return -1;
	}
	/* authcmd.c runs one helper, for the default route's command */
	if (ri > 0 && strcmp(key, "auth_password_command") == 0) {
		(void)snprintf(err, errsz, "auth_password_command is allowed "
		    "for the default route only; give route %s an "
		    "auth_password_file", r->name);
		return -1;
	}
	if (*v == '\0') {
		(void)snprintf(err, errsz, "%s: missing value", key);
		return -1;
	}
	f = conf_field(c, ri, k);
	switch (k->type) {
	case CT_HOST:
		return conf_add_host(r, v, err, errsz);
	case CT_PIN:
		return conf_add_pins(r, v, err, errsz);
	case CT_TLS:
		if (strcmp(v, "starttls") == 0)
			r->tls = TLS_STARTTLS;
		else if (strcmp(v, "implicit") == 0)
			r->tls = TLS_IMPLICIT;
		else if (strcmp(v, "off") == 0)
			r->tls = TLS_OFF;
		else {
			(void)snprintf(err, errsz, "tls: \"%s\" is not one of "
			    "starttls, implicit, off", v);
			return -1;
		}
		r->tls_set = 1;
		return 0;
	case CT_TLSVER:
		if (strcmp(v, "1.2") == 0)
			r->tls_min_version = 2;
		else if (strcmp(v, "1.3") == 0)
			r->tls_min_version = 3;
		else {
			(void)snprintf(err, errsz, "tls_min_version: \"%s\" is "
			    "not 1.2 or 1.3", v);
			return -1;
		}
		return 0;
	case CT_PATH:
		if (v[0] != '/') {
			(void)snprintf(err, errsz, "%s: \"%s\" is not an "
			    "absolute path", key, v);
			return -1;
		}
		/* FALLTHROUGH */
	case CT_RATE:
		if (k->type == CT_RATE &&
		    rate_parse(v, &rmax, &rper, msg, sizeof(msg)) == -1) {
			(void)snprintf(err, errsz, "%s: %s", key, msg);
			return -1;
		}
		/* FALLTHROUGH */
	case CT_STR:
		sp = f;
		free(*sp);
		if ((*sp = strdup(v)) == NULL) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		return 0;
	case CT_DURATION:
		if (util_duration(v, f) == -1) {
			(void)snprintf(err, errsz, "%s: bad duration \"%s\" "
			    "(use e.g. 30s, 5m, 1h, 5d)", key, v);
			return -1;
		}
		return 0;
	case CT_SIZE:
		if (strcmp(key, "queue_minfree") == 0 && strcmp(v, "0") == 0) {
			c->queue_minfree = 0;	/* 1.5 x max_message_size */
			return 0;
		}
		if (conf_size(v, f) == -1) {
			(void)snprintf(err, errsz, "%s: bad size \"%s\" "
			    "(use e.g. 52428800, 50M)", key, v);
			return -1;
		}
		return 0;
	case CT_BOOL:
		if (strcmp(v, "yes") == 0)
			*(int *)f = 1;
		else if (strcmp(v, "no") == 0)
			*(int *)f = 0;
		else {
			(void)snprintf(err, errsz, "%s: \"%s\" is not yes or no",
			    key, v);
			return -1;
		}
		return 0;
	case CT_LIST:
		if (strcmp(key, "sender") == 0 &&
		    route_check_senders(c, ri, v, err, errsz) == -1)
			return -1;
		if (conf_list_add(f, v) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		return 0;
	case CT_COUNT:
		*(long long *)f = strtonum(v, 0, 1000000000, &errstr);
		if (errstr != NULL) {
			(void)snprintf(err, errsz, "%s: \"%s\" is %s (a whole "
			    "number)", key, v, errstr);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* Set one top-level key (the default route's, or a global one). */
int
conf_set(struct conf *c, const char *key, const char *v, char *err,
    size_t errsz)
{
	return conf_set_in(c, 0, key, v, err, errsz);
}

/* A new route `name' (checked), or -1 with `err'; its index in `ri'. */
static int
conf_route_add(struct conf *c, const char *name, size_t *ri, char *err,
    size_t errsz)
{
	char	 safe[ROUTE_NAMEMAX + 8];

	if (!route_name_ok(name)) {
		util_sanitise(safe, sizeof(safe), name, strlen(name));
		(void)snprintf(err, errsz, "route \"%s\": a name is 1 to %d "
		    "of a-z, 0-9 and '-'", safe, ROUTE_NAMEMAX);
		return -1;
	}
	if (route_byname(c, name) != NULL) {
		(void)snprintf(err, errsz, "route %s: %s", name,
		    strcmp(name, "default") == 0 ? "the name is reserved for "
		    "the top-level settings" : "defined twice");
		return -1;
	}
	if (c->nroute == CONF_MAXROUTES) {
		(void)snprintf(err, errsz, "route %s: more than %d routes",
		    name, CONF_MAXROUTES - 1);
		return -1;
	}
	*ri = c->nroute++;
	conf_route_init(&c->route[*ri], *ri, name);
	return 0;
}

/*
 * Parse one line in place; 0 = ok or empty, -1 = error in err.  `ri':
 * the route the line belongs to, changed by a `route NAME' line.
 */
static int
conf_line(struct conf *c, size_t *ri, char *line, char *err, size_t errsz)
{
	char	*key, *val, *end;

	if ((end = strchr(line, '#')) != NULL)
		*end = '\0';
	key = line + strspn(line, " \t");
	end = key + strlen(key);
	while (end > key && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*key == '\0')
		return 0;
	val = key + strcspn(key, " \t");
	if (*val != '\0') {
		*val++ = '\0';
		val += strspn(val, " \t");
	}
	if (strcmp(key, "route") == 0)
		return conf_route_add(c, val, ri, err, errsz);
	return conf_set_in(c, *ri, key, val, err, errsz);
}

/* "RELAYQ_ROUTE_<NAME>_" and `key': upper-cased, '-' as '_' */
static void
conf_env_name(char *var, size_t sz, const struct route *r, const char *key)
{
	size_t	 j;

	if (r->idx == 0)
		(void)strlcpy(var, "RELAYQ_", sz);
	else
		(void)snprintf(var, sz, "RELAYQ_ROUTE_%s_", r->name);
	(void)strlcat(var, key, sz);
	for (j = 0; var[j] != '\0'; j++)
		var[j] = var[j] == '-' ? '_' :
		    (char)toupper((unsigned char)var[j]);
}

/*
 * The variables of route `ri': "RELAYQ_" (the top level) or
 * "RELAYQ_ROUTE_<NAME>_" and each key's name, upper-cased, '-' as '_'.
 * A repeatable key's variable replaces the file's lines.
 */
static int
conf_env_route(struct conf *c, size_t ri, char *err, size_t errsz)
{
	const struct conf_key	*k;
	struct route		*r = &c->route[ri];
	char			 var[128], buf[1024], msg[512], *v, *tok, *last;
	size_t			 i, n;

	for (i = 0; i < CONF_NKEYS; i++) {
		k = &conf_keys[i];
		if (ri == 0 ? k->scope == CS_BLOCK : k->scope == CS_GLOBAL)
			continue;
		conf_env_name(var, sizeof(var), r, k->name);
		if ((v = getenv(var)) == NULL)
			continue;
		if (k->type == CT_LIST) {
			free(*(char **)conf_field(c, ri, k));
			*(char **)conf_field(c, ri, k) = NULL;
		}
		if (k->type != CT_HOST) {
			if (conf_set_in(c, ri, k->name, v, msg,
			    sizeof(msg)) == -1)
				goto fail;
			continue;
		}
		/* the variable replaces every smarthost line of the file */
		n = r->nhost;
		r->nhost = 0;
		if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
			r->nhost = n;
			(void)strlcpy(msg, "value too long", sizeof(msg));
			goto fail;
		}
		for (tok = strtok_r(buf, ", \t", &last); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &last))
			if (conf_add_host(r, tok, msg, sizeof(msg)) == -1)
				goto fail;
	}
	return 0;
 fail:
	(void)snprintf(err, errsz, "%s: %s", var, msg);
	return -1;
}

/*
 * The environment: RELAYQ_<KEY> for the top level, RELAYQ_ROUTES names
 * routes (added unless the file has them), RELAYQ_ROUTE_<NAME>_<KEY>
 * for every route.
 */
static int
conf_env(struct conf *c, char *err, size_t errsz)
{
	char		 buf[1024], msg[512], *v, *tok, *last;
	size_t		 ri;

	if ((v = getenv("RELAYQ_ROUTES")) != NULL) {
		if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
			(void)snprintf(err, errsz, "RELAYQ_ROUTES: value too "
			    "long");
			return -1;
		}
		for (tok = strtok_r(buf, ", \t", &last); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &last))
			if (route_byname(c, tok) == NULL &&
			    conf_route_add(c, tok, &ri, msg, sizeof(msg)) == -1) {
				(void)snprintf(err, errsz, "RELAYQ_ROUTES: %s",
				    msg);
				return -1;
			}
	}
	for (ri = 0; ri < c->nroute; ri++)
		if (conf_env_route(c, ri, err, errsz) == -1)
			return -1;
	return 0;
}

/*
 * Every route but the default takes the default's helo_name, timeouts
 * and tls_ca_file where it set none (nothing else is inherited), and
 * must say whose mail it carries.  `line': where each route began (0:
 * it came from RELAYQ_ROUTES).
 */
static int
conf_route_finish(struct conf *c, const unsigned int *line, char *err,
    size_t errsz)
{
	struct route	*d = &c->route[0], *r;
	char		 var[128];
	size_t		 ri;

	for (ri = 1; ri < c->nroute; ri++) {
		r = &c->route[ri];
		if (r->sender == NULL) {
			if (line[ri] != 0)
				(void)snprintf(err, errsz, "%s:%u: route %s has "
				    "no sender line (which senders it "
				    "carries)", c->path, line[ri], r->name);
			else {
				conf_env_name(var, sizeof(var), r, "sender");
				(void)snprintf(err, errsz, "RELAYQ_ROUTES: route "
				    "%s has no sender (set %s)", r->name, var);
			}
			return -1;
		}
		if (r->timeout_connect == -1)
			r->timeout_connect = d->timeout_connect;
		if (r->timeout_command == -1)
			r->timeout_command = d->timeout_command;
		if (r->timeout_data == -1)
			r->timeout_data = d->timeout_data;
		if ((r->helo_name == NULL && d->helo_name != NULL &&
		    (r->helo_name = strdup(d->helo_name)) == NULL) ||
		    (r->tls_ca_file == NULL && d->tls_ca_file != NULL &&
		    (r->tls_ca_file = strdup(d->tls_ca_file)) == NULL)) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
	}
	return 0;
}

/* Per route: the TLS of each smarthost, and no AUTH without TLS. */
static int
conf_route_tls(struct conf *c, char *err, size_t errsz)
{
	struct route	*r;
	size_t		 i, ri;

	for (ri = 0; ri < c->nroute; ri++) {
		r = &c->route[ri];
		/* implicit TLS is the default on 465 only (RFC 8314 port) */
		for (i = 0; i < r->nhost; i++)
			r->host[i].tls = r->tls_set ? r->tls :
			    strcmp(r->host[i].port, "465") == 0 ?
			    TLS_IMPLICIT : TLS_STARTTLS;
		if (r->auth_user != NULL && r->tls == TLS_OFF && r->tls_set) {
			(void)snprintf(err, errsz, "%s: %s%s%sauth_user with "
			    "tls off: relayq never sends credentials without "
			    "TLS", c->path, ri == 0 ? "" : "route ",
			    ri == 0 ? "" : r->name, ri == 0 ? "" : ": ");
			return -1;
		}
	}
	return 0;
}

/*
 * Load `path' over the defaults.  A missing file is an error only when
 * the caller named it (-C, RELAYQ_CONFIG): a container may be configured
 * from the environment alone.  `use_env' is 0 in the setgid front end,
 * whose environment belongs to an untrusted caller.
 */
int
conf_load(struct conf *c, const char *path, int named, int use_env,
    char *err, size_t errsz)
{
	FILE		*fp;
	char		*line = NULL, msg[512];
	size_t		 linesz = 0, ri = 0;
	ssize_t		 len;
	unsigned int	 lineno = 0, rline[CONF_MAXROUTES] = { 0 };
	int		 rc = -1;

	(void)strlcpy(c->path, path, sizeof(c->path));
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno != ENOENT || named) {
			(void)snprintf(err, errsz, "%s: %s", path,
			    strerror(errno));
			return -1;
		}
	} else {
		while ((len = getline(&line, &linesz, fp)) != -1) {
			lineno++;
			if ((size_t)len != strlen(line)) {
				(void)snprintf(err, errsz, "%s:%u: NUL byte in "
				    "line", path, lineno);
				goto done;
			}
			if (conf_line(c, &ri, line, msg, sizeof(msg)) == -1) {
				(void)snprintf(err, errsz, "%s:%u: %s", path,
				    lineno, msg);
				goto done;
			}
			if (ri > 0 && rline[ri] == 0)
				rline[ri] = lineno;
		}
		if (ferror(fp)) {
			(void)snprintf(err, errsz, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
	}
	if (use_env && conf_env(c, err, errsz) == -1)
		goto done;
	if (conf_route_finish(c, rline, err, errsz) == -1)
		goto done;
	if (c->max_sessions < 1 || c->max_sessions > 16) {
		(void)snprintf(err, errsz, "%s: max_sessions must be from 1 to "
		    "16", path);
		goto done;
	}
	if (c->active_queue_limit < 2) {
		(void)snprintf(err, errsz, "%s: active_queue_limit must be at "
		    "least 2", path);
		goto done;
	}
	if (c->retry_min < 1) {
		(void)snprintf(err, errsz, "%s: retry_min must be at least 1s",
		    path);
		goto done;
	}
	if (c->log != NULL && strcmp(c->log, "syslog") != 0 &&
	    strcmp(c->log, "stderr") != 0 && c->log[0] != '/') {
		(void)snprintf(err, errsz, "%s: log must be syslog, stderr or "
		    "an absolute file name", path);
		goto done;
	}
	if (c->retry_min > c->retry_max) {
		(void)snprintf(err, errsz, "%s: retry_min is larger than "
		    "retry_max", path);
		goto done;
	}
	if (c->spool == NULL && (c->spool = strdup(SPOOLDIR)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		goto done;
	}
	if (conf_route_tls(c, err, errsz) == -1)
		goto done;
	rc = 0;
 done:
	free(line);
	if (fp != NULL)
		(void)fclose(fp);
	return rc;
}

/* The domain for qualification and Message-IDs: domain, /etc/mailname, FQDN */
const char *
conf_domain(struct conf *c)
{
	FILE	*fp;
	char	 buf[256];

	if (c->domain != NULL)
		return c->domain;
	if ((fp = fopen("/etc/mailname", "re")) != NULL) {
		if (fgets(buf, sizeof(buf), fp) != NULL) {
			buf[strcspn(buf, " \t\r\n")] = '\0';
			if (buf[0] != '\0')
				c->domain = strdup(buf);
		}
		(void)fclose(fp);
	}
	if (c->domain == NULL)
		c->domain = strdup(util_fqdn());
	return c->domain != NULL ? c->domain : "localhost";
}
