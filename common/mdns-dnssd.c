/* The mDNS layer (mdns.h) on the DNS-SD API of dns_sd.h: Apple's
 * mDNSResponder (macOS, its system library), or avahi through its
 * compatibility library libdns_sd (Linux). Where that library differs from
 * Apple's documented behaviour, the code follows Apple and works around
 * the library (each place says so; docs/MDNS.md lists them).
 *
 * Every browser, resolver and registration is one DNSServiceRef whose
 * socket (DNSServiceRefSockFD) our loop watches, calling
 * DNSServiceProcessResult when it is readable: callbacks thus only ever
 * run from the loop. The connection itself is one more DNSServiceRef that
 * only watches the responder: DNSServiceCreateConnection (Apple), whose
 * socket the responder closes when it goes; where that call is missing
 * (avahi: kDNSServiceErr_Unsupported) a domain enumeration, whose callback
 * hears the daemon go. When the responder goes (ServiceNotRunning from
 * DNSServiceProcessResult, or an error in the watcher's callback) every
 * object becomes dead, the user hears DOWN, and the watcher is made again
 * with the avahi backend's backoff (backoff_ms(): min_ms doubling to
 * max_ms). Beside each resolver, a TXT record query reports a changed TXT
 * when the new record arrives (see txt_query_reply()). */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dns_sd.h>

#ifdef MDNS_DNSSD_AVAHI
#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/watch.h>
#include "mdns-avahi.h"
#endif

#include "backoff.h"
#include "event.h"
#include "log.h"
#include "mdns.h"
#include "mdns-dnssd.h"
#include "mdns-int.h"
#include "proto.h"

#define ERR_SERVICE_NOT_RUNNING	(-65563)	/* Apple's values */
#define ERR_DEFUNCT_CONNECTION	(-65569)
#define TYPES_TYPE		"_services._dns-sd._udp"
#define BROWSE_DOMAIN		"local."
/* Browsers: when nothing is queued any more this long after the start,
 * the network's first answers are in (SETTLED; avahi's ALL_FOR_NOW comes
 * about as late); the API has no such event. */
#define SETTLE_MS		1000

enum obj_kind { OBJ_BROWSE, OBJ_RESOLVE, OBJ_REG };

/* One DNSServiceRef and the watch of its socket. */
struct sdref {
	DNSServiceRef		 sd;
	struct ev_io		*io;
	struct mdns_obj		*o;	/* NULL: the connection's watcher */
	struct mdns		*m;
	int			*gone;	/* set while dispatching */
};

struct mdns_obj {
	TAILQ_ENTRY(mdns_obj)	 link;
	struct mdns		*m;
	enum obj_kind		 kind;
	int			 dead;	/* the responder went */
	int32_t			 err;	/* held until the responder is checked */
};

/* An instance (or type) a browser reported, on one interface. */
struct seen {
	TAILQ_ENTRY(seen)	 link;
	unsigned		 n;	/* times added, not yet removed */
	char			 key[];	/* "ifindex name type domain" */
};

struct mdns_browse {
	struct mdns_obj		 o;	/* first */
	struct sdref		 r;
	TAILQ_HEAD(, seen)	 seen;
	int			 types;	/* browsing the service types */
	int			 cached, settled;
	struct ev_timer		*settle_t;
	mdns_browse_cb		 cb;
	void			*arg;
};

struct mdns_resolve {
	struct mdns_obj		 o;	/* first */
	struct sdref		 r;	/* DNSServiceResolve */
	struct sdref		 a;	/* the address of the SRV target */
	struct sdref		 t;	/* the TXT record (QueryRecord) */
	int			 ifindex, af, flags;
	char			*name, *type, *domain;
	char			 host[kDNSServiceMaxDomainName];
	uint16_t		 port;
	struct txt		 txt;
	struct mdns_txtwatch	 tw;
	uint64_t		 t_start;	/* of the TXT query */
	/* the address told last, to tell a new TXT or port with */
	int			 have_last, last_if;
	struct sockaddr_storage	 last;
	mdns_resolve_cb		 cb;
	void			*arg;
};

struct mdns_reg {
	struct mdns_obj		 o;	/* first */
	struct sdref		 r;	/* DNSServiceRegister, or the record's
					 * connection */
	DNSRecordRef		 rec;
#ifdef MDNS_DNSSD_AVAHI
	AvahiEntryGroup		*g;	/* an address record (see below) */
#endif
	char			*name;	/* as asked for */
	mdns_reg_cb		 cb;
	void			*arg;
};

struct mdns {
	struct ev_loop		*loop;
	struct mdns_report	 rep;	/* state, callback, sync timer */
	struct sdref		 w;	/* the watcher */
	int			 failed;	/* the responder went */
	char			 why[128];
	unsigned		 min_ms, max_ms, step;
	/* What the library turned out not to support (avahi's) */
	int			 no_localonly, no_norename;
	char			 host[256], fqdn[270];
#ifdef MDNS_DNSSD_AVAHI
	/* What avahi's library lacks -- the host's name, address records
	 * (DNSServiceRegisterRecord) -- comes from an avahi client of our
	 * own, in our loop. */
	AvahiPoll		 poll;
	AvahiClient		*ac;
	int			 txt_reverse;	/* see resolve_reply() */
#endif
	TAILQ_HEAD(mdns_objs, mdns_obj) objs;
};

/* --- errors, interfaces ------------------------------------------------- */

static int
fail(int32_t e, const char *what, char **cause)
{
	return mdns_fail_err(mdns_dnssd_map_err(e), what,
	    mdns_dnssd_strerror(e), cause);
}

/* An interface index of the API as ours: LocalOnly is the loopback. */
static int
if_from_api(uint32_t i)
{
	if (i == kDNSServiceInterfaceIndexLocalOnly)
		return mdns_lo_ifindex();
	return (int)i;
}

/* The interface of a scope. Host scope is Apple's LocalOnly; avahi's
 * library refuses LocalOnly (kDNSServiceErr_Unsupported), and there it is
 * the loopback interface, which avahi keeps to this host. */
static int
if_to_api(const struct mdns *m, int ifindex, int flags, uint32_t *out,
    char **cause)
{
	int lo;

	*out = ifindex <= 0 ? kDNSServiceInterfaceIndexAny : (uint32_t)ifindex;
	if (flags & MDNS_HOST_SCOPE) {
		if (!m->no_localonly) {
			*out = kDNSServiceInterfaceIndexLocalOnly;
			return 0;
		}
		if ((lo = mdns_lo_ifindex()) == 0)
			return mdns_fail_msg(MDNS_ERR_INVALID, "no loopback "
			    "interface for host scope", cause);
		*out = (uint32_t)lo;
	}
	return 0;
}

/* --- references and their sockets --------------------------------------- */

static void sdref_cb(int, short, void *);

static int
sdref_watch(struct mdns *m, struct sdref *r, struct mdns_obj *o)
{
	int fd;

	r->m = m;
	r->o = o;
	/* not for the programs we run (ssh): avahi's library makes its
	 * socket pairs without close-on-exec; the thread's end stays out
	 * of our reach */
	if ((fd = DNSServiceRefSockFD(r->sd)) != -1)
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (fd == -1 ||
	    (r->io = ev_io_add(m->loop, fd, POLLIN, sdref_cb, r)) == NULL) {
		DNSServiceRefDeallocate(r->sd);
		r->sd = NULL;
		return -1;
	}
	return 0;
}

