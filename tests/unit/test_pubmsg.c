/* Unit tests of the messages between the publisher and its child process
 * (common/publish-msg.c): every type through a round trip, byte by byte;
 * bad lengths, oversize, truncated and overlong bodies, unknown types,
 * the wrong direction, fields out of bounds. And the child's life: killed,
 * it is replaced and the entries wait for the new one. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "log.h"
#include "publish.h"
#include "publish-msg.h"
#include "svc.h"

#define BIG	(4 * PUBMSG_MAX)

static struct txt
txt_bin(void)
{
	static const unsigned char bin[] = { 'b', '=', 0, 0xff, 0xc3 };
	struct txt t;

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(txt_add(&t, "a=1", 3), 0);
	ck_assert_int_eq(txt_add(&t, bin, sizeof(bin)), 0);
	return t;
}

/* get one message; it must be complete and of type */
static void
get_ok(struct buf *b, enum pubmsg_dir dir, struct pubmsg *m, uint32_t type)
{
	char *cause = NULL;
	int r;

	r = pubmsg_get(b, dir, m, &cause);
	if (r != 1)
		ck_abort_msg("pubmsg_get: %d (%s)", r, cause != NULL ? cause :
		    "");
	ck_assert_uint_eq(m->type, type);
}

/* the frame in b must be refused with a reason containing want */
static void
get_bad(struct buf *b, enum pubmsg_dir dir, const char *want)
{
	struct pubmsg m;
	char *cause = NULL;

	ck_assert_int_eq(pubmsg_get(b, dir, &m, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	if (strstr(cause, want) == NULL)
		ck_abort_msg("cause \"%s\" lacks \"%s\"", cause, want);
	ck_assert_ptr_null(m.name);
	ck_assert_uint_eq(m.txt.n, 0);
	free(cause);
}

START_TEST(test_roundtrip)
{
	struct buf b;
	struct pubmsg in, m;
	struct txt t = txt_bin();

	buf_init(&b, BIG);
	memset(&in, 0, sizeof(in));
	in.type = PUBMSG_ADD;
	in.id = 7;
	in.gen = 3;
	in.name = "Printer #2";
	in.stype = "_ipp._tcp";
	in.port = 631;
	in.scope = PUB_SCOPE_IFACE;
	in.ifindex = 2;
	in.txt = t;
	ck_assert_int_eq(pubmsg_put(&b, &in), 0);
	in.type = PUBMSG_UPDATE;
	in.gen = 4;
	in.port = 8631;
	ck_assert_int_eq(pubmsg_put(&b, &in), 0);
	memset(&in, 0, sizeof(in));
	in.type = PUBMSG_REMOVE;
	in.id = 7;
	ck_assert_int_eq(pubmsg_put(&b, &in), 0);

	get_ok(&b, PUBMSG_TO_CHILD, &m, PUBMSG_ADD);
	ck_assert_uint_eq(m.id, 7);
	ck_assert_uint_eq(m.gen, 3);
	ck_assert_str_eq(m.name, "Printer #2");
	ck_assert_str_eq(m.stype, "_ipp._tcp");
	ck_assert_ptr_null(m.domain);		/* "" is the default */
	ck_assert_uint_eq(m.port, 631);
	ck_assert_uint_eq(m.scope, PUB_SCOPE_IFACE);
	ck_assert_uint_eq(m.ifindex, 2);
	ck_assert(txt_equal(&m.txt, &t));	/* binary items intact */
	pubmsg_clear(&m);
	get_ok(&b, PUBMSG_TO_CHILD, &m, PUBMSG_UPDATE);
	ck_assert_uint_eq(m.gen, 4);
	ck_assert_uint_eq(m.port, 8631);
	ck_assert(txt_equal(&m.txt, &t));
	pubmsg_clear(&m);
	get_ok(&b, PUBMSG_TO_CHILD, &m, PUBMSG_REMOVE);
	ck_assert_uint_eq(m.id, 7);
	pubmsg_clear(&m);
	ck_assert_uint_eq(buf_len(&b), 0);

	memset(&in, 0, sizeof(in));
	in.type = PUBMSG_UP;
	in.up = 1;
	ck_assert_int_eq(pubmsg_put(&b, &in), 0);
	in.type = PUBMSG_STATE;
	in.id = 9;
	in.gen = 1;
	in.state = PUB_FAILED;
	in.name = "web";
	in.err = "avahi: not permitted";
	ck_assert_int_eq(pubmsg_put(&b, &in), 0);
	in.state = PUB_ESTABLISHED;
	in.err = NULL;
	ck_assert_int_eq(pubmsg_put(&b, &in), 0);
	get_ok(&b, PUBMSG_TO_PARENT, &m, PUBMSG_UP);
	ck_assert_uint_eq(m.up, 1);
	pubmsg_clear(&m);
	get_ok(&b, PUBMSG_TO_PARENT, &m, PUBMSG_STATE);
	ck_assert_uint_eq(m.state, PUB_FAILED);
	ck_assert_str_eq(m.err, "avahi: not permitted");
	pubmsg_clear(&m);
	get_ok(&b, PUBMSG_TO_PARENT, &m, PUBMSG_STATE);
	ck_assert_uint_eq(m.state, PUB_ESTABLISHED);
	ck_assert_str_eq(m.name, "web");
	ck_assert_ptr_null(m.err);
	pubmsg_clear(&m);
	buf_free(&b);
	txt_free(&t);
}
END_TEST

/* A message arriving a byte at a time is complete only at its last. */
START_TEST(test_bytewise)
{
	struct buf whole, b;
	struct pubmsg in, m;
	struct txt t = txt_bin();
	char *cause = NULL;
	size_t i, n;

	buf_init(&whole, BIG);
	buf_init(&b, BIG);
	memset(&in, 0, sizeof(in));
	in.type = PUBMSG_ADD;
	in.id = 1;
	in.name = "a";
	in.stype = "_http._tcp";
	in.domain = "example.com";
	in.port = 80;
	in.txt = t;
	ck_assert_int_eq(pubmsg_put(&whole, &in), 0);
	n = buf_len(&whole);
	for (i = 0; i < n - 1; i++) {
		ck_assert_int_eq(buf_put(&b, buf_ptr(&whole) + i, 1), 0);
		ck_assert_int_eq(pubmsg_get(&b, PUBMSG_TO_CHILD, &m, &cause),
		    0);
		ck_assert_uint_eq(buf_len(&b), i + 1);	/* nothing taken */
	}
	ck_assert_int_eq(buf_put(&b, buf_ptr(&whole) + n - 1, 1), 0);
	get_ok(&b, PUBMSG_TO_CHILD, &m, PUBMSG_ADD);
	ck_assert_str_eq(m.domain, "example.com");
	pubmsg_clear(&m);
	buf_free(&whole);
	buf_free(&b);
	txt_free(&t);
}
END_TEST

/* A frame of type and body as given by the words; strings as "s:..." */
static void
frame(struct buf *b, uint32_t type, const char *fmt, ...)
{
	struct buf body;
	va_list ap;
	const char *p;

	buf_init(&body, BIG);
	buf_put_u32(&body, type);
	va_start(ap, fmt);
	for (p = fmt; *p != '\0'; p++) {
		if (*p == 'u')
			buf_put_u32(&body, va_arg(ap, uint32_t));
		else if (*p == 's')
			buf_put_cstring(&body, va_arg(ap, const char *));
	}
	va_end(ap);
	ck_assert(!buf_failed(&body));
	buf_put_u32(b, (uint32_t)buf_len(&body));
	buf_put(b, buf_ptr(&body), buf_len(&body));
	buf_free(&body);
}

START_TEST(test_bad_lengths)
{
	struct buf b;
	struct pubmsg m;
	char *cause = NULL;

	buf_init(&b, BIG);
	buf_put_u32(&b, 0);
	get_bad(&b, PUBMSG_TO_PARENT, "message of 0 bytes");
	buf_reset(&b);
	buf_put_u32(&b, 3);
	buf_put(&b, "abc", 3);
	get_bad(&b, PUBMSG_TO_PARENT, "message of 3 bytes");
	/* oversize: refused from its length alone, before the body */
	buf_reset(&b);
	buf_put_u32(&b, PUBMSG_MAX + 1);
	get_bad(&b, PUBMSG_TO_PARENT, "message of 65537 bytes");
	buf_reset(&b);
	buf_put_u32(&b, UINT32_MAX);
	get_bad(&b, PUBMSG_TO_CHILD, "message of 4294967295 bytes");
	/* a length that promises more than has come: wait */
	buf_reset(&b);
	buf_put_u32(&b, 100);
	buf_put_u32(&b, PUBMSG_UP);
	ck_assert_int_eq(pubmsg_get(&b, PUBMSG_TO_PARENT, &m, &cause), 0);
	ck_assert_ptr_null(cause);
	buf_free(&b);
}
END_TEST

START_TEST(test_bad_frames)
{
	struct buf b;

	buf_init(&b, BIG);
	frame(&b, 99, "u", 1);
	get_bad(&b, PUBMSG_TO_PARENT, "unknown message type 99");
	frame(&b, 0, "");
	get_bad(&b, PUBMSG_TO_CHILD, "unknown message type 0");
	/* each end takes only what the other sends */
	frame(&b, PUBMSG_STATE, "uuuss", 1, 0, PUB_ESTABLISHED, "a", "");
	get_bad(&b, PUBMSG_TO_CHILD, "STATE message in the wrong direction");
	frame(&b, PUBMSG_REMOVE, "u", 1);
	get_bad(&b, PUBMSG_TO_PARENT, "REMOVE message in the wrong direction");
	/* truncated: the frame is complete, its body short */
	frame(&b, PUBMSG_UP, "");
	get_bad(&b, PUBMSG_TO_PARENT, "UP message of 0 bytes");
	frame(&b, PUBMSG_STATE, "uuuu", 1, 0, PUB_ESTABLISHED, 5);
	get_bad(&b, PUBMSG_TO_PARENT, "STATE message of 16 bytes (at least 20)");
	frame(&b, PUBMSG_STATE, "uuuuu", 1, 0, PUB_ESTABLISHED, 5, 0);
	get_bad(&b, PUBMSG_TO_PARENT, "STATE message: name of 5 bytes, 4 left");
	frame(&b, PUBMSG_ADD, "uusss", 1, 0, "a", "_http._tcp", "");
	get_bad(&b, PUBMSG_TO_CHILD, "ADD message of 31 bytes (at least 32)");
	frame(&b, PUBMSG_ADD, "uusss", 1, 0, "abcdef", "_http._tcp", "");
	get_bad(&b, PUBMSG_TO_CHILD, "ADD message: truncated at port");
	/* overlong: bytes after the last field */
	frame(&b, PUBMSG_REMOVE, "uu", 1, 2);
	get_bad(&b, PUBMSG_TO_CHILD, "REMOVE message: 4 bytes too many");
	/* and a good one after all that still parses */
	frame(&b, PUBMSG_UP, "u", 0);
	{
		struct pubmsg m;

		get_ok(&b, PUBMSG_TO_PARENT, &m, PUBMSG_UP);
		ck_assert_uint_eq(m.up, 0);
		pubmsg_clear(&m);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_bad_fields)
{
	char name64[65], item[300];
	struct buf b;

	memset(name64, 'n', 64);
	name64[64] = '\0';
	buf_init(&b, BIG);
	frame(&b, PUBMSG_UP, "u", 2);
	get_bad(&b, PUBMSG_TO_PARENT, "up 2");
	frame(&b, PUBMSG_REMOVE, "u", 0);
	get_bad(&b, PUBMSG_TO_CHILD, "entry id 0");
	frame(&b, PUBMSG_STATE, "uuuss", 1, 0, 4, "a", "");
	get_bad(&b, PUBMSG_TO_PARENT, "state 4");
	frame(&b, PUBMSG_STATE, "uuuss", 1, 0, PUB_FAILED, "a", "");
	get_bad(&b, PUBMSG_TO_PARENT, "state failed without an error");
	frame(&b, PUBMSG_STATE, "uuuss", 1, 0, PUB_WAITING, "a", "why");
	get_bad(&b, PUBMSG_TO_PARENT, "state waiting with an error");
	frame(&b, PUBMSG_STATE, "uuuss", 1, 0, PUB_WAITING, "", "");
	get_bad(&b, PUBMSG_TO_PARENT, "empty name");
	frame(&b, PUBMSG_STATE, "uuuss", 1, 0, PUB_WAITING, name64, "");
	get_bad(&b, PUBMSG_TO_PARENT, "name of 64 bytes (at most 63)");
	/* a NUL inside a text field */
	buf_put_u32(&b, 4 + 12 + 4 + 3 + 4);
	buf_put_u32(&b, PUBMSG_STATE);
	buf_put_u32(&b, 1);
	buf_put_u32(&b, 0);
	buf_put_u32(&b, PUB_WAITING);
	buf_put_string(&b, "a\0b", 3);
	buf_put_u32(&b, 0);
	get_bad(&b, PUBMSG_TO_PARENT, "name holds a NUL byte");

	frame(&b, PUBMSG_ADD, "uusssuuuu", 1, 0, "a", "_http._tcp", "", 0,
	    0, 0, 0);
	get_bad(&b, PUBMSG_TO_CHILD, "port 0");
	frame(&b, PUBMSG_ADD, "uusssuuuu", 1, 0, "a", "_http._tcp", "",
	    70000, 0, 0, 0);
	get_bad(&b, PUBMSG_TO_CHILD, "port 70000");
	frame(&b, PUBMSG_ADD, "uusssuuuu", 1, 0, "a", "_http._tcp", "", 80,
	    3, 0, 0);
	get_bad(&b, PUBMSG_TO_CHILD, "scope 3");
	frame(&b, PUBMSG_ADD, "uusssuuuu", 1, 0, "a", "_http._tcp", "", 80,
	    PUB_SCOPE_IFACE, 0, 0);
	get_bad(&b, PUBMSG_TO_CHILD, "interface index 0");
	/* TXT: a count the body cannot hold, an item too long */
	frame(&b, PUBMSG_UPDATE, "uuuu", 1, 0, 80, 1000000);
	get_bad(&b, PUBMSG_TO_CHILD, "1000000 TXT items in 0 bytes");
	memset(item, 'x', 256);
	item[256] = '\0';
	frame(&b, PUBMSG_UPDATE, "uuuus", 1, 0, 80, 1, item);
	get_bad(&b, PUBMSG_TO_CHILD, "TXT item of 256 bytes (at most 255)");
	frame(&b, PUBMSG_UPDATE, "uuuusu", 1, 0, 80, 2, "a=1", 50);
	get_bad(&b, PUBMSG_TO_CHILD, "TXT item of 50 bytes, 0 left");
	/* the whole record too long: 40 items of 255 bytes */
	memset(item, 'x', 255);
	item[255] = '\0';
	{
		struct buf body;
		int i;

		buf_init(&body, BIG);
		buf_put_u32(&body, PUBMSG_UPDATE);
		buf_put_u32(&body, 1);
		buf_put_u32(&body, 0);
		buf_put_u32(&body, 80);
		buf_put_u32(&body, 40);
		for (i = 0; i < 40; i++)
			buf_put_cstring(&body, item);
		buf_put_u32(&b, (uint32_t)buf_len(&body));
		buf_put(&b, buf_ptr(&body), buf_len(&body));
		buf_free(&body);
	}
	get_bad(&b, PUBMSG_TO_CHILD, "TXT record is 10240 bytes long");
	buf_free(&b);
}
END_TEST

/* A message that does not fit leaves the buffer as it was. */
START_TEST(test_put_full)
{
	struct buf b;
	struct pubmsg m;

	buf_init(&b, 20);
	memset(&m, 0, sizeof(m));
	m.type = PUBMSG_UP;
	ck_assert_int_eq(pubmsg_put(&b, &m), 0);
	ck_assert_uint_eq(buf_len(&b), 12);		/* len, type, up */
	ck_assert_int_eq(pubmsg_put(&b, &m), -1);
	ck_assert_uint_eq(buf_len(&b), 12);
	m.type = 42;
	ck_assert_int_eq(pubmsg_put(&b, &m), -1);
	ck_assert_str_eq(pubmsg_type_name(PUBMSG_STATE), "STATE");
	ck_assert_str_eq(pubmsg_type_name(42), "unknown");
	buf_free(&b);
}
END_TEST

/* --- the child process -------------------------------------------------- */

struct watch {
	struct ev_loop		*loop;
	struct publisher	*pub;
	pid_t			 first;
	int			 ticks;
};

static void
watch_cb(void *arg)
{
	struct watch *w = arg;

	w->ticks++;
	ev_loop_break(w->loop);
}

static int ncb;

static void
count_cb(struct publisher *p, struct pub_entry *e, int up, void *arg)
{
	ncb++;
}

/* Without D-Bus (nothing is published, nothing reported): the child is
 * killed, a new one comes, the entry waits for it; freeing ends it. */
START_TEST(test_child_killed)
{
	struct ev_loop *loop;
	struct ev_timer *t;
	struct watch w;
	struct pub_entry *e;
	struct pub_spec s = { .name = "web", .type = "_http._tcp",
	    .port = 8080, .scope = PUB_SCOPE_LAN };
	pid_t second;
	int status;

	setenv("DBUS_SYSTEM_BUS_ADDRESS",
	    "unix:path=/nonexistent/rnsplice-test/bus", 1);
	log_init("test_pubmsg", 1, 0);
	ck_assert_ptr_nonnull(loop = ev_loop_new());
	memset(&w, 0, sizeof(w));
	w.loop = loop;
	w.pub = publisher_new(loop, count_cb, NULL);
	w.first = publisher_pid(w.pub);
	ck_assert_int_gt(w.first, 1);
	ck_assert_int_ne(w.first, getpid());
	ck_assert_uint_eq(publisher_restarts(w.pub), 0);
	ck_assert_ptr_nonnull(e = publisher_add(w.pub, &s, NULL));
	ck_assert_int_eq(kill(w.first, SIGKILL), 0);
	ck_assert_ptr_nonnull(t = ev_timer_add(loop, watch_cb, &w));
	while (w.ticks <= 200 && !(publisher_pid(w.pub) > 0 &&
	    publisher_pid(w.pub) != w.first)) {
		ev_timer_set(t, 50);
		ck_assert_int_eq(ev_loop_run(loop), 0);
	}
	second = publisher_pid(w.pub);
	ck_assert_int_gt(second, 1);
	ck_assert_int_ne(second, w.first);
	ck_assert_uint_eq(publisher_restarts(w.pub), 1);
	/* the first was reaped by the publisher itself */
	ck_assert_int_eq(waitpid(w.first, &status, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	ck_assert_int_eq(publisher_running(w.pub), 0);
	ck_assert_int_eq(pub_entry_state(e), PUB_WAITING);
	ck_assert_int_eq(ncb, 0);	/* never up, still waiting: nothing */
	/* a pid that is not the publisher's is not taken */
	ck_assert_int_eq(publisher_reaped(w.pub, getpid(), 0), 0);
	publisher_free(w.pub);
	/* EOF on its socket: the child ends */
	ck_assert_int_eq(waitpid(second, &status, 0), second);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ev_timer_del(t);
	ev_loop_free(loop);
}
END_TEST

static Suite *
pubmsg_suite(void)
{
	Suite *s = suite_create("pubmsg");
	TCase *tc = tcase_create("framing");

	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_bytewise);
	tcase_add_test(tc, test_bad_lengths);
	tcase_add_test(tc, test_bad_frames);
	tcase_add_test(tc, test_bad_fields);
	tcase_add_test(tc, test_put_full);
	suite_add_tcase(s, tc);
	tc = tcase_create("child");
	tcase_add_test(tc, test_child_killed);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pubmsg_suite());
	int nfail;

	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
