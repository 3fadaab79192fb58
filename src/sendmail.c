/*
 * sendmail(8): the front end.  Parses the command line like Postfix,
 * creates the queue file in the spool's drop directory and has the
 * message prepared and committed there by the stages of submission.c,
 * which main() lists in order.  Never touches the network; exit 0 means
 * the message is on disk, fsynced, and the daemon will deliver or bounce
 * it.  Recipients go through the aliases (aliases.c); -bs (bs.c) hands
 * each message of an SMTP session to a child that takes this same path.
 *
 * Privilege: installed setgid relayq only to create a file in the drop
 * directory (mode 1730).  The effective gid is the real one from the
 * start; once the configuration is read, a helper that keeps the group
 * for the open(2) alone is forked (smdrop.c) and this process gives every
 * group privilege up for good, before it reads the message or an SMTP
 * session.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "smargs.h"
#include "submission.h"

static struct conf	 conf;
static gid_t		 sm_rgid, sm_egid;
static int		 sm_privileged;

/*
 * Errors go to the caller's stderr as "sendmail: what: why" and to the
 * log: a cron job's failed submission leaves a trace even when
 * nobody reads cron's own mail.
 */
static void
sm_vreport(int errnum, const char *fmt, va_list ap)
{
	char	 msg[1024];

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errnum != 0)
		(void)fprintf(stderr, "sendmail: %s: %s\n", msg,
		    strerror(errnum));
	else
		(void)fprintf(stderr, "sendmail: %s\n", msg);
	errno = errnum;
	if (errnum != 0)
		log_warn("%s", msg);
	else
		log_warnx("%s", msg);
}