/* Around a user callback that may free the object of r: guard_end() is
 * 1 if it did (and tells an outer guard, the dispatch's, too). */
static int *
guard_begin(struct sdref *r, int *gone)
{
	int *outer = r->gone;

	*gone = 0;
	r->gone = gone;
	return outer;
}

static int
guard_end(struct sdref *r, int *gone, int *outer)
{
	if (*gone) {
		if (outer != NULL)
			*outer = 1;
		return 1;
	}
	r->gone = outer;
	return 0;
}

static void
sdref_drop(struct sdref *r)
{
	if (r->gone != NULL) {
		*r->gone = 1;
		r->gone = NULL;
	}
	if (r->io != NULL)
		ev_io_del(r->io);
	r->io = NULL;
	if (r->sd != NULL)
		DNSServiceRefDeallocate(r->sd);
	r->sd = NULL;
}

static void
sdref_cb(int fd, short revents, void *arg)
{
	struct sdref *r = arg;
	struct mdns *m = r->m;
	DNSServiceErrorType e;
	int gone = 0;

	if (r->sd == NULL)
		return;
	r->gone = &gone;
	e = DNSServiceProcessResult(r->sd);	/* may free r */
	if (gone)
		return;
	r->gone = NULL;
	if (e == kDNSServiceErr_NoError)
		return;
	/* Apple: the responder closed the socket (ServiceNotRunning). */
	if (!m->failed) {
		m->failed = 1;
		snprintf(m->why, sizeof(m->why), "%s",
		    mdns_dnssd_strerror(e));
	}
	mdns_sync_soon(&m->rep, 0);
}

/* --- objects ------------------------------------------------------------ */

static void
obj_link(struct mdns *m, struct mdns_obj *o, enum obj_kind kind)
{
	o->m = m;
	o->kind = kind;
	TAILQ_INSERT_TAIL(&m->objs, o, link);
}

static int
obj_quiet(const struct mdns_obj *o)
{
	return o->dead || o->m->failed || o->err != 0;
}

/* An error in an object's callback (ifindex: as the callback gave it,
 * or 0 where it gives none). Apple's responder going away shows in
 * DNSServiceProcessResult (or as ServiceNotRunning here); avahi's library
 * instead calls each object back with kDNSServiceErr_Unknown and
 * interface 0 when its D-Bus client failed -- the daemon went, even if a
 * new one already runs -- where an object's own failure (a resolver's
 * timeout) comes with the object's interface. The first means DOWN; the
 * other is told from the loop. */
static void
obj_error(struct mdns_obj *o, int32_t e, uint32_t ifindex)
{
	struct mdns *m = o->m;

	if (e == ERR_SERVICE_NOT_RUNNING || e == ERR_DEFUNCT_CONNECTION
#ifdef MDNS_DNSSD_AVAHI
	    || (e == kDNSServiceErr_Unknown && ifindex == 0)
#endif
	    ) {
		if (!m->failed) {
			m->failed = 1;
			snprintf(m->why, sizeof(m->why), "%s",
			    e == kDNSServiceErr_Unknown ? "the daemon's "
			    "connection failed" : mdns_dnssd_strerror(e));
		}
	} else
		o->err = e;
	mdns_sync_soon(&m->rep, 0);
}

static void
obj_kill(struct mdns_obj *o)
{
	struct mdns_resolve *rs;

	o->dead = 1;
	switch (o->kind) {
	case OBJ_BROWSE:
		sdref_drop(&((struct mdns_browse *)o)->r);
		ev_timer_stop(((struct mdns_browse *)o)->settle_t);
		break;
	case OBJ_RESOLVE:
		rs = (struct mdns_resolve *)o;
		sdref_drop(&rs->t);
		sdref_drop(&rs->a);
		sdref_drop(&rs->r);
		break;
	case OBJ_REG:
		sdref_drop(&((struct mdns_reg *)o)->r);
		((struct mdns_reg *)o)->rec = NULL;
#ifdef MDNS_DNSSD_AVAHI
		if (((struct mdns_reg *)o)->g != NULL)
			avahi_entry_group_free(((struct mdns_reg *)o)->g);
		((struct mdns_reg *)o)->g = NULL;
#endif
		break;
	}
}

static void browse_failed(struct mdns_browse *, int32_t);
static void resolve_failed(struct mdns_resolve *, int32_t);
static void reg_failed(struct mdns_reg *, int32_t);

/* The responder is there: report what objects held back. */
static void
objs_release(struct mdns *m)
{
	struct mdns_obj *o, *next;
	int32_t e;

	TAILQ_FOREACH_SAFE(o, &m->objs, link, next) {
		if (o->err == 0 || o->dead)
			continue;
		e = o->err;
		o->err = 0;
		switch (o->kind) {	/* may free o */
		case OBJ_BROWSE:
			browse_failed((struct mdns_browse *)o, e);
			break;
		case OBJ_RESOLVE:
			resolve_failed((struct mdns_resolve *)o, e);
			break;
		case OBJ_REG:
			reg_failed((struct mdns_reg *)o, e);
			break;
		}
		return;	/* next may be gone too: the rest next turn */
	}
}

/*
 * A TXT query is the object the user did not ask for: when the responder
 * refuses a new browser or resolver (with avahi's library: the system
 * bus's connections per user, one per reference), the newest resolver's
 * TXT query goes and the call is tried again. 1 if one went.
 */
static int
txt_shed(struct mdns *m, DNSServiceErrorType e)
{
	struct mdns_obj *o;
	struct mdns_resolve *rs;

	if (e == kDNSServiceErr_NoError || e == kDNSServiceErr_Unsupported ||
	    e == kDNSServiceErr_BadParam)
		return 0;
	TAILQ_FOREACH_REVERSE(o, &m->objs, mdns_objs, link) {
		if (o->kind != OBJ_RESOLVE || o->dead)
			continue;
		rs = (struct mdns_resolve *)o;
		if (rs->t.sd == NULL)
			continue;
		sdref_drop(&rs->t);
		log_debug("%s: TXT changes of \"%s\" through its resolver",
		    mdns_dnssd_strerror(e), rs->name);
		return 1;
	}
	return 0;
}

static int
objs_held(const struct mdns *m)
{
	const struct mdns_obj *o;

	TAILQ_FOREACH(o, &m->objs, link)
		if (o->err != 0 && !o->dead)
			return 1;
	return 0;
}

static int
check_up(struct mdns *m, int *code, char **cause)
{
	if (m->w.sd != NULL && !m->failed && m->rep.state != MDNS_DOWN)
		return 0;
	*code = mdns_fail_msg(MDNS_ERR_DOWN,
	    "the mDNS responder is not running", cause);
	return -1;
}

/* --- the connection ----------------------------------------------------- */

static void
watch_domain_cb(DNSServiceRef sd, DNSServiceFlags flags, uint32_t ifindex,
    DNSServiceErrorType e, const char *domain, void *arg)
{
	struct mdns *m = arg;

	if (e == kDNSServiceErr_NoError || m->failed)
		return;
	m->failed = 1;
	snprintf(m->why, sizeof(m->why), "%s", mdns_dnssd_strerror(e));
	mdns_sync_soon(&m->rep, 0);
}

