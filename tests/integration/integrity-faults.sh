#!/bin/bash
#
# tests/integration/integrity-faults.sh -- transfers through rnsplice while
# the faults of faults-*.sh strike: no byte corrupted, and every connection
# a fault cuts ends visibly (reset, or end of file before its full length),
# never as a silent short success.
#
#   asrv (LAN A) --- arelay [sshd] ==WAN== brelay [agent] --- bcli (LAN B)
#                                           ||
#   crelay (LAN C) [sshd, DisableForwarding] ++   (relay mode)
#
# For each fault, 50 checksummed echo transfers in each mode (direct
# through arelay, relay mode through crelay: 100 at once; the 200 at once
# of the master kill are in integrity.sh), 1 MB each at 128 kB/s after 10 s
# in which every connection is opened (relay sessions open 16 at a time);
# each transfer stops at half its length (xfer -H) until the fault has
# struck, so that all are open and under way when it strikes, however
# slow the host:
#   1. sshd and what its sessions run killed on both servers (a crash),
#      started again 3 s later;
#   2. the WAN cut on both servers until the master gives up, then
#      restored;
#   3. the subsystem processes killed (those recorded by the wrapper that
#      still run: the browse sessions, and relay sessions if found in time:
#      no cut is required, what is cut must be visible and logged);
#   4. both servers' avahi-daemon restarted (and the echo service on
#      crelay published anew: avahi-publish does not survive it);
#   5. the client's avahi-daemon restarted.
# Checks per fault and mode: nothing corrupted or too long; every
# connection accounted for (ok, cut, or failed to connect); where the fault
# cuts, the cut ones end visibly and the agent's log says why at the
# default level; where it does not (avahi), every transfer completes.
# After each fault both modes carry transfers again.  The ssh master kill
# is in integrity.sh (200 concurrent per mode).  Runs where integrity.sh
# runs (RNSPLICE_RELIABILITY, the sanitizer build in .ci/run).  Needs
# root; skips (77) otherwise.

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
T_AGENT=${RNSPLICE_TEST_AGENT:-$T_AGENT}
AGENT=$T_AGENT
CLI=$T_CLI
XFER=$top_builddir/tests/integration/xfer
SUB=$T_SUB
for f in "$AGENT" "$CLI" "$XFER" "$SUB"; do
	[ -x "$f" ] || t_skip "$f not built"
done
N=${FAULTS_CONNS:-50}		# transfers per mode and fault
LEN=1M
RATE=128k			# 8 s per transfer, held at half (xfer -H) for the fault
OPEN_S=10			# ... after this long idle, all connected

lab_init || t_bail "lab_init failed"
LOG=$LAB_DIR/agent.log
lab_atexit '[ "$T_FAILED" -eq 0 ] || { echo "# --- agent log (tail)"; tail -n 60 "$LOG" | sed "s/^/# /"; }'
t_diag "lab $LAB_ID in $LAB_DIR"

cat >"$LAB_DIR/policy.conf" <<'EOF'
relay yes
max-relays 512
EOF
# (the wrapper records the subsystems' pids: listing a lab host's processes
# takes seconds under load, and a fault must strike mid-transfer)
cat >"$LAB_DIR/subsys-wrapper" <<EOF
#!/bin/sh
echo \$\$ >>"$LAB_DIR/subsys.pids"
exec "$SUB" -f "$LAB_DIR/policy.conf"
EOF
chmod +x "$LAB_DIR/subsys-wrapper"
RNSPLICE_SUBSYSTEM=$LAB_DIR/subsys-wrapper
export RNSPLICE_SUBSYSTEM

lab_topology_basic || t_bail "lab_topology_basic failed"
lab_hosts crelay || t_bail "host crelay"
lab_lan C 10.3.0 crelay || t_bail "LAN C"
lab_wan crelay brelay 10.98.0 || t_bail "WAN C"
cat >"$LAB_DIR/nofwd.conf" <<'EOF'
DisableForwarding yes
MaxSessions 512
EOF
lab_sshd crelay "$LAB_DIR/nofwd.conf" || t_bail "sshd on crelay"
lab_ssh_client brelay siteC crelay 10.98.0.1 || t_bail "ssh client siteC"
lab_wait_avahi crelay

