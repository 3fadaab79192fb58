/*
 * Unit tests for src/authcmd.c: the parser of the helper's reply (the
 * only bytes the sandboxed daemon reads from it), then one helper for
 * real: a secret, a failing command, and the helper killed under us.
 * Linked into test/unit (with src/authcmd.o); its table of groups runs
 * test_authcmd() last, as the helper sets SIGCHLD to SA_NOCLDWAIT.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <grp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relayq.h"
#include "client.h"
#include "unit.h"

#define S(lit)	lit, sizeof(lit) - 1

static void
parse_ok(const char *name, const char *rep, size_t len, int want,
    const char *wantout)
{
	char	 buf[AUTH_SECRET_MAX], err[AUTHCMD_ERR_MAX + 1] = "";

	CASE(name);
	EXPECT_INT("rc", authcmd_parse(rep, len, buf, sizeof(buf), err,
	    sizeof(err)), want);
	if (want == 0)
		EXPECT_STR("secret", buf, wantout);
	else
		EXPECT_STR("message", err, wantout);
	END();
}

static void
parse_bad(const char *rep, size_t len, size_t sz, const char *why)
{
	char	 name[160], buf[AUTH_SECRET_MAX], err[AUTHCMD_ERR_MAX + 1] = "";

	(void)snprintf(name, sizeof(name), "authcmd: reply refused: ");
	unit_escape_mode(name + strlen(name), sizeof(name) - strlen(name),
	    rep, len < 40 ? len : 40, 1);
	memset(buf, 'x', sizeof(buf));
	CASE(name);
	EXPECT_INT("rc", authcmd_parse(rep, len, buf, sz, err, sizeof(err)),
	    -1);
	EXPECT_STR("error", err, why);
	EXPECT(buf[0] == '\0', "a partial secret was left in the buffer");
	END();
}

static void
test_authcmd_parse(void)
{
	static const struct {
		const char	*rep;
		size_t		 len;
		const char	*why;
	} bad[] = {
		{ S(""), "not one line of at most 8195 octets" },
		{ S("ok tok"), "not one line of at most 8195 octets" },
		{ S("OK tok\n"), "neither \"ok\" nor \"error\"" },
		{ S("oktok\n"), "neither \"ok\" nor \"error\"" },
		{ S("ok\n"), "neither \"ok\" nor \"error\"" },
		{ S("ok \n"), "empty secret" },
		{ S("error \n"), "empty error message" },
		{ S("ok t\rk\n"), "NUL, CR or LF byte at offset 4" },
		{ S("ok t\0k\n"), "NUL, CR or LF byte at offset 4" },
		{ S("ok tok\nok other\n"), "NUL, CR or LF byte at offset 6" },
		{ S("error bad\001\n"), "unprintable byte at offset 9" },
		{ S("error caf\xc3\xa9\n"), "unprintable byte at offset 9" },
	};
	static char	 big[AUTHCMD_REPLY_MAX + 2];
	char		 want[AUTH_SECRET_MAX];
	size_t		 i;

	parse_ok("authcmd: ok and the secret", S("ok tok-1\n"), 0, "tok-1");
	parse_ok("authcmd: spaces inside the secret kept",
	    S("ok a b  c\n"), 0, "a b  c");
	parse_ok("authcmd: 8-bit secret kept as it is",
	    S("ok p\xc3\xa4ss\n"), 0, "p\xc3\xa4ss");
	parse_ok("authcmd: error with the command's message",
	    S("error auth_password_command failed (non-zero exit)\n"), 1,
	    "auth_password_command failed (non-zero exit)");

	/* the longest secret: AUTH_SECRET_MAX - 1 octets */
	memcpy(big, "ok ", 3);
	memset(big + 3, 'k', AUTH_SECRET_MAX - 1);
	big[3 + AUTH_SECRET_MAX - 1] = '\n';
	memset(want, 'k', sizeof(want) - 1);
	want[sizeof(want) - 1] = '\0';
	parse_ok("authcmd: secret of AUTH_SECRET_MAX - 1 octets",
	    big, AUTHCMD_REPLY_MAX, 0, want);
	/* one more does not fit the datagram limit */
	big[3 + AUTH_SECRET_MAX - 1] = 'k';
	big[3 + AUTH_SECRET_MAX] = '\n';
	parse_bad(big, AUTHCMD_REPLY_MAX + 1, AUTH_SECRET_MAX,
	    "not one line of at most 8195 octets");

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i].rep, bad[i].len, AUTH_SECRET_MAX, bad[i].why);
	parse_bad(S("ok 12345\n"), 5, "secret longer than 4 octets");
	memcpy(big, "error ", 6);
	memset(big + 6, 'e', AUTHCMD_ERR_MAX + 1);
	big[6 + AUTHCMD_ERR_MAX + 1] = '\n';
	parse_bad(big, 6 + AUTHCMD_ERR_MAX + 2, AUTH_SECRET_MAX,
	    "error message longer than 255 octets");
}

/* how many times `want' is in the file */
static int
file_count(const char *path, const char *want)
{
	char		 buf[4096];
	const char	*p;
	size_t		 n;
	int		 count = 0;
	FILE		*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	(void)fclose(fp);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, want)) != NULL; p++)
		count++;
	return count;
}

/* pid in the file, once the command has written it */
static pid_t
read_pid(const char *path)
{
	long	 pid = 0;
	FILE	*fp;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	(void)fclose(fp);
	return (pid_t)pid;
}

