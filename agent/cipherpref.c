/* The master's cipher when the user chose none. OpenSSH puts
 * chacha20-poly1305 first; on a CPU with AES instructions AES-GCM moves
 * the same bytes for a fraction of the CPU, and a splice's bulk transfers
 * are bound by it. The preference applies only where no configuration
 * (the user's, the system's, or ssh-option) names Ciphers: `ssh -G` with
 * and without the configuration files tells, so a policy such as a
 * distribution's crypto settings or a user's Host block always wins.
 * Everything here runs in the forked child before it executes ssh, where
 * blocking on `ssh -G` delays nothing but this one master. */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(HAVE_SYS_AUXV_H)
#include <sys/auxv.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "agent.h"

#define CIPHERPREF_OUTMAX	65536
#define CIPHERPREF_GCM		"aes128-gcm@openssh.com"

const char cipherpref_opt[] =
    "Ciphers=^aes128-gcm@openssh.com,aes256-gcm@openssh.com";

int
cipherpref_cpu_has_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned int a, b, c, d;

	if (__get_cpuid(1, &a, &b, &c, &d) == 0)
		return 0;
	return (c & bit_AES) != 0;
#elif defined(__aarch64__) && defined(__APPLE__)
	return 1;	/* every Apple arm64 CPU has the AES extension */
#elif defined(__aarch64__) && defined(HAVE_SYS_AUXV_H) && defined(HWCAP_AES)
	return (getauxval(AT_HWCAP) & HWCAP_AES) != 0;
#else
	return 0;
#endif
}

/* Run ARGV with stdin and stderr on /dev/null; its stdout, NUL-terminated,
 * in a malloc'ed buffer (at most CIPHERPREF_OUTMAX bytes), or NULL. */
static char *
run_capture(char *const argv[])
{
	char *out;
	size_t len = 0;
	ssize_t n;
	int p[2], status, devnull;
	pid_t pid;

	if (pipe(p) == -1)
		return NULL;
	if ((out = malloc(CIPHERPREF_OUTMAX + 1)) == NULL) {
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	switch ((pid = fork())) {
	case -1:
		close(p[0]);
		close(p[1]);
		free(out);
		return NULL;
	case 0:
		if ((devnull = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(devnull, STDIN_FILENO) == -1 ||
		    dup2(p[1], STDOUT_FILENO) == -1 ||
		    dup2(devnull, STDERR_FILENO) == -1)
			_exit(127);
		closefrom(STDERR_FILENO + 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (len < CIPHERPREF_OUTMAX) {
		n = read(p[0], out + len, CIPHERPREF_OUTMAX - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

/* The value of the "ciphers" line of `ssh -G` output, in place. */
static const char *
ciphers_line(char *out)
{
	char *line, *next;

	for (line = out; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strncmp(line, "ciphers ", 8) == 0)
			return line + 8;
	}
	return NULL;
}

int
cipherpref_applies(const char *ssh, const char *destination,
    char *const *options, size_t noptions)
{
	char *argv[8], *configured = NULL, *builtin = NULL, *list = NULL;
	const char *a, *b;
	char *p;
	size_t i;
	int ok = 0;

	for (i = 0; i < noptions; i++)
		if (strncasecmp(options[i], "Ciphers", 7) == 0 &&
		    strchr("= \t", options[i][7]) != NULL)
			return 0;
	if (!cipherpref_cpu_has_aes())
		return 0;
	argv[0] = (char *)ssh;
	argv[1] = "-Q";
	argv[2] = "cipher";
	argv[3] = NULL;
	if ((list = run_capture(argv)) == NULL)
		goto out;
	for (p = strtok(list, "\n"); p != NULL; p = strtok(NULL, "\n"))
		if (strcmp(p, CIPHERPREF_GCM) == 0)
			break;
	if (p == NULL)
		goto out;
	argv[1] = "-G";
	argv[2] = "--";
	argv[3] = (char *)destination;
	argv[4] = NULL;
	if ((configured = run_capture(argv)) == NULL)
		goto out;
	argv[2] = "-F";
	argv[3] = "/dev/null";
	argv[4] = "--";
	argv[5] = (char *)destination;
	argv[6] = NULL;
	if ((builtin = run_capture(argv)) == NULL)
		goto out;
	a = ciphers_line(configured);
	b = ciphers_line(builtin);
	ok = a != NULL && b != NULL && strcmp(a, b) == 0;
 out:
	free(list);
	free(configured);
	free(builtin);
	return ok;
}
