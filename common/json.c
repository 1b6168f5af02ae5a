/* JSON string escaping (RFC 8259). Numbers and structure are written by
 * the callers with buf_putf: they know their shape. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "escape.h"
#include "json.h"

int
json_strn(struct buf *b, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0, n;
	unsigned int cp;
	char esc[8];

	if (buf_put(b, "\"", 1) == -1)
		return -1;
	while (i < len) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			if (buf_put(b, esc, 2) == -1)
				return -1;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			if (buf_put(b, esc, 6) == -1)
				return -1;
			i++;
		} else if (c < 0x80) {
			if (buf_put(b, &p[i], 1) == -1)
				return -1;
			i++;
		} else if ((n = utf8_decode(p + i, len - i, &cp)) > 0) {
			/* valid JSON either way; escaped, the raw output
			 * shows no C1 or bidirectional control */
			if (uc_unsafe(cp)) {
				snprintf(esc, sizeof(esc), "\\u%04x", cp);
				if (buf_put(b, esc, 6) == -1)
					return -1;
			} else if (buf_put(b, p + i, n) == -1)
				return -1;
			i += n;
		} else {
			if (buf_put(b, "\xef\xbf\xbd", 3) == -1)
				return -1;
			i++;
		}
	}
	return buf_put(b, "\"", 1);
}

int
json_str(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_put(b, "null", 4);
	return json_strn(b, s, strlen(s));
}
