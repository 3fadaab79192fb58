/*
 * sendmail -bs: a minimal RFC 5321 server on stdin/stdout, for mail
 * clients that speak SMTP to a local sendmail (Alpine: -bs -odb -oem).
 * EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; VRFY answers 252.
 *
 * Each message goes through exactly the -bm path: the data (dot-unstuffed,
 * in an anonymous memory file) becomes the standard input of a child
 * that returns from bs_serve() into sendmail's main() with the envelope
 * of the transaction, queues the message, and exits with the -bm exit
 * code.  So the commit guarantee is the same by construction: 250 is
 * sent only when that child exited 0, which it does only after the
 * queue file and its trailer are fsynced.  The child writes the queue id
 * to a pipe for the reply.
 *
 * The session itself (bs_session) touches nothing but the descriptors
 * of its struct bs_io and the anonymous memory file: no path, no spool.
 * That is what lets test/fuzz/fuzz_bs.c feed it arbitrary client bytes
 * in-process, with the fork replaced by a check of the transaction.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"

#define BS_LINEMAX	2048	/* a command line (RFC 5321: 512) */
#define BS_RCPTMAX	1000
/* the RCPTs of a -bs transaction always fit in one queue file */
_Static_assert(BS_RCPTMAX <= SPOOL_RCPTMAX, "-bs takes more RCPTs than a "
    "queue file holds");

struct bs {
	const struct bs_io *io;
	int		 ioerr;		/* a reply could not be written */
	char		 buf[16384];
	size_t		 pos, len;
	int		 eof;
	unsigned long	 barelf;	/* in this DATA: bs_data */
	char		 line[BS_LINEMAX + 1];
	size_t		 linelen;
	int		 mail;		/* MAIL given */
	char		*sender;
	char		**rcpt;
	int		 nrcpt;
	long long	 max;
};

static int
bs_getc(struct bs *b)
{
	ssize_t	 n;

	if (b->pos == b->len) {
		if (b->eof)
			return -1;
		do
			n = read(b->io->in, b->buf, sizeof(b->buf));
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			b->eof = 1;
			return -1;
		}
		b->pos = 0;
		b->len = (size_t)n;
	}
	return (unsigned char)b->buf[b->pos++];
}

static int
bs_peek(struct bs *b)
{
	int	 c = bs_getc(b);

	if (c != -1)
		b->pos--;
	return c;
}

/* -1 when the client is gone: the session ends (b->ioerr) */
static int __attribute__((format(printf, 2, 3)))
bs_reply(struct bs *b, const char *fmt, ...)
{
	va_list	 ap;

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
static int
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

static void
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
}

/*
 * "FROM:<a@x> SIZE=10" after the verb: the path between < and >, and
 * where the parameters start.  NULL when malformed.  The null path "<>"
 * gives "".
 */
static char *
bs_path(char *arg, const char *kw, char **params)
{
	char	*p, *end;
	size_t	 n = strlen(kw);

	if (strncasecmp(arg, kw, n) != 0)
		return NULL;
	p = arg + n;
	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return NULL;
	*end = '\0';
	*params = end + 1;
	return p + 1;
}

