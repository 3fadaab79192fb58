/*
 * Connections to the smarthost: TCP with timeouts, and TLS with mbedTLS,
 * always verified: chain to the system bundle or tls_ca_file, the name
 * checked against the configured smarthost, SNI sent, TLS 1.2 at least.
 * There is no switch that turns verification off.
 *
 * mbedTLS checks the chain and the dates.  The name is checked by us, in
 * tls_verify_cb on the leaf, because mbedTLS 2.28 compares the name as
 * text with every subjectAltName whatever its type (a dNSName
 * "127.0.0.1" would pass for an address, so would a URI): a host name
 * matches a dNSName only (the CN only when there is no SAN at all, "*"
 * only as the whole left-most label), an address literal an iPAddress
 * only.  tls_fingerprint pins replace the CA chain with the admin's word.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "relayq.h"
#include "client.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#define TLS_SHA256(in, len, out) mbedtls_sha256((in), (len), (out), 0)
#define TLS_ERR_VERSION		MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION
#else
#define TLS_SHA256(in, len, out) mbedtls_sha256_ret((in), (len), (out), 0)
#define TLS_ERR_VERSION		MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
#endif

/* any subjectAltName at all (ext_types is private in mbedTLS 3) */
#define TLS_HAS_SAN(crt)	((crt)->subject_alt_names.buf.p != NULL)
#define TLS_SAN_DNS	(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)
#define TLS_SAN_IP	(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)

/* What the verify callback learnt about the leaf, for the verdict. */
struct tls_verify {
	const struct route	*route;
	const struct conn	*conn;
	const char		*name;		/* reference identity */
	unsigned char		 ip[16];	/* when `name' is a literal */
	size_t			 iplen;
	int			 pin_ok;
	int			 leaf_seen;	/* a certificate was checked:
						   a full handshake */
	char			 pin[8 + 64];	/* "sha256:HEX" of the leaf */
	char			 names[256];	/* the leaf's SANs, or its CN */
	int			 chain_seen;	/* a certificate above the leaf */
	char			 issuer[200];	/* the leaf's, when it is alone
						   and not self-issued */
};

/*
 * One TLS connection.  What its handshake showed, for the messages:
 * the last alert the server sent (mbedTLS reports only "a fatal alert",
 * tls_debug picks out which), and whether the first bytes that came
 * back were an SMTP reply instead of a TLS record.
 */
struct tls_conn {
	mbedtls_ssl_context	 ssl;
	struct tls_verify	 v;
	int			 alert;		/* -1: none received */
	int			 nread;		/* bytes read so far */
	int			 smtp_text;	/* they began "220 " etc. */
	int			 resumed;	/* session resumption */
	int			 cert_asked;	/* a CertificateRequest came */
};

static mbedtls_entropy_context	 tls_entropy;
static mbedtls_ctr_drbg_context	 tls_drbg;
static int			 tls_ready;

/*
 * Each route's trust anchors, client certificate and configuration, by
 * its index (struct route idx): nothing of one route's TLS serves
 * another's connections.
 */
struct tls_route {
	mbedtls_x509_crt	 ca;
	mbedtls_ssl_config	 cfg;
	mbedtls_x509_crt	 own_cert;
	mbedtls_pk_context	 own_key;
	int			 ready;
};
static struct tls_route		 tls_rt[CONF_MAXROUTES];

/* Where distributions keep the CA bundle: Debian, Alpine, RHEL. */
static const char *const tls_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/ssl/cert.pem",
	"/etc/pki/tls/certs/ca-bundle.crt",
	NULL
};

static void
tls_strerror(int rc, char *buf, size_t sz)
{
	mbedtls_strerror(rc, buf, sz);
}

/* The TLS alert descriptions (RFC 8446 6, RFC 5246 7.2), by number. */
static const char *
tls_alert_name(int a)
{
	switch (a) {
	case 0:		return "close_notify";
	case 10:	return "unexpected_message";
	case 20:	return "bad_record_mac";
	case 22:	return "record_overflow";
	case 40:	return "handshake_failure";
	case 42:	return "bad_certificate";
	case 43:	return "unsupported_certificate";
	case 44:	return "certificate_revoked";
	case 45:	return "certificate_expired";
	case 46:	return "certificate_unknown";
	case 47:	return "illegal_parameter";
	case 48:	return "unknown_ca";
	case 49:	return "access_denied";
	case 50:	return "decode_error";
	case 51:	return "decrypt_error";
	case 70:	return "protocol_version";
	case 71:	return "insufficient_security";
	case 80:	return "internal_error";
	case 86:	return "inappropriate_fallback";
	case 90:	return "user_canceled";
	case 109:	return "missing_extension";
	case 110:	return "unsupported_extension";
	case 112:	return "unrecognized_name";
	case 116:	return "certificate_required";
	case 120:	return "no_application_protocol";
	default:	return "unknown alert";
	}
}

#if defined(MBEDTLS_DEBUG_C)
/*
 * mbedTLS's debug output, level 3, read for two lines only (2.28 and 3.x
 * word them alike): the alert the peer sent, "got an alert message,
 * type: [LEVEL:DESCRIPTION]", and "got a certificate request".  No
 * public call gives either, and under TLS 1.3 both are encrypted, so the
 * bytes on the wire cannot tell.  (mbedTLS 2.28 as a server closes
 * without an alert when it wants a client certificate.)  `arg' is the
 * connection being handshaken or read (set before each, one at a time).
 */
