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
 * Arguments are words or "double-quoted strings" (\" and \\ escape). One
 * table drives parsing: which keywords exist, where they may appear, how
 * many arguments they take. Every error names FILE:LINE. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dnsupdate.h"
#include "proto.h"

#define CONF_MAXSIZE	(1024 * 1024)
#define CONF_MAXARGS	64

int
cause_set(char **cause, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
	return -1;
}

/* --- remote_conf helpers ------------------------------------------------ */

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int
strv_add(char ***v, size_t *n, const char *s)
{
	char **nv, *d;

	if ((d = strdup(s)) == NULL)
		return -1;
	if ((nv = reallocarray(*v, *n + 1, sizeof(*nv))) == NULL) {
		free(d);
		return -1;
	}
	nv[(*n)++] = d;
	*v = nv;
	return 0;
}

static void
rc_clear(struct remote_conf *rc)
{
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

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
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
	if ((rc = calloc(1, sizeof(*rc))) == NULL) {
		cause_set(cause, "out of memory");
		return NULL;
	}
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
	struct prefix p, *np;

	if (prefix_parse(s, &p, cause) == -1)
		return -1;
	if ((np = reallocarray(rc->allow, rc->nallow + 1, sizeof(*np))) ==
	    NULL)
		return cause_set(cause, "out of memory");
	np[rc->nallow++] = p;
	rc->allow = np;
	rc->set |= RC_ALLOW;
	return 0;
}

int
conf_add_lannet(struct remote_conf *rc, const char *s, char **cause)
{
	struct lannet ln, *nv;

	if (lannet_parse(s, &ln, cause) == -1)
		return -1;
	if ((nv = reallocarray(rc->lannets, rc->nlannets + 1,
	    sizeof(*nv))) == NULL)
		return cause_set(cause, "out of memory");
	nv[rc->nlannets++] = ln;
	rc->lannets = nv;
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
		if (strv_add(&rc->types, &rc->ntypes, types[i]) == -1)
			return cause_set(cause, "out of memory");
	}
	return 0;
}

int
conf_set_template(struct remote_conf *rc, const char *tmpl, char **cause)
{
	if (import_template_check(tmpl, cause) == -1)
		return -1;
	free(rc->name_template);
	if ((rc->name_template = strdup(tmpl)) == NULL)
		return cause_set(cause, "out of memory");
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
	if ((rc->subsystem_command = strdup(s)) == NULL)
		return cause_set(cause, "out of memory");
	rc->set |= RC_SUBSYSCMD;
	return 0;
}

static int
parse_uint(const char *s, unsigned int min, unsigned int max,
    const char *what, unsigned int *out, char **cause)
{
	const char *errstr;
	long long v;

	v = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		return cause_set(cause, "%s \"%.32s\" is %s (%u..%u)", what, s,
		    errstr, min, max);
	*out = (unsigned int)v;
	return 0;
}

static int
parse_yesno(const char *s, const char *what, int *out, char **cause)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return cause_set(cause, "%s takes yes or no, not \"%.32s\"",
		    what, s);
	return 0;
}

/* --- keywords -------------------------------------------------------------- */

#define KW_TOP		0x1
#define KW_REMOTE	0x2
#define KW_BOTH		(KW_TOP | KW_REMOTE)

typedef int (*kw_fn)(struct agent_conf *, struct remote_conf *, char **,
    size_t, char **);

