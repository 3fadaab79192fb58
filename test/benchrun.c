/*
 * benchrun: run a command N times with a file as its standard input and
 * report per-call wall time (median, mean, min) and peak RSS, so that
 * make bench compares relayq's sendmail with the floor in the same run.
 *
 *	benchrun N INPUT command [args...]
 */
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int
cmp(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	struct timespec	 t0, t1;
	struct rusage	 ru;
	double		*ms, sum = 0;
	long		 maxrss = 0;
	int		 n, i, fd, status;
	pid_t		 pid;

	if (argc < 4 || (n = atoi(argv[1])) < 1) {
		(void)fprintf(stderr, "usage: benchrun N INPUT cmd [args...]\n");
		return 2;
	}
	if ((ms = calloc((size_t)n, sizeof(*ms))) == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		(void)clock_gettime(CLOCK_MONOTONIC, &t0);
		if ((pid = fork()) == -1)
			return 1;
		if (pid == 0) {
			if ((fd = open(argv[2], O_RDONLY)) == -1 ||
			    dup2(fd, 0) == -1)
				_exit(127);
			execv(argv[3], argv + 3);
			_exit(127);
		}
		if (wait4(pid, &status, 0, &ru) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			(void)fprintf(stderr, "benchrun: %s failed\n", argv[3]);
			return 1;
		}
		(void)clock_gettime(CLOCK_MONOTONIC, &t1);
		ms[i] = (t1.tv_sec - t0.tv_sec) * 1e3 +
		    (t1.tv_nsec - t0.tv_nsec) / 1e6;
		sum += ms[i];
		if (ru.ru_maxrss > maxrss)
			maxrss = ru.ru_maxrss;
	}
	qsort(ms, (size_t)n, sizeof(*ms), cmp);
	(void)printf("median_ms=%.3f mean_ms=%.3f min_ms=%.3f maxrss_kb=%ld\n",
	    ms[n / 2], sum / n, ms[0], maxrss);
	return 0;
}
