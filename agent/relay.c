/* Accepted connections. The normal path copies no byte: the accepted
 * socket goes to the ssh master with a mux NEW_STDIO_FWD, and the control
 * connection is watched until EOF (the relay ended) or FAILED.
 *
 * Relay mode, for servers that forbid TCP forwarding: the master runs a
 * second rnsplice subsystem session (mux NEW_SESSION) on two pipes of
 * ours; we write HELLO and RELAY, read HELLO and RELAYING, then copy bytes
 * between the accepted socket and the pipes, with bounded buffers and
 * half-close passed on both ways (PROTOCOL.md section 6). Pipes, not the
 * socket itself, because ssh closes (not shuts down) the fd it writes to,
 * so EOF would never reach us through a shared socket.
 *
 * sshd's refusal of a forward is not told apart from an unreachable
 * target ("Session open refused by peer" either way), so: when a direct
 * forward fails and the subsystem offers relays, that connection is
 * retried in relay mode; if that works, the remote switches to relay mode
 * for the rest of the session (logged once).
 *
 * sshd allows MaxSessions sessions per connection (default 10, our own
 * browse session included) and refuses more ("administratively
 * prohibited: open failed" on the master's stderr). A refused relay
 * session, while others of ours are open, is not a failure: the limit is
 * learned and the connection waits in the remote's queue (bounded in
 * length and in time) for a session to end. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "event.h"
#include "fd.h"
#include "log.h"

#define REFUSE_LOG_MS	10000

static void relay_ctl_cb(int, short, void *);
static void relay_io_cb(int, short, void *);
static void relay_arm(struct relay *);
static int start_subsystem(struct relay *);

const char *
relay_state_name(const struct relay *rl)
{
	switch (rl->state) {
	case RELAY_QUEUED:
		return "queued";
	case RELAY_OPENING:
		return "opening";
	case RELAY_OPEN:
		return "open";
	case RELAY_HANDSHAKE:
		return "handshake";
	case RELAY_COPYING:
		return "open";
	}
	return "?";
}

static void
format_peer(const struct sockaddr *sa, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];
	const struct sockaddr_in6 *sin6;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(out, outlen, "%s:%u", a, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, a,
			    sizeof(a));
			snprintf(out, outlen, "%s:%u", a,
			    ntohs(sin6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
			snprintf(out, outlen, "[%s]:%u", a,
			    ntohs(sin6->sin6_port));
		}
	} else
		strlcpy(out, "?", outlen);
}

static void
del_io(struct ev_io **io)
{
	ev_io_del(*io);
	*io = NULL;
}

/* Has the ssh master exited (its stdout hung up), though not reaped yet?
 * Then a relay that ends now was cut by it: relay_cut_all counts it. */
