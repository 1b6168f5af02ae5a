/* export.c and exportlan.c: the exporter's own structures. */
#ifndef RNSPLICE_EXPORT_INT_H
#define RNSPLICE_EXPORT_INT_H

#include <sys/queue.h>
#include <netdb.h>

#include "agent.h"
#include "svc.h"

#define X_MAXOBS		8

/* An instance of an exported type on this LAN. */
struct xsvc {
	struct exporter	*x;
	char		*name, *type, *domain;
	int		 obs[X_MAXOBS][2];	/* (ifindex, family) */
	size_t		 nobs;
	int		 local;		/* registered on this host */
	struct mdns_resolve *res;
	int		 res_if, res_af;
	int		 resolved;	/* addr, port, txt valid */
	char		 addr[NI_MAXHOST];
	uint16_t	 port;
	struct txt	 txt;
	TAILQ_ENTRY(xsvc) entry;
};

struct xtype {
	struct exporter	*x;
	char		*type;
	struct mdns_browse *sb;
	TAILQ_ENTRY(xtype) entry;
};

/* One per agent (agent->exporter), made when some remote exports. */
struct exporter {
	struct agent	*a;
	struct mdns	*mdns;
	int		 running;
	TAILQ_HEAD(, xtype) types;
	TAILQ_HEAD(, xsvc) svcs;
	size_t		 nsvcs;
	TAILQ_HEAD(, xcancel) cancels;
	struct xport	*ports;
	size_t		 nports;
	struct ev_timer	*sync_t;
	char		 label[64];	/* %r: this host's name */
};

/* exportlan.c: the LAN. 0, or -1 out of memory. */
int	exlan_start(struct exporter *);
void	exlan_free(struct exporter *);
/* Browse type too (idempotent; types are never dropped). */
void	exlan_want(struct exporter *, const char *type);

/* export.c: something on the LAN changed (a sync runs from the loop); s
 * is going away. */
void	export_changed(struct exporter *);
void	export_svc_gone(struct exporter *, struct xsvc *);

#endif
