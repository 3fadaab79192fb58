/* The daemon's side of the wire: connections (tls.c) and SMTP (smtp.c). */
#ifndef CLIENT_H
#define CLIENT_H

#define CONN_BUFSZ	4096

/*
 * A byte stream to the smarthost.  The SMTP code sees only these three
 * operations, so tests drive it with a scripted peer and no network.
 */
struct conn;
struct mbedtls_x509_crt;
struct mbedtls_pk_context;
struct mbedtls_ctr_drbg_context;
struct conn_ops {
	ssize_t	(*read)(struct conn *, void *, size_t);
	ssize_t	(*write)(struct conn *, const void *, size_t);
	int	(*starttls)(struct conn *, char *, size_t);
};

struct conn {
	const struct conn_ops	*ops;
	int			 fd;
	void			*tls;		/* struct tls_conn, or NULL */
	int			 verified;	/* TLS up and the peer checked */
	time_t			 timeout;	/* for each read or write */
	const struct smarthost	*host;
	const struct route	*route;		/* pins, client certificate */
	char			 peer[320];	/* "name[addr]:port" for logs */
	char			 tls_version[16]; /* "TLSv1.3" once verified */
	char			 tls_cipher[64];
	int			 tls_resumed;	/* a saved session resumed */
	char			 tls_error[300]; /* an alert after the handshake */
	char			 rbuf[CONN_BUFSZ];
	size_t			 rpos, rlen;
	void			*priv;		/* test peers */
	/* relayq probe: each certificate of the chain as it is verified */
	void	(*cert_cb)(void *, const struct mbedtls_x509_crt *, int,
		    unsigned int);
	void			*cert_arg;
};

#define REPLY_LINES	100
#define REPLY_TOTAL	16384

struct smtp_reply {
	int	 code;		/* of the complete reply, else 0 */
	int	 first;		/* code of the first line */
	int	 nlines;
	char	 text[REPLY_TOTAL];	/* lines joined by '\n', no CRLF */
	size_t	 len;
};

enum smtp_caps {
	CAP_STARTTLS	= 1 << 0,
	CAP_PIPELINING	= 1 << 1,
	CAP_8BITMIME	= 1 << 2,
	CAP_SMTPUTF8	= 1 << 3,
	CAP_SIZE	= 1 << 4,
	CAP_DSN		= 1 << 5,
	CAP_ENHANCED	= 1 << 6,
	CAP_AUTH_PLAIN	= 1 << 7,
	CAP_AUTH_LOGIN	= 1 << 8,
	CAP_AUTH_SCRAM	= 1 << 9,
	CAP_AUTH_XOAUTH2 = 1 << 10,
	CAP_AUTH_OAUTHBEARER = 1 << 11,
	CAP_AUTH_CRAMMD5 = 1 << 12,
};

enum auth_id {
	AUTH_SCRAM,
	AUTH_PLAIN,
	AUTH_LOGIN,
	AUTH_XOAUTH2,
	AUTH_OAUTHBEARER,
	AUTH_CRAMMD5,
};

struct auth_mech {
	const char	*name;
	enum auth_id	 id;
	unsigned int	 cap;
	int		 dflt;	/* tried when auth_mechanisms is not set */
};

#define AUTH_MAXMECHS	8
#define AUTH_SECRET_MAX	8192	/* password or token, with its NUL */

/* One SASL exchange; auth_done() wipes it (nonce, keys, signature). */
struct auth {
	const struct auth_mech	*mech;
	const char		*user;
	const char		*secret;
	const char		*host, *port;	/* OAUTHBEARER */
	int			 step;
	char			 nonce[64];	/* SCRAM client nonce */
	char			 first[640];	/* SCRAM client-first-bare */
	unsigned char		 ssig[32];	/* expected server signature */
	int			 verified;	/* server signature checked */
	char			 detail[256];	/* OAuth error JSON, sanitised */
};

