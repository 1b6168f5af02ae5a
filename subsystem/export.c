/* Export (PROTOCOL.md section 8): services an agent offers from its own
 * LAN, published on this server's LAN.
 *
 * Per EXPORT: the checks (syntax, policy, loop, one copy per LAN, limits),
 * then TCP listeners on this host's LAN addresses (or 127.0.0.1 for an
 * "interface lo" rule), a socket path in a private directory, EXPORTING.
 * On FORWARDING (sshd now listens on that path, carrying connections to
 * the agent) the service is published through the common publisher on
 * the interfaces of those listeners only (host scope for lo); each
 * accepted connection is connected to the path and copied both ways by
 * relay.c's copier. Everything goes with the session: the publisher's
 * avahi connection (goodbye packets), the listeners, the directory.
 *
 * An interface that becomes a public leg (prefix_public_leg()) while
 * exports listen there by the LAN rule loses their listeners and
 * publications there as soon as netwatch.c tells of a change.
 *
 * Memory is bounded by max-exports, EXPORT_MAXLISTEN listeners each and
 * EXPORT_MAXCONN connections per session (two RELAY_BUFSZ buffers each). */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <ifaddrs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <dirent.h>

#include "buf.h"
#include "escape.h"
#include "event.h"
#include "log.h"
#include "meta.h"
#include "netwatch.h"
#include "prefix.h"
#include "proto.h"
#include "publish.h"
#include "subsystem.h"
#include "xmalloc.h"

#define EXPORT_MAXLISTEN	16	/* addresses per export */
#define EXPORT_MAXCONN		256	/* connections per session */
#define EXPORT_FLOOD_FACTOR	4	/* EXPORT lines per minute, times
					 * max-exports */
#define EXPORT_FLOOD_MS		60000
#define EXPORT_PORT_TRIES	8
#define EXPORT_MAXPUBLEG	8	/* public legs told of, per session */

struct xlisten {
	int			 fd;
	int			 ifindex;	/* of its address; 0 for lo */
	struct ev_io		*io;
	struct export		*x;
};

struct export {
	TAILQ_ENTRY(export)	 link;
	struct exports		*xs;
	uint32_t		 id;
	struct svc		 svc;		/* name type domain, txt sent */
	struct txt		 pubtxt;	/* with this site in the path */
	struct splice_meta	 meta;		/* as the agent sent it */
	char			 origin_name[64];
	size_t			 rule;		/* index in pol->xrules */
	uint16_t		 port;
	struct xlisten		 ls[EXPORT_MAXLISTEN];
	size_t			 nls;
	int			 host;		/* "interface lo" */
	char			 path[PROTO_MAXPATH + 1];
	int			 forwarding;
	struct pub_entry	*pub[EXPORT_MAXLISTEN];	/* one per interface
							 * listened on */
	int			 pubif[EXPORT_MAXLISTEN];	/* its ifindex */
	size_t			 npub;
};

struct xconn {
	TAILQ_ENTRY(xconn)	 link;
	struct exports		*xs;
	struct relay		*r;
	int			 fd;
	uint32_t		 id;
};

struct exports {
	struct ev_loop		*loop;
	const struct policy	*pol;
	const char		*siteid;
	char			 peer[SITEID_MAX + 1];
	unsigned int		 maxhops;
	export_send_fn		 send;
	void			*arg;

	TAILQ_HEAD(, export)	 list;
	size_t			 n;
	unsigned int		*per_rule;	/* live exports per rule */
	TAILQ_HEAD(, xconn)	 conns;
	size_t			 nconns;

	struct publisher	*pub;
	char			 dir[PATH_MAX];	/* "" until the first export */

	uint64_t		 win_start;	/* flood window */
	unsigned int		 win_count;
	int			 told_flood, told_max, told_conns;
	char			 publeg[EXPORT_MAXPUBLEG][IF_NAMESIZE];
	size_t			 npubleg;
	struct netwatch		*netwatch;	/* once one listens by LAN */
	struct log_limit	 refuse_log;
};

#define REFUSALS	"export refusals"

/* ------------------------------------------------------------------------
 * Messages to the agent. */

