/* Logging: stderr when run in the foreground, syslog otherwise. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"

static const char *log_ident = "rnsplice";
static int log_to_stderr = 1;
static int log_verbosity;
static int log_child;		/* a forked child: fatal() uses _exit() */

/* Whether fd 2 leads nowhere: closed, or /dev/null, which is what launchd
 * gives a job without StandardErrorPath. */
static int
stderr_lost(void)
{
	struct stat sb, nb;

	if (fstat(STDERR_FILENO, &sb) == -1)
		return 1;
	return S_ISCHR(sb.st_mode) && stat("/dev/null", &nb) == 0 &&
	    S_ISCHR(nb.st_mode) && sb.st_rdev == nb.st_rdev;
}

void
log_init(const char *ident, int to_stderr, int verbosity)
{
	/* lines nobody can read (a broken configuration at start under
	 * launchd) go to syslog instead */
	if (to_stderr && stderr_lost())
		to_stderr = 0;
	log_ident = ident;
	log_to_stderr = to_stderr;
	log_verbosity = verbosity;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_forked(void)
{
	log_child = 1;
	if (!log_to_stderr) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	}
}

int
log_on_stderr(void)
{
	return log_to_stderr;
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

/* What a peer's service name may hold, newlines and terminal escapes
 * included, must not forge a log line, reach a terminal raw, or reorder
 * what is shown around it: control characters (C0, DEL, C1), the
 * bidirectional controls and the line separators are shown as \xHH (a
 * byte) or \uHHHH (a code point), and so is every byte that is not part
 * of well-formed UTF-8. */
void
log_vis(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)src;
	size_t o = 0, len = strlen(src), i = 0, n;
	unsigned int cp;

	if (dstlen == 0)
		return;
	while (i < len) {
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0 || (n == 1 && uc_unsafe(cp))) {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[p[i] >> 4];
			dst[o++] = hex[p[i] & 0xf];
			i++;
		} else if (uc_unsafe(cp)) {
			if (o + 6 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'u';
			dst[o++] = hex[(cp >> 12) & 0xf];
			dst[o++] = hex[(cp >> 8) & 0xf];
			dst[o++] = hex[(cp >> 4) & 0xf];
			dst[o++] = hex[cp & 0xf];
			i += n;
		} else {
			if (o + n >= dstlen)
				break;
			memcpy(dst + o, p + i, n);
			o += n;
			i += n;
		}
	}
	dst[o] = '\0';
}

void
log_limit_flush(struct log_limit *rl, const char *who, const char *what)
{
	if (rl->suppressed == 0)
		return;
	log_warnx("%s%s%lu more %s suppressed", who != NULL ? who : "",
	    who != NULL ? ": " : "", rl->suppressed, what);
	rl->suppressed = 0;
}

int
log_limit(struct log_limit *rl, uint64_t now, const char *who,
    const char *what)
{
	if (!rl->open || now - rl->start >= LOG_WINDOW_MS) {
		log_limit_flush(rl, who, what);
		rl->open = 1;
		rl->start = now;
		rl->count = 0;
	}
	if (rl->count < LOG_BURST) {
		rl->count++;
		return 1;
	}
	if (rl->count == LOG_BURST) {
		rl->count++;
		log_warnx("%s%smore than %d %s in %d s; counting the rest",
		    who != NULL ? who : "", who != NULL ? ": " : "", LOG_BURST,
		    what, LOG_WINDOW_MS / 1000);
	}
	rl->suppressed++;
	return 0;
}

static void vlog(int, const char *, va_list, int) LOG_PRINTF(2, 0);

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
	if (log_child)
		_exit(1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	if (log_child)
		_exit(1);
	exit(1);
}
