/* httpload -- HTTP/1.1 load generator for the benchmark.
 *
 *   httpload [-m new|ka] [-c CONC] [-d SECONDS | -n COUNT] [-p PATH]
 *            [-t TIMEOUT_S] HOST PORT
 *
 * -m new  every request on a new connection ("Connection: close"): the
 *         rate of new connections; latency = connect() to the last body
 *         byte.
 * -m ka   one kept-alive connection per worker, requests one after the
 *         other on it: request rate; latency = request sent to last byte.
 * -c      workers, each with its own thread, one request at a time each.
 * -d / -n run for SECONDS (default 3) or until COUNT requests in all.
 *
 * Client sockets get TCP_NODELAY, as browsers and curl do. Prints one JSON
 * object: requests, errors, seconds, rate (requests/s), bytes, MBps
 * (body bytes, 10^6 bytes/s), and latency percentiles in ms.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RBUF		(256 * 1024)
#define MAX_ERRORS	200

struct worker {
	pthread_t	 th;
	double		*lat;
	size_t		 nlat, caplat;
	unsigned long long bytes;
	unsigned long	 errors;
	char		 lasterr[128];
};

static struct sockaddr_storage target;
static socklen_t targetlen;
static const char *host_hdr;
static const char *path = "/4k";
static int keepalive;
static double deadline;		/* monotonic seconds, 0 = none */
static long max_count;		/* 0 = none */
static atomic_long issued;
static int timeout_s = 10;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* May this worker start one more request? */
static int
take(void)
{
	if (deadline > 0 && now() >= deadline)
		return 0;
	if (max_count > 0 && atomic_fetch_add(&issued, 1) >= max_count)
		return 0;
	return 1;
}

static void
record(struct worker *w, double ms)
{
	if (w->nlat == w->caplat) {
		size_t cap = w->caplat ? w->caplat * 2 : 4096;
		double *n = realloc(w->lat, cap * sizeof(*n));

		if (n == NULL) {
			perror("realloc");
			exit(1);
		}
		w->lat = n;
		w->caplat = cap;
	}
	w->lat[w->nlat++] = ms;
}

static void
fail(struct worker *w, const char *what)
{
	w->errors++;
	snprintf(w->lasterr, sizeof(w->lasterr), "%s: %s", what,
	    errno ? strerror(errno) : "protocol");
}

