/* Between conn.c (a connection's life, the direct path) and
 * relaysession.c (relay mode). Not for other files: agent.h has the
 * interface. */
#ifndef RNSPLICE_CONN_H
#define RNSPLICE_CONN_H

/* conn.c */
void	conn_del_io(struct ev_io **);
/* Has the ssh master exited (its stdout hung up), though not reaped yet?
 * Then a connection that ends now was cut by it. */
int	conn_master_gone(const struct remote *);
/* Tell the remote how the open ended, once. */
void	conn_report(struct conn *, enum reach_result, const char *why);
void	conn_fail(struct conn *, const char *what, const char *why);
void	conn_end(struct conn *);
/* ssh's own words for a refused open, when it said any. */
const char *conn_ssh_words(struct remote *);
/* The mux control connection of c. */
void	conn_ctl_cb(int, short, void *);

/* relaysession.c */
/* Open a relay session for c now, or queue c for one. */
void	relay_session_open(struct conn *);
/* Start c's relay session now: 0, or -1 (c failed and is freed). */
int	relay_session_start(struct conn *);
/* The session is over on the server (or was never granted). */
void	relay_session_release(struct conn *);
void	relay_dequeue(struct conn *);
/* The server refused the session (the channel open). */
void	relay_session_refused(struct conn *);
/* The session ended, but not as a relay does. */
void	relay_session_lost(struct conn *);
/* Copy what can be copied; 0, or -1 if c ended (and is freed). */
int	relay_pump(struct conn *);

#endif
