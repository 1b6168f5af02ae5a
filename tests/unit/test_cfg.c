/* Unit tests of common/cfg.c (the configuration reader), common/prefix.c
 * and common/xmalloc.c's cause_set, including malformed input. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "prefix.h"
#include "xmalloc.h"

/* --- a small syntax of both shapes ------------------------------------ */

#define C_BOX	0x2
#define C_LID	0x4

struct box {
	char		 name[32];
	unsigned int	 size;
	int		 open;
	unsigned int	 line;
	int		 lids;
};

struct top {
	int		 flag;
	unsigned int	 count;
	char		*words[8];
	int		 nwords;
	struct box	 boxes[4];
	int		 nboxes;
};

static int
kw_words(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int argc,
    char **argv, char **cause)
{
	struct top *t = ctx->arg;
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "bad") == 0)
			return cause_set(cause, "word \"%s\" refused", argv[i]);
		if (t->nwords < 8)
			t->words[t->nwords++] = xstrdup(argv[i]);
	}
	return 0;
}

static int
kw_box(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int argc,
    char **argv, char **cause)
{
	struct top *t = ctx->arg;
	struct box *b;

	if (t->nboxes == 4)
		return cause_set(cause, "too many boxes");
	b = &t->boxes[t->nboxes++];
	strlcpy(b->name, argv[0], sizeof(b->name));
	b->line = ctx->line;
	ctx->block = b;
	return 0;
}

/* a block within a box: its statements still set the box */
static int
kw_lid(struct cfg_ctx *ctx, const struct cfg_keyword *kw, int argc,
    char **argv, char **cause)
{
	struct box *b = ctx->block;

	b->lids++;
	return 0;
}

static const struct cfg_keyword keywords[] = {
	{ "box", CFG_TOP, C_BOX, CFG_FN, 0, 1, 1, kw_box, 0, 0, 0, "NAME" },
	{ "flag", CFG_TOP, 0, CFG_YESNO, CFG_ONCE, 1, 1, NULL,
	    offsetof(struct top, flag), 0, 0, "yes | no" },
	{ "count", CFG_TOP, 0, CFG_UINT, 0, 1, 1, NULL,
	    offsetof(struct top, count), 1, 100, "N" },
	{ "words", CFG_TOP | C_BOX, 0, CFG_FN, 0, 1, 3, kw_words, 0, 0, 0,
	    "word ..." },
	{ "size", C_BOX, 0, CFG_UINT, CFG_ONCE, 1, 1, NULL,
	    offsetof(struct box, size), 0, 4096, "N" },
	{ "open", C_BOX | C_LID, 0, CFG_YESNO, 0, 1, 1, NULL,
	    offsetof(struct box, open), 0, 0, "yes | no" },
	{ "lid", C_BOX | C_LID, C_LID, CFG_FN, 0, 0, 0, kw_lid, 0, 0, 0, NULL },
};

static const struct cfg_syntax blocks = {
	keywords, sizeof(keywords) / sizeof(keywords[0]), CFG_BLOCKS, 5
};
static const struct cfg_syntax lines = {
	keywords + 1, sizeof(keywords) / sizeof(keywords[0]) - 1, 0, 5
};

static void
top_free(struct top *t)
{
	int i;

	for (i = 0; i < t->nwords; i++)
		free(t->words[i]);
	memset(t, 0, sizeof(*t));
}

static void
parse_ok(const struct cfg_syntax *syn, const char *text, size_t len,
    struct top *t)
{
	char *cause = NULL;

	memset(t, 0, sizeof(*t));
	ck_assert_msg(cfg_parse(syn, "t.conf", text, len, t, &cause) == 0,
	    "\"%s\": %s", text, cause);
	ck_assert_ptr_null(cause);
}

