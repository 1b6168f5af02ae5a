#!/bin/bash
#
# tests/integration/exposure.sh -- where the agent's listeners are, and who
# may connect to them (agent/exposure.c), in the lab.
#
#   asrv (LAN A) --- arelay [sshd] ==WAN 10.99.0== brelay [agent] --- bcli (LAN B)
#
# The agent on brelay (scope lan, no allow-list) listens on LAN B's
# addresses and the loopback only: not on brelay's WAN address, and a
# client routed in from the WAN is refused and logged. Then brelay's LAN
# interface moves to another subnet (ip addr inside the namespace): with
# the default LAN networks the service falls back to host scope and comes
# back with the old subnet; with lan-networks naming both subnets the
# listeners follow the address on the same port.  Last, brelay gets a
# public leg (pub0: a public address, a provider's private network and
# its IPv6 link-local address, on a link with bcli): the default LAN
# networks leave out all its addresses, link-local included, and no
# client of that link gets through, while LAN B's link-local address
# works; LAN B's interface given a public address falls back to host
# scope, and back when it goes; lan-networks naming pub0 brings it in.
# Needs root; skips (77) otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab
AGENT=$T_AGENT
CLI=$T_CLI
[ -x "$AGENT" ] || t_skip "agent/rnsplice-agent not built"
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_skip "no subsystem at $RNSPLICE_SUBSYSTEM"
command -v curl >/dev/null || t_skip "curl not installed"
command -v ss >/dev/null || t_skip "ss (iproute2) not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"

T=_http._tcp

# spliced HOST NAME -- "ADDRESS PORT" of NAME as HOST resolves it on eth0
spliced() {
	lab_browse "$1" "$T" 2>/dev/null | lab_browse_get "$2" eth0 IPv4 |
		head -n 1 | cut -d';' -f4,5 | tr ';' ' '
}

seen_at() { # HOST NAME ADDR
	[ "$(spliced "$1" "$2" | cut -d' ' -f1)" = "$3" ]
}

same_body() { # HOST URL FILE
	lab_exec "$1" curl -sS --max-time 10 -o - "$2" | cmp -s - "$3"
}

# listening PORT -- brelay's listening addresses on PORT, sorted, one a line
# ("10.2.0.1", "127.0.0.1", "[::1]", "[fe80::...%eth0]", "*" ...)
listening() {
	lab_exec brelay ss -Hltn "sport = :$1" | awk '{ a = $4; sub(/:[0-9]+$/, "", a); print a }' |
		sort
}

listens_on() { # PORT ADDR
	listening "$1" | grep -qxF -- "$2"
}

not_wildcard() { # PORT
	! listening "$1" | grep -qE '^(\*|0\.0\.0\.0|\[::\])$'
}

only_loopback() { # PORT
	[ "$(listening "$1")" = 127.0.0.1 ]
}

status_text() { # SOCK
	lab_exec brelay "$CLI" -S "$1" status 2>/dev/null
}

status_has() { # SOCK TEXT
	status_text "$1" | grep -qF -- "$2"
}

# json_exposure SOCK -- the first remote's "exposure" object, as
# "scope published fallback clients" (and the JSON must parse)
json_exposure() {
	lab_exec brelay "$CLI" -S "$1" --json status 2>/dev/null | python3 -c '
import json, sys
x = json.load(sys.stdin)["remotes"][0]["exposure"]
print(x["scope"], x["published"], str(x["fallback"]).lower(), x["clients"])'
}

# linklocal HOST IF -- HOST's IPv6 link-local address on IF
linklocal() {
	lab_exec "$1" ip -6 -o addr show dev "$2" scope link |
		awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}

listens_ll() { # PORT ADDR (link-local, without its zone)
	listening "$1" | grep -qF -- "$2"
}

# get_ll HOST ADDR IF PORT -- curl through a link-local address
get_ll() {
	lab_exec "$1" curl -gsS --max-time 10 -o - "http://[$2%25$3]:$4/index.html" |
		cmp -s - "$www/index.html"
}

log_count() { # FILE TEXT
	grep -cF -- "$2" "$1" 2>/dev/null || true
}

# move HOST ADDR_OLD ADDR_NEW -- renumber HOST's eth0 (/24)
move() {
	lab_exec "$1" ip addr add "$3/24" dev eth0 &&
		lab_exec "$1" ip addr del "$2/24" dev eth0
}

