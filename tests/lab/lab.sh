#!/bin/bash
# shellcheck shell=bash
#
# tests/lab/lab.sh -- a small internet inside one machine, for rnsplice tests.
#
# Run as a program (root):
#   tests/lab/lab.sh clean            remove runs left by killed tests
#   tests/lab/lab.sh leftovers DIR... list processes running from DIR and
#                                     runs started from DIR; 1 if any
#
# Source this file from bash (safe under set -u, set -e and pipefail), then:
#
#   lab_init                         # run id, work dir, cleanup traps; 77 = skip
#                                    #   (lab_init -w: work dir and traps only)
#   lab_host NAME / lab_hosts NAME...   # hosts: netns + private /run and /root
#                                    #   + own dbus-daemon and avahi-daemon
#   lab_lan LAN PREFIX HOST[:IF]...  # a switched LAN (bridge in its own netns)
#   lab_wan HOST1 HOST2 PREFIX       # a point-to-point WAN leg (wanN)
#   lab_sshd HOST [EXTRA_CONFIG]     # sshd with its own key and config
#   lab_ssh_client CLI ALIAS SRV ADDR   # key, authorized_keys, ~/.ssh/config
#   ... test ...
#   lab_cleanup                      # also runs by itself on EXIT INT TERM HUP
#
# or simply: lab_init && lab_topology_basic.  Index of the other functions:
#   run in a host    lab_exec HOST CMD...   lab_bg HOST PIDFILE CMD...
#                    lab_stop PID...        lab_holder HOST   lab_ns HOST
#   addresses        lab_addr HOST [IF]
#   sshd             lab_sshd_stop HOST [--sessions]   lab_sshd_restart HOST
#   avahi            lab_avahi_start|stop|restart HOST   lab_avahi_state HOST
#                    lab_wait_avahi HOST...
#   services         lab_http HOST PORT DIR [ADDR]   lab_publish HOST NAME
#                    TYPE PORT [TXT...]   lab_wait_published PID
#                    lab_unpublish PID
#   browsing         lab_browse HOST TYPE | lab_browse_count NAME [IF [PROTO]]
#                    lab_browse_get NAME [IF [PROTO]]   lab_seen HOST TYPE NAME
#                    lab_watch HOST TYPE   lab_watch_count PID NAME
#                    lab_watch_seen PID NAME   lab_watch_times PID EV NAME
#                    lab_unwatch PID
#   processes        lab_kill SIG PID EXE   lab_record PID
#   misc             lab_wait_for SECONDS CMD...   lab_atexit [-k] CODE
#                    lab_namespaces   lab_pids   lab_require
#
# Killing.  A test signals a process only through lab_kill (or lab_stop for
# what lab_bg started): a numeric pid > 1 that runs EXE and belongs to this
# lab (recorded, a descendant of a recorded process, or inside one of the
# lab's namespaces).  Anything else is refused with a message and status 1,
# so a pid read from a status that says 0 or nothing is a test failure,
# never "kill 0".
#
# Cleaning up.  lab_init traps EXIT INT TERM HUP once; tests add their own
# cleanup with lab_atexit [-k] CODE (never with trap, which would replace the
# lab's).  A run killed with SIGKILL leaves its work dir behind with the
# pid of its owner; the next lab_init, or by hand
#   tests/lab/lab.sh clean
# ends such a run's recorded processes and those in its namespaces, deletes
# its namespaces and its work dir.  tests/lab/lab.sh leftovers DIR... lists
# processes running from DIR and namespaces of runs started from DIR (make
# check's last test).
#
# A child process (a demo script, a benchmark in another language calling
# back into bash) that sources this file with LAB_ID and LAB_DIR in its
# environment works on the same lab: it must not call lab_init or
# lab_cleanup itself.
#
# Order.  Hosts first, links after, in any order.  A host's avahi-daemon is
# started by lab_host, before any link exists: avahi follows interfaces and
# addresses through netlink, so LAN links added later are picked up without
# a restart.  WAN legs are always named wan0..wan$((LAB_WAN_MAX-1)) and every
# host's avahi denies all of those names from the start, so mDNS can never
# leak across a WAN leg and no restart is needed when one is added either.
# To change avahi's interface filter afterwards, set LAB_AVAHI_ALLOW /
# LAB_AVAHI_DENY and call lab_avahi_restart HOST.
#
# What a host is.  A network namespace "rns$LAB_ID-NAME" plus a long-lived
# holder process (sleep) living in it and in a private mount namespace where
#   /run                 is a fresh tmpfs (own dbus socket, avahi pid, /run/sshd)
#   /root                is $LAB_DIR/NAME/home (own ~/.ssh, no shell rc files)
#   /etc/avahi/services  is empty (the machine's static services stay out)
# Everything else (/usr, /etc, /tmp, $LAB_DIR) is shared with the machine, so
# $LAB_DIR paths work unchanged inside hosts; /run and /root paths do not,
# with one exception: the source and build trees (top_srcdir, top_builddir)
# when they lie under /root (a clone in root's home) are bound at the same
# path inside the host's /root, so their programs run in hosts too.
# Programs enter a host with nsenter -t HOLDER -n -m (lab_exec, lab_bg).
#
# Rules this file keeps:
#   - nothing is ever configured in the machine's own network namespace: every
#     interface is created directly inside a lab namespace, no routes between
#     LANs, ip_forward stays 0; only loopback and lab addresses carry traffic;
#   - every process started is recorded in $LAB_DIR/pids as "PID STARTTIME"
#     and is killed by PID only (the start time guards against PID reuse);
#   - all state lives in files under $LAB_DIR, never in shell variables, so
#     the functions also work from $(...) and background subshells.
#
# Environment (all optional):
#   TMPDIR              where the work dir goes (under /run or /root, which
#                       hosts cannot see, /tmp is used instead)
#   LAB_KEEP=1          keep $LAB_DIR after cleanup (logs, configs, keys)
#   LAB_TIMEOUT         seconds to wait for daemons to come up (default 10)
#   LAB_PATH            PATH inside hosts (default: the standard system dirs)
#   LAB_AVAHI_ALLOW     avahi allow-interfaces for hosts started afterwards
#   LAB_AVAHI_WIDE_AREA yes: wide-area (unicast DNS-SD) browsing, for hosts
#                       started or avahi-restarted afterwards
#   LAB_AVAHI_DENY      extra avahi deny-interfaces (wanN are always denied)
#   LAB_AVAHI_OBJECTS   avahi objects-per-client-max (default avahi's, 1024),
#                       for hosts started or avahi-restarted afterwards
#   LAB_AVAHI_DEBUG=1   run avahi-daemon with --debug
#   top_builddir        build tree root (default: this repository's root)
#   RNSPLICE_SUBSYSTEM  sshd's "Subsystem rnsplice" program
#                       (default: $top_builddir/subsystem/rnsplice-subsystem)
#   LAB_NO_SUBSYSTEM=1  lab_sshd writes no "Subsystem rnsplice" line
#   RNSPLICE_INSTALLED  a prefix (/usr): RNSPLICE_SUBSYSTEM, RNSPLICE_AGENT
#                       and RNSPLICE_CLI default to the programs under it

if [ -n "${LAB_SH_LOADED:-}" ]; then
	return 0
fi
LAB_SH_LOADED=1

