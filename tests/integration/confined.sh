#!/bin/bash
#
# tests/integration/confined.sh -- what the ssh connections may do besides
# splicing: nothing, on either side.  In the lab, as root.
#
# 1. The client's ~/.ssh/config turns on everything an interactive login
#    might want (Host *): agent forwarding with a running ssh-agent, X11
#    forwarding, a tun device, a local command, local, remote and dynamic
#    forwards.  A plain ssh with that config gets them all (the config
#    works); the agent's ssh master gets none of them: the server-side
#    subsystem sees no SSH_AUTH_SOCK and no DISPLAY, no tun device exists
#    on either side, no forwarded port listens, the local command never
#    ran; and splicing works.
# 2. Example 2 of sshd_config.d/rnsplice.conf.in (relay mode, no TCP
#    forwarding), as shipped, for a dedicated unprivileged user created for
#    the test: the account runs no command (ForceCommand runs the
#    subsystem), forwards nothing, and the agent splices through it in
#    relay mode.
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
AGENT=$T_AGENT
# shellcheck disable=SC2034  # used in eval
CLI=$T_CLI
[ -x "$AGENT" ] || t_skip "agent/rnsplice-agent not built"
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_skip "no subsystem at $RNSPLICE_SUBSYSTEM"
for c in curl ssh-agent useradd ss; do
	command -v "$c" >/dev/null || t_skip "$c not installed"
done

lab_init || t_bail "lab_init failed"
t_diag "lab $LAB_ID in $LAB_DIR"
dump_logs() {
	local f
	[ "$T_FAILED" -ne 0 ] || return 0
	for f in "$LAB_DIR"/agent*.log "$LAB_DIR"/arelay/sshd/log; do
		[ -e "$f" ] || continue
		t_diag "--- last lines of $f"
		tail -n 40 "$f" | sed 's/^/# /'
	done
}
lab_atexit dump_logs

# The relay-only account: a unique name in the machine's /etc/passwd,
# removed at the end.  Its subsystem is a copy in its home, so that the
# account can run it wherever this tree was built.
U=rnr$LAB_ID
t_passwd useradd -m -d "/home/$U" -s /bin/sh -c "rnsplice test $LAB_ID" "$U" ||
	t_bail "useradd $U"
lab_atexit "t_passwd userdel -f -r $U >/dev/null 2>&1"
# no password, but not "locked" ('!'): without PAM sshd refuses locked accounts
t_passwd usermod -p '*' "$U" || t_bail "usermod $U"
install -m 0755 "$RNSPLICE_SUBSYSTEM" "/home/$U/rnsplice-subsystem" ||
	t_bail "install the subsystem for $U"
printf 'relay yes\n' >"/home/$U/subsystem.conf"
chmod 0644 "/home/$U/subsystem.conf"

# sshd: everything allowed to root (so that only the client can refuse it),
# then Example 2 as shipped, for $U
src=${top_srcdir:-$here/../..}/sshd_config.d/rnsplice.conf.in
{
	echo "X11Forwarding yes"
	echo "X11UseLocalhost yes"
	echo "AllowAgentForwarding yes"
	echo "AllowTcpForwarding yes"
	echo "PermitTunnel yes"
	sed -n '/^#Match Group rnsplice-relay$/,/^#[[:space:]]*PermitTunnel no$/p' "$src" |
		sed -e 's/^#//' -e '/^[[:space:]]*#/d' \
		    -e "s/^Match Group rnsplice-relay\$/Match User $U/" \
		    -e "s|@libexecdir@/rnsplice-subsystem|/home/$U/rnsplice-subsystem -f /home/$U/subsystem.conf|"
	# the lab's AuthorizedKeysFile lies in $LAB_DIR, which $U cannot read
	echo "	AuthorizedKeysFile /home/%u/.ssh/authorized_keys"
} >"$LAB_DIR/sshd-extra.conf"
t_diag "sshd extra config: $(tr '\n\t' ' ' <"$LAB_DIR/sshd-extra.conf")"
t_ok grep -q "^Match User $U" "$LAB_DIR/sshd-extra.conf" \
	"Example 2 extracted from rnsplice.conf.in"
t_ok grep -q "^[[:space:]]*ForceCommand /home/$U/rnsplice-subsystem" \
	"$LAB_DIR/sshd-extra.conf" "Example 2 has a ForceCommand"

