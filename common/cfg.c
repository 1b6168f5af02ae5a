/* The configuration reader: see cfg.h.
 *
 * A file is read line by line; a statement never spans lines. A line is
 * at most CFG_MAXLINE bytes of UTF-8 without control characters (a tab,
 * and a CR before the newline, are fine). Words are separated by spaces
 * and tabs; "double quotes" make one word of what they hold, in which \"
 * is a quote and \\ a backslash. A '#' at the start of a word begins a
 * comment. With CFG_BLOCKS, ';' also ends a statement and a block keyword
 * opens "{ ... }", which may hold other blocks, CFG_MAXDEPTH deep. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "escape.h"
#include "xmalloc.h"

/* The top level, or an open block. */
struct cfg_level {
	unsigned int		 where;		/* its context */
	const struct cfg_keyword *kw;		/* NULL at the top level */
	char			*label;		/* for "not closed" */
	unsigned int		 line;
	void			*block;		/* ctx.block inside it */
};

struct cfg_state {
	const struct cfg_syntax	*syn;
	struct cfg_ctx		 ctx;
	struct cfg_level	 lv[CFG_MAXDEPTH + 1];
	int			 depth;		/* lv[depth] is current */
	unsigned int		*seen;		/* CFG_ONCE: line of each
						 * keyword, per level */
	char			*av[CFG_MAXWORDS];
	int			 ac;
	char			**cause;
};

