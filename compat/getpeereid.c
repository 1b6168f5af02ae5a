/* getpeereid(3) where the system lacks it: the credentials the kernel
 * recorded for the peer of a connected AF_UNIX socket, over SO_PEERCRED
 * (Linux). */
#include "config.h"

#ifndef HAVE_GETPEEREID
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>

int
compat_getpeereid(int s, uid_t *uid, gid_t *gid)
{
#if HAVE_DECL_SO_PEERCRED
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	if (len != sizeof(cred)) {
		errno = EINVAL;
		return -1;
	}
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
#else
#error "no getpeereid(3) and no SO_PEERCRED: the control socket cannot check its peer"
#endif
}
#endif
