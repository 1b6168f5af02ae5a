/* Address prefixes: "10.2.0.0/24", "fd00::/8", or a single address. The
 * agent's allow-lists and lan-networks, its view of the local networks
 * and the subsystem's "address" rules all use this one type. */
#ifndef RNSPLICE_PREFIX_H
#define RNSPLICE_PREFIX_H

#include <stddef.h>

struct sockaddr;

struct prefix {
	int		 af;		/* AF_INET, AF_INET6 */
	unsigned char	 addr[16];
	unsigned int	 len;		/* bits */
};

/* A prefix, or an address alone (all bits). Bits set beyond the length
 * are an error: "10.2.0.5/24" is a typo more often than a wish. */
int	prefix_parse(const char *, struct prefix *, char **cause);
/* "addr/len"; -1 if it does not fit. */
int	prefix_format(const struct prefix *, char *, size_t);
/* Is inner wholly inside outer? */
int	prefix_contains(const struct prefix *outer, const struct prefix *inner);
/* Does the address lie in the prefix? An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, a dual-stack listener's peer) is the IPv4 address. */
int	prefix_match(const struct prefix *, const struct sockaddr *);
/* The same for an address as text: IPv4, IPv6 or IPv6%zone. */
int	prefix_match_text(const struct prefix *, const char *addr);
/* The on-link prefix of an address and its netmask (NULL: all bits). */
int	prefix_from_sockaddr(const struct sockaddr *sa,
	    const struct sockaddr *mask, struct prefix *);
/* Is it within a private network (RFC 1918, RFC 4193 ULA)? */
int	prefix_private(const struct prefix *);
/*
 * Does this address of an interface make the interface a public leg? An
 * IPv4 address outside RFC 1918 and 169.254.0.0/16 does: a global one, or
 * one of a carrier's shared 100.64.0.0/10 (RFC 6598), whose link is the
 * provider's and its other customers', not a LAN of the host's owner.
 * IPv6 addresses never do: home LANs carry global IPv6 prefixes too, so
 * an IPv6-only link (link-local and global) stays a LAN.
 *
 * The rule, shared by the subsystem's exports and the agent's scope lan:
 * none of a public leg's addresses, its IPv6 link-local one included,
 * is listened on unless the configuration names the interface.
 */
int	prefix_public_leg(const struct sockaddr *);

#endif
