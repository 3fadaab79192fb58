/*
 * The queue file format (relayq-spool(5)) and the daemon's state files.
 *
 * A queue file is a text envelope, one typed record per line, then the
 * message exactly as it goes on the wire (CRLF line ends, dot-stuffed),
 * then a trailer giving the length of that data and its body type (known
 * only once the body has been read):
 *
 *	RELAYQ 1
 *	I <queue id>
 *	T <arrival, seconds since the epoch>
 *	U <uid> <user name>
 *	S <envelope sender, empty for the null sender>
 *	L <local name>			optional: S was made from this local
 *					name (its bounces follow the aliases)
 *	B 7BIT|8BITMIME			optional: body type from -B
 *	D FULL|HDRS			optional: DSN RET (-R)
 *	V <envid>			optional: DSN ENVID (-V), printable
 *					ASCII without space, '+' or '='
 *	F SMTPUTF8|UTF8HEADER		optional: an address is not ASCII
 *					(SMTPUTF8 needed), or only the header
 *					has UTF-8 (SMTPUTF8 when offered)
 *	R <recipient>			one or more, each optionally followed by
 *	O <original recipient>		the address as the caller wrote it
 *	N NEVER|<SUCCESS,FAILURE,DELAY>	and its DSN NOTIFY (-N)
 *	M
 *	<data>
 *	E <length of data> 7BIT|8BITMIME
 *
 * The optional records L, B, D, V and F come at most once each, after S and
 * before the first R; N at most once per recipient, after its R and O.
 * Values cannot hold CR, LF or NUL (checked at submission and here), so
 * no value can forge a record.  The trailer is the commit mark: a file
 * without a trailer that matches its size is incomplete and is never
 * delivered.  Data contains CRLF pairs only and no line that is a lone
 * dot, so nothing in it can end the SMTP DATA phase early.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "crash.h"

static const char spool_b32[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";

static void
spool_b32enc(char *dst, unsigned long long v, int digits)
{
	while (digits-- > 0) {
		dst[digits] = spool_b32[v & 31];
		v >>= 5;
	}
}

/*
 * Queue ids sort by arrival: 7 digits of seconds (good until 3058),
 * 4 of microseconds, 5 of the submitting process id.  One process makes
 * at most one file per microsecond, and the O_EXCL create catches the rest.
 */
void
spool_make_id(char *id, struct timespec *ts, pid_t pid)
{
	spool_b32enc(id, (unsigned long long)ts->tv_sec, 7);
	spool_b32enc(id + 7, (unsigned long long)(ts->tv_nsec / 1000), 4);
	spool_b32enc(id + 11, (unsigned long long)pid, 5);
	id[SPOOL_IDLEN] = '\0';
}

int
spool_id_ok(const char *s)
{
	size_t	 i;

	for (i = 0; i < SPOOL_IDLEN; i++)
		if (s[i] == '\0' || strchr(spool_b32, s[i]) == NULL)
			return 0;
	return s[i] == '\0';
}

void
spool_free_msg(struct qmsg *m)
{
	size_t	 i;

	for (i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].orig);
	}
	free(m->rcpt);
	free(m->user);
	free(m->sender);
	free(m->local_sender);
	if (m->fd != -1)
		(void)close(m->fd);
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

/*
 * Append a recipient (an R record) to `m', with its original address
 * (O, NULL when it is the same) and DSN NOTIFY bits (N, 0 when none).
 * 0, or -1 when out of memory or past SPOOL_RCPTMAX.
 */
