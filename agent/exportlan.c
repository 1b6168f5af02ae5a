/*
 * The exporter's view of this LAN (export.c makes the offers): one
 * browser per exported type, one resolver per instance, with its address,
 * on an mDNS connection of the exporter's own. lanview.c's view is not
 * used: it resolves without addresses and skips this host's services,
 * which are the ones an agent most often exports. An instance is resolved
 * over IPv4 on a LAN interface where it was seen there (ssh connects to
 * the address; a link-local IPv6 one would need its scope); every later
 * change (address, port, TXT) reaches export.c through export_changed().
 * When the responder goes away, every instance goes (and its offers with
 * it); browsers start again once it runs.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent.h"
#include "escape.h"
#include "event.h"
#include "export-int.h"
#include "log.h"
#include "mdns.h"

#define X_RECONNECT_MS		1000	/* no D-Bus: retry, doubling */
#define X_RECONNECT_MAX_MS	10000

static void
svc_unresolve(struct xsvc *s)
{
	mdns_resolve_free(s->res);
	s->res = NULL;
}

static void
xsvc_free(struct exporter *x, struct xsvc *s)
{
	export_svc_gone(x, s);
	TAILQ_REMOVE(&x->svcs, s, entry);
	x->nsvcs--;
	svc_unresolve(s);
	txt_free(&s->txt);
	free(s->name);
	free(s->type);
	free(s->domain);
	free(s);
	export_changed(x);
}

static void
res_cb(struct mdns_resolve *rs, const struct mdns_resolved *r, int code,
    const char *err, void *arg)
{
	struct xsvc *s = arg;
	struct txt t;

	if (r == NULL) {
		log_debug("export: cannot resolve \"%s\" %s: %s", s->name,
		    s->type, err);
		svc_unresolve(s);
		if (s->resolved) {
			s->resolved = 0;
			export_changed(s->x);
		}
		return;
	}
	if (r->addr == NULL || getnameinfo(r->addr, r->addr->sa_family ==
	    AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in), s->addr, sizeof(s->addr), NULL, 0,
	    NI_NUMERICHOST) != 0 || r->port == 0)
		return;
	if (txt_copy(&t, r->txt) == -1)
		fatalx("out of memory");
	txt_free(&s->txt);
	s->txt = t;
	s->port = r->port;
	s->local = s->local || r->local;
	s->resolved = 1;
	log_debug("export: \"%s\" %s at %s port %u", s->name, s->type,
	    s->addr, s->port);
	export_changed(s->x);
}

/* One resolver per instance: IPv4 on a LAN interface if it was seen
 * there (ssh connects to the address; a link-local IPv6 one needs its
 * scope), else what there is. */
static void
svc_resolve(struct xsvc *s)
{
	size_t i, pick = 0;
	int best = -1, score, code;
	char *cause = NULL;

	if (s->res != NULL || s->nobs == 0 || !s->x->running)
		return;
	for (i = 0; i < s->nobs; i++) {
		score = (s->obs[i][1] == AF_INET ? 2 : 0) +
		    (!mdns_if_loopback(s->obs[i][0]) ? 1 : 0);
		if (score > best) {
			best = score;
			pick = i;
		}
	}
	s->res_if = s->obs[pick][0];
	s->res_af = s->obs[pick][1];
	s->res = mdns_resolve_new(s->x->mdns, s->res_if, s->res_af, s->name,
	    s->type, s->domain, 0, res_cb, s, &code, &cause);
	if (s->res == NULL) {
		log_info("export: cannot resolve \"%s\" %s: %s", s->name,
		    s->type, cause);
		free(cause);
	}
}

static struct xsvc *
svc_find(struct exporter *x, const char *name, const char *type,
    const char *domain)
{
	struct xsvc *s;

	TAILQ_FOREACH(s, &x->svcs, entry)
		if (strcmp(s->name, name) == 0 &&
		    strcasecmp(s->type, type) == 0 &&
		    strcasecmp(s->domain, domain) == 0)
			return s;
	return NULL;
}

