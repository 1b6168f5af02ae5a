/* manypub -- publish many DNS-SD services from one avahi client, for the
 * benchmark's scale test.
 *
 *   manypub [-n COUNT] [-g PER_GROUP] [-b BATCH] [-t TYPE] [-p PORT]
 *           [-P PREFIX]
 *
 * Publishes COUNT services "PREFIX-NNNN" of TYPE on PORT, PER_GROUP
 * services per entry group (avahi allows 32 entries per group and 1,024
 * objects per client: with 5 services per group 1,000 services take 200
 * groups). With -b, groups are committed BATCH at a time, each batch once
 * the previous one is established (default: all at once). Prints
 * "established N in S s" once all are established, then runs until
 * SIGTERM/SIGINT, when it frees the client (avahi sends goodbyes) and
 * exits.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>

static AvahiSimplePoll *sp;
static AvahiEntryGroup **groups;
static int count = 1000, per_group = 5, ngroups, port = 9, nestablished;
static int created, batch, ncommitted, batch_left;
static const char *type = "_rnsscale._tcp", *prefix = "scale";
static double t0;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
commit_next(void)
{
	int err, end = batch > 0 ? ncommitted + batch : ngroups;

	if (end > ngroups)
		end = ngroups;
	batch_left = end - ncommitted;
	for (; ncommitted < end; ncommitted++)
		if ((err = avahi_entry_group_commit(groups[ncommitted])) < 0) {
			fprintf(stderr, "manypub: commit: %s\n",
			    avahi_strerror(err));
			avahi_simple_poll_quit(sp);
			return;
		}
}

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState st, void *arg)
{
	int n = (int)(long)arg;

	(void)g;
	switch (st) {
	case AVAHI_ENTRY_GROUP_ESTABLISHED:
		nestablished += n;
		if (nestablished == count) {
			printf("established %d in %.3f s\n", nestablished,
			    now() - t0);
			fflush(stdout);
		} else if (--batch_left == 0 && ncommitted < ngroups)
			commit_next();
		break;
	case AVAHI_ENTRY_GROUP_COLLISION:
	case AVAHI_ENTRY_GROUP_FAILURE:
		fprintf(stderr, "manypub: group failed: %s\n",
		    avahi_strerror(avahi_client_errno(
		    avahi_entry_group_get_client(g))));
		avahi_simple_poll_quit(sp);
		break;
	default:
		break;
	}
}

static void
create_all(AvahiClient *c)
{
	char name[64], txt[32];
	int i, k, in_group, err;

	if (created)
		return;
	created = 1;
	t0 = now();
	for (i = 0; i < ngroups; i++) {
		in_group = count - i * per_group < per_group ?
		    count - i * per_group : per_group;
		groups[i] = avahi_entry_group_new(c, group_cb,
		    (void *)(long)in_group);
		if (groups[i] == NULL) {
			fprintf(stderr, "manypub: entry group %d: %s\n", i,
			    avahi_strerror(avahi_client_errno(c)));
			avahi_simple_poll_quit(sp);
			return;
		}
		for (k = 0; k < in_group; k++) {
			int idx = i * per_group + k;

			snprintf(name, sizeof(name), "%s-%04d", prefix, idx);
			snprintf(txt, sizeof(txt), "idx=%d", idx);
			err = avahi_entry_group_add_service(groups[i],
			    AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, name, type,
			    NULL, NULL, (uint16_t)port, txt, NULL);
			if (err < 0) {
				fprintf(stderr, "manypub: %s: %s\n", name,
				    avahi_strerror(err));
				avahi_simple_poll_quit(sp);
				return;
			}
		}
	}
	printf("%d services in %d groups\n", count, ngroups);
	fflush(stdout);
	commit_next();
}

static void
client_cb(AvahiClient *c, AvahiClientState st, void *arg)
{
	(void)arg;
	switch (st) {
	case AVAHI_CLIENT_S_RUNNING:
		create_all(c);
		break;
	case AVAHI_CLIENT_FAILURE:
		fprintf(stderr, "manypub: client: %s\n",
		    avahi_strerror(avahi_client_errno(c)));
		avahi_simple_poll_quit(sp);
		break;
	default:
		break;
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	avahi_simple_poll_quit(sp);
}

int
main(int argc, char **argv)
{
	AvahiClient *client;
	int ch, err;

	while ((ch = getopt(argc, argv, "n:g:b:t:p:P:")) != -1) {
		switch (ch) {
		case 'b': batch = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'g': per_group = atoi(optarg); break;
		case 't': type = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'P': prefix = optarg; break;
		default:
			fprintf(stderr, "usage: manypub [-n COUNT] "
			    "[-g PER_GROUP] [-b BATCH] [-t TYPE] [-p PORT] "
			    "[-P PREFIX]\n");
			return 2;
		}
	}
	if (count < 1 || per_group < 1 || per_group > 6 || batch < 0)
		return 2;
	ngroups = (count + per_group - 1) / per_group;
	if ((groups = calloc((size_t)ngroups, sizeof(*groups))) == NULL)
		return 1;
	if ((sp = avahi_simple_poll_new()) == NULL)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	client = avahi_client_new(avahi_simple_poll_get(sp), 0, client_cb,
	    NULL, &err);
	if (client == NULL) {
		fprintf(stderr, "manypub: %s\n", avahi_strerror(err));
		return 1;
	}
	avahi_simple_poll_loop(sp);
	/* freeing the client withdraws everything, with goodbyes */
	avahi_client_free(client);
	avahi_simple_poll_free(sp);
	return 0;
}
