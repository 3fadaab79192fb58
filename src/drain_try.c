/*
 * relayq drain: one attempt at one message, whoever makes it (drain_run
 * on the daemon's own session, or a delivery worker: drain_work.c).
 * drain_try_load takes the message and its state; the attempt is made on
 * a session (drain_sess.c); drain_try_done logs each recipient, bounces
 * the failed ones and records the outcome: the message leaves queue/, or
 * goes to failed/, or waits for its next retry.  Only the daemon, owner
 * of the queue table and the state files, runs this file.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"
#include "crash.h"

#define DRAIN_SYNC_MAX	64	/* removals from queue/ per fsync ... */
#define DRAIN_SYNC_AGE	1	/* ... or after this many seconds */

double
drain_try_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Log one line per recipient decided in this attempt, Postfix grammar,
 * with the route (route.c) as one more "name=value, " field before dsn=.
 */
static void
drain_try_log(struct drain *d, const struct qmsg *m, size_t i,
    const struct route *route, const char *relay, double start, double conn,
    double end)
{
	const struct rcpt	*r = &m->rcpt[i];
	char			 orig[ADDR_MAX + 16] = "";
	static const char *const names[] = {
		"deferred", "sent", "deferred", "bounced"
	};

	if (r->orig != NULL)
		(void)snprintf(orig, sizeof(orig), " orig_to=<%s>,", r->orig);
	log_info("%s: to=<%s>,%s relay=%s, delay=%.2f, delays=%.2f/0/%.2f/"
	    "%.2f, route=%s, dsn=%s, status=%s (%s)", m->id, r->addr, orig,
	    relay, end - (double)m->arrival, start - (double)m->arrival,
	    conn - start, end - conn, route->name, r->dsn, names[r->status],
	    r->reply);
	if (r->status == RCPT_SENT) {
		d->stats.sent++;
		d->stats.last_sent = (time_t)end;
		(void)strlcpy(d->stats.last_sent_id, m->id,
		    sizeof(d->stats.last_sent_id));
		return;
	}
	if (r->status == RCPT_FAIL)
		d->stats.bounced++;
	else
		d->stats.deferred++;
	d->stats.last_error = (time_t)end;
	(void)snprintf(d->stats.last_error_text,
	    sizeof(d->stats.last_error_text), "%s: %s", m->id, r->reply);
}

/*
 * Removals from queue/ since its last fsync.  A delivered message's
 * unlink is not fsynced on its own: the directory is synced once per
 * DRAIN_SYNC_MAX removals (d->unsynced), once they are DRAIN_SYNC_AGE
 * old, and at the end of every delivery run.  A kill -9 in between
 * loses nothing (the unlinks are in the page cache and reach the disk
 * anyway).  A power
 * loss may undo the unlinks of the last few messages, which are then
 * delivered again although their 250 was received: the post-dot
 * duplicate window of relayq-spool(5), widened from one message
 * to at most DRAIN_SYNC_MAX, never a loss.
 */
void
drain_try_sync(struct drain *d)
{
	if (d->unsynced == 0)
		return;
	if (fsync(d->queuefd) == -1)
		log_warn("fsync queue/ after removing %zu delivered "
		    "message(s)", d->unsynced);
	d->unsynced = 0;
}

/*
 * After an attempt: done (every recipient sent or failed) -> remove the
 * message, or keep it in failed/ when some failed; else schedule the
 * next try with exponential backoff and save the state.  `throttled':
 * the provider throttled the sender and every sending waits until then;
 * this attempt is not counted (the message's own backoff does not
 * grow), and queue_lifetime still applies.
 *
 * Order matters for crashes: the message leaves queue/ before its state
 * file goes, so a crash in between leaves an orphan state file (removed
 * at start-up), never a message without the record of who has it.
 */
