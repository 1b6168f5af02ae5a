/* The per-user runtime directory holding the control socket and the ssh
 * control masters: $XDG_RUNTIME_DIR/rnsplice, else /tmp/rnsplice-UID. */
#ifndef RNSPLICE_RUNDIR_H
#define RNSPLICE_RUNDIR_H

#include <stddef.h>

/* Find (and with create, make) the directory; refuse it unless it is a
 * directory owned by us with no group/other access. Returns 0 or -1 with
 * a reason in *cause (the caller frees it). */
int	rundir_get(char *out, size_t outlen, int create, char **cause);

#endif
