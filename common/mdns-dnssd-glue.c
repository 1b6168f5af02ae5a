/* The DNS-SD API backend's pure helpers (mdns-dnssd.h): TXT record data
 * <-> struct txt, error codes, the names the API hands back. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dns_sd.h>

#include "log.h"
#include "mdns.h"
#include "mdns-dnssd.h"
#include "proto.h"

/* Apple's values of codes that older headers (avahi's compatibility
 * library ships the API of 2006) do not name. */
#define ERR_SERVICE_NOT_RUNNING	(-65563)
#define ERR_POLLING_MODE	(-65567)
#define ERR_TIMEOUT		(-65568)
#define ERR_DEFUNCT_CONNECTION	(-65569)

static int
cause_set(char **cause, const char *what, size_t a, const char *why)
{
	if (cause != NULL && asprintf(cause, "%s %zu %s", what, a, why) == -1)
		fatalx("out of memory");
	return MDNS_ERR_INVALID;
}

int
mdns_dnssd_txt_build(const struct txt *t, unsigned char **out, uint16_t *len,
    char **cause)
{
	unsigned char *b;
	size_t i, total = 0, off = 0;

	*out = NULL;
	*len = 0;
	if (t == NULL)
		return 0;
	for (i = 0; i < t->n; i++) {
		if (t->items[i].len > 255)
			return cause_set(cause, "TXT item", i + 1,
			    "longer than 255 bytes");
		if (t->items[i].len > 0)
			total += 1 + t->items[i].len;
	}
	if (total > UINT16_MAX)
		return cause_set(cause, "TXT record of", total,
		    "bytes (the API takes 65,535 at most)");
	if (total == 0)
		return 0;
	if ((b = malloc(total)) == NULL) {
		if (cause != NULL && (*cause = strdup("out of memory")) == NULL)
			fatalx("out of memory");
		return MDNS_ERR_NOMEM;
	}
	for (i = 0; i < t->n; i++) {
		if (t->items[i].len == 0)
			continue;
		b[off++] = (unsigned char)t->items[i].len;
		memcpy(b + off, t->items[i].data, t->items[i].len);
		off += t->items[i].len;
	}
	*out = b;
	*len = (uint16_t)total;
	return 0;
}

int
mdns_dnssd_txt_parse(const unsigned char *p, size_t len, struct txt *out)
{
	size_t off = 0, n;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		n = p[off++];
		if (n > len - off) {
			errno = EINVAL;
			return -1;
		}
		if (n > 0 && txt_add(out, p + off, n) == -1) {
			txt_free(out);
			errno = ENOMEM;
			return -1;
		}
		off += n;
	}
	return 0;
}

int
mdns_dnssd_map_err(int32_t e)
{
	switch (e) {
	case kDNSServiceErr_NoError:
		return 0;
	case ERR_SERVICE_NOT_RUNNING:
	case ERR_DEFUNCT_CONNECTION:
	case ERR_TIMEOUT:
	case kDNSServiceErr_Unknown:	/* avahi's: the daemon went */
		return MDNS_ERR_DOWN;
	case kDNSServiceErr_NameConflict:
	case kDNSServiceErr_AlreadyRegistered:
		return MDNS_ERR_COLLISION;
	case kDNSServiceErr_NoMemory:
		return MDNS_ERR_NOMEM;
	case kDNSServiceErr_Refused:
		return MDNS_ERR_OBJECTS;
	case kDNSServiceErr_BadParam:
	case kDNSServiceErr_BadFlags:
	case kDNSServiceErr_BadInterfaceIndex:
	case kDNSServiceErr_Invalid:
	case kDNSServiceErr_Unsupported:
	case kDNSServiceErr_NoSuchName:
		return MDNS_ERR_INVALID;
	}
	return MDNS_ERR_OTHER;
}

const char *
mdns_dnssd_strerror(int32_t e)
{
	static const struct {
		int32_t		 code;
		const char	*text;
	} t[] = {
		{ kDNSServiceErr_NoError, "no error" },
		{ kDNSServiceErr_Unknown, "unknown error" },
		{ kDNSServiceErr_NoSuchName, "no such name" },
		{ kDNSServiceErr_NoMemory, "out of memory" },
		{ kDNSServiceErr_BadParam, "bad parameter" },
		{ kDNSServiceErr_BadReference, "bad reference" },
		{ kDNSServiceErr_BadState, "bad state" },
		{ kDNSServiceErr_BadFlags, "bad flags" },
		{ kDNSServiceErr_Unsupported, "not supported" },
		{ kDNSServiceErr_NotInitialized, "not initialized" },
		{ kDNSServiceErr_AlreadyRegistered, "already registered" },
		{ kDNSServiceErr_NameConflict, "name conflict" },
		{ kDNSServiceErr_Invalid, "invalid" },
		{ kDNSServiceErr_Incompatible, "client library incompatible "
		    "with the daemon" },
		{ kDNSServiceErr_BadInterfaceIndex, "bad interface index" },
		{ kDNSServiceErr_Refused, "refused" },
		{ kDNSServiceErr_NoSuchRecord, "no such record" },
		{ ERR_SERVICE_NOT_RUNNING, "the mDNS responder is not "
		    "running" },
		{ ERR_POLLING_MODE, "polling mode" },
		{ ERR_TIMEOUT, "timeout" },
		{ ERR_DEFUNCT_CONNECTION, "connection to the mDNS responder "
		    "lost" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == e)
			return t[i].text;
	return "unexpected DNS-SD error";
}

int
mdns_dnssd_undot(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.' && (n < 2 || s[n - 2] != '\\'))
		n--;
	if (n >= outlen)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

int
mdns_dnssd_type_result(const char *name, const char *regtype,
    const char *rdomain, char *type, size_t typelen, char *domain,
    size_t domainlen)
{
	const char *dot;
	int n;

	/* regtype is "_tcp.local." (Apple): its first label is the
	 * protocol, the rest the domain. avahi's library splits the name
	 * as avahi does: regtype "_tcp.", the domain apart. */
	if (name[0] != '_' || strchr(name, '.') != NULL ||
	    (dot = strchr(regtype, '.')) == NULL)
		return -1;
	if ((size_t)(dot - regtype) != 4 || (strncmp(regtype, "_tcp", 4) != 0 &&
	    strncmp(regtype, "_udp", 4) != 0))
		return -1;
	n = snprintf(type, typelen, "%s.%.4s", name, regtype);
	if (n < 0 || (size_t)n >= typelen)
		return -1;
	if (mdns_dnssd_undot(dot[1] == '\0' && rdomain != NULL ? rdomain :
	    dot + 1, domain, domainlen) == -1 ||
	    domain[0] == '\0')
		return -1;
	return 0;
}
