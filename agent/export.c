/*
 * Export: services of this LAN offered to a remote's server, over the
 * session the agent already has (PROTOCOL.md section 8).
 *
 * The exporter browses this LAN for every type some remote exports
 * ("export TYPE [name PATTERN ...]", -x TYPE): exportlan.c. This file
 * makes the offers and follows them.
 *
 * For each remote whose session is up and whose subsystem said "export"
 * in its HELLO, every resolved service that a rule matches is offered,
 * unless it is this agent's own copy or its splice path holds the
 * remote's site id (nothing goes back the way it came):
 *
 *	EXPORT id name type domain port txt	offered
 *	<- EXPORTING id port path		the server listens on port:
 *	   mux OPEN_FWD remote path -> addr:port	asking ssh
 *	-> FORWARDING id			forwarding (published)
 *	<- DROPPED id code text			refused / dropped
 *	-> UNEXPORT id				the service left, reload, stop
 *
 * The name is the agent's name template with %r this host's mDNS name; the
 * TXT record the service's own with the splice metadata (origin, path
 * ending here). The port wish is the port the server gave last time for
 * the same remote and service (kept across sessions and reloads), else a
 * stable hash of both, so that services come back on the same ports after
 * a reconnect and after a restart of the agent. A refusal (by the server's
 * policy or by sshd) is final for the session: no retry before the next
 * session or reload.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "escape.h"
#include "event.h"
#include "export-int.h"
#include "json.h"
#include "log.h"
#include "mdns.h"
#include "meta.h"

#define X_MAXPATH		108	/* sun_path */
#define X_MAXOFFERS		1024	/* per remote, refused ones included */

enum xstate {
	XS_OFFERED,		/* EXPORT sent */
	XS_ASKING,		/* EXPORTING came, the mux request is out */
	XS_FORWARDING,		/* FORWARDING sent: published */
	XS_REFUSED		/* by the server or by sshd; kept for status */
};

/* One EXPORT of one session. */
struct xoffer {
	struct remote	*r;
	struct xsvc	*s;		/* NULL once the service left */
	char		*key;		/* name \t type \t domain on this LAN */
	char		 lname[DNSSD_MAXNAME + 1];	/* on this LAN */
	char		 type[DNSSD_MAXTYPE + 1];
	uint32_t	 id;
	enum xstate	 st;
	char		 name[DNSSD_MAXNAME + 1];	/* offered */
	struct txt	 txt;		/* offered */
	char		 addr[NI_MAXHOST];	/* the target on this LAN */
	uint16_t	 lport;
	uint16_t	 port;		/* the server's, from EXPORTING */
	char		 path[X_MAXPATH];
	int		 ctl;		/* the pending mux request */
	struct ev_io	*ctlio;
	struct mux_reader mr;
	char		 why[512];	/* XS_REFUSED */
	uint64_t	 since;		/* ms, of the state */
	TAILQ_ENTRY(xoffer) entry;
};
TAILQ_HEAD(xoffer_list, xoffer);

/* A CLOSE_FWD on its way: its reply is read only to be logged. */
struct xcancel {
	struct exporter	*x;
	char		 desc[256];
	int		 fd;
	struct ev_io	*io;
	struct mux_reader mr;
	TAILQ_ENTRY(xcancel) entry;
};

/* Per remote (remote->x). */
struct xremote {
	struct xoffer_list offers;
	size_t		 noffers;
	uint32_t	 next_id;	/* of the session */
	int		 too_old;	/* logged: the subsystem lacks export */
	unsigned long	 offered, forwarded, refused, dropped;
};

struct xport {
	char		*key;		/* remote \t name \t type \t domain */
	uint16_t	 port;
};

static void	offer_free(struct xremote *, struct xoffer *);

/* --- helpers -------------------------------------------------------------- */

static char *
svc_key(const char *a, const char *b, const char *c, const char *d)
{
	char *k;

	if (d != NULL)
		xasprintf(&k, "%s\t%s\t%s\t%s", a, b, c, d);
	else
		xasprintf(&k, "%s\t%s\t%s", a, b, c);
	return k;
}