static int
master_gone(const struct remote *r)
{
	struct pollfd pfd;

	if (r->ssh.fd_out == -1)
		return 1;
	pfd.fd = r->ssh.fd_out;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/* Tell the remote how the open ended, once. */
static void
report(struct relay *rl, enum reach_result res, const char *why)
{
	if (rl->reported)
		return;
	rl->reported = 1;
	if (rl->remote->open_result != NULL)
		rl->remote->open_result(rl, res, why);
}

/* --- the server's sessions (relay mode) ----------------------------------- */

unsigned int
relay_session_limit(const struct remote *r)
{
	unsigned int c = r->conf->max_sessions, l = r->sessions_learned;

	if (c == 0 || (l != 0 && l < c))
		return l;
	return c;
}

static int
session_room(const struct remote *r)
{
	unsigned int lim = relay_session_limit(r);

	if (r->nopening >= AGENT_SESSION_OPENING)
		return 0;
	return lim == 0 || r->nsessions < lim;
}

static void
queue_kick(struct remote *r)
{
	if (r->nqueued > 0)
		ev_timer_set(r->queue_timer, 0);
}

static void
opened(struct relay *rl)
{
	if (rl->opening) {
		rl->opening = 0;
		rl->remote->nopening--;
		queue_kick(rl->remote);
	}
}

/* The session is over on the server (or was never granted). */
static void
session_release(struct relay *rl)
{
	opened(rl);
	if (rl->granted) {
		rl->granted = 0;
		rl->remote->ngranted--;
	}
	if (rl->session) {
		rl->session = 0;
		rl->remote->nsessions--;
		queue_kick(rl->remote);
	}
}

static void
dequeue(struct relay *rl)
{
	if (rl->queued) {
		TAILQ_REMOVE(&rl->remote->queue, rl, qentry);
		rl->remote->nqueued--;
		rl->queued = 0;
	}
}

void
relay_free(struct relay *rl)
{
	struct remote *r = rl->remote;

	dequeue(rl);
	session_release(rl);
	TAILQ_REMOVE(&r->relays, rl, entry);
	r->nrelays--;
	del_io(&rl->ctlio);
	del_io(&rl->sockio);
	del_io(&rl->toio);
	del_io(&rl->fromio);
	close_fd(&rl->ctl);
	close_fd(&rl->sock);
	close_fd(&rl->to);
	close_fd(&rl->from);
	mux_reader_free(&rl->mr);
	buf_free(&rl->up);
	buf_free(&rl->down);
	free(rl);
}

static void
relay_end(struct relay *rl)
{
	log_debug("%s: relay %u for %s to \"%s\" ended after %.3f s%s",
	    rl->remote->conf->name, rl->rid, rl->client, rl->name,
	    (double)(ev_now_ms() - rl->started) / 1000,
	    rl->via_subsystem ? " (through the subsystem)" : "");
	relay_free(rl);
}

static void
relay_fail(struct relay *rl, const char *what, const char *why)
{
	struct remote *r = rl->remote;

	if (rl->probe) {
		report(rl, REACH_FAILED, why);
		relay_free(rl);
		return;
	}
	r->relays_failed++;
	if (rl->direct_error[0] != '\0' && rl->via_subsystem)
		log_warnx("%s: connection from %s to \"%s\" (%s) failed: %s; "
		    "through the subsystem: %s", r->conf->name, rl->client,
		    rl->name, rl->target, rl->direct_error, why);
	else
		log_warnx("%s: connection from %s to \"%s\" (%s) failed: %s%s",
		    r->conf->name, rl->client, rl->name, rl->target, what, why);
	relay_free(rl);
}

void
relay_cut_all(struct remote *r, const char *why)
{
	struct relay *rl;
	size_t n = r->cut_by_master, q = 0;

	/* cut_by_master: those that ended as the master went, already freed */
	TAILQ_FOREACH(rl, &r->relays, entry) {
		if (rl->state == RELAY_QUEUED)
			q++;
		else
			n++;
	}
	if (n + q > 0)
		log_warnx("%s: %zu connections cut, %zu waiting ones closed: "
		    "%s", r->conf->name, n, q, why);
	r->relays_failed += n + q;
	r->cut_by_master = 0;
	while ((rl = TAILQ_FIRST(&r->relays)) != NULL)
		relay_free(rl);
}

/* ssh's own words for a refused open, when it said any. */
static const char *
ssh_words(struct remote *r)
{
	const char *line;

	sshm_read_stderr(&r->ssh, r->conf->name);	/* before the mux reply */
	line = sshm_take_open_failure(&r->ssh);
	return line != NULL ? line : "(nothing on ssh's stderr)";
}

/* --- direct: the accepted socket goes to the master ---------------------- */

static int
start_direct(struct relay *rl, const char *addr, unsigned int port)
{
	struct remote *r = rl->remote;
	char err[256];

	if ((rl->ctl = mux_open_stdio_fwd(r->ssh.ctlpath, addr, port,
	    rl->sock, rl->rid, err, sizeof(err))) == -1) {
		relay_fail(rl, "cannot hand the connection to the ssh master: ",
		    err);
		return -1;
	}
	/* Hold the socket until the master answers only if a failure could
	 * be retried through the subsystem: while we hold it, the master's
	 * close sends no FIN. */
	if (!r->peer_relay)
		close_fd(&rl->sock);
	mux_reader_init(&rl->mr, rl->rid);
	if ((rl->ctlio = ev_io_add(r->agent->loop, rl->ctl, POLLIN,
	    relay_ctl_cb, rl)) == NULL) {
		relay_fail(rl, "", "out of memory");
		return -1;
	}
	rl->state = RELAY_OPENING;
	return 0;
}

/* --- relay mode: a subsystem session on our pipes ------------------------ */

static int
queue_handshake(struct relay *rl)
{
	struct remote *r = rl->remote;
	struct msg m;

	/* a relay session: no features, no path length to agree on */
	msg_hello(&m, r->agent->siteid, "agent", "", PROTO_MAXLINE, 0);
	if (msg_format(&rl->up, &m, PROTO_MAXLINE) == -1)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = MSG_RELAY;
	m.svc.name = rl->name;
	m.svc.type = rl->type;
	m.svc.domain = rl->domain;
	return msg_format(&rl->up, &m, PROTO_MAXLINE);
}

static int
start_subsystem(struct relay *rl)
{
	struct remote *r = rl->remote;
	struct ev_loop *loop = r->agent->loop;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	char err[256];

	rl->via_subsystem = 1;
	buf_free(&rl->up);	/* a retry after a refusal starts afresh */
	buf_free(&rl->down);
	buf_init(&rl->up, AGENT_RELAY_BUFSIZE);
	buf_init(&rl->down, AGENT_RELAY_BUFSIZE);
	if (queue_handshake(rl) == -1) {
		relay_fail(rl, "", "cannot format RELAY");
		return -1;
	}
	if (pipe2(to, O_CLOEXEC) == -1 || pipe2(from, O_CLOEXEC) == -1) {
		snprintf(err, sizeof(err), "pipe: %s", strerror(errno));
		goto fail;
	}
	if (set_nonblock(to[1]) == -1 || set_nonblock(from[0]) == -1) {
		snprintf(err, sizeof(err), "O_NONBLOCK: %s", strerror(errno));
		goto fail;
	}
	if (r->conf->subsystem_command != NULL) {
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "%s -u", r->conf->subsystem_command);
		rl->ctl = mux_open_command(r->ssh.ctlpath, cmd, to[0],
		    from[1], -1, rl->rid, err, sizeof(err));
	} else
		rl->ctl = mux_open_subsystem(r->ssh.ctlpath, "rnsplice",
		    to[0], from[1], -1, rl->rid, err, sizeof(err));
	close_fd(&to[0]);
	close_fd(&from[1]);
	if (rl->ctl == -1)
		goto fail;
	rl->session = rl->opening = 1;
	r->nsessions++;
	r->nopening++;
	rl->to = to[1];
	rl->from = from[0];
	to[1] = from[0] = -1;
	mux_reader_init(&rl->mr, rl->rid);
	if ((rl->ctlio = ev_io_add(loop, rl->ctl, POLLIN, relay_ctl_cb,
	    rl)) == NULL ||
	    (rl->sockio = ev_io_add(loop, rl->sock, 0, relay_io_cb,
	    rl)) == NULL ||
	    (rl->toio = ev_io_add(loop, rl->to, 0, relay_io_cb, rl)) == NULL ||
	    (rl->fromio = ev_io_add(loop, rl->from, 0, relay_io_cb,
	    rl)) == NULL) {
		relay_fail(rl, "", "out of memory");
		return -1;
	}
	rl->state = RELAY_HANDSHAKE;
	relay_arm(rl);
	return 0;
 fail:
	close_fd(&to[0]);
	close_fd(&to[1]);
	close_fd(&from[0]);
	close_fd(&from[1]);
	relay_fail(rl, "cannot open a relay session: ", err);
	return -1;
}

