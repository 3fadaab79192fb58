/*
 * relayq drain: the sending rate (rate_limit, rate_limit_recipients) and
 * the pause after a provider's throttling reply, each route on its own:
 * one struct drain_rate per route, d->rate[route index] (the set of
 * routes is fixed until the daemon restarts: conf_keep_running).
 *
 * The daemon asks before each message starts, on its own session or
 * when it hands one to a delivery worker (drain_rate_begin); a message
 * held back stays due and its route is marked holding, the run goes on
 * with the other routes' messages (those of a holding route are skipped
 * without being read: drain_try_held), and the loop sleeps in poll until
 * the first holding route has room (drain_rate_wait).  Only the daemon
 * decides, so max_sessions above 1 shares each route's window.
 *
 * A throttling reply (rate.c says which) to a message's transaction
 * pauses its route's sending for retry_min, doubled on each throttling
 * reply that follows, up to retry_max, and back to retry_min after a
 * message of the route goes through.  The message itself waits for the
 * end of the pause without that attempt being counted (drain_try.c).
 *
 * Across restarts: a route's windows and pause are written to
 * state/rate (the default route) or state/rate.NAME (relayq-spool(5)):
 * a temporary file, fsynced, renamed over it.  At most once a second,
 * and when the daemon stops, so that a large limit does not cost a
 * rewrite per message.  A crash loses the sends of the last second and
 * those in flight: the next daemon may then exceed the limit by that
 * many.  A file that does not parse is logged and ignored: the windows
 * start empty.  At start-up the file of a route no longer configured is
 * removed (drain_rate_file).
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
#include "rate.h"
#include "drain.h"

#define RATE_SAVE_MS	1000		/* state/rate* written at most this often */
#define RATE_FILE_MAX	(64L << 20)	/* a saved form larger is refused */

struct drain_rate {
	const struct conf	*conf;		/* retry_min, retry_max */
	const struct route	*route;		/* its limits, its name */
	char			 file[sizeof(SPOOL_RATE_FILE) +
				    ROUTE_NAMEMAX + 1];	/* in state/ */
	char			 tmp[sizeof(SPOOL_RATE_FILE) +
				    ROUTE_NAMEMAX + 8];
	struct rate		 msg;		/* rate_limit */
	struct rate		 rcpt;		/* rate_limit_recipients */
	long long		 paused;	/* ms: nothing starts before */
	long long		 backoff;	/* s: the last pause */
	int			 holding;	/* a message waits for room */
	unsigned long		 held;		/* its recipients */
	int			 statefd;	/* state/, -1 before load */
	int			 dirty;		/* changed since written */
	long long		 saved;		/* ms: written then */
};

/* wall-clock time: the saved windows outlive the process */
static long long
drain_rate_now(void)
{
	return util_ms(CLOCK_REALTIME);
}

/* Route `ri' of `conf' (its limits checked when read); NULL: no memory. */
static struct drain_rate *
drain_rate_route(const struct conf *conf, size_t ri)
{
	const struct route	*r = &conf->route[ri];
	struct drain_rate	*dr;
	unsigned long		 max = 0;
	long long		 per = 0;
	char			 err[256];

	if ((dr = calloc(1, sizeof(*dr))) == NULL)
		return NULL;
	dr->conf = conf;
	dr->route = r;
	dr->statefd = -1;
	/* "rate.default.tmp" cannot be a route's file: the name is taken */
	if (ri == 0)
		(void)strlcpy(dr->file, SPOOL_RATE_FILE, sizeof(dr->file));
	else
		(void)snprintf(dr->file, sizeof(dr->file), "%s.%s",
		    SPOOL_RATE_FILE, r->name);
	(void)snprintf(dr->tmp, sizeof(dr->tmp), "%s.%s.tmp",
	    SPOOL_RATE_FILE, r->name);
	if (r->rate_limit != NULL)
		(void)rate_parse(r->rate_limit, &max, &per, err, sizeof(err));
	rate_init(&dr->msg, max, per);
	max = 0;
	per = 0;
	if (r->rate_limit_recipients != NULL)
		(void)rate_parse(r->rate_limit_recipients, &max, &per, err,
		    sizeof(err));
	rate_init(&dr->rcpt, max, per);
	return dr;
}