lab_init || t_bail "lab_init failed"
dump_logs() {
	local f
	[ "$T_FAILED" -ne 0 ] || return 0
	for f in "$LAB_DIR"/brelay/agent*.log; do
		[ -e "$f" ] || continue
		t_diag "--- last lines of $f"
		tail -n 60 "$f" | sed 's/^/# /'
	done
}
lab_atexit dump_logs
t_diag "lab $LAB_ID in $LAB_DIR"
lab_topology_basic || t_bail "lab_topology_basic failed"

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello from asrv $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http server on asrv"
WEB="Web $LAB_ID"
pub_web=$(lab_publish asrv "$WEB" $T 8080 path=/)
lab_wait_published "$pub_web" || t_bail "publish on asrv"

# --- default exposure: LAN B and the loopback, nothing else ----------------
LOG1=$LAB_DIR/brelay/agent1.log
SOCK1=/run/agent1.sock
t_agent brelay "$LAB_DIR/agent1.pid" "$LOG1" -v -R -S "$SOCK1" siteA $T
agent1=$T_AGENT_PID
NAME="$WEB (siteA)"
t_ok lab_wait_for 20 seen_at bcli "$NAME" 10.2.0.1 \
	"bcli resolves \"$NAME\" at brelay's LAN address" ||
	t_bail "no splice"
read -r _ port <<<"$(spliced bcli "$NAME")"
t_diag "spliced on port $port; listening on: $(listening "$port" | tr '\n' ' ')"
t_ok same_body bcli "http://10.2.0.1:$port/index.html" "$www/index.html" \
	"a client on LAN B gets through"
t_ok listens_on "$port" 10.2.0.1 "listens on brelay's LAN address"
t_ok listens_on "$port" 127.0.0.1 "and on 127.0.0.1"
t_ok not_wildcard "$port" "no wildcard listener (0.0.0.0, [::])"
t_nok listens_on "$port" 10.99.0.2 "not on brelay's WAN address"
t_ok same_body brelay "http://127.0.0.1:$port/index.html" "$www/index.html" \
	"brelay itself gets through the loopback"
t_nok lab_exec arelay curl -sS --max-time 5 -o /dev/null "http://10.99.0.2:$port/" \
	"through the WAN address: connection refused (nothing listens there)"
t_ok status_has "$SOCK1" "exposure: scope lan on eth0 10.2.0.0/24" \
	"rnsplice status names the interface and network"
t_ok [ "$(json_exposure "$SOCK1")" = "lan lan false on-link" ] \
	"rnsplice --json status: scope lan, published lan, no fallback"
t_ok grep -q "LAN networks (no lan-networks set: the private networks present at start): 10.2.0.0/24" "$LOG1" \
	"the log names the default LAN networks"

# An off-link client: arelay routes LAN B through brelay's WAN address.
lab_exec arelay ip route add 10.2.0.0/24 via 10.99.0.2 ||
	t_bail "route on arelay"
t_nok lab_exec arelay curl -sS --max-time 5 -o /dev/null "http://10.2.0.1:$port/" \
	"a client routed in from the WAN (10.99.0.1) is turned away"
t_ok lab_wait_for 5 grep -qF "refused 10.99.0.1 for \"$NAME\": not on a network" "$LOG1" \
	"and logged, naming the peer and the service"
for _ in 1 2 3 4 5; do
	lab_exec arelay curl -s --max-time 5 -o /dev/null "http://10.2.0.1:$port/"
done
n=$(log_count "$LOG1" "refused 10.99.0.1 for")
t_ok [ "$n" -lt 6 ] "six refusals in a row are logged fewer than six times ($n)"
t_ok same_body bcli "http://10.2.0.1:$port/index.html" "$www/index.html" \
	"LAN B still gets through"
lab_exec arelay ip route del 10.2.0.0/24 via 10.99.0.2

# --- the LAN moves to a network the agent did not start on: host scope -----
move brelay 10.2.0.1 10.5.0.1 || t_bail "renumber brelay"
move bcli 10.2.0.2 10.5.0.2 || t_bail "renumber bcli"
t_ok lab_wait_for 10 only_loopback "$port" \
	"on 10.5.0.0/24 (not a LAN network): 127.0.0.1 only, same port"