static void
dropped(struct exports *xs, uint32_t id, const char *code, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
dropped(struct exports *xs, uint32_t id, const char *code, const char *fmt,
    ...)
{
	char text[512];
	struct msg m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_scrub(text);
	if (log_limit(&xs->refuse_log, ev_now_ms(), NULL, REFUSALS))
		log_warnx("export %u from %s: %s: %s", id, xs->peer, code,
		    text);
	memset(&m, 0, sizeof(m));
	m.type = MSG_DROPPED;
	m.id = id;
	m.code = (char *)code;
	m.text = text;
	xs->send(xs->arg, &m);
}

/* ------------------------------------------------------------------------
 * Listeners. */

static void	accept_cb(int, short, void *);

static void
close_listeners(struct export *x)
{
	while (x->nls > 0) {
		x->nls--;
		ev_io_del(x->ls[x->nls].io);
		close(x->ls[x->nls].fd);
	}
}

/* Close listener k: the last one takes its place, its event re-armed
 * with its new address. */
static void
close_listener(struct export *x, size_t k)
{
	ev_io_del(x->ls[k].io);
	close(x->ls[k].fd);
	if (k == --x->nls)
		return;
	x->ls[k] = x->ls[x->nls];
	ev_io_del(x->ls[k].io);
	if ((x->ls[k].io = ev_io_add(x->xs->loop, x->ls[k].fd, POLLIN,
	    accept_cb, &x->ls[k])) == NULL)
		fatalx("out of memory");
}

static int
listen_one(const struct sockaddr *sa, socklen_t len, uint16_t port,
    uint16_t *bound)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, one = 1, e;

	memcpy(&ss, sa, len);
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/* the same port again right after a reconnect (TIME_WAIT) */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	*bound = ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* The first address of interface name that makes it a public leg
 * (prefix_public_leg(): a public IPv4 address), or NULL. */
static const struct sockaddr *
public_leg(const struct ifaddrs *list, const char *name)
{
	const struct ifaddrs *i;

	for (i = list; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL && strcmp(i->ifa_name, name) == 0 &&
		    prefix_public_leg(i->ifa_addr))
			return i->ifa_addr;
	return NULL;
}

/* Can a LAN be on interface i: multicast, not point-to-point, not the
 * loopback? */
static int
lan_iface(const struct ifaddrs *i)
{
	return (i->ifa_flags & (IFF_LOOPBACK | IFF_POINTOPOINT)) == 0 &&
	    (i->ifa_flags & IFF_MULTICAST) != 0;
}

/* Is this address of interface i one a rule without "interface" listens
 * on: a private network (RFC 1918, ULA) or IPv6 link-local, on a LAN
 * interface that is no public leg? A public address is never listened on
 * unless a rule names its interface, and neither is any other address of
 * an interface that has one -- a server's internet-facing leg, whose
 * link-local address every host of the provider's link can reach. */
static int
lan_address(const struct ifaddrs *list, const struct ifaddrs *i)
{
	const struct sockaddr_in6 *sin6;
	struct prefix p;

	if (!lan_iface(i) || public_leg(list, i->ifa_name) != NULL)
		return 0;
	if (i->ifa_addr->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)i->ifa_addr;
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			return 1;
	}
	if (prefix_from_sockaddr(i->ifa_addr, i->ifa_netmask, &p) == -1)
		return 0;
	return prefix_private(&p);
}

/* Say once per session that a public leg is left out, and why. */
static void
tell_public_leg(struct exports *xs, const char *name,
    const struct sockaddr *sa)
{
	char addr[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < xs->npubleg; i++)
		if (strcmp(xs->publeg[i], name) == 0)
			return;
	if (xs->npubleg < EXPORT_MAXPUBLEG)
		strlcpy(xs->publeg[xs->npubleg++], name, IF_NAMESIZE);
	if (getnameinfo(sa, sizeof(struct sockaddr_in), addr, sizeof(addr),
	    NULL, 0, NI_NUMERICHOST) != 0)
		strlcpy(addr, "?", sizeof(addr));
	log_info("exports: interface %s is a public leg (public address %s): "
	    "none of its addresses is listened on, its IPv6 link-local one "
	    "included, unless an accept rule names it with \"interface\"",
	    name, addr);
}

/* Add name to the list "a, b" unless it is there. */
static void
name_add(char *list, size_t len, const char *name)
{
	char copy[128], *p = copy, *item;

	strlcpy(copy, list, sizeof(copy));
	while ((item = strsep(&p, ",")) != NULL)
		if (strcmp(item + (*item == ' '), name) == 0)
			return;
	if (list[0] != '\0')
		strlcat(list, ", ", len);
	strlcat(list, name, len);
}

/* The addresses an accept rule names: 127.0.0.1 for "lo", an interface's,
 * or every LAN address of this host (lan_address()). */
