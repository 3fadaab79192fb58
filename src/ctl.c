/*
 * The control socket: SPOOL/ctl, a UNIX stream socket the daemon listens
 * on, and the client side used by relayq(8) and sendmail -bp/-q.
 *
 * Protocol, one request and one answer per connection:
 *
 *	client:	COMMAND [ARGUMENT] LF		at most CTL_LINEMAX octets
 *	daemon:	OK LF, then text until EOF
 *	    or:	ERR <sysexits code> <message> LF
 *
 *	queue | status | show ID | flush | flush ID | hold ID | release ID |
 *	delete ID | delete all | submit (with a queue file descriptor)
 *
 * submit takes two steps (submit.c): the daemon answers READY <id> LF
 * once its copy is checked and on disk, the client says commit LF, and
 * only then does the daemon release the copy to the queue and answer
 * OK <id> LF.  The daemon serves every connection without blocking and
 * gives each a few seconds in total (drain_conn.c).
 *
 * The socket is mode 0666 on purpose: anyone may ask, and the daemon
 * decides what each caller may see or change from the peer credentials
 * the kernel gives it (SO_PEERCRED), never from anything the client says.
 * The parser is strict (no spaces but one separator, no control octets,
 * ids in queue id syntax) because it reads bytes from any local user.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"

#define CTL_WAIT	30	/* seconds a client waits for the daemon, which
				   answers between messages of a run */

/* what a request takes after its name */
enum ctl_arg {
	CTL_ARG_NONE,
	CTL_ARG_ID,		/* a queue id, required */
	CTL_ARG_ID_OPT,		/* a queue id, or nothing */
	CTL_ARG_ID_ALL,		/* a queue id or "all" */
};

static const struct {
	const char	*name;
	enum ctl_cmd	 cmd;
	enum ctl_arg	 arg;
} ctl_cmds[] = {
	{ "queue",	CTL_QUEUE,	CTL_ARG_NONE },
	{ "status",	CTL_STATUS,	CTL_ARG_NONE },
	{ "show",	CTL_SHOW,	CTL_ARG_ID },
	{ "flush",	CTL_FLUSH,	CTL_ARG_ID_OPT },
	{ "hold",	CTL_HOLD,	CTL_ARG_ID },
	{ "release",	CTL_RELEASE,	CTL_ARG_ID },
	{ "delete",	CTL_DELETE,	CTL_ARG_ID_ALL },
	{ "submit",	CTL_SUBMIT,	CTL_ARG_NONE },	/* with a descriptor:
							   submit.c */
	{ "reload",	CTL_RELOAD,	CTL_ARG_NONE },
};

/*
 * Parse one request line (with its LF).  On error `err' says what is
 * wrong in words the operator can act on.
 */
int
ctl_parse(const char *buf, size_t len, struct ctl_req *req, char *err,
    size_t errsz)
{
	char		 line[CTL_LINEMAX + 1], *arg;
	size_t		 i;

	memset(req, 0, sizeof(*req));
	if (len == 0 || buf[len - 1] != '\n' || len > CTL_LINEMAX) {
		(void)snprintf(err, errsz, "request must be one line of at "
		    "most %d octets", CTL_LINEMAX);
		return -1;
	}
	len--;
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x21 && buf[i] != ' ') {
			(void)snprintf(err, errsz, "control character in "
			    "request");
			return -1;
		} else if ((unsigned char)buf[i] > 0x7e) {
			(void)snprintf(err, errsz, "non-ASCII request");
			return -1;
		}
	memcpy(line, buf, len);
	line[len] = '\0';
	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (strcmp(line, ctl_cmds[i].name) == 0)
			break;
	if (i == sizeof(ctl_cmds) / sizeof(ctl_cmds[0])) {
		(void)snprintf(err, errsz, "unknown command \"%.32s\"", line);
		return -1;
	}
	req->cmd = ctl_cmds[i].cmd;
	if (arg == NULL) {
		if (ctl_cmds[i].arg == CTL_ARG_NONE ||
		    ctl_cmds[i].arg == CTL_ARG_ID_OPT)
			return 0;
		(void)snprintf(err, errsz, "%s: needs a queue id%s",
		    ctl_cmds[i].name, ctl_cmds[i].arg == CTL_ARG_ID_ALL ?
		    " or \"all\"" : "");
		return -1;
	}
	if (ctl_cmds[i].arg == CTL_ARG_NONE) {
		(void)snprintf(err, errsz, "%s: takes no argument",
		    ctl_cmds[i].name);
		return -1;
	}
	if (ctl_cmds[i].arg == CTL_ARG_ID_ALL && strcmp(arg, "all") == 0) {
		req->all = 1;
		return 0;
	}
	if (!spool_id_ok(arg)) {
		(void)snprintf(err, errsz, "%s: \"%.32s\" is not a queue id",
		    ctl_cmds[i].name, arg);
		return -1;
	}
	memcpy(req->id, arg, SPOOL_IDLEN + 1);
	return 0;
}

