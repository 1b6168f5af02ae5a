/* rnsplice-subsystem: run by sshd as "Subsystem rnsplice". This file only
 * reads the options; the work is in subsystem_main() and the modules of
 * libsubsystem.a, which the unit tests link too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "subsystem.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: %s [-dnu] [-f file]\n", SUBSYSTEM_NAME);
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct subsystem_opts opts = { NULL, 0, 0, 0 };
	int ch;

	while ((ch = getopt(argc, argv, "df:nu")) != -1) {
		switch (ch) {
		case 'd':
			opts.debug++;
			break;
		case 'f':
			opts.policy_file = optarg;
			break;
		case 'n':
			opts.check_only = 1;
			break;
		case 'u':
			opts.user = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	return subsystem_main(&opts);
}