static void __attribute__((format(printf, 1, 2)))
sm_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	sm_vreport(0, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 1, 2)))
sm_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	sm_vreport(saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

static void __attribute__((noreturn, format(printf, 2, 3)))
sm_errx(int code, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	sm_vreport(0, fmt, ap);
	va_end(ap);
	exit(code);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
sm_err(int code, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	sm_vreport(saved, fmt, ap);
	va_end(ap);
	exit(code);
}

static void __attribute__((noreturn))
sm_usage(const char *why)
{
	if (why != NULL)
		sm_warnx("%s", why);
	(void)fprintf(stderr, "usage: sendmail [-itv] [-B type] [-b m|s|v|i|p] "
	    "[-C file] [-F name] [-f sender] [-N dsn] [-R ret] [-V envid] "
	    "[-q] [--] [recipient ...]\n");
	exit(EX_USAGE);
}

/* fds 0-2 must be open before we open anything, or a queue file could
 * become someone's stdout. */
static void
sm_sanitise_fds(void)
{
	int	 fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		(void)close(fd);
	else if (fd == -1)
		exit(EX_OSERR);
}

/*
 * Leave nothing the daemon would deliver.  Without the group we may not
 * unlink in the drop directory; an empty file has no trailer, and the
 * daemon removes it.
 */
static void
sm_discard(int fd, const char *path)
{
	if ((path[0] == '\0' || unlink(path) == -1) &&
	    ftruncate(fd, 0) == -1)
		sm_warn("truncating %s", path);
}

/*
 * The queue file in an anonymous memory file, for submission over the
 * control socket; only when the daemon's socket accepts a connection
 * now, so that a caller without any way in hears it before its message
 * is read.  s->path becomes empty: there is nothing to unlink.
 */
static int
sm_socket_fallback(struct submission *s)
{
	int	 fd, saved = errno;

	if ((fd = ctl_connect(conf.spool)) == -1) {
		sm_warnx("cannot create a queue file in %s/drop (%s), and the "
		    "relayq daemon's socket %s/%s does not answer (%s): "
		    "start relayq drain, or make sendmail setgid relayq "
		    "where the caller can use it", conf.spool,
		    strerror(saved), conf.spool, CTL_SOCKET, strerror(errno));
		exit(EX_UNAVAILABLE);
	}
	(void)close(fd);
	if ((fd = memfd_create("relayq-submit", MFD_CLOEXEC)) == -1)
		sm_err(EX_OSERR, "memfd_create");
	s->via_socket = 1;
	s->path[0] = '\0';
	return fd;
}

/*
 * Create the queue file under its final name.  Set-group-ID, the opener
 * (smdrop.c) does it: this process holds no group privilege at all.
 */
static int
sm_create(struct submission *s)
{
	struct timespec	 ts;
	char		*id = s->id, *path = s->path;
	size_t		 pathsz = sizeof(s->path);
	int		 fd = -1, tries, saved;

	if (sm_privileged) {
		fd = smdrop_open(id);
		if ((size_t)snprintf(path, pathsz, "%s/drop/%s", conf.spool,
		    fd != -1 ? id : "(new file)") >= pathsz)
			sm_errx(EX_CONFIG, "spool path too long: %s", conf.spool);
	} else for (tries = 0; tries < 100; tries++) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += tries * 1000;	/* next microsecond on clash */
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		spool_make_id(id, &ts, getpid());
		if ((size_t)snprintf(path, pathsz, "%s/drop/%s", conf.spool,
		    id) >= pathsz)
			sm_errx(EX_CONFIG, "spool path too long: %s", conf.spool);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0640);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	/*
	 * Permission denied without privilege: the set-group-ID bit had no
	 * effect (NoNewPrivileges=, a nosuid mount).  Prepare the file in
	 * memory and hand it to the daemon (submit.c), if it answers.
	 */
	if (fd == -1 && errno == EACCES && !sm_privileged &&
	    (fd = sm_socket_fallback(s)) != -1)
		return fd;
	if (fd == -1) {
		saved = errno;
		sm_warn("cannot create queue file %s", path);
		/* a container whose daemon has not made the spool yet, or a
		   spool that is not set up: say which */
		if (saved == ENOENT)
			(void)fprintf(stderr, "sendmail: %s/drop does not exist:"
			    " the relayq daemon creates it when it first starts"
			    " (start relayq drain before the first message), "
			    "and make install does (relayq check tells)\n",
			    conf.spool);
		else if (saved == EACCES)
			(void)fprintf(stderr, "sendmail: check that %s/drop "
			    "has mode 1730, owner relayq, group relayq, and "
			    "that sendmail is setgid relayq (relayq check "
			    "tells)\n", conf.spool);
		errno = saved;
		exit(errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL :
		    EX_CANTCREAT);
	}
	/*
	 * The caller's umask (077 in many services) must not hide the file
	 * from the daemon: it reads it through group relayq.  Set the mode
	 * on the descriptor, whatever the umask made of it.
	 */
	if (fchmod(fd, 0640) == -1) {
		sm_warn("fchmod %s", path);
		sm_discard(fd, path);
		exit(EX_CANTCREAT);
	}
	/* held until exit: the daemon never reaps a file being written */
	if (flock(fd, LOCK_EX) == -1)
		sm_err(EX_OSERR, "flock %s", path);
	return fd;
}

/* Warnings while expanding aliases: the caller and the log see them. */
static void __attribute__((format(printf, 2, 3)))
sm_alias_warn(void *arg, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	(void)arg;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sm_warnx("%s", msg);
	log_warnx("%s", msg);
}

/* -bi (newaliases): each problem on stderr, naming file and line. */
static void
sm_alias_report(const char *path, size_t line, const char *msg)
{
	sm_warnx("%s:%zu: %s", path, line, msg);
}

/*
 * The alias file: `aliases' from the configuration, else /etc/aliases
 * when it exists.  A configured file that cannot be read is reported
 * but does not stop a submission (cron does not retry: admin_address
 * still applies); -bi exits 78 on it.  0, or -1 when unreadable.
 */
static int
sm_load_aliases(struct aliases *al, int check)
{
	if (aliases_load_conf(al, &conf, check ? sm_alias_report : NULL,
	    check) == -1) {
		sm_warn("alias file %s", al->path);
		log_warnx("alias file %s: %s", al->path, strerror(errno));
		return -1;
	}
	return 0;
}


/*
 * A stage failed: leave nothing the daemon would deliver, say what
 * failed (with errno when the stage gave one) and exit with its code.
 */
static void
sm_check(struct submission *s, int rc)
{
	if (rc == EX_OK)
		return;
	if (s->fd != -1 || s->path[0] != '\0')
		sm_discard(s->fd, s->path);
	errno = s->errnum;
	if (s->errnum != 0)
		sm_warn("%s", s->err);
	else
		sm_warnx("%s", s->err);
	exit(rc);
}

static void __attribute__((noreturn))
sm_fail(struct submission *s, int code, const char *what)
{
	(void)strlcpy(s->err, what, sizeof(s->err));
	s->errnum = 0;
	sm_check(s, code);
	exit(code);
}

/* Set-up: descriptors, privilege down, the command line. */
static void
sm_setup(int argc, char *argv[], struct smargs *o)
{
	struct smargs_err ae;

	sm_sanitise_fds();
	(void)signal(SIGPIPE, SIG_IGN);
	sm_rgid = getgid();
	sm_egid = getegid();
	sm_privileged = sm_rgid != sm_egid || getuid() != geteuid();
	/* run without the group until the one open(2) that needs it */
	if (sm_privileged && setegid(sm_rgid) == -1)
		sm_err(EX_OSERR, "setegid");

	/* not a sendmail option: for the administrator trying the name */
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		(void)printf("usage: sendmail [-itv] [-B type] [-b m|s|v|i|p] "
		    "[-C file] [-F name] [-f sender] [-N dsn] [-R ret] "
		    "[-V envid] [-q] [--] [recipient ...]\n"
		    "Queues the message on standard input for relayq's daemon "
		    "to deliver;\n-t takes the recipients from To, Cc and "
		    "Bcc; mailq (-bp) lists the queue.\nMore in sendmail(8) "
		    "and relayq(8).\n");
		exit(EX_OK);
	}
	if (smargs_parse(argc, argv, o, &ae) == -1) {
		if (ae.usage)
			sm_usage(ae.msg);
		if (ae.msg[0] != '\0')
			sm_errx(ae.code, "%s", ae.msg);
		exit(ae.code);	/* -q30m: nothing to do */
	}
	/* -bh, -bH: Sendmail's host status, which a null client does not
	 * keep; like Postfix, exit 0 without reading or queueing anything */
	if (o->mode == 'h')
		exit(EX_OK);
}

