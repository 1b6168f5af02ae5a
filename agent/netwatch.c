/* Network change notification through rtnetlink (Linux). Only "something
 * changed" matters: the messages are drained, not parsed, and a burst of
 * them (an interface coming up brings several) is coalesced by a timer. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#endif

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "netwatch.h"

struct netwatch {
	int		 fd;
	struct ev_io	*io;
	struct ev_timer	*settle;
	void		(*cb)(void *);
	void		*arg;
};

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
	char tmp[8192];
	ssize_t n;
	int any = 0;

	while ((n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT)) > 0)
		any = 1;
	/* ENOBUFS: the kernel dropped messages; that is still a change */
	if (n == -1 && errno == ENOBUFS)
		any = 1;
	if (any)
		ev_timer_set(nw->settle, NETWATCH_SETTLE_MS);
}

struct netwatch *
netwatch_new(struct ev_loop *loop, void (*cb)(void *), void *arg)
{
#ifdef __linux__
	struct sockaddr_nl snl;
	struct netwatch *nw;

	if ((nw = calloc(1, sizeof(*nw))) == NULL)
		return NULL;
	nw->cb = cb;
	nw->arg = arg;
	if ((nw->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, NETLINK_ROUTE)) == -1) {
		log_warn("netlink socket; reconnects follow the backoff only");
		free(nw);
		return NULL;
	}
	memset(&snl, 0, sizeof(snl));
	snl.nl_family = AF_NETLINK;
	snl.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR |
	    RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
	if (bind(nw->fd, (struct sockaddr *)&snl, sizeof(snl)) == -1) {
		log_warn("netlink bind; reconnects follow the backoff only");
		close(nw->fd);
		free(nw);
		return NULL;
	}
	if ((nw->io = ev_io_add(loop, nw->fd, POLLIN, readable, nw)) == NULL ||
	    (nw->settle = ev_timer_add(loop, settled, nw)) == NULL) {
		ev_io_del(nw->io);
		close(nw->fd);
		free(nw);
		return NULL;
	}
	return nw;
#else
	log_info("no network change notification on this system; "
	    "reconnects follow the backoff only");
	return NULL;
#endif
}

void
netwatch_free(struct netwatch *nw)
{
	if (nw == NULL)
		return;
	ev_io_del(nw->io);
	ev_timer_del(nw->settle);
	close(nw->fd);
	free(nw);
}
