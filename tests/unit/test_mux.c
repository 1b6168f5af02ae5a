/* Unit tests of the mux client (agent/mux.c): the reply parser fed
 * crafted byte streams, and the exact bytes and fds a request puts on a
 * control socket (a fake master listens on a temporary socket).
 *
 * The wire constants are spelled out here again on purpose, from
 * OpenSSH's mux.c, so that a typo in agent/mux.c is not mirrored. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mux.h"

#define HELLO		0x00000001
#define C_NEW_SESSION	0x10000002
#define C_ALIVE_CHECK	0x10000004
#define C_OPEN_FWD	0x10000006
#define C_CLOSE_FWD	0x10000007
#define C_NEW_STDIO_FWD	0x10000008
#define S_OK		0x80000001
#define S_PERM_DENIED	0x80000002
#define S_FAILURE	0x80000003
#define S_EXIT_MESSAGE	0x80000004
#define S_ALIVE		0x80000005
#define S_SESSION_OPENED 0x80000006
#define S_REMOTE_PORT	0x80000007
#define S_TTY_ALLOC_FAIL 0x80000008

/* --- crafting packets ---------------------------------------------------- */

/* Append one framed packet: fmt letters u = u32, s = C string,
 * b = (pointer, length) binary string. */
static void
pkt(struct buf *out, const char *fmt, ...)
{
	struct buf body;
	va_list ap;
	const char *s;
	size_t n;

	buf_init(&body, 1 << 20);
	va_start(ap, fmt);
	for (; *fmt != '\0'; fmt++) {
		switch (*fmt) {
		case 'u':
			ck_assert_int_eq(buf_put_u32(&body,
			    va_arg(ap, uint32_t)), 0);
			break;
		case 's':
			ck_assert_int_eq(buf_put_cstring(&body,
			    va_arg(ap, const char *)), 0);
			break;
		case 'b':
			s = va_arg(ap, const char *);
			n = va_arg(ap, size_t);
			ck_assert_int_eq(buf_put_string(&body, s, n), 0);
			break;
		default:
			ck_abort_msg("bad pkt format");
		}
	}
	va_end(ap);
	ck_assert_int_eq(buf_put_u32(out, (uint32_t)buf_len(&body)), 0);
	ck_assert_int_eq(buf_put(out, buf_ptr(&body), buf_len(&body)), 0);
	buf_free(&body);
}

static void
master_hello(struct buf *out)
{
	pkt(out, "uu", HELLO, 4);
}

static void
feed(struct mux_reader *r, const void *p, size_t n)
{
	ck_assert_int_eq(buf_put(&r->in, p, n), 0);
}

/* Run the parser to exhaustion; events land in evs (0-terminated). */
static size_t
drain(struct mux_reader *r, enum mux_event *evs, size_t max)
{
	enum mux_event ev;
	size_t n = 0;

	while ((ev = mux_reader_next(r)) != MUX_EV_NONE) {
		ck_assert_uint_lt(n, max);
		evs[n++] = ev;
	}
	return n;
}

static enum mux_event
one_event(const struct buf *stream, uint32_t rid, struct mux_reader *r)
{
	enum mux_event evs[16];
	size_t n;

	mux_reader_init(r, rid);
	feed(r, buf_ptr(stream), buf_len(stream));
	n = drain(r, evs, 16);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(mux_reader_next(r), MUX_EV_NONE);
	return evs[0];
}

/* --- the parser ---------------------------------------------------------- */

START_TEST(test_hello_session_exit)
{
	struct mux_reader r;
	struct buf s;
	enum mux_event evs[8];

	buf_init(&s, 4096);
	master_hello(&s);
	pkt(&s, "uuu", S_SESSION_OPENED, 7, 3);
	pkt(&s, "uuu", S_EXIT_MESSAGE, 3, 42);
	mux_reader_init(&r, 7);
	feed(&r, buf_ptr(&s), buf_len(&s));
	ck_assert_uint_eq(drain(&r, evs, 8), 2);
	ck_assert_int_eq(evs[0], MUX_EV_OPENED);
	ck_assert_int_eq(evs[1], MUX_EV_EXIT);
	ck_assert_uint_eq(r.sid, 3);
	ck_assert_uint_eq(r.exit_status, 42);
	ck_assert_int_eq(r.got_hello, 1);
	ck_assert_int_eq(r.done, 0);
	mux_reader_free(&r);
	buf_free(&s);
}
END_TEST

START_TEST(test_hello_extensions_alive_ok)
{
	struct mux_reader r;
	struct buf s;
	enum mux_event evs[8];

	buf_init(&s, 4096);
	/* extension values are binary (NULs allowed) and skipped */
	pkt(&s, "uusbsb", HELLO, 4, "x@example", "\0\1\2", (size_t)3,
	    "y@example", "", (size_t)0);
	pkt(&s, "uuu", S_ALIVE, 9, 12345);
	pkt(&s, "uu", S_OK, 9);
	mux_reader_init(&r, 9);
	feed(&r, buf_ptr(&s), buf_len(&s));
	ck_assert_uint_eq(drain(&r, evs, 8), 2);
	ck_assert_int_eq(evs[0], MUX_EV_ALIVE);
	ck_assert_uint_eq(r.pid, 12345);
	ck_assert_int_eq(evs[1], MUX_EV_OK);
	mux_reader_free(&r);
	buf_free(&s);
}
END_TEST

