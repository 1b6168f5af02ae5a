/* One imported service: a local listening socket (or a few, one per
 * address of an interface) and its publication through avahi under our
 * own address and port. Accepted connections go to relay.c.
 *
 * Bind addresses by scope: lan -> [::] dual-stack (0.0.0.0 if the host
 * has no IPv6), host -> 127.0.0.1, interface -> each address of that
 * interface. Ports: the one remembered from an earlier session, the
 * service's own port (port-policy original), a stable port derived from
 * (remote, name, type, domain), else the kernel's choice. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <ifaddrs.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "event.h"
#include "log.h"
#include "publish.h"

#define LISTEN_BACKLOG	128
#define ACCEPT_BURST	64

struct bindaddr {
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 v6only;
};

static size_t
bind_addrs(const struct remote_conf *rc, struct bindaddr *out, size_t max,
    char *err, size_t errlen)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	struct ifaddrs *ifa, *i;
	size_t n = 0;
	int fd;

	memset(out, 0, max * sizeof(*out));
	switch (rc->scope) {
	case SCOPE_LAN:
		if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) !=
		    -1) {
			close(fd);
			sin6 = (struct sockaddr_in6 *)&out[0].ss;
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = in6addr_any;
			out[0].len = sizeof(*sin6);
			out[0].v6only = 0;
			return 1;
		}
		/* FALLTHROUGH: no IPv6 here */
		sin = (struct sockaddr_in *)&out[0].ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		out[0].len = sizeof(*sin);
		return 1;
	case SCOPE_HOST:
		sin = (struct sockaddr_in *)&out[0].ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		out[0].len = sizeof(*sin);
		return 1;
	case SCOPE_IFACE:
		if (getifaddrs(&ifa) == -1) {
			snprintf(err, errlen, "getifaddrs: %s",
			    strerror(errno));
			return 0;
		}
		for (i = ifa; i != NULL && n < max; i = i->ifa_next) {
			if (i->ifa_addr == NULL ||
			    strcmp(i->ifa_name, rc->ifname) != 0)
				continue;
			if (i->ifa_addr->sa_family == AF_INET) {
				memcpy(&out[n].ss, i->ifa_addr,
				    sizeof(struct sockaddr_in));
				out[n++].len = sizeof(struct sockaddr_in);
			} else if (i->ifa_addr->sa_family == AF_INET6) {
				memcpy(&out[n].ss, i->ifa_addr,
				    sizeof(struct sockaddr_in6));
				out[n].v6only = 1;
				out[n++].len = sizeof(struct sockaddr_in6);
			}
		}
		freeifaddrs(ifa);
		if (n == 0)
			snprintf(err, errlen, "interface %s has no address",
			    rc->ifname);
		return n;
	}
	return 0;
}

