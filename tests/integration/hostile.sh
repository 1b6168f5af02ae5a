#!/bin/bash
#
# tests/integration/hostile.sh -- hostile peers, both ways, no root.
#
# 1. A malicious server: rnsplice-agent against scripted fake ssh programs
#    (as in agent-proto.sh, which already covers duplicate and unknown ids,
#    unknown verbs, a bad escape, an over-long line, the loop guard, a cap
#    of 3, silent and mute peers and a wrong major version).  Here: a flood
#    far beyond max-services, names and TXT over the DNS-SD limits, raw and
#    escaped invalid UTF-8, NUL, ports 0, 65536 and 99999999999, addresses
#    that are not addresses, bad types, control characters that would
#    forge log lines, binary garbage, a peer stalled in the middle of a
#    line, and one that repeats bad lines and non-fatal ERRORs thousands
#    of times (logged within limits: 32 per minute, then a count).  The
#    agent must log each, splice only what is valid, cap what it keeps,
#    and keep its well-behaved remote working throughout.
#    What it would publish is read back with "rnsplice services --json".
# 2. A malicious client: rnsplice-subsystem run directly on a pipe (no
#    avahi: it reports AVAHI down).  Garbage, invalid UTF-8, NUL, long
#    lines, too many fields and types, bad tokens, RELAY in a browse
#    session and RELAY of an unadvertised service (refused, nothing
#    opened), 500 bad lines and 100 ERRORs (each answered, 32 of each
#    logged, the rest counted), a peer that floods PINGs and never reads
#    (memory stays bounded), and the subsystem still answers afterwards.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"
AGENT=$T_AGENT CLI=$T_CLI SUB=$T_SUB
t_require_programs "$AGENT" "$CLI" "$SUB"
command -v python3 >/dev/null || t_skip "python3 not installed"

dir=$(mktemp -d "${TMPDIR:-/tmp}/hostile.XXXXXX") || t_bail "mktemp"
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
		t_diag "--- agent log (tail)"
		tail -n 80 "$dir/agent.log" | sed 's/^/# /'
	fi
	[ "${HOSTILE_KEEP:-0}" = 1 ] || rm -rf -- "$dir"
}
lab_atexit cleanup

# --- 1. a malicious server ---------------------------------------------------
# the scripted servers (t_fake_init): python, so that any byte can be sent
cat >"$dir/server" <<EOF
#!$(python3 -c 'import sys; print(sys.executable)')
EOF
cat >>"$dir/server" <<'EOF'
import os, sys, time
dest, inpath = sys.argv[1], sys.argv[2]
out = sys.stdout.buffer
def w(b):
    out.write(b); out.flush()
def svc(i, name, port=b"80", addr=b"10.9.9.9", typ=b"_http._tcp", txt=b""):
    return b"ADD %d %s %s local h.local %s %s%s\n" % (i, name, typ, addr, port, txt)
# a site of its own: an agent refuses a second server with one site id
w(b"HELLO 1.0 fake%s subsystem relay,update maxline=16384\n" % dest.encode())
inp = open(inpath, "ab", buffering=0)
def readline():
    l = sys.stdin.buffer.readline()
    inp.write(l)
    return l
readline(); readline()				# HELLO, BROWSE
if dest == "flood":
    # 20000 services, well beyond max-services (50)
    for i in range(1, 20001):
        w(svc(i, b"Flood%%20%d" % i))
    w(b"SYNCED\n")
