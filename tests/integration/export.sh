#!/bin/bash
#
# tests/integration/export.sh -- export end to end: only the
# agent's side can reach the other side's sshd (brelay dials arelay; brelay
# runs no sshd), and a service of the agent's LAN (bcli's "Web B") is
# offered to arelay's subsystem over the agent's own session.
#
#   asrv -- LAN A -- arelay (sshd, subsystem) <-WAN-- brelay (agent) -- LAN B -- bcli
#
# 1. the subsystem's default policy accepts nothing: the export is refused
#    (DROPPED denied), shown in "rnsplice services" and --json, and nothing
#    appears on LAN A;
# 2. with "accept type _http._tcp" (a new session): asrv finds Web B
#    (avahi-browse -r) at arelay's LAN address, with the splice metadata,
#    and fetches its pages byte for byte (curl);
# 2b. SIGHUP with a rule that no longer matches withdraws it, without a new
#    session; exported again, it comes back on the same port;
# 3. the agent stops: the service leaves LAN A;
# 4. the agent starts again: it comes back on the same port, and works;
# 5. sshd forbids the forward (AllowStreamLocalForwarding no): the export
#    is refused with ssh's words and nothing is published.
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
SUB=$RNSPLICE_SUBSYSTEM
[ -x "$AGENT" ] || t_skip "agent/rnsplice-agent not built"
[ -x "$SUB" ] || t_skip "no subsystem at $SUB"
command -v curl >/dev/null || t_skip "curl not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"
# the interpreter itself: a wrapper (pyenv's shim) may take a second a call
PY=$(python3 -c 'import sys; print(sys.executable)') || t_bail "python3 does not run"

T=_http._tcp
SOCK=/run/rnsplice/agent.sock

# browse HOST -- a one-shot resolved browse of $T (time-limited), kept in
# $LAB_DIR/browse for the checks that follow
browse() {
	lab_exec "$1" timeout 5 avahi-browse -rpt $T 2>/dev/null |
		tee "$LAB_DIR/browse"
}

# addr_port NAME -- "ADDRESS PORT" of NAME in the last browse (eth0, IPv4)
addr_port() {
	lab_browse_get "$1" eth0 IPv4 <"$LAB_DIR/browse" | head -n 1 |
		cut -d';' -f4,5 | tr ';' ' '
}

seen_at() { # HOST NAME ADDR
	browse "$1" >/dev/null
	[ "$(addr_port "$2" | cut -d' ' -f1)" = "$3" ]
}

gone() { # HOST NAME
	[ "$(browse "$1" | lab_browse_count "$2")" -eq 0 ]
}

same_body() { # HOST URL FILE
	lab_exec "$1" curl -sS --max-time 20 -o - "$2" | cmp -s - "$3"
}

# xsnap -- "rnsplice --json services" of brelay's agent, kept for xget
xsnap() {
	lab_exec brelay "$CLI" -S "$SOCK" --json services >"$LAB_DIR/services" 2>/dev/null
}

# xget EXPR -- evaluate the Python expression EXPR over x, the export of
# Web B in the last xsnap (None if there is none), and j, the whole reply
xget() {
	"$PY" -c '
import json, sys
j = json.load(open(sys.argv[2]))
x = next((s for s in j if s.get("export") and s.get("name") == "Web B"), None)
print(eval(sys.argv[1]))' "$1" "$LAB_DIR/services" 2>/dev/null
}

x_state() { # STATE
	xsnap
	[ "$(xget 'x["state"] if x else None')" = "$1" ]
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
	for f in "$LAB_DIR"/brelay/agent*.log "$LAB_DIR"/arelay/subsys.log; do
		[ -e "$f" ] || continue
		t_diag "--- last lines of $f"
		tail -n 40 "$f" | sed 's/^/# /'
	done
}
lab_atexit dump_logs
t_diag "lab $LAB_ID in $LAB_DIR"

