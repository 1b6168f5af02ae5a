#!/bin/bash
#
# tests/integration/faults-subsystem.sh -- the subsystem process killed under sshd.
# The lab, the baseline and the checks after the fault: faults-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=faults-lib.sh
. "$here/faults-lib.sh"

# --- 4. the subsystem process killed -----------------------------------------
# sshd's process tree on arelay: the subsystem runs under the session's sshd
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
faults_end
