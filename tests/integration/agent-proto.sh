#!/bin/bash
#
# tests/integration/agent-proto.sh -- rnsplice-agent's protocol client and
# ssh handling against scripted fake ssh programs: login failure reported
# in ssh's words, version mismatch, malformed and hostile lines, duplicate
# and unknown ids, the service cap, loop control, PING/PONG and the dead
# peer timeouts. No root, no network, no avahi: the agent's D-Bus address
# points nowhere (it publishes nothing) and it listens on 127.0.0.1 only.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
AGENT=$T_AGENT
t_require_programs "$AGENT"
command -v python3 >/dev/null || t_skip "python3 not installed"

dir=$(mktemp -d "${TMPDIR:-/tmp}/agent-proto.XXXXXX") || t_bail "mktemp"
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
# each fake server is a site of its own: an agent refuses a second
# connected server with the same site id
hello() { printf 'HELLO 1.0 fake%s subsystem relay,update maxline=16384\n' "$dest"; }
svc() { # ID NAME [TXT...]
	local id=$1 name=$2
	shift 2
	printf 'ADD %s %s _http._tcp local h.local 10.9.9.9 80' "$id" "$name"
	[ "$#" -eq 0 ] || printf ' %s' "$@"
	printf '\n'
}
case $dest in
denied)
	echo "Warning: Permanently added '10.9.9.9' (ED25519) to the list of known hosts." >&2
	echo "alice@10.9.9.9: Permission denied (publickey)." >&2
	exit 255
	;;
oldproto)
	printf 'HELLO 2.0 fakesrv subsystem %%\n'
	cat >>"$in"
	;;
hostile)
	hello
	IFS= read -r l; echo "$l" >>"$in"	# HELLO
	IFS= read -r l; echo "$l" >>"$in"	# BROWSE
	svc 1 One path=/
	svc 1 Dup
	printf 'REMOVE 5\n'
	printf 'UPDATE 6 X _http._tcp local h.local 10.9.9.9 80\n'
	printf 'BOGUS stuff\n'
	printf 'ADD x y\n'
	printf 'ADD 7 bad%%zz _http._tcp local h 10.9.9.9 80\n'
	head -c 20000 /dev/zero | tr '\0' 'A'; printf '\n'
	svc 2 Looped "rnsplice=v1;o=abc;p=abc,$RNSPLICE_SITE_ID"
	svc 3 Three
	svc 4 Four
	printf 'UPDATE 1 One _http._tcp local h.local 10.9.9.8 81 path=/new\n'
	printf 'SYNCED\n'
	printf 'PING tok42\n'
	printf 'REMOVE 3\n'
	# answer pings from now on
	while IFS= read -r l; do
		echo "$l" >>"$in"
		case $l in
		PING\ *) printf 'PONG %s\n' "${l#PING }" ;;
		esac
	done
	;;
lowport)
	hello
	IFS= read -r l; echo "$l" >>"$in"	# HELLO
	IFS= read -r l; echo "$l" >>"$in"	# BROWSE
	svc 1 Low
	printf 'ADD 2 Busy _http._tcp local h.local 10.9.9.9 %s\n' "$FAKE_BUSY_PORT"
	printf 'SYNCED\n'
	while IFS= read -r l; do
		echo "$l" >>"$in"
		case $l in
		PING\ *) printf 'PONG %s\n' "${l#PING }" ;;
		esac
	done
	;;
beat | carrier)
	# protocol 1.2: BEATs by itself, never a PONG, until the test
	# says stop
	printf 'HELLO 1.2 fake%s subsystem relay,update,beat maxline=16384\n' "$dest"
	IFS= read -r l; echo "$l" >>"$in"	# HELLO
	IFS= read -r l; echo "$l" >>"$in"	# BROWSE
	svc 1 Beating
	printf 'SYNCED\n'
	(
		while [ ! -e "$in.stop" ]; do
			printf 'BEAT\n' || exit 0
			sleep 0.5
		done
	) &
	cat >>"$in"
	;;
