/*
 * Submission over the control socket, daemon side: the queue file a local
 * user hands over (submit.c: submit_prepare, then submit_commit), from
 * arbitrary bytes.
 * Oracle: a refused file leaves nothing in drop/; an accepted one is, after
 * the commit, a queue file the import takes (spool_open_msg), named by
 * the daemon's id and carrying the caller's uid and the name the daemon
 * gave it, never the records the caller wrote; before the commit it is
 * not a loadable queue file.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "fuzz.h"

#define FUZZ_UID	4242	/* the peer, as SO_PEERCRED would say */

static char	 fuzz_dir[64];
static int	 fuzz_dfd = -1;

static void
fuzz_rmdir(void)
{
	(void)rmdir(fuzz_dir);
}

/* drop/ holds nothing */
static int
fuzz_empty(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	if ((d = opendir(fuzz_dir)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	(void)closedir(d);
	return n == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct submit_held	 h;
	struct conf		 conf;
	struct qmsg		 m;
	char			 err[512];
	int			 fd;

	if (fuzz_dfd == -1) {
		(void)strlcpy(fuzz_dir, "/tmp/relayq-fuzz-drop.XXXXXX",
		    sizeof(fuzz_dir));
		if (mkdtemp(fuzz_dir) == NULL ||
		    (fuzz_dfd = open(fuzz_dir, O_RDONLY | O_DIRECTORY)) == -1)
			abort();
		(void)atexit(fuzz_rmdir);
	}
	conf_init(&conf);
	conf.max_message_size = 65536;
	conf.queue_minfree = 1;
	conf.spool = fuzz_dir;
	fd = fuzz_file(data, size, NULL);
	if (submit_prepare(fd, FUZZ_UID, fuzz_dfd, &conf, &h, err,
	    sizeof(err)) != 0) {
		if (h.fd != -1 || !fuzz_empty())
			abort();
		return 0;
	}
	if (spool_open_msg(fuzz_dfd, h.id, &m, err, sizeof(err)) == 0)
		abort();	/* importable before the commit */
	if (submit_commit(&h, fuzz_dfd, err, sizeof(err)) == -1)
		abort();	/* a plain directory: only an I/O error */
	if (spool_open_msg(fuzz_dfd, h.id, &m, err, sizeof(err)) == -1 ||
	    strcmp(m.id, h.id) != 0 || m.uid != FUZZ_UID ||
	    m.user == NULL || strcmp(m.user, "uid4242") != 0 ||
	    spool_check_data(m.fd, m.dataoff, m.datalen, err,
	    sizeof(err)) == -1)
		abort();
	spool_free_msg(&m);
	if (unlinkat(fuzz_dfd, h.id, 0) == -1)
		abort();
	return 0;
}
