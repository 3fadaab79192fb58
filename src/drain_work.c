/*
 * max_sessions: up to N sessions to the smarthost in parallel, one per
 * delivery worker.
 *
 * Design.  The daemon (the parent) stays the only owner of the queue
 * table, the state files, bounces and the log of outcomes; workers only
 * read a queue file and talk SMTP.  The workers are forked at start-up,
 * before the sandbox, since the sandbox forbids fork; each then applies
 * the same sandbox itself.  Per message:
 *
 *	parent: load queue/ID and its state (drain_try_load), mark it in
 *		flight on one idle worker, send the worker the ID
 *	worker: open queue/ID and its state itself, send it on its own
 *		session (drain_sess.c), answer each recipient's outcome
 *		and an end record
 *	parent: apply the outcomes and record them (drain_try_done), the
 *		same code as with one session
 *
 * A message is in flight on at most one worker, and only the parent
 * hands messages out, so no message is ever on two sessions at once;
 * relayq hold and delete leave a message in flight alone (drain_ctl.c).
 * Requests and answers are records on a SOCK_SEQPACKET socketpair, one
 * per worker, and the parent checks every index it is sent.
 *
 * Crashes: a worker has no state of its own, so a killed worker costs its
 * message the outcome of this attempt: the parent defers the recipients
 * it did not hear about ("may be delivered more than once": a 250 may
 * have come), and the worker is not replaced (a sandboxed parent cannot
 * fork).  A killed parent takes the workers with it (PR_SET_PDEATHSIG):
 * none goes on sending a message that a restarted daemon also sends.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "client.h"
#include "drain.h"

enum work_type {
	WORK_RCPT,		/* one recipient's outcome */
	WORK_END,		/* the attempt is over */
};

/* WORK_END: how the attempt went */
enum work_outcome {
	WORK_TRIED,		/* the recipients' records say */
	WORK_NO_SESSION,	/* no smarthost gave a session: not tried */
	WORK_UNREADABLE,	/* the queue file could not be opened: not
				   tried; no word on the smarthost */
};

/* worker -> parent */
struct work_rec {
	int		 type;
	int		 down;			/* WORK_END: enum
						   work_outcome */
	uint32_t	 i;			/* WORK_RCPT: index */
	int		 status;
	char		 dsn[16];
	char		 reply[REPLY_MAX];
	char		 relay[448];
	char		 err[REPLY_MAX + 128];	/* WORK_END, when down */
};

struct work {
	int			 fd;	/* to the worker; -1: gone */
	int			 busy;	/* t is in flight there */
	struct drain_try	 t;
};

/* the daemon's workers (d->work; NULL with max_sessions 1) */
struct drain_work {
	struct work	 w[DRAIN_WORK_MAX];
	size_t		 n;
	/* the run under way, from drain_work_begin until drain_work_step
	   says it is over */
	int		 running;
	char		(*due)[SPOOL_IDLEN + 1];	/* due at its start */
	size_t		 ndue, next;
	time_t		 now;
	int		 down[CONF_MAXROUTES];	/* a worker found no
						   session of the route in
						   this run */
	char		 err[CONF_MAXROUTES][REPLY_MAX + 128];
};

/*
 * worker: answer one request (a queue id; "-" = the run is over;
 * "reload" = read the configuration file again: drain_conf.c)
 */
static void
drain_work_serve(struct drain *d, int fd, const char *id)
{
	struct work_rec	 r;
	struct qmsg	 m;
	size_t		 i;

	if (strcmp(id, "reload") == 0) {
		if (drain_conf_apply(d, NULL, 0, r.err, sizeof(r.err)) == -1)
			log_warnx("reload: a delivery worker: %s; it keeps "
			    "the configuration it had", r.err);
		return;
	}
	if (strcmp(id, "-") == 0) {
		drain_sess_park(d->sess);
		if (drain_sess_idle_fd(d->sess) == -1)
			idle_trim();	/* idle.c: as the daemon does */
		return;
	}
	memset(&r, 0, sizeof(r));
	r.type = WORK_END;
	if (spool_open_msg(d->queuefd, id, &m, r.err,
	    sizeof(r.err)) == -1) {
		r.down = WORK_UNREADABLE;
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(0);	/* the parent is gone */
		return;
	}
	(void)spool_read_state(d->statefd, id, &m);
	/* the parent chose the same route from the same sender
	   (drain_try_load) */
	r.down = drain_sess_send(d->sess, d->conf, route_for(d->conf,
	    m.sender), &m, r.relay, sizeof(r.relay), r.err,
	    sizeof(r.err)) == -1 ? WORK_NO_SESSION : WORK_TRIED;
	for (i = 0; i < m.nrcpt; i++) {
		r.type = WORK_RCPT;
		r.i = (uint32_t)i;
		r.status = m.rcpt[i].status;
		(void)strlcpy(r.dsn, m.rcpt[i].dsn, sizeof(r.dsn));
		(void)strlcpy(r.reply, m.rcpt[i].reply, sizeof(r.reply));
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(0);	/* the parent is gone */
	}
	spool_free_msg(&m);
	r.type = WORK_END;
	if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(0);	/* the parent is gone */
}

