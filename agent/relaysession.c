/* Relay mode: a connection carried by a relay session of the subsystem
 * (PROTOCOL.md section 6), for servers that forbid TCP forwarding. The
 * master runs a second rnsplice subsystem session (mux NEW_SESSION) on
 * two pipes of ours; we write HELLO and RELAY, read HELLO and RELAYING,
 * then copy bytes between the accepted socket and the pipes, with bounded
 * buffers and half-close passed on both ways. Pipes, not the socket
 * itself, because ssh closes (not shuts down) the fd it writes to, so EOF
 * would never reach us through a shared socket.
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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "conn.h"
#include "event.h"
#include "fd.h"
#include "log.h"

static void relay_io_cb(int, short, void *);
static void relay_arm(struct conn *);

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
opened(struct conn *c)
{
	if (c->opening) {
		c->opening = 0;
		c->remote->nopening--;
		queue_kick(c->remote);
	}
}

/* The session is over on the server (or was never granted). */
void
relay_session_release(struct conn *c)
{
	opened(c);
	if (c->granted) {
		c->granted = 0;
		c->remote->ngranted--;
	}
	if (c->session) {
		c->session = 0;
		c->remote->nsessions--;
		queue_kick(c->remote);
	}
}

void
relay_dequeue(struct conn *c)
{
	if (c->queued) {
		TAILQ_REMOVE(&c->remote->queue, c, qentry);
		c->remote->nqueued--;
		c->queued = 0;
	}
}


/* --- relay mode: a subsystem session on our pipes ------------------------ */

static int
queue_handshake(struct conn *c)
{
	struct remote *r = c->remote;
	struct msg m;

	/* a relay session carries one connection, not services: no
	 * features, no path length to agree on */
	msg_hello(&m, r->agent->siteid, "agent", "", PROTO_MAXLINE, 0);
	if (msg_format(&c->up, &m, PROTO_MAXLINE) == -1)
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = MSG_RELAY;
	m.svc.name = c->name;
	m.svc.type = c->type;
	m.svc.domain = c->domain;
	return msg_format(&c->up, &m, PROTO_MAXLINE);
}

int
relay_session_start(struct conn *c)
{
	struct remote *r = c->remote;
	struct ev_loop *loop = r->agent->loop;
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	char err[256], *cause;

	c->via_subsystem = 1;
	buf_free(&c->up);	/* a retry after a refusal starts afresh */
	buf_free(&c->down);
	buf_init(&c->up, AGENT_RELAY_BUFSIZE);
	buf_init(&c->down, AGENT_RELAY_BUFSIZE);
	if (queue_handshake(c) == -1) {
		conn_fail(c, "", "cannot format RELAY");
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
		c->ctl = mux_open_command(r->ssh.ctlpath, cmd, to[0],
		    from[1], -1, c->rid, &cause);
	} else
		c->ctl = mux_open_subsystem(r->ssh.ctlpath, "rnsplice",
		    to[0], from[1], -1, c->rid, &cause);
	close_fd(&to[0]);
	close_fd(&from[1]);
	if (c->ctl == -1) {
		strlcpy(err, cause, sizeof(err));
		free(cause);
		goto fail;
	}
	c->session = c->opening = 1;
	r->nsessions++;
	r->nopening++;
	c->to = to[1];
	c->from = from[0];
	to[1] = from[0] = -1;
	mux_reader_init(&c->mr, c->rid);
	if ((c->ctlio = ev_io_add(loop, c->ctl, POLLIN, conn_ctl_cb,
	    c)) == NULL ||
	    (c->sockio = ev_io_add(loop, c->sock, 0, relay_io_cb,
	    c)) == NULL ||
	    (c->toio = ev_io_add(loop, c->to, 0, relay_io_cb, c)) == NULL ||
	    (c->fromio = ev_io_add(loop, c->from, 0, relay_io_cb,
	    c)) == NULL) {
		conn_fail(c, "", "out of memory");
		return -1;
	}
	c->state = CONN_HANDSHAKE;
	relay_arm(c);
	return 0;
 fail:
	close_fd(&to[0]);
	close_fd(&to[1]);
	close_fd(&from[0]);
	close_fd(&from[1]);
	conn_fail(c, "cannot open a relay session: ", err);
	return -1;
}

