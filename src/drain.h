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
extern int			 drain_holdfd, drain_ctlfd;
extern struct drain_ent		*drain_q;
extern size_t			 drain_nq;
extern struct drain_stats	 drain_stats;

/* idle.c */
void	 idle_trim(void);

int	 drain_add(const char *, time_t);
int	 drain_find(const char *, size_t *);
void	 drain_del(size_t);
void	 drain_each(int, void (*)(const char *));
void	 drain_ctl_serve(void);

#endif /* DRAIN_H */
