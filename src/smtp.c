/*
 * The SMTP client: reply parser, EHLO capabilities, session set-up
 * (greeting, EHLO, STARTTLS, EHLO again, AUTH) and one transaction per
 * queued message.  It talks through struct conn only, so the unit tests
 * drive it with a scripted server.
 *
 * Replies are parsed strictly: a hostile smarthost gets no more than a
 * deferred message and a sanitised log line (OpenSMTPD's CVE-2020-8794
 * was a client-side reply parsing bug).
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <mbedtls/base64.h>

#include "relayq.h"
#include "client.h"

#define SMTP_LINEMAX	2048	/* RFC 5321 says 512; be lenient, bounded */

/*
 * Add one reply line (without CRLF).  Returns 1 when the reply is
 * complete, 0 when more lines follow, -1 when the line is malformed:
 * not "DDD", "DDD text" or "DDD-text", a code that differs from the first
 * line's, a control character, or more than the caps allow.
 */
int
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	size_t	 i;
	int	 code;

	if (r->nlines == 0) {
		r->code = 0;
		r->len = 0;
		r->text[0] = '\0';
	}
	if (len < 3 || len > SMTP_LINEMAX || r->nlines >= REPLY_LINES)
		return -1;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)line[i]))
			return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (code < 200 || code > 599)
		return -1;
	if (r->nlines > 0 && code != r->first)
		return -1;
	if (len > 3 && line[3] != ' ' && line[3] != '-')
		return -1;
	for (i = 3; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			return -1;
		else if (line[i] == 0x7f)
			return -1;
	/* keep the text of every line, without codes, '\n'-separated */
	if (r->len + len + 1 >= sizeof(r->text))
		return -1;
	if (r->nlines > 0)
		r->text[r->len++] = '\n';
	if (len > 4) {
		memcpy(r->text + r->len, line + 4, len - 4);
		r->len += len - 4;
	}
	r->text[r->len] = '\0';
	r->first = code;
	r->nlines++;
	if (len > 3 && line[3] == '-')
		return 0;
	r->code = code;
	r->nlines = 0;	/* ready for the next reply; text stays */
	return 1;
}

/* Capabilities from a complete EHLO reply (the first line is the name). */
unsigned int
smtp_ehlo_caps(const struct smtp_reply *r, long long *maxsize)
{
	const char	*p = r->text, *nl, *errstr;
	char		 kw[256], *arg;
	unsigned int	 caps = 0;
	size_t		 n;

	*maxsize = 0;
	if ((nl = strchr(p, '\n')) == NULL)
		return 0;
	for (p = nl + 1; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(kw))
			n = sizeof(kw) - 1;
		memcpy(kw, p, n);
		kw[n] = '\0';
		arg = kw + strcspn(kw, " =");
		if (*arg != '\0')
			*arg++ = '\0';
		if (strcasecmp(kw, "STARTTLS") == 0)
			caps |= CAP_STARTTLS;
		else if (strcasecmp(kw, "PIPELINING") == 0)
			caps |= CAP_PIPELINING;
		else if (strcasecmp(kw, "8BITMIME") == 0)
			caps |= CAP_8BITMIME;
		else if (strcasecmp(kw, "SMTPUTF8") == 0)
			caps |= CAP_SMTPUTF8;
		else if (strcasecmp(kw, "DSN") == 0)
			caps |= CAP_DSN;
		else if (strcasecmp(kw, "ENHANCEDSTATUSCODES") == 0)
			caps |= CAP_ENHANCED;
		else if (strcasecmp(kw, "SIZE") == 0) {
			caps |= CAP_SIZE;
			*maxsize = strtonum(arg, 0, LLONG_MAX, &errstr);
			if (errstr != NULL)
				*maxsize = 0;
		} else if (strcasecmp(kw, "AUTH") == 0)
			caps |= auth_caps(arg);
		if (nl == NULL)
			break;
	}
	return caps;
}