# lab_topology_basic, with the subsystem run through a wrapper that keeps
# its log and reads this test's policy file
lab_hosts asrv arelay brelay bcli || t_bail "lab_hosts failed"
lab_lan A 10.1.0 arelay asrv || t_bail "LAN A"
lab_lan B 10.2.0 brelay bcli || t_bail "LAN B"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
for h in arelay brelay; do
	mkdir -p "$LAB_DIR/$h/home/.config/rnsplice"
	echo "${h:0:1}" >"$LAB_DIR/$h/home/.config/rnsplice/site-id"
done
POLICY=$LAB_DIR/arelay/subsystem.conf
: >"$POLICY"
cat >"$LAB_DIR/arelay/subsys" <<EOF
#!/bin/sh
exec "$SUB" -d -f "$POLICY" 2>>"$LAB_DIR/arelay/subsys.log"
EOF
chmod +x "$LAB_DIR/arelay/subsys"
RNSPLICE_SUBSYSTEM=$LAB_DIR/arelay/subsys lab_sshd arelay || t_bail "sshd on arelay"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
lab_wait_avahi asrv arelay brelay bcli || t_bail "avahi"

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello from bcli $LAB_ID" >"$www/index.html"
head -c 4M /dev/urandom >"$www/big.bin"
lab_http bcli 8080 "$www" >/dev/null || t_bail "http server on bcli"
pub=$(lab_publish bcli "Web B" $T 8080 path=/ "note=from B") &&
	lab_wait_published "$pub" || t_bail "publishing Web B"

# the agent imports nothing here: only what it exports matters
cat >"$LAB_DIR/brelay/agent.conf" <<EOF
allow-root yes
types _ipp._tcp
remote siteA {
	destination siteA
	export $T name "Web *"
}
EOF
t_ok lab_exec brelay "$AGENT" -n -v -f "$LAB_DIR/brelay/agent.conf" \
	"rnsplice-agent -n accepts the export rule"
t_ok eval 'lab_exec brelay "$AGENT" -n -v -f "$LAB_DIR/brelay/agent.conf" 2>&1 |
	grep -q "export _http._tcp name \"Web \*\""' "-n -v prints it"

# --- 1. the default policy refuses ------------------------------------------
agent_start 1
t_ok t_wait_state 20 brelay "$SOCK" siteA synced "the agent's session is up"
t_ok lab_wait_for 20 x_state refused "the export of Web B is refused"
t_ok eval '[[ $(xget "x[\"why\"]") == *"denied"*"no accept rule"* ]]' \
	"... by the server's policy: $(xget 'x["why"]')"
t_ok eval 'lab_exec brelay "$CLI" -S "$SOCK" services |
	grep "export \"Web B\"" | grep -q "refused by the server: denied"' \
	"rnsplice services shows the refusal"
t_ok eval 'lab_exec brelay "$CLI" -S "$SOCK" status | grep -q "exports: 0 forwarding.*1 refused"' \
	"rnsplice status counts it"
t_ok t_logged "$LAB_DIR/brelay/agent1.log" "Web B.*not exported: the server refuses: denied" \
	"the agent logs the refusal"
t_ok gone asrv "Web B" "nothing of LAN B is published on LAN A"
agent_stop

# --- 2. accepted: found and used on LAN A -----------------------------------
echo "accept type $T" >"$POLICY"
t0=$EPOCHREALTIME
agent_start 2
t_ok lab_wait_for 20 x_state forwarding "the export of Web B is forwarding"
NAME=$(xget 'x["published_as"]')
t_diag "published as \"$NAME\""
t_ok lab_wait_for 15 seen_at asrv "$NAME" 10.1.0.1 \
	"asrv resolves \"$NAME\" at arelay's 10.1.0.1"
