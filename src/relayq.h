/*
 * relayq: a relay-only mail transfer agent.
 * One private header: shared types first, then prototypes grouped by the
 * file that defines them, in the order of the Makefile.
 */
#ifndef RELAYQ_H
#define RELAYQ_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define RELAYQ_VERSION		"0.1.0"
#ifndef SYSCONFDIR
#define SYSCONFDIR		"/etc"
#endif
#ifndef SPOOLDIR
#define SPOOLDIR		"/var/spool/relayq"
#endif
#define CONF_PATH		SYSCONFDIR "/relayq.conf"
#define RELAYQ_USER		"relayq"

#define CONF_MAXHOSTS		8
#define CONF_MAXPINS		8	/* tls_fingerprint values, for rotation */
#define ADDR_MAX		512	/* longest envelope address we take */
#define LINE_MAX_OCTETS		998	/* RFC 5322 2.1.1, without CRLF */
#define SPOOL_IDLEN		16
#define SPOOL_RATE_FILE		"rate"	/* in state/, and "rate.ROUTE": rate.c */
#define REPLY_MAX		512	/* one reply line, RFC 5321 4.5.3.1.5 */

/*
 * The limits of a queue file (relayq-spool(5)): the daemon refuses a file
 * beyond them, so sendmail checks the envelope it built against them, with
 * the daemon's own parser, before it answers success.  Defined once, here.
 */
#define SPOOL_ENVMAX		(1024 * 1024)	/* envelope records, "M" included */
#define SPOOL_RCPTMAX		10000		/* R records */
#define SPOOL_RECMAX		(ADDR_MAX + 64)	/* one record, newline excluded */

enum tls_mode {
	TLS_STARTTLS,
	TLS_IMPLICIT,
	TLS_OFF,
};

struct smarthost {
	char		 name[256];
	char		 port[8];
	enum tls_mode	 tls;
};

/*
 * A route: the settings of one way out (smarthosts, TLS, credentials,
 * session limits), chosen per message by its envelope sender
 * (route_for).  Element 0 of struct conf's array is the default route,
 * made of the top-level keys; every other comes from a `route NAME'
 * block or RELAYQ_ROUTES.  Everything the delivery code needs to reach a
 * smarthost is here and nowhere else.
 */
#define CONF_MAXROUTES		16	/* the default route included */
#define ROUTE_NAMEMAX		32
struct route {
	char			 name[ROUTE_NAMEMAX + 1];
	unsigned int		 idx;		/* in struct conf's array:
						   tls.c keeps its state by it */
	char			*sender;	/* addresses and @domains,
						   space-separated */
	struct smarthost	 host[CONF_MAXHOSTS];
	size_t			 nhost;
	int			 tls_set;	/* `tls' given explicitly */
	enum tls_mode		 tls;
	char			*tls_ca_file;
	int			 tls_min_version;	/* 2 = 1.2, 3 = 1.3 */
	unsigned char		 tls_pin[CONF_MAXPINS][32];	/* SHA-256 of SPKI */
	size_t			 ntls_pin;
	char			*tls_client_cert;
	char			*tls_client_key;	/* mode 600 or stricter */
	char			*auth_user;
	char			*auth_password_file;
	char			*auth_password_command;	/* stdout = secret */
	char			*auth_mechanisms;	/* preference order */
	char			*helo_name;
	time_t			 timeout_connect;
	time_t			 timeout_command;
	time_t			 timeout_data;
	time_t			 idle_timeout;	/* session kept after the queue
						   empties */
	long long		 max_messages_per_session; /* 0: no limit */
	char			*rate_limit;	/* N/s, N/min, N/h (rate.c);
						   not inherited */
	char			*rate_limit_recipients;
};

/*
 * The route array comes last: conf_init clears only what is in use (the
 * default route), so the unused routes cost no page of memory in every
 * sendmail run.  Elements from nroute on are undefined.
 */
