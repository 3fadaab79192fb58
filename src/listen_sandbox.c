/*
 * The listener's sandbox (relayq smtpd, listen.c), applied once its
 * sockets are open and root is dropped, before the first client.  It
 * holds for the listener and, inherited across fork and exec, for every
 * sendmail -bs session it starts, which parses what a client on the
 * network sends.  Should that code be subverted, the process can then
 *  - open only the spool (to queue), its configuration and alias file,
 *    its log file, /dev/null, the handful of files in /etc that user
 *    look-ups, time zones and the dynamic loader read, and map and run
 *    the libraries and our sendmail (Landlock).  Rules per file in /etc,
 *    not /etc whole as the daemon has it: the smarthost secret
 *    (auth_password_file, /etc/relayq.secret as installed) is in /etc,
 *    and this process must never read it.  The price: a file in that
 *    list replaced by rename (useradd rewrites /etc/passwd so) is out of
 *    reach until the listener restarts; sendmail then names a sender
 *    "uidN" instead of the user name, nothing worse.
 *  - neither bind nor connect a TCP socket (Landlock ABI 4): its
 *    sockets are open already, and it talks to no one.
 * The password hashes and the TLS key (listen_auth_file,
 * listen_tls_key) were read before it, as root: the session helpers
 * hold them in memory and need no rule for them.
 * No set-ID program gains rights under it (no_new_privs).  No seccomp
 * filter: the listener executes sendmail, so an allow-list would be
 * sendmail's whole program; systemd adds one for both
 * (contrib/relayq-smtp.service).  As for the daemon, a kernel without
 * Landlock leaves it unconfined, with one log line saying so, and a
 * sanitizer build applies none.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "relayq.h"
#include "listen.h"

#if defined(__SANITIZE_ADDRESS__)
#define LISTEN_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LISTEN_SANITIZER	1
#endif
#endif

#define LS_READ		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
#define LS_EXEC		(LS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define LS_RW		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE)
#define LS_SPOOL	(LS_RW | LANDLOCK_ACCESS_FS_READ_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_REG)

/* user and group look-ups, host name, time zone, the dynamic loader */
static const char *const listen_etc[] = {
	"/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/mailname",
	"/etc/hosts", "/etc/host.conf", "/etc/resolv.conf", "/etc/gai.conf",
	"/etc/localtime", "/etc/ld.so.cache", "/etc/ld.so.preload",
	"/usr/share/zoneinfo", NULL
};
static const char *const listen_libs[] = {
	"/usr/lib", "/lib", "/usr/lib64", "/lib64", NULL
};

/* The rules; the ABI version, or -1 with errno. */
static int
listen_landlock(const struct conf *conf, const char *sendmail)
{
	size_t			 i;
	int			 abi, rfd, rc = 0;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 2) {
		/* the shared ruleset handles REFER: ABI 2, Linux 5.19 */
		errno = abi < 0 ? errno : ENOTSUP;
		return -1;
	}
	if ((rfd = sandbox_ruleset(abi)) == -1)
		return -1;
	if (sandbox_rule(rfd, conf->spool, LS_SPOOL) == -1 ||
	    sandbox_rule(rfd, conf->path, LS_READ) == -1 ||
	    sandbox_rule(rfd, conf->aliases != NULL ? conf->aliases :
	    SYSCONFDIR "/aliases", LS_READ) == -1 ||
	    sandbox_rule(rfd, "/dev/null", LS_RW) == -1 ||
	    sandbox_rule(rfd, sendmail, LS_EXEC) == -1 ||
	    (conf->log != NULL && conf->log[0] == '/' &&
	    sandbox_rule(rfd, conf->log, LANDLOCK_ACCESS_FS_WRITE_FILE) == -1))
		rc = -1;
	for (i = 0; rc == 0 && listen_etc[i] != NULL; i++)
		rc = sandbox_rule(rfd, listen_etc[i], LS_READ);
	for (i = 0; rc == 0 && listen_libs[i] != NULL; i++)
		rc = sandbox_rule(rfd, listen_libs[i], LS_EXEC);
	if (rc == 0)
		rc = (int)syscall(SYS_landlock_restrict_self, rfd, 0);
	(void)close(rfd);
	return rc == -1 ? -1 : abi;
}

/* 0, or -1 with what is missing in `why' (the listener goes on) */
int
listen_sandbox(const struct conf *conf, const char *sendmail, char *why,
    size_t whysz)
{
	int	 abi;

#ifdef LISTEN_SANITIZER
	(void)conf;
	(void)sendmail;
	(void)snprintf(why, whysz, "sandbox: not applied in a sanitizer "
	    "build");
	return -1;
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		(void)snprintf(why, whysz, "sandbox: not applied: "
		    "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return -1;
	}
	if ((abi = listen_landlock(conf, sendmail)) == -1) {
		(void)snprintf(why, whysz, "sandbox: none, running anyway: "
		    "Landlock unavailable (%s)", strerror(errno));
		return -1;
	}
	log_info("smtpd: sandbox: Landlock ABI %d%s, for every session too",
	    abi, abi >= 4 ? ", no TCP bind or connect" : "");
	return 0;
}
