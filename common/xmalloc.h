/* Allocation that cannot fail (OpenSSH's xmalloc): running out of memory
 * is fatal, so callers have no error path for it. And cause_set, the
 * tmux-style way of explaining a failure to the caller. */
#ifndef RNSPLICE_XMALLOC_H
#define RNSPLICE_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* Set *cause to an allocated message (the caller frees it); always -1, so
 * that a helper can "return cause_set(cause, ...);". */
int	 cause_set(char **cause, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
