/*
 * Unit tests for src/idle.c: the resident set shrinks, and the program runs on.
 * Linked into test/unit; group idle in unit.c's table.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"
#include "unit.h"

/* idle.c: the resident set shrinks, and the program runs on */
static long
idle_rss_kb(void)
{
	char	 line[256];
	long	 kb = -1;
	FILE	*fp;

	if ((fp = fopen("/proc/self/status", "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	(void)fclose(fp);
	return kb;
}

void
test_idle(void)
{
	long	 before, after;
	char	 buf[64];

	before = idle_rss_kb();
	idle_trim();
	after = idle_rss_kb();
	CHECK("idle: idle_trim hands back resident text and heap",
	    before > 0 && after > 0 && after < before,
	    "VmRSS %ld kB before, %ld kB after", before, after);
	/* the text is mapped again on use: these calls run from it */
	(void)snprintf(buf, sizeof(buf), "%s %d", "still", 42);
	CHECK("idle: code unmapped by the trim runs again",
	    strcmp(buf, "still 42") == 0 && addr_valid("a@b.example"),
	    "got \"%s\"", buf);
}