static void
drain_try_finish(struct drain *d, struct qmsg *m, size_t qi, time_t throttled)
{
	char	 name[SPOOL_IDLEN + 8];
	time_t	 now = time(NULL), delay;
	size_t	 i, nfail = 0, nopen = 0;

	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].status == RCPT_FAIL)
			nfail++;
		else if (m->rcpt[i].status != RCPT_SENT)
			nopen++;
	}
	if (!throttled)
		m->attempts++;
	m->last_try = now;
	if (nopen == 0 && nfail > 0) {
		/* kept for the operator with the record of who failed */
		(void)snprintf(name, sizeof(name), "%s.state", m->id);
		if (spool_write_state(d->statefd, m->id, m) == -1 ||
		    renameat(d->queuefd, m->id, d->failedfd, m->id) == -1 ||
		    (CRASH_POINT("drain-failed-mid"), renameat(d->statefd,
		    m->id, d->failedfd, name)) == -1 ||
		    fsync(d->failedfd) == -1 || fsync(d->statefd) == -1 ||
		    fsync(d->queuefd) == -1)
			log_warn("%s: moving to failed/", m->id);
		else
			log_info("%s: %zu recipient(s) failed, message kept in "
			    "failed/", m->id, nfail);
	} else if (nopen == 0) {
		if (unlinkat(d->queuefd, m->id, 0) == -1)
			log_warn("%s: unlink", m->id);
		CRASH_POINT("drain-finish-mid");
		if (unlinkat(d->statefd, m->id, 0) == -1 && errno != ENOENT)
			log_warn("%s: unlink state", m->id);
		if (d->unsynced++ == 0)
			d->unsynced_since = now;
		if (d->unsynced >= DRAIN_SYNC_MAX ||
		    now - d->unsynced_since >= DRAIN_SYNC_AGE)
			drain_try_sync(d);
	}
	if (nopen == 0) {
		log_info("%s: removed", m->id);
		drain_q_del(&d->q, qi);
		return;
	}
	delay = d->conf->retry_min;
	for (i = 1; i < m->attempts && delay < d->conf->retry_max; i++)
		delay *= 2;
	if (delay > d->conf->retry_max)
		delay = d->conf->retry_max;
	m->next_try = throttled ? throttled : now + delay;
	d->q.q[qi].next = m->next_try;
	if (spool_write_state(d->statefd, m->id, m) == -1)
		log_warn("%s: saving delivery state", m->id);
}

/* Every recipient still open gets `why' as a deferral (or expiry). */
void
drain_try_defer_all(struct qmsg *m, const char *dsn, enum rcpt_status st,
    const char *why)
{
	size_t	 i;

	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].status == RCPT_PENDING ||
		    m->rcpt[i].status == RCPT_DEFER) {
			m->rcpt[i].status = st;
			(void)strlcpy(m->rcpt[i].dsn, dsn,
			    sizeof(m->rcpt[i].dsn));
			(void)strlcpy(m->rcpt[i].reply, why,
			    sizeof(m->rcpt[i].reply));
		}
}

/*
 * Recipients that failed for good in this attempt (open[i] says who was
 * tried) get one DSN to the sender.  The bounce is queued and fsynced
 * before the caller records the failure (bounce.c says why); when it
 * cannot be written they stay deferred, so the failure is reported on a
 * later try rather than never.  A null-sender message is never bounced:
 * that is how bounce loops are stopped.
 */
static void
drain_try_bounce(struct drain *d, struct qmsg *m, const char *open)
{
	char	*failed, newid[SPOOL_IDLEN + 1], err[256];
	size_t	 i, n = 0;

	if ((failed = calloc(m->nrcpt, 1)) == NULL) {
		log_warn("%s: bounce", m->id);
		return;
	}
	/* -N: NOTIFY=NEVER, or a list without FAILURE, asks for none */
	for (i = 0; i < m->nrcpt; i++)
		if (open[i] && m->rcpt[i].status == RCPT_FAIL) {
			if (m->rcpt[i].notify != 0 &&
			    !(m->rcpt[i].notify & DSN_NOTIFY_FAILURE)) {
				log_info("%s: to=<%s>: no non-delivery "
				    "notification: not requested (NOTIFY)",
				    m->id, m->rcpt[i].addr);
				continue;
			}
			failed[i] = 1;
			n++;
		}
	if (n == 0)
		goto done;
	if (m->sender[0] == '\0') {	/* bounce_to included */
		log_info("%s: no non-delivery notification: null sender",
		    m->id);
		goto done;
	}
	if (bounce_write(d->dropfd, d->conf, m, failed, newid, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: cannot queue the non-delivery notification: "
		    "%s; failed recipients kept as deferred", m->id, err);
		for (i = 0; i < m->nrcpt; i++)
			if (failed[i])
				m->rcpt[i].status = RCPT_DEFER;
		goto done;
	}
	log_info("%s: sender non-delivery notification: %s", m->id, newid);
	drain_import_one(d, newid);
	drain_import_commit(d);
	CRASH_POINT("drain-bounce-queued");
 done:
	free(failed);
}