LAB_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${top_builddir:=$(cd "$LAB_SRCDIR/../.." && pwd)}"
# sshd starts the subsystem from the user's home: only absolute paths work.
case $top_builddir in
/*) ;;
*) top_builddir=$PWD/$top_builddir ;;
esac
# RNSPLICE_INSTALLED=PREFIX: test installed programs (PREFIX/bin,
# PREFIX/libexec, e.g. /usr or an unpacked .deb's usr), not the build's.
if [ -n "${RNSPLICE_INSTALLED:-}" ]; then
	: "${RNSPLICE_SUBSYSTEM:=$RNSPLICE_INSTALLED/libexec/rnsplice-subsystem}"
	: "${RNSPLICE_AGENT:=$RNSPLICE_INSTALLED/bin/rnsplice-agent}"
	: "${RNSPLICE_CLI:=$RNSPLICE_INSTALLED/bin/rnsplice}"
fi
: "${RNSPLICE_SUBSYSTEM:=$top_builddir/subsystem/rnsplice-subsystem}"
case $RNSPLICE_SUBSYSTEM in
/*) ;;
*) RNSPLICE_SUBSYSTEM=$PWD/$RNSPLICE_SUBSYSTEM ;;
esac
# The trees a test runs programs from; those under /root are bound into each
# host's private /root (see "What a host is").  Only the outermost of nested
# trees is kept.
lab__trees() {
	local t u keep out=() cand=()
	for t in "${top_srcdir:-}" "$top_builddir" "$LAB_SRCDIR/../.." \
		"$(dirname "$RNSPLICE_SUBSYSTEM")"; do
		[ -n "$t" ] || continue
		t=$(cd "$t" 2>/dev/null && pwd -P) || continue
		case $t in
		/root/?*) cand+=("$t") ;;
		esac
	done
	for t in "${cand[@]}"; do
		keep=1
		for u in "${cand[@]}" "${out[@]}"; do
			case $t in
			"$u"/*) keep=0 ;;
			esac
		done
		for u in "${out[@]}"; do
			[ "$t" != "$u" ] || keep=0
		done
		[ "$keep" = 0 ] || out+=("$t")
	done
	LAB__TREES=("${out[@]}")
}
lab__trees

# The work dir must be visible inside hosts, which have their own /run and
# /root.
case ${TMPDIR:-/tmp} in
/run | /run/* | /root | /root/*) export TMPDIR=/tmp ;;
esac

# The machine's PATH may point into /root (pyenv, cargo ...), which a host
# cannot see; inside hosts use the plain system directories.
: "${LAB_PATH:=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}"
: "${LAB_TIMEOUT:=10}"
LAB_WAN_MAX=8
LAB_ID=${LAB_ID:-}
LAB_DIR=${LAB_DIR:-}

# ---------------------------------------------------------------------------
# Internal helpers (lab__*).  They report through return codes and stderr.

lab__err() {
	printf 'lab: %s\n' "$*" >&2
	return 1
}

# lab__now_ms VAR -- current time in milliseconds, into VAR (no subshell).
lab__now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	printf -v "$1" '%d' "$((10#$t / 1000))"
}

# lab__to_ms VAR SECONDS -- "3", "0.5", "2.25" -> milliseconds, into VAR.
lab__to_ms() {
	local s=$2 int frac
	case $s in
	'' | *[!0-9.]* | *.*.*) lab__err "bad number of seconds: '$s'"; return 1 ;;
	esac
	int=${s%%.*}
	frac=000
	if [ "$int" != "$s" ]; then
		frac=${s#*.}000
	fi
	printf -v "$1" '%d' "$((10#${int:-0} * 1000 + 10#${frac:0:3}))"
}

# lab__proc_stat PID -- sets LAB__STATE and LAB__START from /proc/PID/stat;
# fails if the process does not exist.  The command name (field 2) may hold
# spaces and parentheses, so split after the last ')'.
lab__proc_stat() {
	local line rest
	read -r line 2>/dev/null </proc/"$1"/stat || return 1
	rest=${line##*) }
	# shellcheck disable=SC2086
	set -- $rest
	LAB__STATE=$1
	LAB__PPID=$2
	LAB__START=${20}
}

# lab__alive PID [STARTTIME] -- true while PID runs (zombies are gone) and,
# if STARTTIME is given, is still the process that was recorded.
lab__alive() {
	lab__proc_stat "$1" || return 1
	case $LAB__STATE in
	Z | X | x) return 1 ;;
	esac
	[ -z "${2:-}" ] || [ "$2" = "$LAB__START" ]
}

# lab__record PID -- remember a process for lab_cleanup.  One short append is
# one write(), so concurrent subshells do not interleave lines.
lab__record() {
	local start=
	if lab__proc_stat "$1"; then
		start=$LAB__START
	fi
	printf '%s %s\n' "$1" "$start" >>"$LAB_DIR/pids"
}

lab__need_init() {
	if [ -z "$LAB_ID" ] || [ ! -d "$LAB_DIR" ]; then
		lab__err "call lab_init first"
		return 1
	fi
}

# lab__check_name WHAT NAME -- names become netns names, interface names and
# avahi host names: letters, digits and '-' (hosts: lower case only).
lab__check_name() {
	local bad='*[!a-z0-9-]*'
	[ "$1" = host ] || bad='*[!A-Za-z0-9-]*'
	# shellcheck disable=SC2254  # $bad is a pattern
	case $2 in
	'' | -* | $bad)
		lab__err "bad $1 name '$2' (use letters, digits and '-')"
		return 1
		;;
	esac
	if [ "${#2}" -gt 20 ]; then
		lab__err "$1 name '$2' is longer than 20 characters"
		return 1
	fi
}

# lab__holder NAME -- sets LAB__HOLDER to the holder PID of host NAME.
lab__holder() {
	LAB__HOLDER=
	if [ -z "${1:-}" ] || [ ! -r "$LAB_DIR/$1/holder.pid" ]; then
		lab__err "no such host '${1:-}'"
		return 1
	fi
	read -r LAB__HOLDER <"$LAB_DIR/$1/holder.pid"
}

# lab__wd -- working directory to use inside a host: the caller's, unless it
# lies where the host sees something else (/run, /root but the trees).
lab__wd() {
	local t
	case $PWD in
	/run | /run/* | /root | /root/*) LAB__WD=/ ;;
	*) LAB__WD=$PWD; return 0 ;;
	esac
	for t in "${LAB__TREES[@]}"; do
		case $PWD/ in
		"$t"/*) LAB__WD=$PWD ;;
		esac
	done
}

# lab__hostenv NAME -- the environment of programs run inside a host.  Only
# call this in a subshell: it changes the caller's environment.
lab__hostenv() {
	unset SSH_AUTH_SOCK SSH_AGENT_PID DBUS_SESSION_BUS_ADDRESS
	# /run is the host's own tmpfs: per-user runtime files (the agent's
	# control socket) stay inside the host, as on a real machine
	export HOME=/root PATH="$LAB_PATH" LAB_HOST="$1" XDG_RUNTIME_DIR=/run
	export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
}

# lab__wait_ms MS CMD... -- like lab_wait_for but with a finer step (20 ms)
# for the lab's own start-up waits.
lab__wait_ms() {
	local limit=$1 now deadline
	shift
	lab__now_ms now
	deadline=$((now + limit))
	while :; do
		"$@" && return 0
		lab__now_ms now
		[ "$now" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

lab__timeout_ms() {
	lab__to_ms LAB__TMO "$LAB_TIMEOUT"
}

# lab__tail FILE -- show the end of a log after a failure.
lab__tail() {
	if [ -s "$1" ]; then
		printf 'lab: --- last lines of %s ---\n' "$1" >&2
		tail -n 15 "$1" | sed 's/^/lab: | /' >&2
	fi
}

# ---------------------------------------------------------------------------
# Setup and teardown.

# lab_require -- 0 if the lab can run here; 77 with a one-line reason if not.
lab_require() {
	local tool pkg
	if [ "$(id -u)" != 0 ]; then
		echo "lab: needs root (network and mount namespaces)" >&2
		return 77
	fi
	for tool in ip:iproute2 nsenter:util-linux unshare:util-linux \
		dbus-daemon:dbus dbus-send:dbus avahi-daemon:avahi-daemon \
		avahi-browse:avahi-utils avahi-publish:avahi-utils \
		sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client; do
		pkg=${tool#*:}
		tool=${tool%%:*}
		if ! PATH=$LAB_PATH command -v "$tool" >/dev/null 2>&1; then
			echo "lab: $tool not found (apt-get install $pkg)" >&2
			return 77
		fi
	done
	if ! unshare -n true 2>/dev/null; then
		echo "lab: cannot create network namespaces here" >&2
		return 77
	fi
	return 0
}

# lab__base -- sets LAB__BASE to the directory of the work dirs.
lab__base() {
	LAB__BASE=$(cd "${TMPDIR:-/tmp}" 2>/dev/null && pwd -P) || {
		lab__err "TMPDIR '${TMPDIR:-/tmp}' does not exist"
		return 1
	}
	case $LAB__BASE in
	/run | /run/* | /root | /root/*)
		lab__err "TMPDIR=$LAB__BASE is hidden inside lab hosts; use e.g. TMPDIR=/tmp"
		return 1
		;;
	esac
}

# lab_init [-w] -- new run id and work dir, exported as LAB_ID and LAB_DIR;
# traps EXIT INT TERM HUP to lab_cleanup.  Returns 77 (with a reason) to
# skip.  With -w only the work dir, lab_atexit, lab_record and lab_kill are
# set up (no root needed); a later lab_init without -w in the same shell
# checks lab_require and keeps that work dir.  Before a new run starts,
# runs left by killed test scripts are removed (lab_clean).
# shellcheck disable=SC2120  # -w is optional
lab_init() {
	local rc=0 base tries=0 start=
	if [ "${1:-}" != -w ]; then
		lab_require || rc=$?
		[ "$rc" -eq 0 ] || return "$rc"
		if [ -n "${LAB__WORKONLY:-}" ] && [ -d "$LAB_DIR" ]; then
			LAB__WORKONLY=
			return 0
		fi
		lab_clean
	fi
	lab__base || return 1
	base=$LAB__BASE
	while :; do
		LAB_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
		LAB_DIR=$base/rnsplice-lab.$LAB_ID
		mkdir -m 0755 "$LAB_DIR" 2>/dev/null && break
		tries=$((tries + 1))
		if [ "$tries" -ge 5 ]; then
			lab__err "cannot create a work dir in $base"
			return 1
		fi
	done
	export LAB_ID LAB_DIR
	: >"$LAB_DIR/pids"
	: >"$LAB_DIR/atexit"
	# who owns the run (lab_clean removes runs whose owner is gone) and
	# where its programs come from (lab.sh leftovers)
	if lab__proc_stat "$BASHPID"; then
		start=$LAB__START
	fi
	printf '%s\n' "$top_builddir" >"$LAB_DIR/build"
	printf '%s %s\n' "$BASHPID" "$start" >"$LAB_DIR/owner"
	LAB__WORKONLY=
	[ "${1:-}" != -w ] || LAB__WORKONLY=1
	LAB_CLEANED=
	trap 'lab_cleanup' EXIT
	trap 'lab_cleanup; exit 130' INT
	trap 'lab_cleanup; exit 143' TERM
	trap 'lab_cleanup; exit 129' HUP
}

# lab_atexit [-k] SHELL-CODE -- run SHELL-CODE (with eval) at the start of
# lab_cleanup, e.g. to print logs of a failed test before they go.  With -k
# also when lab_clean removes the run after its script was killed: for
# self-contained code that undoes a change to the machine (userdel NAME).
lab_atexit() {
	lab__need_init || return 1
	if [ "${1:-}" = -k ]; then
		shift
		printf '%s\n' "$*" >>"$LAB_DIR/atclean"
	fi
	printf '%s\n' "$*" >>"$LAB_DIR/atexit"
}

# lab_namespaces -- the run's network namespaces, one per line.
lab_namespaces() {
	[ -n "$LAB_ID" ] || return 0
	ip netns list 2>/dev/null | while read -r ns _; do
		case $ns in
		"rns$LAB_ID"-*) printf '%s\n' "$ns" ;;
		esac
	done
}

# lab_pids -- every recorded PID still alive, one per line.
lab_pids() {
	local pid start
	[ -n "$LAB_DIR" ] && [ -r "$LAB_DIR/pids" ] || return 0
	while read -r pid start; do
		if lab__alive "$pid" "$start"; then
			printf '%s\n' "$pid"
		fi
	done <"$LAB_DIR/pids"
}

# lab__victims -- "PID STARTTIME" of everything cleanup must end: recorded
# processes and whatever still runs in the run's namespaces.
lab__victims() {
	local ns pid
	if [ -r "$LAB_DIR/pids" ]; then
		cat "$LAB_DIR/pids"
	fi
	for ns in $(lab_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			printf '%s \n' "$pid"
		done
	done
}

# lab__kill_all SIGNAL -- signal every live victim; fails if none was alive.
lab__kill_all() {
	local sig=$1 pid start any=1
	while read -r pid start; do
		if [ -z "$pid" ] || [ "$pid" = $$ ]; then
			continue
		fi
		case $pid in
		*[!0-9]* | 0 | 1) continue ;;
		esac
		if lab__alive "$pid" "$start"; then
			kill -s "$sig" "$pid" 2>/dev/null && any=0
		fi
	done < <(lab__victims)
	return "$any"
}

lab__none_alive() {
	local pid start
	while read -r pid start; do
		if [ -z "$pid" ] || [ "$pid" = $$ ]; then
			continue
		fi
		if lab__alive "$pid" "$start"; then
			return 1
		fi
	done < <(lab__victims)
	return 0
}

# lab_cleanup -- end every process of the run (TERM, then KILL after a short
# grace), delete the run's namespaces and, unless LAB_KEEP=1, its work dir.
# Safe to call any number of times.
lab_cleanup() {
	local code
	[ -n "$LAB_ID" ] || return 0
	if [ -z "${LAB_CLEANED:-}" ] && [ -s "$LAB_DIR/atexit" ]; then
		LAB_CLEANED=1
		while IFS= read -r code; do
			eval "$code" || true
		done <"$LAB_DIR/atexit"
	fi
	LAB_CLEANED=1
	lab__teardown
}

# lab__teardown -- the processes, namespaces and work dir of run $LAB_ID.
# The work dir stays if anything survives, so that lab_clean and
# lab.sh leftovers still find the run.
lab__teardown() {
	local ns left=0
	if lab__kill_all TERM; then
		lab__wait_ms 2000 lab__none_alive || true
	fi
	# Twice: a session may have forked between the listing and the signal.
	if lab__kill_all KILL; then
		lab__wait_ms 2000 lab__none_alive || true
	fi
	if lab__kill_all KILL; then
		lab__wait_ms 2000 lab__none_alive || {
			lab__err "cleanup: processes of run $LAB_ID survive SIGKILL"
			left=1
		}
	fi
	for ns in $(lab_namespaces); do
		ip netns delete "$ns" 2>/dev/null || {
			lab__err "cleanup: cannot delete netns $ns"
			left=1
		}
	done
	if [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ]; then
		if [ "${LAB_KEEP:-0}" = 1 ]; then
			: >"$LAB_DIR/kept"
			printf 'lab: kept %s\n' "$LAB_DIR" >&2
		elif [ "$left" = 1 ]; then
			lab__err "cleanup: keeping $LAB_DIR (tests/lab/lab.sh clean retries)"
		else
			rm -rf -- "$LAB_DIR"
		fi
	fi
	return 0
}

# lab__teardown_run ID DIR -- lab__teardown for another run, then its
# lab_atexit -k code.
lab__teardown_run() {
	local LAB_ID=$1 LAB_DIR=$2 LAB_KEEP=0 code codes=()
	if [ -s "$LAB_DIR/atclean" ]; then
		mapfile -t codes <"$LAB_DIR/atclean"
	fi
	lab__teardown
	for code in "${codes[@]}"; do
		(eval "$code") || true
	done
}

# lab__runs -- the work dirs of every run under the base directory.
lab__runs() {
	local d id
	lab__base 2>/dev/null || return 0
	for d in "$LAB__BASE"/rnsplice-lab.*; do
		id=${d##*/rnsplice-lab.}
		case $id in
		'' | *[!0-9a-f]*) continue ;;
		esac
		[ -d "$d" ] && [ ! -L "$d" ] && printf '%s\n' "$d"
	done
}

