/*
 * The helper's reply to the sandboxed daemon (src/authcmd.c): the only
 * bytes the daemon reads from the unsandboxed auth_password_command
 * helper, authcmd_parse.
 * Oracle: an accepted secret is the reply's bytes between "ok " and the
 * final LF, non-empty, with no NUL, CR or LF, and NUL-terminated within
 * the buffer; a relayed error message is printable ASCII; a refusal
 * always says why and leaves no partial secret behind.
 */
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "client.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 buf[64], err[AUTHCMD_ERR_MAX + 1], *copy;
	size_t	 i, n;
	int	 rc;

	/* an exact-size copy: a read past the end is an ASan report; a
	 * small secret buffer, so the length limit is reached too */
	if ((copy = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	memset(buf, 'x', sizeof(buf));
	err[0] = '\0';
	rc = authcmd_parse(copy, size, buf, sizeof(buf), err, sizeof(err));
	switch (rc) {
	case 0:
		n = strlen(buf);
		if (n == 0 || n >= sizeof(buf) || size != n + 4 ||
		    memcmp(copy, "ok ", 3) != 0 ||
		    memcmp(copy + 3, buf, n) != 0 || copy[size - 1] != '\n' ||
		    strcspn(buf, "\r\n") != n)
			abort();
		break;
	case 1:
		n = strlen(err);
		if (n == 0 || buf[0] != '\0' || memcmp(copy, "error ", 6) != 0)
			abort();
		for (i = 0; i < n; i++)
			if (err[i] < 0x20 || err[i] > 0x7e)
				abort();
		break;
	case -1:
		if (err[0] == '\0' || buf[0] != '\0')
			abort();
		break;
	default:
		abort();
	}
	free(copy);
	return 0;
}