#define TLS_ALERT_LINE	"got an alert message, type: ["

static void
tls_debug(void *arg, int level, const char *file, int line, const char *str)
{
	struct tls_conn	*t = arg;
	const char	*p;
	unsigned int	 lvl, desc;

	(void)level;
	(void)file;
	(void)line;
	if (t == NULL)
		return;
	if (strstr(str, "got a certificate request") != NULL)
		t->cert_asked = 1;
	if ((p = strstr(str, TLS_ALERT_LINE)) == NULL)
		return;
	if (sscanf(p + sizeof(TLS_ALERT_LINE) - 1, "%u:%u]", &lvl,
	    &desc) == 2 && desc < 256 &&
	    (lvl == 2 || t->alert == -1))
		t->alert = (int)desc;
}
#endif

/*
 * A certificate and its key, from `cert' and `key' (PEM or DER), for
 * the keys PREFIX_cert and PREFIX_key named in the messages: the client
 * certificate here, the listener's (listen_tls.c).  A key that group or
 * others may read is refused: whoever can copy it can pose as us.  The
 * key must be the certificate's.  0, or -1 with why in err.
 */
int
tls_load_pair(const char *prefix, const char *cert, const char *key,
    struct mbedtls_x509_crt *crt, struct mbedtls_pk_context *pk,
    struct mbedtls_ctr_drbg_context *drbg, char *err, size_t errsz)
{
	struct stat	 st;
	char		 msg[128];
	int		 rc, fd;

