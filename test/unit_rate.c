/*
 * Unit tests for the sending rate limits (src/rate.c): the N/s, N/min,
 * N/h values, the sliding window (messages and recipients, sends in
 * flight, the oversized message that must still go), the classifier of
 * throttling replies with the texts providers send, and the saved form
 * read back after a restart.  Linked into test/unit; main() there calls
 * test_rate().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "rate.h"
#include "unit.h"

#define T0	1700000000000LL		/* some time, in ms */

static void
test_rate_parse(void)
{
	static const char *const bad[] = {
		"0/s", "1000001/s", "30/minute", "30", "/s", "-1/s", "30 /min",
		"x/s", "30/", "30/S", "1e3/s", "99999999999999999999/s", "30/m",
	};
	unsigned long	 max;
	long long	 per;
	char		 err[256], name[64];
	size_t		 i;

	CASE("rate: N/s, N/min, N/h");
	EXPECT_INT("5/s rc", rate_parse("5/s", &max, &per, err, sizeof(err)),
	    0);
	EXPECT_INT("5/s max", max, 5);
	EXPECT_INT("5/s per", per, 1000);
	EXPECT_INT("30/min rc", rate_parse("30/min", &max, &per, err,
	    sizeof(err)), 0);
	EXPECT_INT("30/min max", max, 30);
	EXPECT_INT("30/min per", per, 60000);
	EXPECT_INT("1000000/h rc", rate_parse("1000000/h", &max, &per, err,
	    sizeof(err)), 0);
	EXPECT_INT("1000000/h per", per, 3600000);
	END();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(name, sizeof(name), "rate: \"%s\" refused, "
		    "named", bad[i]);
		CASE(name);
		err[0] = '\0';
		EXPECT_INT("rc", rate_parse(bad[i], &max, &per, err,
		    sizeof(err)), -1);
		EXPECT_HAS("err", err, "is not N/s, N/min or N/h");
		EXPECT_HAS("err names the value", err, bad[i]);
		END();
	}
	CASE("rate: state/ file names of the routes' windows");
	{
		static const char *const notours[] = { "rate.", "rate.a.tmp",
		    "rate.default", "rate.A", "rate.x!", "ratex", "rat",
		    "1LH0000000000001", "rate.default.tmp",
		    "rate.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
		const char	*r;

		EXPECT_STR("rate: the default route", rate_file_route("rate"),
		    "default");
		r = rate_file_route("rate.work-1");
		EXPECT_STR("rate.NAME: route NAME", r != NULL ? r : "(null)",
		    "work-1");
		for (i = 0; i < sizeof(notours) / sizeof(notours[0]); i++) {
			r = rate_file_route(notours[i]);
			EXPECT(r == NULL, "%s: route \"%s\"", notours[i], r);
		}
	}
	END();
	CASE("rate: relayq.conf rate_limit error names key and value");
	{
		struct conf	 c;

		conf_init(&c);
		EXPECT_INT("rc", conf_set(&c, "rate_limit", "30/minute", err,
		    sizeof(err)), -1);
		EXPECT_HAS("err", err, "rate_limit: \"30/minute\" is not");
		EXPECT_INT("good rc", conf_set(&c, "rate_limit_recipients",
		    "100/h", err, sizeof(err)), 0);
		EXPECT_STR("kept as written", c.route[0].rate_limit_recipients,
		    "100/h");
		conf_free(&c);
	}
	END();
}

/* one whole send at `t' counting `n' */
static void
rate_send(struct rate *r, long long t, unsigned long n)
{
	rate_begin(r, n);
	rate_end(r, t, n, 1);
}