/* Drop a session the server refused, keep the connection. */
static void
session_drop(struct relay *rl)
{
	del_io(&rl->ctlio);
	del_io(&rl->toio);
	del_io(&rl->fromio);
	del_io(&rl->sockio);
	close_fd(&rl->ctl);
	close_fd(&rl->to);
	close_fd(&rl->from);
	mux_reader_free(&rl->mr);
	rl->up_eof = rl->down_eof = rl->up_done = rl->down_done = 0;
	session_release(rl);
}

static void
enqueue(struct relay *rl, int front)
{
	struct remote *r = rl->remote;
	unsigned int lim = relay_session_limit(r);

	if (r->nqueued >= AGENT_QUEUE_MAX) {
		r->queue_full++;
		relay_fail(rl, "", lim != 0 ?
		    "no relay session free and the queue is full (the server "
		    "allows this many sessions; see MaxSessions)" :
		    "too many relay sessions opening, and the queue is full");
		return;
	}
	if (rl->queued_at == 0)
		rl->queued_at = ev_now_ms();
	rl->state = RELAY_QUEUED;
	rl->queued = 1;
	if (front)
		TAILQ_INSERT_HEAD(&r->queue, rl, qentry);
	else
		TAILQ_INSERT_TAIL(&r->queue, rl, qentry);
	r->nqueued++;
	if (!ev_timer_pending(r->queue_timer))
		ev_timer_set(r->queue_timer, AGENT_QUEUE_WAIT_MS);
}

