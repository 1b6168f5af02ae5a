/* The update machine's own state, shared by its files (agent/agent.h
 * lists them): dnsupdate.c (the agent's side), dnszone.c (the machine of
 * each zone), dnsrecords.c (the records and messages). Include after
 * agent.h and dnsupdate.h. */
#ifndef RNSPLICE_DNSUPDATE_INT_H
#define RNSPLICE_DNSUPDATE_INT_H

/* Is ss an address of this host? (binding it says so; dnszone.c) */
int	dnsup_addr_own(const struct sockaddr_storage *, socklen_t);

#ifdef HAVE_LDNS

#include <ldns/ldns.h>

#include "event.h"

#define DNSUP_BATCH_MS		100	/* gather changes this long */
#define DNSUP_GAP_MS		200	/* between two updates, at least */
#define DNSUP_TIMEOUT_MS	5000	/* one transaction */
#define DNSUP_BACKOFF_MIN_MS	1000
#define DNSUP_BACKOFF_MAX_MS	60000
#define DNSUP_BATCH_MAX		64	/* services in one update */
/* A DNS message over TCP holds 65535 bytes: a batch stops short of this
 * bound of its size (names counted uncompressed), and a crash sweep
 * removes at most DNSUP_STALE_MAX services a round. */
#define DNSUP_MSG_BUDGET	60000
#define DNSUP_SVC_OVERHEAD	3500	/* six RRs of 255-byte names */
#define DNSUP_STALE_MAX		48
#define DNSUP_FUDGE		300	/* TSIG, seconds */
#define DNSUP_INDEX		"_rnsplice"

enum ds_state {
	DS_ADD,		/* to be (re)published */
	DS_DEL,		/* to be withdrawn */
	DS_REFUSED	/* does not fit DNS: why says so */
};

struct dzone;

struct dsvc {
	struct dzone	*z;
	struct splice	*sp;		/* NULL once withdrawn */
	char		 name[DNSSD_MAXNAME + 1];
	char		 type[DNSSD_MAXTYPE + 1];
	uint16_t	 port;
	struct txt	 txt;
	enum ds_state	 state;
	int		 indns;		/* an update with it succeeded */
	unsigned int	 gen, sent_gen;	/* changes; as sent */
	enum ds_state	 sent_state;
	int		 inflight;
	char		 why[384];
	TAILQ_ENTRY(dsvc) entry;
};
TAILQ_HEAD(dsvc_list, dsvc);

enum tx_kind { TX_NONE, TX_SWEEP, TX_UPDATE, TX_GC };

struct dzone {
	struct dnsup	*d;
	struct dnsup_conf *conf;
	char		 host[320];	/* rns-SITE-HASH.ZONE */
	char		 index[340];	/* _rnsplice.HOST */
	struct dsvc_list svcs;
	int		 swept;		/* the crash sweep was done */
	ldns_rr_list	*stale;		/* deletions the sweep found */
	size_t		 nstale;	/* services in it */
	int		 sweep_more;	/* the index lists more than those */
	int		 host_live;	/* A/AAAA (and b/lb) are in the zone */
	char		**gc;		/* types that lost an instance */
	size_t		 ngc;
	int		 quitting;
	int		 notown;	/* no address of ours */
	/* the transaction in flight */
	enum tx_kind	 tx;
	int		 fd;
	struct ev_io	*io;
	struct ev_timer	*timer;		/* batch, gap, backoff, timeout */
	unsigned char	*out;
	size_t		 outlen, outoff;
	unsigned char	*in;
	size_t		 inlen;
	uint16_t	 id;
	ldns_rdf	*mac;		/* our request's, to check the answer */
	int		 tx_host;	/* the update set (1) or removed (-1) the host */
	char		*tx_gc;		/* TX_GC: the type */
	/* what rnsplice status shows */
	uint64_t	 last_ok, last_try;
	unsigned int	 attempts;	/* failures in a row */
	uint64_t	 retry_at;
	char		 error[512];
	unsigned long	 updates, failures;
	TAILQ_ENTRY(dzone) entry;
};
TAILQ_HEAD(dzone_list, dzone);

struct dnsup {
	struct agent	*agent;
	struct dzone_list zones;
};

/* --- the machine of each zone (dnszone.c) ----------------------------- */

/* The zone of a dns-update block, made the first time. NULL: no memory. */
struct dzone *dnszone_get(struct dnsup *, const struct dnsup_conf *);
void	dnszone_free(struct dzone *);
/* Something changed: an update follows (batched, rate-limited). */
void	dnszone_kick(struct dzone *);
/* 1 if the zone has changes not yet sent. */
int	dnszone_pending(const struct dzone *);
void	dnszone_svc_free(struct dsvc *);

/* --- records and messages (dnsrecords.c) ------------------------------- */

/* The A/AAAA of the zone's host name replaced (set) or removed, with the
 * browse domain PTRs when set. 0, or -1 (out of memory). */
int	dnsrec_host(const struct dzone *, ldns_rr_list *up, int set);
/* A service's records replaced, or removed when its state is DS_DEL. */
int	dnsrec_svc(const struct dzone *, const struct dsvc *, ldns_rr_list *up);
/* Delete an RRset, or with class NONE, the prerequisite "no such RRset". */
int	dnsrec_rrset_op(ldns_rr_list *, const char *name, ldns_rr_type,
	    ldns_rr_class);
/* Delete one RR given in presentation form. */
int	dnsrec_del_rr(ldns_rr_list *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* An update of the zone, prerequisites pr and updates up (copied). */
ldns_pkt *dnsrec_update_pkt(const struct dzone *, ldns_rr_list *pr,
	    ldns_rr_list *up);
/* The wire size of the TXT record's data. */
size_t	dnsrec_txt_wire(const struct txt *);
/* The TSIG algorithm's name as ldns wants it. */
const char *dnsrec_tsig_alg(const char *alg);
/* The TSIG error of an answer (0: none), and what it means (NULL: none). */
int	dnsrec_tsig_error(const ldns_pkt *);
const char *dnsrec_tsig_error_name(int);

#endif	/* HAVE_LDNS */

#endif
