#!/bin/bash
#
# tests/integration/dnsupdate.sh -- dns-update: the agent publishes what it
# splices into a DNS zone served by a real BIND 9 (named) in the lab, with
# RFC 2136 updates signed with TSIG.
#
#   asrv --LAN A-- arelay ==WAN== brelay --LAN B-- bcli, bdns (named)
#
# 1. dig on bcli sees the browse PTR, SRV, TXT (origin's items and the
#    splice metadata), the host's A, the _services enumeration and the
#    b/lb browse-domain PTRs; bcli fetches the page through what DNS says;
#    rnsplice status shows the zone (text and JSON).
# 2. avahi-browse -d ZONE with wide-area browsing on bcli finds it.
# 3. A name too long for DNS under the zone is refused for that service
#    only, with the reason in rnsplice services and the log.
# 4. Withdrawal at the origin removes the records; so does a clean
#    shutdown (with the host's A).  With "mdns no" a service is in the zone
#    and not announced on LAN B; "mdns no" without dns-update is refused.
# 5. kill -9 of the agent leaves its records; the next start removes them.
# 6. A wrong key (unknown to named: BADKEY; known name, other secret:
#    BADSIG) is refused with a clear status, and nothing is published.
#    An address that is not the agent's own is refused the same way.
# 7. named down: status says so; once it is back, the retry publishes.
# 8. The remote lost (sshd gone): its services leave the zone.
# Needs root (the lab) and named; skips otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later
# shellcheck disable=SC2317  # helpers are called through t_ok / eval
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab
NAMED=$(command -v named || echo /usr/sbin/named)
[ -x "$NAMED" ] || t_skip "named not installed (Debian: apt-get install bind9)"
command -v dig >/dev/null || t_skip "dig not installed (Debian: apt-get install bind9-dnsutils)"
command -v tsig-keygen >/dev/null || t_skip "tsig-keygen not installed (bind9)"
AGENT=$top_builddir/agent/rnsplice-agent
CLI=$top_builddir/agent/rnsplice
SUB=$top_builddir/subsystem/rnsplice-subsystem
for f in "$AGENT" "$CLI" "$SUB"; do
	[ -x "$f" ] || t_bail "$f not built"
done
probe=$(mktemp)
printf 'dns-update {\n}\n' >"$probe"
if "$AGENT" -n -f "$probe" siteA 2>&1 | grep -q "without ldns"; then
	rm -f "$probe"
	t_skip "rnsplice-agent built without ldns"
fi
rm -f "$probe"

lab_init || t_bail "lab_init failed"
t_diag "lab $LAB_ID in $LAB_DIR"
cat >"$LAB_DIR/subsys-wrapper" <<EOF
exec "$SUB" -d 2>>"$LAB_DIR/subsys.log"
EOF
chmod +x "$LAB_DIR/subsys-wrapper"
RNSPLICE_SUBSYSTEM=$LAB_DIR/subsys-wrapper

lab_hosts asrv arelay brelay bcli bdns || t_bail "hosts"
lab_lan A 10.1.0 arelay asrv || t_bail "LAN A"
lab_lan B 10.2.0 brelay bcli bdns || t_bail "LAN B"
lab_wan arelay brelay 10.99.0 || t_bail "WAN"
lab_sshd arelay || t_bail "sshd"
lab_ssh_client brelay siteA arelay 10.99.0.1 || t_bail "ssh client"
lab_wait_avahi asrv arelay brelay bcli bdns
RELAY=$(lab_addr brelay) || t_bail "address of brelay"
DNS=$(lab_addr bdns) || t_bail "address of bdns"
# a long zone (179 bytes), so that a 63-byte instance name does not fit
# under it (256 bytes in wire form), while ordinary ones do
ZONE=sites$LAB_ID.$(printf '%060d' 0 | tr 0 a).$(printf '%060d' 0 | tr 0 b).$(printf '%040d' 0 | tr 0 c).test
lab_atexit '[ "$T_FAILED" -eq 0 ] || { tail -n 60 "$LAB_DIR/agent.log"; tail -n 30 "$LAB_DIR/named/named.log"; } | sed "s/^/# /"'

# --- named: authoritative for ZONE, updates signed with one key ---------
N=$LAB_DIR/named
mkdir -p "$N"
tsig-keygen -a hmac-sha256 rnsplice-test >"$N/update.key"
chmod 600 "$N/update.key"
cat >"$N/named.conf" <<EOF
options {
	directory "$N";
	pid-file "$N/named.pid";
	session-keyfile "$N/session.key";
	listen-on port 53 { $DNS; };
	listen-on-v6 { none; };
	recursion no;
	dnssec-validation no;
	allow-transfer { none; };
};
controls { };
include "$N/update.key";
zone "$ZONE" {
	type primary;
	file "$N/zone.db";
	update-policy { grant rnsplice-test zonesub ANY; };
};
EOF
cat >"$N/zone.db" <<EOF
\$TTL 300
@	IN SOA	ns.$ZONE. hostmaster.$ZONE. 1 3600 600 86400 60
	IN NS	ns.$ZONE.
