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
 */
struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	int		 restart;
};

#define O(f)	offsetof(struct conf, f)
static const struct conf_key conf_keys[] = {
	{ "smarthost",		CT_HOST,	0, 1 },
	{ "tls",		CT_TLS,		0, 0 },
	{ "tls_ca_file",	CT_PATH,	O(tls_ca_file), 1 },
	{ "tls_min_version",	CT_TLSVER,	0, 1 },
	{ "tls_fingerprint",	CT_PIN,		0, 0 },
	{ "tls_client_cert",	CT_PATH,	O(tls_client_cert), 1 },
	{ "tls_client_key",	CT_PATH,	O(tls_client_key), 1 },
	{ "auth_user",		CT_STR,		O(auth_user), 0 },
	{ "auth_password_file",	CT_PATH,	O(auth_password_file), 1 },
	{ "auth_password_command", CT_STR,	O(auth_password_command), 1 },
	{ "auth_mechanisms",	CT_STR,		O(auth_mechanisms), 0 },
	{ "helo_name",		CT_STR,		O(helo_name), 0 },
	{ "domain",		CT_STR,		O(domain), 0 },
	{ "spool",		CT_PATH,	O(spool), 1 },
	{ "log",		CT_STR,		O(log), 1 },
	{ "max_message_size",	CT_SIZE,	O(max_message_size), 0 },
	{ "queue_minfree",	CT_SIZE,	O(queue_minfree), 0 },
	{ "queue_lifetime",	CT_DURATION,	O(queue_lifetime), 0 },
	{ "retry_min",		CT_DURATION,	O(retry_min), 0 },
	{ "retry_max",		CT_DURATION,	O(retry_max), 0 },
	{ "timeout_connect",	CT_DURATION,	O(timeout_connect), 0 },
	{ "timeout_command",	CT_DURATION,	O(timeout_command), 0 },
	{ "timeout_data",	CT_DURATION,	O(timeout_data), 0 },
	{ "add_received",	CT_BOOL,	O(add_received), 0 },
	{ "aliases",		CT_PATH,	O(aliases), 1 },
	{ "admin_address",	CT_STR,		O(admin_address), 0 },
	{ "default_sender",	CT_STR,		O(default_sender), 0 },
	{ "force_sender",	CT_STR,		O(force_sender), 0 },
	{ "force_from",		CT_BOOL,	O(force_from), 0 },
	{ "sender_canonical",	CT_PATH,	O(sender_canonical), 0 },
	{ "bounce_to",		CT_STR,		O(bounce_to), 0 },
	{ "max_sessions",	CT_COUNT,	O(max_sessions), 1 },
	{ "active_queue_limit",	CT_COUNT,	O(active_queue_limit), 0 },
	{ "max_messages_per_session", CT_COUNT,	O(max_messages_per_session), 0 },
	{ "idle_timeout",	CT_DURATION,	O(idle_timeout), 0 },
	{ "failed_keep",	CT_DURATION,	O(failed_keep), 0 },
	/* the listener's (listen.c): read when relayq smtpd starts */
	{ "listen",		CT_LIST,	O(listen), 0 },
	{ "listen_allow",	CT_LIST,	O(listen_allow), 0 },
	{ "listen_max_connections", CT_COUNT,	O(listen_max_connections), 0 },
	{ "listen_max_per_client", CT_COUNT,	O(listen_max_per_client), 0 },
	{ "listen_timeout",	CT_DURATION,	O(listen_timeout), 0 },
	{ "listen_data_timeout", CT_DURATION,	O(listen_data_timeout), 0 },
	{ "listen_auth_file",	CT_PATH,	O(listen_auth_file), 0 },
	{ "listen_tls_cert",	CT_PATH,	O(listen_tls_cert), 0 },
	{ "listen_tls_key",	CT_PATH,	O(listen_tls_key), 0 },
};
#undef O

