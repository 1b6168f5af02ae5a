/* Network change notification: a remote waiting out its backoff is
 * retried soon after a link or address comes up, instead of after a
 * backoff that grew during the outage. */
#ifndef RNSPLICE_NETWATCH_H
#define RNSPLICE_NETWATCH_H

struct ev_loop;
struct netwatch;

/* cb runs once per burst of changes, NETWATCH_SETTLE_MS after the last. */
#define NETWATCH_SETTLE_MS	300

/* NULL (with a log line) where the system offers no notification; the
 * agent then relies on its backoff alone. */
struct netwatch	*netwatch_new(struct ev_loop *, void (*cb)(void *), void *arg);
void		 netwatch_free(struct netwatch *);

#endif
