/* The protocol on stdin/stdout (PROTOCOL.md): greeting, BROWSE with its
 * snapshot and live events, EXPORT (handed to export.c), RELAY,
 * keepalive, errors.
 *
 * Memory stays bounded whatever the peer does: stdin is read only while
 * the output has room for the answers, and service events are not queued
 * as lines but as dirty entries of the table, written out as the output
 * drains (svctable_flush), so a peer that stops reading costs at most the
 * table (max-services) and one output buffer. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "siteid.h"
#include "subsystem.h"

#define OUT_SOFT	65536	/* service events stop here */
#define OUT_MAX		(OUT_SOFT + 4 * PROTO_MAXLINE)
#define LINGER_MS	5000	/* to write a last ERROR */
#define MISSED_PINGS	3	/* silent intervals before the peer is dead */

/* States; handlers name the ones they are valid in. */
#define ST_HELLO	0x01	/* waiting for the peer's HELLO */
#define ST_READY	0x02	/* greeted, no request yet */
#define ST_BROWSE	0x04	/* a browse session */
#define ST_RELAY_WAIT	0x08	/* RELAY received, resolving, connecting */
#define ST_RELAYING	0x10	/* bytes, no more lines */
#define ST_CLOSING	0x20	/* a fatal ERROR is being written */
#define ST_LINES	(ST_HELLO | ST_READY | ST_BROWSE)

struct session {
	struct ev_loop		*loop;
	const struct policy	*pol;
	char			 siteid[SITEID_MAX + 1];
	int			 in_fd, out_fd;
	int			 in_flags, out_flags;
	struct buf		 in, out;
	struct ev_io		*in_io, *out_io;
	int			 state;
	int			 in_eof;
	size_t			 peer_maxline;

	struct svctable		*t;
	struct browse		*b;
	struct exports		*x;		/* after HELLO */
	int			 exported;	/* an EXPORT came */
	int			 down_pending;	/* tell AVAHI down after HELLO */
	int			 down_told;
	int			 up_owed;	/* AVAHI up, after the diff */
	unsigned int		 syncs_owed;	/* SYNCED, after the diff */

	struct ev_timer		*flush_t;
	struct ev_timer		*keepalive_t;
	struct ev_timer		*linger_t;
	struct ev_timer		*resolve_t;	/* relay: RELAY_RESOLVE_MS */
	int			 resolve_late;	/* ... has passed */
	uint64_t		 last_input;
	uint64_t		 last_output;	/* bytes written to the agent */
	unsigned int		 peer_ping;	/* HELLO ping=, 0: none */
	unsigned int		 peer_beat;	/* HELLO beat=, 0: not asked */
	unsigned int		 peer_idle;	/* HELLO idle=, with beat= */

	/* relay sessions */
	struct svc		 target;	/* name type domain */
	int			 slot_fd;
	struct relay		*relay;

	int			 exit_code;
	struct log_limit	 bad_log;	/* bad lines from the peer */
	struct log_limit	 err_log;	/* its non-fatal ERRORs */
};

#define BAD_LINES	"bad lines from the peer"
#define PEER_ERRORS	"ERROR reports from the peer"

static void	update_io(struct session *);
static void	process_lines(struct session *);
static void	flush(struct session *);
static void	relay_check(struct session *);
static void	keepalive_arm(struct session *);

static void
finish(struct session *s, int code)
{
	log_limit_flush(&s->bad_log, NULL, BAD_LINES);
	log_limit_flush(&s->err_log, NULL, PEER_ERRORS);
	s->exit_code = code;
	ev_loop_break(s->loop);
}

/* At -dd: the line just appended to the output (from offset before). */
static void
log_sent(struct session *s, size_t before)
{
	size_t len = buf_len(&s->out) - before - 1;

	if (log_getverbose() >= 2)
		log_debug("-> %.*s", (int)(len > 300 ? 300 : len),
		    (const char *)buf_ptr(&s->out) + before);
}

