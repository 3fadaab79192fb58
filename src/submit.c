/*
 * Submission over the control socket, for callers on whom the set-group-
 * ID bit has no effect (systemd's NoNewPrivileges=, nosuid mounts): the
 * front end cannot create a file in drop/, so it prepares the queue file
 * exactly as usual in an anonymous memory file and hands the descriptor
 * to the daemon (SCM_RIGHTS).
 *
 * Exactly once, as the caller sees it.  A caller that gives up waiting
 * (exit 75) and retries must not find its first copy delivered too, and
 * the daemon may take the request only after a delivery that took longer
 * than the caller's patience.  So the request takes two steps:
 *
 *   1. "submit": the daemon copies the file into drop/ under an id of its
 *	own, checks the copy, fsyncs it without its trailer line and holds
 *	it locked, then answers READY <id>.  Nothing importable exists yet:
 *	the import skips a locked file, and a file without a trailer is
 *	removed as stale after a crash.  The caller waits for READY at most
 *	CTL_WAIT seconds; giving up then leaves nothing.
 *   2. "commit": the daemon appends the trailer, fsyncs the file and the
 *	directory, unlocks, and answers OK <id>.  A caller that sent commit
 *	waits for that answer without a timeout of its own: the daemon
 *	takes the commit at its next look at the socket and never refuses
 *	it then, and if the daemon dies the socket ends (EOF) and nothing
 *	was committed unless it died between the directory fsync and the
 *	answer (the lost-reply case of every mail hand-over, RFC 1047).
 *
 * A client gone before its commit (EOF) is dropped: the copy is removed.
 *
 * The daemon trusts nothing the caller wrote about who and when: the
 * queue id, the arrival time and the user (uid and name, from the
 * kernel's SO_PEERCRED and the password database) of the copy are its
 * own; the caller's records are replaced.  The rest of the copy is then
 * checked like any file in drop/, never the caller's descriptor: the
 * caller could change a shared memory file between a check and a copy.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"

#define SUBMIT_ENVELOPE	"RELAYQ 1\nI "
#define SUBMIT_HEADMAX	1024	/* RELAYQ, I, T and U records fit */

/* Send one line, without SIGPIPE: a daemon that went away is an error */
static int
submit_line(int fd, const char *line)
{
	return send(fd, line, strlen(line), MSG_NOSIGNAL) ==
	    (ssize_t)strlen(line) ? 0 : -1;
}

/*
 * The daemon's answer in `ans': 0 for "`want' <id>" (the id into `id'),
 * else a sysexits code with the reason in `err'.
 */
static int
submit_answer(const char *ans, const char *want, char *id, char *err,
    size_t errsz)
{
	size_t	 wl = strlen(want);
	int	 code;

	if (strncmp(ans, want, wl) == 0 && ans[wl] == ' ' &&
	    spool_id_ok(ans + wl + 1)) {
		(void)strlcpy(id, ans + wl + 1, SPOOL_IDLEN + 1);
		return 0;
	}
	/* "ERR <code> <message>" or nothing: not committed */
	if (sscanf(ans, "ERR %d", &code) != 1 || code < 64 || code > 78)
		code = EX_TEMPFAIL;
	(void)snprintf(err, errsz, "%s", strncmp(ans, "ERR ", 4) == 0 &&
	    strchr(ans + 4, ' ') != NULL ? strchr(ans + 4, ' ') + 1 :
	    ans[0] == '\0' ? "no answer from the daemon (nothing was "
	    "queued)" : "bad answer from the daemon (nothing was queued)");
	return code;
}

/*
 * Client: hand `mfd' to the daemon of `spool' in the two steps above.
 * Returns a sysexits code; on EX_OK `id' (SPOOL_IDLEN + 1 octets) holds
 * the queue id the daemon gave it, else `err' says why not.
 */
