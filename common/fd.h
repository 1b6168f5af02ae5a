/* File descriptor helpers. */
#ifndef RNSPLICE_FD_H
#define RNSPLICE_FD_H

/* Add O_NONBLOCK to the descriptor's flags (keeping the others): 0, or
 * -1 with errno set. */
int	set_nonblock(int fd);
/* Close *fd if it is open and mark it closed (-1). */
void	close_fd(int *fd);

#endif
