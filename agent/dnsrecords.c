/* The DNS messages of the update machine, built from a zone's and a
 * service's state without changing either (dnsupdate-int.h). */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "dnsupdate.h"
#include "dnsupdate-int.h"
#include "log.h"

#ifdef HAVE_LDNS


/* One label in presentation form: anything but LDH and '_' as \DDD. */
static void
esc_label(const char *in, char *out, size_t outlen)
{
	const unsigned char *p;
	size_t n = 0;

	for (p = (const unsigned char *)in; *p != '\0' && n + 5 < outlen; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
			out[n++] = (char)*p;
		else
			n += (size_t)snprintf(out + n, outlen - n, "\\%03u", *p);
	}
	out[n] = '\0';
}

static void
inst_name(const struct dzone *z, const struct dsvc *s, char *out,
    size_t outlen)
{
	char lab[DNSSD_MAXNAME * 4 + 1];

	esc_label(s->name, lab, sizeof(lab));
	snprintf(out, outlen, "%s.%s.%s.", lab, s->type, z->conf->zone);
}

static int
add_str(ldns_rr_list *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
add_str(ldns_rr_list *l, const char *fmt, ...)
{
	ldns_rr *rr = NULL;
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	if (ldns_rr_new_frm_str(&rr, s, DNSUP_TTL, NULL, NULL) !=
	    LDNS_STATUS_OK) {
		log_warnx("dns-update: cannot make a record of \"%s\"", s);
		free(s);
		return -1;
	}
	free(s);
	if (!ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}


/* Delete one RR (class NONE, RFC 2136 2.5.4). */
int
dnsrec_del_rr(ldns_rr_list *l, const char *fmt, ...)
{
	ldns_rr *rr = NULL;
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		return -1;
	if (ldns_rr_new_frm_str(&rr, s, 0, NULL, NULL) != LDNS_STATUS_OK) {
		free(s);
		return -1;
	}
	free(s);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_NONE);
	ldns_rr_set_ttl(rr, 0);
	if (!ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

/* Delete an RRset (class ANY; type ANY: every RRset of the name), or,
 * with class NONE, the prerequisite "RRset does not exist". */
int
dnsrec_rrset_op(ldns_rr_list *l, const char *name, ldns_rr_type type,
    ldns_rr_class class)
{
	ldns_rdf *owner;
	ldns_rr *rr;

	if ((owner = ldns_dname_new_frm_str(name)) == NULL)
		return -1;
	if ((rr = ldns_rr_new()) == NULL) {
		ldns_rdf_deep_free(owner);
		return -1;
	}
	ldns_rr_set_owner(rr, owner);
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, class);
	ldns_rr_set_ttl(rr, 0);
	ldns_rr_set_question(rr, false);
	if (!ldns_rr_list_push_rr(l, rr)) {
		ldns_rr_free(rr);
		return -1;
	}
	return 0;
}

static int
add_txt(ldns_rr_list *l, const char *inst, const struct txt *t)
{
	char *s;
	size_t i, k, n, cap;
	const unsigned char *p;
	int r;

	cap = strlen(inst) + 64;
	for (i = 0; i < t->n; i++)
		cap += t->items[i].len * 4 + 4;
	if ((s = malloc(cap)) == NULL)
		return -1;
	n = (size_t)snprintf(s, cap, "%s %u IN TXT", inst, DNSUP_TTL);
	if (t->n == 0)
		n += (size_t)snprintf(s + n, cap - n, " \"\"");
	for (i = 0; i < t->n; i++) {
		s[n++] = ' ';
		s[n++] = '"';
		p = t->items[i].data;
		for (k = 0; k < t->items[i].len; k++) {
			if (p[k] >= 0x20 && p[k] < 0x7f && p[k] != '"' &&
			    p[k] != '\\')
				s[n++] = (char)p[k];
			else
				n += (size_t)snprintf(s + n, cap - n, "\\%03u",
				    p[k]);
		}
		s[n++] = '"';
	}
	s[n] = '\0';
	r = add_str(l, "%s", s);
	free(s);
	return r;
}

int
dnsrec_host(const struct dzone *z, ldns_rr_list *up, int set)
{
	const struct dnsup_conf *dc = z->conf;
	char a[INET6_ADDRSTRLEN];
	size_t i;

	if (dnsrec_rrset_op(up, z->host, LDNS_RR_TYPE_A,
	    LDNS_RR_CLASS_ANY) == -1 ||
	    dnsrec_rrset_op(up, z->host, LDNS_RR_TYPE_AAAA,
	    LDNS_RR_CLASS_ANY) == -1)
		return -1;
	if (!set)
		return 0;
	for (i = 0; i < dc->naddr; i++) {
		if (dc->addr[i].ss_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    &dc->addr[i])->sin_addr, a, sizeof(a));
		else
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    &dc->addr[i])->sin6_addr, a, sizeof(a));
		if (add_str(up, "%s. IN %s %s", z->host,
		    dc->addr[i].ss_family == AF_INET ? "A" : "AAAA", a) == -1)
			return -1;
	}
	/* browse domains (RFC 6763 11): clients told to look here find the
	 * zone; shared with whoever else publishes in it, never removed */
	if (add_str(up, "b._dns-sd._udp.%s. IN PTR %s.", dc->zone,
	    dc->zone) == -1 ||
	    add_str(up, "lb._dns-sd._udp.%s. IN PTR %s.", dc->zone,
	    dc->zone) == -1)
		return -1;
	return 0;
}