/*
 * Set-up: the configuration, the group given up for good, the requests
 * that are not a submission (the queue listing, the flush), the log.
 */
static void
sm_config(const struct smargs *o)
{
	const char	*cfg = CONF_PATH;
	char		 errbuf[512];

	conf_init(&conf);
	if (o->config != NULL) {
		/* root may; anyone else would steer a setgid program */
		if (getuid() != 0)
			sm_errx(EX_NOPERM, "-C: only root may name another "
			    "configuration file");
		cfg = o->config;
	} else if (!sm_privileged && getenv("RELAYQ_CONFIG") != NULL)
		cfg = getenv("RELAYQ_CONFIG");
	if (conf_load(&conf, cfg, strcmp(cfg, CONF_PATH) != 0, !sm_privileged,
	    errbuf, sizeof(errbuf)) == -1)
		sm_errx(EX_CONFIG, "%s", errbuf);
	/*
	 * Set-group-ID: the opener (smdrop.c) keeps the group for the
	 * open(2) of each queue file; this process gives it up for good
	 * before it reads anything but its arguments and the root-owned
	 * configuration.  The listing and flush requests need no file.
	 */
	if (sm_privileged && o->mode != 'p' && o->qflag == 0 &&
	    smdrop_start(conf.spool, sm_rgid, sm_egid) == -1)
		sm_err(EX_OSERR, "starting the queue-file opener");
	if (sm_privileged && setresgid(sm_rgid, sm_rgid, sm_rgid) == -1)
		sm_err(EX_OSERR, "setresgid");
	/* the queue listing and the flush request: the daemon's socket;
	   the listing from the files when no daemon runs (queue_local.c) */
	if (o->mode == 'p' && o->nrcpt == 0 && !queue_local_running(conf.spool))
		exit(queue_local_report(&conf));
	if (o->mode == 'p' || o->qflag != 0)
		exit(ctl_frontend(&conf, o->mode == 'p' ? 'p' : 'q',
		    o->qflag == 'I' ? o->qid : NULL, o->nrcpt));
	if (conf.log != NULL && strcmp(conf.log, "stderr") == 0)
		(void)log_join("sendmail", "syslog");
	else
		(void)log_join("sendmail", conf.log);
}

/*
 * Set-up: the submission, the aliases (-bi checks them and exits), the
 * caller's identity from the real uid, never $LOGNAME or $USER (sudo).
 * Returns the caller's passwd entry, NULL when there is none.
 */
