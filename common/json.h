/* A minimal JSON writer for the control socket's --json output. */
#ifndef RNSPLICE_JSON_H
#define RNSPLICE_JSON_H

#include <stddef.h>

struct buf;

/* Append s as a JSON string (quoted, escaped; invalid UTF-8 bytes become
 * U+FFFD so the output is always valid JSON). NULL becomes null. */
int	json_str(struct buf *, const char *s);
int	json_strn(struct buf *, const void *s, size_t len);

#endif
