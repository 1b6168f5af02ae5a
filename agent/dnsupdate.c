/* Unicast DNS-SD: the services this agent splices, published in a DNS
 * zone with RFC 2136 updates signed with TSIG (ldns builds, signs and
 * parses the messages), beside their mDNS publication.
 *
 * For each zone (one per distinct dns-update block) the agent owns one
 * host name, rns-SITE-HASH.ZONE (HASH of the block's addresses), with
 * the A/AAAA records of `address`. Per service:
 *
 *	_type._tcp.ZONE			PTR	INSTANCE._type._tcp.ZONE
 *	INSTANCE._type._tcp.ZONE	SRV	0 0 PORT rns-....ZONE
 *	INSTANCE._type._tcp.ZONE	TXT	the origin's items, rnsplice=...
 *	_services._dns-sd._udp.ZONE	PTR	_type._tcp.ZONE
 *	_rnsplice.rns-....ZONE		PTR	INSTANCE._type._tcp.ZONE
 *
 * and, once, b._dns-sd._udp.ZONE and lb._dns-sd._udp.ZONE PTR ZONE (the
 * zone advertises itself as a browse domain; these are never removed).
 * The _rnsplice PTR set is the agent's own index: every update changes it
 * with the records it lists, atomically, so after a crash the first
 * thing the agent does is read it and delete what it lists.
 *
 * Changes are batched (DNSUP_BATCH_MS), at most one update is in flight
 * per zone and one follows another after DNSUP_GAP_MS at the earliest; a
 * failed one (server down, timeout, REFUSED, NOTAUTH, BADKEY...) is tried
 * again whole with backoff, and rnsplice status says why. An update is
 * all or nothing (RFC 2136 3.7), so trying it again is always right.
 * Messages go over TCP: a batch may exceed what UDP carries. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "dnsupdate.h"
#include "dnsupdate-int.h"
#include "event.h"
#include "json.h"
#include "log.h"

static int
same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

void
dnsup_plan(const struct remote_conf *rc, struct exp_plan *pl)
{
	const struct dnsup_conf *dc = rc->dnsupdate;
	size_t i, k;

	if (dc == NULL)
		return;
	for (i = 0; i < dc->naddr; i++) {
		for (k = 0; k < pl->nbind; k++)
			if (same_ip(&pl->bind[k], &dc->addr[i]))
				break;
		if (k < pl->nbind ||
		    !dnsup_addr_own(&dc->addr[i], dc->addrlen[i]))
			continue;
		if (pl->nbind == AGENT_LISTEN_MAX) {
			pl->truncated = 1;
			return;
		}
		memcpy(&pl->bind[pl->nbind], &dc->addr[i], dc->addrlen[i]);
		pl->bindlen[pl->nbind++] = dc->addrlen[i];
	}
}

/* Clients of the zone reach us on `address`: as for LAN scope without an
 * allow-list, those on the network of its interface may connect. */
int
dnsup_peer_ok(const struct exposure *x, const struct remote_conf *rc,
    const struct sockaddr *sa)
{
	const struct dnsup_conf *dc = rc->dnsupdate;
	size_t i, k;

	if (dc == NULL || x == NULL)
		return 0;
	for (k = 0; k < x->naddrs; k++)
		for (i = 0; i < dc->naddr; i++)
			if (same_ip(&x->addrs[k].sa, &dc->addr[i]) &&
			    prefix_match(&x->addrs[k].net, sa))
				return 1;
	return 0;
}

#ifdef HAVE_LDNS

/* The zones of the configuration are known from the start, so that what
 * an earlier run left behind goes before anything is spliced. */
struct dnsup *
dnsup_new(struct agent *a)
{
	struct remote_conf *rc;
	struct dnsup *d;
	struct dzone *z;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->agent = a;
	TAILQ_INIT(&d->zones);
	TAILQ_FOREACH(rc, &a->conf->remotes, entry)
		if (rc->dnsupdate != NULL) {
			if ((z = dnszone_get(d, rc->dnsupdate)) == NULL) {
				dnsup_free(d);
				return NULL;
			}
			ev_timer_set(z->timer, 0);
		}
	return d;
}

