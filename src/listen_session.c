/*
 * The session helper: when the listener offers AUTH or STARTTLS
 * (listen_auth_file, listen_tls_cert), the child it forks for a client
 * does not become sendmail -bs itself.  It starts sendmail -bs on a
 * socket pair and stays between the client and it, with a control
 * channel on sendmail's descriptor 3 (listen_proto.c):
 *
 *	client <-> helper <-> sendmail -bs
 *	              \------- control (3)
 *
 * The helper holds what sendmail must never hold (it is set-group-ID
 * and carries no TLS code): the password hashes, read by the listener
 * before it dropped root, and (listen_tls.c) the TLS key.  It relays
 * bytes both ways, answers sendmail's password checks, and at STARTTLS
 * does the TLS handshake on the client's socket, then relays the
 * decrypted bytes.  The SMTP session is still sendmail's alone.
 *
 * Deadlock: the helper writes to the client blocking (bounded by
 * listen_timeout), and to sendmail only what sendmail can take now
 * (a buffer, POLLOUT); it reads the client only when that buffer is
 * empty, so a client that sends without reading holds only its own
 * session.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "listen.h"
#include "lproto.h"

#define LSESS_READY	"220 2.0.0 Ready to start TLS\r\n"

struct lsess {
	const struct listen_helper *h;
	int		 cfd;		/* the client */
	int		 io;		/* sendmail's standard input and output */
	int		 ctl;		/* its descriptor 3 */
	pid_t		 pid;
	char		 client[64];	/* "[192.0.2.1]" */
	int		 ceof;		/* the client said no more */
	int		 tls;		/* relaying through TLS */
	char		 c2s[16384];	/* from the client, not yet to sendmail */
	size_t		 c2soff, c2slen;
};

/* sendmail -bs on a socket pair and a control channel: its pid, or -1 */
static pid_t
lsess_spawn(struct lsess *s)
{
	char	*argv[] = { "sendmail", "-bs", NULL };
	int	 io[2], ctl[2];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) == -1) {
		(void)close(io[0]);
		(void)close(io[1]);
		return -1;
	}
	if ((pid = fork()) == 0) {
		/* dup2 clears close-on-exec; 3 may be one of ours */
		if (dup2(io[1], STDIN_FILENO) == -1 ||
		    dup2(io[1], STDOUT_FILENO) == -1 ||
		    dup2(ctl[1], LPROTO_FD) == -1 ||
		    setenv(LPROTO_ENV, "1", 1) == -1)
			_exit(EX_OSERR);
		(void)execv(s->h->sendmail, argv);
		log_warn("smtpd: cannot run %s", s->h->sendmail);
		_exit(EX_OSERR);
	}
	(void)close(io[1]);
	(void)close(ctl[1]);
	s->io = io[0];
	s->ctl = ctl[0];
	if (pid == -1) {
		(void)close(io[0]);
		(void)close(ctl[0]);
	}
	return pid;
}

/* To the client, through TLS once it is up: 0, or -1 */
static int
lsess_write(struct lsess *s, const void *buf, size_t len)
{
	if (s->tls)
		return ltls_write(s->h->tls, buf, len);
	return util_writeall(s->cfd, buf, len);
}

/*
 * STARTTLS: sendmail said T.  From now on nothing is read from the
 * client in plaintext; the plaintext it sent that sendmail has not seen
 * is dropped here (what is in the buffer) and by sendmail (what is in
 * its socket) once we say R; only after its G do decrypted bytes flow.
 * The 220 is ours, written after sendmail's earlier replies: had
 * sendmail written it, the client could answer it with its TLS hello
 * before its T reached us, and that hello would be relayed to sendmail.
 * 0, or -1: the session ends (the handshake failed: logged with the
 * client's address).
 */
