/* The data model: one service (struct svc) and its TXT record, as the
 * protocol, the browser, the agent and the publisher all describe it. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "svc.h"

void
svc_free(struct svc *s)
{
	free(s->name);
	free(s->type);
	free(s->domain);
	free(s->host);
	free(s->addr);
	txt_free(&s->txt);
	memset(s, 0, sizeof(*s));
}

int
txt_add(struct txt *t, const void *data, size_t len)
{
	struct txt_item *n;
	unsigned char *d;

	if ((d = malloc(len + 1)) == NULL)
		return -1;
	if ((n = reallocarray(t->items, t->n + 1, sizeof(*n))) == NULL) {
		free(d);
		return -1;
	}
	if (len > 0)
		memcpy(d, data, len);
	d[len] = '\0';
	t->items = n;
	t->items[t->n].data = d;
	t->items[t->n].len = len;
	t->n++;
	return 0;
}

void
txt_free(struct txt *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->items[i].data);
	free(t->items);
	t->items = NULL;
	t->n = 0;
}

int
txt_copy(struct txt *dst, const struct txt *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++)
		if (txt_add(dst, src->items[i].data, src->items[i].len) == -1) {
			txt_free(dst);
			return -1;
		}
	return 0;
}

int
txt_equal(const struct txt *a, const struct txt *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->items[i].len != b->items[i].len ||
		    memcmp(a->items[i].data, b->items[i].data,
		    a->items[i].len) != 0)
			return 0;
	return 1;
}

/* Keys compare case-insensitively (RFC 6763 6.4). */
static int
txt_key_is(const struct txt_item *it, const char *key, size_t klen)
{
	return it->len >= klen && strncasecmp((const char *)it->data, key,
	    klen) == 0 && (it->len == klen || it->data[klen] == '=');
}

const unsigned char *
txt_get(const struct txt *t, const char *key, size_t *vlen)
{
	size_t i, klen = strlen(key);

	for (i = 0; i < t->n; i++)
		if (txt_key_is(&t->items[i], key, klen)) {
			if (t->items[i].len == klen) {
				*vlen = 0;
				return t->items[i].data + klen;
			}
			*vlen = t->items[i].len - klen - 1;
			return t->items[i].data + klen + 1;
		}
	return NULL;
}

int
txt_remove_key(struct txt *t, const char *key)
{
	size_t i, j, klen = strlen(key);
	int removed = 0;

	for (i = j = 0; i < t->n; i++) {
		if (txt_key_is(&t->items[i], key, klen)) {
			free(t->items[i].data);
			removed++;
		} else
			t->items[j++] = t->items[i];
	}
	t->n = j;
	return removed;
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

int
svc_equal(const struct svc *a, const struct svc *b)
{
	return str_eq(a->name, b->name) && str_eq(a->type, b->type) &&
	    str_eq(a->domain, b->domain) && str_eq(a->host, b->host) &&
	    str_eq(a->addr, b->addr) && a->port == b->port &&
	    txt_equal(&a->txt, &b->txt);
}

static int
dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	return (*dst = strdup(src)) == NULL ? -1 : 0;
}

int
svc_copy(struct svc *dst, const struct svc *src)
{
	memset(dst, 0, sizeof(*dst));
	if (dup_str(&dst->name, src->name) == -1 ||
	    dup_str(&dst->type, src->type) == -1 ||
	    dup_str(&dst->domain, src->domain) == -1 ||
	    dup_str(&dst->host, src->host) == -1 ||
	    dup_str(&dst->addr, src->addr) == -1 ||
	    txt_copy(&dst->txt, &src->txt) == -1) {
		svc_free(dst);
		return -1;
	}
	dst->port = src->port;
	return 0;
}
