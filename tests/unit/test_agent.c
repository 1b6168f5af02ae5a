/* Unit tests of the agent's library: configuration, allow-lists, names,
 * ports, backoff, the service table, loop control, the ssh command line
 * and the reporting of ssh's failures. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <net/if.h>
#include <arpa/inet.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	    "max-sessions 9\n"
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
	    "\tlistener master\n"
	    "\tmax-services 10\n"
	    "\tssh-option Port=2222\n"
	    "}\n"
	    "remote home { destination home.example; types *; "
	    "max-sessions learn; listener agent }\n"
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
	ck_assert_int_eq(rc->listener, LISTENER_MASTER);
	ck_assert_uint_eq(rc->max_services, 10);
	ck_assert_uint_eq(rc->max_relays, 100);		/* inherited */
	ck_assert_uint_eq(rc->max_sessions, 9);		/* inherited */
	ck_assert_uint_eq(rc->nssh_options, 2);		/* top level first */
	ck_assert_str_eq(rc->ssh_options[0], "ConnectTimeout=5");
	ck_assert_str_eq(rc->ssh_options[1], "Port=2222");
	ck_assert_str_eq(rc->file, "t.conf");
	ck_assert_uint_eq(rc->line, 9);
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
	ck_assert_int_eq(rc->listener, LISTENER_AGENT);
	ck_assert_uint_eq(rc->max_services, AGENT_MAX_SERVICES);
	ck_assert_uint_eq(rc->max_sessions, 0);		/* learn */

	rc = find_remote(c, "lab");
	ck_assert_ptr_nonnull(rc);
	ck_assert_uint_eq(rc->max_sessions, 9);
	ck_assert_int_eq(rc->listener, LISTENER_AUTO);	/* the default */
	ck_assert_str_eq(conf_listener_name(rc->listener), "auto");
	ck_assert_str_eq(rc->destination, "lab");	/* the name */
	/* the keepalive's defaults */
	ck_assert_uint_eq(c->ping_interval, AGENT_PING_INTERVAL);
	ck_assert_uint_eq(c->ping_timeout, AGENT_PING_TIMEOUT);
	ck_assert_uint_eq(c->ping_idle, 20);
	conf_free(c);
}
END_TEST

/* ping-idle: given, or three intervals less a second (PROTOCOL.md 5). */
START_TEST(test_conf_ping)
{
	struct agent_conf *c;

	c = parse_ok("ping-interval 60\nping-timeout 90\nremote a {\n}\n");
	ck_assert_uint_eq(c->ping_timeout, 90);
	ck_assert_uint_eq(c->ping_idle, 179);
	conf_free(c);
	c = parse_ok("ping-interval 1\nremote a {\n}\n");
	ck_assert_uint_eq(c->ping_timeout, 3);
	ck_assert_uint_eq(c->ping_idle, 2);
	conf_free(c);
	c = parse_ok("ping-idle 300\nremote a {\n}\n");
	ck_assert_uint_eq(c->ping_interval, AGENT_PING_INTERVAL);
	ck_assert_uint_eq(c->ping_idle, 300);
	conf_free(c);
	parse_bad("ping-idle 0\nremote a {\n}\n", "t.conf:1: ping-idle: "
	    "\"0\" is too small");
	parse_bad("ping-idle 10801\nremote a {\n}\n", "too large");
	/* the longest interval: its default idle= still fits the HELLO */
	c = parse_ok("ping-interval 3600\nremote a {\n}\n");
	ck_assert_uint_eq(c->ping_idle, 10799);
	ck_assert_uint_le(c->ping_idle, PROTO_MAXIDLE);
	conf_free(c);
	parse_bad("remote a {\n ping-idle 5\n}\n", "t.conf:2: ping-idle "
	    "belongs at the top level");
}
END_TEST

