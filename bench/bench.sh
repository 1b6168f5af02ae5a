#!/bin/bash
#
# bench/bench.sh -- the rnsplice benchmark suite (`make bench`).
#
# Builds one lab (tests/lab/lab.sh) holding two separate worlds:
#
#   rnsplice   asrv --[LAN A]-- arelay ==wan0== brelay --[LAN B]-- bcli
#              (sshd + subsystem on arelay, rnsplice-agent on brelay)
#   reflector  rsrv --[LAN RA]-- rtr --[LAN RB]-- rcli
#              (avahi-daemon enable-reflector=yes and ip_forward on rtr)
#
# and measures rnsplice against baselines set up in the same run: the
# reflector (discovery, withdrawal, mDNS bytes), hand-made `ssh -L`
# forwards over the same WAN link and sshd (default cipher, aes128-gcm,
# and -tt), and plain routing across arelay/brelay (the no-encryption
# ceiling).  Every figure is repeated; bench/report.py turns the samples
# into RESULTS.md and RESULTS.json.  The suite reports; it asserts nothing.
#
# Environment:
#   BENCH_QUICK=1      fewer repetitions, shorter runs (~4 minutes)
#   BENCH_SECTIONS     subset of "disc idle txt data conc scale export"
#                      (default: all)
#   BENCH_REPS         repetitions of every figure (default 5, quick 2;
#                      the discovery cycles 10, quick 8)
#   BENCH_TRANSPORTS   the data section's transports (default: all of
#                      DATA_ORDER below)
#   BENCH_DATA_TESTS   subset of "iperf http8m ka new1 new8" (default: all)
#   BENCH_PERF=1       the scale section records perf profiles of the
#                      avahi-daemons during the sync (perf-scale-HOST.txt
#                      in the results directory; BENCH_PERF_ARGS: perf
#                      record's options, default -F 499)
#   BENCH_BASE_AGENT   another rnsplice-agent binary, measured as the extra
#                      transport "rnsplice-base" beside "rnsplice": a
#                      before/after comparison in the same run
#   BENCH_OUT          where RESULTS.md/RESULTS.json go (default: bench/ of
#                      the build tree); raw samples and logs go to
#                      $BENCH_OUT/results/<date>/
#   top_srcdir, top_builddir   set by make
#
# Needs root (network namespaces), iperf3, python3, strace.

set -u
export LC_ALL=C

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${top_builddir:-$srcdir}
export top_builddir=$builddir
QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] || [ "$QUICK" = 1 ] || QUICK=1
SECTIONS=${BENCH_SECTIONS:-disc idle txt data conc scale export}
DATA_TESTS=${BENCH_DATA_TESTS:-iperf http8m ka new1 new8}
BASE_AGENT=${BENCH_BASE_AGENT:-}
OUT=${BENCH_OUT:-$builddir/bench}
PERF=${BENCH_PERF:-0}
PERF_ARGS=${BENCH_PERF_ARGS:--F 499}

if [ "$QUICK" = 1 ]; then
	REPS=2		# repetitions of every figure
	DISC_REPS=8	# discovery cycles: avahi's random delays rule them
	DUR=1		# seconds per load-generator run
	IDLE_S=12	# idle window (twice: counters, then strace)
	IPERF_OMIT=0	# iperf3 -O: seconds of warm-up not counted
	N8M=8		# 8 MB fetches per HTTP bulk run
	CONC_REPS=1
	SCALE_REPS=1
	NOKA_REPS=2
else
	REPS=5
	DISC_REPS=10
	DUR=2
	IDLE_S=20
	IPERF_OMIT=1
	N8M=12
	CONC_REPS=5
	SCALE_REPS=3
	NOKA_REPS=3
fi
REPS=${BENCH_REPS:-$REPS}
DISC_REPS=${BENCH_REPS:-$DISC_REPS}
IDLE_CAP=60	# s, the idle section's byte count and capture (>= 2 x IDLE_S)
CYCLE_HOLD=4	# s from publish to unpublish in a discovery cycle
CYCLE_LEN=10	# s, the whole cycle: the window of the byte counts (the
		# agent pings after 7 s without traffic, so a window holds at
		# most one keepalive exchange)
NSCALE=1000
NCONC=2000
SCALE_WAIT=15	# s to wait for 1,000 withdrawals to reach LAN B

T0_RUN=$SECONDS
say() { printf '[bench %4ds] %s\n' $((SECONDS - T0_RUN)) "$*"; }
die() {
	say "ERROR: $*" >&2
	exit 1
}

for tool in benchd httpload manyconn manypub txtwatch; do
	[ -x "$builddir/bench/$tool" ] ||
		die "bench/$tool not built (run: make bench)"
done
for f in agent/rnsplice-agent agent/rnsplice subsystem/rnsplice-subsystem; do
	[ -x "$builddir/$f" ] || die "$f not built (run: make)"
done
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null 2>&1; then
	die "BENCH_PERF=1: perf not installed (Debian: linux-perf)"
fi
for tool in iperf3 python3 strace; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool not installed (tests/deps.sh installs it)"
done

# shellcheck source=../tests/lab/lab.sh
. "$srcdir/tests/lab/lab.sh"
lab_init || die "cannot build the lab (needs root)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

RUN=$OUT/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RUN" || die "cannot create $RUN"
SAMPLES=$RUN/samples.tsv
printf 'section\tmetric\tsubject\trep\tvalue\tunit\n' >"$SAMPLES"

# Snapshot of the programs: the tree may be rebuilt while we run.
BIN=$LAB_DIR/bin
mkdir -p "$BIN"
cp "$builddir/agent/rnsplice-agent" "$builddir/agent/rnsplice" \
	"$builddir/subsystem/rnsplice-subsystem" "$builddir/bench/benchd" \
	"$builddir/bench/httpload" "$builddir/bench/manyconn" \
	"$builddir/bench/manypub" "$builddir/bench/txtwatch" \
	"$builddir/tests/integration/subsystem-txtpub" \
	"$srcdir/bench/mdnscount.py" "$srcdir/bench/wancap.py" "$BIN/" ||
	die "cannot copy the programs"
if [ -n "$BASE_AGENT" ]; then
	cp "$BASE_AGENT" "$BIN/rnsplice-agent-base" ||
		die "cannot copy $BASE_AGENT"
fi
# The subsystem reads a policy file; it starts with defaults only (no rule:
# everything offered) and gets max-services for the scale test.
POLICY=$LAB_DIR/subsystem.conf
echo "# bench: defaults" >"$POLICY"
RNSPLICE_SUBSYSTEM="$BIN/rnsplice-subsystem -f $POLICY"

# sample SECTION METRIC SUBJECT REP VALUE UNIT
sample() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$SAMPLES"
}
# meta KEY VALUE
meta() {
	printf '%s\t%s\n' "$1" "$2" >>"$RUN/meta.tsv"
}

now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
us_to_s() {
	local v=$1 sign=
	if [ "$v" -lt 0 ]; then
		sign=- v=$((-v))
	fi
	printf '%s%d.%06d' "$sign" $((v / 1000000)) $((v % 1000000))
}
sleep_until_us() {
	local left=$(($1 - $(now_us)))
	[ "$left" -le 0 ] || sleep "$(us_to_s "$left")"
}

# json_get FIELD... -- print fields of the JSON object on stdin (a.b.c paths)
json_get() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
out = []
for path in sys.argv[1:]:
    v = d
    for k in path.split("."):
        v = v[k] if isinstance(v, dict) else v[int(k)]
    out.append(str(v))
print(" ".join(out))' "$@"
}

# ---------------------------------------------------------------------------
# The lab.

say "lab $LAB_ID: building hosts (rnsplice world and reflector world)"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta machine "$(uname -srm), $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
meta aes_ni "$(grep -qw aes /proc/cpuinfo && echo yes || echo no)"
meta openssh "$(ssh -V 2>&1)"
meta avahi "$(avahi-daemon --version 2>/dev/null | head -1)"
meta iperf3 "$(iperf3 --version 2>/dev/null | head -1)"
meta commit "$(git -C "$srcdir" describe --always --dirty 2>/dev/null || echo unknown)"
meta mode "$([ "$QUICK" = 1 ] && echo quick || echo full), $REPS repetitions ($DISC_REPS of the discovery cycles)"
meta cycle_len "$CYCLE_LEN"
meta scale_wait "$SCALE_WAIT"
meta max_relays_default "$(sed -n 's/^#define AGENT_MAX_RELAYS[[:space:]]*\([0-9]*\).*/\1/p' "$srcdir/agent/agent.h")"

lab_topology_basic || die "lab_topology_basic failed"
lab_hosts rsrv rtr rcli || die "reflector hosts"
lab_lan RA 10.11.0 rtr rsrv || die "LAN RA"
lab_lan RB 10.12.0 rtr rcli || die "LAN RB"