/* "d.ddd.ddd" at the start of the text, class matching the code's */
static size_t
smtp_enhanced_len(const char *p, int code)
{
	size_t	 i = 0, part, n;

	if (p[0] != '0' + code / 100 || p[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		n = strspn(p + i, "0123456789");
		if (n == 0 || n > 3)
			return 0;
		i += n;
		if (part == 0 && p[i++] != '.')
			return 0;
	}
	return p[i] == ' ' || p[i] == '\0' || p[i] == '\n' ? i : 0;
}

/* The enhanced status code of a reply, or one derived from its class. */
const char *
smtp_dsn(const struct smtp_reply *r, char *buf, size_t sz)
{
	size_t	 n = smtp_enhanced_len(r->text, r->code);

	if (n > 0 && n < sz) {
		memcpy(buf, r->text, n);
		buf[n] = '\0';
	} else
		(void)snprintf(buf, sz, "%d.0.0", r->code / 100);
	return buf;
}

/*
 * Read one complete reply.  Lines end in CRLF (a bare LF is taken too);
 * a line longer than SMTP_LINEMAX, a malformed line, EOF or a timeout
 * fail the read with a message in `err'.
 */
int
smtp_read_reply(struct conn *c, struct smtp_reply *r, char *err, size_t errsz)
{
	char	 line[SMTP_LINEMAX + 2], safe[128];
	size_t	 n = 0;
	ssize_t	 k;
	int	 rc;

	r->nlines = 0;
	for (;;) {
		if (c->rpos == c->rlen) {
			k = c->ops->read(c, c->rbuf, sizeof(c->rbuf));
			if (k <= 0) {
				/* tls_error: the alert that ended TLS */
				(void)snprintf(err, errsz, "%s %s%s%s",
				    k == 0 ? "lost connection with" :
				    errno == ETIMEDOUT ? "timeout reading from" :
				    "error reading from", c->peer,
				    c->tls_error[0] != '\0' ? ": " : "",
				    c->tls_error);
				return -1;
			}
			c->rpos = 0;
			c->rlen = (size_t)k;
		}
		if (c->rbuf[c->rpos] != '\n') {
			if (n > SMTP_LINEMAX) {
				(void)snprintf(err, errsz, "reply line too long "
				    "from %s", c->peer);
				return -1;
			}
			line[n++] = c->rbuf[c->rpos++];
			continue;
		}
		c->rpos++;
		/* line[0..n) was written above (cppcheck misses it) */
		/* cppcheck-suppress uninitvar */
		if (n > 0 && line[n - 1] == '\r')
			n--;
		rc = smtp_reply_line(r, line, n);
		if (rc == -1) {
			util_sanitise(safe, sizeof(safe), line, n);
			(void)snprintf(err, errsz, "malformed reply from %s: "
			    "\"%s\"", c->peer, safe);
			return -1;
		}
		if (rc == 1)
			return 0;
		n = 0;
	}
}

static int
smtp_write(struct smtp_session *s, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = s->conn->ops->write(s->conn, buf, len)) <= 0) {
			(void)snprintf(s->error, sizeof(s->error), "%s %s%s%.250s",
			    errno == ETIMEDOUT ? "timeout writing to" :
			    "lost connection with", s->conn->peer,
			    s->conn->tls_error[0] != '\0' ? ": " : "",
			    s->conn->tls_error);
			s->temp = 1;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Read the reply to the one command outstanding.  Commands go one at a
 * time, so bytes after a complete reply were sent unasked: a confused or
 * hostile server, and the session is dropped rather than guessed at.
 */
static int
smtp_reply(struct smtp_session *s, struct smtp_reply *r)
{
	char		 line[REPLY_MAX + 16];
	const char	*p, *nl;

	if (smtp_read_reply(s->conn, r, s->error, sizeof(s->error)) == -1) {
		s->temp = 1;
		return -1;
	}
	/* the parser let no control character through: print as is */
	for (p = r->text; s->trace != NULL; p = nl + 1) {
		nl = strchr(p, '\n');
		(void)snprintf(line, sizeof(line), "S: %d%c%.*s", r->code,
		    nl != NULL ? '-' : ' ', (int)(nl != NULL ?
		    (size_t)(nl - p) : strlen(p)), p);
		s->trace(s->trace_arg, line);
		if (nl == NULL)
			break;
	}
	if (s->conn->rpos != s->conn->rlen) {
		(void)snprintf(s->error, sizeof(s->error), "%s sent data "
		    "nobody asked for after a reply; aborting", s->conn->peer);
		s->temp = 1;
		return -1;
	}
	return 0;
}

/* For relayq probe: the command as sent, AUTH data replaced. */
static void
smtp_trace_cmd(struct smtp_session *s, const char *buf, size_t n)
{
	char	 line[128];
	size_t	 keep = 0;

	if (s->hide) {
		if (strncmp(buf, "AUTH ", 5) == 0)
			keep = 5 + strcspn(buf + 5, " ");
		if (keep == n)	/* "AUTH LOGIN": no data to hide */
			(void)snprintf(line, sizeof(line), "C: %.*s", (int)n,
			    buf);
		else
			(void)snprintf(line, sizeof(line), "C: %.*s%s[%zu "
			    "bytes of AUTH data not shown]", (int)keep, buf,
			    keep > 0 ? " " : "", n - keep - (keep > 0));
	} else
		(void)snprintf(line, sizeof(line), "C: %.*s", (int)n, buf);
	s->trace(s->trace_arg, line);
}

/* Send a command, read its reply.  -1: the session is gone (s->error). */
static int
smtp_cmd(struct smtp_session *s, struct smtp_reply *r, const char *fmt, ...)
{
	char	 buf[12288];	/* an AUTH line with an OAuth token fits */
	va_list	 ap;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2) {
		explicit_bzero(buf, sizeof(buf));
		(void)snprintf(s->error, sizeof(s->error), "command too long");
		return -1;
	}
	memcpy(buf + n, "\r\n", 2);
	if (s->trace != NULL)
		smtp_trace_cmd(s, buf, (size_t)n);
	rc = smtp_write(s, buf, (size_t)n + 2);
	explicit_bzero(buf, (size_t)n + 2);	/* may have held a secret */
	if (rc == -1)
		return -1;
	return smtp_reply(s, r);
}

