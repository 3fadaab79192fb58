/*
 * relayq drain: the control requests of relayq(8) and sendmail -bp/-q,
 * answered by the daemon (the wire protocol is in ctl.c).  The queue
 * table and spool descriptors it works on belong to drain.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"

/*
 * The control socket (ctl.c has the protocol).  Who may do what is
 * decided here from the kernel's peer credentials: root, our own uid and
 * group relayq see and change every message; anyone else only messages
 * whose envelope uid is theirs, which sendmail wrote from getuid() and
 * the import check tied to the file's owner.
 */
static int
drain_ctl_admin(const struct ucred *cr)
{
	struct passwd	*pw;
	gid_t		 groups[256];
	int		 n = 256, i;

	if (cr->uid == 0 || cr->uid == geteuid() || cr->gid == getegid())
		return 1;
	if ((pw = getpwuid(cr->uid)) == NULL ||
	    getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (groups[i] == getegid())
			return 1;
	return 0;
}

/*
 * Where `id' is; when queued, its index in *qi, or DRAIN_NOT_HELD when
 * the table does not hold it.
 */
static enum drain_where
drain_ctl_where(const struct drain *d, const char *id, size_t *qi)
{
	struct stat	 st;

	if (drain_q_find(&d->q, id, qi) == 0)
		return DRAIN_QUEUED;
	*qi = DRAIN_NOT_HELD;
	if (spool_id_ok(id) &&
	    fstatat(d->queuefd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return DRAIN_QUEUED;
	if (fstatat(d->holdfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return DRAIN_HELD;
	return DRAIN_NOWHERE;
}

/* Open a message for a caller; -1 when absent or not theirs to see. */
static int
drain_ctl_open(const struct drain *d, const char *id,
    enum drain_where where, const struct ucred *cr, int admin,
    struct qmsg *m, long long *size)
{
	struct stat	 st;
	char		 err[256];

	if (spool_open_msg(where == DRAIN_HELD ? d->holdfd : d->queuefd, id, m,
	    err, sizeof(err)) == -1)
		return -1;
	if (!admin && m->uid != cr->uid) {
		spool_free_msg(m);
		return -1;
	}
	(void)spool_read_state(d->statefd, id, m);
	*size = fstat(m->fd, &st) == 0 ? (long long)st.st_size : 0;
	return 0;
}

static int
drain_ctl_visible(const struct drain *d, const char *id,
    enum drain_where where, const struct ucred *cr, int admin)
{
	struct qmsg	 m;
	long long	 size;

	if (admin)
		return 1;
	if (drain_ctl_open(d, id, where, cr, admin, &m, &size) == -1)
		return 0;
	spool_free_msg(&m);
	return 1;
}

static int
drain_ctl_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a + 1, (const char *)b + 1);
}

/*
 * Every message the caller may see, queued and held, oldest first
 * (ids sort by arrival).  Calls `fn' on each; returns how many, and
 * how many are held in *nheld.  The ids in queue/ and hold/ are read
 * from the directories for each request that lists or walks them (the
 * table holds at most active_queue_limit of the queued ones), and freed
 * after it, so a listing of a long queue does not stay in the daemon's
 * memory.
 */
static size_t
drain_ctl_each(const struct drain *d, const struct ucred *cr, int admin,
    void (*fn)(FILE *, struct qmsg *, long long, int, void *), FILE *fp,
    void *arg, size_t *nheld)
{
	struct queue_ids	 queued = { NULL, 0 }, held = { NULL, 0 };
	char			(*all)[SPOOL_IDLEN + 2];
	struct qmsg		 m;
	long long		 size;
	size_t			 i, n = 0, seen = 0;

	(void)queue_ids_read(d->queuefd, &queued);
	(void)queue_ids_read(d->holdfd, &held);
	*nheld = held.n;
	if ((all = calloc(queued.n + held.n + 1,
	    sizeof(*all))) == NULL) {
		queue_ids_free(&queued);
		queue_ids_free(&held);
		return 0;
	}
	/* first octet: where it is; the rest: the id */
	for (i = 0; i < queued.n; i++) {
		all[n][0] = DRAIN_QUEUED;
		memcpy(all[n++] + 1, queued.v[i], SPOOL_IDLEN + 1);
	}
	for (i = 0; i < held.n; i++) {
		all[n][0] = DRAIN_HELD;
		memcpy(all[n++] + 1, held.v[i], SPOOL_IDLEN + 1);
	}
	queue_ids_free(&queued);
	queue_ids_free(&held);
	util_sort(all, n, sizeof(*all), drain_ctl_cmp);	/* not qsort(3):
							   util.c says why */
	for (i = 0; i < n; i++) {
		if (drain_ctl_open(d, all[i] + 1, (enum drain_where)all[i][0],
		    cr, admin, &m, &size) == -1)
			continue;
		seen++;
		fn(fp, &m, size, all[i][0] == DRAIN_HELD, arg);
		spool_free_msg(&m);
	}
	free(all);
	return seen;
}

struct drain_total {
	const struct conf	*conf;
	unsigned long long	 bytes;
	size_t			 n;
};

static void
drain_ctl_list_one(FILE *fp, struct qmsg *m, long long size, int held,
    void *arg)
{
	struct drain_total	*t = arg;

	if (t->n++ == 0)
		queue_list_head(fp);
	t->bytes += (unsigned long long)size;
	queue_list_entry(fp, t->conf, m, size, held);
}

static void
drain_ctl_oldest(FILE *fp, struct qmsg *m, long long size, int held,
    void *arg)
{
	time_t	*oldest = arg;

	(void)fp;
	(void)size;
	(void)held;
	if (*oldest == 0 || m->arrival < *oldest)
		*oldest = m->arrival;
}

static void
drain_ctl_corrupt_one(void *arg, const char *name)
{
	size_t	*ncorrupt = arg;

	if (strstr(name, ".state") == NULL)	/* ID.state: ID's state */
		(*ncorrupt)++;
}

static void
drain_ctl_status(const struct drain *d, FILE *fp, const struct ucred *cr,
    int admin)
{
	const struct drain_stats	*st = &d->stats;
	char				 date[64];
	time_t				 now = time(NULL), oldest = 0;
	size_t				 i, n, nheld, ncorrupt = 0;
	size_t				 due[CONF_MAXROUTES + 1] = { 0 };

	n = drain_ctl_each(d, cr, admin, drain_ctl_oldest, fp, &oldest,
	    &nheld);
	util_rfc5322_date(date, sizeof(date), st->started);
	(void)fprintf(fp, "daemon: up, pid %ld, since %s (%llds)\n",
	    (long)getpid(), date, (long long)(now - st->started));
	(void)fprintf(fp, "queue: %zu message(s)%s, %zu held\n", n,
	    admin ? "" : " of yours", nheld);
	(void)queue_ids_each(d->corruptfd, drain_ctl_corrupt_one, &ncorrupt);
	if (ncorrupt > 0)
		(void)fprintf(fp, "corrupt: %zu queue file(s) quarantined in "
		    "%s/corrupt (relayq check and the log say more)\n",
		    ncorrupt, d->conf->spool);
	if (oldest != 0)
		(void)fprintf(fp, "oldest: %llds\n", (long long)(now - oldest));
	else
		(void)fprintf(fp, "oldest: -\n");
	if (st->last_sent != 0) {
		util_rfc5322_date(date, sizeof(date), st->last_sent);
		(void)fprintf(fp, "last delivery: %s (%s)\n", date,
		    admin ? st->last_sent_id : "-");
	} else
		(void)fprintf(fp, "last delivery: never\n");
	if (st->last_error != 0) {
		util_rfc5322_date(date, sizeof(date), st->last_error);
		/* the reply may name other users' recipients */
		(void)fprintf(fp, "last error: %s (%s)\n", date, admin ?
		    st->last_error_text : "details for root and "
		    "group " RELAYQ_USER);
	} else
		(void)fprintf(fp, "last error: none\n");
	(void)fprintf(fp, "counters: received %lu, sent %lu, deferred %lu, "
	    "bounced %lu\n", st->received, st->sent,
	    st->deferred, st->bounced);
	/* each route's backlog; one not read since start-up or a reload
	   has no route yet (0), counted as the default's when it is the
	   only route, else on a line of its own */
	for (i = 0; i < d->q.nq; i++)
		if (d->q.q[i].next <= now && !d->q.q[i].busy)
			due[d->conf->nroute == 1 ? 1 : d->q.q[i].route]++;
	for (i = 0; i < d->conf->nroute; i++)
		drain_rate_status(d->rate[i], fp, due[i + 1]);
	if (due[0] > 0)
		(void)fprintf(fp, "not yet sorted: %zu message(s) due now, of "
		    "a route still unknown (the next delivery run reads "
		    "them)\n", due[0]);
}

/*
 * hold and delete of a message in flight on a delivery worker cannot be
 * done now: the worker may be past the final dot.  The request is kept
 * and applied when the attempt ends (drain_try_done), if the message
 * is still queued then; the caller is told so, with exit status 75,
 * because the attempt may deliver it first.  At most one request per
 * message in flight (the latest wins), so the list is bounded by
 * max_sessions.
 */
static int
drain_ctl_defer(struct drain *d, const char *id, enum ctl_cmd cmd, uid_t uid)
{
	struct drain_pend	*p;
	size_t			 i;

	for (i = 0; i < d->npend; i++)
		if (strcmp(d->pend[i].id, id) == 0)
			break;
	if (i == d->npend) {
		if ((p = reallocarray(d->pend, d->npend + 1,
		    sizeof(*p))) == NULL)
			return -1;
		d->pend = p;
		d->npend++;
	}
	(void)strlcpy(d->pend[i].id, id, sizeof(d->pend[i].id));
	d->pend[i].cmd = cmd;
	d->pend[i].uid = uid;
	log_info("%s: %s requested by uid %u while it is being delivered: "
	    "applied when the attempt ends, unless it delivers the message",
	    id, cmd == CTL_HOLD ? "hold" : "delete", (unsigned int)uid);
	return 0;
}

/*
 * One request being answered: who asks, about which message and where
 * it is, and the answer's text so far (`fp').  A handler returns EX_OK,
 * or a sysexits code with `msg' saying why; DRAIN_CTL_OSERR for the
 * daemon's own failure (logged where it happened).
 */
#define DRAIN_CTL_OSERR	-1

struct drain_ask {
	struct drain		*d;
	const struct ctl_req	*req;
	const struct ucred	*cr;
	int			 admin;
	enum drain_where	 where;		/* of req->id, when given */
	size_t			 qi;		/* its table index */
	FILE			*fp;
	char			 msg[600];
};

/*
 * hold or delete of a message in flight on a delivery worker: not done
 * now (drain_ctl_defer), so the caller gets 75, and whether it happens
 * depends on the attempt.
 */
static int
drain_ctl_busy(struct drain_ask *a)
{
	if (drain_ctl_defer(a->d, a->req->id, a->req->cmd, a->cr->uid) == -1)
		return DRAIN_CTL_OSERR;
	(void)snprintf(a->msg, sizeof(a->msg), "%s: being delivered now: it "
	    "will be %s when this delivery attempt ends, unless the attempt "
	    "delivers it (the log says which)", a->req->id,
	    a->req->cmd == CTL_HOLD ? "placed on hold" : "deleted");
	return EX_TEMPFAIL;
}

static int
drain_ctl_queue(struct drain_ask *a)
{
	struct drain_total	 total = { a->d->conf, 0, 0 };
	size_t			 nheld;

	(void)drain_ctl_each(a->d, a->cr, a->admin, drain_ctl_list_one, a->fp,
	    &total, &nheld);
	queue_list_total(a->fp, total.bytes, total.n);
	return EX_OK;
}

static int
drain_ctl_status_req(struct drain_ask *a)
{
	drain_ctl_status(a->d, a->fp, a->cr, a->admin);
	return EX_OK;
}

/* the message was shown by drain_ctl_one, which found it */
static int
drain_ctl_show(struct drain_ask *a)
{
	(void)a;
	return EX_OK;
}

static int
drain_ctl_flush(struct drain_ask *a)
{
	struct drain_q		*q = &a->d->q;
	struct queue_ids	 queued;
	size_t			 i, n = 0;

	if (a->where == DRAIN_HELD) {
		(void)snprintf(a->msg, sizeof(a->msg), "%s: on hold; relayq "
		    "release it first", a->req->id);
		return EX_UNAVAILABLE;
	}
	if (a->where == DRAIN_QUEUED && a->qi == DRAIN_NOT_HELD) {
		/* the operator asked for this one: past the bound */
		if (drain_q_add(q, a->req->id, 0) == -1)
			return DRAIN_CTL_OSERR;
		n++;
	}
	for (i = 0; i < q->nq; i++) {
		if (a->where == DRAIN_QUEUED ? i != a->qi :
		    !drain_ctl_visible(a->d, q->q[i].id, DRAIN_QUEUED, a->cr,
		    a->admin))
			continue;
		q->q[i].next = 0;
		n++;
	}
	/*
	 * The queue past active_queue_limit: due as it is taken in
	 * (drain_import_queued); only for whoever may flush every message.
	 * Messages may wait in queue/ while q->backlog is 0: a pass over
	 * queue/ that takes them in has begun (it clears the flag) and
	 * stopped because the table is full again.
	 */
	if (a->where == DRAIN_NOWHERE && a->admin) {
		q->flushed = time(NULL);
		if (q->backlog || q->nq >= q->limit) {
			(void)queue_ids_read(a->d->queuefd, &queued);
			n = queued.n;
			queue_ids_free(&queued);
		}
	}
	log_info("flush of %s requested by uid %u", a->where == DRAIN_QUEUED ?
	    a->req->id : "the queue", (unsigned int)a->cr->uid);
	(void)fprintf(a->fp, "%zu message(s) scheduled for delivery now\n", n);
	return EX_OK;
}

static int
drain_ctl_hold(struct drain_ask *a)
{
	const char	*id = a->req->id;

	if (a->where == DRAIN_HELD) {
		(void)fprintf(a->fp, "%s: already on hold\n", id);
		return EX_OK;
	}
	if (drain_q_busy(&a->d->q, id))
		return drain_ctl_busy(a);
	if (drain_spool_move(id, a->d->queuefd, a->d->holdfd) == -1)
		return DRAIN_CTL_OSERR;
	if (a->qi != DRAIN_NOT_HELD)
		drain_q_del(&a->d->q, a->qi);
	log_info("%s: placed on hold by uid %u", id, (unsigned int)a->cr->uid);
	(void)fprintf(a->fp, "%s: placed on hold\n", id);
	return EX_OK;
}

static int
drain_ctl_release(struct drain_ask *a)
{
	const char	*id = a->req->id;

	if (a->where == DRAIN_QUEUED) {
		(void)fprintf(a->fp, "%s: not on hold\n", id);
		return EX_OK;
	}
	if (drain_spool_move(id, a->d->holdfd, a->d->queuefd) == -1)
		return DRAIN_CTL_OSERR;
	if (drain_q_add(&a->d->q, id, 0) == -1)
		log_warn("%s: queue table", id);
	log_info("%s: released from hold by uid %u", id,
	    (unsigned int)a->cr->uid);
	(void)fprintf(a->fp, "%s: released from hold\n", id);
	return EX_OK;
}

/* relayq delete ID */
static int
drain_ctl_delete_one(struct drain_ask *a)
{
	if (a->where == DRAIN_QUEUED && drain_q_busy(&a->d->q, a->req->id))
		return drain_ctl_busy(a);
	if (drain_spool_remove(a->d, a->req->id, a->where, a->qi,
	    a->cr->uid) == -1)
		return DRAIN_CTL_OSERR;
	(void)fprintf(a->fp, "%s: deleted\n", a->req->id);
	return EX_OK;
}

/* relayq delete all: every queued one, in the table or past its bound */
static int
drain_ctl_delete(struct drain_ask *a)
{
	struct drain		*d = a->d;
	struct queue_ids	 queued, held;
	size_t			 i, qi, n = 0, nbusy = 0;
	int			 rc = EX_OK;

	if (!a->req->all)
		return drain_ctl_delete_one(a);
	(void)queue_ids_read(d->queuefd, &queued);
	for (i = 0; i < queued.n && rc == EX_OK; i++) {
		if (!drain_ctl_visible(d, queued.v[i], DRAIN_QUEUED, a->cr,
		    a->admin))
			continue;
		/* one in flight on a delivery worker: afterwards */
		if (drain_q_busy(&d->q, queued.v[i])) {
			if (drain_ctl_defer(d, queued.v[i], CTL_DELETE,
			    a->cr->uid) == -1)
				rc = DRAIN_CTL_OSERR;
			nbusy++;
			continue;
		}
		if (drain_q_find(&d->q, queued.v[i], &qi) == -1)
			qi = DRAIN_NOT_HELD;
		if (drain_spool_remove(d, queued.v[i], DRAIN_QUEUED, qi,
		    a->cr->uid) == 0)
			n++;
	}
	queue_ids_free(&queued);
	if (rc != EX_OK)
		return rc;
	(void)queue_ids_read(d->holdfd, &held);
	for (i = 0; i < held.n; i++)
		if (drain_ctl_visible(d, held.v[i], DRAIN_HELD, a->cr,
		    a->admin) && drain_spool_remove(d, held.v[i], DRAIN_HELD,
		    0, a->cr->uid) == 0)
			n++;
	queue_ids_free(&held);
	if (nbusy > 0) {
		(void)snprintf(a->msg, sizeof(a->msg), "%zu message(s) "
		    "deleted; %zu being delivered now will be deleted when "
		    "their attempts end, unless those deliver them (the log "
		    "says which)", n, nbusy);
		return EX_TEMPFAIL;
	}
	(void)fprintf(a->fp, "%zu message(s) deleted\n", n);
	return EX_OK;
}

/* drain_conn.c takes submit, in two steps: never here */
static int
drain_ctl_submit(struct drain_ask *a)
{
	(void)a;
	return DRAIN_CTL_OSERR;
}

/* relayq reload: for whoever may flush every message (drain_conf.c) */
static int
drain_ctl_reload(struct drain_ask *a)
{
	char	 why[64], err[sizeof(a->msg) - 64];

	if (!a->admin) {
		(void)snprintf(a->msg, sizeof(a->msg), "only root, the daemon's "
		    "user and the %s group may reload the daemon", RELAYQ_USER);
		return EX_NOPERM;
	}
	(void)snprintf(why, sizeof(why), "relayq reload by uid %u",
	    (unsigned int)a->cr->uid);
	if (drain_conf_reload(a->d, why, a->fp, err, sizeof(err)) == -1) {
		(void)snprintf(a->msg, sizeof(a->msg), "reload: %s; the "
		    "running configuration stays", err);
		return EX_CONFIG;
	}
	return EX_OK;
}

/* indexed by enum ctl_cmd */
static int (*const drain_ctl_handlers[])(struct drain_ask *) = {
	[CTL_QUEUE] = drain_ctl_queue,
	[CTL_STATUS] = drain_ctl_status_req,
	[CTL_SHOW] = drain_ctl_show,
	[CTL_FLUSH] = drain_ctl_flush,
	[CTL_HOLD] = drain_ctl_hold,
	[CTL_RELEASE] = drain_ctl_release,
	[CTL_DELETE] = drain_ctl_delete,
	[CTL_SUBMIT] = drain_ctl_submit,
	[CTL_RELOAD] = drain_ctl_reload,
};

/*
 * Answer one request (not submit: drain_conn.c takes that) into `ans',
 * the connection's buffer, written to the client without blocking.  A
 * request naming a message is refused here when the caller may not see
 * it; the handler does the rest.
 */
void
drain_ctl_one(struct drain *d, FILE *ans, const struct ctl_req *req,
    const struct ucred *cr)
{
	struct drain_ask	 a;
	struct qmsg		 m;
	char			*buf = NULL;
	size_t			 len = 0;
	long long		 size;
	int			 rc;

	memset(&a, 0, sizeof(a));
	a.d = d;
	a.req = req;
	a.cr = cr;
	a.admin = drain_ctl_admin(cr);
	a.where = DRAIN_NOWHERE;
	if ((a.fp = open_memstream(&buf, &len)) == NULL) {
		ctl_error(ans, EX_OSERR, "out of memory");
		return;
	}
	if (req->id[0] != '\0') {
		a.where = drain_ctl_where(d, req->id, &a.qi);
		if (a.where == DRAIN_NOWHERE || drain_ctl_open(d, req->id,
		    a.where, cr, a.admin, &m, &size) == -1) {
			(void)snprintf(a.msg, sizeof(a.msg), "%s: no such "
			    "message in the queue%s", req->id, a.admin ? "" :
			    " (or not yours)");
			ctl_error(ans, EX_NOINPUT, a.msg);
			goto done;
		}
		if (req->cmd == CTL_SHOW)
			queue_show(a.fp, d->conf, &m, size,
			    a.where == DRAIN_HELD);
		spool_free_msg(&m);
	}
	rc = (size_t)req->cmd < sizeof(drain_ctl_handlers) /
	    sizeof(drain_ctl_handlers[0]) ? drain_ctl_handlers[req->cmd](&a) :
	    DRAIN_CTL_OSERR;
	if (rc == EX_OK) {
		rc = fclose(a.fp) == EOF ? DRAIN_CTL_OSERR : EX_OK;
		a.fp = NULL;
	}
	if (rc == EX_OK)
		ctl_ok(ans, buf, len);
	else if (rc == DRAIN_CTL_OSERR)
		ctl_error(ans, EX_IOERR, "the daemon could not do that; see "
		    "its log");
	else
		ctl_error(ans, rc, a.msg);
 done:
	if (a.fp != NULL)
		(void)fclose(a.fp);
	free(buf);
}
