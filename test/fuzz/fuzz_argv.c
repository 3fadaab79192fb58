/*
 * sendmail's command line (smargs_parse): PHP's mail() and many web
 * applications put caller data into it (CVE-2016-10033).  The input is
 * split on NUL bytes into argv elements, the first being argv[0] (so
 * that mailq and newaliases are reached), each in an exact-size buffer.
 * Oracle: an accepted command line has a known mode, no value or
 * recipient with a line break, recipients inside argv, a valid -qI id;
 * a refusal is EX_USAGE with a message, or a silent EX_OK (-q30m).
 */
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "relayq.h"
#include "smargs.h"
#include "fuzz.h"

#define FUZZ_ARGMAX	64

static void
fuzz_value(const char *v)
{
	if (v != NULL && strpbrk(v, "\r\n") != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smargs		 o;
	struct smargs_err	 e;
	char			*argv[FUZZ_ARGMAX + 1];
	const uint8_t		*p = data, *end = data + size, *nul;
	size_t			 n;
	int			 argc = 0, i;

	while (p < end && argc < FUZZ_ARGMAX) {
		if ((nul = memchr(p, '\0', (size_t)(end - p))) == NULL)
			nul = end;
		n = (size_t)(nul - p);
		if ((argv[argc] = malloc(n + 1)) == NULL)
			abort();
		memcpy(argv[argc], p, n);
		argv[argc++][n] = '\0';
		p = nul + 1;
	}
	argv[argc] = NULL;
	if (smargs_parse(argc, argv, &o, &e) == 0) {
		if (strchr("mpisvh", o.mode) == NULL || o.nrcpt < 0 ||
		    (argc > 0 && o.rcpt + o.nrcpt != argv + argc))
			abort();
		fuzz_value(o.sender);
		fuzz_value(o.fullname);
		fuzz_value(o.config);
		fuzz_value(o.envid);
		for (i = 0; i < o.nrcpt; i++)
			fuzz_value(o.rcpt[i]);
		if (o.qflag == 'I' && !spool_id_ok(o.qid))
			abort();
		if (o.mode == 'p' && o.nrcpt > 0)
			abort();
	} else if (memchr(e.msg, '\0', sizeof(e.msg)) == NULL ||
	    (e.code == EX_USAGE) != (e.msg[0] != '\0') ||
	    (e.code != EX_USAGE && (e.code != EX_OK || e.usage)))
		abort();
	for (i = 0; i < argc; i++)
		free(argv[i]);
	return 0;
}