	if ((fd = open(key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		(void)snprintf(err, errsz, "%s_key %s: %s", prefix, key,
		    strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	(void)close(fd);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		(void)snprintf(err, errsz, "%s_key %s is readable by others or "
		    "not a regular file: refusing it (chmod 600 %s)", prefix,
		    key, key);
		return -1;
	}
	if ((rc = mbedtls_x509_crt_parse_file(crt, cert)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "%s_cert %s: %s", prefix, cert,
		    rc < 0 ? msg : "unparsable certificate");
		return -1;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	rc = mbedtls_pk_parse_keyfile(pk, key, NULL, mbedtls_ctr_drbg_random,
	    drbg);
	if (rc == 0)
		rc = mbedtls_pk_check_pair(&crt->pk, pk,
		    mbedtls_ctr_drbg_random, drbg);
#else
	(void)drbg;
	rc = mbedtls_pk_parse_keyfile(pk, key, NULL);
	if (rc == 0)
		rc = mbedtls_pk_check_pair(&crt->pk, pk);
#endif
	if (rc != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "%s_key %s: %s (is it the key of "
		    "%s?)", prefix, key, msg, cert);
		return -1;
	}
	return 0;
}

/* The client certificate, for relays that want one (tls_client_cert,
 * tls_client_key). */
static int
tls_client_cert(const struct route *conf, struct tls_route *tr, char *err,
    size_t errsz)
{
	char		 msg[128];
	int		 rc;

	if (conf->tls_client_cert == NULL && conf->tls_client_key == NULL)
		return 0;
	if (conf->tls_client_cert == NULL || conf->tls_client_key == NULL) {
		(void)snprintf(err, errsz, "tls_client_cert and tls_client_key "
		    "go together");
		return -1;
	}
	mbedtls_x509_crt_init(&tr->own_cert);
	mbedtls_pk_init(&tr->own_key);
	if (tls_load_pair("tls_client", conf->tls_client_cert,
	    conf->tls_client_key, &tr->own_cert, &tr->own_key, &tls_drbg, err,
	    errsz) == -1)
		return -1;
	if ((rc = mbedtls_ssl_conf_own_cert(&tr->cfg, &tr->own_cert,
	    &tr->own_key)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "tls_client_cert: %s", msg);
		return -1;
	}
	return 0;
}

/* tls_min_version against what this mbedTLS has (relayq check too) */
int
tls_check_version(const struct route *conf, char *err, size_t errsz)
{
#if !defined(MBEDTLS_SSL_PROTO_TLS1_3)
	if (conf->tls_min_version == 3) {
		(void)snprintf(err, errsz, "tls_min_version 1.3: this mbedTLS "
		    "(%s) has no TLS 1.3 (use 1.2, or build relayq with "
		    "mbedTLS 3.6 as Debian 13 has it)", MBEDTLS_VERSION_STRING);
		return -1;
	}
#else
	(void)conf;
	(void)err;
	(void)errsz;
#endif
	return 0;
}

/*
 * One route's trust anchors and client config (`tr').
 * mbedtls_x509_crt_parse_file returns the number of certificates it
 * could NOT parse (2.28); what counts is that at least one was loaded.
 */
static int
tls_init_route(const struct route *conf, struct tls_route *tr, char *err,
    size_t errsz)
{
	const char *const	*p;
	const char		*file = conf->tls_ca_file;
	char			 msg[128];
	int			 rc;

	mbedtls_x509_crt_init(&tr->ca);
	mbedtls_ssl_config_init(&tr->cfg);
	if (file == NULL)
		for (p = tls_bundles; *p != NULL && file == NULL; p++)
			if (access(*p, R_OK) == 0)
				file = *p;
	if (file == NULL) {
		(void)snprintf(err, errsz, "no CA bundle found (install "
		    "ca-certificates, or set tls_ca_file)");
		return -1;
	}
	rc = mbedtls_x509_crt_parse_file(&tr->ca, file);
	if (rc < 0 || tr->ca.version == 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "CA file %s: %s", file,
		    rc < 0 ? msg : "no usable certificate");
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(&tr->cfg, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "TLS configuration: %s", msg);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&tr->cfg, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&tr->cfg, &tr->ca, NULL);
	mbedtls_ssl_conf_rng(&tr->cfg, mbedtls_ctr_drbg_random, &tls_drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(&tr->cfg, conf->tls_min_version == 3 ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
#else
	if (tls_check_version(conf, err, errsz) == -1)
		return -1;
	mbedtls_ssl_conf_min_version(&tr->cfg, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS) && \
    MBEDTLS_VERSION_NUMBER >= 0x03060100
	/* TLS 1.3 tickets come after the handshake; without this 3.6.1+
	   drops them and no session could be resumed (tls_read keeps them) */
	mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(&tr->cfg,
	    MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
#if defined(MBEDTLS_DEBUG_C)
	mbedtls_debug_set_threshold(3);
	mbedtls_ssl_conf_dbg(&tr->cfg, tls_debug, NULL);
#endif
	if (tls_client_cert(conf, tr, err, errsz) == -1)
		return -1;
	tr->ready = 1;
	return 0;
}

/*
 * Once per daemon: random generator, then the TLS of every route that
 * uses it (`tls off', a trusted LAN relay without AUTH, needs no trust
 * anchors).  An error names the route unless it is the default one.
 */
int
tls_init(const struct conf *conf, char *err, size_t errsz)
{
	const struct route	*r;
	char			 msg[512];
	size_t			 i;
	int			 rc;

	if (tls_ready)
		return 0;
	mbedtls_entropy_init(&tls_entropy);
	mbedtls_ctr_drbg_init(&tls_drbg);
	if ((rc = mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func,
	    &tls_entropy, (const unsigned char *)"relayq", 6)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "TLS random generator: %s", msg);
		return -1;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	/* TLS 1.3 in mbedTLS 3.x does its key exchange and record
	   protection through PSA: initialised before any handshake */
	if (psa_crypto_init() != PSA_SUCCESS) {
		(void)snprintf(err, errsz, "TLS: psa_crypto_init failed");
		return -1;
	}
#endif
	tls_ready = 1;
	for (i = 0; i < conf->nroute; i++) {
		r = &conf->route[i];
		if ((r->tls_set && r->tls == TLS_OFF) || tls_rt[i].ready)
			continue;
		if (tls_init_route(r, &tls_rt[i], msg, sizeof(msg)) == -1) {
			(void)snprintf(err, errsz, "%s%s%s%s", i == 0 ? "" :
			    "route ", i == 0 ? "" : r->name, i == 0 ? "" : ": ",
			    msg);
			return -1;
		}
	}
	return 0;
}

/*
 * In a forked delivery worker (drain_work.c): the generator state was
 * copied from the parent, so without fresh entropy every worker would
 * draw the same randoms as its siblings (TLS client randoms, key shares).
 */
void
tls_reseed(void)
{
	pid_t	 pid = getpid();

	if (tls_ready && mbedtls_ctr_drbg_reseed(&tls_drbg,
	    (const unsigned char *)&pid, sizeof(pid)) != 0)
		_exit(1);	/* no worker rather than a predictable one */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	/* PSA has a generator of its own (TLS 1.3 key shares): made anew
	   from fresh entropy.  It holds no key of ours: the client key is
	   an mbedtls_pk_context, not a PSA key. */
	if (tls_ready) {
		mbedtls_psa_crypto_free();
		if (psa_crypto_init() != PSA_SUCCESS)
			_exit(1);
	}
#endif
}

/* Wait until `fd' is ready for `events' or the timeout passes. */
static int
tls_wait(int fd, short events, time_t timeout)
{
	struct pollfd	 pfd;
	int		 n;

	pfd.fd = fd;
	pfd.events = events;
	do
		n = poll(&pfd, 1, timeout > 0 ? (int)(timeout * 1000) : -1);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	return n > 0 ? 0 : -1;
}

static ssize_t
tls_plain_read(struct conn *c, void *buf, size_t len)
{
	ssize_t	 n;

	if (tls_wait(c->fd, POLLIN, c->timeout) == -1)
		return -1;
	do
		n = read(c->fd, buf, len);
	while (n == -1 && errno == EINTR);
	return n;
}

static ssize_t
tls_plain_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t	 n;

	if (tls_wait(c->fd, POLLOUT, c->timeout) == -1)
		return -1;
	/* MSG_NOSIGNAL: a server that aborts (one that wants a client
	   certificate resets the handshake) is an error, not SIGPIPE */
	do
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == ENOTSOCK)
		n = write(c->fd, buf, len);	/* a test's pipe */
	return n;
}

/* mbedTLS I/O callbacks over the non-blocking socket, with our timeout */
static int
tls_bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t	 n = tls_plain_write(ctx, buf, len);

	return n >= 0 ? (int)n : MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
tls_bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct conn	*c = ctx;
	struct tls_conn	*t = c->tls;
	ssize_t		 n = tls_plain_read(c, buf, len);

	/* "220 " or "220-" where a TLS record should start: an SMTP server
	   that does not speak TLS first (a STARTTLS or plain port) */
	if (n >= 4 && t->nread == 0 && buf[0] >= '2' && buf[0] <= '5' &&
	    buf[1] >= '0' && buf[1] <= '9' && buf[2] >= '0' && buf[2] <= '9' &&
	    (buf[3] == ' ' || buf[3] == '-'))
		t->smtp_text = 1;
	if (n > 0)
		t->nread += n > 1000 ? 1000 : (int)n;
	if (n == 0)
		return MBEDTLS_ERR_NET_CONN_RESET;
	if (n < 0)
		return errno == ETIMEDOUT ? MBEDTLS_ERR_SSL_TIMEOUT :
		    MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)n;
}

#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
static void	tls_ticket(struct conn *);
#endif
static void	tls_ended(struct conn *, int);

static ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	struct tls_conn	*t = c->tls;
	int		 rc;

#if defined(MBEDTLS_DEBUG_C)
	mbedtls_ssl_conf_dbg(&tls_rt[c->route->idx].cfg, tls_debug, t);
#endif
	for (;;) {
		rc = mbedtls_ssl_read(&t->ssl, buf, len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
		if (rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
			tls_ticket(c);
			continue;
		}
#endif
		break;
	}
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	if (rc < 0) {
		tls_ended(c, rc);
		errno = rc == MBEDTLS_ERR_SSL_TIMEOUT ? ETIMEDOUT : ECONNRESET;
		return -1;
	}
	return rc;
}

/*
 * TLS 1.3: the server judges our (lack of a) certificate after our
 * Finished, so a handshake that looked complete ends at the next read or
 * write, with an alert (certificate_required) or none: c->tls_error says
 * why, for smtp.c's message.
 */
static void
tls_ended(struct conn *c, int rc)
{
	struct tls_conn	*t = c->tls;

	if (t->cert_asked && c->route->tls_client_cert == NULL)
		(void)snprintf(c->tls_error, sizeof(c->tls_error), "the server "
		    "ended TLS%s%s%s: it wants a client certificate and none "
		    "is configured (set tls_client_cert and tls_client_key)",
		    t->alert != -1 ? " (alert " : "",
		    t->alert != -1 ? tls_alert_name(t->alert) : "",
		    t->alert != -1 ? ")" : "");
	else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && t->alert != -1)
		(void)snprintf(c->tls_error, sizeof(c->tls_error), "the server "
		    "ended TLS with alert %s", tls_alert_name(t->alert));
}

