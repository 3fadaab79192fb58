/*
 * relayq drain: the daemon.  Imports files from the drop directory into
 * the private queue, delivers due messages to the smarthost over one
 * session per run, records each recipient's outcome in a state file, and
 * sleeps until inotify or the next retry wakes it.
 *
 * Spool layout (relayq-spool(5)):
 *	drop/	1730: the front end creates files here
 *	queue/	0700: messages the daemon has taken, never changed again
 *	state/	0700: per-message delivery state, replaced atomically
 *	failed/	0700: messages with permanently failed recipients
 *	hold/	0700: messages the operator put on hold (relayq hold)
 *	corrupt/ 0700: committed files the daemon cannot read (drainquar.c)
 *	ctl	the control socket (ctl.c), for relayq(8) and sendmail -bp/-q
 *	pid	the daemon's lock: one daemon per spool
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "client.h"
#include "drain.h"
#include "crash.h"

#define DRAIN_SCAN	60	/* seconds between fallback scans */
#define DRAIN_BATCH	256	/* imports made durable by one fsync */
#define DRAIN_SYNC_MAX	64	/* removals from queue/ per fsync ... */
#define DRAIN_SYNC_AGE	1	/* ... or after this many seconds */
#define DRAIN_STALE	600	/* an unlocked incomplete drop file this old
				   was left by a killed front end */

struct conf		*drain_conf;
int			 drain_dropfd = -1, drain_queuefd = -1;
int			 drain_statefd = -1, drain_holdfd = -1;
int			 drain_ctlfd = -1, drain_lockfd = -1;
struct drain_stats	 drain_stats;
static int			 drain_failedfd = -1;
char				*drain_password;
static volatile sig_atomic_t	 drain_stop;

static void	 drain_import_one(const char *);
static void	 drain_import_commit(void);
static int	 drain_lock_pid(char *, size_t);
static void	 drain_refill(void);

static void
drain_sig(int sig)
{
	(void)sig;
	drain_stop = 1;
}

/* SIGTERM or SIGINT came: finish the message at hand, then stop. */
int
drain_stopping(void)
{
	return drain_stop;
}

static double
drain_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The secret: owned by us, not readable by group or others, else refuse
 * to start.  Read once; only the first line counts.
 */
static int
drain_read_password(const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	char		 buf[1024], who[140];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errsz, "auth_password_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)snprintf(err, errsz, "auth_password_file %s: not a "
		    "regular file", path);
		goto fail;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		util_owner(geteuid(), getegid(), who, sizeof(who));
		(void)snprintf(err, errsz, "auth_password_file %s must be "
		    "owned by %.*s, the user the daemon runs as, and readable "
		    "by it alone: as root, \"chown %s %s; chmod 600 %s\"",
		    path, (int)strcspn(who, ":"), who, who, path, path);
		goto fail;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		(void)snprintf(err, errsz, "auth_password_file %s: %s", path,
		    n == 0 ? "empty" : strerror(errno));
		goto fail;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	drain_password = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	(void)close(fd);
	if (drain_password == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
 fail:
	(void)close(fd);
	return -1;
}

