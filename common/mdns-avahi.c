/* The mDNS layer (mdns.h) on avahi-client, in our poll loop through the
 * AvahiPoll adapter of mdns-avahi-glue.c.
 *
 * The client is made with AVAHI_CLIENT_NO_FAIL, so it waits for a daemon
 * that is not there (state CONNECTING). avahi-client calls us back from
 * inside its D-Bus dispatch and even from inside avahi_client_new(): the
 * client callback only records the state and arms the sync timer, which
 * does the work from the loop -- free a failed client (after a daemon
 * restart: AVAHI_ERR_DISCONNECTED) with every object made on it, make a
 * new one, tell the user. Object callbacks arriving while the client is
 * failing are dropped: the user is about to hear DOWN.
 *
 * Beside each resolver, a record browser on the service's TXT record
 * reports a changed TXT as soon as the new record arrives (avahi's
 * resolver waits for the old one to expire; mdns-txtwatch.c). It is one
 * more of avahi-daemon's objects per client (objects-per-client-max, 1,024
 * by default), and the first to go: a browser, resolver or registration
 * that would not fit frees one (that service's TXT changes then arrive
 * through its resolver, a second later).
 *
 * A service is registered record by record (TXT and SRV unique, probed;
 * the PTR shared) rather than with avahi_entry_group_add_service(), which
 * adds to every service's group its own copy of the type's enumeration
 * record (_services._dns-sd._udp PTR <type>, RFC 6763 section 9): with a
 * thousand services of one type avahi-daemon holds a thousand identical
 * records under one key and walks them all for every record it sends,
 * receives or caches. Here that record is published once per type,
 * interface and protocol, in an entry group of its own (struct mdns_tenum)
 * held by the registrations of that type and withdrawn with the last. */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/defs.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>

#include "event.h"
#include "log.h"
#include "mdns.h"
#include "mdns-avahi.h"
#include "mdns-int.h"
#include "proto.h"

enum obj_kind { OBJ_BROWSE, OBJ_RESOLVE, OBJ_REG };

struct mdns_obj {
	TAILQ_ENTRY(mdns_obj)	 link;
	struct mdns		*m;
	enum obj_kind		 kind;
	int			 dead;	/* the client went: nothing to free */
};

struct mdns_browse {
	struct mdns_obj		 o;	/* first */
	AvahiServiceBrowser	*sb;
	AvahiServiceTypeBrowser	*tb;
	mdns_browse_cb		 cb;
	void			*arg;
};

struct mdns_resolve {
	struct mdns_obj		 o;	/* first */
	AvahiServiceResolver	*r;
	AvahiRecordBrowser	*rb;	/* the TXT record; NULL if none */
	int			 flags;
	mdns_resolve_cb		 cb;
	void			*arg;

	struct mdns_txtwatch	 tw;
	/* what the resolver reported last, to report a new TXT with */
	int			 have_res;
	struct mdns_resolved	 res;
	char			*name, *type, *domain, *host;
	struct sockaddr_storage	 addr;
};

/* The enumeration record of one type (see above). */
struct mdns_tenum {
	TAILQ_ENTRY(mdns_tenum)	 link;
	struct mdns		*m;
	AvahiEntryGroup		*g;	/* NULL once the client went */
	int			 dead;	/* of a client gone: never shared */
	unsigned		 refs;
	AvahiIfIndex		 ifi;
	AvahiProtocol		 proto;
	char			 type[AVAHI_DOMAIN_NAME_MAX];	/* "_x._tcp.local" */
};

struct mdns_reg {
	struct mdns_obj		 o;	/* first */
	AvahiEntryGroup		*g;
	struct mdns_tenum	*te;	/* the type's enumeration, held */
	int			 filled;	/* reset before refilling */
	mdns_reg_cb		 cb;
	void			*arg;
};

struct mdns {
	struct ev_loop		*loop;
	struct mdns_report	 rep;	/* state, callback, sync timer */
	AvahiPoll		 poll;
	AvahiClient		*client;
	AvahiClientState	 cstate;	/* last state avahi reported */
	int			 failed;	/* free and recreate the client */
	char			 why[128];	/* of the failure */
	unsigned		 min_ms, max_ms, backoff_ms;
	int			 txt_reversed;	/* as avahi-client gives them */
	TAILQ_HEAD(mdns_objs, mdns_obj) objs;
	TAILQ_HEAD(mdns_tenums, mdns_tenum) tenums;
};

/* --- errors, addresses --------------------------------------------- */

static int
map_err(int r)
{
	switch (r) {
	case AVAHI_ERR_DISCONNECTED:
	case AVAHI_ERR_DBUS_ERROR:
	case AVAHI_ERR_NO_DAEMON:
	case AVAHI_ERR_BAD_STATE:
	case AVAHI_ERR_TIMEOUT:
	case AVAHI_ERR_NO_MEMORY:
		return MDNS_ERR_DOWN;
	case AVAHI_ERR_COLLISION:
		return MDNS_ERR_COLLISION;
	case AVAHI_ERR_TOO_MANY_OBJECTS:
		return MDNS_ERR_OBJECTS;
	case AVAHI_ERR_TOO_MANY_ENTRIES:
		return MDNS_ERR_ENTRIES;
	case AVAHI_ERR_INVALID_HOST_NAME:
	case AVAHI_ERR_INVALID_DOMAIN_NAME:
	case AVAHI_ERR_INVALID_TTL:
	case AVAHI_ERR_INVALID_RECORD:
	case AVAHI_ERR_INVALID_SERVICE_NAME:
	case AVAHI_ERR_INVALID_SERVICE_TYPE:
	case AVAHI_ERR_INVALID_PORT:
	case AVAHI_ERR_INVALID_KEY:
	case AVAHI_ERR_INVALID_ADDRESS:
	case AVAHI_ERR_INVALID_INTERFACE:
	case AVAHI_ERR_INVALID_PROTOCOL:
	case AVAHI_ERR_INVALID_FLAGS:
	case AVAHI_ERR_INVALID_ARGUMENT:
	case AVAHI_ERR_INVALID_SERVICE_SUBTYPE:
		return MDNS_ERR_INVALID;
	}
	return MDNS_ERR_OTHER;
}