static int
listen_addrs(struct exports *xs, const char *iface,
    struct sockaddr_storage *out, int *ifindex, size_t max, size_t *n,
    char **cause)
{
	struct ifaddrs *ifa, *i;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	const struct sockaddr *pub;
	char legs[128];
	size_t len;

	*n = 0;
	legs[0] = '\0';
	if (iface != NULL && strcmp(iface, "lo") == 0) {
		memset(out, 0, sizeof(*out));
		sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ifindex[0] = 0;
		*n = 1;
		return 0;
	}
	if (getifaddrs(&ifa) == -1)
		return cause_set(cause, "getifaddrs: %s", strerror(errno));
	for (i = ifa; i != NULL && *n < max; i = i->ifa_next) {
		if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6)
			continue;
		if (iface == NULL && lan_iface(i) &&
		    (pub = public_leg(ifa, i->ifa_name)) != NULL) {
			tell_public_leg(xs, i->ifa_name, pub);
			name_add(legs, sizeof(legs), i->ifa_name);
			continue;
		}
		if (iface != NULL ? strcmp(i->ifa_name, iface) != 0 :
		    !lan_address(ifa, i))
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			len = sizeof(struct sockaddr_in);
		else if (i->ifa_addr->sa_family == AF_INET6)
			len = sizeof(struct sockaddr_in6);
		else
			continue;
		if ((ifindex[*n] = (int)if_nametoindex(i->ifa_name)) == 0)
			continue;	/* gone meanwhile */
		memset(&out[*n], 0, sizeof(out[*n]));
		memcpy(&out[*n], i->ifa_addr, len);
		if (i->ifa_addr->sa_family == AF_INET6) {
			sin6 = (struct sockaddr_in6 *)&out[*n];
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
				sin6->sin6_scope_id = (uint32_t)ifindex[*n];
		}
		(*n)++;
	}
	freeifaddrs(ifa);
	if (*n == 0 && iface != NULL)
		return cause_set(cause, "interface %s has no address to "
		    "listen on", iface);
	if (*n == 0)
		return cause_set(cause, "this host has no address to listen "
		    "on (no private or link-local address on a LAN interface%s"
		    "%s; name one with \"interface\")",
		    legs[0] != '\0' ? "; public legs left out: " : "", legs);
	return 0;
}

/* Listen on every address on one port: the agent's wish if it is free
 * everywhere, else one the kernel picks for the first and the others
 * take. Addresses that cannot be bound (a tentative IPv6 address) are
 * left out; at least one must work. */
static int
open_listeners(struct export *x, const char *iface, uint16_t wish,
    char **cause)
{
	struct sockaddr_storage addrs[EXPORT_MAXLISTEN];
	int ifindex[EXPORT_MAXLISTEN];
	size_t naddrs, i, try;
	uint16_t port, bound;
	socklen_t len;
	int fd, err = 0;

	if (listen_addrs(x->xs, iface, addrs, ifindex, EXPORT_MAXLISTEN,
	    &naddrs, cause) == -1)
		return -1;
	for (try = 0; try < EXPORT_PORT_TRIES; try++) {
		port = try == 0 ? wish : 0;
		if (try == 0 && wish == 0)
			continue;
		for (i = 0; i < naddrs; i++) {
			len = addrs[i].ss_family == AF_INET ?
			    sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6);
			fd = listen_one((struct sockaddr *)&addrs[i], len,
			    port, &bound);
			if (fd == -1) {
				err = errno;
				if (errno == EADDRINUSE)
					break;
				continue;
			}
			port = bound;
			x->ls[x->nls].fd = fd;
			x->ls[x->nls].ifindex = ifindex[i];
			x->ls[x->nls].x = x;
			x->nls++;
		}
		if (i == naddrs && x->nls > 0) {
			x->port = port;
			break;
		}
		close_listeners(x);
	}
	if (x->nls == 0)
		return cause_set(cause, "cannot listen%s%s: %s",
		    iface != NULL ? " on " : "", iface != NULL ? iface : "",
		    strerror(err != 0 ? err : EADDRINUSE));
	for (i = 0; i < x->nls; i++)
		if ((x->ls[i].io = ev_io_add(x->xs->loop, x->ls[i].fd, POLLIN,
		    accept_cb, &x->ls[i])) == NULL)
			fatalx("out of memory");
	return 0;
}

/* ------------------------------------------------------------------------
 * Connections: TCP from the LAN <-> sshd's listener on the socket path. */

static void
conn_free(struct xconn *c)
{
	struct exports *xs = c->xs;

	TAILQ_REMOVE(&xs->conns, c, link);
	xs->nconns--;
	if (c->r != NULL)
		relay_free(c->r);	/* closes c->fd once it was started */
	else if (c->fd != -1)
		close(c->fd);
	free(c);
}

static void
conn_done(void *arg)
{
	struct xconn *c = arg;

	log_debug("export %u: connection ended", c->id);
	conn_free(c);
}

static void
conn_connected(void *arg, int fd, const char *err)
{
	struct xconn *c = arg;
	struct buf in, out;

	if (fd == -1) {
		/* sshd's forward is gone (or never came): the client sees
		 * the connection closed */
		if (log_limit(&c->xs->refuse_log, ev_now_ms(), NULL, REFUSALS))
			log_warnx("export %u: %s", c->id, err);
		conn_free(c);
		return;
	}
	buf_init(&in, RELAY_BUFSZ);
	buf_init(&out, RELAY_BUFSZ);
	if (relay_start(c->r, c->fd, c->fd, &in, 0, &out, conn_done,
	    c) == -1) {
		log_warn("export %u: relay", c->id);
		buf_free(&in);
		buf_free(&out);
		conn_free(c);
		return;
	}
	buf_free(&in);
	buf_free(&out);
	c->fd = -1;	/* the relay's now */
}

/*
 * May this client use the export? The rule's "from" prefixes if it has
 * any; else, as the agent's listeners without an allow-list, clients of
 * the LAN: a private network (RFC 1918, ULA), IPv6 link-local, or this
 * host (the loopback, for "interface lo").
 */
