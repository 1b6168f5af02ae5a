#!/bin/bash
#
# tests/integration/subsystem-export.sh -- rnsplice-subsystem through sshd.
#
# Export (PROTOCOL.md section 8), the subsystem's side, driven by hand: a
# scripted agent on brelay speaks HELLO/EXPORT/FORWARDING over its own ssh
# ControlMaster and asks that master for the remote forward to the socket
# path (ssh -O forward -R PATH:HOST:PORT) to an echo service on bcli (LAN
# B); a real client on asrv (LAN A) finds the exported service with
# avahi-browse and moves checked bytes through it (xfer, half-close both
# ways).  Also: the default policy refuses, accept type/name/max and
# max-exports hold, interface IF listens there only, interface lo
# publishes for the server host only, a rule without interface publishes
# on the interfaces it listens on and not on another one avahi uses, and
# leaves out a public leg (an interface with a public IPv4 address): no
# listener on any of its addresses, its IPv6 link-local one included, no
# connection from that link, while LAN A's link-local address works and a
# rule naming the public leg uses it; an interface that becomes a public
# leg loses the listeners it had; a hostile agent is refused and
# capped and logged once while another session goes on, one copy per LAN,
# an exported service is not offered back to its agent, UNEXPORT and the
# end of the session withdraw it and remove the sockets and the
# directory.  The lab and the helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

XFER=$top_builddir/tests/integration/xfer
[ -x "$XFER" ] || t_bail "$XFER not built"
T=_rnsexp._tcp
W=_rnsweb._tcp
L=_rnslan._tcp
U=_rnspub._tcp
BCLI=$(lab_addr bcli) || t_bail "no address for bcli"
CM=$LAB_DIR/cm
lab_bg bcli "$LAB_DIR/echo.pid" "$XFER" serve 9100 echo >"$LAB_DIR/echo.out" 2>&1

# meta SITE... -- the splice metadata item, origin first
meta() {
	local IFS=,
	printf 'rnsplice=v1;o=%s;p=%s' "$1" "$*"
}
# field NAME VERB ID N -- field N (1: the verb) of session NAME's VERB ID line
field() {
	lines "$1" | awk -v v="$2" -v id="$3" -v n="$4" '$1 == v && $2 == id { print $n; exit }'
}
not_seen() { # HOST TYPE NAME
	! lab_seen "$@"
}
# xfer_ok HOST ADDR PORT -- checked echo transfers (3 x 200 kB, half-close
# both ways) from HOST; xfer's summary goes to the diagnostics
xfer_ok() {
	lab_exec "$1" "$XFER" run "$2" "$3" -m echo -n 3 -l 200000 \
		>"$LAB_DIR/xfer.out" 2>&1
	local rc=$?
	t_diag "xfer from $1 to $2 port $3: $(tail -n 1 "$LAB_DIR/xfer.out")"
	return "$rc"
}
# ll_echo HOST ADDR%IF PORT -- a line echoed back through ADDR%IF (IPv6,
# link-local); the error, if any, goes to the diagnostics
ll_echo() {
	lab_exec "$1" python3 -c '
import socket, sys
ai = socket.getaddrinfo(sys.argv[1], int(sys.argv[2]), socket.AF_INET6,
    socket.SOCK_STREAM)[0]
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.settimeout(10)
msg = b"over a link-local address\n"
try:
    s.connect(ai[4])
    s.sendall(msg)
    s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        got += d
except OSError as e:
    sys.exit("ll_echo %s port %s: %s" % (sys.argv[1], sys.argv[2], e))
sys.exit(0 if got == msg else "ll_echo: got %r" % got)' "$2" "$3" 2>"$LAB_DIR/ll.err"
	local rc=$?
	[ ! -s "$LAB_DIR/ll.err" ] || t_diag "$(cat "$LAB_DIR/ll.err")"
	return "$rc"
}
# linklocal HOST IF -- HOST's IPv6 link-local address on IF
linklocal() {
	lab_exec "$1" ip -6 -o addr show dev "$2" scope link |
		awk '{ sub(/\/.*/, "", $4); print $4; exit }'
}
# listens_ll HOST ADDR PORT -- a listener on ADDR (link-local), PORT
listens_ll() {
	lab_exec "$1" ss -Hltn "sport = :$3" | grep -qF -- "$2"
}
forward() { # PATH -- the remote forward to the echo service, through the master
	lab_exec brelay ssh -S "$CM" -O forward -R "$1:$BCLI:9100" siteA \
		>"$LAB_DIR/fwd.out" 2>&1 || { t_diag "ssh: $(cat "$LAB_DIR/fwd.out")"; return 1; }
}

