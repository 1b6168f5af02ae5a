#!/bin/bash
#
# tests/integration/publish.sh -- the publisher (common/publish.c) against
# real avahi-daemons.
#
# LAN B of the lab: brelay 10.2.0.1 runs tests/integration/publish-probe (the
# publisher driven through a FIFO), bcli 10.2.0.2 browses.  Checks, in order:
#   - entries added while brelay's avahi is down wait, and are published
#     when it starts;
#   - LAN scope: seen and resolved from bcli, to brelay's address; timed;
#   - host scope: seen and resolved on brelay, to 127.0.0.1 through the
#     lo-only address record; never seen on bcli, the record not resolvable
#     there;
#   - interface scope (eth0) with binary TXT items;
#   - TXT update in place reaches bcli; a port change re-adds;
#   - a name taken on bcli first: renamed "#2", both visible;
#   - remove: gone from bcli; timed;
#   - type enumeration: one record per type, while a service of it is
#     published (asked of brelay with dig); a name another client of
#     brelay holds: renamed at once, the enumeration held by the rename;
#   - avahi-daemon restart on brelay: everything back, exactly once;
#   - probe exit: goodbyes, gone from bcli;
#   - 300 services withdrawn at once, one of them added again at once: all
#     gone from bcli but that one, on its new port; a probe exiting with
#     300: its publisher's process (pid checked) withdraws them and ends by
#     itself, while a new probe publishes the same names (no rename), and
#     every goodbye of the last one's 300 reaches bcli.
# Timings go to the log as "# timing ..." lines.  Needs root; skips (77)
# otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later, by eval
# shellcheck disable=SC2034  # variables read only inside eval'ed code
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

: "${top_builddir:=$(cd "$here/../.." && pwd)}"
PROBE=$top_builddir/tests/integration/publish-probe
TYPE=_rnspub._tcp

t_require_lab
[ -x "$PROBE" ] || t_bail "$PROBE not built (make check builds it)"

lab_init || t_bail "lab_init failed"
lab_hosts brelay bcli || t_bail "cannot create hosts"
lab_lan B 10.2.0 brelay bcli || t_bail "cannot create LAN B"
lab_wait_avahi brelay bcli || t_bail "avahi not running"
D=$LAB_DIR/brelay
OUT=$D/probe.out
ERR=$D/probe.err
lab_atexit "[ -s '$ERR' ] && sed 's/^/# probe: /' '$ERR' | tail -n 60"

# --- helpers -----------------------------------------------------------

# now -- EPOCHREALTIME in milliseconds.
now() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo "$((10#$t / 1000))"
}

