/* rnsplice-agent: the client side. One process, one poll loop, any number
 * of remotes; each remote is an ssh ControlMaster whose own session is the
 * rnsplice subsystem, a table of the services it announces, and for each
 * imported service a listening socket and an avahi publication.
 *
 *	main.c		the command line into struct agent_opts
 *	agent.c		set-up, the loop, signals, the list of remotes
 *	agentconf.c	agent.conf (read by common/cfg.c) merged with the
 *			command line
 *	exposure.c	where services listen, whom they accept (on-link,
 *			allow-lists of common/prefix.c)
 *	sshmaster.c	spawn, watch and stop the ssh master
 *	remote.c	one remote: state machine, protocol client, backoff
 *	isvctable.c	the remote's services as the protocol describes them
 *	import.c	what is imported and how: loops, names, TXT, ports
 *	route.c		multi-stage: which copy of an origin service this LAN
 *			gets (fewest hops), failover between remotes
 *	lanview.c	what other agents already publish on this LAN
 *	splice.c	one imported service: listeners and publication
 *	dnsupdate.c	the same in a DNS zone (RFC 2136 + TSIG): the
 *			services per zone, status; dnszone.c (the machine
 *			of each zone: sweep, batches, TCP transactions),
 *			dnsrecords.c (the records and messages),
 *			dnsupconf.c (its block) and tsigkey.c (key file)
 *	conn.c		accepted connections: handed to the mux (direct)
 *	relaysession.c	relay mode: connections carried by relay sessions
 *	export.c	export: services of this LAN offered to the remotes
 *			(EXPORT, a remote forward through the master);
 *			exportlan.c finds them on this LAN
 *	status.c	status dumps (control socket, SIGUSR1)
 */
#ifndef RNSPLICE_AGENT_H
#define RNSPLICE_AGENT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <net/if.h>

#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "log.h"
#include "meta.h"
#include "mux.h"
#include "prefix.h"
#include "proto.h"
#include "siteid.h"
#include "xmalloc.h"

struct ev_loop;
struct ev_io;
struct ev_timer;
struct publisher;
struct pub_entry;
struct ctl_server;
struct dnsup_conf;
struct dnsup;
struct exporter;
struct xremote;

#define AGENT_CONF_FILE		"agent.conf"
#define AGENT_EXIT_CONFIG	78	/* EX_CONFIG: restarting will not help */
#define AGENT_NAME_TEMPLATE	"%n (%r)"
#define AGENT_MAX_SERVICES	512
#define AGENT_MAX_SERVICES_LIMIT 4096
#define AGENT_MAX_RELAYS	4096
#define AGENT_MAX_RELAYS_LIMIT	8000	/* ssh fatal()s past 16384 channels */
#define AGENT_PING_INTERVAL	7	/* seconds */
#define AGENT_PING_TIMEOUT	9	/* seconds, with the default interval */
#define AGENT_PING_MISSES	3	/* intervals, with another interval */
#define AGENT_PING_BUSY		3	/* times the timeout, connections open */
#define AGENT_IO_SAMPLE_MS	1000	/* a look at the master's byte counts */
#define AGENT_IO_MOVING		4096	/* bytes per look: the master is busy */
#define AGENT_STABLE_PORT_BASE	20000
#define AGENT_STABLE_PORT_SPAN	10000
#define AGENT_REMOTE_NAMELEN	32
#define AGENT_LISTEN_MAX	16	/* sockets per service (addresses) */
#define AGENT_PUB_IFS		8	/* interfaces published on one by one */
#define AGENT_AVAHI_CONF	"/etc/avahi/avahi-daemon.conf"
#define AGENT_RELAY_BUFSIZE	(64 * 1024)
/* Relay mode: each connection is a session on the server, and sshd
 * refuses sessions beyond its MaxSessions (default 10, the agent's own
 * session included). Connections beyond the limit (max-sessions, or
 * learned from a refusal) wait in a queue of at most AGENT_QUEUE_MAX for
 * AGENT_QUEUE_WAIT_MS; and at most AGENT_SESSION_OPENING sessions are
 * being opened at once, so that a burst of connections does not start a
 * burst of server processes that starves sshd and avahi-daemon. */
#define AGENT_MAX_SESSIONS_LIMIT 65535
#define AGENT_SESSION_OPENING	16
#define AGENT_QUEUE_MAX		1024
#define AGENT_QUEUE_WAIT_MS	60000

/* --- configuration (agentconf.c) ----------------------------------------- */

enum agent_scope {
	SCOPE_LAN,		/* all interfaces */
	SCOPE_HOST,		/* this host: 127.0.0.1 and lo */
	SCOPE_IFACE		/* one interface */
};

enum port_policy {
	PORT_STABLE,		/* hash of (remote, instance) in a high range */
	PORT_ORIGINAL		/* the service's own port if free */
};

/* Who listens for a service's clients (mfwd.c). */
enum listener_mode {
	LISTENER_AUTO,		/* the master where nothing is lost by it */
	LISTENER_AGENT,		/* always the agent */
	LISTENER_MASTER		/* the master, lan scope too */
};

/* One lan-networks item: a prefix, an interface name, or "any". */
struct lannet {
	struct prefix	 p;
	char		 ifname[IF_NAMESIZE];	/* "": a prefix */
	int		 any;
};

