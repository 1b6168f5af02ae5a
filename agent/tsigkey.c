/* The TSIG key file, as BIND's tsig-keygen (and ddns-confgen -q) writes
 * it and named.conf includes it:
 *
 *	key "NAME" {
 *		algorithm hmac-sha256;
 *		secret "BASE64";
 *	};
 *
 * named.conf's comments (#, //, C style) are allowed; exactly one key
 * clause, each of its two statements once. Every error names FILE:LINE. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "dnsupdate.h"

enum ktok { K_WORD, K_STRING, K_LBRACE, K_RBRACE, K_SEMI, K_EOF, K_ERR };

struct klex {
	const char	*file;
	const char	*p, *end;
	unsigned int	 line;
	char		 word[TSIG_SECRETMAX + 1];
	char		**cause;
};

static const char *const algs[] = {
	"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256",
	"hmac-sha384", "hmac-sha512"
};

static int
kerr(struct klex *lx, const char *what)
{
	return cause_set(lx->cause, "%s:%u: %s", lx->file, lx->line, what);
}

/* Skip blanks and comments; -1 on an unclosed comment. */
static int
kskip(struct klex *lx)
{
	while (lx->p < lx->end) {
		if (*lx->p == '\n') {
			lx->line++;
			lx->p++;
		} else if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r')
			lx->p++;
		else if (*lx->p == '#' || (*lx->p == '/' && lx->p + 1 <
		    lx->end && lx->p[1] == '/')) {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (*lx->p == '/' && lx->p + 1 < lx->end &&
		    lx->p[1] == '*') {
			for (lx->p += 2; lx->p + 1 < lx->end && !(lx->p[0] ==
			    '*' && lx->p[1] == '/'); lx->p++)
				if (*lx->p == '\n')
					lx->line++;
			if (lx->p + 1 >= lx->end)
				return kerr(lx, "comment not closed");
			lx->p += 2;
		} else
			break;
	}
	return 0;
}

static enum ktok
knext(struct klex *lx)
{
	size_t n = 0;
	char c;

	if (kskip(lx) == -1)
		return K_ERR;
	if (lx->p == lx->end)
		return K_EOF;
	c = *lx->p;
	if (c == '{' || c == '}' || c == ';') {
		lx->p++;
		return c == '{' ? K_LBRACE : c == '}' ? K_RBRACE : K_SEMI;
	}
	if (c == '"') {
		for (lx->p++; lx->p < lx->end && *lx->p != '"'; lx->p++) {
			if (*lx->p == '\n' || *lx->p == '\\' ||
			    (unsigned char)*lx->p < 0x20) {
				kerr(lx, "newline, backslash or control "
				    "character in a quoted string");
				return K_ERR;
			}
			if (n == sizeof(lx->word) - 1) {
				kerr(lx, "quoted string too long");
				return K_ERR;
			}
			lx->word[n++] = *lx->p;
		}
		if (lx->p == lx->end) {
			kerr(lx, "quoted string not closed");
			return K_ERR;
		}
		lx->p++;
		lx->word[n] = '\0';
		return K_STRING;
	}
	while (lx->p < lx->end && strchr(" \t\r\n{};\"#", *lx->p) == NULL) {
		if ((unsigned char)*lx->p < 0x20 || *lx->p == 0x7f) {
			kerr(lx, "control character in the file");
			return K_ERR;
		}
		if (n == sizeof(lx->word) - 1) {
			kerr(lx, "word too long");
			return K_ERR;
		}
		lx->word[n++] = *lx->p++;
	}
	lx->word[n] = '\0';
	return K_WORD;
}

/* A DNS name of letters, digits, '-' and '_', labels of 1..63, at most
 * max bytes without a final dot (key names here, zones in dnsupconf.c). */
int
dns_name_valid(const char *s, size_t max)
{
	size_t len = strlen(s), lab = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (lab == 0)
				return 0;
			lab = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
		if (++lab > 63)
			return 0;
	}
	return lab > 0;
}

/* Canonical base64 of at least 16 bytes (a shorter HMAC key is too weak
 * to be what tsig-keygen wrote). */
static int
valid_secret(const char *s)
{
	size_t len = strlen(s), i, pad = 0;

	if (len < 24 || len % 4 != 0)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '=') {
			if (i < len - 2)
				return 0;
			pad++;
			continue;
		}
		if (pad > 0 || !(isalnum((unsigned char)s[i]) || s[i] == '+' ||
		    s[i] == '/'))
			return 0;
	}
	return 1;
}

static int
expect(struct klex *lx, enum ktok want, const char *what)
{
	enum ktok t;

	if ((t = knext(lx)) == K_ERR)
		return -1;
	if (t != want)
		return cause_set(lx->cause, "%s:%u: expected %s", lx->file,
		    lx->line, what);
	return 0;
}