void
conf_init(struct conf *c)
{
	memset(c, 0, sizeof(*c));
	c->tls = TLS_STARTTLS;
	c->tls_min_version = 2;
	c->max_message_size = 50LL * 1024 * 1024;
	c->queue_lifetime = 5 * 86400;
	c->retry_min = 60;
	c->retry_max = 3600;
	c->timeout_connect = 30;
	c->timeout_command = 300;
	c->timeout_data = 600;	/* RFC 5321 4.5.3.2.6: final dot, 10 minutes */
	c->add_received = 1;
	c->failed_keep = 7 * 86400;
	/* Postfix: smtp_connection_cache_time_limit 2s, and
	   smtp_connection_reuse_count_limit 0 (no limit) */
	c->idle_timeout = 2;
	c->max_messages_per_session = 0;
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
	size_t			 i;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		k = &conf_keys[i];
		if (k->type == CT_STR || k->type == CT_PATH ||
		    k->type == CT_LIST)
			free(*(char **)((char *)c + k->off));
	}
	conf_init(c);
}

/* Every port of `a' is one of `b''s: the sandbox allows only those. */
static int
conf_ports_within(const struct conf *a, const struct conf *b)
{
	size_t	 i, j;

	for (i = 0; i < a->nhost; i++) {
		for (j = 0; j < b->nhost; j++)
			if (strcmp(a->host[i].port, b->host[j].port) == 0)
				break;
		if (j == b->nhost)
			return 0;
	}
	return 1;
}

/*
 * On reload: `next' (just loaded) takes back the running value of every
 * key marked `restart' in conf_keys that it changes, and `note' is told
 * the key's name.  Values are swapped, not copied, so conf_free(run)
 * afterwards frees what `next' had.  The smarthost list is taken as it
 * is unless it needs a port the running daemon may not connect to.
 * Returns how many keys kept their running value.
 */
size_t
conf_keep_running(struct conf *next, struct conf *run,
    void (*note)(void *, const char *), void *arg)
{
	const struct conf_key	*k;
	char			**a, **b, *t;
	long long		*x, *y;
	size_t			 i, n = 0;
	int			 same;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		k = &conf_keys[i];
		if (!k->restart)
			continue;
		switch (k->type) {
		case CT_HOST:
			same = conf_ports_within(next, run);
			if (!same) {
				memcpy(next->host, run->host, sizeof(run->host));
				next->nhost = run->nhost;
			}
			break;
		case CT_TLSVER:
			same = next->tls_min_version == run->tls_min_version;
			next->tls_min_version = run->tls_min_version;
			break;
		case CT_COUNT:
			x = (long long *)((char *)next + k->off);
			y = (long long *)((char *)run + k->off);
			same = *x == *y;
			*x = *y;
			break;
		case CT_STR:
		case CT_PATH:
			a = (char **)((char *)next + k->off);
			b = (char **)((char *)run + k->off);
			same = *a == NULL || *b == NULL ? *a == *b :
			    strcmp(*a, *b) == 0;
			if (!same) {
				t = *a;
				*a = *b;
				*b = t;
			}
			break;
		default:	/* no other type is marked restart */
			same = 1;
			break;
		}
		if (!same) {
			note(arg, k->name);
			n++;
		}
	}
	return n;
}

/* "host", "host:port", "[host]:port", "[2001:db8::1]:port" */
static int
conf_add_host(struct conf *c, const char *v, char *err, size_t errsz)
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
conf_add_pins(struct conf *c, const char *v, char *err, size_t errsz)
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