static int
cfg_err(struct cfg_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
cfg_err(struct cfg_state *st, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	cause_set(st->cause, "%s:%u: %s", st->ctx.file, st->ctx.line, msg);
	free(msg);
	return -1;
}

int
cfg_yesno(const char *what, const char *s, int *out, char **cause)
{
	if (strcmp(s, "yes") == 0)
		*out = 1;
	else if (strcmp(s, "no") == 0)
		*out = 0;
	else
		return cause_set(cause, "%s: \"%.32s\" is not yes or no", what,
		    s);
	return 0;
}

int
cfg_uint(const char *what, const char *s, unsigned int min,
    unsigned int max, unsigned int *out, char **cause)
{
	const char *errstr;
	long long v;

	v = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		return cause_set(cause, "%s: \"%.32s\" is %s (%u..%u)", what, s,
		    errstr, min, max);
	*out = (unsigned int)v;
	return 0;
}

/* "a, b or c": the keywords that match (where, or opens if blocks). */
static void
cfg_list(const struct cfg_syntax *syn, unsigned int where, int blocks,
    char *out, size_t outlen)
{
	const struct cfg_keyword *kw;
	size_t i, n = 0, total = 0;

	for (i = 0; i < syn->nkeywords; i++) {
		kw = &syn->keywords[i];
		if (blocks ? (kw->opens & where) != 0 : (kw->where & where) != 0)
			total++;
	}
	*out = '\0';
	for (i = 0; i < syn->nkeywords; i++) {
		kw = &syn->keywords[i];
		if (blocks ? (kw->opens & where) == 0 : (kw->where & where) == 0)
			continue;
		if (n > 0)
			strlcat(out, n + 1 == total ? " or " : ", ", outlen);
		strlcat(out, kw->name, outlen);
		n++;
	}
}

static const struct cfg_keyword *
cfg_find(const struct cfg_syntax *syn, const char *name)
{
	size_t i;

	for (i = 0; i < syn->nkeywords; i++)
		if (strcmp(syn->keywords[i].name, name) == 0)
			return &syn->keywords[i];
	return NULL;
}

/* Is kw allowed here? Explain where it belongs if not. */
static int
cfg_where(struct cfg_state *st, const struct cfg_keyword *kw)
{
	const struct cfg_level *lv = &st->lv[st->depth];
	char home[256];

	if (kw->where & lv->where) {
		if (kw->opens != 0 && st->depth == CFG_MAXDEPTH)
			return cfg_err(st, "%s blocks do not nest this deep "
			    "(block of line %u not closed)", kw->name,
			    lv->line);
		return 0;
	}
	cfg_list(st->syn, kw->where, 1, home, sizeof(home));
	if (lv->kw == NULL)
		return cfg_err(st, "%s belongs in a %s block", kw->name, home);
	if ((kw->where & CFG_TOP) && home[0] != '\0')
		return cfg_err(st, "%s belongs at the top level or in a %s "
		    "block, not in a %s block", kw->name, home, lv->kw->name);
	if (kw->where & CFG_TOP)
		return cfg_err(st, "%s belongs at the top level, not in a %s "
		    "block", kw->name, lv->kw->name);
	return cfg_err(st, "%s belongs in a %s block, not in a %s block",
	    kw->name, home, lv->kw->name);
}

static int
cfg_nargs(struct cfg_state *st, const struct cfg_keyword *kw, int n)
{
	switch (kw->type) {
	case CFG_YESNO:
		if (n != 1)
			return cfg_err(st, "%s takes one argument: yes or no",
			    kw->name);
		break;
	case CFG_UINT:
		if (n != 1)
			return cfg_err(st, "%s takes one number (%u..%u)",
			    kw->name, kw->min, kw->max);
		break;
	case CFG_FN:
		if (n < kw->minargs || n > kw->maxargs)
			return cfg_err(st, "usage: %s%s%s%s", kw->name,
			    kw->usage != NULL ? " " : "",
			    kw->usage != NULL ? kw->usage : "",
			    kw->opens != 0 ? " {" : "");
		break;
	}
	return 0;
}

/* The words in st->av, followed by "{" if brace. */
static int
cfg_statement(struct cfg_state *st, int brace)
{
	const struct cfg_syntax *syn = st->syn;
	const struct cfg_keyword *kw;
	struct cfg_level *lv;
	char list[1024], *why = NULL, *obj;
	unsigned int *seen;
	int n = st->ac - 1, r = 0;

	st->ac = 0;
	if ((kw = cfg_find(syn, st->av[0])) == NULL) {
		cfg_list(syn, st->lv[st->depth].where, 0, list, sizeof(list));
		return cfg_err(st, "unknown keyword \"%.64s\" (expected %s)",
		    st->av[0], list);
	}
	if (kw->opens != 0 && !brace)
		return cfg_err(st, "expected \"%s%s%s {\"", kw->name,
		    kw->usage != NULL ? " " : "",
		    kw->usage != NULL ? kw->usage : "");
	if (kw->opens == 0 && brace)
		return cfg_err(st, "\"{\" after %s, which opens no block",
		    kw->name);
	if (cfg_where(st, kw) == -1 || cfg_nargs(st, kw, n) == -1)
		return -1;
	if (kw->flags & CFG_ONCE) {
		seen = &st->seen[(size_t)st->depth * syn->nkeywords +
		    (size_t)(kw - syn->keywords)];
		if (*seen != 0)
			return cfg_err(st, "%s already set on line %u",
			    kw->name, *seen);
		*seen = st->ctx.line;
	}
	obj = st->ctx.block != NULL ? st->ctx.block : st->ctx.arg;
	switch (kw->type) {
	case CFG_YESNO:
		r = cfg_yesno(kw->name, st->av[1],
		    (int *)(void *)(obj + kw->off), &why);
		break;
	case CFG_UINT:
		r = cfg_uint(kw->name, st->av[1], kw->min, kw->max,
		    (unsigned int *)(void *)(obj + kw->off), &why);
		break;
	case CFG_FN:
		r = kw->fn(&st->ctx, kw, n, st->av + 1, &why);
		break;
	}
	if (r == -1) {
		cfg_err(st, "%s", why != NULL ? why : "invalid");
		free(why);
		return -1;
	}
	if (kw->opens != 0) {
		lv = &st->lv[++st->depth];
		lv->where = kw->opens;
		lv->kw = kw;
		lv->line = st->ctx.line;
		lv->block = st->ctx.block;
		if (n > 0)
			xasprintf(&lv->label, "%s \"%s\"", kw->name,
			    st->av[1]);
		else
			xasprintf(&lv->label, "%s block", kw->name);
		memset(st->seen + (size_t)st->depth * syn->nkeywords, 0,
		    syn->nkeywords * sizeof(*st->seen));
	}
	return 0;
}

static int
cfg_close(struct cfg_state *st)
{
	char list[256];

	if (st->depth == 0) {
		cfg_list(st->syn, ~0U, 1, list, sizeof(list));
		return cfg_err(st, "\"}\" without a %s block", list);
	}
	free(st->lv[st->depth].label);
	memset(&st->lv[st->depth], 0, sizeof(st->lv[st->depth]));
	st->depth--;
	st->ctx.block = st->lv[st->depth].block;
	return 0;
}

/* One syntax character of a CFG_BLOCKS file. */
static int
cfg_punct(struct cfg_state *st, char c)
{
	switch (c) {
	case ';':
		return st->ac > 0 ? cfg_statement(st, 0) : 0;
	case '{':
		if (st->ac == 0)
			return cfg_err(st, "unexpected \"{\"");
		return cfg_statement(st, 1);
	case '}':
		if (st->ac > 0 && cfg_statement(st, 0) == -1)
			return -1;
		return cfg_close(st);
	}
	return 0;
}

/* Split a line into words in place, and act on each statement. */
static int
cfg_line(struct cfg_state *st, char *p)
{
	int blocks = st->syn->flags & CFG_BLOCKS;
	const char *ends = blocks ? " \t;{}" : " \t";
	char *start, *out, c;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (blocks && strchr(";{}", *p) != NULL) {
			if (cfg_punct(st, *p++) == -1)
				return -1;
			continue;
		}
		if (st->ac == st->syn->maxwords || st->ac == CFG_MAXWORDS)
			return cfg_err(st, "more than %d words",
			    st->syn->maxwords);
		c = '\0';
		if (*p == '"') {
			start = out = ++p;
			while (*p != '\0' && *p != '"') {
				if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
				*out++ = *p++;
			}
			if (*p != '"')
				return cfg_err(st, "unterminated quote");
			p++;
			if (*p != '\0' && strchr(ends, *p) == NULL)
				return cfg_err(st, "text after a closing "
				    "quote");
			*out = '\0';
		} else {
			start = p;
			while (*p != '\0' && strchr(ends, *p) == NULL) {
				if (*p == '"')
					return cfg_err(st, "quote inside a word "
					    "(quote the whole word)");
				p++;
			}
			if (*p != '\0') {
				c = *p;
				*p++ = '\0';
			}
		}
		st->av[st->ac++] = start;
		if (blocks && c != '\0' && strchr(";{}", c) != NULL &&
		    cfg_punct(st, c) == -1)
			return -1;
	}
	if (st->ac > 0)
		return cfg_statement(st, 0);
	return 0;
}

