/* mux-probe: drives agent/mux.c against a real ssh ControlMaster and
 * sshd, and reports what the master does, with numbers.
 *
 *   mux-probe serve [-l ADDR] PORT
 *	A test server (one thread per connection). The first line of a
 *	connection picks the behaviour:
 *	  ECHO            echo everything; at EOF send "BYE\n" and close
 *	  HALF ID N       send N bytes, shutdown(SHUT_WR), count what still
 *	                  arrives until EOF/reset/3 s, record it under ID
 *	  PUT ID N HOW    record N under ID (from subsys-half)
 *	  STAT ID         wait for ID's record, reply "N HOW\n", forget it
 *	and PORT+1 is a black hole: a listener whose queue is kept full, so
 *	a connect to it hangs (SYNs dropped) instead of being refused.
 *   mux-probe subsys-half ADDR PORT
 *	A subsystem for sshd: reads an ID line, writes 1000 bytes, closes
 *	stdout and stderr, counts stdin until EOF, reports "PUT ID N eof"
 *	to the server at ADDR:PORT.
 *   mux-probe [options] CTLPATH ADDR PORT TEST...
 *	Runs TESTs through the master at CTLPATH; ADDR:PORT is the test
 *	server as sshd sees it. Tests: alive echo clienthalf serverhalf
 *	ctlclose session sessionhalf badsubsys refused cancel many timing.
 *	  -n N       relays for "many" and "timing" (200)
 *	  -s NAME    the echo subsystem (/bin/cat) for "session" (muxecho)
 *	  -h NAME    the subsys-half subsystem for "sessionhalf" (muxhalf)
 *	  -r H:P     target that "refused" expects to be refused (ADDR:1)
 *	  -d H:P     the test server reached directly, without ssh: a
 *	             baseline for "serverhalf"
 *	  -W SSH     "timing" also runs "SSH -S CTLPATH -W ADDR:PORT" per
 *	             connection for comparison
 * Prints PASS/FAIL/INFO lines; exits 1 if a check failed.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mux.h"

#define HALF_BYTES	1000	/* the server sends this before half-closing */
#define AFTER_BYTES	5000	/* the client sends this after it */
#define WAIT_MS		10000

static const char *ctlpath, *taddr, *tport_s;
static unsigned int tport;
static const char *subsys_echo = "muxecho", *subsys_half = "muxhalf";
static const char *refused_target, *direct_target, *ssh_cmd;
static int nrelays = 200;
static uint32_t next_rid = 1;
static int failures;

/* --- small helpers ------------------------------------------------------- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void report(const char *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(const char *what, const char *test, const char *fmt, ...)
{
	va_list ap;

	if (strcmp(what, "FAIL") == 0)
		failures++;
	printf("%s %s: ", what, test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
stats(const char *test, const char *label, double *v, int n)
{
	if (n == 0) {
		report("INFO", test, "%s: no samples", label);
		return;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	report("INFO", test, "%s: n=%d median %.3f ms, p10 %.3f, p90 %.3f, "
	    "min %.3f, max %.3f", label, n, v[n / 2], v[n / 10],
	    v[(n * 9) / 10], v[0], v[n - 1]);
}

static int
parse_hostport(const char *s, char *host, size_t hostlen, unsigned int *port)
{
	const char *c = strrchr(s, ':');
	char *end;
	unsigned long p;

	if (c == NULL || (size_t)(c - s) >= hostlen || c == s)
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = '\0';
	errno = 0;
	p = strtoul(c + 1, &end, 10);
	if (errno != 0 || *end != '\0' || p == 0 || p > 65535)
		return -1;
	*port = (unsigned int)p;
	return 0;
}

static int
tcp_connect(const char *host, unsigned int port)
{
	struct sockaddr_in sin;
	int s, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(s);
		return -1;
	}
	return s;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t r;

	while (n > 0) {
		r = write(fd, c, n);	/* pipes too; SIGPIPE is ignored */
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };

			poll(&pfd, 1, 1000);
			continue;
		}
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* --- the test server ----------------------------------------------------- */

struct record {
	char	id[64];
	long	count;
	char	how[16];
};

#define MAXREC 64
static struct record records[MAXREC];
static int nrecords;
static pthread_mutex_t rec_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rec_cv = PTHREAD_COND_INITIALIZER;

static void
record_put(const char *id, long count, const char *how)
{
	pthread_mutex_lock(&rec_mtx);
	if (nrecords < MAXREC) {
		snprintf(records[nrecords].id, sizeof(records[0].id), "%s", id);
		records[nrecords].count = count;
		snprintf(records[nrecords].how, sizeof(records[0].how), "%s",
		    how);
		nrecords++;
	}
	pthread_cond_broadcast(&rec_cv);
	pthread_mutex_unlock(&rec_mtx);
}