START_TEST(test_failure_reasons)
{
	struct mux_reader r;
	struct buf s;

	buf_init(&s, 4096);
	master_hello(&s);
	pkt(&s, "uus", S_FAILURE, 1, "Session open refused by peer");
	ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_FAILED);
	ck_assert_str_eq(r.reason, "Session open refused by peer");
	mux_reader_free(&r);

	buf_reset(&s);
	master_hello(&s);
	pkt(&s, "uus", S_PERM_DENIED, 1, "Permission denied");
	ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_FAILED);
	ck_assert_str_eq(r.reason, "Permission denied");
	mux_reader_free(&r);

	/* control characters never reach a log line */
	buf_reset(&s);
	master_hello(&s);
	pkt(&s, "uus", S_FAILURE, 1, "evil\r\nline\033[2J");
	ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_FAILED);
	ck_assert_str_eq(r.reason, "evil??line?[2J");
	mux_reader_free(&r);

	/* an over-long reason is cut, not overflowed */
	{
		char big[4000];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		buf_reset(&s);
		master_hello(&s);
		pkt(&s, "uus", S_FAILURE, 1, big);
		ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_FAILED);
		ck_assert_uint_eq(strlen(r.reason), sizeof(r.reason) - 1);
		mux_reader_free(&r);
	}

	/* an empty reason still gives a reason */
	buf_reset(&s);
	master_hello(&s);
	pkt(&s, "uus", S_FAILURE, 1, "");
	ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_FAILED);
	ck_assert_str_eq(r.reason, "(no reason given)");
	mux_reader_free(&r);

	/* a reason with an embedded NUL is malformed */
	buf_reset(&s);
	master_hello(&s);
	pkt(&s, "uub", S_FAILURE, 1, "a\0b", (size_t)3);
	ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_ERROR);
	mux_reader_free(&r);

	/* failure is not final: the master closes afterwards */
	buf_reset(&s);
	master_hello(&s);
	pkt(&s, "uus", S_FAILURE, 1, "no");
	ck_assert_int_eq(one_event(&s, 1, &r), MUX_EV_FAILED);
	ck_assert_int_eq(r.done, 0);
	mux_reader_free(&r);
	buf_free(&s);
}
END_TEST

/* Each stream must give exactly one MUX_EV_ERROR with a reason, then
 * nothing more. */
static void
expect_error(const struct buf *s, uint32_t rid, const char *why)
{
	struct mux_reader r;
	enum mux_event evs[16];
	size_t n;

	mux_reader_init(&r, rid);
	feed(&r, buf_ptr(s), buf_len(s));
	n = drain(&r, evs, 16);
	ck_assert_msg(n >= 1 && evs[n - 1] == MUX_EV_ERROR,
	    "%s: no error (%zu events)", why, n);
	ck_assert_msg(r.reason[0] != '\0', "%s: no reason", why);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(mux_reader_next(&r), MUX_EV_NONE);
	mux_reader_free(&r);
}

START_TEST(test_protocol_errors)
{
	struct buf s;

	buf_init(&s, 4096);

#define CASE(why, ...) do {					\
		buf_reset(&s);					\
		__VA_ARGS__;					\
		expect_error(&s, 5, why);			\
	} while (0)

	CASE("wrong rid", master_hello(&s);
	    pkt(&s, "uuu", S_SESSION_OPENED, 6, 1));
	CASE("wrong rid failure", master_hello(&s);
	    pkt(&s, "uus", S_FAILURE, 4, "x"));
	CASE("wrong rid alive", master_hello(&s);
	    pkt(&s, "uuu", S_ALIVE, 0, 1));
	CASE("no hello", pkt(&s, "uuu", S_SESSION_OPENED, 5, 1));
	CASE("version 3", pkt(&s, "uu", HELLO, 3));
	CASE("hello without version", pkt(&s, "u", HELLO));
	CASE("hello with half an extension", pkt(&s, "uus", HELLO, 4, "x"));
	CASE("hello with a short extension", pkt(&s, "uuu", HELLO, 4, 9));
	CASE("second hello", master_hello(&s); master_hello(&s));
	CASE("exit before open", master_hello(&s);
	    pkt(&s, "uuu", S_EXIT_MESSAGE, 1, 0));
	CASE("exit for another session", master_hello(&s);
	    pkt(&s, "uuu", S_SESSION_OPENED, 5, 1);
	    pkt(&s, "uuu", S_EXIT_MESSAGE, 2, 0));
	CASE("second open", master_hello(&s);
	    pkt(&s, "uuu", S_SESSION_OPENED, 5, 1);
	    pkt(&s, "uuu", S_SESSION_OPENED, 5, 1));
	CASE("opened without sid", master_hello(&s);
	    pkt(&s, "uu", S_SESSION_OPENED, 5));
	CASE("alive without pid", master_hello(&s);
	    pkt(&s, "uu", S_ALIVE, 5));
	CASE("exit without status", master_hello(&s);
	    pkt(&s, "uuu", S_SESSION_OPENED, 5, 1);
	    pkt(&s, "uu", S_EXIT_MESSAGE, 1));
	CASE("failure without reason", master_hello(&s);
	    pkt(&s, "uu", S_FAILURE, 5));
	CASE("failure with a short reason", master_hello(&s);
	    pkt(&s, "uuu", S_FAILURE, 5, 100));
	CASE("reply without rid", master_hello(&s); pkt(&s, "u", S_OK));
	CASE("remote port", master_hello(&s);
	    pkt(&s, "uuu", S_REMOTE_PORT, 5, 22));
	CASE("a client request", master_hello(&s);
	    pkt(&s, "uu", C_ALIVE_CHECK, 5));
	CASE("unknown type", master_hello(&s); pkt(&s, "uu", 0x8000ffff, 5));
	CASE("empty packet", master_hello(&s); buf_put_u32(&s, 0));
	CASE("3-byte packet", master_hello(&s); buf_put_u32(&s, 3);
	    buf_put(&s, "abc", 3));
