/*
 * Unit tests for src/listen_proto.c, the control channel between the
 * listener's session helper and its sendmail -bs: each message type,
 * the flags, and what must be refused (a CR, LF or NUL in a line, an
 * unknown type, trailing bytes, a bad mechanism).
 * Linked into test/unit; main() there calls test_lproto().
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>

#include "relayq.h"
#include "lproto.h"
#include "unit.h"

static int
lproto_try(const char *line, size_t len, struct lproto_msg *m)
{
	char	 err[128];

	return lproto_parse(line, len, m, err, sizeof(err));
}

void
test_lproto(void)
{
	struct lproto_msg	 m;
	struct sockaddr_in6	 s6;
	char			 fl[8], buf[64];

	CASE("lproto: S: the client and its flags");
	EXPECT_INT("parse", lproto_try("S [192.0.2.1] atrp", 18, &m), 0);
	EXPECT_INT("type", m.type, LPROTO_START);
	EXPECT_STR("client", m.client, "[192.0.2.1]");
	EXPECT_INT("flags", m.flags, LPROTO_F_AUTH | LPROTO_F_TLS |
	    LPROTO_F_RELAY | LPROTO_F_PLAINAUTH);
	EXPECT_INT("no flags", lproto_try("S [IPv6:::1] -", 14, &m), 0);
	EXPECT_INT("no flags: 0", m.flags, 0);
	lproto_flags(LPROTO_F_RELAY | LPROTO_F_AUTH, fl, sizeof(fl));
	EXPECT_STR("flags written", fl, "ar");
	lproto_flags(0, fl, sizeof(fl));
	EXPECT_STR("none written", fl, "-");
	END();

	CASE("lproto: S refused: no brackets, unknown flag, a third field");
	EXPECT_INT("no brackets", lproto_try("S 192.0.2.1 a", 13, &m), -1);
	EXPECT_INT("unknown flag", lproto_try("S [x] ax", 8, &m), -1);
	EXPECT_INT("third field", lproto_try("S [x] a b", 9, &m), -1);
	EXPECT_INT("no flags field", lproto_try("S [x]", 5, &m), -1);
	END();

	CASE("lproto: A: mechanism, user, the password as the rest of the line");
	EXPECT_INT("parse", lproto_try("A PLAIN app pa ss:word", 22, &m), 0);
	EXPECT_STR("mech", m.mech, "PLAIN");
	EXPECT_STR("user", m.user, "app");
	EXPECT_BYTES("pass", m.pass, m.passlen, "pa ss:word");
	EXPECT_INT("LOGIN", lproto_try("A LOGIN u p", 11, &m), 0);
	EXPECT_INT("CRAM-MD5 is not ours", lproto_try("A CRAM-MD5 u p", 14,
	    &m), -1);
	EXPECT_INT("no password", lproto_try("A PLAIN u", 9, &m), -1);
	EXPECT_INT("empty password", lproto_try("A PLAIN u ", 10, &m), -1);
	EXPECT_INT("a CR in it", lproto_try("A PLAIN u p\rS", 13, &m), -1);
	EXPECT_INT("a NUL in it", lproto_try("A PLAIN u p\0x", 13, &m), -1);
	END();

	CASE("lproto: one-letter messages, and only one letter");
	EXPECT_INT("Y", lproto_try("Y", 1, &m), 0);
	EXPECT_INT("Y's type", m.type, LPROTO_YES);
	EXPECT_INT("N", lproto_try("N", 1, &m), 0);
	EXPECT_INT("T", lproto_try("T", 1, &m), 0);
	EXPECT_INT("R", lproto_try("R", 1, &m), 0);
	EXPECT_INT("G", lproto_try("G", 1, &m), 0);
	EXPECT_INT("YES", lproto_try("YES", 3, &m), -1);
	EXPECT_INT("unknown type", lproto_try("Z", 1, &m), -1);
	EXPECT_INT("empty", lproto_try("", 0, &m), -1);
	END();

	CASE("lproto: a client's name as the Received field writes it");
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	(void)inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6.sin6_addr);
	EXPECT_STR("v4-mapped", lproto_client((struct sockaddr *)&s6, buf,
	    sizeof(buf)), "[192.0.2.7]");
	(void)inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	EXPECT_STR("v6", lproto_client((struct sockaddr *)&s6, buf,
	    sizeof(buf)), "[IPv6:2001:db8::1]");
	END();
}
