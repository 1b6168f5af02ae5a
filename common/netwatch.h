/* Network change notification: a remote waiting out its backoff is
 * retried soon after a link or address comes up, instead of after a
 * backoff that grew during the outage. */
#ifndef RNSPLICE_NETWATCH_H
#define RNSPLICE_NETWATCH_H

#include <stdint.h>

struct ev_loop;
struct netwatch;

/* cb runs once per burst of changes, NETWATCH_SETTLE_MS after the last. */
#define NETWATCH_SETTLE_MS	300
/* Where no change notification exists, the interface addresses are
 * compared this often; well below the agent's longest backoff. */
#define NETWATCH_POLL_MS	5000

/* rtnetlink or PF_ROUTE where configure found them and the socket opens,
 * else periodic checks; NULL only when out of memory. */
struct netwatch	*netwatch_new(struct ev_loop *, void (*cb)(void *), void *arg);
/* Periodic checks only, every interval_ms (the tests use a short one). */
struct netwatch	*netwatch_new_poll(struct ev_loop *, void (*cb)(void *),
		    void *arg, unsigned int interval_ms);
/* "rtnetlink", "PF_ROUTE" or "getifaddrs" */
const char	*netwatch_method(const struct netwatch *);
void		 netwatch_free(struct netwatch *);

/* What the periodic check compares: 0, or -1 with errno set. */
int		 netwatch_fingerprint(uint64_t *);

#endif
