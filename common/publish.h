/* The publisher: puts services on the local LAN through the host's mDNS
 * responder (common/mdns.h), one registration per service (a collision in a shared group
 * would withdraw all of them), and keeps them there across avahi-daemon
 * restarts and name collisions.
 *
 * Everything is asynchronous: publisher_add() queues the service, the
 * loop hands it to avahi (paced, at most 500 per second and 128 probing
 * at once, so that a burst neither stalls the loop nor saturates
 * avahi-daemon), and avahi probes
 * for about a second before it is ESTABLISHED. publisher_remove() queues
 * the withdrawal the same way (withdrawals go before additions, paced at
 * 500 per second: receivers drop goodbyes sent in a burst). The
 * callback reports what happens later; it is never called from inside a
 * publisher_*() call, but from the event loop right after, so the caller
 * may add, update and remove entries (or free the publisher) from within
 * it without care. Changes are coalesced: read the current state with
 * pub_entry_state() and pub_entry_name() when called.
 *
 * Objects: avahi-daemon allows 1,024 objects (entry groups, browsers,
 * resolvers) per client by default; the publisher uses one registration
 * per entry plus one for the host-scope address record, all on its own
 * connection.
 *
 * Processes: every responder call is a blocking round trip (with avahi,
 * D-Bus: seconds when avahi-daemon is busy, up to 25 s when it hangs), so
 * the calls are made by a child process that publisher_new() forks (same
 * program, no exec: it closes every descriptor but its socket and stderr,
 * runs a loop of its own and ends at EOF on its socket, once it withdrew
 * everything, paced). This process only
 * sends it the entries and mirrors what it reports; its loop never waits
 * on the responder. A child that dies, is killed, or sends nonsense is
 * replaced after a backoff (entries go back to WAITING, "down" is
 * reported, the new child gets every entry again).
 *
 * Files: publish.c (the API: the entries' mirror, the child's life),
 * publish-msg.c (the messages between the two, checked on both sides),
 * publish-proc.c (the child), publish-engine.c (in the child: the paced
 * queue, the responder calls), publish-host.c (the host-scope address
 * record), publish-names.c (name, TXT and spec checks, alternative
 * names), publish-notify.c (the callbacks, deferred and coalesced, on
 * both sides); publish-int.h is what they share.
 * Entries past the limit go FAILED (pub_entry_error() says so) and are
 * retried when another entry is removed or avahi restarts. */
#ifndef RNSPLICE_PUBLISH_H
#define RNSPLICE_PUBLISH_H

#include <sys/types.h>

#include <stddef.h>
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
	PUB_WAITING,		/* queued: avahi not running, or not yet
				 * handed to it (milliseconds; longer in a
				 * burst) */
	PUB_REGISTERING,	/* handed to avahi, probing (also after a
				 * rename or a port change) */
	PUB_ESTABLISHED,
	PUB_FAILED		/* gave up; reason in pub_entry_error() */
};

struct pub_spec {
	const char	*name;		/* wanted instance name, UTF-8, 1..63
					 * bytes, no control characters */
	const char	*type;		/* "_name._tcp" or "_name._udp" */
	const char	*domain;	/* NULL: default ("local") */
	uint16_t	 port;		/* our listening port, not 0 */
	const struct txt *txt;		/* complete TXT, metadata included;
					 * NULL: empty. Items <= 255 bytes;
					 * empty items are left out */
	enum pub_scope	 scope;
	int		 ifindex;	/* PUB_SCOPE_IFACE (> 0), else unused */
};

/* Called when avahi goes away (e == NULL, up = 0) or comes back (e == NULL,
 * up = 1), and when an entry changed state or name (e != NULL; up is then
 * publisher_running()). Up/down is reported on transitions only: a
 * publisher that starts while avahi is down reports nothing until avahi
 * comes up. */
typedef void (*pub_cb)(struct publisher *, struct pub_entry *, int up,
    void *arg);

/* Never fails because avahi-daemon (or even D-Bus) is not running: it then
 * waits for it. Out of memory is fatal. */
