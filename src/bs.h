/*
 * The -bs session's state, shared by bs.c (the session), bs_line.c (its
 * input and replies) and bs_auth.c (AUTH and STARTTLS under the
 * listener's session helper).  Private to the three.
 */
#ifndef BS_H
#define BS_H

#define BS_LINEMAX	2048	/* a command line (RFC 5321: 512) */
#define BS_AUTHMAX	3	/* failed AUTHs: then 421, the end */

struct bs {
	const struct bs_io *io;
	int		 ioerr;		/* a reply could not be written */
	char		 buf[16384];
	size_t		 pos, len;
	int		 eof;
	int		 timedout;	/* a read timed out: 421, the end */
	time_t		 deadline;	/* of this DATA phase; 0: none */
	int		 errors, junk;
	int		 tls;		/* after STARTTLS */
	char		*auth_user;	/* after a successful AUTH */
	int		 authfail;
	char		*helo;		/* as the client gave it, checked */
	int		 esmtp;
	enum body_decl	 body;		/* MAIL's BODY= */
	enum dsn_ret	 ret;		/* MAIL's RET= */
	char		*envid;
	unsigned int	 notify;	/* RCPT's NOTIFY=, the same for all */
	unsigned long	 barelf;	/* in this DATA: bs_data */
	char		 line[BS_LINEMAX + 1];
	size_t		 linelen;
	int		 mail;		/* MAIL given */
	char		*sender;
	char		**rcpt;
	int		 nrcpt;
	long long	 max;
};

/* bs_line.c */
int	 bs_getc(struct bs *);
int	 bs_peek(struct bs *);
int	 bs_reply(struct bs *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 bs_command(struct bs *);
void	 bs_reset(struct bs *);
void	 bs_log_end(struct bs *, const char *);

/* bs_auth.c */
int	 bs_auth_offered(const struct bs *);
int	 bs_tls_offered(const struct bs *);
int	 bs_auth(struct bs *, char *, const char *);
int	 bs_starttls(struct bs *, const char *);
void	 bs_helped(struct bs_io *, char *, size_t, time_t);

#endif /* BS_H */