int
submit_send(const char *spool, int mfd, char *id, char *err, size_t errsz)
{
	struct timeval	 forever = { 0, 0 };
	char		 ans[512];
	int		 fd, code;

	if ((fd = ctl_connect(spool)) == -1) {
		(void)snprintf(err, errsz, "the relayq daemon is not running "
		    "(%s/%s: %s)", spool, CTL_SOCKET, strerror(errno));
		return EX_UNAVAILABLE;
	}
	/* step 1, within CTL_WAIT (ctl_connect): giving up leaves nothing */
	if (util_sendfd(fd, "submit\n", 7, mfd) == 7)
		(void)ctl_read_status(fd, ans, sizeof(ans));
	else if (!ctl_refused(fd, ans, sizeof(ans))) {
		(void)snprintf(err, errsz, "sending to %s/%s: %s", spool,
		    CTL_SOCKET, strerror(errno));
		(void)close(fd);
		return EX_UNAVAILABLE;
	}
	ans[strcspn(ans, "\n")] = '\0';
	if ((code = submit_answer(ans, "READY", id, err, errsz)) != 0) {
		(void)close(fd);
		return code;
	}
	/* step 2: the daemon's answer decides, however long it takes */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever,
	    sizeof(forever)) == -1 || submit_line(fd, "commit\n") == -1) {
		(void)snprintf(err, errsz, "committing on %s/%s: %s (nothing "
		    "was queued)", spool, CTL_SOCKET, strerror(errno));
		(void)close(fd);
		return EX_TEMPFAIL;
	}
	(void)ctl_read_status(fd, ans, sizeof(ans));
	(void)close(fd);
	ans[strcspn(ans, "\n")] = '\0';
	return submit_answer(ans, "OK", id, err, errsz);
}

/* Copy `from' from offset `off' to its end `size' into `to'. */
static int
submit_copy(int from, int to, off_t off, off_t size)
{
	char	 buf[65536];
	ssize_t	 n;

	while (off < size) {
		n = pread(from, buf, size - off < (off_t)sizeof(buf) ?
		    (size_t)(size - off) : sizeof(buf), off);
		if (n <= 0 || util_writeall(to, buf, (size_t)n) == -1)
			return -1;
		off += n;
	}
	return 0;
}

/*
 * Where the caller's records after RELAYQ, I, T and U start in `mfd':
 * those four are replaced with the daemon's own.  -1 if it is not a
 * queue file.
 */
static off_t
submit_rest(int mfd)
{
	char	 head[SUBMIT_HEADMAX];
	ssize_t	 n;
	char	*p = head;
	int	 lines;

	if ((n = pread(mfd, head, sizeof(head), 0)) <
	    (ssize_t)sizeof(SUBMIT_ENVELOPE) ||
	    memcmp(head, SUBMIT_ENVELOPE, sizeof(SUBMIT_ENVELOPE) - 1) != 0)
		return -1;
	for (lines = 0; lines < 4; lines++) {
		if ((p = memchr(p, '\n', (size_t)(head + n - p))) == NULL)
			return -1;
		p++;
	}
	/* the fourth record is the user's; what follows is checked below */
	return p - head;
}

/* The login name of `uid' for the U record, as sendmail writes it. */
static void
submit_user(uid_t uid, char *name, size_t namesz)
{
	struct passwd	*pw;

	if ((pw = getpwuid(uid)) != NULL && addr_valid(pw->pw_name) &&
	    strlcpy(name, pw->pw_name, namesz) < namesz)
		return;
	(void)snprintf(name, namesz, "uid%u", (unsigned int)uid);
}

