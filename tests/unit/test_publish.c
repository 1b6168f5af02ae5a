/* Unit tests of the publisher (common/publish*.c) and of the avahi
 * backend's TXT conversion and wire-format names (common/mdns-avahi*.c):
 * what needs no
 * avahi-daemon (input checks, TXT conversion, collision names compared
 * with avahi's own, the host-scope label) and the life of a publisher
 * while D-Bus itself is unreachable. Also which TXT record of a resolved
 * service is the newest (common/mdns-txtwatch.c). */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>

#include "escape.h"
#include "event.h"
#include "log.h"
#include "mdns-avahi.h"
#include "mdns-int.h"
#include "proto.h"
#include "publish.h"
#include "publish-int.h"

static void
txt_of(struct txt *t, const char *const *items, size_t n)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++)
		ck_assert_int_eq(txt_add(t, items[i], strlen(items[i])), 0);
}

START_TEST(test_txt_order_matches_avahi)
{
	static const char *const items[] = { "txtvers=1", "rp=printers/a",
	    "note=x" };
	struct txt t;
	AvahiStringList *mine, *ref;

	txt_of(&t, items, 3);
	ck_assert_int_eq(mdns_avahi_txt_to_strlst(&t, &mine), 0);
	/* avahi_string_list_new() is how avahi's own tools build a TXT in
	 * order: the same list means the same record on the wire. */
	ref = avahi_string_list_new(items[0], items[1], items[2], NULL);
	ck_assert(avahi_string_list_equal(mine, ref));
	avahi_string_list_free(mine);
	avahi_string_list_free(ref);
	txt_free(&t);
}
END_TEST

START_TEST(test_txt_roundtrip_binary)
{
	unsigned char all[255], nul[] = { 'k', '=', 0, 0xff, 0, 'v' };
	struct txt t, back;
	AvahiStringList *l;
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < sizeof(all); i++)
		all[i] = (unsigned char)(i + 1);
	ck_assert_int_eq(txt_add(&t, "", 0), 0);		/* empty item */
	ck_assert_int_eq(txt_add(&t, nul, sizeof(nul)), 0);	/* NULs */
	ck_assert_int_eq(txt_add(&t, all, sizeof(all)), 0);	/* 255 */
	ck_assert_int_eq(txt_add(&t, "\xc3", 1), 0);	/* not UTF-8 */
	ck_assert_int_eq(txt_add(&t, "rnsplice=1", 10), 0);
	ck_assert_int_eq(mdns_avahi_txt_to_strlst(&t, &l), 0);
	/* the empty item is left out (avahi refuses it), the rest kept */
	ck_assert_uint_eq(avahi_string_list_length(l), 4);
	ck_assert_int_eq(mdns_avahi_strlst_to_txt(l, 1, &back), 0);
	ck_assert_uint_eq(back.n, 4);
	ck_assert_uint_eq(back.items[0].len, sizeof(nul));
	ck_assert_int_eq(memcmp(back.items[0].data, nul, sizeof(nul)), 0);
	ck_assert_uint_eq(back.items[1].len, sizeof(all));
	ck_assert_int_eq(memcmp(back.items[1].data, all, sizeof(all)), 0);
	ck_assert_uint_eq(back.items[2].len, 1);
	ck_assert_int_eq(back.items[2].data[0], 0xc3);
	ck_assert_uint_eq(back.items[3].len, 10);
	ck_assert_int_eq(memcmp(back.items[3].data, "rnsplice=1", 10), 0);
	avahi_string_list_free(l);
	txt_free(&back);
	txt_free(&t);
}
END_TEST

