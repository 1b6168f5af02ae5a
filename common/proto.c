/* Protocol v1: one table of verbs drives parsing and formatting. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"
#include "proto.h"
#include "xmalloc.h"

struct field {
	const char	*p;
	size_t		 len;
};

struct parse_ctx {
	struct field	*f;
	size_t		 nf;
	char		 err[PROTO_ERRLEN];
	const char	*code;
};

typedef int (*parse_fn)(struct parse_ctx *, struct msg *);
typedef int (*format_fn)(struct buf *, const struct msg *);

static int parse_hello(struct parse_ctx *, struct msg *);
static int parse_browse(struct parse_ctx *, struct msg *);
static int parse_svc(struct parse_ctx *, struct msg *);
static int parse_id(struct parse_ctx *, struct msg *);
static int parse_none(struct parse_ctx *, struct msg *);
static int parse_avahi(struct parse_ctx *, struct msg *);
static int parse_token(struct parse_ctx *, struct msg *);
static int parse_error(struct parse_ctx *, struct msg *);
static int parse_relay(struct parse_ctx *, struct msg *);
static int parse_export(struct parse_ctx *, struct msg *);
static int parse_exporting(struct parse_ctx *, struct msg *);
static int parse_dropped(struct parse_ctx *, struct msg *);

static int format_hello(struct buf *, const struct msg *);
static int format_browse(struct buf *, const struct msg *);
static int format_svc(struct buf *, const struct msg *);
static int format_id(struct buf *, const struct msg *);
static int format_none(struct buf *, const struct msg *);
static int format_avahi(struct buf *, const struct msg *);
static int format_token(struct buf *, const struct msg *);
static int format_error(struct buf *, const struct msg *);
static int format_relay(struct buf *, const struct msg *);
static int format_export(struct buf *, const struct msg *);
static int format_exporting(struct buf *, const struct msg *);
static int format_dropped(struct buf *, const struct msg *);

static const struct verb {
	const char	*name;
	enum msg_type	 type;
	size_t		 minfields;
	size_t		 maxfields;
	parse_fn	 parse;
	format_fn	 format;
} verbs[] = {
	{ "HELLO",	MSG_HELLO,	4, 16,	parse_hello,	format_hello },
	{ "BROWSE",	MSG_BROWSE,	1, PROTO_MAXFIELDS, parse_browse, format_browse },
	{ "ADD",	MSG_ADD,	7, PROTO_MAXFIELDS, parse_svc,	format_svc },
	{ "UPDATE",	MSG_UPDATE,	7, PROTO_MAXFIELDS, parse_svc,	format_svc },
	{ "REMOVE",	MSG_REMOVE,	1, 1,	parse_id,	format_id },
	{ "SYNCED",	MSG_SYNCED,	0, 0,	parse_none,	format_none },
	{ "AVAHI",	MSG_AVAHI,	1, 1,	parse_avahi,	format_avahi },
	{ "PING",	MSG_PING,	1, 1,	parse_token,	format_token },
	{ "PONG",	MSG_PONG,	1, 1,	parse_token,	format_token },
	{ "ERROR",	MSG_ERROR,	2, 2,	parse_error,	format_error },
	{ "RELAY",	MSG_RELAY,	3, 3,	parse_relay,	format_relay },
	{ "RELAYING",	MSG_RELAYING,	0, 0,	parse_none,	format_none },
	{ "EXPORT",	MSG_EXPORT,	5, PROTO_MAXFIELDS, parse_export, format_export },
	{ "EXPORTING",	MSG_EXPORTING,	3, 3,	parse_exporting, format_exporting },
	{ "FORWARDING",	MSG_FORWARDING,	1, 1,	parse_id,	format_id },
	{ "UNEXPORT",	MSG_UNEXPORT,	1, 1,	parse_id,	format_id },
	{ "DROPPED",	MSG_DROPPED,	3, 3,	parse_dropped,	format_dropped },
	{ "BEAT",	MSG_BEAT,	0, 0,	parse_none,	format_none },
};

const char *
msg_verb(enum msg_type t)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].type == t)
			return verbs[i].name;
	return "?";
}

static int
perr(struct parse_ctx *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr(struct parse_ctx *c, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->code = code;
	return -1;
}

/* Decode field i into *out, with a length limit. */
static int
get_field(struct parse_ctx *c, size_t i, int kind, size_t maxlen,
    const char *what, char **out, size_t *outlen)
{
	const char *cause;
	size_t len;

	if (field_decode(c->f[i].p, c->f[i].len, kind, out, &len,
	    &cause) == -1)
		return perr(c, "syntax", "field %zu (%s): %s", i + 1, what,
		    cause);
	if (len > maxlen) {
		free(*out);
		*out = NULL;
		return perr(c, "syntax", "field %zu (%s): %zu bytes, limit %zu",
		    i + 1, what, len, maxlen);
	}
	if (outlen != NULL)
		*outlen = len;
	return 0;
}

