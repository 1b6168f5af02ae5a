#!/bin/bash
#
# tests/integration/subsystem-policy.sh -- rnsplice-subsystem through sshd.
#
# The policy file: hiding names and types, a whitelist, a broken file (ERROR
# config naming FILE:LINE).  The lab and the helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

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
t_done
