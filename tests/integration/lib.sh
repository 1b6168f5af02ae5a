# shellcheck shell=bash
#
# tests/integration/lib.sh -- tiny helpers for integration test scripts.
#
# Each script is one automake test: exit 0 = PASS, 77 = SKIP, anything else
# = FAIL.  Checks print TAP-like lines into the test's log:
#
#   . "$(dirname "$0")/lib.sh"
#   t_require_root
#   t_ok [ "$x" = 3 ] "x is 3"               # CMD... MESSAGE: the last
#   t_ok lab_seen arelay _http._tcp web "seen"  #   argument is the message
#   t_ok eval 'a | grep -q b' "b in a"       # pipelines and such: eval
#   t_nok lab_seen brelay _http._tcp web "not seen on LAN B"
#   t_done                                   # prints 1..N, exits 0 or 1
#
# Commands run directly (no eval unless you ask for it), so lab.sh functions
# and quoted arguments work as they are.

T_N=0
T_FAILED=0

# t_diag TEXT... -- a comment line in the log.
t_diag() {
	printf '# %s\n' "$*"
}

# t_pass MESSAGE / t_fail MESSAGE -- record a result directly.
t_pass() {
	T_N=$((T_N + 1))
	printf 'ok %d - %s\n' "$T_N" "$1"
}

t_fail() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	printf 'not ok %d - %s\n' "$T_N" "$1"
}

# t_ok CMD... MESSAGE -- pass if CMD succeeds.
t_ok() {
	local msg
	if [ "$#" -lt 2 ]; then
		t_fail "t_ok needs a command and a message: t_ok $*"
		return 1
	fi
	msg=${!#}
	set -- "${@:1:$#-1}"
	if "$@"; then
		t_pass "$msg"
	else
		t_fail "$msg"
		return 1
	fi
}

# t_nok CMD... MESSAGE -- pass if CMD fails.
t_nok() {
	local msg
	if [ "$#" -lt 2 ]; then
		t_fail "t_nok needs a command and a message: t_nok $*"
		return 1
	fi
	msg=${!#}
	set -- "${@:1:$#-1}"
	if "$@"; then
		t_fail "$msg"
		return 1
	else
		t_pass "$msg"
	fi
}

# t_skip_one MESSAGE REASON -- one check that cannot run here.
t_skip_one() {
	T_N=$((T_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$T_N" "$1" "$2"
}

# t_skip REASON -- skip the whole script (exit 77).
t_skip() {
	printf '1..0 # SKIP %s\n' "$1"
	exit 77
}

# t_require_lab -- skip unless the lab can run here (root, and the tools
# lab_require checks for); lab.sh must be sourced before the call.
t_require_lab() {
	local reason
	t_require_root
	if ! reason=$(lab_require 2>&1); then
		t_skip "${reason#lab: }"
	fi
}

# t_require_root -- skip unless root (the lab needs namespaces).
t_require_root() {
	if [ "${RNSPLICE_LAB:-}" = skip ]; then
		t_skip "RNSPLICE_LAB=skip (the lab tests ran in the main build)"
	fi
	if [ "$(id -u)" != 0 ]; then
		t_skip "needs root (network namespaces)"
	fi
}

# t_bail REASON -- stop now, as a failure (setup went wrong).
t_bail() {
	printf 'Bail out! %s\n' "$1"
	exit 99
}

# t_done -- the plan line, then exit 0 if every check passed, else 1.
t_done() {
	printf '1..%d\n' "$T_N"
	if [ "$T_FAILED" -ne 0 ]; then
		t_diag "$T_FAILED of $T_N checks failed"
		exit 1
	fi
	exit 0
}
