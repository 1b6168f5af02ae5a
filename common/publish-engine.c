/* The publisher's engine: one mDNS connection (mdns.h), one registration
 * per service. It runs in the publisher's child process (publish-proc.c),
 * which the parent's publish.c feeds; blocking here blocks nobody else.
 *
 * How it runs. The user is never called from inside a responder callback
 * nor from a publisher_*() call: entry state changes are queued and
 * delivered from the loop (publish-notify.c), so user code runs only
 * there and may do anything, eng_free() included. Connection state
 * changes withdraw everything when the responder leaves RUNNING and arm
 * the sync timer, which publishes what waits when it is RUNNING.
 *
 * Every responder call may block (with avahi, a D-Bus round trip: well
 * under a millisecond, much longer while the daemon is busy probing, up to
 * libdbus's 25 s timeout when it hangs). So no publisher_*() call talks to
 * the responder: add, update and remove only queue, and the sync timer
 * works the queues in slices of PUB_SLICE_MS, letting the loop serve
 * everything else in between. Withdrawals go first, so that removing "X"
 * and adding "X" again never collides with itself, and are paced
 * (PUB_WD_MAX per PUB_WD_MS): avahi-daemon sends a freed registration's
 * goodbyes at once, and a receiver drops what overflows its socket
 * buffer. eng_drain() lets the child withdraw everything so before it
 * frees the connection. A name refused as in use on this host waits,
 * rather than being renamed, while a child of ours that is ending holds
 * it (pubproc_withdrawer()). Publications are paced
 * (PUB_PACE_MAX per PUB_PACE_MS) and at most PUB_PROBING_MAX probe at
 * once, the next ones going as earlier ones are established: avahi's
 * schedulers walk every record in flight for each one they add, so its
 * work, and the time it takes to answer each call, grow with the square
 * of the services probing at once (measurements in docs/ARCHITECTURE.md,
 * "Publishing"). A call that failed after PUB_STALL_MS means a hung
 * responder: the next one waits PUB_STALL_RETRY_MS.
 *
 * Invariants. e->reg != NULL while the entry is handed to the responder
 * (REGISTERING or ESTABLISHED), while it is dead (removed by the user, on
 * pub->dead until its registration is freed), and while it waits after a
 * transient error (the registration is then refilled: freeing it would
 * be one more call to a responder that does not answer, and forgetting it
 * could publish twice) or for a name a withdrawer holds (entry_hold(),
 * refilled the same way). A registration is committed only when complete:
 * nothing is ever half-published. Names change only through
 * entry_rename() (pub_alternative_name), so the sequence is
 * deterministic: "A", "A #2", "A #3" ...
 *
 * Rate limits. avahi-daemon holds back the commits of a group itself (1 s
 * between them, 20 s after 15 quick ones), so a collision is answered by
 * filling the *same* registration again, which keeps that accounting; we
 * add no timer of our own and never loop on a collision except for the
 * bounded synchronous renames of a local collision at add time. */
#include "config.h"

#include <sys/queue.h>

#include <net/if.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "mdns.h"
#include "proto.h"
#include "publish.h"
#include "publish-int.h"
#include "xmalloc.h"

#define PUB_SLICE_MS		20	/* responder calls per loop turn */
#define PUB_PACE_MS		100	/* pacing: at most PUB_PACE_MAX */
#define PUB_PACE_MAX		50	/* publications per PUB_PACE_MS */
#define PUB_PROBING_MAX		128	/* registrations probing at once */
#define PUB_WD_MS		20	/* pacing: at most PUB_WD_MAX */
#define PUB_WD_MAX		10	/* withdrawals per PUB_WD_MS */
#define PUB_HOLD_RETRY_MS	250	/* a name a withdrawer holds: again */
#define PUB_RETRY_MS		1000	/* after a transient error */
#define PUB_STALL_MS		5000	/* a failed call this slow: hung */
#define PUB_STALL_RETRY_MS	30000	/* ... then leave it alone this long */
#define PUB_RECONNECT_MIN_MS	500	/* no D-Bus: retry, doubling */
#define PUB_RECONNECT_MAX_MS	10000

