/* The poll loop. Watches and timers are kept in plain arrays: a few
 * thousand entries at most, and poll(2) is linear anyway. Deletion only
 * marks an entry dead; dead entries are reaped between iterations so that
 * callbacks may delete anything, themselves included. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "fd.h"
#include "log.h"

struct ev_io {
	struct ev_loop	*loop;
	int		 fd;
	short		 events;
	int		 dead;
	ev_io_cb	 cb;
	void		*arg;
};

struct ev_timer {
	struct ev_loop	*loop;
	uint64_t	 when;	/* 0: not armed */
	int		 dead;
	ev_timer_cb	 cb;
	void		*arg;
};

#define EV_NSIG 65

struct ev_loop {
	struct ev_io	**ios;
	size_t		 nios, ioscap;
	struct ev_timer	**timers;
	size_t		 ntimers, timerscap;
	struct pollfd	*pfds;
	struct ev_io	**pfd_io;
	size_t		 pfdscap;
	int		 done;
	unsigned long	 wakeups;
	int		 sigpipe[2];
	struct ev_io	*sigio;
	ev_signal_cb	 sigcb[EV_NSIG];
	void		*sigarg[EV_NSIG];
};

/* One loop per process owns the signal pipe. */
static volatile sig_atomic_t ev_sigpending[EV_NSIG];
static int ev_sigwfd = -1;

uint64_t
ev_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev_loop *
ev_loop_new(void)
{
	struct ev_loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->sigpipe[0] = l->sigpipe[1] = -1;
	return l;
}

static void
reap(struct ev_loop *l)
{
	size_t i, j;

	for (i = j = 0; i < l->nios; i++) {
		if (l->ios[i]->dead)
			free(l->ios[i]);
		else
			l->ios[j++] = l->ios[i];
	}
	l->nios = j;
	for (i = j = 0; i < l->ntimers; i++) {
		if (l->timers[i]->dead)
			free(l->timers[i]);
		else
			l->timers[j++] = l->timers[i];
	}
	l->ntimers = j;
}

void
ev_loop_free(struct ev_loop *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nios; i++)
		l->ios[i]->dead = 1;
	for (i = 0; i < l->ntimers; i++)
		l->timers[i]->dead = 1;
	reap(l);
	free(l->ios);
	free(l->timers);
	free(l->pfds);
	free(l->pfd_io);
	if (l->sigpipe[0] != -1) {
		close(l->sigpipe[0]);
		close(l->sigpipe[1]);
		ev_sigwfd = -1;
	}
	free(l);
}

void
ev_loop_break(struct ev_loop *l)
{
	l->done = 1;
}

unsigned long
ev_wakeups(const struct ev_loop *l)
{
	return l->wakeups;
}

struct ev_io *
ev_io_add(struct ev_loop *l, int fd, short events, ev_io_cb cb, void *arg)
{
	struct ev_io *io, **n;

	if (l->nios == l->ioscap) {
		size_t ncap = l->ioscap ? l->ioscap * 2 : 16;

		if ((n = reallocarray(l->ios, ncap, sizeof(*n))) == NULL)
			return NULL;
		l->ios = n;
		l->ioscap = ncap;
	}
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->loop = l;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	l->ios[l->nios++] = io;
	return io;
}

void
ev_io_set(struct ev_io *io, short events)
{
	io->events = events;
}

short
ev_io_events(const struct ev_io *io)
{
	return io->events;
}

void
ev_io_del(struct ev_io *io)
{
	if (io != NULL)
		io->dead = 1;
}

