# The end-to-end job: each case's stdout between markers, for vm/e2e.sh to compare with the
# same program run on the host in-process. The host's library path for exec comes from the
# kernel command line (vaccel_lib=...).
d=/opt/vaccel/data
x=/opt/vaccel/examples
case_() {
	name=$1
	shift
	echo "=== BEGIN $name"
	"$@" 2>/tmp/err
	rc=$?
	echo "=== END $name rc=$rc"
	[ $rc = 0 ] || sed 's/^/stderr: /' /tmp/err | tail -5
}
# Upstream's protocol: the agent's address as upstream's guests default to it.
ttrpc_classify() { vaccel-ttrpc-guest classify "$@"; }
ttrpc_model_run() { vaccel-ttrpc-guest model-run "$@"; }
. /jobs/cases.sh
