/* The service table: one entry per instance (name, type, domain), merged
 * over the interfaces and protocols avahi reports it on. Nothing here
 * knows avahi or the session: browse.c feeds observations and resolutions
 * in, session.c takes the difference out through svctable_flush(). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "meta.h"
#include "proto.h"
#include "subsystem.h"

static int
entry_cmp(struct svcentry *a, struct svcentry *b)
{
	int r;

	if ((r = strcmp(a->name, b->name)) != 0)
		return r;
	if ((r = strcmp(a->type, b->type)) != 0)
		return r;
	return strcmp(a->domain, b->domain);
}

/* RB_* from sys/tree.h or compat/tree.h (compat.h); global, not _STATIC:
 * libbsd's tree.h leaves __unused undefined */
RB_PROTOTYPE(subsys_tree, svcentry, node, entry_cmp)
RB_GENERATE(subsys_tree, svcentry, node, entry_cmp)

struct svctable *
svctable_new(const struct policy *pol, svctable_release_fn release,
    void *arg)
{
	struct svctable *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	RB_INIT(&t->tree);
	TAILQ_INIT(&t->dirty);
	TAILQ_INIT(&t->waiting);
	t->pol = pol;
	t->release = release;
	t->release_arg = arg;
	t->next_id = 1;
	t->maxhops = pol->max_hops;
	t->update = 1;
	return t;
}

static void
mark_dirty(struct svctable *t, struct svcentry *e, uint64_t now)
{
	if (e->dirty)
		return;
	e->dirty = 1;
	e->dirty_since = now;
	TAILQ_INSERT_TAIL(&t->dirty, e, dirty_link);
}

static void
unmark_dirty(struct svctable *t, struct svcentry *e)
{
	if (!e->dirty)
		return;
	e->dirty = 0;
	TAILQ_REMOVE(&t->dirty, e, dirty_link);
}

void
svctable_wait(struct svctable *t, struct svcentry *e)
{
	if (e->waiting)
		return;
	e->waiting = 1;
	TAILQ_INSERT_TAIL(&t->waiting, e, wait_link);
	t->nwaiting++;
}

void
svctable_unwait(struct svctable *t, struct svcentry *e)
{
	if (!e->waiting)
		return;
	e->waiting = 0;
	TAILQ_REMOVE(&t->waiting, e, wait_link);
	t->nwaiting--;
}

static void
entry_free(struct svctable *t, struct svcentry *e)
{
	unmark_dirty(t, e);
	svctable_unwait(t, e);
	RB_REMOVE(subsys_tree, &t->tree, e);
	t->nentries--;
	free(e->name);
	free(e->type);
	free(e->domain);
	free(e->obs);
	svc_free(&e->state);
	svc_free(&e->sent);
	free(e);
}

void
svctable_clear_active(struct svctable *t, struct svcentry *e)
{
	e->cookie = NULL;
	if (e->pending) {
		e->pending = 0;
		t->npending--;
	}
}

/* The table drops the observation being resolved: let browse.c free it. */
static void
release_active(struct svctable *t, struct svcentry *e)
{
	if (e->cookie != NULL && t->release != NULL)
		t->release(e, t->release_arg);
	svctable_clear_active(t, e);
}

static void
clear_state(struct svctable *t, struct svcentry *e, uint64_t now)
{
	if (!e->resolved)
		return;
	svc_free(&e->state);
	e->resolved = 0;
	e->toobig = 0;
	mark_dirty(t, e, now);
}

/* After observations went away: an entry without any is gone. It stays
 * (a "zombie") only until its REMOVE is written. */
static struct svcentry *
entry_check(struct svctable *t, struct svcentry *e, uint64_t now)
{
	if (e->nobs > 0)
		return e;
	release_active(t, e);
	clear_state(t, e, now);
	if (e->id == 0) {
		entry_free(t, e);
		return NULL;
	}
	mark_dirty(t, e, now);
	return e;
}

void
svctable_free(struct svctable *t)
{
	struct svcentry *e, *next;

	if (t == NULL)
		return;
	RB_FOREACH_SAFE(e, subsys_tree, &t->tree, next) {
		release_active(t, e);
		entry_free(t, e);
	}
	free(t->peer_id);
	free(t);
}

