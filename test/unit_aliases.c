/*
 * Unit tests for src/aliases.c: the alias file and the expansion of recipients.
 * Linked into test/unit; group aliases in unit.c's table.
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

static char	 alias_problems[2048];

static void
alias_report(const char *path, size_t line, const char *msg)
{
	char	 b[320];

	(void)path;
	(void)snprintf(b, sizeof(b), "%zu: %s|", line, msg);
	(void)strlcat(alias_problems, b, sizeof(alias_problems));
}

static char	 alias_warnings[1024];

static void __attribute__((format(printf, 2, 3)))
alias_warn(void *arg, const char *fmt, ...)
{
	va_list	 ap;
	char	 b[320];

	(void)arg;
	va_start(ap, fmt);
	(void)vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	(void)strlcat(alias_warnings, b, sizeof(alias_warnings));
	(void)strlcat(alias_warnings, "|", sizeof(alias_warnings));
}

/* One recipient expanded: the '|'-joined result, or "ERR" */
static void
alias_case(const struct aliases *al, const char *admin, const char *name,
    const char *rcpt, const char *want)
{
	struct aliases_ctx	 cx;
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			 got[1024];

	memset(&cx, 0, sizeof(cx));
	cx.domain = "example.org";
	cx.locals = masq_locals;
	cx.admin = admin;
	cx.warn = alias_warn;
	if (aliases_expand(al, rcpt, &cx, &l) == -1)
		(void)strlcpy(got, "ERR", sizeof(got));
	else
		addr_join(&l, got, sizeof(got));
	CHECK(name, strcmp(got, want) == 0, "got \"%s\", want \"%s\"", got,
	    want);
	addr_list_free(&l);
}

void
test_aliases(void)
{
	static const char file[] =
	    "# See man 5 aliases\n"
	    "postmaster:    root\n"
	    "ROOT: admin, ops@example.com\n"
	    "admin: Alice <alice@example.com>,\n"
	    "\tbob@example.com\n"
	    "  # a comment inside does not end the entry\n"
	    "    , carol@example.com\n"
	    "\n"
	    "self: self, log@example.com\n"
	    "loopa: loopb\n"
	    "loopb: loopa\n"
	    "pipe: \"|/usr/bin/procmail\", /var/mail/x, :include:/etc/list, "
	    "keep@example.com\n"
	    "onlypipe: |/bin/true\n"
	    "www-data: root@localhost\n"
	    "broken line\n"
	    "postmaster: other@example.com\n"
	    "bad: \"unbalanced\n"
	    "  orphan-continuation-at-end: x\n";
	static const char probs[] =
	    "12: pipe: \"|/usr/bin/procmail\": pipes, files and :include: are "
	    "not supported by a relay, skipped|"
	    "12: pipe: \"/var/mail/x\": pipes, files and :include: are not "
	    "supported by a relay, skipped|"
	    "12: pipe: \":include:/etc/list\": pipes, files and :include: are "
	    "not supported by a relay, skipped|"
	    "13: onlypipe: \"|/bin/true\": pipes, files and :include: are not "
	    "supported by a relay, skipped|"
	    "15: no ':' after the alias name|"
	    "16: duplicate alias \"postmaster\" ignored (first defined on line "
	    "2)|"
	    "17: bad: unbalanced quote|";
	struct aliases	 al;
	int		 rc;

	if (write_path(tmp_path("aliases"), file, sizeof(file) - 1) == -1)
		abort();
	memset(&al, 0, sizeof(al));
	al.report = alias_report;
	rc = aliases_load(&al, tmp_path("aliases"));
	CASE("aliases: load, each problem reported with its line");
	EXPECT_INT("rc", rc, 0);
	EXPECT_INT("aliases", al.n, 9);
	EXPECT_STR("problems", alias_problems, probs);
	END();

	alias_case(&al, NULL, "aliases: recursive, case-insensitive, "
	    "continuation lines, display names dropped", "Postmaster",
	    "alice@example.com|bob@example.com|carol@example.com|"
	    "ops@example.com");
	alias_case(&al, NULL, "aliases: local domain looked up",
	    "root@vm.example.net",
	    "alice@example.com|bob@example.com|carol@example.com|"
	    "ops@example.com");
	alias_case(&al, NULL, "aliases: a foreign domain is not looked up",
	    "root@example.com", "root@example.com");
	alias_case(&al, NULL, "aliases: no alias: qualified", "nobody",
	    "nobody@example.org");
	alias_case(&al, "hostmaster@example.net", "aliases: no alias: "
	    "admin_address", "nobody", "hostmaster@example.net");
	alias_case(&al, "hostmaster@example.net", "aliases: the target of an "
	    "alias that has none goes to admin_address too", "www-data",
	    "alice@example.com|bob@example.com|carol@example.com|"
	    "ops@example.com");
	alias_case(&al, NULL, "aliases: a name in its own list is not "
	    "expanded again", "self", "self@example.org|log@example.com");
	alias_case(&al, NULL, "aliases: a loop ends at the first repeat",
	    "loopa", "loopa@example.org");
	alias_warnings[0] = '\0';
	alias_case(&al, NULL, "aliases: pipes, files, :include: skipped",
	    "pipe", "keep@example.com");
	CHECK("aliases: skipped targets are warned about",
	    strstr(alias_warnings, "target \"|/usr/bin/procmail\" "
	    "skipped") != NULL, "warnings \"%s\"", alias_warnings);
	alias_warnings[0] = '\0';
	alias_case(&al, "hostmaster@example.net", "aliases: nothing "
	    "deliverable: as if there were no alias", "onlypipe",
	    "hostmaster@example.net");
	CHECK("aliases: nothing deliverable is warned about",
	    strstr(alias_warnings, "alias \"onlypipe\" has no deliverable "
	    "target") != NULL, "warnings \"%s\"", alias_warnings);
	aliases_free(&al);

	memset(&al, 0, sizeof(al));
	CHECK("aliases: a missing file is an error with errno",
	    aliases_load(&al, tmp_path("no-such-aliases")) == -1 &&
	    errno == ENOENT, "errno %d", errno);
	aliases_free(&al);
}
