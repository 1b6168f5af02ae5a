#!/bin/bash
#
# tests/integration/export-agent.sh -- the agent's side of export against
# a scripted subsystem (export-peer.py) behind a real sshd, in the lab:
# 1. a 1.0 subsystem (no "export" feature) gets no EXPORT; the agent logs
#    once that the server cannot take exports and says so in status;
# 2. when the agent stops, its UNEXPORT reaches the subsystem;
# 3. a hostile one: EXPORTING and DROPPED for ids it was never given, a
#    second EXPORTING for the same id: ignored, the export goes on; the
#    page comes through the forwarded socket byte for byte; DROPPED after
#    acceptance: the agent cancels its forward (the socket stops
#    answering) and shows "dropped by the server" without offering again.
#
#   arelay (sshd, export-peer.py) <--WAN-- brelay (agent) -- LAN B -- bcli
#
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
command -v python3 >/dev/null || t_skip "python3 not installed"
# the interpreter itself: a wrapper (pyenv's shim) may take a second a call
PY=$(python3 -c 'import sys; print(sys.executable)') || t_bail "python3 does not run"

T=_http._tcp
SOCK=/run/rnsplice/agent.sock

# xstate -- the state of Web B's export in "rnsplice --json services"
xget() { # EXPR over x (the export of Web B, or None)
	lab_exec brelay "$CLI" -S "$SOCK" --json services 2>/dev/null |
		"$PY" -c '
import json, sys
x = next((s for s in json.load(sys.stdin)
    if s.get("export") and s.get("name") == "Web B"), None)
print(eval(sys.argv[1]))' "$1" 2>/dev/null
}

agent_start() { # N
	t_agent brelay "$LAB_DIR/agent.pid" "$LAB_DIR/brelay/agent$1.log" -v \
		-f "$LAB_DIR/brelay/agent.conf"
}

agent_stop() {
	local pid
	read -r pid <"$LAB_DIR/agent.pid"
	lab_stop "$pid"
}

lab_init || t_bail "lab_init failed"
dump_logs() {
	local f
	[ "$T_FAILED" -ne 0 ] || return 0
	for f in "$LAB_DIR"/brelay/agent*.log "$LAB_DIR"/peer/log; do
		[ -e "$f" ] || continue
		t_diag "--- last lines of $f"
		tail -n 40 "$f" | sed 's/^/# /'
	done
}
lab_atexit dump_logs
t_diag "lab $LAB_ID in $LAB_DIR"

lab_hosts arelay brelay bcli || t_bail "lab_hosts failed"
lab_lan B 10.2.0 brelay bcli || t_bail "LAN B"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
P=$LAB_DIR/peer
mkdir -p "$P"
# sshd runs it in the lab host, whose /root is its own: a python3 there
PEER_PY=$(PATH=$LAB_PATH command -v python3) || t_skip "no python3 outside /root"
cat >"$LAB_DIR/arelay/subsys" <<EOF
#!/bin/sh
exec "$PEER_PY" "$here/export-peer.py" "$P" 2>>"$P/stderr"
EOF
chmod +x "$LAB_DIR/arelay/subsys"
RNSPLICE_SUBSYSTEM=$LAB_DIR/arelay/subsys lab_sshd arelay || t_bail "sshd on arelay"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
lab_wait_avahi arelay brelay bcli || t_bail "avahi"

www=$LAB_DIR/www
mkdir -p "$www"
head -c 100000 /dev/urandom >"$www/index.html"
lab_http bcli 8080 "$www" >/dev/null || t_bail "http server on bcli"
pub=$(lab_publish bcli "Web B" $T 8080 path=/) &&
	lab_wait_published "$pub" || t_bail "publishing Web B"
cat >"$LAB_DIR/brelay/agent.conf" <<EOF
allow-root yes
types _ipp._tcp
remote siteA {
	destination siteA
	export $T
}
EOF

# --- 1. a subsystem without export ------------------------------------------
echo old >"$P/mode"
agent_start 1
t_ok t_wait_state 20 brelay "$SOCK" siteA synced "the session with the 1.0 subsystem is up"
t_ok lab_wait_for 10 t_logged "$LAB_DIR/brelay/agent1.log" \
	"siteA: the server's subsystem cannot take exports (too old)" \
	"the agent logs that the server cannot take exports"
t_ok eval 'lab_exec brelay "$CLI" -S "$SOCK" status |
	grep -q "exports: the server.s subsystem cannot take exports (too old)"' \
	"rnsplice status says so"
t_ok eval '[ "$(grep -c "cannot take exports" "$LAB_DIR/brelay/agent1.log")" -eq 1 ]' \
	"once"
t_nok grep -q "^A: EXPORT" "$P/log" "no EXPORT was sent"
t_ok grep -q "^A: HELLO 1.2 .* agent update,export " "$P/log" \
	"the agent's HELLO says 1.2 and export"
agent_stop

# --- 2. the agent stops: UNEXPORT reaches the subsystem ------------------------
echo accept >"$P/mode"
: >"$P/log"
agent_start 2
t_ok lab_wait_for 20 grep -q "^A: FORWARDING 1" "$P/log" "an accepted export is forwarding"
agent_stop
t_ok lab_wait_for 5 grep -q "^A: UNEXPORT 1" "$P/log" \
	"the agent stopped: its UNEXPORT reached the subsystem"

# --- 3. a hostile subsystem ---------------------------------------------------
echo hostile >"$P/mode"
: >"$P/log"
agent_start 3
t_ok lab_wait_for 20 grep -q "^cancelled" "$P/log" \
	"the subsystem got FORWARDING, fetched, dropped the export, saw the forward go"
t_ok cmp -s "$P/fetch.out" "$www/index.html" \
	"the page came through the forwarded socket byte for byte"
t_ok eval '[ "$(grep -c "^A: FORWARDING" "$P/log")" -eq 1 ]' \
	"one FORWARDING, for the id it was offered"
t_ok t_logged "$LAB_DIR/brelay/agent3.log" "EXPORTING .* in state [a-z ]* ignored" \
	"a second EXPORTING for the id is logged and ignored"
t_ok eval '[[ $(xget "x[\"why\"]") == "dropped by the server: duplicate: a better copy appeared" ]]' \
	"status: dropped by the server, with its words"
t_ok t_logged "$LAB_DIR/brelay/agent3.log" "the server dropped the export: duplicate" \
	"the agent logs the drop"
t_ok eval '[ "$(grep -c "^A: EXPORT " "$P/log")" -eq 1 ]' \
	"and does not offer it again in this session"
t_ok eval '[ "$(t_agent_state brelay "$SOCK" siteA)" = synced ]' \
	"the session is unharmed"
agent_stop
t_done
