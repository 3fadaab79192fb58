/*
 * Unit tests for src/msg.c: reading and repairing a message, its wire form; the
 * header rewrites (masquerading) and a property check on random input.
 * Linked into test/unit; groups msg, masquerade, property in unit.c's table.
 */
#include <sys/types.h>
#include <sys/socket.h>
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
#include "msg.h"
#include "unit.h"

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
	struct addr_list	 l = ADDR_LIST_EMPTY;
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

void
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
	rcpt_case("msg: -t with Resent-From but no Resent-To/Cc/Bcc uses "
	    "To, Cc, Bcc",
	    "To: a@x\nCc: b@y\nResent-From: r@x\nResent-Date: Thu, 1 Jan "
	    "2024 00:00:00 +0000\nBcc: c@z\n\nbody\n", 0, "a@x|b@y|c@z");
	rcpt_case("msg: -t with a folded To field",
	    "To: a@x,\n b@y,\n\tc@z\nSubject: s\n\n", 0, "a@x|b@y|c@z");
	rcpt_case("msg: -t with an unbalanced address is an error",
	    "To: \"a@x\n\n", -1, "");
}

/* --- masquerading (addr_masquerade, msg_hdr_masquerade) ----------------- */

static unsigned int prop_rand(void);

const char *const masq_locals[] = { "localhost",
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

void
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

void
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