static int
get_text(struct parse_ctx *c, size_t i, size_t minlen, size_t maxlen,
    const char *what, char **out)
{
	size_t len;

	if (get_field(c, i, FIELD_TEXT, maxlen, what, out, &len) == -1)
		return -1;
	if (len < minlen) {
		free(*out);
		*out = NULL;
		return perr(c, "syntax", "field %zu (%s): empty", i + 1, what);
	}
	return 0;
}

/* Unsigned decimal without sign, leading zeros or overflow. */
static int
get_uint(struct parse_ctx *c, size_t i, unsigned long long min,
    unsigned long long max, const char *what, unsigned long long *v)
{
	const char *p = c->f[i].p;
	size_t len = c->f[i].len, k;
	unsigned long long n = 0;

	if (len == 0 || len > 20 || (len > 1 && p[0] == '0'))
		goto bad;
	for (k = 0; k < len; k++) {
		if (p[k] < '0' || p[k] > '9')
			goto bad;
		if (n > (ULLONG_MAX - 9) / 10)
			goto bad;
		n = n * 10 + (unsigned)(p[k] - '0');
	}
	if (n < min || n > max)
		return perr(c, "syntax", "field %zu (%s): %llu out of range "
		    "%llu..%llu", i + 1, what, n, min, max);
	*v = n;
	return 0;
 bad:
	return perr(c, "syntax", "field %zu (%s): not a decimal number",
	    i + 1, what);
}

int
proto_error_is_fatal(const char *code)
{
	return strcmp(code, "version") == 0 || strcmp(code, "config") == 0;
}

int
proto_valid_token(const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > PROTO_MAXTOKEN)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    s[i] == '%')
			return 0;
	return 1;
}