struct publisher *publisher_new(struct ev_loop *, pub_cb, void *arg);
/* Withdraws everything (avahi sends goodbyes) and frees all entries. Safe
 * from within the callback (the work is then finished from the loop). The
 * child process does the withdrawals, paced, after this returns: it may
 * outlive the caller by seconds (at most 20). */
void		 publisher_free(struct publisher *);
/* 1 while avahi-daemon is in state RUNNING. */
int		 publisher_running(const struct publisher *);
/* The child process doing the responder calls: its pid (0 while there is
 * none: between a loss and its successor), and how many were started
 * after the first. */
pid_t		 publisher_pid(const struct publisher *);
unsigned long	 publisher_restarts(const struct publisher *);
/* For a process that reaps every child itself (waitpid(-1)): hand over a
 * pid it does not know. Returns 1 if it was the publisher's child (which
 * is then replaced), else 0. A process that does not reap leaves it to
 * the publisher, which notices the child's end on its socket. */
int		 publisher_reaped(struct publisher *, pid_t, int status);

/* Check a spec as publisher_add() does: 0, or -1 with a reason in *cause
 * (the caller frees it). */
int		 pub_spec_check(const struct pub_spec *, char **cause);

/* Publish (asynchronously: the entry starts WAITING; probing takes about a
 * second). The spec is copied. Returns NULL only when out of memory (errno
 * ENOMEM) or the spec is invalid (errno EINVAL; the reason is logged,
 * pub_spec_check() gives it). A failure on avahi's side is reported later
 * as state PUB_FAILED. */
struct pub_entry *publisher_add(struct publisher *, const struct pub_spec *,
	    void *entry_arg);
/* Replace TXT (txt != NULL) and/or port (port != 0) of an entry. A TXT
 * change is done in place (avahi_entry_group_update_service_txt: no
 * withdrawal, no probing); a port change re-adds the service under the
 * same name (goodbye, then about a second of probing). A FAILED entry is
 * tried again. Returns 0, or -1 (errno EINVAL: bad TXT; ENOMEM) with the
 * entry unchanged. */
int		 publisher_update(struct pub_entry *, const struct txt *,
		    uint16_t port);
/* Withdraw (avahi sends goodbyes; queued, done from the loop before any
 * new publication) and free the entry at once. Safe from within the
 * callback, for any entry. */
void		 publisher_remove(struct pub_entry *);

enum pub_state	 pub_entry_state(const struct pub_entry *);
/* The name actually in use (after collision renames: "Printer #2").
 * Renames stick across avahi restarts and port changes. */
const char	*pub_entry_name(const struct pub_entry *);
/* Why the entry is FAILED; NULL if it is not. */
const char	*pub_entry_error(const struct pub_entry *);
void		*pub_entry_arg(const struct pub_entry *);

const char	*pub_state_name(enum pub_state);	/* "waiting" ... */
const char	*pub_scope_name(enum pub_scope);	/* "lan" "iface" "host" */

/* --- helpers, exported for the unit tests ------------------------------ */

/* 0 if name is a valid instance name (see struct pub_spec), else -1 with
 * a reason in *cause (the caller frees it). */
int		 pub_name_check(const char *name, char **cause);
/* 0 if every item is at most 255 bytes and the record at most
 * DNSSD_MAXTXT bytes, else -1 with a reason in *cause (the caller frees
 * it). */
int		 pub_txt_check(const struct txt *, char **cause);
/* The next name after a collision, as avahi_alternative_service_name():
 * "A" -> "A #2" -> "A #3", cut on a UTF-8 boundary to stay <= 63 bytes.
 * malloc'ed; NULL if out of memory or name is invalid. */
char		*pub_alternative_name(const char *name);
/* The same for a host label, as avahi_alternative_host_name(): "h" ->
 * "h-2" -> "h-3". NULL if out of memory or label is invalid. */
char		*pub_alternative_host(const char *label);
/* 1 if domain is a valid domain name ("local", "example.com."). */
int		 pub_domain_valid(const char *domain);
/* The label of the host-scope address record for avahi host name host:
 * "<host>-rnsplice", characters outside [A-Za-z0-9-] replaced by '-', cut
 * to 63 bytes. Returns 0, -1 if it does not fit in len. */
int		 pub_host_label(const char *host, char *out, size_t len);

#endif
