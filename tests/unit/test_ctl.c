/* Unit tests of the control socket: request parsing, JSON escaping, and a
 * real round trip through a socket with the event loop. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "event.h"
#include "json.h"

START_TEST(test_parse_request)
{
	char cmd[64];
	const char *cause;
	int json = -1;

	ck_assert_int_eq(ctl_parse_request("RNSPLICE-CTL 1 status json", cmd,
	    sizeof(cmd), &json, &cause), 0);
	ck_assert_str_eq(cmd, "status");
	ck_assert_int_eq(json, 1);
	ck_assert_int_eq(ctl_parse_request("RNSPLICE-CTL 1 services text",
	    cmd, sizeof(cmd), &json, &cause), 0);
	ck_assert_int_eq(json, 0);
	ck_assert_int_eq(ctl_parse_request("RNSPLICE-CTL 2 status json", cmd,
	    sizeof(cmd), &json, &cause), -1);
	ck_assert_int_eq(ctl_parse_request("RNSPLICE-CTL 1 status xml", cmd,
	    sizeof(cmd), &json, &cause), -1);
	ck_assert_int_eq(ctl_parse_request("RNSPLICE-CTL 1 status json x",
	    cmd, sizeof(cmd), &json, &cause), -1);
	ck_assert_int_eq(ctl_parse_request("GET / HTTP/1.0", cmd,
	    sizeof(cmd), &json, &cause), -1);
	ck_assert_int_eq(ctl_parse_request("", cmd, sizeof(cmd), &json,
	    &cause), -1);
}
END_TEST

START_TEST(test_json_str)
{
	struct buf b;

	buf_init(&b, 1024);
	json_str(&b, "a\"b\\c\n\x01\xc3\xa9\xff");
	json_str(&b, NULL);
	buf_put(&b, "", 1);
	ck_assert_str_eq((const char *)buf_ptr(&b),
	    "\"a\\\"b\\\\c\\u000a\\u0001\xc3\xa9\xef\xbf\xbd\"null");
	buf_free(&b);
}
END_TEST

static int
handler(void *arg, const char *command, int json, struct buf *out)
{
	if (strcmp(command, "status") == 0) {
		buf_putf(out, json ? "{\"ok\":true}\n" : "ok\n");
		return 0;
	}
	buf_putf(out, "unknown command \"%s\"\n", command);
	return -1;
}

static void
stop(void *arg)
{
	ev_loop_break(arg);
}

START_TEST(test_roundtrip)
{
	char dir[] = "/tmp/rnsplice-ctl-test.XXXXXX", path[128], *cause;
	struct ev_loop *loop;
	struct ctl_server *srv;
	struct ev_timer *t;
	struct buf reply;
	pid_t pid;
	int status, r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	loop = ev_loop_new();
	srv = ctl_server_new(loop, path, handler, NULL, &cause);
	ck_assert_msg(srv != NULL, "%s", cause);
	/* a second server on the same live socket is refused */
	ck_assert_ptr_null(ctl_server_new(loop, path, handler, NULL,
	    &cause));
	ck_assert_ptr_nonnull(strstr(cause, "another rnsplice-agent"));
	free(cause);
	if ((pid = fork()) == 0) {
		buf_init(&reply, 4096);
		r = ctl_request(path, "status", 1, &reply, &cause);
		if (r != 0 || buf_len(&reply) != 12 ||
		    memcmp(buf_ptr(&reply), "{\"ok\":true}\n", 12) != 0)
			_exit(1);
		buf_reset(&reply);
		r = ctl_request(path, "bogus", 0, &reply, &cause);
		if (r != 1 || strncmp((const char *)buf_ptr(&reply),
		    "unknown command", 15) != 0)
			_exit(2);
		_exit(0);
	}
	t = ev_timer_add(loop, stop, loop);
	ev_timer_set(t, 1000);
	ev_loop_run(loop);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "client failed with %d", WEXITSTATUS(status));
	ctl_server_free(srv);
	ck_assert_int_eq(access(path, F_OK), -1);
	ev_loop_free(loop);
	rmdir(dir);
}
END_TEST

