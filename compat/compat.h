/*
 * Portable replacements for the calls rnsplice uses that not every system
 * has, in the manner of OpenSSH-portable's openbsd-compat and tmux's
 * compat: configure checks what the system offers (HAVE_*), this header
 * renames each missing call to its replacement in compat/, and the code
 * calls the usual name. config.h includes this file at its end, so every
 * source file that includes config.h first gets it.
 *
 * ./configure --enable-compat-fallbacks marks every call below as missing,
 * so that the replacements are built and tested on Linux too.
 */
#ifndef RNSPLICE_COMPAT_H
#define RNSPLICE_COMPAT_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

/* pipe2(2): pipe(2), then fcntl(2) for O_CLOEXEC and O_NONBLOCK. */
#ifndef HAVE_PIPE2
#define pipe2 compat_pipe2
int	compat_pipe2(int fds[2], int flags);
#endif

/*
 * SOCK_CLOEXEC and SOCK_NONBLOCK in the type of socket(2), socketpair(2)
 * and accept4(2) (Linux, FreeBSD, OpenBSD, not macOS). Where missing they
 * get values outside every socket type, which the wrappers below strip and
 * apply with fcntl(2).
 */
#ifndef HAVE_SOCK_FLAGS
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC	0x10000000
#endif
#ifndef SOCK_NONBLOCK
#define SOCK_NONBLOCK	0x20000000
#endif
#define socket(d, t, p)		compat_socket(d, t, p)
#define socketpair(d, t, p, sv)	compat_socketpair(d, t, p, sv)
int	compat_socket(int, int, int);
int	compat_socketpair(int, int, int, int sv[2]);
#endif

/*
 * accept4(2): accept(2), then fcntl(2). Like accept4 and unlike accept on
 * the BSDs and macOS, the new socket is non-blocking exactly when
 * SOCK_NONBLOCK is given, whatever the listening socket is.
 */
#ifndef HAVE_ACCEPT4
#define accept4 compat_accept4
int	compat_accept4(int, struct sockaddr *, socklen_t *, int flags);
#endif

/* getpeereid(3) (the BSDs, macOS); on Linux over SO_PEERCRED. */
#ifndef HAVE_GETPEEREID
#define getpeereid compat_getpeereid
int	compat_getpeereid(int, uid_t *, gid_t *);
#endif

/*
 * MSG_NOSIGNAL (not on macOS): a write to a closed peer raises SIGPIPE
 * there, which every rnsplice program ignores (signal(SIGPIPE, SIG_IGN)
 * at start), so the flag can be 0.
 */
#if !HAVE_DECL_MSG_NOSIGNAL
#undef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0
#endif

/* getrandom(2) with flags 0, over getentropy(3) (macOS, the BSDs). */
#ifndef HAVE_GETRANDOM
#define getrandom compat_getrandom
ssize_t	compat_getrandom(void *, size_t, unsigned int flags);
#endif

/* Set FD_CLOEXEC (cloexec != 0) and O_NONBLOCK (nonblock != 0) or clear
 * O_NONBLOCK (nonblock == 0) on fd, keeping every other flag. 0, or -1
 * with errno set. */
int	compat_fdflags(int fd, int cloexec, int nonblock);

#endif
