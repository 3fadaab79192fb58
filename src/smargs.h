/*
 * sendmail(8)'s command line (smargs.c): a pure parser, shared by
 * sendmail.c, the unit tests and the fuzz target test/fuzz/fuzz_argv.c.
 */
#ifndef SMARGS_H
#define SMARGS_H

struct smargs {
	int		 mode;		/* -b: 'm', 'p', 'i', 's', 'v', 'h' */
	int		 tflag;
	int		 iflag;
	int		 verbose;
	const char	*sender;	/* -f/-r, NULL = from the uid */
	const char	*fullname;	/* -F */
	const char	*config;	/* -C */
	enum body_decl	 body_decl;	/* -B */
	unsigned int	 notify;	/* -N: DSN_NOTIFY_* */
	enum dsn_ret	 dsn_ret;	/* -R */
	const char	*envid;		/* -V */
	int		 qflag;		/* -q: 'R' all, 'I' one */
	const char	*qid;		/* -qI<id> */
	char		**rcpt;
	int		 nrcpt;
};

/*
 * Why the command line was refused: the caller prints msg (when not
 * empty) as its error, then the usage line when usage is set, and exits
 * with code.  code EX_OK with an empty msg: nothing to do (-q30m).
 */
struct smargs_err {
	int		 code;
	int		 usage;
	char		 msg[128];
};

/* smargs.c */
int	 smargs_parse(int, char **, struct smargs *, struct smargs_err *);

#endif /* SMARGS_H */
