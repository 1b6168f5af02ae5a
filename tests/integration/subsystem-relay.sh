#!/bin/bash
#
# tests/integration/subsystem-relay.sh -- rnsplice-subsystem through sshd.
#
# Relay sessions: bytes and half-close both ways, IPv6 link-local targets,
# refusals that open nothing, relay no.  The lab and the helpers: subsystem-
# lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

# ---------------------------------------------------------------------------
t_diag "relay sessions"

: >"$POLICY"
lab_bg asrv "$LAB_DIR/srv1.pid" python3 "$CLIENT" server 9000 hash "$LAB_DIR/srv1.stats" \
	>"$LAB_DIR/srv1.err" 2>&1
lab_bg asrv "$LAB_DIR/srv2.pid" python3 "$CLIENT" server 9001 first "$LAB_DIR/srv2.stats" \
	>"$LAB_DIR/srv2.err" 2>&1
lab_bg asrv "$LAB_DIR/srv3.pid" python3 "$CLIENT" server 9002 silent "$LAB_DIR/srv3.stats" \
	>"$LAB_DIR/srv3.err" 2>&1
p_rt=$(lab_publish asrv "Relay target" _rnstest._tcp 9000)
p_hc=$(lab_publish asrv "Half close" _rnstest._tcp 9001)
p_sil=$(lab_publish asrv "Silent" _rnstest._tcp 9002)
if ! lab_wait_published "$p_rt" || ! lab_wait_published "$p_hc" ||
	! lab_wait_published "$p_sil"; then
	t_bail "publishing failed"
fi
head -c 300000 /dev/urandom >"$LAB_DIR/payload"
sum=$(sha256sum "$LAB_DIR/payload" | cut -d' ' -f1)
head -c 50000 /dev/urandom >"$LAB_DIR/payload2"
sum2=$(sha256sum "$LAB_DIR/payload2" | cut -d' ' -f1)

relay() { # NAME TYPE SEND RECV MODE -- prints the first line
	lab_exec brelay python3 "$CLIENT" relay "$1" "$2" local "$3" "$4" "$5" \
		ssh siteA -s rnsplice 2>&1
}
conns() { # STATS -- connections the service accepted so far
	tail -n 1 < <(grep '^conns' "$1") | cut -d' ' -f2
}

out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload" "$LAB_DIR/recv1" send-first)
pidr=$(subsys_pid)
t_ok [ "$out" = RELAYING ] "RELAY: RELAYING ($out)"
t_ok [ "$(cat "$LAB_DIR/recv1" 2>/dev/null)" = "300000 $sum" ] \
	"300 kB through the relay; end of input became a half-close"
t_ok lab_wait_for 5 dead "$pidr" "the relay process ends with both directions"

out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload" "$LAB_DIR/recv2" early)
t_ok [ "$out" = RELAYING ] "payload sent before RELAYING is relayed too"
t_ok [ "$(cat "$LAB_DIR/recv2" 2>/dev/null)" = "300000 $sum" ] "... all of it"

out=$(relay Half%20close _rnstest._tcp "$LAB_DIR/payload2" "$LAB_DIR/recv3" recv-first)
t_ok [ "$out" = RELAYING ] "RELAY to a service that half-closes first"
t_ok [ "$(wc -c <"$LAB_DIR/recv3" 2>/dev/null)" -eq 100000 ] \
	"its 100 kB arrive, then end of output"
t_ok lab_wait_for 5 grep -q "^got 50000 $sum2\$" "$LAB_DIR/srv2.stats" \
	"data sent after the service's half-close still reaches it"

out=$(relay Silent _rnstest._tcp "$LAB_DIR/payload2" /dev/null vanish)
pidv=$(subsys_pid)
t_ok [ "$out" = RELAYING ] "RELAY to a service that stays silent"
t_ok lab_wait_for 5 dead "$pidv" \
	"the agent half-closes, then goes away: the relay ends all the same"

# address rules filter the candidates: without its IPv4 address the
# service is reached at its IPv6 link-local one, zone and all
printf 'deny address 10.1.0.0/24\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" "$LAB_DIR/recv4" send-first)
t_ok [ "$out" = RELAYING ] "IPv4 address denied: RELAYING over IPv6 ($out)"
t_ok [ "$(cat "$LAB_DIR/recv4" 2>/dev/null)" = "50000 $sum2" ] \
	"... to the link-local address with its zone"
t_ok grep -q 'relay to "Relay target" _rnstest._tcp at fe80::[0-9a-f:]*%eth0 port 9000' \
	"$LAB_DIR/subsys.log" "... as the log says"

n0=$(conns "$LAB_DIR/srv1.stats")
out=$(relay Nope _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR no-service "* ]]' "unadvertised target: ERROR no-service ($out)"
printf 'deny name "Relay target"\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR denied "* ]]' "denied target: ERROR denied ($out)"
printf 'deny address 10.1.0.0/24\ndeny address fe80::/10\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR denied "* ]]' "target at denied addresses: ERROR denied ($out)"
printf 'relay no\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR denied "* ]]' "relay no: ERROR denied ($out)"
t_ok [ "$(conns "$LAB_DIR/srv1.stats")" = "$n0" ] "refused relays opened no connection"
start s6
t_ok has s6 '^HELLO 1\.2 [0-9a-z]+ subsystem update,export,beat ' "relay no: HELLO without the relay feature"
say s6 '!quit'
: >"$POLICY"
t_done