/* An avahi error r (of step what, or NULL) as MDNS_ERR_* and *cause. */
static int
fail(int r, const char *what, char **cause)
{
	return mdns_fail_err(map_err(r), what, avahi_strerror(r), cause);
}

static int
af_of(AvahiProtocol p)
{
	switch (p) {
	case AVAHI_PROTO_INET:
		return AF_INET;
	case AVAHI_PROTO_INET6:
		return AF_INET6;
	}
	return AF_UNSPEC;
}

static AvahiProtocol
proto_of(int af)
{
	switch (af) {
	case AF_INET:
		return AVAHI_PROTO_INET;
	case AF_INET6:
		return AVAHI_PROTO_INET6;
	}
	return AVAHI_PROTO_UNSPEC;
}

static AvahiIfIndex
if_of(int ifindex)
{
	return ifindex <= 0 ? AVAHI_IF_UNSPEC : ifindex;
}

/* The interface and protocol of a scope. */
static int
target(int ifindex, int flags, AvahiIfIndex *ifi, AvahiProtocol *proto,
    char **cause)
{
	*ifi = if_of(ifindex);
	*proto = AVAHI_PROTO_UNSPEC;
	if (flags & MDNS_HOST_SCOPE) {
		/* avahi fails to publish IPv6 on lo: 127.0.0.1 only */
		if ((*ifi = mdns_lo_ifindex()) == 0)
			return mdns_fail_msg(MDNS_ERR_INVALID, "no loopback "
			    "interface (lo) for host scope", cause);
		*proto = AVAHI_PROTO_INET;
	}
	return 0;
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
	return o->dead || o->m->failed;
}

/* The client goes: avahi_client_free() frees what was made on it. */
static void
objs_kill(struct mdns *m)
{
	struct mdns_obj *o;
	struct mdns_tenum *te;

	TAILQ_FOREACH(o, &m->objs, link) {
		o->dead = 1;
		switch (o->kind) {
		case OBJ_BROWSE:
			((struct mdns_browse *)o)->sb = NULL;
			((struct mdns_browse *)o)->tb = NULL;
			break;
		case OBJ_RESOLVE:
			((struct mdns_resolve *)o)->r = NULL;
			((struct mdns_resolve *)o)->rb = NULL;
			break;
		case OBJ_REG:
			((struct mdns_reg *)o)->g = NULL;
			break;
		}
	}
	TAILQ_FOREACH(te, &m->tenums, link) {
		te->dead = 1;
		te->g = NULL;
	}
}

/* Free the TXT record browser of the newest resolver that has one, to
 * make room for an object avahi-daemon refused (AVAHI_ERR_TOO_MANY_OBJECTS):
 * 1 if one went. */
static int
txt_shed(struct mdns *m)
{
	struct mdns_obj *o;
	struct mdns_resolve *rs;

	TAILQ_FOREACH_REVERSE(o, &m->objs, mdns_objs, link) {
		if (o->kind != OBJ_RESOLVE || o->dead)
			continue;
		rs = (struct mdns_resolve *)o;
		if (rs->rb == NULL)
			continue;
		avahi_record_browser_free(rs->rb);
		rs->rb = NULL;
		log_debug("avahi: objects per client exhausted: TXT changes of "
		    "\"%s\" through its resolver", rs->name);
		return 1;
	}
	return 0;
}

/* Try again after making room? */
static int
retry_room(struct mdns *m)
{
	return avahi_client_errno(m->client) == AVAHI_ERR_TOO_MANY_OBJECTS &&
	    txt_shed(m);
}

static int
check_client(struct mdns *m, int *code, char **cause)
{
	if (m->client != NULL && !m->failed && m->rep.state != MDNS_DOWN)
		return 0;
	*code = mdns_fail_msg(MDNS_ERR_DOWN,
	    "avahi-daemon is not running", cause);
	return -1;
}

static void	res_clear(struct mdns_resolve *);

/* --- the connection ----------------------------------------------------- */

static void
client_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	struct mdns *m = arg;

	/* May run inside avahi_client_new(), before m->client is set. */
	m->cstate = state;
	if (state == AVAHI_CLIENT_FAILURE && !m->failed) {
		m->failed = 1;
		snprintf(m->why, sizeof(m->why), "%s",
		    avahi_strerror(avahi_client_errno(c)));
	}
	mdns_sync_soon(&m->rep, 0);
}

