/* publish-probe: drives the publisher (common/publish.c) for
 * tests/integration/publish.sh.
 *
 * Commands on stdin, one per line; fields as in PROTOCOL.md section 2
 * (single spaces between fields, %XX escapes, "%" alone is empty):
 *
 *	add KEY TYPE PORT SCOPE [IFACE] [TXT...]
 *			SCOPE is lan, host or iface (then IFACE is an
 *			interface name); KEY is also the wanted name
 *	txt KEY [TXT...]	replace the TXT record
 *	port KEY PORT		change the port
 *	remove KEY
 *	selfremove KEY	the callback removes KEY once it is established
 *	selfquit KEY	the callback frees the publisher (and the probe
 *			exits) once KEY is established
 *	list
 *	quit			(EOF and SIGTERM too)
 *
 * Output on stdout, one line per event, flushed, fields encoded the same:
 *
 *	ready
 *	avahi up | avahi down
 *	state KEY STATE NAME [ERROR]	an entry changed (NAME: in use)
 *	entry KEY STATE NAME [ERROR]	answer to list
 *	ok VERB | error TEXT
 *	removed KEY			(selfremove done)
 *	bye
 *
 * -v: debug logs on stderr. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "publish.h"

#define MAXARGS		64
#define MAXKEYS		4096

struct probe_entry {
	char			*key;
	struct pub_entry	*e;
	int			 selfremove;
	int			 selfquit;
};

static struct ev_loop *loop;
static struct publisher *pub;
static struct probe_entry *entries[MAXKEYS];	/* pub_entry args */
static size_t nentries;
static struct buf in;
static struct ev_io *in_io;

static void
out_fields(const char *verb, const char *const *f, size_t n)
{
	struct buf b;
	size_t i;

	buf_init(&b, PROTO_MAXLINE);
	buf_putf(&b, "%s", verb);
	for (i = 0; i < n; i++) {
		if (f[i] == NULL)
			continue;
		buf_put(&b, " ", 1);
		field_encode(&b, f[i], strlen(f[i]));
	}
	buf_put(&b, "\n", 1);
	fwrite(buf_ptr(&b), 1, buf_len(&b), stdout);
	fflush(stdout);
	buf_free(&b);
}

static void
out_entry(const char *verb, const struct probe_entry *p)
{
	const char *f[4];

	f[0] = p->key;
	f[1] = pub_state_name(pub_entry_state(p->e));
	f[2] = pub_entry_name(p->e);
	f[3] = pub_entry_error(p->e);
	out_fields(verb, f, 4);
}

static void
out_error(const char *text)
{
	out_fields("error", &text, 1);
}

static struct probe_entry *
find(const char *key)
{
	size_t i;

	for (i = 0; i < nentries; i++)
		if (strcmp(entries[i]->key, key) == 0)
			return entries[i];
	return NULL;
}

static void quit(void);

static void
forget(struct probe_entry *pe)
{
	size_t i;

	for (i = 0; i < nentries; i++)
		if (entries[i] == pe) {
			entries[i] = entries[--nentries];
			break;
		}
	free(pe->key);
	free(pe);
}

/* Runs from the publisher's notify timer: exercises removing and freeing
 * from within the callback. */
static void
pub_event(struct publisher *p, struct pub_entry *e, int up, void *arg)
{
	struct probe_entry *pe;
	const char *f[1];

	if (e == NULL) {
		printf("avahi %s\n", up ? "up" : "down");
		fflush(stdout);
		return;
	}
	pe = pub_entry_arg(e);
	out_entry("state", pe);
	if (pub_entry_state(e) != PUB_ESTABLISHED)
		return;
	if (pe->selfquit)
		quit();
	else if (pe->selfremove) {
		publisher_remove(e);
		f[0] = pe->key;
		out_fields("removed", f, 1);
		forget(pe);
	}
}

static void
quit(void)
{
	publisher_free(pub);
	pub = NULL;
	printf("bye\n");
	fflush(stdout);
	ev_loop_break(loop);
}

static int
parse_port(const char *s, uint16_t *port)
{
	const char *errstr;
	long long v;

	v = strtonum(s, 1, 65535, &errstr);
	if (errstr != NULL)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int
parse_txt(char **f, size_t *lens, size_t n, struct txt *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < n; i++)
		if (txt_add(t, f[i], lens[i]) == -1)
			return -1;
	return 0;
}

static void
cmd_add(char **f, size_t *lens, size_t n)
{
	struct pub_spec s;
	struct txt t;
	struct probe_entry *p;
	size_t first;
	char *cause;

	if (n < 5) {
		out_error("usage: add KEY TYPE PORT SCOPE [IFACE] [TXT...]");
		return;
	}
	if (find(f[1]) != NULL || nentries == MAXKEYS) {
		out_error("key exists (or too many)");
		return;
	}
	memset(&s, 0, sizeof(s));
	s.name = f[1];
	s.type = f[2];
	if (parse_port(f[3], &s.port) == -1) {
		out_error("bad port");
		return;
	}
	first = 5;
	if (strcmp(f[4], "lan") == 0)
		s.scope = PUB_SCOPE_LAN;
	else if (strcmp(f[4], "host") == 0)
		s.scope = PUB_SCOPE_HOST;
	else if (strcmp(f[4], "iface") == 0 && n >= 6) {
		s.scope = PUB_SCOPE_IFACE;
		if ((s.ifindex = (int)if_nametoindex(f[5])) == 0) {
			out_error("no such interface");
			return;
		}
		first = 6;
	} else {
		out_error("bad scope (lan, host, iface IFACE)");
		return;
	}
	if (parse_txt(f + first, lens + first, n - first, &t) == -1)
		fatal("txt");
	s.txt = &t;
	if (pub_spec_check(&s, &cause) == -1) {
		out_error(cause);
		free(cause);
		txt_free(&t);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->key = strdup(f[1])) == NULL)
		fatal("calloc");
	if ((p->e = publisher_add(pub, &s, p)) == NULL)
		fatal("publisher_add");
	entries[nentries++] = p;
	txt_free(&t);
	out_fields("ok", (const char *const *)f, 1);
}