/* Drop a session the server refused, keep the connection. */
static void
session_drop(struct conn *c)
{
	conn_del_io(&c->ctlio);
	conn_del_io(&c->toio);
	conn_del_io(&c->fromio);
	conn_del_io(&c->sockio);
	close_fd(&c->ctl);
	close_fd(&c->to);
	close_fd(&c->from);
	mux_reader_free(&c->mr);
	c->up_eof = c->down_eof = c->up_done = c->down_done = 0;
	relay_session_release(c);
}

static void
enqueue(struct conn *c, int front)
{
	struct remote *r = c->remote;
	unsigned int lim = relay_session_limit(r);

	if (r->nqueued >= AGENT_QUEUE_MAX) {
		r->queue_full++;
		conn_fail(c, "", lim != 0 ?
		    "no relay session free and the queue is full (the server "
		    "allows this many sessions; see MaxSessions)" :
		    "too many relay sessions opening, and the queue is full");
		return;
	}
	if (c->queued_at == 0)
		c->queued_at = ev_now_ms();
	c->state = CONN_QUEUED;
	c->queued = 1;
	if (front)
		TAILQ_INSERT_HEAD(&r->queue, c, qentry);
	else
		TAILQ_INSERT_TAIL(&r->queue, c, qentry);
	r->nqueued++;
	if (!ev_timer_pending(r->queue_timer))
		ev_timer_set(r->queue_timer, AGENT_QUEUE_WAIT_MS);
}

/* A connection in relay mode: a session now, or a place in the queue. */
void
relay_session_open(struct conn *c)
{
	struct remote *r = c->remote;

	if (r->nqueued > 0 || !session_room(r))
		enqueue(c, 0);
	else
		relay_session_start(c);
}

void
relay_queue_cb(void *arg)
{
	struct remote *r = arg;
	struct conn *c;
	uint64_t now = ev_now_ms();
	char why[256];

	/* no new session while the master is going (conn_cut_all) */
	while ((c = TAILQ_FIRST(&r->queue)) != NULL && session_room(r) &&
	    r->state == RS_SYNCED && !conn_master_gone(r)) {
		relay_dequeue(c);
		relay_session_start(c);	/* may free c */
	}
	while ((c = TAILQ_FIRST(&r->queue)) != NULL &&
	    now - c->queued_at >= AGENT_QUEUE_WAIT_MS) {
		relay_dequeue(c);
		r->queue_expired++;
		snprintf(why, sizeof(why), "no relay session free on the "
		    "server within %d s (%zu in use, limit %u: MaxSessions)",
		    AGENT_QUEUE_WAIT_MS / 1000, r->nsessions,
		    relay_session_limit(r));
		conn_fail(c, "", why);
	}
	if ((c = TAILQ_FIRST(&r->queue)) != NULL)
		ev_timer_set(r->queue_timer, c->queued_at +
		    AGENT_QUEUE_WAIT_MS > now ? c->queued_at +
		    AGENT_QUEUE_WAIT_MS - now : 0);
}

static void
relay_arm(struct conn *c)
{
	short ev;

	if (!c->via_subsystem)
		return;
	ev = 0;
	if (c->state == CONN_COPYING && !c->up_eof && !c->up_done &&
	    buf_room(&c->up) > 0)
		ev |= POLLIN;
	if (c->state == CONN_COPYING && buf_len(&c->down) > 0)
		ev |= POLLOUT;
	if (c->sockio != NULL)
		ev_io_set(c->sockio, ev);
	if (c->toio != NULL)
		ev_io_set(c->toio, c->to != -1 && buf_len(&c->up) > 0 ?
		    POLLOUT : 0);
	if (c->fromio != NULL)
		ev_io_set(c->fromio, c->from != -1 && !c->down_eof &&
		    buf_room(&c->down) > 0 ? POLLIN : 0);
}