int
tsigkey_parse(const char *file, const char *text, size_t len,
    struct tsigkey *k, char **cause)
{
	struct klex lx;
	enum ktok t;
	size_t i;
	int have_alg = 0, have_secret = 0;

	memset(k, 0, sizeof(*k));
	memset(&lx, 0, sizeof(lx));
	lx.file = file;
	lx.p = text;
	lx.end = text + len;
	lx.line = 1;
	lx.cause = cause;
	if (memchr(text, '\0', len) != NULL)
		return cause_set(cause, "%s: not a text file (NUL byte)", file);
	if ((t = knext(&lx)) == K_ERR)
		return -1;
	if (t != K_WORD || strcmp(lx.word, "key") != 0)
		return kerr(&lx, "expected key \"NAME\" { ... }; (as "
		    "tsig-keygen writes it)");
	if ((t = knext(&lx)) == K_ERR)
		return -1;
	if ((t != K_WORD && t != K_STRING) || !dns_name_valid(lx.word, TSIG_NAMEMAX))
		return kerr(&lx, "expected the key's name (a DNS name)");
	for (i = 0; lx.word[i] != '\0'; i++)
		k->name[i] = (char)tolower((unsigned char)lx.word[i]);
	if (i > 0 && k->name[i - 1] == '.')
		k->name[i - 1] = '\0';
	if (expect(&lx, K_LBRACE, "\"{\" after the key's name") == -1)
		return -1;
	for (;;) {
		if ((t = knext(&lx)) == K_ERR)
			return -1;
		if (t == K_RBRACE)
			break;
		if (t != K_WORD)
			return kerr(&lx, "expected algorithm, secret or \"}\"");
		if (strcmp(lx.word, "algorithm") == 0) {
			if (have_alg++)
				return kerr(&lx, "algorithm given twice");
			if ((t = knext(&lx)) == K_ERR)
				return -1;
			if (t != K_WORD && t != K_STRING)
				return kerr(&lx, "algorithm: expected a name");
			for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
				if (strcasecmp(lx.word, algs[i]) == 0)
					break;
			if (i == sizeof(algs) / sizeof(algs[0]))
				return cause_set(cause, "%s:%u: unknown "
				    "algorithm \"%.32s\" (expected hmac-md5, "
				    "hmac-sha1, hmac-sha224, hmac-sha256, "
				    "hmac-sha384, hmac-sha512)", file, lx.line,
				    lx.word);
			strlcpy(k->alg, algs[i], sizeof(k->alg));
		} else if (strcmp(lx.word, "secret") == 0) {
			if (have_secret++)
				return kerr(&lx, "secret given twice");
			if ((t = knext(&lx)) == K_ERR)
				return -1;
			if (t != K_STRING || !valid_secret(lx.word))
				return kerr(&lx, "secret: expected a quoted "
				    "base64 string of at least 16 bytes");
			strlcpy(k->secret, lx.word, sizeof(k->secret));
		} else
			return cause_set(cause, "%s:%u: unknown statement "
			    "\"%.32s\" in a key (expected algorithm, secret)",
			    file, lx.line, lx.word);
		if (expect(&lx, K_SEMI, "\";\" after the statement") == -1)
			return -1;
	}
	if (expect(&lx, K_SEMI, "\";\" after the key's \"}\"") == -1)
		return -1;
	if ((t = knext(&lx)) == K_ERR)
		return -1;
	if (t != K_EOF)
		return kerr(&lx, "more than one key in the file");
	if (!have_alg || !have_secret)
		return cause_set(cause, "%s: key \"%s\" has no %s", file,
		    k->name, !have_alg ? "algorithm" : "secret");
	return 0;
}

int
tsigkey_load(const char *path, struct tsigkey *k, char **cause)
{
	struct stat sb;
	char *text;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return cause_set(cause, "key file %s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_size > TSIG_FILEMAX) {
		close(fd);
		return cause_set(cause, "key file %s: not a regular file of "
		    "at most %d bytes", path, TSIG_FILEMAX);
	}
	if ((sb.st_mode & 0077) != 0 || (sb.st_uid != getuid() &&
	    sb.st_uid != 0)) {
		close(fd);
		return cause_set(cause, "key file %s: mode %04o, owner uid "
		    "%u: it must be readable by its owner only (chmod 600), "
		    "and owned by root or this user", path,
		    (unsigned int)(sb.st_mode & 07777),
		    (unsigned int)sb.st_uid);
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return cause_set(cause, "out of memory");
	}
	while (len < (size_t)sb.st_size) {
		n = read(fd, text + len, (size_t)sb.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	ret = tsigkey_parse(path, text, len, k, cause);
	explicit_bzero(text, (size_t)sb.st_size + 1);
	free(text);
	return ret;
}
