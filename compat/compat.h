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

/*
 * What libbsd's overlay supplies on Linux: sys/queue.h's TAILQ_FOREACH_SAFE
 * (glibc lacks it), sys/tree.h's RB_* (glibc and macOS lack it) and the
 * calls below. Without libbsd, or with the replacements forced, compat/
 * supplies each one the system lacks; the replacements are built always
 * (under their compat_ names) so that the unit tests run them everywhere.
 */
#ifdef HAVE_SYS_QUEUE_H
#include <sys/queue.h>
#endif
#ifndef HAVE_TAILQ_FOREACH_SAFE
#undef TAILQ_FOREACH_SAFE
#endif
#include "queue.h"

#include "tree.h"
#ifdef HAVE_SYS_TREE_H
#include <sys/tree.h>
#else
#define RB_HEAD(name, type)		CRB_HEAD(name, type)
#define RB_ENTRY(type)			CRB_ENTRY(type)
#define RB_INIT(head)			CRB_INIT(head)
#define RB_EMPTY(head)			CRB_EMPTY(head)
#define RB_PROTOTYPE(name, type, field, cmp) \
	CRB_PROTOTYPE(name, type, field, cmp)
#define RB_GENERATE(name, type, field, cmp) \
	CRB_GENERATE(name, type, field, cmp)
#define RB_INSERT(name, head, elm)	CRB_INSERT(name, head, elm)
#define RB_REMOVE(name, head, elm)	CRB_REMOVE(name, head, elm)
#define RB_FIND(name, head, key)	CRB_FIND(name, head, key)
#define RB_NFIND(name, head, key)	CRB_NFIND(name, head, key)
#define RB_MIN(name, head)		CRB_MIN(name, head)
#define RB_NEXT(name, head, elm)	CRB_NEXT(name, head, elm)
#define RB_FOREACH(x, name, head)	CRB_FOREACH(x, name, head)
#define RB_FOREACH_SAFE(x, name, head, y) \
	CRB_FOREACH_SAFE(x, name, head, y)
#endif

#include <stdint.h>

size_t	compat_strlcpy(char *, const char *, size_t);
size_t	compat_strlcat(char *, const char *, size_t);
long long compat_strtonum(const char *, long long, long long, const char **);
void	*compat_reallocarray(void *, size_t, size_t);
void	compat_explicit_bzero(void *, size_t);
uint32_t compat_arc4random(void);
uint32_t compat_arc4random_uniform(uint32_t);
void	compat_closefrom(int);

#ifndef HAVE_STRLCPY
#define strlcpy compat_strlcpy
#endif
#ifndef HAVE_STRLCAT
#define strlcat compat_strlcat
#endif
#ifndef HAVE_STRTONUM
#define strtonum compat_strtonum
#endif
#ifndef HAVE_REALLOCARRAY
#define reallocarray compat_reallocarray
#endif
#ifndef HAVE_EXPLICIT_BZERO
#define explicit_bzero compat_explicit_bzero
#endif
#ifndef HAVE_ARC4RANDOM
#define arc4random compat_arc4random
#endif
#ifndef HAVE_ARC4RANDOM_UNIFORM
#define arc4random_uniform compat_arc4random_uniform
#endif
#ifndef HAVE_CLOSEFROM
#define closefrom compat_closefrom
#endif

/* Set FD_CLOEXEC (cloexec != 0) and O_NONBLOCK (nonblock != 0) or clear
 * O_NONBLOCK (nonblock == 0) on fd, keeping every other flag. 0, or -1
 * with errno set. */
int	compat_fdflags(int fd, int cloexec, int nonblock);

#endif