static void
mark_all_dirty(struct svctable *t, uint64_t now)
{
	struct svcentry *e;

	RB_FOREACH(e, subsys_tree, &t->tree)
		mark_dirty(t, e, now);
}

int
svctable_set_peer(struct svctable *t, const char *peer_id,
    unsigned int maxhops, int update)
{
	char *id = NULL;

	if (peer_id != NULL && (id = strdup(peer_id)) == NULL)
		return -1;
	free(t->peer_id);
	t->peer_id = id;
	t->maxhops = t->pol->max_hops;
	if (maxhops != 0 && maxhops < t->maxhops)
		t->maxhops = maxhops;
	t->update = update;
	mark_all_dirty(t, 0);
	return 0;
}

struct svcentry *
svctable_find(struct svctable *t, const char *name, const char *type,
    const char *domain)
{
	struct svcentry key;

	key.name = (char *)name;
	key.type = (char *)type;
	key.domain = (char *)domain;
	return RB_FIND(subsys_tree, &t->tree, &key);
}

static struct svcobs *
obs_find(const struct svcentry *e, int ifindex, int proto)
{
	size_t i;

	for (i = 0; i < e->nobs; i++)
		if (e->obs[i].ifindex == ifindex && e->obs[i].proto == proto)
			return &e->obs[i];
	return NULL;
}

struct svcentry *
svctable_obs_add(struct svctable *t, const char *name, const char *type,
    const char *domain, int ifindex, int proto, int loopback, uint64_t now)
{
	struct svcentry *e;
	struct svcobs *o;

	if ((e = svctable_find(t, name, type, domain)) != NULL &&
	    (o = obs_find(e, ifindex, proto)) != NULL) {
		if (o->stale) {
			/* reported again after an avahi restart */
			o->stale = 0;
			o->failed = 0;
		}
		return e;
	}
	if ((e == NULL || e->nobs == 0) &&
	    t->nlive >= t->pol->max_services) {
		t->overflow = 1;
		errno = ENOSPC;
		return NULL;
	}
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL)
			return NULL;
		if ((e->name = strdup(name)) == NULL ||
		    (e->type = strdup(type)) == NULL ||
		    (e->domain = strdup(domain)) == NULL) {
			free(e->name);
			free(e->type);
			free(e);
			return NULL;
		}
		RB_INSERT(subsys_tree, &t->tree, e);
		t->nentries++;
	}
	if ((o = reallocarray(e->obs, e->nobs + 1, sizeof(*e->obs))) == NULL) {
		if (e->nobs == 0 && e->id == 0)
			entry_free(t, e);
		return NULL;
	}
	e->obs = o;
	o = &e->obs[e->nobs];
	memset(o, 0, sizeof(*o));
	o->ifindex = ifindex;
	o->proto = proto;
	o->loopback = loopback;
	if (e->nobs++ == 0)
		t->nlive++;
	return e;
}

static void
obs_remove(struct svctable *t, struct svcentry *e, size_t i)
{
	const struct svcobs *o = &e->obs[i];

	if (e->cookie != NULL && e->act_if == o->ifindex &&
	    e->act_proto == o->proto)
		release_active(t, e);
	memmove(&e->obs[i], &e->obs[i + 1],
	    (e->nobs - i - 1) * sizeof(e->obs[0]));
	if (--e->nobs == 0)
		t->nlive--;
}

struct svcentry *
svctable_obs_del(struct svctable *t, struct svcentry *e, int ifindex,
    int proto, uint64_t now)
{
	size_t i;

	for (i = 0; i < e->nobs; i++)
		if (e->obs[i].ifindex == ifindex && e->obs[i].proto == proto) {
			obs_remove(t, e, i);
			break;
		}
	return entry_check(t, e, now);
}

/* The order of PROTOCOL.md section 4: an IPv4 observation on a LAN
 * interface resolves to its IPv4 address, an IPv6 one to an IPv6 address
 * (avahi tells the zone by the interface), loopback comes last. */