/* A connection in relay mode: a session now, or a place in the queue. */
static void
open_session(struct relay *rl)
{
	struct remote *r = rl->remote;

	if (r->nqueued > 0 || !session_room(r))
		enqueue(rl, 0);
	else
		start_subsystem(rl);
}

void
relay_queue_cb(void *arg)
{
	struct remote *r = arg;
	struct relay *rl;
	uint64_t now = ev_now_ms();
	char why[256];

	/* no new session while the master is going (relay_cut_all) */
	while ((rl = TAILQ_FIRST(&r->queue)) != NULL && session_room(r) &&
	    r->state == RS_SYNCED && !master_gone(r)) {
		dequeue(rl);
		start_subsystem(rl);	/* may free rl */
	}
	while ((rl = TAILQ_FIRST(&r->queue)) != NULL &&
	    now - rl->queued_at >= AGENT_QUEUE_WAIT_MS) {
		dequeue(rl);
		r->queue_expired++;
		snprintf(why, sizeof(why), "no relay session free on the "
		    "server within %d s (%zu in use, limit %u: MaxSessions)",
		    AGENT_QUEUE_WAIT_MS / 1000, r->nsessions,
		    relay_session_limit(r));
		relay_fail(rl, "", why);
	}
	if ((rl = TAILQ_FIRST(&r->queue)) != NULL)
		ev_timer_set(r->queue_timer, rl->queued_at +
		    AGENT_QUEUE_WAIT_MS > now ? rl->queued_at +
		    AGENT_QUEUE_WAIT_MS - now : 0);
}

static void
relay_arm(struct relay *rl)
{
	short ev;

	if (!rl->via_subsystem)
		return;
	ev = 0;
	if (rl->state == RELAY_COPYING && !rl->up_eof && !rl->up_done &&
	    buf_room(&rl->up) > 0)
		ev |= POLLIN;
	if (rl->state == RELAY_COPYING && buf_len(&rl->down) > 0)
		ev |= POLLOUT;
	if (rl->sockio != NULL)
		ev_io_set(rl->sockio, ev);
	if (rl->toio != NULL)
		ev_io_set(rl->toio, rl->to != -1 && buf_len(&rl->up) > 0 ?
		    POLLOUT : 0);
	if (rl->fromio != NULL)
		ev_io_set(rl->fromio, rl->from != -1 && !rl->down_eof &&
		    buf_room(&rl->down) > 0 ? POLLIN : 0);
}

