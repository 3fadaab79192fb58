/*
 * Submission over the control socket, for callers on whom the set-group-
 * ID bit has no effect (systemd's NoNewPrivileges=, nosuid mounts): the
 * front end cannot create a file in drop/, so it prepares the queue file
 * exactly as usual in an anonymous memory file and hands the descriptor
 * to the daemon (SCM_RIGHTS).  The daemon copies it into drop/ as its
 * own file, checks the copy, fsyncs it and the directory, and only then
 * answers OK: the same commit guarantee as a direct drop.
 *
 * The daemon validates its own copy, never the caller's descriptor: the
 * caller could change a shared memory file between a check and a copy.
 * The envelope's uid must be the peer's uid from SO_PEERCRED, so nobody
 * submits in someone else's name.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"

#define SUBMIT_ENVELOPE	"RELAYQ 1\nI "

/*
 * Client: send "submit" with `mfd' attached to the daemon of `spool' and
 * wait for its answer.  Returns a sysexits code; `err' says why not.
 */
int
submit_send(const char *spool, int mfd, char *err, size_t errsz)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	char		 req[] = "submit\n", ans[512];
	int		 fd, code;

	if ((fd = ctl_connect(spool)) == -1) {
		(void)snprintf(err, errsz, "the relayq daemon is not running "
		    "(%s/%s: %s)", spool, CTL_SOCKET, strerror(errno));
		return EX_UNAVAILABLE;
	}
	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = req;
	iov.iov_len = sizeof(req) - 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)iov.iov_len) {
		(void)snprintf(err, errsz, "sending to %s/%s: %s", spool,
		    CTL_SOCKET, strerror(errno));
		(void)close(fd);
		return EX_UNAVAILABLE;
	}
	(void)ctl_read_status(fd, ans, sizeof(ans));
	(void)close(fd);
	ans[strcspn(ans, "\n")] = '\0';
	if (strncmp(ans, "OK", 2) == 0)
		return EX_OK;
	/* "ERR <code> <message>" or nothing: not committed */
	code = EX_TEMPFAIL;
	if (sscanf(ans, "ERR %d", &code) != 1 || code < 64 || code > 78)
		code = EX_TEMPFAIL;
	(void)snprintf(err, errsz, "%s", strncmp(ans, "ERR ", 4) == 0 &&
	    strchr(ans + 4, ' ') != NULL ? strchr(ans + 4, ' ') + 1 :
	    "no answer from the daemon");
	return code;
}

/* Copy all of `from' into `to'. */
static int
submit_copy(int from, int to, off_t size)
{
	char	 buf[65536];
	off_t	 off = 0;
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
 * Daemon: take the queue file `mfd' from the peer `uid' into `dropfd'.
 * Answers on `fd'; the import of drop/ then takes it like any other.
 * `max' bounds the file (max_message_size and room for the envelope).
 */
void
submit_accept(int fd, int mfd, uid_t uid, int dropfd, long long max)
{
	struct stat	 st;
	struct qmsg	 m;
	char		 head[sizeof(SUBMIT_ENVELOPE) + SPOOL_IDLEN];
	char		 id[SPOOL_IDLEN + 1], err[256];
	int		 out = -1, code = EX_TEMPFAIL;

	if (mfd == -1 || fstat(mfd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)ctl_error(fd, EX_USAGE, "submit: no queue file attached");
		return;
	}
	if (st.st_size > max * 2 + 1024 * 1024) {
		(void)ctl_error(fd, EX_DATAERR, "submit: message too large");
		return;
	}
	/* the id names the copy; everything else is checked on the copy */
	if (pread(mfd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, SUBMIT_ENVELOPE, sizeof(SUBMIT_ENVELOPE) - 1) != 0) {
		(void)ctl_error(fd, EX_DATAERR, "submit: not a queue file");
		return;
	}
	memcpy(id, head + sizeof(SUBMIT_ENVELOPE) - 1, SPOOL_IDLEN);
	id[SPOOL_IDLEN] = '\0';
	if (!spool_id_ok(id)) {
		(void)ctl_error(fd, EX_DATAERR, "submit: bad queue id");
		return;
	}
	out = openat(dropfd, id, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0640);
	if (out == -1) {
		(void)snprintf(err, sizeof(err), "submit: drop/%s: %s", id,
		    strerror(errno));
		(void)ctl_error(fd, EX_CANTCREAT, err);
		return;
	}
	/*
	 * Until the answer below, the copy is an unlocked file: a crash
	 * leaves it incomplete (no valid trailer, removed by the stale-file
	 * sweep) or complete (imported); the caller saw no OK either way.
	 */
	if (submit_copy(mfd, out, st.st_size) == -1 || fsync(out) == -1) {
		(void)snprintf(err, sizeof(err), "submit: writing drop/%s: %s",
		    id, strerror(errno));
		goto fail;
	}
	if (spool_load_fd(out, &m, err, sizeof(err)) == -1) {
		code = EX_DATAERR;
		goto fail;
	}
	if (m.uid != uid || strcmp(m.id, id) != 0 ||
	    spool_check_data(out, m.dataoff, m.datalen, err, sizeof(err)) ==
	    -1) {
		if (m.uid != uid)
			(void)snprintf(err, sizeof(err), "the envelope's uid "
			    "%u is not the caller's (%u)", (unsigned int)m.uid,
			    (unsigned int)uid);
		else if (strcmp(m.id, id) != 0)
			(void)strlcpy(err, "id mismatch", sizeof(err));
		m.fd = -1;	/* `out' is closed below */
		spool_free_msg(&m);
		code = EX_DATAERR;
		goto fail;
	}
	m.fd = -1;
	spool_free_msg(&m);
	if (fsync(dropfd) == -1) {
		(void)snprintf(err, sizeof(err), "submit: fsync drop/: %s",
		    strerror(errno));
		goto fail;
	}
	(void)close(out);
	log_info("%s: submitted over the control socket by uid %u", id,
	    (unsigned int)uid);
	(void)ctl_ok(fd, id, strlen(id));
	return;
 fail:
	(void)close(out);
	(void)unlinkat(dropfd, id, 0);
	log_warnx("submit from uid %u refused: %s", (unsigned int)uid, err);
	(void)ctl_error(fd, code, err);
}