/* The host's name in mDNS. The API has no call for it: the name the
 * system gives (gethostname(3), its first label), as both responders do
 * by default; a name the responder chose itself (a rename after a
 * conflict, avahi's host-name=) is not known here. */
static void
host_name_init(struct mdns *m)
{
	char h[256];

#ifdef MDNS_DNSSD_AVAHI
	const char *n;

	if (m->ac != NULL &&
	    (n = avahi_client_get_host_name(m->ac)) != NULL) {
		strlcpy(m->host, n, sizeof(m->host));
		snprintf(m->fqdn, sizeof(m->fqdn), "%s.local", n);
		return;
	}
#endif
	if (gethostname(h, sizeof(h)) == -1)
		h[0] = '\0';
	h[sizeof(h) - 1] = '\0';
	h[strcspn(h, ".")] = '\0';
	if (h[0] == '\0')
		strlcpy(h, "localhost", sizeof(h));
	strlcpy(m->host, h, sizeof(m->host));
	snprintf(m->fqdn, sizeof(m->fqdn), "%s.local", h);
}

#ifdef MDNS_DNSSD_AVAHI
static void
ac_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	struct mdns *m = arg;

	/* may run inside avahi_client_new(), before m->ac is set */
	if (state != AVAHI_CLIENT_FAILURE || m->failed)
		return;
	m->failed = 1;
	snprintf(m->why, sizeof(m->why), "%s",
	    avahi_strerror(avahi_client_errno(c)));
	mdns_sync_soon(&m->rep, 0);
}

static int
ac_make(struct mdns *m)
{
	int error = 0;

	mdns_avahi_poll_init(&m->poll, m->loop);
	m->failed = 0;
	if ((m->ac = avahi_client_new(&m->poll, 0, ac_cb, m,
	    &error)) == NULL || m->failed) {
		snprintf(m->why, sizeof(m->why), "avahi-daemon is not "
		    "running (%s)", avahi_strerror(error));
		if (m->ac != NULL)
			avahi_client_free(m->ac);
		m->ac = NULL;
		m->failed = 0;
		return -1;
	}
	m->txt_reverse = !mdns_avahi_txt_order_fixed(
	    avahi_client_get_version_string(m->ac));
	return 0;
}

static void
ac_drop(struct mdns *m)
{
	if (m->ac != NULL)
		avahi_client_free(m->ac);
	m->ac = NULL;
}
#endif

/* Make the watcher: 0, or the API's error. */
static DNSServiceErrorType
watcher_new(struct mdns *m, DNSServiceRef *sd)
{
	DNSServiceErrorType e;

	*sd = NULL;
#ifdef MDNS_DNSSD_AVAHI
	e = kDNSServiceErr_Unsupported;	/* unsupported calls warn: skip */
#else
	e = DNSServiceCreateConnection(sd);
#endif
	if (e == kDNSServiceErr_Unsupported) {
		/* avahi's library: no shared connections */
		e = DNSServiceEnumerateDomains(sd,
		    kDNSServiceFlagsBrowseDomains, kDNSServiceInterfaceIndexAny,
		    watch_domain_cb, m);
	}
	if (e != kDNSServiceErr_NoError)
		*sd = NULL;
	return e;
}

static int
connect_now(struct mdns *m)
{
	DNSServiceErrorType e;

	if ((e = watcher_new(m, &m->w.sd)) != kDNSServiceErr_NoError) {
		snprintf(m->why, sizeof(m->why), "the mDNS responder is not "
		    "running (%s)", mdns_dnssd_strerror(e));
		mdns_sync_soon(&m->rep, backoff_ms(m->step, m->min_ms,
		    m->max_ms, 0, 0));
		if (m->step < 32)
			m->step++;
		return -1;
	}
	if (sdref_watch(m, &m->w, NULL) == -1) {
		snprintf(m->why, sizeof(m->why), "out of memory");
		mdns_sync_soon(&m->rep, m->max_ms);
		return -1;
	}
#ifdef MDNS_DNSSD_AVAHI
	if (ac_make(m) == -1) {
		sdref_drop(&m->w);
		mdns_sync_soon(&m->rep, backoff_ms(m->step, m->min_ms,
		    m->max_ms, 0, 0));
		if (m->step < 32)
			m->step++;
		return -1;
	}
#endif
	m->step = 0;
	host_name_init(m);
	return 0;
}

static void
sync_cb(void *arg)
{
	struct mdns *m = arg;
	struct mdns_obj *o;

	if (m->failed) {
		TAILQ_FOREACH(o, &m->objs, link)
			obj_kill(o);
		sdref_drop(&m->w);
#ifdef MDNS_DNSSD_AVAHI
		ac_drop(m);
#endif
		m->failed = 0;
		log_debug("mDNS responder gone: %s", m->why);
		mdns_set_state(m, &m->rep, MDNS_DOWN, m->why);
		mdns_sync_soon(&m->rep, backoff_ms(m->step, m->min_ms,
		    m->max_ms, 0, 0));
		if (m->step < 32)
			m->step++;
		return;
	}
	if (m->w.sd == NULL && connect_now(m) == -1) {
		mdns_set_state(m, &m->rep, MDNS_DOWN, m->why);
		return;
	}
	mdns_set_state(m, &m->rep, MDNS_RUNNING, NULL);
	if (objs_held(m)) {
		objs_release(m);
		if (objs_held(m))
			mdns_sync_soon(&m->rep, 0);
	}
}

#ifdef MDNS_DNSSD_AVAHI
static void *
zeroed_malloc(size_t size)
{
	return calloc(1, size);
}

/* avahi's library before 0.9 (avahi commit of pull request 569) leaves
 * the callbacks a reference does not use uninitialized, and calls the
 * first non-NULL one when the reference's D-Bus client fails (the daemon
 * went): a crash at every daemon restart. Its allocations come from
 * avahi_malloc(): make them zeroed. */
static const AvahiAllocator zeroed_allocator = {
	zeroed_malloc, free, realloc, calloc
};

static void
avahi_lib_init(void)
{
	/* It otherwise warns on stderr and through syslog, with an
	 * openlog() and closelog() of its own: our syslog identity and
	 * facility would be gone after it. */
	setenv("AVAHI_COMPAT_NOWARN", "1", 0);
	avahi_set_allocator(&zeroed_allocator);
}
#endif

struct mdns *
mdns_new(struct ev_loop *loop, mdns_state_cb cb, void *arg, unsigned min_ms,
    unsigned max_ms)
{
	struct mdns *m;

#ifdef MDNS_DNSSD_AVAHI
	avahi_lib_init();
#endif
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->loop = loop;
	m->rep.cb = cb;
	m->rep.arg = arg;
	m->min_ms = min_ms > 0 ? min_ms : 1;
	m->max_ms = max_ms > m->min_ms ? max_ms : m->min_ms;
	m->rep.state = MDNS_DOWN;
#ifdef MDNS_DNSSD_AVAHI
	/* Known refusals of avahi's library; asking would make it warn
	 * (avahi_warn_unsupported(): stderr and syslog, no opt-out). */
	m->no_localonly = m->no_norename = 1;
#endif
	TAILQ_INIT(&m->objs);
	if ((m->rep.sync_t = ev_timer_add(loop, sync_cb, m)) == NULL) {
		free(m);
		return NULL;
	}
	if (connect_now(m) == 0) {
		m->rep.state = MDNS_RUNNING;
		mdns_sync_soon(&m->rep, 0);
	} else {
		/* the first report is DOWN, from the loop; then retries */
		ev_timer_set(m->rep.sync_t, 0);
	}
	return m;
}

