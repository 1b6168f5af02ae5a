/* Unit tests of rnsplice-subsystem's library: the policy file (parsing,
 * errors with FILE:LINE, first-match semantics, address prefixes), and the
 * service table (merging, address choice, snapshot and diff, coalescing
 * under back-pressure, max-services, hop limits, avahi restarts) -- all
 * without avahi. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#ifdef HAVE_SPLICE
#include <sys/eventfd.h>
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "event.h"
#include "mdns-avahi.h"
#include "proto.h"
#include "subsystem.h"

#define V4	AF_INET
#define V6	AF_INET6

/* ------------------------------------------------------------------------
 * Policy */

static struct policy *
parse_ok(const char *text)
{
	struct policy *p;
	char *cause = NULL;

	p = policy_parse("t.conf", text, strlen(text), &cause);
	ck_assert_msg(p != NULL, "parse failed: %s", cause ? cause : "?");
	return p;
}

static void
parse_fails(const char *text, const char *want)
{
	struct policy *p;
	char *cause = NULL;

	p = policy_parse("t.conf", text, strlen(text), &cause);
	ck_assert_msg(p == NULL, "\"%s\" parsed", text);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, want) != NULL, "\"%s\": got \"%s\", "
	    "want \"%s\"", text, cause, want);
	free(cause);
}

START_TEST(test_policy_defaults)
{
	struct policy *p = policy_default();

	ck_assert_int_eq(p->relay, 1);
	ck_assert_uint_eq(p->max_services, POLICY_DEF_MAX_SERVICES);
	ck_assert_uint_eq(p->max_line, PROTO_MAXLINE);
	ck_assert_uint_eq(p->max_hops, PROTO_MAXHOPS_DEFAULT);
	ck_assert_uint_eq(p->nrules, 0);
	ck_assert_int_eq(policy_match(p, "x", "_http._tcp", "10.0.0.1",
	    NULL), POLICY_ALLOW);
	policy_free(p);
}
END_TEST

START_TEST(test_policy_parse)
{
	struct policy *p = parse_ok(
	    "# subsystem.conf\n"
	    "\n"
	    "relay no\r\n"
	    "max-services 100   # trailing comment\n"
	    "\tmax-line 4096\n"
	    "max-relays 8\n"
	    "max-hops 2\n"
	    "keepalive 0\n"
	    "deny name \"Office \\\"A\\\" \\\\ *\" type _ipp._tcp\n"
	    "allow type _http._tcp address 10.1.0.0/24\n"
	    "allow name caf\xc3\xa9*\n"
	    "deny all");

	ck_assert_int_eq(p->relay, 0);
	ck_assert_uint_eq(p->max_services, 100);
	ck_assert_uint_eq(p->max_line, 4096);
	ck_assert_uint_eq(p->max_relays, 8);
	ck_assert_uint_eq(p->max_hops, 2);
	ck_assert_uint_eq(p->keepalive, 0);
	ck_assert_uint_eq(p->nrules, 4);
	ck_assert_int_eq(p->any_allow, 1);
	ck_assert_str_eq(p->rules[0].name, "Office \"A\" \\ *");
	ck_assert_str_eq(p->rules[0].type, "_ipp._tcp");
	ck_assert_int_eq(p->rules[0].allow, 0);
	ck_assert_uint_eq(p->rules[0].line, 9);
	ck_assert_int_eq(p->rules[1].has_prefix, 1);
	ck_assert_uint_eq(p->rules[1].prefix.len, 24);
	ck_assert_ptr_null(p->rules[3].type);
	ck_assert_ptr_null(p->rules[3].name);
	ck_assert_int_eq(p->rules[3].has_prefix, 0);
	policy_free(p);
}
END_TEST

START_TEST(test_policy_errors)
{
	parse_fails("frobnicate yes\n", "t.conf:1: unknown keyword "
	    "\"frobnicate\" (expected allow, deny, relay");
	parse_fails("\n\nrelay maybe\n", "t.conf:3: relay: \"maybe\" is not "
	    "yes or no");
	parse_fails("relay\n", "t.conf:1: relay takes one argument");
	parse_fails("max-services 0\n", "t.conf:1: max-services: \"0\"");
	parse_fails("max-services 10x\n", "t.conf:1: max-services");
	parse_fails("max-line 100\n", "t.conf:1: max-line");
	parse_fails("max-hops 33\n", "t.conf:1: max-hops");
	parse_fails("max-hops 2\nmax-hops 3\n", "t.conf:2: max-hops already "
	    "set on line 1");
	parse_fails("allow\n", "t.conf:1: allow needs a criterion");
	parse_fails("deny type\n", "t.conf:1: type needs a pattern");
	parse_fails("deny type http\n", "t.conf:1: type \"http\" is not a "
	    "service type");
	parse_fails("deny colour red\n", "t.conf:1: unknown criterion "
	    "\"colour\"");
	parse_fails("deny all type _http._tcp\n", "t.conf:1: \"all\" cannot "
	    "be combined");
	parse_fails("deny name a name b\n", "t.conf:1: name given twice");
	parse_fails("deny name \"\"\n", "t.conf:1: empty name pattern");
	parse_fails("deny name \"open\n", "t.conf:1: unterminated quote");
	parse_fails("deny name \"a\"b\n", "t.conf:1: text after a closing "
	    "quote");
	parse_fails("deny name a\"b\"\n", "t.conf:1: quote inside a word");
	parse_fails("deny address 10.1.0.1/24\n", "t.conf:1: address "
	    "\"10.1.0.1/24\": host bits set (did you mean 10.1.0.0/24?)");
	parse_fails("deny address 10.1.0.0/33\n", "t.conf:1: address "
	    "\"10.1.0.0/33\": prefix length is too large (0..32)");
	parse_fails("deny address printer.local\n", "t.conf:1: address "
	    "\"printer.local\": not an address prefix (expected an IPv4 or "
	    "IPv6");
	parse_fails("# ok\nrelay yes\ndeny name \x01x\n", "t.conf:3: control "
	    "character 0x01");
	parse_fails("deny name \xff\n", "t.conf:1: not UTF-8");
	{
		char text[] = "relay yes\ndeny name a\0b\n";

		struct policy *p;
		char *cause = NULL;

		p = policy_parse("t.conf", text, sizeof(text) - 1, &cause);
		ck_assert_ptr_null(p);
		ck_assert_str_eq(cause, "t.conf:2: NUL byte");
		free(cause);
	}
}
END_TEST