START_TEST(test_conf_export)
{
	struct agent_conf *c;
	struct remote_conf *rc;
	struct agent_opts o;
	char *cause = NULL;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	c = parse_ok(
	    "export _http._tcp\n"
	    "export _ipp._tcp name \"Printer*\" \"Lab ?\"\n"
	    "remote a { }\n"
	    "remote b { export _ssh._tcp }\n"
	    "remote c { export none }\n");
	rc = find_remote(c, "a");
	ck_assert_uint_eq(rc->nexports, 2);		/* inherited */
	ck_assert_str_eq(rc->exports[1].type, "_ipp._tcp");
	ck_assert_uint_eq(rc->exports[1].nnames, 2);
	ck_assert_int_eq(conf_export_match(rc, "web", "_http._tcp"), 1);
	ck_assert_int_eq(conf_export_match(rc, "web", "_HTTP._tcp"), 1);
	ck_assert_int_eq(conf_export_match(rc, "Printer 2", "_ipp._tcp"), 1);
	ck_assert_int_eq(conf_export_match(rc, "Lab 7", "_ipp._tcp"), 1);
	ck_assert_int_eq(conf_export_match(rc, "Lab 77", "_ipp._tcp"), 0);
	ck_assert_int_eq(conf_export_match(rc, "web", "_ssh._tcp"), 0);
	rc = find_remote(c, "b");
	ck_assert_uint_eq(rc->nexports, 1);		/* its own replace */
	ck_assert_int_eq(conf_export_match(rc, "x", "_ssh._tcp"), 1);
	ck_assert_int_eq(conf_export_match(rc, "x", "_http._tcp"), 0);
	ck_assert_uint_eq(find_remote(c, "c")->nexports, 0);
	ck_assert_int_eq(conf_exports_eq(find_remote(c, "a"),
	    find_remote(c, "a")), 1);
	ck_assert_int_eq(conf_exports_eq(find_remote(c, "a"),
	    find_remote(c, "b")), 0);
	/* -n -v prints what it runs, in a form it reads again */
	f = open_memstream(&out, &outlen);
	ck_assert_ptr_nonnull(f);
	conf_print(c, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(out,
	    "\texport _ipp._tcp name \"Printer*\" \"Lab ?\"\n"));
	free(out);
	conf_free(c);

	parse_bad("export _dns._udp\nremote a { }\n", "carries TCP only");
	parse_bad("export http\nremote a { }\n", "not a service type");
	parse_bad("remote a { export _http._tcp Printer }\n",
	    "expected \"name PATTERN ...\"");
	parse_bad("remote a { export _http._tcp name }\n",
	    "expected \"name PATTERN ...\"");
	parse_bad("remote a { export }\n", "export");
	parse_bad("remote a { export _http._tcp name \"\" }\n",
	    "1-255 bytes");

	/* -x TYPE: the command line's remote exports it */
	memset(&o, 0, sizeof(o));
	o.argv = (char *[]){ "alice@gw.example.org", NULL };
	o.argc = 1;
	o.exports[o.nexports++] = "_http._tcp";
	o.exports[o.nexports++] = "_ssh._tcp";
	c = agent_conf_build(&o, &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	rc = TAILQ_FIRST(&c->remotes);
	ck_assert_uint_eq(rc->nexports, 2);
	ck_assert_int_eq(conf_export_match(rc, "x", "_ssh._tcp"), 1);
	conf_free(c);
	o.exports[0] = "_dns._udp";
	ck_assert_ptr_null(agent_conf_build(&o, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "-x: export _dns._udp"));
	free(cause);
}
END_TEST

/* What the agent offers a remote, and with which path. */
START_TEST(test_export_decide)
{
	struct splice_meta m;
	struct txt t;
	char why[256];
	const char *item;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(txt_add(&t, "path=/", 6), 0);
	/* a native service: origin and path are this site */
	ck_assert_int_eq(export_decide(&t, "sitea", "hub", &m, why,
	    sizeof(why)), 1);
	ck_assert_str_eq(m.origin, "sitea");
	ck_assert_uint_eq(m.npath, 1);
	ck_assert_str_eq(m.path[0], "sitea");
	txt_free(&t);

	/* another agent's copy from sitex: our id appended */
	memset(&t, 0, sizeof(t));
	item = "rnsplice=v1;o=sitex;p=sitex,siteb";
	ck_assert_int_eq(txt_add(&t, item, strlen(item)), 0);
	ck_assert_int_eq(export_decide(&t, "sitea", "hub", &m, why,
	    sizeof(why)), 1);
	ck_assert_str_eq(m.origin, "sitex");
	ck_assert_uint_eq(m.npath, 3);
	ck_assert_str_eq(m.path[2], "sitea");
	/* ... but never back to where it came from */
	ck_assert_int_eq(export_decide(&t, "sitea", "siteb", &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "came from site siteb"));
	ck_assert_int_eq(export_decide(&t, "sitea", "sitex", &m, why,
	    sizeof(why)), 0);
	/* our own copy (imported here) is not exported */
	ck_assert_int_eq(export_decide(&t, "siteb", "hub", &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "imported"));
	/* nor one that crossed this site before */
	ck_assert_int_eq(export_decide(&t, "sitex", "hub", &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "loop"));
	txt_free(&t);

	/* malformed metadata */
	memset(&t, 0, sizeof(t));
	item = "rnsplice=garbage";
	ck_assert_int_eq(txt_add(&t, item, strlen(item)), 0);
	ck_assert_int_eq(export_decide(&t, "sitea", "hub", &m, why,
	    sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "bad splice metadata"));
	txt_free(&t);
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
	parse_bad("}\n", "t.conf:1: \"}\" without a remote or dns-update "
	    "block");
	parse_bad("remote a {\nremote b {\n}\n}\n", "t.conf:2: remote belongs "
	    "at the top level, not in a remote block");
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
	parse_bad("remote a {\n max-relays 0\n}\n", "t.conf:2: max-relays: "
	    "\"0\" is too small");
	parse_bad("remote a {\n max-relays 9000\n}\n", "too large");
	parse_bad("remote a {\n max-sessions 0\n}\n", "t.conf:2: "
	    "max-sessions: \"0\" is too small");
	parse_bad("remote a {\n max-sessions 65536\n}\n", "too large");
	parse_bad("remote a {\n max-sessions lots\n}\n", "t.conf:2: "
	    "max-sessions");
	parse_bad("remote a {\n scope\n}\n", "t.conf:2: usage: scope");
	parse_bad("remote a {\n scope interface\n}\n", "needs an interface");
	parse_bad("remote a {\n scope host eth0\n}\n", "takes no interface");
	parse_bad("remote a {\n destination -oProxyCommand=x\n}\n",
	    "bad destination");
	parse_bad("remote a {\n name-template \"unterminated\n}\n",
	    "t.conf:2: unterminated quote");
	parse_bad("remote a {\n ssh-option ControlPath=/tmp/x\n}\n",
	    "manages ControlPath itself");
	parse_bad("remote a {\n ssh-option forwardagent=yes\n}\n",
	    "t.conf:2: ssh-option: the agent manages forwardagent itself");
	parse_bad("ssh-option \"Tunnel=point-to-point\"\n",
	    "manages Tunnel itself");
	parse_bad("remote a {\n ssh-option PermitLocalCommand=yes\n}\n",
	    "manages PermitLocalCommand itself");
	parse_bad("remote a {\n port-policy random\n}\n", "unknown "
	    "port-policy \"random\"");
	parse_bad("remote a {\n listener ssh\n}\n", "t.conf:2: unknown "
	    "listener \"ssh\" (expected auto, agent, master)");
	parse_bad("remote a {\n listener\n}\n", "t.conf:2:");
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

/* --- exposure ------------------------------------------------------------------ */

static struct prefix
pfx(const char *s)
{
	struct prefix p;
	char *cause = NULL;

	ck_assert_msg(prefix_parse(s, &p, &cause) == 0, "%s: %s", s, cause);
	return p;
}

static struct sockaddr_storage
sa_of(const char *a, unsigned int scope)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, a, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, a, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_scope_id = scope;
	}
	return ss;
}

/* An interface address as exposure_refresh() would record it. */
static struct exp_addr
ifaddr(const char *ifname, unsigned int ifindex, unsigned int flags,
    const char *addr, const char *net, int lan)
{
	struct exp_addr e;

	memset(&e, 0, sizeof(e));
	strlcpy(e.ifname, ifname, sizeof(e.ifname));
	e.ifindex = ifindex;
	e.flags = flags;
	e.lan = lan;
	e.sa = sa_of(addr, ifindex);
	e.salen = e.sa.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	e.net = pfx(net);
	return e;
}