/* Make the client; -1 (and the next try armed) if even that failed. */
static int
client_make(struct mdns *m)
{
	int error = 0;

	m->cstate = AVAHI_CLIENT_CONNECTING;
	m->client = avahi_client_new(&m->poll, AVAHI_CLIENT_NO_FAIL,
	    client_cb, m, &error);
	if (m->client == NULL) {
		m->failed = 0;	/* what client_cb saw went with it */
		snprintf(m->why, sizeof(m->why), "cannot connect to D-Bus: %s",
		    avahi_strerror(error));
		mdns_sync_soon(&m->rep, m->backoff_ms);
		m->backoff_ms *= 2;
		if (m->backoff_ms > m->max_ms)
			m->backoff_ms = m->max_ms;
		return -1;
	}
	m->backoff_ms = m->min_ms;
	if (!m->failed)
		m->cstate = avahi_client_get_state(m->client);
	return 0;
}

static enum mdns_state
mapped(const struct mdns *m)
{
	if (m->client == NULL || m->failed)
		return MDNS_DOWN;
	switch (m->cstate) {
	case AVAHI_CLIENT_S_RUNNING:
		return MDNS_RUNNING;
	case AVAHI_CLIENT_S_REGISTERING:
	case AVAHI_CLIENT_S_COLLISION:
		return MDNS_BUSY;
	default:
		return MDNS_DOWN;
	}
}

static void
sync_cb(void *arg)
{
	struct mdns *m = arg;
	const char *version;
	enum mdns_state st;

	if (m->failed || (m->client != NULL &&
	    m->cstate == AVAHI_CLIENT_CONNECTING &&
	    m->rep.state != MDNS_DOWN)) {
		if (!m->failed)
			snprintf(m->why, sizeof(m->why), "avahi-daemon is not "
			    "running");
		objs_kill(m);
		if (m->client != NULL)
			avahi_client_free(m->client);
		m->client = NULL;
		m->failed = 0;
		mdns_set_state(m, &m->rep, MDNS_DOWN, m->why);
	}
	if (m->client == NULL && client_make(m) == -1) {
		mdns_set_state(m, &m->rep, MDNS_DOWN, m->why);
		return;
	}
	if (m->failed) {
		mdns_sync_soon(&m->rep, 0);	/* failed at once: next turn */
		return;
	}
	if ((st = mapped(m)) != MDNS_DOWN) {
		version = avahi_client_get_version_string(m->client);
		m->txt_reversed = mdns_avahi_txt_order_fixed(version);
		if (m->rep.state == MDNS_DOWN || !m->rep.reported)
			log_debug("%s, TXT items %s", version != NULL ?
			    version : "avahi ?", m->txt_reversed ?
			    "reversed by the client" : "in record order "
			    "(daemon before 0.9-rc4)");
	}
	mdns_set_state(m, &m->rep, st, st == MDNS_DOWN ?
	    "avahi-daemon is not running" : NULL);
}

struct mdns *
mdns_new(struct ev_loop *loop, mdns_state_cb cb, void *arg, unsigned min_ms,
    unsigned max_ms)
{
	struct mdns *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->loop = loop;
	m->rep.cb = cb;
	m->rep.arg = arg;
	m->min_ms = m->backoff_ms = min_ms > 0 ? min_ms : 1;
	m->max_ms = max_ms > m->min_ms ? max_ms : m->min_ms;
	m->rep.state = MDNS_DOWN;
	mdns_avahi_poll_init(&m->poll, loop);
	TAILQ_INIT(&m->objs);
	TAILQ_INIT(&m->tenums);
	if ((m->rep.sync_t = ev_timer_add(loop, sync_cb, m)) == NULL) {
		free(m);
		return NULL;
	}
	/* Connect now, so that mdns_state() tells at once; the callback
	 * hears it from the loop. */
	if (client_make(m) == 0) {
		m->rep.state = mapped(m);
		if (m->rep.state != MDNS_DOWN)
			m->txt_reversed = mdns_avahi_txt_order_fixed(
			    avahi_client_get_version_string(m->client));
		mdns_sync_soon(&m->rep, 0);
	}
	return m;
}

void
mdns_free(struct mdns *m)
{
	struct mdns_obj *o;
	struct mdns_tenum *te;

	if (m == NULL)
		return;
	objs_kill(m);
	if (m->client != NULL)
		avahi_client_free(m->client);	/* and its objects */
	while ((o = TAILQ_FIRST(&m->objs)) != NULL) {
		TAILQ_REMOVE(&m->objs, o, link);
		if (o->kind == OBJ_RESOLVE) {
			mdns_txtw_clear(&((struct mdns_resolve *)o)->tw);
			res_clear((struct mdns_resolve *)o);
		}
		free(o);
	}
	while ((te = TAILQ_FIRST(&m->tenums)) != NULL) {
		TAILQ_REMOVE(&m->tenums, te, link);
		free(te);
	}
	ev_timer_del(m->rep.sync_t);
	free(m);
}

enum mdns_state
mdns_state(const struct mdns *m)
{
	return m->rep.state;
}

const char *
mdns_host_name(const struct mdns *m)
{
	if (m->client == NULL || m->failed)
		return NULL;
	return avahi_client_get_host_name(m->client);
}

const char *
mdns_host_fqdn(const struct mdns *m)
{
	if (m->client == NULL || m->failed)
		return NULL;
	return avahi_client_get_host_name_fqdn(m->client);
}

