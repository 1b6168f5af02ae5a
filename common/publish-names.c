/* The publisher's checks and names, pure functions: what a service name,
 * type, domain and TXT record may be; the names to try after a collision
 * (the sequence avahi uses, so that every responder renames alike: "A",
 * "A #2", "A #3" ...; a host label "h", "h-2" ...); the host-scope label. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "log.h"
#include "proto.h"
#include "publish.h"
#include "publish-int.h"
#include "xmalloc.h"

#define PUB_HOST_SUFFIX		"-rnsplice"

static const char *const state_names[] = {
	[PUB_WAITING] = "waiting",
	[PUB_REGISTERING] = "registering",
	[PUB_ESTABLISHED] = "established",
	[PUB_FAILED] = "failed",
};

static const char *const scope_names[] = {
	[PUB_SCOPE_LAN] = "lan",
	[PUB_SCOPE_IFACE] = "iface",
	[PUB_SCOPE_HOST] = "host",
};

const char *
pub_state_name(enum pub_state s)
{
	if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "?";
	return state_names[s];
}

const char *
pub_scope_name(enum pub_scope s)
{
	if ((size_t)s >= sizeof(scope_names) / sizeof(scope_names[0]))
		return "?";
	return scope_names[s];
}

int
pub_name_check(const char *name, char **cause)
{
	size_t len, i;

	if (name == NULL || *name == '\0') {
		cause_set(cause, "empty service name");
		return -1;
	}
	len = strlen(name);
	if (!utf8_valid(name, len)) {
		cause_set(cause, "service name is not valid UTF-8");
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 ||
		    (unsigned char)name[i] == 0x7f) {
			cause_set(cause, "service name contains a "
			    "control character (byte %zu)", i + 1);
			return -1;
		}
	if (len > DNSSD_MAXNAME) {
		cause_set(cause, "service name \"%s\" is %zu bytes long "
		    "(at most %d)", name, len, DNSSD_MAXNAME);
		return -1;
	}
	return 0;
}

int
pub_txt_check(const struct txt *t, char **cause)
{
	size_t i, total = 0;

	if (t == NULL)
		return 0;
	if (t->n > 0 && t->items == NULL) {
		cause_set(cause, "TXT record without items");
		return -1;
	}
	for (i = 0; i < t->n; i++) {
		if (t->items[i].len > DNSSD_MAXTXTITEM) {
			cause_set(cause, "TXT item %zu is %zu bytes long "
			    "(at most %d)", i + 1, t->items[i].len,
			    DNSSD_MAXTXTITEM);
			return -1;
		}
		if (t->items[i].len > 0 && t->items[i].data == NULL) {
			cause_set(cause, "TXT item %zu has no data", i + 1);
			return -1;
		}
		total += t->items[i].len + 1;
	}
	if (total > DNSSD_MAXTXT) {
		cause_set(cause, "TXT record is %zu bytes long (at most "
		    "%d)", total, DNSSD_MAXTXT);
		return -1;
	}
	return 0;
}

int
pub_spec_check(const struct pub_spec *s, char **cause)
{
	if (s == NULL) {
		cause_set(cause, "no service");
		return -1;
	}
	if (pub_name_check(s->name, cause) == -1)
		return -1;
	if (s->type == NULL || !proto_valid_type(s->type) ||
	    strchr(s->type, '.') - s->type >= PUB_LABEL_MAX) {
		cause_set(cause, "\"%s\": \"%s\" is not a service type "
		    "(_name._tcp or _name._udp)", s->name,
		    s->type == NULL ? "" : s->type);
		return -1;
	}
	if (s->domain != NULL && (strlen(s->domain) > DNSSD_MAXDOMAIN ||
	    !utf8_valid(s->domain, strlen(s->domain)) ||
	    !pub_domain_valid(s->domain))) {
		cause_set(cause, "\"%s\": bad domain", s->name);
		return -1;
	}
	if (s->port == 0) {
		cause_set(cause, "\"%s\": port 0", s->name);
		return -1;
	}
	switch (s->scope) {
	case PUB_SCOPE_LAN:
	case PUB_SCOPE_HOST:
		break;
	case PUB_SCOPE_IFACE:
		if (s->ifindex <= 0) {
			cause_set(cause, "\"%s\": interface scope without "
			    "an interface", s->name);
			return -1;
		}
		break;
	default:
		cause_set(cause, "\"%s\": unknown scope %d", s->name,
		    (int)s->scope);
		return -1;
	}
	if (pub_txt_check(s->txt, cause) == -1)
		return -1;
	return 0;
}

/* Does the label (up to end) end in a counter after sep ("A #3", "h-3")?
 * Returns where the separator starts, else NULL. As avahi: digits only,
 * not starting with 0. */
static const char *
counter_start(const char *s, const char *sep, int *n)
{
	const char *e = NULL, *p, *q;
	size_t slen = strlen(sep);
	long v = 0;

	for (p = s; (q = strstr(p, sep)) != NULL; p = q + 1)
		e = q;
	if (e == NULL || e[slen] == '\0' || e[slen] == '0')
		return NULL;
	for (p = e + slen; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p) || v > 100000000)
			return NULL;
		v = v * 10 + (*p - '0');
	}
	*n = (int)v;
	return e;
}

/* s cut to at most max bytes, without a partial UTF-8 sequence at the
 * end, then suffix. */