t_ok grep -q "\"$NAME\" falls back to host scope" "$LOG1" \
	"the log says it falls back to host scope"
t_ok status_has "$SOCK1" "on none of the LAN networks (10.2.0.0/24, found at start): host scope only" \
	"rnsplice status says so"
t_ok [ "$(json_exposure "$SOCK1")" = "lan host true on-link" ] \
	"rnsplice --json status: published host, fallback true"
t_ok lab_wait_for 10 eval '! lab_seen bcli $T "$NAME"' \
	"the service leaves the LAN"
t_ok lab_wait_for 10 lab_seen brelay $T "$NAME" lo \
	"and is published on brelay's lo"
t_ok same_body brelay "http://127.0.0.1:$port/index.html" "$www/index.html" \
	"still usable on brelay"
t_nok lab_exec bcli curl -sS --max-time 5 -o /dev/null "http://10.5.0.1:$port/" \
	"not from bcli on the new network"

move brelay 10.5.0.1 10.2.0.1 || t_bail "renumber brelay back"
move bcli 10.5.0.2 10.2.0.2 || t_bail "renumber bcli back"
t_ok lab_wait_for 10 listens_on "$port" 10.2.0.1 \
	"back on 10.2.0.0/24: listening on 10.2.0.1 again"
t_ok lab_wait_for 20 seen_at bcli "$NAME" 10.2.0.1 "and back on the LAN"
read -r _ port2 <<<"$(spliced bcli "$NAME")"
t_ok [ "$port2" = "$port" ] "on the same port ($port2)"
t_ok same_body bcli "http://10.2.0.1:$port/index.html" "$www/index.html" \
	"usable from bcli again"
lab_stop "$agent1" || t_bail "stop agent 1"

# --- lan-networks naming both subnets: the listeners follow --------------------
cat >"$LAB_DIR/agent2.conf" <<EOF
allow-root yes
lan-networks 10.2.0.0/24 10.5.0.0/24
remote siteA {
	types $T
}
EOF
t_ok lab_exec brelay "$AGENT" -n -f "$LAB_DIR/agent2.conf" "agent -n accepts lan-networks"
t_nok lab_exec brelay "$AGENT" -n -L 10.2.0.1/24 siteA \
	"-L with host bits set is refused"
LOG2=$LAB_DIR/brelay/agent2.log
SOCK2=/run/agent2.sock
t_agent brelay "$LAB_DIR/agent2.pid" "$LOG2" -v -S "$SOCK2" -f "$LAB_DIR/agent2.conf"
agent2=$T_AGENT_PID
t_ok lab_wait_for 20 seen_at bcli "$NAME" 10.2.0.1 "agent 2 splices \"$NAME\"" ||
	t_bail "no splice (agent 2)"
read -r _ port <<<"$(spliced bcli "$NAME")"
move brelay 10.2.0.1 10.5.0.1 || t_bail "renumber brelay"
move bcli 10.2.0.2 10.5.0.2 || t_bail "renumber bcli"
t_ok lab_wait_for 10 listens_on "$port" 10.5.0.1 \
	"the new address 10.5.0.1 is listened on, same port $port"
t_nok listens_on "$port" 10.2.0.1 "the old address is not"
t_ok not_wildcard "$port" "still no wildcard listener"
t_ok lab_wait_for 20 seen_at bcli "$NAME" 10.5.0.1 \
	"bcli resolves it at the new address"
t_ok same_body bcli "http://10.5.0.1:$port/index.html" "$www/index.html" \
	"and gets through"
t_ok status_has "$SOCK2" "exposure: scope lan on eth0 10.5.0.0/24" \
	"rnsplice status follows"
t_nok grep -q "falls back to host scope" "$LOG2" "no fallback: 10.5.0.0/24 is named"
t_nok grep -q "no lan-networks set" "$LOG2" "no default LAN networks when they are named"
lab_stop "$agent2" || t_bail "stop agent 2"

