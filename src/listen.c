/*
 * relayq smtpd: the SMTP listener, for applications that can only speak
 * SMTP to a host and port (Grafana, Gitea, Django, nodemailer) and for
 * containers without a sendmail binary.  Off by default: it runs only
 * when started, on the addresses of `listen' or on the sockets systemd
 * passes (LISTEN_FDS, contrib/relayq-smtp.socket).
 *
 * Design, after Postfix's master/smtpd split: this process only accepts.
 * It decides who may connect (loopback always, others by listen_allow),
 * counts connections (listen_max_connections in all,
 * listen_max_per_client from one address, so that a flood from one
 * address leaves room for the others), and for each accepted client
 * forks and executes this installation's sendmail -bs with the socket
 * as standard input and output.  So the session, the message
 * preparation (Date, Message-ID, masquerading, aliases, force_sender,
 * force_from, queue_minfree, the limits of a queue file) and the commit
 * (250 only after the queue file and the drop directory are fsynced)
 * are sendmail's own code, not a copy of it; sendmail takes the
 * client's address from the socket for the Received field and the log,
 * and bounds the time per command and per DATA phase (bs.c).  The
 * daemon notices the new file in drop/ at once (inotify), as for any
 * submission.  A process per connection costs one exec per connection,
 * not per message; a client that crashes its session takes nothing
 * else with it.
 *
 * With AUTH or STARTTLS on (listen_auth_file, listen_tls_cert) the
 * child stays between the client and its sendmail -bs as a session
 * helper (listen_session.c): it holds the password hashes and the TLS
 * key, which sendmail, set-group-ID and without TLS code, must not.
 * Clients outside loopback and listen_allow are then let in, to
 * authenticate before MAIL.
 *
 * It is its own service (contrib/relayq-smtp.service), not a child of
 * the daemon: the daemon holds the smarthost secret and runs under a
 * sandbox that forbids fork and exec, and the listener must never see
 * that secret.  Started as root (to bind port 25) it becomes the relayq
 * user before it accepts anyone; the sockets stay.  Then it confines
 * itself and every sendmail it starts (listen_sandbox.c).  A container
 * runs it as a second process beside relayq drain (contrib/docker).
 */
#include <sys/types.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "listen.h"
#include "lproto.h"

#define LISTEN_MAXSOCK	16
#define LISTEN_BACKLOG	128
#define LISTEN_FDSTART	3	/* SD_LISTEN_FDS_START */

struct listen_child {
	pid_t			 pid;	/* 0: a free slot */
	struct sockaddr_storage	 addr;
};

struct listen {
	const struct conf	*conf;
	const char		*host;	/* in the 421/554 replies */
	char			 sendmail[PATH_MAX];
	int			 fd[LISTEN_MAXSOCK];
	size_t			 nfd;
	struct listen_child	*child;
	size_t			 nchild;	/* in use */
	int			 sfd;		/* signals */
	/* AUTH (and STARTTLS): a session helper per client */
	struct lauth		 auth;
	struct listen_helper	 helper;
	int			 helped;
};

/* "[192.0.2.1]:1234" for the log */
static const char *
listen_name(const struct sockaddr *sa, char *buf, size_t sz)
{
	char	 a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6 && inet_ntop(AF_INET6,
	    &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a)) !=
	    NULL)
		(void)snprintf(buf, sz, "[%s]:%u", a, ntohs(
		    ((const struct sockaddr_in6 *)sa)->sin6_port));
	else if (sa->sa_family == AF_INET && inet_ntop(AF_INET,
	    &((const struct sockaddr_in *)sa)->sin_addr, a, sizeof(a)) !=
	    NULL)
		(void)snprintf(buf, sz, "[%s]:%u", a, ntohs(
		    ((const struct sockaddr_in *)sa)->sin_port));
	else
		(void)strlcpy(buf, "(unknown)", sz);
	return buf;
}

/*
 * The sockets systemd passes (sd_listen_fds(3)): LISTEN_PID is ours and
 * LISTEN_FDS counts them from descriptor 3.  The variables are removed,
 * so that no sendmail we start takes them for its own.
 */
