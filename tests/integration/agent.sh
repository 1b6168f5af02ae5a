#!/bin/bash
#
# tests/integration/agent.sh -- rnsplice-agent end to end, in the lab.
#
#   asrv (LAN A) --- arelay [sshd + subsystem] ==WAN== brelay [agent] --- bcli (LAN B)
#                                                       ||
#   crelay (LAN C) [sshd, DisableForwarding] ===WAN=====++
#
# A web server on asrv, published as _http._tcp, must show up on bcli at
# brelay's address and answer through it; then large and parallel
# transfers, live add/remove/TXT changes, the ssh master killed (services
# withdrawn, back after the reconnect), host scope, the allow-list, a
# second remote whose sshd forbids forwarding (relay mode), half-close both
# ways. Timings go to the log as "# time:" lines.
# Needs root; skips (77) otherwise. AGENT_TEST_QUICK=1 stops after the
# first milestone.

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
command -v python3 >/dev/null || t_skip "python3 not installed"

T=_http._tcp

# ms_since T0 -- milliseconds since T0 (an EPOCHREALTIME).
ms_since() {
	local now=${EPOCHREALTIME//[!0-9]/} then=${1//[!0-9]/}
	echo $(((now - then) / 1000))
}

timing() { # WHAT MS
	t_diag "time: $1: $2 ms"
	printf '%s %s\n' "$1" "$2" >>"$LAB_DIR/timings"
}

# spliced HOST NAME -- "ADDRESS PORT" of NAME as HOST resolves it on eth0
spliced() {
	lab_browse "$1" "$T" 2>/dev/null | lab_browse_get "$2" eth0 IPv4 |
		head -n 1 | cut -d';' -f4,5 | tr ';' ' '
}

# seen_at HOST NAME ADDR -- HOST resolves NAME at ADDR (eth0, IPv4)
seen_at() {
	[ "$(spliced "$1" "$2" | cut -d' ' -f1)" = "$3" ]
}

gone() { # HOST NAME
	! lab_seen "$1" "$T" "$2"
}

fetch() { # HOST URL -- body on stdout
	lab_exec "$1" curl -sS --max-time 20 -o - "$2"
}

same_body() { # HOST URL FILE
	fetch "$1" "$2" | cmp -s - "$3"
}

agent_log() { # which
	printf '%s\n' "$LAB_DIR/brelay/agent$1.log"
}

# status_field SOCK FIELD -- the first numeric FIELD of "rnsplice --json status"
status_field() {
	lab_exec brelay "$CLI" -S "$1" --json status 2>/dev/null |
		grep -o "\"$2\":[0-9]*" | head -n 1 | cut -d: -f2
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

# --- content --------------------------------------------------------------
www=$LAB_DIR/www
mkdir -p "$www"
echo "hello from asrv $LAB_ID" >"$www/index.html"
head -c 32M /dev/urandom >"$www/big.bin"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http server on asrv"
WEB="Web $LAB_ID"
pub_web=$(lab_publish asrv "$WEB" $T 8080 path=/ "note=first")
lab_wait_published "$pub_web" || t_bail "publish on asrv"
t_ok lab_wait_for 5 lab_seen arelay $T "$WEB" "asrv's service is seen on LAN A"
t_nok lab_seen bcli $T "$WEB" "and not on LAN B before the agent runs"

# --- milestone: the agent splices it ----------------------------------------
t0=$EPOCHREALTIME
t_agent brelay "$LAB_DIR/agent1.pid" "$(agent_log 1)" -v -R siteA $T
agent1=$T_AGENT_PID
SOCK1=/run/rnsplice/agent.sock
NAME="$WEB (siteA)"
if t_ok lab_wait_for 15 seen_at bcli "$NAME" 10.2.0.1 \
	"bcli resolves \"$NAME\" at brelay's 10.2.0.1"; then
	timing "agent start -> resolved on bcli" "$(ms_since "$t0")"
fi
read -r addr port <<<"$(spliced bcli "$NAME")"
t_diag "spliced at $addr:$port"
txt=$(lab_browse bcli $T | lab_browse_get "$NAME" eth0 IPv4 | head -n 1 | cut -d';' -f6-)
t_ok eval '[[ $txt == *\"path=/\"* && $txt == *\"rnsplice=v1\;o=* ]]' \
	"TXT passed through, splice metadata added ($txt)"
t0=$EPOCHREALTIME
t_ok same_body bcli "http://$addr:$port/index.html" "$www/index.html" \
	"curl from bcli through the splice returns asrv's page"
timing "first fetch (connect + HTTP)" "$(ms_since "$t0")"
ttfb=$(lab_exec bcli curl -s -o /dev/null -w '%{time_starttransfer}' \
	"http://$addr:$port/index.html")
timing "time to first byte (curl)" "$(awk -v t="$ttfb" 'BEGIN { printf "%d", t * 1000 }')"
if [ "${AGENT_TEST_QUICK:-0}" = 1 ]; then
	t_done
fi

# --- bulk and parallel -----------------------------------------------------------
t0=$EPOCHREALTIME
t_ok same_body bcli "http://$addr:$port/big.bin" "$www/big.bin" \
	"32 MB through the splice, byte for byte"
ms=$(ms_since "$t0")
timing "32 MB transfer" "$ms"
[ "$ms" -gt 0 ] && t_diag "throughput: $((32 * 1000 / ms)) MB/s"

par=$LAB_DIR/par
mkdir -p "$par"
t0=$EPOCHREALTIME
lab_exec bcli bash -c '
	for i in $(seq 1 50); do
		curl -sS --max-time 20 -o "$0/$i.out" "$1" &
	done
	wait' "$par" "http://$addr:$port/index.html"
timing "50 parallel fetches" "$(ms_since "$t0")"
ok=0
for i in $(seq 1 50); do
	cmp -s "$par/$i.out" "$www/index.html" && ok=$((ok + 1))
done
t_ok [ "$ok" = 50 ] "50 parallel connections all answered ($ok/50)"
t_ok lab_wait_for 5 eval '[ "$(status_field $SOCK1 live)" = 0 ]' \
	"no relay left open afterwards"

# --- live changes ---------------------------------------------------------------------
w2=$(lab_watch bcli $T)
wa=$(lab_watch arelay $T)
sleep 0.5
NEW="New $LAB_ID"
t0=$EPOCHREALTIME
pub_new=$(lab_publish asrv "$NEW" $T 8080 "k=v1")
if t_ok lab_wait_for 10 lab_watch_seen "$w2" "$NEW (siteA)" eth0 IPv4 \
	"a service added on LAN A appears on LAN B"; then
	first=$(lab_watch_times "$w2" = "$NEW (siteA)" eth0 IPv4 | head -n 1)
	timing "discovery A->B (publish on asrv -> resolved on bcli)" \
		"$(( (${first//./} - ${t0//./}) / 1000 ))"
	firsta=$(lab_watch_times "$wa" = "$NEW" eth0 IPv4 | head -n 1)
	[ -n "$firsta" ] && timing "propagation (resolved on arelay -> resolved on bcli)" \
		"$(( (${first//./} - ${firsta//./}) / 1000 ))"
fi
# a TXT change (avahi-publish cannot update in place: re-publish)
lab_unpublish "$pub_new"
pub_new=$(lab_publish asrv "$NEW" $T 8080 "k=v2")
t_ok lab_wait_for 10 eval 'lab_browse bcli $T | lab_browse_get "$NEW (siteA)" eth0 IPv4 | grep -q "k=v2"' \
	"a TXT change on LAN A reaches LAN B"
t0=$EPOCHREALTIME
lab_unpublish "$pub_new"
if t_ok lab_wait_for 10 eval '! lab_watch_seen "$w2" "$NEW (siteA)" eth0 IPv4' \
	"a service removed on LAN A is withdrawn on LAN B"; then
	last=$(lab_watch_times "$w2" - "$NEW (siteA)" eth0 IPv4 | tail -n 1)
	[ -n "$last" ] && timing "withdrawal A->B (unpublish -> removed on bcli)" \
		"$(( (${last//./} - ${t0//./}) / 1000 ))"
	lasta=$(lab_watch_times "$wa" - "$NEW" eth0 IPv4 | tail -n 1)
	[ -n "$last" ] && [ -n "$lasta" ] && timing \
		"withdrawal propagation (removed on arelay -> removed on bcli)" \
		"$(( (${last//./} - ${lasta//./}) / 1000 ))"
fi
lab_unwatch "$wa"
# a TXT change in place: no goodbye, no REMOVE at the server, only the
# resolver's news (what a re-publication is too when its announcement
# comes before the goodbye has expired)
CHG="Changing $LAB_ID"
coproc TXTP { lab_exec asrv "$top_builddir/tests/integration/subsystem-txtpub" \
	"$CHG" $T 8096 k=v1 2>"$LAB_DIR/txtpub.err"; }
read -r -t 10 line <&"${TXTP[0]}"
t_ok [ "${line:-}" = established ] "a service with k=v1 published in place on asrv"
t_ok lab_wait_for 10 eval 'lab_browse bcli $T | lab_browse_get "$CHG (siteA)" eth0 IPv4 | grep -q "k=v1"' \
	"... spliced to LAN B"
echo "k=v2" >&"${TXTP[1]}"
t_ok lab_wait_for 10 eval 'lab_browse bcli $T | lab_browse_get "$CHG (siteA)" eth0 IPv4 | grep -q "k=v2"' \
	"a TXT change in place on LAN A reaches LAN B"
eval "exec ${TXTP[1]}>&-"	# EOF: txtpub withdraws and exits
t_ok lab_wait_for 10 eval '! lab_seen bcli $T "$CHG (siteA)"' "... and its withdrawal"

# --- the ssh master dies ---------------------------------------------------------------
sshpid=$(status_field "$SOCK1" ssh_pid)
t0=$EPOCHREALTIME
# a pid of 0 or none (no master) is a failure here, never a signal
if t_ok lab_kill KILL "$sshpid" ssh \
	"the agent's ssh master (pid '$sshpid' in its status) is killed"; then
	if t_ok lab_wait_for 10 eval '! lab_watch_seen "$w2" "$NAME" eth0 IPv4' \
		"ssh master killed: the service is withdrawn from LAN B"; then
		timing "ssh killed -> withdrawn on bcli" "$(ms_since "$t0")"
	fi
	if t_ok lab_wait_for 20 lab_watch_seen "$w2" "$NAME" eth0 IPv4 \
		"and back after the reconnect"; then
		timing "ssh killed -> back on bcli" "$(ms_since "$t0")"
	fi
	read -r addr2 port2 <<<"$(spliced bcli "$NAME")"
	t_ok [ "$port2" = "$port" ] "on the same port ($port2)"
	t_ok same_body bcli "http://$addr2:$port2/index.html" "$www/index.html" \
		"and answering"
	t_ok grep -q "ssh killed by signal 9" "$(agent_log 1)" \
		"the log says how ssh died"
fi
lab_unwatch "$w2"

# --- a second agent: host scope, a second site, allow-list, relay mode -----------------
lab_hosts crelay || t_bail "host crelay"
lab_lan C 10.3.0 crelay || t_bail "LAN C"
lab_wan crelay brelay 10.98.0 || t_bail "WAN C"
cat >"$LAB_DIR/nofwd.conf" <<'EOF'
DisableForwarding yes
EOF
lab_sshd crelay "$LAB_DIR/nofwd.conf" || t_bail "sshd on crelay"
lab_ssh_client brelay siteC crelay 10.98.0.1 || t_bail "ssh client siteC"
lab_wait_avahi crelay
lab_http crelay 8081 "$www" >/dev/null || t_bail "http server on crelay"
PRN="Cweb $LAB_ID"
pub_c=$(lab_publish crelay "$PRN" $T 8081)
lab_wait_published "$pub_c" || t_bail "publish on crelay"

cat >"$LAB_DIR/agent2.conf" <<EOF
# two remotes in one agent
allow-root yes
remote hostA {
	destination siteA
	types $T
	scope host
	name-template "%n [host]"
}
remote ifaceA {
	destination siteA
	types $T
	scope interface eth0
	name-template "%n {eth0}"
	max-relays 2
}
remote denied {
	destination siteA
	ssh-option User=nosuchuser
}
remote siteC {
	destination siteC
	types $T
	allow 10.2.0.1/32	# brelay only, not bcli
}
EOF
t_ok lab_exec brelay "$AGENT" -n -f "$LAB_DIR/agent2.conf" "agent -n accepts the config"
SOCK2=/run/agent2.sock
t_agent brelay "$LAB_DIR/agent2.pid" "$(agent_log 2)" -v -S "$SOCK2" -f "$LAB_DIR/agent2.conf"

HNAME="$WEB [host]"
t_ok lab_wait_for 15 lab_seen brelay $T "$HNAME" lo \
	"host scope: brelay sees \"$HNAME\" on lo"
hport=$(lab_browse brelay $T | lab_browse_get "$HNAME" lo IPv4 | head -n 1 | cut -d';' -f4,5)
t_diag "host scope: $hport"
t_ok same_body brelay "http://127.0.0.1:${hport#*;}/index.html" "$www/index.html" \
	"host scope: usable on brelay"
t_nok lab_seen bcli $T "$HNAME" "host scope: invisible from bcli"
t_nok lab_exec bcli curl -s --max-time 3 -o /dev/null "http://10.2.0.1:${hport#*;}/" \
	"host scope: unreachable from bcli"

# host scope, listener auto (the default): the ssh master listens itself
# listener_pid PORT -- the pid of the ssh process listening on
# 127.0.0.1:PORT in brelay; "other" for another program, "" for none
listener_pid() {
	local u
	u=$(lab_exec brelay ss -Hltnp "( sport = :$1 )" | grep -o 'users:(("[^"]*",pid=[0-9]*' | head -n 1)
	case $u in
	'') echo "" ;;
	'users:(("ssh",pid='*) echo "${u##*pid=}" ;;
	*) echo other ;;
	esac
}
lo_port() { # NAME -- its port as brelay resolves it on lo
	lab_browse brelay $T | lab_browse_get "$1" lo IPv4 | head -n 1 | cut -d';' -f5
}
MNAME=$HNAME
t_ok lab_wait_for 15 lab_seen brelay $T "$MNAME" lo \
	"listener auto: \"$MNAME\" on lo"