START_TEST(test_policy_first_match)
{
	struct policy *p;
	const struct policy_rule *r;

	/* first match wins: the deny before the allow */
	p = parse_ok("deny name Secret*\n"
	    "allow type _http._tcp\n"
	    "allow type _ipp._tcp\n");
	ck_assert_int_eq(policy_match(p, "Secret wiki", "_http._tcp",
	    "10.1.0.2", &r), POLICY_DENY);
	ck_assert_uint_eq(r->line, 1);
	ck_assert_int_eq(policy_match(p, "Wiki", "_http._tcp", "10.1.0.2",
	    &r), POLICY_ALLOW);
	ck_assert_uint_eq(r->line, 2);
	/* type patterns ignore case */
	ck_assert_int_eq(policy_match(p, "Wiki", "_HTTP._TCP", "10.1.0.2",
	    NULL), POLICY_ALLOW);
	/* an allow rule exists: what no rule matches is hidden */
	ck_assert_int_eq(policy_match(p, "Music", "_raop._tcp", "10.1.0.2",
	    &r), POLICY_DENY);
	ck_assert_ptr_null(r);
	policy_free(p);

	/* the same rules the other way round: the allow wins */
	p = parse_ok("allow type _http._tcp\ndeny name Secret*\n");
	ck_assert_int_eq(policy_match(p, "Secret wiki", "_http._tcp",
	    "10.1.0.2", NULL), POLICY_ALLOW);
	policy_free(p);

	/* deny rules only: what no rule matches is offered */
	p = parse_ok("deny type _ssh._tcp\ndeny name *[Pp]rivate*\n");
	ck_assert_int_eq(policy_match(p, "box", "_ssh._tcp", "10.1.0.2",
	    NULL), POLICY_DENY);
	ck_assert_int_eq(policy_match(p, "My private printer", "_ipp._tcp",
	    "10.1.0.2", NULL), POLICY_DENY);
	ck_assert_int_eq(policy_match(p, "Printer", "_ipp._tcp", "10.1.0.2",
	    NULL), POLICY_ALLOW);
	policy_free(p);

	/* names: case-sensitive, UTF-8 aware, backslash escapes */
	p = parse_ok("deny name \"caf\xc3\xa9 ?\"\ndeny name \"a\\\\*b\"\n");
	ck_assert_int_eq(policy_match(p, "caf\xc3\xa9 \xe2\x98\x95",
	    "_http._tcp", "10.0.0.1", NULL),
	    POLICY_DENY);
	ck_assert_int_eq(policy_match(p, "CAF\xc3\x89 x", "_http._tcp",
	    "10.0.0.1", NULL), POLICY_ALLOW);
	ck_assert_int_eq(policy_match(p, "a*b", "_http._tcp", "10.0.0.1",
	    NULL), POLICY_DENY);
	ck_assert_int_eq(policy_match(p, "axb", "_http._tcp", "10.0.0.1",
	    NULL), POLICY_ALLOW);
	policy_free(p);
}
END_TEST

START_TEST(test_policy_unknowns)
{
	struct policy *p;

	/* before resolution: an address rule leaves the answer open */
	p = parse_ok("deny address 10.9.0.0/16\nallow type _http._tcp\n");
	ck_assert_int_eq(policy_match(p, "w", "_http._tcp", NULL, NULL),
	    POLICY_MAYBE);
	ck_assert_int_eq(policy_match(p, "w", "_http._tcp", "10.9.1.1", NULL),
	    POLICY_DENY);
	ck_assert_int_eq(policy_match(p, "w", "_http._tcp", "10.1.1.1", NULL),
	    POLICY_ALLOW);
	/* _ipp: denied whatever the address (no rule can allow it) */
	ck_assert_int_eq(policy_match(p, "w", "_ipp._tcp", NULL, NULL),
	    POLICY_DENY);
	/* type-level question (name unknown) */
	ck_assert_int_eq(policy_match(p, NULL, "_ipp._tcp", NULL, NULL),
	    POLICY_DENY);
	ck_assert_int_eq(policy_match(p, NULL, "_http._tcp", NULL, NULL),
	    POLICY_MAYBE);
	policy_free(p);

	p = parse_ok("deny name Secret*\n");
	ck_assert_int_eq(policy_match(p, NULL, "_http._tcp", NULL, NULL),
	    POLICY_MAYBE);
	ck_assert_int_eq(policy_match(p, "Public", "_http._tcp", NULL, NULL),
	    POLICY_ALLOW);
	policy_free(p);
}
END_TEST

START_TEST(test_policy_prefix)
{
	struct prefix pf;
	char *cause = NULL;

	ck_assert_int_eq(prefix_parse("10.1.0.0/24", &pf, &cause), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "10.1.0.77"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "10.1.1.1"), 0);
	/* an IPv4-mapped IPv6 address is the IPv4 address */
	ck_assert_int_eq(prefix_match_text(&pf, "::ffff:10.1.0.1"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "::FFFF:10.1.1.1"), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "::10.1.0.1"), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "64:ff9b::10.1.0.1"), 0);
	ck_assert_int_eq(prefix_parse("10.1.0.128/25", &pf, &cause), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "10.1.0.200"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "10.1.0.100"), 0);
	ck_assert_int_eq(prefix_parse("0.0.0.0/0", &pf, &cause), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "192.0.2.1"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "2001:db8::1"), 0);
	ck_assert_int_eq(prefix_parse("127.0.0.1", &pf, &cause), 0);
	ck_assert_uint_eq(pf.len, 32);
	ck_assert_int_eq(prefix_match_text(&pf, "127.0.0.1"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "127.0.0.2"), 0);
	ck_assert_int_eq(prefix_parse("fe80::/10", &pf, &cause), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "fe80::1%eth0"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "febf::1"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "fec0::1"), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "10.0.0.1"), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "garbage"), 0);
	ck_assert_int_eq(prefix_parse("2001:db8::/33", &pf, &cause), 0);
	ck_assert_int_eq(prefix_match_text(&pf, "2001:db8:7fff::1"), 1);
	ck_assert_int_eq(prefix_match_text(&pf, "2001:db8:8000::1"), 0);
	ck_assert_int_eq(prefix_parse("2001:db8:8000::/33", &pf,
	    &cause), 0);
	ck_assert_int_eq(prefix_parse("2001:db8:4000::/33", &pf,
	    &cause), -1);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(prefix_parse("::1/129", &pf, &cause), -1);
	free(cause);
	cause = NULL;
	ck_assert_int_eq(prefix_parse("10.0.0.0/", &pf, &cause), -1);
	free(cause);
}
END_TEST

static int
relay_ok(const char *conf, const char *addr, const char *want)
{
	struct policy *p;
	char *cause = NULL;
	int r;

	p = policy_parse("t.conf", conf, strlen(conf), &cause);
	ck_assert_ptr_nonnull(p);
	r = policy_relay_target(p, "Web", "_http._tcp", addr, &cause);
	if (r == -1) {
		ck_assert_ptr_nonnull(cause);
		if (want != NULL)
			ck_assert_msg(strstr(cause, want) != NULL,
			    "\"%s\" lacks \"%s\"", cause, want);
	} else
		ck_assert_ptr_null(cause);
	free(cause);
	policy_free(p);
	return r;
}

