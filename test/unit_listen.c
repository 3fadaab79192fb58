/*
 * Unit tests for src/listen_addr.c, the listener's address parsers: the
 * values of `listen' (address, port, brackets), the CIDR list of
 * `listen_allow', loopback, and what counts as the same client.
 * Linked into test/unit; main() there calls test_listen().
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "relayq.h"
#include "listen.h"
#include "unit.h"


/* `listen' value -> "family address port", or "error" */
static const char *
listen_try(const char *spec, char *buf, size_t sz)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 err[256], a[INET6_ADDRSTRLEN];
	const void		*in;
	unsigned int		 port;

	if (listen_parse_addr(spec, &ss, &len, err, sizeof(err)) == -1) {
		(void)snprintf(buf, sz, "error");
		return buf;
	}
	if (ss.ss_family == AF_INET) {
		in = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else {
		in = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	(void)inet_ntop(ss.ss_family, in, a, sizeof(a));
	(void)snprintf(buf, sz, "%s %s %u", ss.ss_family == AF_INET ? "inet" :
	    "inet6", a, port);
	return buf;
}

/* a client address, as accept(2) gives it */
static struct sockaddr *
listen_sa(const char *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)ss)->sin_addr) == 1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
	return (struct sockaddr *)ss;
}

static int
listen_in(const char *list, const char *a)
{
	struct sockaddr_storage	 ss;
	char			 err[256];

	return listen_allowed(list, listen_sa(a, &ss), err, sizeof(err));
}

void
test_listen(void)
{
	struct sockaddr_storage	 x, y;
	char			 b[128], err[256];

	CASE("listen: ADDRESS, ADDRESS:PORT, [IPv6], [IPv6]:PORT, *:PORT");
	EXPECT_STR("v4", listen_try("127.0.0.1", b, sizeof(b)),
	    "inet 127.0.0.1 25");
	EXPECT_STR("v4 port", listen_try("192.0.2.1:2525", b, sizeof(b)),
	    "inet 192.0.2.1 2525");
	EXPECT_STR("v6", listen_try("[::1]", b, sizeof(b)), "inet6 ::1 25");
	EXPECT_STR("v6 port", listen_try("[2001:db8::1]:587", b, sizeof(b)),
	    "inet6 2001:db8::1 587");
	EXPECT_STR("any", listen_try("*:2525", b, sizeof(b)),
	    "inet 0.0.0.0 2525");
	EXPECT_STR("any v6", listen_try("[::]:25", b, sizeof(b)),
	    "inet6 :: 25");
	END();

	CASE("listen: bad values refused (names, bare IPv6, ports)");
	EXPECT_STR("name", listen_try("localhost:25", b, sizeof(b)), "error");
	EXPECT_STR("bare v6", listen_try("::1:25", b, sizeof(b)), "error");
	EXPECT_STR("port 0", listen_try("127.0.0.1:0", b, sizeof(b)), "error");
	EXPECT_STR("port big", listen_try("127.0.0.1:65536", b, sizeof(b)),
	    "error");
	EXPECT_STR("empty port", listen_try("127.0.0.1:", b, sizeof(b)),
	    "error");
	EXPECT_STR("unclosed", listen_try("[::1:25", b, sizeof(b)), "error");
	EXPECT_STR("after ]", listen_try("[::1]x", b, sizeof(b)), "error");
	EXPECT_STR("empty", listen_try("", b, sizeof(b)), "error");
	END();

	CASE("listen: loopback is 127/8 and ::1, also v4-mapped");
	EXPECT_INT("127.0.0.1", listen_is_loopback(listen_sa("127.0.0.1", &x)),
	    1);
	EXPECT_INT("127.9.8.7", listen_is_loopback(listen_sa("127.9.8.7", &x)),
	    1);
	EXPECT_INT("::1", listen_is_loopback(listen_sa("::1", &x)), 1);
	EXPECT_INT("mapped", listen_is_loopback(listen_sa("::ffff:127.0.0.2",
	    &x)), 1);
	EXPECT_INT("128.0.0.1", listen_is_loopback(listen_sa("128.0.0.1", &x)),
	    0);
	EXPECT_INT("::2", listen_is_loopback(listen_sa("::2", &x)), 0);
	EXPECT_INT("mapped other", listen_is_loopback(listen_sa(
	    "::ffff:10.0.0.1", &x)), 0);
	END();

	CASE("listen_allow: CIDRs of both families, one address, the edges");
	EXPECT_INT("in /24", listen_in("192.0.2.0/24", "192.0.2.77"), 1);
	EXPECT_INT("out /24", listen_in("192.0.2.0/24", "192.0.3.1"), 0);
	EXPECT_INT("/25 edge in", listen_in("10.0.0.0/25", "10.0.0.127"), 1);
	EXPECT_INT("/25 edge out", listen_in("10.0.0.0/25", "10.0.0.128"), 0);
	EXPECT_INT("one address", listen_in("198.51.100.7", "198.51.100.7"),
	    1);
	EXPECT_INT("one address other", listen_in("198.51.100.7",
	    "198.51.100.8"), 0);
	EXPECT_INT("v6 /32", listen_in("2001:db8::/32", "2001:db8:1::5"), 1);
	EXPECT_INT("v6 out", listen_in("2001:db8::/32", "2001:db9::5"), 0);
	EXPECT_INT("v4 entry, v4-mapped client", listen_in("192.0.2.0/24",
	    "::ffff:192.0.2.9"), 1);
	EXPECT_INT("second entry", listen_in("10.0.0.0/8 192.0.2.0/24",
	    "192.0.2.1"), 1);
	EXPECT_INT("/0 is everyone", listen_in("0.0.0.0/0", "203.0.113.1"), 1);
	EXPECT_INT("v4 /0 is not v6", listen_in("0.0.0.0/0", "2001:db8::1"),
	    0);
	EXPECT_INT("none", listen_allowed(NULL, listen_sa("192.0.2.1", &x),
	    err, sizeof(err)), 0);
	END();

	CASE("listen_allow: a bad entry is an error naming it");
	EXPECT_INT("bits", listen_in("10.0.0.0/33", "10.0.0.1"), -1);
	EXPECT_INT("name", listen_in("example.org", "10.0.0.1"), -1);
	EXPECT_INT("after a match", listen_in("10.0.0.0/8 bad", "10.0.0.1"),
	    -1);
	EXPECT_INT("v6 bits", listen_in("::/129", "::2"), -1);
	(void)listen_allowed("10.0.0.0/8 10.0.0.0/x", listen_sa("10.0.0.1",
	    &x), err, sizeof(err));
	EXPECT_HAS("message", err, "\"10.0.0.0/x\"");
	END();

	CASE("listen: the same client whatever the port and family");
	listen_sa("192.0.2.1", &x);
	((struct sockaddr_in *)&x)->sin_port = htons(1000);
	listen_sa("::ffff:192.0.2.1", &y);
	((struct sockaddr_in6 *)&y)->sin6_port = htons(2000);
	EXPECT_INT("same", listen_same_client((struct sockaddr *)&x,
	    (struct sockaddr *)&y), 1);
	listen_sa("192.0.2.2", &y);
	EXPECT_INT("other", listen_same_client((struct sockaddr *)&x,
	    (struct sockaddr *)&y), 0);
	END();
}