/* "smarthost said: 535 5.7.8 text" into s->error, sanitised */
static void
smtp_fail(struct smtp_session *s, const char *what, const struct smtp_reply *r)
{
	char	 safe[REPLY_MAX];

	util_sanitise(safe, sizeof(safe), r->text, r->len);
	(void)snprintf(s->error, sizeof(s->error), "%s: %d %s", what, r->code,
	    safe);
	s->temp = r->code < 500;
}

static int
smtp_ehlo(struct smtp_session *s, struct smtp_reply *r)
{
	const char	*helo = s->route->helo_name != NULL ?
			    s->route->helo_name : util_hostname();

	if (smtp_cmd(s, r, "EHLO %s", helo) == -1)
		return -1;
	if (r->code != 250) {
		smtp_fail(s, "EHLO rejected", r);
		s->temp = 1;
		return -1;
	}
	s->caps = smtp_ehlo_caps(r, &s->maxsize);
	return 0;
}

/*
 * One SASL exchange with mechanism `m': initial response when the
 * mechanism has one, then a response to each 334 challenge until the
 * server decides.  Returns the final reply code in r, -1 when the
 * session broke or the mechanism failed locally (s->error set).
 * Every buffer that held the secret or a derivative is wiped.
 */
static int
smtp_sasl(struct smtp_session *s, struct smtp_reply *r,
    const struct auth_mech *m, const char *secret)
{
	struct auth	 a;
	char		 raw[AUTH_SECRET_MAX + 1024];
	char		 b64[(AUTH_SECRET_MAX + 1024) * 4 / 3 + 8];
	size_t		 rawlen, olen;
	int		 rc = -1, round;

	auth_start(&a, m, s->route->auth_user, secret, s->conn->host->name,
	    s->conn->host->port, NULL);
	s->hide = 1;
	if (auth_step(&a, NULL, 0, raw, sizeof(raw), &rawlen, s->error,
	    sizeof(s->error)) == -1)
		goto done;
	if (rawlen > 0) {
		if (mbedtls_base64_encode((unsigned char *)b64, sizeof(b64),
		    &olen, (unsigned char *)raw, rawlen) != 0)
			goto toolong;
		b64[olen] = '\0';
		if (smtp_cmd(s, r, "AUTH %s %s", m->name, b64) == -1)
			goto done;
	} else if (smtp_cmd(s, r, "AUTH %s", m->name) == -1)
		goto done;
	for (round = 0; r->code == 334 && round < 4; round++) {
		/* the challenge is base64 after "334 " */
		if (mbedtls_base64_decode((unsigned char *)raw, sizeof(raw),
		    &rawlen, (const unsigned char *)r->text, r->len) != 0) {
			(void)snprintf(s->error, sizeof(s->error), "%s: "
			    "challenge from %s is not base64", m->name,
			    s->conn->peer);
			(void)smtp_cmd(s, r, "*");	/* cancel, RFC 4954 */
			goto done;
		}
		if (auth_step(&a, raw, rawlen, raw, sizeof(raw), &rawlen,
		    s->error, sizeof(s->error)) == -1) {
			(void)smtp_cmd(s, r, "*");
			goto done;
		}
		if (mbedtls_base64_encode((unsigned char *)b64, sizeof(b64),
		    &olen, (unsigned char *)raw, rawlen) != 0)
			goto toolong;
		b64[olen] = '\0';
		if (smtp_cmd(s, r, "%s", b64) == -1)
			goto done;
	}
	if (r->code == 235 && auth_finished(&a, s->error,
	    sizeof(s->error)) == -1)
		goto done;
	if (r->code != 235) {
		smtp_fail(s, "authentication failed", r);
		(void)strlcat(s->error, " (AUTH ", sizeof(s->error));
		(void)strlcat(s->error, m->name, sizeof(s->error));
		if (a.detail[0] != '\0') {
			(void)strlcat(s->error, "; server said ",
			    sizeof(s->error));
			(void)strlcat(s->error, a.detail, sizeof(s->error));
		}
		(void)strlcat(s->error, ")", sizeof(s->error));
	}
	rc = 0;
	goto done;
 toolong:
	(void)snprintf(s->error, sizeof(s->error), "%s: auth_user or secret "
	    "too long", m->name);
 done:
	s->hide = 0;
	auth_done(&a);
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(b64, sizeof(b64));
	return rc;
}

/*
 * AUTH only over verified TLS, with the first mechanism of the
 * preference order (auth_mechanisms) that the server offers.  The secret
 * comes from auth_password_command when set, run afresh for each session
 * so an expired token is never reused, and once more after a 535: the
 * token may have expired between the command and the server's check.
 * In the daemon the command runs in the unsandboxed helper (authcmd.c).
 */