START_TEST(test_policy_relay_target)
{
	char out[64];
	struct prefix block;

	/* ordinary LAN addresses: fine, whatever the rules */
	ck_assert_int_eq(relay_ok("", "10.1.0.2", NULL), 0);
	ck_assert_int_eq(relay_ok("", "2001:db8::2", NULL), 0);
	ck_assert_int_eq(relay_ok("", "fe80::2%lo", NULL), 0);
	ck_assert_int_eq(relay_ok("", "::ffff:10.1.0.2", NULL), 0);
	/* the server host itself, nowhere, everyone: refused by default */
	ck_assert_int_eq(relay_ok("", "127.0.0.1", "loopback"), -1);
	ck_assert_int_eq(relay_ok("", "127.8.9.10", "loopback"), -1);
	ck_assert_int_eq(relay_ok("", "::1", "loopback"), -1);
	ck_assert_int_eq(relay_ok("", "::ffff:127.0.0.1", "loopback"), -1);
	ck_assert_int_eq(relay_ok("", "::FFFF:7f00:1", "loopback"), -1);
	ck_assert_int_eq(relay_ok("", "0.0.0.0", "unspecified"), -1);
	ck_assert_int_eq(relay_ok("", "::", "unspecified"), -1);
	ck_assert_int_eq(relay_ok("", "::ffff:0.0.0.0", "unspecified"), -1);
	ck_assert_int_eq(relay_ok("", "224.0.0.251", "multicast"), -1);
	ck_assert_int_eq(relay_ok("", "::ffff:239.1.1.1", "multicast"), -1);
	ck_assert_int_eq(relay_ok("", "ff02::fb", "multicast"), -1);
	ck_assert_int_eq(relay_ok("", "255.255.255.255", "broadcast"), -1);
	/* a broad allow is not an explicit one */
	ck_assert_int_eq(relay_ok("allow all\n", "127.0.0.1", NULL), -1);
	ck_assert_int_eq(relay_ok("allow address 0.0.0.0/0\n", "127.0.0.1",
	    NULL), -1);
	ck_assert_int_eq(relay_ok("allow address ::/0\n", "::1", NULL), -1);
	ck_assert_int_eq(relay_ok("allow type _http._tcp\n", "127.0.0.1",
	    NULL), -1);
	/* a rule naming the range is */
	ck_assert_int_eq(relay_ok("allow address 127.0.0.1/32\n",
	    "127.0.0.1", NULL), 0);
	ck_assert_int_eq(relay_ok("allow address 127.0.0.1/32\n",
	    "::ffff:127.0.0.1", NULL), 0);
	ck_assert_int_eq(relay_ok("allow address 127.0.0.1/32\n",
	    "127.0.0.2", NULL), -1);
	ck_assert_int_eq(relay_ok("allow type _http._tcp address 127.0.0.0/8\n",
	    "127.0.0.2", NULL), 0);
	ck_assert_int_eq(relay_ok("allow address ::1\n", "::1", NULL), 0);
	/* ... unless an earlier rule decides otherwise */
	ck_assert_int_eq(relay_ok("deny name Web\nallow address 127.0.0.1\n",
	    "127.0.0.1", NULL), -1);
	ck_assert_int_eq(relay_ok("allow address 127.0.0.1\n", "not an address",
	    NULL), 0);	/* not special: the resolver never makes it */

	ck_assert_int_eq(policy_addr_unmap("::ffff:127.0.0.1", out,
	    sizeof(out)), 1);
	ck_assert_str_eq(out, "127.0.0.1");
	ck_assert_int_eq(policy_addr_unmap("10.0.0.1", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "10.0.0.1");
	ck_assert_int_eq(policy_addr_unmap("fe80::1%eth0", out, sizeof(out)),
	    0);
	ck_assert_str_eq(out, "fe80::1%eth0");
	ck_assert_int_eq(policy_addr_unmap("2001:db8::1", out, 4), -1);
	ck_assert_str_eq(policy_addr_special("::ffff:127.0.0.1", &block),
	    "loopback");
	ck_assert_int_eq(block.af, AF_INET);
	ck_assert_uint_eq(block.len, 8);
	ck_assert_ptr_null(policy_addr_special("10.0.0.1", NULL));
}
END_TEST

START_TEST(test_udp_not_carried)
{
	ck_assert_int_eq(browse_type_carried("_http._tcp"), 1);
	ck_assert_int_eq(browse_type_carried("_HTTP._TCP"), 1);
	ck_assert_int_eq(browse_type_carried("_sleep-proxy._udp"), 0);
	ck_assert_int_eq(browse_type_carried("_x._UDP"), 0);
	ck_assert_int_eq(browse_type_carried(""), 0);
}
END_TEST

/* Export rules: nothing accepted by default, first match decides, errors
 * name FILE:LINE. */
START_TEST(test_policy_export)
{
	struct policy *p = policy_default();
	const struct export_rule *r;

	ck_assert_uint_eq(p->max_exports, POLICY_DEF_MAX_EXPORTS);
	ck_assert_int_eq(p->any_accept, 0);
	ck_assert_ptr_null(policy_export_match(p, "x", "_http._tcp"));
	policy_free(p);
	/* allow rules say nothing about exports */
	p = parse_ok("allow all\n");
	ck_assert_int_eq(p->any_accept, 0);
	ck_assert_ptr_null(policy_export_match(p, "x", "_http._tcp"));
	policy_free(p);

	p = parse_ok(
	    "max-exports 5\n"
	    "reject name \"Secret*\"\n"
	    "accept type _ipp._tcp interface eth0 max 2\n"
	    "accept type _http._tcp name \"Web *\" interface lo\n"
	    "reject type _http._tcp\n"
	    "accept type _*._tcp\n");
	ck_assert_uint_eq(p->max_exports, 5);
	ck_assert_uint_eq(p->nxrules, 5);
	ck_assert_int_eq(p->any_accept, 1);
	ck_assert_uint_eq(p->nrules, 0);
	ck_assert_int_eq(p->any_allow, 0);
	r = policy_export_match(p, "Secret printer", "_ipp._tcp");
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(r->accept, 0);
	ck_assert_uint_eq(r->line, 2);
	r = policy_export_match(p, "Printer", "_ipp._tcp");
	ck_assert_int_eq(r->accept, 1);
	ck_assert_str_eq(r->iface, "eth0");
	ck_assert_uint_eq(r->max, 2);
	r = policy_export_match(p, "Web home", "_http._tcp");
	ck_assert_int_eq(r->accept, 1);
	ck_assert_str_eq(r->iface, "lo");
	ck_assert_uint_eq(r->max, 0);
	r = policy_export_match(p, "Blog", "_http._tcp");
	ck_assert_int_eq(r->accept, 0);
	ck_assert_uint_eq(r->line, 5);
	r = policy_export_match(p, "Scanner", "_uscan._tcp");
	ck_assert_int_eq(r->accept, 1);
	ck_assert_ptr_null(r->iface);
	ck_assert_ptr_null(r->name);
	policy_free(p);

	p = parse_ok("accept\n");
	r = policy_export_match(p, "anything", "_ssh._tcp");
	ck_assert_int_eq(r->accept, 1);
	ck_assert_ptr_null(r->type);
	policy_free(p);
	p = parse_ok("reject all\naccept all\n");
	ck_assert_int_eq(policy_export_match(p, "x", "_ssh._tcp")->accept, 0);
	policy_free(p);

	parse_fails("accept type\n", "t.conf:1: type needs a pattern");
	parse_fails("accept type http\n", "t.conf:1: type \"http\" is not a "
	    "service type");
	parse_fails("accept type _syslog._udp\n", "t.conf:1: type "
	    "\"_syslog._udp\": rnsplice carries TCP only");
	parse_fails("\naccept interface\n", "t.conf:2: interface needs an "
	    "interface name");
	parse_fails("accept interface \"eth 0\"\n", "t.conf:1: interface "
	    "\"eth 0\" is not an interface name");
	parse_fails("accept interface abcdefghijklmnopq\n", "t.conf:1: "
	    "interface \"abcdefghijklmnopq\" is not");
	parse_fails("accept interface lo interface eth0\n", "t.conf:1: "
	    "interface given twice");
	parse_fails("accept max 0\n", "t.conf:1: max");
	parse_fails("accept max 2 max 3\n", "t.conf:1: max given twice");
	parse_fails("accept max many\n", "t.conf:1: max");
	parse_fails("reject interface lo\n", "t.conf:1: unknown criterion "
	    "\"interface\" (expected all, type or name)");
	parse_fails("reject max 3\n", "t.conf:1: unknown criterion \"max\"");
	parse_fails("accept address 10.0.0.0/8\n", "t.conf:1: unknown "
	    "criterion \"address\" (expected all, type, name, interface, "
	    "from or max)");
	parse_fails("accept type _ipp._tcp from\n", "t.conf:1: from needs "
	    "a prefix");
	parse_fails("accept type _ipp._tcp from 10.1.0.5/24\n", "t.conf:1:");
	parse_fails("accept from 1.0.0.0/8 from 2.0.0.0/8 from 3.0.0.0/8 "
	    "from 4.0.0.0/8 from 5.0.0.0/8 from 6.0.0.0/8 from 7.0.0.0/8 "
	    "from 8.0.0.0/8 from 9.0.0.0/8\n", "more than 8 \"from\"");
	parse_fails("reject from 10.0.0.0/8\n", "t.conf:1: unknown "
	    "criterion \"from\"");
	{
		struct policy *pf = parse_ok("accept type _ipp._tcp from "
		    "10.1.0.0/24 from fd00::/8 max 2\n");

		ck_assert_uint_eq(pf->nxrules, 1);
		ck_assert_uint_eq(pf->xrules[0].nfrom, 2);
		ck_assert_int_eq(pf->xrules[0].from[0].af, AF_INET);
		ck_assert_uint_eq(pf->xrules[0].from[0].len, 24);
		ck_assert_int_eq(pf->xrules[0].from[1].af, AF_INET6);
		ck_assert_uint_eq(pf->xrules[0].max, 2);
		policy_free(pf);
	}
	parse_fails("accept all type _http._tcp\n", "t.conf:1: \"all\" "
	    "cannot be combined");
	parse_fails("max-exports 0\n", "t.conf:1: max-exports");
	parse_fails("max-exports 4097\n", "t.conf:1: max-exports");
	parse_fails("max-exports 3\nmax-exports 4\n", "t.conf:2: "
	    "max-exports already set on line 1");
}
END_TEST

START_TEST(test_policy_load)
{
	char path[] = "/tmp/test_subsystem.XXXXXX", *cause = NULL;
	const char *text = "max-hops 3\nbogus\n";
	struct policy *p;
	int fd;

	/* the default file may be absent: everything is offered */
	p = policy_load("/nonexistent/rnsplice/subsystem.conf", 1, &cause);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(p->nrules, 0);
	/* ... and it is named when an export is refused */
	ck_assert_str_eq(p->path, "/nonexistent/rnsplice/subsystem.conf");
	policy_free(p);
	/* a file named with -f must exist */
	p = policy_load("/nonexistent/rnsplice/subsystem.conf", 0, &cause);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(cause, "/nonexistent/rnsplice/subsystem.conf: "
	    "No such file or directory");
	free(cause);

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	p = policy_load(path, 1, &cause);
	ck_assert_ptr_null(p);
	ck_assert_ptr_nonnull(strstr(cause, ":2: unknown keyword \"bogus\""));
	ck_assert_int_eq(strncmp(cause, path, strlen(path)), 0);
	free(cause);
	unlink(path);
	p = policy_load("/", 0, &cause);
	ck_assert_ptr_null(p);
	free(cause);
}
END_TEST

/* ------------------------------------------------------------------------
 * Service table */

/* What svctable_flush() wrote, one string per line, and how much more it
 * may write before reporting the output full. */
struct out {
	char	 lines[64][512];
	int	 n;
	int	 budget;	/* -1: unlimited */
	size_t	 maxline;	/* lines longer than this: TOOBIG */
};

static int
rec_emit(void *arg, enum msg_type type, uint32_t id, const struct svc *sv)
{
	struct out *o = arg;
	char *l;
	size_t i;
	int n;

	if (o->budget == 0)
		return SVC_EMIT_FULL;
	ck_assert_int_lt(o->n, 64);
	l = o->lines[o->n];
	if (sv == NULL)
		n = snprintf(l, 512, "%s %u", msg_verb(type), id);
	else {
		n = snprintf(l, 512, "%s %u %s %s %s %u", msg_verb(type), id,
		    sv->name, sv->type, sv->addr, sv->port);
		for (i = 0; i < sv->txt.n; i++)
			n += snprintf(l + n, 512 - (size_t)n, " %s",
			    (const char *)sv->txt.items[i].data);
	}
	if (o->maxline != 0 && (size_t)n > o->maxline)
		return SVC_EMIT_TOOBIG;
	o->n++;
	if (o->budget > 0)
		o->budget--;
	return 0;
}

static void
out_reset(struct out *o, int budget)
{
	memset(o, 0, sizeof(*o));
	o->budget = budget;
}

static void
want_lines(struct out *o, int n, ...)
{
	va_list ap;
	int i;

	va_start(ap, n);
	ck_assert_msg(o->n == n, "%d lines, want %d (first: \"%s\")", o->n, n,
	    o->n > 0 ? o->lines[0] : "");
	for (i = 0; i < n; i++) {
		const char *w = va_arg(ap, const char *);

		ck_assert_str_eq(o->lines[i], w);
	}
	va_end(ap);
}

/* A resolution: host, addr, port, TXT items (NULL-terminated). */
static void
resolve(struct svctable *t, struct svcentry *e, const char *addr,
    uint16_t port, uint64_t now, ...)
{
	struct svc st;
	const char *item;
	va_list ap;

	memset(&st, 0, sizeof(st));
	st.host = (char *)"h.local";
	st.addr = (char *)addr;
	st.port = port;
	va_start(ap, now);
	while ((item = va_arg(ap, const char *)) != NULL)
		txt_add(&st.txt, item, strlen(item));
	va_end(ap);
	svctable_resolved(t, e, &st, now);
	txt_free(&st.txt);
}

static int released;

static void
count_release(struct svcentry *e, void *arg)
{
	released++;
}

static struct svctable *
table(struct policy **pp, const char *rules)
{
	struct svctable *t;

	*pp = rules ? parse_ok(rules) : policy_default();
	t = svctable_new(*pp, count_release, NULL);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* Add an observation and make the picked one active, as browse.c does. */
static struct svcentry *
observe(struct svctable *t, const char *name, int ifindex, int proto,
    int loopback)
{
	struct svcentry *e;
	int i, p;

	e = svctable_obs_add(t, name, "_http._tcp", "local", ifindex, proto,
	    loopback, 0);
	if (e != NULL && svctable_pick(e, &i, &p) &&
	    (e->cookie == NULL || e->act_if != i || e->act_proto != p)) {
		svctable_clear_active(t, e);
		svctable_set_active(t, e, (void *)1, i, p);
	}
	return e;
}

static uint64_t
flush(struct svctable *t, struct out *o, uint64_t now, int force)
{
	int left;

	return svctable_flush(t, now, force, rec_emit, o, &left);
}

START_TEST(test_table_merge_and_preference)
{
	struct policy *p;
	struct svctable *t = table(&p, NULL);
	struct svcentry *e, *e2;
	int i, pr;

	/* lo first (as for a host's own service), then the LAN */
	e = observe(t, "Web", 1, V4, 1);
	ck_assert_int_eq(e->act_if, 1);
	e2 = observe(t, "Web", 2, V6, 0);
	ck_assert_ptr_eq(e, e2);
	ck_assert_int_eq(e->act_if, 2);
	ck_assert_int_eq(e->act_proto, V6);
	observe(t, "Web", 3, V6, 0);
	ck_assert_int_eq(e->act_if, 2);		/* lower ifindex first */
	observe(t, "Web", 2, V4, 0);
	ck_assert_int_eq(e->act_if, 2);		/* IPv4 on a LAN: best */
	ck_assert_int_eq(e->act_proto, V4);
	ck_assert_uint_eq(e->nobs, 4);
	ck_assert_uint_eq(t->nentries, 1);
	ck_assert_uint_eq(t->nlive, 1);
	/* the same observation again changes nothing */
	observe(t, "Web", 2, V4, 0);
	ck_assert_uint_eq(e->nobs, 4);
	/* a failed candidate is skipped */
	resolve(t, e, "10.1.0.2", 80, 0, NULL);
	svctable_failed(t, e, 0);
	ck_assert_int_eq(svctable_pick(e, &i, &pr), 1);
	ck_assert_int_eq(i, 2);
	ck_assert_int_eq(pr, V6);
	/* the state survives a failed candidate while others remain */
	ck_assert_int_eq(e->resolved, 1);
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_snapshot_and_diff)
{
	struct policy *p;
	struct svctable *t = table(&p, NULL);
	struct svcentry *a, *b;
	struct out o;

	a = observe(t, "A", 2, V4, 0);
	b = observe(t, "B", 2, V4, 0);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 0);		/* nothing resolved: nothing offered */
	resolve(t, a, "10.1.0.2", 80, 0, "path=/", NULL);
	resolve(t, b, "10.1.0.3", 8080, 0, NULL);
	flush(t, &o, 0, 1);
	want_lines(&o, 2, "ADD 1 A _http._tcp 10.1.0.2 80 path=/",
	    "ADD 2 B _http._tcp 10.1.0.3 8080");
	/* the same answer again: no line */
	out_reset(&o, -1);
	resolve(t, a, "10.1.0.2", 80, 0, "path=/", NULL);
	flush(t, &o, 0, 1);
	want_lines(&o, 0);
	/* TXT changes: UPDATE, same id */
	resolve(t, a, "10.1.0.2", 80, 0, "path=/new", NULL);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "UPDATE 1 A _http._tcp 10.1.0.2 80 path=/new");
	/* gone: REMOVE, and the entry is freed once written */
	out_reset(&o, -1);
	b = svctable_obs_del(t, b, 2, V4, 0);
	ck_assert_ptr_nonnull(b);		/* kept for its REMOVE */
	ck_assert_uint_eq(b->nobs, 0);
	ck_assert_uint_eq(t->nentries, 2);
	ck_assert_uint_eq(t->nlive, 1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "REMOVE 2");
	ck_assert_uint_eq(t->nentries, 1);
	/* back again: a new id, never a reused one */
	out_reset(&o, -1);
	b = observe(t, "B", 2, V4, 0);
	resolve(t, b, "10.1.0.3", 8080, 0, NULL);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "ADD 3 B _http._tcp 10.1.0.3 8080");
	/* a peer without "update": REMOVE then ADD with a new id */
	svctable_set_peer(t, "peer", 0, 0);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 0);
	resolve(t, b, "10.1.0.4", 8080, 0, NULL);
	flush(t, &o, 0, 1);
	want_lines(&o, 2, "REMOVE 3", "ADD 4 B _http._tcp 10.1.0.4 8080");
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_coalescing)
{
	struct policy *p;
	struct svctable *t = table(&p, NULL);
	struct svcentry *e[5];
	char name[8];
	struct out o;
	int i, left;

	for (i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "S%d", i);
		e[i] = observe(t, name, 2, V4, 0);
		resolve(t, e[i], "10.1.0.2", (uint16_t)(1000 + i), 0, "v=0",
		    NULL);
	}
	/* the peer takes two lines, then stops reading */
	out_reset(&o, 2);
	svctable_flush(t, 0, 1, rec_emit, &o, &left);
	ck_assert_int_eq(left, 1);
	want_lines(&o, 2, "ADD 1 S0 _http._tcp 10.1.0.2 1000 v=0",
	    "ADD 2 S1 _http._tcp 10.1.0.2 1001 v=0");
	/* many changes meanwhile: each entry is still one dirty mark */
	for (i = 1; i <= 20; i++) {
		char v[16];

		snprintf(v, sizeof(v), "v=%d", i);
		resolve(t, e[0], "10.1.0.2", 1000, 0, v, NULL);
		resolve(t, e[3], "10.1.0.2", 1003, 0, v, NULL);
	}
	ck_assert_ptr_null(svctable_obs_del(t, e[4], 2, V4, 0));
	/* S1 appears and disappears while the output is blocked: nothing */
	e[1] = observe(t, "S5", 2, V4, 0);
	resolve(t, e[1], "10.1.0.9", 9, 0, NULL);
	ck_assert_ptr_null(svctable_obs_del(t, e[1], 2, V4, 0));
	out_reset(&o, -1);
	svctable_flush(t, 0, 1, rec_emit, &o, &left);
	ck_assert_int_eq(left, 0);
	/* the latest state only, in the order entries became dirty */
	want_lines(&o, 3, "ADD 3 S2 _http._tcp 10.1.0.2 1002 v=0",
	    "ADD 4 S3 _http._tcp 10.1.0.2 1003 v=20",
	    "UPDATE 1 S0 _http._tcp 10.1.0.2 1000 v=20");
	ck_assert_uint_eq(t->nentries, 4);
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_hold)
{
	struct policy *p;
	/* loopback addresses are offered only when a rule names them */
	struct svctable *t = table(&p, "allow address 127.0.0.0/8\n"
	    "allow all\n");
	struct svcentry *e;
	struct out o;
	uint64_t due;

	/* resolved on lo first ... */
	e = observe(t, "Own", 1, V4, 1);
	resolve(t, e, "127.0.0.1", 80, 1000, NULL);
	/* ... then the LAN observation arrives, its resolver pending */
	observe(t, "Own", 2, V4, 0);
	ck_assert_int_eq(e->pending, 1);
	out_reset(&o, -1);
	due = flush(t, &o, 1100, 0);
	want_lines(&o, 0);			/* held */
	ck_assert_uint_eq(due, 1000 + SVC_HOLD_MS);
	resolve(t, e, "10.1.0.1", 80, 1150, NULL);
	due = flush(t, &o, 1150, 0);
	ck_assert_uint_eq(due, 0);
	want_lines(&o, 1, "ADD 1 Own _http._tcp 10.1.0.1 80");

	/* a pending resolver never holds an entry beyond SVC_HOLD_MS */
	out_reset(&o, -1);
	resolve(t, e, "10.1.0.1", 81, 2000, NULL);
	svctable_set_active(t, e, (void *)1, 2, V4);
	ck_assert_int_eq(e->pending, 1);
	flush(t, &o, 2000 + SVC_HOLD_MS - 1, 0);
	want_lines(&o, 0);
	flush(t, &o, 2000 + SVC_HOLD_MS, 0);
	want_lines(&o, 1, "UPDATE 1 Own _http._tcp 10.1.0.1 81");
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_max_services)
{
	struct policy *p;
	struct svctable *t = table(&p, "max-services 3\n");
	struct svcentry *e[3];
	char name[8];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "S%d", i);
		e[i] = observe(t, name, 2, V4, 0);
		ck_assert_ptr_nonnull(e[i]);
	}
	/* a further observation of a known service is fine ... */
	ck_assert_ptr_nonnull(observe(t, "S0", 2, V6, 0));
	/* ... a fourth service is not */
	errno = 0;
	ck_assert_ptr_null(observe(t, "S3", 2, V4, 0));
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(t->overflow, 1);
	ck_assert_uint_eq(t->nlive, 3);
	/* room again once one goes */
	svctable_obs_del(t, e[2], 2, V4, 0);
	ck_assert_uint_eq(t->nlive, 2);
	ck_assert_ptr_nonnull(observe(t, "S3", 2, V4, 0));
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_policy_address)
{
	struct policy *p;
	struct svctable *t = table(&p, "deny address 10.9.0.0/16\n");
	struct svcentry *e;
	struct out o;
	int i, pr;

	e = observe(t, "Far", 2, V4, 0);
	observe(t, "Far", 2, V6, 0);
	ck_assert_int_eq(e->act_proto, V4);
	resolve(t, e, "10.9.0.5", 80, 0, NULL);
	/* refused: the IPv4 observation failed, IPv6 is next */
	ck_assert_int_eq(e->resolved, 0);
	ck_assert_int_eq(e->denied, 1);
	ck_assert_int_eq(svctable_pick(e, &i, &pr), 1);
	ck_assert_int_eq(pr, V6);
	svctable_clear_active(t, e);
	svctable_set_active(t, e, (void *)1, i, pr);
	resolve(t, e, "fe80::1%eth0", 80, 0, NULL);
	ck_assert_int_eq(e->resolved, 1);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "ADD 1 Far _http._tcp fe80::1%eth0 80");
	/* if the IPv6 answer is refused too, the service goes away */
	resolve(t, e, "10.9.0.6", 80, 0, NULL);
	ck_assert_int_eq(svctable_pick(e, &i, &pr), 0);
	ck_assert_int_eq(e->resolved, 0);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "REMOVE 1");
	svctable_free(t);
	policy_free(p);
}
END_TEST

