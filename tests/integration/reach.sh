#!/bin/bash
#
# tests/integration/reach.sh -- discovery implies reachability, in the lab,
# with a real sshd, subsystem and avahi on both sides.
#
# 1. Direct mode, PermitOpen and "relay no": a service outside PermitOpen
#    leaves LAN B at its first refusal, shows as refused with ssh's reason
#    in `rnsplice services` (text and JSON), stays away across a reconnect
#    while sshd still refuses it, and comes back once sshd allows it
#    (config changed, sshd restarted). A service whose target is down
#    leaves too and comes back by itself when the target starts. In host
#    scope the ssh master listens itself, after a probe: neither refused
#    service is ever published there.
# 2. Relay mode (AllowTcpForwarding no): a device on LAN A announces
#    ::ffff:127.0.0.1 and 127.0.0.1 as its addresses; the subsystem
#    neither offers those services nor relays to them when asked by name
#    (the secret server on the server host's loopback sees no request);
#    with an explicit "allow address 127.0.0.1/32" rule it does both.
#    With "relay no" every service is refused and withdrawn, and comes
#    back with "relay yes".
# Needs root (the lab); skips otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / eval
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab
AGENT=$T_AGENT
CLI=$T_CLI
SUB=$T_SUB
for f in "$AGENT" "$CLI" "$SUB"; do
	[ -x "$f" ] || t_bail "$f not built"
done

lab_init || t_bail "lab_init failed"
t_diag "lab $LAB_ID in $LAB_DIR"
POLICY=$LAB_DIR/subsystem.conf
printf 'relay no\n' >"$POLICY"
cat >"$LAB_DIR/subsys-wrapper" <<EOF
exec "$SUB" -d -f "$POLICY" 2>>"$LAB_DIR/subsys.log"
EOF
chmod +x "$LAB_DIR/subsys-wrapper"
RNSPLICE_SUBSYSTEM=$LAB_DIR/subsys-wrapper
SSHD_EXTRA=$LAB_DIR/sshd-extra.conf
printf 'PermitOpen 10.1.0.2:8080 10.1.0.2:8082\n' >"$SSHD_EXTRA"

lab_hosts asrv arelay brelay bcli || t_bail "hosts"
lab_lan A 10.1.0 arelay asrv || t_bail "LAN A"
lab_lan B 10.2.0 brelay bcli || t_bail "LAN B"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
lab_sshd arelay "$SSHD_EXTRA" || t_bail "sshd"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
lab_wait_avahi asrv arelay brelay bcli
# lab_sshd copied the file: later changes go to the copy it includes
SSHD_EXTRA=$LAB_DIR/arelay/sshd/extra.conf
lab_atexit '[ "$T_FAILED" -eq 0 ] || { tail -n 60 "$LAB_DIR/agent.log"; tail -n 30 "$LAB_DIR/subsys.log"; } | sed "s/^/# /"'

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http 8080"
lab_http asrv 8081 "$www" >/dev/null || t_bail "http 8081"
p1=$(lab_publish asrv "Allowed $LAB_ID" _http._tcp 8080)
p2=$(lab_publish asrv "Outside $LAB_ID" _http._tcp 8081)
p3=$(lab_publish asrv "Later $LAB_ID" _http._tcp 8082)	# nothing listens yet
for p in "$p1" "$p2" "$p3"; do
	lab_wait_published "$p" || t_bail "publish"
done

