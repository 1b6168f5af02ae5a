/* One imported service: a local listening socket per address it is
 * exposed on (exposure.c decides which) and its publication through avahi
 * under our own address and port. Accepted connections go to conn.c,
 * after the on-link check when the remote has no allow-list.
 *
 * The addresses follow the interfaces: splice_exposure_changed() closes
 * the sockets of addresses that went away and binds new ones on the same
 * port; a lan-scope service on no LAN network falls back to host scope
 * (127.0.0.1, published on lo) and comes back when a LAN network does.
 * Ports: the one remembered from an earlier session, the service's own
 * port (port-policy original), a stable port derived from (remote, name,
 * type, domain), else the kernel's choice. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dnsupdate.h"
#include "event.h"
#include "log.h"
#include "mfwd.h"
#include "publish.h"
#include "xmalloc.h"

/* --- port memory: the same service gets the same port after a reconnect -- */

static char *
port_key(const struct svc *s)
{
	char *k;

	if (asprintf(&k, "%s\t%s\t%s", s->name, s->type, s->domain) == -1)
		return NULL;
	return k;
}

static uint16_t
port_recall(const struct remote *r, const struct svc *s)
{
	char *k;
	size_t i;
	uint16_t port = 0;

	if ((k = port_key(s)) == NULL)
		return 0;
	for (i = 0; i < r->nports; i++)
		if (strcmp(r->ports[i].key, k) == 0) {
			port = r->ports[i].port;
			break;
		}
	free(k);
	return port;
}

static void
port_remember(struct remote *r, const struct svc *s, uint16_t port)
{
	struct portmem *n;
	size_t i, max = 2 * (size_t)r->conf->max_services;
	char *k;

	if (port == 0 || (k = port_key(s)) == NULL)
		return;
	for (i = 0; i < r->nports; i++)
		if (strcmp(r->ports[i].key, k) == 0) {
			r->ports[i].port = port;
			free(k);
			return;
		}
	if (r->nports >= max) {
		/* forget the oldest */
		free(r->ports[0].key);
		memmove(r->ports, r->ports + 1,
		    (r->nports - 1) * sizeof(*r->ports));
		r->nports--;
	}
	if ((n = reallocarray(r->ports, r->nports + 1, sizeof(*n))) == NULL) {
		free(k);
		return;
	}
	r->ports = n;
	r->ports[r->nports].key = k;
	r->ports[r->nports].port = port;
	r->nports++;
}

void
splice_forget_ports(struct remote *r)
{
	size_t i;

	for (i = 0; i < r->nports; i++)
		free(r->ports[i].key);
	free(r->ports);
	r->ports = NULL;
	r->nports = 0;
}


#define LISTEN_BACKLOG	128
#define ACCEPT_BURST	64
#define OFFLINK_LOG_MS	10000

struct bindaddr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 v6only;
};

static size_t
bind_addrs(const struct exp_plan *pl, struct bindaddr *out, size_t max)
{
	size_t i;

	memset(out, 0, max * sizeof(*out));
	for (i = 0; i < pl->nbind && i < max; i++) {
		memcpy(&out[i].ss, &pl->bind[i], pl->bindlen[i]);
		out[i].len = pl->bindlen[i];
		out[i].v6only = 1;
	}
	return i;
}

