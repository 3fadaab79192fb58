/*
 * Routes: which of the configured ways out carries a message, chosen by
 * its envelope sender.  A route's `sender' list holds exact addresses
 * (the local part compared as it is, the domain without regard to case)
 * and "@domain" patterns.  An exact address anywhere wins over a
 * pattern; a sender no route names, and the null sender of bounces, go
 * through the default route (element 0 of struct conf's array).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "relayq.h"

/* 1 to ROUTE_NAMEMAX of [a-z0-9-] */
int
route_name_ok(const char *name)
{
	size_t	 len = strlen(name);

	return len > 0 && len <= ROUTE_NAMEMAX &&
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

const struct route *
route_byname(const struct conf *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->nroute; i++)
		if (strcmp(c->route[i].name, name) == 0)
			return &c->route[i];
	return NULL;
}

/*
 * Does list entry `pat' (`plen' bytes) take `addr'?  `exact': compare
 * it as an address, else as an "@domain" pattern.
 */
static int
route_match(const char *pat, size_t plen, const char *addr, int exact)
{
	const char	*at = strrchr(addr, '@');
	size_t		 llen;

	if (at == NULL || (pat[0] == '@') == exact)
		return 0;
	if (!exact)
		return plen - 1 == strlen(at + 1) &&
		    strncasecmp(pat + 1, at + 1, plen - 1) == 0;
	llen = (size_t)(at - addr);
	return plen > llen && pat[llen] == '@' &&
	    memcmp(pat, addr, llen) == 0 &&
	    plen - llen - 1 == strlen(at + 1) &&
	    strncasecmp(pat + llen + 1, at + 1, plen - llen - 1) == 0;
}

/* Does route `r''s sender list take `addr' (exact or as a pattern)? */
static int
route_takes(const struct route *r, const char *addr, int exact)
{
	const char	*p;
	size_t		 len;

	for (p = r->sender; p != NULL && *p != '\0'; p += len) {
		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (len > 0 && route_match(p, len, addr, exact))
			return 1;
	}
	return 0;
}

/* The route of a message from `sender' ("" = the null sender). */
const struct route *
route_for(const struct conf *c, const char *sender)
{
	size_t	 i;
	int	 exact;

	if (sender[0] == '\0')
		return &c->route[0];
	for (exact = 1; exact >= 0; exact--)
		for (i = 1; i < c->nroute; i++)
			if (route_takes(&c->route[i], sender, exact))
				return &c->route[i];
	return &c->route[0];
}

/* One entry of a sender list: an address or "@domain". */
int
route_sender_ok(const char *s)
{
	const char	*at = strrchr(s, '@');

	return at != NULL && at[1] != '\0' && strlen(s) <= ADDR_MAX &&
	    strpbrk(s, " \t,") == NULL && addr_valid(s) &&
	    strchr(at + 1, '"') == NULL;
}

/*
 * A `sender' value for route `ri': addresses and "@domain" patterns,
 * separated by spaces or commas, none of them already another route's.
 */
int
route_check_senders(const struct conf *c, size_t ri, const char *v,
    char *err, size_t errsz)
{
	char		 tok[ADDR_MAX + 1], probe[ADDR_MAX + 2];
	const char	*p;
	size_t		 len, i;

	for (p = v; *p != '\0'; p += len) {
		p += strspn(p, " \t,");
		if ((len = strcspn(p, " \t,")) == 0)
			continue;
		if (len > ADDR_MAX) {
			(void)snprintf(err, errsz, "sender: an entry longer "
			    "than %d bytes", ADDR_MAX);
			return -1;
		}
		memcpy(tok, p, len);
		tok[len] = '\0';
		if (!route_sender_ok(tok)) {
			util_sanitise(tok, sizeof(tok), p, len);
			(void)snprintf(err, errsz, "sender: \"%s\" is neither "
			    "an address (user@example.org) nor a domain "
			    "(@example.org)", tok);
			return -1;
		}
		/* "x@domain" is taken by the pattern "@domain" only */
		probe[0] = 'x';
		(void)strlcpy(probe + 1, tok, sizeof(probe) - 1);
		for (i = 1; i < c->nroute; i++)
			if (i != ri && route_takes(&c->route[i], tok[0] == '@' ?
			    probe : tok, tok[0] != '@')) {
				(void)snprintf(err, errsz, "sender: %s is "
				    "already route %s's", tok, c->route[i].name);
				return -1;
			}
	}
	return 0;
}