/* worker: requests until the parent closes its end, then QUIT */
static void __attribute__((noreturn))
drain_work_child(struct drain *d, int fd)
{
	struct pollfd	 pfd[2];
	char		 id[SPOOL_IDLEN + 1];
	time_t		 until;
	ssize_t		 len;
	int		 n, timeout;

	for (;;) {
		until = drain_sess_idle_until(d->sess);
		timeout = until == 0 ? -1 : until > time(NULL) ?
		    (int)(until - time(NULL)) * 1000 : 0;
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = drain_sess_idle_fd(d->sess);
		pfd[1].events = POLLIN;
		if ((n = poll(pfd, 2, timeout)) == -1 && errno == EINTR)
			continue;
		drain_sess_idle_check(d->sess, n > 0 ? pfd[1].revents : 0);
		if (n == 0 && drain_sess_idle_fd(d->sess) == -1)
			idle_trim();	/* the parked session just ended */
		if (n <= 0 || pfd[0].revents == 0)
			continue;
		if ((len = read(fd, id, sizeof(id) - 1)) <= 0)
			break;
		id[len] = '\0';
		drain_work_serve(d, fd, id);
	}
	drain_sess_end(d->sess, 1);
	_exit(0);
}

/*
 * At start-up, before the sandbox: fork the workers.  Each closes what
 * it must not hold (the control socket, the pid lock: a worker must not
 * keep the spool locked), reseeds the TLS random generator (it would
 * otherwise repeat its siblings' randoms), and applies the sandbox.
 */
int
drain_work_start(struct drain *d, char *err, size_t errsz)
{
	struct drain_work	*wk;
	pid_t			 parent = getpid(), pid;
	size_t			 i, j;
	int			 sv[2];

	if (d->conf->max_sessions <= 1)
		return 0;
	if (d->conf->route[0].auth_password_command != NULL) {
		(void)snprintf(err, errsz, "%s: max_sessions above 1 does not "
		    "work with auth_password_command in this version",
		    d->conf->path);
		return -1;
	}
	if ((wk = d->work = calloc(1, sizeof(*wk))) == NULL) {
		(void)snprintf(err, errsz, "starting delivery workers: %s",
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < (size_t)d->conf->max_sessions; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1 || (pid = fork()) == -1) {
			(void)snprintf(err, errsz, "starting delivery worker "
			    "%zu: %s", i + 1, strerror(errno));
			return -1;
		}
		if (pid == 0) {
			(void)close(sv[0]);
			for (j = 0; j < wk->n; j++)
				(void)close(wk->w[j].fd);
			(void)close(d->ctlfd);
			(void)close(d->lockfd);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
			    getppid() != parent)
				_exit(1);
			(void)signal(SIGTERM, SIG_IGN);	/* the parent's EOF
							   ends us */
			(void)signal(SIGINT, SIG_IGN);
			tls_reseed();
			sandbox_apply(d->conf);
			drain_work_child(d, sv[1]);
		}
		(void)close(sv[1]);
		wk->w[wk->n].fd = sv[0];
		wk->w[wk->n++].busy = 0;
	}
	log_info("%zu delivery workers (max_sessions)", wk->n);
	return 0;
}

/*
 * Message `id' goes to a worker (busy) or comes back: marked in the
 * queue table, where relayq hold and delete see it (drain_ctl.c).
 */
static void
drain_work_mark(struct drain *d, const char *id, int busy)
{
	size_t	 qi;

	if (drain_q_find(&d->q, id, &qi) == 0)
		d->q.q[qi].busy = (unsigned char)busy;
}

/* A worker is gone: what it had in flight is deferred, never lost. */
static void
drain_work_lost(struct drain *d, struct work *w)
{
	log_warnx("delivery worker %zu exited; %zu left",
	    (size_t)(w - d->work->w) + 1, d->work->n - 1);
	(void)close(w->fd);
	w->fd = -1;
	if (!w->busy)
		return;
	drain_try_defer_all(&w->t.m, "4.3.0", RCPT_DEFER, "delivery worker "
	    "exited during the attempt: message may be delivered more than "
	    "once");
	drain_work_mark(d, w->t.m.id, 0);
	drain_try_done(d, &w->t, 0, "");
	w->busy = 0;
}

