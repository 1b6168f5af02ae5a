/* The browsing side: one mDNS connection (common/mdns.h) in the session's
 * poll loop, a service type browser for "BROWSE *", one service browser
 * per type, and at most one resolver per service entry (for its best
 * observation, see svctable_pick()), which stays open and reports every
 * later change of the service's TXT record, address or port.
 *
 * Resolvers are made from a queue, a few per loop turn (RESOLVE_SLICE_MS)
 * and at most RESOLVE_INFLIGHT_MAX unanswered at once, and for a type
 * only once its browser has listed what the daemon's cache holds. Each is
 * a blocking round trip to the daemon (tens of ms while it is busy),
 * during which D-Bus queues what arrives: made from the browser's
 * callback, a thousand cached instances (each seen over IPv4 and IPv6)
 * cost two or three round trips each (a resolver for the first family
 * seen, replaced by one for the preferred family), all before the first
 * answer queued behind them could be read, and the session stopped
 * answering its peer's PINGs.
 *
 * Responder restarts: every browser and resolver goes with the old
 * connection; the table is kept, its observations marked stale; once the
 * new browsers have settled, what was not reported again is swept away,
 * and only that difference goes to the peer. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "event.h"
#include "log.h"
#include "mdns.h"
#include "proto.h"
#include "subsystem.h"

#define RESCAN_MS	1000	/* after max-services was hit and room came */
#define RETRY_MS	30000	/* resolutions that failed are tried again */
#define RESOLVE_SLICE_MS	10	/* making resolvers, per loop turn */
#define RESOLVE_INFLIGHT_MAX	128	/* resolvers not answered yet */

struct sbrowser {
	TAILQ_ENTRY(sbrowser)	 link;
	struct browse		*b;
	char			*type;
	struct mdns_browse	*sb;
	int			 explicit;	/* named in BROWSE */
	int			 refs;		/* '*': announcements of the type */
	int			 cache_done;
	int			 all_for_now;
};

struct resolver {
	struct browse		*b;
	struct svcentry		*e;
	struct mdns_resolve	*r;
};

struct browse {
	struct ev_loop		*loop;
	struct svctable		*t;
	const struct policy	*pol;
	const struct browse_events *ev;
	void			*arg;

	struct mdns		*mdns;
	int			 running;	/* browsers may exist */
	int			 down;		/* reported down, not up yet */

	int			 have_set;
	int			 all_types;
	char			*only_name;	/* relay sessions */
	struct mdns_browse	*tb;
	int			 tb_cache_done;
	int			 tb_all_for_now;
	TAILQ_HEAD(, sbrowser)	 sbs;

	int			 settling;
	int			 restarting;	/* this settle follows a restart */
	int			 overflow_told;
	int			 objects_told;

	struct ev_timer		*settle_t;
	struct ev_timer		*rescan_t;
	struct ev_timer		*retry_t;
	struct ev_timer		*resolve_t;
};

static void	start_browsing(struct browse *);
static void	check_settled(struct browse *);

static void
changed(struct browse *b)
{
	b->ev->changed(b->arg);
}

static void
problem(struct browse *b, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct browse *b, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	b->ev->problem(b->arg, code, msg);
}

/* ------------------------------------------------------------------------
 * Resolvers: one per entry, for the observation svctable_pick() names. */

static void
resolver_free(struct browse *b, struct svcentry *e)
{
	struct resolver *rs = e->cookie;

	if (rs == NULL)
		return;
	mdns_resolve_free(rs->r);
	free(rs);
	svctable_clear_active(b->t, e);
}

/* The table drops an active observation (svctable release callback). */
static void
release_cb(struct svcentry *e, void *arg)
{
	resolver_free(arg, e);
}

