/* Private runtime directory, checked the way tmux checks its socket
 * directory: ours, a directory, mode 0700 — or refused. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rundir.h"
#include "xmalloc.h"

int
rundir_get(char *out, size_t outlen, int create, char **cause)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat sb;
	int n;

	if (xdg != NULL && *xdg == '/' && stat(xdg, &sb) == 0 &&
	    S_ISDIR(sb.st_mode))
		n = snprintf(out, outlen, "%s/rnsplice", xdg);
	else
		n = snprintf(out, outlen, "/tmp/rnsplice-%lu",
		    (unsigned long)getuid());
	if (n < 0 || (size_t)n >= outlen) {
		cause_set(cause, "runtime directory path too long");
		return -1;
	}
	if (create && mkdir(out, 0700) == -1 && errno != EEXIST) {
		cause_set(cause, "%s: %s", out, strerror(errno));
		return -1;
	}
	if (lstat(out, &sb) == -1) {
		cause_set(cause, "%s: %s", out, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		cause_set(cause, "%s: not a directory", out);
		return -1;
	}
	if (sb.st_uid != getuid()) {
		cause_set(cause, "%s: owned by uid %lu, not by us (%lu)",
		    out, (unsigned long)sb.st_uid, (unsigned long)getuid());
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		cause_set(cause, "%s: mode %o, must not be accessible "
		    "to group or others", out, (unsigned)(sb.st_mode & 0777));
		return -1;
	}
	return 0;
}
