/*
 * Unit tests for the queue file limits and the quarantine's reader
 * (src/spool.c): spool_check_envelope, which sendmail runs on the
 * envelope it built so that the daemon never refuses a file it was
 * handed, and spool_salvage, which reads what a bounce needs from a
 * committed file the parser refused; spool_write_envelope, the writer
 * of the format.
 * Linked into test/unit; main() there calls test_spool_limits().
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "unit.h"

void	 test_spool_limits(unsigned int *, unsigned int *);

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
	EXPECT_INT("only the valid recipient", m.nrcpt, 1);
	EXPECT_STR("recipient", m.nrcpt == 1 ? m.rcpt[0].addr : "", "b@y.org");
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
test_spool_limits(unsigned int *run, unsigned int *failed)
{
	test_spool_check_envelope();
	test_spool_salvage();
	test_spool_write_envelope();
	/* this file's cases count in test/unit's totals */
	*run += unit.run;
	*failed += unit.failed;
}
