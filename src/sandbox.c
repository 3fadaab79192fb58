/*
 * The daemon's sandbox, applied once start-up is done (config read,
 * password read, CA bundle loaded, spool opened and locked, root dropped)
 * and before the first byte from a smarthost is parsed.
 *
 * Why: the daemon parses what a possibly hostile server sends (the class
 * of OpenSMTPD's CVE-2020-8794).  Should a parser bug still give an
 * attacker code execution, the process can then
 *  - open files only in its spool (read, write, create, rename, remove),
 *    read its config and CA bundle, read the few files name resolution
 *    and time zones need, and map shared libraries (Landlock), and
 *  - make only the system calls this loop makes (seccomp allow-list; any
 *    other stops the process: a loud failure, and mail stays queued).
 *    Never a silent one: the filter traps (SECCOMP_RET_TRAP), and the
 *    SIGSYS handler logs which call it was before the process dies of
 *    that signal (sandbox_sigsys).
 * It still reaches the network: that is its job.  systemd adds more
 * (contrib/relayq.service).  Nothing in it may fork or exec: with
 * auth_password_command, a helper forked before the sandbox runs the
 * command (authcmd.c) and the daemon asks it over a socket.
 *
 * On kernels without Landlock or seccomp it goes on without them and says
 * so in one log line: refusing to deliver mail would help nobody.  In a
 * sanitizer build (make SANITIZE=...) it is not applied at all, since the
 * sanitizer runtimes need /proc, ptrace and their log files.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#include "relayq.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER	1
#endif
#endif

#if defined(__x86_64__)
#define SANDBOX_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_ARCH	AUDIT_ARCH_AARCH64
#endif

/*
 * What name resolution, user and group look-ups, time zones and the TLS
 * library read at run time.  /etc as a whole, not its files one by one:
 * a Landlock rule holds an inode, and /etc/hosts, resolv.conf,
 * nsswitch.conf and gai.conf are replaced by rename (DHCP clients,
 * NetworkManager, configuration management), which cut a daemon with
 * per-file rules off name resolution until restart.  Landlock cannot
 * name files that do not exist yet, so the directory it is.  What that
 * allows beyond the old rules: reading what the relayq user may read in
 * /etc anyway (file modes still apply: not /etc/shadow, not private
 * keys), and it is needed besides: getpwuid and getgrouplist read
 * /etc/passwd and /etc/group for the control socket's rights
 * (drain_ctl.c) and bounces (bounce.c).  Nothing in /etc becomes
 * writable.
 */
static const char *const sandbox_ro[] = {
	"/etc", "/usr/share/zoneinfo", "/dev/urandom", NULL
};

/*
 * Resolver files that are often symbolic links out of /etc: resolv.conf
 * into /run/systemd/resolve (systemd-resolved), /run/resolvconf or
 * /run/NetworkManager, each replaced by rename there.  The directory
 * holding the target, as found at start-up, is readable too (only what
 * is beneath it: /run/systemd/resolve, not /run).  A link re-pointed to
 * another directory later needs a restart.
 */
static const char *const sandbox_links[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
	"/etc/gai.conf", NULL
};

/* NSS modules (libnss_*.so) are loaded on the first lookup: map them */
static const char *const sandbox_rx[] = { "/usr/lib", "/lib", NULL };

#define LL_FILE		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_WRITE_FILE)
#define LL_RO		(LANDLOCK_ACCESS_FS_READ_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_RX		(LL_RO | LANDLOCK_ACCESS_FS_EXECUTE)
#define LL_SPOOL	(LL_FILE | LANDLOCK_ACCESS_FS_READ_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_REFER)
/* everything ABI 2 can restrict: the rest is denied outside the rules */
#define LL_HANDLED	(LANDLOCK_ACCESS_FS_EXECUTE | LL_FILE | \
			 LANDLOCK_ACCESS_FS_READ_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_DIR | \
			 LANDLOCK_ACCESS_FS_REMOVE_FILE | \
			 LANDLOCK_ACCESS_FS_MAKE_CHAR | \
			 LANDLOCK_ACCESS_FS_MAKE_DIR | \
			 LANDLOCK_ACCESS_FS_MAKE_REG | \
			 LANDLOCK_ACCESS_FS_MAKE_SOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_FIFO | \
			 LANDLOCK_ACCESS_FS_MAKE_BLOCK | \
			 LANDLOCK_ACCESS_FS_MAKE_SYM | \
			 LANDLOCK_ACCESS_FS_REFER)

