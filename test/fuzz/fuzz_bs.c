/*
 * sendmail -bs, the SMTP server that local mail clients talk to:
 * bs_session fed arbitrary client bytes (from a regular file, read(2)
 * as in sendmail), its replies into memory.  The fork of the queue step
 * is replaced by a check of what it would get, and its result (exit
 * status, queue id) comes from the input, so that every reply is
 * reached.
 *
 * Oracle: every reply line is "DDD " or "DDD-" and text without a
 * control character, ended by CRLF; a queued transaction has a valid
 * sender (or the null one), 1 to 1000 valid recipients, at most the
 * size limit plus the slack of bs_data; no descriptor is left open; the
 * session ends with BS_CLOSED, never BS_CHILD.  And it writes nothing
 * but its descriptors: while it runs, the calls that create, write,
 * rename or remove a file by name (open and openat for writing, creat,
 * rename, unlink, mkdir, link, symlink) are this file's tripwires, which
 * abort.  libc's fopen reaches the kernel without them: bs.c and what it
 * calls use no stdio on paths (checked with grep when this was written).
 * (Queueing, the -bm path, has its own targets: msg, spool.)
 *
 * An input that starts with 0xfe runs the session as under the
 * listener's session helper (AUTH, STARTTLS): byte 1's low bits are
 * the client's flags (LPROTO_F_*), bytes 2 and 3 the helper's answers
 * on the control channel, two bits each (Y, N, R, or a malformed
 * line), then the end of the channel; the client's bytes follow.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "lproto.h"
#include "fuzz.h"

#define FUZZ_MAX	4096	/* max_message_size: small, to reach 552 */

static int	 in_session;

/*
 * The tripwires.  These definitions take the place of libc's for the
 * code of this program (libFuzzer's own files are written by libc
 * internally, through none of them); outside a session they pass the
 * call on.
 */
static void
fuzz_trip(void)
{
	if (in_session)
		abort();
}

/* open's mode argument: passed only with these flags, as libc reads it */
#define FUZZ_MODE(flags, mode) do {					\
	va_list	 ap_;							\
									\
	va_start(ap_, flags);						\
	if (((flags) & O_CREAT) != 0 ||					\
	    ((flags) & O_TMPFILE) == O_TMPFILE)				\
		(mode) = va_arg(ap_, int);				\
	va_end(ap_);							\
} while (0)

static int
fuzz_openat(int dfd, const char *path, int flags, int mode)
{
	if ((flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) != 0)
		fuzz_trip();
	return (int)syscall(SYS_openat, dfd, path, flags, mode);
}

int
open(const char *path, int flags, ...)
{
	int	 mode = 0;

	FUZZ_MODE(flags, mode);
	return fuzz_openat(AT_FDCWD, path, flags, mode);
}

int
openat(int dfd, const char *path, int flags, ...)
{
	int	 mode = 0;

	FUZZ_MODE(flags, mode);
	return fuzz_openat(dfd, path, flags, mode);
}

int
creat(const char *path, mode_t mode)
{
	fuzz_trip();
	return (int)syscall(SYS_creat, path, mode);
}

int
rename(const char *from, const char *to)
{
	fuzz_trip();
	return (int)syscall(SYS_rename, from, to);
}

int
unlink(const char *path)
{
	fuzz_trip();
	return (int)syscall(SYS_unlink, path);
}

int
mkdir(const char *path, mode_t mode)
{
	fuzz_trip();
	return (int)syscall(SYS_mkdir, path, mode);
}

int
link(const char *from, const char *to)
{
	fuzz_trip();
	return (int)syscall(SYS_link, from, to);
}

int
symlink(const char *from, const char *to)
{
	fuzz_trip();
	return (int)syscall(SYS_symlink, from, to);
}