/* The resolver's answer as protocol fields; NULL if unusable. */
static const char *
make_state(const struct mdns_resolved *r, struct svc *st)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char addr[INET6_ADDRSTRLEN], zone[IF_NAMESIZE];
	size_t hlen;
	int linklocal = 0;

	memset(st, 0, sizeof(*st));
	if (r->addr == NULL)
		return "no address";
	if (r->port == 0)
		return "port 0";
	hlen = r->host == NULL ? 0 : strlen(r->host);
	if (hlen == 0 || hlen > DNSSD_MAXHOST || !utf8_valid(r->host, hlen))
		return "bad host name";
	if (r->addr->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)r->addr;
		if (inet_ntop(AF_INET, &sin->sin_addr, addr,
		    sizeof(addr)) == NULL)
			return "bad address";
	} else if (r->addr->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)r->addr;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			/* an IPv4 address in IPv6 clothes: policy, relay
			 * socket and agent all see it as the IPv4 address
			 * it is */
			if (inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12,
			    addr, sizeof(addr)) == NULL)
				return "bad address";
		} else {
			if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
			    sizeof(addr)) == NULL)
				return "bad address";
			linklocal = IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr);
		}
	} else
		return "unknown address family";
	st->host = strdup(r->host);
	if (linklocal) {
		if (if_indextoname((unsigned int)r->ifindex, zone) == NULL) {
			svc_free(st);
			return "link-local address on an unknown interface";
		}
		if (asprintf(&st->addr, "%s%%%s", addr, zone) == -1)
			st->addr = NULL;
	} else
		st->addr = strdup(addr);
	st->port = r->port;
	if (st->host == NULL || st->addr == NULL ||
	    txt_copy(&st->txt, r->txt) == -1) {
		svc_free(st);
		return "out of memory";
	}
	return NULL;
}

static void	sync_entry(struct browse *, struct svcentry *);
static void	resolve_soon(struct browse *);

static void
resolver_cb(struct mdns_resolve *r, const struct mdns_resolved *res,
    int code, const char *err, void *arg)
{
	struct resolver *rs = arg;
	struct browse *b = rs->b;
	struct svcentry *e = rs->e;
	const char *why = NULL;
	struct svc st;
	uint64_t now = ev_now_ms();

	if (res != NULL && (why = make_state(res, &st)) == NULL) {
		log_debug("resolved \"%s\" %s on %d/%s: %s %s port %u",
		    e->name, e->type, res->ifindex, res->af == AF_INET ?
		    "IPv4" : "IPv6", st.host, st.addr, st.port);
		svctable_resolved(b->t, e, &st, now);
		svc_free(&st);
	} else {
		log_debug("resolving \"%s\" %s on %d: %s", e->name, e->type,
		    e->act_if, why != NULL ? why : err);
		svctable_failed(b->t, e, now);
	}
	sync_entry(b, e);	/* may free rs: touch nothing after */
	resolve_soon(b);
	changed(b);
	check_settled(b);
}

static struct sbrowser *sb_find(struct browse *, const char *);

/* Has the type's browser listed the cache (or failed)? Until then more
 * observations of its instances are queued in D-Bus. */
static int
type_listed(struct browse *b, const char *type)
{
	const struct sbrowser *sb = sb_find(b, type);

	return sb == NULL || sb->sb == NULL || sb->cache_done;
}

static void
resolve_soon(struct browse *b)
{
	if (TAILQ_EMPTY(&b->t->waiting) ||
	    b->t->npending >= RESOLVE_INFLIGHT_MAX ||
	    ev_timer_pending(b->resolve_t))
		return;
	ev_timer_set(b->resolve_t, 0);
}

/* Make the entry's resolver follow svctable_pick(): at once when that
 * means none, else from the queue (resolve_timer). */
static void
sync_entry(struct browse *b, struct svcentry *e)
{
	int ifindex, proto;

	if (!b->running)
		return;
	if (!svctable_pick(e, &ifindex, &proto)) {
		resolver_free(b, e);
		return;
	}
	if (e->cookie != NULL && e->act_if == ifindex && e->act_proto == proto)
		return;
	svctable_wait(b->t, e);
	if (type_listed(b, e->type))
		resolve_soon(b);
}

