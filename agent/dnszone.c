/* The update machine of each zone (dnsupdate.c says what it publishes):
 * the zone's state, the crash sweep of its index, batching, the gap
 * between updates and backoff, and one TCP transaction at a time, signed
 * and checked with TSIG. The records come from dnsrecords.c. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "backoff.h"
#include "dnsupdate.h"
#include "dnsupdate-int.h"
#include "event.h"
#include "log.h"

int
dnsup_addr_own(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, ok;

	if ((fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	ok = bind(fd, (const struct sockaddr *)ss, len) == 0;
	close(fd);
	return ok;
}

#ifdef HAVE_LDNS

static void	zone_timer_cb(void *);

static uint32_t
fnv1a(uint32_t h, const void *p, size_t len)
{
	const unsigned char *c = p;

	while (len-- > 0)
		h = (h ^ *c++) * 16777619u;
	return h;
}

void
dnszone_svc_free(struct dsvc *s)
{
	TAILQ_REMOVE(&s->z->svcs, s, entry);
	txt_free(&s->txt);
	free(s);
}

static void
tx_close(struct dzone *z)
{
	ev_timer_stop(z->timer);
	ev_io_del(z->io);
	z->io = NULL;
	if (z->fd != -1)
		close(z->fd);
	z->fd = -1;
	free(z->out);
	free(z->in);
	z->out = z->in = NULL;
	z->outlen = z->outoff = z->inlen = 0;
	if (z->mac != NULL)
		ldns_rdf_deep_free(z->mac);
	z->mac = NULL;
	free(z->tx_gc);
	z->tx_gc = NULL;
	z->tx = TX_NONE;
}

void
dnszone_free(struct dzone *z)
{
	size_t i;

	tx_close(z);
	ev_timer_del(z->timer);
	while (!TAILQ_EMPTY(&z->svcs))
		dnszone_svc_free(TAILQ_FIRST(&z->svcs));
	if (z->stale != NULL)
		ldns_rr_list_deep_free(z->stale);
	for (i = 0; i < z->ngc; i++)
		free(z->gc[i]);
	free(z->gc);
	dnsup_conf_free(z->conf);
	free(z);
}


struct dzone *
dnszone_get(struct dnsup *d, const struct dnsup_conf *dc)
{
	struct dzone *z;
	uint32_t h = 2166136261u;
	size_t i;

	TAILQ_FOREACH(z, &d->zones, entry)
		if (dnsup_conf_eq(z->conf, dc))
			return z;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	if ((z->conf = dnsup_conf_dup(dc)) == NULL ||
	    (z->timer = ev_timer_add(d->agent->loop, zone_timer_cb, z)) ==
	    NULL) {
		dnsup_conf_free(z->conf);
		free(z);
		return NULL;
	}
	z->d = d;
	z->fd = -1;
	TAILQ_INIT(&z->svcs);
	/* one host name per agent and set of addresses: sibling agents of
	 * a site (same site id) publishing into one zone do not collide */
	for (i = 0; i < dc->naddr; i++)
		h = fnv1a(h, &dc->addr[i], dc->addrlen[i]);
	snprintf(z->host, sizeof(z->host), "rns-%s-%08x.%s",
	    d->agent->siteid, h, dc->zone);
	snprintf(z->index, sizeof(z->index), "%s.%s", DNSUP_INDEX, z->host);
	TAILQ_INSERT_TAIL(&d->zones, z, entry);
	return z;
}

/* --- the transaction --------------------------------------------------- */

