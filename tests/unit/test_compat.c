/*
 * Unit tests of the portable layer (compat/) and of the periodic network
 * check (common/netwatch.c). The same tests run against the native calls
 * and, in a build configured with --enable-compat-fallbacks, against the
 * replacements; test_fallbacks_built says which.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <net/if.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include "agent.h"
#include "event.h"
#include "log.h"
#include "netwatch.h"

static int
cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	ck_assert_int_ne(fl, -1);
	return (fl & FD_CLOEXEC) != 0;
}

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	ck_assert_int_ne(fl, -1);
	return (fl & O_NONBLOCK) != 0;
}

/* A forced build has every replacement in; a plain Linux build has the
 * native calls (getpeereid excepted: Linux has none). */
START_TEST(test_fallbacks_built)
{
#ifdef COMPAT_FALLBACKS
# if defined(HAVE_PIPE2) || defined(HAVE_ACCEPT4) || \
    defined(HAVE_GETPEEREID) || defined(HAVE_GETRANDOM) || \
    defined(HAVE_SOCK_FLAGS) || HAVE_DECL_MSG_NOSIGNAL || \
    defined(NETWATCH_NETLINK) || defined(NETWATCH_PF_ROUTE)
	ck_abort_msg("a native call is used in a forced build");
# endif
	ck_assert_int_eq(MSG_NOSIGNAL, 0);
#elif defined(__linux__)
# if !defined(HAVE_PIPE2) || !defined(HAVE_ACCEPT4) || \
    !defined(HAVE_GETRANDOM) || !defined(HAVE_SOCK_FLAGS) || \
    !HAVE_DECL_MSG_NOSIGNAL || !defined(NETWATCH_NETLINK)
	ck_abort_msg("a replacement is used on Linux without "
	    "--enable-compat-fallbacks");
# endif
	ck_assert_int_ne(MSG_NOSIGNAL, 0);
#endif
	ck_assert_ptr_nonnull(getpeereid);
}
END_TEST

START_TEST(test_fdflags_keeps_others)
{
	char path[] = "/tmp/rnsplice-compat-XXXXXX";
	int fd, fl;

	ck_assert_int_ne(fd = mkstemp(path), -1);
	unlink(path);
	ck_assert_int_ne(fl = fcntl(fd, F_GETFL), -1);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_APPEND), 0);
	ck_assert(!cloexec(fd));

	ck_assert_int_eq(compat_fdflags(fd, 1, 1), 0);
	ck_assert(cloexec(fd));
	ck_assert(nonblock(fd));
	ck_assert_int_eq(fcntl(fd, F_GETFL) & (O_APPEND | O_ACCMODE),
	    O_APPEND | O_RDWR);

	/* cloexec 0 leaves FD_CLOEXEC alone; nonblock 0 clears O_NONBLOCK */
	ck_assert_int_eq(compat_fdflags(fd, 0, 0), 0);
	ck_assert(cloexec(fd));
	ck_assert(!nonblock(fd));
	ck_assert_int_eq(fcntl(fd, F_GETFL) & (O_APPEND | O_ACCMODE),
	    O_APPEND | O_RDWR);
	close(fd);

	ck_assert_int_eq(compat_fdflags(fd, 1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_pipe2_flags)
{
	static const int want[] = { 0, O_CLOEXEC, O_NONBLOCK,
	    O_CLOEXEC | O_NONBLOCK };
	int fds[2];
	size_t i;
	char c = 'x';

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(pipe2(fds, want[i]), 0);
		ck_assert_int_eq(cloexec(fds[0]), (want[i] & O_CLOEXEC) != 0);
		ck_assert_int_eq(cloexec(fds[1]), (want[i] & O_CLOEXEC) != 0);
		ck_assert_int_eq(nonblock(fds[0]),
		    (want[i] & O_NONBLOCK) != 0);
		ck_assert_int_eq(nonblock(fds[1]),
		    (want[i] & O_NONBLOCK) != 0);
		/* the access modes survive the fcntl calls */
		ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_ACCMODE,
		    O_RDONLY);
		ck_assert_int_eq(fcntl(fds[1], F_GETFL) & O_ACCMODE,
		    O_WRONLY);
		ck_assert_int_eq(write(fds[1], &c, 1), 1);
		c = 0;
		ck_assert_int_eq(read(fds[0], &c, 1), 1);
		ck_assert_int_eq(c, 'x');
		if (want[i] & O_NONBLOCK) {
			ck_assert_int_eq(read(fds[0], &c, 1), -1);
			ck_assert_int_eq(errno, EAGAIN);
		}
		close(fds[0]);
		close(fds[1]);
	}
	ck_assert_int_eq(pipe2(fds, O_APPEND), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_socket_flags)
{
	static const int want[] = { 0, SOCK_CLOEXEC, SOCK_NONBLOCK,
	    SOCK_CLOEXEC | SOCK_NONBLOCK };
	int fd, sv[2], type;
	socklen_t len;
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_ne(fd = socket(AF_UNIX, SOCK_STREAM | want[i],
		    0), -1);
		ck_assert_int_eq(cloexec(fd), (want[i] & SOCK_CLOEXEC) != 0);
		ck_assert_int_eq(nonblock(fd),
		    (want[i] & SOCK_NONBLOCK) != 0);
		/* the flags do not leak into the socket's type */
		len = sizeof(type);
		ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
		    &len), 0);
		ck_assert_int_eq(type, SOCK_STREAM);
		close(fd);

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | want[i],
		    0, sv), 0);
		ck_assert_int_eq(cloexec(sv[0]),
		    (want[i] & SOCK_CLOEXEC) != 0);
		ck_assert_int_eq(cloexec(sv[1]),
		    (want[i] & SOCK_CLOEXEC) != 0);
		ck_assert_int_eq(nonblock(sv[0]),
		    (want[i] & SOCK_NONBLOCK) != 0);
		ck_assert_int_eq(nonblock(sv[1]),
		    (want[i] & SOCK_NONBLOCK) != 0);
		close(sv[0]);
		close(sv[1]);
	}
	/* a failing socket(2) still fails */
	ck_assert_int_eq(socket(-1, SOCK_STREAM | SOCK_CLOEXEC, 0), -1);
}
END_TEST

