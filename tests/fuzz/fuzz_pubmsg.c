/* libFuzzer target: the messages between the publisher and its child
 * (pubmsg_get, common/publish-msg.c). The first input byte picks the
 * reading end (bit 7) and how the rest is cut into chunks (the other
 * bits), so that messages split across reads are covered too. Every
 * message read must hold the decoder's bounds and survive a round trip
 * (put, get: the same fields); the first refusal must come with a reason
 * and ends the stream, as it ends the connection. Nothing may crash, leak
 * or loop. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "publish.h"
#include "publish-msg.h"
#include "svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
check(const struct pubmsg *m, enum pubmsg_dir dir)
{
	struct buf b;
	struct pubmsg r;
	char *cause = NULL;

	if (m->name != NULL && strlen(m->name) > DNSSD_MAXNAME)
		abort();
	if (m->err != NULL && (*m->err == '\0' ||
	    strlen(m->err) > PUBMSG_ERRLEN))
		abort();
	if (m->domain != NULL && *m->domain == '\0')
		abort();
	if (pub_txt_check(&m->txt, &cause) == -1)
		abort();
	switch (m->type) {
	case PUBMSG_ADD:
	case PUBMSG_UPDATE:
		if (dir != PUBMSG_TO_CHILD || m->id == 0 || m->port == 0 ||
		    m->port > UINT16_MAX || m->scope > PUB_SCOPE_HOST)
			abort();
		break;
	case PUBMSG_REMOVE:
		if (dir != PUBMSG_TO_CHILD || m->id == 0)
			abort();
		break;
	case PUBMSG_UP:
		if (dir != PUBMSG_TO_PARENT || m->up > 1)
			abort();
		break;
	case PUBMSG_STATE:
		if (dir != PUBMSG_TO_PARENT || m->id == 0 ||
		    m->state > PUB_FAILED || m->name == NULL ||
		    (m->err != NULL) != (m->state == PUB_FAILED))
			abort();
		break;
	default:
		abort();
	}

	buf_init(&b, 4 + PUBMSG_MAX);
	if (pubmsg_put(&b, m) == -1 || pubmsg_get(&b, dir, &r, &cause) != 1 ||
	    buf_len(&b) != 0)
		abort();
	if (r.type != m->type || r.id != m->id || r.gen != m->gen ||
	    r.port != m->port || r.scope != m->scope ||
	    r.ifindex != m->ifindex || r.state != m->state || r.up != m->up ||
	    !same_str(r.name, m->name) || !same_str(r.stype, m->stype) ||
	    !same_str(r.domain, m->domain) || !same_str(r.err, m->err) ||
	    !txt_equal(&r.txt, &m->txt))
		abort();
	pubmsg_clear(&r);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in;
	struct pubmsg m;
	enum pubmsg_dir dir;
	char *cause = NULL;
	size_t chunk, off, n, msgs = 0;
	int r = 0;

	if (size < 1)
		return 0;
	dir = (data[0] & 0x80) ? PUBMSG_TO_PARENT : PUBMSG_TO_CHILD;
	chunk = (data[0] & 0x7f) == 0 ? size : (data[0] & 0x7f);
	data++;
	size--;

	buf_init(&in, 4 * PUBMSG_MAX);
	for (off = 0; off < size && r != -1; off += n) {
		n = size - off < chunk ? size - off : chunk;
		if (buf_put(&in, data + off, n) == -1)
			abort();	/* never more than one partial message */
		while ((r = pubmsg_get(&in, dir, &m, &cause)) == 1) {
			if (++msgs > size)
				abort();
			check(&m, dir);
			pubmsg_clear(&m);
		}
		if (r == -1 && (cause == NULL || *cause == '\0'))
			abort();
	}
	free(cause);
	buf_free(&in);
	return 0;
}