START_TEST(test_txt_empty)
{
	struct txt t, back;
	AvahiStringList *l, *junk;

	junk = avahi_string_list_new("junk", NULL);
	memset(&t, 0, sizeof(t));
	l = junk;	/* must be overwritten */
	ck_assert_int_eq(mdns_avahi_txt_to_strlst(&t, &l), 0);
	ck_assert_ptr_null(l);
	l = junk;
	ck_assert_int_eq(mdns_avahi_txt_to_strlst(NULL, &l), 0);
	ck_assert_ptr_null(l);
	/* only empty items: the empty list */
	ck_assert_int_eq(txt_add(&t, "", 0), 0);
	ck_assert_int_eq(txt_add(&t, "", 0), 0);
	l = junk;
	ck_assert_int_eq(mdns_avahi_txt_to_strlst(&t, &l), 0);
	ck_assert_ptr_null(l);
	txt_free(&t);
	avahi_string_list_free(junk);
	ck_assert_int_eq(mdns_avahi_strlst_to_txt(NULL, 1, &back), 0);
	ck_assert_uint_eq(back.n, 0);
}
END_TEST

/* The checks explain a failure in an allocated cause; these copy it into
 * err (and free it) so that the tests can compare the words. */
static int
copy_cause(int r, char *cause, char *err, size_t errlen)
{
	err[0] = '\0';
	if (r == -1) {
		ck_assert_ptr_nonnull(cause);
		strlcpy(err, cause, errlen);
		free(cause);
	}
	return r;
}

static int
txt_check(const struct txt *t, char *err, size_t errlen)
{
	char *cause = NULL;
	int r;

	r = pub_txt_check(t, &cause);
	return copy_cause(r, cause, err, errlen);
}

static int
name_check(const char *name, char *err, size_t errlen)
{
	char *cause = NULL;
	int r;

	r = pub_name_check(name, &cause);
	return copy_cause(r, cause, err, errlen);
}

static int
spec_check(const struct pub_spec *s, char *err, size_t errlen)
{
	char *cause = NULL;
	int r;

	r = pub_spec_check(s, &cause);
	return copy_cause(r, cause, err, errlen);
}

