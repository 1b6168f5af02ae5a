/* What the agent imports and how it re-publishes it: loop control through
 * the splice metadata (PROTOCOL.md section 7), the name template, the TXT
 * record with our metadata, the choice of a local port. No I/O here. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"
#include "escape.h"
#include "meta.h"
#include "proto.h"

int
import_decide(const struct txt *txt, const char *self, const char *peer,
    unsigned int maxhops, struct splice_meta *out, char *why, size_t whylen)
{
	struct splice_meta m;
	const char *cause = NULL;
	int r;

	if ((r = meta_from_txt(txt, &m, &cause)) == -1) {
		snprintf(why, whylen, "bad splice metadata: %s", cause);
		return 0;
	}
	if (r == 0) {
		/* first hop: the subsystem's site is the origin */
		memset(&m, 0, sizeof(m));
		if (meta_push(&m, peer) == -1) {
			snprintf(why, whylen, "peer site id \"%.32s\" unusable",
			    peer);
			return 0;
		}
		strlcpy(m.origin, peer, sizeof(m.origin));
	}
	if (meta_has_site(&m, self)) {
		snprintf(why, whylen, "loop: it has crossed this site already");
		return 0;
	}
	if (meta_hops(&m) + 1 > maxhops) {
		snprintf(why, whylen, "hop limit: %zu hops, at most %u",
		    meta_hops(&m) + 1, maxhops);
		return 0;
	}
	if (meta_push(&m, self) == -1) {
		snprintf(why, whylen, "splice path full");
		return 0;
	}
	*out = m;
	return 1;
}

int
import_type_carried(const char *type)
{
	size_t len = strlen(type);

	return len >= 5 && strcasecmp(type + len - 5, "._tcp") == 0;
}

const char *
import_origin_name(const struct isvc *e)
{
	return e->meta.name[0] != '\0' ? e->meta.name : e->svc.name;
}

int
import_template_check(const char *tmpl, char **cause)
{
	const char *p;
	size_t literal = 0;
	int has_n = 0;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '%') {
			literal++;
			continue;
		}
		switch (*++p) {
		case 'n':
			has_n = 1;
			break;
		case 'r':
		case 'h':
			break;
		case '%':
			literal++;
			break;
		case '\0':
			return cause_set(cause, "name template \"%s\" ends in "
			    "%%", tmpl);
		default:
			return cause_set(cause, "name template \"%s\": unknown "
			    "%%%c (expected %%n name, %%r remote, %%h hops, "
			    "%%%%)", tmpl, *p);
		}
	}
	if (!has_n)
		return cause_set(cause, "name template \"%s\" lacks %%n (the "
		    "service's name)", tmpl);
	if (literal > DNSSD_MAXNAME / 2)
		return cause_set(cause, "name template \"%s\" is too long",
		    tmpl);
	if (!utf8_valid(tmpl, strlen(tmpl)))
		return cause_set(cause, "name template is not UTF-8");
	return 0;
}

/* Expand with name cut to namelen bytes; returns the full length that the
 * expansion needs (which may exceed outlen - 1). */
static size_t
expand(const char *tmpl, const char *name, size_t namelen, const char *remote,
    size_t hops, char *out, size_t outlen, unsigned int *nname)
{
	char hbuf[16];
	const char *p, *add;
	size_t len = 0, alen;

	*nname = 0;
	for (p = tmpl; *p != '\0'; p++) {
		add = p;
		alen = 1;
		if (*p == '%' && p[1] != '\0') {
			switch (*++p) {
			case 'n':
				add = name;
				alen = namelen;
				(*nname)++;
				break;
			case 'r':
				add = remote;
				alen = strlen(remote);
				break;
			case 'h':
				snprintf(hbuf, sizeof(hbuf), "%zu", hops);
				add = hbuf;
				alen = strlen(hbuf);
				break;
			default:	/* "%%" and anything unchecked */
				add = p;
				alen = 1;
				break;
			}
		}
		if (len + alen < outlen)
			memcpy(out + len, add, alen);
		len += alen;
	}
	if (outlen > 0)
		out[len < outlen ? len : outlen - 1] = '\0';
	return len;
}

