#!/bin/bash
#
# tests/lab/shell.sh -- build lab_topology_basic and explore it by hand.
#
#   sudo tests/lab/shell.sh            # an interactive shell next to the lab
#   sudo tests/lab/shell.sh CMD...     # run CMD instead (e.g. a demo script)
#
# The shell (or CMD) gets LAB_ID and LAB_DIR in its environment; sourcing
# tests/lab/lab.sh there gives every lab_* function on the same lab (do not
# call lab_init again).  The interactive shell has them already, plus
#   enter HOST     a shell inside HOST (exit to come back)
# Everything is torn down when the shell or CMD exits (LAB_KEEP=1 keeps the
# work dir).

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lab.sh
. "$here/lab.sh"

lab_init || exit
echo "lab: building lab_topology_basic in $LAB_DIR ..." >&2
t0=${EPOCHREALTIME//[!0-9]/}
lab_topology_basic || exit 1
t1=${EPOCHREALTIME//[!0-9]/}

hosts="asrv arelay brelay bcli"
{
	printf 'lab %s ready in %d ms\n\n' "$LAB_ID" "$(((t1 - t0) / 1000))"
	printf '  %-7s %-8s %-30s %s\n' HOST HOLDER ADDRESSES 'ENTER WITH'
	for h in $hosts; do
		addrs=
		for f in "$LAB_DIR/$h"/addr.*; do
			addrs="$addrs ${f##*/addr.}=$(cat "$f")"
		done
		printf '  %-7s %-8s %-30s nsenter -t %s -n -m bash\n' \
			"$h" "$(lab_holder "$h")" "${addrs# }" "$(lab_holder "$h")"
	done
	cat <<EOF

  arelay runs sshd (log: $LAB_DIR/arelay/sshd/log); brelay has the ssh
  alias siteA (try: lab_exec brelay ssh siteA hostname -I).
  In this shell: lab_exec HOST CMD..., enter HOST, lab_publish, lab_browse ...
  Logs and configs: $LAB_DIR/HOST/
EOF
} >&2

if [ "$#" -gt 0 ]; then
	"$@"
	exit
fi

rc=$LAB_DIR/shell.rc
cat >"$rc" <<EOF
[ -r ~/.bashrc ] && . ~/.bashrc
. "$here/lab.sh"
enter() {
	lab_exec "\$1" env PS1="[lab \$1] \\\\w# " bash --norc -i
}
PS1="[lab $LAB_ID] \\w# "
EOF
bash --rcfile "$rc" -i
