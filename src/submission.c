/*
 * Message preparation and commit, shared by the front ends: the
 * envelope from the sender and recipients (sender_canonical, aliases,
 * admin_address, force_sender), the header as relayq writes it (Bcc
 * dropped, the hop count, masquerading, sender_canonical, force_from,
 * Received, Date, Message-ID, From),
 * then the queue file and its commit point.  The stages and their order
 * are in submission.h.  Nothing here exits or prints: each stage says
 * what failed in s->err, and the front end reports it.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "submission.h"
#include "crash.h"

/* A stage's failure: what, with errno when `errnum' is not 0. */
static int __attribute__((format(printf, 4, 5)))
submission_fail(struct submission *s, int code, int errnum, const char *fmt,
    ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->errnum = errnum;
	return code;
}

/*
 * What msg.c returned: -1 is a write error (disk full, quota, I/O error,
 * file size limit) the caller may retry later (sysexits: 75); EX_IOERR
 * comes with errno too.
 */
static int
submission_msg_fail(struct submission *s, int rc, const char *what)
{
	return submission_fail(s, rc == -1 ? EX_TEMPFAIL : rc,
	    rc == -1 || rc == EX_IOERR ? errno : 0, "%s", what);
}

/* An address from the configuration, qualified; 0 when not set. */
static int
submission_conf_addr(struct submission *s, const char *key, const char *v,
    char *out, size_t outsz)
{
	if (v == NULL)
		return 0;
	if (addr_qualify(v, s->cx.domain, s->cx.locals, out, outsz) == -1 ||
	    !addr_valid(out)) {
		(void)snprintf(s->err, sizeof(s->err), "%s: %s: bad address "
		    "\"%.100s\"", s->conf->path, key, v);
		return -1;
	}
	return 1;
}

int
submission_init(struct submission *s, struct conf *conf)
{
	char	 dflt[ADDR_MAX + 1], err[256];

	memset(s, 0, sizeof(*s));
	s->conf = conf;
	s->fd = -1;
	s->uid = getuid();
	/* admin_address: local recipients without an alias go there */
	if (aliases_ctx_init(&s->cx, conf, err, sizeof(err)) == -1) {
		(void)snprintf(s->err, sizeof(s->err), "%s: %s", conf->path,
		    err);
		return EX_CONFIG;
	}
	canon_init(&s->canon, s->cx.domain, s->cx.locals);
	if (submission_conf_addr(s, "force_sender", conf->force_sender,
	    s->force, sizeof(s->force)) == -1 ||
	    submission_conf_addr(s, "default_sender", conf->default_sender,
	    dflt, sizeof(dflt)) == -1)
		return EX_CONFIG;
	return EX_OK;
}

/*
 * sender_canonical, read with the caller's rights like the aliases.  A
 * map that cannot be used stops the submission: sending under the
 * identity the map exists to replace could reach a provider that
 * refuses it, or show a name the administrator meant to hide.
 */
int
submission_canonical(struct submission *s)
{
	char	 err[PATH_MAX + 256];

	if (s->conf->sender_canonical == NULL ||
	    canon_load(&s->canon, s->conf->sender_canonical, err,
	    sizeof(err)) == 0)
		return EX_OK;
	return submission_fail(s, EX_CONFIG, 0, "sender_canonical %s (fix "
	    "the map; relayq check tells): message not sent", err);
}

/*
 * A sender that was a local name ("root", "www-data@localhost") has no
 * mailbox of its own at the domain as a rule: its bounces go where mail
 * to that name goes (aliases, admin_address), which the daemon works out
 * when it bounces.  The L record keeps the name.
 */
