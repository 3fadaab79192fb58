/*
 * relayq drain: the connections of the control socket (protocol: ctl.c,
 * requests: drain_ctl.c, submission: submit.c), served so that no client
 * can hold the daemon.  Every connection is non-blocking and looked at
 * only when poll(2) says it is ready, from the main loop and between the
 * messages of a delivery run; none is ever read or written in a loop
 * that waits.  Each has CTL_REQWAIT seconds to send its request,
 * however slowly its bytes trickle in, and CTL_TOTAL for the whole
 * exchange: time for a client to read a 10 000-message listing that
 * took the daemon seconds to build, on a loaded machine.  A caller (by
 * uid) may hold at most CONN_PER_UID of the DRAIN_CONN_MAX at once, so
 * one local user cannot starve another's mailq.  An answer says its
 * length (ctl_ok), so a client whose answer was cut at the deadline
 * says so rather than print a short queue.  Postfix gets the same from
 * showq, a process of its own; one loop that never waits does it here
 * without a second sandbox.
 *
 * Answers are built in memory and written as the socket takes them.  A
 * listing is at most what the caller may see (CONN_MAX of them at once
 * bound the memory); the client reads it whole before it writes a line
 * (ctl_call), so a pager on its output does not hold the connection.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"

#define CONN_PER_UID	4	/* connections one caller may hold */

enum conn_state {
	CONN_REQUEST,		/* reading the request line */
	CONN_COMMIT,		/* submit: READY sent, waiting for commit */
	CONN_ANSWER,		/* writing the answer, then closing */
};
static const char *const conn_state_names[] = {
	"request", "commit", "answer",
};

struct drain_conn {
	int			 fd;		/* -1: a free slot */
	struct ucred		 cr;		/* from the kernel */
	long long		 start;		/* CLOCK_MONOTONIC, ms */
	long long		 deadline;	/* the same clock */
	enum conn_state		 state;
	char			 in[CTL_LINEMAX + 1];
	size_t			 inlen;
	int			 rfd;		/* submit: the caller's file */
	struct submit_held	 held;		/* submit: our copy */
	char			*out;
	size_t			 outlen, outoff;
};

struct drain_conns {
	struct drain_conn	 c[DRAIN_CONN_MAX];
	time_t			 refused_logged;	/* last time said */
};

static long long
drain_conn_now(void)
{
	return util_ms(CLOCK_MONOTONIC);
}

/* Every slot free; NULL when out of memory. */
struct drain_conns *
drain_conn_new(void)
{
	struct drain_conns	*cs;
	size_t			 i;

	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	for (i = 0; i < DRAIN_CONN_MAX; i++) {
		cs->c[i].fd = -1;
		cs->c[i].rfd = -1;
		cs->c[i].held.fd = -1;
	}
	return cs;
}

static void
drain_conn_close(struct drain *d, struct drain_conn *c)
{
	if (c->held.fd != -1) {
		log_warnx("%s: submission by uid %u dropped: the client did "
		    "not commit it", c->held.id, (unsigned int)c->cr.uid);
		submit_abandon(&c->held, d->dropfd);
	}
	if (c->rfd != -1)
		(void)close(c->rfd);
	free(c->out);
	(void)close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = c->rfd = c->held.fd = -1;
}

/* A short line now, on a socket nothing has been written to: it fits. */
static void
drain_conn_say(int fd, const char *line)
{
	(void)send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
drain_conn_write(struct drain *d, struct drain_conn *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0)
			break;
		c->outoff += (size_t)n;
	}
	drain_conn_close(d, c);
}

/*
 * The answer written into `ans' (open_memstream on *buf, *len) is
 * complete: write it as the socket takes it.
 */
static void
drain_conn_answer(struct drain *d, struct drain_conn *c, FILE *ans,
    char **buf, const size_t *len)
{
	free(c->out);
	c->out = NULL;
	c->outlen = c->outoff = 0;
	if (fclose(ans) == 0) {
		c->out = *buf;
		c->outlen = *len;
	} else
		free(*buf);
	c->state = CONN_ANSWER;
	c->deadline = c->start + CTL_TOTAL * 1000;
	drain_conn_write(d, c);	/* most answers fit the socket at once */
}