/* The subsystem's ERROR for a RELAY: "denied" (relay no, its policy, a
 * target it will not connect to) and "connect" (the service does not
 * answer) mean the server will not carry this service; "limit",
 * "no-service" (a REMOVE is on its way) and the rest are passing. */
static void
relay_refused(struct relay *rl, const char *code, const char *err)
{
	char why[sizeof(rl->direct_error) + 256 + 32];

	if (strcmp(code, "denied") != 0 && strcmp(code, "connect") != 0) {
		report(rl, REACH_FAILED, err);
		return;
	}
	if (rl->direct_error[0] != '\0')
		snprintf(why, sizeof(why), "%s; through the subsystem: %s",
		    rl->direct_error, err);
	else
		snprintf(why, sizeof(why), "%s", err);
	report(rl, REACH_REFUSED, why);
}

/* HELLO, then RELAYING or ERROR, from the subsystem. 1: go on copying,
 * 0: need more, -1: the relay is gone. */
static int
handshake(struct relay *rl)
{
	struct remote *r = rl->remote;
	char err[256], *line;
	const char *code;
	struct msg m;
	size_t len;
	int res;

	for (;;) {
		res = buf_getline(&rl->down, PROTO_MAXLINE, &line, &len);
		if (res == BUF_LINE_NONE)
			return 0;
		if (res == BUF_LINE_LONG) {
			relay_fail(rl, "", "over-long line from the subsystem");
			return -1;
		}
		if (msg_parse(line, len, &m, err, sizeof(err), &code) == -1) {
			msg_free(&m);
			relay_fail(rl, "bad line from the subsystem: ", err);
			return -1;
		}
		switch (m.type) {
		case MSG_HELLO:
			if (m.major != PROTO_MAJOR) {
				msg_free(&m);
				relay_fail(rl, "", "subsystem protocol version "
				    "mismatch");
				return -1;
			}
			break;
		case MSG_PING:
		case MSG_PONG:
			break;
		case MSG_RELAYING:
			msg_free(&m);
			rl->state = RELAY_COPYING;
			opened(rl);
			report(rl, REACH_OK, NULL);
			if (rl->fallback && !r->relay_mode) {
				r->relay_mode = 1;
				log_warnx("%s: the server refuses TCP forwarding "
				    "(%s); relaying connections through the "
				    "subsystem from now on", r->conf->name,
				    rl->direct_error);
			}
			log_debug("%s: relay %u for %s to \"%s\" open through "
			    "the subsystem in %llu ms", r->conf->name, rl->rid,
			    rl->client, rl->name,
			    (unsigned long long)(ev_now_ms() - rl->started));
			return 1;
		case MSG_ERROR:
			snprintf(err, sizeof(err), "%s: %s", m.code, m.text);
			relay_refused(rl, m.code, err);
			msg_free(&m);
			relay_fail(rl, "the subsystem refused: ", err);
			return -1;
		default:
			snprintf(err, sizeof(err), "unexpected %s",
			    msg_verb(m.type));
			msg_free(&m);
			relay_fail(rl, "", err);
			return -1;
		}
		msg_free(&m);
	}
}

