/* Multi-stage splicing: which copy of an origin service this LAN gets.
 *
 * An origin service is (origin site, name at the origin, type, domain),
 * read from the splice metadata (PROTOCOL.md section 7). The same origin
 * service may reach this agent through several remotes, and may already
 * be on this LAN, published by another agent there. Exactly one copy
 * should be on the LAN: the one with the fewest hops. (Our remotes with
 * different scopes -- the LAN, one interface, this host -- publish to
 * different audiences: each scope is an origin of its own here, and only
 * remotes of the same scope compete; copies of other agents compete with
 * all, being visible from this host.)
 *
 * Every service of every remote that import_decide() accepts (no loop,
 * within the hop limit) is a candidate of its origin; the local view
 * (lanview.c) adds the copies other agents publish on this LAN. Ranking
 * (route_cmp): fewer hops; then the path, site id by site id; then the
 * copy that is already published; then the instance name (unique on a
 * LAN); then a copy of another agent before ours; then configuration
 * order. Every agent of a LAN ranks alike, so when two of them can offer
 * the same origin service, one publishes and the other holds back. If the
 * best copy is ours we splice it, and only it; if it is another agent's,
 * we splice none.
 *
 * Changes only mark an origin dirty; a zero timer ranks the dirty ones
 * from the loop: a snapshot of a thousand services costs one pass, and no
 * avahi call happens inside another avahi callback.
 *
 * Hold-down. When the copy we publish is withdrawn upstream (a REMOVE,
 * not a lost session) and we publish nothing else for that origin, the
 * next best waits ROUTE_HOLD_MS: a service that is gone at its origin is
 * withdrawn along every path, the shortest first and each longer one
 * about a second later (avahi's goodbye), and without the wait we would
 * publish a ghost through a path that is about to be withdrawn too. When
 * a copy of another agent of this LAN goes away, we wait
 * ROUTE_LAN_HOLD_MS: that agent may be switching paths, and needs its own
 * hold-down and a second of probing to show its new copy. A lost session
 * withdraws at once and switches at once: the other paths do not depend
 * on it. A better path never waits. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "event.h"
#include "log.h"
#include "publish.h"

struct origin {
	RB_ENTRY(origin)	 node;
	char			*key;		/* route_key() */
	char			*scope;		/* where ours would go */
	char			*type;
	TAILQ_HEAD(, isvc)	 cands;		/* eligible services, any remote */
	size_t			 ncands;
	uint64_t		 hold_until;	/* ms; 0: none */
	const struct remote	*last;		/* whose copy we published last */
	int			 dirty;
	TAILQ_ENTRY(origin)	 dlink;
};

RB_HEAD(origin_tree, origin);

static int
origin_cmp(const struct origin *a, const struct origin *b)
{
	int c;

	if ((c = strcmp(a->key, b->key)) != 0)
		return c;
	return strcmp(a->scope, b->scope);
}

/* RB_* from sys/tree.h or compat/tree.h (compat.h); global, not _STATIC:
 * libbsd's tree.h leaves __unused undefined */
RB_PROTOTYPE(origin_tree, origin, node, origin_cmp)
RB_GENERATE(origin_tree, origin, node, origin_cmp)

struct routes {
	struct agent		*agent;
	struct origin_tree	 tree;
	TAILQ_HEAD(, origin)	 dirty;
	struct ev_timer		*run_t;
	struct ev_timer		*hold_t;
	uint64_t		 hold_next;	/* when hold_t fires; 0: idle */
	struct route_stats	 st;
	char			**told;		/* _udp types logged once */
	size_t			 ntold;
};

/* --- ranking (pure) ------------------------------------------------------- */

int
route_cmp(const struct route_cand *a, const struct route_cand *b)
{
	size_t ha = meta_hops(a->meta), hb = meta_hops(b->meta), i;
	int c;

	if (ha != hb)
		return ha < hb ? -1 : 1;
	for (i = 0; i < a->meta->npath && i < b->meta->npath; i++)
		if ((c = strcmp(a->meta->path[i], b->meta->path[i])) != 0)
			return c < 0 ? -1 : 1;
	if (a->published != b->published)
		return a->published ? -1 : 1;
	if ((c = strcmp(a->name, b->name)) != 0)
		return c < 0 ? -1 : 1;
	if (a->lan != b->lan)
		return a->lan ? -1 : 1;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	return 0;
}

static int
cand_qcmp(const void *a, const void *b)
{
	return route_cmp(a, b);
}

void
route_sort(struct route_cand *c, size_t n)
{
	if (n > 1)
		qsort(c, n, sizeof(*c), cand_qcmp);
}

