/* subsystem.conf: what this server offers (rnsplice-subsystem.conf(5)).
 *
 * One directive per line, '#' starts a comment. Rules ("allow" or "deny"
 * and one or more criteria, all of which must match) are checked in file
 * order and the first that matches decides. A service no rule matches is
 * hidden if the file has any allow rule, offered otherwise. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "proto.h"
#include "subsystem.h"

#define MAXWORDS	16

struct pstate {
	const char	*what;		/* file name for messages */
	unsigned int	 line;
	struct policy	*p;
	unsigned int	*seen;		/* line of each setting, 0: unset */
	char		**cause;
};

struct keyword;
typedef int (*kw_fn)(struct pstate *, const struct keyword *, char **, int);

static int kw_rule(struct pstate *, const struct keyword *, char **, int);
static int kw_yesno(struct pstate *, const struct keyword *, char **, int);
static int kw_number(struct pstate *, const struct keyword *, char **, int);

static const struct keyword {
	const char	*name;
	kw_fn		 parse;
	size_t		 off;		/* settings: the field they set */
	long long	 min, max;
} keywords[] = {
	{ "allow",	  kw_rule,   0, 0, 0 },
	{ "deny",	  kw_rule,   0, 0, 0 },
	{ "relay",	  kw_yesno,  offsetof(struct policy, relay), 0, 1 },
	{ "max-services", kw_number, offsetof(struct policy, max_services),
	    1, 65536 },
	{ "max-line",	  kw_number, offsetof(struct policy, max_line),
	    PROTO_MINLINE, PROTO_MAXLINE },
	{ "max-relays",	  kw_number, offsetof(struct policy, max_relays),
	    1, 4096 },
	{ "max-hops",	  kw_number, offsetof(struct policy, max_hops),
	    1, 32 },
	{ "keepalive",	  kw_number, offsetof(struct policy, keepalive),
	    0, 3600 },
};
#define NKEYWORDS (sizeof(keywords) / sizeof(keywords[0]))

static int
perr(struct pstate *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct pstate *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(ps->cause, "%s:%u: %s", ps->what, ps->line, msg) == -1)
		*ps->cause = NULL;
	return -1;
}

struct policy *
policy_default(void)
{
	struct policy *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->file = strdup("(built-in)")) == NULL) {
		free(p);
		return NULL;
	}
	p->relay = 1;
	p->max_services = POLICY_DEF_MAX_SERVICES;
	p->max_line = PROTO_MAXLINE;
	p->max_relays = POLICY_DEF_MAX_RELAYS;
	p->max_hops = PROTO_MAXHOPS_DEFAULT;
	p->keepalive = POLICY_DEF_KEEPALIVE;
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
	free(p->file);
	free(p);
}

int
policy_parse_prefix(const char *s, struct policy_prefix *pf, char **cause)
{
	char tmp[INET6_ADDRSTRLEN + 8], *slash;
	const char *errstr;
	unsigned int max, i, bits;

	memset(pf, 0, sizeof(*pf));
	if (strlcpy(tmp, s, sizeof(tmp)) >= sizeof(tmp))
		goto bad;
	if ((slash = strchr(tmp, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, tmp, pf->addr) == 1) {
		pf->af = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, pf->addr) == 1) {
		pf->af = AF_INET6;
		max = 128;
	} else
		goto bad;
	pf->len = max;
	if (slash != NULL) {
		pf->len = (unsigned int)strtonum(slash, 0, max, &errstr);
		if (errstr != NULL || *slash == '\0') {
			if (asprintf(cause, "address %s: prefix length must "
			    "be 0..%u", s, max) == -1)
				*cause = NULL;
			return -1;
		}
	}
	for (i = 0; i < max / 8; i++) {
		/* prefix bits in this byte: 0..8; the rest must be zero */
		bits = pf->len <= i * 8 ? 0 : pf->len - i * 8 >= 8 ? 8 :
		    pf->len - i * 8;
		if (bits < 8 && (pf->addr[i] & (0xffu >> bits)) != 0) {
			if (asprintf(cause, "address %s: bits set beyond the "
			    "prefix length", s) == -1)
				*cause = NULL;
			return -1;
		}
	}
	return 0;
 bad:
	if (asprintf(cause, "address \"%s\" is not an IPv4 or IPv6 address "
	    "or prefix (e.g. 10.1.0.0/24, fe80::/10)", s) == -1)
		*cause = NULL;
	return -1;
}