struct conf {
	char			 path[1024];
	size_t			 nroute;
	char			*domain;
	char			*spool;
	char			*log;
	long long		 max_message_size;
	long long		 queue_minfree;	/* 0: 1.5 x max_message_size */
	time_t			 queue_lifetime;
	time_t			 retry_min;
	time_t			 retry_max;
	int			 add_received;
	char			*aliases;
	char			*admin_address;
	char			*default_sender;
	char			*force_sender;
	int			 force_from;
	char			*sender_canonical;	/* canon.c map file */
	char			*bounce_to;	/* all DSNs go here */
	time_t			 failed_keep;	/* in failed/, then removed */
	long long		 max_sessions;	/* in parallel (drain_work.c) */
	long long		 active_queue_limit; /* in memory (drain_q.c) */
	char			*listen;	/* addresses, space-separated */
	char			*listen_allow;	/* CIDRs beside loopback */
	long long		 listen_max_connections;
	long long		 listen_max_per_client;
	time_t			 listen_timeout;	/* per command */
	time_t			 listen_data_timeout;	/* per DATA */
	char			*listen_auth_file;	/* listen_auth.c */
	char			*listen_tls_cert;	/* listen_tls.c */
	char			*listen_tls_key;
	struct route		 route[CONF_MAXROUTES];	/* [0]: default */
};

/* Per-recipient outcome, shared by the spool state file and the client. */
enum rcpt_status {
	RCPT_PENDING,
	RCPT_SENT,
	RCPT_DEFER,
	RCPT_FAIL,
};

/* DSN NOTIFY (RFC 3461), from sendmail -N; 0 = not given */
#define DSN_NOTIFY_NEVER	0x01
#define DSN_NOTIFY_SUCCESS	0x02
#define DSN_NOTIFY_FAILURE	0x04
#define DSN_NOTIFY_DELAY	0x08
#define DSN_ENVID_MAX		100	/* RFC 3461 4.4 */

struct rcpt {
	char			*addr;
	char			*orig;
	unsigned int		 notify;	/* DSN_NOTIFY_* */
	enum rcpt_status	 status;
	char			 dsn[16];	/* enhanced status, e.g. 2.0.0 */
	char			 reply[REPLY_MAX];	/* sanitised */
};

/* struct qmsg smtputf8: the F record */
enum smtputf8 {
	SMTPUTF8_NONE,		/* all ASCII */
	SMTPUTF8_NEEDED,	/* an address is not ASCII */
	SMTPUTF8_HEADER,	/* UTF-8 in the header only (RFC 6532) */
};

/* The body type a caller declared (-B, the B record). */
enum body_decl {
	BODY_NONE,		/* not declared */
	BODY_7BIT,
	BODY_8BITMIME,
};

/* What a DSN returns of the message (-R, the D record, RET=). */
enum dsn_ret {
	DSN_RET_NONE,		/* not asked: the full message when small */
	DSN_RET_FULL,
	DSN_RET_HDRS,
};

/* A queue file opened for delivery: envelope in memory, data on disk. */
struct qmsg {
	char		 id[SPOOL_IDLEN + 1];
	time_t		 arrival;
	uid_t		 uid;
	char		*user;
	char		*sender;	/* "" = null sender */
	char		*local_sender;	/* L: the local name S came from */
	struct rcpt	*rcpt;
	size_t		 nrcpt;
	int		 eightbit;
	enum body_decl	 body_decl;	/* B */
	enum dsn_ret	 dsn_ret;	/* D */
	char		 envid[DSN_ENVID_MAX + 1];	/* -V, "" = none */
	enum smtputf8	 smtputf8;	/* F */
	int		 fd;
	off_t		 dataoff;	/* wire-ready data: CRLF, dot-stuffed */
	off_t		 datalen;
	uid_t		 owner;		/* of the file */
	time_t		 mtime;
	/* from the state file */
	unsigned int	 attempts;
	time_t		 next_try;
	time_t		 last_try;
};

/* util.c */
int		 util_duration(const char *, time_t *);
int		 util_writeall(int, const void *, size_t);
ssize_t		 util_sendfd(int, const void *, size_t, int);
ssize_t		 util_recvfd(int, void *, size_t, int *, int);
void		 util_sanitise(char *, size_t, const char *, size_t);
int		 util_fsync_dir(const char *);
char		*util_hostname(void);
char		*util_fqdn(void);
void		 util_sort(void *, size_t, size_t,
		    int (*)(const void *, const void *));
void		 util_rfc5322_date(char *, size_t, time_t);
long long	 util_ms(clockid_t);
void		 util_owner(uid_t, gid_t, char *, size_t);
int		 util_drop_root(char *, size_t);

/* conf.c */
void		 conf_init(struct conf *);
int		 conf_load(struct conf *, const char *, int, int, char *,
		    size_t);
int		 conf_set(struct conf *, const char *, const char *, char *,
		    size_t);
