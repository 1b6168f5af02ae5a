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

struct pub_engine;
struct eng_entry;

typedef void (*eng_cb)(struct pub_engine *, struct eng_entry *, int up,
    void *arg);

struct eng_entry {
	struct pub_engine	*pub;
	TAILQ_ENTRY(eng_entry)	 link;
	TAILQ_ENTRY(eng_entry)	 nlink;		/* notify queue */
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

TAILQ_HEAD(eng_entries, eng_entry);

struct pub_engine {
	struct ev_loop		*loop;
	eng_cb			 cb;
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
	struct eng_entries	 entries;
	struct eng_entries	 notify;
	struct eng_entries	 dead;		/* removed, to withdraw */
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

/* publish-engine.c: as publisher_new() ... pub_entry_arg() in publish.h,
 * but every responder call is made from this process's loop. */
struct pub_engine *eng_new(struct ev_loop *, eng_cb, void *arg);
void	eng_free(struct pub_engine *);
int	eng_running(const struct pub_engine *);
struct eng_entry *eng_add(struct pub_engine *, const struct pub_spec *,
	    void *entry_arg);
int	eng_update(struct eng_entry *, const struct txt *, uint16_t port);
void	eng_remove(struct eng_entry *);
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

/* publish-host.c: the address record host-scope services point to. */
/* 0 once it exists (or is being probed), else MDNS_ERR_* with *cause. */
int	pub_host_ensure(struct pub_engine *, char **cause);
/* Withdraw it and forget its name. */
void	pub_host_drop(struct pub_engine *);

#endif
