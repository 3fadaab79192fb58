/*
 * Unit tests: one function per module, one case per rule, each named
 * after the rule it checks and asserting exact bytes and return codes.
 * Files live under a private mkdtemp(3) directory removed at exit.
 * Output protocol: see unit.h.  `test/unit NAME...' runs only the groups
 * named, `test/unit -l' lists them (unit_groups[] below).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>
#define LIBBSD_OPENBSD_VIS
#include <bsd/vis.h>

#include <mbedtls/base64.h>

#include "relayq.h"
#include "client.h"
#include "drain.h"
#include "msg.h"
#include "unit.h"

void	 test_import(unsigned int *, unsigned int *);	/* unit_import.c */
void	 test_authcmd(unsigned int *, unsigned int *);	/* unit_authcmd.c */
void	 test_smargs(unsigned int *, unsigned int *);	/* unit_smargs.c */
void	 test_bs(unsigned int *, unsigned int *);	/* unit_bs.c */
void	 test_drainq(unsigned int *, unsigned int *);	/* unit_drainq.c */
void	 test_queueids(unsigned int *, unsigned int *);	/* unit_queueids.c */
void	 test_sort(unsigned int *, unsigned int *);	/* unit_sort.c */
void	 test_tls(unsigned int *, unsigned int *);	/* unit_tls.c */
void	 test_spool_limits(unsigned int *, unsigned int *); /* unit_spool.c */
void	 test_reload(unsigned int *, unsigned int *);	/* unit_reload.c */

extern char **environ;

/* --- scratch files ------------------------------------------------------- */

static char	 tmpdir[] = "/tmp/relayq-unit.XXXXXX";
static int	 tmpdir_made;
static unsigned int tmpseq;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
tmp_cleanup(void)
{
	if (tmpdir_made)
		(void)nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmpdir/NAME in a static buffer (two in turn, for link(2) and friends) */
static const char *
tmp_path(const char *name)
{
	static char	 buf[2][PATH_MAX];
	static int	 k;

	k = !k;
	(void)snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
	return buf[k];
}

static int
write_path(const char *path, const void *data, size_t len)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	if (util_writeall(fd, data, len) == -1) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

/* A fresh unlinked scratch file holding `data', open read-write at 0. */
static int
tmp_fd(const void *data, size_t len)
{
	char	 name[32];
	int	 fd;

	(void)snprintf(name, sizeof(name), "scratch.%u", tmpseq++);
	if ((fd = open(tmp_path(name), O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	(void)unlink(tmp_path(name));
	if (util_writeall(fd, data, len) == -1 || lseek(fd, 0, SEEK_SET) ==
	    -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* The whole content of `fd' (from offset 0), NUL-terminated; free it. */
static char *
slurp_fd(int fd, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;

	*lenp = 0;
	if (fstat(fd, &st) == -1 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL)
		return NULL;
	if ((n = pread(fd, buf, (size_t)st.st_size, 0)) != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

static char *
slurp_path(const char *path, size_t *lenp)
{
	char	*buf;
	int	 fd;

	*lenp = 0;
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	buf = slurp_fd(fd, lenp);
	(void)close(fd);
	return buf;
}

/* `n' copies of `c', NUL-terminated, in one of 4 static buffers in turn */
static const char *
rep(int c, size_t n)
{
	static char	 buf[4][8192];
	static int	 k;

	k = (k + 1) % 4;
	if (n >= sizeof(buf[k]))
		n = sizeof(buf[k]) - 1;
	memset(buf[k], c, n);
	buf[k][n] = '\0';
	return buf[k];
}

static int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* --- addr.c -------------------------------------------------------------- */

static void
addr_join(const struct addr_list *l, char *out, size_t outsz)
{
	size_t	 i;

	out[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			(void)strlcat(out, "|", outsz);
		(void)strlcat(out, l->v[i], outsz);
	}
}

/*
 * One case for addr_parse_list: the return code, and when it is 0 the
 * addresses kept, joined by '|'.  A failure must come with a message.
 */
static void
addr_case_n(const char *name, const char *in, size_t len, int wantrc,
    const char *want)
{
	struct addr_list	 l = { NULL, 0 };
	char			 err[256] = "", got[4096];
	int			 rc;

	rc = addr_parse_list(in, len, &l, err, sizeof(err));
	addr_join(&l, got, sizeof(got));
	CASE(name);
	EXPECT_INT("addr_parse_list", rc, wantrc);
	if (rc == -1)
		EXPECT(err[0] != '\0', "no error message with -1");
	if (want != NULL)
		EXPECT_STR("addresses", got, want);
	END();
	addr_list_free(&l);
}

static void
addr_case(const char *name, const char *in, int wantrc, const char *want)
{
	addr_case_n(name, in, strlen(in), wantrc, want);
}

static void
test_addr(void)
{
	const char *const	 locals[] = { "localhost", "VM", NULL };
	char			 buf[8300], out[ADDR_MAX + 1];
	size_t			 i;
	int			 rc;

	addr_case("addr: list split at commas", "a@x, b@y", 0, "a@x|b@y");
	addr_case("addr: display name dropped, angle address kept",
	    "Name <a@x>", 0, "a@x");
	addr_case("addr: comma inside a quoted display name",
	    "\"Doe, John\" <j@x>, k@y", 0, "j@x|k@y");
	addr_case("addr: comment dropped", "root (Cron Daemon)", 0, "root");
	addr_case("addr: nested comment with a comma dropped",
	    "a@x (Cron, (the) daemon), b@y", 0, "a@x|b@y");
	addr_case("addr: empty group gives no address",
	    "undisclosed-recipients:;", 0, "");
	addr_case("addr: group members kept, group name dropped",
	    "Group: a@x, Name <b@y>;, c@z", 0, "a@x|b@y|c@z");
	addr_case("addr: trailing and doubled commas ignored", "a@x,, b@y, ",
	    0, "a@x|b@y");
	addr_case("addr: obsolete source route dropped", "<@route,@r2:u@x>",
	    0, "u@x");
	addr_case("addr: quoted local part kept verbatim",
	    "\"john doe\"@x, Name <\"a b\"@y>", 0,
	    "\"john doe\"@x|\"a b\"@y");
	addr_case("addr: escaped quote in a quoted local part kept verbatim",
	    "\"a\\\"b\"@x", 0, "\"a\\\"b\"@x");
	addr_case("addr: duplicates removed", "a@x, b@y, a@x, Name <b@y>", 0,
	    "a@x|b@y");
	addr_case("addr: unbalanced quote rejected", "\"a@x, b@y", -1, NULL);
	addr_case("addr: unbalanced parenthesis rejected", "a@x (comment", -1,
	    NULL);
	addr_case("addr: unbalanced closing parenthesis rejected", "a@x)", -1,
	    NULL);
	addr_case("addr: unbalanced '<' rejected", "Name <a@x", -1, NULL);
	addr_case("addr: stray '>' rejected", "a@x>", -1, NULL);
	addr_case("addr: two angle addresses in one mailbox rejected",
	    "<a@x> <b@y>", -1, NULL);
	addr_case("addr: LF escaped in a quoted string rejected",
	    "\"a\\\nb\" <x@y>", -1, NULL);
	addr_case("addr: CR escaped in a comment rejected",
	    "x@y (a\\\rb)", -1, NULL);
	addr_case("addr: CR or LF in a list rejected (header injection)",
	    "a@x,\r\n b@y", -1, NULL);
	addr_case("addr: bare LF in a list rejected", "a@x\nBcc: evil@y", -1,
	    NULL);
	addr_case_n("addr: NUL in a list rejected", "a@x\0b@y", 7, -1, NULL);

	/* ADDR_MAX octets is the limit of an address */
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 2));
	addr_case("addr: address of ADDR_MAX octets accepted", buf, 0, buf);
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 1));
	addr_case("addr: address of ADDR_MAX+1 octets rejected", buf, -1, NULL);
	(void)snprintf(buf, sizeof(buf), "b@y, %s@x", rep('a', 1000));
	addr_case("addr: over-long address rejected, no overflow", buf, -1,
	    NULL);
	(void)snprintf(buf, sizeof(buf), "Name <%s@x>", rep('a', 1000));
	addr_case("addr: over-long angle address rejected", buf, -1, NULL);
	(void)snprintf(buf, sizeof(buf), "%s <a@x>", rep('N', 600));
	addr_case("addr: long display name with a short address accepted", buf,
	    0, "a@x");

	CASE("addr: valid accepts envelope-safe addresses");
	EXPECT(addr_valid("a@x"), "a@x rejected");
	EXPECT(addr_valid("\"a b\"@x"), "quoted space rejected");
	EXPECT(addr_valid("\"a\\\"b\"@x"), "quoted escaped quote rejected");
	EXPECT(addr_valid("caf\xc3\xa9@x"), "UTF-8 local part rejected");
	EXPECT(addr_valid("root"), "bare name rejected");
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 2));
	EXPECT(addr_valid(buf), "ADDR_MAX octets rejected");
	END();

	CASE("addr: valid rejects empty, long, spaces, brackets, controls");
	EXPECT(!addr_valid(""), "empty accepted");
	(void)snprintf(buf, sizeof(buf), "%s@x", rep('a', ADDR_MAX - 1));
	EXPECT(!addr_valid(buf), "ADDR_MAX+1 octets accepted");
	EXPECT(!addr_valid("a b@x"), "unquoted space accepted");
	EXPECT(!addr_valid("<a@x>"), "angle brackets accepted");
	EXPECT(!addr_valid("a,b@x"), "comma accepted");
	EXPECT(!addr_valid("a@x\r\nRCPT TO:<b@y>"), "CRLF accepted");
	EXPECT(!addr_valid("a\x01@x"), "control character accepted");
	EXPECT(!addr_valid("a\x7f@x"), "DEL accepted");
	EXPECT(!addr_valid("\"a@x"), "unbalanced quote accepted");
	EXPECT(!addr_valid("\"a\nb\"@x"), "LF inside quotes accepted");
	END();

	CASE("addr: valid rejects a control character escaped inside quotes");
	EXPECT(!addr_valid("\"a\\\x01\"@x"), "\"a\\<0x01>\"@x accepted");
	EXPECT(!addr_valid("\"a\\\n\"@x"), "\"a\\<LF>\"@x accepted");
	EXPECT(!addr_valid("\"a\\\r\"@x"), "\"a\\<CR>\"@x accepted");
	END();

	CASE("addr: is_local for bare names and local domains");
	EXPECT_INT("root", addr_is_local("root", locals), 1);
	EXPECT_INT("root@localhost", addr_is_local("root@localhost", locals),
	    1);
	EXPECT_INT("x@vm (case)", addr_is_local("x@vm", locals), 1);
	EXPECT_INT("a@other", addr_is_local("a@other", locals), 0);
	EXPECT_INT("a@localhost.other", addr_is_local("a@localhost.other",
	    locals), 0);
	EXPECT_INT("\"a@localhost\"@other",
	    addr_is_local("\"a@localhost\"@other", locals), 0);
	EXPECT_INT("NULL locals: a@localhost", addr_is_local("a@localhost",
	    NULL), 0);
	EXPECT_INT("NULL locals: root", addr_is_local("root", NULL), 1);
	END();

	{
		static const struct {
			const char	*in, *want;
		} q[] = {
			{ "root", "root@example.org" },
			{ "root@localhost", "root@example.org" },
			{ "x@VM", "x@example.org" },
			{ "x@vm", "x@example.org" },
			{ "a@other", "a@other" },
			{ "\"a@b\"@localhost", "\"a@b\"@example.org" },
			{ "\"a@b\"", "\"a@b\"@example.org" },
			{ "\"a@b\"@other", "\"a@b\"@other" },
		};

		CASE("addr: qualify bare names and local domains, keep others");
		for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			memset(out, 'Z', sizeof(out));
			rc = addr_qualify(q[i].in, "example.org", locals, out,
			    sizeof(out));
			EXPECT_INT(q[i].in, rc, 0);
			EXPECT_STR(q[i].in, rc == 0 ? out : "(failed)",
			    q[i].want);
		}
		END();
	}

	CASE("addr: qualify fails when the result does not fit");
	EXPECT_INT("out of 8 bytes", addr_qualify("root", "example.org",
	    locals, out, 8), -1);
	EXPECT_INT("foreign copy into 4 bytes", addr_qualify("a@other",
	    "example.org", locals, out, 4), -1);
	(void)snprintf(buf, sizeof(buf), "%s", rep('r', ADDR_MAX - 5));
	EXPECT_INT("over ADDR_MAX", addr_qualify(buf, "example.org", locals,
	    out, sizeof(out)), -1);
	END();
}

/* --- util.c -------------------------------------------------------------- */

/* hostile server text; a literal with its NULs */
#define LIT(s)	{ s, sizeof(s) - 1 }
static const struct {
	const char	*s;
	size_t		 len;
} hostile[] = {
	LIT("a\x01\tb\n\r\x1b[0m\\"),
	LIT("\xc3\xa9\x7f\x80\xff z"),
	LIT("x\0" "1y\0"),
	LIT("\\\\^A\\M-a\\001"),
	LIT("\r\n.\r\nQUIT\r\n"),
};
#undef LIT

/* Printable ASCII only, and unvis(3) gives the input back. */
static void
sanitise_roundtrip(const char *in, size_t len)
{
	char	 out[512], back[512], shown[128];
	size_t	 i;
	int	 n;

	unit_escape(shown, sizeof(shown), in, len);
	util_sanitise(out, sizeof(out), in, len);
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] > 0x7e) {
			EXPECT(0, "\"%s\": raw byte 0x%02x in the output", shown,
			    (unsigned char)out[i]);
			return;
		}
	n = strunvis(back, out);
	EXPECT(n == (int)len && memcmp(back, in, len) == 0,
	    "\"%s\" sanitised to \"%s\" does not decode back", shown, out);
}

/*
 * Truncated to `sz': a prefix of the whole sanitised text that ends
 * between two escapes, so what follows it in the whole text decodes to
 * the rest of the input.  (A dangling '\\' would eat a closing quote.)
 */
static void
sanitise_prefix(const char *in, size_t len, size_t sz)
{
	char	 out[64], whole[512], back[512], shown[128];
	size_t	 ol;
	int	 n, m;

	unit_escape(shown, sizeof(shown), in, len);
	memset(out, 'Q', sizeof(out));
	util_sanitise(out, sz, in, len);
	util_sanitise(whole, sizeof(whole), in, len);
	if (memchr(out, '\0', sz) == NULL) {
		EXPECT(0, "\"%s\" into %zu bytes: not NUL-terminated", shown,
		    sz);
		return;
	}
	ol = strlen(out);
	n = strunvis(back, out);
	if (strncmp(whole, out, ol) != 0 || n < 0 || (size_t)n > len ||
	    memcmp(back, in, (size_t)n) != 0) {
		EXPECT(0, "\"%s\" into %zu bytes: \"%s\" is not a prefix of "
		    "\"%s\"", shown, sz, out, whole);
		return;
	}
	m = strunvis(back, whole + ol);
	EXPECT(m == (int)(len - (size_t)n) && memcmp(back, in + n, (size_t)m)
	    == 0, "\"%s\" into %zu bytes: \"%s\" cuts an escape of \"%s\"",
	    shown, sz, out, whole);
}

static void
test_util(void)
{
	static const struct {
		const char	*in;
		time_t		 want;
	} good[] = {
		{ "90", 90 }, { "90s", 90 }, { "5m", 300 }, { "1h", 3600 },
		{ "5d", 432000 }, { "3660d", 3660LL * 86400 },
	};
	static const char *const bad[] = {
		"", "m", "s", "-1", "-5m", "99999d", "3661d", "5x", "5 m",
		"1.5h", "5mm", "0x10", "99999999999999999999999999999999",
	};
	char	 dst[256], small[16];
	time_t	 t;
	size_t	 i, j;

	CASE("util: durations in seconds, m, h, d");
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		t = -7;
		EXPECT_INT(good[i].in, util_duration(good[i].in, &t), 0);
		EXPECT_INT(good[i].in, t, good[i].want);
	}
	END();

	CASE("util: bad or over 10 year durations rejected, out untouched");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t = -7;
		EXPECT_INT(bad[i], util_duration(bad[i], &t), -1);
		EXPECT_INT(bad[i], t, -7);
	}
	END();

	CASE("util: sanitise leaves printable text as it is");
	util_sanitise(dst, sizeof(dst), "250 2.0.0 Ok: queued as <ABC> ~!", 32);
	EXPECT_STR("sanitised", dst, "250 2.0.0 Ok: queued as <ABC> ~!");
	END();

	CASE("util: sanitise escapes controls, 8-bit, DEL, backslash "
	    "reversibly");
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		sanitise_roundtrip(hostile[i].s, hostile[i].len);
	END();

	CASE("util: sanitise truncates to the buffer, always NUL-terminated");
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 8, "abcdefghijklmnop", 16);
	EXPECT_MEM("8-byte buffer", small, 9, "abcdefg\0Q", 9);
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 1, "abc", 3);
	EXPECT_MEM("1-byte buffer", small, 2, "\0Q", 2);
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 0, "abc", 3);
	EXPECT(small[0] == 'Q', "0-byte buffer written");
	memset(small, 'Q', sizeof(small));
	util_sanitise(small, 6, "\x01\x01\x01\x01", 4);
	EXPECT(memchr(small, '\0', 6) != NULL, "not NUL-terminated");
	END();

	CASE("util: sanitise truncation never leaves half an escape");
	for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		for (j = 1; j < 40; j++)
			sanitise_prefix(hostile[i].s, hostile[i].len, j);
	END();

	{
		char	*tz = getenv("TZ") != NULL ? strdup(getenv("TZ")) : NULL;

		(void)setenv("TZ", "IST-5:30", 1);
		tzset();
		util_rfc5322_date(dst, sizeof(dst), 31536000);
		CASE("util: RFC 5322 date in local time with a numeric zone");
		EXPECT_STR("date", dst, "Fri, 01 Jan 1971 05:30:00 +0530");
		END();
		if (tz != NULL)
			(void)setenv("TZ", tz, 1);
		else
			(void)unsetenv("TZ");
		tzset();
		free(tz);
	}

	{
		int	 p[2];

		CASE("util: writeall reports a failed write");
		if (pipe(p) == -1)
			EXPECT(0, "pipe: %s", strerror(errno));
		else {
			(void)close(p[0]);
			errno = 0;
			EXPECT_INT("to a pipe nobody reads", util_writeall(p[1],
			    "abc", 3), -1);
			EXPECT_INT("errno", errno, EPIPE);
			(void)close(p[1]);
		}
		END();
	}

	CASE("util: fsync_dir on a directory, -1 on a missing one");
	EXPECT_INT("tmpdir", util_fsync_dir(tmpdir), 0);
	EXPECT_INT("missing", util_fsync_dir(tmp_path("no-such-dir")), -1);
	END();
}

/* --- conf.c -------------------------------------------------------------- */

static char	 conf_path[PATH_MAX];

/* Write `text' as the config file and load it; err gets the message. */
static int
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
static void
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

