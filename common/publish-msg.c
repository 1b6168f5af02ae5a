/* The publisher's messages between parent and child (publish-msg.h):
 * encoding, and a decoder that checks every length and field before it
 * trusts it. A table says which type goes which way and how long its body
 * may be at the least. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "publish.h"
#include "publish-msg.h"
#include "svc.h"
#include "xmalloc.h"

static const struct pubmsg_kind {
	uint32_t	 type;
	const char	*name;
	enum pubmsg_dir	 dir;
	size_t		 minlen;	/* body, without the type */
} kinds[] = {
	{ PUBMSG_ADD,	 "ADD",	   PUBMSG_TO_CHILD,  4 * 4 + 3 * 4 + 4 },
	{ PUBMSG_UPDATE, "UPDATE", PUBMSG_TO_CHILD,  4 * 4 },
	{ PUBMSG_REMOVE, "REMOVE", PUBMSG_TO_CHILD,  4 },
	{ PUBMSG_UP,	 "UP",	   PUBMSG_TO_PARENT, 4 },
	{ PUBMSG_STATE,	 "STATE",  PUBMSG_TO_PARENT, 3 * 4 + 2 * 4 },
};

static const struct pubmsg_kind *
kind_of(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].type == type)
			return &kinds[i];
	return NULL;
}

const char *
pubmsg_type_name(uint32_t type)
{
	const struct pubmsg_kind *k = kind_of(type);

	return k != NULL ? k->name : "unknown";
}

void
pubmsg_clear(struct pubmsg *m)
{
	free(m->name);
	free(m->stype);
	free(m->domain);
	free(m->err);
	txt_free(&m->txt);
	memset(m, 0, sizeof(*m));
}

/* --- encoding ------------------------------------------------------------ */

static void
put_txt(struct buf *b, const struct txt *t)
{
	size_t i;

	buf_put_u32(b, (uint32_t)t->n);
	for (i = 0; i < t->n; i++)
		buf_put_string(b, t->items[i].data, t->items[i].len);
}

int
pubmsg_put(struct buf *out, const struct pubmsg *m)
{
	struct buf b;
	int r = -1;

	buf_init(&b, PUBMSG_MAX);
	buf_put_u32(&b, m->type);
	switch (m->type) {
	case PUBMSG_ADD:
		buf_put_u32(&b, m->id);
		buf_put_u32(&b, m->gen);
		buf_put_cstring(&b, m->name);
		buf_put_cstring(&b, m->stype);
		buf_put_cstring(&b, m->domain);
		buf_put_u32(&b, m->port);
		buf_put_u32(&b, m->scope);
		buf_put_u32(&b, m->ifindex);
		put_txt(&b, &m->txt);
		break;
	case PUBMSG_UPDATE:
		buf_put_u32(&b, m->id);
		buf_put_u32(&b, m->gen);
		buf_put_u32(&b, m->port);
		put_txt(&b, &m->txt);
		break;
	case PUBMSG_REMOVE:
		buf_put_u32(&b, m->id);
		break;
	case PUBMSG_UP:
		buf_put_u32(&b, m->up);
		break;
	case PUBMSG_STATE:
		buf_put_u32(&b, m->id);
		buf_put_u32(&b, m->gen);
		buf_put_u32(&b, m->state);
		buf_put_cstring(&b, m->name);
		buf_put_cstring(&b, m->err);
		break;
	default:
		errno = EINVAL;
		goto out;
	}
	if (buf_failed(&b) || buf_room(out) < 4 + buf_len(&b)) {
		errno = ENOBUFS;
		goto out;
	}
	if (buf_put_u32(out, (uint32_t)buf_len(&b)) == 0 &&
	    buf_put(out, buf_ptr(&b), buf_len(&b)) == 0)
		r = 0;
out:
	buf_free(&b);
	return r;
}

/* --- decoding ------------------------------------------------------------ */

static int
get_u32(struct buf *b, uint32_t *v, const char *what, char **cause)
{
	if (buf_get_u32(b, v) == -1)
		return cause_set(cause, "truncated at %s", what);
	return 0;
}

/* A string of at most max bytes: text (no NUL) unless binary; *len, if
 * not NULL, gets its length. */
static int
get_str(struct buf *b, size_t max, int binary, char **out, size_t *len,
    const char *what, char **cause)
{
	uint32_t n;

	*out = NULL;
	if (buf_peek_u32(b, &n) == -1)
		return cause_set(cause, "truncated at %s", what);
	if (n > buf_len(b) - 4)
		return cause_set(cause, "%s of %u bytes, %zu left", what, n,
		    buf_len(b) - 4);
	if (n > max)
		return cause_set(cause, "%s of %u bytes (at most %zu)", what,
		    n, max);
	if (!binary && memchr(buf_ptr(b) + 4, '\0', n) != NULL)
		return cause_set(cause, "%s holds a NUL byte", what);
	*out = xmalloc((size_t)n + 1);
	memcpy(*out, buf_ptr(b) + 4, n);
	(*out)[n] = '\0';
	if (len != NULL)
		*len = n;
	buf_consume(b, 4 + (size_t)n);
	return 0;
}

static int
get_txt(struct buf *b, struct txt *t, char **cause)
{
	uint32_t n, i;
	size_t len;
	char *item;

	if (get_u32(b, &n, "TXT item count", cause) == -1)
		return -1;
	/* each item costs at least its length field */
	if (n > DNSSD_MAXTXT || n > buf_len(b) / 4)
		return cause_set(cause, "%u TXT items in %zu bytes", n,
		    buf_len(b));
	for (i = 0; i < n; i++) {
		if (get_str(b, DNSSD_MAXTXTITEM, 1, &item, &len, "TXT item",
		    cause) == -1)
			return -1;
		if (txt_add(t, item, len) == -1)
			fatalx("out of memory");
		free(item);
	}
	return pub_txt_check(t, cause);
}

