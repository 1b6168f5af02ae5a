/* libFuzzer target: the line reader and the message parser. Every input
 * must either parse, and then survive a format/parse round trip unchanged,
 * or be rejected with a reason; nothing may crash or leak. The seeds
 * (corpus/proto) hold every verb, the export ones (section 8) and the
 * greeting's keepalive options (section 5) too. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "proto.h"

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf in, out;
	struct msg m, m2;
	char *cause, *line, *line2;
	const char *code;
	size_t len, len2;
	int r;

	buf_init(&in, PROTO_MAXLINE * 2);
	if (buf_put(&in, data, size) == -1) {
		buf_free(&in);
		return 0;
	}
	while ((r = buf_getline(&in, PROTO_MAXLINE, &line, &len)) !=
	    BUF_LINE_NONE) {
		if (r != BUF_LINE_OK)
			continue;
		if (msg_parse(line, len, &m, &cause, &code) == -1) {
			if (cause == NULL || cause[0] == '\0' ||
			    strlen(cause) >= PROTO_ERRLEN || code == NULL)
				abort();
			free(cause);
			msg_free(&m);
			continue;
		}
		buf_init(&out, PROTO_MAXLINE * 4);
		if (msg_format(&out, &m, PROTO_MAXLINE * 4) == -1)
			abort();
		if (buf_getline(&out, PROTO_MAXLINE * 4, &line2, &len2) !=
		    BUF_LINE_OK)
			abort();
		if (msg_parse(line2, len2, &m2, &cause, &code) == -1)
			abort();
		if (m.type != m2.type || m.id != m2.id ||
		    !svc_equal(&m.svc, &m2.svc) || !same(m.code, m2.code) ||
		    !same(m.text, m2.text) || !same(m.path, m2.path) ||
		    !same(m.token, m2.token) || !same(m.peer_id, m2.peer_id) ||
		    !same(m.features, m2.features) || m.major != m2.major ||
		    m.minor != m2.minor || m.maxline != m2.maxline ||
		    m.maxhops != m2.maxhops || m.ping != m2.ping ||
		    m.beat != m2.beat || m.idle != m2.idle)
			abort();
		msg_free(&m2);
		msg_free(&m);
		buf_free(&out);
	}
	buf_free(&in);
	return 0;
}