# lab__owner_alive DIR -- true while the run's owner (the script that
# called lab_init) runs, or if the run records no owner (not ours to judge).
lab__owner_alive() {
	local pid start
	[ -r "$1/owner" ] || return 0
	read -r pid start <"$1/owner" || return 0
	case $pid in
	'' | *[!0-9]*) return 0 ;;
	esac
	lab__alive "$pid" "$start"
}

# lab_clean -- remove every run whose owner is gone (killed with SIGKILL, or
# its cleanup failed): its recorded processes and those in its namespaces,
# its namespaces rns<id>-*, its work dir.  Runs kept with LAB_KEEP=1 are
# left alone.  Reports each run it removes on stderr.
lab_clean() {
	local d
	for d in $(lab__runs); do
		[ ! -e "$d/kept" ] || continue
		[ "$d" != "${LAB_DIR:-}" ] || continue
		lab__owner_alive "$d" && continue
		lab__err "removing run ${d##*.} left behind by a killed test ($d)"
		lab__teardown_run "${d##*.}" "$d"
	done
	return 0
}

# lab_leftovers DIR... -- print what still runs from DIR (a build or source
# tree) or was left by a lab run started from it: processes whose program
# lies under DIR, runs (work dir, namespaces, processes) whose build tree
# is DIR.  Returns 1 if there is anything.
lab_leftovers() {
	local dir d p exe rc=0 build ns pids
	local -A seen=()
	for dir in "$@"; do
		dir=$(cd "$dir" 2>/dev/null && pwd -P) || continue
		for p in /proc/[0-9]*; do
			exe=$(readlink "$p/exe" 2>/dev/null) || continue
			[ -z "${seen[$p]:-}" ] || continue
			case $exe in
			"$dir"/*)
				seen[$p]=1
				printf 'process %s: %s\n' "${p#/proc/}" \
					"$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
				rc=1
				;;
			esac
		done
		for d in $(lab__runs); do
			build=
			read -r build 2>/dev/null <"$d/build" || continue
			build=$(cd "$build" 2>/dev/null && pwd -P) || continue
			[ "$build" = "$dir" ] || continue
			ns=$(LAB_ID=${d##*.} lab_namespaces | tr '\n' ' ')
			pids=$(LAB_DIR=$d lab_pids | tr '\n' ' ')
			if [ -e "$d/kept" ] && [ -z "$ns$pids" ]; then
				continue
			fi
			printf 'lab run %s (%s): namespaces: %s processes: %s\n' \
				"${d##*.}" "$d" "${ns:-none}" "${pids:-none}"
			rc=1
		done
	done
	return "$rc"
}

# ---------------------------------------------------------------------------
# Hosts.

# The holder: runs as "sh -c SCRIPT lab-holder HOSTDIR [TREE...]" inside the
# host's netns and a fresh private mount namespace, prepares them, then
# sleeps for as long as the host lives.  It writes HOSTDIR/ready once the
# mounts are in place, which is when nsenter into it becomes meaningful.
# Each TREE (under /root) is held on /run/lab-tree/N while the host's own
# home covers /root, then moved to its own path inside that home.
# shellcheck disable=SC2016  # expanded by the holder's sh, not here
LAB__HOLDER_SCRIPT='
set -e
d=$1
shift
mount -t tmpfs -o mode=0755,size=64m lab-run /run
mkdir -p /run/dbus /run/avahi-daemon /run/sshd
i=0
for t; do
	mkdir -p /run/lab-tree/$i
	mount --bind "$t" /run/lab-tree/$i
	i=$((i + 1))
done
mount --bind "$d/home" /root
i=0
for t; do
	mkdir -p "$t"
	mount --move /run/lab-tree/$i "$t"
	rmdir /run/lab-tree/$i
	i=$((i + 1))
done
[ ! -d /run/lab-tree ] || rmdir /run/lab-tree
if [ -d /etc/avahi/services ]; then
	mount --bind "$d/empty" /etc/avahi/services
fi
# The host'"'"'s own avahi-daemon.conf where programs look for it (the agent
# reads its interface filter); lab__avahi_conf rewrites it in place.
if [ -f /etc/avahi/avahi-daemon.conf ]; then
	: >>"$d/avahi-daemon.conf"
	mount --bind "$d/avahi-daemon.conf" /etc/avahi/avahi-daemon.conf
fi
cd /proc/sys/net
# Connection-churn tests leave many TIME_WAIT sockets: reuse them
# and widen the ephemeral range, keeping 1024-9999 free for fixed test ports.
echo 1 >ipv4/tcp_tw_reuse
echo "10000 65535" >ipv4/ip_local_port_range
# A new netns may inherit ip_forward=1 from the machine; LANs never route.
echo 0 >ipv4/ip_forward
if [ -d ipv6 ]; then
	echo 0 >ipv6/conf/all/forwarding
	# No duplicate address detection: link-local addresses are usable at
	# once and avahi never sees a tentative address.  IPv6 stays on.
	echo 0 >ipv6/conf/all/accept_dad
	echo 0 >ipv6/conf/default/accept_dad
fi
ip link set lo up
cd /
: >"$d/ready"
exec sleep infinity
'

# lab__avahi_conf NAME -- write the host's avahi-daemon.conf.
lab__avahi_conf() {
	local name=$1 deny i=0
	deny=
	while [ "$i" -lt "$LAB_WAN_MAX" ]; do
		deny=${deny:+$deny,}wan$i
		i=$((i + 1))
	done
	if [ -n "${LAB_AVAHI_DENY:-}" ]; then
		deny=$deny,${LAB_AVAHI_DENY// /,}
	fi
	{
		echo "# generated by tests/lab/lab.sh for host $name"
		echo "[server]"
		echo "host-name=$name-$LAB_ID"
		echo "domain-name=local"
		echo "use-ipv4=yes"
		echo "use-ipv6=yes"
		if [ -n "${LAB_AVAHI_ALLOW:-}" ]; then
			echo "allow-interfaces=${LAB_AVAHI_ALLOW// /,}"
		fi
		echo "deny-interfaces=$deny"
		echo "enable-dbus=yes"
		if [ -n "${LAB_AVAHI_OBJECTS:-}" ]; then
			echo "objects-per-client-max=$LAB_AVAHI_OBJECTS"
		fi
		# No ratelimit-* keys: a zero interval disables rate limiting.
		echo "[wide-area]"
		# LAB_AVAHI_WIDE_AREA=yes: unicast DNS-SD browsing, through
		# the servers of the host's /etc/resolv.conf
		echo "enable-wide-area=${LAB_AVAHI_WIDE_AREA:-no}"
		echo "[publish]"
		echo "publish-hinfo=no"
		echo "publish-workstation=no"
		echo "[reflector]"
		echo "enable-reflector=no"
	} >"$LAB_DIR/$name/avahi-daemon.conf"
}

# lab__dbus_conf NAME -- a permissive system bus for one host: anyone may own
# any name (avahi takes org.freedesktop.Avahi) and talk to anyone.
lab__dbus_conf() {
	cat >"$LAB_DIR/$1/dbus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- generated by tests/lab/lab.sh: the system bus of one lab host -->
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
  <!-- room for tests with many avahi clients -->
  <limit name="max_completed_connections">4096</limit>
  <limit name="max_connections_per_user">4096</limit>
  <limit name="max_incomplete_connections">256</limit>
</busconfig>
EOF
}

lab__avahi_up() {
	lab_exec "$1" dbus-send --system --print-reply --reply-timeout=500 \
		--dest=org.freedesktop.Avahi / \
		org.freedesktop.Avahi.Server.GetState >/dev/null 2>&1
}

# lab_avahi_start HOST -- (re)generate avahi-daemon.conf and start avahi;
# returns once it answers on D-Bus (it may still be probing its host name:
# see lab_wait_avahi).
lab_avahi_start() {
	local name=${1:-} d pid args
	lab__holder "$name" || return 1
	d=$LAB_DIR/$name
	lab__avahi_conf "$name"
	args=(-f "$d/avahi-daemon.conf" --no-drop-root --no-chroot --no-rlimits)
	if [ "${LAB_AVAHI_DEBUG:-0}" = 1 ]; then
		args+=(--debug)
	fi
	# avahi refuses to start over a stale pid file in the host's /run.
	rm -f "/proc/$LAB__HOLDER/root/run/avahi-daemon/pid"
	lab_bg "$name" "$d/avahi.pid" avahi-daemon "${args[@]}" >>"$d/avahi.log" 2>&1
	read -r pid <"$d/avahi.pid"
	lab__timeout_ms
	if ! lab__wait_ms "$LAB__TMO" lab__avahi_up "$name"; then
		if lab__alive "$pid"; then
			lab__err "$name: avahi-daemon (pid $pid) not on D-Bus after ${LAB_TIMEOUT}s"
		else
			lab__err "$name: avahi-daemon exited"
		fi
		lab__tail "$d/avahi.log"
		return 1
	fi
}

# lab_avahi_stop HOST -- stop the host's avahi-daemon (its clients see the
# daemon go away, as on a real restart).
lab_avahi_stop() {
	local pid
	[ -r "$LAB_DIR/${1:-}/avahi.pid" ] || {
		lab__err "no avahi-daemon on host '${1:-}'"
		return 1
	}
	read -r pid <"$LAB_DIR/$1/avahi.pid"
	lab__stop_pid "$pid"
}

lab_avahi_restart() {
	lab_avahi_stop "${1:-}" && lab_avahi_start "${1:-}"
}

# lab_avahi_state HOST -- print avahi's server state (2 = running).
lab_avahi_state() {
	lab_exec "${1:-}" dbus-send --system --print-reply --dest=org.freedesktop.Avahi \
		/ org.freedesktop.Avahi.Server.GetState 2>/dev/null |
		awk '$1 == "int32" { print $2 }'
}

lab__avahi_running() {
	[ "$(lab_avahi_state "$1")" = 2 ]
}

# lab_wait_avahi HOST... -- wait until each host's avahi has finished probing
# its host name (state running), LAB_TIMEOUT seconds at most.
lab_wait_avahi() {
	local h
	lab__timeout_ms
	for h in "$@"; do
		if ! lab__wait_ms "$LAB__TMO" lab__avahi_running "$h"; then
			lab__err "$h: avahi not running after ${LAB_TIMEOUT}s (state $(lab_avahi_state "$h"))"
			lab__tail "$LAB_DIR/$h/avahi.log"
			return 1
		fi
	done
}

# lab__holder_up HOSTDIR PID -- the holder is ready, or dead (no use waiting).
lab__holder_up() {
	[ -e "$1/ready" ] || ! lab__alive "$2"
}

# lab_host NAME -- create host NAME (see the top of this file) with its own
# dbus-daemon and avahi-daemon, and wait until avahi answers.
lab_host() {
	local name=${1:-} ns d pid
	lab__need_init || return 1
	lab__check_name host "$name" || return 1
	case $name in
	sw-*) lab__err "host names starting with sw- are kept for switches"; return 1 ;;
	esac
	ns=rns$LAB_ID-$name
	d=$LAB_DIR/$name
	mkdir "$d" 2>/dev/null || {
		lab__err "host '$name' exists already"
		return 1
	}
	mkdir -m 0700 "$d/home"
	mkdir "$d/empty"
	ip netns add "$ns" || {
		lab__err "$name: ip netns add $ns failed"
		return 1
	}
	ip netns exec "$ns" unshare -m --propagation private \
		sh -c "$LAB__HOLDER_SCRIPT" lab-holder "$d" "${LAB__TREES[@]}" </dev/null >"$d/holder.log" 2>&1 &
	pid=$!
	disown "$pid" 2>/dev/null || true
	lab__record "$pid"
	printf '%s\n' "$pid" >"$d/holder.pid"
	lab__timeout_ms
	if ! lab__wait_ms "$LAB__TMO" lab__holder_up "$d" "$pid" || [ ! -e "$d/ready" ]; then
		lab__err "$name: host holder did not come up"
		lab__tail "$d/holder.log"
		return 1
	fi

	lab__dbus_conf "$name"
	lab_bg "$name" "$d/dbus.pid" dbus-daemon --config-file="$d/dbus.conf" \
		--nofork --nopidfile --nosyslog >>"$d/dbus.log" 2>&1
	if ! lab__wait_ms "$LAB__TMO" test -S "/proc/$pid/root/run/dbus/system_bus_socket"; then
		lab__err "$name: dbus-daemon did not come up"
		lab__tail "$d/dbus.log"
		return 1
	fi
	lab_avahi_start "$name"
}

# lab_hosts NAME... -- lab_host for several hosts at once (in parallel).
lab_hosts() {
	local h pids=() rc=0 p
	for h in "$@"; do
		lab_host "$h" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	return "$rc"
}

# lab_ns HOST -- print the host's netns name (for ip -n / ip netns exec).
lab_ns() {
	lab__holder "${1:-}" || return 1
	printf 'rns%s-%s\n' "$LAB_ID" "$1"
}

# lab_holder HOST -- print the holder PID (nsenter -t PID -n -m).
lab_holder() {
	lab__holder "${1:-}" || return 1
	printf '%s\n' "$LAB__HOLDER"
}

# lab_exec HOST CMD... -- run CMD inside HOST and return its status.  HOME is
# /root (the host's own), PATH is $LAB_PATH, LAB_HOST is the host name; all
# other variables pass through: FOO=1 lab_exec h prog, or lab_exec h env FOO=1 prog.
lab_exec() {
	local name=${1:-}
	lab__holder "$name" || return 1
	shift
	lab__wd
	(
		lab__hostenv "$name"
		exec nsenter -t "$LAB__HOLDER" -n -m --wd="$LAB__WD" -- "$@"
	)
}

# lab_bg HOST PIDFILE CMD... -- start CMD inside HOST in the background; its
# PID (CMD's own: nsenter execs it) goes to PIDFILE and to $LAB_DIR/pids.
# Stdin is /dev/null; stdout and stderr are the caller's, so redirect the
# call itself:
#   lab_bg h "$LAB_DIR/x.pid" prog --flag >"$LAB_DIR/x.log" 2>&1
# (never leave them on a pipe you read to the end, e.g. inside $(...)).
lab_bg() {
	local name=${1:-} pidfile=${2:-} pid
	lab__holder "$name" || return 1
	if [ -z "$pidfile" ] || [ "$#" -lt 3 ]; then
		lab__err "usage: lab_bg HOST PIDFILE CMD..."
		return 1
	fi
	shift 2
	lab__wd
	(
		lab__hostenv "$name"
		exec nsenter -t "$LAB__HOLDER" -n -m --wd="$LAB__WD" -- "$@"
	) </dev/null &
	pid=$!
	disown "$pid" 2>/dev/null || true
	lab__record "$pid"
	printf '%s\n' "$pid" >"$pidfile"
}

# lab__recorded PID -- true if the lab started PID; sets LAB__RSTART to its
# recorded start time.
lab__recorded() {
	local pid start
	LAB__RSTART=
	[ -r "$LAB_DIR/pids" ] || return 1
	while read -r pid start; do
		if [ "$pid" = "$1" ]; then
			LAB__RSTART=$start
			return 0
		fi
	done <"$LAB_DIR/pids"
	return 1
}

# lab__stop_pid PID -- TERM, wait up to 3 s, then KILL; only a process the
# lab started, and only while it is still that process.
lab__stop_pid() {
	local pid=$1 start
	if ! lab__recorded "$pid"; then
		lab__err "pid $pid was not started by this lab"
		return 1
	fi
	start=$LAB__RSTART
	lab__alive "$pid" "$start" || return 0
	kill -s TERM "$pid" 2>/dev/null || true
	if ! lab__wait_ms 3000 lab__dead "$pid" "$start"; then
		kill -s KILL "$pid" 2>/dev/null || true
		lab__wait_ms 2000 lab__dead "$pid" "$start" || {
			lab__err "pid $pid survives SIGKILL"
			return 1
		}
	fi
}

lab__dead() {
	! lab__alive "$@"
}

# lab_record PID -- make PID (started by the test itself, e.g. with &) a
# process of the lab: lab_cleanup ends it, lab_kill accepts it.
lab_record() {
	lab__need_init || return 1
	case ${1:-} in
	'' | *[!0-9]* | 0 | 1) lab__err "lab_record: bad pid '${1:-}'"; return 1 ;;
	esac
	lab__alive "$1" || {
		lab__err "lab_record: no process $1"
		return 1
	}
	lab__record "$1"
}

# lab__exe EXE -- sets LAB__EXE to the program file EXE names: an absolute
# path, or a command looked up in $LAB_PATH; symbolic links resolved.
lab__exe() {
	local f=$1
	case $f in
	/*) ;;
	'') lab__err "lab_kill: no program given"; return 1 ;;
	*) f=$(PATH=$LAB_PATH command -v -- "$f") || {
		lab__err "lab_kill: no program '$1' in $LAB_PATH"
		return 1
	} ;;
	esac
	LAB__EXE=$(readlink -f -- "$f")
	if [ ! -f "$LAB__EXE" ]; then
		lab__err "lab_kill: no program file '$1'"
		return 1
	fi
}

# lab__ours PID -- true if PID belongs to this lab: it or an ancestor was
# recorded (and still is that process), or it lives in one of the lab's
# network namespaces.
lab__ours() {
	local p=$1 n=0 h hp net
	while [ "$n" -lt 64 ] && [ "$p" -gt 1 ]; do
		if lab__recorded "$p" && lab__alive "$p" "$LAB__RSTART"; then
			return 0
		fi
		lab__proc_stat "$p" || break
		p=$LAB__PPID
		n=$((n + 1))
	done
	net=$(readlink "/proc/$1/ns/net" 2>/dev/null) || return 1
	for h in "$LAB_DIR"/*/holder.pid; do
		[ -r "$h" ] || continue
		read -r hp <"$h" || continue
		if [ "$(readlink "/proc/$hp/ns/net" 2>/dev/null)" = "$net" ]; then
			return 0
		fi
	done
	return 1
}

