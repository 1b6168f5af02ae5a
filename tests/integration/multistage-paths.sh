#!/bin/bash
#
# tests/integration/multistage-paths.sh -- multi-stage splicing: a chain of
# splices, two paths (the shorter wins, one copy per LAN), failover and
# back, the hop limit on both sides (parts 1-4).
# The lab, the helpers and the parts: multistage-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=multistage-lib.sh
. "$here/multistage-lib.sh"

# --- 1. chain A -> B -> D ----------------------------------------------------------
t_diag "chain: A -> B -> D"
agent_conf brelay siteA
agent_conf drelay siteB siteE
agent_start brelay
t0=$EPOCHREALTIME
agent_start drelay
if t_ok lab_wait_for 20 seen_at dcli "Web A (siteB)" 10.4.0.1 \
	"dcli resolves \"Web A (siteB)\" at drelay's address"; then
	timing "agent start -> 2-hop service resolved on dcli" "$(ms_since "$t0")"
fi
read -r addr port <<<"$(addr_port dcli "Web A (siteB)")"
t_ok eval '[ "$(lab_exec dcli curl -sS --max-time 10 "http://$addr:$port/index.html")" = "hello from acli $LAB_ID" ]' \
	"dcli fetches acli's page through two splices"
txt=$(browse dcli | lab_browse_get "Web A (siteB)" eth0 IPv4 | head -n 1 | cut -d';' -f6-)
t_ok eval '[[ $txt == *"\"rnsplice=v1;o=a;p=a,b,d;n=Web A\""* ]]' \
	"the TXT record carries origin a, path a,b,d, origin name ($txt)"
t_ok eval '[[ $txt == *"\"path=/\""* && $txt == *"\"note=from A\""* ]]' \
	"the origin's own TXT items are intact"
cli drelay services | sed 's/^/# drelay: /'
t_ok eval 'cli drelay services | grep -q "\"Web A (siteA)\" _http._tcp from .* as \"Web A (siteB)\" .*path a,b,d, 2 hops"' \
	"rnsplice services shows path a,b,d and 2 hops"
chain_json() {
	[ "$(jget drelay services '"%s %s %d %s" % (s["origin"], ",".join(s["path"]), s["hops"], s["spliced"])' "Web A (siteA)")" = "a a,b,d 2 True" ]
}
t_ok chain_json "rnsplice --json services: origin a, path [a,b,d], hops 2"
t_ok eval 'cli brelay services | grep -q "\"Web A\" _http._tcp .*path a,b, 1 hop$"' \
	"brelay: path a,b, 1 hop"
t_ok ncopies dcli a "Web A" 1 "LAN D has one copy of Web A"
t_ok ncopies bcli b "Web B" 0 "nothing of LAN B comes back to LAN B"

# --- 2. two paths ------------------------------------------------------------------
t_diag "two paths: A -> B -> D and A -> C -> E -> D"
agent_conf crelay siteA
agent_conf erelay siteC
agent_conf d2relay siteE
agent_start crelay
agent_start erelay
t0=$EPOCHREALTIME
candidate() { # HOST NAME
	[ "$(jget "$1" services 's is not None and s["candidate"]' "$2")" = True ]
}
t_ok lab_wait_for 20 candidate drelay "Web A (siteC)" \
	"drelay gets Web A through E as well"
timing "3-hop path known at drelay" "$(ms_since "$t0")"
agent_start d2relay
t_ok lab_wait_for 20 eval 'cli d2relay services | grep -q "\"Web A (siteC)\" .*not spliced: on this LAN already as \"Web A (siteB)\" (2 hops, path a,b,d)"' \
	"d2relay holds back: drelay's 2-hop copy is on LAN D already"
cli drelay services | sed 's/^/# drelay: /'
cli d2relay services | sed 's/^/# d2relay: /'
t_ok eval 'cli drelay services | grep -q "\"Web A (siteC)\" _http._tcp not spliced: a shorter path through siteB is used (2 hops, path a,b,d) \[path a,c,e,d, 3 hops\]"' \
	"drelay keeps the 3-hop path as an unused candidate"
t_ok ncopies dcli a "Web A" 1 "LAN D still has exactly one copy of Web A"
t_ok seen_at dcli "Web A (siteB)" 10.4.0.1 "and it is the shorter one"
t_ok ncopies ecli a "Web A" 1 "LAN E has Web A (through C)"
t_ok lab_wait_for 10 ncopies dcli c "Web C" 1 \
	"Web C (both D relays could import it, same path): one copy on LAN D"
t_ok ncopies dcli b "Web B" 1 "Web B: one copy on LAN D"

[ "${MULTISTAGE_STOP:-}" != 2 ] || t_done

# --- 3. failover ---------------------------------------------------------------------
t_diag "failover: drelay's WAN leg to brelay ($BD_IF) goes down"
watch=$(lab_watch dcli $T)
sleep 1
t0=$EPOCHREALTIME
t_down=$t0
lab_exec drelay ip link set "$BD_IF" down
if t_ok lab_wait_for 20 seen_at dcli "Web A (siteE)" 10.4.0.1 \
	"D switches to the path through E"; then
	timing "link down -> longer path resolved on dcli" "$(ms_since "$t0")"
fi
t_ok lab_wait_for 5 gone dcli "Web A (siteB)" "the old copy is withdrawn"
t_ok ncopies dcli a "Web A" 1 "one copy on LAN D during the outage"
read -r addr port <<<"$(addr_port dcli "Web A (siteE)")"
t_ok eval '[ "$(lab_exec dcli curl -sS --max-time 10 "http://$addr:$port/index.html")" = "hello from acli $LAB_ID" ]' \
	"dcli fetches acli's page through three splices"
