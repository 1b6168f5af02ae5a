/*
 * The generic red-black tree behind compat/tree.h. An element is reached
 * from its node by subtracting the node's offset in the element; a
 * missing child is NULL and counts as black. The rules kept: the root is
 * black, a red node has no red child, and every path from a node down to
 * a missing child passes the same number of black nodes, so that no path
 * is more than twice as long as another and every operation is
 * O(log n).
 *
 * Built whatever the system has: the unit test runs it on every system.
 */
#include "config.h"

#include <stddef.h>

#include "tree.h"

#define NODE(elm, off)	((struct compat_rb_node *)(void *)((char *)(elm) + (off)))
#define ELM(n, off)	((void *)((char *)(n) - (off)))
#define IS_RED(n)	((n) != NULL && (n)->red)

/* Makes child take old's place under parent (or at the root). */
static void
replace_child(struct compat_rb_tree *t, struct compat_rb_node *parent,
    struct compat_rb_node *old, struct compat_rb_node *child)
{
	if (parent == NULL)
		t->root = child;
	else if (parent->left == old)
		parent->left = child;
	else
		parent->right = child;
}

/* x's right child y takes x's place; x becomes y's left child. */
static void
rotate_left(struct compat_rb_tree *t, struct compat_rb_node *x)
{
	struct compat_rb_node *y = x->right;

	x->right = y->left;
	if (y->left != NULL)
		y->left->parent = x;
	y->parent = x->parent;
	replace_child(t, x->parent, x, y);
	y->left = x;
	x->parent = y;
}

/* x's left child y takes x's place; x becomes y's right child. */
static void
rotate_right(struct compat_rb_tree *t, struct compat_rb_node *x)
{
	struct compat_rb_node *y = x->left;

	x->left = y->right;
	if (y->right != NULL)
		y->right->parent = x;
	y->parent = x->parent;
	replace_child(t, x->parent, x, y);
	y->right = x;
	x->parent = y;
}

/* n is new and red: the only rule it can break is a red parent. */
static void
insert_fixup(struct compat_rb_tree *t, struct compat_rb_node *n)
{
	struct compat_rb_node *p, *g, *u;

	while ((p = n->parent) != NULL && p->red) {
		g = p->parent;		/* p is red, so not the root */
		if (p == g->left) {
			u = g->right;
			if (IS_RED(u)) {
				/* recolour and look again two levels up */
				p->red = u->red = 0;
				g->red = 1;
				n = g;
				continue;
			}
			if (n == p->right) {
				rotate_left(t, p);
				n = p;
				p = n->parent;
			}
			p->red = 0;
			g->red = 1;
			rotate_right(t, g);
		} else {
			u = g->left;
			if (IS_RED(u)) {
				p->red = u->red = 0;
				g->red = 1;
				n = g;
				continue;
			}
			if (n == p->left) {
				rotate_right(t, p);
				n = p;
				p = n->parent;
			}
			p->red = 0;
			g->red = 1;
			rotate_left(t, g);
		}
	}
	t->root->red = 0;
}

void *
compat_rb_insert(struct compat_rb_tree *t, void *elm, size_t off,
    compat_rb_cmp cmp)
{
	struct compat_rb_node *n = NODE(elm, off), *p = NULL;
	struct compat_rb_node **link = &t->root;
	int c;

	while (*link != NULL) {
		p = *link;
		if ((c = cmp(elm, ELM(p, off))) < 0)
			link = &p->left;
		else if (c > 0)
			link = &p->right;
		else
			return ELM(p, off);
	}
	n->left = n->right = NULL;
	n->parent = p;
	n->red = 1;
	*link = n;
	insert_fixup(t, n);
	return NULL;
}

/*
 * A black node left the path through x (which may be NULL) under parent
 * p: that path is one black short. Either x can be made black, or the
 * shortage moves up, or a rotation at p lends a black node from the
 * sibling's side.
 */
static void
remove_fixup(struct compat_rb_tree *t, struct compat_rb_node *x,
    struct compat_rb_node *p)
{
	struct compat_rb_node *w;

	while (x != t->root && !IS_RED(x)) {
		/* the sibling w exists: its side has a black node more */
		if (x == p->left) {
			w = p->right;
			if (w->red) {
				w->red = 0;
				p->red = 1;
				rotate_left(t, p);
				w = p->right;
			}
			if (!IS_RED(w->left) && !IS_RED(w->right)) {
				w->red = 1;
				x = p;
				p = x->parent;
				continue;
			}
			if (!IS_RED(w->right)) {
				w->left->red = 0;
				w->red = 1;
				rotate_right(t, w);
				w = p->right;
			}
			w->red = p->red;
			p->red = 0;
			w->right->red = 0;
			rotate_left(t, p);
		} else {
			w = p->left;
			if (w->red) {
				w->red = 0;
				p->red = 1;
				rotate_right(t, p);
				w = p->left;
			}
			if (!IS_RED(w->left) && !IS_RED(w->right)) {
				w->red = 1;
				x = p;
				p = x->parent;
				continue;
			}
			if (!IS_RED(w->left)) {
				w->right->red = 0;
				w->red = 1;
				rotate_left(t, w);
				w = p->left;
			}
			w->red = p->red;
			p->red = 0;
			w->left->red = 0;
			rotate_right(t, p);
		}
		x = t->root;
	}
	if (x != NULL)
		x->red = 0;
}