/* Create drop/ID for a new id of ours, locked; -1 with errno. */
static int
submit_create(int dropfd, char *id)
{
	struct timespec	 ts;
	int		 fd = -1, tries;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	for (tries = 0; tries < 100; tries++) {
		spool_make_id(id, &ts, getpid());
		fd = openat(dropfd, id, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0640);
		if (fd != -1 || errno != EEXIST)
			break;
		if ((ts.tv_nsec += 1000) >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	/* the import skips a locked file: ours until the commit */
	if (fd != -1 && flock(fd, LOCK_EX) == -1) {
		(void)unlinkat(dropfd, id, 0);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/*
 * Daemon, step 1: copy the queue file `mfd' of the peer `uid' into
 * `dropfd' under a new id, with our own I, T and U records, check it,
 * and leave it fsynced, locked and without its trailer line, which `h'
 * keeps for the commit.  max_message_size bounds the file, and
 * queue_minfree must be free (spool.c): the copy is ours, past the
 * caller's quota.  Returns 0, or a
 * sysexits code with the reason in `err'.
 */
int
submit_prepare(int mfd, uid_t uid, int dropfd, const struct conf *conf,
    struct submit_held *h, char *err, size_t errsz)
{
	struct stat	 st;
	struct qmsg	 m;
	char		 user[64], head[256];
	off_t		 rest, end;
	ssize_t		 tl;
	int		 n, code = EX_DATAERR;

	h->fd = -1;
	if (mfd == -1 || fstat(mfd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)snprintf(err, errsz, "submit: no queue file attached");
		return EX_USAGE;
	}
	if (st.st_size > conf->max_message_size * 2 + 1024 * 1024) {
		(void)snprintf(err, errsz, "submit: message too large");
		return EX_DATAERR;
	}
	if (spool_minfree(dropfd, conf, err, errsz) == -1)
		return EX_TEMPFAIL;
	if ((rest = submit_rest(mfd)) == -1) {
		(void)snprintf(err, errsz, "submit: not a queue file");
		return EX_DATAERR;
	}
	submit_user(uid, user, sizeof(user));
	if ((h->fd = submit_create(dropfd, h->id)) == -1) {
		(void)snprintf(err, errsz, "submit: creating a file in drop/: "
		    "%s", strerror(errno));
		return errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
		    EX_CANTCREAT;
	}
	n = snprintf(head, sizeof(head), "RELAYQ 1\nI %s\nT %lld\nU %u %s\n",
	    h->id, (long long)time(NULL), (unsigned int)uid, user);
	if (n < 0 || (size_t)n >= sizeof(head) ||
	    util_writeall(h->fd, head, (size_t)n) == -1 ||
	    submit_copy(mfd, h->fd, rest, st.st_size) == -1) {
		(void)snprintf(err, errsz, "submit: writing drop/%s: %s",
		    h->id, strerror(errno));
		code = EX_TEMPFAIL;
		goto fail;
	}
	/* the copy, whatever the caller did to its file meanwhile, must be
	   a queue file in every respect, with our records at its top */
	if (spool_load_fd(h->fd, &m, err, errsz) == -1)
		goto fail;
	m.fd = -1;	/* h->fd stays ours */
	h->trailer = m.dataoff + m.datalen;
	if (spool_check_data(h->fd, m.dataoff, m.datalen, err, errsz) == -1) {
		spool_free_msg(&m);
		goto fail;
	}
	spool_free_msg(&m);
	end = lseek(h->fd, 0, SEEK_END);
	if (end - h->trailer <= 0 || end - h->trailer > (off_t)sizeof(h->tail) ||
	    (tl = pread(h->fd, h->tail, (size_t)(end - h->trailer),
	    h->trailer)) != end - h->trailer) {
		(void)snprintf(err, errsz, "submit: drop/%s: no trailer",
		    h->id);
		goto fail;
	}
	h->taillen = (size_t)tl;
	/* not importable before the commit, even after a crash: without
	   its trailer the file is removed as stale */
	if (ftruncate(h->fd, h->trailer) == -1 || fsync(h->fd) == -1) {
		(void)snprintf(err, errsz, "submit: writing drop/%s: %s",
		    h->id, strerror(errno));
		code = EX_TEMPFAIL;
		goto fail;
	}
	return 0;
 fail:
	submit_abandon(h, dropfd);
	return code;
}

/*
 * Step 2: the trailer back, the file and its name durable, the lock
 * released: the import takes it from here.  0, or -1 with the copy
 * removed and `err' set.
 */
int
submit_commit(struct submit_held *h, int dropfd, char *err, size_t errsz)
{
	if (pwrite(h->fd, h->tail, h->taillen, h->trailer) != (ssize_t)
	    h->taillen || fsync(h->fd) == -1 || fsync(dropfd) == -1) {
		(void)snprintf(err, errsz, "submit: committing drop/%s: %s",
		    h->id, strerror(errno));
		submit_abandon(h, dropfd);
		return -1;
	}
	(void)close(h->fd);	/* unlocked: importable */
	h->fd = -1;
	return 0;
}

/* Drop a prepared copy: the client went away or ran out of time. */
void
submit_abandon(struct submit_held *h, int dropfd)
{
	if (h->fd == -1)
		return;
	if (unlinkat(dropfd, h->id, 0) == -1)
		log_warn("submit: removing drop/%s", h->id);
	(void)close(h->fd);
	h->fd = -1;
}