static int
kw_destination(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	const unsigned char *p;

	if (av[0][0] == '-' || av[0][0] == '\0')
		return cause_set(cause, "bad destination \"%.64s\"", av[0]);
	for (p = (const unsigned char *)av[0]; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return cause_set(cause, "destination holds a space or "
			    "control character");
	free(rc->destination);
	if ((rc->destination = strdup(av[0])) == NULL)
		return cause_set(cause, "out of memory");
	return 0;
}

static int
kw_types(struct agent_conf *c, struct remote_conf *rc, char **av, size_t ac,
    char **cause)
{
	return conf_set_types(rc, av, ac, cause);
}

static int
kw_scope(struct agent_conf *c, struct remote_conf *rc, char **av, size_t ac,
    char **cause)
{
	return conf_set_scope(rc, av[0], ac > 1 ? av[1] : NULL, cause);
}

static int
kw_allow(struct agent_conf *c, struct remote_conf *rc, char **av, size_t ac,
    char **cause)
{
	size_t i;

	for (i = 0; i < ac; i++)
		if (conf_add_allow(rc, av[i], cause) == -1)
			return -1;
	return 0;
}

static int
kw_lan_networks(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	size_t i;

	if (rc->set & RC_LANNETS)
		return cause_set(cause, "lan-networks given twice (list every "
		    "network on one line)");
	for (i = 0; i < ac; i++)
		if (conf_add_lannet(rc, av[i], cause) == -1)
			return -1;
	return 0;
}

static int
kw_avahi_config(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	if (av[0][0] != '/')
		return cause_set(cause, "avahi-config takes an absolute path, "
		    "not \"%.64s\"", av[0]);
	free(c->avahi_conf);
	if ((c->avahi_conf = strdup(av[0])) == NULL)
		return cause_set(cause, "out of memory");
	return 0;
}

static int
kw_template(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	return conf_set_template(rc, av[0], cause);
}

static int
kw_port_policy(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	return conf_set_port_policy(rc, av[0], cause);
}

static int
kw_max_relays(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	rc->set |= RC_MAXRELAYS;
	return parse_uint(av[0], 1, AGENT_MAX_RELAYS_LIMIT, "max-relays",
	    &rc->max_relays, cause);
}

static int
kw_max_sessions(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	rc->set |= RC_MAXSESSIONS;
	if (strcmp(av[0], "learn") == 0) {
		rc->max_sessions = 0;
		return 0;
	}
	return parse_uint(av[0], 1, AGENT_MAX_SESSIONS_LIMIT, "max-sessions",
	    &rc->max_sessions, cause);
}

static int
kw_max_services(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	rc->set |= RC_MAXSERVICES;
	return parse_uint(av[0], 1, AGENT_MAX_SERVICES_LIMIT, "max-services",
	    &rc->max_services, cause);
}

static int
kw_ssh_option(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	const char *eq = strchr(av[0], '=');
	size_t keylen;

	if (eq == NULL || eq == av[0] || av[0][0] == '-')
		return cause_set(cause, "ssh-option takes KEY=VALUE, not "
		    "\"%.64s\"", av[0]);
	if (sshm_option_fixed(av[0], &keylen))
		return cause_set(cause, "ssh-option: the agent manages %.*s "
		    "itself", (int)keylen, av[0]);
	if (strv_add(&rc->ssh_options, &rc->nssh_options, av[0]) == -1)
		return cause_set(cause, "out of memory");
	rc->set |= RC_SSHOPTS;
	return 0;
}

static int
kw_subsystem_command(struct agent_conf *c, struct remote_conf *rc,
    char **av, size_t ac, char **cause)
{
	return conf_set_subsystem_command(rc, av[0], cause);
}

static int
kw_allow_root(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	return parse_yesno(av[0], "allow-root", &c->allow_root, cause);
}

static int
kw_max_hops(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	return parse_uint(av[0], 1, META_MAXPATH - 1, "max-hops",
	    &c->max_hops, cause);
}

static int
kw_ping_interval(struct agent_conf *c, struct remote_conf *rc, char **av,
    size_t ac, char **cause)
{
	return parse_uint(av[0], 1, 3600, "ping-interval", &c->ping_interval,
	    cause);
}

static const struct keyword {
	const char	*name;
	int		 where;
	size_t		 minargs, maxargs;
	kw_fn		 fn;
	const char	*usage;
} keywords[] = {
	{ "destination",   KW_REMOTE, 1, 1, kw_destination, "[user@]host" },
	{ "types",	   KW_BOTH, 1, CONF_MAXARGS, kw_types,
	    "_type._tcp ... | *" },
	{ "scope",	   KW_BOTH, 1, 2, kw_scope,
	    "lan | host | interface IFNAME" },
	{ "allow",	   KW_BOTH, 1, CONF_MAXARGS, kw_allow, "prefix ..." },
	{ "lan-networks",  KW_BOTH, 1, CONF_MAXARGS, kw_lan_networks,
	    "prefix | interface | any ..." },
	{ "name-template", KW_BOTH, 1, 1, kw_template, "\"%n (%r)\"" },
	{ "port-policy",   KW_BOTH, 1, 1, kw_port_policy, "stable | original" },
	{ "max-relays",	   KW_BOTH, 1, 1, kw_max_relays, "N" },
	{ "max-services",  KW_BOTH, 1, 1, kw_max_services, "N" },
	{ "max-sessions",  KW_BOTH, 1, 1, kw_max_sessions, "N | learn" },
	{ "ssh-option",	   KW_BOTH, 1, 1, kw_ssh_option, "Key=Value" },
	{ "subsystem-command", KW_BOTH, 1, 1, kw_subsystem_command,
	    "/path/to/rnsplice-subsystem | ~/path" },
	{ "allow-root",	   KW_TOP, 1, 1, kw_allow_root, "yes | no" },
	{ "max-hops",	   KW_TOP, 1, 1, kw_max_hops, "N" },
	{ "ping-interval", KW_TOP, 1, 1, kw_ping_interval, "seconds" },
	{ "avahi-config",  KW_TOP, 1, 1, kw_avahi_config, "PATH" },
};

/* --- the tokenizer ------------------------------------------------------- */

enum tok_kind { T_WORD, T_LBRACE, T_RBRACE, T_END };

struct tok {
	enum tok_kind	 kind;
	char		*s;
	unsigned int	 line;
};

struct toks {
	struct tok	*v;
	size_t		 n;
};

static void
toks_free(struct toks *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].s);
	free(t->v);
}

