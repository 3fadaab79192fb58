/*
 * Message preparation at submission: read the caller's
 * message from a descriptor, repair what callers get wrong, and write it
 * in wire form (CRLF, dot-stuffed) to the queue file.  Memory is bounded:
 * the header is held (up to MSG_HDRMAX), the body is streamed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"

#define MSG_HDRMAX	(1024 * 1024)

/* --- input: lines, CR/LF repaired, NULs dropped, long lines split --- */

void
msg_in_init(struct msg_in *in, int fd, int iflag)
{
	/* the buffers are left as they are: pos, len and seglen say what
	   they hold, and clearing 66 KB would fault in pages for nothing */
	memset(in, 0, offsetof(struct msg_in, seg));
	in->fd = fd;
	in->iflag = iflag;
	in->bol = 1;
}

/* Next byte, or -1 at the end of input (a read error counts as the end). */
static int
msg_in_getc(struct msg_in *in)
{
	ssize_t	 n;

	if (in->pos == in->len) {
		if (in->eof)
			return -1;
		do
			n = read(in->fd, in->buf, sizeof(in->buf));
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			in->eof = 1;
			in->error = n == -1 ? errno : 0;
			return -1;
		}
		in->pos = 0;
		in->len = (size_t)n;
	}
	return (unsigned char)in->buf[in->pos++];
}

static int
msg_in_peek(struct msg_in *in)
{
	int	 c = msg_in_getc(in);

	if (c != -1)
		in->pos--;
	return c;
}

/*
 * After a CR: swallow the LF of a CRLF.  1 if it was a bare CR.  NULs
 * in between are dropped first ("CR NUL LF" is one line end), so that
 * the result is that of removing every NUL before reading lines.  A run
 * of CRs before the LF is one line end too: CR CR LF is what PHP's
 * mail() and Windows programs write when they add a CR to a line that
 * already has one, and Postfix reads it as one line end.  CRs that no
 * LF follows stay bare, one by one (in->pendcr).
 */
static int
msg_in_bare_cr(struct msg_in *in)
{
	unsigned long	 ncr = 0;
	int		 c;

	while ((c = msg_in_peek(in)) == '\0' || c == '\r') {
		in->pos++;
		if (c == '\0')
			in->nuls++;
		else
			ncr++;
	}
	if (c == '\n') {
		in->pos++;
		return 0;
	}
	in->pendcr = ncr;
	in->barecr++;
	return 1;
}

/*
 * Next piece of a line, at most `cap' bytes, into in->seg.  Returns
 * MSGIN_LINE (a whole line or its last piece), MSGIN_MORE (the line goes on)
 * or MSGIN_EOF.  LF and CRLF end a line.  A bare CR ends one too, except in
 * header mode (crspace), where it is kept in the piece for the caller to
 * turn into a space; either way it is counted so the repair is logged.
 * A line that is a lone dot ends the input unless -i was given.
 */
int
msg_in_line(struct msg_in *in, size_t cap)
{
	int	 c;

	in->seglen = 0;
	if (in->done)
		return MSGIN_EOF;
	for (;;) {
		if (in->pendcr > 0) {
			/* a bare CR of a run that no LF ended */
			in->pendcr--;
			in->barecr++;
			c = in->crspace ? '\r' : '\n';
		} else if ((c = msg_in_getc(in)) == -1) {
			in->done = 1;
			/* no final newline: the last line still counts,
			 * except a lone dot, which ends the input as it
			 * would with a newline (Postfix does the same) */
			if (in->seglen == 0 && in->bol)
				return MSGIN_EOF;
			if (!in->iflag && in->bol && in->seglen == 1 &&
			    in->seg[0] == '.') {
				in->seglen = 0;
				return MSGIN_EOF;
			}
			break;
		} else if (c == '\r') {
			if (!msg_in_bare_cr(in))
				c = '\n';
			else if (!in->crspace)
				c = '\n';
		}
		if (c == '\n') {
			if (!in->iflag && in->bol && in->seglen == 1 &&
			    in->seg[0] == '.') {
				in->done = 1;
				return MSGIN_EOF;
			}
			break;
		}
		if (c == '\0') {
			in->nuls++;
			continue;
		}
		if (c & 0x80)
			in->eightbit = 1;
		in->seg[in->seglen++] = (char)c;
		if (in->seglen == cap) {
			/* exactly `cap' octets and then the line end: whole */
			while ((c = msg_in_peek(in)) == '\0') {
				in->pos++;
				in->nuls++;
			}
			if (c == '\n')
				in->pos++;
			else if (c == '\r' && !in->crspace) {
				in->pos++;
				(void)msg_in_bare_cr(in);
			}
			else if (c != -1) {
				in->bol = 0;
				return MSGIN_MORE;
			}
			break;
		}
	}
	in->bol = 1;
	return MSGIN_LINE;
}

