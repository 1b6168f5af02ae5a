/*
 * A red-black tree for systems without <sys/tree.h> (glibc, macOS), with
 * the interface and the semantics of the BSDs' RB_* macros for what
 * rnsplice uses of them: an element embeds a node (RB_ENTRY), a typed
 * head (RB_HEAD) holds the root, and RB_GENERATE makes typed functions
 * that call the generic core of compat/tree.c with the offset of the node
 * in the element and the element's compare function.
 *
 * The macros are CRB_* here; compat.h names them RB_* when the system has
 * no <sys/tree.h> (or configure forced the replacements), so that the
 * unit test can use these next to the system's.
 *
 * RB_FIND finds the element equal to the key, RB_NFIND the least element
 * not less than the key, RB_INSERT returns the element already equal to
 * the new one (and inserts nothing) or NULL, RB_NEXT and RB_FOREACH go in
 * ascending order, RB_FOREACH_SAFE allows removing the current element.
 */
#ifndef RNSPLICE_COMPAT_TREE_H
#define RNSPLICE_COMPAT_TREE_H

#include <stddef.h>
#include <stdint.h>

struct compat_rb_node {
	struct compat_rb_node	*left;
	struct compat_rb_node	*right;
	struct compat_rb_node	*parent;
	int			 red;
};

struct compat_rb_tree {
	struct compat_rb_node	*root;
};

typedef int (*compat_rb_cmp)(const void *, const void *);

void	*compat_rb_insert(struct compat_rb_tree *, void *, size_t,
	    compat_rb_cmp);
void	*compat_rb_remove(struct compat_rb_tree *, void *, size_t);
void	*compat_rb_find(const struct compat_rb_tree *, const void *, size_t,
	    compat_rb_cmp);
void	*compat_rb_nfind(const struct compat_rb_tree *, const void *, size_t,
	    compat_rb_cmp);
void	*compat_rb_min(const struct compat_rb_tree *, size_t);
void	*compat_rb_next(void *, size_t);
/* Checks the tree's links, order and colours: its black height, or -1
 * with *cause (static text) saying what is wrong. For the unit test. */
int	 compat_rb_verify(const struct compat_rb_tree *, size_t,
	    compat_rb_cmp, const char **cause);

#define CRB_HEAD(name, type)						\
struct name {								\
	struct compat_rb_tree	 crbh;					\
}
#define CRB_ENTRY(type)		struct compat_rb_node
#define CRB_INIT(head)		((head)->crbh.root = NULL)
#define CRB_EMPTY(head)		((head)->crbh.root == NULL)

#define CRB_PROTOTYPE(name, type, field, cmp)				\
struct type	*name##_CRB_INSERT(struct name *, struct type *);	\
struct type	*name##_CRB_REMOVE(struct name *, struct type *);	\
struct type	*name##_CRB_FIND(struct name *, struct type *);		\
struct type	*name##_CRB_NFIND(struct name *, struct type *);	\
struct type	*name##_CRB_MIN(struct name *);				\
struct type	*name##_CRB_NEXT(struct type *);

/* The compare wrapper casts const away only to call cmp, which may take
 * non-const pointers, as the BSD macros allow. */
#define CRB_GENERATE(name, type, field, cmp)				\
static int								\
name##_CRB_CMP(const void *a, const void *b)				\
{									\
	return cmp((struct type *)(uintptr_t)a,				\
	    (struct type *)(uintptr_t)b);				\
}									\
struct type *								\
name##_CRB_INSERT(struct name *head, struct type *elm)			\
{									\
	return compat_rb_insert(&head->crbh, elm,			\
	    offsetof(struct type, field), name##_CRB_CMP);		\
}									\
struct type *								\
name##_CRB_REMOVE(struct name *head, struct type *elm)			\
{									\
	return compat_rb_remove(&head->crbh, elm,			\
	    offsetof(struct type, field));				\
}									\
struct type *								\
name##_CRB_FIND(struct name *head, struct type *key)			\
{									\
	return compat_rb_find(&head->crbh, key,				\
	    offsetof(struct type, field), name##_CRB_CMP);		\
}									\
struct type *								\
name##_CRB_NFIND(struct name *head, struct type *key)			\
{									\
	return compat_rb_nfind(&head->crbh, key,			\
	    offsetof(struct type, field), name##_CRB_CMP);		\
}									\
struct type *								\
name##_CRB_MIN(struct name *head)					\
{									\
	return compat_rb_min(&head->crbh,				\
	    offsetof(struct type, field));				\
}									\
struct type *								\
name##_CRB_NEXT(struct type *elm)					\
{									\
	return compat_rb_next(elm, offsetof(struct type, field));	\
}

#define CRB_INSERT(name, head, elm)	name##_CRB_INSERT(head, elm)
#define CRB_REMOVE(name, head, elm)	name##_CRB_REMOVE(head, elm)
#define CRB_FIND(name, head, key)	name##_CRB_FIND(head, key)
#define CRB_NFIND(name, head, key)	name##_CRB_NFIND(head, key)
#define CRB_MIN(name, head)		name##_CRB_MIN(head)
#define CRB_NEXT(name, head, elm)	name##_CRB_NEXT(elm)

#define CRB_FOREACH(x, name, head)					\
	for ((x) = CRB_MIN(name, head); (x) != NULL;			\
	    (x) = name##_CRB_NEXT(x))
/* the next element is taken before the body runs, which may remove x */
#define CRB_FOREACH_SAFE(x, name, head, y)				\
	for ((x) = CRB_MIN(name, head);					\
	    (x) != NULL && ((y) = name##_CRB_NEXT(x), 1);		\
	    (x) = (y))

#endif
