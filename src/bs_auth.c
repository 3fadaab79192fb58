/*
 * sendmail -bs under the listener's session helper (listen_session.c):
 * the control channel's first message (bs_helped), AUTH PLAIN and LOGIN
 * (RFC 4954, 4616), whose passwords the helper checks, and STARTTLS
 * (RFC 3207), whose TLS the helper does.  This program holds neither
 * the password hashes nor the TLS key; it parses the client's SASL
 * responses (sasl.c) and drops the plaintext around STARTTLS.  The rest
 * of the session is bs.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/string.h>

#include "relayq.h"
#include "msg.h"
#include "lproto.h"
#include "bs.h"

/*
 * AUTH and STARTTLS exist only under the listener's session helper
 * (io->ctl, listen_proto.c), which holds the password hashes and the
 * TLS key: this program holds neither.  AUTH is offered only over TLS,
 * or before it to a loopback client (a password is never sent in the
 * clear over a network); STARTTLS once.
 */
int
bs_auth_offered(const struct bs *b)
{
	return b->io->ctl != -1 && (b->io->flags & LPROTO_F_AUTH) &&
	    (b->tls || (b->io->flags & LPROTO_F_PLAINAUTH));
}

int
bs_tls_offered(const struct bs *b)
{
	return b->io->ctl != -1 && (b->io->flags & LPROTO_F_TLS) && !b->tls;
}

/* A SASL response line into b->line: 0, or -1 when the client is gone
 * (b->ioerr or the end of input) */
static int
bs_sasl_response(struct bs *b, const char *challenge)
{
	if (bs_reply(b, "334 %s", challenge) == -1)
		return -1;
	return bs_command(b) == 1 ? 0 : -1;
}

/*
 * AUTH PLAIN [initial] and AUTH LOGIN [user] (RFC 4954, 4616): the
 * helper checks the password.  0 while the session goes on, -1 when it
 * ends (the client is gone, the third failure, the helper is gone).
 */
int
bs_auth(struct bs *b, char *arg, const char *host)
{
	char		 mech[16], init[BS_LINEMAX + 1], line[LPROTO_LINEMAX];
	char		 user[SASL_USERMAX + 1], pass[SASL_PASSMAX + 1];
	char		 why[128], safe[4 * 64 + 1];
	struct lproto_msg m;
	ssize_t		 pl = -1;
	int		 rc = 0;

	if (!bs_auth_offered(b)) {
		bs_reply(b, "503 5.5.1 Error: authentication not enabled");
		return 0;
	}
	if (b->auth_user != NULL || b->mail) {
		bs_reply(b, "503 5.5.1 Error: %s", b->mail ? "MAIL transaction "
		    "in progress" : "already authenticated");
		return 0;
	}
	(void)strlcpy(mech, arg, sizeof(mech));
	mech[strcspn(mech, " ")] = '\0';
	(void)strlcpy(init, arg + strcspn(arg, " "), sizeof(init));
	(void)memmove(init, init + strspn(init, " "), strlen(init +
	    strspn(init, " ")) + 1);
	explicit_bzero(b->line, sizeof(b->line));
	if (strcasecmp(mech, "PLAIN") == 0) {
		(void)strlcpy(mech, "PLAIN", sizeof(mech));
		if (init[0] == '\0') {
			if (bs_sasl_response(b, "") == -1)
				goto gone;
			(void)strlcpy(init, b->line, sizeof(init));
		}
		if (strcmp(init, "*") != 0)
			pl = sasl_plain(strcmp(init, "=") == 0 ? "" : init, user,
			    sizeof(user), pass, sizeof(pass));
	} else if (strcasecmp(mech, "LOGIN") == 0) {
		(void)strlcpy(mech, "LOGIN", sizeof(mech));
		/* "Username:", "Password:" */
		if (init[0] == '\0') {
			if (bs_sasl_response(b, "VXNlcm5hbWU6") == -1)
				goto gone;
			(void)strlcpy(init, b->line, sizeof(init));
		}
		if (strcmp(init, "*") != 0 && sasl_login(init, 1, user,
		    sizeof(user)) != -1) {
			if (bs_sasl_response(b, "UGFzc3dvcmQ6") == -1)
				goto gone;
			(void)strlcpy(init, b->line, sizeof(init));
			if (strcmp(init, "*") != 0)
				pl = sasl_login(init, 0, pass, sizeof(pass));
		}
	} else {
		bs_reply(b, "504 5.5.4 Unrecognized authentication type");
		goto done;
	}
	if (strcmp(init, "*") == 0) {
		bs_reply(b, "501 5.7.0 Authentication aborted");
		goto done;
	}
	if (pl == -1) {
		bs_reply(b, "501 5.5.2 Cannot decode the response");
		goto done;
	}
	if (lproto_send(b->io->ctl, "A %s %s %s", mech, user, pass) == -1 ||
	    lproto_getline(b->io->ctl, line, sizeof(line)) == -1 ||
	    lproto_parse(line, strlen(line), &m, why, sizeof(why)) == -1 ||
	    (m.type != LPROTO_YES && m.type != LPROTO_NO)) {
		bs_reply(b, "454 4.7.0 Temporary authentication failure");
		bs_log_end(b, "the session helper is gone");
		rc = -1;
		goto done;
	}
	util_sanitise(safe, sizeof(safe), user, strnlen(user, 64));
	if (m.type == LPROTO_YES) {
		if ((b->auth_user = strdup(user)) == NULL)
			err(EX_OSERR, "-bs");
		bs_reply(b, "235 2.7.0 Authentication successful");
		goto done;
	}
	log_warnx("smtpd: client=%s: AUTH %s failed for user \"%s\": 535",
	    b->io->client != NULL ? b->io->client : "(local)", mech, safe);
	bs_reply(b, "535 5.7.8 Error: authentication failed");
	if (++b->authfail >= BS_AUTHMAX) {
		bs_reply(b, "421 4.7.0 %s Error: too many failed "
		    "authentications", host);
		bs_log_end(b, "too many failed authentications");
		rc = -1;
	}
	goto done;
 gone:
	rc = -1;
 done:
	explicit_bzero(init, sizeof(init));
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(line, sizeof(line));
	explicit_bzero(b->line, sizeof(b->line));
	explicit_bzero(&m, sizeof(m));
	return rc;
}

