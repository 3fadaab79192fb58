/*
 * Unit tests for src/ctl.c: the control socket's request parser, which reads any
 * local user's bytes.
 * Linked into test/unit; group ctl in unit.c's table.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

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

/* ctl.c: the control socket's request parser reads any local user's bytes */
static int
ctl_try(const char *line, struct ctl_req *req, char *err, size_t errsz)
{
	return ctl_parse(line, strlen(line), req, err, errsz);
}

/*
 * ctl_refused: the daemon said ERR and closed before the request went
 * out (a refused connection); `line' NULL: it closed without a word.
 * The send fails; what ctl_refused makes of it is returned.
 */
static int
ctl_refused_case(const char *line, char *buf, size_t sz, int *senderr)
{
	int	 sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (line != NULL)
		(void)write(sv[1], line, strlen(line));
	(void)close(sv[1]);
	buf[0] = '\0';
	if (send(sv[0], "queue\n", 6, MSG_NOSIGNAL) == 6) {
		(void)close(sv[0]);
		return -1;
	}
	*senderr = errno;
	rc = ctl_refused(sv[0], buf, sz);
	(void)close(sv[0]);
	return rc;
}

void
test_ctl(void)
{
	static const char id[] = "0ABCDEFGHIJKLMNO";
	static const struct {
		const char	*line;
		const char	*err;	/* NULL: accepted */
	} bad[] = {
		{ "queue", "one line" },		/* no LF */
		{ "queue \n", "takes no argument" },
		{ "queue x\n", "takes no argument" },
		{ "status now\n", "takes no argument" },
		{ "show\n", "needs a queue id" },
		{ "show 0abcdefghijklmno\n", "is not a queue id" },
		{ "show 0ABCDEFGHIJKLMN\n", "is not a queue id" },
		{ "show 0ABCDEFGHIJKLMNOP\n", "is not a queue id" },
		{ "show 0ABCDEFGHIJKLMNO \n", "is not a queue id" },
		{ "show  0ABCDEFGHIJKLMNO\n", "is not a queue id" },
		{ "hold all\n", "is not a queue id" },
		{ "delete\n", "needs a queue id or \"all\"" },
		{ "QUEUE\n", "unknown command" },
		{ "\n", "unknown command" },
		{ "queue\r\n", "control character" },
		{ "show 0ABC\tDEFGHIJKLMNO\n", "control character" },
		{ "queue\nqueue\n", "control character" },
		{ "show \xc3\xa9\n", "non-ASCII" },
		{ "flush ../../etc/passwd\n", "is not a queue id" },
	};
	struct ctl_req	 req;
	char		 err[256], line[128], big[CTL_LINEMAX + 8];
	size_t		 i;

	{
		char	 buf[256];
		int	 senderr = 0;

		CASE("ctl: a refusal read after the request failed (EPIPE)");
		EXPECT_INT("refused", ctl_refused_case("ERR 75 too many "
		    "connections from your uid at once; try again\n", buf,
		    sizeof(buf), &senderr), 1);
		EXPECT_INT("the send failed with EPIPE", senderr, EPIPE);
		EXPECT_STR("line", buf, "ERR 75 too many connections from "
		    "your uid at once; try again\n");
		END();

		CASE("ctl: closed without a word: no refusal, errno kept");
		EXPECT_INT("refused", ctl_refused_case(NULL, buf, sizeof(buf),
		    &senderr), 0);
		EXPECT_INT("errno", errno, EPIPE);
		END();

		CASE("ctl: another send error: nothing read");
		errno = EBADF;
		EXPECT_INT("refused", ctl_refused(-1, buf, sizeof(buf)), 0);
		EXPECT_INT("errno", errno, EBADF);
		END();
	}

	CASE("ctl: every command with its argument");
	EXPECT_INT("queue", ctl_try("queue\n", &req, err, sizeof(err)), 0);
	EXPECT_INT("queue cmd", req.cmd, CTL_QUEUE);
	EXPECT_INT("status", ctl_try("status\n", &req, err, sizeof(err)), 0);
	EXPECT_INT("status cmd", req.cmd, CTL_STATUS);
	EXPECT_INT("flush", ctl_try("flush\n", &req, err, sizeof(err)), 0);
	EXPECT_INT("flush cmd", req.cmd, CTL_FLUSH);
	EXPECT_STR("flush: no id", req.id, "");
	(void)snprintf(line, sizeof(line), "flush %s\n", id);
	EXPECT_INT("flush ID", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_STR("flush ID: id", req.id, id);
	(void)snprintf(line, sizeof(line), "show %s\n", id);
	EXPECT_INT("show", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("show cmd", req.cmd, CTL_SHOW);
	(void)snprintf(line, sizeof(line), "hold %s\n", id);
	EXPECT_INT("hold", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("hold cmd", req.cmd, CTL_HOLD);
	(void)snprintf(line, sizeof(line), "release %s\n", id);
	EXPECT_INT("release", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("release cmd", req.cmd, CTL_RELEASE);
	(void)snprintf(line, sizeof(line), "delete %s\n", id);
	EXPECT_INT("delete", ctl_try(line, &req, err, sizeof(err)), 0);
	EXPECT_INT("delete cmd", req.cmd, CTL_DELETE);
	EXPECT_INT("delete: not all", req.all, 0);
	EXPECT_INT("delete all", ctl_try("delete all\n", &req, err,
	    sizeof(err)), 0);
	EXPECT_INT("delete all: all", req.all, 1);
	EXPECT_STR("delete all: no id", req.id, "");
	END();

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		(void)strlcpy(line, "ctl: refused: ", sizeof(line));
		unit_escape_mode(line + strlen(line), sizeof(line) -
		    strlen(line), bad[i].line, strlen(bad[i].line), 1);
		CASE(line);
		err[0] = '\0';
		EXPECT_INT("rc", ctl_try(bad[i].line, &req, err, sizeof(err)),
		    -1);
		EXPECT_HAS("message", err, bad[i].err);
		END();
	}

	CASE("ctl: request longer than CTL_LINEMAX refused");
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	EXPECT_INT("rc", ctl_try(big, &req, err, sizeof(err)), -1);
	EXPECT_HAS("message", err, "at most");
	END();

	/*
	 * Random requests, mostly near-valid: the parser must never read
	 * past the buffer (ASan builds check), and what it accepts is a
	 * command from the table with a well-formed id.
	 */
	CASE("ctl: random requests: accepted only when well formed");
	{
		static const char *const words[] = {
			"queue", "status", "show", "flush", "hold", "release",
			"delete", "all", " ", "\n", "0ABCDEFGHIJKLMNO", "\r",
			"x", "\t", "\xff", ".."
		};
		unsigned int	 seed = 4242, n, k, nbad = 0;
		size_t		 len;

		for (n = 0; n < 20000; n++) {
			len = 0;
			for (k = rand_r(&seed) % 5; k > 0; k--) {
				const char *w = words[rand_r(&seed) % 16];
				size_t	    wl = strlen(w);

				if (len + wl < sizeof(big)) {
					memcpy(big + len, w, wl);
					len += wl;
				}
			}
			if (ctl_parse(big, len, &req, err, sizeof(err)) == 0 &&
			    (big[len - 1] != '\n' || memchr(big, '\r', len) ||
			    req.cmd > CTL_DELETE || (req.id[0] != '\0' &&
			    !spool_id_ok(req.id))))
				nbad++;
		}
		EXPECT_INT("accepted but malformed", nbad, 0);
	}
	END();

	CASE("ctl: NUL inside the request refused");
	EXPECT_INT("rc", ctl_parse("show\0x\n", 7, &req, err, sizeof(err)),
	    -1);
	EXPECT_HAS("message", err, "control character");
	END();
}