/* --- output: wire form, counted --- */

void
msg_out_init(struct msg_out *o, int fd, long long max)
{
	memset(o, 0, offsetof(struct msg_out, buf));	/* as msg_in_init */
	o->fd = fd;
	o->max = max;
}

int
msg_out_flush(struct msg_out *o)
{
	if (o->len > 0 && util_writeall(o->fd, o->buf, o->len) == -1)
		return -1;
	o->written += (long long)o->len;
	o->len = 0;
	return 0;
}

static int
msg_out_bytes(struct msg_out *o, const char *p, size_t n)
{
	size_t	 k;

	while (n > 0) {
		if (o->len == sizeof(o->buf) && msg_out_flush(o) == -1)
			return -1;
		k = sizeof(o->buf) - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		p += k;
		n -= k;
	}
	return 0;
}

/*
 * One line in wire form, CRLF added: a leading dot doubled (RFC 5321
 * 4.5.2), or a leading space when `fold' makes it the continuation of an
 * over-long line.  Returns 0, -1 on a write error (errno), or EX_DATAERR
 * when the message grows past max_message_size.
 */
static int
msg_out_seg(struct msg_out *o, int fold, const char *p, size_t n)
{
	o->data += (long long)n + 2 + (fold ? 1 : 0);
	if (o->data > o->max)
		return EX_DATAERR;
	if (fold && msg_out_bytes(o, " ", 1) == -1)
		return -1;
	if (!fold && n > 0 && p[0] == '.' && msg_out_bytes(o, ".", 1) == -1)
		return -1;
	if (msg_out_bytes(o, p, n) == -1 || msg_out_bytes(o, "\r\n", 2) == -1)
		return -1;
	return 0;
}

int
msg_out_line(struct msg_out *o, const char *p, size_t n)
{
	return msg_out_seg(o, 0, p, n);
}

/*
 * A line of any length, folded Postfix-style: pieces of at most 998
 * octets, each continuation starting with a space.
 */
static int
msg_out_long(struct msg_out *o, const char *p, size_t n, unsigned long *folded)
{
	size_t	 cap = LINE_MAX_OCTETS, k;
	int	 rc, fold = 0;

	if (n > cap)
		(*folded)++;
	do {
		k = n > cap ? cap : n;
		if ((rc = msg_out_seg(o, fold, p, k)) != 0)
			return rc;
		p += k;
		n -= k;
		fold = 1;
		cap = LINE_MAX_OCTETS - 1;
	} while (n > 0);
	return 0;
}

/* --- header --- */

/* field-name, optional white space (obsolete syntax), then a colon */
static int
msg_hdr_is_field(const char *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n && p[i] > ' ' && p[i] <= '~' && p[i] != ':'; i++)
		;
	if (i == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] == ':';
}

/* Case-insensitive field-name match: "to" matches "To:" and "TO :" */
int
msg_hdr_name_is(const struct msg_hdr *h, const char *name)
{
	size_t	 n = strlen(name);

	return h->namelen == n && strncasecmp(h->text, name, n) == 0;
}

const struct msg_hdr *
msg_hdr_find(const struct msg *m, const char *name)
{
	size_t	 i;

	for (i = 0; i < m->nhdr; i++)
		if (!m->hdr[i].drop && msg_hdr_name_is(&m->hdr[i], name))
			return &m->hdr[i];
	return NULL;
}

