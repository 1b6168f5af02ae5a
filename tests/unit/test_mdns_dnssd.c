/* Unit tests of the DNS-SD API backend (common/mdns-dnssd*.c): what needs
 * no responder -- TXT record data both ways, compared with the library's
 * own TXTRecord* encoding; error codes; the names the API hands back; and
 * the connection's life while the responder cannot be reached (D-Bus
 * pointed at nothing, for avahi's library). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dns_sd.h>

#include "event.h"
#include "log.h"
#include "mdns.h"
#include "mdns-dnssd.h"
#include "proto.h"

static void
txt_of(struct txt *t, const char *const *items, size_t n)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++)
		ck_assert_int_eq(txt_add(t, items[i], strlen(items[i])), 0);
}

START_TEST(test_txt_like_txtrecord)
{
	struct txt t;
	TXTRecordRef ref;
	unsigned char *b;
	uint16_t len;
	char *cause = NULL;
	static const char *const items[] = { "txtvers=1", "rp=printers/a",
	    "note=x" };

	txt_of(&t, items, 3);
	ck_assert_int_eq(mdns_dnssd_txt_build(&t, &b, &len, &cause), 0);
	/* the library's own builder, key by key in the same order */
	TXTRecordCreate(&ref, 0, NULL);
	ck_assert_int_eq(TXTRecordSetValue(&ref, "txtvers", 1, "1"), 0);
	ck_assert_int_eq(TXTRecordSetValue(&ref, "rp", 10, "printers/a"), 0);
	ck_assert_int_eq(TXTRecordSetValue(&ref, "note", 1, "x"), 0);
	ck_assert_uint_eq(len, TXTRecordGetLength(&ref));
	ck_assert_mem_eq(b, TXTRecordGetBytesPtr(&ref), len);
	TXTRecordDeallocate(&ref);
	free(b);
	txt_free(&t);
}
END_TEST

START_TEST(test_txt_roundtrip_binary)
{
	struct txt t, back;
	unsigned char *b;
	uint16_t len;
	char *cause = NULL;
	unsigned char bin[255];
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;	/* NULs, '=', high bytes */
	ck_assert_int_eq(txt_add(&t, "a=1", 3), 0);
	ck_assert_int_eq(txt_add(&t, "", 0), 0);
	ck_assert_int_eq(txt_add(&t, bin, sizeof(bin)), 0);
	ck_assert_int_eq(txt_add(&t, "flag", 4), 0);
	ck_assert_int_eq(mdns_dnssd_txt_build(&t, &b, &len, &cause), 0);
	/* the empty item is left out: 4 + 256 + 5 bytes */
	ck_assert_uint_eq(len, 4 + 256 + 5);
	ck_assert_int_eq(TXTRecordGetCount(len, b), 3);
	ck_assert_int_eq(mdns_dnssd_txt_parse(b, len, &back), 0);
	ck_assert_uint_eq(back.n, 3);
	ck_assert_mem_eq(back.items[0].data, "a=1", 3);
	ck_assert_uint_eq(back.items[1].len, sizeof(bin));
	ck_assert_mem_eq(back.items[1].data, bin, sizeof(bin));
	ck_assert_mem_eq(back.items[2].data, "flag", 4);
	txt_free(&back);
	free(b);
	txt_free(&t);
}
END_TEST

