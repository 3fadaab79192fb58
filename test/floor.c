/*
 * The submission floor for make bench: exactly the durable commit a
 * queue needs and nothing else - read stdin, write a new file, fsync it,
 * rename it, fsync the directory.  relayq's sendmail is measured against
 * this program in the same run.
 *
 *	floor DIR < message
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char *argv[])
{
	char	 buf[65536], tmp[PATH_MAX], dst[PATH_MAX];
	ssize_t	 n;
	int	 fd, dfd;

	if (argc != 2)
		return 64;
	(void)snprintf(tmp, sizeof(tmp), "%s/t%ld", argv[1], (long)getpid());
	(void)snprintf(dst, sizeof(dst), "%s/f%ld", argv[1], (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0640)) == -1)
		return 73;
	while ((n = read(0, buf, sizeof(buf))) > 0)
		if (write(fd, buf, (size_t)n) != n)
			return 75;
	if (fsync(fd) == -1 || close(fd) == -1 || rename(tmp, dst) == -1)
		return 75;
	if ((dfd = open(argv[1], O_RDONLY | O_DIRECTORY)) == -1 ||
	    fsync(dfd) == -1)
		return 75;
	return 0;
}
