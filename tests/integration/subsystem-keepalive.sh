#!/bin/bash
#
# tests/integration/subsystem-keepalive.sh -- rnsplice-subsystem through sshd.
#
# The agent keeps a session alive with its PINGs; the subsystem sends none,
# nor a BEAT unless asked. A peer from which nothing comes for three
# keepalive periods is declared dead and the subsystem exits; one that
# pings is kept; one that announced its ping interval in HELLO is judged
# by it. A 1.2 agent that asks for BEATs (beat=N) gets one after N s of
# the subsystem's silence and is judged by its idle= period.  The lab and the
# helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

# ---------------------------------------------------------------------------
t_diag "keepalive"

printf 'keepalive 1\n' >"$POLICY"
start s7
pid7=$(subsys_pid)
say s7 "HELLO 1.0 bsite agent update"
t_ok lab_wait_for 8 has s7 '^!eof$' "a silent peer is declared dead"
t_ok [ "$(count s7 '^PING ')" -eq 0 ] "... without a PING of its own (the agent keeps the session alive)"
t_ok [ "$(count s7 '^BEAT')" -eq 0 ] "... nor a BEAT to an agent that did not ask for them"
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
# an agent that says how often it pings (HELLO ping=N) is called silent
# after three of its intervals, whatever the policy's keepalive (30 s,
# three periods: 90 s)
: >"$POLICY"
start s7c
say s7c "HELLO 1.0 bsite agent update ping=1"
t_ok lab_wait_for 8 has s7c '^!eof$' \
	"a silent peer that announced ping=1 is declared dead after 3 s, not 90"
# Protocol 1.2: an agent that asks for BEATs (beat=1) is sent one after
# every second of the subsystem's silence, with no PING from it, and is
# judged by the period it pings in then (idle=2: three of them)
: >"$POLICY"
start s7d
say s7d "HELLO 1.2 bsite agent update ping=1 beat=1 idle=2"
t_ok has s7d '^HELLO 1\.2 [0-9a-z]+ subsystem (relay,)?update,export,beat( |$)' \
	"the subsystem announces the beat feature"
t_ok lab_wait_for 8 eval '[ "$(count s7d "^BEAT$")" -ge 3 ]' \
	"an agent that asked for BEATs gets them while both sides are silent"
t_ok [ "$(count s7d '^PING ')" -eq 0 ] "... and no PING"
t_ok lab_wait_for 12 has s7d '^!eof$' "... and is dropped once silent for three of its idle=2 periods"
# the same agent pinging every second (more often than idle=) is kept
start s7e
say s7e "HELLO 1.2 bsite agent update ping=1 beat=1 idle=2"
for i in 1 2 3 4 5 6 7; do
	say s7e "PING k$i"
	sleep 1
done
t_nok has s7e '^!eof$' "a pinging agent that asked for BEATs is kept beyond three idle= periods"
t_ok has s7e '^PONG k7$' "... and its PINGs answered"
say s7e '!quit'
: >"$POLICY"
t_done
