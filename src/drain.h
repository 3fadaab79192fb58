#ifndef DRAIN_H
#define DRAIN_H

#include <dirent.h>
#include <signal.h>
#include <stdint.h>

/*
 * The drain daemon (relayq drain): its state, owned by drain_main and
 * passed to every function of the daemon's files as `struct drain *'.
 * One process, one thread: no locking.  A delivery worker (drain_work.c)
 * is a fork of the daemon with its own copy, of which it uses the
 * configuration, the spool descriptors and its session.
 */

/* The daemon's entry point (drain.c). */
int	 drain_main(struct conf *, int);

/* Where a message is (relayq show, hold, delete ... ask). */
enum drain_where {
	DRAIN_NOWHERE,
	DRAIN_QUEUED,		/* in queue/, held in the table or not */
	DRAIN_HELD,		/* in hold/ */
};
#define DRAIN_NOT_HELD	SIZE_MAX	/* its table index: queued, past
					   active_queue_limit */

/* One entry of the queue table. */
struct drain_ent {
	char		 id[SPOOL_IDLEN + 1];
	unsigned char	 busy;	/* in flight on a delivery worker */
	unsigned char	 route;	/* its route's index + 1, known once it
				   was read (drain_try_load); 0: not yet,
				   and again after a reload */
	time_t		 next;	/* due at; 0 = now */
};

/*
 * The queue table (drain_q.c): every message in queue/ the daemon holds,
 * at most `limit' of them, with an index by id.
 */
struct drain_q {
	struct drain_ent	*q;
	size_t			 nq;
	uint32_t		*idx;	/* drain_q.c says how */
	size_t			 idxsz;	/* slots: a power of two, or 0 */
	size_t			 qsz;	/* entries allocated in q */
	size_t			 limit;	/* active_queue_limit */
	int			 backlog; /* queue/ holds more than q */
	time_t			 flushed; /* last flush of all */
};

/* for `relayq status': since start-up */
struct drain_stats {
	time_t		 started;
	unsigned long	 received, sent, deferred, bounced;
	time_t		 last_sent;
	char		 last_sent_id[SPOOL_IDLEN + 1];
	time_t		 last_error;
	char		 last_error_text[REPLY_MAX + 64];
};

/* relayq hold or delete of a message in flight, kept for later (drain_ctl.c) */
struct drain_pend {
	char		 id[SPOOL_IDLEN + 1];
	enum ctl_cmd	 cmd;		/* CTL_HOLD or CTL_DELETE */
	uid_t		 uid;
};

#define DRAIN_BATCH	256	/* imports made durable by one fsync */

struct drain_sess;		/* drain_sess.c */
struct drain_work;		/* drain_work.c */
struct drain_conns;		/* drain_conn.c */
struct drain_rate;		/* drain_rate.c */

struct drain {
	struct conf		*conf;
	char			*password[CONF_MAXROUTES]; /* each route's
						   auth_password_file's */
	volatile sig_atomic_t	*stop;		/* SIGTERM or SIGINT came:
						   finish the message at
						   hand, then stop */

	/* the spool's directories (drain.c says what each holds) */
	int			 dropfd, queuefd, statefd, failedfd;
	int			 holdfd, corruptfd;
	int			 ctlfd;		/* the control socket */
	int			 lockfd;	/* the pid file, locked */

	struct drain_q		 q;
	struct drain_stats	 stats;
	int			 outage[CONF_MAXROUTES]; /* no smarthost
						   of the route answered */

	/* renamed from drop/ to queue/, not yet fsynced (drain.c) */
	char			 moved[DRAIN_BATCH][SPOOL_IDLEN + 1];
	size_t			 nmoved;
	/* removals from queue/ since its last fsync (drain.c) */
	size_t			 unsynced;
	time_t			 unsynced_since;
	DIR			*scan;		/* drain_import_refill's pass */

	struct drain_pend	*pend;		/* drain_ctl.c */
	size_t			 npend;

	struct drain_sess	*sess;		/* this process's session */
	struct drain_work	*work;		/* NULL: no workers */
	struct drain_conns	*conns;		/* control connections */
	struct drain_rate	*rate[CONF_MAXROUTES]; /* each route's
						   rate_limit, throttling */
	int			 reloaded;	/* the workers are to read
						   the file again */
};

/*
 * The functions, file by file in the order they call each other: a
 * file calls only those below it (make layering checks that no two
 * files call each other, directly or around a circle).
 */

/* drain_work.c: delivery workers (max_sessions > 1) */
#define DRAIN_WORK_MAX	16	/* delivery workers at most (the
					   bound of max_sessions) */
struct pollfd;
int	 drain_work_start(struct drain *, char *, size_t);
int	 drain_work_begin(struct drain *, time_t);
int	 drain_work_running(const struct drain *);
size_t	 drain_work_pollfds(const struct drain *, struct pollfd *);
int	 drain_work_step(struct drain *, const struct pollfd *);
void	 drain_work_stop(struct drain *);
void	 drain_work_reload(struct drain *);

