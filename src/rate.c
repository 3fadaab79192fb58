/*
 * Sending rate limits: what a provider allows (Microsoft 365: 30
 * messages a minute; Amazon SES: N a second), kept by the daemon
 * (drain_rate.c) with the pure pieces here.
 *
 * The window.  A send is stamped when it ends, and counts from its start
 * (rate_begin: in flight) until `per' after its end (rate_end).  A new
 * send may start when what is in flight plus what ended in the last
 * `per' leaves room for it.  Stamping the end, not the start, is what
 * keeps the provider's count within the limit whatever the latency:
 * for any N+1 sends whose transactions reach the server within `per' of
 * each other, the last to start found the N others in flight or ended
 * less than `per' before, and waited.  The ring holds at most `max'
 * stamps (each counts at least one), grown as needed.
 *
 * Recipients are counted the same way, each stamp carrying a message's
 * recipients.  A message with more recipients than the whole budget
 * still goes, alone, once the window is empty: a limit must delay mail,
 * never keep it forever.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "rate.h"

#define RATE_LINE_MAX	64	/* a line of the saved form */

/*
 * "N/s", "N/min" or "N/h", N from 1 to RATE_MAX, into *max and *per
 * (ms).  -1 with a message naming the value.
 */
int
rate_parse(const char *v, unsigned long *max, long long *per, char *err,
    size_t errsz)
{
	static const struct {
		const char	*unit;
		long long	 ms;
	} units[] = { { "s", 1000 }, { "min", 60000 }, { "h", 3600000 } };
	char		 num[16];
	const char	*slash, *errstr;
	long long	 n;
	size_t		 i, len;

	if ((slash = strchr(v, '/')) == NULL)
		goto bad;
	len = (size_t)(slash - v);
	if (len == 0 || len >= sizeof(num) || strspn(v, "0123456789") != len)
		goto bad;
	memcpy(num, v, len);
	num[len] = '\0';
	n = strtonum(num, 1, (long long)RATE_MAX, &errstr);
	if (errstr != NULL)
		goto bad;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(slash + 1, units[i].unit) == 0) {
			*max = (unsigned long)n;
			*per = units[i].ms;
			return 0;
		}
 bad:
	(void)snprintf(err, errsz, "\"%.40s\" is not N/s, N/min or N/h "
	    "(N from 1 to %lu), e.g. 30/min", v, RATE_MAX);
	return -1;
}

/* An empty window of at most `max' per `per' ms; max 0: no limit. */
void
rate_init(struct rate *r, unsigned long max, long long per)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
	r->per = per;
}

void
rate_free(struct rate *r)
{
	free(r->ring);
	r->ring = NULL;
	r->cap = r->len = r->head = 0;
	r->sum = 0;
}

static const struct rate_stamp *
rate_at(const struct rate *r, size_t i)
{
	return &r->ring[(r->head + i) % r->cap];
}

static void
rate_pop(struct rate *r)
{
	r->sum -= r->ring[r->head].n;
	r->head = (r->head + 1) % r->cap;
	r->len--;
}

/* Forget the stamps that left the window by `now'. */
static void
rate_expire(struct rate *r, long long now)
{
	while (r->len > 0 && r->ring[r->head].t + r->per <= now)
		rate_pop(r);
}

/*
 * Append a stamp; stamps come in time order (rate_load checks it of a
 * saved file).  When the ring is full at `max' stamps, or cannot grow,
 * or the stamps count more than `max' (but for one oversized send
 * alone), the oldest go: only a caller that did not wait, or a forged
 * file, gets there.
 */
static void
rate_push(struct rate *r, long long t, unsigned long n)
{
	struct rate_stamp	*nr;
	size_t			 ncap, i;

	rate_expire(r, t);
	if (r->len == r->cap && r->cap < r->max) {
		ncap = r->cap < 8 ? 8 : r->cap * 2;
		if (ncap > r->max)
			ncap = r->max;
		if ((nr = reallocarray(NULL, ncap, sizeof(*nr))) != NULL) {
			for (i = 0; i < r->len; i++)
				nr[i] = *rate_at(r, i);
			free(r->ring);
			r->ring = nr;
			r->cap = ncap;
			r->head = 0;
		}
	}
	if (r->cap == 0)
		return;
	if (r->len == r->cap)
		rate_pop(r);
	r->ring[(r->head + r->len) % r->cap] = (struct rate_stamp){ t, n };
	r->len++;
	r->sum += n;
	while (r->len > 1 && r->sum > r->max)
		rate_pop(r);
}

