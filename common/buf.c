/* Bounded byte buffer. Every put checks the hard limit, every get checks
 * that the bytes are there: callers never index raw memory. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
	b->skipping = 0;
	b->failed = 0;
}

size_t
buf_len(const struct buf *b)
{
	return b->len - b->off;
}

int
buf_failed(const struct buf *b)
{
	return b->failed;
}

size_t
buf_room(const struct buf *b)
{
	return b->max - buf_len(b);
}

const unsigned char *
buf_ptr(const struct buf *b)
{
	/* an empty buffer may have no storage yet: NULL + 0 is undefined */
	return b->data == NULL ? (const unsigned char *)"" : b->data + b->off;
}

/* Make room for n more bytes; returns a pointer to them or NULL. Data
 * already consumed is reclaimed before the allocation grows. */
static unsigned char *
buf_reserve(struct buf *b, size_t n)
{
	size_t need, ncap;
	unsigned char *p;

	if (n > buf_room(b)) {
		b->failed = 1;
		errno = ENOBUFS;
		return NULL;
	}
	if (b->off > 0 && b->len + n > b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	need = b->len + n;
	if (need > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < need)
			ncap *= 2;
		if (ncap > b->max)
			ncap = b->max;
		if ((p = realloc(b->data, ncap)) == NULL) {
			b->failed = 1;
			return NULL;
		}
		b->data = p;
		b->cap = ncap;
	}
	return b->data + b->len;
}

int
buf_put(struct buf *b, const void *data, size_t n)
{
	unsigned char *p;

	if (n == 0)
		return 0;
	if ((p = buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(p, data, n);
	b->len += n;
	return 0;
}

int
buf_putf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char tmp[1024], *s = tmp;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return -1;
	}
	if ((size_t)n >= sizeof(tmp)) {
		if ((s = malloc((size_t)n + 1)) == NULL) {
			b->failed = 1;
			return -1;
		}
		va_start(ap, fmt);
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	r = buf_put(b, s, (size_t)n);
	if (s != tmp)
		free(s);
	return r;
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return buf_put(b, p, sizeof(p));
}

int
buf_put_string(struct buf *b, const void *s, size_t n)
{
	if (n > UINT32_MAX || n + 4 > buf_room(b)) {
		b->failed = 1;
		errno = ENOBUFS;
		return -1;
	}
	if (buf_put_u32(b, (uint32_t)n) == -1)
		return -1;
	return buf_put(b, s, n);
}

int
buf_put_cstring(struct buf *b, const char *s)
{
	return buf_put_string(b, s, s == NULL ? 0 : strlen(s));
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n > buf_len(b))
		n = buf_len(b);
	b->off += n;
	/* Only an empty buffer is rewound here, so that pointers into it
	 * (lines from buf_getline) stay valid until the next put. */
	if (b->off == b->len)
		b->off = b->len = 0;
}

int
buf_peek_u32(const struct buf *b, uint32_t *v)
{
	const unsigned char *p = buf_ptr(b);

	if (buf_len(b) < 4) {
		errno = EMSGSIZE;
		return -1;
	}
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return 0;
}

int
buf_get_u32(struct buf *b, uint32_t *v)
{
	if (buf_peek_u32(b, v) == -1)
		return -1;
	buf_consume(b, 4);
	return 0;
}

/* A length-prefixed string, returned NUL-terminated; embedded NULs are an
 * error since every string we read this way is text. */
int
buf_get_cstring(struct buf *b, char **out)
{
	uint32_t n;
	char *s;

	*out = NULL;
	if (buf_peek_u32(b, &n) == -1)
		return -1;
	if (n > buf_len(b) - 4) {
		errno = EMSGSIZE;
		return -1;
	}
	if (memchr(buf_ptr(b) + 4, '\0', n) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((s = malloc((size_t)n + 1)) == NULL)
		return -1;
	memcpy(s, buf_ptr(b) + 4, n);
	s[n] = '\0';
	buf_consume(b, 4 + (size_t)n);
	*out = s;
	return 0;
}

/* Read what fits; 0 means EOF, -1 an error (EAGAIN included). */
ssize_t
buf_read_fd(struct buf *b, int fd)
{
	unsigned char *p;
	size_t room = buf_room(b);
	ssize_t n;

	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (room > 65536)
		room = 65536;
	if ((p = buf_reserve(b, room)) == NULL)
		return -1;
	while ((n = read(fd, p, room)) == -1 && errno == EINTR)
		;
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

ssize_t
buf_write_fd(struct buf *b, int fd)
{
	ssize_t n;

	if (buf_len(b) == 0)
		return 0;
	while ((n = write(fd, buf_ptr(b), buf_len(b))) == -1 &&
	    errno == EINTR)
		;
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL	0	/* not everywhere: where it is missing,
				 * the programs ignore SIGPIPE */
#endif

ssize_t
buf_send_fd(struct buf *b, int sock)
{
	ssize_t n;

	if (buf_len(b) == 0)
		return 0;
	while ((n = send(sock, buf_ptr(b), buf_len(b), MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}

int
buf_getline(struct buf *b, size_t max, char **line, size_t *len)
{
	unsigned char *p, *nl;
	size_t n, linelen;

	for (;;) {
		n = buf_len(b);
		if (n == 0)
			return BUF_LINE_NONE;
		p = b->data + b->off;
		nl = memchr(p, '\n', n);
		if (!b->skipping)
			break;
		if (nl == NULL) {
			buf_consume(b, n);
			return BUF_LINE_NONE;
		}
		buf_consume(b, (size_t)(nl - p) + 1);
		b->skipping = 0;
	}
	if (nl == NULL) {
		if (n >= max) {
			buf_consume(b, n);
			b->skipping = 1;
			return BUF_LINE_LONG;
		}
		return BUF_LINE_NONE;
	}
	linelen = (size_t)(nl - p);
	if (linelen + 1 > max) {
		buf_consume(b, linelen + 1);
		return BUF_LINE_LONG;
	}
	*nl = '\0';
	*line = (char *)p;
	*len = linelen;
	buf_consume(b, linelen + 1);
	return BUF_LINE_OK;
}
