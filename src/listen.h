/*
 * The SMTP listener, `relayq smtpd': listen.c accepts and checks each
 * client, listen_addr.c parses the addresses of `listen' and
 * `listen_allow' (pure, unit-tested, fuzzed), listen_sandbox.c confines
 * it and the sessions.  The SMTP session itself is sendmail's -bs (bs.c).
 */
#ifndef LISTEN_H
#define LISTEN_H

struct sockaddr;
struct sockaddr_storage;

/* listen.c */
int	 listen_main(const struct conf *);

/* listen_addr.c */
int	 listen_parse_addr(const char *, struct sockaddr_storage *,
	    socklen_t *, char *, size_t);
int	 listen_is_loopback(const struct sockaddr *);
int	 listen_same_client(const struct sockaddr *, const struct sockaddr *);
int	 listen_allowed(const char *, const struct sockaddr *, char *,
	    size_t);

/* listen_sandbox.c */
int	 listen_sandbox(const struct conf *, const char *, char *, size_t);

#endif /* LISTEN_H */