# ms T0 T1 -- T1 - T0 in milliseconds; both EPOCHREALTIME-like ("s.us").
ms() {
	local a=${1//[!0-9]/} b=${2//[!0-9]/}
	echo "$(((10#$b - 10#$a) / 1000))"
}

# cmd WORDS -- a command to the probe whose input is fd $PFD (7).
PFD=7
cmd() {
	printf '%s\n' "$*" >&"$PFD"
}

# out_has REGEX -- the probe printed a matching line.
out_has() {
	grep -Eq "$1" "$OUT"
}

out_count() {
	grep -Ec "$1" "$OUT" || true
}

# established KEY [NAME] -- the probe reported KEY established (as NAME).
established() {
	local key=${1// /%20} name=${2:-$1}
	name=${name// /%20}
	grep -Fxq "state $key established $name" "$OUT"
}

# get HOST NAME [IFACE [PROTO]] -- IFACE;PROTO;HOST;ADDR;PORT;TXT lines.
get() {
	lab_browse "$1" "$TYPE" 2>/dev/null | lab_browse_get "$2" "${3:-}" "${4:-}"
}

count() {
	lab_browse "$1" "$TYPE" 2>/dev/null | lab_browse_count "$2" "${3:-}" "${4:-}"
}

# first_time WATCH EVENT NAME AFTER -- first time stamp of EVENT for NAME
# (IPv4 on eth0) later than AFTER (s.us), or nothing.
first_time() {
	lab_watch_times "$1" "$2" "$3" eth0 IPv4 |
		awk -v after="$4" '$1 + 0 > after + 0 { print; exit }'
}

seen_after() {
	[ -n "$(first_time "$@")" ]
}

timing() {
	t_diag "timing: $*"
	printf '%s\n' "$*" >>"$LAB_DIR/timings"
}

# --- avahi down at start: entries wait -------------------------------------

lab_avahi_stop brelay || t_bail "cannot stop avahi on brelay"
mkfifo "$D/probe.in"
lab_bg brelay "$D/probe.pid" bash -c 'exec "$0" -v <"$1"' "$PROBE" \
	"$D/probe.in" >"$OUT" 2>"$ERR"
exec 7>"$D/probe.in"
t_ok lab_wait_for 5 out_has '^ready$' "probe starts without avahi-daemon"
W=$(lab_watch bcli "$TYPE")
cmd "add Early _rnspub._tcp 7000 lan early=1"
cmd "list"
t_ok lab_wait_for 5 out_has '^entry Early waiting Early$' \
	"entry added while avahi is down waits"
sleep 1
t_ok out_has '^entry Early waiting' "still waiting after 1 s"
lab_avahi_start brelay || t_bail "cannot start avahi on brelay"
T0=$EPOCHREALTIME
t_ok lab_wait_for 10 out_has '^avahi up$' "publisher reports avahi up"
t_ok lab_wait_for 10 established Early "waiting entry published once avahi runs"
t_ok lab_wait_for 5 seen_after "$W" = Early 0 "bcli resolves it"
timing "avahi start -> Early resolved on bcli: $(ms "$T0" "$(first_time "$W" = Early 0)") ms"

# --- LAN scope ----------------------------------------------------------

N1="Printer [siteA]"
T0=$EPOCHREALTIME
cmd "add Printer%20[siteA] _rnspub._tcp 8631 lan txtvers=1 rp=printers/a"
t_ok lab_wait_for 5 seen_after "$W" = "$N1" 0 "LAN scope: bcli resolves \"$N1\""
T1=$(first_time "$W" = "$N1" 0)
timing "add -> resolved on bcli (LAN scope): $(ms "$T0" "$T1") ms"
t_ok lab_wait_for 5 established "$N1" "probe reports it established"
# a one-shot browse right after the publication can come back without it:
# each check waits for its state
t_ok lab_wait_for 5 eval 'line=$(get bcli "$N1" eth0 IPv4 | head -n 1)
	[ "$(echo "$line" | cut -d";" -f4,5)" = "10.2.0.1;8631" ]' \
	"resolved to brelay's address 10.2.0.1, port 8631"
t_diag "bcli: $line"
t_ok eval 'case $line in *"\"txtvers=1\""*"\"rp=printers/a\""* | *"\"rp=printers/a\""*"\"txtvers=1\""*) true ;; *) false ;; esac' \
	"TXT items arrive"

# --- host scope ---------------------------------------------------------

N2="Local only"
WB=$(lab_watch brelay "$TYPE")
T0=$EPOCHREALTIME
cmd "add Local%20only _rnspub._tcp 8632 host h=1"
t_ok lab_wait_for 5 established "$N2" "host scope established"
t_ok lab_wait_for 5 eval '[ -n "$(lab_watch_times "$WB" = "$N2" lo IPv4)" ]' \
	"host scope: brelay resolves it on lo"
timing "add -> resolved on brelay (host scope): $(ms "$T0" "$(lab_watch_times "$WB" = "$N2" lo IPv4 | head -n1)") ms"
line=$(get brelay "$N2")
t_diag "brelay: $line"
HOSTREC=brelay-$LAB_ID-rnsplice.local
t_ok eval '[ "$(echo "$line" | cut -d";" -f1-5)" = "lo;IPv4;$HOSTREC;127.0.0.1;8632" ]' \
	"resolved on lo only, IPv4, through $HOSTREC to 127.0.0.1"
t_ok eval 'lab_exec brelay avahi-resolve -4 -n "$HOSTREC" 2>/dev/null | grep -q "127\.0\.0\.1"' \
	"$HOSTREC resolves to 127.0.0.1 on brelay"
# Connecting to what the resolver says reaches the local port.
lab_bg brelay "$D/nc.pid" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8632)); s.listen(1)
c, _ = s.accept(); c.sendall(b"hello\n"); c.close()' >/dev/null 2>&1
sleep 0.3
addr=$(echo "$line" | cut -d";" -f4)
t_ok eval 'lab_exec brelay bash -c "exec 3<>/dev/tcp/$addr/8632 && head -n1 <&3" | grep -qx hello' \
	"a client on brelay connects to the resolved address"
sleep 3
t_ok eval '[ -z "$(lab_watch_times "$W" + "$N2")" ]' \
	"host scope: never seen on bcli (watched for $(ms "$T0" "$EPOCHREALTIME") ms)"
t_ok eval '[ "$(count bcli "$N2")" = 0 ]' "host scope: not in a fresh browse on bcli"
t_nok eval 'lab_exec bcli avahi-resolve -4 -n "$HOSTREC" 2>/dev/null | grep -q "127\.0\.0\.1"' \
	"$HOSTREC does not resolve on bcli"

# --- interface scope, binary TXT -----------------------------------------

cmd "add Bin _rnspub._tcp 8633 iface eth0 k=%00%FF%C3 % z"
t_ok lab_wait_for 5 established Bin "interface scope (eth0) established"
t_ok lab_wait_for 5 seen_after "$W" = Bin 0 "bcli resolves it"
line=$(get bcli Bin eth0 IPv4)
t_diag "bcli: $line"
# avahi-browse prints bytes as \DDD (decimal); the empty item is left out.
t_ok eval 'case $line in *"\"k=\\000\\255\\195\""*) true ;; *) false ;; esac' \
	"binary TXT item (NUL, 0xff, lone 0xc3) arrives intact"
t_ok eval '[ "$(count brelay Bin lo)" = 0 ]' "interface scope: not on brelay's lo"

# --- TXT update, port change ---------------------------------------------

T0=$EPOCHREALTIME
cmd "txt Printer%20[siteA] txtvers=1 rp=printers/b"
t_ok lab_wait_for 8 eval 'get bcli "$N1" eth0 IPv4 | grep -q "rp=printers/b"' \
	"TXT update reaches bcli"
timing "TXT update -> fresh browse on bcli shows it: <= $(ms "$T0" "$EPOCHREALTIME") ms (one browse takes ~1 s)"
t_ok eval '[ -z "$(lab_watch_times "$W" - "$N1")" ]' \
	"TXT update in place: no removal seen on bcli"
t_ok grep -q 'TXT updated' "$ERR" "publisher logged an in-place TXT update"

T0=$EPOCHREALTIME
cmd "port Printer%20[siteA] 8640"
t_ok lab_wait_for 8 eval 'get bcli "$N1" eth0 IPv4 | cut -d";" -f5 | grep -qx 8640' \
	"port change reaches bcli"
timing "port change -> fresh browse on bcli shows it: <= $(ms "$T0" "$EPOCHREALTIME") ms"
t_ok eval '[ "$(get bcli "$N1" eth0 IPv4 | wc -l)" = 1 ]' \
	"one entry after the port change"

# --- collision -----------------------------------------------------------

P=$(lab_publish bcli "Shared" "$TYPE" 9999 owner=bcli)
lab_wait_published "$P" || t_bail "avahi-publish on bcli failed"
T0=$EPOCHREALTIME
cmd "add Shared _rnspub._tcp 8634 lan owner=brelay"
t_ok lab_wait_for 10 established Shared "Shared #2" \
	"name taken on bcli: renamed to \"Shared #2\" and established"
timing "add -> established under the new name: $(ms "$T0" "$EPOCHREALTIME") ms"
t_ok grep -q 'publish "Shared" _rnspub._tcp on all interfaces: collision, renamed to "Shared #2"' \
	"$ERR" "the rename is logged with both names"
t_ok lab_wait_for 5 seen_after "$W" = "Shared #2" 0 "bcli resolves \"Shared #2\""
t_ok lab_wait_for 5 eval 'get bcli "Shared #2" eth0 IPv4 | grep -q "10\.2\.0\.1;8634"' \
	"\"Shared #2\" is brelay's" ||
	lab_browse bcli "$TYPE" 2>/dev/null | grep Shared | sed 's/^/# bcli: /'
t_ok lab_wait_for 5 eval 'get bcli Shared eth0 IPv4 | grep -q "10\.2\.0\.2;9999"' \
	"\"Shared\" is still bcli's"
cmd "list"
t_ok lab_wait_for 3 out_has '^entry Shared established Shared%20#2$' \
	"pub_entry_name() gives the name in use"

# --- remove ---------------------------------------------------------------

T0=$EPOCHREALTIME
cmd "remove Bin"
t_ok lab_wait_for 5 seen_after "$W" - Bin 0 "removed: bcli sees it go"
timing "remove -> removal seen on bcli: $(ms "$T0" "$(first_time "$W" - Bin 0)") ms"

# Removing from within the callback (the probe does it when the entry
# reports established).
cmd "add Ephemeral _rnspub._tcp 8635 lan"
cmd "selfremove Ephemeral"
t_ok lab_wait_for 5 out_has '^removed Ephemeral$' \
	"an entry removed from within the callback"
t_ok lab_wait_for 5 seen_after "$W" - Ephemeral 0 "bcli sees it come and go"

# --- type enumeration --------------------------------------------------------

# The type's enumeration record (_services._dns-sd._udp PTR <type>) is
# published once per type, held by the services of that type: there while
# one of them is, withdrawn with the last. Asked of brelay's avahi-daemon
# from bcli (a one-shot query, which it answers from its own records).
enumerates() {
	lab_exec bcli dig +short +time=2 +tries=1 -p 5353 @10.2.0.1 \
		_services._dns-sd._udp.local PTR 2>/dev/null | grep -c "^$1\.local\.$"
}
t_ok eval '[ "$(enumerates _rnspub._tcp)" = 1 ]' \
	"type enumeration: _rnspub._tcp enumerated once for its services"
t_ok eval '[ "$(enumerates _rnsone._tcp)" = 0 ]' \
	"type enumeration: _rnsone._tcp not yet"
cmd "add One-a _rnsone._tcp 8651 lan"
cmd "add One-b _rnsone._tcp 8652 lan"
t_ok lab_wait_for 5 established One-a "One-a established"
t_ok lab_wait_for 5 established One-b "One-b established"
t_ok lab_wait_for 5 eval '[ "$(enumerates _rnsone._tcp)" = 1 ]' \
	"type enumeration: _rnsone._tcp enumerated once for two services"
t_ok eval 'lab_exec bcli timeout 10 avahi-browse -aptk 2>/dev/null | grep -q ";One-b;_rnsone._tcp;local$"' \
	"type enumeration: bcli browsing all types finds One-b"
cmd "remove One-a"
t_ok lab_wait_for 5 eval '[ "$(count bcli One-a)" = 0 ]' "One-a removed"
t_ok eval '[ "$(enumerates _rnsone._tcp)" = 1 ]' \
	"type enumeration: kept while One-b is published"
cmd "remove One-b"
t_ok lab_wait_for 5 eval '[ "$(enumerates _rnsone._tcp)" = 0 ]' \
	"type enumeration: withdrawn with the type's last service"
t_ok eval '[ "$(enumerates _rnspub._tcp)" = 1 ]' \
	"type enumeration: other types untouched"
# A name another client of brelay's avahi-daemon holds: refused when the
# records are added (no probing needed), renamed at once; the type's
# enumeration is held by the renamed service, not by the refused fill.
P2=$(lab_publish brelay "Two" _rnstwo._tcp 9998 owner=other)
t_ok lab_wait_published "$P2" "another client of brelay publishes \"Two\""
cmd "add Two _rnstwo._tcp 8653 lan"
t_ok lab_wait_for 10 established Two "Two #2" \
	"name held by another client on brelay: renamed to \"Two #2\""
t_ok grep -q 'publish "Two" _rnstwo._tcp on all interfaces: name in use on this host, renamed to "Two #2"' \
	"$ERR" "the local rename is logged with both names"
lab_unpublish "$P2"
t_ok lab_wait_for 5 eval '[ "$(enumerates _rnstwo._tcp)" = 1 ]' \
	"type enumeration: _rnstwo._tcp kept for \"Two #2\" after the other client left"
cmd "remove Two"
t_ok lab_wait_for 5 eval '[ "$(enumerates _rnstwo._tcp)" = 0 ]' \
	"type enumeration: _rnstwo._tcp withdrawn with \"Two #2\""

# --- avahi-daemon restart --------------------------------------------------

ups=$(out_count '^avahi up$')
downs=$(out_count '^avahi down$')
TR=$EPOCHREALTIME
lab_avahi_stop brelay || t_bail "cannot stop avahi on brelay"
t_ok lab_wait_for 5 eval '[ "$(out_count "^avahi down$")" -gt "$downs" ]' \
	"restart: publisher reports avahi down"
t_ok lab_wait_for 3 out_has '^state Early waiting Early$' "entries wait again"
lab_avahi_start brelay || t_bail "cannot start avahi on brelay"
TS=$EPOCHREALTIME
t_ok lab_wait_for 10 eval '[ "$(out_count "^avahi up$")" -gt "$ups" ]' \
	"restart: publisher reports avahi up"
for n in Early "Printer [siteA]" "Shared #2"; do
	t_ok lab_wait_for 8 seen_after "$W" = "$n" "$TS" "after restart: bcli resolves \"$n\" again"
done
timing "avahi start -> \"Printer [siteA]\" resolved on bcli again: $(ms "$TS" "$(first_time "$W" = "$N1" "$TS")") ms (stop + start took $(ms "$TR" "$TS") ms)"
t_ok lab_wait_for 8 eval 'lab_exec brelay avahi-resolve -4 -n "$HOSTREC" 2>/dev/null | grep -q "127\.0\.0\.1"' \
	"after restart: $HOSTREC resolves on brelay again"
t_ok lab_wait_for 5 eval 'get brelay "$N2" lo IPv4 | grep -q ";127\.0\.0\.1;8632;"' \
	"after restart: host scope back on brelay"
sleep 2
for n in Early "Printer [siteA]" "Shared #2"; do
	t_ok eval '[ "$(count bcli "$n" eth0 IPv4)" = 1 ]' \
		"after restart: \"$n\" exactly once on bcli"
	t_ok eval '[ "$(lab_watch_times "$W" + "$n" eth0 IPv4 | awk -v t="$TS" "\$1 > t" | wc -l)" = 1 ]' \
		"after restart: \"$n\" announced once"
done
t_ok eval '[ "$(count bcli "Shared #3")" = 0 ]' "no rename after restart"
t_ok eval '[ "$(enumerates _rnspub._tcp)" = 1 ]' \
	"after restart: _rnspub._tcp enumerated again"
t_ok eval '[ "$(count brelay "$N2" lo IPv4)" = 1 ]' "host scope: exactly once on brelay"
t_ok eval '[ "$(count bcli "$N2")" = 0 ]' "host scope: still not on bcli"
t_ok eval '[ "$(count bcli Bin)" = 0 ]' "removed entry stays removed"
t_ok eval '[ "$(get bcli "$N1" eth0 IPv4 | cut -d";" -f5)" = 8640 ]' \
	"after restart: updated port kept"
t_ok eval 'get bcli "$N1" eth0 IPv4 | grep -q "rp=printers/b"' \
	"after restart: updated TXT kept"

# --- probe exit: goodbyes ------------------------------------------------------

# The publisher is freed from within the callback, once "Last" is
# established: avahi withdraws everything when the client goes.
TL=$EPOCHREALTIME
cmd "add Last _rnspub._tcp 8636 lan"
cmd "selfquit Last"
t_ok lab_wait_for 5 out_has '^bye$' "publisher freed from within the callback"
T0=$EPOCHREALTIME
exec 7>&-
t_ok lab_wait_for 5 eval '! lab__alive "$(cat "$D/probe.pid")"' "probe exits"
t_ok lab_wait_for 5 seen_after "$W" - "$N1" "$TL" "publisher gone: bcli sees its services go"
timing "probe exit -> removal seen on bcli: $(ms "$T0" "$(first_time "$W" - "$N1" "$T0")") ms"

# --- many at once: withdrawals paced, also after the end --------------------

# A few hundred services withdrawn at once (an agent's session lost, an
# agent stopped) must all leave bcli: avahi-daemon sends a group's goodbyes
# as soon as it is freed, and a burst of them overflows bcli's socket
# buffer; a lost goodbye leaves the service listed for 75 minutes. The
# publisher paces its withdrawals, also in its child once the probe is done
# with it (it then outlives the probe), and a publisher started meanwhile
# with the same names waits for them rather than renaming.
NMANY=${PUBLISH_NMANY:-300}
MT=_rnsmany._tcp
# a TXT record of 750 bytes: a service's goodbye fills a packet (as a
# printer's does, or 8 services with no TXT), 300 packets per address
# family at once, and bcli's socket buffer (208 kB) holds about 90
PAD=$(printf 'x%.0s' {1..246})
MTXT="p1=$PAD p2=$PAD p3=$PAD"
PROBE_EXE=$(readlink -f "$PROBE")

# many_live WATCH -- Many-* names WATCH holds (IPv4 on eth0: seen and not
# removed since).
many_live() {
	lab__watch_log "$1" || return 1
	LC_ALL=C awk -F';' '
		$3 == "eth0" && $4 == "IPv4" && $5 ~ /^Many-[0-9]+$/ {
			if ($2 == "+") n[$5] = 1
			else if ($2 == "-") delete n[$5]
		}
		END { c = 0; for (k in n) c++; print c }' "$LAB__LOG"
}

# many_resolved PORT -- Many-* names a fresh browse on bcli resolves (IPv4
# on eth0) to PORT. (A watch does not do: a name withdrawn and published
# again within a second, its goodbye then its announcement, is no change to
# a browser, which does not resolve it again.)
many_resolved() {
	lab_browse bcli "$MT" 2>/dev/null | LC_ALL=C awk -F';' -v port="$1" '
		$1 == "=" && $2 == "eth0" && $3 == "IPv4" &&
		    $4 ~ /^Many-[0-9]+$/ && $9 == port { n[$4] = 1 }
		END { c = 0; for (k in n) c++; print c }'
}

# many_est OUT -- Many-* keys OUT last reported established under their
# own name.
many_est() {
	awk '$1 == "state" && $2 ~ /^Many-/ {
		s[$2] = ($3 == "established" && $4 == $2) }
		END { c = 0; for (k in s) c += s[k]; print c }' "$1"
}

