/*
 * rnsplice check DESTINATION: walk the chain a splice needs, step by step,
 * and say in plain words what is wrong and how to fix it.
 *
 * The steps are a table; each one runs real programs (ssh in batch mode,
 * as the agent runs it) and fills the shared state for the next.  A step
 * that fails says why and prints the fix; later steps that need it are
 * skipped.  The exit status is 0 only when splicing will work: ssh logs
 * in, one of the two ways to start the subsystem works, the server's
 * avahi-daemon runs, connections can be carried (TCP forwarding or the
 * subsystem's relay mode), and this host's avahi-daemon runs.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "ctl.h"
#include "log.h"
#include "mdns.h"
#include "proto.h"
#include "rundir.h"
#include "siteid.h"
#include "xmalloc.h"

#define CHECK_TIMEOUT_MS	15000	/* one ssh run */
#define CHECK_SYNC_MS		10000	/* HELLO to SYNCED */
#define CHECK_MAXOUT		(1024 * 1024)
#define CHECK_SHOW		8	/* services listed per run */
#define CHECK_USER_CMD		"~/.local/libexec/rnsplice-subsystem"

enum way { WAY_NONE, WAY_SUBSYSTEM, WAY_COMMAND };

struct check {
	const char	*dest;		/* what ssh gets */
	const char	*name;		/* as the user typed it */
	const char	*ssh;
	const struct remote_conf *rc;	/* from agent.conf, or NULL */
	const char	*command;	/* subsystem-command to try */
	int		 command_given;	/* by -C or the configuration */
	int		 verbose;

	int		 login_ok;
	enum way	 way;
	int		 server_avahi;	/* 1 up, 0 down, -1 unknown */
	int		 relay_offered;
	char		 version[16];
	char		 peer[SITEID_MAX + 1];
	unsigned int	 nservices;
	char		 fwd_host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	unsigned int	 fwd_port;
	char		 fwd_name[DNSSD_MAXNAME + 1];
	int		 forwarding;	/* 1 ok, 0 refused, -1 untested */
	int		 failed;	/* steps that make splicing fail */
};

/* --- output ----------------------------------------------------------------- */

static void say(const char *, const char *, const char *, ...)
    LOG_PRINTF(3, 4);
static void fix(const char *, ...) LOG_PRINTF(1, 2);
static void line(const char *, ...) LOG_PRINTF(1, 2);

static void
say(const char *tag, const char *step, const char *fmt, ...)
{
	va_list ap;
	char msg[1024], vis[1100];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_vis(vis, sizeof(vis), msg);
	printf("%-4s %s: %s\n", tag, step, vis);
}