int
spool_add_rcpt(struct qmsg *m, const char *addr, const char *orig,
    unsigned int notify)
{
	struct rcpt	*r;

	if (m->nrcpt >= SPOOL_RCPTMAX)
		return -1;
	/* doubling at each power of two: a struct rcpt is over 512 bytes,
	   and growing by one would copy the array for every recipient */
	if ((m->nrcpt & (m->nrcpt - 1)) == 0) {
		if ((r = reallocarray(m->rcpt, m->nrcpt == 0 ? 1 :
		    m->nrcpt * 2, sizeof(*r))) == NULL)
			return -1;
		m->rcpt = r;
	}
	r = &m->rcpt[m->nrcpt];
	memset(r, 0, sizeof(*r));
	if ((r->addr = strdup(addr)) == NULL)
		return -1;
	if (orig != NULL && (r->orig = strdup(orig)) == NULL) {
		free(r->addr);
		return -1;
	}
	r->notify = notify;
	m->nrcpt++;
	return 0;
}

/*
 * The envelope of `m', "RELAYQ 1" through "M", in the order and form
 * spool_parse_envelope reads: the one writer of the format, for
 * sendmail and the bounces alike.  The values must be valid already
 * (no line breaks); sendmail runs spool_check_envelope on the result
 * before it commits.  A malloc'd buffer in *env, its length in
 * *envlen; 0, or -1 (out of memory, or an N value with no name).
 */
int
spool_write_envelope(const struct qmsg *m, char **env, size_t *envlen)
{
	const struct rcpt	*r;
	FILE			*fp;
	char			 notify[32];
	size_t			 i;
	int			 rc = 0;

	*env = NULL;
	*envlen = 0;
	if ((fp = open_memstream(env, envlen)) == NULL)
		return -1;
	(void)fprintf(fp, "RELAYQ 1\nI %s\nT %lld\nU %u %s\nS %s\n", m->id,
	    (long long)m->arrival, (unsigned int)m->uid, m->user, m->sender);
	if (m->local_sender != NULL)
		(void)fprintf(fp, "L %s\n", m->local_sender);
	if (m->body_decl != BODY_NONE)
		(void)fprintf(fp, "B %s\n", m->body_decl == BODY_8BITMIME ?
		    "8BITMIME" : "7BIT");
	if (m->dsn_ret != DSN_RET_NONE)
		(void)fprintf(fp, "D %s\n", m->dsn_ret == DSN_RET_FULL ?
		    "FULL" : "HDRS");
	if (m->envid[0] != '\0')
		(void)fprintf(fp, "V %s\n", m->envid);
	if (m->smtputf8 == SMTPUTF8_NEEDED)
		(void)fputs("F SMTPUTF8\n", fp);
	else if (m->smtputf8 == SMTPUTF8_HEADER)
		(void)fputs("F UTF8HEADER\n", fp);
	for (i = 0; i < m->nrcpt && rc == 0; i++) {
		r = &m->rcpt[i];
		(void)fprintf(fp, "R %s\n", r->addr);
		if (r->orig != NULL)
			(void)fprintf(fp, "O %s\n", r->orig);
		if (r->notify != 0 && (rc = spool_notify_str(r->notify,
		    notify, sizeof(notify))) == 0)
			(void)fprintf(fp, "N %s\n", notify);
	}
	(void)fputs("M\n", fp);
	if (fclose(fp) == EOF)
		rc = -1;
	if (rc == -1) {
		free(*env);
		*env = NULL;
	}
	return rc;
}

/* The envelope parser's place: the last of the fixed records seen. */
enum spool_env_seen {
	SPOOL_SEEN_NONE,
	SPOOL_SEEN_VERSION,	/* RELAYQ 1 */
	SPOOL_SEEN_ID,		/* I */
	SPOOL_SEEN_ARRIVAL,	/* T */
	SPOOL_SEEN_USER,	/* U */
	SPOOL_SEEN_SENDER,	/* S: optional records, then R, O, N, M */
};

/*
 * Parse the envelope at the start of `buf'.  On success the envelope is
 * in `m' and m->dataoff is where the data starts.  Any deviation from the
 * format is an error: this file may have been planted.
 */
