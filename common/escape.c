/* Field escaping: printable ASCII and well-formed UTF-8 go as they are,
 * every other byte (and '%') as %XX. One representation per value. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "escape.h"

size_t
utf8_seqlen(const unsigned char *p, size_t avail)
{
	unsigned int cp;

	return utf8_decode(p, avail, &cp);
}

size_t
utf8_decode(const unsigned char *p, size_t avail, unsigned int *cpp)
{
	unsigned char c = p[0];
	size_t n, i;
	unsigned int cp;

	*cpp = c;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else
		return 0;
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	*cpp = cp;
	return n;
}

int
uc_unsafe(unsigned int cp)
{
	return cp < 0x20 || cp == 0x7f ||
	    (cp >= 0x80 && cp <= 0x9f) ||		/* C1 controls */
	    (cp >= 0x202a && cp <= 0x202e) ||		/* bidi embed/override */
	    (cp >= 0x2066 && cp <= 0x2069) ||		/* bidi isolates */
	    cp == 0x2028 || cp == 0x2029;		/* line, paragraph sep. */
}

int
utf8_valid(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t i = 0, n;

	while (i < len) {
		if ((n = utf8_seqlen(p + i, len - i)) == 0)
			return 0;
		i += n;
	}
	return 1;
}

size_t
utf8_scrub(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t len = strlen(s), i = 0, n, bad = 0;

	while (i < len) {
		if ((n = utf8_seqlen(p + i, len - i)) == 0) {
			p[i++] = '?';
			bad++;
		} else
			i += n;
	}
	return bad;
}

int
field_encode(struct buf *out, const void *data, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = data;
	size_t i = 0, n, run;
	char esc[3];

	if (len == 0)
		return buf_put(out, "%", 1);
	while (i < len) {
		/* copy runs of safe bytes in one go */
		for (run = 0; i + run < len; run += n) {
			unsigned char c = p[i + run];

			if (c > 0x20 && c < 0x7f && c != '%')
				n = 1;
			else if (c >= 0x80 && (n = utf8_seqlen(p + i + run,
			    len - i - run)) > 1)
				;
			else
				break;
		}
		if (run > 0 && buf_put(out, p + i, run) == -1)
			return -1;
		i += run;
		if (i < len) {
			esc[0] = '%';
			esc[1] = hex[p[i] >> 4];
			esc[2] = hex[p[i] & 0xf];
			if (buf_put(out, esc, 3) == -1)
				return -1;
			i++;
		}
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
field_decode(const char *field, size_t flen, int kind, char **out,
    size_t *outlen, const char **cause)
{
	const unsigned char *p = (const unsigned char *)field;
	char *s;
	size_t i, o = 0, n;
	int hi, lo;

	*out = NULL;
	*outlen = 0;
	if (flen == 0) {
		*cause = "empty field";
		return -1;
	}
	if ((s = malloc(flen + 1)) == NULL) {
		*cause = "out of memory";
		return -1;
	}
	if (flen == 1 && p[0] == '%')
		goto done;
	for (i = 0; i < flen; ) {
		if (p[i] == '%') {
			if (flen - i < 3) {
				*cause = "truncated escape";
				goto fail;
			}
			if ((hi = hexval((char)p[i + 1])) < 0 ||
			    (lo = hexval((char)p[i + 2])) < 0) {
				*cause = "bad escape";
				goto fail;
			}
			s[o++] = (char)(hi << 4 | lo);
			i += 3;
		} else if (p[i] > 0x20 && p[i] < 0x7f) {
			s[o++] = (char)p[i++];
		} else if (p[i] >= 0x80 &&
		    (n = utf8_seqlen(p + i, flen - i)) > 1) {
			memcpy(s + o, p + i, n);
			o += n;
			i += n;
		} else {
			*cause = p[i] >= 0x80 ? "malformed UTF-8" :
			    "control character or space in field";
			goto fail;
		}
	}
	if (kind == FIELD_TEXT) {
		if (memchr(s, '\0', o) != NULL) {
			*cause = "NUL in text field";
			goto fail;
		}
		if (!utf8_valid(s, o)) {
			*cause = "text field is not UTF-8";
			goto fail;
		}
	}
 done:
	s[o] = '\0';
	*out = s;
	*outlen = o;
	return 0;
 fail:
	free(s);
	return -1;
}
