/*
 * Unit tests for src/queue_ids.c, the spool directory reader of the
 * daemon's control requests and of mailq without a daemon: only queue
 * ids, sorted (oldest first), whatever else the directory holds; every
 * entry but "." and ".." for queue_ids_each; an unreadable directory is
 * an error with an empty list.
 * Linked into test/unit; main() there calls test_queueids().
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayq.h"
#include "unit.h"


/* files in the test directory, in creation order: not sorted */
static const char *const qi_names[] = {
	"1LGE000000000300", "junk", "1LGE000000000100", "1LGE000000000100.tmp",
	"1LGE000000000200", ".hidden",
};
#define QI_NNAMES	(sizeof(qi_names) / sizeof(qi_names[0]))

static void
qi_count(void *arg, const char *name)
{
	size_t	*n = arg;

	(void)name;
	(*n)++;
}

void
test_queueids(void)
{
	struct queue_ids	 l;
	char			 dir[] = "/tmp/relayq-unit-qi.XXXXXX";
	size_t			 i, n = 0;
	int			 dfd, fd, rc;

	CASE("queueids: only queue ids, sorted");
	if (mkdtemp(dir) == NULL ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		EXPECT_INT("scratch directory", 0, 1);
		END();
		return;
	}
	EXPECT_INT("empty directory", queue_ids_read(dfd, &l) == 0 &&
	    l.n == 0, 1);
	queue_ids_free(&l);
	for (i = 0; i < QI_NNAMES; i++)
		if ((fd = openat(dfd, qi_names[i], O_WRONLY | O_CREAT |
		    O_CLOEXEC, 0600)) != -1)
			(void)close(fd);
	rc = queue_ids_read(dfd, &l);
	EXPECT_INT("read", rc, 0);
	EXPECT_INT("three ids", l.n, 3);
	if (rc == 0 && l.n == 3) {
		EXPECT_STR("first", l.v[0], "1LGE000000000100");
		EXPECT_STR("second", l.v[1], "1LGE000000000200");
		EXPECT_STR("third", l.v[2], "1LGE000000000300");
	}
	queue_ids_free(&l);
	EXPECT_INT("freed", l.v == NULL && l.n == 0, 1);
	END();

	CASE("queueids: each entry once, but . and ..");
	EXPECT_INT("each", queue_ids_each(dfd, qi_count, &n), 0);
	EXPECT_INT("entries", n, QI_NNAMES);
	n = 0;
	(void)queue_ids_each(dfd, qi_count, &n);	/* rewound every time */
	EXPECT_INT("entries again", n, QI_NNAMES);
	END();

	CASE("queueids: an unreadable directory is an error, list empty");
	EXPECT_INT("bad descriptor", queue_ids_read(-1, &l), -1);
	EXPECT_INT("empty", l.v == NULL && l.n == 0, 1);
	END();

	for (i = 0; i < QI_NNAMES; i++)
		(void)unlinkat(dfd, qi_names[i], 0);
	(void)close(dfd);
	(void)rmdir(dir);
	/* this file's cases count in test/unit's totals */
}