static int
listen_inherited(struct listen *l, char *err, size_t errsz)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char	*errstr;
	long long	 n, i;

	if (pid == NULL || fds == NULL ||
	    strtonum(pid, 1, INT_MAX, &errstr) != getpid())
		return 0;
	n = strtonum(fds, 1, LISTEN_MAXSOCK, &errstr);
	if (errstr != NULL) {
		(void)snprintf(err, errsz, "LISTEN_FDS=%s is %s (1-%d)", fds,
		    errstr, LISTEN_MAXSOCK);
		return -1;
	}
	for (i = 0; i < n; i++) {
		l->fd[l->nfd++] = LISTEN_FDSTART + (int)i;
		if (fcntl(LISTEN_FDSTART + (int)i, F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(LISTEN_FDSTART + (int)i, F_SETFL, O_NONBLOCK) == -1) {
			(void)snprintf(err, errsz, "socket %lld from systemd: "
			    "%s", LISTEN_FDSTART + i, strerror(errno));
			return -1;
		}
	}
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	return 1;
}

/* Bind every address of `listen'. */
static int
listen_bind(struct listen *l, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			*list, *tok, *last, name[80];
	int			 fd, one = 1;

	if (l->conf->listen == NULL) {
		(void)snprintf(err, errsz, "%.300s: no listen address: add "
		    "\"listen 127.0.0.1:25\" (or start relayq-smtp.socket)",
		    l->conf->path);
		return -1;
	}
	if ((list = strdup(l->conf->listen)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (tok = strtok_r(list, " ", &last); tok != NULL;
	    tok = strtok_r(NULL, " ", &last)) {
		if (l->nfd == LISTEN_MAXSOCK) {
			(void)snprintf(err, errsz, "%.300s: more than %d listen "
			    "addresses", l->conf->path, LISTEN_MAXSOCK);
			goto fail;
		}
		if (listen_parse_addr(tok, &ss, &len, name, sizeof(name)) ==
		    -1) {
			(void)snprintf(err, errsz, "%.300s: %s", l->conf->path,
			    name);
			goto fail;
		}
		if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) == -1)
			goto syserr;
		l->fd[l->nfd++] = fd;
		/* "[::]:25" is IPv6 only: "*:25" beside it takes IPv4 */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one)) == -1 || (ss.ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one)) == -1) ||
		    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
		    listen(fd, LISTEN_BACKLOG) == -1)
			goto syserr;
	}
	free(list);
	return 0;
 syserr:
	(void)snprintf(err, errsz, "listen %s: %s%s", tok, strerror(errno),
	    errno == EACCES ? " (a port below 1024 needs root, or "
	    "relayq-smtp.socket)" : "");
 fail:
	free(list);
	return -1;
}

/*
 * Our sendmail: the one installed beside this program (/usr/sbin), or
 * the build tree's.  Not $PATH: another MTA's sendmail would take the
 * mail.
 */
static int
listen_find_sendmail(struct listen *l, char *err, size_t errsz)
{
	char	 self[PATH_MAX], *slash;
	ssize_t	 n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1) {
		(void)snprintf(err, errsz, "/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((size_t)snprintf(l->sendmail, sizeof(l->sendmail), "%s/sendmail",
	    self) >= sizeof(l->sendmail) || access(l->sendmail, X_OK) == -1) {
		(void)snprintf(err, errsz, "%.300s/sendmail: %s: relayq smtpd runs "
		    "the sendmail installed beside it", self, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * AUTH and STARTTLS: the users of listen_auth_file and the TLS key,
 * read now, as root, so that the files may be readable by root alone;
 * the sessions then need a helper (listen_session.c).  A password is
 * never sent in the clear over a network: AUTH on a socket that is not
 * loopback needs TLS.
 */
static int
listen_helped(struct listen *l, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 why[512], name[80];
	size_t			 i;

	l->helper.sendmail = l->sendmail;
	l->helper.timeout = l->conf->listen_timeout;
	if ((l->conf->listen_tls_cert != NULL ||
	    l->conf->listen_tls_key != NULL) &&
	    (l->helper.tls = ltls_new(l->conf, err, errsz)) == NULL)
		return -1;
	l->helped = l->helper.tls != NULL;
	if (l->conf->listen_auth_file == NULL)
		return 0;
	for (i = 0; l->helper.tls == NULL && i < l->nfd; i++) {
		len = sizeof(ss);
		if (getsockname(l->fd[i], (struct sockaddr *)&ss, &len) == -1)
			continue;
		if (!listen_is_loopback((struct sockaddr *)&ss)) {
			(void)snprintf(err, errsz, "%.300s: listen_auth_file "
			    "on %s, which is not loopback: AUTH would send "
			    "passwords in the clear; set listen_tls_cert and "
			    "listen_tls_key, or listen on loopback only",
			    l->conf->path, listen_name((struct sockaddr *)&ss,
			    name, sizeof(name)));
			return -1;
		}
	}
	if (lauth_load(&l->auth, l->conf->listen_auth_file, why,
	    sizeof(why)) == -1) {
		(void)snprintf(err, errsz, "listen_auth_file %.400s", why);
		return -1;
	}
	l->helper.auth = &l->auth;
	l->helped = 1;
	return 0;
}

/* A one-line reply to a client we turn away; it may be gone already. */
static void
listen_refuse(int fd, const char *code, const char *host, const char *why)
{
	char	 buf[512];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%s %.255s Error: %s\r\n", code, host,
	    why);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)close(fd);
}

