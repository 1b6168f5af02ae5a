#!/bin/sh
# Install the Debian packages rnsplice needs to build, test and run its
# lab (xauth: sshd forwards X11 only where it exists, and confined.sh
# checks that plain ssh does while the agent's master does not). Does
# nothing when they are all present, unless --force. libldns-dev builds
# dns-update; bind9 (named, tsig-keygen) and bind9-dnsutils (dig) serve
# and query the zone of tests/integration/dnsupdate.sh;
# libavahi-compat-libdnssd-dev builds the DNS-SD API backend
# (configure --with-mdns=dnssd) of run-tests.sh's "dnssd backend" stage.
#   tests/deps.sh [--force]
set -eu
PACKAGES="build-essential autoconf automake pkg-config
	libavahi-client-dev libavahi-compat-libdnssd-dev libbsd-dev check
	libldns-dev
	clang libclang-rt-14-dev groff-base
	avahi-daemon avahi-utils dbus openssh-server openssh-client
	iproute2 util-linux procps curl python3 valgrind
	iperf3 strace xauth bind9 bind9-dnsutils
	debhelper dh-autoreconf lintian fakeroot dpkg-dev git systemd man-db"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed' || missing="$missing $p"
done
[ "${1:-}" = "--force" ] && missing=$(echo $PACKAGES)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages:$missing" >&2
	echo "deps.sh: run as root (sudo) to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $missing
