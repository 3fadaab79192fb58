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
 * The SMTP listener (listen.c, `relayq smtpd') runs this same program
 * for each connection, the socket as standard input and output: then
 * bs_serve takes the client's address from the socket itself (so nobody
 * can name another), bounds the time per command and per DATA phase,
 * and the child writes a Received field naming the client and logs its
 * address.  The session is the same for both; so are its limits on
 * line length, recipients, errors and junk commands (Postfix's
 * smtpd_hard_error_limit 20 and smtpd_junk_command_limit 100).
 *
 * When the listener offers AUTH or STARTTLS, a session helper sits
 * between the client and this program (listen_session.c) and says so
 * on descriptor 3 (bs_helped): then AUTH PLAIN and LOGIN are offered
 * (the helper checks the passwords), STARTTLS too (the helper does the
 * TLS), and a client the listener let in only to authenticate gets 530
 * at MAIL until it has.  This program holds neither passwords nor keys.
 *
 * The session itself (bs_session) touches nothing but the descriptors
 * of its struct bs_io and the anonymous memory file: no path, no spool.
 * That is what lets test/fuzz/fuzz_bs.c feed it arbitrary client bytes
 * in-process, with the fork replaced by a check of the transaction.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

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
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "lproto.h"
#include "bs.h"

#define BS_RCPTMAX	1000
#define BS_ERRMAX	20	/* 4xx/5xx replies: then 421, the end */
#define BS_JUNKMAX	100	/* NOOP, RSET, VRFY, HELP between messages */
#define BS_HELOMAX	255
/* the RCPTs of a -bs transaction always fit in one queue file */
_Static_assert(BS_RCPTMAX <= SPOOL_RCPTMAX, "-bs takes more RCPTs than a "
    "queue file holds");


/*
 * xtext (RFC 3461 4): "+" and two upper-case hex digits stand for one
 * octet.  0, or -1 when malformed or longer than dsz - 1.
 */
int
bs_xtext_decode(const char *s, char *d, size_t dsz)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*h, *l;
	size_t			 n = 0;

	for (; *s != '\0'; s++) {
		if (n + 1 >= dsz || *s < '!' || *s > '~' || *s == '=')
			return -1;
		if (*s != '+') {
			d[n++] = *s;
			continue;
		}
		if (s[1] == '\0' || s[2] == '\0' ||
		    (h = strchr(hex, s[1])) == NULL ||
		    (l = strchr(hex, s[2])) == NULL)
			return -1;
		d[n++] = (char)((h - hex) << 4 | (l - hex));
		s += 2;
	}
	d[n] = '\0';
	return 0;
}

/*
 * The name in EHLO/HELO, for the Received field: a domain or an address
 * literal, printable and without space; anything else is not written
 * into a header (the field then says only the address).
 */
static void
bs_helo(struct bs *b, const char *arg)
{
	size_t	 n = strlen(arg);

	free(b->helo);
	b->helo = NULL;
	if (n == 0 || n > BS_HELOMAX || strspn(arg, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:[]") != n)
		return;
	if ((b->helo = strdup(arg)) == NULL)
		err(EX_OSERR, "-bs");
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
	/* Postfix's permit_mynetworks, permit_sasl_authenticated, reject */
	if (b->io->ctl != -1 && !(b->io->flags & LPROTO_F_RELAY) &&
	    b->auth_user == NULL) {
		bs_reply(b, "530 5.7.0 Authentication required");
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
				goto fail;
			}
			if (size > b->max) {
				bs_reply(b, "552 5.3.4 Message size exceeds "
				    "fixed limit");
				goto fail;
			}
		} else if (strcasecmp(tok, "BODY=8BITMIME") == 0)
			b->body = BODY_8BITMIME;
		else if (strcasecmp(tok, "BODY=7BIT") == 0)
			b->body = BODY_7BIT;
		else if (strcasecmp(tok, "RET=FULL") == 0)
			b->ret = DSN_RET_FULL;
		else if (strcasecmp(tok, "RET=HDRS") == 0)
			b->ret = DSN_RET_HDRS;
		else if (strncasecmp(tok, "ENVID=", 6) == 0) {
			if (bs_xtext_decode(tok + 6, safe, DSN_ENVID_MAX + 1)
			    == -1 || !spool_envid_ok(safe)) {
				bs_reply(b, "501 5.5.4 Bad ENVID parameter "
				    "(1-100 printable characters, xtext)");
				goto fail;
			}
			free(b->envid);
			if ((b->envid = strdup(safe)) == NULL)
				err(EX_OSERR, "-bs");
		} else if (strcasecmp(tok, "SMTPUTF8") != 0) {
			/* the client's bytes, escaped: a reply line stays one
			 * line of text (test/fuzz/corpus/bs/regress-*) */
			util_sanitise(safe, sizeof(safe), tok,
			    strnlen(tok, 64));
			bs_reply(b, "555 5.5.4 Unsupported option: %s", safe);
			goto fail;
		}
	}
	if ((b->sender = strdup(a)) == NULL)
		err(EX_OSERR, "-bs");
	b->mail = 1;
	bs_reply(b, "250 2.1.0 Ok");
	return;
 fail:
	bs_reset(b);
}

/*
 * RCPT's parameters: NOTIFY (RFC 3461 4.1), ORCPT (accepted; the queue
 * file records the address as given to us, the O record).  A queue file
 * holds NOTIFY per recipient but is written for one transaction with
 * one value, so a recipient asking for another gets 452, which tells
 * the client to send it in a later transaction (RFC 5321 4.5.3.1.10).
 * 0, or -1 when a reply was given.
 */
static int
bs_rcpt_params(struct bs *b, char *params)
{
	char		*tok, *last, safe[64 * 4 + 1];
	unsigned int	 bits = 0;

	for (tok = strtok_r(params, " ", &last); tok != NULL;
	    tok = strtok_r(NULL, " ", &last)) {
		if (strncasecmp(tok, "NOTIFY=", 7) == 0) {
			if (spool_notify_parse(tok + 7, &bits) == -1) {
				bs_reply(b, "501 5.5.4 Bad NOTIFY parameter");
				return -1;
			}
		} else if (strncasecmp(tok, "ORCPT=", 6) == 0) {
			if (strchr(tok + 6, ';') == NULL) {
				bs_reply(b, "501 5.5.4 Bad ORCPT parameter");
				return -1;
			}
		} else {
			util_sanitise(safe, sizeof(safe), tok,
			    strnlen(tok, 64));
			bs_reply(b, "555 5.5.4 Unsupported option: %s", safe);
			return -1;
		}
	}
	if (b->nrcpt > 0 && bits != b->notify) {
		bs_reply(b, "452 4.5.3 Error: another NOTIFY than this "
		    "transaction's recipients: send this one in another "
		    "transaction");
		return -1;
	}
	b->notify = bits;
	return 0;
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
	if (bs_rcpt_params(b, params) == -1)
		return;
	if ((v = reallocarray(b->rcpt, b->nrcpt + 1, sizeof(*v))) == NULL)
		err(EX_OSERR, "-bs");
	b->rcpt = v;
	if ((b->rcpt[b->nrcpt] = strdup(a)) == NULL)
		err(EX_OSERR, "-bs");
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
		/* the data alone over the limit: 552 (RFC 1870); the child
		 * counts again with the fields it adds, and a message those
		 * push over gets its 554 */
		if (total > b->max)
			big = 1;
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
	if (b->io->data_timeout > 0)
		b->deadline = time(NULL) + b->io->data_timeout;
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
	b->deadline = 0;
	job->sender = b->sender;
	job->rcpt = b->rcpt;
	job->nrcpt = b->nrcpt;
	job->body = b->body;
	job->ret = b->ret;
	job->envid = b->envid;
	job->notify = b->notify;
	job->client = b->io->client;
	job->helo = b->helo;
	job->esmtp = b->esmtp;
	job->tls = b->tls;
	job->auth_user = b->auth_user;
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
	job->envid = NULL;
	job->helo = NULL;
	job->auth_user = NULL;
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
		if (WIFEXITED(status) && WEXITSTATUS(status) == EX_OK)
			b->junk = 0;
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
	/* a network client is not told the version */
	if (io->client != NULL)
		bs_reply(b, "220 %s ESMTP relayq", host);
	else
		bs_reply(b, "220 %s ESMTP relayq %s (sendmail -bs)", host,
		    RELAYQ_VERSION);
	while (!b->ioerr) {
		if (b->errors >= BS_ERRMAX || b->junk > BS_JUNKMAX) {
			bs_reply(b, "421 4.7.0 %s Error: too many %s", host,
			    b->junk > BS_JUNKMAX ? "commands without mail" :
			    "errors");
			bs_log_end(b, b->junk > BS_JUNKMAX ? "too many "
			    "commands without mail" : "too many errors");
			break;
		}
		if ((r = bs_command(b)) == 0) {
			/* the client went away, or was silent too long */
			if (b->timedout) {
				bs_reply(b, "421 4.4.2 %s Error: timeout "
				    "exceeded", host);
				bs_log_end(b, "timeout");
			}
			break;
		}
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
			bs_helo(b, arg);
			b->junk++;
			b->esmtp = toupper((unsigned char)b->line[0]) == 'E';
			if (!b->esmtp)
				bs_reply(b, "250 %s", host);
			else
				bs_reply(b, "250-%s\r\n250-PIPELINING\r\n"
				    "250-SIZE %lld\r\n250-8BITMIME\r\n"
				    "250-DSN\r\n250-SMTPUTF8\r\n%s%s"
				    "250 ENHANCEDSTATUSCODES", host, max,
				    bs_auth_offered(b) ? "250-AUTH PLAIN LOGIN"
				    "\r\n" : "", bs_tls_offered(b) ?
				    "250-STARTTLS\r\n" : "");
		} else if (strcasecmp(b->line, "MAIL") == 0)
			bs_mail(b, arg);
		else if (strcasecmp(b->line, "AUTH") == 0) {
			if (bs_auth(b, arg, host) == -1)
				break;
		} else if (strcasecmp(b->line, "STARTTLS") == 0) {
			if (bs_starttls(b, arg) == -1)
				break;
		}
		else if (strcasecmp(b->line, "RCPT") == 0)
			bs_rcpt(b, arg);
		else if (strcasecmp(b->line, "RSET") == 0) {
			bs_reset(b);
			b->junk++;
			bs_reply(b, "250 2.0.0 Ok");
		} else if (strcasecmp(b->line, "NOOP") == 0) {
			b->junk++;
			bs_reply(b, "250 2.0.0 Ok");
		} else if (strcasecmp(b->line, "VRFY") == 0) {
			b->junk++;
			bs_reply(b, "252 2.0.0 Cannot VRFY, but will take the "
			    "message");
		} else if (strcasecmp(b->line, "HELP") == 0) {
			b->junk++;
			bs_reply(b, "214 2.0.0 Commands: EHLO HELO MAIL RCPT "
			    "DATA RSET NOOP VRFY HELP QUIT");
		} else if (strcasecmp(b->line, "QUIT") == 0) {
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
			} else if (r == -1) {
				if (b->timedout) {
					bs_reply(b, "421 4.4.2 %s Error: "
					    "timeout exceeded", host);
					bs_log_end(b, "timeout in DATA: "
					    "nothing queued");
				}
				break;
			}
		} else
			bs_reply(b, "502 5.5.2 Error: command not recognized");
	}
	if (b->ioerr)
		end = BS_IOERR;
	bs_reset(b);
	free(b->helo);
	free(b->auth_user);
	free(b);
	return end;
}

/*
 * The client's address when standard input is a TCP socket (the
 * listener without AUTH or TLS, or inetd); NULL otherwise.
 */
static const char *
bs_peer(char *buf, size_t sz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);

	if (getpeername(STDIN_FILENO, (struct sockaddr *)&ss, &len) == -1)
		return NULL;
	return lproto_client((struct sockaddr *)&ss, buf, sz);
}

/*
 * sendmail -bs on standard input and output.  Returns only in a child,
 * with the transaction in `job' and the message on standard input: the
 * caller queues it like -bm and exits.  The parent exits at QUIT or the
 * end of input (0), or when the client is gone (EX_IOERR).  A network
 * client (standard input a TCP socket) gets listen_timeout per command
 * and listen_data_timeout per DATA phase; a local one no limit in time.
 */
void
bs_serve(const struct conf *c, const char *host, struct bs_job *job)
{
	static char	 client[INET6_ADDRSTRLEN + 8];
	struct bs_io	 io = { STDIN_FILENO, stdout, bs_fork, NULL, NULL, 0,
			    -1, 0 };
	struct timeval	 tv = { 0, 0 };
	int		 end;

	if (getenv(LPROTO_ENV) != NULL)
		bs_helped(&io, client, sizeof(client), c->listen_timeout);
	if (io.client != NULL ||
	    (io.client = bs_peer(client, sizeof(client))) != NULL) {
		tv.tv_sec = c->listen_timeout;
		if (setsockopt(STDIN_FILENO, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == -1 || (setsockopt(STDOUT_FILENO,
		    SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 &&
		    errno != ENOTSOCK))
			err(EX_OSERR, "-bs: setting the client's timeout");
		io.data_timeout = c->listen_data_timeout;
	}
	if ((end = bs_session(&io, host, c->max_message_size, job)) ==
	    BS_CHILD)
		return;
	exit(end == BS_IOERR ? EX_IOERR : EX_OK);
}
