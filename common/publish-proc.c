/* The publisher's child process: forked by publish.c, it runs the engine
 * (publish-engine.c) on a loop of its own, so that the responder's calls,
 * each a blocking round trip (with avahi, D-Bus: up to 25 s while
 * avahi-daemon is busy or hangs), stall this process and nobody else.
 *
 * It reads ADD, UPDATE and REMOVE from the parent (publish-msg.h) and
 * answers with the responder's state (UP) and each entry's (STATE) as the
 * engine reports them: coalesced, so that what waits to be written is at
 * most one report per entry however long the parent takes to read. It
 * ends at EOF on its socket (the parent freed the publisher, or is gone)
 * or at SIGTERM, and on a malformed message from the parent.
 *
 * Ending, it withdraws everything, paced (eng_drain()): freeing the
 * connection at once would have the responder send every goodbye in one
 * burst, and receivers drop part of it (their socket buffer overflows),
 * keeping those services listed for their TTL (75 minutes). So the child
 * outlives its parent by a few seconds (about 2 s for 1,000 services), at
 * most PUB_LINGER_MS, less if the responder goes away or hangs (the rest
 * then goes with the connection) or at a second SIGTERM. Meanwhile it
 * holds a shared lock on a file of the user's runtime directory named
 * after the responder's host, by which a new publisher whose name is
 * refused as in use on this host knows to wait rather than rename
 * (pubproc_withdrawer()). It never returns into the parent's code:
 * _exit() only. */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "event.h"
#include "fd.h"
#include "log.h"
#include "publish.h"
#include "publish-int.h"
#include "publish-msg.h"
#include "rundir.h"
#include "xmalloc.h"

#define PP_FD		3			/* the socket, in the child */
#define PP_INMAX	(4 * PUBMSG_MAX)
#define PP_OUTMAX	(4 * PUBMSG_MAX)

struct pp_entry {
	RB_ENTRY(pp_entry)	 node;
	TAILQ_ENTRY(pp_entry)	 rlink;		/* to report */
	int			 reportq;
	uint32_t		 id;
	uint32_t		 gen;		/* the parent's latest */
	struct eng_entry	*e;		/* NULL: refused */
	char			*name;		/* refused: the name, */
	char			*err;		/* and why */
};

RB_HEAD(pp_tree, pp_entry);

