/* What the publisher's files share (publish.c, publish-host.c); nothing
 * else includes this. */
#ifndef RNSPLICE_PUBLISH_INT_H
#define RNSPLICE_PUBLISH_INT_H

#include <sys/queue.h>

#include <net/if.h>

#include "mdns.h"
#include "publish.h"

#define PUB_MAX_RENAMES		64	/* collisions in a row, then FAILED */
#define PUB_ERRLEN		256
#define PUB_LABEL_MAX		64	/* a DNS label and its NUL */
#define PUB_FQDN_MAX		1014	/* as avahi's AVAHI_DOMAIN_NAME_MAX */

struct pub_entry {
	struct publisher	*pub;
	TAILQ_ENTRY(pub_entry)	 link;
	TAILQ_ENTRY(pub_entry)	 nlink;		/* notify queue */
	int			 queued;	/* on the notify queue */
	int			 dead;		/* removed; reg not freed yet */
	int			 upd;		/* UPD_*: to do from the loop */
	char			*name;		/* in use */
	char			*type;
	char			*domain;	/* NULL: the default */
	uint16_t		 port;
	struct txt		 txt;
	enum pub_scope		 scope;
	int			 ifindex;
	void			*arg;
	struct mdns_reg		*reg;
	enum pub_state		 state;
	int			 fail_code;	/* MDNS_ERR_* when FAILED */
	unsigned		 renames;	/* since last ESTABLISHED */
	char			 where[IF_NAMESIZE + 24];	/* "on eth0" */
	char			 err[PUB_ERRLEN];
};

TAILQ_HEAD(pub_entries, pub_entry);

struct publisher {
	struct ev_loop		*loop;
	pub_cb			 cb;
	void			*arg;
	struct mdns		*mdns;
	int			 running;	/* registrations may exist */
	int			 told_up;	/* last up/down delivered */
	int			 up_queued;
	uint64_t		 stall_until;	/* no responder calls before */
	uint64_t		 pace_start;	/* current pacing window */
	unsigned		 pace_count;	/* publications in it */
	struct ev_timer		*sync_timer;
	struct ev_timer		*notify_timer;
	struct pub_entries	 entries;
	struct pub_entries	 notify;
	struct pub_entries	 dead;		/* removed, to withdraw */
	size_t			 nentries;
	size_t			 nregs;		/* our objects in the responder */
	/* Host scope: <host name>-rnsplice.<domain> -> 127.0.0.1 on the
	 * loopback only, the SRV target of every host-scope service. */
	struct mdns_reg		*hreg;
	char			 hlabel[PUB_LABEL_MAX];
	char			 hfqdn[PUB_FQDN_MAX];
	unsigned		 hrenames;
	int			 delivering;
	int			 free_pending;
};

/* publish.c */
int	pubent_publish(struct pub_entry *);
int	pubent_error(struct pub_entry *, int code, const char *what,
	    const char *cause);

/* publish-host.c: the address record host-scope services point to. */
/* 0 once it exists (or is being probed), else MDNS_ERR_* with *cause. */
int	pub_host_ensure(struct publisher *, char **cause);
/* Withdraw it and forget its name. */
void	pub_host_drop(struct publisher *);

#endif