lab_hosts asrv arelay brelay bcli || t_bail "hosts"
lab_lan A 10.1.0 arelay asrv || t_bail "LAN A"
lab_lan B 10.2.0 brelay bcli || t_bail "LAN B"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
lab_sshd arelay "$LAB_DIR/sshd-extra.conf" || t_bail "sshd on arelay"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
install -d -o "$U" -g "$U" -m 0700 "/home/$U/.ssh"
install -o "$U" -g "$U" -m 0600 "$LAB_DIR/brelay/home/.ssh/id_ed25519.pub" \
	"/home/$U/.ssh/authorized_keys"
lab_wait_avahi asrv arelay brelay bcli

www=$LAB_DIR/www
mkdir -p "$www"
echo "hello $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http 8080"
WEB="Web $LAB_ID"
pub=$(lab_publish asrv "$WEB" _http._tcp 8080)
lab_wait_published "$pub" || t_bail "publish"

# --- 1. a client config that turns everything on ------------------------------
RAN=$LAB_DIR/localcommand-ran
cat >>"$LAB_DIR/brelay/home/.ssh/config" <<EOF
Host *
	ForwardAgent yes
	ForwardX11 yes
	ForwardX11Trusted yes
	Tunnel point-to-point
	TunnelDevice any:any
	PermitLocalCommand yes
	LocalCommand touch $RAN
	LocalForward 127.0.0.1:17001 10.1.0.2:8080
	RemoteForward 127.0.0.1:17002 127.0.0.1:22
	DynamicForward 127.0.0.1:17003
EOF
lab_bg brelay "$LAB_DIR/ssh-agent.pid" ssh-agent -D -a "$LAB_DIR/ssh-agent.sock" \
	>"$LAB_DIR/ssh-agent.log" 2>&1
lab_wait_for 5 test -S "$LAB_DIR/ssh-agent.sock" || t_bail "ssh-agent"
FWDENV=("SSH_AUTH_SOCK=$LAB_DIR/ssh-agent.sock" "DISPLAY=127.0.0.1:99")

listening() { # HOST PORT
	lab_exec "$1" ss -Hltn "sport = :$2" | grep -q LISTEN
}
tuns() { # HOST -- the number of tun devices in HOST
	lab_exec "$1" ip -o link show type tun | wc -l
}

# the config works: a plain ssh gets all of it
out=$(lab_exec brelay env "${FWDENV[@]}" timeout 20 ssh siteA \
	'sleep 1; echo "A=$SSH_AUTH_SOCK D=$DISPLAY T=$(ip -o link show type tun | wc -l) R=$(ss -Hltn "sport = :17002" | wc -l)"' \
	</dev/null 2>"$LAB_DIR/control.err")
t_diag "plain ssh with that config: $out"
t_ok eval '[[ $out == *"A=/"* ]]' "control: plain ssh forwards the agent"
t_ok eval '[[ $out == *"D=localhost:"* ]]' "control: plain ssh forwards X11"
t_ok eval '[[ $out == *"T=1"* ]]' "control: plain ssh opens a tunnel"
t_ok eval '[[ $out == *"R=1"* ]]' "control: plain ssh opens the remote forward"
t_ok test -e "$RAN" "control: plain ssh runs the local command"
rm -f -- "$RAN"
t_ok lab_wait_for 5 eval '[ "$(tuns arelay)" = 0 ] && [ "$(tuns brelay)" = 0 ]' \
	"control: its tunnel is gone with it"

t_agent brelay "$LAB_DIR/agent1.pid" "$LAB_DIR/agent1.log" "${FWDENV[@]}" \
	-v -R -S /run/agent1.sock siteA _http._tcp
t_ok lab_wait_for 20 eval '[ -n "$(t_port_of _http._tcp "$WEB (siteA)")" ]' \
	"with that config the agent splices: bcli sees the service"
port=$(t_port_of _http._tcp "$WEB (siteA)")
t_ok eval 'lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$port/index.html" | grep -q "hello $LAB_ID"' \
	"and reaches it through the splice (direct mode: a mux stdio forward)"
t_nok grep -q "relaying connections through the subsystem" "$LAB_DIR/agent1.log" \
	"ClearAllForwardings left the mux forwards alone (no fallback to relay mode)"