/* The session: sendmail -bs on the socket, in a child. */
static void __attribute__((noreturn))
listen_exec(struct listen *l, int fd)
{
	char		*argv[] = { "sendmail", "-bs", NULL };
	sigset_t	 none;

	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1)
		_exit(EX_OSERR);
	if (fd > STDOUT_FILENO)
		(void)close(fd);
	(void)execv(l->sendmail, argv);
	log_warn("smtpd: cannot run %s", l->sendmail);
	_exit(EX_OSERR);
}

static void
listen_accept(struct listen *l, int lfd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	char			 name[INET6_ADDRSTRLEN + 16], err[256];
	size_t			 i, same = 0, slot = 0;
	int			 fd, loopback, relay;
	unsigned int		 flags;
	pid_t			 pid;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC))
	    == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			log_warn("smtpd: accept");
		return;
	}
	(void)listen_name((struct sockaddr *)&ss, name, sizeof(name));
	/* loopback always; anyone else when listen_allow names it, or to
	 * authenticate when there is listen_auth_file (Postfix's
	 * permit_mynetworks, permit_sasl_authenticated, reject) */
	loopback = listen_is_loopback((struct sockaddr *)&ss);
	relay = loopback || listen_allowed(l->conf->listen_allow,
	    (struct sockaddr *)&ss, err, sizeof(err)) == 1;
	if (!relay && l->helper.auth == NULL) {
		log_warnx("smtpd: reject: connect from %s: 554 5.7.1 not in "
		    "listen_allow", name);
		listen_refuse(fd, "554 5.7.1", l->host,
		    "access denied (not a permitted client network)");
		return;
	}
	for (i = 0; i < (size_t)l->conf->listen_max_connections; i++) {
		if (l->child[i].pid == 0)
			slot = slot != 0 ? slot : i + 1;
		else if (listen_same_client((struct sockaddr *)&l->child[i].addr,
		    (struct sockaddr *)&ss))
			same++;
	}
	if (slot == 0) {
		log_warnx("smtpd: reject: connect from %s: 421 too many "
		    "connections (listen_max_connections %lld)", name,
		    l->conf->listen_max_connections);
		listen_refuse(fd, "421 4.3.2", l->host,
		    "too many connections; try again later");
		return;
	}
	if (same >= (size_t)l->conf->listen_max_per_client) {
		log_warnx("smtpd: reject: connect from %s: 421 too many "
		    "connections from this address (listen_max_per_client "
		    "%lld)", name, l->conf->listen_max_per_client);
		listen_refuse(fd, "421 4.7.0", l->host,
		    "too many connections from your address; try again "
		    "later");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("smtpd: fork for %s", name);
		listen_refuse(fd, "421 4.3.0", l->host,
		    "cannot start a session; try again later");
		return;
	}
	if (pid == 0) {
		for (i = 0; i < l->nfd; i++)
			(void)close(l->fd[i]);
		(void)close(l->sfd);
		if (!l->helped)
			listen_exec(l, fd);
		flags = (l->helper.auth != NULL ? LPROTO_F_AUTH : 0) |
		    (l->helper.tls != NULL ? LPROTO_F_TLS : 0) |
		    (relay ? LPROTO_F_RELAY : 0) |
		    (loopback ? LPROTO_F_PLAINAUTH : 0);
		listen_session(&l->helper, fd, (struct sockaddr *)&ss, flags);
	}
	(void)close(fd);
	l->child[slot - 1].pid = pid;
	l->child[slot - 1].addr = ss;
	l->nchild++;
}

static void
listen_reap(struct listen *l)
{
	pid_t	 pid;
	int	 status;
	size_t	 i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		for (i = 0; i < (size_t)l->conf->listen_max_connections; i++)
			if (l->child[i].pid == pid) {
				l->child[i].pid = 0;
				l->nchild--;
				if (WIFSIGNALED(status))
					log_warnx("smtpd: session %d killed "
					    "by signal %d", (int)pid,
					    WTERMSIG(status));
			}
}