cat >"$LAB_DIR/agent.conf" <<EOF
allow-root yes
remote siteA {
	types _http._tcp
}
EOF
t_agent brelay "$LAB_DIR/agent.pid" "$LAB_DIR/agent.log" -v -f "$LAB_DIR/agent.conf"
cli() { lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock "$@"; }
seen() { [ -n "$(t_port_of _http._tcp "$1 $LAB_ID (siteA)")" ]; }
fetch() { # NAME: the page through the splice
	local p
	p=$(t_port_of _http._tcp "$1 $LAB_ID (siteA)")
	if [ -z "$p" ]; then
		t_diag "fetch $1: bcli does not resolve it"
		return 1
	fi
	lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$p/index.html" |
		grep -q "hello $LAB_ID"
}
synced() { [ "$(t_agent_state brelay /run/rnsplice/agent.sock siteA)" = synced ]; }
ssh_pid() {
	cli --json status 2>/dev/null | grep -o '"ssh_pid":[0-9]*' | head -n 1 |
		cut -d: -f2
}
# sshd with its new configuration, and the agent in a new session with it
sshd_restart() {
	local old
	# shellcheck disable=SC2034  # used in eval
	old=$(ssh_pid)
	lab_sshd_restart arelay --sessions || t_bail "sshd restart"
	lab_wait_for 30 eval '[ "$(ssh_pid)" != "$old" ] && synced' ||
		t_bail "the agent did not reconnect"
}

# --- 1. direct mode ------------------------------------------------------------
t_ok lab_wait_for 20 eval 'seen Allowed && seen Outside && seen Later' \
	"all three services are published on LAN B at first"
t_ok fetch Allowed "the allowed one answers"
po=$(t_port_of _http._tcp "Outside $LAB_ID (siteA)")
t_nok lab_exec bcli curl -sS --max-time 10 -o /dev/null "http://10.2.0.1:$po/" \
	"a client's connection to the one outside PermitOpen fails (sshd refuses, relay no)"
t_ok lab_wait_for 5 grep -q "the server refuses to connect \"Outside $LAB_ID\" .*Session open refused by peer (ssh: administratively prohibited: open failed); withdrawn from this LAN" \
	"$LAB_DIR/agent.log" "the agent logs the refusal and the withdrawal"
t_ok lab_wait_for 10 eval '! seen Outside' "after that first refusal it is gone from LAN B"
t_nok lab_exec bcli curl -sS --max-time 5 -o /dev/null "http://10.2.0.1:$po/" \
	"and its port no longer accepts"
out=$(cli services)
t_ok eval 'printf "%s\n" "$out" | grep -q "\"Outside $LAB_ID\" _http._tcp not spliced: refused by the server: Session open refused by peer (ssh: administratively prohibited: open failed); next try in"' \
	"rnsplice services shows it refused with ssh's reason ($(printf "%s\n" "$out" | grep Outside))"
