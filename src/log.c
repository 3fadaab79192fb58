/*
 * Logging for both programs: syslog facility mail, stderr (foreground,
 * containers) or an append-only file.  One line per call; callers have
 * already sanitised anything that came from outside.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"

static const char	*log_prog = "relayq";
static int		 log_fd = -1;	/* -1: syslog */
static int		 log_sysfd = -1;	/* syslog: our own socket, for
					   log_signal_safe */
static long		 log_gmtoff;	/* local time - UTC at log_init */

/*
 * For log_signal_safe: with syslog, a socket of our own to it besides
 * syslog(3)'s, which a signal handler may not use (locks, malloc).  The
 * daemon connects it before its sandbox (sandbox.c).  No syslog daemon:
 * it stays -1, and log_signal_safe falls back to stderr.
 */
void
log_signal_prepare(void)
{
	struct sockaddr_un	 sun;

	if (log_fd != -1 || log_sysfd != -1)
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)strlcpy(sun.sun_path, "/dev/log", sizeof(sun.sun_path));
	if ((log_sysfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) ==
	    -1)
		return;
	if (connect(log_sysfd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		(void)close(log_sysfd);
		log_sysfd = -1;
	}
}

/*
 * `dest' is "syslog", "stderr" or an absolute file name.  Returns -1 with
 * errno when the file cannot be opened; logging then goes to syslog, and
 * the caller decides whether to say so (losing the log must not stop mail).
 * O_CREAT only for the daemon (log_init): the file belongs to the user it
 * runs as.  A front end (log_join) run by root before the daemon ever
 * started would otherwise leave a root-owned 0640 file the daemon can
 * never open, and all its logging would go to syslog from then on.
 */
static int
log_setup(const char *prog, const char *dest, int oflags)
{
	struct tm	 tm;
	time_t		 now = time(NULL);

	log_prog = prog;
	log_fd = -1;
	if (localtime_r(&now, &tm) != NULL)
		log_gmtoff = tm.tm_gmtoff;
	if (dest != NULL && strcmp(dest, "stderr") == 0)
		log_fd = STDERR_FILENO;
	else if (dest != NULL && strcmp(dest, "syslog") != 0 &&
	    (log_fd = open(dest, O_WRONLY | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW | oflags, 0640)) == -1) {
		openlog(prog, LOG_PID, LOG_MAIL);
		return -1;
	}
	if (log_fd == -1)
		openlog(prog, LOG_PID, LOG_MAIL);
	return 0;
}

/* The daemon's log: the file is created when missing. */
int
log_init(const char *prog, const char *dest)
{
	return log_setup(prog, dest, O_CREAT);
}

/* A front end's: appends to the daemon's file, syslog while there is none. */
int
log_join(const char *prog, const char *dest)
{
	return log_setup(prog, dest, 0);
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

/* Append `s' to buf at *n (up to sz - 1 bytes), for log_signal_safe. */
static void
log_put(char *buf, size_t sz, size_t *n, const char *s)
{
	while (*s != '\0' && *n + 1 < sz)
		buf[(*n)++] = *s++;
}

/* The decimal digits of v, at least `width' of them. */
static void
log_put_num(char *buf, size_t sz, size_t *n, long long v, int width)
{
	char	 d[24];
	int	 i = (int)sizeof(d) - 1;

	d[i] = '\0';
	if (v < 0)
		v = 0;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while ((v > 0 || (int)sizeof(d) - 1 - i < width) && i > 0);
	log_put(buf, sz, n, d + i);
}

/*
 * One line from a signal handler (the sandbox's SIGSYS: sandbox.c):
 * only async-signal-safe calls, so no stdio, no localtime(3) and no
 * syslog(3).  The time stamp is the local time by the offset of
 * log_init (a daylight saving change since then is not followed); a
 * syslog line goes to our own socket with facility mail, level crit.
 */
void
log_signal_safe(const char *msg)
{
	char		 line[512];
	struct timespec	 ts;
	long long	 t, days, y, m, d, era, doe, yoe, doy, mp;
	size_t		 n = 0;
	int		 fd = log_fd;

	if (fd == -1) {
		log_put(line, sizeof(line), &n, "<18>");
		fd = log_sysfd != -1 ? log_sysfd : STDERR_FILENO;
	} else {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		t = (long long)ts.tv_sec + log_gmtoff;
		days = t / 86400;
		/* the civil date of a day count (H. Hinnant's algorithm) */
		days += 719468;
		era = days / 146097;
		doe = days - era * 146097;
		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		mp = (5 * doy + 2) / 153;
		d = doy - (153 * mp + 2) / 5 + 1;
		m = mp < 10 ? mp + 3 : mp - 9;
		y = yoe + era * 400 + (m <= 2);
		log_put_num(line, sizeof(line), &n, y, 4);
		log_put(line, sizeof(line), &n, "-");
		log_put_num(line, sizeof(line), &n, m, 2);
		log_put(line, sizeof(line), &n, "-");
		log_put_num(line, sizeof(line), &n, d, 2);
		log_put(line, sizeof(line), &n, "T");
		log_put_num(line, sizeof(line), &n, t % 86400 / 3600, 2);
		log_put(line, sizeof(line), &n, ":");
		log_put_num(line, sizeof(line), &n, t % 3600 / 60, 2);
		log_put(line, sizeof(line), &n, ":");
		log_put_num(line, sizeof(line), &n, t % 60, 2);
		log_put(line, sizeof(line), &n, " ");
	}
	log_put(line, sizeof(line), &n, log_prog);
	log_put(line, sizeof(line), &n, "[");
	log_put_num(line, sizeof(line), &n, (long long)getpid(), 1);
	log_put(line, sizeof(line), &n, "]: ");
	log_put(line, sizeof(line), &n, msg);
	if (fd != log_sysfd)
		line[n++] = '\n';	/* log_put left room for it */
	(void)!write(fd, line, n);
}
