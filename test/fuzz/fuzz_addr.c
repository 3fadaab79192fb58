/*
 * Address lists from the command line and from To/Cc/Bcc (-t):
 * addr_parse_list, then addr_valid and addr_qualify on each mailbox.
 * Oracle: every address the parser returns is envelope-safe (addr_valid),
 * so none can carry a line break or '>' into an SMTP command or a spool
 * record; and none is there twice (addr_list_add's hash index against a
 * plain comparison of every pair).
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const locals[] = { "localhost", "host.test",
	    NULL };
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			 err[512], q[ADDR_MAX + 1], *copy;
	size_t			 i, j;

	/* an exact-size copy: a read past the end is an ASan report */
	if ((copy = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	if (addr_parse_list(copy, size, &l, err, sizeof(err)) == 0) {
		for (i = 0; i < l.n; i++) {
			if (!addr_valid(l.v[i]))
				abort();
			if (addr_qualify(l.v[i], "example.org", locals, q,
			    sizeof(q)) == 0 && !addr_valid(q))
				abort();
			for (j = 0; j < i; j++)
				if (strcmp(l.v[i], l.v[j]) == 0)
					abort();
		}
	}
	addr_list_free(&l);
	free(copy);
	return 0;
}
