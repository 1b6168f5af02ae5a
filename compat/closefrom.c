/* closefrom(2) where the system lacks it (glibc before 2.34, macOS):
 * closes every descriptor >= lowfd. The open ones are read from /dev/fd
 * (Linux, macOS, the BSDs with fdescfs); where that cannot be read, every
 * number up to the descriptor limit is closed.
 * Built whatever the system has: the unit test runs it everywhere. */
#include "config.h"

#include <sys/types.h>

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

void
compat_closefrom(int lowfd)
{
	DIR *d;
	struct dirent *de;
	char *end;
	long fd, max;

	if (lowfd < 0)
		lowfd = 0;
	if ((d = opendir("/dev/fd")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			fd = strtol(de->d_name, &end, 10);
			if (end == de->d_name || *end != '\0' || fd < lowfd ||
			    fd > INT_MAX || fd == dirfd(d))
				continue;
			close((int)fd);
		}
		closedir(d);
		return;
	}
	/* no limit known: a generous one rather than INT_MAX closes */
	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > INT_MAX)
		max = 1024 * 1024;
	for (fd = lowfd; fd < max; fd++)
		close((int)fd);
}
