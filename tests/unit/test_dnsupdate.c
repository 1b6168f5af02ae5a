/* Unit tests of dns-update's configuration: the TSIG key file as
 * tsig-keygen writes it, the dns-update block at the top level and in a
 * remote, its inheritance, and the DNS limits a service must fit; and the
 * records dnsrecords.c builds for a service and for the host. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dnsupdate.h"
#include "dnsupdate-int.h"

#define SECRET	"T02+rUH5S2d9xKslo9b1Mmqho1T6YZDGfsGIj7/3haI="
#define KEYGEN	"key \"rnsplice-test\" {\n\talgorithm hmac-sha256;\n" \
		"\tsecret \"" SECRET "\";\n};\n"

static char keypath[64];

static void
key_setup(void)
{
	int fd;

	strlcpy(keypath, "/tmp/rnsplice-test-key.XXXXXX", sizeof(keypath));
	fd = mkstemp(keypath);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, KEYGEN, strlen(KEYGEN)),
	    (ssize_t)strlen(KEYGEN));
	close(fd);
	chmod(keypath, 0600);
}

static void
key_teardown(void)
{
	unlink(keypath);
}

static void
key_ok(const char *text, const char *name, const char *alg)
{
	struct tsigkey k;
	char *cause = NULL;

	ck_assert_msg(tsigkey_parse("k", text, strlen(text), &k, &cause) == 0,
	    "%s: %s", text, cause);
	ck_assert_str_eq(k.name, name);
	ck_assert_str_eq(k.alg, alg);
}

static void
key_bad(const char *text, const char *expect)
{
	struct tsigkey k;
	char *cause = NULL;

	ck_assert_int_eq(tsigkey_parse("k", text, strlen(text), &k, &cause),
	    -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, expect) != NULL, "\"%s\" lacks \"%s\"",
	    cause, expect);
	free(cause);
}

START_TEST(test_tsigkey)
{
	struct tsigkey k;
	char *cause = NULL;

	key_ok(KEYGEN, "rnsplice-test", "hmac-sha256");
	key_ok("# c\n// c\n/* c\n */ key Up.Example. { secret \"" SECRET
	    "\"; algorithm HMAC-SHA512; };", "up.example", "hmac-sha512");
	key_bad("", "k:1: expected key");
	key_bad("key \"a\" { algorithm hmac-sha256; };", "has no secret");
	key_bad("key \"a\" { secret \"" SECRET "\"; };", "has no algorithm");
	key_bad("key \"a\" { algorithm rot13; secret \"" SECRET "\"; };",
	    "unknown algorithm \"rot13\"");
	key_bad("key \"a\" {\n algorithm hmac-sha1;\n secret \"abc\"; };",
	    "k:3: secret: expected a quoted base64");
	key_bad("key \"a b\" { };", "expected the key's name");
	key_bad(KEYGEN KEYGEN, "more than one key");
	key_bad("key \"a\" { algorithm hmac-sha1; algorithm hmac-sha1; };",
	    "algorithm given twice");
	key_bad("key \"a\" { algorithm hmac-sha1 }", "expected \";\"");
	key_bad("key \"a\" { algorithm hmac-sha1; secret \"" SECRET "\"; }",
	    "after the key's \"}\"");
	key_bad("/* open", "comment not closed");
	key_bad("key \"a", "quoted string not closed");
	key_bad("key \"a\" { bogus 1; };", "unknown statement \"bogus\"");
	ck_assert_int_eq(tsigkey_parse("k", "key \"a\0\" {};", 13, &k,
	    &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "NUL byte"));
	free(cause);
}
END_TEST

START_TEST(test_tsigkey_mode)
{
	struct tsigkey k;
	char *cause = NULL;

	ck_assert_int_eq(tsigkey_load(keypath, &k, &cause), 0);
	ck_assert_str_eq(k.secret, SECRET);
	chmod(keypath, 0644);
	ck_assert_int_eq(tsigkey_load(keypath, &k, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "chmod 600"));
	free(cause);
	chmod(keypath, 0600);
	ck_assert_int_eq(tsigkey_load("/nonexistent/k", &k, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "No such file"));
	free(cause);
}
END_TEST

static char *
block(const char *where, const char *extra)
{
	char *s;

	ck_assert_int_ne(asprintf(&s, "%sdns-update {\n server 192.0.2.53 "
	    "port 5353\n zone Sites.Example.\n key %s\n address 192.0.2.7\n"
	    "%s}\n%s", where, keypath, extra, where[0] != '\0' ? "}\n" : ""),
	    -1);
	return s;
}

static void
conf_bad(const char *text, const char *expect)
{
	struct agent_conf *c = conf_new();
	char *cause = NULL;

	/* a block is checked whole (and its key read) by conf_finish */
	if (conf_parse(c, "t.conf", text, strlen(text), &cause) == 0)
		ck_assert_int_eq(conf_finish(c, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, expect) != NULL, "\"%s\" lacks \"%s\"",
	    cause, expect);
	free(cause);
	conf_free(c);
}

