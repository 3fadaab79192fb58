#ifndef DRAIN_H
#define DRAIN_H

/* The drain daemon's entry point. */
int	 drain_main(struct conf *, int);

/*
 * Shared between drain.c (import, delivery, start-up) and drainctl.c
 * (control requests): the daemon's queue table and spool descriptors.
 * One process, one thread: no locking.
 */
struct drain_ent {
	char	 id[SPOOL_IDLEN + 1];
	time_t	 next;		/* due at; 0 = now */
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

extern struct conf		*drain_conf;
extern int			 drain_dropfd, drain_queuefd, drain_statefd;
extern int			 drain_holdfd, drain_ctlfd, drain_lockfd;
extern struct drain_ent		*drain_q;
extern size_t			 drain_nq;
extern struct drain_stats	 drain_stats;

/* drainspool.c */
int	 drain_spool_make(const char *, int *, char *, size_t);
void	 drain_spool_error(char *, size_t, const char *, int);

/* idle.c */
void	 idle_trim(void);

/* One attempt at one message (drain.c), on a session (drainsess.c). */
struct drain_try {
	struct qmsg	 m;
	char		*open;		/* recipients open before it */
	double		 start, connt;	/* began; session ready */
	int		 expired;	/* queue_lifetime is over */
	char		 relay[448];	/* "name[addr]:port", ", tls=VERSION/CIPHER"
					   when TLS is up; or "none" */
};

extern char			*drain_password;

int	 drain_stopping(void);
void	 drain_defer_all(struct qmsg *, const char *, enum rcpt_status,
	    const char *);
void	 drain_outage_note(int);
int	 drain_try_load(const char *, time_t, struct drain_try *);
void	 drain_try_done(struct drain_try *, int, const char *);

/* drainsess.c */
void	 drain_sess_end(int);
int	 drain_sess_send(struct qmsg *, char *, size_t, char *, size_t);
size_t	 drain_count_sent(const struct qmsg *);
void	 drain_sess_park(void);
int	 drain_sess_idle_fd(void);
time_t	 drain_sess_idle_until(void);
void	 drain_sess_idle_check(short);

/* drainquar.c */
extern int	 drain_corruptfd;
int	 drain_quarantine(int, const char *, const char *, int, const char *,
	    int);

/* drainwork.c */
int	 drain_work_start(char *, size_t);
int	 drain_work_run(time_t);
int	 drain_work_busy(const char *);
void	 drain_work_stop(void);

extern int			 drain_backlog;
extern time_t			 drain_flushed;	/* last flush of all */
extern size_t			 drain_limit;	/* active_queue_limit */

int	 drain_add(const char *, time_t);
int	 drain_admit(const char *, time_t);
int	 drain_find(const char *, size_t *);
void	 drain_del(size_t);
void	 drain_each(int, void (*)(const char *));

/* drainctl.c */
void	 drain_ctl_one(FILE *, const struct ctl_req *, const struct ucred *);
void	 drain_ctl_after_try(const char *);

/* drainconn.c */
#define DRAIN_CONN_MAX	32	/* control connections at once */
struct pollfd;
size_t	 drain_conn_pollfds(struct pollfd *);
int	 drain_conn_wake(void);
void	 drain_conn_serve(void);
void	 drain_conn_end(void);

#endif /* DRAIN_H */
