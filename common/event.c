/* The poll loop. Watches and timers are kept in plain arrays: a few
 * thousand entries at most, and poll(2) is linear anyway. Deletion only
 * marks an entry dead; dead entries are reaped between iterations so that
 * callbacks may delete anything, themselves included. */
#include "config.h"

#include <sys/types.h>
#include <sys/time.h>

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
	/* avahi adapter */
	AvahiWatchCallback avahi_cb;
	AvahiWatchEvent	 avahi_revents;
};

struct ev_timer {
	struct ev_loop	*loop;
	uint64_t	 when;	/* 0: not armed */
	int		 dead;
	ev_timer_cb	 cb;
	void		*arg;
	AvahiTimeoutCallback avahi_cb;
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
	AvahiPoll	 avahi_poll;
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

static const AvahiPoll *make_avahi_poll(struct ev_loop *);

struct ev_loop *
ev_loop_new(void)
{
	struct ev_loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->sigpipe[0] = l->sigpipe[1] = -1;
	make_avahi_poll(l);
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

/* AvahiPoll adapter */

struct AvahiWatch {
	struct ev_io	*io;
	void		*userdata;
};

struct AvahiTimeout {
	struct ev_timer	*t;
	void		*userdata;
};

static short
avahi_to_poll(AvahiWatchEvent e)
{
	return (short)(((e & AVAHI_WATCH_IN) ? POLLIN : 0) |
	    ((e & AVAHI_WATCH_OUT) ? POLLOUT : 0));
}

static void
aw_cb(int fd, short revents, void *arg)
{
	AvahiWatch *w = arg;
	struct ev_io *io = w->io;	/* the callback may free w, not io */
	AvahiWatchEvent e = 0;

	if (revents & POLLIN)
		e |= AVAHI_WATCH_IN;
	if (revents & POLLOUT)
		e |= AVAHI_WATCH_OUT;
	if (revents & POLLERR)
		e |= AVAHI_WATCH_ERR;
	if (revents & POLLHUP)
		e |= AVAHI_WATCH_HUP;
	io->avahi_revents = e;
	io->avahi_cb(w, fd, e, w->userdata);
	io->avahi_revents = 0;	/* io is only marked dead until reaped */
}

static AvahiWatch *
aw_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
    AvahiWatchCallback callback, void *userdata)
{
	struct ev_loop *l = api->userdata;
	AvahiWatch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->io = ev_io_add(l, fd, avahi_to_poll(event), aw_cb,
	    w)) == NULL) {
		free(w);
		return NULL;
	}
	w->io->avahi_cb = callback;
	w->userdata = userdata;
	return w;
}

static void
aw_update(AvahiWatch *w, AvahiWatchEvent event)
{
	ev_io_set(w->io, avahi_to_poll(event));
}

static AvahiWatchEvent
aw_get_events(AvahiWatch *w)
{
	return w->io->avahi_revents;
}

static void
aw_free(AvahiWatch *w)
{
	ev_io_del(w->io);
	free(w);
}

static void
at_cb(void *arg)
{
	AvahiTimeout *t = arg;

	t->t->avahi_cb(t, t->userdata);
}

static void
at_arm(AvahiTimeout *t, const struct timeval *tv)
{
	struct timeval now;
	long long ms;

	if (tv == NULL) {
		ev_timer_stop(t->t);
		return;
	}
	gettimeofday(&now, NULL);
	ms = (long long)(tv->tv_sec - now.tv_sec) * 1000 +
	    (tv->tv_usec - now.tv_usec) / 1000;
	ev_timer_set(t->t, ms < 0 ? 0 : (uint64_t)ms);
}

static AvahiTimeout *
at_new(const AvahiPoll *api, const struct timeval *tv,
    AvahiTimeoutCallback callback, void *userdata)
{
	struct ev_loop *l = api->userdata;
	AvahiTimeout *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->t = ev_timer_add(l, at_cb, t)) == NULL) {
		free(t);
		return NULL;
	}
	t->t->avahi_cb = callback;
	t->userdata = userdata;
	at_arm(t, tv);
	return t;
}

static void
at_update(AvahiTimeout *t, const struct timeval *tv)
{
	at_arm(t, tv);
}

static void
at_free(AvahiTimeout *t)
{
	ev_timer_del(t->t);
	free(t);
}

static const AvahiPoll *
make_avahi_poll(struct ev_loop *l)
{
	l->avahi_poll.userdata = l;
	l->avahi_poll.watch_new = aw_new;
	l->avahi_poll.watch_update = aw_update;
	l->avahi_poll.watch_get_events = aw_get_events;
	l->avahi_poll.watch_free = aw_free;
	l->avahi_poll.timeout_new = at_new;
	l->avahi_poll.timeout_update = at_update;
	l->avahi_poll.timeout_free = at_free;
	return &l->avahi_poll;
}

const AvahiPoll *
ev_avahi_poll(struct ev_loop *l)
{
	return &l->avahi_poll;
}
