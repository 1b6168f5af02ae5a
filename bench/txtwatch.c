/* txtwatch -- print every TXT record of one service as this host's
 * avahi-daemon hears it: for the benchmark's TXT-change figure and the
 * integration tests that wait for an old TXT record to expire.
 *
 *   txtwatch NAME TYPE [DOMAIN]
 *
 * An avahi record browser (class IN, type TXT) on "NAME.TYPE.DOMAIN", every
 * interface and protocol. One line per event, flushed at once:
 *
 *   SECONDS.MICROS NEW|REMOVE IFNAME IPv4|IPv6 ITEM...
 *   SECONDS.MICROS LISTED            (the cache was listed)
 *
 * (the wall clock, as the lab's watchers print it; items in record order,
 * bytes outside printable ASCII and the space as \XXX in decimal, as
 * avahi-browse -p does). Runs until SIGTERM/SIGINT or the daemon goes. */
#include <net/if.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/defs.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>

static AvahiSimplePoll *sp;

static void
stamp(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	printf("%lld.%06ld", (long long)tv.tv_sec, (long)tv.tv_usec);
}

static void
item(const unsigned char *p, size_t len)
{
	size_t i;

	putchar(' ');
	for (i = 0; i < len; i++) {
		if (p[i] > ' ' && p[i] < 127 && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\%03u", p[i]);
	}
}

static void
rb_cb(AvahiRecordBrowser *rb, AvahiIfIndex ifindex, AvahiProtocol proto,
    AvahiBrowserEvent event, const char *name, uint16_t clazz, uint16_t type,
    const void *rdata, size_t size, AvahiLookupResultFlags flags, void *arg)
{
	const unsigned char *p = rdata, *end = p + size;
	char ifname[IF_NAMESIZE];
	size_t n;

	(void)rb, (void)name, (void)clazz, (void)type, (void)flags, (void)arg;
	stamp();
	switch (event) {
	case AVAHI_BROWSER_NEW:
	case AVAHI_BROWSER_REMOVE:
		if (if_indextoname((unsigned)ifindex, ifname) == NULL)
			snprintf(ifname, sizeof(ifname), "%d", ifindex);
		printf(" %s %s %s", event == AVAHI_BROWSER_NEW ? "NEW" :
		    "REMOVE", ifname, proto == AVAHI_PROTO_INET ? "IPv4" :
		    "IPv6");
		while (p != NULL && p < end) {
			n = *p++;
			if (n > (size_t)(end - p))
				break;
			if (n > 0)
				item(p, n);
			p += n;
		}
		break;
	case AVAHI_BROWSER_CACHE_EXHAUSTED:
		printf(" LISTED");
		break;
	case AVAHI_BROWSER_ALL_FOR_NOW:
		printf(" ALL_FOR_NOW");
		break;
	case AVAHI_BROWSER_FAILURE:
		printf(" FAILURE\n");
		avahi_simple_poll_quit(sp);
		return;
	}
	putchar('\n');
	fflush(stdout);
}

static void
client_cb(AvahiClient *c, AvahiClientState state, void *arg)
{
	(void)arg;
	if (state == AVAHI_CLIENT_FAILURE) {
		fprintf(stderr, "txtwatch: %s\n",
		    avahi_strerror(avahi_client_errno(c)));
		avahi_simple_poll_quit(sp);
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
	char full[AVAHI_DOMAIN_NAME_MAX];
	AvahiClient *c;
	int error;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: txtwatch NAME TYPE [DOMAIN]\n");
		return 2;
	}
	if (avahi_service_name_join(full, sizeof(full), argv[1], argv[2],
	    argc == 4 ? argv[3] : "local") < 0) {
		fprintf(stderr, "txtwatch: invalid service name\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((sp = avahi_simple_poll_new()) == NULL) {
		fprintf(stderr, "txtwatch: out of memory\n");
		return 1;
	}
	if ((c = avahi_client_new(avahi_simple_poll_get(sp), 0, client_cb,
	    NULL, &error)) == NULL) {
		fprintf(stderr, "txtwatch: %s\n", avahi_strerror(error));
		return 1;
	}
	if (avahi_record_browser_new(c, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
	    full, AVAHI_DNS_CLASS_IN, AVAHI_DNS_TYPE_TXT, 0, rb_cb,
	    NULL) == NULL) {
		fprintf(stderr, "txtwatch: record browser: %s\n",
		    avahi_strerror(avahi_client_errno(c)));
		return 1;
	}
	avahi_simple_poll_loop(sp);
	avahi_client_free(c);
	avahi_simple_poll_free(sp);
	return 0;
}
