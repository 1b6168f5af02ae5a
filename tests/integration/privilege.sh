#!/bin/bash
#
# tests/integration/privilege.sh -- least privilege, as root.
#
# 1. The agent refuses to run as root without -R; its runtime directory
#    must be its own and private (a directory prepared by someone else, or
#    open to others, is refused); the control socket is 0600 in a 0700
#    directory; another uid (nobody) cannot use it, neither through the
#    file modes nor, when the modes are opened on purpose, past the peer
#    uid check.
# 2. In the lab: the locked-down account of sshd_config.d/rnsplice.conf.in
#    (Example 1, used as shipped) for a dedicated unprivileged user created
#    for the test: the account can splice (agent -> bcli -> asrv works) but
#    gets no shell (ForceCommand runs the subsystem), no tty, no remote
#    forwarding, no forwarding to anything outside PermitOpen, even for a
#    service the subsystem advertises: that one leaves LAN B at its first
#    refusal.
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

t_require_root
AGENT=$T_AGENT
CLI=$T_CLI
for f in "$AGENT" "$CLI"; do
	[ -x "$f" ] || t_skip "$f not built"
done
command -v setpriv >/dev/null || t_skip "setpriv not installed"
NOBODY=65534

# The lab's work dir and cleanup from the start (the agents of part 1 are
# the lab's processes too); the network lab comes in part 2.
lab_init -w || t_bail "lab_init -w failed"
# Other users must reach the programs they run and the directories they are
# refused: the build tree may lie where only root can go (a mktemp -d
# directory, /root), so they run copies in the work dir.
BIN=$LAB_DIR/bin
mkdir -m 0755 "$BIN" || t_bail "mkdir $BIN"
install -m 0755 "$CLI" "$BIN/rnsplice" || t_bail "copy $CLI into $BIN"
if [ -x "$RNSPLICE_SUBSYSTEM" ]; then
	install -m 0755 "$RNSPLICE_SUBSYSTEM" "$BIN/rnsplice-subsystem" ||
		t_bail "copy $RNSPLICE_SUBSYSTEM into $BIN"
fi
if ! setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups test -x "$BIN/rnsplice"; then
	t_skip "nobody cannot reach $BIN (TMPDIR=${TMPDIR:-/tmp} is not open to other users)"
fi

# --- 1. root, the runtime directory, the control socket -----------------------
dir=$LAB_DIR/part1
mkdir -m 0755 "$dir" || t_bail "mkdir $dir"	# nobody may look in: only the modes below protect
agent_pids=
# an agent with one remote whose "ssh" fails at once: it idles in backoff
run_agent() { # NAME ARGS...
	local name=$1
	shift
	mkdir -p "$dir/$name"
	RNSPLICE_SSH=/bin/false DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/no-bus \
		RNSPLICE_SITE_ID=privtest "$AGENT" -d "$@" >"$dir/$name.log" 2>&1
}
# the same in the background: the agent itself (no subshell) is recorded
# in the lab, so lab_kill accepts it and lab_cleanup ends it in any case
run_agent_bg() { # NAME ARGS...
	local name=$1
	shift
	mkdir -p "$dir/$name"
	RNSPLICE_SSH=/bin/false DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/no-bus \
		RNSPLICE_SITE_ID=privtest "$AGENT" -d "$@" >"$dir/$name.log" 2>&1 &
	lab_record $! || t_bail "agent $name did not start"
	agent_pids="$agent_pids $!"
}

out=$(XDG_RUNTIME_DIR=$dir/r0 run_agent r0 somewhere; cat "$dir/r0.log")
t_ok eval 'printf "%s" "$out" | grep -q "refusing to run as root"' \
	"as root without -R: refused ($out)"

mkdir -p "$dir/x1/rnsplice"
chown "$NOBODY" "$dir/x1/rnsplice"
chmod 0700 "$dir/x1/rnsplice"
XDG_RUNTIME_DIR=$dir/x1 run_agent x1 -R somewhere
t_ok grep -q "owned by uid $NOBODY, not by us" "$dir/x1.log" \
	"a runtime directory prepared by another user is refused"
mkdir -p "$dir/x2/rnsplice"
chmod 0755 "$dir/x2/rnsplice"
XDG_RUNTIME_DIR=$dir/x2 run_agent x2 -R somewhere
t_ok grep -q "must not be accessible to group or others" "$dir/x2.log" \
	"a runtime directory open to others is refused"

mkdir -p "$dir/run"
XDG_RUNTIME_DIR=$dir/run run_agent_bg a1 -R somewhere
SOCK=$dir/run/rnsplice/agent.sock
for _ in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
t_ok [ -S "$SOCK" ] "the agent's control socket exists"
t_ok [ "$(stat -c %a "$dir/run/rnsplice")" = 700 ] \
	"its directory is 0700 ($(stat -c %a "$dir/run/rnsplice"))"