t_ok eval 'cli d2relay services | grep -q "\"Web A (siteC)\" .*not spliced: on this LAN already as \"Web A (siteE)\""' \
	"d2relay still holds back (drelay's copy is as good and published)"
t0=$EPOCHREALTIME
t_up=$t0
lab_exec drelay ip link set "$BD_IF" up
if t_ok lab_wait_for 40 seen_at dcli "Web A (siteB)" 10.4.0.1 \
	"the leg is back: D returns to the 2-hop path"; then
	timing "link up -> shorter path resolved on dcli (includes ssh backoff)" "$(ms_since "$t0")"
fi
t_ok lab_wait_for 5 gone dcli "Web A (siteE)" "and withdraws the 3-hop copy"
sleep 1
lab_unwatch "$watch"
# gaps as dcli saw them: old copy removed -> new copy resolved
# (IPv4 on eth0; negative: the new one came first)
gap() { # OLD NEW SINCE
	local rm add
	rm=$(lab_watch_times "$watch" - "$1" eth0 IPv4 | awk -v t="$3" '$1 > t' | head -n 1)
	add=$(lab_watch_times "$watch" = "$2" eth0 IPv4 | awk -v t="$3" '$1 > t' | head -n 1)
	[ -n "$rm" ] && [ -n "$add" ] || return 1
	awk -v a="$add" -v r="$rm" 'BEGIN { printf "%d", (a - r) * 1000 }'
}
if g=$(gap "Web A (siteB)" "Web A (siteE)" "$t_down"); then
	timing "visible gap on dcli, link down: switch to the longer path" "$g"
fi
if g=$(gap "Web A (siteE)" "Web A (siteB)" "$t_up"); then
	timing "visible gap on dcli, link up: switch back" "$g"
fi
watch=$(lab_watch dcli $T)
sleep 1
# the same when the 2-hop copy is withdrawn upstream (brelay's agent
# stops: its copies leave LAN B, brelay's subsystem sends REMOVE): drelay
# waits for the hold-down (2 s) in case Web A is gone at its origin, then
# takes the 3-hop path
t0=$EPOCHREALTIME
t_stop=$t0
agent_stop brelay
if t_ok lab_wait_for 20 seen_at dcli "Web A (siteE)" 10.4.0.1 \
	"brelay's agent stops: D takes the path through E"; then
	timing "brelay's agent stopped -> longer path resolved on dcli" "$(ms_since "$t0")"
fi
t0=$EPOCHREALTIME
t_restart=$t0
agent_start brelay
if t_ok lab_wait_for 20 seen_at dcli "Web A (siteB)" 10.4.0.1 \
	"brelay's agent is back: D returns to the 2-hop path"; then
	timing "brelay's agent started -> shorter path resolved on dcli" "$(ms_since "$t0")"
fi
t_ok lab_wait_for 5 gone dcli "Web A (siteE)" "and withdraws the 3-hop copy"
sleep 1
lab_unwatch "$watch"
if g=$(gap "Web A (siteB)" "Web A (siteE)" "$t_stop"); then
	timing "visible gap on dcli, withdrawn upstream: switch (hold-down)" "$g"
fi
if g=$(gap "Web A (siteE)" "Web A (siteB)" "$t_restart"); then
	timing "visible gap on dcli, switch back" "$g"
fi
t_ok eval '[ "$(lab_watch_count "$watch" "Web A (siteB)" eth0 IPv4)" -eq 1 ] &&
	[ "$(lab_watch_count "$watch" "Web A (siteE)" eth0 IPv4)" -eq 0 ]' \
	"dcli's browser ends with the 2-hop copy only"
t_ok eval '[ "$(jget drelay status "j[\"routing\"][\"switches\"]")" -ge 2 ]' \
	"drelay counted the path switches"

# --- 4. hop limit ---------------------------------------------------------------------
t_diag "hop limit"
agent_stop d2relay
agent_stop drelay
t_ok lab_wait_for 10 lan_empty dcli "the agents of LAN D withdrew everything"
agent_conf drelay max-hops 1 siteB siteE
agent_start drelay
t_ok lab_wait_for 20 synced drelay "drelay (max-hops 1) synced with both remotes"
t_ok lab_wait_for 10 seen_at dcli "Web B (siteB)" 10.4.0.1 \
	"drelay with max-hops 1 imports Web B (1 hop)"
t_ok gone dcli "Web A (siteB)" "but not Web A (2 hops)"
t_ok ncopies dcli a "Web A" 0 "no copy of Web A on LAN D"
t_ok eval '[ "$(jget drelay status "\",\".join(str(r[\"maxhops\"]) for r in j[\"remotes\"])")" = 1,1 ]' \
	"both sessions run with max-hops 1"
agent_stop drelay
t_ok lab_wait_for 10 lan_empty dcli "withdrawn again"
echo "max-hops 1" >"$LAB_DIR/brelay/policy.conf"
agent_conf drelay siteB
agent_start drelay
t_ok lab_wait_for 20 synced drelay "drelay (max-hops 4) synced with brelay"
t_ok lab_wait_for 10 seen_at dcli "Web B (siteB)" 10.4.0.1 \
	"brelay's subsystem with max-hops 1 offers Web B (native)"
t_ok eval '[ "$(jget drelay services "len([x for x in j if x[\"name\"] == n])" "Web A (siteA)")" = 0 ]' \
	"but does not offer Web A (1 hop already)"
t_ok eval '[ "$(jget drelay status "j[\"remotes\"][0][\"maxhops\"]")" = 1 ]' \
	"the session's limit is the subsystem's (1)"
: >"$LAB_DIR/brelay/policy.conf"
agent_stop drelay
t_diag "time: whole test $(ms_since "$t_start") ms"
t_done
