#!/bin/bash
#
# tests/integration/reload.sh -- SIGHUP re-reads agent.conf, in the lab;
# and a remote whose server has no "Subsystem rnsplice" line, reached with
# subsystem-command (the subsystem installed in the login's home, with the
# user's own policy).
#
#   asrv (LAN A) --- arelay [sshd] ==WAN== brelay [agent] --- bcli (LAN B)
#
# One transfer runs through the first remote's splice the whole time: a
# remote added, one changed, one removed, a broken file; none of it may
# touch the first remote's ssh master or that connection.  Then arelay's
# sshd is restarted without the Subsystem line (open sessions survive, as
# on a real server), and a remote added with subsystem-command splices
# what the user's policy offers.  Needs root; skips (77) otherwise.

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
[ -x "$AGENT" ] || t_skip "no agent at $AGENT"
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_skip "no subsystem at $RNSPLICE_SUBSYSTEM"
command -v curl >/dev/null || t_skip "curl not installed"
command -v python3 >/dev/null || t_skip "python3 not installed"

T=_http._tcp
lab_init || t_bail "lab_init failed"
CONF=$LAB_DIR/brelay/agent.conf
ALOG=$LAB_DIR/brelay/agent.log
dump_logs() {
	[ "$T_FAILED" -ne 0 ] || return 0
	t_diag "--- last lines of $ALOG"
	tail -n 80 "$ALOG" | sed 's/^/# /'
}
lab_atexit dump_logs
t_diag "lab $LAB_ID in $LAB_DIR; agent $AGENT; subsystem $RNSPLICE_SUBSYSTEM"
lab_topology_basic || t_bail "lab_topology_basic failed"

spliced() { # NAME [TYPE] -- "ADDRESS PORT" of NAME as bcli resolves it
	lab_browse bcli "${2:-$T}" 2>/dev/null | lab_browse_get "$1" eth0 IPv4 |
		head -n 1 | cut -d';' -f4,5 | tr ';' ' '
}
seen() { [ -n "$(spliced "$@")" ]; }
gone() { ! lab_seen bcli "${2:-$T}" "$1"; }
logged() { grep -qF -- "$1" "$ALOG"; }
status_json() {
	lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock --json status 2>/dev/null
}
# remote_field NAME FIELD -- a field of remote NAME in rnsplice --json status
remote_field() {
	status_json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d["remotes"]:
    if r["name"] == sys.argv[1]:
        print(r[sys.argv[2]])' "$1" "$2"
}
hup() {
	kill -HUP "$agent"
}

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello $LAB_ID" >"$www/index.html"
head -c 24M /dev/urandom >"$www/big.bin"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http server on asrv"
WEB="Web $LAB_ID"
SECRET="Secret $LAB_ID"
p1=$(lab_publish asrv "$WEB" $T 8080 path=/)
p2=$(lab_publish asrv "$SECRET" $T 8080 path=/)
# another type, for the remotes added later: one origin service is
# spliced by one remote only (the shortest path, then configuration order);
# a second remote of the same server must serve another audience (scope),
# or it is refused for claiming siteA's site id
P=_ipp._tcp
PRINTER="Printer $LAB_ID"
p3=$(lab_publish asrv "$PRINTER" $P 631)
for p in "$p1" "$p2" "$p3"; do
	lab_wait_published "$p" || t_bail "publish on asrv"
done

cat >"$CONF" <<CONFEOF
allow-root yes
types $T
remote siteA {
}
CONFEOF
t_agent brelay "$LAB_DIR/agent.pid" "$ALOG" -v -f "$CONF"
agent=$T_AGENT_PID
t_ok lab_wait_for 20 seen "$WEB (siteA)" "siteA splices \"$WEB\""
read -r addr port <<<"$(spliced "$WEB (siteA)")"
sshpid=$(remote_field siteA ssh_pid)
t_diag "siteA: $addr:$port, ssh pid $sshpid"