/*
 * STARTTLS (RFC 3207).  The helper answers 220 and does the TLS; here
 * the plaintext is dropped twice: what is buffered when the command is read (pipelined
 * behind it: the command injection of CVE-2011-0411), and what the
 * helper relayed before it stopped, still in the socket when it says
 * TLS is up.  Then everything the client said before is forgotten: it
 * must send EHLO again, and STARTTLS is no longer offered.  0 while the
 * session goes on, -1 when it ends (the handshake failed: the helper
 * logged why).
 */
int
bs_starttls(struct bs *b, const char *arg)
{
	char	 line[LPROTO_LINEMAX], junk[4096];

	if (b->io->ctl == -1 || !(b->io->flags & LPROTO_F_TLS)) {
		bs_reply(b, "502 5.5.1 Error: command not implemented");
		return 0;
	}
	if (b->tls) {
		bs_reply(b, "554 5.5.1 Error: TLS already active");
		return 0;
	}
	if (arg[0] != '\0') {
		bs_reply(b, "501 5.5.4 Syntax: STARTTLS");
		return 0;
	}
	/* the helper writes the 220 itself, once it reads no more
	 * plaintext from the client: were it ours, the client could
	 * answer it with its TLS hello before the helper had our T, and
	 * the helper would relay that hello here as plaintext */
	b->pos = b->len;
	if (lproto_send(b->io->ctl, "T") == -1 ||
	    lproto_getline(b->io->ctl, line, sizeof(line)) == -1 ||
	    strcmp(line, "R") != 0)
		return -1;
	while (recv(b->io->in, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	if (lproto_send(b->io->ctl, "G") == -1)
		return -1;
	b->tls = 1;
	bs_reset(b);
	free(b->helo);
	b->helo = NULL;
	b->esmtp = 0;
	free(b->auth_user);
	b->auth_user = NULL;
	return 0;
}

/*
 * Run by the listener's session helper (listen_session.c): standard
 * input and output are a socket to it, descriptor 3 its control
 * channel, and its first message says who the client is and what it
 * may do.  A local user who sets the variable and a descriptor 3 of its
 * own gains nothing: it can send mail with sendmail anyway, and the
 * passwords are checked by whoever holds descriptor 3.
 */
void
bs_helped(struct bs_io *io, char *client, size_t sz, time_t timeout)
{
	struct timeval		 tv = { timeout, 0 };
	struct lproto_msg	 m;
	char			 line[LPROTO_LINEMAX], why[128];

	(void)unsetenv(LPROTO_ENV);
	if (fcntl(LPROTO_FD, F_SETFD, FD_CLOEXEC) == -1 ||
	    setsockopt(LPROTO_FD, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == -1)
		err(EX_OSERR, "-bs: control channel (descriptor %d)",
		    LPROTO_FD);
	if (lproto_getline(LPROTO_FD, line, sizeof(line)) == -1)
		err(EX_PROTOCOL, "-bs: control channel");
	if (lproto_parse(line, strlen(line), &m, why, sizeof(why)) == -1 ||
	    m.type != LPROTO_START)
		errx(EX_PROTOCOL, "-bs: control channel: %s", m.type ==
		    LPROTO_START ? why : "no start message");
	(void)strlcpy(client, m.client, sz);
	io->client = client;
	io->flags = m.flags;
	io->ctl = LPROTO_FD;
}
