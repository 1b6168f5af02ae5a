/* subsystem.conf: what this server offers (rnsplice-subsystem.conf(5)).
 *
 * One directive per line, '#' starts a comment (the reader is common/
 * cfg.c). Rules ("allow" or "deny" and one or more criteria, all of which
 * must match) are checked in file order and the first that matches
 * decides. A service no rule matches is hidden if the file has any allow
 * rule, offered otherwise. The export rules ("accept", "reject") work the
 * same way on what agents offer, except that no match refuses. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "subsystem.h"
#include "xmalloc.h"

#define MAXWORDS	16
/* type, name, interface, max and POLICY_MAXFROM "from": word pairs */
#define ACCEPT_MAXWORDS	(2 * (4 + POLICY_MAXFROM))

static int kw_rule(struct cfg_ctx *, const struct cfg_keyword *, int,
    char **, char **);
static int kw_export_rule(struct cfg_ctx *, const struct cfg_keyword *, int,
    char **, char **);

#define P_OFF(f)	offsetof(struct policy, f)

static const struct cfg_keyword keywords[] = {
	{ "allow", CFG_TOP, 0, CFG_FN, 0, 0, MAXWORDS, kw_rule, 0, 0, 0,
	    "all | criterion ..." },
	{ "deny", CFG_TOP, 0, CFG_FN, 0, 0, MAXWORDS, kw_rule, 0, 0, 0,
	    "all | criterion ..." },
	{ "relay", CFG_TOP, 0, CFG_YESNO, CFG_ONCE, 1, 1, NULL, P_OFF(relay),
	    0, 0, "yes | no" },
	{ "max-services", CFG_TOP, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    P_OFF(max_services), 1, 65536, "N" },
	{ "max-line", CFG_TOP, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    P_OFF(max_line), PROTO_MINLINE, PROTO_MAXLINE, "N" },
	{ "max-relays", CFG_TOP, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    P_OFF(max_relays), 1, 4096, "N" },
	{ "max-hops", CFG_TOP, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    P_OFF(max_hops), 1, 32, "N" },
	{ "keepalive", CFG_TOP, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    P_OFF(keepalive), 0, 3600, "seconds" },
	{ "accept", CFG_TOP, 0, CFG_FN, 0, 0, ACCEPT_MAXWORDS, kw_export_rule,
	    0, 0, 0, "[all] [type T] [name PATTERN] [interface IF|lo] "
	    "[from PREFIX]... [max N]" },
	{ "reject", CFG_TOP, 0, CFG_FN, 0, 0, MAXWORDS, kw_export_rule, 0, 0,
	    0, "[all] [type T] [name PATTERN]" },
	{ "max-exports", CFG_TOP, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    P_OFF(max_exports), 1, POLICY_MAXRULES, "N" },
};

static const struct cfg_syntax policy_syntax = {
	keywords, sizeof(keywords) / sizeof(keywords[0]), 0, 1 + ACCEPT_MAXWORDS
};

struct policy *
policy_default(void)
{
	struct policy *p;

	p = xcalloc(1, sizeof(*p));
	p->file = xstrdup("(built-in)");
	p->relay = 1;
	p->max_services = POLICY_DEF_MAX_SERVICES;
	p->max_line = PROTO_MAXLINE;
	p->max_relays = POLICY_DEF_MAX_RELAYS;
	p->max_hops = PROTO_MAXHOPS_DEFAULT;
	p->keepalive = POLICY_DEF_KEEPALIVE;
	p->max_exports = POLICY_DEF_MAX_EXPORTS;
	return p;
}

void
policy_free(struct policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nrules; i++) {
		free(p->rules[i].type);
		free(p->rules[i].name);
	}
	free(p->rules);
	for (i = 0; i < p->nxrules; i++) {
		free(p->xrules[i].type);
		free(p->xrules[i].name);
		free(p->xrules[i].iface);
	}
	free(p->xrules);
	free(p->file);
	free(p->path);
	free(p);
}