silent | nomux)
	hello
	cat >>"$in"
	;;
mute)
	cat >>"$in"
	;;
esac
EOF
chmod +x "$dir/server"
FAKE_NOMUX="denied nomux"
FAKE_MOVING="carrier"
t_fake_init "$dir" "$dir/server"

cat >"$dir/agent.conf" <<EOF
allow-root yes
ping-interval 1
scope host
listener agent	# the fake ssh has no forwards: no hand-over to it
remote denied { }
remote oldproto { }
remote hostile {
	max-services 3
}
remote silent { }
remote beat { }
remote carrier { }
remote mute { }
remote nomux { }
remote lowport {
	port-policy original
}
EOF

# a port the agent cannot have: held by this test on 127.0.0.1
python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
sys.stdout.close()
time.sleep(600)' >"$dir/busy.port" &
busy_pid=$!
# lab_cleanup ends it
lab_record "$busy_pid" || t_bail "the port holder did not start"
for _ in $(seq 1 50); do
	[ -s "$dir/busy.port" ] && break
	sleep 0.1
done
FAKE_BUSY_PORT=$(cat "$dir/busy.port")
[ -n "$FAKE_BUSY_PORT" ] || t_bail "no busy port"
export FAKE_BUSY_PORT
# Ports below this need CAP_NET_BIND_SERVICE; as root the agent runs
# without it, so that it meets the original port 80 as a user would.
unpriv_start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
T_AGENT_WRAP=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	T_AGENT_WRAP=(setpriv --inh-caps=-net_bind_service
	    --bounding-set=-net_bind_service --)
fi

t_ok "$AGENT" -n -f "$dir/agent.conf" "the config parses (-n)"

export RNSPLICE_SITE_ID=$SELF
# fd 7, not close-on-exec, is the agent's from its start: ssh must not get
# it (extra_fds below)
exec 7<"$dir/agent.conf"
t_agent_fake "$dir" -f "$dir/agent.conf" || t_bail "the agent did not start"
exec 7<&-
agent_pid=$T_AGENT_PID

logged() { t_logged "$dir/agent.log" "$1"; }
sent() { t_logged "$dir/$1.in" "$2"; }

# login failure, in ssh's own words, then a backoff
t_ok lab_wait_for 5 logged \
	"denied: ssh exited 255: alice@10.9.9.9: Permission denied (publickey); reconnecting in" \
	"a login failure is reported with ssh's words"

# protocol version
t_ok lab_wait_for 5 logged "oldproto: the subsystem speaks protocol 2.0" \
	"a major version mismatch is refused"
t_ok lab_wait_for 5 sent oldproto "^ERROR version " "and answered with ERROR version"

# what the agent says first
t_ok lab_wait_for 5 sent hostile "^HELLO 1.2 $SELF agent update,export maxline=16384 maxhops=4 ping=1 beat=1 idle=2$" \
	"the agent's HELLO (ping=, beat=: its ping-interval; idle=: its ping-idle)"
t_ok lab_wait_for 5 sent hostile "^BROWSE \*$" "BROWSE * without types"

# the hostile subsystem
t_ok lab_wait_for 5 logged "hostile: ADD 1: id already in use" "duplicate id: logged, ignored"
t_ok logged "hostile: REMOVE 5: unknown id" "REMOVE of an unknown id"
t_ok logged "hostile: UPDATE 6: unknown id" "UPDATE of an unknown id"
t_ok logged 'hostile: bad line from the subsystem ignored: unknown verb "BOGUS"' \
	"unknown verb"
t_ok sent hostile "^ERROR verb " "answered with ERROR verb"
t_ok logged "hostile: bad line from the subsystem ignored: ADD: " \
	"a malformed ADD is logged with the parser's reason"
t_ok logged "hostile: bad line from the subsystem ignored: ADD: field 2 (name)" \
	"a bad escape is logged with the field"
t_ok logged "hostile: line over 16384 bytes from the subsystem discarded" \
	"an over-long line is discarded"