int
spool_parse_envelope(const char *buf, size_t len, struct qmsg *m, char *err,
    size_t errsz)
{
	const char	*p = buf, *end, *nl, *errstr;
	char		 line[SPOOL_RECMAX + 1], *v;
	size_t		 ll;
	enum spool_env_seen state = SPOOL_SEEN_NONE;
	long long	 n;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	/* the daemon reads no more than this to find the envelope's end */
	end = buf + (len < SPOOL_ENVMAX ? len : SPOOL_ENVMAX);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		ll = (size_t)(nl - p);
		if (ll >= sizeof(line)) {
			(void)snprintf(err, errsz, "a record longer than %d "
			    "bytes", SPOOL_RECMAX);
			goto fail;
		}
		if (memchr(p, '\0', ll) != NULL ||
		    memchr(p, '\r', ll) != NULL) {
			(void)snprintf(err, errsz, "bad record");
			goto fail;
		}
		memcpy(line, p, ll);
		line[ll] = '\0';
		if (state == SPOOL_SEEN_NONE) {
			if (strcmp(line, "RELAYQ 1") != 0) {
				(void)snprintf(err, errsz, "not a relayq "
				    "version 1 queue file");
				goto fail;
			}
			state = SPOOL_SEEN_VERSION;
			continue;
		}
		if (strcmp(line, "M") == 0) {
			if (state != SPOOL_SEEN_SENDER || m->nrcpt == 0)
				break;
			m->dataoff = (off_t)(nl + 1 - buf);
			return 0;
		}
		if (ll < 2 || line[1] != ' ')
			break;
		v = line + 2;
		switch (line[0]) {
		case 'I':
			if (state != SPOOL_SEEN_VERSION || !spool_id_ok(v))
				goto bad;
			memcpy(m->id, v, SPOOL_IDLEN + 1);
			state = SPOOL_SEEN_ID;
			break;
		case 'T':
			n = strtonum(v, 0, LLONG_MAX, &errstr);
			if (state != SPOOL_SEEN_ID || errstr != NULL)
				goto bad;
			m->arrival = (time_t)n;
			state = SPOOL_SEEN_ARRIVAL;
			break;
		case 'U':
			if (state != SPOOL_SEEN_ARRIVAL ||
			    (v = strchr(line + 2, ' ')) == NULL)
				goto bad;
			*v++ = '\0';
			n = strtonum(line + 2, 0, UINT_MAX - 1, &errstr);
			if (errstr != NULL || (m->user = strdup(v)) == NULL)
				goto bad;
			m->uid = (uid_t)n;
			state = SPOOL_SEEN_USER;
			break;
		case 'S':
			if (state != SPOOL_SEEN_USER ||
			    (*v != '\0' && !addr_valid(v)) ||
			    (m->sender = strdup(v)) == NULL)
				goto bad;
			state = SPOOL_SEEN_SENDER;
			break;
		case 'R':
			if (state == SPOOL_SEEN_SENDER &&
			    m->nrcpt >= SPOOL_RCPTMAX) {
				(void)snprintf(err, errsz, "more than %d "
				    "recipients", SPOOL_RCPTMAX);
				goto fail;
			}
			if (state != SPOOL_SEEN_SENDER || !addr_valid(v) ||
			    spool_add_rcpt(m, v, NULL, 0) == -1)
				goto bad;
			break;
		case 'L':
			/* a local part only: addr_is_local must hold */
			if (state != SPOOL_SEEN_SENDER || m->nrcpt != 0 ||
			    m->local_sender != NULL || m->sender[0] == '\0' ||
			    !addr_valid(v) || addr_domain(v) != NULL ||
			    (m->local_sender = strdup(v)) == NULL)
				goto bad;
			break;
		case 'B':
			if (state != SPOOL_SEEN_SENDER || m->nrcpt != 0 ||
			    m->body_decl != BODY_NONE)
				goto bad;
			if (strcmp(v, "7BIT") == 0)
				m->body_decl = BODY_7BIT;
			else if (strcmp(v, "8BITMIME") == 0)
				m->body_decl = BODY_8BITMIME;
			else
				goto bad;
			break;
		case 'D':
			if (state != SPOOL_SEEN_SENDER || m->nrcpt != 0 ||
			    m->dsn_ret != DSN_RET_NONE)
				goto bad;
			if (strcmp(v, "FULL") == 0)
				m->dsn_ret = DSN_RET_FULL;
			else if (strcmp(v, "HDRS") == 0)
				m->dsn_ret = DSN_RET_HDRS;
			else
				goto bad;
			break;
		case 'V':
			if (state != SPOOL_SEEN_SENDER || m->nrcpt != 0 ||
			    m->envid[0] != '\0' || !spool_envid_ok(v))
				goto bad;
			(void)strlcpy(m->envid, v, sizeof(m->envid));
			break;
		case 'F':
			if (state != SPOOL_SEEN_SENDER || m->nrcpt != 0 ||
			    m->smtputf8 != SMTPUTF8_NONE)
				goto bad;
			if (strcmp(v, "SMTPUTF8") == 0)
				m->smtputf8 = SMTPUTF8_NEEDED;
			else if (strcmp(v, "UTF8HEADER") == 0)
				m->smtputf8 = SMTPUTF8_HEADER;
			else
				goto bad;
			break;
		case 'N':
			if (state != SPOOL_SEEN_SENDER || m->nrcpt == 0 ||
			    m->rcpt[m->nrcpt - 1].notify != 0 ||
			    spool_notify_parse(v,
			    &m->rcpt[m->nrcpt - 1].notify) == -1)
				goto bad;
			break;
		case 'O':
			if (state != SPOOL_SEEN_SENDER || m->nrcpt == 0 ||
			    m->rcpt[m->nrcpt - 1].orig != NULL ||
			    m->rcpt[m->nrcpt - 1].notify != 0 ||
			    (m->rcpt[m->nrcpt - 1].orig = strdup(v)) == NULL)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (end - buf == SPOOL_ENVMAX && (p >= end ||
	    memchr(p, '\n', (size_t)(end - p)) == NULL))
		(void)snprintf(err, errsz, "envelope larger than %d bytes",
		    SPOOL_ENVMAX);
	else
		(void)snprintf(err, errsz, "incomplete envelope");
	goto fail;
 bad:
	(void)snprintf(err, errsz, "bad '%c' record", line[0]);
 fail:
	spool_free_msg(m);
	return -1;
}

/*
 * The contract between sendmail and the daemon: an envelope (up to and
 * including its "M" line) that sendmail built passes the very parser the
 * daemon will run on the queue file, limits included.  0, or -1 with the
 * reason in err.
 */
int
spool_check_envelope(const char *buf, size_t len, char *err, size_t errsz)
{
	struct qmsg	 m;

	if (len > SPOOL_ENVMAX) {
		(void)snprintf(err, errsz, "envelope larger than %d bytes",
		    SPOOL_ENVMAX);
		return -1;
	}
	if (spool_parse_envelope(buf, len, &m, err, errsz) == -1)
		return -1;
	if ((size_t)m.dataoff != len) {
		spool_free_msg(&m);
		(void)snprintf(err, errsz, "envelope does not end at its "
		    "\"M\" record");
		return -1;
	}
	spool_free_msg(&m);
	return 0;
}

/*
 * DSN NOTIFY as sendmail -N takes it and the N record stores it:
 * "never", or a comma-separated list of success, failure, delay (any
 * case).  NEVER cannot be combined (RFC 3461 4.1).  0 or -1.
 */
int
spool_notify_parse(const char *s, unsigned int *bits)
{
	static const char *const names[] = { "SUCCESS", "FAILURE", "DELAY" };
	static const unsigned int flags[] = { DSN_NOTIFY_SUCCESS,
	    DSN_NOTIFY_FAILURE, DSN_NOTIFY_DELAY };
	size_t		 n, i;
	unsigned int	 b = 0;

	if (strcasecmp(s, "NEVER") == 0) {
		*bits = DSN_NOTIFY_NEVER;
		return 0;
	}
	for (;;) {
		n = strcspn(s, ",");
		for (i = 0; i < 3; i++)
			if (strlen(names[i]) == n &&
			    strncasecmp(s, names[i], n) == 0)
				break;
		if (i == 3 || (b & flags[i]) != 0)
			return -1;
		b |= flags[i];
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	*bits = b;
	return 0;
}

/* The canonical form of an N record's value. */
int
spool_notify_str(unsigned int bits, char *buf, size_t sz)
{
	buf[0] = '\0';
	if (bits == DSN_NOTIFY_NEVER)
		return strlcpy(buf, "NEVER", sz) < sz ? 0 : -1;
	if (bits & DSN_NOTIFY_SUCCESS)
		(void)strlcat(buf, ",SUCCESS", sz);
	if (bits & DSN_NOTIFY_FAILURE)
		(void)strlcat(buf, ",FAILURE", sz);
	if (bits & DSN_NOTIFY_DELAY)
		(void)strlcat(buf, ",DELAY", sz);
	if (buf[0] == '\0')
		return -1;
	memmove(buf, buf + 1, strlen(buf));
	return 0;
}

/*
 * An ENVID we store and later send as xtext: 1-100 printable ASCII
 * characters, none of space, '+' or '=' (so it never needs encoding).
 */
int
spool_envid_ok(const char *s)
{
	size_t	 n = strlen(s), i;

	if (n == 0 || n > DSN_ENVID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '+' || s[i] == '=')
			return 0;
	return 1;
}

/*
 * `tail' holds the last bytes of a queue file.  Its last line must be the
 * trailer "E <n> 7BIT|8BITMIME\n", n in canonical decimal.  Returns the
 * trailer's length, or -1.
 */
int
spool_check_trailer(const char *tail, size_t taillen, struct qmsg *m)
{
	const char	*p, *errstr;
	char		 line[40], *sp;
	long long	 n;
	size_t		 ll;

	if (taillen < 2 || tail[taillen - 1] != '\n')
		return -1;
	for (p = tail + taillen - 1; p > tail && p[-1] != '\n'; p--)
		;
	if (p == tail)
		return -1;
	ll = (size_t)(tail + taillen - 1 - p);
	if (ll >= sizeof(line))
		return -1;
	memcpy(line, p, ll);
	line[ll] = '\0';
	if (line[0] != 'E' || line[1] != ' ' ||
	    (sp = strchr(line + 2, ' ')) == NULL)
		return -1;
	*sp++ = '\0';
	if (strcmp(sp, "8BITMIME") == 0)
		m->eightbit = 1;
	else if (strcmp(sp, "7BIT") == 0)
		m->eightbit = 0;
	else
		return -1;
	if ((line[2] == '0' && line[3] != '\0') ||
	    strspn(line + 2, "0123456789") != strlen(line + 2))
		return -1;
	n = strtonum(line + 2, 0, LLONG_MAX, &errstr);
	if (errstr != NULL)
		return -1;
	m->datalen = (off_t)n;
	return (int)(ll + 1);
}

/*
 * Validate an open queue file.  The checks are made on the descriptor, so
 * a name swapped after the open cannot fool them: regular file, one link,
 * the envelope parses, the trailer matches the size.  On success `m' owns
 * `fd'; on failure the caller still does.
 */
int
spool_load_fd(int fd, struct qmsg *m, char *err, size_t errsz)
{
	struct stat	 st;
	char		*buf = NULL, tail[64];
	size_t		 want;
	int		 tl;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errsz, "fstat: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
		(void)snprintf(err, errsz, "not a regular file with one link");
		return -1;
	}
	want = st.st_size < SPOOL_ENVMAX ? (size_t)st.st_size : SPOOL_ENVMAX;
	if ((buf = malloc(want + 1)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (pread(fd, buf, want, 0) != (ssize_t)want) {
		(void)snprintf(err, errsz, "short read");
		goto fail;
	}
	if (spool_parse_envelope(buf, want, m, err, errsz) == -1)
		goto fail;
	want = st.st_size - m->dataoff < (off_t)sizeof(tail) ?
	    (size_t)(st.st_size - m->dataoff) : sizeof(tail);
	if (pread(fd, tail, want, st.st_size - (off_t)want) != (ssize_t)want ||
	    (tl = spool_check_trailer(tail, want, m)) == -1 ||
	    m->dataoff + m->datalen + tl != st.st_size) {
		(void)snprintf(err, errsz, "incomplete: no valid trailer");
		goto fail;
	}
	m->owner = st.st_uid;
	m->mtime = st.st_mtime;
	m->fd = fd;
	free(buf);
	return 0;
 fail:
	free(buf);
	spool_free_msg(m);
	return -1;
}

/*
 * Where the data of a file with a valid trailer starts, or -1: the
 * trailer gives the data's length, and the "M" line that ends the
 * envelope must sit right before it.  sendmail writes the trailer last
 * and data lines end in CRLF, so this holds only for a file whose writer
 * finished it: the commit mark, readable without trusting the envelope.
 */
static off_t
spool_committed(int fd, off_t size, struct qmsg *m)
{
	char	 tail[64], mark[3];
	size_t	 want, n;
	off_t	 off;
	int	 tl;

	want = size < (off_t)sizeof(tail) ? (size_t)size : sizeof(tail);
	if (want < 4 || pread(fd, tail, want, size - (off_t)want) !=
	    (ssize_t)want || (tl = spool_check_trailer(tail, want, m)) == -1)
		return -1;
	off = size - tl - m->datalen;
	/* "M\n" at the start of the file or of a line */
	n = off >= 3 ? 3 : 2;
	if (off < 2 || pread(fd, mark, n, off - (off_t)n) != (ssize_t)n ||
	    memcmp(mark + n - 2, "M\n", 2) != 0 || (n == 3 && mark[0] != '\n'))
		return -1;
	return off;
}

/*
 * What a bounce needs from the envelope in buf (a committed file the
 * parser refused), read leniently: each record that is valid on its own
 * counts, the rest is skipped.
 */
static void
spool_salvage_envelope(const char *buf, size_t len, struct qmsg *m)
{
	const char	*p = buf, *end = buf + len, *nl, *errstr;
	char		 line[SPOOL_RECMAX + 1], *v, *sp;
	size_t		 ll;
	long long	 n;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		ll = (size_t)(nl - p);
		if (ll < 2 || ll >= sizeof(line) || p[1] != ' ' ||
		    memchr(p, '\0', ll) != NULL || memchr(p, '\r', ll) != NULL)
			continue;
		memcpy(line, p, ll);
		line[ll] = '\0';
		v = line + 2;
		switch (line[0]) {
		case 'I':
			if (spool_id_ok(v))
				memcpy(m->id, v, SPOOL_IDLEN + 1);
			break;
		case 'T':
			n = strtonum(v, 0, LLONG_MAX, &errstr);
			if (errstr == NULL)
				m->arrival = (time_t)n;
			break;
		case 'U':
			if ((sp = strchr(v, ' ')) == NULL)
				break;
			*sp = '\0';
			n = strtonum(v, 0, UINT_MAX - 1, &errstr);
			if (errstr == NULL)
				m->uid = (uid_t)n;
			break;
		case 'S':
			if (m->sender == NULL && (*v == '\0' || addr_valid(v)))
				m->sender = strdup(v);
			break;
		case 'L':
			if (m->local_sender == NULL && addr_valid(v) &&
			    addr_domain(v) == NULL)
				m->local_sender = strdup(v);
			break;
		case 'R':
			/* an unreadable one keeps its place ("" address):
			 * the state file numbers recipients by position */
			(void)spool_add_rcpt(m, addr_valid(v) ? v : "", NULL,
			    0);
			break;
		}
	}
}

/*
 * A queue file that spool_load_fd refused: if it is committed, read
 * what a bounce needs (id, arrival, uid, sender, local name, the
 * recipients, with "" for one that is not a valid address) and where its
 * data is, and return 0; m->sender is NULL when no sender could be read, m->uid is
 * (uid_t)-1 without a uid.  -1: not committed (a writer killed before
 * its trailer), or out of memory.  m does not own fd.
 */
int
spool_salvage(int fd, struct qmsg *m)
{
	struct stat	 st;
	char		*buf;
	size_t		 want;
	off_t		 off;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->uid = (uid_t)-1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (off = spool_committed(fd, st.st_size, m)) == -1)
		return -1;
	m->dataoff = off;
	m->owner = st.st_uid;
	m->mtime = st.st_mtime;
	want = off < SPOOL_ENVMAX ? (size_t)off : SPOOL_ENVMAX;
	if ((buf = malloc(want)) == NULL)
		return -1;
	if (pread(fd, buf, want, 0) == (ssize_t)want)
		spool_salvage_envelope(buf, want, m);
	free(buf);
	return 0;
}

int
spool_open_msg(int dirfd, const char *name, struct qmsg *m, char *err,
    size_t errsz)
{
	int	 fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1) {
		(void)snprintf(err, errsz, "open: %s", strerror(errno));
		return -1;
	}
	if (spool_load_fd(fd, m, err, errsz) == -1) {
		(void)close(fd);
		return -1;
	}
	return 0;
}

