/* The ssh master of one remote: the system ssh, run so that the user's
 * ~/.ssh/config, keys, agent and ProxyJump all apply, as a ControlMaster
 * whose own session is the rnsplice subsystem (stdin/stdout are our
 * pipes). We stay its parent (no -f, no ControlPersist): its death comes
 * as SIGCHLD and as EOF on the session. Its stderr is kept (last lines) so
 * that a failure is reported in ssh's own words. */
#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "event.h"
#include "fd.h"
#include "log.h"
#include "xmalloc.h"

#define SSHM_ERRBUF	4096
#define SSHM_CTLPATH_MAX 90	/* ssh adds a 17-character suffix */

void
sshm_init(struct sshmaster *s)
{
	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->fd_in = s->fd_out = s->fd_err = -1;
	buf_init(&s->errbuf, SSHM_ERRBUF);
}

int
sshm_ctlpath(char *out, size_t outlen, const char *dir, const char *name,
    unsigned int gen)
{
	char clean[17];
	size_t i;
	int n;

	for (i = 0; i < sizeof(clean) - 1 && name[i] != '\0'; i++)
		clean[i] = (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '.' ||
		    name[i] == '-' ? name[i] : '_';
	clean[i] = '\0';
	n = snprintf(out, outlen, "%s/%s-%ld-%u", dir, clean, (long)getpid(),
	    gen);
	if (n > 0 && (size_t)n < outlen && n <= SSHM_CTLPATH_MAX)
		return 0;
	n = snprintf(out, outlen, "%s/%ld-%u", dir, (long)getpid(), gen);
	if (n > 0 && (size_t)n < outlen && n <= SSHM_CTLPATH_MAX)
		return 0;
	return -1;
}

static int
argv_add(char ***v, size_t *n, const char *s)
{
	char **nv, *d;

	if ((d = strdup(s)) == NULL)
		return -1;
	if ((nv = reallocarray(*v, *n + 2, sizeof(*nv))) == NULL) {
		free(d);
		return -1;
	}
	nv[(*n)++] = d;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* V with A and B inserted after its program name; V itself if out of
 * memory (the master then runs with ssh's own choice). */
static char **
sshm_argv_prepend(char **v, const char *a, const char *b)
{
	char **nv;
	size_t n;

	for (n = 0; v[n] != NULL; n++)
		;
	if ((nv = calloc(n + 3, sizeof(*nv))) == NULL)
		return v;
	nv[0] = v[0];
	nv[1] = (char *)a;
	nv[2] = (char *)b;
	memcpy(nv + 3, v + 1, n * sizeof(*nv));	/* with the NULL */
	return nv;
}

static void
argv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/*
 * What the master needs, which nothing may change: these come first, since
 * ssh keeps the first value of an option and reads ssh_config only after
 * the command line. Besides multiplexing, the master is long-lived and
 * unattended, so it carries nothing of what a user's ssh_config may turn
 * on for interactive logins: no agent or X11 forwarding (the server could
 * use them for as long as the master lives), no tunnel device, no local
 * command, no escape character on the protocol stream, and no forwards
 * from the configuration. ClearAllForwardings clears those of ssh_config
 * and the command line and the tunnel (readconf.c clear_forwardings); the
 * stdio forwards the agent asks for over the mux socket are not affected
 * (mux.c). Tunnel=no says it once more.
 */
static const char *const sshm_fixed_opts[] = {
	"ControlMaster=yes", "ControlPersist=no", "ClearAllForwardings=yes",
	"RemoteCommand=none", "ForwardAgent=no", "ForwardX11=no",
	"ForwardX11Trusted=no", "Tunnel=no", "PermitLocalCommand=no",
	"EscapeChar=none",
};

int
sshm_option_fixed(const char *opt, size_t *keylen)
{
	size_t i, len;

	/* ssh splits a key from its value at '=' or white space */
	len = strcspn(opt, "= \t");
	if (len == 11 && strncasecmp(opt, "ControlPath", len) == 0)
		goto fixed;
	for (i = 0; i < sizeof(sshm_fixed_opts) / sizeof(sshm_fixed_opts[0]);
	    i++)
		if (strncasecmp(opt, sshm_fixed_opts[i], len) == 0 &&
		    sshm_fixed_opts[i][len] == '=')
			goto fixed;
	/* LocalCommand is harmless once PermitLocalCommand is no */
	return 0;
 fixed:
	if (keylen != NULL)
		*keylen = len;
	return 1;
}

char **
sshm_argv(const char *ssh, const char *ctlpath, const char *destination,
    char *const *options, size_t noptions, const char *command)
{
	/* Defaults the user may override with ssh-option. */
	static const char *const defaults[] = {
		"-o", "BatchMode=yes",
		"-o", "ExitOnForwardFailure=yes",
	};
	char **v = NULL;
	size_t n = 0, i;

	/* -M before ControlMaster=yes: a second -M would mean "ask" */
	if (argv_add(&v, &n, ssh) == -1 || argv_add(&v, &n, "-M") == -1 ||
	    argv_add(&v, &n, "-S") == -1 || argv_add(&v, &n, ctlpath) == -1 ||
	    argv_add(&v, &n, "-T") == -1)
		goto fail;
	for (i = 0; i < sizeof(sshm_fixed_opts) / sizeof(sshm_fixed_opts[0]);
	    i++)
		if (argv_add(&v, &n, "-o") == -1 ||
		    argv_add(&v, &n, sshm_fixed_opts[i]) == -1)
			goto fail;
	for (i = 0; i < noptions; i++)
		if (argv_add(&v, &n, "-o") == -1 ||
		    argv_add(&v, &n, options[i]) == -1)
			goto fail;
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (argv_add(&v, &n, defaults[i]) == -1)
			goto fail;
	/* Without a Subsystem line on the server: the subsystem as the
	 * login's command; -u tells it so (its policy is the user's). */
	if (command != NULL) {
		if (argv_add(&v, &n, "--") == -1 ||
		    argv_add(&v, &n, destination) == -1 ||
		    argv_add(&v, &n, command) == -1 ||
		    argv_add(&v, &n, "-u") == -1)
			goto fail;
		return v;
	}
	if (argv_add(&v, &n, "-s") == -1 || argv_add(&v, &n, "--") == -1 ||
	    argv_add(&v, &n, destination) == -1 ||
	    argv_add(&v, &n, "rnsplice") == -1)
		goto fail;
	return v;
 fail:
	argv_free(v);
	return NULL;
}

void
sshm_raise_nofile(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	want = rl.rlim_max;
	if (want == RLIM_INFINITY || want > 1048576)
		want = 1048576;
	if (rl.rlim_cur >= want)
		return;
	/* macOS gives an unlimited hard limit but refuses (EINVAL) more
	 * than kern.maxfilesperproc: halve until it is accepted */
	for (;;) {
		struct rlimit nrl = rl;

		nrl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &nrl) == 0) {
			log_debug("open files limit raised to %llu",
			    (unsigned long long)want);
			return;
		}
		if (errno != EINVAL || want / 2 <= rl.rlim_cur)
			break;
		want /= 2;
	}
	log_warn("setrlimit RLIMIT_NOFILE %llu", (unsigned long long)want);
}

int
sshm_start(struct sshmaster *s, const char *ssh, const char *ctlpath,
    const char *destination, char *const *options, size_t noptions,
    const char *command, char **cause)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, er[2] = { -1, -1 };
	char **argv;
	sigset_t all;
	pid_t pid;
	int i;

	if (strlcpy(s->ctlpath, ctlpath, sizeof(s->ctlpath)) >=
	    sizeof(s->ctlpath)) {
		cause_set(cause, "control path too long");
		return -1;
	}
	/* A socket left by a killed master would make the new one run
	 * without multiplexing (docs/MUX.md). */
	if (unlink(ctlpath) == -1 && errno != ENOENT) {
		cause_set(cause, "%s: %s", ctlpath, strerror(errno));
		return -1;
	}
	if ((argv = sshm_argv(ssh, ctlpath, destination, options,
	    noptions, command)) == NULL) {
		cause_set(cause, "out of memory");
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 ||
	    pipe2(er, O_CLOEXEC) == -1) {
		cause_set(cause, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (set_nonblock(in[1]) == -1 || set_nonblock(out[0]) == -1 ||
	    set_nonblock(er[0]) == -1) {
		cause_set(cause, "O_NONBLOCK: %s", strerror(errno));
		goto fail;
	}
	switch ((pid = fork())) {
	case -1:
		cause_set(cause, "fork: %s", strerror(errno));
		goto fail;
	case 0:
		/* the child: default signals, own session (a ^C on the
		 * agent's terminal is the agent's business), pipes */
		for (i = 1; i < NSIG; i++)
			signal(i, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setsid();
		if (dup2(in[0], STDIN_FILENO) == -1 ||
		    dup2(out[1], STDOUT_FILENO) == -1 ||
		    dup2(er[1], STDERR_FILENO) == -1)
			_exit(127);
		/* ssh gets the three pipes and nothing else: a descriptor
		 * the agent inherited or a library opened without
		 * close-on-exec (avahi's DNS-SD library does) would stay
		 * open as long as the master runs */
		closefrom(STDERR_FILENO + 1);
		if (cipherpref_applies(ssh, destination,
		    options, noptions))
			argv = sshm_argv_prepend(argv, "-o", cipherpref_opt);
		execv(ssh, argv);
		dprintf(STDERR_FILENO, "cannot run %s: %s\n", ssh,
		    strerror(errno));
		_exit(127);
	}
	argv_free(argv);
	close(in[0]);
	close(out[1]);
	close(er[1]);
	s->pid = pid;
	s->fd_in = in[1];
	s->fd_out = out[0];
	s->fd_err = er[0];
	s->stopping = 0;
	s->nlines = 0;
	s->nopenfail = s->openfail_taken = 0;
	buf_reset(&s->errbuf);
	return 0;
 fail:
	argv_free(argv);
	for (i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&er[i]);
	}
	return -1;
}

static void
add_line(struct sshmaster *s, char *line, size_t len, const char *prefix)
{
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	if (len >= SSHM_LINELEN)
		len = SSHM_LINELEN - 1;
	memcpy(s->lines[s->nlines % SSHM_ERRLINES], line, len);
	s->lines[s->nlines % SSHM_ERRLINES][len] = '\0';
	if (prefix != NULL)
		log_debug("%s: ssh: %s", prefix,
		    s->lines[s->nlines % SSHM_ERRLINES]);
	if (strstr(s->lines[s->nlines % SSHM_ERRLINES], "open failed") !=
	    NULL) {
		if (s->nopenfail - s->openfail_taken >= SSHM_OPENFAIL)
			s->openfail_taken++;	/* keep the newest */
		strlcpy(s->openfail[s->nopenfail % SSHM_OPENFAIL],
		    s->lines[s->nlines % SSHM_ERRLINES], SSHM_LINELEN);
		s->nopenfail++;
	}
	s->nlines++;
}

void
sshm_stderr_feed(struct sshmaster *s, const void *data, size_t len,
    const char *prefix)
{
	const unsigned char *p = data;
	char *line;
	size_t n, ll;
	int r;

	while (len > 0) {
		n = buf_room(&s->errbuf);
		if (n == 0) {
			/* a line longer than the buffer: keep its start */
			add_line(s, (char *)buf_ptr(&s->errbuf),
			    buf_len(&s->errbuf), prefix);
			buf_reset(&s->errbuf);
			n = buf_room(&s->errbuf);
		}
		if (n > len)
			n = len;
		buf_put(&s->errbuf, p, n);
		p += n;
		len -= n;
		while ((r = buf_getline(&s->errbuf, SSHM_ERRBUF + 1, &line,
		    &ll)) == BUF_LINE_OK)
			add_line(s, line, ll, prefix);
	}
}

int
sshm_read_stderr(struct sshmaster *s, const char *prefix)
{
	char tmp[2048];
	ssize_t n;

	if (s->fd_err == -1)
		return 0;
	for (;;) {
		n = read(s->fd_err, tmp, sizeof(tmp));
		if (n > 0) {
			sshm_stderr_feed(s, tmp, (size_t)n, prefix);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 1;
		/* EOF or error: a last unterminated line counts too */
		if (buf_len(&s->errbuf) > 0) {
			add_line(s, (char *)buf_ptr(&s->errbuf),
			    buf_len(&s->errbuf), prefix);
			buf_reset(&s->errbuf);
		}
		ev_io_del(s->err_io);
		s->err_io = NULL;
		close_fd(&s->fd_err);
		return 0;
	}
}

const char *
sshm_last_line(const struct sshmaster *s)
{
	if (s->nlines == 0)
		return NULL;
	return s->lines[(s->nlines - 1) % SSHM_ERRLINES];
}

const char *
sshm_take_open_failure(struct sshmaster *s)
{
	if (s->openfail_taken == s->nopenfail)
		return NULL;
	return s->openfail[s->openfail_taken++ % SSHM_OPENFAIL];
}

/* Linux: rchar + wchar of /proc/PID/io (the parent may read its child's). */
int
sshm_io_bytes(const struct sshmaster *s, uint64_t *bytes)
{
	char path[64], line[128];
	unsigned long long v, sum = 0;
	int n = 0;
	FILE *f;

	if (s->pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/io", (long)s->pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (n < 2 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "rchar: %llu", &v) == 1 ||
		    sscanf(line, "wchar: %llu", &v) == 1) {
			sum += v;
			n++;
		}
	fclose(f);
	if (n != 2)
		return -1;
	*bytes = sum;
	return 0;
}

void
sshm_signal(struct sshmaster *s, int signo)
{
	if (s->pid <= 0)
		return;
	s->stopping = 1;
	/* its process group: ProxyCommand and ProxyJump children too */
	if (kill(-s->pid, signo) == -1 && kill(s->pid, signo) == -1 &&
	    errno != ESRCH)
		log_warn("kill ssh %ld", (long)s->pid);
}

void
sshm_close(struct sshmaster *s)
{
	ev_io_del(s->err_io);
	s->err_io = NULL;
	close_fd(&s->fd_in);
	close_fd(&s->fd_out);
	close_fd(&s->fd_err);
}

void
sshm_reaped(struct sshmaster *s)
{
	sshm_close(s);
	s->pid = -1;
	if (s->ctlpath[0] != '\0')
		unlink(s->ctlpath);
}

void
sshm_describe_exit(int status, const char *lastline, char *out,
    size_t outlen)
{
	char line[SSHM_LINELEN];
	size_t len;
	int n;

	if (WIFEXITED(status))
		n = snprintf(out, outlen, "ssh exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		n = snprintf(out, outlen, "ssh killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		n = snprintf(out, outlen, "ssh ended (status 0x%x)", status);
	if (n < 0 || (size_t)n >= outlen || lastline == NULL)
		return;
	strlcpy(line, lastline, sizeof(line));
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '.' || line[len - 1] == ' '))
		line[--len] = '\0';
	if (len > 0)
		snprintf(out + n, outlen - (size_t)n, ": %s", line);
}