# ---------------------------------------------------------------------------
t_diag "the default policy accepts nothing"

: >"$POLICY"
start d
ASITE=$(lines d | awk '$1 == "HELLO" { print $3; exit }')
t_ok has d '^HELLO 1\.2 [0-9a-z]+ subsystem relay,update,export,beat ' "HELLO 1.2 with the export and beat features"
say d "HELLO 1.1 bsite agent update,export"
say d "EXPORT 1 Echo%20one $T local 0 $(meta bsite)"
t_ok lab_wait_for 10 has d "^DROPPED 1 denied this%20server%20accepts%20no%20exports%20\(no%20accept%20rule%20in%20${POLICY//\//\\/}\)$" \
	"no accept rule: DROPPED denied, naming the file"
t_nok grep -q 'socket ' "$LAB_DIR/subsys.log" "... and nothing listens"
say d "!quit"

# ---------------------------------------------------------------------------
t_diag "accepted: listener, EXPORTING, forward, published, used from LAN A"

cat >"$POLICY" <<'EOF'
reject name "Echo secret*"
accept type _rnsexp._tcp name "Echo*" interface eth0 from 10.1.0.2 max 2
accept type _rnsweb._tcp interface lo
accept type _rnslan._tcp
accept type _rnspub._tcp interface eth1
max-exports 3
EOF
# as start(), but the ssh is a ControlMaster: the forwards go through it
mkfifo "$LAB_DIR/e.ctl"
: >"$LAB_DIR/e.log"
lab_bg brelay "$LAB_DIR/e.pid" python3 "$CLIENT" session "$LAB_DIR/e.log" "$LAB_DIR/e.ctl" \
	ssh -M -S "$CM" -o ControlMaster=yes siteA -s rnsplice >"$LAB_DIR/e.err" 2>&1