static void
drain_conn_accept(struct drain *d)
{
	struct drain_conn	*c, *fr;
	struct ucred		 cr;
	socklen_t		 sl;
	size_t			 i, uid_n;
	time_t			 now;
	int			 fd;

	while ((fd = accept4(d->ctlfd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) != -1) {
		sl = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &sl) == -1) {
			(void)close(fd);
			continue;
		}
		fr = NULL;
		uid_n = 0;
		for (i = 0; i < DRAIN_CONN_MAX; i++) {
			c = &d->conns->c[i];
			if (c->fd == -1 && fr == NULL)
				fr = c;
			else if (c->fd != -1 && c->cr.uid == cr.uid)
				uid_n++;
		}
		if (fr == NULL || uid_n >= CONN_PER_UID) {
			drain_conn_say(fd, fr == NULL ? "ERR 75 the daemon is "
			    "serving too many connections; try again\n" :
			    "ERR 75 too many connections from your uid at "
			    "once; try again\n");
			(void)close(fd);
			/* a flood must not flood the log too */
			if ((now = time(NULL)) != d->conns->refused_logged) {
				d->conns->refused_logged = now;
				log_warnx("control socket: connection from uid "
				    "%u refused: %s", (unsigned int)cr.uid,
				    fr == NULL ? "all slots busy" :
				    "it holds the most one uid may");
			}
			continue;
		}
		fr->fd = fd;
		fr->cr = cr;
		fr->state = CONN_REQUEST;
		fr->start = drain_conn_now();
		fr->deadline = fr->start + CTL_REQWAIT * 1000;
	}
}

