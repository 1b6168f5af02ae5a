#!/bin/bash
#
# tests/integration/subsystem.sh -- rnsplice-subsystem through a real sshd.
#
# In lab_topology_basic, brelay runs "ssh siteA -s rnsplice" against
# arelay's sshd and talks protocol v1 (tests/integration/subsystem-client.py
# does the talking).  Checks: the greeting, the snapshot of LAN A (a tricky
# instance name, binary TXT, one entry per instance, the LAN address before
# loopback), live ADD / UPDATE (TXT changed in place) / REMOVE, the policy
# file (hiding, whitelists, a broken file), ERROR version, relay sessions
# (bytes and half-close both ways, refusals that open nothing), keepalive,
# an avahi-daemon restart, exit on end of input, the snapshot time of 50
# services, and the sshd drop-in.  Needs root; skips (77) otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab

SUB=$top_builddir/subsystem/rnsplice-subsystem
# RNSPLICE_INSTALLED (lab.sh): the installed subsystem
[ -n "${RNSPLICE_INSTALLED:-}" ] && SUB=$RNSPLICE_SUBSYSTEM
TXTPUB=$top_builddir/tests/integration/subsystem-txtpub
CLIENT=$here/subsystem-client.py
for f in "$SUB" "$TXTPUB"; do
	[ -x "$f" ] || t_bail "$f not built"
done

lab_init || t_bail "lab_init failed"
POLICY=$LAB_DIR/policy.conf
: >"$POLICY"
# sshd runs this for "ssh -s rnsplice": it records the subsystem's PID (exec
# keeps it) and keeps its debug log, which sshd would discard.
cat >"$LAB_DIR/subsys-wrapper" <<EOF
#!/bin/sh
echo \$\$ >>"$LAB_DIR/subsys.pids"
exec "$SUB" -dd -f "$POLICY" 2>>"$LAB_DIR/subsys.log"
EOF
chmod +x "$LAB_DIR/subsys-wrapper"
RNSPLICE_SUBSYSTEM=$LAB_DIR/subsys-wrapper
lab_atexit '[ "$T_FAILED" -eq 0 ] || { echo "# --- subsystem log (tail) ---"; tail -n 80 "$LAB_DIR/subsys.log" | sed "s/^/# /"; }'

lab_topology_basic || t_bail "lab topology failed"
HA=asrv-$LAB_ID.local
HR=arelay-$LAB_ID.local

# ---------------------------------------------------------------------------
# Helpers.

# start NAME [nowait] -- a protocol session from brelay through sshd, in
# the background: lines in $LAB_DIR/NAME.log ("MS LINE"), send with say.
# Waits for the subsystem's HELLO unless told not to.
start() {
	mkfifo "$LAB_DIR/$1.ctl"
	: >"$LAB_DIR/$1.log"
	lab_bg brelay "$LAB_DIR/$1.pid" python3 "$CLIENT" session \
		"$LAB_DIR/$1.log" "$LAB_DIR/$1.ctl" ssh siteA -s rnsplice \
		>"$LAB_DIR/$1.err" 2>&1
	[ "${2:-}" = nowait ] && return 0
	lab_wait_for 10 has "$1" '^HELLO ' || t_diag "$1: no HELLO"
}

# say NAME LINE -- send one line ("!close": end of input, "!quit": stop
# the client). A FIFO whose reader is gone would block: time out.
say() {
	timeout 2 bash -c 'printf "%s\n" "$1" >"$0"' "$LAB_DIR/$1.ctl" "$2" ||
		t_diag "say $1: the client is gone"
}

# has NAME REGEX -- a line of session NAME matches (timestamps stripped).
has() {
	cut -d' ' -f2- "$LAB_DIR/$1.log" | grep -Eq -- "$2"
}

# count NAME REGEX -- how many lines match.
count() {
	cut -d' ' -f2- "$LAB_DIR/$1.log" | grep -Ec -- "$2"
}