# lab_kill SIGNAL PID EXE -- send SIGNAL to PID, only if PID is a number
# > 1, runs the program EXE (path or command name) and belongs to this lab
# (see "Killing" at the top).  Otherwise nothing is signalled: a message,
# status 1.
#   lab_kill KILL "$sshpid" ssh || t_fail "ssh master not killed"
lab_kill() {
	local sig=${1:-} pid=${2:-} exe=${3:-} have start
	if [ "$#" -ne 3 ]; then
		lab__err "usage: lab_kill SIGNAL PID EXE"
		return 1
	fi
	lab__need_init || return 1
	case $pid in
	'' | *[!0-9]*)
		lab__err "lab_kill: '$pid' is not a pid (expected a $exe process): nothing signalled"
		return 1
		;;
	esac
	pid=$((10#$pid))
	if [ "$pid" -le 1 ] || [ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ]; then
		lab__err "lab_kill: refusing to signal pid $pid (expected a $exe process)"
		return 1
	fi
	lab__exe "$exe" || return 1
	if ! lab__alive "$pid"; then
		lab__err "lab_kill: no process $pid (expected $LAB__EXE)"
		return 1
	fi
	start=$LAB__START
	have=$(readlink "/proc/$pid/exe" 2>/dev/null) || have='(unreadable)'
	have=${have% (deleted)}
	if [ "$have" != "$LAB__EXE" ]; then
		lab__err "lab_kill: pid $pid runs $have, not $LAB__EXE: not signalled"
		return 1
	fi
	if ! lab__ours "$pid"; then
		lab__err "lab_kill: pid $pid ($have) is not a process of lab $LAB_ID: not signalled"
		return 1
	fi
	# the same process still (no pid reuse since the checks)
	if ! lab__alive "$pid" "$start"; then
		lab__err "lab_kill: pid $pid ended before the signal"
		return 1
	fi
	kill -s "$sig" "$pid" || {
		lab__err "lab_kill: kill -s $sig $pid failed"
		return 1
	}
}

# ---------------------------------------------------------------------------
# Links.

# lab__free_if HOSTNS STEM -- sets LAB__IF to the first free STEM<n>.
lab__free_if() {
	local ns=$1 stem=$2 i=0 names
	names=$(ip -n "$ns" -o link show 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }')
	while :; do
		if ! printf '%s\n' "$names" | grep -qx "$stem$i"; then
			LAB__IF=$stem$i
			return 0
		fi
		i=$((i + 1))
	done
}

# lab__if_ready HOSTNS IFNAME -- carrier up, and the IPv6 link-local address
# present and not tentative (when the kernel has IPv6).
lab__if_ready() {
	local out
	if [ -d /proc/sys/net/ipv6 ]; then
		out=$(ip -n "$1" -6 -o addr show dev "$2" scope link 2>/dev/null)
		case $out in
		'' | *tentative* | *dadfailed*) return 1 ;;
		esac
	fi
	out=$(ip -n "$1" -o link show dev "$2" 2>/dev/null)
	case $out in
	*LOWER_UP*) return 0 ;;
	esac
	return 1
}

