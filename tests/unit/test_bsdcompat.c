/*
 * Unit tests of compat/'s replacements for what libbsd supplies on Linux:
 * the red-black tree (against a sorted array, with its invariants checked
 * as it goes), strtonum, strlcpy, strlcat, reallocarray, explicit_bzero,
 * arc4random_uniform and closefrom. They call the replacements by their
 * compat_ names, so that they run in every build, whatever the system or
 * libbsd has.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tree.h"

/* --- which ones are used ------------------------------------------------ */

/* A forced build (--enable-compat-fallbacks) uses every replacement; one
 * with libbsd and not forced uses none of them. */
START_TEST(test_bsd_fallbacks_built)
{
	size_t (*cpy)(char *, const char *, size_t) = strlcpy;
	long long (*num)(const char *, long long, long long, const char **) =
	    strtonum;
	void (*cf)(int) = closefrom;

#ifdef COMPAT_FALLBACKS
# if defined(HAVE_SYS_TREE_H) || defined(HAVE_TAILQ_FOREACH_SAFE) || \
    defined(HAVE_STRLCPY) || defined(HAVE_STRLCAT) || \
    defined(HAVE_STRTONUM) || defined(HAVE_REALLOCARRAY) || \
    defined(HAVE_EXPLICIT_BZERO) || defined(HAVE_ARC4RANDOM) || \
    defined(HAVE_ARC4RANDOM_UNIFORM) || defined(HAVE_CLOSEFROM)
	ck_abort_msg("a native call is used in a forced build");
# endif
	ck_assert(cpy == compat_strlcpy);
	ck_assert(num == compat_strtonum);
	ck_assert(cf == compat_closefrom);
#elif defined(HAVE_LIBBSD)
# if !defined(HAVE_SYS_TREE_H) || !defined(HAVE_TAILQ_FOREACH_SAFE) || \
    !defined(HAVE_STRLCPY) || !defined(HAVE_STRLCAT) || \
    !defined(HAVE_STRTONUM) || !defined(HAVE_REALLOCARRAY) || \
    !defined(HAVE_EXPLICIT_BZERO) || !defined(HAVE_ARC4RANDOM) || \
    !defined(HAVE_ARC4RANDOM_UNIFORM) || !defined(HAVE_CLOSEFROM)
	ck_abort_msg("a replacement is used with libbsd");
# endif
	ck_assert(cpy != compat_strlcpy);
	ck_assert(num != compat_strtonum);
	ck_assert(cf != compat_closefrom);
#endif
	ck_assert(cpy != NULL && num != NULL && cf != NULL);
}
END_TEST

/* --- the tree ------------------------------------------------------------ */

#define NKEYS	1000

struct elem {
	int			 key;
	CRB_ENTRY(elem)		 node;
};

CRB_HEAD(etree, elem);

static int
elem_cmp(const struct elem *a, const struct elem *b)
{
	return a->key < b->key ? -1 : a->key > b->key;
}

CRB_PROTOTYPE(etree, elem, node, elem_cmp)
CRB_GENERATE(etree, elem, node, elem_cmp)

/* the model: the keys in the tree, ascending */
struct model {
	int	 keys[NKEYS];
	size_t	 n;
};

