/* Field escaping of the line protocol (PROTOCOL.md section 2). */
#ifndef RNSPLICE_ESCAPE_H
#define RNSPLICE_ESCAPE_H

#include <stddef.h>

struct buf;

/* Length of the well-formed UTF-8 sequence at p (1..4), 0 if malformed. */
size_t	utf8_seqlen(const unsigned char *p, size_t avail);
/* The same, and its code point in *cp (the byte itself if malformed). */
size_t	utf8_decode(const unsigned char *p, size_t avail, unsigned int *cp);
/* 1 for a code point that a terminal or viewer acts on instead of showing
 * it: C0 and C1 controls, DEL, the bidirectional embeddings, overrides
 * and isolates (they reorder the text around them), and the line and
 * paragraph separators. Logs and CLI output show these escaped. */
int	uc_unsafe(unsigned int cp);
int	utf8_valid(const void *p, size_t len);
/* Make a C string valid UTF-8 text in place: every byte that does not
 * start a well-formed sequence becomes '?' (e.g. a sequence cut short by
 * snprintf truncation). Returns the number of bytes replaced. */
size_t	utf8_scrub(char *s);

/* Append the encoding of data[0..len) to out. */
int	field_encode(struct buf *out, const void *data, size_t len);

#define FIELD_TEXT	0	/* must decode to UTF-8 without NUL */
#define FIELD_BINARY	1

/* Decode one field. On success *out is a malloc'ed copy, NUL-terminated
 * (for convenience even when binary), *outlen its length. On failure
 * returns -1 and *cause says why. */
int	field_decode(const char *field, size_t flen, int kind, char **out,
	    size_t *outlen, const char **cause);

#endif
