/* The dns-update block of agent.conf, at the top level or in a remote:
 *
 *	dns-update {
 *		server 192.0.2.53 port 53	# port optional
 *		zone sites.example.com
 *		key /etc/rnsplice/update.key	# as tsig-keygen writes it
 *		address 192.0.2.7		# where clients reach us
 *	}
 *
 * agentconf.c hands each statement of the block here and calls
 * dnsup_conf_check() at its "}"; nothing else of the block lives there. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "dnsupdate.h"

#define DC_SERVER	0x1
#define DC_ZONE		0x2
#define DC_KEY		0x4
#define DC_ADDRESS	0x8

/* Which keywords the block gave: private, so that callers comparing
 * configurations compare what they mean. */
struct dnsup_conf_priv {
	struct dnsup_conf c;
	unsigned int	 set;
};

int
dnsup_available(void)
{
#ifdef HAVE_LDNS
	return 1;
#else
	return 0;
#endif
}

static int
parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct addrinfo hints, *res;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(s, NULL, &hints, &res) != 0)
		return -1;
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		return -1;
	return 0;
}

int
dnsup_conf_statement(struct dnsup_conf **dcp, char **av, size_t ac,
    char **cause)
{
	struct dnsup_conf_priv *p;
	struct dnsup_conf *dc;
	const char *errstr;
	long long port = 53;
	size_t i;

	if (*dcp == NULL) {
		if ((p = calloc(1, sizeof(*p))) == NULL)
			return cause_set(cause, "out of memory");
		*dcp = &p->c;
	}
	dc = *dcp;
	p = (struct dnsup_conf_priv *)dc;
	if (strcmp(av[0], "server") == 0) {
		if (ac != 2 && (ac != 4 || strcmp(av[2], "port") != 0))
			return cause_set(cause, "usage: server ADDRESS "
			    "[port N]");
		if (p->set & DC_SERVER)
			return cause_set(cause, "dns-update: server given "
			    "twice");
		if (ac == 4) {
			port = strtonum(av[3], 1, 65535, &errstr);
			if (errstr != NULL)
				return cause_set(cause, "dns-update: port "
				    "\"%.16s\" is %s (1..65535)", av[3],
				    errstr);
		}
		if (strlen(av[1]) >= sizeof(dc->server) ||
		    parse_addr(av[1], (uint16_t)port, &dc->server_sa,
		    &dc->server_len) == -1)
			return cause_set(cause, "dns-update: server \"%.64s\" "
			    "is not an IPv4 or IPv6 address", av[1]);
		strlcpy(dc->server, av[1], sizeof(dc->server));
		dc->port = (unsigned int)port;
		p->set |= DC_SERVER;
	} else if (strcmp(av[0], "zone") == 0) {
		if (ac != 2)
			return cause_set(cause, "usage: zone NAME");
		if (p->set & DC_ZONE)
			return cause_set(cause, "dns-update: zone given twice");
		if (!dns_name_valid(av[1], DNSUP_ZONEMAX))
			return cause_set(cause, "dns-update: zone \"%.64s\" is "
			    "not a DNS name of at most %d bytes (letters, "
			    "digits, - and _, labels of 1-63)", av[1],
			    DNSUP_ZONEMAX);
		for (i = 0; av[1][i] != '\0'; i++)
			dc->zone[i] = (char)tolower((unsigned char)av[1][i]);
		if (dc->zone[i - 1] == '.')
			dc->zone[i - 1] = '\0';
		if (strcmp(dc->zone, "local") == 0 || (i > 6 &&
		    strcmp(dc->zone + strlen(dc->zone) - 6, ".local") == 0))
			return cause_set(cause, "dns-update: zone \"%s\" is "
			    "mDNS's own domain, not a DNS zone", dc->zone);
		p->set |= DC_ZONE;
	} else if (strcmp(av[0], "key") == 0) {
		if (ac != 2)
			return cause_set(cause, "usage: key FILE");
		if (p->set & DC_KEY)
			return cause_set(cause, "dns-update: key given twice");
		if (av[1][0] != '/')
			return cause_set(cause, "dns-update: key takes an "
			    "absolute path, not \"%.64s\"", av[1]);
		if ((dc->keyfile = strdup(av[1])) == NULL)
			return cause_set(cause, "out of memory");
		p->set |= DC_KEY;
	} else if (strcmp(av[0], "address") == 0) {
		if (ac != 2)
			return cause_set(cause, "usage: address ADDRESS");
		if (dc->naddr == DNSUP_ADDRMAX)
			return cause_set(cause, "dns-update: more than %d "
			    "addresses", DNSUP_ADDRMAX);
		if (parse_addr(av[1], 0, &dc->addr[dc->naddr],
		    &dc->addrlen[dc->naddr]) == -1)
			return cause_set(cause, "dns-update: address \"%.64s\" "
			    "is not an IPv4 or IPv6 address", av[1]);
		if (dc->addr[dc->naddr].ss_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)
		    &dc->addr[dc->naddr])->sin6_addr))
			return cause_set(cause, "dns-update: address %s is "
			    "link-local: clients beyond the link could not "
			    "use it", av[1]);
		dc->naddr++;
		p->set |= DC_ADDRESS;
	} else
		return cause_set(cause, "unknown keyword \"%.64s\" in "
		    "dns-update (expected server, zone, key, address)", av[0]);
	return 0;
}

