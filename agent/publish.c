/* The publisher: one AvahiClient, one AvahiEntryGroup per service.
 *
 * How it runs. avahi-client calls us back from inside its D-Bus dispatch;
 * we never call the user from there. Client state changes only record the
 * state and arm the sync timer, which does the real work from the loop:
 * free and recreate a failed client, withdraw everything when the daemon
 * leaves RUNNING, publish what waits when it is RUNNING. Entry state
 * changes are queued and delivered to the user by the notify timer, so
 * user code runs only there and may do anything, publisher_free()
 * included.
 *
 * Every avahi-client call is a blocking D-Bus round trip: about 0.5 ms,
 * tens of ms while the daemon is busy probing, 25 s (libdbus's default
 * timeout, which avahi-client does not let us change) when it hangs. So
 * no publisher_*() call talks to avahi: add, update and remove only
 * queue, and the sync timer works the queues in slices of PUB_SLICE_MS,
 * letting the loop serve everything else in between. Withdrawals go
 * first, so that removing "X" and adding "X" again never collides with
 * itself. Publications are paced (PUB_PACE_MAX per PUB_PACE_MS, 100/s):
 * avahi-daemon's work grows faster than linearly with the number of
 * services probing at once, and a saturated daemon answers one call only
 * after seconds. Measured in the lab with 1,000 services: unpaced, the
 * loop stalled for up to 7.8 s and all were established after 11 s; paced,
 * the longest stall was 0.4 s and all were established after 12 s; up to
 * 100 services the pace costs nothing. A call that failed after
 * PUB_STALL_MS means a hung daemon: the next one waits PUB_STALL_RETRY_MS.
 *
 * Invariants. e->group != NULL while the entry is handed to avahi
 * (REGISTERING or ESTABLISHED), while it is dead (removed by the user, on
 * pub->dead until its group is freed), and while it waits after a
 * transient error (the group is then reset and reused: freeing it would
 * be one more call to a daemon that does not answer, and forgetting it
 * could publish twice). A group is committed only when complete and reset
 * before it is filled again: nothing is ever half-published. Names change
 * only through entry_rename() (avahi_alternative_service_name), so the
 * sequence is deterministic: "A", "A #2", "A #3" ...
 *
 * Rate limits. avahi-daemon holds back the commits of a group itself (1 s
 * between them, 20 s after 15 quick ones), so a collision is answered by
 * reset + add + commit on the *same* group, which keeps that accounting;
 * we add no timer of our own and never loop on a collision except for the
 * bounded synchronous renames of a local collision at add time. */
#include "config.h"

#include <sys/queue.h>

#include <net/if.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/address.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>

#include "escape.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "publish.h"

#define PUB_SLICE_MS		20	/* avahi calls per loop turn, at most */
#define PUB_PACE_MS		100	/* pacing: at most PUB_PACE_MAX */
#define PUB_PACE_MAX		10	/* publications per PUB_PACE_MS */
#define PUB_MAX_RENAMES		64	/* collisions in a row, then FAILED */
#define PUB_RETRY_MS		1000	/* after a transient avahi error */
#define PUB_STALL_MS		5000	/* a failed call this slow: hung daemon */
#define PUB_STALL_RETRY_MS	30000	/* ... then leave it alone this long */
#define PUB_RECONNECT_MIN_MS	500	/* avahi_client_new() failed (no D-Bus) */
#define PUB_RECONNECT_MAX_MS	10000
#define PUB_HOST_SUFFIX		"-rnsplice"
#define PUB_HOST_ADDR		"127.0.0.1"
#define PUB_ERRLEN		256

struct pub_entry {
	struct publisher	*pub;
	TAILQ_ENTRY(pub_entry)	 link;
	TAILQ_ENTRY(pub_entry)	 nlink;		/* notify queue */
	int			 queued;	/* on the notify queue */
	int			 dead;		/* removed; group not freed yet */
	int			 upd;		/* UPD_*: to do from the loop */
	char			*name;		/* in use */
	char			*type;
	char			*domain;	/* NULL: avahi's default */
	uint16_t		 port;
	struct txt		 txt;
	enum pub_scope		 scope;
	int			 ifindex;
	void			*arg;
	AvahiEntryGroup		*group;
	enum pub_state		 state;
	int			 fail_code;	/* AVAHI_ERR_* when FAILED */
	unsigned		 renames;	/* since last ESTABLISHED */
	char			 where[IF_NAMESIZE + 24];	/* "on eth0" */
	char			 err[PUB_ERRLEN];
};

#define UPD_TXT		0x1	/* TXT changed: update in place */
#define UPD_READD	0x2	/* port changed: reset + add + commit */

TAILQ_HEAD(pub_entries, pub_entry);

