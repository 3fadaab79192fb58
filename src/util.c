/*
 * Small helpers shared by both programs: durations, full writes,
 * sanitising text from outside before it reaches a log or a file.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#define LIBBSD_OPENBSD_VIS
#include <bsd/vis.h>

#include "relayq.h"

/*
 * "90", "90s", "5m", "1h", "5d" -> seconds.  Returns -1 on anything else,
 * including values over 10 years, so a typo cannot schedule the heat death
 * of the queue.
 */
int
util_duration(const char *s, time_t *out)
{
	char		 num[32];
	const char	*errstr;
	size_t		 len;
	long long	 n, mul = 1;

	len = strlen(s);
	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	switch (num[len - 1]) {
	case 's':
		num[--len] = '\0';
		break;
	case 'm':
		mul = 60;
		num[--len] = '\0';
		break;
	case 'h':
		mul = 3600;
		num[--len] = '\0';
		break;
	case 'd':
		mul = 86400;
		num[--len] = '\0';
		break;
	}
	if (len == 0)
		return -1;
	n = strtonum(num, 0, 10LL * 366 * 86400 / mul, &errstr);
	if (errstr != NULL)
		return -1;
	*out = (time_t)(n * mul);
	return 0;
}

/* write(2) until done; EINTR is retried.  Returns -1 with errno set. */
int
util_writeall(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Make text from outside (server replies, header values) safe for a log
 * line: control characters and bytes over 0x7e become C-style escapes, and
 * the result always fits `dst' (truncated, NUL-terminated).
 */
void
util_sanitise(char *dst, size_t dstsz, const char *src, size_t srclen)
{
	char	 one[5];	/* vis(3): at most 4 bytes per input byte */
	size_t	 i, n = 0, k;

	if (dstsz == 0)
		return;
	for (i = 0; i < srclen; i++) {
		(void)vis(one, (unsigned char)src[i], VIS_CSTYLE | VIS_TAB |
		    VIS_NL | VIS_OCTAL, i + 1 < srclen ? src[i + 1] : '\0');
		k = strlen(one);
		if (n + k >= dstsz)
			break;		/* never half an escape */
		memcpy(dst + n, one, k);
		n += k;
	}
	dst[n] = '\0';
}

/* fsync(2) a directory by name: makes entries created or renamed durable. */
int
util_fsync_dir(const char *path)
{
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (fsync(fd) == -1) {
		saved = errno;
		(void)close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* This host's name as the kernel has it: no lookup, no DNS; never NULL. */
char *
util_hostname(void)
{
	static char	 name[256];

	if (name[0] != '\0')
		return name;
	if (gethostname(name, sizeof(name)) == -1 || name[0] == '\0')
		(void)strlcpy(name, "localhost", sizeof(name));
	name[sizeof(name) - 1] = '\0';
	return name;
}

/*
 * The fully qualified name, for the last fallback of `domain' only: the
 * lookup may read /etc/hosts or even ask DNS, which nothing on the
 * submission path may do when `domain' or /etc/mailname is set.
 */
char *
util_fqdn(void)
{
	static char	 fqdn[256];
	struct addrinfo	 hints, *res;

	if (fqdn[0] != '\0')
		return fqdn;
	(void)strlcpy(fqdn, util_hostname(), sizeof(fqdn));
	if (strchr(fqdn, '.') != NULL)
		return fqdn;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_family = AF_UNSPEC;
	if (getaddrinfo(fqdn, NULL, &hints, &res) == 0) {
		if (res->ai_canonname != NULL &&
		    strchr(res->ai_canonname, '.') != NULL)
			(void)strlcpy(fqdn, res->ai_canonname, sizeof(fqdn));
		freeaddrinfo(res);
	}
	return fqdn;
}

/* RFC 5322 date-time in local time with a numeric zone. */
void
util_rfc5322_date(char *buf, size_t sz, time_t t)
{
	struct tm	 tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, sz, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		(void)strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 +0000", sz);
}

/*
 * Send `len' octets of `buf' on the UNIX socket `s' with the descriptor
 * `fd' attached (none when -1), without SIGPIPE.  Returns what send
 * returns.
 */
ssize_t
util_sendfd(int s, const void *buf, size_t len, int fd)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;

	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(s, &msg, MSG_NOSIGNAL);
}