START_TEST(test_prefix_contains)
{
	struct prefix a = pfx("10.0.0.0/8"), b = pfx("10.1.0.0/24");
	struct prefix c = pfx("10.1.0.0/16"), d = pfx("fd00::/8");

	ck_assert(prefix_contains(&a, &b));
	ck_assert(!prefix_contains(&b, &a));
	ck_assert(prefix_contains(&c, &b));
	ck_assert(prefix_contains(&b, &b));
	ck_assert(!prefix_contains(&d, &b));		/* families differ */
	b = pfx("11.1.0.0/24");
	ck_assert(!prefix_contains(&a, &b));

	ck_assert(prefix_private(&a));
	b = pfx("172.16.5.0/24");
	ck_assert(prefix_private(&b));
	b = pfx("172.32.0.0/24");
	ck_assert(!prefix_private(&b));
	b = pfx("192.168.1.0/24");
	ck_assert(prefix_private(&b));
	b = pfx("192.0.2.0/24");			/* documentation, public */
	ck_assert(!prefix_private(&b));
	b = pfx("172.0.0.0/8");				/* wider than 172.16/12 */
	ck_assert(!prefix_private(&b));
	ck_assert(prefix_private(&d));			/* fd00::/8 in fc00::/7 */
	d = pfx("fd12:3456::/64");
	ck_assert(prefix_private(&d));
	d = pfx("fe80::/64");				/* link-local: no */
	ck_assert(!prefix_private(&d));
	d = pfx("2001:db8::/64");
	ck_assert(!prefix_private(&d));
}
END_TEST

/* Which interface addresses make their interface a public leg. */
START_TEST(test_prefix_public_leg)
{
	static const struct {
		const char	*addr;
		int		 public;
	} t[] = {
		{ "198.51.100.7", 1 },		/* a VPS's eth0 */
		{ "8.8.8.8", 1 },
		{ "100.64.0.1", 1 },		/* CGNAT: the carrier's link */
		{ "100.127.255.254", 1 },
		{ "172.32.0.1", 1 },		/* just past 172.16/12 */
		{ "11.0.0.1", 1 },
		{ "10.0.0.1", 0 },
		{ "10.255.255.255", 0 },
		{ "172.16.0.1", 0 },
		{ "172.31.255.1", 0 },
		{ "192.168.1.10", 0 },
		{ "169.254.3.4", 0 },		/* zeroconf: a LAN */
		{ "fe80::1", 0 },		/* IPv6 never */
		{ "2001:db8::1", 0 },
		{ "fd00::1", 0 },
		{ "::ffff:198.51.100.7", 0 },	/* not an interface's */
	};
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ss = sa_of(t[i].addr, 0);
		ck_assert_msg(prefix_public_leg((struct sockaddr *)&ss) ==
		    t[i].public, "%s", t[i].addr);
	}
}
END_TEST

START_TEST(test_lannet_parse)
{
	struct lannet ln;
	char *cause = NULL, buf[64];

	ck_assert_int_eq(lannet_parse("10.1.0.0/24", &ln, &cause), 0);
	ck_assert_int_eq(ln.p.af, AF_INET);
	ck_assert_str_eq(ln.ifname, "");
	ck_assert_int_eq(lannet_format(&ln, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "10.1.0.0/24");
	ck_assert_int_eq(lannet_parse("wlan0", &ln, &cause), 0);
	ck_assert_str_eq(ln.ifname, "wlan0");
	ck_assert_int_eq(lannet_parse("any", &ln, &cause), 0);
	ck_assert(ln.any);
	ck_assert_int_eq(lannet_parse("fd00::/8", &ln, &cause), 0);
	ck_assert_int_eq(ln.p.af, AF_INET6);

	ck_assert_int_eq(lannet_parse("10.1.0.1/24", &ln, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "did you mean 10.1.0.0/24?"));
	free(cause);
	cause = NULL;
	ck_assert_int_eq(lannet_parse("averyveryverylongname0", &ln, &cause),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, "neither an address prefix nor "
	    "an interface name"));
	free(cause);
	cause = NULL;
	ck_assert_int_eq(lannet_parse("eth 0", &ln, &cause), -1);
	free(cause);
}
END_TEST

START_TEST(test_avahi_ifs)
{
	struct avahi_ifs f;
	char *cause = NULL;
	const char *conf =
	    "# comment\n"
	    "[server]\n"
	    "host-name=x\n"
	    "allow-interfaces = eth0, wlan0 ,tun0\n"
	    "deny-interfaces=wlan0\n"
	    "[publish]\n"
	    "deny-interfaces=eth0\n";	/* not [server]: ignored */
	unsigned int up = IFF_UP | IFF_MULTICAST;

	ck_assert_int_eq(avahi_ifs_parse(conf, strlen(conf), &f, &cause), 0);
	ck_assert_uint_eq(f.nallow, 3);
	ck_assert_str_eq(f.allow[1], "wlan0");
	ck_assert_uint_eq(f.ndeny, 1);
	ck_assert(avahi_ifs_uses(&f, "eth0", up));
	ck_assert(!avahi_ifs_uses(&f, "eth0", IFF_UP));		/* no mcast */
	ck_assert(!avahi_ifs_uses(&f, "eth0", IFF_MULTICAST));	/* down */
	ck_assert(!avahi_ifs_uses(&f, "wlan0", up));		/* denied */
	ck_assert(!avahi_ifs_uses(&f, "eth1", up));		/* not allowed */
	ck_assert(!avahi_ifs_uses(&f, "tun0", up | IFF_POINTOPOINT));
	avahi_ifs_free(&f);

	/* no file content: avahi's defaults */
	ck_assert_int_eq(avahi_ifs_parse("", 0, &f, &cause), 0);
	ck_assert(avahi_ifs_uses(&f, "eth1", up));
	ck_assert(!avahi_ifs_uses(&f, "lo", up | IFF_LOOPBACK));
	avahi_ifs_free(&f);
	conf = "[server]\nallow-point-to-point=yes\n";
	ck_assert_int_eq(avahi_ifs_parse(conf, strlen(conf), &f, &cause), 0);
	ck_assert(avahi_ifs_uses(&f, "tun0", up | IFF_POINTOPOINT));
	avahi_ifs_free(&f);
}
END_TEST