/* A record that points at this host itself is not offered (whatever the
 * mode, the agent's LAN would reach this host's loopback), unless a rule
 * names the range. */
START_TEST(test_table_special_address)
{
	struct policy *p;
	struct svctable *t = table(&p, "");
	struct svcentry *e;
	struct out o;
	int i, pr;

	e = observe(t, "Crafted", 2, V4, 0);
	observe(t, "Crafted", 2, V6, 0);
	resolve(t, e, "127.0.0.1", 631, 0, NULL);
	ck_assert_int_eq(e->resolved, 0);
	ck_assert_int_eq(e->denied, 1);
	ck_assert_int_eq(svctable_pick(e, &i, &pr), 1);
	svctable_clear_active(t, e);
	svctable_set_active(t, e, (void *)1, i, pr);
	resolve(t, e, "::ffff:127.0.0.1", 631, 0, NULL);
	ck_assert_int_eq(e->resolved, 0);
	ck_assert_int_eq(svctable_pick(e, &i, &pr), 0);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	ck_assert_int_eq(o.n, 0);	/* never offered */
	svctable_free(t);
	policy_free(p);

	t = table(&p, "allow address 127.0.0.1/32\nallow all\n");
	e = observe(t, "Local", 2, V4, 0);
	resolve(t, e, "127.0.0.1", 631, 0, NULL);
	ck_assert_int_eq(e->resolved, 1);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "ADD 1 Local _http._tcp 127.0.0.1 631");
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_hops)
{
	struct policy *p;
	struct svctable *t = table(&p, NULL);	/* max-hops 4 */
	struct svcentry *a, *b, *c, *d;
	struct out o;

	a = observe(t, "Hop1", 2, V4, 0);
	resolve(t, a, "10.1.0.1", 80, 0, "x=1",
	    "rnsplice=v1;o=siteb;p=siteb,sitec", NULL);
	b = observe(t, "Hop4", 2, V4, 0);
	resolve(t, b, "10.1.0.1", 81, 0,
	    "rnsplice=v1;o=s1;p=s1,s2,s3,s4,s5", NULL);
	c = observe(t, "Mine", 2, V4, 0);
	resolve(t, c, "10.1.0.1", 82, 0, "rnsplice=v1;o=peer;p=peer,s2",
	    NULL);
	d = observe(t, "Broken", 2, V4, 0);
	resolve(t, d, "10.1.0.1", 83, 0, "rnsplice=v9;o=x;p=x", NULL);
	svctable_set_peer(t, "peer", 0, 1);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	/* TXT passed through unchanged; 4 hops, our own path, and broken
	 * metadata are not offered */
	want_lines(&o, 1, "ADD 1 Hop1 _http._tcp 10.1.0.1 80 x=1 "
	    "rnsplice=v1;o=siteb;p=siteb,sitec");
	/* the peer's HELLO asks for fewer hops: the smaller wins */
	svctable_set_peer(t, "peer", 1, 1);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "REMOVE 1");
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_restart)
{
	struct policy *p;
	struct svctable *t = table(&p, NULL);
	struct svcentry *a, *b;
	struct out o;

	a = observe(t, "Stays", 2, V4, 0);
	resolve(t, a, "10.1.0.2", 80, 0, NULL);
	b = observe(t, "Goes", 2, V4, 0);
	resolve(t, b, "10.1.0.3", 80, 0, NULL);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 2, "ADD 1 Stays _http._tcp 10.1.0.2 80",
	    "ADD 2 Goes _http._tcp 10.1.0.3 80");
	/* avahi restarts: resolvers gone, the table kept, marked stale */
	svctable_clear_active(t, a);
	svctable_clear_active(t, b);
	svctable_mark_stale(t);
	/* the new daemon reports one of them again, same data */
	observe(t, "Stays", 2, V4, 0);
	resolve(t, a, "10.1.0.2", 80, 0, NULL);
	svctable_sweep_stale(t, 0);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "REMOVE 2");	/* only the difference */
	svctable_free(t);
	policy_free(p);
}
END_TEST

