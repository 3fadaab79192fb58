/*
 * The listener's TLS (STARTTLS, RFC 3207): the server side, for the
 * session helper (listen_session.c).  The certificate and key
 * (listen_tls_cert, listen_tls_key) are read once by the listener as it
 * starts, as root and before its sandbox, so that the key may be
 * readable by root alone; the sessions inherit them in memory.  They
 * never reach sendmail: it has no TLS code and is set-group-ID.
 *
 * Each session is a forked child: its random generator is reseeded
 * first (ltls_session), or every session would draw the same randoms as
 * its siblings.  TLS 1.2 at least; 1.3 where mbedTLS has it (3.6).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "relayq.h"
#include "client.h"
#include "listen.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif

struct ltls {
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 cfg;
	mbedtls_x509_crt	 cert;
	mbedtls_pk_context	 key;
	/* the one session of a helper */
	mbedtls_ssl_context	 ssl;
	int			 fd;
	int			 up;	/* the handshake is done */
};

static int
ltls_send(void *arg, const unsigned char *buf, size_t len)
{
	struct ltls	*t = arg;
	ssize_t		 n;

	while ((n = send(t->fd, buf, len, MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	return n >= 0 ? (int)n : MBEDTLS_ERR_NET_SEND_FAILED;
}

/* a timeout (SO_RCVTIMEO, listen_timeout) is a failure: blocking bio */
static int
ltls_recv(void *arg, unsigned char *buf, size_t len)
{
	struct ltls	*t = arg;
	ssize_t		 n;

	while ((n = read(t->fd, buf, len)) == -1 && errno == EINTR)
		;
	return n >= 0 ? (int)n : MBEDTLS_ERR_NET_RECV_FAILED;
}

/* The configuration, from listen_tls_cert and listen_tls_key: NULL with
 * why in err. */
struct ltls *
ltls_new(const struct conf *conf, char *err, size_t errsz)
{
	struct ltls	*t;
	char		 msg[128];
	int		 rc;

	if ((conf->listen_tls_cert == NULL) != (conf->listen_tls_key ==
	    NULL)) {
		(void)snprintf(err, errsz, "%.300s: listen_tls_cert and "
		    "listen_tls_key go together", conf->path);
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		return NULL;
	}
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_config_init(&t->cfg);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_pk_init(&t->key);
	mbedtls_ssl_init(&t->ssl);
	if ((rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func,
	    &t->entropy, (const unsigned char *)"relayq-smtpd", 12)) != 0 ||
	    (rc = mbedtls_ssl_config_defaults(&t->cfg, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		mbedtls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "TLS set-up: %s", msg);
		goto fail;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	if (psa_crypto_init() != PSA_SUCCESS) {
		(void)snprintf(err, errsz, "TLS: psa_crypto_init failed");
		goto fail;
	}
	mbedtls_ssl_conf_min_tls_version(&t->cfg, MBEDTLS_SSL_VERSION_TLS1_2);
#else
	mbedtls_ssl_conf_min_version(&t->cfg, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
#endif
	mbedtls_ssl_conf_rng(&t->cfg, mbedtls_ctr_drbg_random, &t->drbg);
	if (tls_load_pair("listen_tls", conf->listen_tls_cert,
	    conf->listen_tls_key, &t->cert, &t->key, &t->drbg, err, errsz) ==
	    -1)
		goto fail;
	if ((rc = mbedtls_ssl_conf_own_cert(&t->cfg, &t->cert, &t->key)) !=
	    0) {
		mbedtls_strerror(rc, msg, sizeof(msg));
		(void)snprintf(err, errsz, "listen_tls_cert: %s", msg);
		goto fail;
	}
	return t;
 fail:
	ltls_free(t);
	return NULL;
}

void
ltls_free(struct ltls *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	mbedtls_pk_free(&t->key);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_ssl_config_free(&t->cfg);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
}

/*
 * The handshake on the client's socket `fd', in a session helper.  0,
 * or -1 with why in err ("TLSv1.3 TLS_AES_256_GCM_SHA384" in err on
 * success, for the log).
 */
int
ltls_handshake(struct ltls *t, int fd, char *err, size_t errsz)
{
	pid_t	 pid = getpid();
	char	 msg[128];
	int	 rc;

	t->fd = fd;
	/* a forked copy of the listener's generator: made our own */
	if (mbedtls_ctr_drbg_reseed(&t->drbg, (const unsigned char *)&pid,
	    sizeof(pid)) != 0) {
		(void)snprintf(err, errsz, "TLS: cannot reseed the random "
		    "generator");
		return -1;
	}
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	/* PSA's generator too (TLS 1.3 key shares); it holds no key of
	   ours: the key is an mbedtls_pk_context */
	mbedtls_psa_crypto_free();
	if (psa_crypto_init() != PSA_SUCCESS) {
		(void)snprintf(err, errsz, "TLS: psa_crypto_init failed");
		return -1;
	}
#endif
	if ((rc = mbedtls_ssl_setup(&t->ssl, &t->cfg)) != 0)
		goto fail;
	mbedtls_ssl_set_bio(&t->ssl, t, ltls_send, ltls_recv, NULL);
	while ((rc = mbedtls_ssl_handshake(&t->ssl)) != 0)
		if (rc != MBEDTLS_ERR_SSL_WANT_READ &&
		    rc != MBEDTLS_ERR_SSL_WANT_WRITE)
			goto fail;
	t->up = 1;
	(void)snprintf(err, errsz, "%s %s", mbedtls_ssl_get_version(&t->ssl),
	    mbedtls_ssl_get_ciphersuite(&t->ssl));
	return 0;
 fail:
	mbedtls_strerror(rc, msg, sizeof(msg));
	(void)snprintf(err, errsz, "%s", msg);
	return -1;
}

/* Decrypted bytes: their number, 0 at the end, -1 on an error, -2 when
 * a record carried none (a ticket, a key update) */
ssize_t
ltls_read(struct ltls *t, void *buf, size_t len)
{
	int	 rc;

	rc = mbedtls_ssl_read(&t->ssl, buf, len);
	if (rc > 0)
		return rc;
	if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
		return -2;
	return -1;
}

/* Decrypted bytes mbedTLS holds already: poll(2) does not see them */
size_t
ltls_pending(struct ltls *t)
{
	return t->up ? mbedtls_ssl_get_bytes_avail(&t->ssl) : 0;
}

/* All of buf, encrypted: 0, or -1 */
int
ltls_write(struct ltls *t, const void *buf, size_t len)
{
	const unsigned char	*p = buf;
	int			 rc;

	while (len > 0) {
		rc = mbedtls_ssl_write(&t->ssl, p, len);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (rc < 0)
			return -1;
		p += rc;
		len -= (size_t)rc;
	}
	return 0;
}

/* The end of the session: close_notify, when TLS is up */
void
ltls_close(struct ltls *t)
{
	if (t->up)
		(void)mbedtls_ssl_close_notify(&t->ssl);
	t->up = 0;
}
