/* The publisher as its users see it (publish.h): a proxy. The responder's
 * calls are blocking round trips (with avahi, D-Bus; seconds while
 * avahi-daemon probes a thousand services, up to 25 s when it hangs), so
 * they are made by a child process (publish-proc.c, running the engine of
 * publish-engine.c), and this process's loop never waits for them.
 *
 * Here every entry keeps its spec and a mirror of what the child reported
 * (state, name in use, error). Changes go to the child as messages
 * (publish-msg.h), written only when the socket takes them: an entry to
 * tell sits on the send queue, once however often it changed, and is
 * encoded (the whole of it, as it is then) when the output buffer has room
 * for a message of the largest size. So a child that stops reading costs
 * a bounded buffer plus one queue link per entry, and nothing is lost:
 * what changed meanwhile goes when it reads again. Removals of entries
 * the child knows go first (a 4-byte id each, for entries it was told of
 * and so at most as many as it has), so that removing "X" and adding "X"
 * again never collides with itself.
 *
 * The child's reports carry the generation of the entry they describe;
 * one older than the entry's latest change is dropped (the child
 * acknowledges every UPDATE with a fresh report). Callbacks are queued and
 * delivered from the loop (publish-notify.c), as the engine's are.
 *
 * When the child dies, is killed, or sends a malformed message (which
 * kills it), the responder is as good as gone: every entry goes back to
 * WAITING (renames kept), the user hears "down", and a new child is
 * started after a backoff and handed every entry again. */
#include "config.h"

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backoff.h"
#include "buf.h"
#include "event.h"
#include "fd.h"
#include "log.h"
#include "proto.h"
#include "publish.h"
#include "publish-int.h"
#include "publish-msg.h"
#include "xmalloc.h"

#define PUB_INMAX		(4 * PUBMSG_MAX)
#define PUB_OUTMAX		(4 * PUBMSG_MAX)
#define PUB_RESPAWN_MIN_MS	250	/* a new child after a loss, */
#define PUB_RESPAWN_MAX_MS	30000	/* doubling up to this */
#define PUB_CHILD_STABLE_MS	60000	/* a child this old: start over */

#define NEED_ADD	0x1	/* the child does not know the entry */
#define NEED_UPD	0x2	/* it knows an older TXT or port */

struct pub_entry {
	struct publisher	*pub;
	RB_ENTRY(pub_entry)	 node;		/* by id */
	TAILQ_ENTRY(pub_entry)	 link;		/* all, in order of adding */
	struct pub_nlink	 nl;		/* to tell the user */
	TAILQ_ENTRY(pub_entry)	 slink;		/* send queue */
	int			 need;		/* NEED_*; on it if != 0 */
	int			 known;		/* the child was told of it */
	uint32_t		 id;
	uint32_t		 gen;
	struct pub_svc		 sv;		/* the name: the child's word */
	void			*arg;
	enum pub_state		 state;
	char			 err[PUBMSG_ERRLEN + 1];
};

RB_HEAD(pub_idtree, pub_entry);
TAILQ_HEAD(pub_entries, pub_entry);

static int
pub_idcmp(const struct pub_entry *a, const struct pub_entry *b)
{
	return a->id < b->id ? -1 : a->id > b->id;
}

RB_PROTOTYPE(pub_idtree, pub_entry, node, pub_idcmp)
RB_GENERATE(pub_idtree, pub_entry, node, pub_idcmp)

struct publisher {
	struct ev_loop		*loop;
	pub_cb			 cb;
	void			*arg;
	int			 running;	/* the child's word */
	struct pub_notify	 nq;
	struct ev_timer		*spawn_timer;
	struct pub_entries	 entries;
	struct pub_entries	 send;
	struct pub_idtree	 ids;
	size_t			 nentries;
	uint32_t		 next_id;
	/* ids to remove in the child, in the caller's order: of two
	 * registrations of one name (an export on eth0 and on a WAN leg
	 * avahi does not use) avahi says goodbye on eth0 only if that one
	 * goes last */
	uint32_t		*rm;
	size_t			 rmhead;	/* next to send */
	size_t			 nrm;
	size_t			 rmcap;
	/* the child */
	pid_t			 pid;		/* 0: none (or reaped) */
	pid_t			 lastpid;	/* for the log */
	int			 fd;
	struct ev_io		*io;
	struct buf		 in;
	struct buf		 out;
	uint64_t		 started;	/* ms */
	unsigned int		 step;		/* backoff */
	unsigned long		 restarts;
	char			 exited[64];	/* status, once reaped */
	int			 eof;		/* it closed its socket */
};

