/* Accepted connections (struct conn). The normal path copies no byte:
 * the accepted socket goes to the ssh master with a mux NEW_STDIO_FWD,
 * and the control connection is watched until EOF (the connection ended)
 * or FAILED.
 *
 * For servers that forbid TCP forwarding a connection is carried by a
 * relay session of the subsystem instead (relay mode, relaysession.c).
 * sshd's refusal of a forward is not told apart from an unreachable
 * target ("Session open refused by peer" either way), so: when a direct
 * forward fails and the subsystem offers relays, that connection is
 * retried in relay mode; if that works, the remote switches to relay mode
 * for the rest of the session (logged once).
 *
 * How an open ended goes back through remote->open_result (reach.c). */
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
#include "conn.h"
#include "event.h"
#include "fd.h"
#include "log.h"

#define REFUSE_LOG_MS	10000


const char *
conn_state_name(const struct conn *c)
{
	switch (c->state) {
	case CONN_QUEUED:
		return "queued";
	case CONN_OPENING:
		return "opening";
	case CONN_OPEN:
		return "open";
	case CONN_HANDSHAKE:
		return "handshake";
	case CONN_COPYING:
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

void
conn_del_io(struct ev_io **io)
{
	ev_io_del(*io);
	*io = NULL;
}

/* Has the ssh master exited (its stdout hung up), though not reaped yet?
 * Then a connection that ends now was cut by it: conn_cut_all counts it. */
int
conn_master_gone(const struct remote *r)
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
void
conn_report(struct conn *c, enum reach_result res, const char *why)
{
	if (c->reported)
		return;
	c->reported = 1;
	if (c->remote->open_result != NULL)
		c->remote->open_result(c, res, why);
}

void
conn_free(struct conn *c)
{
	struct remote *r = c->remote;

	relay_dequeue(c);
	relay_session_release(c);
	TAILQ_REMOVE(&r->conns, c, entry);
	r->nconns--;
	conn_del_io(&c->ctlio);
	conn_del_io(&c->sockio);
	conn_del_io(&c->toio);
	conn_del_io(&c->fromio);
	close_fd(&c->ctl);
	close_fd(&c->sock);
	close_fd(&c->to);
	close_fd(&c->from);
	mux_reader_free(&c->mr);
	buf_free(&c->up);
	buf_free(&c->down);
	free(c);
}

void
conn_end(struct conn *c)
{
	log_debug("%s: relay %u for %s to \"%s\" ended after %.3f s%s",
	    c->remote->conf->name, c->rid, c->client, c->name,
	    (double)(ev_now_ms() - c->started) / 1000,
	    c->via_subsystem ? " (through the subsystem)" : "");
	conn_free(c);
}

void
conn_fail(struct conn *c, const char *what, const char *why)
{
	struct remote *r = c->remote;

	if (c->probe) {
		conn_report(c, REACH_FAILED, why);
		conn_free(c);
		return;
	}
	r->conns_failed++;
	if (c->direct_error[0] != '\0' && c->via_subsystem)
		log_warnx("%s: connection from %s to \"%s\" (%s) failed: %s; "
		    "through the subsystem: %s", r->conf->name, c->client,
		    c->name, c->target, c->direct_error, why);
	else
		log_warnx("%s: connection from %s to \"%s\" (%s) failed: %s%s",
		    r->conf->name, c->client, c->name, c->target, what, why);
	conn_free(c);
}

void
conn_cut_all(struct remote *r, const char *why)
{
	struct conn *c;
	size_t n = r->cut_by_master, q = 0;

	/* cut_by_master: those that ended as the master went, already freed */
	TAILQ_FOREACH(c, &r->conns, entry) {
		if (c->state == CONN_QUEUED)
			q++;
		else
			n++;
	}
	if (n + q > 0)
		log_warnx("%s: %zu connections cut, %zu waiting ones closed: "
		    "%s", r->conf->name, n, q, why);
	r->conns_failed += n + q;
	r->cut_by_master = 0;
	while ((c = TAILQ_FIRST(&r->conns)) != NULL)
		conn_free(c);
	conn_spare_drop(r);
}

/* ssh's own words for a refused open, when it said any. */
const char *
conn_ssh_words(struct remote *r)
{
	const char *line;

	sshm_read_stderr(&r->ssh, r->conf->name);	/* before the mux reply */
	line = sshm_take_open_failure(&r->ssh);
	return line != NULL ? line : "(nothing on ssh's stderr)";
}

/* --- direct: the accepted socket goes to the master ---------------------- */

/* A spare control connection is opened ahead of each direct connection,
 * so that an accepted connection costs the master one request and the
 * agent no connect and no wake-up for the master's HELLO (docs/MUX.md). */

void
conn_spare_drop(struct remote *r)
{
	if (r->spare_fd != -1)
		log_debug("%s: spare control connection closed",
		    r->conf->name);
	close_fd(&r->spare_fd);
}

static void
spare_fill(struct remote *r)
{
	char *cause;

	/* none once the session is over: a master keeps running while a
	 * control connection is open (close_session drops it) */
	if (r->spare_fd != -1 || r->relay_mode || r->ssh.fd_out == -1)
		return;
	if ((r->spare_fd = mux_spare_open(r->ssh.ctlpath, &cause)) == -1) {
		log_debug("%s: no spare control connection: %s",
		    r->conf->name, cause);
		free(cause);
		return;
	}
	r->spare_gen = r->gen;
}

/* The forward on the spare connection; -1 if there is none or it failed
 * (the master closed it, or went): then the caller opens a new one. */
static int
spare_use(struct conn *c, const char *addr, unsigned int port)
{
	struct remote *r = c->remote;
	char *cause;
	int s;

	if (r->spare_fd == -1)
		return -1;
	s = r->spare_fd;
	r->spare_fd = -1;
	if (r->spare_gen != r->gen) {	/* a master that is gone */
		close(s);
		return -1;
	}
	if (mux_spare_stdio_fwd(s, addr, port, c->sock, c->rid,
	    &cause) == -1) {
		log_debug("%s: relay %u: %s; opening a new one", r->conf->name,
		    c->rid, cause);
		free(cause);
		close(s);
		return -1;
	}
	return s;
}

static int
start_direct(struct conn *c, const char *addr, unsigned int port)
{
	struct remote *r = c->remote;
	char *cause;
	int spare = 0;

	if ((c->ctl = spare_use(c, addr, port)) != -1)
		spare = 1;
	else if ((c->ctl = mux_open_stdio_fwd(r->ssh.ctlpath, addr, port,
	    c->sock, c->rid, &cause)) == -1) {
		conn_fail(c, "cannot hand the connection to the ssh master: ",
		    cause);
		free(cause);
		return -1;
	}
	spare_fill(r);		/* for the next one */
	/* Hold the socket until the master answers only if a failure could
	 * be retried through the subsystem: while we hold it, the master's
	 * close sends no FIN. */
	if (!r->peer_relay)
		close_fd(&c->sock);
	mux_reader_init(&c->mr, c->rid);
	if ((c->ctlio = ev_io_add(r->agent->loop, c->ctl, POLLIN,
	    conn_ctl_cb, c)) == NULL) {
		conn_fail(c, "", "out of memory");
		return -1;
	}
	c->state = CONN_OPENING;
	/* The master's HELLO on a spare came long ago: take it now rather
	 * than in one more turn of the loop (this may free c). */
	if (spare)
		conn_ctl_cb(c->ctl, POLLIN, c);
	return 0;
}

/* --- the control connection ---------------------------------------------- */

void
conn_ctl_cb(int fd, short revents, void *arg)
{
	struct conn *c = arg;
	struct remote *r = c->remote;
	enum mux_event ev;
	char why[SSHM_LINELEN + sizeof(c->mr.reason) + 8];

	/* One read per wake-up, then what it brought: the poll is level
	 * triggered, so the rest (the EOF) wakes us again, and the common
	 * reply alone costs no read that finds nothing. */
	for (ev = mux_reader_read(&c->mr, fd);; ev = mux_reader_next(&c->mr)) {
		switch (ev) {
		case MUX_EV_NONE:
			return;
		case MUX_EV_OPENED:
			if (c->via_subsystem && !c->granted) {
				c->granted = 1;
				r->ngranted++;
			}
			if (!c->via_subsystem) {
				c->state = CONN_OPEN;
				close_fd(&c->sock);	/* the master's now */
				conn_report(c, REACH_OK, NULL);
				log_debug("%s: relay %u for %s to \"%s\" (%s) "
				    "open in %llu ms", r->conf->name, c->rid,
				    c->client, c->name, c->target,
				    (unsigned long long)(ev_now_ms() -
				    c->started));
			}
			break;
		case MUX_EV_FAILED:
			if (!c->via_subsystem && c->sock != -1 &&
			    r->peer_relay) {
				/* maybe forwarding is forbidden: try a relay
				 * session for this connection */
				snprintf(c->direct_error,
				    sizeof(c->direct_error), "%s; ssh: %s",
				    c->mr.reason, conn_ssh_words(r));
				conn_del_io(&c->ctlio);
				close_fd(&c->ctl);
				mux_reader_free(&c->mr);
				c->fallback = 1;
				relay_session_open(c);
				return;
			}
			if (c->via_subsystem) {
				relay_session_refused(c);
				return;
			}
			conn_report(c, REACH_REFUSED, c->mr.reason);
			snprintf(why, sizeof(why), "%s; ssh: %s",
			    c->mr.reason, conn_ssh_words(r));
			conn_fail(c, "the forward was refused: ", why);
			return;
		case MUX_EV_EXIT:
			c->exited = 1;
			c->exit_status = c->mr.exit_status;
			break;
		case MUX_EV_EOF:
		case MUX_EV_ERROR:
			if (ev == MUX_EV_ERROR)
				log_debug("%s: relay %u: mux: %s",
				    r->conf->name, c->rid, c->mr.reason);
			if (!c->via_subsystem) {
				if (c->state == CONN_OPENING) {
					conn_fail(c, "", ev == MUX_EV_EOF ?
					    "the ssh master closed the "
					    "connection" : c->mr.reason);
					return;
				}
				if (conn_master_gone(r))
					r->cut_by_master++;
				conn_end(c);
				return;
			}
			/* the session is over; the pipes tell the rest */
			conn_del_io(&c->ctlio);
			close_fd(&c->ctl);
			relay_session_release(c);
			if (c->state == CONN_COPYING &&
			    (!c->exited || c->exit_status != 0))
				relay_session_lost(c);
			relay_pump(c);
			return;
		case MUX_EV_ALIVE:
		case MUX_EV_OK:
			break;
		}
	}
}

/* --- accept ----------------------------------------------------------------- */

void
conn_accept(struct remote *r, struct splice *sp, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct remote_conf *rc = r->conf;
	const struct svc *s = &sp->isvc->svc;
	struct conn *c;
	char client[INET6_ADDRSTRLEN + 8];
	uint64_t now;
	int one = 1;

	format_peer(sa, client, sizeof(client));
	if (!allow_check(rc->allow, rc->nallow, sa)) {
		r->conns_refused++;
		sp->refused++;
		log_info("%s: refused %s for \"%s\": not in the allow-list",
		    rc->name, client, sp->name);
		close(fd);
		return;
	}
	if (r->nconns >= rc->max_relays) {
		r->conns_refused++;
		sp->refused++;
		now = ev_now_ms();
		if (now - r->refuse_logged >= REFUSE_LOG_MS) {
			r->refuse_logged = now;
			log_warnx("%s: refused %s for \"%s\": %zu connections "
			    "already (max-relays)", rc->name, client, sp->name,
			    r->nconns);
		}
		close(fd);
		return;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s: relay", rc->name);
		close(fd);
		return;
	}
	c->remote = r;
	c->rid = ++r->agent->next_rid;
	c->ctl = c->to = c->from = -1;
	c->sock = fd;
	c->started = ev_now_ms();
	strlcpy(c->name, s->name, sizeof(c->name));
	strlcpy(c->type, s->type, sizeof(c->type));
	strlcpy(c->domain, s->domain, sizeof(c->domain));
	snprintf(c->target, sizeof(c->target), strchr(s->addr, ':') ?
	    "[%s]:%u" : "%s:%u", s->addr, s->port);
	strlcpy(c->client, client, sizeof(c->client));
	TAILQ_INSERT_TAIL(&r->conns, c, entry);
	r->nconns++;
	r->conns_total++;
	log_debug("%s: relay %u: %s to \"%s\" (%s)%s", rc->name, c->rid,
	    client, c->name, c->target, r->relay_mode ?
	    " through the subsystem" : "");
	if (r->relay_mode)
		relay_session_open(c);
	else
		start_direct(c, s->addr, s->port);
}

/* --- probes (reach.c) -------------------------------------------------------- */

int
conn_probe(struct remote *r, const struct isvc *e)
{
	const struct svc *s = &e->svc;
	struct conn *c;
	int sv[2];

	if (r->nconns >= r->conf->max_relays)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("%s: probe: socketpair", r->conf->name);
		return -1;
	}
	/* the "client" says nothing and is gone: the forward ends as soon as
	 * it is open */
	close(sv[1]);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(sv[0]);
		return -1;
	}
	c->remote = r;
	c->probe = 1;
	c->rid = ++r->agent->next_rid;
	c->ctl = c->to = c->from = -1;
	c->sock = sv[0];
	c->started = ev_now_ms();
	strlcpy(c->name, s->name, sizeof(c->name));
	strlcpy(c->type, s->type, sizeof(c->type));
	strlcpy(c->domain, s->domain, sizeof(c->domain));
	snprintf(c->target, sizeof(c->target), strchr(s->addr, ':') ?
	    "[%s]:%u" : "%s:%u", s->addr, s->port);
	strlcpy(c->client, "probe", sizeof(c->client));
	TAILQ_INSERT_TAIL(&r->conns, c, entry);
	r->nconns++;
	/* start_* conn_report their own failures (conn_fail -> conn_report) */
	if (r->relay_mode)
		relay_session_start(c);
	else
		start_direct(c, s->addr, s->port);
	return 0;
}
