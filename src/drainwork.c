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
 *		session (drainsess.c), answer each recipient's outcome
 *		and an end record
 *	parent: apply the outcomes and record them (drain_try_done), the
 *		same code as with one session
 *
 * A message is in flight on at most one worker, and only the parent
 * hands messages out, so no message is ever on two sessions at once;
 * relayq hold and delete leave a message in flight alone (drainctl.c).
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

#define WORK_MAX	16

enum work_type {
	WORK_RCPT,		/* one recipient's outcome */
	WORK_END,		/* the attempt is over */
};

/* worker -> parent */
struct work_rec {
	int		 type;
	int		 down;			/* WORK_END: 1 no session,
						   2 queue file unreadable */
	uint32_t	 i;			/* WORK_RCPT: index */
	int		 status;
	char		 dsn[16];
	char		 reply[REPLY_MAX];
	char		 relay[320];
	char		 err[REPLY_MAX + 128];	/* WORK_END, when down */
};

struct work {
	int			 fd;	/* to the worker; -1: gone */
	int			 busy;	/* t is in flight there */
	struct drain_try	 t;
};

static struct work	 work[WORK_MAX];
static size_t		 nwork;
static int		 work_down;	/* a worker found no session */
static char		 work_err[REPLY_MAX + 128];

/* worker: answer one request (a queue id; "-" = the run is over) */
static void
drain_work_serve(int fd, const char *id)
{
	struct work_rec	 r;
	struct qmsg	 m;
	size_t		 i;

	if (strcmp(id, "-") == 0) {
		drain_sess_park();
		if (drain_sess_idle_fd() == -1)
			idle_trim();	/* idle.c: as the daemon does */
		return;
	}
	memset(&r, 0, sizeof(r));
	r.type = WORK_END;
	if (spool_open_msg(drain_queuefd, id, &m, r.err,
	    sizeof(r.err)) == -1) {
		r.down = 2;	/* not tried; no word on the smarthost */
		if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(0);	/* the parent is gone */
		return;
	}
	(void)spool_read_state(drain_statefd, id, &m);
	r.down = drain_sess_send(&m, r.relay, sizeof(r.relay), r.err,
	    sizeof(r.err)) == -1;
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
drain_work_child(int fd)
{
	struct pollfd	 pfd[2];
	char		 id[SPOOL_IDLEN + 1];
	time_t		 until;
	ssize_t		 len;
	int		 n, timeout;

	for (;;) {
		until = drain_sess_idle_until();
		timeout = until == 0 ? -1 : until > time(NULL) ?
		    (int)(until - time(NULL)) * 1000 : 0;
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = drain_sess_idle_fd();
		pfd[1].events = POLLIN;
		if ((n = poll(pfd, 2, timeout)) == -1 && errno == EINTR)
			continue;
		drain_sess_idle_check(n > 0 ? pfd[1].revents : 0);
		if (n == 0 && drain_sess_idle_fd() == -1)
			idle_trim();	/* the parked session just ended */
		if (n <= 0 || pfd[0].revents == 0)
			continue;
		if ((len = read(fd, id, sizeof(id) - 1)) <= 0)
			break;
		id[len] = '\0';
		drain_work_serve(fd, id);
	}
	drain_sess_end(1);
	_exit(0);
}

/*
 * At start-up, before the sandbox: fork the workers.  Each closes what
 * it must not hold (the control socket, the pid lock: a worker must not
 * keep the spool locked), reseeds the TLS random generator (it would
 * otherwise repeat its siblings' randoms), and applies the sandbox.
 */
int
drain_work_start(char *err, size_t errsz)
{
	pid_t	 parent = getpid(), pid;
	size_t	 i, j;
	int	 sv[2];

	if (drain_conf->max_sessions <= 1)
		return 0;
	if (drain_conf->auth_password_command != NULL) {
		(void)snprintf(err, errsz, "%s: max_sessions above 1 does not "
		    "work with auth_password_command in this version",
		    drain_conf->path);
		return -1;
	}
	for (i = 0; i < (size_t)drain_conf->max_sessions; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1 || (pid = fork()) == -1) {
			(void)snprintf(err, errsz, "starting delivery worker "
			    "%zu: %s", i + 1, strerror(errno));
			return -1;
		}
		if (pid == 0) {
			(void)close(sv[0]);
			for (j = 0; j < nwork; j++)
				(void)close(work[j].fd);
			(void)close(drain_ctlfd);
			(void)close(drain_lockfd);
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
			    getppid() != parent)
				_exit(1);
			(void)signal(SIGTERM, SIG_IGN);	/* the parent's EOF
							   ends us */
			(void)signal(SIGINT, SIG_IGN);
			tls_reseed();
			sandbox_apply(drain_conf);
			drain_work_child(sv[1]);
		}
		(void)close(sv[1]);
		work[nwork].fd = sv[0];
		work[nwork++].busy = 0;
	}
	log_info("%zu delivery workers (max_sessions)", nwork);
	return 0;
}

/* A worker is gone: what it had in flight is deferred, never lost. */
static void
drain_work_lost(struct work *w)
{
	log_warnx("delivery worker %zu exited; %zu left", (size_t)(w - work) +
	    1, nwork - 1);
	(void)close(w->fd);
	w->fd = -1;
	if (!w->busy)
		return;
	drain_defer_all(&w->t.m, "4.3.0", RCPT_DEFER, "delivery worker exited "
	    "during the attempt: message may be delivered more than once");
	drain_try_done(&w->t, 0, "");
	w->busy = 0;
}

