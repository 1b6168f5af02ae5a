/* Unit tests of multi-stage splicing (agent/route.c, agent/import.c): the
 * ranking of copies of one origin service (fewest hops, deterministic
 * ties), the decision taken from it, failover order, the origin key, and
 * which copies seen on the LAN compete with ours. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "meta.h"
#include "proto.h"

/* meta from "a,b,d" (origin: the first site) */
static struct splice_meta
mk(const char *path)
{
	struct splice_meta m;
	char tmp[256], *p, *s;

	memset(&m, 0, sizeof(m));
	strlcpy(tmp, path, sizeof(tmp));
	for (s = tmp; (p = strsep(&s, ",")) != NULL;)
		ck_assert_int_eq(meta_push(&m, p), 0);
	strlcpy(m.origin, m.path[0], sizeof(m.origin));
	return m;
}

static struct route_cand
cand(const struct splice_meta *m, const char *name, int published, int lan,
    unsigned int order)
{
	struct route_cand c;

	memset(&c, 0, sizeof(c));
	c.meta = m;
	c.name = name;
	c.published = published;
	c.lan = lan;
	c.order = order;
	return c;
}

/* --- ranking ------------------------------------------------------------- */

START_TEST(test_fewest_hops)
{
	struct splice_meta m2 = mk("a,b,d"), m3 = mk("a,c,e,d"),
	    m1 = mk("a,d");
	struct route_cand c2 = cand(&m2, "Web (b)", 0, 0, 0),
	    c3 = cand(&m3, "Web (e)", 1, 0, 0),
	    l1 = cand(&m1, "Web (x)", 1, 1, 0);

	/* hops before everything: a published 3-hop copy loses */
	ck_assert_int_lt(route_cmp(&c2, &c3), 0);
	ck_assert_int_gt(route_cmp(&c3, &c2), 0);
	/* and a 1-hop copy of another agent beats both */
	ck_assert_int_lt(route_cmp(&l1, &c2), 0);
	ck_assert_int_lt(route_cmp(&l1, &c3), 0);
	ck_assert_int_eq(route_cmp(&c2, &c2), 0);
}
END_TEST

START_TEST(test_tie_break)
{
	struct splice_meta ab = mk("a,b,d"), ac = mk("a,c,d"),
	    ab2 = mk("a,b,d");
	struct route_cand x, y;

	/* equal hops: the path, site by site */
	x = cand(&ab, "zzz", 0, 0, 5);
	y = cand(&ac, "aaa", 1, 1, 0);
	ck_assert_int_lt(route_cmp(&x, &y), 0);
	ck_assert_int_gt(route_cmp(&y, &x), 0);

	/* equal paths: the published copy wins, whatever its name */
	x = cand(&ab, "Web (b)", 0, 0, 0);
	y = cand(&ab2, "Web (zz)", 1, 1, 0);
	ck_assert_int_gt(route_cmp(&x, &y), 0);
	/* both published: the name (unique on a LAN) */
	x.published = 1;
	ck_assert_int_lt(route_cmp(&x, &y), 0);
	/* the same name (about to collide): the other agent's copy */
	y.name = "Web (b)";
	ck_assert_int_gt(route_cmp(&x, &y), 0);
	/* two remotes of ours, same path, same name: config order */
	x = cand(&ab, "Web", 0, 0, 1);
	y = cand(&ab2, "Web", 0, 0, 0);
	ck_assert_int_gt(route_cmp(&x, &y), 0);
	/* antisymmetric throughout */
	ck_assert_int_lt(route_cmp(&y, &x), 0);
}
END_TEST

/* Every permutation of the input sorts to the same order: the ranking is
 * a total order, so every agent of a LAN reaches the same conclusion. */
START_TEST(test_sort_deterministic)
{
	struct splice_meta m[5] = { mk("a,b,d"), mk("a,c,e,d"), mk("a,c,d"),
	    mk("a,b,d"), mk("a,d") };
	const char *names[5] = { "W (b)", "W (e)", "W (c)", "W (b2)", "W" };
	struct route_cand base[5], c[5];
	size_t i, k, perm[5] = { 0, 1, 2, 3, 4 }, tmp;
	const char *want[5] = { "W", "W (b)", "W (b2)", "W (c)", "W (e)" };
	unsigned int seed = 1;

	for (i = 0; i < 5; i++)
		base[i] = cand(&m[i], names[i], 0, 0, (unsigned int)i);
	for (k = 0; k < 200; k++) {
		for (i = 4; i > 0; i--) {
			size_t j = (size_t)rand_r(&seed) % (i + 1);

			tmp = perm[i];
			perm[i] = perm[j];
			perm[j] = tmp;
		}
		for (i = 0; i < 5; i++)
			c[i] = base[perm[i]];
		route_sort(c, 5);
		for (i = 0; i < 5; i++)
			ck_assert_str_eq(c[i].name, want[i]);
	}
}
END_TEST

/* --- decisions and failover ----------------------------------------------- */