int
policy_prefix_match(const struct policy_prefix *pf, const char *addr)
{
	char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], *zone;
	unsigned char a[16];
	unsigned int full, rest;

	if (strlcpy(tmp, addr, sizeof(tmp)) >= sizeof(tmp))
		return 0;
	if ((zone = strchr(tmp, '%')) != NULL)
		*zone = '\0';
	if (inet_pton(pf->af, tmp, a) != 1) {
		/* ::ffff:a.b.c.d is the IPv4 address a.b.c.d */
		if (pf->af != AF_INET || inet_pton(AF_INET6, tmp, a) != 1 ||
		    !IN6_IS_ADDR_V4MAPPED((struct in6_addr *)(void *)a))
			return 0;
		memmove(a, a + 12, 4);
	}
	full = pf->len / 8;
	rest = pf->len % 8;
	if (memcmp(a, pf->addr, full) != 0)
		return 0;
	if (rest != 0 && ((a[full] ^ pf->addr[full]) &
	    (unsigned char)(0xff << (8 - rest))) != 0)
		return 0;
	return 1;
}

static int
has_wildcard(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* allow|deny all | { type PATTERN | name PATTERN | address PREFIX }... */
static int
kw_rule(struct pstate *ps, const struct keyword *kw, char **argv, int argc)
{
	struct policy_rule r, *n;
	char *cause = NULL;
	int i;

	memset(&r, 0, sizeof(r));
	r.allow = strcmp(kw->name, "allow") == 0;
	r.line = ps->line;
	if (argc < 2)
		return perr(ps, "%s needs a criterion: all, type, name or "
		    "address", kw->name);
	if (ps->p->nrules >= POLICY_MAXRULES)
		return perr(ps, "more than %d rules", POLICY_MAXRULES);
	for (i = 1; i < argc; i++) {
		const char *c = argv[i];

		if (strcmp(c, "all") == 0) {
			if (argc != 2)
				goto alone;
			continue;
		}
		if (strcmp(c, "type") != 0 && strcmp(c, "name") != 0 &&
		    strcmp(c, "address") != 0) {
			perr(ps, "unknown criterion \"%s\" (expected all, "
			    "type, name or address)", c);
			goto fail;
		}
		if (i + 1 >= argc) {
			perr(ps, "%s needs a %s", c, strcmp(c, "address") == 0 ?
			    "prefix" : "pattern");
			goto fail;
		}
		if ((c[0] == 't' && r.type != NULL) ||
		    (c[0] == 'n' && r.name != NULL) ||
		    (c[0] == 'a' && r.has_prefix)) {
			perr(ps, "%s given twice in one rule", c);
			goto fail;
		}
		i++;
		if (argv[i][0] == '\0') {
			perr(ps, "empty %s pattern", c);
			goto fail;
		}
		if (strlen(argv[i]) > 255) {
			perr(ps, "%s pattern longer than 255 bytes", c);
			goto fail;
		}
		if (c[0] == 't') {
			if (!has_wildcard(argv[i]) &&
			    !proto_valid_type(argv[i])) {
				perr(ps, "type \"%s\" is not a service type "
				    "(_name._tcp or _name._udp)", argv[i]);
				goto fail;
			}
			if ((r.type = strdup(argv[i])) == NULL)
				goto nomem;
		} else if (c[0] == 'n') {
			if ((r.name = strdup(argv[i])) == NULL)
				goto nomem;
		} else {
			if (policy_parse_prefix(argv[i], &r.prefix,
			    &cause) == -1) {
				perr(ps, "%s", cause ? cause : "bad address");
				free(cause);
				goto fail;
			}
			r.has_prefix = 1;
		}
	}
	n = reallocarray(ps->p->rules, ps->p->nrules + 1, sizeof(*n));
	if (n == NULL)
		goto nomem;
	ps->p->rules = n;
	ps->p->rules[ps->p->nrules++] = r;
	if (r.allow)
		ps->p->any_allow = 1;
	return 0;
 alone:
	perr(ps, "\"all\" cannot be combined with other criteria");
	goto fail;
 nomem:
	perr(ps, "out of memory");
 fail:
	free(r.type);
	free(r.name);
	return -1;
}

static int
kw_yesno(struct pstate *ps, const struct keyword *kw, char **argv, int argc)
{
	int v;

	if (argc != 2)
		return perr(ps, "%s takes one argument: yes or no", kw->name);
	if (strcmp(argv[1], "yes") == 0)
		v = 1;
	else if (strcmp(argv[1], "no") == 0)
		v = 0;
	else
		return perr(ps, "%s: \"%s\" is not yes or no", kw->name,
		    argv[1]);
	*(int *)(void *)((char *)ps->p + kw->off) = v;
	return 0;
}

static int
kw_number(struct pstate *ps, const struct keyword *kw, char **argv, int argc)
{
	const char *errstr;
	long long v;

	if (argc != 2)
		return perr(ps, "%s takes one number", kw->name);
	v = strtonum(argv[1], kw->min, kw->max, &errstr);
	if (errstr != NULL)
		return perr(ps, "%s: \"%s\" is %s (%lld..%lld)", kw->name,
		    argv[1], errno == ERANGE ? "out of range" : "not a number",
		    kw->min, kw->max);
	*(unsigned int *)(void *)((char *)ps->p + kw->off) = (unsigned int)v;
	return 0;
}

/* Split a line into words, in place. Double quotes group a word; inside
 * them \" is a quote and \\ a backslash, every other byte is itself. */
static int
split(struct pstate *ps, char *p, char **argv, int *argc)
{
	char *out, *start;

	*argc = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			return 0;
		if (*argc == MAXWORDS)
			return perr(ps, "more than %d words", MAXWORDS);
		if (*p == '"') {
			start = out = ++p;
			while (*p != '\0' && *p != '"') {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*out++ = *p++;
			}
			if (*p != '"')
				return perr(ps, "unterminated quote");
			p++;
			if (*p != '\0' && *p != ' ' && *p != '\t')
				return perr(ps, "text after a closing quote");
			*out = '\0';
		} else {
			start = p;
			while (*p != '\0' && *p != ' ' && *p != '\t') {
				if (*p == '"')
					return perr(ps, "quote inside a word "
					    "(quote the whole word)");
				p++;
			}
			if (*p != '\0')
				*p++ = '\0';
		}
		argv[(*argc)++] = start;
	}
}

