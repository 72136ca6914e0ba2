#!/usr/bin/env bash
# Run the OCI runtime-tools validation suite against an OCI runtime binary.
#
#   tests/conformance/run.sh RUNTIME OUTDIR
#
# RUNTIME is a runc-compatible binary (absolute path or a name in PATH); it is
# called as `$RUNTIME create|start|state|kill|delete ...` (no --root, so the
# runtime's default state root is used). OUTDIR receives:
#   tap/<program>.tap     the TAP output (stdout) of each validation program
#   tap/<program>.stderr  its stderr
#   programs.tsv          program, exit status, seconds, planned, seen test points
#   results.tsv           one line per test point: program TAB N TAB ok|not ok|skip TAB description
#   summary.txt           the closing "N passed, N failed, N skipped" line
#
# Environment:
#   HARDENED_CACHE        cache root (default /var/cache/hardened-tests); the module
#                         source and binaries live in $HARDENED_CACHE/runtime-tools
#   CONFORMANCE_TIMEOUT   seconds allowed per program (default 120)
#   CONFORMANCE_TOTAL_TIMEOUT  seconds for the whole run (default 1500); programs
#                         not started by then are recorded as not run (exit 125)
#   CONFORMANCE_ONLY      space-separated program names to run (default: all)
#   RUNTIME_TOOLS_VERSION module version (default pinned below)
#
# Exit status: 0 when the suite ran (whatever the test results; compare.sh
# judges those), non-zero when the harness itself could not run.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 RUNTIME OUTDIR" >&2
	exit 2
fi

RUNTIME_ARG=$1
OUTDIR=$2

VERSION=${RUNTIME_TOOLS_VERSION:-v0.9.1-0.20260316125833-8a4db579f5c8}
MODULE=github.com/opencontainers/runtime-tools
CACHE=${HARDENED_CACHE:-/var/cache/hardened-tests}/runtime-tools
PER_PROGRAM_TIMEOUT=${CONFORMANCE_TIMEOUT:-120}
TOTAL_TIMEOUT=${CONFORMANCE_TOTAL_TIMEOUT:-1500}

if [[ $EUID -ne 0 ]]; then
	echo "run.sh: the validation suite creates real containers and must run as root" >&2
	exit 2
fi

RUNTIME=$(command -v -- "$RUNTIME_ARG" || true)
if [[ -z $RUNTIME || ! -x $RUNTIME ]]; then
	echo "run.sh: runtime binary not found or not executable: $RUNTIME_ARG" >&2
	exit 2
fi
RUNTIME=$(readlink -f -- "$RUNTIME")

for tool in go tar timeout awk; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done

log() { printf '[conformance] %s\n' "$*" >&2; }

# ---------------------------------------------------------------- build (cached)
SRC=$CACHE/src-$VERSION
BIN=$CACHE/bin-$VERSION
STAMP="$VERSION $(go env GOVERSION)"

build_suite() {
	mkdir -p "$CACHE"
	local lock=$CACHE/.build.lock
	exec 9>"$lock"
	flock 9
	if [[ -f $BIN/.stamp && "$(cat "$BIN/.stamp")" == "$STAMP" && -x $BIN/runtimetest ]]; then
		flock -u 9
		return
	fi
	log "building $MODULE@$VERSION into $BIN"
	local dir
	# GOFLAGS from the caller (e.g. -mod=vendor of our own module) must not leak in.
	dir=$(cd "$CACHE" && GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" |
		awk -F'"' '$2 == "Dir" { print $4 }')
	if [[ -z $dir || ! -d $dir ]]; then
		echo "run.sh: go mod download of $MODULE@$VERSION gave no Dir" >&2
		exit 1
	fi
	rm -rf "$SRC" "$BIN"
	mkdir -p "$SRC" "$BIN"
	cp -a "$dir/." "$SRC/"
	chmod -R u+w "$SRC"
	# The module zip keeps vendor/modules.txt but none of the vendored code:
	# build in module mode (-mod=mod), which may also complete go.sum.
	(
		cd "$SRC"
		export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
		go build -trimpath -tags "netgo osusergo" -o "$BIN/runtimetest" ./cmd/runtimetest
		go build -trimpath -o "$BIN/" ./validation/...
	)
	cp "$SRC"/rootfs-*.tar.gz "$BIN/"
	if ! file_is_static "$BIN/runtimetest"; then
		echo "run.sh: runtimetest is not statically linked" >&2
		exit 1
	fi
	echo "$STAMP" >"$BIN/.stamp"
	flock -u 9
}