/* Fields a remote block may set; unset ones inherit the top level. */
#define RC_TYPES	0x0001
#define RC_SCOPE	0x0002
#define RC_ALLOW	0x0004
#define RC_TEMPLATE	0x0008
#define RC_PORTPOLICY	0x0010
#define RC_MAXRELAYS	0x0020
#define RC_MAXSERVICES	0x0040
#define RC_SSHOPTS	0x0080
#define RC_MAXSESSIONS	0x0100
#define RC_LANNETS	0x0200
#define RC_SUBSYSCMD	0x0400
#define RC_MDNS		0x0800
#define RC_EXPORTS	0x1000
#define RC_LISTENER	0x2000

/* "export TYPE [name PATTERN ...]": services of this LAN offered to the
 * remote (export.c). */
struct export_rule {
	char		*type;
	char		**names;	/* fnmatch(3) patterns; 0: every name */
	size_t		 nnames;
};

struct remote_conf {
	char		 name[AGENT_REMOTE_NAMELEN + 1];	/* %r */
	char		*destination;	/* what ssh gets */
	char		**types;	/* NULL/0: every type ("*") */
	size_t		 ntypes;
	enum agent_scope scope;
	char		 ifname[IF_NAMESIZE];
	struct prefix	*allow;		/* 0: on-link clients */
	size_t		 nallow;
	struct lannet	*lannets;	/* 0: the default (exposure.c) */
	size_t		 nlannets;
	char		*name_template;
	enum port_policy port_policy;
	enum listener_mode listener;
	unsigned int	 max_relays;
	unsigned int	 max_services;
	unsigned int	 max_sessions;	/* relay mode; 0: learn */
	int		 mdns;		/* publish on the LAN by mDNS */
	char		**ssh_options;	/* each becomes -o OPTION */
	size_t		 nssh_options;
	char		*subsystem_command;	/* NULL: ssh -s rnsplice */
	struct dnsup_conf *dnsupdate;	/* NULL: none (dnsupdate.h) */
	char		*dns_where;	/* FILE:LINE of "dns-update {" */
	struct export_rule *exports;	/* 0: export nothing */
	size_t		 nexports;
	unsigned int	 set;		/* RC_* */
	char		*file;		/* where it was defined */
	unsigned int	 line;
	TAILQ_ENTRY(remote_conf) entry;
};
TAILQ_HEAD(remote_conf_list, remote_conf);

struct agent_conf {
	int		 allow_root;
	unsigned int	 max_hops;
	unsigned int	 ping_interval;	/* seconds */
	unsigned int	 ping_timeout;	/* seconds; 0 until conf_finish */
	unsigned int	 ping_idle;	/* seconds; 0 until conf_finish */
	char		*avahi_conf;	/* NULL: AGENT_AVAHI_CONF */
	struct remote_conf defaults;	/* the top level of the file */
	struct remote_conf_list remotes;
};

struct agent_conf *conf_new(void);
void	conf_free(struct agent_conf *);
/* Read a file / a string. Errors: *cause = "FILE:LINE: reason" (free). */
int	conf_load(struct agent_conf *, const char *path, char **cause);
int	conf_parse(struct agent_conf *, const char *file, const char *text,
	    size_t len, char **cause);
struct remote_conf *conf_add_remote(struct agent_conf *, const char *name,
	    char **cause);
int	conf_set_scope(struct remote_conf *, const char *scope,
	    const char *ifname, char **cause);
int	conf_add_allow(struct remote_conf *, const char *prefix,
	    char **cause);
int	conf_add_lannet(struct remote_conf *, const char *, char **cause);
int	conf_set_types(struct remote_conf *, char *const *types, size_t n,
	    char **cause);
int	conf_set_template(struct remote_conf *, const char *, char **cause);
int	conf_set_port_policy(struct remote_conf *, const char *, char **cause);
int	conf_set_listener(struct remote_conf *, const char *, char **cause);
const char *conf_listener_name(enum listener_mode);
/* One export rule: av[0] the type, then optionally "name" and patterns
 * ("none" alone: export nothing, not even the top level's). */
int	conf_add_export(struct remote_conf *, int ac, char *const *av,
	    char **cause);
/* 1 if a service of this type and name is to be exported. */
int	conf_export_match(const struct remote_conf *, const char *name,
	    const char *type);
int	conf_exports_eq(const struct remote_conf *,
	    const struct remote_conf *);
/* Run the subsystem as the login's command: an absolute path, or one
 * starting with ~/ (the server's shell expands it). */
int	conf_set_subsystem_command(struct remote_conf *, const char *,
	    char **cause);
/* Merge the defaults into every remote and check the whole. */
int	conf_finish(struct agent_conf *, char **cause);
const char *conf_scope_name(enum agent_scope);
/* The configuration as the agent runs it (-n -v). */
void	conf_print(const struct agent_conf *, FILE *);

/* 1 if the address may connect (an empty list allows everyone). */
int	allow_check(const struct prefix *, size_t, const struct sockaddr *);

/* --- exposure: addresses to listen on, clients to accept (exposure.c) -- */

#define EXP_LEARN_MAX	16

/* One address of an interface that is up. */
struct exp_addr {
	char		 ifname[IF_NAMESIZE];
	unsigned int	 ifindex;
	unsigned int	 flags;		/* IFF_* */
	int		 lan;		/* avahi-daemon publishes there */
	struct sockaddr_storage sa;	/* port 0 */
	socklen_t	 salen;
	struct prefix	 net;		/* on-link prefix */
};