#define UPD_TXT		0x1	/* TXT changed: update in place */
#define UPD_READD	0x2	/* port changed: fill again and commit */

static void	pub_destroy(struct pub_engine *);

/* --- notifications ------------------------------------------------------ */

static void
entry_notify(struct eng_entry *e)
{
	pub_notify_item(&e->pub->nq, &e->nl, e);
}

static void
entry_set_state(struct eng_entry *e, enum pub_state st)
{
	if (e->state == st)
		return;
	e->state = st;
	if (st != PUB_FAILED) {
		e->err[0] = '\0';
		e->fail_code = 0;
	}
	entry_notify(e);
}

static void
destroy(void *owner)
{
	pub_destroy(owner);
}

static void
deliver(void *owner, void *item, int up)
{
	struct pub_engine *pub = owner;

	if (pub->cb != NULL)
		pub->cb(pub, item, up, pub->arg);
}

/* --- entries ------------------------------------------------------------ */

static void
sync_soon(struct pub_engine *pub, unsigned ms)
{
	if (ms == 0 || !ev_timer_pending(pub->sync_timer))
		ev_timer_set(pub->sync_timer, ms);
}

static void
entry_where(struct eng_entry *e)
{
	char ifname[IF_NAMESIZE];

	switch (e->sv.scope) {
	case PUB_SCOPE_LAN:
		snprintf(e->where, sizeof(e->where), "on all interfaces");
		break;
	case PUB_SCOPE_IFACE:
		if (if_indextoname((unsigned)e->sv.ifindex, ifname) != NULL)
			snprintf(e->where, sizeof(e->where), "on %s", ifname);
		else
			snprintf(e->where, sizeof(e->where), "on interface "
			    "#%d", e->sv.ifindex);
		break;
	case PUB_SCOPE_HOST:
		snprintf(e->where, sizeof(e->where), "on lo (host only)");
		break;
	}
}

static void
entry_drop_reg(struct eng_entry *e)
{
	if (e->reg == NULL)
		return;
	mdns_reg_free(e->reg);
	e->reg = NULL;
	e->pub->nregs--;
}