const char *
mdns_domain(const struct mdns *m)
{
	const char *d = NULL;

	if (m->client != NULL && !m->failed)
		d = avahi_client_get_domain_name(m->client);
	return d != NULL ? d : "local";
}

const char *
mdns_version(const struct mdns *m)
{
	if (m->client == NULL || m->failed)
		return NULL;
	return avahi_client_get_version_string(m->client);
}

int
mdns_probe(char **version, char **cause)
{
	AvahiSimplePoll *sp;
	AvahiClient *cl;
	const char *v;
	int error = 0;

	*version = NULL;
	if ((sp = avahi_simple_poll_new()) == NULL)
		return mdns_fail_msg(-1, "out of memory", cause);
	cl = avahi_client_new(avahi_simple_poll_get(sp), 0, NULL, NULL,
	    &error);
	if (cl == NULL) {
		fail(error, NULL, cause);
		avahi_simple_poll_free(sp);
		return -1;
	}
	v = avahi_client_get_version_string(cl);
	if ((*version = strdup(v != NULL ? v : "avahi")) == NULL)
		fatalx("out of memory");
	avahi_client_free(cl);
	avahi_simple_poll_free(sp);
	return 0;
}

/* --- browsing ----------------------------------------------------------- */

static void
browse_event(struct mdns_browse *b, AvahiBrowserEvent event, int ifindex,
    AvahiProtocol proto, const char *name, const char *type,
    const char *domain, AvahiLookupResultFlags flags)
{
	struct mdns_found f;
	int r;

	if (obj_quiet(&b->o))
		return;
	memset(&f, 0, sizeof(f));
	f.ifindex = ifindex;
	f.af = af_of(proto);
	f.name = name;
	f.type = type;
	f.domain = domain;
	f.local = (flags & AVAHI_LOOKUP_RESULT_LOCAL) != 0;
	switch (event) {
	case AVAHI_BROWSER_NEW:
		b->cb(b, MDNS_ADD, &f, 0, NULL, b->arg);
		break;
	case AVAHI_BROWSER_REMOVE:
		b->cb(b, MDNS_REMOVE, &f, 0, NULL, b->arg);
		break;
	case AVAHI_BROWSER_CACHE_EXHAUSTED:
		b->cb(b, MDNS_CACHED, NULL, 0, NULL, b->arg);
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
		b->cb(b, MDNS_SETTLED, NULL, 0, NULL, b->arg);
		break;
	case AVAHI_BROWSER_FAILURE:
		r = avahi_client_errno(b->o.m->client);
		b->cb(b, MDNS_FAILED, NULL, map_err(r), avahi_strerror(r),
		    b->arg);
		break;
	}
}

static void
sb_cb(AvahiServiceBrowser *s, AvahiIfIndex ifindex, AvahiProtocol proto,
    AvahiBrowserEvent event, const char *name, const char *type,
    const char *domain, AvahiLookupResultFlags flags, void *arg)
{
	browse_event(arg, event, ifindex, proto, name, type, domain, flags);
}

static void
tb_cb(AvahiServiceTypeBrowser *tb, AvahiIfIndex ifindex, AvahiProtocol proto,
    AvahiBrowserEvent event, const char *type, const char *domain,
    AvahiLookupResultFlags flags, void *arg)
{
	browse_event(arg, event, ifindex, proto, NULL, type, domain, flags);
}

struct mdns_browse *
mdns_browse_new(struct mdns *m, const char *type, mdns_browse_cb cb,
    void *arg, int *code, char **cause)
{
	struct mdns_browse *b;

	if (check_client(m, code, cause) == -1)
		return NULL;
	if ((b = calloc(1, sizeof(*b))) == NULL)
		fatalx("out of memory");
	b->cb = cb;
	b->arg = arg;
	b->o.m = m;
	do {
		if (type != NULL)
			b->sb = avahi_service_browser_new(m->client,
			    AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, type, NULL, 0,
			    sb_cb, b);
		else
			b->tb = avahi_service_type_browser_new(m->client,
			    AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, NULL, 0, tb_cb,
			    b);
	} while (b->sb == NULL && b->tb == NULL && retry_room(m));
	if (b->sb == NULL && b->tb == NULL) {
		*code = fail(avahi_client_errno(m->client), NULL, cause);
		free(b);
		return NULL;
	}
	obj_link(m, &b->o, OBJ_BROWSE);
	return b;
}

void
mdns_browse_free(struct mdns_browse *b)
{
	if (b == NULL)
		return;
	if (b->sb != NULL)
		avahi_service_browser_free(b->sb);
	if (b->tb != NULL)
		avahi_service_type_browser_free(b->tb);
	TAILQ_REMOVE(&b->o.m->objs, &b->o, link);
	free(b);
}

/* --- resolving ---------------------------------------------------------- */

static void
res_clear(struct mdns_resolve *rs)
{
	free(rs->name);
	free(rs->type);
	free(rs->domain);
	free(rs->host);
	rs->name = rs->type = rs->domain = rs->host = NULL;
	rs->have_res = 0;
}

