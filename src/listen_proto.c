/*
 * The control channel between the listener's session helper
 * (listen_session.c, in relayq) and the sendmail -bs it runs for one
 * client (bs.c): descriptor 3 of that sendmail, a stream socket, one
 * line per message, each ended by a newline:
 *
 *	helper -> sendmail	S [ADDR] FLAGS	first: the client's address
 *						and what it may do
 *				Y | N		the answer to an A
 *				R		TLS is up: drop the plaintext
 *	sendmail -> helper	A MECH USER PASSWORD
 *						check this password
 *				T		STARTTLS: answer 220, start
 *						TLS
 *				G		the plaintext is gone: relay
 *
 * FLAGS is "-" or letters: a (AUTH possible: listen_auth_file), t
 * (STARTTLS possible), r (may relay without AUTH: loopback or
 * listen_allow), p (AUTH may be offered before TLS: loopback).
 * PASSWORD is the rest of the line: any byte but NUL, CR and LF.
 *
 * Both ends parse what the other says with lproto_parse, a pure
 * function (test/unit_lproto.c, test/fuzz/fuzz_lproto.c): the helper
 * holds the password hashes and the TLS key and trusts nothing sendmail
 * says, and sendmail parses the network client's bytes.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "lproto.h"

static const char lproto_flagchars[] = "atrp";

/* a field of printable ASCII without space, 1 to sz - 1 bytes */
static int
lproto_word(const char **p, const char *end, char *out, size_t sz)
{
	size_t	 n = 0;

	while (*p < end && **p > ' ' && **p < 0x7f) {
		if (n + 1 >= sz)
			return -1;
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* One line, without its newline, into `m'.  0, or -1 with why in err. */
int
lproto_parse(const char *line, size_t len, struct lproto_msg *m, char *err,
    size_t errsz)
{
	const char	*p = line + 2, *end = line + len, *f;
	char		 flags[8];
	size_t		 i;

	memset(m, 0, sizeof(*m));
	if (len == 0 || memchr(line, '\0', len) != NULL ||
	    memchr(line, '\r', len) != NULL || memchr(line, '\n', len) != NULL) {
		(void)snprintf(err, errsz, "empty line, or a NUL, CR or LF in "
		    "it");
		return -1;
	}
	m->type = line[0];
	switch (m->type) {
	case LPROTO_YES:
	case LPROTO_NO:
	case LPROTO_READY:
	case LPROTO_STARTTLS:
	case LPROTO_GO:
		if (len == 1)
			return 0;
		break;
	case LPROTO_START:
		if (len < 2 || line[1] != ' ' || lproto_word(&p, end, m->client,
		    sizeof(m->client)) == -1 || m->client[0] != '[' ||
		    m->client[strlen(m->client) - 1] != ']' || p == end ||
		    *p++ != ' ' || lproto_word(&p, end, flags, sizeof(flags)) ==
		    -1 || p != end)
			break;
		if (strcmp(flags, "-") == 0)
			return 0;
		for (i = 0; flags[i] != '\0'; i++) {
			if ((f = strchr(lproto_flagchars, flags[i])) == NULL)
				goto bad;
			m->flags |= 1U << (f - lproto_flagchars);
		}
		return 0;
	case LPROTO_AUTH:
		if (len < 2 || line[1] != ' ' || lproto_word(&p, end, m->mech,
		    sizeof(m->mech)) == -1 || (strcmp(m->mech, "PLAIN") != 0 &&
		    strcmp(m->mech, "LOGIN") != 0) || p == end || *p++ != ' ' ||
		    lproto_word(&p, end, m->user, sizeof(m->user)) == -1 ||
		    p == end || *p++ != ' ' || p == end ||
		    (size_t)(end - p) >= sizeof(m->pass))
			break;
		memcpy(m->pass, p, (size_t)(end - p));
		m->passlen = (size_t)(end - p);
		return 0;
	default:
		break;
	}
 bad:
	(void)snprintf(err, errsz, "malformed control message (type 0x%02x, "
	    "%zu bytes)", (unsigned char)line[0], len);
	explicit_bzero(m, sizeof(*m));
	return -1;
}

/* "atrp" for the flags; "-" for none */
void
lproto_flags(unsigned int flags, char *out, size_t sz)
{
	size_t	 i, n = 0;

	for (i = 0; lproto_flagchars[i] != '\0' && n + 1 < sz; i++)
		if (flags & (1U << i))
			out[n++] = lproto_flagchars[i];
	if (n == 0 && sz > 1)
		out[n++] = '-';
	out[n] = '\0';
}

/*
 * One line from fd into buf, without its newline, a byte at a time: the
 * messages are few and short, and nothing after the newline may be
 * taken from the socket.  Its length, or -1 at the end of input, on an
 * error or timeout (errno), or for a line over sz - 1 bytes.
 */
ssize_t
lproto_getline(int fd, char *buf, size_t sz)
{
	size_t	 n = 0;
	ssize_t	 r;
	char	 c;

	for (;;) {
		if ((r = read(fd, &c, 1)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPIPE;
			return -1;
		}
		if (c == '\n')
			break;
		if (n + 1 >= sz) {
			errno = EMSGSIZE;
			return -1;
		}
		buf[n++] = c;
	}
	buf[n] = '\0';
	return (ssize_t)n;
}

/* One message, newline added.  0, or -1 (errno). */
int
lproto_send(int fd, const char *fmt, ...)
{
	char	 buf[LPROTO_LINEMAX];
	va_list	 ap;
	int	 n, rc;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[n++] = '\n';
	rc = util_writeall(fd, buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/*
 * A client's address as the Received field and the log name it:
 * "[192.0.2.1]", "[IPv6:2001:db8::1]" (RFC 5321 4.1.3); an IPv4 client
 * of an IPv6 socket as IPv4.  buf, or NULL for another family.
 */
const char *
lproto_client(const struct sockaddr *sa, char *buf, size_t sz)
{
	const struct sockaddr_in6	*s6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)sa;
	char				 a[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		if (inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], a,
		    sizeof(a)) == NULL)
			return NULL;
		(void)snprintf(buf, sz, "[%s]", a);
	} else if (sa->sa_family == AF_INET6) {
		if (inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a)) == NULL)
			return NULL;
		(void)snprintf(buf, sz, "[IPv6:%s]", a);
	} else if (sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a)) == NULL)
			return NULL;
		(void)snprintf(buf, sz, "[%s]", a);
	} else
		return NULL;
	return buf;
}
