#!/bin/bash
#
# tests/integration/unit.sh -- the systemd user unit: systemd-analyze
# --user verify is clean, no network-online.target (a user manager has
# none), ExecReload sends SIGHUP, and the restart policy stops on a broken
# configuration: the exit status it names is the one the agent really
# uses for a bad agent.conf.  No root, no network.

# shellcheck source-path=SCRIPTDIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
: "${top_builddir:=$(cd "$here/../.." && pwd)}"
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
AGENT=$T_AGENT
UNIT=${RNSPLICE_UNIT:-$top_builddir/contrib/rnsplice-agent.service}
[ -x "$AGENT" ] || t_skip "agent/rnsplice-agent not built"
[ -f "$UNIT" ] || t_skip "$UNIT not built"
command -v systemd-analyze >/dev/null || t_skip "systemd-analyze not installed"

dir=$(mktemp -d "${TMPDIR:-/tmp}/unit.XXXXXX") || t_bail "mktemp"
chmod 0700 "$dir"
trap 'rm -rf -- "$dir"' EXIT

# The unit as installed names $bindir; verify a copy that names the
# binary under test, with the man pages it documents on MANPATH.
sed "s|^ExecStart=.*|ExecStart=$AGENT|" "$UNIT" >"$dir/rnsplice-agent.service"
mkdir -p "$dir/man/man1" "$dir/man/man5"
for m in rnsplice-agent.1 rnsplice.1; do
	ln -s "$top_srcdir/man/$m" "$dir/man/man1/$m"
done
ln -s "$top_srcdir/man/rnsplice-agent.conf.5" "$dir/man/man5/rnsplice-agent.conf.5"
if command -v man >/dev/null; then
	mp=$dir/man
else
	# without man(1), drop the Documentation= check, not the unit's
	t_diag "man(1) not installed: Documentation= not checked"
	sed -i '/^Documentation=/d' "$dir/rnsplice-agent.service"
	mp=
fi
t_ok eval 'MANPATH=$mp XDG_RUNTIME_DIR=$dir systemd-analyze --user verify \
	"$dir/rnsplice-agent.service" >"$dir/verify.log" 2>&1' \
	"systemd-analyze --user verify is clean"
sed 's/^/# /' "$dir/verify.log"

t_nok grep -Eq '^(After|Wants|Requires)=.*network-online' "$UNIT" "no network-online.target"
t_ok grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT" \
	"ExecReload sends SIGHUP to the agent"
t_ok grep -qx 'Restart=on-failure' "$UNIT" "restarted on failure"
t_ok grep -q '^StartLimitIntervalSec=[1-9]' "$UNIT" "a start limit interval"
t_ok grep -q '^StartLimitBurst=[1-9]' "$UNIT" "a start limit burst"
st=$(sed -n 's/^RestartPreventExitStatus=//p' "$UNIT")
t_ok [ -n "$st" ] "RestartPreventExitStatus is set ($st)"

# the agent's real exit status on a broken agent.conf
printf 'remote office {\n\tscope nowhere\n}\n' >"$dir/agent.conf"
"$AGENT" -n -f "$dir/agent.conf" >"$dir/n.log" 2>&1
rc=$?
t_ok [ "$rc" = "$st" ] "a broken agent.conf: -n exits $st ($rc)"
XDG_RUNTIME_DIR=$dir DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/no-bus \
	"$AGENT" -d -R -f "$dir/agent.conf" >"$dir/run.log" 2>&1
rc=$?
t_ok [ "$rc" = "$st" ] "a broken agent.conf: the agent exits $st ($rc), no restart"
t_ok grep -q 'agent.conf:2: .*nowhere' "$dir/run.log" \
	"... and says where and why ($(head -n 1 "$dir/run.log"))"
"$AGENT" -d -R -f "$dir/nonexistent.conf" >/dev/null 2>&1
rc=$?
t_ok [ "$rc" = "$st" ] "a missing agent.conf exits $st too ($rc)"
t_done