static void
resolve_entry(struct browse *b, struct svcentry *e)
{
	struct resolver *rs;
	char *cause;
	int ifindex, proto, tries, code;

	if (!b->running)
		return;
	for (tries = 0; tries < 16; tries++) {
		if (!svctable_pick(e, &ifindex, &proto)) {
			resolver_free(b, e);
			return;
		}
		if (e->cookie != NULL && e->act_if == ifindex &&
		    e->act_proto == proto)
			return;
		resolver_free(b, e);
		if ((rs = calloc(1, sizeof(*rs))) == NULL)
			fatalx("out of memory");
		rs->b = b;
		rs->e = e;
		cause = NULL;
		rs->r = mdns_resolve_new(b->mdns, ifindex, proto, e->name,
		    e->type, e->domain, 0, resolver_cb, rs, &code, &cause);
		if (rs->r != NULL) {
			svctable_set_active(b->t, e, rs, ifindex, proto);
			return;
		}
		free(rs);
		if (code == MDNS_ERR_OBJECTS) {
			if (!b->objects_told)
				problem(b, "limit", "avahi refuses more "
				    "objects (objects-per-client-max): \"%s\" "
				    "%s and maybe others not resolved",
				    e->name, e->type);
			b->objects_told = 1;
		} else
			log_warnx("resolver for \"%s\" %s: %s", e->name,
			    e->type, cause);
		free(cause);
		svctable_set_active(b->t, e, NULL, ifindex, proto);
		svctable_failed(b->t, e, ev_now_ms());
	}
}

static void
resolve_timer(void *arg)
{
	struct browse *b = arg;
	struct svcentry *e, *next;
	uint64_t t0 = ev_now_ms();

	/* what stays queued goes when its browser has listed the cache
	 * (sb_cb) or a resolver answers (resolver_cb) */
	TAILQ_FOREACH_SAFE(e, &b->t->waiting, wait_link, next) {
		if (b->t->npending >= RESOLVE_INFLIGHT_MAX)
			break;
		if (ev_now_ms() - t0 >= RESOLVE_SLICE_MS) {
			resolve_soon(b);	/* the rest next turn */
			break;
		}
		if (!type_listed(b, e->type))
			continue;
		svctable_unwait(b->t, e);
		resolve_entry(b, e);
	}
	/* an entry that failed at once may complete the view */
	check_settled(b);
}

static void
sync_entry_cb(struct svcentry *e, void *arg)
{
	sync_entry(arg, e);
}

static void
free_resolver_cb(struct svcentry *e, void *arg)
{
	resolver_free(arg, e);
}

/* Entries whose every observation failed get another chance now and
 * then: a resolver timeout can be transient. */
static void
retry_cb(struct svcentry *e, void *arg)
{
	size_t i;

	if (e->cookie != NULL || e->resolved || e->nobs == 0)
		return;
	for (i = 0; i < e->nobs; i++)
		e->obs[i].failed = 0;
	sync_entry(arg, e);
}

static void
retry_timer(void *arg)
{
	struct browse *b = arg;

	if (b->running)
		svctable_foreach(b->t, retry_cb, b);
	ev_timer_set(b->retry_t, RETRY_MS);
}

/* ------------------------------------------------------------------------
 * Service browsers. */

static struct sbrowser *
sb_find(struct browse *b, const char *type)
{
	struct sbrowser *sb;

	TAILQ_FOREACH(sb, &b->sbs, link)
		if (strcasecmp(sb->type, type) == 0)
			return sb;
	return NULL;
}

static void
sb_stop(struct sbrowser *sb)
{
	mdns_browse_free(sb->sb);
	sb->sb = NULL;
	sb->cache_done = sb->all_for_now = 0;
}