/* Move bytes; returns -1 if the relay was freed. */
static int
relay_pump(struct relay *rl)
{
	ssize_t n;

	/* subsystem -> us */
	if (rl->from != -1 && !rl->down_eof && buf_room(&rl->down) > 0) {
		n = buf_read_fd(&rl->down, rl->from);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			rl->down_eof = 1;
			close_fd(&rl->from);
			del_io(&rl->fromio);
		} else if (n > 0 && rl->state == RELAY_COPYING)
			rl->bytes_down += (unsigned long long)n;
	}
	if (rl->state == RELAY_HANDSHAKE) {
		switch (handshake(rl)) {
		case -1:
			return -1;
		case 0:
			/* The master closes our pipes before it answers on
			 * the control connection: a refused session (sshd's
			 * MaxSessions) must be told by that answer, or the
			 * connection would fail instead of waiting. */
			if (rl->down_eof && rl->ctl == -1) {
				relay_fail(rl, "", master_gone(rl->remote) ?
				    "the ssh master is gone" : "the subsystem "
				    "closed the relay session before RELAYING");
				return -1;
			}
			break;
		}
	}
	if (rl->state == RELAY_COPYING) {
		/* client -> us */
		if (!rl->up_eof && !rl->up_done && buf_room(&rl->up) > 0) {
			n = buf_read_fd(&rl->up, rl->sock);
			if (n == 0)
				rl->up_eof = 1;
			else if (n == -1 && errno != EAGAIN) {
				relay_end(rl);	/* reset by the client */
				return -1;
			} else if (n > 0)
				rl->bytes_up += (unsigned long long)n;
		}
		/* us -> client */
		if (buf_len(&rl->down) > 0) {
			n = buf_write_fd(&rl->down, rl->sock);
			if (n == -1 && errno != EAGAIN) {
				relay_end(rl);
				return -1;
			}
		}
		if (rl->down_eof && buf_len(&rl->down) == 0 && !rl->down_done) {
			shutdown(rl->sock, SHUT_WR);
			rl->down_done = 1;
		}
	}
	/* us -> subsystem (the handshake lines first) */
	if (rl->to != -1 && buf_len(&rl->up) > 0) {
		n = buf_write_fd(&rl->up, rl->to);
		if (n == -1 && errno != EAGAIN) {
			/* the session's input is gone: nothing more goes up */
			buf_reset(&rl->up);
			rl->up_done = 1;
			close_fd(&rl->to);
			del_io(&rl->toio);
		}
	}
	if (rl->up_eof && buf_len(&rl->up) == 0 && rl->to != -1) {
		close_fd(&rl->to);	/* EOF to the subsystem */
		del_io(&rl->toio);
		rl->up_done = 1;
	}
	if (rl->up_eof && rl->to == -1)
		rl->up_done = 1;
	/* Done on our side, but ssh may still hold bytes for the subsystem
	 * (in the pipe, in its channel): closing the control connection now
	 * would drop them. The subsystem exits once it has written them out,
	 * the master then closes the control connection (relay_ctl_cb). */
	if (rl->up_done && rl->down_done && rl->ctl == -1) {
		relay_end(rl);
		return -1;
	}
	relay_arm(rl);
	return 0;
}

static void
relay_io_cb(int fd, short revents, void *arg)
{
	relay_pump(arg);
}

/* --- the control connection ---------------------------------------------- */

/* The relay session ended, but not as a relay does (exit status 0): the
 * subsystem was killed, or failed. The connection may have been cut. */
static void
session_lost(struct relay *rl)
{
	struct remote *r = rl->remote;

	if (master_gone(r)) {
		r->cut_by_master++;	/* logged with the master's exit */
		return;
	}
	if (rl->exited)
		log_warnx("%s: connection from %s to \"%s\" (%s): the relay "
		    "subsystem exited with status %u after %llu bytes up, "
		    "%llu down", r->conf->name, rl->client, rl->name,
		    rl->target, rl->exit_status, rl->bytes_up,
		    rl->bytes_down);
	else
		log_warnx("%s: connection from %s to \"%s\" (%s): the relay "
		    "session ended without an exit status (subsystem killed, "
		    "or sshd gone) after %llu bytes up, %llu down; "
		    "the connection may be cut", r->conf->name, rl->client,
		    rl->name, rl->target, rl->bytes_up, rl->bytes_down);
	r->relays_failed++;
}

/* The server refused a relay session (the channel open): beyond its
 * MaxSessions if others of ours are open, then the connection waits. */
