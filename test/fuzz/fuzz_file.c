/* The scratch file of test/fuzz/fuzz.h, created once per process. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz.h"

static char	fuzz_path[64];
static int	fuzz_fd = -1;

static void
fuzz_unlink(void)
{
	(void)unlink(fuzz_path);
}

int
fuzz_file(const uint8_t *data, size_t size, const char **path)
{
	size_t	 off = 0;
	ssize_t	 n;

	if (fuzz_fd == -1) {
		(void)snprintf(fuzz_path, sizeof(fuzz_path),
		    "/tmp/relayq-fuzz.XXXXXX");
		if ((fuzz_fd = mkstemp(fuzz_path)) == -1)
			abort();
		(void)atexit(fuzz_unlink);
	}
	if (ftruncate(fuzz_fd, 0) == -1)
		abort();
	while (off < size) {
		if ((n = pwrite(fuzz_fd, data + off, size - off,
		    (off_t)off)) <= 0)
			abort();
		off += (size_t)n;
	}
	if (lseek(fuzz_fd, 0, SEEK_SET) == -1)
		abort();
	if (path != NULL)
		*path = fuzz_path;
	return fuzz_fd;
}
