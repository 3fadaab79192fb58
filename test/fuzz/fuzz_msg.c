/*
 * A message as sendmail reads it from a local user: msg_in_line through
 * msg_read_header, msg_hdr_recipients (-t), msg_write_header and
 * msg_write_body.  The first input byte sets -i; the rest is standard
 * input.
 *
 * Oracle (SMTP smuggling, 2023): whatever the input, what sendmail writes
 * must pass the daemon's own wire-form check, spool_check_data: CRLF line
 * ends only, no bare CR or LF, no NUL, no line that is a lone dot.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "fuzz.h"

static struct msg_in	 in;
static struct msg_out	 out;
static int		 outfd = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 top0[] = "Received: by test\r\n\tid X; now";
	static char		 bot0[] = "Date: now";
	char *const		 top[] = { top0, NULL }, *const bottom[] =
				    { bot0, NULL };
	struct msg		 m;
	struct addr_list	 l = ADDR_LIST_EMPTY;
	char			 err[512];
	int			 fd, rc;

	if (size < 1)
		return 0;
	if (outfd == -1 && (outfd = memfd_create("out", 0)) == -1)
		abort();
	if (ftruncate(outfd, 0) == -1 || lseek(outfd, 0, SEEK_SET) == -1)
		abort();
	fd = fuzz_file(data + 1, size - 1, NULL);
	memset(&m, 0, sizeof(m));
	msg_in_init(&in, fd, data[0] & 1);
	msg_out_init(&out, outfd, 1024 * 1024);
	if ((rc = msg_read_header(&m, &in)) == 0) {
		(void)msg_hdr_recipients(&m, &l, err, sizeof(err));
		addr_list_free(&l);
		if ((rc = msg_write_header(&m, &out, top, bottom,
		    &in.folded)) == 0)
			rc = msg_write_body(&m, &in, &out);
		if (rc == 0 && spool_check_data(outfd, 0, out.written, err,
		    sizeof(err)) == -1)
			abort();	/* sendmail wrote what the daemon refuses */
		if (rc == 0 && out.written < out.data)
			abort();	/* wire size: data plus dot-stuffing */
	} else if (rc != EX_DATAERR && rc != EX_IOERR)
		abort();
	msg_free(&m);
	return 0;
}