t_ok [ "$(stat -c %a "$SOCK")" = 600 ] "the socket is 0600 ($(stat -c %a "$SOCK"))"
t_ok "$CLI" -S "$SOCK" status "root (the owner) can use it"
t_nok setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
	"$BIN/rnsplice" -S "$SOCK" status "another uid (nobody) cannot"

# the peer uid check on its own: a socket in an open directory, then its
# mode opened by hand
XDG_RUNTIME_DIR=$dir/run run_agent_bg a2 -R -S "$dir/open.sock" somewhere
for _ in $(seq 1 50); do [ -S "$dir/open.sock" ] && break; sleep 0.1; done
t_ok [ "$(stat -c %a "$dir/open.sock")" = 600 ] "-S PATH: 0600 too"
chmod 0666 "$dir/open.sock"
out=$(setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups \
	"$BIN/rnsplice" -S "$dir/open.sock" status 2>&1)
t_nok eval 'printf "%s" "$out" | grep -q "^site "' \
	"socket mode opened: nobody still gets nothing ($out)"
t_ok grep -q "control socket: refused peer uid $NOBODY" "$dir/a2.log" \
	"and the agent logs the refused uid"
t_ok "$CLI" -S "$dir/open.sock" status "the owner still can"
for p in $agent_pids; do
	t_ok lab_kill TERM "$p" "$AGENT" "agent $p stopped (SIGTERM)"
	wait "$p" 2>/dev/null
done
agent_pids=

# --- 2. the locked-down sshd account, in the lab ---------------------------
if ! reason=$(lab_require 2>&1); then
	t_skip_one "locked-down account in the lab" "${reason#lab: }"
	t_done
fi
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_bail "no subsystem at $RNSPLICE_SUBSYSTEM"
command -v useradd >/dev/null || t_bail "useradd not installed"
lab_init || t_bail "lab_init failed"
[ -x "$BIN/rnsplice-subsystem" ] || t_bail "no copy of $RNSPLICE_SUBSYSTEM in $BIN"
t_diag "lab $LAB_ID in $LAB_DIR"
U=rns$LAB_ID
# /etc/passwd is the machine's: a unique name, removed at the end
t_passwd useradd -m -d "/home/$U" -s /bin/sh -c "rnsplice test $LAB_ID" "$U" ||
	t_bail "useradd $U"
lab_atexit -k "flock -w 120 $T_PASSWD_LOCK userdel -f -r $U >/dev/null 2>&1"
# no password, but not "locked" ('!'): without PAM sshd refuses locked accounts
t_passwd usermod -p '*' "$U" || t_bail "usermod $U"

# Example 1 of the drop-in, as shipped: uncommented, for this user, this
# build's subsystem, the lab's service
src=${top_srcdir:-$here/../..}/sshd_config.d/rnsplice.conf.in
sed -n '/^#Match Group rnsplice$/,/^#[[:space:]]*PermitTunnel no$/p' "$src" |
	sed -e 's/^#//' -e '/^[[:space:]]*#/d' \
	    -e "s/^Match Group rnsplice\$/Match User $U/" \
	    -e "s|@libexecdir@/rnsplice-subsystem|$BIN/rnsplice-subsystem -f /home/$U/subsystem.conf|" \
	    -e 's/PermitOpen .*/PermitOpen 10.1.0.2:8080/' >"$LAB_DIR/locked.conf"
# the lab's AuthorizedKeysFile lies in $LAB_DIR, which the user cannot read
echo "	AuthorizedKeysFile /home/%u/.ssh/authorized_keys" >>"$LAB_DIR/locked.conf"
t_diag "locked-down config: $(tr '\n\t' ' ' <"$LAB_DIR/locked.conf")"
t_ok grep -q "^Match User $U" "$LAB_DIR/locked.conf" "Example 1 extracted from rnsplice.conf.in"

# PermitOpen bounds direct forwarding only: the subsystem's relay sessions
# reach what its policy allows.  Confined: relay no.
printf 'relay no\n' >"/home/$U/subsystem.conf"
chmod 0644 "/home/$U/subsystem.conf"
lab_hosts asrv arelay brelay bcli || t_bail "hosts"
lab_lan A 10.1.0 arelay asrv || t_bail "LAN A"
lab_lan B 10.2.0 brelay bcli || t_bail "LAN B"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
lab_sshd arelay "$LAB_DIR/locked.conf" || t_bail "sshd with the locked-down account"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
# the same key for the test user
install -d -o "$U" -g "$U" -m 0700 "/home/$U/.ssh"
install -o "$U" -g "$U" -m 0600 "$LAB_DIR/brelay/home/.ssh/id_ed25519.pub" \
	"/home/$U/.ssh/authorized_keys"