static void	pub_destroy(struct publisher *);
static void	child_lost(struct publisher *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	child_lost_why(struct publisher *, const char *);

/* --- notifications -------------------------------------------------------- */

static void
entry_notify(struct pub_entry *e)
{
	pub_notify_item(&e->pub->nq, &e->nl, e);
}

static void
entry_set_state(struct pub_entry *e, enum pub_state st)
{
	if (e->state == st)
		return;
	e->state = st;
	if (st != PUB_FAILED)
		e->err[0] = '\0';
	entry_notify(e);
}

static void
set_running(struct publisher *pub, int up)
{
	if (pub->running == up)
		return;
	pub->running = up;
	pub_notify_up(&pub->nq, up);
}

static void
deliver(void *owner, void *item, int up)
{
	struct publisher *pub = owner;

	if (pub->cb != NULL)
		pub->cb(pub, item, up, pub->arg);
}

static void
destroy(void *owner)
{
	pub_destroy(owner);
}

/* --- to the child --------------------------------------------------------- */

static void
want_io(struct publisher *pub)
{
	short ev = POLLIN;

	if (pub->io == NULL)
		return;
	if (buf_len(&pub->out) > 0 || pub->rmhead < pub->nrm ||
	    !TAILQ_EMPTY(&pub->send))
		ev |= POLLOUT;
	ev_io_set(pub->io, ev);
}

static void
entry_send(struct pub_entry *e, int need)
{
	if (e->need == 0)
		TAILQ_INSERT_TAIL(&e->pub->send, e, slink);
	e->need |= need;
	want_io(e->pub);
}

static void
entry_unsend(struct pub_entry *e)
{
	if (e->need != 0)
		TAILQ_REMOVE(&e->pub->send, e, slink);
	e->need = 0;
}

/* Encode what waits while a message of any size fits. */
static void
fill(struct publisher *pub)
{
	struct pubmsg m;
	struct pub_entry *e;

	while (buf_room(&pub->out) >= 4 + PUBMSG_MAX) {
		memset(&m, 0, sizeof(m));
		if (pub->rmhead < pub->nrm) {
			m.type = PUBMSG_REMOVE;
			m.id = pub->rm[pub->rmhead++];
			if (pub->rmhead == pub->nrm)
				pub->rmhead = pub->nrm = 0;
		} else if ((e = TAILQ_FIRST(&pub->send)) != NULL) {
			m.type = (e->need & NEED_ADD) ? PUBMSG_ADD :
			    PUBMSG_UPDATE;
			m.id = e->id;
			m.gen = e->gen;
			m.name = e->sv.name;
			m.stype = e->sv.type;
			m.domain = e->sv.domain;
			m.port = e->sv.port;
			m.scope = e->sv.scope;
			m.ifindex = (uint32_t)e->sv.ifindex;
			m.txt = e->sv.txt;
			entry_unsend(e);
			e->known = 1;
		} else
			break;
		if (pubmsg_put(&pub->out, &m) == -1)
			fatal("publisher: %s message",
			    pubmsg_type_name(m.type));
	}
}

/* --- from the child ------------------------------------------------------- */

static int
child_state(struct publisher *pub, const struct pubmsg *m, char **cause)
{
	struct pub_entry key, *e;
	int changed = 0;

	key.id = m->id;
	if ((e = RB_FIND(pub_idtree, &pub->ids, &key)) == NULL)
		return 0;	/* removed since */
	if ((int32_t)(m->gen - e->gen) > 0)
		return cause_set(cause, "STATE of entry %u for change %u, the "
		    "latest is %u", m->id, m->gen, e->gen);
	if (m->gen != e->gen)
		return 0;	/* the child has not seen the last change */
	if (pub_name_check(m->name, cause) == -1)
		return -1;
	if (strcmp(m->name, e->sv.name) != 0) {
		free(e->sv.name);
		e->sv.name = xstrdup(m->name);
		changed = 1;
	}
	if (m->state != e->state) {
		e->state = (enum pub_state)m->state;
		changed = 1;
	}
	if (m->err != NULL)
		strlcpy(e->err, m->err, sizeof(e->err));
	else
		e->err[0] = '\0';
	if (changed)
		entry_notify(e);
	return 0;
}

static void
child_read(struct publisher *pub)
{
	struct pubmsg m;
	char *cause = NULL;
	ssize_t n;
	int r;

	n = buf_read_fd(&pub->in, pub->fd);
	if (n == 0) {
		/* it is exiting (its descriptors close before it ends):
		 * wait for its own status rather than kill it */
		pub->eof = 1;
		child_lost_why(pub, buf_len(&pub->in) > 0 ? "in the middle "
		    "of a message" : NULL);
		return;
	}
	if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
		child_lost(pub, "read: %s", strerror(errno));
		return;
	}
	while ((r = pubmsg_get(&pub->in, PUBMSG_TO_PARENT, &m, &cause)) ==
	    1) {
		if (m.type == PUBMSG_UP)
			set_running(pub, (int)m.up);
		else if (child_state(pub, &m, &cause) == -1)
			r = -1;
		pubmsg_clear(&m);
		if (r == -1)
			break;
	}
	if (r == -1) {
		child_lost(pub, "bad message: %s", cause);
		free(cause);
	}
}

