/*
 * A tiny test harness for test/unit and its files test/unit_*.c.
 *
 * A test case is a name and a run of expectations.  Each case prints one
 * line on stdout, "ok - NAME" or "not ok - NAME: WHY" (WHY from the first
 * failed expectation, on one line, escaped); the runner counts these lines.
 * Details of a failed byte comparison go to stderr.
 *
 *	CASE("spool: trailer must match file size");
 *	EXPECT_INT("rc", rc, -1);
 *	EXPECT_MEM("wire", out, outlen, want, wantlen);
 *	END();
 *
 * CHECK(name, cond, fmt, ...) is a case with a single expectation.
 */
#ifndef UNIT_H
#define UNIT_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct unit_state {
	unsigned int	 run;
	unsigned int	 failed;
	const char	*name;		/* the case being run, or NULL */
	int		 bad;		/* an expectation of it failed */
	char		 why[1024];	/* the first one, escaped */
};

/* one for the whole binary, defined in test/unit.c */
extern struct unit_state unit;

/* test/unit.c: scratch files under the run's private directory */
const char	*tmp_dir(void);
const char	*tmp_path(const char *);
int		 write_path(const char *, const void *, size_t);
int		 tmp_fd(const void *, size_t);
char		*slurp_fd(int, size_t *);
char		*slurp_path(const char *, size_t *);
const char	*rep(int, size_t);
int		 starts_with(const char *, const char *);

/* helpers and data of one group that others use too */
void		 addr_join(const struct addr_list *, char *, size_t); /* unit_addr.c */
extern const char *const masq_locals[];		/* unit_msg.c */
void		 qmsg_build(struct qmsg *, const char *, const char *const *,
		    size_t);				/* unit_spool.c */

/* the groups, one file per module (test/unit_MODULE.c) */
void	 test_addr(void);		/* unit_addr.c */
void	 test_aliases(void);		/* unit_aliases.c */
void	 test_auth(void);		/* unit_auth.c */
void	 test_authcmd(void);		/* unit_authcmd.c */
void	 test_bs(void);			/* unit_bs.c */
void	 test_listen(void);		/* unit_listen.c */
void	 test_lauth(void);		/* unit_lauth.c */
void	 test_lproto(void);		/* unit_lproto.c */
void	 test_sasl(void);		/* unit_sasl.c */
void	 test_canon(void);		/* unit_canon.c */
void	 test_conf(void);		/* unit_conf.c */
void	 test_route(void);		/* unit_route.c */
/* unit_conf.c's helpers, for unit_route.c */
struct conf;
int	 conf_try(struct conf *, const char *, int, char *, size_t);
void	 conf_bad(const char *, const char *, unsigned int, const char *);
void	 test_ctl(void);		/* unit_ctl.c */
void	 test_drainq(void);		/* unit_drainq.c */
void	 test_idle(void);		/* unit_idle.c */
void	 test_import(void);		/* unit_import.c */
void	 test_masquerade(void);		/* unit_msg.c */
void	 test_msg(void);		/* unit_msg.c */
void	 test_property(void);		/* unit_msg.c */
void	 test_smargs(void);		/* unit_smargs.c */
void	 test_smtp(void);		/* unit_smtp.c */
void	 test_sort(void);		/* unit_sort.c */
void	 test_queueids(void);		/* unit_queueids.c */
void	 test_rate(void);		/* unit_rate.c */
void	 test_reload(void);		/* unit_reload.c */
void	 test_spool(void);		/* unit_spool.c */
void	 test_spool_dsn(void);		/* unit_spool.c */
void	 test_spool_limits(void);	/* unit_spool.c */
void	 test_submit(void);		/* unit_submit.c */
void	 test_tls(void);		/* unit_tls.c */
void	 test_util(void);		/* unit_util.c */

/*
 * C-style escapes, so a message or a diff stays on one line.  `all' also
 * escapes backslash and double quote (for values shown between quotes).
 */
static inline void
unit_escape_mode(char *dst, size_t dstsz, const void *src, size_t len,
    int all)
{
	const unsigned char	*p = src;
	size_t			 i, n = 0;
	char			 e[8];

	if (dstsz < 8) {
		if (dstsz > 0)
			dst[0] = '\0';
		return;
	}
	for (i = 0; i < len; i++) {
		switch (p[i]) {
		case '\r': (void)strcpy(e, "\\r"); break;
		case '\n': (void)strcpy(e, "\\n"); break;
		case '\t': (void)strcpy(e, "\\t"); break;
		default:
			if (all && (p[i] == '\\' || p[i] == '"'))
				(void)snprintf(e, sizeof(e), "\\%c", p[i]);
			else if (p[i] < 0x20 || p[i] >= 0x7f)
				(void)snprintf(e, sizeof(e), "\\x%02x", p[i]);
			else {
				e[0] = (char)p[i];
				e[1] = '\0';
			}
		}
		if (n + strlen(e) + 4 >= dstsz) {
			(void)memcpy(dst + n, "...", 3);
			n += 3;
			break;
		}
		(void)memcpy(dst + n, e, strlen(e));
		n += strlen(e);
	}
	dst[n] = '\0';
}

static inline void
unit_escape(char *dst, size_t dstsz, const void *src, size_t len)
{
	unit_escape_mode(dst, dstsz, src, len, 1);
}

