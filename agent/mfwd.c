/* The master's own listener for a spliced service. Where nothing is lost
 * by it, the ssh master listens on the service's published address and
 * port itself, as ssh -L does (a local forward asked through the mux:
 * OPEN_FWD, type local), so that a new connection costs the agent nothing
 * and the master no control connection, no fd passing and no mux session.
 *
 * Which services: "listener master" every service of a remote that uses
 * direct forwards and has no allow-list; "listener auto" (the default)
 * only those of host scope, whose listeners are on 127.0.0.1, where the
 * on-link check the agent makes per connection is moot. Relay mode, an
 * allow-list and "listener agent" keep the agent's listener.
 *
 * The hand-over comes before the publication, so that no client knows
 * the port yet: the agent binds the port (its own choice, as ever), then
 * probes the service on the direct path (conn_probe: discovery implies
 * reachability, and once the master listens a refusal is no longer seen
 * by the agent), closes its listener and asks the master to bind the same
 * address and port (a client binds exactly the address it is given:
 * OpenSSH channels.c channel_fwd_bind_addr), then publishes. ssh sets
 * SO_REUSEADDR on its listeners, not SO_REUSEPORT, so the two cannot
 * listen at once: hence the hand-over before anyone can connect. A
 * refused probe withdraws the service as reach.c does for a client's
 * connection; a probe that fails otherwise, or a bind the master cannot
 * make (the port taken), leaves the agent listening (on the same port, or
 * another one: nothing is published yet) and is logged.
 *
 * The forwards go with the master: the session ends with it and every
 * service is withdrawn, then spliced again by the next session (the same
 * port if it is free). A service that goes, or moves to another route,
 * is cancelled with CLOSE_FWD, and the reply awaited (the master answers
 * at once) so that its port is free when the next listener binds it. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "event.h"
#include "fd.h"
#include "log.h"
#include "mfwd.h"
#include "mux.h"
#include "xmalloc.h"

#define MFWD_REPLY_MS	1000	/* the master answers a forward at once */
#define MFWD_ADDRLEN	(INET6_ADDRSTRLEN + IF_NAMESIZE + 1)

enum mf_state {
	MF_PROBING,	/* the agent listens, not published */
	MF_OPENING,	/* OPEN_FWD asked, not published */
	MF_MASTER,	/* the master listens */
	MF_AGENT	/* the agent listens (it could not be handed over) */
};

struct mfwd;

struct mf_req {
	struct mfwd	*mf;
	int		 fd;
	struct ev_io	*io;
	struct mux_reader mr;
	int		 done;
	int		 ok;
};

struct mfwd {
	struct splice	*sp;
	enum mf_state	 state;
	struct ev_timer	*probe_t;
	char		 addr[AGENT_LISTEN_MAX][MFWD_ADDRLEN];
	struct sockaddr_storage sa[AGENT_LISTEN_MAX];
	size_t		 naddrs;
	struct mf_req	 req[AGENT_LISTEN_MAX];
	size_t		 pending;
	int		 published;
	char		 why[256];	/* the first failure */
};

/* A master that let a cancel go unanswered is not waited for again in
 * the same session: a thousand services withdrawn at once would block
 * the loop a second each. */
static const struct remote *stuck_remote;
static unsigned int stuck_gen;

static int
stuck(const struct remote *r)
{
	return r->ending || (stuck_remote == r && stuck_gen == r->gen);
}

int
mfwd_wanted(const struct splice *sp)
{
	const struct remote *r = sp->remote;
	const struct remote_conf *rc = r->conf;

	switch (rc->listener) {
	case LISTENER_AGENT:
		return 0;
	case LISTENER_AUTO:
		if (rc->scope != SCOPE_HOST || sp->fallback)
			return 0;
		break;
	case LISTENER_MASTER:
		break;
	}
	return rc->nallow == 0 && !r->relay_mode && sp->nfds > 0 &&
	    r->ssh.fd_out != -1;
}

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char ifname[IF_NAMESIZE];

	exp_format_addr((const struct sockaddr *)ss, out, outlen);
	if (ss->ss_family == AF_INET6 && sin6->sin6_scope_id != 0 &&
	    if_indextoname(sin6->sin6_scope_id, ifname) != NULL) {
		strlcat(out, "%", outlen);
		strlcat(out, ifname, outlen);
	}
}