/*
 * Read the data once and check the wire invariants: every line ends in
 * CRLF, no bare CR or LF, no line that is a lone dot.  Run on import, so
 * a file planted in the drop directory cannot smuggle commands.
 */
int
spool_check_data(int fd, off_t off, off_t len, char *err, size_t errsz)
{
	char	 buf[65536];
	off_t	 done = 0;
	ssize_t	 n, i;
	int	 bol = 1, lonedot = 0, cr = 0;

	while (done < len) {
		n = pread(fd, buf, len - done < (off_t)sizeof(buf) ?
		    (size_t)(len - done) : sizeof(buf), off + done);
		if (n <= 0) {
			(void)snprintf(err, errsz, "short read");
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (!cr || lonedot)
					goto bad;
				bol = 1;
				cr = lonedot = 0;
			} else if (cr || buf[i] == '\0')
				goto bad;
			else if (buf[i] == '\r')
				cr = 1;
			else {
				lonedot = bol && buf[i] == '.';
				bol = 0;
			}
		}
		done += n;
	}
	if (!bol || len < 2) {
 bad:
		(void)snprintf(err, errsz, "data is not in wire form");
		return -1;
	}
	return 0;
}

/* State files: "RELAYQ-STATE 1", "A attempts next last", "R idx st dsn text" */
static const char *const spool_st_names[] = {
	"pending", "sent", "deferred", "failed"
};