/* Queue a control line. These always fit: input is read only while the
 * output is below OUT_SOFT + PROTO_MAXLINE, and one input line makes at
 * most one control line. */
static void
send_msg(struct session *s, struct msg *m)
{
	size_t before = buf_len(&s->out);

	if (msg_format(&s->out, m, s->peer_maxline) == -1) {
		log_warnx("cannot queue %s (%zu bytes queued)",
		    msg_verb(m->type), buf_len(&s->out));
		return;
	}
	log_sent(s, before);
	update_io(s);
}

static void
send_simple(struct session *s, enum msg_type type)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	send_msg(s, &m);
}

static void
send_avahi(struct session *s, int up)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = MSG_AVAHI;
	m.avahi_up = up;
	send_msg(s, &m);
}

static void
send_error(struct session *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
send_error(struct session *s, const char *code, const char *fmt, ...)
{
	char text[512];
	struct msg m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_scrub(text);
	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = (char *)code;
	m.text = text;
	send_msg(s, &m);
}

static void
linger_timer(void *arg)
{
	struct session *s = arg;

	log_debug("peer does not read; leaving %zu bytes unsent",
	    buf_len(&s->out));
	finish(s, s->exit_code);
}

/* Send a fatal ERROR and end the session once it is written. */
static void
session_close(struct session *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
session_close(struct session *s, const char *code, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info("ending session: %s: %s", code, text);
	send_error(s, code, "%s", text);
	s->state = ST_CLOSING;
	s->exit_code = 1;
	ev_timer_stop(s->keepalive_t);
	ev_timer_set(s->linger_t, LINGER_MS);
	update_io(s);
}

/* Flush from the loop, after every event of this round was taken in (a
 * timer armed for a held entry is brought forward: flush re-arms it). */
static void
schedule_flush(struct session *s)
{
	ev_timer_set(s->flush_t, 0);
}

/* ------------------------------------------------------------------------
 * Service events. */

static int
emit(void *arg, enum msg_type type, uint32_t id, const struct svc *sv)
{
	struct session *s = arg;
	struct msg m;
	size_t before = buf_len(&s->out);

	if (before >= OUT_SOFT)
		return SVC_EMIT_FULL;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.id = id;
	if (sv != NULL)
		m.svc = *sv;
	if (msg_format(&s->out, &m, s->peer_maxline) == -1) {
		/* there is room (OUT_SOFT < OUT_MAX - maxline): too long */
		log_warnx("\"%s\" %s: line longer than the peer's maxline "
		    "%zu, not offered", sv->name, sv->type, s->peer_maxline);
		return SVC_EMIT_TOOBIG;
	}
	log_sent(s, before);
	return 0;
}

static void
flush(struct session *s)
{
	uint64_t now = ev_now_ms(), due;
	int left, force;

	if (s->state == ST_READY && s->up_owed) {
		s->up_owed = 0;
		send_avahi(s, 1);
	}
	if (s->state != ST_BROWSE)
		return;
	/* While the view settles (up to avahi's ALL_FOR_NOW, a second), what
	 * avahi's cache held is already resolved: send it, SYNCED comes
	 * after. After a restart only the settled difference is sent. */
	if (browse_settling(s->b) &&
	    (browse_restarting(s->b) || !browse_cache_done(s->b)))
		return;
	force = s->syncs_owed > 0 || s->up_owed;
	due = svctable_flush(s->t, now, force, emit, s, &left);
	if (due != 0)
		ev_timer_set(s->flush_t, due > now ? due - now : 0);
	if (left || browse_settling(s->b)) {
		update_io(s);	/* the rest when the output drains */
		return;
	}
	if (s->up_owed) {
		s->up_owed = 0;
		send_avahi(s, 1);
	}
	for (; s->syncs_owed > 0; s->syncs_owed--)
		send_simple(s, MSG_SYNCED);
	update_io(s);
}

static void
flush_timer(void *arg)
{
	struct session *s = arg;

	flush(s);
}

/* ------------------------------------------------------------------------
 * Events from browse.c. */

static void
ev_changed(void *arg)
{
	struct session *s = arg;

	if (s->state == ST_RELAY_WAIT)
		relay_check(s);
	else {
		if (exports_count(s->x) > 0)
			exports_lan_changed(s->x, s->t);
		schedule_flush(s);
	}
}

static void
ev_avahi(void *arg, int up)
{
	struct session *s = arg;

	if (s->state & (ST_RELAY_WAIT | ST_RELAYING | ST_CLOSING)) {
		if (s->state == ST_RELAY_WAIT)
			relay_check(s);
		return;
	}
	if (!up) {
		log_warnx("avahi-daemon is gone; keeping the session");
		if (s->state == ST_HELLO) {
			s->down_pending = 1;
			return;
		}
		send_avahi(s, 0);
		s->down_told = 1;
		return;
	}
	s->down_pending = 0;
	if (!s->down_told)
		return;
	s->down_told = 0;
	s->up_owed = 1;
	if (s->state == ST_BROWSE)
		s->syncs_owed++;
	schedule_flush(s);
}

static void
ev_settled(void *arg)
{
	struct session *s = arg;

	if (s->state == ST_RELAY_WAIT)
		relay_check(s);
	else
		schedule_flush(s);
}

static void
ev_problem(void *arg, const char *code, const char *msg)
{
	struct session *s = arg;

	if (s->state & (ST_READY | ST_BROWSE))
		send_error(s, code, "%s", msg);
}

static const struct browse_events browse_events = {
	ev_changed, ev_avahi, ev_settled, ev_problem
};

/* ------------------------------------------------------------------------
 * Relay sessions. */

static void
relay_done(void *arg)
{
	struct session *s = arg;

	log_info("relay to \"%s\" %s ended", s->target.name, s->target.type);
	finish(s, 0);
}

static void
relay_connected(void *arg, int fd, const char *err)
{
	struct session *s = arg;
	struct relay *r = s->relay;

	if (fd == -1) {
		s->relay = NULL;
		relay_free(r);
		session_close(s, "connect", "\"%s\" %s: %s", s->target.name,
		    s->target.type, err);
		return;
	}
	/* avahi is not needed any more */
	browse_free(s->b);
	s->b = NULL;
	svctable_free(s->t);
	s->t = NULL;
	ev_timer_stop(s->keepalive_t);
	ev_timer_stop(s->flush_t);
	send_simple(s, MSG_RELAYING);
	s->state = ST_RELAYING;
	ev_io_del(s->in_io);
	ev_io_del(s->out_io);
	s->in_io = s->out_io = NULL;
	if (relay_start(r, s->in_fd, s->out_fd, &s->in, s->in_eof, &s->out,
	    relay_done, s) == -1) {
		log_warn("relay");
		finish(s, 1);
	}
}

/* The address to connect to, in its own family (an IPv4-mapped address
 * becomes IPv4); never the server host itself through a crafted record. */
static int
relay_target(struct session *s, const struct svcentry *e, char *addr,
    size_t addrlen)
{
	char *cause = NULL;

	if (policy_relay_target(s->pol, e->name, e->type, e->state.addr,
	    &cause) == -1) {
		log_warnx("relay to \"%s\" %s refused: %s", e->name, e->type,
		    cause != NULL ? cause : "bad address");
		session_close(s, "denied", "\"%s\" %s: %s", e->name, e->type,
		    cause != NULL ? cause : "bad address");
		free(cause);
		return -1;
	}
	if (policy_addr_unmap(e->state.addr, addr, addrlen) == -1) {
		session_close(s, "internal", "\"%s\" %s: address %s too long",
		    e->name, e->type, e->state.addr);
		return -1;
	}
	return 0;
}

static void
relay_check(struct session *s)
{
	struct svcentry *e;
	char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	int offered;

	if (s->state != ST_RELAY_WAIT || s->relay != NULL)
		return;
	if (!browse_up(s->b)) {
		session_close(s, "unavailable", "avahi-daemon is not running");
		return;
	}
	e = svctable_find(s->t, s->target.name, s->target.type,
	    s->target.domain);
	offered = e != NULL && svctable_offered(s->t, e);
	if (offered && !e->pending &&
	    (browse_cache_done(s->b) || !browse_settling(s->b))) {
		if (relay_target(s, e, addr, sizeof(addr)) == -1)
			return;
		log_info("relay to \"%s\" %s at %s port %u", e->name, e->type,
		    addr, e->state.port);
		s->relay = relay_connect(s->loop, addr, e->state.port,
		    relay_connected, s);
		if (s->relay == NULL)
			session_close(s, "internal", "relay: %s",
			    strerror(errno));
		return;
	}
	/* a resolver still at work (avahi gives each up after a few
	 * seconds, then the next address is tried) decides nothing yet */
	if (browse_settling(s->b) || (e != NULL && e->pending))
		return;
	/* BROWSE_SETTLE_MAX_MS suits browse sessions, which send what they
	 * have and go on. A relay names one service the agent saw a moment
	 * ago, and a loaded avahi-daemon (a burst of relay sessions, each
	 * its own client) may take longer to list it: only a complete view
	 * (avahi's cache listed, no resolver pending) says it is gone, or
	 * RELAY_RESOLVE_MS. */
	if (!s->resolve_late && (!browse_cache_done(s->b) ||
	    (e != NULL && e->pending)))
		return;
	if (!browse_cache_done(s->b) || (e != NULL && e->pending))
		session_close(s, "no-service", "\"%s\" %s %s: avahi-daemon "
		    "has not %s it within %d s", s->target.name,
		    s->target.type, s->target.domain, e == NULL ? "listed" :
		    "resolved", RELAY_RESOLVE_MS / 1000);
	else if (e != NULL && (e->denied || (e->resolved && !offered)))
		session_close(s, "denied", "\"%s\" %s is not offered",
		    s->target.name, s->target.type);
	else
		session_close(s, "no-service", "\"%s\" %s %s is not "
		    "advertised", s->target.name, s->target.type,
		    s->target.domain);
}

static void
resolve_timer(void *arg)
{
	struct session *s = arg;

	s->resolve_late = 1;
	relay_check(s);
}

/* ------------------------------------------------------------------------
 * Requests. */

/* export.c's answers (EXPORTING, DROPPED) */
static void
export_send(void *arg, struct msg *m)
{
	send_msg(arg, m);
}

static void
on_hello(struct session *s, struct msg *m)
{
	if (m->major != PROTO_MAJOR) {
		session_close(s, "version", "protocol version %u.%u is not "
		    "supported (this is %s)", m->major, m->minor,
		    PROTO_VERSION);
		return;
	}
	if (strcmp(m->role, "agent") != 0)
		log_warnx("peer %s calls itself \"%s\", not agent", m->peer_id,
		    m->role);
	s->peer_maxline = PROTO_MAXLINE;
	if (m->maxline != 0 && m->maxline < s->peer_maxline)
		s->peer_maxline = m->maxline;
	if (svctable_set_peer(s->t, m->peer_id, m->maxhops,
	    proto_has_feature(m->features, "update")) == -1)
		fatalx("out of memory");
	log_info("peer %s %u.%u (%s) maxline %zu maxhops %u", m->peer_id,
	    m->major, m->minor, m->features[0] ? m->features : "no features",
	    s->peer_maxline, s->t->maxhops);
	s->x = exports_new(s->loop, s->pol, s->siteid, m->peer_id,
	    s->t->maxhops, export_send, s);
	s->peer_ping = m->ping;
	/* asked for BEATs: the agent then pings only after idle= seconds
	 * of its own silence (PROTOCOL.md section 5) */
	s->peer_beat = m->beat;
	s->peer_idle = m->beat > 0 ? m->idle : 0;
	if (s->peer_beat > 0)
		log_info("BEAT after %u s of silence; the peer pings after "
		    "%u s of its own", s->peer_beat, s->peer_idle > 0 ?
		    s->peer_idle : s->peer_ping);
	keepalive_arm(s);	/* the new limit */
	s->state = ST_READY;
	if (s->down_pending) {
		s->down_pending = 0;
		send_avahi(s, 0);
		s->down_told = 1;
	}
}

static void
on_browse(struct session *s, struct msg *m)
{
	size_t i;

	if (m->ntypes == 0)
		log_info("BROWSE *");
	for (i = 0; i < m->ntypes; i++)
		log_info("BROWSE %s", m->types[i]);
	s->state = ST_BROWSE;
	s->syncs_owed++;
	browse_set_types(s->b, m->types, m->ntypes);
	schedule_flush(s);
}

static void
on_relay(struct session *s, struct msg *m)
{
	char *cause = NULL;

	if (s->exported) {
		send_error(s, "state", "RELAY after EXPORT: this is a browse "
		    "session");
		return;
	}
	s->state = ST_RELAY_WAIT;	/* what follows is payload */
	if (svc_copy(&s->target, &m->svc) == -1)
		fatalx("out of memory");
	log_info("RELAY \"%s\" %s %s", m->svc.name, m->svc.type,
	    m->svc.domain);
	if (!s->pol->relay) {
		session_close(s, "denied", "relay sessions are disabled on "
		    "this server");
		return;
	}
	if (!browse_type_carried(m->svc.type)) {
		session_close(s, "denied", "\"%s\" %s: %s", m->svc.name,
		    m->svc.type, BROWSE_UDP_WHY);
		return;
	}
	if (policy_match(s->pol, m->svc.name, m->svc.type, NULL, NULL) ==
	    POLICY_DENY) {
		session_close(s, "denied", "\"%s\" %s is not offered",
		    m->svc.name, m->svc.type);
		return;
	}
	if ((s->slot_fd = relay_slot_acquire(s->pol->max_relays,
	    &cause)) == -1) {
		session_close(s, "limit", "%s", cause);
		free(cause);
		return;
	}
	s->in.max = RELAY_BUFSZ;	/* room for early payload */
	ev_timer_set(s->resolve_t, RELAY_RESOLVE_MS);
	if (browse_set_name(s->b, m->svc.name) == -1 ||
	    browse_set_types(s->b, &m->svc.type, 1) == -1)
		fatalx("out of memory");
	relay_check(s);
}

static void
on_export(struct session *s, struct msg *m)
{
	s->exported = 1;
	switch (m->type) {
	case MSG_EXPORT:
		exports_export(s->x, m, browse_up(s->b), s->t);
		break;
	case MSG_FORWARDING:
		exports_forwarding(s->x, m->id);
		break;
	default:
		exports_unexport(s->x, m->id);
		break;
	}
}

/* PING and PONG: any line counts as a sign of life (keepalive_timer); a
 * PING is answered with its token. */
static void
on_keepalive(struct session *s, struct msg *m)
{
	struct msg r;

	if (m->type == MSG_PING) {
		msg_pong(&r, m);
		send_msg(s, &r);
	}
}

static void
on_error(struct session *s, struct msg *m)
{
	if (log_limit(&s->err_log, ev_now_ms(), NULL, PEER_ERRORS) ||
	    proto_error_is_fatal(m->code))
		log_warnx("peer: ERROR %s %s", m->code, m->text);
	if (proto_error_is_fatal(m->code))
		finish(s, 1);
}

static const struct handler {
	enum msg_type	 type;
	int		 states;
	void		(*fn)(struct session *, struct msg *);
} handlers[] = {
	{ MSG_HELLO,	ST_HELLO,		on_hello },
	{ MSG_BROWSE,	ST_READY | ST_BROWSE,	on_browse },
	{ MSG_RELAY,	ST_READY,		on_relay },
	{ MSG_EXPORT,	ST_READY | ST_BROWSE,	on_export },
	{ MSG_FORWARDING, ST_READY | ST_BROWSE,	on_export },
	{ MSG_UNEXPORT,	ST_READY | ST_BROWSE,	on_export },
	{ MSG_PING,	ST_LINES,		on_keepalive },
	{ MSG_PONG,	ST_LINES,		on_keepalive },
	{ MSG_ERROR,	ST_LINES,		on_error },
};

/* A line from the agent that we answer with an ERROR: logged too, within
 * limits (a broken or hostile peer may send nothing else). */
static void
bad_line(struct session *s, const char *why)
{
	if (log_limit(&s->bad_log, ev_now_ms(), NULL, BAD_LINES))
		log_warnx("bad line from the peer ignored: %s", why);
}

static void
handle_line(struct session *s, char *line, size_t len)
{
	const struct handler *h = NULL;
	struct msg m;
	char err[256], *cause;
	const char *code;
	size_t i;

	if (log_getverbose() >= 2)
		log_debug("<- %.*s", (int)(len > 200 ? 200 : len), line);
	if (msg_parse(line, len, &m, &cause, &code) == -1) {
		bad_line(s, cause);
		if (m.type == MSG_EXPORT && m.id != 0 && s->x != NULL &&
		    (s->state & (ST_READY | ST_BROWSE))) {
			/* the id parsed: the export is refused, by id */
			s->exported = 1;
			exports_bad(s->x, m.id, cause);
		} else
			send_error(s, code, "%s", cause);
		free(cause);
		msg_free(&m);
		return;
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == m.type)
			h = &handlers[i];
	if (h == NULL || (h->states & s->state) == 0) {
		if (h == NULL)
			snprintf(err, sizeof(err), "%s is not sent to a "
			    "subsystem", msg_verb(m.type));
		else
			snprintf(err, sizeof(err), "%s is not valid %s",
			    msg_verb(m.type), s->state == ST_HELLO ?
			    "before HELLO" : "now");
		bad_line(s, err);
		send_error(s, "state", "%s", err);
	} else
		h->fn(s, &m);
	msg_free(&m);
}

static void
process_lines(struct session *s)
{
	char *line;
	size_t len;
	int r;

	while ((s->state & ST_LINES) &&
	    buf_len(&s->out) < OUT_SOFT + PROTO_MAXLINE) {
		r = buf_getline(&s->in, s->pol->max_line, &line, &len);
		if (r == BUF_LINE_NONE)
			break;
		if (r == BUF_LINE_LONG) {
			bad_line(s, "line too long");
			send_error(s, "syntax", "line longer than %u bytes",
			    s->pol->max_line);
		}
		else
			handle_line(s, line, len);
	}
}

/* ------------------------------------------------------------------------
 * stdin, stdout. */

static void
update_io(struct session *s)
{
	short ev = 0;

	if (s->in_io != NULL) {
		if (!s->in_eof && (s->state & (ST_LINES | ST_RELAY_WAIT)) &&
		    buf_room(&s->in) > 0 &&
		    buf_len(&s->out) < OUT_SOFT + PROTO_MAXLINE)
			ev = POLLIN;
		ev_io_set(s->in_io, ev);
	}
	if (s->out_io != NULL)
		ev_io_set(s->out_io, buf_len(&s->out) > 0 ? POLLOUT : 0);
}

static void
in_cb(int fd, short revents, void *arg)
{
	struct session *s = arg;
	ssize_t n;

	n = buf_read_fd(&s->in, fd);
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		log_warn("read from the channel");
		finish(s, 1);
		return;
	}
	s->last_input = ev_now_ms();
	if (n == 0) {
		s->in_eof = 1;
		if (s->state == ST_RELAY_WAIT && buf_len(&s->in) > 0) {
			/* payload, then end of input: relay it as it is */
			update_io(s);
			return;
		}
		log_info("end of input, session ends");
		finish(s, s->exit_code);
		return;
	}
	process_lines(s);
	update_io(s);
}

static void
out_cb(int fd, short revents, void *arg)
{
	struct session *s = arg;

	if (buf_write_fd(&s->out, fd) == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EPIPE)
			log_info("the channel is closed, session ends");
		else
			log_warn("write to the channel");
		finish(s, errno == EPIPE ? s->exit_code : 1);
		return;
	}
	s->last_output = ev_now_ms();
	if (s->peer_beat > 0)
		keepalive_arm(s);	/* the next BEAT is due later */
	if (s->state == ST_CLOSING) {
		if (buf_len(&s->out) == 0)
			finish(s, s->exit_code);
		return;
	}
	process_lines(s);
	flush(s);
	update_io(s);
}

