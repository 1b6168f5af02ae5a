#!/bin/bash
#
# tests/integration/lab-selftest.sh -- the test lab's own tests.
#
# Builds lab_topology_basic, checks that mDNS stays on its LAN, that ssh
# between the relays works with the generated keys, that nothing routes
# between the LANs, and that cleanup leaves nothing behind -- twice in a row,
# since a second run on the same machine must work as well as the first.
# Then a run killed with SIGKILL (its traps never run) is found and removed
# by tests/lab/lab.sh clean, and one killed with SIGTERM removes itself;
# lab_kill refuses pid 0, empty pids, processes of other programs and
# processes that are not the lab's.
# Needs root; skips (77) otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab

TYPE=_rnslab._tcp

# elapsed T0 -- seconds since T0 (an EPOCHREALTIME), with two decimals.
elapsed() {
	local now=${EPOCHREALTIME//[!0-9]/} then=${1//[!0-9]/} d
	d=$(((now - then) / 10000))
	printf '%d.%02d' "$((d / 100))" "$((d % 100))"
}

# never_seen WATCHPID NAME -- the watcher never even heard of NAME.
never_seen() {
	[ -z "$(lab_watch_times "$1" + "$2")" ]
}

tcp_connect() { # HOST ADDR PORT
	lab_exec "$1" timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$2" "$3" 2>/dev/null
}

# any_alive FILE -- true if a process listed in FILE ("PID [STARTTIME]"
# lines) still runs; names it.
any_alive() {
	local p s
	while read -r p s; do
		if [ -n "$p" ] && lab__alive "$p" "$s"; then
			t_diag "still alive: $p $(tr '\0' ' ' <"/proc/$p/cmdline")"
			return 0
		fi
	done <"$1"
	return 1
}

# root_trees -- the names in /root of the trees lab hosts bind there.
root_trees() {
	local t
	for t in "${LAB__TREES[@]}"; do
		t=${t#/root/}
		printf '%s\n' "${t%%/*}"
	done | LC_ALL=C sort -u
}

# resolved_addr HOST NAME IFACE -- the IPv4 address HOST resolves NAME to.
resolved_addr() {
	lab_browse "$1" "$TYPE" | lab_browse_get "$2" "$3" IPv4 | cut -d';' -f4
}

run_round() {
	local r=$1 t_round t0 svc rsvc pub rpub w_arelay w_brelay w_bcli pids nss
	local established rest now

	t_round=$EPOCHREALTIME
	lab_init || t_bail "round $r: lab_init failed"
	t_diag "round $r: run $LAB_ID in $LAB_DIR"

	t0=$EPOCHREALTIME
	if ! lab_topology_basic; then
		t_fail "round $r: build lab_topology_basic"
		lab_cleanup
		return 1
	fi
	t_pass "round $r: lab_topology_basic built in $(elapsed "$t0") s"

	# --- (a) mDNS stays on its LAN -----------------------------------
	svc="lab selftest $LAB_ID.$r"    # a space and a dot: escaping too
	rsvc="relay own $LAB_ID.$r"
	w_arelay=$(lab_watch arelay "$TYPE")
	w_brelay=$(lab_watch brelay "$TYPE")
	w_bcli=$(lab_watch bcli "$TYPE")
	t0=$EPOCHREALTIME
	pub=$(lab_publish asrv "$svc" "$TYPE" 8080 "round=$r" "x=a;b")
	rpub=$(lab_publish arelay "$rsvc" "$TYPE" 8081)
	t_ok lab_wait_published "$pub" "a: avahi-publish on asrv established"
	t_ok lab_wait_published "$rpub" "a: avahi-publish on arelay established"
	established=$EPOCHREALTIME
	t_diag "round $r: services established after $(elapsed "$t0") s"
	t_ok lab_wait_for 10 lab_seen arelay "$TYPE" "$svc" eth0 IPv4 \
		"a: asrv's service resolved by avahi-browse on arelay (LAN A)"
	# (a browse of its own, which may resolve late on a loaded host)
	t_ok lab_wait_for 10 eval '[ "$(resolved_addr arelay "$svc" eth0)" = 10.1.0.2 ]' \
		"a: ... at asrv's address 10.1.0.2"
	t_ok lab_wait_for 5 lab_watch_seen "$w_arelay" "$svc" eth0 IPv6 \
		"a: ... and over IPv6 link-local (lab_watch on arelay)"
	t_ok lab_wait_for 10 lab_seen asrv "$TYPE" "$rsvc" eth0 IPv4 \
		"a: arelay's own service resolved on asrv (LAN A)"
	# Give LAN B every chance to hear of them: 3 s after establishment.
	now=${EPOCHREALTIME//[!0-9]/}
	rest=$((3000 - (now - ${established//[!0-9]/}) / 1000)) # ms
	if [ "$rest" -gt 0 ]; then
		sleep "$((rest / 1000)).$(printf '%03d' "$((rest % 1000))")"
	fi
	t_ok never_seen "$w_brelay" "$svc" "a: asrv's service never seen on brelay (LAN B)"
	t_ok never_seen "$w_bcli" "$svc" "a: asrv's service never seen on bcli (LAN B)"
	t_ok never_seen "$w_brelay" "$rsvc" \
		"a: arelay's service never seen on brelay (avahi denies wan0)"
	t_nok lab_seen bcli "$TYPE" "$svc" "a: one-shot browse on bcli does not see it either"
	t_ok lab_unpublish "$pub" "a: lab_unpublish stops avahi-publish"
	t_ok lab_wait_for 5 eval '[ "$(lab_watch_count "$w_arelay" "$svc")" = 0 ]' \
		"a: ... and the service goes away on arelay"

	# --- (b) ssh between the relays -------------------------------------
	t0=$EPOCHREALTIME
	t_ok lab_exec brelay ssh siteA true "b: ssh siteA true from brelay"
	t_diag "round $r: ssh siteA true took $(elapsed "$t0") s"
	# empty but for the mount points of source or build trees under /root
	t_ok [ "$(lab_exec brelay ssh siteA 'echo "$HOME:$(LC_ALL=C ls -A /root)"')" = "/root:$(root_trees)" ] \
		"b: the server side runs with the host's own empty /root (${LAB__TREES[*]:-no tree under /root})"
	t_nok eval 'lab_exec brelay ssh -o HostKeyAlias=not-pinned siteA true 2>/dev/null' \
		"b: host keys are checked strictly (unknown key refused)"
	if [ -x "$RNSPLICE_SUBSYSTEM" ]; then
		lab_exec brelay timeout 10 ssh siteA -s rnsplice </dev/null >/dev/null 2>&1
		t_ok [ "$?" -ne 255 ] "b: ssh siteA -s rnsplice is accepted by sshd"
	else
		t_skip_one "b: ssh siteA -s rnsplice" "no $RNSPLICE_SUBSYSTEM"
	fi

	# --- (c) nothing routes between the LANs ----------------------------
	mkdir -p "$LAB_DIR/www" && echo ok >"$LAB_DIR/www/index.html"
	t_ok eval 'lab_http asrv 8080 "$LAB_DIR/www" >/dev/null' "c: HTTP server on asrv"
	t_ok tcp_connect arelay 10.1.0.2 8080 "c: arelay reaches asrv 10.1.0.2:8080"
	t_nok tcp_connect bcli 10.1.0.2 8080 "c: bcli cannot reach asrv 10.1.0.2"
	t_nok tcp_connect brelay 10.1.0.2 8080 "c: brelay cannot reach asrv 10.1.0.2"
	t_nok tcp_connect bcli 10.99.0.1 22 "c: bcli cannot reach the WAN"
	t_ok [ "$(lab_exec arelay cat /proc/sys/net/ipv4/ip_forward)$(lab_exec brelay cat /proc/sys/net/ipv4/ip_forward)" = 00 ] \
		"c: ip_forward is 0 on both relays"
	t_nok eval 'ip -o link show | grep -q "link-netns rns$LAB_ID-"' \
		"c: no lab interface in the machine's own namespace"

	# --- (d) cleanup leaves nothing -------------------------------------
	pids=$(mktemp) || t_bail "mktemp failed"
	{
		cat "$LAB_DIR/pids"
		for ns in $(lab_namespaces); do
			ip netns pids "$ns"
		done
	} >"$pids"
	nss=$(lab_namespaces | wc -l)
	t_diag "round $r: $nss namespaces, $(wc -l <"$pids") processes (some twice) before cleanup"
	t0=$EPOCHREALTIME
	lab_cleanup
	t_pass "round $r: lab_cleanup took $(elapsed "$t0") s"
	t_ok [ -z "$(lab_namespaces)" ] "d: no namespace of run $LAB_ID is left"
	t_nok any_alive "$pids" "d: no process of run $LAB_ID is left"
	rm -f "$pids"
	t_ok [ ! -e "$LAB_DIR" ] "d: $LAB_DIR is removed"
	t_ok lab_cleanup "d: lab_cleanup again is harmless"
	t_diag "round $r took $(elapsed "$t_round") s"
}

# killed_run SIGNAL -- a lab with two hosts and a LAN in a child script,
# which is then sent SIGNAL.  Prints "ID DIR CHILDPID" once the lab stands.
killed_run() {
	local sig=$1 info child id dir pids nss out
	info=$LAB_DIR/killed-$sig
	# shellcheck disable=SC2016  # expanded by the child
	env -u LAB_ID -u LAB_DIR bash -c '
		. "$1" || exit 1
		lab_init || exit 1
		lab_atexit -k ": >\"$2.undone\""
		lab_hosts k1 k2 && lab_lan K 10.7.0 k1 k2 || exit 1
		printf "%s %s\n" "$LAB_ID" "$LAB_DIR" >"$2.tmp" && mv "$2.tmp" "$2"
		while :; do sleep 0.2; done' killed-lab "$here/../lab/lab.sh" "$info" \
		</dev/null >"$info.log" 2>&1 &
	child=$!
	lab_record "$child" || t_bail "killed_run: child did not start"
	if ! lab_wait_for 60 test -s "$info"; then
		t_fail "$sig: the child's lab came up"
		sed 's/^/# child: /' "$info.log"
		lab_kill KILL "$child" bash
		return 1
	fi
	read -r id dir <"$info"
	nss=$(LAB_ID=$id lab_namespaces | wc -l)
	t_ok [ "$nss" -eq 3 ] "$sig: the child's run $id has 3 namespaces ($nss)"
	pids=$(cat "$dir/pids")
	t_ok lab_kill "$sig" "$child" bash "$sig: the child script ($child) is signalled"
	# with TERM the child first runs lab_cleanup: slow on a loaded machine
	t_ok lab_wait_for 60 lab__dead "$child" "$sig: the child is gone"
	wait "$child" 2>/dev/null
	if [ "$sig" = KILL ]; then
		t_ok [ -d "$dir" ] "KILL: no trap ran, the work dir $dir is left"
		t_ok eval '[ "$(LAB_ID=$id lab_namespaces | wc -l)" -eq 3 ]' \
			"KILL: its namespaces are left"
		out=$("$here/../lab/lab.sh" clean 2>&1)
		t_diag "lab.sh clean: $out"
		t_ok eval 'printf "%s" "$out" | grep -q "removing run $id "' \
			"KILL: tests/lab/lab.sh clean names the run it removes"
	else
		lab_wait_for 60 eval '[ ! -e "$dir" ]' || true
	fi
	t_ok [ -z "$(LAB_ID=$id lab_namespaces)" ] "$sig: no namespace of run $id is left"
	t_nok eval 'printf "%s\n" "$pids" | any_alive /dev/stdin' \
		"$sig: no recorded process of run $id is left"
	t_ok [ ! -e "$dir" ] "$sig: its work dir is removed"
	t_ok [ -e "$info.undone" ] "$sig: its lab_atexit -k code ran"
}

# lab_kill's refusals: nothing is signalled, status 1, a message.
kill_refusals() {
	local pid out
	lab_bg arelay "$LAB_DIR/sleep.pid" sleep 600
	read -r pid <"$LAB_DIR/sleep.pid"
	for bad in "" 0 1 -1 "$$" abc; do
		t_nok lab_kill KILL "$bad" sleep "lab_kill refuses pid '$bad'"
	done
	out=$(lab_kill KILL 0 ssh 2>&1)
	t_ok eval 'printf "%s" "$out" | grep -q "refusing to signal pid 0"' \
		"and says why ($out)"
	t_nok lab_kill KILL "$pid" ssh "lab_kill refuses a process of another program"
	t_nok lab_kill KILL "$PPID" "$(readlink "/proc/$PPID/exe")" \
		"lab_kill refuses a process that is not the lab's (the test's parent)"
	t_ok lab__alive "$pid" "after all that, the lab's sleep still runs"
	t_ok lab_kill TERM "$pid" sleep "lab_kill signals the lab's own sleep"
	t_ok lab_wait_for 5 lab__dead "$pid" "which ends"
}

t_start=$EPOCHREALTIME
run_round 1
run_round 2

lab_init || t_bail "lab_init failed"
t_diag "run $LAB_ID: killed runs, lab_kill"
lab_host arelay || t_bail "host arelay"
kill_refusals
killed_run KILL
killed_run TERM
lab_cleanup
t_diag "self-test took $(elapsed "$t_start") s"
t_done