/* "_name._tcp" or "_name._udp", name of letters, digits and '-'. */
int
proto_valid_type(const char *s)
{
	size_t len = strlen(s), i;
	const char *dot;

	if (len < 7 || len > DNSSD_MAXTYPE || s[0] != '_')
		return 0;
	if ((dot = strchr(s, '.')) == NULL || dot == s + 1)
		return 0;
	if (strcmp(dot, "._tcp") != 0 && strcmp(dot, "._udp") != 0)
		return 0;
	for (i = 1; s + i < dot; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

/* IPv4, or IPv6 with an optional %zone naming an interface. */
static int
valid_addr(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 1];
	char *zone;
	size_t i;

	if (inet_pton(AF_INET, s, &a4) == 1)
		return 1;
	if (strlcpy(tmp, s, sizeof(tmp)) >= sizeof(tmp))
		return 0;
	if ((zone = strchr(tmp, '%')) != NULL) {
		*zone++ = '\0';
		if (*zone == '\0' || strlen(zone) >= IF_NAMESIZE)
			return 0;
		for (i = 0; zone[i] != '\0'; i++)
			if ((unsigned char)zone[i] <= 0x20 || zone[i] == '/' ||
			    (unsigned char)zone[i] >= 0x7f)
				return 0;
	}
	if (inet_pton(AF_INET6, tmp, &a6) != 1)
		return 0;
	if (zone != NULL && !IN6_IS_ADDR_LINKLOCAL(&a6))
		return 0;
	return 1;
}

static int
parse_hello(struct parse_ctx *c, struct msg *m)
{
	const char *p = c->f[0].p, *dot;
	unsigned long long v;
	size_t i;
	char *kv, *eq;

	dot = memchr(p, '.', c->f[0].len);
	if (dot == NULL || dot == p || dot == p + c->f[0].len - 1)
		return perr(c, "syntax", "bad version \"%.*s\"",
		    (int)(c->f[0].len > 32 ? 32 : c->f[0].len), p);
	{
		struct field save = c->f[0];
		struct parse_ctx sub = *c;
		struct field parts[2] = {
			{ p, (size_t)(dot - p) },
			{ dot + 1, save.len - (size_t)(dot - p) - 1 },
		};

		sub.f = parts;
		if (get_uint(&sub, 0, 0, 65535, "major version", &v) == -1)
			return perr(c, "syntax", "bad version");
		m->major = (unsigned int)v;
		if (get_uint(&sub, 1, 0, 65535, "minor version", &v) == -1)
			return perr(c, "syntax", "bad version");
		m->minor = (unsigned int)v;
	}
	if (get_text(c, 1, 1, 32, "peer id", &m->peer_id) == -1)
		return -1;
	for (i = 0; m->peer_id[i] != '\0'; i++)
		if (!((m->peer_id[i] >= '0' && m->peer_id[i] <= '9') ||
		    (m->peer_id[i] >= 'a' && m->peer_id[i] <= 'z')))
			return perr(c, "syntax", "field 2 (peer id): "
			    "only 0-9 and a-z allowed");
	if (get_text(c, 2, 1, 32, "role", &m->role) == -1)
		return -1;
	if (get_text(c, 3, 0, 1024, "features", &m->features) == -1)
		return -1;
	for (i = 4; i < c->nf; i++) {
		if (get_text(c, i, 1, 256, "option", &kv) == -1)
			return -1;
		if ((eq = strchr(kv, '=')) != NULL) {
			struct parse_ctx sub = *c;
			struct field val;

			*eq = '\0';
			val.p = eq + 1;
			val.len = strlen(eq + 1);
			sub.f = &val;
			if (strcmp(kv, "maxline") == 0) {
				if (get_uint(&sub, 0, PROTO_MINLINE,
				    PROTO_MAXLINE, "maxline", &v) == -1) {
					free(kv);
					return perr(c, "syntax", "bad maxline");
				}
				m->maxline = (unsigned int)v;
			} else if (strcmp(kv, "maxhops") == 0) {
				if (get_uint(&sub, 0, 1, 32, "maxhops",
				    &v) == -1) {
					free(kv);
					return perr(c, "syntax", "bad maxhops");
				}
				m->maxhops = (unsigned int)v;
			} else if (strcmp(kv, "ping") == 0) {
				if (get_uint(&sub, 0, 1, PROTO_MAXPING, "ping",
				    &v) == -1) {
					free(kv);
					return perr(c, "syntax", "bad ping");
				}
				m->ping = (unsigned int)v;
			} else if (strcmp(kv, "beat") == 0) {
				if (get_uint(&sub, 0, 1, PROTO_MAXPING, "beat",
				    &v) == -1) {
					free(kv);
					return perr(c, "syntax", "bad beat");
				}
				m->beat = (unsigned int)v;
			} else if (strcmp(kv, "idle") == 0) {
				if (get_uint(&sub, 0, 1, PROTO_MAXIDLE, "idle",
				    &v) == -1) {
					free(kv);
					return perr(c, "syntax", "bad idle");
				}
				m->idle = (unsigned int)v;
			}
			/* unknown options are ignored: minor versions */
		}
		free(kv);
	}
	return 0;
}

static int
parse_browse(struct parse_ctx *c, struct msg *m)
{
	size_t i;

	if (c->nf == 1 && c->f[0].len == 1 && c->f[0].p[0] == '*')
		return 0;
	if ((m->types = calloc(c->nf, sizeof(*m->types))) == NULL)
		return perr(c, "internal", "out of memory");
	for (i = 0; i < c->nf; i++) {
		if (get_text(c, i, 1, DNSSD_MAXTYPE, "type",
		    &m->types[i]) == -1)
			return -1;
		m->ntypes = i + 1;
		if (!proto_valid_type(m->types[i]))
			return perr(c, "syntax", "field %zu: \"%s\" is not a "
			    "service type (_name._tcp or _name._udp)", i + 1,
			    m->types[i]);
	}
	return 0;
}

static int
parse_id(struct parse_ctx *c, struct msg *m)
{
	unsigned long long v;

	if (get_uint(c, 0, 1, UINT32_MAX, "id", &v) == -1)
		return -1;
	m->id = (uint32_t)v;
	return 0;
}

static int
parse_instance(struct parse_ctx *c, size_t first, struct svc *s)
{
	if (get_text(c, first, 1, DNSSD_MAXNAME, "name", &s->name) == -1 ||
	    get_text(c, first + 1, 1, DNSSD_MAXTYPE, "type", &s->type) == -1 ||
	    get_text(c, first + 2, 1, DNSSD_MAXDOMAIN, "domain",
	    &s->domain) == -1)
		return -1;
	if (!proto_valid_type(s->type))
		return perr(c, "syntax", "field %zu: \"%s\" is not a service "
		    "type", first + 2, s->type);
	return 0;
}

/* TXT items from field first on, within DNS-SD's limits. */
static int
parse_txt(struct parse_ctx *c, size_t first, struct svc *s)
{
	size_t i, total = 0;
	char *item;
	size_t ilen;

	for (i = first; i < c->nf; i++) {
		if (get_field(c, i, FIELD_BINARY, DNSSD_MAXTXTITEM, "TXT item",
		    &item, &ilen) == -1)
			return -1;
		total += ilen + 1;
		if (total > DNSSD_MAXTXT) {
			free(item);
			return perr(c, "limit", "TXT record over %d bytes",
			    DNSSD_MAXTXT);
		}
		if (txt_add(&s->txt, item, ilen) == -1) {
			free(item);
			return perr(c, "internal", "out of memory");
		}
		free(item);
	}
	return 0;
}

static int
parse_svc(struct parse_ctx *c, struct msg *m)
{
	struct svc *s = &m->svc;
	unsigned long long v;

	if (parse_id(c, m) == -1 || parse_instance(c, 1, s) == -1 ||
	    get_text(c, 4, 1, DNSSD_MAXHOST, "host", &s->host) == -1 ||
	    get_text(c, 5, 1, INET6_ADDRSTRLEN + IF_NAMESIZE, "address",
	    &s->addr) == -1)
		return -1;
	if (!valid_addr(s->addr))
		return perr(c, "syntax", "field 6: \"%s\" is not an IPv4 or "
		    "IPv6 address", s->addr);
	if (get_uint(c, 6, 1, 65535, "port", &v) == -1)
		return -1;
	s->port = (uint16_t)v;
	return parse_txt(c, 7, s);
}

static int
parse_none(struct parse_ctx *c, struct msg *m)
{
	return 0;
}

static int
parse_avahi(struct parse_ctx *c, struct msg *m)
{
	if (c->f[0].len == 2 && memcmp(c->f[0].p, "up", 2) == 0)
		m->avahi_up = 1;
	else if (c->f[0].len == 4 && memcmp(c->f[0].p, "down", 4) == 0)
		m->avahi_up = 0;
	else
		return perr(c, "syntax", "AVAHI state must be up or down");
	return 0;
}

static int
parse_token(struct parse_ctx *c, struct msg *m)
{
	if (get_text(c, 0, 1, PROTO_MAXTOKEN, "token", &m->token) == -1)
		return -1;
	if (!proto_valid_token(m->token))
		return perr(c, "syntax", "bad token");
	return 0;
}

/* code and message from field first on (ERROR, DROPPED). */
static int
parse_code_text(struct parse_ctx *c, size_t first, struct msg *m)
{
	size_t i;

	if (get_text(c, first, 1, 32, "code", &m->code) == -1 ||
	    get_text(c, first + 1, 0, 1024, "message", &m->text) == -1)
		return -1;
	for (i = 0; m->code[i] != '\0'; i++)
		if (!((m->code[i] >= 'a' && m->code[i] <= 'z') ||
		    m->code[i] == '-'))
			return perr(c, "syntax", "bad error code");
	return 0;
}

static int
parse_error(struct parse_ctx *c, struct msg *m)
{
	return parse_code_text(c, 0, m);
}

static int
parse_relay(struct parse_ctx *c, struct msg *m)
{
	return parse_instance(c, 0, &m->svc);
}

/* EXPORT <id> <name> <type> <domain> <port> [<txt> ...]; port 0: any. */
static int
parse_export(struct parse_ctx *c, struct msg *m)
{
	unsigned long long v;

	if (parse_id(c, m) == -1 || parse_instance(c, 1, &m->svc) == -1 ||
	    get_uint(c, 4, 0, 65535, "port", &v) == -1)
		return -1;
	m->svc.port = (uint16_t)v;
	return parse_txt(c, 5, &m->svc);
}

/* EXPORTING <id> <port> <socket-path>: an absolute path without
 * controls, short enough for sun_path. */
static int
parse_exporting(struct parse_ctx *c, struct msg *m)
{
	unsigned long long v;
	size_t i;

	if (parse_id(c, m) == -1 ||
	    get_uint(c, 1, 1, 65535, "port", &v) == -1)
		return -1;
	m->svc.port = (uint16_t)v;
	if (get_text(c, 2, 1, PROTO_MAXPATH, "socket path", &m->path) == -1)
		return -1;
	if (m->path[0] != '/')
		return perr(c, "syntax", "field 3 (socket path): not an "
		    "absolute path");
	for (i = 0; m->path[i] != '\0'; i++)
		if ((unsigned char)m->path[i] < 0x20 ||
		    (unsigned char)m->path[i] == 0x7f)
			return perr(c, "syntax", "field 3 (socket path): "
			    "control character");
	return 0;
}

/* DROPPED <id> <code> <message> */
static int
parse_dropped(struct parse_ctx *c, struct msg *m)
{
	return parse_id(c, m) == -1 ? -1 : parse_code_text(c, 1, m);
}

int
msg_parse(const char *line, size_t len, struct msg *m, char **cause,
    const char **code)
{
	struct field fields[PROTO_MAXFIELDS + 1];
	struct parse_ctx c;
	const struct verb *v = NULL;
	size_t i, start, nf = 0, vlen;

	memset(m, 0, sizeof(*m));
	memset(&c, 0, sizeof(c));
	c.code = "syntax";
	*cause = NULL;

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		if (line[vlen] < 'A' || line[vlen] > 'Z') {
			perr(&c, "syntax", "verb must be upper-case letters");
			goto fail;
		}
	if (vlen == 0) {
		perr(&c, "syntax", "empty line or missing verb");
		goto fail;
	}
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == vlen &&
		    memcmp(verbs[i].name, line, vlen) == 0)
			v = &verbs[i];
	if (v == NULL) {
		perr(&c, "verb", "unknown verb \"%.*s\"",
		    (int)(vlen > 32 ? 32 : vlen), line);
		goto fail;
	}
	for (i = vlen; i < len; ) {
		/* i sits on a separator */
		start = ++i;
		while (i < len && line[i] != ' ')
			i++;
		if (i == start) {
			perr(&c, "syntax", "%s: empty field %zu (double or "
			    "trailing space)", v->name, nf + 1);
			goto fail;
		}
		if (nf == PROTO_MAXFIELDS) {
			perr(&c, "limit", "%s: more than %d fields", v->name,
			    PROTO_MAXFIELDS);
			goto fail;
		}
		fields[nf].p = line + start;
		fields[nf].len = i - start;
		nf++;
	}
	if (nf < v->minfields || nf > v->maxfields) {
		perr(&c, "syntax", "%s: %zu fields, expected %zu..%zu",
		    v->name, nf, v->minfields, v->maxfields);
		goto fail;
	}
	m->type = v->type;
	c.f = fields;
	c.nf = nf;
	if (v->parse(&c, m) == -1) {
		/* prefix the verb to the field-level reason, cut to the
		 * same bound */
		*code = c.code;
		xasprintf(cause, "%s: %s", v->name, c.err);
		if (strlen(*cause) >= sizeof(c.err))
			(*cause)[sizeof(c.err) - 1] = '\0';
		return -1;
	}
	*code = NULL;
	return 0;
 fail:
	*code = c.code;
	*cause = xstrdup(c.err);
	return -1;
}