static int
obs_rank(const struct svcobs *o)
{
	return (o->loopback ? 2 : 0) + (o->proto == AF_INET6 ? 1 : 0);
}

int
svctable_pick(const struct svcentry *e, int *ifindex, int *proto)
{
	const struct svcobs *best = NULL, *o;
	size_t i;

	for (i = 0; i < e->nobs; i++) {
		o = &e->obs[i];
		if (o->failed || o->stale)
			continue;
		if (best == NULL || obs_rank(o) < obs_rank(best) ||
		    (obs_rank(o) == obs_rank(best) &&
		    o->ifindex < best->ifindex))
			best = o;
	}
	if (best == NULL)
		return 0;
	*ifindex = best->ifindex;
	*proto = best->proto;
	return 1;
}

void
svctable_set_active(struct svctable *t, struct svcentry *e, void *cookie,
    int ifindex, int proto)
{
	e->cookie = cookie;
	e->act_if = ifindex;
	e->act_proto = proto;
	if (!e->pending) {
		e->pending = 1;
		t->npending++;
	}
}

static void
answered(struct svctable *t, struct svcentry *e)
{
	if (e->pending) {
		e->pending = 0;
		t->npending--;
	}
}

/* The active observation failed: with no candidate left, the service is
 * no longer known resolved. Otherwise keep the state until the next
 * candidate answers, so that the peer sees one UPDATE and no flapping. */
static void
active_failed(struct svctable *t, struct svcentry *e, uint64_t now)
{
	struct svcobs *o;
	int ifindex, proto;

	if ((o = obs_find(e, e->act_if, e->act_proto)) != NULL)
		o->failed = 1;
	if (!svctable_pick(e, &ifindex, &proto))
		clear_state(t, e, now);
}

void
svctable_resolved(struct svctable *t, struct svcentry *e,
    const struct svc *st, uint64_t now)
{
	struct svc n;
	char *cause = NULL;

	answered(t, e);
	if (policy_match(t->pol, e->name, e->type, st->addr, NULL) !=
	    POLICY_ALLOW) {
		log_debug("%s.%s: address %s refused by policy", e->name,
		    e->type, st->addr);
		e->denied = 1;
		active_failed(t, e, now);
		return;
	}
	if (policy_relay_target(t->pol, e->name, e->type, st->addr,
	    &cause) == -1) {
		/* a crafted record must not lend this host's loopback to
		 * the agent's LAN, in direct mode either */
		log_debug("%s.%s: %s", e->name, e->type, cause != NULL ?
		    cause : "address refused");
		free(cause);
		e->denied = 1;
		active_failed(t, e, now);
		return;
	}
	memset(&n, 0, sizeof(n));
	n.name = e->name;
	n.type = e->type;
	n.domain = e->domain;
	n.host = st->host;
	n.addr = st->addr;
	n.port = st->port;
	n.txt = st->txt;
	if (e->resolved && svc_equal(&e->state, &n))
		return;
	svc_free(&e->state);
	if (svc_copy(&e->state, &n) == -1)
		fatalx("out of memory");
	e->resolved = 1;
	e->denied = 0;
	e->toobig = 0;
	mark_dirty(t, e, now);
}

void
svctable_failed(struct svctable *t, struct svcentry *e, uint64_t now)
{
	answered(t, e);
	active_failed(t, e, now);
}

static void
drop_entry(struct svctable *t, struct svcentry *e, uint64_t now)
{
	release_active(t, e);
	if (e->nobs > 0)
		t->nlive--;
	e->nobs = 0;
	entry_check(t, e, now);
}

void
svctable_drop_type(struct svctable *t, const char *type, uint64_t now)
{
	struct svcentry *e, *next;

	RB_FOREACH_SAFE(e, subsys_tree, &t->tree, next)
		if (strcmp(e->type, type) == 0)
			drop_entry(t, e, now);
}

void
svctable_drop_all(struct svctable *t, uint64_t now)
{
	struct svcentry *e, *next;

	RB_FOREACH_SAFE(e, subsys_tree, &t->tree, next)
		drop_entry(t, e, now);
}