static int
client_allowed(const struct export_rule *rule, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6;
	struct prefix p;
	size_t i;

	if (rule != NULL && rule->nfrom > 0) {
		for (i = 0; i < rule->nfrom; i++)
			if (prefix_match(&rule->from[i], sa))
				return 1;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return 1;
	} else if (sa->sa_family == AF_INET &&
	    (ntohl(((const struct sockaddr_in *)(const void *)sa)->
	    sin_addr.s_addr) >> 24) == 127)
		return 1;
	if (prefix_from_sockaddr(sa, NULL, &p) == -1)
		return 0;
	return prefix_private(&p);
}

static void
accept_cb(int lfd, short revents, void *arg)
{
	struct xlisten *l = arg;
	struct export *x = l->x;
	struct exports *xs = x->xs;
	const struct export_rule *rule;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char addr[INET6_ADDRSTRLEN];
	struct xconn *c;
	int fd, one = 1;

	if ((fd = accept4(lfd, (struct sockaddr *)&ss, &sslen,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != ECONNABORTED && errno != EINTR)
			log_warn("export %u: accept", x->id);
		return;
	}
	rule = x->rule < xs->pol->nxrules ? &xs->pol->xrules[x->rule] : NULL;
	if (!client_allowed(rule, (struct sockaddr *)&ss)) {
		if (getnameinfo((struct sockaddr *)&ss, sslen, addr,
		    sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0)
			strlcpy(addr, "?", sizeof(addr));
		if (log_limit(&xs->refuse_log, ev_now_ms(), NULL, REFUSALS))
			log_warnx("export %u: client %s refused: %s", x->id,
			    addr, rule != NULL && rule->nfrom > 0 ?
			    "not in the accept rule's \"from\" prefixes" :
			    "not on a LAN (a private or link-local address; "
			    "\"from\" in the accept rule names others)");
		close(fd);
		return;
	}
	if (!x->forwarding) {
		/* sshd does not listen on the path yet */
		close(fd);
		return;
	}
	if (xs->nconns >= EXPORT_MAXCONN) {
		if (!xs->told_conns)
			log_warnx("exports of %s: %d connections at once, "
			    "closing new ones (logged once)", xs->peer,
			    EXPORT_MAXCONN);
		xs->told_conns = 1;
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = xcalloc(1, sizeof(*c));
	c->xs = xs;
	c->fd = fd;
	c->id = x->id;
	TAILQ_INSERT_TAIL(&xs->conns, c, link);
	xs->nconns++;
	log_debug("export %u: connection, to %s", x->id, x->path);
	if ((c->r = relay_connect_path(xs->loop, x->path, conn_connected,
	    c)) == NULL)
		fatalx("out of memory");
}

/* ------------------------------------------------------------------------
 * The private directory: mode 0700, made at the first export. */

static int
make_dir(struct exports *xs, char **cause)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	int n;

	if (xs->dir[0] != '\0')
		return 0;
	n = snprintf(xs->dir, sizeof(xs->dir), "%s/rnsplice-export.XXXXXX",
	    rt != NULL && rt[0] == '/' ? rt : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(xs->dir) || mkdtemp(xs->dir) ==
	    NULL) {
		cause_set(cause, "cannot make a directory for the sockets "
		    "(%s): %s", xs->dir, strerror(errno));
		xs->dir[0] = '\0';
		return -1;
	}
	log_debug("export directory %s", xs->dir);
	return 0;
}

/* The directory and the sockets in it: sshd may have made one after an
 * UNEXPORT (a forward that was on its way). */
static void
remove_dir(struct exports *xs)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;
	size_t len;

	if (xs->dir[0] == '\0')
		return;
	if ((d = opendir(xs->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			len = strlen(de->d_name);
			if (len < 6 || strcmp(de->d_name + len - 5,
			    ".sock") != 0)
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
			    xs->dir, de->d_name) >= sizeof(path))
				continue;
			if (unlink(path) == -1)
				log_warn("unlink %s", path);
		}
		closedir(d);
	}
	if (rmdir(xs->dir) == -1)
		log_warn("rmdir %s", xs->dir);
	xs->dir[0] = '\0';
}

/* ------------------------------------------------------------------------
 * Publication. */

static void	export_free(struct export *, int quiet);

/* "on IF" or "on lo (host only)": where entry e of x is published. */
static const char *
pub_where(const struct export *x, const struct pub_entry *e, char *buf,
    size_t len)
{
	char ifname[IF_NAMESIZE];
	size_t i;

	if (x->host)
		return "on lo (host only)";
	for (i = 0; i < x->npub; i++)
		if (x->pub[i] == e)
			break;
	if (i == x->npub)
		snprintf(buf, len, "on an interface");
	else if (if_indextoname((unsigned int)x->pubif[i], ifname) == NULL)
		snprintf(buf, len, "on interface #%d", x->pubif[i]);
	else
		snprintf(buf, len, "on %s", ifname);
	return buf;
}