/* the queue step: check the transaction, answer from its data */
static int
fuzz_queue(void *arg, int mfd, struct bs_job *job, char *id, size_t idsz)
{
	static const int	 codes[] = { EX_OK, EX_DATAERR, EX_USAGE,
				    EX_NOUSER, EX_NOPERM, EX_TEMPFAIL,
				    EX_CANTCREAT };
	struct stat		 st;
	unsigned char		 c = 0;
	int			 i;

	(void)arg;
	if (job->sender == NULL || (job->sender[0] != '\0' &&
	    !addr_valid(job->sender)) || job->nrcpt < 1 || job->nrcpt > 1000)
		abort();
	for (i = 0; i < job->nrcpt; i++)
		if (!addr_valid(job->rcpt[i]))
			abort();
	if (fstat(mfd, &st) == -1 || st.st_size > FUZZ_MAX +
	    2 * LINE_MAX_OCTETS || lseek(mfd, 0, SEEK_CUR) != 0)
		abort();
	if (st.st_size > 0 && read(mfd, &c, 1) != 1)
		abort();
	/* the first byte of the message picks the outcome */
	if (c == 'K')
		return SIGKILL;			/* killed: 451 */
	if (c == 'F')
		return -2;			/* no child: 451 */
	(void)strlcpy(id, c == 'B' ? "../../etc/passwd" : "0000000000000001",
	    idsz);				/* B: a bad id, no 250 */
	return codes[c % (sizeof(codes) / sizeof(codes[0]))] << 8;
}

/* every reply: a code, a separator, printable text, CRLF */
static void
fuzz_check_replies(const char *out, size_t len)
{
	const char	*l = out, *e, *c;

	if (len < 6 || strlen(out) != len)
		abort();
	for (; l < out + len; l = e + 2) {
		if ((e = strstr(l, "\r\n")) == NULL)
			abort();
		if (e - l < 4 || l[0] < '2' || l[0] > '5' || l[1] < '0' ||
		    l[1] > '9' || l[2] < '0' || l[2] > '9' ||
		    (l[3] != ' ' && l[3] != '-'))
			abort();
		for (c = l; c < e; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				abort();
	}
}

/* the lowest descriptor not in use */
static int
fuzz_free_fd(void)
{
	int	 fd;

	if ((fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null",
	    O_RDONLY)) == -1 || close(fd) == -1)
		abort();
	return fd;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const answers[] = { "Y\n", "N\n", "R\n", "Q?\n" };
	struct bs_io	 io = { -1, NULL, fuzz_queue, NULL, NULL, 0, -1, 0 };
	struct bs_job	 job = { .idfd = -1 };
	char		*out = NULL;
	size_t		 outlen = 0;
	int		 free_fd, end, i, sp[2] = { -1, -1 };

	/* the file first: it stays open from one input to the next */
	io.in = fuzz_file(data, size, NULL);
	free_fd = fuzz_free_fd();
	if (size >= 4 && data[0] == 0xfe) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
			abort();
		for (i = 0; i < 8; i++)
			if (write(sp[1], answers[(data[2 + i / 4] >> (2 *
			    (i % 4))) & 3], strlen(answers[(data[2 + i / 4] >>
			    (2 * (i % 4))) & 3])) == -1)
				abort();
		(void)shutdown(sp[1], SHUT_WR);
		io.ctl = sp[0];
		io.flags = data[1] & 0xf;
		io.client = "[192.0.2.1]";
		io.in = fuzz_file(data + 4, size - 4, NULL);
	}
	if ((io.out = open_memstream(&out, &outlen)) == NULL)
		abort();
	in_session = 1;
	end = bs_session(&io, "client.test", FUZZ_MAX, &job);
	in_session = 0;
	if (end != BS_CLOSED || job.sender != NULL || job.rcpt != NULL ||
	    job.auth_user != NULL)
		abort();
	if (sp[0] != -1 && (close(sp[0]) == -1 || close(sp[1]) == -1))
		abort();
	if (fclose(io.out) == EOF)
		abort();
	fuzz_check_replies(out, outlen);
	free(out);
	/* no descriptor left open: the lowest free one is as before (not
	   "the one after ours": libFuzzer may start its symbolizer, with
	   pipes, between two inputs) */
	if (fuzz_free_fd() != free_fd)
		abort();
	return 0;
}
