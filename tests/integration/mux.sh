#!/bin/bash
#
# tests/integration/mux.sh -- the mux client (agent/mux.c) against a real
# ssh ControlMaster and sshd, in the lab: brelay runs the masters and
# mux-probe, arelay (10.99.0.1) runs sshd and the probe's test server.
#
#   sshd on arelay: port 22 as usual; 2201 with AllowTcpForwarding no and
#   2202 with DisableForwarding yes (Match LocalPort); subsystems muxecho
#   (/bin/cat) and muxhalf (mux-probe subsys-half).
#
# Every PASS/FAIL line of mux-probe becomes a check, INFO lines (the
# numbers: half-close, timings) go to the log as comments.
# Needs root; skips (77) otherwise.
#
# MUX_N (default 200): relays for the "many" and "timing" tests.

# shellcheck source-path=SCRIPTDIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab
probe=$top_builddir/tests/integration/mux-probe
[ -x "$probe" ] || t_bail "$probe is not built (make check builds it)"

PORT=7300		# test server on arelay; 7301 is its black hole
N=${MUX_N:-200}

lab_init || t_bail "lab_init failed"
lab_hosts arelay brelay || t_bail "lab_hosts failed"
lab_wan arelay brelay 10.99.0 || t_bail "lab_wan failed"

cat >"$LAB_DIR/mux-sshd.conf" <<EOF
Port 2201
Port 2202
Subsystem muxecho /bin/cat
Subsystem muxhalf $probe subsys-half 127.0.0.1 $PORT
Match LocalPort 2201
	AllowTcpForwarding no
Match LocalPort 2202
	DisableForwarding yes
EOF
lab_sshd arelay "$LAB_DIR/mux-sshd.conf" || t_bail "lab_sshd failed"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "lab_ssh_client failed"

lab_bg arelay "$LAB_DIR/serve.pid" "$probe" serve -l 0.0.0.0 "$PORT" \
	>"$LAB_DIR/serve.log" 2>&1
lab_wait_for 5 grep -q listening "$LAB_DIR/serve.log" ||
	t_bail "test server did not start: $(cat "$LAB_DIR/serve.log")"

# master NAME [SSH-OPTIONS...] -- a ControlMaster from brelay to siteA with
# its control socket at $LAB_DIR/ctl.NAME (no ControlPersist: it stays ours).
master() {
	local name=$1 ctl=$LAB_DIR/ctl.$1
	shift
	lab_bg brelay "$LAB_DIR/master.$name.pid" ssh -M -S "$ctl" \
		-o ControlMaster=yes -o ServerAliveInterval=5 -N "$@" siteA \
		>"$LAB_DIR/master.$name.log" 2>&1
	if ! lab_wait_for 10 test -S "$ctl"; then
		t_diag "master $name: $(cat "$LAB_DIR/master.$name.log")"
		return 1
	fi
}
master main || t_bail "ssh master to siteA did not start"
# a non-default port: known_hosts holds the plain address
master nofwd -p 2201 -o HostKeyAlias=10.99.0.1 || t_bail "master nofwd"
master nodisable -p 2202 -o HostKeyAlias=10.99.0.1 || t_bail "master nodisable"
master spare || t_bail "master spare"
lab_atexit "for f in '$LAB_DIR'/master.*.log; do sed 's/^/# master: /' \"\$f\"; done"

# run_probe CTL PROBE-ARGS... -- run mux-probe on brelay, turn its lines
# into checks.
run_probe() {
	local out=$LAB_DIR/probe.out line rc=0
	lab_exec brelay "$probe" "$@" >"$out" 2>&1 || rc=$?
	while IFS= read -r line; do
		case $line in
		"PASS "*) t_pass "${line#PASS }" ;;
		"FAIL "*) t_fail "${line#FAIL }" ;;
		*) t_diag "$line" ;;
		esac
	done <"$out"
	# a crash leaves no FAIL line
	[ "$rc" -le 1 ] || t_fail "mux-probe $* exited with status $rc"
}

t_diag "stdio forwards and sessions through the master on port 22"
run_probe -n "$N" -W ssh -d "10.99.0.1:$PORT" "$LAB_DIR/ctl.main" \
	127.0.0.1 "$PORT" alive echo clienthalf serverhalf ctlclose session \
	sessionhalf badsubsys refused cancel many timing

t_diag "AllowTcpForwarding no (port 2201): forwards refused, sessions work"
run_probe -r "127.0.0.1:$PORT" "$LAB_DIR/ctl.nofwd" 127.0.0.1 "$PORT" \
	refused session

t_diag "DisableForwarding yes (port 2202): forwards refused, sessions work"
run_probe -r "127.0.0.1:$PORT" "$LAB_DIR/ctl.nodisable" 127.0.0.1 "$PORT" \
	refused session

t_diag "spare control connections: a forward on one; one whose master exited"
run_probe "$LAB_DIR/ctl.spare" 127.0.0.1 "$PORT" spare sparedead
# shellcheck disable=SC2016  # expanded by eval, at each try
t_ok lab_wait_for 10 eval '! lab__alive "$(cat "$LAB_DIR/master.spare.pid")"' \
	"master spare exited when asked (sparedead)"

# the masters survived all of it
for m in main nofwd nodisable; do
	t_ok kill -0 "$(cat "$LAB_DIR/master.$m.pid")" "master $m still runs"
done

t_done
