/*
 * One message being submitted (submission.c): the preparation and the
 * commit that every front end shares.  A front end (sendmail.c) gets
 * the configuration, the caller's identity and the queue file; the
 * stages below do the rest, in this order:
 *
 *	submission_init		configuration checks, the alias context
 *	submission_canonical	the sender canonical map
 *	submission_sender	the envelope sender
 *	submission_rcpt		each recipient, through the aliases
 *	submission_read_header	the message's header, from a descriptor
 *	submission_rewrite	the header as the policy wants it
 *	submission_write	envelope, header, body and trailer to s->fd
 *	submission_commit	fsync: from here the message is the daemon's
 *
 * A stage returns EX_OK or a sysexits(3) code with s->err saying what
 * failed (and s->errnum the errno, 0 when none); it never exits and
 * never removes the queue file: the front end reports, discards and
 * decides.  Needs relayq.h and msg.h.
 */
#ifndef SUBMISSION_H
#define SUBMISSION_H

struct submission {
	struct conf		*conf;
	struct aliases		 al;	/* loaded by the front end */
	struct aliases_ctx	 cx;	/* domain, local names, admin_address */
	struct canon		 canon;	/* sender_canonical, possibly empty */
	char			 force[ADDR_MAX + 1];	/* force_sender, "" = no */
	/* who submits */
	uid_t			 uid;
	char			 user[64];
	const char		*fullname;	/* for a missing From:, or NULL */
	/* a network client (relayq smtpd), or NULL: its address from the
	   socket and its greeting, for the Received field and the log */
	const char		*client;
	const char		*client_helo;
	int			 client_esmtp;
	int			 client_tls;	/* after STARTTLS */
	const char		*client_auth;	/* AUTH's user, or NULL */
	/* the envelope (relayq-spool(5)) */
	char			 sender[ADDR_MAX + 1];	/* "" = null sender */
	char			 lsender[ADDR_MAX + 1];	/* L record, "" = none */
	struct addr_list	 rcpt;	/* final recipients, no duplicates */
	struct addr_list	 orig;	/* parallel: each as the caller wrote it */
	enum body_decl		 body_decl;
	enum dsn_ret		 dsn_ret;
	const char		*envid;		/* NULL = none */
	unsigned int		 notify;	/* DSN_NOTIFY_* of every recipient */
	/* the message and its queue file, opened by the front end */
	struct msg		 m;
	struct msg_in		*in;
	struct msg_out		*out;
	char			 id[SPOOL_IDLEN + 1];
	char			 path[PATH_MAX];	/* "" = nothing to unlink */
	int			 fd;
	int			 via_socket;	/* fd is a memory file for submit.c */
	time_t			 now;		/* arrival */
	/* why the last stage failed */
	char			 err[PATH_MAX + 512];	/* room for a file name */
	int			 errnum;
};

/* submission.c */
/* Zero `s', check default_sender, force_sender and admin_address. */
int	 submission_init(struct submission *, struct conf *);
/* Load sender_canonical with the caller's rights; a map that cannot be
 * used is EX_CONFIG (file and line in s->err). */
int	 submission_canonical(struct submission *);
/* Qualify the sender as given ("" = null), derive L, apply the canonical
 * map, then force_sender; -1 when it is not a valid address. */
int	 submission_sender(struct submission *, const char *);
/* One recipient as the caller wrote it, expanded through the aliases. */
int	 submission_rcpt(struct submission *, const char *);
/* Read the header from fd (`iflag': a lone dot is data), into s->m. */
int	 submission_read_header(struct submission *, int, int);
/* Drop Bcc and friends, refuse a mail loop, masquerade, the canonical
 * map, force_from. */
int	 submission_rewrite(struct submission *);
/* The queue file, trailer included; not yet durable. */
int	 submission_write(struct submission *);
/* fsync the file and the drop directory, or hand it to the daemon. */
int	 submission_commit(struct submission *);
/* Everything the stages allocated; s->fd is the front end's. */
void	 submission_free(struct submission *);

#endif /* SUBMISSION_H */