/* avahi-daemon.conf's [server] interface filter. */
struct avahi_ifs {
	char		**allow;
	size_t		 nallow;
	char		**deny;
	size_t		 ndeny;
	int		 p2p;		/* allow-point-to-point */
};

struct exposure {
	char		*avahi_conf;	/* path */
	struct avahi_ifs avahi;
	struct exp_addr	*addrs;		/* sorted by interface */
	size_t		 naddrs;
	/* the default LAN networks, found once (when some remote of scope
	 * lan has no lan-networks) */
	int		 learn;
	struct lannet	 learned[EXP_LEARN_MAX];
	size_t		 nlearned;
	int		 learned_set;
	unsigned long	 gen;		/* snapshots that differed */
};

/* Where one service listens and how it is published. */
struct exp_plan {
	struct sockaddr_storage bind[AGENT_LISTEN_MAX];	/* port 0 */
	socklen_t	 bindlen[AGENT_LISTEN_MAX];
	size_t		 nbind;
	int		 truncated;	/* more addresses than AGENT_LISTEN_MAX */
	enum agent_scope pub;		/* publication scope */
	unsigned int	 pubifs[AGENT_PUB_IFS];	/* pub == SCOPE_IFACE: where */
	size_t		 npubifs;
	size_t		 nifs;		/* interfaces listened on */
	int		 fallback;	/* lan scope on no LAN network: host */
};

int	lannet_parse(const char *, struct lannet *, char **cause);
int	lannet_format(const struct lannet *, char *, size_t);
int	avahi_ifs_parse(const char *, size_t, struct avahi_ifs *,
	    char **cause);
void	avahi_ifs_free(struct avahi_ifs *);
int	avahi_ifs_uses(const struct avahi_ifs *, const char *ifname,
	    unsigned int flags);
int	exp_iface_on(const struct exp_addr *, size_t, const char *ifname,
	    const struct lannet *, size_t);
size_t	exp_learn(const struct exp_addr *, size_t, struct lannet *,
	    size_t max);
void	exp_plan(const struct exposure *, const struct remote_conf *,
	    struct exp_plan *);
int	exp_peer_ok(const struct exposure *, const struct remote_conf *,
	    const struct sockaddr *);
void	exp_describe(const struct exposure *, const struct remote_conf *,
	    char *, size_t);
void	exp_format_addr(const struct sockaddr *, char *, size_t);
/* rnsplice status: one line of text, or a JSON object. */
void	exp_status(const struct exposure *, const struct remote_conf *,
	    struct buf *, int json);
struct exposure *exposure_new(const char *avahi_conf);
void	exposure_free(struct exposure *);
/* Take a new snapshot; 1 if it differs from the previous one. */
int	exposure_refresh(struct exposure *);

/* --- the ssh master (sshmaster.c) -------------------------------------- */

#define SSHM_ERRLINES	8
#define SSHM_LINELEN	256
#define SSHM_OPENFAIL	64	/* unclaimed "open failed" lines kept */

struct sshmaster {
	pid_t		 pid;		/* -1: none */
	int		 fd_in;		/* we write: the subsystem's stdin */
	int		 fd_out;	/* we read: its stdout */
	int		 fd_err;	/* ssh's own stderr */
	struct ev_io	*err_io;	/* its watch; dropped at EOF */
	struct buf	 errbuf;	/* partial stderr line */
	char		 lines[SSHM_ERRLINES][SSHM_LINELEN];
	unsigned int	 nlines;	/* total seen; ring index = n % max */
	/* "channel N: open failed: ..." lines not yet claimed by a relay:
	 * the master's only account of why a forward or session was
	 * refused (its mux reply says "open refused by peer" for all) */
	char		 openfail[SSHM_OPENFAIL][SSHM_LINELEN];
	unsigned int	 nopenfail, openfail_taken;
	int		 stopping;	/* we sent a signal */
	char		 ctlpath[128];
};

void	sshm_init(struct sshmaster *);
/* Start ssh; argv is built by sshm_argv. Returns 0, or -1 with a reason
 * in *cause (the caller frees it). */
int	sshm_start(struct sshmaster *, const char *ssh, const char *ctlpath,
	    const char *destination, char *const *options, size_t noptions,
	    const char *command, char **cause);
/* 1 if the ssh option (KEY=VALUE) is one the agent sets itself; *keylen
 * is then the length of its key. */
int	sshm_option_fixed(const char *opt, size_t *keylen);
/* The argument vector (NULL-terminated, malloc'ed; free with free()).
 * command NULL: ssh -s DEST rnsplice; else ssh DEST "command -u". */
char	**sshm_argv(const char *ssh, const char *ctlpath,
	    const char *destination, char *const *options, size_t noptions,
	    const char *command);
/* Read ssh's stderr (never blocks); returns 0 at EOF, 1 otherwise.
 * Complete lines go to the ring and, with prefix, to log_debug. At EOF
 * err_io is deleted and the descriptor closed. */
int	sshm_read_stderr(struct sshmaster *, const char *prefix);
void	sshm_stderr_feed(struct sshmaster *, const void *, size_t,
	    const char *prefix);