static int
lsess_starttls(struct lsess *s)
{
	char	 buf[4096], what[160];
	ssize_t	 n;

	s->c2slen = 0;
	/* sendmail's replies before the T: in the socket now */
	while ((n = recv(s->io, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if (util_writeall(s->cfd, buf, (size_t)n) == -1)
			return -1;
	if (util_writeall(s->cfd, LSESS_READY, sizeof(LSESS_READY) - 1) == -1)
		return -1;
	if (ltls_handshake(s->h->tls, s->cfd, what, sizeof(what)) == -1) {
		log_warnx("smtpd: client=%s: TLS handshake failed: %s",
		    s->client, what);
		return -1;
	}
	if (lproto_send(s->ctl, "%c", LPROTO_READY) == -1 ||
	    lproto_getline(s->ctl, buf, sizeof(buf)) == -1 ||
	    strcmp(buf, "G") != 0)
		return -1;
	s->tls = 1;
	log_info("smtpd: client=%s: STARTTLS: %s", s->client, what);
	return 0;
}

/* A request on the control channel: 0, -1 when sendmail is gone or
 * says what it must not, -2 when the session must end */
static int
lsess_control(struct lsess *s)
{
	struct lproto_msg	 m;
	char			 line[LPROTO_LINEMAX], why[128];
	int			 ok, rc = -1;

	if (lproto_getline(s->ctl, line, sizeof(line)) == -1)
		goto done;
	if (lproto_parse(line, strlen(line), &m, why, sizeof(why)) == -1) {
		log_warnx("smtpd: client=%s: from sendmail: %s", s->client,
		    why);
		goto done;
	}
	if (m.type == LPROTO_AUTH && s->h->auth != NULL) {
		ok = lauth_check(s->h->auth, m.user, m.pass, m.passlen);
		rc = lproto_send(s->ctl, "%c", ok ? LPROTO_YES : LPROTO_NO);
	} else if (m.type == LPROTO_STARTTLS && s->h->tls != NULL && !s->tls)
		rc = lsess_starttls(s) == -1 ? -2 : 0;
	else
		log_warnx("smtpd: client=%s: from sendmail: unexpected "
		    "control message '%c'", s->client, m.type);
 done:
	explicit_bzero(&m, sizeof(m));
	explicit_bzero(line, sizeof(line));
	return rc;
}

/* What sendmail wrote, to the client: 0, 1 when sendmail is done, -1
 * when the client is gone */
static int
lsess_to_client(struct lsess *s)
{
	char	 buf[16384];
	ssize_t	 n;

	if ((n = read(s->io, buf, sizeof(buf))) == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : 1;
	if (n == 0)
		return 1;
	return lsess_write(s, buf, (size_t)n) == -1 ? -1 : 0;
}

/* The client's bytes into the buffer: 0, or -1 on a read error */
static int
lsess_from_client(struct lsess *s)
{
	ssize_t	 n;

	if (s->tls) {
		if ((n = ltls_read(s->h->tls, s->c2s, sizeof(s->c2s))) == -2)
			return 0;
		if (n == -1)
			return -1;
	} else if ((n = read(s->cfd, s->c2s, sizeof(s->c2s))) == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		s->ceof = 1;
		(void)shutdown(s->io, SHUT_WR);
		return 0;
	}
	s->c2soff = 0;
	s->c2slen = (size_t)n;
	return 0;
}

/* The buffer to sendmail, what it takes now: 0, or -1 when it is gone */
static int
lsess_to_sendmail(struct lsess *s)
{
	ssize_t	 n;

	n = send(s->io, s->c2s + s->c2soff, s->c2slen, MSG_DONTWAIT |
	    MSG_NOSIGNAL);
	if (n == -1)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	s->c2soff += (size_t)n;
	s->c2slen -= (size_t)n;
	return 0;
}

/*
 * The helper for the client on `fd' (the listener's child): never
 * returns.  `flags' (LPROTO_F_*) is what this client may do.
 */
void
listen_session(const struct listen_helper *h, int fd,
    const struct sockaddr *sa, unsigned int flags)
{
	struct lsess	 s;
	struct pollfd	 pfd[3];
	struct timeval	 tv = { h->timeout, 0 };
	sigset_t	 none;
	char		 fl[8];
	int		 r, status = 0;

	memset(&s, 0, sizeof(s));
	s.h = h;
	s.cfd = fd;
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	if (lproto_client(sa, s.client, sizeof(s.client)) == NULL)
		(void)strlcpy(s.client, "[unknown]", sizeof(s.client));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    (s.pid = lsess_spawn(&s)) == -1 ||
	    setsockopt(s.ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		log_warn("smtpd: client=%s: starting the session", s.client);
		_exit(EX_OSERR);
	}
	lproto_flags(flags, fl, sizeof(fl));
	if (lproto_send(s.ctl, "%c %s %s", LPROTO_START, s.client, fl) == -1)
		goto done;
	for (;;) {
		/* the client: read only into an empty buffer */
		pfd[0].fd = s.c2slen == 0 && !s.ceof ? s.cfd : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = s.io;
		pfd[1].events = POLLIN | (s.c2slen > 0 ? POLLOUT : 0);
		pfd[2].fd = s.ctl;
		pfd[2].events = POLLIN;
		/* bytes mbedTLS decrypted already: no need to wait */
		if (poll(pfd, 3, pfd[0].fd != -1 && s.tls &&
		    ltls_pending(h->tls) > 0 ? 0 : -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* sendmail's replies first: the client may be waiting */
		if ((pfd[1].revents & (POLLIN | POLLHUP)) &&
		    lsess_to_client(&s) != 0)
			break;
		if ((pfd[2].revents & (POLLIN | POLLHUP)) &&
		    (r = lsess_control(&s)) != 0) {
			if (r == -2)
				break;
			/* sendmail exits: its last replies still go out */
			(void)close(s.ctl);
			s.ctl = -1;
		}
		if ((pfd[1].revents & POLLOUT) && lsess_to_sendmail(&s) == -1)
			break;
		if (pfd[0].fd != -1 && ((pfd[0].revents & (POLLIN | POLLHUP |
		    POLLERR)) || (s.tls && ltls_pending(h->tls) > 0)) &&
		    lsess_from_client(&s) == -1)
			break;
	}
 done:
	if (s.tls)
		ltls_close(h->tls);
	(void)close(s.io);
	if (s.ctl != -1)
		(void)close(s.ctl);
	(void)close(s.cfd);
	while (waitpid(s.pid, &status, 0) == -1 && errno == EINTR)
		;
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : EX_SOFTWARE);
}