/*
 * Listen on "ctl" in the current directory (the spool).  A stale socket
 * from a daemon that died is removed first: the pid file lock, taken
 * before this, proves no other daemon owns it.
 */
int
ctl_listen(char *err, size_t errsz)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)strlcpy(sun.sun_path, CTL_SOCKET, sizeof(sun.sun_path));
	if (unlink(CTL_SOCKET) == -1 && errno != ENOENT) {
		(void)snprintf(err, errsz, "removing old %s: %s", CTL_SOCKET,
		    strerror(errno));
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		(void)snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	/* 0666: access is decided per request from SO_PEERCRED */
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1) {
		(void)snprintf(err, errsz, "control socket %s: %s",
		    CTL_SOCKET, strerror(errno));
		(void)umask(old);
		(void)close(fd);
		return -1;
	}
	(void)umask(old);
	return fd;
}

/* The answers, into the daemon's buffer for the connection. */
void
ctl_error(FILE *ans, int code, const char *msg)
{
	(void)fprintf(ans, "ERR %d %.400s\n", code, msg);
}

/*
 * "OK LENGTH": the client knows the answer is whole only when it has
 * LENGTH bytes.  The daemon closes a connection that stops reading
 * (drain_conn.c), and without the length a listing cut there would look
 * like a short queue.
 */
void
ctl_ok(FILE *ans, const char *body, size_t len)
{
	(void)fprintf(ans, "OK %zu\n", len);
	if (len > 0)
		(void)fwrite(body, 1, len, ans);
}