START_TEST(test_conf_block)
{
	struct agent_conf *c = conf_new();
	struct remote_conf *a, *b;
	const struct dnsup_conf *dc;
	char *text, *cause = NULL, *t2;

	if (!dnsup_available()) {
		conf_bad("dns-update {\n}\n", "t.conf:1: dns-update: this "
		    "rnsplice-agent was built without ldns");
		conf_free(c);
		return;
	}
	/* top level: every remote inherits it; a remote may have its own */
	text = block("", "");
	ck_assert_int_ne(asprintf(&t2, "%sremote a {\n}\nremote b {\n"
	    "dns-update {\nserver 2001:db8::53\nzone other.example\nkey %s\n"
	    "address 2001:db8::7\naddress 192.0.2.8\n}\n}\n", text, keypath),
	    -1);
	ck_assert_msg(conf_parse(c, "t.conf", t2, strlen(t2), &cause) == 0,
	    "%s", cause);
	ck_assert_int_eq(conf_finish(c, &cause), 0);
	a = TAILQ_FIRST(&c->remotes);
	b = TAILQ_NEXT(a, entry);
	ck_assert_ptr_nonnull(dc = a->dnsupdate);
	ck_assert_str_eq(dc->zone, "sites.example");
	ck_assert_str_eq(dc->server, "192.0.2.53");
	ck_assert_uint_eq(dc->port, 5353);
	ck_assert_str_eq(dc->key.name, "rnsplice-test");
	ck_assert_uint_eq(dc->naddr, 1);
	ck_assert_ptr_nonnull(dc = b->dnsupdate);
	ck_assert_str_eq(dc->zone, "other.example");
	ck_assert_uint_eq(dc->port, 53);
	ck_assert_uint_eq(dc->naddr, 2);
	ck_assert(!dnsup_conf_eq(a->dnsupdate, b->dnsupdate));
	ck_assert(dnsup_conf_eq(a->dnsupdate, c->defaults.dnsupdate));
	free(text);
	free(t2);
	conf_free(c);

	text = block("", " zone again.example\n");
	conf_bad(text, "t.conf:6: dns-update: zone given twice");
	free(text);
	text = block("", " bogus 1\n");
	conf_bad(text, "t.conf:6: unknown keyword \"bogus\" (expected server, "
	    "zone, key or address)");
	free(text);
	text = block("remote a {\n", " server 192.0.2.9\n");
	conf_bad(text, "t.conf:7: dns-update: server given twice");
	free(text);
	conf_bad("dns-update {\n server 192.0.2.1\n}\n",
	    "t.conf:1: dns-update block lacks zone NAME");
	conf_bad("dns-update {\n}\n", "t.conf:1: dns-update block is empty");
	conf_bad("dns-update {\n server 192.0.2.1\n", "t.conf:1: dns-update "
	    "block is not closed");
	conf_bad("dns-update {\n dns-update {\n", "t.conf:2: dns-update "
	    "belongs at the top level or in a remote block, not in a dns-update "
	    "block");
	conf_bad("remote a {\n dns-update {\n dns-update {\n", "t.conf:3: "
	    "dns-update belongs at the top level or in a remote block, not in "
	    "a dns-update block");
	conf_bad("dns-update {\n server host.example\n}\n", "t.conf:2: "
	    "dns-update: server \"host.example\" is not an IPv4 or IPv6");
	conf_bad("dns-update {\n server 192.0.2.1 port 0\n}\n", "port \"0\" "
	    "is too small");
	conf_bad("dns-update {\n zone foo.local\n}\n", "mDNS's own domain");
	conf_bad("dns-update {\n zone a..b\n}\n", "is not a DNS name");
	conf_bad("dns-update {\n key relative.key\n}\n", "absolute path");
	conf_bad("dns-update {\n address fe80::1\n}\n", "link-local");
	conf_bad("dns-update {\n address 192.0.2.1\n address 192.0.2.2\n "
	    "address 192.0.2.3\n address 192.0.2.4\n address 192.0.2.5\n}\n",
	    "t.conf:6: dns-update: more than 4 addresses");
	text = block("", "");
	ck_assert_int_ne(asprintf(&t2, "%s%s", text, text), -1);
	conf_bad(t2, "t.conf:7: dns-update already set on line 1");
	free(text);
	free(t2);
}
END_TEST

START_TEST(test_limits)
{
	char why[256], zone[200], name[80];

	ck_assert_int_eq(dnsup_check_limits("sites.example", "Printer (a)",
	    "_ipp._tcp", 300, why, sizeof(why)), 0);
	memset(name, 'n', 64);
	name[64] = '\0';
	ck_assert_int_eq(dnsup_check_limits("sites.example", name,
	    "_ipp._tcp", 1, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "at most 63"));
	name[63] = '\0';
	memset(zone, 'z', 63);
	memcpy(zone + 63, ".", 1);
	memset(zone + 64, 'y', 63);
	memcpy(zone + 127, ".", 1);
	memset(zone + 128, 'x', 62);
	zone[190] = '\0';
	ck_assert_int_eq(dnsup_check_limits(zone, name, "_ipp._tcp", 1, why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "more than the 255"));
	ck_assert_int_eq(dnsup_check_limits("s.example", "a", "_ipp._tcp",
	    DNSSD_MAXTXT + 1, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "TXT record of 8901 bytes"));
}
END_TEST