static void	browse_free(struct mdns_browse *);

void
mdns_free(struct mdns *m)
{
	struct mdns_obj *o;

	if (m == NULL)
		return;
	/* newest first, the order in which avahi-daemon drops the objects
	 * of a client that went (the avahi backend's one disconnection):
	 * which goodbyes avahi sends depends on it (it keeps back those of
	 * a record still registered on another interface) */
	while ((o = TAILQ_LAST(&m->objs, mdns_objs)) != NULL) {
		switch (o->kind) {
		case OBJ_BROWSE:
			mdns_browse_free((struct mdns_browse *)o);
			break;
		case OBJ_RESOLVE:
			mdns_resolve_free((struct mdns_resolve *)o);
			break;
		case OBJ_REG:
			mdns_reg_free((struct mdns_reg *)o);
			break;
		}
	}
	sdref_drop(&m->w);
#ifdef MDNS_DNSSD_AVAHI
	ac_drop(m);
#endif
	ev_timer_del(m->rep.sync_t);
	free(m);
}

enum mdns_state
mdns_state(const struct mdns *m)
{
	return m->rep.state;
}

/* The host's name (fqdn: with the domain), NULL while down or unknown. */
static const char *
host_name(const struct mdns *m, int fqdn)
{
	const char *name = fqdn ? m->fqdn : m->host;

	if (m->rep.state == MDNS_DOWN)
		return NULL;
#ifdef MDNS_DNSSD_AVAHI
	/* avahi renames its host on a conflict: ask each time */
	if (m->ac != NULL)
		return fqdn ? avahi_client_get_host_name_fqdn(m->ac) :
		    avahi_client_get_host_name(m->ac);
#endif
	return name[0] == '\0' ? NULL : name;
}

const char *
mdns_host_name(const struct mdns *m)
{
	return host_name(m, 0);
}

const char *
mdns_host_fqdn(const struct mdns *m)
{
	return host_name(m, 1);
}

const char *
mdns_domain(const struct mdns *m)
{
	return "local";
}

static const char *
version_string(void)
{
#ifdef MDNS_DNSSD_AVAHI
	return "dns_sd (avahi compatibility library)";
#else
	return "dns_sd";
#endif
}

const char *
mdns_version(const struct mdns *m)
{
	return m->rep.state == MDNS_DOWN ? NULL : version_string();
}

int
mdns_probe(char **version, char **cause)
{
	DNSServiceRef sd;
	DNSServiceErrorType e;
	struct mdns dummy;

#ifdef MDNS_DNSSD_AVAHI
	avahi_lib_init();
#endif
	*version = NULL;
	memset(&dummy, 0, sizeof(dummy));
	if ((e = watcher_new(&dummy, &sd)) != kDNSServiceErr_NoError) {
		if (cause != NULL && asprintf(cause, "the mDNS responder is "
		    "not running (%s)", mdns_dnssd_strerror(e)) == -1)
			fatalx("out of memory");
		return -1;
	}
	DNSServiceRefDeallocate(sd);
	if ((*version = strdup(version_string())) == NULL)
		fatalx("out of memory");
	return 0;
}

/* --- browsing ----------------------------------------------------------- */

static void
browse_failed(struct mdns_browse *b, int32_t e)
{
	sdref_drop(&b->r);
	ev_timer_stop(b->settle_t);
	b->cb(b, MDNS_FAILED, NULL, mdns_dnssd_map_err(e),
	    mdns_dnssd_strerror(e), b->arg);
}

/* CACHED, then SETTLED once SETTLE_MS passed with nothing queued. The
 * callback may free b: 1 if it did. */
static int
browse_batch_end(struct mdns_browse *b)
{
	int gone, *outer;

	if (!b->cached) {
		b->cached = 1;
		outer = guard_begin(&b->r, &gone);
		b->cb(b, MDNS_CACHED, NULL, 0, NULL, b->arg);
		if (guard_end(&b->r, &gone, outer))
			return 1;
	}
	if (!b->settled && !ev_timer_pending(b->settle_t)) {
		b->settled = 1;
		b->cb(b, MDNS_SETTLED, NULL, 0, NULL, b->arg);
	}
	return 0;
}

static void
settle_cb(void *arg)
{
	struct mdns_browse *b = arg;

	if (obj_quiet(&b->o))
		return;
	browse_batch_end(b);
}

/* Apple's responder reports an instance once per interface; avahi's
 * library once per interface and protocol, the protocol left out: count,
 * and tell the first ADD and the last REMOVE only. 1 to tell. */
static int
seen_count(struct mdns_browse *b, const struct mdns_found *f, int add)
{
	struct seen *s;
	char key[4 * kDNSServiceMaxDomainName];
	int n;

	n = snprintf(key, sizeof(key), "%d %s %s %s", f->ifindex,
	    f->name != NULL ? f->name : "", f->type, f->domain);
	if (n < 0 || (size_t)n >= sizeof(key))
		return 1;
	TAILQ_FOREACH(s, &b->seen, link)
		if (strcmp(s->key, key) == 0)
			break;
	if (add) {
		if (s != NULL)
			return s->n++ == 0;
		if ((s = malloc(sizeof(*s) + (size_t)n + 1)) == NULL)
			fatalx("out of memory");
		s->n = 1;
		memcpy(s->key, key, (size_t)n + 1);
		TAILQ_INSERT_TAIL(&b->seen, s, link);
		return 1;
	}
	if (s == NULL)
		return 0;	/* never told */
	if (--s->n > 0)
		return 0;
	TAILQ_REMOVE(&b->seen, s, link);
	free(s);
	return 1;
}

static void
seen_free(struct mdns_browse *b)
{
	struct seen *s;

	while ((s = TAILQ_FIRST(&b->seen)) != NULL) {
		TAILQ_REMOVE(&b->seen, s, link);
		free(s);
	}
}

static void
browse_reply(DNSServiceRef sd, DNSServiceFlags flags, uint32_t ifindex,
    DNSServiceErrorType e, const char *name, const char *regtype,
    const char *domain, void *arg)
{
	struct mdns_browse *b = arg;
	struct mdns_found f;
	char type[kDNSServiceMaxDomainName], dom[kDNSServiceMaxDomainName];
	int gone, *outer;

	if (obj_quiet(&b->o))
		return;
	if (e != kDNSServiceErr_NoError) {
		obj_error(&b->o, e, ifindex);
		return;
	}
	memset(&f, 0, sizeof(f));
	f.ifindex = if_from_api(ifindex);
	f.af = AF_UNSPEC;
	if (b->types) {
		if (mdns_dnssd_type_result(name, regtype, domain, type,
		    sizeof(type), dom, sizeof(dom)) == -1) {
			log_debug("service types: ignoring \"%s\" \"%s\"",
			    name, regtype);
			goto batch;
		}
	} else {
		if (mdns_dnssd_undot(regtype, type, sizeof(type)) == -1 ||
		    mdns_dnssd_undot(domain, dom, sizeof(dom)) == -1)
			goto batch;
		f.name = name;
	}
	f.type = type;
	f.domain = dom;
	if (!seen_count(b, &f, (flags & kDNSServiceFlagsAdd) != 0))
		goto batch;
	outer = guard_begin(&b->r, &gone);
	b->cb(b, (flags & kDNSServiceFlagsAdd) ? MDNS_ADD : MDNS_REMOVE, &f,
	    0, NULL, b->arg);
	if (guard_end(&b->r, &gone, outer))
		return;
batch:
	if (!(flags & kDNSServiceFlagsMoreComing))
		browse_batch_end(b);
}