/* In flight plus ended within `per' before `now' (relayq status). */
unsigned long
rate_count(const struct rate *r, long long now)
{
	unsigned long	 s = r->inflight;
	size_t		 i;

	for (i = 0; i < r->len; i++)
		if (rate_at(r, i)->t + r->per > now)
			s += rate_at(r, i)->n;
	return s;
}

/*
 * The earliest time (ms) at or after `now' when a send counting `n' may
 * start.  Only what is in flight holding it back: `now' + per, a bound
 * (the caller waits for the sends in flight to end, then asks again).
 */
long long
rate_next(const struct rate *r, long long now, unsigned long n)
{
	unsigned long	 s;
	long long	 t = now;
	size_t		 i;

	if (r->max == 0)
		return now;
	s = rate_count(r, now);
	for (i = 0; ; i++) {
		if (s == 0 || s + n <= r->max)
			return t;
		if (i == r->len)
			return now + r->per;
		if (rate_at(r, i)->t + r->per <= now)
			continue;	/* not counted in s */
		s -= rate_at(r, i)->n;
		t = rate_at(r, i)->t + r->per;
	}
}

/* A send counting `n' starts. */
void
rate_begin(struct rate *r, unsigned long n)
{
	if (r->max != 0)
		r->inflight += n;
}

/*
 * A send counting `n' that rate_begin started has ended at `now'; it
 * counts in the window when `counted' (it reached the server).
 */
void
rate_end(struct rate *r, long long now, unsigned long n, int counted)
{
	if (r->max == 0)
		return;
	r->inflight -= n < r->inflight ? n : r->inflight;
	if (counted)
		rate_push(r, now, n);
}

/*
 * "rate" or "throttl" in a reply's text, as the start of a word: "Rate
 * limit exceeded", "ratelimited", "Throttling failure", "sending rates";
 * not "separate", "generate", "moderate", "ratio", "rated".
 */
static int
rate_word(const char *s)
{
	const char	*p;
	size_t		 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i > 0 && isalpha((unsigned char)s[i - 1]))
			continue;
		p = s + i;
		if (strncasecmp(p, "throttl", 7) == 0)
			return 1;
		if (strncasecmp(p, "rate", 4) != 0)
			continue;
		p += 4;
		if (tolower((unsigned char)*p) == 's')
			p++;
		if (!isalpha((unsigned char)*p) ||
		    strncasecmp(p, "limit", 5) == 0)
			return 1;
	}
	return 0;
}

/*
 * Is this reply ("CODE[ -][X.Y.Z ]text", as recorded for a recipient) a
 * provider throttling the sender, for which the whole route waits?
 * 421, 451, 452 or 454 with an enhanced code 4.7.x (Microsoft 365's
 * "451 4.7.500 Server busy", "421 4.7.0 Try again later") or a text
 * about the rate (Amazon SES's "454 Throttling failure: Maximum sending
 * rate exceeded").  Not "452 4.5.3 Too many recipients" (the per-message
 * limit, retried at once in a new transaction) and not 450 (Gmail's
 * "450 4.2.1 ... receiving mail at a rate ...": one recipient's mailbox,
 * deferred on its own).
 */
int
rate_throttle(const char *reply)
{
	const char	*p;

	if (strncmp(reply, "421", 3) != 0 && strncmp(reply, "451", 3) != 0 &&
	    strncmp(reply, "452", 3) != 0 && strncmp(reply, "454", 3) != 0)
		return 0;
	if (reply[3] != ' ' && reply[3] != '-' && reply[3] != '\0')
		return 0;
	p = reply + 3;
	p += strspn(p, " -");
	if (strncmp(p, "4.7.", 4) == 0 && isdigit((unsigned char)p[4]))
		return 1;
	return rate_word(p);
}

/*
 * The saved form (the daemon's state/rate; relayq-spool(5)):
 *
 *	RELAYQ-RATE 1
 *	P PAUSED_UNTIL_MS BACKOFF_S	sending paused by a throttling reply
 *	M END_MS N			a stamp of the messages' window
 *	R END_MS N			a stamp of the recipients' window
 *	.
 *
 * Stamps in time order, each window's own.
 */
static int
rate_save_ring(FILE *fp, char kind, const struct rate *r)
{
	size_t	 i;

	for (i = 0; i < r->len; i++)
		if (fprintf(fp, "%c %lld %lu\n", kind, rate_at(r, i)->t,
		    rate_at(r, i)->n) < 0)
			return -1;
	return 0;
}

