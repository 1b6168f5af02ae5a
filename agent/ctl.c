/* Control socket: the server half runs in the agent's loop, the client
 * half in rnsplice(1). Requests are one short line; every connection is
 * checked for the peer's uid before a byte is read. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "event.h"
#include "log.h"
#include "xmalloc.h"

struct ctl_client {
	struct ctl_server	*srv;
	int			 fd;
	struct ev_io		*io;
	struct buf		 in;
	struct buf		 out;
	int			 replied;
	struct ctl_client	*next;
};

struct ctl_server {
	struct ev_loop		*loop;
	int			 fd;
	struct ev_io		*io;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t			 dev;	/* of the socket we bound */
	ino_t			 ino;
	ctl_handler		 handler;
	void			*arg;
	struct ctl_client	*clients;
};

int
ctl_parse_request(const char *line, char *command, size_t cmdlen, int *json,
    const char **cause)
{
	char magic[16], cmd[64], fmt[8];
	unsigned int version;
	int n = 0;

	if (sscanf(line, "%15s %u %63s %7s%n", magic, &version, cmd, fmt,
	    &n) != 4 || line[n] != '\0') {
		*cause = "malformed request";
		return -1;
	}
	if (strcmp(magic, "RNSPLICE-CTL") != 0) {
		*cause = "not an rnsplice control request";
		return -1;
	}
	if (version != CTL_VERSION) {
		*cause = "control protocol version mismatch (agent and "
		    "rnsplice from different releases?)";
		return -1;
	}
	if (strcmp(fmt, "json") == 0)
		*json = 1;
	else if (strcmp(fmt, "text") == 0)
		*json = 0;
	else {
		*cause = "format must be json or text";
		return -1;
	}
	if (strlcpy(command, cmd, cmdlen) >= cmdlen) {
		*cause = "command too long";
		return -1;
	}
	return 0;
}

