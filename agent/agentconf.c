/* agent.conf: a top level of defaults and one block per remote.
 *
 *	# comment
 *	allow-root no
 *	scope lan
 *	remote office {
 *		destination alice@gw.example.org
 *		types _ipp._tcp _http._tcp
 *		allow 192.168.1.0/24
 *		lan-networks 192.168.1.0/24
 *	}
 *
 * A statement is a keyword and its arguments, ended by a newline or ';'.
 * The reader of common/cfg.c splits words and blocks; the table here says
 * which keywords exist, where they may appear, how many arguments they
 * take and what reads them. Every error names FILE:LINE. The command line
 * is merged in by agent_conf_build, at start and on every SIGHUP. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "cfg.h"
#include "dnsupdate.h"
#include "proto.h"
#include "xmalloc.h"

#define CONF_MAXARGS	64

/* --- remote_conf helpers ------------------------------------------------ */

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
strv_add(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

static void
exports_free(struct export_rule *x, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(x[i].type);
		strv_free(x[i].names, x[i].nnames);
	}
	free(x);
}

static void
rc_clear(struct remote_conf *rc)
{
	exports_free(rc->exports, rc->nexports);
	rc->exports = NULL;
	rc->nexports = 0;
	free(rc->destination);
	strv_free(rc->types, rc->ntypes);
	free(rc->allow);
	free(rc->lannets);
	free(rc->name_template);
	strv_free(rc->ssh_options, rc->nssh_options);
	free(rc->subsystem_command);
	free(rc->file);
	dnsup_conf_free(rc->dnsupdate);
	rc->dnsupdate = NULL;
	free(rc->dns_where);
	rc->dns_where = NULL;
	rc->destination = rc->name_template = rc->file = NULL;
	rc->subsystem_command = NULL;
	rc->types = rc->ssh_options = NULL;
	rc->allow = NULL;
	rc->lannets = NULL;
	rc->ntypes = rc->nallow = rc->nssh_options = rc->nlannets = 0;
}

struct agent_conf *
conf_new(void)
{
	struct agent_conf *c;

	c = xcalloc(1, sizeof(*c));
	c->max_hops = PROTO_MAXHOPS_DEFAULT;
	c->ping_interval = AGENT_PING_INTERVAL;
	TAILQ_INIT(&c->remotes);
	return c;
}

void
conf_free(struct agent_conf *c)
{
	struct remote_conf *rc;

	if (c == NULL)
		return;
	while ((rc = TAILQ_FIRST(&c->remotes)) != NULL) {
		TAILQ_REMOVE(&c->remotes, rc, entry);
		rc_clear(rc);
		free(rc);
	}
	rc_clear(&c->defaults);
	free(c->avahi_conf);
	free(c);
}

const char *
conf_scope_name(enum agent_scope s)
{
	switch (s) {
	case SCOPE_LAN:
		return "lan";
	case SCOPE_HOST:
		return "host";
	case SCOPE_IFACE:
		return "interface";
	}
	return "?";
}

static int
valid_remote_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > AGENT_REMOTE_NAMELEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("._-@", s[i]) ==
		    NULL)
			return 0;
	return 1;
}

struct remote_conf *
conf_add_remote(struct agent_conf *c, const char *name, char **cause)
{
	struct remote_conf *rc;

	if (!valid_remote_name(name)) {
		cause_set(cause, "bad remote name \"%.64s\" (1-%d characters "
		    "from A-Z a-z 0-9 . _ - @)", name, AGENT_REMOTE_NAMELEN);
		return NULL;
	}
	TAILQ_FOREACH(rc, &c->remotes, entry)
		if (strcmp(rc->name, name) == 0) {
			cause_set(cause, "remote \"%s\" defined twice", name);
			return NULL;
		}
	rc = xcalloc(1, sizeof(*rc));
	strlcpy(rc->name, name, sizeof(rc->name));
	TAILQ_INSERT_TAIL(&c->remotes, rc, entry);
	return rc;
}

