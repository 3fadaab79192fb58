/*
 * What the operator sees of the queue: the mailq listing in Postfix's
 * format (monitoring tools such as check_mailq parse it) and the
 * details of one message for `relayq show'.  Pure formatting over an
 * open queue file and its state; the daemon decides who may see what.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"

#define QUEUE_HDRMAX	(64 * 1024)	/* header shown by `show' */

static const char *const queue_st_names[] = {
	"pending", "sent", "deferred", "failed"
};

void
queue_list_head(FILE *fp)
{
	(void)fprintf(fp, "%-11s %8s %-20s %s\n", "-Queue ID-", "--Size--",
	    "----Arrival Time----", "-Sender/Recipient-------");
}

/*
 * One entry as Postfix's showq prints it: id with '!' when held, size,
 * arrival (asctime without the year), sender (MAILER-DAEMON for the null
 * sender); the last deferral reason in parentheses; then each recipient
 * not yet done, indented under the sender.  When `conf' has routes, the
 * sender is followed by "route=NAME" (route.c chooses it as the daemon
 * does); without routes the listing is Postfix's, unchanged.
 */
void
queue_list_entry(FILE *fp, const struct conf *conf, const struct qmsg *m,
    long long size, int held)
{
	struct tm	 tm;
	char		 date[32];
	const char	*reason = NULL;
	size_t		 i;

	if (localtime_r(&m->arrival, &tm) == NULL ||
	    strftime(date, sizeof(date), "%a %b %e %H:%M:%S", &tm) == 0)
		(void)strlcpy(date, "?", sizeof(date));
	(void)fprintf(fp, "%s%c %8lld %-20.20s %s%s%s\n", m->id,
	    held ? '!' : ' ', size, date, m->sender[0] != '\0' ? m->sender :
	    "MAILER-DAEMON", conf->nroute > 1 ? "  route=" : "",
	    conf->nroute > 1 ? route_for(conf, m->sender)->name : "");
	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].status == RCPT_SENT ||
		    m->rcpt[i].status == RCPT_FAIL)
			continue;
		if (m->rcpt[i].status == RCPT_DEFER &&
		    m->rcpt[i].reply[0] != '\0' && (reason == NULL ||
		    strcmp(reason, m->rcpt[i].reply) != 0)) {
			reason = m->rcpt[i].reply;
			(void)fprintf(fp, "(%s)\n", reason);
		}
		(void)fprintf(fp, "%41s%s\n", "", m->rcpt[i].addr);
	}
	(void)fputc('\n', fp);
}

void
queue_list_total(FILE *fp, unsigned long long bytes, size_t n)
{
	if (n == 0)
		(void)fprintf(fp, "Mail queue is empty\n");
	else
		(void)fprintf(fp, "-- %llu Kbytes in %zu Request%s.\n",
		    bytes / 1024, n, n == 1 ? "" : "s");
}

static void
queue_date(char *buf, size_t bufsz, time_t t)
{
	if (t == 0)
		(void)strlcpy(buf, "-", bufsz);
	else
		util_rfc5322_date(buf, bufsz, t);
}

/*
 * `relayq show ID': the envelope, the route it takes, where each
 * recipient stands, and the message header as it will go out (CRLF
 * shown as LF).
 */
void
queue_show(FILE *fp, const struct conf *conf, const struct qmsg *m,
    long long size, int held)
{
	char		 date[64], buf[4096];
	off_t		 off = 0;
	ssize_t		 n, i;
	int		 bol = 1, cr = 0;
	size_t		 r;

	queue_date(date, sizeof(date), m->arrival);
	(void)fprintf(fp, "id: %s\nstatus: %s\narrival: %s\nuid: %u (%s)\n"
	    "sender: <%s>\nroute: %s\nsize: %lld\nbody: %s\nattempts: %u\n",
	    m->id, held ? "held" : "queued", date, (unsigned int)m->uid,
	    m->user, m->sender, route_for(conf, m->sender)->name, size,
	    m->eightbit ? "8BITMIME" : "7BIT", m->attempts);
	queue_date(date, sizeof(date), m->last_try);
	(void)fprintf(fp, "last try: %s\n", date);
	queue_date(date, sizeof(date), m->next_try);
	(void)fprintf(fp, "next try: %s\n", held ? "on release" :
	    m->next_try == 0 ? "now" : date);
	for (r = 0; r < m->nrcpt; r++) {
		(void)fprintf(fp, "recipient: <%s>", m->rcpt[r].addr);
		if (m->rcpt[r].orig != NULL)
			(void)fprintf(fp, " (orig <%s>)", m->rcpt[r].orig);
		(void)fprintf(fp, " %s", queue_st_names[m->rcpt[r].status]);
		if (m->rcpt[r].dsn[0] != '\0')
			(void)fprintf(fp, " dsn=%s", m->rcpt[r].dsn);
		if (m->rcpt[r].reply[0] != '\0')
			(void)fprintf(fp, " (%s)", m->rcpt[r].reply);
		(void)fputc('\n', fp);
	}
	(void)fputc('\n', fp);
	/* the header ends at the first empty line of the data */
	while (off < m->datalen && off < QUEUE_HDRMAX) {
		n = pread(m->fd, buf, sizeof(buf), m->dataoff + off);
		if (n <= 0)
			return;
		if (n > m->datalen - off)
			n = (ssize_t)(m->datalen - off);
		for (i = 0; i < n; i++) {
			if (buf[i] == '\r') {
				cr = 1;
				continue;
			}
			if (buf[i] == '\n') {
				if (bol)
					return;
				bol = 1;
			} else {
				if (cr)
					(void)fputc('\r', fp);
				bol = 0;
			}
			cr = 0;
			(void)fputc(buf[i], fp);
		}
		off += n;
	}
}