static void
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
	EXPECT_INT("nhost", c.nhost, 2);
	EXPECT_STR("host[0].name", c.host[0].name, "mail.example.net");
	EXPECT_STR("host[0].port", c.host[0].port, "587");
	EXPECT_INT("host[0].tls", c.host[0].tls, TLS_IMPLICIT);
	EXPECT_STR("host[1].name", c.host[1].name, "::1");
	EXPECT_STR("host[1].port", c.host[1].port, "2525");
	EXPECT_INT("tls", c.tls, TLS_IMPLICIT);
	EXPECT_INT("tls_set", c.tls_set, 1);
	EXPECT_STR("tls_ca_file", c.tls_ca_file, "/etc/ssl/ca.pem");
	EXPECT_INT("tls_min_version", c.tls_min_version, 3);
	EXPECT_STR("auth_user", c.auth_user, "relay@example.org");
	EXPECT_STR("auth_password_file", c.auth_password_file,
	    "/etc/relayq/secret");
	EXPECT_STR("helo_name", c.helo_name, "client.example.org");
	EXPECT_STR("domain", c.domain, "example.org");
	EXPECT_STR("spool", c.spool, "/var/tmp/spool");
	EXPECT_STR("log", c.log, "stderr");
	EXPECT_INT("max_message_size", c.max_message_size, 10LL * 1024 * 1024);
	EXPECT_INT("queue_lifetime", c.queue_lifetime, 2 * 86400);
	EXPECT_INT("retry_min", c.retry_min, 30);
	EXPECT_INT("retry_max", c.retry_max, 7200);
	EXPECT_INT("timeout_connect", c.timeout_connect, 10);
	EXPECT_INT("timeout_command", c.timeout_command, 120);
	EXPECT_INT("timeout_data", c.timeout_data, 300);
	EXPECT_INT("add_received", c.add_received, 0);
	END();
	conf_free(&c);

	rc = conf_try(&c, "", 0, err, sizeof(err));
	CASE("conf: defaults from an empty file");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("nhost", c.nhost, 0);
	EXPECT_INT("tls", c.tls, TLS_STARTTLS);
	EXPECT_INT("tls_min_version", c.tls_min_version, 2);
	EXPECT_INT("max_message_size", c.max_message_size, 50LL * 1024 * 1024);
	EXPECT_INT("queue_lifetime", c.queue_lifetime, 5 * 86400);
	EXPECT_INT("retry_min", c.retry_min, 60);
	EXPECT_INT("retry_max", c.retry_max, 3600);
	EXPECT_INT("timeout_connect", c.timeout_connect, 30);
	EXPECT_INT("add_received", c.add_received, 1);
	EXPECT_STR("spool", c.spool, SPOOLDIR);
	EXPECT(c.auth_user == NULL && c.domain == NULL, "strings set");
	END();
	conf_free(&c);

	rc = conf_try(&c, "\n   \n# comment only\n\t\n"
	    "\tsmarthost\thost.example   # trailing comment\r\n"
	    "  domain   example.org  \n", 0, err, sizeof(err));
	CASE("conf: comments, blank lines, tabs, trailing spaces and CRLF");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("nhost", c.nhost, 1);
	EXPECT_STR("host[0].name", c.host[0].name, "host.example");
	EXPECT_STR("host[0].port", c.host[0].port, "587");
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
	EXPECT_INT("nhost", c.nhost, 3);
	EXPECT_STR("host[0].name", c.host[0].name, "::1");
	EXPECT_STR("host[0].port", c.host[0].port, "2525");
	EXPECT_STR("host[1].name", c.host[1].name, "192.0.2.1");
	EXPECT_STR("host[1].port", c.host[1].port, "587");
	EXPECT_STR("host[2].name", c.host[2].name, "2001:db8::25");
	EXPECT_STR("host[2].port", c.host[2].port, "587");
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost smtp.example:465\nsmarthost "
	    "smtp2.example\nsmarthost smtp3.example:587\n", 0, err,
	    sizeof(err));
	CASE("conf: port 465 gives implicit TLS by default, others STARTTLS");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("host[0].tls (465)", c.host[0].tls, TLS_IMPLICIT);
	EXPECT_INT("host[1].tls (587)", c.host[1].tls, TLS_STARTTLS);
	EXPECT_INT("host[2].tls (587)", c.host[2].tls, TLS_STARTTLS);
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost smtp.example:465\ntls starttls\n", 0,
	    err, sizeof(err));
	CASE("conf: explicit tls starttls wins over port 465");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("host[0].tls", c.host[0].tls, TLS_STARTTLS);
	END();
	conf_free(&c);

	rc = conf_try(&c, "smarthost h.example:00000000587\n", 0, err,
	    sizeof(err));
	CASE("conf: a port is stored whole or rejected, never truncated");
	EXPECT(rc == -1 || strcmp(c.host[0].port, "587") == 0,
	    "conf_load returned %d with port \"%s\" for \"00000000587\"", rc,
	    c.nhost > 0 ? c.host[0].port : "");
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
	EXPECT_INT("nhost", c.nhost, 0);
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
	EXPECT_INT("nhost", c.nhost, 2);
	EXPECT_STR("host[0].name", c.host[0].name, "env1.example");
	EXPECT_STR("host[0].port", c.host[0].port, "465");
	EXPECT_INT("host[0].tls", c.host[0].tls, TLS_IMPLICIT);
	EXPECT_STR("host[1].name", c.host[1].name, "::1");
	EXPECT_STR("host[1].port", c.host[1].port, "25");
	EXPECT_INT("retry_min", c.retry_min, 300);
	EXPECT_STR("domain", c.domain, "env.example");
	END();
	conf_free(&c);
	rc = conf_try(&c, "smarthost file.example\nretry_min 2m\n", 0, err,
	    sizeof(err));
	CASE("conf: environment ignored when use_env is 0 (setgid front end)");
	EXPECT_INT("conf_load", rc, 0);
	EXPECT_INT("nhost", c.nhost, 1);
	EXPECT_STR("host[0].name", c.host[0].name, "file.example");
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
	EXPECT_INT("host[0].tls", c.host[0].tls, TLS_OFF);
	END();
	conf_free(&c);
}

/* --- spool.c ------------------------------------------------------------- */

static const char spool_env_ok[] =
    "RELAYQ 1\n"
    "I 0123456789ABCDEF\n"
    "T 1700000000\n"
    "U 1000 alice\n"
    "S alice@example.org\n"
    "R bob@example.net\n"
    "O bob\n"
    "R carol@example.net\n"
    "M\n";
static const char spool_data_ok[] = "Subject: t\r\n\r\nhi\r\n..dot\r\n";

static void
env_bad(const char *name, const char *env)
{
	struct qmsg	 m;
	char		 err[256] = "";
	int		 rc;

	memset(&m, 0xa5, sizeof(m));
	rc = spool_parse_envelope(env, strlen(env), &m, err, sizeof(err));
	CASE(name);
	EXPECT_INT("spool_parse_envelope", rc, -1);
	EXPECT(err[0] != '\0', "no error message");
	EXPECT(m.nrcpt == 0 && m.rcpt == NULL && m.sender == NULL &&
	    m.user == NULL && m.fd == -1, "message not cleaned up");
	END();
	if (rc == 0)
		spool_free_msg(&m);
}

static void
trailer_case(const char *name, const char *t, int wantrc, off_t wantlen,
    int want8)
{
	struct qmsg	 m;
	int		 rc;

	memset(&m, 0, sizeof(m));
	m.datalen = -5;
	m.eightbit = -5;
	rc = spool_check_trailer(t, strlen(t), &m);
	CASE(name);
	EXPECT_INT("spool_check_trailer", rc, wantrc);
	if (wantrc != -1) {
		EXPECT_INT("datalen", m.datalen, wantlen);
		EXPECT_INT("eightbit", m.eightbit, want8);
	}
	END();
}

static void
data_case(const char *name, const char *d, size_t len, int wantrc)
{
	char	 err[128] = "", *buf;
	int	 fd, rc;

	/* a prefix, so the offset is honoured */
	if ((buf = malloc(len + 5)) == NULL)
		abort();
	memcpy(buf, "XXXX\n", 5);
	memcpy(buf + 5, d, len);
	fd = tmp_fd(buf, len + 5);
	free(buf);
	rc = spool_check_data(fd, 5, (off_t)len, err, sizeof(err));
	CASE(name);
	EXPECT_INT("spool_check_data", rc, wantrc);
	if (rc == -1)
		EXPECT(err[0] != '\0', "no error message");
	END();
	(void)close(fd);
}

/* A queue file in dir qdir: envelope, data, trailer. */
static int
qfile(const char *name, const char *env, const char *data, size_t dlen,
    const char *trailer)
{
	char	 path[PATH_MAX], *buf;
	size_t	 el = strlen(env), tl = strlen(trailer);
	int	 rc;

	(void)snprintf(path, sizeof(path), "%s/q/%s", tmpdir, name);
	if ((buf = malloc(el + dlen + tl)) == NULL)
		abort();
	memcpy(buf, env, el);
	memcpy(buf + el, data, dlen);
	memcpy(buf + el + dlen, trailer, tl);
	rc = write_path(path, buf, el + dlen + tl);
	free(buf);
	return rc;
}

static void
open_bad(const char *name, int qfd, const char *file)
{
	struct qmsg	 m;
	char		 err[256] = "";
	int		 rc;

	memset(&m, 0, sizeof(m));
	m.fd = -1;
	CASE(name);
	(void)alarm(5);		/* a FIFO must not block */
	rc = spool_open_msg(qfd, file, &m, err, sizeof(err));
	(void)alarm(60);
	EXPECT_INT("spool_open_msg", rc, -1);
	EXPECT(err[0] != '\0', "no error message");
	EXPECT(m.fd == -1 && m.rcpt == NULL, "message not cleaned up");
	END();
	if (rc == 0)
		spool_free_msg(&m);
}

/* A hand-built queue message with `n' recipients, all pending. */
static void
qmsg_build(struct qmsg *m, const char *sender, const char *const *rcpt,
    size_t n)
{
	size_t	 i;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	(void)strlcpy(m->id, "0123456789ABCDEF", sizeof(m->id));
	if ((m->sender = strdup(sender)) == NULL ||
	    (m->rcpt = calloc(n, sizeof(*m->rcpt))) == NULL)
		abort();
	m->nrcpt = n;
	for (i = 0; i < n; i++) {
		if ((m->rcpt[i].addr = strdup(rcpt[i])) == NULL)
			abort();
		m->rcpt[i].status = RCPT_PENDING;
	}
}

static void
state_bad(const char *name, const char *text)
{
	static const char *const r2[] = { "a@x", "b@y" };
	struct qmsg	 m;

	qmsg_build(&m, "s@x", r2, 2);
	CHECK(name, spool_parse_state(text, strlen(text), &m) == -1,
	    "spool_parse_state accepted \"%s\"", text);
	spool_free_msg(&m);
}

