#!/bin/sh
# hack/bench.sh [RUNS]: start-up cost of hardened against runc (#6, #17).
# Runs tests/bench BenchmarkCycle: create-start-wait-delete of a busybox
# `true` container, interleaved, RUNS rounds (default 20) of runc plain,
# runc with Docker's default seccomp profile, hardened mode off and
# hardened's default policy, on a busybox rootfs and on one with 100,000
# more files; prints medians, ratios to runc and the create command's
# memory. Then BenchmarkPaths, the same variants: `run`, the engine
# sequence (create, start, state until stopped, delete) and the CPU of
# each (RUSAGE_CHILDREN), RUNS interleaved rounds; and N = 1, 8, 50
# parallel `run` loops (HARDENED_BENCH_CONC_OPS containers per N and
# variant, default 2*RUNS), ops/s and p50/p99. BENCH picks benchmarks
# (a go test -bench pattern). Needs root and GNU time (apt-get install
# time).
#
# The runc is the one whose libcontainer hardened embeds (go.mod's
# version), built from the module cache with the same Go into
# ~/.cache/hardened-bench on first use by hack/runc-ref.sh: the same code
# without hardening.
# HARDENED_BENCH_RUNC=/usr/sbin/runc compares with Debian's runc instead
# (an older libcontainer built with an older Go).
#
# HARDENED_BIN (default ./hardened, from `make build`) must not live under
# HARDENED_BENCH_ROOTS (default /dev/shm, a tmpfs like /run in production),
# where the state roots are (see tests/bench/README.md).
# HARDENED_BENCH_RUNC picks another runc binary.
# HARDENED_BENCH_BASE=/path/to/an/older/hardened adds that build's off and
# default variants to BenchmarkCycle's rounds (a regression check between
# two builds in one interleaved run; keep it out of HARDENED_BENCH_ROOTS too).
set -eu
runs=${1:-${RUNS:-20}}
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${HARDENED_BIN:-$top/hardened}
roots=${HARDENED_BENCH_ROOTS:-/dev/shm}
for b in "$bin" ${HARDENED_BENCH_BASE:-}; do
	case "$b" in
	"$roots"/*) echo "bench.sh: $b is under $roots, where the state roots are; build it elsewhere" >&2; exit 1 ;;
	esac
done
cd "$top"
if [ -z "${HARDENED_BENCH_RUNC:-}" ]; then
	HARDENED_BENCH_RUNC=$(./hack/runc-ref.sh) || {
		echo "bench.sh: could not build runc; set HARDENED_BENCH_RUNC (e.g. /usr/sbin/runc)" >&2
		exit 1
	}
	export HARDENED_BENCH_RUNC
fi
HARDENED_BIN=$bin exec go test -tags "seccomp urfave_cli_no_docs" -count=1 -run '^$' \
	-bench "${BENCH:-BenchmarkCycle|BenchmarkPaths}" -benchtime "${runs}x" -timeout 60m ./tests/bench/
