/* One remote: its ssh master, the protocol client on the master's own
 * session (PROTOCOL.md), the table of services, and reconnection.
 *
 *            start / backoff timer
 *   BACKOFF ----------------------> CONNECTING --HELLO--> BROWSING
 *      ^                                 |                   | SYNCED
 *      |                                 |                   v
 *      |   ssh reaped               lost |<------------- SYNCED
 *      +------------- CLOSING <----------+   (EOF, ssh exit, ping timeout,
 *                        |                    fatal ERROR, bad peer)
 *                        | quitting
 *                        v
 *                     STOPPED
 *
 * "lost" withdraws every service at once (no ghosts), closes the session
 * pipes and stops ssh (at once when we decided, after a short grace when
 * the session just ended, so that ssh's own exit status and last words
 * make the log line). Once ssh is reaped the remote waits 1 s, doubling
 * to 60 s (+-20 %), and starts again; a session that stayed synced for
 * a while resets the backoff. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "backoff.h"
#include "event.h"
#include "log.h"

/* the kind of message counted by a remote's bad_log */
#define BAD_LINES	"bad lines from the subsystem"

#define REMOTE_INBUF		(4 * PROTO_MAXLINE)
#define REMOTE_OUTBUF		(1024 * 1024)
#define REMOTE_GRACE_MS		1000	/* session ended: let ssh exit */
#define REMOTE_KILL_MS		3000	/* TERM sent: then KILL */
#define REMOTE_HEALTHY_MS	10000	/* synced this long: reset backoff */
#define REMOTE_KICK_MS		2000	/* network changes: one retry per */

static void remote_connect(struct remote *);
static void beat_arm(struct remote *, uint64_t);
static void remote_lost(struct remote *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static const char *const state_names[] = {
	"backoff", "connecting", "browsing", "synced", "closing", "stopped"
};

const char *
remote_state_name(enum remote_state s)
{
	if ((size_t)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "?";
}

static int
is_live(const struct remote *r)
{
	return r->state == RS_CONNECTING || r->state == RS_BROWSING ||
	    r->state == RS_SYNCED;
}

static void
set_state(struct remote *r, enum remote_state s)
{
	if (r->state != s)
		log_debug("%s: %s -> %s", r->conf->name,
		    remote_state_name(r->state), remote_state_name(s));
	r->state = s;
	r->state_since = ev_now_ms();
}

unsigned int
remote_backoff_ms(unsigned int attempt, uint32_t rnd)
{
	return backoff_ms(attempt > 1 ? attempt - 1 : 0, REMOTE_BACKOFF_MIN_MS,
	    REMOTE_BACKOFF_MAX_MS, REMOTE_BACKOFF_JITTER, rnd);
}

/* --- output ---------------------------------------------------------------- */

static void
send_msg(struct remote *r, const struct msg *m)
{
	if (!is_live(r))
		return;
	if (msg_format(&r->out, m, r->maxline) == -1) {
		if (errno == EMSGSIZE && buf_room(&r->out) > r->maxline) {
			log_warnx("%s: %s longer than the peer's %zu-byte "
			    "lines, not sent", r->conf->name,
			    msg_verb(m->type), r->maxline);
			return;
		}
		remote_lost(r, 1, "the subsystem does not read its input");
		return;
	}
	r->last_tx = ev_now_ms();
	ev_io_set(r->out_io, POLLOUT);
}

void
remote_send(struct remote *r, const struct msg *m)
{
	send_msg(r, m);
}

static void
send_error(struct remote *r, const char *code, const char *text)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = (char *)code;
	m.text = (char *)text;
	send_msg(r, &m);
}

/* Our HELLO on the browse session (relaysession.c sends the one of a
 * relay session). */
static void
send_hello(struct remote *r)
{
	struct msg m;

	msg_hello(&m, r->agent->siteid, "agent", "update,"
	    PROTO_FEATURE_EXPORT, PROTO_MAXLINE,
	    r->agent->conf->max_hops);
	m.ping = r->agent->conf->ping_interval;	/* how soon the subsystem
						 * may call us silent */
	/* a subsystem with the beat feature talks by itself instead, and
	 * we ping only after idle= (PROTOCOL.md section 5) */
	m.beat = r->agent->conf->ping_interval;
	m.idle = r->agent->conf->ping_idle;
	send_msg(r, &m);
}

static void
send_browse(struct remote *r)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_BROWSE;
	m.types = r->conf->types;
	m.ntypes = r->conf->ntypes;
	send_msg(r, &m);
}

static void
remote_write_cb(int fd, short revents, void *arg)
{
	struct remote *r = arg;

	if (buf_write_fd(&r->out, fd) == -1 && errno != EAGAIN) {
		/* ssh's stdin is gone: it is exiting; its status says why */
		remote_lost(r, 0, NULL);
		return;
	}
	if (buf_len(&r->out) == 0)
		ev_io_set(r->out_io, 0);
}

