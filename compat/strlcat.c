/* strlcat(3) where the C library lacks it (glibc before 2.38): appends
 * src to the string in dst, never writing past size bytes, and returns
 * the length it tried to make (the string in dst, at most size, plus
 * strlen(src)), so that a result >= size means the string was cut.
 * Built whatever the system has: the unit test runs it everywhere. */
#include "config.h"

#include <string.h>

size_t
compat_strlcat(char *dst, const char *src, size_t size)
{
	size_t dlen, slen = strlen(src), n;
	const char *end;

	/* dst with no terminator within size: nothing can be appended */
	if ((end = memchr(dst, '\0', size)) == NULL)
		return size + slen;
	dlen = (size_t)(end - dst);
	n = slen < size - dlen - 1 ? slen : size - dlen - 1;
	memcpy(dst + dlen, src, n);
	dst[dlen + n] = '\0';
	return dlen + slen;
}