int
rate_save(FILE *fp, const struct rate *msg, const struct rate *rcpt,
    long long paused, long long backoff)
{
	if (fprintf(fp, "RELAYQ-RATE 1\nP %lld %lld\n", paused, backoff) < 0 ||
	    rate_save_ring(fp, 'M', msg) == -1 ||
	    rate_save_ring(fp, 'R', rcpt) == -1 || fprintf(fp, ".\n") < 0)
		return -1;
	return 0;
}

/* "NUMBER NUMBER" after the record letter, each from 0 to `hi' */
static int
rate_load_pair(const char *s, long long *a, long long *b, long long hi)
{
	char		 w[2][24];
	const char	*errstr;
	size_t		 i, n;

	for (i = 0; i < 2; i++) {
		if (*s++ != ' ')
			return -1;
		n = strspn(s, "0123456789");
		if (n == 0 || n >= sizeof(w[i]))
			return -1;
		memcpy(w[i], s, n);
		w[i][n] = '\0';
		s += n;
	}
	if (*s != '\0')
		return -1;
	*a = strtonum(w[0], 0, hi, &errstr);
	if (errstr != NULL)
		return -1;
	*b = strtonum(w[1], 0, hi, &errstr);
	return errstr == NULL ? 0 : -1;
}

/*
 * Read the saved form into the windows `msg' and `rcpt' (set up with
 * rate_init, empty) and the pause; stamps that left their window by
 * `now' are dropped, and so are those of a window now without a limit.
 * A stamp more than a minute in the future (a clock set back, a forged
 * file) would hold mail back: refused.  -1 with `err' naming the line;
 * the caller then clears the windows and starts without them.
 */
int
rate_load(struct rate *msg, struct rate *rcpt, long long *paused,
    long long *backoff, long long now, const char *buf, size_t len,
    char *err, size_t errsz)
{
	char		 line[RATE_LINE_MAX + 1];
	const char	*nl;
	struct rate	*r;
	long long	 a, b, last[2] = { 0, 0 };
	size_t		 n, lineno = 0;
	int		 k, end = 0;

	*paused = *backoff = 0;
	while (len > 0) {
		lineno++;
		if (end) {
			(void)snprintf(err, errsz, "line %zu: data after the "
			    "end marker", lineno);
			return -1;
		}
		n = (nl = memchr(buf, '\n', len)) != NULL ?
		    (size_t)(nl - buf) : len;
		if (nl == NULL || n > RATE_LINE_MAX || memchr(buf, '\0', n)) {
			(void)snprintf(err, errsz, "line %zu: %s", lineno,
			    nl == NULL ? "no newline" : "bad line");
			return -1;
		}
		memcpy(line, buf, n);
		line[n] = '\0';
		buf += n + 1;
		len -= n + 1;
		if (lineno == 1) {
			if (strcmp(line, "RELAYQ-RATE 1") != 0) {
				(void)snprintf(err, errsz, "line 1: not "
				    "\"RELAYQ-RATE 1\"");
				return -1;
			}
			continue;
		}
		if (strcmp(line, ".") == 0) {
			end = 1;
			continue;
		}
		if ((line[0] != 'P' && line[0] != 'M' && line[0] != 'R') ||
		    rate_load_pair(line + 1, &a, &b, (long long)1 << 53) == -1)
			goto bad;
		if (line[0] == 'P') {
			*paused = a;
			*backoff = b;
			continue;
		}
		k = line[0] == 'R';
		r = k ? rcpt : msg;
		if (b < 1 || b > 1000000000 || a < last[k] || a > now + 60000)
			goto bad;
		last[k] = a;
		if (r->max != 0 && a + r->per > now)
			rate_push(r, a, (unsigned long)b);
	}
	if (!end) {
		(void)snprintf(err, errsz, "no end marker");
		return -1;
	}
	return 0;
 bad:
	(void)snprintf(err, errsz, "line %zu: bad record", lineno);
	return -1;
}

/*
 * The files in state/ that keep the windows (relayq-spool(5)): "rate"
 * for the default route, "rate.NAME" for route NAME.  The route that
 * file `name' belongs to ("default" for "rate"), or NULL when `name' is
 * not one of them (a message's state file, a temporary file).
 */
const char *
rate_file_route(const char *name)
{
	static const char	 pre[] = SPOOL_RATE_FILE ".";

	if (strcmp(name, SPOOL_RATE_FILE) == 0)
		return "default";
	if (strncmp(name, pre, sizeof(pre) - 1) != 0 ||
	    !route_name_ok(name + sizeof(pre) - 1) ||
	    strcmp(name + sizeof(pre) - 1, "default") == 0)
		return NULL;
	return name + sizeof(pre) - 1;
}