int
submission_sender(struct submission *s, const char *name)
{
	const char	*at;
	char		 to[ADDR_MAX + 1];
	int		 rc;

	s->sender[0] = s->lsender[0] = '\0';
	if (name[0] == '\0')
		return 0;
	if (addr_qualify(name, s->cx.domain, s->cx.locals, s->sender,
	    sizeof(s->sender)) == -1 || !addr_valid(s->sender))
		return -1;
	if (addr_is_local(name, s->cx.locals)) {
		(void)strlcpy(s->lsender, name, sizeof(s->lsender));
		if ((at = addr_domain(name)) != NULL)
			s->lsender[at - name] = '\0';
		if (!addr_valid(s->lsender))	/* "@localhost" */
			s->lsender[0] = '\0';
	}
	/*
	 * sender_canonical, before force_sender, on the address as given
	 * (an @localhost key must see user@localhost, not user@domain).  A
	 * mapped sender is the mailbox the administrator chose for it: its
	 * bounces go there, not through the aliases of the local name (no
	 * L record).
	 */
	if ((rc = canon_lookup(&s->canon, name, to, sizeof(to))) == -1)
		return submission_fail(s, -1, 0, "sender_canonical %s: <%s> "
		    "maps to an address that is too long", s->canon.path,
		    s->sender);
	if (rc == 1) {
		(void)strlcpy(s->sender, to, sizeof(s->sender));
		s->lsender[0] = '\0';
	}
	/* force_sender: smarthosts that accept only one sender (SES, M365);
	 * the null sender of a bounce stays null, or bounces could loop */
	if (s->force[0] != '\0')
		(void)strlcpy(s->sender, s->force, sizeof(s->sender));
	return 0;
}

/*
 * Qualified, expanded through the aliases, admin_address for local names
 * without one.  Each final address keeps `a' as its original (the O
 * record, orig_to= in logs).
 */
int
submission_rcpt(struct submission *s, const char *a)
{
	struct addr_list	 x = ADDR_LIST_EMPTY;
	size_t			 i, n;
	int			 rc = EX_OK;

	if (aliases_expand(&s->al, a, &s->cx, &x) == -1)
		rc = errno != EINVAL ? submission_fail(s, EX_OSERR, errno,
		    "recipient list") : submission_fail(s, EX_DATAERR, 0,
		    "bad recipient address \"%.100s\"", a);
	for (i = 0; i < x.n && rc == EX_OK; i++) {
		if (!addr_valid(x.v[i])) {
			rc = submission_fail(s, EX_DATAERR, 0, "bad recipient "
			    "address \"%.100s\"", x.v[i]);
			break;
		}
		n = s->rcpt.n;
		if (addr_list_add(&s->rcpt, x.v[i]) == -1 ||
		    /* orig stays parallel to rcpt: its duplicates stay */
		    (s->rcpt.n > n && addr_list_append(&s->orig, a) == -1))
			rc = submission_fail(s, EX_OSERR, errno,
			    "recipient list");
	}
	addr_list_free(&x);
	return rc;
}

int
submission_read_header(struct submission *s, int fd, int iflag)
{
	int	 rc;

	if ((s->in = malloc(sizeof(*s->in))) == NULL)
		return submission_fail(s, EX_OSERR, 0, "out of memory");
	msg_in_init(s->in, fd, iflag);
	if ((rc = msg_read_header(&s->m, s->in)) == 0)
		return EX_OK;
	return submission_msg_fail(s, rc, rc == EX_DATAERR ?
	    "message header too large" : "reading the message");
}

int
submission_rewrite(struct submission *s)
{
	struct msg_hdr	*h;
	unsigned long	 nmasq = 0;
	size_t		 i, nb = 0;
	int		 ours = s->conf->add_received ? 1 : 0;

	for (i = 0; i < s->m.nhdr; i++) {
		h = &s->m.hdr[i];
		if (msg_hdr_name_is(h, "Bcc") ||
		    msg_hdr_name_is(h, "Resent-Bcc") ||
		    msg_hdr_name_is(h, "Return-Path") ||
		    msg_hdr_name_is(h, "Content-Length"))
			h->drop = 1;
		else if (msg_hdr_name_is(h, "Received") && ++nb + ours >= 50)
			/* Postfix's hopcount_limit: 50 Received fields,
			 * counting the one we add, are a loop */
			return submission_fail(s, EX_DATAERR, 0, ours ?
			    "mail loop: with ours, 50 or more Received header "
			    "fields" : "mail loop: 50 or more Received header "
			    "fields");
	}
	/* sender_canonical: the sender fields as written (an @localhost
	 * key sees user@localhost); before masquerading and force_from */
	if (msg_hdr_canonical(&s->m, &s->canon, &nmasq) != 0)
		return submission_fail(s, EX_OSERR, 0, "out of memory");
	/* masquerading: replies and bounces must reach a real mailbox */
	if (msg_hdr_masquerade(&s->m, s->cx.domain, s->cx.locals,
	    &nmasq) != 0)
		return submission_fail(s, EX_OSERR, 0, "out of memory");
	/* force_from: the From address is the sender's, name kept */
	if (s->conf->force_from && s->sender[0] != '\0' &&
	    msg_hdr_force_from(&s->m, s->sender) != 0)
		return submission_fail(s, EX_OSERR, 0, "out of memory");
	return EX_OK;
}

