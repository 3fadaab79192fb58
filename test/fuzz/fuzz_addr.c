/*
 * Address lists from the command line and from To/Cc/Bcc (-t):
 * addr_parse_list, then addr_valid and addr_qualify on each mailbox.
 * Oracle: every address the parser returns is envelope-safe (addr_valid),
 * so none can carry a line break or '>' into an SMTP command or a spool
 * record.
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
	struct addr_list	 l = { NULL, 0 };
	char			 err[512], q[ADDR_MAX + 1], *copy;
	size_t			 i;

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
		}
	}
	addr_list_free(&l);
	free(copy);
	return 0;
}