static void
test_spool(void)
{
	static const struct {
		time_t	 sec;
		long	 nsec;
		pid_t	 pid;
	} ts[] = {
		{ 0, 0, 1 },
		{ 0, 1000, 1 },
		{ 1, 0, 4194304 },
		{ 1, 999999000, 99999 },
		{ 2, 0, 1 },
		{ 1700000000, 0, 30000 },
		{ 1700000000, 1000, 2 },
		{ 1700000000, 31000, 1 },
		{ 1700000000, 32000, 1 },
		{ 1700000001, 0, 1 },
		{ 1700000031, 0, 1 },
		{ 1700000032, 0, 1 },
		{ 4102444800, 0, 77 },		/* 2100 */
		{ 32503680000LL, 0, 1 },	/* 3000 */
	};
	static const char *const r4[] = { "a@x", "b@y", "c@z", "d@w" };
	char		 ids[sizeof(ts) / sizeof(ts[0])][SPOOL_IDLEN + 1];
	char		 err[256], env[2048], path[PATH_MAX], big[70100];
	char		*buf;
	struct timespec	 t;
	struct qmsg	 m, m2;
	struct stat	 st;
	size_t		 i, j, len;
	int		 rc, qfd, sfd, fd;

	CASE("spool: queue id is 16 base32hex characters");
	for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
		t.tv_sec = ts[i].sec;
		t.tv_nsec = ts[i].nsec;
		memset(ids[i], 'x', sizeof(ids[i]));
		spool_make_id(ids[i], &t, ts[i].pid);
		EXPECT(memchr(ids[i], '\0', sizeof(ids[i])) != NULL &&
		    strlen(ids[i]) == SPOOL_IDLEN, "id %zu has length %zu", i,
		    strnlen(ids[i], sizeof(ids[i])));
		for (j = 0; j < SPOOL_IDLEN; j++)
			EXPECT(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUV",
			    ids[i][j]) != NULL && ids[i][j] != '\0',
			    "id \"%.16s\": bad character", ids[i]);
		EXPECT(spool_id_ok(ids[i]), "spool_id_ok(\"%s\") = 0", ids[i]);
	}
	END();

	CASE("spool: queue ids sort by time as strings");
	for (i = 0; i + 1 < sizeof(ts) / sizeof(ts[0]); i++)
		EXPECT(strcmp(ids[i], ids[i + 1]) < 0, "\"%s\" (%lld.%06ld) "
		    "does not sort before \"%s\" (%lld.%06ld)", ids[i],
		    (long long)ts[i].sec, ts[i].nsec / 1000, ids[i + 1],
		    (long long)ts[i + 1].sec, ts[i + 1].nsec / 1000);
	END();

	CASE("spool: id_ok rejects other alphabets and lengths");
	EXPECT(!spool_id_ok("0123456789abcdef"), "lower case accepted");
	EXPECT(!spool_id_ok("0123456789ABCDEW"), "'W' accepted");
	EXPECT(!spool_id_ok("0123456789ABCDE"), "15 characters accepted");
	EXPECT(!spool_id_ok("0123456789ABCDEF0"), "17 characters accepted");
	EXPECT(!spool_id_ok("../../etc/passwd"), "path accepted");
	EXPECT(!spool_id_ok(""), "empty accepted");
	END();

	(void)snprintf(env, sizeof(env), "%s%s", spool_env_ok, spool_data_ok);
	memset(&m, 0, sizeof(m));
	rc = spool_parse_envelope(env, strlen(env), &m, err, sizeof(err));
	CASE("spool: valid envelope parsed");
	EXPECT_INT("spool_parse_envelope", rc, 0);
	if (rc == 0) {
		EXPECT_STR("id", m.id, "0123456789ABCDEF");
		EXPECT_INT("arrival", m.arrival, 1700000000);
		EXPECT_INT("uid", m.uid, 1000);
		EXPECT_STR("user", m.user, "alice");
		EXPECT_STR("sender", m.sender, "alice@example.org");
		EXPECT_INT("nrcpt", m.nrcpt, 2);
		EXPECT_STR("rcpt[0]", m.rcpt[0].addr, "bob@example.net");
		EXPECT_STR("orig[0]", m.rcpt[0].orig, "bob");
		EXPECT_STR("rcpt[1]", m.rcpt[1].addr, "carol@example.net");
		EXPECT(m.rcpt[1].orig == NULL, "orig[1] set");
		EXPECT_INT("status", m.rcpt[0].status, RCPT_PENDING);
		EXPECT_INT("dataoff", m.dataoff, strlen(spool_env_ok));
		EXPECT_INT("fd", m.fd, -1);
	}
	END();
	spool_free_msg(&m);

	(void)strlcpy(env, "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS \n"
	    "R a@x\nM\n", sizeof(env));
	rc = spool_parse_envelope(env, strlen(env), &m, err, sizeof(err));
	CASE("spool: empty S record is the null sender");
	EXPECT_INT("spool_parse_envelope", rc, 0);
	EXPECT_STR("sender", rc == 0 ? m.sender : NULL, "");
	END();
	spool_free_msg(&m);

	env_bad("spool: envelope without the RELAYQ 1 line rejected",
	    "I 0123456789ABCDEF\nT 1\nU 0 root\nS \nR a@x\nM\n");
	env_bad("spool: envelope of another version rejected",
	    "RELAYQ 2\nI 0123456789ABCDEF\nT 1\nU 0 root\nS \nR a@x\nM\n");
	env_bad("spool: records out of order rejected",
	    "RELAYQ 1\nT 1\nI 0123456789ABCDEF\nU 0 root\nS \nR a@x\nM\n");
	env_bad("spool: R before S rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nR a@x\nS \nM\n");
	env_bad("spool: envelope without R rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS a@x\nM\nbody\r\n");
	env_bad("spool: value with CR rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS a@x\r\nR b@y\nM\n");
	env_bad("spool: O without R rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS a@x\nO b\nR b@y\n"
	    "M\n");
	env_bad("spool: two O for one R rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS a@x\nR b@y\nO b\n"
	    "O c\nM\n");
	env_bad("spool: truncated envelope (no M line) rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS a@x\nR b@y\nR c@z");
	env_bad("spool: bad queue id rejected",
	    "RELAYQ 1\nI ../../etc/passwd\nT 1\nU 0 root\nS \nR a@x\nM\n");
	env_bad("spool: unknown record rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS \nR a@x\nX y\nM\n");
	env_bad("spool: recipient with a space rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS \nR a@x b@y\nM\n");
	env_bad("spool: second S record rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 0 root\nS a@x\nS b@y\n"
	    "R a@x\nM\n");
	env_bad("spool: bad arrival time rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT soon\nU 0 root\nS \nR a@x\nM\n");
	{
		static const char nul[] = "RELAYQ 1\nI 0123456789ABCDEF\nT 1\n"
		    "U 0 root\nS a\0b@x\nR a@x\nM\n";

		memset(&m, 0, sizeof(m));
		CHECK("spool: value with NUL rejected", spool_parse_envelope(
		    nul, sizeof(nul) - 1, &m, err, sizeof(err)) == -1,
		    "accepted");
		spool_free_msg(&m);
	}

	trailer_case("spool: trailer E 12 7BIT", "data\r\nE 12 7BIT\n", 10, 12,
	    0);
	trailer_case("spool: trailer E 12 8BITMIME sets eightbit",
	    "data\r\nE 12 8BITMIME\n", 14, 12, 1);
	trailer_case("spool: trailer E 0 7BIT", "\nE 0 7BIT\n", 9, 0, 0);
	trailer_case("spool: trailer with leading zero rejected",
	    "data\r\nE 012 7BIT\n", -1, 0, 0);
	trailer_case("spool: trailer with a sign rejected",
	    "data\r\nE +12 7BIT\n", -1, 0, 0);
	trailer_case("spool: trailer without body type rejected",
	    "data\r\nE 12\n", -1, 0, 0);
	trailer_case("spool: trailer without final newline rejected",
	    "data\r\nE 12 7BIT", -1, 0, 0);
	trailer_case("spool: trailer with unknown body type rejected",
	    "data\r\nE 12 BINARYMIME\n", -1, 0, 0);
	trailer_case("spool: trailer with a negative length rejected",
	    "data\r\nE -12 7BIT\n", -1, 0, 0);
	trailer_case("spool: garbage trailer rejected", "data\r\nhello world\n",
	    -1, 0, 0);
	trailer_case("spool: trailer CRLF rejected", "data\r\nE 12 7BIT\r\n",
	    -1, 0, 0);

	/* queue files on disk */
	(void)snprintf(path, sizeof(path), "%s/q", tmpdir);
	if (mkdir(path, 0700) == -1 || (qfd = open(path, O_RDONLY |
	    O_DIRECTORY)) == -1) {
		CHECK("spool: scratch queue directory", 0, "%s: %s", path,
		    strerror(errno));
		return;
	}
	len = sizeof(spool_data_ok) - 1;
	(void)snprintf(env, sizeof(env), "E %zu 7BIT\n", len);
	(void)qfile("valid", spool_env_ok, spool_data_ok, len, env);
	err[0] = '\0';
	rc = spool_open_msg(qfd, "valid", &m, err, sizeof(err));
	CASE("spool: valid queue file accepted with dataoff and datalen");
	EXPECT_INT("spool_open_msg", rc, 0);
	EXPECT_STR("error", err, "");
	EXPECT_INT("dataoff", m.dataoff, strlen(spool_env_ok));
	EXPECT_INT("datalen", m.datalen, len);
	EXPECT_INT("eightbit", m.eightbit, 0);
	EXPECT_INT("nrcpt", m.nrcpt, 2);
	EXPECT(m.fd >= 0, "message does not own the descriptor");
	EXPECT_INT("owner", m.owner, getuid());
	if (rc == 0)
		EXPECT_INT("spool_check_data", spool_check_data(m.fd, m.dataoff,
		    m.datalen, err, sizeof(err)), 0);
	END();
	spool_free_msg(&m);

	(void)snprintf(env, sizeof(env), "E %zu 8BITMIME\n", len);
	(void)qfile("eight", spool_env_ok, spool_data_ok, len, env);
	rc = spool_open_msg(qfd, "eight", &m, err, sizeof(err));
	CASE("spool: 8BITMIME trailer marks the message eightbit");
	EXPECT_INT("spool_open_msg", rc, 0);
	EXPECT_INT("eightbit", m.eightbit, 1);
	END();
	spool_free_msg(&m);

	(void)snprintf(env, sizeof(env), "E %zu 7BIT\n", len - 1);
	(void)qfile("short", spool_env_ok, spool_data_ok, len, env);
	open_bad("spool: trailer must match file size (too small)", qfd,
	    "short");
	(void)snprintf(env, sizeof(env), "E %zu 7BIT\n", len + 1);
	(void)qfile("long", spool_env_ok, spool_data_ok, len, env);
	open_bad("spool: trailer must match file size (too large)", qfd,
	    "long");
	(void)qfile("notrailer", spool_env_ok, spool_data_ok, len, "");
	open_bad("spool: file without trailer (crash mid-write) rejected", qfd,
	    "notrailer");
	(void)qfile("empty", "", "", 0, "");
	open_bad("spool: empty file rejected", qfd, "empty");
	(void)qfile("noenv", "RELAYQ 1\nI 0123456789ABCDEF\n", spool_data_ok,
	    len, "E 27 7BIT\n");
	open_bad("spool: file with a broken envelope rejected", qfd, "noenv");

	if (symlinkat("valid", qfd, "sym") == -1)
		CHECK("spool: symlink to a queue file rejected (O_NOFOLLOW)", 0,
		    "symlink: %s", strerror(errno));
	else
		open_bad("spool: symlink to a queue file rejected (O_NOFOLLOW)",
		    qfd, "sym");
	if (linkat(qfd, "valid", qfd, "hard", 0) == -1)
		CHECK("spool: file with 2 hard links rejected", 0, "link: %s",
		    strerror(errno));
	else {
		open_bad("spool: file with 2 hard links rejected", qfd, "hard");
		open_bad("spool: the other name of a hard link rejected too",
		    qfd, "valid");
		(void)unlinkat(qfd, "hard", 0);
	}
	if (mkfifoat(qfd, "fifo", 0600) == -1)
		CHECK("spool: FIFO rejected without blocking", 0, "mkfifo: %s",
		    strerror(errno));
	else
		open_bad("spool: FIFO rejected without blocking", qfd, "fifo");
	if (mkdirat(qfd, "dir", 0700) == -1)
		CHECK("spool: directory rejected", 0, "mkdir: %s",
		    strerror(errno));
	else
		open_bad("spool: directory rejected", qfd, "dir");
	open_bad("spool: missing file rejected", qfd, "nonexistent");

	(void)snprintf(path, sizeof(path), "%s/q/valid", tmpdir);
	fd = open(path, O_RDONLY);
	rc = fd == -1 ? -2 : spool_load_fd(fd, &m, err, sizeof(err));
	if (rc == 0)
		spool_free_msg(&m);		/* closes fd */
	else if (fd != -1)
		(void)close(fd);
	(void)snprintf(path, sizeof(path), "%s/q/short", tmpdir);
	fd = open(path, O_RDONLY);
	rc = fd == -1 ? -2 : spool_load_fd(fd, &m, err, sizeof(err));
	CASE("spool: load_fd failure leaves the descriptor to the caller");
	EXPECT_INT("spool_load_fd", rc, -1);
	EXPECT(fd >= 0 && fcntl(fd, F_GETFD) != -1, "descriptor closed");
	EXPECT_INT("m.fd", m.fd, -1);
	END();
	if (fd >= 0)
		(void)close(fd);

	data_case("spool: data with CRLF-only lines accepted",
	    "a\r\nb\r\n\r\n", 8, 0);
	data_case("spool: bare LF in data rejected", "a\nb\r\n", 5, -1);
	data_case("spool: bare CR in data rejected", "a\rb\r\n", 5, -1);
	data_case("spool: CR CR LF in data rejected", "a\r\r\n", 4, -1);
	data_case("spool: lone dot line in data rejected",
	    "a\r\n.\r\nMAIL FROM:<x>\r\n", 22, -1);
	data_case("spool: lone dot as the first line rejected", ".\r\nb\r\n",
	    6, -1);
	data_case("spool: dot-stuffed lines accepted", "..\r\n.x\r\n...\r\n",
	    13, 0);
	data_case("spool: data without final CRLF rejected", "a\r\nb", 4, -1);
	data_case("spool: data ending in CR rejected", "a\r\nb\r", 5, -1);
	data_case("spool: NUL in data rejected", "a\0b\r\n", 5, -1);
	data_case("spool: empty data rejected", "", 0, -1);
	/* the state must carry across read(2) chunks of 65536 */
	memset(big, 'x', sizeof(big));
	big[65534] = '\r';
	big[65535] = '\n';
	big[65536] = '.';
	big[65537] = '\r';
	big[65538] = '\n';
	big[sizeof(big) - 2] = '\r';
	big[sizeof(big) - 1] = '\n';
	data_case("spool: lone dot right after a 64K chunk rejected", big,
	    sizeof(big), -1);
	big[65536] = 'y';
	big[65535] = '\r';
	big[65536] = '\n';
	big[65534] = 'x';
	data_case("spool: CRLF split across 64K chunks accepted", big,
	    sizeof(big), 0);

	/* state files */
	(void)snprintf(path, sizeof(path), "%s/state", tmpdir);
	if (mkdir(path, 0700) == -1 || (sfd = open(path, O_RDONLY |
	    O_DIRECTORY)) == -1) {
		CHECK("spool: scratch state directory", 0, "%s: %s", path,
		    strerror(errno));
		(void)close(qfd);
		return;
	}
	qmsg_build(&m, "s@x", r4, 4);
	m.attempts = 3;
	m.next_try = 1700000600;
	m.last_try = 1700000000;
	m.rcpt[0].status = RCPT_SENT;
	(void)strlcpy(m.rcpt[0].dsn, "2.0.0", sizeof(m.rcpt[0].dsn));
	(void)strlcpy(m.rcpt[0].reply, "250 2.0.0 Ok: queued as X",
	    sizeof(m.rcpt[0].reply));
	m.rcpt[1].status = RCPT_DEFER;
	(void)strlcpy(m.rcpt[1].dsn, "4.2.0", sizeof(m.rcpt[1].dsn));
	(void)strlcpy(m.rcpt[1].reply, "host mx.test[192.0.2.1]:587 said: "
	    "450 4.2.0 busy", sizeof(m.rcpt[1].reply));
	m.rcpt[2].status = RCPT_FAIL;
	(void)strlcpy(m.rcpt[2].reply, "local error", sizeof(m.rcpt[2].reply));
	rc = spool_write_state(sfd, m.id, &m);
	(void)snprintf(path, sizeof(path), "%s/state/%s", tmpdir, m.id);
	buf = slurp_path(path, &len);
	CASE("spool: state file written with exact records");
	EXPECT_INT("spool_write_state", rc, 0);
	EXPECT_BYTES("state file", buf, len,
	    "RELAYQ-STATE 1\n"
	    "A 3 1700000600 1700000000\n"
	    "R 0 sent 2.0.0 250 2.0.0 Ok: queued as X\n"
	    "R 1 deferred 4.2.0 host mx.test[192.0.2.1]:587 said: 450 4.2.0 "
	    "busy\n"
	    "R 2 failed - local error\n");
	(void)snprintf(path, sizeof(path), "%s.tmp", m.id);
	EXPECT(fstatat(sfd, path, &st, 0) == -1 && errno == ENOENT,
	    "%s left behind", path);
	END();
	free(buf);

	qmsg_build(&m2, "s@x", r4, 4);
	rc = spool_read_state(sfd, m.id, &m2);
	CASE("spool: state round trip (attempts, times, status, dsn, reply)");
	EXPECT_INT("spool_read_state", rc, 0);
	EXPECT_INT("attempts", m2.attempts, 3);
	EXPECT_INT("next_try", m2.next_try, 1700000600);
	EXPECT_INT("last_try", m2.last_try, 1700000000);
	for (i = 0; i < 4; i++) {
		EXPECT_INT(r4[i], m2.rcpt[i].status, m.rcpt[i].status);
		EXPECT_STR(r4[i], m2.rcpt[i].dsn, m.rcpt[i].dsn);
		EXPECT_STR(r4[i], m2.rcpt[i].reply, m.rcpt[i].reply);
	}
	END();
	spool_free_msg(&m2);

	m.attempts = 4;
	m.rcpt[1].status = RCPT_SENT;
	(void)strlcpy(m.rcpt[1].reply, "250 ok", sizeof(m.rcpt[1].reply));
	rc = spool_write_state(sfd, m.id, &m);
	qmsg_build(&m2, "s@x", r4, 4);
	CASE("spool: state file replaced by the next write");
	EXPECT_INT("spool_write_state", rc, 0);
	EXPECT_INT("spool_read_state", spool_read_state(sfd, m.id, &m2), 0);
	EXPECT_INT("attempts", m2.attempts, 4);
	EXPECT_INT("status[1]", m2.rcpt[1].status, RCPT_SENT);
	EXPECT_STR("reply[1]", m2.rcpt[1].reply, "250 ok");
	END();
	spool_free_msg(&m2);
	spool_free_msg(&m);

	qmsg_build(&m2, "s@x", r4, 4);
	rc = spool_read_state(sfd, "VVVVVVVVVVVVVVVV", &m2);
	CHECK("spool: missing state file means first attempt", rc == 0 &&
	    m2.attempts == 0 && m2.rcpt[0].status == RCPT_PENDING,
	    "rc %d, attempts %u", rc, m2.attempts);
	spool_free_msg(&m2);

	{
		/* 300 recipients with long replies: a state file over 64 KB */
		const char	**many;
		size_t		  nm = 300;

		if ((many = calloc(nm, sizeof(*many))) == NULL)
			abort();
		for (i = 0; i < nm; i++)
			many[i] = "r@x";
		qmsg_build(&m, "s@x", many, nm);
		qmsg_build(&m2, "s@x", many, nm);
		free(many);
		m.attempts = 2;
		for (i = 0; i < nm; i++) {
			m.rcpt[i].status = i % 2 ? RCPT_SENT : RCPT_DEFER;
			(void)strlcpy(m.rcpt[i].dsn, i % 2 ? "2.0.0" : "4.2.0",
			    sizeof(m.rcpt[i].dsn));
			(void)snprintf(m.rcpt[i].reply, sizeof(m.rcpt[i].reply),
			    "host mx.test[192.0.2.1]:587 said: 450 4.2.0 "
			    "<r%zu@x>: %s", i, rep('x', 200));
		}
		(void)strlcpy(m.id, "0000000000000300", sizeof(m.id));
		rc = spool_write_state(sfd, m.id, &m);
		CASE("spool: state of many recipients (over 64 KB) round trip");
		EXPECT_INT("spool_write_state", rc, 0);
		EXPECT_INT("spool_read_state", spool_read_state(sfd, m.id, &m2),
		    0);
		EXPECT_INT("attempts", m2.attempts, 2);
		EXPECT_INT("last status", m2.rcpt[nm - 1].status,
		    m.rcpt[nm - 1].status);
		EXPECT_STR("last reply", m2.rcpt[nm - 1].reply,
		    m.rcpt[nm - 1].reply);
		END();
		spool_free_msg(&m);
		spool_free_msg(&m2);
	}

	state_bad("spool: state of another version rejected",
	    "RELAYQ-STATE 2\nA 1 2 3\n");
	state_bad("spool: state without header rejected", "A 1 2 3\n");
	state_bad("spool: state recipient index out of range rejected",
	    "RELAYQ-STATE 1\nA 1 2 3\nR 2 sent 2.0.0 ok\n");
	state_bad("spool: state negative recipient index rejected",
	    "RELAYQ-STATE 1\nR -1 sent 2.0.0 ok\n");
	state_bad("spool: state unknown status rejected",
	    "RELAYQ-STATE 1\nR 0 bounced 5.0.0 no\n");
	state_bad("spool: state short R line rejected",
	    "RELAYQ-STATE 1\nR 0 sent\n");
	state_bad("spool: state unknown record rejected",
	    "RELAYQ-STATE 1\nX whatever\n");
	state_bad("spool: state empty line rejected", "RELAYQ-STATE 1\n\n");
	state_bad("spool: state last line without newline rejected",
	    "RELAYQ-STATE 1\nA 1 2 3\nR 0 sent 2.0.0 ok");
	(void)close(sfd);
	(void)close(qfd);
}

/* --- msg.c --------------------------------------------------------------- */

#define BIGSZ	20000	/* two rep() results and some text */

/* msg_in_line over `in': each piece, then '$' (MSGIN_LINE) or '+' (MSGIN_MORE) */
static void
in_pieces(struct msg_in *in, size_t cap, char *out, size_t outsz)
{
	int	 r, n = 0;

	out[0] = '\0';
	while ((r = msg_in_line(in, cap)) != MSGIN_EOF && n++ < 1000) {
		if (in->seglen + strlen(out) + 2 >= outsz)
			break;
		(void)strncat(out, in->seg, in->seglen);
		(void)strlcat(out, r == MSGIN_LINE ? "$" : r == MSGIN_MORE ? "+" :
		    "?", outsz);
	}
}

struct in_result {
	char		 pieces[4096];
	unsigned long	 nuls, barecr;
	int		 eightbit, again;
};

static void
in_run(const char *data, size_t len, int iflag, int crspace, size_t cap,
    struct in_result *res)
{
	struct msg_in	*in;
	int		 fd;

	if ((in = malloc(sizeof(*in))) == NULL || (fd = tmp_fd(data, len)) ==
	    -1)
		abort();
	msg_in_init(in, fd, iflag);
	in->crspace = crspace;
	in_pieces(in, cap, res->pieces, sizeof(res->pieces));
	res->nuls = in->nuls;
	res->barecr = in->barecr;
	res->eightbit = in->eightbit;
	res->again = msg_in_line(in, cap);	/* EOF stays EOF */
	(void)close(fd);
	free(in);
}

static void
in_case(const char *name, const char *data, size_t len, int iflag,
    int crspace, size_t cap, const char *want, unsigned long barecr,
    unsigned long nuls)
{
	struct in_result	 res;

	in_run(data, len, iflag, crspace, cap, &res);
	CASE(name);
	EXPECT_STR("pieces", res.pieces, want);
	EXPECT_INT("barecr", res.barecr, barecr);
	EXPECT_INT("nuls", res.nuls, nuls);
	EXPECT_INT("after EOF", res.again, MSGIN_EOF);
	END();
}

struct msg_result {
	int		 rc;
	char		*out;
	size_t		 outlen;
	unsigned long	 folded, nuls, barecr;
	int		 eightbit;
};

/* The submission path: read header, write header and body to a file. */
static void
msg_run(const char *data, size_t len, int iflag, long long max,
    char *const *top, char *const *bottom, struct msg_result *res)
{
	struct msg_in	*in;
	struct msg_out	*o;
	struct msg	 m;
	int		 ifd, ofd;

	if ((in = malloc(sizeof(*in))) == NULL ||
	    (o = malloc(sizeof(*o))) == NULL ||
	    (ifd = tmp_fd(data, len)) == -1 || (ofd = tmp_fd("", 0)) == -1)
		abort();
	memset(&m, 0, sizeof(m));
	msg_in_init(in, ifd, iflag);
	msg_out_init(o, ofd, max);
	res->rc = msg_read_header(&m, in);
	if (res->rc == 0)
		res->rc = msg_write_header(&m, o, top, bottom, &in->folded);
	if (res->rc == 0)
		res->rc = msg_write_body(&m, in, o);
	else
		(void)msg_out_flush(o);
	res->out = slurp_fd(ofd, &res->outlen);
	res->folded = in->folded;
	res->nuls = in->nuls;
	res->barecr = in->barecr;
	res->eightbit = in->eightbit;
	msg_free(&m);
	(void)close(ifd);
	(void)close(ofd);
	free(in);
	free(o);
}

/* One end-to-end case: the exact bytes written, return code 0. */
static void
msg_case(const char *name, const char *in, int iflag, char *const *top,
    char *const *bottom, const char *want)
{
	struct msg_result	 res;

	msg_run(in, strlen(in), iflag, 1LL << 30, top, bottom, &res);
	CASE(name);
	EXPECT_INT("rc", res.rc, 0);
	EXPECT_MEM("queued data", res.out, res.outlen, want, strlen(want));
	END();
	free(res.out);
}

/* Recipients from the header of `in' (msg_hdr_recipients), '|'-joined. */
static void
rcpt_case(const char *name, const char *in, int wantrc, const char *want)
{
	struct msg_in		*mi;
	struct msg		 m;
	struct addr_list	 l = { NULL, 0 };
	char			 err[256] = "", got[1024];
	int			 fd, rc;

	if ((mi = malloc(sizeof(*mi))) == NULL ||
	    (fd = tmp_fd(in, strlen(in))) == -1)
		abort();
	memset(&m, 0, sizeof(m));
	msg_in_init(mi, fd, 0);
	rc = msg_read_header(&m, mi);
	if (rc == 0)
		rc = msg_hdr_recipients(&m, &l, err, sizeof(err));
	addr_join(&l, got, sizeof(got));
	CASE(name);
	EXPECT_INT("rc", rc, wantrc);
	if (rc != 0)
		EXPECT(err[0] != '\0', "no error message");
	EXPECT_STR("recipients", got, want);
	END();
	addr_list_free(&l);
	msg_free(&m);
	(void)close(fd);
	free(mi);
}

/* input given as a literal, NULs included */
#define IN_CASE(name, lit, ...) \
	in_case(name, lit, sizeof(lit) - 1, __VA_ARGS__)

