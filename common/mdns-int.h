/* What both mDNS backends (common/mdns-avahi.c, common/mdns-dnssd.c) share,
 * in common/mdns-common.c and common/mdns-txtwatch.c; nothing else
 * includes this. */
#ifndef RNSPLICE_MDNS_INT_H
#define RNSPLICE_MDNS_INT_H

#include "mdns.h"
#include "svc.h"

struct ev_timer;

/* What the user last heard of the daemon (mdns_state_cb), and the timer
 * whose callback brings it up to date from the loop. */
struct mdns_report {
	mdns_state_cb		 cb;
	void			*arg;
	enum mdns_state		 state;		/* last reported */
	int			 reported;
	struct ev_timer		*sync_t;
};

/* *cause = an allocated copy of msg (if cause is not NULL); returns code. */
int	mdns_fail_msg(int code, const char *msg, char **cause);
/* The same for the error text err of a step (what: NULL or the step's
 * name, "what: err"). */
int	mdns_fail_err(int code, const char *what, const char *err,
	    char **cause);
/* The index of the first loopback interface ("lo", "lo0"), 0 if none. */
int	mdns_lo_ifindex(void);
/* Arm the sync timer in ms; 0 (at once) overrides one already armed. */
void	mdns_sync_soon(struct mdns_report *, unsigned ms);
/* Tell the user of m state st (why: NULL or the reason) unless that is
 * what it heard last. */
void	mdns_set_state(struct mdns *m, struct mdns_report *, enum mdns_state st,
	    const char *why);

/* The TXT record browser beside a resolver (mdns-txtwatch.c): which TXT
 * record is the newest, and whether the user must hear of it. */
struct mdns_txtwatch {
	struct txt	 fresh;		/* arrived after the listing */
	int		 have_fresh;
	struct txt	 told;		/* what the user heard last */
	int		 have_told;
	int		 listed;	/* the browser listed the cache */
};

void	mdns_txtw_init(struct mdns_txtwatch *);
void	mdns_txtw_clear(struct mdns_txtwatch *);
/* The browser listed what the cache held: what comes now is new. */
void	mdns_txtw_listed(struct mdns_txtwatch *);
/* The browser found record t. 1: the user must hear t now (it differs
 * from what the user heard), 0: not, -1: out of memory. */
int	mdns_txtw_added(struct mdns_txtwatch *, const struct txt *t);
/* Record t went; an older one going while a newer one is there is
 * nothing. */
void	mdns_txtw_removed(struct mdns_txtwatch *, const struct txt *t);
/* The resolver reports res: the TXT the user is to hear (the browser's
 * newer record if it has one: a resolver still holding the old record
 * must not bring it back). NULL only when out of memory. */
const struct txt *mdns_txtw_resolved(struct mdns_txtwatch *,
	    const struct txt *res);

#endif