void
dnsup_free(struct dnsup *d)
{
	struct dzone *z;

	if (d == NULL)
		return;
	while ((z = TAILQ_FIRST(&d->zones)) != NULL) {
		TAILQ_REMOVE(&d->zones, z, entry);
		dnszone_free(z);
	}
	free(d);
}

/* --- the agent's side -------------------------------------------------- */

static struct dsvc *
find_svc(const struct dnsup *d, const struct splice *sp)
{
	struct dzone *z;
	struct dsvc *s;

	TAILQ_FOREACH(z, &d->zones, entry)
		TAILQ_FOREACH(s, &z->svcs, entry)
			if (s->sp == sp)
				return s;
	return NULL;
}


void
dnsup_publish(struct dnsup *d, struct splice *sp)
{
	const struct remote_conf *rc = sp->remote->conf;
	const struct isvc *e = sp->isvc;
	struct dzone *z;
	struct dsvc *s, *o;
	struct txt t;
	int fresh = 0;

	if (d == NULL || rc->dnsupdate == NULL)
		return;
	if ((s = find_svc(d, sp)) == NULL) {
		if ((z = dnszone_get(d, rc->dnsupdate)) == NULL ||
		    (s = calloc(1, sizeof(*s))) == NULL) {
			log_warnx("%s: \"%s\": out of memory for dns-update",
			    rc->name, sp->name);
			return;
		}
		s->z = z;
		s->sp = sp;
		strlcpy(s->name, sp->name, sizeof(s->name));
		strlcpy(s->type, e->svc.type, sizeof(s->type));
		s->state = DS_REFUSED;
		TAILQ_INSERT_TAIL(&z->svcs, s, entry);
		fresh = 1;
	}
	z = s->z;
	if (txt_copy(&t, &sp->txt) == -1) {
		log_warnx("%s: \"%s\": out of memory for dns-update",
		    rc->name, sp->name);
		return;
	}
	txt_free(&s->txt);
	s->txt = t;
	s->port = sp->port;
	if (dnsup_check_limits(z->conf->zone, s->name, s->type,
	    dnsrec_txt_wire(&s->txt), s->why, sizeof(s->why)) == -1)
		goto refuse;
	TAILQ_FOREACH(o, &z->svcs, entry)
		if (o != s && o->state == DS_ADD &&
		    strcasecmp(o->name, s->name) == 0 &&
		    strcasecmp(o->type, s->type) == 0) {
			snprintf(s->why, sizeof(s->why), "the name is "
			    "published in %s for %s already", z->conf->zone,
			    o->sp != NULL ? o->sp->remote->conf->name :
			    "another remote");
			goto refuse;
		}
	s->why[0] = '\0';
	s->state = DS_ADD;
	s->gen++;
	dnszone_kick(z);
	return;
 refuse:
	if (fresh || s->state != DS_REFUSED)
		log_warnx("%s: \"%s\" (%s) is not published in %s: %s",
		    rc->name, s->name, s->type, z->conf->zone, s->why);
	if (s->indns) {
		/* its old records go */
		s->state = DS_DEL;
		s->gen++;
		dnszone_kick(z);
		s->state = DS_REFUSED;
	} else
		s->state = DS_REFUSED;
}

void
dnsup_withdraw(struct dnsup *d, struct splice *sp)
{
	struct dsvc *s;

	if (d == NULL || (s = find_svc(d, sp)) == NULL)
		return;
	s->sp = NULL;
	if (!s->indns && !s->inflight) {
		dnszone_svc_free(s);
		return;
	}
	s->state = DS_DEL;
	s->gen++;
	dnszone_kick(s->z);
}

void
dnsup_quit(struct dnsup *d)
{
	struct dzone *z;

	if (d == NULL)
		return;
	TAILQ_FOREACH(z, &d->zones, entry) {
		z->quitting = 1;
		/* no backoff now: one more try before the agent goes */
		if (z->tx == TX_NONE && z->swept && dnszone_pending(z)) {
			z->attempts = 0;
			ev_timer_set(z->timer, 0);
		}
	}
}