/* Wait up to 8 s for id's record; take it out. */
static int
record_take(const char *id, long *count, char *how, size_t howlen)
{
	struct timespec deadline;
	int i, found = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 8;
	pthread_mutex_lock(&rec_mtx);
	while (!found) {
		for (i = 0; i < nrecords; i++) {
			if (strcmp(records[i].id, id) != 0)
				continue;
			*count = records[i].count;
			snprintf(how, howlen, "%s", records[i].how);
			records[i] = records[--nrecords];
			found = 1;
			break;
		}
		if (!found && pthread_cond_timedwait(&rec_cv, &rec_mtx,
		    &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&rec_mtx);
	return found ? 0 : -1;
}

static int
read_line(int fd, char *line, size_t len)
{
	size_t i = 0;
	ssize_t r;
	char c;

	while (i + 1 < len) {
		r = read(fd, &c, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n') {
			line[i] = '\0';
			return 0;
		}
		line[i++] = c;
	}
	return -1;
}

/* Count bytes until EOF, reset or timeout; how says which. */
static long
count_until_end(int fd, int timeout_ms, const char **how)
{
	char buf[65536];
	struct pollfd pfd;
	double deadline = now_ms() + timeout_ms;
	long total = 0;
	ssize_t r;

	for (;;) {
		int left = (int)(deadline - now_ms());

		if (left <= 0) {
			*how = "timeout";
			return total;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		r = read(fd, buf, sizeof(buf));
		if (r > 0) {
			total += r;
			continue;
		}
		if (r == 0) {
			*how = "eof";
			return total;
		}
		if (errno == EINTR || errno == EAGAIN)
			continue;
		*how = errno == ECONNRESET ? "reset" : "error";
		return total;
	}
}

static void *
serve_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char line[256], id[64], how[16], buf[65536];
	const char *h;
	long n, i;
	ssize_t r;

	if (read_line(fd, line, sizeof(line)) == -1)
		goto out;
	if (strcmp(line, "ECHO") == 0) {
		for (;;) {
			r = read(fd, buf, sizeof(buf));
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				break;
			if (write_all(fd, buf, (size_t)r) == -1)
				goto out;
		}
		if (r == 0)
			(void)write_all(fd, "BYE\n", 4);
	} else if (sscanf(line, "HALF %63s %ld", id, &n) == 2 && n >= 0 &&
	    n <= (long)sizeof(buf)) {
		for (i = 0; i < n; i++)
			buf[i] = 'h';
		if (write_all(fd, buf, (size_t)n) == -1)
			goto out;
		shutdown(fd, SHUT_WR);
		n = count_until_end(fd, 3000, &h);
		record_put(id, n, h);
	} else if (sscanf(line, "PUT %63s %ld %15s", id, &n, how) == 3) {
		record_put(id, n, how);
	} else if (sscanf(line, "STAT %63s", id) == 1) {
		if (record_take(id, &n, how, sizeof(how)) == 0)
			snprintf(line, sizeof(line), "%ld %s\n", n, how);
		else
			snprintf(line, sizeof(line), "none\n");
		(void)write_all(fd, line, strlen(line));
	}
 out:
	close(fd);
	return NULL;
}

/* A listener that never accepts, its queue filled by ourselves. */
static int
blackhole(const struct sockaddr_in *base, unsigned int port)
{
	struct sockaddr_in sin = *base;
	int l, c, i, one = 1;

	sin.sin_port = htons((uint16_t)port);
	if ((l = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(l, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(l, 0) == -1)
		return -1;
	for (i = 0; i < 3; i++) {
		if ((c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
			return -1;
		(void)connect(c, (struct sockaddr *)&sin, sizeof(sin));
		/* kept open, never read: that is the point */
	}
	return 0;
}

static int
serve(int argc, char **argv)
{
	struct sockaddr_in sin;
	const char *addr = "127.0.0.1";
	pthread_attr_t attr;
	pthread_t t;
	int s, c, one = 1, ch;
	unsigned int port;

	optind = 1;
	while ((ch = getopt(argc, argv, "l:")) != -1) {
		if (ch != 'l')
			return 2;
		addr = optarg;
	}
	if (argc - optind != 1 || (port = (unsigned int)atoi(argv[optind])) ==
	    0 || port > 65535) {
		fprintf(stderr, "usage: mux-probe serve [-l ADDR] PORT\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "serve: bad address %s\n", addr);
		return 2;
	}
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(s, 1024) == -1) {
		fprintf(stderr, "serve %s:%u: %s\n", addr, port,
		    strerror(errno));
		return 1;
	}
	if (blackhole(&sin, port + 1) == -1) {
		fprintf(stderr, "serve %s:%u: black hole: %s\n", addr,
		    port + 1, strerror(errno));
		return 1;
	}
	printf("listening on %s:%u, black hole on %u\n", addr, port,
	    port + 1);
	fflush(stdout);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		if ((c = accept(s, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EMFILE || errno == ENFILE) {
				if (errno != EINTR && errno != ECONNABORTED)
					usleep(10000);
				continue;
			}
			fprintf(stderr, "accept: %s\n", strerror(errno));
			return 1;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (pthread_create(&t, &attr, serve_conn,
		    (void *)(intptr_t)c) != 0)
			close(c);
	}
}

/* --- the half-closing subsystem ------------------------------------------ */

static int
subsys_half_main(int argc, char **argv)
{
	char buf[HALF_BYTES], line[128], id[64];
	const char *how;
	long n;
	int s, devnull;

	if (argc != 3) {
		fprintf(stderr, "usage: mux-probe subsys-half ADDR PORT\n");
		return 2;
	}
	/* the client names the record first */
	if (read_line(0, id, sizeof(id)) == -1 || strchr(id, ' ') != NULL)
		return 1;
	memset(buf, 's', sizeof(buf));
	if (write_all(1, buf, sizeof(buf)) == -1)
		return 1;
	/* Both: sshd would hold the EOF back while stderr is open. */
	if ((devnull = open("/dev/null", O_WRONLY)) == -1 ||
	    dup2(devnull, 1) == -1 || dup2(devnull, 2) == -1)
		return 1;
	n = count_until_end(0, 20000, &how);
	if ((s = tcp_connect(argv[1], (unsigned int)atoi(argv[2]))) == -1)
		return 1;
	snprintf(line, sizeof(line), "PUT %s %ld %s\n", id, n, how);
	(void)write_all(s, line, strlen(line));
	close(s);
	return 0;
}

/* --- relays -------------------------------------------------------------- */

static int listener = -1;

/* A connected TCP pair over loopback: app is the application's end,
 * relay the agent's accepted socket. */
static int
tcp_pair(int *app, int *relay)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int one = 1;

	if (listener == -1) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if ((listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
		    0)) == -1 ||
		    bind(listener, (struct sockaddr *)&sin, sizeof(sin)) ==
		    -1 || listen(listener, 1024) == -1)
			return -1;
	}
	if (getsockname(listener, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	if ((*app = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(*app, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    (*relay = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		close(*app);
		return -1;
	}
	setsockopt(*app, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

struct relay {
	int			 app;
	int			 ctl;
	struct mux_reader	 rd;
	double			 t_open;
};

/* A stdio forward to the test server, as the agent makes one. */
static int
relay_open(struct relay *r, const char *test)
{
	char *cause;
	uint32_t rid = next_rid++;
	int relay;

	memset(r, 0, sizeof(*r));
	r->app = r->ctl = -1;
	if (tcp_pair(&r->app, &relay) == -1) {
		report("FAIL", test, "tcp pair: %s", strerror(errno));
		return -1;
	}
	r->t_open = now_ms();
	r->ctl = mux_open_stdio_fwd(ctlpath, taddr, tport, relay, rid,
	    &cause);
	close(relay);
	if (r->ctl == -1) {
		report("FAIL", test, "mux_open_stdio_fwd: %s", cause);
		free(cause);
		close(r->app);
		return -1;
	}
	mux_reader_init(&r->rd, rid);
	return 0;
}

static void
relay_close(struct relay *r)
{
	if (r->app != -1)
		close(r->app);
	if (r->ctl != -1) {
		close(r->ctl);
		mux_reader_free(&r->rd);
	}
	r->app = r->ctl = -1;
}

/* The next event on the control connection within timeout_ms; NONE on
 * timeout. */
static enum mux_event
ctl_event(struct relay *r, int timeout_ms)
{
	struct pollfd pfd;
	double deadline = now_ms() + timeout_ms;
	enum mux_event ev;
	int left;

	for (;;) {
		if ((ev = mux_reader_read(&r->rd, r->ctl)) != MUX_EV_NONE ||
		    r->rd.done)
			return ev;
		if ((left = (int)(deadline - now_ms())) <= 0)
			return MUX_EV_NONE;
		pfd.fd = r->ctl;
		pfd.events = POLLIN;
		poll(&pfd, 1, left);
	}
}

/* Expect one event; say what came instead. */
static int
expect_event(struct relay *r, enum mux_event want, int timeout_ms,
    const char *test)
{
	enum mux_event ev = ctl_event(r, timeout_ms);

	if (ev == want)
		return 0;
	report("FAIL", test, "expected %s from the master, got %s%s%s",
	    mux_event_name(want), ev == MUX_EV_NONE ? "nothing within the "
	    "timeout" : mux_event_name(ev), r->rd.reason[0] ? ": " : "",
	    r->rd.reason);
	return -1;
}

struct pump {
	size_t	 sent;
	size_t	 got;
	int	 end;		/* 0 running, 1 eof, 2 reset/error, 3 timeout */
	int	 send_errno;
	double	 t_first;	/* first byte received, ms since start */
	double	 t_end;
};

static const char *
end_name(int end)
{
	static const char *const n[] = { "open", "eof", "reset", "timeout" };

	return n[end < 0 || end > 3 ? 0 : end];
}

/* Send out[] (then shutdown(SHUT_WR) if shut), receive into in[] until
 * EOF, reset, want bytes, or timeout. */
static void
pump(int fd, const void *out, size_t outlen, int shut, unsigned char *in,
    size_t incap, size_t want, int timeout_ms, struct pump *p)
{
	unsigned char scratch[65536];
	struct pollfd pfd;
	double t0 = now_ms(), deadline = t0 + timeout_ms;
	int shut_done = 0, rd_done = 0, left;
	ssize_t r;

	memset(p, 0, sizeof(*p));
	p->t_first = -1;
	for (;;) {
		if (p->sent == outlen && shut && !shut_done) {
			shutdown(fd, SHUT_WR);
			shut_done = 1;
		}
		/* the receiving side ending does not stop the sending */
		if (p->sent == outlen && (rd_done || (want > 0 &&
		    p->got >= want)))
			break;
		if ((left = (int)(deadline - now_ms())) <= 0) {
			if (p->end == 0)
				p->end = 3;
			break;
		}
		pfd.fd = fd;
		pfd.events = (rd_done ? 0 : POLLIN) |
		    (p->sent < outlen ? POLLOUT : 0);
		if (poll(&pfd, 1, left) <= 0)
			continue;
		if ((pfd.revents & (POLLOUT | POLLERR | POLLHUP)) &&
		    p->sent < outlen) {
			r = send(fd, (const char *)out + p->sent,
			    outlen - p->sent, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (r > 0)
				p->sent += (size_t)r;
			else if (r == -1 && errno != EAGAIN && errno != EINTR) {
				p->send_errno = errno;
				outlen = p->sent;	/* stop sending */
			}
		}
		if (!rd_done && (pfd.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (in != NULL && p->got < incap)
				r = recv(fd, in + p->got, incap - p->got,
				    MSG_DONTWAIT);
			else
				r = recv(fd, scratch, sizeof(scratch),
				    MSG_DONTWAIT);
			if (r > 0) {
				if (p->t_first < 0)
					p->t_first = now_ms() - t0;
				p->got += (size_t)r;
			} else if (r == 0) {
				p->end = 1;
				rd_done = 1;
			} else if (errno != EAGAIN && errno != EINTR) {
				p->end = 2;
				rd_done = 1;
			}
		}
	}
	p->t_end = now_ms() - t0;
}

static void
fill_pattern(unsigned char *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* STAT id through a fresh stdio forward. */
static int
stat_query(const char *id, long *count, char *how, size_t howlen)
{
	struct relay r;
	struct pump p;
	char q[96];
	unsigned char in[128];

	if (relay_open(&r, "stat") == -1)
		return -1;
	snprintf(q, sizeof(q), "STAT %s\n", id);
	pump(r.app, q, strlen(q), 0, in, sizeof(in) - 1, 0, 12000, &p);
	relay_close(&r);
	in[p.got] = '\0';
	if (sscanf((char *)in, "%ld %15s", count, how) != 2) {
		snprintf(how, howlen, "no record (%.40s)", (char *)in);
		return -1;
	}
	return 0;
}

/* --- the tests ----------------------------------------------------------- */

static void
t_alive(void)
{
	struct relay r;
	char *cause;
	uint32_t rid = next_rid++;
	double t0 = now_ms();

	memset(&r, 0, sizeof(r));
	r.app = -1;
	if ((r.ctl = mux_alive_check(ctlpath, rid, &cause)) == -1) {
		report("FAIL", "alive", "%s", cause);
		free(cause);
		return;
	}
	mux_reader_init(&r.rd, rid);
	if (expect_event(&r, MUX_EV_ALIVE, WAIT_MS, "alive") == 0) {
		report("PASS", "alive", "master pid %u, %.3f ms", r.rd.pid,
		    now_ms() - t0);
		/* the master keeps the connection open afterwards */
		if (ctl_event(&r, 300) == MUX_EV_NONE && !r.rd.done)
			report("INFO", "alive", "connection stays open after "
			    "ALIVE (300 ms)");
		else
			report("INFO", "alive", "master closed after ALIVE");
	}
	relay_close(&r);
}

/* (1) bytes round trip; then closing the application end ends it all. */
static void
t_echo(void)
{
	static unsigned char out[5 + 65536], in[65536];
	struct relay r;
	struct pump p;
	double t;

	if (relay_open(&r, "echo") == -1)
		return;
	memcpy(out, "ECHO\n", 5);
	fill_pattern(out + 5, 65536, 1);
	pump(r.app, out, sizeof(out), 0, in, sizeof(in), 65536, WAIT_MS, &p);
	if (p.got != 65536 || memcmp(in, out + 5, 65536) != 0) {
		report("FAIL", "echo", "got %zu of 65536 bytes back (%s)",
		    p.got, end_name(p.end));
		relay_close(&r);
		return;
	}
	if (expect_event(&r, MUX_EV_OPENED, WAIT_MS, "echo") == -1) {
		relay_close(&r);
		return;
	}
	report("PASS", "echo", "65536 bytes round trip in %.3f ms (first "
	    "byte %.3f ms), session id %u", p.t_end, p.t_first, r.rd.sid);
	close(r.app);
	r.app = -1;
	t = now_ms();
	if (expect_event(&r, MUX_EV_EOF, WAIT_MS, "echo") == 0)
		report("INFO", "echo", "application closed: control EOF after "
		    "%.3f ms, nothing else sent", now_ms() - t);
	relay_close(&r);
}

/* (2a) client half-close: the server's remaining data still arrives. */
static void
t_clienthalf(void)
{
	static unsigned char out[5 + 100000], in[100000 + 64];
	struct relay r;
	struct pump p;
	enum mux_event ev;
	double t;

	if (relay_open(&r, "clienthalf") == -1)
		return;
	memcpy(out, "ECHO\n", 5);
	fill_pattern(out + 5, 100000, 2);
	pump(r.app, out, sizeof(out), 1, in, sizeof(in), 0, WAIT_MS, &p);
	t = now_ms();
	if (p.end == 1 && p.got == 100004 && memcmp(in, out + 5, 100000) ==
	    0 && memcmp(in + 100000, "BYE\n", 4) == 0)
		report("PASS", "clienthalf", "sent 100000 + shutdown(SHUT_WR); "
		    "got all 100000 back, then the server's \"BYE\", then EOF "
		    "(%.3f ms)", p.t_end);
	else
		report("FAIL", "clienthalf", "sent 100000 + SHUT_WR, got %zu "
		    "bytes, ended by %s", p.got, end_name(p.end));
	if ((ev = ctl_event(&r, WAIT_MS)) == MUX_EV_OPENED)
		ev = ctl_event(&r, WAIT_MS);
	report(ev == MUX_EV_EOF ? "INFO" : "FAIL", "clienthalf", "after the "
	    "forward ended the master sent %s (%.3f ms after the "
	    "application's EOF)", mux_event_name(ev), now_ms() - t);
	relay_close(&r);
}

/* (2b) server half-close: what arrives of data sent afterwards. */
static void
half_run(int fd, const char *what, const char *id)
{
	static unsigned char after[AFTER_BYTES];
	unsigned char in[HALF_BYTES + 16];
	char q[96], how[64];
	struct pump p, p2, p3;
	long count = -1;

	snprintf(q, sizeof(q), "HALF %s %d\n", id, HALF_BYTES);
	pump(fd, q, strlen(q), 0, in, sizeof(in), HALF_BYTES, WAIT_MS, &p);
	if (p.got < HALF_BYTES) {
		report("FAIL", "serverhalf", "%s: got %zu of %d bytes before "
		    "the half-close", what, p.got, HALF_BYTES);
		return;
	}
	/* does the client see the server's EOF? */
	pump(fd, NULL, 0, 0, NULL, 0, 0, 1000, &p2);
	memset(after, 'c', sizeof(after));
	pump(fd, after, sizeof(after), 1, NULL, 0, 0, 3000, &p3);
	(void)stat_query(id, &count, how, sizeof(how));
	report("INFO", "serverhalf", "%s: server sent %d then SHUT_WR; "
	    "client saw %s%s%.1f ms later; client then sent %d (send() took "
	    "%zu%s%s), then SHUT_WR: ended by %s; server received %ld of them "
	    "(%s)", what, HALF_BYTES, end_name(p2.end),
	    p2.end == 1 ? " " : " within ", p2.t_end, AFTER_BYTES, p3.sent,
	    p3.send_errno ? ", " : "", p3.send_errno ?
	    strerror(p3.send_errno) : "", end_name(p3.end), count, how);
	if (count < 0)
		report("FAIL", "serverhalf", "%s: no result from the server",
		    what);
}

static void
t_serverhalf(void)
{
	struct relay r;
	char host[64], id[32];
	unsigned int port;
	int fd;

	if (direct_target != NULL) {
		if (parse_hostport(direct_target, host, sizeof(host), &port) ==
		    -1 || (fd = tcp_connect(host, port)) == -1)
			report("INFO", "serverhalf", "direct baseline to %s "
			    "impossible: %s", direct_target, strerror(errno));
		else {
			snprintf(id, sizeof(id), "direct-%d", (int)getpid());
			half_run(fd, "direct TCP (baseline)", id);
			close(fd);
		}
	}
	if (relay_open(&r, "serverhalf") == -1)
		return;
	snprintf(id, sizeof(id), "fwd-%d", (int)getpid());
	half_run(r.app, "stdio forward", id);
	relay_close(&r);
	report("PASS", "serverhalf", "measured (see INFO)");
}

/* Closing the control connection ends the relay. */
static void
t_ctlclose(void)
{
	unsigned char in[8];
	struct relay r;
	struct pump p;

	if (relay_open(&r, "ctlclose") == -1)
		return;
	pump(r.app, "ECHO\nx", 6, 0, in, sizeof(in), 1, WAIT_MS, &p);
	if (p.got != 1 || expect_event(&r, MUX_EV_OPENED, WAIT_MS,
	    "ctlclose") == -1) {
		report("FAIL", "ctlclose", "no echo");
		relay_close(&r);
		return;
	}
	close(r.ctl);
	mux_reader_free(&r.rd);
	r.ctl = -1;
	pump(r.app, NULL, 0, 0, in, sizeof(in), 0, WAIT_MS, &p);
	report(p.end == 1 || p.end == 2 ? "PASS" : "FAIL", "ctlclose",
	    "control connection closed: the application saw %s after %.3f ms",
	    end_name(p.end), p.t_end);
	relay_close(&r);
}

/* Wait until fd has something to read (or hung up); 0, or -1 on timeout. */
static int
wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd;

	pfd.fd = fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, timeout_ms) == 1 ? 0 : -1;
}

/* A spare control connection (the agent's pool): opened ahead, the
 * master's HELLO left unread, then a forward on it, as on a fresh one. */
static void
t_spare(void)
{
	static unsigned char out[5 + 4096], in[4096];
	struct relay r;
	struct pump p;
	char *cause;
	uint32_t rid = next_rid++;
	int relay, spare;

	if ((spare = mux_spare_open(ctlpath, &cause)) == -1) {
		report("FAIL", "spare", "mux_spare_open: %s", cause);
		free(cause);
		return;
	}
	/* the master accepted it and said HELLO: it is idle now */
	if (wait_readable(spare, WAIT_MS) == -1) {
		report("FAIL", "spare", "no HELLO from the master");
		close(spare);
		return;
	}
	memset(&r, 0, sizeof(r));
	r.app = r.ctl = -1;
	if (tcp_pair(&r.app, &relay) == -1) {
		report("FAIL", "spare", "tcp pair: %s", strerror(errno));
		close(spare);
		return;
	}
	if (mux_spare_stdio_fwd(spare, taddr, tport, relay, rid,
	    &cause) == -1) {
		report("FAIL", "spare", "mux_spare_stdio_fwd: %s", cause);
		free(cause);
		close(relay);
		close(spare);
		relay_close(&r);
		return;
	}
	close(relay);
	r.ctl = spare;
	mux_reader_init(&r.rd, rid);
	memcpy(out, "ECHO\n", 5);
	fill_pattern(out + 5, 4096, 7);
	pump(r.app, out, sizeof(out), 0, in, sizeof(in), 4096, WAIT_MS, &p);
	if (p.got != 4096 || memcmp(in, out + 5, 4096) != 0) {
		report("FAIL", "spare", "got %zu of 4096 bytes back (%s)",
		    p.got, end_name(p.end));
		relay_close(&r);
		return;
	}
	if (expect_event(&r, MUX_EV_OPENED, WAIT_MS, "spare") == -1) {
		relay_close(&r);
		return;
	}
	close(r.app);
	r.app = -1;
	if (expect_event(&r, MUX_EV_EOF, WAIT_MS, "spare") == 0)
		report("PASS", "spare", "a forward on a spare control "
		    "connection: 4096 bytes round trip, then EOF");
	relay_close(&r);
}

/* Last test on its master: the master goes (MUX_C_TERMINATE), and a
 * spare it had accepted is refused at once, never used. */
static void
t_sparedead(void)
{
	static const unsigned char term[] = {
		0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 4,		/* HELLO */
		0, 0, 0, 8, 0x10, 0, 0, 5, 0, 0, 0, 1		/* TERMINATE */
	};
	char *cause = NULL;
	int spare, t, app, relay;

	if ((spare = mux_spare_open(ctlpath, &cause)) == -1) {
		report("FAIL", "sparedead", "mux_spare_open: %s", cause);
		free(cause);
		return;
	}
	if (wait_readable(spare, WAIT_MS) == -1) {
		report("FAIL", "sparedead", "no HELLO from the master");
		close(spare);
		return;
	}
	if ((t = mux_spare_open(ctlpath, &cause)) == -1 ||
	    write_all(t, term + 12, sizeof(term) - 12) == -1) {
		report("FAIL", "sparedead", "cannot ask the master to exit");
		free(cause);
		close(spare);
		return;
	}
	/* the master is gone once it hung up on the spare (events 0: only
	 * the hang-up wakes us, not the unread HELLO) */
	{
		struct pollfd pfd;

		pfd.fd = spare;
		pfd.events = 0;
		pfd.revents = 0;
		if (poll(&pfd, 1, WAIT_MS) != 1 ||
		    (pfd.revents & POLLHUP) == 0) {
			report("FAIL", "sparedead", "the master did not exit");
			close(t);
			close(spare);
			return;
		}
	}
	close(t);
	if (tcp_pair(&app, &relay) == -1) {
		report("FAIL", "sparedead", "tcp pair: %s", strerror(errno));
		close(spare);
		return;
	}
	cause = NULL;
	if (mux_spare_stdio_fwd(spare, taddr, tport, relay, next_rid++,
	    &cause) == 0)
		report("FAIL", "sparedead", "a forward was sent on a spare "
		    "whose master is gone");
	else
		report("PASS", "sparedead", "a spare whose master exited is "
		    "refused: %s", cause);
	free(cause);
	close(relay);
	close(app);
	close(spare);
}

static int
session_open(struct relay *r, const char *name, int *errfd, const char *test)
{
	char *cause;
	uint32_t rid = next_rid++;
	int relay, ep[2];

	memset(r, 0, sizeof(*r));
	r->app = r->ctl = -1;
	if (tcp_pair(&r->app, &relay) == -1 || pipe2(ep, O_CLOEXEC) == -1) {
		report("FAIL", test, "setup: %s", strerror(errno));
		return -1;
	}
	r->t_open = now_ms();
	r->ctl = mux_open_subsystem(ctlpath, name, relay, relay, ep[1], rid,
	    &cause);
	close(relay);
	close(ep[1]);
	if (r->ctl == -1) {
		report("FAIL", test, "mux_open_subsystem: %s", cause);
		free(cause);
		close(r->app);
		close(ep[0]);
		return -1;
	}
	*errfd = ep[0];
	mux_reader_init(&r->rd, rid);
	return 0;
}

static void
drain_stderr(int fd, const char *test)
{
	char buf[512];
	ssize_t n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		report("INFO", test, "the session's stderr got: \"%s\"", buf);
	}
	close(fd);
}

/* (3) a subsystem session: bytes, client half-close, exit. */
static void
t_session(void)
{
	static unsigned char out[100000], in[100000 + 16];
	struct relay r;
	struct pump p;
	enum mux_event ev;
	int errfd;
	double t;

	if (session_open(&r, subsys_echo, &errfd, "session") == -1)
		return;
	if (expect_event(&r, MUX_EV_OPENED, WAIT_MS, "session") == -1)
		goto out;
	report("INFO", "session", "SESSION_OPENED after %.3f ms, session id "
	    "%u", now_ms() - r.t_open, r.rd.sid);
	fill_pattern(out, sizeof(out), 3);
	pump(r.app, out, sizeof(out), 1, in, sizeof(in), 0, WAIT_MS, &p);
	t = now_ms();
	if (p.end == 1 && p.got == sizeof(out) &&
	    memcmp(in, out, sizeof(out)) == 0)
		report("PASS", "session", "subsystem %s: 100000 bytes + "
		    "SHUT_WR, all back, then EOF (%.3f ms)", subsys_echo,
		    p.t_end);
	else
		report("FAIL", "session", "subsystem %s: got %zu of 100000, "
		    "ended by %s", subsys_echo, p.got, end_name(p.end));
	ev = ctl_event(&r, WAIT_MS);
	if (ev == MUX_EV_EXIT) {
		report("INFO", "session", "EXIT_MESSAGE status %u, %.3f ms "
		    "after the application's EOF", r.rd.exit_status,
		    now_ms() - t);
		ev = ctl_event(&r, WAIT_MS);
	} else
		report("FAIL", "session", "no EXIT_MESSAGE (got %s)",
		    mux_event_name(ev));
	report(ev == MUX_EV_EOF ? "INFO" : "FAIL", "session", "then %s, %.3f "
	    "ms after the application's EOF", mux_event_name(ev),
	    now_ms() - t);
 out:
	drain_stderr(errfd, "session");
	relay_close(&r);
}

/* (3b) the subsystem closes its stdout but keeps reading stdin. */
static void
t_sessionhalf(void)
{
	static unsigned char after[AFTER_BYTES];
	unsigned char in[HALF_BYTES + 16];
	struct relay r;
	struct pump p, p2, p3;
	enum mux_event ev;
	char how[64], id[64];
	long count = -1;
	int errfd;

	if (session_open(&r, subsys_half, &errfd, "sessionhalf") == -1)
		return;
	if (expect_event(&r, MUX_EV_OPENED, WAIT_MS, "sessionhalf") == -1)
		goto out;
	snprintf(id, sizeof(id), "subsys-%d-%u\n", (int)getpid(), r.rd.rid);
	pump(r.app, id, strlen(id), 0, in, sizeof(in), HALF_BYTES, WAIT_MS,
	    &p);
	id[strlen(id) - 1] = '\0';
	if (p.got < HALF_BYTES) {
		report("FAIL", "sessionhalf", "got %zu of %d bytes (%s)", p.got,
		    HALF_BYTES, end_name(p.end));
		goto out;
	}
	pump(r.app, NULL, 0, 0, NULL, 0, 0, 1000, &p2);
	memset(after, 'c', sizeof(after));
	/* send, but do not half-close yet: does EOF come by itself? */
	pump(r.app, after, sizeof(after), 0, NULL, 0, 0, 1000, &p3);
	report("INFO", "sessionhalf", "subsystem sent %d, closed stdout+stderr;"
	    " client saw %s within %.1f ms; client sent %zu%s%s and saw %s "
	    "within 1 s", HALF_BYTES, end_name(p2.end), p2.t_end, p3.sent,
	    p3.send_errno ? ": " : "", p3.send_errno ?
	    strerror(p3.send_errno) : "", end_name(p3.end));
	pump(r.app, NULL, 0, 1, NULL, 0, 0, WAIT_MS, &p3);
	report("INFO", "sessionhalf", "client SHUT_WR: then it saw %s after "
	    "%.1f ms", end_name(p3.end), p3.t_end);
	ev = ctl_event(&r, WAIT_MS);
	if (ev == MUX_EV_EXIT) {
		report("INFO", "sessionhalf", "EXIT_MESSAGE status %u",
		    r.rd.exit_status);
		ev = ctl_event(&r, WAIT_MS);
	}
	report("INFO", "sessionhalf", "then %s", mux_event_name(ev));
	if (stat_query(id, &count, how, sizeof(how)) == -1)
		report("FAIL", "sessionhalf", "no count from the subsystem: %s",
		    how);
	else
		report(count == AFTER_BYTES ? "PASS" : "FAIL", "sessionhalf",
		    "subsystem received %ld of the %d bytes sent after its "
		    "half-close (%s)", count, AFTER_BYTES, how);
 out:
	drain_stderr(errfd, "sessionhalf");
	relay_close(&r);
}

/* An unknown subsystem: what does the master say? */
static void
t_badsubsys(void)
{
	unsigned char in[64];
	struct relay r;
	struct pump p;
	enum mux_event ev, ev2 = MUX_EV_NONE;
	int errfd;
	double t;

	if (session_open(&r, "no-such-subsystem", &errfd, "badsubsys") == -1)
		return;
	ev = ctl_event(&r, WAIT_MS);
	t = now_ms() - r.t_open;
	if (ev == MUX_EV_OPENED)
		ev2 = ctl_event(&r, WAIT_MS);
	pump(r.app, NULL, 0, 0, in, sizeof(in), 0, 2000, &p);
	report(ev2 == MUX_EV_EOF || ev == MUX_EV_FAILED ? "PASS" : "FAIL",
	    "badsubsys", "unknown subsystem: %s after %.3f ms%s%s, then %s; "
	    "the application saw %s", mux_event_name(ev), t,
	    ev == MUX_EV_FAILED ? ": " : "", ev == MUX_EV_FAILED ?
	    r.rd.reason : "", mux_event_name(ev2), end_name(p.end));
	drain_stderr(errfd, "badsubsys");
	relay_close(&r);
}

/* A target the server refuses: how the master says it and how fast. */
static void
t_refused(void)
{
	char host[256], err[256], *cause;
	unsigned int port;
	uint32_t rid = next_rid++;
	int app, relay;
	struct relay r;
	enum mux_event ev, ev2;
	double t0, t1;

	if (refused_target == NULL) {
		snprintf(host, sizeof(host), "%s", taddr);
		port = 1;
	} else if (parse_hostport(refused_target, host, sizeof(host), &port) ==
	    -1) {
		report("FAIL", "refused", "bad target %s", refused_target);
		return;
	}
	if (tcp_pair(&app, &relay) == -1) {
		report("FAIL", "refused", "tcp pair: %s", strerror(errno));
		return;
	}
	memset(&r, 0, sizeof(r));
	r.app = app;
	t0 = now_ms();
	r.ctl = mux_open_stdio_fwd(ctlpath, host, port, relay, rid, &cause);
	close(relay);
	if (r.ctl == -1) {
		report("FAIL", "refused", "%s", cause);
		free(cause);
		close(app);
		return;
	}
	mux_reader_init(&r.rd, rid);
	ev = ctl_event(&r, WAIT_MS);
	t1 = now_ms() - t0;
	snprintf(err, sizeof(err), "%s", r.rd.reason);
	ev2 = ctl_event(&r, WAIT_MS);
	report(ev == MUX_EV_FAILED ? "PASS" : "FAIL", "refused", "%s:%u: %s "
	    "\"%s\" after %.3f ms, then %s", host, port, mux_event_name(ev),
	    err, t1, mux_event_name(ev2));
	relay_close(&r);
}

/* A target that never answers (SYNs dropped): the master sends nothing
 * until sshd gives up; closing the control connection cancels. */
static void
t_cancel(void)
{
	struct relay r;
	enum mux_event ev;
	char *cause;
	uint32_t rid = next_rid++;
	int relay;
	double t0;

	memset(&r, 0, sizeof(r));
	if (tcp_pair(&r.app, &relay) == -1) {
		report("FAIL", "cancel", "tcp pair: %s", strerror(errno));
		return;
	}
	r.ctl = mux_open_stdio_fwd(ctlpath, taddr, tport + 1, relay, rid,
	    &cause);
	close(relay);
	if (r.ctl == -1) {
		report("FAIL", "cancel", "%s", cause);
		free(cause);
		close(r.app);
		return;
	}
	mux_reader_init(&r.rd, rid);
	ev = ctl_event(&r, 1500);
	report(ev == MUX_EV_NONE ? "INFO" : "FAIL", "cancel", "forward to a "
	    "black hole (%s:%u): %s within 1.5 s", taddr, tport + 1,
	    ev == MUX_EV_NONE ? "no reply" : mux_event_name(ev));
	relay_close(&r);
	/* the master must be unharmed */
	t0 = now_ms();
	if (relay_open(&r, "cancel") == -1)
		return;
	if (expect_event(&r, MUX_EV_OPENED, WAIT_MS, "cancel") == 0)
		report("PASS", "cancel", "closing the control connection "
		    "cancelled the pending forward; the next one opened in "
		    "%.3f ms", now_ms() - t0);
	relay_close(&r);
}

/* (4) n forwards at once. */
static void
t_many(void)
{
	struct relay *rs;
	struct pollfd *pfd;
	unsigned char **got;
	size_t *have;
	char msg[64];
	int i, n = nrelays, done = 0, opened = 0, left, bad = 0;
	double t0, t_opened, deadline;
	ssize_t k;

	rs = calloc((size_t)n, sizeof(*rs));
	pfd = calloc((size_t)n * 2, sizeof(*pfd));
	got = calloc((size_t)n, sizeof(*got));
	have = calloc((size_t)n, sizeof(*have));
	if (rs == NULL || pfd == NULL || got == NULL || have == NULL) {
		report("FAIL", "many", "out of memory");
		goto out;
	}
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		if (relay_open(&rs[i], "many") == -1) {
			n = i;
			break;
		}
		snprintf(msg, sizeof(msg), "ECHO\nrelay %06d\n", i);
		if (write_all(rs[i].app, msg, strlen(msg)) == -1) {
			report("FAIL", "many", "relay %d: write: %s", i,
			    strerror(errno));
			n = i + 1;
			break;
		}
		got[i] = calloc(1, 16);
	}
	t_opened = now_ms() - t0;
	deadline = now_ms() + 30000;
	while (done < n && (left = (int)(deadline - now_ms())) > 0) {
		for (i = 0; i < n; i++) {
			pfd[2 * i].fd = have[i] < 13 ? rs[i].app : -1;
			pfd[2 * i].events = POLLIN;
			pfd[2 * i + 1].fd = rs[i].rd.opened || rs[i].rd.done ?
			    -1 : rs[i].ctl;
			pfd[2 * i + 1].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)n * 2, left) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[2 * i + 1].revents) {
				enum mux_event ev;

				while ((ev = mux_reader_read(&rs[i].rd,
				    rs[i].ctl)) != MUX_EV_NONE) {
					if (ev == MUX_EV_OPENED)
						opened++;
					else {
						bad++;
						report("FAIL", "many", "relay "
						    "%d: %s %s", i,
						    mux_event_name(ev),
						    rs[i].rd.reason);
					}
				}
			}
			if (pfd[2 * i].revents && got[i] != NULL) {
				k = read(rs[i].app, got[i] + have[i],
				    13 - have[i]);
				if (k <= 0) {
					have[i] = 13;	/* give up on it */
					bad++;
					done++;
					continue;
				}
				have[i] += (size_t)k;
				if (have[i] == 13)
					done++;
			}
		}
	}
	for (i = 0; i < n; i++) {
		snprintf(msg, sizeof(msg), "relay %06d\n", i);
		if (got[i] == NULL || memcmp(got[i], msg, 13) != 0)
			bad++;
	}
	report(bad == 0 && n == nrelays && opened == n ? "PASS" : "FAIL",
	    "many", "%d stdio forwards opened at once: %d requests sent in "
	    "%.1f ms, %d SESSION_OPENED, all %d echoed their own line after "
	    "%.1f ms; %d problems", nrelays, n, t_opened, opened, done,
	    now_ms() - t0, bad);
 out:
	for (i = 0; rs != NULL && i < n; i++) {
		relay_close(&rs[i]);
		if (got != NULL)
			free(got[i]);
	}
	free(rs);
	free(pfd);
	free(got);
	free(have);
}

/* Time from the request to the first echoed byte, the request pipelined
 * with the first data. */
static int
time_mux(double *echo, double *open)
{
	struct relay r;
	struct pollfd pfd[2];
	unsigned char c;
	int got = 0;
	double deadline;

	if (relay_open(&r, "timing") == -1)
		return -1;
	*open = -1;
	if (write_all(r.app, "ECHO\nx", 6) == -1)
		goto fail;
	deadline = now_ms() + WAIT_MS;
	while (!got || *open < 0) {
		int left = (int)(deadline - now_ms());

		if (left <= 0)
			goto fail;
		pfd[0].fd = got ? -1 : r.app;
		pfd[0].events = POLLIN;
		pfd[1].fd = *open >= 0 ? -1 : r.ctl;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, left) <= 0)
			continue;
		if (pfd[0].revents) {
			if (read(r.app, &c, 1) != 1)
				goto fail;
			*echo = now_ms() - r.t_open;
			got = 1;
		}
		if (pfd[1].revents) {
			enum mux_event ev = mux_reader_read(&r.rd, r.ctl);

			if (ev == MUX_EV_OPENED)
				*open = now_ms() - r.t_open;
			else if (ev != MUX_EV_NONE)
				goto fail;
		}
	}
	relay_close(&r);
	return 0;
 fail:
	relay_close(&r);
	return -1;
}

static int
time_ssh(double *echo)
{
	char target[300];
	unsigned char c;
	struct pollfd pfd;
	int app, relay, devnull, status;
	pid_t pid;
	double t0;

	snprintf(target, sizeof(target), "%s:%u", taddr, tport);
	if (tcp_pair(&app, &relay) == -1)
		return -1;
	t0 = now_ms();
	if ((pid = fork()) == -1) {
		close(app);
		close(relay);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		dup2(relay, 0);
		dup2(relay, 1);
		dup2(devnull, 2);
		execlp(ssh_cmd, ssh_cmd, "-F", "/dev/null", "-o",
		    "BatchMode=yes", "-S", ctlpath, "-W", target, "mux-probe",
		    (char *)NULL);
		_exit(127);
	}
	close(relay);
	if (write_all(app, "ECHO\nx", 6) == -1)
		goto fail;
	pfd.fd = app;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, WAIT_MS) != 1 || read(app, &c, 1) != 1)
		goto fail;
	*echo = now_ms() - t0;
	close(app);
	waitpid(pid, &status, 0);
	return 0;
 fail:
	close(app);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return -1;
}

/* (5) sequential relays: mux vs ssh -W. */
static void
t_timing(void)
{
	double *echo, *open, *sshv;
	int i, n = nrelays, ok = 0, okssh = 0;

	echo = calloc((size_t)n, sizeof(double));
	open = calloc((size_t)n, sizeof(double));
	sshv = calloc((size_t)n, sizeof(double));
	if (echo == NULL || open == NULL || sshv == NULL) {
		report("FAIL", "timing", "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (time_mux(&echo[ok], &open[ok]) == 0)
			ok++;
	report(ok == n ? "PASS" : "FAIL", "timing", "%d of %d sequential "
	    "stdio forwards echoed", ok, n);
	stats("timing", "mux NEW_STDIO_FWD: request -> first echoed byte",
	    echo, ok);
	stats("timing", "mux NEW_STDIO_FWD: request -> SESSION_OPENED", open,
	    ok);
	if (ssh_cmd != NULL) {
		for (i = 0; i < n; i++)
			if (time_ssh(&sshv[okssh]) == 0)
				okssh++;
		report(okssh == n ? "PASS" : "FAIL", "timing", "%d of %d "
		    "\"%s -S ctl -W\" runs echoed", okssh, n, ssh_cmd);
		stats("timing", "ssh -S ctl -W: fork -> first echoed byte",
		    sshv, okssh);
	}
 out:
	free(echo);
	free(open);
	free(sshv);
}

static const struct {
	const char	*name;
	void		(*fn)(void);
} tests[] = {
	{ "alive", t_alive },
	{ "echo", t_echo },
	{ "clienthalf", t_clienthalf },
	{ "serverhalf", t_serverhalf },
	{ "ctlclose", t_ctlclose },
	{ "session", t_session },
	{ "sessionhalf", t_sessionhalf },
	{ "badsubsys", t_badsubsys },
	{ "refused", t_refused },
	{ "cancel", t_cancel },
	{ "many", t_many },
	{ "timing", t_timing },
	{ "spare", t_spare },
	{ "sparedead", t_sparedead },
};

static void
usage(void)
{
	fprintf(stderr, "usage: mux-probe serve [-l ADDR] PORT\n"
	    "       mux-probe subsys-half ADDR PORT\n"
	    "       mux-probe [-n N] [-s SUBSYS] [-h SUBSYS] [-r HOST:PORT] "
	    "[-d HOST:PORT] [-W SSH]\n"
	    "                 CTLPATH ADDR PORT TEST...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	size_t j;
	int ch, i;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && strcmp(argv[1], "serve") == 0)
		return serve(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "subsys-half") == 0)
		return subsys_half_main(argc - 1, argv + 1);

	while ((ch = getopt(argc, argv, "d:h:n:r:s:W:")) != -1) {
		switch (ch) {
		case 'd':
			direct_target = optarg;
			break;
		case 'h':
			subsys_half = optarg;
			break;
		case 'n':
			if ((nrelays = atoi(optarg)) < 1 || nrelays > 10000)
				usage();
			break;
		case 'r':
			refused_target = optarg;
			break;
		case 's':
			subsys_echo = optarg;
			break;
		case 'W':
			ssh_cmd = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 4)
		usage();
	ctlpath = argv[0];
	taddr = argv[1];
	tport_s = argv[2];
	if ((tport = (unsigned int)atoi(tport_s)) == 0 || tport > 65535)
		usage();

	/* three fds per relay here (app, ctl, and the relay end for a
	 * moment), as the agent would need */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 3; i < argc; i++) {
		for (j = 0; j < sizeof(tests) / sizeof(tests[0]); j++) {
			if (strcmp(argv[i], tests[j].name) == 0) {
				tests[j].fn();
				break;
			}
		}
		if (j == sizeof(tests) / sizeof(tests[0]))
			report("FAIL", argv[i], "no such test");
	}
	printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