static void
cmd_update(char **f, size_t *lens, size_t n, int is_port)
{
	struct probe_entry *p;
	struct txt t;
	uint16_t port;

	if (n < 2 || (p = find(f[1])) == NULL) {
		out_error("no such key");
		return;
	}
	if (is_port) {
		if (n != 3 || parse_port(f[2], &port) == -1) {
			out_error("usage: port KEY PORT");
			return;
		}
		if (publisher_update(p->e, NULL, port) == -1)
			out_error(strerror(errno));
		else
			out_fields("ok", (const char *const *)f, 1);
		return;
	}
	if (parse_txt(f + 2, lens + 2, n - 2, &t) == -1)
		fatal("txt");
	if (publisher_update(p->e, &t, 0) == -1)
		out_error(strerror(errno));
	else
		out_fields("ok", (const char *const *)f, 1);
	txt_free(&t);
}

static void
cmd_remove(char **f, size_t n)
{
	struct probe_entry *p;

	if (n != 2 || (p = find(f[1])) == NULL) {
		out_error("no such key");
		return;
	}
	publisher_remove(p->e);
	forget(p);
	out_fields("ok", (const char *const *)f, 1);
}

static void
command(const char *line, size_t len)
{
	char *f[MAXARGS];
	size_t lens[MAXARGS], n = 0, i, start = 0, flen, ntext;
	const char *cause;

	for (i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		flen = i - start;
		if (flen == 0 || n == MAXARGS) {
			out_error(n == MAXARGS ? "too many fields" :
			    "empty field");
			goto out;
		}
		/* TXT items are binary; the other fields must be text */
		if (field_decode(line + start, flen, FIELD_BINARY, &f[n],
		    &lens[n], &cause) == -1) {
			out_error(cause);
			goto out;
		}
		n++;
		start = i + 1;
	}
	ntext = 2;
	if (strcmp(f[0], "add") == 0)
		ntext = n > 4 && strcmp(f[4], "iface") == 0 ? 6 : 5;
	else if (strcmp(f[0], "port") == 0)
		ntext = 3;
	for (i = 0; i < n && i < ntext; i++)
		if (strlen(f[i]) != lens[i] || !utf8_valid(f[i], lens[i])) {
			out_error("text field is not UTF-8 without NUL");
			goto out;
		}
	if (strcmp(f[0], "add") == 0)
		cmd_add(f, lens, n);
	else if (strcmp(f[0], "txt") == 0)
		cmd_update(f, lens, n, 0);
	else if (strcmp(f[0], "port") == 0)
		cmd_update(f, lens, n, 1);
	else if (strcmp(f[0], "remove") == 0)
		cmd_remove(f, n);
	else if (strcmp(f[0], "selfremove") == 0 ||
	    strcmp(f[0], "selfquit") == 0) {
		struct probe_entry *p;

		if (n != 2 || (p = find(f[1])) == NULL)
			out_error("no such key");
		else {
			if (f[0][4] == 'r')
				p->selfremove = 1;
			else
				p->selfquit = 1;
			out_fields("ok", (const char *const *)f, 1);
		}
	}
	else if (strcmp(f[0], "list") == 0) {
		for (i = 0; i < nentries; i++)
			out_entry("entry", entries[i]);
		out_fields("ok", (const char *const *)f, 1);
	} else if (strcmp(f[0], "quit") == 0)
		quit();
	else
		out_error("unknown command");
 out:
	for (i = 0; i < n; i++)
		free(f[i]);
}

static void
stdin_cb(int fd, short revents, void *arg)
{
	char *line;
	size_t len;
	ssize_t r;
	int rc;

	r = buf_read_fd(&in, fd);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	while (pub != NULL &&
	    (rc = buf_getline(&in, PROTO_MAXLINE, &line, &len)) != BUF_LINE_NONE) {
		if (rc == BUF_LINE_LONG)
			out_error("line too long");
		else if (len > 0)
			command(line, len);
	}
	if (r <= 0 && pub != NULL) {
		ev_io_del(in_io);
		quit();
	}
}

static void
sig_cb(int signo, void *arg)
{
	if (pub != NULL)
		quit();
}

int
main(int argc, char **argv)
{
	int ch, verbose = 0;

	while ((ch = getopt(argc, argv, "v")) != -1)
		switch (ch) {
		case 'v':
			verbose++;
			break;
		default:
			fprintf(stderr, "usage: publish-probe [-v]\n");
			return 2;
		}
	log_init("publish-probe", 1, verbose);
	signal(SIGPIPE, SIG_IGN);
	if ((loop = ev_loop_new()) == NULL)
		fatal("ev_loop_new");
	pub = publisher_new(loop, pub_event, NULL);
	ev_signal(loop, SIGTERM, sig_cb, NULL);
	ev_signal(loop, SIGINT, sig_cb, NULL);
	buf_init(&in, 4 * PROTO_MAXLINE);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	if ((in_io = ev_io_add(loop, 0, POLLIN, stdin_cb, NULL)) == NULL)
		fatal("ev_io_add");
	printf("ready\n");
	fflush(stdout);
	ev_loop_run(loop);
	buf_free(&in);
	while (nentries > 0) {
		nentries--;
		free(entries[nentries]->key);
		free(entries[nentries]);
	}
	ev_loop_free(loop);
	return 0;
}
