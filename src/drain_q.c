/*
 * The drain daemon's queue table: every message in queue/ with the time
 * it is due, kept in an array that drain.c and drain_ctl.c walk by
 * position, and found by id through an index beside it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"

/*
 * The queue table is an array (drain_ctl.c and drain_run walk it by
 * position) with an index beside it: open addressing on the id, the slot
 * holding position + 1 (0 = free), at most half full.  Without it every
 * insert searched the whole array for a duplicate, and loading a queue
 * of 100 000 messages at start-up cost 5e9 string compares.
 */

/* An empty table holding at most `limit' messages. */
void
drain_q_init(struct drain_q *t, size_t limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit;
}

static size_t
drain_q_home(const struct drain_q *t, const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (t->idxsz - 1);
}

/* The slot holding `id', or the free slot where it would go. */
static size_t
drain_q_probe(const struct drain_q *t, const char *id)
{
	size_t	 s;

	for (s = drain_q_home(t, id); t->idx[s] != 0; s = (s + 1) &
	    (t->idxsz - 1))
		if (strcmp(t->q[t->idx[s] - 1].id, id) == 0)
			break;
	return s;
}

/* Position of `id' in t->q in *qi; -1 when it is not queued. */
int
drain_q_find(const struct drain_q *t, const char *id, size_t *qi)
{
	size_t	 s;

	if (t->idxsz == 0 || t->idx[s = drain_q_probe(t, id)] == 0)
		return -1;
	*qi = t->idx[s] - 1;
	return 0;
}

/* Twice the slots, rebuilt from the table (whose ids are distinct). */
static int
drain_q_grow(struct drain_q *t)
{
	uint32_t	*idx;
	size_t		 sz = t->idxsz > 0 ? t->idxsz * 2 : 256, i;

	if ((idx = calloc(sz, sizeof(*idx))) == NULL)
		return -1;
	free(t->idx);
	t->idx = idx;
	t->idxsz = sz;
	for (i = 0; i < t->nq; i++)
		t->idx[drain_q_probe(t, t->q[i].id)] = (uint32_t)i + 1;
	return 0;
}

int
drain_q_add(struct drain_q *t, const char *id, time_t next)
{
	struct drain_ent	*q;
	size_t			 s, sz;

	if ((t->nq + 1) * 2 > t->idxsz && drain_q_grow(t) == -1)
		return -1;
	if (t->idx[s = drain_q_probe(t, id)] != 0) {
		t->q[t->idx[s] - 1].next = next;
		return 0;
	}
	if (t->nq == t->qsz) {
		sz = t->qsz > 0 ? t->qsz * 2 : 64;
		if (sz > UINT32_MAX ||
		    (q = reallocarray(t->q, sz, sizeof(*q))) == NULL)
			return -1;
		t->q = q;
		t->qsz = sz;
	}
	(void)strlcpy(t->q[t->nq].id, id, sizeof(t->q[t->nq].id));
	t->q[t->nq].busy = 0;
	t->q[t->nq].route = 0;
	t->q[t->nq].next = next;
	t->idx[s] = (uint32_t)++t->nq;
	return 0;
}

/*
 * The table holds at most active_queue_limit messages, so the daemon's
 * memory does not grow with the queue: a message past the bound stays
 * in queue/ (it is on disk and accepted all the same) and t->backlog
 * says queue/ holds messages to take in as soon as the table has room
 * (drain_import_refill in drain.c).  1 when it was left there, else as
 * drain_q_add.  Operator requests (release, flush of one message) use
 * drain_q_add and may go past the bound.
 */
int
drain_q_admit(struct drain_q *t, const char *id, time_t next)
{
	size_t	 qi;

	if (t->nq >= t->limit && drain_q_find(t, id, &qi) == -1) {
		t->backlog = 1;
		return 1;
	}
	return drain_q_add(t, id, next);
}

/*
 * Is `id' in flight on a delivery worker (drain_work.c marks it)?  relayq
 * hold and delete leave such a message alone until its attempt ends.
 */
int
drain_q_busy(const struct drain_q *t, const char *id)
{
	size_t	 qi;

	return drain_q_find(t, id, &qi) == 0 && t->q[qi].busy;
}

/*
 * Remove entry i: its slot is freed by shifting back the entries after
 * it that could not sit in their home slot (so no probe chain is broken),
 * and the last entry moves into position i.
 */
void
drain_q_del(struct drain_q *t, size_t i)
{
	size_t	 hole = drain_q_probe(t, t->q[i].id), s, home;
	size_t	 mask = t->idxsz - 1;

	for (s = (hole + 1) & mask; t->idx[s] != 0; s = (s + 1) & mask) {
		home = drain_q_home(t, t->q[t->idx[s] - 1].id);
		if (((s - home) & mask) >= ((s - hole) & mask)) {
			t->idx[hole] = t->idx[s];
			hole = s;
		}
	}
	t->idx[hole] = 0;
	if (i != --t->nq) {
		t->q[i] = t->q[t->nq];
		t->idx[drain_q_probe(t, t->q[i].id)] = (uint32_t)i + 1;
	}
}