static void
zone_error(struct dzone *z, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
zone_error(struct dzone *z, const char *fmt, ...)
{
	char msg[sizeof(z->error)];
	struct dsvc *s;
	unsigned int ms;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	z->failures++;
	z->attempts++;
	ms = backoff_ms(z->attempts > 1 ? z->attempts - 2 : 0,
	    REMOTE_BACKOFF_MIN_MS, REMOTE_BACKOFF_MAX_MS,
	    REMOTE_BACKOFF_JITTER, arc4random());
	if (ms < DNSUP_BACKOFF_MIN_MS)
		ms = DNSUP_BACKOFF_MIN_MS;
	if (ms > DNSUP_BACKOFF_MAX_MS)
		ms = DNSUP_BACKOFF_MAX_MS;
	if (strcmp(msg, z->error) != 0 || z->attempts == 1)
		log_warnx("dns-update %s: %s; trying again in %.1f s",
		    z->conf->zone, msg, ms / 1000.0);
	strlcpy(z->error, msg, sizeof(z->error));
	z->retry_at = ev_now_ms() + ms;
	tx_close(z);
	/* an update is all or nothing: what it carried is still to send */
	TAILQ_FOREACH(s, &z->svcs, entry)
		if (s->inflight) {
			s->inflight = 0;
			s->sent_gen = s->gen - 1;
		}
	ev_timer_set(z->timer, ms);
}

static void tx_io_cb(int, short, void *);

/* Sign, serialize and start sending p (freed). */
static int
tx_start(struct dzone *z, ldns_pkt *p, enum tx_kind kind)
{
	const struct dnsup_conf *dc = z->conf;
	uint8_t *wire = NULL;
	size_t len;
	ldns_status st;

	z->id = (uint16_t)arc4random_uniform(65536);
	ldns_pkt_set_id(p, z->id);
	if ((st = ldns_pkt_tsig_sign(p, dc->key.name, dc->key.secret,
	    DNSUP_FUDGE, dnsrec_tsig_alg(dc->key.alg), NULL)) !=
	    LDNS_STATUS_OK) {
		ldns_pkt_free(p);
		zone_error(z, "cannot sign with key \"%s\" (%s): %s",
		    dc->key.name, dc->key.alg, ldns_get_errorstr_by_id(st));
		return -1;
	}
	z->mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
	st = ldns_pkt2wire(&wire, p, &len);
	ldns_pkt_free(p);
	if (st != LDNS_STATUS_OK || len > 65535 || z->mac == NULL) {
		free(wire);
		zone_error(z, "cannot make the message: %s",
		    ldns_get_errorstr_by_id(st));
		return -1;
	}
	if ((z->out = malloc(len + 2)) == NULL ||
	    (z->in = malloc(65535 + 2)) == NULL) {
		free(wire);
		zone_error(z, "out of memory");
		return -1;
	}
	z->out[0] = (unsigned char)(len >> 8);
	z->out[1] = (unsigned char)len;
	memcpy(z->out + 2, wire, len);
	free(wire);
	z->outlen = len + 2;
	z->tx = kind;
	z->last_try = ev_now_ms();
	if ((z->fd = socket(dc->server_sa.ss_family, SOCK_STREAM |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		zone_error(z, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(z->fd, (const struct sockaddr *)&dc->server_sa,
	    dc->server_len) == -1 && errno != EINPROGRESS) {
		zone_error(z, "server %s port %u: %s", dc->server, dc->port,
		    strerror(errno));
		return -1;
	}
	if ((z->io = ev_io_add(z->d->agent->loop, z->fd, POLLOUT, tx_io_cb,
	    z)) == NULL) {
		zone_error(z, "out of memory");
		return -1;
	}
	ev_timer_set(z->timer, DNSUP_TIMEOUT_MS);
	return 0;
}

static void
gc_push(struct dzone *z, const char *type)
{
	char **v;
	size_t i;

	for (i = 0; i < z->ngc; i++)
		if (strcasecmp(z->gc[i], type) == 0)
			return;
	if ((v = reallocarray(z->gc, z->ngc + 1, sizeof(*v))) == NULL)
		return;
	z->gc = v;
	if ((z->gc[z->ngc] = strdup(type)) != NULL)
		z->ngc++;
}

static size_t
count_live(const struct dzone *z)
{
	const struct dsvc *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &z->svcs, entry)
		if (s->state == DS_ADD)
			n++;
	return n;
}

static void
sweep_done(struct dzone *z, ldns_pkt *p)
{
	ldns_rr_list *ans = ldns_pkt_answer(p);
	ldns_rr *rr;
	ldns_rdf *inst, *type;
	char *is, *ts;
	size_t i;

	z->swept = 1;
	if (ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN || ans == NULL)
		return;
	if ((z->stale = ldns_rr_list_new()) == NULL)
		return;
	for (i = 0; i < ldns_rr_list_rr_count(ans); i++) {
		rr = ldns_rr_list_rr(ans, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_PTR ||
		    ldns_rr_rd_count(rr) != 1)
			continue;
		inst = ldns_rr_rdf(rr, 0);
		if ((type = ldns_dname_left_chop(inst)) == NULL)
			continue;
		if (z->nstale == DNSUP_STALE_MAX) {
			ldns_rdf_deep_free(type);
			z->sweep_more = 1;
			break;
		}
		is = ldns_rdf2str(inst);
		ts = ldns_rdf2str(type);
		if (is != NULL && ts != NULL) {
			dnsrec_rrset_op(z->stale, is, LDNS_RR_TYPE_ANY,
			    LDNS_RR_CLASS_ANY);
			dnsrec_del_rr(z->stale, "%s IN PTR %s", ts, is);
			dnsrec_del_rr(z->stale, "%s. IN PTR %s", z->index, is);
			z->nstale++;
			log_info("dns-update %s: removing %s, left by an "
			    "earlier run of this agent", z->conf->zone, is);
			/* "_type._tcp.ZONE." -> "_type._tcp" */
			if (strlen(ts) > strlen(z->conf->zone) + 2)
				ts[strlen(ts) - strlen(z->conf->zone) - 2] =
				    '\0';
			gc_push(z, ts);
		}
		free(is);
		free(ts);
		ldns_rdf_deep_free(type);
	}
}

static void
update_done(struct dzone *z)
{
	struct dsvc *s, *next;

	if (z->stale != NULL) {
		ldns_rr_list_deep_free(z->stale);
		z->stale = NULL;
		z->nstale = 0;
		if (z->sweep_more) {
			/* read the index again for the rest */
			z->sweep_more = 0;
			z->swept = 0;
		}
	}
	if (z->tx_host != 0)
		z->host_live = z->tx_host > 0;
	TAILQ_FOREACH_SAFE(s, &z->svcs, entry, next) {
		if (!s->inflight)
			continue;
		s->inflight = 0;
		s->indns = s->sent_state == DS_ADD;
		if (s->sent_state == DS_ADD && s->gen == s->sent_gen)
			log_info("dns-update %s: published \"%s\" (%s)",
			    z->conf->zone, s->name, s->type);
		if (s->sent_state == DS_DEL) {
			log_info("dns-update %s: withdrew \"%s\" (%s)",
			    z->conf->zone, s->name, s->type);
			gc_push(z, s->type);
		}
		if (s->gen == s->sent_gen && s->state == DS_DEL) {
			if (s->sp != NULL && s->why[0] != '\0')
				s->state = DS_REFUSED;	/* still spliced */
			else
				dnszone_svc_free(s);
		}
	}
}

/* A whole answer came. */
static void
tx_answer(struct dzone *z)
{
	const struct dnsup_conf *dc = z->conf;
	ldns_pkt *p = NULL;
	ldns_pkt_rcode rc;
	const char *te;
	char rcs[32];
	enum tx_kind kind = z->tx;
	int terr;

	if (ldns_wire2pkt(&p, z->in + 2, z->inlen - 2) != LDNS_STATUS_OK) {
		zone_error(z, "server %s port %u: an answer that is not a DNS "
		    "message", dc->server, dc->port);
		return;
	}
	if (ldns_pkt_id(p) != z->id) {
		ldns_pkt_free(p);
		zone_error(z, "server %s port %u: an answer to another "
		    "message", dc->server, dc->port);
		return;
	}
	rc = ldns_pkt_get_rcode(p);
	terr = dnsrec_tsig_error(p);
	if (rc != LDNS_RCODE_NOERROR && !(kind == TX_SWEEP &&
	    rc == LDNS_RCODE_NXDOMAIN) && !(kind == TX_GC &&
	    (rc == LDNS_RCODE_YXRRSET || rc == LDNS_RCODE_NXRRSET))) {
		if (ldns_lookup_by_id(ldns_rcodes, (int)rc) != NULL)
			strlcpy(rcs, ldns_lookup_by_id(ldns_rcodes,
			    (int)rc)->name, sizeof(rcs));
		else
			snprintf(rcs, sizeof(rcs), "rcode %d", (int)rc);
		ldns_pkt_free(p);
		te = dnsrec_tsig_error_name(terr);
		if (te != NULL)
			zone_error(z, "server %s port %u refused key \"%s\": "
			    "%s (TSIG %s)", dc->server, dc->port, dc->key.name,
			    rcs, te);
		else if (kind == TX_SWEEP)
			zone_error(z, "server %s port %u answered %s to the "
			    "query of %s (this agent's index: allow-query)",
			    dc->server, dc->port, rcs, z->index);
		else if (rc == LDNS_RCODE_REFUSED ||
		    rc == LDNS_RCODE_NOTAUTH)
			zone_error(z, "server %s port %u answered %s: it does "
			    "not let key \"%s\" change zone %s (update-policy, "
			    "or not authoritative for it)", dc->server,
			    dc->port, rcs, dc->key.name, dc->zone);
		else
			zone_error(z, "server %s port %u answered %s",
			    dc->server, dc->port, rcs);
		return;
	}
	if (!ldns_pkt_tsig_verify(p, z->in + 2, z->inlen - 2, dc->key.name,
	    dc->key.secret, z->mac)) {
		ldns_pkt_free(p);
		zone_error(z, "server %s port %u: the answer is not signed "
		    "with key \"%s\"", dc->server, dc->port, dc->key.name);
		return;
	}
	if (kind == TX_SWEEP)
		sweep_done(z, p);
	else if (kind == TX_UPDATE)
		update_done(z);
	else if (kind == TX_GC && z->ngc > 0 && z->tx_gc != NULL &&
	    strcmp(z->gc[0], z->tx_gc) == 0) {
		free(z->gc[0]);
		memmove(z->gc, z->gc + 1, --z->ngc * sizeof(*z->gc));
	}
	ldns_pkt_free(p);
	if (z->attempts > 0)
		log_info("dns-update %s: server %s port %u answers again",
		    dc->zone, dc->server, dc->port);
	z->attempts = 0;
	z->error[0] = '\0';
	z->updates += kind != TX_SWEEP;
	z->last_ok = ev_now_ms();
	tx_close(z);
	dnszone_kick(z);
	if (z->quitting && !dnsup_busy(z->d))
		z->d->agent->remote_stopped(z->d->agent);
}

static void
tx_io_cb(int fd, short revents, void *arg)
{
	struct dzone *z = arg;
	const struct dnsup_conf *dc = z->conf;
	ssize_t n;
	size_t want;
	int err = 0;
	socklen_t elen = sizeof(err);

	if (z->outoff < z->outlen) {
		if (z->outoff == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR,
		    &err, &elen) == -1 || err != 0)) {
			zone_error(z, "server %s port %u: %s", dc->server,
			    dc->port, strerror(err != 0 ? err : errno));
			return;
		}
		n = write(fd, z->out + z->outoff, z->outlen - z->outoff);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			zone_error(z, "server %s port %u: %s", dc->server,
			    dc->port, n == 0 ? "closed" : strerror(errno));
			return;
		}
		z->outoff += (size_t)n;
		if (z->outoff == z->outlen)
			ev_io_set(z->io, POLLIN);
		return;
	}
	want = z->inlen < 2 ? 2 : 2 + ((size_t)z->in[0] << 8 | z->in[1]);
	n = read(fd, z->in + z->inlen, want - z->inlen);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		zone_error(z, "server %s port %u: %s before answering",
		    dc->server, dc->port, n == 0 ? "connection closed" :
		    strerror(errno));
		return;
	}
	z->inlen += (size_t)n;
	if (z->inlen == 2 && (z->in[0] << 8 | z->in[1]) < 12) {
		zone_error(z, "server %s port %u: an answer too short",
		    dc->server, dc->port);
		return;
	}
	if (z->inlen >= 2 && z->inlen == 2 + ((size_t)z->in[0] << 8 |
	    z->in[1]))
		tx_answer(z);
}