struct publisher {
	struct ev_loop		*loop;
	pub_cb			 cb;
	void			*arg;
	AvahiClient		*client;
	AvahiClientState	 cstate;	/* last state avahi reported */
	int			 client_dead;	/* FAILURE: free, recreate */
	int			 running;	/* groups may exist */
	int			 told_up;	/* last up/down delivered */
	int			 up_queued;
	unsigned		 reconnect_ms;
	uint64_t		 stall_until;	/* no avahi calls before */
	uint64_t		 pace_start;	/* current pacing window */
	unsigned		 pace_count;	/* publications in it */
	struct ev_timer		*sync_timer;
	struct ev_timer		*notify_timer;
	struct pub_entries	 entries;
	struct pub_entries	 notify;
	struct pub_entries	 dead;		/* removed, to withdraw */
	size_t			 nentries;
	size_t			 ngroups;	/* our objects in avahi-daemon */
	int			 lo_ifindex;	/* 0: no loopback */
	/* Host scope: <avahi host name>-rnsplice.<domain> -> 127.0.0.1 on lo
	 * only, the SRV target of every host-scope service. */
	AvahiEntryGroup		*hgroup;
	char			 hlabel[AVAHI_LABEL_MAX];
	char			 hfqdn[AVAHI_DOMAIN_NAME_MAX];
	unsigned		 hrenames;
	int			 delivering;
	int			 free_pending;
};

static int	entry_publish(struct pub_entry *);
static void	pub_destroy(struct publisher *);

/* --- pure helpers ------------------------------------------------------- */

static const char *const state_names[] = {
	[PUB_WAITING] = "waiting",
	[PUB_REGISTERING] = "registering",
	[PUB_ESTABLISHED] = "established",
	[PUB_FAILED] = "failed",
};

static const char *const scope_names[] = {
	[PUB_SCOPE_LAN] = "lan",
	[PUB_SCOPE_IFACE] = "iface",
	[PUB_SCOPE_HOST] = "host",
};

const char *
pub_state_name(enum pub_state s)
{
	if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[s];
}

const char *
pub_scope_name(enum pub_scope s)
{
	if ((size_t)s >= sizeof(scope_names) / sizeof(scope_names[0]))
		return "?";
	return scope_names[s];
}

int
pub_name_check(const char *name, char *err, size_t errlen)
{
	size_t len, i;

	if (name == NULL || *name == '\0') {
		snprintf(err, errlen, "empty service name");
		return -1;
	}
	len = strlen(name);
	if (!utf8_valid(name, len)) {
		snprintf(err, errlen, "service name is not valid UTF-8");
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] == 0x7f) {
			snprintf(err, errlen, "service name contains a "
			    "control character (byte %zu)", i + 1);
			return -1;
		}
	if (len > DNSSD_MAXNAME) {
		snprintf(err, errlen, "service name \"%s\" is %zu bytes long "
		    "(at most %d)", name, len, DNSSD_MAXNAME);
		return -1;
	}
	return 0;
}

int
pub_txt_check(const struct txt *t, char *err, size_t errlen)
{
	size_t i, total = 0;

	if (t == NULL)
		return 0;
	if (t->n > 0 && t->items == NULL) {
		snprintf(err, errlen, "TXT record without items");
		return -1;
	}
	for (i = 0; i < t->n; i++) {
		if (t->items[i].len > DNSSD_MAXTXTITEM) {
			snprintf(err, errlen, "TXT item %zu is %zu bytes long "
			    "(at most %d)", i + 1, t->items[i].len,
			    DNSSD_MAXTXTITEM);
			return -1;
		}
		if (t->items[i].len > 0 && t->items[i].data == NULL) {
			snprintf(err, errlen, "TXT item %zu has no data", i + 1);
			return -1;
		}
		total += t->items[i].len + 1;
	}
	if (total > DNSSD_MAXTXT) {
		snprintf(err, errlen, "TXT record is %zu bytes long (at most "
		    "%d)", total, DNSSD_MAXTXT);
		return -1;
	}
	return 0;
}

int
pub_spec_check(const struct pub_spec *s, char *err, size_t errlen)
{
	if (s == NULL) {
		snprintf(err, errlen, "no service");
		return -1;
	}
	if (pub_name_check(s->name, err, errlen) == -1)
		return -1;
	if (s->type == NULL || !proto_valid_type(s->type) ||
	    !avahi_is_valid_service_type_strict(s->type)) {
		snprintf(err, errlen, "\"%s\": \"%s\" is not a service type "
		    "(_name._tcp or _name._udp)", s->name,
		    s->type == NULL ? "" : s->type);
		return -1;
	}
	if (s->domain != NULL && (strlen(s->domain) > DNSSD_MAXDOMAIN ||
	    !utf8_valid(s->domain, strlen(s->domain)) ||
	    !avahi_is_valid_domain_name(s->domain))) {
		snprintf(err, errlen, "\"%s\": bad domain", s->name);
		return -1;
	}
	if (s->port == 0) {
		snprintf(err, errlen, "\"%s\": port 0", s->name);
		return -1;
	}
	switch (s->scope) {
	case PUB_SCOPE_LAN:
	case PUB_SCOPE_HOST:
		break;
	case PUB_SCOPE_IFACE:
		if (s->ifindex <= 0) {
			snprintf(err, errlen, "\"%s\": interface scope without "
			    "an interface", s->name);
			return -1;
		}
		break;
	default:
		snprintf(err, errlen, "\"%s\": unknown scope %d", s->name,
		    (int)s->scope);
		return -1;
	}
	if (pub_txt_check(s->txt, err, errlen) == -1)
		return -1;
	return 0;
}

