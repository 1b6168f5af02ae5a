/* What both mDNS backends (common/mdns-avahi.c, common/mdns-dnssd.c) share,
 * in common/mdns-common.c; nothing else includes this. */
#ifndef RNSPLICE_MDNS_INT_H
#define RNSPLICE_MDNS_INT_H

/* *cause = an allocated copy of msg (if cause is not NULL); returns code. */
int	mdns_fail_msg(int code, const char *msg, char **cause);
/* The index of the first loopback interface ("lo", "lo0"), 0 if none. */
int	mdns_lo_ifindex(void);

#endif
