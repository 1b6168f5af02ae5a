/* rnsplice: show what the rnsplice-agent of this user is doing. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ctl.h"
#include "rundir.h"

static const struct command {
	const char	*name;
	const char	*help;
} commands[] = {
	{ "status",	 "remotes: state, last error, services, connections" },
	{ "services",	 "every spliced service: name, type, local port, path" },
	{ "connections", "live relayed connections" },
	{ "check",	 "check DESTINATION: will splicing from it work? why not?" },
};

int	check_main(int, char **);	/* check.c */

static void __attribute__((noreturn))
usage(void)
{
	size_t i;

	fprintf(stderr, "usage: rnsplice [-j] [-S socket] command\n"
	    "       rnsplice check [-v] [-C subsystem-command] [-f agent.conf] "
	    "destination\n"
	    "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  %-12s %s\n", commands[i].name,
		    commands[i].help);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	char dir[512], path[600], *cause;
	const char *sockpath = NULL;
	struct buf reply;
	size_t i;
	int ch, json = 0, r;

	while ((ch = getopt_long(argc, argv, "+jS:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'S':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc >= 1 && strcmp(argv[0], "check") == 0)
		return check_main(argc, argv);
	if (argc != 1)
		usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "rnsplice: unknown command \"%s\"\n", argv[0]);
		usage();
	}
	if (sockpath == NULL) {
		if (rundir_get(dir, sizeof(dir), 0, &cause) == -1) {
			fprintf(stderr, "rnsplice: %s (is rnsplice-agent "
			    "running?)\n", cause);
			free(cause);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, CTL_SOCKET);
		sockpath = path;
	}
	buf_init(&reply, CTL_MAXREPLY);
	r = ctl_request(sockpath, argv[0], json, &reply, &cause);
	if (r == -1) {
		fprintf(stderr, "rnsplice: %s\n", cause);
		free(cause);
		buf_free(&reply);
		return 1;
	}
	fwrite(buf_ptr(&reply), 1, buf_len(&reply), r == 0 ? stdout : stderr);
	buf_free(&reply);
	return r == 0 ? 0 : 1;
}