static struct passwd *
sm_start(struct submission *s, const struct smargs *o)
{
	struct passwd	*pw;
	int		 rc;

	rc = submission_init(s, &conf);
	sm_check(s, rc);
	s->cx.warn = sm_alias_warn;
	if (o->mode == 'i') {
		/* newaliases: check the file, report, exit 0 if readable */
		if (sm_load_aliases(&s->al, 1) == -1)
			exit(EX_CONFIG);
		(void)printf("%s: %zu aliases, %zu problems\n", s->al.path,
		    s->al.n, s->al.nproblems);
		submission_free(s);
		conf_free(&conf);
		exit(EX_OK);
	}
	(void)sm_load_aliases(&s->al, 0);
	sm_check(s, submission_canonical(s));
	if ((pw = getpwuid(s->uid)) != NULL)
		(void)strlcpy(s->user, pw->pw_name, sizeof(s->user));
	else
		(void)snprintf(s->user, sizeof(s->user), "uid%u",
		    (unsigned int)s->uid);
	if (!addr_valid(s->user))
		sm_errx(EX_NOUSER, "user name \"%s\" is not usable in an "
		    "address", s->user);
	return pw;
}

/* -bs: returns in a child per message, which queues it as -bm. */
static void
sm_session(struct submission *s, struct smargs *o, struct bs_job *job)
{
	bs_serve(&conf, conf.route[0].helo_name != NULL ?
	    conf.route[0].helo_name : util_hostname(), job);
	o->sender = job->sender;
	o->rcpt = job->rcpt;
	o->nrcpt = job->nrcpt;
	o->body_decl = job->body;
	o->dsn_ret = job->ret;
	o->envid = job->envid;
	o->notify = job->notify;
	/* a network client (the listener): its address, from the socket */
	s->client = job->client;
	s->client_helo = job->helo;
	s->client_esmtp = job->esmtp;
	s->client_tls = job->tls;
	s->client_auth = job->auth_user;
	o->tflag = 0;
	o->iflag = 1;	/* the data is already unstuffed */
}

/* One recipient argument, an address list, added to `l'. */
static void
sm_argument(const char *arg, struct addr_list *l)
{
	char	 errbuf[512];

	if (addr_parse_list(arg, strlen(arg), l, errbuf, sizeof(errbuf)) == -1)
		sm_errx(EX_USAGE, "recipient \"%.100s\": %s", arg, errbuf);
}

/* The recipients on the command line, each an address list. */
static void
sm_arguments(const struct smargs *o, struct addr_list *argl)
{
	int	 i;

	for (i = 0; i < o->nrcpt; i++)
		sm_argument(o->rcpt[i], argl);
	if (!o->tflag && argl->n == 0)
		sm_errx(EX_USAGE, "no recipients given (use -t to take them "
		    "from the message)");
}

/*
 * -f "Alice Example <alice@example.org>": the address in the angle
 * brackets, as Postfix takes it.  `buf' holds the value and gets the
 * address; a value that is not one mailbox is refused.
 */
static void
sm_from_mailbox(char *buf, size_t sz, const char *value)
{
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			 why[128];

	if (addr_parse_list(buf, strlen(buf), &l, why, sizeof(why)) == -1 ||
	    l.n != 1 || strlcpy(buf, l.v[0], sz) >= sz)
		sm_errx(EX_USAGE, "-f: bad address \"%.100s\" (use "
		    "-f address or -f \"Name <address>\")", value);
	addr_list_free(&l);
}

/*
 * The envelope sender: -f, with <> or empty meaning the null sender;
 * default_sender for a uid without a passwd entry (containers); else
 * the caller's user name.
 */
static void
sm_sender(struct submission *s, const struct smargs *o,
    const struct passwd *pw)
{
	char	 fbuf[ADDR_MAX + 3];
	size_t	 n;

	if (o->sender != NULL) {
		if ((n = strlcpy(fbuf, o->sender, sizeof(fbuf))) >=
		    sizeof(fbuf))
			sm_errx(EX_USAGE, "-f: address too long");
		if (fbuf[0] == '<' && fbuf[n - 1] == '>') {
			fbuf[n - 1] = '\0';
			memmove(fbuf, fbuf + 1, n - 1);
		} else if (strchr(fbuf, '<') != NULL)
			sm_from_mailbox(fbuf, sizeof(fbuf), o->sender);
		/* an option taken as the value, or not an address */
		if (fbuf[0] == '-' || submission_sender(s, fbuf) == -1)
			sm_errx(EX_USAGE, "-f: bad address \"%.100s\"",
			    o->sender);
	} else if (pw == NULL && conf.default_sender != NULL)
		/* valid: submission_init checked it */
		(void)submission_sender(s, conf.default_sender);
	else if (submission_sender(s, s->user) == -1)
		sm_errx(EX_DATAERR, "sender address too long");
	if (pw == NULL)
		log_warnx("uid %u has no passwd entry: sender <%s>%s",
		    (unsigned int)s->uid, s->sender, conf.default_sender !=
		    NULL ? "" : " (set default_sender to choose it)");
}