static ssize_t
tls_write(struct conn *c, const void *buf, size_t len)
{
	struct tls_conn	*t = c->tls;
	int		 rc;

	do
		rc = mbedtls_ssl_write(&t->ssl, buf, len);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc < 0) {
		tls_ended(c, rc);
		errno = ECONNRESET;
		return -1;
	}
	return rc;
}

/*
 * The DER bytes of the certificate's SubjectPublicKeyInfo, found in its
 * TBSCertificate (RFC 5280 4.1: [0] version, serial, signature, issuer,
 * validity, subject, then the key).  mbedTLS keeps them too, but as a
 * private field from 3.0 on; the certificate is already parsed, so this
 * walk over it cannot fail on a certificate mbedTLS accepted.
 */
static int
tls_spki(const mbedtls_x509_crt *crt, const unsigned char **spki,
    size_t *len)
{
	unsigned char	*p = crt->tbs.p, *end = crt->tbs.p + crt->tbs.len;
	size_t		 n;
	int		 i;

	if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return -1;
	end = p + n;
	/* [0] EXPLICIT version: context-specific tag number 0 */
	if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONTEXT_SPECIFIC |
	    MBEDTLS_ASN1_CONSTRUCTED) == 0)
		p += n;				/* version */
	if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_INTEGER) != 0)
		return -1;
	p += n;					/* serialNumber */
	for (i = 0; i < 4; i++) {	/* signature, issuer, validity, subject */
		if (mbedtls_asn1_get_tag(&p, end, &n,
		    MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
			return -1;
		p += n;
	}
	*spki = p;
	if (mbedtls_asn1_get_tag(&p, end, &n, MBEDTLS_ASN1_CONSTRUCTED |
	    MBEDTLS_ASN1_SEQUENCE) != 0)
		return -1;
	*len = (size_t)(p - *spki) + n;
	return 0;
}

/* "sha256:HEX" of the certificate's SubjectPublicKeyInfo, and its hash */
int
tls_spki_pin(const mbedtls_x509_crt *crt, unsigned char hash[32], char *buf,
    size_t sz)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*spki;
	size_t			 i, len;

	if (sz < 8 + 64 || tls_spki(crt, &spki, &len) == -1 ||
	    TLS_SHA256(spki, len, hash) != 0)
		return -1;
	memcpy(buf, "sha256:", 7);
	for (i = 0; i < 32; i++) {
		buf[7 + 2 * i] = hex[hash[i] >> 4];
		buf[8 + 2 * i] = hex[hash[i] & 15];
	}
	buf[7 + 64] = '\0';
	return 0;
}

/*
 * The identities a certificate claims, for messages: "DNS:a, IP:1.2.3.4",
 * or "CN=name" when it has no SAN (the only case where the CN counts).
 */