/* The client closed its end (it gave up, or died): nothing to answer. */
static int
drain_conn_gone(int fd)
{
	char	 b;

	return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* submit, step 1: our copy, then READY (submit.c) */
static void
drain_conn_submit(struct drain *d, struct drain_conn *c)
{
	char	 err[512], line[600];
	int	 code;

	if (drain_conn_gone(c->fd)) {
		log_warnx("submission by uid %u dropped: the client went away "
		    "before the daemon took it", (unsigned int)c->cr.uid);
		drain_conn_close(d, c);
		return;
	}
	err[0] = '\0';
	if ((code = submit_prepare(c->rfd, c->cr.uid, d->dropfd,
	    d->conf, &c->held, err, sizeof(err))) != EX_OK) {
		log_warnx("submit from uid %u refused: %s",
		    (unsigned int)c->cr.uid, err);
		(void)snprintf(line, sizeof(line), "ERR %d %s\n", code, err);
		drain_conn_say(c->fd, line);
		drain_conn_close(d, c);
		return;
	}
	(void)snprintf(line, sizeof(line), "READY %s\n", c->held.id);
	drain_conn_say(c->fd, line);
	c->state = CONN_COMMIT;
	c->inlen = 0;
}

/* submit, step 2: the client said commit */
static void
drain_conn_commit(struct drain *d, struct drain_conn *c)
{
	char	 err[512], *buf = NULL;
	size_t	 len = 0;
	FILE	*ans;

	if (c->inlen != 7 || memcmp(c->in, "commit\n", 7) != 0 ||
	    (ans = open_memstream(&buf, &len)) == NULL) {
		drain_conn_say(c->fd, "ERR 64 expected \"commit\"\n");
		drain_conn_close(d, c);	/* the copy goes with it */
		return;
	}
	if (drain_conn_gone(c->fd)) {
		(void)fclose(ans);
		free(buf);
		drain_conn_close(d, c);	/* died after commit: dropped */
		return;
	}
	if (submit_commit(&c->held, d->dropfd, err, sizeof(err)) == -1) {
		log_warnx("submission by uid %u: %s", (unsigned int)c->cr.uid,
		    err);
		ctl_error(ans, EX_TEMPFAIL, err);
	} else {
		log_info("%s: submitted over the control socket by uid %u",
		    c->held.id, (unsigned int)c->cr.uid);
		(void)fprintf(ans, "OK %s\n", c->held.id);
	}
	drain_conn_answer(d, c, ans, &buf, &len);
}

static void
drain_conn_request(struct drain *d, struct drain_conn *c)
{
	struct ctl_req	 req;
	char		 err[128], *buf = NULL;
	size_t		 len = 0;
	FILE		*ans;
	int		 rc;

	if ((rc = ctl_parse(c->in, c->inlen, &req, err, sizeof(err))) == 0 &&
	    req.cmd == CTL_SUBMIT) {
		drain_conn_submit(d, c);
		return;
	}
	if (c->rfd != -1) {
		(void)close(c->rfd);	/* sent along with a plain request */
		c->rfd = -1;
	}
	if ((ans = open_memstream(&buf, &len)) == NULL) {
		drain_conn_say(c->fd, "ERR 71 out of memory\n");
		drain_conn_close(d, c);
		return;
	}
	if (rc == -1)
		ctl_error(ans, EX_USAGE, err);
	else
		drain_ctl_one(d, ans, &req, &c->cr);
	drain_conn_answer(d, c, ans, &buf, &len);
}

/*
 * Read what is there.  The first read may carry the descriptor sent with
 * "submit" (util_recvfd takes one at most); any later one is closed.
 */
static void
drain_conn_read(struct drain *d, struct drain_conn *c)
{
	ssize_t		 n;
	int		 rfd;

	n = util_recvfd(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen,
	    &rfd, MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (rfd != -1 && c->rfd == -1 && c->state == CONN_REQUEST)
		c->rfd = rfd;
	else if (rfd != -1)
		(void)close(rfd);
	if (n <= 0) {
		/* the client is gone: a submission not committed is
		   dropped with it (drain_conn_close) */
		drain_conn_close(d, c);
		return;
	}
	c->inlen += (size_t)n;
	if (memchr(c->in, '\n', c->inlen) == NULL && c->inlen < sizeof(c->in))
		return;		/* more to come */
	if (c->state == CONN_REQUEST)
		drain_conn_request(d, c);
	else
		drain_conn_commit(d, c);
}

/*
 * The descriptors the main loop's poll(2) should watch for us, into
 * `pfd' (DRAIN_CONN_MAX entries); returns how many.
 */
size_t
drain_conn_pollfds(struct drain *d, struct pollfd *pfd)
{
	size_t	 i, n = 0;

	for (i = 0; i < DRAIN_CONN_MAX; i++) {
		if (d->conns->c[i].fd == -1)
			continue;
		pfd[n].fd = d->conns->c[i].fd;
		pfd[n].events = d->conns->c[i].state == CONN_ANSWER ?
		    POLLOUT : POLLIN;
		pfd[n++].revents = 0;
	}
	return n;
}

/* Milliseconds until the first connection's deadline; -1 for none. */
int
drain_conn_wake(struct drain *d)
{
	long long	 now = drain_conn_now(), first = -1;
	size_t		 i;

	for (i = 0; i < DRAIN_CONN_MAX; i++)
		if (d->conns->c[i].fd != -1 && (first == -1 ||
		    d->conns->c[i].deadline < first))
			first = d->conns->c[i].deadline;
	if (first == -1)
		return -1;
	return first <= now ? 0 : first - now > 60000 ? 60000 :
	    (int)(first - now);
}

/*
 * Take new connections and serve whichever are ready, without waiting:
 * from the main loop after poll(2), and between the messages of a run.
 * Then close those past their deadline.
 */
void
drain_conn_serve(struct drain *d)
{
	struct pollfd		 pfd[DRAIN_CONN_MAX];
	struct drain_conn	*c;
	size_t			 i, k, n;
	long long		 now;

	if (d->ctlfd == -1)
		return;
	drain_conn_accept(d);
	n = drain_conn_pollfds(d, pfd);
	if (n > 0 && poll(pfd, n, 0) > 0)
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			/* only the connection served closes: the others'
			   descriptors stay as poll saw them */
			for (k = 0; k < DRAIN_CONN_MAX &&
			    d->conns->c[k].fd != pfd[i].fd; k++)
				;
			if (k == DRAIN_CONN_MAX)
				continue;
			c = &d->conns->c[k];
			if (c->state == CONN_ANSWER)
				drain_conn_write(d, c);
			else
				drain_conn_read(d, c);
		}
	now = drain_conn_now();
	for (i = 0; i < DRAIN_CONN_MAX; i++) {
		c = &d->conns->c[i];
		if (c->fd == -1 || c->deadline > now)
			continue;
		log_warnx("control socket: connection from uid %u closed: "
		    "the exchange took more than %d seconds (at the %s)",
		    (unsigned int)c->cr.uid, c->state == CONN_ANSWER ?
		    CTL_TOTAL : CTL_REQWAIT, conn_state_names[c->state]);
		drain_conn_close(d, c);
	}
}

/* Stopping: every connection closed, every uncommitted copy removed. */
void
drain_conn_end(struct drain *d)
{
	size_t	 i;

	for (i = 0; i < DRAIN_CONN_MAX; i++)
		if (d->conns->c[i].fd != -1)
			drain_conn_close(d, &d->conns->c[i]);
}
