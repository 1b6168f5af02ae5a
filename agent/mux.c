/* The mux client: requests to an OpenSSH ControlMaster and the parser of
 * its replies.
 *
 * Wire format (OpenSSH 9.2 mux.c, not PROTOCOL.mux): every packet is
 * u32 length + body, the body starts with u32 type; the master refuses a
 * body over 256 KiB. Client requests used here:
 *   HELLO          0x00000001  u32 version (4), then name/value string
 *                              pairs (we send none)
 *   NEW_SESSION    0x10000002  u32 rid, string reserved, u32 tty, u32 x11,
 *                              u32 agent, u32 subsystem, u32 escape char
 *                              (0xffffffff none), string term, string cmd,
 *                              string env*; then 3 fds
 *   ALIVE_CHECK    0x10000004  u32 rid
 *   NEW_STDIO_FWD  0x10000008  u32 rid, string reserved, string host,
 *                              u32 port; then 2 fds
 *   OPEN_FWD       0x10000006  u32 rid, u32 type (1 local, 2 remote), string
 *   CLOSE_FWD      0x10000007  listen host, u32 listen port, string
 *                              connect host, u32 connect port; a listen
 *                              port of 0xfffffffe (PORT_STREAMLOCAL)
 *                              makes the listen host a Unix socket path
 * Each fd follows as its own sendmsg of 1 data byte + SCM_RIGHTS. The
 * master reads exactly one packet at a time (so it never swallows the fd
 * bytes) and then blocks in poll(-1) until the fds arrive: it serves no
 * one else meanwhile, so the fds go out right after the request, and any
 * failure closes the control socket, which ends that wait.
 * Master replies:
 *   HELLO            0x00000001  u32 version, name/value pairs
 *   S_OK             0x80000001  u32 rid
 *   S_PERMISSION_DENIED 0x80000002  u32 rid, string reason
 *   S_FAILURE        0x80000003  u32 rid, string reason
 *   S_EXIT_MESSAGE   0x80000004  u32 sid, u32 exit value   (no rid)
 *   S_ALIVE          0x80000005  u32 rid, u32 pid
 *   S_SESSION_OPENED 0x80000006  u32 rid, u32 sid
 *   S_REMOTE_PORT    0x80000007  u32 rid, u32 port (OPEN_FWD only)
 *   S_TTY_ALLOC_FAIL 0x80000008  u32 sid                  (no rid)
 * The master sends its HELLO as soon as it accepts the connection, before
 * reading anything, so a pipelined request costs no round trip.
 *
 * How the master behaves (docs/MUX.md has what was observed, with
 * timings): a stdio forward's reply waits for sshd's connect() to the
 * target, and every refusal reads "Session open refused by peer" (the
 * real cause is only on the master's stderr); after SESSION_OPENED the
 * master sends nothing more and ends the forward by closing the control
 * connection, which also cancels a pending one. A stdio forward drops
 * what the client sends after the server's half-close; a session keeps
 * both directions. A master out of file descriptors ends control
 * connections without a reply.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "mux.h"
#include "xmalloc.h"

#define MUX_VERSION		4

#define MUX_MSG_HELLO		0x00000001
#define MUX_C_NEW_SESSION	0x10000002
#define MUX_C_ALIVE_CHECK	0x10000004
#define MUX_C_OPEN_FWD		0x10000006
#define MUX_C_CLOSE_FWD		0x10000007
#define MUX_C_NEW_STDIO_FWD	0x10000008
#define MUX_FWD_LOCAL		1
#define MUX_FWD_REMOTE		2
#define MUX_PORT_STREAMLOCAL	0xfffffffeU	/* PORT_STREAMLOCAL (-2) */
#define MUX_S_OK		0x80000001
#define MUX_S_PERMISSION_DENIED	0x80000002
#define MUX_S_FAILURE		0x80000003
#define MUX_S_EXIT_MESSAGE	0x80000004
#define MUX_S_ALIVE		0x80000005
#define MUX_S_SESSION_OPENED	0x80000006
#define MUX_S_REMOTE_PORT	0x80000007
#define MUX_S_TTY_ALLOC_FAIL	0x80000008
#define MUX_S_PROXY		0x8000000f

