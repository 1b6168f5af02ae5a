#!/bin/bash
#
# tests/integration/faults-sshd.sh -- sshd stopped with its sessions (a server crash),
# then started again.
# The lab, the baseline and the checks after the fault: faults-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=faults-lib.sh
. "$here/faults-lib.sh"

# --- 2. sshd stopped with its sessions (a server crash), restarted -----------
t0=$EPOCHREALTIME
lab_sshd_stop arelay --sessions || t_fail "lab_sshd_stop"
# shellcheck disable=SC2034  # used in eval'd code
DOWN=4
withdraw_back "sshd stopped with sessions" "$t0" "$w" \
	eval 'sleep $DOWN; lab__sshd_launch arelay'
t_ok grep -q "siteA: .*reconnecting in" "$LOG" "sshd down: the agent logs its retries"
after "sshd restart"
faults_end
