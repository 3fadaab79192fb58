/*
 * relayq import: read the configuration of ssmtp, msmtp, nullmailer, dma
 * or a Postfix null client and print the equivalent relayq.conf (the
 * parsers are in import_parse.c).
 *
 * Switching must be cheap, but never at the cost of the secret: the
 * password found in the old files goes to stdout only when asked for with
 * --print-password, else to a new 0600 file (-p), else nowhere, and
 * stderr says where relayq expects it.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "relayq.h"
#include "import.h"

#define IMPORT_MAXFILE	(1024 * 1024)
#define IMPORT_PWFILE	SYSCONFDIR "/relayq.secret"

static void __attribute__((noreturn))
import_usage(void)
{
	(void)fprintf(stderr, "usage: relayq import [--from "
	    "ssmtp|msmtp|nullmailer|dma|postfix] [-a account]\n"
	    "           [-c canonical-file] [-p password-file | "
	    "--print-password] file ...\n");
	exit(EX_USAGE);
}

static enum import_from
import_guess(const char *path)
{
	const char	*b = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 :
			    path;

	if (strcmp(b, "ssmtp.conf") == 0)
		return IMPORT_SSMTP;
	if (strcmp(b, ".msmtprc") == 0 || strcmp(b, "msmtprc") == 0)
		return IMPORT_MSMTP;
	if (strcmp(b, "remotes") == 0)
		return IMPORT_NULLMAILER;
	if (strcmp(b, "dma.conf") == 0)
		return IMPORT_DMA;
	if (strcmp(b, "main.cf") == 0)
		return IMPORT_POSTFIX;
	return IMPORT_NONE;
}

/* the whole file, at most IMPORT_MAXFILE bytes; NULL with err set */
static char *
import_read(const char *path, size_t *lenp, char *err, size_t errsz)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > IMPORT_MAXFILE) {
		(void)snprintf(err, errsz, "%s: not a regular file of at most "
		    "1 MB", path);
		(void)close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		(void)snprintf(err, errsz, "out of memory");
		(void)close(fd);
		return NULL;
	}
	while (len < (size_t)st.st_size &&
	    (r = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			(void)snprintf(err, errsz, "%s: %s", path,
			    strerror(errno));
			freezero(buf, (size_t)st.st_size + 1);
			(void)close(fd);
			return NULL;
		}
		len += (size_t)r;
	}
	(void)close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * The secret in a new file: O_EXCL so an existing secret (or a link
 * planted in its place) is never overwritten, mode 0600 from creation,
 * owned by the daemon's user when root runs this, as relayq drain demands.
 */
