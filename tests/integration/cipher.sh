#!/bin/bash
#
# tests/integration/cipher.sh -- the master's cipher, as the server sees it.
#
# With no Ciphers in any configuration, on a CPU with AES instructions the
# agent's master negotiates aes128-gcm@openssh.com (ssh's own default,
# chacha20-poly1305, on a CPU without them). A Ciphers line in the user's
# ~/.ssh/config, or an ssh-option in agent.conf, wins. The cipher is read
# from the real sshd's log (LogLevel DEBUG1 prints the negotiated one).
# Needs root (the lab); skips otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab
AGENT=${RNSPLICE_AGENT:-$top_builddir/agent/rnsplice-agent}
CLI=${RNSPLICE_CLI:-$top_builddir/agent/rnsplice}
[ -x "$AGENT" ] || t_skip "no agent at $AGENT"
[ -x "$RNSPLICE_SUBSYSTEM" ] || t_skip "no subsystem at $RNSPLICE_SUBSYSTEM"

lab_init || t_bail "lab_init failed"
CONF=$LAB_DIR/brelay/agent.conf
ALOG=$LAB_DIR/brelay/agent.log
SLOG=$LAB_DIR/arelay/sshd/log
agent=
dump_logs() {
	[ "$T_FAILED" -ne 0 ] || return 0
	t_diag "--- last lines of $ALOG"
	tail -n 30 "$ALOG" | sed 's/^/# /'
	t_diag "--- ciphers in $SLOG"
	grep "cipher:" "$SLOG" | sed 's/^/# /'
}
lab_atexit dump_logs
printf 'LogLevel DEBUG1\n' >"$LAB_DIR/sshd-extra.conf"
lab_hosts arelay brelay || t_bail "hosts"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
lab_sshd arelay "$LAB_DIR/sshd-extra.conf" || t_bail "sshd"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
lab_wait_avahi arelay brelay

if grep -qw aes /proc/cpuinfo; then
	want=aes128-gcm@openssh.com
else
	want=chacha20-poly1305@openssh.com
fi
t_diag "expected without configuration: $want"

state() {
	lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock --json status \
		2>/dev/null | grep -q '"state":"synced"'
}
# run_agent [SSH-OPTION] -- start the agent, wait until it is synced,
# print the cipher sshd negotiated for its master, stop it
run_agent() {
	local from
	from=$(wc -l <"$SLOG")
	{
		echo "allow-root yes"
		echo "remote siteA {"
		[ -z "${1:-}" ] || echo "	ssh-option $1"
		echo "}"
	} >"$CONF"
	lab_bg brelay "$LAB_DIR/agent.pid" env XDG_RUNTIME_DIR=/run \
		"$AGENT" -d -v -f "$CONF" >>"$ALOG" 2>&1
	read -r agent <"$LAB_DIR/agent.pid"
	if ! lab_wait_for 20 state; then
		echo "agent not synced"
	else
		tail -n "+$((from + 1))" "$SLOG" |
			sed -n 's/.*kex: client->server cipher: \([^ ]*\).*/\1/p' |
			head -n 1
	fi
	lab_kill TERM "$agent" "$AGENT"
	lab_wait_for 10 eval '! lab__alive "$agent"'
	agent=
}

got=$(run_agent)
t_ok [ "$got" = "$want" ] "no Ciphers configured: the master uses $want ($got)"

printf 'Host siteA\n\tCiphers aes256-ctr\n' >"$LAB_DIR/brelay/home/.ssh/config.new"
cat "$LAB_DIR/brelay/home/.ssh/config" >>"$LAB_DIR/brelay/home/.ssh/config.new"
mv "$LAB_DIR/brelay/home/.ssh/config.new" "$LAB_DIR/brelay/home/.ssh/config"
got=$(run_agent)
t_ok [ "$got" = aes256-ctr ] "Ciphers in ~/.ssh/config wins ($got)"

got=$(run_agent "Ciphers=aes192-ctr")
t_ok [ "$got" = aes192-ctr ] "ssh-option Ciphers in agent.conf wins ($got)"

t_done