static int
msg_hdr_add(struct msg *m, const char *p, size_t n, int newfield)
{
	struct msg_hdr	*h;
	char		*t;
	size_t		 add = n + (newfield ? 0 : 2);

	if (m->hdrbytes + add > MSG_HDRMAX)
		return EX_DATAERR;
	if (newfield) {
		h = reallocarray(m->hdr, m->nhdr + 1, sizeof(*h));
		if (h == NULL)
			return EX_OSERR;
		m->hdr = h;
		h = &m->hdr[m->nhdr++];
		memset(h, 0, sizeof(*h));
		h->namelen = strcspn(p, ":");
		while (h->namelen > 0 && (p[h->namelen - 1] == ' ' ||
		    p[h->namelen - 1] == '\t'))
			h->namelen--;	/* obsolete "Name :" syntax */
	} else
		h = &m->hdr[m->nhdr - 1];
	if ((t = realloc(h->text, h->len + add + 1)) == NULL)
		return EX_OSERR;
	h->text = t;
	if (!newfield) {
		memcpy(t + h->len, "\r\n", 2);
		h->len += 2;
	}
	memcpy(t + h->len, p, n);
	h->len += n;
	t[h->len] = '\0';
	m->hdrbytes += add;
	return 0;
}

/* A bare CR kept by the reader becomes a space; CRLF joins stay. */
static void
msg_hdr_crspace(struct msg_hdr *h)
{
	size_t	 i;

	for (i = 0; i < h->len; i++)
		if (h->text[i] == '\r' && (i + 1 == h->len ||
		    h->text[i + 1] != '\n'))
			h->text[i] = ' ';
}

/* Read one whole physical line into m->line (bounded by MSG_HDRMAX). */
static int
msg_read_physical(struct msg *m, struct msg_in *in)
{
	char	*t;
	int	 r;

	m->linelen = 0;
	do {
		if ((r = msg_in_line(in, sizeof(in->seg) - 2)) == MSGIN_EOF)
			return m->linelen > 0 ? MSGIN_LINE : MSGIN_EOF;
		if (m->linelen + in->seglen + 1 > MSG_HDRMAX)
			return -1;
		if (m->linelen + in->seglen + 1 > m->linesz) {
			t = realloc(m->line, m->linelen + in->seglen + 4096);
			if (t == NULL)
				return -1;
			m->line = t;
			m->linesz = m->linelen + in->seglen + 4096;
		}
		memcpy(m->line + m->linelen, in->seg, in->seglen);
		m->linelen += in->seglen;
	} while (r == MSGIN_MORE);
	m->line[m->linelen] = '\0';
	return MSGIN_LINE;
}

/*
 * Read the header block.  It ends at an empty line, at the end of input,
 * or at the first line that is neither a field nor a continuation; that
 * line is kept in m->line as the first body line (m->bodyfirst).  Mbox
 * "From " / ">From " lines before the first field are dropped.  A bare
 * CR reads as a space in a field, as a line break in that body line.
 */
int
msg_read_header(struct msg *m, struct msg_in *in)
{
	size_t	 i;
	int	 r, rc;

	in->crspace = 1;
	for (;;) {
		if ((r = msg_read_physical(m, in)) == -1)
			return EX_DATAERR;
		if (r == MSGIN_EOF || m->linelen == 0)
			break;
		if (m->nhdr == 0 && (strncmp(m->line, "From ", 5) == 0 ||
		    strncmp(m->line, ">From ", 6) == 0))
			continue;
		if ((m->line[0] == ' ' || m->line[0] == '\t') && m->nhdr > 0)
			rc = msg_hdr_add(m, m->line, m->linelen, 0);
		else if (msg_hdr_is_field(m->line, m->linelen))
			rc = msg_hdr_add(m, m->line, m->linelen, 1);
		else {
			m->bodyfirst = 1;	/* not a header: body starts */
			break;
		}
		if (rc != 0)
			return rc;
	}
	in->crspace = 0;
	for (i = 0; i < m->nhdr; i++)
		msg_hdr_crspace(&m->hdr[i]);
	return in->error != 0 ? EX_IOERR : 0;
}

