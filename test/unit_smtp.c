/*
 * Unit tests for src/smtp.c: the reply and EHLO parsers, sessions against a
 * scripted peer, the bytes sent for a message.
 * Linked into test/unit; group smtp in unit.c's table.
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

#include <mbedtls/base64.h>

#include "relayq.h"
#include "client.h"
#include "unit.h"

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
	f->conf.route[0].helo_name = fx_helo;
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
	f->s.route = &f->conf.route[0];
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		f->conf.route[0].auth_user = fx_user;
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
		m.dsn_ret = DSN_RET_HDRS;
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
		m.dsn_ret = DSN_RET_FULL;
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
		m.smtputf8 = SMTPUTF8_NEEDED;
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
		m.smtputf8 = SMTPUTF8_NEEDED;
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

void
test_smtp(void)
{
	test_smtp_parse();
	test_smtp_session();
	test_smtp_send();
}
