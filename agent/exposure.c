/* Exposure: which addresses a spliced service listens on, and which
 * clients it accepts when there is no allow-list.
 *
 * A snapshot of the interfaces (getifaddrs), taken at start and after
 * every burst of rtnetlink messages, says which addresses and on-link
 * prefixes exist. The LAN interfaces are those avahi-daemon publishes on:
 * up, multicast, not loopback, not point-to-point (unless avahi allows
 * it), and within avahi-daemon.conf's allow-interfaces/deny-interfaces.
 * Scope lan uses those of them that are on a LAN network (lan-networks,
 * or by default the private networks present when the agent started);
 * when there is none, the service falls back to host scope. A public leg
 * (an interface with a public IPv4 address, common/prefix.h) is on a LAN
 * network only if lan-networks names it; the subsystem's exports follow
 * the same rule. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <ifaddrs.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "json.h"
#include "log.h"

#define AVAHI_CONF_MAXSIZE	(256 * 1024)

/* --- prefixes --------------------------------------------------------- */

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

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6;

	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr)
		    >> 24) == 127;
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)sa;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return 1;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    sin6->sin6_addr.s6_addr[12] == 127;
}

void
exp_format_addr(const struct sockaddr *sa, char *out, size_t outlen)
{
	char a[INET6_ADDRSTRLEN];
	const struct sockaddr_in6 *sin6;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    a, sizeof(a));
		snprintf(out, outlen, "%s", a);
	} else if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			inet_ntop(AF_INET, sin6->sin6_addr.s6_addr + 12, a,
			    sizeof(a));
		else
			inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(out, outlen, "%s", a);
	} else
		strlcpy(out, "?", outlen);
}

/* --- lan-networks ----------------------------------------------------- */

int
lannet_parse(const char *s, struct lannet *ln, char **cause)
{
	char *why = NULL;
	size_t i;

	memset(ln, 0, sizeof(*ln));
	if (strcmp(s, "any") == 0) {
		ln->any = 1;
		return 0;
	}
	if (strchr(s, '.') != NULL || strchr(s, ':') != NULL ||
	    strchr(s, '/') != NULL) {
		if (prefix_parse(s, &ln->p, &why) == -1) {
			cause_set(cause, "lan-networks: %s", why);
			free(why);
			return -1;
		}
		return 0;
	}
	if (*s == '\0' || strlen(s) >= IF_NAMESIZE)
		return cause_set(cause, "lan-networks: \"%.32s\" is neither "
		    "an address prefix nor an interface name", s);
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_-@", s[i]) ==
		    NULL)
			return cause_set(cause, "lan-networks: \"%.32s\" is "
			    "neither an address prefix nor an interface name",
			    s);
	strlcpy(ln->ifname, s, sizeof(ln->ifname));
	return 0;
}

int
lannet_format(const struct lannet *ln, char *out, size_t outlen)
{
	if (ln->any)
		return strlcpy(out, "any", outlen) >= outlen ? -1 : 0;
	if (ln->ifname[0] != '\0')
		return strlcpy(out, ln->ifname, outlen) >= outlen ? -1 : 0;
	return prefix_format(&ln->p, out, outlen);
}

/* --- avahi-daemon.conf's interface filter ----------------------------- */

