/*
 * The configuration file: conf_load (getline, conf_line, conf_set for
 * every key type, smarthost syntax, sizes, durations, route blocks) on
 * the input as a file, without the environment.  Oracle: a loaded
 * config is coherent, and every route has a valid name, a sender list
 * and an index that is its place, and route_for picks one of them.
 */
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "relayq.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf		 c;
	const struct route	*r;
	const char		*path;
	char			 err[2048];
	size_t			 i, ri;

	(void)fuzz_file(data, size, &path);
	conf_init(&c);
	if (conf_load(&c, path, 1, 0, err, sizeof(err)) == 0) {
		if (c.nroute < 1 || c.nroute > CONF_MAXROUTES ||
		    c.spool == NULL || c.retry_min > c.retry_max ||
		    strcmp(c.route[0].name, "default") != 0)
			abort();
		for (ri = 0; ri < c.nroute; ri++) {
			r = &c.route[ri];
			if (r->idx != ri || r->nhost > CONF_MAXHOSTS ||
			    (ri > 0 && (!route_name_ok(r->name) ||
			    r->sender == NULL || r->timeout_command < 0 ||
			    route_for(&c, r->sender) == NULL)))
				abort();
			for (i = 0; i < r->nhost; i++)
				if (r->host[i].name[0] == '\0' ||
				    strpbrk(r->host[i].name, "\r\n") != NULL)
					abort();
		}
	} else if (memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	conf_free(&c);
	return 0;
}