START_TEST(test_decide)
{
	struct splice_meta short_ = mk("a,b,d"), long_ = mk("a,c,e,d"),
	    lan2 = mk("a,x,d"), lan1 = mk("a,d");
	struct route_cand c[4];

	/* two remotes (case a): the shorter one, at once */
	c[0] = cand(&long_, "W (e)", 0, 0, 1);
	c[1] = cand(&short_, "W (b)", 0, 0, 0);
	ck_assert_int_eq(route_decide(c, 2, 1, 0), ROUTE_OURS);
	ck_assert_str_eq(c[0].name, "W (b)");
	/* nothing published yet: the local view must have settled */
	c[0] = cand(&long_, "W (e)", 0, 0, 1);
	c[1] = cand(&short_, "W (b)", 0, 0, 0);
	ck_assert_int_eq(route_decide(c, 2, 0, 0), ROUTE_WAIT_VIEW);
	/* and the hold-down must be over */
	ck_assert_int_eq(route_decide(c, 2, 1, 1), ROUTE_WAIT_HOLD);
	/* but a copy of ours is up: a better path never waits */
	c[0] = cand(&long_, "W (e)", 1, 0, 1);
	c[1] = cand(&short_, "W (b)", 0, 0, 0);
	ck_assert_int_eq(route_decide(c, 2, 0, 1), ROUTE_OURS);
	ck_assert_str_eq(c[0].name, "W (b)");

	/* case b: a copy as short on the LAN, published: we hold back */
	c[0] = cand(&short_, "W (b)", 0, 0, 0);
	c[1] = cand(&lan2, "W (x)", 1, 1, 0);
	ck_assert_int_eq(route_decide(c, 2, 1, 0), ROUTE_OURS);	/* a,b < a,x */
	c[0] = cand(&long_, "W (e)", 0, 0, 0);
	c[1] = cand(&lan2, "W (x)", 1, 1, 0);
	ck_assert_int_eq(route_decide(c, 2, 1, 0), ROUTE_LAN);
	/* a shorter one on the LAN: even our published copy goes */
	c[0] = cand(&short_, "W (b)", 1, 0, 0);
	c[1] = cand(&lan1, "W (y)", 1, 1, 0);
	ck_assert_int_eq(route_decide(c, 2, 1, 0), ROUTE_LAN);
	ck_assert_int_eq(c[0].lan, 1);
	/* a longer one on the LAN does not stop us */
	c[0] = cand(&long_, "W (z)", 1, 1, 0);
	c[1] = cand(&short_, "W (b)", 0, 0, 0);
	ck_assert_int_eq(route_decide(c, 2, 1, 0), ROUTE_OURS);
	ck_assert_int_eq(c[0].lan, 0);
}
END_TEST