void
tls_cert_names(const mbedtls_x509_crt *crt, char *buf, size_t sz)
{
	const mbedtls_x509_sequence	*cur;
	const mbedtls_x509_name		*n;
	char				 one[INET6_ADDRSTRLEN + 8], safe[128];

	buf[0] = '\0';
	if (TLS_HAS_SAN(crt)) {
		for (cur = &crt->subject_alt_names; cur != NULL;
		    cur = cur->next) {
			if (cur->buf.p == NULL)
				continue;
			if (cur->buf.tag == TLS_SAN_DNS) {
				util_sanitise(safe, sizeof(safe),
				    (const char *)cur->buf.p, cur->buf.len);
				(void)snprintf(one, sizeof(one), "DNS:%.*s",
				    (int)(sizeof(one) - 5), safe);
			} else if (cur->buf.tag == TLS_SAN_IP &&
			    (cur->buf.len == 4 || cur->buf.len == 16)) {
				(void)strlcpy(one, "IP:", sizeof(one));
				if (inet_ntop(cur->buf.len == 4 ? AF_INET :
				    AF_INET6, cur->buf.p, one + 3,
				    sizeof(one) - 3) == NULL)
					continue;
			} else
				continue;
			if (buf[0] != '\0')
				(void)strlcat(buf, ", ", sz);
			(void)strlcat(buf, one, sz);
		}
		if (buf[0] == '\0')
			(void)strlcpy(buf, "no DNS or IP SAN", sz);
		return;
	}
	for (n = &crt->subject; n != NULL; n = n->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
			util_sanitise(safe, sizeof(safe),
			    (const char *)n->val.p, n->val.len);
			(void)snprintf(buf, sz, "CN=%s", safe);
			return;
		}
	(void)strlcpy(buf, "no name at all", sz);
}

/*
 * RFC 6125 6.4: `pat' (a dNSName or CN, not NUL-terminated) against the
 * host name, case-insensitively; "*." only as the whole left-most label,
 * matching exactly one non-empty label, and not on a bare TLD ("*.com").
 */
int
tls_name_match(const unsigned char *pat, size_t plen, const char *host)
{
	const char	*dot;
	size_t		 hlen = strlen(host);

	if (hlen > 0 && host[hlen - 1] == '.')	/* "example.net." */
		hlen--;
	if (plen == hlen && strncasecmp((const char *)pat, host, hlen) == 0)
		return memchr(pat, '*', plen) == NULL;
	if (plen < 4 || pat[0] != '*' || pat[1] != '.' ||
	    memchr(pat + 2, '.', plen - 2) == NULL ||
	    memchr(pat + 1, '*', plen - 1) != NULL)
		return 0;
	if ((dot = memchr(host, '.', hlen)) == NULL || dot == host)
		return 0;
	return hlen - (size_t)(dot - host) == plen - 1 &&
	    strncasecmp((const char *)pat + 1, dot, plen - 1) == 0;
}

/* A host name against the dNSName SANs, or the CN when there is no SAN. */
static int
tls_dns_match(const mbedtls_x509_crt *crt, const char *host)
{
	const mbedtls_x509_sequence	*cur;
	const mbedtls_x509_name		*n;

	if (TLS_HAS_SAN(crt)) {
		for (cur = &crt->subject_alt_names; cur != NULL;
		    cur = cur->next)
			if (cur->buf.p != NULL && cur->buf.tag == TLS_SAN_DNS &&
			    tls_name_match(cur->buf.p, cur->buf.len, host))
				return 1;
		return 0;
	}
	for (n = &crt->subject; n != NULL; n = n->next)
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    tls_name_match(n->val.p, n->val.len, host))
			return 1;
	return 0;
}

/* RFC 6125 6.2.1: an address literal matches an iPAddress SAN only. */
static int
tls_ip_match(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
	const mbedtls_x509_sequence	*cur;

	if (!TLS_HAS_SAN(crt))
		return 0;
	for (cur = &crt->subject_alt_names; cur != NULL; cur = cur->next)
		if (cur->buf.p != NULL && cur->buf.tag == TLS_SAN_IP &&
		    cur->buf.len == len && memcmp(cur->buf.p, ip, len) == 0)
			return 1;
	return 0;
}

/*
 * Called by mbedTLS for each certificate of the chain, the root first and
 * the leaf (depth 0) last, with the flags it found; we may change them.
 *
 * Pinning: with tls_fingerprint set, the admin has named the relay's key
 * directly (read from `relayq probe' or the relay's own console).  Holding
 * that private key is then the whole proof of identity, as with a DANE-EE
 * record (RFC 7671 5.1): chain, CA, name and dates no longer decide, which
 * is what lets a self-signed relay be used without any switch that turns
 * checking off, and why the pin survives a renewal that keeps the key.
 * A key that matches no pin is refused even when a CA vouches for it: the
 * admin asked for that key, not for any certificate a CA might issue.
 */
static int
tls_verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_verify	*v = arg;
	unsigned char		 hash[32];
	size_t			 i;

	if (depth > 0) {
		v->chain_seen = 1;
		if (v->route->ntls_pin > 0)
			*flags = 0;
		if (v->conn->cert_cb != NULL)
			v->conn->cert_cb(v->conn->cert_arg, crt, depth, *flags);
		return 0;
	}
	v->leaf_seen = 1;
	tls_cert_names(crt, v->names, sizeof(v->names));
	/* a leaf alone whose issuer is not itself: the issuer was neither
	   sent by the server nor found among the trust anchors */
	v->issuer[0] = '\0';
	if (!v->chain_seen && (crt->issuer_raw.len != crt->subject_raw.len ||
	    memcmp(crt->issuer_raw.p, crt->subject_raw.p,
	    crt->issuer_raw.len) != 0) &&
	    mbedtls_x509_dn_gets(v->issuer, sizeof(v->issuer),
	    &crt->issuer) < 0)
		v->issuer[0] = '\0';
	if (tls_spki_pin(crt, hash, v->pin, sizeof(v->pin)) == -1)
		return MBEDTLS_ERR_X509_FATAL_ERROR;
	if (v->iplen > 0 ? tls_ip_match(crt, v->ip, v->iplen) :
	    tls_dns_match(crt, v->name))
		*flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
	else
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	if (v->route->ntls_pin > 0) {
		v->pin_ok = 0;
		for (i = 0; i < v->route->ntls_pin; i++)
			if (memcmp(hash, v->route->tls_pin[i], 32) == 0)
				v->pin_ok = 1;
		*flags = v->pin_ok ? 0 : MBEDTLS_X509_BADCERT_OTHER;
	}
	explicit_bzero(hash, sizeof(hash));
	if (v->conn->cert_cb != NULL)
		v->conn->cert_cb(v->conn->cert_arg, crt, depth, *flags);
	return 0;
}

