/* Message preparation at submission: types shared by sendmail.c and msg.c */
#ifndef MSG_H
#define MSG_H

#define MSGIN_EOF		0
#define MSGIN_LINE	1
#define MSGIN_MORE	2

struct msg_in {
	int		 fd;
	int		 iflag;		/* -i: a lone dot is data */
	int		 crspace;	/* bare CR reads as a space (header) */
	size_t		 pos, len;	/* of buf */
	int		 eof;		/* read(2) returned 0 */
	int		 done;		/* no more lines */
	int		 bol;		/* at the beginning of a line */
	size_t		 seglen;	/* of seg */
	unsigned long	 nuls;		/* NUL bytes dropped */
	unsigned long	 barecr;	/* bare CRs repaired */
	unsigned long	 pendcr;	/* bare CRs read ahead, not yet returned */
	unsigned long	 folded;	/* over-long lines folded */
	int		 eightbit;
	int		 error;		/* errno of a failed read */
	/* last: msg_in_init does not clear them */
	char		 seg[LINE_MAX_OCTETS + 2];
	char		 buf[65536];
};

struct msg_out {
	int		 fd;
	size_t		 len;		/* of buf */
	long long	 data;		/* message octets, CRLF counted */
	long long	 max;
	long long	 written;	/* bytes flushed to fd */
	char		 buf[65536];	/* last: msg_out_init does not clear it */
};

struct msg_hdr {
	char		*text;		/* whole field, lines joined by CRLF */
	size_t		 len;
	size_t		 namelen;
	int		 drop;
};

struct msg {
	struct msg_hdr	*hdr;
	size_t		 nhdr;
	size_t		 hdrbytes;
	char		*line;		/* the physical line being read */
	size_t		 linelen, linesz;
	int		 bodyfirst;	/* in->seg holds the first body line */
};

/* msg.c */
void	 msg_in_init(struct msg_in *, int, int);
int	 msg_in_line(struct msg_in *, size_t);
void	 msg_out_init(struct msg_out *, int, long long);
int	 msg_out_flush(struct msg_out *);
int	 msg_out_line(struct msg_out *, const char *, size_t);
int	 msg_read_header(struct msg *, struct msg_in *);
int	 msg_hdr_name_is(const struct msg_hdr *, const char *);
const struct msg_hdr *msg_hdr_find(const struct msg *, const char *);
int	 msg_hdr_utf8(const struct msg *);
int	 msg_hdr_recipients(const struct msg *, struct addr_list *, char *,
	    size_t);
int	 msg_hdr_masquerade(struct msg *, const char *, const char *const *,
	    unsigned long *);
int	 msg_hdr_canonical(struct msg *, const struct canon *,
	    unsigned long *);
int	 msg_hdr_force_from(struct msg *, const char *);
int	 msg_write_header(struct msg *, struct msg_out *, char *const *,
	    char *const *, unsigned long *);
int	 msg_write_body(struct msg *, struct msg_in *, struct msg_out *);
void	 msg_free(struct msg *);

/* bs.c: one -bs transaction, handed to a child that queues it like -bm */
struct bs_job {
	char		*sender;	/* "" = null sender */
	char		**rcpt;
	int		 nrcpt;
	int		 idfd;		/* write the queue id here, -1 = no */
	/* the DSN and BODY parameters of MAIL and RCPT (RFC 3461, 6152) */
	enum body_decl	 body;		/* as sendmail -B */
	enum dsn_ret	 ret;		/* as -R */
	char		*envid;		/* decoded from xtext; NULL = none */
	unsigned int	 notify;	/* DSN_NOTIFY_*, one per transaction */
	/* a network client (the listener): its address and greeting, for
	   the Received field and the log; NULL from a local -bs client */
	const char	*client;
	char		*helo;
	int		 esmtp;		/* EHLO, not HELO */
	int		 tls;		/* after STARTTLS */
	char		*auth_user;	/* AUTH's user; NULL: none */
};

/*
 * Where a -bs session reads, writes and queues: sendmail's standard
 * input and output and a fork (bs_serve); the fuzz target's buffers and
 * a check (test/fuzz/fuzz_bs.c).
 * queue(arg, mfd, job, id, idsz): the message is in mfd (rewound), the
 * envelope in job; returns -1 in a child that must queue it, -2 when
 * nothing could be started (errno), else the wait(2) status of the
 * queueing, with the queue id in id.
 */
struct bs_io {
	int		 in;
	FILE		*out;
	int		(*queue)(void *, int, struct bs_job *, char *, size_t);
	void		*arg;
	const char	*client;	/* "[192.0.2.1]"; NULL: a local -bs */
	time_t		 data_timeout;	/* a whole DATA phase; 0: none */
	/* under the listener's session helper: its control channel
	   (listen_proto.c) and what the client may do; -1 and 0 else */
	int		 ctl;
	unsigned int	 flags;		/* LPROTO_F_* */
};
#define BS_CLOSED	0	/* QUIT or the end of input */
#define BS_CHILD	1	/* in the child that queues the message */
#define BS_IOERR	2	/* a reply could not be written */

/* bs.c */
int	 bs_session(const struct bs_io *, const char *, long long,
	    struct bs_job *);
void	 bs_serve(const struct conf *, const char *, struct bs_job *);
int	 bs_xtext_decode(const char *, char *, size_t);

/* sasl.c */
#define SASL_USERMAX	255
#define SASL_PASSMAX	255
ssize_t	 sasl_b64_decode(const char *, size_t, unsigned char *, size_t);
ssize_t	 sasl_login(const char *, int, char *, size_t);
ssize_t	 sasl_plain(const char *, char *, size_t, char *, size_t);

#endif /* MSG_H */