static int
import_write_secret(const char *path, const char *pw, char *err,
    size_t errsz)
{
	struct passwd	*pwd;
	int		 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		(void)snprintf(err, errsz, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (not overwritten: remove it first)" :
		    "");
		return -1;
	}
	if (util_writeall(fd, pw, strlen(pw)) == -1 ||
	    util_writeall(fd, "\n", 1) == -1 || fsync(fd) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		return -1;
	}
	if (geteuid() == 0) {
		if ((pwd = getpwnam(RELAYQ_USER)) == NULL)
			(void)fprintf(stderr, "relayq import: no user %s yet: "
			    "chown %s to it before starting relayq\n",
			    RELAYQ_USER, path);
		else if (fchown(fd, pwd->pw_uid, pwd->pw_gid) == -1) {
			(void)snprintf(err, errsz, "%s: chown: %s", path,
			    strerror(errno));
			(void)close(fd);
			return -1;
		}
	}
	if (close(fd) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The sender canonical maps the configuration names (import_canon.c),
 * read as the program would read them: Postfix's sender_canonical_maps
 * and smtp_generic_maps, ssmtp's revaliases beside ssmtp.conf unless it
 * was given.  A map we cannot read is a note; revaliases may not exist.
 */
static int
import_follow_canon(struct import *ic, int given, char *err, size_t errsz)
{
	struct import_map	 maps[IMPORT_MAXMAPS];
	char			*buf, why[1200];
	size_t			 n, i, len = 0;
	int			 rc;

	n = import_canon_maps(ic, maps, IMPORT_MAXMAPS);
	for (i = 0; i < n; i++) {
		if (maps[i].kind == IMPORT_MAP_REVALIASES && given)
			continue;
		if ((buf = import_read(maps[i].path, &len, why,
		    sizeof(why))) == NULL) {
			if (maps[i].kind != IMPORT_MAP_REVALIASES ||
			    errno != ENOENT)
				import_note(ic, "%s: its entries not converted",
				    why);
			continue;
		}
		if (maps[i].kind == IMPORT_MAP_REVALIASES)
			rc = import_ssmtp_revaliases(ic, maps[i].path, buf, len,
			    err, errsz);
		else if (maps[i].kind == IMPORT_MAP_RELAYHOST)
			rc = import_postfix_routes(ic, &maps[i], buf, len, err,
			    errsz);
		else
			rc = import_canon_postfix(ic, &maps[i], buf, len, err,
			    errsz);
		free(buf);
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * Each route's secret, beside the main one (import_route_pwfile), when
 * -p was given; else where relayq will look for it.
 */
static int
import_route_secrets(const struct import *ic, const char *pwfile, int write,
    char *err, size_t errsz)
{
	const struct import_route	*r;
	char				 path[1100];
	size_t				 i;

	for (i = 0; i < ic->nroute; i++) {
		r = &ic->route[i];
		if (r->user[0] == '\0')
			continue;
		import_route_pwfile(pwfile, r->name, path, sizeof(path));
		if (r->password != NULL && write) {
			if (import_write_secret(path, r->password, err,
			    errsz) == -1)
				return -1;
			(void)fprintf(stderr, "relayq import: route %s: the "
			    "password from %s is in %s (mode 0600)\n", r->name,
			    r->pwsrc, path);
		} else
			(void)fprintf(stderr, "relayq import: route %s: put its "
			    "password in %s, owned by user %s, mode 0600%s\n",
			    r->name, path, RELAYQ_USER, r->password != NULL ?
			    " (run again with -p to write it there)" : "");
	}
	return 0;
}

/* The map, in a new file (O_EXCL: an existing one is never replaced) */
static int
import_write_canon(const struct import *ic, const char *path,
    const char *files, char *err, size_t errsz)
{
	FILE	*fp;
	int	 fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) == -1) {
		(void)snprintf(err, errsz, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (not overwritten: remove it first)" :
		    "");
		return -1;
	}
	/* sendmail reads it with each caller's rights, whatever the umask */
	if (fchmod(fd, 0644) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	if (import_canon_write(ic, fp, files) == -1 || fsync(fd) == -1) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		(void)fclose(fp);
		(void)unlink(path);
		return -1;
	}
	if (fclose(fp) == EOF) {
		(void)snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* relayq.conf wants an absolute path: `arg' made one into `out' */
static void
import_abspath(const char *opt, const char *arg, char *out, size_t sz)
{
	char	 cwd[1024];

	if (arg[0] == '/') {
		if (strlcpy(out, arg, sz) >= sz)
			errx(EX_USAGE, "%s: path too long", opt);
	} else if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    (size_t)snprintf(out, sz, "%s/%s", cwd, arg) >= sz)
		errx(EX_USAGE, "%s %s: cannot make the path absolute", opt,
		    arg);
}

static int
import_file(struct import *ic, enum import_from from, const char *path,
    int second, const char *account, char *err, size_t errsz)
{
	char	*buf;
	size_t	 len = 0;
	int	 rc;

	if ((buf = import_read(path, &len, err, errsz)) == NULL)
		return -2;
	rc = import_format_parse(ic, from, path, second, account, buf, len, err,
	    errsz);
	freezero(buf, len + 1);
	return rc;
}

/*
 * With only the main file given, read the password file it names, as the
 * program itself would.  A file we cannot read is a note, not an error:
 * the configuration is still worth printing.
 */
static void
import_follow(struct import *ic, const char *account)
{
	char	 path[1024], err[1200];
	int	 r;

	if ((r = import_format_companion(ic, path, sizeof(path))) == 0)
		return;
	if (r == -1) {
		import_note(ic, "%s: %s: give the password file as the "
		    "second file", ic->mainname, path);
		return;
	}
	if (import_file(ic, ic->from, path, 1, account, err,
	    sizeof(err)) < 0)
		import_note(ic, "%s (give a readable copy as the second "
		    "file)", err);
	else
		import_note(ic, "read the passwords from %s, named in %s",
		    path, ic->mainname);
}

int
import_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "from",		required_argument, NULL, 'F' },
		{ "account",		required_argument, NULL, 'a' },
		{ "password-file",	required_argument, NULL, 'p' },
		{ "print-password",	no_argument,	   NULL, 'P' },
		{ "canonical-file",	required_argument, NULL, 'c' },
		{ NULL,			0,		   NULL, 0 },
	};
	struct import	 ic;
	enum import_from from = IMPORT_NONE;
	const char	*account = NULL, *pwarg = NULL, *canonarg = NULL;
	char		 err[1200], pwfile[1024], files[2048] = "";
	char		 canonfile[1024];
	size_t		 i;
	int		 ch, printpw = 0, rc = EX_DATAERR;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "F:a:c:p:P", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'F':
			for (i = IMPORT_SSMTP; i <= IMPORT_POSTFIX; i++)
				if (strcmp(optarg, import_name(
				    (enum import_from)i)) == 0)
					from = (enum import_from)i;
			if (from == IMPORT_NONE)
				import_usage();
			break;
		case 'a':
			account = optarg;
			break;
		case 'p':
			pwarg = optarg;
			break;
		case 'P':
			printpw = 1;
			break;
		case 'c':
			canonarg = optarg;
			break;
		default:
			import_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 7 || (pwarg != NULL && printpw))
		import_usage();
	if (from == IMPORT_NONE && (from = import_guess(argv[0])) ==
	    IMPORT_NONE)
		errx(EX_USAGE, "cannot tell which program %s belongs to: say "
		    "--from ssmtp|msmtp|nullmailer|dma|postfix", argv[0]);
	if (argc > 1 && from == IMPORT_MSMTP)
		errx(EX_USAGE, "%s reads one file", import_name(from));
	if ((from == IMPORT_DMA || from == IMPORT_POSTFIX) && argc > 2)
		errx(EX_USAGE, "%s: the configuration and at most one "
		    "password file", import_name(from));
	if (from == IMPORT_SSMTP && argc > 2)
		errx(EX_USAGE, "ssmtp: ssmtp.conf and at most revaliases");
	if (pwarg == NULL)
		(void)strlcpy(pwfile, IMPORT_PWFILE, sizeof(pwfile));
	else
		import_abspath("-p", pwarg, pwfile, sizeof(pwfile));
	if (canonarg != NULL)
		import_abspath("-c", canonarg, canonfile, sizeof(canonfile));

	import_init(&ic);
	for (i = 0; i < (size_t)argc; i++) {
		if ((ch = import_file(&ic, from, argv[i], i > 0, account,
		    err, sizeof(err))) < 0) {
			rc = ch == -2 ? EX_NOINPUT : EX_DATAERR;
			goto fail;
		}
		(void)strlcat(files, i > 0 ? " " : "", sizeof(files));
		(void)strlcat(files, argv[i], sizeof(files));
	}
	if (argc == 1 && (from == IMPORT_DMA || from == IMPORT_POSTFIX))
		import_follow(&ic, account);
	if (import_format_finish(&ic, err, sizeof(err)) == -1 ||
	    import_follow_canon(&ic, argc > 1, err, sizeof(err)) == -1)
		goto fail;
	for (i = 0; i < ic.nnotes; i++)
		(void)fprintf(stderr, "relayq import: %s\n", ic.notes[i]);
	if (printpw) {
		if (ic.password == NULL) {
			(void)snprintf(err, sizeof(err), "no password found");
			goto fail;
		}
		(void)printf("%s\n", ic.password);
		rc = fflush(stdout) == 0 ? EX_OK : EX_IOERR;
		import_free(&ic);
		return rc;
	}
	if (ic.password != NULL && pwarg != NULL) {
		if (import_write_secret(pwfile, ic.password, err,
		    sizeof(err)) == -1) {
			rc = EX_CANTCREAT;
			goto fail;
		}
		(void)fprintf(stderr, "relayq import: the password from %s "
		    "is in %s (mode 0600)\n", ic.pwsrc, pwfile);
	} else if (ic.password != NULL)
		(void)fprintf(stderr, "relayq import: %s holds the password; "
		    "relayq reads it from %s, owned by user %s, mode 0600: "
		    "run again with -p %s to write it there\n", ic.pwsrc,
		    pwfile, RELAYQ_USER, pwfile);
	else if (ic.user[0] != '\0')
		(void)fprintf(stderr, "relayq import: no password found; put "
		    "it in %s, owned by user %s, mode 0600\n", pwfile,
		    RELAYQ_USER);
	if (import_route_secrets(&ic, pwfile, pwarg != NULL, err,
	    sizeof(err)) == -1) {
		rc = EX_CANTCREAT;
		goto fail;
	}
	if (ic.canon.n > 0 && canonarg != NULL) {
		if (import_write_canon(&ic, canonfile, files, err,
		    sizeof(err)) == -1) {
			rc = EX_CANTCREAT;
			goto fail;
		}
		(void)strlcpy(ic.canonfile, canonfile, sizeof(ic.canonfile));
		(void)fprintf(stderr, "relayq import: %zu sender_canonical "
		    "entries are in %s (mode 0644)\n", ic.canon.n, canonfile);
	} else if (ic.canon.n > 0)
		(void)fprintf(stderr, "relayq import: %zu sender_canonical "
		    "entries found; run again with -c %s to write them there "
		    "(the configuration names the map only then)\n",
		    ic.canon.n, IMPORT_CANONFILE);
	if (import_write(&ic, stdout, pwfile, files) == -1) {
		(void)snprintf(err, sizeof(err), "standard output: %s",
		    strerror(errno));
		rc = EX_IOERR;
		goto fail;
	}
	import_free(&ic);
	return EX_OK;
 fail:
	import_free(&ic);
	errx(rc, "%s", err);
}
