#!/bin/bash
# Build rnsplice and run every test: the unit tests (check) and the end to
# end lab tests of the main job (root only; skipped otherwise) in a plain
# build, every test -- all the integration tests in the network-namespace
# lab -- under ASan+UBSan, the unit tests under valgrind and with the
# portable replacements of compat/ forced on, the DNS-SD API backend (unit
# tests and the lab tests of browsing and publishing), the Debian packages
# (built, lintian, lab tests against them), a short fuzzing run, and make
# distcheck.
#
#   tests/run-tests.sh [--fast]
#
# --fast: one plain build and `make check` only.
# Prints one closing line "tests: N passed, N failed, N skipped" and exits
# non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)
fast=0
[ "${1:-}" = "--fast" ] && fast=1

pass=0 fail=0 skip=0 stage_failed=""

# Add the counts of one build tree's automake test-suite.log (or of the
# suite log given).
count() {
	local log=${2:-$1/test-suite.log} n
	[ -f "$log" ] || return 0
	n=$(sed -n 's/^# PASS: *//p' "$log"); pass=$((pass + ${n:-0}))
	n=$(sed -n 's/^# SKIP: *//p' "$log"); skip=$((skip + ${n:-0}))
	n=$(sed -n 's/^# FAIL: *//p' "$log"); fail=$((fail + ${n:-0}))
	n=$(sed -n 's/^# ERROR: *//p' "$log"); fail=$((fail + ${n:-0}))
	n=$(sed -n 's/^# XPASS: *//p' "$log"); fail=$((fail + ${n:-0}))
}

stage() {
	local name=$1; shift
	printf '\n=== %s ===\n' "$name"
	local t0=$SECONDS
	if "$@"; then
		printf '=== %s: ok (%ds) ===\n' "$name" $((SECONDS - t0))
	else
		printf '=== %s: FAILED (%ds) ===\n' "$name" $((SECONDS - t0))
		stage_failed="$stage_failed $name"
	fi
	no_leftovers "$name"
}

# After each stage: nothing runs from this tree (its build directories
# included) and no lab run started from it is left; else the stage fails,
# naming them, and runs left by killed tests are removed.
no_leftovers() {
	local out
	[ "$(id -u)" = 0 ] || return 0
	out=$(tests/lab/lab.sh leftovers "$top" "$top"/build*/ 2>&1) && return 0
	printf '%s\n' "$out" | sed 's/^/left behind: /'
	printf '=== %s: FAILED (processes or lab runs left behind) ===\n' "$1"
	stage_failed="$stage_failed leftovers-after-$1"
	tests/lab/lab.sh clean
}

show_failures() {
	local d=$1 f
	for f in $(find "$d/tests" -name '*.log' 2>/dev/null); do
		if grep -q '^FAIL\|^ERROR' "${f%.log}.trs" 2>/dev/null ||
		    grep -q ':test-result: FAIL\|:test-result: ERROR' \
		    "${f%.log}.trs" 2>/dev/null; then
			printf '\n--- %s ---\n' "$f"
			# the failed checks first, with the lines that follow
			# them: the tail alone is often the agents' logs
			grep -n -A 6 '^not ok\|^Bail out' "$f" | head -n 60
			printf -- '--- %s (last lines) ---\n' "$f"
			tail -n 40 "$f"
		fi
	done
}