static int
smtp_auth(struct smtp_session *s, struct smtp_reply *r)
{
	const struct auth_mech	*order[AUTH_MAXMECHS], *m = NULL;
	const char		*cmd = s->route->auth_password_command;
	char			 secret[AUTH_SECRET_MAX];	/* wiped */
	char			 names[128] = "";
	size_t			 i, n;
	int			 rc = -1, tries;

	s->temp = 1;	/* AUTH trouble defers, never bounces */
	if (!s->conn->verified) {
		(void)snprintf(s->error, sizeof(s->error), "refusing to send "
		    "credentials to %s without verified TLS", s->conn->peer);
		return -1;
	}
	n = auth_order(s->route, order, AUTH_MAXMECHS);
	for (i = 0; i < n && m == NULL; i++)
		if (s->caps & order[i]->cap)
			m = order[i];
	if (m == NULL) {
		for (i = 0; i < n; i++) {
			(void)strlcat(names, i > 0 ? " " : "", sizeof(names));
			(void)strlcat(names, order[i]->name, sizeof(names));
		}
		(void)snprintf(s->error, sizeof(s->error), "%s offers no AUTH "
		    "mechanism relayq may use (%s%s)", s->conn->peer,
		    s->route->auth_mechanisms != NULL ? "auth_mechanisms: " :
		    "", names);
		return -1;
	}
	s->mech = m->name;
	for (tries = 0; tries < (cmd != NULL ? 2 : 1); tries++) {
		if (cmd != NULL) {
			if (authcmd_get(cmd, secret, sizeof(secret), s->error,
			    sizeof(s->error)) == -1)
				goto done;
		} else if (strlcpy(secret, s->password, sizeof(secret)) >=
		    sizeof(secret)) {
			(void)snprintf(s->error, sizeof(s->error), "password "
			    "too long");
			goto done;
		}
		if (smtp_sasl(s, r, m, secret) == -1)
			goto done;
		if (r->code == 235) {
			rc = 0;
			goto done;
		}
		if (r->code != 535)
			break;
	}
 done:
	explicit_bzero(secret, sizeof(secret));
	if (rc == 0)
		s->temp = 0;
	else
		s->temp = 1;
	return rc;
}

/*
 * No greeting on a plaintext connection: say so when it looks like a
 * port with implicit TLS (silence, or a TLS record: 0x15/0x16 0x03).
 */
static void
smtp_no_greeting(struct smtp_session *s)
{
	struct conn	*c = s->conn;

	if (c->ops->starttls == NULL)
		return;
	if (c->rlen >= 2 && (c->rbuf[0] == 0x15 || c->rbuf[0] == 0x16) &&
	    c->rbuf[1] == 0x03)
		(void)snprintf(s->error, sizeof(s->error), "%s sent a TLS "
		    "record, not an SMTP greeting: port %s is implicit TLS "
		    "(set tls implicit)", c->peer, c->host->port);
	else if (c->rlen == 0 && errno == ETIMEDOUT)
		(void)snprintf(s->error, sizeof(s->error), "no SMTP greeting "
		    "from %s in %lld s (timeout_connect): a port with implicit "
		    "TLS (usually 465) waits silently for a TLS hello; if this "
		    "is one, set tls implicit", c->peer,
		    (long long)c->timeout);
}

/*
 * Greeting, EHLO, STARTTLS and EHLO again, AUTH.  -1 with s->error set
 * when the session cannot be used; everything then defers.
 */
int
smtp_open(struct smtp_session *s, char *err, size_t errsz)
{
	struct smtp_reply	 r;
	struct conn		*c = s->conn;

	/*
	 * The plaintext greeting is waited for as a connection is
	 * (timeout_connect), not as a reply: a port with implicit TLS sends
	 * nothing and waits for our TLS hello, and a client that thinks it
	 * is a STARTTLS port would otherwise sit there for timeout_command.
	 */
	s->conn->timeout = s->route->timeout_command;
	if (c->ops->starttls != NULL && s->route->timeout_connect <
	    s->route->timeout_command)
		s->conn->timeout = s->route->timeout_connect;
	s->stage = SMTP_STAGE_GREETING;
	if (smtp_reply(s, &r) == -1) {
		smtp_no_greeting(s);
		goto fail;
	}
	s->conn->timeout = s->route->timeout_command;
	if (r.code != 220) {
		smtp_fail(s, "greeting", &r);
		goto fail;
	}
	s->stage = SMTP_STAGE_EHLO;
	if (smtp_ehlo(s, &r) == -1)
		goto fail;
	if (c->host->tls == TLS_STARTTLS) {
		s->stage = SMTP_STAGE_STARTTLS;
		if (!(s->caps & CAP_STARTTLS)) {
			(void)snprintf(s->error, sizeof(s->error), "%s does not "
			    "offer STARTTLS; not sending in plaintext", c->peer);
			goto fail;
		}
		/*
		 * Anything read after the 220 was sent before the handshake,
		 * in plaintext, by someone: acting on it would let a man in
		 * the middle inject replies (CVE-2011-0411).  smtp_cmd drops
		 * the session on such bytes; say why in STARTTLS terms.
		 */
		if (smtp_cmd(s, &r, "STARTTLS") == -1) {
			if (c->rpos != c->rlen)
				(void)snprintf(s->error, sizeof(s->error), "%s "
				    "sent data after the STARTTLS reply; "
				    "aborting", c->peer);
			goto fail;
		}
		if (r.code != 220) {
			smtp_fail(s, "STARTTLS refused", &r);
			goto fail;
		}
		if (c->ops->starttls(c, s->error, sizeof(s->error)) == -1)
			goto fail;
		/* forget what the plaintext EHLO said (RFC 3207 4.2) */
		s->caps = 0;
		if (smtp_ehlo(s, &r) == -1)
			goto fail;
	}
	s->stage = SMTP_STAGE_AUTH;
	if (s->route->auth_user != NULL && smtp_auth(s, &r) == -1)
		goto fail;
	s->stage = SMTP_STAGE_READY;
	return 0;
 fail:
	s->temp = 1;
	(void)strlcpy(err, s->error, errsz);
	return -1;
}