/*
 * An outage costs one connection attempt per route and run, not one per
 * message (drain_run), and each message backs off on its own.  When a
 * smarthost of route `r' answers again, everything waiting is made due
 * at once: the backoff was about the smarthost, not about the messages.
 * (Messages of other routes are made due too: which route each takes is
 * known only once it is loaded, and a try too early costs them nothing.)
 */
void
drain_try_outage(struct drain *d, const struct route *r, int up)
{
	size_t	 i;

	if (!up) {
		d->outage[r->idx] = 1;
		return;
	}
	if (!d->outage[r->idx])
		return;
	d->outage[r->idx] = 0;
	for (i = 0; i < d->q.nq; i++)
		d->q.q[i].next = 0;
	log_info("route=%s: smarthost reachable again: retrying %zu queued "
	    "message(s) now", r->name, d->q.nq);
}

/*
 * The attempt on `id' ended: apply a hold or delete asked for while it
 * was in flight (drain_ctl.c keeps them in d->pend).
 */
static void
drain_try_pending(struct drain *d, const char *id)
{
	struct drain_pend	 p;
	size_t			 i, qi;

	for (i = 0; i < d->npend; i++)
		if (strcmp(d->pend[i].id, id) == 0)
			break;
	if (i == d->npend)
		return;
	p = d->pend[i];
	d->pend[i] = d->pend[--d->npend];
	if (d->npend == 0) {
		free(d->pend);
		d->pend = NULL;
	}
	if (drain_q_find(&d->q, id, &qi) == -1) {
		log_info("%s: %s requested by uid %u not applied: the delivery "
		    "attempt finished the message", id, p.cmd == CTL_HOLD ?
		    "hold" : "delete", (unsigned int)p.uid);
		return;
	}
	if (p.cmd == CTL_DELETE)
		(void)drain_spool_remove(d, id, DRAIN_QUEUED, qi, p.uid);
	else if (drain_spool_move(id, d->queuefd, d->holdfd) == 0) {
		drain_q_del(&d->q, qi);
		log_info("%s: placed on hold by uid %u", id,
		    (unsigned int)p.uid);
	}
}

/*
 * The message at `qi' in the queue table belongs to a route whose rate
 * limit or throttling pause holds its messages back: it is skipped
 * without reading it (its route is known from an earlier attempt).
 */
int
drain_try_held(struct drain *d, size_t qi)
{
	unsigned int	 r = d->q.q[qi].route;

	return r != 0 && drain_rate_holding(d->rate[r - 1]);
}

/*
 * Load queue/ID and its state for an attempt, and note who is still
 * open.  -1 when it cannot be tried now (logged; a file that cannot be
 * opened is tried again after retry_max, one that no longer parses is
 * quarantined with its state).
 */
int
drain_try_load(struct drain *d, const char *id, time_t now,
    struct drain_try *t)
{
	char	 err[256], name[SPOOL_IDLEN + 8];
	size_t	 i, qi;
	int	 fd;

