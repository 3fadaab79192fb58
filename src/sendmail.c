/*
 * sendmail(8): the front end.  Parses the command line like Postfix,
 * prepares the message (msg.c) and commits it to the spool's drop
 * directory.  Never touches the network; exit 0 means the message is on
 * disk, fsynced, and the daemon will deliver or bounce it.  Recipients
 * go through the aliases (aliases.c); -bs (bs.c) hands each message of
 * an SMTP session to a child that takes this same path.
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
#include "crash.h"

static struct conf	 conf;
static gid_t		 sm_rgid, sm_egid;
static int		 sm_via_socket;	/* no drop/: submit.c */
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
 * RFC 2047 Q-encoding when the name is not ASCII; else as it is when it
 * is words of atext (RFC 5322 3.2.3), as Postfix writes "Cron Daemon",
 * quoted otherwise ("J. Doe", "Doe, J").
 */
static void
sm_display_name(char *buf, size_t sz, const char *name)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 n = 0;
	int			 ascii = 1, atoms;

	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p >= 0x80 || *p < 0x20)
			ascii = 0;
	atoms = name[0] != ' ' && name[strlen(name) - 1] != ' ' &&
	    strstr(name, "  ") == NULL &&
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789!#$%&'*+-/=?^_`{|}~ ") == strlen(name);
	if (ascii && atoms) {
		(void)strlcpy(buf, name, sz);
		return;
	}
	if (ascii) {
		buf[n++] = '"';
		for (p = (const unsigned char *)name; *p && n + 4 < sz; p++) {
			if (*p == '"' || *p == '\\')
				buf[n++] = '\\';
			buf[n++] = (char)*p;
		}
		buf[n++] = '"';
		buf[n] = '\0';
		return;
	}
	n = strlcpy(buf, "=?UTF-8?Q?", sz);
	for (p = (const unsigned char *)name; *p && n + 6 < sz; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9'))
			buf[n++] = (char)*p;
		else if (*p == ' ')
			buf[n++] = '_';
		else {
			buf[n++] = '=';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	(void)strlcpy(buf + n, "?=", sz - n);
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
 * is read.  `path' becomes empty: there is nothing to unlink.
 */
static int
sm_socket_fallback(char *path, size_t pathsz)
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
	sm_via_socket = 1;
	if (pathsz > 0)
		path[0] = '\0';
	return fd;
}

/*
 * Create the queue file under its final name.  Set-group-ID, the opener
 * (smdrop.c) does it: this process holds no group privilege at all.
 */
static int
sm_create(char *id, char *path, size_t pathsz)
{
	struct timespec	 ts;
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
	    (fd = sm_socket_fallback(path, pathsz)) != -1)
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

/* A failed submission leaves nothing the daemon would deliver. */
static void __attribute__((noreturn))
sm_fail(int fd, const char *path, int code, const char *what)
{
	int	 saved = errno;

	sm_discard(fd, path);
	errno = saved;
	if (code == -1) {
		/* disk full, quota, I/O error, file size limit: the caller
		 * may try again later (sysexits: any write error is 75) */
		code = EX_TEMPFAIL;
		sm_warn("%s", what);
	} else if (code == EX_IOERR) {
		sm_warn("%s", what);
	} else
		sm_warnx("%s", what);
	exit(code);
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

static int
sm_nonascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/* An address from the configuration, qualified; 0 when not set. */
static int
sm_conf_addr(const char *key, const char *v, const char *domain,
    const char *const *locals, char *out, size_t outsz)
{
	if (v == NULL)
		return 0;
	if (addr_qualify(v, domain, locals, out, outsz) == -1 ||
	    !addr_valid(out))
		sm_errx(EX_CONFIG, "%s: %s: bad address \"%.100s\"", conf.path,
		    key, v);
	return 1;
}

/*
 * -f "Alice Example <alice@example.org>": the address in the angle
 * brackets, as Postfix takes it.  `buf' holds the value and gets the
 * address; a value that is not one mailbox is refused.
 */
static void
sm_from_mailbox(char *buf, size_t sz, const char *value)
{
	struct addr_list	 l = { NULL, 0 };
	char			 why[128];

	if (addr_parse_list(buf, strlen(buf), &l, why, sizeof(why)) == -1 ||
	    l.n != 1 || strlcpy(buf, l.v[0], sz) >= sz)
		sm_errx(EX_USAGE, "-f: bad address \"%.100s\" (use "
		    "-f address or -f \"Name <address>\")", value);
	addr_list_free(&l);
}

/* orig stays parallel to final, so it must keep its duplicates */
static void
sm_push(struct addr_list *l, const char *a)
{
	char	**v;

	if ((v = reallocarray(l->v, l->n + 1, sizeof(*v))) == NULL ||
	    (v[l->n] = strdup(a)) == NULL)
		sm_err(EX_OSERR, "recipient list");
	l->v = v;
	l->n++;
}

/*
 * One recipient as the caller wrote it: qualified, expanded through the
 * aliases, admin_address for local names without one.  Each final
 * address keeps `a' as its original (the O record, orig_to= in logs).
 * A bad address: 0 with the reason in err; else 1.
 */
static int
sm_add_rcpt(struct addr_list *final, struct addr_list *orig, const char *a,
    const struct aliases *al, const struct aliases_ctx *cx, char *why,
    size_t whysz)
{
	struct addr_list	 x = { NULL, 0 };
	size_t			 i, n;

	/*
	 * "-i@example.org", "-fsender@example.net": an option written after
	 * the recipients ("sendmail bob@example.org -i"), which ended the
	 * options.  Postfix (allow_min_user = no) bounces such a recipient
	 * and delivers to the others; we skip it with a warning.
	 */
	if (a[0] == '-') {
		sm_warnx("recipient \"%.100s\": bad address syntax (an option "
		    "after the recipients? put options first); not sent to it",
		    a);
		log_warnx("uid %u: recipient \"%.100s\" skipped: bad address "
		    "syntax", (unsigned int)getuid(), a);
		return 1;
	}
	if (aliases_expand(al, a, cx, &x) == -1) {
		if (errno != EINVAL)
			sm_err(EX_OSERR, "recipient list");
		(void)snprintf(why, whysz, "bad recipient address \"%.100s\"",
		    a);
		addr_list_free(&x);
		return 0;
	}
	for (i = 0; i < x.n; i++) {
		if (!addr_valid(x.v[i])) {
			(void)snprintf(why, whysz, "bad recipient address "
			    "\"%.100s\"", x.v[i]);
			addr_list_free(&x);
			return 0;
		}
		n = final->n;
		if (addr_list_add(final, x.v[i]) == -1)
			sm_err(EX_OSERR, "recipient list");
		if (final->n > n)
			sm_push(orig, a);
	}
	addr_list_free(&x);
	return 1;
}

/*
 * Everything main allocated, freed before a successful return, so that a
 * LeakSanitizer build (make check SANITIZE=...) reports real leaks only.
 */
static void
sm_free(struct addr_list *argl, struct addr_list *final,
    struct addr_list *orig, struct msg_in *in, struct msg_out *out,
    struct aliases *al, struct bs_job *job)
{
	int	 i;

	/* -bs: the child owns the transaction bs_serve handed over */
	for (i = 0; i < job->nrcpt; i++)
		free(job->rcpt[i]);
	free(job->rcpt);
	free(job->sender);
	free(job->envid);
	free(job->helo);
	aliases_free(al);
	addr_list_free(argl);
	addr_list_free(final);
	addr_list_free(orig);
	free(in);
	free(out);
	conf_free(&conf);
}

int
main(int argc, char *argv[])
{
	struct smargs	 o;
	struct smargs_err ae;
	struct addr_list argl = { NULL, 0 }, final = { NULL, 0 },
			 orig = { NULL, 0 };
	struct msg_in	*in;
	struct msg_out	*out;
	struct msg	 m;
	struct aliases	 al;
	struct aliases_ctx cx;
	char		 force[ADDR_MAX + 1], dflt[ADDR_MAX + 1];
	char		 lsender[ADDR_MAX + 1], fbuf[ADDR_MAX + 3];
	int		 has_force, has_default, utf8, idfd = -1;
	struct bs_job	 job = { .idfd = -1 };
	struct passwd	*pw;
	const char	*const *locals, *cfg, *domain, *from_name;
	char		 id[SPOOL_IDLEN + 1], path[PATH_MAX], user[64];
	char		 sender[ADDR_MAX + 1], errbuf[512], date[64];
	char		 notify[32];
	char		 recv[1024], msgid[640], from[1200], dname[512], datef[80];
	char		*top[2] = { NULL, NULL }, *bottom[4];
	char		*env = NULL, trailer[32], *fullname, *gecos = NULL;
	size_t		 envlen = 0, i, n, nb = 0;
	unsigned long	 nmasq = 0;
	struct tm	 tm;
	FILE		*ef;
	time_t		 now;
	int		 fd, sfd, rc;

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
		return EX_OK;
	}
	if (smargs_parse(argc, argv, &o, &ae) == -1) {
		if (ae.usage)
			sm_usage(ae.msg);
		if (ae.msg[0] != '\0')
			sm_errx(ae.code, "%s", ae.msg);
		exit(ae.code);	/* -q30m: nothing to do */
	}
	/* -bh, -bH: Sendmail's host status, which a null client does not
	 * keep; like Postfix, exit 0 without reading or queueing anything */
	if (o.mode == 'h')
		return EX_OK;

	conf_init(&conf);
	cfg = CONF_PATH;
	if (o.config != NULL) {
		/* root may; anyone else would steer a setgid program */
		if (getuid() != 0)
			sm_errx(EX_NOPERM, "-C: only root may name another "
			    "configuration file");
		cfg = o.config;
	} else if (!sm_privileged && getenv("RELAYQ_CONFIG") != NULL)
		cfg = getenv("RELAYQ_CONFIG");
	if (conf_load(&conf, cfg, strcmp(cfg, CONF_PATH) != 0, !sm_privileged, errbuf,
	    sizeof(errbuf)) == -1)
		sm_errx(EX_CONFIG, "%s", errbuf);
	/*
	 * Set-group-ID: the opener (smdrop.c) keeps the group for the
	 * open(2) of each queue file; this process gives it up for good
	 * before it reads anything but its arguments and the root-owned
	 * configuration.  The listing and flush requests need no file.
	 */
	if (sm_privileged && o.mode != 'p' && o.qflag == 0 &&
	    smdrop_start(conf.spool, sm_rgid, sm_egid) == -1)
		sm_err(EX_OSERR, "starting the queue-file opener");
	if (sm_privileged && setresgid(sm_rgid, sm_rgid, sm_rgid) == -1)
		sm_err(EX_OSERR, "setresgid");
	/* the queue listing and the flush request: the daemon's socket;
	   the listing from the files when no daemon runs (queuelocal.c) */
	if (o.mode == 'p' && o.nrcpt == 0 && !queue_local_running(conf.spool))
		return queue_local_report(conf.spool);
	if (o.mode == 'p' || o.qflag != 0)
		return ctl_frontend(&conf, o.mode == 'p' ? 'p' : 'q',
		    o.qflag == 'I' ? o.qid : NULL, o.nrcpt);
	if (conf.log != NULL && strcmp(conf.log, "stderr") == 0)
		(void)log_init("sendmail", "syslog");
	else
		(void)log_init("sendmail", conf.log);
	/* admin_address: local recipients without an alias go there */
	if (aliases_ctx_init(&cx, &conf, errbuf, sizeof(errbuf)) == -1)
		sm_errx(EX_CONFIG, "%s: %s", conf.path, errbuf);
	cx.warn = sm_alias_warn;
	domain = cx.domain;
	locals = cx.locals;
	has_force = sm_conf_addr("force_sender", conf.force_sender, domain,
	    locals, force, sizeof(force));
	has_default = sm_conf_addr("default_sender", conf.default_sender,
	    domain, locals, dflt, sizeof(dflt));
	if (o.mode == 'i') {
		/* newaliases: check the file, report, exit 0 if readable */
		if (sm_load_aliases(&al, 1) == -1)
			return EX_CONFIG;
		(void)printf("%s: %zu aliases, %zu problems\n", al.path, al.n,
		    al.nproblems);
		sm_free(&argl, &final, &orig, NULL, NULL, &al, &job);
		return EX_OK;
	}
	(void)sm_load_aliases(&al, 0);

	/* identity from the real uid, never $LOGNAME or $USER (sudo) */
	if ((pw = getpwuid(getuid())) != NULL)
		(void)strlcpy(user, pw->pw_name, sizeof(user));
	else
		(void)snprintf(user, sizeof(user), "uid%u",
		    (unsigned int)getuid());
	if (!addr_valid(user))
		sm_errx(EX_NOUSER, "user name \"%s\" is not usable in an address",
		    user);

	if (o.mode == 's') {
		/* returns in a child per message, which queues it as -bm */
		bs_serve(&conf, conf.helo_name != NULL ? conf.helo_name :
		    util_hostname(), &job);
		o.sender = job.sender;
		o.rcpt = job.rcpt;
		o.nrcpt = job.nrcpt;
		o.body_decl = job.body;
		o.dsn_ret = job.ret;
		o.envid = job.envid;
		o.notify = job.notify;
		o.tflag = 0;
		o.iflag = 1;	/* the data is already unstuffed */
		idfd = job.idfd;
	}

	for (i = 0; i < (size_t)o.nrcpt; i++)
		if (addr_parse_list(o.rcpt[i], strlen(o.rcpt[i]), &argl,
		    errbuf, sizeof(errbuf)) == -1)
			sm_errx(EX_USAGE, "recipient \"%.100s\": %s", o.rcpt[i],
			    errbuf);
	if (!o.tflag && argl.n == 0)
		sm_errx(EX_USAGE, "no recipients given (use -t to take them "
		    "from the message)");

	/* envelope sender: -f, with <> or empty meaning the null sender */
	if (o.sender != NULL) {
		if (strlcpy(fbuf, o.sender, sizeof(fbuf)) >= sizeof(fbuf))
			sm_errx(EX_USAGE, "-f: address too long");
		if (fbuf[0] == '<' && fbuf[strlen(fbuf) - 1] == '>') {
			fbuf[strlen(fbuf) - 1] = '\0';
			memmove(fbuf, fbuf + 1, strlen(fbuf));
		} else if (strchr(fbuf, '<') != NULL)
			sm_from_mailbox(fbuf, sizeof(fbuf), o.sender);
		from_name = fbuf;
		if (fbuf[0] == '-')	/* an option taken as the value */
			sm_errx(EX_USAGE, "-f: bad address \"%.100s\"", o.sender);
		if (fbuf[0] == '\0')
			sender[0] = '\0';
		else if (addr_qualify(fbuf, domain, locals, sender,
		    sizeof(sender)) == -1 || !addr_valid(sender))
			sm_errx(EX_USAGE, "-f: bad address \"%.100s\"", o.sender);
	} else if (pw == NULL && has_default) {
		/* containers: an arbitrary uid without a passwd entry */
		from_name = conf.default_sender;
		(void)strlcpy(sender, dflt, sizeof(sender));
	} else {
		from_name = user;
		if (addr_qualify(user, domain, locals, sender,
		    sizeof(sender)) == -1)
			sm_errx(EX_DATAERR, "sender address too long");
	}
	/*
	 * A sender that was a local name ("root", "www-data@localhost")
	 * has no mailbox of its own at `domain' as a rule: its bounces go
	 * where mail to that name goes (aliases, admin_address), which the
	 * daemon works out when it bounces.  The L record keeps the name.
	 */
	lsender[0] = '\0';
	if (sender[0] != '\0' && addr_is_local(from_name, locals)) {
		(void)strlcpy(lsender, from_name, sizeof(lsender));
		if (addr_domain(from_name) != NULL)
			lsender[addr_domain(from_name) - from_name] = '\0';
		if (!addr_valid(lsender))	/* "@localhost" */
			lsender[0] = '\0';
	}
	if (pw == NULL)
		log_warnx("uid %u has no passwd entry: sender <%s>%s",
		    (unsigned int)getuid(), sender, has_default ? "" :
		    " (set default_sender to choose it)");
	/* force_sender: smarthosts that accept only one sender (SES, M365);
	 * the null sender of a bounce stays null, or bounces could loop */
	if (has_force && sender[0] != '\0')
		(void)strlcpy(sender, force, sizeof(sender));

	if (o.mode == 'v') {
		/* each argument with its own expansion, even where two end
		 * at the same address (root and postmaster) */
		for (i = 0; i < argl.n; i++) {
			if (!sm_add_rcpt(&final, &orig, argl.v[i], &al, &cx,
			    errbuf, sizeof(errbuf)))
				sm_errx(EX_DATAERR, "%s", errbuf);
			for (n = 0; n < final.n; n++)
				(void)printf("%s -> %s\n", orig.v[n],
				    final.v[n]);
			addr_list_free(&final);
			addr_list_free(&orig);
		}
		sm_free(&argl, &final, &orig, NULL, NULL, &al, &job);
		return EX_OK;
	}

	/* queue_minfree: refused before anything is written */
	if ((sfd = open(conf.spool, O_PATH | O_DIRECTORY | O_CLOEXEC)) != -1) {
		rc = spool_minfree(sfd, &conf, errbuf, sizeof(errbuf));
		(void)close(sfd);
		if (rc == -1)
			sm_errx(EX_TEMPFAIL, "message not queued: %s", errbuf);
	}
	fd = sm_create(id, path, sizeof(path));
	if ((in = malloc(sizeof(*in))) == NULL ||
	    (out = malloc(sizeof(*out))) == NULL)
		sm_fail(fd, path, EX_OSERR, "out of memory");
	memset(&m, 0, sizeof(m));
	msg_in_init(in, STDIN_FILENO, o.iflag);
	if ((rc = msg_read_header(&m, in)) != 0)
		sm_fail(fd, path, rc, rc == EX_DATAERR ?
		    "message header too large" : "reading the message");

	if (o.tflag && msg_hdr_recipients(&m, &argl, errbuf,
	    sizeof(errbuf)) == -1) {
		(void)strlcat(errbuf, " in the message header", sizeof(errbuf));
		sm_fail(fd, path, EX_DATAERR, errbuf);
	}
	for (i = 0; i < argl.n; i++)
		if (!sm_add_rcpt(&final, &orig, argl.v[i], &al, &cx, errbuf,
		    sizeof(errbuf)))
			sm_fail(fd, path, EX_DATAERR, errbuf);
	if (final.n == 0)
		sm_fail(fd, path, EX_USAGE, "no recipients");

	for (i = 0; i < m.nhdr; i++) {
		struct msg_hdr *h = &m.hdr[i];

		if (msg_hdr_name_is(h, "Bcc") ||
		    msg_hdr_name_is(h, "Resent-Bcc") ||
		    msg_hdr_name_is(h, "Return-Path") ||
		    msg_hdr_name_is(h, "Content-Length"))
			h->drop = 1;
		else if (msg_hdr_name_is(h, "Received") &&
		    ++nb + (conf.add_received ? 1 : 0) >= 50)
			/* Postfix's hopcount_limit: 50 Received fields,
			 * counting the one we add, are a loop */
			sm_fail(fd, path, EX_DATAERR, conf.add_received ?
			    "mail loop: with ours, 50 or more Received header "
			    "fields" : "mail loop: 50 or more Received header "
			    "fields");
	}

	/* masquerading: replies and bounces must reach a real mailbox */
	if (msg_hdr_masquerade(&m, domain, locals, &nmasq) != 0)
		sm_fail(fd, path, EX_OSERR, "out of memory");

	/* force_from: the From address is the sender's, name kept */
	if (conf.force_from && sender[0] != '\0' &&
	    msg_hdr_force_from(&m, sender) != 0)
		sm_fail(fd, path, EX_OSERR, "out of memory");

	/* the envelope: values were validated, none holds a line break */
	if ((ef = open_memstream(&env, &envlen)) == NULL)
		sm_fail(fd, path, -1, "open_memstream");
	now = time(NULL);
	(void)fprintf(ef, "RELAYQ 1\nI %s\nT %lld\nU %u %s\nS %s\n", id,
	    (long long)now, (unsigned int)getuid(), user, sender);
	if (lsender[0] != '\0')
		(void)fprintf(ef, "L %s\n", lsender);
	/* SMTPUTF8 (RFC 6531) is needed when an envelope address is not
	 * ASCII; the daemon must not send such a message without it */
	for (i = 0, utf8 = sm_nonascii(sender); i < final.n; i++)
		utf8 |= sm_nonascii(final.v[i]);
	if (o.body_decl != 0)
		(void)fprintf(ef, "B %s\n", o.body_decl == 8 ? "8BITMIME" :
		    "7BIT");
	if (o.dsn_ret != 0)
		(void)fprintf(ef, "D %s\n", o.dsn_ret == 1 ? "FULL" : "HDRS");
	if (o.envid != NULL)
		(void)fprintf(ef, "V %s\n", o.envid);
	if (o.notify != 0 && spool_notify_str(o.notify, notify,
	    sizeof(notify)) == -1)
		sm_fail(fd, path, EX_SOFTWARE, "-N: cannot record");
	if (utf8)
		(void)fprintf(ef, "F SMTPUTF8\n");
	else if (msg_hdr_utf8(&m))
		(void)fprintf(ef, "F UTF8HEADER\n");
	for (i = 0; i < final.n; i++) {
		(void)fprintf(ef, "R %s\n", final.v[i]);
		if (strcmp(final.v[i], orig.v[i]) != 0)
			(void)fprintf(ef, "O %s\n", orig.v[i]);
		if (o.notify != 0)
			(void)fprintf(ef, "N %s\n", notify);
	}
	(void)fputs("M\n", ef);
	if (fclose(ef) == EOF)
		sm_fail(fd, path, -1, "open_memstream");
	/*
	 * Refuse here what the daemon would refuse when it reads the file
	 * (too many recipients, an envelope or a record too long): once we
	 * exit 0 the caller forgets the message, and the daemon can only
	 * quarantine it.
	 */
	if (spool_check_envelope(env, envlen, errbuf, sizeof(errbuf)) == -1) {
		(void)snprintf(recv, sizeof(recv), "cannot queue the message: "
		    "%s (%zu recipients; the limits of a queue file are %d "
		    "recipients and %d bytes of envelope; send it in parts)",
		    errbuf, final.n, SPOOL_RCPTMAX, SPOOL_ENVMAX);
		sm_fail(fd, path, EX_DATAERR, recv);
	}

	/* added fields: trace on top, missing ones at the bottom */
	util_rfc5322_date(date, sizeof(date), now);
	if (conf.add_received && job.client != NULL) {
		/* a network client (the listener): its address, taken from
		 * the socket, and its greeting as checked by bs.c */
		(void)snprintf(recv, sizeof(recv), "Received: from %s (%s)"
		    "\r\n\tby %s (relayq) with %s id %s; %s", job.helo != NULL ?
		    job.helo : "unknown", job.client, conf.helo_name != NULL ?
		    conf.helo_name : util_hostname(), job.esmtp ? "ESMTP" :
		    "SMTP", id, date);
		top[0] = recv;
	} else if (conf.add_received) {
		(void)snprintf(recv, sizeof(recv), "Received: by %s (relayq, "
		    "from userid %u)\r\n\tid %s; %s", conf.helo_name != NULL ?
		    conf.helo_name : util_hostname(), (unsigned int)getuid(),
		    id, date);
		top[0] = recv;
	}
	nb = 0;
	if (msg_hdr_find(&m, "Date") == NULL) {
		(void)snprintf(datef, sizeof(datef), "Date: %s", date);
		bottom[nb++] = datef;
	}
	if (msg_hdr_find(&m, "Message-ID") == NULL) {
		(void)gmtime_r(&now, &tm);
		(void)snprintf(msgid, sizeof(msgid), "Message-ID: <%04d%02d%02d"
		    "%02d%02d%02d.%s@%s>", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, id, domain);
		bottom[nb++] = msgid;
	}
	if (msg_hdr_find(&m, "From") == NULL) {
		fullname = (char *)o.fullname;
		if (fullname == NULL && job.client == NULL)
			fullname = getenv("NAME");
		/* a network client's message is not from our user */
		if (fullname == NULL && pw != NULL && pw->pw_gecos != NULL &&
		    job.client == NULL) {
			fullname = gecos = strdup(pw->pw_gecos);
			if (fullname != NULL)
				fullname[strcspn(fullname, ",")] = '\0';
		}
		if (fullname != NULL && fullname[0] != '\0' &&
		    strpbrk(fullname, "\r\n") == NULL) {
			sm_display_name(dname, sizeof(dname), fullname);
			(void)snprintf(from, sizeof(from), "From: %s <%s%s>",
			    dname, sender[0] ? sender : "MAILER-DAEMON@",
			    sender[0] ? "" : domain);
		} else
			(void)snprintf(from, sizeof(from), "From: %s%s",
			    sender[0] ? sender : "MAILER-DAEMON@",
			    sender[0] ? "" : domain);
		bottom[nb++] = from;
	}
	bottom[nb] = NULL;

	/*
	 * Write envelope, header and body.  The file has no trailer yet, so
	 * the daemon ignores it whatever happens before the trailer is out.
	 */
	msg_out_init(out, fd, conf.max_message_size);
	if (util_writeall(fd, env, envlen) == -1)
		sm_fail(fd, path, -1, "writing the queue file");
	free(env);
	if ((rc = msg_write_header(&m, out, top, bottom, &in->folded)) == 0)
		rc = msg_write_body(&m, in, out);
	if (rc == EX_DATAERR)
		sm_fail(fd, path, EX_DATAERR, "message is larger than "
		    "max_message_size");
	if (rc != 0)
		sm_fail(fd, path, rc, rc == EX_IOERR && in->error != 0 ?
		    "reading the message" : "writing the queue file");
	(void)snprintf(trailer, sizeof(trailer), "E %lld %s\n",
	    out->written, o.body_decl == 8 || in->eightbit ? "8BITMIME" :
	    "7BIT");
	if (util_writeall(fd, trailer, strlen(trailer)) == -1)
		sm_fail(fd, path, -1, "writing the queue file");

	/*
	 * Commit point.  fsync makes data, trailer and inode durable.  The
	 * directory entry: when we own the spool (containers, one uid) the
	 * directory is fsynced too.  Setgid, the drop directory (1730)
	 * cannot be opened for reading, so it cannot be fsynced; there the
	 * entry is made durable by the same fsync, because ext4, XFS and
	 * btrfs commit a new inode's creation (its directory entry) in the
	 * journal transaction that fsync forces.  Only after this exit 0.
	 */
	CRASH_POINT("sendmail-before-fsync");
	if (sm_via_socket) {
		/* the daemon fsyncs its copy before it answers OK, and names
		   it: the id is the daemon's from here on (submit.c) */
		if ((rc = submit_send(conf.spool, fd, id, errbuf,
		    sizeof(errbuf))) != EX_OK) {
			sm_warnx("handing the message to the relayq daemon: %s",
			    errbuf);
			exit(rc);
		}
	} else if (fsync(fd) == -1)
		sm_fail(fd, path, -1, "fsync of the queue file");
	CRASH_POINT("sendmail-before-dirfsync");
	(void)snprintf(path, sizeof(path), "%s/drop", conf.spool);
	if (!sm_via_socket && util_fsync_dir(path) == -1 && errno != EACCES) {
		(void)snprintf(path, sizeof(path), "%s/drop/%s", conf.spool,
		    id);
		sm_fail(fd, path, -1, "fsync of the drop directory");
	}
	if (close(fd) == -1)
		sm_fail(fd, path, -1, "close of the queue file");

	/* -bs: the parent answers 250 only on this id and exit status 0 */
	if (idfd != -1 && (util_writeall(idfd, id, strlen(id)) == -1 ||
	    close(idfd) == -1))
		sm_err(EX_OSERR, "-bs: reporting the queue id");
	if (job.client != NULL)
		log_info("%s: uid=%u from=<%s> size=%lld nrcpt=%zu client=%s",
		    id, (unsigned int)getuid(), sender, out->data, final.n,
		    job.client);
	else
		log_info("%s: uid=%u from=<%s> size=%lld nrcpt=%zu", id,
		    (unsigned int)getuid(), sender, out->data, final.n);
	if (in->nuls > 0)
		log_warnx("%s: dropped %lu NUL bytes from the message", id,
		    in->nuls);
	if (in->barecr > 0)
		log_warnx("%s: replaced %lu bare CR characters", id,
		    in->barecr);
	if (in->folded > 0)
		log_warnx("%s: folded %lu lines longer than 998 octets", id,
		    in->folded);
	if (!sm_via_socket && !queue_local_running(conf.spool))
		queue_local_warn_idle(conf.spool, id);
	if (o.verbose) {
		(void)fprintf(stderr, "sendmail: queued as %s, from=<%s>\n",
		    id, sender);
		for (i = 0; i < final.n; i++)
			(void)fprintf(stderr, "sendmail: to=<%s>, "
			    "orig_to=<%s>\n", final.v[i], orig.v[i]);
	}
	free(gecos);
	msg_free(&m);
	sm_free(&argl, &final, &orig, in, out, &al, &job);
	return EX_OK;
}
