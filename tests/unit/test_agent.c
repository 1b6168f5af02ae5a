/* Unit tests of the agent's library: configuration, allow-lists, names,
 * ports, backoff, the service table, loop control, the ssh command line
 * and the reporting of ssh's failures. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "escape.h"
#include "meta.h"
#include "proto.h"

/* --- configuration ------------------------------------------------------- */

static struct agent_conf *
parse_ok(const char *text)
{
	struct agent_conf *c = conf_new();
	char *cause = NULL;

	ck_assert_ptr_nonnull(c);
	ck_assert_msg(conf_parse(c, "t.conf", text, strlen(text), &cause) == 0,
	    "parse failed: %s", cause);
	ck_assert_msg(conf_finish(c, &cause) == 0, "finish failed: %s", cause);
	return c;
}

static void
parse_bad(const char *text, const char *expect)
{
	struct agent_conf *c = conf_new();
	char *cause = NULL;
	int r;

	r = conf_parse(c, "t.conf", text, strlen(text), &cause);
	if (r == 0)
		r = conf_finish(c, &cause);
	ck_assert_msg(r == -1, "accepted: %s", text);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strstr(cause, expect) != NULL,
	    "error \"%s\" lacks \"%s\"", cause, expect);
	free(cause);
	conf_free(c);
}

static struct remote_conf *
find_remote(struct agent_conf *c, const char *name)
{
	struct remote_conf *rc;

	TAILQ_FOREACH(rc, &c->remotes, entry)
		if (strcmp(rc->name, name) == 0)
			return rc;
	return NULL;
}

START_TEST(test_conf_good)
{
	struct agent_conf *c;
	struct remote_conf *rc;
	struct sockaddr_in sin;

	c = parse_ok(
	    "# defaults\n"
	    "allow-root yes\n"
	    "max-hops 3\n"
	    "scope host\n"
	    "max-relays 100\n"
	    "ssh-option ConnectTimeout=5\n"
	    "\n"
	    "remote office {\n"
	    "\tdestination alice@gw.example.org\n"
	    "\ttypes _ipp._tcp _http._tcp\n"
	    "\tscope interface eth1   # trailing comment\n"
	    "\tallow 10.2.0.0/24 fd00::/8\n"
	    "\tallow 192.168.7.9\n"
	    "\tname-template \"%n at \\\"%r\\\"\"\n"
	    "\tport-policy original\n"
	    "\tmax-services 10\n"
	    "\tssh-option Port=2222\n"
	    "}\n"
	    "remote home { destination home.example; types * }\n"
	    "remote lab {\n"
	    "}\n");
	ck_assert_int_eq(c->allow_root, 1);
	ck_assert_uint_eq(c->max_hops, 3);

	rc = find_remote(c, "office");
	ck_assert_ptr_nonnull(rc);
	ck_assert_str_eq(rc->destination, "alice@gw.example.org");
	ck_assert_uint_eq(rc->ntypes, 2);
	ck_assert_str_eq(rc->types[1], "_http._tcp");
	ck_assert_int_eq(rc->scope, SCOPE_IFACE);
	ck_assert_str_eq(rc->ifname, "eth1");
	ck_assert_uint_eq(rc->nallow, 3);
	ck_assert_str_eq(rc->name_template, "%n at \"%r\"");
	ck_assert_int_eq(rc->port_policy, PORT_ORIGINAL);
	ck_assert_uint_eq(rc->max_services, 10);
	ck_assert_uint_eq(rc->max_relays, 100);		/* inherited */
	ck_assert_uint_eq(rc->nssh_options, 2);		/* top level first */
	ck_assert_str_eq(rc->ssh_options[0], "ConnectTimeout=5");
	ck_assert_str_eq(rc->ssh_options[1], "Port=2222");
	ck_assert_str_eq(rc->file, "t.conf");
	ck_assert_uint_eq(rc->line, 8);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.2.0.77", &sin.sin_addr);
	ck_assert(allow_check(rc->allow, rc->nallow, (struct sockaddr *)&sin));
	inet_pton(AF_INET, "10.3.0.77", &sin.sin_addr);
	ck_assert(!allow_check(rc->allow, rc->nallow, (struct sockaddr *)&sin));

	rc = find_remote(c, "home");
	ck_assert_ptr_nonnull(rc);
	ck_assert_str_eq(rc->destination, "home.example");
	ck_assert_uint_eq(rc->ntypes, 0);		/* "*": all */
	ck_assert_int_eq(rc->scope, SCOPE_HOST);	/* inherited */
	ck_assert_str_eq(rc->name_template, AGENT_NAME_TEMPLATE);
	ck_assert_int_eq(rc->port_policy, PORT_STABLE);
	ck_assert_uint_eq(rc->max_services, AGENT_MAX_SERVICES);

	rc = find_remote(c, "lab");
	ck_assert_ptr_nonnull(rc);
	ck_assert_str_eq(rc->destination, "lab");	/* the name */
	conf_free(c);
}
END_TEST