# ids NAME VERB REST -- ids of VERB lines ("ADD 7 REST") whose REST is
# exactly REST.
ids() {
	# ENVIRON, not -v: awk -v would eat the backslashes
	verb=$2 want=$3 LC_ALL=C awk '
		BEGIN { verb = ENVIRON["verb"]; want = ENVIRON["want"] }
		$2 == verb { id = $3; sub(/^[0-9]+ [A-Z]+ [0-9]+ /, "")
			if ($0 == want) print id }' "$LAB_DIR/$1.log"
}

has_svc() { # NAME VERB REST
	[ -n "$(ids "$@")" ]
}

# when NAME REGEX -- time stamp (ms) of the first matching line.
when() {
	re=$2 LC_ALL=C awk 'BEGIN { re = ENVIRON["re"] }
		{ t = $1; sub(/^[0-9]+ /, "") } $0 ~ re { print t; exit }' \
		"$LAB_DIR/$1.log"
}

# lines NAME -- the protocol lines, without time stamps.
lines() {
	cut -d' ' -f2- "$LAB_DIR/$1.log"
}

# subsys_pid -- the PID of the newest subsystem process.
subsys_pid() {
	tail -n 1 "$LAB_DIR/subsys.pids"
}

dead() {
	! lab__alive "$1"
}