int
pub_txt_to_strlst(const struct txt *t, AvahiStringList **out)
{
	AvahiStringList *l = NULL, *n;
	size_t i;

	*out = NULL;
	if (t == NULL)
		return 0;
	/* avahi prepends, and reverses again when it sends the list: adding
	 * in order gives the record in order. avahi refuses empty items
	 * ("Invalid record", avahi_record_is_valid()); RFC 6763 6.1 gives
	 * them no meaning (an empty TXT is one empty string, which avahi
	 * writes itself for the empty list): leave them out. */
	for (i = 0; i < t->n; i++) {
		if (t->items[i].len == 0)
			continue;
		if ((n = avahi_string_list_add_arbitrary(l,
		    t->items[i].data, t->items[i].len)) == NULL) {
			avahi_string_list_free(l);
			return -1;
		}
		l = n;
	}
	*out = l;
	return 0;
}

int
pub_strlst_to_txt(AvahiStringList *l, struct txt *out)
{
	AvahiStringList *p, **v;
	size_t n = 0, i;

	memset(out, 0, sizeof(*out));
	for (p = l; p != NULL; p = avahi_string_list_get_next(p))
		n++;
	if (n == 0)
		return 0;
	if ((v = reallocarray(NULL, n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0, p = l; p != NULL; p = avahi_string_list_get_next(p))
		v[i++] = p;
	for (i = n; i-- > 0;)
		if (txt_add(out, avahi_string_list_get_text(v[i]),
		    avahi_string_list_get_size(v[i])) == -1) {
			free(v);
			txt_free(out);
			return -1;
		}
	free(v);
	return 0;
}

char *
pub_alternative_name(const char *name)
{
	char tmp[8], *a, *r;

	if (pub_name_check(name, tmp, sizeof(tmp)) == -1)
		return NULL;
	if ((a = avahi_alternative_service_name(name)) == NULL)
		return NULL;
	r = strdup(a);
	avahi_free(a);
	return r;
}

int
pub_host_label(const char *host, char *out, size_t len)
{
	char label[AVAHI_LABEL_MAX];
	const size_t slen = sizeof(PUB_HOST_SUFFIX) - 1;
	const size_t max = sizeof(label) - 1 - slen;
	size_t n = 0, i;

	for (i = 0; host[i] != '\0' && n < max; i++) {
		unsigned char c = (unsigned char)host[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-')
			label[n++] = (char)c;
		else
			label[n++] = '-';
	}
	if (n == 0) {
		memcpy(label, "host", 4);
		n = 4;
	}
	memcpy(label + n, PUB_HOST_SUFFIX, slen + 1);
	if (strlcpy(out, label, len) >= len)
		return -1;
	return 0;
}

/* --- notifications ------------------------------------------------------ */

static void
notify_soon(struct publisher *pub)
{
	if (!ev_timer_pending(pub->notify_timer))
		ev_timer_set(pub->notify_timer, 0);
}

static void
entry_notify(struct pub_entry *e)
{
	if (!e->queued) {
		TAILQ_INSERT_TAIL(&e->pub->notify, e, nlink);
		e->queued = 1;
	}
	notify_soon(e->pub);
}

static void
entry_set_state(struct pub_entry *e, enum pub_state st)
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
notify_cb(void *arg)
{
	struct publisher *pub = arg;
	struct pub_entry *e;

	pub->delivering = 1;
	if (pub->up_queued) {
		pub->up_queued = 0;
		if (pub->running != pub->told_up) {
			pub->told_up = pub->running;
			if (pub->cb != NULL)
				pub->cb(pub, NULL, pub->running, pub->arg);
		}
	}
	while (!pub->free_pending && (e = TAILQ_FIRST(&pub->notify)) != NULL) {
		TAILQ_REMOVE(&pub->notify, e, nlink);
		e->queued = 0;
		if (pub->cb != NULL)
			pub->cb(pub, e, pub->running, pub->arg);
	}
	pub->delivering = 0;
	if (pub->free_pending)
		pub_destroy(pub);
}

/* --- entries ------------------------------------------------------------ */

static void
sync_soon(struct publisher *pub, unsigned ms)
{
	if (ms == 0 || !ev_timer_pending(pub->sync_timer))
		ev_timer_set(pub->sync_timer, ms);
}

static void
entry_where(struct pub_entry *e)
{
	char ifname[IF_NAMESIZE];

	switch (e->scope) {
	case PUB_SCOPE_LAN:
		snprintf(e->where, sizeof(e->where), "on all interfaces");
		break;
	case PUB_SCOPE_IFACE:
		if (if_indextoname((unsigned)e->ifindex, ifname) != NULL)
			snprintf(e->where, sizeof(e->where), "on %s", ifname);
		else
			snprintf(e->where, sizeof(e->where), "on interface "
			    "#%d", e->ifindex);
		break;
	case PUB_SCOPE_HOST:
		snprintf(e->where, sizeof(e->where), "on lo (host only)");
		break;
	}
}

static void
entry_drop_group(struct pub_entry *e, int free_it)
{
	if (e->group == NULL)
		return;
	if (free_it)
		avahi_entry_group_free(e->group);
	e->group = NULL;
	e->pub->ngroups--;
}

/* Errors that say "avahi is going away" rather than "avahi refuses". */
static int
transient(int code)
{
	switch (code) {
	case AVAHI_ERR_DISCONNECTED:
	case AVAHI_ERR_DBUS_ERROR:
	case AVAHI_ERR_NO_DAEMON:
	case AVAHI_ERR_BAD_STATE:
	case AVAHI_ERR_TIMEOUT:
	case AVAHI_ERR_NO_MEMORY:
		return 1;
	}
	return 0;
}

static void
entry_fail(struct pub_entry *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
entry_fail(struct pub_entry *e, int code, const char *fmt, ...)
{
	va_list ap;

	entry_drop_group(e, 1);
	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	e->fail_code = code;
	log_warnx("publish \"%s\" %s %s: %s", e->name, e->type, e->where,
	    e->err);
	if (e->state != PUB_FAILED) {
		e->state = PUB_FAILED;
		entry_notify(e);
	}
}

/* An avahi call failed with code: either avahi is going away (wait and
 * retry; a restart republishes anyway) or it refuses (FAILED). */
static int
entry_error(struct pub_entry *e, int code, const char *what)
{
	struct publisher *pub = e->pub;

	if (code == AVAHI_ERR_TOO_MANY_OBJECTS) {
		entry_fail(e, code, "%s: avahi-daemon's limit of objects per "
		    "client reached (%zu entry groups in use; "
		    "objects-per-client-max in avahi-daemon.conf, default "
		    "1024)", what, pub->ngroups);
		return -1;
	}
	if (code == AVAHI_ERR_TOO_MANY_ENTRIES) {
		entry_fail(e, code, "%s: avahi-daemon's limit of entries per "
		    "group reached (entries-per-entry-group-max)", what);
		return -1;
	}
	if (!transient(code)) {
		entry_fail(e, code, "%s: %s", what, avahi_strerror(code));
		return -1;
	}
	log_warnx("publish \"%s\" %s %s: %s: %s; will retry", e->name,
	    e->type, e->where, what, avahi_strerror(code));
	entry_set_state(e, PUB_WAITING);
	sync_soon(pub, PUB_RETRY_MS);
	return -1;
}

static int
entry_rename(struct pub_entry *e, const char *why)
{
	char *alt;

	if (e->renames >= PUB_MAX_RENAMES) {
		entry_fail(e, AVAHI_ERR_COLLISION, "%s; gave up after %u "
		    "renames", why, e->renames);
		return -1;
	}
	if ((alt = pub_alternative_name(e->name)) == NULL) {
		entry_fail(e, AVAHI_ERR_NO_MEMORY, "%s; no alternative name",
		    why);
		return -1;
	}
	log_warnx("publish \"%s\" %s %s: %s, renamed to \"%s\"", e->name,
	    e->type, e->where, why, alt);
	free(e->name);
	e->name = alt;
	e->renames++;
	entry_notify(e);
	return 0;
}

/* --- host scope: the lo-only address record ----------------------------- */

static void	host_group_cb(AvahiEntryGroup *, AvahiEntryGroupState, void *);

static void
host_drop(struct publisher *pub, int free_it)
{
	if (pub->hgroup != NULL) {
		if (free_it)
			avahi_entry_group_free(pub->hgroup);
		pub->hgroup = NULL;
		pub->ngroups--;
	}
	pub->hlabel[0] = pub->hfqdn[0] = '\0';
	pub->hrenames = 0;
}

static int
host_rename(struct publisher *pub, const char *why)
{
	char *alt;

	if (pub->hrenames >= PUB_MAX_RENAMES ||
	    (alt = avahi_alternative_host_name(pub->hlabel)) == NULL)
		return -1;
	if (strlen(alt) >= sizeof(pub->hlabel)) {
		avahi_free(alt);
		return -1;
	}
	log_warnx("publish address %s on lo: %s, renamed to %s", pub->hfqdn,
	    why, alt);
	strlcpy(pub->hlabel, alt, sizeof(pub->hlabel));
	avahi_free(alt);
	pub->hrenames++;
	return 0;
}

/* Fill the (new or reset) host group and commit it. */
static int
host_commit(struct publisher *pub)
{
	AvahiAddress a;
	const char *dom;
	int r;

	if (avahi_address_parse(PUB_HOST_ADDR, AVAHI_PROTO_INET, &a) == NULL)
		return AVAHI_ERR_INVALID_ADDRESS;
	if ((dom = avahi_client_get_domain_name(pub->client)) == NULL)
		dom = "local";
	for (;;) {
		snprintf(pub->hfqdn, sizeof(pub->hfqdn), "%s.%s", pub->hlabel,
		    dom);
		r = avahi_entry_group_add_address(pub->hgroup,
		    pub->lo_ifindex, AVAHI_PROTO_INET,
		    AVAHI_PUBLISH_NO_REVERSE, pub->hfqdn, &a);
		if (r != AVAHI_ERR_COLLISION ||
		    host_rename(pub, "name in use on this host") == -1)
			break;
	}
	if (r >= 0)
		r = avahi_entry_group_commit(pub->hgroup);
	if (r < 0) {
		log_warnx("publish address %s -> %s on lo: %s", pub->hfqdn,
		    PUB_HOST_ADDR, avahi_strerror(r));
		return r;
	}
	log_info("publish address %s -> %s on lo (host scope)", pub->hfqdn,
	    PUB_HOST_ADDR);
	return 0;
}

/* Make sure the address record exists (or is being probed). Returns 0 or
 * an AVAHI_ERR_* code. */
static int
host_ensure(struct publisher *pub)
{
	const char *h;
	int r;

	if (pub->hgroup != NULL)
		return 0;
	if (pub->hlabel[0] == '\0') {
		if ((h = avahi_client_get_host_name(pub->client)) == NULL)
			return avahi_client_errno(pub->client);
		if (pub_host_label(h, pub->hlabel, sizeof(pub->hlabel)) == -1)
			return AVAHI_ERR_INVALID_HOST_NAME;
	}
	if ((pub->hgroup = avahi_entry_group_new(pub->client, host_group_cb,
	    pub)) == NULL)
		return avahi_client_errno(pub->client);
	pub->ngroups++;
	if ((r = host_commit(pub)) < 0) {
		avahi_entry_group_free(pub->hgroup);
		pub->hgroup = NULL;
		pub->ngroups--;
		return r;
	}
	return 0;
}

static void
host_group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct publisher *pub = arg;
	struct pub_entry *e;
	int r;

	if (g != pub->hgroup || !pub->running || pub->client_dead)
		return;
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		pub->hrenames = 0;
		log_debug("address %s on lo: established", pub->hfqdn);
		return;
	case AVAHI_ENTRY_GROUP_COLLISION:
		if (host_rename(pub, "collision") == -1)
			r = AVAHI_ERR_COLLISION;
		else if ((r = avahi_entry_group_reset(pub->hgroup)) >= 0)
			r = host_commit(pub);
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		r = avahi_client_errno(pub->client);
		log_warnx("publish address %s on lo: %s", pub->hfqdn,
		    avahi_strerror(r));
		break;
	default:
		return;
	}
	/* The SRV target changed or is gone: redo every host-scope entry. */
	if (r < 0) {
		avahi_entry_group_free(pub->hgroup);
		pub->hgroup = NULL;
		pub->ngroups--;
	}
	TAILQ_FOREACH(e, &pub->entries, link) {
		if (e->scope != PUB_SCOPE_HOST || e->group == NULL ||
		    e->state == PUB_WAITING)
			continue;
		if (r < 0)
			entry_error(e, r, "address record on lo");
		else
			entry_publish(e);
	}
}

/* --- publishing an entry ------------------------------------------------ */

static void	group_cb(AvahiEntryGroup *, AvahiEntryGroupState, void *);

static void
entry_target(const struct pub_entry *e, AvahiIfIndex *ifi,
    AvahiProtocol *proto, const char **host)
{
	*ifi = AVAHI_IF_UNSPEC;
	*proto = AVAHI_PROTO_UNSPEC;
	*host = NULL;
	switch (e->scope) {
	case PUB_SCOPE_LAN:
		break;
	case PUB_SCOPE_IFACE:
		*ifi = e->ifindex;
		break;
	case PUB_SCOPE_HOST:
		/* IPv6 on lo fails in avahi (NOTES 4); 127.0.0.1 only */
		*ifi = e->pub->lo_ifindex;
		*proto = AVAHI_PROTO_INET;
		*host = e->pub->hfqdn;
		break;
	}
}

/* Hand e to avahi: new group (or reset the old one), add, commit. On
 * return e is REGISTERING, WAITING (after a transient error; the group is
 * kept for the next try) or FAILED (the group is freed). */
static int
entry_publish(struct pub_entry *e)
{
	struct publisher *pub = e->pub;
	AvahiStringList *l;
	AvahiIfIndex ifi;
	AvahiProtocol proto;
	const char *host;
	int r;

	e->upd = 0;	/* a re-add takes the current TXT and port */
	if (e->scope == PUB_SCOPE_HOST) {
		if (pub->lo_ifindex == 0) {
			entry_fail(e, AVAHI_ERR_INVALID_INTERFACE, "no loopback "
			    "interface (lo) for host scope");
			return -1;
		}
		if ((r = host_ensure(pub)) < 0)
			return entry_error(e, r, "address record on lo");
	}
	entry_target(e, &ifi, &proto, &host);
	if (e->group == NULL) {
		if ((e->group = avahi_entry_group_new(pub->client, group_cb,
		    e)) == NULL)
			return entry_error(e, avahi_client_errno(pub->client),
			    "new entry group");
		pub->ngroups++;
	} else if ((r = avahi_entry_group_reset(e->group)) < 0)
		return entry_error(e, r, "reset");
	if (pub_txt_to_strlst(&e->txt, &l) == -1)
		return entry_error(e, AVAHI_ERR_NO_MEMORY, "TXT");
	for (;;) {
		r = avahi_entry_group_add_service_strlst(e->group, ifi, proto,
		    0, e->name, e->type, e->domain, host, e->port, l);
		if (r != AVAHI_ERR_COLLISION)
			break;
		if (entry_rename(e, "name in use on this host") == -1) {
			avahi_string_list_free(l);
			return -1;
		}
	}
	avahi_string_list_free(l);
	if (r < 0)
		return entry_error(e, r, "add");
	if ((r = avahi_entry_group_commit(e->group)) < 0)
		return entry_error(e, r, "commit");
	log_info("publish \"%s\" %s %s: port %u, probing", e->name, e->type,
	    e->where, e->port);
	entry_set_state(e, PUB_REGISTERING);
	return 0;
}

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	struct pub_entry *e = arg;
	struct publisher *pub = e->pub;

	/* Signals of a group being replaced or withdrawn, or arriving while
	 * the client is going down (the sync timer drops everything). */
	if (e->dead || g != e->group || e->state == PUB_WAITING ||
	    !pub->running || pub->client_dead)
		return;
	switch (state) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		if (e->state != PUB_ESTABLISHED)
			log_info("publish \"%s\" %s %s: established", e->name,
			    e->type, e->where);
		e->renames = 0;
		entry_set_state(e, PUB_ESTABLISHED);
		break;
	case AVAHI_ENTRY_GROUP_REGISTERING:
		entry_set_state(e, PUB_REGISTERING);
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
		/* avahi withdrew the group's records (without goodbyes);
		 * re-add under the next name from the loop, like updates */
		if (entry_rename(e, "collision") == 0) {
			entry_set_state(e, PUB_REGISTERING);
			e->upd |= UPD_READD;
			sync_soon(pub, 0);
		}
		break;
	case AVAHI_ENTRY_GROUP_FAILURE:
		entry_error(e, avahi_client_errno(pub->client), "avahi");
		break;
	case AVAHI_ENTRY_GROUP_UNCOMMITED:
		break;
	}
}