/* Forget a type: its browser and its entries. */
static void
sb_free(struct browse *b, struct sbrowser *sb)
{
	TAILQ_REMOVE(&b->sbs, sb, link);
	sb_stop(sb);
	svctable_drop_type(b->t, sb->type, ev_now_ms());
	free(sb->type);
	free(sb);
	changed(b);
}

static void
sb_cb(struct mdns_browse *s, enum mdns_event event,
    const struct mdns_found *f, int code, const char *err, void *arg)
{
	struct sbrowser *sb = arg;
	struct browse *b = sb->b;
	struct svcentry *e;
	uint64_t now = ev_now_ms();
	const char *name = f != NULL ? f->name : NULL;
	const char *domain = f != NULL ? f->domain : NULL;
	int ifindex = f != NULL ? f->ifindex : 0;
	int proto = f != NULL ? f->af : AF_UNSPEC;
	size_t nlen;

	switch (event) {
	case MDNS_ADD:
		if (b->only_name != NULL && strcmp(name, b->only_name) != 0)
			return;
		nlen = strlen(name);
		if (nlen == 0 || nlen > DNSSD_MAXNAME ||
		    !utf8_valid(name, nlen) || strlen(domain) == 0 ||
		    strlen(domain) > DNSSD_MAXDOMAIN ||
		    !utf8_valid(domain, strlen(domain))) {
			log_debug("ignoring unusable instance name in %s",
			    sb->type);
			return;
		}
		if (policy_match(b->pol, name, sb->type, NULL, NULL) ==
		    POLICY_DENY) {
			log_debug("\"%s\" %s: hidden by policy", name,
			    sb->type);
			return;
		}
		log_debug("new \"%s\" %s %s on %d/%s", name, sb->type, domain,
		    ifindex, proto == AF_INET ? "IPv4" : "IPv6");
		e = svctable_obs_add(b->t, name, sb->type, domain, ifindex,
		    proto, mdns_if_loopback(ifindex), now);
		if (e == NULL) {
			if (errno != ENOSPC)
				fatalx("out of memory");
			if (!b->overflow_told) {
				b->overflow_told = 1;
				problem(b, "limit", "max-services %u reached: "
				    "\"%s\" %s and others not offered",
				    b->pol->max_services, name, sb->type);
			}
			return;
		}
		sync_entry(b, e);
		changed(b);
		break;
	case MDNS_REMOVE:
		if ((e = svctable_find(b->t, name, sb->type, domain)) == NULL)
			return;
		log_debug("gone \"%s\" %s on %d/%s", name, sb->type, ifindex,
		    proto == AF_INET ? "IPv4" : "IPv6");
		if ((e = svctable_obs_del(b->t, e, ifindex, proto,
		    now)) != NULL)
			sync_entry(b, e);
		if (b->t->overflow && b->t->nlive < b->pol->max_services &&
		    !ev_timer_pending(b->rescan_t))
			ev_timer_set(b->rescan_t, RESCAN_MS);
		changed(b);
		break;
	case MDNS_CACHED:
		sb->cache_done = 1;
		resolve_soon(b);
		changed(b);	/* what the cache held may go out now */
		break;
	case MDNS_SETTLED:
		sb->cache_done = sb->all_for_now = 1;
		resolve_soon(b);
		log_debug("%s: all for now", sb->type);
		break;
	case MDNS_FAILED:
		problem(b, "unavailable", "browsing %s: %s", sb->type, err);
		sb->cache_done = sb->all_for_now = 1;
		resolve_soon(b);
		break;
	}
	check_settled(b);
}

static void
sb_start(struct browse *b, struct sbrowser *sb)
{
	char *cause = NULL;
	int code;

	if (!b->running || sb->sb != NULL)
		return;
	sb->cache_done = sb->all_for_now = 0;
	if ((sb->sb = mdns_browse_new(b->mdns, sb->type, sb_cb, sb, &code,
	    &cause)) == NULL) {
		problem(b, code == MDNS_ERR_OBJECTS ? "limit" :
		    "unavailable", "cannot browse %s: %s", sb->type, cause);
		free(cause);
	}
}

