/* Status dumps for the control socket (rnsplice status|services|
 * connections, text or JSON) and SIGUSR1. They only walk the agent's
 * structures. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "event.h"
#include "json.h"
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
	    "\"services\":%zu,\"spliced\":%zu,\"attempts\":%u,"
	    "\"relays\":{\"live\":%zu,\"total\":%lu,\"refused\":%lu,"
	    "\"failed\":%lu,\"max\":%u}}", r->ssh.pid > 0 ? (long)r->ssh.pid :
	    0L, conf_scope_name(r->conf->scope), mode_name(r), r->table.n,
	    r->nimported, r->attempts, r->nrelays, r->relays_total,
	    r->relays_refused, r->relays_failed, r->conf->max_relays);
}

static void
json_service(struct buf *b, const struct remote *r, const struct isvc *e)
{
	const struct splice *sp = e->splice;
	size_t i;

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
	buf_putf(b, ",\"target_port\":%u,\"spliced\":%s", e->svc.port,
	    sp != NULL ? "true" : "false");
	if (sp == NULL) {
		buf_putf(b, ",\"skipped\":");
		json_str(b, e->skip);
		buf_putf(b, "}");
		return;
	}
	buf_putf(b, ",\"published\":");
	json_str(b, splice_pub_name(sp));
	buf_putf(b, ",\"publish_state\":\"%s\",\"port\":%u,\"origin\":",
	    splice_pub_state(sp), sp->port);
	json_str(b, e->meta.origin);
	buf_putf(b, ",\"path\":[");
	for (i = 0; i < e->meta.npath; i++) {
		if (i > 0)
			buf_putf(b, ",");
		json_str(b, e->meta.path[i]);
	}
	buf_putf(b, "],\"hops\":%zu,\"accepted\":%lu,\"refused\":%lu}",
	    meta_hops(&e->meta), sp->accepted, sp->refused);
}

static void
json_relay(struct buf *b, const struct relay *rl)
{
	buf_putf(b, "{\"remote\":");
	json_str(b, rl->remote->conf->name);
	buf_putf(b, ",\"id\":%u,\"service\":", rl->rid);
	json_str(b, rl->name);
	buf_putf(b, ",\"type\":");
	json_str(b, rl->type);
	buf_putf(b, ",\"client\":");
	json_str(b, rl->client);
	buf_putf(b, ",\"target\":");
	json_str(b, rl->target);
	buf_putf(b, ",\"mode\":\"%s\",\"state\":\"%s\",\"age\":%.1f",
	    rl->via_subsystem ? "subsystem-relay" : "direct",
	    relay_state_name(rl), secs(rl->started));
	if (rl->via_subsystem)
		buf_putf(b, ",\"bytes_up\":%llu,\"bytes_down\":%llu",
		    rl->bytes_up, rl->bytes_down);
	buf_putf(b, "}");
}

int
agent_dump_json(struct agent *a, struct buf *b, const char *what)
{
	const struct remote *r;
	const struct isvc *e;
	const struct relay *rl;
	int first = 1;

	if (!valid_what(what))
		return -1;
	if (strcmp(what, "status") == 0) {
		buf_putf(b, "{\"site\":");
		json_str(b, a->siteid);
		buf_putf(b, ",\"pid\":%ld,\"uptime\":%.1f,\"avahi\":%s,"
		    "\"remotes\":[", (long)getpid(), secs(a->started),
		    a->pub != NULL && publisher_running(a->pub) ? "true" :
		    "false");
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
		} else {
			TAILQ_FOREACH(rl, &r->relays, entry) {
				if (!first)
					buf_putf(b, ",");
				first = 0;
				json_relay(b, rl);
			}
		}
	}
	return buf_putf(b, "]\n");
}

/* --- text ------------------------------------------------------------------- */

int
agent_dump_text(struct agent *a, struct buf *b, const char *what)
{
	const struct remote *r;
	const struct isvc *e;
	const struct relay *rl;
	const struct splice *sp;

	if (!valid_what(what))
		return -1;
	if (strcmp(what, "status") == 0) {
		buf_putf(b, "site %s, pid %ld, up %.0f s, avahi %s\n",
		    a->siteid, (long)getpid(), secs(a->started),
		    a->pub != NULL && publisher_running(a->pub) ? "running" :
		    "not running");
		TAILQ_FOREACH(r, &a->remotes, entry) {
			buf_putf(b, "%s (%s): %s for %.0f s, %zu services, "
			    "%zu spliced, %zu connections (%lu total, %lu "
			    "refused, %lu failed)%s\n", r->conf->name,
			    r->conf->destination, remote_state_name(r->state),
			    secs(r->state_since), r->table.n, r->nimported,
			    r->nrelays, r->relays_total, r->relays_refused,
			    r->relays_failed, r->relay_mode ?
			    ", relaying through the subsystem" : "");
			if (r->last_error[0] != '\0')
				buf_putf(b, "  last error: %s\n",
				    r->last_error);
		}
		return 0;
	}
	if (strcmp(what, "services") == 0) {
		TAILQ_FOREACH(r, &a->remotes, entry)
			TAILQ_FOREACH(e, &r->table.list, entry) {
				if ((sp = e->splice) == NULL) {
					buf_putf(b, "%s: \"%s\" %s not spliced: "
					    "%s\n", r->conf->name, e->svc.name,
					    e->svc.type, e->skip);
					continue;
				}
				buf_putf(b, "%s: \"%s\" %s from %s:%u as \"%s\" "
				    "port %u, %s, %zu hop%s\n", r->conf->name,
				    e->svc.name, e->svc.type, e->svc.addr,
				    e->svc.port, splice_pub_name(sp), sp->port,
				    splice_pub_state(sp), meta_hops(&e->meta),
				    meta_hops(&e->meta) == 1 ? "" : "s");
			}
		return 0;
	}
	TAILQ_FOREACH(r, &a->remotes, entry)
		TAILQ_FOREACH(rl, &r->relays, entry)
			buf_putf(b, "%s: %s -> \"%s\" (%s) %s, %s, %.1f s\n",
			    r->conf->name, rl->client, rl->name, rl->target,
			    rl->via_subsystem ? "through the subsystem" :
			    "direct", relay_state_name(rl), secs(rl->started));
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
	if (r == -1) {
		buf_reset(out);
		buf_putf(out, "reply too large\n");
	}
	return r;
}