/* A laptop: lo, eth0 on the office LAN 10.1.0.0/24, wan0 with a public
 * address (avahi denies it), wlan0 on a café's 192.168.77.0/24. */
static void
laptop(struct exposure *x, struct exp_addr *v)
{
	unsigned int up = IFF_UP | IFF_MULTICAST;

	memset(x, 0, sizeof(*x));
	v[0] = ifaddr("eth0", 2, up, "10.1.0.5", "10.1.0.0/24", 1);
	v[1] = ifaddr("eth0", 2, up, "fe80::5", "fe80::/64", 1);
	v[2] = ifaddr("lo", 1, IFF_UP | IFF_LOOPBACK, "127.0.0.1",
	    "127.0.0.0/8", 0);
	v[3] = ifaddr("lo", 1, IFF_UP | IFF_LOOPBACK, "::1", "::1/128", 0);
	v[4] = ifaddr("wan0", 3, up, "198.51.100.7", "198.51.100.0/24", 0);
	v[5] = ifaddr("wlan0", 4, up, "192.168.77.9", "192.168.77.0/24", 1);
	v[6] = ifaddr("wlan0", 4, up, "fe80::9", "fe80::/64", 1);
	x->addrs = v;
	x->naddrs = 7;
}

static int
plan_has(const struct exp_plan *pl, const char *a)
{
	struct sockaddr_storage ss = sa_of(a, 0);
	size_t i;

	for (i = 0; i < pl->nbind; i++) {
		if (pl->bind[i].ss_family != ss.ss_family)
			continue;
		if (ss.ss_family == AF_INET && memcmp(
		    &((struct sockaddr_in *)&pl->bind[i])->sin_addr,
		    &((struct sockaddr_in *)&ss)->sin_addr, 4) == 0)
			return 1;
		if (ss.ss_family == AF_INET6 && memcmp(
		    &((struct sockaddr_in6 *)&pl->bind[i])->sin6_addr,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr, 16) == 0)
			return 1;
	}
	return 0;
}

static int
peer_ok(const struct exposure *x, const struct remote_conf *rc,
    const char *a, unsigned int scope)
{
	struct sockaddr_storage ss = sa_of(a, scope);

	return exp_peer_ok(x, rc, (struct sockaddr *)&ss);
}

START_TEST(test_exposure_rule)
{
	struct exposure x;
	struct exp_addr v[8];
	struct remote_conf rc;
	struct exp_plan pl;
	struct lannet nets[2];
	char *cause = NULL, buf[256];

	laptop(&x, v);
	memset(&rc, 0, sizeof(rc));
	rc.scope = SCOPE_LAN;

	/* the default: private networks of avahi's interfaces, learned */
	x.nlearned = exp_learn(x.addrs, x.naddrs, x.learned, EXP_LEARN_MAX);
	ck_assert_uint_eq(x.nlearned, 2);	/* not the WAN, not fe80 */
	lannet_format(&x.learned[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "10.1.0.0/24");
	lannet_format(&x.learned[1], buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168.77.0/24");

	/* named: the office only */
	ck_assert_int_eq(lannet_parse("10.1.0.0/16", &nets[0], &cause), 0);
	rc.lannets = nets;
	rc.nlannets = 1;
	ck_assert(exp_iface_on(x.addrs, x.naddrs, "eth0", nets, 1));
	ck_assert(!exp_iface_on(x.addrs, x.naddrs, "wlan0", nets, 1));
	exp_plan(&x, &rc, &pl);
	ck_assert(!pl.fallback);
	ck_assert(plan_has(&pl, "10.1.0.5"));
	ck_assert(plan_has(&pl, "fe80::5"));
	ck_assert(plan_has(&pl, "127.0.0.1"));
	ck_assert(plan_has(&pl, "::1"));
	ck_assert(!plan_has(&pl, "198.51.100.7"));
	ck_assert(!plan_has(&pl, "192.168.77.9"));
	ck_assert(!plan_has(&pl, "fe80::9"));
	ck_assert_uint_eq(pl.nbind, 4);
	/* one of two LAN interfaces: published on that one */
	ck_assert_int_eq(pl.pub, SCOPE_IFACE);
	ck_assert_uint_eq(pl.npubifs, 1);
	ck_assert_uint_eq(pl.pubifs[0], 2);
	exp_describe(&x, &rc, buf, sizeof(buf));
	ck_assert_str_eq(buf, "eth0 10.1.0.0/24 fe80::/64");

	/* clients: on-link of eth0 and the loopback, nobody else */
	ck_assert(peer_ok(&x, &rc, "10.1.0.77", 0));
	ck_assert(peer_ok(&x, &rc, "::ffff:10.1.0.77", 0));
	ck_assert(peer_ok(&x, &rc, "127.0.0.1", 0));
	ck_assert(peer_ok(&x, &rc, "127.3.2.1", 0));
	ck_assert(peer_ok(&x, &rc, "::1", 0));
	ck_assert(peer_ok(&x, &rc, "::ffff:127.0.0.1", 0));
	ck_assert(peer_ok(&x, &rc, "fe80::77", 2));	/* on eth0's link */
	ck_assert(!peer_ok(&x, &rc, "fe80::77", 4));	/* wlan0's link */
	ck_assert(!peer_ok(&x, &rc, "10.1.1.1", 0));	/* routed, off-link */
	ck_assert(!peer_ok(&x, &rc, "192.168.77.3", 0));	/* the café */
	ck_assert(!peer_ok(&x, &rc, "198.51.100.1", 0));	/* the WAN */
	ck_assert(!peer_ok(&x, &rc, "2001:db8::1", 0));

	/* the laptop leaves the office: on no named network, host scope */
	v[4] = v[5];
	v[5] = v[6];
	x.addrs = v + 2;
	x.naddrs = 4;				/* lo, lo, wlan0, wlan0 */
	exp_plan(&x, &rc, &pl);
	ck_assert(pl.fallback);
	ck_assert_int_eq(pl.pub, SCOPE_HOST);
	ck_assert_uint_eq(pl.nbind, 1);
	ck_assert(plan_has(&pl, "127.0.0.1"));
	ck_assert(!peer_ok(&x, &rc, "192.168.77.3", 0));
	ck_assert(peer_ok(&x, &rc, "127.0.0.1", 0));
	exp_describe(&x, &rc, buf, sizeof(buf));
	ck_assert_str_eq(buf, "none");

	/* by interface name, and "any" */
	laptop(&x, v);
	ck_assert_int_eq(lannet_parse("wlan0", &nets[0], &cause), 0);
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "192.168.77.9"));
	ck_assert(!plan_has(&pl, "10.1.0.5"));
	ck_assert_int_eq(lannet_parse("any", &nets[0], &cause), 0);
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "192.168.77.9"));
	ck_assert(plan_has(&pl, "10.1.0.5"));
	ck_assert(!plan_has(&pl, "198.51.100.7"));	/* avahi denies wan0 */
	ck_assert_int_eq(pl.pub, SCOPE_LAN);		/* all of avahi's */
	ck_assert(!peer_ok(&x, &rc, "198.51.100.1", 0));

	/* two of three LAN interfaces: published on each of the two, not on
	 * the third (no name announced where nothing listens) */
	v[7] = ifaddr("eth1", 5, IFF_UP | IFF_MULTICAST, "172.20.0.5",
	    "172.20.0.0/24", 1);
	x.naddrs = 8;
	ck_assert_int_eq(lannet_parse("10.1.0.0/24", &nets[0], &cause), 0);
	ck_assert_int_eq(lannet_parse("192.168.77.0/24", &nets[1], &cause), 0);
	rc.nlannets = 2;
	exp_plan(&x, &rc, &pl);
	ck_assert_int_eq(pl.pub, SCOPE_IFACE);
	ck_assert_uint_eq(pl.npubifs, 2);
	ck_assert_uint_eq(pl.pubifs[0], 2);
	ck_assert_uint_eq(pl.pubifs[1], 4);
	ck_assert(!plan_has(&pl, "172.20.0.5"));
	ck_assert(!peer_ok(&x, &rc, "172.20.0.9", 0));
	ck_assert(peer_ok(&x, &rc, "192.168.77.3", 0));
	x.naddrs = 7;

	/* no lan-networks: the learned ones */
	rc.nlannets = 0;
	rc.lannets = NULL;
	x.nlearned = exp_learn(x.addrs, x.naddrs, x.learned, EXP_LEARN_MAX);
	x.nlearned = 1;				/* started in the office */
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "10.1.0.5"));
	ck_assert(!plan_has(&pl, "192.168.77.9"));
	x.nlearned = 0;				/* nothing learned yet */
	exp_plan(&x, &rc, &pl);
	ck_assert(pl.fallback);

	/* interface scope: that interface, whatever the LAN networks */
	rc.scope = SCOPE_IFACE;
	strlcpy(rc.ifname, "wan0", sizeof(rc.ifname));
	exp_plan(&x, &rc, &pl);
	ck_assert_uint_eq(pl.nbind, 1);
	ck_assert(plan_has(&pl, "198.51.100.7"));
	ck_assert(!plan_has(&pl, "127.0.0.1"));
	ck_assert(peer_ok(&x, &rc, "198.51.100.1", 0));
	ck_assert(!peer_ok(&x, &rc, "10.1.0.77", 0));

	/* host scope: the loopback only */
	rc.scope = SCOPE_HOST;
	exp_plan(&x, &rc, &pl);
	ck_assert_uint_eq(pl.nbind, 1);
	ck_assert(plan_has(&pl, "127.0.0.1"));
	ck_assert(!peer_ok(&x, &rc, "10.1.0.77", 0));
	ck_assert(peer_ok(&x, &rc, "127.0.0.1", 0));
}
END_TEST

