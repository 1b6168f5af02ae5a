/* Status dumps for the control socket (rnsplice status|services|
 * connections, text or JSON) and SIGUSR1. They only walk the agent's
 * structures. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dnsupdate.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "mfwd.h"
#include "publish.h"

static const char *const whats[] = { "status", "services", "connections" };

static int
valid_what(const char *what)
{
	size_t i;

	for (i = 0; i < sizeof(whats) / sizeof(whats[0]); i++)
		if (strcmp(what, whats[i]) == 0)
			return 1;
	return 0;
}

static double
secs(uint64_t since)
{
	return since == 0 ? 0 : (double)(ev_now_ms() - since) / 1000;
}

static const char *
mode_name(const struct remote *r)
{
	return r->relay_mode ? "subsystem-relay" : "direct";
}

/* Where the relay session limit comes from. */
static const char *
limit_from(const struct remote *r)
{
	unsigned int lim = relay_session_limit(r);

	if (lim == 0)
		return "none";
	return lim == r->conf->max_sessions ? "max-sessions" : "learned";
}

/* --- JSON ------------------------------------------------------------------- */

static void
json_remote(struct buf *b, const struct remote *r)
{
	buf_putf(b, "{\"name\":");
	json_str(b, r->conf->name);
	buf_putf(b, ",\"destination\":");
	json_str(b, r->conf->destination);
	buf_putf(b, ",\"state\":\"%s\",\"since\":%.1f,\"last_error\":",
	    remote_state_name(r->state), secs(r->state_since));
	json_str(b, r->last_error[0] != '\0' ? r->last_error : NULL);
	buf_putf(b, ",\"peer\":");
	json_str(b, r->peer_id[0] != '\0' ? r->peer_id : NULL);
	buf_putf(b, ",\"ssh_pid\":%ld,\"scope\":\"%s\",\"mode\":\"%s\","
	    "\"services\":%zu,\"spliced\":%zu,\"events\":%lu,"
	    "\"maxhops\":%u,\"attempts\":%u,"
	    "\"relays\":{\"live\":%zu,\"total\":%lu,\"refused\":%lu,"
	    "\"failed\":%lu,\"max\":%u}", r->ssh.pid > 0 ? (long)r->ssh.pid :
	    0L, conf_scope_name(r->conf->scope), mode_name(r), r->table.n,
	    r->nimported, r->events, r->maxhops, r->attempts, r->nconns,
	    r->conns_total, r->conns_refused, r->conns_failed,
	    r->conf->max_relays);
	buf_putf(b, ",\"sessions\":{\"in_use\":%zu,\"opening\":%zu,"
	    "\"queued\":%zu,\"limit\":%u,\"limit_from\":\"%s\","
	    "\"refused\":%lu,\"queue_full\":%lu,\"queue_expired\":%lu}",
	    r->nsessions, r->nopening, r->nqueued, relay_session_limit(r),
	    limit_from(r), r->sessions_refused, r->queue_full,
	    r->queue_expired);
	if (r->agent->exp != NULL) {
		buf_putf(b, ",\"exposure\":");
		exp_status(r->agent->exp, r->conf, b, 1);
	}
	export_status(r, b, 1);
	buf_putf(b, "}");
}

static void
json_path(struct buf *b, const struct splice_meta *m)
{
	size_t i;

	buf_putf(b, ",\"origin\":");
	json_str(b, m->origin);
	buf_putf(b, ",\"path\":[");
	for (i = 0; i < m->npath; i++) {
		if (i > 0)
			buf_putf(b, ",");
		json_str(b, m->path[i]);
	}
	buf_putf(b, "],\"hops\":%zu", meta_hops(m));
}