build_and_check() {
	local dir=$1; shift
	mkdir -p "$dir" && cd "$dir" || return 1
	"$top/configure" --enable-werror "$@" >configure.out 2>&1 ||
	    { cat configure.out; cd "$top"; return 1; }
	make -j"$jobs" >make.out 2>&1 || { tail -n 40 make.out; cd "$top"; return 1; }
	# one test per CPU: most of a lab test's time is spent waiting
	# (avahi's probing, keepalives, backoff), and each lab run has names
	# of its own; leftovers.test still runs after all the others.  With
	# serial=1 (the sanitizer build, which runs the fault and integrity
	# tests: their faults must strike while data still flows) the tests
	# of SERIAL_TESTS run one at a time, never two of them at once, beside
	# the others (one per CPU but one).  With quick=1
	# (the plain build: every lab test runs in the sanitizer build) the
	# unit tests and END_TO_END_TESTS only.
	local r=0 all one par t
	if [ "${quick:-0}" = 1 ]; then
		make -j"$jobs" check TESTS="$(make -s print-unit-tests) $(make -s print-end-to-end-tests) tests/integration/leftovers.test" \
		    >check.out 2>&1 || r=1
		grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS|XFAIL):' check.out
	elif [ "${serial:-0}" = 1 ]; then
		all=$(make -s print-tests) one=$(make -s print-serial-tests)
		par=
		for t in $all; do
			case " $one tests/integration/leftovers.test " in
			*" $t "*) ;;
			*) par="$par $t" ;;
			esac
		done
		# the test programs first: two makes must not build them at once
		make -j"$jobs" check TESTS= >check-build.out 2>&1 ||
		    { tail -n 40 check-build.out; cd "$top"; return 1; }
		local pj=$((jobs > 1 ? jobs - 1 : 1)) ppid
		make -j"$pj" check TESTS="$par" TEST_SUITE_LOG=test-suite-par.log \
		    >check.out 2>&1 &
		ppid=$!
		make -j1 check TESTS="$one" TEST_SUITE_LOG=test-suite-serial.log \
		    >check-serial.out 2>&1 || r=1
		wait "$ppid" || r=1
		grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS|XFAIL):' check.out \
		    check-serial.out | sed 's/^[^:]*://'
		count "$dir" "$dir/test-suite-par.log"
		count "$dir" "$dir/test-suite-serial.log"
		make -j1 check TESTS=tests/integration/leftovers.test \
		    >check-leftovers.out 2>&1 || r=1
		grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS|XFAIL):' check-leftovers.out
	else
		make -j"$jobs" check >check.out 2>&1 || r=1
		grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS|XFAIL):' check.out
	fi
	[ $r -eq 0 ] || show_failures "$dir"
	count "$dir"
	cd "$top"
	return $r
}

# The portable replacements of compat/ forced on and no libbsd (configure
# --enable-compat-fallbacks --with-libbsd=no): what a system without
# pipe2, accept4, SOCK_CLOEXEC, SO_PEERCRED, MSG_NOSIGNAL, getrandom,
# rtnetlink, sys/tree.h, strlcpy, strtonum, reallocarray, closefrom and
# the rest of libbsd runs. Unit tests only (about a minute more); the lab
# tests run on the natives.
compat_units() {
	local dir=$top/build-compat r units
	mkdir -p "$dir" && cd "$dir" || return 1
	"$top/configure" --enable-werror --enable-compat-fallbacks \
	    --with-libbsd=no >configure.out 2>&1 || { cat configure.out; cd "$top"; return 1; }
	# with no TESTS, check only builds the programs
	make -j"$jobs" check TESTS= >make.out 2>&1 ||
	    { tail -n 40 make.out; cd "$top"; return 1; }
	units=$(for t in tests/unit/test_*; do
		case $t in *.o|*.c|*.log|*.trs) continue ;; esac
		[ -x "$t" ] && printf '%s ' "$t"
	done)
	[ -n "$units" ] || { echo "no unit tests built in $dir"; cd "$top"; return 1; }
	make -j"$jobs" check TESTS="$units" >check.out 2>&1
	r=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS):' check.out
	[ $r -eq 0 ] || show_failures "$dir"
	count "$dir"
	cd "$top"
	return $r
}

# fuzz_reap "PID ..." "NAME ...": wait for the fuzzers started, in order,
# and report each.
fuzz_reap() {
	local r=0 pid name pids=$1
	# shellcheck disable=SC2086  # the names are words
	set -- $2
	for pid in $pids; do
		name=$1; shift
		if wait "$pid"; then
			echo "fuzz $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz-$name.out" | grep -o '[0-9]*$') execs, no crash"
			pass=$((pass + 1))
		else
			tail -n 40 "fuzz-$name.out"
			fail=$((fail + 1)); r=1
		fi
	done
	return $r
}

# The DNS-SD API backend (configure --with-mdns=dnssd, on avahi's
# compatibility library): the unit tests, and the lab tests that browse,
# resolve and publish through it -- the publisher (names, scopes,
# collisions, TXT, avahi restarts), the subsystem's browsing and its life
# across an avahi restart, and the agent end to end.
DNSSD_TESTS="tests/integration/publish.sh tests/integration/subsystem-avahi.sh
	tests/integration/subsystem-browse.sh tests/integration/agent.sh"