/* A server: eth0 its public leg (a public address, a provider's private
 * one, link-local), eth1 a LAN of private and link-local addresses, v6lan
 * an IPv6-only LAN (link-local, global), all of them avahi's. */
static void
server(struct exposure *x, struct exp_addr *v)
{
	unsigned int up = IFF_UP | IFF_MULTICAST;

	memset(x, 0, sizeof(*x));
	v[0] = ifaddr("eth0", 2, up, "10.17.0.5", "10.17.0.0/16", 1);
	v[1] = ifaddr("eth0", 2, up, "198.51.100.7", "198.51.100.0/24", 1);
	v[2] = ifaddr("eth0", 2, up, "fe80::7", "fe80::/64", 1);
	v[3] = ifaddr("eth1", 3, up, "192.168.5.1", "192.168.5.0/24", 1);
	v[4] = ifaddr("eth1", 3, up, "fe80::1", "fe80::/64", 1);
	v[5] = ifaddr("lo", 1, IFF_UP | IFF_LOOPBACK, "127.0.0.1",
	    "127.0.0.0/8", 0);
	v[6] = ifaddr("v6lan", 4, up, "2001:db8:6::1", "2001:db8:6::/64", 1);
	v[7] = ifaddr("v6lan", 4, up, "fe80::6", "fe80::/64", 1);
	x->addrs = v;
	x->naddrs = 8;
}

