/* Unit tests of the control socket: request parsing, JSON escaping, and a
 * real round trip through a socket with the event loop. */
#include "config.h"

#include <sys/wait.h>

#include <check.h>
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
	char dir[] = "/tmp/rnsplice-ctl-test.XXXXXX", path[128], err[256];
	struct ev_loop *loop;
	struct ctl_server *srv;
	struct ev_timer *t;
	struct buf reply;
	pid_t pid;
	int status, r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/agent.sock", dir);
	loop = ev_loop_new();
	srv = ctl_server_new(loop, path, handler, NULL, err, sizeof(err));
	ck_assert_msg(srv != NULL, "%s", err);
	/* a second server on the same live socket is refused */
	ck_assert_ptr_null(ctl_server_new(loop, path, handler, NULL, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "another rnsplice-agent"));
	if ((pid = fork()) == 0) {
		buf_init(&reply, 4096);
		r = ctl_request(path, "status", 1, &reply, err, sizeof(err));
		if (r != 0 || buf_len(&reply) != 12 ||
		    memcmp(buf_ptr(&reply), "{\"ok\":true}\n", 12) != 0)
			_exit(1);
		buf_reset(&reply);
		r = ctl_request(path, "bogus", 0, &reply, err, sizeof(err));
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