file_is_static() {
	# A static ELF has no PT_INTERP / dynamic section; ldd says "not a dynamic executable".
	! ldd "$1" >/dev/null 2>&1
}

build_suite

mapfile -t ALL_PROGRAMS < <(cd "$SRC/validation" && for d in */; do
	d=${d%/}
	[[ -f $d/$d.go && -x $BIN/$d ]] && echo "$d"
done | sort)
if [[ -n ${CONFORMANCE_ONLY:-} ]]; then
	read -r -a PROGRAMS <<<"$CONFORMANCE_ONLY"
else
	PROGRAMS=("${ALL_PROGRAMS[@]}")
fi
if [[ ${#PROGRAMS[@]} -eq 0 ]]; then
	echo "run.sh: no validation programs built in $BIN" >&2
	exit 1
fi

# ---------------------------------------------------------------- run
mkdir -p "$OUTDIR/tap"
OUTDIR=$(readlink -f -- "$OUTDIR")
if [[ -n ${CONFORMANCE_REPORT_ONLY:-} ]]; then
	# Rebuild results.tsv from an earlier run's tap/ and programs.tsv.
	mapfile -t PROGRAMS < <(cut -f1 "$OUTDIR/programs.tsv")
	start_all=0 end_all=$(awk -F'\t' '{ s += $3 } END { printf "%d", s }' "$OUTDIR/programs.tsv")
else
# Bundles go to TMPDIR (os.MkdirTemp); keep them in a private directory so
# leftovers are ours to find and remove.
WORK=$(mktemp -d /tmp/hardened-conformance.XXXXXX)
chmod 755 "$WORK"

cleanup_leftovers() {
	# Containers whose bundle lives under $WORK and that a program left behind.
	local id state
	for id in $("$RUNTIME" list -q 2>/dev/null || true); do
		state=$("$RUNTIME" state "$id" 2>/dev/null || true)
		if [[ $state == *"\"bundle\": \"$WORK/"* || $state == *"\"bundle\":\"$WORK/"* ]]; then
			echo "$id"
			"$RUNTIME" kill "$id" KILL >/dev/null 2>&1 || true
			"$RUNTIME" delete --force "$id" >/dev/null 2>&1 || true
		fi
	done
}

remove_work() {
	# Never rm through a mount point that a failed test may have left.
	local m
	while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done < <(awk -v w="$WORK/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	rm -rf --one-file-system "$WORK" 2>/dev/null || true
}
trap remove_work EXIT

# Validation programs use fixed names (e.g. the cgroup "cgrouptest"): two runs
# at once would disturb each other, so runs on this machine take turns.
exec 8>"$CACHE/.run.lock"
if ! flock -n 8; then
	log "another run.sh is running; waiting for it"
	flock 8
fi

: >"$OUTDIR/programs.tsv"
: >"$OUTDIR/leftovers.txt"
start_all=$(date +%s)
for prog in "${PROGRAMS[@]}"; do
	if [[ ! -x $BIN/$prog ]]; then
		echo "run.sh: unknown validation program: $prog" >&2
		exit 2
	fi
	t0=$(date +%s.%N)
	rc=0
	if (($(date +%s) - start_all >= TOTAL_TIMEOUT)); then
		# Out of time: record the program as not run (its points go missing).
		: >"$OUTDIR/tap/$prog.tap"
		echo "not run: the total time budget of ${TOTAL_TIMEOUT}s was used up" >"$OUTDIR/tap/$prog.stderr"
		printf '%s\t%s\t0.0\t0\t0\n' "$prog" 125 >>"$OUTDIR/programs.tsv"
		log "$(printf '%-40s not run (total time budget used up)' "$prog")"
		continue
	fi
	# Programs find runtimetest and rootfs-amd64.tar.gz in their working directory.
	(cd "$BIN" && TMPDIR=$WORK RUNTIME=$RUNTIME \
		timeout -k 10 "$PER_PROGRAM_TIMEOUT" "./$prog" </dev/null \
		>"$OUTDIR/tap/$prog.tap" 2>"$OUTDIR/tap/$prog.stderr") || rc=$?
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	left=$(cleanup_leftovers)
	if [[ -n $left ]]; then
		printf '%s\t%s\n' "$prog" "$(echo $left)" >>"$OUTDIR/leftovers.txt"
	fi
	read -r planned seen < <(awk '
		/^1\.\.[0-9]+/ { sub(/^1\.\./, ""); p += $1 + 0 }
		/^(not )?ok [0-9]+/ { s++ }
		END { print p + 0, s + 0 }' "$OUTDIR/tap/$prog.tap")
	printf '%s\t%s\t%s\t%s\t%s\n' "$prog" "$rc" "$secs" "$planned" "$seen" >>"$OUTDIR/programs.tsv"
	note=""
	[[ $rc -eq 124 || $rc -eq 137 ]] && note=" TIMEOUT"  # timeout(1): 124 TERM, 137 KILL
	[[ $rc -ne 0 ]] && note="$note exit=$rc"
	log "$(printf '%-40s %6ss  %4s points%s' "$prog" "$secs" "$seen" "$note")"
done
end_all=$(date +%s)
fi

# ---------------------------------------------------------------- results
# One line per TAP test point. YAML blocks are indented and so never match.
for prog in "${PROGRAMS[@]}"; do
	awk -v prog="$prog" '
	/^(not )?ok [0-9]+/ {
		status = "ok"
		line = $0
		if (line ~ /^not ok /) { status = "not ok"; sub(/^not ok /, "", line) } else { sub(/^ok /, "", line) }
		n = line; sub(/[^0-9].*$/, "", n)
		desc = substr(line, length(n) + 1)
		if (desc ~ /^ *# *[Ss][Kk][Ii][Pp]/) { status = "skip"; sub(/^ *# *[Ss][Kk][Ii][Pp]:? */, "", desc) }
		else { sub(/^ *- */, "", desc); sub(/^ +/, "", desc) }
		gsub(/\t/, " ", desc)
		printf "%s\t%s\t%s\t%s\n", prog, n, status, desc
	}' "$OUTDIR/tap/$prog.tap"
	# A program-level point (N=0) where the TAP points alone do not tell the
	# outcome: programs that print no test point at all (the hook programs
	# report a failure as a bare YAML "error" block and an empty plan, the
	# *_fail programs pass by exiting 0 silently) and programs that exit
	# non-zero, time out or do not print what they planned.
	IFS=$'\t' read -r _ rc _ planned seen < <(awk -F'\t' -v p="$prog" '$1 == p' "$OUTDIR/programs.tsv")
	has_error=0
	grep -q '^    "error": "[^"]' "$OUTDIR/tap/$prog.tap" && has_error=1
	if [[ $seen -eq 0 ]]; then
		if [[ $rc -eq 0 && $has_error -eq 0 ]]; then
			printf '%s\t0\tok\tprogram completed: exit 0, no test points, no error\n' "$prog"
		elif [[ $rc -eq 0 ]]; then
			printf '%s\t0\tnot ok\tprogram reported an error without test points\n' "$prog"
		else
			printf '%s\t0\tnot ok\tprogram failed: exit %s, no test points\n' "$prog" "$rc"
		fi
	elif [[ $rc -ne 0 ]]; then
		printf '%s\t0\tnot ok\tprogram failed: exit %s after its test points\n' "$prog" "$rc"
	elif [[ $planned -ne $seen ]]; then
		printf '%s\t0\tnot ok\tprogram planned %s test points but printed %s\n' "$prog" "$planned" "$seen"
	fi
done >"$OUTDIR/results.tsv"

read -r passed failed skipped < <(awk -F'\t' '
	$3 == "ok" { p++ } $3 == "not ok" { f++ } $3 == "skip" { s++ }
	END { print p + 0, f + 0, s + 0 }' "$OUTDIR/results.tsv")
crashed=$(awk -F'\t' '$2 != 0' "$OUTDIR/programs.tsv" | wc -l)
{
	echo "runtime: $RUNTIME"
	echo "runtime-tools: $VERSION"
	echo "programs: ${#PROGRAMS[@]} (non-zero exit: $crashed)"
	echo "duration: $((end_all - start_all))s"
	echo "$passed passed, $failed failed, $skipped skipped"
} >"$OUTDIR/summary.txt"
log "programs with non-zero exit: $crashed (see $OUTDIR/programs.tsv)"
[[ -s $OUTDIR/leftovers.txt ]] && log "containers left behind and removed: see $OUTDIR/leftovers.txt"
log "duration: $((end_all - start_all))s, results in $OUTDIR/results.tsv"
echo "$passed passed, $failed failed, $skipped skipped"
