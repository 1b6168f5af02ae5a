/*
 * SIGHUP: the configuration built again from agent.conf and the command
 * line (agent_conf_build, agentconf.c), and applied.
 *
 * A reload compares the new remotes with the running ones by name.  An
 * unchanged remote keeps its ssh master, its session, its splices and
 * every connection through them: only its pointer moves to the new
 * configuration; its exports follow the new rules (export.c withdraws
 * what is no longer exported, offers what now is, and tries again what
 * was refused).  A removed remote is torn down as at shutdown (its
 * services withdrawn, its ssh stopped); a changed one is torn down and
 * started again with the new settings; an added one is started.  A file
 * that does not parse, or does not check, changes nothing: the agent says
 * why in its log and in "rnsplice status", and runs on as before.
 */
#include "config.h"

#include <sys/types.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dnsupdate.h"
#include "event.h"
#include "log.h"

static int
strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Would the remote run differently under b than under a?  Where in the
 * file it was written does not count. */
int
agent_remote_conf_eq(const struct remote_conf *a, const struct remote_conf *b)
{
	return strcmp(a->name, b->name) == 0 &&
	    str_eq(a->destination, b->destination) &&
	    strv_eq(a->types, a->ntypes, b->types, b->ntypes) &&
	    a->scope == b->scope &&
	    strcmp(a->ifname, b->ifname) == 0 &&
	    a->nallow == b->nallow &&
	    (a->nallow == 0 ||
	    memcmp(a->allow, b->allow, a->nallow * sizeof(*a->allow)) == 0) &&
	    a->nlannets == b->nlannets &&
	    (a->nlannets == 0 || memcmp(a->lannets, b->lannets,
	    a->nlannets * sizeof(*a->lannets)) == 0) &&
	    str_eq(a->name_template, b->name_template) &&
	    a->port_policy == b->port_policy &&
	    a->listener == b->listener &&
	    a->max_relays == b->max_relays &&
	    a->max_services == b->max_services &&
	    a->max_sessions == b->max_sessions && a->mdns == b->mdns &&
	    strv_eq(a->ssh_options, a->nssh_options, b->ssh_options,
	    b->nssh_options) &&
	    str_eq(a->subsystem_command, b->subsystem_command) &&
	    dnsup_conf_eq(a->dnsupdate, b->dnsupdate);
}

static struct remote_conf *
find_conf(struct agent_conf *c, const char *name)
{
	struct remote_conf *rc;

	TAILQ_FOREACH(rc, &c->remotes, entry)
		if (strcmp(rc->name, name) == 0)
			return rc;
	return NULL;
}

/* Take r down for good, as at shutdown but at once: its services are
 * withdrawn (other remotes' copies may take their place), its connections
 * closed, its ssh stopped and its control socket removed. */
static void
retire(struct agent *a, struct remote *r)
{
	char ctlpath[sizeof(r->ssh.ctlpath)];
	pid_t pid = r->ssh.pid;

	TAILQ_REMOVE(&a->remotes, r, entry);
	strlcpy(ctlpath, r->ssh.ctlpath, sizeof(ctlpath));
	if (pid > 0)
		sshm_signal(&r->ssh, SIGTERM);
	remote_free(r);		/* SIGKILLs what is left; SIGCHLD reaps */
	if (pid > 0 && ctlpath[0] != '\0')
		unlink(ctlpath);
}

static struct remote *
start_remote(struct agent *a, struct remote_conf *rc)
{
	struct remote *r;
	size_t k;

	if ((r = remote_new(a, rc)) == NULL)
		return NULL;
	for (k = 0; k < rc->ntypes; k++)
		lanview_want(a->lan, rc->types[k]);
	export_conf(r);
	return r;
}

int
agent_reload(struct agent *a)
{
	struct agent_conf *nc, *old = a->conf;
	struct remote_conf *rc;
	struct remote *r, *next;
	struct remote_list keep;
	struct { char name[AGENT_REMOTE_NAMELEN + 1]; unsigned int gen; }
	    *gens = NULL;
	size_t ngens = 0, g;
	char *cause = NULL;
	unsigned int i = 0, kept = 0, changed = 0, added = 0, removed = 0;
	int restart_all;

	if (a->opts->file == NULL) {
		log_warnx("SIGHUP: no configuration file to re-read (the "
		    "remote was given on the command line)");
		return -1;
	}
	if ((nc = agent_conf_build(a->opts, &cause)) == NULL) {
		strlcpy(a->reload_error, cause, sizeof(a->reload_error));
		a->reload_failed_at = ev_now_ms();
		log_warnx("SIGHUP: %s; keeping the running configuration",
		    a->reload_error);
		free(cause);
		return -1;
	}
	if (geteuid() == 0 && !a->opts->root && !nc->allow_root) {
		snprintf(a->reload_error, sizeof(a->reload_error),
		    "%s: allow-root is off and the agent runs as root",
		    a->opts->file);
		a->reload_failed_at = ev_now_ms();
		log_warnx("SIGHUP: %s; keeping the running configuration",
		    a->reload_error);
		conf_free(nc);
		return -1;
	}

	/* the hop limit goes into each session's HELLO: a new one needs new
	 * sessions everywhere */
	restart_all = nc->max_hops != old->max_hops;
	TAILQ_INIT(&keep);
	for (r = TAILQ_FIRST(&a->remotes); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		rc = find_conf(nc, r->conf->name);
		if (rc == NULL) {
			log_info("SIGHUP: %s: removed", r->conf->name);
			retire(a, r);
			removed++;
		} else if (restart_all || !agent_remote_conf_eq(r->conf, rc)) {
			log_info("SIGHUP: %s: changed; reconnecting with the "
			    "new settings", r->conf->name);
			/* the new one goes on counting sessions, so that
			 * its control sockets never reuse a path */
			gens = xreallocarray(gens, ngens + 1, sizeof(*gens));
			strlcpy(gens[ngens].name, r->conf->name,
			    sizeof(gens[ngens].name));
			gens[ngens++].gen = r->gen;
			retire(a, r);
			changed++;
		} else {
			TAILQ_REMOVE(&a->remotes, r, entry);
			r->conf = rc;
			TAILQ_INSERT_TAIL(&keep, r, entry);
			kept++;
		}
	}
	/* every remote in the new file's order: kept ones as they run,
	 * others new */
	a->conf = nc;
	TAILQ_FOREACH(rc, &nc->remotes, entry) {
		TAILQ_FOREACH(r, &keep, entry)
			if (r->conf == rc)
				break;
		if (r != NULL) {
			TAILQ_REMOVE(&keep, r, entry);
			r->index = i++;
			TAILQ_INSERT_TAIL(&a->remotes, r, entry);
			/* exports change without a new session */
			export_reload(r);
			continue;
		}
		if ((r = start_remote(a, rc)) == NULL)
			fatalx("out of memory");
		for (g = 0; g < ngens; g++)
			if (strcmp(gens[g].name, rc->name) == 0)
				r->gen = gens[g].gen;
		if (find_conf(old, rc->name) == NULL) {
			log_info("SIGHUP: %s: added", rc->name);
			added++;
		}
		r->index = i++;
		TAILQ_INSERT_TAIL(&a->remotes, r, entry);
		remote_start(r);
	}
	conf_free(old);
	free(gens);
	a->reload_error[0] = '\0';
	a->reloads++;
	a->reloaded_at = ev_now_ms();
	log_info("SIGHUP: %s re-read: %u remote%s kept, %u changed, %u added, "
	    "%u removed", a->opts->file, kept, kept == 1 ? "" : "s", changed,
	    added, removed);
	return 0;
}
