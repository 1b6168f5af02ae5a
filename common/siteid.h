/* The site identity: stable per user and host (PROTOCOL.md section 3). */
#ifndef RNSPLICE_SITEID_H
#define RNSPLICE_SITEID_H

#include <stddef.h>

#define SITEID_LEN	12
#define SITEID_MAX	32

/* Read $XDG_CONFIG_HOME/rnsplice/site-id (or ~/.config/...), creating it
 * with a random id on first use. $RNSPLICE_SITE_ID overrides. Returns 0,
 * or -1 with a reason in *cause (the caller frees it). */
int	siteid_load(char *out, size_t outlen, char **cause);
int	siteid_valid(const char *);
/* The directory for per-user config ($XDG_CONFIG_HOME/rnsplice). */
int	config_dir(char *out, size_t outlen);

#endif
