/* Unit tests of common/: buffer, field codec, messages, metadata. */
#include "config.h"

#include <sys/wait.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "json.h"
#include "log.h"
#include "meta.h"
#include "proto.h"
#include "siteid.h"

/* Encode then decode; the result must equal the input byte for byte. */
static void
roundtrip(const void *data, size_t len, int kind)
{
	struct buf b;
	char *out, *s;
	size_t outlen;
	const char *cause = NULL;

	buf_init(&b, 65536);
	ck_assert_int_eq(field_encode(&b, data, len), 0);
	ck_assert_int_eq(buf_put(&b, "", 1), 0);
	s = (char *)buf_ptr(&b);
	ck_assert_ptr_null(strchr(s, ' '));
	ck_assert_ptr_null(strchr(s, '\n'));
	ck_assert_msg(field_decode(s, strlen(s), kind, &out, &outlen,
	    &cause) == 0, "decode failed: %s", cause);
	ck_assert_uint_eq(outlen, len);
	ck_assert_int_eq(memcmp(out, data, len), 0);
	free(out);
	buf_free(&b);
}

START_TEST(test_field_roundtrip)
{
	unsigned char all[256];
	int i;

	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	roundtrip("", 0, FIELD_TEXT);
	roundtrip("plain", 5, FIELD_TEXT);
	roundtrip("Kitchen printer", 15, FIELD_TEXT);
	roundtrip("a.b\\c %41 100%", 14, FIELD_TEXT);
	roundtrip("Caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x96\xa8", 14, FIELD_TEXT);
	roundtrip("-", 1, FIELD_TEXT);
	roundtrip("%", 1, FIELD_TEXT);
	roundtrip("key=val=ue", 10, FIELD_BINARY);
	roundtrip(all, sizeof(all), FIELD_BINARY);
	roundtrip("\xc3", 1, FIELD_BINARY);	/* lone lead byte: escaped */
}
END_TEST

START_TEST(test_field_encoding_is_minimal)
{
	struct buf b;

	buf_init(&b, 1024);
	field_encode(&b, "a b%\xc3\xa9\xff", 7);
	ck_assert_uint_eq(buf_len(&b), strlen("a%20b%25\xc3\xa9%FF"));
	ck_assert_int_eq(memcmp(buf_ptr(&b), "a%20b%25\xc3\xa9%FF",
	    buf_len(&b)), 0);
	buf_free(&b);
}
END_TEST

static void
decode_fails(const char *s, int kind)
{
	char *out;
	size_t outlen;
	const char *cause = NULL;

	ck_assert_msg(field_decode(s, strlen(s), kind, &out, &outlen,
	    &cause) == -1, "\"%s\" decoded", s);
	ck_assert_ptr_nonnull(cause);
	ck_assert_ptr_null(out);
}

START_TEST(test_field_rejects)
{
	decode_fails("", FIELD_BINARY);
	decode_fails("ab%", FIELD_BINARY);
	decode_fails("ab%4", FIELD_BINARY);
	decode_fails("ab%4G", FIELD_BINARY);
	decode_fails("a\tb", FIELD_BINARY);
	decode_fails("a\x7f", FIELD_BINARY);
	decode_fails("\xc3", FIELD_BINARY);		/* truncated */
	decode_fails("\xc0\xaf", FIELD_BINARY);		/* overlong */
	decode_fails("\xed\xa0\x80", FIELD_BINARY);	/* surrogate */
	decode_fails("\xf4\x90\x80\x80", FIELD_BINARY);	/* > U+10FFFF */
	decode_fails("%00", FIELD_TEXT);		/* NUL in text */
	decode_fails("%C3", FIELD_TEXT);		/* escaped bad UTF-8 */
}
END_TEST

static struct msg
parse_ok(const char *line)
{
	struct msg m;
	char *cause;
	const char *code;

	ck_assert_msg(msg_parse(line, strlen(line), &m, &cause, &code) == 0,
	    "\"%s\": %s", line, cause);
	ck_assert_ptr_null(cause);
	return m;
}

static void
parse_fails(const char *line, const char *want_code)
{
	struct msg m;
	char *cause;
	const char *code;

	ck_assert_msg(msg_parse(line, strlen(line), &m, &cause, &code) == -1,
	    "\"%s\" parsed", line);
	ck_assert_msg(cause != NULL && cause[0] != '\0' &&
	    strlen(cause) < PROTO_ERRLEN, "no reason for \"%s\"", line);
	free(cause);
	ck_assert_str_eq(code, want_code);
	msg_free(&m);
}