static struct sbrowser *
sb_add(struct browse *b, const char *type)
{
	struct sbrowser *sb;

	if ((sb = sb_find(b, type)) != NULL)
		return sb;
	if ((sb = calloc(1, sizeof(*sb))) == NULL ||
	    (sb->type = strdup(type)) == NULL)
		fatalx("out of memory");
	sb->b = b;
	TAILQ_INSERT_TAIL(&b->sbs, sb, link);
	sb_start(b, sb);
	return sb;
}

/* Drop the types that "BROWSE *" found once but no longer announces. */
static void
sb_prune(struct browse *b)
{
	struct sbrowser *sb, *next;

	TAILQ_FOREACH_SAFE(sb, &b->sbs, link, next)
		if (!sb->explicit && sb->refs <= 0)
			sb_free(b, sb);
}

/* ------------------------------------------------------------------------
 * The type browser ("BROWSE *"). */

static void
tb_cb(struct mdns_browse *tb, enum mdns_event event,
    const struct mdns_found *f, int code, const char *err, void *arg)
{
	struct browse *b = arg;
	struct sbrowser *sb;
	const char *type = f != NULL ? f->type : NULL;

	switch (event) {
	case MDNS_ADD:
		if (!proto_valid_type(type)) {
			log_debug("ignoring service type \"%s\"", type);
			return;
		}
		if (!browse_type_carried(type)) {
			log_debug("type %s: not offered (%s)", type,
			    BROWSE_UDP_WHY);
			return;
		}
		if (policy_match(b->pol, NULL, type, NULL, NULL) ==
		    POLICY_DENY) {
			log_debug("type %s: hidden by policy", type);
			return;
		}
		sb = sb_add(b, type);
		sb->refs++;
		break;
	case MDNS_REMOVE:
		if ((sb = sb_find(b, type)) == NULL)
			return;
		if (--sb->refs <= 0 && !sb->explicit && b->tb_all_for_now)
			sb_free(b, sb);
		break;
	case MDNS_CACHED:
		b->tb_cache_done = 1;
		changed(b);
		break;
	case MDNS_SETTLED:
		b->tb_cache_done = b->tb_all_for_now = 1;
		sb_prune(b);
		break;
	case MDNS_FAILED:
		problem(b, "unavailable", "browsing service types: %s", err);
		b->tb_cache_done = b->tb_all_for_now = 1;
		break;
	}
	check_settled(b);
}

static void
tb_start(struct browse *b)
{
	char *cause = NULL;
	int code;

	if (!b->running || b->tb != NULL)
		return;
	b->tb_cache_done = b->tb_all_for_now = 0;
	if ((b->tb = mdns_browse_new(b->mdns, NULL, tb_cb, b, &code,
	    &cause)) == NULL) {
		problem(b, code == MDNS_ERR_OBJECTS ? "limit" :
		    "unavailable", "cannot browse service types: %s", cause);
		free(cause);
	}
}

static void
tb_stop(struct browse *b)
{
	mdns_browse_free(b->tb);
	b->tb = NULL;
	b->tb_cache_done = b->tb_all_for_now = 0;
}

/* ------------------------------------------------------------------------
 * Settling: the view is complete once every browser said ALL_FOR_NOW and
 * no resolver is pending, or after BROWSE_SETTLE_MAX_MS. */

static int
view_done(const struct browse *b, int cache_only)
{
	const struct sbrowser *sb;

	if (!b->running)
		return 1;
	if (b->all_types && b->tb != NULL &&
	    !(cache_only ? b->tb_cache_done : b->tb_all_for_now))
		return 0;
	TAILQ_FOREACH(sb, &b->sbs, link)
		if (sb->sb != NULL &&
		    !(cache_only ? sb->cache_done : sb->all_for_now))
			return 0;
	return b->t->npending == 0 && b->t->nwaiting == 0;
}