# the connection that must survive every reload: a client on bcli that
# reads slowly (160 kB/s) until told to go on, then reads the rest
cat >"$LAB_DIR/slowget.py" <<'PYEOF2'
import os, socket, sys, time
host, port, path, out, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.create_connection((host, port), timeout=120)
s.sendall(("GET %s HTTP/1.0\r\nHost: x\r\n\r\n" % path).encode())
parts = []
while True:
    d = s.recv(16384 if not os.path.exists(go) else 1 << 20)
    if not d:
        break
    parts.append(d)
    if not os.path.exists(go):
        time.sleep(0.1)
head, _, body = b"".join(parts).partition(b"\r\n\r\n")
open(out, "wb").write(body)
PYEOF2
GO=$LAB_DIR/bcli/go
lab_bg bcli "$LAB_DIR/slow.pid" python3 "$LAB_DIR/slowget.py" "$addr" "$port" \
	/big.bin "$LAB_DIR/bcli/got.bin" "$GO"
read -r slow <"$LAB_DIR/slow.pid"
curl_alive() { kill -0 "$slow" 2>/dev/null; }
t_ok lab_wait_for 10 eval 'status_json | grep -q "\"live\":1"' "the transfer has started"

# --- added ----------------------------------------------------------------
cat >"$CONF" <<CONFEOF
allow-root yes
types $T
remote siteA {
}
remote second {
	destination siteA
	scope interface eth0
	types $P
}
CONFEOF
hup
t_ok lab_wait_for 5 logged "SIGHUP: $CONF re-read: 1 remote kept, 0 changed, 1 added, 0 removed" \
	"SIGHUP: the file is re-read, one remote added"
t_ok lab_wait_for 20 seen "$PRINTER (second)" $P "the added remote splices \"$PRINTER (second)\""
t_ok [ "$(remote_field siteA ssh_pid)" = "$sshpid" ] "siteA keeps its ssh master"
t_ok curl_alive "the transfer through siteA goes on"

# --- changed --------------------------------------------------------------
cat >"$CONF" <<CONFEOF
allow-root yes
types $T
remote siteA {
}
remote second {
	destination siteA
	scope interface eth0
	types $P
	name-template "%n via second"
}
CONFEOF
hup
t_ok lab_wait_for 5 logged "SIGHUP: second: changed; reconnecting with the new settings" \
	"a changed remote is restarted"
t_ok lab_wait_for 20 seen "$PRINTER via second" $P "... with its new name template"
t_ok lab_wait_for 10 gone "$PRINTER (second)" $P "... and its old names withdrawn"
t_ok [ "$(remote_field siteA ssh_pid)" = "$sshpid" ] "siteA still keeps its ssh master"

# --- removed --------------------------------------------------------------
cat >"$CONF" <<CONFEOF
allow-root yes
types $T
remote siteA {
}
CONFEOF
hup
t_ok lab_wait_for 5 logged "SIGHUP: second: removed" "a removed remote is logged"
t_ok lab_wait_for 10 gone "$PRINTER via second" $P "... and its services withdrawn"
t_ok [ "$(status_json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["remotes"]))')" = 1 ] \
	"rnsplice status lists one remote"
t_ok seen "$WEB (siteA)" "siteA's service stays published"

# --- broken ---------------------------------------------------------------
cp "$CONF" "$LAB_DIR/agent.conf.good"
printf 'remote siteA {\n\tscope lan2\n}\n' >"$CONF"
hup
t_ok lab_wait_for 5 logged "SIGHUP: $CONF:2: unknown scope \"lan2\" (expected lan, host, interface); keeping the running configuration" \
	"a broken file: the reason is logged, the configuration kept"
t_ok eval 'lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock status |
	grep -qF "the last reload (SIGHUP) failed"' "rnsplice status says the reload failed"
t_ok eval 'status_json | grep -qF "\"reload_error\":\"$CONF:2: unknown scope"' \
	"... and so does --json (reload_error)"
t_ok [ "$(remote_field siteA state)" = synced ] "siteA is still synced"
t_ok [ "$(remote_field siteA ssh_pid)" = "$sshpid" ] "siteA kept its ssh master throughout"
t_ok curl_alive "the transfer is still running after all the reloads"
cp "$LAB_DIR/agent.conf.good" "$CONF"
hup
t_ok lab_wait_for 5 eval '! status_json | grep -qF reload_error' \
	"a good file again clears the reload error"

