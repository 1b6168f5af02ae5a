/* socket(2), socketpair(2) and accept4(2) with SOCK_CLOEXEC and
 * SOCK_NONBLOCK where the system does not take them in the type. The
 * flags are stripped from the type and applied with fcntl(2). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <unistd.h>

#ifndef HAVE_SOCK_FLAGS
#undef socket
#undef socketpair

#define SOCK_FLAGS	(SOCK_CLOEXEC | SOCK_NONBLOCK)

static int
apply(int fd, int type)
{
	int saved;

	if (compat_fdflags(fd, type & SOCK_CLOEXEC, type & SOCK_NONBLOCK) ==
	    -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
compat_socket(int domain, int type, int protocol)
{
	int fd;

	if ((fd = socket(domain, type & ~SOCK_FLAGS, protocol)) == -1)
		return -1;
	return apply(fd, type);
}

int
compat_socketpair(int domain, int type, int protocol, int sv[2])
{
	if (socketpair(domain, type & ~SOCK_FLAGS, protocol, sv) == -1)
		return -1;
	if (apply(sv[0], type) == -1) {
		close(sv[1]);
		return -1;
	}
	if (apply(sv[1], type) == -1) {
		close(sv[0]);
		return -1;
	}
	return 0;
}
#endif

#ifndef HAVE_ACCEPT4
int
compat_accept4(int s, struct sockaddr *sa, socklen_t *len, int flags)
{
	int fd;

	if (flags & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = accept(s, sa, len)) == -1)
		return -1;
	/* the BSDs and macOS pass the listener's O_NONBLOCK on: set the
	 * state SOCK_NONBLOCK asks for, either way */
	if (compat_fdflags(fd, flags & SOCK_CLOEXEC, flags & SOCK_NONBLOCK) ==
	    -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}
#endif