static void
on_pub(struct publisher *p, struct pub_entry *e, int up, void *arg)
{
	struct exports *xs = arg;
	struct export *x;
	char where[IF_NAMESIZE + 32];

	if (e == NULL) {
		log_info("exports: avahi-daemon %s", up ? "up" : "down");
		return;
	}
	x = pub_entry_arg(e);
	switch (pub_entry_state(e)) {
	case PUB_ESTABLISHED:
		log_info("export %u from %s: \"%s\" %s published %s, port %u",
		    x->id, xs->peer, pub_entry_name(e), x->svc.type,
		    pub_where(x, e, where, sizeof(where)), x->port);
		break;
	case PUB_FAILED:
		dropped(xs, x->id, "unavailable", "\"%s\" %s: cannot "
		    "publish: %s", x->svc.name, x->svc.type,
		    pub_entry_error(e));
		export_free(x, 0);
		break;
	default:
		break;
	}
}

static void
unpublish(struct export *x)
{
	while (x->npub > 0)
		publisher_remove(x->pub[--x->npub]);
}

/* Publish where the listeners are, and nowhere else: host scope for
 * "interface lo", else one publication per interface that has a listener
 * (avahi may run on interfaces this host does not listen on for a LAN: a
 * public leg, an interface the rule does not name). */
