/* Relay sessions (PROTOCOL.md section 6): a slot among max-relays, a
 * non-blocking connect to the resolved service, then bytes both ways.
 * Exports (export.c) use the same copier between an accepted TCP
 * connection (in_fd == out_fd) and sshd's Unix socket listener.
 *
 * Each direction has one bounded buffer; a side is read only while the
 * buffer towards the other side has room. End of input on the channel
 * becomes shutdown(SHUT_WR) on the socket once everything before it is
 * written; the socket's end of input closes our stdout the same way. The
 * relay is done when both directions are. */
#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "siteid.h"
#include "subsystem.h"

struct relay {
	struct ev_loop		*loop;
	int			 sock;
	struct ev_io		*sock_io;
	struct ev_timer		*timer;		/* connect timeout, or error */
	relay_connected_fn	 connected;
	void			*arg;
	char			 err[256];	/* a connect error to report */

	/* copying */
	int			 in_fd, out_fd;
	struct ev_io		*in_io, *out_io;
	struct relaybuf		 up;		/* channel -> socket */
	struct relaybuf		 down;		/* socket -> channel */
	int			 bufs;		/* up and down set */
	int			 in_eof;	/* channel input ended */
	int			 shut;		/* socket write side shut */
	int			 sock_eof;	/* socket input ended */
	int			 out_done;	/* our stdout closed */
	int			 finished;
	void			(*done)(void *);
	void			*done_arg;
	unsigned long long	 nup, ndown;
};

/* ------------------------------------------------------------------------
 * Slots: max-relays lock files, flock(2)ed while a relay lives. The lock
 * goes with the process, however it ends. */

