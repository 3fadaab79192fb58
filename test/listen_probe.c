/*
 * listen_probe: a stand-in for sendmail beside a copy of relayq, for
 * test/t_listen_sandbox.sh.  The listener runs it for each client as it
 * would run sendmail -bs, under the listener's sandbox; it answers the
 * client with one line per attempt: reading $LISTEN_PROBE (the
 * smarthost secret), executing /bin/sh, writing in the spool's drop/
 * ($LISTEN_SPOOL/drop), connecting to TCP port $LISTEN_PORT.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
probe_say(const char *what, int ok)
{
	(void)printf("250-%s: %s\r\n", what, ok ? "allowed" : strerror(errno));
}

int
main(void)
{
	struct sockaddr_in	 sin;
	const char		*secret = getenv("LISTEN_PROBE");
	const char		*spool = getenv("LISTEN_SPOOL");
	const char		*port = getenv("LISTEN_PORT");
	char			 path[4096];
	int			 fd, s;

	if (secret == NULL || spool == NULL || port == NULL)
		return 2;
	(void)printf("220 probe\r\n");
	fd = open(secret, O_RDONLY);
	probe_say("read secret", fd != -1);
	(void)snprintf(path, sizeof(path), "%s/drop/probe", spool);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	probe_say("create in drop", fd != -1);
	if (fd != -1)
		(void)unlink(path);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s = socket(AF_INET, SOCK_STREAM, 0);
	probe_say("tcp connect", s != -1 &&
	    connect(s, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	(void)fflush(stdout);
	(void)execl("/bin/sh", "sh", "-c", "true", (char *)NULL);
	probe_say("exec /bin/sh", 0);
	(void)printf("250 done\r\n");
	return 0;
}