# The reflector: rtr's avahi with enable-reflector=yes, IPv4 routing.
# reflector_start -- start rtr's avahi-daemon with its reflecting
# configuration (the scale section stops and starts it again)
reflector_start() {
	local d=$LAB_DIR/rtr holder
	holder=$(lab_holder rtr)
	rm -f "/proc/$holder/root/run/avahi-daemon/pid"
	lab_bg rtr "$d/avahi.pid" avahi-daemon -f "$d/avahi-daemon.conf" \
		--no-drop-root --no-chroot --no-rlimits >>"$d/avahi.log" 2>&1
}
reflector_setup() {
	local d=$LAB_DIR/rtr
	lab_avahi_stop rtr || return 1
	sed -i 's/^enable-reflector=no/enable-reflector=yes/' "$d/avahi-daemon.conf"
	grep -qx 'enable-reflector=yes' "$d/avahi-daemon.conf" || return 1
	reflector_start
	lab_wait_avahi rtr || return 1
	lab_exec rtr sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward' &&
		lab_exec rsrv ip route add 10.12.0.0/24 via 10.11.0.1 &&
		lab_exec rcli ip route add 10.11.0.0/24 via 10.12.0.1
}
reflector_setup || die "reflector setup failed"
lab_bg rtr "$LAB_DIR/mdnscount.pid" python3 "$BIN/mdnscount.py" \
	"$LAB_DIR/rtr/mdns.json" eth0 eth1 >"$RUN/mdnscount.log" 2>&1
lab_wait_for 10 test -s "$LAB_DIR/rtr/mdns.json" || die "mdnscount did not start"

# Servers on asrv: HTTP + echo (benchd) and iperf3; published on LAN A.
lab_bg asrv "$LAB_DIR/benchd.pid" "$BIN/benchd" -H 8080 -E 7007 \
	>"$RUN/benchd.log" 2>&1
lab_bg asrv "$LAB_DIR/iperf3.pid" iperf3 -s -p 5201 >"$RUN/iperf3-server.log" 2>&1
lab_wait_for 10 lab__tcp_open asrv 10.1.0.2 8080 || die "benchd did not start"
lab_wait_for 10 lab__tcp_open asrv 10.1.0.2 5201 || die "iperf3 -s did not start"
lab_publish asrv "bench http" _http._tcp 8080 >/dev/null
lab_publish asrv "bench iperf3" _iperf3._tcp 5201 >/dev/null
lab_publish asrv "bench echo" _echo._tcp 7007 >/dev/null
# Anchors: one instance of the discovery type stays published on each
# world's server LAN, so that each cycle measures a new service, not a new
# service type (the subsystem follows types with a type browser). They and
# the measured services name asrv's echo port: in host scope the agent
# hands the listener to its ssh master after a probe, and a service whose
# target refuses is not published (nothing listens on rsrv: the reflector
# never connects).
DISC_PORT=7007
A_ANCHOR=$(lab_publish asrv "bench anchor" _rnsbench._tcp $DISC_PORT)
R_ANCHOR=$(lab_publish rsrv "bench anchor" _rnsbench._tcp $DISC_PORT)
lab_wait_published "$A_ANCHOR" && lab_wait_published "$R_ANCHOR" ||
	die "anchors not published"

# What cipher does ssh negotiate out of the box?  (rnsplice's master puts
# AES-GCM first when nothing names Ciphers and the CPU has AES: see
# agent_cipher below.)
CIPHER=$(lab_exec brelay ssh -v siteA true 2>&1 |
	sed -n 's/.*kex: client->server cipher: \([^ ]*\).*/\1/p' | head -1)
meta cipher_default "${CIPHER:-unknown}"
say "ssh's default cipher here: ${CIPHER:-unknown}"

# ---------------------------------------------------------------------------
# Agents on brelay: one config file each, own runtime dir, own log.

# agent_start NAME CONFIG-TEXT [BINARY] -- start rnsplice-agent -f NAME.conf
agent_start() {
	local name=$1 conf=$LAB_DIR/agent-$1.conf rdir=$LAB_DIR/brelay/run-$1
	printf 'allow-root yes\n%s\n' "$2" >"$conf"
	mkdir -p -m 0700 "$rdir"
	lab_bg brelay "$LAB_DIR/agent-$name.pid" \
		env XDG_RUNTIME_DIR="$rdir" "${3:-$BIN/rnsplice-agent}" -d -f "$conf" \
		>>"$RUN/agent-$name.log" 2>&1
}
agent_pid() { cat "$LAB_DIR/agent-$1.pid"; }
agent_stop() {
	lab_stop "$(agent_pid "$1")" 2>/dev/null || true
}
# the agent's ssh master (its ssh child)
agent_ssh_pid() {
	pgrep -P "$(agent_pid "$1")" -x ssh | head -1
}
# the agent's publisher process: its child running the agent's own program
agent_pub_pid() {
	local a c exe
	a=$(agent_pid "$1") || return 1
	exe=$(readlink "/proc/$a/exe") || return 1
	for c in $(cat "/proc/$a/task/$a/children" 2>/dev/null); do
		[ "$(readlink "/proc/$c/exe" 2>/dev/null)" = "$exe" ] &&
			{ echo "$c"; return 0; }
	done
	return 1
}
# agent_cipher NAME -- the cipher agent NAME's master asks for first: the
# agent's preference on its command line, or else ssh's default
agent_cipher() {
	local pid
	pid=$(agent_ssh_pid "$1") || return 1
	if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q '^Ciphers=^aes128-gcm@openssh.com'; then
		echo aes128-gcm@openssh.com
	else
		echo "${CIPHER:-unknown}"
	fi
}
rnsplice_cli() { # NAME ARGS...
	local name=$1
	shift
	lab_exec brelay env XDG_RUNTIME_DIR="$LAB_DIR/brelay/run-$name" \
		"$BIN/rnsplice" "$@"
}

# agent_ports NAME -- "HTTPPORT IPERFPORT ECHOPORT" of the bench services
# as agent NAME publishes them, once all three are established
agent_ports() {
	rnsplice_cli "$1" -j services 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
def walk(x):
    if isinstance(x, dict):
        if "name" in x and "port" in x:
            yield x
        for v in x.values():
            yield from walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from walk(v)
ports = {s["name"]: s["port"] for s in walk(d)
         if s.get("publish_state") == "established"}
want = ["bench http", "bench iperf3", "bench echo"]
if not all(w in ports for w in want):
    sys.exit(1)
print(" ".join(str(ports[w]) for w in want))'
}

# ---------------------------------------------------------------------------
# Byte counters.

# wan_bytes -- "BYTES PACKETS" that crossed brelay's wan0 (rx + tx)
wan_bytes() {
	lab_exec brelay cat /proc/net/dev |
		awk -F'[: ]+' '$2 == "wan0" { print $3 + $11, $4 + $12 }'
}
# refl_bytes -- "BYTES PACKETS V4 V6" of mDNS sent by the reflector on its
# two legs (what crossed between the LANs)
refl_bytes() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(sum(v["out_bytes"] for v in d.values()),
      sum(v["out_pkts"] for v in d.values()),
      sum(v["out_bytes_v4"] for v in d.values()),
      sum(v["out_bytes_v6"] for v in d.values()))' "$LAB_DIR/rtr/mdns.json"
}

# ---------------------------------------------------------------------------
# disc: discovery, withdrawal and WAN bytes per service up/down cycle.

# first_event_after WATCH EV NAME IF AFTER_US -- time (us) of the first
# event EV for NAME on IF/IPv4 at or after AFTER_US, or nothing
first_event_after() {
	local t
	for t in $(lab_watch_times "$1" "$2" "$3" "$4" IPv4); do
		t=${t/./}
		if [ "$t" -ge "$5" ]; then
			echo "$t"
			return 0
		fi
	done
	return 1
}
event_seen() { first_event_after "$@" >/dev/null; }

# agent_ts LOG TEXT [TEXT2] -- time stamp (us) of the first line of the
# agent's log holding TEXT (and TEXT2),
# "YYYY-MM-DD HH:MM:SS.mmm rnsplice-agent[PID]: ..." (local time), or nothing
agent_ts() {
	local t
	t=$(grep -F -- "$2" "$1" 2>/dev/null | grep -F -m1 -- "${3:-}" |
		sed -n 's/^\([0-9-]* [0-9:.]*\) rnsplice-agent\[.*/\1/p')
	[ -n "$t" ] && t=$(date -d "$t" +%s%3N) && echo "${t}000"
}

# part METRIC KIND REP FROM TO -- a sample TO - FROM (us) in seconds, if
# both are known
part() {
	[ -n "$4" ] && [ -n "$5" ] || return 0
	sample disc "$1" "$2" "$3" "$(us_to_s $(($5 - $4)))" s
}

