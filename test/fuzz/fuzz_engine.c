/*
 * The SMTP client engine against a hostile smarthost: smtp_open (greeting,
 * EHLO, STARTTLS, EHLO, AUTH) and smtp_send (MAIL, RCPT, DATA, the final
 * reply) twice on one session, then smtp_quit.  The input is the server's
 * byte stream; each 0xff byte ends one read (so the fuzzer controls reads
 * split byte by byte and replies pipelined ahead of the command).  The
 * first byte picks implicit TLS or STARTTLS and AUTH or none.
 *
 * Checked besides memory safety: every recipient ends with a status, a
 * failed session leaves none PENDING, and no status text holds a control
 * character (the log lines are made from them).
 */
#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "client.h"
#include "fuzz.h"

struct feed {
	const uint8_t	*p;
	size_t		 len, off;
};

static ssize_t
feed_read(struct conn *c, void *buf, size_t sz)
{
	struct feed	*f = c->priv;
	const uint8_t	*end;
	size_t		 n;

	if (f->off < f->len && f->p[f->off] == 0xff)
		f->off++;
	n = f->len - f->off;
	if ((end = memchr(f->p + f->off, 0xff, n)) != NULL)
		n = (size_t)(end - (f->p + f->off));
	if (n > sz)
		n = sz;
	memcpy(buf, f->p + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

static ssize_t
feed_write(struct conn *c, const void *buf, size_t n)
{
	(void)c;
	(void)buf;
	return (ssize_t)n;
}

static int
feed_starttls(struct conn *c, char *err, size_t errsz)
{
	(void)err;
	(void)errsz;
	c->verified = 1;
	return 0;
}

static const struct conn_ops feed_ops = {
	feed_read, feed_write, feed_starttls
};

static const char data_text[] = "Subject: x\r\n\r\nbody\r\n..dot\r\n";
static int	 data_fd = -1;
static char	 helo[] = "client.test", user[] = "user";

static void
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rcpts[] = { "a@x", "b@y", "c@z" };
	static struct conn		 c;
	static struct smtp_session	 s;
	static struct conf		 conf;
	static struct smarthost		 host;
	struct feed			 f;
	struct qmsg			 m;
	char				 err[1024];
	size_t				 i;
	int				 round, rc;

	if (size < 1)
		return 0;
	if (data_fd == -1) {
		if ((data_fd = memfd_create("data", 0)) == -1 ||
		    write(data_fd, data_text, sizeof(data_text) - 1) !=
		    (ssize_t)sizeof(data_text) - 1)
			abort();
	}
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	conf_init(&conf);
	conf.route[0].helo_name = helo;
	conf.route[0].auth_user = (data[0] & 2) ? user : NULL;
	memset(&host, 0, sizeof(host));
	(void)strlcpy(host.name, "mx.test", sizeof(host.name));
	(void)strlcpy(host.port, "587", sizeof(host.port));
	host.tls = (data[0] & 1) ? TLS_IMPLICIT : TLS_STARTTLS;
	f.p = data + 1;
	f.len = size - 1;
	f.off = 0;
	c.ops = &feed_ops;
	c.fd = -1;
	c.verified = host.tls == TLS_IMPLICIT;
	c.host = &host;
	c.priv = &f;
	(void)strlcpy(c.peer, "mx.test[192.0.2.1]:587", sizeof(c.peer));
	s.conn = &c;
	s.conf = &conf;
	s.route = &conf.route[0];
	s.password = "pass";

	if (smtp_open(&s, err, sizeof(err)) == -1) {
		check_text(err);
		return 0;
	}
	for (round = 0; round < 2; round++) {
		memset(&m, 0, sizeof(m));
		(void)strlcpy(m.id, "0123456789ABCDEF", sizeof(m.id));
		m.sender = (char *)"s@x";
		m.eightbit = round;
		m.fd = data_fd;
		m.datalen = sizeof(data_text) - 1;
		if ((m.rcpt = calloc(3, sizeof(*m.rcpt))) == NULL)
			abort();
		m.nrcpt = 3;
		for (i = 0; i < 3; i++)
			m.rcpt[i].addr = (char *)rcpts[i];
		rc = smtp_send(&s, &m);
		for (i = 0; i < 3; i++) {
			if (rc == -1 && m.rcpt[i].status == RCPT_PENDING)
				abort();
			check_text(m.rcpt[i].reply);
			check_text(m.rcpt[i].dsn);
		}
		free(m.rcpt);
		if (rc == -1) {
			check_text(s.error);
			return 0;
		}
	}
	smtp_quit(&s);
	return 0;
}