static void
test_msg(void)
{
	static char	 recv[] = "Received: by host.example (relayq); "
			    "Thu, 1 Jan 2024 00:00:00 +0000";
	static char	 date[] = "Date: Thu, 1 Jan 2024 00:00:00 +0000";
	static char	 mid[] = "Message-ID: <20240101000000.ID@example.org>";
	char *const	 top[] = { recv, NULL };
	char *const	 bottom[] = { date, mid, NULL };
	struct in_result res;
	struct msg_result mr;
	struct msg_in	*in;
	char		*buf, *want, pieces[256];
	size_t		 n;
	int		 sv[2];

	IN_CASE("msg: LF, CRLF and mixed line ends", "a\nb\r\nc\r\nd\n",
	    0, 0, 998, "a$b$c$d$", 0, 0);
	IN_CASE("msg: bare CR is a line break in the body, counted",
	    "a\rb\r\nc\r", 0, 0, 998, "a$b$c$", 2, 0);
	IN_CASE("msg: NUL bytes dropped and counted", "a\0b\0\n\0", 0, 0,
	    998, "ab$", 0, 3);
	IN_CASE("msg: last line without newline still read", "a\nb", 0, 0,
	    998, "a$b$", 0, 0);
	IN_CASE("msg: empty input is EOF at once", "", 0, 0, 998, "", 0, 0);
	IN_CASE("msg: empty lines kept", "\n\r\n\n", 0, 0, 998, "$$$", 0, 0);
	IN_CASE("msg: lone dot ends input without -i", "a\n.\nb\n", 0, 0,
	    998, "a$", 0, 0);
	IN_CASE("msg: lone dot with CRLF ends input without -i",
	    "a\r\n.\r\nb\r\n", 0, 0, 998, "a$", 0, 0);
	IN_CASE("msg: lone dot is data with -i", "a\n.\nb\n", 1, 0, 998,
	    "a$.$b$", 0, 0);
	IN_CASE("msg: dot followed by text is data without -i",
	    "a\n.b\n..\n", 0, 0, 998, "a$.b$..$", 0, 0);
	IN_CASE("msg: long line split into MSGIN_MORE pieces",
	    "abcdefghij\nxy\n", 0, 0, 4, "abcd+efgh+ij$xy$", 0, 0);
	IN_CASE("msg: a piece of a long line that is a dot does not end input",
	    "abcd.\nz\n", 0, 0, 4, "abcd+.$z$", 0, 0);

	/* the space itself may come from msg_read_header: see below */
	in_run("Subject: a\rb\r\n", 14, 0, 1, 998, &res);
	CASE("msg: bare CR does not end a line in header mode, counted");
	EXPECT(strcmp(res.pieces, "Subject: a b$") == 0 ||
	    strcmp(res.pieces, "Subject: a\rb$") == 0,
	    "pieces \"%s\"", res.pieces);
	EXPECT_INT("barecr", res.barecr, 1);
	END();

	in_run("caf\xc3\xa9\n", 6, 0, 0, 998, &res);
	CHECK("msg: 8-bit input flagged", res.eightbit == 1,
	    "eightbit %d", res.eightbit);
	in_run("plain ascii\n", 12, 0, 0, 998, &res);
	CHECK("msg: 7-bit input not flagged", res.eightbit == 0,
	    "eightbit %d", res.eightbit);

	/* a CRLF split across two read(2)s is still one line end */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1 ||
	    (in = malloc(sizeof(*in))) == NULL)
		CHECK("msg: CRLF split across reads is one line end", 0,
		    "socketpair: %s", strerror(errno));
	else {
		(void)!write(sv[1], "a\r", 2);
		(void)!write(sv[1], "\nb\r", 3);
		(void)!write(sv[1], "\n", 1);
		(void)shutdown(sv[1], SHUT_WR);
		msg_in_init(in, sv[0], 0);
		in_pieces(in, 998, pieces, sizeof(pieces));
		CASE("msg: CRLF split across reads is one line end");
		EXPECT_STR("pieces", pieces, "a$b$");
		EXPECT_INT("barecr", in->barecr, 0);
		END();
		free(in);
		(void)close(sv[0]);
		(void)close(sv[1]);
	}

	msg_case("msg: normal message, trace on top, missing fields at bottom",
	    "Subject: hi\nTo: a@x\n\nHello\n.dot\n", 0, top, bottom,
	    "Received: by host.example (relayq); Thu, 1 Jan 2024 00:00:00 "
	    "+0000\r\n"
	    "Subject: hi\r\n"
	    "To: a@x\r\n"
	    "Date: Thu, 1 Jan 2024 00:00:00 +0000\r\n"
	    "Message-ID: <20240101000000.ID@example.org>\r\n"
	    "\r\n"
	    "Hello\r\n"
	    "..dot\r\n");
	msg_case("msg: mixed CRLF/LF input becomes CRLF",
	    "Subject: hi\r\nTo: a@x\n\r\nline1\r\nline2\n", 0, NULL, NULL,
	    "Subject: hi\r\nTo: a@x\r\n\r\nline1\r\nline2\r\n");
	msg_case("msg: mbox From line at the start dropped",
	    "From alice Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n", 0,
	    NULL, NULL, "Subject: x\r\n\r\nbody\r\n");
	msg_case("msg: mbox >From line at the start dropped",
	    ">From alice Mon Jan  1 00:00:00 2024\nSubject: x\n\nbody\n", 0,
	    NULL, NULL, "Subject: x\r\n\r\nbody\r\n");
	msg_case("msg: all leading From / >From lines dropped",
	    "From alice Mon Jan  1 00:00:00 2024\n>From bob Mon Jan  1 "
	    "00:00:00 2024\nSubject: x\n\nbody\n", 0, NULL, NULL,
	    "Subject: x\r\n\r\nbody\r\n");
	msg_case("msg: From line later in the body kept",
	    "Subject: x\n\nFrom here on\n", 0, NULL, NULL,
	    "Subject: x\r\n\r\nFrom here on\r\n");
	msg_case("msg: first line not a header: whole input is body",
	    "Hello there\nSubject: not a header\n\nend\n", 0, NULL, bottom,
	    "Date: Thu, 1 Jan 2024 00:00:00 +0000\r\n"
	    "Message-ID: <20240101000000.ID@example.org>\r\n"
	    "\r\n"
	    "Hello there\r\nSubject: not a header\r\n\r\nend\r\n");
	msg_case("msg: header ends at a non-header line, empty line inserted",
	    "Subject: x\nthis is body\n.leading dot\n", 1, NULL, NULL,
	    "Subject: x\r\n\r\nthis is body\r\n..leading dot\r\n");
	msg_case("msg: first body line after the header keeps its dot doubled",
	    "Subject: x\n.dot first\n", 1, NULL, NULL,
	    "Subject: x\r\n\r\n..dot first\r\n");
	msg_case("msg: continuation lines kept, last line gets CRLF",
	    "Subject: a\n b\n\tc\n\nbody", 0, NULL, NULL,
	    "Subject: a\r\n b\r\n\tc\r\n\r\nbody\r\n");
	msg_case("msg: header at end of input without empty line",
	    "Subject: x", 0, NULL, NULL, "Subject: x\r\n\r\n");
	msg_case("msg: empty input gives just the empty line", "", 0, NULL,
	    NULL, "\r\n");
	msg_case("msg: obsolete \"Name :\" field syntax is a header field",
	    "To : a@x\nSubject: s\n\nbody\n", 0, NULL, NULL,
	    "To : a@x\r\nSubject: s\r\n\r\nbody\r\n");
	msg_case("msg: leading dots doubled in the body with -i",
	    "Subject: x\n\n.\n..\n.a\nb.\n", 1, NULL, NULL,
	    "Subject: x\r\n\r\n..\r\n...\r\n..a\r\nb.\r\n");
	msg_case("msg: lone dot ends the message without -i",
	    "Subject: x\n\nbody\n.\nafter\n", 0, NULL, NULL,
	    "Subject: x\r\n\r\nbody\r\n");
	msg_case("msg: lone dot in the header ends the message without -i",
	    "Subject: x\n.\nTo: a@x\n\nbody\n", 0, NULL, NULL,
	    "Subject: x\r\n\r\n");
	msg_case("msg: bare CR in the body becomes a line break",
	    "Subject: x\n\na\rb\r\nc\n", 0, NULL, NULL,
	    "Subject: x\r\n\r\na\r\nb\r\nc\r\n");
	msg_case("msg: bare CR in a header becomes a space",
	    "Subject: a\rb\nTo: c\n\nd\n", 0, NULL, NULL,
	    "Subject: a b\r\nTo: c\r\n\r\nd\r\n");
	msg_case("msg: bare CR in the first body line becomes a line break",
	    "hello\rworld\n", 0, NULL, NULL, "\r\nhello\r\nworld\r\n");
	msg_case("msg: bare CR smuggling a lone dot cannot end data early",
	    "Subject: x\n\na\r.\rMAIL FROM:<e>\n", 1, NULL, NULL,
	    "Subject: x\r\n\r\na\r\n..\r\nMAIL FROM:<e>\r\n");

	{
		static const char nul[] = "Subject: a\0b\n\nc\0d\n";

		msg_run(nul, sizeof(nul) - 1, 0, 1LL << 30, NULL, NULL, &mr);
		CASE("msg: NUL bytes dropped in header and body, counted");
		EXPECT_INT("rc", mr.rc, 0);
		EXPECT_BYTES("queued data", mr.out, mr.outlen,
		    "Subject: ab\r\n\r\ncd\r\n");
		EXPECT_INT("nuls", mr.nuls, 2);
		END();
		free(mr.out);
	}

	/* folding at 998 octets with CRLF SPACE */
	if ((buf = malloc(BIGSZ)) == NULL || (want = malloc(BIGSZ)) == NULL)
		abort();
	(void)snprintf(buf, BIGSZ, "X-Long: %s\n\nbody\n", rep('h', 1200));
	(void)snprintf(want, BIGSZ, "X-Long: %s\r\n %s\r\n\r\nbody\r\n",
	    rep('h', 998 - 8), rep('h', 1200 - (998 - 8)));
	msg_run(buf, strlen(buf), 0, 1LL << 30, NULL, NULL, &mr);
	CASE("msg: over-long header line folded with CRLF SPACE at 998");
	EXPECT_INT("rc", mr.rc, 0);
	EXPECT_MEM("queued data", mr.out, mr.outlen, want, strlen(want));
	EXPECT_INT("folded", mr.folded, 1);
	END();
	free(mr.out);

	(void)snprintf(buf, BIGSZ, "X-Long: %s\n\nbody\n", rep('h', 2500));
	msg_run(buf, strlen(buf), 0, 1LL << 30, NULL, NULL, &mr);
	CHECK("msg: a folded header line counts once in folded",
	    mr.folded == 1, "expected 1 line folded, got %lu", mr.folded);
	free(mr.out);

	(void)snprintf(buf, BIGSZ, "Subject: x\n\n%s\nnext\n", rep('b', 2500));
	n = (size_t)snprintf(want, BIGSZ, "Subject: x\r\n\r\n%s\r\n", rep('b',
	    998));
	n += (size_t)snprintf(want + n, BIGSZ - n, " %s\r\n", rep('b', 997));
	(void)snprintf(want + n, BIGSZ - n, " %s\r\nnext\r\n", rep('b',
	    2500 - 998 - 997));
	msg_run(buf, strlen(buf), 0, 1LL << 30, NULL, NULL, &mr);
	CASE("msg: over-long body line folded with CRLF SPACE at 998");
	EXPECT_INT("rc", mr.rc, 0);
	EXPECT_MEM("queued data", mr.out, mr.outlen, want, strlen(want));
	EXPECT_INT("folded", mr.folded, 1);
	END();
	free(mr.out);

	(void)snprintf(buf, BIGSZ, "Subject: x\n\n%s\nnext\n", rep('b', 998));
	(void)snprintf(want, BIGSZ, "Subject: x\r\n\r\n%s\r\nnext\r\n",
	    rep('b', 998));
	msg_run(buf, strlen(buf), 0, 1LL << 30, NULL, NULL, &mr);
	CASE("msg: body line of exactly 998 octets not folded");
	EXPECT_INT("rc", mr.rc, 0);
	EXPECT_MEM("queued data", mr.out, mr.outlen, want, strlen(want));
	EXPECT_INT("folded", mr.folded, 0);
	END();
	free(mr.out);

	(void)snprintf(buf, BIGSZ, "Subject: x\n\n%s", rep('b', 998));
	(void)snprintf(want, BIGSZ, "Subject: x\r\n\r\n%s\r\n", rep('b', 998));
	msg_run(buf, strlen(buf), 0, 1LL << 30, NULL, NULL, &mr);
	CHECK("msg: last body line of 998 octets without newline not folded",
	    mr.rc == 0 && mr.outlen == strlen(want) && memcmp(mr.out, want,
	    mr.outlen) == 0, "rc %d, %zu bytes written, expected %zu",
	    mr.rc, mr.outlen, strlen(want));
	free(mr.out);

	n = (size_t)snprintf(buf, BIGSZ, "Subject: x\n\n%s", rep('b', 998));
	memcpy(buf + n, "\0\nnext\n", 7);
	(void)snprintf(want, BIGSZ, "Subject: x\r\n\r\n%s\r\nnext\r\n",
	    rep('b', 998));
	msg_run(buf, n + 7, 0, 1LL << 30, NULL, NULL, &mr);
	CASE("msg: a NUL after 998 octets does not add a line");
	EXPECT_INT("rc", mr.rc, 0);
	EXPECT_MEM("queued data", mr.out, mr.outlen, want, strlen(want));
	END();
	free(mr.out);

	(void)snprintf(buf, BIGSZ, "Subject: x\n\n%s\n", rep('b', 999));
	(void)snprintf(want, BIGSZ, "Subject: x\r\n\r\n%s\r\n b\r\n",
	    rep('b', 998));
	msg_case("msg: body line of 999 octets folded once", buf, 0, NULL,
	    NULL, want);

	(void)snprintf(buf, BIGSZ, "%s\n", rep('b', 1500));
	(void)snprintf(want, BIGSZ, "\r\n%s\r\n %s\r\n", rep('b', 998),
	    rep('b', 502));
	msg_case("msg: over-long first line of a header-less input folded",
	    buf, 0, NULL, NULL, want);
	free(buf);
	free(want);

	/* "Subject: x\r\n" 12 + "\r\n" 2 + "body\r\n" 6 = 20 octets */
	msg_run("Subject: x\n\nbody\n", 17, 0, 20, NULL, NULL, &mr);
	CHECK("msg: message of exactly max_message_size accepted", mr.rc == 0,
	    "rc %d", mr.rc);
	free(mr.out);
	msg_run("Subject: x\n\nbody\n", 17, 0, 19, NULL, NULL, &mr);
	CHECK("msg: max_message_size exceeded in the body is EX_DATAERR",
	    mr.rc == EX_DATAERR, "expected %d, got %d", EX_DATAERR, mr.rc);
	free(mr.out);
	msg_run("Subject: a very long subject\n\nbody\n", 35, 0, 10, NULL,
	    NULL, &mr);
	CHECK("msg: max_message_size exceeded in the header is EX_DATAERR",
	    mr.rc == EX_DATAERR, "expected %d, got %d", EX_DATAERR, mr.rc);
	free(mr.out);

	{
		char	*hb;
		size_t	 hl = 1100 * 1024;

		if ((hb = malloc(hl + 32)) == NULL)
			abort();
		memcpy(hb, "X-Big: ", 7);
		memset(hb + 7, 'x', hl - 7);
		memcpy(hb + hl, "\n\nbody\n", 7);
		msg_run(hb, hl + 7, 0, 1LL << 40, NULL, NULL, &mr);
		CHECK("msg: header over 1 MB is EX_DATAERR (memory bounded)",
		    mr.rc == EX_DATAERR, "expected %d, got %d", EX_DATAERR,
		    mr.rc);
		free(mr.out);
		free(hb);
	}

	{
		struct msg_in	*wi;
		struct msg_out	*wo;
		struct msg	 wm;
		int		 ifd, ofd, wrc;

		if ((wi = malloc(sizeof(*wi))) == NULL ||
		    (wo = malloc(sizeof(*wo))) == NULL ||
		    (ifd = tmp_fd("Subject: x\n\nbody\n", 17)) == -1 ||
		    (ofd = open(tmp_path("."), O_RDONLY | O_DIRECTORY)) == -1)
			abort();
		memset(&wm, 0, sizeof(wm));
		msg_in_init(wi, ifd, 0);
		msg_out_init(wo, ofd, 1LL << 30);
		wrc = msg_read_header(&wm, wi);
		if (wrc == 0)
			wrc = msg_write_header(&wm, wo, NULL, NULL, &wi->folded);
		if (wrc == 0)
			wrc = msg_write_body(&wm, wi, wo);
		CHECK("msg: a failed write to the queue file is an error",
		    wrc == -1, "expected -1, got %d", wrc);
		msg_free(&wm);
		(void)close(ifd);
		(void)close(ofd);
		free(wi);
		free(wo);
	}

	rcpt_case("msg: -t recipients from To, Cc and Bcc",
	    "From: f@v\nTo: a@x, Name <b@y>\nCc: c@z\nBcc: d@w\nSubject: "
	    "e@u\n\nbody\n", 0, "a@x|b@y|c@z|d@w");
	rcpt_case("msg: -t field names are case-insensitive",
	    "TO: a@x\ncc: b@y\nbCC: c@z\n\n", 0, "a@x|b@y|c@z");
	rcpt_case("msg: -t with Resent- fields uses only Resent-To/Cc/Bcc",
	    "To: a@x\nCc: b@y\nResent-Date: Thu, 1 Jan 2024 00:00:00 +0000\n"
	    "Resent-To: r@x\nResent-Cc: s@x\nResent-Bcc: t@x\n\nbody\n", 0,
	    "r@x|s@x|t@x");
	rcpt_case("msg: -t with a folded To field",
	    "To: a@x,\n b@y,\n\tc@z\nSubject: s\n\n", 0, "a@x|b@y|c@z");
	rcpt_case("msg: -t with an unbalanced address is an error",
	    "To: \"a@x\n\n", -1, "");
}

/* --- smtp.c -------------------------------------------------------------- */

/* A scripted smarthost: each read returns the next chunk; writes recorded. */
struct peer {
	const char *const	*script;	/* NULL-terminated */
	size_t			 next, off;
	char			*out;
	size_t			 outlen, outsz;
	int			 starttls_calls;
	int			 verify;	/* what the handshake sets */
};

static ssize_t
peer_read(struct conn *c, void *buf, size_t sz)
{
	struct peer	*p = c->priv;
	const char	*chunk = p->script[p->next];
	size_t		 n;

	if (chunk == NULL)
		return 0;			/* the server hung up */
	n = strlen(chunk) - p->off;
	if (n > sz)
		n = sz;
	memcpy(buf, chunk + p->off, n);
	p->off += n;
	if (chunk[p->off] == '\0') {
		p->next++;
		p->off = 0;
	}
	return (ssize_t)n;
}

static ssize_t
peer_write(struct conn *c, const void *buf, size_t n)
{
	struct peer	*p = c->priv;
	char		*t;

	if (p->outlen + n + 1 > p->outsz) {
		if ((t = realloc(p->out, p->outlen + n + 65536)) == NULL)
			abort();
		p->out = t;
		p->outsz = p->outlen + n + 65536;
	}
	memcpy(p->out + p->outlen, buf, n);
	p->outlen += n;
	p->out[p->outlen] = '\0';
	return (ssize_t)n;
}

static int
peer_starttls(struct conn *c, char *err, size_t errsz)
{
	struct peer	*p = c->priv;

	(void)err;
	(void)errsz;
	p->starttls_calls++;
	c->verified = p->verify;
	return 0;
}