START_TEST(test_table_toobig_and_release)
{
	struct policy *p;
	struct svctable *t = table(&p, NULL);
	struct svcentry *e;
	struct out o;

	e = observe(t, "Big", 2, V4, 0);
	resolve(t, e, "10.1.0.2", 80, 0, "a=0123456789012345678901234567890",
	    NULL);
	out_reset(&o, -1);
	o.maxline = 40;
	flush(t, &o, 0, 1);
	want_lines(&o, 0);
	ck_assert_int_eq(svctable_offered(t, e), 0);
	/* a smaller record is offered */
	resolve(t, e, "10.1.0.2", 80, 0, "a=1", NULL);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "ADD 1 Big _http._tcp 10.1.0.2 80 a=1");
	/* dropping the active observation releases its resolver */
	released = 0;
	svctable_drop_type(t, "_http._tcp", 0);
	ck_assert_int_eq(released, 1);
	out_reset(&o, -1);
	flush(t, &o, 0, 1);
	want_lines(&o, 1, "REMOVE 1");
	ck_assert_uint_eq(t->nentries, 0);
	ck_assert_uint_eq(t->npending, 0);
	svctable_free(t);
	policy_free(p);
}
END_TEST

/* common/escape.c addition used by the subsystem's ERROR messages */
START_TEST(test_utf8_scrub)
{
	char a[] = "caf\xc3\xa9 ok", b[] = "cut \xe2\x98", c[] = "\xff\xc0x";

	ck_assert_uint_eq(utf8_scrub(a), 0);
	ck_assert_str_eq(a, "caf\xc3\xa9 ok");
	ck_assert_uint_eq(utf8_scrub(b), 2);
	ck_assert_str_eq(b, "cut ??");
	ck_assert_uint_eq(utf8_scrub(c), 2);
	ck_assert_str_eq(c, "??x");
	ck_assert_int_eq(utf8_valid(b, strlen(b)), 1);
}
END_TEST