START_TEST(test_msg_add_roundtrip)
{
	struct msg m, m2;
	struct buf b;
	char *line;
	size_t len;

	memset(&m, 0, sizeof(m));
	m.type = MSG_ADD;
	m.id = 42;
	m.svc.name = strdup("My \\ printer. \xc3\xa9");
	m.svc.type = strdup("_ipp._tcp");
	m.svc.domain = strdup("local");
	m.svc.host = strdup("printer.local");
	m.svc.addr = strdup("fe80::1%eth0");
	m.svc.port = 631;
	txt_add(&m.svc.txt, "txtvers=1", 9);
	txt_add(&m.svc.txt, "bin=\0\n\xff", 7);
	txt_add(&m.svc.txt, "", 0);
	buf_init(&b, PROTO_MAXLINE);
	ck_assert_int_eq(msg_format(&b, &m, PROTO_MAXLINE), 0);
	ck_assert_int_eq(buf_getline(&b, PROTO_MAXLINE, &line, &len),
	    BUF_LINE_OK);
	m2 = parse_ok(line);
	ck_assert_int_eq(m2.type, MSG_ADD);
	ck_assert_uint_eq(m2.id, 42);
	ck_assert_int_eq(svc_equal(&m.svc, &m2.svc), 1);
	msg_free(&m);
	msg_free(&m2);
	buf_free(&b);
}
END_TEST

START_TEST(test_msg_hello)
{
	struct msg m = parse_ok("HELLO 1.0 abc123 agent update,relay "
	    "maxline=4096 maxhops=3 future=1 ping=7");

	ck_assert_uint_eq(m.major, 1);
	ck_assert_uint_eq(m.minor, 0);
	ck_assert_str_eq(m.peer_id, "abc123");
	ck_assert_str_eq(m.role, "agent");
	ck_assert_str_eq(m.features, "update,relay");
	ck_assert_uint_eq(m.maxline, 4096);
	ck_assert_uint_eq(m.maxhops, 3);
	ck_assert_uint_eq(m.ping, 7);
	msg_free(&m);
	m = parse_ok("HELLO 2.7 z subsystem %");
	ck_assert_uint_eq(m.major, 2);
	ck_assert_uint_eq(m.ping, 0);
	ck_assert_uint_eq(m.beat, 0);
	ck_assert_uint_eq(m.idle, 0);
	ck_assert_str_eq(m.features, "");
	msg_free(&m);
}
END_TEST

/* Version 1.2's keepalive (PROTOCOL.md section 5): the agent's beat= and
 * idle=, the subsystem's feature, BEAT. */
START_TEST(test_msg_beat)
{
	struct msg m, m2;
	struct buf b;
	char *line;
	size_t len;

	m = parse_ok("HELLO 1.2 abc agent update,export maxline=16384 "
	    "maxhops=4 ping=7 beat=7 idle=20");
	ck_assert_uint_eq(m.minor, 2);
	ck_assert_uint_eq(m.ping, 7);
	ck_assert_uint_eq(m.beat, 7);
	ck_assert_uint_eq(m.idle, 20);
	/* what the agent formats parses back the same */
	buf_init(&b, PROTO_MAXLINE);
	ck_assert_int_eq(msg_format(&b, &m, PROTO_MAXLINE), 0);
	ck_assert_int_eq(buf_getline(&b, PROTO_MAXLINE, &line, &len),
	    BUF_LINE_OK);
	ck_assert_str_eq(line, "HELLO 1.2 abc agent update,export "
	    "maxline=16384 maxhops=4 ping=7 beat=7 idle=20");
	m2 = parse_ok(line);
	ck_assert_uint_eq(m2.beat, 7);
	ck_assert_uint_eq(m2.idle, 20);
	msg_free(&m2);
	msg_free(&m);
	buf_free(&b);
	/* either alone, in any order; bounds */
	m = parse_ok("HELLO 1.2 abc agent % idle=10800 beat=1");
	ck_assert_uint_eq(m.beat, 1);
	ck_assert_uint_eq(m.idle, 10800);
	ck_assert_uint_eq(m.ping, 0);
	msg_free(&m);
	parse_fails("HELLO 1.2 a agent % beat=0", "syntax");
	parse_fails("HELLO 1.2 a agent % beat=3601", "syntax");
	parse_fails("HELLO 1.2 a agent % beat=07", "syntax");
	parse_fails("HELLO 1.2 a agent % beat=", "syntax");
	parse_fails("HELLO 1.2 a agent % idle=0", "syntax");
	parse_fails("HELLO 1.2 a agent % idle=10801", "syntax");
	parse_fails("HELLO 1.2 a agent % idle=x", "syntax");
	/* the subsystem's feature word */
	m = parse_ok("HELLO 1.2 abc subsystem relay,update,export,beat");
	ck_assert_int_eq(proto_has_feature(m.features, PROTO_FEATURE_BEAT),
	    1);
	msg_free(&m);
	m = parse_ok("HELLO 1.1 abc subsystem relay,update,export,beats");
	ck_assert_int_eq(proto_has_feature(m.features, PROTO_FEATURE_BEAT),
	    0);
	msg_free(&m);
	/* BEAT: no fields */
	m = parse_ok("BEAT");
	ck_assert_int_eq(m.type, MSG_BEAT);
	msg_free(&m);
	parse_fails("BEAT 1", "syntax");
	parse_fails("BEAT ", "syntax");
	memset(&m, 0, sizeof(m));
	m.type = MSG_BEAT;
	buf_init(&b, PROTO_MAXLINE);
	ck_assert_int_eq(msg_format(&b, &m, PROTO_MAXLINE), 0);
	ck_assert_int_eq(buf_getline(&b, PROTO_MAXLINE, &line, &len),
	    BUF_LINE_OK);
	ck_assert_str_eq(line, "BEAT");
	ck_assert_str_eq(msg_verb(MSG_BEAT), "BEAT");
	buf_free(&b);
}
END_TEST