t_diag "time: agent start -> resolved on asrv: $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms"
read -r addr port <<<"$(addr_port "$NAME")"
t_ok eval '[ "$(xget "x[\"port\"]")" = "$port" ]' "status shows the port ($port)"
txt=$(lab_browse_get "$NAME" eth0 IPv4 <"$LAB_DIR/browse" | head -n 1 | cut -d';' -f6-)
t_ok eval '[[ $txt == *\"path=/\"* && $txt == *\"rnsplice=v1\;o=b\;p=b,a\;n=Web\ B\"* ]]' \
	"TXT passed through, metadata from site b through a ($txt)"
t_ok same_body asrv "http://$addr:$port/index.html" "$www/index.html" \
	"curl on asrv through the export returns bcli's page"
t_ok same_body asrv "http://$addr:$port/big.bin" "$www/big.bin" \
	"... and 4 MiB byte for byte"
t_nok lab_exec asrv curl -s --max-time 3 -o /dev/null "http://10.99.0.1:$port/" \
	"the export does not listen on the WAN leg"

# --- 2b. SIGHUP: a rule that no longer matches withdraws it, and back -------
conf_names() { # PATTERN
	sed -i "s/export $T name .*/export $T name \"$1\"/" "$LAB_DIR/brelay/agent.conf"
}
hup() {
	local pid
	read -r pid <"$LAB_DIR/agent.pid"
	lab_kill HUP "$pid" "$AGENT"
}
conf_names "Printer *"
hup
t_ok lab_wait_for 10 gone asrv "$NAME" "SIGHUP, Web B no longer exported: it leaves LAN A"
t_ok eval 'xsnap && [ "$(xget x)" = None ]' "and is no longer listed"
t_ok eval '[ "$(t_agent_state brelay "$SOCK" siteA)" = synced ]' "the session stays up"
conf_names "Web *"
hup
t_ok lab_wait_for 15 seen_at asrv "$NAME" 10.1.0.1 "SIGHUP, exported again: back on LAN A"
t_ok eval '[ "$(addr_port "$NAME" | cut -d" " -f2)" = "$port" ]' \
	"on the same port ($port)"

# --- 3. the agent stops: withdrawn -------------------------------------------
agent_stop
t_ok lab_wait_for 10 gone asrv "$NAME" "agent stopped: \"$NAME\" leaves LAN A"

# --- 4. back on the same port ------------------------------------------------
agent_start 3
t_ok lab_wait_for 20 seen_at asrv "$NAME" 10.1.0.1 "agent restarted: \"$NAME\" is back"
read -r addr2 port2 <<<"$(addr_port "$NAME")"
t_ok eval '[ "$port2" = "$port" ]' "on the same port ($port2, was $port)"
t_ok same_body asrv "http://$addr2:$port2/index.html" "$www/index.html" \
	"and it works"
agent_stop

# --- 5. sshd forbids the forward: refused, never half-working ----------------
t_ok lab_wait_for 10 gone asrv "$NAME" "agent stopped again: \"$NAME\" gone"
echo "AllowStreamLocalForwarding no" >"$LAB_DIR/nofwd.conf"
lab_sshd_stop arelay || t_bail "stopping arelay's sshd"
RNSPLICE_SUBSYSTEM=$LAB_DIR/arelay/subsys lab_sshd arelay "$LAB_DIR/nofwd.conf" ||
	t_bail "sshd on arelay without stream-local forwarding"
agent_start 4
t_ok lab_wait_for 20 x_state refused \
	"with AllowStreamLocalForwarding no the export is refused"
t_ok eval '[[ $(xget "x[\"why\"]") == "refused by sshd: remote port forwarding failed"* ]]' \
	"... by sshd, in ssh's words: $(xget 'x["why"]')"
t_ok t_logged "$LAB_DIR/brelay/agent4.log" 'ssh says "remote port forwarding failed' \
	"the agent logs ssh's words"
port_closed() { ! lab_exec asrv curl -s --max-time 2 -o /dev/null "http://10.1.0.1:$port/"; }
t_ok lab_wait_for 10 port_closed "the server's listener is closed"
t_ok gone asrv "$NAME" "nothing is published on LAN A"
agent_stop
t_done