void
avahi_ifs_free(struct avahi_ifs *f)
{
	size_t i;

	for (i = 0; i < f->nallow; i++)
		free(f->allow[i]);
	for (i = 0; i < f->ndeny; i++)
		free(f->deny[i]);
	free(f->allow);
	free(f->deny);
	memset(f, 0, sizeof(*f));
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static void
csv_add(char ***v, size_t *n, char *list)
{
	char *item;

	while ((item = strsep(&list, ",")) != NULL) {
		item = trim(item);
		if (*item == '\0')
			continue;
		*v = xreallocarray(*v, *n + 1, sizeof(**v));
		(*v)[(*n)++] = xstrdup(item);
	}
}

int
avahi_ifs_parse(const char *text, size_t len, struct avahi_ifs *f,
    char **cause)
{
	char *copy, *p, *line, *eq, *key, *val;
	int server = 0;

	memset(f, 0, sizeof(*f));
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	p = copy;
	while ((line = strsep(&p, "\n")) != NULL) {
		line = trim(line);
		if (*line == '\0' || *line == '#' || *line == ';')
			continue;
		if (*line == '[') {
			server = strcmp(line, "[server]") == 0;
			continue;
		}
		if (!server || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (strcmp(key, "allow-interfaces") == 0)
			csv_add(&f->allow, &f->nallow, val);
		else if (strcmp(key, "deny-interfaces") == 0)
			csv_add(&f->deny, &f->ndeny, val);
		else if (strcmp(key, "allow-point-to-point") == 0)
			f->p2p = strcmp(val, "yes") == 0;
	}
	free(copy);
	return 0;
}

/* Does avahi-daemon publish on this interface (a LAN interface)? The
 * loopback is not a LAN interface: it is handled apart. */
int
avahi_ifs_uses(const struct avahi_ifs *f, const char *ifname,
    unsigned int flags)
{
	size_t i;

	if (!(flags & IFF_UP) || !(flags & IFF_MULTICAST) ||
	    (flags & IFF_LOOPBACK))
		return 0;
	if ((flags & IFF_POINTOPOINT) && !f->p2p)
		return 0;
	if (f->nallow > 0) {
		for (i = 0; i < f->nallow; i++)
			if (strcmp(f->allow[i], ifname) == 0)
				break;
		if (i == f->nallow)
			return 0;
	}
	for (i = 0; i < f->ndeny; i++)
		if (strcmp(f->deny[i], ifname) == 0)
			return 0;
	return 1;
}

/* --- the selection rule ----------------------------------------------- */

/* The first address of interface ifname that makes it a public leg
 * (prefix_public_leg(): a public IPv4 address), or NULL. */
static const struct exp_addr *
public_leg(const struct exp_addr *a, size_t n, const char *ifname)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(a[i].ifname, ifname) == 0 &&
		    prefix_public_leg((const struct sockaddr *)&a[i].sa))
			return &a[i];
	return NULL;
}

/*
 * Is interface ifname (a LAN interface) on one of the networks? By its
 * name, by "any", or by the on-link network of one of its addresses. A
 * public leg (prefix_public_leg()) is on a prefix only through one of its
 * public addresses: a private network it carries too (a provider's
 * internal one) does not bring in the public link, nor its link-local
 * address.
 */
int
exp_iface_on(const struct exp_addr *a, size_t n, const char *ifname,
    const struct lannet *nets, size_t nnets)
{
	size_t i, k;
	int pub;

	for (k = 0; k < nnets; k++)
		if (nets[k].any || strcmp(nets[k].ifname, ifname) == 0)
			return 1;
	pub = public_leg(a, n, ifname) != NULL;
	for (i = 0; i < n; i++) {
		if (strcmp(a[i].ifname, ifname) != 0)
			continue;
		if (pub && !prefix_public_leg((const struct sockaddr *)
		    &a[i].sa))
			continue;
		for (k = 0; k < nnets; k++)
			if (nets[k].ifname[0] == '\0' && !nets[k].any &&
			    prefix_contains(&nets[k].p, &a[i].net))
				return 1;
	}
	return 0;
}

/* The default LAN networks: the private (RFC 1918, ULA) on-link networks
 * of the LAN interfaces that are no public leg. Returns how many were
 * stored (at most max). */
size_t
exp_learn(const struct exp_addr *a, size_t n, struct lannet *out,
    size_t max)
{
	size_t i, k, m = 0;

	for (i = 0; i < n && m < max; i++) {
		if (!a[i].lan || !prefix_private(&a[i].net) ||
		    public_leg(a, n, a[i].ifname) != NULL)
			continue;
		for (k = 0; k < m; k++)
			if (memcmp(&out[k].p, &a[i].net, sizeof(a[i].net)) == 0)
				break;
		if (k < m)
			continue;
		memset(&out[m], 0, sizeof(out[m]));
		out[m++].p = a[i].net;
	}
	return m;
}

static void
lan_nets(const struct exposure *x, const struct remote_conf *rc,
    const struct lannet **nets, size_t *nnets)
{
	if (rc->nlannets > 0) {
		*nets = rc->lannets;
		*nnets = rc->nlannets;
	} else {
		*nets = x->learned;
		*nnets = x->nlearned;
	}
}

