/*
 * xfer -- checksummed transfers for tests/integration/integrity.sh.
 *
 *   xfer serve PORT [echo|push]
 *   xfer run HOST PORT [-m echo|push] [-n CONNS] [-l LEN] [-u UPLEN]
 *            [-s SENDRATE] [-r READRATE] [-w WAITSEC] [-S SEED]
 *            [-H HOLDFILE]
 *
 * The data is a pseudo-random stream computed from a seed and the byte
 * offset, so either end can check every byte it receives in place: a
 * corrupted, lost, duplicated or reordered byte shows at its offset.
 *
 * echo: the server sends back what it reads and half-closes when the
 *   client has; the client sends LEN bytes, half-closes, and checks that
 *   exactly LEN bytes come back, then end of file.
 * push: the client sends a header (seed, LEN, UPLEN); the server sends
 *   LEN bytes and half-closes first; the client checks them, then sends
 *   UPLEN bytes and half-closes; the server checks those and prints
 *   "push SEED up N ok|bad" on its standard output.
 *
 * Each client connection ends as exactly one of: ok (all bytes, right,
 * then end of file), cut-eof or cut-reset (ended early: the failure is
 * visible), corrupt (a wrong byte), long (bytes past the end), connfail.
 * The summary line goes to standard output; the exit status is 0 if all
 * were ok, 2 if any was corrupt or long, 1 otherwise.  Rates are bytes per
 * second per connection (0: as fast as possible); with -w the send rate
 * counts from the end of the wait.
 *
 * -H HOLDFILE (echo mode): while HOLDFILE exists, each connection stops
 * sending at half its length; once all of them are held (or ended) xfer
 * creates HOLDFILE.held. A test strikes its fault then, knowing every
 * transfer is under way and none is done, and removes HOLDFILE to let
 * them go on: under load a timed strike came after the transfers ended.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	65536

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* the stream of seed, bytes [off, off + len) */
static void
gen(uint64_t seed, uint64_t off, unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++, off++)
		p[i] = (unsigned char)(mix(seed * 0x100000001b3ULL + off / 8) >>
		    (8 * (off % 8)));
}

