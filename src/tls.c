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

#include <mbedtls/ctr_drbg.h>
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
#define TLS_PK_RAW(crt)		((crt)->MBEDTLS_PRIVATE(pk_raw))
#define TLS_SHA256(in, len, out) mbedtls_sha256((in), (len), (out), 0)
#define TLS_ERR_VERSION		MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION
#else
#define TLS_PK_RAW(crt)		((crt)->pk_raw)
#define TLS_SHA256(in, len, out) mbedtls_sha256_ret((in), (len), (out), 0)
#define TLS_ERR_VERSION		MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
#endif

/* any subjectAltName at all (ext_types is private in mbedTLS 3) */
#define TLS_HAS_SAN(crt)	((crt)->subject_alt_names.buf.p != NULL)
#define TLS_SAN_DNS	(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)
#define TLS_SAN_IP	(MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7)

/* What the verify callback learnt about the leaf, for the verdict. */
struct tls_verify {
	const struct conf	*conf;
	const struct conn	*conn;
	const char		*name;		/* reference identity */
	unsigned char		 ip[16];	/* when `name' is a literal */
	size_t			 iplen;
	int			 pin_ok;
	int			 leaf_seen;	/* a certificate was checked:
						   a full handshake */
	char			 pin[8 + 64];	/* "sha256:HEX" of the leaf */
	char			 names[256];	/* the leaf's SANs, or its CN */
};

struct tls_conn {
	mbedtls_ssl_context	 ssl;
	struct tls_verify	 v;
};

static mbedtls_entropy_context	 tls_entropy;
static mbedtls_ctr_drbg_context	 tls_drbg;
static mbedtls_x509_crt		 tls_ca;
static mbedtls_ssl_config	 tls_cfg;
static mbedtls_x509_crt		 tls_own_cert;
static mbedtls_pk_context	 tls_own_key;
static int			 tls_ready;

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

/*
 * The client certificate, for relays that want one (tls_client_cert,
 * tls_client_key).  A key that group or others may read is refused: it
 * proves who we are to the relay, so anyone who can copy it can relay
 * mail as us.
 */
