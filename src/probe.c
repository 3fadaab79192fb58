/*
 * relayq probe: what `openssl s_client -starttls smtp' and swaks are
 * used for, with relayq's own rules.  For each smarthost, step by step:
 * DNS, TCP connect, banner, EHLO, STARTTLS, the certificate chain
 * (subject, issuer, SANs, validity, SPKI pin ready to paste), the verdict
 * with its reason, the AUTH mechanisms and the result of AUTH with the
 * configured credentials.  It never sends MAIL: the session ends with
 * QUIT right after AUTH.
 *
 * The session is the daemon's own (tls_connect, smtp_open), watched
 * through two hooks, so what the probe reports is what delivery does.
 *
 * Exit: 0 every smarthost usable, PROBE_NET (DNS, connect, banner, EHLO),
 * PROBE_TLS (STARTTLS, handshake, certificate) or PROBE_AUTH, for the
 * first smarthost that failed; EX_CONFIG for an unusable configuration.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include <mbedtls/x509_crt.h>

#include "relayq.h"
#include "client.h"

#define PROBE_NET	2
#define PROBE_TLS	3
#define PROBE_AUTH	4

static void
probe_trace(void *arg, const char *line)
{
	(void)arg;
	(void)printf("    %s\n", line);
}

static void
probe_time(char *buf, size_t sz, const mbedtls_x509_time *t)
{
	(void)snprintf(buf, sz, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year,
	    t->mon, t->day, t->hour, t->min, t->sec);
}

/* One certificate of the chain as mbedTLS verifies it (root first). */
static void
probe_cert(void *arg, const struct mbedtls_x509_crt *crt, int depth,
    unsigned int flags)
{
	unsigned char	 hash[32];
	char		 buf[512], from[32], to[32], pin[8 + 64 + 1];

	(void)arg;
	(void)printf("    certificate at depth %d%s:\n", depth,
	    depth == 0 ? " (the server's own)" : "");
	if (mbedtls_x509_dn_gets(buf, sizeof(buf), &crt->subject) < 0)
		(void)strlcpy(buf, "?", sizeof(buf));
	(void)printf("      subject:  %s\n", buf);
	if (mbedtls_x509_dn_gets(buf, sizeof(buf), &crt->issuer) < 0)
		(void)strlcpy(buf, "?", sizeof(buf));
	(void)printf("      issuer:   %s\n", buf);
	tls_cert_names(crt, buf, sizeof(buf));
	(void)printf("      names:    %s\n", buf);
	probe_time(from, sizeof(from), &crt->valid_from);
	probe_time(to, sizeof(to), &crt->valid_to);
	(void)printf("      valid:    %s to %s\n", from, to);
	if (tls_spki_pin(crt, hash, pin, sizeof(pin)) == 0)
		(void)printf("      pin:      tls_fingerprint %s\n", pin);
	if (flags != 0) {
		(void)mbedtls_x509_crt_verify_info(buf, sizeof(buf), "", flags);
		buf[strcspn(buf, "\n")] = '\0';
		(void)printf("      problem:  %s\n", buf);
	}
}

/*
 * The password for the probe: first line of auth_password_file, which
 * must not be readable by group or others (the daemon also insists on
 * its own uid; the probe may run as root to look).
 */
static int
probe_password(const char *path, char *buf, size_t sz)
{
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		(void)printf("  AUTH: cannot read auth_password_file %s: %s\n",
		    path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		(void)printf("  AUTH: auth_password_file %s must be a regular "
		    "file not readable by others (chmod 600)\n", path);
		(void)close(fd);
		return -1;
	}
	n = read(fd, buf, sz - 1);
	(void)close(fd);
	if (n <= 0) {
		(void)printf("  AUTH: auth_password_file %s is empty\n", path);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

/* DNS, printed; the connect itself resolves again (same answer, cached) */
static int
probe_dns(const struct smarthost *h)
{
	struct addrinfo	 hints, *res, *ai;
	char		 addr[INET6_ADDRSTRLEN];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(h->name, h->port, &hints, &res)) != 0) {
		(void)printf("  DNS: %s: %s\n", h->name, gai_strerror(rc));
		return -1;
	}
	(void)printf("  DNS: %s ->", h->name);
	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, addr,
		    sizeof(addr), NULL, 0, NI_NUMERICHOST) == 0)
			(void)printf(" %s", addr);
	(void)printf("\n");
	freeaddrinfo(res);
	return 0;
}

