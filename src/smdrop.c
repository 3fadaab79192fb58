/*
 * sendmail's queue-file opener: the only process of the front end that
 * keeps group relayq, and it reads nothing from the caller.
 *
 * Installed setgid relayq, sendmail needs the group for exactly one
 * thing: the open(2) that creates a file in drop/ (mode 1730).  Keeping
 * it as the saved set-group-ID while parsing a message or an SMTP
 * session (-bs) would let a bug there become the group, and a process
 * with group relayq is an administrator on the daemon's control socket.
 * Nor can the front end open the drop directory early and give the
 * group up: openat(2) on a directory descriptor checks the credentials
 * of the caller at the time of the call, not those the descriptor was
 * opened with.  So, once the root-owned configuration is read, sendmail
 * forks this helper and gives every group privilege up for good
 * (setresgid to the real gid: no saved relayq to regain).  The helper
 * keeps relayq as its saved gid, takes it as effective only around each
 * open(2), and answers one byte from its parent with one new, locked
 * queue file (descriptor passed back with SCM_RIGHTS) and its id.  The
 * id is made here, so the retry on a clash of names (next microsecond,
 * up to 100 times) happens where the group is.  -bs children share the
 * helper: it serves one request at a time and exits when they are all
 * gone (end of file on its socket).
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relayq.h"

struct smdrop_reply {
	int	 err;			/* 0, or the errno of the create */
	char	 id[SPOOL_IDLEN + 1];
};

static int	 smdrop_fd = -1;	/* the parent's end */

#ifdef RELAYQ_TEST
/*
 * Test builds only (test/sendmail-sgid): RELAYQ_TEST_ID=SECONDS.PID fixes
 * the clock and pid that make the id, so that a test can plant the names
 * it will clash with.
 */
static void
smdrop_test_id(struct timespec *ts, pid_t *pid)
{
	const char	*v = getenv("RELAYQ_TEST_ID");
	long long	 s;
	long		 p;

	if (v != NULL && sscanf(v, "%lld.%ld", &s, &p) == 2) {
		ts->tv_sec = (time_t)s;
		ts->tv_nsec = 0;
		*pid = (pid_t)p;
	}
}
#endif

/* Create one queue file in `spool'/drop; -1 with errno. */
static int
smdrop_create(const char *spool, gid_t rgid, gid_t egid, char *id)
{
	struct timespec	 ts;
	char		 path[PATH_MAX];
	pid_t		 pid = getpid();
	int		 fd = -1, tries, saved;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
#ifdef RELAYQ_TEST
	smdrop_test_id(&ts, &pid);
#endif
	for (tries = 0; tries < 100; tries++) {
		spool_make_id(id, &ts, pid);
		if ((size_t)snprintf(path, sizeof(path), "%s/drop/%s", spool,
		    id) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		/* the group for this call only */
		if (setegid(egid) == -1)
			return -1;
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
		saved = errno;
		if (setegid(rgid) == -1)
			_exit(71);	/* cannot put the group down: stop */
		errno = saved;
		if (fd != -1 || errno != EEXIST)
			break;
		if ((ts.tv_nsec += 1000) >= 1000000000) {	/* a clash */
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	if (fd == -1)
		return -1;
	/*
	 * Group-readable whatever the caller's umask (the daemon reads it
	 * through group relayq), and locked: the lock belongs to the open
	 * file, which the parent shares, so it holds until the parent is
	 * done writing even though this descriptor is closed.
	 */
	if (fchmod(fd, 0640) == -1 || flock(fd, LOCK_EX) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void __attribute__((noreturn))
smdrop_serve(int s, const char *spool, gid_t rgid, gid_t egid)
{
	struct smdrop_reply	 r;
	char			 c;
	int			 fd, null;

	/* the caller's stdin and stdout are not ours to hold open */
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		(void)dup2(null, STDIN_FILENO);
		(void)dup2(null, STDOUT_FILENO);
		if (null > STDERR_FILENO)
			(void)close(null);
	}
	while (recv(s, &c, 1, 0) == 1) {
		memset(&r, 0, sizeof(r));
		fd = smdrop_create(spool, rgid, egid, r.id);
		r.err = fd == -1 ? errno : 0;
		if (util_sendfd(s, &r, sizeof(r), fd) != (ssize_t)sizeof(r))
			_exit(0);
		if (fd != -1)
			(void)close(fd);
	}
	_exit(0);
}

/*
 * Fork the opener for `spool' (from the root-owned configuration) while
 * the group `egid' is still ours.  The caller gives the group up right
 * after.  -1 with errno.
 */
int
smdrop_start(const char *spool, gid_t rgid, gid_t egid)
{
	int	 sv[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		smdrop_serve(sv[1], spool, rgid, egid);
	}
	(void)close(sv[1]);
	smdrop_fd = sv[0];
	return 0;
}

/*
 * A new queue file from the opener, its id into `id' (SPOOL_IDLEN + 1
 * octets); -1 with errno.
 */
int
smdrop_open(char *id)
{
	struct smdrop_reply	 r;
	int			 fd = -1;

	if (smdrop_fd == -1 || send(smdrop_fd, "c", 1, MSG_NOSIGNAL) != 1)
		return -1;
	if (util_recvfd(smdrop_fd, &r, sizeof(r), &fd, 0) !=
	    (ssize_t)sizeof(r)) {
		if (fd != -1)
			(void)close(fd);
		errno = EPIPE;	/* the opener is gone */
		return -1;
	}
	if (r.err != 0 || fd == -1) {
		if (fd != -1)
			(void)close(fd);
		errno = r.err != 0 ? r.err : EPROTO;
		return -1;
	}
	r.id[SPOOL_IDLEN] = '\0';
	memcpy(id, r.id, SPOOL_IDLEN + 1);
	return fd;
}