struct mdns_browse *
mdns_browse_new(struct mdns *m, const char *type, mdns_browse_cb cb,
    void *arg, int *code, char **cause)
{
	struct mdns_browse *b;
	DNSServiceErrorType e;

	if (check_up(m, code, cause) == -1)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatalx("out of memory");
	b->cb = cb;
	b->arg = arg;
	b->o.m = m;
	b->types = type == NULL;
	TAILQ_INIT(&b->seen);
	if ((b->settle_t = ev_timer_add(m->loop, settle_cb, b)) == NULL)
		fatalx("out of memory");
	/* "local.": the domain of the avahi backend (NULL would be
	 * every default browse domain, unicast ones too, with Apple's) */
	do
		e = DNSServiceBrowse(&b->r.sd, 0, kDNSServiceInterfaceIndexAny,
		    type != NULL ? type : TYPES_TYPE, BROWSE_DOMAIN,
		    browse_reply, b);
	while (txt_shed(m, e));
	if (e != kDNSServiceErr_NoError || sdref_watch(m, &b->r,
	    &b->o) == -1) {
		*code = e != kDNSServiceErr_NoError ? fail(e, NULL, cause) :
		    mdns_fail_msg(MDNS_ERR_NOMEM, "out of memory", cause);
		ev_timer_del(b->settle_t);
		free(b);
		return NULL;
	}
	ev_timer_set(b->settle_t, SETTLE_MS);
	obj_link(m, &b->o, OBJ_BROWSE);
	return b;
}

static void
browse_free(struct mdns_browse *b)
{
	sdref_drop(&b->r);
	seen_free(b);
	ev_timer_del(b->settle_t);
	TAILQ_REMOVE(&b->o.m->objs, &b->o, link);
	free(b);
}

void
mdns_browse_free(struct mdns_browse *b)
{
	if (b != NULL)
		browse_free(b);
}

/* --- resolving ---------------------------------------------------------- */

static void
resolve_failed(struct mdns_resolve *rs, int32_t e)
{
	sdref_drop(&rs->t);
	sdref_drop(&rs->a);
	sdref_drop(&rs->r);
	rs->cb(rs, NULL, mdns_dnssd_map_err(e), mdns_dnssd_strerror(e),
	    rs->arg);
}

/* Tell the user; sa NULL without an address. The callback may free rs. */
static void
resolve_report(struct mdns_resolve *rs, int ifindex, const struct sockaddr *sa)
{
	struct mdns_resolved r;
	char host[kDNSServiceMaxDomainName];

	memset(&r, 0, sizeof(r));
	if (mdns_dnssd_undot(rs->host, host, sizeof(host)) == -1)
		return;
	if (sa != NULL) {
		memcpy(&rs->last, sa, sa->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		rs->last_if = ifindex;
		rs->have_last = 1;
	}
	r.ifindex = ifindex;
	r.af = sa != NULL ? sa->sa_family : rs->af;
	r.name = rs->name;
	r.type = rs->type;
	r.domain = rs->domain;
	r.host = host;
	r.addr = sa;
	r.port = rs->port;
	/* a newer TXT record the query heard beats the resolver's */
	if ((r.txt = mdns_txtw_resolved(&rs->tw, &rs->txt)) == NULL)
		fatalx("out of memory");
	rs->cb(rs, &r, 0, NULL, rs->arg);
}

/* Tell the user the service again (a new TXT or port) with the address
 * told last. 0 if there is none yet. */
static int
resolve_report_again(struct mdns_resolve *rs, struct sdref *via)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&rs->last;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&rs->last;
	int gone, *outer;

	if (!rs->have_last && !(rs->flags & MDNS_NO_ADDRESS))
		return 0;
	if (rs->last.ss_family == AF_INET)
		sin->sin_port = htons(rs->port);
	else if (rs->last.ss_family == AF_INET6)
		sin6->sin6_port = htons(rs->port);
	outer = guard_begin(via, &gone);
	resolve_report(rs, rs->have_last ? rs->last_if : rs->ifindex,
	    rs->have_last ? (struct sockaddr *)&rs->last : NULL);
	guard_end(via, &gone, outer);
	return 1;
}

static void
addr_found(struct mdns_resolve *rs, DNSServiceFlags flags, uint32_t ifindex,
    const struct sockaddr *sa)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int gone, *outer;

	if (!(flags & kDNSServiceFlagsAdd))
		return;		/* an address went: the next one tells */
	memset(&ss, 0, sizeof(ss));
	if (sa->sa_family == AF_INET && rs->af != AF_INET6) {
		memcpy(sin, sa, sizeof(*sin));
		sin->sin_port = htons(rs->port);
	} else if (sa->sa_family == AF_INET6 && rs->af != AF_INET) {
		memcpy(sin6, sa, sizeof(*sin6));
		sin6->sin6_port = htons(rs->port);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) &&
		    sin6->sin6_scope_id == 0)
			sin6->sin6_scope_id = (uint32_t)if_from_api(ifindex);
	} else
		return;
	outer = guard_begin(&rs->a, &gone);
	resolve_report(rs, if_from_api(ifindex), (struct sockaddr *)&ss);
	guard_end(&rs->a, &gone, outer);
}

#if HAVE_DECL_DNSSERVICEGETADDRINFO
static void
addrinfo_reply(DNSServiceRef sd, DNSServiceFlags flags, uint32_t ifindex,
    DNSServiceErrorType e, const char *hostname, const struct sockaddr *sa,
    uint32_t ttl, void *arg)
{
	struct mdns_resolve *rs = arg;

	if (obj_quiet(&rs->o))
		return;
	if (e != kDNSServiceErr_NoError) {
		obj_error(&rs->o, e, ifindex);
		return;
	}
	if (sa != NULL)
		addr_found(rs, flags, ifindex, sa);
}
#else
/* avahi's library has no DNSServiceGetAddrInfo (its API is of 2006): the
 * address records are queried with DNSServiceQueryRecord, one family. */
static void
query_reply(DNSServiceRef sd, DNSServiceFlags flags, uint32_t ifindex,
    DNSServiceErrorType e, const char *fullname, uint16_t rrtype,
    uint16_t rrclass, uint16_t rdlen, const void *rdata, uint32_t ttl,
    void *arg)
{
	struct mdns_resolve *rs = arg;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	if (obj_quiet(&rs->o))
		return;
	if (e != kDNSServiceErr_NoError) {
		obj_error(&rs->o, e, ifindex);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (rrtype == kDNSServiceType_A && rdlen == 4) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, rdata, 4);
	} else if (rrtype == kDNSServiceType_AAAA && rdlen == 16) {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, rdata, 16);
	} else
		return;
	addr_found(rs, flags, ifindex, (struct sockaddr *)&ss);
}
#endif

#ifdef MDNS_DNSSD_AVAHI
static void
txt_reverse(struct txt *t)
{
	struct txt_item tmp;
	size_t i;

	for (i = 0; i < t->n / 2; i++) {
		tmp = t->items[i];
		t->items[i] = t->items[t->n - 1 - i];
		t->items[t->n - 1 - i] = tmp;
	}
}
#endif

