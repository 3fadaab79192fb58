/*
 * Unit tests for util_sort (src/util.c), the in-place sort the daemon
 * uses under its sandbox instead of qsort(3): the same order as qsort
 * on random records (with duplicates, and the small sizes), and no
 * system call at all, checked in a child under seccomp's strict mode,
 * where anything but read, write and exit kills it (glibc's qsort calls
 * sysinfo there once the array passes 1 KB).
 * Linked into test/unit; its table of groups runs test_sort().
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/seccomp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayq.h"
#include "unit.h"

#define SORT_REC	(SPOOL_IDLEN + 2)	/* as drain_ctl.c's listing */
#define SORT_MAX	20000

static int
sort_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SORT_REC);
}

/* n records of few distinct values (duplicates) or of many */
static void
sort_fill(unsigned char *v, size_t n, unsigned int seed, int few)
{
	size_t	 i;

	srandom(seed);
	for (i = 0; i < n; i++)
		(void)snprintf((char *)v + i * SORT_REC, SORT_REC, "%c%016ld",
		    'A' + (int)(random() % 3), few ? random() % 5 :
		    random());
}

static void
test_sort_order(void)
{
	static const size_t	 sizes[] = { 0, 1, 2, 3, 4, 7, 57, 1000,
				     SORT_MAX };
	unsigned char		*a, *b;
	size_t			 i;
	int			 ok = 1, few;

	CASE("util_sort: the same order as qsort, duplicates included");
	a = calloc(SORT_MAX, SORT_REC);
	b = calloc(SORT_MAX, SORT_REC);
	if (EXPECT(a != NULL && b != NULL, "calloc")) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			for (few = 0; few < 2; few++) {
				sort_fill(a, sizes[i], (unsigned int)i, few);
				memcpy(b, a, sizes[i] * SORT_REC);
				util_sort(a, sizes[i], SORT_REC, sort_cmp);
				qsort(b, sizes[i], SORT_REC, sort_cmp);
				if (sizes[i] > 0 && memcmp(a, b, sizes[i] *
				    SORT_REC) != 0 && ok) {
					ok = 0;
					(void)EXPECT(0, "%zu records%s: "
					    "order differs", sizes[i], few ?
					    " (duplicates)" : "");
				}
			}
	}
	free(a);
	free(b);
	END();
}

static void
test_sort_nosyscall(void)
{
	unsigned char	*a;
	pid_t		 pid;
	int		 st = 0;

	CASE("util_sort: 20000 records sorted without a system call");
	if ((a = calloc(SORT_MAX, SORT_REC)) == NULL) {
		(void)EXPECT(0, "calloc");
		END();
		return;
	}
	sort_fill(a, SORT_MAX, 7, 0);
	if ((pid = fork()) == 0) {
		/* read, write, exit and sigreturn only; exit_group kills */
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) == -1)
			syscall(SYS_exit, 2);
		util_sort(a, SORT_MAX, SORT_REC, sort_cmp);
		syscall(SYS_exit, 0);
	}
	if (EXPECT(pid > 0, "fork") && EXPECT(waitpid(pid, &st, 0) == pid,
	    "waitpid"))
		(void)EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "child %s %d", WIFEXITED(st) ? "exited" : "killed by signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	free(a);
	END();
}

void
test_sort(void)
{
	test_sort_order();
	test_sort_nosyscall();
}