static void
entry_free(struct pub_entry *e)
{
	free(e->name);
	free(e->type);
	free(e->domain);
	txt_free(&e->txt);
	free(e);
}

/* Did the call started at t0 take so long that the daemon seems hung? */
static int
stalled(struct publisher *pub, uint64_t t0)
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
entry_update(struct pub_entry *e)
{
	AvahiStringList *l;
	AvahiIfIndex ifi;
	AvahiProtocol proto;
	const char *host;
	int r, upd = e->upd;

	e->upd = 0;
	if (upd & UPD_READD)
		return entry_publish(e);	/* same name, new port */
	entry_target(e, &ifi, &proto, &host);
	if (pub_txt_to_strlst(&e->txt, &l) == -1)
		return entry_error(e, AVAHI_ERR_NO_MEMORY, "TXT");
	r = avahi_entry_group_update_service_txt_strlst(e->group, ifi, proto,
	    0, e->name, e->type, e->domain, l);
	avahi_string_list_free(l);
	if (r < 0) {
		if (transient(r))
			return entry_error(e, r, "TXT update");
		log_warnx("publish \"%s\" %s %s: TXT update: %s; re-adding",
		    e->name, e->type, e->where, avahi_strerror(r));
		return entry_publish(e);
	}
	log_info("publish \"%s\" %s %s: TXT updated (%zu items)", e->name,
	    e->type, e->where, e->txt.n);
	return 0;
}