static int
drain_opendir(const char *name, mode_t mode, char *err, size_t errsz)
{
	char	 path[1100];
	int	 fd;

	if (mkdir(name, mode) == 0 && chmod(name, mode) == -1) {
		(void)snprintf(err, errsz, "chmod %s/%s: %s", drain_conf->spool,
		    name, strerror(errno));
		return -1;
	}
	if ((fd = open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		(void)snprintf(path, sizeof(path), "%s/%s", drain_conf->spool,
		    name);
		drain_spool_error(err, errsz, path, errno);
	}
	return fd;
}

/* Log one line per recipient decided in this attempt, Postfix grammar. */
static void
drain_log(const struct qmsg *m, size_t i, const char *relay, double start,
    double conn, double end)
{
	const struct rcpt	*r = &m->rcpt[i];
	char			 orig[ADDR_MAX + 16] = "";
	static const char *const names[] = {
		"deferred", "sent", "deferred", "bounced"
	};

	if (r->orig != NULL)
		(void)snprintf(orig, sizeof(orig), " orig_to=<%s>,", r->orig);
	log_info("%s: to=<%s>,%s relay=%s, delay=%.2f, delays=%.2f/0/%.2f/"
	    "%.2f, dsn=%s, status=%s (%s)", m->id, r->addr, orig, relay,
	    end - (double)m->arrival, start - (double)m->arrival,
	    conn - start, end - conn, r->dsn, names[r->status], r->reply);
	if (r->status == RCPT_SENT) {
		drain_stats.sent++;
		drain_stats.last_sent = (time_t)end;
		(void)strlcpy(drain_stats.last_sent_id, m->id,
		    sizeof(drain_stats.last_sent_id));
		return;
	}
	if (r->status == RCPT_FAIL)
		drain_stats.bounced++;
	else
		drain_stats.deferred++;
	drain_stats.last_error = (time_t)end;
	(void)snprintf(drain_stats.last_error_text,
	    sizeof(drain_stats.last_error_text), "%s: %s", m->id, r->reply);
}

/*
 * Removals from queue/ since its last fsync.  A delivered message's
 * unlink is not fsynced on its own: the directory is synced once per
 * DRAIN_SYNC_MAX removals, once they are DRAIN_SYNC_AGE old, and at the
 * end of every delivery run.  A kill -9 in between loses nothing (the
 * unlinks are in the page cache and reach the disk anyway).  A power
 * loss may undo the unlinks of the last few messages, which are then
 * delivered again although their 250 was received: the post-dot
 * duplicate window of relayq-spool(5), widened from one message
 * to at most DRAIN_SYNC_MAX, never a loss.
 */
static size_t	 drain_unsynced;
static time_t	 drain_unsynced_since;

static void
drain_sync_queue(void)
{
	if (drain_unsynced == 0)
		return;
	if (fsync(drain_queuefd) == -1)
		log_warn("fsync queue/ after removing %zu delivered "
		    "message(s)", drain_unsynced);
	drain_unsynced = 0;
}

/*
 * After an attempt: done (every recipient sent or failed) -> remove the
 * message, or keep it in failed/ when some failed; else schedule the
 * next try with exponential backoff and save the state.
 *
 * Order matters for crashes: the message leaves queue/ before its state
 * file goes, so a crash in between leaves an orphan state file (removed
 * at start-up), never a message without the record of who has it.
 */
static void
drain_finish(struct qmsg *m, size_t qi)
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
	m->attempts++;
	m->last_try = now;
	if (nopen == 0 && nfail > 0) {
		/* kept for the operator with the record of who failed */
		(void)snprintf(name, sizeof(name), "%s.state", m->id);
		if (spool_write_state(drain_statefd, m->id, m) == -1 ||
		    renameat(drain_queuefd, m->id, drain_failedfd, m->id) == -1 ||
		    (CRASH_POINT("drain-failed-mid"), renameat(drain_statefd,
		    m->id, drain_failedfd, name)) == -1 ||
		    fsync(drain_failedfd) == -1 || fsync(drain_statefd) == -1 ||
		    fsync(drain_queuefd) == -1)
			log_warn("%s: moving to failed/", m->id);
		else
			log_info("%s: %zu recipient(s) failed, message kept in "
			    "failed/", m->id, nfail);
	} else if (nopen == 0) {
		if (unlinkat(drain_queuefd, m->id, 0) == -1)
			log_warn("%s: unlink", m->id);
		CRASH_POINT("drain-finish-mid");
		if (unlinkat(drain_statefd, m->id, 0) == -1 && errno != ENOENT)
			log_warn("%s: unlink state", m->id);
		if (drain_unsynced++ == 0)
			drain_unsynced_since = now;
		if (drain_unsynced >= DRAIN_SYNC_MAX ||
		    now - drain_unsynced_since >= DRAIN_SYNC_AGE)
			drain_sync_queue();
	}
	if (nopen == 0) {
		log_info("%s: removed", m->id);
		drain_del(qi);
		return;
	}
	delay = drain_conf->retry_min;
	for (i = 1; i < m->attempts && delay < drain_conf->retry_max; i++)
		delay *= 2;
	if (delay > drain_conf->retry_max)
		delay = drain_conf->retry_max;
	m->next_try = now + delay;
	drain_q[qi].next = m->next_try;
	if (spool_write_state(drain_statefd, m->id, m) == -1)
		log_warn("%s: saving delivery state", m->id);
}

