/*
 * auth_password_command: the one function that runs it (authcmd_run),
 * and the helper process that runs it for the sandboxed daemon.
 *
 * The daemon's sandbox (sandbox.c) allows neither fork nor exec, yet the
 * command (typically a script that fetches a fresh OAuth token) must run
 * for each session.  So, the way Postfix and OpenSMTPD split a daemon,
 * `relayq drain' forks this helper before the sandbox is applied, keeps
 * one end of a socketpair and from then on asks the helper over it:
 *
 *	request, daemon -> helper:	the 4 bytes "get\n", nothing else
 *	reply, helper -> daemon:	"ok SECRET\n" or "error MESSAGE\n",
 *					one datagram, AUTHCMD_REPLY_MAX at most
 *
 * The request carries no data: a daemon taken over through a parser bug
 * can make the helper run the configured command and nothing else, and
 * gains the token it is given anyway.  The reply is checked by a pure
 * parser (authcmd_parse: unit-tested, fuzzed) before the daemon uses it.
 *
 * `relayq probe' runs unsandboxed and starts no helper: authcmd_get()
 * then calls authcmd_run() itself, so both paths run the command the
 * same way, with the same limits and the same error messages.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "client.h"

#define AUTHCMD_TIMEOUT	30	/* seconds the command may take in all */
/* the daemon's bound on one answer: the command's time plus ample room
 * for the helper to kill it, reap it and reply */
#define AUTHCMD_WAIT	(AUTHCMD_TIMEOUT + 15)
#define AUTHCMD_REQ	"get\n"

static int	 authcmd_sock = -1;	/* daemon's end; -1: none or gone */
static pid_t	 authcmd_pid;		/* 0: no helper (relayq probe) */

static int
authcmd_ms_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return 0;
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms > 0 ? (int)ms : 0;
}

/*
 * Run auth_password_command (/bin/sh -c, as the caller's user): stdout up
 * to the first newline is the secret.  It never sees a terminal or our
 * stdin; stderr goes where the caller's goes, so the command must not
 * print the token there.  It has AUTHCMD_TIMEOUT seconds in all, then
 * it is killed: a hung token script must not hang deliveries.  `buf' is
 * the caller's to wipe.
 */