/* Why a certificate was refused, in words an admin can act on. */
static void
tls_verify_reason(const struct tls_verify *v, uint32_t flags, char *buf,
    size_t sz)
{
	char	 what[400];

	buf[0] = '\0';
	if (v->route->ntls_pin > 0 && !v->pin_ok) {
		(void)snprintf(buf, sz, "public key matches no tls_fingerprint "
		    "(server key is %s)", v->pin);
		return;
	}
	if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
		(void)snprintf(what, sizeof(what), "name mismatch (%s%s; "
		    "certificate is for %s), ", v->iplen > 0 ? "an address "
		    "needs an IP SAN for " : "want ", v->name, v->names);
		(void)strlcat(buf, what, sz);
	}
	if ((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) &&
	    v->issuer[0] != '\0') {
		(void)snprintf(what, sizeof(what), "not signed by a trusted CA "
		    "(its issuer %s is not a trusted CA, and the server sent "
		    "no CA certificate for it: an intermediate missing on the "
		    "server, or a CA missing from tls_ca_file), ", v->issuer);
		(void)strlcat(buf, what, sz);
	} else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		(void)strlcat(buf, "not signed by a trusted CA, ", sz);
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED)
		(void)strlcat(buf, "expired, ", sz);
	if (flags & MBEDTLS_X509_BADCERT_FUTURE)
		(void)strlcat(buf, "not yet valid, ", sz);
	if (flags & (MBEDTLS_X509_BADCERT_KEY_USAGE |
	    MBEDTLS_X509_BADCERT_EXT_KEY_USAGE))
		(void)strlcat(buf, "key usage does not allow a TLS server, ",
		    sz);
	if (flags & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
	    MBEDTLS_X509_BADCERT_BAD_KEY))
		(void)strlcat(buf, "weak signature or key, ", sz);
	if (buf[0] == '\0')
		(void)snprintf(buf, sz, "verification flags 0x%x, ",
		    (unsigned int)flags);
	buf[strlen(buf) - 2] = '\0';
}

static const struct conn_ops tls_ops;

/* The TLS versions we offer by default: what this mbedTLS has */
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define TLS_OFFER	"TLS 1.2 to 1.3"
#define TLS_NO13	""
#else
#define TLS_OFFER	"TLS 1.2"
#define TLS_NO13	"; this build's mbedTLS " MBEDTLS_VERSION_STRING \
	" has no TLS 1.3: a server that wants TLS 1.3 only needs relayq " \
	"built with mbedTLS 3.6"
#endif

/*
 * Why a handshake failed, in words an admin can act on: the alert the
 * server sent with what it usually means, or what we saw instead of TLS.
 */
static void
tls_why(const struct conn *c, int rc, char *err, size_t errsz)
{
	struct tls_conn		*t = c->tls;
	const char		*offer = c->route->tls_min_version == 3 ?
	    "TLS 1.3" : TLS_OFFER;
	char			 msg[160], hint[300] = "";
	int			 n;

	/* The server sent its alert and closed while we were still sending
	   our flight (TLS 1.2: our empty Certificate refused): mbedTLS
	   stopped at the failed write, the alert may still be unread.  A
	   plaintext alert record: 21, version 3.x, length 2, level, desc. */
	if (t->alert == -1 && (rc == MBEDTLS_ERR_NET_SEND_FAILED ||
	    rc == MBEDTLS_ERR_NET_CONN_RESET)) {
		unsigned char	 rec[7];

		if (recv(c->fd, rec, sizeof(rec), MSG_DONTWAIT) ==
		    (ssize_t)sizeof(rec) && rec[0] == 21 && rec[1] == 3 &&
		    rec[3] == 0 && rec[4] == 2) {
			t->alert = rec[6];
			rc = MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE;
		}
	}
	n = snprintf(err, errsz, "TLS handshake with %s failed: ", c->peer);
	if (n < 0 || (size_t)n >= errsz)
		return;
	err += n;
	errsz -= (size_t)n;
	if (t->smtp_text) {
		(void)snprintf(err, errsz, "the server sent an SMTP greeting, "
		    "not TLS: port %s wants STARTTLS or plain SMTP, not "
		    "implicit TLS (set tls starttls, or use the server's "
		    "implicit TLS port, usually 465)", c->host->port);
		return;
	}
	if (t->alert == 70) {
		(void)snprintf(err, errsz, "alert protocol_version from the "
		    "server: no TLS version in common (we offer %s)%s", offer,
		    TLS_NO13);
		return;
	}
	if (rc == TLS_ERR_VERSION) {
		(void)snprintf(err, errsz, "the server chose a TLS version we "
		    "do not offer (we offer %s, tls_min_version %s)", offer,
		    c->route->tls_min_version == 3 ? "1.3" : "1.2");
		return;
	}
	if (t->cert_asked && c->route->tls_client_cert == NULL) {
		(void)snprintf(err, errsz, "the server wants a client "
		    "certificate and none is configured (set tls_client_cert "
		    "and tls_client_key)%s%s",
		    t->alert != -1 ? "; alert " : "",
		    t->alert != -1 ? tls_alert_name(t->alert) : "");
		return;
	}
	if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && t->alert != -1) {
		if (t->alert == 116)
			(void)snprintf(hint, sizeof(hint), ": the server wants "
			    "a client certificate (tls_client_cert, "
			    "tls_client_key)");
		else if (t->alert == 40)
			(void)snprintf(hint, sizeof(hint), ": no cipher "
			    "suite, group or signature algorithm in common "
			    "(we offer %s)", offer);
		else if ((t->alert == 48 || t->alert == 42 ||
		    t->alert == 46) && c->route->tls_client_cert != NULL)
			(void)snprintf(hint, sizeof(hint), ": the server "
			    "refused our client certificate (%s)",
			    c->route->tls_client_cert);
		(void)snprintf(err, errsz, "alert %s from the server%s",
		    tls_alert_name(t->alert), hint);
		return;
	}
	if (rc == MBEDTLS_ERR_SSL_TIMEOUT && t->nread == 0) {
		(void)snprintf(err, errsz, "no answer to our TLS hello in %lld "
		    "s: is port %s a STARTTLS port (usually 587 or 25)? then "
		    "set tls starttls", (long long)c->timeout, c->host->port);
		return;
	}
	tls_strerror(rc, msg, sizeof(msg));
	(void)snprintf(err, errsz, "%s", msg);
}

