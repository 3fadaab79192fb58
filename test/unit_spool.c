/*
 * Unit tests for src/spool.c, the queue file format: the envelope
 * parser, the trailer, the data's wire form, state files (group spool);
 * the DSN and SMTPUTF8 records (spool_dsn); the limits sendmail checks
 * with the daemon's own parser (spool_check_envelope), the quarantine's
 * lenient reader (spool_salvage) and the envelope writer (spool_limits).
 * Linked into test/unit; groups spool, spool_dsn and spool_limits in
 * unit.c's table.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "unit.h"

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

	(void)snprintf(path, sizeof(path), "%s/q/%s", tmp_dir(), name);
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
void
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

void
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
	(void)snprintf(path, sizeof(path), "%s/q", tmp_dir());
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

	(void)snprintf(path, sizeof(path), "%s/q/valid", tmp_dir());
	fd = open(path, O_RDONLY);
	rc = fd == -1 ? -2 : spool_load_fd(fd, &m, err, sizeof(err));
	if (rc == 0)
		spool_free_msg(&m);		/* closes fd */
	else if (fd != -1)
		(void)close(fd);
	(void)snprintf(path, sizeof(path), "%s/q/short", tmp_dir());
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
	(void)snprintf(path, sizeof(path), "%s/state", tmp_dir());
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
	(void)snprintf(path, sizeof(path), "%s/state/%s", tmp_dir(), m.id);
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

/* --- spool: the DSN and SMTPUTF8 envelope records (sendmail -B -N -R -V) --- */

#define ENV_HEAD "RELAYQ 1\nI 0123456789ABCDEF\nT 1\nU 1 a\nS a@x\n"

void
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
		EXPECT_INT("body_decl", m.body_decl, BODY_8BITMIME);
		EXPECT_INT("dsn_ret", m.dsn_ret, DSN_RET_HDRS);
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

#define SL_HEAD	"RELAYQ 1\nI 1LH0000000000001\nT 1\nU 1000 u\nS a@x.org\n"

/* An envelope with n recipients of `width' characters each, "M" ended. */
static char *
sl_envelope(size_t n, size_t width, size_t *len)
{
	char	*buf, *p;
	size_t	 i, sz = sizeof(SL_HEAD) + n * (width + 4) + 4;

	if ((buf = malloc(sz)) == NULL)
		abort();
	p = buf + strlcpy(buf, SL_HEAD, sz);
	for (i = 0; i < n; i++) {
		/* "R " + local part + "@x.org": width characters in all */
		p += sprintf(p, "R %0*zu@x.org\n", (int)(width - 6), i);
	}
	p += sprintf(p, "M\n");
	*len = (size_t)(p - buf);
	return buf;
}

static void
test_spool_check_envelope(void)
{
	char	 err[256], *env;
	size_t	 len;

	CASE("spool: the envelope limits sendmail checks are the parser's");
	env = sl_envelope(SPOOL_RCPTMAX, 20, &len);
	EXPECT_INT("10000 recipients accepted",
	    spool_check_envelope(env, len, err, sizeof(err)), 0);
	free(env);
	env = sl_envelope(SPOOL_RCPTMAX + 1, 20, &len);
	EXPECT_INT("10001 recipients refused",
	    spool_check_envelope(env, len, err, sizeof(err)), -1);
	EXPECT_STR("10001 recipients: reason", err, "more than 10000 recipients");
	free(env);
	/* 2 300 addresses of 486 characters: over 1 MiB */
	env = sl_envelope(2300, 486, &len);
	EXPECT_INT("over 1 MiB refused",
	    spool_check_envelope(env, len, err, sizeof(err)), -1);
	EXPECT_STR("over 1 MiB: reason", err, "envelope larger than 1048576 "
	    "bytes");
	free(env);
	/* 2 100 of them: under 1 MiB, accepted */
	env = sl_envelope(2100, 486, &len);
	EXPECT_INT("under 1 MiB accepted",
	    spool_check_envelope(env, len, err, sizeof(err)), 0);
	free(env);
	env = sl_envelope(1, 20, &len);
	EXPECT_INT("without its M line refused",
	    spool_check_envelope(env, len - 2, err, sizeof(err)), -1);
	EXPECT_STR("without its M line: reason", err, "incomplete envelope");
	free(env);
	END();
}

static int
sl_memfd(const char *s, size_t len)
{
	int	 fd;

	if ((fd = memfd_create("unit-spool", 0)) == -1 ||
	    write(fd, s, len) != (ssize_t)len)
		abort();
	return fd;
}

