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

#define DRAIN_NOT_HELD	SIZE_MAX	/* queued, past active_queue_limit */

/*
 * Where `id' is: 1 in queue/ (its index in *qi, or DRAIN_NOT_HELD when
 * the table does not hold it), 2 in hold/, 0 nowhere.
 */
static int
drain_ctl_where(const char *id, size_t *qi)
{
	struct stat	 st;

	if (drain_find(id, qi) == 0)
		return 1;
	*qi = DRAIN_NOT_HELD;
	if (spool_id_ok(id) &&
	    fstatat(drain_queuefd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	if (fstatat(drain_holdfd, id, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 2;
	return 0;
}

/* Open a message for a caller; -1 when absent or not theirs to see. */
static int
drain_ctl_open(const char *id, int where, const struct ucred *cr, int admin,
    struct qmsg *m, long long *size)
{
	struct stat	 st;
	char		 err[256];

	if (spool_open_msg(where == 2 ? drain_holdfd : drain_queuefd, id, m,
	    err, sizeof(err)) == -1)
		return -1;
	if (!admin && m->uid != cr->uid) {
		spool_free_msg(m);
		return -1;
	}
	(void)spool_read_state(drain_statefd, id, m);
	*size = fstat(m->fd, &st) == 0 ? (long long)st.st_size : 0;
	return 0;
}

static int
drain_ctl_visible(const char *id, int where, const struct ucred *cr,
    int admin)
{
	struct qmsg	 m;
	long long	 size;

	if (admin)
		return 1;
	if (drain_ctl_open(id, where, cr, admin, &m, &size) == -1)
		return 0;
	spool_free_msg(&m);
	return 1;
}

/*
 * The ids in queue/ and hold/, read from the directories for each
 * request that lists or walks them: the table holds at most
 * active_queue_limit of the queued ones.  Freed after the request, so
 * a listing of a long queue does not stay in the daemon's memory.
 */
struct drain_ids {
	char	(*v)[SPOOL_IDLEN + 1];
	size_t	 n;
};
static struct drain_ids	 drain_queued, drain_held, *drain_ids_to;

static void
drain_ids_one(const char *name)
{
	struct drain_ids	*l = drain_ids_to;
	char			(*v)[SPOOL_IDLEN + 1];

	if (!spool_id_ok(name) || (v = reallocarray(l->v, l->n + 1,
	    sizeof(*v))) == NULL)
		return;
	l->v = v;
	memcpy(v[l->n++], name, SPOOL_IDLEN + 1);
}

static void
drain_ids_read(int dirfd, struct drain_ids *l)
{
	l->n = 0;
	drain_ids_to = l;
	drain_each(dirfd, drain_ids_one);
}

static void
drain_ids_free(struct drain_ids *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
drain_ctl_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a + 1, (const char *)b + 1);
}

/*
 * Every message the caller may see, queued and held, oldest first
 * (ids sort by arrival).  Calls `fn' on each; returns how many.
 */
static size_t
drain_ctl_each(const struct ucred *cr, int admin,
    void (*fn)(FILE *, struct qmsg *, long long, int, void *), FILE *fp,
    void *arg)
{
	char		(*all)[SPOOL_IDLEN + 2];
	struct qmsg	 m;
	long long	 size;
	size_t		 i, n = 0, seen = 0;

	drain_ids_read(drain_queuefd, &drain_queued);
	drain_ids_read(drain_holdfd, &drain_held);
	if ((all = calloc(drain_queued.n + drain_held.n + 1,
	    sizeof(*all))) == NULL)
		return 0;
	/* first octet: where it is; the rest: the id */
	for (i = 0; i < drain_queued.n; i++) {
		all[n][0] = 1;
		memcpy(all[n++] + 1, drain_queued.v[i], SPOOL_IDLEN + 1);
	}
	for (i = 0; i < drain_held.n; i++) {
		all[n][0] = 2;
		memcpy(all[n++] + 1, drain_held.v[i], SPOOL_IDLEN + 1);
	}
	util_sort(all, n, sizeof(*all), drain_ctl_cmp);	/* not qsort(3):
							   util.c says why */
	for (i = 0; i < n; i++) {
		if (drain_ctl_open(all[i] + 1, all[i][0], cr, admin, &m,
		    &size) == -1)
			continue;
		seen++;
		fn(fp, &m, size, all[i][0] == 2, arg);
		spool_free_msg(&m);
	}
	free(all);
	return seen;
}

struct drain_total {
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
	queue_list_entry(fp, m, size, held);
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

static size_t	 drain_ncorrupt;

static void
drain_ctl_corrupt_one(const char *name)
{
	if (strstr(name, ".state") == NULL)	/* ID.state: ID's state */
		drain_ncorrupt++;
}

static void
drain_ctl_status(FILE *fp, const struct ucred *cr, int admin)
{
	char	 date[64];
	time_t	 now = time(NULL), oldest = 0;
	size_t	 n;

	n = drain_ctl_each(cr, admin, drain_ctl_oldest, fp, &oldest);
	util_rfc5322_date(date, sizeof(date), drain_stats.started);
	(void)fprintf(fp, "daemon: up, pid %ld, since %s (%llds)\n",
	    (long)getpid(), date, (long long)(now - drain_stats.started));
	(void)fprintf(fp, "queue: %zu message(s)%s, %zu held\n", n,
	    admin ? "" : " of yours", drain_held.n);
	drain_ncorrupt = 0;
	drain_each(drain_corruptfd, drain_ctl_corrupt_one);
	if (drain_ncorrupt > 0)
		(void)fprintf(fp, "corrupt: %zu queue file(s) quarantined in "
		    "%s/corrupt (relayq check and the log say more)\n",
		    drain_ncorrupt, drain_conf->spool);
	if (oldest != 0)
		(void)fprintf(fp, "oldest: %llds\n", (long long)(now - oldest));
	else
		(void)fprintf(fp, "oldest: -\n");
	if (drain_stats.last_sent != 0) {
		util_rfc5322_date(date, sizeof(date), drain_stats.last_sent);
		(void)fprintf(fp, "last delivery: %s (%s)\n", date,
		    admin ? drain_stats.last_sent_id : "-");
	} else
		(void)fprintf(fp, "last delivery: never\n");
	if (drain_stats.last_error != 0) {
		util_rfc5322_date(date, sizeof(date), drain_stats.last_error);
		/* the reply may name other users' recipients */
		(void)fprintf(fp, "last error: %s (%s)\n", date, admin ?
		    drain_stats.last_error_text : "details for root and "
		    "group " RELAYQ_USER);
	} else
		(void)fprintf(fp, "last error: none\n");
	(void)fprintf(fp, "counters: received %lu, sent %lu, deferred %lu, "
	    "bounced %lu\n", drain_stats.received, drain_stats.sent,
	    drain_stats.deferred, drain_stats.bounced);
}

/* Remove a message from queue/ or hold/ and its state: relayq delete. */
static int
drain_ctl_remove(const char *id, int where, size_t qi, uid_t uid)
{
	int	 dirfd = where == 2 ? drain_holdfd : drain_queuefd;

	/* message first, then state: a crash leaves an orphan state file,
	   which start-up removes */
	if (unlinkat(dirfd, id, 0) == -1) {
		log_warn("%s: delete", id);
		return -1;
	}
	if (unlinkat(drain_statefd, id, 0) == -1 && errno != ENOENT)
		log_warn("%s: unlink state", id);
	if (fsync(dirfd) == -1)
		log_warn("%s: fsync after delete", id);
	if (where == 1 && qi != DRAIN_NOT_HELD)
		drain_del(qi);
	log_info("%s: deleted by uid %u", id, (unsigned int)uid);
	log_info("%s: removed", id);
	return 0;
}

/* Move between queue/ and hold/; the state file stays where it is. */
static int
drain_ctl_move(const char *id, int fromfd, int tofd)
{
	if (renameat2(fromfd, id, tofd, id, RENAME_NOREPLACE) == -1) {
		log_warn("%s: moving between queue/ and hold/", id);
		return -1;
	}
	if (fsync(tofd) == -1 || fsync(fromfd) == -1)
		log_warn("%s: fsync of spool directories", id);
	return 0;
}

/*
 * hold and delete of a message in flight on a delivery worker cannot be
 * done now: the worker may be past the final dot.  The request is kept
 * and applied when the attempt ends (drain_ctl_after_try), if the message
 * is still queued then; the caller is told so, with exit status 75,
 * because the attempt may deliver it first.  At most one request per
 * message in flight (the latest wins), so the list is bounded by
 * max_sessions.
 */
struct drain_pend {
	char		 id[SPOOL_IDLEN + 1];
	enum ctl_cmd	 cmd;		/* CTL_HOLD or CTL_DELETE */
	uid_t		 uid;
};
static struct drain_pend	*drain_pend;
static size_t			 drain_npend;

static int
drain_ctl_defer(const char *id, enum ctl_cmd cmd, uid_t uid)
{
	struct drain_pend	*p;
	size_t			 i;

	for (i = 0; i < drain_npend; i++)
		if (strcmp(drain_pend[i].id, id) == 0)
			break;
	if (i == drain_npend) {
		if ((p = reallocarray(drain_pend, drain_npend + 1,
		    sizeof(*p))) == NULL)
			return -1;
		drain_pend = p;
		drain_npend++;
	}
	(void)strlcpy(drain_pend[i].id, id, sizeof(drain_pend[i].id));
	drain_pend[i].cmd = cmd;
	drain_pend[i].uid = uid;
	log_info("%s: %s requested by uid %u while it is being delivered: "
	    "applied when the attempt ends, unless it delivers the message",
	    id, cmd == CTL_HOLD ? "hold" : "delete", (unsigned int)uid);
	return 0;
}

/* The attempt on `id' ended (drain_try_done): apply what was asked. */
void
drain_ctl_after_try(const char *id)
{
	struct drain_pend	 p;
	size_t			 i, qi;

	for (i = 0; i < drain_npend; i++)
		if (strcmp(drain_pend[i].id, id) == 0)
			break;
	if (i == drain_npend)
		return;
	p = drain_pend[i];
	drain_pend[i] = drain_pend[--drain_npend];
	if (drain_npend == 0) {
		free(drain_pend);
		drain_pend = NULL;
	}
	if (drain_find(id, &qi) == -1) {
		log_info("%s: %s requested by uid %u not applied: the delivery "
		    "attempt finished the message", id, p.cmd == CTL_HOLD ?
		    "hold" : "delete", (unsigned int)p.uid);
		return;
	}
	if (p.cmd == CTL_DELETE)
		(void)drain_ctl_remove(id, 1, qi, p.uid);
	else if (drain_ctl_move(id, drain_queuefd, drain_holdfd) == 0) {
		drain_del(qi);
		log_info("%s: placed on hold by uid %u", id,
		    (unsigned int)p.uid);
	}
}

/*
 * Answer one request (not submit: drainconn.c takes that) into `ans',
 * the connection's buffer, written to the client without blocking.
 */
void
drain_ctl_one(FILE *ans, const struct ctl_req *req, const struct ucred *cr)
{
	struct qmsg		 m;
	char			*buf = NULL, msg[256];
	size_t			 len = 0, qi = 0, i, n = 0, nbusy = 0;
	struct drain_total	 total = { 0, 0 };
	long long		 size;
	FILE			*fp;
	int			 admin, where = 0;

	admin = drain_ctl_admin(cr);
	if ((fp = open_memstream(&buf, &len)) == NULL) {
		ctl_error(ans, EX_OSERR, "out of memory");
		return;
	}
	if (req->id[0] != '\0') {
		where = drain_ctl_where(req->id, &qi);
		if (where == 0 || drain_ctl_open(req->id, where, cr, admin, &m,
		    &size) == -1) {
			(void)snprintf(msg, sizeof(msg), "%s: no such message "
			    "in the queue%s", req->id, admin ? "" :
			    " (or not yours)");
			ctl_error(ans, EX_NOINPUT, msg);
			goto done;
		}
		if (req->cmd == CTL_SHOW)
			queue_show(fp, &m, size, where == 2);
		spool_free_msg(&m);
	}
	switch (req->cmd) {
	case CTL_QUEUE:
		(void)drain_ctl_each(cr, admin, drain_ctl_list_one, fp, &total);
		queue_list_total(fp, total.bytes, total.n);
		break;
	case CTL_STATUS:
		drain_ctl_status(fp, cr, admin);
		break;
	case CTL_SHOW:
		break;
	case CTL_FLUSH:
		if (where == 2) {
			(void)snprintf(msg, sizeof(msg), "%s: on hold; "
			    "relayq release it first", req->id);
			ctl_error(ans, EX_UNAVAILABLE, msg);
			goto done;
		}
		if (where == 1 && qi == DRAIN_NOT_HELD) {
			/* the operator asked for this one: past the bound */
			if (drain_add(req->id, 0) == -1)
				goto oserr;
			n++;
		}
		for (i = 0; i < drain_nq; i++) {
			if (where == 1 ? i != qi :
			    !drain_ctl_visible(drain_q[i].id, 1, cr, admin))
				continue;
			drain_q[i].next = 0;
			n++;
		}
		/*
		 * The queue past active_queue_limit: due as it is taken in
		 * (drain_load); only for whoever may flush every message.
		 * Messages may wait in queue/ while drain_backlog is 0: a
		 * pass over queue/ that takes them in has begun (it clears
		 * the flag) and stopped because the table is full again.
		 */
		if (where == 0 && admin) {
			drain_flushed = time(NULL);
			if (drain_backlog || drain_nq >= drain_limit) {
				drain_ids_read(drain_queuefd, &drain_queued);
				n = drain_queued.n;
			}
		}
		log_info("flush of %s requested by uid %u", where == 1 ?
		    req->id : "the queue", (unsigned int)cr->uid);
		(void)fprintf(fp, "%zu message(s) scheduled for delivery now\n",
		    n);
		break;
	case CTL_HOLD:
		if (where == 2)
			(void)fprintf(fp, "%s: already on hold\n", req->id);
		else if (drain_work_busy(req->id))
			goto busy;
		else if (drain_ctl_move(req->id, drain_queuefd,
		    drain_holdfd) == 0) {
			if (qi != DRAIN_NOT_HELD)
				drain_del(qi);
			log_info("%s: placed on hold by uid %u", req->id,
			    (unsigned int)cr->uid);
			(void)fprintf(fp, "%s: placed on hold\n", req->id);
		} else
			goto oserr;
		break;
	case CTL_RELEASE:
		if (where == 1)
			(void)fprintf(fp, "%s: not on hold\n", req->id);
		else if (drain_ctl_move(req->id, drain_holdfd,
		    drain_queuefd) == 0) {
			if (drain_add(req->id, 0) == -1)
				log_warn("%s: queue table", req->id);
			log_info("%s: released from hold by uid %u", req->id,
			    (unsigned int)cr->uid);
			(void)fprintf(fp, "%s: released from hold\n", req->id);
		} else
			goto oserr;
		break;
	case CTL_DELETE:
		if (!req->all) {
			if (where == 1 && drain_work_busy(req->id))
				goto busy;
			if (drain_ctl_remove(req->id, where, qi, cr->uid) == -1)
				goto oserr;
			(void)fprintf(fp, "%s: deleted\n", req->id);
			break;
		}
		/* every queued one, in the table or past its bound */
		drain_ids_read(drain_queuefd, &drain_queued);
		for (i = 0; i < drain_queued.n; i++) {
			if (!drain_ctl_visible(drain_queued.v[i], 1, cr,
			    admin))
				continue;
			/* one in flight on a delivery worker: afterwards */
			if (drain_work_busy(drain_queued.v[i])) {
				if (drain_ctl_defer(drain_queued.v[i],
				    CTL_DELETE, cr->uid) == -1)
					goto oserr;
				nbusy++;
				continue;
			}
			if (drain_find(drain_queued.v[i], &qi) == -1)
				qi = DRAIN_NOT_HELD;
			if (drain_ctl_remove(drain_queued.v[i], 1, qi,
			    cr->uid) == 0)
				n++;
		}
		drain_ids_read(drain_holdfd, &drain_held);
		for (i = 0; i < drain_held.n; i++) {
			if (drain_ctl_visible(drain_held.v[i], 2, cr, admin) &&
			    drain_ctl_remove(drain_held.v[i], 2, 0,
			    cr->uid) == 0)
				n++;
		}
		if (nbusy > 0) {
			(void)snprintf(msg, sizeof(msg), "%zu message(s) "
			    "deleted; %zu being delivered now will be deleted "
			    "when their attempts end, unless those deliver "
			    "them (the log says which)", n, nbusy);
			ctl_error(ans, EX_TEMPFAIL, msg);
			goto done;
		}
		(void)fprintf(fp, "%zu message(s) deleted\n", n);
		break;
	case CTL_SUBMIT:	/* drainconn.c: two steps, never here */
		goto oserr;
	}
	if (fclose(fp) == EOF) {
		fp = NULL;
		goto oserr;
	}
	fp = NULL;
	ctl_ok(ans, buf, len);
	goto done;
 busy:
	/* not done: 75, and whether it happens later depends on the attempt */
	if (drain_ctl_defer(req->id, req->cmd, cr->uid) == -1)
		goto oserr;
	(void)snprintf(msg, sizeof(msg), "%s: being delivered now: it will be "
	    "%s when this delivery attempt ends, unless the attempt delivers "
	    "it (the log says which)", req->id, req->cmd == CTL_HOLD ?
	    "placed on hold" : "deleted");
	ctl_error(ans, EX_TEMPFAIL, msg);
	goto done;
 oserr:
	ctl_error(ans, EX_IOERR, "the daemon could not do that; see its "
	    "log");
 done:
	if (fp != NULL)
		(void)fclose(fp);
	free(buf);
	drain_ids_free(&drain_queued);
	drain_ids_free(&drain_held);
}