START_TEST(test_exposure_public_leg)
{
	struct exposure x;
	struct exp_addr v[8];
	struct remote_conf rc;
	struct exp_plan pl;
	struct lannet nets[2];
	char *cause = NULL, buf[256];

	server(&x, v);
	memset(&rc, 0, sizeof(rc));
	rc.scope = SCOPE_LAN;

	/* the default: eth1's network, not the public leg's private one */
	x.nlearned = exp_learn(x.addrs, x.naddrs, x.learned, EXP_LEARN_MAX);
	ck_assert_uint_eq(x.nlearned, 1);
	lannet_format(&x.learned[0], buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.168.5.0/24");
	exp_plan(&x, &rc, &pl);
	ck_assert(!pl.fallback);
	ck_assert(plan_has(&pl, "192.168.5.1"));
	ck_assert(plan_has(&pl, "fe80::1"));
	ck_assert(plan_has(&pl, "127.0.0.1"));
	ck_assert(!plan_has(&pl, "198.51.100.7"));
	ck_assert(!plan_has(&pl, "10.17.0.5"));
	ck_assert(!plan_has(&pl, "fe80::7"));	/* the public leg's */
	ck_assert_uint_eq(pl.nbind, 3);
	ck_assert_int_eq(pl.pub, SCOPE_IFACE);	/* not on eth0 */
	ck_assert_uint_eq(pl.npubifs, 1);
	ck_assert_uint_eq(pl.pubifs[0], 3);
	ck_assert(peer_ok(&x, &rc, "fe80::77", 3));
	ck_assert(!peer_ok(&x, &rc, "fe80::77", 2));	/* the provider's link */
	ck_assert(!peer_ok(&x, &rc, "10.17.0.9", 0));
	ck_assert(!peer_ok(&x, &rc, "198.51.100.1", 0));

	/* the public leg's private network named: still not brought in */
	ck_assert_int_eq(lannet_parse("10.0.0.0/8", &nets[0], &cause), 0);
	rc.lannets = nets;
	rc.nlannets = 1;
	ck_assert(!exp_iface_on(x.addrs, x.naddrs, "eth0", nets, 1));
	exp_plan(&x, &rc, &pl);
	ck_assert(pl.fallback);
	ck_assert_uint_eq(pl.nbind, 1);
	ck_assert(plan_has(&pl, "127.0.0.1"));

	/* named: by its public network, by its name, by "any" */
	ck_assert_int_eq(lannet_parse("198.51.100.0/24", &nets[0], &cause), 0);
	ck_assert(exp_iface_on(x.addrs, x.naddrs, "eth0", nets, 1));
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "198.51.100.7"));
	ck_assert(plan_has(&pl, "10.17.0.5"));
	ck_assert(plan_has(&pl, "fe80::7"));
	ck_assert(!plan_has(&pl, "192.168.5.1"));
	ck_assert(peer_ok(&x, &rc, "fe80::77", 2));
	ck_assert_int_eq(lannet_parse("eth0", &nets[0], &cause), 0);
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "fe80::7"));
	ck_assert(plan_has(&pl, "198.51.100.7"));
	ck_assert_int_eq(lannet_parse("any", &nets[0], &cause), 0);
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "fe80::7"));
	ck_assert(plan_has(&pl, "fe80::1"));
	ck_assert(plan_has(&pl, "fe80::6"));

	/* an IPv6-only interface is no public leg: named by a prefix of its
	 * global network, it is used with its link-local address */
	ck_assert_int_eq(lannet_parse("2001:db8:6::/48", &nets[0], &cause),
	    0);
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "fe80::6"));
	ck_assert(plan_has(&pl, "2001:db8:6::1"));
	ck_assert(!plan_has(&pl, "fe80::7"));

	/* interface scope names it: used whatever it is */
	rc.scope = SCOPE_IFACE;
	strlcpy(rc.ifname, "eth0", sizeof(rc.ifname));
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "fe80::7"));
	ck_assert(plan_has(&pl, "198.51.100.7"));

	/* eth0 loses its public address: a LAN again (the snapshot after
	 * an rtnetlink burst), on the default networks once learned */
	rc.scope = SCOPE_LAN;
	rc.nlannets = 0;
	rc.lannets = NULL;
	v[1] = v[0];
	x.nlearned = exp_learn(x.addrs, x.naddrs, x.learned, EXP_LEARN_MAX);
	ck_assert_uint_eq(x.nlearned, 2);
	exp_plan(&x, &rc, &pl);
	ck_assert(plan_has(&pl, "fe80::7"));
	ck_assert(plan_has(&pl, "10.17.0.5"));
}
END_TEST

