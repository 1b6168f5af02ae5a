#!/bin/bash
#
# tests/integration/hub.sh -- a hub: a host with sshd and
# avahi-daemon but no LAN of its own, and two sites that can only dial
# out to it. Each site's agent exports its LAN's web server to the hub and
# imports what the hub has; the hub's subsystem accepts exports on the
# loopback only ("accept type _http._tcp interface lo") and offers what is
# published there ("allow address 127.0.0.0/8").
#
#   acli -- LAN A -- arelay (agent) --WAN--> hub <--WAN-- crelay (agent) -- LAN C -- ccli
#
# 1. Web A shows on LAN C and Web C on LAN A, each exactly once, each
#    with its path through the hub (o=a;p=a,h,c and o=c;p=c,h,a), and
#    neither comes back to its own LAN;
# 2. real clients use them: curl on ccli fetches acli's page, curl on acli
#    fetches ccli's, byte for byte;
# 3. A's agent stops: Web A leaves LAN C (Web C leaves LAN A too: A's
#    agent published it), C's own export stays;
# 4. A's agent starts again: Web A is back on LAN C at the same address
#    and port, and works;
# 5. A's link drops: Web A leaves LAN C once the hub's subsystem calls A's
#    agent lost (3 of its 2 s ping-idle periods); the time is logged.
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
# $LAB_DIR/browse.HOST for the checks that follow
browse() {
	lab_exec "$1" timeout 5 avahi-browse -rpt $T 2>/dev/null >"$LAB_DIR/browse.$1"
}

# found HOST SITE NAME -- the lines of HOST's last browse (eth0) that are
# copies of (SITE, NAME): metadata o=SITE, n=NAME
found() {
	awk -F';' -v o="rnsplice=v1;o=$2;" -v n=";n=$3\"" \
		'$1 == "=" && $2 == "eth0" && index($0, o) && index($0, n)' \
		"$LAB_DIR/browse.$1"
}

# ncopies HOST SITE NAME N -- HOST resolves N distinct instances that are
# copies of (SITE, NAME) (browsing afresh)
ncopies() {
	browse "$1"
	[ "$(found "$1" "$2" "$3" | cut -d';' -f4 | sort -u | wc -l)" -eq "$4" ]
}

# url HOST SITE NAME -- http://ADDRESS:PORT of that copy (IPv4), from the
# last browse; txt: its whole line
url() {
	found "$@" | awk -F';' '$3 == "IPv4" { print "http://" $8 ":" $9; exit }'
}

txt() {
	found "$@" | awk -F';' '$3 == "IPv4" { print; exit }'
}

same_body() { # HOST URL FILE
	lab_exec "$1" curl -sS --max-time 20 -o - "$2" | cmp -s - "$3"
}