/* Keep what the resolver reported (r), to report a new TXT with. */
static int
res_save(struct mdns_resolve *rs, const struct mdns_resolved *r)
{
	res_clear(rs);
	rs->res = *r;
	rs->res.txt = NULL;
	if ((rs->name = strdup(r->name)) == NULL ||
	    (rs->type = strdup(r->type)) == NULL ||
	    (rs->domain = strdup(r->domain)) == NULL ||
	    (r->host != NULL && (rs->host = strdup(r->host)) == NULL))
		fatalx("out of memory");
	rs->res.name = rs->name;
	rs->res.type = rs->type;
	rs->res.domain = rs->domain;
	rs->res.host = rs->host;
	if (r->addr != NULL) {
		memcpy(&rs->addr, r->addr, r->addr->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		rs->res.addr = (struct sockaddr *)&rs->addr;
	}
	rs->have_res = 1;
	return 0;
}

static void
resolver_cb(AvahiServiceResolver *ar, AvahiIfIndex ifindex,
    AvahiProtocol proto, AvahiResolverEvent event, const char *name,
    const char *type, const char *domain, const char *host,
    const AvahiAddress *a, uint16_t port, AvahiStringList *strlst,
    AvahiLookupResultFlags flags, void *arg)
{
	struct mdns_resolve *rs = arg;
	struct mdns_resolved r;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct txt txt;
	int e;

	if (obj_quiet(&rs->o))
		return;
	if (event != AVAHI_RESOLVER_FOUND) {
		e = avahi_client_errno(rs->o.m->client);
		rs->cb(rs, NULL, map_err(e), avahi_strerror(e), rs->arg);
		return;
	}
	memset(&r, 0, sizeof(r));
	memset(&ss, 0, sizeof(ss));
	r.ifindex = ifindex;
	r.af = af_of(proto);
	r.name = name;
	r.type = type;
	r.domain = domain;
	r.host = host;
	r.port = port;
	r.local = (flags & AVAHI_LOOKUP_RESULT_LOCAL) != 0;
	if (a != NULL && !(rs->flags & MDNS_NO_ADDRESS)) {
		if (a->proto == AVAHI_PROTO_INET) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(port);
			memcpy(&sin->sin_addr, &a->data.ipv4.address, 4);
			r.addr = (struct sockaddr *)sin;
		} else if (a->proto == AVAHI_PROTO_INET6) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(port);
			memcpy(&sin6->sin6_addr, a->data.ipv6.address, 16);
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
				sin6->sin6_scope_id = (uint32_t)ifindex;
			r.addr = (struct sockaddr *)sin6;
		}
	}
	if (mdns_avahi_strlst_to_txt(strlst, rs->o.m->txt_reversed,
	    &txt) == -1 || res_save(rs, &r) == -1 ||
	    (r.txt = mdns_txtw_resolved(&rs->tw, &txt)) == NULL) {
		txt_free(&txt);
		rs->cb(rs, NULL, MDNS_ERR_NOMEM, "out of memory", rs->arg);
		return;
	}
	rs->cb(rs, &r, 0, NULL, rs->arg);	/* may free rs */
	txt_free(&txt);
}

/* The TXT record browser: a new record is reported with what the
 * resolver reported last. */
static void
txt_rb_cb(AvahiRecordBrowser *rb, AvahiIfIndex ifindex, AvahiProtocol proto,
    AvahiBrowserEvent event, const char *name, uint16_t clazz, uint16_t type,
    const void *rdata, size_t size, AvahiLookupResultFlags flags, void *arg)
{
	struct mdns_resolve *rs = arg;
	AvahiStringList *l = NULL;
	struct mdns_resolved r;
	struct txt txt;
	int tell;

	if (obj_quiet(&rs->o))
		return;
	switch (event) {
	case AVAHI_BROWSER_CACHE_EXHAUSTED:
	case AVAHI_BROWSER_ALL_FOR_NOW:
		mdns_txtw_listed(&rs->tw);
		return;
	case AVAHI_BROWSER_FAILURE:
		/* the resolver still reports changes, a second later */
		log_debug("avahi: TXT record browser of \"%s\": %s", rs->name,
		    avahi_strerror(avahi_client_errno(rs->o.m->client)));
		return;
	case AVAHI_BROWSER_NEW:
	case AVAHI_BROWSER_REMOVE:
		break;
	}
	if (clazz != AVAHI_DNS_CLASS_IN || type != AVAHI_DNS_TYPE_TXT ||
	    rdata == NULL)
		return;
	/* avahi_string_list_parse prepends: the list is reversed */
	if ((size > 0 && avahi_string_list_parse(rdata, size, &l) != 0) ||
	    mdns_avahi_strlst_to_txt(l, 1, &txt) == -1) {
		avahi_string_list_free(l);
		log_debug("avahi: \"%s\": unusable TXT record", name);
		return;
	}
	avahi_string_list_free(l);
	if (event == AVAHI_BROWSER_REMOVE) {
		mdns_txtw_removed(&rs->tw, &txt);
		txt_free(&txt);
		return;
	}
	tell = mdns_txtw_added(&rs->tw, &txt);
	if (tell == 1 && rs->have_res) {
		log_debug("\"%s\": new TXT record (record browser)", rs->name);
		r = rs->res;
		r.txt = &txt;
		rs->cb(rs, &r, 0, NULL, rs->arg);	/* may free rs */
	} else if (tell == -1)
		rs->cb(rs, NULL, MDNS_ERR_NOMEM, "out of memory", rs->arg);
	txt_free(&txt);
}