struct ev_timer *
ev_timer_add(struct ev_loop *l, ev_timer_cb cb, void *arg)
{
	struct ev_timer *t, **n;

	if (l->ntimers == l->timerscap) {
		size_t ncap = l->timerscap ? l->timerscap * 2 : 16;

		if ((n = reallocarray(l->timers, ncap, sizeof(*n))) == NULL)
			return NULL;
		l->timers = n;
		l->timerscap = ncap;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	l->timers[l->ntimers++] = t;
	return t;
}

void
ev_timer_set(struct ev_timer *t, uint64_t ms)
{
	t->when = ev_now_ms() + ms;
	if (t->when == 0)
		t->when = 1;
}

void
ev_timer_stop(struct ev_timer *t)
{
	t->when = 0;
}

int
ev_timer_pending(const struct ev_timer *t)
{
	return t->when != 0;
}

void
ev_timer_del(struct ev_timer *t)
{
	if (t != NULL) {
		t->dead = 1;
		t->when = 0;
	}
}

static void
sig_handler(int signo)
{
	int saved_errno = errno;
	char c = (char)signo;

	if (signo > 0 && signo < EV_NSIG)
		ev_sigpending[signo] = 1;
	if (ev_sigwfd != -1)
		(void)write(ev_sigwfd, &c, 1);
	errno = saved_errno;
}

static void
sigpipe_read(int fd, short revents, void *arg)
{
	struct ev_loop *l = arg;
	char tmp[64];
	int i;

	while (read(fd, tmp, sizeof(tmp)) > 0)
		;
	for (i = 1; i < EV_NSIG; i++)
		if (ev_sigpending[i]) {
			ev_sigpending[i] = 0;
			if (l->sigcb[i] != NULL)
				l->sigcb[i](i, l->sigarg[i]);
		}
}

int
ev_signal(struct ev_loop *l, int signo, ev_signal_cb cb, void *arg)
{
	struct sigaction sa;
	int i;

	if (signo <= 0 || signo >= EV_NSIG)
		return -1;
	if (l->sigpipe[0] == -1) {
		if (pipe(l->sigpipe) == -1)
			return -1;
		for (i = 0; i < 2; i++)
			if (set_nonblock(l->sigpipe[i]) == -1 ||
			    fcntl(l->sigpipe[i], F_SETFD, FD_CLOEXEC) == -1) {
				close_fd(&l->sigpipe[0]);
				close_fd(&l->sigpipe[1]);
				return -1;
			}
		ev_sigwfd = l->sigpipe[1];
		if ((l->sigio = ev_io_add(l, l->sigpipe[0], POLLIN,
		    sigpipe_read, l)) == NULL)
			return -1;
	}
	l->sigcb[signo] = cb;
	l->sigarg[signo] = arg;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(signo, &sa, NULL);
}

static int
next_timeout(struct ev_loop *l)
{
	uint64_t now = ev_now_ms(), first = 0;
	size_t i;

	for (i = 0; i < l->ntimers; i++)
		if (!l->timers[i]->dead && l->timers[i]->when != 0 &&
		    (first == 0 || l->timers[i]->when < first))
			first = l->timers[i]->when;
	if (first == 0)
		return -1;
	if (first <= now)
		return 0;
	if (first - now > 3600 * 1000)
		return 3600 * 1000;
	return (int)(first - now);
}

static void
run_timers(struct ev_loop *l)
{
	uint64_t now = ev_now_ms();
	size_t i, n = l->ntimers;	/* timers added now wait a turn */

	for (i = 0; i < n; i++) {
		struct ev_timer *t = l->timers[i];

		if (t->dead || t->when == 0 || t->when > now)
			continue;
		t->when = 0;
		t->cb(t->arg);
	}
}

int
ev_loop_run(struct ev_loop *l)
{
	size_t i, n;
	int r;

	l->done = 0;
	while (!l->done) {
		reap(l);
		if (l->nios > l->pfdscap) {
			struct pollfd *p;
			struct ev_io **q;

			if ((p = reallocarray(l->pfds, l->nios,
			    sizeof(*p))) == NULL)
				return -1;
			l->pfds = p;
			if ((q = reallocarray(l->pfd_io, l->nios,
			    sizeof(*q))) == NULL)
				return -1;
			l->pfd_io = q;
			l->pfdscap = l->nios;
		}
		for (i = n = 0; i < l->nios; i++) {
			if (l->ios[i]->events == 0)
				continue;
			l->pfds[n].fd = l->ios[i]->fd;
			l->pfds[n].events = l->ios[i]->events;
			l->pfds[n].revents = 0;
			l->pfd_io[n++] = l->ios[i];
		}
		r = poll(l->pfds, n, next_timeout(l));
		l->wakeups++;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			log_warn("poll");
			return -1;
		}
		for (i = 0; i < n && r > 0; i++) {
			struct ev_io *io = l->pfd_io[i];

			if (l->pfds[i].revents == 0)
				continue;
			r--;
			if (io->dead || io->events == 0)
				continue;
			io->cb(io->fd, l->pfds[i].revents, io->arg);
		}
		run_timers(l);
	}
	return 0;
}
