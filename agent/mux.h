/* A client of OpenSSH's multiplexing protocol (mux.c in OpenSSH is the
 * reference; docs/MUX.md says how the master behaves, where
 * PROTOCOL.mux is not exact). The agent never runs an ssh process per
 * connection: it hands the accepted socket to the master with one control
 * connection.
 *
 * Requests are pipelined: the client HELLO, the request and its file
 * descriptors are sent back to back without waiting for the master's
 * HELLO, so a relay costs no round trip on the control socket. The
 * replies are then read from the control connection by a mux_reader
 * driven from the event loop.
 *
 * One control connection carries one request. Closing it ends the relay
 * (the master tears the channel down), or cancels a pending request; EOF
 * on it means the relay ended. A stdio forward gives OPENED and later
 * EOF (never EXIT); a session OPENED, EXIT, EOF; a refusal FAILED, EOF.
 * EOF or ERROR before OPENED is a failed request too (an overloaded
 * master just drops the connection). The reply to a forward waits for
 * sshd's connect() to the target: keep your own timeout and close the
 * control connection when it fires. agent/mux.c starts with what the
 * master does when, with numbers. */
#ifndef RNSPLICE_MUX_H
#define RNSPLICE_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MUX_MAXPACKET	(256 * 1024)	/* body bytes, as the master's limit */
#define MUX_SEND_TIMEOUT_MS 5000	/* connect + send, see mux_open_* */

/* Open a control connection and ask for a stdio forward to host:port,
 * passing fd as both its stdin and stdout. Returns the control
 * connection (non-blocking, close-on-exec), or -1 with a reason in *cause
 * (allocated, the caller frees it; cause may be NULL).
 *
 * fd: the master receives its own two copies. Close yours as soon as
 * this returns (success or not): while you hold it, the master's close
 * of its copies sends no FIN to the peer. The master sets O_NONBLOCK on
 * the socket (a flag shared by every copy). port must be 1..65535.
 *
 * Blocks at most about MUX_SEND_TIMEOUT_MS, and only when the master is
 * wedged or its listen backlog (64) is full; normally it returns in
 * microseconds. */
int	mux_open_stdio_fwd(const char *ctlpath, const char *host,
	    unsigned int port, int fd, uint32_t rid, char **cause);

/* A spare control connection, opened before it is needed: connected
 * (non-blocking, close-on-exec) and our HELLO sent. The master's HELLO is
 * left unread: a mux_reader takes it with the reply. Never blocks: a
 * master whose backlog is full fails it at once. Returns the fd, or -1
 * with *cause. */
int	mux_spare_open(const char *ctlpath, char **cause);
/* Ask for a stdio forward on a spare connection s (mux_spare_open): the
 * request and the fds, no connect, no HELLO. 0, or -1 with *cause when
 * the master closed s meanwhile (or went away) or a send would block:
 * then close s and use mux_open_stdio_fwd. Same fd rules as above. */
int	mux_spare_stdio_fwd(int s, const char *host, unsigned int port,
	    int fd, uint32_t rid, char **cause);

/* Open a control connection and start a session running the subsystem
 * name (ssh -s), with fd_in/fd_out/fd_err as its stdio. Relay mode uses
 * this with the accepted socket as stdin and stdout. fd_err -1 means
 * /dev/null (the remote stderr is then discarded); never pass your own
 * stderr, the master makes it non-blocking. Same fd rules as above. */
int	mux_open_subsystem(const char *ctlpath, const char *name, int fd_in,
	    int fd_out, int fd_err, uint32_t rid, char **cause);
/* The same with a command line for the login's shell (ssh HOST command). */
int	mux_open_command(const char *ctlpath, const char *command, int fd_in,
	    int fd_out, int fd_err, uint32_t rid, char **cause);

/* Ask the master for a remote forward from a Unix socket that sshd
 * creates on the server (listen_path, which must not exist yet) to
 * host:port on this side: what "ssh -O forward -R path:host:port" sends
 * (OPEN_FWD, type remote, listen port PORT_STREAMLOCAL). The reader then
 * yields MUX_EV_OK once sshd agreed, or MUX_EV_FAILED with ssh's words
 * ("remote port forwarding failed for listen path ..."). The forward
 * outlives the control connection: close it after the reply. It ends
 * with the master, or with mux_close_remote_fwd() and the same
 * arguments (OK; FAILED "port not forwarded" if there was none). */