int
spool_parse_state(const char *buf, size_t len, struct qmsg *m)
{
	const char	*p = buf, *end = buf + len, *nl;
	char		 line[REPLY_MAX * 5], st[16], dsn[16];
	unsigned int	 att, idx;
	long long	 next, last;
	int		 off, k;

	if ((nl = memchr(p, '\n', len)) == NULL ||
	    (size_t)(nl - p) != 14 || memcmp(p, "RELAYQ-STATE 1", 14) != 0)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (size_t)(nl - p) >= sizeof(line))
			return -1;
		memcpy(line, p, (size_t)(nl - p));
		line[nl - p] = '\0';
		if (sscanf(line, "A %u %lld %lld", &att, &next, &last) == 3) {
			m->attempts = att;
			m->next_try = (time_t)next;
			m->last_try = (time_t)last;
			continue;
		}
		if (sscanf(line, "R %u %15s %15s %n", &idx, st, dsn, &off) != 3 ||
		    idx >= m->nrcpt)
			return -1;
		for (k = 0; k < 4; k++)
			if (strcmp(st, spool_st_names[k]) == 0)
				break;
		if (k == 4)
			return -1;
		m->rcpt[idx].status = (enum rcpt_status)k;
		(void)strlcpy(m->rcpt[idx].dsn, strcmp(dsn, "-") ? dsn : "",
		    sizeof(m->rcpt[idx].dsn));
		(void)strlcpy(m->rcpt[idx].reply, line + off,
		    sizeof(m->rcpt[idx].reply));
	}
	return 0;
}