# the server side of the master's session: the subsystem, run by root
subs=
for p in $(ip netns pids "rns$LAB_ID-arelay"); do
	[ "$(stat -c %U "/proc/$p" 2>/dev/null)" = root ] || continue
	tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^$RNSPLICE_SUBSYSTEM" &&
		subs="$subs $p"
done
t_ok [ -n "$subs" ] "the master's subsystem runs on arelay (pid$subs)"
env_of() { # PID
	tr '\0' '\n' <"/proc/$1/environ"
}
for p in $subs; do
	t_nok eval 'env_of "$p" | grep -q "^SSH_AUTH_SOCK="' \
		"no agent forwarding: the subsystem (pid $p) has no SSH_AUTH_SOCK"
	t_nok eval 'env_of "$p" | grep -q "^DISPLAY="' \
		"no X11 forwarding: the subsystem (pid $p) has no DISPLAY"
done
t_ok [ "$(tuns arelay)" = 0 ] "no tunnel device on the server"
t_ok [ "$(tuns brelay)" = 0 ] "no tunnel device on the client"
t_nok test -e "$RAN" "the local command did not run"
t_nok listening brelay 17001 "the config's LocalForward does not listen"
t_nok listening arelay 17002 "the config's RemoteForward does not listen"
t_nok listening brelay 17003 "the config's DynamicForward does not listen"
t_ok eval '[ "$(t_agent_state brelay /run/agent1.sock siteA)" = synced ]' \
	"the remote stays synced"

# --- 2. Example 2: relay mode, no command ------------------------------------------
ssh_u() { # ARGS... -- ssh from brelay as $U, without the forwards above
	lab_exec brelay timeout 10 ssh -o User="$U" -o ClearAllForwardings=yes \
		-o Tunnel=no -o PermitLocalCommand=no -o ForwardX11=no \
		-o ForwardAgent=no "$@"
}
out=$(ssh_u siteA id </dev/null 2>&1)
t_nok eval 'printf "%s" "$out" | grep -q "uid="' "Example 2: a command is not run"
t_ok eval 'printf "%s" "$out" | grep -q "^HELLO 1\.2 .* subsystem "' \
	"Example 2: the subsystem answers instead (ForceCommand)"
out=$(ssh_u siteA -s sftp </dev/null 2>&1)
t_ok eval 'printf "%s" "$out" | grep -q "^HELLO 1\.2 .* subsystem "' \
	"Example 2: another subsystem request gets the rnsplice subsystem too"
out=$(ssh_u -tt siteA </dev/null 2>&1)
t_nok eval 'printf "%s" "$out" | grep -q "uid=\|# \|\\$ "' "Example 2: no shell with a tty either"
out=$(ssh_u -W 10.1.0.2:8080 siteA </dev/null 2>&1)
t_ok eval 'printf "%s" "$out" | grep -q "administratively prohibited"' \
	"Example 2: no TCP forwarding ($(printf "%s" "$out" | tail -n 1))"

# one agent at a time: both would publish the same name
read -r agent1 <"$LAB_DIR/agent1.pid"
lab_stop "$agent1" || t_bail "stop the first agent"
cat >"$LAB_DIR/agent2.conf" <<EOF
allow-root yes
remote siteA {
	types _http._tcp
	ssh-option User=$U
}
EOF
t_agent brelay "$LAB_DIR/agent2.pid" "$LAB_DIR/agent2.log" \
	-v -S /run/agent2.sock -f "$LAB_DIR/agent2.conf"
t_ok t_wait_state 20 brelay /run/agent2.sock siteA synced \
	"the Example 2 account syncs"
t_ok lab_wait_for 20 eval '[ -n "$(t_port_of _http._tcp "$WEB (siteA)")" ] && lab_exec bcli curl -sS --max-time 10 "http://10.2.0.1:$(t_port_of _http._tcp "$WEB (siteA)")/index.html" | grep -q "hello $LAB_ID"' \
	"relay mode through the Example 2 account: bcli reaches the service"
t_ok grep -q "relaying connections through the subsystem" "$LAB_DIR/agent2.log" \
	"the agent detected relay mode"
t_ok eval '[ "$(ps -o user= -u "$U" | wc -l)" -ge 1 ]' \
	"the server side runs as the unprivileged user"
t_done