now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((10#$t / 1000))
}

# enc TEXT -- the protocol's field encoding (PROTOCOL.md section 2) of
# simple text: spaces and '%' escaped.
enc() {
	local s=${1//%/%25}
	printf '%s' "${s// /%20}"
}

# ---------------------------------------------------------------------------
# LAN A's services.

TRICKY=$'Caf\xc3\xa9 \\ the.dot "q" \xe6\x97\xa5\xe6\x9c\xac'
TRICKY_ENC='Caf'$'\xc3\xa9''%20\%20the.dot%20"q"%20'$'\xe6\x97\xa5\xe6\x9c\xac'
p_web=$(lab_publish asrv "Web one" _http._tcp 8080 path=/ a=1)
p_tricky=$(lab_publish asrv "$TRICKY" _http._tcp 8081 $'bin=\x01\x02\xff' 'sp=a b' flag)
p_printer=$(lab_publish asrv Printer _ipp._tcp 631 rp=ipp/print)
p_secret=$(lab_publish asrv "Secret box" _ssh._tcp 22)
p_own=$(lab_publish arelay "Relay web" _http._tcp 80)
for p in "$p_web" "$p_tricky" "$p_printer" "$p_secret" "$p_own"; do
	lab_wait_published "$p" || t_bail "publishing failed"
done

# ---------------------------------------------------------------------------
t_diag "greeting and snapshot"

start s1
t_ok has s1 '^HELLO 1\.0 [0-9a-z]{1,32} subsystem relay,update maxline=16384 maxhops=4$' \
	"HELLO at once, before the agent's"
pid1=$(subsys_pid)
say s1 "HELLO 1.0 bsite agent update"
t0=$(now_ms)
say s1 "BROWSE *"
t_ok lab_wait_for 10 has s1 '^SYNCED$' "SYNCED after BROWSE *"
t1=$(when s1 '^SYNCED$')
t_diag "snapshot of BROWSE * (5 services): $((t1 - t0)) ms"
t_ok has_svc s1 ADD "Web%20one _http._tcp local $HA 10.1.0.2 8080 path=/ a=1" \
	"Web one: address, port, TXT in record order"
t_ok has_svc s1 ADD "$TRICKY_ENC _http._tcp local $HA 10.1.0.2 8081 bin=%01%02%FF sp=a%20b flag" \
	"tricky name (spaces, dot, backslash, quotes, UTF-8) and binary TXT"
t_ok has_svc s1 ADD "Printer _ipp._tcp local $HA 10.1.0.2 631 rp=ipp/print" "Printer"
t_ok has_svc s1 ADD "Secret%20box _ssh._tcp local $HA 10.1.0.2 22" "Secret box"
t_ok has_svc s1 ADD "Relay%20web _http._tcp local $HR 10.1.0.1 80" \
	"the server's own service: LAN address, not loopback"
t_ok [ "$(count s1 '^ADD ')" -eq 5 ] "one ADD per instance (no duplicates from lo, IPv6)"
t_nok has s1 '^ADD .* (127\.0\.0\.1|fe80::)' "no loopback or link-local address chosen"
say s1 "PING tok-1"
t_ok lab_wait_for 5 has s1 '^PONG tok-1$' "PING answered"

# ---------------------------------------------------------------------------
t_diag "live events"

ta=$(now_ms)
p_late=$(lab_publish asrv "Late" _http._tcp 8090 v=1)
t_ok lab_wait_for 10 has_svc s1 ADD "Late _http._tcp local $HA 10.1.0.2 8090 v=1" \
	"a new service: ADD"
t_diag "publish -> ADD: $(($(when s1 '^ADD [0-9]+ Late ') - ta)) ms"
id_late=$(ids s1 ADD "Late _http._tcp local $HA 10.1.0.2 8090 v=1")

coproc TXTP { lab_exec asrv "$TXTPUB" Changing _http._tcp 8095 v=1 2>"$LAB_DIR/txtpub.err"; }
read -r -t 10 line <&"${TXTP[0]}"
t_ok [ "${line:-}" = established ] "txtpub established"
t_ok lab_wait_for 10 has_svc s1 ADD "Changing _http._tcp local $HA 10.1.0.2 8095 v=1" \
	"a second new service"
id_chg=$(ids s1 ADD "Changing _http._tcp local $HA 10.1.0.2 8095 v=1")
tu=$(now_ms)
echo "v=2 extra=yes" >&"${TXTP[1]}"
t_ok lab_wait_for 10 has_svc s1 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=2 extra=yes" \
	"TXT changed in place: UPDATE"
t_ok [ "$(ids s1 UPDATE "Changing _http._tcp local $HA 10.1.0.2 8095 v=2 extra=yes")" = "$id_chg" ] \
	"UPDATE keeps the id"
t_diag "TXT update -> UPDATE: $(($(when s1 '^UPDATE [0-9]+ Changing ') - tu)) ms"

tr=$(now_ms)
lab_unpublish "$p_late"
t_ok lab_wait_for 10 has s1 "^REMOVE $id_late\$" "withdrawn: REMOVE with the ADD's id"
t_diag "unpublish -> REMOVE: $(($(when s1 "^REMOVE $id_late\$") - tr)) ms"
t_nok has s1 '^ERROR ' "no ERROR in the browse session"

say s1 '!close'
t_ok lab_wait_for 5 dead "$pid1" "end of input ends the subsystem (pid $pid1)"

# ---------------------------------------------------------------------------
t_diag "versions and the greeting"

start s2
pid2=$(subsys_pid)
say s2 "HELLO 2.0 bsite agent update"
t_ok lab_wait_for 5 has s2 '^ERROR version ' "HELLO 2.0: ERROR version"
t_ok lab_wait_for 5 dead "$pid2" "... and the session ends"
start s2b
say s2b "BROWSE _http._tcp"
t_ok lab_wait_for 5 has s2b '^ERROR state ' "BROWSE before HELLO: ERROR state"
say s2b "FROB x"
t_ok lab_wait_for 5 has s2b '^ERROR verb ' "unknown verb: ERROR verb"
say s2b "HELLO 1.7 bsite agent %"
say s2b "BROWSE _ipp._tcp"
t_ok lab_wait_for 5 has s2b '^SYNCED$' "a later minor version is accepted"
say s2b "!quit"

# ---------------------------------------------------------------------------
t_diag "policy"

cat >"$POLICY" <<'EOF'
# hide one name and one type; everything else is offered
deny name "Secret*"
deny type _ipp._tcp
EOF
start s3
say s3 "HELLO 1.0 bsite agent update"
say s3 "BROWSE *"
t_ok lab_wait_for 10 has s3 '^SYNCED$' "policy session synced"
t_ok has s3 '^ADD [0-9]+ Web%20one ' "allowed service offered"
t_ok has s3 '^ADD [0-9]+ Relay%20web ' "allowed service offered (2)"
t_nok has s3 '^ADD [0-9]+ Secret' "deny name hides Secret box"
t_nok has s3 '^ADD [0-9]+ Printer ' "deny type hides the printer"
say s3 "!quit"

cat >"$POLICY" <<'EOF'
# a whitelist: web services on asrv only
allow type _http._tcp address 10.1.0.2
EOF
start s4
say s4 "HELLO 1.0 bsite agent update"
say s4 "BROWSE *"
t_ok lab_wait_for 10 has s4 '^SYNCED$' "whitelist session synced"
t_ok has s4 '^ADD [0-9]+ Web%20one ' "whitelisted service offered"
t_nok has s4 '^ADD [0-9]+ (Relay%20web|Printer|Secret)' "all others hidden (no allow rule matched)"
say s4 "!quit"

printf 'max-hops 2\nfrobnicate yes\n' >"$POLICY"
start s5 nowait
t_ok lab_wait_for 10 has s5 '^ERROR ' "broken policy: an ERROR"
pid5=$(subsys_pid)
t_ok has s5 "^ERROR config $POLICY:2:%20unknown%20keyword%20\"frobnicate\"" \
	"broken policy: ERROR config naming FILE:LINE"
t_nok has s5 '^HELLO ' "... and nothing else"
t_ok lab_wait_for 5 dead "$pid5" "... and the session ends"
t_nok "$SUB" -n -f "$POLICY" "rnsplice-subsystem -n rejects it too"
say s5 '!quit'

# ---------------------------------------------------------------------------
t_diag "relay sessions"

: >"$POLICY"
lab_bg asrv "$LAB_DIR/srv1.pid" python3 "$CLIENT" server 9000 hash "$LAB_DIR/srv1.stats" \
	>"$LAB_DIR/srv1.err" 2>&1
lab_bg asrv "$LAB_DIR/srv2.pid" python3 "$CLIENT" server 9001 first "$LAB_DIR/srv2.stats" \
	>"$LAB_DIR/srv2.err" 2>&1
lab_bg asrv "$LAB_DIR/srv3.pid" python3 "$CLIENT" server 9002 silent "$LAB_DIR/srv3.stats" \
	>"$LAB_DIR/srv3.err" 2>&1
p_rt=$(lab_publish asrv "Relay target" _rnstest._tcp 9000)
p_hc=$(lab_publish asrv "Half close" _rnstest._tcp 9001)
p_sil=$(lab_publish asrv "Silent" _rnstest._tcp 9002)
if ! lab_wait_published "$p_rt" || ! lab_wait_published "$p_hc" ||
	! lab_wait_published "$p_sil"; then
	t_bail "publishing failed"
fi
head -c 300000 /dev/urandom >"$LAB_DIR/payload"
sum=$(sha256sum "$LAB_DIR/payload" | cut -d' ' -f1)
head -c 50000 /dev/urandom >"$LAB_DIR/payload2"
sum2=$(sha256sum "$LAB_DIR/payload2" | cut -d' ' -f1)

relay() { # NAME TYPE SEND RECV MODE -- prints the first line
	lab_exec brelay python3 "$CLIENT" relay "$1" "$2" local "$3" "$4" "$5" \
		ssh siteA -s rnsplice 2>&1
}
conns() { # STATS -- connections the service accepted so far
	tail -n 1 < <(grep '^conns' "$1") | cut -d' ' -f2
}

out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload" "$LAB_DIR/recv1" send-first)
pidr=$(subsys_pid)
t_ok [ "$out" = RELAYING ] "RELAY: RELAYING ($out)"
t_ok [ "$(cat "$LAB_DIR/recv1" 2>/dev/null)" = "300000 $sum" ] \
	"300 kB through the relay; end of input became a half-close"
t_ok lab_wait_for 5 dead "$pidr" "the relay process ends with both directions"

out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload" "$LAB_DIR/recv2" early)
t_ok [ "$out" = RELAYING ] "payload sent before RELAYING is relayed too"
t_ok [ "$(cat "$LAB_DIR/recv2" 2>/dev/null)" = "300000 $sum" ] "... all of it"

out=$(relay Half%20close _rnstest._tcp "$LAB_DIR/payload2" "$LAB_DIR/recv3" recv-first)
t_ok [ "$out" = RELAYING ] "RELAY to a service that half-closes first"
t_ok [ "$(wc -c <"$LAB_DIR/recv3" 2>/dev/null)" -eq 100000 ] \
	"its 100 kB arrive, then end of output"
t_ok lab_wait_for 5 grep -q "^got 50000 $sum2\$" "$LAB_DIR/srv2.stats" \
	"data sent after the service's half-close still reaches it"

out=$(relay Silent _rnstest._tcp "$LAB_DIR/payload2" /dev/null vanish)
pidv=$(subsys_pid)
t_ok [ "$out" = RELAYING ] "RELAY to a service that stays silent"
t_ok lab_wait_for 5 dead "$pidv" \
	"the agent half-closes, then goes away: the relay ends all the same"

# address rules filter the candidates: without its IPv4 address the
# service is reached at its IPv6 link-local one, zone and all
printf 'deny address 10.1.0.0/24\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" "$LAB_DIR/recv4" send-first)
t_ok [ "$out" = RELAYING ] "IPv4 address denied: RELAYING over IPv6 ($out)"
t_ok [ "$(cat "$LAB_DIR/recv4" 2>/dev/null)" = "50000 $sum2" ] \
	"... to the link-local address with its zone"
t_ok grep -q 'relay to "Relay target" _rnstest._tcp at fe80::[0-9a-f:]*%eth0 port 9000' \
	"$LAB_DIR/subsys.log" "... as the log says"

n0=$(conns "$LAB_DIR/srv1.stats")
out=$(relay Nope _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR no-service "* ]]' "unadvertised target: ERROR no-service ($out)"
printf 'deny name "Relay target"\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR denied "* ]]' "denied target: ERROR denied ($out)"
printf 'deny address 10.1.0.0/24\ndeny address fe80::/10\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR denied "* ]]' "target at denied addresses: ERROR denied ($out)"
printf 'relay no\n' >"$POLICY"
out=$(relay Relay%20target _rnstest._tcp "$LAB_DIR/payload2" /dev/null send-first)
t_ok eval '[[ "$out" == "ERROR denied "* ]]' "relay no: ERROR denied ($out)"
t_ok [ "$(conns "$LAB_DIR/srv1.stats")" = "$n0" ] "refused relays opened no connection"
start s6
t_ok has s6 '^HELLO 1\.0 [0-9a-z]+ subsystem update ' "relay no: HELLO without the relay feature"
say s6 '!quit'
: >"$POLICY"

# ---------------------------------------------------------------------------
t_diag "keepalive"

printf 'keepalive 1\n' >"$POLICY"
start s7
pid7=$(subsys_pid)
say s7 "HELLO 1.0 bsite agent update"
t_ok lab_wait_for 8 has s7 '^!eof$' "a silent peer is declared dead"
t_ok [ "$(count s7 '^PING ')" -eq 0 ] "... without a PING of its own (the agent keeps the session alive)"
t_ok lab_wait_for 3 dead "$pid7" "... and the process is gone"
# a peer that pings every second outlives three keepalive periods
start s7b
say s7b "HELLO 1.0 bsite agent update"
for i in 1 2 3 4 5; do
	say s7b "PING k$i"
	sleep 1
done
t_nok has s7b '^!eof$' "a peer that pings is kept beyond three keepalive periods"
t_ok has s7b '^PONG k5$' "... and its PINGs answered"
say s7b '!quit'
: >"$POLICY"

# ---------------------------------------------------------------------------
t_diag "avahi-daemon restart"

start s8
say s8 "HELLO 1.0 bsite agent update"
say s8 "BROWSE _http._tcp"
lab_wait_for 10 has s8 '^SYNCED$' || t_diag "s8 did not sync"
n_before=$(count s8 '^(ADD|UPDATE|REMOVE) ')
# shellcheck disable=SC2034  # used in eval'd checks
id_web=$(ids s8 ADD "Web%20one _http._tcp local $HA 10.1.0.2 8080 path=/ a=1")
# shellcheck disable=SC2034
id_own=$(ids s8 ADD "Relay%20web _http._tcp local $HR 10.1.0.1 80")
lab_avahi_stop arelay
t_ok lab_wait_for 5 has s8 '^AVAHI down$' "AVAHI down when the daemon goes"
lab_unpublish "$p_web"
p_new=$(lab_publish asrv "Newcomer" _http._tcp 8099)
lab_wait_published "$p_new"
lab_avahi_start arelay || t_bail "avahi restart failed"
t_ok lab_wait_for 15 has s8 '^AVAHI up$' "AVAHI up when it is back"
t_ok lab_wait_for 5 eval '[ "$(count s8 "^SYNCED$")" -eq 2 ]' "then SYNCED"
diff=$(lines s8 | sed -n '/^AVAHI down$/,$p' | grep -v '^PING ')
t_diag "after the restart: $(printf '%s' "$diff" | tr '\n' '|')"
t_ok eval 'printf "%s\n" "$diff" | grep -qx "REMOVE $id_web"' "withdrawn meanwhile: REMOVE"
t_ok eval 'printf "%s\n" "$diff" | grep -qx "REMOVE $id_own"' \
	"arelay's own avahi-publish died with its daemon: REMOVE"
t_ok eval 'printf "%s\n" "$diff" | grep -q "^ADD [0-9]* Newcomer "' "published meanwhile: ADD"
t_ok [ "$(printf '%s\n' "$diff" | grep -Ec '^(ADD|UPDATE|REMOVE) ')" -eq 3 ] \
	"only the difference is sent ($n_before entries before)"
t_ok eval 'printf "%s\n" "$diff" | tail -n 2 | tr "\n" " " | grep -qx "AVAHI up SYNCED "' \
	"AVAHI up and SYNCED after the difference"
say s8 '!quit'

# ---------------------------------------------------------------------------
t_diag "50 services"

pids=()
for i in $(seq -w 1 50); do
	pids+=("$(lab_publish asrv "Bulk service $i" _bulk._tcp "$((10000 + 10#$i))" "n=$i")")
done
for p in "${pids[@]}"; do
	lab_wait_published "$p" 20 || t_bail "publishing 50 services failed"
done
for round in 1 2; do
	start "b$round"
	say "b$round" "HELLO 1.0 bsite agent update"
	t0=$(now_ms)
	say "b$round" "BROWSE _bulk._tcp"
	t_ok lab_wait_for 15 has "b$round" '^SYNCED$' "50 services: SYNCED (round $round)"
	t_ok [ "$(count "b$round" '^ADD [0-9]+ Bulk%20service%20[0-9]+ _bulk._tcp ')" -eq 50 ] \
		"50 services: 50 ADDs before SYNCED (round $round)"
	t_diag "snapshot of 50 services, round $round: $(($(when "b$round" '^SYNCED$') - t0)) ms (first ADD after $(($(when "b$round" '^ADD ') - t0)) ms)"
	say "b$round" '!quit'
done
start b3
say b3 "HELLO 1.0 bsite agent update"
t0=$(now_ms)
say b3 "BROWSE *"
t_ok lab_wait_for 15 has b3 '^SYNCED$' "BROWSE * with 56 services: SYNCED"
t_diag "snapshot of BROWSE * ($(count b3 '^ADD ') services): $(($(when b3 '^SYNCED$') - t0)) ms"
say b3 '!quit'

# ---------------------------------------------------------------------------
t_diag "sshd drop-in"

dropin=${RNSPLICE_DROPIN:-$top_builddir/sshd_config.d/rnsplice.conf}
if [ -r "$dropin" ]; then
	cat >"$LAB_DIR/sshd-dropin-test.conf" <<EOF
Include $dropin
HostKey $LAB_DIR/arelay/sshd/ssh_host_ed25519_key
EOF
	t_ok eval 'lab_exec arelay /usr/sbin/sshd -T -f "$LAB_DIR/sshd-dropin-test.conf" 2>&1 | grep -q "^subsystem rnsplice /.*/rnsplice-subsystem"' \
		"the generated drop-in is valid sshd configuration"
else
	t_skip_one "the generated drop-in is valid sshd configuration" "$dropin not built"
fi

t_done
