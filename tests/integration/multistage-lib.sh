# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the scripts that source this file
#
# tests/integration/multistage-lib.sh -- the lab shared by multistage-*.sh:
# multi-stage splicing, path vector, shortest path, failover, hop limit,
# rings (PROTOCOL.md section 7).  Sourced, not a test itself.
#
# Five sites; each is a LAN with a relay host (sshd + subsystem, and an
# agent) and a client host; LAN D has a second relay host, d2relay, which
# shares D's site id (one site id per LAN, docs/ARCHITECTURE.md).  A script
# that needs fewer sites sets MS_SITES (default "a b c d e") before
# sourcing this file: only their hosts, LANs, WAN legs and ssh aliases are
# set up.
#
#            acli (Web A)                 WAN legs (agent -> sshd):
#              |                            brelay -> arelay   siteA
#   LAN A    arelay                         crelay -> arelay   siteA
#            /    \                         drelay -> brelay   siteB
#       brelay    crelay    (LAN B, C)      erelay -> crelay   siteC
#           |        |                      drelay -> erelay   siteE
#           |     erelay    (LAN E)         d2relay -> erelay  siteE
#           |     /    \                    ring: arelay -> brelay, crelay;
#       drelay   d2relay  (LAN D, dcli)       brelay <-> crelay
#
# The scripts:
#   multistage-paths.sh (one story on the same agents, each part building
#   on the one before):
# 1. chain: Web A reaches dcli along A -> B -> D (2 hops) and answers
#    there; its path shows in "rnsplice services" (text and --json).
# 2. two paths: A -> C -> E -> D (3 hops) comes in as well: LAN D still
#    has one copy, the shorter; drelay keeps the longer as an unused
#    candidate (several remotes), d2relay holds back because drelay's copy
#    is on the LAN already (several agents on one LAN).
# 3. failover: the B-D WAN leg goes down; drelay switches to the path
#    through E, and back when the leg returns. Times go to the log.
# 4. hop limit, both sides: drelay with max-hops 1 does not get Web A;
#    brelay's subsystem with max-hops 1 does not offer it.
#   multistage-ring.sh (MS_SITES="a b c"):
# 5. ring: A, B and C spliced pairwise both ways: every LAN shows each
#    foreign service once, never its own back, and nothing changes (no
#    service events, no publications) over a quiet window of
#    MULTISTAGE_QUIET seconds (default 20; the issue asked for "a minute or
#    so", 20 s keeps CI short: any loop would churn within 2-3 s).
# 6. (with 5) gone at the origin: withdrawn everywhere, no ghost through
#    the spare path.
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

T=_http._tcp
QUIET=${MULTISTAGE_QUIET:-20}