mport=$(lo_port "$MNAME")
mpid=$(listener_pid "$mport")
t_ok eval '[[ $mpid == [1-9]* ]]' \
	"listener auto: the ssh master listens on port $mport, not the agent ($mpid)"
t_ok same_body brelay "http://127.0.0.1:$mport/index.html" "$www/index.html" \
	"listener auto: usable through the master's listener"
t_ok grep -qF "hostA: \"$MNAME\": the ssh master listens on port $mport" \
	"$(agent_log 2)" "the hand-over is logged"
t_ok eval 'lab_exec brelay "$CLI" -S "$SOCK2" services | grep -q "^hostA: .*the ssh master listens"' \
	"rnsplice services says who listens"
# a service that goes: the master's forward is cancelled
MW="Mfwd $LAB_ID"
pub_m=$(lab_publish asrv "$MW" $T 8080)
lab_wait_published "$pub_m" || t_bail "publish $MW on asrv"
t_ok lab_wait_for 15 lab_seen brelay $T "$MW [host]" lo \
	"listener auto: \"$MW [host]\" on lo"
wport=$(lo_port "$MW [host]")
t_ok eval '[[ $(listener_pid "$wport") == [1-9]* ]]' \
	"the ssh master listens on its port $wport"
lab_unpublish "$pub_m"
t_ok lab_wait_for 15 eval '! lab_seen brelay $T "$MW [host]" lo' \
	"withdrawn from lo when it goes"
