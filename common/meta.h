/* Splice metadata carried in the reserved TXT key (PROTOCOL.md section 7). */
#ifndef RNSPLICE_META_H
#define RNSPLICE_META_H

#include <stddef.h>

#include "siteid.h"

#define META_KEY	"rnsplice"
#define META_MAXPATH	16

struct txt;

struct splice_meta {
	char	origin[SITEID_MAX + 1];
	char	path[META_MAXPATH][SITEID_MAX + 1];
	size_t	npath;
	char	name[64];	/* original instance name; "" if unchanged */
};

/* 1: the record carries metadata (parsed into *m); 0: none; -1: the key is
 * there but malformed (reason in *cause). */
int	meta_from_txt(const struct txt *, struct splice_meta *,
	    const char **cause);
int	meta_parse(const char *val, size_t len, struct splice_meta *,
	    const char **cause);
/* Format as the TXT item "rnsplice=..."; -1 if it would not fit 255. */
int	meta_format(const struct splice_meta *, char *out, size_t outlen);
int	meta_has_site(const struct splice_meta *, const char *site);
size_t	meta_hops(const struct splice_meta *);
/* Append a site to the path; -1 if the path is full. */
int	meta_push(struct splice_meta *, const char *site);
/* out = in with the metadata item set to m: the first "rnsplice" item
 * replaced in place, later ones dropped, appended if there was none
 * (PROTOCOL.md section 7). -1 if m does not fit one item or out of
 * memory (out is then empty). */
int	meta_txt_set(const struct txt *in, const struct splice_meta *m,
	    struct txt *out);

#endif