# cycle KIND REP WATCH PUBHOST SUFFIX IF BYTES [AWATCH AGENTLOG] -- one
# up/down cycle: publish on PUBHOST, resolved at WATCH (on IF), unpublish
# after CYCLE_HOLD s, removed at WATCH; BYTES counts what crossed during
# CYCLE_LEN s (wan_bytes, refl_bytes or none).  With AWATCH (a watch on
# arelay) and the agent's log, the time is split into its hops.
cycle() {
	local kind=$1 rep=$2 watch=$3 pubhost=$4 suffix=$5 ifc=$6 bytes=$7
	local awatch=${8:-} alog=${9:-}
	local name seen pid t0 t1 t2 t3 b0 b1 d w cb ta tb tc td
	name="bench $kind $rep $RANDOM"
	seen="$name$suffix"
	[ "$bytes" = none ] || b0=$($bytes)
	t0=$(now_us)
	pid=$(lab_publish "$pubhost" "$name" _rnsbench._tcp $DISC_PORT)
	t1=
	if lab_wait_for "$CYCLE_HOLD" event_seen "$watch" = "$seen" "$ifc" "$t0"; then
		t1=$(first_event_after "$watch" = "$seen" "$ifc" "$t0")
		d=$(((t1 - t0) / 1000))
		sample disc discovery "$kind" "$rep" "$(us_to_s $((t1 - t0)))" s
	else
		d=missed
		sample disc discovery "$kind" "$rep" nan s
	fi
	sleep_until_us $((t0 + CYCLE_HOLD * 1000000))
	t2=$(now_us)
	lab_unpublish "$pid"
	t3=
	if lab_wait_for 8 event_seen "$watch" - "$seen" "$ifc" "$t2"; then
		t3=$(first_event_after "$watch" - "$seen" "$ifc" "$t2")
		w=$(((t3 - t2) / 1000))
		sample disc withdrawal "$kind" "$rep" "$(us_to_s $((t3 - t2)))" s
	else
		w=missed
		sample disc withdrawal "$kind" "$rep" nan s
	fi
	if [ -n "$awatch" ]; then
		# discovery: LAN A hop | subsystem + ssh + agent | probing on
		# LAN B | announcement to the browser
		ta=$(first_event_after "$awatch" = "$name" eth0 "$t0")
		tb=$(agent_ts "$alog" "splicing \"$name\"")
		tc=$(agent_ts "$alog" "publish \"$seen\" " ": established")
		part disc_1_lan_a "$kind" "$rep" "$t0" "$ta"
		part disc_2_to_agent "$kind" "$rep" "$ta" "$tb"
		part disc_3_probe "$kind" "$rep" "$tb" "$tc"
		part disc_4_lan_b "$kind" "$rep" "$tc" "$t1"
		# withdrawal: LAN A (goodbye, then 1 s expiry) | to the agent |
		# LAN B (goodbye, 1 s expiry)
		ta=$(first_event_after "$awatch" - "$name" eth0 "$t2")
		tb=$(agent_ts "$alog" "withdrawing \"$name\"")
		part wd_1_lan_a "$kind" "$rep" "$t2" "$ta"
		part wd_2_to_agent "$kind" "$rep" "$ta" "$tb"
		part wd_3_lan_b "$kind" "$rep" "$tb" "$t3"
	fi
	if [ "$bytes" != none ]; then
		sleep_until_us $((t0 + CYCLE_LEN * 1000000))
		b1=$($bytes)
		set -- $b0 $b1
		if [ "$bytes" = wan_bytes ]; then
			cb=$(($3 - $1))
			sample disc cycle_bytes "$kind" "$rep" "$cb" B
			sample disc cycle_pkts "$kind" "$rep" $(($4 - $2)) pkts
		else
			cb=$(($5 - $1))
			sample disc cycle_bytes "$kind" "$rep" "$cb" B
			sample disc cycle_pkts "$kind" "$rep" $(($6 - $2)) pkts
			sample disc cycle_bytes_v4 "$kind" "$rep" $(($7 - $3)) B
			sample disc cycle_bytes_v6 "$kind" "$rep" $(($8 - $4)) B
		fi
		say "disc $kind #$rep: discovery ${d} ms, withdrawal ${w} ms, $cb bytes in ${CYCLE_LEN} s"
	else
		sleep 1
		say "disc $kind #$rep: discovery ${d} ms, withdrawal ${w} ms"
	fi
}

section_disc() {
	local r w_bcli w_rcli w_brelay w_arelay w_bcli2
	say "disc: rnsplice-agent (out of the box, scope lan) vs the reflector"
	agent_start lan 'remote siteA {
	destination siteA
}'
	w_bcli=$(lab_watch bcli _rnsbench._tcp)
	w_rcli=$(lab_watch rcli _rnsbench._tcp)
	w_arelay=$(lab_watch arelay _rnsbench._tcp)
	lab_wait_for 20 lab_watch_seen "$w_bcli" "bench anchor (siteA)" ||
		die "rnsplice did not splice the anchor (see $RUN/agent-lan.log)"
	lab_wait_for 10 lab_watch_seen "$w_rcli" "bench anchor" ||
		die "the reflector did not reflect the anchor"
	sleep 2
	for r in $(seq 1 "$DISC_REPS"); do
		cycle reflector "$r" "$w_rcli" rsrv "" eth0 refl_bytes
		cycle rnsplice "$r" "$w_bcli" asrv " (siteA)" eth0 wan_bytes \
			"$w_arelay" "$RUN/agent-lan.log"
	done
	lab_unwatch "$w_rcli"
	lab_unwatch "$w_bcli"
	if [[ " $SECTIONS " == *" idle "* ]]; then
		section_idle
	fi
	agent_stop lan

	say "disc: rnsplice-agent -s host (published on brelay's loopback)"
	agent_start host 'remote siteA {
	destination siteA
	scope host
	name-template "%n (siteA host)"
}'
	w_brelay=$(lab_watch brelay _rnsbench._tcp)
	w_bcli2=$(lab_watch bcli _rnsbench._tcp)
	lab_wait_for 20 lab_watch_seen "$w_brelay" "bench anchor (siteA host)" lo IPv4 ||
		die "host scope: anchor not seen (see $RUN/agent-host.log)"
	sleep 2
	for r in $(seq 1 "$DISC_REPS"); do
		CYCLE_HOLD=3 cycle rnsplice-host "$r" "$w_brelay" asrv " (siteA host)" lo none \
			"$w_arelay" "$RUN/agent-host.log"
	done
	lab_unwatch "$w_brelay"
	agent_stop host

	# Diagnostic: what a cycle itself costs on the WAN, without the
	# periodic traffic (the agent's pings; ssh's ServerAlive too, should
	# a configuration turn it on) that the figure above includes.
	say "disc: the same cycles with every keepalive off (what a cycle itself costs)"
	cp "$POLICY" "$POLICY.saved"
	echo "keepalive 0" >>"$POLICY"
	agent_start noka 'ping-interval 3600
remote siteA {
	destination siteA
}'
	lab_wait_for 20 lab_watch_seen "$w_bcli2" "bench anchor (siteA)" ||
		die "no-keepalive agent: anchor not seen (see $RUN/agent-noka.log)"
	mv -f "$POLICY.saved" "$POLICY"
	sleep 2
	for r in $(seq 1 "$NOKA_REPS"); do
		cycle rnsplice-noka "$r" "$w_bcli2" asrv " (siteA)" eth0 wan_bytes
	done
	agent_stop noka
	lab_unwatch "$w_bcli2"
	lab_unwatch "$w_arelay"
}

# ---------------------------------------------------------------------------
# idle: WAN bytes and wake-ups of an idle, synced agent (called from
# section_disc while the lan agent runs, or on its own).