#undef CASE
	buf_free(&s);
}
END_TEST

START_TEST(test_oversize)
{
	struct mux_reader r;
	unsigned char hdr[4];

	/* rejected from the header alone, before any body arrives */
	mux_reader_init(&r, 1);
	hdr[0] = 0; hdr[1] = 0x04; hdr[2] = 0; hdr[3] = 0x01; /* 256K + 1 */
	feed(&r, hdr, 4);
	ck_assert_int_eq(mux_reader_next(&r), MUX_EV_ERROR);
	ck_assert_ptr_nonnull(strstr(r.reason, "exceeds"));
	mux_reader_free(&r);

	mux_reader_init(&r, 1);
	memset(hdr, 0xff, 4);
	feed(&r, hdr, 4);
	ck_assert_int_eq(mux_reader_next(&r), MUX_EV_ERROR);
	mux_reader_free(&r);

	/* exactly MUX_MAXPACKET is allowed: a HELLO with a big extension */
	{
		struct buf s;
		char *v = calloc(1, MUX_MAXPACKET);
		size_t vlen = MUX_MAXPACKET - 8 - 4 - 5 - 4;

		ck_assert_ptr_nonnull(v);
		buf_init(&s, 2 * MUX_MAXPACKET);
		pkt(&s, "uusb", HELLO, 4, "a@b.c", v, vlen);
		ck_assert_uint_eq(buf_len(&s), 4 + (size_t)MUX_MAXPACKET);
		mux_reader_init(&r, 1);
		feed(&r, buf_ptr(&s), buf_len(&s));
		ck_assert_int_eq(mux_reader_next(&r), MUX_EV_NONE);
		ck_assert_int_eq(r.got_hello, 1);
		buf_reset(&s);
		pkt(&s, "uuu", S_SESSION_OPENED, 1, 2);
		feed(&r, buf_ptr(&s), buf_len(&s));
		ck_assert_int_eq(mux_reader_next(&r), MUX_EV_OPENED);
		mux_reader_free(&r);
		buf_free(&s);
		free(v);
	}
}
END_TEST

/* A good conversation split at every byte boundary (and fed one byte at
 * a time) gives the same events as the whole. */
START_TEST(test_split_everywhere)
{
	struct mux_reader r;
	struct buf s;
	enum mux_event evs[8], want[] = { MUX_EV_OPENED, MUX_EV_EXIT };
	size_t k, i, n;

	buf_init(&s, 4096);
	pkt(&s, "uusb", HELLO, 4, "ext", "v\0v", (size_t)3);
	pkt(&s, "uuu", S_SESSION_OPENED, 77, 0x01020304);
	pkt(&s, "uuu", S_EXIT_MESSAGE, 0x01020304, 255);

	for (k = 0; k <= buf_len(&s); k++) {
		mux_reader_init(&r, 77);
		feed(&r, buf_ptr(&s), k);
		n = drain(&r, evs, 8);
		feed(&r, buf_ptr(&s) + k, buf_len(&s) - k);
		n += drain(&r, evs + n, 8 - n);
		ck_assert_uint_eq(n, 2);
		ck_assert_int_eq(evs[0], want[0]);
		ck_assert_int_eq(evs[1], want[1]);
		ck_assert_uint_eq(r.sid, 0x01020304);
		ck_assert_uint_eq(r.exit_status, 255);
		mux_reader_free(&r);
	}

	mux_reader_init(&r, 77);
	for (i = 0, n = 0; i < buf_len(&s); i++) {
		feed(&r, buf_ptr(&s) + i, 1);
		n += drain(&r, evs + n, 8 - n);
	}
	ck_assert_uint_eq(n, 2);
	mux_reader_free(&r);

	/* every proper prefix alone is incomplete, never an error */
	for (k = 0; k < buf_len(&s); k++) {
		mux_reader_init(&r, 77);
		feed(&r, buf_ptr(&s), k);
		n = drain(&r, evs, 8);
		ck_assert_int_eq(r.done, 0);
		for (i = 0; i < n; i++)
			ck_assert_int_ne(evs[i], MUX_EV_ERROR);
		mux_reader_free(&r);
	}
	buf_free(&s);
}
END_TEST

/* xorshift: reproducible garbage */
static uint32_t
rnd(uint32_t *st)
{
	*st ^= *st << 13;
	*st ^= *st >> 17;
	*st ^= *st << 5;
	return *st;
}