# lab__attach HOST IFNAME ADDR -- address IFNAME, bring it up, record it.
lab__attach() {
	local host=$1 ifname=$2 addr=$3 ns=rns$LAB_ID-$1
	if ! ip -n "$ns" addr add "$addr/24" dev "$ifname" ||
		! ip -n "$ns" link set "$ifname" up; then
		lab__err "$host: cannot configure $ifname"
		return 1
	fi
	printf '%s\n' "$addr" >"$LAB_DIR/$host/addr.$ifname"
}

lab__wait_ifs() {
	local spec
	lab__timeout_ms
	for spec in "$@"; do
		if ! lab__wait_ms "$LAB__TMO" lab__if_ready "rns$LAB_ID-${spec%%:*}" "${spec#*:}"; then
			lab__err "${spec%%:*}: interface ${spec#*:} not ready after ${LAB_TIMEOUT}s"
			ip -n "rns$LAB_ID-${spec%%:*}" addr show dev "${spec#*:}" >&2
			return 1
		fi
	done
}

# lab_lan LAN PREFIX HOST[:IFNAME]... -- a LAN: a bridge (multicast snooping
# off) in its own netns rns$LAB_ID-sw-LAN, one veth per host.  The host side
# is IFNAME, by default the first free ethN.  Addresses PREFIX.1, PREFIX.2 ...
# /24 in argument order.
lab_lan() {
	local lan=${1:-} prefix=${2:-} sw spec host ifname ns port i=0 ready=()
	lab__need_init || return 1
	if [ "$#" -lt 3 ]; then
		lab__err "usage: lab_lan LAN PREFIX HOST[:IFNAME]..."
		return 1
	fi
	lab__check_name lan "$lan" || return 1
	shift 2
	sw=rns$LAB_ID-sw-$lan
	ip netns add "$sw" || {
		lab__err "LAN $lan: ip netns add $sw failed (exists?)"
		return 1
	}
	# The switch has no business speaking IPv6 (it would send its own MLD,
	# RS and DAD traffic onto the LAN); bridging IPv6 frames is unaffected.
	nsenter --net="/run/netns/$sw" sh -c '
		echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
		echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6' 2>/dev/null || true
	# Without mcast_snooping 0 mDNS is flaky; STP off and no
	# forward delay so ports forward at once.
	if ! ip -n "$sw" link add br0 type bridge mcast_snooping 0 stp_state 0 forward_delay 0 ||
		! ip -n "$sw" link set br0 up; then
		lab__err "LAN $lan: cannot create the bridge"
		return 1
	fi
	mkdir -p "$LAB_DIR/lans"
	for spec in "$@"; do
		i=$((i + 1))
		host=${spec%%:*}
		ifname=
		[ "$host" = "$spec" ] || ifname=${spec#*:}
		lab__holder "$host" || return 1
		ns=rns$LAB_ID-$host
		if [ -z "$ifname" ]; then
			lab__free_if "$ns" eth
			ifname=$LAB__IF
		fi
		port=p$i-$host
		port=${port:0:15}
		if ! ip -n "$ns" link add "$ifname" type veth peer name "$port" netns "$sw" ||
			! ip -n "$sw" link set "$port" master br0 up; then
			lab__err "LAN $lan: cannot link $host:$ifname"
			return 1
		fi
		lab__attach "$host" "$ifname" "$prefix.$i" || return 1
		printf '%s %s %s\n' "$host" "$ifname" "$prefix.$i" >>"$LAB_DIR/lans/$lan"
		ready+=("$host:$ifname")
	done
	lab__wait_ifs "${ready[@]}"
}

# lab_wan HOST1 HOST2 PREFIX -- a point-to-point veth between two (relay)
# hosts, named wanN on each side (wan0 for the first), PREFIX.1 on HOST1 and
# PREFIX.2 on HOST2.  avahi never uses wanN (see the top of this file).
lab_wan() {
	local h1=${1:-} h2=${2:-} prefix=${3:-} ns1 ns2 if1 if2
	lab__need_init || return 1
	if [ "$#" -ne 3 ]; then
		lab__err "usage: lab_wan HOST1 HOST2 PREFIX"
		return 1
	fi
	lab__holder "$h1" || return 1
	lab__holder "$h2" || return 1
	ns1=rns$LAB_ID-$h1
	ns2=rns$LAB_ID-$h2
	lab__free_if "$ns1" wan
	if1=$LAB__IF
	lab__free_if "$ns2" wan
	if2=$LAB__IF
	if [ "${if1#wan}" -ge "$LAB_WAN_MAX" ] || [ "${if2#wan}" -ge "$LAB_WAN_MAX" ]; then
		lab__err "lab_wan: at most $LAB_WAN_MAX WAN legs per host"
		return 1
	fi
	ip -n "$ns1" link add "$if1" type veth peer name "$if2" netns "$ns2" || {
		lab__err "lab_wan: cannot link $h1 and $h2"
		return 1
	}
	lab__attach "$h1" "$if1" "$prefix.1" || return 1
	lab__attach "$h2" "$if2" "$prefix.2" || return 1
	printf '%s %s %s %s %s\n' "$h1" "$if1" "$h2" "$if2" "$prefix" >>"$LAB_DIR/wans"
	lab__wait_ifs "$h1:$if1" "$h2:$if2"
}

# lab_addr HOST [IFNAME] -- print HOST's IPv4 address on IFNAME (default eth0).
lab_addr() {
	local f=$LAB_DIR/${1:-}/addr.${2:-eth0}
	if [ ! -r "$f" ]; then
		lab__err "host '${1:-}' has no address on ${2:-eth0}"
		return 1
	fi
	cat "$f"
}

# ---------------------------------------------------------------------------
# sshd and ssh.

# lab_sshd HOST [EXTRA_CONFIG_FILE] -- start sshd in HOST on port 22 of all its
# addresses.  EXTRA_CONFIG_FILE is copied and Included before the defaults:
# sshd keeps the first value it reads, and a Match block in the included file
# ends with that file.  Note: "Subsystem" may not be repeated (set
# RNSPLICE_SUBSYSTEM instead).  Files: $LAB_DIR/HOST/sshd/{sshd_config,log}.
lab_sshd() {
	local host=${1:-} extra=${2:-} d
	lab__holder "$host" || return 1
	d=$LAB_DIR/$host/sshd
	if [ -r "$d/sshd.bgpid" ] && lab__alive "$(cat "$d/sshd.bgpid")"; then
		lab__err "$host: sshd runs already (lab_sshd_restart?)"
		return 1
	fi
	mkdir -p "$d"
	if [ ! -e "$d/ssh_host_ed25519_key" ]; then
		ssh-keygen -q -t ed25519 -N '' -C "lab-$host-$LAB_ID" \
			-f "$d/ssh_host_ed25519_key" || return 1
	fi
	[ -e "$d/authorized_keys" ] || : >"$d/authorized_keys"
	rm -f "$d/extra.conf"
	if [ -n "$extra" ]; then
		cp -- "$extra" "$d/extra.conf" || return 1
	fi
	{
		echo "# generated by tests/lab/lab.sh for host $host"
		if [ -n "$extra" ]; then
			echo "Include $d/extra.conf"
		fi
		echo "Port 22"
		echo "AddressFamily any"
		echo "ListenAddress 0.0.0.0"
		echo "ListenAddress ::"
		echo "HostKey $d/ssh_host_ed25519_key"
		echo "PidFile $d/sshd.pid"
		echo "AuthorizedKeysFile $d/authorized_keys"
		echo "UsePAM no"
		echo "PermitRootLogin prohibit-password"
		echo "PasswordAuthentication no"
		echo "KbdInteractiveAuthentication no"
		echo "StrictModes no"
		echo "UseDNS no"
		echo "PrintMotd no"
		echo "PrintLastLog no"
		# Tests open many connections at once; the default 10:30:100
		# would drop some of them before authentication.
		echo "MaxStartups 1000"
		echo "LogLevel VERBOSE"
		# LAB_NO_SUBSYSTEM=1: a server whose admin did not add it
		# (the agent's subsystem-command way)
		[ "${LAB_NO_SUBSYSTEM:-0}" = 1 ] ||
			echo "Subsystem rnsplice $RNSPLICE_SUBSYSTEM"
		echo "Subsystem sftp internal-sftp"
	} >"$d/sshd_config"
	lab__sshd_launch "$host"
}

# lab__sshd_launch HOST -- test the config, start sshd -D, wait for its pid
# file (written once the listening sockets are bound).
lab__sshd_launch() {
	local host=$1 d=$LAB_DIR/$1/sshd sshd out pid
	sshd=$(PATH=$LAB_PATH command -v sshd)
	if ! out=$(lab_exec "$host" "$sshd" -t -f "$d/sshd_config" 2>&1); then
		lab__err "$host: sshd -t -f $d/sshd_config failed:"
		printf '%s\n' "$out" | sed 's/^/lab: | /' >&2
		return 1
	fi
	rm -f "$d/sshd.pid"
	# An absolute path: sshd re-executes itself for every connection.
	# shellcheck disable=SC2094  # sshd appends to the log itself (-E)
	lab_bg "$host" "$d/sshd.bgpid" "$sshd" -D -f "$d/sshd_config" -E "$d/log" \
		>>"$d/log" 2>&1
	read -r pid <"$d/sshd.bgpid"
	lab__timeout_ms
	if ! lab__wait_ms "$LAB__TMO" test -s "$d/sshd.pid"; then
		lab__err "$host: sshd (pid $pid) did not start listening"
		lab__tail "$d/log"
		return 1
	fi
}

# lab_sshd_stop HOST [--sessions] -- stop HOST's listening sshd.  Like a real
# server, open sessions survive, unless --sessions: then every sshd process
# in HOST (sessions of earlier listeners too) and whatever they started are
# killed, as if the server machine crashed.
lab_sshd_stop() {
	local host=${1:-} d pid exe victims=
	d=$LAB_DIR/$host/sshd
	if [ ! -r "$d/sshd.bgpid" ]; then
		lab__err "no sshd on host '$host'"
		return 1
	fi
	read -r pid <"$d/sshd.bgpid"
	if [ "${2:-}" = --sessions ]; then
		exe=$(readlink -f "$(PATH=$LAB_PATH command -v sshd)")
		for pid in $(ip netns pids "rns$LAB_ID-$host"); do
			if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
				victims="$victims $pid $(lab__descendants "$pid" | tr '\n' ' ')"
			fi
		done
		read -r pid <"$d/sshd.bgpid"
	fi
	lab__stop_pid "$pid" || return 1
	for pid in $victims; do
		kill -s KILL "$pid" 2>/dev/null || true
	done
	for pid in $victims; do
		lab__wait_ms 2000 lab__dead "$pid" || {
			lab__err "$host: session process $pid survives SIGKILL"
			return 1
		}
	done
	rm -f "$d/sshd.pid"
}

# lab_sshd_restart HOST [--sessions] -- stop and start again, same config
# and host key (known_hosts stay valid).
lab_sshd_restart() {
	lab_sshd_stop "$@" && lab__sshd_launch "${1:-}"
}

# lab__descendants PID -- the PIDs of every descendant of PID, one per line.
lab__descendants() {
	local root=$1 p line rest queue
	local -A kids=()
	for p in /proc/[0-9]*; do
		read -r line 2>/dev/null <"$p/stat" || continue
		rest=${line##*) }
		# shellcheck disable=SC2086  # split the fields of stat
		set -- $rest
		kids[$2]="${kids[$2]:-} ${p#/proc/}"
	done
	queue=${kids[$root]:-}
	while [ -n "${queue// /}" ]; do
		# shellcheck disable=SC2086
		set -- $queue
		printf '%s\n' "$1"
		p=$1
		shift
		queue="$* ${kids[$p]:-}"
	done
}

# lab_ssh_client CLIENTHOST ALIAS SERVERHOST SERVERADDR -- give CLIENTHOST a
# user key (once), authorize it on SERVERHOST's sshd, pin SERVERHOST's host
# key and write "Host ALIAS" into CLIENTHOST's ~/.ssh/config.  Afterwards
# lab_exec CLIENTHOST ssh ALIAS true works (BatchMode, strict host keys).
lab_ssh_client() {
	local cli=${1:-} alias=${2:-} srv=${3:-} addr=${4:-} ssh sd key line
	if [ "$#" -ne 4 ]; then
		lab__err "usage: lab_ssh_client CLIENTHOST ALIAS SERVERHOST SERVERADDR"
		return 1
	fi
	lab__holder "$cli" || return 1
	lab__holder "$srv" || return 1
	# known_hosts must hold exactly what ssh will look up: a literal address.
	case $addr in
	*:* | [0-9]*.[0-9]*.[0-9]*.[0-9]*) ;;
	*)
		lab__err "lab_ssh_client: SERVERADDR must be an IP address, not '$addr'"
		return 1
		;;
	esac
	ssh=$LAB_DIR/$cli/home/.ssh
	sd=$LAB_DIR/$srv/sshd
	if [ ! -r "$sd/ssh_host_ed25519_key.pub" ]; then
		lab__err "$srv has no sshd (call lab_sshd $srv first)"
		return 1
	fi
	if [ -e "$ssh/config" ] && grep -qx "Host $alias" "$ssh/config"; then
		lab__err "$cli: ssh alias '$alias' exists already"
		return 1
	fi
	[ -d "$ssh" ] || mkdir -m 0700 "$ssh" || return 1
	key=$ssh/id_ed25519
	if [ ! -e "$key" ]; then
		ssh-keygen -q -t ed25519 -N '' -C "root@$cli-$LAB_ID" -f "$key" || return 1
	fi
	if ! grep -qxF "$(cat "$key.pub")" "$sd/authorized_keys"; then
		cat "$key.pub" >>"$sd/authorized_keys"
	fi
	# known_hosts takes the address ssh connects to; no hashing needed.
	line="$addr $(cut -d' ' -f1,2 "$sd/ssh_host_ed25519_key.pub")"
	if [ ! -e "$ssh/known_hosts" ] || ! grep -qxF "$line" "$ssh/known_hosts"; then
		printf '%s\n' "$line" >>"$ssh/known_hosts"
	fi
	cat >>"$ssh/config" <<EOF
Host $alias
	HostName $addr
	Port 22
	User root
	IdentityFile /root/.ssh/id_ed25519
	IdentitiesOnly yes
	UserKnownHostsFile /root/.ssh/known_hosts
	GlobalKnownHostsFile /dev/null
	StrictHostKeyChecking yes
	UpdateHostKeys no
	BatchMode yes
	ConnectTimeout 5
EOF
	chmod 0600 "$ssh/config" "$ssh/known_hosts"
}