static void
session_refused(struct relay *rl)
{
	struct remote *r = rl->remote;
	const char *words = ssh_words(r);
	char why[SSHM_LINELEN + 64];
	size_t others = r->nsessions - 1;

	r->sessions_refused++;
	if (others == 0) {
		snprintf(why, sizeof(why), "%s (ssh: %s)", rl->mr.reason,
		    words);
		relay_fail(rl, "the server refused the relay session: ", why);
		return;
	}
	/* The sessions sshd granted tell its limit; those still opening
	 * may be refused too. */
	if (r->ngranted > 0 && r->sessions_learned == 0) {
		r->sessions_learned = (unsigned int)r->ngranted;
		log_warnx("%s: the server refused a relay session with %zu of "
		    "ours open (ssh: %s): at most %zu at once from now on, "
		    "further connections wait (raise MaxSessions on the "
		    "server)", r->conf->name, r->ngranted, words,
		    r->ngranted);
	} else if (r->ngranted > 0 && r->ngranted < r->sessions_learned) {
		r->sessions_learned = (unsigned int)r->ngranted;
		log_info("%s: relay session refused with %zu open (ssh: %s): "
		    "at most %zu at once", r->conf->name, r->ngranted, words,
		    r->ngranted);
	} else
		log_debug("%s: relay session refused with %zu open (ssh: %s); "
		    "connection from %s waits", r->conf->name, r->ngranted,
		    words, rl->client);
	session_drop(rl);
	enqueue(rl, 1);
}

static void
relay_ctl_cb(int fd, short revents, void *arg)
{
	struct relay *rl = arg;
	struct remote *r = rl->remote;
	enum mux_event ev;
	char why[SSHM_LINELEN + sizeof(rl->mr.reason) + 8];

	for (;;) {
		switch ((ev = mux_reader_read(&rl->mr, fd))) {
		case MUX_EV_NONE:
			return;
		case MUX_EV_OPENED:
			if (rl->via_subsystem && !rl->granted) {
				rl->granted = 1;
				r->ngranted++;
			}
			if (!rl->via_subsystem) {
				rl->state = RELAY_OPEN;
				close_fd(&rl->sock);	/* the master's now */
				report(rl, REACH_OK, NULL);
				log_debug("%s: relay %u for %s to \"%s\" (%s) "
				    "open in %llu ms", r->conf->name, rl->rid,
				    rl->client, rl->name, rl->target,
				    (unsigned long long)(ev_now_ms() -
				    rl->started));
			}
			break;
		case MUX_EV_FAILED:
			if (!rl->via_subsystem && rl->sock != -1 &&
			    r->peer_relay) {
				/* maybe forwarding is forbidden: try a relay
				 * session for this connection */
				snprintf(rl->direct_error,
				    sizeof(rl->direct_error), "%s; ssh: %s",
				    rl->mr.reason, ssh_words(r));
				del_io(&rl->ctlio);
				close_fd(&rl->ctl);
				mux_reader_free(&rl->mr);
				rl->fallback = 1;
				open_session(rl);
				return;
			}
			if (rl->via_subsystem) {
				session_refused(rl);
				return;
			}
			report(rl, REACH_REFUSED, rl->mr.reason);
			snprintf(why, sizeof(why), "%s; ssh: %s",
			    rl->mr.reason, ssh_words(r));
			relay_fail(rl, "the forward was refused: ", why);
			return;
		case MUX_EV_EXIT:
			rl->exited = 1;
			rl->exit_status = rl->mr.exit_status;
			break;
		case MUX_EV_EOF:
		case MUX_EV_ERROR:
			if (ev == MUX_EV_ERROR)
				log_debug("%s: relay %u: mux: %s",
				    r->conf->name, rl->rid, rl->mr.reason);
			if (!rl->via_subsystem) {
				if (rl->state == RELAY_OPENING) {
					relay_fail(rl, "", ev == MUX_EV_EOF ?
					    "the ssh master closed the "
					    "connection" : rl->mr.reason);
					return;
				}
				if (master_gone(r))
					r->cut_by_master++;
				relay_end(rl);
				return;
			}
			/* the session is over; the pipes tell the rest */
			del_io(&rl->ctlio);
			close_fd(&rl->ctl);
			session_release(rl);
			if (rl->state == RELAY_COPYING &&
			    (!rl->exited || rl->exit_status != 0))
				session_lost(rl);
			relay_pump(rl);
			return;
		case MUX_EV_ALIVE:
		case MUX_EV_OK:
			break;
		}
	}
}