static int
submission_nonascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 1;
	return 0;
}

/*
 * The envelope, in the one format spool.c writes and reads.  Refused
 * here is what the daemon would refuse when it reads the file (too many
 * recipients, an envelope or a record too long): once the front end
 * says the message is queued the caller forgets it, and the daemon can
 * only quarantine it.
 */
static int
submission_envelope(struct submission *s, char **env, size_t *envlen)
{
	struct qmsg	 q;
	char		 why[256];
	size_t		 i;
	int		 rc = EX_DATAERR;

	memset(&q, 0, sizeof(q));
	q.fd = -1;
	memcpy(q.id, s->id, sizeof(q.id));
	q.arrival = s->now;
	q.uid = s->uid;
	q.user = s->user;
	q.sender = s->sender;
	q.local_sender = s->lsender[0] != '\0' ? s->lsender : NULL;
	q.body_decl = s->body_decl;
	q.dsn_ret = s->dsn_ret;
	if (s->envid != NULL)
		(void)strlcpy(q.envid, s->envid, sizeof(q.envid));
	/* SMTPUTF8 (RFC 6531) is needed when an envelope address is not
	 * ASCII; the daemon must not send such a message without it */
	q.smtputf8 = submission_nonascii(s->sender) ? SMTPUTF8_NEEDED :
	    SMTPUTF8_NONE;
	for (i = 0; i < s->rcpt.n; i++)
		if (submission_nonascii(s->rcpt.v[i]))
			q.smtputf8 = SMTPUTF8_NEEDED;
	if (q.smtputf8 == SMTPUTF8_NONE && msg_hdr_utf8(&s->m))
		q.smtputf8 = SMTPUTF8_HEADER;
	for (i = 0; i < s->rcpt.n; i++)
		if (spool_add_rcpt(&q, s->rcpt.v[i], strcmp(s->rcpt.v[i],
		    s->orig.v[i]) != 0 ? s->orig.v[i] : NULL, s->notify) == -1)
			break;
	if (i < s->rcpt.n && q.nrcpt < SPOOL_RCPTMAX)
		rc = submission_fail(s, EX_OSERR, errno, "out of memory");
	else if (i < s->rcpt.n)
		(void)snprintf(why, sizeof(why), "more than %d recipients",
		    SPOOL_RCPTMAX);
	else if (spool_write_envelope(&q, env, envlen) == -1)
		rc = submission_fail(s, EX_TEMPFAIL, errno,
		    "building the envelope");
	else if (spool_check_envelope(*env, *envlen, why, sizeof(why)) == 0)
		rc = EX_OK;
	else {
		free(*env);
		*env = NULL;
	}
	if (rc == EX_DATAERR) {
		(void)snprintf(s->err, sizeof(s->err), "cannot queue the "
		    "message: %s (%zu recipients; the limits of a queue file "
		    "are %d recipients and %d bytes of envelope; send it in "
		    "parts)", why, s->rcpt.n, SPOOL_RCPTMAX, SPOOL_ENVMAX);
		s->errnum = 0;
	}
	/* the strings are s's: only the recipients are q's own */
	q.user = q.sender = q.local_sender = NULL;
	spool_free_msg(&q);
	return rc;
}