static void
bad_len(const struct cfg_syntax *syn, const char *text, size_t len,
    const char *want)
{
	struct top t;
	char *cause = NULL;

	memset(&t, 0, sizeof(t));
	ck_assert_msg(cfg_parse(syn, "t.conf", text, len, &t, &cause) == -1,
	    "accepted: \"%s\"", text);
	ck_assert_ptr_nonnull(cause);
	ck_assert_msg(strcmp(cause, want) == 0, "\"%s\": got \"%s\", want "
	    "\"%s\"", text, cause, want);
	free(cause);
	top_free(&t);
}

static void
bad(const struct cfg_syntax *syn, const char *text, const char *want)
{
	bad_len(syn, text, strlen(text), want);
}

START_TEST(test_cfg_blocks)
{
	struct top t;
	const char *text =
	    "# a comment\n"
	    "flag yes   # trailing\n"
	    "\tcount 7;words a \"b c\" \"q\\\"\\\\x\"\r\n"
	    "box one {\n"
	    "  size 0\n"
	    "  open yes; words w#x\n"
	    "}\n"
	    "box two { size 4096 }\n"
	    "box three {}\n"
	    "box \"four\"{ open no\n"
	    "}\n";

	parse_ok(&blocks, text, strlen(text), &t);
	ck_assert_int_eq(t.flag, 1);
	ck_assert_uint_eq(t.count, 7);
	ck_assert_int_eq(t.nwords, 4);
	ck_assert_str_eq(t.words[0], "a");
	ck_assert_str_eq(t.words[1], "b c");
	ck_assert_str_eq(t.words[2], "q\"\\x");
	ck_assert_str_eq(t.words[3], "w#x");	/* '#' only at a word start */
	ck_assert_int_eq(t.nboxes, 4);
	ck_assert_str_eq(t.boxes[0].name, "one");
	ck_assert_uint_eq(t.boxes[0].line, 4);
	ck_assert_uint_eq(t.boxes[0].size, 0);
	ck_assert_int_eq(t.boxes[0].open, 1);
	ck_assert_uint_eq(t.boxes[1].size, 4096);
	ck_assert_str_eq(t.boxes[3].name, "four");
	top_free(&t);

	/* empty input, blank lines, a last line without a newline */
	parse_ok(&blocks, "", 0, &t);
	parse_ok(&blocks, "\n\n  \t\n# x", 9, &t);
	parse_ok(&blocks, "count 3", 7, &t);
	ck_assert_uint_eq(t.count, 3);
	/* a block within a block, and the outer one's context after it */
	text = "box a {\n lid { open yes }\n size 3\n lid {}\n}\n";
	parse_ok(&blocks, text, strlen(text), &t);
	ck_assert_int_eq(t.boxes[0].lids, 2);
	ck_assert_int_eq(t.boxes[0].open, 1);
	ck_assert_uint_eq(t.boxes[0].size, 3);
	top_free(&t);
	/* CFG_ONCE is per context: each box may set its size once */
	parse_ok(&blocks, "box a { size 1 }\nbox b { size 2 }\n", 34, &t);
	ck_assert_uint_eq(t.boxes[1].size, 2);
}
END_TEST

START_TEST(test_cfg_lines)
{
	struct top t;
	const char *text = "words {a} b;c #d\nflag no\n";

	/* without CFG_BLOCKS, { } ; are ordinary bytes of a word */
	parse_ok(&lines, text, strlen(text), &t);
	ck_assert_int_eq(t.nwords, 2);
	ck_assert_str_eq(t.words[0], "{a}");
	ck_assert_str_eq(t.words[1], "b;c");
	ck_assert_int_eq(t.flag, 0);
	top_free(&t);
	bad(&lines, "box x {\n", "t.conf:1: unknown keyword \"box\" "
	    "(expected flag, count or words)");
}
END_TEST