/* --- services ----------------------------------------------------------------
 * The table keeps what the session announced; what to import is route.c's
 * business (this remote's services are candidates among those of every
 * remote and the copies already on the LAN), and splice.c does what it
 * decides. */

static void
on_service(struct remote *r, struct msg *m)
{
	struct isvc *e;
	struct svc old;
	char *cause;

	memset(&old, 0, sizeof(old));
	r->events++;
	switch (isvctable_apply(&r->table, m, &e, &old, &cause)) {
	case ISVC_ERROR:
		/* the cap: say it once per session, not per service */
		if (m->type == MSG_ADD && r->table.dropped > 1)
			;
		else if (m->type != MSG_ADD && r->table.dropped > 0)
			log_debug("%s: %s", r->conf->name, cause);
		else if (log_limit(&r->bad_log, ev_now_ms(), r->conf->name,
		    BAD_LINES))
			log_warnx("%s: %s", r->conf->name, cause);
		free(cause);
		return;
	case ISVC_ADDED:
		e->remote = r;
		reach_recall(r, e);
		route_service(r->agent, e, NULL);
		return;
	case ISVC_UPDATED:
		if (strcmp(old.addr, e->svc.addr) == 0 &&
		    old.port == e->svc.port)
			;
		else {
			if (e->splice != NULL)
				log_info("%s: \"%s\" (%s) moved to %s:%u",
				    r->conf->name, e->svc.name, e->svc.type,
				    e->svc.addr, e->svc.port);
			else
				log_debug("%s: \"%s\" (%s) moved to %s:%u",
				    r->conf->name, e->svc.name, e->svc.type,
				    e->svc.addr, e->svc.port);
			reach_kick(e);	/* a new target may answer */
		}
		route_service(r->agent, e, &old);
		svc_free(&old);
		return;
	case ISVC_REMOVED:
		if (e->splice != NULL)
			log_info("%s: withdrawing \"%s\" (%s): gone at the "
			    "server", r->conf->name, e->svc.name, e->svc.type);
		route_gone(r->agent, e, 1);
		isvc_free(e);
		return;
	}
}

static void
withdraw_all(struct remote *r)
{
	struct isvc_list all;
	struct isvc *e;
	size_t n = r->nimported;

	isvctable_take_all(&r->table, &all);
	while ((e = TAILQ_FIRST(&all)) != NULL) {
		TAILQ_REMOVE(&all, e, entry);
		route_gone(r->agent, e, 0);
		isvc_free(e);
	}
	r->nimported = 0;
	if (n > 0)
		log_info("%s: withdrew %zu service%s", r->conf->name, n,
		    n == 1 ? "" : "s");
}

/* --- input --------------------------------------------------------------------- */

#define ST(s)		(1u << (s))
#define ST_ANY		(ST(RS_CONNECTING) | ST(RS_BROWSING) | ST(RS_SYNCED))
#define ST_BROWSE	(ST(RS_BROWSING) | ST(RS_SYNCED))

static void h_hello(struct remote *, struct msg *);
static void h_service(struct remote *, struct msg *);
static void h_synced(struct remote *, struct msg *);
static void h_avahi(struct remote *, struct msg *);
static void h_ping(struct remote *, struct msg *);
static void h_pong(struct remote *, struct msg *);
static void h_beat(struct remote *, struct msg *);
static void h_error(struct remote *, struct msg *);
static void h_export(struct remote *, struct msg *);

static const struct handler {
	enum msg_type	 type;
	unsigned int	 states;
	void		(*fn)(struct remote *, struct msg *);
} handlers[] = {
	{ MSG_HELLO,	ST(RS_CONNECTING),	h_hello },
	{ MSG_ADD,	ST_BROWSE,		h_service },
	{ MSG_UPDATE,	ST_BROWSE,		h_service },
	{ MSG_REMOVE,	ST_BROWSE,		h_service },
	{ MSG_SYNCED,	ST_BROWSE,		h_synced },
	{ MSG_AVAHI,	ST_BROWSE,		h_avahi },
	{ MSG_PING,	ST_ANY,			h_ping },
	{ MSG_PONG,	ST_ANY,			h_pong },
	{ MSG_BEAT,	ST_ANY,			h_beat },
	{ MSG_ERROR,	ST_ANY,			h_error },
	{ MSG_EXPORTING, ST_BROWSE,		h_export },
	{ MSG_DROPPED,	ST_BROWSE,		h_export },
};

/* The master's control socket must answer before connections are handed
 * to it: ssh runs without multiplexing when it cannot create the socket. */