enum smtp_stage {
	SMTP_STAGE_GREETING,
	SMTP_STAGE_EHLO,
	SMTP_STAGE_STARTTLS,	/* STARTTLS, handshake and verification */
	SMTP_STAGE_AUTH,
	SMTP_STAGE_READY,
};

struct smtp_session {
	struct conn		*conn;
	const struct conf	*conf;		/* domain */
	const struct route	*route;
	const char		*password;
	unsigned int		 caps;
	long long		 maxsize;
	char			 error[REPLY_MAX + 128];	/* why it failed */
	int			 temp;		/* that failure is temporary */
	enum smtp_stage		 stage;		/* where smtp_open got to */
	/* relayq probe: every line sent ("C: ") and received ("S: "),
	 * with AUTH payloads replaced by a placeholder */
	void			(*trace)(void *, const char *);
	void			*trace_arg;
	int			 hide;		/* AUTH exchange under way */
	const char		*mech;		/* AUTH mechanism chosen */
};

/* auth.c */
const struct auth_mech *auth_mech_byname(const char *, size_t);
unsigned int auth_caps(const char *);
size_t	 auth_order(const struct route *, const struct auth_mech **, size_t);
int	 auth_check_list(const char *, char *, size_t);
void	 auth_start(struct auth *, const struct auth_mech *, const char *,
	    const char *, const char *, const char *, const char *);
int	 auth_step(struct auth *, const char *, size_t, char *, size_t,
	    size_t *, char *, size_t);
int	 auth_finished(const struct auth *, char *, size_t);
void	 auth_done(struct auth *);
int	 auth_pbkdf2_sha256(const unsigned char *, size_t,
	    const unsigned char *, size_t, unsigned int, unsigned char *, size_t);
int	 auth_nodump(char *, size_t);

/* authcmd.c */
#define AUTHCMD_ERR_MAX		255	/* the helper's error message */
#define AUTHCMD_REPLY_MAX	(3 + AUTH_SECRET_MAX)	/* "ok " SECRET "\n" */
int	 authcmd_run(const char *, char *, size_t, char *, size_t);
int	 authcmd_parse(const char *, size_t, char *, size_t, char *, size_t);
int	 authcmd_start(const char *, char *, size_t);
int	 authcmd_fd(void);
void	 authcmd_hangup(void);
int	 authcmd_get(const char *, char *, size_t, char *, size_t);

/* probe.c */
int	 probe_main(struct conf *, int, char *[]);

/* smtp.c */
int	 smtp_reply_line(struct smtp_reply *, const char *, size_t);
unsigned int smtp_ehlo_caps(const struct smtp_reply *, long long *);
int	 smtp_read_reply(struct conn *, struct smtp_reply *, char *, size_t);
int	 smtp_open(struct smtp_session *, char *, size_t);
int	 smtp_send(struct smtp_session *, struct qmsg *);
int	 smtp_rset(struct smtp_session *);
void	 smtp_quit(struct smtp_session *);
const char *smtp_dsn(const struct smtp_reply *, char *, size_t);

/* tls.c */
int	 tls_spki_pin(const struct mbedtls_x509_crt *, unsigned char [32],
	    char *, size_t);
void	 tls_cert_names(const struct mbedtls_x509_crt *, char *, size_t);
int	 tls_name_match(const unsigned char *, size_t, const char *);
int	 tls_load_pair(const char *, const char *, const char *,
	    struct mbedtls_x509_crt *, struct mbedtls_pk_context *,
	    struct mbedtls_ctr_drbg_context *, char *, size_t);
int	 tls_init(const struct conf *, char *, size_t);
int	 tls_check_version(const struct route *, char *, size_t);
void	 tls_reseed(void);
int	 tls_connect(struct conn *, const struct route *,
	    const struct smarthost *, time_t, char *, size_t);
void	 tls_close(struct conn *);

#endif /* CLIENT_H */