static void
settle_done(struct browse *b)
{
	b->settling = 0;
	ev_timer_stop(b->settle_t);
	if (b->restarting == 1 && b->running) {
		/* A restarted daemon lists what it hears as answers come in;
		 * ALL_FOR_NOW can come before a slow host's answer. A service
		 * is only declared gone if it stayed away a while longer. */
		b->restarting = 2;
		ev_timer_set(b->settle_t, BROWSE_STALE_GRACE_MS);
		return;
	}
	if (b->restarting == 2 && b->running) {
		b->restarting = 0;
		svctable_sweep_stale(b->t, ev_now_ms());
		svctable_foreach(b->t, sync_entry_cb, b);
		b->down = 0;
		log_info("avahi-daemon back, view settled");
		b->ev->avahi(b->arg, 1);
	}
	b->ev->settled(b->arg);
}

static void
check_settled(struct browse *b)
{
	if (b->settling && view_done(b, 0))
		settle_done(b);
}

static void
settle_timer(void *arg)
{
	struct browse *b = arg;

	if (b->settling) {
		log_debug("view not settled after %d ms, going on",
		    BROWSE_SETTLE_MAX_MS);
		settle_done(b);
	} else if (b->restarting == 2 && b->running)
		settle_done(b);
}

static void
settle_begin(struct browse *b)
{
	b->settling = 1;
	ev_timer_set(b->settle_t, BROWSE_SETTLE_MAX_MS);
}

/* ------------------------------------------------------------------------
 * The client. */

static void
report_down(struct browse *b)
{
	if (b->down)
		return;
	b->down = 1;
	b->ev->avahi(b->arg, 0);
}

/* Free every mDNS object. Structures stay. */
static void
teardown(struct browse *b)
{
	struct sbrowser *sb;

	svctable_foreach(b->t, free_resolver_cb, b);
	TAILQ_FOREACH(sb, &b->sbs, link)
		sb_stop(sb);
	tb_stop(b);
	b->running = 0;
}

static void
mdns_cb(struct mdns *m, enum mdns_state st, const char *why, void *arg)
{
	struct browse *b = arg;

	switch (st) {
	case MDNS_BUSY:
	case MDNS_RUNNING:
		if (b->running)
			break;
		b->running = 1;
		if (b->down)
			b->restarting = 1;
		start_browsing(b);
		break;
	case MDNS_DOWN:
		if (b->running) {
			log_warnx("avahi: %s", why != NULL ? why : "gone");
			teardown(b);
			svctable_mark_stale(b->t);
		} else if (!b->down)
			log_warnx("avahi-daemon not running (%s); waiting for "
			    "it", why != NULL ? why : "not connected");
		report_down(b);
		check_settled(b);
		break;
	}
}

static void
start_browsing(struct browse *b)
{
	struct sbrowser *sb;

	if (!b->have_set) {
		if (b->restarting) {
			b->restarting = 0;
			svctable_sweep_stale(b->t, ev_now_ms());
			b->down = 0;
			b->ev->avahi(b->arg, 1);
		}
		return;
	}
	if (b->all_types)
		tb_start(b);
	TAILQ_FOREACH(sb, &b->sbs, link) {
		if (b->all_types && !sb->explicit)
			sb->refs = 0;	/* the new type browser recounts */
		sb_start(b, sb);
	}
	settle_begin(b);
	check_settled(b);
}

static void
rescan_timer(void *arg)
{
	struct browse *b = arg;
	struct sbrowser *sb;

	if (!b->running)
		return;
	log_debug("room in the table again: browsing anew");
	b->t->overflow = 0;
	b->overflow_told = 0;
	b->objects_told = 0;
	TAILQ_FOREACH(sb, &b->sbs, link) {
		sb_stop(sb);
		sb_start(b, sb);
	}
}