START_TEST(test_cfg_malformed)
{
	struct top t;
	char big[CFG_MAXLINE + 64];

	/* quotes */
	bad(&blocks, "words \"open\n", "t.conf:1: unterminated quote");
	bad(&blocks, "words \"open\\\"\n", "t.conf:1: unterminated quote");
	bad(&blocks, "\nwords \"a\"b\n", "t.conf:2: text after a closing "
	    "quote");
	bad(&blocks, "words a\"b\"\n", "t.conf:1: quote inside a word (quote "
	    "the whole word)");
	/* braces */
	bad(&blocks, "}\n", "t.conf:1: \"}\" without a box or lid block");
	bad(&blocks, "box a { }\n}\n", "t.conf:2: \"}\" without a box or lid block");
	bad(&blocks, "{\n", "t.conf:1: unexpected \"{\"");
	bad(&blocks, "box a {\nsize 1\n", "t.conf:1: box \"a\" is not closed "
	    "with \"}\"");
	bad(&blocks, "box a {\nbox b {\n}\n}\n", "t.conf:2: box belongs at the "
	    "top level, not in a box block");
	bad(&blocks, "box a {\nlid {\nlid {\n}\n}\n}\n", "t.conf:3: lid blocks "
	    "do not nest this deep (block of line 2 not closed)");
	bad(&blocks, "box a {\nlid {\n}\n", "t.conf:1: box \"a\" is not closed "
	    "with \"}\"");
	bad(&blocks, "box a {\nlid {\n", "t.conf:2: lid block is not closed "
	    "with \"}\"");
	bad(&blocks, "box a\n{\n}\n", "t.conf:1: expected \"box NAME {\"");
	bad(&blocks, "box {\n}\n", "t.conf:1: usage: box NAME {");
	bad(&blocks, "count 1 {\n}\n", "t.conf:1: \"{\" after count, which "
	    "opens no block");
	/* contexts */
	bad(&blocks, "size 1\n", "t.conf:1: size belongs in a box block");
	bad(&blocks, "box a {\ncount 1\n}\n", "t.conf:2: count belongs at the "
	    "top level, not in a box block");
	bad(&blocks, "box a {\nfrob 1\n}\n", "t.conf:2: unknown keyword "
	    "\"frob\" (expected words, size, open or lid)");
	/* arguments and values */
	bad(&blocks, "words\n", "t.conf:1: usage: words word ...");
	bad(&blocks, "words a b c d\n", "t.conf:1: usage: words word ...");
	bad(&blocks, "words a b c d e f\n", "t.conf:1: more than 5 words");
	bad(&blocks, "words bad\n", "t.conf:1: word \"bad\" refused");
	bad(&blocks, "flag\n", "t.conf:1: flag takes one argument: yes or no");
	bad(&blocks, "flag maybe\n", "t.conf:1: flag: \"maybe\" is not yes or "
	    "no");
	bad(&blocks, "flag yes\nflag no\n", "t.conf:2: flag already set on "
	    "line 1");
	bad(&blocks, "count 1 2\n", "t.conf:1: count takes one number "
	    "(1..100)");
	bad(&blocks, "count 0\n", "t.conf:1: count: \"0\" is too small "
	    "(1..100)");
	bad(&blocks, "count 101\n", "t.conf:1: count: \"101\" is too large "
	    "(1..100)");
	bad(&blocks, "count -1\n", "t.conf:1: count: \"-1\" is too small "
	    "(1..100)");
	bad(&blocks, "count 7x\n", "t.conf:1: count: \"7x\" is invalid "
	    "(1..100)");
	bad(&blocks, "count \"\"\n", "t.conf:1: count: \"\" is invalid "
	    "(1..100)");
	bad(&blocks, "count 99999999999999999999999\n", "t.conf:1: count: "
	    "\"99999999999999999999999\" is too large (1..100)");
	bad(&blocks, "box a { size 4097 }\n", "t.conf:1: size: \"4097\" is "
	    "too large (0..4096)");
	/* bytes */
	bad_len(&blocks, "count 1\nwords a\0b\n", 17, "t.conf:2: NUL byte");
	bad_len(&blocks, "\0", 1, "t.conf:1: NUL byte");
	bad(&blocks, "words a\x01\n", "t.conf:1: control character 0x01");
	bad(&blocks, "words a\rb\n", "t.conf:1: control character 0x0d");
	bad(&blocks, "words \x7f\n", "t.conf:1: control character 0x7f");
	bad(&blocks, "words caf\xe9\n", "t.conf:1: not UTF-8");
	/* sizes: a line (and so a word) longer than CFG_MAXLINE */
	memset(big, 'a', sizeof(big));
	memcpy(big, "words ", 6);
	big[CFG_MAXLINE] = '\n';
	parse_ok(&blocks, big, CFG_MAXLINE + 1, &t);
	ck_assert_uint_eq(strlen(t.words[0]), CFG_MAXLINE - 6);
	top_free(&t);
	big[CFG_MAXLINE] = 'a';
	big[CFG_MAXLINE + 1] = '\n';
	bad_len(&blocks, big, CFG_MAXLINE + 2, "t.conf:1: line longer than "
	    "4096 bytes");
	big[CFG_MAXLINE + 1] = 'a';
	bad_len(&blocks, big, sizeof(big), "t.conf:1: line longer than 4096 "
	    "bytes");
}
END_TEST

