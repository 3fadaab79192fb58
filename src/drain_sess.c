/*
 * The drain daemon's session to the smarthost: one per process (the
 * daemon, or each delivery worker with max_sessions, drain_work.c),
 * made at start-up by drain_sess_new and passed to every function here.
 *
 * The session outlives a delivery run: after the queue empties it stays
 * open for idle_timeout, sending nothing, so that mail arriving meanwhile
 * leaves without a new connection and TLS handshake (Postfix keeps a
 * connection cached for 2 s the same way).  While it is parked, the
 * owner's poll loop watches its socket (drain_sess_idle_fd): anything
 * the server sends then (a 421 on its own timeout, a close) ends it.  A
 * parked session is checked with RSET before it carries a message, and
 * ended with QUIT once idle_timeout passes or max_messages_per_session
 * were sent on it.
 *
 * A session belongs to one route (route.c): a message of another route
 * ends it and opens one to that route's smarthosts with its settings
 * and secret.  tls.c keeps TLS state by route, so neither a connection
 * nor a TLS session is ever reused across routes.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/string.h>

#include "relayq.h"
#include "client.h"
#include "drain.h"

struct drain_sess {
	const struct route	*route;		/* of the session; NULL:
						   none yet */
	char *const		*password;	/* auth_password_file's, by
						   route (struct drain's) */
	struct conn		 c;
	struct smtp_session	 s;
	int			 up;		/* c and s usable */
	time_t			 parked;	/* idle since; 0 = in use */
	long long		 nmsg;		/* messages on this session */
};

/*
 * No session yet; `password': each route's secret, by its index, read
 * again where it is at each new session.  NULL when out of memory.
 */
struct drain_sess *
drain_sess_new(char *const *password)
{
	struct drain_sess	*ss;

	if ((ss = calloc(1, sizeof(*ss))) == NULL)
		return NULL;
	ss->password = password;
	ss->c.fd = -1;
	return ss;
}

/*
 * The configuration was reloaded (drain_conf.c): a parked session ends,
 * so the next message opens one with the new settings and secret.
 */
void
drain_sess_reload(struct drain_sess *ss)
{
	drain_sess_end(ss, 1);
}

/* End the session: with QUIT when it is still in a state to take one. */
void
drain_sess_end(struct drain_sess *ss, int quit)
{
	if (!ss->up)
		return;
	if (quit)
		smtp_quit(&ss->s);
	tls_close(&ss->c);
	ss->up = 0;
	ss->parked = 0;
}

/* Try each smarthost in order until one gives a usable session. */
static int
drain_sess_connect(struct drain_sess *ss, const struct conf *conf, char *err,
    size_t errsz)
{
	const struct route	*r = ss->route;
	size_t			 i;

	for (i = 0; i < r->nhost; i++) {
		if (i > 0)	/* the admin must learn the primary is broken */
			log_warnx("route=%s: smarthost %s: %s; trying %s",
			    r->name, r->host[i - 1].name, err,
			    r->host[i].name);
		if (tls_connect(&ss->c, r, &r->host[i], r->timeout_connect,
		    err, errsz) == -1)
			continue;
		memset(&ss->s, 0, sizeof(ss->s));
		ss->s.conn = &ss->c;
		ss->s.conf = conf;
		ss->s.route = r;
		ss->s.password = ss->password[r->idx];
		if (smtp_open(&ss->s, err, errsz) == 0) {
			if (ss->c.verified)
				log_info("Verified TLS connection established "
				    "to %s: %s with cipher %s%s", ss->c.peer,
				    ss->c.tls_version, ss->c.tls_cipher,
				    ss->c.tls_resumed ? " (session resumed)" :
				    "");
			ss->up = 1;
			ss->nmsg = 0;
			return 0;
		}
		tls_close(&ss->c);
	}
	return -1;
}

/*
 * A session for the next message, on route `r': the open one when it is
 * that route's, may carry more and (if it was parked) still answers
 * RSET, else a new one.  -1 with `err' when no smarthost gives one.
 */