int
dnsrec_svc(const struct dzone *z, const struct dsvc *s, ldns_rr_list *up)
{
	char inst[DNSSD_MAXNAME * 4 + DNSSD_MAXTYPE + 300];
	const char *zone = z->conf->zone;

	inst_name(z, s, inst, sizeof(inst));
	if (dnsrec_rrset_op(up, inst, LDNS_RR_TYPE_ANY,
	    LDNS_RR_CLASS_ANY) == -1)
		return -1;
	if (s->state == DS_DEL)
		return dnsrec_del_rr(up, "%s.%s. IN PTR %s", s->type, zone,
		    inst) == -1 || dnsrec_del_rr(up, "%s. IN PTR %s", z->index,
		    inst) == -1 ? -1 : 0;
	if (add_str(up, "%s IN SRV 0 0 %u %s.", inst, s->port, z->host) ==
	    -1 || add_txt(up, inst, &s->txt) == -1 ||
	    add_str(up, "%s.%s. IN PTR %s", s->type, zone, inst) == -1 ||
	    add_str(up, "_services._dns-sd._udp.%s. IN PTR %s.%s.", zone,
	    s->type, zone) == -1 ||
	    add_str(up, "%s. IN PTR %s", z->index, inst) == -1)
		return -1;
	return 0;
}

const char *
dnsrec_tsig_alg(const char *alg)
{
	if (strcmp(alg, "hmac-md5") == 0)
		return "hmac-md5.sig-alg.reg.int.";
	return alg;
}

int
dnsrec_tsig_error(const ldns_pkt *p)
{
	const ldns_rr *t = ldns_pkt_tsig(p);

	if (t == NULL || ldns_rr_rd_count(t) < 6)
		return 0;
	return ldns_rdf2native_int16(ldns_rr_rdf(t, 5));
}

const char *
dnsrec_tsig_error_name(int e)
{
	switch (e) {
	case 16:
		return "BADSIG: the key's secret differs from the server's";
	case 17:
		return "BADKEY: the server knows no such key";
	case 18:
		return "BADTIME: the clocks differ by more than 5 minutes";
	case 22:
		return "BADTRUNC";
	}
	return NULL;
}


ldns_pkt *
dnsrec_update_pkt(const struct dzone *z, ldns_rr_list *pr, ldns_rr_list *up)
{
	ldns_rdf *zone;
	ldns_pkt *p;

	if ((zone = ldns_dname_new_frm_str(z->conf->zone)) == NULL)
		return NULL;
	p = ldns_update_pkt_new(zone, LDNS_RR_CLASS_IN, pr, up, NULL);
	if (p == NULL)
		ldns_rdf_deep_free(zone);
	else
		ldns_pkt_set_rd(p, false);
	return p;
}

size_t
dnsrec_txt_wire(const struct txt *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->n; i++)
		n += 1 + t->items[i].len;
	return n == 0 ? 1 : n;
}

#endif	/* HAVE_LDNS */
