/*
 * The listener's password file (listen_auth_file, src/listen_auth.c) on
 * arbitrary bytes: the whole input is the file's text.
 * Oracle: the parser answers 0 or -1; on 0 every user has a valid name,
 * rounds within the bounds, a salt and a key of at least 16 bytes, and
 * no name twice; on -1 the message is one line naming a line number.
 * Passwords are not checked here: one check costs 100000 rounds.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "listen.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lauth	 a = { NULL, 0 };
	char		 err[512];
	size_t		 i, j;

	if (lauth_parse(&a, (const char *)data, size, err, sizeof(err)) ==
	    0) {
		for (i = 0; i < a.n; i++) {
			if (!lauth_user_ok(a.v[i].name) ||
			    a.v[i].rounds < LAUTH_MINROUNDS ||
			    a.v[i].rounds > LAUTH_MAXROUNDS ||
			    a.v[i].saltlen == 0 || a.v[i].keylen < 16 ||
			    a.v[i].line == 0)
				abort();
			for (j = 0; j < i; j++)
				if (strcmp(a.v[i].name, a.v[j].name) == 0)
					abort();
		}
	} else if (strchr(err, '\n') != NULL || strncmp(err, "line ", 5) != 0)
		abort();
	lauth_free(&a);
	return 0;
}