t_ok lab_wait_for 10 eval '[ -z "$(listener_pid "$wport")" ]' \
	"and the master's listener is cancelled: nothing listens on port $wport"
t_nok lab_exec brelay curl -s --max-time 3 -o /dev/null "http://127.0.0.1:$wport/" \
	"the old port refuses connections"
# the master killed: its listener goes with it, the next master's comes
if t_ok lab_kill KILL "$mpid" ssh \
	"hostA's ssh master (pid '$mpid', listening on $mport) is killed"; then
	t_ok lab_wait_for 10 grep -q "hostA: withdrew" "$(agent_log 2)" \
		"master killed: hostA's services are withdrawn"
	t_ok lab_wait_for 30 eval 'p=$(listener_pid "$mport"); [[ $p == [1-9]* && $p != "$mpid" ]]' \
		"and the next master listens on port $mport"
	t_ok lab_wait_for 15 lab_seen brelay $T "$MNAME" lo \
		"\"$MNAME\" is published again"
	t_ok same_body brelay "http://127.0.0.1:$mport/index.html" "$www/index.html" \
		"and usable"
fi

INAME="$WEB {eth0}"
t_ok lab_wait_for 15 seen_at bcli "$INAME" 10.2.0.1 \
	"interface scope: \"$INAME\" on LAN B"