/* parent: one worker's answer, applied and recorded */
static void
drain_work_answer(struct drain *d, struct work *w)
{
	struct work_rec	 r;
	struct rcpt	*rc;
	ssize_t		 n;
	size_t		 ri;

	for (;;) {
		n = read(w->fd, &r, sizeof(r));
		if (n != (ssize_t)sizeof(r)) {
			drain_work_lost(d, w);
			return;
		}
		if (r.type == WORK_END)
			break;
		if (r.type != WORK_RCPT || r.i >= w->t.m.nrcpt ||
		    !w->t.open[r.i])
			continue;	/* not ours to change */
		rc = &w->t.m.rcpt[r.i];
		rc->status = r.status >= RCPT_PENDING && r.status <= RCPT_FAIL ?
		    (enum rcpt_status)r.status : RCPT_DEFER;
		r.dsn[sizeof(r.dsn) - 1] = '\0';
		r.reply[sizeof(r.reply) - 1] = '\0';
		(void)strlcpy(rc->dsn, r.dsn, sizeof(rc->dsn));
		(void)strlcpy(rc->reply, r.reply, sizeof(rc->reply));
	}
	r.relay[sizeof(r.relay) - 1] = '\0';
	r.err[sizeof(r.err) - 1] = '\0';
	(void)strlcpy(w->t.relay, r.relay[0] != '\0' ? r.relay : "none",
	    sizeof(w->t.relay));
	w->t.connt = w->t.start;
	if (r.down == WORK_UNREADABLE) {
		drain_try_defer_all(&w->t.m, "4.3.0", RCPT_DEFER, r.err);
		r.down = WORK_TRIED;
	}
	ri = w->t.route->idx;
	if (r.down == WORK_NO_SESSION && !d->work->down[ri]) {
		d->work->down[ri] = 1;
		(void)strlcpy(d->work->err[ri], r.err,
		    sizeof(d->work->err[ri]));
	}
	drain_try_outage(d, w->t.route, r.down != WORK_NO_SESSION);
	drain_work_mark(d, w->t.m.id, 0);
	drain_try_done(d, &w->t, r.down == WORK_NO_SESSION, r.err);
	w->busy = 0;
}

/*
 * An idle worker, checked to be alive first: a message handed to a
 * worker that already died would be deferred for nothing.
 */
static struct work *
drain_work_idle(struct drain *d)
{
	struct pollfd	 pfd;
	size_t		 i;

	for (i = 0; d->work != NULL && i < d->work->n; i++) {
		if (d->work->w[i].fd == -1 || d->work->w[i].busy)
			continue;
		pfd.fd = d->work->w[i].fd;
		pfd.events = 0;
		if (poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLHUP | POLLERR)) != 0) {
			drain_work_lost(d, &d->work->w[i]);
			continue;
		}
		return &d->work->w[i];
	}
	return NULL;
}

static size_t
drain_work_nbusy(const struct drain_work *wk)
{
	size_t	 i, n = 0;

	for (i = 0; i < wk->n; i++)
		n += wk->w[i].busy;
	return n;
}


/*
 * One delivery run on the workers, made in steps by the daemon's loop,
 * which polls the busy workers' sockets (drain_work_pollfds) with its
 * others and hands what is ready to drain_work_step; control requests
 * are served by that loop meanwhile.  The due messages are listed at
 * the start: outcomes arrive in any order and each may remove its
 * message from the table (drain_q_del moves entries), so walking the table
 * by position while that happens could skip one.  -1: no worker
 * (max_sessions 1, or all gone), and the caller delivers on its own
 * session.
 */
int
drain_work_begin(struct drain *d, time_t now)
{
	struct drain_work	*wk = d->work;
	struct drain_q		*q = &d->q;
	size_t			 i;

	if (drain_work_idle(d) == NULL)
		return -1;
	if ((wk->due = reallocarray(NULL, q->nq + 1,
	    sizeof(*wk->due))) == NULL) {
		log_warn("delivery run");
		return 0;
	}
	wk->ndue = wk->next = 0;
	for (i = 0; i < q->nq; i++)
		if (q->q[i].next <= now)
			(void)strlcpy(wk->due[wk->ndue++], q->q[i].id,
			    sizeof(*wk->due));
	wk->now = now;
	memset(wk->down, 0, sizeof(wk->down));
	wk->running = 1;
	(void)drain_work_step(d, NULL);
	return 0;
}