START_TEST(test_conf_bad)
{
	parse_bad("remote a {\n\tscope lan2\n}\n",
	    "t.conf:2: unknown scope \"lan2\" (expected lan, host, interface)");
	parse_bad("\n\nfrobnicate 1\n", "t.conf:3: unknown keyword "
	    "\"frobnicate\"");
	parse_bad("destination x\n", "t.conf:1: destination belongs in a "
	    "remote block");
	parse_bad("remote a {\n allow-root yes\n}\n", "t.conf:2: allow-root "
	    "belongs at the top level");
	parse_bad("remote a {\n destination x\n", "t.conf:1: remote \"a\" is "
	    "not closed");
	parse_bad("}\n", "t.conf:1: \"}\" without a remote block");
	parse_bad("remote a {\nremote b {\n}\n}\n", "t.conf:2: remote blocks "
	    "do not nest");
	parse_bad("remote a {\n}\nremote a {\n}\n", "t.conf:3: remote \"a\" "
	    "defined twice");
	parse_bad("remote a {\n allow 10.2.0.5/24\n}\n", "t.conf:2: "
	    "\"10.2.0.5/24\": host bits set (did you mean 10.2.0.0/24?)");
	parse_bad("remote a {\n allow 10.2.0.0/33\n}\n", "t.conf:2:");
	parse_bad("remote a {\n allow nonsense\n}\n", "not an address prefix");
	parse_bad("remote a {\n types http\n}\n", "t.conf:2: \"http\" is not "
	    "a service type");
	parse_bad("remote a {\n name-template \"%r only\"\n}\n", "lacks %n");
	parse_bad("remote a {\n name-template \"%n %x\"\n}\n", "unknown %x");
	parse_bad("remote a {\n max-relays 0\n}\n", "t.conf:2: max-relays "
	    "\"0\" is too small");
	parse_bad("remote a {\n max-relays 9000\n}\n", "too large");
	parse_bad("remote a {\n scope\n}\n", "t.conf:2: usage: scope");
	parse_bad("remote a {\n scope interface\n}\n", "needs an interface");
	parse_bad("remote a {\n scope host eth0\n}\n", "takes no interface");
	parse_bad("remote a {\n destination -oProxyCommand=x\n}\n",
	    "bad destination");
	parse_bad("remote a {\n name-template \"unterminated\n}\n",
	    "t.conf:2: unterminated string");
	parse_bad("remote a {\n ssh-option ControlPath=/tmp/x\n}\n",
	    "manages ControlPath itself");
	parse_bad("remote a {\n port-policy random\n}\n", "unknown "
	    "port-policy \"random\"");
	parse_bad("remote bad/name {\n}\n", "bad remote name");
	parse_bad("allow-root maybe\n", "yes or no");
	parse_bad("# nothing\n", "no remote to splice from");
	parse_bad("remote a\n{\n}\n", "t.conf:1: expected \"remote NAME {\"");
	parse_bad("remote a {\n subsystem-command bin/rnsplice-subsystem\n}\n",
	    "t.conf:2: subsystem-command \"bin/rnsplice-subsystem\" is not an "
	    "absolute path or one starting with ~/");
	parse_bad("remote a {\n subsystem-command \"/x;reboot\"\n}\n",
	    "t.conf:2: subsystem-command \"/x;reboot\": ';' is not allowed");
	parse_bad("remote a {\n subsystem-command \"~/a b\"\n}\n",
	    "' ' is not allowed");
}
END_TEST