START_TEST(test_txt_empty_and_bad)
{
	struct txt t, back;
	unsigned char *b;
	unsigned char big[256];
	uint16_t len;
	char *cause = NULL;
	size_t i;
	static const unsigned char one_empty[] = { 0 };
	static const unsigned char cut[] = { 3, 'a', '=', '1', 5, 'x' };

	/* nothing: zero bytes (the responder writes the empty string) */
	ck_assert_int_eq(mdns_dnssd_txt_build(NULL, &b, &len, &cause), 0);
	ck_assert_ptr_null(b);
	ck_assert_uint_eq(len, 0);
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(txt_add(&t, "", 0), 0);
	ck_assert_int_eq(mdns_dnssd_txt_build(&t, &b, &len, &cause), 0);
	ck_assert_ptr_null(b);
	ck_assert_uint_eq(len, 0);
	txt_free(&t);
	/* the one empty string of an empty TXT: no items */
	ck_assert_int_eq(mdns_dnssd_txt_parse(one_empty, 1, &back), 0);
	ck_assert_uint_eq(back.n, 0);
	ck_assert_int_eq(mdns_dnssd_txt_parse(NULL, 0, &back), 0);
	ck_assert_uint_eq(back.n, 0);
	/* a length byte past the end: refused, what came before kept */
	errno = 0;
	ck_assert_int_eq(mdns_dnssd_txt_parse(cut, sizeof(cut), &back), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_mem_eq(back.items[0].data, "a=1", 3);
	txt_free(&back);
	/* an item of 256 bytes: refused, named */
	memset(big, 'x', sizeof(big));
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(txt_add(&t, "a=1", 3), 0);
	ck_assert_int_eq(txt_add(&t, big, sizeof(big)), 0);
	ck_assert_int_eq(mdns_dnssd_txt_build(&t, &b, &len, &cause),
	    MDNS_ERR_INVALID);
	ck_assert_ptr_null(b);
	ck_assert_str_eq(cause, "TXT item 2 longer than 255 bytes");
	free(cause);
	cause = NULL;
	txt_free(&t);
	/* over 65,535 bytes in all */
	memset(&t, 0, sizeof(t));
	for (i = 0; i < 300; i++)
		ck_assert_int_eq(txt_add(&t, big, 255), 0);
	ck_assert_int_eq(mdns_dnssd_txt_build(&t, &b, &len, &cause),
	    MDNS_ERR_INVALID);
	ck_assert_str_eq(cause, "TXT record of 76800 bytes (the API takes "
	    "65,535 at most)");
	free(cause);
	txt_free(&t);
}
END_TEST

START_TEST(test_errors)
{
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_NoError), 0);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_NameConflict),
	    MDNS_ERR_COLLISION);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_AlreadyRegistered),
	    MDNS_ERR_COLLISION);
	/* Apple's ServiceNotRunning; avahi's library says Unknown */
	ck_assert_int_eq(mdns_dnssd_map_err(-65563), MDNS_ERR_DOWN);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_Unknown),
	    MDNS_ERR_DOWN);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_NoMemory),
	    MDNS_ERR_NOMEM);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_Refused),
	    MDNS_ERR_OBJECTS);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_BadParam),
	    MDNS_ERR_INVALID);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_Unsupported),
	    MDNS_ERR_INVALID);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_BadInterfaceIndex),
	    MDNS_ERR_INVALID);
	ck_assert_int_eq(mdns_dnssd_map_err(kDNSServiceErr_Firewall),
	    MDNS_ERR_OTHER);
	ck_assert_str_eq(mdns_dnssd_strerror(kDNSServiceErr_NameConflict),
	    "name conflict");
	ck_assert_str_eq(mdns_dnssd_strerror(-65563),
	    "the mDNS responder is not running");
	ck_assert_str_eq(mdns_dnssd_strerror(12345),
	    "unexpected DNS-SD error");
}
END_TEST

START_TEST(test_names)
{
	char a[64], b[64];

	ck_assert_int_eq(mdns_dnssd_undot("_http._tcp.", a, sizeof(a)), 0);
	ck_assert_str_eq(a, "_http._tcp");
	ck_assert_int_eq(mdns_dnssd_undot("local", a, sizeof(a)), 0);
	ck_assert_str_eq(a, "local");
	ck_assert_int_eq(mdns_dnssd_undot("a\\.", a, sizeof(a)), 0);
	ck_assert_str_eq(a, "a\\.");		/* an escaped dot stays */
	ck_assert_int_eq(mdns_dnssd_undot("", a, sizeof(a)), 0);
	ck_assert_str_eq(a, "");
	ck_assert_int_eq(mdns_dnssd_undot("abcd.", a, 5), 0);
	ck_assert_int_eq(mdns_dnssd_undot("abcde.", a, 5), -1);

	ck_assert_int_eq(mdns_dnssd_type_result("_http", "_tcp.local.", "local.",
	    a, sizeof(a), b, sizeof(b)), 0);
	ck_assert_str_eq(a, "_http._tcp");
	ck_assert_str_eq(b, "local");
	ck_assert_int_eq(mdns_dnssd_type_result("_ipp", "_udp.local", "local.",
	    a, sizeof(a), b, sizeof(b)), 0);
	ck_assert_str_eq(a, "_ipp._udp");
	ck_assert_int_eq(mdns_dnssd_type_result("http", "_tcp.local.", "local.",
	    a, sizeof(a), b, sizeof(b)), -1);
	ck_assert_int_eq(mdns_dnssd_type_result("_http", "_sctp.local.", "local.",
	    a, sizeof(a), b, sizeof(b)), -1);
	ck_assert_int_eq(mdns_dnssd_type_result("_http", "_tcp.", NULL, a,
	    sizeof(a), b, sizeof(b)), -1);
	ck_assert_int_eq(mdns_dnssd_type_result("_http", "_tcp.", "", a,
	    sizeof(a), b, sizeof(b)), -1);
	/* avahi's library: the domain apart */
	ck_assert_int_eq(mdns_dnssd_type_result("_http", "_tcp.", "local.",
	    a, sizeof(a), b, sizeof(b)), 0);
	ck_assert_str_eq(a, "_http._tcp");
	ck_assert_str_eq(b, "local");
	ck_assert_int_eq(mdns_dnssd_type_result("_a.b", "_tcp.local.", "local.",
	    a, sizeof(a), b, sizeof(b)), -1);
	ck_assert_int_eq(mdns_dnssd_type_result("_http", "_tcp.local.", "local.",
	    a, 5, b, sizeof(b)), -1);
}
END_TEST