static int
toks_add(struct toks *t, enum tok_kind kind, const char *s, size_t len,
    unsigned int line)
{
	struct tok *nv;
	char *d = NULL;

	if (s != NULL) {
		if ((d = malloc(len + 1)) == NULL)
			return -1;
		memcpy(d, s, len);
		d[len] = '\0';
	}
	if ((nv = reallocarray(t->v, t->n + 1, sizeof(*nv))) == NULL) {
		free(d);
		return -1;
	}
	t->v = nv;
	t->v[t->n].kind = kind;
	t->v[t->n].s = d;
	t->v[t->n].line = line;
	t->n++;
	return 0;
}

static int
tokenize(const char *file, const char *p, size_t len, struct toks *t,
    char **cause)
{
	const char *end = p + len, *start;
	unsigned int line = 1;
	char *word;
	size_t wl;

	while (p < end) {
		if (*p == '\n') {
			if (toks_add(t, T_END, NULL, 0, line) == -1)
				goto oom;
			line++;
			p++;
		} else if (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		else if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
		} else if (*p == ';') {
			if (toks_add(t, T_END, NULL, 0, line) == -1)
				goto oom;
			p++;
		} else if (*p == '{' || *p == '}') {
			if (toks_add(t, *p == '{' ? T_LBRACE : T_RBRACE, NULL,
			    0, line) == -1)
				goto oom;
			p++;
		} else if (*p == '"') {
			if ((word = malloc((size_t)(end - p))) == NULL)
				goto oom;
			wl = 0;
			for (p++; p < end && *p != '"' && *p != '\n'; p++) {
				if (*p == '\\' && p + 1 < end &&
				    (p[1] == '"' || p[1] == '\\'))
					p++;
				word[wl++] = *p;
			}
			if (p == end || *p != '"') {
				free(word);
				return cause_set(cause, "%s:%u: unterminated "
				    "string", file, line);
			}
			p++;
			if (toks_add(t, T_WORD, word, wl, line) == -1) {
				free(word);
				goto oom;
			}
			free(word);
		} else {
			start = p;
			while (p < end && strchr(" \t\r\n;{}\"#", *p) == NULL) {
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					return cause_set(cause, "%s:%u: control "
					    "character in the file", file,
					    line);
				p++;
			}
			if (toks_add(t, T_WORD, start, (size_t)(p - start),
			    line) == -1)
				goto oom;
		}
	}
	if (toks_add(t, T_END, NULL, 0, line) == -1)
		goto oom;
	return 0;
 oom:
	return cause_set(cause, "%s: out of memory", file);
}