int	mux_open_remote_fwd(const char *ctlpath, const char *listen_path,
	    const char *host, unsigned int port, uint32_t rid, char **cause);
int	mux_close_remote_fwd(const char *ctlpath, const char *listen_path,
	    const char *host, unsigned int port, uint32_t rid, char **cause);

/* Ask the master for a local forward: it binds lhost (an address, as
 * given: never a wildcard here) port lport itself and carries each
 * connection to chost:cport, as "ssh -O forward -L lhost:lport:chost:cport"
 * (OPEN_FWD, type local). The reader yields MUX_EV_OK once it listens,
 * MUX_EV_FAILED ("Port forwarding failed") when the bind failed. The
 * forward outlives the control connection; mux_close_local_fwd() with
 * the same arguments cancels it. Ports 1..65535. */
int	mux_open_local_fwd(const char *ctlpath, const char *lhost,
	    unsigned int lport, const char *chost, unsigned int cport,
	    uint32_t rid, char **cause);
int	mux_close_local_fwd(const char *ctlpath, const char *lhost,
	    unsigned int lport, const char *chost, unsigned int cport,
	    uint32_t rid, char **cause);
/* The same on a fresh spare connection s (mux_spare_open): never
 * blocks; type MUX_OPEN_FWD or MUX_CLOSE_FWD. 0, or -1 with *cause. */
int	mux_spare_local_fwd(int s, uint32_t type, const char *lhost,
	    unsigned int lport, const char *chost, unsigned int cport,
	    uint32_t rid, char **cause);
/* The body (type first, no length) of those two requests; type is
 * 0x10000006 (OPEN_FWD) or 0x10000007 (CLOSE_FWD). For tests. */
#define MUX_OPEN_FWD	0x10000006U
#define MUX_CLOSE_FWD	0x10000007U
int	mux_local_fwd_body(struct buf *, uint32_t type, const char *lhost,
	    unsigned int lport, const char *chost, unsigned int cport,
	    uint32_t rid, char **cause);

/* Ask the master whether it is alive; returns a control fd whose reader
 * yields MUX_EV_ALIVE with the master's pid. The master keeps the
 * connection open afterwards: close it yourself. */
int	mux_alive_check(const char *ctlpath, uint32_t rid, char **cause);

enum mux_event {
	MUX_EV_NONE,		/* need more bytes */
	MUX_EV_OPENED,		/* session/forward open (session id in sid) */
	MUX_EV_ALIVE,		/* pid set */
	MUX_EV_FAILED,		/* reason set: FAILURE, PERMISSION_DENIED
				 * (EOF follows), TTY_ALLOC_FAIL */
	MUX_EV_EXIT,		/* session exit; exit_status set */
	MUX_EV_EOF,		/* the master closed the connection */
	MUX_EV_ERROR,		/* protocol error or I/O error; reason set */
	MUX_EV_OK		/* MUX_S_OK: never sent for the requests above */
};

struct mux_reader {
	struct buf	 in;
	int		 got_hello;
	int		 opened;	/* MUX_EV_OPENED seen; sid valid */
	int		 done;		/* EOF or ERROR returned */
	uint32_t	 rid;
	uint32_t	 sid;
	uint32_t	 pid;
	uint32_t	 exit_status;
	char		 reason[256];	/* printable ASCII, NUL-terminated */
};

/* rid: the one given to mux_open_*; a reply for another rid, or an exit
 * for another session than the opened one, is a protocol error. */
void	mux_reader_init(struct mux_reader *, uint32_t rid);
void	mux_reader_free(struct mux_reader *);
/* Read from the (non-blocking) fd until a packet completes or it runs
 * dry, and return the next event. Call again until MUX_EV_NONE: one
 * read may hold several packets. MUX_EV_EOF and MUX_EV_ERROR are final:
 * every later call returns MUX_EV_NONE; close the fd then. reason is
 * also set for MUX_EV_EOF (says whether the HELLO had come). */
enum mux_event mux_reader_read(struct mux_reader *, int fd);
/* Parse the next packet already buffered (for tests and fuzzing). */
enum mux_event mux_reader_next(struct mux_reader *);
const char *mux_event_name(enum mux_event);

#endif