void
svctable_mark_stale(struct svctable *t)
{
	struct svcentry *e;
	size_t i;

	RB_FOREACH(e, subsys_tree, &t->tree)
		for (i = 0; i < e->nobs; i++)
			e->obs[i].stale = 1;
}

void
svctable_sweep_stale(struct svctable *t, uint64_t now)
{
	struct svcentry *e, *next;
	size_t i;

	RB_FOREACH_SAFE(e, subsys_tree, &t->tree, next) {
		for (i = 0; i < e->nobs; ) {
			if (e->obs[i].stale)
				obs_remove(t, e, i);
			else
				i++;
		}
		entry_check(t, e, now);
	}
}

void
svctable_foreach(struct svctable *t, void (*fn)(struct svcentry *, void *),
    void *arg)
{
	struct svcentry *e, *next;

	RB_FOREACH_SAFE(e, subsys_tree, &t->tree, next)
		fn(e, arg);
}

int
svctable_offered(const struct svctable *t, const struct svcentry *e)
{
	struct splice_meta m;
	const char *cause;
	int r;

	if (!e->resolved || e->nobs == 0 || e->toobig)
		return 0;
	if (policy_match(t->pol, e->name, e->type, e->state.addr, NULL) !=
	    POLICY_ALLOW)
		return 0;
	if ((r = meta_from_txt(&e->state.txt, &m, &cause)) == -1)
		return 0;	/* malformed splice metadata: no loop control */
	if (r == 1 && (meta_hops(&m) >= t->maxhops ||
	    (t->peer_id != NULL && meta_has_site(&m, t->peer_id))))
		return 0;
	return 1;
}

int
svctable_dirty(const struct svctable *t)
{
	return !TAILQ_EMPTY(&t->dirty);
}

/* Write one entry's difference. 0 done, SVC_EMIT_FULL to retry later. */
static int
flush_entry(struct svctable *t, struct svcentry *e, svctable_emit_fn emit,
    void *arg)
{
	int offered = svctable_offered(t, e), r;

	/* REMOVE: gone, hidden, or a change the peer cannot take as UPDATE
	 * (then a new ADD follows, with a new id) */
	if (e->id != 0 && (!offered ||
	    (!t->update && !svc_equal(&e->sent, &e->state)))) {
		if (emit(arg, MSG_REMOVE, e->id, NULL) != 0)
			return SVC_EMIT_FULL;
		e->id = 0;
		svc_free(&e->sent);
	}
	if (!offered)
		return 0;
	if (e->id == 0) {
		if (t->next_id == 0)
			return SVC_EMIT_FULL;	/* 2^32 ids used up */
		r = emit(arg, MSG_ADD, t->next_id, &e->state);
		if (r == SVC_EMIT_FULL)
			return r;
		if (r == SVC_EMIT_TOOBIG) {
			e->toobig = 1;
			return 0;
		}
		e->id = t->next_id++;
	} else if (!svc_equal(&e->sent, &e->state)) {
		r = emit(arg, MSG_UPDATE, e->id, &e->state);
		if (r == SVC_EMIT_FULL)
			return r;
		if (r == SVC_EMIT_TOOBIG) {
			e->toobig = 1;
			return flush_entry(t, e, emit, arg);
		}
	} else
		return 0;
	svc_free(&e->sent);
	if (svc_copy(&e->sent, &e->state) == -1)
		fatalx("out of memory");
	return 0;
}

uint64_t
svctable_flush(struct svctable *t, uint64_t now, int force,
    svctable_emit_fn emit, void *arg, int *left)
{
	struct svcentry *e, *next;
	uint64_t due = 0, when;

	*left = 0;
	for (e = TAILQ_FIRST(&t->dirty); e != NULL; e = next) {
		next = TAILQ_NEXT(e, dirty_link);
		if (!force && e->pending) {
			when = e->dirty_since + SVC_HOLD_MS;
			if (now < when) {
				if (due == 0 || when < due)
					due = when;
				continue;
			}
		}
		if (flush_entry(t, e, emit, arg) == SVC_EMIT_FULL) {
			*left = 1;
			break;
		}
		unmark_dirty(t, e);
		if (e->nobs == 0 && e->id == 0)
			entry_free(t, e);
	}
	return due;
}
