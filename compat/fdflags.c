/* The fcntl(2) half of the replacements: descriptor and status flags set
 * one at a time, every other flag kept. */
#include "config.h"

#include <fcntl.h>

int
compat_fdflags(int fd, int cloexec, int nonblock)
{
	int fl, nfl;

	if (cloexec) {
		if ((fl = fcntl(fd, F_GETFD)) == -1)
			return -1;
		if (!(fl & FD_CLOEXEC) &&
		    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1)
			return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	nfl = nonblock ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (nfl != fl && fcntl(fd, F_SETFL, nfl) == -1)
		return -1;
	return 0;
}
