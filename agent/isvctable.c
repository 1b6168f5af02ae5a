/* The services one subsystem session announced, keyed by the session's
 * ids (PROTOCOL.md section 4). Only bookkeeping: what to do about a change
 * is remote.c's business. An ADD for a known id, an UPDATE or REMOVE for
 * an unknown one are protocol errors that change nothing. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "event.h"
#include "xmalloc.h"

void
isvctable_init(struct isvctable *t, size_t max)
{
	TAILQ_INIT(&t->list);
	t->n = 0;
	t->max = max;
	t->dropped = 0;
}

struct isvc *
isvctable_find(const struct isvctable *t, uint32_t id)
{
	struct isvc *e;

	TAILQ_FOREACH(e, &t->list, entry)
		if (e->id == id)
			return e;
	return NULL;
}

void
isvc_free(struct isvc *e)
{
	if (e == NULL)
		return;
	ev_timer_del(e->probe_t);
	svc_free(&e->svc);
	free(e);
}

enum isvc_action
isvctable_apply(struct isvctable *t, const struct msg *m, struct isvc **out,
    struct svc *old, char **cause)
{
	struct isvc *e;
	struct svc copy;

	*out = NULL;
	switch (m->type) {
	case MSG_ADD:
		if (isvctable_find(t, m->id) != NULL) {
			cause_set(cause, "ADD %u: id already in use",
			    m->id);
			return ISVC_ERROR;
		}
		if (t->n >= t->max) {
			t->dropped++;
			cause_set(cause, "ADD %u: more than %zu services, "
			    "ignored (max-services)", m->id, t->max);
			return ISVC_ERROR;
		}
		if ((e = calloc(1, sizeof(*e))) == NULL ||
		    svc_copy(&e->svc, &m->svc) == -1) {
			free(e);
			cause_set(cause, "ADD %u: out of memory", m->id);
			return ISVC_ERROR;
		}
		e->id = m->id;
		TAILQ_INSERT_TAIL(&t->list, e, entry);
		t->n++;
		*out = e;
		return ISVC_ADDED;
	case MSG_UPDATE:
		if ((e = isvctable_find(t, m->id)) == NULL) {
			cause_set(cause, "UPDATE %u: unknown id%s", m->id,
			    t->dropped ? " (or dropped by max-services)" : "");
			return ISVC_ERROR;
		}
		if (svc_copy(&copy, &m->svc) == -1) {
			cause_set(cause, "UPDATE %u: out of memory",
			    m->id);
			return ISVC_ERROR;
		}
		*old = e->svc;
		e->svc = copy;
		*out = e;
		return ISVC_UPDATED;
	case MSG_REMOVE:
		if ((e = isvctable_find(t, m->id)) == NULL) {
			cause_set(cause, "REMOVE %u: unknown id%s", m->id,
			    t->dropped ? " (or dropped by max-services)" : "");
			return ISVC_ERROR;
		}
		TAILQ_REMOVE(&t->list, e, entry);
		t->n--;
		*out = e;
		return ISVC_REMOVED;
	default:
		cause_set(cause, "%s is not a service event",
		    msg_verb(m->type));
		return ISVC_ERROR;
	}
}

void
isvctable_take_all(struct isvctable *t, struct isvc_list *out)
{
	struct isvc *e;

	TAILQ_INIT(out);
	while ((e = TAILQ_FIRST(&t->list)) != NULL) {
		TAILQ_REMOVE(&t->list, e, entry);
		TAILQ_INSERT_TAIL(out, e, entry);
	}
	t->n = 0;
	t->dropped = 0;
}