START_TEST(test_conf_lan_networks)
{
	struct agent_conf *c;
	struct remote_conf *rc;

	c = parse_ok(
	    "avahi-config /etc/avahi/other.conf\n"
	    "lan-networks 10.1.0.0/24 fd00:1::/64 eth1\n"
	    "remote a { }\n"
	    "remote b { lan-networks any }\n");
	ck_assert_str_eq(c->avahi_conf, "/etc/avahi/other.conf");
	rc = find_remote(c, "a");
	ck_assert_uint_eq(rc->nlannets, 3);		/* inherited */
	ck_assert_str_eq(rc->lannets[2].ifname, "eth1");
	rc = find_remote(c, "b");
	ck_assert_uint_eq(rc->nlannets, 1);
	ck_assert(rc->lannets[0].any);
	conf_free(c);

	parse_bad("lan-networks 10.1.0.1/24\nremote a { }\n",
	    "t.conf:1: lan-networks: \"10.1.0.1/24\": host bits set");
	parse_bad("lan-networks 10.1.0.0/24\nlan-networks 10.2.0.0/24\n"
	    "remote a { }\n", "t.conf:2: lan-networks given twice");
	parse_bad("remote a {\n\tavahi-config /x\n}\n",
	    "t.conf:2: avahi-config belongs at the top level");
	parse_bad("avahi-config x.conf\nremote a { }\n",
	    "t.conf:1: avahi-config takes an absolute path");
	parse_bad("lan-networks\nremote a { }\n", "t.conf:1: usage: "
	    "lan-networks");
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

/* Probes of refused services: 2 s doubling to 120 s, +-20 %. */
START_TEST(test_reach_backoff)
{
	static const unsigned int base[] = { 2000, 4000, 8000, 16000, 32000,
	    64000, 120000, 120000 };
	unsigned int i;

	for (i = 0; i < sizeof(base) / sizeof(base[0]); i++) {
		ck_assert_uint_eq(reach_backoff_ms(i, 0), base[i] * 8 / 10);
		ck_assert_uint_eq(reach_backoff_ms(i, 0xffffffffu) <=
		    base[i] * 12 / 10, 1);
		ck_assert_uint_eq(reach_backoff_ms(i, base[i] / 100 * 20),
		    base[i]);
	}
	ck_assert_uint_eq(reach_backoff_ms(100000, 0), 96000);
}
END_TEST

/* Only TCP types can be carried. */
START_TEST(test_import_udp)
{
	ck_assert_int_eq(import_type_carried("_http._tcp"), 1);
	ck_assert_int_eq(import_type_carried("_ipp._TCP"), 1);
	ck_assert_int_eq(import_type_carried("_sleep-proxy._udp"), 0);
	ck_assert_int_eq(import_type_carried("_Sleep-Proxy._udp"), 0);
	ck_assert_int_eq(import_type_carried("_tcp"), 0);
	ck_assert_int_eq(import_type_carried(""), 0);
}
END_TEST

/* --- the service table ----------------------------------------------------- */

static void
mkmsg(struct msg *m, const char *line)
{
	char *cause;
	const char *code;

	ck_assert_msg(msg_parse(line, strlen(line), m, &cause, &code) == 0,
	    "%s: %s", line, cause);
}

/* isvctable_apply, with the cause copied into err (and freed) so that
 * the tests compare its words. */
static enum isvc_action
apply(struct isvctable *t, const struct msg *m, struct isvc **e,
    struct svc *old, char *err, size_t errlen)
{
	enum isvc_action r;
	char *cause = NULL;

	err[0] = '\0';
	r = isvctable_apply(t, m, e, old, &cause);
	if (r == ISVC_ERROR) {
		ck_assert_ptr_nonnull(cause);
		strlcpy(err, cause, errlen);
		free(cause);
	}
	return r;
}

START_TEST(test_isvctable)
{
	struct isvctable t;
	struct isvc *e, *e1;
	struct svc old;
	struct msg m;
	char err[256];
	struct isvc_list all;

	isvctable_init(&t, 2);
	mkmsg(&m, "ADD 1 Web _http._tcp local h.local 10.1.0.2 80 a=1");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ADDED);
	ck_assert_uint_eq(e->id, 1);
	ck_assert_str_eq(e->svc.name, "Web");
	e1 = e;
	/* duplicate id: an error, nothing changes */
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "ADD 1: id already in use"));
	ck_assert_uint_eq(t.n, 1);
	msg_free(&m);

	mkmsg(&m, "UPDATE 7 Web _http._tcp local h.local 10.1.0.2 80");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "UPDATE 7: unknown id"));
	msg_free(&m);

	mkmsg(&m, "UPDATE 1 Web _http._tcp local h.local 10.1.0.3 81 a=2");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_UPDATED);
	ck_assert_ptr_eq(e, e1);
	ck_assert_str_eq(e->svc.addr, "10.1.0.3");
	ck_assert_uint_eq(e->svc.port, 81);
	ck_assert_str_eq(old.addr, "10.1.0.2");
	ck_assert_uint_eq(old.port, 80);
	ck_assert(!txt_equal(&old.txt, &e->svc.txt));
	svc_free(&old);
	msg_free(&m);

	mkmsg(&m, "ADD 2 Ftp _ftp._tcp local h.local 10.1.0.2 21");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ADDED);
	msg_free(&m);
	/* the cap */
	mkmsg(&m, "ADD 3 More _ftp._tcp local h.local 10.1.0.2 21");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "max-services"));
	ck_assert_uint_eq(t.dropped, 1);
	ck_assert_uint_eq(t.n, 2);
	msg_free(&m);

	mkmsg(&m, "REMOVE 9");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "REMOVE 9: unknown id"));
	msg_free(&m);
	mkmsg(&m, "REMOVE 1");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_REMOVED);
	ck_assert_ptr_eq(e, e1);
	ck_assert_ptr_null(isvctable_find(&t, 1));
	ck_assert_uint_eq(t.n, 1);
	isvc_free(e);
	/* removing again: unknown */
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ERROR);
	msg_free(&m);

	mkmsg(&m, "SYNCED");
	ck_assert_int_eq(apply(&t, &m, &e, &old, err, sizeof(err)),
	    ISVC_ERROR);
	msg_free(&m);

	isvctable_take_all(&t, &all);
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
	ck_assert_int_eq(meta_txt_set(&t, &m, &out), 0);
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
	ck_assert_int_eq(meta_txt_set(&t, &m, &out), 0);
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


/* rnsplice services and status: a peer's names reach the terminal
 * escaped, and a reply that would pass the control socket's limit is an
 * error, never a cut (malformed) JSON document. */
