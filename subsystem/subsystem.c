/* Process set-up: logging, the policy, the site id, then one session on
 * stdin/stdout, or the ERROR that says why there is none. Runs as the
 * logged-in user; needs no privilege. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "escape.h"
#include "event.h"
#include "log.h"
#include "proto.h"
#include "siteid.h"
#include "subsystem.h"

#define EARLY_LINGER_MS	5000	/* to write the ERROR of a failed start */

int
subsystem_main(const struct subsystem_opts *o)
{
	const char *file = o->policy_file ? o->policy_file : POLICY_DEFAULT_FILE;
	char siteid[SITEID_MAX + 1], *cause = NULL, dir[1024];
	char userfile[1100];
	int optional = o->policy_file == NULL;
	const char *from = getenv("SSH_CONNECTION");
	struct policy *pol;
	struct ev_loop *loop;
	struct session *s;
	int rc;

	/* sshd discards stderr: syslog unless debugging by hand */
	log_init(SUBSYSTEM_NAME, o->debug > 0 || o->check_only, o->debug);
	signal(SIGPIPE, SIG_IGN);	/* EPIPE is the end of a direction */
	/* fnmatch(3) on UTF-8 names: '?' is one character, not one byte */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		setlocale(LC_CTYPE, "");

	/* Run by the agent as the login's command (subsystem-command), by
	 * a user without root: the user's own policy, if there is one,
	 * comes before the system's. */
	if (o->user && o->policy_file == NULL && config_dir(dir,
	    sizeof(dir)) == 0) {
		snprintf(userfile, sizeof(userfile), "%s/%s", dir,
		    POLICY_USER_FILE);
		if (access(userfile, F_OK) == 0) {
			file = userfile;
			optional = 0;
		}
	}
	pol = policy_load(file, optional, &cause);
	if (pol == NULL) {
		log_warnx("%s", cause ? cause : "cannot load the policy");
		if (!o->check_only)
			session_fatal_early(STDOUT_FILENO, "config", "%s",
			    cause ? cause : "cannot load the policy");
		free(cause);
		return 1;
	}
	if (o->check_only) {
		if (strcmp(pol->file, file) != 0)
			printf("%s: not found, built-in defaults\n", file);
		printf("%s: %zu rules, relay %s, max-services %u, max-line %u, "
		    "max-relays %u, max-hops %u, keepalive %u\n", pol->file,
		    pol->nrules, pol->relay ? "yes" : "no", pol->max_services,
		    pol->max_line, pol->max_relays, pol->max_hops,
		    pol->keepalive);
		if (pol->any_accept)
			printf("%s: %zu accept and reject rules, max-exports "
			    "%u\n", pol->file, pol->nxrules, pol->max_exports);
		else
			printf("%s: no accept rule, exports are refused\n",
			    pol->file);
		policy_free(pol);
		return 0;
	}
	if (siteid_load(siteid, sizeof(siteid), &cause) == -1) {
		log_warnx("site id: %s", cause);
		session_fatal_early(STDOUT_FILENO, "internal", "site id: %s",
		    cause);
		free(cause);
		policy_free(pol);
		return 1;
	}
	log_info("session for %s%s%s, site %s, policy %s",
	    getenv("USER") ? getenv("USER") : "?", from ? " from " : "",
	    from ? from : "", siteid, pol->file);

	if ((loop = ev_loop_new()) == NULL ||
	    (s = session_new(loop, pol, siteid, STDIN_FILENO,
	    STDOUT_FILENO)) == NULL) {
		log_warnx("cannot start the session: %s", strerror(errno));
		session_fatal_early(STDOUT_FILENO, "internal", "cannot start "
		    "the session");
		ev_loop_free(loop);
		policy_free(pol);
		return 1;
	}
	rc = session_run(s);
	session_free(s);
	ev_loop_free(loop);
	policy_free(pol);
	log_debug("exit %d", rc);
	return rc;
}

/* A start that failed (no policy, no site id) still answers the agent:
 * one fatal ERROR, as a session would end. */
void
session_fatal_early(int out_fd, const char *code, const char *fmt, ...)
{
	char text[1024];
	struct buf b;
	struct msg m;
	struct pollfd pfd;
	uint64_t deadline = ev_now_ms() + EARLY_LINGER_MS, now;
	va_list ap;
	int flags;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	utf8_scrub(text);
	buf_init(&b, PROTO_MAXLINE);
	memset(&m, 0, sizeof(m));
	m.type = MSG_ERROR;
	m.code = (char *)code;
	m.text = text;
	if (msg_format(&b, &m, PROTO_MAXLINE) == -1) {
		buf_free(&b);
		return;
	}
	flags = fcntl(out_fd, F_GETFL);
	if (flags != -1)
		fcntl(out_fd, F_SETFL, flags | O_NONBLOCK);
	while (buf_len(&b) > 0 && (now = ev_now_ms()) < deadline) {
		pfd.fd = out_fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		if (buf_write_fd(&b, out_fd) == -1 && errno != EAGAIN)
			break;
	}
	if (flags != -1)
		fcntl(out_fd, F_SETFL, flags);
	buf_free(&b);
}
