/* Test helper for the tests/integration/subsystem-*.sh scripts: publish
 * one service with avahi-client and change its TXT record in place, which
 * avahi-publish cannot do.
 *
 *   subsystem-txtpub NAME TYPE PORT [TXT...]
 *
 * Prints "established" once avahi has registered the service. Each line
 * read from stdin is a new TXT record (items separated by spaces; an empty
 * line: no items), applied with avahi_entry_group_update_service_txt_strlst
 * (the latest one read before the service is established, once it is);
 * prints "updated" after each. EOF withdraws the service and exits. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>

static AvahiSimplePoll *sp;
static AvahiEntryGroup *group;
static const char *name, *type;
static uint16_t port;
static AvahiStringList *txt;

static int established;
static AvahiStringList *pending;	/* TXT read before establishment */

static void
update(AvahiStringList *l)
{
	if (avahi_entry_group_update_service_txt_strlst(group, AVAHI_IF_UNSPEC,
	    AVAHI_PROTO_UNSPEC, 0, name, type, NULL, l) < 0) {
		fprintf(stderr, "txtpub: update failed\n");
		exit(1);
	}
	printf("updated\n");
	fflush(stdout);
}

static void
group_cb(AvahiEntryGroup *g, AvahiEntryGroupState state, void *arg)
{
	if (state == AVAHI_ENTRY_GROUP_ESTABLISHED) {
		established = 1;
		printf("established\n");
		fflush(stdout);
		if (pending != NULL) {
			update(pending);
			avahi_string_list_free(pending);
			pending = NULL;
		}
	} else if (state == AVAHI_ENTRY_GROUP_COLLISION ||
	    state == AVAHI_ENTRY_GROUP_FAILURE) {
		fprintf(stderr, "txtpub: group state %d\n", state);
		exit(1);
	}
}

static void
client_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	if (state == AVAHI_CLIENT_S_RUNNING && group == NULL) {
		if ((group = avahi_entry_group_new(c, group_cb, NULL)) == NULL ||
		    avahi_entry_group_add_service_strlst(group, AVAHI_IF_UNSPEC,
		    AVAHI_PROTO_UNSPEC, 0, name, type, NULL, NULL, port,
		    txt) < 0 || avahi_entry_group_commit(group) < 0) {
			fprintf(stderr, "txtpub: %s\n",
			    avahi_strerror(avahi_client_errno(c)));
			exit(1);
		}
	} else if (state == AVAHI_CLIENT_FAILURE) {
		fprintf(stderr, "txtpub: %s\n",
		    avahi_strerror(avahi_client_errno(c)));
		exit(1);
	}
}

static void
stdin_cb(AvahiWatch *w, int fd, AvahiWatchEvent ev, void *arg)
{
	char line[8192], *p, *save = NULL;
	AvahiStringList *l = NULL;
	ssize_t n;

	if ((n = read(fd, line, sizeof(line) - 1)) <= 0) {
		avahi_simple_poll_quit(sp);
		return;
	}
	line[n] = '\0';
	/* several lines at once: the last one is the current TXT */
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if ((p = strrchr(line, '\n')) != NULL)
		memmove(line, p + 1, strlen(p + 1) + 1);
	for (p = strtok_r(line, " ", &save); p != NULL;
	    p = strtok_r(NULL, " ", &save))
		l = avahi_string_list_add(l, p);
	if (!established) {
		/* only the latest counts */
		avahi_string_list_free(pending);
		pending = l;
		return;
	}
	update(l);
	avahi_string_list_free(l);
}

int
main(int argc, char *argv[])
{
	AvahiClient *c;
	const char *errstr;
	int i, err;

	if (argc < 4) {
		fprintf(stderr, "usage: subsystem-txtpub NAME TYPE PORT "
		    "[TXT...]\n");
		return 2;
	}
	name = argv[1];
	type = argv[2];
	port = (uint16_t)strtonum(argv[3], 1, 65535, &errstr);
	if (errstr != NULL) {
		fprintf(stderr, "txtpub: port %s: %s\n", argv[3], errstr);
		return 2;
	}
	for (i = 4; i < argc; i++)
		txt = avahi_string_list_add(txt, argv[i]);
	if ((sp = avahi_simple_poll_new()) == NULL)
		return 1;
	if ((c = avahi_client_new(avahi_simple_poll_get(sp), 0, client_cb,
	    NULL, &err)) == NULL) {
		fprintf(stderr, "txtpub: %s\n", avahi_strerror(err));
		return 1;
	}
	avahi_simple_poll_get(sp)->watch_new(avahi_simple_poll_get(sp),
	    STDIN_FILENO, AVAHI_WATCH_IN, stdin_cb, NULL);
	avahi_simple_poll_loop(sp);
	avahi_client_free(c);
	avahi_simple_poll_free(sp);
	avahi_string_list_free(txt);
	return 0;
}