/* --- the parser ------------------------------------------------------------- */

static const struct keyword *
find_keyword(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (strcmp(keywords[i].name, name) == 0)
			return &keywords[i];
	return NULL;
}

static int
statement(struct agent_conf *c, struct remote_conf *rc, const char *file,
    unsigned int line, char **av, size_t ac, char **cause)
{
	const struct keyword *kw;
	char *why = NULL;

	if ((kw = find_keyword(av[0])) == NULL) {
		if (strcmp(av[0], "remote") == 0)
			return cause_set(cause, "%s:%u: expected \"remote NAME "
			    "{\"", file, line);
		return cause_set(cause, "%s:%u: unknown keyword \"%.64s\"",
		    file, line, av[0]);
	}
	if (rc == NULL && !(kw->where & KW_TOP))
		return cause_set(cause, "%s:%u: %s belongs in a remote block",
		    file, line, kw->name);
	if (rc != NULL && !(kw->where & KW_REMOTE))
		return cause_set(cause, "%s:%u: %s belongs at the top level, "
		    "not in a remote block", file, line, kw->name);
	if (ac - 1 < kw->minargs || ac - 1 > kw->maxargs)
		return cause_set(cause, "%s:%u: usage: %s %s", file, line,
		    kw->name, kw->usage);
	if (kw->fn(c, rc != NULL ? rc : &c->defaults, av + 1, ac - 1,
	    &why) == -1) {
		cause_set(cause, "%s:%u: %s", file, line,
		    why != NULL ? why : "out of memory");
		free(why);
		return -1;
	}
	return 0;
}

/* "dns-update {": its statements go to dnsupconf.c. */
static int
conf_dns_open(struct remote_conf *rc, struct dnsup_conf **open,
    struct dnsup_conf ***dns, const char *file, unsigned int line,
    char **cause)
{
	if (open != NULL)
		return cause_set(cause, "%s:%u: blocks do not nest in "
		    "dns-update", file, line);
	if (!dnsup_available())
		return cause_set(cause, "%s:%u: dns-update: this "
		    "rnsplice-agent was built without ldns (install "
		    "libldns-dev and configure again to publish into DNS)",
		    file, line);
	if (rc->dnsupdate != NULL)
		return cause_set(cause, "%s:%u: dns-update given twice in "
		    "the same %s", file, line, rc->name[0] != '\0' ?
		    "remote" : "top level");
	*dns = &rc->dnsupdate;
	return 0;
}