/* Free the groups of removed entries (goodbyes), within the slice. Returns
 * 1 when all are done. */
static int
withdraw_dead(struct publisher *pub, uint64_t until)
{
	struct pub_entry *e;
	int freed = 0;

	while ((e = TAILQ_FIRST(&pub->dead)) != NULL) {
		uint64_t t0 = ev_now_ms();

		if (freed && t0 >= until)
			return 0;
		TAILQ_REMOVE(&pub->dead, e, link);
		entry_drop_group(e, 1);
		entry_free(e);
		freed = 1;
		if (stalled(pub, t0))
			return 0;
	}
	return 1;
}

/* An object slot was freed: give one entry that hit the limit a chance. */
static void
retry_object_limit(struct publisher *pub)
{
	struct pub_entry *e;

	TAILQ_FOREACH(e, &pub->entries, link)
		if (e->state == PUB_FAILED &&
		    e->fail_code == AVAHI_ERR_TOO_MANY_OBJECTS) {
			entry_set_state(e, PUB_WAITING);
			sync_soon(pub, 0);
			return;
		}
}

/* --- the client and the sync timer -------------------------------------- */

/* Forget every group; free_it = 0 when they went with the client. Every
 * entry waits for the next RUNNING (FAILED ones get another chance). */
static void
withdraw_all(struct publisher *pub, int free_it)
{
	struct pub_entry *e;

	while ((e = TAILQ_FIRST(&pub->dead)) != NULL) {
		TAILQ_REMOVE(&pub->dead, e, link);
		entry_drop_group(e, free_it);
		entry_free(e);
	}
	TAILQ_FOREACH(e, &pub->entries, link) {
		entry_drop_group(e, free_it);
		e->renames = 0;
		entry_set_state(e, PUB_WAITING);
	}
	host_drop(pub, free_it);
	if (pub->running) {
		pub->running = 0;
		pub->up_queued = 1;
		notify_soon(pub);
		log_warnx("avahi-daemon not running: %zu services wait for it",
		    pub->nentries);
	}
}

