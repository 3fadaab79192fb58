/*
 * Unit tests for src/conf.c: relayq.conf and the environment, each error with its
 * file and line.
 * Linked into test/unit; group conf in unit.c's table.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "unit.h"

static char	 conf_path[PATH_MAX];

/*
 * Write `text' as the config file and load it; err gets the message.
 * (unit_route.c too)
 */
int
conf_try(struct conf *c, const char *text, int use_env, char *err,
    size_t errsz)
{
	(void)strlcpy(conf_path, tmp_path("relayq.conf"), sizeof(conf_path));
	if (write_path(conf_path, text, strlen(text)) == -1)
		return -2;
	conf_init(c);
	err[0] = '\0';
	return conf_load(c, conf_path, 1, use_env, err, errsz);
}

/* A bad value: -1 and "PATH:LINE: " then `what' somewhere after. */
void
conf_bad(const char *name, const char *text, unsigned int line,
    const char *what)
{
	struct conf	 c;
	char		 err[512], prefix[PATH_MAX + 16];
	int		 rc;

	rc = conf_try(&c, text, 0, err, sizeof(err));
	(void)snprintf(prefix, sizeof(prefix), "%s:%u: ", conf_path, line);
	CASE(name);
	EXPECT_INT("conf_load", rc, -1);
	EXPECT(strncmp(err, prefix, strlen(prefix)) == 0,
	    "error does not start with \"%s\": \"%s\"", prefix, err);
	EXPECT_HAS("error", err, what);
	END();
	conf_free(&c);
}

static void
env_clear_relayq(void)
{
	char	 name[128], *eq;
	size_t	 i;
	int	 again = 1;

	while (again) {
		again = 0;
		for (i = 0; environ[i] != NULL; i++) {
			if (strncmp(environ[i], "RELAYQ_", 7) != 0)
				continue;
			(void)strlcpy(name, environ[i], sizeof(name));
			if ((eq = strchr(name, '=')) != NULL)
				*eq = '\0';
			(void)unsetenv(name);
			again = 1;
			break;
		}
	}
}