static inline void
unit_begin(const char *name)
{
	unit.name = name;
	unit.bad = 0;
	unit.why[0] = '\0';
}

/* Record an expectation; the first failure of a case is the one reported. */
static inline int __attribute__((format(printf, 2, 3)))
unit_expect(int ok, const char *fmt, ...)
{
	char	 raw[sizeof(unit.why)];
	va_list	 ap;

	if (ok || unit.bad)
		return ok;
	unit.bad = 1;
	va_start(ap, fmt);
	(void)vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* values in `raw' are escaped already: only keep it on one line */
	unit_escape_mode(unit.why, sizeof(unit.why), raw, strlen(raw), 0);
	return 0;
}

static inline void
unit_end(void)
{
	unit.run++;
	if (unit.bad) {
		unit.failed++;
		(void)printf("not ok - %s: %s\n", unit.name, unit.why);
	} else
		(void)printf("ok - %s\n", unit.name);
	(void)fflush(stdout);
	unit.name = NULL;
}

static inline int
unit_expect_int(const char *what, long long got, long long want)
{
	return unit_expect(got == want, "%s: expected %lld, got %lld", what,
	    want, got);
}

static inline int
unit_expect_str(const char *what, const char *got, const char *want)
{
	char	 g[300], w[300];

	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		return 1;
	if (got == NULL && want == NULL)
		return 1;
	unit_escape(g, sizeof(g), got ? got : "(null)", strlen(got ? got :
	    "(null)"));
	unit_escape(w, sizeof(w), want ? want : "(null)", strlen(want ? want :
	    "(null)"));
	return unit_expect(0, "%s: expected \"%s\", got \"%s\"", what, w, g);
}

/* got contains want */
static inline int
unit_expect_has(const char *what, const char *got, const char *want)
{
	char	 g[300];

	if (got != NULL && strstr(got, want) != NULL)
		return 1;
	unit_escape(g, sizeof(g), got ? got : "(null)", strlen(got ? got :
	    "(null)"));
	return unit_expect(0, "%s: expected to contain \"%s\", got \"%s\"",
	    what, want, g);
}

/*
 * Exact bytes.  On a difference: the offset, both lengths and 40 escaped
 * bytes of each side from a little before it; the whole of both on stderr.
 */
static inline int
unit_expect_mem(const char *what, const void *got, size_t gotlen,
    const void *want, size_t wantlen)
{
	const unsigned char	*g = got, *w = want;
	char			 ge[200], we[200], *full;
	size_t			 off, from, fl;

	if (gotlen == wantlen && (wantlen == 0 || memcmp(got, want, wantlen)
	    == 0))
		return 1;
	for (off = 0; off < gotlen && off < wantlen && g[off] == w[off]; off++)
		;
	from = off > 10 ? off - 10 : 0;
	unit_escape(ge, sizeof(ge), g + from, gotlen - from > 40 ? 40 :
	    gotlen - from);
	unit_escape(we, sizeof(we), w + from, wantlen - from > 40 ? 40 :
	    wantlen - from);
	fl = 4 * (gotlen > wantlen ? gotlen : wantlen) + 8;
	if (fl < 64 * 1024 && (full = malloc(fl)) != NULL) {
		unit_escape(full, fl, want, wantlen);
		(void)fprintf(stderr, "# %s: %s: expected \"%s\"\n", unit.name,
		    what, full);
		unit_escape(full, fl, got, gotlen);
		(void)fprintf(stderr, "# %s: %s: got      \"%s\"\n", unit.name,
		    what, full);
		free(full);
	}
	return unit_expect(0, "%s differs at byte %zu (expected %zu bytes, "
	    "got %zu): expected \"%s\" got \"%s\" (from byte %zu)", what, off,
	    wantlen, gotlen, we, ge, from);
}

/* A case that hangs is reported as failed instead of stalling the run. */
static inline void
unit_alarm(int sig)
{
	const char	*n = unit.name != NULL ? unit.name : "(between cases)";

	(void)sig;
	(void)!write(STDOUT_FILENO, "not ok - ", 9);
	(void)!write(STDOUT_FILENO, n, strlen(n));
	(void)!write(STDOUT_FILENO, ": timed out (blocked)\n", 22);
	_exit(1);
}

static inline void
unit_watchdog(unsigned int seconds)
{
	(void)signal(SIGALRM, unit_alarm);
	(void)alarm(seconds);
}

#define CASE(name)			unit_begin(name)
#define END()				unit_end()
#define EXPECT(cond, ...)		unit_expect(!!(cond), __VA_ARGS__)
#define EXPECT_INT(what, got, want)	unit_expect_int(what, (long long)(got), \
					    (long long)(want))
#define EXPECT_STR(what, got, want)	unit_expect_str(what, got, want)
#define EXPECT_HAS(what, got, want)	unit_expect_has(what, got, want)
#define EXPECT_MEM(what, got, gotlen, want, wantlen) \
	unit_expect_mem(what, got, gotlen, want, wantlen)
/* a byte-string literal, its length without the final NUL */
#define EXPECT_BYTES(what, got, gotlen, lit) \
	unit_expect_mem(what, got, gotlen, lit, sizeof(lit) - 1)
#define CHECK(name, cond, ...) do {					\
	unit_begin(name);						\
	unit_expect(!!(cond), __VA_ARGS__);				\
	unit_end();							\
} while (0)

#endif /* UNIT_H */
