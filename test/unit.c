/*
 * Unit tests: the runner, and the scratch files every group may use.
 * One file per module holds its groups (test/unit_MODULE.c), one case
 * per rule, each named after the rule it checks and asserting exact
 * bytes and return codes.  Files live under a private mkdtemp(3)
 * directory removed at exit.  Output protocol: see unit.h.
 * `test/unit NAME...' runs only the groups named, `test/unit -l' lists
 * them (unit_groups[] below).
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relayq.h"
#include "unit.h"

/* the counters of every group: unit.h's CASE, END and CHECK */
struct unit_state unit;

/* --- scratch files ------------------------------------------------------- */

static char	 tmpdir[] = "/tmp/relayq-unit.XXXXXX";
static int	 tmpdir_made;
static unsigned int tmpseq;

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
tmp_cleanup(void)
{
	if (tmpdir_made)
		(void)nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *
tmp_dir(void)
{
	return tmpdir;
}

/* tmpdir/NAME in a static buffer (two in turn, for link(2) and friends) */
const char *
tmp_path(const char *name)
{
	static char	 buf[2][PATH_MAX];
	static int	 k;

	k = !k;
	(void)snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
	return buf[k];
}

int
write_path(const char *path, const void *data, size_t len)
{
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return -1;
	if (util_writeall(fd, data, len) == -1) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

/* A fresh unlinked scratch file holding `data', open read-write at 0. */
int
tmp_fd(const void *data, size_t len)
{
	char	 name[32];
	int	 fd;

	(void)snprintf(name, sizeof(name), "scratch.%u", tmpseq++);
	if ((fd = open(tmp_path(name), O_RDWR | O_CREAT | O_EXCL, 0600)) == -1)
		return -1;
	(void)unlink(tmp_path(name));
	if (util_writeall(fd, data, len) == -1 || lseek(fd, 0, SEEK_SET) ==
	    -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* The whole content of `fd' (from offset 0), NUL-terminated; free it. */
char *
slurp_fd(int fd, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;

	*lenp = 0;
	if (fstat(fd, &st) == -1 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL)
		return NULL;
	if ((n = pread(fd, buf, (size_t)st.st_size, 0)) != st.st_size) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*lenp = (size_t)n;
	return buf;
}

char *
slurp_path(const char *path, size_t *lenp)
{
	char	*buf;
	int	 fd;

	*lenp = 0;
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	buf = slurp_fd(fd, lenp);
	(void)close(fd);
	return buf;
}

/* `n' copies of `c', NUL-terminated, in one of 4 static buffers in turn */
const char *
rep(int c, size_t n)
{
	static char	 buf[4][8192];
	static int	 k;

	k = (k + 1) % 4;
	if (n >= sizeof(buf[k]))
		n = sizeof(buf[k]) - 1;
	memset(buf[k], c, n);
	buf[k][n] = '\0';
	return buf[k];
}

int
starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * The groups, in the order they run.  `test/unit NAME...' runs only the
 * groups named, still in this order; `test/unit -l' lists the names.
 */
static const struct unit_group {
	const char	*name;
	void		(*run)(void);
} unit_groups[] = {
	{ "addr", test_addr },
	{ "util", test_util },
	{ "conf", test_conf },
	{ "route", test_route },
	{ "spool", test_spool },
	{ "msg", test_msg },
	{ "smtp", test_smtp },
	{ "masquerade", test_masquerade },
	{ "property", test_property },
	{ "aliases", test_aliases },
	{ "spool_dsn", test_spool_dsn },
	{ "auth", test_auth },
	{ "ctl", test_ctl },
	{ "submit", test_submit },
	{ "import", test_import },
	{ "smargs", test_smargs },
	{ "bs", test_bs },
	{ "listen", test_listen },
	{ "lauth", test_lauth },
	{ "lproto", test_lproto },
	{ "sasl", test_sasl },
	{ "drainq", test_drainq },
	{ "queueids", test_queueids },
	{ "sort", test_sort },
	{ "tls", test_tls },
	{ "spool_limits", test_spool_limits },
	{ "canon", test_canon },
	{ "rate", test_rate },
	{ "reload", test_reload },
	{ "idle", test_idle },	/* after the others have touched their code */
	{ "authcmd", test_authcmd },	/* last: SIGCHLD */
};
#define UNIT_NGROUPS	(sizeof(unit_groups) / sizeof(unit_groups[0]))

static void
unit_usage(void)
{
	(void)fprintf(stderr, "usage: test/unit [-l] [group ...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	const struct unit_group	*g;
	size_t			 i;
	int			 ch, j, list = 0;

	while ((ch = getopt(argc, argv, "l")) != -1) {
		if (ch != 'l')
			unit_usage();
		list = 1;
	}
	argc -= optind;
	argv += optind;
	for (j = 0; j < argc; j++) {
		for (i = 0; i < UNIT_NGROUPS; i++)
			if (strcmp(argv[j], unit_groups[i].name) == 0)
				break;
		if (i == UNIT_NGROUPS) {
			(void)fprintf(stderr, "test/unit: no group \"%s\" "
			    "(test/unit -l lists them)\n", argv[j]);
			return 2;
		}
	}
	if (list) {
		for (i = 0; i < UNIT_NGROUPS; i++)
			(void)printf("%s\n", unit_groups[i].name);
		return 0;
	}

	(void)signal(SIGPIPE, SIG_IGN);
	unit_watchdog(60);
	if (mkdtemp(tmpdir) == NULL) {
		(void)printf("not ok - unit: scratch directory: %s\n",
		    strerror(errno));
		return 1;
	}
	tmpdir_made = 1;
	if (atexit(tmp_cleanup) != 0)
		return 1;

	for (g = unit_groups; g < unit_groups + UNIT_NGROUPS; g++) {
		for (j = 0; j < argc; j++)
			if (strcmp(argv[j], g->name) == 0)
				break;
		if (argc > 0 && j == argc)
			continue;
		g->run();
	}

	(void)fprintf(stderr, "# %u tests, %u failed\n", unit.run,
	    unit.failed);
	return unit.failed > 0 ? 1 : 0;
}