/* --- no responder ------------------------------------------------------- */

static int	states[8];
static int	nstates;

static void
state_cb(struct mdns *m, enum mdns_state st, const char *why, void *arg)
{
	if (nstates < 8)
		states[nstates++] = (int)st;
	ck_assert(st != MDNS_DOWN || why != NULL);
}

static void
stop_cb(void *arg)
{
	ev_loop_break(arg);
}

START_TEST(test_no_responder)
{
	struct ev_loop *loop;
	struct ev_timer *t;
	struct mdns *m;
	char *cause = NULL, *version = NULL;
	int code = 0;

	/* avahi's library reaches avahi-daemon over the system bus */
	setenv("DBUS_SYSTEM_BUS_ADDRESS",
	    "unix:path=/nonexistent/rnsplice-test/bus", 1);
	log_init("test_mdns_dnssd", 1, 0);
	ck_assert_int_eq(mdns_probe(&version, &cause), -1);
	ck_assert_ptr_null(version);
	ck_assert_ptr_nonnull(strstr(cause, "mDNS responder is not running"));
	free(cause);
	cause = NULL;

	ck_assert_ptr_nonnull(loop = ev_loop_new());
	ck_assert_ptr_nonnull(m = mdns_new(loop, state_cb, NULL, 50, 200));
	ck_assert_int_eq(mdns_state(m), MDNS_DOWN);
	ck_assert_ptr_null(mdns_host_name(m));
	ck_assert_ptr_null(mdns_version(m));
	ck_assert_str_eq(mdns_domain(m), "local");
	ck_assert_ptr_null(mdns_browse_new(m, "_http._tcp", NULL, NULL,
	    &code, &cause));
	ck_assert_int_eq(code, MDNS_ERR_DOWN);
	ck_assert_str_eq(cause, "the mDNS responder is not running");
	free(cause);
	cause = NULL;
	ck_assert_ptr_null(mdns_reg_new(m, NULL, NULL, &code, &cause));
	ck_assert_int_eq(code, MDNS_ERR_DOWN);
	free(cause);

	/* retried with backoff; DOWN is told once, from the loop */
	ck_assert_ptr_nonnull(t = ev_timer_add(loop, stop_cb, loop));
	ev_timer_set(t, 700);
	ck_assert_int_eq(ev_loop_run(loop), 0);
	ck_assert_int_eq(nstates, 1);
	ck_assert_int_eq(states[0], MDNS_DOWN);
	ck_assert_int_eq(mdns_state(m), MDNS_DOWN);
	mdns_free(m);
	ev_timer_del(t);
	ev_loop_free(loop);
}
END_TEST

static Suite *
dnssd_suite(void)
{
	Suite *s = suite_create("mdns-dnssd");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_txt_like_txtrecord);
	tcase_add_test(tc, test_txt_roundtrip_binary);
	tcase_add_test(tc, test_txt_empty_and_bad);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_no_responder);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dnssd_suite());
	int failed;

	/* the TXTRecord* calls of avahi's library warn otherwise */
	setenv("AVAHI_COMPAT_NOWARN", "1", 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
