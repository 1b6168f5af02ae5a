/* rnsplice-subsystem: the server side of a splice (PROTOCOL.md). sshd runs
 * it as "Subsystem rnsplice"; it speaks protocol v1 on stdin/stdout.
 *
 *   main.c      options, then subsystem_main()
 *   subsystem.c process set-up: logging, policy, site id, the session
 *   session.c   the protocol state machine on stdin/stdout, keepalive
 *   browse.c    type and service browsers, resolvers (common/mdns.h)
 *   svctable.c  the service table: merging, address choice, the diff sent
 *   policy.c    subsystem.conf: parsing and matching (offer and export)
 *   relay.c     relay sessions: slots, connect, byte copying
 *   export.c    exports: checks, listeners, publication, connections
 */
#ifndef RNSPLICE_SUBSYSTEM_H
#define RNSPLICE_SUBSYSTEM_H

#include <sys/types.h>
#include <sys/queue.h>
/* RB_*: sys/tree.h or compat/tree.h, through config.h (compat/compat.h) */

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cfg.h"
#include "prefix.h"
#include "proto.h"

struct buf;
struct ev_loop;

#define SUBSYSTEM_NAME		"rnsplice-subsystem"
#define POLICY_DEFAULT_FILE	SYSCONFDIR "/rnsplice/subsystem.conf"

/* ------------------------------------------------------------------------
 * main.c -> subsystem.c */

struct subsystem_opts {
	const char	*policy_file;	/* NULL: the default, may be absent */
	int		 debug;		/* -d count: stderr and verbosity */
	int		 check_only;	/* -n: check the policy and exit */
	int		 user;		/* -u: the login's command, not sshd's
					 * Subsystem: the user's policy */
};
#define POLICY_USER_FILE	"subsystem.conf"	/* in config_dir() */

int	subsystem_main(const struct subsystem_opts *);

/* ------------------------------------------------------------------------
 * policy.c */

#define POLICY_DENY	0
#define POLICY_ALLOW	1
#define POLICY_MAYBE	2	/* depends on the address, not known yet */

#define POLICY_MAXFILE	CFG_MAXFILE
#define POLICY_MAXRULES	4096

struct policy_rule {
	int		 allow;
	unsigned int	 line;
	char		*type;		/* fnmatch pattern or NULL */
	char		*name;		/* fnmatch pattern or NULL */
	int		 has_prefix;
	struct prefix	 prefix;
};

/* What agents may publish on this server's LAN (export, PROTOCOL.md
 * section 8): "accept" and "reject" rules, first match decides, no match
 * refuses. */
#define POLICY_MAXFROM	8	/* "from" prefixes in one accept rule */

struct export_rule {
	int		 accept;
	unsigned int	 line;
	char		*type;		/* fnmatch pattern or NULL */
	char		*name;		/* fnmatch pattern or NULL */
	char		*iface;		/* accept: NULL every interface but
					 * the loopback; "lo" loopback only */
	unsigned int	 max;		/* accept: exports per session under
					 * this rule; 0: only max-exports */
	struct prefix	 from[POLICY_MAXFROM];	/* accept: the clients */
	size_t		 nfrom;		/* 0: LAN clients (export.c) */
};

struct policy {
	char		*file;		/* for messages; "(built-in)" */
	char		*path;		/* the file asked for, even if absent */
	struct policy_rule *rules;
	size_t		 nrules;
	int		 any_allow;	/* unmatched services are hidden */
	struct export_rule *xrules;
	size_t		 nxrules;
	int		 any_accept;	/* else every export is refused */
	unsigned int	 max_exports;	/* per session */
	int		 relay;		/* relay sessions allowed */
	unsigned int	 max_services;
	unsigned int	 max_line;
	unsigned int	 max_relays;
	unsigned int	 max_hops;
	unsigned int	 keepalive;	/* seconds, 0: off */
};

#define POLICY_DEF_MAX_SERVICES	512
#define POLICY_DEF_MAX_RELAYS	64
#define POLICY_DEF_KEEPALIVE	30
#define POLICY_DEF_MAX_EXPORTS	32

struct policy	*policy_default(void);
/* Load path; if missing_ok and the file does not exist, the defaults.
 * Returns NULL with *cause ("FILE:LINE: reason", malloc'ed) on error. */
struct policy	*policy_load(const char *path, int missing_ok, char **cause);
/* Parse text; what names the file in messages. */
struct policy	*policy_parse(const char *what, const char *text, size_t len,
		    char **cause);
