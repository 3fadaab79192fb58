/*
 * relayq drain: the daemon's configuration once loaded -- what it must
 * hold before the daemon starts, the smarthost secret, and reloading
 * (SIGHUP, relayq reload), as postfix reload does.
 *
 * Reload.  The file named at start-up is read again by path, with the
 * same environment, into a second struct conf; nothing changes unless
 * it parses and passes the start-up checks (drain_conf_check).  A bad
 * file leaves the running configuration whole, and the log (and the
 * caller of relayq reload) gets the file, line and error.  A good one
 * replaces it, except for the keys the running daemon cannot change
 * (conf.c's conf_keep_running says which and why: paths the sandbox
 * holds, ports it allows, the TLS set-up, the number of workers): each
 * keeps its value and is named, "takes effect when the daemon restarts".
 * The secret file is read again (a rotated password needs only a
 * reload); when it cannot be, the old secret stays and the log says so.
 * A parked session ends, so the next message opens one with the new
 * settings; deferred mail is due at once, as after relayq flush.
 *
 * The file is read under the sandbox: it allows the directory holding
 * the file (sandbox.c), so one replaced by rename -- editors, sed -i,
 * configuration management -- is read, not the old inode.
 *
 * Workers (max_sessions > 1) each hold a copy of the configuration and
 * their own session: the daemon's loop sends each a "reload" record
 * (drain_work.c) once the daemon has taken the new file, and a worker
 * reads the file itself (drain_conf_apply).  A file changed again in
 * between could make a worker differ from the daemon until the next
 * reload; the worker logs when its read fails.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "client.h"
#include "drain.h"

/* "route NAME: " for an error about route `r', "" for the default one */
static void
drain_conf_who(const struct route *r, char *buf, size_t sz)
{
	if (r->idx == 0)
		buf[0] = '\0';
	else
		(void)snprintf(buf, sz, "route %s: ", r->name);
}

/*
 * What the daemon needs of a configuration, at start-up and on reload:
 * each route's smarthosts and AUTH settings.
 */
int
drain_conf_check(const struct conf *conf, char *err, size_t errsz)
{
	const struct route	*r;
	char			 msg[256], who[ROUTE_NAMEMAX + 16];
	size_t			 i;

	for (i = 0; i < conf->nroute; i++) {
		r = &conf->route[i];
		drain_conf_who(r, who, sizeof(who));
		if (r->nhost == 0) {
			(void)snprintf(err, errsz, "%s: %sno smarthost "
			    "configured", conf->path, who);
			return -1;
		}
		if (r->auth_user != NULL && r->auth_password_file == NULL &&
		    r->auth_password_command == NULL) {
			(void)snprintf(err, errsz, "%s: %sauth_user needs "
			    "auth_password_file%s", conf->path, who,
			    i == 0 ? " or auth_password_command" : "");
			return -1;
		}
		if (r->auth_mechanisms != NULL &&
		    auth_check_list(r->auth_mechanisms, msg,
		    sizeof(msg)) == -1) {
			(void)snprintf(err, errsz, "%s: %s%s", conf->path, who,
			    msg);
			return -1;
		}
	}
	return 0;
}

/*
 * The secret: owned by us, not readable by group or others, else
 * refused.  Only the first line counts.  Into *out, malloc'd.
 */
static int
drain_conf_password(const char *path, char **out, char *err, size_t errsz)
{
	struct stat	 st;
	char		 buf[1024], who[140];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errsz, "auth_password_file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		(void)snprintf(err, errsz, "auth_password_file %s: not a "
		    "regular file", path);
		goto fail;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		util_owner(geteuid(), getegid(), who, sizeof(who));
		(void)snprintf(err, errsz, "auth_password_file %s must be "
		    "owned by %.*s, the user the daemon runs as, and readable "
		    "by it alone: as root, \"chown %s %s; chmod 600 %s\"",
		    path, (int)strcspn(who, ":"), who, who, path, path);
		goto fail;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		(void)snprintf(err, errsz, "auth_password_file %s: %s", path,
		    n == 0 ? "empty" : strerror(errno));
		goto fail;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	(void)close(fd);
	if (*out == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
 fail:
	(void)close(fd);
	return -1;
}

/* the keys that keep their running value, for the log and the caller */
struct drain_conf_notes {
	FILE	*fp;		/* relayq reload's answer, or NULL */
	int	 log;		/* log them too (the daemon, not a worker) */
};

static void
drain_conf_note(void *arg, const char *key)
{
	struct drain_conf_notes	*n = arg;

	if (n->log)
		log_warnx("reload: %s changed: takes effect when the daemon "
		    "restarts; the running value stays", key);
	if (n->fp != NULL)
		(void)fprintf(n->fp, "%s changed: takes effect when the daemon "
		    "restarts (relayq stop, then start it)\n", key);
}