static int
get_body(struct buf *b, struct pubmsg *m, char **cause)
{
	switch (m->type) {
	case PUBMSG_ADD:
		if (get_u32(b, &m->id, "id", cause) == -1 ||
		    get_u32(b, &m->gen, "gen", cause) == -1 ||
		    get_str(b, DNSSD_MAXNAME, 0, &m->name, NULL, "name",
		    cause) == -1 ||
		    get_str(b, DNSSD_MAXTYPE, 0, &m->stype, NULL, "type",
		    cause) == -1 ||
		    get_str(b, PUBMSG_DOMAINLEN, 0, &m->domain, NULL,
		    "domain", cause) == -1 ||
		    get_u32(b, &m->port, "port", cause) == -1 ||
		    get_u32(b, &m->scope, "scope", cause) == -1 ||
		    get_u32(b, &m->ifindex, "ifindex", cause) == -1 ||
		    get_txt(b, &m->txt, cause) == -1)
			return -1;
		if (*m->domain == '\0') {
			free(m->domain);
			m->domain = NULL;
		}
		if (m->port == 0 || m->port > UINT16_MAX)
			return cause_set(cause, "port %u", m->port);
		if (m->scope > PUB_SCOPE_HOST)
			return cause_set(cause, "scope %u", m->scope);
		if (m->scope == PUB_SCOPE_IFACE &&
		    (m->ifindex == 0 || m->ifindex > INT32_MAX))
			return cause_set(cause, "interface index %u",
			    m->ifindex);
		break;
	case PUBMSG_UPDATE:
		if (get_u32(b, &m->id, "id", cause) == -1 ||
		    get_u32(b, &m->gen, "gen", cause) == -1 ||
		    get_u32(b, &m->port, "port", cause) == -1 ||
		    get_txt(b, &m->txt, cause) == -1)
			return -1;
		if (m->port == 0 || m->port > UINT16_MAX)
			return cause_set(cause, "port %u", m->port);
		break;
	case PUBMSG_REMOVE:
		if (get_u32(b, &m->id, "id", cause) == -1)
			return -1;
		break;
	case PUBMSG_UP:
		if (get_u32(b, &m->up, "up", cause) == -1)
			return -1;
		if (m->up > 1)
			return cause_set(cause, "up %u", m->up);
		return 0;
	case PUBMSG_STATE:
		if (get_u32(b, &m->id, "id", cause) == -1 ||
		    get_u32(b, &m->gen, "gen", cause) == -1 ||
		    get_u32(b, &m->state, "state", cause) == -1 ||
		    get_str(b, DNSSD_MAXNAME, 0, &m->name, NULL, "name",
		    cause) == -1 ||
		    get_str(b, PUBMSG_ERRLEN, 0, &m->err, NULL, "error",
		    cause) == -1)
			return -1;
		if (m->state > PUB_FAILED)
			return cause_set(cause, "state %u", m->state);
		if (*m->name == '\0')
			return cause_set(cause, "empty name");
		if (*m->err == '\0') {
			free(m->err);
			m->err = NULL;
		}
		if ((m->err != NULL) != (m->state == PUB_FAILED))
			return cause_set(cause, "state %s %s an error",
			    pub_state_name(m->state), m->err != NULL ?
			    "with" : "without");
		break;
	}
	if (m->id == 0)
		return cause_set(cause, "entry id 0");
	return 0;
}

int
pubmsg_get(struct buf *in, enum pubmsg_dir dir, struct pubmsg *m,
    char **cause)
{
	const struct pubmsg_kind *k;
	struct buf b;
	uint32_t len, type;
	int r = -1;

	memset(m, 0, sizeof(*m));
	if (buf_peek_u32(in, &len) == -1)
		return 0;
	if (len < 4 || len > PUBMSG_MAX)
		return cause_set(cause, "message of %u bytes (4 to %d)", len,
		    PUBMSG_MAX);
	if (buf_len(in) - 4 < len)
		return 0;
	buf_init(&b, len);
	if (buf_put(&b, buf_ptr(in) + 4, len) == -1)
		fatalx("out of memory");
	buf_consume(in, 4 + (size_t)len);
	(void)buf_get_u32(&b, &type);		/* len >= 4 */
	if ((k = kind_of(type)) == NULL) {
		cause_set(cause, "unknown message type %u", type);
		goto out;
	}
	if (k->dir != dir) {
		cause_set(cause, "%s message in the wrong direction", k->name);
		goto out;
	}
	if (buf_len(&b) < k->minlen) {
		cause_set(cause, "%s message of %zu bytes (at least %zu)",
		    k->name, buf_len(&b), k->minlen);
		goto out;
	}
	m->type = (enum pubmsg_type)type;
	if (get_body(&b, m, cause) == -1) {
		char *c = *cause;

		cause_set(cause, "%s message: %s", k->name, c);
		free(c);
		goto out;
	}
	if (buf_len(&b) != 0) {
		cause_set(cause, "%s message: %zu bytes too many", k->name,
		    buf_len(&b));
		goto out;
	}
	r = 1;
out:
	buf_free(&b);
	if (r == -1)
		pubmsg_clear(m);
	return r;
}
