#!/bin/bash
#
# tests/integration/subsystem-many.sh -- rnsplice-subsystem through sshd.
#
# The snapshot of 50 services (and of BROWSE *), twice; then again with
# avahi's objects per client too few for a resolver and a TXT record
# browser per service: the TXT browsers make room.  The lab and the
# helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

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
t_ok lab_wait_for 15 has b3 '^SYNCED$' "BROWSE * with 55 services: SYNCED"
t_diag "snapshot of BROWSE * ($(count b3 '^ADD ') services): $(($(when b3 '^SYNCED$') - t0)) ms"
say b3 '!quit'

# ---------------------------------------------------------------------------
t_diag "50 services, 60 avahi objects per client"

# one service browser and 50 resolvers fit in 60 objects, their 50 TXT
# record browsers do not
LAB_AVAHI_OBJECTS=60 lab_avahi_restart arelay || t_bail "avahi restart failed"
start b4
say b4 "HELLO 1.0 bsite agent update"
say b4 "BROWSE _bulk._tcp"
t_ok lab_wait_for 20 has b4 '^SYNCED$' "60 objects per client: SYNCED"
t_ok [ "$(count b4 '^ADD [0-9]+ Bulk%20service%20[0-9]+ _bulk._tcp ')" -eq 50 ] \
	"60 objects per client: 50 ADDs, every service resolved"
t_nok has b4 '^ERROR limit' "no ERROR limit: the TXT record browsers made room"
if grep -q '^#define MDNS_AVAHI 1' "$top_builddir/config.h"; then
	t_ok grep -q 'objects per client exhausted: TXT changes of' "$LAB_DIR/subsys.log" \
		"the avahi backend gave up TXT record browsers"
fi
say b4 '!quit'
t_done
