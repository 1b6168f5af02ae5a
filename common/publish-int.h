/* What the publisher's files share; nothing else includes this.
 *
 * The engine (publish-engine.c, publish-host.c) is the publisher that
 * talks to the responder: it runs in the publisher's child process
 * (publish-proc.c), never in the process that called publisher_new(),
 * whose publish.c only mirrors it (see publish.h). Its API is publish.h's
 * with eng_ for publisher_ and pub_entry_. */
#ifndef RNSPLICE_PUBLISH_INT_H
#define RNSPLICE_PUBLISH_INT_H

#include <sys/types.h>
#include <sys/queue.h>

#include <net/if.h>

#include "mdns.h"
#include "publish.h"

#define PUB_MAX_RENAMES		64	/* collisions in a row, then FAILED */
#define PUB_ERRLEN		256
#define PUB_LABEL_MAX		64	/* a DNS label and its NUL */
#define PUB_FQDN_MAX		1014	/* as avahi's AVAHI_DOMAIN_NAME_MAX */
/* How long the child may go on withdrawing (goodbyes, paced) once its
 * parent is done with it, and how long a new publication waits for a
 * name such a child still holds on this host before renaming. */
#define PUB_LINGER_MS		20000

struct ev_loop;
struct ev_timer;
struct pub_engine;
struct eng_entry;

/* publish-names.c: a service as either side of the publisher holds it,
 * its spec copied (the name the one in use, after renames). */
struct pub_svc {
	char			*name;
	char			*type;
	char			*domain;	/* NULL: the default */
	uint16_t		 port;
	struct txt		 txt;
	enum pub_scope		 scope;
	int			 ifindex;	/* PUB_SCOPE_IFACE only */
};

#define PUB_CHANGED_TXT		0x1
#define PUB_CHANGED_PORT	0x2

/* Check spec (pub_spec_check) and copy it into sv: 0, or -1 with errno
 * EINVAL (the reason logged) or ENOMEM, sv untouched. */
int	pub_svc_set(struct pub_svc *, const struct pub_spec *);
/* Take a new TXT (txt != NULL) and/or port (port != 0): the PUB_CHANGED_*
 * bits of what differs, or -1 with errno EINVAL (bad TXT, the reason in
 * *cause) or ENOMEM, sv unchanged. */
int	pub_svc_update(struct pub_svc *, const struct txt *, uint16_t port,
	    char **cause);
void	pub_svc_clear(struct pub_svc *);

/* publish-notify.c: the callbacks of publish.h, deferred to the loop and
 * coalesced, for the proxy (publish.c) and the engine alike. An entry
 * holds a pub_nlink; deliver() gets the entry (item), or NULL for an
 * up/down change, and the current up/down. */
struct pub_nlink {
	TAILQ_ENTRY(pub_nlink)	 link;
	void			*item;
	int			 queued;
};

typedef void (*pub_deliver_fn)(void *owner, void *item, int up);

struct pub_notify {
	struct ev_timer		*timer;
	TAILQ_HEAD(, pub_nlink)	 queue;
	pub_deliver_fn		 deliver;
	void			(*destroy)(void *owner);
	void			*owner;
	int			 up;		/* as last set */
	int			 told_up;	/* as last delivered */
	int			 up_queued;
	int			 delivering;
	int			 free_pending;
};

void	pub_notify_init(struct pub_notify *, struct ev_loop *, pub_deliver_fn,
	    void (*destroy)(void *), void *owner);
void	pub_notify_clear(struct pub_notify *);	/* the timer; not the queue */
/* Tell the entry's user (once, from the loop; again if it changes after). */
void	pub_notify_item(struct pub_notify *, struct pub_nlink *, void *item);
void	pub_notify_cancel(struct pub_notify *, struct pub_nlink *);
void	pub_notify_up(struct pub_notify *, int up);
/* 1 if a delivery is under way: destroy() is then called at its end. */
int	pub_notify_defer_free(struct pub_notify *);

typedef void (*eng_cb)(struct pub_engine *, struct eng_entry *, int up,
    void *arg);

/* A rate: at most max per window_ms. */
struct pub_pace {
	uint64_t		 start;		/* current window (ms) */
	unsigned		 count;		/* taken in it */
};

/* 0 if one more may go at now (it is counted), else the ms until one
 * may. */
