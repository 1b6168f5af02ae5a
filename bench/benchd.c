/* benchd -- the benchmark's server: a small epoll HTTP/1.1 server and a
 * TCP echo server in one single-threaded process, so that what the
 * benchmark measures is the transport, not the server.
 *
 *   benchd [-a ADDR] [-H PORT] [-E PORT]
 *
 * HTTP: "GET /SIZE" answers SIZE bytes (SIZE is a number with an optional
 * k or m suffix: /4k, /8m, /100), from memory, with Content-Length.
 * Keep-alive unless the client says "Connection: close" (or speaks
 * HTTP/1.0 without keep-alive). Pipelined requests are answered in order.
 * Echo: every byte read is written back; on EOF the rest is flushed and
 * the connection closed. A reader is armed only while its buffer has room.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BODY_CHUNK	(1024 * 1024)
#define IBUF		8192
#define EBUF		(64 * 1024)
#define MAX_BODY	(1024ULL * 1024 * 1024)

enum kind { LISTEN_HTTP, LISTEN_ECHO, CONN_HTTP, CONN_ECHO };

struct conn {
	enum kind	 kind;
	int		 fd;
	/* input (HTTP requests) or echo data */
	char		*in;
	size_t		 inlen, incap;
	/* HTTP response being sent: header then body */
	char		 hdr[256];
	size_t		 hdrlen, hdroff;
	unsigned long long body, bodyoff;
	int		 sending, close_after, eof;
	/* echo: bytes of in[] already written back */
	size_t		 eoff;
};

static char body[BODY_CHUNK];
static int ep;

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
listen_on(const char *addr, int port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "benchd: bad address %s\n", addr);
		exit(2);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		die("bind");
	if (listen(fd, 4096) == -1)
		die("listen");
	return fd;
}

static void
watch(struct conn *c, int op, unsigned int events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, op, c->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
drop(struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->in);
	free(c);
}

static struct conn *
new_conn(enum kind kind, int fd)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		die("calloc");
	c->kind = kind;
	c->fd = fd;
	c->incap = kind == CONN_ECHO ? EBUF : IBUF;
	if ((c->in = malloc(c->incap)) == NULL)
		die("malloc");
	return c;
}

static void
do_accept(struct conn *l)
{
	int fd, one = 1;

	for (;;) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != ECONNABORTED && errno != EINTR)
				perror("accept");
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		watch(new_conn(l->kind == LISTEN_HTTP ? CONN_HTTP : CONN_ECHO,
		    fd), EPOLL_CTL_ADD, EPOLLIN);
	}
}

/* Parse the size of "/4k" style paths; -1 if malformed. */
static long long
parse_size(const char *p, size_t len)
{
	unsigned long long v = 0;
	size_t i = 0;

	if (len == 0 || p[0] != '/')
		return -1;
	for (i = 1; i < len && isdigit((unsigned char)p[i]); i++) {
		v = v * 10 + (unsigned)(p[i] - '0');
		if (v > MAX_BODY)
			return -1;
	}
	if (i == 1)
		return -1;
	if (i < len && (p[i] == 'k' || p[i] == 'K')) {
		v *= 1024;
		i++;
	} else if (i < len && (p[i] == 'm' || p[i] == 'M')) {
		v *= 1024 * 1024;
		i++;
	}
	if (i != len || v > MAX_BODY)
		return -1;
	return (long long)v;
}

/* If a complete request is buffered, set up its response and consume it.
 * Returns 1 if a response was started, 0 if more input is needed, -1 on a
 * bad request. */
