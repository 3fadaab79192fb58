/*
 * Reading a spool directory: every entry of it, or the queue ids it
 * holds sorted (oldest first: ids sort by arrival).  The daemon walks
 * drop/, queue/, state/, hold/, failed/ and corrupt/ with it; its control
 * requests and mailq without a daemon (queue_local.c) list queue/ and
 * hold/ with it.
 */
#include <sys/types.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "relayq.h"

/*
 * Run `fn' on every entry of the directory open as `dirfd' but "." and
 * "..".  A descriptor of its own, rewound: the caller's offset in
 * `dirfd' does not move, and every call sees the whole directory.
 * -1 (logged) when it cannot be read.
 */
int
queue_ids_each(int dirfd, void (*fn)(void *, const char *), void *arg)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("reading spool directory");
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fn(arg, de->d_name);
	(void)closedir(d);
	return 0;
}

struct queue_ids_read {
	struct queue_ids	*l;
	size_t			 cap;
	int			 failed;
};

static void
queue_ids_one(void *arg, const char *name)
{
	struct queue_ids_read	*r = arg;
	char			(*v)[SPOOL_IDLEN + 1];
	size_t			 cap;

	if (r->failed || !spool_id_ok(name))
		return;
	if (r->l->n == r->cap) {
		cap = r->cap > 0 ? r->cap * 2 : 64;
		if ((v = reallocarray(r->l->v, cap, sizeof(*v))) == NULL) {
			r->failed = 1;
			return;
		}
		r->l->v = v;
		r->cap = cap;
	}
	memcpy(r->l->v[r->l->n++], name, SPOOL_IDLEN + 1);
}

static int
queue_ids_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/*
 * The queue ids in the directory open as `dirfd', sorted, into `l'
 * (freed with queue_ids_free).  -1 when the directory cannot be read or
 * memory runs out: `l' is empty then.
 */
int
queue_ids_read(int dirfd, struct queue_ids *l)
{
	struct queue_ids_read	 r;

	l->v = NULL;
	l->n = 0;
	r.l = l;
	r.cap = 0;
	r.failed = 0;
	if (queue_ids_each(dirfd, queue_ids_one, &r) == -1 || r.failed) {
		queue_ids_free(l);
		return -1;
	}
	/* util_sort, not qsort(3): util.c says why */
	util_sort(l->v, l->n, sizeof(*l->v), queue_ids_cmp);
	return 0;
}

void
queue_ids_free(struct queue_ids *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