/* Largest length <= want that ends on a UTF-8 sequence boundary. */
static size_t
utf8_cut(const char *s, size_t want)
{
	while (want > 0 && ((unsigned char)s[want] & 0xc0) == 0x80)
		want--;
	return want;
}

int
import_name(const char *tmpl, const char *name, const char *remote,
    const char *type, size_t hops, char *out, size_t outlen)
{
	char tmp[512];
	size_t need, namelen = strlen(name), cut;
	unsigned int nname;

	need = expand(tmpl, name, namelen, remote, hops, tmp, sizeof(tmp),
	    &nname);
	if (need > DNSSD_MAXNAME && nname > 0) {
		cut = (need - DNSSD_MAXNAME + nname - 1) / nname;
		if (cut >= namelen)
			return -1;
		namelen = utf8_cut(name, namelen - cut);
		while (namelen > 0 && name[namelen - 1] == ' ')
			namelen--;
		if (namelen == 0)
			return -1;
		need = expand(tmpl, name, namelen, remote, hops, tmp,
		    sizeof(tmp), &nname);
	}
	if (need > DNSSD_MAXNAME || need >= sizeof(tmp) || need == 0 ||
	    need >= outlen)
		return -1;
	memcpy(out, tmp, need + 1);
	return 0;
}

uint16_t
import_stable_port(const char *remote, const char *name, const char *type,
    const char *domain)
{
	const char *parts[4] = { remote, name, type, domain };
	uint32_t h = 2166136261u;	/* FNV-1a */
	size_t i;
	const unsigned char *p;

	for (i = 0; i < 4; i++) {
		for (p = (const unsigned char *)parts[i]; *p != '\0'; p++) {
			h ^= *p;
			h *= 16777619u;
		}
		h ^= 0xff;	/* separator: ("ab","c") != ("a","bc") */
		h *= 16777619u;
	}
	return (uint16_t)(AGENT_STABLE_PORT_BASE + h % AGENT_STABLE_PORT_SPAN);
}

static size_t
add_port(uint16_t *out, size_t n, size_t max, uint16_t port)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (out[i] == port)
			return n;
	if (n < max)
		out[n++] = port;
	return n;
}

size_t
import_port_candidates(enum port_policy policy, uint16_t remembered,
    uint16_t original, uint16_t stable, uint16_t *out, size_t max)
{
	size_t n = 0;

	if (remembered != 0)
		n = add_port(out, n, max, remembered);
	if (policy == PORT_ORIGINAL && original != 0)
		n = add_port(out, n, max, original);
	if (stable != 0)
		n = add_port(out, n, max, stable);
	return add_port(out, n, max, 0);
}

/*
 * Why the original port of a service cannot be ours without privilege:
 * Linux lets an unprivileged process bind below
 * net.ipv4.ip_unprivileged_port_start (1024 unless changed) only with
 * CAP_NET_BIND_SERVICE. Where /proc does not tell (not Linux), ports below
 * 1024 are taken to need root, the BSD rule. Returns 1 and a sentence in
 * why, or 0.
 */
int
import_port_privileged(uint16_t port, char *why, size_t whylen)
{
	FILE *f;
	char line[256];
	unsigned long long cap = 0;
	unsigned int start = 1024;
	int have = 0, sysctl = 0;

	if ((f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start",
	    "r")) != NULL) {
		sysctl = 1;
		if (fscanf(f, "%u", &start) != 1)
			start = 1024;
		fclose(f);
	}
	if (port == 0 || port >= start)
		return 0;
	if ((f = fopen("/proc/self/status", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "CapEff: %llx", &cap) == 1) {
				have = (cap >> 10) & 1;	/* NET_BIND_SERVICE */
				break;
			}
		fclose(f);
	} else
		have = geteuid() == 0;
	if (have)
		return 0;
	if (!sysctl) {
		snprintf(why, whylen, "original port %u is below %u and the "
		    "agent does not run as root", port, start);
		return 1;
	}
	snprintf(why, whylen, "original port %u is below %u "
	    "(net.ipv4.ip_unprivileged_port_start) and the agent lacks "
	    "CAP_NET_BIND_SERVICE", port, start);
	return 1;
}