#define MUX_NO_ESCAPE		0xffffffffU
#define MUX_MAXREQUEST		8192	/* our own requests are tiny */

static void seterr(char **, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* cause_set, but cause may be NULL (the caller wants no reason). */
static void
seterr(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(cause, fmt, ap);
	va_end(ap);
}

/* --- sending ------------------------------------------------------------ */

static int
send_all(int s, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(s, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				errno = ETIMEDOUT;	/* SO_SNDTIMEO */
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One fd, one data byte, one sendmsg: what the master's mm_receive_fd()
 * expects. */
static int
send_fd(int s, int fd)
{
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct cmsghdr *cmsg;
	char ch = '\0';
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cbuf, 0, sizeof(cbuf));
	iov.iov_base = &ch;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));

	while ((n = sendmsg(s, &msg, MSG_NOSIGNAL)) == -1 && errno == EINTR)
		;
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		errno = ETIMEDOUT;
	if (n == 1)
		return 0;
	if (n >= 0)
		errno = EIO;
	return -1;
}

/* A close-on-exec connection to the master. Blocking, with a send
 * timeout that also bounds connect() (Linux applies SO_SNDTIMEO to an
 * AF_UNIX connect waiting for backlog room); or non-blocking, when a
 * full backlog should fail at once (EAGAIN). */
static int
mux_connect(const char *path, int nonblock, char **cause)
{
	struct sockaddr_un sa;
	struct timeval tv;
	int s;

	if (path == NULL || strlen(path) >= sizeof(sa.sun_path)) {
		seterr(cause, "control socket path %s", path == NULL ?
		    "missing" : "too long");
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));

	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0)) == -1) {
		seterr(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (nonblock) {
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return s;
		seterr(cause, "control socket %s: connect: %s", path,
		    errno == EAGAIN ? "the master's backlog is full" :
		    strerror(errno));
		goto fail;
	}
	tv.tv_sec = MUX_SEND_TIMEOUT_MS / 1000;
	tv.tv_usec = (MUX_SEND_TIMEOUT_MS % 1000) * 1000;
	if (setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		seterr(cause, "setsockopt SO_SNDTIMEO: %s",
		    strerror(errno));
		goto fail;
	}
	/* An interrupted AF_UNIX connect leaves the socket unconnected, so
	 * it is simply tried again. */
	while (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EISCONN)
			break;
		if (errno == EAGAIN)
			errno = ETIMEDOUT;
		seterr(cause, "control socket %s: connect: %s", path,
		    strerror(errno));
		goto fail;
	}
	return s;
 fail:
	close(s);
	return -1;
}

/* Connect, send HELLO + request + fds, go non-blocking. body is the
 * request body (type first) without its length. */
static int
mux_request(const char *path, struct buf *body, const int *fds, int nfds,
    char **cause)
{
	struct buf out;
	int s, i;

	buf_init(&out, MUX_MAXREQUEST + 32);
	if (buf_put_u32(&out, 8) == -1 ||
	    buf_put_u32(&out, MUX_MSG_HELLO) == -1 ||
	    buf_put_u32(&out, MUX_VERSION) == -1 ||
	    buf_put_u32(&out, (uint32_t)buf_len(body)) == -1 ||
	    buf_put(&out, buf_ptr(body), buf_len(body)) == -1) {
		seterr(cause, "request too long");
		buf_free(&out);
		return -1;
	}
	if ((s = mux_connect(path, 0, cause)) == -1) {
		buf_free(&out);
		return -1;
	}
	if (send_all(s, buf_ptr(&out), buf_len(&out)) == -1) {
		seterr(cause, "control socket %s: send: %s", path,
		    strerror(errno));
		goto fail;
	}
	for (i = 0; i < nfds; i++) {
		if (send_fd(s, fds[i]) == -1) {
			seterr(cause, "control socket %s: passing fd "
			    "%d: %s", path, fds[i], strerror(errno));
			goto fail;
		}
	}
	if (set_nonblock(s) == -1) {
		seterr(cause, "fcntl O_NONBLOCK: %s", strerror(errno));
		goto fail;
	}
	buf_free(&out);
	return s;
 fail:
	buf_free(&out);
	close(s);	/* also frees a master waiting for our fds */
	return -1;
}