elif dest == "bad":
    w(svc(1, b"N" * 64))			# name over 63 bytes
    w(svc(2, b"%41" * 64))			# escaped, still 64 bytes
    w(svc(3, b"Bad\xff\xfeutf8"))		# raw invalid UTF-8
    w(svc(4, b"Esc%C0%AFoverlong"))		# escaped overlong UTF-8
    w(svc(5, b"Sur%ED%A0%80gate"))		# escaped surrogate
    w(svc(6, b"Nul%00byte"))			# NUL in a text field
    w(svc(7, b"Port0", port=b"0"))
    w(svc(8, b"Port65536", port=b"65536"))
    w(svc(9, b"PortHuge", port=b"99999999999"))
    w(svc(10, b"PortNeg", port=b"-1"))
    w(svc(11, b"Addr", addr=b"999.1.1.1"))
    w(svc(12, b"Addr2", addr=b"evil.example.com"))
    w(svc(13, b"Type", typ=b"_http._xyz"))
    w(svc(14, b"Type2", typ=b"http"))
    w(svc(15, b"TxtItem", txt=b" " + b"a" * 256))	# TXT item over 255
    w(svc(16, b"TxtAll", txt=(b" " + b"b" * 250) * 40))	# record over 8900
    w(svc(17, b"Ctl%0Aforged%20line"))	# would forge a log line
    w(svc(18, b"Esc%1B[2Jclear"))		# terminal escape
    w(b"\x00\x01\x02\xff garbage \r\n")
    w(b"ADD 19 Cr\r _http._tcp local h 10.9.9.9 80\n")
    w(b"ADD  20 Spaces _http._tcp local h 10.9.9.9 80\n")
    w(b"add 21 Lower _http._tcp local h 10.9.9.9 80\n")
    w(b"ADD 0 IdZero _http._tcp local h 10.9.9.9 80\n")
    w(b"ADD 4294967296 IdBig _http._tcp local h 10.9.9.9 80\n")
    w(b"PING " + b"t" * 33 + b"\n")		# token over 32
    w(b"PING bad%20tok\n")
    w(b"HELLO 1.0 again subsystem %\n")		# a second HELLO
    w(b"AVAHI sideways\n")
    w(svc(30, b"Good%20one", port=b"65535"))	# valid, at the edges
    w(svc(31, b"%C3%A9t%C3%A9%20%E2%9C%93", txt=b" k=%FF%00"))
    w(b"PING stillthere\n")
    w(b"SYNCED\n")
elif dest == "stall":
    w(svc(1, b"Stalled"))
    w(b"SYNCED\n")
    w(b"ADD 2 Half _http._tcp loc")		# and nothing more, ever
    while True:
        time.sleep(1)
elif dest == "badflood":
    # the same mistakes again and again, then gone (and back, and again)
    import threading
    threading.Thread(target=lambda: [None for _ in iter(readline, b"")],
                     daemon=True).start()	# read our ERROR replies
    w(svc(1, b"Fine"))
    w(b"SYNCED\n")
    for i in range(3000):
        w(b"NOSUCHVERB %d\n" % i)
    for i in range(300):
        w(b"ERROR busy overloaded%%20%d\n" % i)	# not fatal
    w(b"PING floodend\n")
    time.sleep(0.5)
    os._exit(0)		# not sys.exit: the reader thread holds stdin's lock
elif dest == "good":
    w(svc(1, b"Fine"))
    w(b"SYNCED\n")
# keep answering pings
while True:
    l = readline()
    if not l:
        break
    if l.startswith(b"PING "):
        w(b"PONG " + l[5:])
EOF
chmod +x "$dir/server"
t_fake_init "$dir" "$dir/server"
cat >"$dir/agent.conf" <<EOF
allow-root yes
ping-interval 1
scope host
listener agent	# the fake ssh has no forwards: no hand-over to it
remote good { }
remote flood {
	max-services 50
}
remote bad { }
remote stall { }
remote badflood { }
EOF
t_ok "$AGENT" -n -f "$dir/agent.conf" "the config parses"
RNSPLICE_SITE_ID=hostileself t_agent_fake "$dir" -f "$dir/agent.conf" ||
	t_bail "the agent did not start"
agent_pid=$T_AGENT_PID

logged() { t_logged "$dir/agent.log" "$1"; }
services_json() {
	"$CLI" -S "$dir/ctl.sock" --json services 2>/dev/null
}
status_json() {
	"$CLI" -S "$dir/ctl.sock" --json status 2>/dev/null
}
# number of services of REMOTE the agent splices (would publish)
nspliced() {
	status_json | python3 -c '
import json, sys
for r in json.load(sys.stdin)["remotes"]:
    if r["name"] == sys.argv[1]:
        print(r["spliced"])' "$1"
}

