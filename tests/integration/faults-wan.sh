#!/bin/bash
#
# tests/integration/faults-wan.sh -- the WAN link cut and restored, on the server's
# side, then on the client's.
# The lab, the baseline and the checks after the fault: faults-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=faults-lib.sh
. "$here/faults-lib.sh"

# --- 3. the WAN link cut, restored -------------------------------------------
n1=$(nremoved "$w" "$N1")
t0=$EPOCHREALTIME
lab_exec arelay ip link set wan0 down
withdraw_back "WAN cut (arelay wan0 down)" "$t0" "$w" \
	lab_exec arelay ip link set wan0 up
t_ok [ "$(nremoved "$w" "$N1")" -gt "$n1" ] "WAN cut: the withdrawal was seen as such"
after "WAN cut"

# the same cut from the client side: the route goes, connects fail at once
# meanwhile (the backoff grows)
# shellcheck disable=SC2034  # used in eval'd code
LONGDOWN=10
wait_healthy
t0=$EPOCHREALTIME
lab_exec brelay ip link set wan0 down
withdraw_back "WAN cut (brelay wan0 down)" "$t0" "$w" \
	eval 'sleep $LONGDOWN; lab_exec brelay ip link set wan0 up'
t_diag "reconnect attempts during that cut: $(grep -c "reconnecting in" "$LOG") so far"
after "WAN cut client side"
faults_end