static char *
cut_append(const char *s, size_t max, const char *sep, int n)
{
	char *r;
	size_t len = strlen(s);

	if (len > max)
		len = max;
	while (len > 0 && !utf8_valid(s, len))
		len--;
	if (asprintf(&r, "%.*s%s%d", (int)len, s, sep, n) == -1)
		return NULL;
	return r;
}

static char *
alternative(const char *s, const char *sep)
{
	const char *e;
	char digits[16];
	int n = 0;

	if ((e = counter_start(s, sep, &n)) == NULL)
		return cut_append(s, PUB_LABEL_MAX - 1 - strlen(sep) - 1, sep,
		    2);
	snprintf(digits, sizeof(digits), "%d", n + 1);
	return cut_append(s, (size_t)(e - s) < PUB_LABEL_MAX - 1 -
	    strlen(digits) - strlen(sep) ? (size_t)(e - s) :
	    PUB_LABEL_MAX - 1 - strlen(digits) - strlen(sep), sep, n + 1);
}

char *
pub_alternative_name(const char *name)
{
	char *cause;

	if (pub_name_check(name, &cause) == -1) {
		free(cause);
		return NULL;
	}
	return alternative(name, " #");
}

char *
pub_alternative_host(const char *label)
{
	size_t i, len = label == NULL ? 0 : strlen(label);

	if (len == 0 || len >= PUB_LABEL_MAX)
		return NULL;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)label[i]) && label[i] != '-')
			return NULL;
	return alternative(label, "-");
}

/* As avahi_is_valid_domain_name(): labels of 1 to 63 bytes (a backslash
 * escapes the next character, or three digits a byte), only the root
 * may be empty. */
int
pub_domain_valid(const char *d)
{
	size_t label = 0, total = strlen(d);
	int first = 1;

	if (total >= PUB_FQDN_MAX)
		return 0;
	if (strcmp(d, ".") == 0 || *d == '\0')
		return 1;
	for (;;) {
		if (*d == '.' || *d == '\0') {
			if (label == 0 && !(first && *d == '\0'))
				return 0;
			if (*d == '\0' || d[1] == '\0')
				return 1;
			label = 0;
			first = 0;
			d++;
			continue;
		}
		if (*d == '\\') {
			d++;
			if (isdigit((unsigned char)d[0])) {
				if (!isdigit((unsigned char)d[1]) ||
				    !isdigit((unsigned char)d[2]) ||
				    (d[0] - '0') * 100 + (d[1] - '0') * 10 +
				    (d[2] - '0') > 255)
					return 0;
				d += 2;
			} else if (*d == '\0')
				return 0;
		}
		if (++label >= PUB_LABEL_MAX)
			return 0;
		d++;
	}
}

int
pub_host_label(const char *host, char *out, size_t len)
{
	char label[PUB_LABEL_MAX];
	const size_t slen = sizeof(PUB_HOST_SUFFIX) - 1;
	const size_t max = sizeof(label) - 1 - slen;
	size_t n = 0, i;

	for (i = 0; host[i] != '\0' && n < max; i++) {
		unsigned char c = (unsigned char)host[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-')
			label[n++] = (char)c;
		else
			label[n++] = '-';
	}
	if (n == 0) {
		memcpy(label, "host", 4);
		n = 4;
	}
	memcpy(label + n, PUB_HOST_SUFFIX, slen + 1);
	if (strlcpy(out, label, len) >= len)
		return -1;
	return 0;
}

int
pub_svc_set(struct pub_svc *sv, const struct pub_spec *spec)
{
	struct pub_svc n;
	char *cause;

	if (pub_spec_check(spec, &cause) == -1) {
		log_warnx("publish: %s", cause);
		free(cause);
		errno = EINVAL;
		return -1;
	}
	memset(&n, 0, sizeof(n));
	n.port = spec->port;
	n.scope = spec->scope;
	n.ifindex = spec->scope == PUB_SCOPE_IFACE ? spec->ifindex : 0;
	if ((n.name = strdup(spec->name)) == NULL ||
	    (n.type = strdup(spec->type)) == NULL ||
	    (spec->domain != NULL &&
	    (n.domain = strdup(spec->domain)) == NULL) ||
	    (spec->txt != NULL && txt_copy(&n.txt, spec->txt) == -1)) {
		free(n.name);
		free(n.type);
		free(n.domain);
		errno = ENOMEM;
		return -1;
	}
	*sv = n;
	return 0;
}

int
pub_svc_update(struct pub_svc *sv, const struct txt *txt, uint16_t port,
    char **cause)
{
	struct txt nt;
	int changed = 0;

	if (pub_txt_check(txt, cause) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (txt != NULL && !txt_equal(txt, &sv->txt)) {
		if (txt_copy(&nt, txt) == -1) {
			errno = ENOMEM;
			return -1;
		}
		txt_free(&sv->txt);
		sv->txt = nt;
		changed |= PUB_CHANGED_TXT;
	}
	if (port != 0 && port != sv->port) {
		sv->port = port;
		changed |= PUB_CHANGED_PORT;
	}
	return changed;
}

void
pub_svc_clear(struct pub_svc *sv)
{
	free(sv->name);
	free(sv->type);
	free(sv->domain);
	txt_free(&sv->txt);
	memset(sv, 0, sizeof(*sv));
}