# shellcheck disable=SC2034  # used in eval
json=$(cli --json services)
t_ok eval 'printf "%s" "$json" | python3 -c "
import json, sys
s = [x for x in json.load(sys.stdin) if x[\"name\"] == \"Outside $LAB_ID\"][0]
assert s[\"server_refused\"] is True and not s[\"spliced\"], s
assert s[\"refused_reason\"] == \"Session open refused by peer (ssh: administratively prohibited: open failed)\", s
assert s[\"retry_in\"] >= 0, s
"' "rnsplice --json services: refused, the reason, the retry"
t_ok eval 'printf "%s" "$json" | python3 -c "
import json, sys
s = [x for x in json.load(sys.stdin) if x[\"name\"] == \"Allowed $LAB_ID\"][0]
assert s[\"server_refused\"] is False and s[\"spliced\"], s
"' "the allowed service is not marked refused"
t_ok fetch Allowed "the allowed service still answers"

# host scope, where the ssh master listens itself (listener auto): the
# probe before the hand-over keeps a refused service off this host
cat >"$LAB_DIR/agent-host.conf" <<EOF
allow-root yes
remote siteA {
	types _http._tcp
	scope host
	name-template "%n [host]"
}
EOF
t_agent brelay "$LAB_DIR/agent-host.pid" "$LAB_DIR/agent-host.log" -v \
	-S /run/agent-host.sock -f "$LAB_DIR/agent-host.conf"
hagent=$T_AGENT_PID
lo_seen() { lab_seen brelay _http._tcp "$1 $LAB_ID [host]" lo; }
t_ok lab_wait_for 20 lo_seen Allowed "host scope: the allowed one is published on lo"
hp=$(lab_browse brelay _http._tcp | lab_browse_get "Allowed $LAB_ID [host]" lo IPv4 | head -n 1 | cut -d';' -f5)
t_ok eval 'lab_exec brelay ss -Hltnp "( sport = :$hp )" | grep -q "users:((\"ssh\","' \
	"host scope: the ssh master listens on its port $hp"
t_ok eval 'lab_exec brelay curl -sS --max-time 10 "http://127.0.0.1:$hp/index.html" | grep -q "hello $LAB_ID"' \
	"and it answers through the master's listener"
# (both probes at once: which of ssh's two stderr lines goes with which
# refusal is not certain, so the reasons are not compared here)
t_ok lab_wait_for 10 grep -q "siteA: the server refuses to connect \"Outside $LAB_ID\"" \
	"$LAB_DIR/agent-host.log" "host scope: the one outside PermitOpen is refused by the probe"
t_ok lab_wait_for 10 grep -q "siteA: the server refuses to connect \"Later $LAB_ID\"" \
	"$LAB_DIR/agent-host.log" "host scope: the one whose target is down too"
t_nok eval 'lo_seen Outside || lo_seen Later' "neither was ever published on lo"
t_nok grep -qF -e "published \"Outside $LAB_ID [host]\"" -e "published \"Later $LAB_ID [host]\"" \
	"$LAB_DIR/agent-host.log" "(the log agrees)"
t_ok lab_stop "$hagent" "the host-scope agent stops"

# a target that is down: refused, then back by itself once it listens
pl=$(t_port_of _http._tcp "Later $LAB_ID (siteA)")
t_nok lab_exec bcli curl -sS --max-time 10 -o /dev/null "http://10.2.0.1:$pl/" \
	"a service whose target is down fails"
t_ok lab_wait_for 10 eval '! seen Later' "and leaves LAN B"
t_ok eval 'cli services | grep -q "\"Later $LAB_ID\" _http._tcp not spliced: refused by the server: Session open refused by peer (ssh: connect failed: Connection refused)"' \
	"rnsplice services gives sshd's reason: the connection was refused"
lab_http asrv 8082 "$www" >/dev/null || t_bail "http 8082"
t_ok lab_wait_for 30 eval 'seen Later' "it comes back by itself once the target listens (probe)"
t_ok fetch Later "and answers"
t_ok grep -q "\"Later $LAB_ID\" (_http._tcp) at .* can be reached again" "$LAB_DIR/agent.log" \
	"the agent logs that it is reachable again"

# a new session with sshd unchanged: probed first, not published
sshd_restart
t_ok lab_wait_for 30 eval 'grep -q "\"Outside $LAB_ID\" (_http._tcp) was refused by the server before" "$LAB_DIR/agent.log"' \
	"after a reconnect the refused service is probed before it is published"
sleep 3
t_nok seen Outside "sshd still refuses: it stays off LAN B"
t_ok eval 'cli services | grep -q "\"Outside $LAB_ID\" _http._tcp not spliced: refused by the server"' \
	"and shows as refused"
t_ok lab_wait_for 20 eval 'seen Allowed' "the allowed one is back after the reconnect"

# sshd allows it now: back
printf 'PermitOpen 10.1.0.2:8080 10.1.0.2:8081 10.1.0.2:8082\n' >"$SSHD_EXTRA"
sshd_restart
t_ok lab_wait_for 30 eval 'seen Outside' "PermitOpen widened: the service is back on LAN B"
t_ok fetch Outside "and reachable"
t_ok eval 'cli --json services | grep -q "\"name\":\"Outside $LAB_ID\".*\"server_refused\":false"' \
	"and no longer refused"

# --- 2. relay mode: no forwarding at all ----------------------------------------
# A device announces the server host's loopback as its address: an AAAA
# record ::ffff:127.0.0.1 and an A record 127.0.0.1; a "secret" server
# listens on arelay's loopback.
secret=$LAB_DIR/secret
mkdir -p "$secret"
echo "secret $LAB_ID" >"$secret/index.html"
lab_http arelay 8090 "$secret" 127.0.0.1 >/dev/null || t_bail "secret http"
lab_bg asrv "$LAB_DIR/pa6.pid" avahi-publish -a -R "evil6-$LAB_ID.local" ::ffff:127.0.0.1 \
	>"$LAB_DIR/pa6.log" 2>&1
lab_bg asrv "$LAB_DIR/pa4.pid" avahi-publish -a -R "evil4-$LAB_ID.local" 127.0.0.1 \
	>"$LAB_DIR/pa4.log" 2>&1
lab_bg asrv "$LAB_DIR/ps6.pid" avahi-publish -s -H "evil6-$LAB_ID.local" "Mapped $LAB_ID" _http._tcp 8090 \
	>"$LAB_DIR/ps6.log" 2>&1
lab_bg asrv "$LAB_DIR/ps4.pid" avahi-publish -s -H "evil4-$LAB_ID.local" "Loop $LAB_ID" _http._tcp 8090 \
	>"$LAB_DIR/ps4.log" 2>&1
printf 'AllowTcpForwarding no\n' >"$SSHD_EXTRA"
printf 'relay yes\n' >"$POLICY"
sshd_restart
t_ok lab_wait_for 30 eval 'seen Allowed' "relay mode: the ordinary service is offered"
t_ok fetch Allowed "and works through the subsystem"
t_ok lab_wait_for 20 eval 'grep -q "Mapped $LAB_ID._http._tcp: address 127.0.0.1 is a loopback address" "$LAB_DIR/subsys.log"' \
	"the subsystem sees ::ffff:127.0.0.1 as the 127.0.0.1 it is, and refuses it"
t_ok lab_wait_for 20 eval 'grep -q "Loop $LAB_ID._http._tcp: address 127.0.0.1 is a loopback address" "$LAB_DIR/subsys.log"' \
	"and 127.0.0.1"
t_nok seen Mapped "the ::ffff:127.0.0.1 one is not offered: not on LAN B"
t_nok seen Loop "nor the 127.0.0.1 one"
relay_ask() { # NAME: a relay session of our own, asking for it by name;
	# its input stays open until the subsystem has answered (or closed)
	# shellcheck disable=SC2016  # expanded by the inner bash
	lab_exec brelay timeout 20 bash -c '
		coproc S { ssh -s siteA rnsplice 2>/dev/null; }
		printf "HELLO 1.0 probe agent %%\nRELAY %s%%20%s _http._tcp local\n" \
			"$0" "$1" >&"${S[1]}"
		while IFS= read -r l <&"${S[0]}"; do
			printf "%s\n" "$l"
			case $l in ERROR* | RELAYING*) break ;; esac
		done' "$1" "$LAB_ID"
}
for n in Mapped Loop; do
	out=$(relay_ask "$n")
	t_ok eval 'printf "%s\n" "$out" | grep -q "^ERROR denied "' \
		"$n: a RELAY asking for it is refused ($(printf "%s\n" "$out" | grep ERROR))"
done
t_nok grep -q "GET" "$LAB_DIR/arelay/http-8090.log" "the secret server on arelay's loopback saw no request"

# an explicit rule for the loopback: offered, and reached
printf 'relay yes\nallow address 127.0.0.1/32\nallow all\n' >"$POLICY"
sshd_restart
t_ok lab_wait_for 30 eval 'seen Loop && seen Mapped' \
	"allow address 127.0.0.1/32: both are offered"
t_ok eval 'p=$(t_port_of _http._tcp "Loop $LAB_ID (siteA)"); lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$p/index.html" | grep -q "secret $LAB_ID"' \
	"and reach what the rule allows"

# relay no: nothing can be carried; relay yes again: back
printf 'relay no\n' >"$POLICY"
sshd_restart
t_ok lab_wait_for 20 eval 'seen Allowed' "relay no: published at first"
t_nok fetch Allowed "but refused"
t_ok lab_wait_for 10 eval '! seen Allowed' "and withdrawn"
printf 'relay yes\n' >"$POLICY"
sshd_restart
# (resolved and fetched, not only listed: a goodbye lost on a loaded
# machine can leave a stale entry in bcli's cache)
t_ok lab_wait_for 30 fetch Allowed "relay yes: back, and reachable"
t_done
