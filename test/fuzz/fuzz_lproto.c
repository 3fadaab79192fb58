/*
 * The session helper's control channel (src/listen_proto.c) and the
 * SASL responses sendmail -bs decodes before it asks the helper
 * (src/sasl.c).  Byte 0 picks: even, one control line; odd, an AUTH
 * PLAIN response (bit 1 clear) or a LOGIN response (bit 1 set, bit 2
 * the user or the password); the rest is the input.
 * Oracle: a parsed control message has a known type, a bracketed
 * client, a PLAIN or LOGIN mechanism and a password without NUL, CR or
 * LF; a decoded user is printable without space, a password has no NUL,
 * CR or LF, and neither overflows.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "msg.h"
#include "lproto.h"
#include "fuzz.h"

static void
fuzz_pass_ok(const char *p, size_t n)
{
	if (n == 0 || n > SASL_PASSMAX || memchr(p, '\r', n) != NULL ||
	    memchr(p, '\n', n) != NULL || strlen(p) != n)
		abort();
}

static void
fuzz_user_ok(const char *u)
{
	size_t	 i, n = strlen(u);

	if (n == 0 || n > SASL_USERMAX)
		abort();
	for (i = 0; i < n; i++)
		if (u[i] <= ' ' || u[i] >= 0x7f)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lproto_msg	 m;
	char			*s, err[128];
	char			 user[SASL_USERMAX + 1], pass[SASL_PASSMAX + 1];
	ssize_t			 n;

	if (size == 0)
		return 0;
	if ((s = malloc(size)) == NULL)
		abort();
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if ((data[0] & 1) == 0) {
		if (lproto_parse(s, size - 1, &m, err, sizeof(err)) == 0) {
			if (strchr("SYNRATG", m.type) == NULL)
				abort();
			if (m.type == LPROTO_START && (m.client[0] != '[' ||
			    m.flags > 0xf))
				abort();
			if (m.type == LPROTO_AUTH) {
				if (strcmp(m.mech, "PLAIN") != 0 &&
				    strcmp(m.mech, "LOGIN") != 0)
					abort();
				fuzz_pass_ok(m.pass, m.passlen);
			}
		} else if (strchr(err, '\n') != NULL)
			abort();
	} else if ((data[0] & 2) == 0) {
		if ((n = sasl_plain(s, user, sizeof(user), pass,
		    sizeof(pass))) != -1) {
			fuzz_user_ok(user);
			fuzz_pass_ok(pass, (size_t)n);
		}
	} else if ((n = sasl_login(s, data[0] & 4, user, sizeof(user))) !=
	    -1) {
		if (data[0] & 4)
			fuzz_user_ok(user);
		else
			fuzz_pass_ok(user, (size_t)n);
	}
	free(s);
	return 0;
}