T=_xfer._tcp
for h in asrv crelay; do
	lab_bg $h "$LAB_DIR/$h-echo.pid" "$XFER" serve 7001 \
		>"$LAB_DIR/$h-echo.log" 2>&1
	lab_publish $h "Echo $LAB_ID" $T 7001 >/dev/null
done
cat >"$LAB_DIR/agent.conf" <<EOF
allow-root yes
types $T
remote siteA { }
remote siteC { }
EOF
# default log level: what a user sees is what must explain the failures
t_agent brelay "$LAB_DIR/agent.pid" "$LOG" -f "$LAB_DIR/agent.conf"
agent=$T_AGENT_PID
SOCK=/run/rnsplice/agent.sock

for s in "Echo $LAB_ID (siteA)" "Echo $LAB_ID (siteC)"; do
	lab_wait_for 20 eval '[ -n "$(t_port_of $T "$s")" ]' || t_bail "\"$s\" not spliced"
done
EA=$(t_port_of $T "Echo $LAB_ID (siteA)")
EC=$(t_port_of $T "Echo $LAB_ID (siteC)")
t_diag "ports: direct $EA, relay mode $EC"

field() { # NAME FIELD
	grep -oE "(^| )$2=[0-9]+" "$LAB_DIR/$1.out" | cut -d= -f2
}
summary() { # NAME
	cat "$LAB_DIR/$1.out" 2>/dev/null
}
json() {
	lab_exec brelay "$CLI" -S "$SOCK" --json status 2>/dev/null
}
# (from one status snapshot: under load each rnsplice call takes a while)
live() { # SNAPSHOT REMOTE -- connections the agent holds for it
	printf '%s\n' "$1" | grep -o "\"name\":\"$2\"[^}]*" |
		grep -o '"live":[0-9]*' | cut -d: -f2
}
sessions_field() { # SNAPSHOT REMOTE FIELD
	printf '%s\n' "$1" | grep -o "\"name\":\"$2\".*" |
		grep -o '"sessions":{[^}]*}' | head -n 1 |
		grep -o "\"$3\":[0-9]*" | cut -d: -f2
}
# all open: siteA's forwards, siteC's sessions past RELAYING
all_live() { # SNAPSHOT
	[ "$(live "$1" siteA)" -ge "$N" ] && [ "$(live "$1" siteC)" -ge "$N" ] &&
	[ "$(sessions_field "$1" siteC opening)" = 0 ] &&
	[ "$(sessions_field "$1" siteC queued)" = 0 ]
}
sleep_until() { # T0 MS -- until MS milliseconds after T0 (digits of an EPOCHREALTIME)
	while [ $(( (${EPOCHREALTIME//[!0-9]/} - $1) / 1000 )) -lt "$2" ]; do
		sleep 0.1
	done
}
synced() { # REMOTE
	json | grep -o "\"name\":\"$1\"[^}]*" | grep -q '"state":"synced"'
}
# works NAME PORT -- 10 short transfers complete
works() {
	lab_exec bcli "$XFER" run 10.2.0.1 "$2" -n 10 -l 64k \
		>"$LAB_DIR/$1.out" 2>"$LAB_DIR/$1.err"
}
# explain NAME -- xfer's account of the failed connections (a few), and
# what the agent logged about each client port
explain() {
	local line port
	head -n 10 "$LAB_DIR/$1.err" 2>/dev/null | while IFS= read -r line; do
		t_diag "$line"
		port=${line#xfer: conn * port }
		port=${port%%:*}
		case $port in
		''|*[!0-9]*|0) continue ;;
		esac
		grep -F "10.2.0.2:$port " "$LOG" | tail -n 2 |
			while IFS= read -r line; do t_diag "  agent: $line"; done
	done
}

# --- one fault ---------------------------------------------------------------
# fault_case NAME CUTS WHAT INJECT RESTORE -- CUTS: which modes the fault
# must cut ("A C", "C", or "" for none); INJECT and RESTORE are eval'd.
case_no=0
fault_case() {
	local name=$1 cuts=$2 what=$3 inject=$4 restore=$5 m port xp n0 cut t0 snap
	local -A xpid=()
	case_no=$((case_no + 1))
	case " ${FAULTS_ONLY:-$name} " in	# FAULTS_ONLY="sshd wan ...": those
	*" $name "*) ;;
	*) return 0 ;;
	esac
	t_diag "--- $what"
	t0=${EPOCHREALTIME//[!0-9]/}
	for m in A C; do
		port=$EA
		[ $m = C ] && port=$EC
		: >"$LAB_DIR/$name$m.hold"
		lab_bg bcli "$LAB_DIR/$name$m.pid" "$XFER" run 10.2.0.1 "$port" \
			-n "$N" -l $LEN -s $RATE -w $OPEN_S \
			-H "$LAB_DIR/$name$m.hold" \
			-S $((case_no * 10000 + 1000)) \
			>"$LAB_DIR/$name$m.out" 2>"$LAB_DIR/$name$m.err"
		read -r xpid[$m] <"$LAB_DIR/$name$m.pid"
	done
	sleep_until "$t0" $((OPEN_S * 1000 - 2000))
	snap=$(json)
	t_ok all_live "$snap" \
		"$what: all $N + $N connections open before the data starts ($(live "$snap" siteA) direct, $(live "$snap" siteC) relay mode with $(sessions_field "$snap" siteC in_use) sessions)"
	# what to kill, found now: listing a namespace's processes takes
	# seconds under load, the kill itself must not
	victims=
	[ -n "${PREPARE:-}" ] && eval "$PREPARE"
	# into the data: every transfer has sent half its length and waits
	# (xfer -H), so the fault strikes transfers under way however slow
	# the host is
	for m in A C; do
		lab_wait_for 120 eval '[ -e "$LAB_DIR/$name$m.hold.held" ] || ! kill -0 ${xpid[$m]} 2>/dev/null' >/dev/null
		t_ok [ -e "$LAB_DIR/$name$m.hold.held" ] \
			"$what, $m: every transfer is half done before the fault"
	done
	t_diag "$what: striking $(( (${EPOCHREALTIME//[!0-9]/} - t0) / 1000 )) ms after the start"
	# shellcheck disable=SC2034  # used in eval
	n0=$(wc -l <"$LOG")
	eval "$inject"
	rm -f "$LAB_DIR/${name}A.hold" "$LAB_DIR/${name}C.hold"
	for m in A C; do
		# shellcheck disable=SC2034  # used in eval
		xp=${xpid[$m]}
		lab_wait_for 90 eval '! kill -0 $xp 2>/dev/null' >/dev/null
	done
	eval "$restore"
	for m in A C; do
		t_diag "$what, mode $m: $(summary "$name$m")"
		t_ok eval '[ "$(field "$name$m" corrupt)" = 0 ] && [ "$(field "$name$m" long)" = 0 ]' \
			"$what, $m: no byte corrupted, reordered or added" ||
			explain "$name$m"
		t_ok [ "$(( $(field "$name$m" ok) + $(field "$name$m" cut_eof) + $(field "$name$m" cut_reset) + $(field "$name$m" connfail) ))" = "$N" ] \
			"$what, $m: every connection accounted for"
		cut=$(( $(field "$name$m" cut_eof) + $(field "$name$m" cut_reset) ))
		case " $cuts " in
		*" any "*)
			[ "$cut" -eq 0 ] || t_ok eval 'tail -n +"$((n0 + 1))" "$LOG" | grep -q -e "connections cut" -e ": connection from .* failed: " -e "the relay session ended without" -e "the relay subsystem exited"' \
				"$what, $m: $cut cut; the agent's log says why (default level)"
			;;
		*" $m "*)
			t_ok [ "$cut" -gt 0 ] \
				"$what, $m: the cut connections end before their full length ($cut)"
			t_ok eval 'tail -n +"$((n0 + 1))" "$LOG" | grep -q -e "connections cut" -e ": connection from .* failed: " -e "the relay session ended without" -e "the relay subsystem exited"' \
				"$what, $m: the agent's log says why (default level)"
			;;
		*)
			t_ok [ "$(field "$name$m" ok)" = "$N" ] \
				"$what, $m: every transfer completes ($(field "$name$m" ok)/$N)" ||
				explain "$name$m"
			;;
		esac
	done
	t_ok lab_wait_for 60 eval 'synced siteA && synced siteC && works "${name}afterA" "$EA" && works "${name}afterC" "$EC"' \
		"$what: afterwards both modes carry transfers again"
}

# "PID EXE" of every subsystem process started so far (lab_kill refuses
# the dead, saying so)
sub_victims() {
	local p
	while read -r p; do
		echo "$p $SUB"
	done <"$LAB_DIR/subsys.pids"
}
kill_victims() { # -- SIGKILL each of $victims that still runs its program
	local p exe n=0
	while read -r p exe; do
		[ -n "$p" ] && lab_kill KILL "$p" "$exe" && n=$((n + 1))
	done <<<"$victims"
	t_diag "killed $n processes"
}
# A server crash: every sshd of the host and what its sessions run killed
# at once, then a new sshd. The processes are listed before the strike
# (PREPARE): listing a namespace's processes takes seconds under load, and
# the fault must strike mid-transfer.
sshd_victims() { # HOST... -- "PID EXE" of each sshd and subsystem there
	local h p sshd sexe
	sshd=$(readlink -f "$(PATH=$LAB_PATH command -v sshd)")
	sexe=$(readlink -f "$SUB")
	for h in "$@"; do
		read -r p <"$LAB_DIR/$h/sshd/sshd.pid" || continue
		for p in $(proc_tree "$p"); do
			case $(readlink "/proc/$p/exe" 2>/dev/null) in
			"$sshd")	echo "$p $sshd" ;;
			"$sexe")	echo "$p $SUB" ;;
			esac
		done
	done
}
# proc_tree PID -- PID and its descendants (from /proc: a scan of every
# process of the namespace, ip netns pids, took over 10 s on a busy host)
proc_tree() {
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		proc_tree "$c"
	done
}
sshd_crash() { # HOST...
	local h
	kill_victims
	for h in "$@"; do
		rm -f "$LAB_DIR/$h/sshd/sshd.pid"
	done
}
PREPARE='victims=$(sshd_victims arelay crelay)' \
fault_case sshd "A C" "sshd crashed with its sessions, restarted" \
	'sshd_crash arelay crelay; sleep 3' \
	'lab__sshd_launch arelay; lab__sshd_launch crelay'
fault_case wan "A C" "WAN cut until the master gives up" \
	'lab_exec arelay ip link set wan0 down; lab_exec crelay ip link set wan0 down' \
	'lab_exec arelay ip link set wan0 up; lab_exec crelay ip link set wan0 up'
# (whether the relay sessions' subsystems are among the killed depends on
# timing here: "any" checks what was cut, not that something was)
PREPARE='victims=$(sub_victims)' \
fault_case subsys "any" "subsystem processes killed" kill_victims true
fault_case savahi "" "the servers' avahi-daemon restarted" \
	'lab_avahi_restart arelay; lab_avahi_restart crelay' \
	'lab_publish crelay "Echo $LAB_ID" $T 7001 >/dev/null'
fault_case cavahi "" "the client's avahi-daemon restarted" \
	'lab_avahi_restart brelay' true

lab_stop "$agent"
t_nok grep -q -e "Sanitizer" -e "runtime error" "$LOG" "no sanitizer report"
t_done
