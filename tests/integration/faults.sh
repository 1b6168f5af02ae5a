#!/bin/bash
#
# tests/integration/faults.sh -- rnsplice-agent under faults, in the lab.
#
#   asrv (LAN A) --- arelay [sshd + subsystem] ==WAN== brelay [agent] --- bcli (LAN B)
#
# Two services on asrv are spliced to LAN B, then, one after the other:
# the ssh master is killed; sshd is stopped with its sessions (a server
# crash) and started again; the WAN link is cut and restored; the
# subsystem process is killed; the server's and the client's avahi-daemon
# are restarted.  After each fault: the spliced services are withdrawn
# from bcli within keepalive detection + withdrawal time (where the fault
# breaks the splice), come back within a few seconds of the cause going
# away, on the same port, answering; bcli then resolves each service
# exactly once and nothing else of the agent's (no duplicates, no stale
# entries); and the agent's open fds and child processes are what they
# were before the faults.  Every bound is generous; the measured times go
# to the log as "# time:" lines.  Needs root; skips (77) otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_root
if [ "${RNSPLICE_RELIABILITY:-}" = skip ]; then
	t_skip "RNSPLICE_RELIABILITY=skip (they run in the sanitizer build)"
fi
t_require_lab
AGENT=$top_builddir/agent/rnsplice-agent
CLI=$top_builddir/agent/rnsplice
[ -x "$AGENT" ] || t_skip "agent/rnsplice-agent not built"
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_skip "no subsystem at $RNSPLICE_SUBSYSTEM"
command -v curl >/dev/null || t_skip "curl not installed"

T=_http._tcp
# Bounds (seconds).  The agent's keepalive (ping-timeout 9) notices a dead
# link within 9 s; a goodbye takes ~1 s to reach bcli.
WITHDRAW_MAX=15	# fault -> withdrawn on bcli
BACK_MAX=12	# cause gone -> resolved again on bcli