static const struct conn_ops peer_ops = {
	peer_read, peer_write, peer_starttls
};

struct fixture {
	struct peer		 p;
	struct conn		 c;
	struct smtp_session	 s;
	struct conf		 conf;
	struct smarthost	 host;
	char			 err[REPLY_MAX + 128];
};

static char	 fx_helo[] = "client.test";
static char	 fx_user[] = "user";

static void
fx_init(struct fixture *f, enum tls_mode tls, int verified,
    const char *const *script)
{
	memset(f, 0, sizeof(*f));
	f->p.script = script;
	f->p.verify = 1;
	conf_init(&f->conf);
	f->conf.helo_name = fx_helo;
	(void)strlcpy(f->host.name, "mx.test", sizeof(f->host.name));
	(void)strlcpy(f->host.port, "587", sizeof(f->host.port));
	f->host.tls = tls;
	f->c.ops = &peer_ops;
	f->c.fd = -1;
	f->c.verified = verified;
	f->c.host = &f->host;
	f->c.priv = &f->p;
	(void)strlcpy(f->c.peer, "mx.test[192.0.2.1]:587", sizeof(f->c.peer));
	f->s.conn = &f->c;
	f->s.conf = &f->conf;
	f->s.password = "pass";
}

static void
fx_free(struct fixture *f)
{
	free(f->p.out);
	f->p.out = NULL;
}

static const char *
fx_out(struct fixture *f)
{
	return f->p.out != NULL ? f->p.out : "";
}

/* reply from lines, for the pure helpers */
static int
reply_from(struct smtp_reply *r, const char *const *lines)
{
	int	 rc = -1;

	memset(r, 0, sizeof(*r));
	for (; *lines != NULL; lines++)
		if ((rc = smtp_reply_line(r, *lines, strlen(*lines))) == -1)
			return -1;
	return rc;
}

static void
reply_bad(const char *name, const char *const *lines)
{
	struct smtp_reply	*r;

	if ((r = malloc(sizeof(*r))) == NULL)
		abort();
	CHECK(name, reply_from(r, lines) == -1, "reply accepted");
	free(r);
}

static void
dsn_case(struct smtp_reply *r, const char *line, const char *want)
{
	const char	*lines[] = { line, NULL };
	char		 buf[16];

	if (reply_from(r, lines) != 1) {
		EXPECT(0, "reply \"%s\" not parsed", line);
		return;
	}
	EXPECT_STR(line, smtp_dsn(r, buf, sizeof(buf)), want);
}

/* data file for smtp_send: `pre' junk, then the wire data */
static int
send_data(struct qmsg *m, const char *data, size_t len)
{
	char	*buf;

	if ((buf = malloc(len + 7)) == NULL)
		abort();
	memcpy(buf, "ENVLP\n\n", 7);
	memcpy(buf + 7, data, len);
	m->fd = tmp_fd(buf, len + 7);
	free(buf);
	m->dataoff = 7;
	m->datalen = (off_t)len;
	return m->fd;
}

static const char smtp_data_ok[] = "Subject: t\r\n\r\nhi\r\n";

static void
test_smtp_parse(void)
{
	struct smtp_reply	*r;
	long long		 maxsize;
	unsigned int		 caps;
	const char		*lines[110];
	size_t			 i;
	int			 rc = 0;

	if ((r = malloc(sizeof(*r))) == NULL)
		abort();

	memset(r, 0, sizeof(*r));
	rc = smtp_reply_line(r, "250 2.0.0 Ok", 12);
	CASE("smtp: single-line reply");
	EXPECT_INT("rc", rc, 1);
	EXPECT_INT("code", r->code, 250);
	EXPECT_STR("text", r->text, "2.0.0 Ok");
	END();

	{
		const char *const ml[] = { "250-mx.test hello", "250-SIZE 100",
		    "250 8BITMIME", NULL };
		int	 r1, r2, r3;

		memset(r, 0, sizeof(*r));
		r1 = smtp_reply_line(r, ml[0], strlen(ml[0]));
		r2 = smtp_reply_line(r, ml[1], strlen(ml[1]));
		r3 = smtp_reply_line(r, ml[2], strlen(ml[2]));
		CASE("smtp: multi-line reply, text joined by LF");
		EXPECT_INT("line 1", r1, 0);
		EXPECT_INT("line 2", r2, 0);
		EXPECT_INT("line 3", r3, 1);
		EXPECT_INT("code", r->code, 250);
		EXPECT_STR("text", r->text, "mx.test hello\nSIZE 100\n8BITMIME");
		EXPECT_INT("len", r->len, strlen(r->text));
		END();
	}

	memset(r, 0, sizeof(*r));
	rc = smtp_reply_line(r, "250", 3);
	CASE("smtp: bare \"250\" is a complete reply");
	EXPECT_INT("rc", rc, 1);
	EXPECT_INT("code", r->code, 250);
	EXPECT_STR("text", r->text, "");
	END();

	memset(r, 0, sizeof(*r));
	rc = smtp_reply_line(r, "250 a\tb", 7);
	CHECK("smtp: tab in reply text allowed", rc == 1, "rc %d", rc);

	{
		const char *const a[] = { "250-a", "251 b", NULL };
		const char *const b[] = { "25", NULL };
		const char *const c[] = { "250x", NULL };
		const char *const d[] = { "250 a\x01z", NULL };
		const char *const e[] = { "250 a\x7fz", NULL };
		const char *const f[] = { "250-a", "250 b\x1b[0m", NULL };
		const char *const g[] = { "2a0 x", NULL };
		const char *const h[] = { "199 x", NULL };
		const char *const k[] = { "600 x", NULL };
		const char *const l[] = { "", NULL };
		const char *const m[] = { "250-a", "25", NULL };

		reply_bad("smtp: code differing across lines rejected", a);
		reply_bad("smtp: two-digit reply \"25\" rejected", b);
		reply_bad("smtp: \"250x\" rejected", c);
		reply_bad("smtp: control character in a reply rejected", d);
		reply_bad("smtp: DEL in a reply rejected", e);
		reply_bad("smtp: escape sequence in a continuation rejected", f);
		reply_bad("smtp: non-digit code rejected", g);
		reply_bad("smtp: code below 200 rejected", h);
		reply_bad("smtp: code above 599 rejected", k);
		reply_bad("smtp: empty reply line rejected", l);
		reply_bad("smtp: short final line of a multi-line reply rejected",
		    m);
	}

	for (i = 0; i < 100; i++)
		lines[i] = "250-x";
	lines[100] = "250 end";
	lines[101] = NULL;
	reply_bad("smtp: reply of 101 lines rejected", lines);
	lines[99] = "250 end";
	lines[100] = NULL;
	CHECK("smtp: reply of 100 lines accepted", reply_from(r, lines) == 1,
	    "rejected");

	{
		char	 longl[2100];

		memset(longl, 'a', sizeof(longl));
		memcpy(longl, "250 ", 4);
		memset(r, 0, sizeof(*r));
		CHECK("smtp: reply line over 2048 octets rejected",
		    smtp_reply_line(r, longl, sizeof(longl)) == -1, "accepted");
		memset(r, 0, sizeof(*r));
		longl[3] = '-';
		for (i = 0, rc = 0; i < 10 && rc == 0; i++)
			rc = smtp_reply_line(r, longl, 2000);
		CHECK("smtp: reply over the total text cap rejected", rc == -1,
		    "rc %d after %zu lines of 2000", rc, i);
	}

	{
		const char *const e1[] = { "250-mx.test greets you",
		    "250-STARTTLS", "250-AUTH PLAIN LOGIN", "250-SIZE 35882577",
		    "250-PIPELINING", "250-8BITMIME", "250-ENHANCEDSTATUSCODES",
		    "250-DSN", "250 SMTPUTF8", NULL };
		const char *const e2[] = { "250-mx", "250-AUTH=LOGIN",
		    "250 AUTH CRAM-MD5", NULL };
		const char *const e3[] = { "250-mx", "250-starttls",
		    "250-auth login plain", "250-size 1000", "250 8bitmime",
		    NULL };
		const char *const e4[] = { "250 STARTTLS", NULL };
		const char *const e5[] = { "250-mx", "250-SIZE", "250-AUTHPLAIN",
		    "250-STARTTLSX", "250 XSTARTTLS", NULL };
		const char *const e6[] = { "250-mx", "250-SIZE -5", NULL };

		(void)reply_from(r, e1);
		caps = smtp_ehlo_caps(r, &maxsize);
		CASE("smtp: EHLO capabilities parsed");
		EXPECT_INT("caps", caps, CAP_STARTTLS | CAP_AUTH_PLAIN |
		    CAP_AUTH_LOGIN | CAP_SIZE | CAP_PIPELINING | CAP_8BITMIME |
		    CAP_ENHANCED | CAP_DSN | CAP_SMTPUTF8);
		EXPECT_INT("SIZE", maxsize, 35882577);
		END();

		(void)reply_from(r, e2);
		caps = smtp_ehlo_caps(r, &maxsize);
		CHECK("smtp: AUTH=LOGIN and CRAM-MD5 understood (CRAM-MD5 "
		    "used only when named)", caps == (CAP_AUTH_LOGIN |
		    CAP_AUTH_CRAMMD5), "caps 0x%x", caps);

		(void)reply_from(r, e3);
		caps = smtp_ehlo_caps(r, &maxsize);
		CASE("smtp: EHLO keywords are case-insensitive");
		EXPECT_INT("caps", caps, CAP_STARTTLS | CAP_AUTH_PLAIN |
		    CAP_AUTH_LOGIN | CAP_SIZE | CAP_8BITMIME);
		EXPECT_INT("SIZE", maxsize, 1000);
		END();

		(void)reply_from(r, e4);
		caps = smtp_ehlo_caps(r, &maxsize);
		CHECK("smtp: the EHLO greeting line is not a capability",
		    caps == 0, "caps 0x%x", caps);

		(void)reply_from(r, e5);
		maxsize = -1;
		caps = smtp_ehlo_caps(r, &maxsize);
		CASE("smtp: only whole EHLO keywords count; SIZE without value");
		EXPECT_INT("caps", caps, CAP_SIZE);
		EXPECT_INT("SIZE", maxsize, 0);
		END();

		memset(r, 0, sizeof(*r));
		(void)reply_from(r, e6);
		(void)smtp_reply_line(r, "250 PIPELINING", 14);
		caps = smtp_ehlo_caps(r, &maxsize);
		CASE("smtp: negative SIZE ignored");
		EXPECT_INT("caps", caps, CAP_SIZE | CAP_PIPELINING);
		EXPECT_INT("SIZE", maxsize, 0);
		END();
	}

	CASE("smtp: dsn is the enhanced status code when present");
	dsn_case(r, "550 5.1.1 <a@x>: no such user", "5.1.1");
	dsn_case(r, "250 2.0.0 Ok: queued as X", "2.0.0");
	dsn_case(r, "452 4.5.3 Too many recipients", "4.5.3");
	dsn_case(r, "550 5.7.1", "5.7.1");
	dsn_case(r, "554 5.123.456 long but valid", "5.123.456");
	END();

	CASE("smtp: dsn is class.0.0 without an enhanced code");
	dsn_case(r, "250 Ok", "2.0.0");
	dsn_case(r, "451", "4.0.0");
	dsn_case(r, "550 2.1.5 class does not match", "5.0.0");
	dsn_case(r, "550 5.1 too short", "5.0.0");
	dsn_case(r, "550 5.1.1:no space after", "5.0.0");
	END();

	CASE("smtp: dsn rejects malformed enhanced codes");
	dsn_case(r, "550 5.... dots", "5.0.0");
	dsn_case(r, "550 5.1.1.1 four parts", "5.0.0");
	dsn_case(r, "550 5.1234.1 subject too long", "5.0.0");
	END();

	free(r);
}

static void
test_smtp_session(void)
{
	struct fixture		*f;
	struct smtp_reply	*r;
	size_t			 i;
	int			 rc;

	if ((f = malloc(sizeof(*f))) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL)
		abort();

	{
		static const char *const sc[] = { "25", "0-first\n250 ",
		    "last\r\n", NULL };

		fx_init(f, TLS_OFF, 0, sc);
		rc = smtp_read_reply(&f->c, r, f->err, sizeof(f->err));
		CASE("smtp: reply split across reads, bare LF accepted");
		EXPECT_INT("smtp_read_reply", rc, 0);
		EXPECT_INT("code", r->code, 250);
		EXPECT_STR("text", r->text, "first\nlast");
		END();
		fx_free(f);
	}
	{
		static char	 longl[3000];
		static const char *const sc[] = { longl, NULL };

		memset(longl, 'a', sizeof(longl) - 3);
		memcpy(longl, "250 ", 4);
		memcpy(longl + sizeof(longl) - 3, "\r\n", 3);
		fx_init(f, TLS_OFF, 0, sc);
		rc = smtp_read_reply(&f->c, r, f->err, sizeof(f->err));
		CASE("smtp: over-long reply line from the server aborts");
		EXPECT_INT("smtp_read_reply", rc, -1);
		EXPECT_HAS("error", f->err, "too long");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "250-a\r\n", NULL };

		fx_init(f, TLS_OFF, 0, sc);
		rc = smtp_read_reply(&f->c, r, f->err, sizeof(f->err));
		CASE("smtp: EOF in the middle of a reply is a lost connection");
		EXPECT_INT("smtp_read_reply", rc, -1);
		EXPECT_STR("error", f->err,
		    "lost connection with mx.test[192.0.2.1]:587");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "250 a\rb\r\n", NULL };

		fx_init(f, TLS_OFF, 0, sc);
		rc = smtp_read_reply(&f->c, r, f->err, sizeof(f->err));
		CASE("smtp: CR inside a reply line aborts");
		EXPECT_INT("smtp_read_reply", rc, -1);
		EXPECT_HAS("error", f->err, "malformed reply");
		END();
		fx_free(f);
	}

	/* smtp_open */
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
		    "235 2.7.0 ok\r\n", "250 2.1.0 ok\r\n", NULL };

		fx_init(f, TLS_STARTTLS, 0, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: STARTTLS not offered -> -1, never plaintext");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_HAS("error", f->err, "plaintext");
		EXPECT_INT("temp", f->s.temp, 1);
		EXPECT_INT("starttls calls", f->p.starttls_calls, 0);
		EXPECT_STR("written", fx_out(f), "EHLO client.test\r\n");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250 STARTTLS\r\n",
		    "220 2.0.0 go ahead\r\n250-mx.test\r\n250 AUTH PLAIN\r\n",
		    "235 ok\r\n", NULL };

		fx_init(f, TLS_STARTTLS, 0, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: bytes after the 220 to STARTTLS abort (injection)");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_INT("starttls calls", f->p.starttls_calls, 0);
		EXPECT_HAS("error", f->err, "after the STARTTLS reply");
		EXPECT_INT("temp", f->s.temp, 1);
		EXPECT_STR("written", fx_out(f),
		    "EHLO client.test\r\nSTARTTLS\r\n");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250-STARTTLS\r\n250-SIZE 1000\r\n"
		    "250-8BITMIME\r\n250 AUTH LOGIN\r\n",
		    "220 2.0.0 go ahead\r\n",
		    "250-mx.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n",
		    "235 2.7.0 Authentication successful\r\n", NULL };

		fx_init(f, TLS_STARTTLS, 0, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: STARTTLS, EHLO again with caps forgotten, AUTH "
		    "PLAIN exact base64");
		EXPECT_INT("smtp_open", rc, 0);
		EXPECT_STR("error", f->err, "");
		EXPECT_INT("starttls calls", f->p.starttls_calls, 1);
		EXPECT_INT("caps", f->s.caps, CAP_PIPELINING | CAP_AUTH_PLAIN |
		    CAP_AUTH_LOGIN);
		EXPECT_INT("maxsize", f->s.maxsize, 0);
		EXPECT_STR("written", fx_out(f),
		    "EHLO client.test\r\nSTARTTLS\r\nEHLO client.test\r\n"
		    "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250 AUTH=LOGIN\r\n",
		    "334 VXNlcm5hbWU6\r\n", "334 UGFzc3dvcmQ6\r\n",
		    "235 2.7.0 ok\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: AUTH LOGIN exact base64 when PLAIN is not offered");
		EXPECT_INT("smtp_open", rc, 0);
		EXPECT_STR("written", fx_out(f),
		    "EHLO client.test\r\nAUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n", "235 ok\r\n",
		    NULL };

		fx_init(f, TLS_OFF, 0, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: AUTH never sent without verified TLS");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_HAS("error", f->err, "without verified TLS");
		EXPECT_INT("temp", f->s.temp, 1);
		EXPECT_STR("written", fx_out(f), "EHLO client.test\r\n");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250 STARTTLS\r\n", "220 go ahead\r\n",
		    "250-mx.test\r\n250 AUTH PLAIN\r\n", "235 ok\r\n", NULL };

		fx_init(f, TLS_STARTTLS, 0, sc);
		f->p.verify = 0;	/* handshake up, peer not verified */
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: AUTH not sent when the handshake did not verify");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT(strstr(fx_out(f), "AUTH") == NULL, "AUTH written: %s",
		    fx_out(f));
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250 AUTH PLAIN\r\n",
		    "535 5.7.8 Authentication credentials invalid\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: 535 defers, names the reply and the mechanism");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_STR("error", f->err, "authentication failed: 535 5.7.8 "
		    "Authentication credentials invalid (AUTH PLAIN)");
		EXPECT_INT("temp", f->s.temp, 1);
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250-mx.test\r\n250 AUTH PLAIN\r\n", "235 2.7.0 ok\r\n",
		    NULL };
		char		 raw[600], b64[1024], want[1100];
		size_t		 olen;

		/* within smtp_auth's own limits (user 256, 1024 in all) */
		memset(raw, 0, sizeof(raw));
		memcpy(raw + 1, "user", 4);
		memcpy(raw + 6, rep('p', 500), 500);
		(void)mbedtls_base64_encode((unsigned char *)b64, sizeof(b64),
		    &olen, (unsigned char *)raw, 506);
		b64[olen] = '\0';
		(void)snprintf(want, sizeof(want), "EHLO client.test\r\n"
		    "AUTH PLAIN %s\r\n", b64);
		fx_init(f, TLS_IMPLICIT, 1, sc);
		f->conf.auth_user = fx_user;
		f->s.password = rep('p', 500);
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: AUTH PLAIN with a 500-octet password sent whole");
		EXPECT_STR("error", f->err, "");
		EXPECT_INT("smtp_open", rc, 0);
		EXPECT_STR("written", fx_out(f), want);
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test ESMTP\r\n",
		    "250 mx.test\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		f->conf.auth_user = fx_user;
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: no supported AUTH mechanism defers");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_HAS("error", f->err, "no AUTH mechanism");
		EXPECT_INT("temp", f->s.temp, 1);
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "554 5.3.2 go away\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: greeting other than 220 fails, nothing written");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_STR("error", f->err, "greeting: 554 5.3.2 go away");
		EXPECT_INT("temp", f->s.temp, 1);
		EXPECT_STR("written", fx_out(f), "");
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 hi\x1b[2J\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: control character in the greeting aborts, error "
		    "sanitised");
		EXPECT_INT("smtp_open", rc, -1);
		EXPECT_HAS("error", f->err, "malformed reply");
		for (i = 0; f->err[i] != '\0'; i++)
			EXPECT((unsigned char)f->err[i] >= 0x20 &&
			    (unsigned char)f->err[i] < 0x7f,
			    "raw byte 0x%02x in the error",
			    (unsigned char)f->err[i]);
		END();
		fx_free(f);
	}
	{
		static const char *const sc[] = { "220 mx.test\r\n"
		    "250 forged reply\r\n", "250 mx.test\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		rc = smtp_open(&f->s, f->err, sizeof(f->err));
		CASE("smtp: data after a complete reply when none is expected "
		    "aborts");
		EXPECT_INT("smtp_open", rc, -1);
		END();
		fx_free(f);
	}

	free(r);
	free(f);
}

