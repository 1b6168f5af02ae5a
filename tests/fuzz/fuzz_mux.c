/* libFuzzer target: the mux reply parser (mux_reader_next). The first
 * input byte picks how the rest is cut into chunks, so that packets split
 * across reads are covered too. Every input must end in events, NONE or
 * one final ERROR with a reason; nothing may crash, leak or loop. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mux.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mux_reader r;
	enum mux_event ev;
	size_t chunk, off, n, events = 0;

	if (size < 1)
		return 0;
	chunk = data[0] == 0 ? size : data[0];
	data++;
	size--;

	mux_reader_init(&r, 1);
	for (off = 0; off < size && !r.done; off += n) {
		n = size - off < chunk ? size - off : chunk;
		if (buf_put(&r.in, data + off, n) == -1)
			break;	/* only past the limit: a parse must have failed */
		while ((ev = mux_reader_next(&r)) != MUX_EV_NONE) {
			if (++events > size)
				abort();	/* more events than bytes */
			switch (ev) {
			case MUX_EV_ERROR:
			case MUX_EV_FAILED:
				if (r.reason[0] == '\0' ||
				    memchr(r.reason, '\0', sizeof(r.reason)) ==
				    NULL)
					abort();
				break;
			case MUX_EV_EXIT:
				if (!r.opened)
					abort();
				break;
			case MUX_EV_OPENED:
			case MUX_EV_ALIVE:
			case MUX_EV_OK:
				if (!r.got_hello)
					abort();
				break;
			default:
				abort();	/* EOF/NONE never come from here */
			}
			if (ev == MUX_EV_ERROR && !r.done)
				abort();
		}
	}
	if (r.done && mux_reader_next(&r) != MUX_EV_NONE)
		abort();
	mux_reader_free(&r);
	return 0;
}
