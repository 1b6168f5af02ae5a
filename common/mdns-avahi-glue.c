/* The avahi backend's glue, pure or nearly: the AvahiPoll adapter that
 * runs avahi-client in our poll loop (common/event.c), AvahiStringList
 * <-> struct txt in record order, and domain names in wire format. */
#include "config.h"

#include <sys/types.h>
#include <sys/time.h>

#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-common/domain.h>
#include <avahi-common/strlst.h>
#include <avahi-common/watch.h>

#include "event.h"
#include "mdns-avahi.h"
#include "proto.h"

struct AvahiWatch {
	struct ev_io	*io;
	AvahiWatchCallback cb;
	void		*userdata;
};

struct AvahiTimeout {
	struct ev_timer	*t;
	AvahiTimeoutCallback cb;
	void		*userdata;
};

/* --- the AvahiPoll adapter ---------------------------------------------- */

/* The watch being dispatched and its events: avahi asks for them from
 * inside the callback only, which may free the watch. */
static AvahiWatch	*aw_current;
static AvahiWatchEvent	 aw_revents;

static short
aw_to_poll(AvahiWatchEvent e)
{
	return (short)(((e & AVAHI_WATCH_IN) ? POLLIN : 0) |
	    ((e & AVAHI_WATCH_OUT) ? POLLOUT : 0));
}

static void
aw_cb(int fd, short revents, void *arg)
{
	AvahiWatch *w = arg;
	AvahiWatchEvent e = 0;

	if (revents & POLLIN)
		e |= AVAHI_WATCH_IN;
	if (revents & POLLOUT)
		e |= AVAHI_WATCH_OUT;
	if (revents & POLLERR)
		e |= AVAHI_WATCH_ERR;
	if (revents & POLLHUP)
		e |= AVAHI_WATCH_HUP;
	aw_current = w;
	aw_revents = e;
	w->cb(w, fd, e, w->userdata);	/* may free w */
	aw_current = NULL;
	aw_revents = 0;
}

static AvahiWatch *
aw_new(const AvahiPoll *api, int fd, AvahiWatchEvent event,
    AvahiWatchCallback callback, void *userdata)
{
	struct ev_loop *loop = api->userdata;
	AvahiWatch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->cb = callback;
	w->userdata = userdata;
	if ((w->io = ev_io_add(loop, fd, aw_to_poll(event), aw_cb,
	    w)) == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

static void
aw_update(AvahiWatch *w, AvahiWatchEvent event)
{
	ev_io_set(w->io, aw_to_poll(event));
}

static AvahiWatchEvent
aw_get_events(AvahiWatch *w)
{
	return w == aw_current ? aw_revents : 0;
}

static void
aw_free(AvahiWatch *w)
{
	if (w == aw_current)
		aw_current = NULL;
	ev_io_del(w->io);
	free(w);
}

static void
at_cb(void *arg)
{
	AvahiTimeout *t = arg;

	t->cb(t, t->userdata);
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
	struct ev_loop *loop = api->userdata;
	AvahiTimeout *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->t = ev_timer_add(loop, at_cb, t)) == NULL) {
		free(t);
		return NULL;
	}
	t->cb = callback;
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

void
mdns_avahi_poll_init(AvahiPoll *p, struct ev_loop *loop)
{
	memset(p, 0, sizeof(*p));
	p->userdata = loop;
	p->watch_new = aw_new;
	p->watch_update = aw_update;
	p->watch_get_events = aw_get_events;
	p->watch_free = aw_free;
	p->timeout_new = at_new;
	p->timeout_update = at_update;
	p->timeout_free = at_free;
}

/* --- TXT ---------------------------------------------------------------- */

int
mdns_avahi_txt_order_fixed(const char *version)
{
	unsigned int major, minor, rc;
	int n = 0;

	if (version == NULL ||
	    sscanf(version, "avahi %u.%u%n", &major, &minor, &n) != 2)
		return 1;	/* unknown: assume a current daemon */
	if (major > 0 || minor > 9)
		return 1;
	if (minor < 9)
		return 0;
	if (sscanf(version + n, "-rc%u", &rc) == 1)
		return rc >= 4;
	return 1;
}

int
mdns_avahi_txt_to_strlst(const struct txt *t, AvahiStringList **out)
{
	AvahiStringList *l = NULL, *n;
	size_t i;

	*out = NULL;
	if (t == NULL)
		return 0;
	/* avahi refuses empty items ("Invalid record",
	 * avahi_record_is_valid()); RFC 6763 6.1 gives them no meaning (an
	 * empty TXT is one empty string, which avahi writes itself for the
	 * empty list): leave them out. */
	for (i = 0; i < t->n; i++) {
		if (t->items[i].len == 0)
			continue;
		if ((n = avahi_string_list_add_arbitrary(l,
		    t->items[i].data, t->items[i].len)) == NULL) {
			avahi_string_list_free(l);
			return -1;
		}
		l = n;
	}
	*out = l;
	return 0;
}

int
mdns_avahi_strlst_to_txt(AvahiStringList *l, int reversed, struct txt *out)
{
	AvahiStringList *p, **v;
	size_t n = 0, i;

	memset(out, 0, sizeof(*out));
	for (p = l; p != NULL; p = avahi_string_list_get_next(p))
		n++;
	if (n == 0)
		return 0;
	if ((v = reallocarray(NULL, n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0, p = l; p != NULL; p = avahi_string_list_get_next(p))
		v[i++] = p;
	for (i = 0; i < n; i++) {
		p = v[reversed ? n - 1 - i : i];
		if (txt_add(out, avahi_string_list_get_text(p),
		    avahi_string_list_get_size(p)) == -1) {
			free(v);
			txt_free(out);
			return -1;
		}
	}
	free(v);
	return 0;
}

int
mdns_avahi_name_wire(const char *name, uint8_t *out, size_t size,
    size_t *len)
{
	char label[AVAHI_LABEL_MAX];
	size_t n = 0, l;

	while (*name != '\0') {
		if (avahi_unescape_label(&name, label, sizeof(label)) == NULL)
			return -1;
		if ((l = strlen(label)) == 0 || l > 63 || n + 1 + l + 1 > size)
			return -1;
		out[n++] = (uint8_t)l;
		memcpy(out + n, label, l);
		n += l;
	}
	if (n + 1 > size)
		return -1;
	out[n++] = 0;
	*len = n;
	return 0;
}
