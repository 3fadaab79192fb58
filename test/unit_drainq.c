/*
 * Unit tests for src/drain_q.c, the daemon's queue table: random adds,
 * finds and deletes checked against a plain array, and a start-up load of
 * 100 000 messages that must take linear time (the table used to search
 * every entry for a duplicate on each insert: quadratic).
 * Linked into test/unit (with src/drain_q.o); its table of groups runs
 * test_drainq().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relayq.h"
#include "drain.h"
#include "unit.h"

#define DQ_IDS	5000

static struct drain_q	 dq;	/* the table under test */

static void
dq_id(char *buf, size_t sz, size_t n)
{
	(void)snprintf(buf, sz, "1LGE%012zu", n);
}

/* every entry is found at its own position, and only the live ones */
static int
dq_consistent(const char *live)
{
	char	 id[SPOOL_IDLEN + 1];
	size_t	 i, qi, n = 0;

	for (i = 0; i < dq.nq; i++)
		if (drain_q_find(&dq, dq.q[i].id, &qi) == -1 || qi != i)
			return 0;
	for (i = 0; i < DQ_IDS; i++) {
		dq_id(id, sizeof(id), i);
		if ((drain_q_find(&dq, id, &qi) == 0) != live[i])
			return 0;
		if (live[i] && (strcmp(dq.q[qi].id, id) != 0 ||
		    dq.q[qi].next != (time_t)i))
			return 0;
		n += live[i];
	}
	return n == dq.nq;
}

static void
dq_clear(void)
{
	while (dq.nq > 0)
		drain_q_del(&dq, 0);
}

static void
test_drainq_random(void)
{
	static char	 live[DQ_IDS];
	char		 id[SPOOL_IDLEN + 1];
	size_t		 i, k, qi;
	int		 ok = 1;

	CASE("drainq: random add/find/delete agree with a plain array");
	srandom(42);
	for (k = 0; k < 200000 && ok; k++) {
		i = (size_t)random() % DQ_IDS;
		dq_id(id, sizeof(id), i);
		if (random() % 3 != 0) {
			/* adding a queued id again only updates its time */
			EXPECT_INT("drain_q_add", drain_q_add(&dq, id,
			    (time_t)i), 0);
			live[i] = 1;
		} else if (drain_q_find(&dq, id, &qi) == 0) {
			drain_q_del(&dq, qi);
			live[i] = 0;
		}
		if (k % 20000 == 0)
			ok = dq_consistent(live);
	}
	EXPECT_INT("table and index consistent", ok && dq_consistent(live), 1);
	dq_clear();
	EXPECT_INT("empty after deleting all", dq.nq, 0);
	END();
}

static void
test_drainq_large(void)
{
	char		 id[SPOOL_IDLEN + 1];
	struct timespec	 t0, t1;
	size_t		 i, qi;
	double		 secs;
	int		 rc = 0;

	CASE("drainq: loading 100000 messages takes linear time");
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 100000 && rc == 0; i++) {
		dq_id(id, sizeof(id), i * 7919);
		rc = drain_q_add(&dq, id, 0);
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) /
	    1e9;
	EXPECT_INT("drain_q_add", rc, 0);
	EXPECT_INT("entries", dq.nq, 100000);
	dq_id(id, sizeof(id), 99999 * 7919);
	EXPECT_INT("last one found", drain_q_find(&dq, id, &qi) == 0 &&
	    qi == 99999, 1);
	/* quadratic was 5e9 compares, tens of seconds; linear is ~20 ms */
	EXPECT_INT("under 2 s even on a loaded machine", secs < 2.0, 1);
	dq_clear();
	END();
}

/* active_queue_limit: past it a new id is left for a scan, a held one
   still gets its new time */
static void
test_drainq_admit(void)
{
	char	 id[SPOOL_IDLEN + 1];
	size_t	 i, qi;
	int	 rc[5];

	CASE("drainq: drain_q_admit stops at the limit and says so");
	dq.limit = 3;
	dq.backlog = 0;
	for (i = 0; i < 5; i++) {
		dq_id(id, sizeof(id), i);
		rc[i] = drain_q_admit(&dq, id, 0);
	}
	EXPECT_INT("the first three taken", rc[0] == 0 && rc[1] == 0 &&
	    rc[2] == 0, 1);
	EXPECT_INT("the fourth left", rc[3], 1);
	EXPECT_INT("the fifth left", rc[4], 1);
	EXPECT_INT("entries", dq.nq, 3);
	EXPECT_INT("backlog noted", dq.backlog, 1);
	dq_id(id, sizeof(id), 1);
	EXPECT_INT("a held one, full table: updated",
	    drain_q_admit(&dq, id, 77), 0);
	EXPECT_INT("its new time", drain_q_find(&dq, id, &qi) == 0 &&
	    dq.q[qi].next == 77, 1);
	dq_id(id, sizeof(id), 4);
	EXPECT_INT("drain_q_add goes past the limit (operator requests)",
	    drain_q_add(&dq, id, 0) == 0 && dq.nq == 4, 1);
	dq_clear();
	dq.limit = SIZE_MAX;
	dq.backlog = 0;
	END();
}

/* the route an entry is known to take (drain_try_held) starts unknown,
   stays with a new due time, and moves with the entry on a delete */
static void
test_drainq_route(void)
{
	char	 id[SPOOL_IDLEN + 1];
	size_t	 qi;

	CASE("drainq: an entry's route starts unknown and moves with it");
	dq_id(id, sizeof(id), 0);
	(void)drain_q_add(&dq, id, 0);
	dq.q[0].route = 3;
	dq_id(id, sizeof(id), 1);
	(void)drain_q_add(&dq, id, 0);
	EXPECT_INT("a new entry: unknown", dq.q[1].route, 0);
	dq.q[1].route = 2;
	EXPECT_INT("a new due time keeps it", drain_q_add(&dq, id, 99) == 0 &&
	    dq.q[1].route == 2, 1);
	drain_q_del(&dq, 0);
	EXPECT_INT("moved by the delete", drain_q_find(&dq, id, &qi) == 0 &&
	    dq.q[qi].route == 2, 1);
	dq_clear();
	END();
}

void
test_drainq(void)
{
	drain_q_init(&dq, SIZE_MAX);
	test_drainq_random();
	test_drainq_large();
	test_drainq_admit();
	test_drainq_route();
}
