/*
 * The listener's address parsers (src/listen_addr.c) on arbitrary bytes:
 * the input up to the first newline is a `listen' value, the rest a
 * `listen_allow' list, checked against a few client addresses.
 * Oracle: a parsed address is IPv4 or IPv6 with its length and a port
 * from 1 to 65535; the list answers -1, 0 or 1, the same for a client
 * of either family form (192.0.2.1 and ::ffff:192.0.2.1); an error
 * message is one line.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "listen.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const v4[] = { "192.0.2.1", "10.1.2.3",
	    "127.0.0.1", "0.0.0.0" };
	struct sockaddr_storage	 ss, m;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&m;
	socklen_t		 len;
	char			*copy, *nl, err[512];
	size_t			 i;
	int			 a, b;

	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	if ((nl = strchr(copy, '\n')) != NULL)
		*nl++ = '\0';
	if (listen_parse_addr(copy, &ss, &len, err, sizeof(err)) == 0) {
		if (ss.ss_family == AF_INET ? len != sizeof(*s4) ||
		    s4->sin_port == 0 : ss.ss_family != AF_INET6 ||
		    len != sizeof(struct sockaddr_in6) ||
		    ((struct sockaddr_in6 *)&ss)->sin6_port == 0)
			abort();
	} else if (strchr(err, '\n') != NULL)
		abort();
	for (i = 0; nl != NULL && i < sizeof(v4) / sizeof(v4[0]); i++) {
		memset(&ss, 0, sizeof(ss));
		memset(&m, 0, sizeof(m));
		ss.ss_family = AF_INET;
		m.ss_family = AF_INET6;
		if (inet_pton(AF_INET, v4[i], &s4->sin_addr) != 1)
			abort();
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		a = listen_allowed(nl, (struct sockaddr *)&ss, err,
		    sizeof(err));
		b = listen_allowed(nl, (struct sockaddr *)&m, err,
		    sizeof(err));
		if (a < -1 || a > 1 || a != b)
			abort();
		if (a == -1 && strchr(err, '\n') != NULL)
			abort();
	}
	free(copy);
	return 0;
}
