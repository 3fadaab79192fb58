/*
 * Unit tests for src/bs.c, the sendmail -bs session, driven through
 * bs_session with the client's bytes in a memory file, the replies in
 * memory and the queue step replaced (no fork): the exact reply bytes,
 * the data handed to the queue step, and how the session ends.
 * Linked into test/unit; its table of groups runs test_bs().
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "unit.h"

/* what the queue step saw, and what it answers */
struct bs_seen {
	char	 data[256];
	size_t	 len;
	char	 sender[64];
	int	 nrcpt;
	int	 status;
	int	 calls;
	int	 ret, body;
	unsigned int notify;
	char	 envid[128];
};

static int
bs_test_queue(void *arg, int mfd, struct bs_job *job, char *id, size_t idsz)
{
	struct bs_seen	*s = arg;
	ssize_t		 n;

	s->calls++;
	n = read(mfd, s->data, sizeof(s->data) - 1);
	s->len = n > 0 ? (size_t)n : 0;
	(void)strlcpy(s->sender, job->sender, sizeof(s->sender));
	s->nrcpt = job->nrcpt;
	s->ret = job->ret;
	s->body = job->body;
	s->notify = job->notify;
	(void)strlcpy(s->envid, job->envid != NULL ? job->envid : "",
	    sizeof(s->envid));
	(void)strlcpy(id, "0000000000000001", idsz);
	return s->status;
}

/* one session on `in'; the replies (malloc'd) and how it ended */
static char *
bs_run(const char *in, FILE *out, struct bs_seen *seen, int *end)
{
	struct bs_io	 io = { -1, NULL, bs_test_queue, NULL, NULL, 0 };
	struct bs_job	 job = { .idfd = -1 };
	char		*buf = NULL;
	size_t		 len = 0;

	io.arg = seen;
	if ((io.in = memfd_create("unit-bs", MFD_CLOEXEC)) == -1 ||
	    write(io.in, in, strlen(in)) != (ssize_t)strlen(in) ||
	    lseek(io.in, 0, SEEK_SET) == -1)
		return NULL;
	io.out = out != NULL ? out : open_memstream(&buf, &len);
	if (io.out == NULL)
		return NULL;
	*end = bs_session(&io, "mx.test", 1000, &job);
	(void)fclose(io.out);
	(void)close(io.in);
	return out != NULL ? strdup("") : buf;
}