static int
cfg_check_line(struct cfg_state *st, const char *line, size_t len)
{
	unsigned char c;
	size_t i;

	if (len > CFG_MAXLINE)
		return cfg_err(st, "line longer than %d bytes", CFG_MAXLINE);
	for (i = 0; i < len; i++) {
		c = (unsigned char)line[i];
		if (c == '\0')
			return cfg_err(st, "NUL byte");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return cfg_err(st, "control character 0x%02x", c);
	}
	if (!utf8_valid(line, len))
		return cfg_err(st, "not UTF-8");
	return 0;
}

int
cfg_parse(const struct cfg_syntax *syn, const char *file, const char *text,
    size_t len, void *arg, char **cause)
{
	struct cfg_state st;
	char buf[CFG_MAXLINE + 1];
	const char *line, *nl;
	size_t off = 0, llen;
	int ret = -1;

	*cause = NULL;
	memset(&st, 0, sizeof(st));
	st.syn = syn;
	st.ctx.file = file;
	st.ctx.arg = arg;
	st.lv[0].where = CFG_TOP;
	st.cause = cause;
	st.seen = xcalloc((CFG_MAXDEPTH + 1) * syn->nkeywords + 1,
	    sizeof(*st.seen));
	while (off < len) {
		st.ctx.line++;
		line = text + off;
		if ((nl = memchr(line, '\n', len - off)) != NULL) {
			llen = (size_t)(nl - line);
			off += llen + 1;
		} else {
			llen = len - off;
			off = len;
		}
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		if (cfg_check_line(&st, line, llen) == -1)
			goto out;
		memcpy(buf, line, llen);
		buf[llen] = '\0';
		if (cfg_line(&st, buf) == -1)
			goto out;
	}
	if (st.depth > 0) {
		st.ctx.line = st.lv[st.depth].line;
		cfg_err(&st, "%s is not closed with \"}\"",
		    st.lv[st.depth].label);
		goto out;
	}
	ret = 0;
 out:
	while (st.depth > 0)
		free(st.lv[st.depth--].label);
	free(st.seen);
	return ret;
}

int
cfg_read_file(const char *path, char **text, size_t *len, char **cause)
{
	struct stat sb;
	ssize_t n = 0;
	int fd, saved;

	*text = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &sb) == -1)
		goto fail;
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		cause_set(cause, "%s: not a regular file", path);
		errno = EINVAL;
		return -1;
	}
	*text = xmalloc(CFG_MAXFILE + 1);
	while (*len <= CFG_MAXFILE) {
		n = read(fd, *text + *len, CFG_MAXFILE + 1 - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	if (n == -1)
		goto fail;
	close(fd);
	if (*len > CFG_MAXFILE) {
		free(*text);
		*text = NULL;
		cause_set(cause, "%s: larger than %d bytes", path, CFG_MAXFILE);
		errno = EFBIG;
		return -1;
	}
	(*text)[*len] = '\0';
	return 0;
 fail:
	saved = errno;
	cause_set(cause, "%s: %s", path, strerror(saved));
	if (fd != -1)
		close(fd);
	free(*text);
	*text = NULL;
	errno = saved;
	return -1;
}