/*
 * RFC 2047 Q-encoding when the name is not ASCII; else as it is when it
 * is words of atext (RFC 5322 3.2.3), as Postfix writes "Cron Daemon",
 * quoted otherwise ("J. Doe", "Doe, J").
 */
static void
submission_display_name(char *buf, size_t sz, const char *name)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 n = 0;
	int			 ascii = 1, atoms;

	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p >= 0x80 || *p < 0x20)
			ascii = 0;
	atoms = name[0] != ' ' && name[strlen(name) - 1] != ' ' &&
	    strstr(name, "  ") == NULL &&
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789!#$%&'*+-/=?^_`{|}~ ") == strlen(name);
	if (ascii && atoms) {
		(void)strlcpy(buf, name, sz);
		return;
	}
	if (ascii) {
		buf[n++] = '"';
		for (p = (const unsigned char *)name; *p && n + 4 < sz; p++) {
			if (*p == '"' || *p == '\\')
				buf[n++] = '\\';
			buf[n++] = (char)*p;
		}
		buf[n++] = '"';
		buf[n] = '\0';
		return;
	}
	n = strlcpy(buf, "=?UTF-8?Q?", sz);
	for (p = (const unsigned char *)name; *p && n + 6 < sz; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9'))
			buf[n++] = (char)*p;
		else if (*p == ' ')
			buf[n++] = '_';
		else {
			buf[n++] = '=';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 15];
		}
	}
	(void)strlcpy(buf + n, "?=", sz - n);
}

/* A missing From: the sender, with the caller's full name if any. */
static void
submission_from(const struct submission *s, char *buf, size_t sz)
{
	char		 dname[512];
	const char	*addr = s->sender[0] != '\0' ? s->sender :
			    "MAILER-DAEMON@";
	const char	*dom = s->sender[0] != '\0' ? "" : s->cx.domain;

	if (s->fullname != NULL && s->fullname[0] != '\0' &&
	    strpbrk(s->fullname, "\r\n") == NULL) {
		submission_display_name(dname, sizeof(dname), s->fullname);
		(void)snprintf(buf, sz, "From: %s <%s%s>", dname, addr, dom);
	} else
		(void)snprintf(buf, sz, "From: %s%s", addr, dom);
}

/*
 * Envelope, header and body.  The file has no trailer until the end, so
 * the daemon ignores it whatever happens before the trailer is out.
 * Added fields: trace on top, missing ones at the bottom.
 */