/* subsystem-command: per remote or inherited from the top level; and the
 * comparison a reload uses to keep a remote running */
START_TEST(test_conf_subsystem_command)
{
	struct agent_conf *c, *d;
	struct remote_conf *a, *b;

	c = parse_ok("subsystem-command ~/.local/libexec/rnsplice-subsystem\n"
	    "remote a {\n}\nremote b {\n subsystem-command /opt/rs\n}\n"
	    "remote c {\n}\n");
	ck_assert_str_eq(find_remote(c, "a")->subsystem_command,
	    "~/.local/libexec/rnsplice-subsystem");
	ck_assert_str_eq(find_remote(c, "b")->subsystem_command, "/opt/rs");
	d = parse_ok("remote a {\n subsystem-command "
	    "~/.local/libexec/rnsplice-subsystem\n}\n"
	    "remote b {\n}\n\n\nremote c {\n"
	    " subsystem-command ~/.local/libexec/rnsplice-subsystem\n}\n");
	/* the same settings, written elsewhere: equal */
	ck_assert_int_eq(agent_remote_conf_eq(find_remote(c, "a"),
	    find_remote(d, "a")), 1);
	ck_assert_int_eq(agent_remote_conf_eq(find_remote(c, "c"),
	    find_remote(d, "c")), 1);
	/* one has the Subsystem way, the other a command: not */
	ck_assert_int_eq(agent_remote_conf_eq(find_remote(c, "b"),
	    find_remote(d, "b")), 0);
	conf_free(c);
	conf_free(d);

	c = parse_ok("remote a {\n scope host\n allow 10.0.0.0/8\n}\n");
	d = parse_ok("remote a {\n scope host\n allow 10.0.0.0/16\n}\n");
	a = find_remote(c, "a");
	b = find_remote(d, "a");
	ck_assert_int_eq(agent_remote_conf_eq(a, b), 0);
	ck_assert_int_eq(agent_remote_conf_eq(a, a), 1);
	conf_free(c);
	c = parse_ok("remote a {\n scope host\n allow 10.0.0.0/16\n"
	    " ssh-option Port=2222\n}\n");
	ck_assert_int_eq(agent_remote_conf_eq(find_remote(c, "a"), b), 0);
	conf_free(c);
	conf_free(d);
}
END_TEST

START_TEST(test_conf_load_file)
{
	char path[] = "/tmp/test_agent_confXXXXXX";
	struct agent_conf *c = conf_new();
	char *cause = NULL;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("remote a {\n\tdestination a.example\n}\nbogus\n", f);
	fclose(f);
	ck_assert_int_eq(conf_load(c, path, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, ":4: unknown keyword \"bogus\""));
	ck_assert_int_eq(strncmp(cause, path, strlen(path)), 0);
	free(cause);
	conf_free(c);
	unlink(path);

	c = conf_new();
	ck_assert_int_eq(conf_load(c, "/nonexistent/agent.conf", &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "/nonexistent/agent.conf: No such"));
	free(cause);
	conf_free(c);
}
END_TEST

/* --- allow-lists ------------------------------------------------------------ */