t_ok logged 'hostile: not importing "Looped" (_http._tcp): loop' \
	"a service that crossed this site is not imported"
t_ok logged "hostile: ADD 4: more than 3 services, ignored (max-services)" \
	"the max-services cap"
t_ok logged 'hostile: "One" (_http._tcp) moved to 10.9.9.8:81' "UPDATE re-targets"
t_ok lab_wait_for 5 sent hostile "^PONG tok42$" "PING answered with PONG"
t_ok logged 'hostile: withdrawing "Three" (_http._tcp): gone at the server' \
	"REMOVE withdraws"
t_ok logged "hostile: synced: 3 services announced, 2 spliced" "SYNCED summary"

# a subsystem that stops answering, and one that never greets
t_ok lab_wait_for 5 sent silent "^PING 1$" "the agent pings"
t_ok lab_wait_for 6 logged "silent: no answer from the subsystem for 3 s; reconnecting in" \
	"a silent subsystem is declared dead after 3 intervals"
t_ok lab_wait_for 6 logged "mute: no greeting from the subsystem after 3 s; reconnecting in" \
	"a subsystem that never greets is given up"

# The keepalive of protocol 1.2 (PROTOCOL.md section 5): a subsystem with
# the beat feature sends BEATs and answers no PING here; the agent pings
# it only after ping-idle (2 s) of its own silence and lives on the BEATs.
# (The fakes above greet as 1.0: the old PING/PONG keepalive, kept.)
nbeatpings() { grep -c '^PING ' "$dir/beat.in"; }
t_ok lab_wait_for 5 logged "beat: connected to site fakebeat (protocol 1.2, relay, beat)" \
	"the agent takes the subsystem's BEATs for its keepalive"
t_ok logged "hostile: connected to site fakehostile (protocol 1.0, relay) in" \
	"... and keeps PING/PONG with a 1.0 subsystem"
t_ok lab_wait_for 5 logged "beat: synced: 1 service announced" "beat: synced"
t_ok lab_wait_for 15 eval '[ "$(nbeatpings)" -ge 3 ]' \
	"the agent pings a subsystem that BEATs (three PINGs, none answered)"
t_nok logged "beat: no answer from the subsystem" \
	"... and keeps the session on the BEATs alone, past its ping-timeout"
t_nok sent beat "^ERROR " "... and takes BEAT as a valid line"
: >"$dir/beat.in.stop"
t_ok lab_wait_for 10 logged "beat: no answer from the subsystem for 3 s; reconnecting in" \
	"once the BEATs stop, the session is lost after ping-timeout"

# A master carrying data (a transfer through its own listener, which the
# agent does not count) may hold the subsystem's line back: while its byte
# counts grow the session is kept, up to three times ping-timeout, and
# given up once they stand still (remote.c master_moving).
nmoved() { cat "$dir/carrier.moved" 2>/dev/null | wc -l; }
t_ok lab_wait_for 5 logged "carrier: synced: 1 service announced" \
	"carrier: synced"
: >"$dir/carrier.moving"
: >"$dir/carrier.in.stop"
t_ok lab_wait_for 20 eval '[ "$(nmoved)" -ge 18 ]' \
	"carrier: the BEATs stop and the fake master moves bytes (18 x 8 kB, 3.6 s)"
t_nok logged "carrier: no answer from the subsystem" \
	"... the session is kept past ping-timeout while the master moves bytes"
rm -f "$dir/carrier.moving"
t_ok lab_wait_for 15 logged "carrier: no answer from the subsystem for 3 s; reconnecting in" \
	"... and given up once the master stands still"

# ssh that could not create its control socket is no use
t_ok lab_wait_for 5 logged "nomux: ssh runs without its control socket: .*nomux-.*: connect: No such file or directory; reconnecting in" \
	"a master without a control socket is detected"

