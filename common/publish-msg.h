/* The messages between the publisher (publish.c, in the process that
 * called publisher_new()) and its child (publish-proc.c), which does the
 * responder's calls. Both ends are the same program (the child is forked,
 * not executed), but each checks every message it reads as if it were a
 * stranger's: a bad one is a clear error, never a crash.
 *
 * Framing, in the style of OpenSSH's mux packets (integers big-endian,
 * strings as a u32 length then the bytes, binary-safe):
 *
 *	u32	length of what follows (type and body), 4..PUBMSG_MAX
 *	u32	type
 *	...	body, exactly as the type says (trailing bytes are an error)
 *
 * Parent to child:
 *	ADD	u32 id, u32 gen, string name, string type, string domain
 *		("" for the default), u32 port, u32 scope, u32 ifindex,
 *		u32 n, n strings (the TXT items)
 *	UPDATE	u32 id, u32 gen, u32 port, u32 n, n strings (the entry's
 *		whole TXT and port: applying one twice changes nothing; an
 *		unchanged one retries a FAILED entry)
 *	REMOVE	u32 id
 * Child to parent:
 *	UP	u32 up (0 or 1: the responder left or reached RUNNING)
 *	STATE	u32 id, u32 gen, u32 state, string name (in use), string
 *		error ("" unless FAILED)
 *
 * id names an entry (the parent's, never 0, not reused while the child
 * may know it); gen counts the parent's changes of it, echoed in STATE so
 * that the parent can tell a report that predates its last change. */
#ifndef RNSPLICE_PUBLISH_MSG_H
#define RNSPLICE_PUBLISH_MSG_H

#include <stdint.h>

#include "buf.h"
#include "svc.h"

/* The largest TXT record (DNSSD_MAXTXT) in one-byte items costs five
 * bytes an item here: 44,500 bytes; everything else fits in 2,000. */
#define PUBMSG_MAX		65536
#define PUBMSG_ERRLEN		255	/* STATE's error, bytes */
#define PUBMSG_DOMAINLEN	1013	/* as avahi's domain names */

enum pubmsg_type {
	PUBMSG_ADD = 1,
	PUBMSG_UPDATE,
	PUBMSG_REMOVE,
	PUBMSG_UP = 16,
	PUBMSG_STATE
};

/* Who reads: what it may receive. */
enum pubmsg_dir {
	PUBMSG_TO_CHILD,	/* ADD, UPDATE, REMOVE */
	PUBMSG_TO_PARENT	/* UP, STATE */
};

struct pubmsg {
	enum pubmsg_type type;
	uint32_t	 id;
	uint32_t	 gen;
	uint32_t	 port;
	uint32_t	 scope;		/* enum pub_scope */
	uint32_t	 ifindex;
	uint32_t	 state;		/* enum pub_state */
	uint32_t	 up;
	char		*name;		/* ADD, STATE */
	char		*stype;		/* ADD */
	char		*domain;	/* ADD; NULL: the default */
	char		*err;		/* STATE; NULL: none */
	struct txt	 txt;		/* ADD, UPDATE */
};

/* Append one message (the fields its type uses) to out: 0, or -1 if it
 * does not fit (out's limit, or PUBMSG_MAX) with out unchanged. */
int	 pubmsg_put(struct buf *out, const struct pubmsg *);
/* Take the next message off in: 1 (m filled: pubmsg_clear() it), 0 (not
 * complete yet), or -1 with a reason in *cause (the caller frees it):
 * a bad length, a type this end never receives, a field out of bounds,
 * a short or long body. After -1 the stream is lost (nothing consumed
 * can be trusted): the caller ends the connection. */
int	 pubmsg_get(struct buf *in, enum pubmsg_dir, struct pubmsg *m,
	    char **cause);
void	 pubmsg_clear(struct pubmsg *);
const char *pubmsg_type_name(uint32_t);

#endif