void
msg_free(struct msg *m)
{
	size_t i;

	svc_free(&m->svc);
	free(m->peer_id);
	free(m->role);
	free(m->features);
	for (i = 0; i < m->ntypes; i++)
		free(m->types[i]);
	free(m->types);
	free(m->token);
	free(m->code);
	free(m->text);
	free(m->path);
	memset(m, 0, sizeof(*m));
}

static int
put_text(struct buf *b, const char *s)
{
	return buf_put(b, " ", 1) == -1 ? -1 :
	    field_encode(b, s, s == NULL ? 0 : strlen(s));
}

static int
format_hello(struct buf *b, const struct msg *m)
{
	if (buf_putf(b, " %u.%u", m->major, m->minor) == -1 ||
	    put_text(b, m->peer_id) == -1 || put_text(b, m->role) == -1 ||
	    put_text(b, m->features) == -1)
		return -1;
	if (m->maxline && buf_putf(b, " maxline=%u", m->maxline) == -1)
		return -1;
	if (m->maxhops && buf_putf(b, " maxhops=%u", m->maxhops) == -1)
		return -1;
	if (m->ping && buf_putf(b, " ping=%u", m->ping) == -1)
		return -1;
	if (m->beat && buf_putf(b, " beat=%u", m->beat) == -1)
		return -1;
	if (m->idle && buf_putf(b, " idle=%u", m->idle) == -1)
		return -1;
	return 0;
}