/* Wait (blocking, briefly) for the reply on a control connection. */
static enum mux_event
wait_reply(int fd, struct mux_reader *mr)
{
	struct pollfd pfd;
	enum mux_event ev;
	uint64_t until = ev_now_ms() + MFWD_REPLY_MS, now;

	for (;;) {
		if ((ev = mux_reader_read(mr, fd)) != MUX_EV_NONE)
			return ev;
		if (mr->done || (now = ev_now_ms()) >= until)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(until - now)) == -1 && errno != EINTR)
			break;
	}
	if (!mr->done)
		snprintf(mr->reason, sizeof(mr->reason), "no reply in %d ms",
		    MFWD_REPLY_MS);
	return MUX_EV_ERROR;
}

/* Cancel the master's listener on address i. At the end of a session
 * the master goes too: then the request is sent and not waited for. */
static void
cancel_one(struct mfwd *mf, size_t i)
{
	struct splice *sp = mf->sp;
	struct remote *r = sp->remote;
	const struct svc *s = &sp->isvc->svc;
	struct mux_reader mr;
	enum mux_event ev;
	uint32_t rid = ++r->agent->next_rid;
	char *cause;
	int fd;

	if ((fd = mux_spare_open(r->ssh.ctlpath, &cause)) == -1 ||
	    mux_spare_local_fwd(fd, MUX_CLOSE_FWD, mf->addr[i], sp->port,
	    s->addr, s->port, rid, &cause) == -1) {
		if (!r->ending)
			log_warnx("%s: cannot cancel the ssh master's listener "
			    "for \"%s\" on %s port %u: %s", r->conf->name,
			    sp->name, mf->addr[i], sp->port, cause);
		free(cause);
		if (fd != -1)
			close(fd);
		return;
	}
	if (stuck(r)) {
		close(fd);
		return;
	}
	mux_reader_init(&mr, rid);
	if ((ev = wait_reply(fd, &mr)) == MUX_EV_ERROR && !mr.done) {
		stuck_remote = r;
		stuck_gen = r->gen;
	}
	if (ev == MUX_EV_OK)
		log_debug("%s: \"%s\": the ssh master no longer listens on %s "
		    "port %u", r->conf->name, sp->name, mf->addr[i], sp->port);
	else
		log_warnx("%s: the ssh master did not cancel its listener for "
		    "\"%s\" on %s port %u: %s", r->conf->name, sp->name,
		    mf->addr[i], sp->port, mr.reason);
	mux_reader_free(&mr);
	close(fd);
}

static void
req_end(struct mf_req *rq)
{
	ev_io_del(rq->io);
	rq->io = NULL;
	close_fd(&rq->fd);
	mux_reader_free(&rq->mr);
}

/* Every OPEN_FWD answered, or given up: cancel the OPEN_FWD still
 * pending (their replies awaited) and the ones that worked. */
static void
cancel_all(struct mfwd *mf)
{
	struct mf_req *rq;
	enum mux_event ev;
	size_t i;

	for (i = 0; i < mf->naddrs; i++) {
		rq = &mf->req[i];
		if (rq->fd != -1 && !rq->done) {
			if (stuck(mf->sp->remote))
				ev = MUX_EV_ERROR;
			else if ((ev = wait_reply(rq->fd, &rq->mr)) ==
			    MUX_EV_ERROR && !rq->mr.done) {
				stuck_remote = mf->sp->remote;
				stuck_gen = mf->sp->remote->gen;
			}
			rq->done = 1;
			rq->ok = ev == MUX_EV_OK;
			req_end(rq);
		}
		if (rq->ok)
			cancel_one(mf, i);
		rq->ok = 0;
	}
	mf->pending = 0;
}

static void
publish_now(struct mfwd *mf, enum mf_state state)
{
	mf->state = state;
	mf->published = 1;
	splice_publish_deferred(mf->sp);
}

