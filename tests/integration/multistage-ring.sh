#!/bin/bash
#
# tests/integration/multistage-ring.sh -- multi-stage splicing: three sites spliced
# pairwise both ways (a ring) settle with one copy of each foreign service
# and stay quiet; a service gone at its origin leaves every LAN with no
# ghost through the spare path (parts 5-6).
# The lab, the helpers and the parts: multistage-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MS_SITES="a b c"
# shellcheck source=multistage-lib.sh
. "$here/multistage-lib.sh"

# --- 5. ring ---------------------------------------------------------------------------
t_diag "ring: A, B, C spliced pairwise in both directions"
agent_stop erelay
for h in arelay brelay crelay; do
	agent_stop "$h"
done
agent_conf arelay siteB siteC
agent_conf brelay siteA siteC
agent_conf crelay siteA siteB
t0=$EPOCHREALTIME
for h in arelay brelay crelay; do
	agent_start "$h"
done
ring_ok() { # each LAN: one copy of each foreign service, none of its own
	local l s n
	for l in a b c; do
		browse "${l}cli" >"$LAB_DIR/ring.$l.now"
		for s in a b c; do
			n=1
			[ "$l" != "$s" ] || n=0
			[ "$(copies_in "$LAB_DIR/ring.$l.now" "$s" "Web ${s^^}")" -eq "$n" ] ||
				return 1
		done
	done
}
if t_ok lab_wait_for 30 ring_ok "every LAN of the ring has each foreign service once"; then
	timing "ring agents started -> settled" "$(ms_since "$t0")"
fi
sleep 3	# the losers of start-up races withdraw within a second or two
for l in a b c; do
	names "${l}cli" >"$LAB_DIR/ring.$l.before"
done
for h in arelay brelay crelay; do
	counters "$h" >"$LAB_DIR/ring.$h.before"
done
t_ok eval '[ "$(wc -l <"$LAB_DIR/ring.a.before")" -eq 3 ] &&
	[ "$(wc -l <"$LAB_DIR/ring.b.before")" -eq 3 ] &&
	[ "$(wc -l <"$LAB_DIR/ring.c.before")" -eq 3 ]' \
	"each LAN shows 3 services: its own and one copy of each other"
t_diag "quiet window: $QUIET s"
sleep "$QUIET"
for l in a b c; do
	t_ok eval 'names "${l}cli" | cmp -s - "$LAB_DIR/ring.$l.before"' \
		"LAN ${l^^}: the same services after $QUIET s"
done
t_ok ring_ok "and still each foreign service once"
for h in arelay brelay crelay; do
	before=$(cat "$LAB_DIR/ring.$h.before")
	after=$(counters "$h")
	t_diag "$h: events published withdrawn: $before -> $after"
	t_ok [ "$before" = "$after" ] \
		"$h: no service event, publication or withdrawal in $QUIET s"
done
cli brelay services | sed 's/^/# brelay: /'
t_ok eval 'cli brelay services | grep -q "^siteC: \"Web A (siteA)\" _http._tcp not spliced: a shorter path through siteA is used (1 hop, path a,b) \[path a,c,b, 2 hops\]"' \
	"brelay keeps A's copy through C as a spare"

# --- 6. gone at the origin -------------------------------------------------------------
t_diag "Web A goes away at its origin: gone everywhere, no ghost through the spare"
wb=$(lab_watch bcli $T)
wc=$(lab_watch ccli $T)
sleep 1
t0=$EPOCHREALTIME
lab_unpublish "$pub_a"
gone_ring() { # no copy of Web A on LAN B or C
	[ "$(copies bcli a "Web A")" -eq 0 ] && [ "$(copies ccli a "Web A")" -eq 0 ]
}
if t_ok lab_wait_for 10 gone_ring "the copies on LANs B and C are withdrawn"; then
	timing "unpublished at the origin -> gone on LANs B and C" "$(ms_since "$t0")"
fi
sleep 3	# a ghost would have shown up by now
lab_unwatch "$wb" "$wc"
t_ok eval '[ -z "$(lab_watch_times "$wb" + "Web A (siteC)")" ] &&
	[ -z "$(lab_watch_times "$wc" + "Web A (siteB)")" ]' \
	"no ghost: neither LAN saw Web A through the longer path"
t_ok eval '[ "$(jget brelay status "j[\"routing\"][\"held\"]")" -ge 1 ]' \
	"brelay held its spare back (hold-down)"
pub_a=$(lab_publish acli "Web A" $T 8080 path=/ "note=from A")
t0=$EPOCHREALTIME
if t_ok lab_wait_for 15 ring_ok "Web A is back: once on each LAN of the ring"; then
	timing "republished at the origin -> once on every LAN" "$(ms_since "$t0")"
fi
t_diag "time: whole test $(ms_since "$t_start") ms"
t_done
