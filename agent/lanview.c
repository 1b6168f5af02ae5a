/* The local view: what is already on this LAN, for route.c to know when
 * another agent of the LAN publishes a copy of an origin service as good
 * as ours (or better). One avahi client of its own, one service browser
 * per type the agent imports (started on demand, kept), one resolver per
 * instance for its TXT record (no address lookups; avahi keeps it open and
 * reports later TXT changes). Instances without splice metadata (native
 * services) are followed but never compete: their origin is not known.
 *
 * The publisher's services come from another avahi client, so avahi marks
 * them LOCAL, not OUR_OWN. Services of this host are not resolved at all
 * (they are ours, or another user's on this host: not a LAN copy for us
 * to defer to). LOCAL is not enough: the copies of an agent that just
 * stopped stay in avahi's cache for a second (goodbye), no longer LOCAL;
 * the SRV target (this host's name) says whose they are, and route.c
 * ignores a copy of this host whose path ends in this site
 * (route_lan_usable). One resolver per other instance of the followed
 * types: beyond about a thousand, avahi refuses more objects and the
 * rest are taken as not competing.
 *
 * Callbacks go to route_lan_changed(), which only marks origins dirty.
 * The mDNS connection (common/mdns.h) is its own; when the responder goes
 * away every copy is dropped (and reported), and browsers start again
 * once it runs. */
#include "config.h"

#include <net/if.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "escape.h"
#include "event.h"
#include "log.h"
#include "mdns.h"
#include "meta.h"
#include "publish.h"

#define LV_RECONNECT_MS		1000	/* no D-Bus: retry, doubling */
#define LV_RECONNECT_MAX_MS	10000
#define LV_MAXOBS		8

struct lvtype {
	TAILQ_ENTRY(lvtype)	 link;
	struct lanview		*lv;
	char			*type;
	struct mdns_browse	*sb;
	uint64_t		 started;	/* ms */
	int			 all_for_now;
	int			 failed;
	int			 ready;		/* told */
};

struct lanview {
	struct ev_loop		*loop;
	lanview_cb		 cb;
	void			*arg;
	struct mdns		*mdns;
	int			 running;
	struct ev_timer		*settle_t;
	TAILQ_HEAD(, lvtype)	 types;
	TAILQ_HEAD(, lancopy)	 copies;
	size_t			 ncopies;
};

static void	resolve(struct lanview *, struct lancopy *);

static void
notify(struct lanview *lv, const char *key, const struct lancopy *gone)
{
	if (lv->cb != NULL)
		lv->cb(lv->arg, key, gone);
}

/* --- readiness ------------------------------------------------------------ */

static int
type_ready(const struct lanview *lv, const struct lvtype *t)
{
	const struct lancopy *c;

	/* once settled, stays so: later copies report themselves */
	if (t->ready || !lv->running || t->failed || t->sb == NULL ||
	    ev_now_ms() - t->started >= LANVIEW_SETTLE_MS)
		return 1;
	if (!t->all_for_now)
		return 0;
	TAILQ_FOREACH(c, &lv->copies, entry)
		if (c->t == t && !c->resolved)
			return 0;
	return 1;
}

/* Tell route.c when a type becomes ready: what waited for it may go. */
static void
check_ready(struct lanview *lv)
{
	struct lvtype *t;
	int told = 0;

	TAILQ_FOREACH(t, &lv->types, link) {
		if (t->ready || !type_ready(lv, t))
			continue;
		t->ready = 1;
		log_debug("local view of %s ready after %llu ms", t->type,
		    (unsigned long long)(ev_now_ms() - t->started));
		told = 1;
	}
	if (told)
		notify(lv, NULL, NULL);
}

static void
settle_cb(void *arg)
{
	struct lanview *lv = arg;
	struct lvtype *t;
	uint64_t now = ev_now_ms(), next = 0, due;

	check_ready(lv);
	TAILQ_FOREACH(t, &lv->types, link) {
		if (t->ready || t->sb == NULL)
			continue;
		due = t->started + LANVIEW_SETTLE_MS + 10;
		if (next == 0 || due < next)
			next = due;
	}
	if (next != 0)
		ev_timer_set(lv->settle_t, next > now ? next - now : 0);
}

/* --- copies --------------------------------------------------------------- */

