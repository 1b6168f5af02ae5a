/* Exponential backoff with jitter: the one schedule of every retry (a
 * remote's reconnection, a refused service's probes, DNS updates). */
#ifndef RNSPLICE_BACKOFF_H
#define RNSPLICE_BACKOFF_H

#include <stdint.h>

/* min_ms doubled step times, capped at max_ms, then moved by up to
 * jitter percent either way by rnd (a random number). */
unsigned int	backoff_ms(unsigned int step, unsigned int min_ms,
		    unsigned int max_ms, unsigned int jitter, uint32_t rnd);

#endif