/* Is a run under way? (the loop then waits for it, not for retries) */
int
drain_work_running(const struct drain *d)
{
	return d->work != NULL && d->work->running;
}

/*
 * The sockets of the busy workers, into `pfd' (DRAIN_WORK_MAX entries, the
 * others -1); how many entries, 0 when no run is under way.
 */
size_t
drain_work_pollfds(const struct drain *d, struct pollfd *pfd)
{
	const struct drain_work	*wk = d->work;
	size_t			 i;

	if (!drain_work_running(d))
		return 0;
	for (i = 0; i < wk->n; i++) {
		pfd[i].fd = wk->w[i].busy ? wk->w[i].fd : -1;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	return wk->n;
}

/* hand due messages to idle workers; 0 when every worker is gone */
static int
drain_work_hand(struct drain *d)
{
	struct drain_work	*wk = d->work;
	struct work		*w;
	const char		*id;
	size_t			 qi;

	while (wk->next < wk->ndue && !*d->stop) {
		if ((w = drain_work_idle(d)) == NULL)
			return drain_work_nbusy(wk) > 0;
		id = wk->due[wk->next++];
		/* hold, delete or an earlier outcome may have changed it */
		if (drain_q_find(&d->q, id, &qi) == -1 ||
		    d->q.q[qi].next > wk->now || drain_try_held(d, qi))
			continue;
		if (drain_try_load(d, id, wk->now, &w->t) == -1)
			continue;
		if (w->t.expired || wk->down[w->t.route->idx]) {
			drain_try_done(d, &w->t, wk->down[w->t.route->idx],
			    wk->err[w->t.route->idx]);
			continue;
		}
		/* its route's rate holds it back: it stays due, and the
		   run goes on with the other routes' messages */
		if (drain_try_begin(d, &w->t) == -1)
			continue;
		if (write(w->fd, id, strlen(id)) == -1) {
			w->busy = 1;
			drain_work_lost(d, w);
			continue;
		}
		w->busy = 1;
		drain_work_mark(d, id, 1);
	}
	return 1;
}

/*
 * After the loop's poll: the answers of the workers whose entries of
 * `pfd' (from drain_work_pollfds; NULL: none) are ready, then more due
 * messages handed out.  0 when the run is over: every due message was
 * tried (or SIGTERM came, or every worker is gone) and none is in
 * flight.  Each worker may then park its session.
 */
int
drain_work_step(struct drain *d, const struct pollfd *pfd)
{
	struct drain_work	*wk = d->work;
	size_t			 i;

	if (!drain_work_running(d))
		return 0;
	for (i = 0; pfd != NULL && i < wk->n; i++)
		if (pfd[i].fd != -1 && pfd[i].revents != 0 && wk->w[i].busy)
			drain_work_answer(d, &wk->w[i]);
	if (!drain_work_hand(d))
		wk->next = wk->ndue;	/* every worker is gone */
	if ((wk->next < wk->ndue && !*d->stop) || drain_work_nbusy(wk) > 0)
		return 1;
	free(wk->due);
	wk->due = NULL;
	wk->running = 0;
	for (i = 0; i < wk->n; i++)
		if (wk->w[i].fd != -1 && write(wk->w[i].fd, "-", 1) == -1)
			drain_work_lost(d, &wk->w[i]);
	drain_try_sync(d);
	return 0;
}

/*
 * The daemon took a new configuration file: each worker reads it too.
 * A busy one reads the record when its message is done (the socket
 * keeps records in order), and answers nothing to it.
 */
void
drain_work_reload(struct drain *d)
{
	struct drain_work	*wk = d->work;
	size_t			 i;

	for (i = 0; wk != NULL && i < wk->n; i++)
		if (wk->w[i].fd != -1 && write(wk->w[i].fd, "reload", 6) == -1)
			drain_work_lost(d, &wk->w[i]);
}

/*
 * At stop: close each worker's socket; it ends its session with QUIT
 * and exits, which closes its end.  Waiting for that EOF (at most the
 * QUIT timeout) keeps PR_SET_PDEATHSIG from cutting the QUIT short.
 */
void
drain_work_stop(struct drain *d)
{
	struct drain_work	*wk = d->work;
	char			 c;
	size_t			 i;

	for (i = 0; wk != NULL && i < wk->n; i++)
		if (wk->w[i].fd != -1)
			(void)shutdown(wk->w[i].fd, SHUT_WR);
	for (i = 0; wk != NULL && i < wk->n; i++)
		if (wk->w[i].fd != -1) {
			while (read(wk->w[i].fd, &c, 1) > 0)
				;
			(void)close(wk->w[i].fd);
			wk->w[i].fd = -1;
		}
}
