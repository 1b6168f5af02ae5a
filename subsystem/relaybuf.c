/* One direction of a relay's copier (relay.c): a bounded buffer between
 * the descriptor read and the one written. On Linux the bytes go through
 * a pipe with splice(2), so that this process never copies them; the
 * buffer in user memory is kept for bytes read before the relay started
 * (drained first) and for systems or descriptors where splice does not
 * work: a splice that fails with EINVAL (or ENOSYS) before moving a byte
 * turns the direction over to read(2) and write(2) for good, with the
 * bytes already in the pipe.
 *
 * Bounds: the pipe is filled only when it is empty and with at most max
 * bytes, the same bound as the buffer's. A pipe costs two descriptors,
 * so a direction uses one only while those stay in the lower half of
 * RLIMIT_NOFILE: the many connections of an export session then fall back
 * to buffers before they take the descriptors that accept(2) needs. */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "subsystem.h"

int relaybuf_splice = 1;

#ifdef HAVE_SPLICE
static int
pipe_fits(const int p[2])
{
	static rlim_t half;
	struct rlimit rl;

	if (half == 0) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1 ||
		    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
			half = INT_MAX / 2;
		else
			half = rl.rlim_cur / 2;
	}
	return (rlim_t)p[0] < half && (rlim_t)p[1] < half;
}

static void
pipe_close(struct relaybuf *rb)
{
	if (rb->pipe[0] != -1)
		close(rb->pipe[0]);
	if (rb->pipe[1] != -1)
		close(rb->pipe[1]);
	rb->pipe[0] = rb->pipe[1] = -1;
	rb->inpipe = 0;
}

/* splice does not work here: the bytes in the pipe go to the buffer
 * (there is room: the buffer is empty whenever the pipe is used) */
static void
to_buffer(struct relaybuf *rb, int err)
{
	ssize_t n;

	log_debug("relay: splice: %s, copying through a buffer",
	    strerror(err));
	while (rb->inpipe > 0 && (n = buf_read_fd(&rb->b, rb->pipe[0])) > 0)
		rb->inpipe -= (size_t)n;
	if (rb->inpipe > 0)
		fatalx("relay: %zu bytes stuck in a pipe", rb->inpipe);
	pipe_close(rb);
}

static int
splice_unsupported(int err)
{
	return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}
#endif

void
relaybuf_init(struct relaybuf *rb, struct buf *take, size_t max)
{
	rb->b = *take;
	buf_init(take, take->max);
	if (rb->b.max < max)
		rb->b.max = max;
	rb->max = max;
	rb->pipe[0] = rb->pipe[1] = -1;
	rb->inpipe = 0;
#ifdef HAVE_SPLICE
	if (!relaybuf_splice)
		return;
	if (pipe2(rb->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_debug("relay: pipe: %s, copying through a buffer",
		    strerror(errno));
		rb->pipe[0] = rb->pipe[1] = -1;
	} else if (!pipe_fits(rb->pipe)) {
		log_debug("relay: descriptors %d and %d past half the limit, "
		    "copying through a buffer", rb->pipe[0], rb->pipe[1]);
		pipe_close(rb);
	}
#endif
}

int
relaybuf_spliced(const struct relaybuf *rb)
{
	return rb->pipe[0] != -1;
}

size_t
relaybuf_len(const struct relaybuf *rb)
{
	return buf_len(&rb->b) + rb->inpipe;
}

int
relaybuf_room(const struct relaybuf *rb)
{
	if (rb->pipe[0] != -1)
		return buf_len(&rb->b) == 0 && rb->inpipe == 0;
	return buf_room(&rb->b) > 0;
}

ssize_t
relaybuf_read(struct relaybuf *rb, int fd)
{
#ifdef HAVE_SPLICE
	ssize_t n;

	if (rb->pipe[0] != -1 && buf_len(&rb->b) == 0 && rb->inpipe == 0) {
		/* the pipe is empty: EAGAIN means that fd has nothing */
		while ((n = splice(fd, NULL, rb->pipe[1], NULL, rb->max,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK)) == -1 &&
		    errno == EINTR)
			;
		if (n > 0)
			rb->inpipe += (size_t)n;
		if (n != -1 || !splice_unsupported(errno))
			return n;
		to_buffer(rb, errno);
	}
#endif
	return buf_read_fd(&rb->b, fd);
}

ssize_t
relaybuf_write(struct relaybuf *rb, int fd)
{
#ifdef HAVE_SPLICE
	ssize_t n;

	if (buf_len(&rb->b) == 0 && rb->inpipe > 0) {
		while ((n = splice(rb->pipe[0], NULL, fd, NULL, rb->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK)) == -1 &&
		    errno == EINTR)
			;
		if (n > 0)
			rb->inpipe -= (size_t)n;
		if (n != -1 || !splice_unsupported(errno))
			return n;
		to_buffer(rb, errno);
	}
#endif
	return buf_write_fd(&rb->b, fd);
}

void
relaybuf_reset(struct relaybuf *rb)
{
	buf_reset(&rb->b);
#ifdef HAVE_SPLICE
	/* the direction is over: what the pipe holds goes with it */
	pipe_close(rb);
#endif
}

void
relaybuf_free(struct relaybuf *rb)
{
	buf_free(&rb->b);
#ifdef HAVE_SPLICE
	pipe_close(rb);
#endif
}
