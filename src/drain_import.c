/*
 * relayq drain: messages into the queue table.  Files in drop/ are
 * checked and imported into queue/ (drain_import_all, after each wake),
 * queue/ is loaded at start-up (drain_import_load), and past
 * active_queue_limit the table is refilled from queue/ as messages leave
 * it (drain_import_refill).
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"
#include "crash.h"

#define DRAIN_STALE	600	/* an unlocked incomplete drop file this old
				   was left by a killed front end */

/*
 * Make the renames of a scan durable with one fsync of each directory
 * (not two per message), and only then accept the messages.  A kill
 * before the fsyncs loses nothing: the renames are in the page cache and
 * start-up loads queue/.  A power loss before them may undo any of the
 * renames, leaving those files in drop/, where sendmail fsynced them and
 * the next scan imports them again; each file is in exactly one of the
 * two directories either way.  Nothing is delivered before the fsyncs,
 * so no rename that a power loss could undo is followed by a delivery
 * (that would be a duplicate outside the post-dot window).  d->moved
 * holds the files renamed whose directories are not yet fsynced: not
 * accepted yet, so not in the queue table and not delivered.
 */
void
drain_import_commit(struct drain *d)
{
	size_t	 i;

	if (d->nmoved == 0)
		return;
	CRASH_POINT("drain-import-before-fsync");
	if (fsync(d->queuefd) == -1 || fsync(d->dropfd) == -1)
		log_warn("fsync of spool directories queue/ and drop/ after "
		    "importing %zu message(s)", d->nmoved);
	for (i = 0; i < d->nmoved; i++) {
		if (drain_q_admit(&d->q, d->moved[i], 0) == -1)
			log_warn("%s: queue table", d->moved[i]);
		d->stats.received++;
	}
	d->nmoved = 0;
}

/*
 * Take one file from the drop directory.  Checked on the descriptor:
 * regular, one link (a hard link to someone else's file is refused),
 * not a symlink (O_NOFOLLOW), complete, data in wire form, and written
 * by the uid its envelope names (or by us).  A writer still holding its
 * lock is left alone.  Import = rename into queue/, then (for up to
 * DRAIN_BATCH files at once) drain_import_commit.
 */
void
drain_import_one(struct drain *d, const char *name)
{
	struct qmsg	 m;
	struct stat	 st;
	char		 err[256];
	int		 fd;

	fd = openat(d->dropfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
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
		if (drain_quar_move(d, d->dropfd, "drop", name, fd, err,
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
		(void)drain_quar_move(d, d->dropfd, "drop", name, fd, err, 1);
		(void)close(fd);
		return;
	}
	if (renameat2(d->dropfd, name, d->queuefd, name,
	    RENAME_NOREPLACE) == -1) {
		log_warn("drop/%s: cannot move to queue/", name);
		spool_free_msg(&m);
		return;
	}
	(void)strlcpy(d->moved[d->nmoved++], m.id, sizeof(*d->moved));
	spool_free_msg(&m);
	if (d->nmoved == DRAIN_BATCH)
		drain_import_commit(d);
	return;
 junk:
	if (fd != -1)
		(void)close(fd);
	if (unlinkat(d->dropfd, name, 0) == -1 && errno != ENOENT)
		log_warn("drop/%s: unlink", name);
}

static void
drain_import_each(void *arg, const char *name)
{
	drain_import_one(arg, name);
}

/* Every file in drop/ taken in, and made durable (drain_import_commit). */
void
drain_import_all(struct drain *d)
{
	(void)queue_ids_each(d->dropfd, drain_import_each, d);
	drain_import_commit(d);
}

/*
 * A queued message into the table (start-up, and drain_import_refill), due
 * when its state says; past active_queue_limit it stays in queue/ until
 * the table has room.  A message last tried before a flush of the whole
 * queue (d->q.flushed, drain_ctl.c) is due now.
 */
static void
drain_import_queued(struct drain *d, const char *name)
{
	struct qmsg	 m;

	memset(&m, 0, sizeof(m));
	m.fd = -1;
	/* next_try 0 when the state is missing or unreadable: try now */
	(void)spool_read_state(d->statefd, name, &m);
	if (d->q.flushed != 0 && m.last_try <= d->q.flushed)
		m.next_try = 0;	/* the same second counts: one try too many
				   rather than a flush ignored */
	if (drain_q_admit(&d->q, name, m.next_try) == -1)
		log_warn("%s: queue table", name);
}

/* start-up: how many were found, for the log */
struct drain_loading {
	struct drain	*d;
	size_t		 n;
};

static void
drain_import_queued_one(void *arg, const char *name)
{
	struct drain_loading	*l = arg;

	if (!spool_id_ok(name)) {
		log_warnx("queue/%s: not a queue file; ignored", name);
		return;
	}
	l->n++;
	drain_import_queued(l->d, name);
}

/* Start-up: queue/ into the table; returns how many messages it holds. */
size_t
drain_import_load(struct drain *d)
{
	struct drain_loading	 l;

	l.d = d;
	l.n = 0;
	(void)queue_ids_each(d->queuefd, drain_import_queued_one, &l);
	return l.n;
}

/*
 * More than active_queue_limit messages are queued (d->q.backlog): the
 * table refills continuously, like Postfix's queue manager, and as soon
 * as a message leaves it the next one from queue/ takes its place, not
 * at the next scan a minute later.  One pass over queue/ stays open
 * between calls (d->scan, its own open file description: drain_each,
 * run on the same directory meanwhile, must not move it) and goes on where it
 * stopped, so a refill reads the few entries it takes in rather than the
 * whole directory.  At the end of a pass a new one starts only if a
 * message was left out since the last began (drain_q_admit sets
 * its backlog again).  Called after each message leaves the table
 * (drain_try_done) and once per turn of the main loop.
 */
void
drain_import_refill(struct drain *d)
{
	struct dirent	*de;
	struct stat	 st;
	size_t		 qi;
	int		 fd;

	while (d->q.nq < d->q.limit) {
		if (d->scan == NULL) {
			if (!d->q.backlog)
				return;
			if ((fd = openat(d->queuefd, ".", O_RDONLY |
			    O_DIRECTORY | O_CLOEXEC)) == -1 ||
			    (d->scan = fdopendir(fd)) == NULL) {
				log_warn("queue/: reading the directory to "
				    "take in messages past active_queue_limit");
				if (fd != -1)
					(void)close(fd);
				return;
			}
			d->q.backlog = 0;
		}
		if ((de = readdir(d->scan)) == NULL) {
			(void)closedir(d->scan);
			d->scan = NULL;
			continue;
		}
		/* the pass read its entries in batches, maybe before one of
		   them was delivered and removed: only what is there now */
		if (spool_id_ok(de->d_name) && drain_q_find(&d->q, de->d_name,
		    &qi) == -1 && fstatat(d->queuefd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			drain_import_queued(d, de->d_name);
	}
}