/* avahi-daemon before 0.9-rc4 sends TXT items over D-Bus reversed */
START_TEST(test_txt_order_by_version)
{
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 0.8"), 0);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 0.7"), 0);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 0.9-rc3"), 0);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 0.9-rc4"), 1);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 0.9"), 1);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 0.10"), 1);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("avahi 1.0"), 1);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed(NULL), 1);
	ck_assert_int_eq(mdns_avahi_txt_order_fixed("something else"), 1);
}
END_TEST


/* ------------------------------------------------------------------------
 * The relay's copier (relay.c, relaybuf.c) between a client and a service,
 * both ends in this process: byte streams checked byte by byte, half-close
 * each way, a service that stops reading; with splice and without. */

struct xend {
	int		 rfd, wfd;	/* the same for a socket */
	struct ev_io	*rio, *wio;
	size_t		 tosend, sent;
	uint32_t	 wstate;
	int		 wait_eof;	/* send only after the other's EOF */
	int		 shut;
	size_t		 got;
	uint32_t	 rstate;
	int		 reading;
	int		 eof, bad;
};

struct xtest {
	struct ev_loop	*loop;
	struct ev_timer	*stall;
	struct xend	 client, service;
	struct relay	*r;
	int		 lfd;
	int		 pipes;		/* the client is two pipes */
	int		 cfd[2];	/* the relay's in_fd, out_fd */
	int		 done;
	size_t		 stalled_at;	/* client bytes sent when stalled */
};