read -r _ iport <<<"$(spliced bcli "$INAME")"
t_ok same_body bcli "http://10.2.0.1:$iport/index.html" "$www/index.html" \
	"interface scope: usable from LAN B"
t_nok lab_exec brelay curl -s --max-time 3 -o /dev/null "http://127.0.0.1:$iport/" \
	"interface scope: not listening on other addresses"
t_nok lab_seen brelay $T "$INAME" lo "interface scope: not published on lo"
t_ok eval '[[ $(listener_pid "$iport") == other ]]' \
	"interface scope, listener auto: the agent listens itself"

# max-relays 2: a third concurrent connection is refused, cleanly
cat >"$LAB_DIR/hold3.py" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
cs = []
for i in range(3):
    cs.append(socket.create_connection((sys.argv[2], port), timeout=5))
    time.sleep(0.3)
res = []
for c in cs:
    c.settimeout(1.0)
    try:
        res.append("closed" if c.recv(1) == b"" else "data")
    except socket.timeout:
        res.append("open")
    except OSError:
        res.append("closed")
print(" ".join(res))
EOF
t_ok eval '[ "$(lab_exec brelay python3 "$LAB_DIR/hold3.py" "$iport" 10.2.0.1)" = "open open closed" ]' \
	"max-relays 2: the third connection is refused"