# many VERB FIRST LAST [ARGS] -- VERB Many-FIRST ... Many-LAST (counting
# down if FIRST > LAST), at once.
many() {
	local i step=1
	[ "$2" -le "$3" ] || step=-1
	for ((i = $2; i != $3 + step; i += step)); do
		printf '%s Many-%d%s\n' "$1" "$i" "${4:+ $4}"
	done >&"$PFD"
}

# probe_start N FD -- probe N in brelay, its commands on fd FD (PFD).
probe_start() {
	OUT=$D/probe$1.out
	ERR=$D/probe$1.err
	PFD=$2
	mkfifo "$D/probe$1.in"
	lab_bg brelay "$D/probe$1.pid" bash -c 'exec "$0" -v <"$1"' "$PROBE" \
		"$D/probe$1.in" >"$OUT" 2>"$ERR"
	eval "exec $2>\"\$D/probe\$1.in\""
	lab_atexit "[ -s '$ERR' ] && grep -v ' publish \"Many-' '$ERR' | sed 's/^/# probe$1: /' | tail -n 40"
	lab_wait_for 5 out_has '^ready$' || t_bail "probe $1 did not start"
}

# pub_child PID -- the publisher's process of probe PID: its child running
# the same program.
pub_child() {
	local c
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$PROBE_EXE" ] || return 1
	for c in $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		if [ "$(readlink "/proc/$c/exe" 2>/dev/null)" = "$PROBE_EXE" ]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

udp_drops() {
	lab_exec bcli cat /proc/net/snmp /proc/net/snmp6 | awk '
		$1 == "Udp:" && $2 ~ /^[0-9]+$/ { n += $6 }
		$1 == "Udp6RcvbufErrors" { n += $2 }
		END { print n + 0 }'
}

probe_start 2 7
WM=$(lab_watch bcli "$MT")
many add 1 "$NMANY" "$MT 9100 lan $MTXT"
t_ok lab_wait_for 60 eval '[ "$(many_est "$OUT")" = "$NMANY" ]' \
	"$NMANY services established"
t_ok lab_wait_for 60 eval '[ "$(many_live "$WM")" = "$NMANY" ]' \
	"bcli sees all $NMANY"

# at run time: all removed at once, the last one added again at once, on
# another port (its old registration still waits to be withdrawn)
u0=$(udp_drops)
many remove 1 "$NMANY"
cmd "add Many-$NMANY $MT 9101 lan $MTXT"
t_ok lab_wait_for 60 eval '[ "$(many_live "$WM")" = 1 ]' \
	"$NMANY removed at once: bcli sees every one go but the one added again"
t_diag "bcli dropped $(($(udp_drops) - u0)) UDP datagrams (receive buffer full)"
t_ok lab_wait_for 20 eval '[ "$(many_resolved 9101)" = 1 ]' \
	"Many-$NMANY added again at once: bcli resolves it on its new port"
t_ok lab_wait_for 20 eval 'grep -qFx "state Many-$NMANY established Many-$NMANY" "$OUT"' \
	"... established under its own name"
t_nok grep -q '^state Many-[0-9]* [a-z]* Many-[0-9]*%20#' "$OUT" \
	"no Many-* renamed"

# at the end: the probe exits with all of them published while a new probe
# (connected already) publishes the same names on other ports at once: an
# agent restarted. In the opposite order (the old one withdraws the newest
# first): the first ones it publishes are the last ones withdrawn.
many add 1 $((NMANY - 1)) "$MT 9100 lan $MTXT"
t_ok lab_wait_for 60 eval '[ "$(many_live "$WM")" = "$NMANY" ]' \
	"$NMANY published again"
ppid2=$(cat "$D/probe2.pid")
pp2=$(pub_child "$ppid2")
t_ok eval '[ -n "$pp2" ] && [ "$pp2" -gt 1 ]' \
	"probe 2 ($ppid2) has its publisher's process (pid '$pp2')"
pp2start=
lab__proc_stat "$pp2" && pp2start=$LAB__START
ERR2=$ERR
probe_start 3 8
t_ok lab_wait_for 10 out_has '^avahi up$' "probe 3 connected to avahi-daemon"
PFD=7 cmd quit
many add 1 "$NMANY" "$MT 9200 lan $MTXT"
exec 7>&-
t_ok lab_wait_for 10 eval '! lab__alive "$ppid2"' "probe 2 exits"
t_ok lab_wait_for 30 eval '! lab__alive "$pp2" "$pp2start"' \
	"probe 2's publisher's process ($pp2) ends by itself"
t_ok grep -q "\[$pp2\]: publisher: its parent is done with it; withdrawing $NMANY services, paced" \
	"$ERR2" "it withdrew the services after probe 2 exited"
t_ok lab_wait_for 60 eval '[ "$(many_est "$OUT")" = "$NMANY" ]' \
	"probe 3: all $NMANY established under their own names"
t_diag "probe 3 waited for $(grep -c 'which is withdrawing it; waiting' "$ERR") names probe 2's process held"
t_nok grep -q '^state Many-[0-9]* [a-z]* Many-[0-9]*%20#' "$OUT" \
	"probe 3: no Many-* renamed"
t_ok lab_wait_for 60 eval '[ "$(many_resolved 9200)" = "$NMANY" ]' \
	"bcli resolves all $NMANY on probe 3's port"

# the agent stopped for good: every goodbye reaches bcli
ppid3=$(cat "$D/probe3.pid")
pp3=$(pub_child "$ppid3")
t_ok eval '[ -n "$pp3" ] && [ "$pp3" -gt 1 ]' \
	"probe 3 ($ppid3) has its publisher's process (pid '$pp3')"
pp3start=
lab__proc_stat "$pp3" && pp3start=$LAB__START
u0=$(udp_drops)
cmd quit
exec 8>&-
t_ok lab_wait_for 10 eval '! lab__alive "$ppid3"' "probe 3 exits"
t_ok lab_wait_for 30 eval '! lab__alive "$pp3" "$pp3start"' \
	"probe 3's publisher's process ($pp3) ends by itself"
t_ok lab_wait_for 30 eval '[ "$(many_live "$WM")" = 0 ]' \
	"probe 3 gone: bcli sees all $NMANY go"
t_diag "bcli dropped $(($(udp_drops) - u0)) UDP datagrams (receive buffer full)"
lab_unwatch "$WM"

t_done