/* --- what to send next ----------------------------------------------- */
static int
send_sweep(struct dzone *z)
{
	ldns_rdf *name;
	ldns_pkt *p;

	if ((name = ldns_dname_new_frm_str(z->index)) == NULL)
		return -1;
	if ((p = ldns_pkt_query_new(name, LDNS_RR_TYPE_PTR, LDNS_RR_CLASS_IN,
	    0)) == NULL) {
		ldns_rdf_deep_free(name);
		return -1;
	}
	return tx_start(z, p, TX_SWEEP);
}

static int
send_update(struct dzone *z)
{
	ldns_rr_list *up, *stale = NULL;
	struct dsvc *s;
	ldns_pkt *p;
	size_t n = 0, live, size = 0, cost;
	int ret = -1;

	if ((up = ldns_rr_list_new()) == NULL)
		return -1;
	if (z->stale != NULL) {
		if ((stale = ldns_rr_list_clone(z->stale)) == NULL ||
		    !ldns_rr_list_cat(up, stale))
			goto out;
		ldns_rr_list_free(stale);	/* its records are up's now */
		stale = NULL;
	}
	live = count_live(z);
	z->tx_host = 0;
	if (z->sweep_more)
		goto send;	/* the stale first, in rounds */
	if (live > 0 && !z->host_live) {
		if (dnsrec_host(z, up, 1) == -1)
			goto out;
		z->tx_host = 1;
	} else if (live == 0 && (z->host_live || z->stale != NULL)) {
		if (dnsrec_host(z, up, 0) == -1)
			goto out;
		z->tx_host = -1;
	}
	TAILQ_FOREACH(s, &z->svcs, entry) {
		if (s->state == DS_REFUSED || s->sent_gen == s->gen ||
		    (s->state == DS_DEL && !s->indns))
			continue;
		cost = DNSUP_SVC_OVERHEAD + dnsrec_txt_wire(&s->txt);
		if (n == DNSUP_BATCH_MAX || (n > 0 && size + cost >
		    DNSUP_MSG_BUDGET - z->nstale * 800))
			break;
		size += cost;
		if (dnsrec_svc(z, s, up) == -1)
			goto out;
		s->inflight = 1;
		s->sent_gen = s->gen;
		s->sent_state = s->state;
		n++;
	}
 send:
	if (ldns_rr_list_rr_count(up) == 0) {
		ret = 0;
		goto out;
	}
	if ((p = dnsrec_update_pkt(z, NULL, up)) == NULL)
		goto out;
	ret = tx_start(z, p, TX_UPDATE) == -1 ? 0 : 1;
 out:
	if (stale != NULL)
		ldns_rr_list_deep_free(stale);
	ldns_rr_list_deep_free(up);
	if (ret == -1)
		zone_error(z, "out of memory building an update");
	return ret;
}