/*
 * Two duties, one timer. Dropping a silent agent: nothing has come from
 * it for MISSED_PINGS of its ping periods (idle= with beat=, else ping=,
 * else our own keepalive; keepalive 0 turns dropping off). The agent's
 * own keepalive, when its HELLO asked for it (beat=): a BEAT once we have
 * written nothing for that long, so that an idle link carries one line
 * one way per period instead of a PING and its PONG. A BEAT is not queued
 * behind output that has not gone out yet: that output will do. The
 * timer is set for whichever comes first, so an idle subsystem wakes
 * only to send its BEAT.
 */
static uint64_t
drop_limit(const struct session *s)
{
	unsigned int period = s->pol->keepalive;

	if (s->peer_idle > 0)
		period = s->peer_idle;
	else if (s->peer_ping > 0)
		period = s->peer_ping;
	return (uint64_t)MISSED_PINGS * period * 1000;
}

static void
keepalive_arm(struct session *s)
{
	uint64_t now = ev_now_ms(), next = 0, t;

	/* closing or relaying: neither duty is left */
	if (s->pol->keepalive > 0 && (s->state & (ST_LINES | ST_RELAY_WAIT)))
		next = s->last_input + drop_limit(s);
	if (s->peer_beat > 0 && (s->state & ST_LINES)) {
		t = s->last_output + (uint64_t)s->peer_beat * 1000;
		if (next == 0 || t < next)
			next = t;
	}
	if (next == 0)
		ev_timer_stop(s->keepalive_t);
	else
		ev_timer_set(s->keepalive_t, next > now ? next - now : 1);
}