enum route_verdict
route_decide(struct route_cand *c, size_t n, int view_ready, int held)
{
	size_t i;
	int published = 0;

	if (n == 0)
		return ROUTE_LAN;	/* nothing of ours: publish nothing */
	route_sort(c, n);
	if (c[0].lan)
		return ROUTE_LAN;
	for (i = 0; i < n; i++)
		if (!c[i].lan && c[i].published)
			published = 1;
	/* a copy of ours is up: switching to a better one never waits */
	if (published)
		return ROUTE_OURS;
	if (!view_ready)
		return ROUTE_WAIT_VIEW;
	if (held)
		return ROUTE_WAIT_HOLD;
	return ROUTE_OURS;
}

char *
route_key(const char *site, const char *name, const char *type,
    const char *domain)
{
	char *k, *p;
	size_t off;

	if (asprintf(&k, "%s\t%s\t%s\t%s", site, name, type, domain) == -1)
		return NULL;
	/* DNS is case-insensitive in ASCII; instance names are compared
	 * as they are (they are the user's text) */
	off = strlen(site) + 1 + strlen(name) + 1;
	for (p = k + off; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

char *
route_meta_key(const struct splice_meta *m, const char *name,
    const char *type, const char *domain)
{
	return route_key(m->origin, m->name[0] != '\0' ? m->name : name, type,
	    domain);
}

int
route_lan_usable(const struct splice_meta *m, int local, const char *self)
{
	size_t i;

	if (m->npath == 0)
		return 0;
	for (i = 0; i + 1 < m->npath; i++)
		if (strcmp(m->path[i], self) == 0)
			return 0;	/* crossed this site before: a loop */
	if (local && strcmp(m->path[m->npath - 1], self) == 0)
		return 0;		/* our own */
	return 1;
}

/* --- origins -------------------------------------------------------------- */

/* Our copies compete where they would be published: two remotes of
 * ours with different scopes (this host only, one interface, the LAN)
 * serve different audiences, and each gets its copy. */
static void
scope_tag(const struct remote_conf *rc, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", conf_scope_name(rc->scope),
	    rc->scope == SCOPE_IFACE ? " " : "",
	    rc->scope == SCOPE_IFACE ? rc->ifname : "");
}

static struct origin *
origin_get(struct routes *rt, const char *key, const char *scope,
    const char *type)
{
	struct origin find, *o;

	find.key = (char *)key;
	find.scope = (char *)scope;
	if ((o = RB_FIND(origin_tree, &rt->tree, &find)) != NULL)
		return o;
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (o->key = strdup(key)) == NULL ||
	    (o->scope = strdup(scope)) == NULL ||
	    (o->type = strdup(type)) == NULL)
		fatalx("out of memory");
	TAILQ_INIT(&o->cands);
	RB_INSERT(origin_tree, &rt->tree, o);
	rt->st.origins++;
	return o;
}

/* The first origin of key, whatever its scope (the next ones follow). */
static struct origin *
origin_first(struct routes *rt, const char *key)
{
	struct origin find, *o;

	find.key = (char *)key;
	find.scope = (char *)"";
	o = RB_NFIND(origin_tree, &rt->tree, &find);
	return o != NULL && strcmp(o->key, key) == 0 ? o : NULL;
}

static void
mark_dirty(struct routes *rt, struct origin *o)
{
	if (!o->dirty) {
		o->dirty = 1;
		TAILQ_INSERT_TAIL(&rt->dirty, o, dlink);
	}
	if (!ev_timer_pending(rt->run_t))
		ev_timer_set(rt->run_t, 0);
}

static void
origin_maybe_free(struct routes *rt, struct origin *o)
{
	if (o->ncands > 0 || o->dirty || o->hold_until != 0)
		return;
	RB_REMOVE(origin_tree, &rt->tree, o);
	rt->st.origins--;
	free(o->key);
	free(o->scope);
	free(o->type);
	free(o);
}

static void	arm_hold(struct routes *, uint64_t);

static void
hold(struct routes *rt, struct origin *o, unsigned int ms)
{
	uint64_t until = ev_now_ms() + ms;

	if (o->hold_until < until)
		o->hold_until = until;
	arm_hold(rt, o->hold_until);	/* it also frees the origin, if idle */
}

/* Wake up when the earliest hold ends. */
static void
arm_hold(struct routes *rt, uint64_t until)
{
	uint64_t now = ev_now_ms();

	if (rt->hold_next != 0 && rt->hold_next <= until &&
	    ev_timer_pending(rt->hold_t))
		return;
	rt->hold_next = until;
	ev_timer_set(rt->hold_t, until > now ? until - now : 0);
}