/*
 * One path into the ruleset.  A missing path is skipped (not every system
 * has /etc/gai.conf); the rights are cut to what a file can have.  Also
 * the listener's (listen_sandbox.c).
 */
int
sandbox_rule(int rfd, const char *path, unsigned long long access)
{
	struct landlock_path_beneath_attr	 pb;
	struct stat				 st;
	int					 rc;

	memset(&pb, 0, sizeof(pb));
	if ((pb.parent_fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(pb.parent_fd, &st) == -1) {
		(void)close(pb.parent_fd);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		access &= LL_FILE | LANDLOCK_ACCESS_FS_EXECUTE;
	pb.allowed_access = access;
	rc = (int)syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH,
	    &pb, 0);
	(void)close(pb.parent_fd);
	return rc;
}

/*
 * The directory holding `path', read-only: the file is read again by
 * name later, and a rule on the file itself would hold the inode found
 * now, so one replaced by rename (editors, sed -i, configuration
 * management) could not be opened.  What that allows beyond the file:
 * reading what the daemon's user may read beneath that directory anyway
 * (file modes still apply); nothing becomes writable.  A path without a
 * directory part, or not a regular file, keeps the rule on the file.
 */
static int
sandbox_rule_dir(int rfd, const char *path)
{
	struct stat	 st;
	char		 dir[1024];
	const char	*slash = strrchr(path, '/');

	/* not /dev for "aliases /dev/null" */
	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir) ||
	    stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return sandbox_rule(rfd, path, LL_RO);
	if (slash == path)
		return sandbox_rule(rfd, "/", LL_RO);
	(void)memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return sandbox_rule(rfd, dir, LL_RO);
}

/*
 * Landlock ABI 4 (Linux 6.7) restricts TCP: the daemon connects only to
 * the smarthosts' ports and to 53 (DNS falls back to TCP for a long
 * answer) and binds none.  What it still may: UDP (DNS), UNIX sockets
 * (syslog, the control socket it already listens on), and any address
 * on those ports: Landlock rules name ports, not hosts.  Defined here
 * for older kernel headers; the kernel checks the ABI.
 */
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP	(1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP	(1ULL << 1)
#define LANDLOCK_RULE_NET_PORT		2
#endif
struct sandbox_ruleset_attr {		/* landlock_ruleset_attr, ABI 4 */
	unsigned long long	 handled_access_fs;
	unsigned long long	 handled_access_net;
};
struct sandbox_net_port_attr {		/* landlock_net_port_attr */
	unsigned long long	 allowed_access;
	unsigned long long	 port;
};

/* The TCP ports the daemon may connect to; their list into `ports'. */
static int
sandbox_net(int rfd, const struct conf *conf, char *ports, size_t sz)
{
	struct sandbox_net_port_attr	 na;
	const struct smarthost		*h;
	const char			*errstr;
	size_t				 i, ri;

	(void)strlcpy(ports, "53", sz);
	memset(&na, 0, sizeof(na));
	na.allowed_access = LANDLOCK_ACCESS_NET_CONNECT_TCP;
	na.port = 53;
	if (syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_NET_PORT, &na,
	    0) == -1)
		return -1;
	/* every route's smarthosts (route.c) */
	for (ri = 0; ri < conf->nroute; ri++)
		for (i = 0; i < conf->route[ri].nhost; i++) {
			h = &conf->route[ri].host[i];
			na.port = (unsigned long long)strtonum(h->port, 1,
			    65535, &errstr);
			if (errstr != NULL || syscall(SYS_landlock_add_rule,
			    rfd, LANDLOCK_RULE_NET_PORT, &na, 0) == -1)
				return -1;
			(void)strlcat(ports, ", ", sz);
			(void)strlcat(ports, h->port, sz);
		}
	return 0;
}

