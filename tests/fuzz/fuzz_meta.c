/* libFuzzer target: the splice metadata parser (PROTOCOL.md section 7),
 * both as a bare value and as one item of a TXT record. Every value must
 * either parse into metadata that holds its invariants and survives a
 * format/parse round trip, or be rejected with a reason. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "proto.h"
#include "siteid.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct splice_meta *m)
{
	struct splice_meta m2, m3;
	const char *cause = NULL;
	char out[512];
	size_t i, klen = sizeof(META_KEY);	/* "rnsplice=" */

	if (m->npath == 0 || m->npath > META_MAXPATH ||
	    !siteid_valid(m->origin) || strcmp(m->path[0], m->origin) != 0 ||
	    meta_hops(m) != m->npath - 1 || !meta_has_site(m, m->origin))
		abort();
	for (i = 0; i < m->npath; i++)
		if (!siteid_valid(m->path[i]))
			abort();
	if (strlen(m->name) >= sizeof(m->name))
		abort();
	if (meta_format(m, out, sizeof(out)) == -1)
		return;
	if (strncmp(out, META_KEY "=", klen) != 0)
		abort();
	if (meta_parse(out + klen, strlen(out + klen), &m2, &cause) == -1)
		abort();
	if (strcmp(m->origin, m2.origin) != 0 || m->npath != m2.npath ||
	    strcmp(m->name, m2.name) != 0)
		abort();
	for (i = 0; i < m->npath; i++)
		if (strcmp(m->path[i], m2.path[i]) != 0)
			abort();
	/* one more hop: either appended or refused, never a broken path */
	m3 = m2;
	if (meta_push(&m3, "fuzzsite0001") == 0) {
		if (m3.npath != m2.npath + 1 ||
		    !meta_has_site(&m3, "fuzzsite0001"))
			abort();
	} else if (m2.npath != META_MAXPATH) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct splice_meta m;
	struct txt t = { NULL, 0 };
	const char *cause = NULL;
	int r;

	if (meta_parse((const char *)data, size, &m, &cause) == 0)
		check(&m);
	else if (cause == NULL || cause[0] == '\0')
		abort();

	/* the same bytes as a TXT item: KEY=VALUE, a bare KEY, anything */
	if (size <= DNSSD_MAXTXTITEM && txt_add(&t, data, size) == 0) {
		cause = NULL;
		r = meta_from_txt(&t, &m, &cause);
		if (r == 1)
			check(&m);
		else if (r == -1 && (cause == NULL || cause[0] == '\0'))
			abort();
		else if (r != 0 && r != 1 && r != -1)
			abort();
	}
	txt_free(&t);
	return 0;
}
