/* Host scope: services that only this host may see point their SRV record
 * at "<host>-rnsplice.<domain>", an address record of 127.0.0.1 published
 * with host scope, made with the first host-scope service and kept (with
 * its renames) until the responder goes away. When the record collides
 * or fails, every host-scope entry is published again (a new SRV target)
 * or fails with it. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mdns.h"
#include "publish-int.h"

#define PUB_HOST_ADDR		"127.0.0.1"

void
pub_host_drop(struct pub_engine *pub)
{
	if (pub->hreg != NULL) {
		mdns_reg_free(pub->hreg);
		pub->hreg = NULL;
		pub->nregs--;
	}
	pub->hlabel[0] = pub->hfqdn[0] = '\0';
	pub->hrenames = 0;
}

static int
host_rename(struct pub_engine *pub, const char *why)
{
	char *alt;

	if (pub->hrenames >= PUB_MAX_RENAMES ||
	    (alt = pub_alternative_host(pub->hlabel)) == NULL)
		return -1;
	if (strlen(alt) >= sizeof(pub->hlabel)) {
		free(alt);
		return -1;
	}
	log_warnx("publish address %s on lo: %s, renamed to %s", pub->hfqdn,
	    why, alt);
	strlcpy(pub->hlabel, alt, sizeof(pub->hlabel));
	free(alt);
	pub->hrenames++;
	return 0;
}

/* Fill the host registration and commit it. */
static int
host_commit(struct pub_engine *pub, char **cause)
{
	struct sockaddr_in sin;
	int r;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, PUB_HOST_ADDR, &sin.sin_addr);
	for (;;) {
		snprintf(pub->hfqdn, sizeof(pub->hfqdn), "%s.%s", pub->hlabel,
		    mdns_domain(pub->mdns));
		r = mdns_reg_set_address(pub->hreg, pub->hfqdn,
		    (struct sockaddr *)&sin, MDNS_IF_ANY, MDNS_HOST_SCOPE,
		    cause);
		if (r != MDNS_ERR_COLLISION)
			break;
		if (host_rename(pub, "name in use on this host") == -1)
			break;
		free(*cause);
		*cause = NULL;
	}
	if (r < 0) {
		log_warnx("publish address %s -> %s on lo: %s", pub->hfqdn,
		    PUB_HOST_ADDR, *cause);
		return r;
	}
	log_info("publish address %s -> %s on lo (host scope)", pub->hfqdn,
	    PUB_HOST_ADDR);
	return 0;
}

static void
host_reg_cb(struct mdns_reg *reg, enum mdns_reg_event ev, int code,
    const char *err, void *arg)
{
	struct pub_engine *pub = arg;
	struct eng_entry *e;
	char *cause = NULL;
	int r;

	if (reg != pub->hreg || !pub->running)
		return;
	switch (ev) {
	case MDNS_REG_ESTABLISHED:
		pub->hrenames = 0;
		log_debug("address %s on lo: established", pub->hfqdn);
		return;
	case MDNS_REG_COLLISION:
		if (host_rename(pub, "collision") == -1) {
			r = MDNS_ERR_COLLISION;
			if ((cause = strdup(err)) == NULL)
				fatalx("out of memory");
		} else
			r = host_commit(pub, &cause);
		break;
	case MDNS_REG_FAILED:
		r = code;
		if ((cause = strdup(err)) == NULL)
			fatalx("out of memory");
		log_warnx("publish address %s on lo: %s", pub->hfqdn, err);
		break;
	default:
		return;
	}
	/* The SRV target changed or is gone: redo every host-scope entry. */
	if (r < 0) {
		mdns_reg_free(pub->hreg);
		pub->hreg = NULL;
		pub->nregs--;
	}
	TAILQ_FOREACH(e, &pub->entries, link) {
		if (e->sv.scope != PUB_SCOPE_HOST || e->reg == NULL ||
		    e->state == PUB_WAITING)
			continue;
		if (r < 0)
			pubent_error(e, r, "address record on lo", cause);
		else
			pubent_publish(e);
	}
	free(cause);
}

int
pub_host_ensure(struct pub_engine *pub, char **cause)
{
	const char *h;
	int r;

	*cause = NULL;
	if (pub->hreg != NULL)
		return 0;
	if (pub->hlabel[0] == '\0') {
		if ((h = mdns_host_name(pub->mdns)) == NULL) {
			if ((*cause = strdup("no host name")) == NULL)
				fatalx("out of memory");
			return MDNS_ERR_DOWN;
		}
		if (pub_host_label(h, pub->hlabel, sizeof(pub->hlabel)) == -1) {
			if ((*cause = strdup("bad host name")) == NULL)
				fatalx("out of memory");
			return MDNS_ERR_INVALID;
		}
	}
	if ((pub->hreg = mdns_reg_new(pub->mdns, host_reg_cb, pub, &r,
	    cause)) == NULL)
		return r;
	pub->nregs++;
	if ((r = host_commit(pub, cause)) < 0) {
		mdns_reg_free(pub->hreg);
		pub->hreg = NULL;
		pub->nregs--;
		return r;
	}
	return 0;
}