/* The master could not take the listeners: the agent keeps them. */
static void
give_back(struct mfwd *mf, const char *why)
{
	struct splice *sp = mf->sp;

	log_warnx("%s: the ssh master cannot listen for \"%s\" on port %u: "
	    "%s; the agent listens itself", sp->remote->conf->name, sp->name,
	    sp->port, why);
	cancel_all(mf);
	if (splice_listen_again(sp) == 0)
		publish_now(mf, MF_AGENT);
	else
		mf->state = MF_AGENT;
}

static void
req_cb(int fd, short revents, void *arg)
{
	struct mf_req *rq = arg;
	struct mfwd *mf = rq->mf;
	struct splice *sp = mf->sp;
	enum mux_event ev;

	for (ev = mux_reader_read(&rq->mr, fd);; ev = mux_reader_next(&rq->mr)) {
		switch (ev) {
		case MUX_EV_NONE:
			if (!rq->mr.done)
				return;
			ev = MUX_EV_ERROR;
			break;
		case MUX_EV_OK:
			break;
		default:
			if (ev == MUX_EV_EOF && rq->mr.reason[0] == '\0')
				strlcpy(rq->mr.reason, "the master closed the "
				    "connection", sizeof(rq->mr.reason));
			break;
		}
		break;
	}
	rq->done = 1;
	rq->ok = ev == MUX_EV_OK;
	if (!rq->ok && mf->why[0] == '\0')
		snprintf(mf->why, sizeof(mf->why), "%s", rq->mr.reason[0] !=
		    '\0' ? rq->mr.reason : mux_event_name(ev));
	req_end(rq);
	if (--mf->pending > 0)
		return;
	if (mf->why[0] != '\0') {
		give_back(mf, mf->why);
		return;
	}
	log_info("%s: \"%s\": the ssh master listens on port %u (%zu "
	    "address%s)", sp->remote->conf->name, sp->name, sp->port,
	    mf->naddrs, mf->naddrs == 1 ? "" : "es");
	publish_now(mf, MF_MASTER);
}

/* The probe got through on the direct path: hand the listeners over. */
static void
hand_over(struct mfwd *mf)
{
	struct splice *sp = mf->sp;
	struct remote *r = sp->remote;
	const struct svc *s = &sp->isvc->svc;
	struct mf_req *rq;
	char *cause;
	size_t i;

	if ((mf->naddrs = sp->nfds) == 0) {
		mf->state = MF_OPENING;
		give_back(mf, "no address to listen on");
		return;
	}
	for (i = 0; i < mf->naddrs; i++) {
		mf->sa[i] = sp->lsa[i];
		addr_text(&sp->lsa[i], mf->addr[i], sizeof(mf->addr[i]));
		mf->req[i].fd = -1;
	}
	/* nobody knows the port yet: nobody is refused meanwhile */
	splice_close_listeners(sp);
	mf->state = MF_OPENING;
	mf->why[0] = '\0';
	for (i = 0; i < mf->naddrs; i++) {
		rq = &mf->req[i];
		rq->mf = mf;
		rq->done = rq->ok = 0;
		rq->io = NULL;
		cause = NULL;
		mux_reader_init(&rq->mr, ++r->agent->next_rid);
		if ((rq->fd = mux_spare_open(r->ssh.ctlpath, &cause)) != -1 &&
		    mux_spare_local_fwd(rq->fd, MUX_OPEN_FWD, mf->addr[i],
		    sp->port, s->addr, s->port, rq->mr.rid, &cause) == 0 &&
		    (rq->io = ev_io_add(r->agent->loop, rq->fd, POLLIN, req_cb,
		    rq)) == NULL)
			cause = xstrdup("out of memory");
		if (rq->io == NULL) {
			snprintf(mf->why, sizeof(mf->why), "%s: %s",
			    mf->addr[i], cause);
			free(cause);
			rq->done = 1;
			req_end(rq);
			break;
		}
		mf->pending++;
	}
	if (mf->why[0] != '\0')
		give_back(mf, mf->why);
}

