/*
 * fakedns.c - LD_PRELOAD shim for the TLS tests: every name under
 * relayq.test resolves to 127.0.0.1, everything else as usual.
 *
 * The name checks (wildcard depth above all) need certificates for names
 * other than "localhost" that still reach the test smarthost on loopback,
 * without touching /etc/hosts or adding a test hook to relayq itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* RTLD_NEXT */
#endif

#include <sys/types.h>
#include <sys/socket.h>

#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>

#define FAKEDNS_SUFFIX	".relayq.test"	/* and the bare domain */

int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	int	(*real)(const char *, const char *, const struct addrinfo *,
		    struct addrinfo **);
	size_t	 nl, sl = strlen(FAKEDNS_SUFFIX);
	const char *p;

	*(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
	if (real == NULL)
		return EAI_SYSTEM;
	/* "relayq.test" itself or any name ending in ".relayq.test" */
	if (node != NULL && (nl = strlen(node)) >= sl - 1) {
		p = node + nl - (sl - 1);
		if (strcasecmp(p, FAKEDNS_SUFFIX + 1) == 0 &&
		    (p == node || p[-1] == '.'))
			node = "127.0.0.1";
	}
	return real(node, service, hints, res);
}