/* offset of the first byte of p that differs from the stream, or -1 */
static long long
check(uint64_t seed, uint64_t off, const unsigned char *p, size_t len)
{
	unsigned char want[CHUNK];
	size_t i;

	gen(seed, off, want, len);
	for (i = 0; i < len; i++)
		if (p[i] != want[i])
			return (long long)(off + i);
	return -1;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
write_all(int fd, const unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
read_full(int fd, unsigned char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, p, len)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --- server ---------------------------------------------------------------- */

static void
serve_echo(int fd)
{
	unsigned char b[CHUNK];
	ssize_t n;

	for (;;) {
		if ((n = read(fd, b, sizeof(b))) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (write_all(fd, b, (size_t)n) == -1)
			return;
	}
	shutdown(fd, SHUT_WR);
}

static void
serve_push(int fd)
{
	unsigned char h[24], b[CHUNK];
	uint64_t seed, down, up, off = 0, got = 0;
	long long bad = -1;
	size_t len;
	ssize_t n;
	char line[128];

	if (read_full(fd, h, sizeof(h)) == -1)
		return;
	seed = get64(h);
	down = get64(h + 8);
	up = get64(h + 16);
	while (off < down) {
		len = down - off < sizeof(b) ? (size_t)(down - off) : sizeof(b);
		gen(seed + 1, off, b, len);
		if (write_all(fd, b, len) == -1)
			return;
		off += len;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		if ((n = read(fd, b, sizeof(b))) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (bad == -1 && got < up)
			bad = check(seed, got, b, got + (uint64_t)n > up ?
			    (size_t)(up - got) : (size_t)n);
		got += (uint64_t)n;
	}
	snprintf(line, sizeof(line), "push %" PRIu64 " up %" PRIu64 " %s\n",
	    seed, got, got == up && bad == -1 ? "ok" : "bad");
	write_all(STDOUT_FILENO, (unsigned char *)line, strlen(line));
}

static int
serve(int port, int push)
{
	struct sockaddr_in sin;
	int s, c, one = 1;

	signal(SIGCHLD, SIG_IGN);	/* no zombies */
	signal(SIGPIPE, SIG_IGN);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 512) == -1) {
		perror("xfer: bind/listen");
		return 1;
	}
	printf("listening %d\n", port);
	fflush(stdout);
	for (;;) {
		if ((c = accept(s, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("xfer: accept");
			return 1;
		}
		switch (fork()) {
		case -1:
			close(c);
			break;
		case 0:
			close(s);
			if (push)
				serve_push(c);
			else
				serve_echo(c);
			_exit(0);
		default:
			close(c);
		}
	}
}

/* --- client ---------------------------------------------------------------- */

enum result { XR_RUN, XR_OK, XR_EOF, XR_RST, XR_CORRUPT, XR_LONG, XR_CONNFAIL };
static const char *const rname[] = { "running", "ok", "cut-eof",
	"cut-reset", "corrupt", "long", "connfail" };

struct conn {
	int		 fd;
	int		 connected, wshut, header_sent, down_done;
	uint64_t	 seed, sent, rcvd, tsent;
	long long	 bad;
	enum result	 res;
	int		 err;		/* errno of a failed read/write */
	unsigned int	 lport;		/* to find it in the agent's log */
	uint64_t	 ended;		/* ms after the start */
};

struct opts {
	int		 push;
	uint64_t	 len, uplen, srate, rrate, seed0;
	unsigned int	 wait_s;
	const char	*hold;
};

static uint64_t run_t0;
static int holding;		/* -H: the hold file exists */

static void
finish(struct conn *c, enum result r)
{
	c->res = r;
	c->ended = now_ms() - run_t0;
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
}

/* bytes the rate allows on top of done, after elapsed ms (-1: no limit) */
static long long
allowance(uint64_t rate, uint64_t elapsed, uint64_t done)
{
	uint64_t may;

	if (rate == 0)
		return -1;
	may = rate * elapsed / 1000 + 4096;
	return may > done ? (long long)(may - done) : 0;
}

static void
do_write(struct conn *c, const struct opts *o, uint64_t elapsed)
{
	unsigned char b[CHUNK];
	uint64_t total = o->push ? o->uplen : o->len;
	size_t len;
	long long may;
	ssize_t n;

	if (o->push && !c->header_sent) {
		put64(b, c->seed);
		put64(b + 8, o->len);
		put64(b + 16, o->uplen);
		if (write(c->fd, b, 24) != 24) {	/* fits any buffer */
			finish(c, XR_CONNFAIL);
			return;
		}
		c->header_sent = 1;
		return;
	}
	if (o->push && !c->down_done)
		return;
	if (c->sent < total) {
		len = total - c->sent < sizeof(b) ? (size_t)(total - c->sent) :
		    sizeof(b);
		if ((may = allowance(o->srate, elapsed, c->sent)) == 0)
			return;
		if (may > 0 && (uint64_t)may < len)
			len = (size_t)may;
		if (holding && c->sent >= total / 2)
			return;
		if (holding && c->sent + len > total / 2)
			len = (size_t)(total / 2 - c->sent);
		gen(c->seed, c->sent, b, len);
		if ((n = write(c->fd, b, len)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			c->err = errno;
			finish(c, errno == EPIPE || errno == ECONNRESET ? XR_RST :
			    XR_EOF);
			return;
		}
		c->sent += (uint64_t)n;
	}
	if (c->sent == total && !c->wshut) {
		shutdown(c->fd, SHUT_WR);
		c->wshut = 1;
		if (o->push)
			finish(c, XR_OK);	/* the server checks the rest */
	}
}

static void
do_read(struct conn *c, const struct opts *o, uint64_t elapsed)
{
	unsigned char b[CHUNK];
	uint64_t total = o->len, seed = o->push ? c->seed + 1 : c->seed;
	size_t len = sizeof(b);
	long long may;
	ssize_t n;

	if ((may = allowance(o->rrate, elapsed, c->rcvd)) == 0)
		return;
	if (may > 0 && (uint64_t)may < len)
		len = (size_t)may;
	if ((n = read(c->fd, b, len)) == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		c->err = errno;
		finish(c, XR_RST);
		return;
	}
	if (n == 0) {
		if (c->rcvd != total)
			finish(c, XR_EOF);
		else if (o->push)
			c->down_done = 1;
		else
			finish(c, XR_OK);
		return;
	}
	if (c->rcvd + (uint64_t)n > total) {
		finish(c, XR_LONG);
		return;
	}
	if ((c->bad = check(seed, c->rcvd, b, (size_t)n)) != -1) {
		finish(c, XR_CORRUPT);
		return;
	}
	c->rcvd += (uint64_t)n;
}

static void
local_port(struct conn *c)
{
	struct sockaddr_in sin;
	socklen_t l = sizeof(sin);

	if (getsockname(c->fd, (struct sockaddr *)&sin, &l) == 0 &&
	    sin.sin_family == AF_INET)
		c->lport = ntohs(sin.sin_port);
}

static int
run(const char *host, int port, unsigned int nconn, const struct opts *o)
{
	struct sockaddr_in sin;
	struct conn *cs;
	struct pollfd *pfd;
	unsigned int i, np, left, count[XR_CONNFAIL + 1] = { 0 };
	uint64_t t0, t, elapsed, bytes = 0;
	int one = 1, paced = o->srate != 0 || o->rrate != 0, fd;
	int held, told = 0;
	char heldpath[4096];

	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "xfer: %s: not an IPv4 address\n", host);
		return 1;
	}
	if ((cs = calloc(nconn, sizeof(*cs))) == NULL ||
	    (pfd = calloc(nconn, sizeof(*pfd))) == NULL)
		return 1;
	run_t0 = now_ms();
	for (i = 0; i < nconn; i++) {
		cs[i].seed = o->seed0 + i;
		if ((cs[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
		    0)) == -1) {
			cs[i].res = XR_CONNFAIL;
			continue;
		}
		setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(cs[i].fd, (struct sockaddr *)&sin, sizeof(sin)) ==
		    -1 && errno != EINPROGRESS)
			finish(&cs[i], XR_CONNFAIL);
	}
	if (o->hold != NULL && (size_t)snprintf(heldpath, sizeof(heldpath),
	    "%s.held", o->hold) >= sizeof(heldpath)) {
		fprintf(stderr, "xfer: %s: name too long\n", o->hold);
		return 1;
	}
	t0 = run_t0 = now_ms();
	for (;;) {
		t = now_ms();
		elapsed = t - t0;
		np = 0;
		left = 0;
		holding = o->hold != NULL && access(o->hold, F_OK) == 0;
		held = holding;
		for (i = 0; i < nconn; i++) {
			struct conn *c = &cs[i];

			if (c->res != XR_RUN)
				continue;
			left++;
			pfd[np].fd = c->fd;
			pfd[np].events = 0;
			if (!c->connected)
				pfd[np].events = POLLOUT;
			else {
				if (elapsed >= (uint64_t)o->wait_s * 1000 &&
				    !c->wshut && !(holding &&
				    c->sent >= o->len / 2))
					pfd[np].events |= POLLOUT;
				if (!(o->push && c->down_done))
					pfd[np].events |= POLLIN;
			}
			if (!c->connected || c->sent < o->len / 2)
				held = 0;
			pfd[np].revents = 0;
			np++;
		}
		if (left == 0)
			break;
		if (held && !told) {
			if ((fd = open(heldpath, O_WRONLY | O_CREAT | O_CLOEXEC,
			    0644)) == -1) {
				fprintf(stderr, "xfer: %s: %s\n", heldpath,
				    strerror(errno));
				return 1;
			}
			close(fd);
			told = 1;
		}
		if (poll(pfd, np, paced || o->wait_s || o->hold ? 10 : 1000) ==
		    -1 &&
		    errno != EINTR)
			break;
		elapsed = now_ms() - t0;
		np = 0;
		for (i = 0; i < nconn; i++) {
			struct conn *c = &cs[i];
			short rev;

			if (c->res != XR_RUN)
				continue;
			rev = pfd[np++].revents;
			if (!c->connected) {
				int err = 0;
				socklen_t l = sizeof(err);

				if (rev == 0)
					continue;
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
				    &l);
				if (err != 0) {
					c->err = err;
					finish(c, XR_CONNFAIL);
					continue;
				}
				c->connected = 1;
				local_port(c);
				continue;
			}
			if (rev & (POLLIN | POLLERR | POLLHUP))
				do_read(c, o, elapsed);
			if (c->res == XR_RUN && (rev & POLLOUT))
				/* the send rate counts from the end of
				 * the wait: no burst of what it would
				 * have allowed meanwhile */
				do_write(c, o, elapsed - (uint64_t)o->wait_s *
				    1000);
		}
	}
	for (i = 0; i < nconn; i++) {
		count[cs[i].res]++;
		bytes += cs[i].rcvd;
		/* the local port names the connection in the agent's log
		 * ("from 10.2.0.2:PORT") */
		if (cs[i].res != XR_OK)
			fprintf(stderr, "xfer: conn %u port %u: %s%s%s%s after "
			    "%" PRIu64 " ms, sent %" PRIu64 " received %"
			    PRIu64 " of %" PRIu64 "%s%lld\n", i, cs[i].lport,
			    rname[cs[i].res], cs[i].err ? " (" : "",
			    cs[i].err ? strerror(cs[i].err) : "",
			    cs[i].err ? ")" : "", cs[i].ended, cs[i].sent,
			    cs[i].rcvd, o->len,
			    cs[i].bad != -1 && cs[i].res == XR_CORRUPT ?
			    ", first bad byte at " : "", cs[i].res ==
			    XR_CORRUPT ? cs[i].bad : 0LL);
	}
	printf("conns=%u ok=%u cut_eof=%u cut_reset=%u corrupt=%u long=%u "
	    "connfail=%u bytes_in=%" PRIu64 " ms=%" PRIu64 "\n", nconn,
	    count[XR_OK], count[XR_EOF], count[XR_RST], count[XR_CORRUPT],
	    count[XR_LONG], count[XR_CONNFAIL], bytes, now_ms() - t0);
	free(cs);
	free(pfd);
	if (count[XR_CORRUPT] + count[XR_LONG] > 0)
		return 2;
	return count[XR_OK] == nconn ? 0 : 1;
}

static uint64_t
num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		goto bad;
	switch (*end) {
	case 'k': v <<= 10; end++; break;
	case 'M': v <<= 20; end++; break;
	}
	if (*end == '\0')
		return v;
bad:
	fprintf(stderr, "xfer: bad number \"%s\"\n", s);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: xfer serve PORT [echo|push]\n"
	    "       xfer run HOST PORT [-m echo|push] [-n CONNS] [-l LEN] "
	    "[-u UPLEN]\n"
	    "                [-s SENDRATE] [-r READRATE] [-w WAITSEC] "
	    "[-S SEED]\n"
	    "                [-H HOLDFILE]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct opts o;
	unsigned int nconn = 1;
	int ch;

	if (argc >= 3 && strcmp(argv[1], "serve") == 0)
		return serve((int)num(argv[2]), argc > 3 &&
		    strcmp(argv[3], "push") == 0);
	if (argc < 4 || strcmp(argv[1], "run") != 0)
		usage();
	memset(&o, 0, sizeof(o));
	o.len = 1 << 20;
	o.seed0 = (uint64_t)time(NULL) << 16;
	optind = 4;
	while ((ch = getopt(argc, argv, "H:l:m:n:r:s:S:u:w:")) != -1) {
		switch (ch) {
		case 'H': o.hold = optarg; break;
		case 'l': o.len = num(optarg); break;
		case 'm': o.push = strcmp(optarg, "push") == 0; break;
		case 'n': nconn = (unsigned int)num(optarg); break;
		case 'r': o.rrate = num(optarg); break;
		case 's': o.srate = num(optarg); break;
		case 'S': o.seed0 = num(optarg); break;
		case 'u': o.uplen = num(optarg); break;
		case 'w': o.wait_s = (unsigned int)num(optarg); break;
		default: usage();
		}
	}
	if (nconn == 0 || nconn > 4000 || (o.hold != NULL && o.push))
		usage();
	return run(argv[2], (int)num(argv[3]), nconn, &o);
}
