/* strtonum(3) of OpenBSD where the C library lacks it: a decimal number
 * in [minval, maxval], the whole string and nothing else. On error 0,
 * *errstr "invalid" (not a number, trailing characters, or
 * minval > maxval; errno EINVAL), "too small" or "too large" (errno
 * ERANGE); on success *errstr NULL and errno 0.
 * Built whatever the system has: the unit test runs it everywhere. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

long long
compat_strtonum(const char *s, long long minval, long long maxval,
    const char **errstrp)
{
	const char *errstr = NULL;
	char *end;
	long long v = 0;
	int err = 0;

	if (minval > maxval) {
		errstr = "invalid";
		err = EINVAL;
	} else {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || *end != '\0') {
			errstr = "invalid";
			err = EINVAL;
		} else if ((v == LLONG_MIN && errno == ERANGE) || v < minval) {
			errstr = "too small";
			err = ERANGE;
		} else if ((v == LLONG_MAX && errno == ERANGE) || v > maxval) {
			errstr = "too large";
			err = ERANGE;
		}
	}
	if (errstrp != NULL)
		*errstrp = errstr;
	errno = err;
	return errstr != NULL ? 0 : v;
}