static void
test_rate_window(void)
{
	struct rate	 r;
	long long	 t;
	int		 i;

	CASE("rate: 5/s: the sixth waits for the first to leave the window");
	rate_init(&r, 5, 1000);
	for (i = 0; i < 5; i++) {
		t = T0 + i * 100;
		EXPECT_INT("room", rate_next(&r, t, 1), t);
		rate_send(&r, t, 1);
	}
	EXPECT_INT("count", rate_count(&r, T0 + 450), 5);
	EXPECT_INT("sixth", rate_next(&r, T0 + 450, 1), T0 + 1000);
	EXPECT_INT("at 1000", rate_next(&r, T0 + 1000, 1), T0 + 1000);
	EXPECT_INT("count at 1000", rate_count(&r, T0 + 1000), 4);
	rate_send(&r, T0 + 1000, 1);
	EXPECT_INT("seventh", rate_next(&r, T0 + 1000, 1), T0 + 1100);
	rate_free(&r);
	END();

	CASE("rate: a send in flight counts");
	rate_init(&r, 2, 1000);
	rate_begin(&r, 1);
	rate_begin(&r, 1);
	EXPECT(rate_next(&r, T0, 1) > T0, "third started with two in flight");
	rate_end(&r, T0 + 10, 1, 1);
	EXPECT(rate_next(&r, T0 + 10, 1) > T0 + 10, "one ended, one in flight");
	rate_end(&r, T0 + 20, 1, 0);	/* never reached the server */
	EXPECT_INT("not counted", rate_next(&r, T0 + 20, 1), T0 + 20);
	rate_free(&r);
	END();

	CASE("rate: recipients: 10/min, 4 each: the third waits");
	rate_init(&r, 10, 60000);
	rate_send(&r, T0, 4);
	rate_send(&r, T0 + 5, 4);
	EXPECT_INT("third", rate_next(&r, T0 + 10, 4), T0 + 60000);
	EXPECT_INT("a 2-recipient one fits", rate_next(&r, T0 + 10, 2),
	    T0 + 10);
	rate_free(&r);
	END();

	CASE("rate: more recipients than the budget: alone, never stuck");
	rate_init(&r, 10, 60000);
	EXPECT_INT("empty window: goes", rate_next(&r, T0, 25), T0);
	rate_send(&r, T0, 25);
	EXPECT_INT("the next waits", rate_next(&r, T0 + 1, 1), T0 + 60000);
	rate_send(&r, T0 + 60000, 3);
	EXPECT_INT("25 again: when the 3 leave", rate_next(&r, T0 + 60001, 25),
	    T0 + 120000);
	rate_free(&r);
	END();

	CASE("rate: no limit: always now, nothing kept");
	rate_init(&r, 0, 0);
	rate_send(&r, T0, 1);
	EXPECT_INT("next", rate_next(&r, T0, 1000), T0);
	EXPECT_INT("kept", r.len, 0);
	END();

	CASE("rate: the ring grows to N and no further");
	rate_init(&r, 100, 1000);
	for (i = 0; i < 300; i++)
		rate_send(&r, T0 + i, 1);	/* a caller not waiting */
	EXPECT_INT("cap", r.cap, 100);
	EXPECT_INT("len", r.len, 100);
	EXPECT_INT("count", rate_count(&r, T0 + 300), 100);
	EXPECT_INT("next", rate_next(&r, T0 + 300, 1), T0 + 200 + 1000);
	rate_free(&r);
	END();
}

static void
test_rate_throttle(void)
{
	static const struct {
		const char	*reply;
		int		 want;
	} c[] = {
		/* Postfix's anvil, Gmail */
		{ "421 4.7.0 Try again later, closing connection", 1 },
		/* Microsoft 365 */
		{ "451 4.7.500 Server busy. Please try again later", 1 },
		/* Amazon SES, no enhanced code */
		{ "454 Throttling failure: Maximum sending rate exceeded", 1 },
		{ "421 Rate limit exceeded", 1 },
		{ "451 4.3.2 ratelimited, try later", 1 },
		{ "452 4.3.1 sending rates exceeded", 1 },
		{ "421-4.7.28 an unusual rate of mail", 1 },
		/* the per-message recipient limit: retried at once */
		{ "452 4.5.3 Too many recipients", 0 },
		/* one mailbox receiving too fast (Gmail): not the route */
		{ "450 4.2.1 rate limited", 0 },
		{ "451 4.3.0 separate problem: generate report", 0 },
		{ "451 4.3.0 moderate load, accurate corporate ratio", 0 },
		{ "451 4.3.0 rated", 0 },
		{ "452 4.2.2 Mailbox full", 0 },
		{ "550 5.7.1 rate limit: refused for good", 0 },
		{ "250 2.0.0 Ok: rate", 0 },
		{ "4210 4.7.0 x", 0 },
		{ "421", 0 },
		{ "", 0 },
	};
	char	 name[128];
	size_t	 i;

	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		(void)snprintf(name, sizeof(name), "rate: throttling? \"%.60s\"",
		    c[i].reply);
		CHECK(name, rate_throttle(c[i].reply) == c[i].want,
		    "expected %d", c[i].want);
	}
}