struct browse *
browse_new(struct ev_loop *loop, struct svctable *t, const struct policy *pol,
    const struct browse_events *ev, void *arg)
{
	struct browse *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->loop = loop;
	b->t = t;
	b->pol = pol;
	b->ev = ev;
	b->arg = arg;
	TAILQ_INIT(&b->sbs);
	t->release = release_cb;
	t->release_arg = b;
	if ((b->settle_t = ev_timer_add(loop, settle_timer, b)) == NULL ||
	    (b->rescan_t = ev_timer_add(loop, rescan_timer, b)) == NULL ||
	    (b->retry_t = ev_timer_add(loop, retry_timer, b)) == NULL ||
	    (b->resolve_t = ev_timer_add(loop, resolve_timer, b)) == NULL ||
	    (b->mdns = mdns_new(loop, mdns_cb, b, BROWSE_RECONNECT_MS,
	    BROWSE_RECONNECT_MS)) == NULL) {
		browse_free(b);
		return NULL;
	}
	ev_timer_set(b->retry_t, RETRY_MS);
	mdns_cb(b->mdns, mdns_state(b->mdns), NULL, b);
	return b;
}

void
browse_free(struct browse *b)
{
	struct sbrowser *sb;

	if (b == NULL)
		return;
	teardown(b);
	while ((sb = TAILQ_FIRST(&b->sbs)) != NULL) {
		TAILQ_REMOVE(&b->sbs, sb, link);
		free(sb->type);
		free(sb);
	}
	b->t->release = NULL;
	mdns_free(b->mdns);
	ev_timer_del(b->settle_t);
	ev_timer_del(b->rescan_t);
	ev_timer_del(b->retry_t);
	ev_timer_del(b->resolve_t);
	free(b->only_name);
	free(b);
}

int
browse_set_types(struct browse *b, char *const *types, size_t ntypes)
{
	struct sbrowser *sb, *next;
	size_t i;

	b->have_set = 1;
	b->all_types = ntypes == 0;
	TAILQ_FOREACH(sb, &b->sbs, link) {
		sb->explicit = 0;
		for (i = 0; i < ntypes; i++)
			if (strcasecmp(sb->type, types[i]) == 0)
				sb->explicit = 1;
	}
	if (b->all_types) {
		/* types found before stay until the type browser had its
		 * say (sb_prune), so that nothing flaps */
		tb_start(b);
	} else {
		tb_stop(b);
		TAILQ_FOREACH_SAFE(sb, &b->sbs, link, next) {
			sb->refs = 0;
			if (!sb->explicit)
				sb_free(b, sb);
		}
		for (i = 0; i < ntypes; i++) {
			if (!browse_type_carried(types[i])) {
				log_info("type %s: not offered (%s)",
				    types[i], BROWSE_UDP_WHY);
				continue;
			}
			if (policy_match(b->pol, NULL, types[i], NULL, NULL) ==
			    POLICY_DENY) {
				log_debug("type %s: hidden by policy",
				    types[i]);
				continue;
			}
			sb_add(b, types[i])->explicit = 1;
		}
	}
	settle_begin(b);
	check_settled(b);
	return 0;
}

/* Only TCP is carried (relays are byte streams): a _udp service offered
 * to an agent could never be reached through it. */
int
browse_type_carried(const char *type)
{
	size_t len = strlen(type);

	return len >= 5 && strcasecmp(type + len - 5, "._tcp") == 0;
}

int
browse_set_name(struct browse *b, const char *name)
{
	free(b->only_name);
	if ((b->only_name = strdup(name)) == NULL)
		return -1;
	return 0;
}

int
browse_up(const struct browse *b)
{
	return b->running && !b->down;
}

int
browse_settling(const struct browse *b)
{
	return b->settling;
}

int
browse_restarting(const struct browse *b)
{
	return b->restarting;
}

int
browse_cache_done(const struct browse *b)
{
	return b->have_set && view_done(b, 1);
}