/* each route's tls_ca_file, readable */
static int
sandbox_ca_rules(int rfd, const struct conf *conf)
{
	size_t	 i;

	for (i = 0; i < conf->nroute; i++)
		if (conf->route[i].tls_ca_file != NULL &&
		    sandbox_rule(rfd, conf->route[i].tls_ca_file, LL_RO) == -1)
			return -1;
	return 0;
}

/* sandbox_links: the directory of each target outside /etc, readable */
static int
sandbox_link_rules(int rfd)
{
	char	 real[PATH_MAX], *slash;
	size_t	 i;

	for (i = 0; sandbox_links[i] != NULL; i++) {
		if (realpath(sandbox_links[i], real) == NULL ||
		    strncmp(real, "/etc/", 5) == 0 ||
		    (slash = strrchr(real, '/')) == NULL || slash == real)
			continue;	/* missing, in /etc, or in / itself */
		*slash = '\0';
		if (sandbox_rule(rfd, real, LL_RO) == -1)
			return -1;
	}
	return 0;
}

/*
 * A ruleset that handles every file access ABI 2 knows and, from ABI 4,
 * TCP bind and connect: all of it denied but what rules then allow.
 * Also the listener's (listen_sandbox.c).  The descriptor, or -1.
 */
int
sandbox_ruleset(int abi)
{
	struct sandbox_ruleset_attr	 ra;

	memset(&ra, 0, sizeof(ra));
	ra.handled_access_fs = LL_HANDLED;
	if (abi >= 4)
		ra.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		    LANDLOCK_ACCESS_NET_CONNECT_TCP;
	/* before ABI 4 the kernel knows only the first member */
	return (int)syscall(SYS_landlock_create_ruleset, &ra, abi >= 4 ?
	    sizeof(ra) : sizeof(ra.handled_access_fs), 0);
}

/* Landlock ABI version, or -1 with `why' set. */
static int
sandbox_landlock(const struct conf *conf, const char **why, char *ports,
    size_t portsz)
{
	size_t				 i;
	int				 abi, rfd;

	abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		*why = errno == EOPNOTSUPP ? "disabled at boot" :
		    "not in this kernel";
		return -1;
	}
	/* ABI 1 cannot allow a rename between directories (queue/ to
	 * failed/): it would break the spool, so go without */
	if (abi < 2) {
		*why = "ABI 1 cannot allow renames within the spool";
		return -1;
	}
	if ((rfd = sandbox_ruleset(abi)) == -1) {
		*why = "cannot create a ruleset";
		return -1;
	}
	/* the configuration file, read again on reload (drain_conf.c),
	 * and the alias file, which a local sender's bounces follow
	 * (bounce.c): their directories, so that a file replaced by
	 * rename is still read (sandbox_rule_dir) */
	if (sandbox_rule(rfd, conf->spool, LL_SPOOL) == -1 ||
	    sandbox_rule_dir(rfd, conf->path) == -1 ||
	    sandbox_rule_dir(rfd, conf->aliases != NULL ? conf->aliases :
	    SYSCONFDIR "/aliases") == -1 ||
	    sandbox_ca_rules(rfd, conf) == -1 ||
	    (conf->log != NULL && conf->log[0] == '/' &&
	    sandbox_rule(rfd, conf->log, LANDLOCK_ACCESS_FS_WRITE_FILE) == -1)) {
		*why = "cannot add a rule";
		(void)close(rfd);
		return -1;
	}
	for (i = 0; sandbox_ro[i] != NULL; i++)
		if (sandbox_rule(rfd, sandbox_ro[i], LL_RO) == -1) {
			*why = "cannot add a rule";
			(void)close(rfd);
			return -1;
		}
	if (sandbox_link_rules(rfd) == -1) {
		*why = "cannot add a rule";
		(void)close(rfd);
		return -1;
	}
	for (i = 0; sandbox_rx[i] != NULL; i++)
		if (sandbox_rule(rfd, sandbox_rx[i], LL_RX) == -1) {
			*why = "cannot add a rule";
			(void)close(rfd);
			return -1;
		}
	ports[0] = '\0';
	if (abi >= 4 && sandbox_net(rfd, conf, ports, portsz) == -1) {
		*why = "cannot add a network rule";
		(void)close(rfd);
		return -1;
	}
	if (syscall(SYS_landlock_restrict_self, rfd, 0) == -1) {
		*why = "restrict_self failed";
		(void)close(rfd);
		return -1;
	}
	(void)close(rfd);
	return abi;
}