static int
has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* One criterion of a rule: what is "type", "name" or "address". */
static int
rule_criterion(struct policy_rule *r, const char *what, const char *arg,
    char **cause)
{
	char *why = NULL;

	if ((what[0] == 't' && r->type != NULL) ||
	    (what[0] == 'n' && r->name != NULL) ||
	    (what[0] == 'a' && r->has_prefix))
		return cause_set(cause, "%s given twice in one rule", what);
	if (arg[0] == '\0')
		return cause_set(cause, "empty %s pattern", what);
	if (strlen(arg) > 255)
		return cause_set(cause, "%s pattern longer than 255 bytes",
		    what);
	switch (what[0]) {
	case 't':
		if (!has_wildcard(arg) && !proto_valid_type(arg))
			return cause_set(cause, "type \"%s\" is not a service "
			    "type (_name._tcp or _name._udp)", arg);
		r->type = xstrdup(arg);
		break;
	case 'n':
		r->name = xstrdup(arg);
		break;
	default:
		if (prefix_parse(arg, &r->prefix, &why) == -1) {
			cause_set(cause, "address %s", why);
			free(why);
			return -1;
		}
		r->has_prefix = 1;
		break;
	}
	return 0;
}

/*
 * The criteria of a rule: "all" alone, or pairs of a criterion word from
 * the list and its argument, each handed to fn. expect names the list in
 * messages ("all, type, name or address").
 */
typedef int (*criterion_fn)(void *, const char *what, const char *arg,
    char **cause);

static int
rule_words(int argc, char **argv, const char *const *words,
    const char *expect, criterion_fn fn, void *arg, char **cause)
{
	const char *c;
	int i;
	size_t k;

	for (i = 0; i < argc; i++) {
		c = argv[i];
		if (strcmp(c, "all") == 0) {
			if (argc != 1)
				return cause_set(cause, "\"all\" cannot be "
				    "combined with other criteria");
			continue;
		}
		for (k = 0; words[k] != NULL; k++)
			if (strcmp(c, words[k]) == 0)
				break;
		if (words[k] == NULL)
			return cause_set(cause, "unknown criterion \"%s\" "
			    "(expected %s)", c, expect);
		if (i + 1 >= argc)
			return cause_set(cause, "%s needs %s", c,
			    strcmp(c, "address") == 0 ||
			    strcmp(c, "from") == 0 ? "a prefix" :
			    strcmp(c, "interface") == 0 ? "an interface name" :
			    strcmp(c, "max") == 0 ? "a number" : "a pattern");
		if (fn(arg, c, argv[++i], cause) == -1)
			return -1;
	}
	return 0;
}

static int
allow_criterion(void *arg, const char *what, const char *value,
    char **cause)
{
	return rule_criterion(arg, what, value, cause);
}

/* allow|deny all | { type PATTERN | name PATTERN | address PREFIX }... */
static int
kw_rule(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int argc,
    char **argv, char **cause)
{
	static const char *const words[] = { "type", "name", "address", NULL };
	struct policy *p = ctx->arg;
	struct policy_rule r;

	memset(&r, 0, sizeof(r));
	r.allow = strcmp(kw->name, "allow") == 0;
	r.line = ctx->line;
	if (argc == 0)
		return cause_set(cause, "%s needs a criterion: all, type, name "
		    "or address", kw->name);
	if (p->nrules >= POLICY_MAXRULES)
		return cause_set(cause, "more than %d rules", POLICY_MAXRULES);
	if (rule_words(argc, argv, words, "all, type, name or address",
	    allow_criterion, &r, cause) == -1) {
		free(r.type);
		free(r.name);
		return -1;
	}
	p->rules = xreallocarray(p->rules, p->nrules + 1, sizeof(*p->rules));
	p->rules[p->nrules++] = r;
	if (r.allow)
		p->any_allow = 1;
	return 0;
}

/* An interface name as the kernel takes it (IF_NAMESIZE, no blanks or
 * slashes): a typo is reported here, a missing interface when an export
 * is made. */
static int
valid_ifname(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len >= IF_NAMESIZE)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '/')
			return 0;
	return 1;
}

struct export_parse {
	struct export_rule	 r;
	struct policy_rule	 pr;	/* type and name, read as allow's */
};