static void
child_io(int fd, short revents, void *arg)
{
	struct publisher *pub = arg;

	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		child_read(pub);
		if (pub->io == NULL)
			return;		/* lost */
	}
	if (revents & POLLOUT) {
		fill(pub);
		if (buf_send_fd(&pub->out, fd) == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK) {
			child_lost(pub, "write: %s", strerror(errno));
			return;
		}
	}
	want_io(pub);
}

/* --- the child's life ----------------------------------------------------- */

static void
describe_status(struct publisher *pub, int status)
{
	if (WIFEXITED(status))
		snprintf(pub->exited, sizeof(pub->exited), "exited with "
		    "status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(pub->exited, sizeof(pub->exited), "killed by signal "
		    "%d", WTERMSIG(status));
	else
		snprintf(pub->exited, sizeof(pub->exited), "ended (status "
		    "0x%x)", (unsigned int)status);
}

/* Make sure the child is gone, and reaped. One that closed its socket is
 * exiting; one that still runs (it sent nonsense, or its socket failed)
 * is killed. Either way the wait is short. */
static void
child_reap(struct publisher *pub)
{
	pid_t r;
	int status;

	if (pub->pid <= 0)
		return;
	while ((r = waitpid(pub->pid, &status, WNOHANG)) == -1 &&
	    errno == EINTR)
		;
	if (r == 0) {
		if (!pub->eof)
			(void)kill(pub->pid, SIGKILL);
		while ((r = waitpid(pub->pid, &status, 0)) == -1 &&
		    errno == EINTR)
			;
	}
	if (r == pub->pid)
		describe_status(pub, status);
	else	/* reaped by someone who did not tell publisher_reaped() */
		snprintf(pub->exited, sizeof(pub->exited), "is gone");
	pub->lastpid = pub->pid;
	pub->pid = 0;
	pub->eof = 0;
}

static void
child_close(struct publisher *pub)
{
	ev_io_del(pub->io);
	pub->io = NULL;
	close_fd(&pub->fd);
	buf_reset(&pub->in);
	buf_reset(&pub->out);
}

static void
child_lost(struct publisher *pub, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	child_lost_why(pub, why);
}