static void
alive_done(struct remote *r)
{
	ev_io_del(r->alive_io);
	r->alive_io = NULL;
	if (r->alive_fd != -1) {
		close(r->alive_fd);
		r->alive_fd = -1;
		mux_reader_free(&r->alive_mr);
	}
}

static void
alive_cb(int fd, short revents, void *arg)
{
	struct remote *r = arg;

	for (;;) {
		switch (mux_reader_read(&r->alive_mr, fd)) {
		case MUX_EV_NONE:
			return;
		case MUX_EV_ALIVE:
			log_debug("%s: the ssh master (pid %u) answers on %s",
			    r->conf->name, r->alive_mr.pid, r->ssh.ctlpath);
			if ((pid_t)r->alive_mr.pid != r->ssh.pid)
				log_warnx("%s: %s is served by pid %u, not by "
				    "our ssh (pid %ld)", r->conf->name,
				    r->ssh.ctlpath, r->alive_mr.pid,
				    (long)r->ssh.pid);
			alive_done(r);
			return;
		case MUX_EV_EOF:
		case MUX_EV_ERROR:
		case MUX_EV_FAILED:
			alive_done(r);
			remote_lost(r, 1, "the ssh master does not answer on its "
			    "control socket %s", r->ssh.ctlpath);
			return;
		default:
			break;
		}
	}
}

static void
alive_check(struct remote *r)
{
	char *cause;

	r->alive_fd = mux_alive_check(r->ssh.ctlpath, ++r->agent->next_rid,
	    &cause);
	if (r->alive_fd == -1) {
		remote_lost(r, 1, "ssh runs without its control socket: %s",
		    cause);
		free(cause);
		return;
	}
	mux_reader_init(&r->alive_mr, r->agent->next_rid);
	if ((r->alive_io = ev_io_add(r->agent->loop, r->alive_fd, POLLIN,
	    alive_cb, r)) == NULL)
		alive_done(r);
}

/* Do two remotes publish to the same audience (route.c ranks their
 * services against each other)? */
static int
same_audience(const struct remote_conf *a, const struct remote_conf *b)
{
	return a->scope == b->scope && (a->scope != SCOPE_IFACE ||
	    strcmp(a->ifname, b->ifname) == 0);
}

/* A server's site id names the origin of its services (PROTOCOL.md
 * section 7). One that claims this agent's own id, or the id of another
 * connected remote of the same scope, would make its services pass for
 * this site's or for that remote's (and win the ranking against them):
 * refused, and tried again after the backoff, so that of two remotes
 * that really share a site, the second takes over when the first goes.
 * Remotes of different scopes (one server for this host, the same for
 * the LAN) do not compete: the same id is theirs to share. */
static int
hello_site_clash(struct remote *r)
{
	struct remote *o;

	if (strcmp(r->peer_id, r->agent->siteid) == 0) {
		send_error(r, "denied", "this agent has the same site id");
		remote_lost(r, 0, "refused: the server claims this agent's own "
		    "site id %s", r->peer_id);
		return 1;
	}
	TAILQ_FOREACH(o, &r->agent->remotes, entry) {
		if (o == r || !is_live(o) || o->peer_id[0] == '\0' ||
		    strcmp(o->peer_id, r->peer_id) != 0 ||
		    !same_audience(o->conf, r->conf))
			continue;
		send_error(r, "denied", "another session of this agent has "
		    "this site id");
		remote_lost(r, 0, "refused: the server claims site id %s, which "
		    "remote %s already has", r->peer_id, o->conf->name);
		return 1;
	}
	return 0;
}

static void
h_hello(struct remote *r, struct msg *m)
{
	unsigned int hops;
	size_t i;
	char types[256];
	uint64_t took = ev_now_ms() - r->state_since;

	if (strcmp(m->role, "subsystem") != 0) {
		remote_lost(r, 0, "the peer is not an rnsplice subsystem (role "
		    "\"%.32s\")", m->role);
		return;
	}
	if (m->major != PROTO_MAJOR) {
		send_error(r, "version", "this agent speaks protocol "
		    PROTO_VERSION);
		remote_lost(r, 0, "the subsystem speaks protocol %u.%u, this "
		    "agent %s", m->major, m->minor, PROTO_VERSION);
		return;
	}
	strlcpy(r->peer_id, m->peer_id, sizeof(r->peer_id));
	r->peer_relay = proto_has_feature(m->features, "relay");
	r->peer_export = proto_has_feature(m->features, PROTO_FEATURE_EXPORT);
	r->peer_beat = proto_has_feature(m->features, PROTO_FEATURE_BEAT);
	hops = m->maxhops ? m->maxhops : PROTO_MAXHOPS_DEFAULT;
	r->maxhops = hops < r->agent->conf->max_hops ? hops :
	    r->agent->conf->max_hops;
	r->maxline = m->maxline ? m->maxline : PROTO_MAXLINE;
	if (hello_site_clash(r))
		return;
	alive_check(r);
	if (!is_live(r))
		return;
	send_browse(r);
	set_state(r, RS_BROWSING);
	export_session_up(r);
	types[0] = '\0';
	for (i = 0; i < r->conf->ntypes; i++) {
		if (i > 0)
			strlcat(types, " ", sizeof(types));
		strlcat(types, r->conf->types[i], sizeof(types));
	}
	log_info("%s: connected to site %s (protocol %u.%u%s%s) in %llu ms, "
	    "browsing %s", r->conf->name, r->peer_id, m->major, m->minor,
	    r->peer_relay ? ", relay" : "", r->peer_beat ? ", beat" : "",
	    (unsigned long long)took,
	    r->conf->ntypes ? types : "all types");
}