touch "$GO"
t_ok lab_wait_for 90 eval '! curl_alive' "the transfer ends"
t_ok cmp -s "$www/big.bin" "$LAB_DIR/bcli/got.bin" \
	"the transfer through siteA is complete and intact (24 MB)"

# --- subsystem-command: no Subsystem line on the server ---------------------
# arelay's admin did not install the subsystem; the user has it in their
# home, and their own policy hides "Secret".
home=$LAB_DIR/arelay/home
mkdir -p "$home/.local/libexec" "$home/.config/rnsplice"
cp "$RNSPLICE_SUBSYSTEM" "$home/.local/libexec/rnsplice-subsystem"
printf 'deny name "Secret *"\nallow type %s\n' "$T" >"$home/.config/rnsplice/subsystem.conf"
LAB_NO_SUBSYSTEM=1 lab_sshd_stop arelay && LAB_NO_SUBSYSTEM=1 lab_sshd arelay ||
	t_bail "restart arelay's sshd without the Subsystem line"
t_nok grep -q '^Subsystem rnsplice' "$LAB_DIR/arelay/sshd/sshd_config" \
	"arelay's sshd has no Subsystem rnsplice line now"
t_nok eval 'lab_exec brelay ssh -s siteA rnsplice </dev/null >/dev/null 2>&1' \
	"ssh -s siteA rnsplice fails there"
cat >"$CONF" <<CONFEOF
allow-root yes
types $T
remote plain {
	destination siteA
}
remote home {
	destination siteA
	subsystem-command ~/.local/libexec/rnsplice-subsystem
}
CONFEOF
hup
t_ok lab_wait_for 20 seen "$WEB (home)" \
	"subsystem-command: \"$WEB (home)\" spliced without a Subsystem line"
read -r haddr hport <<<"$(spliced "$WEB (home)")"
t_ok eval 'lab_exec bcli curl -sS --max-time 20 "http://$haddr:$hport/index.html" |
	cmp -s - "$www/index.html"' "... and answers through the splice"
t_ok lab_wait_for 5 eval 'lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock --json services |
	grep -F "\"remote\":\"home\"" | grep -qF "\"name\":\"$WEB\""' "home: the web service is listed"
t_nok eval 'lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock --json services |
	python3 -c "import json,sys; sys.exit(0 if any(s[\"remote\"] == \"home\" and s[\"name\"].startswith(\"Secret\") for s in json.load(sys.stdin)) else 1)"' \
	"home: the user's policy (~/.config/rnsplice/subsystem.conf) hides \"$SECRET\""

# relay mode through a command session: sshd now forbids forwarding; the
# changed remote logs in again and carries connections through
# "subsystem-command -u" sessions of its own
printf 'DisableForwarding yes\nMaxSessions 32\n' >"$LAB_DIR/nofwd.conf"
LAB_NO_SUBSYSTEM=1 lab_sshd_stop arelay &&
	LAB_NO_SUBSYSTEM=1 lab_sshd arelay "$LAB_DIR/nofwd.conf" ||
	t_bail "restart arelay's sshd without forwarding"
sed -i 's|^\tsubsystem-command ~/.local/libexec/rnsplice-subsystem$|&\n\tname-template "%n via home"|' "$CONF"
hup
t_ok lab_wait_for 20 seen "$WEB via home" "home reconnected under the new sshd"
read -r haddr hport <<<"$(spliced "$WEB via home")"
t_ok eval 'lab_exec bcli curl -sS --max-time 20 "http://$haddr:$hport/index.html" |
	cmp -s - "$www/index.html"' "forwarding forbidden: the page comes through a relay session"
t_ok lab_wait_for 5 eval '[ "$(remote_field home mode)" = subsystem-relay ]' \
	"... home is in relay mode, its relay sessions run the command"
t_ok lab_wait_for 10 eval '[ -n "$(remote_field plain last_error)" ] && [ "$(remote_field plain last_error)" != None ]' \
	"a remote without subsystem-command fails against that server"
t_diag "plain: $(remote_field plain last_error)"

lab_stop "$agent"
t_nok grep -q "ssh did not exit in time" "$ALOG" "SIGTERM: every ssh exited with the agent"
t_nok grep -q -e "Sanitizer" -e "runtime error" "$ALOG" "no sanitizer report from the agent"
t_done