static void
bs_mail(struct bs *b, char *arg)
{
	char		*a, *params, *tok, *last, safe[64 * 4 + 1];
	const char	*errstr;
	long long	 size;

	if (b->mail) {
		bs_reply(b, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if ((a = bs_path(arg, "FROM:", &params)) == NULL) {
		bs_reply(b, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	if (a[0] != '\0' && !addr_valid(a)) {
		bs_reply(b, "553 5.1.7 Bad sender address syntax");
		return;
	}
	for (tok = strtok_r(params, " ", &last); tok != NULL;
	    tok = strtok_r(NULL, " ", &last)) {
		if (strncasecmp(tok, "SIZE=", 5) == 0) {
			size = strtonum(tok + 5, 0, LLONG_MAX, &errstr);
			if (errstr != NULL) {
				bs_reply(b, "501 5.5.4 Bad SIZE parameter");
				return;
			}
			if (size > b->max) {
				bs_reply(b, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				return;
			}
		} else if (strncasecmp(tok, "BODY=", 5) != 0 &&
		    strcasecmp(tok, "SMTPUTF8") != 0) {
			/* the client's bytes, escaped: a reply line stays one
			 * line of text (test/fuzz/corpus/bs/regress-*) */
			util_sanitise(safe, sizeof(safe), tok,
			    strnlen(tok, 64));
			bs_reply(b, "555 5.5.4 Unsupported option: %s", safe);
			return;
		}
	}
	if ((b->sender = strdup(a)) == NULL)
		err(EX_OSERR, "-bs");
	b->mail = 1;
	bs_reply(b, "250 2.1.0 Ok");
	return;
}

static void
bs_rcpt(struct bs *b, char *arg)
{
	char	**v, *a, *params;

	if (!b->mail) {
		bs_reply(b, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if ((a = bs_path(arg, "TO:", &params)) == NULL) {
		bs_reply(b, "501 5.5.4 Syntax: RCPT TO:<address>");
		return;
	}
	/* a source route <@a:b@c> is accepted; addr_parse_list drops it */
	if (a[0] == '@' && strchr(a, ':') != NULL)
		a = strchr(a, ':') + 1;
	if (!addr_valid(a)) {
		bs_reply(b, "553 5.1.3 Bad recipient address syntax");
		return;
	}
	if (b->nrcpt >= BS_RCPTMAX) {
		bs_reply(b, "452 4.5.3 Error: too many recipients");
		return;
	}
	if ((v = reallocarray(b->rcpt, b->nrcpt + 1, sizeof(*v))) == NULL ||
	    (v[b->nrcpt] = strdup(a)) == NULL)
		err(EX_OSERR, "-bs");
	b->rcpt = v;
	b->nrcpt++;
	bs_reply(b, "250 2.1.5 Ok");
}

/*
 * The data, dot-unstuffed, into `fd' until <CR><LF>.<CR><LF>, and
 * nothing else: SMTP smuggling (CVE-2023-51765 and its kin) hides a
 * second message behind <LF>.<LF> or <LF>.<CR><LF>, which a mail library
 * that dot-stuffs only after CRLF lets through, and which the smarthost
 * would read as the end of ours.  As Postfix's smtpd_forbid_bare_newline
 * = normalize: a line ending in a bare LF is taken as if it ended in
 * CRLF (and written so), but a lone dot ends the data only when it and
 * the line before it end in CRLF; any other leading dot is dropped
 * (RFC 5321 4.5.2).  Bare CR is copied (the -bm reader repairs it).
 * b->barelf counts the bare LFs, for the log.  Returns 0, 1 when the
 * message grew past the size limit (the rest is read and discarded), -1
 * at the end of input (no message), -2 on a write error.
 */
static int
bs_data(struct bs *b, int fd)
{
	char		 out[16384];
	size_t		 n = 0;
	long long	 total = 0;
	int		 c, prev = 0, big = 0, werr = 0;
	int		 bol = 1;	/* 1: after CRLF, 2: after a bare LF */

	b->barelf = 0;
	for (;;) {
		if ((c = bs_getc(b)) == -1)
			return -1;
		if (bol != 0 && c == '.') {
			if ((c = bs_getc(b)) == -1)
				return -1;
			if (c == '\r' && bol == 1 && bs_peek(b) == '\n') {
				b->pos++;
				break;
			}
		}
		bol = c != '\n' ? 0 : prev == '\r' ? 1 : 2;
		if (bol == 2)
			b->barelf++;
		if (c != '\0')
			prev = c;	/* -bm drops NULs: "\r\0\n" is a CRLF */
		if (big)
			continue;
		if (bol == 2)
			out[n++] = '\r';	/* normalised: CR, then the LF */
		out[n++] = (char)c;
		total += bol == 2 ? 2 : 1;
		if (total > b->max + 2 * LINE_MAX_OCTETS)
			big = 1;	/* the child checks it exactly */
		if (n >= sizeof(out) - 1) {
			if (!werr && util_writeall(fd, out, n) == -1)
				werr = 1;
			n = 0;
		}
	}
	if (!werr && n > 0 && util_writeall(fd, out, n) == -1)
		werr = 1;
	if (werr)
		return -2;
	return big;
}

/* The SMTP reply for the exit code of the -bm child. */
static void
bs_result(struct bs *b, int status, const char *id)
{
	int	 code;

	code = WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE;

	switch (code) {
	case EX_OK:
		bs_reply(b, "250 2.0.0 Ok: queued as %s", id);
		break;
	case EX_DATAERR:
		bs_reply(b, "554 5.6.0 Message rejected: bad data, too large "
		    "or a mail loop (see the log)");
		break;
	case EX_USAGE:
		bs_reply(b, "554 5.5.4 Message rejected: no usable recipient");
		break;
	case EX_NOUSER:
	case EX_NOPERM:
		bs_reply(b, "554 5.7.1 Message rejected: not permitted");
		break;
	default:
		bs_reply(b, "451 4.3.0 Message not queued (exit %d): try again "
		    "later", code);
		break;
	}
}

/*
 * The queue step of sendmail -bs: fork.  The child gets the message as
 * standard input and the transaction in `job' (the caller fills it) and
 * returns -1; the parent waits for it and returns its status, with the
 * queue id it wrote to the pipe in `id'; -2 when no child could be
 * started (errno says why).
 */
static int
bs_fork(void *arg, int mfd, struct bs_job *job, char *id, size_t idsz)
{
	pid_t	 pid;
	ssize_t	 n;
	int	 pfd[2], status;

	(void)arg;
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -2;
	if ((pid = fork()) == -1) {
		(void)close(pfd[0]);
		(void)close(pfd[1]);
		return -2;
	}
	if (pid == 0) {
		(void)close(pfd[0]);
		if (dup2(mfd, STDIN_FILENO) == -1)
			_exit(EX_OSERR);
		(void)close(mfd);
		job->idfd = pfd[1];
		return -1;
	}
	(void)close(pfd[1]);
	do
		n = read(pfd[0], id, idsz - 1);
	while (n == -1 && errno == EINTR);
	id[n > 0 ? n : 0] = '\0';
	(void)close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			err(EX_OSERR, "-bs: waitpid");
	return status;
}

/*
 * DATA: read the message into an anonymous memory file, then hand it to
 * the queue step.  Returns 1 in the child that must queue it (`job'
 * holds the transaction), 0 when the session goes on, -1 when it ends
 * (the input ended inside DATA, or the client is gone).
 */
static int
bs_transaction(struct bs *b, struct bs_job *job)
{
	char	 id[SPOOL_IDLEN + 2];
	int	 mfd, r, status;

	if ((mfd = memfd_create("relayq-bs", MFD_CLOEXEC)) == -1) {
		bs_reply(b, "451 4.3.0 Cannot buffer the message: %s",
		    strerror(errno));
		return 0;
	}
	if (bs_reply(b, "354 End data with <CR><LF>.<CR><LF>") == -1 ||
	    (r = bs_data(b, mfd)) == -1) {
		/* no message: the end of input inside DATA queues nothing */
		if (b->barelf > 0)
			log_warnx("-bs: the input ended inside DATA, which had "
			    "%lu bare LF line end(s): nothing queued; only "
			    "<CR><LF>.<CR><LF> ends the data", b->barelf);
		(void)close(mfd);
		return -1;
	}
	if (r == 1 || r == -2) {
		(void)close(mfd);
		if (r == 1)
			bs_reply(b, "552 5.3.4 Message size exceeds fixed "
			    "limit");
		else
			bs_reply(b, "451 4.3.0 Cannot buffer the message");
		bs_reset(b);
		return 0;
	}
	job->sender = b->sender;
	job->rcpt = b->rcpt;
	job->nrcpt = b->nrcpt;
	id[0] = '\0';
	if (lseek(mfd, 0, SEEK_SET) == -1)
		status = -2;
	else if ((status = b->io->queue(b->io->arg, mfd, job, id,
	    sizeof(id))) == -1)
		return 1;	/* the child: it owns the transaction now */
	/* the parent keeps its copy of the transaction, reset below */
	job->sender = NULL;
	job->rcpt = NULL;
	job->nrcpt = 0;
	if (status == -2)
		bs_reply(b, "451 4.3.0 Cannot queue the message: %s",
		    strerror(errno));
	else {
		/* 250 only when the child committed the file and said its
		 * id */
		if (WIFEXITED(status) && WEXITSTATUS(status) == EX_OK &&
		    !spool_id_ok(id))
			status = EX_SOFTWARE << 8;
		bs_result(b, status, id);
	}
	if (b->barelf > 0)
		log_warnx("%s: -bs: %lu line(s) of the data ended in a bare "
		    "LF, taken as CRLF; a dot after one does not end the data "
		    "(SMTP smuggling)", spool_id_ok(id) ? id : "not queued",
		    b->barelf);
	(void)close(mfd);
	bs_reset(b);
	return 0;
}

/*
 * One SMTP session over io: the client's bytes from io->in, the replies
 * to io->out, each message to io->queue.  Returns BS_CHILD only in a
 * child of the queue step, with the transaction in `job' and the message
 * on standard input; BS_CLOSED at QUIT or the end of input; BS_IOERR
 * when a reply could not be written (the client is gone).
 */
int
bs_session(const struct bs_io *io, const char *host, long long max,
    struct bs_job *job)
{
	struct bs	*b;
	char		*arg;
	int		 r, end = BS_CLOSED;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		err(EX_OSERR, "-bs");
	b->io = io;
	b->max = max;
	bs_reply(b, "220 %s ESMTP relayq %s (sendmail -bs)", host,
	    RELAYQ_VERSION);
	while (!b->ioerr) {
		if ((r = bs_command(b)) == 0)
			break;		/* the client went away */
		if (r == -1) {
			bs_reply(b, "500 5.5.2 Error: line too long");
			continue;
		}
		arg = b->line + strcspn(b->line, " ");
		if (*arg == ' ')
			*arg++ = '\0';
		if (strcasecmp(b->line, "EHLO") == 0 ||
		    strcasecmp(b->line, "HELO") == 0) {
			bs_reset(b);
			if (toupper((unsigned char)b->line[0]) == 'H')
				bs_reply(b, "250 %s", host);
			else
				bs_reply(b, "250-%s\r\n250-PIPELINING\r\n"
				    "250-SIZE %lld\r\n250-8BITMIME\r\n"
				    "250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES",
				    host, max);
		} else if (strcasecmp(b->line, "MAIL") == 0)
			bs_mail(b, arg);
		else if (strcasecmp(b->line, "RCPT") == 0)
			bs_rcpt(b, arg);
		else if (strcasecmp(b->line, "RSET") == 0) {
			bs_reset(b);
			bs_reply(b, "250 2.0.0 Ok");
		} else if (strcasecmp(b->line, "NOOP") == 0)
			bs_reply(b, "250 2.0.0 Ok");
		else if (strcasecmp(b->line, "VRFY") == 0)
			bs_reply(b, "252 2.0.0 Cannot VRFY, but will take the "
			    "message");
		else if (strcasecmp(b->line, "QUIT") == 0) {
			bs_reply(b, "221 2.0.0 Bye");
			break;
		} else if (strcasecmp(b->line, "DATA") == 0) {
			if (!b->mail)
				bs_reply(b, "503 5.5.1 Error: need MAIL "
				    "command");
			else if (b->nrcpt == 0)
				bs_reply(b, "554 5.5.1 Error: no valid "
				    "recipients");
			else if ((r = bs_transaction(b, job)) == 1) {
				free(b);	/* the child: queue it */
				return BS_CHILD;
			} else if (r == -1)
				break;
		} else
			bs_reply(b, "502 5.5.2 Error: command not recognized");
	}
	if (b->ioerr)
		end = BS_IOERR;
	bs_reset(b);
	free(b);
	return end;
}

/*
 * sendmail -bs on standard input and output.  Returns only in a child,
 * with the transaction in `job' and the message on standard input: the
 * caller queues it like -bm and exits.  The parent exits at QUIT or the
 * end of input (0), or when the client is gone (EX_IOERR).
 */
void
bs_serve(const char *host, long long max, struct bs_job *job)
{
	struct bs_io	 io = { STDIN_FILENO, stdout, bs_fork, NULL };
	int		 end;

	if ((end = bs_session(&io, host, max, job)) == BS_CHILD)
		return;
	exit(end == BS_IOERR ? EX_IOERR : EX_OK);
}