ms_since() { # T0 (an EPOCHREALTIME) -- milliseconds since
	local now=${EPOCHREALTIME//[!0-9]/} then=${1//[!0-9]/}
	echo $(((now - then) / 1000))
}

timing() { # WHAT MS
	t_diag "time: $1: $2 ms"
}

# browse HOST -- a one-shot resolved browse of $T in HOST (lab_browse with a
# time limit: "avahi-browse -rt" may wait forever for the resolution of a
# service that went away meanwhile, seen in this test during failovers)
browse() {
	lab_exec "$1" timeout 5 avahi-browse -rpt $T 2>/dev/null
}

# copies HOST SITE NAME -- how many distinct instances HOST resolves that
# are copies of the origin service (SITE, NAME): rnsplice metadata with
# o=SITE and n=NAME.
copies() {
	browse "$1" >"$LAB_DIR/browse.$1"
	copies_in "$LAB_DIR/browse.$1" "$2" "$3"
}

copies_in() { # FILE SITE NAME -- the same, from a saved browse
	awk -F';' -v o="rnsplice=v1;o=$2;" -v n=";n=$3\"" \
		'$1 == "=" && index($0, o) && index($0, n) { print $4 }' "$1" |
		sort -u | wc -l
}

ncopies() { # HOST SITE NAME N
	[ "$(copies "$1" "$2" "$3")" -eq "$4" ]
}

# names HOST -- the distinct service instance names HOST resolves
names() {
	browse "$1" | awk -F';' '$1 == "=" { print $4 }' | sort -u
}

# addr_port HOST NAME -- "ADDR PORT" of NAME as HOST resolves it (eth0,
# IPv4); asks for up to 10 s, since a one-shot browse can come back
# without a service that is published (a busy responder's answers), and
# says what the last browse saw when it gives up.
addr_port() {
	local out n seen
	for n in $(seq 20); do
		seen=$(browse "$1")
		out=$(printf '%s\n' "$seen" | lab_browse_get "$2" eth0 IPv4 |
			head -n 1 | cut -d';' -f4,5 | tr ';' ' ')
		[ -z "$out" ] || break
		sleep 0.5
	done
	if [ -z "$out" ]; then
		printf '# addr_port %s "%s": not resolved; the last browse:\n' "$1" "$2" >&2
		printf '%s\n' "$seen" | sed 's/^/#   /' >&2
	fi
	printf '%s\n' "$out"
}
seen_at() { # HOST NAME ADDR -- one browse: for lab_wait_for
	[ "$(browse "$1" | lab_browse_get "$2" eth0 IPv4 | head -n 1 |
	    cut -d';' -f4)" = "$3" ]
}

gone() { # HOST NAME
	[ "$(browse "$1" | lab_browse_count "$2")" -eq 0 ]
}

lan_empty() { # HOST -- HOST resolves no service
	[ -z "$(names "$1")" ]
}

cli() { # HOST ARGS... -- rnsplice on HOST's agent
	lab_exec "$1" "$CLI" "${@:2}"
}

# jget HOST COMMAND EXPR [NAME] -- evaluate the Python expression EXPR
# over j, the reply of "rnsplice --json COMMAND" on HOST, with s the first
# service named NAME and n = NAME; prints the result
jget() {
	cli "$1" --json "$2" 2>/dev/null | N=${4:-} python3 -c '
import json, os, sys
j = json.load(sys.stdin)
n = os.environ.get("N")
s = None
if isinstance(j, list):
    s = next((x for x in j if x.get("name") == n), None)
print(eval(sys.argv[1]))' "$3" 2>/dev/null
}

synced() { # HOST -- every remote of HOST's agent is synced
	[ "$(jget "$1" status 'all(r["state"] == "synced" for r in j["remotes"])')" = True ]
}

# counters HOST -- "events published withdrawn" of HOST's agent
counters() {
	jget "$1" status '"%d %d %d" % (j["routing"]["events"], j["routing"]["published"], j["routing"]["withdrawn"])'
}

# --- the lab ------------------------------------------------------------------
lab_init || t_bail "lab_init failed"
dump_logs() {
	local f
	[ "$T_FAILED" -ne 0 ] || [ "${MULTISTAGE_LOGS:-0}" = 1 ] || return 0
	for f in "$LAB_DIR"/*/agent*.log; do
		[ -e "$f" ] || continue
		t_diag "--- last lines of $f"
		tail -n 40 "$f" | sed 's/^/# /'
	done
}
lab_atexit dump_logs
t_diag "lab $LAB_ID in $LAB_DIR"
t_start=$EPOCHREALTIME

MS_SITES=${MS_SITES:-a b c d e}
ms_has() { # HOST... -- true if every HOST belongs to a site of $MS_SITES
	local h
	for h; do
		case " $MS_SITES " in
		*" ${h:0:1} "*) ;;
		*) return 1 ;;
		esac
	done
}
hosts=
for h in acli arelay bcli brelay ccli crelay dcli drelay d2relay ecli erelay; do
	ms_has "$h" && hosts="$hosts $h"
done
RELAYS=
for h in $hosts; do
	case $h in *relay) RELAYS="$RELAYS $h" ;; esac
done
# shellcheck disable=SC2086  # one word per host
lab_hosts $hosts || t_bail "lab_hosts failed"
while read -r lan prefix members; do
	# shellcheck disable=SC2086
	if ms_has ${lan,,}; then
		lab_lan "$lan" "$prefix" $members || t_bail "LAN $lan"
	fi
done <<'EOF'
A 10.1.0 arelay acli
B 10.2.0 brelay bcli
C 10.3.0 crelay ccli
D 10.4.0 drelay d2relay dcli
E 10.5.0 erelay ecli
EOF
while read -r h1 h2 prefix; do
	if ms_has "$h1" "$h2"; then
		lab_wan "$h1" "$h2" "$prefix" || t_bail "WAN $h1-$h2"
	fi
done <<'EOF'
arelay brelay 10.91.0
arelay crelay 10.92.0
brelay drelay 10.93.0
crelay erelay 10.94.0
erelay drelay 10.95.0
erelay d2relay 10.96.0
brelay crelay 10.97.0
EOF
# drelay's leg to brelay (the first it got)
BD_IF=$(awk '$1 == "brelay" && $3 == "drelay" { print $4 }' "$LAB_DIR/wans")

# Each relay host's sshd runs the subsystem through a wrapper that keeps
# its log and reads a policy file of that host (hop limit test).
for h in $RELAYS; do
	site=${h:0:1}
	mkdir -p "$LAB_DIR/$h/home/.config/rnsplice"
	# one site id per LAN: d2relay shares D's
	echo "$site" >"$LAB_DIR/$h/home/.config/rnsplice/site-id"
	: >"$LAB_DIR/$h/policy.conf"
	cat >"$LAB_DIR/$h/subsys" <<EOF
#!/bin/sh
exec "$SUB" -d -f "$LAB_DIR/$h/policy.conf" 2>>"$LAB_DIR/$h/subsys.log"
EOF
	chmod +x "$LAB_DIR/$h/subsys"
	RNSPLICE_SUBSYSTEM=$LAB_DIR/$h/subsys lab_sshd "$h" || t_bail "sshd on $h"
done
while read -r cl alias srv addr; do
	if ms_has "$cl" "$srv"; then
		lab_ssh_client "$cl" "$alias" "$srv" "$addr" ||
			t_bail "ssh client configuration ($cl: $alias)"
	fi
done <<'EOF'
brelay siteA arelay 10.91.0.1
crelay siteA arelay 10.92.0.1
drelay siteB brelay 10.93.0.1
erelay siteC crelay 10.94.0.1
drelay siteE erelay 10.95.0.1
d2relay siteE erelay 10.96.0.1
arelay siteB brelay 10.91.0.2
arelay siteC crelay 10.92.0.2
brelay siteC crelay 10.97.0.2
crelay siteB brelay 10.97.0.1
EOF
# shellcheck disable=SC2086
lab_wait_avahi $hosts || t_bail "avahi"

# agent_conf HOST [max-hops N] REMOTE... -- write HOST's agent.conf
agent_conf() {
	local h=$1 r
	shift
	{
		echo "allow-root yes"
		if [ "${1:-}" = max-hops ]; then
			echo "max-hops $2"
			shift 2
		fi
		echo "types $T"
		for r; do
			printf 'remote %s {\n\tdestination %s\n}\n' "$r" "$r"
		done
	} >"$LAB_DIR/$h/agent.conf"
}

# agent_start HOST -- run HOST's agent with its agent.conf
agent_start() {
	local h=$1 n
	n=$(find "$LAB_DIR/$h" -maxdepth 1 -name 'agent*.log' | wc -l)
	t_agent "$h" "$LAB_DIR/$h/agent.pid" "$LAB_DIR/$h/agent$n.log" \
		-v -f "$LAB_DIR/$h/agent.conf"
}

agent_stop() { # HOST
	local pid
	[ -r "$LAB_DIR/$1/agent.pid" ] || return 0
	read -r pid <"$LAB_DIR/$1/agent.pid"
	lab_stop "$pid"
	rm -f "$LAB_DIR/$1/agent.pid"
}

# --- services -------------------------------------------------------------------
www=$LAB_DIR/www
mkdir -p "$www"
echo "hello from acli $LAB_ID" >"$www/index.html"
lab_http acli 8080 "$www" >/dev/null || t_bail "http server on acli"
if ! { pub_a=$(lab_publish acli "Web A" $T 8080 path=/ "note=from A") &&
	pub_b=$(lab_publish bcli "Web B" $T 8080 path=/b) &&
	pub_c=$(lab_publish ccli "Web C" $T 8080 path=/c) &&
	lab_wait_published "$pub_a" && lab_wait_published "$pub_b" &&
	lab_wait_published "$pub_c"; }; then
	t_bail "publishing the services"
fi
t_diag "time: lab ready after $(ms_since "$t_start") ms"