static void
h_service(struct remote *r, struct msg *m)
{
	on_service(r, m);
}

static void
h_export(struct remote *r, struct msg *m)
{
	export_message(r, m);
}

static void
h_synced(struct remote *r, struct msg *m)
{
	route_flush(r->agent);	/* for the summary below */
	if (r->state == RS_BROWSING) {
		set_state(r, RS_SYNCED);
		r->synced_at = ev_now_ms();
		log_info("%s: synced: %zu service%s announced, %zu spliced",
		    r->conf->name, r->table.n, r->table.n == 1 ? "" : "s",
		    r->nimported);
	}
	if (r->table.dropped > 0)
		log_warnx("%s: %lu service%s ignored: more than %u "
		    "(max-services)", r->conf->name, r->table.dropped,
		    r->table.dropped == 1 ? "" : "s", r->conf->max_services);
}

static void
h_avahi(struct remote *r, struct msg *m)
{
	if (m->avahi_up)
		log_info("%s: the server's avahi-daemon is back",
		    r->conf->name);
	else
		log_warnx("%s: the server's avahi-daemon is down; keeping "
		    "what it announced", r->conf->name);
}

static void
h_ping(struct remote *r, struct msg *m)
{
	struct msg pong;

	msg_pong(&pong, m);
	send_msg(r, &pong);
}

static void
h_pong(struct remote *r, struct msg *m)
{
	/* last_rx is updated for any line */
}

static void
h_beat(struct remote *r, struct msg *m)
{
	/* as PONG: a sign of life, answered by nothing */
}

static void
h_error(struct remote *r, struct msg *m)
{
	if (proto_error_is_fatal(m->code)) {
		remote_lost(r, 0, "the subsystem refuses: %s: %s", m->code,
		    m->text);
		return;
	}
	if (log_limit(&r->err_log, ev_now_ms(), r->conf->name,
	    "ERROR reports from the subsystem"))
		log_warnx("%s: the subsystem reports %s: %s", r->conf->name,
		    m->code, m->text);
}

static void
handle_line(struct remote *r, const char *line, size_t len)
{
	char err[256], *cause;
	const char *code;
	struct msg m;
	size_t i;

	if (msg_parse(line, len, &m, &cause, &code) == -1) {
		if (log_limit(&r->bad_log, ev_now_ms(), r->conf->name,
		    BAD_LINES))
			log_warnx("%s: bad line from the subsystem ignored: %s",
			    r->conf->name, cause);
		/* never answer an ERROR with an ERROR */
		if (!(len >= 6 && memcmp(line, "ERROR ", 6) == 0))
			send_error(r, code != NULL ? code : "syntax", cause);
		free(cause);
		msg_free(&m);
		return;
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == m.type)
			break;
	if (i == sizeof(handlers) / sizeof(handlers[0]) ||
	    !(handlers[i].states & ST(r->state))) {
		snprintf(err, sizeof(err), "%s not valid now (%s)",
		    msg_verb(m.type), remote_state_name(r->state));
		if (log_limit(&r->bad_log, ev_now_ms(), r->conf->name,
		    BAD_LINES))
			log_warnx("%s: %s", r->conf->name, err);
		send_error(r, "state", err);
	} else
		handlers[i].fn(r, &m);
	msg_free(&m);
}