/*
 * One recipient as the caller wrote it.  "-i@example.org",
 * "-fsender@example.net": an option written after the recipients
 * ("sendmail bob@example.org -i"), which ended the options.  Postfix
 * (allow_min_user = no) bounces such a recipient and delivers to the
 * others; we skip it with a warning.
 */
static int
sm_rcpt(struct submission *s, const char *a)
{
	if (a[0] != '-')
		return submission_rcpt(s, a);
	sm_warnx("recipient \"%.100s\": bad address syntax (an option after "
	    "the recipients? put options first); not sent to it", a);
	log_warnx("uid %u: recipient \"%.100s\" skipped: bad address syntax",
	    (unsigned int)s->uid, a);
	return EX_OK;
}

/*
 * Everything main allocated, freed before a successful return, so that a
 * LeakSanitizer build (make check SANITIZE=...) reports real leaks only.
 */
static void
sm_free(struct submission *s, struct addr_list *argl, struct bs_job *job)
{
	int	 i;

	/* -bs: the child owns the transaction bs_serve handed over */
	for (i = 0; i < job->nrcpt; i++)
		free(job->rcpt[i]);
	free(job->rcpt);
	free(job->sender);
	free(job->envid);
	free(job->helo);
	free(job->auth_user);
	submission_free(s);
	addr_list_free(argl);
	conf_free(&conf);
}

/* -bv: each argument with its own expansion, even where two end at
 * the same address (root and postmaster) or an argument repeats one
 * (root root: argl has it once), as Postfix reports each; nothing is
 * queued. */
static void __attribute__((noreturn))
sm_verify(struct submission *s, const struct smargs *o,
    struct addr_list *argl, struct bs_job *job)
{
	struct addr_list	 one = ADDR_LIST_EMPTY;
	size_t			 i, n;
	int			 arg;

	for (arg = 0; arg < o->nrcpt; arg++) {
		sm_argument(o->rcpt[arg], &one);
		for (i = 0; i < one.n; i++) {
			sm_check(s, sm_rcpt(s, one.v[i]));
			for (n = 0; n < s->rcpt.n; n++)
				(void)printf("%s -> %s\n", s->orig.v[n],
				    s->rcpt.v[n]);
			addr_list_free(&s->rcpt);
			addr_list_free(&s->orig);
		}
		addr_list_free(&one);
	}
	sm_free(s, argl, job);
	exit(EX_OK);
}

/* The queue file, once queue_minfree allows: refused before anything
 * is written. */
static void
sm_open(struct submission *s)
{
	char	 errbuf[512];
	int	 sfd, rc;

	if ((sfd = open(conf.spool, O_PATH | O_DIRECTORY | O_CLOEXEC)) != -1) {
		rc = spool_minfree(sfd, &conf, errbuf, sizeof(errbuf));
		(void)close(sfd);
		if (rc == -1)
			sm_errx(EX_TEMPFAIL, "message not queued: %s", errbuf);
	}
	s->fd = sm_create(s);
}

/* Recipients: the arguments, or with -t the header's, expanded. */
static void
sm_recipients(struct submission *s, const struct smargs *o,
    struct addr_list *argl)
{
	char	 errbuf[512];
	size_t	 i;

	if (o->tflag && msg_hdr_recipients(&s->m, argl, errbuf,
	    sizeof(errbuf)) == -1) {
		(void)strlcat(errbuf, " in the message header", sizeof(errbuf));
		sm_fail(s, EX_DATAERR, errbuf);
	}
	for (i = 0; i < argl->n; i++)
		sm_check(s, sm_rcpt(s, argl->v[i]));
	if (s->rcpt.n == 0)
		sm_fail(s, EX_USAGE, "no recipients");
}

