/*
 * The TAILQ macros rnsplice uses, each one only where the system's
 * sys/queue.h lacks it (glibc's has no TAILQ_FOREACH_SAFE; musl has no
 * sys/queue.h at all). The field names are the usual ones, so that these
 * work on the system's TAILQ_HEAD and TAILQ_ENTRY.
 */
#ifndef RNSPLICE_COMPAT_QUEUE_H
#define RNSPLICE_COMPAT_QUEUE_H

#ifndef TAILQ_HEAD
#define TAILQ_HEAD(name, type)						\
struct name {								\
	struct type	 *tqh_first;	/* the first element */		\
	struct type	**tqh_last;	/* the last element's next link */ \
}
#endif
#ifndef TAILQ_ENTRY
#define TAILQ_ENTRY(type)						\
struct {								\
	struct type	 *tqe_next;	/* the next element */		\
	struct type	**tqe_prev;	/* the previous element's next link */ \
}
#endif
#ifndef TAILQ_FIRST
#define TAILQ_FIRST(head)		((head)->tqh_first)
#endif
#ifndef TAILQ_NEXT
#define TAILQ_NEXT(elm, field)		((elm)->field.tqe_next)
#endif
#ifndef TAILQ_EMPTY
#define TAILQ_EMPTY(head)		((head)->tqh_first == NULL)
#endif
#ifndef TAILQ_INIT
#define TAILQ_INIT(head) do {						\
	(head)->tqh_first = NULL;					\
	(head)->tqh_last = &(head)->tqh_first;				\
} while (0)
#endif
#ifndef TAILQ_INSERT_HEAD
#define TAILQ_INSERT_HEAD(head, elm, field) do {			\
	if (((elm)->field.tqe_next = (head)->tqh_first) != NULL)	\
		(head)->tqh_first->field.tqe_prev =			\
		    &(elm)->field.tqe_next;				\
	else								\
		(head)->tqh_last = &(elm)->field.tqe_next;		\
	(head)->tqh_first = (elm);					\
	(elm)->field.tqe_prev = &(head)->tqh_first;			\
} while (0)
#endif
#ifndef TAILQ_INSERT_TAIL
#define TAILQ_INSERT_TAIL(head, elm, field) do {			\
	(elm)->field.tqe_next = NULL;					\
	(elm)->field.tqe_prev = (head)->tqh_last;			\
	*(head)->tqh_last = (elm);					\
	(head)->tqh_last = &(elm)->field.tqe_next;			\
} while (0)
#endif
#ifndef TAILQ_REMOVE
#define TAILQ_REMOVE(head, elm, field) do {				\
	if ((elm)->field.tqe_next != NULL)				\
		(elm)->field.tqe_next->field.tqe_prev =			\
		    (elm)->field.tqe_prev;				\
	else								\
		(head)->tqh_last = (elm)->field.tqe_prev;		\
	*(elm)->field.tqe_prev = (elm)->field.tqe_next;			\
} while (0)
#endif
#ifndef TAILQ_FOREACH
#define TAILQ_FOREACH(x, head, field)					\
	for ((x) = TAILQ_FIRST(head); (x) != NULL;			\
	    (x) = TAILQ_NEXT(x, field))
#endif
/* the next element is taken before the body runs, which may remove x */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(x, head, field, y)				\
	for ((x) = TAILQ_FIRST(head);					\
	    (x) != NULL && ((y) = TAILQ_NEXT(x, field), 1);		\
	    (x) = (y))
#endif

#endif