static uint8_t
xnext(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return (uint8_t)(*st >> 11);
}

static void	xend_update(struct xtest *, struct xend *);

static void
xcheck_end(struct xtest *t)
{
	if (t->done && t->client.eof && t->service.eof &&
	    t->client.shut && t->service.shut)
		ev_loop_break(t->loop);
}

static void
xend_read(struct xtest *t, struct xend *e)
{
	uint8_t chunk[16384];
	ssize_t n, i;

	n = read(e->rfd, chunk, sizeof(chunk));
	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		e->eof = 1;
		if (n == -1)
			e->bad++;
		return;
	}
	for (i = 0; i < n; i++)
		if (chunk[i] != xnext(&e->rstate))
			e->bad++;
	e->got += (size_t)n;
}

static void
xend_write(struct xtest *t, struct xend *e)
{
	uint8_t chunk[16384];
	uint32_t st = e->wstate;
	size_t len = e->tosend - e->sent, i;
	ssize_t n;

	if (len > sizeof(chunk))
		len = sizeof(chunk);
	for (i = 0; i < len; i++)
		chunk[i] = xnext(&st);
	n = write(e->wfd, chunk, len);
	if (n <= 0)
		return;
	for (i = 0; i < (size_t)n; i++)
		(void)xnext(&e->wstate);
	e->sent += (size_t)n;
	if (e == &t->client && t->stall != NULL)
		ev_timer_set(t->stall, 100);
}

static int
xend_sending(const struct xend *e, const struct xend *other)
{
	return e->sent < e->tosend && (!e->wait_eof || e->eof) &&
	    (other == NULL || !e->shut);
}

static void
xend_cb(int fd, short revents, void *arg)
{
	struct xtest *t = arg;
	struct xend *e = (fd == t->client.rfd || fd == t->client.wfd) ?
	    &t->client : &t->service;

	if (fd == e->rfd && e->reading && !e->eof &&
	    (revents & (POLLIN | POLLHUP | POLLERR)))
		xend_read(t, e);
	if (fd == e->wfd && xend_sending(e, NULL) &&
	    (revents & (POLLOUT | POLLERR | POLLHUP)))
		xend_write(t, e);
	xend_update(t, e);
	xcheck_end(t);
}

static void
xend_update(struct xtest *t, struct xend *e)
{
	short rev = 0, wev = 0;

	if (e->sent == e->tosend && (!e->wait_eof || e->eof) && !e->shut) {
		e->shut = 1;
		if (e->rfd == e->wfd)
			ck_assert_int_eq(shutdown(e->wfd, SHUT_WR), 0);
		else {
			ev_io_del(e->wio);
			e->wio = NULL;
			close(e->wfd);
			e->wfd = -1;
		}
	}
	if (e->reading && !e->eof)
		rev = POLLIN;
	if (xend_sending(e, NULL))
		wev = POLLOUT;
	if (e->rfd == e->wfd)
		ev_io_set(e->rio, rev | wev);
	else {
		ev_io_set(e->rio, rev);
		if (e->wio != NULL)
			ev_io_set(e->wio, wev);
	}
}

static void
xend_start(struct xtest *t, struct xend *e)
{
	e->rio = ev_io_add(t->loop, e->rfd, 0, xend_cb, t);
	ck_assert_ptr_nonnull(e->rio);
	if (e->wfd != e->rfd) {
		e->wio = ev_io_add(t->loop, e->wfd, 0, xend_cb, t);
		ck_assert_ptr_nonnull(e->wio);
	}
	xend_update(t, e);
}

static void
xrelay_done(void *arg)
{
	struct xtest *t = arg;

	t->done = 1;
	xcheck_end(t);
}

static void
xstalled(void *arg)
{
	struct xtest *t = arg;

	/* the client cannot write any more: let the service read */
	t->stalled_at = t->client.sent;
	t->service.reading = 1;
	xend_update(t, &t->service);
}

static void
xconnected(void *arg, int fd, const char *err)
{
	struct xtest *t = arg;
	struct buf in, out;
	int sfd;

	ck_assert_msg(fd != -1, "relay connect: %s", err);
	sfd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_ne(sfd, -1);
	t->service.rfd = t->service.wfd = sfd;
	xend_start(t, &t->service);
	buf_init(&in, RELAY_BUFSZ);
	buf_init(&out, RELAY_BUFSZ);
	ck_assert_int_eq(relay_start(t->r, t->cfd[0], t->cfd[1], &in, 0, &out,
	    xrelay_done, t), 0);
	buf_free(&in);
	buf_free(&out);
	xend_start(t, &t->client);
}

/* Copy up bytes client -> service and down bytes back; the service sends
 * only after the client's half-close. stall: the service reads nothing
 * until the client can write no more. */
static void
xrun(int splice, int pipes, size_t up, size_t down, int stall)
{
	struct xtest t;
	struct sockaddr_un sun;
	char dir[] = "/tmp/rnsplice-relaytest.XXXXXX";
	int sp[2], a[2], b[2];
	size_t bound;
	int sndbuf, sockbuf;
	socklen_t len = sizeof(sndbuf);

	memset(&t, 0, sizeof(t));
	relaybuf_splice = splice;
	t.pipes = pipes;
	ck_assert_ptr_nonnull(t.loop = ev_loop_new());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
	t.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(t.lfd, -1);
	ck_assert_int_eq(bind(t.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(t.lfd, 4), 0);

	if (pipes) {
		/* a relay session: stdin and stdout are pipes from sshd */
		ck_assert_int_eq(pipe2(a, O_NONBLOCK | O_CLOEXEC), 0);
		ck_assert_int_eq(pipe2(b, O_NONBLOCK | O_CLOEXEC), 0);
		t.cfd[0] = a[0];
		t.cfd[1] = b[1];
		t.client.wfd = a[1];
		t.client.rfd = b[0];
		sndbuf = fcntl(a[1], F_GETPIPE_SZ);
	} else {
		/* an export: one connection both ways */
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp), 0);
		t.cfd[0] = t.cfd[1] = sp[0];
		t.client.rfd = t.client.wfd = sp[1];
		ck_assert_int_eq(getsockopt(sp[1], SOL_SOCKET, SO_SNDBUF,
		    &sndbuf, &len), 0);
	}
	t.client.tosend = up;
	t.client.wstate = t.service.rstate = 0x2545f491;
	t.client.reading = 1;
	t.service.tosend = down;
	t.service.wstate = t.client.rstate = 0x9e3779b9;
	t.service.wait_eof = 1;
	t.service.reading = !stall;
	if (stall)
		ck_assert_ptr_nonnull(t.stall = ev_timer_add(t.loop, xstalled,
		    &t));
	ck_assert_ptr_nonnull(t.r = relay_connect_path(t.loop, sun.sun_path,
	    xconnected, &t));
	ck_assert_int_eq(ev_loop_run(t.loop), 0);

	ck_assert_int_eq(t.done, 1);
	ck_assert_uint_eq(t.service.got, up);
	ck_assert_uint_eq(t.client.got, down);
	ck_assert_int_eq(t.service.bad, 0);
	ck_assert_int_eq(t.client.bad, 0);
	if (stall) {
		/* the client's buffer, the relay's, and the socket's to the
		 * service (a default one, as the service's end) */
		ck_assert_int_eq(getsockopt(t.service.rfd, SOL_SOCKET,
		    SO_SNDBUF, &sockbuf, &len), 0);
		ck_assert_uint_gt(t.stalled_at, 0);
		bound = (size_t)sndbuf + (size_t)sockbuf + RELAY_BUFSZ + 65536;
		ck_assert_msg(t.stalled_at <= bound, "%zu bytes taken in "
		    "while the service read nothing (bound %zu)",
		    t.stalled_at, bound);
	}
	relay_free(t.r);
	if (pipes) {
		close(t.cfd[0]);	/* the session's stdin */
		close(t.client.rfd);
	} else
		close(t.client.rfd);
	close(t.service.rfd);
	close(t.lfd);
	unlink(sun.sun_path);
	rmdir(dir);
	ev_timer_del(t.stall);
	ev_loop_free(t.loop);
	relaybuf_splice = 1;
}