/*
 * Record a recipient's outcome: the server's reply ("250 2.0.0 Ok", or
 * "host NAME[ADDR]:PORT said: 550 5.1.1 ..." when it refused), or a local
 * reason for a deferral.  Server text is sanitised here, once.
 */
static void
smtp_set(struct smtp_session *s, struct rcpt *rc, enum rcpt_status st,
    const struct smtp_reply *r, const char *text)
{
	char	 safe[REPLY_MAX], code[8];

	rc->status = st;
	if (r != NULL) {
		(void)smtp_dsn(r, rc->dsn, sizeof(rc->dsn));
		util_sanitise(safe, sizeof(safe), r->text, r->len);
		rc->reply[0] = '\0';
		if (st != RCPT_SENT) {
			(void)strlcpy(rc->reply, "host ", sizeof(rc->reply));
			(void)strlcat(rc->reply, s->conn->peer,
			    sizeof(rc->reply));
			(void)strlcat(rc->reply, " said: ", sizeof(rc->reply));
		}
		(void)snprintf(code, sizeof(code), "%d ", r->code);
		(void)strlcat(rc->reply, code, sizeof(rc->reply));
		(void)strlcat(rc->reply, safe, sizeof(rc->reply));
	} else {
		(void)strlcpy(rc->dsn, "4.4.2", sizeof(rc->dsn));
		(void)strlcpy(rc->reply, text, sizeof(rc->reply));
	}
}

static enum rcpt_status
smtp_status(int code)
{
	return code < 300 ? RCPT_SENT : code < 500 ? RCPT_DEFER : RCPT_FAIL;
}

/* Stream the wire-ready data from the spool, then the terminating dot. */
static int
smtp_data(struct smtp_session *s, struct qmsg *m)
{
	char	 buf[65536];
	off_t	 off = 0;
	ssize_t	 n;

	while (off < m->datalen) {
		n = pread(m->fd, buf, m->datalen - off < (off_t)sizeof(buf) ?
		    (size_t)(m->datalen - off) : sizeof(buf), m->dataoff + off);
		if (n <= 0) {
			(void)snprintf(s->error, sizeof(s->error), "reading "
			    "queue file %s: %s", m->id, n == 0 ? "short file" :
			    strerror(errno));
			return -1;
		}
		if (smtp_write(s, buf, (size_t)n) == -1)
			return -1;
		off += n;
	}
	/* the data always ends in CRLF (spool_check_data): add ".\r\n" */
	return smtp_write(s, ".\r\n", 3);
}

/*
 * xtext (RFC 3461 4): ORCPT and ENVID values go on the command line with
 * '+', '=' and anything outside 0x21-0x7e as "+HH".  -1 if `out' is small.
 */
static int
smtp_xtext(char *out, size_t outsz, const char *in)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 n = 0;

	for (p = (const unsigned char *)in; *p != '\0'; p++) {
		if (n + 4 > outsz)
			return -1;
		if (*p < 0x21 || *p > 0x7e || *p == '+' || *p == '=') {
			out[n++] = '+';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else
			out[n++] = (char)*p;
	}
	out[n] = '\0';
	return 0;
}

/*
 * Is this an SMTPUTF8 transaction?  Always when an address is not ASCII
 * (without the extension such a message cannot go: smtp_send).  When
 * only the header has UTF-8 (RFC 6532: cron's and mailx's "Subject:
 * café"), when the smarthost offers it, as Postfix does; a smarthost
 * without it gets the message all the same, as 8-bit data, because
 * refusing it would lose mail that every server in practice accepts
 * and that no downgrade (RFC 6857) could make ASCII without changing it.
 */
static int
smtp_utf8(const struct smtp_session *s, const struct qmsg *m)
{
	return m->smtputf8 == SMTPUTF8_NEEDED ||
	    (m->smtputf8 == SMTPUTF8_HEADER && (s->caps & CAP_SMTPUTF8));
}