START_TEST(test_garbage)
{
	struct mux_reader r;
	struct buf good;
	unsigned char junk[512];
	enum mux_event evs[600];
	uint32_t st = 0x9e3779b9;
	size_t i, j, n, len;

	/* random bytes, raw and behind a valid HELLO */
	for (i = 0; i < 20000; i++) {
		len = rnd(&st) % sizeof(junk);
		for (j = 0; j < len; j++)
			junk[j] = (unsigned char)rnd(&st);
		/* small lengths so that packets complete often */
		if (len >= 4 && (i & 1)) {
			junk[0] = junk[1] = 0;
			junk[2] = 0;
			junk[3] &= 0x1f;
		}
		mux_reader_init(&r, 1);
		if (i & 2) {
			buf_init(&good, 64);
			master_hello(&good);
			feed(&r, buf_ptr(&good), buf_len(&good));
			buf_free(&good);
		}
		feed(&r, junk, len);
		n = drain(&r, evs, 600);
		for (j = 0; j + 1 < n; j++)
			ck_assert_int_ne(evs[j], MUX_EV_ERROR);
		if (n > 0 && evs[n - 1] == MUX_EV_ERROR)
			ck_assert(r.reason[0] != '\0');
		mux_reader_free(&r);
	}

	/* mutate one byte of a good stream at every position */
	buf_init(&good, 256);
	master_hello(&good);
	pkt(&good, "uuu", S_SESSION_OPENED, 1, 2);
	pkt(&good, "uus", S_FAILURE, 1, "why");
	pkt(&good, "uuu", S_EXIT_MESSAGE, 2, 0);
	for (i = 0; i < buf_len(&good); i++) {
		for (j = 0; j < 8; j++) {
			memcpy(junk, buf_ptr(&good), buf_len(&good));
			junk[i] ^= (unsigned char)(1u << j);
			mux_reader_init(&r, 1);
			feed(&r, junk, buf_len(&good));
			(void)drain(&r, evs, 600);
			mux_reader_free(&r);
		}
	}
	buf_free(&good);
}
END_TEST

/* --- mux_reader_read on a real descriptor -------------------------------- */

START_TEST(test_read_fd)
{
	struct mux_reader r;
	struct buf s;
	int sv[2], fl;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fl = fcntl(sv[0], F_GETFL);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK), 0);
	mux_reader_init(&r, 3);

	/* nothing yet: NONE, not an error */
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_NONE);

	/* one write, two packets after the HELLO: two events, then NONE */
	buf_init(&s, 4096);
	master_hello(&s);
	pkt(&s, "uuu", S_SESSION_OPENED, 3, 9);
	pkt(&s, "uuu", S_EXIT_MESSAGE, 9, 1);
	pkt(&s, "uu", S_OK, 3);		/* half of it only */
	ck_assert_int_eq(write(sv[1], buf_ptr(&s), buf_len(&s) - 3),
	    (ssize_t)buf_len(&s) - 3);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_OPENED);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_EXIT);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_NONE);

	/* EOF inside a packet is an error; then nothing more */
	close(sv[1]);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_ERROR);
	ck_assert_ptr_nonnull(strstr(r.reason, "inside a packet"));
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_NONE);
	mux_reader_free(&r);
	close(sv[0]);

	/* a clean EOF */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	mux_reader_init(&r, 3);
	buf_reset(&s);
	master_hello(&s);
	pkt(&s, "uus", S_FAILURE, 3, "Session open refused by peer");
	ck_assert_int_eq(write(sv[1], buf_ptr(&s), buf_len(&s)),
	    (ssize_t)buf_len(&s));
	close(sv[1]);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_FAILED);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_EOF);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_NONE);
	mux_reader_free(&r);
	close(sv[0]);

	/* EOF before the HELLO (e.g. uid mismatch) */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	mux_reader_init(&r, 3);
	ck_assert_int_eq(mux_reader_read(&r, sv[0]), MUX_EV_EOF);
	ck_assert_ptr_nonnull(strstr(r.reason, "before its HELLO"));
	mux_reader_free(&r);
	close(sv[0]);

	/* a big packet (HELLO with a 200 KB extension) through the fd,
	 * written as the socket takes it */
	{
		char *v = calloc(1, 200000);
		size_t off = 0;
		ssize_t k;
		enum mux_event ev, last = MUX_EV_NONE;

		ck_assert_ptr_nonnull(v);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		fcntl(sv[1], F_SETFL, O_NONBLOCK);
		buf_free(&s);
		buf_init(&s, 1 << 20);
		pkt(&s, "uusb", HELLO, 4, "big@x", v, (size_t)200000);
		pkt(&s, "uuu", S_SESSION_OPENED, 3, 4);
		mux_reader_init(&r, 3);
		while (off < buf_len(&s) || last == MUX_EV_NONE) {
			k = write(sv[1], buf_ptr(&s) + off, buf_len(&s) - off);
			if (k > 0)
				off += (size_t)k;
			while ((ev = mux_reader_read(&r, sv[0])) !=
			    MUX_EV_NONE)
				last = ev;
			ck_assert_int_ne(last, MUX_EV_ERROR);
		}
		ck_assert_int_eq(last, MUX_EV_OPENED);
		ck_assert_uint_eq(r.sid, 4);
		mux_reader_free(&r);
		close(sv[0]);
		close(sv[1]);
		free(v);
	}

	/* a read error */
	mux_reader_init(&r, 3);
	ck_assert_int_eq(mux_reader_read(&r, -1), MUX_EV_ERROR);
	mux_reader_free(&r);
	buf_free(&s);
}
END_TEST