ns	IN A	$DNS
EOF
lab_bg bdns "$N/pid" "$NAMED" -g -c "$N/named.conf" >"$N/named.log" 2>&1
read -r named_pid <"$N/pid"
lab_atexit 'lab_kill TERM "$named_pid" "$NAMED" >/dev/null 2>&1 || true'
q() { # TYPE NAME: dig's short answer, from bcli
	lab_exec bcli dig +tries=1 +time=2 +short "@$DNS" "$1" "$2" 2>/dev/null
}
lab_wait_for 20 eval '[ -n "$(q SOA "$ZONE")" ]' || {
	tail -n 20 "$N/named.log"
	t_bail "named does not answer for $ZONE"
}
t_pass "named (pid $named_pid) serves $ZONE"

# --- the origin service and the agent ------------------------------------
www=$LAB_DIR/www
mkdir -p "$www"
echo "hello $LAB_ID" >"$www/index.html"
lab_http asrv 8080 "$www" >/dev/null || t_bail "http 8080"
p1=$(lab_publish asrv "Web $LAB_ID" _http._tcp 8080 "path=/index.html")
lab_wait_published "$p1" || t_bail "publish"

cat >"$LAB_DIR/agent.conf" <<EOF
allow-root yes
dns-update {
	server $DNS port 53
	zone $ZONE
	key $N/update.key
	address $RELAY
}
remote siteA {
	types _http._tcp
}
EOF
agent_start() { # CONF
	lab_bg brelay "$LAB_DIR/agent.pid" env XDG_RUNTIME_DIR=/run \
		"$AGENT" -d -v -f "$1" >>"$LAB_DIR/agent.log" 2>&1
	read -r agent_pid <"$LAB_DIR/agent.pid"
}
agent_stop() { # SIGNAL
	lab_kill "$1" "$agent_pid" "$AGENT" || return 1
	lab_wait_for 20 eval '! kill -0 "$agent_pid" 2>/dev/null'
}
cli() { lab_exec brelay "$CLI" -S /run/rnsplice/agent.sock "$@"; }
ptrs() { q PTR "_http._tcp.$ZONE"; }
inst() { # NAME: the instance's name in the zone, as dig prints it
	ptrs | grep -F "$1" | head -n 1
}
published() { [ -n "$(inst "$1")" ]; }
agent_start "$LAB_DIR/agent.conf"

# --- 1. the records --------------------------------------------------------
t_ok lab_wait_for 30 published "$LAB_ID" \
	"the browse PTR _http._tcp.$ZONE appears"
i=$(inst "$LAB_ID")
t_diag "instance: $i"
srv=$(q SRV "$i")
t_diag "SRV: $srv"
port=$(echo "$srv" | awk '{ print $3 }')
target=$(echo "$srv" | awk '{ print $4 }')
t_ok eval 'case $target in rns-*."$ZONE".) true ;; *) false ;; esac' \
	"SRV points to the agent's own host name in the zone ($target)"
t_ok eval '[ "$(q A "$target")" = "$RELAY" ]' "its A record is the relay's address $RELAY"
txt=$(q TXT "$i")
t_diag "TXT: $txt"
t_ok eval 'echo "$txt" | grep -q "\"path=/index.html\""' "TXT holds the origin's item"
t_ok eval 'echo "$txt" | grep -q "\"rnsplice=v1;"' "TXT holds the splice metadata"
t_ok eval 'q PTR "_services._dns-sd._udp.$ZONE" | grep -qx "_http._tcp.$ZONE."' \
	"_services._dns-sd._udp enumerates _http._tcp"
t_ok eval 'q PTR "b._dns-sd._udp.$ZONE" | grep -qx "$ZONE." &&
	q PTR "lb._dns-sd._udp.$ZONE" | grep -qx "$ZONE."' \
	"b and lb browse-domain PTRs name the zone"
t_ok eval 'lab_exec bcli curl -sS --max-time 10 "http://$(q A "$target"):$port/index.html" |
	grep -q "hello $LAB_ID"' "a client on LAN B fetches the page where DNS says (port $port)"
t_ok eval 'cli status | grep -q "^dns-update $ZONE (server $DNS port 53, key rnsplice-test, host rns-.*): 1 published, 0 pending"' \
	"rnsplice status shows the zone and the service"