static void
remote_read_cb(int fd, short revents, void *arg)
{
	struct remote *r = arg;
	char *line;
	size_t len;
	ssize_t n;
	int res, asked;
	uint64_t due;

	n = buf_read_fd(&r->in, fd);
	if (n == 0) {
		remote_lost(r, 0, NULL);
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN)
			remote_lost(r, 1, "reading from ssh: %s", strerror(errno));
		return;
	}
	asked = r->ping_first > r->last_rx;
	r->last_rx = ev_now_ms();
	/* The answer to our PING, or the subsystem's BEAT: the timer was
	 * set to give up if none came; set it to what is due next instead,
	 * or an idle agent wakes once more per interval for nothing. */
	if (r->peer_beat && r->state != RS_CONNECTING)
		beat_arm(r, r->last_rx);
	else if (asked && r->state != RS_CONNECTING) {
		due = (r->last_tx < r->last_rx ? r->last_tx : r->last_rx) +
		    (uint64_t)r->agent->conf->ping_interval * 1000;
		ev_timer_set(r->ping_timer, due > r->last_rx ?
		    due - r->last_rx : 1);
	}
	while (is_live(r)) {
		res = buf_getline(&r->in, PROTO_MAXLINE, &line, &len);
		if (res == BUF_LINE_NONE)
			break;
		if (res == BUF_LINE_LONG) {
			if (log_limit(&r->bad_log, ev_now_ms(), r->conf->name,
			    BAD_LINES))
				log_warnx("%s: line over %d bytes from the "
				    "subsystem discarded", r->conf->name,
				    PROTO_MAXLINE);
			send_error(r, "syntax", "line too long");
			continue;
		}
		handle_line(r, line, len);
	}
}

static void
remote_stderr_cb(int fd, short revents, void *arg)
{
	struct remote *r = arg;

	sshm_read_stderr(&r->ssh, r->conf->name);
}

/* --- the session's life ---------------------------------------------------- */

static void
close_session(struct remote *r)
{
	export_session_end(r);	/* its UNEXPORTs go with the last words */
	alive_done(r);
	/* an idle control connection would keep the master from exiting */
	conn_spare_drop(r);
	r->ending = 1;	/* the master's listeners go with it (mfwd.c) */
	withdraw_all(r);
	r->ending = 0;
	ev_io_del(r->in_io);
	ev_io_del(r->out_io);
	r->in_io = r->out_io = NULL;
	/* a last ERROR may be waiting: one try, never blocking */
	if (r->ssh.fd_in != -1 && buf_len(&r->out) > 0)
		(void)buf_write_fd(&r->out, r->ssh.fd_in);
	/* EOF on its stdin ends the subsystem cleanly */
	if (r->ssh.fd_in != -1) {
		close(r->ssh.fd_in);
		r->ssh.fd_in = -1;
	}
	if (r->ssh.fd_out != -1) {
		close(r->ssh.fd_out);
		r->ssh.fd_out = -1;
	}
	ev_timer_stop(r->ping_timer);
	buf_reset(&r->in);
	buf_reset(&r->out);
	/* the counts so far; the windows go on across reconnections */
	log_limit_flush(&r->bad_log, r->conf->name, BAD_LINES);
	log_limit_flush(&r->err_log, r->conf->name,
	    "ERROR reports from the subsystem");
}

/* The session is over. fmt == NULL: it ended by itself, ssh's exit will
 * tell why. kill_now: the peer is unresponsive, stop ssh at once; else
 * its stdin is closed and it gets a moment to deliver our last words and
 * exit by itself. */
static void
remote_lost(struct remote *r, int kill_now, const char *fmt, ...)
{
	va_list ap;

	if (!is_live(r))
		return;
	close_session(r);
	r->pending[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(r->pending, sizeof(r->pending), fmt, ap);
		va_end(ap);
	}
	set_state(r, RS_CLOSING);
	if (r->ssh.pid <= 0)
		return;
	if (kill_now) {
		sshm_signal(&r->ssh, SIGTERM);
		ev_timer_set(r->timer, REMOTE_KILL_MS);
	} else
		ev_timer_set(r->timer, REMOTE_GRACE_MS);
}

static void
schedule(struct remote *r, const char *why)
{
	unsigned int ms;

	if (r->synced_at != 0 && ev_now_ms() - r->synced_at >=
	    REMOTE_HEALTHY_MS)
		r->attempts = 0;
	r->synced_at = 0;
	r->attempts++;
	ms = remote_backoff_ms(r->attempts, arc4random());
	strlcpy(r->last_error, why, sizeof(r->last_error));
	log_warnx("%s: %s; reconnecting in %.1f s", r->conf->name, why,
	    ms / 1000.0);
	set_state(r, RS_BACKOFF);
	ev_timer_set(r->timer, ms);
}

void
remote_child_exited(struct remote *r, int status)
{
	char desc[512];

	/* ssh's last words may still sit in the pipe */
	sshm_read_stderr(&r->ssh, r->conf->name);
	ev_io_del(r->ssh.err_io);
	r->ssh.err_io = NULL;
	sshm_describe_exit(status, sshm_last_line(&r->ssh), desc,
	    sizeof(desc));
	if (is_live(r)) {
		close_session(r);
		r->pending[0] = '\0';
	}
	sshm_reaped(&r->ssh);
	ev_timer_stop(r->timer);
	/* connections still open through the master are gone with it */
	conn_cut_all(r, desc);
	r->sessions_learned = 0;	/* a new connection, maybe a new sshd */
	if (r->agent->quitting) {
		log_debug("%s: %s", r->conf->name, desc);
		set_state(r, RS_STOPPED);
		if (r->agent->remote_stopped != NULL)
			r->agent->remote_stopped(r->agent);
		return;
	}
	if (r->pending[0] != '\0') {
		log_debug("%s: %s", r->conf->name, desc);
		schedule(r, r->pending);
	} else
		schedule(r, desc);
}