static void
sb_cb(struct mdns_browse *b, enum mdns_event event,
    const struct mdns_found *f, int code, const char *err, void *arg)
{
	struct xtype *t = arg;
	struct exporter *x = t->x;
	struct xsvc *s;
	size_t i;

	switch (event) {
	case MDNS_ADD:
		if (f->name == NULL || *f->name == '\0' ||
		    strlen(f->name) > DNSSD_MAXNAME ||
		    !utf8_valid(f->name, strlen(f->name)))
			return;
		if ((s = svc_find(x, f->name, t->type, f->domain)) == NULL) {
			if (x->nsvcs >= AGENT_MAX_SERVICES_LIMIT)
				return;
			s = xcalloc(1, sizeof(*s));
			s->x = x;
			s->name = xstrdup(f->name);
			s->type = xstrdup(t->type);
			s->domain = xstrdup(f->domain);
			TAILQ_INSERT_TAIL(&x->svcs, s, entry);
			x->nsvcs++;
		}
		for (i = 0; i < s->nobs; i++)
			if (s->obs[i][0] == f->ifindex &&
			    s->obs[i][1] == f->af)
				break;
		if (i == s->nobs && s->nobs < X_MAXOBS) {
			s->obs[s->nobs][0] = f->ifindex;
			s->obs[s->nobs++][1] = f->af;
			/* a better place to resolve it may have come */
			if (s->res != NULL && f->af == AF_INET &&
			    s->res_af != AF_INET)
				svc_unresolve(s);
		}
		s->local = s->local || f->local;
		svc_resolve(s);
		break;
	case MDNS_REMOVE:
		if ((s = svc_find(x, f->name, t->type, f->domain)) == NULL)
			return;
		for (i = 0; i < s->nobs; i++)
			if (s->obs[i][0] == f->ifindex &&
			    s->obs[i][1] == f->af)
				break;
		if (i == s->nobs)
			return;
		s->obs[i][0] = s->obs[s->nobs - 1][0];
		s->obs[i][1] = s->obs[s->nobs - 1][1];
		s->nobs--;
		if (s->nobs == 0) {
			xsvc_free(x, s);
			return;
		}
		if (s->res != NULL && s->res_if == f->ifindex &&
		    s->res_af == f->af) {
			svc_unresolve(s);
			svc_resolve(s);
		}
		break;
	case MDNS_FAILED:
		log_warnx("export: browsing %s: %s", t->type, err);
		break;
	case MDNS_CACHED:
	case MDNS_SETTLED:
		break;
	}
}

static struct xtype *
xtype_new(struct exporter *x, const char *type)
{
	struct xtype *t;

	t = xcalloc(1, sizeof(*t));
	t->x = x;
	t->type = xstrdup(type);
	return t;
}

static void
type_start(struct exporter *x, struct xtype *t)
{
	char *cause = NULL;
	int code;

	if (!x->running || t->sb != NULL)
		return;
	if ((t->sb = mdns_browse_new(x->mdns, t->type, sb_cb, t, &code,
	    &cause)) == NULL) {
		log_warnx("export: cannot browse %s: %s", t->type, cause);
		free(cause);
	}
}

static void
mdns_cb(struct mdns *m, enum mdns_state st, const char *why, void *arg)
{
	struct exporter *x = arg;
	struct xtype *t;

	switch (st) {
	case MDNS_BUSY:
	case MDNS_RUNNING:
		if (x->running)
			break;
		x->running = 1;
		TAILQ_FOREACH(t, &x->types, entry)
			type_start(x, t);
		break;
	case MDNS_DOWN:
		if (why != NULL)
			log_debug("export: %s", why);
		while (!TAILQ_EMPTY(&x->svcs))
			xsvc_free(x, TAILQ_FIRST(&x->svcs));
		TAILQ_FOREACH(t, &x->types, entry) {
			mdns_browse_free(t->sb);
			t->sb = NULL;
		}
		x->running = 0;
		break;
	}
}

int
exlan_start(struct exporter *x)
{
	if ((x->mdns = mdns_new(x->a->loop, mdns_cb, x, X_RECONNECT_MS,
	    X_RECONNECT_MAX_MS)) == NULL)
		return -1;
	mdns_cb(x->mdns, mdns_state(x->mdns), NULL, x);
	return 0;
}

void
exlan_free(struct exporter *x)
{
	struct xtype *t;

	while (!TAILQ_EMPTY(&x->svcs))
		xsvc_free(x, TAILQ_FIRST(&x->svcs));
	while ((t = TAILQ_FIRST(&x->types)) != NULL) {
		TAILQ_REMOVE(&x->types, t, entry);
		mdns_browse_free(t->sb);
		free(t->type);
		free(t);
	}
	mdns_free(x->mdns);
	x->mdns = NULL;
}

void
exlan_want(struct exporter *x, const char *type)
{
	struct xtype *t;

	TAILQ_FOREACH(t, &x->types, entry)
		if (strcasecmp(t->type, type) == 0)
			return;
	t = xtype_new(x, type);
	TAILQ_INSERT_TAIL(&x->types, t, entry);
	log_debug("export: following %s", t->type);
	type_start(x, t);
}