/* Format m, parse it back, compare what the export verbs carry. */
static void
export_roundtrip(const struct msg *m)
{
	struct msg m2;
	struct buf b;
	char *line;
	size_t len;

	buf_init(&b, PROTO_MAXLINE);
	ck_assert_int_eq(msg_format(&b, m, PROTO_MAXLINE), 0);
	ck_assert_int_eq(buf_getline(&b, PROTO_MAXLINE, &line, &len),
	    BUF_LINE_OK);
	m2 = parse_ok(line);
	ck_assert_int_eq(m2.type, m->type);
	ck_assert_uint_eq(m2.id, m->id);
	ck_assert_int_eq(svc_equal(&m->svc, &m2.svc), 1);
	if (m->path != NULL)
		ck_assert_str_eq(m2.path, m->path);
	if (m->code != NULL) {
		ck_assert_str_eq(m2.code, m->code);
		ck_assert_str_eq(m2.text, m->text);
	}
	msg_free(&m2);
	buf_free(&b);
}

START_TEST(test_msg_export)
{
	struct msg m;
	static const char meta[] = "rnsplice=v1;o=a1;p=a1";

	memset(&m, 0, sizeof(m));
	m.type = MSG_EXPORT;
	m.id = 4294967295U;
	m.svc.name = "Printer (home) \xc3\xa9";
	m.svc.type = "_ipp._tcp";
	m.svc.domain = "local";
	m.svc.port = 0;
	txt_add(&m.svc.txt, "txtvers=1", 9);
	txt_add(&m.svc.txt, meta, sizeof(meta) - 1);
	export_roundtrip(&m);
	m.svc.port = 65535;
	export_roundtrip(&m);
	txt_free(&m.svc.txt);

	memset(&m, 0, sizeof(m));
	m.type = MSG_EXPORTING;
	m.id = 7;
	m.svc.port = 8631;
	m.path = "/run/user/1000/rnsplice-export.AbC123/7.sock";
	export_roundtrip(&m);

	memset(&m, 0, sizeof(m));
	m.type = MSG_FORWARDING;
	m.id = 7;
	export_roundtrip(&m);
	m.type = MSG_UNEXPORT;
	export_roundtrip(&m);

	m.type = MSG_DROPPED;
	m.code = "denied";
	m.text = "this server accepts no exports (no accept rule in "
	    "/etc/rnsplice/subsystem.conf)";
	export_roundtrip(&m);
	m.text = "";
	export_roundtrip(&m);

	m = parse_ok("EXPORT 3 Web _http._tcp local 0");
	ck_assert_uint_eq(m.id, 3);
	ck_assert_str_eq(m.svc.name, "Web");
	ck_assert_uint_eq(m.svc.port, 0);
	ck_assert_uint_eq(m.svc.txt.n, 0);
	ck_assert_ptr_null(m.svc.host);
	ck_assert_ptr_null(m.svc.addr);
	msg_free(&m);
	m = parse_ok("EXPORTING 3 8080 /tmp/rnsplice-x.12/3.sock");
	ck_assert_uint_eq(m.svc.port, 8080);
	ck_assert_str_eq(m.path, "/tmp/rnsplice-x.12/3.sock");
	msg_free(&m);
	m = parse_ok("DROPPED 9 loop path%20holds%20this%20site");
	ck_assert_uint_eq(m.id, 9);
	ck_assert_str_eq(m.code, "loop");
	ck_assert_str_eq(m.text, "path holds this site");
	msg_free(&m);
}
END_TEST