void *
compat_rb_remove(struct compat_rb_tree *t, void *elm, size_t off)
{
	struct compat_rb_node *z = NODE(elm, off), *y, *x, *xp;
	int was_red;

	/* y: the node that leaves its place, z itself or z's successor */
	if (z->left == NULL || z->right == NULL)
		y = z;
	else
		for (y = z->right; y->left != NULL; y = y->left)
			;
	x = y->left != NULL ? y->left : y->right;
	xp = y->parent;
	if (x != NULL)
		x->parent = xp;
	replace_child(t, xp, y, x);
	was_red = y->red;
	if (y != z) {
		/* the successor takes z's place, links and colour */
		if (xp == z)
			xp = y;
		y->left = z->left;
		y->right = z->right;
		y->parent = z->parent;
		y->red = z->red;
		replace_child(t, z->parent, z, y);
		if (y->left != NULL)
			y->left->parent = y;
		if (y->right != NULL)
			y->right->parent = y;
	}
	if (!was_red)
		remove_fixup(t, x, xp);
	return elm;
}

void *
compat_rb_find(const struct compat_rb_tree *t, const void *key, size_t off,
    compat_rb_cmp cmp)
{
	struct compat_rb_node *n = t->root;
	int c;

	while (n != NULL) {
		if ((c = cmp(key, ELM(n, off))) < 0)
			n = n->left;
		else if (c > 0)
			n = n->right;
		else
			return ELM(n, off);
	}
	return NULL;
}

void *
compat_rb_nfind(const struct compat_rb_tree *t, const void *key, size_t off,
    compat_rb_cmp cmp)
{
	struct compat_rb_node *n = t->root, *best = NULL;
	int c;

	while (n != NULL) {
		if ((c = cmp(key, ELM(n, off))) < 0) {
			best = n;
			n = n->left;
		} else if (c > 0)
			n = n->right;
		else
			return ELM(n, off);
	}
	return best != NULL ? ELM(best, off) : NULL;
}

void *
compat_rb_min(const struct compat_rb_tree *t, size_t off)
{
	struct compat_rb_node *n = t->root;

	if (n == NULL)
		return NULL;
	while (n->left != NULL)
		n = n->left;
	return ELM(n, off);
}

void *
compat_rb_next(void *elm, size_t off)
{
	struct compat_rb_node *n = NODE(elm, off);

	if (n->right != NULL) {
		for (n = n->right; n->left != NULL; n = n->left)
			;
		return ELM(n, off);
	}
	while (n->parent != NULL && n == n->parent->right)
		n = n->parent;
	return n->parent != NULL ? ELM(n->parent, off) : NULL;
}

/* The black height of the subtree under n, or -1 and *cause. */
static int
verify_node(const struct compat_rb_node *n, const struct compat_rb_node *lo,
    const struct compat_rb_node *hi, size_t off, compat_rb_cmp cmp,
    const char **cause)
{
	int l, r;

	if (n == NULL)
		return 1;
	if (n->left != NULL && n->left->parent != n) {
		*cause = "a left child's parent link is wrong";
		return -1;
	}
	if (n->right != NULL && n->right->parent != n) {
		*cause = "a right child's parent link is wrong";
		return -1;
	}
	if (n->red && (IS_RED(n->left) || IS_RED(n->right))) {
		*cause = "a red node has a red child";
		return -1;
	}
	if ((lo != NULL && cmp(ELM(lo, off), ELM(n, off)) >= 0) ||
	    (hi != NULL && cmp(ELM(n, off), ELM(hi, off)) >= 0)) {
		*cause = "the elements are out of order";
		return -1;
	}
	if ((l = verify_node(n->left, lo, n, off, cmp, cause)) == -1 ||
	    (r = verify_node(n->right, n, hi, off, cmp, cause)) == -1)
		return -1;
	if (l != r) {
		*cause = "two paths have different black heights";
		return -1;
	}
	return l + !n->red;
}

int
compat_rb_verify(const struct compat_rb_tree *t, size_t off,
    compat_rb_cmp cmp, const char **cause)
{
	if (t->root != NULL && t->root->parent != NULL) {
		*cause = "the root has a parent";
		return -1;
	}
	if (IS_RED(t->root)) {
		*cause = "the root is red";
		return -1;
	}
	return verify_node(t->root, NULL, NULL, off, cmp, cause);
}
