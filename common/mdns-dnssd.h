/* The DNS-SD API backend's own helpers (common/mdns-dnssd-glue.c), for the
 * backend (common/mdns-dnssd.c) and its unit tests; nothing else includes
 * this. They need no responder. */
#ifndef RNSPLICE_MDNS_DNSSD_H
#define RNSPLICE_MDNS_DNSSD_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/* struct txt -> TXT record data (RFC 6763 6: length byte, bytes), in
 * record order, binary-safe; empty items are left out (as the avahi
 * backend does), so an empty TXT is zero bytes (the responder writes the
 * one empty string itself). *out is malloc'ed (NULL for zero bytes).
 * 0, or MDNS_ERR_INVALID with *cause (an item over 255 bytes, a record
 * over 65,535), MDNS_ERR_NOMEM. */
int	mdns_dnssd_txt_build(const struct txt *, unsigned char **out,
	    uint16_t *len, char **cause);
/* TXT record data -> struct txt in record order; empty strings are left
 * out. -1 with errno EINVAL for a length byte running past the end (the
 * items before it are then in *out), ENOMEM; else 0. */
int	mdns_dnssd_txt_parse(const unsigned char *, size_t len,
	    struct txt *out);
/* A DNSServiceErrorType as MDNS_ERR_*; its text. */
int		 mdns_dnssd_map_err(int32_t);
const char	*mdns_dnssd_strerror(int32_t);
/* Copy a name the API gave ("_http._tcp.", "local.") without its final
 * dot. -1 if it does not fit. */
int	mdns_dnssd_undot(const char *, char *out, size_t outlen);
/* A result of browsing "_services._dns-sd._udp" (the service types):
 * instance name "_http", regtype "_tcp.local." -> type "_http._tcp",
 * domain "local" (Apple); regtype "_tcp." and rdomain "local." give the
 * same (avahi's library). -1 if it is not of that shape or does not
 * fit. */
int	mdns_dnssd_type_result(const char *name, const char *regtype,
	    const char *rdomain, char *type, size_t typelen, char *domain,
	    size_t domainlen);

#endif