/* --- requests: what a fake master receives ------------------------------- */

static char sockdir[64];
static char sockpath[128];

static int
fake_master(void)
{
	struct sockaddr_un sun;
	int s;

	strlcpy(sockdir, "/tmp/test_mux.XXXXXX", sizeof(sockdir));
	ck_assert_ptr_nonnull(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/ctl", sockdir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path));
	ck_assert_int_ne(s = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(s, 8), 0);
	return s;
}

static void
fake_master_done(int s)
{
	close(s);
	unlink(sockpath);
	rmdir(sockdir);
}

static void
read_exact(int fd, void *p, size_t n)
{
	ssize_t r;
	size_t have = 0;

	while (have < n) {
		r = read(fd, (char *)p + have, n - have);
		ck_assert_int_gt(r, 0);
		have += (size_t)r;
	}
}

/* Read one framed packet into b (reset first). */
static void
read_packet(int fd, struct buf *b)
{
	unsigned char hdr[4], body[4096];
	uint32_t len;

	read_exact(fd, hdr, 4);
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	ck_assert_uint_le(len, sizeof(body));
	read_exact(fd, body, len);
	buf_reset(b);
	ck_assert_int_eq(buf_put(b, body, len), 0);
}

/* One fd with exactly one data byte, as mm_receive_fd() reads it. */
static int
recv_one_fd(int s)
{
	struct msghdr msg;
	struct iovec iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	} cbuf;
	struct cmsghdr *cmsg;
	char ch[2];
	int fd;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = ch;
	iov.iov_len = 1;	/* as the master: one byte per fd */
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof(cbuf.buf);
	ck_assert_int_eq(recvmsg(s, &msg, 0), 1);
	ck_assert_int_eq(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC), 0);
	cmsg = CMSG_FIRSTHDR(&msg);
	ck_assert_ptr_nonnull(cmsg);
	ck_assert_int_eq(cmsg->cmsg_type, SCM_RIGHTS);
	ck_assert_uint_eq(cmsg->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

static void
expect_hello(int c, struct buf *b)
{
	uint32_t v;

	read_packet(c, b);
	ck_assert_uint_eq(buf_len(b), 8);
	buf_get_u32(b, &v);
	ck_assert_uint_eq(v, HELLO);
	buf_get_u32(b, &v);
	ck_assert_uint_eq(v, 4);
}

static void
expect_u32(struct buf *b, uint32_t want)
{
	uint32_t v;

	ck_assert_int_eq(buf_get_u32(b, &v), 0);
	ck_assert_uint_eq(v, want);
}

static void
expect_str(struct buf *b, const char *want)
{
	char *s;

	ck_assert_int_eq(buf_get_cstring(b, &s), 0);
	ck_assert_str_eq(s, want);
	free(s);
}

/* Two fds that must refer to the same socket as ours: a byte written to
 * the peer of ours comes out of each. */
static void
expect_same_socket(int got, int peer)
{
	char c = 0;

	ck_assert_int_eq(write(peer, "z", 1), 1);
	ck_assert_int_eq(read(got, &c, 1), 1);
	ck_assert_int_eq(c, 'z');
}

START_TEST(test_request_stdio_fwd)
{
	struct buf b;
	char *cause = NULL;
	int l, c, s, sv[2], f0, f1, fl;
	unsigned char extra;

	l = fake_master();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = mux_open_stdio_fwd(sockpath, "printer.example", 631, sv[0], 0xabcd,
	    &cause);
	ck_assert_msg(s != -1, "%s", cause);
	fl = fcntl(s, F_GETFL);
	ck_assert(fl & O_NONBLOCK);
	ck_assert(fcntl(s, F_GETFD) & FD_CLOEXEC);
	close(sv[0]);	/* the caller's copy, as the agent does */

	ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
	buf_init(&b, 8192);
	expect_hello(c, &b);
	read_packet(c, &b);
	expect_u32(&b, C_NEW_STDIO_FWD);
	expect_u32(&b, 0xabcd);
	expect_str(&b, "");
	expect_str(&b, "printer.example");
	expect_u32(&b, 631);		/* a u32, not a string */
	ck_assert_uint_eq(buf_len(&b), 0);
	f0 = recv_one_fd(c);
	f1 = recv_one_fd(c);
	expect_same_socket(f0, sv[1]);
	expect_same_socket(f1, sv[1]);
	/* nothing else follows */
	fl = fcntl(c, F_GETFL);
	fcntl(c, F_SETFL, fl | O_NONBLOCK);
	ck_assert_int_eq(read(c, &extra, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);

	close(f0);
	close(f1);
	close(c);
	close(s);
	close(sv[1]);
	buf_free(&b);
	fake_master_done(l);
}
END_TEST

START_TEST(test_request_subsystem_alive)
{
	struct buf b;
	char *cause = NULL;
	int l, c, s, sv[2], f[3];

	l = fake_master();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = mux_open_subsystem(sockpath, "rnsplice", sv[0], sv[0], -1, 17,
	    &cause);
	ck_assert_msg(s != -1, "%s", cause);
	close(sv[0]);
	ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
	buf_init(&b, 8192);
	expect_hello(c, &b);
	read_packet(c, &b);
	expect_u32(&b, C_NEW_SESSION);
	expect_u32(&b, 17);
	expect_str(&b, "");		/* reserved */
	expect_u32(&b, 0);		/* tty */
	expect_u32(&b, 0);		/* x11 */
	expect_u32(&b, 0);		/* agent */
	expect_u32(&b, 1);		/* subsystem */
	expect_u32(&b, 0xffffffff);	/* no escape char */
	expect_str(&b, "");		/* term */
	expect_str(&b, "rnsplice");	/* cmd = subsystem name */
	ck_assert_uint_eq(buf_len(&b), 0);	/* no env */
	f[0] = recv_one_fd(c);
	f[1] = recv_one_fd(c);
	f[2] = recv_one_fd(c);
	expect_same_socket(f[0], sv[1]);
	expect_same_socket(f[1], sv[1]);
	ck_assert_int_eq(write(f[2], "x", 1), 1);	/* /dev/null */
	close(f[0]);
	close(f[1]);
	close(f[2]);
	close(c);
	close(s);
	close(sv[1]);

	s = mux_alive_check(sockpath, 3, &cause);
	ck_assert_msg(s != -1, "%s", cause);
	ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
	expect_hello(c, &b);
	read_packet(c, &b);
	expect_u32(&b, C_ALIVE_CHECK);
	expect_u32(&b, 3);
	ck_assert_uint_eq(buf_len(&b), 0);
	close(c);
	close(s);
	buf_free(&b);
	fake_master_done(l);
}
END_TEST

/* A spare: HELLO at once, the request later on the same connection,
 * without a second HELLO; the master's HELLO is left for the reader. */
START_TEST(test_spare_stdio_fwd)
{
	struct buf b;
	char *cause = NULL;
	int l, c, s, sv[2], f0, f1, fl;
	unsigned char extra;

	l = fake_master();
	ck_assert_int_ne(s = mux_spare_open(sockpath, &cause), -1);
	fl = fcntl(s, F_GETFL);
	ck_assert(fl & O_NONBLOCK);
	ck_assert(fcntl(s, F_GETFD) & FD_CLOEXEC);
	ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
	buf_init(&b, 8192);
	expect_hello(c, &b);
	/* nothing more until the spare is used */
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
	ck_assert_int_eq(read(c, &extra, 1), -1);
	ck_assert_int_eq(errno, EAGAIN);
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) & ~O_NONBLOCK);
	ck_assert_int_eq(write(c, "\0\0\0\10\0\0\0\1\0\0\0\4", 12), 12);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_msg(mux_spare_stdio_fwd(s, "printer.example", 631, sv[0],
	    0x1234, &cause) == 0, "%s", cause);
	close(sv[0]);
	read_packet(c, &b);
	expect_u32(&b, C_NEW_STDIO_FWD);
	expect_u32(&b, 0x1234);
	expect_str(&b, "");
	expect_str(&b, "printer.example");
	expect_u32(&b, 631);
	ck_assert_uint_eq(buf_len(&b), 0);
	f0 = recv_one_fd(c);
	f1 = recv_one_fd(c);
	expect_same_socket(f0, sv[1]);
	expect_same_socket(f1, sv[1]);

	/* the reader takes the master's HELLO, then the reply */
	{
		struct mux_reader r;
		unsigned char opened[] = { 0, 0, 0, 12, 0x80, 0, 0, 6,
		    0, 0, 0x12, 0x34, 0, 0, 0, 9 };

		ck_assert_int_eq(write(c, opened, sizeof(opened)),
		    (ssize_t)sizeof(opened));
		mux_reader_init(&r, 0x1234);
		ck_assert_int_eq(mux_reader_read(&r, s), MUX_EV_OPENED);
		ck_assert_uint_eq(r.sid, 9);
		close(c);
		ck_assert_int_eq(mux_reader_read(&r, s), MUX_EV_EOF);
		mux_reader_free(&r);
	}
	close(f0);
	close(f1);
	close(s);
	close(sv[1]);
	buf_free(&b);
	fake_master_done(l);
}
END_TEST

