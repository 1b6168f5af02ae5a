/* Process set-up: logging, the policy, the site id, then one session on
 * stdin/stdout. Runs as the logged-in user; needs no privilege. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "log.h"
#include "siteid.h"
#include "subsystem.h"

int
subsystem_main(const struct subsystem_opts *o)
{
	const char *file = o->policy_file ? o->policy_file : POLICY_DEFAULT_FILE;
	char siteid[SITEID_MAX + 1], err[512], *cause = NULL, dir[1024];
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
		policy_free(pol);
		return 0;
	}
	if (siteid_load(siteid, sizeof(siteid), err, sizeof(err)) == -1) {
		log_warnx("site id: %s", err);
		session_fatal_early(STDOUT_FILENO, "internal", "site id: %s",
		    err);
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
