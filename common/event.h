/* One poll(2) loop per process: fd watches, timers, signals as flags.
 * The mDNS backend (common/mdns-avahi.c) adapts avahi-client to it. */
#ifndef RNSPLICE_EVENT_H
#define RNSPLICE_EVENT_H

#include <stdint.h>

struct ev_loop;
struct ev_io;
struct ev_timer;

typedef void (*ev_io_cb)(int fd, short revents, void *arg);
typedef void (*ev_timer_cb)(void *arg);
typedef void (*ev_signal_cb)(int signo, void *arg);

struct ev_loop	*ev_loop_new(void);
void		 ev_loop_free(struct ev_loop *);
/* Runs until ev_loop_break(); returns 0, or -1 if poll failed. */
int		 ev_loop_run(struct ev_loop *);
void		 ev_loop_break(struct ev_loop *);

/* events: POLLIN | POLLOUT, 0 to pause. Safe to call from callbacks. */
struct ev_io	*ev_io_add(struct ev_loop *, int fd, short events, ev_io_cb,
		    void *arg);
void		 ev_io_set(struct ev_io *, short events);
short		 ev_io_events(const struct ev_io *);
void		 ev_io_del(struct ev_io *);

struct ev_timer	*ev_timer_add(struct ev_loop *, ev_timer_cb, void *arg);
void		 ev_timer_set(struct ev_timer *, uint64_t ms_from_now);
void		 ev_timer_stop(struct ev_timer *);
int		 ev_timer_pending(const struct ev_timer *);
void		 ev_timer_del(struct ev_timer *);

/* The handler runs from the loop, never from the signal context. */
int		 ev_signal(struct ev_loop *, int signo, ev_signal_cb, void *arg);

uint64_t	 ev_now_ms(void);	/* CLOCK_MONOTONIC */
unsigned long	 ev_wakeups(const struct ev_loop *);

#endif
