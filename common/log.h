/* Logging in the style of the OpenBSD daemons: stderr in the foreground,
 * syslog otherwise. */
#ifndef RNSPLICE_LOG_H
#define RNSPLICE_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *ident, int to_stderr, int verbosity);
void	log_setverbose(int verbosity);
int	log_getverbose(void);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
void	fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
/* src with control characters as \xHH, truncated to fit dstlen */
void	log_vis(char *dst, size_t dstlen, const char *src);

#endif