const char *
dnsup_service_state(const struct dnsup *d, const struct splice *sp)
{
	const struct dsvc *s;

	if (d == NULL || (s = find_svc(d, sp)) == NULL)
		return NULL;
	if (s->state == DS_REFUSED)
		return s->why;
	if (s->indns && s->sent_gen == s->gen && !s->inflight)
		return "published";
	return "pending";
}

void
dnsup_status(const struct dnsup *d, struct buf *b, int json)
{
	const struct dzone *z;
	const struct dsvc *s;
	size_t pub, pend, refused;
	int first = 1;
	char err[sizeof(z->error) * 4];

	if (d == NULL)
		return;
	if (json)
		buf_putf(b, ",\"dns_update\":[");
	TAILQ_FOREACH(z, &d->zones, entry) {
		pub = pend = refused = 0;
		TAILQ_FOREACH(s, &z->svcs, entry) {
			if (s->state == DS_REFUSED)
				refused++;
			else if (s->indns && s->sent_gen == s->gen &&
			    !s->inflight)
				pub++;
			else
				pend++;
		}
		if (json) {
			buf_putf(b, "%s{\"zone\":", first ? "" : ",");
			json_str(b, z->conf->zone);
			buf_putf(b, ",\"server\":");
			json_str(b, z->conf->server);
			buf_putf(b, ",\"port\":%u,\"key\":", z->conf->port);
			json_str(b, z->conf->key.name);
			buf_putf(b, ",\"host\":");
			json_str(b, z->host);
			buf_putf(b, ",\"state\":\"%s\",\"published\":%zu,"
			    "\"pending\":%zu,\"refused\":%zu,\"updates\":%lu,"
			    "\"failures\":%lu,\"error\":", z->error[0] != '\0' ?
			    "retrying" : !z->swept ? "starting" : pend > 0 ?
			    "updating" : "ok", pub, pend, refused, z->updates,
			    z->failures);
			json_str(b, z->error[0] != '\0' ? z->error : NULL);
			buf_putf(b, ",\"retry_in\":%.1f}", z->error[0] !=
			    '\0' && z->retry_at > ev_now_ms() ?
			    (z->retry_at - ev_now_ms()) / 1000.0 : 0.0);
			first = 0;
			continue;
		}
		buf_putf(b, "dns-update %s (server %s port %u, key %s, host "
		    "%s): %zu published, %zu pending, %zu refused, %lu "
		    "updates, %lu failed\n", z->conf->zone, z->conf->server,
		    z->conf->port, z->conf->key.name, z->host, pub, pend,
		    refused, z->updates, z->failures);
		if (z->error[0] != '\0') {
			log_vis(err, sizeof(err), z->error);
			if (z->retry_at > ev_now_ms())
				buf_putf(b, "  error: %s; next try in %.1f s\n",
				    err, (z->retry_at - ev_now_ms()) / 1000.0);
			else
				buf_putf(b, "  error: %s\n", err);
		}
	}
	if (json)
		buf_putf(b, "]");
}

#else	/* !HAVE_LDNS: agentconf.c refuses dns-update, so none of this runs */

struct dnsup *
dnsup_new(struct agent *a)
{
	return NULL;
}

void
dnsup_free(struct dnsup *d)
{
}

void
dnsup_publish(struct dnsup *d, struct splice *sp)
{
}

void
dnsup_withdraw(struct dnsup *d, struct splice *sp)
{
}

int
dnsup_busy(struct dnsup *d)
{
	return 0;
}

void
dnsup_quit(struct dnsup *d)
{
}

const char *
dnsup_service_state(const struct dnsup *d, const struct splice *sp)
{
	return NULL;
}

void
dnsup_status(const struct dnsup *d, struct buf *b, int json)
{
	if (json)
		buf_putf(b, ",\"dns_update\":[]");
}

#endif	/* HAVE_LDNS */
