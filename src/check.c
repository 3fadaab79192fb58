/*
 * relayq check: everything the daemon and the front end need, checked
 * before they need it, each problem on one line saying which file, what
 * is wrong and what to do.  Exit 0 when nothing is wrong, else 78.
 *
 * The configuration itself was loaded by main() (a bad key already
 * exited 78 with file:line).  Ownership is judged against the user the
 * daemon runs as: "relayq" when started as root, else whoever runs this
 * (containers and tests run everything as one uid).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "rate.h"
#include "client.h"

/* "route NAME: " while a route's settings are checked, else "" */
static char		 check_prefix[ROUTE_NAMEMAX + 16];
static unsigned int	 check_nproblems;

static void
check_problem(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static void
check_problem(const char *fmt, ...)
{
	va_list	 ap;

	check_nproblems++;
	(void)printf("relayq check: %s", check_prefix);
	va_start(ap, fmt);
	(void)vprintf(fmt, ap);
	va_end(ap);
	(void)fputc('\n', stdout);
}

/* "user:group" for the fix commands: the user's own group, by name */
static void
check_who(uid_t uid, char *buf, size_t bufsz)
{
	struct passwd	*pw = getpwuid(uid);

	util_owner(uid, pw != NULL ? pw->pw_gid : uid, buf, bufsz);
}

/* The secret: what drain_read_password will insist on at start-up. */
static void
check_password(const char *path, uid_t duid)
{
	struct stat	 st;
	char		 who[140];

	if (lstat(path, &st) == -1) {
		check_problem("auth_password_file %s: %s", path,
		    strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		check_problem("auth_password_file %s: not a regular file "
		    "(a symbolic link is refused)", path);
		return;
	}
	if (st.st_uid != duid || (st.st_mode & 077) != 0) {
		check_who(duid, who, sizeof(who));
		check_problem("auth_password_file %s: must be owned by %.*s "
		    "and not readable by others (chown %s %s; chmod 600 %s)",
		    path, (int)strcspn(who, ":"), who, who, path, path);
	}
	else if (st.st_size == 0)
		check_problem("auth_password_file %s: empty", path);
}

/* whether user `uid' (with its own group) has `perm' (2: w, 3: wx) */
static int
check_can(const struct stat *st, uid_t uid, unsigned int perm)
{
	struct passwd	*pw = getpwuid(uid);

	if (st->st_uid == uid)
		return ((st->st_mode >> 6) & perm) == perm;
	if (pw != NULL && st->st_gid == pw->pw_gid)
		return ((st->st_mode >> 3) & perm) == perm;
	return (st->st_mode & perm) == perm;
}

/*
 * The `log' file: the daemon (duid) appends to it, and when it cannot it
 * logs to syslog instead, where nobody looks for relayq's lines.  It
 * must exist writable by the daemon, or be creatable in its directory.
 * The daemon's user cannot create files in /var/log: the fix is a
 * directory of its own (and, under systemd, ReadWritePaths for it).
 */
static void
check_log(const char *path, uid_t duid)
{
	struct stat	 st;
	char		 dir[1024], who[140];
	char		*slash;

	check_who(duid, who, sizeof(who));
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			check_problem("log %s: not a regular file", path);
		else if (duid != 0 && !check_can(&st, duid, 2))
			check_problem("log %s: the daemon's user %.*s cannot "
			    "write it, and would log to syslog instead (chown "
			    "%s %s; chmod 640 %s)", path,
			    (int)strcspn(who, ":"), who, who, path, path);
		return;
	}
	(void)snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else
		*(slash == dir ? slash + 1 : slash) = '\0';
	if (duid != 0 && (stat(dir, &st) == -1 || !check_can(&st, duid, 3)))
		check_problem("log %s does not exist, and the daemon's user "
		    "%.*s cannot create it in %s: it would log to syslog "
		    "instead.  Give it a directory of its own: as root, "
		    "install -d -m 0750 -o %.*s -g %s /var/log/relayq, and "
		    "log /var/log/relayq/relayq.log (under systemd also "
		    "ReadWritePaths=/var/log/relayq)", path,
		    (int)strcspn(who, ":"), who, dir, (int)strcspn(who, ":"),
		    who, strchr(who, ':') + 1);
}

/*
 * A spool directory: exists, is a directory (not a link), owned by the
 * daemon's uid, with exactly `mode' (and the group relayq for drop/ when
 * that group exists, so the setgid front end can write there).
 */
static void
check_dir(const char *spool, const char *name, mode_t mode, uid_t duid,
    const struct group *gr)
{
	struct stat	 st;
	char		 path[1024], who[140], owner[140];

	check_who(duid, who, sizeof(who));
	(void)snprintf(path, sizeof(path), "%s/%s", spool, name);
	if (lstat(path, &st) == -1) {
		if (errno == ENOENT && strcmp(name, "drop") != 0)
			return;		/* the daemon creates it */
		if (errno == ENOENT)	/* and sendmail needs it before */
			check_problem("%s does not exist: sendmail cannot "
			    "queue until the daemon creates it when it starts "
			    "(or make install: mode %o, owner %s)", path,
			    (unsigned int)mode, who);
		else
			check_problem("%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		check_problem("%s: not a directory", path);
		return;
	}
	if (st.st_uid != duid) {
		check_who(st.st_uid, owner, sizeof(owner));
		check_problem("%s: owned by %.*s, must be owned by the "
		    "daemon's user %.*s (chown %s %s)", path,
		    (int)strcspn(owner, ":"), owner, (int)strcspn(who, ":"),
		    who, who, path);
	}
	if ((st.st_mode & 07777) != mode)
		check_problem("%s: mode %o, must be %o (chmod %o %s)", path,
		    (unsigned int)(st.st_mode & 07777), (unsigned int)mode,
		    (unsigned int)mode, path);
	if (gr != NULL && strcmp(name, "drop") == 0 && st.st_gid != gr->gr_gid)
		check_problem("%s: group must be %s so that sendmail (setgid "
		    "%s) can write there (chgrp %s %s)", path, gr->gr_name,
		    gr->gr_name, gr->gr_name, path);
}

/*
 * Open SPOOL/NAME for reading its entries; NULL when it cannot be (a
 * note once when that is for want of the daemon's rights, not counted).
 */
static DIR *
check_opendir(const char *spool, const char *name, int *dfd)
{
	static int	 noted;
	char		 path[1024];
	DIR		*d = NULL;

	(void)snprintf(path, sizeof(path), "%s/%s", spool, name);
	if ((*dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || (d = fdopendir(*dfd)) == NULL) {
		if (errno == EACCES && !noted++)
			(void)printf("relayq check: note: %s not readable by "
			    "uid %u; spool files not checked (run as root or "
			    "as the daemon's user)\n", path,
			    (unsigned int)geteuid());
		else if (errno != ENOENT && errno != EACCES)
			check_problem("%s: %s", path, strerror(errno));
		if (*dfd != -1)
			(void)close(*dfd);
		return NULL;
	}
	return d;
}

/*
 * sender_canonical: what sendmail will load for every message, with the
 * caller's rights, refusing the message when it cannot.
 */
static void
check_canon(const struct conf *conf)
{
	struct canon	 c;
	struct stat	 st;
	char		 err[512];

	canon_init(&c, "", NULL);	/* parsed only: no lookups */
	if (canon_load(&c, conf->sender_canonical, err, sizeof(err)) == -1) {
		check_problem("sender_canonical %s (sendmail refuses every "
		    "message until it is fixed)", err);
		return;
	}
	(void)printf("relayq check: sender_canonical %s: %zu entries\n",
	    conf->sender_canonical, c.n);
	canon_free(&c);
	if (stat(conf->sender_canonical, &st) == 0 && (st.st_mode & 04) == 0)
		check_problem("sender_canonical %s: not readable by every user; "
		    "sendmail reads it with the caller's rights and refuses "
		    "their mail (chmod 644 %s)", conf->sender_canonical,
		    conf->sender_canonical);
}

/* Is there a message ID in queue/ or hold/? */
static int
check_has_msg(const char *spool, const char *id)
{
	struct stat	 st;
	char		 path[1024];

	(void)snprintf(path, sizeof(path), "%s/queue/%s", spool, id);
	if (lstat(path, &st) == 0)
		return 1;
	(void)snprintf(path, sizeof(path), "%s/hold/%s", spool, id);
	return lstat(path, &st) == 0;
}

/*
 * Every file in a spool directory: a name the daemon makes there, and in
 * queue/ and hold/ a queue file that parses.  Anything else is reported
 * with what it is likely to be: a leftover of a failed write (ID.tmp), a
 * state file whose message is gone, a file someone put there.  Needs the
 * daemon's rights; without them this part is skipped with a note.
 */
static void
check_files(const char *spool, const char *name)
{
	struct dirent	*de;
	struct qmsg	 m;
	char		 err[256], id[SPOOL_IDLEN + 1];
	const char	*dot;
	DIR		*d;
	size_t		 ncorrupt = 0;
	int		 dfd, msgs = strcmp(name, "queue") == 0 ||
			    strcmp(name, "hold") == 0;

	if ((d = check_opendir(spool, name, &dfd)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strcmp(name, "corrupt") == 0) {
			/* ID.state is the state of the queue file ID */
			if (strstr(de->d_name, ".state") == NULL)
				ncorrupt++;
			continue;
		}
		(void)strlcpy(id, de->d_name, sizeof(id));
		dot = strchr(de->d_name, '.');
		if (spool_id_ok(de->d_name)) {
			if (strcmp(name, "state") == 0 &&
			    !check_has_msg(spool, de->d_name))
				check_problem("%s/state/%s: stray file: the "
				    "state of a message that is gone (the "
				    "daemon removes it when it starts; or "
				    "remove it)", spool, de->d_name);
			if (!msgs)
				continue;
			if (spool_open_msg(dfd, de->d_name, &m, err,
			    sizeof(err)) == -1) {
				check_problem("%s/%s/%s: %s (the daemon "
				    "moves it to corrupt/ when it tries it)",
				    spool, name, de->d_name, err);
				continue;
			}
			spool_free_msg(&m);
		} else if (strcmp(name, "state") == 0 && dot != NULL &&
		    strcmp(dot, ".tmp") == 0 && spool_id_ok(id))
			check_problem("%s/state/%s: stray file: left by a state "
			    "update that did not finish (the daemon removes it "
			    "when it starts; or remove it)", spool, de->d_name);
		else if (strcmp(name, "state") == 0 &&
		    rate_file_route(de->d_name) != NULL)
			continue;	/* a route's rate windows (the daemon
					   removes those of a route gone) */
		else if (strcmp(name, "failed") == 0 && dot != NULL &&
		    strcmp(dot, ".state") == 0 && spool_id_ok(id))
			continue;
		else
			check_problem("%s/%s/%s: stray file: not a name the "
			    "daemon makes there; it %s it (remove it)", spool,
			    name, de->d_name, strcmp(name, "drop") == 0 ?
			    "removes" : "ignores");
	}
	(void)closedir(d);
	if (ncorrupt > 0)
		check_problem("%s/corrupt: %zu queue file(s) the daemon could "
		    "not read, quarantined (its log says why: grep "
		    "quarantined; inspect them with less, then remove them, "
		    "or repair one and move it to %s/drop)", spool, ncorrupt,
		    spool);
}

/* One route's settings: smarthosts, credentials, TLS files. */
static void
check_route(const struct conf *conf, const struct route *r, uid_t duid)
{
	char	 err[256];
	int	 fd;

	if (r->nhost == 0)
		check_problem("%s: no smarthost configured (add: smarthost "
		    "HOST[:PORT])", conf->path);
	if (r->auth_user != NULL && r->auth_password_file == NULL &&
	    r->auth_password_command == NULL)
		check_problem("%s: auth_user needs auth_password_file or "
		    "auth_password_command", conf->path);
	if (r->auth_password_file != NULL)
		check_password(r->auth_password_file, duid);
	if (r->tls_set && r->tls == TLS_OFF && r->auth_user != NULL)
		check_problem("%s: tls off with auth_user: AUTH is refused "
		    "without TLS", conf->path);
	if (tls_check_version(r, err, sizeof(err)) == -1)
		check_problem("%s: %s", conf->path, err);
	if (r->tls_ca_file != NULL) {
		if ((fd = open(r->tls_ca_file, O_RDONLY | O_CLOEXEC)) == -1)
			check_problem("tls_ca_file %s: %s", r->tls_ca_file,
			    strerror(errno));
		else
			(void)close(fd);
	}
	if (conf->nroute > 1)
		(void)printf("relayq check: %ssenders %s, smarthost %s%s%s\n",
		    check_prefix, r->idx == 0 ? "(all others)" : r->sender,
		    r->nhost > 0 ? r->host[0].name :
		    "none", r->auth_user != NULL ? ", auth_user " : "",
		    r->auth_user != NULL ? r->auth_user : "");
}

int
check_main(const struct conf *conf)
{
	struct passwd	*pw;
	struct group	*gr;
	struct stat	 st;
	uid_t		 duid = geteuid();
	char		 err[256], who[140];
	size_t		 i;

	/* the setgid group matters for a system install, which root checks;
	   a container runs everything as one uid without it */
	gr = geteuid() == 0 ? getgrnam(RELAYQ_USER) : NULL;
	if (geteuid() == 0) {
		if ((pw = getpwnam(RELAYQ_USER)) == NULL)
			check_problem("user %s does not exist; the daemon "
			    "refuses to run as root (make install creates "
			    "it)", RELAYQ_USER);
		else
			duid = pw->pw_uid;
	} else if ((pw = getpwnam(RELAYQ_USER)) != NULL &&
	    pw->pw_uid != duid && lstat(conf->spool, &st) == 0 &&
	    st.st_uid == pw->pw_uid) {
		/* an ordinary user looking at a system installation: the
		   daemon runs as relayq there, not as the caller */
		duid = pw->pw_uid;
		(void)printf("relayq check: note: not run as root: ownership "
		    "judged against user %s, who owns the spool; run as root "
		    "to check the queue files as well\n", RELAYQ_USER);
	}
	(void)printf("relayq check: configuration %s loaded\n", conf->path);
	for (i = 0; i < conf->nroute; i++) {
		/* with routes, every line about one names it */
		if (conf->nroute > 1)
			(void)snprintf(check_prefix, sizeof(check_prefix),
			    "route %s: ", conf->route[i].name);
		check_route(conf, &conf->route[i], duid);
	}
	check_prefix[0] = '\0';
	if (conf->sender_canonical != NULL)
		check_canon(conf);
	if (conf->bounce_to != NULL && !addr_valid(conf->bounce_to))
		check_problem("%s: bounce_to \"%s\" is not a valid address",
		    conf->path, conf->bounce_to);
	if (conf->log != NULL && strcmp(conf->log, "stderr") != 0 &&
	    strcmp(conf->log, "syslog") != 0)
		check_log(conf->log, duid);
	if (lstat(conf->spool, &st) == -1 && errno == ENOENT) {
		check_who(duid, who, sizeof(who));
		check_problem("spool %s does not exist: the daemon creates it "
		    "when started as root or when it may write the parent "
		    "directory; else as root: install -d -m 0755 -o %.*s -g "
		    "%s %s", conf->spool, (int)strcspn(who, ":"), who,
		    strchr(who, ':') + 1, conf->spool);
	} else if (lstat(conf->spool, &st) == -1)
		check_problem("spool %s: %s", conf->spool, strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		check_problem("spool %s: not a directory", conf->spool);
	else {
		if ((st.st_mode & 022) != 0)
			check_problem("spool %s: writable by group or others "
			    "(chmod 755 %s)", conf->spool, conf->spool);
		check_dir(conf->spool, "drop", 01730, duid, gr);
		check_dir(conf->spool, "queue", 0700, duid, NULL);
		check_dir(conf->spool, "state", 0700, duid, NULL);
		check_dir(conf->spool, "failed", 0700, duid, NULL);
		check_dir(conf->spool, "hold", 0700, duid, NULL);
		check_dir(conf->spool, "corrupt", 0700, duid, NULL);
		check_files(conf->spool, "drop");
		check_files(conf->spool, "queue");
		check_files(conf->spool, "hold");
		check_files(conf->spool, "state");
		check_files(conf->spool, "failed");
		check_files(conf->spool, "corrupt");
	}
	/* not a problem: the daemon may be stopped on purpose */
	if (ctl_call(conf->spool, "status", NULL, err, sizeof(err)) == EX_OK)
		(void)printf("relayq check: daemon is running\n");
	else
		(void)printf("relayq check: note: %s\n", err);
	if (check_nproblems == 0) {
		(void)printf("relayq check: no problems found\n");
		return EX_OK;
	}
	(void)printf("relayq check: %u problem(s) found\n", check_nproblems);
	return EX_CONFIG;
}