static int
valid_fd(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) != -1;
}

/* The body of a NEW_STDIO_FWD request (type first, no length). */
static int
stdio_fwd_body(struct buf *body, const char *host, unsigned int port,
    int fd, uint32_t rid, char **cause)
{
	if (host == NULL || *host == '\0' || port == 0 || port > 65535) {
		seterr(cause, "stdio forward: invalid target %s:%u",
		    host == NULL ? "(null)" : host, port);
		return -1;
	}
	if (!valid_fd(fd)) {
		seterr(cause, "stdio forward: bad fd %d", fd);
		return -1;
	}
	if (buf_put_u32(body, MUX_C_NEW_STDIO_FWD) == -1 ||
	    buf_put_u32(body, rid) == -1 ||
	    buf_put_cstring(body, "") == -1 ||		/* reserved */
	    buf_put_cstring(body, host) == -1 ||
	    buf_put_u32(body, port) == -1) {
		seterr(cause, "stdio forward: host name too long");
		return -1;
	}
	return 0;
}

int
mux_open_stdio_fwd(const char *ctlpath, const char *host, unsigned int port,
    int fd, uint32_t rid, char **cause)
{
	struct buf body;
	int fds[2], s = -1;

	buf_init(&body, MUX_MAXREQUEST);
	if (stdio_fwd_body(&body, host, port, fd, rid, cause) == 0) {
		fds[0] = fds[1] = fd;
		s = mux_request(ctlpath, &body, fds, 2, cause);
	}
	buf_free(&body);
	return s;
}

/* --- spare control connections (stdio forwards) ------------------------- */