static uint16_t
port_recall(struct exporter *x, const char *key)
{
	size_t i;

	for (i = 0; i < x->nports; i++)
		if (strcmp(x->ports[i].key, key) == 0)
			return x->ports[i].port;
	return 0;
}

static void
port_remember(struct exporter *x, const char *key, uint16_t port)
{
	size_t i;

	for (i = 0; i < x->nports; i++)
		if (strcmp(x->ports[i].key, key) == 0) {
			x->ports[i].port = port;
			return;
		}
	if (x->nports >= 4 * AGENT_MAX_SERVICES_LIMIT)
		return;
	x->ports = xreallocarray(x->ports, x->nports + 1, sizeof(*x->ports));
	x->ports[x->nports].key = xstrdup(key);
	x->ports[x->nports++].port = port;
}

int
export_decide(const struct txt *txt, const char *self, const char *peer,
    struct splice_meta *out, char *why, size_t whylen)
{
	struct splice_meta m;
	const char *cause = NULL;
	int r;

	if ((r = meta_from_txt(txt, &m, &cause)) == -1) {
		snprintf(why, whylen, "bad splice metadata: %s", cause);
		return 0;
	}
	if (r == 0) {
		/* native to this LAN: the origin is this site */
		memset(&m, 0, sizeof(m));
		strlcpy(m.origin, self, sizeof(m.origin));
	} else if (m.npath > 0 && strcmp(m.path[m.npath - 1], self) == 0) {
		snprintf(why, whylen, "a copy this agent imported");
		return 0;
	} else if (meta_has_site(&m, self)) {
		snprintf(why, whylen, "loop: it has crossed this site already");
		return 0;
	}
	if (meta_has_site(&m, peer) || strcmp(m.origin, peer) == 0) {
		snprintf(why, whylen, "it came from site %s", peer);
		return 0;
	}
	if (meta_push(&m, self) == -1) {
		snprintf(why, whylen, "splice path full");
		return 0;
	}
	*out = m;
	return 1;
}

static const char *
xstate_name(enum xstate st)
{
	switch (st) {
	case XS_OFFERED:
		return "offered";
	case XS_ASKING:
		return "asking ssh";
	case XS_FORWARDING:
		return "forwarding";
	case XS_REFUSED:
		return "refused";
	}
	return "?";
}

static struct xremote *
xr_get(struct remote *r)
{
	if (r->x == NULL) {
		r->x = xcalloc(1, sizeof(*r->x));
		TAILQ_INIT(&r->x->offers);
	}
	return r->x;
}

static int
session_up(const struct remote *r)
{
	return r->state == RS_BROWSING || r->state == RS_SYNCED;
}

static void
send_simple(struct remote *r, enum msg_type type, uint32_t id)
{
	struct msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.id = id;
	remote_send(r, &m);
}

/* --- cancelling a forward ------------------------------------------------- */

static void
cancel_free(struct xcancel *c)
{
	TAILQ_REMOVE(&c->x->cancels, c, entry);
	ev_io_del(c->io);
	close(c->fd);
	mux_reader_free(&c->mr);
	free(c);
}

static void
cancel_cb(int fd, short revents, void *arg)
{
	struct xcancel *c = arg;
	enum mux_event ev;

	while ((ev = mux_reader_read(&c->mr, fd)) != MUX_EV_NONE) {
		if (ev == MUX_EV_OK)
			log_debug("%s: forward cancelled", c->desc);
		else
			log_info("%s: cancelling the forward: %s", c->desc,
			    c->mr.reason);
		cancel_free(c);
		return;
	}
	if (c->mr.done)
		cancel_free(c);
}