/* why: what this side saw, or NULL (the exit status says it all). */
static void
child_lost_why(struct publisher *pub, const char *why)
{
	struct pub_entry *e;
	unsigned int ms;

	child_close(pub);
	child_reap(pub);
	if (ev_now_ms() - pub->started >= PUB_CHILD_STABLE_MS)
		pub->step = 0;
	ms = backoff_ms(pub->step++, PUB_RESPAWN_MIN_MS, PUB_RESPAWN_MAX_MS,
	    20, arc4random());
	log_warnx("publisher: its process %ld %s%s%s%s; %zu services wait "
	    "for a new one, in %u ms", (long)pub->lastpid, pub->exited,
	    why != NULL ? " (" : "", why != NULL ? why : "",
	    why != NULL ? ")" : "", pub->nentries, ms);
	/* the child's D-Bus connection went with it: nothing is published */
	set_running(pub, 0);
	pub->rmhead = pub->nrm = 0;
	TAILQ_FOREACH(e, &pub->entries, link) {
		e->known = 0;
		entry_set_state(e, PUB_WAITING);
		entry_unsend(e);
		entry_send(e, NEED_ADD);
	}
	ev_timer_set(pub->spawn_timer, ms);
}

static void
child_spawn(struct publisher *pub)
{
	char *cause = NULL;
	unsigned int ms;

	if ((pub->pid = pubproc_spawn(&pub->fd, &cause)) == -1) {
		pub->pid = 0;
		ms = backoff_ms(pub->step++, PUB_RESPAWN_MIN_MS,
		    PUB_RESPAWN_MAX_MS, 20, arc4random());
		log_warnx("publisher: cannot start its process: %s; again "
		    "in %u ms", cause, ms);
		free(cause);
		ev_timer_set(pub->spawn_timer, ms);
		return;
	}
	pub->started = ev_now_ms();
	pub->exited[0] = '\0';
	if ((pub->io = ev_io_add(pub->loop, pub->fd, POLLIN, child_io,
	    pub)) == NULL)
		fatalx("out of memory");
	log_debug("publisher: process %ld started", (long)pub->pid);
	want_io(pub);
}

static void
spawn_cb(void *arg)
{
	struct publisher *pub = arg;

	pub->restarts++;
	child_spawn(pub);
}

/* --- API ------------------------------------------------------------------ */

struct publisher *
publisher_new(struct ev_loop *loop, pub_cb cb, void *arg)
{
	struct publisher *pub;

	pub = xcalloc(1, sizeof(*pub));
	pub->loop = loop;
	pub->cb = cb;
	pub->arg = arg;
	pub->fd = -1;
	TAILQ_INIT(&pub->entries);
	TAILQ_INIT(&pub->send);
	RB_INIT(&pub->ids);
	buf_init(&pub->in, PUB_INMAX);
	buf_init(&pub->out, PUB_OUTMAX);
	pub_notify_init(&pub->nq, loop, deliver, destroy, pub);
	if ((pub->spawn_timer = ev_timer_add(loop, spawn_cb, pub)) == NULL)
		fatal("publisher");	/* only out of memory */
	child_spawn(pub);
	return pub;
}

static void
entry_free(struct pub_entry *e)
{
	pub_svc_clear(&e->sv);
	free(e);
}

/* The child sees EOF, withdraws everything (goodbyes, paced: seconds for
 * a thousand, publish-proc.c) and exits; nobody waits for it here. It is
 * reaped now if it is already gone, else by the process's SIGCHLD
 * handling (publisher_reaped() is then no longer called) or by init once
 * the process exits. */
static void
pub_destroy(struct publisher *pub)
{
	struct pub_entry *e;
	int status;

	while ((e = TAILQ_FIRST(&pub->entries)) != NULL) {
		TAILQ_REMOVE(&pub->entries, e, link);
		entry_free(e);
	}
	child_close(pub);
	if (pub->pid > 0)
		(void)waitpid(pub->pid, &status, WNOHANG);
	buf_free(&pub->in);
	buf_free(&pub->out);
	free(pub->rm);
	pub_notify_clear(&pub->nq);
	ev_timer_del(pub->spawn_timer);
	free(pub);
}