/* A bad EXPORT whose id parsed keeps the type and the id (DROPPED <id>
 * syntax answers it), and says why. */
static void
export_fails(const char *line, uint32_t want_id, const char *want_code,
    const char *want_reason)
{
	struct msg m;
	char *cause;
	const char *code;

	ck_assert_msg(msg_parse(line, strlen(line), &m, &cause, &code) == -1,
	    "\"%s\" parsed", line);
	ck_assert_str_eq(code, want_code);
	ck_assert_uint_eq(m.id, want_id);
	ck_assert_msg(strstr(cause, want_reason) != NULL, "\"%s\": \"%s\" "
	    "lacks \"%s\"", line, cause, want_reason);
	free(cause);
	msg_free(&m);
}

START_TEST(test_msg_export_rejects)
{
	char line[PROTO_MAXLINE], *p;
	size_t i;

	export_fails("EXPORT 5 n _http._tcp local 70000", 5, "syntax",
	    "field 5 (port): 70000 out of range 0..65535");
	export_fails("EXPORT 5 n _http._tcp local -1", 5, "syntax",
	    "not a decimal number");
	export_fails("EXPORT 5 n http local 80", 5, "syntax",
	    "not a service type");
	export_fails("EXPORT 6 n%ZZ _http._tcp local 80", 6, "syntax",
	    "field 2 (name)");
	export_fails("EXPORT 6 n%00 _http._tcp local 80", 6, "syntax",
	    "field 2 (name)");
	export_fails("EXPORT 0 n _http._tcp local 80", 0, "syntax",
	    "field 1 (id)");
	export_fails("EXPORT 4294967296 n _http._tcp local 80", 0, "syntax",
	    "field 1 (id)");
	export_fails("EXPORT 7 n _http._tcp local 80 a=%ZZ", 7, "syntax",
	    "field 6 (TXT item)");
	/* a TXT record over DNS-SD's bound: the limit code */
	p = line + snprintf(line, sizeof(line), "EXPORT 8 n _http._tcp local "
	    "80");
	for (i = 0; i < 40; i++) {
		*p++ = ' ';
		memset(p, 'x', 250);
		p += 250;
	}
	*p = '\0';
	export_fails(line, 8, "limit", "TXT record over");
	parse_fails("EXPORT 5 n _http._tcp local", "syntax");
	parse_fails("EXPORT 5 n _http._tcp local 080", "syntax");
	parse_fails("EXPORTING 1 0 /tmp/x.sock", "syntax");
	parse_fails("EXPORTING 1 65536 /tmp/x.sock", "syntax");
	parse_fails("EXPORTING 1 80 x.sock", "syntax");
	parse_fails("EXPORTING 1 80 /tmp/a%0Ab.sock", "syntax");
	parse_fails("EXPORTING 1 80 /tmp/x.sock extra", "syntax");
	parse_fails("EXPORTING 1 80", "syntax");
	memset(line, 0, sizeof(line));
	p = line + snprintf(line, sizeof(line), "EXPORTING 1 80 /");
	memset(p, 'a', PROTO_MAXPATH);	/* one byte over */
	parse_fails(line, "syntax");
	p[PROTO_MAXPATH - 1] = '\0';
	{
		struct msg m = parse_ok(line);

		ck_assert_uint_eq(strlen(m.path), PROTO_MAXPATH);
		msg_free(&m);
	}
	parse_fails("FORWARDING", "syntax");
	parse_fails("FORWARDING 0", "syntax");
	parse_fails("FORWARDING 1 2", "syntax");
	parse_fails("UNEXPORT x", "syntax");
	parse_fails("DROPPED 1 Denied why", "syntax");
	parse_fails("DROPPED 1 denied", "syntax");
	parse_fails("DROPPED 0 denied why", "syntax");
	parse_fails("DROPPED 1 denied why not", "syntax");
}
END_TEST

