/* Site identity: a random id kept in the user's config directory, so that
 * the agent and the subsystem of one user on one host share it. */
#include "config.h"

#include <sys/stat.h>
#ifdef HAVE_SYS_RANDOM_H
#include <sys/random.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siteid.h"
#include "xmalloc.h"

int
siteid_valid(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > SITEID_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	return 1;
}

int
config_dir(char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if (xdg != NULL && *xdg == '/')
		n = snprintf(out, outlen, "%s/rnsplice", xdg);
	else {
		if (home == NULL || *home != '/') {
			if ((pw = getpwuid(getuid())) == NULL)
				return -1;
			home = pw->pw_dir;
		}
		n = snprintf(out, outlen, "%s/.config/rnsplice", home);
	}
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
mkdirs(const char *path)
{
	char tmp[1024], *p;

	if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
		return -1;
	for (p = tmp + 1; *p != '\0'; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) == -1 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(tmp, 0700) == -1 && errno != EEXIST ? -1 : 0;
}

int
siteid_load(char *out, size_t outlen, char **cause)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	char dir[1024], path[1100], tmpl[1108], tmp[SITEID_MAX + 2];
	char idbuf[SITEID_LEN + 2];
	const char *env = getenv("RNSPLICE_SITE_ID");
	unsigned char rnd[SITEID_LEN];
	ssize_t n;
	int fd, i, r, saved;

	if (env != NULL && *env != '\0') {
		if (!siteid_valid(env)) {
			cause_set(cause, "RNSPLICE_SITE_ID: must be 1-%d "
			    "characters from 0-9 a-z", SITEID_MAX);
			return -1;
		}
		strlcpy(out, env, outlen);
		return 0;
	}
	if (config_dir(dir, sizeof(dir)) == -1) {
		cause_set(cause, "cannot find the config directory");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/site-id", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, tmp, sizeof(tmp) - 1);
		close(fd);
		if (n < 0)
			n = 0;
		tmp[n] = '\0';
		tmp[strcspn(tmp, "\n")] = '\0';
		if (!siteid_valid(tmp)) {
			cause_set(cause, "%s: not a site id (1-%d "
			    "characters from 0-9 a-z)", path, SITEID_MAX);
			return -1;
		}
		strlcpy(out, tmp, outlen);
		return 0;
	}
	if (errno != ENOENT) {
		cause_set(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		cause_set(cause, "getrandom: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < SITEID_LEN; i++)
		idbuf[i] = digits[rnd[i] % 36];
	idbuf[SITEID_LEN] = '\0';
	if (mkdirs(dir) == -1) {
		cause_set(cause, "%s: %s", dir, strerror(errno));
		return -1;
	}
	/* Written whole under a temporary name, then linked into place:
	 * link() never replaces, so if another process won the race its id
	 * is used, and nobody ever reads a file that is still being written
	 * (an O_EXCL create followed by the write let a second agent starting
	 * at that moment read it empty). */
	if ((size_t)snprintf(tmpl, sizeof(tmpl), "%s.XXXXXX", path) >=
	    sizeof(tmpl)) {
		cause_set(cause, "%s: path too long", path);
		return -1;
	}
	if ((fd = mkstemp(tmpl)) == -1) {
		cause_set(cause, "%s: %s", tmpl, strerror(errno));
		return -1;
	}
	n = (ssize_t)strlen(idbuf);
	idbuf[n] = '\n';
	if (write(fd, idbuf, (size_t)n + 1) != n + 1 || fsync(fd) == -1) {
		cause_set(cause, "%s: %s", tmpl, strerror(errno));
		close(fd);
		unlink(tmpl);
		return -1;
	}
	idbuf[n] = '\0';
	close(fd);
	r = link(tmpl, path);
	saved = errno;
	unlink(tmpl);
	if (r == -1) {
		if (saved == EEXIST)
			return siteid_load(out, outlen, cause);
		cause_set(cause, "%s: %s", path, strerror(saved));
		return -1;
	}
	strlcpy(out, idbuf, outlen);
	return 0;
}