# ---------------------------------------------------------------------------
# Services, browsing, waiting.

# lab_wait_for TIMEOUT_S CMD... -- run CMD every 0.1 s until it succeeds (0)
# or TIMEOUT_S (may be fractional) has passed (1).
lab_wait_for() {
	local ms now deadline
	lab__to_ms ms "${1:-}" || return 2
	shift
	lab__now_ms now
	deadline=$((now + ms))
	while :; do
		"$@" && return 0
		lab__now_ms now
		[ "$now" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

lab__tcp_open() {
	# shellcheck disable=SC2016  # expanded by the inner bash
	lab_exec "$1" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>/dev/null
}

# lab_http HOST PORT DIR [ADDR] -- serve DIR over HTTP from HOST (python3
# http.server bound to ADDR, default 0.0.0.0); prints the server's PID once
# it accepts connections.  Log: $LAB_DIR/HOST/http-PORT.log.
lab_http() {
	local host=${1:-} port=${2:-} dir=${3:-} addr=${4:-0.0.0.0} d pid probe
	lab__holder "$host" || return 1
	dir=$(cd "$dir" 2>/dev/null && pwd) || {
		lab__err "lab_http: no directory '${3:-}'"
		return 1
	}
	d=$LAB_DIR/$host
	lab_bg "$host" "$d/http-$port.pid" python3 -m http.server --bind "$addr" \
		--directory "$dir" "$port" >>"$d/http-$port.log" 2>&1
	read -r pid <"$d/http-$port.pid"
	probe=$addr
	case $addr in
	0.0.0.0) probe=127.0.0.1 ;;
	::) probe=::1 ;;
	esac
	lab__timeout_ms
	if ! lab__wait_ms "$LAB__TMO" lab__tcp_open "$host" "$probe" "$port"; then
		lab__err "$host: HTTP server on $addr:$port did not come up"
		lab__tail "$d/http-$port.log"
		return 1
	fi
	printf '%s\n' "$pid"
}