static void
drain_conf_free_password(char *p)
{
	if (p != NULL) {
		explicit_bzero(p, strlen(p));
		free(p);
	}
}

/* Every route's secret, wiped and freed. */
void
drain_conf_free_passwords(char **pw)
{
	size_t	 i;

	for (i = 0; i < CONF_MAXROUTES; i++) {
		drain_conf_free_password(pw[i]);
		pw[i] = NULL;
	}
}

/*
 * Each route's auth_password_file, read into pw[its index] (NULL for a
 * route without one).  -1 with `err' naming the route and the file.
 */
int
drain_conf_passwords(const struct conf *conf, char **pw, char *err,
    size_t errsz)
{
	char	 msg[512], who[ROUTE_NAMEMAX + 16];
	size_t	 i;

	for (i = 0; i < conf->nroute; i++) {
		if (conf->route[i].auth_password_file == NULL)
			continue;
		if (drain_conf_password(conf->route[i].auth_password_file,
		    &pw[i], msg, sizeof(msg)) == -1) {
			drain_conf_who(&conf->route[i], who, sizeof(who));
			(void)snprintf(err, errsz, "%s%s", who, msg);
			return -1;
		}
	}
	return 0;
}

/*
 * Read the configuration file again and take it, as the file comment
 * says; -1 with `err' (file, line, what) when it is refused and nothing
 * changed.  `fp' and `log': where the keys kept are named.
 */
int
drain_conf_apply(struct drain *d, FILE *fp, int log, char *err,
    size_t errsz)
{
	struct drain_conf_notes	 notes = { fp, log };
	const struct route	*r, *run;
	struct conf		 next;
	char			*pw = NULL, msg[512];
	size_t			 i;

	conf_init(&next);
	if (conf_load(&next, d->conf->path, 1, 1, err, errsz) == -1 ||
	    drain_conf_check(&next, err, errsz) == -1) {
		conf_free(&next);
		return -1;
	}
	/* a password source is read at start-up only: AUTH that needs
	   one the running daemon has not got waits for a restart */
	for (i = 0; i < next.nroute; i++) {
		r = &next.route[i];
		if (r->auth_user == NULL ||
		    (run = route_byname(d->conf, r->name)) == NULL ||
		    run->auth_password_file != NULL ||
		    run->auth_password_command != NULL)
			continue;
		(void)snprintf(err, errsz, "%s: %s%s%sauth_user needs a "
		    "password, and a new auth_password_file or "
		    "auth_password_command takes effect only when the daemon "
		    "restarts", next.path, i == 0 ? "" : "route ",
		    i == 0 ? "" : r->name, i == 0 ? "" : ": ");
		conf_free(&next);
		return -1;
	}
	(void)conf_keep_running(&next, d->conf, drain_conf_note, &notes);
	conf_free(d->conf);
	*d->conf = next;
	(void)conf_domain(d->conf);
	/* the same paths as before (conf_keep_running): rotated secrets */
	for (i = 0; i < d->conf->nroute; i++) {
		r = &d->conf->route[i];
		if (r->auth_password_file == NULL)
			continue;
		if (drain_conf_password(r->auth_password_file, &pw, msg,
		    sizeof(msg)) == -1) {
			if (log)
				log_warnx("reload: route=%s: %s; the running "
				    "secret stays", r->name, msg);
			if (fp != NULL)
				(void)fprintf(fp, "route %s: %s; the running "
				    "secret stays\n", r->name, msg);
			continue;
		}
		drain_conf_free_password(d->password[i]);
		d->password[i] = pw;
	}
	d->q.limit = (size_t)d->conf->active_queue_limit;
	drain_sess_reload(d->sess);
	return 0;
}

/*
 * SIGHUP (`why' "SIGHUP") or relayq reload (`fp' its answer): the
 * daemon's reload.  Then the loop tells the workers (d->reloaded).
 * Returns 0, or -1 when the file was refused (`err' says why; logged).
 */
int
drain_conf_reload(struct drain *d, const char *why, FILE *fp, char *err,
    size_t errsz)
{
	size_t	 i;

	if (drain_conf_apply(d, fp, 1, err, errsz) == -1) {
		log_warnx("reload: %s; the running configuration stays", err);
		return -1;
	}
	/* deferred mail due now, and what waits past active_queue_limit
	   as it is taken in (drain_import.c), as after relayq flush */
	for (i = 0; i < d->q.nq; i++) {
		d->q.q[i].next = 0;
		d->q.q[i].route = 0;	/* senders may have moved */
	}
	d->q.flushed = time(NULL);
	d->reloaded = 1;
	log_info("reload: %s reloaded (%s)", d->conf->path, why);
	if (fp != NULL)
		(void)fprintf(fp, "%s reloaded\n", d->conf->path);
	return 0;
}
