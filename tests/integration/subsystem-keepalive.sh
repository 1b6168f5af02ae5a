#!/bin/bash
#
# tests/integration/subsystem-keepalive.sh -- rnsplice-subsystem through sshd.
#
# A peer that answers no PING is declared dead and the subsystem exits.  The
# lab and the helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

# ---------------------------------------------------------------------------
t_diag "keepalive"

printf 'keepalive 1\n' >"$POLICY"
start s7
pid7=$(subsys_pid)
say s7 "HELLO 1.0 bsite agent update"
t_ok lab_wait_for 8 has s7 '^!eof$' "a silent peer is declared dead"
t_ok [ "$(count s7 '^PING ')" -ge 2 ] "after the subsystem's PINGs went unanswered"
t_ok lab_wait_for 3 dead "$pid7" "... and the process is gone"
: >"$POLICY"
t_done