static void
fix(const char *fmt, ...)
{
	va_list ap;

	printf("     fix: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void
line(const char *fmt, ...)
{
	va_list ap;

	printf("          ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* --- running ssh ------------------------------------------------------------- */

struct run {
	struct buf	 out, err;
	int		 status;	/* as waitpid; -1 timed out */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Run argv with input on its stdin (then EOF unless keep_open), collect
 * stdout and stderr until both end or timeout_ms passes (then SIGTERM).
 * With until, stop reading stdout once it holds that line, and close
 * stdin: the subsystem then ends on EOF.
 */
static int
run_argv(char *const *argv, const char *input, int keep_open,
    const char *until, int timeout_ms, struct run *r)
{
	int in[2], out[2], er[2], st;
	struct pollfd pfd[2];
	pid_t pid;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	size_t off = 0, ilen = input != NULL ? strlen(input) : 0;
	ssize_t n;
	char tmp[4096];
	int open_out = 1, open_err = 1, left;

	buf_init(&r->out, CHECK_MAXOUT);
	buf_init(&r->err, CHECK_MAXOUT);
	r->status = -1;
	if (pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(out, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	if (pipe2(er, O_CLOEXEC) == -1) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		setsid();	/* no tty: ssh cannot ask anything */
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(er[1], 2);
		closefrom(3);	/* ssh gets the three pipes, nothing else */
		execv(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(er[1]);
	while (off < ilen) {
		if ((n = write(in[1], input + off, ilen - off)) <= 0)
			break;
		off += (size_t)n;
	}
	if (!keep_open) {
		close(in[1]);
		in[1] = -1;
	}
	while (open_out || open_err) {
		left = (int)(deadline - now_ms());
		if ((int64_t)(deadline - now_ms()) <= 0)
			break;
		pfd[0].fd = open_out ? out[0] : -1;
		pfd[1].fd = open_err ? er[0] : -1;
		pfd[0].events = pfd[1].events = POLLIN;
		if (poll(pfd, 2, left) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents != 0) {
			n = read(out[0], tmp, sizeof(tmp));
			if (n <= 0)
				open_out = 0;
			else if (buf_put(&r->out, tmp, (size_t)n) == -1)
				open_out = 0;
			if (until != NULL && in[1] != -1 &&
			    memmem(buf_ptr(&r->out), buf_len(&r->out), until,
			    strlen(until)) != NULL) {
				close(in[1]);
				in[1] = -1;
			}
		}
		if (pfd[1].revents != 0) {
			n = read(er[0], tmp, sizeof(tmp));
			if (n <= 0 || buf_put(&r->err, tmp, (size_t)n) == -1)
				open_err = 0;
		}
	}
	if (in[1] != -1)
		close(in[1]);
	close(out[0]);
	close(er[0]);
	if (open_out || open_err)
		kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	if (!open_out && !open_err)
		r->status = st;
	return 0;
}

static void
run_free(struct run *r)
{
	buf_free(&r->out);
	buf_free(&r->err);
}

/* The last non-empty line of ssh's stderr, or "". */
static const char *
last_err(struct run *r, char *out, size_t outlen)
{
	const char *p = (const char *)buf_ptr(&r->err);
	const char *end = p + buf_len(&r->err), *s, *e;

	out[0] = '\0';
	for (e = end; e > p && (e[-1] == '\n' || e[-1] == '\r'); e--)
		;
	for (s = e; s > p && s[-1] != '\n'; s--)
		;
	if (e > s)
		snprintf(out, outlen, "%.*s", (int)(e - s), s);
	return out;
}

static int
err_has(struct run *r, const char *what)
{
	return memmem(buf_ptr(&r->err), buf_len(&r->err), what,
	    strlen(what)) != NULL;
}

/* ssh DEST with the options of the remote, batch mode, then extra. */
static char **
ssh_argv(struct check *c, const char *const *extra, size_t nextra)
{
	char **v;
	size_t n = 0, i, max = 16 + nextra;

	if (c->rc != NULL)
		max += 2 * c->rc->nssh_options;
	if ((v = calloc(max + 1, sizeof(*v))) == NULL)
		return NULL;
	v[n++] = (char *)c->ssh;
	v[n++] = "-T";
	if (c->rc != NULL)
		for (i = 0; i < c->rc->nssh_options; i++) {
			v[n++] = "-o";
			v[n++] = c->rc->ssh_options[i];
		}
	v[n++] = "-o";
	v[n++] = "BatchMode=yes";
	v[n++] = "-o";
	v[n++] = "ConnectTimeout=10";
	v[n++] = "-o";
	v[n++] = "ControlMaster=no";
	v[n++] = "-o";
	v[n++] = "ControlPath=none";
	for (i = 0; i < nextra; i++)
		v[n++] = (char *)extra[i];
	v[n] = NULL;
	return v;
}

/* --- the steps ---------------------------------------------------------------- */

static int
step_local_avahi(struct check *c)
{
	char *version, *cause;

	if (mdns_probe(&version, &cause) == -1) {
		say("FAIL", "avahi here", "avahi-daemon is not running on this "
		    "host (%s): the agent cannot publish what it splices",
		    cause);
		fix("sudo systemctl enable --now avahi-daemon");
		free(cause);
		return -1;
	}
	say("ok", "avahi here", "avahi-daemon (%s) runs", version);
	free(version);
	return 0;
}

static int
step_config(struct check *c)
{
	const struct remote_conf *rc = c->rc;
	unsigned int idx;

	if (rc == NULL) {
		say("info", "agent.conf", "no remote \"%s\" there: checking it "
		    "as an ssh destination", c->name);
		return 0;
	}
	say("ok", "agent.conf", "remote %s: destination %s, scope %s%s%s%s%s",
	    rc->name, rc->destination, conf_scope_name(rc->scope),
	    rc->scope == SCOPE_IFACE ? " " : "",
	    rc->scope == SCOPE_IFACE ? rc->ifname : "",
	    rc->subsystem_command != NULL ? ", subsystem-command " : "",
	    rc->subsystem_command != NULL ? rc->subsystem_command : "");
	if (rc->scope == SCOPE_IFACE &&
	    (idx = if_nametoindex(rc->ifname)) == 0) {
		say("FAIL", "scope", "interface %s does not exist here: the "
		    "agent cannot listen on it", rc->ifname);
		fix("set \"scope interface IFNAME\" to one of: ip -br link");
		return -1;
	}
	if (rc->scope == SCOPE_HOST)
		line("scope host: the services are for this host only "
		    "(127.0.0.1); \"scope lan\" shares them with the LAN");
	return 0;
}

static int
step_login(struct check *c)
{
	const char *extra[] = { "--", c->dest, "true" };
	char **argv, last[512];
	struct run r;
	const char *sock = getenv("SSH_AUTH_SOCK");

	if ((argv = ssh_argv(c, extra, 3)) == NULL ||
	    run_argv(argv, NULL, 0, NULL, CHECK_TIMEOUT_MS, &r) == -1) {
		free(argv);
		say("FAIL", "ssh login", "cannot run %s: %s", c->ssh,
		    strerror(errno));
		return -1;
	}
	free(argv);
	last_err(&r, last, sizeof(last));
	if (r.status == -1) {
		say("FAIL", "ssh login", "ssh %s did not finish in %d s",
		    c->dest, CHECK_TIMEOUT_MS / 1000);
		fix("check that \"ssh %s true\" returns by itself", c->dest);
		run_free(&r);
		return -1;
	}
	if (WIFEXITED(r.status) && WEXITSTATUS(r.status) == 255) {
		say("FAIL", "ssh login", "ssh %s in batch mode (as the agent "
		    "runs it) failed: %s", c->dest, last);
		if (err_has(&r, "Host key verification failed") ||
		    err_has(&r, "No ED25519 host key is known") ||
		    err_has(&r, "host key is known"))
			fix("the server's host key is not known here: log in "
			    "once by hand (ssh %s) and compare the fingerprint, "
			    "or add it with ssh-keyscan to ~/.ssh/known_hosts",
			    c->dest);
		else if (err_has(&r, "Permission denied")) {
			fix("the server does not accept a key the agent can "
			    "use without asking: install one (ssh-copy-id %s)",
			    c->dest);
			if (sock == NULL)
				line("SSH_AUTH_SOCK is not set: keys with a "
				    "passphrase need ssh-agent (under systemd "
				    "--user: systemctl --user "
				    "import-environment SSH_AUTH_SOCK)");
			else
				line("ssh-agent at %s: is the key loaded? "
				    "(ssh-add -l)", sock);
		} else if (err_has(&r, "Could not resolve"))
			fix("the host name does not resolve: use an address "
			    "or a Host entry in ~/.ssh/config");
		else if (err_has(&r, "Connection refused") ||
		    err_has(&r, "timed out") || err_has(&r, "No route"))
			fix("the server's sshd cannot be reached: check the "
			    "address, the port (ssh-option Port=...) and the "
			    "firewall");
		run_free(&r);
		return -1;
	}
	c->login_ok = 1;
	say("ok", "ssh login", "ssh %s logs in in batch mode", c->dest);
	run_free(&r);
	return 0;
}

/* One protocol session (HELLO, BROWSE *, up to SYNCED): 0 if the subsystem
 * answered, with what it said in c; -1 with why in *cause. */
static int
session(struct check *c, enum way way, struct run *r, char **cause)
{
	const char *sub[] = { "-s", "--", c->dest, "rnsplice" };
	const char *cmd[] = { "--", c->dest, NULL, "-u" };
	struct buf hello;
	struct msg m;
	char **argv, *l, *perr, name[80], last[512];
	const char *code;
	size_t len;
	int got_hello = 0, synced = 0, shown = 0;

	cmd[2] = c->command;
	argv = way == WAY_SUBSYSTEM ? ssh_argv(c, sub, 4) : ssh_argv(c, cmd,
	    4);
	memset(&m, 0, sizeof(m));
	m.type = MSG_HELLO;
	m.major = PROTO_MAJOR;
	m.minor = PROTO_MINOR;
	m.peer_id = "rnsplicecheck";
	m.role = "agent";
	m.features = "";
	m.maxline = PROTO_MAXLINE;
	buf_init(&hello, PROTO_MAXLINE * 2);
	if (argv == NULL || msg_format(&hello, &m, PROTO_MAXLINE) == -1 ||
	    buf_putf(&hello, "BROWSE *\n") == -1 ||
	    buf_put(&hello, "", 1) == -1) {
		free(argv);
		buf_free(&hello);
		cause_set(cause, "out of memory");
		return -1;
	}
	if (run_argv(argv, (const char *)buf_ptr(&hello), 1, "SYNCED", CHECK_SYNC_MS,
	    r) == -1) {
		free(argv);
		buf_free(&hello);
		cause_set(cause, "cannot run %s: %s", c->ssh,
		    strerror(errno));
		return -1;
	}
	free(argv);
	buf_free(&hello);
	c->nservices = 0;
	c->server_avahi = -1;
	while (buf_getline(&r->out, PROTO_MAXLINE, &l, &len) == BUF_LINE_OK) {
		if (msg_parse(l, len, &m, &perr, &code) == -1) {
			free(perr);
			msg_free(&m);
			continue;
		}
		switch (m.type) {
		case MSG_HELLO:
			got_hello = 1;
			snprintf(c->version, sizeof(c->version), "%u.%u",
			    m.major, m.minor);
			strlcpy(c->peer, m.peer_id, sizeof(c->peer));
			c->relay_offered = proto_has_feature(m.features,
			    "relay");
			if (m.major != PROTO_MAJOR) {
				cause_set(cause, "the subsystem speaks "
				    "protocol %u.%u, this rnsplice %s",
				    m.major, m.minor, PROTO_VERSION);
				msg_free(&m);
				return -1;
			}
			break;
		case MSG_AVAHI:
			c->server_avahi = m.avahi_up;
			break;
		case MSG_ADD:
		case MSG_UPDATE:
			if (c->server_avahi == -1)
				c->server_avahi = 1;
			c->nservices++;
			if (c->fwd_port == 0 && strchr(m.svc.addr, '%') ==
			    NULL && strcmp(m.svc.addr, "127.0.0.1") != 0) {
				strlcpy(c->fwd_host, m.svc.addr,
				    sizeof(c->fwd_host));
				c->fwd_port = m.svc.port;
				strlcpy(c->fwd_name, m.svc.name,
				    sizeof(c->fwd_name));
			}
			if (c->verbose || shown < CHECK_SHOW) {
				log_vis(name, sizeof(name), m.svc.name);
				line("offers \"%s\" %s at %s:%u", name,
				    m.svc.type, m.svc.addr, m.svc.port);
				shown++;
			}
			break;
		case MSG_SYNCED:
			synced = 1;
			break;
		case MSG_ERROR:
			cause_set(cause, "the subsystem said ERROR %s %s",
			    m.code, m.text != NULL ? m.text : "");
			msg_free(&m);
			return -1;
		default:
			break;
		}
		msg_free(&m);
	}
	if (!got_hello) {
		last_err(r, last, sizeof(last));
		if (last[0] == '\0')
			return cause_set(cause, "no HELLO from the subsystem");
		return cause_set(cause, "%s", last);
	}
	if (synced && c->server_avahi == -1)
		c->server_avahi = 1;
	if (c->nservices > (unsigned int)shown)
		line("... and %u more", c->nservices - (unsigned int)shown);
	return 0;
}

static int
step_subsystem(struct check *c)
{
	struct run r;
	char *cause;

	if (!c->login_ok) {
		say("skip", "Subsystem rnsplice", "needs the ssh login");
		return -1;
	}
	if (c->rc != NULL && c->rc->subsystem_command != NULL) {
		say("info", "Subsystem rnsplice", "not used: the remote has "
		    "subsystem-command %s", c->rc->subsystem_command);
		return 0;
	}
	if (session(c, WAY_SUBSYSTEM, &r, &cause) == 0) {
		c->way = WAY_SUBSYSTEM;
		say("ok", "Subsystem rnsplice", "the server runs "
		    "rnsplice-subsystem, protocol %s, site %s%s", c->version,
		    c->peer, c->relay_offered ? ", relay mode offered" : "");
		run_free(&r);
		return 0;
	}
	if (err_has(&r, "subsystem request failed")) {
		say("FAIL", "Subsystem rnsplice", "the server's sshd has no "
		    "\"Subsystem rnsplice\" line");
		fix("as root on the server (Debian: the rnsplice-server "
		    "package does this):");
		line("echo 'Subsystem rnsplice /usr/libexec/"
		    "rnsplice-subsystem' > /etc/ssh/sshd_config.d/"
		    "rnsplice.conf");
		line("sshd -t && systemctl reload ssh");
		line("or, without root: install the subsystem in your home "
		    "and use subsystem-command (below)");
	} else
		say("FAIL", "Subsystem rnsplice", "%s", cause);
	free(cause);
	run_free(&r);
	return 0;	/* the other way may work */
}

static int
step_command(struct check *c)
{
	struct run r;
	char *cause;

	if (!c->login_ok || c->way != WAY_NONE) {
		if (c->command_given && c->way != WAY_NONE)
			say("skip", "subsystem-command", "the Subsystem way "
			    "works");
		return 0;
	}
	if (session(c, WAY_COMMAND, &r, &cause) == 0) {
		c->way = WAY_COMMAND;
		say("ok", "subsystem-command", "ssh %s %s -u works: protocol "
		    "%s, site %s%s", c->dest, c->command, c->version, c->peer,
		    c->relay_offered ? ", relay mode offered" : "");
		if (c->rc == NULL || c->rc->subsystem_command == NULL)
			line("add \"subsystem-command %s\" to the remote in "
			    "agent.conf (or give -C to rnsplice-agent)",
			    c->command);
		run_free(&r);
		return 0;
	}
	say("FAIL", "subsystem-command", "ssh %s %s -u: %s", c->dest,
	    c->command, cause);
	free(cause);
	if (err_has(&r, "No such file") || err_has(&r, "not found"))
		fix("install the subsystem there: ./configure "
		    "--prefix=$HOME/.local && make && make install");
	run_free(&r);
	c->failed++;
	return -1;
}

static int
step_server_avahi(struct check *c)
{
	if (c->way == WAY_NONE) {
		say("skip", "avahi there", "needs a subsystem session");
		return -1;
	}
	if (c->server_avahi == 0) {
		say("FAIL", "avahi there", "avahi-daemon is not running on the "
		    "server: the subsystem sees no service");
		fix("on the server: sudo systemctl enable --now avahi-daemon");
		c->failed++;
		return -1;
	}
	if (c->nservices == 0) {
		say("warn", "avahi there", "avahi-daemon runs, but the policy "
		    "offers no service (or the LAN has none)");
		line("see the server's subsystem.conf (rnsplice-subsystem -n) "
		    "and avahi-browse -a there");
		return 0;
	}
	say("ok", "avahi there", "avahi-daemon runs; the policy offers %u "
	    "service%s", c->nservices, c->nservices == 1 ? "" : "s");
	return 0;
}

static int
step_forwarding(struct check *c)
{
	char target[INET6_ADDRSTRLEN + IF_NAMESIZE + 16], last[512];
	const char *extra[] = { "-W", target, "--", c->dest };
	char **argv;
	struct run r;

	if (c->way == WAY_NONE || c->fwd_port == 0) {
		say("skip", "forwarding", c->way == WAY_NONE ? "needs a "
		    "subsystem session" : "no service to try it with");
		return 0;
	}
	snprintf(target, sizeof(target), strchr(c->fwd_host, ':') ?
	    "[%s]:%u" : "%s:%u", c->fwd_host, c->fwd_port);
	if ((argv = ssh_argv(c, extra, 4)) == NULL ||
	    run_argv(argv, NULL, 0, NULL, CHECK_TIMEOUT_MS, &r) == -1) {
		free(argv);
		say("FAIL", "forwarding", "cannot run ssh: %s",
		    strerror(errno));
		c->failed++;
		return -1;
	}
	free(argv);
	last_err(&r, last, sizeof(last));
	if (r.status != -1 && WIFEXITED(r.status) &&
	    WEXITSTATUS(r.status) != 255) {
		c->forwarding = 1;
		say("ok", "forwarding", "the server forwards TCP: a connection "
		    "to \"%s\" (%s) opened", c->fwd_name, target);
	} else if (err_has(&r, "administratively prohibited") ||
	    err_has(&r, "forwarding disabled") ||
	    err_has(&r, "open failed")) {
		c->forwarding = 0;
		if (c->relay_offered)
			say("ok", "forwarding", "the server refuses TCP "
			    "forwarding (%s); the agent uses the subsystem's "
			    "relay mode instead", last);
		else {
			say("FAIL", "forwarding", "the server refuses TCP "
			    "forwarding (%s) and the subsystem's policy has "
			    "\"relay no\"", last);
			fix("on the server: AllowTcpForwarding local for this "
			    "account, or \"relay yes\" in subsystem.conf");
			c->failed++;
		}
	} else {
		say("warn", "forwarding", "a connection to \"%s\" (%s) failed: "
		    "%s", c->fwd_name, target, last[0] != '\0' ? last :
		    "no answer");
		line("the service may not accept connections from the server");
	}
	run_free(&r);
	return 0;
}

static int
step_agent(struct check *c)
{
	char dir[512], path[600], *cause;
	struct buf reply;
	const char *p, *e;
	int r;

	if (rundir_get(dir, sizeof(dir), 0, &cause) == -1) {
		say("info", "agent", "rnsplice-agent is not running (%s)",
		    cause);
		line("start it: systemctl --user enable --now rnsplice-agent");
		free(cause);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
	buf_init(&reply, CTL_MAXREPLY);
	if ((r = ctl_request(path, "status", 0, &reply, &cause)) == -1) {
		say("info", "agent", "rnsplice-agent is not running (%s)",
		    cause);
		line("start it: systemctl --user enable --now rnsplice-agent");
		free(cause);
		buf_free(&reply);
		return 0;
	}
	if (r == 1) {
		/* the agent refused "status": its reason is the reply */
		p = (const char *)buf_ptr(&reply);
		if ((e = memchr(p, '\n', buf_len(&reply))) == NULL)
			e = p + buf_len(&reply);
		say("warn", "agent", "rnsplice-agent answered: %.*s",
		    (int)(e - p), p);
		buf_free(&reply);
		return 0;
	}
	/* its line for this remote, if it has one */
	p = (const char *)buf_ptr(&reply);
	e = p + buf_len(&reply);
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(e - p);

		if (c->rc != NULL && n > strlen(c->rc->name) &&
		    strncmp(p, c->rc->name, strlen(c->rc->name)) == 0 &&
		    p[strlen(c->rc->name)] == ' ') {
			say("info", "agent", "%.*s", (int)n, p);
			buf_free(&reply);
			return 0;
		}
		p += n + 1;
	}
	say("info", "agent", "rnsplice-agent runs%s", c->rc == NULL ? "" :
	    ", without this remote (SIGHUP it after editing agent.conf)");
	buf_free(&reply);
	return 0;
}

static const struct step {
	const char	*name;
	int		(*fn)(struct check *);
	int		 required;	/* its failure means no splice */
} steps[] = {
	{ "avahi here",		step_local_avahi,	1 },
	{ "agent.conf",		step_config,		1 },
	{ "ssh login",		step_login,		1 },
	{ "Subsystem rnsplice",	step_subsystem,		0 },
	{ "subsystem-command",	step_command,		0 },
	{ "avahi there",	step_server_avahi,	0 },
	{ "forwarding",		step_forwarding,	0 },
	{ "agent",		step_agent,		0 },
};

/* --- main --------------------------------------------------------------------- */

static void __attribute__((noreturn))
check_usage(void)
{
	fprintf(stderr, "usage: rnsplice check [-v] [-C subsystem-command] "
	    "[-f agent.conf] destination\n");
	exit(2);
}

int
check_main(int argc, char **argv)
{
	struct check c;
	struct agent_conf *conf = NULL;
	struct remote_conf *rc;
	char dir[1024], path[1100], *cause = NULL;
	const char *file = NULL, *cmd = NULL;
	size_t i;
	int ch;

	memset(&c, 0, sizeof(c));
	c.forwarding = -1;
	c.server_avahi = -1;
	optind = 1;
	while ((ch = getopt(argc, argv, "C:f:v")) != -1) {
		switch (ch) {
		case 'C':
			cmd = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'v':
			c.verbose = 1;
			break;
		default:
			check_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || argv[0][0] == '-')
		check_usage();
	c.name = c.dest = argv[0];
	if ((c.ssh = getenv("RNSPLICE_SSH")) == NULL || *c.ssh != '/')
		c.ssh = SSH_PATH;

	/* the remote of that name in agent.conf, if there is one */
	if (file == NULL && config_dir(dir, sizeof(dir)) == 0) {
		snprintf(path, sizeof(path), "%s/agent.conf", dir);
		if (access(path, F_OK) == 0)
			file = path;
	}
	if (file != NULL) {
		if ((conf = conf_new()) == NULL)
			fatalx("out of memory");
		if (conf_load(conf, file, &cause) == -1 ||
		    conf_finish(conf, &cause) == -1) {
			say("FAIL", "agent.conf", "%s", cause);
			fix("rnsplice-agent -n -f %s shows the same", file);
			free(cause);
			conf_free(conf);
			return 1;
		}
		TAILQ_FOREACH(rc, &conf->remotes, entry)
			if (strcmp(rc->name, c.name) == 0) {
				c.rc = rc;
				c.dest = rc->destination;
				break;
			}
	}
	if (cmd != NULL) {
		struct remote_conf tmp;

		memset(&tmp, 0, sizeof(tmp));
		if (conf_set_subsystem_command(&tmp, cmd, &cause) == -1) {
			fprintf(stderr, "rnsplice check: -C: %s\n", cause);
			free(cause);
			conf_free(conf);
			return 2;
		}
		free(tmp.subsystem_command);
		c.command = cmd;
		c.command_given = 1;
	} else if (c.rc != NULL && c.rc->subsystem_command != NULL) {
		c.command = c.rc->subsystem_command;
		c.command_given = 1;
	} else
		c.command = CHECK_USER_CMD;

	printf("checking %s%s%s\n", c.name, c.dest != c.name ? " -> " : "",
	    c.dest != c.name ? c.dest : "");
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (steps[i].fn(&c) == -1 && steps[i].required)
			c.failed++;

	if (c.failed == 0 && c.way != WAY_NONE) {
		printf("splicing from %s will work: %s, %s\n", c.name,
		    c.way == WAY_SUBSYSTEM ? "Subsystem rnsplice" :
		    "subsystem-command", c.forwarding == 0 ?
		    "connections relayed through the subsystem" :
		    "connections forwarded by sshd");
		conf_free(conf);
		return 0;
	}
	printf("splicing from %s will not work: %d problem%s above\n",
	    c.name, c.failed > 0 ? c.failed : 1, c.failed > 1 ? "s" : "");
	conf_free(conf);
	return 1;
}