START_TEST(test_txt_check)
{
	unsigned char big[256];
	struct txt t;
	char err[256];
	size_t i;

	memset(big, 'a', sizeof(big));
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(txt_check(NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(txt_check(&t, err, sizeof(err)), 0);
	ck_assert_int_eq(txt_add(&t, big, 255), 0);
	ck_assert_int_eq(txt_check(&t, err, sizeof(err)), 0);
	ck_assert_int_eq(txt_add(&t, big, 256), 0);
	ck_assert_int_eq(txt_check(&t, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "TXT item 2 is 256 bytes long (at most 255)");
	txt_free(&t);

	/* 35 x 256 = 8960 > 8900 */
	for (i = 0; i < 35; i++)
		ck_assert_int_eq(txt_add(&t, big, 255), 0);
	ck_assert_int_eq(txt_check(&t, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "TXT record is 8960 bytes"));
	txt_free(&t);
}
END_TEST

START_TEST(test_name_check)
{
	char err[256], n63[64], n64[65];

	memset(n63, 'x', 63);
	n63[63] = '\0';
	memset(n64, 'x', 64);
	n64[64] = '\0';
	ck_assert_int_eq(name_check("Printer [siteA]", err, sizeof(err)), 0);
	ck_assert_int_eq(name_check("Caf\xc3\xa9 \xe2\x98\x95 #2", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(name_check("a.b\\c %41", err, sizeof(err)), 0);
	ck_assert_int_eq(name_check(n63, err, sizeof(err)), 0);
	ck_assert_int_eq(name_check(n64, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "is 64 bytes long (at most 63)"));
	ck_assert_int_eq(name_check("", err, sizeof(err)), -1);
	ck_assert_int_eq(name_check(NULL, err, sizeof(err)), -1);
	ck_assert_int_eq(name_check("bad \xc3", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "service name is not valid UTF-8");
	ck_assert_int_eq(name_check("\xc0\xaf", err, sizeof(err)), -1);
	ck_assert_int_eq(name_check("\xed\xa0\x80", err, sizeof(err)),
	    -1);	/* surrogate */
	ck_assert_int_eq(name_check("tab\there", err, sizeof(err)), -1);
	ck_assert_int_eq(name_check("del\x7f", err, sizeof(err)), -1);
	/* 21 x 3 bytes = 63 bytes of UTF-8: fine; one more byte is not */
	{
		char w[80] = "";
		int i;

		for (i = 0; i < 21; i++)
			strcat(w, "\xe2\x82\xac");
		ck_assert_int_eq(name_check(w, err, sizeof(err)), 0);
		strcat(w, "x");
		ck_assert_int_eq(name_check(w, err, sizeof(err)), -1);
	}
}
END_TEST

START_TEST(test_spec_check)
{
	struct pub_spec s = { .name = "web", .type = "_http._tcp",
	    .port = 8080, .scope = PUB_SCOPE_LAN };
	struct pub_spec b;
	char err[256];

	ck_assert_int_eq(spec_check(&s, err, sizeof(err)), 0);
	s.scope = PUB_SCOPE_HOST;
	ck_assert_int_eq(spec_check(&s, err, sizeof(err)), 0);
	s.domain = "local";
	ck_assert_int_eq(spec_check(&s, err, sizeof(err)), 0);

	b = s;
	b.type = "_http";
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"web\": \"_http\" is not a service type "
	    "(_name._tcp or _name._udp)");
	b.type = "http._tcp";
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	b.type = "_http._sctp";
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	b.type = NULL;
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	b = s;
	b.port = 0;
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "\"web\": port 0");
	b = s;
	b.scope = PUB_SCOPE_IFACE;
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	b.ifindex = 2;
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), 0);
	b = s;
	b.scope = (enum pub_scope)7;
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	b = s;
	b.domain = "bad\xc3";
	ck_assert_int_eq(spec_check(&b, err, sizeof(err)), -1);
	ck_assert_int_eq(spec_check(NULL, err, sizeof(err)), -1);
}
END_TEST

/* The spec as both sides of the publisher hold it (publish-names.c). */
START_TEST(test_svc_hold)
{
	struct txt t, t2;
	struct pub_spec s = { .name = "web", .type = "_http._tcp",
	    .domain = "local", .port = 8080, .scope = PUB_SCOPE_IFACE,
	    .ifindex = 3 };
	struct pub_svc sv, keep;
	char *cause = NULL, big[300];

	memset(&t, 0, sizeof(t));
	memset(&t2, 0, sizeof(t2));
	ck_assert_int_eq(txt_add(&t, "a=1", 3), 0);
	s.txt = &t;
	ck_assert_int_eq(pub_svc_set(&sv, &s), 0);
	ck_assert_str_eq(sv.name, "web");
	ck_assert_str_eq(sv.type, "_http._tcp");
	ck_assert_str_eq(sv.domain, "local");
	ck_assert_int_eq(sv.port, 8080);
	ck_assert_int_eq(sv.ifindex, 3);
	ck_assert(txt_equal(&sv.txt, &t));
	ck_assert_ptr_ne(sv.name, s.name);	/* a copy */

	/* the same again: nothing changed */
	ck_assert_int_eq(pub_svc_update(&sv, &t, 8080, &cause), 0);
	ck_assert_int_eq(pub_svc_update(&sv, NULL, 0, &cause), 0);
	ck_assert_int_eq(pub_svc_update(&sv, NULL, 9090, &cause),
	    PUB_CHANGED_PORT);
	ck_assert_int_eq(txt_add(&t2, "a=2", 3), 0);
	ck_assert_int_eq(pub_svc_update(&sv, &t2, 0, &cause),
	    PUB_CHANGED_TXT);
	ck_assert(txt_equal(&sv.txt, &t2));
	ck_assert_int_eq(pub_svc_update(&sv, &t, 7070, &cause),
	    PUB_CHANGED_TXT | PUB_CHANGED_PORT);
	ck_assert_int_eq(sv.port, 7070);

	/* a bad TXT is refused with a reason, the service unchanged */
	memset(big, 'x', sizeof(big));
	txt_free(&t2);
	ck_assert_int_eq(txt_add(&t2, big, sizeof(big)), 0);
	ck_assert_int_eq(pub_svc_update(&sv, &t2, 6060, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	ck_assert_int_eq(sv.port, 7070);
	ck_assert(txt_equal(&sv.txt, &t));

	/* a bad spec is refused, what was held untouched */
	keep = sv;
	s.port = 0;
	ck_assert_int_eq(pub_svc_set(&sv, &s), -1);
	ck_assert_ptr_eq(sv.name, keep.name);
	s.port = 80;
	s.scope = PUB_SCOPE_LAN;	/* the interface only for IFACE */
	pub_svc_clear(&sv);
	ck_assert_ptr_null(sv.name);
	ck_assert_int_eq(pub_svc_set(&sv, &s), 0);
	ck_assert_int_eq(sv.ifindex, 0);
	pub_svc_clear(&sv);
	txt_free(&t);
	txt_free(&t2);
}
END_TEST

START_TEST(test_alternative_names)
{
	char *a, *b, *c, n63[64], w[80] = "";
	int i;

	a = pub_alternative_name("Printer [siteA]");
	ck_assert_str_eq(a, "Printer [siteA] #2");
	b = pub_alternative_name(a);
	ck_assert_str_eq(b, "Printer [siteA] #3");
	free(a);
	free(b);
	a = pub_alternative_name("x #9");
	ck_assert_str_eq(a, "x #10");
	free(a);

	/* Deterministic and never repeating along the way. */
	a = strdup("svc");
	for (i = 2; i < 120; i++) {
		char want[32];

		b = pub_alternative_name(a);
		snprintf(want, sizeof(want), "svc #%d", i);
		ck_assert_str_eq(b, want);
		free(a);
		a = b;
	}
	free(a);

	/* Long names are cut to fit, on a character boundary. */
	memset(n63, 'x', 63);
	n63[63] = '\0';
	a = pub_alternative_name(n63);
	ck_assert_uint_le(strlen(a), 63);
	ck_assert_str_eq(a + strlen(a) - 3, " #2");
	free(a);
	for (i = 0; i < 21; i++)
		strcat(w, "\xe2\x82\xac");	/* 63 bytes */
	a = pub_alternative_name(w);
	ck_assert_uint_le(strlen(a), 63);
	ck_assert(utf8_valid(a, strlen(a)));
	c = pub_alternative_name(a);
	ck_assert_uint_le(strlen(c), 63);
	ck_assert(utf8_valid(c, strlen(c)));
	ck_assert_str_eq(c + strlen(c) - 3, " #3");
	free(a);
	free(c);

	ck_assert_ptr_null(pub_alternative_name(""));
	ck_assert_ptr_null(pub_alternative_name("bad \xc3"));
}
END_TEST

/* Our renaming is avahi's own (alternative.c), which the publisher no
 * longer calls so that any backend renames alike. host: a host label. */
static void
same_as_avahi(const char *name, int host)
{
	char *mine, *theirs;

	mine = host ? pub_alternative_host(name) :
	    pub_alternative_name(name);
	theirs = host ? avahi_alternative_host_name(name) :
	    avahi_alternative_service_name(name);
	ck_assert_msg(mine != NULL && theirs != NULL &&
	    strcmp(mine, theirs) == 0, "\"%s\": \"%s\" vs avahi's \"%s\"",
	    name, mine, theirs);
	free(mine);
	avahi_free(theirs);
}

START_TEST(test_alternative_like_avahi)
{
	static const char *const names[] = { "A", "A #2", "A #9", "A #0",
	    "A #", "A #x", "A # 2", "A #2 #3", "#5", " #5", "x#5", "A #99999",
	    "Printer [siteA]", "\xe2\x82\xac #41", "trailing #" };
	static const char *const hosts[] = { "h", "h-2", "h-9", "h-0", "h-",
	    "h-x", "a-b-c", "brelay-1a2b3c-rnsplice", "-5", "h-99999" };
	char n[80];
	size_t i, k;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		same_as_avahi(names[i], 0);
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		same_as_avahi(hosts[i], 1);
	/* long names and counters, cut at every length */
	for (k = 55; k <= 63; k++) {
		memset(n, 'y', k);
		n[k] = '\0';
		memcpy(n + k - 4, " #98", 4);
		same_as_avahi(n, 0);
		memset(n, 'y', k);
		memcpy(n + k - 3, "-98", 3);
		same_as_avahi(n, 1);
	}
}
END_TEST

START_TEST(test_domain_like_avahi)
{
	static const char *const doms[] = { "local", "local.", ".", "",
	    "example.com", "a..b", ".a", "a.b.", "x\\.y", "x\\065y",
	    "x\\999", "x\\", "0123456789012345678901234567890123456789"
	    "01234567890123456789012", "0123456789012345678901234567890123456"
	    "78901234567890123456789012.b" };
	size_t i;

	for (i = 0; i < sizeof(doms) / sizeof(doms[0]); i++)
		ck_assert_msg(pub_domain_valid(doms[i]) ==
		    (avahi_is_valid_domain_name(doms[i]) != 0),
		    "\"%s\": %d vs avahi's %d", doms[i],
		    pub_domain_valid(doms[i]),
		    avahi_is_valid_domain_name(doms[i]));
}
END_TEST

/* Names as the records of a service are added (mdns-avahi.c): the
 * labels of avahi's escaped names, checked against avahi's own split. */
static size_t
wire_labels(const uint8_t *w, size_t len, char labels[][64], size_t max)
{
	size_t n = 0, o = 0;

	while (o < len && w[o] != 0) {
		ck_assert_uint_lt(n, max);
		ck_assert_uint_le(o + 1 + w[o], len);
		memcpy(labels[n], w + o + 1, w[o]);
		labels[n][w[o]] = '\0';
		o += 1 + w[o];
		n++;
	}
	ck_assert_uint_eq(o + 1, len);	/* the root label ends it */
	return n;
}

START_TEST(test_name_wire)
{
	static const char *const names[] = { "web", "A.B c", "back\\slash",
	    "Caf\xc3\xa9 [x]", "dots...", "x" };
	char full[AVAHI_DOMAIN_NAME_MAX], name[AVAHI_LABEL_MAX];
	char type[AVAHI_DOMAIN_NAME_MAX], domain[AVAHI_DOMAIN_NAME_MAX];
	char labels[8][64], big[200];
	uint8_t w[AVAHI_DOMAIN_NAME_MAX + 8];
	size_t len, i, n;

	ck_assert_int_eq(mdns_avahi_name_wire("web._http._tcp.local", w,
	    sizeof(w), &len), 0);
	ck_assert_uint_eq(len, 22);
	ck_assert_int_eq(memcmp(w, "\003web\005_http\004_tcp\005local", 22),
	    0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		ck_assert_int_eq(avahi_service_name_join(full, sizeof(full),
		    names[i], "_rnspub._tcp", "local"), 0);
		ck_assert_int_eq(mdns_avahi_name_wire(full, w, sizeof(w),
		    &len), 0);
		n = wire_labels(w, len, labels, 8);
		ck_assert_uint_eq(n, 4);
		ck_assert_int_eq(avahi_service_name_split(full, name,
		    sizeof(name), type, sizeof(type), domain, sizeof(domain)),
		    0);
		ck_assert_str_eq(labels[0], name);
		ck_assert_str_eq(labels[0], names[i]);
		ck_assert_str_eq(labels[1], "_rnspub");
		ck_assert_str_eq(labels[2], "_tcp");
		ck_assert_str_eq(labels[3], "local");
	}
	/* the root: one zero byte */
	ck_assert_int_eq(mdns_avahi_name_wire("", w, sizeof(w), &len), 0);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(w[0], 0);
	/* exactly the room it needs, and one byte less */
	ck_assert_int_eq(mdns_avahi_name_wire("web.local", w, 11, &len), 0);
	ck_assert_uint_eq(len, 11);
	ck_assert_int_eq(mdns_avahi_name_wire("web.local", w, 10, &len), -1);
	ck_assert_int_eq(mdns_avahi_name_wire("web.local", w, 4, &len), -1);
	/* 63 bytes is the longest label; empty labels and a lone escape
	 * are refused */
	memset(big, 'a', 63);
	strcpy(big + 63, ".local");
	ck_assert_int_eq(mdns_avahi_name_wire(big, w, sizeof(w), &len), 0);
	ck_assert_uint_eq(len, 1 + 63 + 1 + 5 + 1);
	memset(big, 'a', 64);
	strcpy(big + 64, ".local");
	ck_assert_int_eq(mdns_avahi_name_wire(big, w, sizeof(w), &len), -1);
	ck_assert_int_eq(mdns_avahi_name_wire("a..local", w, sizeof(w), &len),
	    -1);
	ck_assert_int_eq(mdns_avahi_name_wire("a\\", w, sizeof(w), &len), -1);
}
END_TEST

START_TEST(test_host_label)
{
	char out[64], big[100], small[8];

	ck_assert_int_eq(pub_host_label("brelay-1a2b3c", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "brelay-1a2b3c-rnsplice");
	ck_assert_int_eq(pub_host_label("my host_name.x", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "my-host-name-x-rnsplice");
	ck_assert_int_eq(pub_host_label("", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "host-rnsplice");
	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(pub_host_label(big, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 63);
	ck_assert_str_eq(out + 54, "-rnsplice");
	ck_assert_int_eq(pub_host_label("brelay", small, sizeof(small)), -1);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(pub_state_name(PUB_WAITING), "waiting");
	ck_assert_str_eq(pub_state_name(PUB_REGISTERING), "registering");
	ck_assert_str_eq(pub_state_name(PUB_ESTABLISHED), "established");
	ck_assert_str_eq(pub_state_name(PUB_FAILED), "failed");
	ck_assert_str_eq(pub_state_name((enum pub_state)9), "?");
	ck_assert_str_eq(pub_scope_name(PUB_SCOPE_LAN), "lan");
	ck_assert_str_eq(pub_scope_name(PUB_SCOPE_IFACE), "iface");
	ck_assert_str_eq(pub_scope_name(PUB_SCOPE_HOST), "host");
}
END_TEST

/* Without D-Bus the publisher must still start, accept entries (they
 * wait), update and remove them, retry in the background and free
 * cleanly (ASan builds check the leaks). */
static int ncb;

static void
count_cb(struct publisher *p, struct pub_entry *e, int up, void *arg)
{
	ncb++;
}

static void
stop_cb(void *arg)
{
	ev_loop_break(arg);
}

START_TEST(test_no_dbus)
{
	struct ev_loop *loop;
	struct ev_timer *t;
	struct publisher *pub;
	struct pub_entry *a, *b;
	struct txt txt;
	static const char *const items[] = { "a=1" };
	struct pub_spec s = { .name = "web", .type = "_http._tcp",
	    .port = 8080, .scope = PUB_SCOPE_LAN, .txt = &txt };

	setenv("DBUS_SYSTEM_BUS_ADDRESS",
	    "unix:path=/nonexistent/rnsplice-test/bus", 1);
	log_init("test_publish", 1, 0);
	txt_of(&txt, items, 1);
	ck_assert_ptr_nonnull(loop = ev_loop_new());
	pub = publisher_new(loop, count_cb, NULL);
	ck_assert_ptr_nonnull(pub);
	ck_assert_int_eq(publisher_running(pub), 0);
	ck_assert_ptr_nonnull(a = publisher_add(pub, &s, &ncb));
	ck_assert_int_eq(pub_entry_state(a), PUB_WAITING);
	ck_assert_ptr_eq(pub_entry_arg(a), &ncb);
	ck_assert_str_eq(pub_entry_name(a), "web");
	ck_assert_ptr_null(pub_entry_error(a));
	s.name = "host only";
	s.scope = PUB_SCOPE_HOST;
	ck_assert_ptr_nonnull(b = publisher_add(pub, &s, NULL));
	s.port = 0;
	ck_assert_ptr_null(publisher_add(pub, &s, NULL));
	ck_assert_int_eq(publisher_update(a, NULL, 8081), 0);
	ck_assert_int_eq(publisher_update(a, &txt, 0), 0);
	ck_assert_int_eq(pub_entry_state(a), PUB_WAITING);

	/* Let it try to connect (and fail) a few times. */
	ck_assert_ptr_nonnull(t = ev_timer_add(loop, stop_cb, loop));
	ev_timer_set(t, 1200);
	ck_assert_int_eq(ev_loop_run(loop), 0);
	ck_assert_int_eq(publisher_running(pub), 0);
	ck_assert_int_eq(pub_entry_state(b), PUB_WAITING);
	ck_assert_int_eq(ncb, 0);	/* nothing changed: nothing told */
	publisher_remove(a);
	publisher_free(pub);
	ev_timer_del(t);
	ev_loop_free(loop);
	txt_free(&txt);
}
END_TEST

/* --- the TXT record browser's bookkeeping (mdns-txtwatch.c) --- */

static int
txt_is(const struct txt *t, const char *item)
{
	return t != NULL && t->n == 1 && t->items[0].len == strlen(item) &&
	    memcmp(t->items[0].data, item, t->items[0].len) == 0;
}

START_TEST(test_txtw_change)
{
	static const char *const i1[] = { "v=1" }, *const i2[] = { "v=2" },
	    *const i3[] = { "v=3" };
	struct mdns_txtwatch w;
	struct txt v1, v2, v3;

	txt_of(&v1, i1, 1);
	txt_of(&v2, i2, 1);
	txt_of(&v3, i3, 1);
	mdns_txtw_init(&w);
	/* the cache's listing may hold an old and a new record: ignored */
	ck_assert_int_eq(mdns_txtw_added(&w, &v2), 0);
	ck_assert_int_eq(mdns_txtw_added(&w, &v1), 0);
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v1), "v=1"));
	mdns_txtw_listed(&w);
	/* a new record: told at once, once */
	ck_assert_int_eq(mdns_txtw_added(&w, &v2), 1);
	ck_assert_int_eq(mdns_txtw_added(&w, &v2), 0);
	ck_assert_int_eq(mdns_txtw_added(&w, &v3), 1);
	/* the old ones expire: nothing */
	mdns_txtw_removed(&w, &v1);
	mdns_txtw_removed(&w, &v2);
	/* the resolver, still holding an old record, must not bring it
	 * back */
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v1), "v=1") == 0);
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v2), "v=3"));
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v3), "v=3"));
	/* changed back to an earlier TXT: that is a change too */
	ck_assert_int_eq(mdns_txtw_added(&w, &v1), 1);
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v3), "v=1"));
	mdns_txtw_clear(&w);
	txt_free(&v1);
	txt_free(&v2);
	txt_free(&v3);
}
END_TEST