/* A link or address came up: whatever kept us from the server may be
 * gone, so a remote waiting out its backoff tries again now, with the
 * backoff restarted. At most one such retry per REMOTE_KICK_MS, so a
 * flapping interface cannot make a reconnect storm. */
void
remote_network_changed(struct remote *r)
{
	uint64_t now = ev_now_ms();

	if (r->state != RS_BACKOFF ||
	    (r->kicked_at != 0 && now - r->kicked_at < REMOTE_KICK_MS))
		return;
	r->kicked_at = now;
	r->attempts = 0;
	log_info("%s: the network changed; reconnecting now", r->conf->name);
	ev_timer_set(r->timer, arc4random_uniform(200));
}

static void
remote_timer_cb(void *arg)
{
	struct remote *r = arg;

	switch (r->state) {
	case RS_BACKOFF:
		remote_connect(r);
		break;
	case RS_CLOSING:
		if (r->ssh.pid <= 0)
			break;
		if (!r->ssh.stopping) {
			/* the session ended but ssh lingers (connections) */
			if (r->pending[0] == '\0')
				strlcpy(r->pending, "the subsystem ended the "
				    "session", sizeof(r->pending));
			sshm_signal(&r->ssh, SIGTERM);
		} else
			sshm_signal(&r->ssh, SIGKILL);
		ev_timer_set(r->timer, REMOTE_KILL_MS);
		break;
	default:
		break;
	}
}

/*
 * The session's only keepalive (the master runs without ServerAlive).
 * With a subsystem of the beat feature (PROTOCOL.md section 5), which
 * sends a BEAT once it has written nothing for ping-interval: a PING
 * only once we have sent nothing for ping-idle (its PONG takes the place
 * of a BEAT), the session lost once nothing has been received for
 * ping-timeout. An idle session costs one line one way per interval and
 * one PING/PONG per ping-idle, and no timer wake-up of its own: every
 * line read sets the timer anew.
 * With an older subsystem, which only answers: a PING once nothing has
 * been received or sent for ping-interval, the session lost once nothing
 * has been received for ping-timeout. An idle session costs one PING/PONG
 * per interval and one timer wake-up; a busy one none, unless it only
 * receives (then the subsystem hears from us every interval, which is
 * what its own timeout counts on).
 * Either way, while connections are open the ssh connection may be full
 * of their data and the PONG or BEAT queued behind it (a bulk transfer
 * on a slow link, a loaded host: 200 transfers in the lab held it back
 * more than 2 s), so the session is then lost only after AGENT_PING_BUSY
 * times the timeout.
 */
static uint64_t
ping_timeout_ms(const struct remote *r)
{
	uint64_t timeout = (uint64_t)r->agent->conf->ping_timeout * 1000;

	if (r->nconns > 0 && r->state != RS_CONNECTING)
		timeout *= AGENT_PING_BUSY;
	return timeout;
}

static void
send_ping(struct remote *r)
{
	char token[16];
	struct msg m;

	snprintf(token, sizeof(token), "%u", ++r->ping_seq);
	memset(&m, 0, sizeof(m));
	m.type = MSG_PING;
	m.token = token;
	send_msg(r, &m);
}

/*
 * Connections the master's own listener took (mfwd.c) are not counted in
 * nconns: their data can hold the subsystem's line back as well. Before
 * the session is given up, a look at how many bytes the master moved:
 * AGENT_IO_MOVING or more in the last AGENT_IO_SAMPLE_MS and it carries
 * data (the link lives, the line may be queued behind it), so look again
 * then, up to AGENT_PING_BUSY times the timeout. A dead link stops the
 * master's counts within a second or so (its socket buffer fills, the
 * peer's window closes). The first look is taken a sample's length
 * before the deadline, so that a quiet master costs no extra second.
 */
static void
io_sample(struct remote *r, uint64_t now)
{
	uint64_t bytes;

	if (sshm_io_bytes(&r->ssh, &bytes) == 0) {
		r->io_bytes = bytes;
		r->io_at = now;
	}
}

/* ms until the next look while the master moves bytes; 0 if it does not,
 * or cannot say, or the busy bound has passed */
