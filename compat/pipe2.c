/* pipe2(2) where the system lacks it. Unlike the real call, another
 * thread's fork and exec between pipe() and fcntl() could inherit the
 * descriptors; rnsplice's programs have one thread. */
#include "config.h"

#ifndef HAVE_PIPE2
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int
compat_pipe2(int fds[2], int flags)
{
	int saved;

	if (flags & ~(O_CLOEXEC | O_NONBLOCK)) {
		errno = EINVAL;
		return -1;
	}
	if (pipe(fds) == -1)
		return -1;
	if (compat_fdflags(fds[0], flags & O_CLOEXEC, flags & O_NONBLOCK) ==
	    -1 || compat_fdflags(fds[1], flags & O_CLOEXEC,
	    flags & O_NONBLOCK) == -1) {
		saved = errno;
		close(fds[0]);
		close(fds[1]);
		errno = saved;
		return -1;
	}
	return 0;
}
#endif