/* Look up the address of rs->host on ifindex. */
static DNSServiceErrorType
addr_start(struct mdns_resolve *rs, uint32_t ifindex)
{
	DNSServiceErrorType e;

	sdref_drop(&rs->a);
#if HAVE_DECL_DNSSERVICEGETADDRINFO
	e = DNSServiceGetAddrInfo(&rs->a.sd, 0, ifindex,
	    rs->af == AF_INET ? kDNSServiceProtocol_IPv4 :
	    rs->af == AF_INET6 ? kDNSServiceProtocol_IPv6 : 0, rs->host,
	    addrinfo_reply, rs);
#else
	/* avahi's library: LocalOnly is refused here too */
	if (ifindex == kDNSServiceInterfaceIndexLocalOnly)
		ifindex = (uint32_t)mdns_lo_ifindex();
	e = DNSServiceQueryRecord(&rs->a.sd, 0, ifindex, rs->host,
	    rs->af == AF_INET6 ? kDNSServiceType_AAAA : kDNSServiceType_A,
	    kDNSServiceClass_IN, query_reply, rs);
#endif
	if (e != kDNSServiceErr_NoError)
		rs->a.sd = NULL;
	else if (sdref_watch(rs->o.m, &rs->a, &rs->o) == -1)
		return kDNSServiceErr_NoMemory;
	return e;
}

static void
resolve_reply(DNSServiceRef sd, DNSServiceFlags flags, uint32_t ifindex,
    DNSServiceErrorType e, const char *fullname, const char *hosttarget,
    uint16_t port, uint16_t txtlen, const unsigned char *txt, void *arg)
{
	struct mdns_resolve *rs = arg;
	struct txt t;
	int changed_host, gone, *outer;

	if (obj_quiet(&rs->o))
		return;
	if (e != kDNSServiceErr_NoError) {
		obj_error(&rs->o, e, ifindex);
		return;
	}
	if (mdns_dnssd_txt_parse(txt, txtlen, &t) == -1) {
		if (errno == ENOMEM)
			fatalx("out of memory");
		log_debug("\"%s\": TXT record cut short: items kept up to "
		    "the bad length byte", rs->name);
	}
#ifdef MDNS_DNSSD_AVAHI
	/* avahi's library serializes the list avahi-client made, which is
	 * in record order only with a daemon from 0.9-rc4 on (see
	 * mdns_avahi_txt_order_fixed()): before, the items come reversed */
	if (rs->o.m->txt_reverse)
		txt_reverse(&t);
#endif
	changed_host = strcmp(rs->host, hosttarget) != 0;
	strlcpy(rs->host, hosttarget, sizeof(rs->host));
	rs->port = ntohs(port);
	txt_free(&rs->txt);
	rs->txt = t;
	if (rs->flags & MDNS_NO_ADDRESS) {
		outer = guard_begin(&rs->r, &gone);
		resolve_report(rs, if_from_api(ifindex), NULL);
		guard_end(&rs->r, &gone, outer);
		return;
	}
	if (!changed_host && rs->a.sd != NULL) {
		/* TXT or port: told with the address told last, else with
		 * the next one */
		resolve_report_again(rs, &rs->r);
		return;
	}
	if ((e = addr_start(rs, ifindex)) != kDNSServiceErr_NoError)
		obj_error(&rs->o, e, ifindex);
}

/*
 * The TXT record, queried beside the resolver: DNSServiceResolve reports a
 * changed TXT only once the old record expired (avahi's resolver, under
 * avahi's library, holds the record it found until then), where the query
 * hears the new record when it arrives (Apple's header: use
 * DNSServiceQueryRecord, not DNSServiceResolve, to follow a TXT record).
 * No flags: kDNSServiceFlagsLongLivedQuery is for unicast DNS (multicast
 * queries go on anyway), and avahi's library refuses every flag. The API
 * has no end of the cache's answers: those of the first second are taken
 * as the cache's (mdns-txtwatch.c).
 */
static void
txt_query_reply(DNSServiceRef sd, DNSServiceFlags flags, uint32_t ifindex,
    DNSServiceErrorType e, const char *fullname, uint16_t rrtype,
    uint16_t rrclass, uint16_t rdlen, const void *rdata, uint32_t ttl,
    void *arg)
{
	struct mdns_resolve *rs = arg;
	struct txt t;
	int tell;

	if (obj_quiet(&rs->o))
		return;
	if (e != kDNSServiceErr_NoError) {
		/* the responder going is everybody's; else the resolver
		 * still reports changes, a second later */
		if (e == ERR_SERVICE_NOT_RUNNING || e == ERR_DEFUNCT_CONNECTION
#ifdef MDNS_DNSSD_AVAHI
		    || (e == kDNSServiceErr_Unknown && ifindex == 0)
#endif
		    )
			obj_error(&rs->o, e, ifindex);
		else {
			log_debug("\"%s\": TXT query: %s", rs->name,
			    mdns_dnssd_strerror(e));
			sdref_drop(&rs->t);
		}
		return;
	}
	if (rrtype != kDNSServiceType_TXT || rrclass != kDNSServiceClass_IN)
		return;
	if (mdns_dnssd_txt_parse(rdata, rdlen, &t) == -1) {
		if (errno == ENOMEM)
			fatalx("out of memory");
		txt_free(&t);
		return;
	}
	if (!rs->tw.listed && ev_now_ms() - rs->t_start >= SETTLE_MS)
		mdns_txtw_listed(&rs->tw);
	if (!(flags & kDNSServiceFlagsAdd)) {
		mdns_txtw_removed(&rs->tw, &t);
		txt_free(&t);
		return;
	}
	if ((tell = mdns_txtw_added(&rs->tw, &t)) == -1)
		fatalx("out of memory");
	txt_free(&t);
	if (tell && rs->tw.have_told) {
		log_debug("\"%s\": new TXT record (record browser)", rs->name);
		resolve_report_again(rs, &rs->t);	/* may free rs */
	}
}

/* Query the service's TXT record; without it, the resolver alone tells
 * a changed TXT. */
static void
txt_query_start(struct mdns_resolve *rs, uint32_t ifi)
{
	char full[kDNSServiceMaxDomainName];
	DNSServiceErrorType e;

	if (DNSServiceConstructFullName(full, rs->name, rs->type,
	    rs->domain) != 0)
		return;
	rs->t_start = ev_now_ms();
	e = DNSServiceQueryRecord(&rs->t.sd, 0, ifi, full, kDNSServiceType_TXT,
	    kDNSServiceClass_IN, txt_query_reply, rs);
	if (e != kDNSServiceErr_NoError) {
		rs->t.sd = NULL;
		log_debug("\"%s\": no TXT query: %s", rs->name,
		    mdns_dnssd_strerror(e));
	} else if (sdref_watch(rs->o.m, &rs->t, &rs->o) == -1)
		log_debug("\"%s\": no TXT query: out of memory", rs->name);
}