#ifdef SANDBOX_ARCH
/*
 * The system calls of the delivery loop: the spool (openat, pread,
 * rename, fsync...), logging (file or syslog), inotify, poll, DNS (UDP,
 * TCP, NSS modules loaded with mmap), TLS (getrandom), signals, time.
 */
static const int sandbox_syscalls[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64,
	SYS_pwrite64, SYS_openat, SYS_close, SYS_lseek, SYS_fstat,
	SYS_fstatfs,	/* queue_minfree of a socket submission (spool.c) */
	SYS_newfstatat, SYS_statx, SYS_fsync, SYS_fdatasync, SYS_ftruncate,
	SYS_getdents64, SYS_renameat, SYS_renameat2, SYS_unlinkat, SYS_fcntl,
	SYS_flock, SYS_faccessat, SYS_readlinkat, SYS_dup, SYS_dup3,
	SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_mprotect, SYS_madvise,
	SYS_clock_gettime, SYS_gettimeofday, SYS_nanosleep,
	SYS_clock_nanosleep, SYS_ppoll, SYS_pselect6, SYS_inotify_add_watch,
	SYS_socket, SYS_connect, SYS_getsockopt, SYS_setsockopt,
	SYS_accept4,	/* the control socket (ctl.c) */
	SYS_getsockname, SYS_getpeername, SYS_sendto, SYS_recvfrom,
	SYS_sendmsg, SYS_recvmsg, SYS_sendmmsg, SYS_shutdown, SYS_bind,
	SYS_uname, SYS_getrandom, SYS_futex, SYS_rt_sigaction,
	SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack,
	SYS_restart_syscall, SYS_getpid, SYS_gettid, SYS_tgkill, SYS_getuid,
	SYS_kill,	/* crash points of test builds (crash.h): only our uid */
	SYS_geteuid, SYS_getgid, SYS_getegid, SYS_sched_yield, SYS_exit,
	SYS_exit_group,
#ifdef SYS_open
	SYS_open, SYS_stat, SYS_lstat, SYS_poll, SYS_select, SYS_access,
	SYS_readlink, SYS_rename, SYS_unlink, SYS_time,
#endif
#ifdef SYS_rseq
	SYS_rseq,
#endif
};

#define SANDBOX_NSYS	(sizeof(sandbox_syscalls) / sizeof(sandbox_syscalls[0]))

static int
sandbox_seccomp(void)
{
	struct sock_filter	 f[SANDBOX_NSYS + 18];
	struct sock_fprog	 prog;
	size_t			 i, n = 0;

	/* the right architecture, else kill (no x32 or i386 entry points) */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SANDBOX_ARCH, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	    0x40000000, 0, 1);	/* __X32_SYSCALL_BIT */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_KILL_PROCESS);