static void
json_service(struct buf *b, const struct remote *r, const struct isvc *e)
{
	const struct splice *sp = e->splice;
	const char *dns;

	buf_putf(b, "{\"remote\":");
	json_str(b, r->conf->name);
	buf_putf(b, ",\"id\":%u,\"name\":", e->id);
	json_str(b, e->svc.name);
	buf_putf(b, ",\"type\":");
	json_str(b, e->svc.type);
	buf_putf(b, ",\"domain\":");
	json_str(b, e->svc.domain);
	buf_putf(b, ",\"target\":");
	json_str(b, e->svc.addr);
	buf_putf(b, ",\"target_port\":%u,\"spliced\":%s,\"candidate\":%s",
	    e->svc.port, sp != NULL ? "true" : "false", e->eligible ? "true" :
	    "false");
	if (e->eligible)
		json_path(b, &e->meta);
	buf_putf(b, ",\"server_refused\":%s", e->refused ? "true" :
	    "false");
	if (e->refused) {
		buf_putf(b, ",\"refused_reason\":");
		json_str(b, e->refused_why);
		buf_putf(b, ",\"retry_in\":%.1f", (double)reach_retry_in(e) /
		    1000);
	}
	if (sp == NULL) {
		buf_putf(b, ",\"skipped\":");
		json_str(b, e->skip);
		buf_putf(b, "}");
		return;
	}
	buf_putf(b, ",\"published\":");
	json_str(b, splice_pub_name(sp));
	buf_putf(b, ",\"publish_state\":\"%s\",\"port\":%u,"
	    "\"accepted\":%lu,\"refused\":%lu", splice_pub_state(sp),
	    sp->port, sp->accepted, sp->refused);
	buf_putf(b, ",\"listener\":");
	json_str(b, mfwd_state_name(sp));
	if (sp->port_note[0] != '\0') {
		buf_putf(b, ",\"port_note\":");
		json_str(b, sp->port_note);
	}
	if ((dns = dnsup_service_state(r->agent->dnsup, sp)) != NULL) {
		buf_putf(b, ",\"dns\":");
		json_str(b, dns);
	}
	buf_putf(b, "}");
}

static void
json_conn(struct buf *b, const struct conn *c)
{
	buf_putf(b, "{\"remote\":");
	json_str(b, c->remote->conf->name);
	buf_putf(b, ",\"id\":%u,\"service\":", c->rid);
	json_str(b, c->name);
	buf_putf(b, ",\"type\":");
	json_str(b, c->type);
	buf_putf(b, ",\"client\":");
	json_str(b, c->client);
	buf_putf(b, ",\"target\":");
	json_str(b, c->target);
	buf_putf(b, ",\"mode\":\"%s\",\"state\":\"%s\",\"age\":%.1f",
	    c->via_subsystem ? "subsystem-relay" : "direct",
	    conn_state_name(c), secs(c->started));
	if (c->via_subsystem)
		buf_putf(b, ",\"bytes_up\":%llu,\"bytes_down\":%llu",
		    c->bytes_up, c->bytes_down);
	buf_putf(b, "}");
}

/* The routing counters, with the service events of every remote. */
static void
route_stats(const struct agent *a, struct route_stats *st)
{
	const struct remote *r;

	memset(st, 0, sizeof(*st));
	if (a->routes != NULL)
		route_get_stats(a->routes, st);
	st->events = 0;
	TAILQ_FOREACH(r, &a->remotes, entry)
		st->events += r->events;
}

int
agent_dump_json(struct agent *a, struct buf *b, const char *what)
{
	const struct remote *r;
	const struct isvc *e;
	const struct conn *c;
	struct route_stats st;
	int first = 1;

	if (!valid_what(what))
		return -1;
	if (strcmp(what, "status") == 0) {
		route_stats(a, &st);
		buf_putf(b, "{\"site\":");
		json_str(b, a->siteid);
		buf_putf(b, ",\"pid\":%ld,\"uptime\":%.1f,\"avahi\":%s,"
		    "\"maxhops\":%u,\"routing\":{\"events\":%lu,"
		    "\"origins\":%zu,\"ranked\":%lu,\"published\":%lu,"
		    "\"withdrawn\":%lu,\"switches\":%lu,\"held\":%lu,"
		    "\"lan_copies\":%zu}", (long)getpid(),
		    secs(a->started), a->pub != NULL &&
		    publisher_running(a->pub) ? "true" : "false",
		    a->conf->max_hops, st.events, st.origins, st.runs,
		    st.published, st.withdrawn, st.switches, st.held,
		    lanview_count(a->lan));
		if (a->pub != NULL)
			buf_putf(b, ",\"publisher_pid\":%ld,"
			    "\"publisher_restarts\":%lu",
			    (long)publisher_pid(a->pub),
			    publisher_restarts(a->pub));
		buf_putf(b, ",\"config\":{\"file\":");
		if (a->opts != NULL && a->opts->file != NULL)
			json_str(b, a->opts->file);
		else
			buf_putf(b, "null");
		buf_putf(b, ",\"reloads\":%lu", a->reloads);
		if (a->reload_error[0] != '\0') {
			buf_putf(b, ",\"reload_error\":");
			json_str(b, a->reload_error);
			buf_putf(b, ",\"reload_failed_ago\":%.1f",
			    secs(a->reload_failed_at));
		}
		buf_putf(b, "}");
		dnsup_status(a->dnsup, b, 1);
		buf_putf(b, ",\"remotes\":[");
		TAILQ_FOREACH(r, &a->remotes, entry) {
			if (!first)
				buf_putf(b, ",");
			first = 0;
			json_remote(b, r);
		}
		return buf_putf(b, "]}\n");
	}
	buf_putf(b, "[");
	TAILQ_FOREACH(r, &a->remotes, entry) {
		if (strcmp(what, "services") == 0) {
			TAILQ_FOREACH(e, &r->table.list, entry) {
				if (!first)
					buf_putf(b, ",");
				first = 0;
				json_service(b, r, e);
			}
			export_services(r, b, 1, &first);
		} else {
			TAILQ_FOREACH(c, &r->conns, entry) {
				if (!first)
					buf_putf(b, ",");
				first = 0;
				json_conn(b, c);
			}
		}
	}
	return buf_putf(b, "]\n");
}

