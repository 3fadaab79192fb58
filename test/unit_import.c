/*
 * Unit tests for relayq import's parsers (src/import_parse.c and the
 * format files): each fed the bytes of a real-world configuration, the
 * relayq.conf it produces compared byte for byte, and the secret checked
 * to stay out of that output.  Linked into test/unit (with the
 * IMPORT_OBJS); its table of groups runs test_import().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "import.h"
#include "unit.h"

/* the relayq.conf for `ic' as written by import_write() */
static char *
conf_of(struct import *ic, const char *files)
{
	char	*out = NULL;
	size_t	 len = 0;
	FILE	*fp;

	if ((fp = open_memstream(&out, &len)) == NULL)
		return NULL;
	if (import_write(ic, fp, "/etc/relayq.secret", files) == -1) {
		(void)fclose(fp);
		free(out);
		return NULL;
	}
	(void)fclose(fp);
	return out;
}

/* `text' loads as relayq.conf and `sender' takes route `want' */
static int
loads_with_route(const char *text, const char *sender, const char *want)
{
	struct conf	 c;
	char		 err[512];
	int		 ok;

	ok = conf_try(&c, text, 0, err, sizeof(err)) == 0 &&
	    strcmp(route_for(&c, sender)->name, want) == 0;
	conf_free(&c);
	return ok;
}

static int
has_note(const struct import *ic, const char *want)
{
	size_t	 i;

	for (i = 0; i < ic->nnotes; i++)
		if (strstr(ic->notes[i], want) != NULL)
			return 1;
	return 0;
}

#define S(lit)	lit, sizeof(lit) - 1
/* a named expectation: "what: why" when it fails */
#define EXPECT_TRUE(what, cond, ...) \
	unit_expect(!!(cond), what ": " __VA_ARGS__)