# "]: " anchors the remote's name: "badflood: synced" ends in "flood: synced"
t_ok lab_wait_for 10 logged "]: flood: synced" "flood: the agent gets through 20000 ADDs"
# the first refused ADD is logged, or (at the latest) the count at SYNCED
t_ok eval 'logged "]: flood: ADD 51: more than 50 services, ignored (max-services)" ||
	logged "]: flood: 19950 services ignored: more than 50 (max-services)"' \
	"flood: the cap is logged"
t_ok [ "$(grep -c "]: flood: ADD [0-9]*: more than 50 services" "$dir/agent.log")" -le 10 ] \
	"flood: ... without one log line per refused ADD ($(grep -c "]: flood: ADD [0-9]*: more than 50 services" "$dir/agent.log") lines)"
t_ok [ "$(nspliced flood)" = 50 ] "flood: 50 services kept, no more ($(nspliced flood))"
rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$agent_pid/status")
t_ok [ "$rss" -lt 65536 ] "flood: the agent's RSS stays small ($rss kB)"

t_ok lab_wait_for 10 logged "]: bad: synced" "bad: the hostile session goes on to SYNCED"
for pat in \
	"field 2 (name)" \
	"malformed UTF-8" \
	"port" \
	"is not an IPv4 or IPv6 address" \
	"is not a service type" \
	"TXT item" \
	"TXT record over 8900 bytes" \
	"NUL in text field"; do
	t_ok logged "]: bad: bad line from the subsystem ignored: .*$pat" "bad: logged: $pat"
done
cat >"$dir/spliced.py" <<'EOF'
import json, sys
d = json.load(sys.stdin)
svcs = d["services"] if isinstance(d, dict) else d
names = sorted(s["name"] for s in svcs if s["remote"] == sys.argv[1] and s["spliced"])
print(" | ".join(names))
EOF
spliced_names() { # REMOTE
	services_json | python3 "$dir/spliced.py" "$1"
}
t_ok [ "$(spliced_names bad)" = "Good one | été ✓" ] \
	"bad: only the two valid services are spliced ($(spliced_names bad))"
t_nok grep -q "^forged" "$dir/agent.log" \
	"bad: a newline in a service name does not forge a log line"
t_nok grep -q "$(printf '\033')" "$dir/agent.log" \
	"bad: a terminal escape in a service name is not logged raw"
t_ok grep -q 'cannot splice "Ctl\\x0aforged line"' "$dir/agent.log" \
	"bad: ... but shown escaped"
"$CLI" -S "$dir/ctl.sock" services >"$dir/services.txt" 2>&1
t_nok grep -q -e "$(printf '\033')" -e "^forged" "$dir/services.txt" \
	"bad: nor printed raw by rnsplice services"
t_ok grep -q "^PONG stillthere$" "$dir/bad.in" "bad: the agent still answers the hostile peer's valid PING"

# a peer that repeats its mistakes: the first 32 of each kind per minute
# are logged, then a notice, then only counts (at the end of the session)
t_ok lab_wait_for 15 logged "]: badflood: 2968 more bad lines from the subsystem suppressed" \
	"badflood: 3000 bad lines: the count of those not logged is"
t_ok lab_wait_for 5 logged "]: badflood: 268 more ERROR reports from the subsystem suppressed" \
	"badflood: 300 non-fatal ERRORs: the count of those not logged is"
t_ok logged "]: badflood: more than 32 bad lines from the subsystem in 60 s; counting the rest" \
	"badflood: a notice says when the bad lines stop being logged"
nbad=$(grep -c "]: badflood: NOSUCHVERB .*\|]: badflood: bad line from the subsystem ignored" "$dir/agent.log")
nerr=$(grep -c "]: badflood: the subsystem reports busy" "$dir/agent.log")
t_ok [ "$nbad" -eq 32 ] "badflood: 32 bad lines logged in the first minute, reconnections included ($nbad)"
t_ok [ "$nerr" -eq 32 ] "badflood: 32 ERRORs logged in the first minute, reconnections included ($nerr)"
t_ok grep -q "^PONG floodend$" "$dir/badflood.in" \
	"badflood: the agent still answers that peer's valid PING after the flood"

t_ok lab_wait_for 8 logged "]: stall: no answer from the subsystem for 3 s; reconnecting in" \
	"stall: a peer stalled in the middle of a line is declared dead"
