/* libFuzzer target: the TSIG key file parser (agent/tsigkey.c), the file
 * tsig-keygen writes and dns-update's "key" names. Every input must either
 * parse into a key whose fields hold their invariants, or be rejected
 * with a "FILE..." message; nothing may crash or leak. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "dnsupdate.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsigkey k;
	char *cause = NULL;
	size_t len;

	if (size > TSIG_FILEMAX)
		return 0;
	if (tsigkey_parse("fuzz.key", (const char *)data, size, &k,
	    &cause) == -1) {
		if (cause == NULL || strncmp(cause, "fuzz.key", 8) != 0)
			abort();
		free(cause);
		return 0;
	}
	if (cause != NULL)
		abort();
	len = strlen(k.name);
	if (len == 0 || len > TSIG_NAMEMAX || k.name[len - 1] == '.' ||
	    strncmp(k.alg, "hmac-", 5) != 0 || strlen(k.secret) < 24 ||
	    strlen(k.secret) % 4 != 0)
		abort();
	for (len = 0; k.name[len] != '\0'; len++)
		if (k.name[len] >= 'A' && k.name[len] <= 'Z')
			abort();
	return 0;
}