static void
test_spool_salvage(void)
{
	static const char bad[] = SL_HEAD "R not an address\nR b@y.org\n"
	    "X what\nM\nSubject: s\r\n\r\nbody\r\nE 20 7BIT\n";
	static const char cut[] = SL_HEAD "R b@y.org\nM\nSubject: s\r\n";
	static const char crlf[] = SL_HEAD "R b@y.org\nM\nE 1 7BIT\r\n";
	struct qmsg	 m;
	char		 err[256];
	int		 fd;

	CASE("spool: salvage reads a committed file the parser refuses");
	fd = sl_memfd(bad, sizeof(bad) - 1);
	EXPECT_INT("the parser refuses it", spool_load_fd(fd, &m, err,
	    sizeof(err)), -1);
	EXPECT_INT("committed", spool_salvage(fd, &m), 0);
	EXPECT_STR("id", m.id, "1LH0000000000001");
	EXPECT_STR("sender", m.sender, "a@x.org");
	EXPECT_INT("uid", m.uid, 1000);
	/* the state file numbers recipients by position: an unreadable
	   one keeps its place, with an empty address */
	EXPECT_INT("both recipients, in place", m.nrcpt, 2);
	EXPECT_STR("unreadable", m.nrcpt == 2 ? m.rcpt[0].addr : "?", "");
	EXPECT_STR("recipient", m.nrcpt == 2 ? m.rcpt[1].addr : "", "b@y.org");
	EXPECT_INT("data offset", m.dataoff, sizeof(bad) - 1 - 20 - 10);
	EXPECT_INT("data length", m.datalen, 20);
	EXPECT_INT("fd not taken", m.fd, -1);
	spool_free_msg(&m);
	(void)close(fd);
	END();

	CASE("spool: salvage refuses a file without a commit mark");
	fd = sl_memfd(cut, sizeof(cut) - 1);
	EXPECT_INT("killed before the trailer", spool_salvage(fd, &m), -1);
	spool_free_msg(&m);
	(void)close(fd);
	/* a data line ends in CRLF: it cannot pass for the trailer */
	fd = sl_memfd(crlf, sizeof(crlf) - 1);
	EXPECT_INT("a CRLF line is not a trailer", spool_salvage(fd, &m), -1);
	spool_free_msg(&m);
	(void)close(fd);
	fd = sl_memfd("", 0);
	EXPECT_INT("empty file", spool_salvage(fd, &m), -1);
	spool_free_msg(&m);
	(void)close(fd);
	END();
}

/*
 * The one writer of the envelope (sendmail and the bounces use it): every
 * record in its place, and what it writes parses back to the same values.
 */
static void
test_spool_write_envelope(void)
{
	static const char want[] = "RELAYQ 1\nI 1LH0000000000001\nT 42\n"
	    "U 1000 alice\nS alice@x.org\nL alice\nB 8BITMIME\nD HDRS\n"
	    "V env-1\nF UTF8HEADER\nR b@x.org\nO b\nN SUCCESS,DELAY\n"
	    "R c@x.org\nN NEVER\nR d@x.org\nM\n";
	static const char bare[] = "RELAYQ 1\nI 1LH0000000000002\nT 7\n"
	    "U 0 relayq\nS \nR e@x.org\nM\n";
	struct qmsg	 m, back;
	char		 err[256], *env = NULL;
	size_t		 len = 0;

	CASE("spool: the envelope writer puts every record in its place");
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	(void)strlcpy(m.id, "1LH0000000000001", sizeof(m.id));
	m.arrival = 42;
	m.uid = 1000;
	m.user = strdup("alice");
	m.sender = strdup("alice@x.org");
	m.local_sender = strdup("alice");
	m.body_decl = BODY_8BITMIME;
	m.dsn_ret = DSN_RET_HDRS;
	(void)strlcpy(m.envid, "env-1", sizeof(m.envid));
	m.smtputf8 = SMTPUTF8_HEADER;
	EXPECT_INT("add b", spool_add_rcpt(&m, "b@x.org", "b",
	    DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY), 0);
	EXPECT_INT("add c", spool_add_rcpt(&m, "c@x.org", NULL,
	    DSN_NOTIFY_NEVER), 0);
	EXPECT_INT("add d", spool_add_rcpt(&m, "d@x.org", NULL, 0), 0);
	EXPECT_INT("rc", spool_write_envelope(&m, &env, &len), 0);
	EXPECT_BYTES("envelope", env, len, want);
	END();

	CASE("spool: what the envelope writer writes parses back the same");
	EXPECT_INT("parse", spool_parse_envelope(env, len, &back, err,
	    sizeof(err)), 0);
	EXPECT_INT("data offset", back.dataoff, len);
	EXPECT_STR("sender", back.sender, m.sender);
	EXPECT_STR("local sender", back.local_sender, m.local_sender);
	EXPECT_INT("body", back.body_decl, m.body_decl);
	EXPECT_INT("ret", back.dsn_ret, m.dsn_ret);
	EXPECT_INT("F", back.smtputf8, m.smtputf8);
	EXPECT_INT("recipients", back.nrcpt, 3);
	if (back.nrcpt == 3) {
		EXPECT_STR("orig", back.rcpt[0].orig, "b");
		EXPECT_INT("notify", back.rcpt[0].notify, m.rcpt[0].notify);
		EXPECT_INT("never", back.rcpt[1].notify, DSN_NOTIFY_NEVER);
		EXPECT(back.rcpt[2].orig == NULL, "d has no original");
	}
	spool_free_msg(&back);
	spool_free_msg(&m);
	free(env);
	env = NULL;
	END();

	CASE("spool: a bounce's envelope has the null sender, no options");
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	(void)strlcpy(m.id, "1LH0000000000002", sizeof(m.id));
	m.arrival = 7;
	m.user = strdup("relayq");
	m.sender = strdup("");
	EXPECT_INT("add", spool_add_rcpt(&m, "e@x.org", NULL, 0), 0);
	EXPECT_INT("rc", spool_write_envelope(&m, &env, &len), 0);
	EXPECT_BYTES("envelope", env, len, bare);
	spool_free_msg(&m);
	free(env);
	END();
}

void
test_spool_limits(void)
{
	test_spool_check_envelope();
	test_spool_salvage();
	test_spool_write_envelope();
}
