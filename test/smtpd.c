/*
 * smtpd.c - relayq's test smarthost.
 *
 * Build:
 *   cc -std=gnu11 -O2 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
 *       -Wmissing-prototypes -Werror test/smtpd.c -o test/smtpd \
 *       -lmbedtls -lmbedx509 -lmbedcrypto
 *
 * A deliberately small SMTP server on 127.0.0.1 that speaks just enough
 * ESMTP (PIPELINING, STARTTLS or implicit TLS, AUTH PLAIN/LOGIN,
 * SCRAM-SHA-256, XOAUTH2, OAUTHBEARER) for relayq
 * to deliver to it, records what it receives so tests can check it byte
 * for byte, and can be told to misbehave in specific ways so tests can
 * check how relayq copes.  It is a test tool, not a mail server: it
 * trusts its command line and keeps no state beyond one connection except
 * the message counter.
 *
 * Process model: the parent accepts and forks one child per connection.
 * Forking keeps every connection's state private and lets a hung or slow
 * session never block the others; the only cross-connection state (the
 * message counter) lives in a MAP_SHARED page.
 *
 * Works with mbedTLS 2.28 and 3.x; differences are guarded on
 * MBEDTLS_VERSION_NUMBER.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE		/* strcasestr, MSG_NOSIGNAL */
#endif

#include <sys/types.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/version.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif

#define SMTPD_MAXLINE	2048		/* command line, without CRLF */
#define SMTPD_BUFSZ	65536		/* input buffer; also max data chunk */
#define SMTPD_MAXMSG	(60UL * 1024 * 1024)	/* message size limit */
#define SMTPD_ADVSIZE	52428800UL	/* SIZE advertised in EHLO */
#define SMTPD_MAXRCPT	1000
#define SMTPD_MAXREPLY	64		/* --reply options */
#define SMTPD_MAXCHILD	1024		/* tracked children */

/* Commands that faults can be attached to. */
enum cmd {
	CMD_GREETING,
	CMD_EHLO,
	CMD_STARTTLS,
	CMD_AUTH,
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_DOT,
	CMD_QUIT,
	CMD_NONE
};

static const char *const cmd_names[] = {
	"GREETING", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA",
	"DOT", "QUIT"
};

struct reply_override {
	enum cmd	 cmd;
	char		*match;		/* RCPT:ADDR substring, or NULL */
	char		*text;		/* lines separated by '\n' */
};

/* Command line configuration; read-only after startup. */
static struct {
	int		 port;
	const char	*portfile;
	const char	*pidfile;
	const char	*cert;
	const char	*key;
	int		 implicit;
	int		 no_starttls;
	const char	*auth_user;
	const char	*auth_pass;
	const char	*maildir;
	const char	*transcript;
	int		 sink;
	int		 tls_garbage;
	int		 tls11;		/* offer TLS 1.1 and nothing newer */
	const char	*auth_mechs;	/* advertised, default "PLAIN LOGIN" */
	const char	*token;		/* XOAUTH2/OAUTHBEARER bearer token */
	int		 scram_bad_sig;	/* send a wrong server signature */
	const char	*client_ca;	/* require a client certificate */
	int		 timeout;	/* idle seconds */
	unsigned int	 drop_after;	/* bit per enum cmd */
	unsigned int	 hang_after;
	/* hostile smarthost (test/t_hostile.sh) */
	char		*raw[CMD_NONE];	/* --raw CMD=BYTES, sent verbatim */
	size_t		 rawlen[CMD_NONE];
	unsigned int	 endless;	/* --endless CMD: "250-" for ever */
	int		 bytewise;	/* --bytewise: one byte per write */
	int		 tls_alert_data; /* --tls-alert-in-data */
	const char	*wire;		/* --wire F: DATA bytes as received */
	struct reply_override replies[SMTPD_MAXREPLY];
	size_t		 nreplies;
} cfg = {
	.timeout = 60,
};

/* State shared by all processes, in an anonymous MAP_SHARED mapping. */
struct shared {
	unsigned long	 seq;		/* last maildir N tried */
	unsigned long	 accepted;	/* messages accepted (for --sink) */
	unsigned long	 active;	/* connections open now */
};

static struct shared *shm;
static int transcript_fd = -1;
static int wire_fd = -1;		/* --wire */
static int tls_ready;			/* cert and key loaded */
static int tls_ticket_ok;		/* this handshake: a ticket accepted */

static mbedtls_entropy_context	tls_entropy;
static mbedtls_ctr_drbg_context	tls_drbg;
static mbedtls_ssl_config	tls_conf;
static mbedtls_x509_crt		tls_client_ca;
static mbedtls_x509_crt		tls_cert;
static mbedtls_pk_context	tls_pkey;
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_TICKET_C)
/*
 * Session tickets (RFC 5077), so that tests can see a client resume its
 * TLS session.  The key is made once in the parent, before any fork, so
 * every child can decrypt the tickets any other child issued.  The
 * transcript says "ticket offered" when a client presents one, and
 * "tls established, session resumed" when it was accepted.
 */
static mbedtls_ssl_ticket_context	tls_ticket;
#endif

/* Parent-only state. */
static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_term;
static pid_t children[SMTPD_MAXCHILD];
static size_t nchildren;

/* One client connection; TLS or not, it is read through this buffer. */
struct conn {
	int			 fd;
	int			 tls;		/* handshake completed */
	int			 timedout;	/* idle timeout hit */
	int			 ssl_init;
	mbedtls_ssl_context	 ssl;
	size_t			 off;		/* first unconsumed byte */
	size_t			 len;		/* bytes in buf */
	char			 buf[SMTPD_BUFSZ];
};

/* One SMTP session (one connection). */
struct session {
	struct conn	 c;
	int		 helo_seen;
	int		 esmtp;
	char		*helo;
	int		 authed;
	char		*auth_mech;
	char		*auth_user;
	int		 in_mail;
	char		*mail_line;
	char		**rcpts;
	size_t		 nrcpt;
	/* DATA state */
	FILE		*tmpf;
	char		*tmppath;
	unsigned long	 msgsize;
	int		 data_err;	/* write to tmpf failed */
	int		 closing;	/* close after the current reply */
};

static void	 log_err(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2)));
static void	 log_tls(const char *, int);
static void	 usage(void) __attribute__((__noreturn__));
static void	*xmalloc(size_t);
static char	*xstrdup(const char *);
static enum cmd	 cmd_lookup(const char *, size_t);
static void	 opt_reply(const char *);
static void	 opt_cmdbit(unsigned int *, const char *, const char *);
static char	*opt_unescape(const char *);
static void	 opt_raw(const char *);
static int	 smtp_hostile(struct session *, enum cmd, int *);
static int	 file_write_atomic(const char *, const char *, size_t);
static void	 transcript_line(const char *, const char *, size_t);
static void	 tls_init(void);
static int	 conn_bio_send(void *, const unsigned char *, size_t);
static int	 conn_bio_recv(void *, unsigned char *, size_t);
static int	 conn_wait(struct conn *, int);
static ssize_t	 conn_read(struct conn *, char *, size_t);
static int	 conn_write(struct conn *, const char *, size_t);
static int	 conn_getchunk(struct conn *, size_t, char **, size_t *,
		    int *);
static int	 conn_starttls(struct conn *);
static void	 conn_close(struct conn *);
static int	 smtp_reply(struct session *, const char *);
static int	 smtp_fault(struct session *, enum cmd, const char *, int *);
static const char *smtp_override(enum cmd, const char *);
static void	 smtp_hang(struct session *);
static void	 smtp_reset(struct session *);
static void	 smtp_reset_helo(struct session *);
static int	 smtp_greeting(struct session *);
static int	 smtp_ehlo(struct session *, const char *, int);
static int	 smtp_starttls(struct session *, const char *);
static int	 smtp_auth(struct session *, const char *);
static int	 smtp_auth_getline(struct session *, char *, size_t);
static int	 smtp_auth_check(const char *, size_t, const char *, size_t);
static int	 smtp_auth_scram(struct session *, const char *,
		    unsigned char *, size_t *);
static int	 smtp_auth_oauth(struct session *, const char *, const char *,
		    unsigned char *, size_t *);
static int	 smtp_mail(struct session *, const char *, const char *);
static int	 smtp_rcpt(struct session *, const char *, const char *);
static int	 smtp_data(struct session *, const char *);
static int	 smtp_data_body(struct session *);
static void	 smtp_data_begin(struct session *);
static int	 smtp_store(struct session *, unsigned long *);
static int	 smtp_command(struct session *, char *);
static void	 smtp_session(int);
static void	 sig_handler(int);
static void	 srv_reap(void);
static void	 srv_shutdown(void);
static int	 srv_listen(void);
static void	 srv_loop(int);

static void
log_err(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 n;

	/* One write per message so forked children do not interleave. */
	memcpy(buf, "smtpd: ", 7);
	va_start(ap, fmt);
	n = vsnprintf(buf + 7, sizeof(buf) - 8, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 9)
		n = sizeof(buf) - 9;
	n += 7;
	buf[n++] = '\n';
	/* Nowhere to report a failure to write to stderr. */
	if (write(STDERR_FILENO, buf, n) != n)
		return;
}

