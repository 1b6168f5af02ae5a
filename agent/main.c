/* rnsplice-agent: see agent.c; everything lives in libagent.a. */
#include "config.h"

#include "agent.h"

int
main(int argc, char **argv)
{
	return agent_main(argc, argv);
}
