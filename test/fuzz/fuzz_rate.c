/*
 * The sending rate limits (rate.c): the daemon's saved windows
 * (rate_load), and, on a NUL-terminated copy of the same bytes, a
 * rate_limit value (rate_parse), a server reply (rate_throttle) and a
 * name in state/ (rate_file_route).
 * Oracle: a window read back never holds more than its limit (but for
 * one oversized message alone), never asks to wait before `now' or more
 * than its period after it, and saving then loading it again gives the
 * same counts and pause; a state/ name gives a route only when it is
 * "rate" or "rate." and a name route_name_ok takes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "rate.h"
#include "fuzz.h"

#define NOW	1700000000000LL

static void
fuzz_check(const struct rate *r)
{
	long long	 next = rate_next(r, NOW, 1);

	if (r->len > 1 && rate_count(r, NOW) > r->max)
		abort();
	if (next < NOW || next > NOW + r->per)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rate	 m, r, m2, r2;
	char		 err[256], *s, *buf = NULL;
	const char	*route;
	unsigned long	 max;
	long long	 per, paused, backoff, p2, b2;
	size_t		 len = 0;
	FILE		*fp;

	rate_init(&m, 3, 1000);
	rate_init(&r, 10, 60000);
	if (rate_load(&m, &r, &paused, &backoff, NOW, (const char *)data,
	    size, err, sizeof(err)) == 0) {
		fuzz_check(&m);
		fuzz_check(&r);
		if ((fp = open_memstream(&buf, &len)) == NULL ||
		    rate_save(fp, &m, &r, paused, backoff) == -1)
			abort();
		(void)fclose(fp);
		rate_init(&m2, 3, 1000);
		rate_init(&r2, 10, 60000);
		if (rate_load(&m2, &r2, &p2, &b2, NOW, buf, len, err,
		    sizeof(err)) == -1 || p2 != paused || b2 != backoff ||
		    rate_count(&m2, NOW) != rate_count(&m, NOW) ||
		    rate_count(&r2, NOW) != rate_count(&r, NOW))
			abort();
		rate_free(&m2);
		rate_free(&r2);
		free(buf);
	}
	rate_free(&m);
	rate_free(&r);
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (rate_parse(s, &max, &per, err, sizeof(err)) == 0 &&
	    (max < 1 || max > RATE_MAX || (per != 1000 && per != 60000 &&
	    per != 3600000)))
		abort();
	(void)rate_throttle(s);
	if ((route = rate_file_route(s)) != NULL &&
	    (!route_name_ok(route) || (strcmp(s, "rate") != 0 &&
	    strncmp(s, "rate.", 5) != 0)))
		abort();
	free(s);
	return 0;
}