/* The subsystem's ERROR for a RELAY: "denied" (relay no, its policy, a
 * target it will not connect to) and "connect" (the service does not
 * answer) mean the server will not carry this service; "limit",
 * "no-service" (a REMOVE is on its way) and the rest are passing. */
static void
relay_refused(struct conn *c, const char *code, const char *err)
{
	char why[sizeof(c->direct_error) + 256 + 32];

	if (strcmp(code, "denied") != 0 && strcmp(code, "connect") != 0) {
		conn_report(c, REACH_FAILED, err);
		return;
	}
	if (c->direct_error[0] != '\0')
		snprintf(why, sizeof(why), "%s; through the subsystem: %s",
		    c->direct_error, err);
	else
		snprintf(why, sizeof(why), "%s", err);
	conn_report(c, REACH_REFUSED, why);
}

/* HELLO, then RELAYING or ERROR, from the subsystem. 1: go on copying,
 * 0: need more, -1: the relay is gone. */
static int
handshake(struct conn *c)
{
	struct remote *r = c->remote;
	char err[256], *line, *cause;
	const char *code;
	struct msg m;
	size_t len;
	int res;

	for (;;) {
		res = buf_getline(&c->down, PROTO_MAXLINE, &line, &len);
		if (res == BUF_LINE_NONE)
			return 0;
		if (res == BUF_LINE_LONG) {
			conn_fail(c, "", "over-long line from the subsystem");
			return -1;
		}
		if (msg_parse(line, len, &m, &cause, &code) == -1) {
			msg_free(&m);
			conn_fail(c, "bad line from the subsystem: ", cause);
			free(cause);
			return -1;
		}
		switch (m.type) {
		case MSG_HELLO:
			if (m.major != PROTO_MAJOR) {
				msg_free(&m);
				conn_fail(c, "", "subsystem protocol version "
				    "mismatch");
				return -1;
			}
			break;
		case MSG_PING:
		case MSG_PONG:
			break;
		case MSG_RELAYING:
			msg_free(&m);
			c->state = CONN_COPYING;
			opened(c);
			conn_report(c, REACH_OK, NULL);
			if (c->fallback && !r->relay_mode) {
				r->relay_mode = 1;
				log_warnx("%s: the server refuses TCP forwarding "
				    "(%s); relaying connections through the "
				    "subsystem from now on", r->conf->name,
				    c->direct_error);
			}
			log_debug("%s: relay %u for %s to \"%s\" open through "
			    "the subsystem in %llu ms", r->conf->name, c->rid,
			    c->client, c->name,
			    (unsigned long long)(ev_now_ms() - c->started));
			return 1;
		case MSG_ERROR:
			snprintf(err, sizeof(err), "%s: %s", m.code, m.text);
			relay_refused(c, m.code, err);
			msg_free(&m);
			conn_fail(c, "the subsystem refused: ", err);
			return -1;
		default:
			snprintf(err, sizeof(err), "unexpected %s",
			    msg_verb(m.type));
			msg_free(&m);
			conn_fail(c, "", err);
			return -1;
		}
		msg_free(&m);
	}
}

