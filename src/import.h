/*
 * relayq import: turn another null client's configuration into
 * relayq.conf.  import_format.c (the formats by name), one file per
 * format (import_ssmtp.c, import_msmtp.c, import_nullmailer.c,
 * import_dma.c, import_postfix.c) and their toolbox import_parse.c: pure
 * functions over buffers (unit-tested, fuzzed), each calling only the
 * next ones down; import.c: import_main() reads the files, writes the
 * config and the secret.
 */
#ifndef IMPORT_H
#define IMPORT_H

#define IMPORT_MAXNOTES	24
#define IMPORT_LINE	4096
#define TLS_PLAIN	(-2)	/* the old configuration used no TLS */
#define IMPORT_CANONFILE	SYSCONFDIR "/relayq.canonical"
#define IMPORT_MAXMAPS	8

enum import_from {
	IMPORT_NONE,
	IMPORT_SSMTP,
	IMPORT_MSMTP,
	IMPORT_NULLMAILER,
	IMPORT_DMA,
	IMPORT_POSTFIX,
};

struct import_kv {
	char		*k;
	char		*v;
	char		*x;	/* a second value: the password */
	unsigned int	 line;
};

struct import_kvs {
	struct import_kv *v;
	size_t		 n;
};

/*
 * A route (relayq.conf(5) "Routes") for another account of the old
 * configuration chosen by its sender (msmtp's from-address matching).
 */
struct import_route {
	char			 name[ROUTE_NAMEMAX + 1];
	char			 sender[ADDR_MAX + 1];
	char			 host[256];
	char			 port[8];
	int			 tls;		/* tls_mode, or TLS_PLAIN */
	char			 user[256];
	char			*password;	/* the secret: freezero'd */
	char			 pwsrc[1100];	/* "FILE:LINE" of the secret */
	char			 ca_file[1024];
};

/* What was found; empty strings are "not set". */
struct import {
	enum import_from	 from;
	char			 host[CONF_MAXHOSTS][256];
	char			 port[CONF_MAXHOSTS][8];
	int			 htls[CONF_MAXHOSTS];	/* per relay */
	size_t			 nhost;
	int			 tls;		/* -1 unset, else tls_mode */
	char			 user[256];
	char			*password;	/* the secret: freezero'd */
	char			 pwsrc[1100];	/* "FILE:LINE" of the secret */
	char			 ca_file[1024];
	char			 domain[256];
	char			 helo[256];
	char			 admin[256];
	char			 force_sender[256];
	int			 force_from;
	char			 aliases[1024];
	char			 notes[IMPORT_MAXNOTES][300];
	size_t			 nnotes;
	/* nullmailer control files, Postfix main.cf and sasl_passwd */
	struct import_kvs	 ctl;
	struct import_kvs	 sasl;
	char			 saslname[1024];
	char			 mainname[1024];
	/* sender_canonical entries (import_canon.c), and the file they
	   are written to (-c), "" when they are not written */
	struct import_kvs	 canon;
	char			 canonfile[1024];
	/* routes, written after the top-level keys */
	struct import_route	 route[CONF_MAXROUTES - 1];
	size_t			 nroute;
};

/* a map file the configuration names (import_canon_maps) */
enum import_map_kind {
	IMPORT_MAP_CANONICAL,	/* Postfix sender_canonical_maps */
	IMPORT_MAP_GENERIC,	/* Postfix smtp_generic_maps */
	IMPORT_MAP_REVALIASES,	/* ssmtp revaliases */
	IMPORT_MAP_RELAYHOST,	/* Postfix sender_dependent_relayhost_maps */
};
struct import_map {
	char			 path[1024];
	enum import_map_kind	 kind;
	unsigned int		 line;	/* of main.cf naming it */
};

/* import_format.c */
int	 import_format_parse(struct import *, enum import_from, const char *,
	    int, const char *, const char *, size_t, char *, size_t);
int	 import_format_finish(struct import *, char *, size_t);
int	 import_format_companion(const struct import *, char *, size_t);

/* import_parse.c */
void	 import_init(struct import *);
void	 import_free(struct import *);
void	 import_note(struct import *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 import_write(const struct import *, FILE *, const char *,
	    const char *);
const char *import_name(enum import_from);
/* import_parse.c: the toolbox of the format parsers */
void	 import_kvs_free(struct import_kvs *);
int	 import_kvs_put(struct import_kvs *, const char *, const char *,
	    const char *, unsigned int, int);
void	 import_kvs_del(struct import_kvs *, const char *);
const struct import_kv *import_kvs_get(const struct import_kvs *,
	    const char *);
int	 import_getline(const char **, const char *, char *, size_t,
	    unsigned int *, const char *, char *, size_t);
char	*import_trim(char *);
char	*import_uncomment(char *);
char	*import_word(char *);
int	 import_yes(const char *);
int	 import_copy(char *, size_t, const char *, const char *,
	    const char *, unsigned int, char *, size_t);
int	 import_secret(struct import *, const char *, const char *,
	    unsigned int, char *, size_t);
int	 import_secret_to(char **, char *, size_t, const char *, const char *,
	    unsigned int, char *, size_t);
void	 import_route_pwfile(const char *, const char *, char *, size_t);
int	 import_hostport(struct import *, const char *, const char *,
	    const char *, unsigned int, char *, size_t);
int	 import_hostport_parse(const char *, const char *, char *, size_t,
	    char *, size_t);
const struct import_kv *import_sasl_find(const struct import *,
	    const char *, const char *);
int	 import_sasl_read(struct import *, const char *, const char *,
	    size_t, int (*)(char *, char **, char **, char **), const char *,
	    int, char *, size_t);
int	 import_use_sasl(struct import *, const struct import_kv *, char *,
	    size_t);

/* import_ssmtp.c */
int	 import_ssmtp(struct import *, const char *, const char *, size_t,
	    char *, size_t);

/* import_msmtp.c */
int	 import_msmtp(struct import *, const char *, const char *, size_t,
	    const char *, char *, size_t);

/* import_nullmailer.c */
int	 import_nullmailer(struct import *, const char *, const char *,
	    size_t, char *, size_t);
void	 import_nullmailer_finish(struct import *);

/* import_dma.c */
int	 import_dma(struct import *, const char *, const char *, size_t,
	    char *, size_t);
int	 import_dma_auth(struct import *, const char *, const char *, size_t,
	    char *, size_t);
int	 import_dma_finish(struct import *, char *, size_t);

/* import_postfix.c */
int	 import_postfix(struct import *, const char *, const char *, size_t,
	    char *, size_t);
int	 import_postfix_sasl(struct import *, const char *, const char *,
	    size_t, char *, size_t);
int	 import_postfix_finish(struct import *, char *, size_t);
void	 import_postfix_expand(const struct import *, const char *, char *,
	    size_t, int);
int	 import_postfix_routes(struct import *, const struct import_map *,
	    const char *, size_t, char *, size_t);

/* import_canon.c */
size_t	 import_canon_maps(struct import *, struct import_map *, size_t);
int	 import_canon_postfix(struct import *, const struct import_map *,
	    const char *, size_t, char *, size_t);
int	 import_ssmtp_revaliases(struct import *, const char *, const char *,
	    size_t, char *, size_t);
int	 import_canon_write(const struct import *, FILE *, const char *);

/* import.c */
int	 import_main(int, char *[]);

#endif /* IMPORT_H */
