/* Logging in the style of the OpenBSD daemons: stderr in the foreground,
 * syslog otherwise. */
#ifndef RNSPLICE_LOG_H
#define RNSPLICE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* to_stderr is ignored when fd 2 is closed or /dev/null: syslog then */
void	log_init(const char *ident, int to_stderr, int verbosity);
int	log_on_stderr(void);
/* In a forked child that never execs, after it closed the descriptors it
 * inherited: reopen syslog (its socket was the parent's), and let fatal()
 * end with _exit(), not exit() (the parent's atexit handlers and stdio
 * buffers are not the child's). */
void	log_forked(void);
void	log_setverbose(int verbosity);
int	log_getverbose(void);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
void	fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
/* src with control characters and invalid UTF-8 as \xHH, C1 and
 * bidirectional controls as \uHHHH, truncated to fit dstlen */
void	log_vis(char *dst, size_t dstlen, const char *src);

/*
 * A peer that repeats a mistake must not fill the log: of one kind of
 * message (one limit each), the first LOG_BURST of a window of
 * LOG_WINDOW_MS are logged, then one notice, then only a count, which is
 * logged when the next window opens or at log_limit_flush().
 */
#define LOG_BURST	32
#define LOG_WINDOW_MS	60000

struct log_limit {
	uint64_t	 start;		/* of the window, ms */
	unsigned int	 count;		/* messages in the window */
	int		 open;		/* a window has started */
	unsigned long	 suppressed;	/* since the last summary */
};

/* 1 if one more message may be logged now. who (may be NULL) and what
 * ("bad lines from the subsystem") name the messages in the notices. */
int	log_limit(struct log_limit *, uint64_t now_ms, const char *who,
	    const char *what);
void	log_limit_flush(struct log_limit *, const char *who, const char *what);

#endif
