/* arc4random(3) and arc4random_uniform(3) where the C library lacks them
 * (glibc before 2.36): numbers straight from getrandom(2) (or its
 * replacement over getentropy(3)). rnsplice draws a few of them (backoff
 * jitter, DNS ids), so no buffering. They cannot fail: without a source
 * of randomness the program aborts, as OpenBSD's does. */
#include "config.h"

#include <sys/types.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

uint32_t
compat_arc4random(void)
{
	uint32_t v;
	ssize_t n;

	while ((n = getrandom(&v, sizeof(v), 0)) != (ssize_t)sizeof(v))
		if (n != -1 || errno != EINTR)
			abort();
	return v;
}

/* Uniform in [0, bound): values below 2^32 mod bound are drawn again, so
 * that each remainder comes from the same number of values. */
uint32_t
compat_arc4random_uniform(uint32_t bound)
{
	uint32_t v, min;

	if (bound < 2)
		return 0;
	min = (uint32_t)-bound % bound;
	do
		v = compat_arc4random();
	while (v < min);
	return v % bound;
}