void
publisher_free(struct publisher *pub)
{
	if (pub == NULL)
		return;
	if (!pub_notify_defer_free(&pub->nq))
		pub_destroy(pub);
}

int
publisher_running(const struct publisher *pub)
{
	return pub->running;
}

pid_t
publisher_pid(const struct publisher *pub)
{
	return pub->pid;
}

unsigned long
publisher_restarts(const struct publisher *pub)
{
	return pub->restarts;
}

int
publisher_reaped(struct publisher *pub, pid_t pid, int status)
{
	if (pub == NULL || pid <= 0 || pid != pub->pid)
		return 0;
	describe_status(pub, status);
	pub->lastpid = pid;
	pub->pid = 0;
	child_lost_why(pub, NULL);
	return 1;
}

static uint32_t
new_id(struct publisher *pub)
{
	struct pub_entry key;

	do {
		if (++pub->next_id == 0)
			pub->next_id = 1;
		key.id = pub->next_id;
	} while (RB_FIND(pub_idtree, &pub->ids, &key) != NULL);
	return pub->next_id;
}

struct pub_entry *
publisher_add(struct publisher *pub, const struct pub_spec *spec,
    void *entry_arg)
{
	struct pub_entry *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	if (pub_svc_set(&e->sv, spec) == -1) {
		free(e);
		return NULL;
	}
	e->pub = pub;
	e->arg = entry_arg;
	e->state = PUB_WAITING;
	e->id = new_id(pub);
	RB_INSERT(pub_idtree, &pub->ids, e);
	TAILQ_INSERT_TAIL(&pub->entries, e, link);
	pub->nentries++;
	entry_send(e, NEED_ADD);
	return e;
}

int
publisher_update(struct pub_entry *e, const struct txt *txt, uint16_t port)
{
	int changed;
	char *cause = NULL;

	if ((changed = pub_svc_update(&e->sv, txt, port, &cause)) == -1) {
		if (cause != NULL) {
			log_warnx("publish \"%s\" %s: update: %s", e->sv.name,
			    e->sv.type, cause);
			free(cause);
			errno = EINVAL;
		}
		return -1;
	}
	if (changed == 0 && e->state != PUB_FAILED)
		return 0;
	/* a FAILED entry is tried again, as the child will do */
	if (e->state == PUB_FAILED)
		entry_set_state(e, PUB_WAITING);
	e->gen++;
	entry_send(e, e->known ? NEED_UPD : NEED_ADD);
	return 0;
}

void
publisher_remove(struct pub_entry *e)
{
	struct publisher *pub;

	if (e == NULL)
		return;
	pub = e->pub;
	pub_notify_cancel(&pub->nq, &e->nl);
	entry_unsend(e);
	TAILQ_REMOVE(&pub->entries, e, link);
	RB_REMOVE(pub_idtree, &pub->ids, e);
	pub->nentries--;
	if (e->known && pub->io != NULL) {
		if (pub->nrm == pub->rmcap && pub->rmhead > 0) {
			memmove(pub->rm, pub->rm + pub->rmhead,
			    (pub->nrm - pub->rmhead) * sizeof(*pub->rm));
			pub->nrm -= pub->rmhead;
			pub->rmhead = 0;
		}
		if (pub->nrm == pub->rmcap) {
			pub->rmcap = pub->rmcap ? pub->rmcap * 2 : 64;
			pub->rm = xreallocarray(pub->rm, pub->rmcap,
			    sizeof(*pub->rm));
		}
		pub->rm[pub->nrm++] = e->id;
		want_io(pub);
	}
	entry_free(e);
}

enum pub_state
pub_entry_state(const struct pub_entry *e)
{
	return e->state;
}

const char *
pub_entry_name(const struct pub_entry *e)
{
	return e->sv.name;
}

const char *
pub_entry_error(const struct pub_entry *e)
{
	return e->state == PUB_FAILED ? e->err : NULL;
}

void *
pub_entry_arg(const struct pub_entry *e)
{
	return e->arg;
}