START_TEST(test_msg_version)
{
	struct msg m;
	struct buf b;
	char *line;
	size_t len;

	/* this side says 1.2 with the export and beat features; 1.0 still
	 * parses */
	msg_hello(&m, "abc", "subsystem", "relay,update,"
	    PROTO_FEATURE_EXPORT "," PROTO_FEATURE_BEAT, 0, 0);
	buf_init(&b, PROTO_MAXLINE);
	ck_assert_int_eq(msg_format(&b, &m, PROTO_MAXLINE), 0);
	ck_assert_int_eq(buf_getline(&b, PROTO_MAXLINE, &line, &len),
	    BUF_LINE_OK);
	ck_assert_str_eq(line, "HELLO 1.2 abc subsystem "
	    "relay,update,export,beat");
	m = parse_ok(line);
	buf_free(&b);
	ck_assert_uint_eq(m.major, PROTO_MAJOR);
	ck_assert_uint_eq(m.minor, 2);
	ck_assert_int_eq(proto_has_feature(m.features, "export"), 1);
	ck_assert_int_eq(proto_has_feature(m.features, "expor"), 0);
	msg_free(&m);
	m = parse_ok("HELLO 1.0 abc agent update");
	ck_assert_uint_eq(m.minor, 0);
	ck_assert_int_eq(proto_has_feature(m.features, "export"), 0);
	msg_free(&m);
}
END_TEST

START_TEST(test_msg_rejects)
{
	parse_fails("", "syntax");
	parse_fails("add 1", "syntax");
	parse_fails("HELLO 1.0 a agent % ping=0", "syntax");
	parse_fails("HELLO 1.0 a agent % ping=3601", "syntax");
	parse_fails("FROB 1", "verb");
	parse_fails("REMOVE", "syntax");
	parse_fails("REMOVE 0", "syntax");
	parse_fails("REMOVE 4294967296", "syntax");
	parse_fails("REMOVE 01", "syntax");
	parse_fails("REMOVE  1", "syntax");
	parse_fails("REMOVE 1 ", "syntax");
	parse_fails("SYNCED x", "syntax");
	parse_fails("ADD 1 n _http._tcp local h 10.0.0.1 0", "syntax");
	parse_fails("ADD 1 n _http._tcp local h 10.0.0.1 65536", "syntax");
	parse_fails("ADD 1 n _http._tcp local h 10.0.0.1 -1", "syntax");
	parse_fails("ADD 1 n http local h 10.0.0.1 80", "syntax");
	parse_fails("ADD 1 n _http._tcp local h 10.0.0.300 80", "syntax");
	parse_fails("ADD 1 n _http._tcp local h 10.0.0.1%eth0 80", "syntax");
	parse_fails("ADD 1 n _http._tcp local h 2001:db8::1%25eth0 80",
	    "syntax");
	parse_fails("ADD 1 n%ZZ _http._tcp local h 10.0.0.1 80", "syntax");
	parse_fails("ADD 1 \xff _http._tcp local h 10.0.0.1 80", "syntax");
	parse_fails("HELLO x.0 a agent %", "syntax");
	parse_fails("HELLO 1.0 A! agent %", "syntax");
	parse_fails("HELLO 1.0 a agent % maxline=99", "syntax");
	parse_fails("AVAHI sideways", "syntax");
	parse_fails("BROWSE nope", "syntax");
	/* found by fuzzing: an empty option field leaked its buffer */
	parse_fails("HELLO 1.0 abc123 agent x %", "syntax");
}
END_TEST

START_TEST(test_msg_name_limits)
{
	char line[1024];
	char name[100];
	struct msg m;

	memset(name, 'x', 63);
	name[63] = '\0';
	snprintf(line, sizeof(line), "ADD 1 %s _http._tcp local h ::1 80",
	    name);
	m = parse_ok(line);
	msg_free(&m);
	memset(name, 'x', 64);
	name[64] = '\0';
	snprintf(line, sizeof(line), "ADD 1 %s _http._tcp local h ::1 80",
	    name);
	parse_fails(line, "syntax");
	m = parse_ok("ADD 7 n _http._tcp local h fe80::1%25eth0 8080 a=b");
	ck_assert_str_eq(m.svc.addr, "fe80::1%eth0");
	ck_assert_uint_eq(m.svc.port, 8080);
	ck_assert_uint_eq(m.svc.txt.n, 1);
	msg_free(&m);
}
END_TEST

