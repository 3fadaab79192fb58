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
#include "listen.h"

static int	 relayq_drain(struct conf *, int, char *[]);
static int	 relayq_ctl(struct conf *, int, char *[]);
static int	 relayq_import(struct conf *, int, char *[]);
static int	 relayq_version(struct conf *, int, char *[]);
static int	 relayq_help_cmd(struct conf *, int, char *[]);

/*
 * The commands: their synopsis and one line for usage and `relayq help
 * CMD' (relayq(8) has more), and the function that runs each: `plain'
 * for a command without arguments, else `run' with argv[0] the
 * command's name; the configuration loaded unless `noconf' (then NULL).
 */
static const struct relayq_cmd {
	const char	*name, *args, *what;
	int		(*run)(struct conf *, int, char *[]);
	int		(*plain)(const struct conf *);
	int		 noconf;
} relayq_cmds[] = {
	{ "drain", "[-f]", "run the daemon that delivers the queue (-f: in "
	    "the foreground, logging to stderr)", relayq_drain, NULL, 0 },
	{ "smtpd", "", "run the SMTP listener on the listen addresses or "
	    "systemd's sockets (a session per client: sendmail -bs)", NULL,
	    listen_main, 0 },
	{ "listen-passwd", "USER", "a line for listen_auth_file: the "
	    "password from standard input, hashed (PBKDF2-SHA256)",
	    lauth_passwd_main, NULL, 1 },
	{ "stop", "", "stop the daemon of this spool and wait until it has "
	    "(under systemd: systemctl stop relayq)", NULL, stop_main, 0 },
	{ "probe", "[route]", "connect to each smarthost of every route (or "
	    "one) and show each step: DNS, TLS, certificate, AUTH", probe_main,
	    NULL, 0 },
	{ "queue", "", "list the queue (mailq); read from the files when the "
	    "daemon is down", relayq_ctl, NULL, 0 },
	{ "status", "", "the daemon's counters and last error", relayq_ctl,
	    NULL, 0 },
	{ "show", "ID", "one message: envelope, header, each recipient's "
	    "state", relayq_ctl, NULL, 0 },
	{ "hold", "ID", "keep a message from delivery until release",
	    relayq_ctl, NULL, 0 },
	{ "release", "ID", "deliver a held message again", relayq_ctl, NULL,
	    0 },
	{ "flush", "[ID]", "retry deferred mail now", relayq_ctl, NULL, 0 },
	{ "reload", "", "read the configuration file again (as SIGHUP); a "
	    "bad file keeps the running one", relayq_ctl, NULL, 0 },
	{ "delete", "ID | all", "remove a message, or every message",
	    relayq_ctl, NULL, 0 },
	{ "check", "", "check configuration, secret, log file and spool; "
	    "each problem with its fix", NULL, check_main, 0 },
	{ "import", "[--from program] [-p file] file ...", "convert another "
	    "relay's configuration (ssmtp, msmtp, nullmailer, dma, postfix)",
	    relayq_import, NULL, 1 },
	{ "version", "", "print the version", relayq_version, NULL, 1 },
	{ "help", "[command]", "this text, or one command's",
	    relayq_help_cmd, NULL, 1 },
};
#define RELAYQ_NCMDS	(sizeof(relayq_cmds) / sizeof(relayq_cmds[0]))

static void
relayq_synopsis(FILE *fp, size_t i, const char *lead)
{
	(void)fprintf(fp, "%srelayq %s%s%s%s\n", lead, relayq_cmds[i].noconf ?
	    "" : "[-C file] ", relayq_cmds[i].name, relayq_cmds[i].args[0] ?
	    " " : "", relayq_cmds[i].args);
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
	/* the listing from the files when no daemon runs (queue_local.c) */
	if (strcmp(req, "queue") == 0 && !queue_local_running(conf->spool))
		return queue_local_report(conf);
	if ((rc = ctl_call(conf->spool, req, stdout, err, sizeof(err))) != 0)
		errx(rc, "%s: %s", argv[0], err);
	return EX_OK;
}

static int
relayq_help_cmd(struct conf *conf, int argc, char *argv[])
{
	(void)conf;
	if (argc > 2)
		usage();
	return relayq_help(argc == 2 ? argv[1] : NULL);
}

static int
relayq_version(struct conf *conf, int argc, char *argv[])
{
	(void)conf;
	(void)argc;
	(void)argv;
	(void)printf("relayq %s (mbedTLS %s)\n", RELAYQ_VERSION,
	    MBEDTLS_VERSION_STRING);
	return EX_OK;
}

/* reads no relayq.conf: it writes one */
static int
relayq_import(struct conf *conf, int argc, char *argv[])
{
	(void)conf;
	return import_main(argc, argv);
}

static int
relayq_drain(struct conf *conf, int argc, char *argv[])
{
	int	 ch, fg = 0;

	optind = 1;
	while ((ch = getopt(argc, argv, "f")) != -1) {
		if (ch != 'f')
			usage();
		fg = 1;
	}
	if (optind != argc)
		usage();
	return drain_main(conf, fg);
}

int
main(int argc, char *argv[])
{
	const struct relayq_cmd	*cmd;
	struct conf		 conf;
	const char		*cfg = NULL;
	char			 errbuf[512];
	int			 ch;

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
	for (cmd = relayq_cmds; cmd < relayq_cmds + RELAYQ_NCMDS; cmd++)
		if (strcmp(argv[0], cmd->name) == 0)
			break;
	if (cmd == relayq_cmds + RELAYQ_NCMDS)
		usage();
	if (cmd->noconf)
		return cmd->run(NULL, argc, argv);
	if (cfg == NULL)
		cfg = getenv("RELAYQ_CONFIG");
	conf_init(&conf);
	if (conf_load(&conf, cfg != NULL ? cfg : CONF_PATH, cfg != NULL, 1,
	    errbuf, sizeof(errbuf)) == -1)
		errx(EX_CONFIG, "%s%s", errbuf, strcmp(argv[0], "reload") ==
		    0 ? "; the daemon was not asked to reload and keeps its "
		    "running configuration" : "");
	if (cmd->plain != NULL && argc != 1)
		usage();
	ch = cmd->plain != NULL ? cmd->plain(&conf) : cmd->run(&conf, argc,
	    argv);
	conf_free(&conf);	/* LeakSanitizer builds see real leaks */
	return ch;
}