void		 policy_free(struct policy *);
/* Decide for a service; addr NULL means not resolved yet (the answer may
 * then be POLICY_MAYBE); name NULL means any name (type-level question).
 * *rule, if not NULL, gets the deciding rule or NULL for the default. */
int		 policy_match(const struct policy *, const char *name,
		    const char *type, const char *addr,
		    const struct policy_rule **rule);
/* The export rule that decides for a service an agent offers (the first
 * that matches), or NULL if none does (refused). */
const struct export_rule *policy_export_match(const struct policy *,
		    const char *name, const char *type);
/* The IPv4 text of an IPv4-mapped address (1), else addr unchanged (0);
 * -1 if out is too small. */
int		 policy_addr_unmap(const char *addr, char *out, size_t outlen);
/* "loopback", "unspecified", "multicast", "broadcast" (IPv4-mapped forms
 * included) with the block it lies in, or NULL for an ordinary address. */
const char	*policy_addr_special(const char *addr, struct prefix *block);
/* May this host connect to addr for the agent (offer it, relay to it)?
 * 0, or -1 with *cause (malloc'ed): a special address needs an allow rule
 * whose address prefix lies inside that special block (e.g. "allow ...
 * address 127.0.0.1/32"). */
int		 policy_relay_target(const struct policy *, const char *name,
		    const char *type, const char *addr, char **cause);

/* ------------------------------------------------------------------------
 * svctable.c: every service instance (name, type, domain) the browsers
 * report, merged over interfaces and protocols. Each entry keeps the
 * observations (interface, protocol) that carry it, the resolved state of
 * the best one, and what the peer was last told about it. Changes only
 * mark entries dirty; svctable_flush() writes the difference as room
 * allows, so a peer that does not read costs no memory. */

struct svcobs {
	int		 ifindex;
	int		 proto;		/* AF_INET, AF_INET6 (AF_UNSPEC: not known) */
	int		 loopback;	/* seen on a loopback interface */
	int		 failed;	/* resolution failed or address denied */
	int		 stale;		/* from before an avahi restart */
};

struct svcentry {
	RB_ENTRY(svcentry)	 node;
	TAILQ_ENTRY(svcentry)	 dirty_link;
	TAILQ_ENTRY(svcentry)	 wait_link;	/* waits for a resolver */
	int		 waiting;
	char		*name;
	char		*type;
	char		*domain;

	struct svcobs	*obs;
	size_t		 nobs;

	/* The observation being resolved (browse.c owns the resolver). */
	void		*cookie;	/* NULL: none */
	int		 act_if;
	int		 act_proto;
	int		 pending;	/* resolver started, no answer yet */

	int		 resolved;	/* state holds a resolution */
	struct svc	 state;
	int		 denied;	/* an address was refused by policy */
	int		 toobig;	/* the line would exceed the peer's maxline */

	uint32_t	 id;		/* 0: the peer does not have it */
	struct svc	 sent;		/* what the peer has */

	int		 dirty;
	uint64_t	 dirty_since;
};

RB_HEAD(subsys_tree, svcentry);

/* Called when the table drops an entry's active observation or the entry
 * itself: free the resolver behind e->cookie (and set it to NULL). */
typedef void (*svctable_release_fn)(struct svcentry *, void *);

/* What svctable_flush() asks the writer to send. Returns 0 when written,
 * SVC_EMIT_FULL when there is no room now, SVC_EMIT_TOOBIG when the line
 * can never be sent. */
#define SVC_EMIT_FULL	(-1)
#define SVC_EMIT_TOOBIG	(-2)
typedef int (*svctable_emit_fn)(void *, enum msg_type, uint32_t id,
    const struct svc *);

/* How long a dirty entry waits for its pending resolver before it is sent
 * anyway: avoids sending an address that is replaced a moment later. */
#define SVC_HOLD_MS	300

struct svctable {
	struct subsys_tree		 tree;
	TAILQ_HEAD(, svcentry)	 dirty;
	TAILQ_HEAD(, svcentry)	 waiting;	/* for browse.c's resolvers */
	size_t			 nwaiting;
	const struct policy	*pol;
	svctable_release_fn	 release;
	void			*release_arg;
	size_t			 nlive;		/* entries with observations */
	size_t			 nentries;
	size_t			 npending;
	uint32_t		 next_id;
	unsigned int		 maxhops;
	char			*peer_id;
	int			 update;	/* the peer handles UPDATE */
	int			 overflow;	/* max-services was hit */
};

