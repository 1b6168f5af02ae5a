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

# --- 1. the ssh master killed ------------------------------------------------
sshpid=$(status_field ssh_pid)
t0=$EPOCHREALTIME
# a pid of 0 or none (no master) is a failure here, never a signal
if t_ok lab_kill KILL "$sshpid" ssh \
	"the agent's ssh master (pid '$sshpid' in its status) is killed"; then
	withdraw_back "ssh master killed" "$t0" "$w" true
	after "ssh master killed"
fi
faults_end
