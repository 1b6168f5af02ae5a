#!/bin/bash
# The rnsplice demo: two LANs joined only by an SSH link, in network
# namespaces on this machine. A web server is published with mDNS on LAN A;
# rnsplice-agent on LAN B's relay host splices it over ssh; LAN B's client
# host finds it with avahi-browse and fetches a page from it.
#
#   sudo ./demo.sh        (installs missing Debian packages, builds, runs)
#
#  LAN A 10.1.0.0/24                 WAN 10.99.0.0/24              LAN B 10.2.0.0/24
#  asrv (web) ── arelay (sshd) ══════ ssh ══════ brelay (agent) ── bcli (browser)
set -u
cd "$(dirname "$0")"
top=$(pwd)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# avahi-browse -p writes names with \DDD decimal escapes
unescape() {
	python3 -c 'import re, sys
print(re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1))), sys.argv[1]))' "$1"
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root to build the network namespaces of the lab" >&2
	echo "         (rnsplice itself needs no root): sudo ./demo.sh" >&2
	exit 1
fi
tests/deps.sh || exit 1

say "building rnsplice"
if [ -f config.status ]; then
	builddir=$top
	make -j"$(nproc)" >/dev/null || exit 1
else
	builddir=$top/build
	[ -x configure ] || ./autogen.sh >/dev/null 2>&1 || exit 1
	mkdir -p "$builddir"
	( cd "$builddir" &&
	  { [ -f config.status ] || "$top/configure" -q; } &&
	  make -j"$(nproc)" >/dev/null ) || exit 1
fi
export top_builddir=$builddir
export RNSPLICE_SUBSYSTEM=$builddir/subsystem/rnsplice-subsystem
agent=$builddir/agent/rnsplice-agent
cli=$builddir/agent/rnsplice
echo "built in $builddir"

# shellcheck source=tests/lab/lab.sh
. "$top/tests/lab/lab.sh"
lab_init || exit 1
say "building the lab: hosts asrv, arelay | brelay, bcli; each with its own dbus and avahi-daemon"
lab_topology_basic || exit 1
echo "lab $LAB_ID ready in $LAB_DIR (no route between LAN A and LAN B)"

say "LAN A: a web server on asrv, announced as \"Lab web server\" (_http._tcp)"
mkdir -p "$LAB_DIR/www"
printf '<h1>Hello from LAN A</h1>\n<p>served by asrv, 10.1.0.2</p>\n' \
    >"$LAB_DIR/www/index.html"
lab_http asrv 8080 "$LAB_DIR/www" >/dev/null || exit 1
lab_publish asrv "Lab web server" _http._tcp 8080 path=/ >/dev/null || exit 1
lab_wait_for 10 lab_seen arelay _http._tcp "Lab web server" || exit 1
lab_browse arelay _http._tcp | grep '^=' | grep 'Lab.032web' | grep IPv4 | head -1 |
    awk -F';' '{printf "  seen on LAN A (arelay): at %s port %s\n", $8, $9}'

say "LAN B before splicing: avahi-browse on bcli"
if lab_browse bcli _http._tcp | grep -q 'Lab web server'; then
	echo "  unexpected: already visible on LAN B" >&2
	exit 1
fi
echo "  nothing: LAN B cannot see LAN A"

say "brelay: rnsplice-agent -d siteA _http._tcp   (siteA = arelay over ssh, from ~/.ssh/config)"
lab_bg brelay "$LAB_DIR/agent.pid" "$agent" -d -R siteA _http._tcp \
    >"$LAB_DIR/agent.log" 2>&1
read -r agent_pid <"$LAB_DIR/agent.pid"

say "LAN B after splicing: avahi-browse -r on bcli"
t0=$SECONDS
if ! lab_wait_for 20 lab_seen bcli _http._tcp "Lab web server (siteA)"; then
	echo "the spliced service did not appear on LAN B; agent log:" >&2
	tail -n 30 "$LAB_DIR/agent.log" >&2
	exit 1
fi
line=$(lab_browse bcli _http._tcp | grep '^=' | grep 'siteA' | grep IPv4 | head -1)
name=$(unescape "$(echo "$line" | cut -d';' -f4)")
addr=$(echo "$line" | cut -d';' -f8)
port=$(echo "$line" | cut -d';' -f9)
txt=$(echo "$line" | cut -d';' -f10-)
printf '  found "%s" at %s port %s (within %ds)\n  TXT %s\n' \
    "$name" "$addr" "$port" $((SECONDS - t0)) "$txt"
echo "  (10.2.0.1 is brelay: the service is announced under the relay's own address)"

say "bcli: curl http://$addr:$port/"
if ! page=$(lab_exec bcli curl -sS --max-time 10 "http://$addr:$port/"); then
	echo "fetch failed" >&2
	exit 1
fi
printf '%s\n' "$page" | sed 's/^/  | /'

say "brelay: rnsplice status; rnsplice services"
lab_exec brelay "$cli" status | sed 's/^/  /'
lab_exec brelay "$cli" services | sed 's/^/  /'

say "done: a web server on LAN A was found and used from LAN B through ssh only"
if [ -n "${LAB_KEEP:-}" ]; then
	echo "(agent log: $LAB_DIR/agent.log)"
else
	echo "(LAB_KEEP=1 ./demo.sh keeps the lab's logs, the agent's among them)"
fi
lab_stop "$agent_pid" >/dev/null 2>&1
exit 0