static void
entry_fail(struct eng_entry *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
entry_fail(struct eng_entry *e, int code, const char *fmt, ...)
{
	va_list ap;

	entry_drop_reg(e);
	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	e->fail_code = code;
	log_warnx("publish \"%s\" %s %s: %s", e->sv.name, e->sv.type, e->where,
	    e->err);
	if (e->state != PUB_FAILED) {
		e->state = PUB_FAILED;
		entry_notify(e);
	}
}

/* A responder call failed with code (MDNS_ERR_*): either the responder is
 * going away (wait and retry; a restart republishes anyway) or it
 * refuses (FAILED). */
int
pubent_error(struct eng_entry *e, int code, const char *what,
    const char *cause)
{
	struct pub_engine *pub = e->pub;

	if (cause == NULL)
		cause = "error";
	if (what == NULL) {	/* cause names the step */
		what = cause;
		cause = NULL;
	}
	switch (code) {
	case MDNS_ERR_OBJECTS:
		entry_fail(e, code, "%s: avahi-daemon's limit of objects per "
		    "client reached (%zu entry groups in use; "
		    "objects-per-client-max in avahi-daemon.conf, default "
		    "1024)", what, pub->nregs);
		return -1;
	case MDNS_ERR_ENTRIES:
		entry_fail(e, code, "%s: avahi-daemon's limit of entries per "
		    "group reached (entries-per-entry-group-max)", what);
		return -1;
	case MDNS_ERR_DOWN:
	case MDNS_ERR_NOMEM:
		break;
	default:
		entry_fail(e, code, "%s%s%s", what, cause != NULL ? ": " : "",
		    cause != NULL ? cause : "");
		return -1;
	}
	log_warnx("publish \"%s\" %s %s: %s%s%s; will retry", e->sv.name,
	    e->sv.type, e->where, what, cause != NULL ? ": " : "",
	    cause != NULL ? cause : "");
	entry_set_state(e, PUB_WAITING);
	sync_soon(pub, PUB_RETRY_MS);
	return -1;
}

static int
entry_rename(struct eng_entry *e, const char *why)
{
	char *alt;

	if (e->renames >= PUB_MAX_RENAMES) {
		entry_fail(e, MDNS_ERR_COLLISION, "%s; gave up after %u "
		    "renames", why, e->renames);
		return -1;
	}
	if ((alt = pub_alternative_name(e->sv.name)) == NULL) {
		entry_fail(e, MDNS_ERR_NOMEM, "%s; no alternative name", why);
		return -1;
	}
	log_warnx("publish \"%s\" %s %s: %s, renamed to \"%s\"", e->sv.name,
	    e->sv.type, e->where, why, alt);
	free(e->sv.name);
	e->sv.name = alt;
	e->renames++;
	entry_notify(e);
	return 0;
}

/* The name is held by another client of the responder on this host. If
 * that is a publisher's child of ours still withdrawing it (an agent
 * stopped and started again: the old one's goodbyes are paced), wait for
 * it rather than rename, for at most PUB_LINGER_MS. Returns 1 if e now
 * waits for it (WAITING until e->hold_until). */
static int
entry_hold(struct eng_entry *e)
{
	struct pub_engine *pub = e->pub;
	uint64_t now = ev_now_ms();
	const char *host;
	pid_t pid;

	if (e->hold_since != 0 && now - e->hold_since >= PUB_LINGER_MS)
		return 0;
	if ((host = mdns_host_name(pub->mdns)) == NULL ||
	    (pid = pubproc_withdrawer(host)) <= 0)
		return 0;
	if (e->hold_since == 0) {
		e->hold_since = now;
		log_info("publish \"%s\" %s %s: name in use on this host by "
		    "process %ld, which is withdrawing it; waiting for it",
		    e->sv.name, e->sv.type, e->where, (long)pid);
	}
	e->hold_until = now + PUB_HOLD_RETRY_MS;
	entry_set_state(e, PUB_WAITING);
	return 1;
}

/* --- publishing an entry ------------------------------------------------ */

static void	entry_reg_cb(struct mdns_reg *, enum mdns_reg_event, int,
		    const char *, void *);

static void
entry_service(const struct eng_entry *e, struct mdns_service *s)
{
	memset(s, 0, sizeof(*s));
	s->name = e->sv.name;
	s->type = e->sv.type;
	s->domain = e->sv.domain;
	s->port = e->sv.port;
	s->txt = &e->sv.txt;
	switch (e->sv.scope) {
	case PUB_SCOPE_LAN:
		break;
	case PUB_SCOPE_IFACE:
		s->ifindex = e->sv.ifindex;
		break;
	case PUB_SCOPE_HOST:
		s->flags = MDNS_HOST_SCOPE;
		s->host = e->pub->hfqdn;
		break;
	}
}

/* Hand e to the responder: a new registration (or the old one, filled
 * again), committed. On return e is REGISTERING, WAITING (after a
 * transient error; the registration is kept for the next try) or FAILED
 * (the registration is freed). */
int
pubent_publish(struct eng_entry *e)
{
	struct pub_engine *pub = e->pub;
	struct mdns_service s;
	char *cause = NULL;
	int r;

	e->upd = 0;	/* a re-add takes the current TXT and port */
	if (e->sv.scope == PUB_SCOPE_HOST &&
	    (r = pub_host_ensure(pub, &cause)) < 0)
		goto fail_what_host;
	if (e->reg == NULL) {
		if ((e->reg = mdns_reg_new(pub->mdns, entry_reg_cb, e, &r,
		    &cause)) == NULL)
			goto fail_new;
		pub->nregs++;
	}
	for (;;) {
		entry_service(e, &s);
		if ((r = mdns_reg_set(e->reg, &s, &cause)) != MDNS_ERR_COLLISION)
			break;
		free(cause);
		cause = NULL;
		if (entry_hold(e))
			return -1;
		e->hold_since = 0;
		if (entry_rename(e, "name in use on this host") == -1)
			return -1;
	}
	if (r < 0) {
		pubent_error(e, r, NULL, cause);
		free(cause);
		return -1;
	}
	e->hold_since = 0;
	log_info("publish \"%s\" %s %s: port %u, probing", e->sv.name,
	    e->sv.type, e->where, e->sv.port);
	entry_set_state(e, PUB_REGISTERING);
	return 0;

fail_what_host:
	pubent_error(e, r, "address record on lo", cause);
	free(cause);
	return -1;
fail_new:
	pubent_error(e, r, "new entry group", cause);
	free(cause);
	return -1;
}

static void
entry_reg_cb(struct mdns_reg *reg, enum mdns_reg_event ev, int code,
    const char *err, void *arg)
{
	struct eng_entry *e = arg;
	struct pub_engine *pub = e->pub;

	/* Signals of a registration being withdrawn, or arriving while the
	 * responder is going down (the state callback drops everything). */
	if (e->dead || reg != e->reg || e->state == PUB_WAITING ||
	    !pub->running)
		return;
	switch (ev) {
	case MDNS_REG_ESTABLISHED:
		if (e->state != PUB_ESTABLISHED)
			log_info("publish \"%s\" %s %s: established",
			    e->sv.name, e->sv.type, e->where);
		e->renames = 0;
		entry_set_state(e, PUB_ESTABLISHED);
		sync_soon(pub, 0);	/* room for one more probing */
		break;
	case MDNS_REG_PROBING:
		entry_set_state(e, PUB_REGISTERING);
		break;
	case MDNS_REG_COLLISION:
		/* the responder withdrew the records (without goodbyes);
		 * re-add under the next name from the loop, like updates */
		if (entry_rename(e, "collision") == 0) {
			entry_set_state(e, PUB_REGISTERING);
			e->upd |= UPD_READD;
			sync_soon(pub, 0);
		}
		break;
	case MDNS_REG_FAILED:
		pubent_error(e, code, "avahi", err);
		break;
	}
}

static void
entry_free(struct eng_entry *e)
{
	pub_svc_clear(&e->sv);
	free(e);
}

/* Did the call started at t0 take so long that the responder seems
 * hung? */
static int
stalled(struct pub_engine *pub, uint64_t t0)
{
	uint64_t now = ev_now_ms();

	if (now - t0 < PUB_STALL_MS)
		return 0;
	pub->stall_until = now + PUB_STALL_RETRY_MS;
	log_warnx("avahi-daemon took %llu ms to answer a call; next call in "
	    "%d s", (unsigned long long)(now - t0), PUB_STALL_RETRY_MS / 1000);
	return 1;
}

/* Apply a queued update of a published entry. */
static int
entry_update(struct eng_entry *e)
{
	struct mdns_service s;
	char *cause = NULL;
	int r, upd = e->upd;

	e->upd = 0;
	if (upd & UPD_READD)
		return pubent_publish(e);	/* same name, new port */
	entry_service(e, &s);
	if ((r = mdns_reg_update_txt(e->reg, &s, &cause)) < 0) {
		if (r == MDNS_ERR_DOWN || r == MDNS_ERR_NOMEM) {
			pubent_error(e, r, "TXT update", cause);
			free(cause);
			return -1;
		}
		log_warnx("publish \"%s\" %s %s: TXT update: %s; re-adding",
		    e->sv.name, e->sv.type, e->where, cause);
		free(cause);
		return pubent_publish(e);
	}
	log_info("publish \"%s\" %s %s: TXT updated (%zu items)", e->sv.name,
	    e->sv.type, e->where, e->sv.txt.n);
	return 0;
}

/* Free the registrations of removed entries (goodbyes), within the slice
 * and paced: avahi-daemon sends a freed group's goodbyes at once, every
 * record on every interface and address family, and a receiver whose
 * socket buffer overflows keeps what it missed for the record's TTL (75
 * minutes for the PTR record). Returns 1 when all are done, else 0 with
 * the ms to wait in *wait. */
static int
withdraw_dead(struct pub_engine *pub, uint64_t until, unsigned *wait)
{
	struct eng_entry *e;
	int freed = 0;
	unsigned ms;

	*wait = 0;
	while ((e = TAILQ_FIRST(&pub->dead)) != NULL) {
		uint64_t t0 = ev_now_ms();

		if (freed && t0 >= until)
			return 0;
		if ((ms = pub_pace_take(&pub->wd_pace, t0, PUB_WD_MAX,
		    PUB_WD_MS)) != 0) {
			*wait = ms;
			return 0;
		}
		TAILQ_REMOVE(&pub->dead, e, link);
		entry_drop_reg(e);
		entry_free(e);
		freed = 1;
		if (stalled(pub, t0)) {
			*wait = PUB_STALL_RETRY_MS;
			return 0;
		}
	}
	return 1;
}

/* An object slot was freed: give one entry that hit the limit a chance. */
static void
retry_object_limit(struct pub_engine *pub)
{
	struct eng_entry *e;

	TAILQ_FOREACH(e, &pub->entries, link)
		if (e->state == PUB_FAILED &&
		    e->fail_code == MDNS_ERR_OBJECTS) {
			entry_set_state(e, PUB_WAITING);
			sync_soon(pub, 0);
			return;
		}
}

/* --- the connection and the sync timer ---------------------------------- */

/* Forget every registration (dead ones, after the responder went, cost
 * nothing to free). Every entry waits for the next RUNNING (FAILED ones
 * get another chance). */
static void
withdraw_all(struct pub_engine *pub)
{
	struct eng_entry *e;

	while ((e = TAILQ_FIRST(&pub->dead)) != NULL) {
		TAILQ_REMOVE(&pub->dead, e, link);
		entry_drop_reg(e);
		entry_free(e);
	}
	TAILQ_FOREACH(e, &pub->entries, link) {
		entry_drop_reg(e);
		e->renames = 0;
		e->hold_since = e->hold_until = 0;
		entry_set_state(e, PUB_WAITING);
	}
	pub_host_drop(pub);
	if (pub->drained != NULL)
		sync_soon(pub, 0);	/* nothing left to withdraw */
	if (pub->running) {
		pub->running = 0;
		pub_notify_up(&pub->nq, 0);
		log_warnx("avahi-daemon not running: %zu services wait for it",
		    pub->nentries);
	}
}

static void
mdns_cb(struct mdns *m, enum mdns_state st, const char *why, void *arg)
{
	struct pub_engine *pub = arg;

	switch (st) {
	case MDNS_DOWN:
		if (pub->running)
			log_warnx("avahi: %s; reconnecting", why != NULL ? why :
			    "gone");
		else if (why != NULL && strstr(why, "D-Bus") != NULL)
			log_info("avahi: %s; waiting for it", why);
		else
			log_info("avahi-daemon is not running; waiting for it");
		withdraw_all(pub);
		break;
	case MDNS_BUSY:
		log_info("avahi-daemon is registering its host name (or "
		    "picking another); waiting for it");
		withdraw_all(pub);
		break;
	case MDNS_RUNNING:
		if (!pub->running) {
			pub->running = 1;
			pub_notify_up(&pub->nq, 1);
			log_info("avahi-daemon running: publishing %zu "
			    "services", pub->nentries);
		}
		sync_soon(pub, 0);
		break;
	}
}

/* One slice of work: withdrawals first, then updates and what waits, in
 * order. */
static void
sync_cb(void *arg)
{
	struct pub_engine *pub = arg;
	struct eng_entry *e;
	uint64_t now = ev_now_ms(), until = now + PUB_SLICE_MS, held = 0;
	size_t nprobing;
	unsigned wait;
	void (*drained)(void *);

	/* draining: done when nothing is left, or the responder hangs (the
	 * rest goes with the connection) */
	if (pub->drained != NULL && (TAILQ_EMPTY(&pub->dead) ||
	    now < pub->stall_until)) {
		drained = pub->drained;
		pub->drained = NULL;
		drained(pub->drained_arg);
		return;
	}
	if (!pub->running)
		return;
	if (now < pub->stall_until) {
		sync_soon(pub, (unsigned)(pub->stall_until - now));
		return;
	}
	if (!withdraw_dead(pub, until, &wait)) {
		sync_soon(pub, wait);
		return;
	}
	if (pub->drained != NULL) {
		sync_soon(pub, 0);
		return;
	}
	nprobing = 0;
	TAILQ_FOREACH(e, &pub->entries, link)
		if (e->state == PUB_REGISTERING)
			nprobing++;
	TAILQ_FOREACH(e, &pub->entries, link) {
		enum pub_state was;
		uint64_t t0;
		unsigned ms;
		int r;

		if (e->state != PUB_WAITING && e->upd == 0)
			continue;
		/* the next one goes when one is established (entry_reg_cb) */
		if (e->state == PUB_WAITING && nprobing >= PUB_PROBING_MAX)
			continue;
		if ((now = ev_now_ms()) >= until) {
			sync_soon(pub, 0);	/* the rest next turn */
			return;
		}
		if (e->state == PUB_WAITING && e->hold_until > now) {
			if (held == 0 || e->hold_until < held)
				held = e->hold_until;
			continue;
		}
		if ((ms = pub_pace_take(&pub->pace, now, PUB_PACE_MAX,
		    PUB_PACE_MS)) != 0) {
			sync_soon(pub, ms);
			return;
		}
		t0 = now;
		was = e->state;
		e->hold_until = 0;
		if (e->state == PUB_WAITING)
			r = pubent_publish(e);
		else
			r = entry_update(e);
		if (was != PUB_REGISTERING && e->state == PUB_REGISTERING)
			nprobing++;
		if (r == -1 && e->state == PUB_WAITING && e->hold_until != 0) {
			if (held == 0 || e->hold_until < held)
				held = e->hold_until;
			continue;
		}
		if (r == -1 && e->state == PUB_WAITING) {
			/* the responder is going away, or hangs: later */
			if (stalled(pub, t0))
				sync_soon(pub, PUB_STALL_RETRY_MS);
			return;
		}
	}
	if (held != 0) {
		now = ev_now_ms();
		sync_soon(pub, held > now ? (unsigned)(held - now) : 0);
	}
}

/* --- API ---------------------------------------------------------------- */

unsigned
pub_pace_take(struct pub_pace *p, uint64_t now, unsigned max,
    unsigned window_ms)
{
	if (now - p->start >= window_ms) {
		p->start = now;
		p->count = 0;
	}
	if (p->count >= max)
		return (unsigned)(p->start + window_ms - now);
	p->count++;
	return 0;
}

struct pub_engine *
eng_new(struct ev_loop *loop, eng_cb cb, void *arg)
{
	struct pub_engine *pub;

	pub = xcalloc(1, sizeof(*pub));
	pub->loop = loop;
	pub->cb = cb;
	pub->arg = arg;
	TAILQ_INIT(&pub->entries);
	TAILQ_INIT(&pub->dead);
	pub_notify_init(&pub->nq, loop, deliver, destroy, pub);
	if ((pub->sync_timer = ev_timer_add(loop, sync_cb, pub)) == NULL ||
	    (pub->mdns = mdns_new(loop, mdns_cb, pub,
	    PUB_RECONNECT_MIN_MS, PUB_RECONNECT_MAX_MS)) == NULL)
		fatal("publisher");	/* only out of memory */
	return pub;
}

static void
pub_destroy(struct pub_engine *pub)
{
	struct eng_entry *e;

	/* Freeing the connection withdraws all its registrations at once,
	 * with goodbyes (with avahi, one D-Bus disconnection): eng_drain()
	 * first paces them. */
	while ((e = TAILQ_FIRST(&pub->entries)) != NULL) {
		TAILQ_REMOVE(&pub->entries, e, link);
		entry_free(e);
	}
	while ((e = TAILQ_FIRST(&pub->dead)) != NULL) {
		TAILQ_REMOVE(&pub->dead, e, link);
		entry_free(e);
	}
	pub->hreg = NULL;
	mdns_free(pub->mdns);
	ev_timer_del(pub->sync_timer);
	pub_notify_clear(&pub->nq);
	free(pub);
}

void
eng_free(struct pub_engine *pub)
{
	if (pub == NULL)
		return;
	if (!pub_notify_defer_free(&pub->nq))
		pub_destroy(pub);
}

int
eng_running(const struct pub_engine *pub)
{
	return pub->running;
}

struct eng_entry *
eng_add(struct pub_engine *pub, const struct pub_spec *spec,
    void *entry_arg)
{
	struct eng_entry *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if (pub_svc_set(&e->sv, spec) == -1) {
		free(e);
		return NULL;
	}
	e->pub = pub;
	e->arg = entry_arg;
	e->state = PUB_WAITING;
	entry_where(e);
	TAILQ_INSERT_TAIL(&pub->entries, e, link);
	pub->nentries++;
	if (pub->running)
		sync_soon(pub, 0);
	else
		log_debug("publish \"%s\" %s %s: waiting for avahi", e->sv.name,
		    e->sv.type, e->where);
	return e;
}

int
eng_update(struct eng_entry *e, const struct txt *txt, uint16_t port)
{
	struct pub_engine *pub = e->pub;
	uint16_t oport = e->sv.port;
	int changed, txt_changed, port_changed;
	char *cause = NULL;

	if ((changed = pub_svc_update(&e->sv, txt, port, &cause)) == -1) {
		if (cause != NULL) {
			log_warnx("publish \"%s\" %s %s: update: %s",
			    e->sv.name, e->sv.type, e->where, cause);
			free(cause);
			errno = EINVAL;
		}
		return -1;
	}
	txt_changed = (changed & PUB_CHANGED_TXT) != 0;
	port_changed = (changed & PUB_CHANGED_PORT) != 0;
	if (port_changed)
		log_info("publish \"%s\" %s %s: port %u -> %u", e->sv.name,
		    e->sv.type, e->where, oport, port);
	switch (e->state) {
	case PUB_WAITING:
		break;		/* publication takes the news */
	case PUB_FAILED:
		entry_set_state(e, PUB_WAITING);	/* try again */
		break;
	case PUB_REGISTERING:
	case PUB_ESTABLISHED:
		if (port_changed)
			e->upd |= UPD_READD;
		else if (txt_changed)
			e->upd |= UPD_TXT;
		break;
	}
	if (pub->running && (e->upd != 0 || e->state == PUB_WAITING))
		sync_soon(pub, 0);
	return 0;
}

void
eng_remove(struct eng_entry *e)
{
	struct pub_engine *pub;

	if (e == NULL)
		return;
	pub = e->pub;
	pub_notify_cancel(&pub->nq, &e->nl);
	TAILQ_REMOVE(&pub->entries, e, link);
	pub->nentries--;
	if (e->reg == NULL) {
		entry_free(e);
		return;
	}
	/* The registration goes from the sync timer (goodbyes cost a round
	 * trip each); until then e stays, as its callback argument. */
	log_info("withdraw \"%s\" %s %s", e->sv.name, e->sv.type, e->where);
	e->dead = 1;
	TAILQ_INSERT_TAIL(&pub->dead, e, link);
	sync_soon(pub, 0);
	retry_object_limit(pub);
}

void
eng_drain(struct pub_engine *pub, void (*drained)(void *), void *arg)
{
	pub->drained = drained;
	pub->drained_arg = arg;
	sync_soon(pub, 0);
}

enum pub_state
eng_entry_state(const struct eng_entry *e)
{
	return e->state;
}

const char *
eng_entry_name(const struct eng_entry *e)
{
	return e->sv.name;
}

const char *
eng_entry_error(const struct eng_entry *e)
{
	return e->state == PUB_FAILED ? e->err : NULL;
}

void *
eng_entry_arg(const struct eng_entry *e)
{
	return e->arg;
}
