/* What both mDNS backends share (mdns-int.h): the allocated cause of a
 * message, the loopback interface, the state the user hears. */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>

#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "mdns.h"
#include "mdns-int.h"

int
mdns_fail_msg(int code, const char *msg, char **cause)
{
	if (cause != NULL && (*cause = strdup(msg)) == NULL)
		fatalx("out of memory");
	return code;
}

int
mdns_fail_err(int code, const char *what, const char *err, char **cause)
{
	if (cause != NULL) {
		if (what != NULL) {
			if (asprintf(cause, "%s: %s", what, err) == -1)
				*cause = NULL;
		} else
			*cause = strdup(err);
		if (*cause == NULL)
			fatalx("out of memory");
	}
	return code;
}

int
mdns_lo_ifindex(void)
{
	struct ifaddrs *ifa, *p;
	int idx = 0;

	if (getifaddrs(&ifa) == -1)
		return (int)if_nametoindex("lo");
	for (p = ifa; p != NULL && idx == 0; p = p->ifa_next)
		if (p->ifa_flags & IFF_LOOPBACK)
			idx = (int)if_nametoindex(p->ifa_name);
	freeifaddrs(ifa);
	return idx;
}

int
mdns_if_loopback(int ifindex)
{
	static int sock = -1;
	struct ifreq ifr;

	if (ifindex <= 0)
		return 0;
	if (sock == -1) {
		/* not for the programs we run (ssh); SOCK_CLOEXEC is not
		 * everywhere the DNS-SD API is */
		if ((sock = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
			return ifindex == mdns_lo_ifindex();
		(void)fcntl(sock, F_SETFD, FD_CLOEXEC);
	}
	memset(&ifr, 0, sizeof(ifr));
	if (if_indextoname((unsigned int)ifindex, ifr.ifr_name) == NULL ||
	    ioctl(sock, SIOCGIFFLAGS, &ifr) == -1)
		return 0;
	return (ifr.ifr_flags & IFF_LOOPBACK) != 0;
}

void
mdns_sync_soon(struct mdns_report *r, unsigned ms)
{
	if (ms == 0 || !ev_timer_pending(r->sync_t))
		ev_timer_set(r->sync_t, ms);
}

void
mdns_set_state(struct mdns *m, struct mdns_report *r, enum mdns_state st,
    const char *why)
{
	if (r->reported && r->state == st)
		return;
	r->reported = 1;
	r->state = st;
	if (r->cb != NULL)
		r->cb(m, st, why, r->arg);
}
