/* The mDNS layer: browsing, resolving and registering DNS-SD services
 * through the host's mDNS responder, in the process's event loop
 * (common/event.c). Nothing in here is specific to one responder; a
 * backend implements it (common/mdns-avahi.c on avahi-client; one on the
 * DNS-SD API of dns_sd.h must fit the same contract).
 *
 * Objects. A connection (struct mdns) to the responder owns browsers,
 * resolvers and registrations. Each is freed by its user, also from inside
 * its own callback. When the connection goes DOWN every object made on it
 * becomes dead: it reports nothing more and stays valid until its user
 * frees it (usually at once, from the state callback). New objects are
 * made once the state is RUNNING again.
 *
 * What every backend guarantees:
 * - Callbacks run from the event loop, never from inside an mdns_*() call
 *   (so a callee may add and free objects freely), and never after the
 *   object was freed.
 * - The connection never fails for want of a responder: it reports DOWN
 *   and reconnects by itself (with backoff), also after the responder
 *   restarted; mdns_new() fails only when out of memory.
 * - State is reported first from the loop, then on transitions: DOWN,
 *   BUSY (the responder runs but its host name is being probed or
 *   renamed: browsing works, registrations wait), RUNNING.
 * - Browsers report each (interface, family) on which an instance is seen
 *   as its own ADD, and its REMOVE in the same terms; CACHED once what the
 *   responder already knew was listed, SETTLED once the first answers of
 *   the network are in ("all for now"; a backend without that notion
 *   reports it when no more answers are immediately queued).
 * - Resolvers stay open and report every later change of the service
 *   (TXT, port, address) until freed. TXT items are given in record order,
 *   binary-safe. A changed TXT is reported when the new record arrives
 *   (a TXT record browser or query beside the resolver; a responder's
 *   resolver alone tells it only once the old record expired, a second
 *   later), never followed by the old one again; where the responder has
 *   no room for that extra object, the resolver alone tells it.
 * - Registrations report ESTABLISHED once probing is done, COLLISION when
 *   the name was lost on the network (the records are then withdrawn; the
 *   user picks another name and calls mdns_reg_set() again on the same
 *   object, which keeps the responder's rate limiting), FAILED otherwise.
 *   mdns_reg_set() replaces whatever the registration held before. A
 *   name already registered on this host is refused at once with
 *   MDNS_ERR_COLLISION where the responder says so synchronously (avahi),
 *   else reported as COLLISION (dns_sd: kDNSServiceErr_NameConflict, the
 *   backend registering with kDNSServiceFlagsNoAutoRename: renaming is
 *   the user's, so that every backend renames alike). Freeing a
 *   registration withdraws it with goodbyes.
 * - A backend without some notion reports what it has: no host-name
 *   probing (dns_sd) means no BUSY; no address family on browse results
 *   means AF_UNSPEC; MDNS_NO_ADDRESS skips the address lookup
 *   (DNSServiceGetAddrInfo).
 * - Host scope (MDNS_HOST_SCOPE) means: visible to this host only, over
 *   IPv4 loopback (avahi: the loopback interface, IPv4; dns_sd:
 *   kDNSServiceInterfaceIndexLocalOnly).
 */
#ifndef RNSPLICE_MDNS_H
#define RNSPLICE_MDNS_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>

#include "proto.h"

struct ev_loop;
struct mdns;
struct mdns_browse;
struct mdns_resolve;
struct mdns_reg;

enum mdns_state {
	MDNS_DOWN,		/* no responder: every object is dead */
	MDNS_BUSY,		/* host name being probed: browse only */
	MDNS_RUNNING
};

/* Errors: negative return values. Only MDNS_ERR_DOWN is transient (the
 * responder is going away, or does not answer): the others refuse. */
#define MDNS_ERR_DOWN		(-1)
#define MDNS_ERR_COLLISION	(-2)	/* the name is in use on this host */
#define MDNS_ERR_OBJECTS	(-3)	/* the responder's objects per client */
#define MDNS_ERR_ENTRIES	(-4)	/* the responder's records per group */
#define MDNS_ERR_INVALID	(-5)	/* refused as invalid */
#define MDNS_ERR_NOMEM		(-6)
#define MDNS_ERR_OTHER		(-7)

/* Interfaces are indexes (if_nametoindex); 0 is every interface. Address
 * families are AF_INET, AF_INET6, or AF_UNSPEC (both, or not known). */
#define MDNS_IF_ANY		0
#define MDNS_HOST_SCOPE		0x1	/* flag: this host only */
#define MDNS_NO_ADDRESS		0x2	/* flag: resolve without address */

/* why: the reason the responder went DOWN, if known; else NULL. */
typedef void (*mdns_state_cb)(struct mdns *, enum mdns_state,
    const char *why, void *arg);

/* NULL only when out of memory. Connects at once: mdns_state() tells the
 * state right away (objects may be made if it is not DOWN); the callback
 * reports it (DOWN too) from the loop, later ones on transitions. Connection attempts that fail
 * outright (no D-Bus) are repeated after min_ms, doubling to max_ms. */