struct mdns_resolve *
mdns_resolve_new(struct mdns *m, int ifindex, int af, const char *name,
    const char *type, const char *domain, int flags, mdns_resolve_cb cb,
    void *arg, int *code, char **cause)
{
	struct mdns_resolve *rs;
	char full[AVAHI_DOMAIN_NAME_MAX];

	if (check_client(m, code, cause) == -1)
		return NULL;
	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		fatalx("out of memory");
	rs->cb = cb;
	rs->arg = arg;
	rs->flags = flags;
	rs->o.m = m;
	mdns_txtw_init(&rs->tw);
	if ((rs->name = strdup(name)) == NULL)	/* for the logs until resolved */
		fatalx("out of memory");
	while ((rs->r = avahi_service_resolver_new(m->client, if_of(ifindex),
	    proto_of(af), name, type, domain, proto_of(af),
	    (flags & MDNS_NO_ADDRESS) ? AVAHI_LOOKUP_NO_ADDRESS : 0,
	    resolver_cb, rs)) == NULL && retry_room(m))
		;
	if (rs->r == NULL) {
		*code = fail(avahi_client_errno(m->client), NULL, cause);
		free(rs->name);
		free(rs);
		return NULL;
	}
	/* The resolver is what matters: without room for the TXT browser
	 * (or any other reason) it goes on alone. */
	if (avahi_service_name_join(full, sizeof(full), name, type,
	    domain != NULL ? domain : mdns_domain(m)) >= 0)
		rs->rb = avahi_record_browser_new(m->client, if_of(ifindex),
		    proto_of(af), full, AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT,
		    0, txt_rb_cb, rs);
	if (rs->rb == NULL)
		log_debug("avahi: no TXT record browser for \"%s\": %s", name,
		    avahi_strerror(avahi_client_errno(m->client)));
	obj_link(m, &rs->o, OBJ_RESOLVE);
	return rs;
}

void
mdns_resolve_free(struct mdns_resolve *rs)
{
	if (rs == NULL)
		return;
	if (rs->r != NULL)
		avahi_service_resolver_free(rs->r);
	if (rs->rb != NULL)
		avahi_record_browser_free(rs->rb);
	TAILQ_REMOVE(&rs->o.m->objs, &rs->o, link);
	mdns_txtw_clear(&rs->tw);
	res_clear(rs);
	free(rs);
}

/* --- registering -------------------------------------------------------- */

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct mdns_reg *reg = arg;
	int r;

	/* Also called from inside avahi_entry_group_new (UNCOMMITED). */
	if (obj_quiet(&reg->o) || g != reg->g)
		return;
	switch (state) {
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
		break;
	case AVAHI_ENTRY_GROUP_REGISTERING:
		reg->cb(reg, MDNS_REG_PROBING, 0, NULL, reg->arg);
		break;
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		reg->cb(reg, MDNS_REG_ESTABLISHED, 0, NULL, reg->arg);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		reg->filled = 1;	/* to be reset before the next fill */
		reg->cb(reg, MDNS_REG_COLLISION, MDNS_ERR_COLLISION,
		    "collision", reg->arg);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		r = avahi_client_errno(reg->o.m->client);
		reg->cb(reg, MDNS_REG_FAILED, map_err(r), avahi_strerror(r),
		    reg->arg);
		break;
	}
}

struct mdns_reg *
mdns_reg_new(struct mdns *m, mdns_reg_cb cb, void *arg, int *code,
    char **cause)
{
	struct mdns_reg *reg;

	if (check_client(m, code, cause) == -1)
		return NULL;
	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		fatalx("out of memory");
	reg->cb = cb;
	reg->arg = arg;
	reg->o.m = m;
	while ((reg->g = avahi_entry_group_new(m->client, group_cb,
	    reg)) == NULL && retry_room(m))
		;
	if (reg->g == NULL) {
		*code = fail(avahi_client_errno(m->client), NULL, cause);
		free(reg);
		return NULL;
	}
	obj_link(m, &reg->o, OBJ_REG);
	return reg;
}

/* Empty the group if it held something. */
static int
reg_reset(struct mdns_reg *reg, char **cause)
{
	int r;

	if (reg->g == NULL)
		return mdns_fail_msg(MDNS_ERR_DOWN,
		    "avahi-daemon is not running", cause);
	if (!reg->filled)
		return 0;
	if ((r = avahi_entry_group_reset(reg->g)) < 0)
		return fail(r, "reset", cause);
	reg->filled = 0;
	return 0;
}

/*
 * The records of a service, as avahi_entry_group_add_service() adds them
 * (TXT and SRV unique, the PTR shared, the same TTLs) but for the type's
 * enumeration record, which the caller takes from tenum_get(); a name
 * used on this host already is refused when added (AVAHI_ERR_COLLISION),
 * as there. Host scope (host_scope) also skips probing: a service only
 * this host sees lives on lo, where no other responder can answer, so
 * probing it (three queries, 250 ms apart) only delays it; its group
 * holds its own enumeration record (a few services: no need to share).
 */