t_ok lab_wait_for 10 has e '^HELLO ' "a session through a ControlMaster"
say e "HELLO 1.1 bsite agent update,export"
say e "EXPORT 1 Echo%20one $T local 0 a=1 $(meta bsite)"
t_ok lab_wait_for 10 has e '^EXPORTING 1 [0-9]+ /' "EXPORT: EXPORTING id port path"
P1=$(field e EXPORTING 1 3)
S1=$(field e EXPORTING 1 4)
D1=${S1%/*}
t_ok [ "$S1" = "$D1/1.sock" ] "the socket path is DIR/ID.sock ($S1)"
t_ok lab_exec arelay test -d "$D1" -a ! -e "$S1" "the directory exists, the socket not yet"
t_ok [ "$(lab_exec arelay stat -c %a "$D1")" = 700 ] "the directory is mode 0700"
t_ok forward "$S1" "ssh -O forward -R $S1:$BCLI:9100"
t_ok lab_exec arelay test -S "$S1" "sshd listens on the socket path"
say e "FORWARDING 1"
t_ok lab_wait_for 10 lab_seen asrv $T "Echo one" "asrv (LAN A) sees \"Echo one\""
row=$(lab_browse asrv $T | lab_browse_get "Echo one" eth0 IPv4)
t_diag "asrv: $row"
addr=$(printf '%s' "$row" | cut -d';' -f4)
port=$(printf '%s' "$row" | cut -d';' -f5)
t_ok [ "$addr" = 10.1.0.1 ] "at arelay's LAN address ($addr)"
t_ok [ "$port" = "$P1" ] "on the EXPORTING port ($port)"
t_ok eval 'printf "%s" "$row" | grep -q "\"rnsplice=v1;o=bsite;p=bsite,$ASITE\""' \
	"the path carries arelay's site id"
t_ok eval 'printf "%s" "$row" | grep -q "\"a=1\""' "the agent's TXT items go along"
t_ok xfer_ok asrv "$addr" "$port" "3 x 200 kB echoed byte-exact through the export"
# the rule's "from 10.1.0.2": arelay's own 10.1.0.1 is not let in
lab_exec arelay timeout 5 bash -c "exec 3<>/dev/tcp/10.1.0.1/$port && cat <&3" \
	>/dev/null 2>&1
t_ok lab_wait_for 5 grep -q "export 1: client 10.1.0.1 refused: not in the accept rule's \"from\" prefixes" \
	"$LAB_DIR/subsys.log" "a client outside the rule's \"from\": closed and logged"
# "interface eth0": LAN A's interface only, not the WAN's (10.99.0.1)
t_ok [ "$(lab_addr arelay eth0)" = 10.1.0.1 ] "arelay's eth0 is on LAN A"
t_ok lab_exec arelay sh -c "ss -Hltn | grep -q '10.1.0.1:$P1 '" "interface eth0: listens on eth0's address"
t_nok lab_exec arelay sh -c "ss -Hltn | grep -q -e '10.99.0.1:$P1 ' -e '127.0.0.1:$P1 '" \
	"... not on the WAN's nor the loopback"

# not offered back to the agent that exported it; to another agent, yes
say e "BROWSE $T"
t_ok lab_wait_for 10 has e '^SYNCED$' "BROWSE of the exported type: SYNCED"
t_nok has e '^ADD [0-9]+ Echo%20one ' "the export is not offered back to its agent"
start o
say o "HELLO 1.1 osite agent update"
say o "BROWSE $T"
t_ok lab_wait_for 10 has o '^SYNCED$' "another agent's BROWSE"
t_ok has o "^ADD [0-9]+ Echo%20one $T local [^ ]+ [^ ]+ $P1 a=1 rnsplice=v1;o=bsite;p=bsite,$ASITE\$" \
	"... gets it, with the path"
say o "!quit"

# ---------------------------------------------------------------------------
t_diag "policy: reject, accept by name, max per rule, max-exports, interface lo"

say e "EXPORT 2 Echo%20secret%20box $T local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^DROPPED 2 denied .*rejected%20\(.*:1\)$' "reject name: DROPPED denied (FILE:LINE)"
say e "EXPORT 3 Other $T local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^DROPPED 3 denied .*no%20accept%20rule%20matches' "no rule matches: DROPPED denied"
say e "EXPORT 4 Echo%20two $T local $P1 $(meta bsite)"
t_ok lab_wait_for 10 has e '^EXPORTING 4 [0-9]+ /' "second export of the rule"
P4=$(field e EXPORTING 4 3)
t_ok [ "$P4" != "$P1" ] "the wished port was taken: another one ($P4)"
say e "EXPORT 5 Echo%20three $T local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^DROPPED 5 limit .*max%202' "max 2 of the rule: DROPPED limit"
say e "EXPORT 6 Web $W local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^EXPORTING 6 [0-9]+ /' "interface lo rule: EXPORTING"
say e "EXPORT 7 Web%20two $W local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^DROPPED 7 limit .*max-exports%203' "max-exports 3: DROPPED limit"
S6=$(field e EXPORTING 6 4)
P6=$(field e EXPORTING 6 3)
t_ok lab_exec arelay sh -c "ss -Hltn | grep -q '127.0.0.1:$P6 '" "interface lo: listens on 127.0.0.1"
t_nok lab_exec arelay sh -c "ss -Hltn | grep -q '10.1.0.1:$P6 '" "... not on the LAN address"
t_ok forward "$S6" "forward for the lo export"
say e "FORWARDING 6"
t_ok lab_wait_for 10 lab_seen arelay $W Web "interface lo: arelay itself sees \"Web\""
t_ok xfer_ok arelay 127.0.0.1 "$P6" "... and uses it on 127.0.0.1"
t_nok lab_seen asrv $W Web "... LAN A does not"

# ---------------------------------------------------------------------------
t_diag "a hostile agent"

start h
say h "HELLO 1.1 hsite agent update,export"
say h "EXPORT 1 Echo%1B[31mred $T local 0 $(meta hsite)"
t_ok lab_wait_for 10 has h '^DROPPED 1 syntax .*control%20characters' "control characters in the name: DROPPED syntax"
say h "EXPORT 2 Echo%20x $T local 70000 $(meta hsite)"
t_ok lab_wait_for 10 has h '^DROPPED 2 syntax EXPORT:%20field%205%20\(port\):%2070000%20out%20of%20range' \
	"port 70000: DROPPED syntax, by id"
say h "EXPORT 3 Echo%20x $T local 0 a=1"
t_ok lab_wait_for 10 has h '^DROPPED 3 syntax .*no%20splice%20metadata' "no metadata: DROPPED syntax"
say h "EXPORT 4 Echo%20x $T local 0 $(meta zsite)"
t_ok lab_wait_for 10 has h '^DROPPED 4 syntax .*must%20end%20with%20the%20agent' "path not ending with the agent: DROPPED syntax"
say h "EXPORT 5 Echo%20x $T local 0 $(meta "$ASITE" hsite)"
t_ok lab_wait_for 10 has h '^DROPPED 5 loop ' "path holding the server's site: DROPPED loop"
say h "EXPORT 6 Echo%20x $T local 0 $(meta a1 a2 a3 a4 hsite)"
t_ok lab_wait_for 10 has h '^DROPPED 6 loop .*max-hops' "4 hops: DROPPED loop (max-hops)"
say h "EXPORT 7 Echo%20x $T local 0 $(meta hsite) $(printf 'x%.0s' {1..300})"
t_ok lab_wait_for 10 has h '^DROPPED 7 syntax ' "an oversize TXT item: DROPPED syntax"
# a flood: 4 x max-exports lines a minute, the rest refused, logged once
flood=
for i in $(seq 100 139); do
	flood+="EXPORT $i Nope$i $T local 0 $(meta hsite)"$'\n'
done
say h "${flood%$'\n'}"
t_ok lab_wait_for 10 has h '^DROPPED 139 ' "a flood of 40 EXPORTs: all answered"
n=$(count h '^DROPPED [0-9]+ limit more%20than%2012%20EXPORT%20lines')
t_ok [ "$n" -eq 35 ] "the lines past 12 a minute: DROPPED limit ($n)"
n=$(grep -c 'more than 12 EXPORT lines in a minute, refusing the rest (logged once)' "$LAB_DIR/subsys.log")
t_ok [ "$n" -eq 1 ] "the flood is logged once ($n)"
t_ok eval '[ "$(grep -c "export [0-9]* from hsite: " "$LAB_DIR/subsys.log")" -le 33 ]' \
	"refusals are logged within limits"
say h "!quit"
t_ok xfer_ok asrv 10.1.0.1 "$P1" "the other session's export still works"

# ---------------------------------------------------------------------------
t_diag "one copy per LAN"

# another agent offers the same origin service by a longer path: LAN A
# has a copy with fewer hops already
start c
say c "HELLO 1.1 csite agent update,export"
say c "BROWSE $T"
t_ok lab_wait_for 10 has c '^SYNCED$' "a third agent browses the type"
say c "EXPORT 1 Echo%20one%20(c) $T local 0 $(meta bsite csite);n=Echo%20one"
t_ok lab_wait_for 10 has c '^DROPPED 1 duplicate .*fewer%20hops' \
	"the same origin service, 2 hops against 1: DROPPED duplicate"
say c "!quit"

# ---------------------------------------------------------------------------
t_diag "UNEXPORT, session end"

say e "UNEXPORT 6"
t_ok lab_wait_for 10 not_seen arelay $W Web "UNEXPORT: withdrawn"
t_ok lab_exec arelay test ! -e "$S6" "... its socket removed"
t_nok lab_exec arelay sh -c "ss -Hltn | grep -q ':$P6 '" "... its listener closed"

# ---------------------------------------------------------------------------
t_diag "no interface in the rule: published where it listens, nowhere else; not on a public leg"

# LAN C joins arelay and asrv on eth1: avahi runs there, but it is a public
# leg of arelay's (a public IPv4 prefix, as a server's internet-facing
# link), so nothing listens on any of its addresses -- its IPv6 link-local
# one included -- and nothing may be published there
lab_lan C 198.51.100 arelay:eth1 asrv:eth1 || t_bail "LAN C"
LL0=$(linklocal arelay eth0)
LL1=$(linklocal arelay eth1)
{ [ -n "$LL0" ] && [ -n "$LL1" ]; } || t_bail "arelay: no link-local addresses on eth0, eth1"
t_diag "arelay: eth0 $LL0, eth1 $LL1"
t_ok lab_wait_for 15 lab_seen asrv _http._tcp "Relay web" eth1 IPv4 \
	"LAN C carries mDNS: asrv sees arelay's own service on eth1"
say e "EXPORT 8 Lan%20echo $L local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^EXPORTING 8 [0-9]+ /' "EXPORT under a rule without interface: EXPORTING"
P8=$(field e EXPORTING 8 3)
S8=$(field e EXPORTING 8 4)
t_ok lab_exec arelay sh -c "ss -Hltn | grep -q '10.1.0.1:$P8 '" "listens on LAN A's address"
t_nok lab_exec arelay sh -c "ss -Hltn | grep -q -e '198.51.100.1:$P8 ' -e '0.0.0.0:$P8 '" \
	"... not on LAN C's public one"
t_ok listens_ll arelay "$LL0" "$P8" "listens on LAN A's link-local address ($LL0)"
t_nok listens_ll arelay "$LL1" "$P8" "... not on the public leg's ($LL1)"
t_ok grep -q "exports: interface eth1 is a public leg (public address 198.51.100.1): none of its addresses is listened on" \
	"$LAB_DIR/subsys.log" "the log says why eth1 is left out"
t_ok forward "$S8" "forward for the export without interface"
say e "FORWARDING 8"
t_ok lab_wait_for 10 grep -q "export 8 from bsite: \"Lan echo\" $L published on eth0, port $P8" \
	"$LAB_DIR/subsys.log" "published on eth0, as logged"
t_nok grep -q -e "export 8 from bsite: .* published on eth1" -e "published on all interfaces" \
	"$LAB_DIR/subsys.log" "... and not on eth1"
t_ok lab_wait_for 10 lab_seen asrv $L "Lan echo" eth0 IPv4 "asrv sees \"Lan echo\" on LAN A"
row=$(lab_browse asrv $L | lab_browse_get "Lan echo" eth0 IPv4)
t_ok xfer_ok asrv "$(printf '%s' "$row" | cut -d';' -f4)" "$P8" "... and uses it"
t_ok ll_echo asrv "$LL0%eth0" "$P8" "... also through arelay's link-local address on LAN A"
t_nok ll_echo asrv "$LL1%eth1" "$P8" "no connection from the public leg's link to its link-local address"
# established on eth0: had it been published on eth1 too, arelay's own
# browser would list it there now, and asrv hears what arelay announced
n=$(lab_browse arelay $L | lab_browse_count "Lan echo" eth1)
t_ok [ "${n:-0}" -eq 0 ] "arelay does not list it on eth1 ($n)"
n=$(lab_browse asrv $L | lab_browse_count "Lan echo" eth1)
t_ok [ "${n:-0}" -eq 0 ] "asrv does not see it on LAN C ($n)"
n=$(lab_browse asrv $T | lab_browse_count "Echo one" eth1)
t_ok [ "${n:-0}" -eq 0 ] "nor \"Echo one\" (interface eth0) ($n)"
n=$(grep -c "exports: interface eth1 is a public leg" "$LAB_DIR/subsys.log")
t_ok [ "$n" -eq 1 ] "the public leg is logged once per session ($n)"

# a rule that names the public leg uses it, link-local address included
say e "UNEXPORT 4"
t_ok lab_wait_for 10 eval '! lab_exec arelay sh -c "ss -Hltn | grep -q \":$P4 \""' \
	"UNEXPORT 4 (room under max-exports)"
say e "EXPORT 9 Pub%20echo $U local 0 $(meta bsite)"
t_ok lab_wait_for 10 has e '^EXPORTING 9 [0-9]+ /' "EXPORT under \"interface eth1\": EXPORTING"
P9=$(field e EXPORTING 9 3)
S9=$(field e EXPORTING 9 4)
t_ok lab_exec arelay sh -c "ss -Hltn | grep -q '198.51.100.1:$P9 '" "interface eth1: listens on its public address"
t_ok listens_ll arelay "$LL1" "$P9" "... and on its link-local address"
t_nok listens_ll arelay "$LL0" "$P9" "... not on LAN A's"
t_ok forward "$S9" "forward for the export on the public leg"
say e "FORWARDING 9"
t_ok lab_wait_for 10 lab_seen asrv $U "Pub echo" eth1 "asrv sees \"Pub echo\" on eth1"
t_ok ll_echo asrv "$LL1%eth1" "$P9" "... and uses it through the link-local address"

# an interface becomes a public leg while "Lan echo" listens there by the
# LAN rule: its listeners there close at once (rtnetlink), LAN A's stay
LLW=$(linklocal arelay wan0)
t_diag "\"Lan echo\" listens on: $(lab_exec arelay ss -Hltn "sport = :$P8" | awk '{ printf "%s ", $4 }')"
t_ok lab_exec arelay sh -c "ss -Hltn | grep -q '10.99.0.1:$P8 '" \
	"\"Lan echo\" listens on wan0 (10.99.0.1, a WAN leg on a private network)"
t_ok listens_ll arelay "$LLW" "$P8" "... and on its link-local address ($LLW)"
lab_exec arelay ip addr add 203.0.113.1/24 dev wan0 || t_bail "arelay: a public address on wan0"
t_ok lab_wait_for 10 eval '! lab_exec arelay sh -c "ss -Hltn | grep -q \"10.99.0.1:$P8 \""' \
	"wan0 gets a public address: the listener on 10.99.0.1 closes"
t_nok listens_ll arelay "$LLW" "$P8" "... and the one on its link-local address"
t_ok grep -q "export 8 from bsite: \"Lan echo\" $L: interface wan0 is a public leg now: its listeners there closed" \
	"$LAB_DIR/subsys.log" "... as logged"
t_ok listens_ll arelay "$LL0" "$P8" "LAN A's listeners stay"
t_ok xfer_ok asrv 10.1.0.1 "$P8" "... and carry bytes"
t_ok lab_exec arelay sh -c "ss -Hltn | grep -q '198.51.100.1:$P9 '" "the export naming eth1 keeps its listeners"
pid=$(subsys_pid)
say e '!close'
t_ok lab_wait_for 10 dead "$pid" "end of input: the subsystem exits"
t_ok lab_wait_for 10 not_seen asrv $T "Echo one" "the export leaves LAN A"
# "Lan echo" is published on eth0 and wan0 (both listened on); avahi sends
# the goodbyes of the publication withdrawn last only
# (rnsplice-subsystem.conf(5)): at the session's end the newest goes
# first with either backend, eth0's (the first listener) last
t_ok lab_wait_for 10 not_seen asrv $L "Lan echo" "... and so does the one without interface"
t_ok lab_exec arelay test ! -e "$D1" "the directory is removed"
t_nok lab_exec arelay sh -c "ss -Hltn | grep -q -e ':$P1 ' -e ':$P8 ' -e ':$P9 '" "nothing listens any more"
say e '!quit'
lab_exec brelay ssh -S "$CM" -O exit siteA >/dev/null 2>&1
t_nok grep -q -e "Sanitizer" -e "runtime error" "$LAB_DIR/subsys.log" \
	"no sanitizer report from the subsystems"
t_done