t_ok eval 'cli --json status | grep -q "\"dns_update\":\[{\"zone\":\"$ZONE\".*\"state\":\"ok\",\"published\":1"' \
	"rnsplice --json status shows it too"
t_ok eval 'cli services | grep -q "DNS: published"' "rnsplice services says it is in DNS"

# --- 2. avahi's wide-area browsing ----------------------------------------
printf 'nameserver %s\n' "$DNS" >"$LAB_DIR/bcli/resolv.conf"
lab_exec bcli mount --bind "$LAB_DIR/bcli/resolv.conf" /etc/resolv.conf ||
	t_bail "resolv.conf for bcli"
LAB_AVAHI_WIDE_AREA=yes lab_avahi_restart bcli || t_bail "avahi wide-area"
wab() {
	lab_exec bcli timeout 10 avahi-browse -d "$ZONE" -rtp _http._tcp 2>/dev/null |
		grep '^=' | grep -F "$LAB_ID" | grep -qF ";$port;"
}
t_ok lab_wait_for 30 wab "avahi-browse -d $ZONE (wide-area) on bcli finds and resolves it"

# --- 3. a name that does not fit ------------------------------------------
long="Long $LAB_ID $(printf '%051d' 0 | tr 0 L)"	# 63 bytes, the most mDNS allows
p4=$(lab_publish asrv "$long" _http._tcp 8080)
lab_wait_published "$p4" || t_bail "publish"
t_ok lab_wait_for 30 eval 'cli services | grep -F "Long $LAB_ID" | grep -q "DNS: a name of 256 bytes in DNS wire form, more than the 255 a name may have"' \
	"a 63-byte instance name under the 179-byte zone is refused for DNS, with the reason"
t_ok eval 'cli --json status | grep -q "\"published\":1,\"pending\":0,\"refused\":1"' \
	"status counts it as refused, the other service stays published"
t_ok eval '[ "$(ptrs | wc -l)" = 1 ]' "the zone holds the other service only"
t_ok grep -qF "is not published in $ZONE: a name of 256 bytes" "$LAB_DIR/agent.log" \
	"the agent logged why"
lab_unpublish "$p4"

# --- 4. withdrawal -----------------------------------------------------------
lab_unpublish "$p1"
t_ok lab_wait_for 20 eval '! published "$LAB_ID"' \
	"withdrawn at the origin: the PTR leaves the zone"
t_ok eval '[ -z "$(q SRV "$i")" ] && [ -z "$(q TXT "$i")" ]' "and so do SRV and TXT"
t_ok lab_wait_for 10 eval '[ -z "$(q PTR "_services._dns-sd._udp.$ZONE")" ]' \
	"the last _http._tcp instance gone, _services no longer lists the type"

p2=$(lab_publish asrv "Again $LAB_ID" _http._tcp 8080)
lab_wait_published "$p2" || t_bail "publish"
t_ok lab_wait_for 30 published "Again" "a new service is published"
t_ok lab_wait_for 10 lab_seen bcli _http._tcp "Again $LAB_ID (siteA)" \
	"... and announced on LAN B by mDNS too (mdns yes, the default)"
# shellcheck disable=SC2034  # used in eval
target2=$(q SRV "$(inst Again)" | awk '{ print $4 }')
agent_stop TERM || t_bail "agent did not stop"
t_ok eval '! published "Again" && [ -z "$(q A "$target2")" ]' \
	"a clean shutdown removes its records and the host's A"
t_ok grep -q "dns-update $ZONE: withdrew \"Again" "$LAB_DIR/agent.log" \
	"the agent logged the withdrawal"

# --- 4b. "mdns no": in the zone instead of on LAN B ----------------------------
sed 's/^remote siteA {$/mdns no\nremote siteA {/' "$LAB_DIR/agent.conf" \
	>"$LAB_DIR/agent-dnsonly.conf"
agent_start "$LAB_DIR/agent-dnsonly.conf"
t_ok lab_wait_for 30 published "Again" "mdns no: the service is in the zone"
t_ok eval 'cli services | grep -F "Again" | grep -q "DNS: published"' \
	"mdns no: rnsplice services says it is in DNS"
# mDNS publication takes about a second where it happens (probing)
sleep 3
t_nok lab_seen bcli _http._tcp "Again $LAB_ID (siteA)" \
	"mdns no: nothing is announced on LAN B by mDNS"
agent_stop TERM || t_bail "agent did not stop"
t_ok lab_wait_for 10 eval '! published "Again"' "mdns no: gone from the zone at shutdown"
printf 'allow-root yes\nmdns no\nremote siteA {\n}\n' >"$LAB_DIR/nowhere.conf"
t_nok eval '"$AGENT" -n -f "$LAB_DIR/nowhere.conf" 2>/dev/null' \
	"mdns no without a dns-update block is refused"