int
conf_set_scope(struct remote_conf *rc, const char *scope, const char *ifname,
    char **cause)
{
	if (strcmp(scope, "lan") == 0)
		rc->scope = SCOPE_LAN;
	else if (strcmp(scope, "host") == 0)
		rc->scope = SCOPE_HOST;
	else if (strcmp(scope, "interface") == 0) {
		if (ifname == NULL || *ifname == '\0')
			return cause_set(cause, "scope interface needs an "
			    "interface name");
		if (strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
			return cause_set(cause, "bad interface name \"%.32s\"",
			    ifname);
		rc->scope = SCOPE_IFACE;
		strlcpy(rc->ifname, ifname, sizeof(rc->ifname));
	} else
		return cause_set(cause, "unknown scope \"%.32s\" (expected "
		    "lan, host, interface)", scope);
	if (rc->scope != SCOPE_IFACE && ifname != NULL)
		return cause_set(cause, "scope %s takes no interface", scope);
	rc->set |= RC_SCOPE;
	return 0;
}

int
conf_add_allow(struct remote_conf *rc, const char *s, char **cause)
{
	struct prefix p;

	if (prefix_parse(s, &p, cause) == -1)
		return -1;
	rc->allow = xreallocarray(rc->allow, rc->nallow + 1,
	    sizeof(*rc->allow));
	rc->allow[rc->nallow++] = p;
	rc->set |= RC_ALLOW;
	return 0;
}

int
conf_add_lannet(struct remote_conf *rc, const char *s, char **cause)
{
	struct lannet ln;

	if (lannet_parse(s, &ln, cause) == -1)
		return -1;
	rc->lannets = xreallocarray(rc->lannets, rc->nlannets + 1,
	    sizeof(*rc->lannets));
	rc->lannets[rc->nlannets++] = ln;
	rc->set |= RC_LANNETS;
	return 0;
}

int
conf_set_types(struct remote_conf *rc, char *const *types, size_t n,
    char **cause)
{
	size_t i;

	strv_free(rc->types, rc->ntypes);
	rc->types = NULL;
	rc->ntypes = 0;
	rc->set |= RC_TYPES;
	if (n == 1 && strcmp(types[0], "*") == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!proto_valid_type(types[i]))
			return cause_set(cause, "\"%.64s\" is not a service "
			    "type (expected e.g. _http._tcp, or *)", types[i]);
		strv_add(&rc->types, &rc->ntypes, types[i]);
	}
	return 0;
}

int
conf_set_template(struct remote_conf *rc, const char *tmpl, char **cause)
{
	if (import_template_check(tmpl, cause) == -1)
		return -1;
	free(rc->name_template);
	rc->name_template = xstrdup(tmpl);
	rc->set |= RC_TEMPLATE;
	return 0;
}

int
conf_set_port_policy(struct remote_conf *rc, const char *s, char **cause)
{
	if (strcmp(s, "stable") == 0)
		rc->port_policy = PORT_STABLE;
	else if (strcmp(s, "original") == 0)
		rc->port_policy = PORT_ORIGINAL;
	else
		return cause_set(cause, "unknown port-policy \"%.32s\" "
		    "(expected stable, original)", s);
	rc->set |= RC_PORTPOLICY;
	return 0;
}

static const struct {
	const char		*name;
	enum listener_mode	 mode;
} listener_modes[] = {
	{ "auto", LISTENER_AUTO },
	{ "agent", LISTENER_AGENT },
	{ "master", LISTENER_MASTER }
};

int
conf_set_listener(struct remote_conf *rc, const char *s, char **cause)
{
	size_t i;

	for (i = 0; i < sizeof(listener_modes) / sizeof(listener_modes[0]);
	    i++)
		if (strcmp(s, listener_modes[i].name) == 0) {
			rc->listener = listener_modes[i].mode;
			rc->set |= RC_LISTENER;
			return 0;
		}
	return cause_set(cause, "unknown listener \"%.32s\" (expected auto, "
	    "agent, master)", s);
}

const char *
conf_listener_name(enum listener_mode m)
{
	size_t i;

	for (i = 0; i < sizeof(listener_modes) / sizeof(listener_modes[0]);
	    i++)
		if (listener_modes[i].mode == m)
			return listener_modes[i].name;
	return "?";
}

/*
 * export TYPE [name PATTERN ...]: the type as in "types" (TCP only: the
 * server's listener is TCP), the patterns fnmatch(3)'s on the instance
 * name as this LAN has it. "export none" exports nothing, even what the
 * top level exports.
 */