/* --- accept ----------------------------------------------------------------- */

void
relay_accept(struct remote *r, struct splice *sp, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct remote_conf *rc = r->conf;
	const struct svc *s = &sp->isvc->svc;
	struct relay *rl;
	char client[INET6_ADDRSTRLEN + 8];
	uint64_t now;
	int one = 1;

	format_peer(sa, client, sizeof(client));
	if (!allow_check(rc->allow, rc->nallow, sa)) {
		r->relays_refused++;
		sp->refused++;
		log_info("%s: refused %s for \"%s\": not in the allow-list",
		    rc->name, client, sp->name);
		close(fd);
		return;
	}
	if (r->nrelays >= rc->max_relays) {
		r->relays_refused++;
		sp->refused++;
		now = ev_now_ms();
		if (now - r->refuse_logged >= REFUSE_LOG_MS) {
			r->refuse_logged = now;
			log_warnx("%s: refused %s for \"%s\": %zu connections "
			    "already (max-relays)", rc->name, client, sp->name,
			    r->nrelays);
		}
		close(fd);
		return;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		log_warn("%s: relay", rc->name);
		close(fd);
		return;
	}
	rl->remote = r;
	rl->rid = ++r->agent->next_rid;
	rl->ctl = rl->to = rl->from = -1;
	rl->sock = fd;
	rl->started = ev_now_ms();
	strlcpy(rl->name, s->name, sizeof(rl->name));
	strlcpy(rl->type, s->type, sizeof(rl->type));
	strlcpy(rl->domain, s->domain, sizeof(rl->domain));
	snprintf(rl->target, sizeof(rl->target), strchr(s->addr, ':') ?
	    "[%s]:%u" : "%s:%u", s->addr, s->port);
	strlcpy(rl->client, client, sizeof(rl->client));
	TAILQ_INSERT_TAIL(&r->relays, rl, entry);
	r->nrelays++;
	r->relays_total++;
	log_debug("%s: relay %u: %s to \"%s\" (%s)%s", rc->name, rl->rid,
	    client, rl->name, rl->target, r->relay_mode ?
	    " through the subsystem" : "");
	if (r->relay_mode)
		open_session(rl);
	else
		start_direct(rl, s->addr, s->port);
}

/* --- probes (reach.c) -------------------------------------------------------- */

int
relay_probe(struct remote *r, const struct isvc *e)
{
	const struct svc *s = &e->svc;
	struct relay *rl;
	int sv[2];

	if (r->nrelays >= r->conf->max_relays)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("%s: probe: socketpair", r->conf->name);
		return -1;
	}
	/* the "client" says nothing and is gone: the forward ends as soon as
	 * it is open */
	close(sv[1]);
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		close(sv[0]);
		return -1;
	}
	rl->remote = r;
	rl->probe = 1;
	rl->rid = ++r->agent->next_rid;
	rl->ctl = rl->to = rl->from = -1;
	rl->sock = sv[0];
	rl->started = ev_now_ms();
	strlcpy(rl->name, s->name, sizeof(rl->name));
	strlcpy(rl->type, s->type, sizeof(rl->type));
	strlcpy(rl->domain, s->domain, sizeof(rl->domain));
	snprintf(rl->target, sizeof(rl->target), strchr(s->addr, ':') ?
	    "[%s]:%u" : "%s:%u", s->addr, s->port);
	strlcpy(rl->client, "probe", sizeof(rl->client));
	TAILQ_INSERT_TAIL(&r->relays, rl, entry);
	r->nrelays++;
	/* start_* report their own failures (relay_fail -> report) */
	if (r->relay_mode)
		start_subsystem(rl);
	else
		start_direct(rl, s->addr, s->port);
	return 0;
}