static void
test_import_ssmtp(void)
{
	struct import	 ic;
	char		 err[256] = "", *out;

	CASE("import: ssmtp.conf with STARTTLS, AuthUser/AuthPass, root");
	import_init(&ic);
	EXPECT_INT("parse", import_ssmtp(&ic, "ssmtp.conf", S(
	    "# sSMTP\n"
	    "root=postmaster@example.com\n"
	    "mailhub=smtp.example.com:587\n"
	    "rewriteDomain=example.com\n"
	    "hostname=web1.example.com\r\n"
	    "UseTLS=YES\n"
	    "UseSTARTTLS=YES\n"
	    "AuthUser=joe@example.com\n"
	    "AuthPass=pa55word\n"
	    "FromLineOverride=YES\n"), err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "ssmtp.conf");
	EXPECT_STR("relayq.conf", out,
	    "# relayq.conf(5) converted by `relayq import' from ssmtp: "
	    "ssmtp.conf\n"
	    "smarthost smtp.example.com:587\n"
	    "auth_user joe@example.com\n"
	    "auth_password_file /etc/relayq.secret\n"
	    "helo_name web1.example.com\n"
	    "domain example.com\n"
	    "admin_address postmaster@example.com\n");
	EXPECT_STR("secret found", ic.password, "pa55word");
	EXPECT_STR("where", ic.pwsrc, "ssmtp.conf:9");
	EXPECT_TRUE("secret not in the config", out != NULL &&
	    strstr(out, "pa55word") == NULL, "secret printed");
	EXPECT_INT("no notes", ic.nnotes, 0);
	free(out);
	import_free(&ic);
	END();

	CASE("import: ssmtp UseTLS alone is implicit TLS, kept on port 25");
	import_init(&ic);
	EXPECT_INT("parse", import_ssmtp(&ic, "s", S(
	    "mailhub=relay.example.com\nUseTLS=YES\n"), err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "s");
	EXPECT_HAS("port 25 and tls implicit", out,
	    "smarthost relay.example.com:25\ntls implicit\n");
	free(out);
	import_free(&ic);
	END();

	CASE("import: ssmtp without TLS becomes STARTTLS, and says so");
	import_init(&ic);
	EXPECT_INT("parse", import_ssmtp(&ic, "s", S(
	    "mailhub=mail\nroot=postmaster\nFoo=bar\n"), err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "s");
	EXPECT_STR("config", out, "# relayq.conf(5) converted by `relayq "
	    "import' from ssmtp: s\nsmarthost mail:25\n");
	EXPECT_TRUE("note: no TLS", has_note(&ic, "used no TLS; relayq will "
	    "require it"), "notes: %s", ic.notes[0]);
	EXPECT_TRUE("note: root not an address", has_note(&ic, "s:2: root="
	    "postmaster is not an address"), "missing");
	EXPECT_TRUE("note: unknown key", has_note(&ic, "s:3: Foo not converted"),
	    "missing");
	free(out);
	import_free(&ic);
	END();

	CASE("import: ssmtp without mailhub is an error");
	import_init(&ic);
	EXPECT_INT("parse", import_ssmtp(&ic, "s", S("AuthUser=x\n"), err,
	    sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), -1);
	EXPECT_STR("message", err, "no relay host found in the ssmtp "
	    "configuration");
	import_free(&ic);
	END();

	/* fuzz_import: an ESC or a lone CR went into relayq.conf as is */
	CASE("import: a control character in a line is refused, with its "
	    "file and line");
	import_init(&ic);
	EXPECT_INT("parse", import_ssmtp(&ic, "s", S("# ok\t\r\n"
	    "mailhub=mail\033[2J\r\nsmarthost evil\n"), err, sizeof(err)),
	    -1);
	EXPECT_STR("message", err, "s:2: control character 0x1b: not a "
	    "configuration line");
	import_free(&ic);
	import_init(&ic);
	EXPECT_INT("parse", import_postfix(&ic, "main.cf", S("relayhost = "
	    "a\rb\n"), err, sizeof(err)), -1);
	EXPECT_STR("message", err, "main.cf:1: control character 0x0d: not "
	    "a configuration line");
	import_free(&ic);
	END();
}

static const char msmtprc[] =
    "# ~/.msmtprc\n"
    "defaults\n"
    "auth           on\n"
    "tls            on\n"
    "tls_trust_file /etc/ssl/certs/ca-certificates.crt\n"
    "logfile        ~/.msmtp.log\n"
    "\n"
    "account        gmail\n"
    "host           smtp.gmail.com\n"
    "port           587\n"
    "from           joe@gmail.com\n"
    "user           joe@gmail.com\n"
    "password       \"app \\\"pass\\\" word\"\n"
    "\n"
    "account        work : gmail\n"
    "host           smtp.office365.com\n"
    "from           joe@work.example\n"
    "user           joe@work.example\n"
    "passwordeval   \"pass show work\"\n"
    "\n"
    "account        ses\n"
    "host           email-smtp.eu-west-1.amazonaws.com\n"
    "tls_starttls   off\n"
    "user           AKIAEXAMPLE\n"
    "password       sespw\n"
    "\n"
    "account default : work\n";

static void
test_import_msmtp(void)
{
	struct import	 ic;
	char		 err[256] = "", *out;

	CASE("import: msmtprc default account inherits, passwordeval wins; "
	    "another account with from is a route for that sender");
	import_init(&ic);
	EXPECT_INT("parse", import_msmtp(&ic, ".msmtprc", S(msmtprc), NULL,
	    err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, ".msmtprc");
	EXPECT_STR("relayq.conf", out,
	    "# relayq.conf(5) converted by `relayq import' from msmtp: "
	    ".msmtprc\n"
	    "smarthost smtp.office365.com:587\n"
	    "tls_ca_file /etc/ssl/certs/ca-certificates.crt\n"
	    "auth_user joe@work.example\n"
	    "auth_password_file /etc/relayq.secret\n"
	    "\n"
	    "route gmail\n"
	    "  sender joe@gmail.com\n"
	    "  smarthost smtp.gmail.com:587\n"
	    "  auth_user joe@gmail.com\n"
	    "  auth_password_file /etc/relayq.secret-gmail\n");
	EXPECT_TRUE("the parent's password is not used", ic.password == NULL,
	    "got a password");
	EXPECT_STR("the route's password", ic.route[0].password,
	    "app \"pass\" word");
	EXPECT_STR("from where", ic.route[0].pwsrc, ".msmtprc:13");
	EXPECT_TRUE("passwordeval named", has_note(&ic, ".msmtprc:19: "
	    "passwordeval not converted"), "missing note");
	EXPECT_TRUE("force_sender left out, said why", has_note(&ic,
	    ".msmtprc: from joe@work.example of the account used is not made "
	    "force_sender"), "missing note");
	free(out);
	import_free(&ic);
	END();

	CASE("import: msmtprc: *@domain from is an @domain route, the "
	    "written configuration loads");
	import_init(&ic);
	EXPECT_INT("parse", import_msmtp(&ic, "rc",
	    S("account main\nhost a.example\nfrom me@a.example\n"
	    "account Shop_2\nhost b.example\nport 465\ntls on\n"
	    "tls_starttls off\nfrom *@shop.example\nuser s\n"
	    "account odd\nhost c.example\nfrom x*y@c.example\n"
	    "account default : main\n"), NULL, err, sizeof(err)), 0);
	EXPECT_INT("routes", (long long)ic.nroute, 1);
	EXPECT_STR("name", ic.route[0].name, "shop-2");
	EXPECT_STR("sender", ic.route[0].sender, "@shop.example");
	EXPECT_INT("tls", ic.route[0].tls, TLS_IMPLICIT);
	EXPECT_TRUE("a from that is no address or *@domain is noted",
	    has_note(&ic, "rc:13: account odd (from x*y@c.example) not "
	    "converted to a route"), "missing note");
	out = conf_of(&ic, "rc");
	EXPECT_TRUE("relayq loads it, the route is chosen", out != NULL &&
	    loads_with_route(out, "x@shop.example", "shop-2"), "%s", out);
	free(out);
	import_free(&ic);
	END();

	CASE("import: msmtprc named account, quoted password unescaped");
	import_init(&ic);
	EXPECT_INT("parse", import_msmtp(&ic, "rc", S(msmtprc), "gmail",
	    err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	EXPECT_STR("host", ic.host[0], "smtp.gmail.com");
	EXPECT_STR("password", ic.password, "app \"pass\" word");
	EXPECT_STR("where", ic.pwsrc, "rc:13");
	import_free(&ic);
	END();

	CASE("import: msmtprc tls_starttls off: implicit TLS on 465");
	import_init(&ic);
	EXPECT_INT("parse", import_msmtp(&ic, "rc", S(msmtprc), "ses",
	    err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "rc");
	EXPECT_HAS("smarthost", out, "smarthost email-smtp.eu-west-1."
	    "amazonaws.com:465\ntls_ca_file /etc/ssl/certs/ca-certificates.crt"
	    "\nauth_user AKIAEXAMPLE\n");
	EXPECT_TRUE("no tls line: 465 implies implicit", out != NULL &&
	    strstr(out, "\ntls ") == NULL, "got %s", out);
	free(out);
	import_free(&ic);
	END();

	CASE("import: msmtprc unknown account is an error naming it");
	import_init(&ic);
	EXPECT_INT("parse", import_msmtp(&ic, "rc", S(msmtprc), "nope", err,
	    sizeof(err)), -1);
	EXPECT_STR("message", err, "rc: no account \"nope\"");
	import_free(&ic);
	END();

	CASE("import: msmtprc parent defined later is an error");
	import_init(&ic);
	EXPECT_INT("parse", import_msmtp(&ic, "rc", S("account a : b\n"
	    "host x\n"), NULL, err, sizeof(err)), -1);
	EXPECT_STR("message", err, "rc:1: account \"b\" not defined before");
	import_free(&ic);
	END();
}

static void
test_import_nullmailer(void)
{
	struct import	 ic;
	char		 err[256] = "", *out;

	CASE("import: nullmailer remotes, me, defaultdomain, adminaddr");
	import_init(&ic);
	EXPECT_INT("remotes", import_nullmailer(&ic, "/etc/nullmailer/remotes",
	    S("# relays\n"
	    "smtp.example.net smtp --port=587 --starttls --user=web1 "
	    "--pass=nmpw\n"
	    "old.example.net qmqp\n"
	    "backup.example.net smtp --ssl --insecure\n"), err, sizeof(err)),
	    0);
	EXPECT_INT("me", import_nullmailer(&ic, "/etc/nullmailer/me",
	    S("web1\n"), err, sizeof(err)), 0);
	EXPECT_INT("defaultdomain", import_nullmailer(&ic,
	    "/etc/nullmailer/defaultdomain", S("example.org\n"), err,
	    sizeof(err)), 0);
	EXPECT_INT("adminaddr", import_nullmailer(&ic,
	    "/etc/nullmailer/adminaddr", S("ops@example.org\n"), err,
	    sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "remotes");
	EXPECT_STR("relayq.conf", out,
	    "# relayq.conf(5) converted by `relayq import' from nullmailer: "
	    "remotes\n"
	    "smarthost smtp.example.net:587\n"
	    "smarthost backup.example.net:465\n"
	    "auth_user web1\n"
	    "auth_password_file /etc/relayq.secret\n"
	    "helo_name web1.example.org\n"
	    "domain web1.example.org\n"
	    "admin_address ops@example.org\n");
	EXPECT_STR("password", ic.password, "nmpw");
	EXPECT_TRUE("qmqp named", has_note(&ic, "remotes:3: old.example.net: only "
	    "the smtp protocol"), "missing");
	EXPECT_TRUE("--insecure named", has_note(&ic, "remotes:4: --insecure not "
	    "converted"), "missing");
	free(out);
	import_free(&ic);
	END();
}

static void
test_import_dma(void)
{
	struct import	 ic;
	char		 err[256] = "", *out;

	CASE("import: dma.conf STARTTLS on 587 with auth.conf");
	import_init(&ic);
	EXPECT_INT("dma.conf", import_dma(&ic, "dma.conf", S(
	    "SMARTHOST mail.example.net\n"
	    "PORT 587\n"
	    "AUTHPATH /etc/dma/auth.conf\n"
	    "SECURETRANSFER\n"
	    "STARTTLS\n"
	    "MASQUERADE noreply@example.net\n"
	    "MAILNAME example.net\n"
	    "OPPORTUNISTIC_TLS\n"), err, sizeof(err)), 0);
	EXPECT_INT("auth.conf", import_dma_auth(&ic, "auth.conf", S(
	    "other|elsewhere.example:nope\n"
	    "dmauser|mail.example.net:pw:with:colons\n"), err, sizeof(err)),
	    0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "dma.conf auth.conf");
	EXPECT_STR("relayq.conf", out,
	    "# relayq.conf(5) converted by `relayq import' from dma: "
	    "dma.conf auth.conf\n"
	    "smarthost mail.example.net:587\n"
	    "auth_user dmauser\n"
	    "auth_password_file /etc/relayq.secret\n"
	    "domain example.net\n"
	    "force_sender noreply@example.net\n");
	EXPECT_STR("password after the first colon", ic.password,
	    "pw:with:colons");
	EXPECT_STR("where", ic.pwsrc, "auth.conf:2");
	EXPECT_TRUE("OPPORTUNISTIC_TLS named", has_note(&ic, "dma.conf:8: "
	    "OPPORTUNISTIC_TLS not converted"), "missing");
	free(out);
	import_free(&ic);
	END();

	CASE("import: dma SECURETRANSFER alone is implicit TLS");
	import_init(&ic);
	EXPECT_INT("dma.conf", import_dma(&ic, "d", S(
	    "SMARTHOST smtp.example.net\nPORT 2465\nSECURETRANSFER\n"), err,
	    sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "d");
	EXPECT_HAS("tls implicit", out,
	    "smarthost smtp.example.net:2465\ntls implicit\n");
	free(out);
	import_free(&ic);
	END();
}

static void
test_import_postfix(void)
{
	struct import	 ic;
	char		 err[256] = "", *out;

	CASE("import: Postfix relayhost, sasl_passwd, $variables");
	import_init(&ic);
	EXPECT_INT("main.cf", import_postfix(&ic, "main.cf", S(
	    "# See /usr/share/postfix/main.cf.dist\n"
	    "myhostname = web1.example.com\n"
	    "mydomain = example.com\n"
	    "myorigin = $mydomain\n"
	    "relayhost = [smtp.sendgrid.net]:587\n"
	    "smtp_sasl_auth_enable = yes\n"
	    "smtp_sasl_password_maps = hash:/etc/postfix/sasl_passwd\n"
	    "smtp_sasl_security_options = noanonymous\n"
	    "smtp_tls_security_level =\n"
	    "    encrypt\n"
	    "smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt\n"), err,
	    sizeof(err)), 0);
	EXPECT_INT("sasl_passwd", import_postfix_sasl(&ic, "sasl_passwd", S(
	    "[smtp.other.example]:587 someone:else\n"
	    "[smtp.sendgrid.net]:587 apikey:SG.secret\n"), err, sizeof(err)),
	    0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "main.cf sasl_passwd");
	EXPECT_STR("relayq.conf", out,
	    "# relayq.conf(5) converted by `relayq import' from postfix: "
	    "main.cf sasl_passwd\n"
	    "smarthost smtp.sendgrid.net:587\n"
	    "tls_ca_file /etc/ssl/certs/ca-certificates.crt\n"
	    "auth_user apikey\n"
	    "auth_password_file /etc/relayq.secret\n"
	    "helo_name web1.example.com\n"
	    "domain example.com\n");
	EXPECT_STR("password", ic.password, "SG.secret");
	EXPECT_STR("where", ic.pwsrc, "sasl_passwd:2");
	EXPECT_INT("no notes", ic.nnotes, 0);
	free(out);
	import_free(&ic);
	END();

	CASE("import: Postfix wrappermode on 465, MX relayhost named");
	import_init(&ic);
	EXPECT_INT("main.cf", import_postfix(&ic, "m", S(
	    "relayhost = smtp.example.net:465\n"
	    "smtp_tls_wrappermode = yes\n"
	    "myorigin = /etc/mailname\n"
	    "smtp_sasl_auth_enable = no\n"), err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	out = conf_of(&ic, "m");
	EXPECT_STR("relayq.conf", out, "# relayq.conf(5) converted by "
	    "`relayq import' from postfix: m\n"
	    "smarthost smtp.example.net:465\n");
	EXPECT_TRUE("MX note", has_note(&ic, "m:1: relayhost smtp.example.net:465:"
	    " Postfix looked up its MX records"), "missing");
	free(out);
	import_free(&ic);
	END();

	CASE("import: Postfix without relayhost is an error");
	import_init(&ic);
	EXPECT_INT("main.cf", import_postfix(&ic, "main.cf", S(
	    "myhostname = x\nrelayhost =\n"), err, sizeof(err)), 0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), -1);
	EXPECT_STR("message", err, "main.cf: no relayhost: Postfix delivers "
	    "directly here, there is no relay to convert");
	import_free(&ic);
	END();
}

/* sender_dependent_relayhost_maps with sender-dependent SASL */
static void
test_import_postfix_routes(void)
{
	struct import		 ic;
	struct import_map	 map = { "/etc/postfix/sender_relay",
				    IMPORT_MAP_RELAYHOST, 7 };
	char			 err[256] = "", *out;

	CASE("import: Postfix sender_dependent_relayhost_maps become routes, "
	    "with the sender's sasl_passwd entry, else the relay's");
	import_init(&ic);
	EXPECT_INT("main.cf", import_postfix(&ic, "main.cf", S(
	    "relayhost = [smtp.example.net]:587\n"
	    "smtp_sasl_auth_enable = yes\n"
	    "smtp_sender_dependent_authentication = yes\n"
	    "sender_dependent_relayhost_maps = hash:/etc/postfix/sender_relay\n"
	    "smtp_tls_security_level = encrypt\n"), err, sizeof(err)), 0);
	EXPECT_INT("sasl_passwd", import_postfix_sasl(&ic, "sasl_passwd", S(
	    "[smtp.example.net]:587 main:mainpw\n"
	    "@shop.example shopuser:shoppw\n"
	    "[smtp.other.example]:587 other:otherpw\n"), err, sizeof(err)),
	    0);
	EXPECT_INT("finish", import_format_finish(&ic, err, sizeof(err)), 0);
	EXPECT_INT("routes", import_postfix_routes(&ic, &map, S(
	    "# sender-dependent\n"
	    "@shop.example [smtp.provider.example]:465\n"
	    "bob@b.example [smtp.other.example]:587\n"
	    "root [x.example]\n"
	    "@bad.example\n"), err, sizeof(err)), 0);
	out = conf_of(&ic, "main.cf sasl_passwd");
	EXPECT_STR("relayq.conf", out,
	    "# relayq.conf(5) converted by `relayq import' from postfix: "
	    "main.cf sasl_passwd\n"
	    "smarthost smtp.example.net:587\n"
	    "auth_user main\n"
	    "auth_password_file /etc/relayq.secret\n"
	    "\n"
	    "route shop-example\n"
	    "  sender @shop.example\n"
	    "  smarthost smtp.provider.example:465\n"
	    "  auth_user shopuser\n"
	    "  auth_password_file /etc/relayq.secret-shop-example\n"
	    "\n"
	    "route bob-b-example\n"
	    "  sender bob@b.example\n"
	    "  smarthost smtp.other.example:587\n"
	    "  auth_user other\n"
	    "  auth_password_file /etc/relayq.secret-bob-b-example\n");
	EXPECT_STR("the sender's password", ic.route[0].password, "shoppw");
	EXPECT_STR("from", ic.route[0].pwsrc, "sasl_passwd:2");
	EXPECT_STR("the relay's password", ic.route[1].password, "otherpw");
	EXPECT_TRUE("a bare user is noted", has_note(&ic,
	    "/etc/postfix/sender_relay:4: root not converted: a route is for "
	    "an address or an @domain"), "missing note");
	EXPECT_TRUE("a line without relay is noted", has_note(&ic,
	    "/etc/postfix/sender_relay:5: @bad.example: relay \"\" not "
	    "converted"), "missing note");
	EXPECT_TRUE("relayq loads it, bob's route is chosen", out != NULL &&
	    loads_with_route(out, "bob@b.example", "bob-b-example"), "%s",
	    out);
	free(out);
	import_free(&ic);
	END();
}

void
test_import(void)
{
	test_import_ssmtp();
	test_import_msmtp();
	test_import_nullmailer();
	test_import_dma();
	test_import_postfix();
	test_import_postfix_routes();
}