START_TEST(test_txtw_before_resolved)
{
	static const char *const i1[] = { "v=1" }, *const i2[] = { "v=2" };
	struct mdns_txtwatch w;
	struct txt v1, v2;

	txt_of(&v1, i1, 1);
	txt_of(&v2, i2, 1);
	mdns_txtw_init(&w);
	mdns_txtw_listed(&w);
	/* nothing told yet: the resolver tells, with the newer record */
	ck_assert_int_eq(mdns_txtw_added(&w, &v2), 0);
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v1), "v=2"));
	/* the newest record went (the service is going): the resolver
	 * says what there is */
	mdns_txtw_removed(&w, &v2);
	ck_assert(txt_is(mdns_txtw_resolved(&w, &v1), "v=1"));
	mdns_txtw_clear(&w);
	mdns_txtw_clear(&w);	/* twice is harmless */
	txt_free(&v1);
	txt_free(&v2);
}
END_TEST

/* The avahi backend reads a TXT record browser's rdata with
 * avahi_string_list_parse, whose list is reversed. */
START_TEST(test_txtw_rdata_order)
{
	static const unsigned char rd[] = "\3v=1\0\5a=b c\1\xff";
	AvahiStringList *l = NULL;
	struct txt t;

	ck_assert_int_eq(avahi_string_list_parse(rd, sizeof(rd) - 1, &l), 0);
	ck_assert_int_eq(mdns_avahi_strlst_to_txt(l, 1, &t), 0);
	ck_assert_uint_eq(t.n, 3);	/* the empty string left out */
	ck_assert(t.items[0].len == 3 && memcmp(t.items[0].data, "v=1",
	    3) == 0);
	ck_assert(t.items[1].len == 5 && memcmp(t.items[1].data, "a=b c",
	    5) == 0);
	ck_assert(t.items[2].len == 1 && t.items[2].data[0] == 0xff);
	txt_free(&t);
	avahi_string_list_free(l);
}
END_TEST