/* The server closed its listener; sshd's on path goes too. */
static void
cancel_forward(struct xoffer *o)
{
	struct exporter *x = o->r->agent->exporter;
	struct xcancel *c;
	char *cause = NULL;
	int fd;

	if ((fd = mux_close_remote_fwd(o->r->ssh.ctlpath, o->path, o->addr,
	    o->lport, ++o->r->agent->next_rid, &cause)) == -1) {
		log_info("%s: \"%s\": cancelling the forward: %s",
		    o->r->conf->name, o->lname, cause);
		free(cause);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->x = x;
	c->fd = fd;
	snprintf(c->desc, sizeof(c->desc), "%s: \"%s\"", o->r->conf->name,
	    o->lname);
	mux_reader_init(&c->mr, o->r->agent->next_rid);
	if ((c->io = ev_io_add(x->a->loop, fd, POLLIN, cancel_cb, c)) ==
	    NULL) {
		close(fd);
		mux_reader_free(&c->mr);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&x->cancels, c, entry);
}

/* --- offers --------------------------------------------------------------- */

static void
ctl_done(struct xoffer *o)
{
	if (o->ctl == -1)
		return;
	ev_io_del(o->ctlio);
	o->ctlio = NULL;
	close(o->ctl);
	o->ctl = -1;
	mux_reader_free(&o->mr);
}

static void
offer_free(struct xremote *xr, struct xoffer *o)
{
	ctl_done(o);
	TAILQ_REMOVE(&xr->offers, o, entry);
	xr->noffers--;
	txt_free(&o->txt);
	free(o->key);
	free(o);
}

static void
set_refused(struct xoffer *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
set_refused(struct xoffer *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
	o->st = XS_REFUSED;
	o->since = ev_now_ms();
	o->r->x->refused++;
}

/* Withdraw o from the server (and its forward), and forget it. */
static void
offer_withdraw(struct xremote *xr, struct xoffer *o, const char *why)
{
	if (o->st != XS_REFUSED) {
		send_simple(o->r, MSG_UNEXPORT, o->id);
		log_info("%s: \"%s\" %s no longer exported: %s",
		    o->r->conf->name, o->lname, o->type, why);
	}
	if (o->st == XS_FORWARDING)
		cancel_forward(o);
	offer_free(xr, o);
}

static void
fwd_cb(int fd, short revents, void *arg)
{
	struct xoffer *o = arg;
	struct remote *r = o->r;
	enum mux_event ev;
	char words[512];

	while ((ev = mux_reader_read(&o->mr, fd)) != MUX_EV_NONE) {
		if (ev == MUX_EV_OK) {
			ctl_done(o);
			o->st = XS_FORWARDING;
			o->since = ev_now_ms();
			r->x->forwarded++;
			send_simple(r, MSG_FORWARDING, o->id);
			log_info("%s: \"%s\" %s exported as \"%s\" on the "
			    "server's port %u", r->conf->name, o->lname,
			    o->type, o->name, o->port);
			return;
		}
		/* ssh's own words; its stderr may say more */
		strlcpy(words, o->mr.reason, sizeof(words));
		ctl_done(o);
		send_simple(r, MSG_UNEXPORT, o->id);
		set_refused(o, "refused by sshd: %s (sshd's "
		    "AllowStreamLocalForwarding or DisableForwarding?)", words);
		log_warnx("%s: \"%s\" %s not exported: ssh says \"%s\": the "
		    "server's sshd refused the forward to %s (is "
		    "AllowStreamLocalForwarding off, or DisableForwarding "
		    "on?)", r->conf->name, o->lname, o->type, words, o->path);
		return;
	}
	if (o->mr.done) {
		ctl_done(o);
		send_simple(r, MSG_UNEXPORT, o->id);
		set_refused(o, "refused by ssh: the control connection "
		    "closed");
	}
}

static void
h_exporting(struct remote *r, struct xoffer *o, const struct msg *m)
{
	struct exporter *x = r->agent->exporter;
	char *cause = NULL, *pk;
	uint32_t rid;

	if (o->st != XS_OFFERED) {
		log_warnx("%s: EXPORTING %u for \"%s\" in state %s ignored",
		    r->conf->name, m->id, o->lname, xstate_name(o->st));
		return;
	}
	if (m->path == NULL || m->path[0] != '/' ||
	    strlen(m->path) >= sizeof(o->path) || m->svc.port == 0) {
		send_simple(r, MSG_UNEXPORT, o->id);
		set_refused(o, "the server gave an unusable socket path or "
		    "port");
		log_warnx("%s: \"%s\": EXPORTING %u with an unusable socket "
		    "path or port", r->conf->name, o->lname, m->id);
		return;
	}
	strlcpy(o->path, m->path, sizeof(o->path));
	o->port = m->svc.port;
	pk = svc_key(r->conf->name, o->lname, o->type, o->s != NULL ?
	    o->s->domain : "local");
	port_remember(x, pk, o->port);
	free(pk);
	rid = ++r->agent->next_rid;
	if ((o->ctl = mux_open_remote_fwd(r->ssh.ctlpath, o->path, o->addr,
	    o->lport, rid, &cause)) == -1) {
		send_simple(r, MSG_UNEXPORT, o->id);
		set_refused(o, "cannot ask ssh for the forward: %s", cause);
		log_warnx("%s: \"%s\" not exported: cannot ask ssh for the "
		    "forward: %s", r->conf->name, o->lname, cause);
		free(cause);
		return;
	}
	mux_reader_init(&o->mr, rid);
	if ((o->ctlio = ev_io_add(x->a->loop, o->ctl, POLLIN, fwd_cb,
	    o)) == NULL)
		fatalx("out of memory");
	o->st = XS_ASKING;
	o->since = ev_now_ms();
}

static void
h_dropped(struct remote *r, struct xoffer *o, const struct msg *m)
{
	char code[64], text[512];

	log_vis(code, sizeof(code), m->code != NULL ? m->code : "?");
	log_vis(text, sizeof(text), m->text != NULL ? m->text : "");
	if (o->st == XS_FORWARDING) {
		cancel_forward(o);
		r->x->dropped++;
		set_refused(o, "dropped by the server: %s: %s", code, text);
		log_warnx("%s: \"%s\" %s: the server dropped the export: %s: "
		    "%s", r->conf->name, o->lname, o->type, code, text);
		return;
	}
	ctl_done(o);
	set_refused(o, "refused by the server: %s: %s", code, text);
	log_warnx("%s: \"%s\" %s not exported: the server refuses: %s: %s",
	    r->conf->name, o->lname, o->type, code, text);
}

/* EXPORTING and DROPPED (remote.c's handlers). */
void
export_message(struct remote *r, const struct msg *m)
{
	struct xoffer *o;

	if (r->x != NULL)
		TAILQ_FOREACH(o, &r->x->offers, entry)
			if (o->id == m->id && o->id != 0)
				break;
	if (r->x == NULL || o == NULL || o->st == XS_REFUSED) {
		/* an UNEXPORT and the server's answer crossed */
		log_debug("%s: %s for export %u, which is not pending",
		    r->conf->name, msg_verb(m->type), m->id);
		return;
	}
	if (m->type == MSG_EXPORTING)
		h_exporting(r, o, m);
	else
		h_dropped(r, o, m);
}

/* Offer s to r. */
static void
offer_new(struct remote *r, struct xsvc *s)
{
	struct exporter *x = r->agent->exporter;
	struct xremote *xr = r->x;
	struct splice_meta meta;
	struct xoffer *o;
	struct msg m;
	char why[256], *pk;
	const char *label;
	uint16_t hint;

	if (xr->noffers >= X_MAXOFFERS)
		return;
	if (!export_decide(&s->txt, r->agent->siteid, r->peer_id, &meta, why,
	    sizeof(why))) {
		log_debug("%s: \"%s\" %s not exported: %s", r->conf->name,
		    s->name, s->type, why);
		return;
	}
	o = xcalloc(1, sizeof(*o));
	o->r = r;
	o->s = s;
	o->ctl = -1;
	o->key = svc_key(s->name, s->type, s->domain, NULL);
	strlcpy(o->lname, s->name, sizeof(o->lname));
	strlcpy(o->type, s->type, sizeof(o->type));
	strlcpy(o->addr, s->addr, sizeof(o->addr));
	o->lport = s->port;
	o->since = ev_now_ms();
	TAILQ_INSERT_TAIL(&xr->offers, o, entry);
	xr->noffers++;
	if (meta.name[0] == '\0')	/* the name at the origin */
		strlcpy(meta.name, s->name, sizeof(meta.name));
	/* %r: this host as mDNS names it (its own name on the LAN) */
	label = mdns_host_name(x->mdns) != NULL ? mdns_host_name(x->mdns) :
	    x->label;
	if (import_name(r->conf->name_template, s->name, label, s->type,
	    meta_hops(&meta), o->name, sizeof(o->name)) == -1 ||
	    meta_txt_set(&s->txt, &meta, &o->txt) == -1) {
		set_refused(o, "not offered: its name or TXT record does not "
		    "fit");
		return;
	}
	pk = svc_key(r->conf->name, s->name, s->type, s->domain);
	if ((hint = port_recall(x, pk)) == 0)
		hint = import_stable_port(r->conf->name, s->name, s->type,
		    s->domain);
	free(pk);
	o->id = ++xr->next_id;
	if (o->id == 0)		/* 2^32 offers in one session */
		o->id = ++xr->next_id;
	memset(&m, 0, sizeof(m));
	m.type = MSG_EXPORT;
	m.id = o->id;
	m.svc.name = o->name;
	m.svc.type = s->type;
	m.svc.domain = s->domain;
	m.svc.port = hint;
	m.svc.txt = o->txt;
	remote_send(r, &m);
	xr->offered++;
	log_debug("%s: offering \"%s\" %s as \"%s\" (export %u, port %u)",
	    r->conf->name, s->name, s->type, o->name, o->id, hint);
}

/* Does o still describe s as it is now? */
static int
offer_current(const struct xoffer *o, const struct xsvc *s)
{
	struct splice_meta meta;
	struct txt t;
	char why[256];
	int same;

	if (strcmp(o->addr, s->addr) != 0 || o->lport != s->port)
		return 0;
	if (!export_decide(&s->txt, o->r->agent->siteid, o->r->peer_id,
	    &meta, why, sizeof(why)))
		return 0;
	if (meta.name[0] == '\0')	/* the name at the origin */
		strlcpy(meta.name, s->name, sizeof(meta.name));
	if (meta_txt_set(&s->txt, &meta, &t) == -1)
		return 0;
	same = txt_equal(&t, &o->txt);
	txt_free(&t);
	return same;
}

/* Bring r's offers in line with the LAN and its configuration. */
static void
sync_remote(struct exporter *x, struct remote *r)
{
	struct xremote *xr;
	struct xoffer *o, *next;
	struct xsvc *s;

	if (r->conf->nexports == 0 && r->x == NULL)
		return;
	xr = xr_get(r);
	if (!session_up(r))
		return;
	if (!r->peer_export) {
		if (r->conf->nexports > 0 && !xr->too_old) {
			xr->too_old = 1;
			log_warnx("%s: the server's subsystem cannot take "
			    "exports (too old)", r->conf->name);
		}
		return;
	}
	/* what left, changed, or is no longer wanted */
	for (o = TAILQ_FIRST(&xr->offers); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (o->s == NULL)
			offer_withdraw(xr, o, "it left this LAN");
		else if (!conf_export_match(r->conf, o->lname, o->type))
			offer_withdraw(xr, o, "the configuration no longer "
			    "exports it");
		else if (o->st != XS_REFUSED && (!o->s->resolved ||
		    !offer_current(o, o->s)))
			offer_withdraw(xr, o, "it changed");
	}
	TAILQ_FOREACH(s, &x->svcs, entry) {
		if (!s->resolved || !conf_export_match(r->conf, s->name,
		    s->type))
			continue;
		TAILQ_FOREACH(o, &xr->offers, entry)
			if (o->s == s)
				break;
		if (o == NULL)
			offer_new(r, s);
	}
}

static void
sync_cb(void *arg)
{
	struct exporter *x = arg;
	struct remote *r;

	if (x->a->quitting)
		return;
	TAILQ_FOREACH(r, &x->a->remotes, entry)
		sync_remote(x, r);
}

void
export_changed(struct exporter *x)
{
	ev_timer_set(x->sync_t, 0);
}

/* s leaves this LAN (exportlan.c): its offers are withdrawn at the next
 * sync. */
void
export_svc_gone(struct exporter *x, struct xsvc *s)
{
	struct remote *r;
	struct xoffer *o;

	TAILQ_FOREACH(r, &x->a->remotes, entry)
		if (r->x != NULL)
			TAILQ_FOREACH(o, &r->x->offers, entry)
				if (o->s == s)
					o->s = NULL;
}

/* --- API ------------------------------------------------------------------ */

struct exporter *
exporter_new(struct agent *a)
{
	struct exporter *x;
	char host[256], *dot;

	x = xcalloc(1, sizeof(*x));
	x->a = a;
	TAILQ_INIT(&x->types);
	TAILQ_INIT(&x->svcs);
	TAILQ_INIT(&x->cancels);
	if (gethostname(host, sizeof(host)) == -1)
		strlcpy(host, "agent", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	if ((dot = strchr(host, '.')) != NULL)
		*dot = '\0';
	strlcpy(x->label, host[0] != '\0' ? host : "agent", sizeof(x->label));
	if ((x->sync_t = ev_timer_add(a->loop, sync_cb, x)) == NULL ||
	    exlan_start(x) == -1) {
		ev_timer_del(x->sync_t);
		free(x);
		return NULL;
	}
	return x;
}

void
exporter_free(struct exporter *x)
{
	size_t i;

	if (x == NULL)
		return;
	while (!TAILQ_EMPTY(&x->cancels))
		cancel_free(TAILQ_FIRST(&x->cancels));
	exlan_free(x);
	ev_timer_del(x->sync_t);
	for (i = 0; i < x->nports; i++)
		free(x->ports[i].key);
	free(x->ports);
	free(x);
}

/* Follow the types r exports (types are never dropped). */
void
export_conf(struct remote *r)
{
	struct exporter *x = r->agent->exporter;
	size_t i;

	/* no avahi client of its own before something is exported */
	if (x == NULL && r->conf->nexports > 0 &&
	    (x = r->agent->exporter = exporter_new(r->agent)) == NULL)
		fatalx("out of memory");
	if (x == NULL)
		return;
	for (i = 0; i < r->conf->nexports; i++)
		exlan_want(x, r->conf->exports[i].type);
	export_changed(x);
}

/* SIGHUP kept r: follow new types, withdraw what is no longer exported,
 * and try what was refused again. */
void
export_reload(struct remote *r)
{
	struct xoffer *o, *next;

	if (r->x != NULL)
		for (o = TAILQ_FIRST(&r->x->offers); o != NULL; o = next) {
			next = TAILQ_NEXT(o, entry);
			if (o->st == XS_REFUSED)
				offer_free(r->x, o);
		}
	export_conf(r);
}

/* The session's HELLO came (or the session is synced): offer. */
void
export_session_up(struct remote *r)
{
	if (r->agent->exporter != NULL)
		export_changed(r->agent->exporter);
}

/* The session ends (lost, or the agent stops): say UNEXPORT while the
 * subsystem can still read it, and forget the session's offers. The
 * forwards end with the master; at a reconnect the ports are recalled. */
void
export_session_end(struct remote *r)
{
	struct xoffer *o;

	if (r->x == NULL)
		return;
	while ((o = TAILQ_FIRST(&r->x->offers)) != NULL) {
		if (o->st != XS_REFUSED)
			send_simple(r, MSG_UNEXPORT, o->id);
		offer_free(r->x, o);
	}
	r->x->next_id = 0;
	r->x->too_old = 0;
}

size_t
export_live(const struct remote *r)
{
	const struct xoffer *o;
	size_t n = 0;

	if (r->x != NULL)
		TAILQ_FOREACH(o, &r->x->offers, entry)
			if (o->st != XS_REFUSED)
				n++;
	return n;
}

void
export_remote_free(struct remote *r)
{
	export_session_end(r);
	free(r->x);
	r->x = NULL;
}

/* --- status --------------------------------------------------------------- */

static void
offer_state(const struct xoffer *o, char *out, size_t outlen)
{
	switch (o->st) {
	case XS_FORWARDING:
		snprintf(out, outlen, "published on the server's port %u",
		    o->port);
		break;
	case XS_ASKING:
		snprintf(out, outlen, "asking ssh for the forward (port %u)",
		    o->port);
		break;
	case XS_REFUSED:
		log_vis(out, outlen, o->why);
		break;
	default:
		snprintf(out, outlen, "%s", xstate_name(o->st));
		break;
	}
}

void
export_status(const struct remote *r, struct buf *b, int json)
{
	const struct xremote *xr = r->x;
	const struct xoffer *o;
	size_t n[4] = { 0, 0, 0, 0 };

	if (r->conf->nexports == 0 && xr == NULL)
		return;
	if (xr != NULL)
		TAILQ_FOREACH(o, &xr->offers, entry)
			n[o->st]++;
	if (json) {
		buf_putf(b, ",\"exports\":{\"server_capable\":%s,\"offered\":"
		    "%zu,\"asking\":%zu,\"forwarding\":%zu,\"refused\":%zu,"
		    "\"total_offered\":%lu,\"total_forwarded\":%lu,"
		    "\"total_refused\":%lu,\"total_dropped\":%lu}",
		    !session_up(r) ? "null" : r->peer_export ? "true" :
		    "false", n[XS_OFFERED], n[XS_ASKING], n[XS_FORWARDING],
		    n[XS_REFUSED], xr != NULL ? xr->offered : 0,
		    xr != NULL ? xr->forwarded : 0, xr != NULL ?
		    xr->refused : 0, xr != NULL ? xr->dropped : 0);
		return;
	}
	if (session_up(r) && !r->peer_export && r->conf->nexports > 0) {
		buf_putf(b, "  exports: the server's subsystem cannot take "
		    "exports (too old)\n");
		return;
	}
	buf_putf(b, "  exports: %zu forwarding, %zu offered, %zu asking ssh, "
	    "%zu refused\n", n[XS_FORWARDING], n[XS_OFFERED], n[XS_ASKING],
	    n[XS_REFUSED]);
}

void
export_services(const struct remote *r, struct buf *b, int json, int *first)
{
	const struct xoffer *o;
	char state[600], vname[300], vpub[300];

	if (r->x == NULL)
		return;
	TAILQ_FOREACH(o, &r->x->offers, entry) {
		offer_state(o, state, sizeof(state));
		if (json) {
			if (!*first)
				buf_putf(b, ",");
			*first = 0;
			buf_putf(b, "{\"remote\":");
			json_str(b, r->conf->name);
			buf_putf(b, ",\"export\":true,\"id\":%u,\"name\":",
			    o->id);
			json_str(b, o->lname);
			buf_putf(b, ",\"type\":");
			json_str(b, o->type);
			buf_putf(b, ",\"target\":");
			json_str(b, o->addr);
			buf_putf(b, ",\"target_port\":%u,\"published_as\":",
			    o->lport);
			json_str(b, o->name);
			buf_putf(b, ",\"state\":\"%s\",\"port\":%u,"
			    "\"since\":%.1f,\"why\":", xstate_name(o->st),
			    o->port, o->since == 0 ? 0.0 :
			    (double)(ev_now_ms() - o->since) / 1000);
			json_str(b, o->st == XS_REFUSED ? o->why : NULL);
			buf_putf(b, "}");
			continue;
		}
		log_vis(vname, sizeof(vname), o->lname);
		log_vis(vpub, sizeof(vpub), o->name);
		buf_putf(b, "%s: export \"%s\" %s from %s:%u as \"%s\": %s\n",
		    r->conf->name, vname, o->type, o->addr, o->lport, vpub,
		    state);
	}
}
