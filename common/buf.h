/* A byte buffer with a hard size limit, in the spirit of OpenSSH's sshbuf.
 * The line reader and the mux client both sit on it. */
#ifndef RNSPLICE_BUF_H
#define RNSPLICE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf {
	unsigned char	*data;
	size_t		 off;	/* start of unread data */
	size_t		 len;	/* end of data */
	size_t		 cap;	/* allocated */
	size_t		 max;	/* never grow past this */
	int		 skipping; /* discarding an over-long line */
	int		 failed;   /* a put failed since the last reset */
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
size_t	 buf_len(const struct buf *);
size_t	 buf_room(const struct buf *);
/* 1 if a put failed (full, out of memory) since buf_init or buf_reset:
 * whoever writes in many puts checks once at the end. */
int	 buf_failed(const struct buf *);
const unsigned char *buf_ptr(const struct buf *);
int	 buf_put(struct buf *, const void *, size_t);
int	 buf_putf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_put_u32(struct buf *, uint32_t);
int	 buf_put_string(struct buf *, const void *, size_t);
int	 buf_put_cstring(struct buf *, const char *);
void	 buf_consume(struct buf *, size_t);
int	 buf_get_u32(struct buf *, uint32_t *);
int	 buf_get_cstring(struct buf *, char **);
int	 buf_peek_u32(const struct buf *, uint32_t *);
ssize_t	 buf_read_fd(struct buf *, int fd);
ssize_t	 buf_write_fd(struct buf *, int fd);
/* The same on a socket, without SIGPIPE: a peer gone is EPIPE whatever
 * the process does with the signal. */
ssize_t	 buf_send_fd(struct buf *, int sock);

/* buf_getline() results */
#define BUF_LINE_NONE	0	/* no complete line yet */
#define BUF_LINE_OK	1	/* line and len hold a line, LF removed */
#define BUF_LINE_LONG	(-1)	/* a line longer than max was discarded */
int	 buf_getline(struct buf *, size_t max, char **line, size_t *len);

#endif
