/*
 * Sending rate limits (rate.c): the `N/s', `N/min', `N/h' values of
 * rate_limit and rate_limit_recipients, a sliding window of send times,
 * the classifier of a provider's throttling replies, and the text form
 * in which the daemon keeps its windows across restarts.  Pure: no
 * clock, no files; the daemon (drain_rate.c) owns those.
 */
#ifndef RATE_H
#define RATE_H

#include <stddef.h>
#include <stdio.h>

#define RATE_MAX	1000000UL	/* N in N/s, N/min, N/h at most */

/* one send: when it ended (ms since the epoch) and what it counted */
struct rate_stamp {
	long long	 t;
	unsigned long	 n;
};

/*
 * At most `max' counted in any `per' ms: the stamps of the sends that
 * ended in the last `per' ms (a ring, oldest at `head'), their sum, and
 * what is in flight (started, not ended).  max 0: no limit.
 */
struct rate {
	unsigned long		 max;
	long long		 per;
	struct rate_stamp	*ring;
	size_t			 cap, head, len;
	unsigned long		 sum;
	unsigned long		 inflight;
};

int		 rate_parse(const char *, unsigned long *, long long *,
		    char *, size_t);
void		 rate_init(struct rate *, unsigned long, long long);
void		 rate_free(struct rate *);
long long	 rate_next(const struct rate *, long long, unsigned long);
void		 rate_begin(struct rate *, unsigned long);
void		 rate_end(struct rate *, long long, unsigned long, int);
unsigned long	 rate_count(const struct rate *, long long);
int		 rate_throttle(const char *);
int		 rate_save(FILE *, const struct rate *, const struct rate *,
		    long long, long long);
int		 rate_load(struct rate *, struct rate *, long long *,
		    long long *, long long, const char *, size_t, char *,
		    size_t);
const char	*rate_file_route(const char *);

#endif /* RATE_H */