/* Is address i one that a splice of rc listens on (loopback apart)? */
static int
addr_in_scope(const struct exposure *x, const struct remote_conf *rc,
    size_t i)
{
	const struct lannet *nets;
	size_t nnets;

	switch (rc->scope) {
	case SCOPE_HOST:
		return 0;
	case SCOPE_IFACE:
		return strcmp(x->addrs[i].ifname, rc->ifname) == 0;
	case SCOPE_LAN:
		if (!x->addrs[i].lan)
			return 0;
		lan_nets(x, rc, &nets, &nnets);
		return exp_iface_on(x->addrs, x->naddrs, x->addrs[i].ifname,
		    nets, nnets);
	}
	return 0;
}

static void
plan_add(struct exp_plan *pl, const struct sockaddr_storage *ss,
    socklen_t len)
{
	if (pl->nbind == AGENT_LISTEN_MAX) {
		pl->truncated = 1;
		return;
	}
	memcpy(&pl->bind[pl->nbind], ss, len);
	pl->bindlen[pl->nbind++] = len;
}

static void
plan_host(struct exp_plan *pl)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&pl->bind[0];

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	pl->bindlen[0] = sizeof(*sin);
	pl->nbind = 1;
	pl->pub = SCOPE_HOST;
}

void
exp_plan(const struct exposure *x, const struct remote_conf *rc,
    struct exp_plan *pl)
{
	unsigned int ifs[AGENT_LISTEN_MAX];
	size_t i, k, nifs = 0;
	int all = 1;

	memset(pl, 0, sizeof(*pl));
	if (rc->scope == SCOPE_HOST) {
		plan_host(pl);
		return;
	}
	for (i = 0; i < x->naddrs; i++) {
		if (!addr_in_scope(x, rc, i))
			continue;
		plan_add(pl, &x->addrs[i].sa, x->addrs[i].salen);
		for (k = 0; k < nifs; k++)
			if (ifs[k] == x->addrs[i].ifindex)
				break;
		if (k == nifs && nifs < AGENT_LISTEN_MAX)
			ifs[nifs++] = x->addrs[i].ifindex;
	}
	pl->nifs = nifs;
	if (rc->scope == SCOPE_IFACE) {
		pl->pub = SCOPE_IFACE;
		if ((pl->pubifs[0] = if_nametoindex(rc->ifname)) != 0)
			pl->npubifs = 1;
		return;
	}
	if (pl->nbind == 0) {
		/* on none of the LAN networks: this host only */
		plan_host(pl);
		pl->fallback = 1;
		return;
	}
	/* the loopback too: the host is always within the LAN */
	for (i = 0; i < x->naddrs; i++)
		if (x->addrs[i].flags & IFF_LOOPBACK)
			plan_add(pl, &x->addrs[i].sa, x->addrs[i].salen);
	/* Publish on every interface avahi uses if they are all ours, else
	 * on each of ours: never announce on a LAN we do not listen on. */
	for (i = 0; i < x->naddrs; i++) {
		if (!x->addrs[i].lan)
			continue;
		for (k = 0; k < nifs; k++)
			if (ifs[k] == x->addrs[i].ifindex)
				break;
		if (k == nifs)
			all = 0;
	}
	if (all) {
		pl->pub = SCOPE_LAN;
		return;
	}
	pl->pub = SCOPE_IFACE;
	for (k = 0; k < nifs && k < AGENT_PUB_IFS; k++)
		pl->pubifs[pl->npubifs++] = ifs[k];
}

/* 1 if a client at sa may connect to a service of rc without an
 * allow-list: the loopback, or an on-link address of an interface the
 * service listens on (a link-local one on that very link). */
int
exp_peer_ok(const struct exposure *x, const struct remote_conf *rc,
    const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6;
	size_t i;

	if (is_loopback(sa))
		return 1;
	if (rc->scope == SCOPE_HOST)
		return 0;
	for (i = 0; i < x->naddrs; i++) {
		if (!addr_in_scope(x, rc, i) ||
		    !prefix_match(&x->addrs[i].net, sa))
			continue;
		if (sa->sa_family == AF_INET6 && x->addrs[i].net.af ==
		    AF_INET6) {
			sin6 = (const struct sockaddr_in6 *)sa;
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) &&
			    sin6->sin6_scope_id != x->addrs[i].ifindex)
				continue;
		}
		return 1;
	}
	return 0;
}