#endif
	/*
	 * ioctl: only what the resolver and sockets use (FIONREAD, FIONBIO);
	 * others fail with ENOTTY (isatty), so no TIOCSTI into a terminal
	 */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SYS_ioctl, 0, 5);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, args[1]));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    FIONREAD, 2, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    FIONBIO, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ERRNO | ENOTTY);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	/* prctl: some library code asks for process attributes in the
	 * loop; refused without killing (nothing here depends on it) */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    SYS_prctl, 0, 1);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ERRNO | EPERM);
	/* each allowed call: if equal, jump to the ALLOW at the end */
	for (i = 0; i < SANDBOX_NSYS; i++)
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		    (unsigned int)sandbox_syscalls[i],
		    (unsigned char)(SANDBOX_NSYS - i), 0);
	/* any other: SIGSYS, which sandbox_sigsys logs before dying */
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_TRAP);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)n;
	prog.filter = f;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* Names for the log of the calls code run by mistake is likely to
 * make; any other is logged by its number alone. */
static const struct {
	int		 nr;
	const char	*name;
} sandbox_names[] = {
	{ SYS_sysinfo, "sysinfo" }, { SYS_execve, "execve" },
	{ SYS_execveat, "execveat" }, { SYS_clone, "clone" },
#ifdef SYS_clone3
	{ SYS_clone3, "clone3" },
#endif
#ifdef SYS_fork
	{ SYS_fork, "fork" }, { SYS_vfork, "vfork" },
#endif
	{ SYS_wait4, "wait4" }, { SYS_ptrace, "ptrace" },
	{ SYS_socketpair, "socketpair" }, { SYS_pipe2, "pipe2" },
	{ SYS_epoll_create1, "epoll_create1" }, { SYS_getcwd, "getcwd" },
	{ SYS_sched_getaffinity, "sched_getaffinity" },
	{ SYS_prlimit64, "prlimit64" }, { SYS_mkdirat, "mkdirat" },
	{ SYS_fchmod, "fchmod" }, { SYS_fchown, "fchown" },
	{ SYS_linkat, "linkat" }, { SYS_symlinkat, "symlinkat" },
	{ SYS_memfd_create, "memfd_create" }, { SYS_setsid, "setsid" },
	{ SYS_listen, "listen" }, { SYS_mount, "mount" },
};

/*
 * SIGSYS from the filter: a system call outside the allow-list, which
 * the kernel did not run.  Says which in the log, with write(2) only
 * (log_signal_safe), then dies of SIGSYS (SA_RESETHAND made it the
 * default action again), so that a supervisor sees what it always saw.
 * Not returning keeps code that hit the filter from going on after a
 * call it believes was made.
 */
static void
sandbox_sigsys(int sig, siginfo_t *si, void *uc)
{
	char		 msg[256], num[16];
	const char	*name = NULL;
	size_t		 i, k = sizeof(num) - 1;
	unsigned int	 nr = (unsigned int)si->si_syscall;

	(void)uc;
	num[k] = '\0';
	do {
		num[--k] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr > 0 && k > 0);
	for (i = 0; i < sizeof(sandbox_names) / sizeof(sandbox_names[0]); i++)
		if (sandbox_names[i].nr == si->si_syscall)
			name = sandbox_names[i].name;
	msg[0] = '\0';
	(void)strlcat(msg, "sandbox: system call ", sizeof(msg));
	(void)strlcat(msg, num + k, sizeof(msg));
	if (name != NULL) {
		(void)strlcat(msg, " (", sizeof(msg));
		(void)strlcat(msg, name, sizeof(msg));
		(void)strlcat(msg, ")", sizeof(msg));
	}
	(void)strlcat(msg, " refused by the seccomp filter: stopping with "
	    "SIGSYS; queued mail is safe.  Please report this line as a "
	    "relayq bug", sizeof(msg));
	log_signal_safe(msg);
	(void)raise(sig);
}

