/* Discovery implies reachability. A service is published on this LAN only
 * while the server will connect it: sshd may refuse the forward
 * (PermitOpen, a dead target: "Session open refused by peer"), the
 * subsystem may refuse the relay ("relay no", its policy, a target it does
 * not connect to). The first refusal withdraws the service (listeners
 * closed, goodbye sent) and marks it refused with the server's words;
 * route.c then treats it as no candidate, so another path, if any, takes
 * over.
 *
 * Retry: a probe, that is a connection of our own on the path a client's
 * would take (conn_probe: the same direct forward or relay session, with
 * one end of a socketpair as the "client", closed at once), after
 * REACH_PROBE_MIN_MS, doubling to REACH_PROBE_MAX_MS, +-20 %. Once a probe
 * gets through, the service is a candidate again and is published. A probe
 * costs the target what a client that connects and says nothing costs.
 * Probing rather than re-publishing on a timer: a re-published service
 * would stay on the LAN, broken, until some client happened to try it.
 *
 * The remote remembers what was refused (by name, type, domain) across
 * sessions: after a reconnect such a service is probed first, published
 * only if the probe gets through (a new session may come with a new
 * sshd configuration, or not). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "backoff.h"
#include "event.h"
#include "log.h"
#include "mfwd.h"

unsigned int
reach_backoff_ms(unsigned int probes, uint32_t rnd)
{
	return backoff_ms(probes, REACH_PROBE_MIN_MS, REACH_PROBE_MAX_MS, 20,
	    rnd);
}

uint64_t
reach_retry_in(const struct isvc *e)
{
	uint64_t now = ev_now_ms();

	if (!e->refused || e->probe_t == NULL ||
	    !ev_timer_pending(e->probe_t))
		return 0;
	return e->probe_at > now ? e->probe_at - now : 0;
}

void
reach_skip(const struct isvc *e, char *out, size_t outlen)
{
	uint64_t in = reach_retry_in(e);

	if (in > 0)
		snprintf(out, outlen, "refused by the server: %s; next try in "
		    "%.0f s", e->refused_why, (double)in / 1000);
	else
		snprintf(out, outlen, "refused by the server: %s; trying again "
		    "now", e->refused_why);
}

/* --- memory across sessions ----------------------------------------------- */

static char *
key_of(const struct svc *s)
{
	char *k;

	if (asprintf(&k, "%s\t%s\t%s", s->name, s->type, s->domain) == -1)
		fatalx("out of memory");
	return k;
}

static ssize_t
mem_find(const struct remote *r, const char *k)
{
	size_t i;

	for (i = 0; i < r->nrefused; i++)
		if (strcmp(r->refused[i], k) == 0)
			return (ssize_t)i;
	return -1;
}

static void
mem_set(struct remote *r, const struct svc *s, int refused)
{
	char *k = key_of(s), **n;
	ssize_t i = mem_find(r, k);

	if (refused && i == -1) {
		if (r->nrefused >= 2 * (size_t)r->conf->max_services) {
			free(r->refused[0]);	/* forget the oldest */
			memmove(r->refused, r->refused + 1, (r->nrefused - 1) *
			    sizeof(*r->refused));
			r->nrefused--;
		}
		if ((n = reallocarray(r->refused, r->nrefused + 1,
		    sizeof(*n))) == NULL)
			fatalx("out of memory");
		r->refused = n;
		r->refused[r->nrefused++] = k;
		return;
	}
	if (!refused && i != -1) {
		free(r->refused[i]);
		memmove(r->refused + i, r->refused + i + 1, (r->nrefused -
		    (size_t)i - 1) * sizeof(*r->refused));
		r->nrefused--;
	}
	free(k);
}

void
reach_forget_all(struct remote *r)
{
	while (r->nrefused > 0)
		free(r->refused[--r->nrefused]);
	free(r->refused);
	r->refused = NULL;
}

void
reach_clear(struct isvc *e)
{
	ev_timer_del(e->probe_t);
	e->probe_t = NULL;
	e->refused = 0;
	e->probes = 0;
}

/* The connection's service, if its session still announces it. */
static struct isvc *
find(const struct conn *c)
{
	struct isvc *e;

	TAILQ_FOREACH(e, &c->remote->table.list, entry)
		if (strcmp(e->svc.name, c->name) == 0 &&
		    strcmp(e->svc.type, c->type) == 0 &&
		    strcmp(e->svc.domain, c->domain) == 0)
			return e;
	return NULL;
}

static void	schedule(struct isvc *);

static void
probe_cb(void *arg)
{
	struct isvc *e = arg;
	struct remote *r = e->remote;

	if (r->state != RS_SYNCED && r->state != RS_BROWSING)
		return;		/* the session is going: e with it */
	log_debug("%s: probing \"%s\" (%s)", r->conf->name, e->svc.name,
	    e->svc.type);
	if (conn_probe(r, e) == -1) {
		/* no connection to report back (max-relays): try later */
		e->probes++;
		schedule(e);
	}
}

