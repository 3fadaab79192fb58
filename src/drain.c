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
 *	corrupt/ 0700: committed files the daemon cannot read (drain_quar.c)
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
#include <limits.h>
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

/*
 * The daemon state outside struct drain: a signal handler has no context
 * to be given, so SIGTERM and SIGINT set this flag, which struct drain
 * points to (d->stop), and SIGHUP the other, which the loop reads.
 */
static volatile sig_atomic_t	 drain_sigstop;
static volatile sig_atomic_t	 drain_sighup;

static int	 drain_lock_pid(const struct drain *, char *, size_t);
static void	 drain_failed_one(void *, const char *);

static void
drain_sig(int sig)
{
	if (sig == SIGHUP)
		drain_sighup = 1;
	else
		drain_sigstop = 1;
}

static int
drain_opendir(const struct drain *d, const char *name, mode_t mode,
    char *err, size_t errsz)
{
	char	 path[1100];
	int	 fd;

	if (mkdir(name, mode) == 0 && chmod(name, mode) == -1) {
		(void)snprintf(err, errsz, "chmod %s/%s: %s", d->conf->spool,
		    name, strerror(errno));
		return -1;
	}
	if ((fd = open(name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		(void)snprintf(path, sizeof(path), "%s/%s", d->conf->spool,
		    name);
		drain_spool_error(d->conf, err, errsz, path, errno);
	}
	return fd;
}

/*
 * One delivery run over every due message on the daemon's own session
 * (with max_sessions, the workers make it instead: drain_work.c).  A
 * broken session is reopened once per message; when no smarthost of a
 * route can be reached the rest of the run defers that route's messages
 * with that reason, and the other routes' go on.  Between messages
 * the control connections that are ready are served, without waiting.
 * At the end the session is parked (drain_sess.c).
 */
static void
drain_run(struct drain *d, time_t now)
{
	struct drain_try	 t;
	char			 err[CONF_MAXROUTES][REPLY_MAX + 128];
	char			 id[SPOOL_IDLEN + 1];
	size_t			 qi, ri;
	int			 down[CONF_MAXROUTES] = { 0 };

	for (qi = 0; !*d->stop; ) {
		drain_conn_serve(d);	/* may change d->q: index checked */
		if (qi >= d->q.nq)
			break;
		if (d->q.q[qi].next > now || drain_try_held(d, qi)) {
			qi++;
			continue;
		}
		(void)strlcpy(id, d->q.q[qi].id, sizeof(id));
		if (drain_try_load(d, id, now, &t) == -1) {
			qi++;
			continue;
		}
		/* one connection attempt per message at most, and none
		   after one to its route failed in this run; none
		   either while its route's rate holds it back (the run
		   goes on with other routes' messages) */
		ri = t.route->idx;
		if (!t.expired && !down[ri]) {
			if (drain_try_begin(d, &t) == -1) {
				qi++;
				continue;
			}
			down[ri] = drain_sess_send(d->sess, d->conf, t.route,
			    &t.m, t.relay, sizeof(t.relay), err[ri],
			    sizeof(err[ri])) == -1;
			t.connt = drain_try_now();
			drain_try_outage(d, t.route, !down[ri]);
		}
		/* may move the last entry to qi */
		drain_try_done(d, &t, down[ri], err[ri]);
		if (qi < d->q.nq && strcmp(d->q.q[qi].id, id) == 0)
			qi++;
	}
	if (*d->stop)
		drain_sess_end(d->sess, 1);
	else
		drain_sess_park(d->sess);
	drain_try_sync(d);
}

/*
 * Between delivery runs: failed/ cleaned now and then, new messages
 * taken in, and a run started over what is due, on the workers or on
 * the daemon's own session.
 */
static void
drain_between_runs(struct drain *d, time_t *cleaned, time_t keepscan)
{
	if (time(NULL) >= *cleaned + keepscan) {
		(void)queue_ids_each(d->failedfd, drain_failed_one, d);
		*cleaned = time(NULL);
	}
	drain_import_all(d);
	drain_import_refill(d);
	if (drain_work_begin(d, time(NULL)) == -1)
		drain_run(d, time(NULL));
}

/*
 * At start-up, in state/: files whose message is gone (a crash between
 * the two unlinks of drain_try_finish), and every "ID.tmp" (a crash inside
 * spool_write_state: no write is in progress now, and the old state,
 * if any, is still the valid one).
 */
static void
drain_orphan_one(void *arg, const char *name)
{
	const struct drain	*d = arg;
	char		 id[SPOOL_IDLEN + 8];
	const char	*dot;
	struct stat	 st;
	int		 tmp;

	if (drain_rate_file(d, name))
		return;		/* drain_rate.c's, not a message's */
	(void)strlcpy(id, name, sizeof(id));
	id[strcspn(id, ".")] = '\0';
	tmp = (dot = strchr(name, '.')) != NULL && strcmp(dot, ".tmp") == 0;
	if (!tmp && (fstatat(d->queuefd, id, &st, AT_SYMLINK_NOFOLLOW) !=
	    -1 || errno != ENOENT || fstatat(d->holdfd, id, &st,
	    AT_SYMLINK_NOFOLLOW) != -1 || errno != ENOENT))
		return;
	if (unlinkat(d->statefd, name, 0) == -1)
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
drain_failed_one(void *arg, const char *name)
{
	const struct drain	*d = arg;
	char		 id[SPOOL_IDLEN + 1], st[SPOOL_IDLEN + 8];
	struct stat	 sb;

	if (!spool_id_ok(name))
		return;		/* ID.state goes with its ID */
	if (fstatat(d->failedfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    time(NULL) - sb.st_ctime < d->conf->failed_keep)
		return;
	(void)strlcpy(id, name, sizeof(id));
	(void)snprintf(st, sizeof(st), "%s.state", id);
	if (unlinkat(d->failedfd, id, 0) == -1) {
		log_warn("failed/%s: unlink", id);
		return;
	}
	if (unlinkat(d->failedfd, st, 0) == -1 && errno != ENOENT)
		log_warn("failed/%s: unlink", st);
	log_info("%s: removed from failed/ after failed_keep", id);
}

/* Exactly one daemon per spool: the pid file, locked while we run. */
static int
drain_lock(struct drain *d, char *err, size_t errsz)
{
	char	 buf[32];
	ssize_t	 n;
	int	 fd;

	if ((fd = open("pid", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644)) == -1) {
		(void)snprintf(err, errsz, "%s/pid: %s", d->conf->spool,
		    strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		(void)snprintf(err, errsz, "another relayq drain (pid %s) is "
		    "running on %s", buf, d->conf->spool);
		(void)close(fd);
		return -1;
	}
	d->lockfd = fd;	/* stays open: the lock lives as long as we do */
	return drain_lock_pid(d, err, errsz);
}

/*
 * Our PID into the locked pid file: at start, and again after daemon()
 * has forked, so that `kill $(cat pid)' reaches the daemon and not the
 * parent that exited.  The lock belongs to the open file, which the child
 * shares, so it is held without a gap.
 */
static int
drain_lock_pid(const struct drain *d, char *err, size_t errsz)
{
	char	 buf[32];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(d->lockfd, 0) == -1 ||
	    pwrite(d->lockfd, buf, (size_t)n, 0) != n) {
		(void)snprintf(err, errsz, "%s/pid: %s", d->conf->spool,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Everything that can fail with a clear message before the loop runs. */
static int
drain_setup(struct drain *d, int foreground, char *err, size_t errsz)
{
	char	 path[PATH_MAX];
	int	 created;

	/* as root, before dropping it: the spool's parent is root's */
	if (drain_spool_make(d->conf, &created, err, errsz) == -1 ||
	    util_drop_root(err, errsz) == -1)
		return -1;
	if (!foreground && d->conf->log != NULL &&
	    strcmp(d->conf->log, "stderr") == 0) {
		(void)snprintf(err, errsz, "log stderr needs drain -f: a "
		    "daemon in the background has no stderr");
		return -1;
	}
	if (drain_conf_check(d->conf, err, errsz) == -1)
		return -1;
	/* before any secret is in memory */
	if (auth_nodump(err, errsz) == -1)
		return -1;
	if (drain_conf_passwords(d->conf, d->password, err, errsz) == -1 ||
	    tls_init(d->conf, err, errsz) == -1)
		return -1;
	/* reload reads the file again by name, from the spool (drain_conf.c) */
	if (d->conf->path[0] != '/' && realpath(d->conf->path, path) != NULL)
		(void)strlcpy(d->conf->path, path, sizeof(d->conf->path));
	if (chdir(d->conf->spool) == -1) {
		drain_spool_error(d->conf, err, errsz, d->conf->spool, errno);
		return -1;
	}
	if ((d->dropfd = drain_opendir(d, "drop", 01730, err, errsz)) == -1 ||
	    (d->queuefd = drain_opendir(d, "queue", 0700, err, errsz)) == -1 ||
	    (d->statefd = drain_opendir(d, "state", 0700, err, errsz)) == -1 ||
	    (d->failedfd = drain_opendir(d, "failed", 0700, err,
	    errsz)) == -1 ||
	    (d->holdfd = drain_opendir(d, "hold", 0700, err, errsz)) == -1 ||
	    (d->corruptfd = drain_opendir(d, "corrupt", 0700, err,
	    errsz)) == -1)
		return -1;
	if (drain_lock(d, err, errsz) == -1)
		return -1;
	if ((d->sess = drain_sess_new(d->password)) == NULL ||
	    (d->conns = drain_conn_new()) == NULL ||
	    drain_rate_new(d) == -1) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	if ((d->ctlfd = ctl_listen(err, errsz)) == -1)
		return -1;
	if (log_init("relayq", d->conf->log != NULL ? d->conf->log :
	    foreground ? "stderr" : "syslog") == -1)
		log_warn("log file %s; logging to syslog", d->conf->log);
	if (created)
		log_info("created the missing spool %s", d->conf->spool);
	return 0;
}

/*
 * The daemon's state, owned here and passed to every daemon function:
 * nothing open yet, an empty queue table.
 */
static void
drain_init(struct drain *d, struct conf *conf)
{
	memset(d, 0, sizeof(*d));
	d->conf = conf;
	d->stop = &drain_sigstop;
	d->dropfd = d->queuefd = d->statefd = d->failedfd = -1;
	d->holdfd = d->corruptfd = d->ctlfd = d->lockfd = -1;
	drain_q_init(&d->q, (size_t)conf->active_queue_limit);
}

/*
 * What the daemon holds when it stops, freed (LeakSanitizer builds look
 * for real leaks at exit); the descriptors go with the process.
 */
static void
drain_free(struct drain *d)
{
	drain_conf_free_passwords(d->password);
	free(d->sess);
	free(d->conns);
	drain_rate_free(d);
	free(d->work);
	free(d->pend);
	free(d->q.q);
	free(d->q.idx);
	if (d->scan != NULL)
		(void)closedir(d->scan);
}

static int	 drain_serve(struct drain *, int);

int
drain_main(struct conf *conf, int foreground)
{
	struct drain	 drain;
	int		 rc;

	drain_init(&drain, conf);
	rc = drain_serve(&drain, foreground);
	drain_free(&drain);
	return rc;
}

/* Start-up, then the loop until SIGTERM; an exit status. */
static int
drain_serve(struct drain *d, int foreground)
{
	struct conf		*conf = d->conf;
	struct sigaction	 sa;
	struct pollfd		 pfd[4 + DRAIN_WORK_MAX + DRAIN_CONN_MAX];
	char			 err[2048], evbuf[4096];
	time_t			 now, wake, cleaned = 0, keepscan, trimmed = 0;
	size_t			 i, nwork, nconn, nloaded;
	int			 ifd, n, timeout, cw, rw, ended = 0;

	if (drain_setup(d, foreground, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "relayq: %s\n", err);
		return EX_CONFIG;
	}
	if (!foreground && daemon(1, 0) == -1) {
		(void)fprintf(stderr, "relayq: daemon: %s\n", strerror(errno));
		return EX_OSERR;
	}
	if (!foreground && drain_lock_pid(d, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = drain_sig;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);	/* reload: drain_conf.c */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	/* the domain (conf_domain: /etc/mailname, the host name) for
	 * bounces and ORCPT, looked up before the sandbox and the workers */
	(void)conf_domain(conf);
	/* the sandbox forbids fork and exec, so the command's helper is
	 * forked here: after daemon(), so that it is our child, and
	 * before sandbox_apply(), so that it is not confined (authcmd.c) */
	if (conf->route[0].auth_user != NULL &&
	    conf->route[0].auth_password_command != NULL &&
	    authcmd_start(conf->route[0].auth_password_command, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return EX_OSERR;
	}
	/* the same for the delivery workers (max_sessions: drain_work.c) */
	if (drain_work_start(d, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		(void)fprintf(stderr, "relayq: %s\n", err);
		return EX_CONFIG;
	}

	/* inotify wakes us within milliseconds; the scan is the fallback */
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd == -1 || inotify_add_watch(ifd, "drop", IN_CLOSE_WRITE |
	    IN_MOVED_TO) == -1)
		log_warn("inotify; scanning every %d seconds", DRAIN_SCAN);
	d->stats.started = time(NULL);
	/* failed/ is looked at every minute, or sooner for a short keep */
	keepscan = conf->failed_keep < DRAIN_SCAN ? conf->failed_keep + 1 :
	    DRAIN_SCAN;
	(void)queue_ids_each(d->statefd, drain_orphan_one, d);
	drain_rate_load(d);
	nloaded = drain_import_load(d);
	log_info("started: relayq %s, spool %s, %zu message(s) queued%s",
	    RELAYQ_VERSION, conf->spool, nloaded, d->q.backlog ?
	    " (past active_queue_limit: taken in as others leave)" : "");
	sandbox_apply(conf);	/* from here on: src/sandbox.c */

	/*
	 * The one loop: between delivery runs it takes in new messages and
	 * sleeps until the next is due; during a run on the workers it
	 * waits for their answers (drain_work_step).  Control connections
	 * are served in either case, and a run under way is finished
	 * before SIGTERM stops the daemon.
	 */
	while (!*d->stop || drain_work_running(d)) {
		/* a run that just ended is followed by a sleep, as one
		   made on our own session is */
		if (!drain_work_running(d) && !ended)
			drain_between_runs(d, &cleaned, keepscan);
		ended = 0;
		drain_rate_save(d, 0);
		rw = drain_rate_wait(d);
		now = time(NULL);
		wake = now + DRAIN_SCAN;
		if (cleaned + keepscan < wake)
			wake = cleaned + keepscan;
		/* what is due waits while its route's rate holds it
		   back (rw) */
		for (i = 0; i < d->q.nq; i++)
			if (d->q.q[i].next < wake && !drain_try_held(d, i))
				wake = d->q.q[i].next;
		if (drain_sess_idle_until(d->sess) != 0 &&
		    drain_sess_idle_until(d->sess) < wake)
			wake = drain_sess_idle_until(d->sess);
		timeout = wake > now ? (int)(wake - now) * 1000 : 0;
		if (drain_work_running(d))
			timeout = -1;	/* until a worker answers */
		else if (rw != -1 && rw < timeout)
			timeout = rw;	/* in ms: a limit of N/s */
		/* going to sleep: hand back what start-up and the last run
		   touched (idle.c).  In a burst at most once a second; a trim
		   that has to wait is done on waking a second later.  Not
		   while a session is parked: it is there to be reused soon,
		   and `wake' already comes when its idle_timeout ends */
		if (timeout > 0 && drain_sess_idle_fd(d->sess) == -1) {
			if (now > trimmed) {
				idle_trim();
				trimmed = now;
			} else if (timeout > 1000)
				timeout = 1000;
		}
		pfd[0].fd = d->ctlfd;
		pfd[0].events = POLLIN;
		/* not during a run: what came meanwhile wakes us at its end
		   (the events are read out only when looked at) */
		pfd[1].fd = drain_work_running(d) ? -1 : ifd;
		pfd[1].events = POLLIN;
		/* only hang-up: the helper of auth_password_command died
		 * (-1 when there is none, which poll skips) */
		pfd[2].fd = authcmd_fd();
		pfd[2].events = 0;
		pfd[3].fd = drain_sess_idle_fd(d->sess);
		pfd[3].events = POLLIN;
		/* the busy workers during a run */
		nwork = drain_work_pollfds(d, pfd + 4);
		/* and the control connections, each with its deadline */
		nconn = drain_conn_pollfds(d, pfd + 4 + nwork);
		if ((cw = drain_conn_wake(d)) != -1 && (timeout == -1 ||
		    cw < timeout))
			timeout = cw;
		n = poll(pfd, 4 + nwork + nconn, timeout);
		if (n > 0 && pfd[2].revents != 0 && !*d->stop)
			authcmd_hangup();
		if (n > 0 && (pfd[1].revents & POLLIN))
			while (read(ifd, evbuf, sizeof(evbuf)) > 0)
				;	/* the events only say "look again" */
		if (drain_sighup && !*d->stop) {
			drain_sighup = 0;
			(void)drain_conf_reload(d, "SIGHUP", NULL, err,
			    sizeof(err));
		}
		drain_conn_serve(d);	/* ready ones and deadlines only */
		/* relayq reload or SIGHUP took a new file: the workers too */
		if (d->reloaded) {
			drain_work_reload(d);
			d->reloaded = 0;
		}
		drain_sess_idle_check(d->sess, n > 0 ? pfd[3].revents : 0);
		if (drain_work_running(d))
			ended = drain_work_step(d, n > 0 ? pfd + 4 : NULL) == 0;
	}
	drain_conn_end(d);
	drain_work_stop(d);
	drain_sess_end(d->sess, 1);
	drain_rate_save(d, 1);
	log_info("stopping");
	return EX_OK;
}
