/*
 * relayq(8): the daemon and the operator's tool in one binary.
 *	relayq [-C file] drain [-f]
 *	relayq [-C file] probe
 *	relayq version
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <mbedtls/version.h>

#include "relayq.h"
#include "drain.h"
#include "client.h"

static void __attribute__((noreturn))
usage(void)
{
	(void)fprintf(stderr, "usage: relayq [-C file] drain [-f]\n"
	    "       relayq [-C file] probe\n"
	    "       relayq version\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	const char	*cfg = NULL;
	char		 errbuf[512];
	int		 ch, fg = 0;

	while ((ch = getopt(argc, argv, "+C:")) != -1) {
		switch (ch) {
		case 'C':
			cfg = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "version") == 0) {
		(void)printf("relayq %s (mbedTLS %s)\n", RELAYQ_VERSION,
		    MBEDTLS_VERSION_STRING);
		return EX_OK;
	}
	if (cfg == NULL)
		cfg = getenv("RELAYQ_CONFIG");
	conf_init(&conf);
	if (conf_load(&conf, cfg != NULL ? cfg : CONF_PATH, cfg != NULL, 1,
	    errbuf, sizeof(errbuf)) == -1)
		errx(EX_CONFIG, "%s", errbuf);
	if (strcmp(argv[0], "probe") == 0 && argc == 1)
		return probe_main(&conf);
	if (strcmp(argv[0], "drain") == 0) {
		optind = 1;
		while ((ch = getopt(argc, argv, "f")) != -1) {
			if (ch != 'f')
				usage();
			fg = 1;
		}
		if (optind != argc)
			usage();
		return drain_main(&conf, fg);
	}
	usage();
}
