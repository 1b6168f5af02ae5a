/* Address prefixes: see prefix.h. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prefix.h"
#include "xmalloc.h"

static int
bits_equal(const unsigned char *a, const unsigned char *b, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

int
prefix_parse(const char *s, struct prefix *p, char **cause)
{
	char tmp[INET6_ADDRSTRLEN + 8], *slash, canon[INET6_ADDRSTRLEN];
	const char *errstr;
	struct prefix c;
	unsigned int max, i;
	long long len;

	memset(p, 0, sizeof(*p));
	if (strlcpy(tmp, s, sizeof(tmp)) >= sizeof(tmp))
		goto bad;
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, tmp, p->addr) == 1) {
		p->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, p->addr) == 1) {
		p->af = AF_INET6;
		max = 128;
	} else
		goto bad;
	p->len = max;
	if (slash != NULL) {
		len = strtonum(slash, 0, max, &errstr);
		if (errstr != NULL)
			return cause_set(cause, "\"%s\": prefix length is %s "
			    "(0..%u)", s, *slash == '\0' ? "missing" : errstr,
			    max);
		p->len = (unsigned int)len;
	}
	for (i = p->len; i < max; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			c = *p;
			for (i = c.len; i < max; i++)
				c.addr[i / 8] &= ~(0x80 >> (i % 8));
			if (inet_ntop(c.af, c.addr, canon, sizeof(canon)) ==
			    NULL)
				canon[0] = '\0';
			return cause_set(cause, "\"%s\": host bits set (did "
			    "you mean %s/%u?)", s, canon, c.len);
		}
	return 0;
 bad:
	return cause_set(cause, "\"%.64s\": not an address prefix (expected "
	    "an IPv4 or IPv6 address or prefix, e.g. 10.2.0.0/24 or "
	    "fd00::/8)", s);
}

int
prefix_format(const struct prefix *p, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	if (inet_ntop(p->af, p->addr, a, sizeof(a)) == NULL)
		return -1;
	n = snprintf(out, outlen, "%s/%u", a, p->len);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int
prefix_contains(const struct prefix *outer, const struct prefix *inner)
{
	return outer->af == inner->af && outer->len <= inner->len &&
	    bits_equal(outer->addr, inner->addr, outer->len);
}

int
prefix_match(const struct prefix *p, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;

	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		return p->af == AF_INET && bits_equal(p->addr,
		    (const unsigned char *)&sin->sin_addr, p->len);
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return p->af == AF_INET && bits_equal(p->addr,
			    sin6->sin6_addr.s6_addr + 12, p->len);
		return p->af == AF_INET6 && bits_equal(p->addr,
		    sin6->sin6_addr.s6_addr, p->len);
	}
	return 0;
}

int
prefix_match_text(const struct prefix *p, const char *addr)
{
	char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], *zone;
	unsigned char a[16];

	if (strlcpy(tmp, addr, sizeof(tmp)) >= sizeof(tmp))
		return 0;
	if ((zone = strchr(tmp, '%')) != NULL)
		*zone = '\0';
	if (inet_pton(p->af, tmp, a) != 1) {
		if (p->af != AF_INET || inet_pton(AF_INET6, tmp, a) != 1 ||
		    !IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)a))
			return 0;
		memmove(a, a + 12, 4);
	}
	return bits_equal(p->addr, a, p->len);
}

int
prefix_from_sockaddr(const struct sockaddr *sa, const struct sockaddr *mask,
    struct prefix *p)
{
	const unsigned char *a, *m;
	size_t n, i;
	unsigned int len = 0, b;

	memset(p, 0, sizeof(p[0]));
	if (sa->sa_family == AF_INET) {
		a = (const unsigned char *)
		    &((const struct sockaddr_in *)sa)->sin_addr;
		m = mask == NULL ? NULL : (const unsigned char *)
		    &((const struct sockaddr_in *)mask)->sin_addr;
		n = 4;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		m = mask == NULL ? NULL :
		    ((const struct sockaddr_in6 *)mask)->sin6_addr.s6_addr;
		n = 16;
	} else
		return -1;
	p->af = sa->sa_family;
	for (i = 0; i < n; i++) {
		if (m == NULL) {
			len += 8;
			p->addr[i] = a[i];
			continue;
		}
		p->addr[i] = a[i] & m[i];
		for (b = 0; b < 8 && (m[i] & (0x80 >> b)); b++)
			len++;
	}
	p->len = len;
	return 0;
}

/* RFC 1918 and RFC 4193 (ULA) networks. */
int
prefix_private(const struct prefix *p)
{
	static const struct {
		int		 af;
		unsigned char	 addr[2];
		unsigned int	 len;
	} priv[] = {
		{ AF_INET, { 10, 0 }, 8 },
		{ AF_INET, { 172, 16 }, 12 },
		{ AF_INET, { 192, 168 }, 16 },
		{ AF_INET6, { 0xfc, 0 }, 7 },
	};
	struct prefix q;
	size_t i;

	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
		memset(&q, 0, sizeof(q));
		q.af = priv[i].af;
		memcpy(q.addr, priv[i].addr, sizeof(priv[i].addr));
		q.len = priv[i].len;
		if (prefix_contains(&q, p))
			return 1;
	}
	return 0;
}

/* See prefix.h: a public IPv4 address marks its interface a public leg. */
int
prefix_public_leg(const struct sockaddr *sa)
{
	struct prefix p, ll;

	if (sa->sa_family != AF_INET ||
	    prefix_from_sockaddr(sa, NULL, &p) == -1 || prefix_private(&p))
		return 0;
	/* IPv4 link-local: a LAN without DHCP */
	memset(&ll, 0, sizeof(ll));
	ll.af = AF_INET;
	ll.addr[0] = 169;
	ll.addr[1] = 254;
	ll.len = 16;
	return !prefix_contains(&ll, &p);
}