# the control socket answers while all this goes on
if [ -x "$T_CLI" ]; then
	t_ok eval '"$T_CLI" -S "$dir/ctl.sock" --json status |
		grep -q "\"name\":\"denied\",.*\"last_error\":\"ssh exited 255"' \
		"rnsplice status shows the last error"
	t_ok eval '"$T_CLI" -S "$dir/ctl.sock" services |
		grep -q "not spliced: loop"' "rnsplice services shows skipped ones"

	# port-policy original: why a service got another port
	t_ok lab_wait_for 5 logged "lowport: synced: 2 services announced, 2 spliced" \
		"port-policy original: both services spliced"
	services=$("$T_CLI" -S "$dir/ctl.sock" services)
	if [ "$unpriv_start" -gt 80 ] && { [ "$(id -u)" != 0 ] || [ ${#T_AGENT_WRAP[@]} -gt 0 ]; }; then
		t_ok eval 'grep -F "lowport: \"Low\"" <<<"$services" | grep -qF "; original port 80 is below $unpriv_start (net.ipv4.ip_unprivileged_port_start) and the agent lacks CAP_NET_BIND_SERVICE"' \
			"services says why a port below $unpriv_start was not used"
		t_ok eval '"$T_CLI" -S "$dir/ctl.sock" --json services |
			grep -qF "\"port_note\":\"original port 80 is below"' \
			"... and so does --json (port_note)"
	else
		t_diag "port 80 is bindable here: privileged-port note not checked"
	fi
	t_ok eval 'grep -F "lowport: \"Busy\"" <<<"$services" | grep -qF "; original port $FAKE_BUSY_PORT is in use on this host"' \
		"services says the original port was in use"
	t_nok eval 'grep -F "hostile: " <<<"$services" | grep -qF "original port"' \
		"no note with port-policy stable"
fi

# An agent held up past its ping-timeout (its loop waiting seconds on a
# busy avahi-daemon) pings when it runs again and keeps a session whose
# subsystem answers: silence counts only while a PING waits.
npings() { grep -c '^PING ' "$dir/lowport.in"; }
t_ok lab_wait_for 5 logged "lowport: synced: 2 services announced" \
	"lowport: synced before the stop"
t_ok lab_kill STOP "$agent_pid" "$AGENT" \
	"the agent is stopped (SIGSTOP) for 5 s, past its ping-timeout of 3 s"
sleep 5
p0=$(npings)
t_ok lab_kill CONT "$agent_pid" "$AGENT" "... and continued"
t_ok lab_wait_for 10 eval '[ "$(npings)" -ge $((p0 + 4)) ]' \
	"... then pings lowport again (four PINGs: past the 2 s it waits for a PONG)"
t_nok logged "lowport: no answer from the subsystem" \
	"... and its session was not given up for the silence it caused"

# Every ssh the agent ran (sessions, -G, -Q) got stdin, stdout and stderr
# only: fake-ssh listed its descriptors (fds.PID), of which bash's own on
# the script is the one other allowed.
extra_fds() {
	local f self
	self=$(readlink -f "$T_HERE/fake-ssh")
	for f in "$dir"/fds.*; do
		[ -f "$f" ] || continue
		awk -v self="$self" -v f="${f##*/}" '$10 == "->" && $9 > 2 {
			t = $0; sub(/^.* -> /, "", t)
			if (t != self) print f ": fd " $9 " -> " t }' "$f"
	done
}
nfds=$(find "$dir" -maxdepth 1 -name 'fds.*' | wc -l)
t_ok [ "$nfds" -gt 5 ] "fake ssh listed its descriptors ($nfds runs)"
extra=$(extra_fds | head -n 3 | tr '\n' ' ')
t_ok [ -z "$extra" ] "ssh got no descriptor but 0-2${extra:+: $extra}"

t_ok lab_kill TERM "$agent_pid" "$AGENT" "the agent ($agent_pid) is sent SIGTERM"
wait "$agent_pid"
t_ok [ $? = 0 ] "SIGTERM: clean exit"
agent_pid=
t_ok logged "shutting down" "logged the shutdown"
t_done