t_ok lab_wait_for 5 eval '[ "$(nspliced good)" = 1 ]' \
	"the well-behaved remote keeps its service throughout"
t_ok eval 'status_json | grep -q "\"name\":\"good\",[^}]*\"state\":\"synced\""' \
	"the well-behaved remote stays synced"
t_ok kill -0 "$agent_pid" "the agent is still running"
t_ok lab_kill TERM "$agent_pid" "$AGENT" "the agent ($agent_pid) is sent SIGTERM"
wait "$agent_pid"
t_ok [ $? = 0 ] "SIGTERM: clean exit"
agent_pid=
t_nok grep -q -e "Sanitizer" -e "runtime error" "$dir/agent.log" "no sanitizer report"

# --- 2. a malicious client against the subsystem ------------------------------
cat >"$dir/client.py" <<'EOF'
import os, subprocess, sys, time, select
sub, mode = sys.argv[1], sys.argv[2]
env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/bus")
pol = os.path.join(os.path.dirname(sys.argv[3]), "empty.conf")
open(pol, "w").close()
p = subprocess.Popen([sub, "-d", "-f", pol], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=open(sys.argv[3], "wb"), env=env)
def send(b):
    p.stdin.write(b); p.stdin.flush()
def lines(timeout=2.0):
    out, end = b"", time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([p.stdout], [], [], 0.1)
        if r:
            d = os.read(p.stdout.fileno(), 65536)
            if not d:
                break
            out += d
    return out
send(b"HELLO 1.0 evilagent agent % maxline=16384\n")
if mode == "garbage":
    for l in [
        b"BROWSE _http._tcp\n",
        b"\x00\x01\x02\xff\n",
        b"BROWSE _http\xff._tcp\n",
        b"BROWSE _http%FF._tcp\n",
        b"BROWSE _http%zz._tcp\n",
        b"BROWSE _ht%00tp._tcp\n",
        b"BROWSE " + b"x" * 20000 + b"\n",
        b"BROWSE" + b" _a._tcp" * 600 + b"\n",
        b"PING " + b"t" * 40 + b"\n",
        b"PING a\rb\n",
        b"HELLO 1.0 again agent %\n",
        b"RELAY Printer _ipp._tcp local\n",
        b"ADD 1 X _http._tcp local h 10.9.9.9 80\n",
        b"FROB\n",
        b"PING alive\n",
    ]:
        send(l)
    out = lines()
    sys.stdout.buffer.write(out)
    print("ALIVE" if p.poll() is None else "DEAD %s" % p.returncode)
elif mode == "badflood":
    # the same mistakes again and again: answered, but logged within limits
    for i in range(500):
        send(b"FROB %d\n" % i)
    for i in range(100):
        send(b"ERROR busy again%%20%d\n" % i)
    send(b"PING alive\n")
    out = lines()
    sys.stdout.buffer.write(out)
    print("ALIVE" if p.poll() is None else "DEAD %s" % p.returncode)
elif mode == "relay":
    send(b"RELAY Printer _ipp._tcp local\n")
    out = lines()
    sys.stdout.buffer.write(out)
    time.sleep(0.3)
    print("EXITED %s" % p.poll())
elif mode == "flood":
    # PINGs as fast as possible, never reading the answers
    os.set_blocking(p.stdin.fileno(), False)
    sent, stuck, t0 = 0, 0, time.time()
    chunk = b"PING abcdefghijklmnopqrstuvwxyz\n" * 2048
    while time.time() - t0 < 3:
        try:
            sent += os.write(p.stdin.fileno(), chunk)
        except BlockingIOError:
            stuck += 1
            time.sleep(0.01)
    rss = int([l for l in open("/proc/%d/status" % p.pid) if l.startswith("VmRSS")][0].split()[1])
    print("SENT %d RSS %d STUCK %d" % (sent, rss, stuck))
    os.set_blocking(p.stdin.fileno(), True)
    # now read everything: it must still be alive and answering
    n = 0
    while True:
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        if not r:
            break
        d = os.read(p.stdout.fileno(), 1 << 20)
        if not d:
            break
        n += d.count(b"\nPONG ") + d.startswith(b"PONG ")
    print("PONGS %d" % n)
    print("ALIVE" if p.poll() is None else "DEAD %s" % p.returncode)