/* One smtp_send run over a scripted peer. */
static int
send_run(struct fixture *f, struct qmsg *m, unsigned int caps,
    const char *const *script)
{
	fx_init(f, TLS_IMPLICIT, 1, script);
	f->s.caps = caps;
	return smtp_send(&f->s, m);
}

static void
test_smtp_send(void)
{
	static const char *const r3[] = { "a@x", "b@y", "c@z" };
	static const char *const r2[] = { "a@x", "b@y" };
	struct fixture	*f;
	struct qmsg	 m;
	char		 want[1024], *big, *wbig;
	size_t		 n, len;
	int		 rc;

	if ((f = malloc(sizeof(*f))) == NULL)
		abort();

	{
		static const char *const sc[] = { "250 2.1.0 Ok\r\n",
		    "250 2.1.5 Ok\r\n", "450 4.2.0 <b@y>: busy\r\n",
		    "550 5.1.1 <c@z>: no such user\r\n",
		    "354 End data with <CR><LF>.<CR><LF>\r\n",
		    "250 2.0.0 Ok: queued as ABC\r\n", NULL };

		qmsg_build(&m, "s@x", r3, 3);
		m.eightbit = 1;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_SIZE | CAP_8BITMIME, sc);
		(void)snprintf(want, sizeof(want),
		    "MAIL FROM:<s@x> SIZE=%zu BODY=8BITMIME\r\n"
		    "RCPT TO:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@z>\r\n"
		    "DATA\r\n%s.\r\n", sizeof(smtp_data_ok) - 1, smtp_data_ok);
		CASE("smtp: per-recipient outcomes 250/450/550 and the exact "
		    "transaction");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_MEM("written", fx_out(f), f->p.outlen, want,
		    strlen(want));
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_SENT);
		EXPECT_STR("dsn a@x", m.rcpt[0].dsn, "2.0.0");
		EXPECT_STR("reply a@x", m.rcpt[0].reply,
		    "250 2.0.0 Ok: queued as ABC");
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		EXPECT_STR("dsn b@y", m.rcpt[1].dsn, "4.2.0");
		EXPECT_STR("reply b@y", m.rcpt[1].reply, "host mx.test"
		    "[192.0.2.1]:587 said: 450 4.2.0 <b@y>: busy");
		EXPECT_INT("status c@z", m.rcpt[2].status, RCPT_FAIL);
		EXPECT_STR("dsn c@z", m.rcpt[2].dsn, "5.1.1");
		EXPECT_STR("reply c@z", m.rcpt[2].reply, "host mx.test"
		    "[192.0.2.1]:587 said: 550 5.1.1 <c@z>: no such user");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "354 go\r\n", "250 queued\r\n", NULL };

		qmsg_build(&m, "", r2 + 1, 1);
		m.eightbit = 1;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: no SIZE or BODY=8BITMIME unless offered; null sender "
		    "is <>");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT(starts_with(fx_out(f), "MAIL FROM:<>\r\n"
		    "RCPT TO:<b@y>\r\n"), "written \"%.60s\"", fx_out(f));
		EXPECT_INT("status", m.rcpt[0].status, RCPT_SENT);
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "354 go\r\n", "250 queued\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 1);
		m.eightbit = 0;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_8BITMIME | CAP_SIZE, sc);
		(void)snprintf(want, sizeof(want), "MAIL FROM:<s@x> SIZE=%zu\r\n",
		    sizeof(smtp_data_ok) - 1);
		CASE("smtp: BODY=8BITMIME not sent for a 7-bit message");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT(starts_with(fx_out(f), want),
		    "written \"%.60s\"", fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "250 ok\r\n", "354 go\r\n", "250 queued\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 2);
		m.dsn_ret = 2;
		(void)strlcpy(m.envid, "QQ314159", sizeof(m.envid));
		m.rcpt[0].notify = DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE;
		m.rcpt[1].notify = DSN_NOTIFY_NEVER;
		if ((m.rcpt[1].orig = strdup("B+Y=z@y")) == NULL)
			abort();
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_DSN, sc);
		CASE("smtp: RET, ENVID, NOTIFY and xtext ORCPT when DSN is "
		    "offered");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT(starts_with(fx_out(f), "MAIL FROM:<s@x> ENVID=QQ314159 "
		    "RET=HDRS\r\nRCPT TO:<a@x> ORCPT=rfc822;a@x "
		    "NOTIFY=SUCCESS,FAILURE\r\nRCPT TO:<b@y> "
		    "ORCPT=rfc822;B+2BY+3Dz@y NOTIFY=NEVER\r\nDATA\r\n"),
		    "written \"%.200s\"", fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);

		qmsg_build(&m, "s@x", r2, 1);
		m.dsn_ret = 1;
		m.rcpt[0].notify = DSN_NOTIFY_NEVER;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc + 1);
		CASE("smtp: no DSN parameters unless DSN is offered");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT(starts_with(fx_out(f), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nDATA\r\n"), "written \"%.100s\"",
		    fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "354 go\r\n", "250 queued\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 1);
		m.smtputf8 = 1;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_SMTPUTF8, sc);
		CASE("smtp: SMTPUTF8 on MAIL FROM for a non-ASCII address");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT(starts_with(fx_out(f), "MAIL FROM:<s@x> SMTPUTF8\r\n"),
		    "written \"%.60s\"", fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);

		qmsg_build(&m, "s@x", r2, 1);
		m.smtputf8 = 1;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: non-ASCII address, no SMTPUTF8: 5.6.7, nothing sent");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), "");
		EXPECT_INT("status", m.rcpt[0].status, RCPT_FAIL);
		EXPECT_STR("dsn", m.rcpt[0].dsn, "5.6.7");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 2.1.0 Ok\r\n",
		    "250 2.1.5 Ok\r\n", "550 5.1.1 <b@y>: no\r\n",
		    "354 go\r\n", "250 2.0.0 queued\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_PIPELINING, sc);
		(void)snprintf(want, sizeof(want), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n%s.\r\n",
		    smtp_data_ok);
		CASE("smtp: PIPELINING sends MAIL, RCPTs and DATA together, "
		    "replies in order");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), want);
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_SENT);
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_FAIL);
		EXPECT_STR("dsn b@y", m.rcpt[1].dsn, "5.1.1");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "451 4.3.0 busy\r\n",
		    "503 5.5.1 no MAIL\r\n", "503 5.5.1 no MAIL\r\n",
		    "503 5.5.1 no valid recipients\r\n", "250 reset\r\n",
		    NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_PIPELINING, sc);
		CASE("smtp: PIPELINING, MAIL refused: every recipient gets the "
		    "MAIL reply, not the 503s");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nRSET\r\n");
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_DEFER);
		EXPECT_STR("dsn a@x", m.rcpt[0].dsn, "4.3.0");
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n",
		    "550 5.1.1 no\r\n", "354 go anyway\r\n",
		    "554 5.5.1 no valid recipients\r\n", "250 reset\r\n",
		    NULL };

		qmsg_build(&m, "s@x", r2, 1);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_PIPELINING, sc);
		CASE("smtp: PIPELINING, nothing accepted but DATA got 354: a lone "
		    "dot, no message data");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nDATA\r\n.\r\nRSET\r\n");
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_FAIL);
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "354 go\r\n250 2.0.0 not asked for\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 1);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, CAP_PIPELINING, sc);
		CASE("smtp: PIPELINING, bytes after the DATA reply abort the "
		    "session before any data");
		EXPECT_INT("smtp_send", rc, -1);
		EXPECT(strstr(fx_out(f), "Subject") == NULL, "data was sent");
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_DEFER);
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n",
		    "550 5.1.1 no\r\n", "451 4.3.0 later\r\n", "250 reset\r\n",
		    NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: no accepted recipient -> RSET, no DATA");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nRCPT TO:<b@y>\r\nRSET\r\n");
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_FAIL);
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		EXPECT_STR("dsn b@y", m.rcpt[1].dsn, "4.3.0");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "550 5.1.1 no\r\n", "554 5.5.1 Error: no valid recipients\r\n",
		    "250 reset\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: DATA refused with 554 fails the accepted recipients");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nRSET\r\n");
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_FAIL);
		EXPECT_STR("dsn a@x", m.rcpt[0].dsn, "5.5.1");
		EXPECT_STR("reply a@x", m.rcpt[0].reply, "host mx.test"
		    "[192.0.2.1]:587 said: 554 5.5.1 Error: no valid "
		    "recipients");
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_FAIL);
		EXPECT_STR("dsn b@y", m.rcpt[1].dsn, "5.1.1");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "450 4.2.0 later\r\n", "354 go\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		(void)snprintf(want, sizeof(want), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n%s.\r\n",
		    smtp_data_ok);
		CASE("smtp: connection lost after the final dot defers, \"more "
		    "than once\"");
		EXPECT_INT("smtp_send", rc, -1);
		EXPECT_INT("temp", f->s.temp, 1);
		EXPECT_STR("written", fx_out(f), want);
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_DEFER);
		EXPECT_STR("dsn a@x", m.rcpt[0].dsn, "4.4.2");
		EXPECT_HAS("reply a@x", m.rcpt[0].reply, "more than once");
		EXPECT_HAS("reply a@x", m.rcpt[0].reply, "mx.test[192.0.2.1]");
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		EXPECT_STR("reply b@y", m.rcpt[1].reply, "host mx.test"
		    "[192.0.2.1]:587 said: 450 4.2.0 later");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "250 ok\r\n", "354 go\r\n", "451 4.3.0 queue full\r\n",
		    NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: 4xx final reply defers the accepted recipients");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_DEFER);
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		EXPECT_STR("dsn", m.rcpt[1].dsn, "4.3.0");
		EXPECT_STR("reply", m.rcpt[1].reply, "host mx.test"
		    "[192.0.2.1]:587 said: 451 4.3.0 queue full");
		EXPECT(strstr(fx_out(f), "RSET") == NULL, "RSET after the "
		    "final reply");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: connection lost at RCPT defers every open recipient");
		EXPECT_INT("smtp_send", rc, -1);
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_DEFER);
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		EXPECT_HAS("reply b@y", m.rcpt[1].reply, "lost connection");
		EXPECT_STR("dsn b@y", m.rcpt[1].dsn, "4.4.2");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "451 4.3.0 try later\r\n",
		    "250 reset\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 2);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: MAIL FROM refused decides every recipient, then RSET");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_STR("written", fx_out(f), "MAIL FROM:<s@x>\r\nRSET\r\n");
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_DEFER);
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_DEFER);
		EXPECT_STR("dsn", m.rcpt[0].dsn, "4.3.0");
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "354 go\r\n", "250 queued\r\n", NULL };

		qmsg_build(&m, "s@x", r3, 3);
		m.rcpt[0].status = RCPT_SENT;
		m.rcpt[1].status = RCPT_FAIL;
		m.rcpt[2].status = RCPT_DEFER;
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		rc = send_run(f, &m, 0, sc);
		CASE("smtp: only pending and deferred recipients are tried again");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT(starts_with(fx_out(f), "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<c@z>\r\nDATA\r\n"), "written \"%.80s\"",
		    fx_out(f));
		EXPECT_INT("status a@x", m.rcpt[0].status, RCPT_SENT);
		EXPECT_INT("status b@y", m.rcpt[1].status, RCPT_FAIL);
		EXPECT_INT("status c@z", m.rcpt[2].status, RCPT_SENT);
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		/* 150 KB in wire form, over two read buffers of the engine */
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "354 go\r\n", "250 queued\r\n", NULL };
		static const char line[] = "..a dot-stuffed line of text, "
		    "long enough to matter in a message\r\n";

		len = 150 * 1024;
		if ((big = malloc(len + 64)) == NULL ||
		    (wbig = malloc(len + 128)) == NULL)
			abort();
		for (n = 0; n + sizeof(line) - 1 <= len; n += sizeof(line) - 1)
			memcpy(big + n, line, sizeof(line) - 1);
		len = n;
		qmsg_build(&m, "s@x", r2, 1);
		(void)send_data(&m, big, len);
		rc = send_run(f, &m, 0, sc);
		n = (size_t)snprintf(wbig, 128, "MAIL FROM:<s@x>\r\n"
		    "RCPT TO:<a@x>\r\nDATA\r\n");
		memcpy(wbig + n, big, len);
		memcpy(wbig + n + len, ".\r\n", 3);
		CASE("smtp: data streamed from the queue file ends with exactly "
		    "one .\\r\\n");
		EXPECT_INT("smtp_send", rc, 0);
		EXPECT_MEM("written", fx_out(f), f->p.outlen, wbig, n + len + 3);
		EXPECT_INT("status", m.rcpt[0].status, RCPT_SENT);
		END();
		free(big);
		free(wbig);
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "251 2.1.0 sender ok, sort "
		    "of\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n",
		    "250 reset\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 1);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		(void)send_run(f, &m, 0, sc);
		CASE("smtp: recipient never SENT when the data was never sent "
		    "(MAIL 251)");
		EXPECT(strstr(fx_out(f), "DATA\r\n") != NULL ||
		    m.rcpt[0].status != RCPT_SENT, "status SENT, but the "
		    "commands were \"%s\"", fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n",
		    "252 2.1.5 cannot verify, will try\r\n", "250 reset\r\n",
		    NULL };

		qmsg_build(&m, "s@x", r2, 1);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		(void)send_run(f, &m, 0, sc);
		CASE("smtp: recipient never SENT when the data was never sent "
		    "(RCPT 252)");
		EXPECT(strstr(fx_out(f), "DATA\r\n") != NULL ||
		    m.rcpt[0].status != RCPT_SENT, "status SENT, but the "
		    "commands were \"%s\"", fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "250 ok\r\n", "250 ok\r\n",
		    "250 2.0.0 fine\r\n", "250 reset\r\n", NULL };

		qmsg_build(&m, "s@x", r2, 1);
		(void)send_data(&m, smtp_data_ok, sizeof(smtp_data_ok) - 1);
		(void)send_run(f, &m, 0, sc);
		CASE("smtp: recipient never SENT when DATA got 250, not 354");
		EXPECT(m.rcpt[0].status != RCPT_SENT, "status SENT, but the "
		    "commands were \"%s\"", fx_out(f));
		END();
		fx_free(f);
		spool_free_msg(&m);
	}
	{
		static const char *const sc[] = { "221 bye\r\n", NULL };

		fx_init(f, TLS_IMPLICIT, 1, sc);
		smtp_quit(&f->s);
		CHECK("smtp: QUIT", strcmp(fx_out(f), "QUIT\r\n") == 0,
		    "written \"%s\"", fx_out(f));
		fx_free(f);
	}
	free(f);
}

static void
test_smtp(void)
{
	test_smtp_parse();
	test_smtp_session();
	test_smtp_send();
}

/* --- masquerading (addr_masquerade, msg_hdr_masquerade) ----------------- */

static unsigned int prop_rand(void);

static const char *const masq_locals[] = { "localhost",
    "localhost.localdomain", "vm.example.net", "vm", NULL };

/* One field value in, the exact value out (`want' NULL: unchanged). */
static void
masq_case(const char *name, const char *in, int wantn, const char *want)
{
	char	*out = NULL;
	int	 n;

	n = addr_masquerade(in, strlen(in), "example.org", masq_locals, &out);
	CASE(name);
	EXPECT_INT("rewritten", n, wantn);
	if (want == NULL)
		EXPECT(out == NULL, "changed to \"%s\"", out);
	else
		EXPECT_STR("value", out != NULL ? out : "(unchanged)", want);
	END();
	free(out);
}