START_TEST(test_format_overlong_rolls_back)
{
	struct msg m;
	struct buf b;
	char big[300];

	memset(big, 'y', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4096);
	buf_put(&b, "keep", 4);
	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = "internal";
	m.text = big;
	ck_assert_int_eq(msg_format(&b, &m, 100), -1);
	ck_assert_uint_eq(buf_len(&b), 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_getline)
{
	struct buf b;
	char *line;
	size_t len;

	buf_init(&b, 64);
	buf_put(&b, "one\ntw", 6);
	ck_assert_int_eq(buf_getline(&b, 16, &line, &len), BUF_LINE_OK);
	ck_assert_str_eq(line, "one");
	ck_assert_int_eq(buf_getline(&b, 16, &line, &len), BUF_LINE_NONE);
	buf_put(&b, "o\n", 2);
	ck_assert_int_eq(buf_getline(&b, 16, &line, &len), BUF_LINE_OK);
	ck_assert_str_eq(line, "two");
	/* an over-long line is dropped whole, the next one survives */
	buf_put(&b, "0123456789abcdefghij", 20);
	ck_assert_int_eq(buf_getline(&b, 16, &line, &len), BUF_LINE_LONG);
	buf_put(&b, "klm\nok\n", 7);
	ck_assert_int_eq(buf_getline(&b, 16, &line, &len), BUF_LINE_OK);
	ck_assert_str_eq(line, "ok");
	ck_assert_int_eq(buf_getline(&b, 16, &line, &len), BUF_LINE_NONE);
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_limits)
{
	struct buf b;
	uint32_t v;
	char *s;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_put(&b, "123456789", 9), -1);
	ck_assert_int_eq(buf_put_u32(&b, 0xdeadbeef), 0);
	ck_assert_int_eq(buf_put_string(&b, "abcd", 4), -1);
	ck_assert_int_eq(buf_get_u32(&b, &v), 0);
	ck_assert_uint_eq(v, 0xdeadbeef);
	ck_assert_int_eq(buf_get_u32(&b, &v), -1);
	/* a string whose length claims more than is there */
	buf_put_u32(&b, 100);
	buf_put(&b, "ab", 2);
	ck_assert_int_eq(buf_get_cstring(&b, &s), -1);
	ck_assert_uint_eq(buf_len(&b), 6);
	buf_free(&b);
}
END_TEST

START_TEST(test_meta)
{
	struct splice_meta m;
	struct txt t = { NULL, 0 };
	const char *cause;
	char item[300];

	ck_assert_int_eq(meta_parse("v1;o=aa;p=aa,bb,cc", 18, &m, &cause), 0);
	ck_assert_str_eq(m.origin, "aa");
	ck_assert_uint_eq(m.npath, 3);
	ck_assert_uint_eq(meta_hops(&m), 2);
	ck_assert_int_eq(meta_has_site(&m, "bb"), 1);
	ck_assert_int_eq(meta_has_site(&m, "dd"), 0);
	ck_assert_int_eq(meta_push(&m, "dd"), 0);
	strlcpy(m.name, "Printer; A", sizeof(m.name));
	ck_assert_int_eq(meta_format(&m, item, sizeof(item)), 0);
	ck_assert_str_eq(item, "rnsplice=v1;o=aa;p=aa,bb,cc,dd;n=Printer; A");
	txt_add(&t, "x=1", 3);
	txt_add(&t, item, strlen(item));
	ck_assert_int_eq(meta_from_txt(&t, &m, &cause), 1);
	ck_assert_str_eq(m.name, "Printer; A");
	ck_assert_uint_eq(m.npath, 4);
	ck_assert_int_eq(txt_remove_key(&t, "RNSPLICE"), 1);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_int_eq(meta_from_txt(&t, &m, &cause), 0);
	txt_free(&t);
	ck_assert_int_eq(meta_parse("v2;o=aa;p=aa", 12, &m, &cause), -1);
	ck_assert_int_eq(meta_parse("v1;o=aa;p=bb", 12, &m, &cause), -1);
	ck_assert_int_eq(meta_parse("v1;o=A;p=A", 10, &m, &cause), -1);
	ck_assert_int_eq(meta_parse("v1;o=aa", 7, &m, &cause), -1);
}
END_TEST

/* What a peer names its services is shown in logs and by rnsplice(1):
 * controls, C1 controls and the bidirectional controls come out escaped,
 * everything else as it is. */