static void
log_tls(const char *what, int err)
{
	char	 ebuf[200];

	mbedtls_strerror(err, ebuf, sizeof(ebuf));
	log_err("%s: %s (-0x%04x)", what, ebuf, (unsigned int)-err);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: smtpd [--port N] [--portfile F] [--pidfile F]\n"
	    "             [--cert F --key F] [--implicit] [--no-starttls]\n"
	    "             [--auth USER:PASS] [--maildir DIR] [--sink]\n"
	    "             [--transcript F] [--timeout SECS]\n"
	    "             [--reply CMD=TEXT] [--reply RCPT:ADDR=TEXT]\n"
	    "             [--drop-after CMD] [--hang-after CMD]"
	    " [--tls-garbage] [--tls11]\n"
	    "             [--auth-mechs LIST] [--token T] [--scram-bad-sig]\n"
	    "             [--client-ca F]\n"
	    "             [--raw CMD=BYTES] [--endless CMD] [--bytewise]"
	    " [--tls-alert-in-data] [--wire F]\n"
	    "CMD: GREETING EHLO STARTTLS AUTH MAIL RCPT DATA DOT QUIT\n");
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n ? n : 1)) == NULL) {
		log_err("out of memory");
		_exit(1);
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t	 n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static enum cmd
cmd_lookup(const char *name, size_t len)
{
	size_t	 i;

	for (i = 0; i < CMD_NONE; i++)
		if (strlen(cmd_names[i]) == len &&
		    strncasecmp(cmd_names[i], name, len) == 0)
			return (enum cmd)i;
	return CMD_NONE;
}

/*
 * TEXT comes from a shell command line where a real newline is awkward,
 * so "\n" (backslash, n) separates reply lines and "\\" is a backslash.
 */
static char *
opt_unescape(const char *s)
{
	char	*out, *o;

	o = out = xmalloc(strlen(s) + 1);
	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else if (s[0] == '\\' && s[1] == '\\') {
			*o++ = '\\';
			s++;
		} else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

/*
 * --raw CMD=BYTES: the reply to CMD is BYTES exactly, no CRLF added and
 * nothing checked, for hostile-server tests.  Escapes: \r, \n, \\ and
 * \xHH; "{N*C}" repeats the character C N times (an over-long line).
 */
static void
opt_raw(const char *arg)
{
	const char	*eq, *s;
	char		*out, *o, hex[3], *end;
	size_t		 cap, i;
	unsigned long	 n;
	enum cmd	 c;

	if ((eq = strchr(arg, '=')) == NULL ||
	    (c = cmd_lookup(arg, (size_t)(eq - arg))) == CMD_NONE) {
		log_err("--raw: expected CMD=BYTES: %s", arg);
		exit(2);
	}
	cap = strlen(eq);
	for (s = eq + 1; (s = strchr(s, '{')) != NULL; s++)
		cap += strtoul(s + 1, NULL, 10);
	o = out = xmalloc(cap + 1);
	for (s = eq + 1; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == 'r') {
			*o++ = '\r';
			s++;
		} else if (s[0] == '\\' && s[1] == 'n') {
			*o++ = '\n';
			s++;
		} else if (s[0] == '\\' && s[1] == '\\') {
			*o++ = '\\';
			s++;
		} else if (s[0] == '\\' && s[1] == 'x' &&
		    isxdigit((unsigned char)s[2]) &&
		    isxdigit((unsigned char)s[3])) {
			hex[0] = s[2];
			hex[1] = s[3];
			hex[2] = '\0';
			*o++ = (char)strtoul(hex, NULL, 16);
			s += 3;
		} else if (s[0] == '{' && (n = strtoul(s + 1, &end, 10)) > 0 &&
		    end[0] == '*' && end[1] != '\0' && end[2] == '}') {
			for (i = 0; i < n; i++)
				*o++ = end[1];
			s = end + 2;
		} else
			*o++ = *s;
	}
	*o = '\0';	/* for atoi; the bytes sent are rawlen long */
	cfg.raw[c] = out;
	cfg.rawlen[c] = (size_t)(o - out);
}

/* --reply CMD=TEXT or --reply RCPT:ADDR=TEXT */
static void
opt_reply(const char *arg)
{
	struct reply_override	*r;
	const char		*eq, *colon;
	size_t			 namelen;

	if (cfg.nreplies >= SMTPD_MAXREPLY) {
		log_err("too many --reply options");
		exit(2);
	}
	if ((eq = strchr(arg, '=')) == NULL || eq[1] == '\0') {
		log_err("--reply: expected CMD=TEXT: %s", arg);
		exit(2);
	}
	r = &cfg.replies[cfg.nreplies];
	colon = memchr(arg, ':', eq - arg);
	namelen = (colon != NULL ? colon : eq) - arg;
	if ((r->cmd = cmd_lookup(arg, namelen)) == CMD_NONE) {
		log_err("--reply: unknown command in %s", arg);
		exit(2);
	}
	r->match = NULL;
	if (colon != NULL) {
		if (r->cmd != CMD_RCPT || colon + 1 == eq) {
			log_err("--reply: only RCPT:ADDR=TEXT takes an "
			    "address: %s", arg);
			exit(2);
		}
		r->match = xmalloc(eq - colon);
		memcpy(r->match, colon + 1, eq - colon - 1);
		r->match[eq - colon - 1] = '\0';
	}
	r->text = opt_unescape(eq + 1);
	if (strlen(r->text) < 3 || !isdigit((unsigned char)r->text[0]) ||
	    !isdigit((unsigned char)r->text[1]) ||
	    !isdigit((unsigned char)r->text[2])) {
		log_err("--reply: TEXT must start with a 3-digit code: %s",
		    arg);
		exit(2);
	}
	cfg.nreplies++;
}

static void
opt_cmdbit(unsigned int *bits, const char *opt, const char *arg)
{
	enum cmd	 c;

	if ((c = cmd_lookup(arg, strlen(arg))) == CMD_NONE) {
		log_err("%s: unknown command %s", opt, arg);
		exit(2);
	}
	*bits |= 1U << c;
}

/*
 * Write a whole file under a temporary name and rename it into place so
 * a reader polling for PATH never sees it partially written.
 */
static int
file_write_atomic(const char *path, const char *data, size_t len)
{
	char	 tmp[PATH_MAX];
	int	 fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof(tmp)) {
		log_err("%s: path too long", path);
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1) {
		log_err("%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, data, len) != (ssize_t)len) {
		log_err("%s: write: %s", tmp, strerror(errno));
		(void)close(fd);
		(void)unlink(tmp);
		return -1;
	}
	if (close(fd) == -1) {
		log_err("%s: close: %s", tmp, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_err("rename %s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/*
 * Append one transcript line with a single write(2) on an O_APPEND
 * descriptor, so lines from concurrent children never interleave.
 * Trailing CR/LF of LINE are not logged.
 */
static void
transcript_line(const char *prefix, const char *line, size_t len)
{
	static char	 buf[SMTPD_BUFSZ + 16];
	size_t		 plen, n;

	if (transcript_fd == -1)
		return;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	plen = strlen(prefix);
	if (plen + len + 1 > sizeof(buf))
		len = sizeof(buf) - plen - 1;
	memcpy(buf, prefix, plen);
	memcpy(buf + plen, line, len);
	n = plen + len;
	buf[n++] = '\n';
	if (write(transcript_fd, buf, n) != (ssize_t)n)
		log_err("transcript: %s", strerror(errno));
}

#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_TICKET_C)
static int
tls_ticket_parse(void *p, mbedtls_ssl_session *session, unsigned char *buf,
    size_t len)
{
	int	 r;

	transcript_line("-- ", "ticket offered", 14);
	if ((r = mbedtls_ssl_ticket_parse(p, session, buf, len)) == 0)
		tls_ticket_ok = 1;
	return r;
}
#endif

static void
tls_init(void)
{
	static const char	 pers[] = "relayq-test-smtpd";
	int			 r;

	mbedtls_entropy_init(&tls_entropy);
	mbedtls_ctr_drbg_init(&tls_drbg);
	mbedtls_ssl_config_init(&tls_conf);
	mbedtls_x509_crt_init(&tls_cert);
	mbedtls_pk_init(&tls_pkey);

#if defined(MBEDTLS_PSA_CRYPTO_C)
	/* mbedTLS 3.x needs PSA for TLS 1.3 and for some key handling. */
	if (psa_crypto_init() != PSA_SUCCESS) {
		log_err("psa_crypto_init failed");
		exit(1);
	}
#endif
	/* Seeded once here; each child only reseeds (see smtp_session). */
	if ((r = mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func,
	    &tls_entropy, (const unsigned char *)pers, sizeof(pers) - 1))
	    != 0) {
		log_tls("ctr_drbg_seed", r);
		exit(1);
	}

	if (cfg.cert == NULL || cfg.key == NULL)
		return;
	if ((r = mbedtls_x509_crt_parse_file(&tls_cert, cfg.cert)) != 0) {
		log_tls(cfg.cert, r);
		exit(1);
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	r = mbedtls_pk_parse_keyfile(&tls_pkey, cfg.key, NULL,
	    mbedtls_ctr_drbg_random, &tls_drbg);
#else
	r = mbedtls_pk_parse_keyfile(&tls_pkey, cfg.key, NULL);
#endif
	if (r != 0) {
		log_tls(cfg.key, r);
		exit(1);
	}
	if ((r = mbedtls_ssl_config_defaults(&tls_conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		log_tls("ssl_config_defaults", r);
		exit(1);
	}
	/* TLS 1.2 minimum; mbedTLS 3.0/3.1 implement nothing older. */
#if MBEDTLS_VERSION_NUMBER >= 0x03020000
	mbedtls_ssl_conf_min_tls_version(&tls_conf, MBEDTLS_SSL_VERSION_TLS1_2);
#elif MBEDTLS_VERSION_NUMBER < 0x03000000
	mbedtls_ssl_conf_min_version(&tls_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	/*
	 * --tls11: an outdated server that speaks TLS 1.1 at most, so tests
	 * can check that relayq refuses it.  Only mbedTLS 2.x still has it.
	 */
	if (cfg.tls11) {
#if MBEDTLS_VERSION_NUMBER < 0x03000000 && defined(MBEDTLS_SSL_PROTO_TLS1_1)
		mbedtls_ssl_conf_min_version(&tls_conf,
		    MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_2);
		mbedtls_ssl_conf_max_version(&tls_conf,
		    MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_2);
#else
		log_err("--tls11: this mbedTLS has no TLS 1.1");
		exit(77);
#endif
	}
	/* --client-ca: require a client certificate signed by that CA */
	if (cfg.client_ca != NULL) {
		mbedtls_x509_crt_init(&tls_client_ca);
		if ((r = mbedtls_x509_crt_parse_file(&tls_client_ca,
		    cfg.client_ca)) != 0) {
			log_tls(cfg.client_ca, r);
			exit(1);
		}
		mbedtls_ssl_conf_ca_chain(&tls_conf, &tls_client_ca, NULL);
		mbedtls_ssl_conf_authmode(&tls_conf,
		    MBEDTLS_SSL_VERIFY_REQUIRED);
	} else
		mbedtls_ssl_conf_authmode(&tls_conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&tls_conf, mbedtls_ctr_drbg_random, &tls_drbg);
	if ((r = mbedtls_ssl_conf_own_cert(&tls_conf, &tls_cert, &tls_pkey))
	    != 0) {
		log_tls("ssl_conf_own_cert", r);
		exit(1);
	}
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_TICKET_C)
	mbedtls_ssl_ticket_init(&tls_ticket);
	if ((r = mbedtls_ssl_ticket_setup(&tls_ticket, mbedtls_ctr_drbg_random,
	    &tls_drbg, MBEDTLS_CIPHER_AES_256_GCM, 86400)) != 0) {
		log_tls("ssl_ticket_setup", r);
		exit(1);
	}
	mbedtls_ssl_conf_session_tickets_cb(&tls_conf, mbedtls_ssl_ticket_write,
	    tls_ticket_parse, &tls_ticket);
#endif
	tls_ready = 1;
}

/*
 * BIO callbacks.  Reads wait at most cfg.timeout seconds so an idle or
 * stalled peer (including one stalling mid-handshake) gets dropped.
 */
static int
conn_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct conn	*c = ctx;
	ssize_t		 n;

	for (;;) {
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		return MBEDTLS_ERR_NET_SEND_FAILED;
	}
}

static int
conn_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct conn	*c = ctx;
	ssize_t		 n;
	int		 r;

	if ((r = conn_wait(c, cfg.timeout * 1000)) <= 0)
		return r == 0 ? MBEDTLS_ERR_SSL_TIMEOUT :
		    MBEDTLS_ERR_NET_RECV_FAILED;
	for (;;) {
		n = recv(c->fd, buf, len, 0);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == ECONNRESET)
			return MBEDTLS_ERR_NET_CONN_RESET;
		return MBEDTLS_ERR_NET_RECV_FAILED;
	}
}

/* Wait for input: 1 readable, 0 timeout, -1 error.  ms < 0: forever. */
static int
conn_wait(struct conn *c, int ms)
{
	struct pollfd	 pfd;
	int		 r;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (;;) {
		r = poll(&pfd, 1, ms);
		if (r >= 0)
			return r > 0 ? 1 : 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Read some bytes: >0 count, 0 EOF, -1 error or idle timeout. */
static ssize_t
conn_read(struct conn *c, char *buf, size_t len)
{
	int	 r;

	if (!c->tls) {
		r = conn_bio_recv(c, (unsigned char *)buf, len);
		if (r == MBEDTLS_ERR_SSL_TIMEOUT) {
			log_err("idle timeout");
			c->timedout = 1;
		}
		else if (r == MBEDTLS_ERR_NET_CONN_RESET)
			return 0;
		else if (r < 0)
			log_err("read: %s", strerror(errno));
		return r < 0 ? -1 : r;
	}
	for (;;) {
		r = mbedtls_ssl_read(&c->ssl, (unsigned char *)buf, len);
		if (r > 0)
			return r;
		if (r == MBEDTLS_ERR_SSL_WANT_READ ||
		    r == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		if (r == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
#endif
		if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY ||
		    r == MBEDTLS_ERR_NET_CONN_RESET)
			return 0;
		if (r == MBEDTLS_ERR_SSL_TIMEOUT) {
			log_err("idle timeout");
			c->timedout = 1;
		} else
			log_tls("ssl_read", r);
		return -1;
	}
}

static int
conn_write(struct conn *c, const char *buf, size_t len)
{
	int	 r;

	while (len > 0) {
		if (cfg.bytewise)
			(void)usleep(1000);	/* each byte its own segment */
		if (c->tls)
			r = mbedtls_ssl_write(&c->ssl,
			    (const unsigned char *)buf, cfg.bytewise ? 1 : len);
		else
			r = conn_bio_send(c, (const unsigned char *)buf,
			    cfg.bytewise ? 1 : len);
		if (r == MBEDTLS_ERR_SSL_WANT_READ ||
		    r == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (r < 0) {
			if (c->tls)
				log_tls("ssl_write", r);
			else
				log_err("write: %s", strerror(errno));
			return -1;
		}
		buf += r;
		len -= r;
	}
	return 0;
}

/*
 * Return the next chunk of input: a line including its LF if one ends
 * within MAX bytes, else MAX bytes of an over-long line (*eol = 0).
 * Lines are delimited by LF alone so nothing a client sends is lost;
 * callers decide what a bare LF means.  The chunk stays valid until the
 * next call.  Returns 1, 0 on EOF, -1 on error.
 */
static int
conn_getchunk(struct conn *c, size_t max, char **p, size_t *n, int *eol)
{
	char	*nl;
	size_t	 avail, scan;
	ssize_t	 r;

	for (;;) {
		avail = c->len - c->off;
		scan = avail < max ? avail : max;
		if ((nl = memchr(c->buf + c->off, '\n', scan)) != NULL) {
			*p = c->buf + c->off;
			*n = nl - *p + 1;
			*eol = 1;
			c->off += *n;
			return 1;
		}
		if (avail >= max) {
			*p = c->buf + c->off;
			*n = max;
			*eol = 0;
			c->off += max;
			return 1;
		}
		if (c->off > 0) {
			memmove(c->buf, c->buf + c->off, avail);
			c->off = 0;
			c->len = avail;
		}
		if ((r = conn_read(c, c->buf + c->len,
		    sizeof(c->buf) - c->len)) <= 0)
			return (int)r;
		c->len += r;
	}
}

static int
conn_starttls(struct conn *c)
{
	int	 r;

	mbedtls_ssl_init(&c->ssl);
	c->ssl_init = 1;
	if ((r = mbedtls_ssl_setup(&c->ssl, &tls_conf)) != 0) {
		log_tls("ssl_setup", r);
		return -1;
	}
	mbedtls_ssl_set_bio(&c->ssl, c, conn_bio_send, conn_bio_recv, NULL);
	do {
		r = mbedtls_ssl_handshake(&c->ssl);
	} while (r == MBEDTLS_ERR_SSL_WANT_READ ||
	    r == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (r != 0) {
		log_tls("TLS handshake", r);
		transcript_line("-- ", "tls handshake failed", 20);
		return -1;
	}
	c->tls = 1;
	if (tls_ticket_ok)
		transcript_line("-- ", "tls established, session resumed", 32);
	else
		transcript_line("-- ", "tls established", 15);
	if (cfg.client_ca != NULL &&
	    mbedtls_ssl_get_peer_cert(&c->ssl) != NULL) {
		char	 dn[256], line[300];
		int	 n;

		if (mbedtls_x509_dn_gets(dn, sizeof(dn),
		    &mbedtls_ssl_get_peer_cert(&c->ssl)->subject) > 0) {
			n = snprintf(line, sizeof(line), "client certificate %s",
			    dn);
			transcript_line("-- ", line, (size_t)n);
		}
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->tls)
		(void)mbedtls_ssl_close_notify(&c->ssl);
	if (c->ssl_init)
		mbedtls_ssl_free(&c->ssl);
	c->tls = c->ssl_init = 0;
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
	transcript_line("-- ", "connection closed", 17);
}

/*
 * Send a reply; TEXT may hold several lines separated by '\n', each sent
 * as given plus CRLF.  All lines go out in one write.  A 421 always ends
 * the session, as RFC 5321 4.2.2 says the server closes after it.
 */
static int
smtp_reply(struct session *s, const char *text)
{
	char		 out[8192];
	const char	*line, *nl;
	size_t		 len, olen = 0;

	for (line = text; ; line = nl + 1) {
		nl = strchr(line, '\n');
		len = nl != NULL ? (size_t)(nl - line) : strlen(line);
		transcript_line("S: ", line, len);
		if (olen + len + 2 > sizeof(out)) {
			if (conn_write(&s->c, out, olen) == -1)
				return -1;
			olen = 0;
		}
		if (len + 2 > sizeof(out))
			len = sizeof(out) - 2;
		memcpy(out + olen, line, len);
		olen += len;
		out[olen++] = '\r';
		out[olen++] = '\n';
		if (nl == NULL)
			break;
	}
	if (strncmp(text, "421", 3) == 0)
		s->closing = 1;
	return conn_write(&s->c, out, olen);
}

/*
 * Apply configured misbehaviour for CMD.  Returns 1 if a fault handled
 * the command (the caller must not reply; *code is the overriding
 * reply's code, or 0 if the connection is to end), 0 if the command is
 * to be handled normally, -1 on write error.  LINE selects a RCPT
 * override by substring.
 */
static int
smtp_fault(struct session *s, enum cmd cmd, const char *line, int *code)
{
	const char	*text;

	*code = 0;
	if (cfg.raw[cmd] != NULL || (cfg.endless & (1U << cmd)))
		return smtp_hostile(s, cmd, code);
	if (cfg.drop_after & (1U << cmd)) {
		s->closing = 1;
		return 1;
	}
	if (cfg.hang_after & (1U << cmd)) {
		smtp_hang(s);
		s->closing = 1;
		return 1;
	}
	if ((text = smtp_override(cmd, line)) == NULL)
		return 0;
	*code = atoi(text);
	if (smtp_reply(s, text) == -1)
		return -1;
	return 1;
}

/*
 * --raw and --endless: what a hostile smarthost sends instead of the
 * reply to CMD.  *code is what the bytes start with (a STARTTLS reply
 * starting "220" still goes on to the handshake).  --endless sends
 * continuation lines until the client hangs up, bounded so that a
 * client that never stops reading cannot keep this test tool busy.
 */
static int
smtp_hostile(struct session *s, enum cmd cmd, int *code)
{
	static const char	 line[] = "250-endless continuation line\r\n";
	unsigned long		 i;

	if (cfg.endless & (1U << cmd)) {
		transcript_line("S: ", "250-endless ...", 15);
		for (i = 0; i < 1000000; i++)
			if (conn_write(&s->c, line, sizeof(line) - 1) == -1)
				break;
		s->closing = 1;
		return 1;
	}
	transcript_line("S: ", cfg.raw[cmd], cfg.rawlen[cmd]);
	*code = atoi(cfg.raw[cmd]);
	if (conn_write(&s->c, cfg.raw[cmd], cfg.rawlen[cmd]) == -1)
		return -1;
	return 1;
}

/*
 * The --reply text configured for CMD, or NULL.  An address-specific
 * RCPT override whose address occurs in LINE beats a general one.
 */
static const char *
smtp_override(enum cmd cmd, const char *line)
{
	const struct reply_override	*r, *hit = NULL;
	size_t				 i;

	for (i = 0; i < cfg.nreplies; i++) {
		r = &cfg.replies[i];
		if (r->cmd != cmd)
			continue;
		if (r->match != NULL) {
			if (line != NULL && strcasestr(line, r->match) != NULL)
				return r->text;
		} else if (hit == NULL)
			hit = r;
	}
	return hit != NULL ? hit->text : NULL;
}

/*
 * Stop responding but keep the connection open, discarding input, until
 * the client gives up.  No idle timeout here: the point is to let the
 * client's own timeout fire, however long it is.
 */
static void
smtp_hang(struct session *s)
{
	char	 buf[4096];
	ssize_t	 n;

	for (;;) {
		if (conn_wait(&s->c, -1) == -1)
			return;
		n = read(s->c.fd, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno != EINTR))
			return;
	}
}

/* Forget the mail transaction (RSET, EHLO, errors, after a message). */
static void
smtp_reset(struct session *s)
{
	size_t	 i;

	free(s->mail_line);
	s->mail_line = NULL;
	for (i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->in_mail = 0;
	if (s->tmpf != NULL) {
		(void)fclose(s->tmpf);
		s->tmpf = NULL;
	}
	if (s->tmppath != NULL) {
		(void)unlink(s->tmppath);
		free(s->tmppath);
		s->tmppath = NULL;
	}
	s->msgsize = 0;
	s->data_err = 0;
}

static void
smtp_reset_helo(struct session *s)
{
	smtp_reset(s);
	free(s->helo);
	s->helo = NULL;
	s->helo_seen = s->esmtp = 0;
}

static int
smtp_greeting(struct session *s)
{
	int	 r, code;

	if ((r = smtp_fault(s, CMD_GREETING, NULL, &code)) != 0)
		return r == -1 ? -1 : 0;
	return smtp_reply(s, "220 localhost ESMTP relayq-test");
}

static int
smtp_ehlo(struct session *s, const char *arg, int esmtp)
{
	char	 buf[512];
	int	 r, code;

	if (*arg == '\0')
		return smtp_reply(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname" :
		    "501 5.5.4 Syntax: HELO hostname");
	if ((r = smtp_fault(s, CMD_EHLO, NULL, &code)) != 0) {
		if (r == 1 && code / 100 == 2) {
			smtp_reset_helo(s);
			s->helo = xstrdup(arg);
			s->helo_seen = 1;
			s->esmtp = esmtp;
		}
		return r;
	}
	smtp_reset_helo(s);
	s->helo = xstrdup(arg);
	s->helo_seen = 1;
	s->esmtp = esmtp;
	if (!esmtp)
		return smtp_reply(s, "250 localhost");
	snprintf(buf, sizeof(buf),
	    "250-localhost\n"
	    "250-PIPELINING\n"
	    "250-SIZE %lu\n"
	    "250-8BITMIME\n"
	    "250-ENHANCEDSTATUSCODES\n"
	    "%s%s%s%s"
	    "250 SMTPUTF8",
	    SMTPD_ADVSIZE,
	    !s->c.tls && !cfg.no_starttls && tls_ready ? "250-STARTTLS\n" : "",
	    s->c.tls && cfg.auth_user != NULL ? "250-AUTH " : "",
	    s->c.tls && cfg.auth_user != NULL ? (cfg.auth_mechs != NULL ?
	    cfg.auth_mechs : "PLAIN LOGIN") : "",
	    s->c.tls && cfg.auth_user != NULL ? "\n" : "");
	return smtp_reply(s, buf);
}

static int
smtp_starttls(struct session *s, const char *arg)
{
	int	 r, code;

	if (cfg.no_starttls || !tls_ready || cfg.implicit)
		return smtp_reply(s, "502 5.5.2 Error: command not recognized");
	if (s->c.tls)
		return smtp_reply(s, "503 5.5.1 Error: TLS already active");
	if (*arg != '\0')
		return smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
	if (!s->helo_seen)
		return smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	if ((r = smtp_fault(s, CMD_STARTTLS, NULL, &code)) != 0) {
		if (r != 1 || code != 220 || s->closing)
			return r;
	} else if (cfg.tls_garbage) {
		/*
		 * The injected reply in the same write as the 220, as a man
		 * in the middle would send it: the client reads both at
		 * once, so the test sees one outcome every time.
		 */
		transcript_line("S: ", "220 2.0.0 Ready to start TLS", 28);
		transcript_line("S: ", "250 injected", 12);
		if (conn_write(&s->c, "220 2.0.0 Ready to start TLS\r\n"
		    "250 injected\r\n", 44) == -1)
			return -1;
	} else if (smtp_reply(s, "220 2.0.0 Ready to start TLS") == -1)
		return -1;
	/*
	 * Anything the client pipelined after STARTTLS was sent in clear
	 * and could have been injected by an attacker: drop it (CVE-2011-
	 * 0411 class), as a correct server must.
	 */
	s->c.off = s->c.len = 0;
	if (cfg.tls_garbage && r != 0) {
		/* Inject a plaintext reply to test the client's defence. */
		transcript_line("S: ", "250 injected", 12);
		if (conn_write(&s->c, "250 injected\r\n", 14) == -1)
			return -1;
	}
	if (conn_starttls(&s->c) == -1)
		return -1;
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	smtp_reset_helo(s);
	return 0;
}

/*
 * Read one AUTH continuation line into BUF (CRLF stripped).  Returns 0,
 * or -1 if the connection failed or the line was too long (after
 * replying).
 */
static int
smtp_auth_getline(struct session *s, char *buf, size_t size)
{
	char	*p;
	size_t	 n;
	int	 eol;

	if (conn_getchunk(&s->c, SMTPD_MAXLINE + 2, &p, &n, &eol) <= 0)
		return -1;
	transcript_line("C: ", p, n);
	if (!eol) {
		/* Skip the rest of the over-long line, then refuse it. */
		do {
			if (conn_getchunk(&s->c, SMTPD_MAXLINE + 2, &p, &n,
			    &eol) <= 0)
				return -1;
		} while (!eol);
		(void)smtp_reply(s, "500 5.5.2 Error: line too long");
		return -1;
	}
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

/* Constant-time is pointless here; plain comparison of both parts. */
static int
smtp_auth_check(const char *user, size_t ulen, const char *pass,
    size_t plen)
{
	return ulen == strlen(cfg.auth_user) &&
	    memcmp(user, cfg.auth_user, ulen) == 0 &&
	    plen == strlen(cfg.auth_pass) &&
	    memcmp(pass, cfg.auth_pass, plen) == 0;
}

static int
smtpd_hmac(const unsigned char *key, size_t klen, const void *in,
    size_t inlen, unsigned char out[32])
{
	return mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
	    key, klen, in, inlen, out);
}

/* base64 of `len' bytes into a "334 " reply */
static int
smtp_challenge(struct session *s, const void *buf, size_t len)
{
	char	 out[SMTPD_MAXLINE];
	size_t	 olen;

	memcpy(out, "334 ", 4);
	if (mbedtls_base64_encode((unsigned char *)out + 4, sizeof(out) - 4,
	    &olen, buf, len) != 0)
		return -1;
	out[4 + olen] = '\0';
	return smtp_reply(s, out);
}

/* the value of "k=" in a SCRAM message, NUL-terminated into `out' */
static int
scram_attr(const char *msg, const char *k, char *out, size_t sz)
{
	const char	*p = msg;
	size_t		 n;

	for (;;) {
		if (strncmp(p, k, 2) == 0) {
			n = strcspn(p + 2, ",");
			if (n >= sz)
				return -1;
			memcpy(out, p + 2, n);
			out[n] = '\0';
			return 0;
		}
		if ((p = strchr(p, ',')) == NULL)
			return -1;
		p++;
	}
}

/*
 * SCRAM-SHA-256 server (RFC 5802, 7677) with a fixed salt: enough to
 * check the client's proof and to send a server signature, right or (with
 * --scram-bad-sig) wrong.  1: authenticated, 0: replied with a failure,
 * -1: connection gone.
 */
static int
smtp_auth_scram(struct session *s, const char *ir, unsigned char *user,
    size_t *ulen)
{
	static const unsigned char salt[] = "relayq-test-salt";
	char		 resp[SMTPD_MAXLINE + 1], cf[SMTPD_MAXLINE],
			 fin[SMTPD_MAXLINE], sf[512], amsg[4096], name[256],
			 cnonce[256], nonce[300], b64salt[64], v[128];
	unsigned char	 salted[32], ckey[32], stored[32], csig[32], skey[32],
			 ssig[32], proof[64];
	const char	*bare, *p;
	size_t		 n, plen, i;

	if (*ir == '\0') {
		if (smtp_reply(s, "334 ") == -1 ||
		    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
			return -1;
		ir = resp;
	}
	if (mbedtls_base64_decode((unsigned char *)cf, sizeof(cf) - 1, &n,
	    (const unsigned char *)ir, strlen(ir)) != 0)
		return smtp_reply(s, "501 5.5.2 Error: cannot decode response");
	cf[n] = '\0';
	if (strncmp(cf, "n,,", 3) != 0)
		return smtp_reply(s, "535 5.7.8 SCRAM: channel binding or "
		    "authzid not supported");
	bare = cf + 3;
	if (scram_attr(bare, "n=", name, sizeof(name)) == -1 ||
	    scram_attr(bare, "r=", cnonce, sizeof(cnonce)) == -1)
		return smtp_reply(s, "535 5.7.8 SCRAM: bad client-first");
	(void)snprintf(nonce, sizeof(nonce), "%sSrVn0nce", cnonce);
	(void)mbedtls_base64_encode((unsigned char *)b64salt, sizeof(b64salt),
	    &n, salt, sizeof(salt) - 1);
	b64salt[n] = '\0';
	(void)snprintf(sf, sizeof(sf), "r=%s,s=%s,i=4096", nonce, b64salt);
	if (smtp_challenge(s, sf, strlen(sf)) == -1 ||
	    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
		return -1;
	if (strcmp(resp, "*") == 0)
		return smtp_reply(s, "501 5.7.0 Authentication aborted");
	if (mbedtls_base64_decode((unsigned char *)fin, sizeof(fin) - 1, &n,
	    (const unsigned char *)resp, strlen(resp)) != 0)
		return smtp_reply(s, "501 5.5.2 Error: cannot decode response");
	fin[n] = '\0';
	if ((p = strstr(fin, ",p=")) == NULL ||
	    strncmp(fin, "c=biws,r=", 9) != 0 ||
	    (size_t)(p - fin - 9) != strlen(nonce) ||
	    strncmp(fin + 9, nonce, strlen(nonce)) != 0)
		return smtp_reply(s, "535 5.7.8 SCRAM: bad client-final");
	(void)snprintf(amsg, sizeof(amsg), "%s,%s,%.*s", bare, sf,
	    (int)(p - fin), fin);
	if (mbedtls_base64_decode(proof, sizeof(proof), &plen,
	    (const unsigned char *)p + 3, strlen(p + 3)) != 0 || plen != 32)
		return smtp_reply(s, "535 5.7.8 SCRAM: bad proof");
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
	(void)mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256,
	    (const unsigned char *)cfg.auth_pass, strlen(cfg.auth_pass), salt,
	    sizeof(salt) - 1, 4096, 32, salted);
#else
	{
		mbedtls_md_context_t	 md;

		mbedtls_md_init(&md);
		(void)mbedtls_md_setup(&md,
		    mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
		(void)mbedtls_pkcs5_pbkdf2_hmac(&md,
		    (const unsigned char *)cfg.auth_pass, strlen(cfg.auth_pass),
		    salt, sizeof(salt) - 1, 4096, 32, salted);
		mbedtls_md_free(&md);
	}
#endif
	(void)smtpd_hmac(salted, 32, "Client Key", 10, ckey);
	(void)mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), ckey,
	    32, stored);
	(void)smtpd_hmac(stored, 32, amsg, strlen(amsg), csig);
	for (i = 0; i < 32; i++)
		if ((proof[i] ^ csig[i]) != ckey[i])
			break;
	if (i < 32 || strcmp(name, cfg.auth_user) != 0)
		return smtp_reply(s,
		    "535 5.7.8 Authentication credentials invalid");
	(void)smtpd_hmac(salted, 32, "Server Key", 10, skey);
	(void)smtpd_hmac(skey, 32, amsg, strlen(amsg), ssig);
	if (cfg.scram_bad_sig)
		ssig[0] ^= 0x55;
	memcpy(v, "v=", 2);
	(void)mbedtls_base64_encode((unsigned char *)v + 2, sizeof(v) - 2, &n,
	    ssig, 32);
	v[2 + n] = '\0';
	if (smtp_challenge(s, v, strlen(v)) == -1 ||
	    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
		return -1;
	if (strcmp(resp, "*") == 0)
		return smtp_reply(s, "501 5.7.0 Authentication aborted");
	*ulen = strlen(name);
	memcpy(user, name, *ulen);
	return 1;
}

/*
 * XOAUTH2 ("user=U^Aauth=Bearer T^A^A") and OAUTHBEARER (RFC 7628,
 * "n,a=U,^A...auth=Bearer T^A^A"), checked against --token.  A wrong
 * token gets the error JSON in a 334, then 535 after the client's reply.
 */
static int
smtp_auth_oauth(struct session *s, const char *mech, const char *ir,
    unsigned char *user, size_t *ulen)
{
	char		 resp[SMTPD_MAXLINE + 1], dec[SMTPD_MAXLINE];
	const char	*u, *ue, *t, *te, *json;
	size_t		 n;
	int		 xo = strcmp(mech, "XOAUTH2") == 0;

	if (cfg.token == NULL)
		return smtp_reply(s,
		    "504 5.5.4 Unrecognized authentication type");
	if (*ir == '\0') {
		if (smtp_reply(s, "334 ") == -1 ||
		    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
			return -1;
		ir = resp;
	}
	if (mbedtls_base64_decode((unsigned char *)dec, sizeof(dec) - 1, &n,
	    (const unsigned char *)ir, strlen(ir)) != 0)
		return smtp_reply(s, "501 5.5.2 Error: cannot decode response");
	dec[n] = '\0';
	u = strstr(dec, xo ? "user=" : "n,a=");
	t = strstr(dec, "auth=Bearer ");
	if (u == NULL || t == NULL)
		return smtp_reply(s, "501 5.5.2 Error: malformed response");
	u += xo ? 5 : 4;
	ue = u + strcspn(u, xo ? "\001" : ",");
	t += 12;
	te = t + strcspn(t, "\001");
	if ((size_t)(ue - u) == strlen(cfg.auth_user) &&
	    memcmp(u, cfg.auth_user, (size_t)(ue - u)) == 0 &&
	    (size_t)(te - t) == strlen(cfg.token) &&
	    memcmp(t, cfg.token, (size_t)(te - t)) == 0) {
		*ulen = (size_t)(ue - u);
		memcpy(user, u, *ulen);
		return 1;
	}
	json = xo ? "{\"status\":\"401\",\"schemes\":\"bearer\"}" :
	    "{\"status\":\"invalid_token\"}";
	if (smtp_challenge(s, json, strlen(json)) == -1 ||
	    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
		return -1;
	return smtp_reply(s, "535 5.7.8 Username and Password not accepted");
}

static int
smtp_auth(struct session *s, const char *arg)
{
	char		 mech[32], resp[SMTPD_MAXLINE + 1];
	unsigned char	 dec[SMTPD_MAXLINE], user[SMTPD_MAXLINE];
	const unsigned char *nul1, *nul2, *authcid, *pass;
	const char	*ir;
	size_t		 i, mlen, dlen, ulen, plen, zlen;
	int		 r, code;

	if (cfg.auth_user == NULL || !s->esmtp)
		return smtp_reply(s, "502 5.5.2 Error: command not recognized");
	if (!s->c.tls)
		return smtp_reply(s, "538 5.7.11 Encryption required");
	if (s->authed)
		return smtp_reply(s, "503 5.5.1 Error: already authenticated");
	if (s->in_mail)
		return smtp_reply(s,
		    "503 5.5.1 Error: MAIL transaction in progress");

	mlen = strcspn(arg, " ");
	if (mlen == 0 || mlen >= sizeof(mech))
		return smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
	memcpy(mech, arg, mlen);
	mech[mlen] = '\0';
	for (i = 0; mech[i] != '\0'; i++)
		mech[i] = toupper((unsigned char)mech[i]);
	ir = arg + mlen;
	while (*ir == ' ')
		ir++;

	if ((r = smtp_fault(s, CMD_AUTH, NULL, &code)) != 0) {
		if (r == 1 && code / 100 == 2) {
			s->authed = 1;
			s->auth_mech = xstrdup(mech);
			s->auth_user = xstrdup("?");
		}
		return r;
	}

	if (strcmp(mech, "PLAIN") == 0) {
		if (*ir == '\0') {
			if (smtp_reply(s, "334 ") == -1 ||
			    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
				return -1;
			ir = resp;
		}
		if (strcmp(ir, "*") == 0)
			return smtp_reply(s,
			    "501 5.7.0 Authentication aborted");
		/* "=" is the RFC 4954 spelling of an empty response. */
		if (strcmp(ir, "=") == 0)
			dlen = 0;
		else if (mbedtls_base64_decode(dec, sizeof(dec), &dlen,
		    (const unsigned char *)ir, strlen(ir)) != 0)
			return smtp_reply(s,
			    "501 5.5.2 Error: cannot decode response");
		/* authzid NUL authcid NUL passwd (dec[0..dlen) written) */
		/* cppcheck-suppress legacyUninitvar */
		if ((nul1 = memchr(dec, '\0', dlen)) == NULL ||
		    (nul2 = memchr(nul1 + 1, '\0',
		    dlen - (size_t)(nul1 + 1 - dec))) == NULL)
			return smtp_reply(s,
			    "535 5.7.8 Authentication credentials invalid");
		authcid = nul1 + 1;
		ulen = (size_t)(nul2 - authcid);
		pass = nul2 + 1;
		plen = dlen - (size_t)(pass - dec);
		/* An authzid, if given, must name the same user. */
		zlen = (size_t)(nul1 - dec);
		if ((zlen != 0 && (zlen != ulen ||
		    memcmp(dec, authcid, ulen) != 0)) ||
		    !smtp_auth_check((const char *)authcid, ulen,
		    (const char *)pass, plen))
			return smtp_reply(s,
			    "535 5.7.8 Authentication credentials invalid");
		memcpy(user, authcid, ulen);
	} else if (strcmp(mech, "LOGIN") == 0) {
		/* Optional initial response carries the user name. */
		if (*ir == '\0') {
			if (smtp_reply(s, "334 VXNlcm5hbWU6") == -1 ||
			    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
				return -1;
			ir = resp;
		}
		if (strcmp(ir, "*") == 0)
			return smtp_reply(s,
			    "501 5.7.0 Authentication aborted");
		if (mbedtls_base64_decode(user, sizeof(user), &ulen,
		    (const unsigned char *)ir, strlen(ir)) != 0)
			return smtp_reply(s,
			    "501 5.5.2 Error: cannot decode response");
		if (smtp_reply(s, "334 UGFzc3dvcmQ6") == -1 ||
		    smtp_auth_getline(s, resp, sizeof(resp)) == -1)
			return -1;
		if (strcmp(resp, "*") == 0)
			return smtp_reply(s,
			    "501 5.7.0 Authentication aborted");
		if (mbedtls_base64_decode(dec, sizeof(dec), &plen,
		    (const unsigned char *)resp, strlen(resp)) != 0)
			return smtp_reply(s,
			    "501 5.5.2 Error: cannot decode response");
		if (!smtp_auth_check((char *)user, ulen, (char *)dec, plen))
			return smtp_reply(s,
			    "535 5.7.8 Authentication credentials invalid");
	} else if (strcmp(mech, "SCRAM-SHA-256") == 0) {
		if ((r = smtp_auth_scram(s, ir, user, &ulen)) != 1)
			return r;
	} else if (strcmp(mech, "XOAUTH2") == 0 ||
	    strcmp(mech, "OAUTHBEARER") == 0) {
		if ((r = smtp_auth_oauth(s, mech, ir, user, &ulen)) != 1)
			return r;
	} else
		return smtp_reply(s,
		    "504 5.5.4 Unrecognized authentication type");

	s->authed = 1;
	s->auth_mech = xstrdup(mech);
	s->auth_user = xmalloc(ulen + 1);
	memcpy(s->auth_user, user, ulen);
	s->auth_user[ulen] = '\0';
	return smtp_reply(s, "235 2.7.0 Authentication successful");
}

static int
smtp_mail(struct session *s, const char *line, const char *arg)
{
	const char	*p, *end;
	unsigned long	 size;
	int		 r, code;

	if (!s->helo_seen)
		return smtp_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	if (cfg.auth_user != NULL && !s->authed)
		return smtp_reply(s, "530 5.7.0 Authentication required");
	if (s->in_mail)
		return smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return smtp_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
	p = arg + 5;
	while (*p == ' ')
		p++;
	if (*p != '<' || (end = strchr(p, '>')) == NULL)
		return smtp_reply(s, "501 5.1.7 Bad sender address syntax");
	/* Honour SIZE= like a real server: refuse early. */
	for (p = end + 1; (p = strcasestr(p, " SIZE=")) != NULL; p++) {
		size = strtoul(p + 6, NULL, 10);
		if (size > SMTPD_ADVSIZE)
			return smtp_reply(s, "552 5.3.4 Message size exceeds "
			    "fixed limit");
	}
	if ((r = smtp_fault(s, CMD_MAIL, line, &code)) != 0) {
		/* Only a positive reply opens a transaction. */
		if (r == 1 && code / 100 == 2) {
			s->in_mail = 1;
			s->mail_line = xstrdup(line);
		}
		return r;
	}
	s->in_mail = 1;
	s->mail_line = xstrdup(line);
	return smtp_reply(s, "250 2.1.0 Ok");
}

static int
smtp_rcpt(struct session *s, const char *line, const char *arg)
{
	const char	*p;
	int		 r, code;

	if (!s->in_mail)
		return smtp_reply(s, "503 5.5.1 Error: need MAIL command");
	if (strncasecmp(arg, "TO:", 3) != 0)
		return smtp_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
	p = arg + 3;
	while (*p == ' ')
		p++;
	if (*p != '<' || p[1] == '>' || strchr(p, '>') == NULL)
		return smtp_reply(s,
		    "501 5.1.3 Bad recipient address syntax");
	if (s->nrcpt >= SMTPD_MAXRCPT)
		return smtp_reply(s, "452 4.5.3 Error: too many recipients");
	if ((r = smtp_fault(s, CMD_RCPT, line, &code)) != 0) {
		if (r != 1 || code / 100 != 2)
			return r;
	} else if (smtp_reply(s, "250 2.1.5 Ok") == -1)
		return -1;
	if ((s->nrcpt & (s->nrcpt - 1)) == 0) {
		char	**n;

		n = realloc(s->rcpts, (s->nrcpt ? s->nrcpt * 2 : 1) *
		    sizeof(*n));
		if (n == NULL) {
			log_err("out of memory");
			_exit(1);
		}
		s->rcpts = n;
	}
	s->rcpts[s->nrcpt++] = xstrdup(line);
	return 0;
}

/* Set up storage for the message body about to be received. */
static void
smtp_data_begin(struct session *s)
{
	static unsigned long	 tmpseq;
	char			 path[PATH_MAX];
	int			 fd;

	s->msgsize = 0;
	s->data_err = 0;
	if (cfg.sink || cfg.maildir == NULL)
		return;
	/* Dot-prefixed so globs for *.msg / *.env never match it. */
	snprintf(path, sizeof(path), "%s/.tmp-%ld-%lu", cfg.maildir,
	    (long)getpid(), ++tmpseq);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644)) == -1 ||
	    (s->tmpf = fdopen(fd, "w")) == NULL) {
		log_err("%s: %s", path, strerror(errno));
		if (fd != -1) {
			(void)close(fd);
			(void)unlink(path);
		}
		s->data_err = 1;
		return;
	}
	s->tmppath = xstrdup(path);
}

static int
smtp_data(struct session *s, const char *arg)
{
	int	 r, code;

	if (*arg != '\0')
		return smtp_reply(s, "501 5.5.4 Syntax: DATA");
	if ((r = smtp_fault(s, CMD_DATA, NULL, &code)) != 0) {
		if (r != 1 || code != 354 || s->closing)
			return r;
	} else {
		if (!s->in_mail)
			return smtp_reply(s,
			    "503 5.5.1 Error: need MAIL command");
		if (s->nrcpt == 0)
			return smtp_reply(s,
			    "503 5.5.1 Error: need RCPT command");
		if (smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>") == -1)
			return -1;
	}
	smtp_data_begin(s);
	return smtp_data_body(s);
}

/*
 * Receive the message body.  Only a line that is exactly ".\r\n" ends
 * it: a server that also accepted ".\n" or "\n.\r\n" would hide SMTP
 * smuggling bugs in the client instead of showing them in N.msg.  A
 * leading dot on any other line is removed (RFC 5321 4.5.2); every other
 * byte, bare CR and bare LF included, is stored as received.
 */
static int
smtp_data_body(struct session *s)
{
	char		 buf[64];
	const char	*ov;
	char		*p;
	size_t		 n;
	unsigned long	 id;
	int		 eol, bol = 1, code;

	for (;;) {
		if (conn_getchunk(&s->c, sizeof(s->c.buf), &p, &n, &eol) <= 0)
			return -1;
		transcript_line("C: ", p, n);
		/* every message's data, unstuffed by nobody, appended */
		if (wire_fd != -1 && write(wire_fd, p, n) != (ssize_t)n)
			log_err("%s: %s", cfg.wire, strerror(errno));
		if (cfg.tls_alert_data && s->c.tls) {
			/* a fatal alert in the middle of the message data */
			transcript_line("-- ", "tls alert sent", 14);
			(void)mbedtls_ssl_send_alert_message(&s->c.ssl,
			    MBEDTLS_SSL_ALERT_LEVEL_FATAL,
			    MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR);
			return -1;
		}
		if (bol && eol && n == 3 && memcmp(p, ".\r\n", 3) == 0)
			break;
		if (bol && p[0] == '.') {
			p++;
			n--;
		}
		bol = eol;
		if (s->msgsize + n > SMTPD_MAXMSG) {
			/* Keep reading to stay in sync; refuse at the end. */
			s->msgsize = SMTPD_MAXMSG + 1;
			continue;
		}
		s->msgsize += n;
		if (s->tmpf != NULL && !s->data_err &&
		    fwrite(p, 1, n, s->tmpf) != n) {
			log_err("%s: %s", s->tmppath, strerror(errno));
			s->data_err = 1;
		}
	}

	if ((cfg.drop_after | cfg.hang_after) & (1U << CMD_DOT)) {
		/* Dropped or hung before the reply: the message is lost. */
		smtp_reset(s);
		(void)smtp_fault(s, CMD_DOT, NULL, &code);
		return 0;
	}
	if ((ov = smtp_override(CMD_DOT, NULL)) != NULL) {
		/* Store first, so the files exist once the client sees 2xx. */
		if (ov[0] == '2' && s->msgsize <= SMTPD_MAXMSG)
			(void)smtp_store(s, &id);
		smtp_reset(s);
		return smtp_reply(s, ov);
	}
	if (s->msgsize > SMTPD_MAXMSG) {
		smtp_reset(s);
		return smtp_reply(s,
		    "552 5.3.4 Message size exceeds fixed limit");
	}
	if (smtp_store(s, &id) == -1) {
		smtp_reset(s);
		return smtp_reply(s,
		    "451 4.3.0 Error: queue file write error");
	}
	smtp_reset(s);
	snprintf(buf, sizeof(buf), "250 2.0.0 Ok: queued as %lu", id);
	return smtp_reply(s, buf);
}

/*
 * Store the received message as N.msg then N.env.  N is claimed with
 * link(2), which fails if N.msg exists, so concurrent children and
 * earlier runs over the same directory never collide; the shared
 * counter only makes the search start in the right place.  The .env is
 * renamed into place last so that its existence means both are done.
 * It holds the envelope (mail=, rcpt=), tls=, auth=, helo= and time=,
 * the wall-clock time (seconds.microseconds) the final dot was taken,
 * before the 250 is sent: what a provider's rate limit counts.
 */
static int
smtp_store(struct session *s, unsigned long *id)
{
	char		 msg[PATH_MAX], envp[PATH_MAX], cnt[32];
	char		*env, *e;
	size_t		 i, envlen;
	int		 lockfd, rv;
	struct timespec	 ts;

	if (cfg.sink) {
		if (cfg.maildir == NULL) {
			*id = __atomic_add_fetch(&shm->accepted, 1,
			    __ATOMIC_SEQ_CST);
			return 0;
		}
		/*
		 * DIR/count must only ever grow, so increment and publish
		 * under a lock; otherwise a slower child could rename an
		 * older count over a newer one.
		 */
		snprintf(msg, sizeof(msg), "%s/.count.lock", cfg.maildir);
		if ((lockfd = open(msg, O_RDWR | O_CREAT, 0644)) == -1 ||
		    flock(lockfd, LOCK_EX) == -1) {
			log_err("%s: %s", msg, strerror(errno));
			if (lockfd != -1)
				(void)close(lockfd);
			return -1;
		}
		*id = __atomic_add_fetch(&shm->accepted, 1, __ATOMIC_SEQ_CST);
		snprintf(msg, sizeof(msg), "%s/count", cfg.maildir);
		snprintf(cnt, sizeof(cnt), "%lu\n", *id);
		rv = file_write_atomic(msg, cnt, strlen(cnt));
		(void)close(lockfd);
		return rv;
	}
	if (cfg.maildir == NULL) {
		*id = __atomic_add_fetch(&shm->accepted, 1, __ATOMIC_SEQ_CST);
		return 0;
	}
	if (s->data_err || s->tmpf == NULL)
		return -1;
	if (fflush(s->tmpf) == EOF || fclose(s->tmpf) == EOF) {
		s->tmpf = NULL;
		log_err("%s: %s", s->tmppath, strerror(errno));
		return -1;
	}
	s->tmpf = NULL;
	for (;;) {
		*id = __atomic_add_fetch(&shm->seq, 1, __ATOMIC_SEQ_CST);
		snprintf(msg, sizeof(msg), "%s/%lu.msg", cfg.maildir, *id);
		if (link(s->tmppath, msg) == 0)
			break;
		if (errno != EEXIST) {
			log_err("link %s: %s", msg, strerror(errno));
			return -1;
		}
	}
	(void)__atomic_add_fetch(&shm->accepted, 1, __ATOMIC_SEQ_CST);
	(void)unlink(s->tmppath);
	free(s->tmppath);
	s->tmppath = NULL;

	envlen = strlen(s->mail_line ? s->mail_line : "") + 320 +
	    (s->helo ? strlen(s->helo) : 0) +
	    (s->auth_mech ? strlen(s->auth_mech) : 0) +
	    (s->auth_user ? strlen(s->auth_user) : 0);
	for (i = 0; i < s->nrcpt; i++)
		envlen += strlen(s->rcpts[i]) + 8;
	e = env = xmalloc(envlen);
	e += sprintf(e, "mail=%s\n", s->mail_line ? s->mail_line : "");
	for (i = 0; i < s->nrcpt; i++)
		e += sprintf(e, "rcpt=%s\n", s->rcpts[i]);
	e += sprintf(e, "tls=%d\n", s->c.tls);
	if (s->authed)
		e += sprintf(e, "auth=%s:%s\n", s->auth_mech, s->auth_user);
	else
		e += sprintf(e, "auth=none\n");
	e += sprintf(e, "helo=%s\n", s->helo ? s->helo : "");
	/* when the final dot was accepted, for tests of rate_limit */
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	e += sprintf(e, "time=%lld.%06ld\n", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000);
	snprintf(envp, sizeof(envp), "%s/%lu.env", cfg.maildir, *id);
	rv = file_write_atomic(envp, env, e - env);
	free(env);
	return rv;
}

/*
 * Handle one command line (CRLF already stripped, NUL-terminated).
 * Returns -1 when the session must end.
 */
static int
smtp_command(struct session *s, char *line)
{
	char		*arg;
	size_t		 vlen;
	int		 r, code;

	vlen = strcspn(line, " ");
	arg = line + vlen;
	while (*arg == ' ')
		arg++;

#define VERB(v)	(vlen == sizeof(v) - 1 && strncasecmp(line, v, vlen) == 0)
	if (VERB("EHLO"))
		r = smtp_ehlo(s, arg, 1);
	else if (VERB("HELO"))
		r = smtp_ehlo(s, arg, 0);
	else if (VERB("STARTTLS"))
		r = smtp_starttls(s, arg);
	else if (VERB("AUTH"))
		r = smtp_auth(s, arg);
	else if (VERB("MAIL"))
		r = smtp_mail(s, line, arg);
	else if (VERB("RCPT"))
		r = smtp_rcpt(s, line, arg);
	else if (VERB("DATA"))
		r = smtp_data(s, arg);
	else if (VERB("RSET")) {
		smtp_reset(s);
		r = smtp_reply(s, "250 2.0.0 Ok");
	} else if (VERB("NOOP"))
		r = smtp_reply(s, "250 2.0.0 Ok");
	else if (VERB("QUIT")) {
		if ((r = smtp_fault(s, CMD_QUIT, NULL, &code)) == 0)
			r = smtp_reply(s, "221 2.0.0 Bye");
		s->closing = 1;
	} else
		r = smtp_reply(s, "502 5.5.2 Error: command not recognized");
#undef VERB
	return r == -1 || s->closing ? -1 : 0;
}

static void
smtp_session(int fd)
{
	/* Static: one session per process, zeroed, 64 KiB off the stack. */
	static struct session	 s;
	char			 line[SMTPD_MAXLINE + 3];
	char			*p;
	size_t			 n;
	int			 eol, toolong = 0;

	s.c.fd = fd;
	/* how many at once: tests of parallel sessions (max_sessions) */
	n = snprintf(line, sizeof(line), "connection opened, %lu active",
	    __atomic_add_fetch(&shm->active, 1, __ATOMIC_SEQ_CST));
	transcript_line("-- ", line, n);
	if (cfg.implicit && conn_starttls(&s.c) == -1)
		goto done;
	if (smtp_greeting(&s) != 0 || s.closing)
		goto done;

	for (;;) {
		if (conn_getchunk(&s.c, SMTPD_MAXLINE + 2, &p, &n, &eol) <= 0)
			break;
		if (toolong || !eol) {
			/* Discard an over-long line, then refuse it once. */
			transcript_line("C: ", p, n);
			toolong = !eol;
			if (eol && smtp_reply(&s,
			    "500 5.5.2 Error: line too long") == -1)
				break;
			continue;
		}
		transcript_line("C: ", p, n);
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		memcpy(line, p, n);
		line[n] = '\0';
		if (smtp_command(&s, line) == -1)
			break;
	}
done:
	/* Like real servers, say why an idle client is being dropped. */
	if (s.c.timedout)
		(void)smtp_reply(&s, "421 4.4.2 localhost Error: timeout "
		    "exceeded");
	smtp_reset_helo(&s);
	free(s.auth_mech);
	free(s.auth_user);
	conn_close(&s.c);
	(void)__atomic_sub_fetch(&shm->active, 1, __ATOMIC_SEQ_CST);
}

static void
sig_handler(int sig)
{
	int	 save = errno;
	char	 c = (char)sig;

	if (sig == SIGTERM || sig == SIGINT)
		got_term = 1;
	/*
	 * Self-pipe: wakes the poll() in srv_loop without races.  A full
	 * pipe already guarantees a wake-up, so a failed write is harmless.
	 */
	if (write(sig_pipe[1], &c, 1) == -1)
		c = 0;
	errno = save;
}

static void
srv_reap(void)
{
	pid_t	 pid;
	size_t	 i;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (i = 0; i < nchildren; i++)
			if (children[i] == pid) {
				children[i] = children[--nchildren];
				break;
			}
	}
}

static void
srv_shutdown(void)
{
	size_t	 i;

	/* Children may be hung on purpose; they must not outlive us. */
	for (i = 0; i < nchildren; i++)
		(void)kill(children[i], SIGTERM);
	if (cfg.portfile != NULL)
		(void)unlink(cfg.portfile);
	if (cfg.pidfile != NULL)
		(void)unlink(cfg.pidfile);
	if (cfg.sink)
		log_err("%lu messages accepted", shm->accepted);
	exit(0);
}

static int
srv_listen(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen;
	char			 buf[32];
	int			 fd, on = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1) {
		log_err("socket: %s", strerror(errno));
		exit(1);
	}
	/* Tests restart the server on the same port. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)cfg.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		log_err("bind 127.0.0.1:%d: %s", cfg.port, strerror(errno));
		exit(1);
	}
	if (listen(fd, 128) == -1) {
		log_err("listen: %s", strerror(errno));
		exit(1);
	}
	slen = sizeof(sin);
	if (getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		log_err("getsockname: %s", strerror(errno));
		exit(1);
	}
	cfg.port = ntohs(sin.sin_port);
	/* pidfile first: a test that sees the portfile may read it. */
	if (cfg.pidfile != NULL) {
		snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
		if (file_write_atomic(cfg.pidfile, buf, strlen(buf)) == -1)
			exit(1);
	}
	if (cfg.portfile != NULL) {
		snprintf(buf, sizeof(buf), "%d\n", cfg.port);
		if (file_write_atomic(cfg.portfile, buf, strlen(buf)) == -1) {
			if (cfg.pidfile != NULL)
				(void)unlink(cfg.pidfile);
			exit(1);
		}
	}
	return fd;
}

static void
srv_loop(int lfd)
{
	struct pollfd		 pfd[2];
	struct timeval		 tv;
	char			 junk[64];
	pid_t			 pid;
	int			 fd, on = 1;

	pfd[0].fd = lfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = sig_pipe[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (got_term)
			srv_shutdown();
		if (poll(pfd, 2, -1) == -1) {
			if (errno != EINTR) {
				log_err("poll: %s", strerror(errno));
				sleep(1);
			}
			continue;
		}
		if (pfd[1].revents & POLLIN) {
			while (read(sig_pipe[0], junk, sizeof(junk)) > 0)
				;
			srv_reap();
			continue;
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED)
				log_err("accept: %s", strerror(errno));
			continue;
		}
		switch ((pid = fork())) {
		case -1:
			log_err("fork: %s", strerror(errno));
			(void)close(fd);
			break;
		case 0:
			(void)close(lfd);
			(void)close(sig_pipe[0]);
			(void)close(sig_pipe[1]);
			(void)signal(SIGTERM, SIG_DFL);
			(void)signal(SIGINT, SIG_DFL);
			(void)signal(SIGCHLD, SIG_DFL);
			/*
			 * Forked children start from the same DRBG state; mix
			 * in fresh entropy so their TLS randoms differ.
			 */
			pid = getpid();
			(void)mbedtls_ctr_drbg_reseed(&tls_drbg,
			    (const unsigned char *)&pid, sizeof(pid));
			/* Writes must not block forever either. */
			tv.tv_sec = cfg.timeout;
			tv.tv_usec = 0;
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
			    sizeof(tv));
			/*
			 * Replies go out one write each; without NODELAY,
			 * Nagle plus the client's delayed ACK stalls every
			 * pipelined batch by ~40 ms.
			 */
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
			smtp_session(fd);
			_exit(0);
		default:
			(void)close(fd);
			if (nchildren < SMTPD_MAXCHILD)
				children[nchildren++] = pid;
			break;
		}
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "port",	required_argument,	NULL, 'p' },
		{ "portfile",	required_argument,	NULL, 'P' },
		{ "pidfile",	required_argument,	NULL, 'i' },
		{ "cert",	required_argument,	NULL, 'c' },
		{ "key",	required_argument,	NULL, 'k' },
		{ "implicit",	no_argument,		NULL, 'I' },
		{ "no-starttls", no_argument,		NULL, 'N' },
		{ "auth",	required_argument,	NULL, 'a' },
		{ "maildir",	required_argument,	NULL, 'm' },
		{ "transcript",	required_argument,	NULL, 't' },
		{ "sink",	no_argument,		NULL, 's' },
		{ "timeout",	required_argument,	NULL, 'T' },
		{ "reply",	required_argument,	NULL, 'r' },
		{ "drop-after",	required_argument,	NULL, 'd' },
		{ "hang-after",	required_argument,	NULL, 'h' },
		{ "tls-garbage", no_argument,		NULL, 'g' },
		{ "tls11",	no_argument,		NULL, 'V' },
		{ "auth-mechs",	required_argument,	NULL, 'M' },
		{ "token",	required_argument,	NULL, 'O' },
		{ "scram-bad-sig", no_argument,		NULL, 'B' },
		{ "client-ca",	required_argument,	NULL, 'C' },
		{ "raw",	required_argument,	NULL, 'R' },
		{ "endless",	required_argument,	NULL, 'E' },
		{ "bytewise",	no_argument,		NULL, 'Y' },
		{ "tls-alert-in-data", no_argument,	NULL, 'A' },
		{ "wire",	required_argument,	NULL, 'W' },
		{ "help",	no_argument,		NULL, '?' },
		{ NULL,		0,			NULL, 0 }
	};
	struct sigaction	 sa;
	char			*colon, *end, *user;
	long			 l;
	int			 ch, lfd;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			l = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || l < 0 ||
			    l > 65535)
				usage();
			cfg.port = (int)l;
			break;
		case 'P':
			cfg.portfile = optarg;
			break;
		case 'i':
			cfg.pidfile = optarg;
			break;
		case 'c':
			cfg.cert = optarg;
			break;
		case 'k':
			cfg.key = optarg;
			break;
		case 'I':
			cfg.implicit = 1;
			break;
		case 'N':
			cfg.no_starttls = 1;
			break;
		case 'a':
			/* Copy, not split in place, so ps(1) shows argv. */
			if ((colon = strchr(optarg, ':')) == NULL)
				usage();
			user = xmalloc(colon - optarg + 1);
			memcpy(user, optarg, colon - optarg);
			user[colon - optarg] = '\0';
			cfg.auth_user = user;
			cfg.auth_pass = colon + 1;
			break;
		case 'm':
			cfg.maildir = optarg;
			break;
		case 't':
			cfg.transcript = optarg;
			break;
		case 's':
			cfg.sink = 1;
			break;
		case 'T':
			l = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || l < 1 ||
			    l > 86400)
				usage();
			cfg.timeout = (int)l;
			break;
		case 'r':
			opt_reply(optarg);
			break;
		case 'd':
			opt_cmdbit(&cfg.drop_after, "--drop-after", optarg);
			break;
		case 'h':
			opt_cmdbit(&cfg.hang_after, "--hang-after", optarg);
			break;
		case 'g':
			cfg.tls_garbage = 1;
			break;
		case 'V':
			cfg.tls11 = 1;
			break;
		case 'M':
			cfg.auth_mechs = optarg;
			break;
		case 'O':
			cfg.token = optarg;
			break;
		case 'B':
			cfg.scram_bad_sig = 1;
			break;
		case 'C':
			cfg.client_ca = optarg;
			break;
		case 'R':
			opt_raw(optarg);
			break;
		case 'E':
			opt_cmdbit(&cfg.endless, "--endless", optarg);
			break;
		case 'Y':
			cfg.bytewise = 1;
			break;
		case 'A':
			cfg.tls_alert_data = 1;
			break;
		case 'W':
			cfg.wire = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if ((cfg.cert == NULL) != (cfg.key == NULL)) {
		log_err("--cert and --key go together");
		exit(2);
	}
	if (cfg.implicit && cfg.cert == NULL) {
		log_err("--implicit needs --cert and --key");
		exit(2);
	}

	tls_init();

	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		log_err("mmap: %s", strerror(errno));
		exit(1);
	}
	memset(shm, 0, sizeof(*shm));

	if (cfg.transcript != NULL && (transcript_fd = open(cfg.transcript,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		log_err("%s: %s", cfg.transcript, strerror(errno));
		exit(1);
	}
	if (cfg.wire != NULL && (wire_fd = open(cfg.wire,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		log_err("%s: %s", cfg.wire, strerror(errno));
		exit(1);
	}

	if (pipe(sig_pipe) == -1) {
		log_err("pipe: %s", strerror(errno));
		exit(1);
	}
	(void)fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(sig_pipe[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(sig_pipe[1], F_SETFD, FD_CLOEXEC);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGCHLD, &sa, NULL);
	(void)signal(SIGPIPE, SIG_IGN);

	lfd = srv_listen();
	(void)fcntl(lfd, F_SETFD, FD_CLOEXEC);
	srv_loop(lfd);
	return 0;
}