/* --- the engine's rates, the withdrawers' lock --- */

START_TEST(test_pace)
{
	struct pub_pace p;
	unsigned i;

	memset(&p, 0, sizeof(p));
	for (i = 0; i < 50; i++)
		ck_assert_uint_eq(pub_pace_take(&p, 1000, 50, 100), 0);
	/* the window is full: the rest of it to wait */
	ck_assert_uint_eq(pub_pace_take(&p, 1000, 50, 100), 100);
	ck_assert_uint_eq(pub_pace_take(&p, 1060, 50, 100), 40);
	ck_assert_uint_eq(pub_pace_take(&p, 1099, 50, 100), 1);
	/* a new window: max more */
	for (i = 0; i < 50; i++)
		ck_assert_uint_eq(pub_pace_take(&p, 1100 + i, 50, 100), 0);
	ck_assert_uint_eq(pub_pace_take(&p, 1150, 50, 100), 50);
	/* long after: at once */
	ck_assert_uint_eq(pub_pace_take(&p, 999999, 50, 100), 0);
	/* at time 0 of a fresh rate too */
	memset(&p, 0, sizeof(p));
	ck_assert_uint_eq(pub_pace_take(&p, 0, 1, 100), 0);
	ck_assert_uint_eq(pub_pace_take(&p, 0, 1, 100), 100);
}
END_TEST