/* Remove _services PTR _type._tcp.ZONE if no instance of it is left
 * (prerequisite: no PTR RRset at _type._tcp.ZONE). */
static int
send_gc(struct dzone *z)
{
	ldns_rr_list *pr = NULL, *up = NULL;
	char tname[DNSSD_MAXTYPE + 300];
	ldns_pkt *p = NULL;
	int ret = -1;

	snprintf(tname, sizeof(tname), "%s.%s.", z->gc[0], z->conf->zone);
	if ((pr = ldns_rr_list_new()) == NULL ||
	    (up = ldns_rr_list_new()) == NULL ||
	    dnsrec_rrset_op(pr, tname, LDNS_RR_TYPE_PTR,
	    LDNS_RR_CLASS_NONE) == -1 ||
	    dnsrec_del_rr(up, "_services._dns-sd._udp.%s. IN PTR %s",
	    z->conf->zone, tname) == -1 ||
	    (p = dnsrec_update_pkt(z, pr, up)) == NULL ||
	    (z->tx_gc = strdup(z->gc[0])) == NULL)
		goto out;
	ret = tx_start(z, p, TX_GC) == -1 ? 0 : 1;
	p = NULL;
 out:
	if (p != NULL)
		ldns_pkt_free(p);
	if (pr != NULL)
		ldns_rr_list_deep_free(pr);
	if (up != NULL)
		ldns_rr_list_deep_free(up);
	return ret;
}