lab_wait_avahi asrv arelay brelay bcli

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http 8080"
lab_http asrv 8081 "$www" >/dev/null || t_bail "http 8081"
p1=$(lab_publish asrv "Allowed $LAB_ID" _http._tcp 8080)
p2=$(lab_publish asrv "Outside $LAB_ID" _http._tcp 8081)
lab_wait_published "$p1" && lab_wait_published "$p2" || t_bail "publish"

ssh_u() { # ARGS... -- ssh from brelay as the test user
	lab_exec brelay timeout 10 ssh -o User="$U" "$@"
}
out=$(ssh_u siteA id </dev/null 2>&1)
t_nok eval 'printf "%s" "$out" | grep -q "uid="' "no shell: a command is not run"
t_ok eval 'printf "%s" "$out" | grep -q "^HELLO 1\.2 .* subsystem "' \
	"ForceCommand: the subsystem answers instead"
out=$(ssh_u -tt siteA </dev/null 2>&1)
t_ok eval 'printf "%s" "$out" | grep -q "PTY allocation request failed"' "no tty"
out=$(ssh_u -W 10.1.0.1:22 siteA </dev/null 2>&1)
t_ok eval 'printf "%s" "$out" | grep -q "administratively prohibited"' \
	"no forwarding outside PermitOpen ($(printf "%s" "$out" | tail -n 1))"
out=$(ssh_u -o ExitOnForwardFailure=yes -N -R 127.0.0.1:12345:127.0.0.1:22 siteA </dev/null 2>&1)
t_ok eval 'printf "%s" "$out" | grep -q "remote port forwarding failed"' \
	"no remote forwarding ($(printf "%s" "$out" | tail -n 1))"

cat >"$LAB_DIR/agent.conf" <<EOF
allow-root yes
remote siteA {
	types _http._tcp
	ssh-option User=$U
}
EOF
t_agent brelay "$LAB_DIR/agent.pid" "$LAB_DIR/agent.log" -v -f "$LAB_DIR/agent.conf"
lab_atexit '[ "$T_FAILED" -eq 0 ] || tail -n 40 "$LAB_DIR/agent.log" | sed "s/^/# /"'
t_ok lab_wait_for 20 eval '[ -n "$(t_port_of _http._tcp "Allowed $LAB_ID (siteA)")" ]' \
	"the locked-down account can splice: bcli sees the service"
# shellcheck disable=SC2034  # used in eval
pa=$(t_port_of _http._tcp "Allowed $LAB_ID (siteA)")
t_ok eval 'lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$pa/index.html" | grep -q "hello $LAB_ID"' \
	"and reach it through the splice"
t_ok lab_wait_for 10 eval '[ -n "$(t_port_of _http._tcp "Outside $LAB_ID (siteA)")" ]' \
	"a service outside PermitOpen is advertised too (the subsystem offers it)"
po=$(t_port_of _http._tcp "Outside $LAB_ID (siteA)")
t_nok lab_exec bcli curl -sS --max-time 10 -o /dev/null "http://10.2.0.1:$po/" \
	"but it cannot be reached: sshd refuses (PermitOpen), the subsystem too (relay no)"
t_ok lab_wait_for 5 grep -q "to \"Outside $LAB_ID\" .* failed: .*Session open refused by peer" "$LAB_DIR/agent.log" \
	"and the agent logs the refusal"
t_ok lab_wait_for 10 eval '[ -z "$(t_port_of _http._tcp "Outside $LAB_ID (siteA)")" ]' \
	"after that first refusal the service leaves LAN B (discovery implies reachability)"
t_ok eval 'lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock services | grep -q "\"Outside $LAB_ID\" _http._tcp not spliced: refused by the server: Session open refused by peer"' \
	"rnsplice services shows it refused, with ssh's reason"
t_ok eval 'lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$pa/index.html" | grep -q "hello $LAB_ID"' \
	"the allowed service still answers after that refusal"
# with the subsystem's default (relay yes), PermitOpen alone confines nothing
# (the policy is read when a session starts: reconnect)
printf 'relay yes\n' >"/home/$U/subsystem.conf"
sshpid=$(lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock --json status 2>/dev/null |
	grep -o '"ssh_pid":[0-9]*' | head -n 1 | cut -d: -f2)
# a pid of 0 or none (no master) is a failure here, never a signal
t_ok lab_kill KILL "$sshpid" ssh "the agent's ssh master (pid '$sshpid' in its status) is killed"
t_wait_state 15 brelay /run/rnsplice/agent.sock siteA synced
t_ok lab_wait_for 20 eval '[ "$(t_port_of _http._tcp "Outside $LAB_ID (siteA)")" = "$po" ]' \
	"relay yes: a probe gets through the subsystem, the service is back on LAN B, on its port"
t_ok eval 'lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$po/index.html" | grep -q "hello $LAB_ID"' \
	"relay yes: the service outside PermitOpen is reached through the subsystem (its policy is the boundary)"
t_ok eval '[ "$(ps -o user= -u "$U" | wc -l)" -ge 1 ]' \
	"the server side runs as the unprivileged user"
t_done
