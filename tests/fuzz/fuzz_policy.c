/* libFuzzer target: the subsystem's policy file parser and matcher. Every
 * input must either parse, and then answer every question without
 * crashing, or be rejected with a "FILE:LINE: reason" message. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "subsystem.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *names[] = { "Office printer", "caf\xc3\xa9 \\ x",
    "Secret", "*", NULL };
static const char *types[] = { "_http._tcp", "_ipp._tcp", "_X._udp" };
static const char *addrs[] = { "10.1.0.2", "fe80::1%eth0", "::1",
    "127.0.0.1", "2001:db8::7", NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p;
	char *cause = NULL;
	size_t i, j, k;
	int r;

	if (size > POLICY_MAXFILE)
		return 0;
	p = policy_parse("fuzz.conf", (const char *)data, size, &cause);
	if (p == NULL) {
		if (cause == NULL || strncmp(cause, "fuzz.conf", 9) != 0)
			abort();
		free(cause);
		return 0;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
			for (k = 0; k < sizeof(addrs) / sizeof(addrs[0]); k++) {
				r = policy_match(p, names[i], types[j],
				    addrs[k], NULL);
				if (r != POLICY_ALLOW && r != POLICY_DENY &&
				    r != POLICY_MAYBE)
					abort();
				/* all known: never MAYBE */
				if (names[i] != NULL && addrs[k] != NULL &&
				    r == POLICY_MAYBE)
					abort();
			}
	/* the export rules: a deciding rule is one of the file's */
	for (i = 0; i < sizeof(names) / sizeof(names[0]) - 1; i++)
		for (j = 0; j < sizeof(types) / sizeof(types[0]); j++) {
			const struct export_rule *x;

			x = policy_export_match(p, names[i], types[j]);
			if (x != NULL && (x < p->xrules ||
			    x >= p->xrules + p->nxrules))
				abort();
			if (x != NULL && x->accept && !p->any_accept)
				abort();
		}
	policy_free(p);
	return 0;
}