static int
probe_host(const struct conf *conf, const struct route *r,
    const struct smarthost *h, const char *password)
{
	struct smarthost	 plain = *h;
	struct conn		 c;
	struct smtp_session	 s;
	char			 err[REPLY_MAX + 128];
	int			 rc = 0;

	(void)printf("smarthost %s port %s, TLS %s\n", h->name, h->port,
	    h->tls == TLS_IMPLICIT ? "implicit (RFC 8314)" :
	    h->tls == TLS_STARTTLS ? "STARTTLS (RFC 3207)" : "off");
	if (probe_dns(h) == -1)
		return PROBE_NET;
	/* connect without the handshake, so the hooks see all of it */
	plain.tls = TLS_OFF;
	if (tls_connect(&c, r, &plain, r->timeout_connect, err,
	    sizeof(err)) == -1) {
		(void)printf("  connect: FAILED: %s\n", err);
		return PROBE_NET;
	}
	(void)printf("  connect: %s\n", c.peer);
	c.host = h;
	c.cert_cb = probe_cert;
	if (h->tls == TLS_IMPLICIT) {
		(void)printf("  TLS handshake (implicit):\n");
		c.timeout = r->timeout_command;
		if (c.ops->starttls(&c, err, sizeof(err)) == -1) {
			(void)printf("  verdict: REFUSED: %s\n", err);
			tls_close(&c);
			return PROBE_TLS;
		}
		(void)printf("  verdict: certificate accepted (%s)\n",
		    r->ntls_pin > 0 ? "public key matches tls_fingerprint" :
		    "chain to a trusted CA, name matches");
	}
	memset(&s, 0, sizeof(s));
	s.conn = &c;
	s.conf = conf;
	s.route = r;
	s.password = password;
	s.trace = probe_trace;
	(void)printf("  session:\n");
	if (smtp_open(&s, err, sizeof(err)) == -1) {
		switch (s.stage) {
		case SMTP_STAGE_STARTTLS:
			(void)printf("  verdict: REFUSED: %s\n", err);
			rc = PROBE_TLS;
			break;
		case SMTP_STAGE_AUTH:
			(void)printf("  AUTH: FAILED: %s\n", err);
			rc = PROBE_AUTH;
			break;
		default:
			(void)printf("  FAILED: %s\n", err);
			rc = PROBE_NET;
		}
	} else {
		if (h->tls == TLS_STARTTLS)
			(void)printf("  verdict: certificate accepted (%s)\n",
			    r->ntls_pin > 0 ? "public key matches "
			    "tls_fingerprint" : "chain to a trusted CA, name "
			    "matches");
		if (r->auth_user != NULL)
			(void)printf("  AUTH: ok with %s as %s\n", s.mech,
			    r->auth_user);
		else
			(void)printf("  AUTH: not configured (no auth_user)\n");
		smtp_quit(&s);
	}
	tls_close(&c);
	return rc;
}

/* Every smarthost of route `r'; 0 when all are usable, else the first
   failure's PROBE_* */
static int
probe_route(const struct conf *conf, const struct route *r)
{
	char	 pw[AUTH_SECRET_MAX] = "", err[512];
	size_t	 i;
	int	 rc, first = 0;

	if (r->nhost == 0) {
		(void)fprintf(stderr, "relayq probe: %s: %s%sno smarthost "
		    "configured\n", conf->path, conf->nroute > 1 ? "route " :
		    "", conf->nroute > 1 ? r->name : "");
		return EX_CONFIG;
	}
	if (r->auth_mechanisms != NULL &&
	    auth_check_list(r->auth_mechanisms, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "relayq probe: %s: %s\n", conf->path,
		    err);
		return EX_CONFIG;
	}
	if (r->auth_user != NULL && r->auth_password_command == NULL &&
	    r->auth_password_file != NULL &&
	    probe_password(r->auth_password_file, pw, sizeof(pw)) == -1)
		return EX_CONFIG;
	for (i = 0; i < r->nhost; i++) {
		if (i > 0)
			(void)printf("\n");
		rc = probe_host(conf, r, &r->host[i], pw);
		(void)printf("result: %s%s%s\n", rc == 0 ? "usable" :
		    rc == PROBE_NET ? "network or SMTP failure" :
		    rc == PROBE_TLS ? "TLS failure" : "AUTH failure",
		    conf->nroute > 1 ? ", route " : "",
		    conf->nroute > 1 ? r->name : "");
		if (rc != 0 && first == 0)
			first = rc;
	}
	explicit_bzero(pw, sizeof(pw));
	return first;
}

/*
 * relayq probe [ROUTE]: every route's smarthosts, or one route's.  The
 * exit status is that of the first failure.
 */
int
probe_main(struct conf *conf, int argc, char *argv[])
{
	const struct route	*one = NULL;
	char			 err[512];
	size_t			 i;
	int			 rc, first = 0;

	if (argc > 2) {
		(void)fprintf(stderr, "usage: relayq probe [route]\n");
		return EX_USAGE;
	}
	if (argc == 2 && (one = route_byname(conf, argv[1])) == NULL) {
		(void)fprintf(stderr, "relayq probe: %s: no route \"%.32s\" "
		    "(the routes are named by \"route NAME\" lines; "
		    "\"default\" is the top-level settings)\n", conf->path,
		    argv[1]);
		return EX_USAGE;
	}
	if (tls_init(conf, err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "relayq probe: %s: %s\n", conf->path,
		    err);
		return EX_CONFIG;
	}
	if (auth_nodump(err, sizeof(err)) == -1) {
		(void)fprintf(stderr, "relayq probe: %s\n", err);
		return EX_OSERR;
	}
	for (i = 0; i < conf->nroute; i++) {
		if (one != NULL && one != &conf->route[i])
			continue;
		if (conf->nroute > 1)
			(void)printf("%sroute %s: senders %s\n", i > 0 &&
			    one == NULL ? "\n" : "", conf->route[i].name,
			    i == 0 ? "(all others)" : conf->route[i].sender);
		rc = probe_route(conf, &conf->route[i]);
		if (rc != 0 && first == 0)
			first = rc;
	}
	return first;
}