ms_since() { # T0 -- milliseconds since T0 (an EPOCHREALTIME)
	local now=${EPOCHREALTIME//[!0-9]/} then=${1//[!0-9]/}
	echo $(((now - then) / 1000))
}
timing() { # WHAT MS
	t_diag "time: $1: $2 ms"
	printf '%-55s %6s ms\n' "$1" "$2" >>"$LAB_DIR/timings"
}

lab_init || t_bail "lab_init failed"
LOG=$LAB_DIR/agent.log
lab_atexit '[ "$T_FAILED" -eq 0 ] || { echo "# --- agent log (tail)"; tail -n 80 "$LOG" | sed "s/^/# /"; }'
t_diag "lab $LAB_ID in $LAB_DIR"
lab_topology_basic || t_bail "lab_topology_basic failed"

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello from asrv $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http server on asrv"
S1="Web $LAB_ID"
S2="Other $LAB_ID"
p1=$(lab_publish asrv "$S1" $T 8080 path=/)
p2=$(lab_publish asrv "$S2" $T 8080 path=/other)
lab_wait_published "$p1" && lab_wait_published "$p2" || t_bail "publish on asrv"
N1="$S1 (siteA)"
N2="$S2 (siteA)"

lab_bg brelay "$LAB_DIR/agent.pid" env XDG_RUNTIME_DIR=/run \
	"$AGENT" -d -v -R siteA $T >"$LOG" 2>&1
read -r agent <"$LAB_DIR/agent.pid"
SOCK=/run/rnsplice/agent.sock

# --- helpers -------------------------------------------------------------
port_of() { # NAME -- the port bcli resolves NAME at (eth0, IPv4)
	lab_browse bcli $T 2>/dev/null | lab_browse_get "$1" eth0 IPv4 |
		head -n 1 | cut -d';' -f5
}
# the agent's entries on bcli's eth0/IPv4: "NAME PORT" lines, sorted
entries() {
	lab_browse bcli $T 2>/dev/null | awk -F';' \
		'$1 == "=" && $2 == "eth0" && $3 == "IPv4" && $8 == "10.2.0.1" { print $4 " " $9 }' |
		sed 's/\\032/ /g; s/\\040/(/g; s/\\041/)/g' | sort
}
expected() {
	printf '%s %s\n' "$N1" "$port1" "$N2" "$port2" | sort
}
# exactly our two services, once each, on their ports
clean_set() {
	[ "$(entries)" = "$(expected)" ]
}
answers() { # -- both services answer on their ports
	lab_exec bcli curl -sS --max-time 10 -o - "http://10.2.0.1:$port1/index.html" 2>/dev/null |
		cmp -s - "$www/index.html" &&
		lab_exec bcli curl -sS --max-time 10 -o /dev/null "http://10.2.0.1:$port2/" 2>/dev/null
}
nfds() { # the agent's open fds
	find "/proc/$agent/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}
kids() { # the agent's descendants: "PID COMM" lines
	local p
	for p in $(lab__descendants "$agent"); do
		printf '%s %s\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)"
	done
}
nkids() {
	kids | wc -l
}
status_field() { # FIELD -- first numeric FIELD of rnsplice --json status
	lab_exec brelay "$CLI" -S "$SOCK" --json status 2>/dev/null |
		grep -o "\"$1\":[0-9]*" | head -n 1 | cut -d: -f2
}
live0() {
	[ "$(status_field live)" = 0 ]
}
# healthy -- synced for over 10 s: the agent then forgets earlier
# failures (REMOTE_HEALTHY_MS), so each fault starts from a fresh backoff,
# as a fault after a quiet period would
healthy() {
	local j
	j=$(lab_exec brelay "$CLI" -S "$SOCK" --json status 2>/dev/null) || return 1
	printf '%s' "$j" | grep -q '"state":"synced"' &&
		awk -v s="$(printf '%s' "$j" | grep -o '"since":[0-9.]*' | head -n 1 | cut -d: -f2)" \
			'BEGIN { exit !(s >= 10.5) }'
}
wait_healthy() {
	lab_wait_for 30 healthy || t_diag "agent not healthy before the next fault"
}
gone_both() { # WATCH
	! lab_watch_seen "$1" "$N1" eth0 IPv4 && ! lab_watch_seen "$1" "$N2" eth0 IPv4
}
back_both() { # WATCH
	lab_watch_seen "$1" "$N1" eth0 IPv4 && lab_watch_seen "$1" "$N2" eth0 IPv4
}
# removals of NAME that WATCH logged so far
nremoved() { # WATCH NAME
	lab_watch_times "$1" - "$2" eth0 IPv4 | wc -l
}

# after FAULT -- the common checks once a fault is over
after() {
	local what=$1
	t_ok answers "$what: both services answer on their old ports"
	t_ok lab_wait_for 5 clean_set \
		"$what: bcli lists each service once, nothing stale ($(entries | tr '\n' ',' ))"
	t_ok lab_wait_for 5 live0 "$what: no relay left open in the agent"
	t_ok lab_wait_for 5 eval '[ "$(nfds)" -eq "$fds0" ]' \
		"$what: the agent's fds are back to $fds0 ($(nfds))"
	t_ok lab_wait_for 5 eval '[ "$(nkids)" -eq "$kids0" ]' \
		"$what: the agent's children are back to $kids0 ($(nkids))"
}

# withdraw_back FAULT T0 WATCH RESTORE-CMD... -- measure withdrawal from T0,
# run RESTORE-CMD (may be "true"), measure the return from then.
withdraw_back() {
	local what=$1 t0=$2 w=$3 t1
	shift 3
	if t_ok lab_wait_for $WITHDRAW_MAX gone_both "$w" \
		"$what: both services withdrawn from bcli (< ${WITHDRAW_MAX}s)"; then
		timing "$what -> withdrawn on bcli" "$(ms_since "$t0")"
	fi
	"$@" || t_fail "$what: restoring failed: $*"
	t1=$EPOCHREALTIME
	if t_ok lab_wait_for $BACK_MAX back_both "$w" \
		"$what: back on bcli (< ${BACK_MAX}s after the cause went)"; then
		timing "$what -> back (from restore)" "$(ms_since "$t1")"
		timing "$what -> back (from the fault)" "$(ms_since "$t0")"
	fi
}

# --- baseline ------------------------------------------------------------
t_ok lab_wait_for 15 eval 'lab_seen bcli $T "$N1" eth0 IPv4 && lab_seen bcli $T "$N2" eth0 IPv4' \
	"baseline: both services spliced to bcli" || t_bail "no splice"
port1=$(port_of "$N1")
port2=$(port_of "$N2")
t_diag "ports $port1 $port2"
t_ok answers "baseline: both answer"
t_ok lab_wait_for 5 live0 "baseline: no relay open"
sleep 0.5
fds0=$(nfds)
kids0=$(nkids)
t_diag "baseline: agent $agent: $fds0 fds, $kids0 descendants: $(kids | tr '\n' ' ')"
t_ok clean_set "baseline: bcli lists each service once"
w=$(lab_watch bcli $T)
sleep 0.5

# --- 1. the ssh master killed ------------------------------------------------
sshpid=$(status_field ssh_pid)
t0=$EPOCHREALTIME
# a pid of 0 or none (no master) is a failure here, never a signal
if t_ok lab_kill KILL "$sshpid" ssh \
	"the agent's ssh master (pid '$sshpid' in its status) is killed"; then
	withdraw_back "ssh master killed" "$t0" "$w" true
	after "ssh master killed"
fi

# --- 2. sshd stopped with its sessions (a server crash), restarted -----------
wait_healthy
t0=$EPOCHREALTIME
lab_sshd_stop arelay --sessions || t_fail "lab_sshd_stop"
# (both used in eval'd code)
# shellcheck disable=SC2034
DOWN=4
# shellcheck disable=SC2034  # connects fail at once meanwhile: the backoff grows
LONGDOWN=10
withdraw_back "sshd stopped with sessions" "$t0" "$w" \
	eval 'sleep $DOWN; lab__sshd_launch arelay'
t_ok grep -q "siteA: .*reconnecting in" "$LOG" "sshd down: the agent logs its retries"
after "sshd restart"

# --- 3. the WAN link cut, restored -------------------------------------------
wait_healthy
n1=$(nremoved "$w" "$N1")
t0=$EPOCHREALTIME
lab_exec arelay ip link set wan0 down
withdraw_back "WAN cut (arelay wan0 down)" "$t0" "$w" \
	lab_exec arelay ip link set wan0 up
t_ok [ "$(nremoved "$w" "$N1")" -gt "$n1" ] "WAN cut: the withdrawal was seen as such"
after "WAN cut"

# the same cut from the client side: the route goes, connects fail at once
wait_healthy
t0=$EPOCHREALTIME
lab_exec brelay ip link set wan0 down
withdraw_back "WAN cut (brelay wan0 down)" "$t0" "$w" \
	eval 'sleep $LONGDOWN; lab_exec brelay ip link set wan0 up'
t_diag "reconnect attempts during that cut: $(grep -c "reconnecting in" "$LOG") so far"
after "WAN cut client side"

# --- 4. the subsystem process killed -----------------------------------------
# sshd's process tree on arelay: the subsystem runs under the session's sshd
wait_healthy
sub_pids() {
	local exe p ssh0
	exe=$(readlink -f "$RNSPLICE_SUBSYSTEM")
	read -r ssh0 <"$LAB_DIR/arelay/sshd/sshd.bgpid"
	for p in $(lab__descendants "$ssh0"); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$exe" ] && echo "$p"
	done
}
subs=$(sub_pids | tr '\n' ' ')
if t_ok [ "$(echo "$subs" | wc -w)" -eq 1 ] "exactly one subsystem under sshd on arelay ($subs)" &&
	t0=$EPOCHREALTIME &&
	t_ok lab_kill KILL "${subs// /}" "$RNSPLICE_SUBSYSTEM" \
		"the subsystem (pid ${subs// /}) is killed"; then
	withdraw_back "subsystem killed" "$t0" "$w" true
	t_ok grep -q "siteA: ssh exited" "$LOG" "subsystem killed: the session's end is logged"
	after "subsystem killed"
	t_ok lab_wait_for 5 eval '[ "$(sub_pids | wc -l)" -eq 1 ]' \
		"subsystem killed: one subsystem on arelay again ($(sub_pids | tr '\n' ' '))"
fi

# --- 5. the server's avahi-daemon restarted ---------------------------------
sleep 1
n1=$(nremoved "$w" "$N1")
t0=$EPOCHREALTIME
lab_avahi_restart arelay || t_fail "avahi restart on arelay"
t_ok lab_wait_for 10 grep -q "siteA: the server's avahi-daemon is back" "$LOG" \
	"server avahi restart: reported down and back"
timing "server avahi restart -> agent told it is back" "$(ms_since "$t0")"
sleep 2
t_ok [ "$(nremoved "$w" "$N1")" -eq "$n1" ] \
	"server avahi restart: the services stayed on bcli throughout"
after "server avahi restart"

# --- 6. the client's avahi-daemon restarted ---------------------------------
sleep 1
t0=$EPOCHREALTIME
lab_avahi_restart brelay || t_fail "avahi restart on brelay"
t1=$EPOCHREALTIME
# the restart itself withdraws them (the daemon says goodbye); then they
# must come back
lab_wait_for 5 gone_both "$w" >/dev/null
if t_ok lab_wait_for $BACK_MAX back_both "$w" \
	"client avahi restart: both services published again"; then
	timing "client avahi restart -> back (from daemon up)" "$(ms_since "$t1")"
	timing "client avahi restart -> back (from the fault)" "$(ms_since "$t0")"
fi
after "client avahi restart"

# --- the end -----------------------------------------------------------------
lab_unwatch "$w"
t_ok eval '[ "$(grep -c "reconnecting in" "$LOG")" -lt 20 ] ' \
	"reconnect attempts stay few (backoff): $(grep -c "reconnecting in" "$LOG")"
t0=$EPOCHREALTIME
lab_stop "$agent"
t_nok grep -q -e "Sanitizer" -e "runtime error" "$LOG" "no sanitizer report"
t_diag "timings:"
while read -r line; do t_diag "  $line"; done <"$LAB_DIR/timings"
t_done