struct svctable	*svctable_new(const struct policy *, svctable_release_fn,
		    void *);
void		 svctable_free(struct svctable *);
/* From the peer's HELLO: its id, the hop limit in force, UPDATE support. */
int		 svctable_set_peer(struct svctable *, const char *peer_id,
		    unsigned int maxhops, int update);
struct svcentry	*svctable_find(struct svctable *, const char *name,
		    const char *type, const char *domain);
/* A browser reported the instance on (ifindex, proto). NULL with errno
 * ENOSPC when max-services entries exist already. */
struct svcentry	*svctable_obs_add(struct svctable *, const char *name,
		    const char *type, const char *domain, int ifindex,
		    int proto, int loopback, uint64_t now);
/* A browser withdrew it. Returns the entry, or NULL if it is gone. */
struct svcentry	*svctable_obs_del(struct svctable *, struct svcentry *,
		    int ifindex, int proto, uint64_t now);
/* The observation that should be resolved now; 0 if none. */
int		 svctable_pick(const struct svcentry *, int *ifindex,
		    int *proto);
void		 svctable_set_active(struct svctable *, struct svcentry *,
		    void *cookie, int ifindex, int proto);
void		 svctable_clear_active(struct svctable *, struct svcentry *);
/* The queue of entries whose resolver is to be (re)made (t->waiting, in
 * order): browse.c makes them a few per loop turn. svctable_wait() queues
 * an entry once, svctable_unwait() takes it off; an entry freed leaves
 * the queue. */
void		 svctable_wait(struct svctable *, struct svcentry *);
void		 svctable_unwait(struct svctable *, struct svcentry *);
/* The active resolver answered (host, addr, port, txt of st are used). */
void		 svctable_resolved(struct svctable *, struct svcentry *,
		    const struct svc *st, uint64_t now);
void		 svctable_failed(struct svctable *, struct svcentry *,
		    uint64_t now);
/* Drop every entry of a type (it is no longer browsed). */
void		 svctable_drop_type(struct svctable *, const char *type,
		    uint64_t now);
void		 svctable_drop_all(struct svctable *, uint64_t now);
/* Around an avahi restart: mark every observation stale; the browsers'
 * reports clear the mark; the sweep then drops what was not reported. */
void		 svctable_mark_stale(struct svctable *);
void		 svctable_sweep_stale(struct svctable *, uint64_t now);
/* Would the entry be offered to the peer now? */
void		 svctable_foreach(struct svctable *,
		    void (*)(struct svcentry *, void *), void *);
int		 svctable_offered(const struct svctable *,
		    const struct svcentry *);
/* Write dirty entries while emit accepts them. force ignores the hold.
 * Returns the time (ms) at which a held entry is due, 0 if none; *left
 * is set when entries still wait for room. */
uint64_t	 svctable_flush(struct svctable *, uint64_t now, int force,
		    svctable_emit_fn, void *, int *left);
int		 svctable_dirty(const struct svctable *);

/* ------------------------------------------------------------------------
 * browse.c */

struct browse;

struct browse_events {
	void	(*changed)(void *);		/* the table changed */
	void	(*avahi)(void *, int up);	/* down; up (after settling) */
	void	(*settled)(void *);		/* the browse set has settled */
	void	(*problem)(void *, const char *code, const char *msg);
};

/* How long the view may take to settle after a change of the browse set
 * or an avahi restart, whatever the browsers say. */
#define BROWSE_SETTLE_MAX_MS	3000
#define BROWSE_STALE_GRACE_MS	2000	/* after a daemon restart */
#define BROWSE_RECONNECT_MS	2000

struct browse	*browse_new(struct ev_loop *, struct svctable *,
		    const struct policy *, const struct browse_events *,
		    void *);
void		 browse_free(struct browse *);
/* The types to browse (ntypes 0: every type the LAN announces). */
int		 browse_set_types(struct browse *, char *const *types,
		    size_t ntypes);
/* Is the type one that can be carried (TCP)? _udp types are never
 * browsed nor offered. */
#define BROWSE_UDP_WHY	"rnsplice carries TCP only, not datagrams"
int		 browse_type_carried(const char *type);
/* Relay sessions: only track this instance name. */
int		 browse_set_name(struct browse *, const char *name);
int		 browse_up(const struct browse *);
int		 browse_settling(const struct browse *);
/* The settle in progress follows an avahi-daemon restart. */
int		 browse_restarting(const struct browse *);
/* Every browser has listed avahi's cache and no resolver is pending. */
int		 browse_cache_done(const struct browse *);