int
conf_add_export(struct remote_conf *rc, int ac, char *const *av,
    char **cause)
{
	struct export_rule x;
	int i;

	if (ac == 1 && strcmp(av[0], "none") == 0) {
		exports_free(rc->exports, rc->nexports);
		rc->exports = NULL;
		rc->nexports = 0;
		rc->set |= RC_EXPORTS;
		return 0;
	}
	if (!proto_valid_type(av[0]))
		return cause_set(cause, "export: \"%.64s\" is not a service "
		    "type (expected e.g. _http._tcp)", av[0]);
	if (!import_type_carried(av[0]))
		return cause_set(cause, "export %s: %s", av[0],
		    IMPORT_UDP_WHY);
	if (ac == 2 || (ac > 2 && strcmp(av[1], "name") != 0))
		return cause_set(cause, "export %s: expected \"name PATTERN "
		    "...\" after the type, not \"%.32s\"", av[0], av[1]);
	memset(&x, 0, sizeof(x));
	for (i = 2; i < ac; i++) {
		if (av[i][0] == '\0' || strlen(av[i]) > 255) {
			strv_free(x.names, x.nnames);
			return cause_set(cause, "export %s: a name pattern "
			    "must have 1-255 bytes", av[0]);
		}
		strv_add(&x.names, &x.nnames, av[i]);
	}
	x.type = xstrdup(av[0]);
	rc->exports = xreallocarray(rc->exports, rc->nexports + 1,
	    sizeof(*rc->exports));
	rc->exports[rc->nexports++] = x;
	rc->set |= RC_EXPORTS;
	return 0;
}

int
conf_export_match(const struct remote_conf *rc, const char *name,
    const char *type)
{
	const struct export_rule *x;
	size_t i, j;

	for (i = 0; i < rc->nexports; i++) {
		x = &rc->exports[i];
		if (strcasecmp(x->type, type) != 0)
			continue;
		if (x->nnames == 0)
			return 1;
		for (j = 0; j < x->nnames; j++)
			if (fnmatch(x->names[j], name, 0) == 0)
				return 1;
	}
	return 0;
}

int
conf_exports_eq(const struct remote_conf *a, const struct remote_conf *b)
{
	size_t i, j;

	if (a->nexports != b->nexports)
		return 0;
	for (i = 0; i < a->nexports; i++) {
		if (strcmp(a->exports[i].type, b->exports[i].type) != 0 ||
		    a->exports[i].nnames != b->exports[i].nnames)
			return 0;
		for (j = 0; j < a->exports[i].nnames; j++)
			if (strcmp(a->exports[i].names[j],
			    b->exports[i].names[j]) != 0)
				return 0;
	}
	return 1;
}

/*
 * The command ssh runs instead of requesting the subsystem.  The server's
 * shell reads it, so only a plain path is allowed: absolute, or ~/ for
 * the login's home (a subsystem installed with --prefix=$HOME/.local).
 */
int
conf_set_subsystem_command(struct remote_conf *rc, const char *s,
    char **cause)
{
	const char *p;

	if (s[0] != '/' && strncmp(s, "~/", 2) != 0)
		return cause_set(cause, "subsystem-command \"%.64s\" is not "
		    "an absolute path or one starting with ~/", s);
	if (strlen(s) > 255)
		return cause_set(cause, "subsystem-command: a path of more "
		    "than 255 bytes");
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/._+-~", *p) != NULL))
			return cause_set(cause, "subsystem-command \"%.64s\": "
			    "'%c' is not allowed (the server's shell reads "
			    "it: letters, digits and / . _ + - ~ only)", s,
			    *p >= 0x20 && *p < 0x7f ? *p : '?');
	free(rc->subsystem_command);
	rc->subsystem_command = xstrdup(s);
	rc->set |= RC_SUBSYSCMD;
	return 0;
}

/* --- keywords -------------------------------------------------------------- */

#define KW_TOP		CFG_TOP
#define KW_REMOTE	0x2
#define KW_BOTH		(KW_TOP | KW_REMOTE)
#define KW_DNS		0x4	/* in a dns-update block */

/* A keyword of both levels sets the remote, or at the top level the
 * defaults every remote inherits. */
static struct remote_conf *
kw_rc(struct cfg_ctx *ctx)
{
	struct agent_conf *c = ctx->arg;

	return ctx->block != NULL ? ctx->block : &c->defaults;
}

static int
kw_remote(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc;

	if ((rc = conf_add_remote(ctx->arg, av[0], cause)) == NULL)
		return -1;
	rc->file = xstrdup(ctx->file);
	rc->line = ctx->line;
	ctx->block = rc;
	return 0;
}