const char *sshm_last_line(const struct sshmaster *);
/* The oldest "open failed" line of ssh not yet taken, or NULL. */
const char *sshm_take_open_failure(struct sshmaster *);
void	sshm_signal(struct sshmaster *, int signo);
/* Bytes the master has read and written so far (its network socket and
 * the connections it forwards alike); -1 where the system does not say. */
int	sshm_io_bytes(const struct sshmaster *, uint64_t *);
/* The child was reaped: close everything, unlink the control socket. */
void	sshm_reaped(struct sshmaster *);
void	sshm_close(struct sshmaster *);
/* "ssh exited 255: Permission denied (publickey)" */
void	sshm_describe_exit(int status, const char *lastline, char *out,
	    size_t outlen);
/* A unique control path in dir for remote name; -1 if it cannot fit. */
int	sshm_ctlpath(char *out, size_t outlen, const char *dir,
	    const char *name, unsigned int gen);
void	sshm_raise_nofile(void);

/* cipherpref.c: AES-GCM first when no configuration names Ciphers */
extern const char cipherpref_opt[];
int	cipherpref_cpu_has_aes(void);
int	cipherpref_applies(const char *ssh, const char *destination,
	    char *const *options, size_t noptions);

/* --- services of one remote (isvctable.c, import.c) ------------------- */

struct splice;
struct remote;
struct origin;

struct isvc {
	uint32_t	 id;
	struct svc	 svc;		/* as the subsystem announced it */
	struct remote	*remote;
	int		 imported;	/* spliced here */
	char		 skip[512];	/* why not, when not imported */
	int		 eligible;	/* import_decide() said yes: a candidate */
	struct splice_meta meta;	/* as we re-publish it */
	char		 want[DNSSD_MAXNAME + 1];	/* name we would use */
	struct origin	*origin;	/* route.c, while eligible */
	/* reach.c: the server would not connect it (a refused forward or
	 * relay): not a candidate until a probe gets through */
	int		 refused;
	char		 refused_why[384];
	unsigned int	 probes;	/* refused probes in a row */
	uint64_t	 probe_at;	/* ms, when the next probe goes */
	struct ev_timer	*probe_t;
	TAILQ_ENTRY(isvc) olink;	/* the origin's candidates */
	struct splice	*splice;
	TAILQ_ENTRY(isvc) entry;
};
TAILQ_HEAD(isvc_list, isvc);

struct isvctable {
	struct isvc_list list;
	size_t		 n;
	size_t		 max;
	unsigned long	 dropped;	/* ADDs refused by the cap */
};

enum isvc_action {
	ISVC_ERROR = -1,
	ISVC_ADDED,
	ISVC_UPDATED,
	ISVC_REMOVED
};

void	isvctable_init(struct isvctable *, size_t max);
/* Apply ADD, UPDATE or REMOVE. ADDED: *e is new. UPDATED: *e holds the
 * new state, *old the previous one (svc_free it). REMOVED: *e is out of
 * the table (isvc_free it). ERROR: *cause says why (the caller frees it), nothing changed. */
enum isvc_action isvctable_apply(struct isvctable *, const struct msg *,
	    struct isvc **e, struct svc *old, char **cause);
struct isvc *isvctable_find(const struct isvctable *, uint32_t id);
/* Detach every entry into out (for teardown). */
void	isvctable_take_all(struct isvctable *, struct isvc_list *out);
void	isvc_free(struct isvc *);

/* 1: import, with *out the metadata to publish (ours appended); 0: skip,
 * why says so. peer is the subsystem's site id. */
int	import_decide(const struct txt *, const char *self, const char *peer,
	    unsigned int maxhops, struct splice_meta *out, char *why,
	    size_t whylen);
/* 1 for a type the agent can carry (_tcp); a _udp service is refused:
 * its listener would be TCP, a service no client could use. */
#define IMPORT_UDP_WHY	"a UDP service: rnsplice carries TCP only"
int	import_type_carried(const char *type);
/* The name at the origin (metadata n= or the name as announced). */
const char *import_origin_name(const struct isvc *);
/* Expand a name template: %n name, %r remote, %h hops, %%.
 * The result is cut (in %n, on a UTF-8 boundary) to fit 63 bytes. */
int	import_name(const char *tmpl, const char *name, const char *remote,
	    const char *type, size_t hops, char *out, size_t outlen);
int	import_template_check(const char *tmpl, char **cause);
uint16_t import_stable_port(const char *remote, const char *name,
	    const char *type, const char *domain);
/* Ports to try in order, 0 (the kernel's choice) last. Returns count. */
size_t	import_port_candidates(enum port_policy, uint16_t remembered,
	    uint16_t original, uint16_t stable, uint16_t *out, size_t max);
/* 1 and why when binding port needs a privilege the agent lacks. */
int	import_port_privileged(uint16_t port, char *why, size_t whylen);

/* --- multi-stage: one copy per origin service (route.c, lanview.c) ------ */

/* After the copy we published was withdrawn upstream, or a copy on the
 * LAN went away, wait this long before publishing the next best one: the
 * withdrawal of a service that is gone at its origin arrives along every
 * path, about a second later (avahi's goodbye) along each longer one. */
#define ROUTE_HOLD_MS		2000
/* ... and when a copy of another agent of this LAN goes away: that agent
 * may be switching paths itself, and needs its own hold-down and about a
 * second of probing to publish its new copy. */
