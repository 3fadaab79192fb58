/*
 * nosandbox [-s] PROGRAM [ARG...]: run PROGRAM as on a kernel without
 * Landlock and seccomp, for test/t_sandbox.sh: a seccomp filter of our
 * own makes landlock_create_ruleset, landlock_add_rule,
 * landlock_restrict_self and seccomp fail with ENOSYS, then PROGRAM is
 * executed.  With -s only seccomp is missing, and Landlock works
 * (test/t_sandbox_auth.sh: what Landlock alone stops).
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#define NOSYS(nr)							\
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),		\
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS)

int
main(int argc, char *argv[])
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		NOSYS(SYS_seccomp),
		NOSYS(SYS_landlock_create_ruleset),
		NOSYS(SYS_landlock_add_rule),
		NOSYS(SYS_landlock_restrict_self),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (argc > 1 && strcmp(argv[1], "-s") == 0) {
		/* seccomp only: the NOSYS pair for it, then ALLOW */
		/* (read through prog.filter, which cppcheck does not see) */
		/* cppcheck-suppress unreadVariable */
		f[3] = f[sizeof(f) / sizeof(f[0]) - 1];
		prog.len = 4;
		argv++;
		argc--;
	}
	if (argc < 2) {
		(void)fprintf(stderr, "usage: nosandbox [-s] program "
		    "[arg ...]\n");
		return 2;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == -1) {
		perror("nosandbox: seccomp");
		return 1;
	}
	(void)execv(argv[1], argv + 1);
	perror(argv[1]);
	return 127;
}
