#!/bin/bash
#
# tests/integration/faults-avahi-server.sh -- the server's avahi-daemon restarted: the
# services stay on LAN B throughout.
# The lab, the baseline and the checks after the fault: faults-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=faults-lib.sh
. "$here/faults-lib.sh"

# --- 5. the server's avahi-daemon restarted ---------------------------------
n1=$(nremoved "$w" "$N1")
t0=$EPOCHREALTIME
lab_avahi_restart arelay || t_fail "avahi restart on arelay"
t_ok lab_wait_for 10 grep -q "siteA: the server's avahi-daemon is back" "$LOG" \
	"server avahi restart: reported down and back"
timing "server avahi restart -> agent told it is back" "$(ms_since "$t0")"
sleep 2
t_ok [ "$(nremoved "$w" "$N1")" -eq "$n1" ] \
	"server avahi restart: the services stayed on bcli throughout"
after "server avahi restart"
faults_end
