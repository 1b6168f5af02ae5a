/* rnsplice-agent: set-up, the loop, signals and the list of remotes, for
 * the options main.c read and the configuration agentconf.c built. Each remote lives on its own (remote.c); this file only
 * starts them, routes SIGCHLD and publisher news to them (and the
 * publisher's child's SIGCHLD to it), and stops them.
 *
 * No daemon fork: run it under systemd --user or launchd, or with -d in
 * a terminal. Without -d it logs to syslog. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "ctl.h"
#include "event.h"
#include "log.h"
#include "publish.h"
#include "netwatch.h"
#include "rundir.h"
#include "siteid.h"
#include "dnsupdate.h"

#define AGENT_QUIT_MS	5000	/* give ssh this long to exit */

/* A remote's ssh is gone for good: the loop ends with the last one. */
static void
agent_remote_stopped(struct agent *a)
{
	struct remote *r;

	TAILQ_FOREACH(r, &a->remotes, entry)
		if (r->state != RS_STOPPED)
			return;
	if (dnsup_busy(a->dnsup))	/* withdrawing from DNS */
		return;
	ev_loop_break(a->loop);
}

static void
agent_quit(struct agent *a)
{
	struct remote *r;

	if (a->quitting) {
		ev_loop_break(a->loop);
		return;
	}
	a->quitting = 1;
	log_info("shutting down");
	TAILQ_FOREACH(r, &a->remotes, entry)
		remote_stop(r);
	dnsup_quit(a->dnsup);
	ev_timer_set(a->quit_timer, AGENT_QUIT_MS);
	agent_remote_stopped(a);
}

static void
quit_timeout(void *arg)
{
	struct agent *a = arg;

	if (dnsup_busy(a->dnsup))
		log_warnx("the DNS zone's withdrawals did not finish in time "
		    "(rnsplice status said why); the next start removes "
		    "what is left");
	else
		log_warnx("ssh did not exit in time");
	ev_loop_break(a->loop);
}

static void
on_signal(int signo, void *arg)
{
	struct agent *a = arg;
	struct remote *r;
	struct buf b;
	char *line;
	size_t len;
	pid_t pid;
	int status;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		agent_quit(a);
		break;
	case SIGHUP:
		if (!a->quitting)
			(void)agent_reload(a);
		break;
	case SIGUSR1:
		buf_init(&b, CTL_MAXREPLY);
		if (agent_dump_text(a, &b, "status") == 0 &&
		    agent_dump_text(a, &b, "services") == 0 &&
		    agent_dump_text(a, &b, "connections") == 0 &&
		    !buf_failed(&b))
			while (buf_getline(&b, CTL_MAXREPLY, &line,
			    &len) == BUF_LINE_OK)
				log_info("%s", line);
		else
			log_warnx("SIGUSR1: the status dump would be larger "
			    "than %d bytes; not logged", CTL_MAXREPLY);
		buf_free(&b);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			TAILQ_FOREACH(r, &a->remotes, entry)
				if (r->ssh.pid == pid)
					break;
			if (r != NULL)
				remote_child_exited(r, status);
			else	/* its avahi calls' process; else not ours */
				(void)publisher_reaped(a->pub, pid, status);
		}
		break;
	}
}

static void
on_publisher(struct publisher *p, struct pub_entry *e, int up, void *arg)
{
	if (e == NULL) {
		/* the publisher says so itself */
		log_debug("avahi-daemon %s", up ? "up" : "down");
		return;
	}
	splice_pub_event(pub_entry_arg(e), e);
}

static void
on_network_change(void *arg)
{
	struct agent *a = arg;
	struct remote *r;
	struct isvc *e;

	if (exposure_refresh(a->exp))
		TAILQ_FOREACH(r, &a->remotes, entry)
			TAILQ_FOREACH(e, &r->table.list, entry)
				if (e->splice != NULL)
					splice_exposure_changed(e->splice);
	TAILQ_FOREACH(r, &a->remotes, entry)
		remote_network_changed(r);
}

/*
 * A configuration the agent cannot run with: exit with EX_CONFIG so that
 * a service manager can tell it from a crash and stop restarting
 * (RestartPreventExitStatus in the systemd unit).
 */
static void __attribute__((noreturn, format(printf, 1, 2)))
conf_fatal(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s", msg);
	exit(AGENT_EXIT_CONFIG);
}

/* Everything the loop needs: the run directory, the control socket, the
 * publisher, the local views, and one remote per configured one. */
