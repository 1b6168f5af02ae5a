/* Unicast DNS-SD (RFC 6763) over RFC 2136 updates signed with TSIG: the
 * dns-update block of agent.conf (dnsupconf.c), the key file as
 * tsig-keygen writes it (tsigkey.c), and the update machine that
 * publishes and withdraws spliced services in a zone (dnsupdate.c,
 * dnszone.c, dnsrecords.c, which need ldns; without it the block is
 * refused when the file is read). */
#ifndef RNSPLICE_DNSUPDATE_H
#define RNSPLICE_DNSUPDATE_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define TSIG_NAMEMAX	253
#define TSIG_SECRETMAX	512	/* base64 */
#define TSIG_FILEMAX	(64 * 1024)
#define DNSUP_ADDRMAX	4	/* address statements per block */
#define DNSUP_ZONEMAX	190	/* the agent's own names go under it */
/* tsigkey.c: letters, digits, '-', '_'; labels of 1..63; at most max
 * bytes without the final dot */
int	dns_name_valid(const char *, size_t max);
#define DNSUP_TTL	120	/* seconds: short, the agent may vanish */

struct tsigkey {
	char	name[TSIG_NAMEMAX + 1];		/* lower case, no final dot */
	char	alg[32];			/* "hmac-sha256" */
	char	secret[TSIG_SECRETMAX + 1];	/* base64, as written */
};

/* The text of a key file (`key "NAME" { algorithm A; secret "S"; };`,
 * with named.conf comments). Exactly one key. 0, or -1 with *cause
 * "FILE:LINE: reason". */
int	tsigkey_parse(const char *file, const char *text, size_t len,
	    struct tsigkey *, char **cause);
/* Read and parse; refuses a file others may read or write. */
int	tsigkey_load(const char *path, struct tsigkey *, char **cause);

struct dnsup_conf {
	char		 server[64];		/* as written */
	struct sockaddr_storage server_sa;	/* with the port */
	socklen_t	 server_len;
	char		 zone[256];		/* lower case, no final dot */
	char		*keyfile;
	struct tsigkey	 key;
	struct sockaddr_storage addr[DNSUP_ADDRMAX];	/* port 0 */
	socklen_t	 addrlen[DNSUP_ADDRMAX];
	size_t		 naddr;
	unsigned int	 port;
	unsigned int	 line;			/* of "dns-update {" */
};

/* One statement of the block (av[0] the keyword); *dc is allocated by the
 * first. Errors say what and why, without FILE:LINE (the caller adds it). */
int	dnsup_conf_statement(struct dnsup_conf **dc, char **av, size_t ac,
	    char **cause);
/* The block is closed: every keyword given, the key file read. */
int	dnsup_conf_check(struct dnsup_conf *, char **cause);
struct dnsup_conf *dnsup_conf_dup(const struct dnsup_conf *);
void	dnsup_conf_free(struct dnsup_conf *);
int	dnsup_conf_eq(const struct dnsup_conf *, const struct dnsup_conf *);
/* 1 if this rnsplice-agent was built with ldns. */
int	dnsup_available(void);

/* DNS limits for one service: 0, or -1 and why. */
int	dnsup_check_limits(const char *zone, const char *name,
	    const char *type, size_t txtwire, char *why, size_t whylen);

/* --- the update machine (dnsupdate.c; dnsup_busy in dnszone.c) -------- */

struct agent;
struct splice;
struct remote_conf;
struct exposure;
struct exp_plan;
struct buf;
struct dnsup;

struct dnsup *dnsup_new(struct agent *);
void	dnsup_free(struct dnsup *);
/* A splice was made or its TXT changed / is going away. */
void	dnsup_publish(struct dnsup *, struct splice *);
void	dnsup_withdraw(struct dnsup *, struct splice *);
/* Shutting down: withdraw everything; 1 while updates are still due
 * (the agent's remote_stopped() is called when they are done). */
int	dnsup_busy(struct dnsup *);
void	dnsup_quit(struct dnsup *);
/* The remote's dns-update addresses that are this host's, added to the
 * listening plan; a client may connect if it is on one of their networks. */
void	dnsup_plan(const struct remote_conf *, struct exp_plan *);
int	dnsup_peer_ok(const struct exposure *, const struct remote_conf *,
	    const struct sockaddr *);
void	dnsup_status(const struct dnsup *, struct buf *, int json);
/* Per service, for rnsplice services: "published", "pending", or why
 * not; NULL when the remote has no dns-update. */
const char *dnsup_service_state(const struct dnsup *, const struct splice *);

#endif