# lab_publish HOST NAME TYPE PORT [TXT...] -- avahi-publish -s in HOST, in
# the background; prints its PID (for lab_unpublish).  Returns at once; use
# lab_wait_published PID to wait until avahi has established the service.
# Log: $LAB_DIR/HOST/publish.PID.log.  Other avahi-publish options: use lab_bg.
lab_publish() {
	local host=${1:-} d tmp pid
	if [ "$#" -lt 4 ]; then
		lab__err "usage: lab_publish HOST NAME TYPE PORT [TXT...]"
		return 1
	fi
	lab__holder "$host" || return 1
	shift
	d=$LAB_DIR/$host
	tmp=$d/publish.new.$BASHPID.$RANDOM
	lab_bg "$host" "$tmp.pid" avahi-publish -s -- "$@" >"$tmp.log" 2>&1
	read -r pid <"$tmp.pid"
	mv -f "$tmp.log" "$d/publish.$pid.log"
	rm -f "$tmp.pid"
	printf '%s\n' "$pid"
}

lab__publish_log() {
	local f
	for f in "$LAB_DIR"/*/publish."$1".log; do
		if [ -e "$f" ]; then
			LAB__LOG=$f
			return 0
		fi
	done
	lab__err "no lab_publish with pid '$1'"
	return 1
}

# lab__established LOG PID -- true once established or once avahi-publish
# has exited (then LAB__GONE=1): no reason to wait any longer.
lab__established() {
	grep -q '^Established under name' "$1" && return 0
	lab__alive "$2" && return 1
	LAB__GONE=1
}

# lab_wait_published PID [TIMEOUT_S] -- wait until the service of lab_publish
# PID is established (probing done; about 1 s).  Fails at once if
# avahi-publish exits (bad type, name collision ...).
lab_wait_published() {
	local pid=${1:-}
	lab__publish_log "$pid" || return 1
	LAB__GONE=
	if ! lab_wait_for "${2:-$LAB_TIMEOUT}" lab__established "$LAB__LOG" "$pid" ||
		[ -n "$LAB__GONE" ]; then
		lab__err "service of avahi-publish $pid not established"
		lab__tail "$LAB__LOG"
		return 1
	fi
}

# lab_stop PID... -- stop processes started through the lab by PID: TERM,
# then KILL after 3 s; returns once they are gone.
lab_stop() {
	local pid
	for pid in "$@"; do
		case $pid in
		'' | *[!0-9]*) lab__err "lab_stop: bad pid '$pid'"; return 1 ;;
		esac
		lab__stop_pid "$pid" || return 1
	done
}

# lab_unpublish PID -- stop avahi-publish PID (avahi sends goodbyes) and wait
# until it is gone.
lab_unpublish() {
	lab_stop "$@"
}

# lab_browse HOST TYPE -- resolved, parsable, one-shot browse in HOST
# (avahi-browse -rpt TYPE).  "=" lines are
#   =;IFACE;PROTO;NAME;TYPE;DOMAIN;HOSTNAME;ADDRESS;PORT;TXT
# with NAME escaped by avahi (lab_browse_count and lab_browse_get unescape).
# A host sees its own services twice: on its LAN interface and on lo.
lab_browse() {
	# avahi-browse -r can wait forever on a service that vanished while
	# it was being resolved: bound it
	lab_exec "${1:-}" timeout 10 avahi-browse -rpt "${2:-}"
}

# Awk filter over lab_browse / lab_watch output: entries for NAME (compared
# unescaped), optionally only on interface IF and protocol PROTO (IPv4 or
# IPv6).  off=1 skips lab_watch's time stamp.  Modes:
#   count  number of "=" lines            get    their fields, see lab_browse_get
#   live   number resolved and not removed since   times  time stamps of EVENT
# shellcheck disable=SC2016
LAB__BROWSE_AWK='
function unescape(s,   r, c, i) {
	r = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\") {
			if (substr(s, i + 1, 3) ~ /^[0-9][0-9][0-9]$/) {
				r = r sprintf("%c", substr(s, i + 1, 3) + 0)
				i += 3
			} else {
				r = r substr(s, i + 1, 1)
				i++
			}
		} else
			r = r c
	}
	return r
}
# "get" asks for an address of the family PROTO: avahi-browse resolves a
# row with either family (its resolver takes the first address record that
# comes), so an IPv4 row can carry an IPv6 address and the IPv6 row the
# IPv4 one; any row of the interface with an address of that family is
# printed as a PROTO row
mode == "get" && proto != "" && $(1 + off) == "=" &&
    unescape($(4 + off)) == name && (iface == "" || $(2 + off) == iface) {
	if (($(8 + off) ~ /:/) == (proto == "IPv6")) {
		txt = $(10 + off)
		for (i = 11 + off; i <= NF; i++)
			txt = txt ";" $i
		print $(2 + off) ";" proto ";" $(7 + off) ";" $(8 + off) ";" $(9 + off) ";" txt
	}
	next
}
unescape($(4 + off)) == name && (iface == "" || $(2 + off) == iface) &&
    (proto == "" || $(3 + off) == proto) {
	ev = $(1 + off)
	key = $(2 + off) ";" $(3 + off)
	if (mode == "count" && ev == "=")
		n++
	else if (mode == "get" && ev == "=") {
		txt = $(10 + off)
		for (i = 11 + off; i <= NF; i++)
			txt = txt ";" $i
		print $(2 + off) ";" $(3 + off) ";" $(7 + off) ";" $(8 + off) ";" $(9 + off) ";" txt
	} else if (mode == "live" && ev == "=")
		live[key] = 1
	else if (mode == "live" && ev == "-")
		delete live[key]
	else if (mode == "times" && ev == event)
		print $1
}
END {
	if (mode == "count")
		print n + 0
	if (mode == "live") {
		for (k in live)
			n++
		print n + 0
	}
}
'

lab__browse_awk() {
	LC_ALL=C awk -F';' -v off="$1" -v mode="$2" -v event="$3" -v name="${4:-}" \
		-v iface="${5:-}" -v proto="${6:-}" "$LAB__BROWSE_AWK"
}

# lab_browse_count NAME [IFACE [PROTO]] -- filter: count resolved entries
# of NAME in lab_browse output on stdin.
lab_browse_count() {
	lab__browse_awk 0 count '' "$@"
}

# lab_browse_get NAME [IFACE [PROTO]] -- filter: print
# IFACE;PROTO;HOSTNAME;ADDRESS;PORT;TXT for each resolved entry of NAME
# (with PROTO: each with an address of that family).
lab_browse_get() {
	lab__browse_awk 0 get '' "$@"
}

# lab_seen HOST TYPE NAME [IFACE [PROTO]] -- true if HOST resolves NAME now.
# Each call is a fresh one-shot browse and takes about 1 s; to follow changes
# closely use lab_watch.
#   lab_wait_for 5 lab_seen arelay _http._tcp "my service"
lab_seen() {
	local n
	n=$(lab_browse "${1:-}" "${2:-}" 2>/dev/null | lab_browse_count "${3:-}" "${4:-}" "${5:-}")
	[ "${n:-0}" -gt 0 ]
}

# lab_watch HOST TYPE -- a long-running browser (avahi-browse -rp TYPE) in
# HOST, in the background; prints its PID.  Every line it prints goes to
# $LAB_DIR/HOST/watch.PID.log prefixed with the time it was read
# (EPOCHREALTIME;...), for propagation measurements.  Stop it with
# lab_unwatch PID.
lab_watch() {
	local host=${1:-} type=${2:-} d tmp pid
	lab__holder "$host" || return 1
	d=$LAB_DIR/$host
	tmp=$d/watch.new.$BASHPID.$RANDOM
	# shellcheck disable=SC2016  # expanded by the inner bash
	lab_bg "$host" "$tmp.pid" env LC_ALL=C bash -c '
		exec > >(while IFS= read -r l; do printf "%s;%s\n" "$EPOCHREALTIME" "$l"; done)
		exec avahi-browse -rp "$0"' "$type" >"$tmp.log" 2>&1
	read -r pid <"$tmp.pid"
	mv -f "$tmp.log" "$d/watch.$pid.log"
	rm -f "$tmp.pid"
	printf '%s\n' "$pid"
}

lab__watch_log() {
	local f
	for f in "$LAB_DIR"/*/watch."$1".log; do
		if [ -e "$f" ]; then
			LAB__LOG=$f
			return 0
		fi
	done
	lab__err "no lab_watch with pid '$1'"
	return 1
}