static void
agent_setup(struct agent *a)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1,
	    SIGCHLD };
	struct remote_conf *rc;
	struct remote *r;
	char *sockpath = NULL, *cause;
	size_t i, k;

	a->started = ev_now_ms();
	if ((a->ssh_path = getenv("RNSPLICE_SSH")) == NULL ||
	    *a->ssh_path != '/')
		a->ssh_path = SSH_PATH;
	if (siteid_load(a->siteid, sizeof(a->siteid), &cause) == -1)
		fatalx("site id: %s", cause);
	if (rundir_get(a->rundir, sizeof(a->rundir), 1, &cause) == -1)
		fatalx("%s", cause);
	sshm_raise_nofile();
	signal(SIGPIPE, SIG_IGN);

	if ((a->loop = ev_loop_new()) == NULL ||
	    (a->quit_timer = ev_timer_add(a->loop, quit_timeout, a)) == NULL)
		fatalx("out of memory");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (ev_signal(a->loop, sigs[i], on_signal, a) == -1)
			fatal("signal %d", sigs[i]);
	if (a->opts->sockpath == NULL)
		xasprintf(&sockpath, "%s/%s", a->rundir, CTL_SOCKET);
	if ((a->ctl = ctl_server_new(a->loop, sockpath != NULL ? sockpath :
	    a->opts->sockpath, agent_ctl_handler, a, &cause)) == NULL)
		fatalx("control socket: %s", cause);
	free(sockpath);
	a->pub = publisher_new(a->loop, on_publisher, a);
	if ((a->routes = routes_new(a)) == NULL ||
	    (a->lan = lanview_new(a->loop, route_lan_changed, a)) == NULL)
		fatalx("out of memory");

	a->exp = exposure_new(a->conf->avahi_conf != NULL ?
	    a->conf->avahi_conf : AGENT_AVAHI_CONF);
	TAILQ_FOREACH(rc, &a->conf->remotes, entry)
		if (rc->scope == SCOPE_LAN && rc->nlannets == 0)
			a->exp->learn = 1;
	exposure_refresh(a->exp);
	a->netwatch = netwatch_new(a->loop, on_network_change, a);
	if ((a->dnsup = dnsup_new(a)) == NULL && dnsup_available())
		fatalx("out of memory");

	log_info("rnsplice-agent %s, site %s, %s", PACKAGE_VERSION, a->siteid,
	    a->rundir);
	i = 0;
	TAILQ_FOREACH(rc, &a->conf->remotes, entry) {
		if ((r = remote_new(a, rc)) == NULL)
			fatalx("out of memory");
		r->index = (unsigned int)i++;
		TAILQ_INSERT_TAIL(&a->remotes, r, entry);
		/* the local view of the types we import settles while ssh
		 * connects; "*" types are followed as they come */
		for (k = 0; k < rc->ntypes; k++)
			lanview_want(a->lan, rc->types[k]);
		export_conf(r);
	}
}

static void
agent_teardown(struct agent *a)
{
	struct remote *r;

	while ((r = TAILQ_FIRST(&a->remotes)) != NULL) {
		TAILQ_REMOVE(&a->remotes, r, entry);
		remote_free(r);
	}
	exporter_free(a->exporter);
	dnsup_free(a->dnsup);
	netwatch_free(a->netwatch);
	exposure_free(a->exp);
	routes_free(a->routes);
	lanview_free(a->lan);
	publisher_free(a->pub);
	ctl_server_free(a->ctl);
	ev_loop_free(a->loop);
	conf_free(a->conf);
}

int
agent_main(struct agent_opts *o)
{
	struct agent a;
	struct agent_conf *conf;
	struct remote *r;
	char *cause = NULL, *deffile = NULL, dir[1024];

	if (o->file == NULL && o->argc == 0) {
		if (config_dir(dir, sizeof(dir)) == -1)
			conf_fatal("cannot find the configuration directory");
		xasprintf(&deffile, "%s/%s", dir, AGENT_CONF_FILE);
		o->file = deffile;
	}
	if ((conf = agent_conf_build(o, &cause)) == NULL)
		conf_fatal("%s", cause);
	if (o->check) {
		if (o->verbose)
			conf_print(conf, stdout);
		fprintf(stderr, "configuration OK\n");
		conf_free(conf);
		free(deffile);
		return 0;
	}
	if (geteuid() == 0 && !o->root && !conf->allow_root)
		conf_fatal("refusing to run as root (-R or \"allow-root yes\" "
		    "if you mean it)");

	log_init("rnsplice-agent", o->debug, o->verbose);
	memset(&a, 0, sizeof(a));
	a.remote_stopped = agent_remote_stopped;
	TAILQ_INIT(&a.remotes);
	a.conf = conf;
	a.opts = o;
	agent_setup(&a);
	TAILQ_FOREACH(r, &a.remotes, entry)
		remote_start(r);
	if (ev_loop_run(a.loop) == -1)
		log_warnx("event loop failed");
	agent_teardown(&a);
	free(deffile);
	return 0;
}