static void
schedule_in(struct isvc *e, unsigned int ms)
{
	if (e->probe_t == NULL && (e->probe_t = ev_timer_add(
	    e->remote->agent->loop, probe_cb, e)) == NULL)
		fatalx("out of memory");
	e->probe_at = ev_now_ms() + ms;
	ev_timer_set(e->probe_t, ms);
}

static void
schedule(struct isvc *e)
{
	schedule_in(e, reach_backoff_ms(e->probes, arc4random()));
}

void
reach_kick(struct isvc *e)
{
	if (!e->refused)
		return;
	e->probes = 0;
	schedule_in(e, 0);
}

void
reach_recall(struct remote *r, struct isvc *e)
{
	char *k = key_of(&e->svc);

	if (mem_find(r, k) != -1) {
		e->refused = 1;
		e->probes = 0;
		strlcpy(e->refused_why, "refused in an earlier session, "
		    "probing", sizeof(e->refused_why));
		schedule_in(e, 0);
		log_info("%s: \"%s\" (%s) was refused by the server before: "
		    "probing it before publishing it", r->conf->name,
		    e->svc.name, e->svc.type);
	}
	free(k);
}

/* Refresh the "skipped" text route.c keeps (it shows the next try). */
static void
refresh(struct isvc *e)
{
	route_service(e->remote->agent, e, NULL);
}

/* The mux only says "Session open refused by peer"; the master logs
 * sshd's own words ("administratively prohibited", "connect failed:
 * Connection refused") on its stderr just before it answers. Each such
 * line is used once, so that it is not pinned on a later refusal. */
static const char *
ssh_words(struct remote *r, const char *why, char *out, size_t outlen)
{
	const char *line, *p;

	if (strcmp(why, "Session open refused by peer") != 0)
		return why;
	/* written before the reply: it is there */
	sshm_read_stderr(&r->ssh, r->conf->name);
	if (r->ssh.nlines == r->ssh_line_used ||
	    (line = sshm_last_line(&r->ssh)) == NULL ||
	    strncmp(line, "channel ", 8) != 0 ||
	    (p = strstr(line, ": open failed: ")) == NULL)
		return why;
	r->ssh_line_used = r->ssh.nlines;
	snprintf(out, outlen, "%s (ssh: %s)", why, p + 15);
	return out;
}

void
reach_result(struct conn *c, enum reach_result res, const char *why)
{
	struct remote *r = c->remote;
	struct isvc *e;
	char words[sizeof(e->refused_why)];

	if (res == REACH_OK && !c->probe)
		return;		/* the common case: nothing to look up */
	if ((e = find(c)) == NULL)
		return;		/* withdrawn meanwhile */
	/* a probe of a splice waiting to hand its listener to the master */
	if (c->probe && e->splice != NULL && mfwd_probe_result(e->splice, c,
	    res, why))
		return;
	switch (res) {
	case REACH_OK:
		if (!e->refused)
			return;
		log_info("%s: \"%s\" (%s) at %s can be reached again; "
		    "publishing it", r->conf->name, e->svc.name, e->svc.type,
		    c->target);
		reach_clear(e);
		mem_set(r, &e->svc, 0);
		route_service(r->agent, e, NULL);
		return;
	case REACH_REFUSED:
		why = ssh_words(r, why, words, sizeof(words));
		strlcpy(e->refused_why, why, sizeof(e->refused_why));
		mem_set(r, &e->svc, 1);
		if (!e->refused) {
			e->refused = 1;
			e->probes = 0;
			schedule(e);
			log_warnx("%s: the server refuses to connect \"%s\" "
			    "(%s) at %s: %s; withdrawn from this LAN, trying "
			    "again in %.0f s", r->conf->name, e->svc.name,
			    e->svc.type, c->target, why,
			    (double)reach_retry_in(e) / 1000);
		} else if (c->probe) {
			e->probes++;
			schedule(e);
			log_debug("%s: \"%s\" (%s) still refused: %s; next try "
			    "in %.0f s", r->conf->name, e->svc.name,
			    e->svc.type, why, (double)reach_retry_in(e) / 1000);
		}
		refresh(e);
		return;
	case REACH_FAILED:
		if (!c->probe || !e->refused)
			return;
		e->probes++;
		schedule(e);
		log_debug("%s: probe of \"%s\" (%s) failed: %s; next try in "
		    "%.0f s", r->conf->name, e->svc.name, e->svc.type, why,
		    (double)reach_retry_in(e) / 1000);
		refresh(e);
		return;
	}
}