#define ROUTE_LAN_HOLD_MS	(ROUTE_HOLD_MS + 1500)
/* Give the local view of a newly followed type this long to settle. */
#define LANVIEW_SETTLE_MS	2000

/* One copy of an origin service, as route_cmp() ranks it. */
struct route_cand {
	const struct splice_meta *meta;	/* as published (or to be) here */
	const char	*name;		/* instance name on this LAN */
	int		 published;	/* on the LAN now (ours: spliced) */
	int		 lan;		/* published by someone else */
	unsigned int	 order;		/* ours: the remote's config order */
	void		*arg;
};

/* <0: a is the better copy. Fewer hops; then the path, site by site;
 * then the copy already published; then the instance name; then a copy
 * on the LAN before ours; then configuration order. A total order that
 * every agent of a LAN computes alike. */
int	route_cmp(const struct route_cand *, const struct route_cand *);
void	route_sort(struct route_cand *, size_t);

enum route_verdict {
	ROUTE_OURS,		/* publish c[0], a candidate of ours */
	ROUTE_LAN,		/* c[0] is on the LAN already: publish none */
	ROUTE_WAIT_VIEW,	/* nothing of ours is up, and the local view
				 * of the type has not settled: wait */
	ROUTE_WAIT_HOLD		/* nothing of ours is up, a copy was just
				 * withdrawn: wait for the hold-down */
};
/* Rank c (sorted in place) and say what to do. view_ready: the local view
 * has settled; held: the origin's hold-down runs. */
enum route_verdict route_decide(struct route_cand *c, size_t n,
	    int view_ready, int held);
/* The origin's identity, "site<TAB>name<TAB>type<TAB>domain" (type and
 * domain in lower case); malloc'ed, NULL if out of memory. */
char	*route_key(const char *site, const char *name, const char *type,
	    const char *domain);
/* The origin key of a record that carries metadata m and is published as
 * name (the name at the origin is m->name if set). */
char	*route_meta_key(const struct splice_meta *m, const char *name,
	    const char *type, const char *domain);
/* Does a copy seen on the LAN count as a competitor of ours? 0 if it is
 * our own (published on this host, path ending here) or has crossed this
 * site before (derived from a copy of ours). */
int	route_lan_usable(const struct splice_meta *, int local,
	    const char *self);

struct agent;
struct routes;

struct route_stats {
	unsigned long	 events;	/* ADD/UPDATE/REMOVE from all remotes */
	unsigned long	 runs;		/* origins ranked */
	unsigned long	 published;	/* splices made */
	unsigned long	 withdrawn;	/* splices undone */
	unsigned long	 switches;	/* one path replaced by another */
	unsigned long	 held;		/* publications delayed by the hold */
	size_t		 origins;
};

struct routes *routes_new(struct agent *);
void	routes_free(struct routes *);
/* e (of remote e->remote) was added or changed; old: its previous state
 * (NULL after ADD). Decides whether it is a candidate and re-ranks. */
void	route_service(struct agent *, struct isvc *e, const struct svc *old);
/* e leaves its table: withdrawn upstream (hold = 1) or with its session
 * (hold = 0). Unsplices it at once. */
void	route_gone(struct agent *, struct isvc *e, int hold);
struct lancopy;
/* lanview callback: copies of origin key changed (key NULL: maybe all);
 * gone: the copy that is going away, if one is. */
void	route_lan_changed(void *agent, const char *key,
	    const struct lancopy *gone);
void	route_get_stats(const struct routes *, struct route_stats *);
/* Decide now what is pending (normally done from a zero timer). */
void	route_flush(struct agent *);

struct lanview;
struct mdns_resolve;
struct lvtype;

/* A service instance of a followed type on this LAN. Read-only outside
 * lanview.c. */
struct lancopy {
	char		*name;
	char		*type;
	char		*domain;
	char		*key;		/* origin key; NULL: no usable metadata */
	struct splice_meta meta;
	int		 local;		/* registered on this host */
	/* lanview.c's own */
	struct lvtype	*t;
	int		 obs[8][2];	/* (ifindex, family) seen on */
	size_t		 nobs;
	int		 nonlo;		/* seen on an interface other than lo */
	struct mdns_resolve *res;
	int		 res_if, res_proto;
	int		 resolved;	/* answered (or failed) once */
	TAILQ_ENTRY(lancopy) entry;
};

typedef void (*lanview_cb)(void *arg, const char *key,
	    const struct lancopy *gone);

/* Never fails for want of avahi-daemon: it waits for it. */
struct lanview *lanview_new(struct ev_loop *, lanview_cb, void *arg);
void	lanview_free(struct lanview *);
/* Follow a service type (idempotent; types are never dropped). */
void	lanview_want(struct lanview *, const char *type);
/* 1 when the view of type is complete enough to decide on: the browser
 * said "all for now" and every instance has been resolved once, or
 * LANVIEW_SETTLE_MS passed, or avahi is not running (nothing to see). */
int	lanview_ready(const struct lanview *, const char *type);
/* The copies of origin key on the LAN (resolved, with metadata, seen on
 * an interface other than the loopback); prev NULL for the first. */
const struct lancopy *lanview_next(const struct lanview *,
	    const struct lancopy *prev, const char *key);
size_t	lanview_count(const struct lanview *);

/* --- one imported service (splice.c) ----------------------------------- */

struct conn;

