/*
 * The control channel between the listener's session helper and its
 * sendmail -bs (listen_proto.c): message types, flags, one parsed line.
 * Shared by both programs; no TLS or password code here.
 */
#ifndef LPROTO_H
#define LPROTO_H

#define LPROTO_FD		3	/* sendmail's end */
#define LPROTO_ENV		"RELAYQ_SESSION"	/* set by the helper */
#define LPROTO_LINEMAX		1024

/* S's flags */
#define LPROTO_F_AUTH		0x01	/* a: listen_auth_file is set */
#define LPROTO_F_TLS		0x02	/* t: STARTTLS may be offered */
#define LPROTO_F_RELAY		0x04	/* r: MAIL without AUTH */
#define LPROTO_F_PLAINAUTH	0x08	/* p: AUTH before TLS (loopback) */

enum lproto_type {
	LPROTO_START = 'S',
	LPROTO_YES = 'Y',
	LPROTO_NO = 'N',
	LPROTO_READY = 'R',
	LPROTO_AUTH = 'A',
	LPROTO_STARTTLS = 'T',
	LPROTO_GO = 'G',
};

struct lproto_msg {
	int		 type;
	char		 client[64];	/* S: "[192.0.2.1]" */
	unsigned int	 flags;		/* S: LPROTO_F_* */
	char		 mech[8];	/* A: PLAIN or LOGIN */
	char		 user[256];	/* A */
	char		 pass[256];	/* A: NUL-terminated; passlen bytes */
	size_t		 passlen;
};

struct sockaddr;

/* listen_proto.c */
int	 lproto_parse(const char *, size_t, struct lproto_msg *, char *,
	    size_t);
void	 lproto_flags(unsigned int, char *, size_t);
ssize_t	 lproto_getline(int, char *, size_t);
int	 lproto_send(int, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *lproto_client(const struct sockaddr *, char *, size_t);

#endif /* LPROTO_H */