t_ok grep -q "ifaceA: refused 10.2.0.1:.*: 2 connections already (max-relays)" \
	"$(agent_log 2)" "and the refusal is logged"

# a remote that cannot log in: ssh's own words, the others undisturbed
t_ok lab_wait_for 10 grep -q \
	"denied: ssh exited 255: nosuchuser@10.99.0.1: Permission denied (publickey)" \
	"$(agent_log 2)" "a login failure is logged in ssh's words"
t_ok lab_wait_for 5 eval 'lab_exec brelay "$CLI" -S "$SOCK2" status | grep -q "^denied (siteA): backoff"' \
	"rnsplice status shows that remote in backoff"

CNAME="$PRN (siteC)"
t_ok lab_wait_for 15 seen_at bcli "$CNAME" 10.2.0.1 \
	"second remote: \"$CNAME\" on LAN B"
read -r caddr cport <<<"$(spliced bcli "$CNAME")"
t_ok same_body brelay "http://10.2.0.1:$cport/index.html" "$www/index.html" \
	"second remote (forwarding disabled): answers through the subsystem relay"
t_ok grep -q "relaying connections through the subsystem" "$(agent_log 2)" \
	"relay mode was detected and logged"
t_nok same_body bcli "http://$caddr:$cport/index.html" "$www/index.html" \
	"allow-list: bcli is refused"