static uint64_t
master_moving(struct remote *r, uint64_t now)
{
	uint64_t bytes, prev = r->io_bytes, at = r->io_at, cap;

	cap = (uint64_t)r->agent->conf->ping_timeout * 1000 * AGENT_PING_BUSY;
	if (now - r->last_rx >= cap || sshm_io_bytes(&r->ssh, &bytes) == -1)
		return 0;
	r->io_bytes = bytes;
	r->io_at = now;
	if (at != 0 && now - at <= 2 * AGENT_IO_SAMPLE_MS &&
	    bytes - prev < AGENT_IO_MOVING)
		return 0;
	return AGENT_IO_SAMPLE_MS;
}

/* With a subsystem that BEATs: wake up to give up, or to send our PING,
 * or for the look at the master's counts just before giving up. */
static void
beat_arm(struct remote *r, uint64_t now)
{
	uint64_t next = r->last_rx + ping_timeout_ms(r), ping;

	if (next > now + AGENT_IO_SAMPLE_MS)
		next -= AGENT_IO_SAMPLE_MS;
	ping = r->last_tx + (uint64_t)r->agent->conf->ping_idle * 1000;
	if (ping < next)
		next = ping;
	ev_timer_set(r->ping_timer, next > now ? next - now : 1);
}

/* Has the subsystem sent something not read yet? */
static int
input_waiting(const struct remote *r)
{
	struct pollfd pfd;

	pfd.fd = r->ssh.fd_out;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLIN | POLLHUP));
}

static void
remote_ping_cb(void *arg)
{
	struct remote *r = arg;
	uint64_t interval = (uint64_t)r->agent->conf->ping_interval * 1000;
	uint64_t idle = (uint64_t)r->agent->conf->ping_idle * 1000;
	uint64_t timeout, now = ev_now_ms(), next, wait, again;
	int asked;

	if (!is_live(r))
		return;
	timeout = ping_timeout_ms(r);
	if (r->peer_beat && r->state != RS_CONNECTING) {
		/* it talks by itself: silence is silence, once what it
		 * sent while we were held up has been read */
		if (now - r->last_rx >= timeout) {
			if (input_waiting(r)) {
				ev_timer_set(r->ping_timer, 0);
				return;
			}
			if ((again = master_moving(r, now)) > 0) {
				ev_timer_set(r->ping_timer, again);
				return;
			}
			remote_lost(r, 1, "no answer from the subsystem for %u s"
			    "%s", (unsigned int)(timeout / 1000),
			    r->nconns > 0 ? " (connections open)" : "");
			return;
		}
		if (now + AGENT_IO_SAMPLE_MS >= r->last_rx + timeout)
			io_sample(r, now);
		if (now - r->last_tx >= idle) {
			send_ping(r);
			if (!is_live(r))
				return;
		}
		beat_arm(r, now);
		return;
	}
	/* Our own loop can be late: a blocking avahi call takes seconds
	 * while avahi-daemon probes a thousand services. The subsystem is
	 * silent only if it had a PING to answer for wait ms, and data
	 * waiting unread is read first (the reads of the next turn come
	 * before its timers). */
	wait = timeout > interval ? timeout - interval : timeout;
	asked = r->ping_first > r->last_rx;
	if (now - r->last_rx >= timeout && input_waiting(r)) {
		ev_timer_set(r->ping_timer, 0);
		return;
	}
	if (now - r->last_rx >= timeout && (r->state == RS_CONNECTING ||
	    (asked && now - r->ping_first >= wait))) {
		if (r->state != RS_CONNECTING &&
		    (again = master_moving(r, now)) > 0) {
			ev_timer_set(r->ping_timer, again);
			return;
		}
		if (r->state == RS_CONNECTING)
			remote_lost(r, 1, "no greeting from the subsystem after "
			    "%u s", r->agent->conf->ping_timeout);
		else
			remote_lost(r, 1, "no answer from the subsystem for %u s"
			    "%s", (unsigned int)(timeout / 1000),
			    r->nconns > 0 ? " (connections open)" : "");
		return;
	}
	if (r->state != RS_CONNECTING && (now - r->last_rx >= interval ||
	    now - r->last_tx >= interval)) {
		send_ping(r);
		if (!is_live(r))
			return;
		if (!asked) {
			r->ping_first = now;
			asked = 1;
		}
	}
	next = r->last_rx + timeout;
	if (r->state != RS_CONNECTING && asked && r->ping_first + wait > next)
		next = r->ping_first + wait;
	if (r->state != RS_CONNECTING) {
		if (r->last_rx + interval > now && r->last_rx + interval < next)
			next = r->last_rx + interval;
		if (r->last_tx + interval < next)
			next = r->last_tx + interval;
	}
	ev_timer_set(r->ping_timer, next > now ? next - now : 1);
}