int
dnszone_pending(const struct dzone *z)
{
	const struct dsvc *s;

	if (z->stale != NULL || (z->host_live && count_live(z) == 0))
		return 1;
	TAILQ_FOREACH(s, &z->svcs, entry)
		if (s->state != DS_REFUSED && s->sent_gen != s->gen &&
		    !(s->state == DS_DEL && !s->indns))
			return 1;
	return 0;
}

static void
zone_run(struct dzone *z)
{
	const struct dnsup_conf *dc = z->conf;
	struct dsvc *s, *next;
	char a[INET6_ADDRSTRLEN];
	size_t i;
	int own = 0;

	/* never in DNS, now withdrawn: nothing to do */
	TAILQ_FOREACH_SAFE(s, &z->svcs, entry, next)
		if (s->state == DS_DEL && !s->indns && !s->inflight)
			dnszone_svc_free(s);
	for (i = 0; i < dc->naddr; i++)
		own |= dnsup_addr_own(&dc->addr[i], dc->addrlen[i]);
	if (!own) {
		exp_format_addr((const struct sockaddr *)&dc->addr[0], a,
		    sizeof(a));
		snprintf(z->error, sizeof(z->error), "address %s%s is not an "
		    "address of this host: nothing is published in the zone",
		    a, dc->naddr > 1 ? " (nor any other given)" : "");
		if (!z->notown)
			log_warnx("dns-update %s: %s", dc->zone, z->error);
		z->notown = 1;
		ev_timer_set(z->timer, DNSUP_BACKOFF_MAX_MS / 4);
		return;
	}
	if (z->notown) {
		z->notown = 0;
		z->error[0] = '\0';
	}
	if (!z->swept) {
		if (send_sweep(z) == -1)
			zone_error(z, "out of memory building a query");
		return;
	}
	if (dnszone_pending(z)) {
		(void)send_update(z);
		return;
	}
	if (z->ngc > 0)
		(void)send_gc(z);
}