/*
 * Does the header carry UTF-8 (RFC 6532)?  1 when a field that is kept
 * has non-ASCII bytes and every such field is well-formed UTF-8 (Latin-1
 * and other raw 8-bit bytes are not RFC 6532, and SMTPUTF8 would not
 * describe them).
 */
int
msg_hdr_utf8(const struct msg *m)
{
	const unsigned char	*p, *e;
	size_t			 i, n, k;
	int			 any = 0;

	for (i = 0; i < m->nhdr; i++) {
		if (m->hdr[i].drop)
			continue;
		p = (const unsigned char *)m->hdr[i].text;
		for (e = p + m->hdr[i].len; p < e; p += n) {
			if (*p < 0x80) {
				n = 1;
				continue;
			}
			any = 1;
			if (*p >= 0xc2 && *p <= 0xdf)
				n = 2;
			else if (*p >= 0xe0 && *p <= 0xef)
				n = 3;
			else if (*p >= 0xf0 && *p <= 0xf4)
				n = 4;
			else
				return 0;
			if ((size_t)(e - p) < n)
				return 0;
			for (k = 1; k < n; k++)
				if ((p[k] & 0xc0) != 0x80)
					return 0;
			/* overlong, surrogate and past U+10FFFF forms */
			if ((p[0] == 0xe0 && p[1] < 0xa0) ||
			    (p[0] == 0xed && p[1] > 0x9f) ||
			    (p[0] == 0xf0 && p[1] < 0x90) ||
			    (p[0] == 0xf4 && p[1] > 0x8f))
				return 0;
		}
	}
	return any;
}

/*
 * -t: recipients from To, Cc, Bcc, or from Resent-To, Resent-Cc and
 * Resent-Bcc when one of those is present (RFC 5322 3.6.6).  A
 * Resent-From or Resent-Date alone leaves To, Cc and Bcc in charge, as
 * in Postfix: else the message would have no recipient at all.
 */
