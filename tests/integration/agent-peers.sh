#!/bin/bash
#
# tests/integration/agent-peers.sh -- what a server may claim in its HELLO,
# and what it may announce, against scripted fake ssh programs (no root,
# no network, no avahi):
#   - a server claiming this agent's own site id is refused, the reason is
#     in `rnsplice status` and the log, no BROWSE is sent;
#   - a server claiming the site id of another remote that is connected
#     (and publishes to the same audience) is refused the same way; nothing
#     it announces is ranked or spliced, the genuine remote keeps its
#     services; the same server as a remote of another scope is accepted;
#   - _udp services are refused with a clear message, logged once per type
#     and shown by `rnsplice services`; TCP services of the same server are
#     spliced.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded by eval
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
AGENT=$T_AGENT CLI=$T_CLI
t_require_programs "$AGENT" "$CLI"
command -v python3 >/dev/null || t_skip "python3 not installed"

dir=$(mktemp -d "${TMPDIR:-/tmp}/agent-peers.XXXXXX") || t_bail "mktemp"
chmod 0700 "$dir"
agent_pid=
# the lab's work dir is not needed, its cleanup and lab_kill are
lab_init -w || t_bail "lab_init -w failed"
cleanup() {
	if [ -n "$agent_pid" ] && lab__alive "$agent_pid"; then
		lab_kill TERM "$agent_pid" "$AGENT"
		wait "$agent_pid" 2>/dev/null
	fi
	if [ "$T_FAILED" -ne 0 ]; then
		t_diag "--- agent log"
		sed 's/^/# /' "$dir/agent.log"
	fi
	rm -rf -- "$dir"
}
lab_atexit cleanup

SELF=agentself
# The fake servers (t_fake_init): the destination picks a script; what the
# agent sends lands in $dir/DEST.in.
cat >"$dir/server" <<'EOF'
#!/bin/bash
dest=$1 in=$2
hello() { printf 'HELLO 1.0 %s subsystem relay,update maxline=16384\n' "$1"; }
svc() { # ID NAME TYPE
	printf 'ADD %s %s %s local h.local 10.9.9.9 80\n' "$1" "$2" "$3"
}
serve() { # answer pings until the agent goes
	while IFS= read -r l; do
		echo "$l" >>"$in"
		case $l in
		PING\ *) printf 'PONG %s\n' "${l#PING }" ;;
		esac
	done
}
case $dest in
selfid)
	hello "$RNSPLICE_SITE_ID"
	svc 1 Mirror _http._tcp
	serve
	;;
genuine)
	hello sharedsite
	IFS= read -r l; echo "$l" >>"$in"	# HELLO
	IFS= read -r l; echo "$l" >>"$in"	# BROWSE
	svc 1 Printer _ipp._tcp
	printf 'SYNCED\n'
	serve
	;;
impostor)
	# late, so that the genuine remote is connected first
	while ! grep -q "^BROWSE" "$FAKE_DIR/genuine.in" 2>/dev/null; do
		sleep 0.05
	done
	sleep 0.5
	hello sharedsite
	svc 1 Printer _ipp._tcp
	svc 2 Fake _http._tcp
	printf 'SYNCED\n'
	serve
	;;
udp)
	hello udpsite
	IFS= read -r l; echo "$l" >>"$in"
	IFS= read -r l; echo "$l" >>"$in"
	svc 1 Sleeper _sleep-proxy._udp
	svc 2 Sleeper2 _sleep-proxy._udp
	svc 3 Sleeper3 _Sleep-Proxy._udp
	svc 4 Time _ntp._udp
	svc 5 Web _http._tcp
	printf 'SYNCED\n'
	serve
	;;
esac
EOF
chmod +x "$dir/server"
t_fake_init "$dir" "$dir/server"

