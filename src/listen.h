/*
 * The SMTP listener, `relayq smtpd': listen.c accepts and checks each
 * client, listen_addr.c parses the addresses of `listen' and
 * `listen_allow' (pure, unit-tested, fuzzed), listen_sandbox.c confines
 * it and the sessions, listen_auth.c holds the users of listen_auth_file,
 * listen_session.c stands between a client and its session when AUTH or
 * STARTTLS is on, listen_tls.c does the TLS.
 * The SMTP session itself is sendmail's -bs (bs.c).
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

/* listen_auth.c: listen_auth_file, its users and password hashes */
#define LAUTH_USERMAX		64
#define LAUTH_ROUNDS		100000	/* what listen-passwd makes: some
					   0.2 s of a 2-core VM per AUTH */
#define LAUTH_MINROUNDS		100000
#define LAUTH_MAXROUNDS		10000000
struct lauth_user {
	char		 name[LAUTH_USERMAX + 1];
	unsigned int	 rounds;
	unsigned char	 salt[64];
	size_t		 saltlen;
	unsigned char	 key[64];
	size_t		 keylen;
	size_t		 line;
};
struct lauth {
	struct lauth_user	*v;
	size_t			 n;
};
struct conf;
int	 lauth_user_ok(const char *);
int	 lauth_parse_line(const char *, size_t, struct lauth_user *, char *,
	    size_t);
int	 lauth_parse(struct lauth *, const char *, size_t, char *, size_t);
int	 lauth_load(struct lauth *, const char *, char *, size_t);
void	 lauth_free(struct lauth *);
int	 lauth_check(const struct lauth *, const char *, const char *, size_t);
int	 lauth_make(const char *, const char *, size_t, unsigned int, char *,
	    size_t, char *, size_t);
int	 lauth_passwd_main(struct conf *, int, char *[]);

/* listen_tls.c: STARTTLS, the server side */
struct ltls;
struct ltls	*ltls_new(const struct conf *, char *, size_t);
void	 ltls_free(struct ltls *);
int	 ltls_handshake(struct ltls *, int, char *, size_t);
ssize_t	 ltls_read(struct ltls *, void *, size_t);
size_t	 ltls_pending(struct ltls *);
int	 ltls_write(struct ltls *, const void *, size_t);
void	 ltls_close(struct ltls *);

/* listen_session.c: the session helper, when AUTH or STARTTLS is on */
struct listen_helper {
	const char		*sendmail;
	const struct lauth	*auth;		/* NULL: no AUTH */
	struct ltls		*tls;		/* NULL: no STARTTLS */
	time_t			 timeout;	/* listen_timeout */
};
void	 listen_session(const struct listen_helper *, int,
	    const struct sockaddr *, unsigned int) __attribute__((noreturn));

/* listen_sandbox.c */
int	 listen_sandbox(const struct conf *, const char *, char *, size_t);

#endif /* LISTEN_H */