int
listen_main(const struct conf *conf)
{
	struct listen		 l;
	struct pollfd		 pfd[LISTEN_MAXSOCK + 1];
	struct signalfd_siginfo	 si;
	sigset_t		 set;
	char			 err[512];
	size_t			 i;
	int			 r, sfd, rc = EX_OSERR, done = 0;

	/* 0-2 open, so that no client's socket becomes one of them (its
	 * dup2 onto itself would keep close-on-exec) */
	while ((sfd = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0 && sfd <= 2)
		(void)fcntl(sfd, F_SETFD, 0);
	if (sfd == -1) {
		warn("/dev/null");
		return EX_OSERR;
	}
	(void)close(sfd);
	memset(&l, 0, sizeof(l));
	l.conf = conf;
	l.host = conf->route[0].helo_name != NULL ?
	    conf->route[0].helo_name : util_hostname();
	if (log_init("relayq-smtpd", conf->log != NULL ? conf->log :
	    "syslog") == -1)
		warn("log %s", conf->log);
	/* a bad listen_allow is found now, not at the first client */
	if (listen_allowed(conf->listen_allow, (struct sockaddr *)&(struct
	    sockaddr_in){ .sin_family = AF_INET }, err, sizeof(err)) == -1) {
		warnx("%s: %s", conf->path, err);
		return EX_CONFIG;
	}
	if (conf->listen_max_connections < 1 ||
	    conf->listen_max_per_client < 1) {
		warnx("%s: listen_max_connections and listen_max_per_client "
		    "must be at least 1", conf->path);
		return EX_CONFIG;
	}
	if ((r = listen_inherited(&l, err, sizeof(err))) == 0)
		r = listen_bind(&l, err, sizeof(err));
	if (r == -1 || listen_find_sendmail(&l, err, sizeof(err)) == -1 ||
	    listen_helped(&l, err, sizeof(err)) == -1 ||
	    util_drop_root(err, sizeof(err)) == -1) {
		warnx("%s", err);
		log_warnx("smtpd: %s", err);
		lauth_free(&l.auth);
		ltls_free(l.helper.tls);
		return r == -1 && errno == EACCES ? EX_NOPERM : EX_CONFIG;
	}
	/*
	 * The sandbox can allow the spool only if it exists now; the daemon
	 * (or make install) makes it.  A container's listener started first
	 * exits, and its restart finds it.
	 */
	if (access(conf->spool, F_OK) == -1) {
		warn("%s: start relayq drain first (it creates the spool)",
		    conf->spool);
		log_warn("smtpd: %s: start relayq drain first", conf->spool);
		return EX_CONFIG;
	}
	/* sendmail reads the same configuration: the same file when there
	 * is one, and the same RELAYQ_* variables (inherited) */
	if ((access(conf->path, F_OK) == 0 &&
	    setenv("RELAYQ_CONFIG", conf->path, 1) == -1) ||
	    (l.child = calloc((size_t)conf->listen_max_connections,
	    sizeof(*l.child))) == NULL) {
		warn("smtpd");
		return EX_OSERR;
	}
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGCHLD);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1 ||
	    (l.sfd = sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) ==
	    -1) {
		warn("smtpd: signalfd");
		goto out;
	}
	if (listen_sandbox(conf, l.sendmail, err, sizeof(err)) == -1)
		log_warnx("smtpd: %s", err);
	log_info("smtpd: started: %zu socket(s), sessions by %s",
	    l.nfd, l.sendmail);
	for (i = 0; i < l.nfd; i++) {
		pfd[i].fd = l.fd[i];
		pfd[i].events = POLLIN;
	}
	pfd[l.nfd].fd = sfd;
	pfd[l.nfd].events = POLLIN;
	while (!done) {
		if (poll(pfd, l.nfd + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("smtpd: poll");
			goto out;
		}
		if (pfd[l.nfd].revents & POLLIN) {
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo == SIGTERM ||
				    si.ssi_signo == SIGINT)
					done = 1;
			listen_reap(&l);
		}
		for (i = 0; i < l.nfd && !done; i++)
			if (pfd[i].revents & POLLIN)
				listen_accept(&l, l.fd[i]);
	}
	/* the sessions go on: each commits or drops its own message */
	log_info("smtpd: stopped");
	rc = EX_OK;
 out:
	for (i = 0; i < l.nfd; i++)
		(void)close(l.fd[i]);
	free(l.child);
	lauth_free(&l.auth);
	ltls_free(l.helper.tls);
	return rc;
}