static int
pp_cmp(const struct pp_entry *a, const struct pp_entry *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_PROTOTYPE(pp_tree, pp_entry, node, pp_cmp)
RB_GENERATE(pp_tree, pp_entry, node, pp_cmp)

struct pp {
	struct ev_loop		*loop;
	struct pub_engine	*eng;
	struct ev_io		*io;
	struct buf		 in;
	struct buf		 out;
	struct pp_tree		 tree;
	TAILQ_HEAD(, pp_entry)	 reports;
	int			 up_pending;
	int			 up;
	int			 status;	/* _exit() with it */
	int			 ending;	/* read nothing more */
	int			 lingering;	/* withdrawing, then _exit() */
};

static void
pp_want(struct pp *pp)
{
	short ev = POLLIN;

	if (pp->io == NULL)
		return;		/* lingering: the parent is done with us */
	if (buf_len(&pp->out) > 0 || pp->up_pending ||
	    !TAILQ_EMPTY(&pp->reports))
		ev |= POLLOUT;
	ev_io_set(pp->io, ev);
}

static void
pp_report(struct pp *pp, struct pp_entry *x)
{
	if (!x->reportq) {
		TAILQ_INSERT_TAIL(&pp->reports, x, rlink);
		x->reportq = 1;
	}
	pp_want(pp);
}

static void
pp_end(struct pp *pp, int status)
{
	pp->status = status;
	pp->ending = 1;
	ev_loop_break(pp->loop);
}

static void
eng_event(struct pub_engine *eng, struct eng_entry *e, int up, void *arg)
{
	struct pp *pp = arg;

	if (e == NULL) {
		pp->up_pending = 1;
		pp->up = up;
		pp_want(pp);
	} else
		pp_report(pp, eng_entry_arg(e));
}

/* --- from the parent ----------------------------------------------------- */

static void
pp_add(struct pp *pp, struct pubmsg *m)
{
	struct pp_entry *x;
	struct pub_spec spec;
	char *cause = NULL;

	x = xcalloc(1, sizeof(*x));
	x->id = m->id;
	x->gen = m->gen;
	if (RB_INSERT(pp_tree, &pp->tree, x) != NULL) {
		free(x);
		log_warnx("publisher: its parent added entry %u twice", m->id);
		pp_end(pp, 1);
		return;
	}
	memset(&spec, 0, sizeof(spec));
	spec.name = m->name;
	spec.type = m->stype;
	spec.domain = m->domain;
	spec.port = (uint16_t)m->port;
	spec.txt = &m->txt;
	spec.scope = (enum pub_scope)m->scope;
	spec.ifindex = (int)m->ifindex;
	/* the parent checked it too; a refusal here is reported as FAILED */
	if (pub_spec_check(&spec, &cause) == -1) {
		x->name = xstrdup(m->name);
		x->err = xstrndup(cause, PUBMSG_ERRLEN);
		free(cause);
		pp_report(pp, x);
		return;
	}
	if ((x->e = eng_add(pp->eng, &spec, x)) == NULL)
		fatal("publisher: entry %u", m->id);
}

static struct pp_entry *
pp_find(struct pp *pp, uint32_t id, const char *what)
{
	struct pp_entry key, *x;

	key.id = id;
	if ((x = RB_FIND(pp_tree, &pp->tree, &key)) == NULL) {
		log_warnx("publisher: %s of entry %u, which its parent never "
		    "added", what, id);
		pp_end(pp, 1);
	}
	return x;
}

static void
pp_free_entry(struct pp *pp, struct pp_entry *x)
{
	RB_REMOVE(pp_tree, &pp->tree, x);
	if (x->reportq)
		TAILQ_REMOVE(&pp->reports, x, rlink);
	eng_remove(x->e);
	free(x->name);
	free(x->err);
	free(x);
}

static void
pp_message(struct pp *pp, struct pubmsg *m)
{
	struct pp_entry *x;

	switch (m->type) {
	case PUBMSG_ADD:
		pp_add(pp, m);
		break;
	case PUBMSG_UPDATE:
		if ((x = pp_find(pp, m->id, "UPDATE")) == NULL)
			break;
		x->gen = m->gen;
		if (x->e != NULL && eng_update(x->e, &m->txt,
		    (uint16_t)m->port) == -1)
			log_warn("publisher: update of \"%s\"",
			    eng_entry_name(x->e));
		pp_report(pp, x);	/* the parent waits for this gen */
		break;
	case PUBMSG_REMOVE:
		if ((x = pp_find(pp, m->id, "REMOVE")) != NULL)
			pp_free_entry(pp, x);
		break;
	default:	/* pubmsg_get() lets no other type through */
		break;
	}
}

/* --- to the parent ------------------------------------------------------- */

/* Reports go out as room allows, each with the entry's state at the time
 * it is written. */
static void
pp_fill(struct pp *pp)
{
	struct pubmsg m;
	struct pp_entry *x;

	while (buf_room(&pp->out) >= 4 + PUBMSG_MAX) {
		memset(&m, 0, sizeof(m));
		if (pp->up_pending) {
			pp->up_pending = 0;
			m.type = PUBMSG_UP;
			m.up = pp->up;
		} else if ((x = TAILQ_FIRST(&pp->reports)) != NULL) {
			TAILQ_REMOVE(&pp->reports, x, rlink);
			x->reportq = 0;
			m.type = PUBMSG_STATE;
			m.id = x->id;
			m.gen = x->gen;
			if (x->e != NULL) {
				m.state = eng_entry_state(x->e);
				m.name = (char *)eng_entry_name(x->e);
				m.err = (char *)eng_entry_error(x->e);
			} else {
				m.state = PUB_FAILED;
				m.name = x->name;
				m.err = x->err;
			}
		} else
			break;
		if (pubmsg_put(&pp->out, &m) == -1)
			fatal("publisher: %s message",
			    pubmsg_type_name(m.type));
	}
}

static void
pp_io(int fd, short revents, void *arg)
{
	struct pp *pp = arg;
	struct pubmsg m;
	char *cause = NULL;
	ssize_t n;
	int r = 0;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		n = buf_read_fd(&pp->in, fd);
		if (n == 0) {
			pp_end(pp, 0);	/* the parent is done with us */
			return;
		}
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_warn("publisher: read from its parent");
			pp_end(pp, 1);
			return;
		}
		while (!pp->ending && (r = pubmsg_get(&pp->in,
		    PUBMSG_TO_CHILD, &m, &cause)) == 1) {
			pp_message(pp, &m);
			pubmsg_clear(&m);
		}
		if (pp->ending)
			return;
		if (r == -1) {
			log_warnx("publisher: bad message from its parent: %s",
			    cause);
			free(cause);
			pp_end(pp, 1);
			return;
		}
	}
	if (revents & POLLOUT) {
		pp_fill(pp);
		if (buf_send_fd(&pp->out, fd) == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK) {
			log_warn("publisher: write to its parent");
			pp_end(pp, 1);
			return;
		}
	}
	pp_want(pp);
}

