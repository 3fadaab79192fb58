/*
 * relayq drain: the quarantine.  A committed queue file the daemon
 * cannot take (its envelope breaks the format or a limit, its data is not
 * in wire form, its id or owner do not match) is never deleted: it may be
 * someone's mail.  It is moved to corrupt/ (0700), like Postfix's
 * corrupt queue, with one log line giving the reason, and when a sender
 * and recipients can be read from it the sender gets a non-delivery
 * notification, so the message is not lost without a word.  relayq
 * check and relayq status count what corrupt/ holds.
 *
 * Order, for crashes: the notification is queued (and fsynced) before
 * the file leaves its directory, so a crash in between gives a second
 * notification when the file is found again, never none.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "drain.h"

/* Not sent, and not failed (so not notified yet). */
static int
drain_quar_open(const struct rcpt *r)
{
	return r->status == RCPT_PENDING || r->status == RCPT_DEFER;
}

/*
 * The notification for a salvaged envelope: every recipient that could
 * be read and is still open has failed with `why'.  Open: not sent nor
 * already failed (and so already notified) according to its state file
 * (`queued': a queue/ file, which has one once tried; a drop/ file has
 * none, and state/ may hold another message's under its name, planted
 * or a clash; an unreadable state leaves every recipient open, as an
 * attempt would).  Only when the envelope can be trusted (written by
 * the uid it names, or by us): a file someone else planted must not
 * make the daemon mail an address of its choosing.
 */
static void
drain_quar_bounce(const struct drain *d, struct qmsg *m, int queued,
    const char *why, char *said, size_t saidsz)
{
	char	*failed, newid[SPOOL_IDLEN + 1], err[160];
	size_t	 i, nread = 0, nopen = 0;

	if (queued && spool_read_state(d->statefd, m->id, m) == -1)
		log_warnx("%s: state file unreadable; the notification "
		    "lists every recipient not known to be done", m->id);
	for (i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].addr[0] != '\0') {
			nread++;
			nopen += drain_quar_open(&m->rcpt[i]);
		}
	if (m->sender == NULL || nread == 0) {
		(void)strlcpy(said, "no notification: sender or recipients "
		    "unreadable", saidsz);
		return;
	}
	if (nopen == 0) {
		(void)strlcpy(said, "no notification: no recipient left open",
		    saidsz);
		return;
	}
	if (m->sender[0] == '\0') {
		(void)strlcpy(said, "no notification: null sender", saidsz);
		return;
	}
	if (m->owner != m->uid && m->owner != geteuid()) {
		(void)strlcpy(said, "no notification: the file's owner is not "
		    "the uid in its envelope", saidsz);
		return;
	}
	if ((failed = calloc(m->nrcpt, 1)) == NULL) {
		(void)strlcpy(said, "no notification: out of memory", saidsz);
		return;
	}
	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].addr[0] == '\0' || !drain_quar_open(&m->rcpt[i]))
			continue;
		m->rcpt[i].status = RCPT_FAIL;
		(void)strlcpy(m->rcpt[i].dsn, "5.3.0", sizeof(m->rcpt[i].dsn));
		(void)snprintf(m->rcpt[i].reply, sizeof(m->rcpt[i].reply),
		    "the queue file could not be read (%s); it is kept for "
		    "the postmaster", why);
		failed[i] = 1;
	}
	m->dsn_ret = 2;		/* the header only: the data is suspect */
	if (bounce_write(d->dropfd, d->conf, m, failed, newid, err,
	    sizeof(err)) == -1)
		(void)snprintf(said, saidsz, "cannot queue the non-delivery "
		    "notification: %s", err);
	else
		(void)snprintf(said, saidsz, "sender non-delivery "
		    "notification: %s", newid);
	free(failed);
}

/*
 * Move dir/name (open as fd) to corrupt/ because of `why'.  `accepted':
 * the file was in queue/, so it was committed whatever its content says
 * now.  -1 when it is not committed (the caller treats it as a
 * leftover of a killed writer); else 0, the file moved or, when even that
 * failed, left in place (logged either way).
 */
int
drain_quar_move(const struct drain *d, int dirfd, const char *dir,
    const char *name, int fd, const char *why, int accepted)
{
	struct qmsg	 m;
	char		 dst[SPOOL_IDLEN + 8], said[256];
	int		 i, rc, committed;

	committed = spool_salvage(fd, &m) == 0;
	if (!committed && !accepted) {
		spool_free_msg(&m);
		return -1;
	}
	(void)strlcpy(m.id, name, sizeof(m.id));	/* the name we know */
	m.fd = fd;
	/* the header goes into the notification: only in wire form */
	if (!committed || spool_check_data(fd, m.dataoff, m.datalen, said,
	    sizeof(said)) == -1)
		m.datalen = 0;
	if (committed)
		drain_quar_bounce(d, &m, dirfd == d->queuefd, why, said,
		    sizeof(said));
	else
		(void)strlcpy(said, "no notification: no commit mark",
		    sizeof(said));
	m.fd = -1;	/* the caller's */
	spool_free_msg(&m);
	/* never over an earlier one of the same name */
	(void)strlcpy(dst, name, sizeof(dst));
	for (i = 1; (rc = renameat2(dirfd, name, d->corruptfd, dst,
	    RENAME_NOREPLACE)) == -1 && errno == EEXIST && i < 100; i++)
		(void)snprintf(dst, sizeof(dst), "%s.%d", name, i);
	if (rc == -1) {
		log_warn("%s/%s: cannot move to corrupt/ (%s; %s); left in "
		    "place", dir, name, why, said);
		return 0;
	}
	if (fsync(d->corruptfd) == -1 || fsync(dirfd) == -1)
		log_warn("%s/%s: fsync of spool directories after moving to "
		    "corrupt/", dir, name);
	log_warnx("%s/%s: quarantined in corrupt/%s: %s; %s", dir, name, dst,
	    why, said);
	return 0;
}