static void
probe_cb(void *arg)
{
	struct mfwd *mf = arg;
	struct splice *sp = mf->sp;

	if (conn_probe(sp->remote, sp->isvc) == -1) {
		log_info("%s: \"%s\" cannot be probed now (max-relays): the "
		    "agent listens", sp->remote->conf->name, sp->name);
		publish_now(mf, MF_AGENT);
	}
}

int
mfwd_start(struct splice *sp)
{
	struct mfwd *mf;
	size_t i;

	if ((mf = calloc(1, sizeof(*mf))) == NULL)
		return -1;
	mf->sp = sp;
	mf->state = MF_PROBING;
	for (i = 0; i < AGENT_LISTEN_MAX; i++)
		mf->req[i].fd = -1;
	/* from the loop: the splice is the service's before the probe's
	 * result can come (even at once) */
	if ((mf->probe_t = ev_timer_add(sp->remote->agent->loop, probe_cb,
	    mf)) == NULL) {
		free(mf);
		return -1;
	}
	ev_timer_set(mf->probe_t, 0);
	sp->mfwd = mf;
	return 0;
}

int
mfwd_probe_result(struct splice *sp, const struct conn *c,
    enum reach_result res, const char *why)
{
	struct mfwd *mf = sp->mfwd;
	const char *name = sp->remote->conf->name;

	if (mf == NULL || mf->state != MF_PROBING)
		return 0;
	switch (res) {
	case REACH_OK:
		if (!c->via_subsystem) {
			hand_over(mf);
			return 1;
		}
		log_info("%s: \"%s\" is reached through the subsystem only: "
		    "the agent listens", name, sp->name);
		publish_now(mf, MF_AGENT);
		return 1;
	case REACH_REFUSED:
		mf->state = MF_AGENT;	/* reach.c withdraws it */
		return 0;
	case REACH_FAILED:
		log_info("%s: probe of \"%s\" failed (%s): the agent listens",
		    name, sp->name, why != NULL ? why : "no reason");
		publish_now(mf, MF_AGENT);
		return 1;
	}
	return 0;
}

int
mfwd_owns(const struct splice *sp)
{
	return sp->mfwd != NULL && sp->mfwd->state == MF_MASTER;
}

int
mfwd_published(const struct splice *sp)
{
	return sp->mfwd == NULL || sp->mfwd->published;
}

const char *
mfwd_state_name(const struct splice *sp)
{
	if (sp->mfwd == NULL)
		return "agent";
	switch (sp->mfwd->state) {
	case MF_PROBING:
		return "agent (probing, to hand it to the ssh master)";
	case MF_OPENING:
		return "ssh master (asked)";
	case MF_MASTER:
		return "ssh master";
	case MF_AGENT:
		return "agent";
	}
	return "?";
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	char x[MFWD_ADDRLEN], y[MFWD_ADDRLEN];

	addr_text(a, x, sizeof(x));
	addr_text(b, y, sizeof(y));
	return strcmp(x, y) == 0;
}

int
mfwd_follow(struct splice *sp, const struct exp_plan *pl)
{
	struct mfwd *mf = sp->mfwd;
	size_t i, k;

	if (mf == NULL || mf->state == MF_PROBING || mf->state == MF_AGENT)
		return 0;
	if (mf->state == MF_OPENING)
		return 1;	/* what comes of it follows the next change */
	if (pl->nbind == mf->naddrs) {
		for (k = 0; k < pl->nbind; k++) {
			for (i = 0; i < mf->naddrs; i++)
				if (same_addr((const struct sockaddr_storage *)
				    &pl->bind[k], &mf->sa[i]))
					break;
			if (i == mf->naddrs)
				break;
		}
		if (k == pl->nbind)
			return 1;
	}
	log_info("%s: \"%s\": its addresses changed: the agent listens on "
	    "port %u again", sp->remote->conf->name, sp->name, sp->port);
	cancel_all(mf);
	mf->state = MF_AGENT;
	return 0;
}

void
mfwd_free(struct splice *sp)
{
	struct mfwd *mf = sp->mfwd;

	if (mf == NULL)
		return;
	ev_timer_del(mf->probe_t);
	if (mf->state == MF_MASTER || mf->state == MF_OPENING)
		cancel_all(mf);
	free(mf);
	sp->mfwd = NULL;
}
