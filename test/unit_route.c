/*
 * Unit tests for routes: the `route NAME' blocks and RELAYQ_ROUTES in
 * src/conf.c (each error with its line), and route_for in src/route.c.
 * Linked into test/unit; group route in unit.c's table.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "relayq.h"
#include "unit.h"

#define ROUTE_BASE \
	"smarthost default.example.net\n" \
	"helo_name relay.example.org\n" \
	"timeout_command 2m\n" \
	"tls_ca_file /etc/ssl/ca.pem\n" \
	"auth_user me@example.org\n" \
	"auth_password_file /etc/relayq/secret\n"

static const char	*route_file =
	ROUTE_BASE
	"retry_min 30s\n"
	"rate_limit 30/min\n"
	"rate_limit_recipients 100/h\n"
	"\n"
	"route work\n"
	"  sender @a.example  boss@Work.Example\n"
	"  sender carol@b.example\n"
	"  smarthost smtp.work.example:465\n"
	"  auth_user relay@work.example\n"
	"  auth_password_file /etc/relayq/work.secret\n"
	"  timeout_connect 5s\n"
	"  rate_limit 3/s\n"
	"route per-sonal   # comment\n"
	"  sender @b.example\n"
	"  smarthost [192.0.2.7]:2525\n"
	"  tls off\n"
	"  helo_name home.example\n"
	"  idle_timeout 0\n";

static void
route_parse(void)
{
	struct conf	 c;
	const struct route *w, *p;
	char		 err[512];
	int		 rc;

	rc = conf_try(&c, route_file, 0, err, sizeof(err));
	CASE("route: blocks parse, default route is element 0");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nroute", (long long)c.nroute, 3);
	EXPECT_STR("route[0]", c.route[0].name, "default");
	EXPECT_STR("default smarthost", c.route[0].host[0].name,
	    "default.example.net");
	EXPECT_STR("default auth_user", c.route[0].auth_user,
	    "me@example.org");
	EXPECT_INT("retry_min (global, above the routes)", c.retry_min, 30);
	END();
	if (rc != 0 || c.nroute != 3) {
		conf_free(&c);
		return;
	}
	w = &c.route[1];
	p = &c.route[2];
	CASE("route: a block holds its own settings");
	EXPECT_STR("name", w->name, "work");
	EXPECT_INT("idx", w->idx, 1);
	EXPECT_STR("sender (joined)", w->sender,
	    "@a.example  boss@Work.Example carol@b.example");
	EXPECT_INT("nhost", (long long)w->nhost, 1);
	EXPECT_STR("host", w->host[0].name, "smtp.work.example");
	EXPECT_INT("465 is implicit TLS", w->host[0].tls, TLS_IMPLICIT);
	EXPECT_STR("auth_user", w->auth_user, "relay@work.example");
	EXPECT_STR("auth_password_file", w->auth_password_file,
	    "/etc/relayq/work.secret");
	EXPECT_INT("timeout_connect (own)", w->timeout_connect, 5);
	EXPECT_STR("rate_limit (own)", w->rate_limit, "3/s");
	EXPECT_STR("default rate_limit (top level)", c.route[0].rate_limit,
	    "30/min");
	EXPECT_STR("default rate_limit_recipients",
	    c.route[0].rate_limit_recipients, "100/h");
	END();
	CASE("route: helo_name, timeouts and tls_ca_file are inherited");
	EXPECT_STR("helo_name", w->helo_name, "relay.example.org");
	EXPECT_INT("timeout_command", w->timeout_command, 120);
	EXPECT_INT("timeout_data", w->timeout_data, 600);
	EXPECT_STR("tls_ca_file", w->tls_ca_file, "/etc/ssl/ca.pem");
	EXPECT_STR("own helo_name wins", p->helo_name, "home.example");
	END();
	CASE("route: nothing else is inherited");
	EXPECT(p->auth_user == NULL, "auth_user \"%s\"", p->auth_user);
	EXPECT(p->auth_password_file == NULL, "auth_password_file set");
	EXPECT(p->rate_limit == NULL, "rate_limit \"%s\"", p->rate_limit);
	EXPECT(w->rate_limit_recipients == NULL, "rate_limit_recipients "
	    "\"%s\"", w->rate_limit_recipients);
	EXPECT_INT("idle_timeout (own)", p->idle_timeout, 0);
	EXPECT_INT("idle_timeout (default's default)", w->idle_timeout, 2);
	EXPECT_INT("tls off", p->host[0].tls, TLS_OFF);
	EXPECT_STR("name with '-'", p->name, "per-sonal");
	END();

	CASE("route_for: exact address, then @domain, then default");
	EXPECT_STR("@domain", route_for(&c, "x@a.example")->name, "work");
	EXPECT_STR("domain without case", route_for(&c, "x@A.Example")->name,
	    "work");
	EXPECT_STR("exact beats another route's @domain",
	    route_for(&c, "carol@b.example")->name, "work");
	EXPECT_STR("exact, domain without case",
	    route_for(&c, "carol@B.EXAMPLE")->name, "work");
	EXPECT_STR("local part is exact", route_for(&c, "Carol@b.example")->name,
	    "per-sonal");
	EXPECT_STR("boss", route_for(&c, "boss@work.example")->name, "work");
	EXPECT_STR("BOSS is someone else",
	    route_for(&c, "BOSS@work.example")->name, "default");
	EXPECT_STR("@b.example", route_for(&c, "dave@b.example")->name,
	    "per-sonal");
	EXPECT_STR("subdomain is not the domain",
	    route_for(&c, "x@sub.a.example")->name, "default");
	EXPECT_STR("other", route_for(&c, "x@c.example")->name, "default");
	EXPECT_STR("null sender (bounces)", route_for(&c, "")->name,
	    "default");
	EXPECT_STR("unqualified", route_for(&c, "root")->name, "default");
	EXPECT(route_byname(&c, "per-sonal") == p, "route_byname");
	EXPECT(route_byname(&c, "nosuch") == NULL, "route_byname nosuch");
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost a.example\n", 0, err, sizeof(err));
	CHECK("route: without route lines, one default route", rc == 0 &&
	    c.nroute == 1 && route_for(&c, "x@y.example") == &c.route[0],
	    "rc %d, nroute %zu: %s", rc, c.nroute, err);
	conf_free(&c);
}

static void
route_errors(void)
{
	conf_bad("route: a global key in a block",
	    ROUTE_BASE "route a\nsender @a.example\nretry_min 5m\n", 9,
	    "retry_min is not a route setting; put it above the first route "
	    "line");
	conf_bad("route: sender at the top level", "sender @a.example\n", 1,
	    "sender belongs to a route");
	conf_bad("route: a block without sender",
	    ROUTE_BASE "route a\nsmarthost x.example\nroute b\nsender @b.example\n",
	    7, "route a has no sender line");
	conf_bad("route: last block without sender",
	    ROUTE_BASE "route a\nsender @a.example\nroute b\nsmarthost x\n", 9,
	    "route b has no sender line");
	conf_bad("route: name with upper case", "route Work\n", 1,
	    "a name is 1 to 32 of a-z, 0-9 and '-'");
	conf_bad("route: empty name", "smarthost a\nroute\n", 2,
	    "a name is 1 to 32");
	conf_bad("route: name too long",
	    "route abcdefghijabcdefghijabcdefghijabc\n", 1, "a name is 1 to 32");
	conf_bad("route: two words", "route a b\n", 1, "a name is 1 to 32");
	conf_bad("route: \"default\" is reserved", "route default\n", 1,
	    "reserved");
	conf_bad("route: defined twice",
	    "route a\nsender @a.example\nroute a\n", 3, "route a: defined twice");
	conf_bad("route: sender without @", "route a\nsender bob\n", 2,
	    "\"bob\" is neither an address");
	conf_bad("route: sender with empty domain", "route a\nsender bob@\n",
	    2, "neither an address");
	conf_bad("route: the same domain in two routes",
	    "route a\nsender @a.example\nroute b\nsender x@b.example @A.example\n",
	    4, "@A.example is already route a's");
	conf_bad("route: the same address in two routes",
	    "route a\nsender bob@a.example\nroute b\nsender bob@A.EXAMPLE\n",
	    4, "bob@A.EXAMPLE is already route a's");
	conf_bad("route: auth_password_command in a route",
	    "route a\nsender @a.example\nauth_password_command /bin/true\n", 3,
	    "allowed for the default route only");
	conf_bad("route: a bad value names its line",
	    "route a\nsender @a.example\ntls maybe\n", 3,
	    "tls: \"maybe\" is not one of");
	conf_bad("route: unknown key in a block",
	    "route a\nsender @a.example\nsmarthots x\n", 3,
	    "unknown key \"smarthots\"");
}

static void
route_env(void)
{
	struct conf	 c;
	char		 err[512];
	int		 rc;

	(void)setenv("RELAYQ_ROUTES", "env-one work", 1);
	(void)setenv("RELAYQ_ROUTE_ENV_ONE_SENDER", "@e.example", 1);
	(void)setenv("RELAYQ_ROUTE_ENV_ONE_SMARTHOST", "e1.example, e2.example:25",
	    1);
	(void)setenv("RELAYQ_ROUTE_ENV_ONE_AUTH_USER", "e@e.example", 1);
	(void)setenv("RELAYQ_ROUTE_WORK_SMARTHOST", "override.example", 1);
	(void)setenv("RELAYQ_ROUTE_ENV_ONE_RATE_LIMIT", "10/min", 1);
	rc = conf_try(&c, route_file, 1, err, sizeof(err));
	CASE("route: RELAYQ_ROUTES adds routes, RELAYQ_ROUTE_<NAME>_<KEY> "
	    "sets them, over the file");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nroute", (long long)c.nroute, 4);
	if (rc == 0 && c.nroute == 4) {
		EXPECT_STR("env route", c.route[3].name, "env-one");
		EXPECT_STR("its sender", c.route[3].sender, "@e.example");
		EXPECT_INT("its nhost", (long long)c.route[3].nhost, 2);
		EXPECT_STR("its port", c.route[3].host[1].port, "25");
		EXPECT_STR("its auth_user", c.route[3].auth_user,
		    "e@e.example");
		EXPECT_STR("inherits helo_name", c.route[3].helo_name,
		    "relay.example.org");
		EXPECT_STR("its rate_limit", c.route[3].rate_limit,
		    "10/min");
		EXPECT_INT("file route's smarthost replaced",
		    (long long)c.route[1].nhost, 1);
		EXPECT_STR("by the variable", c.route[1].host[0].name,
		    "override.example");
		EXPECT_STR("selected", route_for(&c, "x@e.example")->name,
		    "env-one");
	}
	END();
	conf_free(&c);
	(void)unsetenv("RELAYQ_ROUTE_ENV_ONE_SENDER");
	rc = conf_try(&c, "", 1, err, sizeof(err));
	CASE("route: an env route without sender");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_HAS("error", err, "RELAYQ_ROUTES: route env-one has no sender "
	    "(set RELAYQ_ROUTE_ENV_ONE_SENDER)");
	END();
	conf_free(&c);
	(void)setenv("RELAYQ_ROUTES", "Bad!", 1);
	rc = conf_try(&c, "", 1, err, sizeof(err));
	CHECK("route: a bad name in RELAYQ_ROUTES", rc == -1 &&
	    strstr(err, "RELAYQ_ROUTES: route \"Bad!\"") != NULL, "%s", err);
	conf_free(&c);
	(void)unsetenv("RELAYQ_ROUTES");
	(void)unsetenv("RELAYQ_ROUTE_ENV_ONE_SMARTHOST");
	(void)unsetenv("RELAYQ_ROUTE_ENV_ONE_AUTH_USER");
	(void)unsetenv("RELAYQ_ROUTE_WORK_SMARTHOST");
	(void)unsetenv("RELAYQ_ROUTE_ENV_ONE_RATE_LIMIT");
}

/* Reload: routes by name keep restart-only keys; a new set is kept out. */
static void
route_reload_note(void *arg, const char *key)
{
	char	*keys = arg;

	(void)strlcat(keys, keys[0] != '\0' ? " " : "", 256);
	(void)strlcat(keys, key, 256);
}