/* Connect to SPOOL/ctl: -1 with errno when no daemon answers. */
int
ctl_connect(const char *spool)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { CTL_WAIT, 0 };
	int			 fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
	    spool, CTL_SOCKET) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * The daemon's answer from `fd' until its status line has ended (a line
 * feed is in), the daemon closed, or `buf' is full; NUL-terminated.
 * Returns its length.  Reads stop at SO_RCVTIMEO (ctl_connect).
 */
size_t
ctl_read_status(int fd, char *buf, size_t sz)
{
	size_t	 len = 0;
	ssize_t	 n;

	while (len < sz - 1 && memchr(buf, '\n', len) == NULL) {
		if ((n = read(fd, buf + len, sz - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/*
 * After a request that could not be sent on `fd': a daemon that refuses
 * a connection (too many at once) writes its ERR line and closes, and a
 * client that was slower than that gets EPIPE (or ECONNRESET) for its
 * request while the line waits in the socket.  Returns 1 with that line
 * in `buf' (as ctl_read_status), else 0 with errno as the send left it.
 */
int
ctl_refused(int fd, char *buf, size_t sz)
{
	int	 saved = errno;

	if ((saved == EPIPE || saved == ECONNRESET) &&
	    ctl_read_status(fd, buf, sz) > 0 && strncmp(buf, "ERR ", 4) == 0)
		return 1;
	errno = saved;
	return 0;
}

/*
 * Send `request' (without LF) to the daemon of `spool' and copy the
 * answer's text to `out' (NULL: discard it).  Returns a sysexits code; on failure `err'
 * holds the daemon's message or why it could not be asked.
 */
int
ctl_call(const char *spool, const char *request, FILE *out, char *err,
    size_t errsz)
{
	char		 buf[4096], line[CTL_LINEMAX + 2], *text = NULL;
	const char	*errstr;
	FILE		*mem = NULL;
	size_t		 len = 0, tlen = 0, want;
	ssize_t		 n;
	char		*p, *nl;
	int		 fd, code;

	err[0] = '\0';
	if ((size_t)snprintf(line, sizeof(line), "%s\n", request) >=
	    sizeof(line)) {
		(void)snprintf(err, errsz, "request too long");
		return EX_USAGE;
	}
	if ((fd = ctl_connect(spool)) == -1) {
		(void)snprintf(err, errsz, "the relayq daemon is not running "
		    "(%s/%s: %s); start it with \"relayq drain\"", spool,
		    CTL_SOCKET, strerror(errno));
		return EX_UNAVAILABLE;
	}
	/* the status line first, then the text until EOF */
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) == (ssize_t)strlen(line))
		len = ctl_read_status(fd, buf, sizeof(buf));
	else if (ctl_refused(fd, buf, sizeof(buf)))
		len = strlen(buf);
	else {
		(void)snprintf(err, errsz, "sending to %s/%s: %s", spool,
		    CTL_SOCKET, strerror(errno));
		(void)close(fd);
		return EX_UNAVAILABLE;
	}
	if ((nl = memchr(buf, '\n', len)) == NULL) {
		(void)snprintf(err, errsz, "no answer from the daemon on "
		    "%s/%s within %d seconds", spool, CTL_SOCKET, CTL_WAIT);
		(void)close(fd);
		return EX_UNAVAILABLE;
	}
	*nl = '\0';
	if (strncmp(buf, "ERR ", 4) == 0) {
		if ((p = strchr(buf + 4, ' ')) != NULL)
			*p++ = '\0';
		code = (int)strtonum(buf + 4, 1, 127, &errstr);
		(void)snprintf(err, errsz, "%s", p != NULL ? p : "error");
		(void)close(fd);
		return errstr != NULL ? EX_SOFTWARE : code;
	}
	if (strncmp(buf, "OK ", 3) != 0 || (want = (size_t)strtonum(buf + 3,
	    0, LLONG_MAX, &errstr), errstr != NULL)) {
		(void)snprintf(err, errsz, "bad answer from the daemon");
		(void)close(fd);
		return EX_PROTOCOL;
	}
	p = nl + 1;
	if (out == NULL) {	/* the caller wants the status only */
		(void)close(fd);
		return EX_OK;
	}
	/*
	 * The whole answer into memory first, then out: the daemon gives a
	 * connection a few seconds in all, and a caller's pager (mailq |
	 * less) must not hold the socket while someone reads.
	 */
	if ((mem = open_memstream(&text, &tlen)) == NULL ||
	    fwrite(p, 1, len - (size_t)(p - buf), mem) != len - (size_t)(p -
	    buf))
		goto oom;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, mem) != (size_t)n)
			goto oom;
	(void)close(fd);
	if (fclose(mem) == EOF) {
		mem = NULL;
		goto oom;
	}
	if (n == -1) {
		(void)snprintf(err, errsz, "reading from %s/%s: %s (the "
		    "answer is incomplete)", spool, CTL_SOCKET,
		    strerror(errno));
		free(text);
		return EX_IOERR;
	}
	if (tlen != want) {
		(void)snprintf(err, errsz, "the daemon's answer on %s/%s "
		    "ended after %zu of its %zu bytes: it closes a connection "
		    "after %d seconds (its log says so); nothing was printed, "
		    "try again", spool, CTL_SOCKET, tlen, want, CTL_TOTAL);
		free(text);
		return EX_IOERR;
	}
	if (fwrite(text, 1, tlen, out) != tlen || fflush(out) == EOF) {
		(void)snprintf(err, errsz, "writing output: %s",
		    strerror(errno));
		free(text);
		return EX_IOERR;
	}
	free(text);
	return EX_OK;
 oom:
	(void)snprintf(err, errsz, "out of memory for the daemon's answer");
	if (mem != NULL)
		(void)fclose(mem);
	free(text);
	(void)close(fd);
	return EX_OSERR;
}

/*
 * sendmail -bp (mailq) and -q/-qR/-qI<id>: the same requests as relayq
 * queue and relayq flush.  -q is silent on success, like Postfix's.
 */
int
ctl_frontend(const struct conf *conf, int mode, const char *qid, int nrcpt)
{
	char	 req[CTL_LINEMAX], err[512];
	int	 rc;

	if (mode == 'p' && nrcpt > 0) {
		warnx("-bp: a queue listing takes no recipients");
		return EX_USAGE;
	}
	if (mode == 'q' && qid != NULL && !spool_id_ok(qid)) {
		warnx("-qI: \"%.40s\" is not a queue id", qid);
		return EX_USAGE;
	}
	(void)snprintf(req, sizeof(req), "%s%s%s", mode == 'p' ? "queue" :
	    "flush", qid != NULL ? " " : "", qid != NULL ? qid : "");
	rc = ctl_call(conf->spool, req, mode == 'p' ? stdout : NULL, err,
	    sizeof(err));
	if (rc != EX_OK)
		warnx("%s: %s", mode == 'p' ? "queue report unavailable" :
		    "queue run", err);
	return rc;
}