struct splice {
	struct remote	*remote;
	struct isvc	*isvc;
	char		 name[DNSSD_MAXNAME + 1];	/* wanted */
	struct txt	 txt;				/* published */
	uint16_t	 port;
	char		 port_note[160];	/* why not the original */
	int		 fds[AGENT_LISTEN_MAX];
	struct ev_io	*ios[AGENT_LISTEN_MAX];
	struct sockaddr_storage lsa[AGENT_LISTEN_MAX];	/* bound, port 0 */
	size_t		 nfds;
	enum agent_scope pubscope;	/* as published now */
	unsigned int	 pubifs[AGENT_PUB_IFS];	/* SCOPE_IFACE: one entry each */
	size_t		 npubifs;
	int		 fallback;	/* lan scope, on no LAN network */
	struct pub_entry *pub;		/* the first (status shows it) */
	struct pub_entry *xpub[AGENT_PUB_IFS - 1];	/* the others */
	size_t		 nxpub;
	unsigned long	 accepted, refused;
	unsigned long	 offlink;	/* refused: not on-link */
	uint64_t	 offlink_logged;	/* ms, rate limit */
	unsigned long	 offlink_quiet;	/* not logged since */
	int		*gone;		/* set by splice_free: accepting */
	struct mfwd	*mfwd;		/* the master's listener (mfwd.c) */
};

/* NULL with a reason in *cause (the caller frees it). */
struct splice *splice_new(struct remote *, struct isvc *, char **cause);
/* TXT changed (name, type and domain did not): republish. */
int	splice_update(struct splice *);
void	splice_free(struct splice *);
const char *splice_pub_name(const struct splice *);
const char *splice_pub_state(const struct splice *);
/* The publisher reported a change of one of this splice's entries. */
void	splice_pub_event(struct splice *, struct pub_entry *);
/* The interfaces changed: follow the addresses, maybe fall back to (or
 * come back from) host scope. */
void	splice_exposure_changed(struct splice *);
/* Splice e (route.c chose it): 0, or -1 with e->skip saying why. */
int	splice_import(struct isvc *e);
/* Withdraw e's splice, if any. */
void	splice_withdraw(struct isvc *e);
/* The remote's memory of ports (same service, same port after a
 * reconnect) is dropped with the remote. */
void	splice_forget_ports(struct remote *);
/* For mfwd.c: publish a splice whose publication waited for the
 * hand-over; close the agent's listeners; listen again (same port if
 * it can, another one if not published yet): 0, or -1 (logged). */
void	splice_publish_deferred(struct splice *);
void	splice_close_listeners(struct splice *);
int	splice_listen_again(struct splice *);


/* --- accepted connections (conn.c, relaysession.c) ------------------------ */

enum conn_state {
	CONN_QUEUED,		/* relay mode: waiting for a session */
	CONN_OPENING,		/* mux request sent, no answer yet */
	CONN_OPEN,		/* direct: the master carries it */
	CONN_HANDSHAKE,		/* relay mode: HELLO/RELAY sent */
	CONN_COPYING		/* relay mode: bytes flow through us */
};

/* One accepted connection (or a probe of reach.c's): direct, a mux stdio
 * forward the master carries; or in relay mode, a relay session of the
 * subsystem whose bytes the agent copies. */
struct conn {
	struct remote	*remote;
	uint32_t	 rid;
	enum conn_state state;
	int		 via_subsystem;	/* relay mode */
	int		 fallback;	/* relay mode after a direct failure */
	int		 ctl;		/* mux control connection */
	struct ev_io	*ctlio;
	struct mux_reader mr;
	int		 sock;		/* the accepted socket, while ours */
	char		 name[DNSSD_MAXNAME + 1];
	char		 type[DNSSD_MAXTYPE + 1];
	char		 domain[DNSSD_MAXDOMAIN + 1];
	char		 target[INET6_ADDRSTRLEN + IF_NAMESIZE + 8];
	char		 client[INET6_ADDRSTRLEN + 8];
	char		 direct_error[256 + SSHM_LINELEN + 8];	/* mux reason; ssh: line */
	uint64_t	 started;	/* ms */
	uint64_t	 queued_at;	/* ms, first time queued */
	int		 queued;	/* on remote->queue */
	int		 session;	/* holds one of the server's sessions */
	int		 opening;	/* ... not RELAYING yet */
	int		 granted;	/* ... sshd opened the channel */
	int		 exited;	/* the session's exit status came */
	unsigned int	 exit_status;
	TAILQ_ENTRY(conn) qentry;
	/* relay mode: sock <-> (to, from) pipes of the subsystem session */
	int		 to, from;
	struct ev_io	*sockio, *toio, *fromio;
	struct buf	 up, down;	/* client->server, server->client */
	int		 up_eof, down_eof, up_done, down_done;
	unsigned long long bytes_up, bytes_down;
	int		 probe;		/* reach.c's, not a client's */
	int		 reported;	/* remote->open_result was told */
	TAILQ_ENTRY(conn) entry;
};
TAILQ_HEAD(conn_list, conn);

void	conn_accept(struct remote *, struct splice *, int fd,
	    const struct sockaddr *, socklen_t);
/* A connection of our own to e, on the path a client's would take, to
 * learn whether the server connects it again (reach.c). 0, or -1. */
int	conn_probe(struct remote *, const struct isvc *e);
void	conn_free(struct conn *);
const char *conn_state_name(const struct conn *);
/* Every connection through r is cut (the master is gone): say so. Also
 * closes the spare control connection. */