static void
client_free(struct ctl_client *c)
{
	struct ctl_client **pp;

	for (pp = &c->srv->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ev_io_del(c->io);
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}

static void
client_io(int fd, short revents, void *arg)
{
	struct ctl_client *c = arg;
	char command[64], *line;
	const char *cause;
	size_t len;
	ssize_t n;
	int json, r;

	if (c->replied) {
		if (buf_write_fd(&c->out, fd) == -1 && errno != EAGAIN) {
			client_free(c);
			return;
		}
		if (buf_len(&c->out) == 0)
			client_free(c);
		return;
	}
	n = buf_read_fd(&c->in, fd);
	if (n == 0 || (n == -1 && errno != EAGAIN)) {
		client_free(c);
		return;
	}
	r = buf_getline(&c->in, CTL_MAXREQ, &line, &len);
	if (r == BUF_LINE_NONE)
		return;
	c->replied = 1;
	if (r == BUF_LINE_LONG)
		buf_putf(&c->out, "error: request too long\n");
	else if (ctl_parse_request(line, command, sizeof(command), &json,
	    &cause) == -1)
		buf_putf(&c->out, "error: %s\n", cause);
	else if (c->srv->handler(c->srv->arg, command, json, &c->out) == -1) {
		/* the handler's text is the reason; mark it for the client */
		struct buf tmp;

		buf_init(&tmp, CTL_MAXREPLY);
		buf_putf(&tmp, "error: ");
		buf_put(&tmp, buf_ptr(&c->out), buf_len(&c->out));
		buf_free(&c->out);
		c->out = tmp;
	}
	ev_io_set(c->io, POLLOUT);
}

static void
server_accept(int fd, short revents, void *arg)
{
	struct ctl_server *srv = arg;
	struct ctl_client *c;
	uid_t uid;
	gid_t gid;
	int cfd;

	if ((cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("control socket accept");
		return;
	}
	if (getpeereid(cfd, &uid, &gid) == -1) {
		log_warn("control socket: refused a peer whose credentials "
		    "cannot be read");
		close(cfd);
		return;
	}
	if (uid != getuid() && uid != 0) {
		log_warnx("control socket: refused peer uid %ld", (long)uid);
		close(cfd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(cfd);
		return;
	}
	c->srv = srv;
	c->fd = cfd;
	buf_init(&c->in, CTL_MAXREQ);
	buf_init(&c->out, CTL_MAXREPLY);
	if ((c->io = ev_io_add(srv->loop, cfd, POLLIN, client_io, c)) == NULL) {
		close(cfd);
		free(c);
		return;
	}
	c->next = srv->clients;
	srv->clients = c;
}

/*
 * Make way for our socket: -S may name any path, so only a socket that
 * nobody answers on (left by a killed agent) is removed. A live agent's
 * socket, a regular file, a directory, a symbolic link or anything else is
 * refused and left alone.
 */
static int
clear_path(const struct sockaddr_un *sun, char **cause)
{
	const char *path = sun->sun_path, *what;
	struct stat sb, sb2;
	int fd, r, saved;

	if (lstat(path, &sb) == -1) {
		if (errno == ENOENT)
			return 0;
		cause_set(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		if (S_ISREG(sb.st_mode))
			what = "a regular file";
		else if (S_ISDIR(sb.st_mode))
			what = "a directory";
		else if (S_ISLNK(sb.st_mode))
			what = "a symbolic link";
		else
			what = "not a socket";
		cause_set(cause, "%s: exists and is %s, not a stale "
		    "socket; not replacing it", path, what);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		cause_set(cause, "socket: %s", strerror(errno));
		return -1;
	}
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	saved = errno;
	close(fd);
	if (r == 0) {
		cause_set(cause, "%s: another rnsplice-agent is running",
		    path);
		return -1;
	}
	if (saved != ECONNREFUSED) {
		cause_set(cause, "%s: %s; not replacing it", path,
		    strerror(saved));
		return -1;
	}
	/* still the socket we probed */
	if (lstat(path, &sb2) == -1 || sb2.st_dev != sb.st_dev ||
	    sb2.st_ino != sb.st_ino) {
		cause_set(cause, "%s: changed while being checked; not "
		    "replacing it", path);
		return -1;
	}
	if (unlink(path) == -1) {
		cause_set(cause, "%s: removing the stale socket: %s",
		    path, strerror(errno));
		return -1;
	}
	log_info("%s: removed a stale socket", path);
	return 0;
}

struct ctl_server *
ctl_server_new(struct ev_loop *loop, const char *path, ctl_handler handler,
    void *arg, char **cause)
{
	struct ctl_server *srv;
	struct sockaddr_un sun;
	struct stat sb;
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		cause_set(cause, "%s: path too long for a socket", path);
		return NULL;
	}
	srv = xcalloc(1, sizeof(*srv));
	srv->loop = loop;
	srv->handler = handler;
	srv->arg = arg;
	strlcpy(srv->path, path, sizeof(srv->path));
	if (clear_path(&sun, cause) == -1) {
		free(srv);
		return NULL;
	}
	if ((srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		cause_set(cause, "socket: %s", strerror(errno));
		free(srv);
		return NULL;
	}
	old = umask(0177);
	if (bind(srv->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(srv->fd, 16) == -1) {
		umask(old);
		cause_set(cause, "%s: %s", path, strerror(errno));
		close(srv->fd);
		free(srv);
		return NULL;
	}
	umask(old);
	if (lstat(path, &sb) == 0) {
		srv->dev = sb.st_dev;
		srv->ino = sb.st_ino;
	}
	if ((srv->io = ev_io_add(loop, srv->fd, POLLIN, server_accept,
	    srv)) == NULL) {
		cause_set(cause, "out of memory");
		close(srv->fd);
		unlink(path);
		free(srv);
		return NULL;
	}
	return srv;
}

void
ctl_server_free(struct ctl_server *srv)
{
	struct stat sb;

	if (srv == NULL)
		return;
	while (srv->clients != NULL)
		client_free(srv->clients);
	ev_io_del(srv->io);
	close(srv->fd);
	/* ours only: whatever took its place since is left alone */
	if (lstat(srv->path, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    sb.st_dev == srv->dev && sb.st_ino == srv->ino)
		unlink(srv->path);
	free(srv);
}

int
ctl_request(const char *path, const char *command, int json,
    struct buf *reply, char **cause)
{
	struct sockaddr_un sun;
	char req[CTL_MAXREQ];
	ssize_t n;
	int fd, len;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		cause_set(cause, "%s: path too long", path);
		return -1;
	}
	len = snprintf(req, sizeof(req), "RNSPLICE-CTL %d %s %s\n",
	    CTL_VERSION, command, json ? "json" : "text");
	if (len < 0 || (size_t)len >= sizeof(req)) {
		cause_set(cause, "command too long");
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		cause_set(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		cause_set(cause, "%s: %s (is rnsplice-agent running?)",
		    path, strerror(errno));
		close(fd);
		return -1;
	}
	if (write(fd, req, (size_t)len) != len) {
		cause_set(cause, "write: %s", strerror(errno));
		close(fd);
		return -1;
	}
	while ((n = buf_read_fd(reply, fd)) > 0)
		;
	close(fd);
	if (n < 0) {
		cause_set(cause, "reading the reply: %s", strerror(errno));
		return -1;
	}
	if (buf_len(reply) == 0) {
		cause_set(cause, "the agent closed the connection "
		    "without answering");
		return -1;
	}
	if (buf_len(reply) >= 7 && memcmp(buf_ptr(reply), "error: ", 7) == 0) {
		buf_consume(reply, 7);
		return 1;
	}
	return 0;
}
