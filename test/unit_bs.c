/*
 * Unit tests for src/bs.c, the sendmail -bs session, driven through
 * bs_session with the client's bytes in a memory file, the replies in
 * memory and the queue step replaced (no fork): the exact reply bytes,
 * the data handed to the queue step, and how the session ends.
 * Linked into test/unit; its table of groups runs test_bs().
 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "lproto.h"
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

/*
 * One session on `in' under a session helper: `answers' are the
 * helper's replies on the control channel, written before the session
 * starts; what sendmail sent on it goes to `asked'.  The replies
 * (malloc'd).
 */
static char *
bs_run_helped(const char *in, unsigned int flags, const char *answers,
    char *asked, size_t askedsz, struct bs_seen *seen)
{
	struct bs_io	 io = { -1, NULL, bs_test_queue, NULL, "[192.0.2.7]",
			    0, -1, 0 };
	struct bs_job	 job = { .idfd = -1 };
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1 ||
	    write(sp[1], answers, strlen(answers)) !=
	    (ssize_t)strlen(answers))
		return NULL;
	io.arg = seen;
	io.ctl = sp[0];
	io.flags = flags;
	if ((io.in = memfd_create("unit-bs", MFD_CLOEXEC)) == -1 ||
	    write(io.in, in, strlen(in)) != (ssize_t)strlen(in) ||
	    lseek(io.in, 0, SEEK_SET) == -1 ||
	    (io.out = open_memstream(&buf, &len)) == NULL)
		return NULL;
	(void)bs_session(&io, "mx.test", 1000, &job);
	(void)fclose(io.out);
	(void)close(io.in);
	(void)close(sp[0]);
	n = recv(sp[1], asked, askedsz - 1, MSG_DONTWAIT);
	asked[n > 0 ? n : 0] = '\0';
	(void)close(sp[1]);
	free(job.auth_user);
	return buf;
}

/* one session on `in'; the replies (malloc'd) and how it ended */
static char *
bs_run(const char *in, FILE *out, struct bs_seen *seen, int *end)
{
	struct bs_io	 io = { -1, NULL, bs_test_queue, NULL, NULL, 0, -1, 0 };
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

/* AUTH and STARTTLS, which exist only under the listener's helper */
static void
test_bs_helped(void)
{
	struct bs_seen	 seen;
	char		 asked[512], *got;

	memset(&seen, 0, sizeof(seen));
	got = bs_run_helped("EHLO c\r\nMAIL FROM:<a@x.org>\r\n"
	    "AUTH PLAIN AGFwcAB3cm9uZw==\r\nAUTH LOGIN YXBw\r\n"
	    "czNjcmV0IHBhc3M=\r\nMAIL FROM:<a@x.org>\r\nQUIT\r\n",
	    LPROTO_F_AUTH | LPROTO_F_PLAINAUTH, "N\nY\n", asked,
	    sizeof(asked), &seen);
	CASE("bs: a client that may not relay: 530 before AUTH, 535 for a "
	    "wrong password, 235 and MAIL after the right one");
	EXPECT_STR("replies", got, "220 mx.test ESMTP relayq\r\n"
	    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
	    "250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n"
	    "250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n"
	    "530 5.7.0 Authentication required\r\n"
	    "535 5.7.8 Error: authentication failed\r\n"
	    "334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"
	    "250 2.1.0 Ok\r\n221 2.0.0 Bye\r\n");
	EXPECT_STR("asked the helper", asked, "A PLAIN app wrong\n"
	    "A LOGIN app s3cret pass\n");
	END();
	free(got);

	got = bs_run_helped("EHLO c\r\nAUTH PLAIN AGFwcAB4\r\nQUIT\r\n",
	    LPROTO_F_AUTH | LPROTO_F_TLS | LPROTO_F_RELAY, "", asked,
	    sizeof(asked), &seen);
	CASE("bs: off loopback, AUTH is not offered before TLS, nor taken");
	EXPECT_HAS("STARTTLS offered", got, "250-STARTTLS\r\n");
	EXPECT(got != NULL && strstr(got, "AUTH") == NULL, "AUTH offered: %s",
	    got != NULL ? got : "(no session)");
	EXPECT_HAS("AUTH refused", got, "503 5.5.1 Error: authentication "
	    "not enabled\r\n");
	EXPECT_STR("asked the helper", asked, "");
	END();
	free(got);

	/* one write: STARTTLS and a command behind it (CVE-2011-0411) */
	got = bs_run_helped("EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.org>"
	    "\r\n", LPROTO_F_TLS | LPROTO_F_RELAY, "R\n", asked,
	    sizeof(asked), &seen);
	CASE("bs: STARTTLS drops what was pipelined behind it (the helper "
	    "answers 220)");
	EXPECT(got != NULL && strcmp(got + strlen(got) - 25, "250 "
	    "ENHANCEDSTATUSCODES\r\n") == 0, "replies: %s",
	    got != NULL ? got : "(no session)");
	EXPECT(got != NULL && strstr(got, "250 2.1.0") == NULL, "the MAIL "
	    "behind STARTTLS was executed: %s", got != NULL ? got :
	    "(no session)");
	EXPECT_STR("asked the helper", asked, "T\nG\n");
	END();
	free(got);
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

	test_bs_helped();
}