/* ------------------------------------------------------------------------
 * relay.c */

#define RELAY_BUFSZ		65536
#define RELAY_CONNECT_MS	10000
/* A relay's service must be listed and resolved within this. */
#define RELAY_RESOLVE_MS	15000

struct relay;

/* Take one of max slots shared by all relay sessions of this user;
 * returns a descriptor that holds it until closed, or -1 with *cause. */
int		 relay_slot_acquire(unsigned int max, char **cause);

typedef void (*relay_connected_fn)(void *, int fd, const char *err);
/* Connect to addr (IPv4, IPv6, IPv6%zone) and port, without blocking;
 * cb gets the socket, or -1 and a reason. */
struct relay	*relay_connect(struct ev_loop *, const char *addr,
		    uint16_t port, relay_connected_fn, void *);
/* The same to a Unix socket (an export's forward, export.c). */
struct relay	*relay_connect_path(struct ev_loop *, const char *path,
		    relay_connected_fn, void *);
/* Copy bytes: in_fd -> sock and sock -> out_fd. The relay takes the two
 * buffers: in holds bytes already read from in_fd, out bytes still to be
 * written to out_fd. done runs once both directions have ended. in_fd may
 * be out_fd (one TCP connection): its end towards us is then a
 * shutdown(SHUT_WR), and relay_free() closes it. */
int		 relay_start(struct relay *, int in_fd, int out_fd,
		    struct buf *in, int in_eof, struct buf *out,
		    void (*done)(void *), void *);
void		 relay_free(struct relay *);

/* ------------------------------------------------------------------------
 * relaybuf.c: one direction of the relay's copier, bounded by max bytes;
 * splice(2) through a pipe where it works, else read(2) and write(2). */

struct relaybuf {
	struct buf	 b;		/* bytes read before the relay, or all */
	int		 pipe[2];	/* splice: bytes in between; or -1 */
	size_t		 inpipe;	/* bytes in the pipe */
	size_t		 max;
};

/* 0: every relaybuf copies through its buffer (the tests compare) */
extern int	 relaybuf_splice;

/* Take *take's bytes (they go out first); take is left empty. */
void		 relaybuf_init(struct relaybuf *, struct buf *take, size_t max);
int		 relaybuf_spliced(const struct relaybuf *);
size_t		 relaybuf_len(const struct relaybuf *);
/* Whether to read now: there is room (with a pipe: it is empty). */
int		 relaybuf_room(const struct relaybuf *);
/* As read(2) and write(2): bytes moved, 0 at end of input, or -1. */
ssize_t		 relaybuf_read(struct relaybuf *, int fd);
ssize_t		 relaybuf_write(struct relaybuf *, int fd);
/* Drop what is held: the direction is over. */
void		 relaybuf_reset(struct relaybuf *);
void		 relaybuf_free(struct relaybuf *);

/* ------------------------------------------------------------------------
 * export.c: services the agent offers for this server's LAN (PROTOCOL.md
 * section 8). The session hands it the export messages; it answers
 * through send (EXPORTING, DROPPED). */

struct exports;
typedef void (*export_send_fn)(void *, struct msg *);

struct exports	*exports_new(struct ev_loop *, const struct policy *,
		    const char *siteid, const char *peer_id,
		    unsigned int maxhops, export_send_fn, void *);
/* Withdraws every publication (goodbyes), closes listeners and
 * connections, removes the directory. */
void		 exports_free(struct exports *);
/* EXPORT; t is the session's browse table (the one-copy rule), or NULL. */
void		 exports_export(struct exports *, const struct msg *,
		    int avahi_up, struct svctable *t);
/* An EXPORT line that did not parse but whose id did. */
void		 exports_bad(struct exports *, uint32_t id, const char *cause);
void		 exports_forwarding(struct exports *, uint32_t id);
void		 exports_unexport(struct exports *, uint32_t id);
/* The browse table changed: drop exports a better copy now beats. */
void		 exports_lan_changed(struct exports *, struct svctable *);
size_t		 exports_count(const struct exports *);

/* ------------------------------------------------------------------------
 * session.c */

struct session;

struct session	*session_new(struct ev_loop *, const struct policy *,
		    const char *siteid, int in_fd, int out_fd);
void		 session_free(struct session *);
/* Run until the session ends; returns the exit status. */
int		 session_run(struct session *);
/* Send one fatal ERROR (before or instead of a session) and wait, briefly,
 * until it is written (subsystem.c). */
void		 session_fatal_early(int out_fd, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
