# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the scripts that source this file
#
# tests/integration/faults-lib.sh -- the set-up shared by faults-*.sh, each
# of which checks rnsplice-agent under one fault, in the lab:
#
#   asrv (LAN A) --- arelay [sshd + subsystem] ==WAN== brelay [agent] --- bcli (LAN B)
#
# Sourced (not a test itself): two services on asrv are spliced to LAN B
# and checked (the baseline), bcli watches them, then the script injects
# its fault and calls faults_end.  After the fault: the spliced services are
# withdrawn from bcli within keepalive detection + withdrawal time (where
# the fault breaks the splice), come back within a few seconds of the cause
# going away, on the same port, answering; bcli then resolves each service
# exactly once and nothing else of the agent's (no duplicates, no stale
# entries); and the agent's open fds and child processes are what they
# were before the fault (after).  Every bound is generous; the measured
# times go to the log as "# time:" lines.  Needs root; skips (77)
# otherwise, and with RNSPLICE_RELIABILITY=skip (they run in the sanitizer
# build).

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
AGENT=$T_AGENT
CLI=$T_CLI
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

t_agent brelay "$LAB_DIR/agent.pid" "$LOG" -v -R siteA $T
agent=$T_AGENT_PID
SOCK=/run/rnsplice/agent.sock

# --- helpers -------------------------------------------------------------
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
port1=$(t_port_of $T "$N1")
port2=$(t_port_of $T "$N2")
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

# faults_end -- the checks once the fault is over, then t_done.
faults_end() {
	lab_unwatch "$w"
	t_ok eval '[ "$(grep -c "reconnecting in" "$LOG")" -lt 20 ] ' \
		"reconnect attempts stay few (backoff): $(grep -c "reconnecting in" "$LOG")"
	lab_stop "$agent"
	t_nok grep -q -e "Sanitizer" -e "runtime error" "$LOG" "no sanitizer report"
	t_diag "timings:"
	if [ -r "$LAB_DIR/timings" ]; then
		while read -r line; do t_diag "  $line"; done <"$LAB_DIR/timings"
	fi
	t_done
}