START_TEST(test_uc_unsafe)
{
	static const unsigned int bad[] = { 0x00, 0x0a, 0x1b, 0x1f, 0x7f,
	    0x80, 0x85, 0x9b, 0x9f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e,
	    0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029 };
	static const unsigned int good[] = { 0x20, 0x41, 0x7e, 0xa0, 0xe9,
	    0x2027, 0x202f, 0x2065, 0x206a, 0x2070, 0x1f600 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(uc_unsafe(bad[i]), "U+%04X not unsafe", bad[i]);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(!uc_unsafe(good[i]), "U+%04X unsafe", good[i]);
}
END_TEST

START_TEST(test_log_vis)
{
	char out[256];

	log_vis(out, sizeof(out), "Plain caf\xc3\xa9 \xf0\x9f\x98\x80");
	ck_assert_str_eq(out, "Plain caf\xc3\xa9 \xf0\x9f\x98\x80");
	/* ASCII controls, as before */
	log_vis(out, sizeof(out), "a\nb\x1b[31m\x7f");
	ck_assert_str_eq(out, "a\\x0ab\\x1b[31m\\x7f");
	/* C1 controls in UTF-8 (U+0085 NEL, U+009B CSI) */
	log_vis(out, sizeof(out), "x\xc2\x85y\xc2\x9b" "31m\xc2\x80\xc2\x9f");
	ck_assert_str_eq(out, "x\\u0085y\\u009b31m\\u0080\\u009f");
	/* U+00A0 and U+00FF are text */
	log_vis(out, sizeof(out), "\xc2\xa0\xc3\xbf");
	ck_assert_str_eq(out, "\xc2\xa0\xc3\xbf");
	/* bidi overrides and isolates: "Trojan Source" names */
	log_vis(out, sizeof(out), "evil\xe2\x80\xae" "fdp.exe\xe2\x80\xac "
	    "\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xad\xe2\x81\xa6\xe2\x81\xa7"
	    "\xe2\x81\xa8\xe2\x81\xa9\xe2\x80\xa8\xe2\x80\xa9");
	ck_assert_str_eq(out, "evil\\u202efdp.exe\\u202c \\u202a\\u202b"
	    "\\u202d\\u2066\\u2067\\u2068\\u2069\\u2028\\u2029");
	/* invalid UTF-8: lone C1 bytes, a cut sequence, overlong, surrogate,
	 * beyond U+10FFFF, a stray continuation byte */
	log_vis(out, sizeof(out), "\x85|\x9b|\xe2\x80|\xc0\xaf|\xed\xa0\x80|"
	    "\xf4\x90\x80\x80|\x80|\xff");
	ck_assert_str_eq(out, "\\x85|\\x9b|\\xe2\\x80|\\xc0\\xaf|"
	    "\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\x80|\\xff");
	/* truncation never cuts an escape or a character in two */
	log_vis(out, 8, "abc\xe2\x80\xae");
	ck_assert_str_eq(out, "abc");
	log_vis(out, 7, "ab\xc3\xa9\xc3\xa9");
	ck_assert_str_eq(out, "ab\xc3\xa9\xc3\xa9");
	log_vis(out, 6, "ab\xc3\xa9\xc3\xa9");
	ck_assert_str_eq(out, "ab\xc3\xa9");
	log_vis(out, 5, "abcd\n");
	ck_assert_str_eq(out, "abcd");
	log_vis(out, 1, "abc");
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_json_unsafe)
{
	struct buf b;

	buf_init(&b, 1024);
	json_str(&b, "a\xc2\x85" "b\xe2\x80\xae" "c\xe2\x81\xa6\xe2\x80\xa8"
	    "\xc3\xa9\x85\xed\xa0\x80");
	buf_put(&b, "", 1);
	/* escaped (valid JSON, the same string once decoded); invalid bytes
	 * become U+FFFD */
	ck_assert_str_eq((const char *)buf_ptr(&b), "\"a\\u0085b\\u202e"
	    "c\\u2066\\u2028\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\"");
	ck_assert(utf8_valid(buf_ptr(&b), strlen((const char *)buf_ptr(&b))));
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_failed)
{
	struct buf b;

	buf_init(&b, 8);
	ck_assert_int_eq(buf_failed(&b), 0);
	ck_assert_int_eq(buf_put(&b, "1234", 4), 0);
	ck_assert_int_eq(buf_putf(&b, "%s", "56789"), -1);
	/* a smaller put still fits, but the failure is remembered */
	ck_assert_int_eq(buf_put(&b, "]", 1), 0);
	ck_assert_int_eq(buf_failed(&b), 1);
	buf_reset(&b);
	ck_assert_int_eq(buf_failed(&b), 0);
	ck_assert_int_eq(buf_put_string(&b, "abcdefgh", 8), -1);
	ck_assert_int_eq(buf_failed(&b), 1);
	buf_free(&b);
	ck_assert_int_eq(buf_failed(&b), 0);
}
END_TEST

/* The log of what a peer repeats: the first LOG_BURST per window, one
 * notice, then a count at the next window (or a flush). */
START_TEST(test_log_limit)
{
	struct log_limit rl;
	char path[] = "/tmp/rnsplice-log-test.XXXXXX", text[8192];
	const char *p;
	int fd, saved, i, n, logged = 0;
	ssize_t len;

	memset(&rl, 0, sizeof(rl));
	ck_assert_int_ge(fd = mkstemp(path), 0);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	log_init("test", 1, 0);
	for (i = 0; i < 100; i++)
		logged += log_limit(&rl, 1000 + i, "peer", "bad lines");
	ck_assert_int_eq(logged, LOG_BURST);
	ck_assert_uint_eq(rl.suppressed, 100 - LOG_BURST);
	/* still the same window, one ms before its end */
	ck_assert_int_eq(log_limit(&rl, 1000 + LOG_WINDOW_MS - 1, "peer",
	    "bad lines"), 0);
	/* a new window: the count first, then logging again */
	ck_assert_int_eq(log_limit(&rl, 1000 + LOG_WINDOW_MS, "peer",
	    "bad lines"), 1);
	ck_assert_uint_eq(rl.suppressed, 0);
	/* 1 logged above, 31 more, then 6 counted */
	for (i = 0; i < LOG_BURST + 5; i++)
		log_limit(&rl, 1000 + LOG_WINDOW_MS + 1, NULL, "errors");
	log_limit_flush(&rl, NULL, "errors");
	log_limit_flush(&rl, NULL, "errors");	/* nothing more to say */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = pread(fd, text, sizeof(text) - 1, 0);
	close(fd);
	unlink(path);
	ck_assert_int_gt(len, 0);
	text[len] = '\0';
	for (n = 0, p = text; (p = strstr(p, "\n")) != NULL; p++)
		n++;
	ck_assert_int_eq(n, 4);
	ck_assert_ptr_nonnull(strstr(text, "peer: more than 32 bad lines in "
	    "60 s; counting the rest\n"));
	ck_assert_ptr_nonnull(strstr(text, "peer: 69 more bad lines "
	    "suppressed\n"));
	ck_assert_ptr_nonnull(strstr(text, "]: more than 32 errors in 60 s; "
	    "counting the rest\n"));
	ck_assert_ptr_nonnull(strstr(text, "]: 6 more errors suppressed\n"));
}
END_TEST

/* Eight processes make the site id at once: each gets the same one, none
 * reads a file another is still writing, no temporary file is left. */
START_TEST(test_siteid_race)
{
	char dir[] = "/tmp/rnsplice-siteid.XXXXXX", path[256], id[64];
	char got[8][64], *cause = NULL;
	int pfd[8][2], i, status;
	pid_t pid[8];
	ssize_t n;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(setenv("XDG_CONFIG_HOME", dir, 1), 0);
	unsetenv("RNSPLICE_SITE_ID");
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(pipe(pfd[i]), 0);
		if ((pid[i] = fork()) == 0) {
			close(pfd[i][0]);
			if (siteid_load(id, sizeof(id), &cause) == -1)
				_exit(1);
			n = (ssize_t)strlen(id);
			_exit(write(pfd[i][1], id, (size_t)n) == n ? 0 : 2);
		}
		ck_assert_int_gt(pid[i], 0);
		close(pfd[i][1]);
	}
	for (i = 0; i < 8; i++) {
		ck_assert_int_eq(waitpid(pid[i], &status, 0), pid[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		n = read(pfd[i][0], got[i], sizeof(got[i]) - 1);
		close(pfd[i][0]);
		ck_assert_int_gt(n, 0);
		got[i][n] = '\0';
		ck_assert(siteid_valid(got[i]));
		ck_assert_str_eq(got[i], got[0]);
	}
	snprintf(path, sizeof(path), "%s/rnsplice/site-id", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(id, sizeof(id), f));
	fclose(f);
	id[strcspn(id, "\n")] = '\0';
	ck_assert_str_eq(id, got[0]);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/rnsplice", dir);
	ck_assert_int_eq(rmdir(path), 0);	/* nothing else left in it */
	ck_assert_int_eq(rmdir(dir), 0);
	unsetenv("XDG_CONFIG_HOME");
}
END_TEST

static Suite *
common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_field_roundtrip);
	tcase_add_test(tc, test_field_encoding_is_minimal);
	tcase_add_test(tc, test_field_rejects);
	tcase_add_test(tc, test_msg_add_roundtrip);
	tcase_add_test(tc, test_msg_hello);
	tcase_add_test(tc, test_msg_beat);
	tcase_add_test(tc, test_msg_rejects);
	tcase_add_test(tc, test_msg_export);
	tcase_add_test(tc, test_msg_export_rejects);
	tcase_add_test(tc, test_msg_version);
	tcase_add_test(tc, test_msg_name_limits);
	tcase_add_test(tc, test_format_overlong_rolls_back);
	tcase_add_test(tc, test_getline);
	tcase_add_test(tc, test_buf_limits);
	tcase_add_test(tc, test_meta);
	tcase_add_test(tc, test_uc_unsafe);
	tcase_add_test(tc, test_log_vis);
	tcase_add_test(tc, test_json_unsafe);
	tcase_add_test(tc, test_buf_failed);
	tcase_add_test(tc, test_log_limit);
	tcase_add_test(tc, test_siteid_race);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(common_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