static int
slot_dir(char *out, size_t len)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (rt != NULL && rt[0] == '/')
		n = snprintf(out, len, "%s/rnsplice", rt);
	else {
		if (config_dir(out, len) == -1)
			return -1;
		n = (int)strlen(out);
	}
	if (n < 0 || (size_t)n >= len)
		return -1;
	if (mkdir(out, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

int
relay_slot_acquire(unsigned int max, char **cause)
{
	char dir[PATH_MAX], path[PATH_MAX + 32];
	unsigned int i;
	int fd;

	*cause = NULL;
	if (slot_dir(dir, sizeof(dir)) == -1) {
		if (asprintf(cause, "relay slots: no directory: %s",
		    strerror(errno)) == -1)
			*cause = NULL;
		return -1;
	}
	for (i = 0; i < max; i++) {
		snprintf(path, sizeof(path), "%s/relay-slot.%u", dir, i);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd == -1) {
			if (asprintf(cause, "%s: %s", path,
			    strerror(errno)) == -1)
				*cause = NULL;
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			log_debug("relay slot %u of %u", i, max);
			return fd;
		}
		close(fd);
	}
	if (asprintf(cause, "all %u relay slots are in use (max-relays)",
	    max) == -1)
		*cause = NULL;
	return -1;
}

/* ------------------------------------------------------------------------
 * Connecting. */

static void
connect_fail_timer(void *arg)
{
	struct relay *r = arg;

	ev_io_del(r->sock_io);
	r->sock_io = NULL;
	if (r->err[0] == '\0')
		strlcpy(r->err, "connection timed out", sizeof(r->err));
	if (r->sock != -1)
		close(r->sock);
	r->sock = -1;
	r->connected(r->arg, -1, r->err);	/* may free r */
}

static void
connect_cb(int fd, short revents, void *arg)
{
	struct relay *r = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	ev_timer_stop(r->timer);
	ev_io_del(r->sock_io);
	r->sock_io = NULL;
	if (err != 0) {
		snprintf(r->err, sizeof(r->err), "connect: %s", strerror(err));
		close(r->sock);
		r->sock = -1;
		r->connected(r->arg, -1, r->err);	/* may free r */
		return;
	}
	r->connected(r->arg, r->sock, NULL);
}

static struct relay *
relay_alloc(struct ev_loop *loop, relay_connected_fn cb, void *arg)
{
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->loop = loop;
	r->sock = -1;
	r->in_fd = r->out_fd = -1;
	r->connected = cb;
	r->arg = arg;
	if ((r->timer = ev_timer_add(loop, connect_fail_timer, r)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

/* Wait for the socket to be connected (or report at once from the loop
 * if the connect failed: r->err set). NULL if out of memory. */
static struct relay *
relay_wait(struct relay *r)
{
	if (r->err[0] != '\0') {
		/* report from the loop, never from inside the caller */
		ev_timer_set(r->timer, 0);
		return r;
	}
	if ((r->sock_io = ev_io_add(r->loop, r->sock, POLLOUT, connect_cb,
	    r)) == NULL) {
		relay_free(r);
		return NULL;
	}
	ev_timer_set(r->timer, RELAY_CONNECT_MS);
	return r;
}

struct relay *
relay_connect_path(struct ev_loop *loop, const char *path,
    relay_connected_fn cb, void *arg)
{
	struct sockaddr_un sun;
	struct relay *r;

	if ((r = relay_alloc(loop, cb, arg)) == NULL)
		return NULL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path))
		snprintf(r->err, sizeof(r->err), "%s: path too long", path);
	else if ((r->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		snprintf(r->err, sizeof(r->err), "socket: %s",
		    strerror(errno));
	else if (connect(r->sock, (struct sockaddr *)&sun, sizeof(sun)) ==
	    -1 && errno != EINPROGRESS)
		/* EAGAIN: the listener's backlog is full */
		snprintf(r->err, sizeof(r->err), "connect to %s: %s", path,
		    strerror(errno));
	return relay_wait(r);
}

struct relay *
relay_connect(struct ev_loop *loop, const char *addr, uint16_t port,
    relay_connected_fn cb, void *arg)
{
	struct addrinfo hints, *ai = NULL;
	struct relay *r;
	char portstr[8];
	int e;

	if ((r = relay_alloc(loop, cb, arg)) == NULL)
		return NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", port);
	/* getaddrinfo takes "fe80::1%eth0" and sets the scope id */
	if ((e = getaddrinfo(addr, portstr, &hints, &ai)) != 0)
		snprintf(r->err, sizeof(r->err), "%s: %s", addr,
		    gai_strerror(e));
	else if ((r->sock = socket(ai->ai_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		snprintf(r->err, sizeof(r->err), "socket: %s",
		    strerror(errno));
	else if (connect(r->sock, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS)
		snprintf(r->err, sizeof(r->err), "connect: %s",
		    strerror(errno));
	if (ai != NULL)
		freeaddrinfo(ai);
	return relay_wait(r);
}

/* ------------------------------------------------------------------------
 * Copying. A wake-up moves what it can: bytes just read are written at
 * once, and a buffer just emptied is filled again, up to RELAY_ROUNDS
 * times, rather than one poll(2) round per read and per write. */

#define RELAY_ROUNDS	4

static void	relay_update(struct relay *);

static void
close_out(struct relay *r)
{
	struct stat st;

	if (r->out_done)
		return;
	r->out_done = 1;
	relaybuf_reset(&r->down);
	ev_io_del(r->out_io);
	r->out_io = NULL;
	/* a socketpair channel needs shutdown: our stdin shares it */
	if (fstat(r->out_fd, &st) == 0 && S_ISSOCK(st.st_mode))
		shutdown(r->out_fd, SHUT_WR);
	/* one connection both ways (export): closed by relay_free() */
	if (r->out_fd != r->in_fd)
		close(r->out_fd);
	log_debug("relay: socket -> channel done, %llu bytes", r->ndown);
}

static void
shut_sock(struct relay *r)
{
	if (r->shut)
		return;
	r->shut = 1;
	relaybuf_reset(&r->up);
	if (shutdown(r->sock, SHUT_WR) == -1 && errno != ENOTCONN)
		log_warn("relay: shutdown");
	log_debug("relay: channel -> socket done, %llu bytes", r->nup);
}

/* channel -> up: 1 if bytes came */
static int
up_read(struct relay *r)
{
	ssize_t n;

	if (r->in_eof || !relaybuf_room(&r->up))
		return 0;
	n = relaybuf_read(&r->up, r->in_fd);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n <= 0) {
		if (n == -1)
			log_warn("relay: read from the channel");
		r->in_eof = 1;
		return 0;
	}
	return 1;
}

/* up -> socket: 1 if all of it went */
static int
up_write(struct relay *r)
{
	ssize_t n;

	if (r->shut || relaybuf_len(&r->up) == 0)
		return 0;
	n = relaybuf_write(&r->up, r->sock);
	if (n > 0)
		r->nup += (unsigned long long)n;
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		/* reset: drop what the channel still sends */
		log_debug("relay: write to the service: %s", strerror(errno));
		r->in_eof = 1;
		shut_sock(r);
		return 0;
	}
	return relaybuf_len(&r->up) == 0;
}

/* socket -> down: 1 if bytes came */
static int
down_read(struct relay *r)
{
	ssize_t n;

	if (r->sock_eof || !relaybuf_room(&r->down))
		return 0;
	n = relaybuf_read(&r->down, r->sock);
	if (n == 0)
		r->sock_eof = 1;
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		log_debug("relay: read from the service: %s", strerror(errno));
		r->sock_eof = 1;
	}
	return n > 0;
}

/* down -> channel: 1 if all of it went */
static int
down_write(struct relay *r)
{
	ssize_t n;

	if (r->out_done || relaybuf_len(&r->down) == 0)
		return 0;
	n = relaybuf_write(&r->down, r->out_fd);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == -1) {
		/* the channel is gone: nothing more can go that way */
		if (errno != EPIPE)
			log_warn("relay: write to the channel");
		r->sock_eof = 1;
		close_out(r);
		return 0;
	}
	r->ndown += (unsigned long long)n;
	return relaybuf_len(&r->down) == 0;
}

static void
pump_up(struct relay *r, int reading)
{
	int i;

	for (i = 0; i < RELAY_ROUNDS; i++) {
		if (reading && !up_read(r))
			break;
		reading = 1;
		if (!up_write(r))
			break;
	}
}

static void
pump_down(struct relay *r, int reading)
{
	int i;

	for (i = 0; i < RELAY_ROUNDS; i++) {
		if (reading && !down_read(r))
			break;
		reading = 1;
		if (!down_write(r))
			break;
	}
}

static void
in_cb(int fd, short revents, void *arg)
{
	struct relay *r = arg;

	pump_up(r, 1);
	relay_update(r);
}

static void
out_cb(int fd, short revents, void *arg)
{
	struct relay *r = arg;

	if (relaybuf_len(&r->down) == 0) {
		/* POLLERR or POLLHUP while idle: sshd closed the channel */
		r->sock_eof = 1;
		close_out(r);
	} else
		pump_down(r, 0);
	relay_update(r);
}

static void
sock_cb(int fd, short revents, void *arg)
{
	struct relay *r = arg;

	if (revents & (POLLIN | POLLHUP | POLLERR))
		pump_down(r, 1);
	if (revents & (POLLOUT | POLLERR | POLLHUP))
		pump_up(r, 0);
	relay_update(r);
}

static void
relay_update(struct relay *r)
{
	short ev;

	if (r->finished)
		return;
	if (r->in_eof && relaybuf_len(&r->up) == 0)
		shut_sock(r);
	if (r->sock_eof && relaybuf_len(&r->down) == 0)
		close_out(r);
	if (r->in_io != NULL) {
		if (r->in_eof) {
			ev_io_del(r->in_io);
			r->in_io = NULL;
		} else
			ev_io_set(r->in_io, relaybuf_room(&r->up) ? POLLIN : 0);
	}
	/* Idle, stdout stays in the poll set with POLLPRI, which a pipe never
	 * raises: POLLERR then tells that the agent is gone even while the
	 * service is silent after the agent's half-close. */
	if (r->out_io != NULL)
		ev_io_set(r->out_io, relaybuf_len(&r->down) > 0 ? POLLOUT :
		    POLLPRI);
	ev = 0;
	if (!r->sock_eof && relaybuf_room(&r->down))
		ev |= POLLIN;
	if (!r->shut && relaybuf_len(&r->up) > 0)
		ev |= POLLOUT;
	ev_io_set(r->sock_io, ev);
	if (r->shut && r->out_done) {
		r->finished = 1;
		log_debug("relay: %llu bytes up, %llu down", r->nup, r->ndown);
		r->done(r->done_arg);
	}
}

int
relay_start(struct relay *r, int in_fd, int out_fd, struct buf *in,
    int in_eof, struct buf *out, void (*done)(void *), void *arg)
{
	int one = 1;

	r->in_fd = in_fd;
	r->out_fd = out_fd;
	r->done = done;
	r->done_arg = arg;
	/* take the buffers: early payload, and RELAYING still unsent */
	relaybuf_init(&r->up, in, RELAY_BUFSZ);
	relaybuf_init(&r->down, out, RELAY_BUFSZ);
	r->bufs = 1;
	r->in_eof = in_eof;
	/* bytes go as they come: no Nagle delay on what we pass on (an
	 * export's sock is sshd's Unix socket: its TCP side is in_fd, set
	 * by export.c) */
	if (in_fd != out_fd && setsockopt(r->sock, IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one)) == -1)
		log_debug("relay: TCP_NODELAY: %s", strerror(errno));
	if ((r->sock_io = ev_io_add(r->loop, r->sock, 0, sock_cb, r)) == NULL ||
	    (r->out_io = ev_io_add(r->loop, out_fd, 0, out_cb, r)) == NULL ||
	    (!in_eof && (r->in_io = ev_io_add(r->loop, in_fd, 0, in_cb,
	    r)) == NULL))
		return -1;
	relay_update(r);
	return 0;
}

void
relay_free(struct relay *r)
{
	if (r == NULL)
		return;
	ev_io_del(r->sock_io);
	ev_io_del(r->in_io);
	ev_io_del(r->out_io);
	ev_timer_del(r->timer);
	if (r->sock != -1)
		close(r->sock);
	if (r->in_fd != -1 && r->in_fd == r->out_fd)
		close(r->in_fd);
	if (r->bufs) {
		relaybuf_free(&r->up);
		relaybuf_free(&r->down);
	}
	free(r);
}
