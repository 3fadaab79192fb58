/*
 * relayq(8): the daemon and the operator's tool in one binary.
 *	relayq [-C file] drain [-f]
 *	relayq [-C file] probe
 *	relayq [-C file] queue | status | show ID | flush [ID] | hold ID |
 *	    release ID | delete ID|all
 *	relayq [-C file] check | stop
 *	relayq version | help [CMD] | --help
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

/* the commands, for usage and `relayq help CMD' (relayq(8) has more) */
static const struct {
	const char	*name, *args, *what;
} relayq_cmds[] = {
	{ "drain", "[-f]", "run the daemon that delivers the queue (-f: in "
	    "the foreground, logging to stderr)" },
	{ "stop", "", "stop the daemon of this spool and wait until it has "
	    "(under systemd: systemctl stop relayq)" },
	{ "probe", "", "connect to the smarthost and show each step: DNS, "
	    "TLS, certificate, AUTH" },
	{ "queue", "", "list the queue (mailq); read from the files when the "
	    "daemon is down" },
	{ "status", "", "the daemon's counters and last error" },
	{ "show", "ID", "one message: envelope, header, each recipient's "
	    "state" },
	{ "hold", "ID", "keep a message from delivery until release" },
	{ "release", "ID", "deliver a held message again" },
	{ "flush", "[ID]", "retry deferred mail now" },
	{ "reload", "", "read the configuration file again (as SIGHUP); a "
	    "bad file keeps the running one" },
	{ "delete", "ID | all", "remove a message, or every message" },
	{ "check", "", "check configuration, secret, log file and spool; "
	    "each problem with its fix" },
	{ "import", "[--from program] [-p file] file ...", "convert another "
	    "relay's configuration (ssmtp, msmtp, nullmailer, dma, postfix)" },
	{ "version", "", "print the version" },
	{ "help", "[command]", "this text, or one command's" },
};
#define RELAYQ_NCMDS	(sizeof(relayq_cmds) / sizeof(relayq_cmds[0]))

static void
relayq_synopsis(FILE *fp, size_t i, const char *lead)
{
	int	 noconf = strcmp(relayq_cmds[i].name, "import") == 0 ||
		    strcmp(relayq_cmds[i].name, "version") == 0 ||
		    strcmp(relayq_cmds[i].name, "help") == 0;

	(void)fprintf(fp, "%srelayq %s%s%s%s\n", lead, noconf ? "" :
	    "[-C file] ", relayq_cmds[i].name, relayq_cmds[i].args[0] ? " " :
	    "", relayq_cmds[i].args);
}

static void __attribute__((noreturn))
usage(void)
{
	size_t	 i;

	for (i = 0; i < RELAYQ_NCMDS; i++)
		relayq_synopsis(stderr, i, i == 0 ? "usage: " : "       ");
	(void)fprintf(stderr, "relayq help COMMAND says what each does\n");
	exit(EX_USAGE);
}

/* relayq --help, relayq help [CMD]: on stdout, exit 0 */
static int
relayq_help(const char *cmd)
{
	size_t	 i;

	for (i = 0; i < RELAYQ_NCMDS; i++) {
		if (cmd != NULL && strcmp(cmd, relayq_cmds[i].name) != 0)
			continue;
		relayq_synopsis(stdout, i, "");
		(void)printf("    %s\n", relayq_cmds[i].what);
		if (cmd != NULL)
			return EX_OK;
	}
	if (cmd != NULL) {
		warnx("help: no command \"%s\"", cmd);
		usage();
	}
	(void)printf("\n-C file: the configuration (default %s, or "
	    "$RELAYQ_CONFIG).\nMore in relayq(8), relayq.conf(5), "
	    "sendmail(8).\n", CONF_PATH);
	return EX_OK;
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
	/* the listing from the files when no daemon runs (queuelocal.c) */
	if (strcmp(req, "queue") == 0 && !queue_local_running(conf->spool))
		return queue_local_report(conf->spool);
	if ((rc = ctl_call(conf->spool, req, stdout, err, sizeof(err))) != 0)
		errx(rc, "%s: %s", argv[0], err);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	static const char *const ctlcmds[] = {
		"queue", "status", "show", "flush", "hold", "release",
		"delete", "reload", NULL
	};
	struct conf	 conf;
	const char	*cfg = NULL;
	char		 errbuf[512];
	int		 ch, fg = 0;
	size_t		 i;

	/* every client path (probe, the control socket, check): a peer
	   that went away is an error to report, never a silent death */
	(void)signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return relayq_help(NULL);
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
	if (strcmp(argv[0], "help") == 0 && argc <= 2)
		return relayq_help(argc == 2 ? argv[1] : NULL);
	if (strcmp(argv[0], "import") == 0)	/* reads no relayq.conf */
		return import_main(argc, argv);
	if (cfg == NULL)
		cfg = getenv("RELAYQ_CONFIG");
	conf_init(&conf);
	if (conf_load(&conf, cfg != NULL ? cfg : CONF_PATH, cfg != NULL, 1,
	    errbuf, sizeof(errbuf)) == -1)
		errx(EX_CONFIG, "%s%s", errbuf, strcmp(argv[0], "reload") ==
		    0 ? "; the daemon was not asked to reload and keeps its "
		    "running configuration" : "");
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
	if (strcmp(argv[0], "stop") == 0) {
		if (argc != 1)
			usage();
		ch = stop_main(&conf);
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