static void
test_rate_saved(void)
{
	static const char *const bad[] = {
		"",
		"RELAYQ-RATE 2\n.\n",
		"RELAYQ-RATE 1\n",				/* no end */
		"RELAYQ-RATE 1\n.\nM 1700000000000 1\n",	/* after end */
		"RELAYQ-RATE 1\nM 1700000000500 1\nM 1700000000400 1\n.\n",
		"RELAYQ-RATE 1\nM 1700000100000 1\n.\n",	/* future */
		"RELAYQ-RATE 1\nM 1700000000000 0\n.\n",
		"RELAYQ-RATE 1\nM 1700000000000 1 2\n.\n",
		"RELAYQ-RATE 1\nM -5 1\n.\n",
		"RELAYQ-RATE 1\nX 1 1\n.\n",
		"RELAYQ-RATE 1\nM 1700000000000  1\n.\n",
		"RELAYQ-RATE 1\nP 99999999999999999999 1\n.\n",
		"RELAYQ-RATE 1\n.",				/* no newline */
	};
	struct rate	 m, r, m2, r2;
	char		*buf = NULL, err[256], name[64];
	size_t		 len = 0, i;
	long long	 paused, backoff;
	FILE		*fp;
	int		 rc;

	CASE("rate: saved and read back: windows and pause");
	rate_init(&m, 5, 1000);
	rate_init(&r, 20, 60000);
	rate_send(&m, T0 - 2000, 1);	/* out of the window by then */
	rate_send(&m, T0 - 500, 1);
	rate_send(&m, T0 - 100, 1);
	rate_send(&r, T0 - 2000, 7);
	rate_send(&r, T0 - 100, 3);
	if ((fp = open_memstream(&buf, &len)) == NULL)
		abort();
	EXPECT_INT("save", rate_save(fp, &m, &r, T0 + 30000, 120), 0);
	(void)fclose(fp);
	rate_init(&m2, 5, 1000);
	rate_init(&r2, 20, 60000);
	rc = rate_load(&m2, &r2, &paused, &backoff, T0, buf, len, err,
	    sizeof(err));
	EXPECT_INT("load", rc, 0);
	EXPECT_INT("messages", rate_count(&m2, T0), 2);
	EXPECT_INT("recipients", rate_count(&r2, T0), 10);
	EXPECT_INT("paused", paused, T0 + 30000);
	EXPECT_INT("backoff", backoff, 120);
	EXPECT_INT("next", rate_next(&m2, T0, 4), T0 + 500);
	rate_free(&m2);
	rate_free(&r2);
	END();

	CASE("rate: saved windows into a smaller limit, or none");
	rate_init(&m2, 1, 1000);
	rate_init(&r2, 0, 0);
	EXPECT_INT("load", rate_load(&m2, &r2, &paused, &backoff, T0, buf, len,
	    err, sizeof(err)), 0);
	EXPECT_INT("newest kept", rate_count(&m2, T0), 1);
	EXPECT_INT("at", rate_next(&m2, T0, 1), T0 + 900);
	EXPECT_INT("no limit: none kept", r2.len, 0);
	rate_free(&m2);
	END();
	free(buf);
	rate_free(&m);
	rate_free(&r);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)snprintf(name, sizeof(name), "rate: corrupt saved form "
		    "%zu refused", i);
		CASE(name);
		rate_init(&m2, 5, 1000);
		rate_init(&r2, 5, 1000);
		err[0] = '\0';
		EXPECT_INT("rc", rate_load(&m2, &r2, &paused, &backoff, T0,
		    bad[i], strlen(bad[i]), err, sizeof(err)), -1);
		EXPECT(err[0] != '\0', "no message");
		rate_free(&m2);
		rate_free(&r2);
		END();
	}
}

void
test_rate(void)
{
	test_rate_parse();
	test_rate_window();
	test_rate_throttle();
	test_rate_saved();
}