/*
 * The ESMTP parameters of MAIL FROM, each only when the smarthost
 * offers its extension: SIZE, BODY (RFC 6152), SMTPUTF8 (RFC 6531),
 * RET and ENVID (RFC 3461).
 */
static void
smtp_mail_params(const struct smtp_session *s, const struct qmsg *m,
    char *buf, size_t sz)
{
	char	 x[DSN_ENVID_MAX * 3 + 1];

	buf[0] = '\0';
	if (s->caps & CAP_SIZE)
		(void)snprintf(buf, sz, " SIZE=%lld", (long long)m->datalen);
	if (m->eightbit && (s->caps & CAP_8BITMIME))
		(void)strlcat(buf, " BODY=8BITMIME", sz);
	if (smtp_utf8(s, m))
		(void)strlcat(buf, " SMTPUTF8", sz);
	if (!(s->caps & CAP_DSN))
		return;
	/* in Postfix's order, so that the two compare byte for byte */
	if (m->envid[0] != '\0' && smtp_xtext(x, sizeof(x), m->envid) == 0) {
		(void)strlcat(buf, " ENVID=", sz);
		(void)strlcat(buf, x, sz);
	}
	if (m->dsn_ret != DSN_RET_NONE)
		(void)strlcat(buf, m->dsn_ret == DSN_RET_FULL ? " RET=FULL" : " RET=HDRS",
		    sz);
}

/*
 * utf-8-addr-xtext (RFC 6533 3): the ORCPT value of a non-ASCII address,
 * all ASCII: each non-ASCII character, and '+', '=', '\\' and anything
 * outside 0x21-0x7e, as "\\x{HEX}" of its code point, as Postfix writes
 * it.  Usable with SMTPUTF8 or without.  -1 if `out' is small or `in' is
 * not UTF-8.
 */