static void
set_port(struct bindaddr *b, uint16_t port)
{
	if (b->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&b->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&b->ss)->sin6_port = htons(port);
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

static void
close_listeners(struct splice *sp)
{
	size_t i;

	for (i = 0; i < sp->nfds; i++) {
		ev_io_del(sp->ios[i]);
		close(sp->fds[i]);
	}
	sp->nfds = 0;
}

/* Bind every address on one port; 0, or -1 with errno (EADDRINUSE ...). */
static int
open_on_port(struct splice *sp, struct bindaddr *ba, size_t nba,
    uint16_t port)
{
	size_t i;
	int fd, saved;

	for (i = 0; i < nba; i++) {
		set_port(&ba[i], port);
		if ((fd = listen_one(&ba[i])) == -1)
			goto fail;
		sp->fds[sp->nfds++] = fd;
		if (port == 0 && (port = bound_port(fd)) == 0) {
			errno = EADDRNOTAVAIL;
			goto fail;
		}
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
open_listeners(struct splice *sp, char *err, size_t errlen)
{
	struct remote *r = sp->remote;
	const struct svc *s = &sp->isvc->svc;
	struct bindaddr ba[AGENT_LISTEN_MAX];
	uint16_t ports[4];
	size_t nba, nports, i, k;
	int tries, orig_errno = 0;

	if ((nba = bind_addrs(r->conf, ba, AGENT_LISTEN_MAX, err,
	    errlen)) == 0)
		return -1;
	nports = import_port_candidates(r->conf->port_policy,
	    remote_port_recall(r, s), s->port,
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
			snprintf(err, errlen, "cannot listen: %s",
			    strerror(errno));
			return -1;
		}
	}
	snprintf(err, errlen, "cannot listen: %s", strerror(errno));
	return -1;
 bound:
	port_note(sp, orig_errno);
	for (k = 0; k < sp->nfds; k++)
		if ((sp->ios[k] = ev_io_add(r->agent->loop, sp->fds[k], POLLIN,
		    splice_accept, sp)) == NULL) {
			close_listeners(sp);	/* ev_io_del(NULL) is fine */
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	return 0;
}

static void
splice_accept(int fd, short revents, void *arg)
{
	struct splice *sp = arg;
	struct remote *r = sp->remote;
	struct sockaddr_storage ss;
	socklen_t len;
	int c, i;
	uint64_t now;

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
			return;
		}
		sp->accepted++;
		relay_accept(r, sp, c, (struct sockaddr *)&ss, len);
		/* relay_accept never frees sp */
	}
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

	if (import_txt(&e->svc.txt, &e->meta, out) == 0)
		return 0;
	/* too long for one TXT item with the name: drop the name */
	e->meta.name[0] = '\0';
	return import_txt(&e->svc.txt, &e->meta, out);
}

struct splice *
splice_new(struct remote *r, struct isvc *e, char *err, size_t errlen)
{
	struct remote_conf *rc = r->conf;
	struct splice *sp;
	struct pub_spec spec;
	const char *origin;
	unsigned int ifindex = 0;

	if (rc->scope == SCOPE_IFACE &&
	    (ifindex = if_nametoindex(rc->ifname)) == 0) {
		snprintf(err, errlen, "no interface %s", rc->ifname);
		return NULL;
	}
	if ((sp = calloc(1, sizeof(*sp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sp->remote = r;
	sp->isvc = e;
	origin = import_origin_name(e);
	if (import_name(rc->name_template, origin, rc->name, e->svc.type,
	    meta_hops(&e->meta), sp->name, sizeof(sp->name)) == -1) {
		snprintf(err, errlen, "name template gives no valid name");
		goto fail;
	}
	set_origin_name(sp);
	if (make_txt(sp, &sp->txt) == -1) {
		snprintf(err, errlen, "splice metadata does not fit the TXT "
		    "record");
		goto fail;
	}
	if (open_listeners(sp, err, errlen) == -1)
		goto fail;
	memset(&spec, 0, sizeof(spec));
	spec.name = sp->name;
	spec.type = e->svc.type;
	spec.domain = e->svc.domain;
	spec.port = sp->port;
	spec.txt = &sp->txt;
	switch (rc->scope) {
	case SCOPE_LAN:
		spec.scope = PUB_SCOPE_LAN;
		break;
	case SCOPE_HOST:
		spec.scope = PUB_SCOPE_HOST;
		break;
	case SCOPE_IFACE:
		spec.scope = PUB_SCOPE_IFACE;
		spec.ifindex = (int)ifindex;
		break;
	}
	if (pub_spec_check(&spec, err, errlen) == -1 ||
	    (sp->pub = publisher_add(r->agent->pub, &spec, sp)) == NULL) {
		if (errno == ENOMEM)
			snprintf(err, errlen, "out of memory");
		close_listeners(sp);
		goto fail;
	}
	remote_port_remember(r, &e->svc, sp->port);
	log_info("%s: splicing \"%s\" (%s) from %s:%u as \"%s\" on port %u "
	    "(%s)", rc->name, e->svc.name, e->svc.type, e->svc.addr,
	    e->svc.port, sp->name, sp->port, conf_scope_name(rc->scope));
	return sp;
 fail:
	txt_free(&sp->txt);
	free(sp);
	return NULL;
}

int
splice_update(struct splice *sp)
{
	struct txt txt;

	set_origin_name(sp);
	if (make_txt(sp, &txt) == -1)
		return -1;
	if (txt_equal(&txt, &sp->txt)) {
		txt_free(&txt);
		return 0;
	}
	if (publisher_update(sp->pub, &txt, 0) == -1) {
		txt_free(&txt);
		return -1;
	}
	txt_free(&sp->txt);
	sp->txt = txt;
	return 0;
}

void
splice_free(struct splice *sp)
{
	if (sp == NULL)
		return;
	if (sp->pub != NULL)
		publisher_remove(sp->pub);
	close_listeners(sp);
	remote_port_remember(sp->remote, &sp->isvc->svc, sp->port);
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
splice_pub_event(struct splice *sp)
{
	struct remote *r = sp->remote;
	const char *name = pub_entry_name(sp->pub);

	switch (pub_entry_state(sp->pub)) {
	case PUB_ESTABLISHED:
		log_info("%s: published \"%s\" (%s) on port %u", r->conf->name,
		    name, sp->isvc->svc.type, sp->port);
		break;
	case PUB_FAILED:
		log_warnx("%s: cannot publish \"%s\" (%s): %s", r->conf->name,
		    name, sp->isvc->svc.type, pub_entry_error(sp->pub));
		break;
	default:
		if (strcmp(name, sp->name) != 0)
			log_debug("%s: \"%s\" renamed \"%s\" (name conflict)",
			    r->conf->name, sp->name, name);
		break;
	}
}