/*
 * Receive into `buf' from `s' (recvmsg `flags'), and the descriptor sent
 * with it into `*fd' (-1 when none).  The control buffer holds exactly
 * one: the kernel closes any more a hostile peer attaches (MSG_CTRUNC),
 * so none can leak.  Returns what recvmsg returns.
 */
ssize_t
util_recvfd(int s, void *buf, size_t len, int *fd, int flags)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*cm;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	ssize_t		 n;

	*fd = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	if ((n = recvmsg(s, &msg, flags | MSG_CMSG_CLOEXEC)) <= 0)
		return n;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)) && *fd == -1)
			memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

/* "user:group" by name, numbers for what has no name (a container) */
void
util_owner(uid_t uid, gid_t gid, char *buf, size_t bufsz)
{
	struct passwd	*pw = getpwuid(uid);
	struct group	*gr = getgrgid(gid);
	char		 u[64], g[64];

	if (pw != NULL)
		(void)snprintf(u, sizeof(u), "%s", pw->pw_name);
	else
		(void)snprintf(u, sizeof(u), "%u", (unsigned int)uid);
	if (gr != NULL)
		(void)snprintf(g, sizeof(g), "%s", gr->gr_name);
	else
		(void)snprintf(g, sizeof(g), "%u", (unsigned int)gid);
	(void)snprintf(buf, bufsz, "%s:%s", u, g);
}

/*
 * Sort in place (heapsort): no memory allocated and no system call made.
 * The daemon sorts its queue listing under the sandbox, where glibc's
 * qsort(3) cannot be used: past a small array it sizes a merge buffer by
 * the machine's memory with sysinfo(2), which the seccomp filter rejects
 * (a relayq queue with 57 messages killed the daemon).
 */
static void
util_swap(unsigned char *a, unsigned char *b, size_t size)
{
	unsigned char	 c;

	while (size-- > 0) {
		c = *a;
		*a++ = *b;
		*b++ = c;
	}
}

/* Let element i sink below its larger children, among the first n. */
static void
util_sift(unsigned char *v, size_t i, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	size_t	 c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && cmp(v + c * size, v + (c + 1) * size) < 0)
			c++;
		if (cmp(v + i * size, v + c * size) >= 0)
			return;
		util_swap(v + i * size, v + c * size, size);
		i = c;
	}
}

void
util_sort(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
	unsigned char	*v = base;
	size_t		 i;

	for (i = n / 2; i-- > 0; )
		util_sift(v, i, n, size, cmp);
	for (i = n; i-- > 1; ) {
		util_swap(v, v + i * size, size);
		util_sift(v, 0, i, size, cmp);
	}
}

/*
 * Started as root (the daemon, the listener): become the relayq user for
 * good, before any message or client is touched, and make sure root
 * cannot be had back.  Nothing to do for any other user.
 */
int
util_drop_root(char *err, size_t errsz)
{
	struct passwd	*pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(RELAYQ_USER)) == NULL) {
		(void)snprintf(err, errsz, "started as root, but user \"%s\" "
		    "does not exist: create it (make install does), or start "
		    "relayq as an unprivileged user", RELAYQ_USER);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		(void)snprintf(err, errsz, "dropping root for user %s: %s",
		    RELAYQ_USER, strerror(errno));
		return -1;
	}
	if (setresuid(0, 0, 0) != -1) {
		(void)snprintf(err, errsz, "could regain root after dropping");
		return -1;
	}
	return 0;
}

/* The time of `clock' in milliseconds. */
long long
util_ms(clockid_t clock)
{
	struct timespec	 ts;

	(void)clock_gettime(clock, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