/* Before the filter: the handler, and the log's descriptor it needs. */
static void
sandbox_trap_init(void)
{
	struct sigaction	 sa;

	log_signal_prepare();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	(void)sigaction(SIGSYS, &sa, NULL);
}
#endif /* SANDBOX_ARCH */

#ifdef RELAYQ_TEST
/*
 * Test builds only (test/relayq-crash; an installed binary has no such
 * code and never reads these variables): right after the sandbox, do
 * what code run through a parser bug would do first, so that
 * test/t_sandbox_auth.sh sees the sandbox stop it.  RELAYQ_TEST_EXEC=F:
 * execve /bin/sh to create F; RELAYQ_TEST_FORK=F: fork, and the child
 * does that.  Under the sandbox either call kills the daemon with
 * SIGSYS; with Landlock alone the exec fails, and says so in the log;
 * without a sandbox (test/nosandbox) F appears.
 */
/* RELAYQ_TEST_CONNECT=PORT: a TCP connection to 127.0.0.1:PORT, logged */
static void
sandbox_test_connect(const char *port)
{
	struct sockaddr_in	 sin;
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(port));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		log_warn("sandbox test: connect to port %s", port);
	else
		log_info("sandbox test: connect to port %s: connected", port);
	if (fd != -1)
		(void)close(fd);
}

static void
sandbox_test_escape(void)
{
	const char	*f;

	if ((f = getenv("RELAYQ_TEST_EXEC")) != NULL) {
		execl("/bin/sh", "sh", "-c", ": > \"$0\"", f, (char *)NULL);
		log_warn("sandbox test: exec /bin/sh");
	}
	if ((f = getenv("RELAYQ_TEST_CONNECT")) != NULL)
		sandbox_test_connect(f);
	if ((f = getenv("RELAYQ_TEST_FORK")) != NULL && fork() == 0) {
		execl("/bin/sh", "sh", "-c", ": > \"$0\"", f, (char *)NULL);
		log_warn("sandbox test: exec /bin/sh");
		_exit(127);
	}
}
#endif

void
sandbox_apply(const struct conf *conf)
{
	const char	*why = NULL;
	char		 ll[96], sc[64], ports[CONF_MAXHOSTS * 8 + 8];
	int		 abi;

#ifdef SANDBOX_SANITIZER
	(void)conf;
	log_warnx("sandbox: not applied in a sanitizer build");
	return;
#endif
	/*
	 * Always applied, auth_password_command or not: the command runs in
	 * a helper forked before this point (authcmd.c), so the daemon
	 * itself never forks, execs or waits, and the allow-list has none
	 * of those calls.
	 */
	/* both need it, and it keeps set-uid programs from gaining rights */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		log_warn("sandbox: not applied: PR_SET_NO_NEW_PRIVS");
		return;
	}
	if ((abi = sandbox_landlock(conf, &why, ports, sizeof(ports))) == -1)
		(void)snprintf(ll, sizeof(ll), "Landlock unavailable (%s)",
		    why);
	else
		(void)snprintf(ll, sizeof(ll), "Landlock ABI %d", abi);
#ifdef SANDBOX_ARCH
	sandbox_trap_init();
	if (sandbox_seccomp() == -1)
		(void)snprintf(sc, sizeof(sc), "seccomp unavailable (%s)",
		    strerror(errno));
	else
		(void)strlcpy(sc, "seccomp allow-list", sizeof(sc));
#else
	(void)strlcpy(sc, "seccomp unavailable (architecture)", sizeof(sc));
#endif
	if (abi == -1 || strncmp(sc, "seccomp allow", 13) != 0)
		log_warnx("sandbox: partial or none, running anyway: %s, %s",
		    ll, sc);
	else
		log_info("sandbox: %s, %s", ll, sc);
	if (abi >= 4)
		log_info("Landlock network rules: TCP connect to port %s "
		    "only, no bind", ports);
#ifdef RELAYQ_TEST
	sandbox_test_escape();
#endif
}
