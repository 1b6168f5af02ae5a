#!/bin/bash
#
# tests/integration/faults-master.sh -- the agent's ssh master killed.
# The lab, the baseline and the checks after the fault: faults-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=faults-lib.sh
. "$here/faults-lib.sh"

# spares MASTER-PID -- how many of the agent's sockets are connected to
# MASTER-PID's, the relays aside: its spare control connections (conn.c)
spares() {
	local m=$1
	if [ -z "$m" ] || [ "$m" -le 1 ]; then
		echo -1
		return
	fi
	lab_exec brelay ss -xn | python3 -c '
import os, sys
def inodes(pid):
    out = set()
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            l = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if l.startswith("socket:["):
            out.add(l[8:-1])
    return out
a, m = inodes(sys.argv[1]), inodes(sys.argv[2])
n = 0
for line in sys.stdin:
    f = line.split()
    # u_str ESTAB recvq sendq LOCAL INODE PEER PEERINODE
    if len(f) >= 8 and f[0] == "u_str" and f[5] in a and f[7] in m:
        n += 1
print(n)' "$agent" "$m"
}

# --- 1. the ssh master killed ------------------------------------------------
sshpid=$(status_field ssh_pid)
failed0=$(status_field failed)
# the baseline's connections left one spare control connection, HELLO
# exchanged, for the next one
t_ok lab_wait_for 5 eval '[ "$(spares "$sshpid")" -eq 1 ]' \
	"baseline: the agent holds one spare control connection to its master ($(spares "$sshpid"))"
t0=$EPOCHREALTIME
# a pid of 0 or none (no master) is a failure here, never a signal
if t_ok lab_kill KILL "$sshpid" ssh \
	"the agent's ssh master (pid '$sshpid' in its status) is killed"; then
	withdraw_back "ssh master killed" "$t0" "$w" true
	# after: the first connections through the new master work (the
	# old master's spare is never tried) and the fds are back to the
	# baseline's (the old spare closed, one new one)
	after "ssh master killed"
	new=$(status_field ssh_pid)
	t_ok eval '[ -n "$new" ] && [ "$new" != "$sshpid" ]' \
		"ssh master killed: a new master ($new, was $sshpid)"
	t_ok lab_wait_for 5 eval '[ "$(spares "$new")" -eq 1 ]' \
		"ssh master killed: one spare control connection, to the new master ($(spares "$new"))"
	t_ok eval '[ "$(status_field failed)" = "$failed0" ]' \
		"ssh master killed: no connection failed (failed: $(status_field failed), was $failed0)"
fi
faults_end
