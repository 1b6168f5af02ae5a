/* libFuzzer target: the agent's configuration parser (agent.conf) and the
 * merge of the top level into each remote. Every input must either parse
 * and merge into remotes that are complete, or be rejected with a
 * "FILE:LINE: reason" message; nothing may crash or leak. */
#include "config.h"

#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_conf *c;
	struct remote_conf *rc;
	char *cause = NULL;

	if (size > 64 * 1024)
		return 0;
	if ((c = conf_new()) == NULL)
		abort();
	if (conf_parse(c, "fuzz.conf", (const char *)data, size,
	    &cause) == -1) {
		if (cause == NULL || (strncmp(cause, "fuzz.conf", 9) != 0 &&
		    strcmp(cause, "out of memory") != 0))
			abort();
		free(cause);
		conf_free(c);
		return 0;
	}
	if (cause != NULL)
		abort();
	if (conf_finish(c, &cause) == -1) {
		if (cause == NULL || cause[0] == '\0')
			abort();
		free(cause);
		conf_free(c);
		return 0;
	}
	TAILQ_FOREACH(rc, &c->remotes, entry) {
		if (rc->name[0] == '\0' || rc->destination == NULL ||
		    rc->name_template == NULL)
			abort();
		if ((rc->ntypes == 0) != (rc->types == NULL) ||
		    (rc->nallow == 0) != (rc->allow == NULL))
			abort();
	}
	conf_free(c);
	return 0;
}
