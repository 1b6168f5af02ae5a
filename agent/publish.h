/* The publisher: puts spliced services on the local LAN through the local
 * avahi-daemon, one entry group per service (a collision in a shared group
 * would withdraw all of them), and keeps them there across avahi-daemon
 * restarts and name collisions. */
#ifndef RNSPLICE_PUBLISH_H
#define RNSPLICE_PUBLISH_H

#include <stdint.h>

#include "proto.h"

struct ev_loop;
struct publisher;
struct pub_entry;

enum pub_scope {
	PUB_SCOPE_LAN,		/* every interface avahi uses */
	PUB_SCOPE_IFACE,	/* one interface (ifindex) */
	PUB_SCOPE_HOST		/* this host only: loopback, 127.0.0.1 */
};

enum pub_state {
	PUB_WAITING,		/* avahi not running; will publish when it is */
	PUB_REGISTERING,	/* probing */
	PUB_ESTABLISHED,
	PUB_FAILED		/* gave up; reason in pub_entry_error() */
};

struct pub_spec {
	const char	*name;		/* wanted instance name */
	const char	*type;
	const char	*domain;	/* NULL: default ("local") */
	uint16_t	 port;		/* our listening port */
	const struct txt *txt;		/* complete TXT, metadata included */
	enum pub_scope	 scope;
	int		 ifindex;	/* PUB_SCOPE_IFACE */
};

/* Called when avahi goes away (up = 0) or comes back (up = 1), and when
 * an entry changes state (e != NULL). */
typedef void (*pub_cb)(struct publisher *, struct pub_entry *, int up,
    void *arg);

struct publisher *publisher_new(struct ev_loop *, pub_cb, void *arg,
	    char *err, size_t errlen);
void		 publisher_free(struct publisher *);
int		 publisher_running(const struct publisher *);

/* Publish (asynchronously: probing takes about a second). The spec is
 * copied. Returns NULL only when out of memory or the spec is invalid. */
struct pub_entry *publisher_add(struct publisher *, const struct pub_spec *,
	    void *entry_arg);
/* Replace TXT and/or port of a published entry without withdrawing it
 * when avahi allows (avahi_entry_group_update_service_txt), else re-add. */
int		 publisher_update(struct pub_entry *, const struct txt *,
		    uint16_t port);
/* Withdraw (sends goodbyes) and free. */
void		 publisher_remove(struct pub_entry *);

enum pub_state	 pub_entry_state(const struct pub_entry *);
/* The name actually in use (after collision renames). */
const char	*pub_entry_name(const struct pub_entry *);
const char	*pub_entry_error(const struct pub_entry *);
void		*pub_entry_arg(const struct pub_entry *);

#endif