static struct lancopy *
copy_find(struct lanview *lv, const char *name, const char *type,
    const char *domain)
{
	struct lancopy *c;

	TAILQ_FOREACH(c, &lv->copies, entry)
		if (strcmp(c->name, name) == 0 &&
		    strcasecmp(c->type, type) == 0 &&
		    strcasecmp(c->domain, domain) == 0)
			return c;
	return NULL;
}

static void
res_stop(struct lancopy *c)
{
	mdns_resolve_free(c->res);
	c->res = NULL;
}

static void
copy_free(struct lanview *lv, struct lancopy *c)
{
	TAILQ_REMOVE(&lv->copies, c, entry);
	lv->ncopies--;
	res_stop(c);
	free(c->name);
	free(c->type);
	free(c->domain);
	free(c->key);
	free(c);
}

static void
count_nonlo(struct lancopy *c)
{
	size_t i;

	c->nonlo = 0;
	for (i = 0; i < c->nobs; i++)
		if (!mdns_if_loopback(c->obs[i][0]))
			c->nonlo++;
}

/* The splice metadata of a TXT record: 1 found (in *m), 0 none or bad. */
static int
txt_meta(const struct txt *t, struct splice_meta *m)
{
	const size_t klen = strlen(META_KEY);
	const char *cause;
	const char *text;
	size_t len, i;

	for (i = 0; i < t->n; i++) {
		text = (const char *)t->items[i].data;
		len = t->items[i].len;
		if (len > klen && strncasecmp(text, META_KEY, klen) == 0 &&
		    text[klen] == '=')
			return meta_parse(text + klen + 1, len - klen - 1, m,
			    &cause) == 0;
	}
	return 0;
}

/* Is host (an SRV target) this host? avahi's LOCAL flag alone misses our
 * own services while their goodbyes expire (a restarted agent sees its
 * predecessor's copies for a second), and host-scope services point to
 * "<host>-rnsplice" (publish.c). */
static int
our_host(struct lanview *lv, const char *host)
{
	const char *fqdn, *name;
	char label[128];
	size_t len;

	if (host == NULL)
		return 0;
	if ((fqdn = mdns_host_fqdn(lv->mdns)) != NULL &&
	    strcasecmp(host, fqdn) == 0)
		return 1;
	if ((name = mdns_host_name(lv->mdns)) == NULL ||
	    pub_host_label(name, label, sizeof(label)) == -1)
		return 0;
	len = strlen(label);
	return strncasecmp(host, label, len) == 0 && host[len] == '.';
}

static int
same_meta(const struct splice_meta *a, const struct splice_meta *b)
{
	char x[512], y[512];

	return meta_format(a, x, sizeof(x)) == 0 &&
	    meta_format(b, y, sizeof(y)) == 0 && strcmp(x, y) == 0;
}

static void
res_cb(struct mdns_resolve *rs, const struct mdns_resolved *r, int code,
    const char *err, void *arg)
{
	struct lancopy *c = arg;
	struct lanview *lv = c->t->lv;
	struct splice_meta m;
	char *key = NULL;

	if (r == NULL) {
		log_debug("local view: cannot resolve \"%s\" %s: %s", c->name,
		    c->type, err);
		res_stop(c);
		c->resolved = 1;	/* tried; the next NEW tries again */
		check_ready(lv);
		return;
	}
	c->local = c->local || r->local || our_host(lv, r->host);
	if (txt_meta(r->txt, &m) &&
	    (key = route_meta_key(&m, c->name, c->type, c->domain)) == NULL)
		fatalx("out of memory");
	if (c->key != NULL && (key == NULL || strcmp(key, c->key) != 0 ||
	    !same_meta(&m, &c->meta))) {
		/* its old self goes away */
		notify(lv, c->key, c);
	}
	free(c->key);
	c->key = key;
	if (key != NULL) {
		c->meta = m;
		log_debug("local view: \"%s\" %s from %s, %zu hops%s", c->name,
		    c->type, m.origin, meta_hops(&m), c->local ? ", local" : "");
		notify(lv, key, NULL);
	}
	c->resolved = 1;
	check_ready(lv);
}