/* parent: one worker's answer, applied and recorded */
static void
drain_work_answer(struct work *w)
{
	struct work_rec	 r;
	struct rcpt	*rc;
	ssize_t		 n;

	for (;;) {
		n = read(w->fd, &r, sizeof(r));
		if (n != (ssize_t)sizeof(r)) {
			drain_work_lost(w);
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
	if (r.down == 2) {
		drain_defer_all(&w->t.m, "4.3.0", RCPT_DEFER, r.err);
		r.down = 0;
	}
	if (r.down && !work_down) {
		work_down = 1;
		(void)strlcpy(work_err, r.err, sizeof(work_err));
	}
	drain_outage_note(!r.down);
	drain_try_done(&w->t, r.down, r.err);
	w->busy = 0;
}

/* parent: wait for answers (and serve control requests meanwhile) */
static void
drain_work_wait(void)
{
	struct pollfd	 pfd[WORK_MAX + 1 + DRAIN_CONN_MAX];
	size_t		 i, nconn;
	int		 rc;

	for (i = 0; i < nwork; i++) {
		pfd[i].fd = work[i].busy ? work[i].fd : -1;
		pfd[i].events = POLLIN;
	}
	pfd[nwork].fd = drain_ctlfd;
	pfd[nwork].events = POLLIN;
	/* the control connections too, woken for their deadlines */
	nconn = drain_conn_pollfds(pfd + nwork + 1);
	rc = poll(pfd, nwork + 1 + nconn, drain_conn_wake());
	drain_conn_serve();
	if (rc <= 0)
		return;
	for (i = 0; i < nwork; i++)
		if (pfd[i].fd != -1 && pfd[i].revents != 0)
			drain_work_answer(&work[i]);
}

/*
 * An idle worker, checked to be alive first: a message handed to a
 * worker that already died would be deferred for nothing.
 */
static struct work *
drain_work_idle(void)
{
	struct pollfd	 pfd;
	size_t		 i;

	for (i = 0; i < nwork; i++) {
		if (work[i].fd == -1 || work[i].busy)
			continue;
		pfd.fd = work[i].fd;
		pfd.events = 0;
		if (poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLHUP | POLLERR)) != 0) {
			drain_work_lost(&work[i]);
			continue;
		}
		return &work[i];
	}
	return NULL;
}

static size_t
drain_work_nbusy(void)
{
	size_t	 i, n = 0;

	for (i = 0; i < nwork; i++)
		n += work[i].busy;
	return n;
}

/* Is message `id' in flight on a worker? (relayq hold/delete ask) */
int
drain_work_busy(const char *id)
{
	size_t	 i;

	for (i = 0; i < nwork; i++)
		if (work[i].busy && strcmp(work[i].t.m.id, id) == 0)
			return 1;
	return 0;
}

/*
 * One delivery run on the workers.  The due messages are listed first:
 * outcomes arrive in any order and each may remove its message from the
 * table (drain_del moves entries), so walking the table by position
 * while that happens could skip one.  -1: no worker (max_sessions 1, or
 * all gone), and the caller delivers on its own session.
 */
int
drain_work_run(time_t now)
{
	char		(*due)[SPOOL_IDLEN + 1];
	struct work	*w;
	size_t		 i, n = 0, qi;

	if (drain_work_idle() == NULL)
		return -1;
	if ((due = reallocarray(NULL, drain_nq + 1, sizeof(*due))) == NULL) {
		log_warn("delivery run");
		return 0;
	}
	for (i = 0; i < drain_nq; i++)
		if (drain_q[i].next <= now)
			(void)strlcpy(due[n++], drain_q[i].id, sizeof(*due));
	work_down = 0;
	for (i = 0; i < n && !drain_stopping(); i++) {
		while ((w = drain_work_idle()) == NULL && drain_work_nbusy() > 0)
			drain_work_wait();
		if (w == NULL)
			break;		/* every worker is gone */
		drain_conn_serve();
		/* hold, delete or an earlier outcome may have changed it */
		if (drain_find(due[i], &qi) == -1 || drain_q[qi].next > now)
			continue;
		if (drain_try_load(due[i], now, &w->t) == -1)
			continue;
		if (w->t.expired || work_down) {
			drain_try_done(&w->t, work_down, work_err);
			continue;
		}
		if (write(w->fd, due[i], strlen(due[i])) == -1) {
			w->busy = 1;
			drain_work_lost(w);
			continue;
		}
		w->busy = 1;
	}
	while (drain_work_nbusy() > 0)
		drain_work_wait();
	free(due);
	/* the run is over: each worker may park its session */
	for (i = 0; i < nwork; i++)
		if (work[i].fd != -1 && write(work[i].fd, "-", 1) == -1)
			drain_work_lost(&work[i]);
	return 0;
}

/*
 * At stop: close each worker's socket; it ends its session with QUIT
 * and exits, which closes its end.  Waiting for that EOF (at most the
 * QUIT timeout) keeps PR_SET_PDEATHSIG from cutting the QUIT short.
 */
void
drain_work_stop(void)
{
	char	 c;
	size_t	 i;

	for (i = 0; i < nwork; i++)
		if (work[i].fd != -1)
			(void)shutdown(work[i].fd, SHUT_WR);
	for (i = 0; i < nwork; i++)
		if (work[i].fd != -1) {
			while (read(work[i].fd, &c, 1) > 0)
				;
			(void)close(work[i].fd);
			work[i].fd = -1;
		}
}