static void
test_authcmd_helper(void)
{
	struct sigaction	 sa;
	struct pollfd		 pfd;
	char			 dir[] = "/tmp/relayq-unit-authcmd.XXXXXX";
	char			 cmd[2048], tok[600], pidf[600], logf[600];
	char			 buf[AUTH_SECRET_MAX], err[512] = "";
	pid_t			 pid;
	FILE			*fp;
	int			 rc, i, gone;

	if (mkdtemp(dir) == NULL) {
		CHECK("authcmd: scratch directory", 0, "%s", strerror(errno));
		return;
	}
	(void)snprintf(tok, sizeof(tok), "%s/tok", dir);
	(void)snprintf(pidf, sizeof(pidf), "%s/pid", dir);
	(void)snprintf(logf, sizeof(logf), "%s/log", dir);
	/* $PPID of the shell is the helper: the test learns its pid */
	(void)snprintf(cmd, sizeof(cmd), "cat %s 2>/dev/null || "
	    "{ echo $PPID > %s; exit 3; }", tok, pidf);
	if ((fp = fopen(tok, "w")) == NULL || fputs("tok-1\nignored\n",
	    fp) == EOF || fclose(fp) == EOF) {
		CHECK("authcmd: token file", 0, "%s", strerror(errno));
		return;
	}
	(void)log_init("relayq", logf);

	CASE("authcmd: helper started");
	EXPECT_INT("authcmd_start", authcmd_start(cmd, err, sizeof(err)), 0);
	EXPECT(authcmd_fd() != -1, "no socket");
	END();
	if (authcmd_fd() == -1)
		return;

	rc = authcmd_get(cmd, buf, sizeof(buf), err, sizeof(err));
	CASE("authcmd: the helper answers with the command's first line");
	EXPECT_INT("authcmd_get", rc, 0);
	EXPECT_STR("secret", buf, "tok-1");
	END();

	(void)unlink(tok);
	rc = authcmd_get(cmd, buf, sizeof(buf), err, sizeof(err));
	CASE("authcmd: a failing command gives its message, helper stays");
	EXPECT_INT("authcmd_get", rc, -1);
	EXPECT_STR("error", err, "auth_password_command failed "
	    "(non-zero exit)");
	EXPECT(authcmd_fd() != -1, "helper given up");
	END();

	pid = read_pid(pidf);
	CASE("authcmd: killed helper: hang-up seen, said once, no zombie");
	EXPECT(pid > 0 && kill(pid, SIGKILL) == 0, "no helper pid");
	pfd.fd = authcmd_fd();
	pfd.events = 0;
	EXPECT_INT("poll", poll(&pfd, 1, 10000), 1);
	EXPECT(pfd.revents & POLLHUP, "no POLLHUP");
	authcmd_hangup();
	authcmd_hangup();	/* a second time says nothing more */
	EXPECT_INT("fd", authcmd_fd(), -1);
	/* reaped by the kernel (SA_NOCLDWAIT): gone, not a zombie */
	for (i = 0, gone = 0; i < 200 && !gone; i++) {
		gone = kill(pid, 0) == -1 && errno == ESRCH;
		if (!gone)
			(void)nanosleep(&(struct timespec){ 0, 50000000 },
			    NULL);
	}
	EXPECT(gone, "helper %ld still exists (a zombie?)", (long)pid);
	END();

	rc = authcmd_get(cmd, buf, sizeof(buf), err, sizeof(err));
	CASE("authcmd: helper gone: logged once, every request defers");
	EXPECT_INT("authcmd_get", rc, -1);
	EXPECT_STR("error", err, "auth_password_command helper is gone "
	    "(restart relayq)");
	(void)snprintf(cmd, sizeof(cmd), "auth_password_command helper "
	    "(pid %ld) exited or was killed; sessions that need AUTH defer "
	    "until relayq is restarted\n", (long)pid);
	EXPECT_INT("log lines", file_count(logf, cmd), 1);
	END();

	/* the rest of test/unit waits for its children again */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	(void)sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)unlink(pidf);
	(void)unlink(logf);
	(void)rmdir(dir);
}

/*
 * The helper is never run as root (authcmd_start refuses).  Run by root,
 * check that, then run the helper's cases in a child as nobody (65534,
 * as make check runs the daemon); its counts come back through a pipe.
 */
static void
test_authcmd_unprivileged(void)
{
	unsigned int	 counts[2];
	char		 err[256] = "";
	pid_t		 pid;
	int		 fds[2], status;

	if (geteuid() != 0) {
		test_authcmd_helper();
		return;
	}
	CASE("authcmd: refuses to run the command as root");
	EXPECT_INT("authcmd_start", authcmd_start("true", err, sizeof(err)),
	    -1);
	EXPECT_STR("error", err, "auth_password_command: refusing to run it "
	    "as root");
	END();
	(void)fflush(stdout);
	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		CHECK("authcmd: fork a child as nobody", 0, "%s",
		    strerror(errno));
		return;
	}
	if (pid == 0) {
		(void)close(fds[0]);
		unit.run = unit.failed = 0;
		if (setgroups(0, NULL) == -1 || setresgid(65534, 65534,
		    65534) == -1 || setresuid(65534, 65534, 65534) == -1)
			CHECK("authcmd: become nobody", 0, "%s",
			    strerror(errno));
		else
			test_authcmd_helper();
		(void)fflush(stdout);
		counts[0] = unit.run;
		counts[1] = unit.failed;
		_exit(write(fds[1], counts, sizeof(counts)) ==
		    (ssize_t)sizeof(counts) ? 0 : 1);
	}
	(void)close(fds[1]);
	if (read(fds[0], counts, sizeof(counts)) != (ssize_t)sizeof(counts))
		counts[0] = counts[1] = 1;
	(void)close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	unit.run += counts[0];
	unit.failed += counts[1];
}

void
test_authcmd(void)
{
	test_authcmd_parse();
	test_authcmd_unprivileged();
}