static void
resolve(struct lanview *lv, struct lancopy *c)
{
	size_t i, pick = 0;
	char *cause = NULL;
	int code;

	if (c->res != NULL || c->nobs == 0 || !lv->running)
		return;
	for (i = 0; i < c->nobs; i++)
		if (!mdns_if_loopback(c->obs[i][0])) {
			pick = i;
			break;
		}
	c->res_if = c->obs[pick][0];
	c->res_proto = c->obs[pick][1];
	c->res = mdns_resolve_new(lv->mdns, c->res_if, c->res_proto, c->name,
	    c->type, c->domain, MDNS_NO_ADDRESS, res_cb, c, &code, &cause);
	if (c->res == NULL) {
		log_debug("local view: resolver for \"%s\" %s: %s", c->name,
		    c->type, cause);
		free(cause);
		c->resolved = 1;
	}
}

static void
sb_cb(struct mdns_browse *b, enum mdns_event event,
    const struct mdns_found *f, int code, const char *err, void *arg)
{
	struct lvtype *t = arg;
	struct lanview *lv = t->lv;
	struct lancopy *c;
	const char *name = f != NULL ? f->name : NULL;
	const char *domain = f != NULL ? f->domain : NULL;
	int ifindex = f != NULL ? f->ifindex : 0;
	int proto = f != NULL ? f->af : 0;
	size_t i;
	int had;

	switch (event) {
	case MDNS_ADD:
		if (name == NULL || *name == '\0' || strlen(name) >
		    DNSSD_MAXNAME || !utf8_valid(name, strlen(name)))
			return;
		if ((c = copy_find(lv, name, t->type, domain)) == NULL) {
			if ((c = calloc(1, sizeof(*c))) == NULL ||
			    (c->name = strdup(name)) == NULL ||
			    (c->type = strdup(t->type)) == NULL ||
			    (c->domain = strdup(domain)) == NULL)
				fatalx("out of memory");
			c->t = t;
			TAILQ_INSERT_TAIL(&lv->copies, c, entry);
			lv->ncopies++;
		}
		for (i = 0; i < c->nobs; i++)
			if (c->obs[i][0] == ifindex && c->obs[i][1] == proto)
				break;
		if (i == c->nobs && c->nobs < LV_MAXOBS) {
			c->obs[c->nobs][0] = ifindex;
			c->obs[c->nobs++][1] = proto;
		}
		had = c->nonlo;
		count_nonlo(c);
		c->local = c->local || f->local;
		/* this host's services (ours, mostly) never compete: no
		 * resolver for them, they would eat avahi's per-client
		 * object limit (1,024) one per spliced service */
		if (c->local) {
			res_stop(c);
			c->resolved = 1;
		} else if (c->res == NULL && !c->resolved)
			resolve(lv, c);
		if (c->key != NULL && had == 0 && c->nonlo > 0)
			notify(lv, c->key, NULL);
		break;
	case MDNS_REMOVE:
		if ((c = copy_find(lv, name, t->type, domain)) == NULL)
			return;
		for (i = 0; i < c->nobs; i++)
			if (c->obs[i][0] == ifindex && c->obs[i][1] == proto)
				break;
		if (i == c->nobs)
			return;
		c->obs[i][0] = c->obs[c->nobs - 1][0];
		c->obs[i][1] = c->obs[c->nobs - 1][1];
		c->nobs--;
		had = c->nonlo;
		count_nonlo(c);
		if (c->nobs == 0 || (had > 0 && c->nonlo == 0)) {
			if (c->key != NULL)
				notify(lv, c->key, c);
			if (c->nobs == 0) {
				copy_free(lv, c);
				check_ready(lv);
				return;
			}
		}
		if (c->res != NULL && c->res_if == ifindex &&
		    c->res_proto == proto) {
			/* its resolver watched that interface */
			res_stop(c);
			resolve(lv, c);
		}
		break;
	case MDNS_CACHED:
		break;
	case MDNS_SETTLED:
		t->all_for_now = 1;
		check_ready(lv);
		break;
	case MDNS_FAILED:
		log_warnx("local view: browsing %s: %s", t->type, err);
		t->failed = 1;
		check_ready(lv);
		break;
	}
}

static void
type_start(struct lanview *lv, struct lvtype *t)
{
	char *cause = NULL;
	int code;

	if (!lv->running || t->sb != NULL)
		return;
	t->started = ev_now_ms();
	t->all_for_now = t->failed = t->ready = 0;
	if ((t->sb = mdns_browse_new(lv->mdns, t->type, sb_cb, t, &code,
	    &cause)) == NULL) {
		log_warnx("local view: cannot browse %s: %s", t->type, cause);
		free(cause);
		t->failed = 1;
	}
	if (!ev_timer_pending(lv->settle_t))
		ev_timer_set(lv->settle_t, LANVIEW_SETTLE_MS + 10);
}