static int
kw_destination(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc = kw_rc(ctx);
	const unsigned char *p;

	if (av[0][0] == '-' || av[0][0] == '\0')
		return cause_set(cause, "bad destination \"%.64s\"", av[0]);
	for (p = (const unsigned char *)av[0]; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return cause_set(cause, "destination holds a space or "
			    "control character");
	free(rc->destination);
	rc->destination = xstrdup(av[0]);
	return 0;
}

static int
kw_types(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	return conf_set_types(kw_rc(ctx), av, (size_t)ac, cause);
}

static int
kw_export(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	return conf_add_export(kw_rc(ctx), ac, av, cause);
}

static int
kw_scope(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	return conf_set_scope(kw_rc(ctx), av[0], ac > 1 ? av[1] : NULL, cause);
}

static int
kw_allow(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	int i;

	for (i = 0; i < ac; i++)
		if (conf_add_allow(kw_rc(ctx), av[i], cause) == -1)
			return -1;
	return 0;
}

static int
kw_lan_networks(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc = kw_rc(ctx);
	int i;

	if (rc->set & RC_LANNETS)
		return cause_set(cause, "lan-networks given twice (list every "
		    "network on one line)");
	for (i = 0; i < ac; i++)
		if (conf_add_lannet(rc, av[i], cause) == -1)
			return -1;
	return 0;
}

static int
kw_avahi_config(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct agent_conf *c = ctx->arg;

	if (av[0][0] != '/')
		return cause_set(cause, "avahi-config takes an absolute path, "
		    "not \"%.64s\"", av[0]);
	free(c->avahi_conf);
	c->avahi_conf = xstrdup(av[0]);
	return 0;
}

static int
kw_template(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	return conf_set_template(kw_rc(ctx), av[0], cause);
}

static int
kw_port_policy(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	return conf_set_port_policy(kw_rc(ctx), av[0], cause);
}

static int
kw_listener(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	return conf_set_listener(kw_rc(ctx), av[0], cause);
}

/* A number of a remote: kw->off is the field, kw->min..max its range. */
static int
kw_limit(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc = kw_rc(ctx);
	unsigned int *field = (unsigned int *)(void *)((char *)rc + kw->off);

	if (field == &rc->max_relays)
		rc->set |= RC_MAXRELAYS;
	else if (field == &rc->max_services)
		rc->set |= RC_MAXSERVICES;
	else if (field == &rc->max_sessions) {
		rc->set |= RC_MAXSESSIONS;
		if (strcmp(av[0], "learn") == 0) {
			rc->max_sessions = 0;
			return 0;
		}
	}
	return cfg_uint(kw->name, av[0], kw->min, kw->max, field, cause);
}

static int
kw_ssh_option(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc = kw_rc(ctx);
	const char *eq = strchr(av[0], '=');
	size_t keylen;

	if (eq == NULL || eq == av[0] || av[0][0] == '-')
		return cause_set(cause, "ssh-option takes KEY=VALUE, not "
		    "\"%.64s\"", av[0]);
	if (sshm_option_fixed(av[0], &keylen))
		return cause_set(cause, "ssh-option: the agent manages %.*s "
		    "itself", (int)keylen, av[0]);
	strv_add(&rc->ssh_options, &rc->nssh_options, av[0]);
	rc->set |= RC_SSHOPTS;
	return 0;
}

static int
kw_subsystem_command(struct cfg_ctx *ctx, const struct cfg_keyword *kw,
    int ac, char **av, char **cause)
{
	return conf_set_subsystem_command(kw_rc(ctx), av[0], cause);
}

static int
kw_mdns(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc = kw_rc(ctx);

	if (cfg_yesno(kw->name, av[0], &rc->mdns, cause) == -1)
		return -1;
	rc->set |= RC_MDNS;
	return 0;
}

/* "dns-update {": its statements fill the remote's (or the defaults')
 * dnsup_conf; whether it is complete is checked in conf_finish. */
static int
kw_dns_update(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac,
    char **av, char **cause)
{
	struct remote_conf *rc = kw_rc(ctx);

	if (!dnsup_available())
		return cause_set(cause, "dns-update: this rnsplice-agent was "
		    "built without ldns (install libldns-dev and configure "
		    "again to publish into DNS)");
	xasprintf(&rc->dns_where, "%s:%u", ctx->file, ctx->line);
	ctx->block = rc;
	return 0;
}

/* server, zone, key, address: dnsupconf.c reads them */
static int
kw_dns(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int ac, char **av,
    char **cause)
{
	char *words[1 + CONF_MAXARGS];
	int i;

	words[0] = (char *)kw->name;
	for (i = 0; i < ac && i < CONF_MAXARGS; i++)
		words[i + 1] = av[i];
	return dnsup_conf_statement(&kw_rc(ctx)->dnsupdate, words,
	    (size_t)i + 1, cause);
}

#define RC_OFF(f)	offsetof(struct remote_conf, f)
#define AC_OFF(f)	offsetof(struct agent_conf, f)

/* A block keyword is one entry (opens: the context of its block) and a
 * function that sets ctx->block; its own keywords name that context. */
static const struct cfg_keyword keywords[] = {
	{ "remote", KW_TOP, KW_REMOTE, CFG_FN, 0, 1, 1, kw_remote, 0, 0, 0,
	    "NAME" },
	{ "destination", KW_REMOTE, 0, CFG_FN, 0, 1, 1, kw_destination, 0, 0,
	    0, "[user@]host" },
	{ "types", KW_BOTH, 0, CFG_FN, 0, 1, CONF_MAXARGS, kw_types, 0, 0, 0,
	    "_type._tcp ... | *" },
	{ "export", KW_BOTH, 0, CFG_FN, 0, 1, CONF_MAXARGS, kw_export, 0, 0,
	    0, "_type._tcp [name PATTERN ...] | none" },
	{ "scope", KW_BOTH, 0, CFG_FN, 0, 1, 2, kw_scope, 0, 0, 0,
	    "lan | host | interface IFNAME" },
	{ "allow", KW_BOTH, 0, CFG_FN, 0, 1, CONF_MAXARGS, kw_allow, 0, 0, 0,
	    "prefix ..." },
	{ "lan-networks", KW_BOTH, 0, CFG_FN, 0, 1, CONF_MAXARGS,
	    kw_lan_networks, 0, 0, 0, "prefix | interface | any ..." },
	{ "name-template", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_template, 0, 0, 0,
	    "\"%n (%r)\"" },
	{ "port-policy", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_port_policy, 0, 0, 0,
	    "stable | original" },
	{ "listener", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_listener, 0, 0, 0,
	    "auto | agent | master" },
	{ "max-relays", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_limit,
	    RC_OFF(max_relays), 1, AGENT_MAX_RELAYS_LIMIT, "N" },
	{ "max-services", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_limit,
	    RC_OFF(max_services), 1, AGENT_MAX_SERVICES_LIMIT, "N" },
	{ "max-sessions", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_limit,
	    RC_OFF(max_sessions), 1, AGENT_MAX_SESSIONS_LIMIT, "N | learn" },
	{ "ssh-option", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_ssh_option, 0, 0, 0,
	    "Key=Value" },
	{ "subsystem-command", KW_BOTH, 0, CFG_FN, 0, 1, 1,
	    kw_subsystem_command, 0, 0, 0,
	    "/path/to/rnsplice-subsystem | ~/path" },
	{ "allow-root", KW_TOP, 0, CFG_YESNO, 0, 1, 1, NULL,
	    AC_OFF(allow_root), 0, 0, "yes | no" },
	{ "max-hops", KW_TOP, 0, CFG_UINT, 0, 1, 1, NULL, AC_OFF(max_hops), 1,
	    META_MAXPATH - 1, "N" },
	{ "ping-interval", KW_TOP, 0, CFG_UINT, 0, 1, 1, NULL,
	    AC_OFF(ping_interval), 1, 3600, "seconds" },
	{ "ping-timeout", KW_TOP, 0, CFG_UINT, 0, 1, 1, NULL,
	    AC_OFF(ping_timeout), 2, 3 * 3600, "seconds" },
	{ "ping-idle", KW_TOP, 0, CFG_UINT, 0, 1, 1, NULL,
	    AC_OFF(ping_idle), 1, PROTO_MAXIDLE, "seconds" },
	{ "avahi-config", KW_TOP, 0, CFG_FN, 0, 1, 1, kw_avahi_config, 0, 0, 0,
	    "PATH" },
	{ "mdns", KW_BOTH, 0, CFG_FN, 0, 1, 1, kw_mdns, 0, 0, 0, "yes | no" },
	{ "dns-update", KW_BOTH, KW_DNS, CFG_FN, CFG_ONCE, 0, 0, kw_dns_update,
	    0, 0, 0, NULL },
	{ "server", KW_DNS, 0, CFG_FN, 0, 1, 3, kw_dns, 0, 0, 0,
	    "ADDRESS [port N]" },
	{ "zone", KW_DNS, 0, CFG_FN, 0, 1, 1, kw_dns, 0, 0, 0, "NAME" },
	{ "key", KW_DNS, 0, CFG_FN, 0, 1, 1, kw_dns, 0, 0, 0, "FILE" },
	{ "address", KW_DNS, 0, CFG_FN, 0, 1, 1, kw_dns, 0, 0, 0, "ADDRESS" },
};

static const struct cfg_syntax agent_syntax = {
	keywords, sizeof(keywords) / sizeof(keywords[0]), CFG_BLOCKS,
	1 + CONF_MAXARGS
};

int
conf_parse(struct agent_conf *c, const char *file, const char *text,
    size_t len, char **cause)
{
	return cfg_parse(&agent_syntax, file, text, len, c, cause);
}

int
conf_load(struct agent_conf *c, const char *path, char **cause)
{
	char *text;
	size_t len;
	int ret;

	if (cfg_read_file(path, &text, &len, cause) == -1)
		return -1;
	ret = conf_parse(c, path, text, len, cause);
	free(text);
	return ret;
}

/* --- merging ------------------------------------------------------------------ */

static void
inherit(struct remote_conf *rc, const struct remote_conf *d)
{
	char **v = NULL;
	size_t i, n = 0;

	if (!(rc->set & RC_TYPES) && (d->set & RC_TYPES))
		for (i = 0; i < d->ntypes; i++)
			strv_add(&rc->types, &rc->ntypes, d->types[i]);
	if (!(rc->set & RC_EXPORTS))
		for (i = 0; i < d->nexports; i++) {
			rc->exports = xreallocarray(rc->exports,
			    rc->nexports + 1, sizeof(*rc->exports));
			rc->exports[rc->nexports].type =
			    xstrdup(d->exports[i].type);
			rc->exports[rc->nexports].names = NULL;
			rc->exports[rc->nexports].nnames = 0;
			for (n = 0; n < d->exports[i].nnames; n++)
				strv_add(&rc->exports[rc->nexports].names,
				    &rc->exports[rc->nexports].nnames,
				    d->exports[i].names[n]);
			rc->nexports++;
		}
	n = 0;
	if (!(rc->set & RC_SCOPE)) {
		rc->scope = d->scope;
		memcpy(rc->ifname, d->ifname, sizeof(rc->ifname));
	}
	if (!(rc->set & RC_ALLOW) && d->nallow > 0) {
		rc->allow = xreallocarray(NULL, d->nallow, sizeof(*rc->allow));
		memcpy(rc->allow, d->allow, d->nallow * sizeof(*rc->allow));
		rc->nallow = d->nallow;
	}
	if (!(rc->set & RC_LANNETS) && d->nlannets > 0) {
		rc->lannets = xreallocarray(NULL, d->nlannets,
		    sizeof(*rc->lannets));
		memcpy(rc->lannets, d->lannets, d->nlannets *
		    sizeof(*rc->lannets));
		rc->nlannets = d->nlannets;
	}
	if (!(rc->set & RC_TEMPLATE))
		rc->name_template = xstrdup(d->name_template != NULL ?
		    d->name_template : AGENT_NAME_TEMPLATE);
	if (!(rc->set & RC_PORTPOLICY))
		rc->port_policy = d->port_policy;
	if (!(rc->set & RC_LISTENER))
		rc->listener = d->listener;
	if (!(rc->set & RC_MAXRELAYS))
		rc->max_relays = (d->set & RC_MAXRELAYS) ? d->max_relays :
		    AGENT_MAX_RELAYS;
	if (!(rc->set & RC_MAXSESSIONS))
		rc->max_sessions = (d->set & RC_MAXSESSIONS) ?
		    d->max_sessions : 0;
	if (!(rc->set & RC_MDNS))
		rc->mdns = (d->set & RC_MDNS) ? d->mdns : 1;
	if (!(rc->set & RC_SUBSYSCMD) && d->subsystem_command != NULL)
		rc->subsystem_command = xstrdup(d->subsystem_command);
	if (rc->dnsupdate == NULL && d->dnsupdate != NULL &&
	    (rc->dnsupdate = dnsup_conf_dup(d->dnsupdate)) == NULL)
		fatalx("out of memory");
	if (!(rc->set & RC_MAXSERVICES))
		rc->max_services = (d->set & RC_MAXSERVICES) ?
		    d->max_services : AGENT_MAX_SERVICES;
	/* ssh options add up: the top level's come first */
	if (d->nssh_options > 0) {
		for (i = 0; i < d->nssh_options; i++)
			strv_add(&v, &n, d->ssh_options[i]);
		for (i = 0; i < rc->nssh_options; i++)
			strv_add(&v, &n, rc->ssh_options[i]);
		strv_free(rc->ssh_options, rc->nssh_options);
		rc->ssh_options = v;
		rc->nssh_options = n;
	}
}

/* A dns-update block is complete, and its key file readable. */
static int
dns_finish(struct remote_conf *rc, char **cause)
{
	char *why = NULL;

	if (rc->dns_where == NULL)
		return 0;
	if (dnsup_conf_check(rc->dnsupdate, &why) == -1) {
		cause_set(cause, "%s: %s", rc->dns_where,
		    why != NULL ? why : "out of memory");
		free(why);
		return -1;
	}
	return 0;
}

int
conf_finish(struct agent_conf *c, char **cause)
{
	struct remote_conf *rc;

	if (dns_finish(&c->defaults, cause) == -1)
		return -1;
	if (TAILQ_EMPTY(&c->remotes))
		return cause_set(cause, "no remote to splice from (give a "
		    "destination or define a remote block)");
	if (c->ping_timeout == 0)
		c->ping_timeout = c->ping_interval == AGENT_PING_INTERVAL ?
		    AGENT_PING_TIMEOUT : AGENT_PING_MISSES * c->ping_interval;
	else if (c->ping_timeout <= c->ping_interval)
		return cause_set(cause, "ping-timeout %u must be longer than "
		    "ping-interval %u", c->ping_timeout, c->ping_interval);
	/* just short of the third BEAT, whose place its PONG then takes
	 * (PROTOCOL.md section 5) */
	if (c->ping_idle == 0)
		c->ping_idle = AGENT_PING_MISSES * c->ping_interval - 1;
	TAILQ_FOREACH(rc, &c->remotes, entry) {
		if (dns_finish(rc, cause) == -1)
			return -1;
		if (rc->destination == NULL)
			rc->destination = xstrdup(rc->name);
		inherit(rc, &c->defaults);
		if (!rc->mdns && rc->dnsupdate == NULL)
			return cause_set(cause, "remote %s: \"mdns no\" without "
			    "a dns-update block would publish it nowhere",
			    rc->name);
	}
	return 0;
}

/* --- the command line ----------------------------------------------------------- */

/* The remote's name for a destination given on the command line:
 * "alice@gw.example.org" -> "gw.example.org". */
static void
cli_remote_name(const char *dest, char *out, size_t outlen)
{
	const char *p = dest, *at;
	size_t i;

	if (strncmp(p, "ssh://", 6) == 0)
		p += 6;
	if ((at = strrchr(p, '@')) != NULL && at[1] != '\0')
		p = at + 1;
	for (i = 0; i + 1 < outlen && i < AGENT_REMOTE_NAMELEN &&
	    p[i] != '\0'; i++) {
		if (strncmp(dest, "ssh://", 6) == 0 && p[i] == ':')
			break;
		out[i] = (p[i] >= 'a' && p[i] <= 'z') ||
		    (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
		    p[i] == '_' || p[i] == '-' ? p[i] : '-';
	}
	out[i] = '\0';
	if (i == 0)
		strlcpy(out, "remote", outlen);
}

/* One option of the command line: "-s: reason" on error. */
static int
cli_option(int letter, int r, char **why, char **cause)
{
	if (r == -1) {
		cause_set(cause, "-%c: %s", letter, *why);
		free(*why);
		*why = NULL;
	}
	return r;
}

struct agent_conf *
agent_conf_build(const struct agent_opts *o, char **cause)
{
	struct agent_conf *conf;
	struct remote_conf *rc, *cli = NULL;
	char name[64], *why = NULL, *xav[1];
	size_t i;

	*cause = NULL;
	conf = conf_new();
	if (o->file != NULL && conf_load(conf, o->file, cause) == -1)
		goto fail;
	if (o->argc > 0) {
		cli_remote_name(o->argv[0], name, sizeof(name));
		if ((cli = conf_add_remote(conf, name, cause)) == NULL)
			goto fail;
		if (o->argv[0][0] == '-') {
			cause_set(cause, "bad destination \"%s\"", o->argv[0]);
			goto fail;
		}
		cli->destination = xstrdup(o->argv[0]);
		if (o->argc > 1 && conf_set_types(cli, o->argv + 1,
		    (size_t)o->argc - 1, cause) == -1)
			goto fail;
	}
	/* With a destination the options are its own; without, they are
	 * defaults for every remote of the file. */
	rc = cli != NULL ? cli : &conf->defaults;
	if (o->scope != NULL && cli_option('s', conf_set_scope(rc, o->scope,
	    o->ifname, &why), &why, cause) == -1)
		goto fail;
	for (i = 0; i < o->nallow; i++)
		if (cli_option('a', conf_add_allow(rc, o->allow[i], &why), &why,
		    cause) == -1)
			goto fail;
	for (i = 0; i < o->nlannets; i++)
		if (cli_option('L', conf_add_lannet(rc, o->lannets[i], &why),
		    &why, cause) == -1)
			goto fail;
	for (i = 0; i < o->nexports; i++) {
		xav[0] = (char *)o->exports[i];
		if (cli_option('x', conf_add_export(rc, 1, xav, &why), &why,
		    cause) == -1)
			goto fail;
	}
	if (o->tmpl != NULL && cli_option('t', conf_set_template(rc, o->tmpl,
	    &why), &why, cause) == -1)
		goto fail;
	if (o->policy != NULL && cli_option('P', conf_set_port_policy(rc,
	    o->policy, &why), &why, cause) == -1)
		goto fail;
	if (o->subsys_cmd != NULL && cli_option('C',
	    conf_set_subsystem_command(rc, o->subsys_cmd, &why), &why,
	    cause) == -1)
		goto fail;
	if (conf_finish(conf, &why) == -1) {
		cause_set(cause, "%s%s%s", o->file != NULL ? o->file : "",
		    o->file != NULL ? ": " : "", why);
		free(why);
		goto fail;
	}
	return conf;
 fail:
	conf_free(conf);
	return NULL;
}

/* -n -v: the configuration as the agent will run it. */
void
conf_print(const struct agent_conf *c, FILE *f)
{
	const struct remote_conf *rc;
	char pfx[64];
	size_t i, n;

	fprintf(f, "allow-root %s\nmax-hops %u\nping-interval %u\n"
	    "ping-timeout %u\nping-idle %u\navahi-config %s\n",
	    c->allow_root ? "yes" : "no",
	    c->max_hops, c->ping_interval, c->ping_timeout, c->ping_idle,
	    c->avahi_conf != NULL ? c->avahi_conf : AGENT_AVAHI_CONF);
	TAILQ_FOREACH(rc, &c->remotes, entry) {
		fprintf(f, "remote %s {\n\tdestination %s\n\ttypes", rc->name,
		    rc->destination);
		if (rc->ntypes == 0)
			fprintf(f, " *");
		for (i = 0; i < rc->ntypes; i++)
			fprintf(f, " %s", rc->types[i]);
		fprintf(f, "\n\tscope %s%s%s\n", conf_scope_name(rc->scope),
		    rc->scope == SCOPE_IFACE ? " " : "",
		    rc->scope == SCOPE_IFACE ? rc->ifname : "");
		if (rc->nallow > 0) {
			fprintf(f, "\tallow");
			for (i = 0; i < rc->nallow; i++)
				if (prefix_format(&rc->allow[i], pfx,
				    sizeof(pfx)) == 0)
					fprintf(f, " %s", pfx);
			fprintf(f, "\n");
		}
		if (rc->nlannets > 0) {
			fprintf(f, "\tlan-networks");
			for (i = 0; i < rc->nlannets; i++)
				if (lannet_format(&rc->lannets[i], pfx,
				    sizeof(pfx)) == 0)
					fprintf(f, " %s", pfx);
			fprintf(f, "\n");
		}
		fprintf(f, "\tname-template \"%s\"\n\tport-policy %s\n"
		    "\tmax-relays %u\n\tmax-services %u\n", rc->name_template,
		    rc->port_policy == PORT_ORIGINAL ? "original" : "stable",
		    rc->max_relays, rc->max_services);
		fprintf(f, "\tlistener %s\n", conf_listener_name(rc->listener));
		if (rc->max_sessions != 0)
			fprintf(f, "\tmax-sessions %u\n", rc->max_sessions);
		else
			fprintf(f, "\tmax-sessions learn\n");
		if (!rc->mdns)
			fprintf(f, "\tmdns no\n");
		for (i = 0; i < rc->nexports; i++) {
			fprintf(f, "\texport %s", rc->exports[i].type);
			if (rc->exports[i].nnames > 0)
				fprintf(f, " name");
			for (n = 0; n < rc->exports[i].nnames; n++)
				fprintf(f, " \"%s\"", rc->exports[i].names[n]);
			fprintf(f, "\n");
		}
		for (i = 0; i < rc->nssh_options; i++)
			fprintf(f, "\tssh-option %s\n", rc->ssh_options[i]);
		if (rc->subsystem_command != NULL)
			fprintf(f, "\tsubsystem-command %s\n",
			    rc->subsystem_command);
		fprintf(f, "}\n");
	}
}
