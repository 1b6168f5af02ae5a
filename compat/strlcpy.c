/* strlcpy(3) where the C library lacks it (glibc before 2.38): copies at
 * most size - 1 bytes, terminates whenever size > 0, and returns
 * strlen(src), so that a result >= size means the copy was cut.
 * Built whatever the system has: the unit test runs it everywhere. */
#include "config.h"

#include <string.h>

size_t
compat_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