/* One struct drain_rate per route of the configuration; -1: no memory. */
int
drain_rate_new(struct drain *d)
{
	size_t	 ri;

	for (ri = 0; ri < d->conf->nroute; ri++)
		if ((d->rate[ri] = drain_rate_route(d->conf, ri)) == NULL)
			return -1;
	return 0;
}

void
drain_rate_free(struct drain *d)
{
	size_t	 ri;

	for (ri = 0; ri < CONF_MAXROUTES; ri++) {
		if (d->rate[ri] == NULL)
			continue;
		rate_free(&d->rate[ri]->msg);
		rate_free(&d->rate[ri]->rcpt);
		free(d->rate[ri]);
		d->rate[ri] = NULL;
	}
}

/*
 * The start-up scan of state/ (drain.c) met `name': 1 when it is a file
 * of this module.  That of a route the configuration no longer has
 * ("rate.NAME"), and a temporary file a crash left ("rate.NAME.tmp"),
 * are removed; the others are loaded by drain_rate_load.
 */
int
drain_rate_file(const struct drain *d, const char *name)
{
	static const char	 pre[] = SPOOL_RATE_FILE ".";
	const char		*route;

	if (strcmp(name, SPOOL_RATE_FILE) != 0 &&
	    strncmp(name, pre, sizeof(pre) - 1) != 0)
		return 0;
	if ((route = rate_file_route(name)) != NULL &&
	    route_byname(d->conf, route) != NULL)
		return 1;
	if (unlinkat(d->statefd, name, 0) == -1)
		log_warn("state/%s: unlink", name);
	else if (route != NULL)
		log_info("state/%s: removed: the rate windows of route %s, "
		    "which the configuration no longer has", name, route);
	else
		log_info("state/%s: removed: left by an interrupted rate "
		    "windows update", name);
	return 1;
}

