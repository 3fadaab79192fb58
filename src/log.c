/*
 * Logging for both programs: syslog facility mail, stderr (foreground,
 * containers) or an append-only file.  One line per call; callers have
 * already sanitised anything that came from outside.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "relayq.h"

static const char	*log_prog = "relayq";
static int		 log_fd = -1;	/* -1: syslog */

/*
 * `dest' is "syslog", "stderr" or an absolute file name.  Returns -1 with
 * errno when the file cannot be opened; logging then goes to syslog, and
 * the caller decides whether to say so (losing the log must not stop mail).
 */
int
log_init(const char *prog, const char *dest)
{
	log_prog = prog;
	log_fd = -1;
	if (dest != NULL && strcmp(dest, "stderr") == 0)
		log_fd = STDERR_FILENO;
	else if (dest != NULL && strcmp(dest, "syslog") != 0 &&
	    (log_fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0640)) == -1) {
		openlog(prog, LOG_PID, LOG_MAIL);
		return -1;
	}
	if (log_fd == -1)
		openlog(prog, LOG_PID, LOG_MAIL);
	return 0;
}

static void
log_vwrite(int pri, const char *fmt, va_list ap, const char *errstr)
{
	char	 msg[2048], line[2200], stamp[32];
	time_t	 now;
	int	 n;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errstr != NULL) {
		n = (int)strlen(msg);
		(void)snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", errstr);
	}
	if (log_fd == -1) {
		syslog(pri, "%s", msg);
		return;
	}
	now = time(NULL);
	if (strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S",
	    localtime(&now)) == 0)
		stamp[0] = '\0';
	n = snprintf(line, sizeof(line), "%s %s[%ld]: %s\n", stamp, log_prog,
	    (long)getpid(), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* one write(2) per line: O_APPEND keeps concurrent writers apart */
	(void)util_writeall(log_fd, line, (size_t)n);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}