static void
client_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	struct publisher *pub = arg;

	/* May run inside avahi_client_new(), before pub->client is set: use
	 * c, and leave the work to the sync timer. */
	pub->cstate = state;
	switch (state) {
	case AVAHI_CLIENT_FAILURE:
		log_warnx("avahi: %s; reconnecting",
		    avahi_strerror(avahi_client_errno(c)));
		pub->client_dead = 1;
		break;
	case AVAHI_CLIENT_CONNECTING:
		log_info("avahi-daemon is not running; waiting for it");
		break;
	case AVAHI_CLIENT_S_REGISTERING:
		log_debug("avahi-daemon is registering its host name");
		break;
	case AVAHI_CLIENT_S_COLLISION:
		log_info("avahi-daemon's host name is taken on the network; "
		    "waiting for it to pick another");
		break;
	case AVAHI_CLIENT_S_RUNNING:
		log_debug("avahi-daemon is running");
		break;
	}
	sync_soon(pub, 0);
}

static int
client_create(struct publisher *pub)
{
	int error = 0;

	pub->cstate = AVAHI_CLIENT_CONNECTING;
	pub->client = avahi_client_new(ev_avahi_poll(pub->loop),
	    AVAHI_CLIENT_NO_FAIL, client_cb, pub, &error);
	if (pub->client == NULL) {
		log_warnx("avahi: cannot connect to D-Bus: %s; retrying in "
		    "%u ms", avahi_strerror(error), pub->reconnect_ms);
		return -1;
	}
	pub->cstate = avahi_client_get_state(pub->client);
	return 0;
}