static void
zone_timer_cb(void *arg)
{
	struct dzone *z = arg;

	if (z->tx != TX_NONE) {
		zone_error(z, "server %s port %u: no answer in %d s",
		    z->conf->server, z->conf->port, DNSUP_TIMEOUT_MS / 1000);
		return;
	}
	zone_run(z);
	if (z->tx == TX_NONE && z->quitting && !dnsup_busy(z->d))
		z->d->agent->remote_stopped(z->d->agent);
}

/* Something changed: send it after the batch time, keeping the gap and
 * any backoff. */
void
dnszone_kick(struct dzone *z)
{
	uint64_t now = ev_now_ms(), at;

	if (z->tx != TX_NONE)
		return;
	at = now + (z->quitting ? 0 : DNSUP_BATCH_MS);
	if (z->last_try != 0 && at < z->last_try + DNSUP_GAP_MS)
		at = z->last_try + DNSUP_GAP_MS;
	if (z->attempts > 0 && at < z->retry_at)
		at = z->retry_at;
	/* a batch (or a backoff) already waits: changes join it */
	if (ev_timer_pending(z->timer))
		return;
	ev_timer_set(z->timer, at - now);
}

int
dnsup_busy(struct dnsup *d)
{
	struct dzone *z;

	if (d == NULL)
		return 0;
	TAILQ_FOREACH(z, &d->zones, entry) {
		if (z->notown)
			continue;
		if (z->tx != TX_NONE || (z->swept && (dnszone_pending(z) ||
		    z->ngc > 0)))
			return 1;
	}
	return 0;
}

#endif	/* HAVE_LDNS */
