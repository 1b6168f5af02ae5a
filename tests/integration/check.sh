#!/bin/bash
#
# tests/integration/check.sh -- rnsplice check DESTINATION against each
# failure it must explain, in the lab:
#
#   asrv (LAN A) --- arelay [sshd] ==WAN== brelay [rnsplice check]
#
# all good (exit 0); no usable key; avahi stopped on the server; avahi
# stopped on the client; TCP forwarding forbidden (relay mode: still 0);
# no "Subsystem rnsplice" line (the drop-in line printed; exit 1), then
# the subsystem installed in the login's home (subsystem-command: 0).
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
CLI=${RNSPLICE_CLI:-$top_builddir/agent/rnsplice}
[ -x "$CLI" ] || t_skip "no rnsplice at $CLI"
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_skip "no subsystem at $RNSPLICE_SUBSYSTEM"
command -v python3 >/dev/null || t_skip "python3 not installed"

lab_init || t_bail "lab_init failed"
t_diag "lab $LAB_ID in $LAB_DIR; rnsplice $CLI; subsystem $RNSPLICE_SUBSYSTEM"
lab_topology_basic || t_bail "lab_topology_basic failed"

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http server on asrv"
pub=$(lab_publish asrv "Web $LAB_ID" _http._tcp 8080 path=/)
lab_wait_published "$pub" || t_bail "publish on asrv"
t_ok lab_wait_for 5 lab_seen arelay _http._tcp "Web $LAB_ID" "arelay sees the service"

CONF=$LAB_DIR/brelay/agent.conf
cat >"$CONF" <<CONFEOF
remote office {
	destination siteA
}
remote nokey {
	destination siteA
	ssh-option PubkeyAuthentication=no
}
CONFEOF
OUT=$LAB_DIR/check.out
check() { # REMOTE -- run rnsplice check on brelay; its status; output in $OUT
	lab_exec brelay env -u SSH_AUTH_SOCK XDG_RUNTIME_DIR=/run/none \
		"$CLI" check -f "$CONF" "$@" >"$OUT" 2>&1
}
has() { grep -qF -- "$1" "$OUT"; }
show() { sed 's/^/# | /' "$OUT"; }

# --- all good ---------------------------------------------------------------
t_ok check office "all good: exit 0"
show
t_ok has "ok   ssh login: ssh siteA logs in in batch mode" "... the login"
t_ok has "ok   Subsystem rnsplice: the server runs rnsplice-subsystem, protocol 1.2" \
	"... the subsystem's version"
t_ok has "offers \"Web $LAB_ID\" _http._tcp at 10.1.0.2:8080" "... what its policy offers"
t_ok has "ok   avahi there: avahi-daemon runs; the policy offers 1 service" "... avahi on the server"
t_ok has "ok   avahi here: avahi-daemon" "... avahi on the client"
t_ok has "ok   forwarding: the server forwards TCP" "... TCP forwarding"
t_ok has "splicing from office will work: Subsystem rnsplice, connections forwarded by sshd" \
	"... and which way works"

# --- no key ------------------------------------------------------------------
t_nok check nokey "no usable key: exit 1"
show
t_ok has "FAIL ssh login: ssh siteA in batch mode (as the agent runs it) failed:" \
	"... says the login fails"
t_ok has "Permission denied" "... in ssh's words"
t_ok has "fix: the server does not accept a key the agent can use without asking: install one (ssh-copy-id siteA)" \
	"... and how to fix it"
t_ok has "SSH_AUTH_SOCK is not set" "... and that no ssh-agent is reachable"

# --- avahi stopped on the server ----------------------------------------------
lab_avahi_stop arelay || t_bail "stop avahi on arelay"
t_nok check office "avahi stopped on the server: exit 1"
show
t_ok has "FAIL avahi there: avahi-daemon is not running on the server" "... says so"
t_ok has "fix: on the server: sudo systemctl enable --now avahi-daemon" "... and the fix"
lab_avahi_start arelay || t_bail "start avahi on arelay"
lab_wait_avahi arelay
t_ok lab_wait_for 10 lab_seen arelay _http._tcp "Web $LAB_ID" "arelay sees the service again"

# --- avahi stopped on the client ----------------------------------------------
lab_avahi_stop brelay || t_bail "stop avahi on brelay"
t_nok check office "avahi stopped on the client: exit 1"
show
t_ok has "FAIL avahi here: avahi-daemon is not running on this host" "... says so"
t_ok has "fix: sudo systemctl enable --now avahi-daemon" "... and the fix"
lab_avahi_start brelay || t_bail "start avahi on brelay"
lab_wait_avahi brelay

# --- TCP forwarding forbidden: relay mode ----------------------------------------
printf 'DisableForwarding yes\n' >"$LAB_DIR/nofwd.conf"
lab_sshd_stop arelay && lab_sshd arelay "$LAB_DIR/nofwd.conf" ||
	t_bail "restart arelay's sshd with DisableForwarding"
t_ok lab_wait_for 20 check office "forwarding forbidden, relay offered: exit 0"
show
t_ok has "ok   forwarding: the server refuses TCP forwarding" "... says forwarding is refused"
t_ok has "the agent uses the subsystem's relay mode instead" "... and that relay mode is used"
t_ok has "will work: Subsystem rnsplice, connections relayed through the subsystem" \
	"... in the summary too"

# --- no Subsystem line -----------------------------------------------------------
LAB_NO_SUBSYSTEM=1 lab_sshd_stop arelay && LAB_NO_SUBSYSTEM=1 lab_sshd arelay ||
	t_bail "restart arelay's sshd without the Subsystem line"
t_nok check office "no Subsystem line, nothing in the home: exit 1"
show
t_ok has "FAIL Subsystem rnsplice: the server's sshd has no \"Subsystem rnsplice\" line" \
	"... says the Subsystem line is missing"
t_ok has "echo 'Subsystem rnsplice /usr/libexec/rnsplice-subsystem' > /etc/ssh/sshd_config.d/rnsplice.conf" \
	"... prints the drop-in line"
t_ok has "FAIL subsystem-command: ssh siteA ~/.local/libexec/rnsplice-subsystem -u:" \
	"... and that the home has no subsystem either"

home=$LAB_DIR/arelay/home
mkdir -p "$home/.local/libexec"
cp "$RNSPLICE_SUBSYSTEM" "$home/.local/libexec/rnsplice-subsystem"
t_ok check office "no Subsystem line, subsystem in the home: exit 0"
show
t_ok has "ok   subsystem-command: ssh siteA ~/.local/libexec/rnsplice-subsystem -u works" \
	"... says the subsystem-command way works"
t_ok has "add \"subsystem-command ~/.local/libexec/rnsplice-subsystem\" to the remote" \
	"... and what to put in agent.conf"
t_ok has "will work: subsystem-command" "... in the summary too"
t_done
