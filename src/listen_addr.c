/*
 * The SMTP listener's address parsers (listen.c): the addresses of
 * `listen' and the CIDR list of `listen_allow', and who is loopback.
 * Pure functions over strings and socket addresses, without DNS (the
 * listener binds before it knows a resolver would answer, and an access
 * list that depends on DNS is one an attacker's zone can change), unit
 * tested (test/unit_listen.c) and fuzzed (test/fuzz/fuzz_listen.c).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "listen.h"

#define LISTEN_PORT	25

/*
 * One `listen' value: "192.0.2.1", "192.0.2.1:2525", "[2001:db8::1]",
 * "[2001:db8::1]:2525", "*:2525" or "[::]:2525" (every address), with
 * port 25 when none is given.  Numeric addresses only.  0, or -1 with
 * the reason in err.
 */
int
listen_parse_addr(const char *spec, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errsz)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)ss;
	char			 host[INET6_ADDRSTRLEN + 1];
	const char		*port = NULL, *end, *errstr;
	size_t			 n;
	long long		 p = LISTEN_PORT;

	memset(ss, 0, sizeof(*ss));
	if (spec[0] == '[') {
		if ((end = strchr(spec, ']')) == NULL)
			goto bad;
		n = (size_t)(end - spec - 1);
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			goto bad;
		spec++;
	} else {
		/* an IPv6 address needs brackets: "::1:25" is ambiguous */
		if ((end = strchr(spec, ':')) != NULL &&
		    strchr(end + 1, ':') != NULL)
			goto bad;
		n = end != NULL ? (size_t)(end - spec) : strlen(spec);
		if (end != NULL)
			port = end + 1;
	}
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (port != NULL) {
		p = strtonum(port, 1, 65535, &errstr);
		if (errstr != NULL) {
			util_sanitise(host, sizeof(host), spec,
			    strnlen(spec, 40));
			(void)snprintf(err, errsz, "listen: bad port in "
			    "\"%s\" (1-65535)", host);
			return -1;
		}
	}
	if (strcmp(host, "*") == 0)
		(void)strlcpy(host, "0.0.0.0", sizeof(host));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((in_port_t)p);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((in_port_t)p);
		*len = sizeof(*s6);
		return 0;
	}
 bad:
	util_sanitise(host, sizeof(host), spec, strnlen(spec, 40));
	(void)snprintf(err, errsz, "listen: \"%s\" is not ADDRESS, "
	    "ADDRESS:PORT, [IPv6] or [IPv6]:PORT with a numeric address",
	    host);
	return -1;
}

/* The 16 bytes of an address, IPv4 as v4-mapped IPv6; -1 otherwise. */
static int
listen_bytes(const struct sockaddr *sa, unsigned char b[16])
{
	static const unsigned char	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET6) {
		memcpy(b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family == AF_INET) {
		memcpy(b, mapped, 12);
		memcpy(b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	return -1;
}

/* 127.0.0.0/8 and ::1, also as an IPv4 client of an IPv6 socket */
int
listen_is_loopback(const struct sockaddr *sa)
{
	static const unsigned char	 one[16] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0, 0, 0, 0, 0, 1 };
	unsigned char			 b[16];

	if (listen_bytes(sa, b) == -1)
		return 0;
	if (memcmp(b, one, 16) == 0)
		return 1;
	return b[10] == 0xff && b[11] == 0xff && b[12] == 127 &&
	    memcmp(b, one, 10) == 0;
}

/* The same client, whatever its port: what the per-client limit counts. */
int
listen_same_client(const struct sockaddr *a, const struct sockaddr *b)
{
	unsigned char	 x[16], y[16];

	return listen_bytes(a, x) == 0 && listen_bytes(b, y) == 0 &&
	    memcmp(x, y, 16) == 0;
}

/* "192.0.2.0/24", "2001:db8::/32", or one address: as 16 bytes + bits */
static int
listen_cidr(const char *tok, unsigned char net[16], int *bits)
{
	struct sockaddr_storage	 ss;
	char			 a[INET6_ADDRSTRLEN + 1];
	const char		*slash, *errstr;
	size_t			 n;
	int			 v6;

	slash = strchr(tok, '/');
	n = slash != NULL ? (size_t)(slash - tok) : strlen(tok);
	if (n == 0 || n >= sizeof(a))
		return -1;
	memcpy(a, tok, n);
	a[n] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, a,
	    &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		v6 = 0;
	} else if (inet_pton(AF_INET6, a,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		v6 = 1;
	} else
		return -1;
	*bits = v6 ? 128 : 32;
	if (slash != NULL) {
		*bits = (int)strtonum(slash + 1, 0, *bits, &errstr);
		if (errstr != NULL)
			return -1;
	}
	if (!v6)
		*bits += 96;	/* within the v4-mapped range */
	return listen_bytes((struct sockaddr *)&ss, net);
}

/*
 * Is `sa' in the list of `listen_allow' (CIDRs separated by spaces)?
 * 1 or 0; -1 when the list has a bad entry, named in err.
 */
int
listen_allowed(const char *list, const struct sockaddr *sa, char *err,
    size_t errsz)
{
	unsigned char	 net[16], b[16];
	char		 tok[INET6_ADDRSTRLEN + 8];
	const char	*p = list;
	size_t		 n;
	int		 bits, i, in, found = 0;

	if (list == NULL)
		return 0;
	if (listen_bytes(sa, b) == -1)
		b[0] = 0, found = -2;	/* not IP: in no list */
	while (*p != '\0') {
		p += strspn(p, " ");
		if ((n = strcspn(p, " ")) == 0)
			break;
		if (n >= sizeof(tok))
			goto bad;
		memcpy(tok, p, n);
		tok[n] = '\0';
		if (listen_cidr(tok, net, &bits) == -1)
			goto bad;
		p += n;
		if (found != 0)
			continue;	/* the rest is only checked */
		for (i = 0, in = 1; i < bits && in; i++)
			if (((net[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
				in = 0;
		if (in)
			found = 1;
	}
	return found == 1;
 bad:
	/* escaped: the message stays one line whatever the value holds */
	util_sanitise(tok, sizeof(tok), p, n > 40 ? 40 : n);
	(void)snprintf(err, errsz, "listen_allow: \"%s\" is not an address "
	    "or ADDRESS/BITS", tok);
	return -1;
}