t_ok grep -q "refused 10.2.0.2:.* not in the allow-list" "$(agent_log 2)" \
	"and the refusal is logged"
t_ok same_body bcli "http://$addr2:$port2/index.html" "$www/index.html" \
	"the first agent is undisturbed"

# --- half-close, both directions ------------------------------------------------------------
# server A: reads to EOF, then answers with the byte count (client half-closes)
# server B: sends "hello", half-closes, then counts what it still receives
cat >"$LAB_DIR/halfsrv.py" <<'EOF'
import socket, sys, threading
mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen(8)
def serve(c):
    n = 0
    if mode == "a":
        while True:
            d = c.recv(65536)
            if not d: break
            n += len(d)
        c.sendall(b"got %d\n" % n)
        c.close()
    else:
        c.sendall(b"hello\n"); c.shutdown(socket.SHUT_WR)
        while True:
            d = c.recv(65536)
            if not d: break
            n += len(d)
        open(out, "a").write("%d\n" % n); c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,)).start()
EOF
cat >"$LAB_DIR/halfcli.py" <<'EOF'
import socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = socket.create_connection((host, port), timeout=10)
if mode == "a":
    c.sendall(b"x" * 5000); c.shutdown(socket.SHUT_WR)
    r = b""
    while True:
        d = c.recv(65536)
        if not d: break
        r += d
    print(r.decode().strip())
else:
    r = b""
    while not r.endswith(b"\n"):
        d = c.recv(65536)
        if not d: break
        r += d
    time.sleep(0.3)
    try:
        c.sendall(b"y" * 5000)
    except OSError as e:
        print("send failed:", e)
    c.close()
    print(r.decode().strip())
EOF
hport_a=9001
hport_b=9002
for m in a b; do
	hp=$hport_a
	[ $m = b ] && hp=$hport_b
	lab_bg asrv "$LAB_DIR/half$m.pid" python3 "$LAB_DIR/halfsrv.py" $m $hp \
		"$LAB_DIR/half$m.count" >"$LAB_DIR/half$m.log" 2>&1
	lab_bg crelay "$LAB_DIR/halfc$m.pid" python3 "$LAB_DIR/halfsrv.py" $m $hp \
		"$LAB_DIR/halfc$m.count" >"$LAB_DIR/halfc$m.log" 2>&1
done
sleep 0.5
pa=$(lab_publish asrv "Half a $LAB_ID" $T $hport_a)
pb=$(lab_publish asrv "Half b $LAB_ID" $T $hport_b)
pca=$(lab_publish crelay "Half a $LAB_ID" $T $hport_a)
pcb=$(lab_publish crelay "Half b $LAB_ID" $T $hport_b)
t_ok lab_wait_for 30 eval 'seen_at bcli "Half a $LAB_ID (siteA)" 10.2.0.1 && seen_at bcli "Half b $LAB_ID (siteA)" 10.2.0.1' \
	"half-close services spliced"
t_ok lab_wait_for 30 eval 'lab_seen brelay $T "Half a $LAB_ID (siteC)" eth0 >/dev/null && lab_seen brelay $T "Half b $LAB_ID (siteC)" eth0 >/dev/null' \
	"half-close services spliced from siteC"
read -r _ ha <<<"$(spliced bcli "Half a $LAB_ID (siteA)")"
read -r _ hb <<<"$(spliced bcli "Half b $LAB_ID (siteA)")"
read -r _ hca <<<"$(spliced brelay "Half a $LAB_ID (siteC)")"
read -r _ hcb <<<"$(spliced brelay "Half b $LAB_ID (siteC)")"
t_ok eval '[ "$(lab_exec bcli python3 "$LAB_DIR/halfcli.py" a 10.2.0.1 "$ha")" = "got 5000" ]' \
	"direct: client half-close, the server still answers"
out=$(lab_exec bcli python3 "$LAB_DIR/halfcli.py" b 10.2.0.1 "$hb")
sleep 0.5
t_ok [ "$out" = hello ] "direct: server half-close reaches the client"
if [ "$(tail -n 1 "$LAB_DIR/halfb.count" 2>/dev/null)" = 5000 ]; then
	t_pass "direct: client data after the server's half-close arrives"
