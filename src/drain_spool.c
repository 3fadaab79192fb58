/*
 * The daemon's spool.  At start-up: create it when it is missing and we
 * can (a new installation with a custom `spool', a container's empty
 * volume), and word every problem with it as the command that fixes it,
 * with user and group names rather than numbers.  Then the operator's
 * changes to a message: removed with its state, or moved between queue/
 * and hold/ (relayq delete, hold and release).
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "relayq.h"
#include "drain.h"

/*
 * Before root is dropped: a missing spool directory is made, mode 0755
 * as make install makes it, owned by the user the daemon runs as (its
 * subdirectories are made later, by that user, in drain_opendir).  Only
 * the last component: a missing parent is more likely a typing error in
 * `spool' than a wish.  Sets *created when it made one.
 */
int
drain_spool_make(const struct conf *conf, int *created, char *err,
    size_t errsz)
{
	const char	*spool = conf->spool;
	struct stat	 st;
	struct passwd	*pw;
	char		 who[140];
	uid_t		 uid = geteuid();
	gid_t		 gid = getegid();

	*created = 0;
	if (stat(spool, &st) == 0 || errno != ENOENT)
		return 0;	/* other problems: told by the chdir after */
	if (uid == 0) {
		if ((pw = getpwnam(RELAYQ_USER)) == NULL)
			return 0;	/* util_drop_root says what to do */
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	util_owner(uid, gid, who, sizeof(who));
	if (mkdir(spool, 0755) == -1) {
		(void)snprintf(err, errsz, "spool %s does not exist, and the "
		    "daemon (%s) cannot create it (mkdir: %s): as root, "
		    "\"install -d -m 0755 -o %.*s -g %s %s\" (make install "
		    "does), or correct `spool' in %s", spool, who,
		    strerror(errno), (int)strcspn(who, ":"), who,
		    strchr(who, ':') + 1, spool, conf->path);
		return -1;
	}
	/* umask may have taken bits; and root makes it for the user */
	if (chmod(spool, 0755) == -1 || (geteuid() == 0 &&
	    chown(spool, uid, gid) == -1)) {
		(void)snprintf(err, errsz, "spool %s: created, but chmod or "
		    "chown: %s", spool, strerror(errno));
		return -1;
	}
	*created = 1;
	return 0;
}

/* the spool or one of its directories cannot be used: why, and the fix */
void
drain_spool_error(const struct conf *conf, char *err, size_t errsz,
    const char *path, int errnum)
{
	char	 who[140];

	util_owner(geteuid(), getegid(), who, sizeof(who));
	if (errnum == EACCES || errnum == EPERM)
		(void)snprintf(err, errsz, "spool %s: %s: the daemon runs as "
		    "%s and must own the spool: as root, \"chown -R %s %s\" "
		    "(relayq check tells the modes)", path, strerror(errnum),
		    who, who, conf->spool);
	else
		(void)snprintf(err, errsz, "spool %s: %s (relayq check tells "
		    "what the spool needs)", path, strerror(errnum));
}

/* Remove a message from queue/ or hold/ and its state: relayq delete. */
int
drain_spool_remove(struct drain *d, const char *id, enum drain_where where,
    size_t qi, uid_t uid)
{
	int	 dirfd = where == DRAIN_HELD ? d->holdfd : d->queuefd;

	/* message first, then state: a crash leaves an orphan state file,
	   which start-up removes */
	if (unlinkat(dirfd, id, 0) == -1) {
		log_warn("%s: delete", id);
		return -1;
	}
	if (unlinkat(d->statefd, id, 0) == -1 && errno != ENOENT)
		log_warn("%s: unlink state", id);
	if (fsync(dirfd) == -1)
		log_warn("%s: fsync after delete", id);
	if (where == DRAIN_QUEUED && qi != DRAIN_NOT_HELD)
		drain_q_del(&d->q, qi);
	log_info("%s: deleted by uid %u", id, (unsigned int)uid);
	log_info("%s: removed", id);
	return 0;
}

/* Move between queue/ and hold/; the state file stays where it is. */
int
drain_spool_move(const char *id, int fromfd, int tofd)
{
	if (renameat2(fromfd, id, tofd, id, RENAME_NOREPLACE) == -1) {
		log_warn("%s: moving between queue/ and hold/", id);
		return -1;
	}
	if (fsync(tofd) == -1 || fsync(fromfd) == -1)
		log_warn("%s: fsync of spool directories", id);
	return 0;
}
