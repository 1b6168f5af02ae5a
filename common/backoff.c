/* Exponential backoff with jitter (backoff.h). */
#include "config.h"

#include <stdint.h>

#include "backoff.h"

unsigned int
backoff_ms(unsigned int step, unsigned int min_ms, unsigned int max_ms,
    unsigned int jitter, uint32_t rnd)
{
	unsigned int base = min_ms, spread;

	while (step > 0 && base < max_ms) {
		base *= 2;
		step--;
	}
	if (base > max_ms)
		base = max_ms;
	spread = base / 100 * jitter;
	return base - spread + rnd % (2 * spread + 1);
}