static int
parse_line(struct pstate *ps, char *line, size_t len)
{
	char *argv[MAXWORDS];
	const struct keyword *kw = NULL;
	size_t i;
	int argc;

	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	if (len > POLICY_MAXLINE)
		return perr(ps, "line longer than %d bytes", POLICY_MAXLINE);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == '\0')
			return perr(ps, "NUL byte");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return perr(ps, "control character 0x%02x", c);
	}
	if (!utf8_valid(line, len))
		return perr(ps, "not UTF-8");
	if (split(ps, line, argv, &argc) == -1)
		return -1;
	if (argc == 0)
		return 0;
	for (i = 0; i < NKEYWORDS; i++)
		if (strcmp(argv[0], keywords[i].name) == 0)
			kw = &keywords[i];
	if (kw == NULL) {
		char list[256] = "";

		for (i = 0; i < NKEYWORDS; i++) {
			strlcat(list, keywords[i].name, sizeof(list));
			strlcat(list, i + 2 < NKEYWORDS ? ", " :
			    i + 1 < NKEYWORDS ? " or " : "", sizeof(list));
		}
		return perr(ps, "unknown keyword \"%.64s\" (expected %s)",
		    argv[0], list);
	}
	if (kw->parse != kw_rule) {
		i = (size_t)(kw - keywords);
		if (ps->seen[i] != 0)
			return perr(ps, "%s already set on line %u", kw->name,
			    ps->seen[i]);
		ps->seen[i] = ps->line;
	}
	return kw->parse(ps, kw, argv, argc);
}