static void
remote_connect(struct remote *r)
{
	struct ev_loop *loop = r->agent->loop;
	char ctlpath[sizeof(r->ssh.ctlpath)], *cause;

	r->gen++;
	if (sshm_ctlpath(ctlpath, sizeof(ctlpath), r->agent->rundir,
	    r->conf->name, r->gen) == -1) {
		schedule(r, "the runtime directory's path is too long for a "
		    "control socket");
		return;
	}
	if (sshm_start(&r->ssh, r->agent->ssh_path, ctlpath,
	    r->conf->destination, r->conf->ssh_options,
	    r->conf->nssh_options, r->conf->subsystem_command,
	    &cause) == -1) {
		schedule(r, cause);
		free(cause);
		return;
	}
	buf_reset(&r->in);
	buf_reset(&r->out);
	r->maxline = PROTO_MAXLINE;
	r->peer_id[0] = '\0';
	r->peer_relay = 0;
	r->peer_beat = 0;
	r->relay_mode = 0;
	r->pending[0] = '\0';
	r->synced_at = 0;
	r->maxhops = r->agent->conf->max_hops;
	if ((r->in_io = ev_io_add(loop, r->ssh.fd_out, POLLIN, remote_read_cb,
	    r)) == NULL ||
	    (r->out_io = ev_io_add(loop, r->ssh.fd_in, 0, remote_write_cb,
	    r)) == NULL ||
	    (r->ssh.err_io = ev_io_add(loop, r->ssh.fd_err, POLLIN,
	    remote_stderr_cb, r)) == NULL)
		fatalx("out of memory");
	set_state(r, RS_CONNECTING);
	r->last_rx = r->last_tx = ev_now_ms();
	r->ping_first = 0;
	r->io_bytes = r->io_at = 0;	/* a new master counts from 0 */
	log_info("%s: connecting to %s (ssh pid %ld)", r->conf->name,
	    r->conf->destination, (long)r->ssh.pid);
	send_hello(r);
	ev_timer_set(r->ping_timer, (uint64_t)r->agent->conf->ping_timeout *
	    1000);
}

/* --- life cycle ---------------------------------------------------------------- */

struct remote *
remote_new(struct agent *a, struct remote_conf *rc)
{
	struct remote *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->agent = a;
	r->conf = rc;
	r->state = RS_BACKOFF;
	sshm_init(&r->ssh);
	r->alive_fd = -1;
	r->spare_fd = -1;
	r->open_result = reach_result;
	buf_init(&r->in, REMOTE_INBUF);
	buf_init(&r->out, REMOTE_OUTBUF);
	isvctable_init(&r->table, rc->max_services);
	TAILQ_INIT(&r->conns);
	TAILQ_INIT(&r->queue);
	if ((r->timer = ev_timer_add(a->loop, remote_timer_cb, r)) == NULL ||
	    (r->ping_timer = ev_timer_add(a->loop, remote_ping_cb,
	    r)) == NULL ||
	    (r->queue_timer = ev_timer_add(a->loop, relay_queue_cb,
	    r)) == NULL) {
		ev_timer_del(r->timer);
		ev_timer_del(r->ping_timer);
		free(r);
		return NULL;
	}
	return r;
}

void
remote_start(struct remote *r)
{
	remote_connect(r);
}

void
remote_stop(struct remote *r)
{
	int grace = 0;

	if (is_live(r)) {
		/* UNEXPORTs to deliver: ssh gets EOF and a moment to pass
		 * them on and exit by itself, as in remote_lost() */
		grace = export_live(r) > 0;
		close_session(r);
	}
	while (!TAILQ_EMPTY(&r->conns))
		conn_free(TAILQ_FIRST(&r->conns));
	ev_timer_stop(r->ping_timer);
	if (r->ssh.pid > 0 && grace) {
		set_state(r, RS_CLOSING);
		ev_timer_set(r->timer, REMOTE_GRACE_MS);
	} else if (r->ssh.pid > 0) {
		set_state(r, RS_CLOSING);
		sshm_signal(&r->ssh, SIGTERM);
		ev_timer_set(r->timer, REMOTE_KILL_MS);
	} else {
		ev_timer_stop(r->timer);
		set_state(r, RS_STOPPED);
	}
}

void
remote_free(struct remote *r)
{
	if (r == NULL)
		return;
	if (is_live(r))
		close_session(r);
	withdraw_all(r);
	while (!TAILQ_EMPTY(&r->conns))
		conn_free(TAILQ_FIRST(&r->conns));
	conn_spare_drop(r);
	ev_io_del(r->in_io);
	ev_io_del(r->out_io);
	ev_timer_del(r->timer);
	ev_timer_del(r->ping_timer);
	ev_timer_del(r->queue_timer);
	if (r->ssh.pid > 0)
		sshm_signal(&r->ssh, SIGKILL);
	sshm_close(&r->ssh);
	buf_free(&r->ssh.errbuf);
	buf_free(&r->in);
	buf_free(&r->out);
	splice_forget_ports(r);
	reach_forget_all(r);
	export_remote_free(r);
	free(r);
}