/* A listening AF_UNIX socket in a fresh directory; *dir and *sun set. */
static int
listener(char *dir, struct sockaddr_un *sun, int flags)
{
	int l;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	ck_assert_int_lt(snprintf(sun->sun_path, sizeof(sun->sun_path),
	    "%s/s", dir), (int)sizeof(sun->sun_path));
	ck_assert_int_ne(l = socket(AF_UNIX, SOCK_STREAM | flags, 0), -1);
	ck_assert_int_eq(bind(l, (struct sockaddr *)sun, sizeof(*sun)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	return l;
}

static int
connect_to(const struct sockaddr_un *sun)
{
	int c;

	ck_assert_int_ne(c = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(connect(c, (const struct sockaddr *)sun,
	    sizeof(*sun)), 0);
	return c;
}

START_TEST(test_accept4_flags)
{
	char dir[] = "/tmp/rnsplice-compat-XXXXXX";
	struct sockaddr_un sun, peer;
	socklen_t len;
	int l, c1, c2, a;

	/* a non-blocking listener, as the agent's: what accept4 returns is
	 * non-blocking only when asked (the BSDs' accept would inherit) */
	l = listener(dir, &sun, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ck_assert_int_eq(accept4(l, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);

	c1 = connect_to(&sun);
	len = sizeof(peer);
	ck_assert_int_ne(a = accept4(l, (struct sockaddr *)&peer, &len,
	    SOCK_CLOEXEC), -1);
	ck_assert_int_eq(peer.sun_family, AF_UNIX);
	ck_assert(cloexec(a));
	ck_assert(!nonblock(a));
	close(a);

	c2 = connect_to(&sun);
	ck_assert_int_ne(a = accept4(l, NULL, NULL, SOCK_NONBLOCK), -1);
	ck_assert(!cloexec(a));
	ck_assert(nonblock(a));
	close(a);

	ck_assert_int_eq(accept4(l, NULL, NULL, 0x40000000), -1);
	ck_assert_int_eq(errno, EINVAL);

	close(c1);
	close(c2);
	close(l);
	unlink(sun.sun_path);
	rmdir(dir);
}
END_TEST

START_TEST(test_getpeereid_socketpair)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(getpeereid(sv[0], &uid, &gid), 0);
	ck_assert_int_eq(uid, geteuid());
	ck_assert_int_eq(gid, getegid());
	close(sv[0]);
	close(sv[1]);

	/* not a socket, not connected */
	ck_assert_int_eq(getpeereid(-1, &uid, &gid), -1);
}
END_TEST

/* As root: the uid of a peer that is someone else (nobody, 65534). */
START_TEST(test_getpeereid_other_user)
{
	char dir[] = "/tmp/rnsplice-compat-XXXXXX";
	struct sockaddr_un sun;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int l, a, st;
	char c;

	if (geteuid() != 0) {
		/* the socketpair test covers our own uid; another uid needs
		 * root to switch to */
		fprintf(stderr, "test_getpeereid_other_user: not root, "
		    "only the socketpair case ran\n");
		return;
	}
	l = listener(dir, &sun, SOCK_CLOEXEC);
	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(chmod(sun.sun_path, 0666), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		int s;

		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(2);
		if ((s = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(3);
		/* wait for the parent's byte: our end stays open while it
		 * asks */
		if (read(s, &c, 1) != 1)
			_exit(4);
		_exit(0);
	}
	ck_assert_int_ne(a = accept4(l, NULL, NULL, SOCK_CLOEXEC), -1);
	ck_assert_int_eq(getpeereid(a, &uid, &gid), 0);
	c = 0;
	ck_assert_int_eq(write(a, &c, 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_int_eq(uid, 65534);
	ck_assert_int_eq(gid, 65534);
	close(a);
	close(l);
	unlink(sun.sun_path);
	rmdir(dir);
}
END_TEST

START_TEST(test_getrandom)
{
	unsigned char a[1000], b[1000];
	size_t i, same = 0;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	/* more than getentropy's 256 bytes a call */
	ck_assert_int_eq(getrandom(a, sizeof(a), 0), (ssize_t)sizeof(a));
	ck_assert_int_eq(getrandom(b, sizeof(b), 0), (ssize_t)sizeof(b));
	for (i = 0; i < sizeof(a); i++)
		same += a[i] == b[i];
	/* two 1000-byte draws agree in about 4 places; 100 is impossible
	 * unless the buffers were left alone */
	ck_assert_uint_lt(same, 100);
	ck_assert_int_eq(getrandom(a, 0, 0), 0);
#ifndef HAVE_GETRANDOM
	ck_assert_int_eq(getrandom(a, 1, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
#endif
}
END_TEST

START_TEST(test_nosignal)
{
	int sv[2];
	char c = 'x';

	/* what every rnsplice program does at start, and what makes a
	 * MSG_NOSIGNAL of 0 safe */
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	ck_assert_int_eq(send(sv[0], &c, 1, MSG_NOSIGNAL), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
	signal(SIGPIPE, SIG_DFL);
}
END_TEST

START_TEST(test_fingerprint_stable)
{
	uint64_t a, b;

	ck_assert_int_eq(netwatch_fingerprint(&a), 0);
	ck_assert_int_eq(netwatch_fingerprint(&b), 0);
	ck_assert(a == b);
}
END_TEST

struct watch {
	struct ev_loop	*loop;
	int		 changes;
	int		 timedout;
};

static void
on_change(void *arg)
{
	struct watch *w = arg;

	w->changes++;
	ev_loop_break(w->loop);
}

static void
on_guard(void *arg)
{
	struct watch *w = arg;

	w->timedout = 1;
	ev_loop_break(w->loop);
}

static int
set_up(int s, const char *name, int up)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == -1)
		return -1;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return ioctl(s, SIOCSIFFLAGS, &ifr);
}

/* Wait for the watcher's callback; a guard of 20 s (many intervals) ends
 * a wait for a change that never comes. */
static int
wait_change(struct watch *w, struct ev_timer *guard)
{
	int before = w->changes;

	w->timedout = 0;
	ev_timer_set(guard, 20000);
	if (ev_loop_run(w->loop) == -1)
		return -1;
	ev_timer_stop(guard);
	return !w->timedout && w->changes == before + 1 ? 0 : -1;
}

/*
 * The child of the netwatch tests, in a network namespace of its own
 * (it goes with the child): bringing lo up adds 127.0.0.1 and ::1,
 * taking it down changes its flags; the watcher sees both. poll: the
 * periodic check every 50 ms, else what netwatch_new picks (rtnetlink
 * here unless the fallbacks are forced).
 * Exit status: 0 ok, 77 no namespace, else the step that failed.
 */
static int
netwatch_child(int poll)
{
	struct watch w;
	struct netwatch *nw;
	struct ev_timer *guard;
	int s;

	if (unshare(CLONE_NEWNET) == -1 &&
	    unshare(CLONE_NEWUSER | CLONE_NEWNET) == -1)
		return 77;
	memset(&w, 0, sizeof(w));
	if ((s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    (w.loop = ev_loop_new()) == NULL ||
	    (guard = ev_timer_add(w.loop, on_guard, &w)) == NULL ||
	    (nw = poll ? netwatch_new_poll(w.loop, on_change, &w, 50) :
	    netwatch_new(w.loop, on_change, &w)) == NULL)
		return 10;
	if (poll && strcmp(netwatch_method(nw), "getifaddrs") != 0)
		return 11;
#if NETWATCH_NETLINK
	if (!poll && strcmp(netwatch_method(nw), "rtnetlink") != 0)
		return 11;
#endif
	if (set_up(s, "lo", 1) == -1)
		return 12;
	if (wait_change(&w, guard) == -1)
		return 13;
	if (set_up(s, "lo", 0) == -1)
		return 14;
	if (wait_change(&w, guard) == -1)
		return 15;
	netwatch_free(nw);
	ev_timer_del(guard);
	ev_loop_free(w.loop);
	close(s);
	return 0;
}

static void
netwatch_run(int poll)
{
	pid_t pid;
	int st;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		_exit(netwatch_child(poll));
	ck_assert_int_gt(pid, 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	if (WEXITSTATUS(st) == 77) {
		/* neither root nor user namespaces: the stable fingerprint
		 * test still ran */
		fprintf(stderr, "netwatch: no network namespace available, "
		    "the address change was not tried\n");
		return;
	}
	ck_assert_msg(WEXITSTATUS(st) == 0, "netwatch child failed at "
	    "step %d (see netwatch_child)", WEXITSTATUS(st));
}

START_TEST(test_netwatch_poll)
{
	netwatch_run(1);
}
END_TEST

/* The socket watcher; in a forced build that is the periodic check at
 * its real interval, which test_netwatch_poll covers already. */
START_TEST(test_netwatch_native)
{
#if NETWATCH_NETLINK || NETWATCH_PF_ROUTE
	netwatch_run(0);
#endif
}
END_TEST

/* Under launchd without StandardErrorPath, fd 2 is /dev/null: the
 * foreground log falls back to syslog there, and only there. */
static int
log_child(int fd)
{
	if (dup2(fd, STDERR_FILENO) == -1)
		return 2;
	log_init("test_compat", 1, 0);
	log_warnx("to stderr");
	return log_on_stderr();
}

START_TEST(test_log_stderr_null)
{
	char buf[256];
	pid_t pid;
	ssize_t n;
	int fd, p[2], st;

	ck_assert_int_ne(fd = open("/dev/null", O_WRONLY | O_CLOEXEC), -1);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		_exit(log_child(fd));
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);	/* syslog */

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		_exit(log_child(p[1]));
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);	/* stderr */
	ck_assert_int_gt(n = read(p[0], buf, sizeof(buf) - 1), 0);
	buf[n] = '\0';
	ck_assert_ptr_nonnull(strstr(buf, "test_compat["));
	ck_assert_ptr_nonnull(strstr(buf, "]: to stderr\n"));
	close(p[0]);
}
END_TEST

/* The open files limit is raised to the hard limit (capped): the path
 * every system takes; the halving on EINVAL is for macOS, where the hard
 * limit is unlimited but the kernel caps what it accepts, and Linux never
 * answers EINVAL here. */
START_TEST(test_raise_nofile)
{
	struct rlimit rl;
	pid_t pid;
	int st;

	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0) {
		rlim_t want;

		/* the soft limit only: valgrind refuses other hard limits */
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_max <= 256)
			_exit(2);
		want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1048576 ?
		    1048576 : rl.rlim_max;
		rl.rlim_cur = 256;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(3);
		sshm_raise_nofile();
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(4);
		_exit(rl.rlim_cur == want ? 0 : 5);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

static Suite *
compat_suite(void)
{
	Suite *s = suite_create("compat");
	TCase *tc = tcase_create("compat");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fallbacks_built);
	tcase_add_test(tc, test_fdflags_keeps_others);
	tcase_add_test(tc, test_pipe2_flags);
	tcase_add_test(tc, test_socket_flags);
	tcase_add_test(tc, test_accept4_flags);
	tcase_add_test(tc, test_getpeereid_socketpair);
	tcase_add_test(tc, test_getpeereid_other_user);
	tcase_add_test(tc, test_getrandom);
	tcase_add_test(tc, test_nosignal);
	tcase_add_test(tc, test_fingerprint_stable);
	tcase_add_test(tc, test_netwatch_poll);
	tcase_add_test(tc, test_netwatch_native);
	tcase_add_test(tc, test_log_stderr_null);
	tcase_add_test(tc, test_raise_nofile);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(compat_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