static int
format_browse(struct buf *b, const struct msg *m)
{
	size_t i;

	if (m->ntypes == 0)
		return buf_put(b, " *", 2);
	for (i = 0; i < m->ntypes; i++)
		if (put_text(b, m->types[i]) == -1)
			return -1;
	return 0;
}

/* The TXT items, one binary field each. */
static int
put_txt(struct buf *b, const struct txt *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (buf_put(b, " ", 1) == -1 ||
		    field_encode(b, t->items[i].data, t->items[i].len) == -1)
			return -1;
	return 0;
}

static int
format_svc(struct buf *b, const struct msg *m)
{
	const struct svc *s = &m->svc;

	if (buf_putf(b, " %u", m->id) == -1 ||
	    put_text(b, s->name) == -1 || put_text(b, s->type) == -1 ||
	    put_text(b, s->domain) == -1 || put_text(b, s->host) == -1 ||
	    put_text(b, s->addr) == -1 || buf_putf(b, " %u", s->port) == -1)
		return -1;
	return put_txt(b, &s->txt);
}

static int
format_id(struct buf *b, const struct msg *m)
{
	return buf_putf(b, " %u", m->id);
}

static int
format_none(struct buf *b, const struct msg *m)
{
	return 0;
}

static int
format_avahi(struct buf *b, const struct msg *m)
{
	return buf_putf(b, " %s", m->avahi_up ? "up" : "down");
}