START_TEST(test_allow)
{
	struct prefix p[2];
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	char *cause = NULL, buf[64];

	ck_assert_int_eq(prefix_parse("10.2.0.0/16", &p[0], &cause), 0);
	ck_assert_int_eq(prefix_parse("fd00:1::/32", &p[1], &cause), 0);
	ck_assert_int_eq(prefix_format(&p[1], buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "fd00:1::/32");

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.2.200.1", &sin.sin_addr);
	ck_assert(prefix_match(&p[0], (struct sockaddr *)&sin));
	inet_pton(AF_INET, "10.3.0.1", &sin.sin_addr);
	ck_assert(!prefix_match(&p[0], (struct sockaddr *)&sin));

	/* a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d */
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.2.0.2", &sin6.sin6_addr);
	ck_assert(allow_check(p, 2, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "fd00:1:ffff::1", &sin6.sin6_addr);
	ck_assert(allow_check(p, 2, (struct sockaddr *)&sin6));
	inet_pton(AF_INET6, "fd00:2::1", &sin6.sin6_addr);
	ck_assert(!allow_check(p, 2, (struct sockaddr *)&sin6));
	ck_assert(allow_check(p, 0, (struct sockaddr *)&sin6));	/* empty */

	ck_assert_int_eq(prefix_parse("0.0.0.0/0", &p[0], &cause), 0);
	ck_assert(prefix_match(&p[0], (struct sockaddr *)&sin));
	ck_assert_int_eq(prefix_parse("10.1.2.3/31", &p[0], &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "did you mean 10.1.2.2/31?"));
	free(cause);
}
END_TEST

/* --- names ------------------------------------------------------------------- */

START_TEST(test_name_template)
{
	char out[64], longname[64];
	char *cause = NULL;
	size_t i;

	ck_assert_int_eq(import_name("%n (%r)", "Kitchen printer", "office",
	    "_ipp._tcp", 1, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Kitchen printer (office)");
	ck_assert_int_eq(import_name("%n", "Web", "x", "_http._tcp", 1, out,
	    sizeof(out)), 0);
	ck_assert_str_eq(out, "Web");
	ck_assert_int_eq(import_name("%n 100%% [%r, %h]", "Web", "x",
	    "_http._tcp", 2, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "Web 100% [x, 2]");

	/* 63 bytes: the name is cut, the suffix stays */
	for (i = 0; i < 63; i++)
		longname[i] = 'a';
	longname[63] = '\0';
	ck_assert_int_eq(import_name("%n (%r)", longname, "office", "_x._tcp",
	    1, out, sizeof(out)), 0);
	ck_assert_uint_eq(strlen(out), 63);
	ck_assert_str_eq(out + 63 - 9, " (office)");

	/* cut on a UTF-8 boundary: 20 x "é" (2 bytes) = 40 bytes */
	for (i = 0; i < 20; i++)
		memcpy(longname + 2 * i, "\xc3\xa9", 2);
	longname[40] = '\0';
	ck_assert_int_eq(import_name("%n (%r)", longname,
	    "a-remote-of-thirty-bytes-long", "_x._tcp", 1, out, sizeof(out)),
	    0);
	ck_assert_uint_le(strlen(out), 63);
	ck_assert(utf8_valid(out, strlen(out)));
	ck_assert_ptr_nonnull(strstr(out, " (a-remote-of-thirty-bytes-long)"));

	ck_assert_int_eq(import_template_check("%n (%r)", &cause), 0);
	ck_assert_int_eq(import_template_check("%n%", &cause), -1);
	free(cause);
	ck_assert_int_eq(import_template_check("(%r)", &cause), -1);
	free(cause);
}
END_TEST

/* --- ports and backoff ------------------------------------------------------- */

START_TEST(test_ports)
{
	uint16_t a, b, out[4];
	size_t n;

	a = import_stable_port("office", "Web", "_http._tcp", "local");
	b = import_stable_port("office", "Web", "_http._tcp", "local");
	ck_assert_uint_eq(a, b);
	ck_assert_uint_ge(a, AGENT_STABLE_PORT_BASE);
	ck_assert_uint_lt(a, AGENT_STABLE_PORT_BASE + AGENT_STABLE_PORT_SPAN);
	ck_assert_uint_ne(a, import_stable_port("home", "Web", "_http._tcp",
	    "local"));
	/* the separator matters */
	ck_assert_uint_ne(import_stable_port("ab", "c", "_x._tcp", "local"),
	    import_stable_port("a", "bc", "_x._tcp", "local"));

	n = import_port_candidates(PORT_STABLE, 0, 80, 23456, out, 4);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0], 23456);
	ck_assert_uint_eq(out[1], 0);
	n = import_port_candidates(PORT_ORIGINAL, 0, 8080, 23456, out, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(out[0], 8080);
	ck_assert_uint_eq(out[1], 23456);
	ck_assert_uint_eq(out[2], 0);
	n = import_port_candidates(PORT_ORIGINAL, 31000, 8080, 8080, out, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(out[0], 31000);	/* remembered first */
	ck_assert_uint_eq(out[1], 8080);	/* once */
	ck_assert_uint_eq(out[2], 0);
}
END_TEST

START_TEST(test_backoff)
{
	static const unsigned int base[] = { 1000, 2000, 4000, 8000, 16000,
	    32000, 60000, 60000, 60000 };
	unsigned int i, lo, hi;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		lo = remote_backoff_ms(i + 1, 0);
		hi = remote_backoff_ms(i + 1, 0xffffffffu);
		ck_assert_uint_ge(lo, base[i] * 8 / 10);
		ck_assert_uint_le(hi, base[i] * 12 / 10);
		ck_assert_uint_eq(remote_backoff_ms(i + 1,
		    base[i] / 100 * 20), base[i]);	/* the middle */
	}
	ck_assert_uint_eq(remote_backoff_ms(1000, 0), 48000);
	ck_assert_uint_eq(remote_backoff_ms(0, 0), 800);
}
END_TEST

/* --- the service table ----------------------------------------------------- */

static void
mkmsg(struct msg *m, const char *line)
{
	char err[256];
	const char *code;

	ck_assert_msg(msg_parse(line, strlen(line), m, err, sizeof(err),
	    &code) == 0, "%s: %s", line, err);
}

START_TEST(test_svctable)
{
	struct svctable t;
	struct isvc *e, *e1;
	struct svc old;
	struct msg m;
	char err[256];
	struct isvc_list all;

	svctable_init(&t, 2);
	mkmsg(&m, "ADD 1 Web _http._tcp local h.local 10.1.0.2 80 a=1");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ADDED);
	ck_assert_uint_eq(e->id, 1);
	ck_assert_str_eq(e->svc.name, "Web");
	e1 = e;
	/* duplicate id: an error, nothing changes */
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "ADD 1: id already in use"));
	ck_assert_uint_eq(t.n, 1);
	msg_free(&m);

	mkmsg(&m, "UPDATE 7 Web _http._tcp local h.local 10.1.0.2 80");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "UPDATE 7: unknown id"));
	msg_free(&m);

	mkmsg(&m, "UPDATE 1 Web _http._tcp local h.local 10.1.0.3 81 a=2");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_UPDATED);
	ck_assert_ptr_eq(e, e1);
	ck_assert_str_eq(e->svc.addr, "10.1.0.3");
	ck_assert_uint_eq(e->svc.port, 81);
	ck_assert_str_eq(old.addr, "10.1.0.2");
	ck_assert_uint_eq(old.port, 80);
	ck_assert(!txt_equal(&old.txt, &e->svc.txt));
	svc_free(&old);
	msg_free(&m);

	mkmsg(&m, "ADD 2 Ftp _ftp._tcp local h.local 10.1.0.2 21");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ADDED);
	msg_free(&m);
	/* the cap */
	mkmsg(&m, "ADD 3 More _ftp._tcp local h.local 10.1.0.2 21");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "max-services"));
	ck_assert_uint_eq(t.dropped, 1);
	ck_assert_uint_eq(t.n, 2);
	msg_free(&m);

	mkmsg(&m, "REMOVE 9");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "REMOVE 9: unknown id"));
	msg_free(&m);
	mkmsg(&m, "REMOVE 1");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_REMOVED);
	ck_assert_ptr_eq(e, e1);
	ck_assert_ptr_null(svctable_find(&t, 1));
	ck_assert_uint_eq(t.n, 1);
	isvc_free(e);
	/* removing again: unknown */
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ERROR);
	msg_free(&m);

	mkmsg(&m, "SYNCED");
	ck_assert_int_eq(svctable_apply(&t, &m, &e, &old, err, sizeof(err)),
	    SVC_ERROR);
	msg_free(&m);

	svctable_take_all(&t, &all);
	ck_assert_uint_eq(t.n, 0);
	while ((e = TAILQ_FIRST(&all)) != NULL) {
		TAILQ_REMOVE(&all, e, entry);
		isvc_free(e);
	}
}
END_TEST