static void
hold_cb(void *arg)
{
	struct routes *rt = arg;
	struct origin *o;
	uint64_t now = ev_now_ms(), next = 0;

	rt->hold_next = 0;
	RB_FOREACH(o, origin_tree, &rt->tree) {
		if (o->hold_until == 0)
			continue;
		if (o->hold_until <= now) {
			o->hold_until = 0;
			mark_dirty(rt, o);
		} else if (next == 0 || o->hold_until < next)
			next = o->hold_until;
	}
	if (next != 0)
		arm_hold(rt, next);
}

static void
detach(struct routes *rt, struct isvc *e)
{
	struct origin *o = e->origin;

	if (o == NULL)
		return;
	TAILQ_REMOVE(&o->cands, e, olink);
	o->ncands--;
	e->origin = NULL;
	mark_dirty(rt, o);
}

/* --- choosing ------------------------------------------------------------- */

static void
set_skip(struct isvc *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_skip(struct isvc *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->skip, sizeof(e->skip), fmt, ap);
	va_end(ap);
}

static void
path_str(const struct splice_meta *m, char *out, size_t outlen)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < m->npath; i++) {
		if (i > 0)
			strlcat(out, ",", outlen);
		strlcat(out, m->path[i], outlen);
	}
}

static void
withdraw(struct routes *rt, struct isvc *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
withdraw(struct routes *rt, struct isvc *e, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (e->splice == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_info("%s: withdrawing \"%s\" (%s): %s", e->remote->conf->name,
	    splice_pub_name(e->splice), e->svc.type, why);
	splice_withdraw(e);
	rt->st.withdrawn++;
}

static void
select_origin(struct routes *rt, struct origin *o)
{
	struct agent *a = rt->agent;
	struct route_cand *c;
	const struct lancopy *lc;
	struct isvc *e, *spliced = NULL, *chosen = NULL;
	size_t n = 0, max, i;
	char path[META_MAXPATH * (SITEID_MAX + 1) + 1];
	uint64_t now = ev_now_ms();

	rt->st.runs++;
	if (o->ncands == 0 || a->quitting)
		return;
	max = o->ncands;
	for (lc = lanview_next(a->lan, NULL, o->key); lc != NULL;
	    lc = lanview_next(a->lan, lc, o->key))
		max++;
	if ((c = reallocarray(NULL, max, sizeof(*c))) == NULL)
		fatalx("out of memory");
	TAILQ_FOREACH(e, &o->cands, olink) {
		if (e->splice != NULL)
			spliced = e;
		c[n].meta = &e->meta;
		c[n].name = e->splice != NULL ? splice_pub_name(e->splice) :
		    e->want;
		c[n].published = e->splice != NULL;
		c[n].lan = 0;
		c[n].order = e->remote->index;
		c[n++].arg = e;
	}
	for (lc = lanview_next(a->lan, NULL, o->key); lc != NULL && n < max;
	    lc = lanview_next(a->lan, lc, o->key)) {
		if (!route_lan_usable(&lc->meta, lc->local, a->siteid))
			continue;
		c[n].meta = &lc->meta;
		c[n].name = lc->name;
		c[n].published = 1;
		c[n].lan = 1;
		c[n].order = 0;
		c[n++].arg = (void *)lc;
	}

	switch (route_decide(c, n, lanview_ready(a->lan, o->type),
	    o->hold_until > now)) {
	case ROUTE_OURS:
		break;
	case ROUTE_LAN:
		/* another agent of this LAN publishes a copy as good */
		lc = c[0].arg;
		path_str(&lc->meta, path, sizeof(path));
		for (i = 0; i < n; i++) {
			if (c[i].lan)
				continue;
			e = c[i].arg;
			withdraw(rt, e, "\"%s\" is on this LAN already (%zu "
			    "hops, path %s)", lc->name, meta_hops(&lc->meta),
			    path);
			set_skip(e, "on this LAN already as \"%s\" (%zu hop%s, "
			    "path %s)", lc->name, meta_hops(&lc->meta),
			    meta_hops(&lc->meta) == 1 ? "" : "s", path);
		}
		goto out;
	case ROUTE_WAIT_VIEW:
		/* lanview calls back when it is */
		TAILQ_FOREACH(e, &o->cands, olink)
			set_skip(e, "waiting for the local view of %s",
			    o->type);
		goto out;
	case ROUTE_WAIT_HOLD:
		rt->st.held++;
		TAILQ_FOREACH(e, &o->cands, olink)
			set_skip(e, "hold-down: a copy was withdrawn, "
			    "waiting %llu ms more", (unsigned long long)
			    (o->hold_until - now));
		arm_hold(rt, o->hold_until);
		goto out;
	}
	/* ours is best: c[0]; if it cannot be spliced, the next of ours */
	for (i = 0; i < n; i++) {
		if (c[i].lan)
			continue;	/* worse: its agent withdraws it */
		e = c[i].arg;
		if (chosen == NULL) {
			if (e->splice != NULL) {
				chosen = e;
				continue;
			}
			if (spliced != NULL && spliced->splice != NULL) {
				/* a better path: the old copy goes first */
				splice_withdraw(spliced);
				rt->st.withdrawn++;
			}
			if (splice_import(e) == -1)
				continue;	/* e->skip says why */
			rt->st.published++;
			chosen = e;
			if (o->last != NULL && o->last != e->remote) {
				rt->st.switches++;
				log_info("%s: \"%s\" (%s): switched to this "
				    "path (%zu hops) from %s's",
				    e->remote->conf->name, e->svc.name,
				    e->svc.type, meta_hops(&e->meta),
				    o->last->conf->name);
			}
			o->last = e->remote;
			continue;
		}
		path_str(&chosen->meta, path, sizeof(path));
		withdraw(rt, e, "a better path is used: through %s, %zu hops",
		    chosen->remote->conf->name, meta_hops(&chosen->meta));
		set_skip(e, "%s path through %s is used (%zu hop%s, path %s)",
		    meta_hops(&chosen->meta) < meta_hops(&e->meta) ?
		    "a shorter" : "an equally short", chosen->remote->conf->name,
		    meta_hops(&chosen->meta), meta_hops(&chosen->meta) == 1 ?
		    "" : "s", path);
	}
 out:
	free(c);
}

static void
run_cb(void *arg)
{
	struct routes *rt = arg;
	struct origin *o;

	while ((o = TAILQ_FIRST(&rt->dirty)) != NULL) {
		TAILQ_REMOVE(&rt->dirty, o, dlink);
		o->dirty = 0;
		select_origin(rt, o);
		origin_maybe_free(rt, o);
	}
}

void
route_flush(struct agent *a)
{
	if (a->routes != NULL)
		run_cb(a->routes);
}

/* --- events --------------------------------------------------------------- */

static int
same_instance(const struct svc *a, const struct svc *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->type, b->type) == 0 &&
	    strcmp(a->domain, b->domain) == 0;
}

/* Log once per type (and agent) that a type cannot be carried. */
static void
tell_type(struct routes *rt, const struct remote *r, const char *type)
{
	char **n;
	size_t i;

	for (i = 0; i < rt->ntold; i++)
		if (strcasecmp(rt->told[i], type) == 0)
			return;
	log_warnx("%s: not importing %s services: %s", r->conf->name, type,
	    IMPORT_UDP_WHY);
	if (rt->ntold >= 256 || (n = reallocarray(rt->told, rt->ntold + 1,
	    sizeof(*n))) == NULL)
		return;
	rt->told = n;
	if ((rt->told[rt->ntold] = strdup(type)) != NULL)
		rt->ntold++;
}

/* Services that are not candidates whatever their metadata says: types
 * that cannot be carried, services the server refused to connect to
 * (reach.c). 1 if e was set aside. */
static int
set_aside(struct routes *rt, struct isvc *e)
{
	if (!import_type_carried(e->svc.type)) {
		tell_type(rt, e->remote, e->svc.type);
		strlcpy(e->skip, IMPORT_UDP_WHY, sizeof(e->skip));
	} else if (e->refused)
		reach_skip(e, e->skip, sizeof(e->skip));
	else
		return 0;
	withdraw(rt, e, "%s", e->skip);
	detach(rt, e);
	e->eligible = 0;
	return 1;
}

void
route_service(struct agent *a, struct isvc *e, const struct svc *old)
{
	struct routes *rt = a->routes;
	struct remote *r = e->remote;
	struct splice_meta meta;
	struct origin *o;
	char why[sizeof(e->skip)], *key, scope[IF_NAMESIZE + 16];
	const char *oname;
	int loop;

	if (set_aside(rt, e))
		return;
	if (!import_decide(&e->svc.txt, a->siteid, r->peer_id, r->maxhops,
	    &meta, why, sizeof(why))) {
		loop = strncmp(why, "loop", 4) == 0;
		if (e->splice != NULL) {
			withdraw(rt, e, "%s", why);
			if (e->origin != NULL)
				hold(rt, e->origin, ROUTE_HOLD_MS);
		} else if (loop)	/* normal in a mesh */
			log_debug("%s: not importing \"%s\" (%s): %s",
			    r->conf->name, e->svc.name, e->svc.type, why);
		else
			log_info("%s: not importing \"%s\" (%s): %s",
			    r->conf->name, e->svc.name, e->svc.type, why);
		detach(rt, e);
		e->eligible = 0;
		strlcpy(e->skip, why, sizeof(e->skip));
		return;
	}
	oname = meta.name[0] != '\0' ? meta.name : e->svc.name;
	if ((key = route_key(meta.origin, oname, e->svc.type,
	    e->svc.domain)) == NULL)
		fatalx("out of memory");
	if (e->origin != NULL && (strcmp(e->origin->key, key) != 0 ||
	    (old != NULL && !same_instance(old, &e->svc)))) {
		withdraw(rt, e, "its origin changed");
		detach(rt, e);
	}
	if (import_name(r->conf->name_template, oname, r->conf->name,
	    e->svc.type, meta_hops(&meta), e->want, sizeof(e->want)) == -1) {
		free(key);
		withdraw(rt, e, "the name template gives no valid name");
		detach(rt, e);
		e->eligible = 0;
		strlcpy(e->skip, "name template gives no valid name",
		    sizeof(e->skip));
		return;
	}
	e->meta = meta;
	e->eligible = 1;
	if (e->origin == NULL) {
		scope_tag(r->conf, scope, sizeof(scope));
		o = origin_get(rt, key, scope, e->svc.type);
		TAILQ_INSERT_TAIL(&o->cands, e, olink);
		o->ncands++;
		e->origin = o;
		e->skip[0] = '\0';
		lanview_want(a->lan, e->svc.type);
	}
	free(key);
	if (e->splice != NULL && old != NULL && !txt_equal(&old->txt,
	    &e->svc.txt) && splice_update(e->splice) == -1) {
		log_warnx("%s: cannot update the TXT record of \"%s\"; "
		    "publishing it again", r->conf->name, e->svc.name);
		splice_withdraw(e);
	}
	mark_dirty(rt, e->origin);
}

void
route_gone(struct agent *a, struct isvc *e, int hold_down)
{
	struct routes *rt = a->routes;

	if (e->splice != NULL) {
		if (hold_down && e->origin != NULL)
			hold(rt, e->origin, ROUTE_HOLD_MS);
		splice_withdraw(e);
		rt->st.withdrawn++;
	}
	detach(rt, e);
	e->eligible = 0;
}

void
route_lan_changed(void *arg, const char *key, const struct lancopy *gone)
{
	struct agent *a = arg;
	struct routes *rt = a->routes;
	struct origin *o;

	if (rt == NULL)
		return;
	if (key == NULL) {
		RB_FOREACH(o, origin_tree, &rt->tree)
			mark_dirty(rt, o);
		return;
	}
	/* nothing of ours competes if there is no such origin */
	for (o = origin_first(rt, key); o != NULL && strcmp(o->key, key) == 0;
	    o = RB_NEXT(origin_tree, &rt->tree, o)) {
		if (gone != NULL && route_lan_usable(&gone->meta,
		    gone->local, a->siteid)) {
			struct isvc *e;
			int ours = 0;

			TAILQ_FOREACH(e, &o->cands, olink)
				if (e->splice != NULL)
					ours = 1;
			if (!ours)
				hold(rt, o, ROUTE_LAN_HOLD_MS);
		}
		mark_dirty(rt, o);
	}
}

void
route_get_stats(const struct routes *rt, struct route_stats *st)
{
	*st = rt->st;
}

struct routes *
routes_new(struct agent *a)
{
	struct routes *rt;

	if ((rt = calloc(1, sizeof(*rt))) == NULL)
		return NULL;
	rt->agent = a;
	RB_INIT(&rt->tree);
	TAILQ_INIT(&rt->dirty);
	if ((rt->run_t = ev_timer_add(a->loop, run_cb, rt)) == NULL ||
	    (rt->hold_t = ev_timer_add(a->loop, hold_cb, rt)) == NULL) {
		ev_timer_del(rt->run_t);
		free(rt);
		return NULL;
	}
	return rt;
}

/* Call after every remote is freed (their services detach themselves). */
void
routes_free(struct routes *rt)
{
	struct origin *o, *next;

	if (rt == NULL)
		return;
	ev_timer_del(rt->run_t);
	ev_timer_del(rt->hold_t);
	while (rt->ntold > 0)
		free(rt->told[--rt->ntold]);
	free(rt->told);
	RB_FOREACH_SAFE(o, origin_tree, &rt->tree, next) {
		RB_REMOVE(origin_tree, &rt->tree, o);
		free(o->key);
		free(o->scope);
		free(o->type);
		free(o);
	}
	free(rt);
}