int
conf_parse(struct agent_conf *c, const char *file, const char *text,
    size_t len, char **cause)
{
	struct toks t = { NULL, 0 };
	struct remote_conf *rc = NULL;
	struct dnsup_conf **dns = NULL;	/* inside dns-update { } */
	char *av[CONF_MAXARGS + 2], *why = NULL;
	size_t i = 0, ac;
	unsigned int line, block_line = 0, dns_line = 0;
	int ret = -1;

	if (memchr(text, '\0', len) != NULL) {
		cause_set(cause, "%s: not a text file (NUL byte)", file);
		return -1;
	}
	if (tokenize(file, text, len, &t, cause) == -1)
		goto out;
	while (i < t.n) {
		line = t.v[i].line;
		if (t.v[i].kind == T_END) {
			i++;
			continue;
		}
		if (t.v[i].kind == T_RBRACE && dns != NULL) {
			if (dnsup_conf_check(*dns, &why) == -1) {
				cause_set(cause, "%s:%u: %s", file, dns_line,
				    why != NULL ? why : "out of memory");
				goto out;
			}
			dns = NULL;
			i++;
			continue;
		}
		if (t.v[i].kind == T_RBRACE) {
			if (rc == NULL) {
				cause_set(cause, "%s:%u: \"}\" without a "
				    "remote block", file, line);
				goto out;
			}
			rc = NULL;
			i++;
			continue;
		}
		if (t.v[i].kind == T_LBRACE) {
			cause_set(cause, "%s:%u: unexpected \"{\"", file, line);
			goto out;
		}
		for (ac = 0; i < t.n && t.v[i].kind == T_WORD; i++) {
			if (ac == CONF_MAXARGS + 1) {
				cause_set(cause, "%s:%u: too many arguments",
				    file, line);
				goto out;
			}
			av[ac++] = t.v[i].s;
		}
		if (t.v[i].kind == T_LBRACE && ac == 1 &&
		    strcmp(av[0], "dns-update") == 0) {
			if (conf_dns_open(rc != NULL ? rc : &c->defaults, dns,
			    &dns, file, line, cause) == -1)
				goto out;
			dns_line = line;
			i++;
			continue;
		}
		if (dns != NULL) {
			if (t.v[i].kind == T_LBRACE) {
				cause_set(cause, "%s:%u: blocks do not nest in "
				    "dns-update", file, line);
				goto out;
			}
			if (dnsup_conf_statement(dns, av, ac, &why) == -1) {
				cause_set(cause, "%s:%u: %s", file, line,
				    why != NULL ? why : "out of memory");
				goto out;
			}
			continue;
		}
		if (t.v[i].kind == T_LBRACE) {
			if (ac != 2 || strcmp(av[0], "remote") != 0) {
				cause_set(cause, "%s:%u: only \"remote NAME "
				    "{\" opens a block", file, line);
				goto out;
			}
			if (rc != NULL) {
				cause_set(cause, "%s:%u: remote blocks do not "
				    "nest (block of line %u not closed)", file,
				    line, block_line);
				goto out;
			}
			if ((rc = conf_add_remote(c, av[1], &why)) == NULL) {
				cause_set(cause, "%s:%u: %s", file, line,
				    why != NULL ? why : "out of memory");
				goto out;
			}
			if ((rc->file = strdup(file)) == NULL) {
				cause_set(cause, "out of memory");
				goto out;
			}
			rc->line = block_line = line;
			i++;
			continue;
		}
		if (statement(c, rc, file, line, av, ac, cause) == -1)
			goto out;
		/* a "}" may close the block right after a statement */
	}
	if (dns != NULL) {
		cause_set(cause, "%s:%u: dns-update is not closed with \"}\"",
		    file, dns_line);
		goto out;
	}
	if (rc != NULL) {
		cause_set(cause, "%s:%u: remote \"%s\" is not closed with "
		    "\"}\"", file, block_line, rc->name);
		goto out;
	}
	ret = 0;
 out:
	free(why);
	toks_free(&t);
	return ret;
}