else
	t_skip_one "direct: client data after the server's half-close arrives" \
		"ssh stdio forwards drop it (got $(tail -n 1 "$LAB_DIR/halfb.count" 2>/dev/null); docs/MUX.md)"
fi
t_ok eval '[ "$(lab_exec brelay python3 "$LAB_DIR/halfcli.py" a 10.2.0.1 "$hca")" = "got 5000" ]' \
	"relay mode: client half-close, the server still answers"
out=$(lab_exec brelay python3 "$LAB_DIR/halfcli.py" b 10.2.0.1 "$hcb")
t_ok [ "$out" = hello ] "relay mode: server half-close reaches the client"
t_ok lab_wait_for 3 eval '[ "$(tail -n 1 "$LAB_DIR/halfcb.count" 2>/dev/null)" = 5000 ]' \
	"relay mode: client data after the server's half-close arrives"
: "$pa" "$pb" "$pca" "$pcb"

# --- avahi restarts ------------------------------------------------------------------------------
# the server's: the subsystem says AVAHI down/up, the agent keeps its services
lab_avahi_restart arelay || t_bail "avahi restart on arelay"
t_ok lab_wait_for 10 grep -q "siteA: the server's avahi-daemon is back" "$(agent_log 1)" \
	"server's avahi-daemon restart: reported down and back"
t_ok lab_wait_for 10 seen_at bcli "$NAME" 10.2.0.1 "and the service is still spliced"
# ours: the publisher publishes everything again
lab_avahi_restart brelay || t_bail "avahi restart on brelay"
t_ok lab_wait_for 15 seen_at bcli "$NAME" 10.2.0.1 \
	"local avahi-daemon restart: the service is published again"
t_ok same_body bcli "http://$addr2:$port2/index.html" "$www/index.html" \
	"and answers on the same port"

# --- the publisher's process ----------------------------------------------------------------
# The avahi registration calls are made by a child of the agent
# (common/publish-proc.c). Killed, it is replaced and everything is
# published again; while avahi-daemon does not answer, only it waits: the
# agent's loop (control socket, ssh session, keepalive) goes on.
# pub_child SOCK AGENTPID -- the publisher's pid from the agent's status,
# if it is a child of AGENTPID running the agent's program
pub_child() {
	local p pp exe
	p=$(status_field "$1" publisher_pid)
	[[ $p == [1-9]* ]] || return 1
	pp=$(awk '$1 == "PPid:" { print $2 }' "/proc/$p/status" 2>/dev/null)
	exe=$(readlink -f "/proc/$p/exe" 2>/dev/null)
	[ "$pp" = "$2" ] && [ "$exe" = "$(readlink -f "$AGENT")" ] || return 1
	printf '%s\n' "$p"
}
published_count() { # NAME -- how often agent 1 logged it established
	grep -cF "siteA: published \"$1\"" "$(agent_log 1)" || true
}
apid=$(status_field "$SOCK1" pid)
sshpid=$(status_field "$SOCK1" ssh_pid)
ppid1=$(pub_child "$SOCK1" "$apid")
t_ok eval '[[ $ppid1 == [1-9]* ]]' \
	"the agent's publisher runs in a child process (pid '$ppid1', agent $apid)"
