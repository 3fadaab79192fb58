/*
 * The sender canonical map (canon.c) and the sender-field rewriter.
 * The input is split at the first 0xff byte: before it, a map file
 * (canon_load); after it, the value of a From field (canon_header with
 * that map, or with a fixed one when the file is refused).
 * Oracle: every address a lookup yields is envelope-safe (addr_valid);
 * a rewritten field has exactly the line breaks of the original, so no
 * mapping can add a header line; the addresses of a rewritten value
 * parse and are envelope-safe.
 */
#include <stdlib.h>
#include <string.h>

#include "relayq.h"
#include "fuzz.h"

static const char *const fuzz_locals[] = { "localhost", "host.test", NULL };

static void
fuzz_lookup(const struct canon *c, const char *a)
{
	char	 out[ADDR_MAX + 1];

	if (canon_lookup(c, a, out, sizeof(out)) == 1 && !addr_valid(out))
		abort();
}

static size_t
fuzz_count(const char *s, size_t n, char ch)
{
	size_t	 i, k = 0;

	for (i = 0; i < n; i++)
		k += s[i] == ch;
	return k;
}

static void
fuzz_header(const struct canon *c, const char *v, size_t n)
{
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			*out = NULL, err[256];
	size_t			 i, on;

	if (canon_header(c, v, n, &out) > 0) {
		on = strlen(out);
		if (fuzz_count(out, on, '\n') != fuzz_count(v, n, '\n') ||
		    fuzz_count(out, on, '\r') != fuzz_count(v, n, '\r'))
			abort();
		if (memchr(v, '\r', n) == NULL && memchr(v, '\n', n) == NULL &&
		    addr_parse_list(out, on, &l, err, sizeof(err)) == 0)
			for (i = 0; i < l.n; i++)
				if (!addr_valid(l.v[i]))
					abort();
	}
	addr_list_free(&l);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char	 fixed[] = "root ops@example.com\n"
	    "@host.test @example.com\nuser@example.org \"a b\"@example.com\n";
	const uint8_t		*sep = memchr(data, 0xff, size);
	size_t			 flen = sep != NULL ? (size_t)(sep - data) : size;
	struct canon		 c;
	const char		*path;
	char			 err[512], *v;
	size_t			 i, vlen;

	(void)fuzz_file(data, flen, &path);
	canon_init(&c, "example.org", fuzz_locals);
	if (canon_load(&c, path, err, sizeof(err)) == 0) {
		for (i = 0; i < c.n && i < 64; i++) {
			fuzz_lookup(&c, c.v[i].key);
			fuzz_lookup(&c, c.v[i].value);
		}
		fuzz_lookup(&c, "root@example.org");
		fuzz_lookup(&c, "root@localhost");
		fuzz_lookup(&c, "user@host.test");
	} else if (canon_parse(&c, "fixed", fixed, sizeof(fixed) - 1, err,
	    sizeof(err)) == -1)
		abort();
	if (sep != NULL) {
		/* an exact-size copy: a read past the end is an ASan report */
		vlen = size - flen - 1;
		if ((v = malloc(vlen ? vlen : 1)) == NULL)
			abort();
		memcpy(v, sep + 1, vlen);
		/* the message reader drops NUL bytes before fields exist */
		for (i = 0; i < vlen; i++)
			if (v[i] == '\0')
				v[i] = ' ';
		fuzz_header(&c, v, vlen);
		free(v);
	}
	canon_free(&c);
	return 0;
}