# forwarding HOST -- HOST's agent has one export, forwarding
forwarding() {
	[ "$(lab_exec "$1" "$CLI" -S "$SOCK" --json services 2>/dev/null |
		"$PY" -c '
import json, sys
print(sum(1 for s in json.load(sys.stdin)
    if s.get("export") and s["state"] == "forwarding"))' 2>/dev/null)" = 1 ]
}

agent_start() { # HOST N
	t_agent "$1" "$LAB_DIR/$1/agent.pid" "$LAB_DIR/$1/agent$2.log" -v \
		-f "$LAB_DIR/$1/agent.conf"
}

agent_stop() { # HOST
	local pid
	read -r pid <"$LAB_DIR/$1/agent.pid"
	lab_stop "$pid"
}

lab_init || t_bail "lab_init failed"
dump_logs() {
	local f
	[ "$T_FAILED" -ne 0 ] || return 0
	for f in "$LAB_DIR"/[ac]relay/agent*.log "$LAB_DIR"/hub/subsys.log; do
		[ -e "$f" ] || continue
		t_diag "--- last lines of $f"
		tail -n 40 "$f" | sed 's/^/# /'
	done
}
lab_atexit dump_logs
t_diag "lab $LAB_ID in $LAB_DIR"

lab_hosts acli arelay hub crelay ccli || t_bail "lab_hosts failed"
lab_lan A 10.1.0 arelay acli || t_bail "LAN A"
lab_lan C 10.3.0 crelay ccli || t_bail "LAN C"
lab_wan hub arelay 10.91.0 || t_bail "WAN A"
lab_wan hub crelay 10.92.0 || t_bail "WAN C"
for h in arelay hub crelay; do
	mkdir -p "$LAB_DIR/$h/home/.config/rnsplice"
	echo "${h:0:1}" >"$LAB_DIR/$h/home/.config/rnsplice/site-id"
done
# the hub: exports published on the loopback only, and offered from there
cat >"$LAB_DIR/hub/subsystem.conf" <<EOF
accept type $T interface lo
allow address 127.0.0.0/8
EOF
cat >"$LAB_DIR/hub/subsys" <<EOF
#!/bin/sh
exec "$SUB" -d -f "$LAB_DIR/hub/subsystem.conf" 2>>"$LAB_DIR/hub/subsys.log"
EOF
chmod +x "$LAB_DIR/hub/subsys"
RNSPLICE_SUBSYSTEM=$LAB_DIR/hub/subsys lab_sshd hub || t_bail "sshd on the hub"
lab_ssh_client arelay hub hub 10.91.0.1 || t_bail "ssh client on arelay"
lab_ssh_client crelay hub hub 10.92.0.1 || t_bail "ssh client on crelay"
lab_wait_avahi acli arelay hub crelay ccli || t_bail "avahi"

for s in a c; do
	mkdir -p "$LAB_DIR/www$s"
	echo "hello from ${s}cli $LAB_ID" >"$LAB_DIR/www$s/index.html"
	head -c 1M /dev/urandom >"$LAB_DIR/www$s/blob.bin"
	lab_http "${s}cli" 8080 "$LAB_DIR/www$s" >/dev/null || t_bail "http on ${s}cli"
	pub=$(lab_publish "${s}cli" "Web ${s^^}" $T 8080 path=/) &&
		lab_wait_published "$pub" || t_bail "publishing Web ${s^^}"
	# ping-idle 2: the hub calls a silent agent lost after 3 x 2 s
	cat >"$LAB_DIR/${s}relay/agent.conf" <<EOF
allow-root yes
ping-interval 2
ping-idle 2
types $T
remote hub {
	destination hub
	export $T
}
EOF
done

t0=$EPOCHREALTIME
agent_start arelay 1
agent_start crelay 1
t_ok lab_wait_for 20 forwarding arelay "A's agent exports Web A to the hub"
t_ok lab_wait_for 20 forwarding crelay "C's agent exports Web C to the hub"

# --- 1. each on the other's LAN, once -------------------------------------
t_ok lab_wait_for 20 ncopies ccli a "Web A" 1 "Web A is on LAN C"
t_ok lab_wait_for 20 ncopies acli c "Web C" 1 "Web C is on LAN A"
t_diag "time: agents started -> both directions resolved: $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms"
t_ok eval '[[ $(txt ccli a "Web A") == *"rnsplice=v1;o=a;p=a,h,c;"* ]]' \
	"Web A on LAN C came a -> hub -> c"
t_ok eval '[[ $(txt acli c "Web C") == *"rnsplice=v1;o=c;p=c,h,a;"* ]]' \
	"Web C on LAN A came c -> hub -> a"
t_ok eval '[ -z "$(found acli a "Web A")" ]' "Web A does not come back to LAN A"
t_ok eval '[ -z "$(found ccli c "Web C")" ]' "Web C does not come back to LAN C"
t_ok eval '[ "$(lab_exec crelay "$CLI" -S "$SOCK" --json services |
	"$PY" -c "import json,sys; print(sum(1 for s in json.load(sys.stdin) if s.get(\"export\")))")" = 1 ]' \
	"C's agent exports only its own service, not the copy it imported"

# --- 2. real clients -------------------------------------------------------
ua=$(url ccli a "Web A")
uc=$(url acli c "Web C")
t_diag "Web A on LAN C: $ua; Web C on LAN A: $uc"
t_ok same_body ccli "$ua/index.html" "$LAB_DIR/wwwa/index.html" \
	"curl on ccli gets acli's page through the hub"
t_ok same_body ccli "$ua/blob.bin" "$LAB_DIR/wwwa/blob.bin" \
	"... and 1 MiB byte for byte"
t_ok same_body acli "$uc/index.html" "$LAB_DIR/wwwc/index.html" \
	"curl on acli gets ccli's page through the hub"
t_ok same_body acli "$uc/blob.bin" "$LAB_DIR/wwwc/blob.bin" \
	"... and 1 MiB byte for byte"

# --- 3. A's agent stops -----------------------------------------------------
agent_stop arelay
t_ok lab_wait_for 10 ncopies ccli a "Web A" 0 "A's agent stopped: Web A leaves LAN C"
t_ok lab_wait_for 5 ncopies acli c "Web C" 0 "and Web C leaves LAN A (A's agent published it)"
t_ok forwarding crelay "C's export is unaffected"

# --- 4. A's agent starts again ----------------------------------------------
agent_start arelay 2
t_ok lab_wait_for 20 ncopies ccli a "Web A" 1 "A's agent restarted: Web A is back on LAN C"
t_ok eval '[ "$(url ccli a "Web A")" = "$ua" ]' "at the same address and port ($ua)"
t_ok same_body ccli "$ua/index.html" "$LAB_DIR/wwwa/index.html" "and it works"

# --- 5. A's link drops ------------------------------------------------------
t0=$EPOCHREALTIME
lab_exec arelay ip link set wan0 down
t_ok lab_wait_for 30 ncopies ccli a "Web A" 0 "A's link dropped: Web A leaves LAN C"
t_diag "time: A's link down -> Web A gone from LAN C: $(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 )) ms (the hub's bound: 3 x 2 s, plus avahi's second)"
t_ok forwarding crelay "C's export is unaffected"
lab_exec arelay ip link set wan0 up
agent_stop arelay
agent_stop crelay
t_done
