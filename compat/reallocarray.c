/* reallocarray(3) where the C library lacks it (glibc before 2.26):
 * realloc(3) of nmemb * size bytes, failing with ENOMEM instead of
 * wrapping when the product overflows.
 * Built whatever the system has: the unit test runs it everywhere. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

void *
compat_reallocarray(void *p, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, nmemb * size);
}