static int
smtp_utf8_xtext(char *out, size_t outsz, const char *in)
{
	const unsigned char	*p = (const unsigned char *)in;
	unsigned long		 cp;
	size_t			 n = 0, len, k;
	int			 w;

	while (*p != '\0') {
		if (*p >= 0x21 && *p <= 0x7e && *p != '+' && *p != '=' &&
		    *p != '\\') {
			if (n + 2 > outsz)
				return -1;
			out[n++] = (char)*p++;
			continue;
		}
		if (*p < 0x80)
			cp = *p, len = 1;
		else if (*p >= 0xc2 && *p <= 0xdf)
			cp = *p & 0x1f, len = 2;
		else if (*p >= 0xe0 && *p <= 0xef)
			cp = *p & 0x0f, len = 3;
		else if (*p >= 0xf0 && *p <= 0xf4)
			cp = *p & 0x07, len = 4;
		else
			return -1;
		for (k = 1; k < len; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		w = snprintf(out + n, outsz - n, "\\x{%lX}", cp);
		if (w < 0 || (size_t)w >= outsz - n)
			return -1;
		n += (size_t)w;
		p += len;
	}
	out[n] = '\0';
	return 0;
}

/*
 * ORCPT (RFC 3461 4.2): the recipient as the caller wrote it, qualified
 * when it was a bare local name ("root" means nothing to the smarthost;
 * Postfix sends root@$myorigin).  An ASCII address is an rfc822 xtext, a
 * non-ASCII one of the utf-8 type (RFC 6533).  0, or -1: no ORCPT.
 */
static int
smtp_orcpt(const struct smtp_session *s, const struct rcpt *rc, char *out,
    size_t outsz)
{
	const char	*a = rc->orig != NULL ? rc->orig : rc->addr;
	char		 q[ADDR_MAX + 1];
	const char	*p;
	int		 utf8 = 0;

	if (addr_domain(a) == NULL) {
		/* conf_domain() filled it in before the sandbox (drain.c) */
		if (snprintf(q, sizeof(q), "%s@%s", a, s->conf->domain !=
		    NULL ? s->conf->domain : "localhost") >= (int)sizeof(q))
			return -1;
		a = q;
	}
	for (p = a; *p != '\0'; p++)
		utf8 |= (unsigned char)*p >= 0x80;
	if (!utf8) {
		if (strlcpy(out, "rfc822;", outsz) >= outsz)
			return -1;
		return smtp_xtext(out + 7, outsz - 7, a);
	}
	if (strlcpy(out, "utf-8;", outsz) >= outsz)
		return -1;
	return smtp_utf8_xtext(out + 6, outsz - 6, a);
}

/* NOTIFY and ORCPT on RCPT TO, when the smarthost offers DSN */
static void
smtp_rcpt_params(const struct smtp_session *s, const struct rcpt *rc,
    char *buf, size_t sz)
{
	char	 x[ADDR_MAX * 8 + 16];

	buf[0] = '\0';
	if (!(s->caps & CAP_DSN))
		return;
	/* in Postfix's order, as in smtp_mail_params */
	if (smtp_orcpt(s, rc, x, sizeof(x)) == 0) {
		(void)strlcat(buf, " ORCPT=", sz);
		(void)strlcat(buf, x, sz);
	}
	if (rc->notify != 0 && spool_notify_str(rc->notify, x, sizeof(x)) == 0) {
		(void)strlcat(buf, " NOTIFY=", sz);
		(void)strlcat(buf, x, sz);
	}
}

/* still to be tried: never tried, or deferred last time */
static int
smtp_open_rcpt(const struct rcpt *rc)
{
	return rc->status == RCPT_PENDING || rc->status == RCPT_DEFER;
}

enum { UNTRIED, ACCEPTED, DECIDED };	/* a recipient in a transaction */

/* A RCPT reply: accepted for now, or decided (deferred or failed). */
static void
smtp_rcpt_reply(struct smtp_session *s, struct rcpt *rc, char *st,
    const struct smtp_reply *r, size_t *naccepted)
{
	if (r->code / 100 == 2) {	/* 250, 251, 252: positive */
		*st = ACCEPTED;
		(*naccepted)++;
	} else {
		smtp_set(s, rc, smtp_status(r->code), r, NULL);
		*st = DECIDED;
	}
}

/*
 * MAIL, RCPT and DATA one at a time.  0 with the DATA reply in `r', or
 * with r->code 0 when no recipient was accepted (transaction reset);
 * -1 when the session broke.
 */
static int
smtp_envelope(struct smtp_session *s, struct qmsg *m, char *st,
    struct smtp_reply *r)
{
	char	 params[ADDR_MAX * 8 + 400];
	size_t	 i, naccepted = 0;

	smtp_mail_params(s, m, params, sizeof(params));
	if (smtp_cmd(s, r, "MAIL FROM:<%s>%s", m->sender, params) == -1)
		return -1;
	if (r->code / 100 != 2) {
		for (i = 0; i < m->nrcpt; i++)
			if (smtp_open_rcpt(&m->rcpt[i])) {
				smtp_set(s, &m->rcpt[i], smtp_status(r->code),
				    r, NULL);
				st[i] = DECIDED;
			}
	} else
		for (i = 0; i < m->nrcpt; i++) {
			if (!smtp_open_rcpt(&m->rcpt[i]))
				continue;
			smtp_rcpt_params(s, &m->rcpt[i], params,
			    sizeof(params));
			if (smtp_cmd(s, r, "RCPT TO:<%s>%s", m->rcpt[i].addr,
			    params) == -1)
				return -1;
			smtp_rcpt_reply(s, &m->rcpt[i], &st[i], r,
			    &naccepted);
		}
	if (naccepted > 0)
		return smtp_cmd(s, r, "DATA");
	if (smtp_cmd(s, r, "RSET") == -1)
		return -1;
	r->code = 0;
	return 0;
}

/*
 * The same with PIPELINING (RFC 2920): MAIL, every RCPT and DATA in one
 * write, then the replies in order.  Only the DATA reply may be followed
 * by nothing at all; bytes after it were not asked for.  When MAIL or
 * every RCPT failed but the server still said 354 to DATA, a lone dot
 * ends the empty transaction (RFC 2920 3.1).
 */
static int
smtp_envelope_pipelined(struct smtp_session *s, struct qmsg *m, char *st,
    struct smtp_reply *r)
{
	struct smtp_reply	*mail;
	char			 params[ADDR_MAX * 8 + 400], *batch = NULL;
	size_t			 i, len = 0, naccepted = 0;
	FILE			*fp;
	int			 rc = -1;

	if ((mail = malloc(sizeof(*mail))) == NULL ||
	    (fp = open_memstream(&batch, &len)) == NULL) {
		free(mail);
		(void)snprintf(s->error, sizeof(s->error), "out of memory");
		return -1;
	}
	smtp_mail_params(s, m, params, sizeof(params));
	(void)fprintf(fp, "MAIL FROM:<%s>%s\r\n", m->sender, params);
	for (i = 0; i < m->nrcpt; i++)
		if (smtp_open_rcpt(&m->rcpt[i])) {
			smtp_rcpt_params(s, &m->rcpt[i], params,
			    sizeof(params));
			(void)fprintf(fp, "RCPT TO:<%s>%s\r\n",
			    m->rcpt[i].addr, params);
		}
	(void)fputs("DATA\r\n", fp);
	if (fclose(fp) == EOF) {
		(void)snprintf(s->error, sizeof(s->error), "out of memory");
		goto done;
	}
	if (smtp_write(s, batch, len) == -1 ||
	    smtp_read_reply(s->conn, mail, s->error, sizeof(s->error)) == -1)
		goto fail;
	for (i = 0; i < m->nrcpt; i++) {
		if (!smtp_open_rcpt(&m->rcpt[i]))
			continue;
		if (smtp_read_reply(s->conn, r, s->error,
		    sizeof(s->error)) == -1)
			goto fail;
		if (mail->code / 100 == 2)
			smtp_rcpt_reply(s, &m->rcpt[i], &st[i], r, &naccepted);
		else {
			/* RCPT replies after a failed MAIL say nothing */
			smtp_set(s, &m->rcpt[i], smtp_status(mail->code), mail,
			    NULL);
			st[i] = DECIDED;
		}
	}
	if (smtp_reply(s, r) == -1)
		goto done;
	if (naccepted > 0) {
		rc = 0;
		goto done;
	}
	if (r->code == 354 && (smtp_write(s, ".\r\n", 3) == -1 ||
	    smtp_reply(s, r) == -1))
		goto done;
	rc = smtp_cmd(s, r, "RSET") == -1 ? -1 : 0;
	r->code = 0;
	goto done;
 fail:
	s->temp = 1;
 done:
	free(mail);
	free(batch);
	return rc;
}

/*
 * One transaction for the recipients of `m' that are still pending or
 * deferred.  Each gets a status and the reply that decided it; when the
 * session breaks, those not decided in this transaction are deferred with
 * s->error.  Returns -1 when the session broke, 0 when it can go on.
 */
int
smtp_send(struct smtp_session *s, struct qmsg *m)
{
	struct smtp_reply	 r;
	char			*st;
	size_t			 i;
	int			 rc = -1, data;

	if ((st = calloc(m->nrcpt ? m->nrcpt : 1, 1)) == NULL) {
		(void)snprintf(s->error, sizeof(s->error), "out of memory");
		return -1;
	}
	if (m->smtputf8 == SMTPUTF8_NEEDED && !(s->caps & CAP_SMTPUTF8)) {
		/* RFC 6531 3.4: no way to send a UTF-8 address without it */
		for (i = 0; i < m->nrcpt; i++)
			if (smtp_open_rcpt(&m->rcpt[i])) {
				smtp_set(s, &m->rcpt[i], RCPT_FAIL, NULL,
				    "the smarthost does not offer SMTPUTF8, "
				    "needed for a non-ASCII address");
				(void)strlcpy(m->rcpt[i].dsn, "5.6.7",
				    sizeof(m->rcpt[i].dsn));
			}
		free(st);
		return 0;
	}
	if (m->eightbit && !(s->caps & CAP_8BITMIME))
		log_warnx("%s: 8-bit message sent to %s, which does not offer "
		    "8BITMIME", m->id, s->conn->peer);
	s->conn->timeout = s->route->timeout_command;
	if (s->caps & CAP_PIPELINING)
		rc = smtp_envelope_pipelined(s, m, st, &r);
	else
		rc = smtp_envelope(s, m, st, &r);
	if (rc == -1)
		goto done;
	if (r.code == 0)
		goto done;	/* nothing accepted; the transaction is reset */
	rc = -1;
	if ((data = (r.code == 354))) {
		s->conn->timeout = s->route->timeout_data;
		if (smtp_data(s, m) == -1)
			goto done;
		if (smtp_reply(s, &r) == -1) {
			/* RFC 1047: the message may have been taken; a
			 * duplicate beats a loss, so defer and say so */
			(void)strlcat(s->error, " after the final dot: message "
			    "may be delivered more than once",
			    sizeof(s->error));
			s->temp = 1;
			goto done;
		}
	}
	if (!data && r.code / 100 == 2) {
		/* a positive reply to DATA is no "go ahead": no data was
		 * sent, so nobody can be counted as delivered */
		smtp_fail(s, "unexpected reply to DATA", &r);
		s->temp = 1;
		goto done;
	}
	/* the DATA reply (not 354) or the final reply decides for all */
	for (i = 0; i < m->nrcpt; i++)
		if (st[i] == ACCEPTED) {
			smtp_set(s, &m->rcpt[i], smtp_status(r.code), &r, NULL);
			st[i] = DECIDED;
		}
	/* after the final reply the server has reset by itself */
	rc = data ? 0 : smtp_cmd(s, &r, "RSET");
 done:
	for (i = 0; rc == -1 && i < m->nrcpt; i++)
		if (st[i] != DECIDED && smtp_open_rcpt(&m->rcpt[i]))
			smtp_set(s, &m->rcpt[i], RCPT_DEFER, NULL, s->error);
	free(st);
	return rc;
}

/*
 * Before a session that sat idle carries a message: is it still there?
 * A server may have closed it on its own timeout meanwhile; learning
 * that from RSET costs no message a deferral (Postfix also checks a
 * cached connection this way).  -1: the session is unusable.
 */
int
smtp_rset(struct smtp_session *s)
{
	struct smtp_reply	 r;

	s->conn->timeout = s->route->timeout_command;
	if (smtp_cmd(s, &r, "RSET") == -1)
		return -1;
	if (r.code != 250) {
		smtp_fail(s, "RSET on an idle session", &r);
		return -1;
	}
	return 0;
}

void
smtp_quit(struct smtp_session *s)
{
	struct smtp_reply	 r;

	s->conn->timeout = 10;	/* QUIT is a courtesy; don't wait 5 minutes */
	(void)smtp_cmd(s, &r, "QUIT");
}