static void
set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static int
listen_one(const struct bindaddr *b)
{
	int fd, one = 1, saved;

	if ((fd = socket(b->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto fail;
	if (b->ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &b->v6only, sizeof(b->v6only)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&b->ss, b->len) == -1 ||
	    listen(fd, LISTEN_BACKLOG) == -1)
		goto fail;
	return fd;
 fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static uint16_t
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void close_listeners(struct splice *);

static void
close_one(struct splice *sp, size_t i)
{
	ev_io_del(sp->ios[i]);
	close(sp->fds[i]);
	sp->nfds--;
	if (i != sp->nfds) {
		sp->fds[i] = sp->fds[sp->nfds];
		sp->ios[i] = sp->ios[sp->nfds];
		sp->lsa[i] = sp->lsa[sp->nfds];
	}
}

void
splice_close_listeners(struct splice *sp)
{
	close_listeners(sp);
}

static void
close_listeners(struct splice *sp)
{
	while (sp->nfds > 0)
		close_one(sp, sp->nfds - 1);
}

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	exp_format_addr((const struct sockaddr *)ss, out, outlen);
}

/* Bind every address on one port; 0, or -1 with errno (EADDRINUSE ...).
 * An address that is not (yet) usable, such as a tentative IPv6 one, is
 * left for the next change of the interfaces. */
static int
open_on_port(struct splice *sp, struct bindaddr *ba, size_t nba,
    uint16_t port)
{
	char a[INET6_ADDRSTRLEN];
	size_t i;
	int fd, saved;

	for (i = 0; i < nba; i++) {
		set_port(&ba[i].ss, port);
		if ((fd = listen_one(&ba[i])) == -1) {
			if (errno == EADDRNOTAVAIL && i + 1 < nba) {
				addr_text(&ba[i].ss, a, sizeof(a));
				log_debug("%s: %s not usable yet",
				    sp->remote->conf->name, a);
				continue;
			}
			goto fail;
		}
		sp->lsa[sp->nfds] = ba[i].ss;
		set_port(&sp->lsa[sp->nfds], 0);
		sp->ios[sp->nfds] = NULL;
		sp->fds[sp->nfds++] = fd;
		if (port == 0 && (port = bound_port(fd)) == 0) {
			errno = EADDRNOTAVAIL;
			goto fail;
		}
	}
	if (sp->nfds == 0) {
		errno = EADDRNOTAVAIL;
		goto fail;
	}
	sp->port = port;
	return 0;
 fail:
	saved = errno;
	close_listeners(sp);
	errno = saved;
	return -1;
}

static void splice_accept(int, short, void *);

/*
 * With port-policy original, say why the service got another port, for
 * rnsplice services: no privilege for a low port, the port in use, or
 * the port kept from an earlier connection.
 */
static void
port_note(struct splice *sp, int orig_errno)
{
	const struct svc *s = &sp->isvc->svc;
	char *n = sp->port_note;
	size_t len = sizeof(sp->port_note);

	n[0] = '\0';
	if (sp->remote->conf->port_policy != PORT_ORIGINAL || s->port == 0 ||
	    sp->port == s->port)
		return;
	if (import_port_privileged(s->port, n, len))
		return;
	if (orig_errno == EADDRINUSE)
		snprintf(n, len, "original port %u is in use on this host",
		    s->port);
	else if (orig_errno != 0)
		snprintf(n, len, "original port %u: %s", s->port,
		    strerror(orig_errno));
	else
		snprintf(n, len, "port %u kept from an earlier connection "
		    "(original port %u was not free then)", sp->port,
		    s->port);
}

static int
watch_listeners(struct splice *sp)
{
	size_t k;

	for (k = 0; k < sp->nfds; k++)
		if (sp->ios[k] == NULL && (sp->ios[k] = ev_io_add(
		    sp->remote->agent->loop, sp->fds[k], POLLIN, splice_accept,
		    sp)) == NULL)
			return -1;
	return 0;
}

static int
open_listeners(struct splice *sp, const struct exp_plan *pl, char **cause)
{
	struct remote *r = sp->remote;
	const struct svc *s = &sp->isvc->svc;
	struct bindaddr ba[AGENT_LISTEN_MAX];
	uint16_t ports[4];
	size_t nba, nports, i;
	int tries, orig_errno = 0;

	if ((nba = bind_addrs(pl, ba, AGENT_LISTEN_MAX)) == 0) {
		cause_set(cause, "interface %s has no address",
		    r->conf->ifname);
		return -1;
	}
	nports = import_port_candidates(r->conf->port_policy,
	    port_recall(r, s), s->port,
	    import_stable_port(r->conf->name, s->name, s->type, s->domain),
	    ports, 4);
	for (i = 0; i < nports; i++) {
		/* the kernel's port may be taken on another address */
		for (tries = ports[i] == 0 ? 3 : 1; tries > 0; tries--)
			if (open_on_port(sp, ba, nba, ports[i]) == 0)
				goto bound;
		if (ports[i] == s->port)
			orig_errno = errno;
		if (errno != EADDRINUSE && errno != EACCES) {
			cause_set(cause, "cannot listen: %s",
			    strerror(errno));
			return -1;
		}
	}
	cause_set(cause, "cannot listen: %s", strerror(errno));
	return -1;
 bound:
	port_note(sp, orig_errno);
	if (watch_listeners(sp) == -1) {
		close_listeners(sp);	/* ev_io_del(NULL) is fine */
		cause_set(cause, "out of memory");
		return -1;
	}
	return 0;
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0 &&
	    ((const struct sockaddr_in6 *)a)->sin6_scope_id ==
	    ((const struct sockaddr_in6 *)b)->sin6_scope_id;
}

/* Make the sockets match the plan, keeping the port. */
static void
follow_addresses(struct splice *sp, const struct exp_plan *pl)
{
	struct remote *r = sp->remote;
	struct bindaddr ba[AGENT_LISTEN_MAX];
	char a[INET6_ADDRSTRLEN];
	size_t nba, i, k;
	int fd;

	nba = bind_addrs(pl, ba, AGENT_LISTEN_MAX);
	for (i = sp->nfds; i > 0; i--) {
		for (k = 0; k < nba; k++)
			if (same_addr(&sp->lsa[i - 1], &ba[k].ss))
				break;
		if (k < nba)
			continue;
		addr_text(&sp->lsa[i - 1], a, sizeof(a));
		log_info("%s: \"%s\" no longer listens on %s port %u (address "
		    "gone or out of scope)", r->conf->name, sp->name, a,
		    sp->port);
		close_one(sp, i - 1);
	}
	for (k = 0; k < nba; k++) {
		for (i = 0; i < sp->nfds; i++)
			if (same_addr(&sp->lsa[i], &ba[k].ss))
				break;
		if (i < sp->nfds || sp->nfds == AGENT_LISTEN_MAX)
			continue;
		addr_text(&ba[k].ss, a, sizeof(a));
		set_port(&ba[k].ss, sp->port);
		if ((fd = listen_one(&ba[k])) == -1) {
			if (errno == EADDRNOTAVAIL)
				log_debug("%s: %s not usable yet",
				    r->conf->name, a);
			else
				log_warn("%s: \"%s\" cannot listen on %s "
				    "port %u", r->conf->name, sp->name, a,
				    sp->port);
			continue;
		}
		sp->lsa[sp->nfds] = ba[k].ss;
		set_port(&sp->lsa[sp->nfds], 0);
		sp->ios[sp->nfds] = NULL;
		sp->fds[sp->nfds++] = fd;
		log_info("%s: \"%s\" listens on %s port %u", r->conf->name,
		    sp->name, a, sp->port);
	}
	if (watch_listeners(sp) == -1)
		log_warnx("%s: \"%s\": out of memory watching the listeners",
		    r->conf->name, sp->name);
}

/* A client the exposure rules turn away (no allow-list: not on-link). */
static int
offlink(struct splice *sp, const struct sockaddr *sa)
{
	struct remote *r = sp->remote;
	char a[INET6_ADDRSTRLEN];
	uint64_t now;

	if (r->conf->nallow > 0 || exp_peer_ok(r->agent->exp, r->conf, sa) ||
	    dnsup_peer_ok(r->agent->exp, r->conf, sa))
		return 0;
	sp->refused++;
	sp->offlink++;
	r->conns_refused++;
	now = ev_now_ms();
	if (sp->offlink_logged != 0 && now - sp->offlink_logged <
	    OFFLINK_LOG_MS) {
		sp->offlink_quiet++;
		return 1;
	}
	exp_format_addr(sa, a, sizeof(a));
	if (sp->offlink_quiet > 0)
		log_warnx("%s: refused %s for \"%s\": not on a network of the "
		    "interfaces it is published on, and no allow-list (%lu "
		    "more refused, not logged)", r->conf->name, a, sp->name,
		    sp->offlink_quiet);
	else
		log_warnx("%s: refused %s for \"%s\": not on a network of the "
		    "interfaces it is published on, and no allow-list",
		    r->conf->name, a, sp->name);
	sp->offlink_logged = now;
	sp->offlink_quiet = 0;
	return 1;
}

static void
splice_accept(int fd, short revents, void *arg)
{
	struct splice *sp = arg;
	struct remote *r = sp->remote;
	struct sockaddr_storage ss;
	socklen_t len;
	int c, i, gone = 0;
	uint64_t now;

	/* A connection can end at once and take the splice with it (a
	 * refusal withdraws the service: reach.c), so sp is not used after
	 * conn_accept unless it is still there. */
	sp->gone = &gone;
	for (i = 0; i < ACCEPT_BURST; i++) {
		len = sizeof(ss);
		c = accept4(fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				now = ev_now_ms();
				if (now - r->refuse_logged > 10000) {
					r->refuse_logged = now;
					log_warn("%s: accept on port %u",
					    r->conf->name, sp->port);
				}
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("%s: accept on port %u",
				    r->conf->name, sp->port);
			break;
		}
		if (offlink(sp, (struct sockaddr *)&ss)) {
			close(c);
			continue;
		}
		sp->accepted++;
		conn_accept(r, sp, c, (struct sockaddr *)&ss, len);
		if (gone)
			return;
	}
	sp->gone = NULL;
}

/* The metadata's n= element: the name at the origin, when ours differs. */
static void
set_origin_name(struct splice *sp)
{
	struct isvc *e = sp->isvc;

	if (e->meta.name[0] == '\0' && strcmp(sp->name, e->svc.name) != 0)
		strlcpy(e->meta.name, e->svc.name, sizeof(e->meta.name));
}

static int
make_txt(struct splice *sp, struct txt *out)
{
	struct isvc *e = sp->isvc;

	if (meta_txt_set(&e->svc.txt, &e->meta, out) == 0)
		return 0;
	/* too long for one TXT item with the name: drop the name */
	e->meta.name[0] = '\0';
	return meta_txt_set(&e->svc.txt, &e->meta, out);
}

static void
pub_spec_fill(struct splice *sp, struct pub_spec *spec, unsigned int ifindex)
{
	const struct isvc *e = sp->isvc;

	memset(spec, 0, sizeof(*spec));
	spec->name = sp->name;
	spec->type = e->svc.type;
	spec->domain = e->svc.domain;
	spec->port = sp->port;
	spec->txt = &sp->txt;
	switch (sp->pubscope) {
	case SCOPE_LAN:
		spec->scope = PUB_SCOPE_LAN;
		break;
	case SCOPE_HOST:
		spec->scope = PUB_SCOPE_HOST;
		break;
	case SCOPE_IFACE:
		spec->scope = PUB_SCOPE_IFACE;
		spec->ifindex = (int)ifindex;
		break;
	}
}

static const char *
where_name(const struct splice *sp, char *buf, size_t len)
{
	char ifname[IF_NAMESIZE];
	size_t i;

	if (sp->fallback)
		return "host scope: on none of the LAN networks";
	if (sp->pubscope != SCOPE_IFACE)
		return conf_scope_name(sp->pubscope);
	snprintf(buf, len, "%s, on", conf_scope_name(sp->remote->conf->scope));
	for (i = 0; i < sp->npubifs; i++) {
		if (if_indextoname(sp->pubifs[i], ifname) == NULL)
			snprintf(ifname, sizeof(ifname), "#%u", sp->pubifs[i]);
		strlcat(buf, i > 0 ? ", " : " ", len);
		strlcat(buf, ifname, len);
	}
	return buf;
}

static void
unpublish(struct splice *sp)
{
	if (sp->pub != NULL)
		publisher_remove(sp->pub);
	sp->pub = NULL;
	while (sp->nxpub > 0)
		publisher_remove(sp->xpub[--sp->nxpub]);
}

/* Publish as the plan says: one entry, or one per interface. 0, or -1
 * with errno (ENOMEM, EINVAL) and nothing published. */
static int
publish(struct splice *sp, const struct exp_plan *pl)
{
	struct pub_spec spec;
	struct pub_entry *e;
	size_t i, n;

	sp->pubscope = pl->pub;
	sp->fallback = pl->fallback;
	memcpy(sp->pubifs, pl->pubifs, sizeof(sp->pubifs));
	sp->npubifs = pl->npubifs;
	if (!sp->remote->conf->mdns)
		return 0;	/* "mdns no": in a DNS zone only */
	n = sp->pubscope == SCOPE_IFACE ? sp->npubifs : 1;
	for (i = 0; i < n; i++) {
		pub_spec_fill(sp, &spec, sp->pubifs[i]);
		if ((e = publisher_add(sp->remote->agent->pub, &spec, sp)) ==
		    NULL) {
			unpublish(sp);
			return -1;
		}
		if (i == 0)
			sp->pub = e;
		else
			sp->xpub[sp->nxpub++] = e;
	}
	return 0;
}

/* Publish (mDNS, DNS) as the plan says. 0, or -1 with *cause. */
static int
go_public(struct splice *sp, const struct exp_plan *pl, char **cause)
{
	struct remote *r = sp->remote;
	struct remote_conf *rc = r->conf;
	const struct svc *s = &sp->isvc->svc;
	char where[256];

	if (publish(sp, pl) == -1) {
		if (errno == ENOMEM)
			cause_set(cause, "out of memory");
		else	/* publisher_add logged why */
			cause_set(cause, "cannot publish: %s", strerror(errno));
		return -1;
	}
	port_remember(r, s, sp->port);
	log_info("%s: splicing \"%s\" (%s) from %s:%u as \"%s\" on port %u "
	    "(%s%s)", rc->name, s->name, s->type, s->addr, s->port, sp->name,
	    sp->port, where_name(sp, where, sizeof(where)), mfwd_owns(sp) ?
	    "; the ssh master listens" : "");
	dnsup_publish(r->agent->dnsup, sp);
	return 0;
}

void
splice_publish_deferred(struct splice *sp)
{
	struct remote *r = sp->remote;
	struct exp_plan pl;
	char *cause;

	exp_plan(r->agent->exp, r->conf, &pl);
	dnsup_plan(r->conf, &pl);
	if (go_public(sp, &pl, &cause) == -1) {
		log_warnx("%s: \"%s\" cannot be published: %s",
		    r->conf->name, sp->name, cause);
		free(cause);
	}
}

/* The master gave the listeners back (its bind failed, or the addresses
 * changed): the agent listens again on the same port, else on another
 * one. 0, or -1 (logged). */
int
splice_listen_again(struct splice *sp)
{
	struct remote *r = sp->remote;
	struct exp_plan pl;
	char *cause;
	uint16_t port = sp->port;

	exp_plan(r->agent->exp, r->conf, &pl);
	dnsup_plan(r->conf, &pl);
	follow_addresses(sp, &pl);
	if (sp->nfds > 0)
		return 0;
	if (mfwd_published(sp)) {
		/* clients know this port: it cannot change */
		log_warnx("%s: \"%s\" cannot listen on port %u again",
		    r->conf->name, sp->name, port);
		return -1;
	}
	if (open_listeners(sp, &pl, &cause) == -1) {
		log_warnx("%s: \"%s\" cannot listen: %s", r->conf->name,
		    sp->name, cause);
		free(cause);
		return -1;
	}
	log_info("%s: \"%s\" listens on port %u instead of %u",
	    r->conf->name, sp->name, sp->port, port);
	return 0;
}

struct splice *
splice_new(struct remote *r, struct isvc *e, char **cause)
{
	struct remote_conf *rc = r->conf;
	struct splice *sp;
	struct pub_spec spec;
	struct exp_plan pl;
	const char *origin;
	char where[256];

	exp_plan(r->agent->exp, rc, &pl);
	dnsup_plan(rc, &pl);
	if (rc->scope == SCOPE_IFACE && pl.npubifs == 0) {
		cause_set(cause, "no interface %s", rc->ifname);
		return NULL;
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		cause_set(cause, "out of memory");
		return NULL;
	}
	sp->remote = r;
	sp->isvc = e;
	origin = import_origin_name(e);
	if (import_name(rc->name_template, origin, rc->name, e->svc.type,
	    meta_hops(&e->meta), sp->name, sizeof(sp->name)) == -1) {
		cause_set(cause, "name template gives no valid name");
		goto fail;
	}
	set_origin_name(sp);
	if (make_txt(sp, &sp->txt) == -1) {
		cause_set(cause, "splice metadata does not fit the TXT "
		    "record");
		goto fail;
	}
	if (open_listeners(sp, &pl, cause) == -1)
		goto fail;
	if (pl.truncated)
		log_warnx("%s: \"%s\" listens on the first %d addresses only",
		    rc->name, sp->name, AGENT_LISTEN_MAX);
	sp->pubscope = pl.pub;
	pub_spec_fill(sp, &spec, pl.pubifs[0]);
	if (pub_spec_check(&spec, cause) == -1) {
		close_listeners(sp);
		goto fail;
	}
	if (mfwd_wanted(sp)) {
		/* published once the master listens (or the agent, if it
		 * cannot): no client knows the port before */
		log_info("%s: splicing \"%s\" (%s) from %s:%u as \"%s\" on "
		    "port %u (%s): probing it, to hand the listener to the "
		    "ssh master", rc->name, e->svc.name, e->svc.type,
		    e->svc.addr, e->svc.port, sp->name, sp->port,
		    where_name(sp, where, sizeof(where)));
		if (mfwd_start(sp) == 0)
			return sp;
	}
	if (go_public(sp, &pl, cause) == -1) {
		close_listeners(sp);
		mfwd_free(sp);
		goto fail;
	}
	return sp;
 fail:
	txt_free(&sp->txt);
	free(sp);
	return NULL;
}

void
splice_exposure_changed(struct splice *sp)
{
	struct remote *r = sp->remote;
	struct exp_plan pl;
	char where[256];

	exp_plan(r->agent->exp, r->conf, &pl);
	dnsup_plan(r->conf, &pl);
	if (mfwd_follow(sp, &pl) == 0)
		follow_addresses(sp, &pl);
	if (!mfwd_published(sp))
		return;		/* published when the hand-over ends */
	if (pl.pub == sp->pubscope && pl.fallback == sp->fallback &&
	    pl.npubifs == sp->npubifs && memcmp(pl.pubifs, sp->pubifs,
	    sizeof(pl.pubifs)) == 0)
		return;
	/* new publications: avahi has no way to move a group */
	unpublish(sp);
	if (publish(sp, &pl) == -1) {
		log_warnx("%s: \"%s\" cannot be published (%s): %s",
		    r->conf->name, sp->name, where_name(sp, where,
		    sizeof(where)), errno == ENOMEM ? "out of memory" :
		    "invalid");
		return;
	}
	if (sp->fallback)
		log_warnx("%s: \"%s\" falls back to host scope: this host is "
		    "on none of the LAN networks", r->conf->name, sp->name);
	else
		log_info("%s: \"%s\" is now published (%s)", r->conf->name,
		    sp->name, where_name(sp, where, sizeof(where)));
}

int
splice_update(struct splice *sp)
{
	struct txt txt;
	size_t i;

	set_origin_name(sp);
	if (make_txt(sp, &txt) == -1)
		return -1;
	if (txt_equal(&txt, &sp->txt)) {
		txt_free(&txt);
		return 0;
	}
	if (sp->pub != NULL && publisher_update(sp->pub, &txt, 0) == -1) {
		txt_free(&txt);
		return -1;
	}
	for (i = 0; i < sp->nxpub; i++)
		if (publisher_update(sp->xpub[i], &txt, 0) == -1)
			log_warnx("%s: \"%s\": TXT not updated on every "
			    "interface", sp->remote->conf->name, sp->name);
	txt_free(&sp->txt);
	sp->txt = txt;
	if (mfwd_published(sp))	/* else the new TXT goes out with it */
		dnsup_publish(sp->remote->agent->dnsup, sp);
	return 0;
}

void
splice_free(struct splice *sp)
{
	if (sp == NULL)
		return;
	if (sp->gone != NULL)
		*sp->gone = 1;
	dnsup_withdraw(sp->remote->agent->dnsup, sp);
	unpublish(sp);
	close_listeners(sp);
	mfwd_free(sp);
	port_remember(sp->remote, &sp->isvc->svc, sp->port);
	txt_free(&sp->txt);
	free(sp);
}

const char *
splice_pub_name(const struct splice *sp)
{
	return sp->pub != NULL ? pub_entry_name(sp->pub) : sp->name;
}

const char *
splice_pub_state(const struct splice *sp)
{
	return sp->pub != NULL ? pub_state_name(pub_entry_state(sp->pub)) :
	    "none";
}

/* The publisher's news about one entry (agent.c routes it here). */
void
splice_pub_event(struct splice *sp, struct pub_entry *pe)
{
	struct remote *r = sp->remote;
	const char *name = pub_entry_name(pe);

	switch (pub_entry_state(pe)) {
	case PUB_ESTABLISHED:
		log_info("%s: published \"%s\" (%s) on port %u", r->conf->name,
		    name, sp->isvc->svc.type, sp->port);
		break;
	case PUB_FAILED:
		log_warnx("%s: cannot publish \"%s\" (%s): %s", r->conf->name,
		    name, sp->isvc->svc.type, pub_entry_error(pe));
		break;
	default:
		if (strcmp(name, sp->name) != 0)
			log_debug("%s: \"%s\" renamed \"%s\" (name conflict)",
			    r->conf->name, sp->name, name);
		break;
	}
}

/* --- what route.c decides: spliced or not -------------------------------- */

void
splice_withdraw(struct isvc *e)
{
	struct remote *r = e->remote;

	if (e->splice != NULL) {
		splice_free(e->splice);
		e->splice = NULL;
		r->nimported--;
	}
	e->imported = 0;
}

int
splice_import(struct isvc *e)
{
	struct remote *r = e->remote;
	char *cause;

	if (e->splice != NULL)
		return 0;
	if ((e->splice = splice_new(r, e, &cause)) == NULL) {
		strlcpy(e->skip, cause, sizeof(e->skip));
		log_warnx("%s: cannot splice \"%s\" (%s): %s", r->conf->name,
		    e->svc.name, e->svc.type, cause);
		free(cause);
		return -1;
	}
	e->skip[0] = '\0';
	e->imported = 1;
	r->nimported++;
	return 0;
}
