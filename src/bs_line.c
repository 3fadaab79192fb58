/*
 * The -bs session's input and replies (bs.c, bs_auth.c): bytes and
 * command lines from the client, bounded in time; replies, counted for
 * the error limit; the end of a transaction; why a session ended, in
 * the log.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "relayq.h"
#include "msg.h"
#include "bs.h"

int
bs_getc(struct bs *b)
{
	ssize_t	 n;

	if (b->pos == b->len) {
		if (b->eof)
			return -1;
		if (b->deadline != 0 && time(NULL) >= b->deadline)
			n = -1, errno = EAGAIN;
		else do
			n = read(b->io->in, b->buf, sizeof(b->buf));
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			/* SO_RCVTIMEO (bs_serve): the client was silent */
			if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
				b->timedout = 1;
			b->eof = 1;
			return -1;
		}
		b->pos = 0;
		b->len = (size_t)n;
	}
	return (unsigned char)b->buf[b->pos++];
}

int
bs_peek(struct bs *b)
{
	int	 c = bs_getc(b);

	if (c != -1)
		b->pos--;
	return c;
}

/* -1 when the client is gone: the session ends (b->ioerr) */
int __attribute__((format(printf, 2, 3)))
bs_reply(struct bs *b, const char *fmt, ...)
{
	va_list	 ap;

	if (fmt[0] == '4' || fmt[0] == '5')
		b->errors++;
	va_start(ap, fmt);
	(void)vfprintf(b->io->out, fmt, ap);
	va_end(ap);
	(void)fputs("\r\n", b->io->out);
	if (fflush(b->io->out) == EOF)
		b->ioerr = 1;
	return b->ioerr ? -1 : 0;
}

/* A command line without its CRLF (or LF); 0 at the end of input, -1 if
 * it was too long (the rest is discarded). */
int
bs_command(struct bs *b)
{
	int	 c, toolong = 0;

	b->linelen = 0;
	for (;;) {
		if ((c = bs_getc(b)) == -1)
			return b->linelen > 0 && !toolong ? 1 : 0;
		if (c == '\n')
			break;
		if (b->linelen == BS_LINEMAX)
			toolong = 1;
		else
			b->line[b->linelen++] = (char)c;
	}
	if (b->linelen > 0 && b->line[b->linelen - 1] == '\r')
		b->linelen--;
	b->line[b->linelen] = '\0';
	return toolong ? -1 : 1;
}

void
bs_reset(struct bs *b)
{
	int	 i;

	free(b->sender);
	b->sender = NULL;
	for (i = 0; i < b->nrcpt; i++)
		free(b->rcpt[i]);
	free(b->rcpt);
	b->rcpt = NULL;
	b->nrcpt = 0;
	b->mail = 0;
	free(b->envid);
	b->envid = NULL;
	b->body = BODY_NONE;
	b->ret = DSN_RET_NONE;
	b->notify = 0;
}

/* Why a session ended early, in the log, naming a network client. */
void
bs_log_end(struct bs *b, const char *why)
{
	if (b->io->client != NULL)
		log_warnx("smtpd: client=%s: %s, session closed",
		    b->io->client, why);
	else
		log_warnx("-bs: %s, session closed", why);
}
