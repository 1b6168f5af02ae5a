# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the scripts that source this file
#
# tests/integration/lib.sh -- helpers for integration test scripts.
#
# Each script is one automake test (one behaviour, as in tmux's and
# OpenSSH's regress suites): exit 0 = PASS, 77 = SKIP, anything else =
# FAIL.  Checks print TAP-like lines into the test's log:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/../lab/lab.sh"     # lab_* (see the top of lab.sh)
#   t_require_lab                         # root and the lab's tools, else skip
#   t_ok [ "$x" = 3 ] "x is 3"               # CMD... MESSAGE: the last
#   t_ok lab_seen arelay _http._tcp web "seen"  #   argument is the message
#   t_ok eval 'a | grep -q b' "b in a"       # pipelines and such: eval
#   t_nok lab_seen brelay _http._tcp web "not seen on LAN B"
#   t_done                                   # prints 1..N, exits 0 or 1
#
# Commands run directly (no eval unless you ask for it), so lab.sh functions
# and quoted arguments work as they are.
#
# Index (each is described where it is defined):
#   results       t_ok CMD... MSG   t_nok CMD... MSG   t_pass MSG   t_fail MSG
#                 t_skip_one MSG WHY   t_diag TEXT   t_done
#   whole script  t_skip WHY   t_bail WHY   t_require_root   t_require_lab
#                 t_require_programs FILE...
#   programs      $T_AGENT $T_CLI $T_SUB (RNSPLICE_AGENT, RNSPLICE_CLI,
#                 RNSPLICE_SUBSYSTEM, or RNSPLICE_INSTALLED/..., else the build's)
#   the agent     t_agent HOST PIDFILE LOG [VAR=VAL...] ARGS...  in a lab host
#                 t_agent_fake DIR ARGS...             no root: fake ssh
#                 t_agent_state HOST SOCK REMOTE       its state, e.g. synced
#                 t_wait_state SECS HOST SOCK REMOTE STATE
#   fake peers    t_fake_init DIR SERVER: tests/integration/fake-ssh and
#                 fake-mux.py stand in for ssh and its master
#   the lab       t_port_of TYPE NAME [ADDR]   the port bcli resolves NAME at
#   logs          t_logged FILE PATTERN   (grep -q -- PATTERN FILE)
#   the machine   t_passwd CMD...   useradd/usermod/userdel, one at a time
#
# A new test: one behaviour per script, named for it (agent-peers.sh,
# faults-wan.sh); list it in Makefile.am's group (its *_TESTS variable).
# Scripts of one family share their set-up through a sourced file that
# is not a test itself (faults-lib.sh, subsystem-lib.sh, multistage-lib.sh:
# lab, programs and helpers, then the script checks its behaviour).  Tests
# run in parallel (make -j): use the lab's unique names and nothing fixed
# on the machine (users through t_passwd, ports chosen by the kernel).
# Wait for a condition (lab_wait_for, t_wait_state), never a fixed sleep,
# except for a window in which nothing may happen.
#
# Patterns.  A grep for "REMOTE: something" also matches "xREMOTE: something"
# ("flood: synced" is in "badflood: synced"): anchor names in log lines with
# "]: REMOTE: ", in rnsplice output with "^REMOTE", in JSON with
# "\"name\":\"REMOTE\"".

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

# ---------------------------------------------------------------------------
# The programs under test.  RNSPLICE_INSTALLED=PREFIX (tests/debian.sh)
# or RNSPLICE_AGENT / RNSPLICE_CLI / RNSPLICE_SUBSYSTEM pick installed ones.
: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
if [ -n "${RNSPLICE_INSTALLED:-}" ]; then
	T_AGENT=${RNSPLICE_AGENT:-$RNSPLICE_INSTALLED/bin/rnsplice-agent}
	T_CLI=${RNSPLICE_CLI:-$RNSPLICE_INSTALLED/bin/rnsplice}
	T_SUB=${RNSPLICE_SUBSYSTEM:-$RNSPLICE_INSTALLED/libexec/rnsplice-subsystem}
else
	T_AGENT=${RNSPLICE_AGENT:-$top_builddir/agent/rnsplice-agent}
	T_CLI=${RNSPLICE_CLI:-$top_builddir/agent/rnsplice}
	T_SUB=${RNSPLICE_SUBSYSTEM:-$top_builddir/subsystem/rnsplice-subsystem}
fi
T_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# t_require_programs FILE... -- skip unless each FILE is an executable.
t_require_programs() {
	local f
	for f; do
		[ -x "$f" ] || t_skip "$f not built"
	done
}

# t_passwd CMD... -- run CMD (useradd, usermod, userdel) holding the lock
# $T_PASSWD_LOCK: make -j runs tests in parallel, and two tools changing
# /etc/passwd at once fail ("cannot lock /etc/passwd").  Code for
# lab_atexit -k runs without this file: write the flock command out there.
T_PASSWD_LOCK=/run/lock/rnsplice-tests-passwd.lock
[ -d /run/lock ] && [ -w /run/lock ] || T_PASSWD_LOCK=/tmp/rnsplice-tests-passwd.lock
t_passwd() {
	flock -w 120 "$T_PASSWD_LOCK" "$@"
}