static int
export_criterion(void *arg, const char *what, const char *value,
    char **cause)
{
	struct export_parse *x = arg;

	if (strcmp(what, "interface") == 0) {
		if (x->r.iface != NULL)
			return cause_set(cause, "interface given twice in one "
			    "rule");
		if (!valid_ifname(value))
			return cause_set(cause, "interface \"%s\" is not an "
			    "interface name", value);
		x->r.iface = xstrdup(value);
		return 0;
	}
	if (strcmp(what, "from") == 0) {
		if (x->r.nfrom >= POLICY_MAXFROM)
			return cause_set(cause, "more than %d \"from\" "
			    "prefixes in one rule", POLICY_MAXFROM);
		if (prefix_parse(value, &x->r.from[x->r.nfrom], cause) == -1)
			return -1;
		x->r.nfrom++;
		return 0;
	}
	if (strcmp(what, "max") == 0) {
		if (x->r.max != 0)
			return cause_set(cause, "max given twice in one rule");
		return cfg_uint("max", value, 1, POLICY_MAXRULES, &x->r.max,
		    cause);
	}
	if (rule_criterion(&x->pr, what, value, cause) == -1)
		return -1;
	/* a valid type is at least 7 bytes long */
	if (what[0] == 't' && !has_wildcard(value) &&
	    strcmp(value + strlen(value) - 5, "._udp") == 0)
		return cause_set(cause, "type \"%s\": %s", value,
		    BROWSE_UDP_WHY);
	return 0;
}

/*
 * accept [all] [type T] [name PATTERN] [interface IF|lo] [from PREFIX]...
 *     [max N]
 * reject [all] [type T] [name PATTERN]
 */
static int
kw_export_rule(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int argc,
    char **argv, char **cause)
{
	static const char *const accept_words[] = { "type", "name",
	    "interface", "from", "max", NULL };
	static const char *const reject_words[] = { "type", "name", NULL };
	struct policy *p = ctx->arg;
	struct export_parse x;
	int accept = strcmp(kw->name, "accept") == 0;

	memset(&x, 0, sizeof(x));
	x.r.accept = accept;
	x.r.line = ctx->line;
	if (p->nxrules >= POLICY_MAXRULES)
		return cause_set(cause, "more than %d accept and reject rules",
		    POLICY_MAXRULES);
	if (rule_words(argc, argv, accept ? accept_words : reject_words,
	    accept ? "all, type, name, interface, from or max" :
	    "all, type or name",
	    export_criterion, &x, cause) == -1) {
		free(x.pr.type);
		free(x.pr.name);
		free(x.r.iface);
		return -1;
	}
	x.r.type = x.pr.type;
	x.r.name = x.pr.name;
	p->xrules = xreallocarray(p->xrules, p->nxrules + 1,
	    sizeof(*p->xrules));
	p->xrules[p->nxrules++] = x.r;
	if (accept)
		p->any_accept = 1;
	return 0;
}

const struct export_rule *
policy_export_match(const struct policy *p, const char *name,
    const char *type)
{
	const struct export_rule *r;
	size_t i;

	for (i = 0; i < p->nxrules; i++) {
		r = &p->xrules[i];
		if (r->type != NULL && fnmatch(r->type, type,
		    FNM_CASEFOLD) != 0)
			continue;
		if (r->name != NULL && fnmatch(r->name, name, 0) != 0)
			continue;
		return r;
	}
	return NULL;
}

struct policy *
policy_parse(const char *what, const char *text, size_t len, char **cause)
{
	struct policy *p;

	*cause = NULL;
	p = policy_default();
	free(p->file);
	p->file = xstrdup(what);
	p->path = xstrdup(what);
	if (cfg_parse(&policy_syntax, what, text, len, p, cause) == -1) {
		policy_free(p);
		return NULL;
	}
	return p;
}

struct policy *
policy_load(const char *path, int missing_ok, char **cause)
{
	struct policy *p;
	char *text;
	size_t len;

	*cause = NULL;
	if (cfg_read_file(path, &text, &len, cause) == -1) {
		if (errno == ENOENT && missing_ok) {
			free(*cause);
			*cause = NULL;
			p = policy_default();
			p->path = xstrdup(path);
			return p;
		}
		return NULL;
	}
	p = policy_parse(path, text, len, cause);
	free(text);
	return p;
}

#define M_NO		0
#define M_YES		1
#define M_UNKNOWN	2

