/* getrandom(2) with flags 0 where the system lacks it, over getentropy(3),
 * which fills at most 256 bytes a call. */
#include "config.h"

#ifndef HAVE_GETRANDOM
#include <sys/types.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#ifndef HAVE_GETENTROPY
#error "neither getrandom(2) nor getentropy(3): no source for the site id"
#endif

#define ENTROPY_MAX	256

ssize_t
compat_getrandom(void *buf, size_t len, unsigned int flags)
{
	unsigned char *p = buf;
	size_t off, n;

	if (flags != 0 || len > SSIZE_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (off = 0; off < len; off += n) {
		n = len - off < ENTROPY_MAX ? len - off : ENTROPY_MAX;
		if (getentropy(p + off, n) == -1)
			return -1;
	}
	return (ssize_t)len;
}
#endif