	memset(t, 0, sizeof(*t));
	if ((fd = openat(d->queuefd, id, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		log_warn("%s: queue file; left in queue/", id);
		if (drain_q_find(&d->q, id, &qi) == 0)
			d->q.q[qi].next = now + d->conf->retry_max;
		return -1;
	}
	if (spool_load_fd(fd, &t->m, err, sizeof(err)) == -1) {
		/* it was taken in, so it was committed: changed since */
		(void)drain_quar_move(d, d->queuefd, "queue", id, fd, err, 1);
		(void)close(fd);
		(void)snprintf(name, sizeof(name), "%s.state", id);
		if (renameat(d->statefd, id, d->corruptfd, name) == -1 &&
		    errno != ENOENT)
			log_warn("%s: moving its state to corrupt/", id);
		if (drain_q_find(&d->q, id, &qi) == 0)
			drain_q_del(&d->q, qi);
		return -1;
	}
	if (spool_read_state(d->statefd, t->m.id, &t->m) == -1)
		log_warnx("%s: state file unreadable; retrying every "
		    "recipient not known to be done", t->m.id);
	if ((t->open = calloc(t->m.nrcpt, 1)) == NULL) {
		log_warn("%s", t->m.id);
		spool_free_msg(&t->m);
		return -1;
	}
	for (i = 0; i < t->m.nrcpt; i++) {
		t->open[i] = t->m.rcpt[i].status == RCPT_PENDING ||
		    t->m.rcpt[i].status == RCPT_DEFER;
		t->nopen += t->open[i];
	}
	t->route = route_for(d->conf, t->m.sender);
	if (drain_q_find(&d->q, id, &qi) == 0)
		d->q.q[qi].route = (unsigned char)(t->route->idx + 1);
	t->start = t->connt = drain_try_now();
	(void)strlcpy(t->relay, "none", sizeof(t->relay));
	t->expired = now - t->m.arrival > d->conf->queue_lifetime;
	if (t->expired)
		drain_try_defer_all(&t->m, "4.4.7", RCPT_FAIL, "message "
		    "expired: delivery time (queue_lifetime) exceeded");
	return 0;
}

/* A loaded message that is not tried now after all: nothing recorded. */
static void
drain_try_release(struct drain_try *t)
{
	free(t->open);
	t->open = NULL;
	spool_free_msg(&t->m);
}

/*
 * The loaded message is about to be sent: 0 when the rate limit and the
 * throttling pause of its route let it start now (drain_rate.c); -1 when
 * they hold it back, and it is released, still due, for the caller to
 * go on with other routes' messages.
 */
int
drain_try_begin(struct drain *d, struct drain_try *t)
{
	if (drain_rate_begin(d->rate[t->route->idx], t->nopen) == -1) {
		drain_try_release(t);
		return -1;
	}
	t->rated = 1;
	return 0;
}

/*
 * The attempt is over: log each recipient tried, bounce, and record the
 * outcome (drain_try_finish).  `down': no session could be had, and every
 * open recipient is deferred with `err'.  Only this process, the owner
 * of the queue table and the state files, gets here.
 */
void
drain_try_done(struct drain *d, struct drain_try *t, int down,
    const char *err)
{
	double	 end;
	size_t	 i, qi;
	time_t	 throttled = 0;

	/* 250 after the dot, unrecorded */
	if (drain_sess_count_sent(&t->m) > 0)
		CRASH_POINT("drain-after-dot");
	if (down)
		drain_try_defer_all(&t->m, "4.4.1", RCPT_DEFER, err);
	if (t->rated)
		drain_rate_end(d->rate[t->route->idx], t->nopen, !down);
	if (!down)
		throttled = drain_rate_outcome(d->rate[t->route->idx], &t->m,
		    t->open,
		    t->relay);
	end = drain_try_now();
	for (i = 0; i < t->m.nrcpt; i++)
		if (t->open[i])
			drain_try_log(d, &t->m, i, t->route, t->relay,
			    t->start, t->connt, end);
	drain_try_bounce(d, &t->m, t->open);
	free(t->open);
	t->open = NULL;
	if (drain_q_find(&d->q, t->m.id, &qi) == 0)
		drain_try_finish(d, &t->m, qi, throttled);
	else	/* cannot happen: drain_ctl.c leaves those in flight alone */
		log_warnx("%s: left the queue table during delivery", t->m.id);
	/* a hold or delete asked for while it was in flight */
	drain_try_pending(d, t->m.id);
	spool_free_msg(&t->m);
	drain_import_refill(d);	/* it may have left room */
}