/* Missing state file = first attempt, due now. */
int
spool_read_state(int dirfd, const char *id, struct qmsg *m)
{
	struct stat	 st;
	char		*buf;
	int		 fd, rc = -1;

	if ((fd = openat(dirfd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	/* bounded by what SPOOL_RCPTMAX recipients can need */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)SPOOL_RCPTMAX * REPLY_MAX * 2 ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		(void)close(fd);
		return -1;
	}
	if (pread(fd, buf, (size_t)st.st_size, 0) == (ssize_t)st.st_size)
		rc = spool_parse_state(buf, (size_t)st.st_size, m);
	free(buf);
	(void)close(fd);
	return rc;
}

/*
 * Replace the state file atomically: write "ID.tmp", fsync, rename over
 * "ID", fsync the directory.  A crash leaves the old state or the new one;
 * a stale "ID.tmp" is overwritten next time (O_TRUNC) and removed at
 * start-up.  A write that fails (a full disk) removes "ID.tmp" at once:
 * the old state stays the valid one, and nothing is left behind.
 */
int
spool_write_state(int dirfd, const char *id, struct qmsg *m)
{
	char	 tmp[SPOOL_IDLEN + 8], line[REPLY_MAX + 64];
	FILE	*fp;
	size_t	 i;
	int	 fd, rc = 0, saved;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", id);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if ((fp = fdopen(fd, "w")) == NULL) {
		(void)close(fd);
		rc = -1;
		goto fail;
	}
	(void)fprintf(fp, "RELAYQ-STATE 1\nA %u %lld %lld\n", m->attempts,
	    (long long)m->next_try, (long long)m->last_try);
	for (i = 0; i < m->nrcpt; i++) {
		if (m->rcpt[i].status == RCPT_PENDING)
			continue;
		(void)snprintf(line, sizeof(line), "R %zu %s %s %s\n", i,
		    spool_st_names[m->rcpt[i].status],
		    m->rcpt[i].dsn[0] ? m->rcpt[i].dsn : "-", m->rcpt[i].reply);
		(void)fputs(line, fp);
	}
	if (fflush(fp) == EOF || fsync(fd) == -1)
		rc = -1;
	if (fclose(fp) == EOF)
		rc = -1;
	CRASH_POINT("state-before-rename");
	if (rc == 0 && renameat(dirfd, tmp, dirfd, id) == -1)
		rc = -1;
	else if (rc == 0) {
		if (fsync(dirfd) == -1)
			rc = -1;
		return rc;
	}
 fail:
	saved = errno;
	(void)unlinkat(dirfd, tmp, 0);
	errno = saved;
	return rc;
}

/*
 * queue_minfree: new mail only while the spool's file system keeps this
 * much free for everyone (0: 1.5 x max_message_size, as Postfix's
 * smtpd reserves).  Any local user could otherwise fill it, and a
 * submission over the control socket is written as relayq, past any
 * quota of the caller's.  `fd' is any descriptor on that file system.
 * 0, or -1 with `err' saying how much is free and how much is kept.
 */
int
spool_minfree(int fd, const struct conf *c, char *err, size_t errsz)
{
	struct statvfs	 sv;
	long long	 need, avail;

	need = c->queue_minfree > 0 ? c->queue_minfree :
	    c->max_message_size / 2 * 3;
	if (fstatvfs(fd, &sv) == -1)
		return 0;	/* cannot tell: the write itself decides */
	avail = (long long)sv.f_bavail * (long long)sv.f_frsize;
	if (avail >= need)
		return 0;
	(void)snprintf(err, errsz, "the spool %s has %lld KB free, less than "
	    "the %lld KB kept free (queue_minfree%s); try again when an "
	    "administrator has made room", c->spool, avail / 1024,
	    (need + 1023) / 1024, c->queue_minfree > 0 ? "" : " 0: 1.5 x "
	    "max_message_size");
	return -1;
}