/* A spare the master closed (or a master that went) is refused at once,
 * with a reason, and blocks nothing; a full backlog fails at once. */
START_TEST(test_spare_closed)
{
	struct buf b;
	char *cause = NULL;
	int l, c, s, s2, s3, sv[2];

	/* as every rnsplice program: where MSG_NOSIGNAL is missing (the
	 * compat fallbacks), a write to the closed spare raises SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	l = fake_master();
	ck_assert_int_ne(s = mux_spare_open(sockpath, &cause), -1);
	ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
	buf_init(&b, 8192);
	expect_hello(c, &b);
	close(c);		/* the master drops it */
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(mux_spare_stdio_fwd(s, "h", 1, sv[0], 1, &cause),
	    -1);
	ck_assert_ptr_nonnull(strstr(cause, "spare control connection"));
	free(cause);
	close(s);

	/* the listener gone with a spare still in its backlog */
	ck_assert_int_ne(s = mux_spare_open(sockpath, &cause), -1);
	fake_master_done(l);
	cause = NULL;
	ck_assert_int_eq(mux_spare_stdio_fwd(s, "h", 1, sv[0], 1, &cause),
	    -1);
	ck_assert_ptr_nonnull(cause);
	free(cause);
	close(s);
	/* and no master at all */
	ck_assert_int_eq(mux_spare_open(sockpath, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, sockpath));
	free(cause);

	/* a backlog that is full: an error now, not a wait */
	l = fake_master();
	ck_assert_int_eq(listen(l, 0), 0);
	s = s2 = s3 = -1;
	cause = NULL;
	s = mux_spare_open(sockpath, &cause);
	free(cause);
	cause = NULL;
	s2 = mux_spare_open(sockpath, &cause);
	free(cause);
	cause = NULL;
	s3 = mux_spare_open(sockpath, &cause);
	ck_assert_int_eq(s3, -1);
	ck_assert_ptr_nonnull(strstr(cause, "backlog"));
	free(cause);
	if (s != -1)
		close(s);
	if (s2 != -1)
		close(s2);
	close(sv[0]);
	close(sv[1]);
	buf_free(&b);
	fake_master_done(l);
}
END_TEST