/* drain_conn.c: the control socket's connections */
#define DRAIN_CONN_MAX	32	/* control connections at once */
struct drain_conns *drain_conn_new(void);
size_t	 drain_conn_pollfds(struct drain *, struct pollfd *);
int	 drain_conn_wake(struct drain *);
void	 drain_conn_serve(struct drain *);
void	 drain_conn_end(struct drain *);

/* drain_ctl.c: the control requests */
void	 drain_ctl_one(struct drain *, FILE *, const struct ctl_req *,
	    const struct ucred *);

/* drain_conf.c: the configuration's checks, the secret, reload */
int	 drain_conf_check(const struct conf *, char *, size_t);
int	 drain_conf_passwords(const struct conf *, char **, char *, size_t);
void	 drain_conf_free_passwords(char **);
int	 drain_conf_apply(struct drain *, FILE *, int, char *, size_t);
int	 drain_conf_reload(struct drain *, const char *, FILE *, char *,
	    size_t);

/* drain_try.c: one attempt at one message, on a session */
struct drain_try {
	struct qmsg	 m;
	char		*open;		/* recipients open before it */
	double		 start, connt;	/* began; session ready */
	int		 expired;	/* queue_lifetime is over */
	size_t		 nopen;		/* recipients open before it */
	int		 rated;		/* counted by drain_rate_begin */
	const struct route *route;	/* route_for its sender */
	char		 relay[448];	/* "name[addr]:port", ", tls=VERSION/CIPHER"
					   when TLS is up; or "none" */
};
double	 drain_try_now(void);
void	 drain_try_sync(struct drain *);
void	 drain_try_defer_all(struct qmsg *, const char *, enum rcpt_status,
	    const char *);
void	 drain_try_outage(struct drain *, const struct route *, int);
int	 drain_try_held(struct drain *, size_t);
int	 drain_try_load(struct drain *, const char *, time_t,
	    struct drain_try *);
int	 drain_try_begin(struct drain *, struct drain_try *);
void	 drain_try_done(struct drain *, struct drain_try *, int,
	    const char *);

/* drain_import.c: messages into the queue table */
void	 drain_import_one(struct drain *, const char *);
void	 drain_import_commit(struct drain *);
void	 drain_import_all(struct drain *);
size_t	 drain_import_load(struct drain *);
void	 drain_import_refill(struct drain *);

/* drain_sess.c: this process's session to the smarthost */
struct drain_sess *drain_sess_new(char *const *);
void	 drain_sess_reload(struct drain_sess *);
void	 drain_sess_end(struct drain_sess *, int);
int	 drain_sess_send(struct drain_sess *, const struct conf *,
	    const struct route *, struct qmsg *, char *, size_t, char *,
	    size_t);
size_t	 drain_sess_count_sent(const struct qmsg *);
void	 drain_sess_park(struct drain_sess *);
int	 drain_sess_idle_fd(const struct drain_sess *);
time_t	 drain_sess_idle_until(const struct drain_sess *);
void	 drain_sess_idle_check(struct drain_sess *, short);

/* drain_rate.c: rate_limit and the pause after throttling replies */
int	 drain_rate_new(struct drain *);
void	 drain_rate_free(struct drain *);
int	 drain_rate_file(const struct drain *, const char *);
void	 drain_rate_load(struct drain *);
void	 drain_rate_save(struct drain *, int);
int	 drain_rate_begin(struct drain_rate *, size_t);
void	 drain_rate_end(struct drain_rate *, size_t, int);
int	 drain_rate_holding(struct drain_rate *);
int	 drain_rate_wait(struct drain *);
time_t	 drain_rate_outcome(struct drain_rate *, const struct qmsg *,
	    const char *, const char *);
void	 drain_rate_status(struct drain_rate *, FILE *, size_t);

/* drain_quar.c: corrupt/ */
int	 drain_quar_move(const struct drain *, int, const char *,
	    const char *, int, const char *, int);

/* drain_q.c: the queue table */
void	 drain_q_init(struct drain_q *, size_t);
int	 drain_q_add(struct drain_q *, const char *, time_t);
int	 drain_q_admit(struct drain_q *, const char *, time_t);
int	 drain_q_find(const struct drain_q *, const char *, size_t *);
void	 drain_q_del(struct drain_q *, size_t);
int	 drain_q_busy(const struct drain_q *, const char *);

/* drain_spool.c: the spool at start-up, and the operator's changes */
int	 drain_spool_make(const struct conf *, int *, char *, size_t);
void	 drain_spool_error(const struct conf *, char *, size_t,
	    const char *, int);
int	 drain_spool_remove(struct drain *, const char *, enum drain_where,
	    size_t, uid_t);
int	 drain_spool_move(const char *, int, int);

/* idle.c */
void	 idle_trim(void);

#endif /* DRAIN_H */