/* the index of the least key >= key (n if none) */
static size_t
model_lower(const struct model *m, int key)
{
	size_t lo = 0, hi = m->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->keys[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
model_has(const struct model *m, int key)
{
	size_t i = model_lower(m, key);

	return i < m->n && m->keys[i] == key;
}

static void
model_insert(struct model *m, int key)
{
	size_t i = model_lower(m, key);

	memmove(&m->keys[i + 1], &m->keys[i], (m->n - i) * sizeof(int));
	m->keys[i] = key;
	m->n++;
}

static void
model_remove(struct model *m, int key)
{
	size_t i = model_lower(m, key);

	memmove(&m->keys[i], &m->keys[i + 1], (m->n - i - 1) * sizeof(int));
	m->n--;
}

/* The tree holds exactly the model's keys, in order, both ways of
 * walking it agree, and the red-black rules hold. */
static void
tree_matches(struct etree *t, const struct model *m)
{
	struct elem *e;
	const char *cause = NULL;
	size_t i = 0;
	int bh;

	CRB_FOREACH(e, etree, t) {
		ck_assert_uint_lt(i, m->n);
		ck_assert_int_eq(e->key, m->keys[i]);
		i++;
	}
	ck_assert_uint_eq(i, m->n);
	i = 0;
	for (e = CRB_MIN(etree, t); e != NULL; e = CRB_NEXT(etree, t, e))
		i++;
	ck_assert_uint_eq(i, m->n);
	ck_assert_int_eq(CRB_EMPTY(t), m->n == 0);

	bh = compat_rb_verify(&t->crbh, offsetof(struct elem, node),
	    etree_CRB_CMP, &cause);
	ck_assert_msg(bh != -1, "tree broken: %s", cause);
	/* n >= 2^(bh - 1) - 1: the black height bounds the depth */
	ck_assert_uint_ge(m->n + 1, (size_t)1 << (bh - 1));
}

/* a small fixed generator: the same sequence on every system */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

START_TEST(test_tree_model)
{
	static struct elem elems[NKEYS];
	static struct model m;
	struct etree t;
	struct elem key, dup, *e, *want;
	uint32_t seed = 0x9e3779b9u + (uint32_t)_i;
	size_t idx;
	int k, op, i, n;

	CRB_INIT(&t);
	m.n = 0;
	for (k = 0; k < NKEYS; k++)
		elems[k].key = k;
	ck_assert_ptr_null(CRB_MIN(etree, &t));
	tree_matches(&t, &m);

	/* inserts outweigh removes at first, then the other way round, so
	 * the tree grows to most keys and shrinks back */
	for (i = 0; i < 20000; i++) {
		k = (int)(next_rand(&seed) % NKEYS);
		op = (int)(next_rand(&seed) % 10);
		key.key = k;
		if (op < (i < 10000 ? 5 : 2)) {
			if (model_has(&m, k)) {
				dup.key = k;
				ck_assert_ptr_eq(CRB_INSERT(etree, &t, &dup),
				    &elems[k]);
			} else {
				ck_assert_ptr_null(CRB_INSERT(etree, &t,
				    &elems[k]));
				model_insert(&m, k);
			}
		} else if (op < 6) {
			e = CRB_FIND(etree, &t, &key);
			if (model_has(&m, k)) {
				ck_assert_ptr_eq(e, &elems[k]);
				ck_assert_ptr_eq(CRB_REMOVE(etree, &t, e), e);
				model_remove(&m, k);
			} else
				ck_assert_ptr_null(e);
		} else if (op < 8) {
			e = CRB_FIND(etree, &t, &key);
			ck_assert_ptr_eq(e, model_has(&m, k) ? &elems[k] :
			    NULL);
		} else {
			/* keys one past the range too: NFIND finds none */
			key.key = k + (op == 9);
			idx = model_lower(&m, key.key);
			want = idx < m.n ? &elems[m.keys[idx]] : NULL;
			ck_assert_ptr_eq(CRB_NFIND(etree, &t, &key), want);
			if (want != NULL) {
				idx++;
				ck_assert_ptr_eq(CRB_NEXT(etree, &t, want),
				    idx < m.n ? &elems[m.keys[idx]] : NULL);
			}
		}
		if (i % 211 == 0)
			tree_matches(&t, &m);
	}
	tree_matches(&t, &m);

	/* FOREACH_SAFE removing every other element, then the rest */
	n = 0;
	CRB_FOREACH_SAFE(e, etree, &t, want) {
		if (n++ % 2 == 0) {
			CRB_REMOVE(etree, &t, e);
			model_remove(&m, e->key);
		}
	}
	tree_matches(&t, &m);
	CRB_FOREACH_SAFE(e, etree, &t, want) {
		CRB_REMOVE(etree, &t, e);
		model_remove(&m, e->key);
	}
	tree_matches(&t, &m);
	ck_assert(CRB_EMPTY(&t));
}
END_TEST

/* Ascending and descending runs: the rotations' worst cases. */
START_TEST(test_tree_sorted_runs)
{
	static struct elem elems[NKEYS];
	static struct model m;
	struct etree t;
	int k;

	CRB_INIT(&t);
	m.n = 0;
	for (k = 0; k < NKEYS; k++) {
		elems[k].key = _i == 0 ? k : NKEYS - 1 - k;
		ck_assert_ptr_null(CRB_INSERT(etree, &t, &elems[k]));
		model_insert(&m, elems[k].key);
	}
	tree_matches(&t, &m);
	for (k = 0; k < NKEYS; k += 3) {
		CRB_REMOVE(etree, &t, &elems[k]);
		model_remove(&m, elems[k].key);
	}
	tree_matches(&t, &m);
}
END_TEST

/* The walker catches a broken tree rather than passing anything. */
START_TEST(test_tree_verify_catches)
{
	struct elem a, b, c, d;
	struct etree t;
	const char *cause = NULL;
	size_t off = offsetof(struct elem, node);

	CRB_INIT(&t);
	a.key = 10;
	b.key = 20;
	c.key = 30;
	d.key = 25;
	CRB_INSERT(etree, &t, &a);
	CRB_INSERT(etree, &t, &b);
	CRB_INSERT(etree, &t, &c);
	ck_assert_int_eq(compat_rb_verify(&t.crbh, off, etree_CRB_CMP,
	    &cause), 2);
	ck_assert_ptr_eq(t.crbh.root, &b.node);

	a.node.red = 0;
	ck_assert_int_eq(compat_rb_verify(&t.crbh, off, etree_CRB_CMP,
	    &cause), -1);
	ck_assert_str_eq(cause, "two paths have different black heights");
	a.node.red = 1;
	b.node.red = 1;
	ck_assert_int_eq(compat_rb_verify(&t.crbh, off, etree_CRB_CMP,
	    &cause), -1);
	ck_assert_str_eq(cause, "the root is red");
	b.node.red = 0;
	a.key = 50;
	ck_assert_int_eq(compat_rb_verify(&t.crbh, off, etree_CRB_CMP,
	    &cause), -1);
	ck_assert_str_eq(cause, "the elements are out of order");
	a.key = 10;

	/* d hung red under red c by hand */
	d.node.left = d.node.right = NULL;
	d.node.parent = &c.node;
	d.node.red = 1;
	c.node.left = &d.node;
	ck_assert_int_eq(compat_rb_verify(&t.crbh, off, etree_CRB_CMP,
	    &cause), -1);
	ck_assert_str_eq(cause, "a red node has a red child");
	d.node.parent = &a.node;
	ck_assert_int_eq(compat_rb_verify(&t.crbh, off, etree_CRB_CMP,
	    &cause), -1);
	ck_assert_str_eq(cause, "a left child's parent link is wrong");
}
END_TEST

/* --- strtonum ------------------------------------------------------------ */

static const struct {
	const char	*s;
	long long	 min, max, want;
	const char	*errstr;
	int		 err;
} strtonum_cases[] = {
	{ "42", 0, 100, 42, NULL, 0 },
	{ "0", 0, 100, 0, NULL, 0 },
	{ "100", 0, 100, 100, NULL, 0 },
	{ "-5", -10, 10, -5, NULL, 0 },
	{ "+7", 0, 10, 7, NULL, 0 },
	{ "-1", 0, 100, 0, "too small", ERANGE },
	{ "101", 0, 100, 0, "too large", ERANGE },
	{ "9223372036854775807", LLONG_MIN, LLONG_MAX, LLONG_MAX, NULL, 0 },
	{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, LLONG_MIN, NULL, 0 },
	{ "9223372036854775808", LLONG_MIN, LLONG_MAX, 0, "too large",
	    ERANGE },
	{ "-9223372036854775809", LLONG_MIN, LLONG_MAX, 0, "too small",
	    ERANGE },
	{ "99999999999999999999999", 0, 10, 0, "too large", ERANGE },
	{ "", 0, 100, 0, "invalid", EINVAL },
	{ "12a", 0, 100, 0, "invalid", EINVAL },
	{ "a12", 0, 100, 0, "invalid", EINVAL },
	{ "-", 0, 100, 0, "invalid", EINVAL },
	{ "0x10", 0, 100, 0, "invalid", EINVAL },
	{ "5 ", 0, 100, 0, "invalid", EINVAL },
	{ "5", 10, 0, 0, "invalid", EINVAL },	/* min > max */
};

START_TEST(test_strtonum)
{
	const char *errstr;
	long long v;

	errstr = "unset";
	errno = EBUSY;
	v = compat_strtonum(strtonum_cases[_i].s, strtonum_cases[_i].min,
	    strtonum_cases[_i].max, &errstr);
	ck_assert_msg(v == strtonum_cases[_i].want, "\"%s\": %lld, want %lld",
	    strtonum_cases[_i].s, v, strtonum_cases[_i].want);
	if (strtonum_cases[_i].errstr == NULL)
		ck_assert_ptr_null(errstr);
	else
		ck_assert_str_eq(errstr, strtonum_cases[_i].errstr);
	ck_assert_int_eq(errno, strtonum_cases[_i].err);
	/* errstr may be NULL */
	ck_assert(compat_strtonum(strtonum_cases[_i].s,
	    strtonum_cases[_i].min, strtonum_cases[_i].max, NULL) ==
	    strtonum_cases[_i].want);
}
END_TEST

/* --- strlcpy, strlcat ---------------------------------------------------- */

START_TEST(test_strlcpy)
{
	char buf[8];

	ck_assert_uint_eq(compat_strlcpy(buf, "hello", sizeof(buf)), 5);
	ck_assert_str_eq(buf, "hello");
	ck_assert_uint_eq(compat_strlcpy(buf, "1234567", sizeof(buf)), 7);
	ck_assert_str_eq(buf, "1234567");
	/* cut: the result is what it would have been, >= the size */
	ck_assert_uint_eq(compat_strlcpy(buf, "hello world", sizeof(buf)),
	    11);
	ck_assert_str_eq(buf, "hello w");
	ck_assert_uint_eq(compat_strlcpy(buf, "12345678", sizeof(buf)), 8);
	ck_assert_str_eq(buf, "1234567");
	ck_assert_uint_eq(compat_strlcpy(buf, "", sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(compat_strlcpy(buf, "abc", 1), 3);
	ck_assert_str_eq(buf, "");
	/* size 0: nothing written */
	memcpy(buf, "xyz", 4);
	ck_assert_uint_eq(compat_strlcpy(buf, "abc", 0), 3);
	ck_assert_str_eq(buf, "xyz");
}
END_TEST

START_TEST(test_strlcat)
{
	char buf[8];

	buf[0] = '\0';
	ck_assert_uint_eq(compat_strlcat(buf, "ab", sizeof(buf)), 2);
	ck_assert_uint_eq(compat_strlcat(buf, "cdef", sizeof(buf)), 6);
	ck_assert_str_eq(buf, "abcdef");
	ck_assert_uint_eq(compat_strlcat(buf, "g", sizeof(buf)), 7);
	ck_assert_str_eq(buf, "abcdefg");
	/* full: the result says how long it would have been */
	ck_assert_uint_eq(compat_strlcat(buf, "hij", sizeof(buf)), 10);
	ck_assert_str_eq(buf, "abcdefg");
	memcpy(buf, "abc", 4);
	ck_assert_uint_eq(compat_strlcat(buf, "defghijk", sizeof(buf)), 11);
	ck_assert_str_eq(buf, "abcdefg");
	/* no terminator within size: size + strlen(src), nothing written */
	memcpy(buf, "abcdefg", 8);
	ck_assert_uint_eq(compat_strlcat(buf, "xy", 4), 6);
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_uint_eq(compat_strlcat(buf, "xy", 0), 2);
	ck_assert_str_eq(buf, "abcdefg");
}
END_TEST

/* --- reallocarray, explicit_bzero, arc4random_uniform -------------------- */

START_TEST(test_reallocarray)
{
	/* volatile: the compiler would refuse the overflowing constant */
	volatile size_t big = SIZE_MAX / 2 + 2;
	int *p, *q;

	ck_assert_ptr_nonnull(p = compat_reallocarray(NULL, 10, sizeof(int)));
	p[9] = 9;
	ck_assert_ptr_nonnull(q = compat_reallocarray(p, 20, sizeof(int)));
	p = q;
	ck_assert_int_eq(p[9], 9);
	p[19] = 19;
	errno = 0;
	ck_assert_ptr_null(compat_reallocarray(p, big, 2));
	ck_assert_int_eq(errno, ENOMEM);
	ck_assert_int_eq(p[19], 19);	/* left alone on failure */
	free(p);
}
END_TEST

START_TEST(test_explicit_bzero)
{
	unsigned char buf[64];
	size_t i;

	memset(buf, 0xa5, sizeof(buf));
	compat_explicit_bzero(buf + 8, 48);
	for (i = 0; i < sizeof(buf); i++)
		ck_assert_uint_eq(buf[i], i < 8 || i >= 56 ? 0xa5 : 0);
	compat_explicit_bzero(buf, 0);
	ck_assert_uint_eq(buf[0], 0xa5);
}
END_TEST

START_TEST(test_arc4random_uniform)
{
	unsigned int seen[7] = { 0 };
	uint32_t v;
	int i;

	ck_assert_uint_eq(compat_arc4random_uniform(0), 0);
	ck_assert_uint_eq(compat_arc4random_uniform(1), 0);
	for (i = 0; i < 7000; i++) {
		v = compat_arc4random_uniform(7);
		ck_assert_uint_lt(v, 7);
		seen[v]++;
	}
	/* each value is drawn; none missing is all a unit test can ask */
	for (i = 0; i < 7; i++)
		ck_assert_uint_gt(seen[i], 0);
	for (i = 0; i < 100; i++)
		ck_assert_uint_lt(compat_arc4random_uniform(UINT32_MAX - 1),
		    UINT32_MAX - 1);
	/* two draws of 32 bits differ but once in 2^32 times; three in a
	 * row equal means no randomness at all */
	v = compat_arc4random();
	ck_assert(compat_arc4random() != v || compat_arc4random() != v);
}
END_TEST

/* --- closefrom ----------------------------------------------------------- */

/* In a child (the test runner's own descriptors stay open): descriptors
 * from the lowest of a few new ones up are closed, those below stay. */
START_TEST(test_closefrom)
{
	pid_t pid;
	int st;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		int fds[6], i, low;

		for (i = 0; i < 6; i++)
			if ((fds[i] = open("/dev/null", O_RDONLY)) == -1)
				_exit(2);
		/* a gap and a high one */
		close(fds[2]);
		if ((fds[2] = dup2(fds[0], 200)) == -1)
			_exit(3);
		low = fds[1];
		compat_closefrom(low);
		if (fcntl(fds[0], F_GETFD) == -1)
			_exit(4);
		for (i = 0; i <= 2; i++)
			if (fcntl(i, F_GETFD) == -1 && errno != EBADF)
				_exit(5);
		for (i = 1; i < 6; i++)
			if (fds[i] >= low &&
			    (fcntl(fds[i], F_GETFD) != -1 || errno != EBADF))
				_exit(6);
		for (i = low; i < 256; i++)
			if (fcntl(i, F_GETFD) != -1)
				_exit(7);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

static Suite *
bsdcompat_suite(void)
{
	Suite *s = suite_create("bsdcompat");
	TCase *tc = tcase_create("bsdcompat");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bsd_fallbacks_built);
	tcase_add_loop_test(tc, test_tree_model, 0, 2);
	tcase_add_loop_test(tc, test_tree_sorted_runs, 0, 2);
	tcase_add_test(tc, test_tree_verify_catches);
	tcase_add_loop_test(tc, test_strtonum, 0,
	    sizeof(strtonum_cases) / sizeof(strtonum_cases[0]));
	tcase_add_test(tc, test_strlcpy);
	tcase_add_test(tc, test_strlcat);
	tcase_add_test(tc, test_reallocarray);
	tcase_add_test(tc, test_explicit_bzero);
	tcase_add_test(tc, test_arc4random_uniform);
	tcase_add_test(tc, test_closefrom);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bsdcompat_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