struct mdns_resolve *
mdns_resolve_new(struct mdns *m, int ifindex, int af, const char *name,
    const char *type, const char *domain, int flags, mdns_resolve_cb cb,
    void *arg, int *code, char **cause)
{
	struct mdns_resolve *rs;
	DNSServiceErrorType e;
	uint32_t ifi;

	if (check_up(m, code, cause) == -1)
		return NULL;
	/* a service seen on the loopback: LocalOnly where that works */
	if ((*code = if_to_api(m, ifindex, mdns_if_loopback(ifindex) ?
	    MDNS_HOST_SCOPE : 0, &ifi, cause)) < 0)
		return NULL;
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		fatalx("out of memory");
	rs->cb = cb;
	rs->arg = arg;
	rs->flags = flags;
	rs->ifindex = ifindex;
	rs->af = af;
	rs->o.m = m;
	if ((rs->name = strdup(name)) == NULL ||
	    (rs->type = strdup(type)) == NULL ||
	    (rs->domain = strdup(domain)) == NULL)
		fatalx("out of memory");
	do
		e = DNSServiceResolve(&rs->r.sd, 0, ifi, name, type, domain,
		    resolve_reply, rs);
	while (txt_shed(m, e));
	if (e == kDNSServiceErr_Unsupported &&
	    ifi == kDNSServiceInterfaceIndexLocalOnly) {
		/* avahi's library refuses LocalOnly */
		m->no_localonly = 1;
		e = DNSServiceResolve(&rs->r.sd, 0, (uint32_t)ifindex, name,
		    type, domain, resolve_reply, rs);
	}
	if (e != kDNSServiceErr_NoError ||
	    sdref_watch(m, &rs->r, &rs->o) == -1) {
		*code = e != kDNSServiceErr_NoError ? fail(e, NULL, cause) :
		    mdns_fail_msg(MDNS_ERR_NOMEM, "out of memory", cause);
		free(rs->name);
		free(rs->type);
		free(rs->domain);
		free(rs);
		return NULL;
	}
	obj_link(m, &rs->o, OBJ_RESOLVE);
	/* the resolver's interface: LocalOnly is refused by avahi's
	 * library here too */
	txt_query_start(rs, m->no_localonly &&
	    ifi == kDNSServiceInterfaceIndexLocalOnly ? (uint32_t)ifindex : ifi);
	return rs;
}

void
mdns_resolve_free(struct mdns_resolve *rs)
{
	if (rs == NULL)
		return;
	sdref_drop(&rs->t);
	sdref_drop(&rs->a);
	sdref_drop(&rs->r);
	TAILQ_REMOVE(&rs->o.m->objs, &rs->o, link);
	txt_free(&rs->txt);
	mdns_txtw_clear(&rs->tw);
	free(rs->name);
	free(rs->type);
	free(rs->domain);
	free(rs);
}

/* --- registering -------------------------------------------------------- */

static void
reg_failed(struct mdns_reg *reg, int32_t e)
{
	sdref_drop(&reg->r);
	reg->rec = NULL;
	if (e == kDNSServiceErr_NameConflict)
		reg->cb(reg, MDNS_REG_COLLISION, MDNS_ERR_COLLISION,
		    "collision", reg->arg);
	else
		reg->cb(reg, MDNS_REG_FAILED, mdns_dnssd_map_err(e),
		    mdns_dnssd_strerror(e), reg->arg);
}

/* What a registration's or its address record's reply says when it is no
 * success: 1 if so (a conflict told, an error held), or if the object is
 * quiet. */
static int
reg_reply_failed(struct mdns_reg *reg, DNSServiceErrorType e)
{
	if (obj_quiet(&reg->o))
		return 1;
	if (e == kDNSServiceErr_NameConflict) {
		reg_failed(reg, e);
		return 1;
	}
	if (e != kDNSServiceErr_NoError) {
		obj_error(&reg->o, e, 0);
		return 1;
	}
	return 0;
}

static void
reg_reply(DNSServiceRef sd, DNSServiceFlags flags, DNSServiceErrorType e,
    const char *name, const char *regtype, const char *domain, void *arg)
{
	struct mdns_reg *reg = arg;

	if (reg_reply_failed(reg, e))
		return;
	if (reg->name != NULL && name != NULL && strcmp(name, reg->name) != 0) {
		/* Renamed by the responder: avahi's library renames in
		 * spite of kDNSServiceFlagsNoAutoRename (it refuses the
		 * flag). Renaming is the user's (mdns.h): withdraw it. */
		log_debug("\"%s\" renamed \"%s\" by the responder: a "
		    "collision", reg->name, name);
		reg_failed(reg, kDNSServiceErr_NameConflict);
		return;
	}
	reg->cb(reg, MDNS_REG_ESTABLISHED, 0, NULL, reg->arg);
}

static void
record_reply(DNSServiceRef sd, DNSRecordRef rec, DNSServiceFlags flags,
    DNSServiceErrorType e, void *arg)
{
	struct mdns_reg *reg = arg;

	if (reg_reply_failed(reg, e))
		return;
	reg->cb(reg, MDNS_REG_ESTABLISHED, 0, NULL, reg->arg);
}

struct mdns_reg *
mdns_reg_new(struct mdns *m, mdns_reg_cb cb, void *arg, int *code,
    char **cause)
{
	struct mdns_reg *reg;

	if (check_up(m, code, cause) == -1)
		return NULL;
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		fatalx("out of memory");
	reg->cb = cb;
	reg->arg = arg;
	obj_link(m, &reg->o, OBJ_REG);
	return reg;
}

/* Withdraw what reg held. */
static int
reg_reset(struct mdns_reg *reg, char **cause)
{
	if (reg->o.dead || reg->o.m->failed)
		return mdns_fail_msg(MDNS_ERR_DOWN, "the mDNS responder is not "
		    "running", cause);
	sdref_drop(&reg->r);
	reg->rec = NULL;
#ifdef MDNS_DNSSD_AVAHI
	if (reg->g != NULL)
		avahi_entry_group_free(reg->g);
	reg->g = NULL;
#endif
	reg->o.err = 0;
	free(reg->name);
	reg->name = NULL;
	return 0;
}

int
mdns_reg_set(struct mdns_reg *reg, const struct mdns_service *s,
    char **cause)
{
	struct mdns *m = reg->o.m;
	unsigned char *txt;
	uint16_t len;
	uint32_t ifi;
	DNSServiceFlags flags;
	DNSServiceErrorType e;
	int r;

	if ((r = reg_reset(reg, cause)) < 0 ||
	    (r = if_to_api(m, s->ifindex, s->flags, &ifi, cause)) < 0 ||
	    (r = mdns_dnssd_txt_build(s->txt, &txt, &len, cause)) < 0)
		return r;
	if ((reg->name = strdup(s->name)) == NULL)
		fatalx("out of memory");
	for (;;) {
		flags = m->no_norename ? 0 : kDNSServiceFlagsNoAutoRename;
		/* a non-NULL record even when empty: avahi's library takes
		 * NULL for one empty string */
		e = DNSServiceRegister(&reg->r.sd, flags, ifi, s->name,
		    s->type, s->domain, s->host, htons(s->port), len,
		    txt != NULL ? txt : (const unsigned char *)"", reg_reply,
		    reg);
		if (e != kDNSServiceErr_Unsupported)
			break;
		/* avahi's library refuses every flag and LocalOnly */
		if (ifi == kDNSServiceInterfaceIndexLocalOnly &&
		    !m->no_localonly) {
			m->no_localonly = 1;
			if ((r = if_to_api(m, s->ifindex, s->flags, &ifi,
			    cause)) < 0) {
				free(txt);
				return r;
			}
		} else if (flags != 0)
			m->no_norename = 1;
		else
			break;
	}
	free(txt);
	if (e != kDNSServiceErr_NoError) {
		reg->r.sd = NULL;
		return fail(e, NULL, cause);
	}
	if (sdref_watch(m, &reg->r, &reg->o) == -1)
		return mdns_fail_msg(MDNS_ERR_NOMEM, "out of memory", cause);
	return 0;
}