static void
keepalive_timer(void *arg)
{
	struct session *s = arg;
	uint64_t now = ev_now_ms(), silent = now - s->last_input;

	if (s->pol->keepalive > 0 && silent >= drop_limit(s)) {
		log_warnx("peer silent for %llu s, session ends",
		    (unsigned long long)silent / 1000);
		finish(s, 1);
		return;
	}
	if (s->peer_beat > 0 && (s->state & ST_LINES) &&
	    now - s->last_output >= (uint64_t)s->peer_beat * 1000) {
		if (buf_len(&s->out) == 0)
			send_simple(s, MSG_BEAT);
		/* the line (or what holds it back) is written presently */
		s->last_output = now;
	}
	keepalive_arm(s);
}

static void
signal_cb(int signo, void *arg)
{
	struct session *s = arg;

	log_info("%s, session ends", strsignal(signo));
	finish(s, 0);
}

/* ------------------------------------------------------------------------
 * Life cycle. */

struct session *
session_new(struct ev_loop *loop, const struct policy *pol, const char *siteid,
    int in_fd, int out_fd)
{
	struct session *s;
	struct msg m;
	char features[64];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	s->pol = pol;
	strlcpy(s->siteid, siteid, sizeof(s->siteid));
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->slot_fd = -1;
	s->state = ST_HELLO;
	s->peer_maxline = PROTO_MAXLINE;
	s->last_input = ev_now_ms();
	buf_init(&s->in, pol->max_line);
	buf_init(&s->out, OUT_MAX);
	s->in_flags = fcntl(in_fd, F_GETFL);
	s->out_flags = fcntl(out_fd, F_GETFL);
	if (s->in_flags == -1 || s->out_flags == -1 ||
	    fcntl(in_fd, F_SETFL, s->in_flags | O_NONBLOCK) == -1 ||
	    fcntl(out_fd, F_SETFL, s->out_flags | O_NONBLOCK) == -1) {
		log_warn("fcntl");
		free(s);
		return NULL;
	}
	if ((s->in_io = ev_io_add(loop, in_fd, POLLIN, in_cb, s)) == NULL ||
	    (s->out_io = ev_io_add(loop, out_fd, 0, out_cb, s)) == NULL ||
	    (s->flush_t = ev_timer_add(loop, flush_timer, s)) == NULL ||
	    (s->keepalive_t = ev_timer_add(loop, keepalive_timer, s)) == NULL ||
	    (s->linger_t = ev_timer_add(loop, linger_timer, s)) == NULL ||
	    (s->resolve_t = ev_timer_add(loop, resolve_timer, s)) == NULL ||
	    ev_signal(loop, SIGTERM, signal_cb, s) == -1 ||
	    ev_signal(loop, SIGINT, signal_cb, s) == -1 ||
	    ev_signal(loop, SIGHUP, signal_cb, s) == -1 ||
	    (s->t = svctable_new(pol, NULL, NULL)) == NULL) {
		session_free(s);
		return NULL;
	}

	/* The greeting goes first, before anything can go wrong with avahi. */
	snprintf(features, sizeof(features), "%supdate,%s,%s",
	    pol->relay ? "relay," : "", PROTO_FEATURE_EXPORT,
	    PROTO_FEATURE_BEAT);
	msg_hello(&m, s->siteid, "subsystem", features, pol->max_line,
	    pol->max_hops);
	send_msg(s, &m);
	/* and out now: connecting to a busy avahi-daemon (browse_new) can
	 * take seconds, which the agent would count against the greeting;
	 * a failure shows again in out_cb */
	(void)buf_write_fd(&s->out, out_fd);
	s->last_output = ev_now_ms();

	if ((s->b = browse_new(loop, s->t, pol, &browse_events, s)) == NULL) {
		session_free(s);
		return NULL;
	}
	if (pol->keepalive > 0)
		ev_timer_set(s->keepalive_t,
		    (uint64_t)MISSED_PINGS * pol->keepalive * 1000);
	return s;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	exports_free(s->x);	/* goodbyes for what was published */
	browse_free(s->b);
	svctable_free(s->t);
	relay_free(s->relay);
	ev_io_del(s->in_io);
	ev_io_del(s->out_io);
	ev_timer_del(s->flush_t);
	ev_timer_del(s->keepalive_t);
	ev_timer_del(s->linger_t);
	ev_timer_del(s->resolve_t);
	if (s->state != ST_RELAYING) {
		/* leave the descriptors as they were given to us */
		fcntl(s->in_fd, F_SETFL, s->in_flags);
		fcntl(s->out_fd, F_SETFL, s->out_flags);
	}
	if (s->slot_fd != -1)
		close(s->slot_fd);
	svc_free(&s->target);
	buf_free(&s->in);
	buf_free(&s->out);
	free(s);
}

int
session_run(struct session *s)
{
	if (ev_loop_run(s->loop) == -1)
		return 1;
	return s->exit_code;
}