int
dnsup_conf_check(struct dnsup_conf *dc, char **cause)
{
	struct dnsup_conf_priv *p = (struct dnsup_conf_priv *)dc;
	static const struct {
		unsigned int	 bit;
		const char	*usage;
	} need[] = {
		{ DC_SERVER, "server ADDRESS [port N]" },
		{ DC_ZONE, "zone NAME" },
		{ DC_KEY, "key FILE" },
		{ DC_ADDRESS, "address ADDRESS" },
	};
	size_t i;

	if (dc == NULL)
		return cause_set(cause, "dns-update block is empty (expected "
		    "server, zone, key, address)");
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(p->set & need[i].bit))
			return cause_set(cause, "dns-update block lacks %s",
			    need[i].usage);
	return tsigkey_load(dc->keyfile, &dc->key, cause);
}

struct dnsup_conf *
dnsup_conf_dup(const struct dnsup_conf *dc)
{
	struct dnsup_conf_priv *p;

	if ((p = malloc(sizeof(*p))) == NULL)
		return NULL;
	memcpy(p, dc, sizeof(*p));
	if ((p->c.keyfile = strdup(dc->keyfile)) == NULL) {
		free(p);
		return NULL;
	}
	return &p->c;
}

void
dnsup_conf_free(struct dnsup_conf *dc)
{
	if (dc == NULL)
		return;
	free(dc->keyfile);
	explicit_bzero(&dc->key, sizeof(dc->key));
	free(dc);
}

int
dnsup_conf_eq(const struct dnsup_conf *a, const struct dnsup_conf *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return a == b;
	if (strcmp(a->server, b->server) != 0 || a->port != b->port ||
	    strcmp(a->zone, b->zone) != 0 ||
	    strcmp(a->keyfile, b->keyfile) != 0 ||
	    memcmp(&a->key, &b->key, sizeof(a->key)) != 0 ||
	    a->naddr != b->naddr)
		return 0;
	for (i = 0; i < a->naddr; i++)
		if (a->addrlen[i] != b->addrlen[i] ||
		    memcmp(&a->addr[i], &b->addr[i], a->addrlen[i]) != 0)
			return 0;
	return 1;
}

/* RFC 1035: 63 bytes a label, 255 a name in wire form; RFC 6763 6.2: a
 * DNS-SD TXT record of at most 8900 bytes. */
int
dnsup_check_limits(const char *zone, const char *name, const char *type,
    size_t txtwire, char *why, size_t whylen)
{
	size_t wire;

	if (strlen(name) > 63) {
		snprintf(why, whylen, "instance name of %zu bytes: DNS labels "
		    "hold at most 63", strlen(name));
		return -1;
	}
	/* label lengths: the instance, two of the type, the zone's */
	wire = 1 + strlen(name) + 1 + strlen(type) + 1 + strlen(zone) + 1;
	if (wire > 255) {
		snprintf(why, whylen, "a name of %zu bytes in DNS wire form, "
		    "more than the 255 a name may have (%s.%s.%s)", wire,
		    name, type, zone);
		return -1;
	}
	if (txtwire > DNSSD_MAXTXT) {
		snprintf(why, whylen, "TXT record of %zu bytes, more than the "
		    "%d a DNS-SD TXT record may have", txtwire, DNSSD_MAXTXT);
		return -1;
	}
	return 0;
}