/*
 * TLS session resumption on reconnect: the session of the last full
 * handshake, in memory only (never on disk: it holds the master secret),
 * offered again to the same smarthost entry for TLS_RESUME_MAX seconds
 * (Postfix's smtp_tls_session_cache_timeout).  A resumed handshake sends
 * no certificate, so nothing is verified on it: it proves that the peer
 * holds the master secret of the session whose certificate tls_verify_cb
 * did check, for this same smarthost, name, pins and CA file (the
 * configuration does not change while the daemon runs).  That is why
 * only a session from a fully verified handshake is kept, it is dropped
 * on any handshake failure (a verify failure included) and never offered
 * to another smarthost, and its age counts from the full handshake, not
 * from the resumptions.  relayq probe (cert_cb set) never resumes: it is
 * there to show the certificate chain.  One saved session per route
 * (by its index), so that routes taking turns on one process each keep
 * theirs, and none is ever offered to another route's smarthost.
 */
#define TLS_RESUME_MAX	3600

struct tls_resume {
	mbedtls_ssl_session	 s;
	const struct smarthost	*host;		/* NULL: none saved */
	time_t			 at;
};
static struct tls_resume	 tls_saved[CONF_MAXROUTES];

static void
tls_forget(struct tls_resume *r)
{
	if (r->host == NULL)
		return;
	mbedtls_ssl_session_free(&r->s);
	r->host = NULL;
}

/*
 * After a full, verified handshake: keep its session for next time, its
 * age counted from `at'.  Under TLS 1.3 the session can be resumed only
 * with a ticket, which comes after the handshake (tls_ticket).
 */
static void
tls_save(struct tls_resume *r, const mbedtls_ssl_context *ssl,
    const struct smarthost *h, time_t at)
{
	tls_forget(r);
	mbedtls_ssl_session_init(&r->s);
	if (mbedtls_ssl_get_session(ssl, &r->s) != 0) {
		mbedtls_ssl_session_free(&r->s);
		return;
	}
	r->host = h;
	r->at = at;
}

#if defined(MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
/*
 * A TLS 1.3 ticket arrived on a verified connection: the session to
 * offer next time.  On a resumed connection the new ticket continues
 * the session that was verified, and keeps its age.
 */
static void
tls_ticket(struct conn *c)
{
	struct tls_conn		*t = c->tls;
	struct tls_resume	*r = &tls_saved[c->route->idx];
	time_t			 at = r->at;

	if (c->cert_cb != NULL || !c->verified)
		return;
	if (t->resumed && r->host != c->host)
		return;
	if (!t->resumed)
		at = time(NULL);
	tls_save(r, &t->ssl, c->host, at);
}
#endif

