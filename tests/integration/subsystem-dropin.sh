#!/bin/bash
#
# tests/integration/subsystem-dropin.sh -- the generated sshd drop-in
# (sshd_config.d/rnsplice.conf, or RNSPLICE_DROPIN) is valid sshd
# configuration naming the subsystem.  One lab host: sshd -T reads the
# configuration and starts nothing.  Needs root; skips (77) otherwise.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# shellcheck source=../lab/lab.sh
. "$here/../lab/lab.sh"

t_require_lab
dropin=${RNSPLICE_DROPIN:-$top_builddir/sshd_config.d/rnsplice.conf}
if [ ! -r "$dropin" ]; then
	t_skip_one "the generated drop-in is valid sshd configuration" "$dropin not built"
	t_done
fi
lab_init || t_bail "lab_init failed"
lab_host arelay || t_bail "lab_host arelay"
ssh-keygen -q -t ed25519 -N '' -f "$LAB_DIR/hostkey" || t_bail "ssh-keygen"
cat >"$LAB_DIR/sshd-dropin-test.conf" <<CONF
Include $dropin
HostKey $LAB_DIR/hostkey
CONF
t_ok eval 'lab_exec arelay /usr/sbin/sshd -T -f "$LAB_DIR/sshd-dropin-test.conf" 2>&1 | grep -q "^subsystem rnsplice /.*/rnsplice-subsystem"' \
	"the generated drop-in is valid sshd configuration"
t_done