/*
 * The envelope's DSN and body options, and the name of an added From:
 * -F, else $NAME, else the passwd entry's full name (GECOS up to the
 * first comma); `gecos' gets what the caller frees.
 */
static void
sm_options(struct submission *s, const struct smargs *o,
    const struct passwd *pw, char **gecos)
{
	s->body_decl = o->body_decl;
	s->dsn_ret = o->dsn_ret;
	s->envid = o->envid;
	s->notify = o->notify;
	s->fullname = o->fullname;
	/* a network client's message is not from our user */
	if (s->client != NULL)
		return;
	if (s->fullname == NULL)
		s->fullname = getenv("NAME");
	if (s->fullname == NULL && pw != NULL && pw->pw_gecos != NULL &&
	    (*gecos = strdup(pw->pw_gecos)) != NULL) {
		(*gecos)[strcspn(*gecos, ",")] = '\0';
		s->fullname = *gecos;
	}
}

/* Report: the queue id to -bs, the log line, -v's listing. */
static void
sm_report(const struct submission *s, const struct smargs *o, int idfd)
{
	size_t	 i;

	/* -bs: the parent answers 250 only on this id and exit status 0 */
	if (idfd != -1 && (util_writeall(idfd, s->id, strlen(s->id)) == -1 ||
	    close(idfd) == -1))
		sm_err(EX_OSERR, "-bs: reporting the queue id");
	if (s->client != NULL)
		log_info("%s: uid=%u from=<%s> size=%lld nrcpt=%zu client=%s%s%s",
		    s->id, (unsigned int)s->uid, s->sender, s->out->data,
		    s->rcpt.n, s->client, s->client_auth != NULL ? " auth=" :
		    "", s->client_auth != NULL ? s->client_auth : "");
	else
		log_info("%s: uid=%u from=<%s> size=%lld nrcpt=%zu", s->id,
		    (unsigned int)s->uid, s->sender, s->out->data, s->rcpt.n);
	if (s->in->nuls > 0)
		log_warnx("%s: dropped %lu NUL bytes from the message", s->id,
		    s->in->nuls);
	if (s->in->barecr > 0)
		log_warnx("%s: replaced %lu bare CR characters", s->id,
		    s->in->barecr);
	if (s->in->folded > 0)
		log_warnx("%s: folded %lu lines longer than 998 octets", s->id,
		    s->in->folded);
	if (!s->via_socket && !queue_local_running(conf.spool))
		queue_local_warn_idle(conf.spool, s->id);
	if (o->verbose) {
		(void)fprintf(stderr, "sendmail: queued as %s, from=<%s>\n",
		    s->id, s->sender);
		for (i = 0; i < s->rcpt.n; i++)
			(void)fprintf(stderr, "sendmail: to=<%s>, "
			    "orig_to=<%s>\n", s->rcpt.v[i], s->orig.v[i]);
	}
}

int
main(int argc, char *argv[])
{
	struct smargs		 o;
	struct submission	 s;
	struct bs_job		 job = { .idfd = -1 };
	struct addr_list	 argl = ADDR_LIST_EMPTY;
	struct passwd		*pw;
	char			*gecos = NULL;

	/* set-up: the command line, the configuration, the privileges */
	sm_setup(argc, argv, &o);
	sm_config(&o);
	pw = sm_start(&s, &o);
	if (o.mode == 's')
		sm_session(&s, &o, &job);
	sm_arguments(&o, &argl);

	/* sender, and for -bv the recipients alone */
	sm_sender(&s, &o, pw);
	if (o.mode == 'v')
		sm_verify(&s, &o, &argl, &job);

	/* recipients, once the header is read (-t) */
	sm_open(&s);
	sm_check(&s, submission_read_header(&s, STDIN_FILENO, o.iflag));
	sm_recipients(&s, &o, &argl);

	/* header rewrite */
	sm_check(&s, submission_rewrite(&s));

	/* commit: after this the message is the daemon's */
	sm_options(&s, &o, pw, &gecos);
	sm_check(&s, submission_write(&s));
	sm_check(&s, submission_commit(&s));

	/* report */
	sm_report(&s, &o, job.idfd);
	free(gecos);
	sm_free(&s, &argl, &job);
	return EX_OK;
}