/* --- loop control ------------------------------------------------------------ */

static void
txt_of(struct txt *t, const char *item)
{
	memset(t, 0, sizeof(*t));
	if (item != NULL)
		ck_assert_int_eq(txt_add(t, item, strlen(item)), 0);
}

START_TEST(test_import_filter)
{
	struct splice_meta m;
	struct txt t, out;
	char why[128];
	const char *cause;
	const unsigned char *v;
	size_t vlen;

	/* no metadata: the peer is the origin, we are the first hop */
	txt_of(&t, "path=/");
	ck_assert_int_eq(import_decide(&t, "bbb", "aaa", 4, &m, why,
	    sizeof(why)), 1);
	ck_assert_str_eq(m.origin, "aaa");
	ck_assert_uint_eq(m.npath, 2);
	ck_assert_str_eq(m.path[0], "aaa");
	ck_assert_str_eq(m.path[1], "bbb");
	ck_assert_int_eq(import_txt(&t, &m, &out), 0);
	ck_assert_uint_eq(out.n, 2);
	v = txt_get(&out, META_KEY, &vlen);
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(memcmp(v, "v1;o=aaa;p=aaa,bbb", vlen), 0);
	ck_assert_uint_eq(vlen, strlen("v1;o=aaa;p=aaa,bbb"));
	txt_free(&out);
	txt_free(&t);

	/* already crossed this site: a loop */
	txt_of(&t, "rnsplice=v1;o=aaa;p=aaa,bbb,ccc");
	ck_assert_int_eq(import_decide(&t, "bbb", "ccc", 4, &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "loop"));
	/* another site: imported one hop further, item replaced in place */
	ck_assert_int_eq(import_decide(&t, "ddd", "ccc", 4, &m, why,
	    sizeof(why)), 1);
	ck_assert_uint_eq(meta_hops(&m), 3);
	ck_assert_int_eq(import_txt(&t, &m, &out), 0);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_int_eq(meta_from_txt(&out, &m, &cause), 1);
	ck_assert_str_eq(m.path[3], "ddd");
	txt_free(&out);
	/* the hop limit */
	ck_assert_int_eq(import_decide(&t, "ddd", "ccc", 2, &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "hop limit"));
	txt_free(&t);

	/* our own site as the server: a loop from the start */
	txt_of(&t, NULL);
	ck_assert_int_eq(import_decide(&t, "aaa", "aaa", 4, &m, why,
	    sizeof(why)), 0);
	txt_free(&t);

	/* malformed metadata: not imported, and said why */
	txt_of(&t, "rnsplice=v9;garbage");
	ck_assert_int_eq(import_decide(&t, "bbb", "aaa", 4, &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "bad splice metadata"));
	txt_free(&t);
}
END_TEST