static int
reg_add_records(struct mdns_reg *reg, const struct mdns_service *s,
    AvahiIfIndex ifi, AvahiProtocol proto, AvahiPublishFlags flags,
    int txt_only, int host_scope, char **cause)
{
	struct mdns *m = reg->o.m;
	char full[AVAHI_DOMAIN_NAME_MAX], type[AVAHI_DOMAIN_NAME_MAX];
	const char *domain, *host;
	uint8_t rd[AVAHI_DOMAIN_NAME_MAX + 8];
	static uint8_t txt[65536];	/* one TXT record's rdata at most */
	AvahiStringList *l;
	size_t n, ntxt;
	int r;

	domain = s->domain != NULL ? s->domain : mdns_domain(m);
	host = s->host != NULL ? s->host : mdns_host_fqdn(m);
	if (host == NULL || domain == NULL)
		return mdns_fail_msg(MDNS_ERR_DOWN,
		    "avahi-daemon is not running", cause);
	if ((r = avahi_service_name_join(full, sizeof(full), s->name,
	    s->type, domain)) < 0)
		return fail(r, "add", cause);
	if ((size_t)snprintf(type, sizeof(type), "%s.%s", s->type, domain) >=
	    sizeof(type))
		return fail(AVAHI_ERR_INVALID_SERVICE_TYPE, "add", cause);

	if (mdns_avahi_txt_to_strlst(s->txt, &l) == -1)
		return mdns_fail_msg(MDNS_ERR_NOMEM,
		    "TXT: out of memory", cause);
	ntxt = avahi_string_list_serialize(l, txt, sizeof(txt));
	avahi_string_list_free(l);
	if (host_scope)
		flags |= AVAHI_PUBLISH_NO_PROBE;
	r = avahi_entry_group_add_record(reg->g, ifi, proto,
	    flags | AVAHI_PUBLISH_UNIQUE, full,
	    AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT, AVAHI_DEFAULT_TTL, txt,
	    ntxt);
	if (r < 0 || txt_only)
		return r < 0 ? fail(r, "add TXT", cause) : 0;

	/* SRV: priority 0, weight 0, port, target */
	memset(rd, 0, 4);
	rd[4] = s->port >> 8;
	rd[5] = s->port & 0xff;
	if (mdns_avahi_name_wire(host, rd + 6, sizeof(rd) - 6, &n) == -1)
		return fail(AVAHI_ERR_INVALID_HOST_NAME, "add SRV", cause);
	if ((r = avahi_entry_group_add_record(reg->g, ifi, proto,
	    flags | AVAHI_PUBLISH_UNIQUE, full,
	    AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_SRV,
	    AVAHI_DEFAULT_TTL_HOST_NAME, rd, 6 + n)) < 0)
		return fail(r, "add SRV", cause);

	if (mdns_avahi_name_wire(full, rd, sizeof(rd), &n) == -1)
		return fail(AVAHI_ERR_INVALID_SERVICE_NAME, "add PTR", cause);
	if ((r = avahi_entry_group_add_record(reg->g, ifi, proto, flags, type,
	    AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_PTR, AVAHI_DEFAULT_TTL, rd,
	    n)) < 0)
		return fail(r, "add PTR", cause);
	if (!host_scope)
		return 0;

	/* DNS-SD service type enumeration (RFC 6763, 9) */
	if (mdns_avahi_name_wire(type, rd, sizeof(rd), &n) == -1)
		return fail(AVAHI_ERR_INVALID_SERVICE_TYPE, "add PTR", cause);
	snprintf(full, sizeof(full), "_services._dns-sd._udp.%s", domain);
	if ((r = avahi_entry_group_add_record(reg->g, ifi, proto, flags, full,
	    AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_PTR, AVAHI_DEFAULT_TTL, rd,
	    n)) < 0)
		return fail(r, "add PTR", cause);
	return 0;
}

static void
tenum_group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct mdns_tenum *te = arg;

	/* Also called from inside avahi_entry_group_new (UNCOMMITED). A
	 * shared record neither probes nor collides: only a failure. */
	if (te->dead || g != te->g || te->m->failed ||
	    state != AVAHI_ENTRY_GROUP_FAILURE)
		return;
	log_warnx("avahi: enumeration record of %s: %s", te->type,
	    avahi_strerror(avahi_client_errno(te->m->client)));
}

static void
tenum_put(struct mdns_tenum *te)
{
	if (te == NULL || --te->refs > 0)
		return;
	if (te->g != NULL)
		avahi_entry_group_free(te->g);	/* goodbye */
	TAILQ_REMOVE(&te->m->tenums, te, link);
	free(te);
}

/* The enumeration record of type (a "_x._tcp.local" full name) on
 * (ifi, proto), published if it is not yet: held, or NULL with a warning
 * logged (the service is then published without it; the next service of
 * the type tries again). */