/* --- the connection ------------------------------------------------------ */

/* The responder is gone: forget everything it held. */
static void
drop_all(struct lanview *lv)
{
	struct lancopy *c;
	struct lvtype *t;

	while ((c = TAILQ_FIRST(&lv->copies)) != NULL) {
		if (c->key != NULL && c->nonlo > 0)
			notify(lv, c->key, c);
		copy_free(lv, c);
	}
	TAILQ_FOREACH(t, &lv->types, link) {
		mdns_browse_free(t->sb);
		t->sb = NULL;
		t->ready = 0;
	}
	lv->running = 0;
	notify(lv, NULL, NULL);
}

static void
mdns_cb(struct mdns *m, enum mdns_state st, const char *why, void *arg)
{
	struct lanview *lv = arg;
	struct lvtype *t;

	switch (st) {
	case MDNS_BUSY:
	case MDNS_RUNNING:
		if (lv->running)
			break;
		lv->running = 1;
		TAILQ_FOREACH(t, &lv->types, link)
			type_start(lv, t);
		break;
	case MDNS_DOWN:
		/* nothing to see */
		if (why != NULL)
			log_debug("local view: %s", why);
		drop_all(lv);
		break;
	}
}

/* --- API ------------------------------------------------------------------ */

struct lanview *
lanview_new(struct ev_loop *loop, lanview_cb cb, void *arg)
{
	struct lanview *lv;

	if ((lv = calloc(1, sizeof(*lv))) == NULL)
		return NULL;
	lv->loop = loop;
	lv->cb = cb;
	lv->arg = arg;
	TAILQ_INIT(&lv->types);
	TAILQ_INIT(&lv->copies);
	if ((lv->settle_t = ev_timer_add(loop, settle_cb, lv)) == NULL ||
	    (lv->mdns = mdns_new(loop, mdns_cb, lv, LV_RECONNECT_MS,
	    LV_RECONNECT_MAX_MS)) == NULL) {
		ev_timer_del(lv->settle_t);
		free(lv);
		return NULL;
	}
	mdns_cb(lv->mdns, mdns_state(lv->mdns), NULL, lv);
	return lv;
}

void
lanview_free(struct lanview *lv)
{
	struct lvtype *t;
	struct lancopy *c;

	if (lv == NULL)
		return;
	lv->cb = NULL;
	while ((c = TAILQ_FIRST(&lv->copies)) != NULL)
		copy_free(lv, c);
	while ((t = TAILQ_FIRST(&lv->types)) != NULL) {
		TAILQ_REMOVE(&lv->types, t, link);
		mdns_browse_free(t->sb);
		free(t->type);
		free(t);
	}
	mdns_free(lv->mdns);
	ev_timer_del(lv->settle_t);
	free(lv);
}

static struct lvtype *
type_find(const struct lanview *lv, const char *type)
{
	struct lvtype *t;

	TAILQ_FOREACH(t, &lv->types, link)
		if (strcasecmp(t->type, type) == 0)
			return t;
	return NULL;
}

void
lanview_want(struct lanview *lv, const char *type)
{
	struct lvtype *t;

	if (lv == NULL || type_find(lv, type) != NULL)
		return;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->type = strdup(type)) == NULL)
		fatalx("out of memory");
	t->lv = lv;
	t->started = ev_now_ms();
	TAILQ_INSERT_TAIL(&lv->types, t, link);
	log_debug("local view: following %s", type);
	type_start(lv, t);
}

int
lanview_ready(const struct lanview *lv, const char *type)
{
	const struct lvtype *t;

	if (lv == NULL || !lv->running)
		return 1;
	if ((t = type_find(lv, type)) == NULL)
		return 0;
	return type_ready(lv, t);
}

const struct lancopy *
lanview_next(const struct lanview *lv, const struct lancopy *prev,
    const char *key)
{
	const struct lancopy *c;

	if (lv == NULL)
		return NULL;
	c = prev == NULL ? TAILQ_FIRST(&lv->copies) : TAILQ_NEXT(prev, entry);
	for (; c != NULL; c = TAILQ_NEXT(c, entry))
		if (c->key != NULL && c->nonlo > 0 && strcmp(c->key, key) == 0)
			return c;
	return NULL;
}

size_t
lanview_count(const struct lanview *lv)
{
	return lv != NULL ? lv->ncopies : 0;
}