/* --- ssh ----------------------------------------------------------------------- */

START_TEST(test_ssh_argv)
{
	char *opts[] = { "Port=2222" };
	char **v;
	size_t i, n, m = 0, batch = 0, port = 0, cm = 0;

	v = sshm_argv("/usr/bin/ssh", "/run/x/ctl", "alice@gw", opts, 1, NULL);
	ck_assert_ptr_nonnull(v);
	for (n = 0; v[n] != NULL; n++) {
		if (strcmp(v[n], "-M") == 0)
			m = n;
		if (strcmp(v[n], "BatchMode=yes") == 0)
			batch = n;
		if (strcmp(v[n], "Port=2222") == 0)
			port = n;
		if (strcmp(v[n], "ControlMaster=yes") == 0)
			cm = n;
		ck_assert_str_ne(v[n], "-f");
	}
	ck_assert_str_eq(v[0], "/usr/bin/ssh");
	ck_assert_uint_lt(m, cm);	/* "-M" after it would mean "ask" */
	ck_assert_uint_lt(port, batch);	/* the user's options win */
	ck_assert_uint_ge(n, 4);
	ck_assert_str_eq(v[n - 4], "-s");
	ck_assert_str_eq(v[n - 3], "--");
	ck_assert_str_eq(v[n - 2], "alice@gw");
	ck_assert_str_eq(v[n - 1], "rnsplice");
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);

	/* subsystem-command: the login's command, told so by -u; no -s */
	v = sshm_argv("/usr/bin/ssh", "/run/x/ctl", "alice@gw", opts, 1,
	    "~/.local/libexec/rnsplice-subsystem");
	ck_assert_ptr_nonnull(v);
	for (n = 0; v[n] != NULL; n++)
		ck_assert_str_ne(v[n], "-s");
	ck_assert_uint_ge(n, 4);
	ck_assert_str_eq(v[n - 4], "--");
	ck_assert_str_eq(v[n - 3], "alice@gw");
	ck_assert_str_eq(v[n - 2], "~/.local/libexec/rnsplice-subsystem");
	ck_assert_str_eq(v[n - 1], "-u");
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
END_TEST