static int
publish(struct export *x, char **cause)
{
	struct exports *xs = x->xs;
	struct pub_spec spec;
	size_t i, j;

	memset(&spec, 0, sizeof(spec));
	spec.name = x->svc.name;
	spec.type = x->svc.type;
	spec.domain = x->svc.domain;
	spec.port = x->port;
	spec.txt = &x->pubtxt;
	spec.scope = x->host ? PUB_SCOPE_HOST : PUB_SCOPE_IFACE;
	spec.ifindex = x->host ? 0 : x->ls[0].ifindex;
	if (pub_spec_check(&spec, cause) == -1)
		return -1;
	if (xs->pub == NULL)
		xs->pub = publisher_new(xs->loop, on_pub, xs);
	for (i = 0; i < x->nls; i++) {
		for (j = 0; j < x->npub; j++)
			if (x->pubif[j] == x->ls[i].ifindex)
				break;
		if (j < x->npub)
			continue;	/* another address of the same one */
		spec.ifindex = x->ls[i].ifindex;
		if ((x->pub[x->npub] = publisher_add(xs->pub, &spec,
		    x)) == NULL) {
			unpublish(x);
			return cause_set(cause, "cannot publish: %s",
			    strerror(errno));
		}
		x->pubif[x->npub++] = x->ls[i].ifindex;
		if (x->host)
			break;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Public legs that appear while exports listen (Linux: rtnetlink). */

/* Withdraw x's publication on interface ifindex. */
static void
unpublish_if(struct export *x, int ifindex)
{
	size_t j;

	for (j = 0; j < x->npub; j++)
		if (x->pubif[j] == ifindex) {
			publisher_remove(x->pub[j]);
			x->npub--;
			x->pub[j] = x->pub[x->npub];
			x->pubif[j] = x->pubif[x->npub];
			return;
		}
}

/* The exports listening by the LAN rule on an interface that is a public
 * leg now: their listeners there closed, their publication there
 * withdrawn; an export left without a listener is dropped. */
static void
recheck_public_legs(struct exports *xs)
{
	struct ifaddrs *ifa;
	struct export *x, *next;
	const struct sockaddr *pub;
	char name[IF_NAMESIZE];
	size_t i, k;
	int ifindex;

	if (getifaddrs(&ifa) == -1) {
		log_warn("exports: getifaddrs");
		return;
	}
	TAILQ_FOREACH_SAFE(x, &xs->list, link, next) {
		if (x->host || xs->pol->xrules[x->rule].iface != NULL)
			continue;
		i = 0;
		while (i < x->nls) {
			ifindex = x->ls[i].ifindex;
			if (if_indextoname((unsigned int)ifindex, name) == NULL ||
			    (pub = public_leg(ifa, name)) == NULL) {
				i++;
				continue;
			}
			tell_public_leg(xs, name, pub);
			log_info("export %u from %s: \"%s\" %s: interface %s is "
			    "a public leg now: its listeners there closed, its "
			    "publication there withdrawn", x->id, xs->peer,
			    x->svc.name, x->svc.type, name);
			unpublish_if(x, ifindex);
			for (k = x->nls; k > 0; k--)
				if (x->ls[k - 1].ifindex == ifindex)
					close_listener(x, k - 1);
			i = 0;		/* the array moved: again */
		}
		if (x->nls == 0) {
			dropped(xs, x->id, "unavailable", "\"%s\" %s: no LAN "
			    "address left to listen on (its interfaces became "
			    "public legs)", x->svc.name, x->svc.type);
			export_free(x, 0);
		}
	}
	freeifaddrs(ifa);
}

static void
on_network_change(void *arg)
{
	recheck_public_legs(arg);
}

/* Follow the interfaces' addresses (a public one makes a public leg) once
 * an export listens by the LAN rule. */
static void
watch_addresses(struct exports *xs)
{
	if (xs->netwatch == NULL &&
	    (xs->netwatch = netwatch_new(xs->loop, on_network_change,
	    xs)) == NULL)
		fatalx("out of memory");
}

/* ------------------------------------------------------------------------
 * Exports. */

static struct export *
find(struct exports *xs, uint32_t id)
{
	struct export *x;

	TAILQ_FOREACH(x, &xs->list, link)
		if (x->id == id)
			return x;
	return NULL;
}

/* Withdraw, close, unlink; connections in progress go on. */
static void
export_free(struct export *x, int quiet)
{
	struct exports *xs = x->xs;

	unpublish(x);
	close_listeners(x);
	if (x->path[0] != '\0' && unlink(x->path) == -1 && errno != ENOENT)
		log_warn("unlink %s", x->path);
	TAILQ_REMOVE(&xs->list, x, link);
	xs->n--;
	xs->per_rule[x->rule]--;
	if (!quiet)
		log_info("export %u from %s: \"%s\" %s withdrawn", x->id,
		    xs->peer, x->svc.name, x->svc.type);
	svc_free(&x->svc);
	txt_free(&x->pubtxt);
	free(x);
}

/* A control character (C0, DEL, C1, bidi controls) in a name to publish
 * and to show in logs. */
static int
name_unsafe(const char *s)
{
	char vis[256];

	log_vis(vis, sizeof(vis), s);
	return strcmp(vis, s) != 0;
}

/* The origin service's name (PROTOCOL.md section 7). */
static const char *
origin_name(const struct splice_meta *m, const char *name)
{
	return m->name[0] != '\0' ? m->name : name;
}

/* A copy of the same origin service on this LAN with fewer hops than
 * hops, in the session's browse table; its name, or NULL. */
struct better_arg {
	const struct export	*x;
	size_t			 hops;
	const char		*siteid;
	const char		*found;
};

static void
better_cb(struct svcentry *e, void *arg)
{
	struct better_arg *a = arg;
	struct splice_meta m;
	const char *cause;

	if (a->found != NULL || !e->resolved || e->nobs == 0 ||
	    strcasecmp(e->type, a->x->svc.type) != 0 ||
	    strcasecmp(e->domain, a->x->svc.domain) != 0)
		return;
	if (meta_from_txt(&e->state.txt, &m, &cause) != 1)
		return;
	/* a copy that crossed this site and came back does not count; one
	 * this site published (ours last: another session's export) does */
	if (meta_has_site(&m, a->siteid) &&
	    strcmp(m.path[m.npath - 1], a->siteid) != 0)
		return;
	if (strcmp(m.origin, a->x->meta.origin) != 0 ||
	    strcmp(origin_name(&m, e->name), a->x->origin_name) != 0)
		return;
	if (meta_hops(&m) < a->hops)
		a->found = e->name;
}

static const char *
better_copy(struct exports *xs, struct svctable *t, const struct export *x)
{
	struct better_arg a;

	if (t == NULL)
		return NULL;
	a.x = x;
	a.hops = x->meta.npath;	/* ours, once this site is added */
	a.siteid = xs->siteid;
	a.found = NULL;
	svctable_foreach(t, better_cb, &a);
	return a.found;
}

/* The flood cap: EXPORT lines per minute, refused ones included. */
static int
flooding(struct exports *xs)
{
	uint64_t now = ev_now_ms();
	unsigned int cap = EXPORT_FLOOD_FACTOR * xs->pol->max_exports;

	if (xs->win_start == 0 || now - xs->win_start >= EXPORT_FLOOD_MS) {
		xs->win_start = now;
		xs->win_count = 0;
	}
	if (++xs->win_count <= cap)
		return 0;
	if (!xs->told_flood)
		log_warnx("exports of %s: more than %u EXPORT lines in a "
		    "minute, refusing the rest (logged once)", xs->peer, cap);
	xs->told_flood = 1;
	return 1;
}

void
exports_bad(struct exports *xs, uint32_t id, const char *cause)
{
	if (flooding(xs)) {
		dropped(xs, id, "limit", "more than %u EXPORT lines in a "
		    "minute", EXPORT_FLOOD_FACTOR * xs->pol->max_exports);
		return;
	}
	dropped(xs, id, "syntax", "%s", cause);
}

void
exports_export(struct exports *xs, const struct msg *m, int avahi_up,
    struct svctable *t)
{
	const struct policy *pol = xs->pol;
	const struct export_rule *rule;
	const struct svc *sv = &m->svc;
	struct splice_meta pm;
	struct export *x;
	const char *why, *better;
	char *cause = NULL, vis[256];
	size_t hops;

	if (flooding(xs)) {
		dropped(xs, m->id, "limit", "more than %u EXPORT lines in a "
		    "minute", EXPORT_FLOOD_FACTOR * pol->max_exports);
		return;
	}
	/* 1. syntax */
	if (find(xs, m->id) != NULL) {
		dropped(xs, m->id, "syntax", "id %u is in use", m->id);
		return;
	}
	if (name_unsafe(sv->name)) {
		log_vis(vis, sizeof(vis), sv->name);
		dropped(xs, m->id, "syntax", "name \"%s\" holds control "
		    "characters", vis);
		return;
	}
	if (pub_name_check(sv->name, &cause) == -1 ||
	    pub_txt_check(&sv->txt, &cause) == -1 ||
	    !pub_domain_valid(sv->domain)) {
		dropped(xs, m->id, "syntax", "\"%s\" %s: %s", sv->name,
		    sv->type, cause != NULL ? cause : "bad domain");
		free(cause);
		return;
	}
	switch (meta_from_txt(&sv->txt, &pm, &why)) {
	case 0:
		dropped(xs, m->id, "syntax", "\"%s\" %s: no splice metadata "
		    "(TXT item \"" META_KEY "=\")", sv->name, sv->type);
		return;
	case -1:
		dropped(xs, m->id, "syntax", "\"%s\" %s: splice metadata: %s",
		    sv->name, sv->type, why);
		return;
	}
	if (strcmp(pm.path[pm.npath - 1], xs->peer) != 0) {
		dropped(xs, m->id, "syntax", "\"%s\" %s: the path (p=) must "
		    "end with the agent's site id %s, not %s", sv->name,
		    sv->type, xs->peer, pm.path[pm.npath - 1]);
		return;
	}
	/* 2. policy */
	if (!browse_type_carried(sv->type)) {
		dropped(xs, m->id, "denied", "\"%s\" %s: %s", sv->name,
		    sv->type, BROWSE_UDP_WHY);
		return;
	}
	if (!pol->any_accept) {
		dropped(xs, m->id, "denied", "this server accepts no exports "
		    "(no accept rule in %s)", pol->path != NULL ? pol->path :
		    pol->file);
		return;
	}
	if ((rule = policy_export_match(pol, sv->name, sv->type)) == NULL ||
	    !rule->accept) {
		if (rule == NULL)
			dropped(xs, m->id, "denied", "\"%s\" %s: no accept "
			    "rule matches (%s)", sv->name, sv->type,
			    pol->file);
		else
			dropped(xs, m->id, "denied", "\"%s\" %s: rejected "
			    "(%s:%u)", sv->name, sv->type, pol->file,
			    rule->line);
		return;
	}
	/* 3. loops */
	hops = meta_hops(&pm);
	if (meta_has_site(&pm, xs->siteid)) {
		dropped(xs, m->id, "loop", "\"%s\" %s: its path holds this "
		    "server's site id %s", sv->name, sv->type, xs->siteid);
		return;
	}
	if (hops >= xs->maxhops || pm.npath >= META_MAXPATH) {
		dropped(xs, m->id, "loop", "\"%s\" %s: %zu hops, the limit is "
		    "%u (max-hops)", sv->name, sv->type, hops,
		    xs->maxhops);
		return;
	}
	/* 4. limits, 5. avahi (PROTOCOL.md section 8) */
	if (xs->n >= pol->max_exports) {
		dropped(xs, m->id, "limit", "\"%s\" %s: this session has %zu "
		    "exports (max-exports %u)", sv->name, sv->type, xs->n,
		    pol->max_exports);
		return;
	}
	if (rule->max != 0 && xs->per_rule[rule - pol->xrules] >= rule->max) {
		dropped(xs, m->id, "limit", "\"%s\" %s: %u exports under the "
		    "accept rule of %s:%u (max %u)", sv->name, sv->type,
		    rule->max, pol->file, rule->line, rule->max);
		return;
	}
	if (!avahi_up) {
		dropped(xs, m->id, "unavailable", "avahi-daemon is not "
		    "running");
		return;
	}

	x = xcalloc(1, sizeof(*x));
	x->xs = xs;
	x->id = m->id;
	x->meta = pm;
	strlcpy(x->origin_name, origin_name(&pm, sv->name),
	    sizeof(x->origin_name));
	if (svc_copy(&x->svc, sv) == -1)
		fatalx("out of memory");
	x->rule = (size_t)(rule - pol->xrules);
	TAILQ_INSERT_TAIL(&xs->list, x, link);
	xs->n++;
	xs->per_rule[x->rule]++;

	/* 6. one copy per LAN, against the browse table */
	if ((better = better_copy(xs, t, x)) != NULL) {
		dropped(xs, m->id, "duplicate", "\"%s\" %s: this LAN has a "
		    "copy with fewer hops already (\"%s\")", sv->name,
		    sv->type, better);
		export_free(x, 1);
		return;
	}
	/* what goes on the LAN: the path with this site */
	if (meta_push(&pm, xs->siteid) == -1 ||
	    (meta_txt_set(&sv->txt, &pm, &x->pubtxt) == -1 &&
	    (pm.name[0] = '\0', meta_txt_set(&sv->txt, &pm,
	    &x->pubtxt)) == -1)) {
		dropped(xs, m->id, "syntax", "\"%s\" %s: the splice metadata "
		    "does not fit one TXT item with this site", sv->name,
		    sv->type);
		export_free(x, 1);
		return;
	}
	if (rule->iface != NULL && strcmp(rule->iface, "lo") == 0)
		x->host = 1;
	else if (rule->iface != NULL) {
		if (if_nametoindex(rule->iface) == 0) {
			dropped(xs, m->id, "unavailable", "\"%s\" %s: no "
			    "interface %s (%s:%u)", sv->name, sv->type,
			    rule->iface, pol->file, rule->line);
			export_free(x, 1);
			return;
		}
	}
	if (make_dir(xs, &cause) == -1 ||
	    open_listeners(x, rule->iface, sv->port, &cause) == -1) {
		dropped(xs, m->id, "internal", "\"%s\" %s: %s", sv->name,
		    sv->type, cause);
		free(cause);
		export_free(x, 1);
		return;
	}
	if ((size_t)snprintf(x->path, sizeof(x->path), "%s/%u.sock", xs->dir,
	    x->id) >= sizeof(x->path)) {
		x->path[0] = '\0';
		dropped(xs, m->id, "internal", "the socket path in %s would "
		    "be longer than %d bytes", xs->dir, PROTO_MAXPATH);
		export_free(x, 1);
		return;
	}
	if (!x->host && rule->iface == NULL)
		watch_addresses(xs);
	/* a socket left by an earlier session of this directory cannot be:
	 * the directory is new, and ids are not reused */
	log_info("export %u from %s: \"%s\" %s (%zu hops) on port %u%s%s, "
	    "socket %s", x->id, xs->peer, sv->name, sv->type, hops + 1,
	    x->port, rule->iface != NULL ? ", interface " : "",
	    rule->iface != NULL ? rule->iface : "", x->path);
	{
		struct msg r;

		memset(&r, 0, sizeof(r));
		r.type = MSG_EXPORTING;
		r.id = x->id;
		r.svc.port = x->port;
		r.path = x->path;
		xs->send(xs->arg, &r);
	}
}

void
exports_forwarding(struct exports *xs, uint32_t id)
{
	struct export *x;
	char *cause = NULL;

	if ((x = find(xs, id)) == NULL) {
		/* dropped meanwhile: the DROPPED said so */
		log_debug("FORWARDING %u: no such export", id);
		return;
	}
	if (x->forwarding)
		return;
	x->forwarding = 1;
	if (publish(x, &cause) == -1) {
		dropped(xs, id, "internal", "\"%s\" %s: %s", x->svc.name,
		    x->svc.type, cause);
		free(cause);
		export_free(x, 1);
	}
}

void
exports_unexport(struct exports *xs, uint32_t id)
{
	struct export *x;

	if ((x = find(xs, id)) == NULL) {
		log_debug("UNEXPORT %u: no such export", id);
		return;
	}
	export_free(x, 0);
}

void
exports_lan_changed(struct exports *xs, struct svctable *t)
{
	struct export *x, *next;
	const char *better;

	TAILQ_FOREACH_SAFE(x, &xs->list, link, next) {
		if ((better = better_copy(xs, t, x)) == NULL)
			continue;
		dropped(xs, x->id, "duplicate", "\"%s\" %s: a copy with "
		    "fewer hops appeared on this LAN (\"%s\")", x->svc.name,
		    x->svc.type, better);
		export_free(x, 0);
	}
}

struct exports *
exports_new(struct ev_loop *loop, const struct policy *pol,
    const char *siteid, const char *peer, unsigned int maxhops,
    export_send_fn send, void *arg)
{
	struct exports *xs;

	xs = xcalloc(1, sizeof(*xs));
	xs->loop = loop;
	xs->pol = pol;
	xs->siteid = siteid;
	strlcpy(xs->peer, peer, sizeof(xs->peer));
	xs->maxhops = maxhops;
	xs->send = send;
	xs->arg = arg;
	TAILQ_INIT(&xs->list);
	TAILQ_INIT(&xs->conns);
	xs->per_rule = xcalloc(pol->nxrules + 1, sizeof(*xs->per_rule));
	return xs;
}

size_t
exports_count(const struct exports *xs)
{
	return xs == NULL ? 0 : xs->n;
}

void
exports_free(struct exports *xs)
{
	if (xs == NULL)
		return;
	log_limit_flush(&xs->refuse_log, NULL, REFUSALS);
	while (!TAILQ_EMPTY(&xs->list))
		export_free(TAILQ_FIRST(&xs->list), 0);
	while (!TAILQ_EMPTY(&xs->conns))
		conn_free(TAILQ_FIRST(&xs->conns));
	/* goodbye packets for all that was published */
	publisher_free(xs->pub);
	netwatch_free(xs->netwatch);
	remove_dir(xs);
	free(xs->per_rule);
	free(xs);
}
