/*
 * Control-socket requests (any local user can send them): ctl_parse.
 * Oracle: an accepted request names a known command, and its id, when
 * there is one, is in queue id syntax; a refusal always says why.
 */
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_req	 req;
	char		 err[128], *copy;

	/* an exact-size copy: a read past the end is an ASan report */
	if ((copy = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	err[0] = '\0';
	if (ctl_parse(copy, size, &req, err, sizeof(err)) == 0) {
		if (req.cmd >= CTL_NCMD)
			abort();
		if (req.id[0] != '\0' && !spool_id_ok(req.id))
			abort();
	} else if (err[0] == '\0')
		abort();
	free(copy);
	return 0;
}