static void
route_reload(void)
{
	struct conf	 run, next;
	char		 err[512], keys[256] = "";
	size_t		 kept;

	if (conf_try(&run, route_file, 0, err, sizeof(err)) != 0)
		abort();
	if (conf_try(&next, ROUTE_BASE
	    "route work\nsender @a.example @new.example\n"
	    "smarthost smtp.work.example:465\n"
	    "auth_user other@work.example\n"
	    "auth_password_file /etc/relayq/elsewhere\n"
	    "rate_limit 5/s\n"
	    "route per-sonal\nsender @b.example\nsmarthost [192.0.2.7]:2525\n"
	    "tls off\n", 0, err, sizeof(err)) != 0)
		abort();
	kept = conf_keep_running(&next, &run, route_reload_note, keys);
	CASE("route: reload takes a route's senders and user, keeps its "
	    "secret file");
	EXPECT_INT("kept", (long long)kept, 4);
	EXPECT_STR("notes", keys, "auth_password_file rate_limit "
	    "rate_limit rate_limit_recipients");
	EXPECT_STR("route's rate_limit kept", next.route[1].rate_limit,
	    "3/s");
	EXPECT_STR("default's rate_limit kept", next.route[0].rate_limit,
	    "30/min");
	EXPECT_STR("senders", next.route[1].sender, "@a.example @new.example");
	EXPECT_STR("auth_user", next.route[1].auth_user,
	    "other@work.example");
	EXPECT_STR("auth_password_file", next.route[1].auth_password_file,
	    "/etc/relayq/work.secret");
	EXPECT_STR("selection follows", route_for(&next,
	    "x@new.example")->name, "work");
	END();
	conf_free(&next);
	conf_free(&run);

	if (conf_try(&run, route_file, 0, err, sizeof(err)) != 0)
		abort();
	keys[0] = '\0';
	if (conf_try(&next, ROUTE_BASE "route other\nsender @a.example\n"
	    "smarthost o.example\n", 0, err, sizeof(err)) != 0)
		abort();
	kept = conf_keep_running(&next, &run, route_reload_note, keys);
	CASE("route: reload that changes the set of routes keeps the running "
	    "routes");
	EXPECT_INT("kept", (long long)kept, 1);
	EXPECT_STR("notes", keys, "route");
	EXPECT_INT("nroute", (long long)next.nroute, 3);
	EXPECT_STR("route[1]", next.route[1].name, "work");
	END();
	conf_free(&next);
	conf_free(&run);
}

void
test_route(void)
{
	route_parse();
	route_errors();
	route_env();
	route_reload();
}