/* Every recipient still open gets `why' as a deferral (or expiry). */
void
drain_defer_all(struct qmsg *m, const char *dsn, enum rcpt_status st,
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
drain_bounce(struct qmsg *m, const char *open)
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
	if (bounce_write(drain_dropfd, drain_conf, m, failed, newid, err,
	    sizeof(err)) == -1) {
		log_warnx("%s: cannot queue the non-delivery notification: "
		    "%s; failed recipients kept as deferred", m->id, err);
		for (i = 0; i < m->nrcpt; i++)
			if (failed[i])
				m->rcpt[i].status = RCPT_DEFER;
		goto done;
	}
	log_info("%s: sender non-delivery notification: %s", m->id, newid);
	drain_import_one(newid);
	drain_import_commit();
	CRASH_POINT("drain-bounce-queued");
 done:
	free(failed);
}

/*
 * An outage costs one connection attempt per run, not one per message
 * (drain_run), and each message backs off on its own.  When a smarthost
 * answers again, everything waiting is made due at once: the backoff
 * was about the smarthost, not about the messages.
 */
static int	 drain_outage;

void
drain_outage_note(int up)
{
	size_t	 i;

	if (!up) {
		drain_outage = 1;
		return;
	}
	if (!drain_outage)
		return;
	drain_outage = 0;
	for (i = 0; i < drain_nq; i++)
		drain_q[i].next = 0;
	log_info("smarthost reachable again: retrying %zu queued message(s) "
	    "now", drain_nq);
}

/*
 * Load queue/ID and its state for an attempt, and note who is still
 * open.  -1 when it cannot be tried now (logged; a file that cannot be
 * opened is tried again after retry_max, one that no longer parses is
 * quarantined with its state).
 */