void
test_conf(void)
{
	struct conf	 c;
	char		 err[512], want[PATH_MAX + 128], text[4096];
	int		 rc;
	size_t		 i;

	env_clear_relayq();

	rc = conf_try(&c,
	    "# relayq.conf\n"
	    "smarthost mail.example.net\n"
	    "smarthost [::1]:2525\n"
	    "tls implicit\n"
	    "tls_ca_file /etc/ssl/ca.pem\n"
	    "tls_min_version 1.3\n"
	    "auth_user relay@example.org\n"
	    "auth_password_file /etc/relayq/secret\n"
	    "helo_name client.example.org\n"
	    "domain example.org\n"
	    "spool /var/tmp/spool\n"
	    "log stderr\n"
	    "max_message_size 10M\n"
	    "queue_lifetime 2d\n"
	    "retry_min 30s\n"
	    "retry_max 2h\n"
	    "timeout_connect 10s\n"
	    "timeout_command 2m\n"
	    "timeout_data 5m\n"
	    "add_received no\n", 0, err, sizeof(err));
	CASE("conf: every supported key parses");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nhost", c.route[0].nhost, 2);
	EXPECT_STR("host[0].name", c.route[0].host[0].name, "mail.example.net");
	EXPECT_STR("host[0].port", c.route[0].host[0].port, "587");
	EXPECT_INT("host[0].tls", c.route[0].host[0].tls, TLS_IMPLICIT);
	EXPECT_STR("host[1].name", c.route[0].host[1].name, "::1");
	EXPECT_STR("host[1].port", c.route[0].host[1].port, "2525");
	EXPECT_INT("tls", c.route[0].tls, TLS_IMPLICIT);
	EXPECT_INT("tls_set", c.route[0].tls_set, 1);
	EXPECT_STR("tls_ca_file", c.route[0].tls_ca_file, "/etc/ssl/ca.pem");
	EXPECT_INT("tls_min_version", c.route[0].tls_min_version, 3);
	EXPECT_STR("auth_user", c.route[0].auth_user, "relay@example.org");
	EXPECT_STR("auth_password_file", c.route[0].auth_password_file,
	    "/etc/relayq/secret");
	EXPECT_STR("helo_name", c.route[0].helo_name, "client.example.org");
	EXPECT_STR("domain", c.domain, "example.org");
	EXPECT_STR("spool", c.spool, "/var/tmp/spool");
	EXPECT_STR("log", c.log, "stderr");
	EXPECT_INT("max_message_size", c.max_message_size, 10LL * 1024 * 1024);
	EXPECT_INT("queue_lifetime", c.queue_lifetime, 2 * 86400);
	EXPECT_INT("retry_min", c.retry_min, 30);
	EXPECT_INT("retry_max", c.retry_max, 7200);
	EXPECT_INT("timeout_connect", c.route[0].timeout_connect, 10);
	EXPECT_INT("timeout_command", c.route[0].timeout_command, 120);
	EXPECT_INT("timeout_data", c.route[0].timeout_data, 300);
	EXPECT_INT("add_received", c.add_received, 0);
	END();
	conf_free(&c);

	rc = conf_try(&c, "", 0, err, sizeof(err));
	CASE("conf: defaults from an empty file");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("nhost", c.route[0].nhost, 0);
	EXPECT_INT("tls", c.route[0].tls, TLS_STARTTLS);
	EXPECT_INT("tls_min_version", c.route[0].tls_min_version, 2);
	EXPECT_INT("max_message_size", c.max_message_size, 50LL * 1024 * 1024);
	EXPECT_INT("queue_lifetime", c.queue_lifetime, 5 * 86400);
	EXPECT_INT("retry_min", c.retry_min, 60);
	EXPECT_INT("retry_max", c.retry_max, 3600);
	EXPECT_INT("timeout_connect", c.route[0].timeout_connect, 30);
	EXPECT_INT("add_received", c.add_received, 1);
	EXPECT_STR("spool", c.spool, SPOOLDIR);
	EXPECT(c.route[0].auth_user == NULL && c.domain == NULL, "strings set");
	END();
	conf_free(&c);

	rc = conf_try(&c, "\n   \n# comment only\n\t\n"
	    "\tsmarthost\thost.example   # trailing comment\r\n"
	    "  domain   example.org  \n", 0, err, sizeof(err));
	CASE("conf: comments, blank lines, tabs, trailing spaces and CRLF");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nhost", c.route[0].nhost, 1);
	EXPECT_STR("host[0].name", c.route[0].host[0].name, "host.example");
	EXPECT_STR("host[0].port", c.route[0].host[0].port, "587");
	EXPECT_STR("domain", c.domain, "example.org");
	END();
	conf_free(&c);

	rc = conf_try(&c, "domain example.org\n\nbogus 1\n", 0, err,
	    sizeof(err));
	(void)snprintf(want, sizeof(want), "%s:3: unknown key \"bogus\"",
	    conf_path);
	CASE("conf: unknown key is FILE:LINE: unknown key \"x\"");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_STR("error", err, want);
	END();
	conf_free(&c);

	conf_bad("conf: tls_fingerprint must be sha256: and 64 hex digits",
	    "domain example.org\ntls_fingerprint sha256:00\n", 2,
	    "tls_fingerprint: \"sha256:00\" is not sha256: and 64 hex digits");
	conf_bad("conf: max_messages_per_session is a number",
	    "domain example.org\nmax_messages_per_session 5m\n", 2,
	    "max_messages_per_session: \"5m\" is invalid");
	conf_bad("conf: force_from is yes or no",
	    "domain x\nforce_from maybe\n", 2, "is not yes or no");
	conf_bad("conf: aliases must be an absolute path",
	    "aliases etc/aliases\n", 1, "not an absolute path");
	conf_bad("conf: bad duration names the line",
	    "domain x\nretry_min 5x\n", 2, "bad duration");
	conf_bad("conf: negative duration rejected",
	    "domain x\nqueue_lifetime -1d\n", 2, "bad duration");
	conf_bad("conf: bad size names the line",
	    "domain x\nmax_message_size 5Q\n", 2, "bad size");
	conf_bad("conf: zero size rejected",
	    "domain x\nmax_message_size 0\n", 2, "bad size");
	conf_bad("conf: bad bool names the line",
	    "domain x\nadd_received maybe\n", 2, "not yes or no");
	conf_bad("conf: bad tls mode names the line",
	    "domain x\ntls none\n", 2, "not one of");
	conf_bad("conf: bad tls_min_version names the line",
	    "domain x\ntls_min_version 1.1\n", 2, "1.2 or 1.3");
	conf_bad("conf: port 0 rejected", "domain x\nsmarthost h:0\n", 2,
	    "bad port");
	conf_bad("conf: port 65536 rejected", "domain x\nsmarthost h:65536\n",
	    2, "bad port");
	conf_bad("conf: empty port rejected", "domain x\nsmarthost h:\n", 2,
	    "bad port");
	conf_bad("conf: unclosed '[' rejected", "domain x\nsmarthost [::1:25\n",
	    2, "missing ']'");
	conf_bad("conf: junk after ']' rejected",
	    "domain x\nsmarthost [::1]25\n", 2, "bad smarthost");
	conf_bad("conf: relative path rejected", "domain x\nspool var/spool\n",
	    2, "absolute path");
	conf_bad("conf: key without value rejected", "domain x\nhelo_name\n",
	    2, "missing value");
	(void)strlcpy(text, "", sizeof(text));
	for (i = 0; i < CONF_MAXHOSTS + 1; i++)
		(void)strlcat(text, "smarthost h.example\n", sizeof(text));
	conf_bad("conf: more than CONF_MAXHOSTS smarthosts rejected", text,
	    CONF_MAXHOSTS + 1, "more than");
	{
		static const char nul[] = "domain x\nhelo_name a\0b\n";

		(void)strlcpy(conf_path, tmp_path("relayq.conf"),
		    sizeof(conf_path));
		(void)write_path(conf_path, nul, sizeof(nul) - 1);
		conf_init(&c);
		rc = conf_load(&c, conf_path, 1, 0, err, sizeof(err));
		(void)snprintf(want, sizeof(want), "%s:2: ", conf_path);
		CASE("conf: NUL byte inside a line rejected with its line");
		EXPECT_INT("conf_load", rc, -1);
		EXPECT(strncmp(err, want, strlen(want)) == 0,
		    "error is \"%s\"", err);
		EXPECT_HAS("error", err, "NUL");
		END();
		conf_free(&c);
	}

	rc = conf_try(&c, "smarthost [::1]:2525\nsmarthost [192.0.2.1]\n"
	    "smarthost 2001:db8::25\n", 0, err, sizeof(err));
	CASE("conf: [::1]:2525 is host ::1 port 2525, bare IPv6 takes 587");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("nhost", c.route[0].nhost, 3);
	EXPECT_STR("host[0].name", c.route[0].host[0].name, "::1");
	EXPECT_STR("host[0].port", c.route[0].host[0].port, "2525");
	EXPECT_STR("host[1].name", c.route[0].host[1].name, "192.0.2.1");
	EXPECT_STR("host[1].port", c.route[0].host[1].port, "587");
	EXPECT_STR("host[2].name", c.route[0].host[2].name, "2001:db8::25");
	EXPECT_STR("host[2].port", c.route[0].host[2].port, "587");
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost smtp.example:465\nsmarthost "
	    "smtp2.example\nsmarthost smtp3.example:587\n", 0, err,
	    sizeof(err));
	CASE("conf: port 465 gives implicit TLS by default, others STARTTLS");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("host[0].tls (465)", c.route[0].host[0].tls, TLS_IMPLICIT);
	EXPECT_INT("host[1].tls (587)", c.route[0].host[1].tls, TLS_STARTTLS);
	EXPECT_INT("host[2].tls (587)", c.route[0].host[2].tls, TLS_STARTTLS);
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost smtp.example:465\ntls starttls\n", 0,
	    err, sizeof(err));
	CASE("conf: explicit tls starttls wins over port 465");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("host[0].tls", c.route[0].host[0].tls, TLS_STARTTLS);
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost h.example:00000000587\n", 0, err,
	    sizeof(err));
	CASE("conf: a port is stored whole or rejected, never truncated");
	EXPECT(rc == -1 || strcmp(c.route[0].host[0].port, "587") == 0,
	    "conf_load returned %d with port \"%s\" for \"00000000587\"", rc,
	    c.route[0].nhost > 0 ? c.route[0].host[0].port : "");
	END();
	conf_free(&c);

	(void)strlcpy(want, tmp_path("no-such.conf"), sizeof(want));
	conf_init(&c);
	err[0] = '\0';
	rc = conf_load(&c, want, 1, 0, err, sizeof(err));
	CASE("conf: missing file named by the caller is an error");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_HAS("error", err, want);
	EXPECT_HAS("error", err, strerror(ENOENT));
	END();
	conf_free(&c);
	conf_init(&c);
	err[0] = '\0';
	rc = conf_load(&c, want, 0, 0, err, sizeof(err));
	CASE("conf: missing default file means defaults");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nhost", c.route[0].nhost, 0);
	EXPECT_INT("retry_min", c.retry_min, 60);
	END();
	conf_free(&c);

	(void)setenv("RELAYQ_SMARTHOST", "env1.example:465, [::1]:25", 1);
	(void)setenv("RELAYQ_RETRY_MIN", "5m", 1);
	(void)setenv("RELAYQ_DOMAIN", "env.example", 1);
	rc = conf_try(&c, "smarthost file.example\nretry_min 2m\n"
	    "domain file.example\n", 1, err, sizeof(err));
	CASE("conf: RELAYQ_<KEY> overrides the file, smarthost list replaced");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nhost", c.route[0].nhost, 2);
	EXPECT_STR("host[0].name", c.route[0].host[0].name, "env1.example");
	EXPECT_STR("host[0].port", c.route[0].host[0].port, "465");
	EXPECT_INT("host[0].tls", c.route[0].host[0].tls, TLS_IMPLICIT);
	EXPECT_STR("host[1].name", c.route[0].host[1].name, "::1");
	EXPECT_STR("host[1].port", c.route[0].host[1].port, "25");
	EXPECT_INT("retry_min", c.retry_min, 300);
	EXPECT_STR("domain", c.domain, "env.example");
	END();
	conf_free(&c);
	rc = conf_try(&c, "smarthost file.example\nretry_min 2m\n", 0, err,
	    sizeof(err));
	CASE("conf: environment ignored when use_env is 0 (setgid front end)");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("nhost", c.route[0].nhost, 1);
	EXPECT_STR("host[0].name", c.route[0].host[0].name, "file.example");
	EXPECT_INT("retry_min", c.retry_min, 120);
	EXPECT(c.domain == NULL, "domain from the environment");
	END();
	conf_free(&c);
	(void)unsetenv("RELAYQ_SMARTHOST");
	(void)unsetenv("RELAYQ_DOMAIN");

	(void)setenv("RELAYQ_RETRY_MIN", "soon", 1);
	rc = conf_try(&c, "retry_min 2m\n", 1, err, sizeof(err));
	CASE("conf: bad environment value names the variable");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT(strncmp(err, "RELAYQ_RETRY_MIN: ", 18) == 0,
	    "error does not start with the variable: \"%s\"", err);
	EXPECT_HAS("error", err, "bad duration");
	END();
	conf_free(&c);
	(void)unsetenv("RELAYQ_RETRY_MIN");

	(void)setenv("RELAYQ_SMARTHOST", "ok.example, bad.example:0", 1);
	rc = conf_try(&c, "", 1, err, sizeof(err));
	CASE("conf: bad RELAYQ_SMARTHOST names the variable");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT(strncmp(err, "RELAYQ_SMARTHOST: ", 18) == 0,
	    "error does not start with the variable: \"%s\"", err);
	EXPECT_HAS("error", err, "bad port");
	END();
	conf_free(&c);
	(void)unsetenv("RELAYQ_SMARTHOST");

	rc = conf_try(&c, "max_sessions 17\n", 0, err, sizeof(err));
	CASE("conf: max_sessions is from 1 to 16");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_HAS("error", err, "max_sessions must be from 1 to 16");
	END();
	conf_free(&c);

	rc = conf_try(&c, "retry_min 2h\nretry_max 1h\n", 0, err,
	    sizeof(err));
	CASE("conf: retry_min larger than retry_max rejected");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_HAS("error", err, "retry_min is larger than retry_max");
	END();
	conf_free(&c);

	(void)setenv("RELAYQ_RETRY_MAX", "10s", 1);
	rc = conf_try(&c, "", 1, err, sizeof(err));
	CASE("conf: retry_min > retry_max also caught from the environment");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_HAS("error", err, "retry_min is larger than retry_max");
	END();
	conf_free(&c);
	(void)unsetenv("RELAYQ_RETRY_MAX");

	rc = conf_try(&c, "smarthost lan.example:25\ntls off\n"
	    "auth_user someone\n", 0, err, sizeof(err));
	CASE("conf: auth_user with tls off rejected");
	EXPECT_INT("conf_load", rc, -1);
	EXPECT_HAS("error", err, "tls off");
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost lan.example:25\ntls off\n", 0, err,
	    sizeof(err));
	CASE("conf: tls off without auth_user accepted for every host");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("host[0].tls", c.route[0].host[0].tls, TLS_OFF);
	END();
	conf_free(&c);
}