/* One slice of work: withdrawals first, then updates and what waits, in
 * order. */
static void
publish_slice(struct publisher *pub)
{
	struct pub_entry *e;
	uint64_t now = ev_now_ms(), until = now + PUB_SLICE_MS;

	if (now < pub->stall_until) {
		sync_soon(pub, (unsigned)(pub->stall_until - now));
		return;
	}
	if (!withdraw_dead(pub, until)) {
		sync_soon(pub, pub->stall_until > now ?
		    (unsigned)(pub->stall_until - now) : 0);
		return;
	}
	TAILQ_FOREACH(e, &pub->entries, link) {
		uint64_t t0;
		int r;

		if (e->state != PUB_WAITING && e->upd == 0)
			continue;
		if ((now = ev_now_ms()) >= until) {
			sync_soon(pub, 0);	/* the rest next turn */
			return;
		}
		if (now - pub->pace_start >= PUB_PACE_MS) {
			pub->pace_start = now;
			pub->pace_count = 0;
		}
		if (pub->pace_count >= PUB_PACE_MAX) {
			sync_soon(pub, (unsigned)(pub->pace_start +
			    PUB_PACE_MS - now));
			return;
		}
		pub->pace_count++;
		t0 = now;
		if (e->state == PUB_WAITING)
			r = entry_publish(e);
		else
			r = entry_update(e);
		if (r == -1 && e->state == PUB_WAITING) {
			/* avahi is going away, or hangs: retry later */
			if (stalled(pub, t0))
				sync_soon(pub, PUB_STALL_RETRY_MS);
			return;
		}
	}
}

static void
sync_cb(void *arg)
{
	struct publisher *pub = arg;

	if (pub->client_dead) {
		withdraw_all(pub, 0);
		avahi_client_free(pub->client);	/* frees its groups */
		pub->client = NULL;
		pub->client_dead = 0;
	}
	if (pub->client == NULL) {
		if (client_create(pub) == -1) {
			sync_soon(pub, pub->reconnect_ms);
			pub->reconnect_ms *= 2;
			if (pub->reconnect_ms > PUB_RECONNECT_MAX_MS)
				pub->reconnect_ms = PUB_RECONNECT_MAX_MS;
			return;
		}
		pub->reconnect_ms = PUB_RECONNECT_MIN_MS;
	}
	if (pub->cstate != AVAHI_CLIENT_S_RUNNING) {
		if (pub->running)
			withdraw_all(pub, 1);
		return;
	}
	if (!pub->running) {
		pub->running = 1;
		pub->up_queued = 1;
		notify_soon(pub);
		log_info("avahi-daemon running: publishing %zu services",
		    pub->nentries);
	}
	publish_slice(pub);
}

/* --- API ---------------------------------------------------------------- */

struct publisher *
publisher_new(struct ev_loop *loop, pub_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct publisher *pub;

	if ((pub = calloc(1, sizeof(*pub))) == NULL) {
		snprintf(err, errlen, "publisher: %s", strerror(errno));
		return NULL;
	}
	pub->loop = loop;
	pub->cb = cb;
	pub->arg = arg;
	pub->reconnect_ms = PUB_RECONNECT_MIN_MS;
	TAILQ_INIT(&pub->entries);
	TAILQ_INIT(&pub->notify);
	TAILQ_INIT(&pub->dead);
	if ((pub->lo_ifindex = (int)if_nametoindex("lo")) == 0)
		log_warnx("no loopback interface \"lo\": host scope will "
		    "fail");
	if ((pub->sync_timer = ev_timer_add(loop, sync_cb, pub)) == NULL ||
	    (pub->notify_timer = ev_timer_add(loop, notify_cb, pub)) ==
	    NULL) {
		snprintf(err, errlen, "publisher: %s", strerror(errno));
		ev_timer_del(pub->sync_timer);
		free(pub);
		return NULL;
	}
	/* Connect from the loop, like every later reconnection. */
	sync_soon(pub, 0);
	return pub;
}

