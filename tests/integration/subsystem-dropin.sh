#!/bin/bash
#
# tests/integration/subsystem-dropin.sh -- rnsplice-subsystem through sshd.
#
# The generated sshd drop-in is valid sshd configuration.  The lab and the
# helpers: subsystem-lib.sh.

# shellcheck source-path=SCRIPTDIR
# shellcheck disable=SC2317  # helpers are called through t_ok / t_nok
# shellcheck disable=SC2016  # single-quoted code is expanded later, on purpose
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=subsystem-lib.sh
. "$here/subsystem-lib.sh"

# ---------------------------------------------------------------------------
t_diag "sshd drop-in"

dropin=${RNSPLICE_DROPIN:-$top_builddir/sshd_config.d/rnsplice.conf}
if [ -r "$dropin" ]; then
	cat >"$LAB_DIR/sshd-dropin-test.conf" <<EOF
Include $dropin
HostKey $LAB_DIR/arelay/sshd/ssh_host_ed25519_key
EOF
	t_ok eval 'lab_exec arelay /usr/sbin/sshd -T -f "$LAB_DIR/sshd-dropin-test.conf" 2>&1 | grep -q "^subsystem rnsplice /.*/rnsplice-subsystem"' \
		"the generated drop-in is valid sshd configuration"
else
	t_skip_one "the generated drop-in is valid sshd configuration" "$dropin not built"
fi
t_done
