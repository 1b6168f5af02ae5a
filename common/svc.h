/* The data model: one service as the protocol describes it, and its TXT
 * record (RFC 6763 section 6). Copies, comparison, TXT keys. */
#ifndef RNSPLICE_SVC_H
#define RNSPLICE_SVC_H

#include <stddef.h>
#include <stdint.h>

/* DNS-SD limits (RFC 6763): labels are 63 bytes; a TXT item 255. */
#define DNSSD_MAXNAME		63
#define DNSSD_MAXTYPE		63	/* "_service._proto" */
#define DNSSD_MAXDOMAIN		255
#define DNSSD_MAXHOST		255
#define DNSSD_MAXTXTITEM	255
#define DNSSD_MAXTXT		8900	/* whole record, RFC 6763 6.3 */

struct txt_item {
	unsigned char	*data;
	size_t		 len;
};

struct txt {
	struct txt_item	*items;
	size_t		 n;
};

/* One service as the protocol describes it. */
struct svc {
	char		*name;
	char		*type;
	char		*domain;
	char		*host;
	char		*addr;
	uint16_t	 port;
	struct txt	 txt;
};

void	svc_free(struct svc *);
int	svc_copy(struct svc *dst, const struct svc *src);
int	svc_equal(const struct svc *, const struct svc *);
int	txt_copy(struct txt *dst, const struct txt *src);
void	txt_free(struct txt *);
int	txt_equal(const struct txt *, const struct txt *);
int	txt_add(struct txt *, const void *data, size_t len);
/* The value of key in the TXT record, or NULL (*vlen set). */
const unsigned char *txt_get(const struct txt *, const char *key,
	    size_t *vlen);
int	txt_remove_key(struct txt *, const char *key);

#endif