static void
pub_destroy(struct publisher *pub)
{
	struct pub_entry *e;

	/* Freeing the client closes its D-Bus connection; avahi-daemon then
	 * frees all its groups at once, with goodbyes. */
	while ((e = TAILQ_FIRST(&pub->entries)) != NULL) {
		TAILQ_REMOVE(&pub->entries, e, link);
		entry_free(e);
	}
	while ((e = TAILQ_FIRST(&pub->dead)) != NULL) {
		TAILQ_REMOVE(&pub->dead, e, link);
		entry_free(e);
	}
	pub->hgroup = NULL;
	if (pub->client != NULL)
		avahi_client_free(pub->client);
	ev_timer_del(pub->sync_timer);
	ev_timer_del(pub->notify_timer);
	free(pub);
}

void
publisher_free(struct publisher *pub)
{
	if (pub == NULL)
		return;
	if (pub->delivering) {
		pub->free_pending = 1;
		return;
	}
	pub_destroy(pub);
}

int
publisher_running(const struct publisher *pub)
{
	return pub->running;
}

struct pub_entry *
publisher_add(struct publisher *pub, const struct pub_spec *spec,
    void *entry_arg)
{
	struct pub_entry *e;
	char err[PUB_ERRLEN];

	if (pub_spec_check(spec, err, sizeof(err)) == -1) {
		log_warnx("publish: %s", err);
		errno = EINVAL;
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->pub = pub;
	e->port = spec->port;
	e->scope = spec->scope;
	e->ifindex = spec->scope == PUB_SCOPE_IFACE ? spec->ifindex : 0;
	e->arg = entry_arg;
	e->state = PUB_WAITING;
	if ((e->name = strdup(spec->name)) == NULL ||
	    (e->type = strdup(spec->type)) == NULL ||
	    (spec->domain != NULL &&
	    (e->domain = strdup(spec->domain)) == NULL) ||
	    (spec->txt != NULL && txt_copy(&e->txt, spec->txt) == -1)) {
		free(e->name);
		free(e->type);
		free(e->domain);
		free(e);
		errno = ENOMEM;
		return NULL;
	}
	entry_where(e);
	TAILQ_INSERT_TAIL(&pub->entries, e, link);
	pub->nentries++;
	if (pub->running && !pub->client_dead)
		sync_soon(pub, 0);
	else
		log_debug("publish \"%s\" %s %s: waiting for avahi", e->name,
		    e->type, e->where);
	return e;
}

int
publisher_update(struct pub_entry *e, const struct txt *txt, uint16_t port)
{
	struct publisher *pub = e->pub;
	struct txt nt;
	int txt_changed, port_changed;
	char err[PUB_ERRLEN];

	if (pub_txt_check(txt, err, sizeof(err)) == -1) {
		log_warnx("publish \"%s\" %s %s: update: %s", e->name,
		    e->type, e->where, err);
		errno = EINVAL;
		return -1;
	}
	txt_changed = txt != NULL && !txt_equal(txt, &e->txt);
	port_changed = port != 0 && port != e->port;
	if (txt_changed) {
		if (txt_copy(&nt, txt) == -1) {
			errno = ENOMEM;
			return -1;
		}
		txt_free(&e->txt);
		e->txt = nt;
	}
	if (port_changed) {
		log_info("publish \"%s\" %s %s: port %u -> %u", e->name,
		    e->type, e->where, e->port, port);
		e->port = port;
	}
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
publisher_remove(struct pub_entry *e)
{
	struct publisher *pub;

	if (e == NULL)
		return;
	pub = e->pub;
	if (e->queued)
		TAILQ_REMOVE(&pub->notify, e, nlink);
	TAILQ_REMOVE(&pub->entries, e, link);
	pub->nentries--;
	if (e->group == NULL) {
		entry_free(e);
		return;
	}
	/* The group goes from the sync timer (goodbyes cost a D-Bus round
	 * trip each); until then e stays, as its group's callback argument. */
	log_info("withdraw \"%s\" %s %s", e->name, e->type, e->where);
	e->dead = 1;
	e->queued = 0;
	TAILQ_INSERT_TAIL(&pub->dead, e, link);
	sync_soon(pub, 0);
	retry_object_limit(pub);
}

enum pub_state
pub_entry_state(const struct pub_entry *e)
{
	return e->state;
}

const char *
pub_entry_name(const struct pub_entry *e)
{
	return e->name;
}

const char *
pub_entry_error(const struct pub_entry *e)
{
	return e->state == PUB_FAILED ? e->err : NULL;
}

void *
pub_entry_arg(const struct pub_entry *e)
{
	return e->arg;
}
