#!/bin/bash
#
# tests/integration/subsystem-browse.sh -- rnsplice-subsystem through sshd.
#
# The greeting, the snapshot of LAN A (one entry per instance, the LAN
# address before loopback, names and TXT encoded), live ADD / UPDATE (TXT
# changed in place) / REMOVE, ERROR version and the order of the greeting,
# exit on end of input.  The lab and the helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

# ---------------------------------------------------------------------------
t_diag "greeting and snapshot"

start s1
t_ok has s1 '^HELLO 1\.2 [0-9a-z]{1,32} subsystem relay,update,export,beat maxline=16384 maxhops=4$' \
	"HELLO at once, before the agent's"
pid1=$(subsys_pid)
say s1 "HELLO 1.0 bsite agent update"
t0=$(now_ms)
say s1 "BROWSE *"
t_ok lab_wait_for 10 has s1 '^SYNCED$' "SYNCED after BROWSE *"
t1=$(when s1 '^SYNCED$')
t_diag "snapshot of BROWSE * (5 services): $((t1 - t0)) ms"
t_ok has_svc s1 ADD "Web%20one _http._tcp local $HA 10.1.0.2 8080 path=/ a=1" \
	"Web one: address, port, TXT in record order"
t_ok has_svc s1 ADD "$TRICKY_ENC _http._tcp local $HA 10.1.0.2 8081 bin=%01%02%FF sp=a%20b flag" \
	"tricky name (spaces, dot, backslash, quotes, UTF-8) and binary TXT"
t_ok has_svc s1 ADD "Printer _ipp._tcp local $HA 10.1.0.2 631 rp=ipp/print" "Printer"
t_ok has_svc s1 ADD "Secret%20box _ssh._tcp local $HA 10.1.0.2 22" "Secret box"
t_ok has_svc s1 ADD "Relay%20web _http._tcp local $HR 10.1.0.1 80" \
	"the server's own service: LAN address, not loopback"
t_ok [ "$(count s1 '^ADD ')" -eq 5 ] "one ADD per instance (no duplicates from lo, IPv6)"
t_nok has s1 '^ADD .* (127\.0\.0\.1|fe80::)' "no loopback or link-local address chosen"
say s1 "PING tok-1"
t_ok lab_wait_for 5 has s1 '^PONG tok-1$' "PING answered"

# ---------------------------------------------------------------------------
t_diag "live events"

ta=$(now_ms)
p_late=$(lab_publish asrv "Late" _http._tcp 8090 v=1)
t_ok lab_wait_for 10 has_svc s1 ADD "Late _http._tcp local $HA 10.1.0.2 8090 v=1" \
	"a new service: ADD"
t_diag "publish -> ADD: $(($(when s1 '^ADD [0-9]+ Late ') - ta)) ms"
id_late=$(ids s1 ADD "Late _http._tcp local $HA 10.1.0.2 8090 v=1")

coproc TXTP { lab_exec asrv "$TXTPUB" Changing _http._tcp 8095 v=1 2>"$LAB_DIR/txtpub.err"; }
read -r -t 10 line <&"${TXTP[0]}"
t_ok [ "${line:-}" = established ] "txtpub established"
t_ok lab_wait_for 10 has_svc s1 ADD "Changing _http._tcp local $HA 10.1.0.2 8095 v=1" \
	"a second new service"
id_chg=$(ids s1 ADD "Changing _http._tcp local $HA 10.1.0.2 8095 v=1")
tu=$(now_ms)
echo "v=2 extra=yes" >&"${TXTP[1]}"
t_ok lab_wait_for 10 has_svc s1 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=2 extra=yes" \
	"TXT changed in place: UPDATE"
t_ok [ "$(ids s1 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=2 extra=yes")" = "$id_chg" ] \
	"UPDATE keeps the id"
t_diag "TXT update -> UPDATE: $(($(when s1 '^UPDATE [0-9]+ Changing ') - tu)) ms"

tr=$(now_ms)
lab_unpublish "$p_late"
t_ok lab_wait_for 10 has s1 "^REMOVE $id_late\$" "withdrawn: REMOVE with the ADD's id"
t_diag "unpublish -> REMOVE: $(($(when s1 "^REMOVE $id_late\$") - tr)) ms"
t_nok has s1 '^ERROR ' "no ERROR in the browse session"

say s1 '!close'
t_ok lab_wait_for 5 dead "$pid1" "end of input ends the subsystem (pid $pid1)"

# ---------------------------------------------------------------------------
t_diag "versions and the greeting"

start s2
pid2=$(subsys_pid)
say s2 "HELLO 2.0 bsite agent update"
t_ok lab_wait_for 5 has s2 '^ERROR version ' "HELLO 2.0: ERROR version"
t_ok lab_wait_for 5 dead "$pid2" "... and the session ends"
start s2b
say s2b "BROWSE _http._tcp"
t_ok lab_wait_for 5 has s2b '^ERROR state ' "BROWSE before HELLO: ERROR state"
say s2b "FROB x"
t_ok lab_wait_for 5 has s2b '^ERROR verb ' "unknown verb: ERROR verb"
say s2b "HELLO 1.7 bsite agent %"
say s2b "BROWSE _ipp._tcp"
t_ok lab_wait_for 5 has s2b '^SYNCED$' "a later minor version is accepted"
say s2b "!quit"
t_done