/* Handshake on c->fd; c->host->name is the reference identity. */
static int
tls_handshake(struct conn *c, char *err, size_t errsz)
{
	struct tls_conn		*t;
	struct tls_resume	*r = &tls_saved[c->route->idx];
	mbedtls_ssl_context	*ssl;
	char			 msg[600];
	uint32_t		 flags;
	int			 rc;

	/* a route that had `tls off' at start-up has no TLS set up */
	if (!tls_rt[c->route->idx].ready) {
		(void)snprintf(err, errsz, "%s: TLS for route %s was not set "
		    "up at start-up (it had tls off): restart relayq",
		    c->host->name, c->route->name);
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	ssl = &t->ssl;
	mbedtls_ssl_init(ssl);
	c->tls = t;
	t->v.route = c->route;
	t->v.conn = c;
	t->v.name = c->host->name;
	if (inet_pton(AF_INET, c->host->name, t->v.ip) == 1)
		t->v.iplen = 4;
	else if (inet_pton(AF_INET6, c->host->name, t->v.ip) == 1)
		t->v.iplen = 16;
	t->alert = -1;
#if defined(MBEDTLS_DEBUG_C)
	mbedtls_ssl_conf_dbg(&tls_rt[c->route->idx].cfg, tls_debug, t);
#endif
	if ((rc = mbedtls_ssl_setup(ssl, &tls_rt[c->route->idx].cfg)) != 0)
		goto fail;
	/* Sets SNI and the name to verify.  Never skipped: without it
	 * mbedTLS 2.28 checks no name at all (CVE-2025-27809).  For an
	 * address literal it also sends the address as SNI, which servers
	 * ignore; tls_verify_cb then does the IP SAN check itself. */
	if ((rc = mbedtls_ssl_set_hostname(ssl, c->host->name)) != 0)
		goto fail;
	mbedtls_ssl_set_verify(ssl, tls_verify_cb, &t->v);
	mbedtls_ssl_set_bio(ssl, c, tls_bio_send, tls_bio_recv, NULL);
	if (r->host != NULL && (r->host != c->host ||
	    c->cert_cb != NULL || time(NULL) - r->at >= TLS_RESUME_MAX))
		tls_forget(r);
	/* a session that cannot be set just means a full handshake */
	if (r->host != NULL)
		(void)mbedtls_ssl_set_session(ssl, &r->s);
	do
		rc = mbedtls_ssl_handshake(ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc != 0)
		tls_forget(r);
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		flags = mbedtls_ssl_get_verify_result(ssl);
		tls_verify_reason(&t->v, flags, msg, sizeof(msg));
		(void)snprintf(err, errsz, "certificate verify failed for %s: "
		    "%s", c->host->name, msg);
		return -1;
	}
	if (rc != 0)
		goto fail;
	/* belt and braces: REQUIRED mode fails the handshake already (a
	   resumed session carries the result of its full handshake) */
	if (mbedtls_ssl_get_verify_result(ssl) != 0) {
		tls_forget(r);
		(void)snprintf(err, errsz, "certificate verify failed for %s",
		    c->host->name);
		return -1;
	}
	/* no certificate was checked: the saved session was resumed */
	t->resumed = !t->v.leaf_seen;
	if (t->v.leaf_seen && c->cert_cb == NULL &&
	    strcmp(mbedtls_ssl_get_version(ssl), "TLSv1.3") != 0)
		tls_save(r, ssl, c->host, time(NULL));
	(void)strlcpy(c->tls_version, mbedtls_ssl_get_version(ssl),
	    sizeof(c->tls_version));
	(void)strlcpy(c->tls_cipher, mbedtls_ssl_get_ciphersuite(ssl),
	    sizeof(c->tls_cipher));
	c->tls_resumed = t->resumed;
	c->ops = &tls_ops;
	c->verified = 1;
	return 0;
 fail:
	tls_why(c, rc, err, errsz);
	return -1;
}

static int
tls_starttls(struct conn *c, char *err, size_t errsz)
{
	return tls_handshake(c, err, errsz);
}

static const struct conn_ops tls_plain_ops = {
	tls_plain_read, tls_plain_write, tls_starttls
};
static const struct conn_ops tls_ops = {
	tls_read, tls_write, NULL
};

/*
 * Connect to every address of the smarthost in turn; implicit TLS
 * handshakes at once.  On failure `err' says which address failed how.
 */
int
tls_connect(struct conn *c, const struct route *route,
    const struct smarthost *h, time_t timeout, char *err, size_t errsz)
{
	struct addrinfo	 hints, *res, *ai;
	char		 addr[INET6_ADDRSTRLEN];
	socklen_t	 sl;
	int		 fd = -1, rc, soerr, one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->host = h;
	c->route = route;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(h->name, h->port, &hints, &res)) != 0) {
		(void)snprintf(err, errsz, "cannot resolve %s: %s", h->name,
		    gai_strerror(rc));
		return -1;
	}
	(void)snprintf(err, errsz, "%s: no address", h->name);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr),
		    NULL, 0, NI_NUMERICHOST) != 0)
			(void)strlcpy(addr, "?", sizeof(addr));
		(void)snprintf(c->peer, sizeof(c->peer), "%s[%s]:%s", h->name,
		    addr, h->port);
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS)
			goto next;
		if (tls_wait(fd, POLLOUT, timeout) == -1)
			goto next;
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			goto next;
		if (soerr != 0) {
			errno = soerr;
			goto next;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		break;
 next:
		(void)snprintf(err, errsz, "connect to %s: %s", c->peer,
		    strerror(errno));
		(void)close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return -1;
	c->fd = fd;
	c->ops = &tls_plain_ops;
	c->timeout = timeout;
	if (h->tls == TLS_IMPLICIT && tls_handshake(c, err, errsz) == -1) {
		tls_close(c);
		return -1;
	}
	return 0;
}

void
tls_close(struct conn *c)
{
	struct tls_conn	*t = c->tls;

	if (t != NULL) {
		if (c->ops == &tls_ops)
			(void)mbedtls_ssl_close_notify(&t->ssl);
		mbedtls_ssl_free(&t->ssl);
#if defined(MBEDTLS_DEBUG_C)
		mbedtls_ssl_conf_dbg(&tls_rt[c->route->idx].cfg, tls_debug,
		    NULL);
#endif
		free(t);
		c->tls = NULL;
	}
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
}