unsigned pub_pace_take(struct pub_pace *, uint64_t now, unsigned max,
	    unsigned window_ms);

struct eng_entry {
	struct pub_engine	*pub;
	TAILQ_ENTRY(eng_entry)	 link;
	struct pub_nlink	 nl;		/* to tell the user */
	int			 dead;		/* removed; reg not freed yet */
	int			 upd;		/* UPD_*: to do from the loop */
	struct pub_svc		 sv;
	void			*arg;
	struct mdns_reg		*reg;
	enum pub_state		 state;
	int			 fail_code;	/* MDNS_ERR_* when FAILED */
	unsigned		 renames;	/* since last ESTABLISHED */
	uint64_t		 hold_since;	/* name held by a withdrawer */
	uint64_t		 hold_until;	/* WAITING for it until (ms) */
	char			 where[IF_NAMESIZE + 24];	/* "on eth0" */
	char			 err[PUB_ERRLEN];
};

TAILQ_HEAD(eng_entries, eng_entry);

struct pub_engine {
	struct ev_loop		*loop;
	eng_cb			 cb;
	void			*arg;
	struct mdns		*mdns;
	int			 running;	/* registrations may exist */
	uint64_t		 stall_until;	/* no responder calls before */
	struct pub_pace		 pace;		/* publications */
	struct pub_pace		 wd_pace;	/* withdrawals */
	void			(*drained)(void *);	/* eng_drain() */
	void			*drained_arg;
	struct ev_timer		*sync_timer;
	struct pub_notify	 nq;
	struct eng_entries	 entries;
	struct eng_entries	 dead;		/* removed, to withdraw */
	size_t			 nentries;
	size_t			 nregs;		/* our objects in the responder */
	/* Host scope: <host name>-rnsplice.<domain> -> 127.0.0.1 on the
	 * loopback only, the SRV target of every host-scope service. */
	struct mdns_reg		*hreg;
	char			 hlabel[PUB_LABEL_MAX];
	char			 hfqdn[PUB_FQDN_MAX];
	unsigned		 hrenames;
};

/* publish-engine.c: as publisher_new() ... pub_entry_arg() in publish.h,
 * but every responder call is made from this process's loop. */
struct pub_engine *eng_new(struct ev_loop *, eng_cb, void *arg);
void	eng_free(struct pub_engine *);
int	eng_running(const struct pub_engine *);
struct eng_entry *eng_add(struct pub_engine *, const struct pub_spec *,
	    void *entry_arg);
int	eng_update(struct eng_entry *, const struct txt *, uint16_t port);
void	eng_remove(struct eng_entry *);
/* Call drained(arg) from the loop once every removed entry's registration
 * is withdrawn (paced, goodbyes), or the responder went away or hangs:
 * eng_free() then sends nothing more. Once. */
void	eng_drain(struct pub_engine *, void (*drained)(void *), void *arg);
enum pub_state eng_entry_state(const struct eng_entry *);
const char *eng_entry_name(const struct eng_entry *);
const char *eng_entry_error(const struct eng_entry *);
void	*eng_entry_arg(const struct eng_entry *);
int	pubent_publish(struct eng_entry *);
int	pubent_error(struct eng_entry *, int code, const char *what,
	    const char *cause);

/* publish-proc.c: the child process. Runs an engine on its own loop for
 * the parent at the other end of fd (a socketpair) until EOF on it; never
 * returns. */
void	pubproc_main(int fd) __attribute__((noreturn));
/* Fork the child: its pid and in *fd the parent's end of the socket
 * (non-blocking, close-on-exec), or -1 with *cause. */
pid_t	pubproc_spawn(int *fd, char **cause);
/* Mark this process, until it exits, as a publisher's child of this user
 * withdrawing its registrations from the responder whose host name is
 * host: a lock on a file in the user's runtime directory (rundir.h).
 * 0, or -1 (logged at debug level). */
int	pubproc_withdraw_lock(const char *host);
/* The pid of such a process, or 0. */
pid_t	pubproc_withdrawer(const char *host);

/* publish-host.c: the address record host-scope services point to. */
/* 0 once it exists (or is being probed), else MDNS_ERR_* with *cause. */
int	pub_host_ensure(struct pub_engine *, char **cause);
/* Withdraw it and forget its name. */
void	pub_host_drop(struct pub_engine *);

#endif
