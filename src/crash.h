/*
 * Crash points for the crash battery (test/t_crash.sh).  They exist only
 * in test builds (-DRELAYQ_TEST: test/relayq-crash, test/sendmail-crash);
 * an installed binary has no code here and never reads RELAYQ_CRASH.
 *
 * RELAYQ_CRASH=NAME kills the process with SIGKILL when it reaches the
 * point NAME: no exit handlers, no flushed buffers, no lock released
 * except by the kernel, the same as kill -9 or the OOM killer.  Where
 * the points are and what must hold after each is in relayq(8) and
 * test/t_crash.sh.
 */
#ifndef CRASH_H
#define CRASH_H

#ifdef RELAYQ_TEST
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void
crash_point(const char *name)
{
	const char	*want = getenv("RELAYQ_CRASH");

	if (want != NULL && strcmp(want, name) == 0)
		(void)kill(getpid(), SIGKILL);
}
#define CRASH_POINT(name)	crash_point(name)
#else
#define CRASH_POINT(name)	((void)0)
#endif

#endif /* CRASH_H */