void	conn_cut_all(struct remote *, const char *why);
/* Close r's spare control connection, if any. */
void	conn_spare_drop(struct remote *);
/* Relay mode: the session limit in force (0: none known). */
unsigned int relay_session_limit(const struct remote *);
/* The remote's queue timer: open waiting sessions, expire old ones. */
void	relay_queue_cb(void *);

/* --- reachability (reach.c) ---------------------------------------------- */

/* Discovery implies reachability: a service the server refuses to connect
 * (PermitOpen, "relay no", a dead target) leaves the LAN at its first
 * refusal and is probed with backoff until it gets through. */
#define REACH_PROBE_MIN_MS	2000
#define REACH_PROBE_MAX_MS	120000

enum reach_result {
	REACH_OK,		/* the forward or relay opened */
	REACH_REFUSED,		/* the server would not connect it */
	REACH_FAILED		/* something else went wrong */
};

/* How a connection's open ended (conn.c calls it through
 * remote->open_result, at most once per connection). */
void	reach_result(struct conn *, enum reach_result, const char *why);
/* "refused by the server: WHY; next try in N s" */
void	reach_skip(const struct isvc *, char *out, size_t outlen);
/* ms until the next probe (0: none pending). */
uint64_t reach_retry_in(const struct isvc *);
unsigned int reach_backoff_ms(unsigned int probes, uint32_t rnd);
void	reach_clear(struct isvc *);
/* A new session announced e: if an earlier one was refused it, e stays
 * refused until a probe (made at once) gets through. */
void	reach_recall(struct remote *, struct isvc *e);
void	reach_forget_all(struct remote *);
/* e's address or port changed: if it is refused, probe it now. */
void	reach_kick(struct isvc *e);

/* --- one remote (remote.c) ----------------------------------------------- */

#define REMOTE_BACKOFF_MIN_MS	1000
#define REMOTE_BACKOFF_MAX_MS	60000
#define REMOTE_BACKOFF_JITTER	20	/* percent, both ways */

enum remote_state {
	RS_BACKOFF,		/* waiting to (re)connect */
	RS_CONNECTING,		/* ssh started, waiting for the HELLO */
	RS_BROWSING,		/* BROWSE sent, waiting for SYNCED */
	RS_SYNCED,		/* live */
	RS_CLOSING,		/* session lost, waiting for ssh to exit */
	RS_STOPPED		/* shutting down, ssh gone */
};

struct portmem {
	char		*key;		/* name \t type \t domain */
	uint16_t	 port;
};

struct remote {
	struct agent	*agent;
	struct remote_conf *conf;
	enum remote_state state;
	char		 last_error[512];
	struct sshmaster ssh;
	unsigned int	 gen;		/* sessions started */
	struct ev_io	*in_io, *out_io;
	struct buf	 in, out;
	size_t		 maxline;	/* the peer's */
	struct ev_timer	*timer;		/* backoff, close grace, kill */
	struct ev_timer	*ping_timer;
	uint64_t	 last_rx, last_tx, state_since, synced_at;
	uint64_t	 ping_first;	/* first PING sent after last_rx */
	uint64_t	 io_bytes, io_at; /* the master's byte count, when */
	uint64_t	 kicked_at;	/* last retry on a network change */
	unsigned int	 ping_seq;
	unsigned int	 attempts;	/* failed connects in a row */
	char		 pending[256];	/* why we stopped ssh */
	char		 peer_id[SITEID_MAX + 1];
	int		 peer_relay;	/* subsystem offers relay sessions */
	int		 peer_beat;	/* it BEATs when silent (HELLO beat) */
	unsigned int	 maxhops;
	int		 relay_mode;	/* forwarding refused: use relays */
	int		 alive_fd;	/* mux ALIVE_CHECK after the HELLO */
	struct ev_io	*alive_io;
	struct mux_reader alive_mr;
	struct isvctable table;		/* what the session announced */
	size_t		 nimported;
	struct portmem	*ports;		/* splice.c: ports across sessions */
	size_t		 nports;
	char		**refused;	/* reach.c: keys refused, any session */
	size_t		 nrefused;
	unsigned int	 ssh_line_used;	/* reach.c: ssh's stderr lines read */
	unsigned int	 index;		/* configuration order */
	unsigned long	 events;	/* ADD/UPDATE/REMOVE received */
	struct conn_list conns;		/* accepted connections (conn.c) */
	size_t		 nconns;
	unsigned long	 conns_total, conns_refused, conns_failed;
	/* relay mode: sessions on the server (relaysession.c) */
	size_t		 nsessions;	/* open or opening */
	size_t		 nopening;	/* opening: no RELAYING yet */
	size_t		 ngranted;	/* channel open (SESSION_OPENED) */
	unsigned int	 sessions_learned;	/* refused beyond; 0: none */
	struct conn_list queue;	/* connections waiting for one */
	size_t		 nqueued;
	unsigned long	 sessions_refused, queue_full, queue_expired;
	size_t		 cut_by_master;	/* ended as the master exited */
	struct ev_timer	*queue_timer;
	/* conn.c: a spare mux control connection (HELLO sent) to the master
	 * of session spare_gen, for the next direct connection; -1: none */
	int		 spare_fd;
	unsigned int	 spare_gen;
	int		 ending;	/* close_session: the master goes too */
	uint64_t	 refuse_logged;	/* ms, rate limit */
	struct log_limit bad_log;	/* bad lines from the subsystem */
	struct log_limit err_log;	/* its non-fatal ERRORs */
	/* export.c: what this session offers the server */
	int		 peer_export;	/* its HELLO has "export" */
	struct xremote	*x;		/* export.c's; NULL: nothing yet */
	/* how a connection's open ended (conn.c tells, at most once per
	 * connection; remote_new sets reach_result) */
	void		(*open_result)(struct conn *, enum reach_result,
			    const char *why);
	TAILQ_ENTRY(remote) entry;
};
TAILQ_HEAD(remote_list, remote);