/* Set one key; `err' gets a message without location on failure. */
int
conf_set(struct conf *c, const char *key, const char *v, char *err,
    size_t errsz)
{
	const struct conf_key	*k = NULL;
	const char		*errstr;
	char			**sp;
	size_t			 i;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (strcmp(conf_keys[i].name, key) == 0)
			k = &conf_keys[i];
	if (k == NULL) {
		(void)snprintf(err, errsz, "unknown key \"%s\"", key);
		return -1;
	}
	if (*v == '\0') {
		(void)snprintf(err, errsz, "%s: missing value", key);
		return -1;
	}
	switch (k->type) {
	case CT_HOST:
		return conf_add_host(c, v, err, errsz);
	case CT_PIN:
		return conf_add_pins(c, v, err, errsz);
	case CT_TLS:
		if (strcmp(v, "starttls") == 0)
			c->tls = TLS_STARTTLS;
		else if (strcmp(v, "implicit") == 0)
			c->tls = TLS_IMPLICIT;
		else if (strcmp(v, "off") == 0)
			c->tls = TLS_OFF;
		else {
			(void)snprintf(err, errsz, "tls: \"%s\" is not one of "
			    "starttls, implicit, off", v);
			return -1;
		}
		c->tls_set = 1;
		return 0;
	case CT_TLSVER:
		if (strcmp(v, "1.2") == 0)
			c->tls_min_version = 2;
		else if (strcmp(v, "1.3") == 0)
			c->tls_min_version = 3;
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
	case CT_STR:
		sp = (char **)((char *)c + k->off);
		free(*sp);
		if ((*sp = strdup(v)) == NULL) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		return 0;
	case CT_DURATION:
		if (util_duration(v, (time_t *)((char *)c + k->off)) == -1) {
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
		if (conf_size(v, (long long *)((char *)c + k->off)) == -1) {
			(void)snprintf(err, errsz, "%s: bad size \"%s\" "
			    "(use e.g. 52428800, 50M)", key, v);
			return -1;
		}
		return 0;
	case CT_BOOL:
		if (strcmp(v, "yes") == 0)
			*(int *)((char *)c + k->off) = 1;
		else if (strcmp(v, "no") == 0)
			*(int *)((char *)c + k->off) = 0;
		else {
			(void)snprintf(err, errsz, "%s: \"%s\" is not yes or no",
			    key, v);
			return -1;
		}
		return 0;
	case CT_LIST:
		sp = (char **)((char *)c + k->off);
		if (conf_list_add(sp, v) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			return -1;
		}
		return 0;
	case CT_COUNT:
		*(long long *)((char *)c + k->off) = strtonum(v, 0, 1000000000,
		    &errstr);
		if (errstr != NULL) {
			(void)snprintf(err, errsz, "%s: \"%s\" is %s (a whole "
			    "number)", key, v, errstr);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* Parse one line in place; 0 = ok or empty, -1 = error in err. */
static int
conf_line(struct conf *c, char *line, char *err, size_t errsz)
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
	return conf_set(c, key, val, err, errsz);
}

static int
conf_env(struct conf *c, char *err, size_t errsz)
{
	char	 var[64], buf[1024], msg[512], *v, *tok, *last;
	size_t	 i, j;

	for (i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++) {
		(void)strlcpy(var, "RELAYQ_", sizeof(var));
		for (j = 0; conf_keys[i].name[j] != '\0'; j++)
			var[7 + j] = (char)toupper(
			    (unsigned char)conf_keys[i].name[j]);
		var[7 + j] = '\0';
		if ((v = getenv(var)) == NULL)
			continue;
		if (conf_keys[i].type == CT_LIST) {
			/* like smarthost: the variable replaces the file's */
			free(*(char **)((char *)c + conf_keys[i].off));
			*(char **)((char *)c + conf_keys[i].off) = NULL;
		}
		if (conf_keys[i].type != CT_HOST) {
			if (conf_set(c, conf_keys[i].name, v, msg,
			    sizeof(msg)) == -1)
				goto fail;
			continue;
		}
		/* the variable replaces every smarthost line of the file */
		c->nhost = 0;
		if (strlcpy(buf, v, sizeof(buf)) >= sizeof(buf)) {
			(void)strlcpy(msg, "value too long", sizeof(msg));
			goto fail;
		}
		for (tok = strtok_r(buf, ", \t", &last); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &last))
			if (conf_add_host(c, tok, msg, sizeof(msg)) == -1)
				goto fail;
	}
	return 0;
 fail:
	(void)snprintf(err, errsz, "%s: %s", var, msg);
	return -1;
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
	size_t		 linesz = 0;
	ssize_t		 len;
	unsigned int	 lineno = 0;
	int		 rc = -1;
	size_t		 i;

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
			if (conf_line(c, line, msg, sizeof(msg)) == -1) {
				(void)snprintf(err, errsz, "%s:%u: %s", path,
				    lineno, msg);
				goto done;
			}
		}
		if (ferror(fp)) {
			(void)snprintf(err, errsz, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
	}
	if (use_env && conf_env(c, err, errsz) == -1)
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
	/* implicit TLS is the default on 465 only (RFC 8314 port) */
	for (i = 0; i < c->nhost; i++)
		c->host[i].tls = c->tls_set ? c->tls :
		    strcmp(c->host[i].port, "465") == 0 ? TLS_IMPLICIT :
		    TLS_STARTTLS;
	if (c->auth_user != NULL && c->tls == TLS_OFF && c->tls_set) {
		(void)snprintf(err, errsz, "%s: auth_user with tls off: "
		    "relayq never sends credentials without TLS", path);
		goto done;
	}
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
