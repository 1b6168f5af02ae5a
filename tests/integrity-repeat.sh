#!/bin/bash
#
# tests/integrity-repeat.sh -- run the lab's integrity test (and, with
# -f, the fault-injection test) N times in a row in a sanitizer build and
# report every failure.  Not part of make check or .ci/run: an
# intermittent failure shows only in repetition.  Needs root (the lab).
#
#   tests/integrity-repeat.sh [-n N] [-f] [BUILDDIR]
#   make integrity-repeat [REPEAT=N]      (from a build directory)
#
# BUILDDIR (default: the current directory) must be configured with
# --enable-sanitizers.  Each run's log is kept as
# BUILDDIR/tests/integration/integrity-repeat/RUN-TEST.log; the summary
# lists the "not ok" lines of every failed run.  Exit status: 0 if all
# runs passed, 1 otherwise.
set -u

usage() {
	echo "usage: $0 [-n N] [-f] [BUILDDIR]" >&2
	exit 2
}

n=20
tests=tests/integration/integrity.sh
while getopts fn: opt; do
	case $opt in
	n)	case $OPTARG in
		''|*[!0-9]*) usage ;;
		esac
		n=$OPTARG ;;
	f)	tests="$tests tests/integration/integrity-faults.sh" ;;
	*)	usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || usage
build=${1:-.}
if [ ! -f "$build/config.status" ]; then
	echo "$0: $build is not a configured build directory" >&2
	exit 2
fi
if ! grep -q -- '--enable-sanitizers' "$build/config.status"; then
	echo "$0: $build is not a sanitizer build (configure" \
	    "--enable-sanitizers)" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0: the lab needs root" >&2
	exit 2
fi
if [ "${RNSPLICE_RELIABILITY:-}" = skip ]; then
	echo "$0: RNSPLICE_RELIABILITY=skip would skip the test itself" >&2
	exit 2
fi

cd "$build" || exit 2
make all >/dev/null || { echo "$0: make all failed" >&2; exit 2; }
out=tests/integration/integrity-repeat
mkdir -p "$out" || exit 2
failed=0
skipped=0
start=$SECONDS
for i in $(seq 1 "$n"); do
	for t in $tests; do
		b=$(basename "$t" .sh)
		log=$out/$i-$b.log
		t0=$SECONDS
		make check TESTS="$t" >/dev/null 2>&1
		cp "${t%.sh}.log" "$log" 2>/dev/null || : >"$log"
		res=$(sed -n 's/^:test-result: //p' "${t%.sh}.trs" 2>/dev/null)
		case $res in
		PASS)	printf 'run %d/%d %s: ok (%d s)\n' "$i" "$n" "$b" \
			    $((SECONDS - t0)) ;;
		SKIP)	skipped=$((skipped + 1))
			printf 'run %d/%d %s: SKIPPED: %s\n' "$i" "$n" "$b" \
			    "$(grep -m1 -i skip "$log")" ;;
		*)	failed=$((failed + 1))
			printf 'run %d/%d %s: FAILED (%s), log %s\n' "$i" "$n" \
			    "$b" "${res:-no result}" "$build/$log"
			grep '^not ok' "$log" | sed 's/^/    /' ;;
		esac
	done
done
printf 'integrity-repeat: %d runs of %s: %d failed, %d skipped, %d s\n' \
    "$n" "$tests" "$failed" "$skipped" $((SECONDS - start))
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