/* A socket bound at path; listening (live) or not (stale, as a killed
 * agent leaves it). Returns the fd. */
static int
bound_socket(const char *path, int live)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	if (live)
		ck_assert_int_eq(listen(fd, 1), 0);
	return fd;
}

static void
refused(struct ev_loop *loop, const char *path, const char *why)
{
	char *cause = NULL;

	ck_assert_ptr_null(ctl_server_new(loop, path, handler, NULL,
	    &cause));
	ck_assert_msg(strstr(cause, why) != NULL && strstr(cause, path) != NULL,
	    "%s: \"%s\" lacks \"%s\"", path, cause, why);
	free(cause);
}

/* -S PATH may name anything: only a stale socket is ever removed. */
START_TEST(test_socket_path)
{
	char dir[] = "/tmp/rnsplice-ctl-test.XXXXXX", path[128], target[128];
	char *cause, buf[16];
	struct ev_loop *loop;
	struct ctl_server *srv;
	struct stat sb;
	int fd, live;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	loop = ev_loop_new();

	/* a regular file: refused, kept with its content */
	snprintf(path, sizeof(path), "%s/file", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_eq(write(fd, "keep", 4), 4);
	close(fd);
	refused(loop, path, "exists and is a regular file, not a stale socket");
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);
	ck_assert_int_eq(memcmp(buf, "keep", 4), 0);

	/* a directory */
	snprintf(path, sizeof(path), "%s/dir", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	refused(loop, path, "is a directory");
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(rmdir(path), 0);

	/* symbolic links: to a file, to a stale socket, dangling */
	snprintf(target, sizeof(target), "%s/file", dir);
	snprintf(path, sizeof(path), "%s/link", dir);
	ck_assert_int_eq(symlink(target, path), 0);
	refused(loop, path, "is a symbolic link");
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISLNK(sb.st_mode));
	ck_assert_int_eq(access(target, F_OK), 0);
	unlink(path);
	snprintf(target, sizeof(target), "%s/stale-target", dir);
	close(bound_socket(target, 0));
	ck_assert_int_eq(symlink(target, path), 0);
	refused(loop, path, "is a symbolic link");
	ck_assert_int_eq(lstat(target, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	unlink(path);
	unlink(target);
	ck_assert_int_eq(symlink("/nonexistent/x", path), 0);
	refused(loop, path, "is a symbolic link");
	ck_assert_int_eq(lstat(path, &sb), 0);
	unlink(path);

	/* a fifo */
	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	refused(loop, path, "not a stale socket");
	ck_assert_int_eq(lstat(path, &sb), 0);
	unlink(path);

	/* a live socket that is not an agent's: refused, kept */
	snprintf(path, sizeof(path), "%s/live.sock", dir);
	live = bound_socket(path, 1);
	refused(loop, path, "another rnsplice-agent is running");
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	close(live);

	/* that socket, now stale (nobody listens): replaced */
	srv = ctl_server_new(loop, path, handler, NULL, &cause);
	ck_assert_msg(srv != NULL, "%s", cause);
	/* the server removes its own socket, and only its own */
	ctl_server_free(srv);
	ck_assert_int_eq(access(path, F_OK), -1);
	srv = ctl_server_new(loop, path, handler, NULL, &cause);
	ck_assert_msg(srv != NULL, "%s", cause);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	close(fd);
	ctl_server_free(srv);
	ck_assert_int_eq(lstat(path, &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	unlink(path);

	unlink(target);
	snprintf(path, sizeof(path), "%s/file", dir);
	unlink(path);
	ev_loop_free(loop);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ctl");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_request);
	tcase_add_test(tc, test_json_str);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_socket_path);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
