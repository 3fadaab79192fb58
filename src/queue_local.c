/*
 * The queue when the daemon is down: mailq and `relayq queue' read
 * drop/, queue/, hold/ and state/ themselves, as Postfix's postqueue does when
 * the mail system is down, and sendmail says that a message it queued
 * waits for a daemon.  queue/, hold/ and state/ are 0700 relayq, so only
 * root and the relayq user can list them; nothing here changes the
 * spool.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "relayq.h"

/* the PID in spool/pid: 0 when there is none, -1 when it cannot be read */
long
queue_local_pid(const char *spool)
{
	char	 path[1024], buf[32];
	ssize_t	 n;
	int	 fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/pid", spool) >=
	    sizeof(path))
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtol(buf, NULL, 10) > 0 ? strtol(buf, NULL, 10) : 0;
}

/*
 * Whether a daemon runs on `spool': the PID in spool/pid is alive.  Cheap
 * enough for every submission, and it never touches the daemon's lock (a
 * reader holding it for a moment would make a starting daemon think
 * another one runs).  A PID reused by another process reads as running:
 * then a warning is missing, nothing worse.  An unreadable file too.
 */
int
queue_local_running(const char *spool)
{
	long	 pid = queue_local_pid(spool);

	if (pid <= 0)
		return pid == -1;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* one directory's messages, listed; returns how many */
static size_t
queue_local_dir(FILE *fp, const struct conf *conf, int spoolfd, int statefd,
    const char *dir, int held, unsigned long long *bytes, size_t shown)
{
	struct queue_ids	 ids;
	struct qmsg		 m;
	struct stat		 st;
	char			 err[256];
	size_t			 i, seen = 0;
	int			 dfd;

	if ((dfd = openat(spoolfd, dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return 0;
	if (queue_ids_read(dfd, &ids) == -1) {
		(void)close(dfd);
		return 0;
	}
	for (i = 0; i < ids.n; i++) {
		/* gone between readdir and open: delivered meanwhile */
		if (spool_open_msg(dfd, ids.v[i], &m, err, sizeof(err)) == -1)
			continue;
		(void)spool_read_state(statefd, m.id, &m);
		if (fstat(m.fd, &st) == -1)
			st.st_size = 0;
		if (shown + seen++ == 0)
			queue_list_head(fp);
		*bytes += (unsigned long long)st.st_size;
		queue_list_entry(fp, conf, &m, (long long)st.st_size, held);
		spool_free_msg(&m);
	}
	(void)close(dfd);
	queue_ids_free(&ids);
	return seen;
}

/*
 * The mailq listing of conf's spool, read from the files.  Returns a
 * sysexits code; on failure `err' says why and what to do.
 */
int
queue_local_list(const struct conf *conf, FILE *fp, char *err, size_t errsz)
{
	const char		*spool = conf->spool;
	unsigned long long	 bytes = 0;
	size_t			 n;
	int			 spoolfd, statefd;

	/* a directory the daemon has not made yet holds no mail */
	if ((spoolfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1 || (faccessat(spoolfd, "queue", R_OK | X_OK, AT_EACCESS) ==
	    -1 && errno != ENOENT)) {
		(void)snprintf(err, errsz, "%s%s: %s; the queue can be read "
		    "without the daemon by root and the %s user only (run "
		    "mailq as root, or start the daemon: relayq drain)", spool,
		    spoolfd == -1 ? "" : "/queue", strerror(errno),
		    RELAYQ_USER);
		if (spoolfd != -1)
			(void)close(spoolfd);
		return EX_UNAVAILABLE;
	}
	statefd = openat(spoolfd, "state", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	/* drop/ first: what sendmail queued while no daemon took it in */
	n = queue_local_dir(fp, conf, spoolfd, statefd, "drop", 0, &bytes, 0);
	n += queue_local_dir(fp, conf, spoolfd, statefd, "queue", 0, &bytes,
	    n);
	n += queue_local_dir(fp, conf, spoolfd, statefd, "hold", 1, &bytes,
	    n);
	queue_list_total(fp, bytes, n);
	if (statefd != -1)
		(void)close(statefd);
	(void)close(spoolfd);
	return fflush(fp) == EOF ? EX_IOERR : EX_OK;
}

/*
 * mailq and `relayq queue' with no daemon: the listing from the files,
 * with a warning first on stderr, as postqueue's "Mail system is down --
 * accessing queue directly".
 */
int
queue_local_report(const struct conf *conf)
{
	char	 err[1200];
	int	 rc;

	warnx("warning: the relayq daemon is not running (start it: relayq "
	    "drain, or systemctl start relayq); reading the queue in %s "
	    "directly", conf->spool);
	if ((rc = queue_local_list(conf, stdout, err, sizeof(err))) != EX_OK)
		warnx("queue report unavailable: %s", err);
	return rc;
}

/* sendmail queued `id' while no daemon runs: nothing will deliver it yet */
void
queue_local_warn_idle(const char *spool, const char *id)
{
	warnx("warning: %s: queued in %s, but the relayq daemon is not "
	    "running: the message waits until it starts (relayq drain, or "
	    "systemctl start relayq)", id, spool);
	log_warnx("%s: queued while the relayq daemon is not running on %s: "
	    "the message waits until it starts", id, spool);
}