static int
rule_matches(const struct policy_rule *r, const char *name, const char *type,
    const char *addr)
{
	int unknown = 0;

	if (r->type != NULL && fnmatch(r->type, type, FNM_CASEFOLD) != 0)
		return M_NO;
	if (r->name != NULL) {
		if (name == NULL)
			unknown = 1;
		else if (fnmatch(r->name, name, 0) != 0)
			return M_NO;
	}
	if (r->has_prefix) {
		if (addr == NULL)
			unknown = 1;
		else if (!prefix_match_text(&r->prefix, addr))
			return M_NO;
	}
	return unknown ? M_UNKNOWN : M_YES;
}

/* First match wins. With unknowns (name or address not given), collect
 * every outcome still possible: one outcome is an answer, two is MAYBE. */
int
policy_match(const struct policy *p, const char *name, const char *type,
    const char *addr, const struct policy_rule **rule)
{
	const struct policy_rule *r, *decided = NULL;
	int possible = 0, m;	/* bit 0: deny, bit 1: allow */
	size_t i;

	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if ((m = rule_matches(r, name, type, addr)) == M_NO)
			continue;
		possible |= 1 << r->allow;
		if (m == M_YES) {
			decided = r;
			break;
		}
	}
	if (decided == NULL)
		possible |= 1 << (p->any_allow ? 0 : 1);
	if (rule != NULL)
		*rule = possible == 3 ? NULL : decided;
	if (possible == 3)
		return POLICY_MAYBE;
	return possible == 2 ? POLICY_ALLOW : POLICY_DENY;
}

/* ------------------------------------------------------------------------
 * Relay targets. A relay session connects from the server host itself, so
 * an address that names the host (loopback, unspecified) or no host at all
 * (multicast, broadcast) is refused, whatever a device announced, unless a
 * rule names that range on purpose. */

static const struct special {
	int		 af;
	const char	*prefix;
	const char	*what;
} specials[] = {
	{ AF_INET,  "0.0.0.0/8",		"unspecified" },
	{ AF_INET,  "127.0.0.0/8",		"loopback" },
	{ AF_INET,  "224.0.0.0/4",		"multicast" },
	{ AF_INET,  "255.255.255.255/32",	"broadcast" },
	{ AF_INET6, "::/128",			"unspecified" },
	{ AF_INET6, "::1/128",			"loopback" },
	{ AF_INET6, "ff00::/8",			"multicast" },
};

int
policy_addr_unmap(const char *addr, char *out, size_t outlen)
{
	char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct in6_addr a6;

	if (strlcpy(tmp, addr, sizeof(tmp)) >= sizeof(tmp) ||
	    strchr(tmp, '%') != NULL || inet_pton(AF_INET6, tmp, &a6) != 1 ||
	    !IN6_IS_ADDR_V4MAPPED(&a6)) {
		if (strlcpy(out, addr, outlen) >= outlen)
			return -1;
		return 0;
	}
	if (inet_ntop(AF_INET, a6.s6_addr + 12, out, (socklen_t)outlen) ==
	    NULL)
		return -1;
	return 1;
}

const char *
policy_addr_special(const char *addr, struct prefix *block)
{
	char plain[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct prefix pf;
	char *cause = NULL;
	size_t i;

	if (policy_addr_unmap(addr, plain, sizeof(plain)) == -1)
		return "unusable";
	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		if (prefix_parse(specials[i].prefix, &pf, &cause) == -1) {
			free(cause);	/* cannot happen: the table is ours */
			return "unusable";
		}
		if (prefix_match_text(&pf, plain)) {
			if (block != NULL)
				*block = pf;
			return specials[i].what;
		}
	}
	return NULL;
}

int
policy_relay_target(const struct policy *p, const char *name,
    const char *type, const char *addr, char **cause)
{
	const struct policy_rule *rule = NULL;
	struct prefix block;
	const char *what;

	*cause = NULL;
	if ((what = policy_addr_special(addr, &block)) == NULL)
		return 0;
	if (strcmp(what, "unusable") != 0 &&
	    policy_match(p, name, type, addr, &rule) == POLICY_ALLOW &&
	    rule != NULL && rule->has_prefix &&
	    prefix_contains(&block, &rule->prefix))
		return 0;	/* an explicit allow rule for this range */
	return cause_set(cause, "address %s is %s %s address: relay sessions "
	    "do not connect there unless an \"allow ... address\" rule names "
	    "it", addr, what[0] == 'u' ? "an" : "a", what);
}