# --- a public leg: left out unless lan-networks names it ----------------------
lab_lan P 198.51.100 brelay:pub0 bcli:pub0 || t_bail "link P"
lab_exec brelay ip addr add 172.16.9.1/24 dev pub0 || t_bail "brelay: pub0's private address"
lab_exec bcli ip addr add 172.16.9.2/24 dev pub0 || t_bail "bcli: pub0's private address"
LLB=$(linklocal brelay eth0)
LLP=$(linklocal brelay pub0)
{ [ -n "$LLB" ] && [ -n "$LLP" ]; } || t_bail "brelay: no link-local addresses on eth0, pub0"
t_diag "brelay: eth0 $LLB, pub0 $LLP"
LOG3=$LAB_DIR/brelay/agent3.log
SOCK3=/run/agent3.sock
t_agent brelay "$LAB_DIR/agent3.pid" "$LOG3" -v -R -S "$SOCK3" siteA $T
agent3=$T_AGENT_PID
t_ok lab_wait_for 20 seen_at bcli "$NAME" 10.5.0.1 "agent 3 splices \"$NAME\" onto LAN B" ||
	t_bail "no splice (agent 3)"
read -r _ port <<<"$(spliced bcli "$NAME")"
t_diag "agent 3: port $port; listening on: $(listening "$port" | tr '\n' ' ')"
t_ok grep -q "LAN networks (no lan-networks set: the private networks present at start): 10.5.0.0/24\$" "$LOG3" \
	"the default LAN networks: LAN B's, not the public leg's private one"
t_ok grep -qF "interface pub0 is a public leg (public address 198.51.100.1): scope lan leaves out all its addresses" "$LOG3" \
	"the log says why pub0 is left out"
t_ok listens_on "$port" 10.5.0.1 "listens on LAN B's address"
t_ok listens_ll "$port" "$LLB" "and on LAN B's link-local address"
t_nok listens_ll "$port" "$LLP" "not on the public leg's link-local address"
t_nok listens_on "$port" 198.51.100.1 "nor its public address"
t_nok listens_on "$port" 172.16.9.1 "nor its private one"
t_ok get_ll bcli "$LLB" eth0 "$port" "bcli gets through LAN B's link-local address"
t_nok get_ll bcli "$LLP" pub0 "$port" "no connection from the public leg's link"
t_nok status_has "$SOCK3" "pub0" "rnsplice status does not name pub0"
n=$(lab_browse bcli $T | lab_browse_count "$NAME" pub0)
t_ok [ "${n:-0}" -eq 0 ] "not published on the public leg ($n)"
# LAN B's interface becomes a public leg (rtnetlink): host scope, and back
lab_exec brelay ip addr add 203.0.113.1/24 dev eth0 || t_bail "brelay: a public address on eth0"
t_ok lab_wait_for 10 only_loopback "$port" \
	"eth0 gets a public address: a public leg, 127.0.0.1 only, same port"
t_ok grep -qF "interface eth0 is a public leg (public address 203.0.113.1)" "$LOG3" \
	"the log says why"
lab_exec brelay ip addr del 203.0.113.1/24 dev eth0 || t_bail "brelay: the public address off eth0"
t_ok lab_wait_for 10 listens_ll "$port" "$LLB" "the public address gone: LAN B's link-local address again"
t_ok listens_on "$port" 10.5.0.1 "and its private one"
t_nok listens_ll "$port" "$LLP" "still not the public leg's"
lab_stop "$agent3" || t_bail "stop agent 3"

cat >"$LAB_DIR/agent4.conf" <<EOF
allow-root yes
lan-networks eth0 pub0
remote siteA {
	types $T
}
EOF
LOG4=$LAB_DIR/brelay/agent4.log
SOCK4=/run/agent4.sock
t_agent brelay "$LAB_DIR/agent4.pid" "$LOG4" -v -S "$SOCK4" -f "$LAB_DIR/agent4.conf"
agent4=$T_AGENT_PID
t_ok lab_wait_for 20 seen_at bcli "$NAME" 10.5.0.1 "agent 4 (lan-networks eth0 pub0) splices \"$NAME\"" ||
	t_bail "no splice (agent 4)"
read -r _ port <<<"$(spliced bcli "$NAME")"
t_ok lab_wait_for 10 listens_ll "$port" "$LLP" "named: listens on the public leg's link-local address"
t_ok listens_on "$port" 198.51.100.1 "and on its public address"
t_ok get_ll bcli "$LLP" pub0 "$port" "a client of that link gets through"
t_ok lab_wait_for 20 lab_seen bcli $T "$NAME" pub0 "published there"
lab_stop "$agent4" || t_bail "stop agent 4"

t_done