#ifdef HAVE_LDNS
/* The records dnsrecords.c builds for a service and for the host, read
 * back in presentation form. */
START_TEST(test_records)
{
	struct dnsup_conf dc;
	struct dzone z;
	struct dsvc s;
	struct sockaddr_in *sin;
	ldns_rr_list *l;
	char *str;

	memset(&dc, 0, sizeof(dc));
	strlcpy(dc.zone, "example.org", sizeof(dc.zone));
	sin = (struct sockaddr_in *)&dc.addr[0];
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0xc0000201);	/* 192.0.2.1 */
	dc.addrlen[0] = sizeof(*sin);
	dc.naddr = 1;
	memset(&z, 0, sizeof(z));
	z.conf = &dc;
	strlcpy(z.host, "rns-a-00000001.example.org", sizeof(z.host));
	strlcpy(z.index, "_rnsplice.rns-a-00000001.example.org",
	    sizeof(z.index));
	memset(&s, 0, sizeof(s));
	s.z = &z;
	strlcpy(s.name, "My Printer", sizeof(s.name));
	strlcpy(s.type, "_ipp._tcp", sizeof(s.type));
	s.port = 631;
	ck_assert_int_eq(txt_add(&s.txt, "rp=ipp", 6), 0);
	ck_assert_uint_eq(dnsrec_txt_wire(&s.txt), 7);

	/* published: the instance's RRsets replaced, SRV, TXT, 3 PTRs */
	s.state = DS_ADD;
	ck_assert_ptr_nonnull(l = ldns_rr_list_new());
	ck_assert_int_eq(dnsrec_svc(&z, &s, l), 0);
	ck_assert_uint_eq(ldns_rr_list_rr_count(l), 6);
	ck_assert_ptr_nonnull(str = ldns_rr_list2str(l));
	ck_assert_ptr_nonnull(strstr(str, "My\\032Printer._ipp._tcp."
	    "example.org.\t120\tIN\tSRV\t0 0 631 rns-a-00000001.example.org."));
	ck_assert_ptr_nonnull(strstr(str, "\tTXT\t\"rp=ipp\""));
	ck_assert_ptr_nonnull(strstr(str, "_ipp._tcp.example.org.\t120\tIN\t"
	    "PTR\tMy\\032Printer._ipp._tcp.example.org."));
	ck_assert_ptr_nonnull(strstr(str, "_services._dns-sd._udp.example."
	    "org.\t120\tIN\tPTR\t_ipp._tcp.example.org."));
	ck_assert_ptr_nonnull(strstr(str, "_rnsplice.rns-a-00000001.example."
	    "org.\t120\tIN\tPTR\tMy\\032Printer._ipp._tcp.example.org."));
	free(str);
	ldns_rr_list_deep_free(l);

	/* withdrawn: the instance's RRsets, its PTR and its index entry */
	s.state = DS_DEL;
	ck_assert_ptr_nonnull(l = ldns_rr_list_new());
	ck_assert_int_eq(dnsrec_svc(&z, &s, l), 0);
	ck_assert_uint_eq(ldns_rr_list_rr_count(l), 3);
	ck_assert_int_eq(ldns_rr_get_class(ldns_rr_list_rr(l, 1)),
	    LDNS_RR_CLASS_NONE);
	ck_assert_int_eq(ldns_rr_get_class(ldns_rr_list_rr(l, 2)),
	    LDNS_RR_CLASS_NONE);
	ldns_rr_list_deep_free(l);

	/* the host: A and AAAA replaced, the address, b and lb */
	ck_assert_ptr_nonnull(l = ldns_rr_list_new());
	ck_assert_int_eq(dnsrec_host(&z, l, 1), 0);
	ck_assert_uint_eq(ldns_rr_list_rr_count(l), 5);
	ck_assert_ptr_nonnull(str = ldns_rr_list2str(l));
	ck_assert_ptr_nonnull(strstr(str, "rns-a-00000001.example.org.\t120\t"
	    "IN\tA\t192.0.2.1"));
	ck_assert_ptr_nonnull(strstr(str, "lb._dns-sd._udp.example.org.\t120\t"
	    "IN\tPTR\texample.org."));
	free(str);
	ldns_rr_list_deep_free(l);
	txt_free(&s.txt);
}
END_TEST
#endif

static Suite *
dnsupdate_suite(void)
{
	Suite *s = suite_create("dnsupdate");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, key_setup, key_teardown);
	tcase_add_test(tc, test_tsigkey);
	tcase_add_test(tc, test_tsigkey_mode);
	tcase_add_test(tc, test_conf_block);
	tcase_add_test(tc, test_limits);
#ifdef HAVE_LDNS
	tcase_add_test(tc, test_records);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dnsupdate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