/* Move bytes; returns -1 if the relay was freed. */
int
relay_pump(struct conn *c)
{
	ssize_t n;

	/* subsystem -> us */
	if (c->from != -1 && !c->down_eof && buf_room(&c->down) > 0) {
		n = buf_read_fd(&c->down, c->from);
		if (n == 0 || (n == -1 && errno != EAGAIN)) {
			c->down_eof = 1;
			close_fd(&c->from);
			conn_del_io(&c->fromio);
		} else if (n > 0 && c->state == CONN_COPYING)
			c->bytes_down += (unsigned long long)n;
	}
	if (c->state == CONN_HANDSHAKE) {
		switch (handshake(c)) {
		case -1:
			return -1;
		case 0:
			/* The master closes our pipes before it answers on
			 * the control connection: a refused session (sshd's
			 * MaxSessions) must be told by that answer, or the
			 * connection would fail instead of waiting. */
			if (c->down_eof && c->ctl == -1) {
				conn_fail(c, "", conn_master_gone(c->remote) ?
				    "the ssh master is gone" : "the subsystem "
				    "closed the relay session before RELAYING");
				return -1;
			}
			break;
		}
	}
	if (c->state == CONN_COPYING) {
		/* client -> us */
		if (!c->up_eof && !c->up_done && buf_room(&c->up) > 0) {
			n = buf_read_fd(&c->up, c->sock);
			if (n == 0)
				c->up_eof = 1;
			else if (n == -1 && errno != EAGAIN) {
				conn_end(c);	/* reset by the client */
				return -1;
			} else if (n > 0)
				c->bytes_up += (unsigned long long)n;
		}
		/* us -> client */
		if (buf_len(&c->down) > 0) {
			n = buf_write_fd(&c->down, c->sock);
			if (n == -1 && errno != EAGAIN) {
				conn_end(c);
				return -1;
			}
		}
		if (c->down_eof && buf_len(&c->down) == 0 && !c->down_done) {
			shutdown(c->sock, SHUT_WR);
			c->down_done = 1;
		}
	}
	/* us -> subsystem (the handshake lines first) */
	if (c->to != -1 && buf_len(&c->up) > 0) {
		n = buf_write_fd(&c->up, c->to);
		if (n == -1 && errno != EAGAIN) {
			/* the session's input is gone: nothing more goes up */
			buf_reset(&c->up);
			c->up_done = 1;
			close_fd(&c->to);
			conn_del_io(&c->toio);
		}
	}
	if (c->up_eof && buf_len(&c->up) == 0 && c->to != -1) {
		close_fd(&c->to);	/* EOF to the subsystem */
		conn_del_io(&c->toio);
		c->up_done = 1;
	}
	if (c->up_eof && c->to == -1)
		c->up_done = 1;
	/* Done on our side, but ssh may still hold bytes for the subsystem
	 * (in the pipe, in its channel): closing the control connection now
	 * would drop them. The subsystem exits once it has written them out,
	 * the master then closes the control connection (conn_ctl_cb). */
	if (c->up_done && c->down_done && c->ctl == -1) {
		conn_end(c);
		return -1;
	}
	relay_arm(c);
	return 0;
}

static void
relay_io_cb(int fd, short revents, void *arg)
{
	relay_pump(arg);
}


/* --- the session's end ---------------------------------------------------- */

/* The relay session ended, but not as a relay does (exit status 0): the
 * subsystem was killed, or failed. The connection may have been cut. */
void
relay_session_lost(struct conn *c)
{
	struct remote *r = c->remote;

	if (conn_master_gone(r)) {
		r->cut_by_master++;	/* logged with the master's exit */
		return;
	}
	if (c->exited)
		log_warnx("%s: connection from %s to \"%s\" (%s): the relay "
		    "subsystem exited with status %u after %llu bytes up, "
		    "%llu down", r->conf->name, c->client, c->name,
		    c->target, c->exit_status, c->bytes_up,
		    c->bytes_down);
	else
		log_warnx("%s: connection from %s to \"%s\" (%s): the relay "
		    "session ended without an exit status (subsystem killed, "
		    "or sshd gone) after %llu bytes up, %llu down; "
		    "the connection may be cut", r->conf->name, c->client,
		    c->name, c->target, c->bytes_up, c->bytes_down);
	r->conns_failed++;
}

/* The server refused a relay session (the channel open): beyond its
 * MaxSessions if others of ours are open, then the connection waits. */
void
relay_session_refused(struct conn *c)
{
	struct remote *r = c->remote;
	const char *words = conn_ssh_words(r);
	char why[SSHM_LINELEN + 64];
	size_t others = r->nsessions - 1;

	r->sessions_refused++;
	if (others == 0) {
		snprintf(why, sizeof(why), "%s (ssh: %s)", c->mr.reason,
		    words);
		conn_fail(c, "the server refused the relay session: ", why);
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
		    words, c->client);
	session_drop(c);
	enqueue(c, 1);
}
