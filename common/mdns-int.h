/* What both mDNS backends (common/mdns-avahi.c, common/mdns-dnssd.c) share,
 * in common/mdns-common.c; nothing else includes this. */
#ifndef RNSPLICE_MDNS_INT_H
#define RNSPLICE_MDNS_INT_H

#include "mdns.h"

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

#endif
