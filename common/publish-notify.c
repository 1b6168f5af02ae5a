/* The publisher's callbacks, deferred as publish.h promises: from the
 * loop right after the call that caused them, never from inside it; one
 * per entry however often it changed meanwhile; up/down on transitions
 * only; the owner freed from within a callback is freed once the
 * delivery is over. Both sides of the publisher (the proxy of publish.c
 * and the engine of publish-engine.c) tell their users this way. */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>

#include "event.h"
#include "log.h"
#include "publish-int.h"

static void
pub_notify_cb(void *arg)
{
	struct pub_notify *n = arg;
	struct pub_nlink *l;

	n->delivering = 1;
	if (n->up_queued) {
		n->up_queued = 0;
		if (n->up != n->told_up) {
			n->told_up = n->up;
			n->deliver(n->owner, NULL, n->up);
		}
	}
	while (!n->free_pending && (l = TAILQ_FIRST(&n->queue)) != NULL) {
		TAILQ_REMOVE(&n->queue, l, link);
		l->queued = 0;
		n->deliver(n->owner, l->item, n->up);
	}
	n->delivering = 0;
	if (n->free_pending)
		n->destroy(n->owner);
}

static void
pub_notify_soon(struct pub_notify *n)
{
	if (!ev_timer_pending(n->timer))
		ev_timer_set(n->timer, 0);
}

void
pub_notify_init(struct pub_notify *n, struct ev_loop *loop,
    pub_deliver_fn deliver, void (*destroy)(void *), void *owner)
{
	TAILQ_INIT(&n->queue);
	n->deliver = deliver;
	n->destroy = destroy;
	n->owner = owner;
	n->up = n->told_up = n->up_queued = 0;
	n->delivering = n->free_pending = 0;
	if ((n->timer = ev_timer_add(loop, pub_notify_cb, n)) == NULL)
		fatal("publisher");	/* only out of memory */
}

void
pub_notify_clear(struct pub_notify *n)
{
	ev_timer_del(n->timer);
	n->timer = NULL;
}

void
pub_notify_item(struct pub_notify *n, struct pub_nlink *l, void *item)
{
	if (!l->queued) {
		l->item = item;
		TAILQ_INSERT_TAIL(&n->queue, l, link);
		l->queued = 1;
	}
	pub_notify_soon(n);
}

void
pub_notify_cancel(struct pub_notify *n, struct pub_nlink *l)
{
	if (l->queued) {
		TAILQ_REMOVE(&n->queue, l, link);
		l->queued = 0;
	}
}

void
pub_notify_up(struct pub_notify *n, int up)
{
	if (n->up == up)
		return;
	n->up = up;
	n->up_queued = 1;
	pub_notify_soon(n);
}

int
pub_notify_defer_free(struct pub_notify *n)
{
	if (!n->delivering)
		return 0;
	n->free_pending = 1;
	return 1;
}
