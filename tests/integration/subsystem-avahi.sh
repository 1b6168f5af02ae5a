#!/bin/bash
#
# tests/integration/subsystem-avahi.sh -- rnsplice-subsystem through sshd.
#
# TXT records changed in place, twice in a row: an UPDATE with each new TXT,
# and the old TXT never back once its record expires (the subsystem's
# resolver holds the old record until then; a TXT record browser beside it
# reports the new one).  An avahi-daemon restart under a browse session:
# AVAHI down / up, then only the difference, then SYNCED, then TXT changes
# still arrive.  The lab and the helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

TXTWATCH=$top_builddir/tests/integration/txtwatch
[ -x "$TXTWATCH" ] || t_bail "$TXTWATCH not built"

# chg_updates -- the TXT of every UPDATE of "Changing", one a line
chg_updates() {
	lines s8 | sed -n "s/^UPDATE $id_chg Changing _http._tcp local $HA 10.1.0.2 8095 //p"
}
# expired TXT -- arelay's avahi-daemon (the subsystem's) dropped the TXT
# record TXT of "Changing" on eth0/IPv4
expired() {
	grep -q " REMOVE eth0 IPv4 $1\$" "$LAB_DIR/txtwatch.log"
}

# ---------------------------------------------------------------------------
t_diag "TXT changes in place"

coproc TXTP { lab_exec asrv "$TXTPUB" Changing _http._tcp 8095 v=1 2>"$LAB_DIR/txtpub.err"; }
read -r -t 10 line <&"${TXTP[0]}"
t_ok [ "${line:-}" = established ] "txtpub established"
start s8
say s8 "HELLO 1.0 bsite agent update"
say s8 "BROWSE _http._tcp"
lab_wait_for 10 has s8 '^SYNCED$' || t_diag "s8 did not sync"
t_ok lab_wait_for 10 has_svc s8 ADD "Changing _http._tcp local $HA 10.1.0.2 8095 v=1" \
	"a service whose TXT will change: ADD"
id_chg=$(ids s8 ADD "Changing _http._tcp local $HA 10.1.0.2 8095 v=1")
# the TXT records of "Changing" as arelay's avahi-daemon holds them
lab_bg arelay "$LAB_DIR/txtwatch.pid" "$TXTWATCH" Changing _http._tcp \
	>"$LAB_DIR/txtwatch.log" 2>&1
t_ok lab_wait_for 10 grep -q ' LISTED$' "$LAB_DIR/txtwatch.log" "TXT watcher on arelay"
echo "v=2" >&"${TXTP[1]}"
t_ok lab_wait_for 10 has_svc s8 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=2" \
	"TXT changed in place: UPDATE with the new TXT"
echo "v=3 x=y" >&"${TXTP[1]}"
t_ok lab_wait_for 10 has_svc s8 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=3 x=y" \
	"changed again at once: UPDATE with the newer TXT"
t_ok [ "$(ids s8 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=3 x=y")" = "$id_chg" ] \
	"UPDATE keeps the id"
# The old records expire a second after a newer one is announced (v=2 once
# it is a second old: at v=3's next announcement); the resolver, which
# held v=1, reports again then. Another change after that: what came
# between must be nothing.
t_ok lab_wait_for 15 expired v=1 "arelay's avahi dropped TXT v=1"
t_ok lab_wait_for 15 expired v=2 "arelay's avahi dropped TXT v=2"
echo "v=4" >&"${TXTP[1]}"
t_ok lab_wait_for 10 has_svc s8 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=4" \
	"a third change: UPDATE"
t_diag "UPDATEs of the TXT: $(chg_updates | tr '\n' '|')"
t_ok [ "$(chg_updates | tr '\n' '|')" = "v=2|v=3 x=y|v=4|" ] \
	"each change once, in order: the old TXT never came back"
# The record browser hears the new record at once, the resolver only once
# the old one expired (the daemon tells one client in order): the UPDATEs
# came from the browser.
t_ok grep -q '"Changing": new TXT record (record browser)' "$LAB_DIR/subsys.log" \
	"the TXT record browser told the change, not the resolver"
t_nok has s8 '^ERROR ' "no ERROR"
lab_stop "$(cat "$LAB_DIR/txtwatch.pid")"

# ---------------------------------------------------------------------------
t_diag "avahi-daemon restart"

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
# the resolver and its TXT browser were made anew
echo "v=5 after=restart" >&"${TXTP[1]}"
t_ok lab_wait_for 10 has_svc s8 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=5 after=restart" \
	"a TXT change after the restart: UPDATE"
t_ok [ "$(chg_updates | tail -n 1)" = "v=5 after=restart" ] "... the last one"
say s8 '!quit'
eval "exec ${TXTP[1]}>&-"	# EOF: txtpub withdraws and exits
t_done
