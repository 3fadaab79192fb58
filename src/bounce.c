/*
 * Delivery status notifications (RFC 3464): when recipients of a message
 * fail for good (a 5xx reply, queue_lifetime expiry, a local permanent
 * error), the daemon queues a multipart/report to the envelope sender
 * (or to bounce_to) from MAILER-DAEMON with the null sender, so that a
 * bounce can never bounce again.  The caller decides who failed and
 * never asks for a null-sender message.
 *
 * The report is an ordinary queue file, written like sendmail writes
 * one (relayq-spool(5)): created in drop/ under its final name with
 * O_EXCL and an exclusive lock, fsynced, then the directory fsynced.
 * The daemon then imports it through the same checks as any other file
 * (its owner is the daemon's uid, which the import accepts).  A crash
 * before the trailer is on disk leaves an incomplete, unlocked file that
 * the import removes as stale; a crash after it leaves a complete bounce
 * that is delivered.  The caller records the failure only after this
 * returns, so a crash in between can give a second bounce, never none.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "crash.h"

#define BOUNCE_HDRMAX	(64 * 1024)	/* original header returned */

/* Appends with CRLF line ends; every line we make is short and clean. */
static void
bounce_line(FILE *fp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bounce_line(FILE *fp, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vfprintf(fp, fmt, ap);
	va_end(ap);
	(void)fputs("\r\n", fp);
}

/*
 * The original header, as it is in the queue file: already CRLF and
 * dot-stuffed, so it goes into our data unchanged.  Returns 1 when it
 * holds 8-bit octets.
 */
static int
bounce_copy_header(FILE *fp, const struct qmsg *m)
{
	char	 buf[4096];
	off_t	 off = 0;
	ssize_t	 n, i;
	int	 bol = 1, eight = 0, cr = 0;

	while (off < m->datalen && off < BOUNCE_HDRMAX) {
		n = pread(m->fd, buf, sizeof(buf), m->dataoff + off);
		if (n <= 0)
			break;
		if (n > m->datalen - off)
			n = (ssize_t)(m->datalen - off);
		for (i = 0; i < n; i++) {
			/* an empty line (CRLF at the start) ends the header */
			if (bol && buf[i] == '\r')
				return eight;
			(void)fputc(buf[i], fp);
			eight |= (unsigned char)buf[i] >= 0x80;
			bol = buf[i] == '\n';
			cr = buf[i] == '\r';
		}
		off += n;
	}
	if (!bol)	/* cut at BOUNCE_HDRMAX: end the line */
		(void)fputs(cr ? "\n" : "\r\n", fp);
	return eight;
}

/*
 * The whole original, at most BOUNCE_HDRMAX octets (the caller checks):
 * CRLF and dot-stuffed already, so it goes in unchanged.  Returns 1 when
 * it holds 8-bit octets, -1 on a read error.
 */
static int
bounce_copy_message(FILE *fp, const struct qmsg *m)
{
	char	 buf[4096];
	off_t	 off = 0;
	ssize_t	 n, i;
	int	 eight = 0;

	while (off < m->datalen) {
		n = pread(m->fd, buf, m->datalen - off < (off_t)sizeof(buf) ?
		    (size_t)(m->datalen - off) : sizeof(buf), m->dataoff + off);
		if (n <= 0)
			return -1;
		for (i = 0; i < n; i++)
			eight |= (unsigned char)buf[i] >= 0x80;
		if (fwrite(buf, 1, (size_t)n, fp) != (size_t)n)
			return -1;
		off += n;
	}
	return eight;
}

/* The report itself, into `fp' (the data part of the queue file). */
static int
bounce_report(FILE *fp, struct conf *conf, const struct qmsg *m,
    const char *failed, const char *id, const char *to)
{
	const char	*domain = conf_domain(conf), *host = util_hostname();
	char		 date[64], stamp[32], bnd[SPOOL_IDLEN + 256];
	time_t		 now = time(NULL);
	struct tm	 tm;
	size_t		 i;
	int		 eight;

	util_rfc5322_date(date, sizeof(date), now);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		return -1;
	(void)snprintf(bnd, sizeof(bnd), "%s/%s", id, domain);
	bounce_line(fp, "Date: %s", date);
	bounce_line(fp, "From: MAILER-DAEMON@%s (Mail Delivery System)",
	    domain);
	bounce_line(fp, "To: <%s>", to);
	bounce_line(fp, "Subject: Undelivered Mail Returned to Sender");
	bounce_line(fp, "Message-ID: <%s.%s@%s>", stamp, id, domain);
	bounce_line(fp, "Auto-Submitted: auto-replied");
	bounce_line(fp, "MIME-Version: 1.0");
	bounce_line(fp, "Content-Type: multipart/report; "
	    "report-type=delivery-status;");
	bounce_line(fp, "\tboundary=\"%s\"", bnd);
	bounce_line(fp, "%s", "");
	bounce_line(fp, "This is a MIME-encapsulated message.");
	bounce_line(fp, "%s", "");
	bounce_line(fp, "--%s", bnd);
	bounce_line(fp, "Content-Description: Notification");
	bounce_line(fp, "Content-Type: text/plain; charset=us-ascii");
	bounce_line(fp, "%s", "");
	bounce_line(fp, "This is the mail system at host %s.", host);
	bounce_line(fp, "%s", "");
	bounce_line(fp, "I'm sorry to have to inform you that your message "
	    "could not");
	bounce_line(fp, "be delivered to one or more recipients. It's "
	    "attached below.");
	bounce_line(fp, "%s", "");
	for (i = 0; i < m->nrcpt; i++)
		if (failed[i])
			bounce_line(fp, "<%s>: %s", m->rcpt[i].addr,
			    m->rcpt[i].reply);
	bounce_line(fp, "%s", "");
	bounce_line(fp, "--%s", bnd);
	bounce_line(fp, "Content-Description: Delivery report");
	bounce_line(fp, "Content-Type: message/delivery-status");
	bounce_line(fp, "%s", "");
	bounce_line(fp, "Reporting-MTA: dns; %s", host);
	bounce_line(fp, "X-Relayq-Queue-ID: %s", m->id);
	if (m->envid[0] != '\0')	/* xtext-checked at submission */
		bounce_line(fp, "Original-Envelope-Id: %s", m->envid);
	util_rfc5322_date(date, sizeof(date), m->arrival);
	bounce_line(fp, "Arrival-Date: %s", date);
	util_rfc5322_date(date, sizeof(date), m->last_try != 0 ?
	    m->last_try : now);
	for (i = 0; i < m->nrcpt; i++) {
		const struct rcpt	*r = &m->rcpt[i];
		const char		*said;

		if (!failed[i])
			continue;
		bounce_line(fp, "%s", "");
		bounce_line(fp, "Final-Recipient: rfc822; %s", r->addr);
		if (r->orig != NULL)
			bounce_line(fp, "Original-Recipient: rfc822; %s",
			    r->orig);
		bounce_line(fp, "Action: failed");
		bounce_line(fp, "Status: %s", r->dsn[0] != '\0' ? r->dsn :
		    "5.0.0");
		/* "host NAME[ADDR]:PORT said: 550 ..." from smtp.c */
		if (strncmp(r->reply, "host ", 5) == 0 &&
		    (said = strstr(r->reply, " said: ")) != NULL) {
			bounce_line(fp, "Remote-MTA: dns; %.*s",
			    (int)strcspn(r->reply + 5, "[ "), r->reply + 5);
			bounce_line(fp, "Diagnostic-Code: smtp; %s", said + 7);
		} else
			bounce_line(fp, "Diagnostic-Code: X-relayq; %s",
			    r->reply);
		bounce_line(fp, "Last-Attempt-Date: %s", date);
	}
	bounce_line(fp, "%s", "");
	bounce_line(fp, "--%s", bnd);
	/*
	 * The whole message when the sender did not ask for headers only
	 * (-R hdrs) and it is small, as Postfix's bounce_size_limit does;
	 * else its header.  Either way the report stays in memory bounded by
	 * BOUNCE_HDRMAX.
	 */
	if (m->dsn_ret != DSN_RET_HDRS && m->datalen <= BOUNCE_HDRMAX) {
		bounce_line(fp, "Content-Description: Undelivered Message");
		bounce_line(fp, "Content-Type: message/rfc822");
		bounce_line(fp, "%s", "");
		eight = bounce_copy_message(fp, m);
	} else {
		bounce_line(fp, "Content-Description: Undelivered Message "
		    "Headers");
		bounce_line(fp, "Content-Type: text/rfc822-headers");
		bounce_line(fp, "%s", "");
		eight = bounce_copy_header(fp, m);
	}
	bounce_line(fp, "%s", "");
	bounce_line(fp, "--%s--", bnd);
	return eight;
}

/* Alias warnings while working out a bounce address go to the log. */
static void __attribute__((format(printf, 2, 3)))
bounce_alias_warn(void *arg, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[512];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: bounce address: %s", (const char *)arg, msg);
}

/*
 * The envelope recipients of the DSN: bounce_to; else, for a sender
 * made from a local name (the L record), wherever mail to that name
 * goes now, as Postfix's local delivery of the bounce would take it:
 * the aliases (read afresh, so a fix applies to mail already queued),
 * then admin_address, then name@domain; else the envelope sender.  An
 * unreadable alias file is logged and the sender used.  -1 when out of
 * memory.
 */
static int
bounce_rcpts(struct conf *conf, const struct qmsg *m, struct addr_list *to)
{
	struct aliases		 al;
	struct aliases_ctx	 cx;
	char			 err[256];
	int			 rc;

	if (conf->bounce_to != NULL)
		return addr_list_add(to, conf->bounce_to);
	if (m->local_sender == NULL)
		return addr_list_add(to, m->sender);
	if (aliases_ctx_init(&cx, conf, err, sizeof(err)) == -1) {
		log_warnx("%s: %s: %s; bounce to <%s>", m->id, conf->path,
		    err, m->sender);
		return addr_list_add(to, m->sender);
	}
	if (aliases_load_conf(&al, conf, NULL, 0) == -1) {
		log_warn("%s: alias file %s; bounce to <%s>", m->id, al.path,
		    m->sender);
		return addr_list_add(to, m->sender);
	}
	cx.warn = bounce_alias_warn;
	cx.arg = (void *)m->id;
	rc = aliases_expand(&al, m->local_sender, &cx, to);
	aliases_free(&al);
	if (rc == -1 && errno == EINVAL) {	/* too long to qualify */
		addr_list_free(to);
		return addr_list_add(to, m->sender);
	}
	return rc;
}

/*
 * Queue a DSN for the recipients of `m' with failed[i] set.  `dropfd' is
 * the drop directory; the new queue id goes to `newid'.
 */
int
bounce_write(int dropfd, struct conf *conf, const struct qmsg *m,
    const char *failed, char *newid, char *err, size_t errsz)
{
	struct timespec	 ts;
	struct passwd	*pw;
	struct addr_list rcpts = ADDR_LIST_EMPTY;
	struct qmsg	 env_m;
	const char	*to;
	char		*data = NULL, *env = NULL;
	size_t		 len = 0, envlen = 0, i;
	FILE		*fp = NULL;
	int		 fd = -1, tries, eight, rc = -1;

	memset(&env_m, 0, sizeof(env_m));
	env_m.fd = -1;
	/* To: names the sender, as in Postfix; the envelope may differ */
	to = conf->bounce_to != NULL ? conf->bounce_to : m->sender;
	if (bounce_rcpts(conf, m, &rcpts) == -1) {
		(void)snprintf(err, errsz, "out of memory");
		goto done;
	}
	for (i = 0; i < rcpts.n; i++)
		if (!addr_valid(rcpts.v[i])) {
			(void)snprintf(err, errsz, "bounce recipient <%s> is "
			    "not a valid address", rcpts.v[i]);
			goto done;
		}
	for (tries = 0; tries < 100; tries++) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec = (ts.tv_nsec / 1000 + tries) % 1000000 * 1000;
		spool_make_id(newid, &ts, getpid());
		fd = openat(dropfd, newid, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1 || flock(fd, LOCK_EX) == -1) {
		(void)snprintf(err, errsz, "drop/%s: %s", newid,
		    strerror(errno));
		goto done;
	}
	if ((fp = open_memstream(&data, &len)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		goto done;
	}
	eight = bounce_report(fp, conf, m, failed, newid, to);
	if (fclose(fp) == EOF || eight == -1) {
		fp = NULL;
		(void)snprintf(err, errsz, "building the report failed");
		goto done;
	}
	fp = NULL;
	/* from the null sender, as relayq; no DSN options of its own */
	pw = getpwuid(geteuid());
	memcpy(env_m.id, newid, SPOOL_IDLEN + 1);
	env_m.arrival = ts.tv_sec;
	env_m.uid = geteuid();
	if ((env_m.user = strdup(pw != NULL ? pw->pw_name : RELAYQ_USER)) ==
	    NULL || (env_m.sender = strdup("")) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		goto done;
	}
	for (i = 0; i < rcpts.n; i++)
		if (spool_add_rcpt(&env_m, rcpts.v[i], NULL, 0) == -1) {
			(void)snprintf(err, errsz, "out of memory");
			goto done;
		}
	if (spool_write_envelope(&env_m, &env, &envlen) == -1) {
		(void)snprintf(err, errsz, "out of memory");
		goto done;
	}
	if (util_writeall(fd, env, envlen) == -1 ||
	    util_writeall(fd, data, len) == -1 ||
	    dprintf(fd, "E %zu %s\n", len, eight ? "8BITMIME" : "7BIT") < 0 ||
	    (CRASH_POINT("bounce-before-fsync"), fsync(fd)) == -1) {
		(void)snprintf(err, errsz, "writing drop/%s: %s", newid,
		    strerror(errno));
		goto done;
	}
	if (fsync(dropfd) == -1) {
		(void)snprintf(err, errsz, "fsync drop/: %s", strerror(errno));
		goto done;
	}
	rc = 0;
 done:
	if (fp != NULL)
		(void)fclose(fp);
	free(data);
	free(env);
	spool_free_msg(&env_m);
	addr_list_free(&rcpts);
	if (rc == -1 && fd != -1 && unlinkat(dropfd, newid, 0) == -1)
		log_warn("drop/%s: unlink of a partial bounce", newid);
	if (fd != -1 && close(fd) == -1 && rc == 0) {
		(void)snprintf(err, errsz, "close drop/%s: %s", newid,
		    strerror(errno));
		rc = -1;
	}
	return rc;
}