cat >"$dir/agent.conf" <<EOF
allow-root yes
ping-interval 2
scope host
listener agent	# the fake ssh has no forwards: no hand-over to it
remote selfid { }
remote genuine { }
remote impostor { }
remote udp { }
remote otherscope {
	destination genuine
	scope interface lo
}
EOF
t_ok "$AGENT" -n -f "$dir/agent.conf" "the config parses (-n)"

export RNSPLICE_SITE_ID=$SELF
t_agent_fake "$dir" -f "$dir/agent.conf" || t_bail "the agent did not start"
agent_pid=$T_AGENT_PID

logged() { t_logged "$dir/agent.log" "$1"; }
sent() { t_logged "$dir/$1.in" "$2"; }
cli() { "$CLI" -S "$dir/ctl.sock" "$@"; }
# block REMOTE -- the lines of REMOTE in rnsplice status (until the next one)
block() { cli status | awk -v r="$1" '/^[^ ]/ { p = index($0, r) == 1 } p'; }

# --- this agent's own site id
t_ok lab_wait_for 30 logged "selfid: refused: the server claims this agent's own site id $SELF; reconnecting in" \
	"a server with this agent's site id is refused and logged"
t_ok lab_wait_for 5 sent selfid "^ERROR denied " "and told so"
t_nok sent selfid "^BROWSE" "no BROWSE is sent to it"
t_ok eval 'block selfid | grep -q "last error: refused: the server claims this agent.s own site id $SELF"' \
	"rnsplice status shows why"
t_ok eval 'cli --json status | grep -q "\"name\":\"selfid\",.*\"last_error\":\"refused: the server claims this agent.s own site id"' \
	"rnsplice --json status too"

# --- another remote's site id
t_ok lab_wait_for 30 logged "impostor: refused: the server claims site id sharedsite, which remote genuine already has" \
	"a server claiming a connected remote's site id is refused"
t_ok lab_wait_for 5 sent impostor "^ERROR denied " "and told so"
t_ok eval 'block impostor | grep -q "last error: refused: the server claims site id sharedsite, which remote genuine already has"' \
	"rnsplice status shows why"
t_ok eval 'cli status | grep -q "^genuine (genuine): synced"' "the genuine remote stays synced"
t_ok eval 'cli services | grep -q "^genuine: \"Printer\" _ipp._tcp from 10.9.9.9:80"' \
	"and keeps its service"
t_nok eval 'cli services | grep -q "^impostor:"' "nothing of the impostor is kept or ranked"
t_nok logged "impostor: splicing" "nothing of it is spliced"
t_ok lab_wait_for 30 eval 'cli status | grep -q "^otherscope (genuine): synced"' \
	"the same server for another audience (scope interface lo) is accepted"
t_nok logged "otherscope: refused" "and not refused"
t_ok eval 'cli services | grep -q "^otherscope: \"Printer\" _ipp._tcp from 10.9.9.9:80"' \
	"its service is spliced for that audience"

# --- _udp
t_ok lab_wait_for 30 logged "udp: synced: 5 services announced, 1 spliced" \
	"udp: only the TCP service is spliced"
t_ok eval '[ "$(grep -c "not importing _sleep-proxy._udp services: a UDP service: rnsplice carries TCP only" "$dir/agent.log")" = 1 ]' \
	"the refusal is logged once per type (three services, two spellings, one line)"
t_ok logged "udp: not importing _ntp._udp services: a UDP service" \
	"another type gets its own line"
t_ok eval 'cli services | grep -q "^udp: \"Sleeper2\" _sleep-proxy._udp not spliced: a UDP service: rnsplice carries TCP only"' \
	"rnsplice services says why"
t_ok eval 'cli services | grep -q "^udp: \"Web\" _http._tcp from 10.9.9.9:80"' \
	"the TCP one is spliced"

t_ok lab_kill TERM "$agent_pid" "$AGENT" "the agent ($agent_pid) is sent SIGTERM"
wait "$agent_pid"
t_ok [ $? = 0 ] "SIGTERM: clean exit"
agent_pid=
t_done
