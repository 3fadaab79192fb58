/*
 * relayq(8): the daemon and the operator's tool in one binary.
 *	relayq [-C file] drain [-f]
 *	relayq [-C file] probe
 *	relayq [-C file] queue | status | show ID | flush [ID] | hold ID |
 *	    release ID | delete ID|all
 *	relayq [-C file] check
 *	relayq version
 * The queue commands are requests to the running daemon over its control
 * socket (ctl.c); the daemon decides what the caller may see and do.
 */
#include <err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <mbedtls/version.h>

#include "relayq.h"
#include "drain.h"
#include "client.h"
#include "import.h"

static void __attribute__((noreturn))
usage(void)
{
	(void)fprintf(stderr, "usage: relayq [-C file] drain [-f]\n"
	    "       relayq [-C file] probe\n"
	    "       relayq [-C file] queue | status\n"
	    "       relayq [-C file] show | hold | release ID\n"
	    "       relayq [-C file] flush [ID]\n"
	    "       relayq [-C file] delete ID | all\n"
	    "       relayq [-C file] check\n"
	    "       relayq import [--from program] [-p file] file ...\n"
	    "       relayq version\n");
	exit(EX_USAGE);
}

/* A queue command: one request to the daemon, its answer on stdout. */
static int
relayq_ctl(struct conf *conf, int argc, char *argv[])
{
	char	 req[CTL_LINEMAX], err[512];
	int	 rc;

	if (argc > 2 || (size_t)snprintf(req, sizeof(req), "%s%s%s", argv[0],
	    argc == 2 ? " " : "", argc == 2 ? argv[1] : "") >= sizeof(req))
		usage();
	if ((rc = ctl_call(conf->spool, req, stdout, err, sizeof(err))) != 0)
		errx(rc, "%s: %s", argv[0], err);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	static const char *const ctlcmds[] = {
		"queue", "status", "show", "flush", "hold", "release",
		"delete", NULL
	};
	struct conf	 conf;
	const char	*cfg = NULL;
	char		 errbuf[512];
	int		 ch, fg = 0;
	size_t		 i;

	/* every client path (probe, the control socket, check): a peer
	   that went away is an error to report, never a silent death */
	(void)signal(SIGPIPE, SIG_IGN);
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
	if (strcmp(argv[0], "import") == 0)	/* reads no relayq.conf */
		return import_main(argc, argv);
	if (cfg == NULL)
		cfg = getenv("RELAYQ_CONFIG");
	conf_init(&conf);
	if (conf_load(&conf, cfg != NULL ? cfg : CONF_PATH, cfg != NULL, 1,
	    errbuf, sizeof(errbuf)) == -1)
		errx(EX_CONFIG, "%s", errbuf);
	if (strcmp(argv[0], "probe") == 0 && argc == 1) {
		ch = probe_main(&conf);
		conf_free(&conf);	/* LeakSanitizer builds see real leaks */
		return ch;
	}
	if (strcmp(argv[0], "drain") == 0) {
		optind = 1;
		while ((ch = getopt(argc, argv, "f")) != -1) {
			if (ch != 'f')
				usage();
			fg = 1;
		}
		if (optind != argc)
			usage();
		ch = drain_main(&conf, fg);
		conf_free(&conf);
		return ch;
	}
	if (strcmp(argv[0], "check") == 0) {
		if (argc != 1)
			usage();
		ch = check_main(&conf);
		conf_free(&conf);
		return ch;
	}
	for (i = 0; ctlcmds[i] != NULL; i++)
		if (strcmp(argv[0], ctlcmds[i]) == 0) {
			ch = relayq_ctl(&conf, argc, argv);
			conf_free(&conf);
			return ch;
		}
	usage();
}