/* A remote forward from a Unix socket on the server (export): the
 * request as "ssh -O forward -R path:host:port" sends it, the master's
 * answers (OK, or FAILURE with its words), and the cancel. */
START_TEST(test_request_remote_fwd)
{
	struct buf b, out;
	struct mux_reader r;
	char *cause = NULL;
	const char *path = "/tmp/rnsplice-x.ab12/7.sock";
	int l, c, s, i;
	enum mux_event ev;

	l = fake_master();
	buf_init(&b, 8192);
	buf_init(&out, 8192);
	for (i = 0; i < 2; i++) {
		s = i == 0 ? mux_open_remote_fwd(sockpath, path, "10.1.0.5",
		    8080, 41, &cause) : mux_close_remote_fwd(sockpath, path,
		    "10.1.0.5", 8080, 41, &cause);
		ck_assert_msg(s != -1, "%s", cause);
		ck_assert(fcntl(s, F_GETFL) & O_NONBLOCK);
		ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
		expect_hello(c, &b);
		read_packet(c, &b);
		expect_u32(&b, i == 0 ? C_OPEN_FWD : C_CLOSE_FWD);
		expect_u32(&b, 41);
		expect_u32(&b, 2);		/* remote */
		expect_str(&b, path);
		expect_u32(&b, 0xfffffffe);	/* PORT_STREAMLOCAL */
		expect_str(&b, "10.1.0.5");
		expect_u32(&b, 8080);
		ck_assert_uint_eq(buf_len(&b), 0);

		/* the master's answer */
		buf_reset(&out);
		master_hello(&out);
		if (i == 0)
			pkt(&out, "uus", S_FAILURE, 41, "remote port forwarding "
			    "failed for listen path /tmp/rnsplice-x.ab12/"
			    "7.sock");
		else
			pkt(&out, "uu", S_OK, 41);
		ck_assert_int_eq(write(c, buf_ptr(&out), buf_len(&out)),
		    (ssize_t)buf_len(&out));
		mux_reader_init(&r, 41);
		do {
			ev = mux_reader_read(&r, s);
		} while (ev == MUX_EV_NONE);
		ck_assert_int_eq(ev, i == 0 ? MUX_EV_FAILED : MUX_EV_OK);
		if (i == 0)
			ck_assert_ptr_nonnull(strstr(r.reason,
			    "remote port forwarding failed for listen path"));
		mux_reader_free(&r);
		close(c);
		close(s);
	}
	buf_free(&b);
	buf_free(&out);
	fake_master_done(l);
}
END_TEST

/* A local forward (the master's own listener, mfwd.c): the request as
 * "ssh -O forward -L addr:port:host:port" sends it, on a fresh control
 * connection and on a spare one, the answers, and the cancel. */