START_TEST(test_ssh_exit)
{
	struct sshmaster s;
	char out[512], path[256];
	static const char err[] =
	    "Warning: Permanently added '10.99.0.1' (ED25519)\r\n"
	    "\n"
	    "root@10.99.0.1: Permission denied (publickey).\n";

	sshm_init(&s);
	ck_assert_ptr_null(sshm_last_line(&s));
	/* in two pieces, split inside a line */
	sshm_stderr_feed(&s, err, 20, NULL);
	sshm_stderr_feed(&s, err + 20, sizeof(err) - 21, NULL);
	ck_assert_str_eq(sshm_last_line(&s),
	    "root@10.99.0.1: Permission denied (publickey).");
	sshm_describe_exit(255 << 8, sshm_last_line(&s), out, sizeof(out));
	ck_assert_str_eq(out,
	    "ssh exited 255: root@10.99.0.1: Permission denied (publickey)");
	sshm_describe_exit(9, NULL, out, sizeof(out));
	ck_assert_ptr_nonnull(strstr(out, "ssh killed by signal 9"));
	buf_free(&s.errbuf);

	ck_assert_int_eq(sshm_ctlpath(path, sizeof(path), "/run/user/1000/"
	    "rnsplice", "office", 3), 0);
	ck_assert_uint_le(strlen(path), 90);
	ck_assert_ptr_nonnull(strstr(path, "/office-"));
	/* odd names are cleaned, long dirs fall back to a shorter name */
	ck_assert_int_eq(sshm_ctlpath(path, sizeof(path), "/tmp",
	    "a b/c@d", 1), 0);
	ck_assert_ptr_null(strchr(path + 5, '/'));
	ck_assert_ptr_null(strchr(path, ' '));
	ck_assert_int_eq(sshm_ctlpath(path, sizeof(path), "/tmp/"
	    "a-very-long-runtime-directory-name-that-goes-on-and-on-and-on"
	    "-and-on", "office", 1), 0);
	ck_assert_uint_le(strlen(path), 90);
	ck_assert_int_eq(sshm_ctlpath(path, sizeof(path), "/tmp/"
	    "a-very-long-runtime-directory-name-that-goes-on-and-on-and-on"
	    "-and-on-and-on-and-on-and-on", "office", 1), -1);
}
END_TEST

static Suite *
agent_suite(void)
{
	Suite *s = suite_create("agent");
	TCase *tc = tcase_create("agent");

	tcase_add_test(tc, test_conf_good);
	tcase_add_test(tc, test_conf_bad);
	tcase_add_test(tc, test_conf_subsystem_command);
	tcase_add_test(tc, test_conf_load_file);
	tcase_add_test(tc, test_allow);
	tcase_add_test(tc, test_name_template);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_svctable);
	tcase_add_test(tc, test_import_filter);
	tcase_add_test(tc, test_ssh_argv);
	tcase_add_test(tc, test_ssh_exit);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(agent_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