/* The best path dies: the next one in rank takes over, then the next. */
START_TEST(test_failover_order)
{
	struct splice_meta p2 = mk("a,b,d"), p3 = mk("a,c,e,d"),
	    p3b = mk("a,c,f,d"), p4 = mk("a,c,e,g,d");
	struct route_cand c[4];
	const char *order[4] = { "B", "E", "F", "G" };
	size_t n = 4, k;

	c[0] = cand(&p4, "G", 0, 0, 3);
	c[1] = cand(&p3b, "F", 0, 0, 2);
	c[2] = cand(&p2, "B", 1, 0, 0);
	c[3] = cand(&p3, "E", 0, 0, 1);
	for (k = 0; k < 4; k++) {
		ck_assert_int_eq(route_decide(c, n, 1, 0), ROUTE_OURS);
		ck_assert_str_eq(c[0].name, order[k]);
		/* it dies: withdrawn upstream; the rest wait for the
		 * hold-down, then the next one goes up */
		memmove(c, c + 1, (n - 1) * sizeof(*c));
		n--;
		if (n == 0)
			break;
		ck_assert_int_eq(route_decide(c, n, 1, 1), ROUTE_WAIT_HOLD);
		c[0].published = 0;
	}
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Two agents of one LAN (same site id d) can both offer an origin
 * service: whatever each has published, exactly one keeps publishing. */
START_TEST(test_two_agents_agree)
{
	struct splice_meta px = mk("a,b,d"), py = mk("a,c,d"), pz = mk("a,b,d");
	struct {
		const struct splice_meta *m;
		const char *name;
	} s[3][2] = {
		{ { &px, "W (b)" }, { &py, "W (c)" } },	/* paths differ */
		{ { &px, "W (b)" }, { &pz, "W (b) #2" } },	/* names differ */
		{ { &px, "W (b)" }, { &pz, "W (bb)" } },
	};
	size_t k;
	int xp, yp, xv, yv;
	struct route_cand cx[2], cy[2];

	for (k = 0; k < 3; k++)
		for (xp = 0; xp < 2; xp++)
			for (yp = 0; yp < 2; yp++) {
				/* what X sees: its own, and Y's if up */
				cx[0] = cand(s[k][0].m, s[k][0].name, xp, 0, 0);
				cx[1] = cand(s[k][1].m, s[k][1].name, 1, 1, 0);
				cy[0] = cand(s[k][1].m, s[k][1].name, yp, 0, 0);
				cy[1] = cand(s[k][0].m, s[k][0].name, 1, 1, 0);
				xv = route_decide(cx, yp ? 2 : 1, 1, 0);
				yv = route_decide(cy, xp ? 2 : 1, 1, 0);
				if (xp && yp) {
					/* both up: exactly one stays */
					ck_assert_msg((xv == ROUTE_OURS) !=
					    (yv == ROUTE_OURS), "case %zu: "
					    "%d %d", k, xv, yv);
				} else if (xp) {
					/* X is up (and not worse): Y does
					 * not join it */
					ck_assert_int_eq(xv, ROUTE_OURS);
					ck_assert_int_eq(yv, ROUTE_LAN);
				}
			}
}
END_TEST

/* --- identity ------------------------------------------------------------- */

START_TEST(test_keys)
{
	struct splice_meta m = mk("a,b");
	char *k1, *k2, *k3;

	k1 = route_key("a", "Kitchen Printer", "_IPP._tcp", "Local");
	ck_assert_str_eq(k1, "a\tKitchen Printer\t_ipp._tcp\tlocal");
	/* the published name differs per hop; n= keeps the origin's */
	strlcpy(m.name, "Kitchen Printer", sizeof(m.name));
	k2 = route_meta_key(&m, "Kitchen Printer (office)", "_ipp._tcp",
	    "local");
	ck_assert_str_eq(k1, k2);
	/* without n= the name as published is the origin's */
	m.name[0] = '\0';
	k3 = route_meta_key(&m, "Kitchen Printer", "_ipp._tcp", "local");
	ck_assert_str_eq(k1, k3);
	free(k3);
	/* another origin site: another service */
	k3 = route_key("z", "Kitchen Printer", "_ipp._tcp", "local");
	ck_assert_str_ne(k1, k3);
	free(k1);
	free(k2);
	free(k3);
}
END_TEST

START_TEST(test_lan_usable)
{
	struct splice_meta own = mk("a,b,d"), derived = mk("a,d,x,y"),
	    foreign = mk("a,b,x");

	/* our own copy, on this host */
	ck_assert_int_eq(route_lan_usable(&own, 1, "d"), 0);
	/* the same path from another host: a relay of the same LAN
	 * sharing our site id */
	ck_assert_int_eq(route_lan_usable(&own, 0, "d"), 1);
	/* it has crossed this site before: derived from ours, a loop */
	ck_assert_int_eq(route_lan_usable(&derived, 0, "d"), 0);
	ck_assert_int_eq(route_lan_usable(&foreign, 0, "d"), 1);
	ck_assert_int_eq(route_lan_usable(&foreign, 1, "d"), 1);
}
END_TEST

/* --- the path along a chain and around a ring --------------------------- */

static void
txt_meta(struct txt *t, const struct splice_meta *m)
{
	char item[300];

	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(txt_add(t, "path=/", 6), 0);
	if (m != NULL) {
		ck_assert_int_eq(meta_format(m, item, sizeof(item)), 0);
		ck_assert_int_eq(txt_add(t, item, strlen(item)), 0);
	}
}

START_TEST(test_chain_and_ring)
{
	const char *ring[] = { "a", "b", "c", "a" };
	struct splice_meta m;
	struct txt t;
	char why[160];
	size_t i;

	/* a -> b -> c -> a: hops grow by one; back at a it is a loop */
	txt_meta(&t, NULL);
	for (i = 1; i < 4; i++) {
		int r = import_decide(&t, ring[i], ring[i - 1], 4, &m, why,
		    sizeof(why));

		txt_free(&t);
		if (i < 3) {
			ck_assert_int_eq(r, 1);
			ck_assert_str_eq(m.origin, "a");
			ck_assert_uint_eq(meta_hops(&m), i);
			ck_assert_str_eq(m.path[i], ring[i]);
			txt_meta(&t, &m);
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_ptr_nonnull(strstr(why, "loop"));
		}
	}
	/* the hop limit: 3 hops with max-hops 2 */
	m = mk("a,b,c");
	txt_meta(&t, &m);
	ck_assert_int_eq(import_decide(&t, "d", "c", 2, &m, why, sizeof(why)),
	    0);
	ck_assert_ptr_nonnull(strstr(why, "hop limit"));
	ck_assert_int_eq(import_decide(&t, "d", "c", 3, &m, why, sizeof(why)),
	    1);
	ck_assert_uint_eq(meta_hops(&m), 3);
	txt_free(&t);
}
END_TEST

static Suite *
multistage_suite(void)
{
	Suite *s = suite_create("multistage");
	TCase *tc = tcase_create("multistage");

	tcase_add_test(tc, test_fewest_hops);
	tcase_add_test(tc, test_tie_break);
	tcase_add_test(tc, test_sort_deterministic);
	tcase_add_test(tc, test_decide);
	tcase_add_test(tc, test_failover_order);
	tcase_add_test(tc, test_two_agents_agree);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_lan_usable);
	tcase_add_test(tc, test_chain_and_ring);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(multistage_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
