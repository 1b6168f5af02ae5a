#!/bin/bash
# tests/debian.sh [BUILDDIR] -- the Debian packages, as CI checks them:
# build both from a clean clone of HEAD (dpkg-buildpackage -us -uc -b),
# lintian without errors, the files where they belong (the sshd drop-in a
# conffile, the user unit under /usr/lib/systemd/user), then unpack them
# (dpkg -x, never into this machine's /usr) and run the subsystem, agent,
# reload and unit-file tests against the unpacked programs.  BUILDDIR is
# a built tree for the tests' own helper programs (default: build).
# Prints what it checks; exits non-zero on the first failure.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
builddir=${1:-$top/build}
jobs=$(nproc 2>/dev/null || echo 2)
for c in git dpkg-buildpackage dh lintian; do
	command -v "$c" >/dev/null || { echo "debian.sh: $c missing (tests/deps.sh)" >&2; exit 1; }
done
[ -f "$builddir/Makefile" ] || { echo "debian.sh: $builddir is not a configured build tree" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/rnsplice-deb.XXXXXX") || exit 1
trap 'rm -rf -- "$work"' EXIT
fail() { echo "debian.sh: $*" >&2; exit 1; }

git clone -q "$top" "$work/src" || fail "git clone"
echo "building the packages from a clean clone of $(git -C "$top" rev-parse --short HEAD)"
(cd "$work/src" && dpkg-buildpackage -us -uc -b -j"$jobs") >"$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log"; fail "dpkg-buildpackage failed"; }
server=$(ls "$work"/rnsplice-server_*.deb) && client=$(ls "$work"/rnsplice-client_*.deb) ||
	fail "packages missing"
echo "built $(basename "$server") $(basename "$client")"

lintian "$server" "$client" >"$work/lintian.out" 2>&1
sed 's/^/lintian: /' "$work/lintian.out"
grep -q '^E:' "$work/lintian.out" && fail "lintian reports errors"

dpkg-deb -e "$server" "$work/server.ctl" || fail "dpkg-deb -e"
grep -qx /etc/ssh/sshd_config.d/rnsplice.conf "$work/server.ctl/conffiles" ||
	fail "the sshd drop-in is not a conffile"
for f in ./usr/libexec/rnsplice-subsystem ./etc/ssh/sshd_config.d/rnsplice.conf \
    ./usr/share/man/man8/rnsplice-subsystem.8.gz \
    ./usr/share/doc/rnsplice-server/examples/subsystem.conf.example; do
	dpkg-deb -c "$server" | awk '{ print $6 }' | grep -qx "$f" ||
		fail "rnsplice-server lacks $f"
done
for f in ./usr/bin/rnsplice-agent ./usr/bin/rnsplice \
    ./usr/lib/systemd/user/rnsplice-agent.service \
    ./usr/share/man/man1/rnsplice-agent.1.gz ./usr/share/man/man1/rnsplice.1.gz \
    ./usr/share/man/man5/rnsplice-agent.conf.5.gz; do
	dpkg-deb -c "$client" | awk '{ print $6 }' | grep -qx "$f" ||
		fail "rnsplice-client lacks $f"
done
echo "contents and conffiles as expected"

root=$work/root
dpkg -x "$server" "$root" && dpkg -x "$client" "$root" || fail "dpkg -x"
grep -qx 'Subsystem rnsplice /usr/libexec/rnsplice-subsystem' \
	"$root/etc/ssh/sshd_config.d/rnsplice.conf" || fail "the drop-in names another path"

echo "integration tests against the unpacked programs"
export RNSPLICE_INSTALLED=$root/usr
export RNSPLICE_SUBSYSTEM=$root/usr/libexec/rnsplice-subsystem
export RNSPLICE_AGENT=$root/usr/bin/rnsplice-agent
export RNSPLICE_CLI=$root/usr/bin/rnsplice
export RNSPLICE_UNIT=$root/usr/lib/systemd/user/rnsplice-agent.service
export RNSPLICE_DROPIN=$root/etc/ssh/sshd_config.d/rnsplice.conf
cd "$builddir" || exit 1
tests="unit agent reload"
for t in "$top"/tests/integration/subsystem-*.sh; do
	t=${t##*/}
	[ "$t" = subsystem-lib.sh ] || tests="$tests ${t%.sh}"
done
# shellcheck disable=SC2086  # one word per test
make -j"$jobs" check TESTS="$(printf 'tests/integration/%s.sh ' $tests)" \
    >"$work/check.out" 2>&1
r=$?
grep -E '^(PASS|FAIL|SKIP|ERROR|XPASS):' "$work/check.out"
if [ $r -ne 0 ]; then
	for t in $tests; do
		grep -q ':test-result: PASS\|:test-result: SKIP' "tests/integration/$t.trs" 2>/dev/null ||
			{ echo "--- tests/integration/$t.log"; tail -n 40 "tests/integration/$t.log"; }
	done
	fail "integration tests against the packages failed"
fi