/* The saved form into `buf' (malloc'd); -1 when there is none to read. */
static int
drain_rate_read(const struct drain_rate *dr, char **buf, size_t *len)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	*buf = NULL;
	if ((fd = openat(dr->statefd, dr->file, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("state/%s: open; the rate windows of route %s "
			    "start empty", dr->file, dr->route->name);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > RATE_FILE_MAX ||
	    (*buf = malloc((size_t)st.st_size + 1)) == NULL ||
	    (n = read(fd, *buf, (size_t)st.st_size + 1)) != st.st_size) {
		log_warnx("state/%s: not a regular file of at most %ld bytes "
		    "that could be read; ignored: the rate windows start "
		    "empty", dr->file, RATE_FILE_MAX);
		free(*buf);
		*buf = NULL;
		(void)close(fd);
		return -1;
	}
	(void)close(fd);
	*len = (size_t)n;
	return 0;
}

/*
 * At start-up: the windows and the pause of route `dr' as the last
 * daemon left them in state/ (`statefd', kept for drain_rate_save).  A
 * pause longer than retry_max (a file from another configuration) is
 * cut to it.
 */
static void
drain_rate_load_one(struct drain_rate *dr, int statefd)
{
	char		*buf, err[256];
	size_t		 len;
	long long	 now = drain_rate_now();

	dr->statefd = statefd;
	if (drain_rate_read(dr, &buf, &len) == -1)
		return;
	if (rate_load(&dr->msg, &dr->rcpt, &dr->paused, &dr->backoff, now,
	    buf, len, err, sizeof(err)) == -1) {
		log_warnx("state/%s: %s; ignored: the rate windows start "
		    "empty", dr->file, err);
		rate_free(&dr->msg);
		rate_free(&dr->rcpt);
		dr->paused = dr->backoff = 0;
	}
	free(buf);
	if (dr->paused > now + (long long)dr->conf->retry_max * 1000)
		dr->paused = now + (long long)dr->conf->retry_max * 1000;
	if (dr->paused > now)
		log_info("route=%s: sending paused for %llds more (a "
		    "throttling reply before the restart)", dr->route->name,
		    (dr->paused - now + 999) / 1000);
	dr->dirty = 1;	/* the file matches this configuration again */
}

void
drain_rate_load(struct drain *d)
{
	size_t	 ri;

	for (ri = 0; ri < d->conf->nroute; ri++)
		drain_rate_load_one(d->rate[ri], d->statefd);
}

/*
 * Write the route's file when it changed, at most once in RATE_SAVE_MS
 * unless `force' (at stop).  Without a limit or a pause there is
 * nothing to keep, and the file goes.
 */
static void
drain_rate_save_one(struct drain_rate *dr, int force)
{
	long long		 now = drain_rate_now();
	FILE			*fp;
	int			 fd;

	if (!dr->dirty || dr->statefd == -1 ||
	    (!force && now - dr->saved < RATE_SAVE_MS))
		return;
	dr->dirty = 0;
	dr->saved = now;
	if (dr->msg.max == 0 && dr->rcpt.max == 0 && dr->backoff == 0) {
		if (unlinkat(dr->statefd, dr->file, 0) == -1 &&
		    errno != ENOENT)
			log_warn("state/%s: unlink", dr->file);
		return;
	}
	if ((fd = openat(dr->statefd, dr->tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1 ||
	    (fp = fdopen(fd, "w")) == NULL) {
		log_warn("state/%s: the rate windows are not saved", dr->tmp);
		if (fd != -1)
			(void)close(fd);
		return;
	}
	if (rate_save(fp, &dr->msg, &dr->rcpt, dr->paused, dr->backoff) == -1 ||
	    fflush(fp) == EOF || fsync(fd) == -1) {
		log_warn("state/%s: the rate windows are not saved", dr->tmp);
		(void)fclose(fp);
		(void)unlinkat(dr->statefd, dr->tmp, 0);
		return;
	}
	if (fclose(fp) == EOF ||
	    renameat(dr->statefd, dr->tmp, dr->statefd, dr->file) == -1 ||
	    fsync(dr->statefd) == -1)
		log_warn("state/%s: the rate windows are not saved",
		    dr->file);
}

void
drain_rate_save(struct drain *d, int force)
{
	size_t	 ri;

	for (ri = 0; ri < d->conf->nroute; ri++)
		drain_rate_save_one(d->rate[ri], force);
}

/* When the next send counting `n' recipients may start (ms). */
static long long
drain_rate_next(const struct drain_rate *dr, long long now, unsigned long n)
{
	long long	 t = dr->paused > now ? dr->paused : now, u;

	if ((u = rate_next(&dr->msg, now, 1)) > t)
		t = u;
	if ((u = rate_next(&dr->rcpt, now, n)) > t)
		t = u;
	return t;
}

/*
 * A message with `n' open recipients is about to start: 0 when it may
 * (it is counted in flight until drain_rate_end), -1 when the window or
 * a pause holds it back: the route is then holding, its other messages
 * are skipped for the rest of the run, and drain_rate_wait says how
 * long the daemon sleeps.
 */
int
drain_rate_begin(struct drain_rate *dr, size_t n)
{
	long long	 now;

	if (dr->msg.max == 0 && dr->rcpt.max == 0 && dr->paused == 0)
		return 0;	/* the common case costs nothing more */
	now = drain_rate_now();
	if (dr->paused <= now)
		dr->paused = 0;		/* over; the backoff stays */
	if (drain_rate_next(dr, now, (unsigned long)n) > now) {
		dr->holding = 1;
		dr->held = (unsigned long)n;
		return -1;
	}
	dr->holding = 0;
	rate_begin(&dr->msg, 1);
	rate_begin(&dr->rcpt, (unsigned long)n);
	return 0;
}

/*
 * The message that drain_rate_begin let start with `n' recipients has
 * ended; `reached': a session to the server was had for it (else it did
 * not count against the provider's limit).
 */
void
drain_rate_end(struct drain_rate *dr, size_t n, int reached)
{
	long long	 now;

	if (dr->msg.max == 0 && dr->rcpt.max == 0)
		return;
	/* rounded up: the next start is a whole period after the end */
	now = drain_rate_now() + 1;
	rate_end(&dr->msg, now, 1, reached);
	rate_end(&dr->rcpt, now, (unsigned long)n, reached);
	dr->dirty = 1;
}

/*
 * Is the route holding its messages back?  It stops when its window has
 * room for the message that found none, or the pause is over.
 */
int
drain_rate_holding(struct drain_rate *dr)
{
	long long	 now;

	if (!dr->holding)
		return 0;
	now = drain_rate_now();
	if (drain_rate_next(dr, now, dr->held) <= now)
		dr->holding = 0;	/* the next run may go */
	return dr->holding;
}

/*
 * For the daemon's poll: milliseconds until the first holding route
 * has room, or until a route's file is due to be written; -1 when
 * neither.  The due messages of a holding route are not a reason to
 * wake (drain_try_held).
 */
int
drain_rate_wait(struct drain *d)
{
	struct drain_rate	*dr;
	long long		 now = drain_rate_now(), t = -1, u;
	size_t			 ri;

	for (ri = 0; ri < d->conf->nroute; ri++) {
		dr = d->rate[ri];
		if (drain_rate_holding(dr) && ((u = drain_rate_next(dr, now,
		    dr->held)) < t || t == -1))
			t = u;
		if (dr->dirty && (t == -1 || dr->saved + RATE_SAVE_MS < t))
			t = dr->saved + RATE_SAVE_MS;
	}
	if (t == -1)
		return -1;
	return t <= now ? 0 : t - now > 86400000 ? 86400000 : (int)(t - now);
}

/*
 * After an attempt on `m' (`open': the recipients it tried), through
 * `relay': a throttling reply to any of them pauses the route's sending,
 * logged once; the time the pause ends is returned, for the message's next try.
 * 0 when it was not throttled; a recipient sent then ends the backoff.
 */
time_t
drain_rate_outcome(struct drain_rate *dr, const struct qmsg *m,
    const char *open, const char *relay)
{
	const char	*said, *why = NULL;
	long long	 now, pause;
	size_t		 i;
	int		 sent = 0;

	for (i = 0; i < m->nrcpt; i++) {
		if (!open[i])
			continue;
		if (m->rcpt[i].status == RCPT_SENT)
			sent = 1;
		else if (why == NULL && m->rcpt[i].status == RCPT_DEFER &&
		    (said = strstr(m->rcpt[i].reply, " said: ")) != NULL &&
		    rate_throttle(said + 7))
			why = said + 7;
	}
	if (why == NULL) {
		if (sent && dr->backoff != 0) {
			dr->backoff = 0;
			dr->dirty = 1;
		}
		return 0;
	}
	now = drain_rate_now();
	if (dr->paused <= now) {	/* not already paused by another */
		pause = dr->backoff == 0 ? dr->conf->retry_min :
		    dr->backoff * 2;
		if (pause > dr->conf->retry_max)
			pause = dr->conf->retry_max;
		dr->backoff = pause;
		dr->paused = now + pause * 1000;
		dr->dirty = 1;
		log_info("route=%s: throttled by %.*s: %s; sending paused for "
		    "%llds", dr->route->name, (int)strcspn(relay, ","), relay,
		    why, pause);
	}
	return (time_t)((dr->paused + 999) / 1000);
}

/*
 * For relayq status: the limits, the windows, the pause, and `due', the
 * route's messages due now (the backlog the limit or the pause holds
 * back).  The default route's lines have no prefix, another's begin
 * with "route NAME: ".
 */
void
drain_rate_status(struct drain_rate *dr, FILE *fp, size_t due)
{
	const struct route	*r = dr->route;
	long long		 now = drain_rate_now();
	char			 pre[ROUTE_NAMEMAX + 16] = "";

	if (r->idx != 0)
		(void)snprintf(pre, sizeof(pre), "route %s: ", r->name);
	if (dr->msg.max == 0 && dr->rcpt.max == 0)
		(void)fprintf(fp, "%srate: no limit\n", pre);
	else {
		(void)fprintf(fp, "%srate:", pre);
		if (dr->msg.max != 0)
			(void)fprintf(fp, " %s messages (%lu in the window)",
			    r->rate_limit, rate_count(&dr->msg, now));
		if (dr->rcpt.max != 0)
			(void)fprintf(fp, "%s %s recipients (%lu in the "
			    "window)", dr->msg.max != 0 ? "," : "",
			    r->rate_limit_recipients,
			    rate_count(&dr->rcpt, now));
		(void)fprintf(fp, "\n");
	}
	(void)fprintf(fp, "%sbacklog: %zu message(s) due now%s\n", pre, due,
	    drain_rate_holding(dr) ? ", waiting for room in the window" : "");
	if (dr->paused > now)
		(void)fprintf(fp, "%spaused: %llds more, after a throttling "
		    "reply (backoff %llds)\n", pre,
		    (dr->paused - now + 999) / 1000, dr->backoff);
}
