/*
 * The configuration file: conf_load (getline, conf_line, conf_set for
 * every key type, smarthost syntax, sizes, durations) on the input as a
 * file, without the environment.  Oracle: a loaded config is coherent.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 c;
	const char	*path;
	char		 err[2048];
	size_t		 i;

	(void)fuzz_file(data, size, &path);
	conf_init(&c);
	if (conf_load(&c, path, 1, 0, err, sizeof(err)) == 0) {
		if (c.nhost > CONF_MAXHOSTS || c.spool == NULL ||
		    c.retry_min > c.retry_max)
			abort();
		for (i = 0; i < c.nhost; i++)
			if (c.host[i].name[0] == '\0' ||
			    strpbrk(c.host[i].name, "\r\n") != NULL)
				abort();
	} else if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	conf_free(&c);
	return 0;
}