START_TEST(test_dump_limits)
{
	struct agent a;
	struct remote *r;
	struct remote_conf *rc;
	struct isvc *e;
	struct svc old;
	struct msg m;
	struct buf out;
	struct isvc_list all;
	char line[256], err[256];
	const char *p;
	size_t i, full;
	int json;

	memset(&a, 0, sizeof(a));
	TAILQ_INIT(&a.remotes);
	strlcpy(a.siteid, "testsite", sizeof(a.siteid));
	ck_assert_ptr_nonnull(a.conf = conf_new());
	ck_assert_ptr_nonnull(rc = conf_add_remote(a.conf, "office", NULL));
	rc->destination = strdup("alice@gw");
	ck_assert_ptr_nonnull(r = calloc(1, sizeof(*r)));
	r->agent = &a;
	r->conf = rc;
	TAILQ_INIT(&r->conns);
	isvctable_init(&r->table, 512);
	TAILQ_INSERT_TAIL(&a.remotes, r, entry);
	mkmsg(&m, "ADD 1 evil\xe2\x80\xae" "fdp.exe\xc2\x9b" "31m _http._tcp "
	    "local h.local 10.1.0.2 80");
	ck_assert_int_eq(apply(&r->table, &m, &e, &old, err, sizeof(err)),
	    ISVC_ADDED);
	msg_free(&m);
	strlcpy(e->skip, "a reason", sizeof(e->skip));
	for (i = 2; i <= 200; i++) {
		snprintf(line, sizeof(line), "ADD %zu Service-%zu _http._tcp "
		    "local h.local 10.1.0.2 %zu", i, i, i);
		mkmsg(&m, line);
		ck_assert_int_eq(apply(&r->table, &m, &e, &old, err,
		    sizeof(err)), ISVC_ADDED);
		msg_free(&m);
	}

	buf_init(&out, 1024 * 1024);
	ck_assert_int_eq(agent_ctl_handler(&a, "services", 0, &out), 0);
	buf_put(&out, "", 1);
	p = (const char *)buf_ptr(&out);
	ck_assert_ptr_nonnull(strstr(p, "\"evil\\u202efdp.exe\\u009b31m\""));
	ck_assert_ptr_null(strstr(p, "\xe2\x80\xae"));
	ck_assert_ptr_null(strstr(p, "\xc2\x9b"));
	buf_reset(&out);
	ck_assert_int_eq(agent_ctl_handler(&a, "services", 1, &out), 0);
	full = buf_len(&out);
	buf_put(&out, "", 1);
	p = (const char *)buf_ptr(&out);
	ck_assert_ptr_nonnull(strstr(p, "\"evil\\u202efdp.exe\\u009b31m\""));
	ck_assert_ptr_null(strstr(p, "\xe2\x80\xae"));
	ck_assert(p[0] == '[' && strcmp(p + full - 2, "]\n") == 0);
	buf_free(&out);

	/* cuts of the limit all along, in both formats: all or an error */
	for (json = 0; json <= 1; json++) {
		buf_init(&out, 1024 * 1024);
		ck_assert_int_eq(agent_ctl_handler(&a, "services", json, &out),
		    0);
		full = buf_len(&out);
		buf_free(&out);
		for (i = 256; i < full; i += 997) {
			buf_init(&out, i);
			ck_assert_int_eq(agent_ctl_handler(&a, "services", json,
			    &out), -1);
			buf_put(&out, "", 1);
			p = (const char *)buf_ptr(&out);
			ck_assert_msg(strncmp(p, "services: the reply would be "
			    "larger than", 40) == 0, "limit %zu: %s", i, p);
			buf_free(&out);
		}
	}
	buf_init(&out, full);
	ck_assert_int_eq(agent_ctl_handler(&a, "services", 1, &out), 0);
	ck_assert_uint_eq(buf_len(&out), full);
	buf_free(&out);
	buf_init(&out, 200);
	ck_assert_int_eq(agent_ctl_handler(&a, "status", 1, &out), -1);
	buf_free(&out);

	isvctable_take_all(&r->table, &all);
	while ((e = TAILQ_FIRST(&all)) != NULL) {
		TAILQ_REMOVE(&all, e, entry);
		isvc_free(e);
	}
	free(r);
	conf_free(a.conf);
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

/* Whatever ssh_config turns on, the master forwards and runs nothing: the
 * options that say so come before the user's (ssh keeps the first). */
/* the master's byte counts (the keepalive's busy check): this process
 * stands in for the master */
START_TEST(test_ssh_io_bytes)
{
	struct sshmaster s;
	char zeros[8192];
	uint64_t before, after;
	int fd;

	sshm_init(&s);
	ck_assert_int_eq(sshm_io_bytes(&s, &before), -1);	/* no master */
	s.pid = getpid();
	if (sshm_io_bytes(&s, &before) == -1) {
		/* no /proc/PID/io here: then it must say so, always */
		ck_assert_int_eq(sshm_io_bytes(&s, &after), -1);
		return;
	}
	memset(zeros, 0, sizeof(zeros));
	fd = open("/dev/null", O_WRONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, zeros, sizeof(zeros)), sizeof(zeros));
	close(fd);
	ck_assert_int_eq(sshm_io_bytes(&s, &after), 0);
	ck_assert_uint_ge(after - before, sizeof(zeros));
}
END_TEST

START_TEST(test_ssh_argv_fixed)
{
	static const char *const want[] = { "ClearAllForwardings=yes",
	    "ForwardAgent=no", "ForwardX11=no", "Tunnel=no",
	    "PermitLocalCommand=no", "RemoteCommand=none" };
	char *opts[] = { "ForwardAgent=yes" };
	char **v;
	size_t i, j, n, user = 0;
	size_t keylen;

	v = sshm_argv("/usr/bin/ssh", "/run/x/ctl", "alice@gw", opts, 1, NULL);
	ck_assert_ptr_nonnull(v);
	for (n = 0; v[n] != NULL; n++)
		if (strcmp(v[n], "ForwardAgent=yes") == 0)
			user = n;
	ck_assert_uint_gt(user, 0);
	for (j = 0; j < sizeof(want) / sizeof(want[0]); j++) {
		for (i = 1; v[i] != NULL; i++)
			if (strcmp(v[i], want[j]) == 0)
				break;
		ck_assert_msg(v[i] != NULL, "%s missing", want[j]);
		ck_assert_str_eq(v[i - 1], "-o");
		ck_assert_uint_lt(i, user);
		ck_assert_int_eq(sshm_option_fixed(want[j], &keylen), 1);
		ck_assert_uint_eq(keylen, strcspn(want[j], "="));
	}
	ck_assert_int_eq(sshm_option_fixed("controlpath=/x", NULL), 1);
	ck_assert_int_eq(sshm_option_fixed("ForwardX11 yes", NULL), 1);
	ck_assert_int_eq(sshm_option_fixed("Forward=yes", NULL), 0);
	ck_assert_int_eq(sshm_option_fixed("ForwardAgentX=yes", NULL), 0);
	ck_assert_int_eq(sshm_option_fixed("Port=2222", NULL), 0);
	ck_assert_int_eq(sshm_option_fixed("=yes", NULL), 0);
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
	tcase_add_test(tc, test_conf_export);
	tcase_add_test(tc, test_export_decide);
	tcase_add_test(tc, test_conf_subsystem_command);
	tcase_add_test(tc, test_conf_load_file);
	tcase_add_test(tc, test_conf_ping);
	tcase_add_test(tc, test_allow);
	tcase_add_test(tc, test_prefix_contains);
	tcase_add_test(tc, test_prefix_public_leg);
	tcase_add_test(tc, test_lannet_parse);
	tcase_add_test(tc, test_avahi_ifs);
	tcase_add_test(tc, test_exposure_rule);
	tcase_add_test(tc, test_exposure_public_leg);
	tcase_add_test(tc, test_conf_lan_networks);
	tcase_add_test(tc, test_name_template);
	tcase_add_test(tc, test_ports);
	tcase_add_test(tc, test_backoff);
	tcase_add_test(tc, test_reach_backoff);
	tcase_add_test(tc, test_import_udp);
	tcase_add_test(tc, test_isvctable);
	tcase_add_test(tc, test_import_filter);
	tcase_add_test(tc, test_dump_limits);
	tcase_add_test(tc, test_ssh_argv);
	tcase_add_test(tc, test_ssh_argv_fixed);
	tcase_add_test(tc, test_ssh_io_bytes);
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
