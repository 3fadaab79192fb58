/*
 * The drain daemon's queue table: every message in queue/ with the time
 * it is due, kept in an array that drain.c and drainctl.c walk by
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

struct drain_ent	*drain_q;
size_t			 drain_nq;

/*
 * The queue table is an array (drainctl.c and drain_run walk it by
 * position) with an index beside it: open addressing on the id, the slot
 * holding position + 1 (0 = free), at most half full.  Without it every
 * insert searched the whole array for a duplicate, and loading a queue
 * of 100 000 messages at start-up cost 5e9 string compares.
 */
static uint32_t		*drain_idx;
static size_t		 drain_idxsz;	/* slots: a power of two, or 0 */
static size_t		 drain_qsz;	/* entries allocated in drain_q */

static size_t
drain_home(const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (drain_idxsz - 1);
}

/* The slot holding `id', or the free slot where it would go. */
static size_t
drain_probe(const char *id)
{
	size_t	 s;

	for (s = drain_home(id); drain_idx[s] != 0; s = (s + 1) &
	    (drain_idxsz - 1))
		if (strcmp(drain_q[drain_idx[s] - 1].id, id) == 0)
			break;
	return s;
}

/* Position of `id' in drain_q in *qi; -1 when it is not queued. */
int
drain_find(const char *id, size_t *qi)
{
	size_t	 s;

	if (drain_idxsz == 0 || drain_idx[s = drain_probe(id)] == 0)
		return -1;
	*qi = drain_idx[s] - 1;
	return 0;
}

/* Twice the slots, rebuilt from the table (whose ids are distinct). */
static int
drain_idx_grow(void)
{
	uint32_t	*idx;
	size_t		 sz = drain_idxsz > 0 ? drain_idxsz * 2 : 256, i;

	if ((idx = calloc(sz, sizeof(*idx))) == NULL)
		return -1;
	free(drain_idx);
	drain_idx = idx;
	drain_idxsz = sz;
	for (i = 0; i < drain_nq; i++)
		drain_idx[drain_probe(drain_q[i].id)] = (uint32_t)i + 1;
	return 0;
}

int
drain_add(const char *id, time_t next)
{
	struct drain_ent	*q;
	size_t			 s, sz;

	if ((drain_nq + 1) * 2 > drain_idxsz && drain_idx_grow() == -1)
		return -1;
	if (drain_idx[s = drain_probe(id)] != 0) {
		drain_q[drain_idx[s] - 1].next = next;
		return 0;
	}
	if (drain_nq == drain_qsz) {
		sz = drain_qsz > 0 ? drain_qsz * 2 : 64;
		if (sz > UINT32_MAX ||
		    (q = reallocarray(drain_q, sz, sizeof(*q))) == NULL)
			return -1;
		drain_q = q;
		drain_qsz = sz;
	}
	(void)strlcpy(drain_q[drain_nq].id, id, sizeof(drain_q[drain_nq].id));
	drain_q[drain_nq].next = next;
	drain_idx[s] = (uint32_t)++drain_nq;
	return 0;
}

/*
 * The table holds at most active_queue_limit messages, so the daemon's
 * memory does not grow with the queue: a message past the bound stays
 * in queue/ (it is on disk and accepted all the same) and drain_backlog
 * says queue/ holds messages to take in as soon as the table has room
 * (drain_refill in drain.c).  1 when it was left there, else as
 * drain_add.  Operator requests (release, flush of one message) use
 * drain_add and may go past the bound.
 */
int	 drain_backlog;
time_t	 drain_flushed;
size_t	 drain_limit = SIZE_MAX;	/* active_queue_limit, set at start-up */

int
drain_admit(const char *id, time_t next)
{
	size_t	 qi;

	if (drain_nq >= drain_limit &&
	    drain_find(id, &qi) == -1) {
		drain_backlog = 1;
		return 1;
	}
	return drain_add(id, next);
}

/*
 * Remove entry i: its slot is freed by shifting back the entries after
 * it that could not sit in their home slot (so no probe chain is broken),
 * and the last entry moves into position i.
 */
void
drain_del(size_t i)
{
	size_t	 hole = drain_probe(drain_q[i].id), s, home;
	size_t	 mask = drain_idxsz - 1;

	for (s = (hole + 1) & mask; drain_idx[s] != 0; s = (s + 1) & mask) {
		home = drain_home(drain_q[drain_idx[s] - 1].id);
		if (((s - home) & mask) >= ((s - hole) & mask)) {
			drain_idx[hole] = drain_idx[s];
			hole = s;
		}
	}
	drain_idx[hole] = 0;
	if (i != --drain_nq) {
		drain_q[i] = drain_q[drain_nq];
		drain_idx[drain_probe(drain_q[i].id)] = (uint32_t)i + 1;
	}
}