static int
tls_client_cert(const struct conf *conf, char *err, size_t errsz)
{
	struct stat	 st;
	char		 msg[128];
	int		 rc, fd;

	if (conf->tls_client_cert == NULL && conf->tls_client_key == NULL)
		return 0;
	if (conf->tls_client_cert == NULL || conf->tls_client_key == NULL) {
		(void)snprintf(err, errsz, "tls_client_cert and tls_client_key "
		    "go together");
		return -1;
	}
	if ((fd = open(conf->tls_client_key, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		(void)snprintf(err, errsz, "tls_client_key %s: %s",
		    conf->tls_client_key, strerror(errno));
		if (fd != -1)
			(void)close(fd);
		return -1;
	}
	(void)close(fd);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		(void)snprintf(err, errsz, "tls_client_key %s is readable by "
		    "others or not a regular file: refusing it (chmod 600 %s)",
		    conf->tls_client_key, conf->tls_client_key);
		return -1;
	}
	mbedtls_x509_crt_init(&tls_own_cert);
	mbedtls_pk_init(&tls_own_key);
	if ((rc = mbedtls_x509_crt_parse_file(&tls_own_cert,
	    conf->tls_client_cert)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "tls_client_cert %s: %s",
		    conf->tls_client_cert, rc < 0 ? msg : "unparsable "
		    "certificate");
		return -1;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	rc = mbedtls_pk_parse_keyfile(&tls_own_key, conf->tls_client_key, NULL,
	    mbedtls_ctr_drbg_random, &tls_drbg);
	if (rc == 0)
		rc = mbedtls_pk_check_pair(&tls_own_cert.pk, &tls_own_key,
		    mbedtls_ctr_drbg_random, &tls_drbg);
#else
	rc = mbedtls_pk_parse_keyfile(&tls_own_key, conf->tls_client_key, NULL);
	if (rc == 0)
		rc = mbedtls_pk_check_pair(&tls_own_cert.pk, &tls_own_key);
#endif
	if (rc != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "tls_client_key %s: %s (is it the "
		    "key of %s?)", conf->tls_client_key, msg,
		    conf->tls_client_cert);
		return -1;
	}
	if ((rc = mbedtls_ssl_conf_own_cert(&tls_cfg, &tls_own_cert,
	    &tls_own_key)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "tls_client_cert: %s", msg);
		return -1;
	}
	return 0;
}

/*
 * Once per daemon: random generator, trust anchors, client config.
 * mbedtls_x509_crt_parse_file returns the number of certificates it
 * could NOT parse (2.28); what counts is that at least one was loaded.
 */
int
tls_init(const struct conf *conf, char *err, size_t errsz)
{
	const char *const	*p;
	const char		*file = conf->tls_ca_file;
	char			 msg[128];
	int			 rc;

	if (tls_ready)
		return 0;
	mbedtls_entropy_init(&tls_entropy);
	mbedtls_ctr_drbg_init(&tls_drbg);
	mbedtls_x509_crt_init(&tls_ca);
	mbedtls_ssl_config_init(&tls_cfg);
	if ((rc = mbedtls_ctr_drbg_seed(&tls_drbg, mbedtls_entropy_func,
	    &tls_entropy, (const unsigned char *)"relayq", 6)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "TLS random generator: %s", msg);
		return -1;
	}
	if (file == NULL)
		for (p = tls_bundles; *p != NULL && file == NULL; p++)
			if (access(*p, R_OK) == 0)
				file = *p;
	if (file == NULL) {
		(void)snprintf(err, errsz, "no CA bundle found (install "
		    "ca-certificates, or set tls_ca_file)");
		return -1;
	}
	rc = mbedtls_x509_crt_parse_file(&tls_ca, file);
	if (rc < 0 || tls_ca.version == 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "CA file %s: %s", file,
		    rc < 0 ? msg : "no usable certificate");
		return -1;
	}
	if ((rc = mbedtls_ssl_config_defaults(&tls_cfg, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		tls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "TLS configuration: %s", msg);
		return -1;
	}
	mbedtls_ssl_conf_authmode(&tls_cfg, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&tls_cfg, &tls_ca, NULL);
	mbedtls_ssl_conf_rng(&tls_cfg, mbedtls_ctr_drbg_random, &tls_drbg);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_ssl_conf_min_tls_version(&tls_cfg, conf->tls_min_version == 3 ?
	    MBEDTLS_SSL_VERSION_TLS1_3 : MBEDTLS_SSL_VERSION_TLS1_2);
#else
	if (conf->tls_min_version == 3) {
		(void)snprintf(err, errsz, "tls_min_version 1.3: this mbedTLS "
		    "(%s) has no TLS 1.3", MBEDTLS_VERSION_STRING);
		return -1;
	}
	mbedtls_ssl_conf_min_version(&tls_cfg, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	if (tls_client_cert(conf, err, errsz) == -1)
		return -1;
	tls_ready = 1;
	return 0;
}

/*
 * In a forked delivery worker (drainwork.c): the generator state was
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
	ssize_t	 n = tls_plain_read(ctx, buf, len);

	if (n == 0)
		return MBEDTLS_ERR_NET_CONN_RESET;
	if (n < 0)
		return errno == ETIMEDOUT ? MBEDTLS_ERR_SSL_TIMEOUT :
		    MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)n;
}

static ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	struct tls_conn	*t = c->tls;
	int		 rc;

	do
		rc = mbedtls_ssl_read(&t->ssl, buf, len);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	if (rc < 0) {
		errno = rc == MBEDTLS_ERR_SSL_TIMEOUT ? ETIMEDOUT : ECONNRESET;
		return -1;
	}
	return rc;
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
		errno = ECONNRESET;
		return -1;
	}
	return rc;
}

/* "sha256:HEX" of the certificate's SubjectPublicKeyInfo, and its hash */
int
tls_spki_pin(const mbedtls_x509_crt *crt, unsigned char hash[32], char *buf,
    size_t sz)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i;

	if (sz < 8 + 64 || TLS_SHA256(TLS_PK_RAW(crt).p, TLS_PK_RAW(crt).len,
	    hash) != 0)
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
		if (v->conf->ntls_pin > 0)
			*flags = 0;
		if (v->conn->cert_cb != NULL)
			v->conn->cert_cb(v->conn->cert_arg, crt, depth, *flags);
		return 0;
	}
	v->leaf_seen = 1;
	tls_cert_names(crt, v->names, sizeof(v->names));
	if (tls_spki_pin(crt, hash, v->pin, sizeof(v->pin)) == -1)
		return MBEDTLS_ERR_X509_FATAL_ERROR;
	if (v->iplen > 0 ? tls_ip_match(crt, v->ip, v->iplen) :
	    tls_dns_match(crt, v->name))
		*flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
	else
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	if (v->conf->ntls_pin > 0) {
		v->pin_ok = 0;
		for (i = 0; i < v->conf->ntls_pin; i++)
			if (memcmp(hash, v->conf->tls_pin[i], 32) == 0)
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
	if (v->conf->ntls_pin > 0 && !v->pin_ok) {
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
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
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
 * there to show the certificate chain.
 */
#define TLS_RESUME_MAX	3600

static mbedtls_ssl_session	 tls_saved;
static const struct smarthost	*tls_saved_host;	/* NULL: none saved */
static time_t			 tls_saved_at;

static void
tls_forget(void)
{
	if (tls_saved_host == NULL)
		return;
	mbedtls_ssl_session_free(&tls_saved);
	tls_saved_host = NULL;
}

/* After a full, verified handshake: keep its session for next time. */
static void
tls_save(const mbedtls_ssl_context *ssl, const struct smarthost *h)
{
	tls_forget();
	mbedtls_ssl_session_init(&tls_saved);
	if (mbedtls_ssl_get_session(ssl, &tls_saved) != 0) {
		mbedtls_ssl_session_free(&tls_saved);
		return;
	}
	tls_saved_host = h;
	tls_saved_at = time(NULL);
}

/* Handshake on c->fd; c->host->name is the reference identity. */
static int
tls_handshake(struct conn *c, char *err, size_t errsz)
{
	struct tls_conn		*t;
	mbedtls_ssl_context	*ssl;
	char			 msg[600];
	uint32_t		 flags;
	int			 rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return -1;
	}
	ssl = &t->ssl;
	mbedtls_ssl_init(ssl);
	c->tls = t;
	t->v.conf = c->conf;
	t->v.conn = c;
	t->v.name = c->host->name;
	if (inet_pton(AF_INET, c->host->name, t->v.ip) == 1)
		t->v.iplen = 4;
	else if (inet_pton(AF_INET6, c->host->name, t->v.ip) == 1)
		t->v.iplen = 16;
	if ((rc = mbedtls_ssl_setup(ssl, &tls_cfg)) != 0)
		goto fail;
	/* Sets SNI and the name to verify.  Never skipped: without it
	 * mbedTLS 2.28 checks no name at all (CVE-2025-27809).  For an
	 * address literal it also sends the address as SNI, which servers
	 * ignore; tls_verify_cb then does the IP SAN check itself. */
	if ((rc = mbedtls_ssl_set_hostname(ssl, c->host->name)) != 0)
		goto fail;
	mbedtls_ssl_set_verify(ssl, tls_verify_cb, &t->v);
	mbedtls_ssl_set_bio(ssl, c, tls_bio_send, tls_bio_recv, NULL);
	if (tls_saved_host != NULL && (tls_saved_host != c->host ||
	    c->cert_cb != NULL || time(NULL) - tls_saved_at >= TLS_RESUME_MAX))
		tls_forget();
	/* a session that cannot be set just means a full handshake */
	if (tls_saved_host != NULL)
		(void)mbedtls_ssl_set_session(ssl, &tls_saved);
	do
		rc = mbedtls_ssl_handshake(ssl);
	while (rc == MBEDTLS_ERR_SSL_WANT_READ ||
	    rc == MBEDTLS_ERR_SSL_WANT_WRITE);
	if (rc != 0)
		tls_forget();
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
		flags = mbedtls_ssl_get_verify_result(ssl);
		tls_verify_reason(&t->v, flags, msg, sizeof(msg));
		(void)snprintf(err, errsz, "certificate verify failed for %s: "
		    "%s", c->host->name, msg);
		return -1;
	}
	if (rc == TLS_ERR_VERSION) {
		(void)snprintf(err, errsz, "TLS handshake with %s failed: "
		    "server offers no TLS version >= %s (tls_min_version)",
		    c->peer, c->conf->tls_min_version == 3 ? "1.3" : "1.2");
		return -1;
	}
	if (rc != 0)
		goto fail;
	/* belt and braces: REQUIRED mode fails the handshake already (a
	   resumed session carries the result of its full handshake) */
	if (mbedtls_ssl_get_verify_result(ssl) != 0) {
		tls_forget();
		(void)snprintf(err, errsz, "certificate verify failed for %s",
		    c->host->name);
		return -1;
	}
	if (t->v.leaf_seen && c->cert_cb == NULL)
		tls_save(ssl, c->host);
	c->ops = &tls_ops;
	c->verified = 1;
	return 0;
 fail:
	tls_strerror(rc, msg, sizeof(msg));
	(void)snprintf(err, errsz, "TLS handshake with %s failed: %s", c->peer,
	    msg);
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
tls_connect(struct conn *c, const struct conf *conf, const struct smarthost *h,
    time_t timeout, char *err, size_t errsz)
{
	struct addrinfo	 hints, *res, *ai;
	char		 addr[INET6_ADDRSTRLEN];
	socklen_t	 sl;
	int		 fd = -1, rc, soerr, one = 1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->host = h;
	c->conf = conf;
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
		free(t);
		c->tls = NULL;
	}
	if (c->fd != -1)
		(void)close(c->fd);
	c->fd = -1;
}