#ifdef MDNS_DNSSD_AVAHI
static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct mdns_reg *reg = arg;
	int r;

	/* also from inside avahi_entry_group_new() (UNCOMMITED) */
	if (obj_quiet(&reg->o) || g != reg->g)
		return;
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		reg->cb(reg, MDNS_REG_ESTABLISHED, 0, NULL, reg->arg);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		avahi_entry_group_free(reg->g);
		reg->g = NULL;
		reg->cb(reg, MDNS_REG_COLLISION, MDNS_ERR_COLLISION,
		    "collision", reg->arg);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		r = avahi_client_errno(reg->o.m->ac);
		avahi_entry_group_free(reg->g);
		reg->g = NULL;
		reg->cb(reg, MDNS_REG_FAILED, MDNS_ERR_OTHER, avahi_strerror(r),
		    reg->arg);
		break;
	default:
		break;
	}
}

/* The address record through avahi-client: avahi's DNS-SD library has
 * no DNSServiceRegisterRecord. Host scope is IPv4 on the loopback, as
 * with the avahi backend (avahi fails to publish IPv6 there). */
static int
address_avahi(struct mdns_reg *reg, const char *fqdn,
    const struct sockaddr *sa, uint32_t ifi, int flags, char **cause)
{
	struct mdns *m = reg->o.m;
	AvahiAddress a;
	AvahiProtocol proto;
	const char *what = "add";
	int r;

	if (m->ac == NULL)
		return mdns_fail_msg(MDNS_ERR_DOWN,
		    "avahi-daemon is not running", cause);
	memset(&a, 0, sizeof(a));
	if (sa->sa_family == AF_INET) {
		a.proto = AVAHI_PROTO_INET;
		memcpy(&a.data.ipv4.address,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4);
	} else {
		a.proto = AVAHI_PROTO_INET6;
		memcpy(a.data.ipv6.address,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    16);
	}
	proto = (flags & MDNS_HOST_SCOPE) ? AVAHI_PROTO_INET : a.proto;
	if ((reg->g = avahi_entry_group_new(m->ac, group_cb, reg)) == NULL) {
		r = avahi_client_errno(m->ac);
		what = "entry group";
	} else if ((r = avahi_entry_group_add_address(reg->g,
	    ifi == kDNSServiceInterfaceIndexAny ? AVAHI_IF_UNSPEC :
	    (AvahiIfIndex)ifi, proto, AVAHI_PUBLISH_NO_REVERSE, fqdn,
	    &a)) >= 0) {
		what = "commit";
		if ((r = avahi_entry_group_commit(reg->g)) >= 0)
			return 0;
	}
	if (reg->g != NULL)
		avahi_entry_group_free(reg->g);
	reg->g = NULL;
	if (cause != NULL && asprintf(cause, "%s: %s", what,
	    avahi_strerror(r)) == -1)
		fatalx("out of memory");
	switch (r) {
	case AVAHI_ERR_COLLISION:
		return MDNS_ERR_COLLISION;
	case AVAHI_ERR_TOO_MANY_OBJECTS:
		return MDNS_ERR_OBJECTS;
	case AVAHI_ERR_DISCONNECTED:
	case AVAHI_ERR_BAD_STATE:
		return MDNS_ERR_DOWN;
	}
	return MDNS_ERR_INVALID;
}
#endif

int
mdns_reg_set_address(struct mdns_reg *reg, const char *fqdn,
    const struct sockaddr *sa, int ifindex, int flags, char **cause)
{
	struct mdns *m = reg->o.m;
	const void *rdata;
	uint16_t rrtype, rdlen;
	uint32_t ifi;
	DNSServiceErrorType e;
	int r;

	if ((r = reg_reset(reg, cause)) < 0 ||
	    (r = if_to_api(m, ifindex, flags, &ifi, cause)) < 0)
		return r;
	if (sa->sa_family == AF_INET) {
		rrtype = kDNSServiceType_A;
		rdata = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		rdlen = 4;
	} else if (sa->sa_family == AF_INET6) {
		rrtype = kDNSServiceType_AAAA;
		rdata =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		rdlen = 16;
	} else
		return mdns_fail_msg(MDNS_ERR_INVALID, "not an IPv4 or IPv6 "
		    "address", cause);
	/* A record of our own goes through a connection of its own
	 * (DNSServiceCreateConnection + DNSServiceRegisterRecord). avahi's
	 * library implements neither. */
#ifdef MDNS_DNSSD_AVAHI
	return address_avahi(reg, fqdn, sa, ifi, flags, cause);
#else
	e = DNSServiceCreateConnection(&reg->r.sd);
#endif
	if (e != kDNSServiceErr_NoError) {
		reg->r.sd = NULL;
		if (e == kDNSServiceErr_Unsupported)
			return mdns_fail_msg(MDNS_ERR_INVALID,
			    "address records "
			    "need DNSServiceRegisterRecord, which this "
			    "DNS-SD library (avahi's compatibility library) "
			    "does not implement", cause);
		return fail(e, "DNSServiceCreateConnection", cause);
	}
	e = DNSServiceRegisterRecord(reg->r.sd, &reg->rec,
	    kDNSServiceFlagsUnique, ifi, fqdn, rrtype, kDNSServiceClass_IN,
	    rdlen, rdata, 0, record_reply, reg);
	if (e != kDNSServiceErr_NoError) {
		sdref_drop(&reg->r);
		reg->rec = NULL;
		return fail(e, "DNSServiceRegisterRecord", cause);
	}
	if (sdref_watch(m, &reg->r, &reg->o) == -1)
		return mdns_fail_msg(MDNS_ERR_NOMEM, "out of memory", cause);
	return 0;
}

int
mdns_reg_update_txt(struct mdns_reg *reg, const struct mdns_service *s,
    char **cause)
{
	unsigned char *txt;
	uint16_t len;
	DNSServiceErrorType e;
	int r;

	if (reg->r.sd == NULL || reg->o.dead)
		return mdns_fail_msg(MDNS_ERR_DOWN, "the mDNS responder is not "
		    "running", cause);
	if ((r = mdns_dnssd_txt_build(s->txt, &txt, &len, cause)) < 0)
		return r;
	/* NULL record ref: the service's own TXT record */
	e = DNSServiceUpdateRecord(reg->r.sd, NULL, 0, len,
	    txt != NULL ? txt : (const unsigned char *)"", 0);
	free(txt);
	if (e != kDNSServiceErr_NoError)
		return fail(e, NULL, cause);
	return 0;
}

void
mdns_reg_free(struct mdns_reg *reg)
{
	if (reg == NULL)
		return;
	sdref_drop(&reg->r);	/* goodbyes */
#ifdef MDNS_DNSSD_AVAHI
	if (reg->g != NULL)
		avahi_entry_group_free(reg->g);
#endif
	TAILQ_REMOVE(&reg->o.m->objs, &reg->o, link);
	free(reg->name);
	free(reg);
}
