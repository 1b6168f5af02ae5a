/* Which TXT record of a resolved service is the newest: the bookkeeping of
 * the TXT record browser each backend keeps beside a resolver (mdns-int.h).
 *
 * A responder's resolver holds on to the TXT record it first found: when
 * the publisher changes it, the new record arrives at once (announced with
 * the cache-flush bit), but the resolver only reports it once the old one
 * has expired, a second later (avahi: resolve-service.c takes a NEW TXT
 * only while it holds none). A record browser on the service's TXT hears
 * the new record when it arrives. What the browser lists from the cache
 * when it starts may hold the old record and the new one (for that second
 * both are cached) in no defined order: only records arriving after the
 * listing are known to be newer than what the resolver holds. */
#include "config.h"

#include <string.h>

#include "mdns.h"
#include "mdns-int.h"
#include "svc.h"

void
mdns_txtw_init(struct mdns_txtwatch *w)
{
	memset(w, 0, sizeof(*w));
}

void
mdns_txtw_clear(struct mdns_txtwatch *w)
{
	txt_free(&w->fresh);
	txt_free(&w->told);
	mdns_txtw_init(w);
}

void
mdns_txtw_listed(struct mdns_txtwatch *w)
{
	w->listed = 1;
}

int
mdns_txtw_added(struct mdns_txtwatch *w, const struct txt *t)
{
	struct txt n;

	if (!w->listed)
		return 0;	/* from the cache: maybe older than the resolver's */
	if (txt_copy(&n, t) == -1)
		return -1;
	txt_free(&w->fresh);
	w->fresh = n;
	w->have_fresh = 1;
	if (!w->have_told || txt_equal(&w->told, t))
		return 0;
	txt_free(&w->told);
	if (txt_copy(&w->told, t) == -1) {
		w->have_told = 0;
		return -1;
	}
	return 1;
}

void
mdns_txtw_removed(struct mdns_txtwatch *w, const struct txt *t)
{
	/* An older record expiring after a newer one came means nothing. */
	if (w->have_fresh && txt_equal(&w->fresh, t)) {
		txt_free(&w->fresh);
		w->have_fresh = 0;
	}
}

const struct txt *
mdns_txtw_resolved(struct mdns_txtwatch *w, const struct txt *res)
{
	const struct txt *use = w->have_fresh ? &w->fresh : res;
	struct txt n;

	if (w->have_told && txt_equal(&w->told, use))
		return use;
	if (txt_copy(&n, use) == -1)
		return NULL;
	txt_free(&w->told);
	w->told = n;
	w->have_told = 1;
	return use;
}