dnssd_backend() {
	local dir=$top/build-dnssd r units
	mkdir -p "$dir" && cd "$dir" || return 1
	"$top/configure" --enable-werror --with-mdns=dnssd \
	    >configure.out 2>&1 || { cat configure.out; cd "$top"; return 1; }
	make -j"$jobs" check TESTS= >make.out 2>&1 ||
	    { tail -n 40 make.out; cd "$top"; return 1; }
	units=$(for t in tests/unit/test_*; do
		case $t in *.o|*.c|*.log|*.trs) continue ;; esac
		[ -x "$t" ] && printf '%s ' "$t"
	done)
	[ -n "$units" ] || { echo "no unit tests built in $dir"; cd "$top"; return 1; }
	# shellcheck disable=SC2086
	make -j"$jobs" check TESTS="$units $(echo $DNSSD_TESTS)" >check.out 2>&1
	r=$?
	grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS):' check.out
	[ $r -eq 0 ] || show_failures "$dir"
	count "$dir"
	cd "$top"
	return $r
}

fuzz_short() {
	command -v clang >/dev/null || { echo "clang missing: fuzzing skipped"; skip=$((skip + 1)); return 0; }
	local dir=$top/build-fuzz t r=0
	mkdir -p "$dir" && cd "$dir" || return 1
	"$top/configure" --enable-fuzzing CC=clang >configure.out 2>&1 ||
	    { cat configure.out; cd "$top"; return 1; }
	make -j"$jobs" >make.out 2>&1 || { tail -n 40 make.out; cd "$top"; return 1; }
	# one target per CPU at a time: each fuzzer is single-threaded
	local pids="" names="" n=0
	for t in tests/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		local name=${t##*/fuzz_} corpus=$dir/corpus-$name
		mkdir -p "$corpus"
		[ -d "$top/tests/fuzz/corpus/$name" ] &&
		    cp -r "$top/tests/fuzz/corpus/$name/." "$corpus/"
		"$t" -max_total_time=20 -print_final_stats=1 "$corpus" \
		    >"fuzz-$name.out" 2>&1 &
		pids="$pids $!" names="$names $name" n=$((n + 1))
		if [ $n -ge "$jobs" ]; then
			fuzz_reap "$pids" "$names" || r=1
			pids="" names="" n=0
		fi
	done
	[ $n -eq 0 ] || fuzz_reap "$pids" "$names" || r=1
	cd "$top"
	return $r
}

# Every unit test under valgrind, in the plain build (sanitizers and
# valgrind do not mix).
valgrind_units() {
	command -v valgrind >/dev/null || { echo "valgrind missing: skipped"; skip=$((skip + 1)); return 0; }
	cd "$top/build" || return 1
	make check-valgrind >valgrind.out 2>&1
	local r=$? n
	grep -E '^(PASS|FAIL):' valgrind.out
	[ $r -eq 0 ] || tail -n 60 valgrind.out
	n=$(grep -c '^PASS:' valgrind.out); pass=$((pass + n))
	n=$(grep -c '^FAIL:' valgrind.out); fail=$((fail + n))
	cd "$top"
	return $r
}

distcheck() {
	cd "$top/build" || return 1
	# the integration tests already ran in this build; distcheck proves
	# the tarball builds and its unit tests pass
	make distcheck RNSPLICE_LAB=skip >distcheck.out 2>&1
	local r=$?
	[ $r -eq 0 ] && grep -E 'archives ready|\.tar\.gz' distcheck.out | head -3 ||
	    tail -n 60 distcheck.out
	cd "$top"
	return $r
}

tests/deps.sh || exit 1

# Builds happen in build directories; an in-tree build would block them.
if [ -f config.status ]; then
	echo "the source tree is configured in place; running make distclean"
	make distclean >/dev/null 2>&1 || true
fi
[ -x configure ] || stage autogen ./autogen.sh
# each lab test runs once, in the sanitizer build, where it finds the most;
# the plain build runs the unit tests and the main job end to end
if [ $fast -eq 0 ]; then
	quick=1 stage "build and check" build_and_check "$top/build"
else
	stage "build and check" build_and_check "$top/build"
fi
if [ $fast -eq 0 ]; then
	serial=1 stage "sanitizers (ASan+UBSan)" build_and_check \
	    "$top/build-san" --enable-sanitizers
	stage "valgrind (unit tests)" valgrind_units
	stage "compat fallbacks (unit tests)" compat_units
	stage "dnssd backend" dnssd_backend
	# the .debs of HEAD, and the lab tests against what they install
	stage "debian packages" tests/debian.sh "$top/build"
	stage "fuzzing (20 s per target)" fuzz_short
	stage distcheck distcheck
fi

printf '\n'
[ -n "$stage_failed" ] && printf 'failed stages:%s\n' "$stage_failed"
printf 'tests: %d passed, %d failed, %d skipped\n' "$pass" "$fail" "$skip"
[ -z "$stage_failed" ] && [ "$fail" -eq 0 ]