# lab_watch_count PID NAME [IFACE [PROTO]] -- print how many entries of NAME
# lab_watch PID has resolved and not seen removed.
lab_watch_count() {
	lab__watch_log "${1:-}" || return 1
	shift
	lab__browse_awk 1 live '' "$@" <"$LAB__LOG"
}

# lab_watch_seen PID NAME [IFACE [PROTO]] -- true while NAME is resolved.
lab_watch_seen() {
	local n
	n=$(lab_watch_count "$@") || return 1
	[ "$n" -gt 0 ]
}

# lab_watch_times PID EVENT NAME [IFACE [PROTO]] -- print the time stamps
# (EPOCHREALTIME) of lab_watch PID's lines with EVENT (+ new, = resolved,
# - removed) for NAME, oldest first.
lab_watch_times() {
	lab__watch_log "${1:-}" || return 1
	shift
	lab__browse_awk 1 times "$@" <"$LAB__LOG"
}

# lab_unwatch PID -- stop lab_watch PID (its log stays).
lab_unwatch() {
	lab_stop "$@"
}

# ---------------------------------------------------------------------------
# The standard topology.
#
#   LAN A 10.1.0.0/24               WAN 10.99.0.0/24              LAN B 10.2.0.0/24
#   asrv .2 --[sw-A]-- .1 arelay ==wan0== .1 | .2 brelay --[sw-B]-- .1 ... .2 bcli
#
#   asrv    10.1.0.2 (eth0)   LAN A service host
#   arelay  10.1.0.1 (eth0), 10.99.0.1 (wan0)   sshd (Subsystem rnsplice)
#   brelay  10.2.0.1 (eth0), 10.99.0.2 (wan0)   runs the agent; ssh alias siteA
#   bcli    10.2.0.2 (eth0)   LAN B client
lab_topology_basic() {
	lab__need_init || return 1
	lab_hosts asrv arelay brelay bcli || return 1
	lab_lan A 10.1.0 arelay asrv || return 1
	lab_lan B 10.2.0 brelay bcli || return 1
	lab_wan arelay brelay 10.99.0 || return 1
	lab_sshd arelay || return 1
	lab_ssh_client brelay siteA arelay 10.99.0.1 || return 1
	lab_wait_avahi asrv arelay brelay bcli
}

# ---------------------------------------------------------------------------
# Run as a program.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case ${1:-} in
	clean)
		[ "$(id -u)" = 0 ] || { lab__err "clean: needs root"; exit 1; }
		lab_clean
		;;
	leftovers)
		shift
		[ "$#" -gt 0 ] || { lab__err "usage: $0 leftovers DIR..."; exit 2; }
		lab_leftovers "$@"
		;;
	*)
		lab__err "usage: $0 clean | leftovers DIR..."
		exit 2
		;;
	esac
fi
