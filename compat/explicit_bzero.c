/* explicit_bzero(3) where the C library lacks it: memset(3) called
 * through a volatile pointer, which the compiler cannot see through and
 * so cannot drop as a store to memory that is about to die. */
#include "config.h"

#include <string.h>

static void *(*volatile compat_memset)(void *, int, size_t) = memset;

void
compat_explicit_bzero(void *p, size_t len)
{
	compat_memset(p, 0, len);
}