ctxt() { # PID -- voluntary + involuntary context switches, all threads
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

subsystem_pid() {
	local p exe
	for p in $(ip netns pids "$(lab_ns arelay)"); do
		exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
		if [ "$exe" = "$BIN/rnsplice-subsystem" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

section_idle() {
	local own=0 apid spid sub w0 w2 r0 r2 c0a c0s c0u c1a c1s c1u
	local strace_log sub_strace_log
	if [ ! -e "$LAB_DIR/agent-lan.pid" ] || ! lab__alive "$(agent_pid lan)"; then
		own=1
		agent_start lan 'remote siteA {
	destination siteA
}'
		lab_wait_for 20 lab_seen bcli _rnsbench._tcp "bench anchor (siteA)" ||
			die "idle: agent not synced"
	fi
	apid=$(agent_pid lan)
	spid=$(agent_ssh_pid lan)
	sub=$(subsystem_pid) || sub=
	say "idle: ${IDLE_CAP} s with nothing happening, 2 x ${IDLE_S} s of it watched closely (agent $apid, ssh $spid, subsystem ${sub:-?})"
	sleep 3
	# window 1: counters only (strace would add context switches)
	w0=$(wan_bytes)
	r0=$(refl_bytes)
	c0a=$(ctxt "$apid")
	c0s=$(ctxt "$spid")
	c0u=$([ -n "$sub" ] && ctxt "$sub" || echo 0)
	# and what the bytes are: every packet on wan0 (brelay's side),
	# over both windows and on to a whole minute
	lab_exec brelay python3 "$BIN/wancap.py" wan0 "$IDLE_CAP" \
		>"$RUN/idle-wan.txt" 2>"$RUN/idle-wan.detail" &
	local cap_pid=$!
	lab_record "$cap_pid"
	sleep "$IDLE_S"
	c1a=$(ctxt "$apid")
	c1s=$(ctxt "$spid")
	c1u=$([ -n "$sub" ] && ctxt "$sub" || echo 0)
	# window 2: what wakes the agent (and the subsystem) up, from their
	# system calls
	local trace=poll,ppoll,epoll_wait,epoll_pwait,select,pselect6,restart_syscall,read,write,recvmsg,sendmsg
	strace_log=$RUN/idle-agent.strace
	strace -f -tt -T -e trace=$trace \
		-s 16 -o "$strace_log" -p "$apid" 2>/dev/null &
	local strace_pid=$! sub_strace_pid=
	lab_record "$strace_pid"
	sub_strace_log=$RUN/idle-subsystem.strace
	if [ -n "$sub" ]; then
		strace -f -tt -T -e trace=$trace \
			-s 16 -o "$sub_strace_log" -p "$sub" 2>/dev/null &
		sub_strace_pid=$!
		lab_record "$sub_strace_pid"
	fi
	sleep "$IDLE_S"
	lab_kill TERM "$strace_pid" strace
	wait "$strace_pid" 2>/dev/null
	if [ -n "$sub_strace_pid" ]; then
		lab_kill TERM "$sub_strace_pid" strace
		wait "$sub_strace_pid" 2>/dev/null
	fi
	wait "$cap_pid" 2>/dev/null
	w2=$(wan_bytes)
	r2=$(refl_bytes)
	# bytes over a whole minute: a window of 12 s holds one or two of
	# the keepalive's lines 7 s apart, and its PING comes every 20 s.
	# The capture's own counters when it ran (the very span it broke
	# down), else ours.
	local wb wp rb rp ca cs cu
	set -- $w0 $w2
	wb=$((($3 - $1) * 60 / IDLE_CAP)) wp=$((($4 - $2) * 60 / IDLE_CAP))
	set -- $(awk '$1 == "counters" { print $2, $3 }' "$RUN/idle-wan.txt")
	[ $# -eq 2 ] && wb=$1 wp=$2
	set -- $r0 $r2
	rb=$((($5 - $1) * 60 / IDLE_CAP)) rp=$((($6 - $2) * 60 / IDLE_CAP))
	ca=$(((c1a - c0a) * 60 / IDLE_S)) cs=$(((c1s - c0s) * 60 / IDLE_S))
	cu=$(((c1u - c0u) * 60 / IDLE_S))
	sample idle wan_bytes_per_min rnsplice 1 "$wb" B/min
	sample idle wan_pkts_per_min rnsplice 1 "$wp" pkts/min
	sample idle wan_bytes_per_min reflector 1 "$rb" B/min
	sample idle wan_pkts_per_min reflector 1 "$rp" pkts/min
	sample idle ctxt_per_min agent 1 "$ca" /min
	sample idle ctxt_per_min ssh-master 1 "$cs" /min
	[ -z "$sub" ] || sample idle ctxt_per_min subsystem 1 "$cu" /min
	# classify the agent's wake-ups (blocking polls) from the strace log
	python3 "$srcdir/bench/wakeups.py" "$strace_log" "$IDLE_S" \
		>"$RUN/idle-wakeups.txt" 2>"$RUN/idle-wakeups.detail"
	while read -r key val; do
		sample idle "$key" agent 1 "$val" /min
	done <"$RUN/idle-wakeups.txt"
	if [ -n "$sub_strace_pid" ]; then
		python3 "$srcdir/bench/wakeups.py" "$sub_strace_log" "$IDLE_S" \
			>"$RUN/idle-wakeups-subsystem.txt" \
			2>"$RUN/idle-wakeups-subsystem.detail"
		while read -r key val; do
			sample idle "$key" subsystem 1 "$val" /min
		done <"$RUN/idle-wakeups-subsystem.txt"
	fi
	say "idle: on wan0, per minute (direction kind tcp-payload frame count): $(tr '\n' ';' <"$RUN/idle-wan.txt")"
	say "idle: WAN $wb B/min ($wp pkts), reflector $rb B/min; context switches/min: agent $ca, ssh master $cs, subsystem $cu; agent: $(tr '\n' ' ' <"$RUN/idle-wakeups.txt"); subsystem: $(tr '\n' ' ' <"$RUN/idle-wakeups-subsystem.txt" 2>/dev/null)"
	# a link that dies silently (both ends blackholed: no reset, no link
	# event): how long until the services have left LAN B
	local t0 dead
	t0=$(now_us)
	lab_exec arelay ip route add blackhole 10.99.0.2/32
	lab_exec brelay ip route add blackhole 10.99.0.1/32
	if lab_wait_for 60 eval '! lab_seen bcli _rnsbench._tcp "bench anchor (siteA)"'; then
		dead=$(us_to_s $(($(now_us) - t0)))
	else
		dead=nan
	fi
	lab_exec arelay ip route del blackhole 10.99.0.2/32
	lab_exec brelay ip route del blackhole 10.99.0.1/32
	sample idle dead_link_withdrawn_s rnsplice 1 "$dead" s
	say "idle: a silently dead link: services gone from LAN B after $dead s"
	lab_wait_for 60 lab_seen bcli _rnsbench._tcp "bench anchor (siteA)" ||
		say "idle: the services did not come back after the link did"
	[ "$own" = 0 ] || agent_stop lan
}

# ---------------------------------------------------------------------------
# data: throughput, request rate, connection rate.

routing() { # on|off -- plain IPv4 routing across arelay/brelay
	local v=0 op=del
	[ "$1" = on ] && v=1 op=add
	lab_exec arelay sh -c "echo $v >/proc/sys/net/ipv4/ip_forward"
	lab_exec brelay sh -c "echo $v >/proc/sys/net/ipv4/ip_forward"
	lab_exec arelay ip route "$op" 10.2.0.0/24 via 10.99.0.2 2>/dev/null
	lab_exec brelay ip route "$op" 10.1.0.0/24 via 10.99.0.1 2>/dev/null
	lab_exec asrv ip route "$op" 10.2.0.0/24 via 10.1.0.1 2>/dev/null
	lab_exec bcli ip route "$op" 10.1.0.0/24 via 10.2.0.1 2>/dev/null
	return 0
}

# sshl NAME BASEPORT ARGS... -- ssh -L forwards of http, iperf3 and echo
# from brelay:BASEPORT+1..3 to asrv, over the same WAN and sshd
sshl() {
	local name=$1 base=$2
	shift 2
	lab_bg brelay "$LAB_DIR/sshl-$name.pid" ssh -o ExitOnForwardFailure=yes \
		-L "10.2.0.1:$((base + 1)):10.1.0.2:8080" \
		-L "10.2.0.1:$((base + 2)):10.1.0.2:5201" \
		-L "10.2.0.1:$((base + 3)):10.1.0.2:7007" "$@" \
		>>"$RUN/sshl-$name.log" 2>&1
	lab_wait_for 10 lab__tcp_open bcli 10.2.0.1 $((base + 1)) ||
		die "ssh -L $name did not come up (see $RUN/sshl-$name.log)"
}

# Transports: NAME -> "HOST HTTPPORT IPERFPORT ECHOPORT"; the agent's pid;
# the host the client runs on (default bcli, on LAN B)
declare -A TP TPAGENT TPCLIENT
CLIENT=bcli

iperf_run() { # HOST PORT [-R] -> MB/s (10^6 bytes/s, as received)
	lab_exec "$CLIENT" iperf3 -c "$1" -p "$2" -t "$((DUR + IPERF_OMIT))" -O "$IPERF_OMIT" ${3:-} -J 2>/dev/null |
		json_get end.sum_received.bits_per_second |
		awk '{ printf "%.1f\n", $1 / 8e6 }'
}

# pid_cpu PID -- CPU time (clock ticks) of one process
pid_cpu() {
	local f
	f=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	set -- $f
	echo $((${12} + ${13}))
}

# ns_cpu HOST -- CPU time (clock ticks) of every process now in HOST
ns_cpu() {
	local p sum=0 f
	for p in $(ip netns pids "$(lab_ns "$1")"); do
		f=$(cut -d')' -f2 "/proc/$p/stat" 2>/dev/null) || continue
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))

# ns_ctxt HOST -- context switches (voluntary + not) of every thread of
# every process now in HOST: each wake-up is one
ns_ctxt() {
	local p
	for p in $(ip netns pids "$(lab_ns "$1")"); do
		cat /proc/"$p"/task/*/status 2>/dev/null
	done | awk '/ctxt_switches/ { n += $2 } END { print n + 0 }'
}

# load NAME REP TEST ARGS... -- run httpload on bcli; samples TEST_rate,
# TEST_p50_ms, TEST_p99_ms, TEST_errors and the CPU the relay hosts spent
# per request (brelay: ssh -L or agent + ssh master; arelay: sshd)
load() {
	local name=$1 rep=$2 test=$3 out cb0 ca0 cb1 ca1 n unit ag0 ag1 x0 x1
	local apid=${TPAGENT[$name]:-}
	shift 3
	cb0=$(ns_cpu brelay) ca0=$(ns_cpu arelay) x0=$(ns_ctxt brelay)
	[ -z "$apid" ] || ag0=$(pid_cpu "$apid")
	out=$(lab_exec "$CLIENT" "$BIN/httpload" "$@" | json_get rate p50_ms p99_ms errors requests)
	cb1=$(ns_cpu brelay) ca1=$(ns_cpu arelay) x1=$(ns_ctxt brelay)
	[ -z "$apid" ] || ag1=$(pid_cpu "$apid")
	set -- $out
	unit=conn/s
	[ "$test" != ka ] || unit=req/s
	sample data "${test}_rate" "$name" "$rep" "${1:-nan}" "$unit"
	sample data "${test}_p50_ms" "$name" "$rep" "${2:-nan}" ms
	sample data "${test}_p99_ms" "$name" "$rep" "${3:-nan}" ms
	sample data "${test}_errors" "$name" "$rep" "${4:-nan}" errors
	n=${5:-0}
	if [ "$n" -gt 0 ]; then
		sample data "${test}_cpu_us_brelay" "$name" "$rep" $(((cb1 - cb0) * TICK_US / n)) us
		sample data "${test}_cpu_us_arelay" "$name" "$rep" $(((ca1 - ca0) * TICK_US / n)) us
		[ -z "$apid" ] ||
			sample data "${test}_cpu_us_agent" "$name" "$rep" $(((ag1 - ag0) * TICK_US / n)) us
		sample data "${test}_ctxt_brelay" "$name" "$rep" \
			"$(awk -v a="$x0" -v b="$x1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) / n }')" /req
	fi
	LOAD_RATE=${1:-nan}
}

has_test() { [[ " $DATA_TESTS " == *" $1 "* ]]; }

measure_transport() { # NAME REP
	local name=$1 rep=$2 host hp ip ep up=- down=- h8=- ka=- n1=-
	set -- ${TP[$name]}
	host=$1 hp=$2 ip=$3 ep=$4
	CLIENT=${TPCLIENT[$name]:-bcli}
	LOAD_RATE=-
	if has_test iperf; then
		up=$(iperf_run "$host" "$ip")
		down=$(iperf_run "$host" "$ip" -R)
		sample data iperf_up_MBps "$name" "$rep" "${up:-nan}" MB/s
		sample data iperf_down_MBps "$name" "$rep" "${down:-nan}" MB/s
	fi
	if has_test http8m; then
		h8=$(lab_exec "$CLIENT" "$BIN/httpload" -m new -c 1 -n "$N8M" -p /8m "$host" "$hp" | json_get MBps)
		sample data http8m_MBps "$name" "$rep" "${h8:-nan}" MB/s
	fi
	if has_test ka; then
		load "$name" "$rep" ka -m ka -c 1 -d "$DUR" "$host" "$hp"
		ka=$LOAD_RATE
	fi
	if has_test new1; then
		load "$name" "$rep" new1 -m new -c 1 -d "$DUR" "$host" "$hp"
		n1=$LOAD_RATE
	fi
	has_test new8 &&
		load "$name" "$rep" new8 -m new -c 8 -d "$DUR" "$host" "$hp"
	say "data $name #$rep: iperf3 up $up down $down MB/s, http 8MB $h8 MB/s, keep-alive $ka req/s, new conn $n1 /s (1), $LOAD_RATE /s (8)"
}

# the transports, in the order of the first repetition (rotated after)
DATA_ORDER=${BENCH_TRANSPORTS:-routed ssh-L ssh-L-aes ssh-L-tt rnsplice rnsplice-same rnsplice-tuned rnsplice-master}
[ -z "$BASE_AGENT" ] || [[ " $DATA_ORDER " == *" rnsplice-base "* ]] ||
	DATA_ORDER="$DATA_ORDER rnsplice-base"

section_data() {
	local r names i p
	say "data: setting up the transports"
	agent_start data 'remote siteA {
	destination siteA
}'
	agent_start tuned 'remote tuned {
	destination siteA
	ssh-option Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com
	max-relays 8000
}'
	# the cipher of plain ssh -L, for a same-cipher comparison
	agent_start same "remote same {
	destination siteA
	ssh-option Ciphers=${CIPHER:-chacha20-poly1305@openssh.com}
}"
	# the ssh master listens itself (the default for host scope only)
	agent_start master 'remote master {
	destination siteA
	listener master
}'
	# the same as "data", run by another binary (BENCH_BASE_AGENT)
	[ -z "$BASE_AGENT" ] || agent_start base 'remote base {
	destination siteA
}' "$BIN/rnsplice-agent-base"
	routing on
	TP[routed]="10.1.0.2 8080 5201 7007"
	sshl chacha 9100 -N siteA
	TP[ssh-L]="10.2.0.1 9101 9102 9103"
	sshl aes 9200 -N -c aes128-gcm@openssh.com siteA
	TP[ssh-L-aes]="10.2.0.1 9201 9202 9203"
	sshl tt 9300 -tt siteA sleep 2147483647
	TP[ssh-L-tt]="10.2.0.1 9301 9302 9303"
	for i in rnsplice:data rnsplice-same:same rnsplice-tuned:tuned \
	    rnsplice-master:master \
	    ${BASE_AGENT:+rnsplice-base:base}; do
		lab_wait_for 20 agent_ports "${i#*:}" ||
			die "${i%%:*}: services not spliced (see $RUN/agent-${i#*:}.log)"
		TP[${i%%:*}]="10.2.0.1 $(agent_ports "${i#*:}")"
		TPAGENT[${i%%:*}]=$(agent_pid "${i#*:}")
	done
	# the published names resolve on LAN B
	lab_seen bcli _echo._tcp "bench echo (tuned)" ||
		die "rnsplice-tuned: not seen on LAN B"
	for i in $DATA_ORDER; do
		meta "transport_$i" "${TP[$i]}"
	done
	meta cipher_rnsplice "$(agent_cipher data)"
	say "rnsplice's master out of the box asks for $(agent_cipher data) first"
	names=($DATA_ORDER)
	for r in $(seq 1 "$REPS"); do
		for i in "${!names[@]}"; do
			p=${names[$(((i + r - 1) % ${#names[@]}))]}
			measure_transport "$p" "$r"
		done
	done
}

# ---------------------------------------------------------------------------
# conc: 2,000 concurrent relayed connections, checksummed.

conc_run() { # NAME REP
	local name=$1 rep=$2 out=$RUN/conc-$1-$2.out est=0 res
	set -- ${TP[$name]}
	lab_exec bcli "$BIN/manyconn" -n "$NCONC" -b 65536 -H 1 -t 60 "$1" "$4" \
		>"$out" 2>&1 &
	local job=$!
	if lab_wait_for 70 grep -q '^HOLD' "$out"; then
		est=$(lab_exec asrv ss -Htn state established '( sport = :7007 )' | wc -l)
	fi
	wait "$job"
	res=$(grep '^{' "$out" | json_get ok failed seconds)
	set -- $res
	sample conc ok "$name" "$rep" "${1:-nan}" conns
	sample conc failed "$name" "$rep" "${2:-nan}" conns
	sample conc seconds "$name" "$rep" "${3:-nan}" s
	sample conc server_established "$name" "$rep" "$est" conns
	say "conc $name #$rep: ${1:-?} ok, ${2:-?} failed, $est open at asrv at once, ${3:-?} s"
}

section_conc() {
	local r
	if [ -z "${TP[rnsplice]:-}" ]; then
		die "conc needs the data section's transports"
	fi
	say "conc: $NCONC concurrent connections, 64 KiB each way, checksummed"
	for r in $(seq 1 "$CONC_REPS"); do
		conc_run ssh-L "$r"
		conc_run rnsplice "$r"
		conc_run rnsplice-tuned "$r"
	done
}

data_teardown() {
	local n
	for n in chacha aes tt; do
		[ -e "$LAB_DIR/sshl-$n.pid" ] && lab_stop "$(cat "$LAB_DIR/sshl-$n.pid")"
	done
	for n in data same tuned master base; do
		[ -e "$LAB_DIR/agent-$n.pid" ] && agent_stop "$n"
	done
	routing off
}

# ---------------------------------------------------------------------------
# scale: 1,000 services on LAN A.

# count_plus LOG SUFFIX -- distinct names ending in SUFFIX announced ("+")
# on eth0/IPv4 in an avahi-browse -p log with time stamps
count_plus() {
	awk -F';' -v sfx="$2" '$2 == "+" && $3 == "eth0" && $4 == "IPv4" &&
		substr($5, length($5) - length(sfx) + 1) == sfx { n[$5] = 1 }
		END { c = 0; for (k in n) c++; print c }' "$1"
}
# count_live LOG SUFFIX -- of those, how many are not removed ("-") since
count_live() {
	awk -F';' -v sfx="$2" '$3 == "eth0" && $4 == "IPv4" &&
		substr($5, length($5) - length(sfx) + 1) == sfx {
			if ($2 == "+") n[$5] = 1; else if ($2 == "-") delete n[$5] }
		END { c = 0; for (k in n) c++; print c }' "$1"
}
all_there() { [ "$(count_plus "$1" "$2")" -ge "$3" ]; }
# last_new LOG SUFFIX -- time stamp (us) of the last name first seen
last_new() {
	local t
	t=$(awk -F';' -v sfx="$2" '$2 == "+" && $3 == "eth0" &&
		$4 == "IPv4" && !($5 in n) &&
		substr($5, length($5) - length(sfx) + 1) == sfx {
		n[$5] = 1; t = $1 } END { print t }' "$1")
	echo "${t/./}"
}
# scale_watch HOST LOG -- avahi-browse -p of the scale type on HOST, every
# line time-stamped; prints the watcher's pid
scale_watch() {
	lab_bg "$1" "$LAB_DIR/scale-watch.pid" env LC_ALL=C bash -c '
		exec > >(while IFS= read -r l; do printf "%s;%s\n" "$EPOCHREALTIME" "$l"; done)
		exec avahi-browse -p _rnsscale._tcp' >"$2" 2>&1
	cat "$LAB_DIR/scale-watch.pid"
}

# scale_reflector REP -- the baseline: LAN RA holds the same 1,000 (rtr's
# avahi-daemon stopped); rcli's avahi starts afresh (nothing cached), its
# browser runs, then rtr's reflector starts at t0: reflector start -> the
# 1,000th name seen on LAN RB, as agent start -> 1,000th on LAN B.
scale_reflector() {
	local r=$1 log=$RUN/scale-refl-$1.log wpid t0 t1 n h
	lab_avahi_stop rcli && lab_avahi_start rcli && lab_wait_avahi rcli ||
		die "scale: cannot restart rcli's avahi-daemon"
	wpid=$(scale_watch rcli "$log")
	sleep 1
	for h in rsrv rcli; do
		cpu0[$h]=$(avahi_cpu "$h")
		udp0[$h]=$(udp_dgrams "$h")
	done
	t0=$(now_us)
	reflector_start
	perf_start rtr rsrv rcli
	t1=
	if lab_wait_for 180 all_there "$log" "" "$NSCALE"; then
		t1=$(last_new "$log" "")
		sample scale full_sync reflector "$r" "$(us_to_s $((t1 - t0)))" s
	else
		sample scale full_sync reflector "$r" nan s
	fi
	perf_stop
	scale_host_samples reflector "$r" rsrv services
	scale_host_samples reflector "$r" rcli client
	n=$(count_plus "$log" "")
	sample scale seen_on_lan_b reflector "$r" "$n" services
	sample scale avahi_cpu_s_rtr reflector "$r" \
		"$(us_to_s $(($(avahi_cpu rtr) * TICK_US)))" s
	say "scale reflector #$r: $n/$NSCALE on LAN RB, full sync $([ -n "$t1" ] && us_to_s $((t1 - t0))) s"
	lab_avahi_stop rtr
	lab_stop "$wpid"
}
all_gone() { [ "$(count_live "$1" "$2")" -eq 0 ]; }

# udp_rcvbuf_errors HOST -- UDP datagrams HOST dropped for a full socket
# receive buffer (IPv4 + IPv6)
udp_rcvbuf_errors() {
	lab_exec "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
		$1 == "Udp:" && $2 ~ /^[0-9]+$/ { n += $6 }
		$1 == "Udp6RcvbufErrors" { n += $2 }
		END { print n + 0 }'
}

# avahi_cpu HOST -- CPU ticks of HOST's avahi-daemon
avahi_cpu() {
	local f
	f=$(cut -d')' -f2 "/proc/$(cat "$LAB_DIR/$1/avahi.pid")/stat")
	set -- $f
	echo $((${12} + ${13}))
}

# udp_dgrams HOST -- "IN OUT": UDP datagrams HOST received and sent
# (IPv4 + IPv6; mDNS is all of the lab's UDP)
udp_dgrams() {
	lab_exec "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
		$1 == "Udp:" && $2 ~ /^[0-9]+$/ { i += $2; o += $5 }
		$1 == "Udp6InDatagrams" { i += $2 }
		$1 == "Udp6OutDatagrams" { o += $2 }
		END { print i + 0, o + 0 }'
}

# perf_start HOST... -- with BENCH_PERF=1, record a profile of each HOST's
# avahi-daemon until perf_stop
PERF_PIDS=()
PERF_HOSTS=()
perf_start() {
	local h
	[ "$PERF" = 1 ] || return 0
	for h in "$@"; do
		# shellcheck disable=SC2086
		perf record -q $PERF_ARGS -p "$(cat "$LAB_DIR/$h/avahi.pid")" \
			-o "$RUN/perf-scale-$h.data" >/dev/null 2>&1 &
		PERF_PIDS+=("$!")
		PERF_HOSTS+=("$h")
	done
}
# perf_stop -- end the recordings, write perf-scale-HOST.txt
perf_stop() {
	local i
	[ "$PERF" = 1 ] || return 0
	for i in "${!PERF_PIDS[@]}"; do
		kill -INT "${PERF_PIDS[$i]}" 2>/dev/null
		wait "${PERF_PIDS[$i]}" 2>/dev/null
		perf report -i "$RUN/perf-scale-${PERF_HOSTS[$i]}.data" --stdio \
			--no-children --sort dso,sym 2>/dev/null | grep -v '^#' |
			grep -v '^$' >"$RUN/perf-scale-${PERF_HOSTS[$i]}.txt"
	done
	PERF_PIDS=()
	PERF_HOSTS=()
}

# scale_host_samples SUBJECT REP HOST ROLE -- HOST's avahi-daemon CPU and
# HOST's UDP datagrams since cpu0[HOST] and udp0[HOST] were taken, as
# ROLE's (services: the LAN's 1,000 services; client: the far LAN's
# browser), beside the rnsplice side's per-host figures
scale_host_samples() {
	local subj=$1 r=$2 h=$3 role=$4 cpu in0 out0 in1 out1
	cpu=$(us_to_s $((($(avahi_cpu "$h") - ${cpu0[$h]}) * TICK_US)))
	read -r in0 out0 <<<"${udp0[$h]}"
	read -r in1 out1 <<<"$(udp_dgrams "$h")"
	sample scale "avahi_cpu_s_$role" "$subj" "$r" "$cpu" s
	sample scale "udp_in_$role" "$subj" "$r" $((in1 - in0)) datagrams
	sample scale "udp_out_$role" "$subj" "$r" $((out1 - out0)) datagrams
}

section_scale() {
	local r pubpid rpubpid t0 t1 log wpid rss hwm sshrss pubrss pubpriv n est h alog ts u0
	local -A cpu0 udp0
	say "scale: $NSCALE services on LAN A and on LAN RA"
	echo "max-services 4096" >>"$POLICY"
	# The reflector world's LAN RA gets the same 1,000 while rtr's
	# avahi-daemon is stopped (scale_reflector starts it).
	lab_avahi_stop rtr || die "scale: cannot stop rtr's avahi-daemon"
	# 20 groups (100 services) at a time, each batch once the previous
	# one is established: committed all at once, avahi-daemon probes
	# 1,000 services together, slower than in batches, and on a loaded
	# machine a commit's reply can exceed libdbus's 25 s timeout
	for h in asrv rsrv; do
		lab_bg "$h" "$LAB_DIR/manypub-$h.pid" "$BIN/manypub" \
			-n "$NSCALE" -b 20 -t _rnsscale._tcp -p 9 \
			>"$RUN/manypub-$h.log" 2>&1
		lab_wait_for 120 grep -q '^established' "$RUN/manypub-$h.log" ||
			die "manypub on $h: $(tail -3 "$RUN/manypub-$h.log")"
		say "scale: on $h's LAN, $(grep '^established' "$RUN/manypub-$h.log")"
	done
	pubpid=$(cat "$LAB_DIR/manypub-asrv.pid")
	rpubpid=$(cat "$LAB_DIR/manypub-rsrv.pid")
	sleep 2
	for r in $(seq 1 "$SCALE_REPS"); do
		log=$RUN/scale-watch-$r.log
		alog=$RUN/agent-scale-$r.log
		wpid=$(scale_watch bcli "$log")
		sleep 1
		for h in asrv arelay brelay bcli; do
			cpu0[$h]=$(avahi_cpu "$h")
			udp0[$h]=$(udp_dgrams "$h")
		done
		perf_start asrv arelay brelay bcli
		t0=$(now_us)
		# a name of its own for each repetition: what is left of the
		# previous one in LAN B's caches cannot count
		agent_start scale "max-services 4096
remote siteA {
	destination siteA
	name-template \"%n-r$r\"
}"
		t1=
		if lab_wait_for 180 all_there "$log" "-r$r" "$NSCALE"; then
			t1=$(last_new "$log" "-r$r")
			sample scale full_sync rnsplice "$r" "$(us_to_s $((t1 - t0)))" s
		else
			sample scale full_sync rnsplice "$r" nan s
		fi
		perf_stop
		for h in asrv arelay brelay bcli; do
			scale_host_samples rnsplice "$r" "$h" "$h"
		done
		scale_host_samples rnsplice "$r" asrv services
		scale_host_samples rnsplice "$r" bcli client
		n=$(count_plus "$log" "-r$r")
		sample scale seen_on_lan_b rnsplice "$r" "$n" services
		sleep 2
		est=$(rnsplice_cli scale -j services 2>/dev/null | grep -o '"established"' | wc -l)
		sample scale established rnsplice "$r" "$est" services
		# where the time went, from the agent's log
		cp "$RUN/agent-scale.log" "$alog"
		ts=$(agent_ts "$alog" "synced:")
		[ -z "$ts" ] || sample scale t_synced_msg rnsplice "$r" "$(us_to_s $((ts - t0)))" s
		ts=$(grep -F 'splicing "' "$alog" | tail -1 |
			sed -n 's/^rnsplice-agent\[\([0-9]*\)\.\([0-9]*\)\].*/\1\2000/p')
		[ -z "$ts" ] || sample scale t_last_add rnsplice "$r" "$(us_to_s $((ts - t0)))" s
		ts=$(grep -F ': established' "$alog" | tail -1 |
			sed -n 's/^rnsplice-agent\[\([0-9]*\)\.\([0-9]*\)\].*/\1\2000/p')
		[ -z "$ts" ] || sample scale t_last_established rnsplice "$r" "$(us_to_s $((ts - t0)))" s
		sample scale agent_cpu_s rnsplice "$r" \
			"$(us_to_s $(($(pid_cpu "$(agent_pid scale)") * TICK_US)))" s
		rss=$(awk '/VmRSS/ { print $2 }' /proc/"$(agent_pid scale)"/status)
		hwm=$(awk '/VmHWM/ { print $2 }' /proc/"$(agent_pid scale)"/status)
		# none while the agent reconnects: nan
		sshrss=$(h=$(agent_ssh_pid scale) && [ -n "$h" ] &&
			awk '/VmRSS/ { print $2 }' "/proc/$h/status")
		pubrss=$(h=$(agent_pub_pid scale) && [ -n "$h" ] &&
			awk '/VmRSS/ { print $2 }' "/proc/$h/status")
		# what the publisher process adds: its pages not shared with
		# the agent (nor anyone)
		pubpriv=$(h=$(agent_pub_pid scale) && [ -n "$h" ] &&
			awk '/^Private_(Clean|Dirty):/ { s += $2 } END { print s }' "/proc/$h/smaps_rollup")
		sample scale agent_rss_MB rnsplice "$r" "$(awk -v k="$rss" 'BEGIN { printf "%.2f", k / 1024 }')" MB
		sample scale agent_peak_rss_MB rnsplice "$r" "$(awk -v k="$hwm" 'BEGIN { printf "%.2f", k / 1024 }')" MB
		sample scale publisher_rss_MB rnsplice "$r" "$([ -n "$pubrss" ] && awk -v k="$pubrss" 'BEGIN { printf "%.2f", k / 1024 }' || echo nan)" MB
		sample scale publisher_private_MB rnsplice "$r" "$([ -n "$pubpriv" ] && awk -v k="$pubpriv" 'BEGIN { printf "%.2f", k / 1024 }' || echo nan)" MB
		sample scale agent_pub_rss_MB rnsplice "$r" "$([ -n "$pubpriv" ] && awk -v k="$rss" -v p="$pubpriv" 'BEGIN { printf "%.2f", (k + p) / 1024 }' || echo nan)" MB
		sample scale ssh_master_rss_MB rnsplice "$r" "$([ -n "$sshrss" ] && awk -v k="$sshrss" 'BEGIN { printf "%.2f", k / 1024 }' || echo nan)" MB
		say "scale #$r: $n/$NSCALE on LAN B, $est established, full sync $([ -n "$t1" ] && us_to_s $((t1 - t0))) s, agent RSS $((rss / 1024)) MB (peak $((hwm / 1024)) MB)"
		# stop the agent (it withdraws everything: goodbyes) and wait
		# for LAN B to forget them before the next repetition
		u0=$(udp_rcvbuf_errors bcli)
		t0=$(now_us)
		agent_stop scale
		if lab_wait_for "$SCALE_WAIT" all_gone "$log" "-r$r"; then
			sample scale withdraw_all rnsplice "$r" "$(us_to_s $(($(now_us) - t0)))" s
		else
			sample scale withdraw_all rnsplice "$r" nan s
		fi
		sample scale left_on_lan_b rnsplice "$r" "$(count_live "$log" "-r$r")" services
		sample scale lan_b_udp_rcvbuf_errors rnsplice "$r" $(($(udp_rcvbuf_errors bcli) - u0)) datagrams
		cp "$RUN/agent-scale.log" "$alog"
		: >"$RUN/agent-scale.log"
		lab_stop "$wpid"
		sleep 1
		scale_reflector "$r"
	done
	lab_stop "$pubpid"
	lab_stop "$rpubpid"
	reflector_start
	lab_wait_avahi rtr || die "scale: rtr's avahi-daemon did not come back"
}

# ---------------------------------------------------------------------------
# export: the other direction over the same kind of session. Servers on
# bcli (LAN B) are exported by an agent on brelay to arelay, whose
# subsystem listens on LAN A and carries each connection back over the
# agent's ssh connection (a remote forward to a Unix socket); the client
# runs on asrv. Beside it, the import direction of the same agent and
# session, transport by transport and repetition by repetition.

# export_ports NAME -- "HTTPPORT IPERFPORT ECHOPORT" at which arelay
# listens for LAN B's bench services exported by agent NAME
export_ports() {
	rnsplice_cli "$1" -j services 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
def walk(x):
    if isinstance(x, dict):
        if x.get("export"):
            yield x
        for v in x.values():
            yield from walk(v)
    elif isinstance(x, list):
        for v in x:
            yield from walk(v)
ports = {s["name"]: s["port"] for s in walk(d) if s.get("state") == "forwarding"}
want = ["bench http B", "bench iperf3 B", "bench echo B"]
if not all(w in ports for w in want):
    sys.exit(1)
print(" ".join(str(ports[w]) for w in want))'
}

# first_prefix_after WATCH PREFIX T0 -- the time stamp (us) of WATCH's
# first IPv4 resolution, at T0 (us) or later, of a name that is PREFIX
# followed by a space (avahi-browse writes it \032): a copy "PREFIX (...)"
first_prefix_after() {
	lab__watch_log "$1" || return 1
	LC_ALL=C awk -F';' -v p="$2" -v t0="$3" '
		$2 == "=" && $4 == "IPv4" && index($5, p "\\032") == 1 {
			t = $1; sub(/\./, "", t)
			if (t + 0 >= t0 + 0) { print t; exit }
		}' "$LAB__LOG"
}
prefix_seen_after() { [ -n "$(first_prefix_after "$@")" ]; }

section_export() {
	local r i p names w_a w_b pid t0 t1 ports
	say "export: LAN B's servers (on bcli) exported to LAN A through arelay's subsystem"
	lab_bg bcli "$LAB_DIR/benchd-b.pid" "$BIN/benchd" -H 8080 -E 7007 \
		>"$RUN/benchd-b.log" 2>&1
	lab_bg bcli "$LAB_DIR/iperf3-b.pid" iperf3 -s -p 5201 \
		>"$RUN/iperf3-server-b.log" 2>&1
	lab_wait_for 10 lab__tcp_open bcli 10.2.0.2 8080 || die "benchd on bcli did not start"
	lab_wait_for 10 lab__tcp_open bcli 10.2.0.2 5201 || die "iperf3 -s on bcli did not start"
	lab_publish bcli "bench http B" _http._tcp 8080 >/dev/null
	lab_publish bcli "bench iperf3 B" _iperf3._tcp 5201 >/dev/null
	lab_publish bcli "bench echo B" _echo._tcp 7007 >/dev/null
	# anchors of the discovery type on both LANs (see the disc section)
	lab_publish asrv "xanchor" _rnsbexp._tcp 9 >/dev/null
	lab_publish bcli "xanchor" _rnsbexp._tcp 9 >/dev/null
	cp "$POLICY" "$POLICY.saved"
	printf '%s\n' "accept type _http._tcp interface eth0" \
		"accept type _iperf3._tcp interface eth0" \
		"accept type _echo._tcp interface eth0" \
		"accept type _rnsbexp._tcp interface eth0" >>"$POLICY"
	agent_start export 'remote siteA {
	destination siteA
	export _http._tcp name "bench * B"
	export _iperf3._tcp name "bench * B"
	export _echo._tcp name "bench * B"
	export _rnsbexp._tcp
}'
	lab_wait_for 30 agent_ports export >/dev/null ||
		die "export agent: imports not spliced (see $RUN/agent-export.log)"
	lab_wait_for 30 export_ports export >/dev/null ||
		die "export agent: exports not forwarding (see $RUN/agent-export.log)"
	TP[import]="10.2.0.1 $(agent_ports export)"
	TPAGENT[import]=$(agent_pid export)
	TP[export]="10.1.0.1 $(export_ports export)"
	TPAGENT[export]=$(agent_pid export)
	TPCLIENT[export]=asrv
	set -- ${TP[export]}
	lab_wait_for 10 lab__tcp_open asrv 10.1.0.1 "$2" ||
		die "export: arelay does not listen on $2"
	meta transport_import "${TP[import]}"
	meta transport_export "${TP[export]}"

	say "export: discovery, publish on one LAN -> resolved on the other"
	w_a=$(lab_watch asrv _rnsbexp._tcp)
	w_b=$(lab_watch bcli _rnsbexp._tcp)
	sleep 2
	for r in $(seq 1 "$REPS"); do
		t0=$(now_us)
		pid=$(lab_publish asrv "imp$r" _rnsbexp._tcp 9)
		if lab_wait_for 20 prefix_seen_after "$w_b" "imp$r" "$t0"; then
			t1=$(first_prefix_after "$w_b" "imp$r" "$t0")
			sample export disc_s import "$r" "$(us_to_s $((t1 - t0)))" s
		else
			sample export disc_s import "$r" nan s
		fi
		lab_unpublish "$pid"
		t0=$(now_us)
		pid=$(lab_publish bcli "exp$r" _rnsbexp._tcp 9)
		if lab_wait_for 20 prefix_seen_after "$w_a" "exp$r" "$t0"; then
			t1=$(first_prefix_after "$w_a" "exp$r" "$t0")
			sample export disc_s export "$r" "$(us_to_s $((t1 - t0)))" s
		else
			sample export disc_s export "$r" nan s
		fi
		lab_unpublish "$pid"
		say "export: discovery #$r done"
	done
	lab_unwatch "$w_a"
	lab_unwatch "$w_b"

	names=(import export)
	for r in $(seq 1 "$REPS"); do
		for i in "${!names[@]}"; do
			p=${names[$(((i + r - 1) % ${#names[@]}))]}
			measure_transport "$p" "$r"
		done
	done
	CLIENT=bcli
	agent_stop export
	mv -f "$POLICY.saved" "$POLICY"
	lab_stop "$(cat "$LAB_DIR/benchd-b.pid")" 2>/dev/null || true
	lab_stop "$(cat "$LAB_DIR/iperf3-b.pid")" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# txt: a TXT record changed in place on the server's LAN -> the new record
# on the client's LAN.

TXT_NAME="bench txt"
TXT_GAP=4	# s between two changes: the old records have expired

# txtw_start HOST NAME -- bench/txtwatch on NAME (_rnsbench._tcp) in HOST;
# prints the log's path
txtw_start() {
	local log=$RUN/txtwatch-$1.log
	lab_bg "$1" "$LAB_DIR/txtwatch-$1.pid" "$BIN/txtwatch" "$2" \
		_rnsbench._tcp >"$log" 2>&1
	echo "$log"
}
# txt_new_after LOG ITEM AFTER_US -- time (us) of the first TXT record
# holding ITEM that LOG (txtwatch) saw arrive on eth0/IPv4 at or after
# AFTER_US
txt_new_after() {
	awk -v item="$2" -v after="$3" '
		$2 == "NEW" && $3 == "eth0" && $4 == "IPv4" {
			t = $1; sub(/\./, "", t)
			if (t + 0 < after + 0)
				next
			for (i = 5; i <= NF; i++)
				if ($i == item) { print t; exit }
		}' "$1" | grep .
}

section_txt() {
	local r n=0 h kind t0 t1 ta fd f_a f_r l_b l_r l_a d l
	say "txt: a TXT record changed in place (rnsplice-agent out of the box vs the reflector)"
	agent_start txt 'remote siteA {
	destination siteA
}'
	# the publishers: subsystem-txtpub, a new TXT record for each line
	for h in asrv rsrv; do
		mkfifo "$LAB_DIR/txtpub-$h.fifo" || die "mkfifo"
		# shellcheck disable=SC2016  # expanded by the inner sh
		lab_bg "$h" "$LAB_DIR/txtpub-$h.pid" sh -c 'exec "$0" "$1" _rnsbench._tcp 9 v=0 <"$2"' \
			"$BIN/subsystem-txtpub" "$TXT_NAME" "$LAB_DIR/txtpub-$h.fifo" \
			>"$RUN/txtpub-$h.log" 2>&1
	done
	exec {f_a}>"$LAB_DIR/txtpub-asrv.fifo" {f_r}>"$LAB_DIR/txtpub-rsrv.fifo"
	l_b=$(txtw_start bcli "$TXT_NAME (siteA)")
	l_r=$(txtw_start rcli "$TXT_NAME")
	l_a=$(txtw_start arelay "$TXT_NAME")
	lab_wait_for 30 txt_new_after "$l_b" v=0 0 >/dev/null ||
		die "txt: rnsplice did not splice \"$TXT_NAME\" (see $RUN/agent-txt.log)"
	lab_wait_for 10 txt_new_after "$l_r" v=0 0 >/dev/null ||
		die "txt: the reflector did not reflect \"$TXT_NAME\""
	sleep "$TXT_GAP"
	for r in $(seq 1 "$REPS"); do
		for kind in reflector rnsplice; do
			n=$((n + 1))
			if [ "$kind" = reflector ]; then
				fd=$f_r l=$l_r
			else
				fd=$f_a l=$l_b
			fi
			t0=$(now_us)
			echo "v=$n" >&"$fd"
			if lab_wait_for 10 txt_new_after "$l" "v=$n" "$t0" >/dev/null; then
				t1=$(txt_new_after "$l" "v=$n" "$t0")
				d=$(((t1 - t0) / 1000))
				sample txt change "$kind" "$r" "$(us_to_s $((t1 - t0)))" s
			else
				d=missed
				sample txt change "$kind" "$r" nan s
			fi
			if [ "$kind" = rnsplice ]; then
				ta=$(txt_new_after "$l_a" "v=$n" "$t0")
				part_txt txt_1_lan_a "$r" "$t0" "$ta"
				part_txt txt_2_to_lan_b "$r" "$ta" "${t1:-}"
			fi
			say "txt $kind #$r: changed TXT on LAN B after ${d} ms"
			sleep_until_us $((t0 + TXT_GAP * 1000000))
			t1=
		done
	done
	exec {f_a}>&- {f_r}>&-	# EOF: the publishers withdraw and exit
	for h in bcli rcli arelay; do
		lab_stop "$(cat "$LAB_DIR/txtwatch-$h.pid")" 2>/dev/null || true
	done
	agent_stop txt
}
# part_txt METRIC REP FROM TO -- a sample TO - FROM (us) in seconds of
# rnsplice, if both are known
part_txt() {
	[ -n "$3" ] && [ -n "$4" ] || return 0
	sample txt "$1" rnsplice "$2" "$(us_to_s $(($4 - $3)))" s
}

# ---------------------------------------------------------------------------

say "sections: $SECTIONS ($([ "$QUICK" = 1 ] && echo quick || echo full): $REPS repetitions)"
case " $SECTIONS " in *" disc "*) section_disc ;; *" idle "*) section_idle ;; esac
[[ " $SECTIONS " != *" txt "* ]] || section_txt
case " $SECTIONS " in *" data "* | *" conc "*) section_data_needed=1 ;; *) section_data_needed=0 ;; esac
if [ "$section_data_needed" = 1 ]; then
	if [[ " $SECTIONS " == *" data "* ]]; then
		section_data
	else
		REPS_SAVED=$REPS
		REPS=0
		section_data
		REPS=$REPS_SAVED
	fi
	[[ " $SECTIONS " != *" conc "* ]] || section_conc
	data_teardown
fi
[[ " $SECTIONS " != *" scale "* ]] || section_scale
[[ " $SECTIONS " != *" export "* ]] || section_export

say "writing the report"
python3 "$srcdir/bench/report.py" "$RUN" "$OUT" || die "report.py failed"
say "done: $OUT/RESULTS.md ($RUN has the samples and logs)"
