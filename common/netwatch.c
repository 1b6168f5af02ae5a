/*
 * Network change notification. Only "something changed" matters, by one
 * of three means that configure picks (configure.ac, "network changes"):
 *
 * - rtnetlink (Linux): the messages are drained, not parsed;
 * - a PF_ROUTE socket (the BSDs, macOS): address and interface messages
 *   count, route churn (neighbour entries come and go with every new peer)
 *   does not;
 * - failing both, or when the socket cannot be opened at run time, a
 *   fingerprint of getifaddrs(3) taken every NETWATCH_POLL_MS.
 *
 * A burst of socket messages (an interface coming up brings several) is
 * coalesced by a timer; a changed fingerprint is reported at once.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#if NETWATCH_NETLINK
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#elif NETWATCH_PF_ROUTE
#include <net/route.h>
#endif

#include <errno.h>
#include <ifaddrs.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "netwatch.h"

struct netwatch {
	int		 fd;		/* -1 when polling */
	struct ev_io	*io;
	struct ev_timer	*settle;
	struct ev_timer	*poll;
	uint64_t	 interval;
	uint64_t	 print;		/* of the last getifaddrs */
	int		 printed;
	const char	*method;
	void		(*cb)(void *);
	void		*arg;
};

#if NETWATCH_NETLINK
static int
watch_open(void)
{
	struct sockaddr_nl snl;
	int fd;

	if ((fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_ROUTE)) == -1) {
		log_warn("netwatch: rtnetlink socket");
		return -1;
	}
	memset(&snl, 0, sizeof(snl));
	snl.nl_family = AF_NETLINK;
	snl.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(fd, (struct sockaddr *)&snl, sizeof(snl)) == -1) {
		log_warn("netwatch: rtnetlink bind");
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the messages waiting on fd report a change. */
static int
watch_drain(int fd)
{
	char tmp[8192];
	ssize_t n;
	int any = 0;

	while ((n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		any = 1;
	/* ENOBUFS: the kernel dropped messages; that is still a change */
	if (n == -1 && errno == ENOBUFS)
		any = 1;
	return any;
}
#define WATCH_METHOD	"rtnetlink"
#elif NETWATCH_PF_ROUTE
static int
watch_open(void)
{
	int fd;

	if ((fd = socket(PF_ROUTE, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    AF_UNSPEC)) == -1) {
		log_warn("netwatch: PF_ROUTE socket");
		return -1;
	}
	return fd;
}

/* One message per read on a routing socket; its header starts with the
 * fields of struct rt_msghdr that every message type shares. */
static int
watch_drain(int fd)
{
	union {
		struct rt_msghdr	rtm;
		char			buf[2048];
	} u;
	ssize_t n;
	int any = 0;

	while ((n = recv(fd, &u, sizeof(u), MSG_DONTWAIT)) > 0) {
		if ((size_t)n < offsetof(struct rt_msghdr, rtm_type) +
		    sizeof(u.rtm.rtm_type) || u.rtm.rtm_version != RTM_VERSION)
			continue;
		switch (u.rtm.rtm_type) {
		case RTM_NEWADDR:
		case RTM_DELADDR:
		case RTM_IFINFO:
#ifdef RTM_IFANNOUNCE
		case RTM_IFANNOUNCE:
#endif
			any = 1;
			break;
		}
	}
	if (n == -1 && errno == ENOBUFS)
		any = 1;
	return any;
}
#define WATCH_METHOD	"PF_ROUTE"
#endif

#if NETWATCH_NETLINK || NETWATCH_PF_ROUTE
static void
settled(void *arg)
{
	struct netwatch *nw = arg;

	nw->cb(nw->arg);
}

static void
readable(int fd, short revents, void *arg)
{
	struct netwatch *nw = arg;

	if (watch_drain(fd))
		ev_timer_set(nw->settle, NETWATCH_SETTLE_MS);
}
#endif

/* FNV-1a, 64 bits */
static uint64_t
hash(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len-- > 0) {
		h ^= *c++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * A fingerprint of the interfaces (name, up and running) and of their
 * IPv4 and IPv6 addresses and masks. Entries are hashed one by one and
 * summed, so that the order getifaddrs lists them in does not matter.
 */
int
netwatch_fingerprint(uint64_t *print)
{
	struct ifaddrs *ifap, *ifa;
	const struct sockaddr *sa;
	const void *a;
	uint64_t h, sum = 0;
	size_t alen;
	unsigned int flags;
	int family;

	if (getifaddrs(&ifap) == -1)
		return -1;
	for (ifa = ifap; ifa != NULL; ifa = ifa->ifa_next) {
		h = hash(0xcbf29ce484222325ULL, ifa->ifa_name,
		    strlen(ifa->ifa_name) + 1);
		flags = ifa->ifa_flags & (IFF_UP | IFF_RUNNING);
		h = hash(h, &flags, sizeof(flags));
		family = (sa = ifa->ifa_addr) != NULL ? sa->sa_family : -1;
		h = hash(h, &family, sizeof(family));
		alen = 0;
		if (family == AF_INET) {
			a = &((const struct sockaddr_in *)sa)->sin_addr;
			alen = sizeof(struct in_addr);
		} else if (family == AF_INET6) {
			a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
			alen = sizeof(struct in6_addr);
		}
		if (alen > 0) {
			h = hash(h, a, alen);
			if ((sa = ifa->ifa_netmask) != NULL &&
			    sa->sa_family == family)
				h = hash(h, family == AF_INET ?
				    (const void *)&((const struct sockaddr_in *)
				    sa)->sin_addr :
				    (const void *)&((const struct sockaddr_in6 *)
				    sa)->sin6_addr, alen);
		}
		sum += h;
	}
	freeifaddrs(ifap);
	*print = sum;
	return 0;
}

static void
poll_tick(void *arg)
{
	struct netwatch *nw = arg;
	uint64_t print;

	ev_timer_set(nw->poll, nw->interval);
	if (netwatch_fingerprint(&print) == -1) {
		log_debug("netwatch: getifaddrs: %s", strerror(errno));
		return;
	}
	/* the first good fingerprint after a failed start is no change */
	if (!nw->printed) {
		nw->printed = 1;
		nw->print = print;
		return;
	}
	if (print == nw->print)
		return;
	nw->print = print;
	nw->cb(nw->arg);
}

struct netwatch *
netwatch_new_poll(struct ev_loop *loop, void (*cb)(void *), void *arg,
    unsigned int interval_ms)
{
	struct netwatch *nw;

	if ((nw = calloc(1, sizeof(*nw))) == NULL)
		return NULL;
	nw->fd = -1;
	nw->cb = cb;
	nw->arg = arg;
	nw->method = "getifaddrs";
	nw->interval = interval_ms;
	if ((nw->poll = ev_timer_add(loop, poll_tick, nw)) == NULL) {
		free(nw);
		return NULL;
	}
	if (netwatch_fingerprint(&nw->print) == 0)
		nw->printed = 1;
	else
		log_warn("netwatch: getifaddrs");
	ev_timer_set(nw->poll, nw->interval);
	return nw;
}

struct netwatch *
netwatch_new(struct ev_loop *loop, void (*cb)(void *), void *arg)
{
	struct netwatch *nw;

#if NETWATCH_NETLINK || NETWATCH_PF_ROUTE
	int fd;

	if ((fd = watch_open()) != -1) {
		if ((nw = calloc(1, sizeof(*nw))) == NULL) {
			close(fd);
			return NULL;
		}
		nw->fd = fd;
		nw->cb = cb;
		nw->arg = arg;
		nw->method = WATCH_METHOD;
		if ((nw->io = ev_io_add(loop, fd, POLLIN, readable, nw)) ==
		    NULL || (nw->settle = ev_timer_add(loop, settled, nw)) ==
		    NULL) {
			netwatch_free(nw);
			return NULL;
		}
		log_debug("netwatch: %s", nw->method);
		return nw;
	}
#endif
	if ((nw = netwatch_new_poll(loop, cb, arg, NETWATCH_POLL_MS)) != NULL)
		log_debug("netwatch: getifaddrs every %u ms", NETWATCH_POLL_MS);
	return nw;
}

const char *
netwatch_method(const struct netwatch *nw)
{
	return nw->method;
}

void
netwatch_free(struct netwatch *nw)
{
	if (nw == NULL)
		return;
	ev_io_del(nw->io);
	ev_timer_del(nw->settle);
	ev_timer_del(nw->poll);
	if (nw->fd != -1)
		close(nw->fd);
	free(nw);
}
