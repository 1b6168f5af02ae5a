/* Splice metadata: "v1;o=<site>;p=<site>,<site>[;n=<name>]". The name is
 * last because it may contain ';'. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "meta.h"
#include "proto.h"

int
meta_parse(const char *val, size_t len, struct splice_meta *m,
    const char **cause)
{
	char tmp[256], *p, *next, *el, *comma;

	memset(m, 0, sizeof(*m));
	if (len >= sizeof(tmp) || memchr(val, '\0', len) != NULL) {
		*cause = "metadata too long or holds NUL";
		return -1;
	}
	memcpy(tmp, val, len);
	tmp[len] = '\0';
	if (strncmp(tmp, "v1;", 3) != 0) {
		*cause = "metadata version is not v1";
		return -1;
	}
	for (p = tmp + 3; p != NULL && *p != '\0'; p = next) {
		if (strncmp(p, "n=", 2) == 0) {
			if (strlcpy(m->name, p + 2, sizeof(m->name)) >=
			    sizeof(m->name)) {
				*cause = "metadata name too long";
				return -1;
			}
			break;
		}
		if ((next = strchr(p, ';')) != NULL)
			*next++ = '\0';
		if (strncmp(p, "o=", 2) == 0) {
			if (!siteid_valid(p + 2)) {
				*cause = "metadata origin is not a site id";
				return -1;
			}
			strlcpy(m->origin, p + 2, sizeof(m->origin));
		} else if (strncmp(p, "p=", 2) == 0) {
			for (el = p + 2; el != NULL; el = comma) {
				if ((comma = strchr(el, ',')) != NULL)
					*comma++ = '\0';
				if (!siteid_valid(el)) {
					*cause = "metadata path holds a bad "
					    "site id";
					return -1;
				}
				if (m->npath == META_MAXPATH) {
					*cause = "metadata path too long";
					return -1;
				}
				strlcpy(m->path[m->npath++], el,
				    sizeof(m->path[0]));
			}
		}
		/* unknown elements: later minor versions */
	}
	if (m->origin[0] == '\0' || m->npath == 0) {
		*cause = "metadata lacks origin or path";
		return -1;
	}
	if (strcmp(m->path[0], m->origin) != 0) {
		*cause = "metadata path does not start at the origin";
		return -1;
	}
	return 0;
}

int
meta_from_txt(const struct txt *t, struct splice_meta *m, const char **cause)
{
	const unsigned char *v;
	size_t vlen;

	if ((v = txt_get(t, META_KEY, &vlen)) == NULL)
		return 0;
	return meta_parse((const char *)v, vlen, m, cause) == -1 ? -1 : 1;
}

int
meta_format(const struct splice_meta *m, char *out, size_t outlen)
{
	size_t i, len;
	int n;

	n = snprintf(out, outlen, META_KEY "=v1;o=%s;p=", m->origin);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	len = (size_t)n;
	for (i = 0; i < m->npath; i++) {
		n = snprintf(out + len, outlen - len, "%s%s", i ? "," : "",
		    m->path[i]);
		if (n < 0 || (size_t)n >= outlen - len)
			return -1;
		len += (size_t)n;
	}
	if (m->name[0] != '\0') {
		n = snprintf(out + len, outlen - len, ";n=%s", m->name);
		if (n < 0 || (size_t)n >= outlen - len)
			return -1;
		len += (size_t)n;
	}
	return len > DNSSD_MAXTXTITEM ? -1 : 0;
}

int
meta_has_site(const struct splice_meta *m, const char *site)
{
	size_t i;

	for (i = 0; i < m->npath; i++)
		if (strcmp(m->path[i], site) == 0)
			return 1;
	return 0;
}

size_t
meta_hops(const struct splice_meta *m)
{
	return m->npath ? m->npath - 1 : 0;
}

int
meta_push(struct splice_meta *m, const char *site)
{
	if (m->npath == META_MAXPATH || !siteid_valid(site))
		return -1;
	strlcpy(m->path[m->npath++], site, sizeof(m->path[0]));
	return 0;
}

int
meta_txt_set(const struct txt *in, const struct splice_meta *m,
    struct txt *out)
{
	char item[DNSSD_MAXTXTITEM + 2];
	size_t i, klen = strlen(META_KEY);
	int replaced = 0;

	memset(out, 0, sizeof(*out));
	if (meta_format(m, item, sizeof(item)) == -1)
		return -1;
	for (i = 0; i < in->n; i++) {
		const struct txt_item *it = &in->items[i];
		int is_meta = it->len >= klen &&
		    strncasecmp((const char *)it->data, META_KEY, klen) == 0 &&
		    (it->len == klen || it->data[klen] == '=');

		if (is_meta) {
			if (replaced)
				continue;	/* a second one is dropped */
			replaced = 1;
			if (txt_add(out, item, strlen(item)) == -1)
				goto fail;
		} else if (txt_add(out, it->data, it->len) == -1)
			goto fail;
	}
	if (!replaced && txt_add(out, item, strlen(item)) == -1)
		goto fail;
	return 0;
 fail:
	txt_free(out);
	return -1;
}