START_TEST(test_relay_copy)
{
	int splice = _i & 1, pipes = (_i >> 1) & 1;

	/* both ways, half-close each way, nothing */
	xrun(splice, pipes, 1500000, 2100000, 0);
	xrun(splice, pipes, 0, 300000, 0);
	xrun(splice, pipes, 300000, 0, 0);
	xrun(splice, pipes, 0, 0, 0);
	/* a service that stops reading: the relay holds its bound */
	xrun(splice, pipes, 6000000, 1000, 1);
}
END_TEST

START_TEST(test_relaybuf_bound_and_fallback)
{
	struct relaybuf rb;
	struct buf early;
	char big[200000], back[200000];
	int sp[2], sq[2], efd, ffd;
	char path[] = "/tmp/rnsplice-relaybuf.XXXXXX";
	uint64_t v = 5;
	size_t wrote = 0, got = 0;
	ssize_t n;
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sq), 0);
	/* early bytes go first, then what is read */
	buf_init(&early, 16);
	ck_assert_int_eq(buf_put(&early, "early", 5), 0);
	relaybuf_init(&rb, &early, 65536);
	ck_assert_uint_eq(buf_len(&early), 0);
#ifdef HAVE_SPLICE
	ck_assert_int_eq(relaybuf_spliced(&rb), 1);
#else
	ck_assert_int_eq(relaybuf_spliced(&rb), 0);
#endif
	ck_assert_uint_eq(relaybuf_len(&rb), 5);
	while (got < sizeof(big) + 5) {
		if (wrote < sizeof(big) && (n = write(sp[1], big + wrote,
		    sizeof(big) - wrote)) > 0)
			wrote += (size_t)n;
		if (relaybuf_room(&rb)) {
			n = relaybuf_read(&rb, sp[0]);
			ck_assert(n > 0 || (n == -1 && errno == EAGAIN));
		}
		/* never more than max held */
		ck_assert_uint_le(relaybuf_len(&rb), 65536);
		n = relaybuf_write(&rb, sq[0]);
		ck_assert(n >= 0 || (n == -1 && errno == EAGAIN));
		while ((n = read(sq[1], back, sizeof(back))) > 0)
			for (i = 0; i < (size_t)n; i++, got++)
				ck_assert_int_eq(back[i], got < 5 ?
				    "early"[got] : big[got - 5]);
	}
	relaybuf_free(&rb);
	close(sp[0]);
	close(sp[1]);
	close(sq[0]);
	close(sq[1]);
#ifdef HAVE_SPLICE
	/* no splice from an eventfd (EINVAL): read(2) then */
	ck_assert_int_ne(efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), -1);
	ck_assert_int_eq(write(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
	buf_init(&early, 16);
	relaybuf_init(&rb, &early, 65536);
	ck_assert_int_eq(relaybuf_spliced(&rb), 1);
	ck_assert_int_eq(relaybuf_read(&rb, efd), (ssize_t)sizeof(v));
	ck_assert_int_eq(relaybuf_spliced(&rb), 0);
	ck_assert_uint_eq(relaybuf_len(&rb), sizeof(v));
	relaybuf_free(&rb);
	close(efd);
	/* no splice into a file opened O_APPEND (EINVAL) once bytes are in
	 * the pipe: they go through the buffer, none lost */
	ck_assert_int_ne(ffd = mkstemp(path), -1);
	close(ffd);
	ck_assert_int_ne(ffd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC),
	    -1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sp), 0);
	ck_assert_int_eq(write(sp[1], big, 50000), 50000);
	buf_init(&early, 16);
	relaybuf_init(&rb, &early, 65536);
	ck_assert_int_eq(relaybuf_read(&rb, sp[0]), 50000);
	ck_assert_int_eq(relaybuf_spliced(&rb), 1);
	ck_assert_int_eq(relaybuf_write(&rb, ffd), 50000);
	ck_assert_int_eq(relaybuf_spliced(&rb), 0);
	ck_assert_uint_eq(relaybuf_len(&rb), 0);
	relaybuf_free(&rb);
	close(ffd);
	ck_assert_int_ne(ffd = open(path, O_RDONLY | O_CLOEXEC), -1);
	ck_assert_int_eq(read(ffd, back, sizeof(back)), 50000);
	ck_assert_int_eq(memcmp(back, big, 50000), 0);
	close(ffd);
	unlink(path);
	close(sp[0]);
	close(sp[1]);
#else
	(void)v; (void)efd; (void)ffd; (void)path;
#endif
}
END_TEST

static Suite *
subsystem_suite(void)
{
	Suite *s = suite_create("subsystem");
	TCase *tp = tcase_create("policy");
	TCase *tt = tcase_create("svctable");
	TCase *tr = tcase_create("relay");

	tcase_add_test(tp, test_policy_defaults);
	tcase_add_test(tp, test_policy_parse);
	tcase_add_test(tp, test_policy_errors);
	tcase_add_test(tp, test_policy_first_match);
	tcase_add_test(tp, test_policy_unknowns);
	tcase_add_test(tp, test_policy_prefix);
	tcase_add_test(tp, test_policy_load);
	tcase_add_test(tp, test_policy_export);
	tcase_add_test(tp, test_policy_relay_target);
	tcase_add_test(tp, test_udp_not_carried);
	tcase_add_test(tp, test_utf8_scrub);
	suite_add_tcase(s, tp);
	tcase_add_test(tt, test_table_merge_and_preference);
	tcase_add_test(tt, test_table_snapshot_and_diff);
	tcase_add_test(tt, test_table_coalescing);
	tcase_add_test(tt, test_table_hold);
	tcase_add_test(tt, test_table_max_services);
	tcase_add_test(tt, test_table_policy_address);
	tcase_add_test(tt, test_table_special_address);
	tcase_add_test(tt, test_table_hops);
	tcase_add_test(tt, test_table_restart);
	tcase_add_test(tt, test_table_toobig_and_release);
	tcase_add_test(tt, test_txt_order_by_version);
	suite_add_tcase(s, tt);
	/* 0, 2: without splice; 1, 3: with; 2, 3: a relay session's pipes */
	tcase_add_loop_test(tr, test_relay_copy, 0, 4);
	tcase_add_test(tr, test_relaybuf_bound_and_fallback);
	tcase_set_timeout(tr, 120);
	suite_add_tcase(s, tr);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(subsystem_suite());
	int failed;

	/* fnmatch on UTF-8, as subsystem_main() sets it up */
	setlocale(LC_CTYPE, "C.UTF-8");
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