void
test_bs(void)
{
	struct bs_seen	 seen;
	char		*got;
	int		 end = -1;
	FILE		*full;

	memset(&seen, 0, sizeof(seen));
	got = bs_run("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
	    "..dot\r\n.\r\nQUIT\r\n", NULL, &seen, &end);
	CASE("bs: a transaction reaches the queue step unstuffed; 250 with "
	    "its id");
	EXPECT_STR("replies", got, "220 mx.test ESMTP relayq " RELAYQ_VERSION
	    " (sendmail -bs)\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n"
	    "250 2.0.0 Ok: queued as 0000000000000001\r\n221 2.0.0 Bye\r\n");
	EXPECT_BYTES("data", seen.data, seen.len, ".dot\r\n");
	EXPECT_STR("sender", seen.sender, "a@x.org");
	EXPECT_INT("recipients", seen.nrcpt, 1);
	EXPECT_INT("end", end, BS_CLOSED);
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	seen.status = EX_TEMPFAIL << 8;
	got = bs_run("MAIL FROM:<a@x.org> X=\001\033[2J\rY\r\n", NULL, &seen,
	    &end);
	/* fuzz_bs: the option went back to the client as it came */
	CASE("bs: 555 shows the client's option escaped, one line of text");
	EXPECT_STR("replies", got, "220 mx.test ESMTP relayq " RELAYQ_VERSION
	    " (sendmail -bs)\r\n555 5.5.4 Unsupported option: "
	    "X=\\001\\033[2J\\rY\r\n");
	EXPECT_INT("end (input over)", end, BS_CLOSED);
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	seen.status = EX_TEMPFAIL << 8;
	got = bs_run("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
	    "x\r\n.\r\n", NULL, &seen, &end);
	CASE("bs: the queue step's exit 75 is a 451, never a 250");
	EXPECT_HAS("replies", got, "\r\n451 4.3.0 Message not queued (exit "
	    "75): try again later\r\n");
	EXPECT(strstr(got, "250 2.0.0") == NULL, "250 sent: %s", got);
	END();
	free(got);

	/* SMTP smuggling: <LF>.<LF> and <LF>.<CR><LF> end nothing */
	memset(&seen, 0, sizeof(seen));
	got = bs_run("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
	    "hi\n.\nMAIL FROM:<ceo@bank.example>\r\nRCPT TO:<v@y.org>\r\n"
	    "DATA\r\nforged\n.\r\nend\r\n.\r\nQUIT\r\n", NULL, &seen,
	    &end);
	CASE("bs: bare LF lines taken as CRLF; a dot after one ends nothing "
	    "(one message, as Postfix's forbid_bare_newline=normalize)");
	EXPECT_INT("transactions", seen.calls, 1);
	EXPECT_BYTES("data", seen.data, seen.len, "hi\r\n\r\nMAIL FROM:"
	    "<ceo@bank.example>\r\nRCPT TO:<v@y.org>\r\nDATA\r\nforged\r\n"
	    "\r\nend\r\n");
	EXPECT(got != NULL && strstr(got, "250 2.0.0 Ok: queued") != NULL &&
	    strstr(strstr(got, "250 2.0.0 Ok: queued") + 1, "250 2.0.0 Ok: "
	    "queued") == NULL, "not exactly one 250 for DATA: %s", got);
	EXPECT_INT("end", end, BS_CLOSED);
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	got = bs_run("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
	    "a\r\n.\nb\r\r\n.\r\n", NULL, &seen, &end);
	CASE("bs: a lone dot ending in a bare LF is data; a bare CR is kept "
	    "for the -bm reader");
	EXPECT_INT("transactions", seen.calls, 1);
	EXPECT_BYTES("data", seen.data, seen.len, "a\r\n\r\nb\r\r\n");
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	got = bs_run("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org>\r\nDATA\r\n"
	    "a\n.\n", NULL, &seen, &end);
	CASE("bs: input ending after <LF>.<LF> queues nothing");
	EXPECT_INT("transactions", seen.calls, 0);
	EXPECT_INT("end", end, BS_CLOSED);
	END();
	free(got);

	full = fopen("/dev/full", "w");
	got = full != NULL ? bs_run("NOOP\r\n", full, &seen, &end) : NULL;
	CASE("bs: a reply that cannot be written ends the session "
	    "(BS_IOERR)");
	EXPECT(full != NULL, "/dev/full: not here");
	EXPECT_INT("end", end, BS_IOERR);
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	got = bs_run("EHLO c\r\nMAIL FROM:<a@x.org> RET=HDRS ENVID=a+2Db "
	    "BODY=8BITMIME\r\nRCPT TO:<b@y.org> NOTIFY=SUCCESS,DELAY "
	    "ORCPT=rfc822;b@y.org\r\nDATA\r\nx\r\n.\r\nQUIT\r\n", NULL,
	    &seen, &end);
	CASE("bs: EHLO offers DSN; RET, ENVID (xtext), NOTIFY and BODY reach "
	    "the queue step");
	EXPECT_HAS("EHLO", got, "\r\n250-DSN\r\n");
	EXPECT_INT("transactions", seen.calls, 1);
	EXPECT_INT("RET", seen.ret, DSN_RET_HDRS);
	EXPECT_STR("ENVID", seen.envid, "a-b");
	EXPECT_INT("NOTIFY", seen.notify, DSN_NOTIFY_SUCCESS |
	    DSN_NOTIFY_DELAY);
	EXPECT_INT("BODY", seen.body, BODY_8BITMIME);
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	got = bs_run("MAIL FROM:<a@x.org>\r\nRCPT TO:<b@y.org> NOTIFY=NEVER"
	    "\r\nRCPT TO:<c@y.org>\r\nRCPT TO:<d@y.org> NOTIFY=NEVER\r\n"
	    "MAIL FROM:<a@x.org> ENVID=a+2Bb\r\nQUIT\r\n", NULL, &seen, &end);
	CASE("bs: another NOTIFY in one transaction is 452 (send it later); "
	    "an ENVID that decodes to '+' is 501");
	EXPECT_HAS("452", got, "250 2.1.5 Ok\r\n452 4.5.3 Error: another "
	    "NOTIFY than this transaction's recipients");
	EXPECT_HAS("same NOTIFY", got, "transaction\r\n250 2.1.5 Ok\r\n");
	EXPECT_HAS("nested MAIL", got, "503 5.5.1 Error: nested MAIL");
	END();
	free(got);

	memset(&seen, 0, sizeof(seen));
	got = bs_run("MAIL FROM:<a@x.org> ENVID=a+2Bb\r\nMAIL FROM:<a@x.org> "
	    "ENVID=a+2\r\nHELP\r\nQUIT\r\n", NULL, &seen, &end);
	CASE("bs: a bad ENVID is 501; HELP is 214");
	EXPECT_HAS("envid", got, "\r\n501 5.5.4 Bad ENVID parameter (1-100 "
	    "printable characters, xtext)\r\n501 5.5.4 Bad ENVID");
	EXPECT_HAS("help", got, "\r\n214 2.0.0 Commands: ");
	END();
	free(got);

	{
		char	 in[4096];
		size_t	 i;

		in[0] = '\0';
		for (i = 0; i < 25; i++)
			(void)strlcat(in, "BOGUS\r\n", sizeof(in));
		memset(&seen, 0, sizeof(seen));
		got = bs_run(in, NULL, &seen, &end);
		CASE("bs: the 20th error ends the session with 421");
		EXPECT_HAS("421", got, "502 5.5.2 Error: command not "
		    "recognized\r\n421 4.7.0 mx.test Error: too many errors"
		    "\r\n");
		EXPECT(strstr(strstr(got, "421"), "502") == NULL, "went on "
		    "after 421: %s", got);
		END();
		free(got);

		in[0] = '\0';
		for (i = 0; i < 110; i++)
			(void)strlcat(in, "NOOP\r\n", sizeof(in));
		memset(&seen, 0, sizeof(seen));
		got = bs_run(in, NULL, &seen, &end);
		CASE("bs: more than 100 commands without mail end the session "
		    "with 421");
		EXPECT_HAS("421", got, "250 2.0.0 Ok\r\n421 4.7.0 mx.test "
		    "Error: too many commands without mail\r\n");
		END();
		free(got);
	}

	/* this file's cases count in test/unit's totals */}
