/* Logging: stderr when run in the foreground, syslog otherwise. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "rnsplice";
static int log_to_stderr = 1;
static int log_verbosity;

void
log_init(const char *ident, int to_stderr, int verbosity)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	log_verbosity = verbosity;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_setverbose(int verbosity)
{
	log_verbosity = verbosity;
}

int
log_getverbose(void)
{
	return log_verbosity;
}

/* Control characters in a message (a peer's service name may hold any,
 * newlines and terminal escapes included) are shown as \xHH, so that no
 * message can forge a log line or reach a terminal raw. */
void
log_vis(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	unsigned char c;

	for (; (c = (unsigned char)*src) != '\0' && o + 5 < dstlen; src++) {
		if (c < 0x20 || c == 0x7f) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 0xf];
		} else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static void
vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char raw[2048], msg[2048];
	int saved_errno = errno;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	if (with_errno) {
		size_t len = strlen(raw);
		snprintf(raw + len, sizeof(raw) - len, ": %s",
		    strerror(saved_errno));
	}
	log_vis(msg, sizeof(msg), raw);
	if (log_to_stderr) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		/* Local wall-clock time with milliseconds, then ident[pid]
		 * as syslog writes it, so the number in brackets is a pid. */
		clock_gettime(CLOCK_REALTIME, &ts);
		if (localtime_r(&ts.tv_sec, &tm) == NULL ||
		    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
		    &tm) == 0)
			strlcpy(when, "-", sizeof(when));
		fprintf(stderr, "%s.%03ld %s[%ld]: %s\n", when,
		    ts.tv_nsec / 1000000, log_ident, (long)getpid(), msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
	errno = saved_errno;
}

#define LOGFN(fn, pri, err, level)				\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	if (log_verbosity < (level))				\
		return;						\
	va_start(ap, fmt);					\
	vlog(pri, fmt, ap, err);				\
	va_end(ap);						\
}

LOGFN(log_warn, LOG_WARNING, 1, 0)
LOGFN(log_warnx, LOG_WARNING, 0, 0)
LOGFN(log_info, LOG_INFO, 0, 0)
LOGFN(log_debug, LOG_DEBUG, 0, 1)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