int
authcmd_run(const char *cmd, char *buf, size_t sz, char *err, size_t errsz)
{
	struct pollfd	 pfd;
	struct timespec	 deadline;
	size_t		 len = 0;
	ssize_t		 n;
	pid_t		 pid;
	int		 fds[2], status, nul, ready;

	if (clock_gettime(CLOCK_MONOTONIC, &deadline) == -1) {
		(void)snprintf(err, errsz, "auth_password_command: clock: %s",
		    strerror(errno));
		return -1;
	}
	deadline.tv_sec += AUTHCMD_TIMEOUT;
	if (pipe2(fds, O_CLOEXEC) == -1) {
		(void)snprintf(err, errsz, "auth_password_command: pipe: %s",
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errsz, "auth_password_command: fork: %s",
		    strerror(errno));
		(void)close(fds[0]);
		(void)close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		if ((nul = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(nul, 0) == -1 || dup2(fds[1], 1) == -1)
			_exit(127);
		(void)signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	(void)close(fds[1]);
	pfd.fd = fds[0];
	pfd.events = POLLIN;
	for (;;) {
		if ((ready = poll(&pfd, 1, authcmd_ms_left(&deadline))) == -1 &&
		    errno == EINTR)
			continue;
		if (ready <= 0) {
			(void)kill(pid, SIGKILL);
			break;
		}
		n = read(fds[0], buf + len, sz - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sz - 1)
			break;
	}
	(void)close(fds[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			status = -1;
			break;
		}
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (status != 0 || buf[0] == '\0') {
		explicit_bzero(buf, sz);
		(void)snprintf(err, errsz, "auth_password_command %s", status
		    == -1 ? "could not be waited for" : WIFEXITED(status) &&
		    WEXITSTATUS(status) != 0 ? "failed (non-zero exit)" :
		    WIFSIGNALED(status) ? "was killed" :
		    "printed no secret on stdout");
		return -1;
	}
	return 0;
}

/*
 * The helper's reply, `rep' of `len' octets: 0 with the secret in `buf',
 * 1 with the helper's error message in `err' (the command failed), or -1
 * with `err' saying why the reply is malformed.  "ok SECRET\n": the
 * secret is 1 to sz-1 octets, none of them NUL, CR or LF (authcmd_run
 * cuts at the first CR or LF); "error MESSAGE\n": 1 to AUTHCMD_ERR_MAX
 * printable ASCII characters, so it goes into a log line as it is.
 */
int
authcmd_parse(const char *rep, size_t len, char *buf, size_t sz, char *err,
    size_t errsz)
{
	const char	*p;
	size_t		 n, i;
	unsigned char	 c;
	int		 ok;

	if (sz > 0)
		buf[0] = '\0';
	if (len == 0 || len > AUTHCMD_REPLY_MAX || rep[len - 1] != '\n') {
		(void)snprintf(err, errsz, "not one line of at most %d octets",
		    AUTHCMD_REPLY_MAX);
		return -1;
	}
	if (len >= 3 && memcmp(rep, "ok ", 3) == 0) {
		p = rep + 3;
		ok = 1;
	} else if (len >= 6 && memcmp(rep, "error ", 6) == 0) {
		p = rep + 6;
		ok = 0;
	} else {
		(void)snprintf(err, errsz, "neither \"ok\" nor \"error\"");
		return -1;
	}
	n = (size_t)(rep + len - 1 - p);
	if (n == 0) {
		(void)snprintf(err, errsz, "empty %s", ok ? "secret" :
		    "error message");
		return -1;
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '\0' || c == '\r' || c == '\n' ||
		    (!ok && (c < 0x20 || c > 0x7e))) {
			(void)snprintf(err, errsz, "%s byte at offset %zu",
			    ok ? "NUL, CR or LF" : "unprintable",
			    (size_t)(p - rep) + i);
			return -1;
		}
	}
	if (!ok) {
		if (n > AUTHCMD_ERR_MAX) {
			(void)snprintf(err, errsz, "error message longer than "
			    "%d octets", AUTHCMD_ERR_MAX);
			return -1;
		}
		(void)snprintf(err, errsz, "%.*s", (int)n, p);
		return 1;
	}
	if (n >= sz) {
		(void)snprintf(err, errsz, "secret longer than %zu octets",
		    sz - 1);
		return -1;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

/*
 * The helper: answer each request until the daemon goes away (EOF on the
 * socket, or an error), then exit.  Never returns.
 */
static void __attribute__((noreturn))
authcmd_serve(int fd, const char *cmd)
{
	char	 req[8], secret[AUTH_SECRET_MAX], err[AUTHCMD_ERR_MAX + 1];
	char	 msg[256], rep[AUTHCMD_REPLY_MAX + 1];
	ssize_t	 n;
	int	 len;

	for (;;) {
		n = recv(fd, req, sizeof(req), 0);
		if (n == -1 && errno == EINTR)
			continue;
		/* EOF: the daemon has exited (or closed us off); anything
		 * but the one request is not our daemon talking: stop */
		if (n != (ssize_t)strlen(AUTHCMD_REQ) ||
		    memcmp(req, AUTHCMD_REQ, (size_t)n) != 0)
			_exit(n == 0 ? 0 : 1);
		if (authcmd_run(cmd, secret, sizeof(secret), msg,
		    sizeof(msg)) == 0)
			len = snprintf(rep, sizeof(rep), "ok %s\n", secret);
		else {
			/* authcmd_run's messages are ours, but strerror
			 * text goes through vis(3) all the same */
			util_sanitise(err, sizeof(err), msg, strlen(msg));
			len = snprintf(rep, sizeof(rep), "error %s\n", err);
		}
		explicit_bzero(secret, sizeof(secret));
		/* the buffers are sized so that this cannot be truncated */
		if (len < 0 || (size_t)len >= sizeof(rep))
			_exit(1);
		n = send(fd, rep, (size_t)len, MSG_NOSIGNAL);
		explicit_bzero(rep, sizeof(rep));
		if (n != len)
			_exit(1);
	}
}

/*
 * Fork the helper: called by the daemon after start-up and BEFORE
 * sandbox_apply(), so the helper inherits neither the Landlock domain
 * nor the seccomp filter (both are inherited by children and across
 * exec, and cannot be lifted).  Returns -1 with `err' set.
 *
 * The helper's privileges, decided here:
 *  - the daemon's uid and gid, never root: the daemon has dropped root
 *    for good before this point (util_drop_root), checked again below;
 *  - no descriptor of the daemon: spool directories, lock, control
 *    socket, log file, syslog socket, inotify are all closed, and it runs
 *    in / rather than in the spool.  It still has the daemon's uid, so
 *    file permissions alone do not keep it from the spool: what keeps a
 *    compromise away from it is that the helper parses nothing but a
 *    fixed 4-byte request;
 *  - no sandbox of its own: whatever Landlock or seccomp applies to the
 *    helper applies to the command too, which is arbitrary code of the
 *    administrator's (oauth2 scripts, python, curl, pass, gpg) reading
 *    and writing token caches anywhere the user may and using the
 *    network; a filter that allows that allows everything;
 *  - not dumpable, no core file (auth_nodump, inherited): other
 *    processes of the same uid cannot ptrace it for the token.  The
 *    command gets the usual rights back at exec, as it had before.
 *
 * Zombies: the daemon sets SIGCHLD to SA_NOCLDWAIT before the fork, so
 * the kernel reaps the helper whenever it dies, and the sandboxed daemon
 * needs no wait4 (nor a handler).  The daemon has no other children; a
 * future one would be reaped the same way, and could not be waited for.
 * The helper itself puts SIGCHLD back to default at once: it waits for
 * each command with waitpid, which SA_NOCLDWAIT would break.
 */
int
authcmd_start(const char *cmd, char *err, size_t errsz)
{
	struct sigaction	 sa;
	pid_t			 pid;
	int			 sv[2], rc;

	if (getuid() == 0 || geteuid() == 0) {
		(void)snprintf(err, errsz, "auth_password_command: refusing to "
		    "run it as root");
		return -1;
	}
	/* SEQPACKET: a reply is one datagram, never half of one; CLOEXEC:
	 * the command never inherits either end */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		(void)snprintf(err, errsz, "auth_password_command helper: "
		    "socketpair: %s", strerror(errno));
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	(void)sigemptyset(&sa.sa_mask);
	if ((rc = sigaction(SIGCHLD, &sa, NULL)) == -1 ||
	    (pid = fork()) == -1) {
		(void)snprintf(err, errsz, "auth_password_command helper: "
		    "%s: %s", rc == -1 ? "sigaction" : "fork",
		    strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		sa.sa_flags = 0;
		if (sigaction(SIGCHLD, &sa, NULL) == -1)
			_exit(1);
		/* the daemon's SIGTERM/SIGINT handler only sets its stop
		 * flag: here it would make the helper unkillable by TERM */
		(void)signal(SIGTERM, SIG_DFL);
		(void)signal(SIGINT, SIG_DFL);
		/* SIGPIPE stays ignored: a reply to a dead daemon is EPIPE,
		 * then EOF ends the loop (authcmd_run resets it for sh) */
		if (sv[1] != 3 && dup3(sv[1], 3, O_CLOEXEC) == -1)
			_exit(1);
		closefrom(4);	/* sv[0], sv[1] and every daemon fd */
		if (chdir("/") == -1)
			_exit(1);
		(void)prctl(PR_SET_NAME, "relayq-authcmd", 0, 0, 0);
		authcmd_serve(3, cmd);
	}
	(void)close(sv[1]);
	authcmd_sock = sv[0];
	authcmd_pid = pid;
	log_info("auth_password_command runs in helper pid %ld, outside the "
	    "sandbox", (long)pid);
	return 0;
}

/* The daemon's end, to poll for the helper's death; -1 when none. */
int
authcmd_fd(void)
{
	return authcmd_sock;
}

/*
 * The helper is gone or cannot be trusted to be in step: say so once,
 * loudly, and stop talking to it.  It is not restarted: that would need
 * fork and exec inside the sandbox, the very rights the helper exists to
 * keep out of it.  The daemon goes on (queue, control socket, sessions
 * without AUTH); sessions that need the command defer with a message
 * naming it, on the normal retry schedule, so nothing spins and no mail
 * is lost; the operator restarts relayq.  The kernel reaps the helper
 * (SA_NOCLDWAIT), so no zombie is left either.
 */
static void
authcmd_down(const char *why)
{
	if (authcmd_sock == -1)
		return;
	log_warnx("auth_password_command helper (pid %ld) %s; sessions "
	    "that need AUTH defer until relayq is restarted",
	    (long)authcmd_pid, why);
	(void)close(authcmd_sock);
	authcmd_sock = -1;
}

/* poll() said the helper's end hung up: it exited or was killed. */
void
authcmd_hangup(void)
{
	authcmd_down("exited or was killed");
}

/*
 * The secret for one session, into `buf' (the caller's to wipe):
 * from the helper when the daemon started one, else by running the
 * command here (relayq probe).  -1 with `err' set.
 */
int
authcmd_get(const char *cmd, char *buf, size_t sz, char *err, size_t errsz)
{
	struct pollfd	 pfd;
	struct timespec	 deadline;
	char		 rep[AUTHCMD_REPLY_MAX + 1], why[AUTHCMD_ERR_MAX + 1];
	ssize_t		 n;
	int		 rc, ready;

	if (authcmd_pid == 0)
		return authcmd_run(cmd, buf, sz, err, errsz);
	/* the deadline before the request: once it is sent, every way out
	 * either reads the reply or gives the helper up */
	if (clock_gettime(CLOCK_MONOTONIC, &deadline) == -1) {
		(void)snprintf(err, errsz, "auth_password_command helper: "
		    "clock: %s", strerror(errno));
		return -1;
	}
	deadline.tv_sec += AUTHCMD_WAIT;
	if (authcmd_sock != -1 &&
	    send(authcmd_sock, AUTHCMD_REQ, strlen(AUTHCMD_REQ),
	    MSG_NOSIGNAL) == -1)
		authcmd_down("exited or was killed");
	if (authcmd_sock == -1) {
		(void)snprintf(err, errsz, "auth_password_command helper is "
		    "gone (restart relayq)");
		return -1;
	}
	pfd.fd = authcmd_sock;
	pfd.events = POLLIN;
	while ((ready = poll(&pfd, 1, authcmd_ms_left(&deadline))) == -1 &&
	    errno == EINTR)
		;
	if (ready <= 0) {
		/* a late answer would be taken for the next one's: stop */
		(void)snprintf(why, sizeof(why), "did not answer within %d "
		    "seconds", AUTHCMD_WAIT);
		authcmd_down(why);
		(void)snprintf(err, errsz, "auth_password_command helper %s",
		    why);
		return -1;
	}
	/* MSG_TRUNC: the datagram's real length, so an oversized one is
	 * refused rather than cut to look valid */
	while ((n = recv(authcmd_sock, rep, sizeof(rep), MSG_TRUNC)) == -1 &&
	    errno == EINTR)
		;
	if (n <= 0) {
		authcmd_down("exited or was killed");
		(void)snprintf(err, errsz, "auth_password_command helper is "
		    "gone (restart relayq)");
		return -1;
	}
	rc = authcmd_parse(rep, (size_t)n < sizeof(rep) ? (size_t)n :
	    sizeof(rep), buf, sz, why, sizeof(why));
	explicit_bzero(rep, sizeof(rep));
	if (rc == -1) {
		(void)snprintf(err, errsz, "auth_password_command helper sent "
		    "a malformed reply: %s", why);
		authcmd_down("sent a malformed reply");
		return -1;
	}
	if (rc == 1) {
		(void)strlcpy(err, why, errsz);
		return -1;
	}
	return 0;
}