struct policy *
policy_parse(const char *what, const char *text, size_t len, char **cause)
{
	struct pstate ps;
	unsigned int seen[NKEYWORDS];
	struct policy *p;
	char *copy, *line, *nl;
	size_t off = 0, llen;

	*cause = NULL;
	if ((p = policy_default()) == NULL ||
	    (copy = malloc(len + 1)) == NULL) {
		policy_free(p);
		if (asprintf(cause, "%s: out of memory", what) == -1)
			*cause = NULL;
		return NULL;
	}
	free(p->file);
	if ((p->file = strdup(what)) == NULL) {
		free(copy);
		policy_free(p);
		return NULL;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	memset(&ps, 0, sizeof(ps));
	memset(seen, 0, sizeof(seen));
	ps.what = what;
	ps.p = p;
	ps.seen = seen;
	ps.cause = cause;
	while (off < len) {
		ps.line++;
		line = copy + off;
		if ((nl = memchr(line, '\n', len - off)) != NULL) {
			*nl = '\0';
			llen = (size_t)(nl - line);
			off += llen + 1;
		} else {
			llen = len - off;
			off = len;
		}
		if (parse_line(&ps, line, llen) == -1) {
			free(copy);
			policy_free(p);
			return NULL;
		}
	}
	free(copy);
	return p;
}

struct policy *
policy_load(const char *path, int missing_ok, char **cause)
{
	struct policy *p;
	struct stat st;
	char *text;
	ssize_t n;
	size_t len = 0;
	int fd;

	*cause = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && missing_ok)
			return policy_default();
		if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
			*cause = NULL;
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (asprintf(cause, "%s: not a regular file", path) == -1)
			*cause = NULL;
		close(fd);
		return NULL;
	}
	if ((text = malloc(POLICY_MAXFILE + 1)) == NULL) {
		close(fd);
		if (asprintf(cause, "%s: out of memory", path) == -1)
			*cause = NULL;
		return NULL;
	}
	while (len <= POLICY_MAXFILE) {
		n = read(fd, text + len, POLICY_MAXFILE + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n == -1) {
		if (asprintf(cause, "%s: %s", path, strerror(errno)) == -1)
			*cause = NULL;
		free(text);
		return NULL;
	}
	if (len > POLICY_MAXFILE) {
		if (asprintf(cause, "%s: larger than %d bytes", path,
		    POLICY_MAXFILE) == -1)
			*cause = NULL;
		free(text);
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
		else if (!policy_prefix_match(&r->prefix, addr))
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

/* Is prefix inner wholly inside prefix outer? */
static int
prefix_within(const struct policy_prefix *inner,
    const struct policy_prefix *outer)
{
	char text[INET6_ADDRSTRLEN];

	if (inner->af != outer->af || inner->len < outer->len)
		return 0;
	if (inet_ntop(inner->af, inner->addr, text, sizeof(text)) == NULL)
		return 0;
	return policy_prefix_match(outer, text);
}

const char *
policy_addr_special(const char *addr, struct policy_prefix *block)
{
	char plain[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	struct policy_prefix pf;
	char *cause = NULL;
	size_t i;

	if (policy_addr_unmap(addr, plain, sizeof(plain)) == -1)
		return "unusable";
	for (i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		if (policy_parse_prefix(specials[i].prefix, &pf, &cause) ==
		    -1) {
			free(cause);	/* cannot happen: the table is ours */
			return "unusable";
		}
		if (policy_prefix_match(&pf, plain)) {
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
	struct policy_prefix block;
	const char *what;

	*cause = NULL;
	if ((what = policy_addr_special(addr, &block)) == NULL)
		return 0;
	if (strcmp(what, "unusable") != 0 &&
	    policy_match(p, name, type, addr, &rule) == POLICY_ALLOW &&
	    rule != NULL && rule->has_prefix &&
	    prefix_within(&rule->prefix, &block))
		return 0;	/* an explicit allow rule for this range */
	if (asprintf(cause, "address %s is %s %s address: relay sessions do "
	    "not connect there unless an \"allow ... address\" rule names it",
	    addr, what[0] == 'u' ? "an" : "a", what) == -1)
		*cause = NULL;
	return -1;
}