void		 conf_free(struct conf *);
size_t		 conf_keep_running(struct conf *, struct conf *,
		    void (*)(void *, const char *), void *);
const char	*conf_domain(struct conf *);

/* route.c */
int		 route_name_ok(const char *);
int		 route_sender_ok(const char *);
int		 route_check_senders(const struct conf *, size_t, const char *,
		    char *, size_t);
const struct route *route_for(const struct conf *, const char *);
const struct route *route_byname(const struct conf *, const char *);

/* log.c */
int		 log_init(const char *, const char *);
int		 log_join(const char *, const char *);
void		 log_signal_prepare(void);
void		 log_signal_safe(const char *);
void		 log_info(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_warnx(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 log_warn(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* addr.c */
struct addr_list {
	char	**v;
	size_t	  n;
	size_t	 *idx;		/* hash index of v: position + 1, 0 = free */
	size_t	  idxsz;	/* its slots: 0 or a power of two */
	size_t	  nidx;		/* v[0] to v[nidx - 1] are in it */
};
#define ADDR_LIST_EMPTY	{ NULL, 0, NULL, 0, 0 }
int		 addr_parse_list(const char *, size_t, struct addr_list *,
		    char *, size_t);
int		 addr_list_add(struct addr_list *, const char *);
int		 addr_list_append(struct addr_list *, const char *);
void		 addr_list_free(struct addr_list *);
int		 addr_qualify(const char *, const char *, const char *const *,
		    char *, size_t);
int		 addr_is_local(const char *, const char *const *);
const char	*addr_domain(const char *);
int		 addr_valid(const char *);
int		 addr_masquerade(const char *, size_t, const char *,
		    const char *const *, char **);
char		*addr_force(const char *, size_t, const char *);
int		 addr_rewrite(const char *, size_t,
		    int (*)(void *, const char *, char *, size_t), void *,
		    char **);

/* canon.c */
struct canon_entry {
	char	*key;		/* user, user@domain or @domain */
	char	*value;		/* address, @domain or user */
	size_t	 line;
};
struct canon {
	char			 path[1024];
	struct canon_entry	*v;
	size_t			 n;
	/* which addresses are ours: "user" keys apply to them */
	const char		*domain;
	const char *const	*locals;
};
void		 canon_init(struct canon *, const char *, const char *const *);
void		 canon_free(struct canon *);
int		 canon_parse(struct canon *, const char *, const char *, size_t,
		    char *, size_t);
int		 canon_load(struct canon *, const char *, char *, size_t);
int		 canon_lookup(const struct canon *, const char *, char *, size_t);
int		 canon_header(const struct canon *, const char *, size_t,
		    char **);

/* aliases.c */
struct alias {
	char	*name;
	char	*value;		/* the target list as written */
	size_t	 line;
};
struct aliases {
	char		 path[1024];
	struct alias	*v;
	size_t		 n;
	size_t		 nproblems;
	/* called for each problem found while loading (-bi prints them) */
	void		(*report)(const char *, size_t, const char *);
};
struct aliases_ctx {
	const char		*domain;
	const char *const	*locals;
	const char		*admin;		/* admin_address */
	/* what aliases_ctx_init points domain, locals and admin at */
	const char		*localv[5];
	char			 shortname[256];
	char			 adminbuf[ADDR_MAX + 1];
	void			(*warn)(void *, const char *, ...)
				    __attribute__((format(printf, 2, 3)));
	void			*arg;
};
int		 aliases_ctx_init(struct aliases_ctx *, struct conf *, char *,
		    size_t);
int		 aliases_load(struct aliases *, const char *);
int		 aliases_load_conf(struct aliases *, const struct conf *,
		    void (*)(const char *, size_t, const char *), int);
int		 aliases_split(const char *, struct addr_list *, char *,
		    size_t);
void		 aliases_free(struct aliases *);
int		 aliases_expand(const struct aliases *, const char *,
		    const struct aliases_ctx *, struct addr_list *);

/* spool.c */
void		 spool_make_id(char *, struct timespec *, pid_t);
int		 spool_parse_envelope(const char *, size_t, struct qmsg *,
		    char *, size_t);
int		 spool_check_envelope(const char *, size_t, char *, size_t);
int		 spool_write_envelope(const struct qmsg *, char **, size_t *);
int		 spool_add_rcpt(struct qmsg *, const char *, const char *,
		    unsigned int);
int		 spool_check_trailer(const char *, size_t, struct qmsg *);
int		 spool_id_ok(const char *);
int		 spool_load_fd(int, struct qmsg *, char *, size_t);
int		 spool_salvage(int, struct qmsg *);
int		 spool_open_msg(int, const char *, struct qmsg *, char *,
		    size_t);
void		 spool_free_msg(struct qmsg *);
int		 spool_read_state(int, const char *, struct qmsg *);
int		 spool_write_state(int, const char *, struct qmsg *);
int		 spool_parse_state(const char *, size_t, struct qmsg *);
int		 spool_check_data(int, off_t, off_t, char *, size_t);
int		 spool_minfree(int, const struct conf *, char *, size_t);
int		 spool_notify_parse(const char *, unsigned int *);
int		 spool_notify_str(unsigned int, char *, size_t);
int		 spool_envid_ok(const char *);

/* queue.c */
void		 queue_list_head(FILE *);
void		 queue_list_entry(FILE *, const struct conf *, const struct qmsg *,
		    long long, int);
void		 queue_list_total(FILE *, unsigned long long, size_t);
void		 queue_show(FILE *, const struct conf *, const struct qmsg *,
		    long long, int);

/* queue_local.c */
long		 queue_local_pid(const char *);
int		 queue_local_running(const char *);
int		 queue_local_list(const struct conf *, FILE *, char *, size_t);
int		 queue_local_report(const struct conf *);
void		 queue_local_warn_idle(const char *, const char *);

/* queue_ids.c */
struct queue_ids {
	char	(*v)[SPOOL_IDLEN + 1];
	size_t	 n;
};
int		 queue_ids_each(int, void (*)(void *, const char *), void *);
int		 queue_ids_read(int, struct queue_ids *);
void		 queue_ids_free(struct queue_ids *);

/* stopcmd.c */
int		 stop_main(const struct conf *);

/* bounce.c */
int		 bounce_write(int, struct conf *, const struct qmsg *,
		    const char *, char *, char *, size_t);

/* check.c */
int		 check_main(const struct conf *);

/* ctl.c */
#define CTL_SOCKET		"ctl"
#define CTL_LINEMAX		64
/* seconds the daemon gives a connection to send its request, and for
   the whole exchange (drain_conn.c) */
#define CTL_REQWAIT		5
#define CTL_TOTAL		30
enum ctl_cmd {
	CTL_QUEUE,
	CTL_STATUS,
	CTL_SHOW,
	CTL_FLUSH,
	CTL_HOLD,
	CTL_RELEASE,
	CTL_DELETE,
	CTL_SUBMIT,
	CTL_RELOAD,
	CTL_NCMD		/* how many: not a command */
};
struct ctl_req {
	enum ctl_cmd	 cmd;
	char		 id[SPOOL_IDLEN + 1];	/* "" = none given */
	int		 all;			/* delete all */
	int		 fd;			/* submit: the queue file */
};
struct ucred;
int		 ctl_parse(const char *, size_t, struct ctl_req *, char *,
		    size_t);
int		 ctl_listen(char *, size_t);
void		 ctl_error(FILE *, int, const char *);
void		 ctl_ok(FILE *, const char *, size_t);
int		 ctl_call(const char *, const char *, FILE *, char *, size_t);
int		 ctl_frontend(const struct conf *, int, const char *, int);
int		 ctl_connect(const char *);
size_t		 ctl_read_status(int, char *, size_t);
int		 ctl_refused(int, char *, size_t);

/* submit.c */
struct submit_held {		/* a copy between READY and commit */
	int		 fd;		/* locked; -1 = none */
	char		 id[SPOOL_IDLEN + 1];
	off_t		 trailer;	/* where the trailer goes back */
	char		 tail[64];	/* the trailer line */
	size_t		 taillen;
};
int		 submit_send(const char *, int, char *, char *, size_t);
int		 submit_prepare(int, uid_t, int, const struct conf *,
		    struct submit_held *, char *, size_t);
int		 submit_commit(struct submit_held *, int, char *, size_t);
void		 submit_abandon(struct submit_held *, int);

/* smdrop.c */
int		 smdrop_start(const char *, gid_t, gid_t);
int		 smdrop_open(char *);

/* sandbox.c */
int		 sandbox_rule(int, const char *, unsigned long long);
int		 sandbox_ruleset(int);
void		 sandbox_apply(const struct conf *);

#endif /* RELAYQ_H */