npub=$(published_count "$NAME")
if t_ok lab_kill KILL "$ppid1" "$AGENT" \
	"the publisher's process (pid '$ppid1') is killed"; then
	t_ok lab_wait_for 10 grep -q "publisher: its process $ppid1 killed by signal 9" \
		"$(agent_log 1)" "the agent logs how it ended"
	t_ok lab_wait_for 10 eval 'p=$(pub_child "$SOCK1" "$apid") && [ "$p" != "$ppid1" ]' \
		"a new publisher process is started"
	t_ok lab_wait_for 15 eval '[ "$(published_count "$NAME")" -gt "$npub" ]' \
		"\"$NAME\" is published again by it"
	t_ok lab_wait_for 10 seen_at bcli "$NAME" 10.2.0.1 "bcli resolves it"
	t_ok eval '[ "$(status_field "$SOCK1" publisher_restarts)" -ge 1 ]' \
		"rnsplice status counts the restart"
	t_ok [ "$(status_field "$SOCK1" ssh_pid)" = "$sshpid" ] \
		"the agent's ssh session went on (same master, pid $sshpid)"
	t_ok same_body bcli "http://$addr2:$port2/index.html" "$www/index.html" \
		"and the splice answers"
fi
# avahi-daemon that does not answer: SIGSTOP for longer than ping-timeout
# (9 s), while a new service waits to be published
read -r avahipid <"$LAB_DIR/brelay/avahi.pid"
STALL="Stall $LAB_ID"
nlost=$(grep -c "reconnecting in" "$(agent_log 1)" || true)
if t_ok lab_kill STOP "$avahipid" avahi-daemon \
	"brelay's avahi-daemon (pid '$avahipid') is stopped"; then
	pub_stall=$(lab_publish asrv "$STALL" $T 8080)
	t_ok lab_wait_for 15 grep -qF "siteA: splicing \"$STALL\"" "$(agent_log 1)" \
		"avahi-daemon stopped: the agent imports a new service and hands it to its publisher"
	# its publication now waits for avahi-daemon (up to libdbus's 25 s
	# per call): the agent's own loop must not
	ndump=$(grep -c "pid $apid, up" "$(agent_log 1)" || true)
	lab_kill USR1 "$apid" "$AGENT" || t_fail "SIGUSR1 to the agent"
	t_ok lab_wait_for 10 eval '[ "$(grep -c "pid $apid, up" "$(agent_log 1)")" -gt "$ndump" ]' \
		"meanwhile the agent's loop runs: it logs its status on SIGUSR1"
	t_ok eval 'lab_exec brelay "$CLI" -S "$SOCK1" --json services | grep -qF "$STALL"' \
		"and answers rnsplice services"
	sleep 12	# the fault's length, longer than ping-timeout
	t_ok eval 'lab_exec brelay "$CLI" -S "$SOCK1" status >/dev/null' \
		"and still answers after 12 s"
	lab_kill CONT "$avahipid" avahi-daemon || t_bail "SIGCONT to avahi-daemon"
	t_ok lab_wait_for 30 seen_at bcli "$STALL (siteA)" 10.2.0.1 \
		"avahi-daemon back: the new service is published"
	t_ok [ "$(status_field "$SOCK1" ssh_pid)" = "$sshpid" ] \
		"the ssh session survived the stall (same master, pid $sshpid)"
	t_ok [ "$(grep -c "reconnecting in" "$(agent_log 1)")" = "$nlost" ] \
		"no session was lost"
	lab_unpublish "$pub_stall"
fi

# --- shutdown --------------------------------------------------------------------------------
w3=$(lab_watch bcli $T)
sleep 0.5
t_ok lab_wait_for 5 lab_watch_seen "$w3" "$NAME" eth0 IPv4 "before shutdown, bcli sees the service"
t0=$EPOCHREALTIME
lab_stop "$agent1"
t_ok lab_wait_for 5 eval '! lab_watch_seen "$w3" "$NAME" eth0 IPv4' \
	"agent stopped: its services are withdrawn (goodbyes)"
timing "agent SIGTERM -> withdrawn on bcli" "$(ms_since "$t0")"
t_nok grep -q "ssh did not exit in time" "$(agent_log 1)" "ssh exited with the agent"
read -r agent2 <"$LAB_DIR/agent2.pid"
lab_stop "$agent2"
t_nok grep -q -e "Sanitizer" -e "runtime error" "$(agent_log 1)" "$(agent_log 2)" \
	"no sanitizer report from the agents"

t_diag "timings:"
while read -r line; do t_diag "  $line"; done <"$LAB_DIR/timings"
t_done