static int
drain_sess_get(struct drain_sess *ss, const struct conf *conf,
    const struct route *r, char *err, size_t errsz)
{
	if (ss->up && ss->route != r)
		drain_sess_end(ss, 1);
	ss->route = r;
	if (ss->up && r->max_messages_per_session > 0 &&
	    ss->nmsg >= r->max_messages_per_session)
		drain_sess_end(ss, 1);
	if (ss->up && ss->parked != 0 && smtp_rset(&ss->s) == -1) {
		log_info("session to %s ended while idle (%s); reconnecting",
		    ss->c.peer, ss->s.error);
		drain_sess_end(ss, 0);
	}
	ss->parked = 0;
	if (ss->up)
		return 0;
	return drain_sess_connect(ss, conf, err, errsz);
}

size_t
drain_sess_count_sent(const struct qmsg *m)
{
	size_t	 i, n = 0;

	for (i = 0; i < m->nrcpt; i++)
		n += m->rcpt[i].status == RCPT_SENT;
	return n;
}

/*
 * A recipient deferred with 452 in the transaction just made (smtp.c
 * decides every open recipient in each transaction, and writes the
 * server's reply as "host PEER said: CODE text").
 */
static int
drain_sess_got_452(const struct qmsg *m)
{
	size_t	 i;

	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].status == RCPT_DEFER &&
		    strstr(m->rcpt[i].reply, " said: 452 ") != NULL)
			return 1;
	return 0;
}

/*
 * Send one message through route `r' (of configuration `conf') on this
 * process's session, recording each recipient's outcome in `m'; `relay'
 * names the peer for the log.  A session that breaks is closed (the
 * next message opens a new one), and smtp.c has deferred the recipients
 * it did not decide.  -1 with `err' when no smarthost of the route gives
 * a session: nothing was tried.
 */
int
drain_sess_send(struct drain_sess *ss, const struct conf *conf,
    const struct route *r, struct qmsg *m, char *relay, size_t relaysz,
    char *err, size_t errsz)
{
	size_t	 nsent;

	if (drain_sess_get(ss, conf, r, err, errsz) == -1) {
		(void)strlcpy(relay, "none", relaysz);
		return -1;
	}
	/* Postfix's relay= field, and what protected the session: the
	   version and cipher, as Postfix logs them once per connection */
	if (ss->c.verified)
		(void)snprintf(relay, relaysz, "%s, tls=%s/%s", ss->c.peer,
		    ss->c.tls_version, ss->c.tls_cipher);
	else
		(void)strlcpy(relay, ss->c.peer, relaysz);
	ss->nmsg++;
	for (;;) {
		nsent = drain_sess_count_sent(m);
		if (smtp_send(&ss->s, m) == -1) {
			drain_sess_end(ss, 0);
			break;
		}
		/* 452: the server took what it could in this transaction;
		   the rest go in a new one now, as long as each round gets
		   someone through */
		if (drain_sess_count_sent(m) == nsent || !drain_sess_got_452(m))
			break;
	}
	return 0;
}

/* A run is over: park the session, or end it with idle_timeout 0. */
void
drain_sess_park(struct drain_sess *ss)
{
	if (ss->route == NULL || ss->route->idle_timeout == 0)
		drain_sess_end(ss, 1);
	else if (ss->up && ss->parked == 0)
		ss->parked = time(NULL);
}

/* The parked session's socket, for poll; -1 when none is parked. */
int
drain_sess_idle_fd(const struct drain_sess *ss)
{
	return ss->parked != 0 ? ss->c.fd : -1;
}

/* When the parked session's idle_timeout runs out; 0 when none. */
time_t
drain_sess_idle_until(const struct drain_sess *ss)
{
	return ss->parked != 0 ? ss->parked + ss->route->idle_timeout : 0;
}

/*
 * After poll: `revents' of the parked session's socket.  Nothing is
 * asked of a parked session, so whatever comes (421, EOF, reset) ends
 * it, without QUIT; idle_timeout ends it with QUIT.
 */
void
drain_sess_idle_check(struct drain_sess *ss, short revents)
{
	if (ss->parked == 0)
		return;
	if (revents != 0) {
		log_info("session to %s closed by the server while idle",
		    ss->c.peer);
		drain_sess_end(ss, 0);
	} else if (time(NULL) >= ss->parked + ss->route->idle_timeout)
		drain_sess_end(ss, 1);
}
