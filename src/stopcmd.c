/*
 * relayq stop: ask the daemon of this spool to stop, as postfix stop
 * does, and wait until it has.  The daemon finishes the message at hand
 * on SIGTERM, so this may take a session's timeout.  Under systemd,
 * systemctl stop relayq does the same and keeps systemd informed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "relayq.h"

#define STOP_WAIT	120	/* seconds: longer than any session timeout */

int
stop_main(const struct conf *conf)
{
	struct timespec	 ts = { 0, 100 * 1000 * 1000 };
	time_t		 deadline;
	long		 pid;

	if (!queue_local_running(conf->spool) ||
	    (pid = queue_local_pid(conf->spool)) <= 0) {
		(void)fprintf(stderr, "relayq: stop: the relayq daemon is not "
		    "running on %s\n", conf->spool);
		return EX_UNAVAILABLE;
	}
	if (kill((pid_t)pid, SIGTERM) == -1) {
		(void)fprintf(stderr, "relayq: stop: signalling the daemon "
		    "(pid %ld, %s/pid): %s; run this as root or as user %s\n",
		    pid, conf->spool, strerror(errno), RELAYQ_USER);
		return errno == EPERM ? EX_NOPERM : EX_OSERR;
	}
	deadline = time(NULL) + STOP_WAIT;
	while (kill((pid_t)pid, 0) == 0 || errno == EPERM) {
		if (time(NULL) >= deadline) {
			(void)fprintf(stderr, "relayq: stop: the daemon (pid "
			    "%ld) is still finishing a delivery after %d "
			    "seconds; it stops when that ends\n", pid,
			    STOP_WAIT);
			return EX_TEMPFAIL;
		}
		(void)nanosleep(&ts, NULL);
	}
	(void)printf("relayq: the daemon (pid %ld) on %s has stopped\n", pid,
	    conf->spool);
	return EX_OK;
}
