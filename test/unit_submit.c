/*
 * Unit tests for src/submit.c: submission over the control socket, into drop/.
 * Linked into test/unit; group submit in unit.c's table.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "unit.h"

static unsigned int submit_seq;	/* one directory per run of a case */

/* files in `dir' */
static int
submit_count(const char *dir)
{
	struct dirent	**v;
	int		 n, i, files = 0;

	if ((n = scandir(dir, &v, NULL, NULL)) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		files += v[i]->d_name[0] != '.';
		free(v[i]);
	}
	free(v);
	return files;
}

/*
 * submit.c, daemon side: the copy in drop/ is checked and carries the
 * daemon's own id, arrival time and user (the peer's uid from the
 * kernel), whatever the caller wrote; it is not importable (no trailer,
 * locked) until the commit.
 */
void
test_submit(void)
{
	static const char data[] = "Subject: x\r\n\r\nhi\r\n";
	struct submit_held	 h;
	struct conf		 sconf;
	struct qmsg		 m;
	char			 file[512], err[256], dname[64];
	time_t			 now = time(NULL);
	int			 dfd, mfd, len, code;

	conf_init(&sconf);
	sconf.max_message_size = 1024 * 1024;
	(void)snprintf(dname, sizeof(dname), "submit.%u", submit_seq++);
	if (mkdir(tmp_path(dname), 0700) == -1 ||
	    (dfd = open(tmp_path(dname), O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	/* forged: another user's id, an arrival in 1970, root's name */
	len = snprintf(file, sizeof(file), "RELAYQ 1\nI 0000000000000001\n"
	    "T 1000\nU 0 root\nS a@b.example\nR c@d.example\nM\n%sE %zu "
	    "7BIT\n", data, sizeof(data) - 1);
	if ((mfd = tmp_fd(file, (size_t)len)) == -1)
		abort();
	err[0] = '\0';
	code = submit_prepare(mfd, 4242, dfd, &sconf, &h, err, sizeof(err));
	CASE("submit: a forged id, arrival time and user are replaced with "
	    "the daemon's own; not importable before the commit");
	EXPECT_INT("prepare", code, EX_OK);
	EXPECT(code != EX_OK || strcmp(h.id, "0000000000000001") != 0,
	    "the caller's id kept: %s", h.id);
	EXPECT(code != EX_OK || spool_open_msg(dfd, h.id, &m, err,
	    sizeof(err)) == -1, "importable before the commit");
	EXPECT_INT("commit", code == EX_OK ? submit_commit(&h, dfd, err,
	    sizeof(err)) : -1, 0);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	EXPECT_INT("committed file loads", spool_open_msg(dfd, h.id, &m, err,
	    sizeof(err)), 0);
	EXPECT_STR("id", m.id, h.id);
	EXPECT_INT("uid from the peer", (int)m.uid, 4242);
	EXPECT_STR("user from the uid", m.user != NULL ? m.user : "(none)",
	    "uid4242");
	EXPECT(m.arrival >= now && m.arrival <= time(NULL) + 1,
	    "arrival %lld, not the daemon's clock", (long long)m.arrival);
	spool_free_msg(&m);
	END();
	(void)close(mfd);

	len = snprintf(file, sizeof(file), "RELAYQ 1\nI 0000000000000002\n"
	    "T 1000\nU 4242 x\nS a@b.example\nM\n%sE %zu 7BIT\n", data,
	    sizeof(data) - 1);
	if ((mfd = tmp_fd(file, (size_t)len)) == -1)
		abort();
	code = submit_prepare(mfd, 4242, dfd, &sconf, &h, err, sizeof(err));
	CASE("submit: a file that is not a queue file (no recipient) is "
	    "refused, nothing left");
	EXPECT_INT("prepare", code, EX_DATAERR);
	EXPECT_INT("drop/ holds only the first", submit_count(tmp_path(dname)),
	    1);
	END();
	(void)close(mfd);
	(void)close(dfd);
}
