#!/bin/sh
# hack/bench.sh [RUNS]: start-up cost of hardened against Debian's runc
# (#6). Runs tests/bench BenchmarkCycle: create-start-wait-delete of a
# busybox `true` container, interleaved, RUNS rounds (default 100) of runc
# plain, runc with Docker's default seccomp profile, hardened mode off and
# hardened's default policy, on a busybox rootfs and on one with 100,000
# more files; prints medians, ratios to runc and the create command's
# peak memory. Needs root, runc and GNU time (apt-get install runc time).
#
# HARDENED_BIN (default ./hardened, from `make build`) must not live under
# HARDENED_BENCH_ROOTS (default /dev/shm, a tmpfs like /run in production),
# where the state roots are (see tests/bench/README.md).
# HARDENED_BENCH_RUNC picks another runc binary.
set -eu
runs=${1:-${RUNS:-100}}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${HARDENED_BIN:-$top/hardened}
roots=${HARDENED_BENCH_ROOTS:-/dev/shm}
case "$bin" in
"$roots"/*) echo "bench.sh: $bin is under $roots, where the state roots are; build it elsewhere" >&2; exit 1 ;;
esac
cd "$top"
HARDENED_BIN=$bin exec go test -tags "seccomp urfave_cli_no_docs" -count=1 -run '^$' \
	-bench "${BENCH:-BenchmarkCycle}" -benchtime "${runs}x" -timeout 60m ./tests/bench/