struct remote *remote_new(struct agent *, struct remote_conf *);
void	remote_free(struct remote *);
void	remote_start(struct remote *);
/* Shutting down: withdraw everything, stop ssh. */
void	remote_stop(struct remote *);
/* The network changed: a remote in backoff tries again soon. */
void	remote_network_changed(struct remote *);
void	remote_child_exited(struct remote *, int status);
const char *remote_state_name(enum remote_state);
/* Send a message on r's browse session (dropped when it is not up). */
void	remote_send(struct remote *, const struct msg *);
unsigned int remote_backoff_ms(unsigned int attempt, uint32_t rnd);

/* --- export (export.c) ------------------------------------------------------ */

struct exporter *exporter_new(struct agent *);
void	exporter_free(struct exporter *);
/* 1: export a service with this TXT record from site self to site peer,
 * *out the metadata to send (origin, path ending in self); 0: not (an
 * imported copy, a loop, from peer), why says so. */
int	export_decide(const struct txt *, const char *self, const char *peer,
	    struct splice_meta *out, char *why, size_t whylen);
/* r's configuration is new (start) or re-read (SIGHUP kept r). */
void	export_conf(struct remote *);
void	export_reload(struct remote *);
void	export_session_up(struct remote *);
/* The session ends: UNEXPORT what is offered, forget the offers. */
void	export_session_end(struct remote *);
/* Exports offered or in force (not refused) in r's session. */
size_t	export_live(const struct remote *);
void	export_remote_free(struct remote *);
/* EXPORTING, DROPPED */
void	export_message(struct remote *, const struct msg *);
/* rnsplice status (one line / an "exports" member), services (a line or
 * an object per export). */
void	export_status(const struct remote *, struct buf *, int json);
void	export_services(const struct remote *, struct buf *, int json,
	    int *first);

/* --- the agent (agent.c) ------------------------------------------------- */

/* What the command line says about the configuration (reload.c builds
 * it from these at start and on SIGHUP). */
/* The command line (main.c); rnsplice-agent(1) has the options. */
struct agent_opts {
	const char	*file;		/* NULL: the destination alone, or
					 * without one the default file */
	const char	*scope, *ifname, *policy, *tmpl, *subsys_cmd;
	const char	*allow[64];
	size_t		 nallow;
	const char	*lannets[64];	/* -L */
	size_t		 nlannets;
	const char	*exports[64];	/* -x TYPE */
	size_t		 nexports;
	char		**argv;		/* destination [type ...] */
	int		 argc;
	int		 root;		/* -R */
	int		 debug;		/* -d: foreground, log to stderr */
	int		 check;		/* -n */
	int		 verbose;	/* -v */
	const char	*sockpath;	/* -S; NULL: in the run directory */
};

struct agent {
	struct ev_loop	*loop;
	struct agent_conf *conf;
	const struct agent_opts *opts;
	char		 reload_error[512];	/* the last SIGHUP's, or "" */
	uint64_t	 reload_failed_at, reloaded_at;	/* ms */
	unsigned long	 reloads;
	struct publisher *pub;
	struct lanview	*lan;
	struct routes	*routes;
	struct netwatch	*netwatch;	/* NULL where unsupported */
	struct exposure	*exp;
	struct ctl_server *ctl;
	struct dnsup	*dnsup;		/* unicast DNS-SD (dnsupdate.c) */
	struct exporter	*exporter;	/* export.c */
	char		 siteid[SITEID_MAX + 1];
	char		 rundir[256];
	const char	*ssh_path;
	struct remote_list remotes;
	uint32_t	 next_rid;
	int		 quitting;
	struct ev_timer	*quit_timer;
	uint64_t	 started;
	/* a remote's ssh is gone for good (shutting down): remote.c calls
	 * it, agent.c sets it */
	void		(*remote_stopped)(struct agent *);
};

int	agent_main(struct agent_opts *);
/* reload.c: the configuration from the file and the command line (NULL
 * and *cause on error), and SIGHUP: apply a new one (0), or keep the
 * running one and say why (-1). */
struct agent_conf *agent_conf_build(const struct agent_opts *, char **cause);
int	agent_reload(struct agent *);
/* check.c: rnsplice check DESTINATION (argv[0] is "check"). */
int	check_main(int, char **);
int	agent_remote_conf_eq(const struct remote_conf *,
	    const struct remote_conf *);

/* status.c: what = status | services | connections */
int	agent_dump_json(struct agent *, struct buf *out, const char *what);
int	agent_dump_text(struct agent *, struct buf *out, const char *what);
int	agent_ctl_handler(void *arg, const char *command, int json,
	    struct buf *out);

#endif