static void
pp_signal(int signo, void *arg)
{
	struct pp *pp = arg;

	if (pp->lingering)
		ev_loop_break(pp->loop);	/* the rest goes at once */
	else
		pp_end(pp, 0);
}

/* --- the end: withdrawals, paced ----------------------------------------- */

/* The lock file of the withdrawers of the responder on host, in path. */
static int
pp_lockpath(const char *host, int create, char *path, size_t len)
{
	char dir[PATH_MAX], label[PUB_LABEL_MAX], *cause = NULL;
	int n;

	if (pub_host_label(host, label, sizeof(label)) == -1)
		return -1;
	if (rundir_get(dir, sizeof(dir), create, &cause) == -1) {
		if (create)
			log_debug("publisher: %s", cause);
		free(cause);
		return -1;
	}
	n = snprintf(path, len, "%s/withdrawing-%s", dir, label);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Shared: withdrawers do not exclude one another. Failing costs only a
 * rename in a publisher started meanwhile. */
int
pubproc_withdraw_lock(const char *host)
{
	char path[PATH_MAX];
	struct flock fl;
	int fd;

	if (host == NULL || pp_lockpath(host, 1, path, sizeof(path)) == -1)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		log_debug("publisher: %s: %s", path, strerror(errno));
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1) {
		log_debug("publisher: lock %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	/* kept open: closing any descriptor of the file drops the lock */
	return 0;
}

pid_t
pubproc_withdrawer(const char *host)
{
	char path[PATH_MAX];
	struct flock fl;
	int fd;

	if (pp_lockpath(host, 0, path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1 || fl.l_type == F_UNLCK)
		fl.l_pid = 0;
	close(fd);
	return fl.l_pid > 0 ? fl.l_pid : 0;
}

static void
pp_drained(void *arg)
{
	struct pp *pp = arg;

	ev_loop_break(pp->loop);
}

static void
pp_linger_end(void *arg)
{
	struct pp *pp = arg;

	log_warnx("publisher: still withdrawing after %d s; the rest at once",
	    PUB_LINGER_MS / 1000);
	ev_loop_break(pp->loop);
}

/* Remove every entry and run the loop until the engine has withdrawn
 * them all, paced, or PUB_LINGER_MS passed. The parent is done with us
 * (or gone): nothing more is read nor reported. */
static void
pp_linger(struct pp *pp)
{
	struct pp_entry *x, **all;
	struct eng_entry *e;
	struct ev_timer *t;
	size_t n = 0;
	uint64_t t0;

	ev_io_del(pp->io);
	pp->io = NULL;
	/* newest first, as avahi-daemon frees a client's groups: of two
	 * registrations of one record, the one that goes last says goodbye
	 * (publish.c) */
	RB_FOREACH(x, pp_tree, &pp->tree)
		n++;
	all = xreallocarray(NULL, n > 0 ? n : 1, sizeof(*all));
	n = 0;
	RB_FOREACH(x, pp_tree, &pp->tree)
		all[n++] = x;
	while (n > 0)
		pp_free_entry(pp, all[--n]);
	free(all);
	TAILQ_FOREACH(e, &pp->eng->dead, link)
		n++;
	if (n == 0)
		return;
	pp->lingering = 1;
	(void)pubproc_withdraw_lock(mdns_host_name(pp->eng->mdns));
	log_info("publisher: its parent is done with it; withdrawing %zu "
	    "services, paced, before it exits", n);
	if ((t = ev_timer_add(pp->loop, pp_linger_end, pp)) == NULL)
		fatal("publisher");
	ev_timer_set(t, PUB_LINGER_MS);
	t0 = ev_now_ms();
	eng_drain(pp->eng, pp_drained, pp);
	if (ev_loop_run(pp->loop) == -1)
		pp->status = 1;
	ev_timer_del(t);
	n = 0;
	TAILQ_FOREACH(e, &pp->eng->dead, link)
		n++;
	log_info("publisher: withdrawals done in %llu ms%s", (unsigned long
	    long)(ev_now_ms() - t0), n > 0 ? "; the rest goes at once" : "");
}

/* Leave the parent's world: its signal handlers (which write to its
 * loop's pipe), its descriptors (the ssh channel of a subsystem, control
 * sockets, the parent's D-Bus connection), its syslog socket. Kept: the
 * socket (as fd 3) and stderr when the log goes there. */
static void
pp_detach(int fd)
{
	static const int ignored[] = { SIGINT, SIGHUP, SIGQUIT, SIGUSR1,
	    SIGUSR2, SIGPIPE };
	struct sigaction sa;
	sigset_t set;
	size_t i;
	int sig, null;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	/* a terminal's ^C reaches the whole process group: the parent
	 * decides when we end (EOF) */
	sa.sa_handler = SIG_IGN;
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		(void)sigaction(ignored[i], &sa, NULL);
	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);

	if (fd != PP_FD) {
		if (dup2(fd, PP_FD) == -1)
			_exit(1);
		close(fd);
	}
	if ((null = open("/dev/null", O_RDWR)) == -1)
		_exit(1);
	if (dup2(null, STDIN_FILENO) == -1 ||
	    dup2(null, STDOUT_FILENO) == -1)
		_exit(1);
	/* stderr only if it is the log: a subsystem's is the ssh channel's,
	 * which sshd drains until every holder has closed it */
	if (!log_on_stderr() && dup2(null, STDERR_FILENO) == -1)
		_exit(1);
	if (null > STDERR_FILENO && null != PP_FD)
		close(null);
	closefrom(PP_FD + 1);
	log_forked();
	if (set_nonblock(PP_FD) == -1)
		fatal("publisher: socket");
}

void
pubproc_main(int fd)
{
	struct pp pp;

	pp_detach(fd);
	memset(&pp, 0, sizeof(pp));
	RB_INIT(&pp.tree);
	TAILQ_INIT(&pp.reports);
	buf_init(&pp.in, PP_INMAX);
	buf_init(&pp.out, PP_OUTMAX);
	if ((pp.loop = ev_loop_new()) == NULL ||
	    (pp.io = ev_io_add(pp.loop, PP_FD, POLLIN, pp_io, &pp)) == NULL ||
	    ev_signal(pp.loop, SIGTERM, pp_signal, &pp) == -1)
		fatal("publisher");
	pp.eng = eng_new(pp.loop, eng_event, &pp);
	log_debug("publisher: process %ld for %ld", (long)getpid(),
	    (long)getppid());
	if (ev_loop_run(pp.loop) == -1)
		pp.status = 1;
	pp_linger(&pp);
	/* what is left goes with the connection (goodbyes at once) */
	eng_free(pp.eng);
	buf_free(&pp.in);
	buf_free(&pp.out);
	ev_loop_free(pp.loop);
	_exit(pp.status);
}

pid_t
pubproc_spawn(int *fdp, char **cause)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return cause_set(cause, "socketpair: %s", strerror(errno));
	if (set_nonblock(sv[0]) == -1) {
		cause_set(cause, "socket: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	/* nothing the parent buffered may be written twice */
	fflush(NULL);
	switch ((pid = fork())) {
	case -1:
		cause_set(cause, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		pubproc_main(sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	*fdp = sv[0];
	return pid;
}
