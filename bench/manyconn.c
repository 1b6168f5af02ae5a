/* manyconn -- open N connections to an echo server at once, push random
 * data through each, check that exactly the same bytes come back, and
 * keep them all open until every one has been verified.
 *
 *   manyconn [-n CONNS] [-b BYTES] [-p PENDING] [-H HOLD_S] [-t TIMEOUT_S]
 *            HOST PORT
 *
 * Phases: (1) connect all, non-blocking, with at most PENDING (default
 * 64) connections not yet confirmed end to end (no echoed byte yet), so
 * that a listener's backlog (128 for ssh and rnsplice-agent) and SYN
 * cookies are not what is measured; (2) on each, write
 * BYTES pseudo-random bytes (a different seed per connection) and read
 * them back, comparing a checksum of what was sent with one of what came
 * back; (3) when all are verified (or failed), print "HOLD" and keep them
 * open for HOLD_S seconds (for the caller to count them on the server),
 * then close all. Prints one JSON object: conns, ok, failed, reasons,
 * bytes checked, seconds, and the largest number open end to end at once.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum state { ST_NEW, ST_CONNECTING, ST_XFER, ST_OK, ST_FAILED };

struct conn {
	int		 fd;
	enum state	 st;
	uint64_t	 sum_sent, sum_got;
	size_t		 sent, got;
	const char	*why;
};

#define POOL	(1024 * 1024)

static size_t nbytes = 64 * 1024;
static uint8_t pool[POOL];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t
next_byte(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return (uint8_t)(x >> 11);
}

/* FNV-1a, byte by byte: order matters, so a reordering is caught too */
static uint64_t
fnv(uint64_t h, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void
fail(struct conn *c, const char *why, int *nfailed, int ep)
{
	if (c->st == ST_FAILED || c->st == ST_OK)
		return;
	c->st = ST_FAILED;
	c->why = why;
	(*nfailed)++;
	if (c->fd != -1) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

int
main(int argc, char **argv)
{
	struct addrinfo hints, *ai;
	struct epoll_event ev, evs[512];
	struct rlimit rl;
	struct conn *cs;
	uint8_t rbuf[65536];
	double t0, hold = 1, timeout = 60, tdone;
	int n = 2000, ch, r, ep, i, k, nok = 0, nfailed = 0, pending = 0;
	int maxpending = 64;
	int next = 0, open_now = 0, peak = 0, verified_open = 0;
	int reasons[5] = { 0 };
	const char *rname[5] = { "connect", "reset", "eof", "mismatch",
	    "timeout" };

	while ((ch = getopt(argc, argv, "n:b:p:H:t:")) != -1) {
		switch (ch) {
		case 'p': maxpending = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'b': nbytes = (size_t)atol(optarg); break;
		case 'H': hold = atof(optarg); break;
		case 't': timeout = atof(optarg); break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || n < 1)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < (rlim_t)n + 16) {
			fprintf(stderr, "manyconn: open files limit %llu < %d\n",
			    (unsigned long long)rl.rlim_cur, n + 16);
			return 1;
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai)) !=
	    0) {
		fprintf(stderr, "manyconn: %s\n", gai_strerror(r));
		return 1;
	}
	if ((cs = calloc((size_t)n, sizeof(*cs))) == NULL ||
	    (ep = epoll_create1(0)) == -1)
		return 1;
	for (i = 0; i < n; i++) {
		cs[i].fd = -1;
		cs[i].sum_sent = cs[i].sum_got = 14695981039346656037ULL;
	}
	{
		uint32_t seed = 0x9e3779b9u;

		for (i = 0; i < POOL; i++)
			pool[i] = next_byte(&seed);
	}
	t0 = now();
	while (nok + nfailed < n) {
		/* start more connects */
		while (next < n && pending < maxpending) {
			struct conn *c = &cs[next];
			int one = 1;

			c->fd = socket(ai->ai_family, SOCK_STREAM |
			    SOCK_NONBLOCK, 0);
			if (c->fd == -1) {
				reasons[0]++;
				fail(c, "connect", &nfailed, ep);
				next++;
				continue;
			}
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof(one));
			r = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
			if (r == -1 && errno != EINPROGRESS) {
				reasons[0]++;
				fail(c, "connect", &nfailed, ep);
				next++;
				continue;
			}
			c->st = ST_CONNECTING;
			memset(&ev, 0, sizeof(ev));
			ev.events = EPOLLOUT | EPOLLIN;
			ev.data.u32 = (uint32_t)next;
			epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
			pending++;
			next++;
		}
		if (now() - t0 > timeout) {
			for (i = 0; i < n; i++)
				if (cs[i].st != ST_OK &&
				    cs[i].st != ST_FAILED) {
					reasons[4]++;
					fail(&cs[i], "timeout", &nfailed, ep);
				}
			break;
		}
		r = epoll_wait(ep, evs, 512, 200);
		for (k = 0; k < r; k++) {
			struct conn *c = &cs[evs[k].data.u32];
			int err = 0;
			socklen_t el = sizeof(err);
			ssize_t m;
			size_t want;

			if (c->st == ST_CONNECTING) {
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err,
				    &el);
				if (err != 0) {
					pending--;
					reasons[0]++;
					fail(c, "connect", &nfailed, ep);
					continue;
				}
				c->st = ST_XFER;
				open_now++;
				if (open_now > peak)
					peak = open_now;
			}
			if (c->st != ST_XFER)
				continue;
			/* write what is left: conn i sends the pool from
			 * offset i * 7919 on, wrapping */
			while (c->sent < nbytes) {
				size_t off = ((size_t)evs[k].data.u32 * 7919 +
				    c->sent) % POOL;

				want = nbytes - c->sent;
				if (want > POOL - off)
					want = POOL - off;
				if (want > 65536)
					want = 65536;
				m = send(c->fd, pool + off, want, MSG_NOSIGNAL);
				if (m <= 0)
					break;
				c->sum_sent = fnv(c->sum_sent, pool + off,
				    (size_t)m);
				c->sent += (size_t)m;
			}
			/* read what came back */
			for (;;) {
				m = recv(c->fd, rbuf, sizeof(rbuf), 0);
				if (m > 0) {
					if (c->got == 0)
						pending--;	/* confirmed */
					c->sum_got = fnv(c->sum_got, rbuf,
					    (size_t)m);
					c->got += (size_t)m;
					if (c->got > nbytes)
						break;
					continue;
				}
				if (m <= 0 && c->got == 0 &&
				    (m == 0 || (errno != EAGAIN &&
				    errno != EWOULDBLOCK)))
					pending--;
				if (m == 0) {
					reasons[2]++;
					open_now--;
					fail(c, "eof", &nfailed, ep);
				} else if (errno != EAGAIN &&
				    errno != EWOULDBLOCK) {
					reasons[1]++;
					open_now--;
					fail(c, "reset", &nfailed, ep);
				}
				break;
			}
			if (c->st != ST_XFER)
				continue;
			if (c->got >= nbytes && c->sent >= nbytes) {
				if (c->got == nbytes &&
				    c->sum_got == c->sum_sent) {
					c->st = ST_OK;
					nok++;
					verified_open++;
					/* keep it open; stop watching */
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd,
					    NULL);
				} else {
					reasons[3]++;
					open_now--;
					fail(c, "mismatch", &nfailed, ep);
				}
			} else if (c->sent >= nbytes) {
				memset(&ev, 0, sizeof(ev));
				ev.events = EPOLLIN;
				ev.data.u32 = evs[k].data.u32;
				epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			}
		}
	}
	tdone = now() - t0;
	printf("HOLD %d\n", verified_open);
	fflush(stdout);
	if (hold > 0)
		usleep((useconds_t)(hold * 1e6));
	for (i = 0; i < n; i++)
		if (cs[i].fd != -1)
			close(cs[i].fd);
	printf("{\"conns\": %d, \"ok\": %d, \"failed\": %d, \"reasons\": "
	    "{", n, nok, nfailed);
	for (i = 0; i < 5; i++)
		printf("%s\"%s\": %d", i ? ", " : "", rname[i], reasons[i]);
	printf("}, \"bytes_each_way\": %zu, \"bytes_checked\": %llu, "
	    "\"seconds\": %.3f, \"peak_open\": %d, \"open_verified\": %d}\n",
	    nbytes, (unsigned long long)nok * nbytes, tdone, peak,
	    verified_open);
	freeaddrinfo(ai);
	return nfailed ? 1 : 0;
 usage:
	fprintf(stderr, "usage: manyconn [-n CONNS] [-b BYTES] [-p PENDING] "
	    "[-H HOLD_S] [-t TIMEOUT_S] HOST PORT\n");
	return 2;
}