struct mdns	*mdns_new(struct ev_loop *, mdns_state_cb, void *arg,
		    unsigned min_ms, unsigned max_ms);
/* Frees the objects still made on it too (with avahi, one D-Bus
 * disconnection withdraws every registration at once): their handles are
 * then invalid. Not from the state callback. */
void		 mdns_free(struct mdns *);
enum mdns_state	 mdns_state(const struct mdns *);
/* This host's name in mDNS ("host", "host.local"); NULL while DOWN. */
const char	*mdns_host_name(const struct mdns *);
const char	*mdns_host_fqdn(const struct mdns *);
const char	*mdns_domain(const struct mdns *);	/* "local" */
/* The responder's name and version ("avahi 0.8"); NULL if unknown. */
const char	*mdns_version(const struct mdns *);
/* Is the responder there? A blocking one-shot check for diagnostics: 0
 * with *version ("avahi 0.8", malloc'ed), or -1 with *cause. */
int		 mdns_probe(char **version, char **cause);
/* Is ifindex a loopback interface? */
int		 mdns_if_loopback(int ifindex);

/* --- browsing ----------------------------------------------------------- */

enum mdns_event {
	MDNS_ADD,
	MDNS_REMOVE,
	MDNS_CACHED,		/* what the responder knew is listed */
	MDNS_SETTLED,		/* "all for now" */
	MDNS_FAILED		/* the object is dead; err says why */
};

struct mdns_found {
	int		 ifindex;
	int		 af;
	const char	*name;		/* NULL for a type browser */
	const char	*type;
	const char	*domain;
	int		 local;		/* registered on this host */
};

/* found is NULL but for ADD and REMOVE; err (with code) for FAILED. */
typedef void (*mdns_browse_cb)(struct mdns_browse *, enum mdns_event,
    const struct mdns_found *, int code, const char *err, void *arg);

/* Browse instances of type, or (type NULL) the service types announced
 * on the network. NULL with an MDNS_ERR_* in *code and *cause. */
struct mdns_browse *mdns_browse_new(struct mdns *, const char *type,
		    mdns_browse_cb, void *arg, int *code, char **cause);
void		 mdns_browse_free(struct mdns_browse *);

/* --- resolving ---------------------------------------------------------- */

struct mdns_resolved {
	int		 ifindex;
	int		 af;
	const char	*name;
	const char	*type;
	const char	*domain;
	const char	*host;		/* SRV target */
	const struct sockaddr *addr;	/* NULL with MDNS_NO_ADDRESS */
	uint16_t	 port;
	const struct txt *txt;		/* record order */
	int		 local;		/* registered on this host */
};

/* r NULL: failed (code, err). */
typedef void (*mdns_resolve_cb)(struct mdns_resolve *,
    const struct mdns_resolved *r, int code, const char *err, void *arg);

/* Resolve an instance as seen on (ifindex, af); the address of family af
 * unless flags has MDNS_NO_ADDRESS. */
struct mdns_resolve *mdns_resolve_new(struct mdns *, int ifindex, int af,
		    const char *name, const char *type, const char *domain,
		    int flags, mdns_resolve_cb, void *arg, int *code,
		    char **cause);
void		 mdns_resolve_free(struct mdns_resolve *);

/* --- registering -------------------------------------------------------- */

enum mdns_reg_event {
	MDNS_REG_PROBING,
	MDNS_REG_ESTABLISHED,
	MDNS_REG_COLLISION,
	MDNS_REG_FAILED
};

struct mdns_service {
	const char	*name;
	const char	*type;
	const char	*domain;	/* NULL: the default */
	const char	*host;		/* SRV target; NULL: this host */
	uint16_t	 port;
	const struct txt *txt;		/* NULL: empty; empty items left out */
	int		 ifindex;	/* MDNS_IF_ANY or one interface */
	int		 flags;		/* MDNS_HOST_SCOPE */
};

typedef void (*mdns_reg_cb)(struct mdns_reg *, enum mdns_reg_event,
    int code, const char *err, void *arg);

/* An empty registration: nothing is published before mdns_reg_set(). */
struct mdns_reg	*mdns_reg_new(struct mdns *, mdns_reg_cb, void *arg,
		    int *code, char **cause);
/* Publish a service, replacing what reg held. 0, or MDNS_ERR_* with
 * *cause. */
int		 mdns_reg_set(struct mdns_reg *, const struct mdns_service *,
		    char **cause);
/* Publish an address record fqdn -> addr instead (flags: MDNS_HOST_SCOPE;
 * no reverse record). */
int		 mdns_reg_set_address(struct mdns_reg *, const char *fqdn,
		    const struct sockaddr *addr, int ifindex, int flags,
		    char **cause);
/* Replace the TXT record of the service in place (no probing). */
int		 mdns_reg_update_txt(struct mdns_reg *,
		    const struct mdns_service *, char **cause);
void		 mdns_reg_free(struct mdns_reg *);

#endif