static int
next_request(struct conn *c)
{
	char *end, *sp1, *sp2, *line_end, *h;
	size_t reqlen;
	long long size;
	int http10, keep = 1;

	end = memmem(c->in, c->inlen, "\r\n\r\n", 4);
	if (end == NULL)
		return c->inlen >= c->incap ? -1 : 0;
	reqlen = (size_t)(end - c->in) + 4;
	*end = '\0';
	line_end = strstr(c->in, "\r\n");
	if (line_end != NULL)
		*line_end = '\0';
	sp1 = c->in + 3;
	if (strncmp(c->in, "GET ", 4) != 0 ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL)
		return -1;
	size = parse_size(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	http10 = strcmp(sp2 + 1, "HTTP/1.0") == 0;
	if (http10)
		keep = 0;
	for (h = line_end != NULL ? line_end + 2 : NULL; h != NULL && *h;) {
		char *e = strstr(h, "\r\n");

		if (e != NULL)
			*e = '\0';
		if (strncasecmp(h, "Connection:", 11) == 0) {
			const char *v = h + 11;

			while (*v == ' ' || *v == '\t')
				v++;
			if (strncasecmp(v, "close", 5) == 0)
				keep = 0;
			else if (strncasecmp(v, "keep-alive", 10) == 0)
				keep = 1;
		}
		h = e != NULL ? e + 2 : NULL;
	}
	if (size < 0) {
		c->hdrlen = (size_t)snprintf(c->hdr, sizeof(c->hdr),
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n");
		c->body = 0;
		keep = 0;
	} else {
		c->hdrlen = (size_t)snprintf(c->hdr, sizeof(c->hdr),
		    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream"
		    "\r\nContent-Length: %lld\r\n%s\r\n", size,
		    keep ? "" : "Connection: close\r\n");
		c->body = (unsigned long long)size;
	}
	c->hdroff = 0;
	c->bodyoff = 0;
	c->sending = 1;
	c->close_after = !keep;
	memmove(c->in, c->in + reqlen, c->inlen - reqlen);
	c->inlen -= reqlen;
	return 1;
}

/* Write as much of the current response as the socket takes. Returns 1
 * when done, 0 when blocked, -1 on error. */
static int
send_response(struct conn *c)
{
	ssize_t n;

	while (c->hdroff < c->hdrlen || c->bodyoff < c->body) {
		if (c->hdroff < c->hdrlen && c->body > 0) {
			struct iovec iov[2];
			size_t blen = c->body > BODY_CHUNK ? BODY_CHUNK :
			    (size_t)c->body;

			iov[0].iov_base = c->hdr + c->hdroff;
			iov[0].iov_len = c->hdrlen - c->hdroff;
			iov[1].iov_base = body;
			iov[1].iov_len = blen;
			n = writev(c->fd, iov, 2);
			if (n > 0) {
				size_t h = c->hdrlen - c->hdroff;

				if ((size_t)n <= h)
					c->hdroff += (size_t)n;
				else {
					c->hdroff = c->hdrlen;
					c->bodyoff += (size_t)n - h;
				}
			}
		} else if (c->hdroff < c->hdrlen) {
			n = write(c->fd, c->hdr + c->hdroff,
			    c->hdrlen - c->hdroff);
			if (n > 0)
				c->hdroff += (size_t)n;
		} else {
			unsigned long long left = c->body - c->bodyoff;
			size_t off = (size_t)(c->bodyoff % BODY_CHUNK);
			size_t len = BODY_CHUNK - off;

			if (len > left)
				len = (size_t)left;
			n = write(c->fd, body + off, len);
			if (n > 0)
				c->bodyoff += (size_t)n;
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return -1;
		}
	}
	c->sending = 0;
	return 1;
}

static void
http_event(struct conn *c, unsigned int events)
{
	ssize_t n;
	int r;

	if (events & (EPOLLERR)) {
		drop(c);
		return;
	}
	if (!c->sending && (events & (EPOLLIN | EPOLLHUP))) {
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			drop(c);
			return;
		}
		if (n > 0)
			c->inlen += (size_t)n;
	}
	for (;;) {
		if (c->sending) {
			if ((r = send_response(c)) == -1) {
				drop(c);
				return;
			}
			if (r == 0) {
				watch(c, EPOLL_CTL_MOD, EPOLLOUT);
				return;
			}
			if (c->close_after) {
				drop(c);
				return;
			}
		}
		if ((r = next_request(c)) == -1) {
			drop(c);
			return;
		}
		if (r == 0)
			break;
	}
	watch(c, EPOLL_CTL_MOD, EPOLLIN);
}

static void
echo_event(struct conn *c, unsigned int events)
{
	ssize_t n;

	if (events & EPOLLERR) {
		drop(c);
		return;
	}
	if (!c->eof && c->inlen < c->incap &&
	    (events & (EPOLLIN | EPOLLHUP))) {
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (n == 0)
			c->eof = 1;
		else if (n > 0)
			c->inlen += (size_t)n;
		else if (errno != EAGAIN && errno != EINTR) {
			drop(c);
			return;
		}
	}
	while (c->eoff < c->inlen) {
		n = write(c->fd, c->in + c->eoff, c->inlen - c->eoff);
		if (n > 0)
			c->eoff += (size_t)n;
		else if (n == -1 && errno == EINTR)
			continue;
		else if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else {
			drop(c);
			return;
		}
	}
	if (c->eoff == c->inlen)
		c->eoff = c->inlen = 0;
	if (c->eof && c->inlen == 0) {
		drop(c);
		return;
	}
	watch(c, EPOLL_CTL_MOD, (c->inlen > 0 ? EPOLLOUT : 0) |
	    (!c->eof && c->inlen < c->incap ? EPOLLIN : 0));
}

int
main(int argc, char **argv)
{
	const char *addr = "0.0.0.0";
	int hport = 0, eport = 0, ch, i;
	struct epoll_event evs[256];
	struct rlimit rl;
	unsigned int x = 2463534242u;

	while ((ch = getopt(argc, argv, "a:H:E:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'H': hport = atoi(optarg); break;
		case 'E': eport = atoi(optarg); break;
		default:
			fprintf(stderr,
			    "usage: benchd [-a ADDR] [-H PORT] [-E PORT]\n");
			return 2;
		}
	}
	if (hport <= 0 && eport <= 0) {
		fprintf(stderr, "benchd: give -H and/or -E\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* incompressible body: xorshift32 */
	for (i = 0; i < BODY_CHUNK; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		body[i] = (char)(x >> 24);
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if (hport > 0)
		watch(new_conn(LISTEN_HTTP, listen_on(addr, hport)),
		    EPOLL_CTL_ADD, EPOLLIN);
	if (eport > 0)
		watch(new_conn(LISTEN_ECHO, listen_on(addr, eport)),
		    EPOLL_CTL_ADD, EPOLLIN);
	printf("benchd: listening: http %d, echo %d\n", hport, eport);
	fflush(stdout);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			switch (c->kind) {
			case LISTEN_HTTP:
			case LISTEN_ECHO:
				do_accept(c);
				break;
			case CONN_HTTP:
				http_event(c, evs[i].events);
				break;
			case CONN_ECHO:
				echo_event(c, evs[i].events);
				break;
			}
		}
	}
}
