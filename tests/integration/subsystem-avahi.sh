#!/bin/bash
#
# tests/integration/subsystem-avahi.sh -- rnsplice-subsystem through sshd.
#
# An avahi-daemon restart under a browse session: AVAHI down / up, then only
# the difference, then SYNCED.  The lab and the helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

# ---------------------------------------------------------------------------
t_diag "avahi-daemon restart"

start s8
say s8 "HELLO 1.0 bsite agent update"
say s8 "BROWSE _http._tcp"
lab_wait_for 10 has s8 '^SYNCED$' || t_diag "s8 did not sync"
n_before=$(count s8 '^(ADD|UPDATE|REMOVE) ')
# shellcheck disable=SC2034  # used in eval'd checks
id_web=$(ids s8 ADD "Web%20one _http._tcp local $HA 10.1.0.2 8080 path=/ a=1")
# shellcheck disable=SC2034
id_own=$(ids s8 ADD "Relay%20web _http._tcp local $HR 10.1.0.1 80")
lab_avahi_stop arelay
t_ok lab_wait_for 5 has s8 '^AVAHI down$' "AVAHI down when the daemon goes"
lab_unpublish "$p_web"
p_new=$(lab_publish asrv "Newcomer" _http._tcp 8099)
lab_wait_published "$p_new"
lab_avahi_start arelay || t_bail "avahi restart failed"
t_ok lab_wait_for 15 has s8 '^AVAHI up$' "AVAHI up when it is back"
t_ok lab_wait_for 5 eval '[ "$(count s8 "^SYNCED$")" -eq 2 ]' "then SYNCED"
diff=$(lines s8 | sed -n '/^AVAHI down$/,$p' | grep -v '^PING ')
t_diag "after the restart: $(printf '%s' "$diff" | tr '\n' '|')"
t_ok eval 'printf "%s\n" "$diff" | grep -qx "REMOVE $id_web"' "withdrawn meanwhile: REMOVE"
t_ok eval 'printf "%s\n" "$diff" | grep -qx "REMOVE $id_own"' \
	"arelay's own avahi-publish died with its daemon: REMOVE"
t_ok eval 'printf "%s\n" "$diff" | grep -q "^ADD [0-9]* Newcomer "' "published meanwhile: ADD"
t_ok [ "$(printf '%s\n' "$diff" | grep -Ec '^(ADD|UPDATE|REMOVE) ')" -eq 3 ] \
	"only the difference is sent ($n_before entries before)"
t_ok eval 'printf "%s\n" "$diff" | tail -n 2 | tr "\n" " " | grep -qx "AVAHI up SYNCED "' \
	"AVAHI up and SYNCED after the difference"
say s8 '!quit'
t_done