int
submission_write(struct submission *s)
{
	struct conf	*c = s->conf;
	/* this host's name, as the default route greets the smarthost */
	const char	*helo = c->route[0].helo_name != NULL ?
			    c->route[0].helo_name : util_hostname();
	char		 recv[1024], msgid[640], from[1200], date[64];
	char		 datef[80], trailer[32];
	char		*top[2] = { NULL, NULL }, *bottom[4], *env = NULL;
	size_t		 envlen = 0, nb = 0;
	struct tm	 tm;
	int		 rc;

	if ((s->out = malloc(sizeof(*s->out))) == NULL)
		return submission_fail(s, EX_OSERR, 0, "out of memory");
	s->now = time(NULL);
	if ((rc = submission_envelope(s, &env, &envlen)) != EX_OK)
		return rc;
	util_rfc5322_date(date, sizeof(date), s->now);
	if (c->add_received && s->client != NULL) {
		/* a network client (the listener): its address, taken from
		 * the socket, and its greeting as checked by bs.c; "with
		 * ESMTPSA" and the like for TLS and AUTH (RFC 3848) */
		(void)snprintf(recv, sizeof(recv), "Received: from %s (%s)"
		    "\r\n\tby %s (relayq) with %s%s%s id %s; %s",
		    s->client_helo != NULL ? s->client_helo : "unknown",
		    s->client, helo, s->client_esmtp ? "ESMTP" : "SMTP",
		    s->client_tls ? "S" : "", s->client_auth != NULL ? "A" :
		    "", s->id, date);
		top[0] = recv;
	} else if (c->add_received) {
		(void)snprintf(recv, sizeof(recv), "Received: by %s (relayq, "
		    "from userid %u)\r\n\tid %s; %s", helo, (unsigned int)s->uid,
		    s->id, date);
		top[0] = recv;
	}
	if (msg_hdr_find(&s->m, "Date") == NULL) {
		(void)snprintf(datef, sizeof(datef), "Date: %s", date);
		bottom[nb++] = datef;
	}
	if (msg_hdr_find(&s->m, "Message-ID") == NULL) {
		(void)gmtime_r(&s->now, &tm);
		(void)snprintf(msgid, sizeof(msgid), "Message-ID: <%04d%02d%02d"
		    "%02d%02d%02d.%s@%s>", tm.tm_year + 1900, tm.tm_mon + 1,
		    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, s->id,
		    s->cx.domain);
		bottom[nb++] = msgid;
	}
	if (msg_hdr_find(&s->m, "From") == NULL) {
		submission_from(s, from, sizeof(from));
		bottom[nb++] = from;
	}
	bottom[nb] = NULL;

	msg_out_init(s->out, s->fd, c->max_message_size);
	rc = util_writeall(s->fd, env, envlen) == -1 ? -1 : 0;
	free(env);
	if (rc == 0 && (rc = msg_write_header(&s->m, s->out, top, bottom,
	    &s->in->folded)) == 0)
		rc = msg_write_body(&s->m, s->in, s->out);
	if (rc == EX_DATAERR)
		return submission_fail(s, EX_DATAERR, 0, "message is larger "
		    "than max_message_size");
	if (rc == 0) {
		(void)snprintf(trailer, sizeof(trailer), "E %lld %s\n",
		    s->out->written, s->body_decl == BODY_8BITMIME ||
		    s->in->eightbit ? "8BITMIME" : "7BIT");
		rc = util_writeall(s->fd, trailer, strlen(trailer));
	}
	if (rc != 0)
		return submission_msg_fail(s, rc, rc == EX_IOERR &&
		    s->in->error != 0 ? "reading the message" :
		    "writing the queue file");
	return EX_OK;
}

/*
 * Commit point.  fsync makes data, trailer and inode durable.  The
 * directory entry: when we own the spool (containers, one uid) the
 * directory is fsynced too.  Setgid, the drop directory (1730) cannot be
 * opened for reading, so it cannot be fsynced; there the entry is made
 * durable by the same fsync, because ext4, XFS and btrfs commit a new
 * inode's creation (its directory entry) in the journal transaction that
 * fsync forces.  Only after this may the front end say "queued".
 */
int
submission_commit(struct submission *s)
{
	char	 dir[PATH_MAX], err[256];
	int	 rc;

	CRASH_POINT("sendmail-before-fsync");
	if (s->via_socket) {
		/* the daemon fsyncs its copy before it answers OK, and names
		   it: the id is the daemon's from here on (submit.c) */
		if ((rc = submit_send(s->conf->spool, s->fd, s->id, err,
		    sizeof(err))) != EX_OK)
			return submission_fail(s, rc, 0, "handing the message "
			    "to the relayq daemon: %s", err);
	} else if (fsync(s->fd) == -1)
		return submission_fail(s, EX_TEMPFAIL, errno,
		    "fsync of the queue file");
	CRASH_POINT("sendmail-before-dirfsync");
	(void)snprintf(dir, sizeof(dir), "%s/drop", s->conf->spool);
	if (!s->via_socket && util_fsync_dir(dir) == -1 && errno != EACCES)
		return submission_fail(s, EX_TEMPFAIL, errno,
		    "fsync of the drop directory");
	rc = close(s->fd);
	s->fd = -1;
	if (rc == -1)
		return submission_fail(s, EX_TEMPFAIL, errno,
		    "close of the queue file");
	return EX_OK;
}

void
submission_free(struct submission *s)
{
	aliases_free(&s->al);
	canon_free(&s->canon);
	addr_list_free(&s->rcpt);
	addr_list_free(&s->orig);
	msg_free(&s->m);
	free(s->in);
	free(s->out);
	s->in = NULL;
	s->out = NULL;
}