/* --- text ------------------------------------------------------------------- */

static void
text_path(struct buf *b, const struct splice_meta *m)
{
	size_t i;

	buf_putf(b, "path ");
	for (i = 0; i < m->npath; i++)
		buf_putf(b, "%s%s", i > 0 ? "," : "", m->path[i]);
	buf_putf(b, ", %zu hop%s", meta_hops(m), meta_hops(m) == 1 ? "" :
	    "s");
}

int
agent_dump_text(struct agent *a, struct buf *b, const char *what)
{
	const struct remote *r;
	const struct isvc *e;
	const struct conn *c;
	const struct splice *sp;
	struct route_stats st;
	char vname[1024], vpub[1024], vskip[4 * sizeof(e->skip)];
	char skip[sizeof(e->skip)];
	const char *dns;

	if (!valid_what(what))
		return -1;
	if (strcmp(what, "status") == 0) {
		route_stats(a, &st);
		buf_putf(b, "site %s, pid %ld, up %.0f s, avahi %s, max-hops "
		    "%u\n", a->siteid, (long)getpid(), secs(a->started),
		    a->pub != NULL && publisher_running(a->pub) ? "running" :
		    "not running", a->conf->max_hops);
		if (a->pub != NULL && publisher_pid(a->pub) > 0)
			buf_putf(b, "publisher: process %ld (%lu restarts)\n",
			    (long)publisher_pid(a->pub),
			    publisher_restarts(a->pub));
		else if (a->pub != NULL)
			buf_putf(b, "publisher: no process (restarting; %lu "
			    "restarts)\n", publisher_restarts(a->pub));
		buf_putf(b, "routing: %lu service events, %zu origins, %lu "
		    "published, %lu withdrawn, %lu path switches, %zu "
		    "services seen on this LAN\n", st.events, st.origins,
		    st.published, st.withdrawn, st.switches,
		    lanview_count(a->lan));
		if (a->reload_error[0] != '\0') {
			log_vis(vname, sizeof(vname), a->reload_error);
			buf_putf(b, "configuration: the last reload (SIGHUP) "
			    "failed %.0f s ago, the running configuration is "
			    "kept: %s\n", secs(a->reload_failed_at), vname);
		} else if (a->reloads > 0)
			buf_putf(b, "configuration: reloaded %lu time%s, last "
			    "%.0f s ago\n", a->reloads, a->reloads == 1 ? "" :
			    "s", secs(a->reloaded_at));
		TAILQ_FOREACH(r, &a->remotes, entry) {
			buf_putf(b, "%s (%s): %s for %.0f s, %zu services, "
			    "%zu spliced, %zu connections (%lu total, %lu "
			    "refused, %lu failed)%s\n", r->conf->name,
			    r->conf->destination, remote_state_name(r->state),
			    secs(r->state_since), r->table.n, r->nimported,
			    r->nconns, r->conns_total, r->conns_refused,
			    r->conns_failed, r->relay_mode ?
			    ", relaying through the subsystem" : "");
			if (r->relay_mode || r->nsessions > 0 ||
			    r->nqueued > 0 || r->sessions_refused > 0) {
				buf_putf(b, "  relay sessions: %zu in use (%zu "
				    "opening), %zu queued, limit ", r->nsessions,
				    r->nopening, r->nqueued);
				if (relay_session_limit(r) == 0)
					buf_putf(b, "none known");
				else
					buf_putf(b, "%u (%s)",
					    relay_session_limit(r),
					    limit_from(r));
				buf_putf(b, ", %lu refused by the server, %lu "
				    "turned away (queue full), %lu timed out "
				    "waiting\n", r->sessions_refused,
				    r->queue_full, r->queue_expired);
			}
			if (a->exp != NULL)
				exp_status(a->exp, r->conf, b, 0);
			export_status(r, b, 0);
			if (r->last_error[0] != '\0') {
				log_vis(vname, sizeof(vname), r->last_error);
				buf_putf(b, "  last error: %s\n", vname);
			}
		}
		dnsup_status(a->dnsup, b, 0);
		return 0;
	}
	if (strcmp(what, "services") == 0) {
		TAILQ_FOREACH(r, &a->remotes, entry)
			export_services(r, b, 0, NULL);
		TAILQ_FOREACH(r, &a->remotes, entry)
			TAILQ_FOREACH(e, &r->table.list, entry) {
				/* the server's words: no control character
				 * reaches the terminal raw */
				log_vis(vname, sizeof(vname), e->svc.name);
				if ((sp = e->splice) == NULL) {
					if (e->refused) {
						/* the retry time as of now */
						reach_skip(e, skip, sizeof(skip));
						log_vis(vskip, sizeof(vskip), skip);
					} else
						log_vis(vskip, sizeof(vskip),
						    e->skip);
					buf_putf(b, "%s: \"%s\" %s not spliced: "
					    "%s", r->conf->name, vname,
					    e->svc.type, vskip);
					if (e->eligible) {
						buf_putf(b, " [");
						text_path(b, &e->meta);
						buf_putf(b, "]");
					}
					buf_putf(b, "\n");
					continue;
				}
				log_vis(vpub, sizeof(vpub), splice_pub_name(sp));
				buf_putf(b, "%s: \"%s\" %s from %s:%u as \"%s\" "
				    "port %u, %s, ", r->conf->name, vname,
				    e->svc.type, e->svc.addr, e->svc.port,
				    vpub, sp->port, splice_pub_state(sp));
				text_path(b, &e->meta);
				if (sp->port_note[0] != '\0')
					buf_putf(b, "; %s", sp->port_note);
				if (mfwd_owns(sp))
					buf_putf(b, "; the ssh master listens "
					    "(connections not counted)");
				if ((dns = dnsup_service_state(a->dnsup,
				    sp)) != NULL) {
					log_vis(vskip, sizeof(vskip), dns);
					buf_putf(b, "; DNS: %s", vskip);
				}
				buf_putf(b, "\n");
			}
		return 0;
	}
	TAILQ_FOREACH(r, &a->remotes, entry)
		TAILQ_FOREACH(c, &r->conns, entry) {
			log_vis(vname, sizeof(vname), c->name);
			buf_putf(b, "%s: %s -> \"%s\" (%s) %s, %s, %.1f s\n",
			    r->conf->name, c->client, vname, c->target,
			    c->via_subsystem ? "through the subsystem" :
			    "direct", conn_state_name(c), secs(c->started));
		}
	return 0;
}

int
agent_ctl_handler(void *arg, const char *command, int json, struct buf *out)
{
	struct agent *a = arg;
	int r;

	if (!valid_what(command)) {
		buf_putf(out, "unknown command \"%s\" (expected status, "
		    "services, connections)\n", command);
		return -1;
	}
	r = json ? agent_dump_json(a, out, command) :
	    agent_dump_text(a, out, command);
	/* a put that did not fit may be followed by smaller ones that did:
	 * never hand out what lacks a part */
	if (r == -1 || buf_failed(out)) {
		buf_reset(out);
		buf_putf(out, "%s: the reply would be larger than %zu bytes, "
		    "the control socket's limit\n", command, out->max);
		return -1;
	}
	return r;
}