/* "eth0 10.1.0.0/24 fe80::/64, wlan0 ..." or "none" */
void
exp_describe(const struct exposure *x, const struct remote_conf *rc,
    char *out, size_t outlen)
{
	char pfx[INET6_ADDRSTRLEN + 8];
	const char *last = NULL;
	size_t i;

	out[0] = '\0';
	for (i = 0; i < x->naddrs; i++) {
		if (!addr_in_scope(x, rc, i))
			continue;
		if (last == NULL || strcmp(last, x->addrs[i].ifname) != 0) {
			if (last != NULL)
				strlcat(out, ", ", outlen);
			strlcat(out, x->addrs[i].ifname, outlen);
			last = x->addrs[i].ifname;
		}
		if (prefix_format(&x->addrs[i].net, pfx, sizeof(pfx)) == 0) {
			strlcat(out, " ", outlen);
			strlcat(out, pfx, outlen);
		}
	}
	if (out[0] == '\0')
		strlcpy(out, "none", outlen);
}

/* What rnsplice status says about where rc's services are exposed. */
static void
lannets_text(const struct exposure *x, const struct remote_conf *rc,
    char *out, size_t outlen)
{
	const struct lannet *nets;
	char item[INET6_ADDRSTRLEN + 8];
	size_t nnets, i;

	lan_nets(x, rc, &nets, &nnets);
	out[0] = '\0';
	for (i = 0; i < nnets; i++)
		if (lannet_format(&nets[i], item, sizeof(item)) == 0) {
			if (out[0] != '\0')
				strlcat(out, " ", outlen);
			strlcat(out, item, outlen);
		}
	if (out[0] == '\0')
		strlcpy(out, "none yet", outlen);
}

void
exp_status(const struct exposure *x, const struct remote_conf *rc,
    struct buf *b, int json)
{
	struct exp_plan pl;
	char on[512], nets[512];

	exp_plan(x, rc, &pl);
	exp_describe(x, rc, on, sizeof(on));
	lannets_text(x, rc, nets, sizeof(nets));
	if (json) {
		buf_putf(b, "{\"scope\":\"%s\",\"published\":\"%s\","
		    "\"fallback\":%s,\"on\":", conf_scope_name(rc->scope),
		    conf_scope_name(pl.pub), pl.fallback ? "true" : "false");
		json_str(b, rc->scope == SCOPE_HOST || pl.fallback ? NULL : on);
		buf_putf(b, ",\"lan_networks\":");
		json_str(b, rc->scope == SCOPE_LAN ? nets : NULL);
		buf_putf(b, ",\"lan_networks_default\":%s,\"clients\":\"%s\"}",
		    rc->nlannets == 0 ? "true" : "false", rc->nallow > 0 ?
		    "allow-list" : "on-link");
		return;
	}
	buf_putf(b, "  exposure: ");
	if (rc->scope == SCOPE_HOST)
		buf_putf(b, "scope host (127.0.0.1)");
	else if (pl.fallback)
		buf_putf(b, "scope lan, but on none of the LAN networks "
		    "(%s%s): host scope only (127.0.0.1)", nets,
		    rc->nlannets == 0 ? ", found at start" : "");
	else
		buf_putf(b, "scope %s on %s%s", conf_scope_name(rc->scope), on,
		    rc->scope == SCOPE_LAN ? " and the loopback" : "");
	buf_putf(b, "; clients: %s\n", rc->nallow > 0 ? "the allow-list" :
	    "on-link only");
}

/* --- the snapshot ----------------------------------------------------- */

