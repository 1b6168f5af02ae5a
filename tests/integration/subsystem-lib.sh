# shellcheck shell=bash
# shellcheck disable=SC2034  # variables for the scripts that source this file
#
# tests/integration/subsystem-lib.sh -- the set-up shared by subsystem-*.sh,
# which test rnsplice-subsystem through a real sshd, one behaviour each.
#
# Sourced (not a test itself).  In lab_topology_basic, brelay runs "ssh siteA
# -s rnsplice" against arelay's sshd and talks protocol v1
# (tests/integration/subsystem-client.py does the talking); sshd runs the
# subsystem through a wrapper that records its pid and keeps its debug log
# ($LAB_DIR/subsys.log) and reads its policy from $POLICY (empty).  LAN A
# offers five services (a tricky instance name, binary TXT, a printer, an
# ssh service, and arelay's own).  Helpers: start, say, has, count, ids,
# has_svc, when, lines, subsys_pid, dead, now_ms, enc (see below).  Needs
# root; skips (77) otherwise.

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
