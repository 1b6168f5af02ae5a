/* The agent's control socket, read by the rnsplice(1) command.
 *
 * One request per connection: the client sends the line
 *	"RNSPLICE-CTL <version> <command> <format>\n"
 * (format "json" or "text"), the agent answers with the document and
 * closes. Only the agent's own uid (or root) may connect. */
#ifndef RNSPLICE_CTL_H
#define RNSPLICE_CTL_H

#include <stddef.h>

#define CTL_VERSION	1
#define CTL_SOCKET	"agent.sock"
#define CTL_MAXREQ	256
#define CTL_MAXREPLY	(8 * 1024 * 1024)

struct buf;
struct ev_loop;
struct ctl_server;

/* Fill out with the reply; return 0, or -1 with out holding the error
 * text for the client. */
typedef int (*ctl_handler)(void *arg, const char *command, int json,
    struct buf *out);

struct ctl_server *ctl_server_new(struct ev_loop *, const char *path,
		    ctl_handler, void *arg, char **cause);
void		   ctl_server_free(struct ctl_server *);

/* Client side: send one request and read the whole reply (bounded by
 * the buffer's limit). Returns 0, 1 when the agent answered with an error
 * (the reason is in reply), -1 with a reason in *cause (the caller frees
 * it). */
int		   ctl_request(const char *path, const char *command, int json,
		    struct buf *reply, char **cause);

/* Parse a request line; for tests. */
int		   ctl_parse_request(const char *line, char *command,
		    size_t cmdlen, int *json, const char **cause);

#endif