static int
open_conn(struct worker *w)
{
	struct timeval tv = { timeout_s, 0 };
	int fd, one = 1;

	if ((fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1) {
		fail(w, "socket");
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&target, targetlen) == -1) {
		fail(w, "connect");
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one response; returns its body length or -1. Data after it (there
 * is none: one request at a time) would be lost. */
static long long
read_response(int fd, char *buf)
{
	size_t have = 0;
	ssize_t n;
	char *end, *cl;
	long long clen = -1, got;

	errno = 0;
	for (;;) {
		n = recv(fd, buf + have, RBUF - 1 - have, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
		if (have >= RBUF - 1)
			return -1;
	}
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
		return -1;
	*end = '\0';
	for (cl = buf; (cl = strchr(cl, '\n')) != NULL;) {
		cl++;
		if (strncasecmp(cl, "Content-Length:", 15) == 0) {
			clen = strtoll(cl + 15, NULL, 10);
			break;
		}
	}
	if (clen < 0)
		return -1;
	got = (long long)(have - (size_t)(end + 4 - buf));
	while (got < clen) {
		size_t want = (size_t)(clen - got) < RBUF ?
		    (size_t)(clen - got) : RBUF;

		n = recv(fd, buf, want, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += n;
	}
	return got == clen ? clen : -1;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	char req[512], *buf;
	size_t reqlen;
	double t0;
	long long b;
	int fd = -1;

	if ((buf = malloc(RBUF)) == NULL)
		return NULL;
	reqlen = (size_t)snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: rnsplice-httpload\r\n"
	    "%s\r\n", path, host_hdr, keepalive ? "" : "Connection: close\r\n");
	while (w->errors < MAX_ERRORS && take()) {
		t0 = now();
		if (fd == -1 && (fd = open_conn(w)) == -1) {
			usleep(1000);
			continue;
		}
		if (keepalive)
			t0 = now();
		if (send_all(fd, req, reqlen) == -1) {
			fail(w, "send");
			close(fd);
			fd = -1;
			continue;
		}
		if ((b = read_response(fd, buf)) < 0) {
			fail(w, "response");
			close(fd);
			fd = -1;
			continue;
		}
		record(w, (now() - t0) * 1000.0);
		w->bytes += (unsigned long long)b;
		if (!keepalive) {
			/* the server closes: wait for its FIN, so that the
			 * TIME_WAIT stays on its side */
			while (recv(fd, buf, RBUF, 0) > 0)
				;
			close(fd);
			fd = -1;
		}
	}
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

int
main(int argc, char **argv)
{
	struct addrinfo hints, *ai;
	struct worker *w;
	struct rlimit rl;
	double secs = 3, t0, el;
	double *all;
	size_t nall = 0, i;
	unsigned long long bytes = 0;
	unsigned long errors = 0;
	const char *lasterr = "";
	int conc = 1, ch, r;

	while ((ch = getopt(argc, argv, "m:c:d:n:p:t:")) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "ka") == 0)
				keepalive = 1;
			else if (strcmp(optarg, "new") == 0)
				keepalive = 0;
			else
				goto usage;
			break;
		case 'c': conc = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'n': max_count = atol(optarg); secs = 0; break;
		case 'p': path = optarg; break;
		case 't': timeout_s = atoi(optarg); break;
		default:
			goto usage;
		}
	}
	if (argc - optind != 2 || conc < 1 || conc > 4096)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai)) !=
	    0) {
		fprintf(stderr, "httpload: %s: %s\n", argv[optind],
		    gai_strerror(r));
		return 1;
	}
	memcpy(&target, ai->ai_addr, ai->ai_addrlen);
	targetlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	host_hdr = argv[optind];
	if ((w = calloc((size_t)conc, sizeof(*w))) == NULL)
		return 1;
	t0 = now();
	if (secs > 0)
		deadline = t0 + secs;
	for (i = 0; i < (size_t)conc; i++)
		if (pthread_create(&w[i].th, NULL, run, &w[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (i = 0; i < (size_t)conc; i++)
		pthread_join(w[i].th, NULL);
	el = now() - t0;
	for (i = 0; i < (size_t)conc; i++) {
		nall += w[i].nlat;
		bytes += w[i].bytes;
		errors += w[i].errors;
		if (w[i].errors)
			lasterr = w[i].lasterr;
	}
	if ((all = malloc((nall + 1) * sizeof(*all))) == NULL)
		return 1;
	nall = 0;
	for (i = 0; i < (size_t)conc; i++) {
		memcpy(all + nall, w[i].lat, w[i].nlat * sizeof(*all));
		nall += w[i].nlat;
	}
	qsort(all, nall, sizeof(*all), cmp);
	printf("{\"mode\": \"%s\", \"conc\": %d, \"path\": \"%s\", "
	    "\"requests\": %zu, \"errors\": %lu, \"seconds\": %.4f, "
	    "\"rate\": %.2f, \"bytes\": %llu, \"MBps\": %.3f, "
	    "\"p50_ms\": %.4f, \"p90_ms\": %.4f, \"p99_ms\": %.4f, "
	    "\"max_ms\": %.4f, \"last_error\": \"%s\"}\n",
	    keepalive ? "ka" : "new", conc, path, nall, errors, el,
	    (double)nall / el, bytes, (double)bytes / el / 1e6,
	    pct(all, nall, 50), pct(all, nall, 90), pct(all, nall, 99),
	    nall ? all[nall - 1] : 0.0, lasterr);
	return errors > 0 && nall == 0 ? 1 : 0;
 usage:
	fprintf(stderr, "usage: httpload [-m new|ka] [-c CONC] [-d SECONDS | "
	    "-n COUNT] [-p PATH] [-t TIMEOUT_S] HOST PORT\n");
	return 2;
}
