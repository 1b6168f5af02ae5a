/* rnsplice-agent: this file only reads the options; the work is in
 * agent_main() and the modules of libagent.a, which the unit tests link
 * too. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: rnsplice-agent [-dnRv] [-a prefix] [-C subsystem-command] "
	    "[-f file]\n"
	    "                      [-i interface] [-L network] [-P policy] "
	    "[-S socket]\n"
	    "                      [-s scope] [-t template] [-x type] "
	    "[destination [type ...]]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct agent_opts o;
	int ch;

	memset(&o, 0, sizeof(o));
	log_init("rnsplice-agent", 1, 0);
	while ((ch = getopt(argc, argv, "a:C:df:hi:L:nP:RS:s:t:vx:")) != -1) {
		switch (ch) {
		case 'a':
			if (o.nallow == sizeof(o.allow) / sizeof(o.allow[0]))
				fatalx("too many -a");
			o.allow[o.nallow++] = optarg;
			break;
		case 'C':
			o.subsys_cmd = optarg;
			break;
		case 'd':
			o.debug = 1;
			break;
		case 'f':
			o.file = optarg;
			break;
		case 'i':
			o.ifname = optarg;
			break;
		case 'L':
			if (o.nlannets ==
			    sizeof(o.lannets) / sizeof(o.lannets[0]))
				fatalx("too many -L");
			o.lannets[o.nlannets++] = optarg;
			break;
		case 'n':
			o.check = 1;
			break;
		case 'P':
			o.policy = optarg;
			break;
		case 'R':
			o.root = 1;
			break;
		case 'S':
			o.sockpath = optarg;
			break;
		case 's':
			o.scope = optarg;
			break;
		case 't':
			o.tmpl = optarg;
			break;
		case 'v':
			o.verbose++;
			break;
		case 'x':
			if (o.nexports ==
			    sizeof(o.exports) / sizeof(o.exports[0]))
				fatalx("too many -x");
			o.exports[o.nexports++] = optarg;
			break;
		default:
			usage();
		}
	}
	o.argc = argc - optind;
	o.argv = argv + optind;
	if (o.ifname != NULL && o.scope == NULL)
		o.scope = "interface";
	return agent_main(&o);
}