int
msg_hdr_recipients(const struct msg *m, struct addr_list *l, char *err,
    size_t errsz)
{
	static const char *const plain[] = { "To", "Cc", "Bcc", NULL };
	static const char *const resent[] = { "Resent-To", "Resent-Cc",
	    "Resent-Bcc", NULL };
	const char *const	*names = plain;
	const struct msg_hdr	*h;
	char			*v;
	size_t			 i, j, k, n;
	int			 rc;

	for (i = 0; i < m->nhdr; i++)
		for (j = 0; resent[j] != NULL; j++)
			if (msg_hdr_name_is(&m->hdr[i], resent[j]))
				names = resent;
	for (i = 0; i < m->nhdr; i++) {
		h = &m->hdr[i];
		for (j = 0; names[j] != NULL; j++) {
			if (!msg_hdr_name_is(h, names[j]))
				continue;
			/* unfold (RFC 5322 2.2.3): drop each CRLF */
			if ((v = malloc(h->len + 1)) == NULL) {
				(void)snprintf(err, errsz, "out of memory");
				return -1;
			}
			for (k = h->namelen + 1, n = 0; k < h->len; k++)
				if (h->text[k] != '\r' && h->text[k] != '\n')
					v[n++] = h->text[k];
			rc = addr_parse_list(v, n, l, err, errsz);
			free(v);
			if (rc == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Replace the value of field `h' (after the colon at offset `v') with
 * `val', which is consumed.  -1 when out of memory (`h' unchanged).
 */
static int
msg_hdr_set_value(struct msg *m, struct msg_hdr *h, size_t v, char *val)
{
	size_t	 nl = strlen(val);
	char	*t;

	if ((t = malloc(v + nl + 1)) == NULL) {
		free(val);
		return -1;
	}
	memcpy(t, h->text, v);
	memcpy(t + v, val, nl + 1);
	free(val);
	free(h->text);
	h->text = t;
	m->hdrbytes += v + nl - h->len;
	h->len = v + nl;
	return 0;
}

/*
 * Masquerading: the fields that carry addresses a reply or a
 * bounce goes to.  Bcc and Resent-Bcc are removed anyway.
 */
static const char *const msg_addr_fields[] = {
	"From", "Sender", "Reply-To", "To", "Cc",
	"Resent-From", "Resent-Sender", "Resent-Reply-To", "Resent-To",
	"Resent-Cc", "Errors-To", "Mail-Followup-To", "Mail-Reply-To",
	"Disposition-Notification-To", "Return-Receipt-To", NULL
};

/*
 * Each field of `m' named in `fields' (not dropped) through `fn' (the
 * value after the colon; returns the number of addresses rewritten with
 * a new value, 0 for none, -1 when out of memory).  *count gets the
 * number rewritten.  0, or EX_OSERR when out of memory.
 */
static int
msg_hdr_rewrite(struct msg *m, const char *const *fields,
    int (*fn)(void *, const char *, size_t, char **), void *arg,
    unsigned long *count)
{
	struct msg_hdr	*h;
	size_t		 i, j, v;
	char		*val;
	int		 r;

	for (i = 0; i < m->nhdr; i++) {
		h = &m->hdr[i];
		if (h->drop)
			continue;
		for (j = 0; fields[j] != NULL; j++)
			if (msg_hdr_name_is(h, fields[j]))
				break;
		if (fields[j] == NULL)
			continue;
		v = (size_t)(strchr(h->text, ':') - h->text) + 1;
		if ((r = fn(arg, h->text + v, h->len - v, &val)) == -1)
			return EX_OSERR;
		if (r == 0)
			continue;
		if (msg_hdr_set_value(m, h, v, val) == -1)
			return EX_OSERR;
		*count += (unsigned long)r;
	}
	return 0;
}

struct msg_masq {
	const char		*domain;
	const char *const	*locals;
};

static int
msg_masq_fn(void *arg, const char *s, size_t len, char **out)
{
	const struct msg_masq	*mq = arg;

	return addr_masquerade(s, len, mq->domain, mq->locals, out);
}

/*
 * Rewrite bare names and local-domain addresses in every address field
 * to name@domain (addr_masquerade).  *count gets the number of addresses
 * rewritten.  0, or EX_OSERR when out of memory.
 */
int
msg_hdr_masquerade(struct msg *m, const char *domain,
    const char *const *locals, unsigned long *count)
{
	struct msg_masq	 mq = { domain, locals };

	return msg_hdr_rewrite(m, msg_addr_fields, msg_masq_fn, &mq, count);
}

/*
 * The fields the canonical map rewrites: those Postfix's cleanup
 * rewrites with sender_canonical_maps (make interop compares).
 */
static const char *const msg_sender_fields[] = {
	"From", "Sender", "Reply-To", "Errors-To", "Return-Receipt-To",
	"Disposition-Notification-To", "Mail-Followup-To", "Resent-From",
	"Resent-Sender", NULL
};

static int
msg_canon_fn(void *arg, const char *s, size_t len, char **out)
{
	return canon_header(arg, s, len, out);
}

/*
 * sender_canonical: each address of the sender fields that the map has
 * becomes its canonical form (canon_header), display names kept.  Runs
 * before masquerading (the map sees addresses as written, user@localhost
 * and bare users included: canon_lookup qualifies those) and before
 * force_from.  *count gets the number of addresses rewritten.  0, or
 * EX_OSERR when out of memory.
 */
int
msg_hdr_canonical(struct msg *m, const struct canon *c, unsigned long *count)
{
	return msg_hdr_rewrite(m, msg_sender_fields, msg_canon_fn, (void *)c,
	    count);
}

/*
 * force_from: the address of the From field becomes `addr',
 * display name and comments kept; the original value goes to a new
 * Reply-To when the message has none, so replies still reach the
 * author.  0, or EX_OSERR / EX_DATAERR (header too large).
 */
int
msg_hdr_force_from(struct msg *m, const char *addr)
{
	struct msg_hdr	*h = NULL;
	size_t		 i, v;
	char		*val, *rt;
	int		 rc;

	for (i = 0; i < m->nhdr && h == NULL; i++)
		if (!m->hdr[i].drop && msg_hdr_name_is(&m->hdr[i], "From"))
			h = &m->hdr[i];
	if (h == NULL)
		return 0;	/* the generated From has the address */
	v = (size_t)(strchr(h->text, ':') - h->text) + 1;
	if ((val = addr_force(h->text + v, h->len - v, addr)) == NULL)
		return EX_OSERR;
	if (msg_hdr_find(m, "Reply-To") == NULL) {
		if (asprintf(&rt, "Reply-To:%s", h->text + v) == -1) {
			free(val);
			return EX_OSERR;
		}
		rc = msg_hdr_add(m, rt, strlen(rt), 1);
		free(rt);
		if (rc != 0) {
			free(val);
			return rc;
		}
		/* msg_hdr_add may have moved the array */
		for (i = 0, h = NULL; i < m->nhdr && h == NULL; i++)
			if (!m->hdr[i].drop &&
			    msg_hdr_name_is(&m->hdr[i], "From"))
				h = &m->hdr[i];
	}
	return msg_hdr_set_value(m, h, v, val) == -1 ? EX_OSERR : 0;
}

/* Write each CRLF-separated line of a field, folding over-long ones. */
static int
msg_write_field(struct msg_out *o, const char *p, size_t n,
    unsigned long *folded)
{
	const char	*eol;
	size_t		 ll;
	int		 rc;

	for (;;) {
		eol = memmem(p, n, "\r\n", 2);
		ll = eol != NULL ? (size_t)(eol - p) : n;
		if ((rc = msg_out_long(o, p, ll, folded)) != 0)
			return rc;
		if (eol == NULL)
			return 0;
		p += ll + 2;
		n -= ll + 2;
	}
}

/*
 * The header: `top' fields first (trace), then the caller's fields that
 * are not dropped, then `bottom' (fields added because missing, where
 * Postfix puts them), then the empty line that ends the header.
 */
int
msg_write_header(struct msg *m, struct msg_out *o, char *const *top,
    char *const *bottom, unsigned long *folded)
{
	size_t	 i;
	int	 rc;

	for (; top != NULL && *top != NULL; top++)
		if ((rc = msg_write_field(o, *top, strlen(*top), folded)) != 0)
			return rc;
	for (i = 0; i < m->nhdr; i++) {
		if (m->hdr[i].drop)
			continue;
		rc = msg_write_field(o, m->hdr[i].text, m->hdr[i].len, folded);
		if (rc != 0)
			return rc;
	}
	for (; bottom != NULL && *bottom != NULL; bottom++)
		if ((rc = msg_write_field(o, *bottom, strlen(*bottom),
		    folded)) != 0)
			return rc;
	return msg_out_line(o, "", 0);
}

/* Stream the body: the held first line, then the rest of the input. */
int
msg_write_body(struct msg *m, struct msg_in *in, struct msg_out *o)
{
	const char	*p, *cr;
	size_t		 n, k;
	int		 r, rc, fold = 0;

	if (m->bodyfirst) {
		p = m->line;
		n = m->linelen;
		do {	/* bare CRs read in header mode: line breaks here */
			cr = memchr(p, '\r', n);
			k = cr != NULL ? (size_t)(cr - p) : n;
			if ((rc = msg_out_long(o, p, k, &in->folded)) != 0)
				return rc;
			p += k + 1;
			n -= cr != NULL ? k + 1 : k;
		} while (cr != NULL);
	}
	for (;;) {
		r = msg_in_line(in, fold ? LINE_MAX_OCTETS - 1 : LINE_MAX_OCTETS);
		if (r == MSGIN_EOF)
			break;
		if ((rc = msg_out_seg(o, fold, in->seg, in->seglen)) != 0)
			return rc;
		if (r == MSGIN_MORE && !fold)
			in->folded++;
		fold = r == MSGIN_MORE;
	}
	if (in->error != 0) {
		errno = in->error;
		return EX_IOERR;
	}
	return msg_out_flush(o) == -1 ? -1 : 0;
}

void
msg_free(struct msg *m)
{
	size_t	 i;

	for (i = 0; i < m->nhdr; i++)
		free(m->hdr[i].text);
	free(m->hdr);
	free(m->line);
	memset(m, 0, sizeof(*m));
}
