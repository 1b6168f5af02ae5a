#!/bin/bash
#
# tests/integration/launchd.sh -- the launchd plist, as far as Linux can
# tell (no launchd here; nothing of it was run on macOS): it parses as a
# property list, starts the installed agent, restarts it only on failure
# (KeepAlive SuccessfulExit false, Crashed true), sets no SSH_AUTH_SOCK
# of its own, and the agent's exit statuses are the ones that policy
# relies on: 0 after SIGTERM, non-zero for a broken agent.conf. No root,
# no network.

# shellcheck source-path=SCRIPTDIR
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
: "${top_builddir:=$(cd "$here/../.." && pwd)}"
AGENT=${RNSPLICE_AGENT:-$top_builddir/agent/rnsplice-agent}
PLIST=${RNSPLICE_PLIST:-$top_builddir/contrib/org.rnsplice.agent.plist}
[ -x "$AGENT" ] || t_skip "agent/rnsplice-agent not built"
[ -f "$PLIST" ] || t_skip "$PLIST not built"
command -v python3 >/dev/null || t_skip "python3 not installed"

dir=$(mktemp -d "${TMPDIR:-/tmp}/launchd.XXXXXX") || t_bail "mktemp"
chmod 0700 "$dir"
pid=
cleanup() {
	if [ -n "$pid" ] && [ "$pid" -gt 1 ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
	rm -rf -- "$dir"
}
trap cleanup EXIT

# key=value lines of what matters, or a parse error
t_ok eval 'python3 - "$PLIST" >"$dir/keys" 2>"$dir/parse.err" <<"PY"
import plistlib, sys
with open(sys.argv[1], "rb") as f:
    p = plistlib.load(f)
print("label=%s" % p["Label"])
print("program=%s" % p["ProgramArguments"][0])
print("nargs=%d" % len(p["ProgramArguments"]))
print("runatload=%s" % p.get("RunAtLoad"))
ka = p.get("KeepAlive")
print("keepalive=%s" % (sorted(ka.items()) if isinstance(ka, dict) else ka))
print("throttle=%s" % p.get("ThrottleInterval"))
print("session=%s" % p.get("LimitLoadToSessionType"))
env = p.get("EnvironmentVariables", {})
print("env=%s" % ",".join(sorted(env)))
print("path=%s" % env.get("PATH", ""))
PY' "the plist parses"
sed 's/^/# /' "$dir/parse.err"
sed 's/^/# /' "$dir/keys"
key() { sed -n "s/^$1=//p" "$dir/keys"; }

t_ok [ "$(key label)" = org.rnsplice.agent ] "Label org.rnsplice.agent"
prog=$(key program)
t_ok eval 'case $prog in /*/rnsplice-agent) true ;; *) false ;; esac' \
	"ProgramArguments runs rnsplice-agent by absolute path ($prog)"
t_nok grep -q '@' "$PLIST" "no unsubstituted @...@ left"
t_ok [ "$(key nargs)" = 1 ] "no -d: the agent logs to syslog, which log show reads"
t_ok [ "$(key runatload)" = True ] "RunAtLoad"
t_ok [ "$(key keepalive)" = "[('Crashed', True), ('SuccessfulExit', False)]" ] \
	"KeepAlive: restarted after a failure or a crash only"
t_ok [ "$(key throttle)" -ge 10 ] "ThrottleInterval of at least 10 s ($(key throttle))"
t_ok [ "$(key session)" = Aqua ] "loaded in login sessions only (Aqua)"
t_nok eval 'key env | tr , "\n" | grep -qx SSH_AUTH_SOCK' \
	"no SSH_AUTH_SOCK of its own: launchd gives the session's"
t_ok eval 'key path | tr : "\n" | grep -qx /usr/bin' "PATH has /usr/bin"

# What KeepAlive sees: a clean stop exits 0 (not restarted) ...
printf 'remote office { }\n' >"$dir/agent.conf"
XDG_RUNTIME_DIR=$dir DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/no-bus \
	RNSPLICE_SSH=/bin/false "$AGENT" -d -R -f "$dir/agent.conf" \
	>"$dir/run.log" 2>&1 &
pid=$!
wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -q "$1" "$dir/run.log" && return 0
		sleep 0.1
	done
	return 1
}
t_ok wait_log 'rnsplice-agent .*, site ' "the agent started"
t_ok [ "$pid" -gt 1 ] "... as pid $pid"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
t_ok [ "$rc" = 0 ] "SIGTERM (launchctl bootout): exit 0, not restarted ($rc)"
# ... a broken agent.conf does not (restarted, ThrottleInterval apart)
printf 'remote office {\n\tscope nowhere\n}\n' >"$dir/agent.conf"
XDG_RUNTIME_DIR=$dir DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/no-bus \
	"$AGENT" -d -R -f "$dir/agent.conf" >"$dir/bad.log" 2>&1
rc=$?
t_ok [ "$rc" != 0 ] "a broken agent.conf: exit $rc, which KeepAlive retries"
t_done