START_TEST(test_cfg_read_file)
{
	char path[] = "/tmp/test_cfgXXXXXX", *text = NULL, *cause = NULL;
	size_t len;
	FILE *f;
	int fd;

	ck_assert_int_eq(cfg_read_file("/nonexistent/x.conf", &text, &len,
	    &cause), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_str_eq(cause, "/nonexistent/x.conf: No such file or "
	    "directory");
	ck_assert_ptr_null(text);
	free(cause);
	ck_assert_int_eq(cfg_read_file("/", &text, &len, &cause), -1);
	ck_assert_str_eq(cause, "/: not a regular file");
	free(cause);

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fputs("count 5\n", f);
	fflush(f);
	ck_assert_int_eq(cfg_read_file(path, &text, &len, &cause), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_str_eq(text, "count 5\n");
	free(text);
	/* one byte over the limit */
	ck_assert_int_eq(ftruncate(fd, CFG_MAXFILE + 1), 0);
	ck_assert_int_eq(cfg_read_file(path, &text, &len, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, ": larger than 1048576 bytes"));
	free(cause);
	ck_assert_int_eq(ftruncate(fd, CFG_MAXFILE), 0);
	ck_assert_int_eq(cfg_read_file(path, &text, &len, &cause), 0);
	ck_assert_uint_eq(len, CFG_MAXFILE);
	free(text);
	fclose(f);
	unlink(path);
}
END_TEST

/* --- prefixes ---------------------------------------------------------- */

static void
prefix_bad(const char *s, const char *want)
{
	struct prefix p;
	char *cause = NULL;

	ck_assert_int_eq(prefix_parse(s, &p, &cause), -1);
	ck_assert_msg(strcmp(cause, want) == 0, "%s: got \"%s\"", s, cause);
	free(cause);
}

START_TEST(test_prefix)
{
	struct prefix a, b, c;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	char *cause = NULL, buf[64];

	ck_assert_int_eq(prefix_parse("10.2.0.0/16", &a, &cause), 0);
	ck_assert_int_eq(a.af, AF_INET);
	ck_assert_uint_eq(a.len, 16);
	ck_assert_int_eq(prefix_format(&a, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "10.2.0.0/16");
	ck_assert_int_eq(prefix_format(&a, buf, 8), -1);
	ck_assert_int_eq(prefix_parse("10.2.3.0/24", &b, &cause), 0);
	ck_assert(prefix_contains(&a, &b));
	ck_assert(!prefix_contains(&b, &a));
	ck_assert(prefix_contains(&b, &b));
	ck_assert_int_eq(prefix_parse("::ffff:10.2.3.0", &c, &cause), 0);
	ck_assert_int_eq(c.af, AF_INET6);
	ck_assert(!prefix_contains(&a, &c));	/* families differ */

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "10.2.200.1", &sin.sin_addr);
	ck_assert(prefix_match(&a, (struct sockaddr *)&sin));
	ck_assert(!prefix_match(&b, (struct sockaddr *)&sin));
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.2.3.9", &sin6.sin6_addr);
	ck_assert(prefix_match(&b, (struct sockaddr *)&sin6));

	ck_assert(prefix_match_text(&b, "10.2.3.255"));
	ck_assert(prefix_match_text(&b, "::ffff:10.2.3.1"));
	ck_assert(!prefix_match_text(&b, "10.2.4.0"));
	ck_assert(!prefix_match_text(&b, "not an address"));
	ck_assert_int_eq(prefix_parse("fe80::/10", &c, &cause), 0);
	ck_assert(prefix_match_text(&c, "fe80::1%eth0"));
	ck_assert(!prefix_match_text(&c, "fec0::1"));

	/* the on-link prefix of an address and its mask */
	inet_pton(AF_INET, "192.168.7.77", &sin.sin_addr);
	{
		struct sockaddr_in mask = sin;

		inet_pton(AF_INET, "255.255.254.0", &mask.sin_addr);
		ck_assert_int_eq(prefix_from_sockaddr((struct sockaddr *)&sin,
		    (struct sockaddr *)&mask, &c), 0);
		ck_assert_int_eq(prefix_format(&c, buf, sizeof(buf)), 0);
		ck_assert_str_eq(buf, "192.168.6.0/23");
		ck_assert_int_eq(prefix_from_sockaddr((struct sockaddr *)&sin,
		    NULL, &c), 0);
		ck_assert_uint_eq(c.len, 32);
	}

	prefix_bad("10.2.0.5/24", "\"10.2.0.5/24\": host bits set (did you "
	    "mean 10.2.0.0/24?)");
	prefix_bad("fd00::1/8", "\"fd00::1/8\": host bits set (did you mean "
	    "fd00::/8?)");
	prefix_bad("10.0.0.0/33", "\"10.0.0.0/33\": prefix length is too "
	    "large (0..32)");
	prefix_bad("::/129", "\"::/129\": prefix length is too large "
	    "(0..128)");
	prefix_bad("10.0.0.0/", "\"10.0.0.0/\": prefix length is missing "
	    "(0..32)");
	prefix_bad("10.0.0.0/x", "\"10.0.0.0/x\": prefix length is invalid "
	    "(0..32)");
	prefix_bad("printer.local", "\"printer.local\": not an address prefix "
	    "(expected an IPv4 or IPv6 address or prefix, e.g. 10.2.0.0/24 "
	    "or fd00::/8)");
	prefix_bad("", "\"\": not an address prefix (expected an IPv4 or IPv6 "
	    "address or prefix, e.g. 10.2.0.0/24 or fd00::/8)");
	prefix_bad("1111:2222:3333:4444:5555:6666:7777:8888/128xxxxxxxxxxxxxx",
	    "\"1111:2222:3333:4444:5555:6666:7777:8888/128xxxxxxxxxxxxxx\": "
	    "not an address prefix (expected an IPv4 or IPv6 address or "
	    "prefix, e.g. 10.2.0.0/24 or fd00::/8)");
}
END_TEST

START_TEST(test_cause_set)
{
	char *cause = NULL;

	ck_assert_int_eq(cause_set(&cause, "%s:%d: %s", "f", 3, "why"), -1);
	ck_assert_str_eq(cause, "f:3: why");
	free(cause);
}
END_TEST

static Suite *
cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("cfg");

	tcase_add_test(tc, test_cfg_blocks);
	tcase_add_test(tc, test_cfg_lines);
	tcase_add_test(tc, test_cfg_malformed);
	tcase_add_test(tc, test_cfg_read_file);
	tcase_add_test(tc, test_prefix);
	tcase_add_test(tc, test_cause_set);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cfg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