int
mux_spare_open(const char *ctlpath, char **cause)
{
	static const unsigned char hello[12] = {
		0, 0, 0, 8,			/* length */
		0, 0, 0, MUX_MSG_HELLO,
		0, 0, 0, MUX_VERSION
	};
	int s;

	if ((s = mux_connect(ctlpath, 1, cause)) == -1)
		return -1;
	/* 12 bytes into an empty socket buffer: all or nothing */
	if (send_all(s, hello, sizeof(hello)) == -1) {
		seterr(cause, "control socket %s: send: %s", ctlpath,
		    strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

/* One request, framed, on a spare control connection. Non-blocking, but
 * the socket buffer holds nothing of ours but the HELLO: a short send
 * means the master is gone or wedged. */
static int
spare_send(int s, const struct buf *body, char **cause)
{
	struct buf out;
	int ret = -1;

	buf_init(&out, MUX_MAXREQUEST + 4);
	if (buf_put_u32(&out, (uint32_t)buf_len(body)) == -1 ||
	    buf_put(&out, buf_ptr(body), buf_len(body)) == -1)
		seterr(cause, "request too long");
	else if (send_all(s, buf_ptr(&out), buf_len(&out)) == -1)
		seterr(cause, "spare control connection: send: %s",
		    strerror(errno));
	else
		ret = 0;
	buf_free(&out);
	return ret;
}

int
mux_spare_stdio_fwd(int s, const char *host, unsigned int port, int fd,
    uint32_t rid, char **cause)
{
	struct buf body;
	int ret = -1;

	buf_init(&body, MUX_MAXREQUEST);
	if (stdio_fwd_body(&body, host, port, fd, rid, cause) == -1 ||
	    spare_send(s, &body, cause) == -1)
		goto out;
	if (send_fd(s, fd) == -1 || send_fd(s, fd) == -1) {
		seterr(cause, "spare control connection: passing fd %d: %s",
		    fd, strerror(errno));
		goto out;
	}
	ret = 0;
 out:
	buf_free(&body);
	return ret;
}

static int
open_session(const char *ctlpath, const char *name, int subsystem, int fd_in,
    int fd_out, int fd_err, uint32_t rid, char **cause)
{
	struct buf body;
	int fds[3], devnull = -1, s = -1;

	if (name == NULL || *name == '\0') {
		seterr(cause, "session: no subsystem name");
		return -1;
	}
	if (!valid_fd(fd_in) || !valid_fd(fd_out) ||
	    (fd_err != -1 && !valid_fd(fd_err))) {
		seterr(cause, "session: bad fd (%d, %d, %d)", fd_in,
		    fd_out, fd_err);
		return -1;
	}
	if (fd_err == -1 &&
	    (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		seterr(cause, "/dev/null: %s", strerror(errno));
		return -1;
	}
	buf_init(&body, MUX_MAXREQUEST);
	if (buf_put_u32(&body, MUX_C_NEW_SESSION) == -1 ||
	    buf_put_u32(&body, rid) == -1 ||
	    buf_put_cstring(&body, "") == -1 ||		/* reserved */
	    buf_put_u32(&body, 0) == -1 ||		/* tty */
	    buf_put_u32(&body, 0) == -1 ||		/* X11 */
	    buf_put_u32(&body, 0) == -1 ||		/* agent */
	    buf_put_u32(&body, subsystem) == -1 ||	/* 0: a command */
	    buf_put_u32(&body, MUX_NO_ESCAPE) == -1 ||
	    buf_put_cstring(&body, "") == -1 ||		/* term */
	    buf_put_cstring(&body, name) == -1) {	/* no env */
		seterr(cause, "session: subsystem name too long");
		goto out;
	}
	fds[0] = fd_in;
	fds[1] = fd_out;
	fds[2] = fd_err == -1 ? devnull : fd_err;
	s = mux_request(ctlpath, &body, fds, 3, cause);
 out:
	if (devnull != -1)
		close(devnull);
	buf_free(&body);
	return s;
}

int
mux_open_subsystem(const char *ctlpath, const char *name, int fd_in,
    int fd_out, int fd_err, uint32_t rid, char **cause)
{
	return open_session(ctlpath, name, 1, fd_in, fd_out, fd_err, rid,
	    cause);
}

int
mux_open_command(const char *ctlpath, const char *command, int fd_in,
    int fd_out, int fd_err, uint32_t rid, char **cause)
{
	return open_session(ctlpath, command, 0, fd_in, fd_out, fd_err, rid,
	    cause);
}

/*
 * A remote forward from a Unix socket on the server.  The master answers
 * OPEN_FWD only when sshd answered its streamlocal-forward request (OK,
 * or FAILURE "remote port forwarding failed for listen path P"); CLOSE_FWD
 * at once (OK, or FAILURE "port not forwarded").  A request for a forward
 * it holds already is answered OK at once.
 */
static int
remote_fwd(const char *ctlpath, uint32_t type, const char *path,
    const char *host, unsigned int port, uint32_t rid, char **cause)
{
	struct buf body;
	int s;

	if (path == NULL || *path == '\0' || host == NULL || *host == '\0' ||
	    port == 0 || port > 65535) {
		seterr(cause, "remote forward: invalid forward %s to %s:%u",
		    path == NULL || *path == '\0' ? "(no path)" : path,
		    host == NULL ? "(null)" : host, port);
		return -1;
	}
	buf_init(&body, MUX_MAXREQUEST);
	if (buf_put_u32(&body, type) == -1 ||
	    buf_put_u32(&body, rid) == -1 ||
	    buf_put_u32(&body, MUX_FWD_REMOTE) == -1 ||
	    buf_put_cstring(&body, path) == -1 ||
	    buf_put_u32(&body, MUX_PORT_STREAMLOCAL) == -1 ||
	    buf_put_cstring(&body, host) == -1 ||
	    buf_put_u32(&body, port) == -1) {
		seterr(cause, "remote forward: path or host too long");
		buf_free(&body);
		return -1;
	}
	s = mux_request(ctlpath, &body, NULL, 0, cause);
	buf_free(&body);
	return s;
}

int
mux_open_remote_fwd(const char *ctlpath, const char *path, const char *host,
    unsigned int port, uint32_t rid, char **cause)
{
	return remote_fwd(ctlpath, MUX_C_OPEN_FWD, path, host, port, rid,
	    cause);
}

int
mux_close_remote_fwd(const char *ctlpath, const char *path, const char *host,
    unsigned int port, uint32_t rid, char **cause)
{
	return remote_fwd(ctlpath, MUX_C_CLOSE_FWD, path, host, port, rid,
	    cause);
}

/*
 * A local forward: the master binds lhost:lport itself (a client binds the
 * exact address it is given: channels.c channel_fwd_bind_addr) and
 * carries each connection it accepts to chost:cport as a direct-tcpip
 * channel, as ssh -L does. OPEN_FWD is answered at once: OK once it
 * listens, FAILURE "Port forwarding failed" when it cannot bind; CLOSE_FWD
 * OK, or FAILURE "port not found".
 */
int
mux_local_fwd_body(struct buf *body, uint32_t type, const char *lhost,
    unsigned int lport, const char *chost, unsigned int cport, uint32_t rid,
    char **cause)
{
	if (type != MUX_C_OPEN_FWD && type != MUX_C_CLOSE_FWD) {
		seterr(cause, "local forward: bad request type 0x%08x", type);
		return -1;
	}
	if (lhost == NULL || *lhost == '\0' || chost == NULL ||
	    *chost == '\0' || lport == 0 || lport > 65535 || cport == 0 ||
	    cport > 65535) {
		seterr(cause, "local forward: invalid forward %s:%u to %s:%u",
		    lhost == NULL || *lhost == '\0' ? "(no address)" : lhost,
		    lport, chost == NULL || *chost == '\0' ? "(no host)" :
		    chost, cport);
		return -1;
	}
	if (buf_put_u32(body, type) == -1 ||
	    buf_put_u32(body, rid) == -1 ||
	    buf_put_u32(body, MUX_FWD_LOCAL) == -1 ||
	    buf_put_cstring(body, lhost) == -1 ||
	    buf_put_u32(body, lport) == -1 ||
	    buf_put_cstring(body, chost) == -1 ||
	    buf_put_u32(body, cport) == -1) {
		seterr(cause, "local forward: address or host too long");
		return -1;
	}
	return 0;
}

static int
local_fwd(const char *ctlpath, uint32_t type, const char *lhost,
    unsigned int lport, const char *chost, unsigned int cport, uint32_t rid,
    char **cause)
{
	struct buf body;
	int s = -1;

	buf_init(&body, MUX_MAXREQUEST);
	if (mux_local_fwd_body(&body, type, lhost, lport, chost, cport, rid,
	    cause) == 0)
		s = mux_request(ctlpath, &body, NULL, 0, cause);
	buf_free(&body);
	return s;
}

int
mux_spare_local_fwd(int s, uint32_t type, const char *lhost,
    unsigned int lport, const char *chost, unsigned int cport, uint32_t rid,
    char **cause)
{
	struct buf body;
	int ret = -1;

	buf_init(&body, MUX_MAXREQUEST);
	if (mux_local_fwd_body(&body, type, lhost, lport, chost, cport, rid,
	    cause) == 0 && spare_send(s, &body, cause) == 0)
		ret = 0;
	buf_free(&body);
	return ret;
}

int
mux_open_local_fwd(const char *ctlpath, const char *lhost,
    unsigned int lport, const char *chost, unsigned int cport, uint32_t rid,
    char **cause)
{
	return local_fwd(ctlpath, MUX_C_OPEN_FWD, lhost, lport, chost, cport,
	    rid, cause);
}

int
mux_close_local_fwd(const char *ctlpath, const char *lhost,
    unsigned int lport, const char *chost, unsigned int cport, uint32_t rid,
    char **cause)
{
	return local_fwd(ctlpath, MUX_C_CLOSE_FWD, lhost, lport, chost, cport,
	    rid, cause);
}

int
mux_alive_check(const char *ctlpath, uint32_t rid, char **cause)
{
	struct buf body;
	int s;

	buf_init(&body, MUX_MAXREQUEST);
	if (buf_put_u32(&body, MUX_C_ALIVE_CHECK) == -1 ||
	    buf_put_u32(&body, rid) == -1) {
		seterr(cause, "alive check: %s", strerror(errno));
		buf_free(&body);
		return -1;
	}
	s = mux_request(ctlpath, &body, NULL, 0, cause);
	buf_free(&body);
	return s;
}

/* --- replies ------------------------------------------------------------ */

void
mux_reader_init(struct mux_reader *r, uint32_t rid)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->in, 4 + (size_t)MUX_MAXPACKET);
	r->rid = rid;
}

void
mux_reader_free(struct mux_reader *r)
{
	buf_free(&r->in);
}

const char *
mux_event_name(enum mux_event ev)
{
	static const char *const names[] = {
		"none", "opened", "alive", "failed", "exit", "eof", "error",
		"ok"
	};

	if ((size_t)ev < sizeof(names) / sizeof(names[0]))
		return names[ev];
	return "?";
}

static enum mux_event reader_fail(struct mux_reader *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static enum mux_event
reader_fail(struct mux_reader *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
	va_end(ap);
	r->done = 1;
	buf_reset(&r->in);
	return MUX_EV_ERROR;
}

/* Copy a peer's string for logs: printable ASCII only, never empty. */
static void
set_reason(struct mux_reader *r, const char *s)
{
	size_t i;

	if (*s == '\0')
		s = "(no reason given)";

	for (i = 0; s[i] != '\0' && i < sizeof(r->reason) - 1; i++)
		r->reason[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	r->reason[i] = '\0';
}

/* Skip a string whose bytes we never look at (binary allowed). */
static int
skip_string(struct buf *b)
{
	uint32_t n;

	if (buf_peek_u32(b, &n) == -1 || n > buf_len(b) - 4)
		return -1;
	buf_consume(b, 4 + (size_t)n);
	return 0;
}

static enum mux_event
parse_hello(struct mux_reader *r, struct buf *p)
{
	uint32_t ver;

	if (buf_get_u32(p, &ver) == -1)
		return reader_fail(r, "truncated HELLO");
	if (ver != MUX_VERSION)
		return reader_fail(r, "master speaks mux version %u, not %u",
		    ver, MUX_VERSION);
	/* Extensions: name/value pairs, none defined; skipped. */
	while (buf_len(p) > 0) {
		if (skip_string(p) == -1 || skip_string(p) == -1)
			return reader_fail(r, "malformed HELLO extension");
	}
	r->got_hello = 1;
	return MUX_EV_NONE;
}

static enum mux_event
parse_reply(struct mux_reader *r, uint32_t type, struct buf *p)
{
	uint32_t id, v;
	char *s = NULL;

	/* Every reply starts with a u32: the rid, or the session id for
	 * the two messages that are not replies. */
	if (buf_get_u32(p, &id) == -1)
		return reader_fail(r, "truncated packet type 0x%08x", type);

	switch (type) {
	case MUX_S_EXIT_MESSAGE:
	case MUX_S_TTY_ALLOC_FAIL:
		if (!r->opened)
			return reader_fail(r, "packet type 0x%08x before "
			    "the session opened", type);
		if (id != r->sid)
			return reader_fail(r, "packet for session %u, ours is "
			    "%u", id, r->sid);
		if (type == MUX_S_TTY_ALLOC_FAIL) {
			set_reason(r, "pty allocation failed");
			return MUX_EV_FAILED;
		}
		if (buf_get_u32(p, &v) == -1)
			return reader_fail(r, "truncated EXIT_MESSAGE");
		r->exit_status = v;
		return MUX_EV_EXIT;
	case MUX_S_OK:
	case MUX_S_PERMISSION_DENIED:
	case MUX_S_FAILURE:
	case MUX_S_ALIVE:
	case MUX_S_SESSION_OPENED:
		break;
	default:
		return reader_fail(r, "unexpected packet type 0x%08x", type);
	}

	if (id != r->rid)
		return reader_fail(r, "reply to request %u, ours is %u", id,
		    r->rid);
	switch (type) {
	case MUX_S_OK:
		return MUX_EV_OK;
	case MUX_S_PERMISSION_DENIED:
	case MUX_S_FAILURE:
		if (buf_get_cstring(p, &s) == -1)
			return reader_fail(r, "malformed %s reply",
			    type == MUX_S_FAILURE ? "FAILURE" :
			    "PERMISSION_DENIED");
		set_reason(r, s);
		free(s);
		return MUX_EV_FAILED;
	case MUX_S_ALIVE:
		if (buf_get_u32(p, &v) == -1)
			return reader_fail(r, "truncated ALIVE reply");
		r->pid = v;
		return MUX_EV_ALIVE;
	case MUX_S_SESSION_OPENED:
		if (r->opened)
			return reader_fail(r, "second SESSION_OPENED");
		if (buf_get_u32(p, &v) == -1)
			return reader_fail(r, "truncated SESSION_OPENED");
		r->sid = v;
		r->opened = 1;
		return MUX_EV_OPENED;
	}
	return reader_fail(r, "unreachable");
}

enum mux_event
mux_reader_next(struct mux_reader *r)
{
	struct buf p;
	enum mux_event ev;
	uint32_t len, type;

	for (;;) {
		if (r->done)
			return MUX_EV_NONE;
		if (buf_peek_u32(&r->in, &len) == -1)
			return MUX_EV_NONE;
		if (len > MUX_MAXPACKET)
			return reader_fail(r, "packet of %u bytes exceeds the "
			    "limit of %u", len, MUX_MAXPACKET);
		if (len < 4)
			return reader_fail(r, "packet of %u bytes has no type",
			    len);
		if (buf_len(&r->in) - 4 < len)
			return MUX_EV_NONE;

		/* Trailing bytes in a packet are ignored, as the master
		 * and ssh's own client do: room for future fields. */
		buf_init(&p, len);
		if (buf_put(&p, buf_ptr(&r->in) + 4, len) == -1) {
			buf_free(&p);
			return reader_fail(r, "out of memory");
		}
		buf_consume(&r->in, 4 + (size_t)len);
		(void)buf_get_u32(&p, &type);	/* len >= 4 */

		if (!r->got_hello) {
			if (type != MUX_MSG_HELLO)
				ev = reader_fail(r, "expected HELLO, got packet"
				    " type 0x%08x", type);
			else
				ev = parse_hello(r, &p);
		} else if (type == MUX_MSG_HELLO)
			ev = reader_fail(r, "second HELLO");
		else
			ev = parse_reply(r, type, &p);
		buf_free(&p);
		if (ev != MUX_EV_NONE)
			return ev;
	}
}

enum mux_event
mux_reader_read(struct mux_reader *r, int fd)
{
	unsigned char tmp[1024];
	enum mux_event ev;
	size_t want;
	ssize_t n;

	/* Read until a packet completes or the socket runs dry; bounded,
	 * since the buffer holds at most one incomplete packet and every
	 * packet after the HELLO yields an event. Through a small stack
	 * buffer: replies are tiny, and a reader lives as long as its relay
	 * (thousands of them), so its buffer should stay small too. */
	for (;;) {
		if ((ev = mux_reader_next(r)) != MUX_EV_NONE || r->done)
			return ev;
		/* room > 0: only an incomplete packet is left */
		want = buf_room(&r->in) < sizeof(tmp) ? buf_room(&r->in) :
		    sizeof(tmp);
		while ((n = read(fd, tmp, want)) == -1 && errno == EINTR)
			;
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return MUX_EV_NONE;
			return reader_fail(r, "control connection: read: %s",
			    strerror(errno));
		}
		if (n == 0)
			break;
		if (buf_put(&r->in, tmp, (size_t)n) == -1)
			return reader_fail(r, "out of memory");
	}
	r->done = 1;
	if (buf_len(&r->in) > 0) {
		snprintf(r->reason, sizeof(r->reason), "connection closed "
		    "inside a packet (%zu bytes left)", buf_len(&r->in));
		buf_reset(&r->in);
		return MUX_EV_ERROR;
	}
	snprintf(r->reason, sizeof(r->reason), "%s", r->got_hello ?
	    "master closed the connection" :
	    "master closed the connection before its HELLO");
	return MUX_EV_EOF;
}