int
drain_try_load(const char *id, time_t now, struct drain_try *t)
{
	char	 err[256], name[SPOOL_IDLEN + 8];
	size_t	 i, qi;
	int	 fd;

	memset(t, 0, sizeof(*t));
	if ((fd = openat(drain_queuefd, id, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		log_warn("%s: queue file; left in queue/", id);
		if (drain_find(id, &qi) == 0)
			drain_q[qi].next = now + drain_conf->retry_max;
		return -1;
	}
	if (spool_load_fd(fd, &t->m, err, sizeof(err)) == -1) {
		/* it was taken in, so it was committed: changed since */
		(void)drain_quarantine(drain_queuefd, "queue", id, fd, err, 1);
		(void)close(fd);
		(void)snprintf(name, sizeof(name), "%s.state", id);
		if (renameat(drain_statefd, id, drain_corruptfd, name) == -1 &&
		    errno != ENOENT)
			log_warn("%s: moving its state to corrupt/", id);
		if (drain_find(id, &qi) == 0)
			drain_del(qi);
		return -1;
	}
	if (spool_read_state(drain_statefd, t->m.id, &t->m) == -1)
		log_warnx("%s: state file unreadable; retrying every "
		    "recipient not known to be done", t->m.id);
	if ((t->open = calloc(t->m.nrcpt, 1)) == NULL) {
		log_warn("%s", t->m.id);
		spool_free_msg(&t->m);
		return -1;
	}
	for (i = 0; i < t->m.nrcpt; i++)
		t->open[i] = t->m.rcpt[i].status == RCPT_PENDING ||
		    t->m.rcpt[i].status == RCPT_DEFER;
	t->start = t->connt = drain_now();
	(void)strlcpy(t->relay, "none", sizeof(t->relay));
	t->expired = now - t->m.arrival > drain_conf->queue_lifetime;
	if (t->expired)
		drain_defer_all(&t->m, "4.4.7", RCPT_FAIL, "message expired: "
		    "delivery time (queue_lifetime) exceeded");
	return 0;
}

/*
 * The attempt is over: log each recipient tried, bounce, and record the
 * outcome (drain_finish).  `down': no session could be had, and every
 * open recipient is deferred with `err'.  Only this process, the owner
 * of the queue table and the state files, gets here.
 */
void
drain_try_done(struct drain_try *t, int down, const char *err)
{
	double	 end;
	size_t	 i, qi;

	if (drain_count_sent(&t->m) > 0)	/* 250 after the dot, unrecorded */
		CRASH_POINT("drain-after-dot");
	if (down)
		drain_defer_all(&t->m, "4.4.1", RCPT_DEFER, err);
	end = drain_now();
	for (i = 0; i < t->m.nrcpt; i++)
		if (t->open[i])
			drain_log(&t->m, i, t->relay, t->start, t->connt, end);
	drain_bounce(&t->m, t->open);
	free(t->open);
	t->open = NULL;
	if (drain_find(t->m.id, &qi) == 0)
		drain_finish(&t->m, qi);
	else	/* cannot happen: drainctl leaves messages in flight alone */
		log_warnx("%s: left the queue table during delivery", t->m.id);
	/* a hold or delete asked for while it was in flight */
	drain_ctl_after_try(t->m.id);
	spool_free_msg(&t->m);
	drain_refill();	/* it may have left room */
}

/*
 * One delivery run over every due message, sharing one session (or, with
 * max_sessions, handing them to the workers: drainwork.c).  A broken
 * session is reopened once per message; when no smarthost can be reached
 * the rest of the run defers with that reason.  At the end the session
 * is parked (drainsess.c).
 */
static void
drain_run(void)
{
	struct drain_try	 t;
	char			 err[REPLY_MAX + 128];
	char			 id[SPOOL_IDLEN + 1];
	time_t			 now = time(NULL);
	size_t			 qi;
	int			 down = 0;

	if (drain_work_run(now) == 0) {
		drain_sync_queue();
		return;
	}
	for (qi = 0; !drain_stop; ) {
		drain_conn_serve();	/* may change drain_q: index checked */
		if (qi >= drain_nq)
			break;
		if (drain_q[qi].next > now) {
			qi++;
			continue;
		}
		(void)strlcpy(id, drain_q[qi].id, sizeof(id));
		if (drain_try_load(id, now, &t) == -1) {
			qi++;
			continue;
		}
		/* one connection attempt per message at most, and none
		   after one failed in this run */
		if (!t.expired && !down) {
			down = drain_sess_send(&t.m, t.relay, sizeof(t.relay),
			    err, sizeof(err)) == -1;
			t.connt = drain_now();
			drain_outage_note(!down);
		}
		drain_try_done(&t, down, err);	/* may move the last entry
						   to qi */
		if (qi < drain_nq && strcmp(drain_q[qi].id, id) == 0)
			qi++;
	}
	if (drain_stop)
		drain_sess_end(1);
	else
		drain_sess_park();
	drain_sync_queue();
}

/*
 * Files renamed from drop/ to queue/ whose directories are not yet
 * fsynced: not accepted yet, so not in the queue table and not delivered.
 */
static char	 drain_moved[DRAIN_BATCH][SPOOL_IDLEN + 1];
static size_t	 drain_nmoved;

/*
 * Make the renames of a scan durable with one fsync of each directory
 * (not two per message), and only then accept the messages.  A kill
 * before the fsyncs loses nothing: the renames are in the page cache and
 * start-up loads queue/.  A power loss before them may undo any of the
 * renames, leaving those files in drop/, where sendmail fsynced them and
 * the next scan imports them again; each file is in exactly one of the
 * two directories either way.  Nothing is delivered before the fsyncs,
 * so no rename that a power loss could undo is followed by a delivery
 * (that would be a duplicate outside the post-dot window).
 */
static void
drain_import_commit(void)
{
	size_t	 i;

	if (drain_nmoved == 0)
		return;
	CRASH_POINT("drain-import-before-fsync");
	if (fsync(drain_queuefd) == -1 || fsync(drain_dropfd) == -1)
		log_warn("fsync of spool directories queue/ and drop/ after "
		    "importing %zu message(s)", drain_nmoved);
	for (i = 0; i < drain_nmoved; i++) {
		if (drain_admit(drain_moved[i], 0) == -1)
			log_warn("%s: queue table", drain_moved[i]);
		drain_stats.received++;
	}
	drain_nmoved = 0;
}

/*
 * Take one file from the drop directory.  Checked on the descriptor:
 * regular, one link (a hard link to someone else's file is refused),
 * not a symlink (O_NOFOLLOW), complete, data in wire form, and written
 * by the uid its envelope names (or by us).  A writer still holding its
 * lock is left alone.  Import = rename into queue/, then (for up to
 * DRAIN_BATCH files at once) drain_import_commit.
 */
static void
drain_import_one(const char *name)
{
	struct qmsg	 m;
	struct stat	 st;
	char		 err[256];
	int		 fd;

	fd = openat(drain_dropfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return;
		if (errno != ELOOP) {
			/* never delete what we cannot read: it may be mail */
			log_warn("drop/%s: cannot open; left in place (check "
			    "its mode and that relayq is in its group)", name);
			return;
		}
		log_warnx("drop/%s: removed: a symbolic link", name);
		goto junk;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1 || !spool_id_ok(name)) {
		log_warnx("drop/%s: removed: not a queue file (type, links or "
		    "name)", name);
		goto junk;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == -1) {
		(void)close(fd);	/* sendmail is still writing it */
		return;
	}
	if (spool_load_fd(fd, &m, err, sizeof(err)) == -1) {
		/* committed (unlocked, trailer written last): never removed */
		if (drain_quarantine(drain_dropfd, "drop", name, fd, err,
		    0) == 0) {
			(void)close(fd);
			return;
		}
		if (time(NULL) - st.st_mtime < DRAIN_STALE) {
			(void)close(fd);	/* maybe a writer between
						   create and lock */
			return;
		}
		log_warnx("drop/%s: removed: %s, and no commit mark (left by "
		    "a killed sendmail)", name, err);
		goto junk;
	}
	if (strcmp(m.id, name) != 0 || (m.owner != m.uid &&
	    m.owner != geteuid()) || spool_check_data(fd, m.dataoff,
	    m.datalen, err, sizeof(err)) == -1) {
		if (strcmp(m.id, name) != 0)
			(void)strlcpy(err, "id does not match the name",
			    sizeof(err));
		else if (m.owner != m.uid && m.owner != geteuid())
			(void)strlcpy(err, "uid in the envelope is not the "
			    "file's owner", sizeof(err));
		m.fd = -1;	/* still ours */
		spool_free_msg(&m);
		(void)drain_quarantine(drain_dropfd, "drop", name, fd, err, 1);
		(void)close(fd);
		return;
	}
	if (renameat2(drain_dropfd, name, drain_queuefd, name,
	    RENAME_NOREPLACE) == -1) {
		log_warn("drop/%s: cannot move to queue/", name);
		spool_free_msg(&m);
		return;
	}
	(void)strlcpy(drain_moved[drain_nmoved++], m.id, sizeof(*drain_moved));
	spool_free_msg(&m);
	if (drain_nmoved == DRAIN_BATCH)
		drain_import_commit();
	return;
 junk:
	if (fd != -1)
		(void)close(fd);
	if (unlinkat(drain_dropfd, name, 0) == -1 && errno != ENOENT)
		log_warn("drop/%s: unlink", name);
}

/* Run `fn' on every entry of a directory but "." and "..". */
void
drain_each(int dirfd, void (*fn)(const char *))
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("reading spool directory");
		if (fd != -1)
			(void)close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fn(de->d_name);
	(void)closedir(d);
}

/*
 * A queued message into the table (start-up, and drain_refill), due
 * when its state says; past active_queue_limit it stays in queue/ until
 * the table has room.  A message last tried before a flush of the whole
 * queue (drain_flushed, drainctl.c) is due now.
 */
static void
drain_load(const char *name)
{
	struct qmsg	 m;

	memset(&m, 0, sizeof(m));
	m.fd = -1;
	/* next_try 0 when the state is missing or unreadable: try now */
	(void)spool_read_state(drain_statefd, name, &m);
	if (drain_flushed != 0 && m.last_try <= drain_flushed)
		m.next_try = 0;	/* the same second counts: one try too many
				   rather than a flush ignored */
	if (drain_admit(name, m.next_try) == -1)
		log_warn("%s: queue table", name);
}

static size_t	 drain_nloaded;	/* at start-up, for the log */

static void
drain_load_one(const char *name)
{
	if (!spool_id_ok(name)) {
		log_warnx("queue/%s: not a queue file; ignored", name);
		return;
	}
	drain_nloaded++;
	drain_load(name);
}

/*
 * More than active_queue_limit messages are queued (drain_backlog): the
 * table refills continuously, like Postfix's queue manager, and as soon
 * as a message leaves it the next one from queue/ takes its place, not
 * at the next scan a minute later.  One pass over queue/ stays open
 * between calls (its own open file description: drain_each, run on the
 * same directory meanwhile, must not move it) and goes on where it
 * stopped, so a refill reads the few entries it takes in rather than the
 * whole directory.  At the end of a pass a new one starts only if a
 * message was left out since the last began (drain_admit sets
 * drain_backlog again).  Called after each message leaves the table
 * (drain_try_done) and once per turn of the main loop.
 */
static DIR	*drain_scan;

static void
drain_refill(void)
{
	struct dirent	*de;
	struct stat	 st;
	size_t		 qi;
	int		 fd;

	while (drain_nq < drain_limit) {
		if (drain_scan == NULL) {
			if (!drain_backlog)
				return;
			if ((fd = openat(drain_queuefd, ".", O_RDONLY |
			    O_DIRECTORY | O_CLOEXEC)) == -1 ||
			    (drain_scan = fdopendir(fd)) == NULL) {
				log_warn("queue/: reading the directory to "
				    "take in messages past active_queue_limit");
				if (fd != -1)
					(void)close(fd);
				return;
			}
			drain_backlog = 0;
		}
		if ((de = readdir(drain_scan)) == NULL) {
			(void)closedir(drain_scan);
			drain_scan = NULL;
			continue;
		}
		/* the pass read its entries in batches, maybe before one of
		   them was delivered and removed: only what is there now */
		if (spool_id_ok(de->d_name) && drain_find(de->d_name, &qi) ==
		    -1 && fstatat(drain_queuefd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			drain_load(de->d_name);
	}
}

/*
 * At start-up, in state/: files whose message is gone (a crash between
 * the two unlinks of drain_finish), and every "ID.tmp" (a crash inside
 * spool_write_state: no write is in progress now, and the old state,
 * if any, is still the valid one).
 */
static void
drain_orphan_one(const char *name)
{
	char		 id[SPOOL_IDLEN + 8];
	const char	*dot;
	struct stat	 st;
	int		 tmp;

	(void)strlcpy(id, name, sizeof(id));
	id[strcspn(id, ".")] = '\0';
	tmp = (dot = strchr(name, '.')) != NULL && strcmp(dot, ".tmp") == 0;
	if (!tmp && (fstatat(drain_queuefd, id, &st, AT_SYMLINK_NOFOLLOW) !=
	    -1 || errno != ENOENT || fstatat(drain_holdfd, id, &st,
	    AT_SYMLINK_NOFOLLOW) != -1 || errno != ENOENT))
		return;
	if (unlinkat(drain_statefd, name, 0) == -1)
		log_warn("state/%s: unlink", name);
	else
		log_info("state/%s: removed: %s", name, tmp ? "left by an "
		    "interrupted state update" : "its message is gone");
}

/*
 * failed/ keeps a message with its state for failed_keep after it left
 * the queue (the rename set its ctime), then both go.
 */
static void
drain_failed_one(const char *name)
{
	char		 id[SPOOL_IDLEN + 1], st[SPOOL_IDLEN + 8];
	struct stat	 sb;

	if (!spool_id_ok(name))
		return;		/* ID.state goes with its ID */
	if (fstatat(drain_failedfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    time(NULL) - sb.st_ctime < drain_conf->failed_keep)
		return;
	(void)strlcpy(id, name, sizeof(id));
	(void)snprintf(st, sizeof(st), "%s.state", id);
	if (unlinkat(drain_failedfd, id, 0) == -1) {
		log_warn("failed/%s: unlink", id);
		return;
	}
	if (unlinkat(drain_failedfd, st, 0) == -1 && errno != ENOENT)
		log_warn("failed/%s: unlink", st);
	log_info("%s: removed from failed/ after failed_keep", id);
}

/* Root starts us: become the relayq user before touching any message. */
static int
drain_drop_root(char *err, size_t errsz)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(RELAYQ_USER)) == NULL) {
		(void)snprintf(err, errsz, "started as root, but user \"%s\" "
		    "does not exist: create it (make install does), or start "
		    "relayq as an unprivileged user", RELAYQ_USER);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		(void)snprintf(err, errsz, "dropping root for user %s: %s",
		    RELAYQ_USER, strerror(errno));
		return -1;
	}
	if (setresuid(0, 0, 0) != -1) {
		(void)snprintf(err, errsz, "could regain root after dropping");
		return -1;
	}
	return 0;
}

/* Exactly one daemon per spool: the pid file, locked while we run. */
static int
drain_lock(char *err, size_t errsz)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	if ((fd = open("pid", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644)) == -1) {
		(void)snprintf(err, errsz, "%s/pid: %s", drain_conf->spool,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		(void)snprintf(err, errsz, "another relayq drain (pid %s) is "
		    "running on %s", buf, drain_conf->spool);
		(void)close(fd);
		return -1;
	}
	drain_lockfd = fd;	/* stays open: the lock lives as long as we do */
	return drain_lock_pid(err, errsz);
}

/*
 * Our PID into the locked pid file: at start, and again after daemon()
 * has forked, so that `kill $(cat pid)' reaches the daemon and not the
 * parent that exited.  The lock belongs to the open file, which the child
 * shares, so it is held without a gap.
 */
static int
drain_lock_pid(char *err, size_t errsz)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(drain_lockfd, 0) == -1 ||
	    pwrite(drain_lockfd, buf, (size_t)n, 0) != n) {
		(void)snprintf(err, errsz, "%s/pid: %s", drain_conf->spool,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Everything that can fail with a clear message before the loop runs. */
static int
drain_setup(int foreground, char *err, size_t errsz)
{
	char	 msg[256];
	int	 created;

	/* as root, before dropping it: the spool's parent is root's */
	if (drain_spool_make(drain_conf->spool, &created, err, errsz) == -1 ||
	    drain_drop_root(err, errsz) == -1)
		return -1;
	if (!foreground && drain_conf->log != NULL &&
	    strcmp(drain_conf->log, "stderr") == 0) {
		(void)snprintf(err, errsz, "log stderr needs drain -f: a "
		    "daemon in the background has no stderr");
		return -1;
	}
	if (drain_conf->nhost == 0) {
		(void)snprintf(err, errsz, "%s: no smarthost configured",
		    drain_conf->path);
		return -1;
	}
	if (drain_conf->auth_user != NULL &&
	    drain_conf->auth_password_file == NULL &&
	    drain_conf->auth_password_command == NULL) {
		(void)snprintf(err, errsz, "%s: auth_user needs "
		    "auth_password_file or auth_password_command",
		    drain_conf->path);
		return -1;
	}
	/* before any secret is in memory */
	if (auth_nodump(err, errsz) == -1)
		return -1;
	if (drain_conf->auth_mechanisms != NULL &&
	    auth_check_list(drain_conf->auth_mechanisms, msg,
	    sizeof(msg)) == -1) {
		(void)snprintf(err, errsz, "%s: %s", drain_conf->path, msg);
		return -1;
	}
	if (drain_conf->auth_password_file != NULL &&
	    drain_read_password(drain_conf->auth_password_file, err,
	    errsz) == -1)
		return -1;
	/* `tls off' (trusted LAN relay, no AUTH) needs no trust anchors */
	if (!(drain_conf->tls_set && drain_conf->tls == TLS_OFF) &&
	    tls_init(drain_conf, err, errsz) == -1)
		return -1;
	if (chdir(drain_conf->spool) == -1) {
		drain_spool_error(err, errsz, drain_conf->spool, errno);
		return -1;
	}
	if ((drain_dropfd = drain_opendir("drop", 01730, err, errsz)) == -1 ||
	    (drain_queuefd = drain_opendir("queue", 0700, err, errsz)) == -1 ||
	    (drain_statefd = drain_opendir("state", 0700, err, errsz)) == -1 ||
	    (drain_failedfd = drain_opendir("failed", 0700, err, errsz)) == -1 ||
	    (drain_holdfd = drain_opendir("hold", 0700, err, errsz)) == -1 ||
	    (drain_corruptfd = drain_opendir("corrupt", 0700, err,
	    errsz)) == -1)
		return -1;
	if (drain_lock(err, errsz) == -1)
		return -1;
	if ((drain_ctlfd = ctl_listen(err, errsz)) == -1)
		return -1;
	if (log_init("relayq", drain_conf->log != NULL ? drain_conf->log :
	    foreground ? "stderr" : "syslog") == -1)
		log_warn("log file %s; logging to syslog", drain_conf->log);
	if (created)
		log_info("created the missing spool %s", drain_conf->spool);
	return 0;
}

int
drain_main(struct conf *conf, int foreground)
{
	struct sigaction	 sa;
	struct pollfd		 pfd[4 + DRAIN_CONN_MAX];
	char			 err[2048], evbuf[4096];
	time_t			 now, wake, cleaned = 0, keepscan, trimmed = 0;
	size_t			 i, nconn;
	int			 ifd, n, timeout, cw;

	drain_conf = conf;
	if (drain_setup(foreground, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "relayq: %s\n", err);
		return EX_CONFIG;
	}
	if (!foreground && daemon(1, 0) == -1) {
		(void)fprintf(stderr, "relayq: daemon: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (!foreground && drain_lock_pid(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = drain_sig;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	/* the domain (conf_domain: /etc/mailname, the host name) for
	 * bounces and ORCPT, looked up before the sandbox and the workers */
	(void)conf_domain(conf);
	/* the sandbox forbids fork and exec, so the command's helper is
	 * forked here: after daemon(), so that it is our child, and
	 * before sandbox_apply(), so that it is not confined (authcmd.c) */
	if (conf->auth_user != NULL && conf->auth_password_command != NULL &&
	    authcmd_start(conf->auth_password_command, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	/* the same for the delivery workers (max_sessions: drainwork.c) */
	if (drain_work_start(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		(void)fprintf(stderr, "relayq: %s\n", err);
		return EX_CONFIG;
	}

	/* inotify wakes us within milliseconds; the scan is the fallback */
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd == -1 || inotify_add_watch(ifd, "drop", IN_CLOSE_WRITE |
	    IN_MOVED_TO) == -1)
		log_warn("inotify; scanning every %d seconds", DRAIN_SCAN);
	drain_stats.started = time(NULL);
	/* failed/ is looked at every minute, or sooner for a short keep */
	keepscan = conf->failed_keep < DRAIN_SCAN ? conf->failed_keep + 1 :
	    DRAIN_SCAN;
	drain_each(drain_statefd, drain_orphan_one);
	drain_limit = (size_t)conf->active_queue_limit;
	drain_each(drain_queuefd, drain_load_one);
	log_info("started: relayq %s, spool %s, %zu message(s) queued%s",
	    RELAYQ_VERSION, conf->spool, drain_nloaded, drain_backlog ?
	    " (past active_queue_limit: taken in as others leave)" : "");
	sandbox_apply(conf);	/* from here on: src/sandbox.c */

	while (!drain_stop) {
		if (time(NULL) >= cleaned + keepscan) {
			drain_each(drain_failedfd, drain_failed_one);
			cleaned = time(NULL);
		}
		drain_each(drain_dropfd, drain_import_one);
		drain_import_commit();
		drain_refill();
		drain_run();
		now = time(NULL);
		wake = now + DRAIN_SCAN;
		if (cleaned + keepscan < wake)
			wake = cleaned + keepscan;
		for (i = 0; i < drain_nq; i++)
			if (drain_q[i].next < wake)
				wake = drain_q[i].next;
		if (drain_sess_idle_until() != 0 && drain_sess_idle_until() <
		    wake)
			wake = drain_sess_idle_until();
		timeout = wake > now ? (int)(wake - now) * 1000 : 0;
		/* going to sleep: hand back what start-up and the last run
		   touched (idle.c).  In a burst at most once a second; a trim
		   that has to wait is done on waking a second later.  Not
		   while a session is parked: it is there to be reused soon,
		   and `wake' already comes when its idle_timeout ends */
		if (timeout > 0 && drain_sess_idle_fd() == -1) {
			if (now > trimmed) {
				idle_trim();
				trimmed = now;
			} else if (timeout > 1000)
				timeout = 1000;
		}
		pfd[0].fd = drain_ctlfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = ifd;
		pfd[1].events = POLLIN;
		/* only hang-up: the helper of auth_password_command died
		 * (-1 when there is none, which poll skips) */
		pfd[2].fd = authcmd_fd();
		pfd[2].events = 0;
		pfd[3].fd = drain_sess_idle_fd();
		pfd[3].events = POLLIN;
		/* and the control connections, each with its deadline */
		nconn = drain_conn_pollfds(pfd + 4);
		if ((cw = drain_conn_wake()) != -1 && cw < timeout)
			timeout = cw;
		n = poll(pfd, 4 + nconn, timeout);
		if (n > 0 && pfd[2].revents != 0 && !drain_stop)
			authcmd_hangup();
		if (n > 0 && (pfd[1].revents & POLLIN))
			while (read(ifd, evbuf, sizeof(evbuf)) > 0)
				;	/* the events only say "look again" */
		drain_conn_serve();	/* ready ones and deadlines only */
		drain_sess_idle_check(n > 0 ? pfd[3].revents : 0);
	}
	drain_conn_end();
	drain_work_stop();
	drain_sess_end(1);
	log_info("stopping");
	return EX_OK;
}
