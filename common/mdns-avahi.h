/* The avahi backend's own helpers (common/mdns-avahi-glue.c), for the
 * backend (common/mdns-avahi.c) and its unit tests; nothing else includes
 * this. */
#ifndef RNSPLICE_MDNS_AVAHI_H
#define RNSPLICE_MDNS_AVAHI_H

#include <avahi-common/watch.h>

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct AvahiStringList;
struct ev_loop;

/* Fill p so that avahi-client runs in loop. */
void	mdns_avahi_poll_init(AvahiPoll *p, struct ev_loop *loop);

/* struct txt -> AvahiStringList, binary-safe, in record order (avahi
 * prepends, and reverses again when it sends the list;
 * avahi_string_list_add_arbitrary is used). Empty items are left out
 * (avahi refuses them; they mean nothing), so an empty TXT is the NULL
 * list. -1 only when out of memory (*out NULL). */
int	mdns_avahi_txt_to_strlst(const struct txt *,
	    struct AvahiStringList **out);
/* AvahiStringList -> struct txt in record order: reversed 1 for a list
 * avahi-client built from what the daemon sent (prepending: reversed),
 * 0 for one the daemon had sent reversed already (see
 * mdns_avahi_txt_order_fixed). -1 only when out of memory. */
int	mdns_avahi_strlst_to_txt(struct AvahiStringList *, int reversed,
	    struct txt *out);
/* Does avahi-daemon VERSION ("avahi 0.8") send TXT items over D-Bus in
 * record order? Up to 0.9-rc3 it sends them reversed (fixed by avahi
 * commit 29e75aad). */
int	mdns_avahi_txt_order_fixed(const char *version);
/* An avahi-escaped domain name ("A\.B\032c._x._tcp.local") in DNS wire
 * format (length-prefixed labels, then 0) into out: 0 and *len, or -1
 * for an empty or over-long (63) label, a bad escape, or no room. The
 * records of a service are added in that form (mdns-avahi.c). */
int	mdns_avahi_name_wire(const char *name, uint8_t *out, size_t size,
	    size_t *len);

#endif