int
conf_load(struct agent_conf *c, const char *path, char **cause)
{
	struct stat sb;
	char *text = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return cause_set(cause, "%s: %s", path, strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > CONF_MAXSIZE) {
		close(fd);
		return cause_set(cause, "%s: not a regular file of at most "
		    "%d bytes", path, CONF_MAXSIZE);
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return cause_set(cause, "%s: out of memory", path);
	}
	while (len < (size_t)sb.st_size) {
		n = read(fd, text + len, (size_t)sb.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	ret = conf_parse(c, path, text, len, cause);
	free(text);
	return ret;
}

/* --- merging ------------------------------------------------------------------ */

static int
inherit(struct remote_conf *rc, const struct remote_conf *d)
{
	size_t i;

	if (!(rc->set & RC_TYPES) && (d->set & RC_TYPES))
		for (i = 0; i < d->ntypes; i++)
			if (strv_add(&rc->types, &rc->ntypes, d->types[i]) == -1)
				return -1;
	if (!(rc->set & RC_SCOPE)) {
		rc->scope = d->scope;
		memcpy(rc->ifname, d->ifname, sizeof(rc->ifname));
	}
	if (!(rc->set & RC_ALLOW) && d->nallow > 0) {
		if ((rc->allow = reallocarray(NULL, d->nallow,
		    sizeof(*rc->allow))) == NULL)
			return -1;
		memcpy(rc->allow, d->allow, d->nallow * sizeof(*rc->allow));
		rc->nallow = d->nallow;
	}
	if (!(rc->set & RC_LANNETS) && d->nlannets > 0) {
		if ((rc->lannets = reallocarray(NULL, d->nlannets,
		    sizeof(*rc->lannets))) == NULL)
			return -1;
		memcpy(rc->lannets, d->lannets, d->nlannets *
		    sizeof(*rc->lannets));
		rc->nlannets = d->nlannets;
	}
	if (!(rc->set & RC_TEMPLATE))
		rc->name_template = strdup(d->name_template != NULL ?
		    d->name_template : AGENT_NAME_TEMPLATE);
	if (rc->name_template == NULL)
		return -1;
	if (!(rc->set & RC_PORTPOLICY))
		rc->port_policy = d->port_policy;
	if (!(rc->set & RC_MAXRELAYS))
		rc->max_relays = (d->set & RC_MAXRELAYS) ? d->max_relays :
		    AGENT_MAX_RELAYS;
	if (!(rc->set & RC_MAXSESSIONS))
		rc->max_sessions = (d->set & RC_MAXSESSIONS) ?
		    d->max_sessions : 0;
	if (!(rc->set & RC_SUBSYSCMD) && d->subsystem_command != NULL &&
	    (rc->subsystem_command = strdup(d->subsystem_command)) == NULL)
		return -1;
	if (rc->dnsupdate == NULL && d->dnsupdate != NULL &&
	    (rc->dnsupdate = dnsup_conf_dup(d->dnsupdate)) == NULL)
		return -1;
	if (!(rc->set & RC_MAXSERVICES))
		rc->max_services = (d->set & RC_MAXSERVICES) ?
		    d->max_services : AGENT_MAX_SERVICES;
	/* ssh options add up: the top level's come first */
	if (d->nssh_options > 0) {
		char **v = NULL;
		size_t n = 0;

		for (i = 0; i < d->nssh_options; i++)
			if (strv_add(&v, &n, d->ssh_options[i]) == -1)
				goto fail;
		for (i = 0; i < rc->nssh_options; i++)
			if (strv_add(&v, &n, rc->ssh_options[i]) == -1)
				goto fail;
		strv_free(rc->ssh_options, rc->nssh_options);
		rc->ssh_options = v;
		rc->nssh_options = n;
		return 0;
 fail:
		strv_free(v, n);
		return -1;
	}
	return 0;
}

int
conf_finish(struct agent_conf *c, char **cause)
{
	struct remote_conf *rc;

	if (TAILQ_EMPTY(&c->remotes))
		return cause_set(cause, "no remote to splice from (give a "
		    "destination or define a remote block)");
	TAILQ_FOREACH(rc, &c->remotes, entry) {
		if (rc->destination == NULL &&
		    (rc->destination = strdup(rc->name)) == NULL)
			return cause_set(cause, "out of memory");
		if (inherit(rc, &c->defaults) == -1)
			return cause_set(cause, "out of memory");
	}
	return 0;
}