START_TEST(test_request_local_fwd)
{
	struct buf b, out;
	struct mux_reader r;
	char *cause = NULL;
	int l, c, s, i;
	enum mux_event ev;

	l = fake_master();
	buf_init(&b, 8192);
	buf_init(&out, 8192);
	for (i = 0; i < 4; i++) {
		switch (i) {
		case 0:
			s = mux_open_local_fwd(sockpath, "127.0.0.1", 20123,
			    "10.1.0.5", 8080, 77, &cause);
			break;
		case 1:
			s = mux_close_local_fwd(sockpath, "127.0.0.1", 20123,
			    "10.1.0.5", 8080, 77, &cause);
			break;
		default:
			/* a spare: HELLO now, the request later */
			s = mux_spare_open(sockpath, &cause);
			ck_assert_msg(s != -1, "%s", cause);
			ck_assert_msg(mux_spare_local_fwd(s, i == 2 ?
			    MUX_OPEN_FWD : MUX_CLOSE_FWD, "fe80::1%eth0",
			    20123, "printer.example", 631, 78, &cause) == 0,
			    "%s", cause);
			break;
		}
		ck_assert_msg(s != -1, "%s", cause);
		ck_assert(fcntl(s, F_GETFL) & O_NONBLOCK);
		ck_assert_int_ne(c = accept(l, NULL, NULL), -1);
		expect_hello(c, &b);
		read_packet(c, &b);
		expect_u32(&b, i % 2 == 0 ? C_OPEN_FWD : C_CLOSE_FWD);
		expect_u32(&b, i < 2 ? 77 : 78);
		expect_u32(&b, 1);		/* local */
		expect_str(&b, i < 2 ? "127.0.0.1" : "fe80::1%eth0");
		expect_u32(&b, 20123);
		expect_str(&b, i < 2 ? "10.1.0.5" : "printer.example");
		expect_u32(&b, i < 2 ? 8080 : 631);
		ck_assert_uint_eq(buf_len(&b), 0);

		buf_reset(&out);
		master_hello(&out);
		if (i == 2)
			pkt(&out, "uus", S_FAILURE, 78, "Port forwarding "
			    "failed");
		else
			pkt(&out, "uu", S_OK, i < 2 ? 77 : 78);
		ck_assert_int_eq(write(c, buf_ptr(&out), buf_len(&out)),
		    (ssize_t)buf_len(&out));
		mux_reader_init(&r, i < 2 ? 77 : 78);
		do {
			ev = mux_reader_read(&r, s);
		} while (ev == MUX_EV_NONE);
		ck_assert_int_eq(ev, i == 2 ? MUX_EV_FAILED : MUX_EV_OK);
		if (i == 2)
			ck_assert_str_eq(r.reason, "Port forwarding failed");
		mux_reader_free(&r);
		close(c);
		close(s);
	}
	/* bad requests: refused with a reason, nothing sent */
	buf_reset(&b);
	cause = NULL;
	ck_assert_int_eq(mux_local_fwd_body(&b, 0x10000008, "127.0.0.1", 1,
	    "h", 1, 1, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "bad request type"));
	free(cause);
#define FAILS(call) do {					\
	cause = NULL;							\
	ck_assert_int_eq((call), -1);					\
	ck_assert_ptr_nonnull(cause);					\
	free(cause);							\
} while (0)
	FAILS(mux_open_local_fwd("/x", "", 1, "h", 1, 1, &cause));
	FAILS(mux_open_local_fwd("/x", NULL, 1, "h", 1, 1, &cause));
	FAILS(mux_open_local_fwd("/x", "127.0.0.1", 0, "h", 1, 1, &cause));
	FAILS(mux_open_local_fwd("/x", "127.0.0.1", 65536, "h", 1, 1,
	    &cause));
	FAILS(mux_open_local_fwd("/x", "127.0.0.1", 1, "", 1, 1, &cause));
	FAILS(mux_close_local_fwd("/x", "127.0.0.1", 1, "h", 0, 1, &cause));
	FAILS(mux_open_local_fwd("/nonexistent/ctl", "127.0.0.1", 1, "h", 1,
	    1, &cause));
#undef FAILS
	ck_assert_uint_eq(buf_len(&b), 0);
	buf_free(&b);
	buf_free(&out);
	fake_master_done(l);
}
END_TEST

START_TEST(test_request_errors)
{
	char *cause, longpath[200];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(mux_open_stdio_fwd("/nonexistent/ctl", "h", 1, sv[0],
	    1, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "/nonexistent/ctl"));
	ck_assert_ptr_nonnull(strstr(cause, strerror(ENOENT)));
	free(cause);
#define FAILS(call) do {					\
	cause = NULL;							\
	ck_assert_int_eq((call), -1);					\
	ck_assert_ptr_nonnull(cause);					\
	free(cause);							\
} while (0)
	FAILS(mux_open_stdio_fwd("/x", "h", 0, sv[0], 1, &cause));
	FAILS(mux_open_stdio_fwd("/x", "h", 65536, sv[0], 1, &cause));
	FAILS(mux_open_stdio_fwd("/x", "", 1, sv[0], 1, &cause));
	FAILS(mux_open_stdio_fwd("/x", "h", 1, -1, 1, &cause));
	FAILS(mux_open_stdio_fwd("/x", "h", 1, 999, 1, &cause));
	FAILS(mux_open_subsystem("/x", "", sv[0], sv[0], -1, 1, &cause));
	FAILS(mux_open_subsystem("/x", "s", sv[0], sv[0], 999, 1, &cause));
	FAILS(mux_open_remote_fwd("/x", "", "h", 1, 1, &cause));
	FAILS(mux_open_remote_fwd("/x", "/p", "h", 0, 1, &cause));
	FAILS(mux_open_remote_fwd("/x", "/p", "h", 65536, 1, &cause));
	FAILS(mux_close_remote_fwd("/x", "/p", "", 1, 1, &cause));
#undef FAILS
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(mux_alive_check(longpath, 1, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, "too long"));
	free(cause);
	/* cause may be NULL */
	ck_assert_int_eq(mux_alive_check("/nonexistent/ctl", 1, NULL), -1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *
mux_suite(void)
{
	Suite *s = suite_create("mux");
	TCase *tc = tcase_create("parser");

	tcase_add_test(tc, test_hello_session_exit);
	tcase_add_test(tc, test_hello_extensions_alive_ok);
	tcase_add_test(tc, test_failure_reasons);
	tcase_add_test(tc, test_protocol_errors);
	tcase_add_test(tc, test_oversize);
	tcase_add_test(tc, test_split_everywhere);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_read_fd);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("requests");
	tcase_add_test(tc, test_request_stdio_fwd);
	tcase_add_test(tc, test_request_subsystem_alive);
	tcase_add_test(tc, test_request_remote_fwd);
	tcase_add_test(tc, test_request_local_fwd);
	tcase_add_test(tc, test_request_errors);
	tcase_add_test(tc, test_spare_stdio_fwd);
	tcase_add_test(tc, test_spare_closed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(mux_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