# t_logged FILE PATTERN -- true if PATTERN (grep) is in FILE.
t_logged() {
	grep -q -- "$2" "$1"
}

# t_agent HOST PIDFILE LOG [NAME=VALUE...] ARGS... -- start "rnsplice-agent
# -d ARGS" in lab host HOST, in the background, with the environment
# variables NAME=VALUE; output to LOG, its pid to PIDFILE and to
# T_AGENT_PID.  Its runtime dir is the host's /run, so without -S its
# control socket is /run/rnsplice/agent.sock.  Stop it with lab_stop or
# lab_kill; lab_cleanup ends it in any case.
t_agent() {
	local host=$1 pidfile=$2 log=$3 envs=(XDG_RUNTIME_DIR=/run)
	shift 3
	while [ "$#" -gt 0 ] && [[ $1 == [A-Za-z_]*=* ]]; do
		envs+=("$1")
		shift
	done
	T_AGENT_PID=
	lab_bg "$host" "$pidfile" env "${envs[@]}" "$T_AGENT" -d "$@" \
		>"$log" 2>&1 || return 1
	read -r T_AGENT_PID <"$pidfile"
}

# t_fake_init DIR SERVER -- the fake ssh for t_agent_fake: the agent's
# "ssh ... -S CTL ... DEST rnsplice" runs tests/integration/fake-ssh, which
# answers the mux protocol's ALIVE_CHECK on CTL (fake-mux.py) and runs
# SERVER DEST DIR/DEST.in with the session on its stdin and stdout (SERVER
# records what the agent sends in DIR/DEST.in).  FAKE_NOMUX="DEST ..." names
# destinations that get no control socket; FAKE_MOVING="DEST ..." those
# whose fake ssh moves bytes of its own (8 kB per 0.2 s, one line each in
# DIR/DEST.moved) while DIR/DEST.moving exists, as a master carrying a
# transfer does.  Needs python3.
t_fake_init() {
	FAKE_DIR=$1
	FAKE_SERVER=$2
	# the interpreter itself, not a wrapper (a pyenv shim takes seconds to
	# start on a loaded machine: longer than the agent waits for a greeting)
	FAKE_PY=$(python3 -c 'import sys; print(sys.executable)') ||
		t_bail "python3 does not run"
	: "${FAKE_NOMUX:=}" "${FAKE_MOVING:=}"
	export FAKE_DIR FAKE_SERVER FAKE_PY FAKE_NOMUX FAKE_MOVING
}

# t_agent_fake DIR ARGS... -- start "rnsplice-agent -d -v -S DIR/ctl.sock
# ARGS" without root or lab: ssh is the fake of t_fake_init, the runtime
# dir is DIR, D-Bus points nowhere (it publishes nothing).  Output to
# DIR/agent.log, pid in T_AGENT_PID, recorded in the lab (lab_init -w
# first) so that lab_kill accepts it and lab_cleanup ends it.  Programs in
# the array T_AGENT_WRAP (e.g. setpriv ... --) are put in front.
t_agent_fake() {
	local dir=$1
	shift
	[ -n "${FAKE_SERVER:-}" ] || t_bail "t_agent_fake: t_fake_init first"
	RNSPLICE_SSH=$T_HERE/fake-ssh XDG_RUNTIME_DIR=$dir \
		DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/no-bus \
		${T_AGENT_WRAP[@]+"${T_AGENT_WRAP[@]}"} "$T_AGENT" -d -v \
		-S "$dir/ctl.sock" "$@" >"$dir/agent.log" 2>&1 &
	T_AGENT_PID=$!
	lab_record "$T_AGENT_PID"
}

# t_agent_state HOST SOCK REMOTE -- print REMOTE's state ("synced", ...)
# from "rnsplice -S SOCK --json status", run in lab host HOST (or here if
# HOST is -).
t_agent_state() {
	local host=$1 sock=$2 remote=$3
	if [ "$host" = - ]; then
		"$T_CLI" -S "$sock" --json status 2>/dev/null
	else
		lab_exec "$host" "$T_CLI" -S "$sock" --json status 2>/dev/null
	fi | grep -o "\"name\":\"$remote\"[^}]*" | head -n 1 |
		grep -o '"state":"[^"]*"' | cut -d'"' -f4
}

# t_wait_state SECONDS HOST SOCK REMOTE STATE -- wait until REMOTE's state
# is STATE (see t_agent_state); 1 if it is not within SECONDS.
t_wait_state() {
	local secs=$1
	shift
	lab_wait_for "$secs" t__state_is "$@"
}

t__state_is() {
	[ "$(t_agent_state "$1" "$2" "$3")" = "$4" ]
}

# t_port_of TYPE NAME [ADDR] -- the port at which bcli (the standard
# topology's LAN B client) resolves the service NAME of TYPE on eth0 over
# IPv4 at ADDR (default 10.2.0.1, brelay's LAN address); empty if none.
t_port_of() {
	lab_browse bcli "$1" 2>/dev/null | lab_browse_get "$2" eth0 IPv4 |
		awk -F';' -v a="${3:-10.2.0.1}" '$4 == a { print $5; exit }'
}