static void
test_masquerade(void)
{
	static char	 date[] = "Date: x";
	char *const	 bottom[] = { date, NULL };
	struct msg_result res;
	struct msg_in	*in;
	struct msg_out	*o;
	struct msg	 m;
	unsigned long	 count = 0;
	int		 ifd, ofd, rc;
	static const char hin[] = "From: root (Cron Daemon)\n"
	    "To: <root@vm>, admin@example.com\n"
	    "Cc: Fail2Ban <fail2ban>,\n\tundisclosed:;\n"
	    "Reply-To: \"Smith, J\" <j@LOCALHOST>\n"
	    "Subject: root@vm stays\n"
	    "Resent-From: Logwatch\n"
	    "\nbody root@vm\n";
	static const char hout[] = "From: root@example.org (Cron Daemon)\r\n"
	    "To: <root@example.org>, admin@example.com\r\n"
	    "Cc: Fail2Ban <fail2ban@example.org>,\r\n\tundisclosed:;\r\n"
	    "Reply-To: \"Smith, J\" <j@example.org>\r\n"
	    "Subject: root@vm stays\r\n"
	    "Resent-From: Logwatch@example.org\r\n"
	    "Date: x\r\n"
	    "\r\nbody root@vm\r\n";

	masq_case("masquerade: bare name with a comment, comment kept",
	    " root (Cron Daemon)", 1, " root@example.org (Cron Daemon)");
	masq_case("masquerade: bare display-less name (From: Logwatch)",
	    " Logwatch", 1, " Logwatch@example.org");
	masq_case("masquerade: angle address at the short hostname",
	    " <root@vm>", 1, " <root@example.org>");
	masq_case("masquerade: display name kept (Fail2Ban <fail2ban>)",
	    " Fail2Ban <fail2ban>", 1, " Fail2Ban <fail2ban@example.org>");
	masq_case("masquerade: FQDN, localhost, case-insensitive",
	    " a@VM.example.net, b@localhost, c@localhost.localdomain", 3,
	    " a@example.org, b@example.org, c@example.org");
	masq_case("masquerade: foreign addresses untouched",
	    " a@example.com, \"B\" <b@x.y>", 0, NULL);
	masq_case("masquerade: group members rewritten, group name kept",
	    " Admins: root, ops@example.com;", 1,
	    " Admins: root@example.org, ops@example.com;");
	masq_case("masquerade: empty group untouched",
	    " undisclosed-recipients:;", 0, NULL);
	masq_case("masquerade: quoted display name with comma and '<'",
	    " \"Doe, <J>\" <jd>", 1, " \"Doe, <J>\" <jd@example.org>");
	masq_case("masquerade: quoted local part kept verbatim",
	    " \"a b\"@vm", 1, " \"a b\"@example.org");
	masq_case("masquerade: folding and comments kept byte for byte",
	    " root (x),\r\n\t(y) <www-data> (z)", 2,
	    " root@example.org (x),\r\n\t(y) <www-data@example.org> (z)");
	masq_case("masquerade: comment with parentheses and a comma",
	    " root (a (b, c) d)", 1, " root@example.org (a (b, c) d)");
	masq_case("masquerade: white space inside angle brackets",
	    " < root >", 1, " < root@example.org >");
	masq_case("masquerade: source route keeps the route",
	    " <@r1,@r2:root@vm>", 1, " <@r1,@r2:root@example.org>");
	masq_case("masquerade: trailing comma", " root,", 1,
	    " root@example.org,");
	masq_case("masquerade: obsolete split addr-spec left alone",
	    " root @ vm", 0, NULL);
	masq_case("masquerade: unbalanced quote left alone", " \"root", 0,
	    NULL);
	masq_case("masquerade: unbalanced parenthesis left alone",
	    " root (x", 0, NULL);
	masq_case("masquerade: stray '>' left alone", " root>", 0, NULL);
	masq_case("masquerade: empty angle untouched", " Name <>", 0, NULL);
	masq_case("masquerade: empty value untouched", "", 0, NULL);
	masq_case("masquerade: \"@vm\" without a local part untouched",
	    " @vm", 0, NULL);

	{
		static const struct { const char *name, *in, *want; } fc[] = {
			{ "force_from: display name kept",
			    " Cron Daemon <root@example.org>",
			    " Cron Daemon <app@ses.example>" },
			{ "force_from: comment kept",
			    " root@example.org (Cron Daemon)",
			    " app@ses.example (Cron Daemon)" },
			{ "force_from: bare address",
			    " a@b.c", " app@ses.example" },
			{ "force_from: first mailbox only",
			    " a@b.c, d@e.f", " app@ses.example, d@e.f" },
			{ "force_from: unparsable value replaced",
			    " \"broken <x@y>", " <app@ses.example>" },
			{ "force_from: empty value replaced", "",
			    " <app@ses.example>" },
		};
		size_t	 k;
		char	*got;

		for (k = 0; k < sizeof(fc) / sizeof(fc[0]); k++) {
			got = addr_force(fc[k].in, strlen(fc[k].in),
			    "app@ses.example");
			CHECK(fc[k].name, got != NULL &&
			    strcmp(got, fc[k].want) == 0, "got \"%s\"",
			    got != NULL ? got : "(null)");
			free(got);
		}
	}

	{
		/* random field values: never a crash or overread (run under
		 * SANITIZE), and nothing but domains changes: the output with
		 * every "@example.org" removed is the input with its local
		 * domains removed, i.e. no other byte moves */
		static const char ab[] = "ab@<>(),:;\" \\\r\nvm.";
		char	 rv[64], *rout, *p;
		size_t	 len, k;
		int	 iter, n, bad = 0;

		for (iter = 0; iter < 20000 && !bad; iter++) {
			len = prop_rand() % sizeof(rv);
			for (k = 0; k < len; k++)
				rv[k] = ab[prop_rand() % (sizeof(ab) - 1)];
			n = addr_masquerade(rv, len, "example.org",
			    masq_locals, &rout);
			if (n < 0 || (n == 0) != (rout == NULL))
				bad = 1;
			else if (rout != NULL) {
				/* each rewrite adds "@example.org" */
				for (k = 0, p = rout; (p = strstr(p,
				    "@example.org")) != NULL; p++)
					k++;
				if (k < (size_t)n)
					bad = 2;
			}
			free(rout);
		}
		CHECK("masquerade: 20000 random values: no crash, each "
		    "rewrite adds @domain", bad == 0, "failure %d", bad);
	}

	/* the whole header, through msg_hdr_masquerade */
	if ((in = malloc(sizeof(*in))) == NULL ||
	    (o = malloc(sizeof(*o))) == NULL ||
	    (ifd = tmp_fd(hin, sizeof(hin) - 1)) == -1 ||
	    (ofd = tmp_fd("", 0)) == -1)
		abort();
	memset(&m, 0, sizeof(m));
	msg_in_init(in, ifd, 0);
	msg_out_init(o, ofd, 1LL << 30);
	rc = msg_read_header(&m, in);
	if (rc == 0)
		rc = msg_hdr_masquerade(&m, "example.org", masq_locals,
		    &count);
	if (rc == 0)
		rc = msg_write_header(&m, o, NULL, bottom, &in->folded);
	if (rc == 0)
		rc = msg_write_body(&m, in, o);
	memset(&res, 0, sizeof(res));
	res.out = slurp_fd(ofd, &res.outlen);
	CASE("masquerade: every address field, exact bytes; Subject and "
	    "body untouched");
	EXPECT_INT("rc", rc, 0);
	EXPECT_INT("count", count, 5);
	EXPECT_MEM("queued data", res.out, res.outlen, hout, sizeof(hout) - 1);
	END();
	free(res.out);
	msg_free(&m);
	(void)close(ifd);
	(void)close(ofd);
	free(in);
	free(o);
}

/* --- property: random input never yields a bad wire form ------------------ */

static unsigned long long prop_state = 0x9e3779b97f4a7c15ULL;

static unsigned int
prop_rand(void)
{
	prop_state ^= prop_state << 13;
	prop_state ^= prop_state >> 7;
	prop_state ^= prop_state << 17;
	return (unsigned int)(prop_state >> 32);
}

/* A reference model of the body rules, written independently. */
static char *
prop_model(const char *in, size_t len, int iflag, size_t *outlen)
{
	char	*clean, *out, *line;
	size_t	 n = 0, i, ll, start, k, cap, on = 0;
	int	 first;

	if ((clean = malloc(len + 1)) == NULL ||
	    (out = malloc(len * 2 + 16)) == NULL)
		abort();
	for (i = 0; i < len; i++)
		if (in[i] != '\0')
			clean[n++] = in[i];
	for (i = 0; i < n;) {
		start = i;
		while (i < n && clean[i] != '\n' && clean[i] != '\r')
			i++;
		line = clean + start;
		ll = i - start;
		if (i < n) {	/* CR...CRLF, LF or bare CR: one line end */
			for (k = i; k < n && clean[k] == '\r'; k++)
				;
			i = k < n && clean[k] == '\n' ? k + 1 : i + 1;
		}
		/* a lone dot ends the input, with a line end or without */
		if (!iflag && ll == 1 && line[0] == '.')
			break;
		for (first = 1, cap = LINE_MAX_OCTETS;; first = 0) {
			k = ll > cap ? cap : ll;
			if (!first)
				out[on++] = ' ';
			else if (k > 0 && line[0] == '.')
				out[on++] = '.';
			memcpy(out + on, line, k);
			on += k;
			out[on++] = '\r';
			out[on++] = '\n';
			line += k;
			ll -= k;
			cap = LINE_MAX_OCTETS - 1;
			if (ll == 0)
				break;
		}
	}
	free(clean);
	*outlen = on;
	return out;
}

static void
test_property(void)
{
	static const char alpha[] = "a.\r\n\0\xff .";
	struct msg_result res;
	char		*in, *want;
	size_t		 len, i, wl;
	int		 iter, bad = 0, iflag, hdr;

	for (iter = 0; iter < 400 && !bad; iter++) {
		len = prop_rand() % (iter % 4 == 2 ? 5000 : 300);
		iflag = iter & 1;
		hdr = iter % 3 == 0;
		if ((in = malloc(len + 16)) == NULL)
			abort();
		i = 0;
		if (hdr)	/* a header with random bytes in it */
			memcpy(in, "Subject: ", (i = 9));
		else
			in[i++] = '\n';	/* empty header: all body */
		for (; i < len + 9; i++) {
			if (iter % 4 == 2 && prop_rand() % 1500 != 0)
				in[i] = 'x';	/* lines over 998 octets */
			else
				in[i] = alpha[prop_rand() % (sizeof(alpha) - 1)];
		}
		len = i;
		msg_run(in, len, iflag, 1LL << 30, NULL, NULL, &res);
		/* invariants on the queued data, header or not */
		for (i = 0; i < res.outlen && !bad; i++) {
			if (res.out[i] == '\0')
				bad = 1;
			if (res.out[i] == '\r' && (i + 1 == res.outlen ||
			    res.out[i + 1] != '\n'))
				bad = 2;
			if (res.out[i] == '\n' && (i == 0 ||
			    res.out[i - 1] != '\r'))
				bad = 3;
		}
		if (res.outlen >= 2 && memcmp(res.out + res.outlen - 2,
		    "\r\n", 2) != 0)
			bad = 4;
		if (memmem(res.out, res.outlen, "\r\n.\r\n", 5) != NULL ||
		    (res.outlen >= 3 && memcmp(res.out, ".\r\n", 3) == 0))
			bad = 5;
		for (i = 0, wl = 0; i < res.outlen && !bad; i++) {
			wl = res.out[i] == '\n' ? 0 : wl + 1;
			if (wl > LINE_MAX_OCTETS + 1)
				bad = 6;
		}
		if (res.rc != 0)
			bad = 7;
		if (!bad && !hdr) {	/* body: exactly the documented rules */
			want = prop_model(in + 1, len - 1, iflag, &wl);
			if (res.outlen != wl + 2 || memcmp(res.out, "\r\n", 2) != 0
			    || memcmp(res.out + 2, want, wl) != 0)
				bad = 8;
			free(want);
		}
		free(res.out);
		free(in);
	}
	CASE("property: random CR/LF/dot/NUL/8-bit/long input: CRLF only, "
	    "no early end of data, lines <= 998 + CRLF, body as specified");
	EXPECT_INT("first failure (0 = none; 1 NUL 2 CR 3 LF 4 end 5 dot "
	    "6 long 7 rc 8 model)", bad, 0);
	if (bad)
		EXPECT(0, "at iteration %d", iter - 1);
	END();
}

/* --- aliases ---------------------------------------------------------- */

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
	struct addr_list	 l = { NULL, 0 };
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

static void
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

/* --- spool: the DSN and SMTPUTF8 envelope records (sendmail -B -N -R -V) --- */

#define ENV_HEAD "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 1 a\nS a@x\n"

static void
test_spool_dsn(void)
{
	static const char ok[] = ENV_HEAD "B 8BITMIME\nD HDRS\nV env-1\n"
	    "F SMTPUTF8\nR b@x\nO b\nN SUCCESS,DELAY\nR c@x\nN NEVER\nR d@x\nM\n";
	struct qmsg	 m;
	char		 err[256] = "", buf[64];
	unsigned int	 bits;
	int		 rc;

	rc = spool_parse_envelope(ok, strlen(ok), &m, err, sizeof(err));
	CASE("spool: B, D, V, F and N records parsed");
	EXPECT_INT("rc", rc, 0);
	if (rc == 0) {
		EXPECT_INT("body_decl", m.body_decl, 8);
		EXPECT_INT("dsn_ret", m.dsn_ret, 2);
		EXPECT_STR("envid", m.envid, "env-1");
		EXPECT_INT("smtputf8", m.smtputf8, 1);
		EXPECT_INT("nrcpt", m.nrcpt, 3);
		EXPECT_INT("notify 0", m.rcpt[0].notify, DSN_NOTIFY_SUCCESS |
		    DSN_NOTIFY_DELAY);
		EXPECT_STR("orig 0", m.rcpt[0].orig, "b");
		EXPECT_INT("notify 1", m.rcpt[1].notify, DSN_NOTIFY_NEVER);
		EXPECT_INT("notify 2", m.rcpt[2].notify, 0);
		spool_free_msg(&m);
	}
	END();
	{
		static const char l[] = ENV_HEAD "L root\nR b@x\nM\n";

		rc = spool_parse_envelope(l, strlen(l), &m, err, sizeof(err));
		CASE("spool: L record (the local name of the sender)");
		EXPECT_INT("rc", rc, 0);
		if (rc == 0) {
			EXPECT_STR("local_sender", m.local_sender, "root");
			spool_free_msg(&m);
		}
		END();
	}
	env_bad("spool: L with a domain rejected", ENV_HEAD "L root@x\nR b@x\nM\n");
	env_bad("spool: L after an R rejected", ENV_HEAD "R b@x\nL root\nM\n");
	env_bad("spool: two L records rejected", ENV_HEAD "L a\nL b\nR b@x\nM\n");
	env_bad("spool: L for the null sender rejected",
	    "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 1 a\nS \nL a\nR b@x\nM\n");
	env_bad("spool: L with a space rejected", ENV_HEAD "L a b\nR b@x\nM\n");
	env_bad("spool: N before any R rejected", ENV_HEAD "N NEVER\nR b@x\nM\n");
	env_bad("spool: B after an R rejected", ENV_HEAD "R b@x\nB 7BIT\nM\n");
	env_bad("spool: two V records rejected",
	    ENV_HEAD "V a\nV b\nR b@x\nM\n");
	env_bad("spool: V with a space rejected", ENV_HEAD "V a b\nR b@x\nM\n");
	env_bad("spool: V with '+' rejected", ENV_HEAD "V a+b\nR b@x\nM\n");
	env_bad("spool: bad D value rejected", ENV_HEAD "D BODY\nR b@x\nM\n");
	env_bad("spool: bad F value rejected", ENV_HEAD "F 8BIT\nR b@x\nM\n");
	env_bad("spool: NEVER combined rejected",
	    ENV_HEAD "R b@x\nN NEVER,SUCCESS\nM\n");
	env_bad("spool: two N for one recipient rejected",
	    ENV_HEAD "R b@x\nN DELAY\nN FAILURE\nM\n");
	env_bad("spool: O after N rejected",
	    ENV_HEAD "R b@x\nN DELAY\nO b\nM\n");

	CHECK("spool: notify parse is case-insensitive, canonical output",
	    spool_notify_parse("delay,Success", &bits) == 0 &&
	    spool_notify_str(bits, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "SUCCESS,DELAY") == 0, "got \"%s\"", buf);
	CHECK("spool: notify parse rejects an empty item",
	    spool_notify_parse("success,", &bits) == -1, "accepted");
	CHECK("spool: envid of 101 characters rejected",
	    !spool_envid_ok("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"), "accepted");
}

/* auth.c: SASL mechanisms over buffers, with the RFCs' own vectors */
static void
auth_run(struct auth *a, const char *ch, const char *want, const char *name)
{
	char	 out[1024], err[256] = "";
	size_t	 olen = 0;
	int	 rc;

	rc = auth_step(a, ch, ch != NULL ? strlen(ch) : 0, out, sizeof(out),
	    &olen, err, sizeof(err));
	CASE(name);
	EXPECT_INT("auth_step", rc, 0);
	EXPECT_MEM("response", out, olen, want, strlen(want));
	END();
}

/*
 * A SCRAM-SHA-256 exchange with client nonce `nonce' up to the challenge
 * `ch' (after the server-first `sf' when not NULL): auth_step's result
 * for it, its error in `err'.
 */
static int
scram_upto(const char *nonce, const char *sf, const char *ch, char *err,
    size_t errsz)
{
	struct auth	 a;
	char		 out[1024];
	size_t		 olen;
	int		 rc;

	auth_start(&a, auth_mech_byname("SCRAM-SHA-256", 13), "user", "pencil",
	    "h", "587", nonce);
	(void)auth_step(&a, NULL, 0, out, sizeof(out), &olen, err, errsz);
	if (sf != NULL)
		(void)auth_step(&a, sf, strlen(sf), out, sizeof(out), &olen,
		    err, errsz);
	rc = auth_step(&a, ch, strlen(ch), out, sizeof(out), &olen, err,
	    errsz);
	auth_done(&a);
	return rc;
}