static int
read_avahi_conf(const char *path, struct avahi_ifs *f)
{
	struct stat sb;
	char *text, *cause = NULL;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	memset(f, 0, sizeof(*f));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		/* no file: avahi's defaults */
		return errno == ENOENT ? 0 : -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > AVAHI_CONF_MAXSIZE) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	text = xmalloc((size_t)sb.st_size + 1);
	while (len < (size_t)sb.st_size) {
		n = read(fd, text + len, (size_t)sb.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	ret = avahi_ifs_parse(text, len, f, &cause);
	free(cause);
	free(text);
	return ret;
}

static int
addr_cmp(const void *va, const void *vb)
{
	const struct exp_addr *a = va, *b = vb;
	int c;

	if ((c = strcmp(a->ifname, b->ifname)) != 0)
		return c;
	if (a->salen != b->salen)
		return a->salen < b->salen ? -1 : 1;
	return memcmp(&a->sa, &b->sa, a->salen);
}

struct exposure *
exposure_new(const char *avahi_conf)
{
	struct exposure *x;

	x = xcalloc(1, sizeof(*x));
	x->avahi_conf = xstrdup(avahi_conf);
	return x;
}

void
exposure_free(struct exposure *x)
{
	if (x == NULL)
		return;
	free(x->addrs);
	avahi_ifs_free(&x->avahi);
	free(x->avahi_conf);
	free(x);
}

static void
log_learned(const struct exposure *x)
{
	char line[512], pfx[INET6_ADDRSTRLEN + 8];
	size_t i;

	line[0] = '\0';
	for (i = 0; i < x->nlearned; i++) {
		if (lannet_format(&x->learned[i], pfx, sizeof(pfx)) == -1)
			continue;
		if (i > 0)
			strlcat(line, " ", sizeof(line));
		strlcat(line, pfx, sizeof(line));
	}
	log_info("LAN networks (no lan-networks set: the private networks "
	    "present at start): %s", line);
}

/* Say which LAN interfaces became public legs since the last snapshot
 * (once per change, not per connection or per service). */
static void
log_public_legs(const struct exposure *x, const struct exp_addr *v,
    size_t n)
{
	const struct exp_addr *pub;
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < n; i++) {
		if (!v[i].lan || (i > 0 && strcmp(v[i - 1].ifname,
		    v[i].ifname) == 0))
			continue;	/* sorted: once per interface */
		if ((pub = public_leg(v, n, v[i].ifname)) == NULL ||
		    public_leg(x->addrs, x->naddrs, v[i].ifname) != NULL)
			continue;
		exp_format_addr((const struct sockaddr *)&pub->sa, addr,
		    sizeof(addr));
		log_info("interface %s is a public leg (public address %s): "
		    "scope lan leaves out all its addresses, its IPv6 "
		    "link-local one included, unless lan-networks names it "
		    "(by name, by a prefix holding its public address, or "
		    "any)", v[i].ifname, addr);
	}
}

int
exposure_refresh(struct exposure *x)
{
	struct ifaddrs *ifa, *i;
	struct exp_addr *v = NULL, *e;
	struct avahi_ifs f;
	size_t n = 0;
	int changed;

	if (read_avahi_conf(x->avahi_conf, &f) == -1) {
		log_warn("%s (avahi-daemon's interfaces): keeping the previous "
		    "view", x->avahi_conf);
		f = x->avahi;
		memset(&x->avahi, 0, sizeof(x->avahi));
	}
	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs: keeping the previous view of the "
		    "interfaces");
		avahi_ifs_free(&x->avahi);
		x->avahi = f;
		return 0;
	}
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6) ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		strlcpy(e->ifname, i->ifa_name, sizeof(e->ifname));
		e->ifindex = if_nametoindex(i->ifa_name);
		e->flags = i->ifa_flags;
		e->salen = i->ifa_addr->sa_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(&e->sa, i->ifa_addr, e->salen);
		prefix_from_sockaddr(i->ifa_addr, i->ifa_netmask, &e->net);
		e->lan = avahi_ifs_uses(&f, e->ifname, e->flags);
	}
	freeifaddrs(ifa);
	if (n > 1)
		qsort(v, n, sizeof(*v), addr_cmp);
	changed = n != x->naddrs || (n > 0 && memcmp(v, x->addrs,
	    n * sizeof(*v)) != 0);
	if (changed)
		log_public_legs(x, v, n);
	free(x->addrs);
	x->addrs = v;
	x->naddrs = n;
	avahi_ifs_free(&x->avahi);
	x->avahi = f;
	if (x->learn && !x->learned_set && (x->nlearned = exp_learn(x->addrs, x->naddrs,
	    x->learned, EXP_LEARN_MAX)) > 0) {
		x->learned_set = 1;
		log_learned(x);
	}
	if (changed)
		x->gen++;
	return changed;
}