t_ok eval '"$AGENT" -n -f "$LAB_DIR/nowhere.conf" 2>&1 | grep -q "remote siteA: \"mdns no\" without a dns-update block would publish it nowhere"' \
	"mdns no without dns-update: the reason is given"

# --- 5. kill -9 and restart ---------------------------------------------------
agent_start "$LAB_DIR/agent.conf"
t_ok lab_wait_for 30 published "Again" "published again after a restart"
agent_stop KILL || t_bail "agent did not die"
t_ok published "Again" "kill -9: its records stay behind"
lab_unpublish "$p2"
sleep 2	# the service is gone at the origin before the agent comes back
agent_start "$LAB_DIR/agent.conf"
t_ok lab_wait_for 20 eval '! published "Again" && [ -z "$(q A "$target2")" ]' \
	"the next start removes the stale records of its predecessor"
t_ok grep -q "left by an earlier run of this agent" "$LAB_DIR/agent.log" \
	"and says so"
agent_stop TERM || t_bail "agent did not stop"

# --- 6. wrong keys --------------------------------------------------------------
p3=$(lab_publish asrv "Keyed $LAB_ID" _http._tcp 8080)
lab_wait_published "$p3" || t_bail "publish"
tsig-keygen -a hmac-sha256 unknown-key >"$N/unknown.key"
tsig-keygen -a hmac-sha256 rnsplice-test >"$N/other-secret.key"
chmod 600 "$N/unknown.key" "$N/other-secret.key"
for k in unknown other-secret; do
	sed "s|$N/update.key|$N/$k.key|" "$LAB_DIR/agent.conf" >"$LAB_DIR/agent-$k.conf"
done
agent_start "$LAB_DIR/agent-unknown.conf"
t_ok lab_wait_for 20 eval 'cli status | grep -q "error: server $DNS port 53 refused key \"unknown-key\": NOTAUTH (TSIG BADKEY: the server knows no such key); next try in"' \
	"a key named does not know: status says BADKEY and when it tries again"
t_ok eval 'cli --json status | grep -q "\"state\":\"retrying\",\"published\":0"' \
	"JSON status: retrying, nothing published"
agent_stop TERM || t_bail "agent did not stop"
agent_start "$LAB_DIR/agent-other-secret.conf"
t_ok lab_wait_for 20 eval 'cli status 2>/dev/null | grep -q "refused key \"rnsplice-test\": NOTAUTH (TSIG BADSIG: the key.s secret differs from the server.s)"' \
	"the right name with another secret: status says BADSIG"
t_nok published "Keyed" "nothing was published with a wrong key"
agent_stop TERM || t_bail "agent did not stop"
sed "s|address $RELAY|address 10.2.0.99|" "$LAB_DIR/agent.conf" >"$LAB_DIR/agent-notown.conf"
agent_start "$LAB_DIR/agent-notown.conf"
t_ok lab_wait_for 20 eval 'cli status 2>/dev/null | grep -q "error: address 10.2.0.99 is not an address of this host: nothing is published in the zone"' \
	"an address that is not the agent's own: status says so"
t_nok published "Keyed" "and nothing is published"
agent_stop TERM || t_bail "agent did not stop"

# --- 7. the server down, then back -----------------------------------------------
named_stop() {
	lab_kill TERM "$named_pid" "$NAMED" &&
		lab_wait_for 20 eval '! kill -0 "$named_pid" 2>/dev/null'
}
named_stop || t_bail "named did not stop"
agent_start "$LAB_DIR/agent.conf"
t_ok lab_wait_for 20 eval 'cli status 2>/dev/null | grep -q "error: server $DNS port 53: Connection refused; next try in"' \
	"named down: status says the connection is refused and when the next try is"
lab_bg bdns "$N/pid" "$NAMED" -g -c "$N/named.conf" >>"$N/named.log" 2>&1
read -r named_pid <"$N/pid"
t_ok lab_wait_for 90 published "Keyed" "named back: the retry publishes the service"
t_ok eval 'cli status | grep -q "^dns-update $ZONE .*: 1 published, 0 pending"' \
	"and status is clean again"
# --- 8. the remote lost --------------------------------------------------------------
lab_sshd_stop arelay --sessions || t_bail "sshd stop"
t_ok lab_wait_for 30 eval '! published "Keyed"' \
	"the remote lost (sshd and its sessions gone): its service leaves the zone"
agent_stop TERM || t_bail "agent did not stop"

t_ok named_stop "named stopped"
lab_unpublish "$p3"
t_done
