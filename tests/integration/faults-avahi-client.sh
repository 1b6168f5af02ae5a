#!/bin/bash
#
# tests/integration/faults-avahi-client.sh -- the client's avahi-daemon restarted: the
# services are published again.
# The lab, the baseline and the checks after the fault: faults-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=faults-lib.sh
. "$here/faults-lib.sh"

# --- 6. the client's avahi-daemon restarted ---------------------------------
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
faults_end
