/*
 * SMTP replies as a hostile smarthost sends them: smtp_read_reply (line
 * assembly, CRLF or bare LF, the length cap) over reads of arbitrary
 * size, smtp_reply_line, and on each complete reply smtp_ehlo_caps and
 * smtp_dsn.  The first input byte sets the size of each read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "client.h"
#include "fuzz.h"

struct feed {
	const uint8_t	*p;
	size_t		 len, off, chunk;
};

static ssize_t
feed_read(struct conn *c, void *buf, size_t sz)
{
	struct feed	*f = c->priv;
	size_t		 n = f->len - f->off;

	if (n > f->chunk)
		n = f->chunk;
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
	(void)c;
	(void)err;
	(void)errsz;
	return 0;
}

static const struct conn_ops feed_ops = {
	feed_read, feed_write, feed_starttls
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conn	 c;
	static struct smtp_reply r;
	struct feed		 f;
	char			 err[512], dsn[16];
	long long		 maxsize;

	if (size < 1)
		return 0;
	memset(&c, 0, sizeof(c));
	f.p = data + 1;
	f.len = size - 1;
	f.off = 0;
	f.chunk = (size_t)data[0] + 1;	/* 1..256 bytes a read */
	c.ops = &feed_ops;
	c.fd = -1;
	c.priv = &f;
	(void)strlcpy(c.peer, "mx.test[192.0.2.1]:587", sizeof(c.peer));
	while (smtp_read_reply(&c, &r, err, sizeof(err)) == 0) {
		if (r.code < 200 || r.code > 599 || r.len >= sizeof(r.text) ||
		    strlen(r.text) != r.len)
			abort();	/* a complete reply is always sane */
		(void)smtp_ehlo_caps(&r, &maxsize);
		if (maxsize < 0)
			abort();
		(void)smtp_dsn(&r, dsn, sizeof(dsn));
		if (strlen(dsn) >= sizeof(dsn))
			abort();
	}
	/* the error message is a log line: one line, printable */
	for (size_t i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			abort();
	return 0;
}
