/*
 * The aliases file (root's, but also what `newaliases' checks for any
 * caller): aliases_load, then aliases_expand of every name it holds and
 * of a few fixed recipients, which follows the aliases recursively.
 * Oracle: loading always terminates with a count, and every address an
 * expansion yields is envelope-safe (addr_valid).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "fuzz.h"

static void
fuzz_warn(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

static void
fuzz_report(const char *path, size_t line, const char *what)
{
	(void)path;
	(void)line;
	(void)what;
}

static void
fuzz_expand(const struct aliases *al, const struct aliases_ctx *cx,
    const char *a)
{
	struct addr_list	 out = ADDR_LIST_EMPTY;
	size_t			 i;

	if (aliases_expand(al, a, cx, &out) == 0)
		for (i = 0; i < out.n; i++)
			if (!addr_valid(out.v[i]))
				abort();
	addr_list_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const locals[] = { "localhost", "host.test",
	    NULL };
	struct aliases		 al;
	struct aliases_ctx	 cx;
	const char		*path;
	size_t			 i;

	(void)fuzz_file(data, size, &path);
	memset(&al, 0, sizeof(al));
	al.report = fuzz_report;
	memset(&cx, 0, sizeof(cx));
	cx.domain = "example.org";
	cx.locals = locals;
	cx.admin = (size & 1) ? "admin@example.org" : NULL;
	cx.warn = fuzz_warn;
	if (aliases_load(&al, path) == 0) {
		for (i = 0; i < al.n && i < 64; i++)
			fuzz_expand(&al, &cx, al.v[i].name);
		fuzz_expand(&al, &cx, "root");
		fuzz_expand(&al, &cx, "postmaster@localhost");
		fuzz_expand(&al, &cx, "user@example.net");
	}
	aliases_free(&al);
	return 0;
}
