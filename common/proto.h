/* Protocol v1 messages (PROTOCOL.md is the description; this is the code).
 * msg_parse() turns one line into a struct msg, msg_format() the reverse. */
#ifndef RNSPLICE_PROTO_H
#define RNSPLICE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "svc.h"

struct buf;

#define PROTO_MAJOR		1
#define PROTO_MINOR		2
#define PROTO_VERSION		"1.2"
#define PROTO_MAXLINE		16384	/* bytes, LF included */
#define PROTO_MINLINE		512
#define PROTO_MAXFIELDS		512
#define PROTO_MAXTOKEN		32
#define PROTO_MAXHOPS_DEFAULT	4
#define PROTO_MAXPING		3600	/* s: HELLO ping= and beat= */
#define PROTO_MAXIDLE		(3 * PROTO_MAXPING)	/* s: HELLO idle= */
/* EXPORTING's socket path: what fits in sun_path with its NUL */
#define PROTO_MAXPATH		107

/* HELLO feature words (PROTOCOL.md section 3) */
#define PROTO_FEATURE_EXPORT	"export"
#define PROTO_FEATURE_BEAT	"beat"

enum msg_type {
	MSG_HELLO,
	MSG_BROWSE,
	MSG_ADD,
	MSG_UPDATE,
	MSG_REMOVE,
	MSG_SYNCED,
	MSG_AVAHI,
	MSG_PING,
	MSG_PONG,
	MSG_ERROR,
	MSG_RELAY,
	MSG_RELAYING,
	MSG_EXPORT,
	MSG_EXPORTING,
	MSG_FORWARDING,
	MSG_UNEXPORT,
	MSG_DROPPED,
	MSG_BEAT,
	MSG_NTYPES
};

struct msg {
	enum msg_type	 type;
	uint32_t	 id;		/* ADD UPDATE REMOVE and the export
					 * messages (section 8) */
	struct svc	 svc;		/* ADD UPDATE; RELAY: name type domain;
					 * EXPORT: name type domain port txt
					 * (port 0: any); EXPORTING: port */

	/* HELLO */
	unsigned int	 major, minor;
	char		*peer_id;
	char		*role;
	char		*features;	/* comma-separated, "" for none */
	unsigned int	 maxline;	/* 0: not announced */
	unsigned int	 maxhops;	/* 0: not announced */
	unsigned int	 ping;		/* HELLO: seconds; 0: not announced */
	unsigned int	 beat;		/* HELLO: seconds; 0: not asked */
	unsigned int	 idle;		/* HELLO: seconds; 0: not announced */

	/* BROWSE */
	char		**types;
	size_t		 ntypes;	/* 0: all types ("*") */

	int		 avahi_up;	/* AVAHI */
	char		*token;		/* PING PONG */
	char		*code;		/* ERROR DROPPED */
	char		*text;		/* ERROR DROPPED */
	char		*path;		/* EXPORTING: the socket path */
};

const char *msg_verb(enum msg_type);

/* Parse one line (without its LF). Returns 0, or -1 with a human reason
 * of less than PROTO_ERRLEN bytes in *cause ("ADD: field 6: port out of
 * range"; the caller frees it). m is zeroed first and must be released
 * with msg_free() whatever the result. code tells which ERROR code a
 * reply should carry ("syntax", "verb"). When a known verb fails, m->type
 * is set and so is m->id if its field parsed (non-zero): a bad EXPORT can
 * be answered with DROPPED <id> syntax. */
#define PROTO_ERRLEN	256
int	msg_parse(const char *line, size_t len, struct msg *m, char **cause,
	    const char **code);
void	msg_free(struct msg *);

/* Append the line (with LF). Fails (-1) if it would exceed maxline. */
int	msg_format(struct buf *out, const struct msg *m, size_t maxline);

/* A HELLO of this version (PROTOCOL.md section 3); the strings are
 * borrowed, not copied: m must not be msg_free()d. maxline, maxhops: 0
 * leaves them out. */
/* The PONG that answers a PING (its token is borrowed). */
void	msg_pong(struct msg *pong, const struct msg *ping);
void	msg_hello(struct msg *m, const char *peer_id, const char *role,
	    const char *features, unsigned int maxline, unsigned int maxhops);

/* Convenience senders, formatting straight into an output buffer. */
int	msg_put_error(struct buf *out, const char *code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* An ERROR with this code ends a browse session (PROTOCOL.md section 5). */
int	proto_error_is_fatal(const char *code);
int	proto_valid_token(const char *);
/* 1 if word is one of HELLO's comma-separated features. */
int	proto_has_feature(const char *features, const char *word);
int	proto_valid_type(const char *);

#endif
