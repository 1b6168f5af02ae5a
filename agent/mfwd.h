/* The master's own listener for a spliced service (mfwd.c): a local
 * forward asked through the mux (MUX_C_OPEN_FWD, local), where nothing
 * is lost by it, so that a new connection costs the agent nothing and
 * the master what ssh -L costs. */
#ifndef RNSPLICE_MFWD_H
#define RNSPLICE_MFWD_H

/* Should the master listen for sp (listener auto|master, direct path, no
 * allow-list)? Then mfwd_start probes it and hands the listener over
 * before the splice is published: 0, or -1 (publish with the agent's
 * listener now). */
int	mfwd_wanted(const struct splice *);
int	mfwd_start(struct splice *);
/* A probe (conn_probe) of a splice waiting for the hand-over ended: 1
 * if mfwd took it, 0 if reach.c is to handle it (a refusal). */
int	mfwd_probe_result(struct splice *, const struct conn *,
	    enum reach_result, const char *why);
/* Does the master listen for sp? Is sp published (or waiting)? */
int	mfwd_owns(const struct splice *);
int	mfwd_published(const struct splice *);
/* The addresses changed: 0 if the agent's listeners are to follow them
 * (the master gave them back, or never had them), 1 if the master still
 * listens on all of them. */
int	mfwd_follow(struct splice *, const struct exp_plan *);
/* Cancel the master's forwards (MUX_C_CLOSE_FWD) and free. */
void	mfwd_free(struct splice *);
const char *mfwd_state_name(const struct splice *);

#endif