static void
test_auth(void)
{
	const struct auth_mech	*scram, *order[AUTH_MAXMECHS];
	struct auth		 a;
	struct conf		 c;
	char			 out[1024], err[256];
	size_t			 olen, n;
	int			 rc;
	static const char sf[] = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj"
	    ")hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

	scram = auth_mech_byname("scram-sha-256", 13);
	CASE("auth: SCRAM-SHA-256 known by name, any case");
	EXPECT(scram != NULL && scram->id == AUTH_SCRAM, "not found");
	END();
	if (scram == NULL)
		return;
	/* RFC 7677 section 3 */
	auth_start(&a, scram, "user", "pencil", "h", "587",
	    "rOprNGfwEbeRWgbNEkqO");
	auth_run(&a, NULL, "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "auth: SCRAM-SHA-256 client-first (RFC 7677)");
	auth_run(&a, sf, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)"
	    "hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "auth: SCRAM-SHA-256 client-final with the RFC 7677 proof");
	auth_run(&a, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "",
	    "auth: SCRAM-SHA-256 server signature of RFC 7677 verifies");
	CASE("auth: SCRAM-SHA-256 finished only after the server proof");
	EXPECT_INT("auth_finished", auth_finished(&a, err, sizeof(err)), 0);
	END();
	auth_done(&a);

	auth_start(&a, scram, "user", "pencil", "h", "587",
	    "rOprNGfwEbeRWgbNEkqO");
	(void)auth_step(&a, NULL, 0, out, sizeof(out), &olen, err, sizeof(err));
	(void)auth_step(&a, sf, strlen(sf), out, sizeof(out), &olen, err,
	    sizeof(err));
	rc = auth_step(&a, "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", 46,
	    out, sizeof(out), &olen, err, sizeof(err));
	CASE("auth: SCRAM-SHA-256 wrong server signature is refused");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "server signature does not verify");
	EXPECT(auth_finished(&a, err, sizeof(err)) == -1, "finished");
	END();
	auth_done(&a);

	rc = scram_upto("abc", NULL, "r=xyzdef,s=QSXCR+Q6sek8bf92,i=4096", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 server nonce must extend ours");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "server nonce does not extend");
	END();

	rc = scram_upto("abc", NULL, "r=abcdef,s=QSXCR+Q6sek8bf92,i=1", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 iteration count below 4096 refused");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "iteration count \"1\"");
	END();

	rc = scram_upto("abc", NULL, "r=abcdef,s=QSXCR+Q6sek8bf92,i=9\r\n", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 iteration count from the server is escaped "
	    "in the error");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_STR("error", err, "SCRAM-SHA-256: iteration count \"9\\r\\n\" "
	    "outside 4096..1000000");
	END();

	rc = scram_upto("rOprNGfwEbeRWgbNEkqO", sf, "e=x\033[1m\nS: 250", err,
	    sizeof(err));
	CASE("auth: SCRAM-SHA-256 server error text is escaped (fuzz_auth)");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_STR("error", err, "SCRAM-SHA-256: server error "
	    "\"x\\033[1m\\nS: 250\"");
	END();

	rc = scram_upto("abc", NULL, "m=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096",
	    err, sizeof(err));
	CASE("auth: SCRAM-SHA-256 unknown mandatory extension refused");
	EXPECT_INT("auth_step", rc, -1);
	EXPECT_HAS("error", err, "requires an extension");
	END();

	auth_start(&a, scram, "a,b=c", "pencil", "h", "587", "n1");
	auth_run(&a, NULL, "n,,n=a=2Cb=3Dc,r=n1",
	    "auth: SCRAM-SHA-256 user name escapes ',' and '='");
	auth_done(&a);

	/* RFC 2195 section 2 */
	auth_start(&a, auth_mech_byname("CRAM-MD5", 8), "tim",
	    "tanstaaftanstaaf", "h", "587", "n");
	auth_run(&a, NULL, "", "auth: CRAM-MD5 has no initial response");
	auth_run(&a, "<1896.697170952@postoffice.reston.mci.net>",
	    "tim b913a602c7eda7a495b4e6e7334d3890",
	    "auth: CRAM-MD5 digest of RFC 2195");
	auth_done(&a);

	auth_start(&a, auth_mech_byname("PLAIN", 5), "u", "pw", "h", "587",
	    "n");
	CASE("auth: PLAIN initial response is NUL user NUL password");
	EXPECT_INT("auth_step", auth_step(&a, NULL, 0, out, sizeof(out),
	    &olen, err, sizeof(err)), 0);
	EXPECT_MEM("response", out, olen, "\0u\0pw", 5);
	END();
	auth_done(&a);

	auth_start(&a, auth_mech_byname("XOAUTH2", 7), "u@example.org", "tok",
	    "smtp.example.org", "587", "n");
	auth_run(&a, NULL, "user=u@example.org\001auth=Bearer tok\001\001",
	    "auth: XOAUTH2 initial response");
	auth_run(&a, "{\"status\":\"401\"}", "",
	    "auth: XOAUTH2 error challenge answered with an empty line");
	CASE("auth: XOAUTH2 error JSON kept for the message");
	EXPECT_STR("detail", a.detail, "{\"status\":\"401\"}");
	END();
	auth_done(&a);

	auth_start(&a, auth_mech_byname("OAUTHBEARER", 11), "u@example.org",
	    "tok", "smtp.example.org", "587", "n");
	auth_run(&a, NULL, "n,a=u@example.org,\001host=smtp.example.org\001"
	    "port=587\001auth=Bearer tok\001\001",
	    "auth: OAUTHBEARER initial response (RFC 7628)");
	auth_run(&a, "{\"status\":\"invalid_token\"}", "\001",
	    "auth: OAUTHBEARER error challenge answered with %x01");
	auth_done(&a);

	conf_init(&c);
	n = auth_order(&c, order, AUTH_MAXMECHS);
	CASE("auth: default order SCRAM-SHA-256 PLAIN LOGIN, no CRAM-MD5");
	EXPECT_INT("count", n, 3);
	EXPECT(n == 3 && order[0]->id == AUTH_SCRAM &&
	    order[1]->id == AUTH_PLAIN && order[2]->id == AUTH_LOGIN,
	    "wrong order");
	END();
	c.auth_mechanisms = (char *)"xoauth2, CRAM-MD5 PLAIN";
	n = auth_order(&c, order, AUTH_MAXMECHS);
	CASE("auth: auth_mechanisms sets the order");
	EXPECT_INT("count", n, 3);
	EXPECT(n == 3 && order[0]->id == AUTH_XOAUTH2 &&
	    order[1]->id == AUTH_CRAMMD5 && order[2]->id == AUTH_PLAIN,
	    "wrong order");
	END();
	CASE("auth: unknown mechanism in auth_mechanisms refused");
	EXPECT_INT("auth_check_list", auth_check_list("PLAIN DIGEST-MD5", err,
	    sizeof(err)), -1);
	EXPECT_HAS("error", err, "unknown mechanism \"DIGEST-MD5\"");
	END();
	conf_init(&c);
	CASE("conf: tls_fingerprint, several per line, colons and case");
	EXPECT_INT("conf_set", conf_set(&c, "tls_fingerprint", "sha256:"
	    "0c5694c9573888989699b89dfd634e4a2ce6ccce8ec275e82fd164838c38b95e,"
	    " SHA256:C2:6D:21:1F:6E:48:62:96:0C:19:76:39:22:E2:F1:BB:C0:F6:B0:"
	    "EE:32:1A:4C:F3:19:FA:40:84:04:8E:B3:5A", err, sizeof(err)), 0);
	EXPECT_INT("pins", c.ntls_pin, 2);
	EXPECT(c.tls_pin[0][0] == 0x0c && c.tls_pin[0][31] == 0x5e &&
	    c.tls_pin[1][0] == 0xc2 && c.tls_pin[1][31] == 0x5a, "bytes");
	END();
	CASE("conf: tls_fingerprint of 63 hex digits refused");
	EXPECT_INT("conf_set", conf_set(&c, "tls_fingerprint", "sha256:"
	    "0c5694c9573888989699b89dfd634e4a2ce6ccce8ec275e82fd164838c38b95",
	    err, sizeof(err)), -1);
	END();
	CASE("conf: tls_fingerprint other than sha256 refused");
	EXPECT_INT("conf_set", conf_set(&c, "tls_fingerprint", "sha1:"
	    "0c5694c9573888989699b89dfd634e4a2ce6ccce", err, sizeof(err)), -1);
	EXPECT_HAS("error", err, "is not sha256: and 64 hex digits");
	END();
	conf_free(&c);
	{
		static const struct {
			const char	*pat, *host;
			int		 want;
		} nm[] = {
			{ "smtp.example.net", "smtp.example.net", 1 },
			{ "SMTP.Example.NET", "smtp.example.net", 1 },
			{ "smtp.example.net", "smtp.example.net.", 1 },
			{ "smtp.example.net", "mail.example.net", 0 },
			{ "*.example.net", "smtp.example.net", 1 },
			{ "*.example.net", "a.smtp.example.net", 0 },
			{ "*.example.net", "example.net", 0 },
			{ "*.example.net", ".example.net", 0 },
			{ "*.net", "example.net", 0 },
			{ "s*.example.net", "smtp.example.net", 0 },
			{ "*", "localhost", 0 },
			{ "*.*.net", "a.b.net", 0 },
			{ "smtp.example.net.evil", "smtp.example.net", 0 },
		};
		size_t	 k;

		for (k = 0; k < sizeof(nm) / sizeof(nm[0]); k++) {
			(void)snprintf(out, sizeof(out), "tls: name \"%s\" "
			    "%s \"%s\"", nm[k].pat, nm[k].want ? "matches" :
			    "does not match", nm[k].host);
			CASE(out);
			EXPECT_INT("tls_name_match", tls_name_match(
			    (const unsigned char *)nm[k].pat,
			    strlen(nm[k].pat), nm[k].host), nm[k].want);
			END();
		}
	}
	CASE("auth: EHLO AUTH list to capabilities");
	EXPECT_INT("caps", auth_caps("PLAIN SCRAM-SHA-256 GSSAPI login"),
	    CAP_AUTH_PLAIN | CAP_AUTH_SCRAM | CAP_AUTH_LOGIN);
	END();
}

/* ctl.c: the control socket's request parser reads any local user's bytes */
static int
ctl_try(const char *line, struct ctl_req *req, char *err, size_t errsz)
{
	return ctl_parse(line, strlen(line), req, err, errsz);
}

static void
test_ctl(void)
{
	static const char id[] = "0ABCDEFGHIJKLMNO";
	static const struct {
		const char	*line;
		const char	*err;	/* NULL: accepted */
	} bad[] = {
		{ "queue", "one line" },		/* no LF */
		{ "queue \n", "takes no argument" },
		{ "queue x\n", "takes no argument" },
		{ "status now\n", "takes no argument" },
		{ "show\n", "needs a queue id" },
		{ "show 0abcdefghijklmno\n", "is not a queue id" },
		{ "show 0ABCDEFGHIJKLMN\n", "is not a queue id" },
		{ "show 0ABCDEFGHIJKLMNOP\n", "is not a queue id" },
		{ "show 0ABCDEFGHIJKLMNO \n", "is not a queue id" },
		{ "show  0ABCDEFGHIJKLMNO\n", "is not a queue id" },
		{ "hold all\n", "is not a queue id" },
		{ "delete\n", "needs a queue id or \"all\"" },
		{ "QUEUE\n", "unknown command" },
		{ "\n", "unknown command" },
		{ "queue\r\n", "control character" },
		{ "show 0ABC\tDEFGHIJKLMNO\n", "control character" },
		{ "queue\nqueue\n", "control character" },
		{ "show \xc3\xa9\n", "non-ASCII" },
		{ "flush ../../etc/passwd\n", "is not a queue id" },
	};
	struct ctl_req	 req;
	char		 err[256], line[128], big[CTL_LINEMAX + 8];
	size_t		 i;

	CASE("ctl: every command with its argument");
	EXPECT_INT("queue", ctl_try("queue\n", &req, err, sizeof(err)), 0);
	EXPECT_INT("queue cmd", req.cmd, CTL_QUEUE);
	EXPECT_INT("status", ctl_try("status\n", &req, err, sizeof(err)), 0);
	EXPECT_INT("status cmd", req.cmd, CTL_STATUS);
	EXPECT_INT("flush", ctl_try("flush\n", &req, err, sizeof(err)), 0);
	EXPECT_INT("flush cmd", req.cmd, CTL_FLUSH);
	EXPECT_STR("flush: no id", req.id, "");
	(void)snprintf(line, sizeof(line), "flush %s\n", id);
	EXPECT_INT("flush ID", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_STR("flush ID: id", req.id, id);
	(void)snprintf(line, sizeof(line), "show %s\n", id);
	EXPECT_INT("show", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("show cmd", req.cmd, CTL_SHOW);
	(void)snprintf(line, sizeof(line), "hold %s\n", id);
	EXPECT_INT("hold", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("hold cmd", req.cmd, CTL_HOLD);
	(void)snprintf(line, sizeof(line), "release %s\n", id);
	EXPECT_INT("release", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("release cmd", req.cmd, CTL_RELEASE);
	(void)snprintf(line, sizeof(line), "delete %s\n", id);
	EXPECT_INT("delete", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("delete cmd", req.cmd, CTL_DELETE);
	EXPECT_INT("delete: not all", req.all, 0);
	EXPECT_INT("delete all", ctl_try("delete all\n", &req, err,
	    sizeof(err)), 0);
	EXPECT_INT("delete all: all", req.all, 1);
	EXPECT_STR("delete all: no id", req.id, "");
	END();

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)strlcpy(line, "ctl: refused: ", sizeof(line));
		unit_escape_mode(line + strlen(line), sizeof(line) -
		    strlen(line), bad[i].line, strlen(bad[i].line), 1);
		CASE(line);
		err[0] = '\0';
		EXPECT_INT("rc", ctl_try(bad[i].line, &req, err, sizeof(err)),
		    -1);
		EXPECT_HAS("message", err, bad[i].err);
		END();
	}

	CASE("ctl: request longer than CTL_LINEMAX refused");
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	EXPECT_INT("rc", ctl_try(big, &req, err, sizeof(err)), -1);
	EXPECT_HAS("message", err, "at most");
	END();

	/*
	 * Random requests, mostly near-valid: the parser must never read
	 * past the buffer (ASan builds check), and what it accepts is a
	 * command from the table with a well-formed id.
	 */
	CASE("ctl: random requests: accepted only when well formed");
	{
		static const char *const words[] = {
			"queue", "status", "show", "flush", "hold", "release",
			"delete", "all", " ", "\n", "0ABCDEFGHIJKLMNO", "\r",
			"x", "\t", "\xff", ".."
		};
		unsigned int	 seed = 4242, n, k, nbad = 0;
		size_t		 len;

		for (n = 0; n < 20000; n++) {
			len = 0;
			for (k = rand_r(&seed) % 5; k > 0; k--) {
				const char *w = words[rand_r(&seed) % 16];
				size_t	    wl = strlen(w);

				if (len + wl < sizeof(big)) {
					memcpy(big + len, w, wl);
					len += wl;
				}
			}
			if (ctl_parse(big, len, &req, err, sizeof(err)) == 0 &&
			    (big[len - 1] != '\n' || memchr(big, '\r', len) ||
			    req.cmd > CTL_DELETE || (req.id[0] != '\0' &&
			    !spool_id_ok(req.id))))
				nbad++;
		}
		EXPECT_INT("accepted but malformed", nbad, 0);
	}
	END();

	CASE("ctl: NUL inside the request refused");
	EXPECT_INT("rc", ctl_parse("show\0x\n", 7, &req, err, sizeof(err)),
	    -1);
	EXPECT_HAS("message", err, "control character");
	END();
}

/* files in `dir' */
static int
submit_count(const char *dir)
{
	struct dirent	**v;
	int		 n, i, files = 0;

	if ((n = scandir(dir, &v, NULL, NULL)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		files += v[i]->d_name[0] != '.';
		free(v[i]);
	}
	free(v);
	return files;
}

/*
 * submit.c, daemon side: the copy in drop/ is checked and carries the
 * daemon's own id, arrival time and user (the peer's uid from the
 * kernel), whatever the caller wrote; it is not importable (no trailer,
 * locked) until the commit.
 */
static void
test_submit(void)
{
	static const char data[] = "Subject: x\r\n\r\nhi\r\n";
	struct submit_held	 h;
	struct conf		 sconf;
	struct qmsg		 m;
	char			 file[512], err[256], dname[64];
	time_t			 now = time(NULL);
	int			 dfd, mfd, len, code;

	conf_init(&sconf);
	sconf.max_message_size = 1024 * 1024;
	(void)snprintf(dname, sizeof(dname), "submit.%u", tmpseq++);
	if (mkdir(tmp_path(dname), 0700) == -1 ||
	    (dfd = open(tmp_path(dname), O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	/* forged: another user's id, an arrival in 1970, root's name */
	len = snprintf(file, sizeof(file), "RELAYQ 1\nI 0000000000000001\n"
	    "T 1000\nU 0 root\nS a@b.example\nR c@d.example\nM\n%sE %zu "
	    "7BIT\n", data, sizeof(data) - 1);
	if ((mfd = tmp_fd(file, (size_t)len)) == -1)
		abort();
	err[0] = '\0';
	code = submit_prepare(mfd, 4242, dfd, &sconf, &h, err, sizeof(err));
	CASE("submit: a forged id, arrival time and user are replaced with "
	    "the daemon's own; not importable before the commit");
	EXPECT_INT("prepare", code, EX_OK);
	EXPECT(code != EX_OK || strcmp(h.id, "0000000000000001") != 0,
	    "the caller's id kept: %s", h.id);
	EXPECT(code != EX_OK || spool_open_msg(dfd, h.id, &m, err,
	    sizeof(err)) == -1, "importable before the commit");
	EXPECT_INT("commit", code == EX_OK ? submit_commit(&h, dfd, err,
	    sizeof(err)) : -1, 0);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	EXPECT_INT("committed file loads", spool_open_msg(dfd, h.id, &m, err,
	    sizeof(err)), 0);
	EXPECT_STR("id", m.id, h.id);
	EXPECT_INT("uid from the peer", (int)m.uid, 4242);
	EXPECT_STR("user from the uid", m.user != NULL ? m.user : "(none)",
	    "uid4242");
	EXPECT(m.arrival >= now && m.arrival <= time(NULL) + 1,
	    "arrival %lld, not the daemon's clock", (long long)m.arrival);
	spool_free_msg(&m);
	END();
	(void)close(mfd);

	len = snprintf(file, sizeof(file), "RELAYQ 1\nI 0000000000000002\n"
	    "T 1000\nU 4242 x\nS a@b.example\nM\n%sE %zu 7BIT\n", data,
	    sizeof(data) - 1);
	if ((mfd = tmp_fd(file, (size_t)len)) == -1)
		abort();
	code = submit_prepare(mfd, 4242, dfd, &sconf, &h, err, sizeof(err));
	CASE("submit: a file that is not a queue file (no recipient) is "
	    "refused, nothing left");
	EXPECT_INT("prepare", code, EX_DATAERR);
	EXPECT_INT("drop/ holds only the first", submit_count(tmp_path(dname)),
	    1);
	END();
	(void)close(mfd);
	(void)close(dfd);
}

/* idle.c: the resident set shrinks, and the program runs on */
static long
idle_rss_kb(void)
{
	char	 line[256];
	long	 kb = -1;
	FILE	*fp;

	if ((fp = fopen("/proc/self/status", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	(void)fclose(fp);
	return kb;
}

static void
test_idle(void)
{
	long	 before, after;
	char	 buf[64];

	before = idle_rss_kb();
	idle_trim();
	after = idle_rss_kb();
	CHECK("idle: idle_trim hands back resident text and heap",
	    before > 0 && after > 0 && after < before,
	    "VmRSS %ld kB before, %ld kB after", before, after);
	/* the text is mapped again on use: these calls run from it */
	(void)snprintf(buf, sizeof(buf), "%s %d", "still", 42);
	CHECK("idle: code unmapped by the trim runs again",
	    strcmp(buf, "still 42") == 0 && addr_valid("a@b.example"),
	    "got \"%s\"", buf);
}

/*
 * The groups, in the order they run.  `test/unit NAME...' runs only the
 * groups named, still in this order; `test/unit -l' lists the names.
 * Groups in their own file (unit_*.c) keep their own counters (unit.h's
 * state is per file) and add them to ours.
 */
static const struct unit_group {
	const char	*name;
	void		(*run)(void);
	void		(*run_counted)(unsigned int *, unsigned int *);
} unit_groups[] = {
	{ "addr", test_addr, NULL },
	{ "util", test_util, NULL },
	{ "conf", test_conf, NULL },
	{ "spool", test_spool, NULL },
	{ "msg", test_msg, NULL },
	{ "smtp", test_smtp, NULL },
	{ "masquerade", test_masquerade, NULL },
	{ "property", test_property, NULL },
	{ "aliases", test_aliases, NULL },
	{ "spool_dsn", test_spool_dsn, NULL },
	{ "auth", test_auth, NULL },
	{ "ctl", test_ctl, NULL },
	{ "submit", test_submit, NULL },
	{ "import", NULL, test_import },
	{ "smargs", NULL, test_smargs },
	{ "bs", NULL, test_bs },
	{ "drainq", NULL, test_drainq },
	{ "queueids", NULL, test_queueids },
	{ "sort", NULL, test_sort },
	{ "tls", NULL, test_tls },
	{ "spool_limits", NULL, test_spool_limits },
	{ "reload", NULL, test_reload },
	{ "idle", test_idle, NULL },	/* after the others have touched their code */
	{ "authcmd", NULL, test_authcmd },	/* last: SIGCHLD */
};
#define UNIT_NGROUPS	(sizeof(unit_groups) / sizeof(unit_groups[0]))

static void
unit_usage(void)
{
	(void)fprintf(stderr, "usage: test/unit [-l] [group ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const struct unit_group	*g;
	size_t			 i;
	int			 ch, j, list = 0;

	while ((ch = getopt(argc, argv, "l")) != -1) {
		if (ch != 'l')
			unit_usage();
		list = 1;
	}
	argc -= optind;
	argv += optind;
	for (j = 0; j < argc; j++) {
		for (i = 0; i < UNIT_NGROUPS; i++)
			if (strcmp(argv[j], unit_groups[i].name) == 0)
				break;
		if (i == UNIT_NGROUPS) {
			(void)fprintf(stderr, "test/unit: no group \"%s\" "
			    "(test/unit -l lists them)\n", argv[j]);
			return 2;
		}
	}
	if (list) {
		for (i = 0; i < UNIT_NGROUPS; i++)
			(void)printf("%s\n", unit_groups[i].name);
		return 0;
	}

	(void)signal(SIGPIPE, SIG_IGN);
	unit_watchdog(60);
	if (mkdtemp(tmpdir) == NULL) {
		(void)printf("not ok - unit: scratch directory: %s\n",
		    strerror(errno));
		return 1;
	}
	tmpdir_made = 1;
	if (atexit(tmp_cleanup) != 0)
		return 1;

	for (g = unit_groups; g < unit_groups + UNIT_NGROUPS; g++) {
		for (j = 0; j < argc; j++)
			if (strcmp(argv[j], g->name) == 0)
				break;
		if (argc > 0 && j == argc)
			continue;
		if (g->run != NULL)
			g->run();
		else
			g->run_counted(&unit.run, &unit.failed);
	}

	(void)fprintf(stderr, "# %u tests, %u failed\n", unit.run,
	    unit.failed);
	return unit.failed > 0 ? 1 : 0;
}