static struct mdns_tenum *
tenum_get(struct mdns *m, const char *type, AvahiIfIndex ifi,
    AvahiProtocol proto)
{
	struct mdns_tenum *te;
	char full[AVAHI_DOMAIN_NAME_MAX];
	const char *domain = mdns_domain(m), *what;
	uint8_t rd[AVAHI_DOMAIN_NAME_MAX + 1];
	size_t n;
	int r;

	TAILQ_FOREACH(te, &m->tenums, link)
		if (!te->dead && te->ifi == ifi && te->proto == proto &&
		    avahi_domain_equal(te->type, type)) {
			te->refs++;
			return te;
		}
	if ((te = calloc(1, sizeof(*te))) == NULL)
		fatalx("out of memory");
	te->m = m;
	te->ifi = ifi;
	te->proto = proto;
	te->refs = 1;
	snprintf(te->type, sizeof(te->type), "%s", type);
	TAILQ_INSERT_TAIL(&m->tenums, te, link);
	what = "new entry group";
	while ((te->g = avahi_entry_group_new(m->client, tenum_group_cb,
	    te)) == NULL && retry_room(m))
		;
	if (te->g == NULL)
		goto fail;
	what = "add PTR";
	if (mdns_avahi_name_wire(type, rd, sizeof(rd), &n) == -1) {
		r = AVAHI_ERR_INVALID_SERVICE_TYPE;
		goto fail_r;
	}
	snprintf(full, sizeof(full), "_services._dns-sd._udp.%s",
	    domain != NULL ? domain : "local");
	if ((r = avahi_entry_group_add_record(te->g, ifi, proto, 0, full,
	    AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_PTR, AVAHI_DEFAULT_TTL, rd,
	    n)) < 0)
		goto fail_r;
	what = "commit";
	if ((r = avahi_entry_group_commit(te->g)) < 0)
		goto fail_r;
	return te;
fail:
	r = avahi_client_errno(m->client);
fail_r:
	log_warnx("avahi: enumeration record of %s: %s: %s; its services are "
	    "published without it", type, what, avahi_strerror(r));
	tenum_put(te);
	return NULL;
}

int
mdns_reg_set(struct mdns_reg *reg, const struct mdns_service *s,
    char **cause)
{
	struct mdns_tenum *te = NULL;
	AvahiIfIndex ifi;
	AvahiProtocol proto;
	char type[AVAHI_DOMAIN_NAME_MAX];
	int r, host_scope = (s->flags & MDNS_HOST_SCOPE) != 0;

	if ((r = target(s->ifindex, s->flags, &ifi, &proto, cause)) < 0 ||
	    (r = reg_reset(reg, cause)) < 0)
		return r;
	r = reg_add_records(reg, s, ifi, proto, 0, 0, host_scope, cause);
	/* records added before a failure are in the group */
	reg->filled = 1;
	if (r < 0)
		return r;
	/* the new enumeration is held before the old one is let go: a
	 * refill keeps it published */
	if (!host_scope && (size_t)snprintf(type, sizeof(type), "%s.%s",
	    s->type, s->domain != NULL ? s->domain : mdns_domain(reg->o.m)) <
	    sizeof(type))
		te = tenum_get(reg->o.m, type, ifi, proto);
	tenum_put(reg->te);
	reg->te = te;
	if ((r = avahi_entry_group_commit(reg->g)) < 0)
		return fail(r, "commit", cause);
	return 0;
}

int
mdns_reg_set_address(struct mdns_reg *reg, const char *fqdn,
    const struct sockaddr *sa, int ifindex, int flags, char **cause)
{
	AvahiAddress a;
	AvahiIfIndex ifi;
	AvahiProtocol proto;
	int r;

	if ((r = target(ifindex, flags, &ifi, &proto, cause)) < 0 ||
	    (r = reg_reset(reg, cause)) < 0)
		return r;
	memset(&a, 0, sizeof(a));
	if (sa->sa_family == AF_INET) {
		a.proto = AVAHI_PROTO_INET;
		memcpy(&a.data.ipv4.address,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    4);
	} else if (sa->sa_family == AF_INET6) {
		a.proto = AVAHI_PROTO_INET6;
		memcpy(a.data.ipv6.address,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    16);
	} else
		return fail(AVAHI_ERR_INVALID_ADDRESS, NULL, cause);
	tenum_put(reg->te);	/* no service any more */
	reg->te = NULL;
	/* host scope: nobody else answers on lo (see reg_add_records) */
	r = avahi_entry_group_add_address(reg->g, ifi, a.proto,
	    AVAHI_PUBLISH_NO_REVERSE | ((flags & MDNS_HOST_SCOPE) ?
	    AVAHI_PUBLISH_NO_PROBE : 0), fqdn, &a);
	if (r < 0)
		return fail(r, NULL, cause);
	reg->filled = 1;
	if ((r = avahi_entry_group_commit(reg->g)) < 0)
		return fail(r, NULL, cause);
	return 0;
}

int
mdns_reg_update_txt(struct mdns_reg *reg, const struct mdns_service *s,
    char **cause)
{
	AvahiStringList *l;
	AvahiIfIndex ifi;
	AvahiProtocol proto;
	int r;

	if ((r = target(s->ifindex, s->flags, &ifi, &proto, cause)) < 0)
		return r;
	if (reg->g == NULL)
		return mdns_fail_msg(MDNS_ERR_DOWN,
		    "avahi-daemon is not running", cause);
	if (s->flags & MDNS_HOST_SCOPE)
		return reg_add_records(reg, s, ifi, proto,
		    AVAHI_PUBLISH_UPDATE, 1, 1, cause);
	if (mdns_avahi_txt_to_strlst(s->txt, &l) == -1)
		return mdns_fail_msg(MDNS_ERR_NOMEM, "out of memory", cause);
	r = avahi_entry_group_update_service_txt_strlst(reg->g, ifi, proto, 0,
	    s->name, s->type, s->domain, l);
	avahi_string_list_free(l);
	if (r < 0)
		return fail(r, NULL, cause);
	return 0;
}

void
mdns_reg_free(struct mdns_reg *reg)
{
	if (reg == NULL)
		return;
	if (reg->g != NULL)
		avahi_entry_group_free(reg->g);
	tenum_put(reg->te);
	TAILQ_REMOVE(&reg->o.m->objs, &reg->o, link);
	free(reg);
}
