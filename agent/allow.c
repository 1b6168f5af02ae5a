/* Address prefixes for allow-lists: "10.2.0.0/24", "fd00::/8", or a
 * single address. An accepted connection's peer is checked against the
 * remote's list; IPv4-mapped IPv6 peers (dual-stack listeners) compare as
 * IPv4. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int
prefix_parse(const char *s, struct prefix *p, char **cause)
{
	char tmp[INET6_ADDRSTRLEN + 8], *slash, canon[INET6_ADDRSTRLEN];
	const char *errstr;
	unsigned int max, i;
	long long len;

	memset(p, 0, sizeof(*p));
	if (strlcpy(tmp, s, sizeof(tmp)) >= sizeof(tmp)) {
		return cause_set(cause, "\"%.64s\": not an address prefix", s);
	}
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, tmp, p->addr) == 1) {
		p->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, p->addr) == 1) {
		p->af = AF_INET6;
		max = 128;
	} else {
		return cause_set(cause, "\"%s\": not an address prefix "
		    "(expected e.g. 10.2.0.0/24 or fd00::/8)", s);
	}
	p->len = max;
	if (slash != NULL) {
		len = strtonum(slash, 0, max, &errstr);
		if (errstr != NULL) {
			return cause_set(cause, "\"%s\": prefix length is %s "
			    "(0..%u)", s, errstr, max);
		}
		p->len = (unsigned int)len;
	}
	for (i = p->len; i < max; i++)
		if (p->addr[i / 8] & (0x80 >> (i % 8))) {
			struct prefix c = *p;
			unsigned int k;

			for (k = c.len; k < max; k++)
				c.addr[k / 8] &= ~(0x80 >> (k % 8));
			inet_ntop(c.af, c.addr, canon, sizeof(canon));
			return cause_set(cause, "\"%s\": host bits set (did "
			    "you mean %s/%u?)", s, canon, c.len);
		}
	return 0;
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
allow_check(const struct prefix *list, size_t n, const struct sockaddr *sa)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (prefix_match(&list[i], sa))
			return 1;
	return 0;
}