START_TEST(test_withdrawer)
{
	char dir[] = "/tmp/test_publish.XXXXXX", path[PATH_MAX], c;
	int go[2], ready[2], status;
	pid_t pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	setenv("XDG_RUNTIME_DIR", dir, 1);
	log_init("test_publish", 1, 0);
	/* no runtime directory, no lock file: nobody withdraws */
	ck_assert_int_eq(pubproc_withdrawer("host-a"), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	if ((pid = fork()) == 0) {
		close(go[1]);
		close(ready[0]);
		c = pubproc_withdraw_lock("host-a") == 0 ? 'y' : 'n';
		(void)write(ready[1], &c, 1);
		(void)read(go[0], &c, 1);	/* EOF: exit */
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	close(go[0]);
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 'y');
	ck_assert_int_eq(pubproc_withdrawer("host-a"), pid);
	/* another responder's host: not this one's */
	ck_assert_int_eq(pubproc_withdrawer("host-b"), 0);
	/* a second withdrawer of the same host may lock too (shared) */
	ck_assert_int_eq(pubproc_withdraw_lock("host-a"), 0);
	close(go[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the lock goes with the process; the file stays */
	ck_assert_int_eq(pubproc_withdrawer("host-a"), 0);
	snprintf(path, sizeof(path), "%s/rnsplice/withdrawing-host-a-rnsplice",
	    dir);
	ck_assert_int_eq(access(path, F_OK), 0);
	close(ready[0]);
	unlink(path);
	snprintf(path, sizeof(path), "%s/rnsplice", dir);
	rmdir(path);
	rmdir(dir);
}
END_TEST

static Suite *
publish_suite(void)
{
	Suite *s = suite_create("publish");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, test_txt_order_matches_avahi);
	tcase_add_test(tc, test_txt_roundtrip_binary);
	tcase_add_test(tc, test_txt_empty);
	tcase_add_test(tc, test_name_wire);
	tcase_add_test(tc, test_txt_check);
	tcase_add_test(tc, test_name_check);
	tcase_add_test(tc, test_spec_check);
	tcase_add_test(tc, test_svc_hold);
	tcase_add_test(tc, test_alternative_names);
	tcase_add_test(tc, test_alternative_like_avahi);
	tcase_add_test(tc, test_domain_like_avahi);
	tcase_add_test(tc, test_host_label);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_txtw_change);
	tcase_add_test(tc, test_txtw_before_resolved);
	tcase_add_test(tc, test_txtw_rdata_order);
	tcase_add_test(tc, test_pace);
	tcase_add_test(tc, test_withdrawer);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_add_test(tc, test_no_dbus);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(publish_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
