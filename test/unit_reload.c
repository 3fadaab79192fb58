/*
 * Unit tests for conf_keep_running (src/conf.c): on reload the new
 * configuration keeps the running value of every key the daemon cannot
 * change without a restart, names each such key once, and takes every
 * other value as it is; the values are swapped, so freeing both
 * configurations afterwards frees each string once (ASan checks that).
 * Linked into test/unit; main() there calls test_reload().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <unistd.h>

#include "relayq.h"
#include "unit.h"


struct reload_notes {
	char	 keys[512];
};

static void
reload_note(void *arg, const char *key)
{
	struct reload_notes	*n = arg;

	(void)strlcat(n->keys, n->keys[0] != '\0' ? " " : "", sizeof(n->keys));
	(void)strlcat(n->keys, key, sizeof(n->keys));
}

/* load `text' from a file of its own: conf_load's real path */
static int
reload_load(struct conf *c, const char *text)
{
	char	 path[] = "/tmp/relayq-unit-reload.XXXXXX", err[512];
	int	 fd, rc;

	conf_init(c);
	if ((fd = mkstemp(path)) == -1)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ?
	    conf_load(c, path, 1, 0, err, sizeof(err)) : -1;
	(void)close(fd);
	(void)unlink(path);
	return rc;
}

#define RELOAD_REST \
	"tls_ca_file /etc/ssl/ca.pem\n" \
	"auth_user a@example.org\n" \
	"spool /var/spool/relayq\n" \
	"max_sessions 2\n" \
	"retry_min 1m\n"
#define RELOAD_BASE \
	"smarthost mail.example.net:587\n" \
	"smarthost backup.example.net:587\n" RELOAD_REST

void
test_reload(void)
{
	struct conf		 r, n;
	struct reload_notes	 notes;
	size_t			 kept;

	/* only reloadable keys change: all taken, nothing noted */
	memset(&notes, 0, sizeof(notes));
	if (reload_load(&r, RELOAD_BASE) == -1 || reload_load(&n,
	    "smarthost other.example.net:587\n"
	    "tls_ca_file /etc/ssl/ca.pem\n"
	    "auth_user b@example.org\n"
	    "spool /var/spool/relayq\n"
	    "max_sessions 2\n"
	    "retry_min 5m\n") == -1)
		abort();
	kept = conf_keep_running(&n, &r, reload_note, &notes);
	CASE("reload: reloadable keys are taken");
	EXPECT_INT("kept", (long long)kept, 0);
	EXPECT_STR("notes", notes.keys, "");
	EXPECT_STR("smarthost", n.route[0].host[0].name, "other.example.net");
	EXPECT_INT("nhost", (long long)n.route[0].nhost, 1);
	EXPECT_STR("auth_user", n.route[0].auth_user, "b@example.org");
	EXPECT_INT("retry_min", (long long)n.retry_min, 300);
	END();
	conf_free(&r);
	conf_free(&n);

	/* keys that need a restart keep their running values */
	memset(&notes, 0, sizeof(notes));
	if (reload_load(&r, RELOAD_BASE) == -1 || reload_load(&n,
	    "smarthost mail.example.net:465\n"
	    "tls_ca_file /etc/ssl/other.pem\n"
	    "tls_min_version 1.3\n"
	    "auth_user b@example.org\n"
	    "spool /srv/spool\n"
	    "log /var/log/relayq/relayq.log\n"
	    "max_sessions 4\n") == -1)
		abort();
	kept = conf_keep_running(&n, &r, reload_note, &notes);
	CASE("reload: restart-only keys keep the running value");
	EXPECT_INT("kept", (long long)kept, 6);
	EXPECT_STR("notes", notes.keys,
	    "smarthost tls_ca_file tls_min_version spool log max_sessions");
	EXPECT_STR("smarthost", n.route[0].host[0].name, "mail.example.net");
	EXPECT_STR("port", n.route[0].host[0].port, "587");
	EXPECT_INT("nhost", (long long)n.route[0].nhost, 2);
	EXPECT_STR("tls_ca_file", n.route[0].tls_ca_file, "/etc/ssl/ca.pem");
	EXPECT_INT("tls_min_version", n.route[0].tls_min_version, 2);
	EXPECT_STR("spool", n.spool, "/var/spool/relayq");
	EXPECT(n.log == NULL, "log: \"%s\", want none", n.log);
	EXPECT_INT("max_sessions", n.max_sessions, 2);
	EXPECT_STR("auth_user (reloadable)", n.route[0].auth_user, "b@example.org");
	END();
	/* the new values went to the running one, freed with it */
	CASE("reload: values swapped, not copied");
	EXPECT_STR("old spool slot", r.spool, "/srv/spool");
	EXPECT_STR("old log slot", r.log, "/var/log/relayq/relayq.log");
	END();
	conf_free(&r);
	conf_free(&n);

	/* a smarthost on a port the daemon already uses is fine */
	memset(&notes, 0, sizeof(notes));
	if (reload_load(&r, RELOAD_BASE) == -1 ||
	    reload_load(&n, "smarthost [backup.example.net]:587\n"
	    RELOAD_REST) == -1)
		abort();
	kept = conf_keep_running(&n, &r, reload_note, &notes);
	CHECK("reload: a smarthost on a known port is taken", kept == 0 &&
	    n.route[0].nhost == 1 && strcmp(n.route[0].host[0].name, "backup.example.net") == 0,
	    "kept %zu (%s), %zu host(s), first %s", kept, notes.keys, n.route[0].nhost,
	    n.route[0].host[0].name);
	conf_free(&r);
	conf_free(&n);

}