p.stdin.close()
try:
    p.wait(5)
    print("EOF-EXIT %s" % p.returncode)
except subprocess.TimeoutExpired:
    p.kill()
    print("EOF-HANG")
EOF
python3 "$dir/client.py" "$SUB" garbage "$dir/sub-garbage.log" >"$dir/garbage.out" 2>&1
g() { grep -a -q -- "$1" "$dir/garbage.out"; }
t_ok g "^HELLO 1\.2 " "subsystem: greets the hostile client"
t_ok eval '[ "$(grep -a -c "^ERROR syntax " "$dir/garbage.out")" -ge 8 ]' \
	"subsystem: ERROR syntax for each malformed line ($(grep -a -c "^ERROR syntax " "$dir/garbage.out"))"
t_ok g "^ERROR .*line" "subsystem: the over-long line is refused"
t_ok g "^ERROR verb " "subsystem: unknown verb answered ERROR verb"
t_ok g "^ERROR state " "subsystem: a verb out of place answered ERROR state"
t_ok g "^PONG alive$" "subsystem: still answers after the garbage"
t_ok g "^ALIVE$" "subsystem: still running"
t_ok g "^EOF-EXIT 0$" "subsystem: exits on end of input"
t_diag "subsystem answers: $(grep -a -v '^PONG' "$dir/garbage.out" | tr '\n' '|' | cut -c1-600)"

python3 "$dir/client.py" "$SUB" badflood "$dir/sub-badflood.log" >"$dir/badflood.out" 2>&1
nbad=$(grep -c "bad line from the peer ignored" "$dir/sub-badflood.log")
nerr=$(grep -c "peer: ERROR busy" "$dir/sub-badflood.log")
t_ok [ "$(grep -a -c "^ERROR verb " "$dir/badflood.out")" -eq 500 ] \
	"subsystem: each of 500 bad lines is answered"
t_ok [ "$nbad" -eq 32 ] "subsystem: but only 32 are logged ($nbad)"
t_ok grep -q "more than 32 bad lines from the peer in 60 s; counting the rest" \
	"$dir/sub-badflood.log" "subsystem: a notice says so"
t_ok grep -q "468 more bad lines from the peer suppressed" "$dir/sub-badflood.log" \
	"subsystem: and the rest are counted when the session ends"
t_ok [ "$nerr" -eq 32 ] "subsystem: 32 of 100 non-fatal ERRORs are logged ($nerr)"
t_ok grep -q "68 more ERROR reports from the peer suppressed" "$dir/sub-badflood.log" \
	"subsystem: the other 68 are counted"
t_ok grep -q "^PONG alive$" "$dir/badflood.out" "subsystem: still answers after that"

python3 "$dir/client.py" "$SUB" relay "$dir/sub-relay.log" >"$dir/relay.out" 2>&1
t_ok grep -q "^ERROR \(no-service\|unavailable\) " "$dir/relay.out" \
	"subsystem: RELAY of an unadvertised service is refused"
t_nok grep -q "^RELAYING" "$dir/relay.out" "subsystem: ... and no RELAYING"
t_ok grep -q "^EXITED 0$\|^EXITED 1$" "$dir/relay.out" "subsystem: ... and the session ends"

python3 "$dir/client.py" "$SUB" flood "$dir/sub-flood.log" >"$dir/flood.out" 2>&1
read -r _ sent _ rss _ stuck <<<"$(grep '^SENT' "$dir/flood.out")"
t_diag "subsystem flood: $sent bytes of PING accepted, RSS $rss kB, writer blocked $stuck times"
t_ok [ "${stuck:-0}" -gt 0 ] "subsystem: a client that never reads is pushed back (its writes block)"
t_ok [ "${rss:-999999}" -lt 32768 ] "subsystem: memory stays bounded under a PING flood ($rss kB)"
t_ok grep -q "^ALIVE$" "$dir/flood.out" "subsystem: alive after the flood"
t_ok grep -q "^EOF-EXIT 0$" "$dir/flood.out" "subsystem: exits on end of input after the flood"
t_done