static int
format_token(struct buf *b, const struct msg *m)
{
	return put_text(b, m->token);
}

static int
format_error(struct buf *b, const struct msg *m)
{
	return put_text(b, m->code) == -1 ? -1 : put_text(b, m->text);
}

static int
format_relay(struct buf *b, const struct msg *m)
{
	return put_text(b, m->svc.name) == -1 ||
	    put_text(b, m->svc.type) == -1 ||
	    put_text(b, m->svc.domain) == -1 ? -1 : 0;
}

static int
format_export(struct buf *b, const struct msg *m)
{
	const struct svc *s = &m->svc;

	if (buf_putf(b, " %u", m->id) == -1 ||
	    put_text(b, s->name) == -1 || put_text(b, s->type) == -1 ||
	    put_text(b, s->domain) == -1 || buf_putf(b, " %u", s->port) == -1)
		return -1;
	return put_txt(b, &s->txt);
}

static int
format_exporting(struct buf *b, const struct msg *m)
{
	return buf_putf(b, " %u %u", m->id, m->svc.port) == -1 ? -1 :
	    put_text(b, m->path);
}

static int
format_dropped(struct buf *b, const struct msg *m)
{
	return buf_putf(b, " %u", m->id) == -1 ? -1 : format_error(b, m);
}

void
msg_pong(struct msg *pong, const struct msg *ping)
{
	memset(pong, 0, sizeof(*pong));
	pong->type = MSG_PONG;
	pong->token = ping->token;
}

int
msg_format(struct buf *out, const struct msg *m, size_t maxline)
{
	const struct verb *v = NULL;
	size_t i, before = buf_len(out);

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (verbs[i].type == m->type)
			v = &verbs[i];
	if (v == NULL)
		return -1;
	if (buf_put(out, v->name, strlen(v->name)) == -1 ||
	    v->format(out, m) == -1 || buf_put(out, "\n", 1) == -1 ||
	    buf_len(out) - before > maxline) {
		/* roll back the partial line: never send half a message */
		out->len = out->off + before;
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

void
msg_hello(struct msg *m, const char *peer_id, const char *role,
    const char *features, unsigned int maxline, unsigned int maxhops)
{
	memset(m, 0, sizeof(*m));
	m->type = MSG_HELLO;
	m->major = PROTO_MAJOR;
	m->minor = PROTO_MINOR;
	m->peer_id = (char *)peer_id;
	m->role = (char *)role;
	m->features = (char *)features;
	m->maxline = maxline;
	m->maxhops = maxhops;
}

int
msg_put_error(struct buf *out, const char *code, const char *fmt, ...)
{
	struct msg m;
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = (char *)code;
	m.text = text;
	return msg_format(out, &m, PROTO_MAXLINE);
}

/* HELLO's features: a comma-separated list of words (PROTOCOL.md 3). */
int
proto_has_feature(const char *list, const char *word)
{
	size_t len = strlen(word);
	const char *p;

	for (p = list; p != NULL && *p != '\0'; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, word, len) == 0 && (p[len] == ',' ||
		    p[len] == '\0'))
			return 1;
	}
	return 0;
}
