#!/bin/bash
# Runs inside the test guest of `make test-vm` (tests/vm/run.sh), as root,
# started by hardened-vm-job.service from the 9p share "run" (this file's
# directory, mounted at /mnt/run). Writes every suite's output to
# /mnt/run/<suite>.log, a summary, and the exit status of the suites to
# /mnt/run/status (last: its presence means the job ran to the end).
set -uo pipefail
run=/mnt/run
mkdir -p /mnt/src /mnt/cache /opt/hardened-tests
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,ro src /mnt/src || exit 1
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,ro cache /mnt/cache || exit 1
# Executables on the guest's own disk: exec from 9p is slow, and the
# runtime re-executes itself for every container.
cp "$run"/bin/* /opt/hardened-tests/
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HARDENED_BIN=/opt/hardened-tests/hardened
export HARDENED_CACHE=/mnt/cache
export HARDENED_TEST_PROGRAMS=/opt/hardened-tests
[ -s "$run/cri-tools.path" ] && HARDENED_CRI_TOOLS=/mnt/cache/$(cat "$run/cri-tools.path") && export HARDENED_CRI_TOOLS

{
	echo "kernel $(uname -r)"
	echo "cgroup fs $(stat -fc %T /sys/fs/cgroup)"
	echo "pid 1 $(readlink /proc/1/exe) $(systemctl --version | head -n1)"
	echo "apparmor $(aa-enabled 2>&1)"
	echo "cpus $(nproc), memory $(free -m | awk '/Mem:/ {print $2}') MiB"
	echo "booted to job in $(cut -d' ' -f1 /proc/uptime) s"
} > "$run/platform.txt"

pattern=$(cat "$run/run-pattern")
skip=$(cat "$run/skip-pattern" 2>/dev/null)
status=0
: > "$run/summary"
for suite in $(cat "$run/suites"); do
	start=$SECONDS
	args=(-test.v -test.count=1 -test.timeout=40m)
	[ -n "$pattern" ] && args+=("-test.run=$pattern")
	[ -n "$skip" ] && args+=("-test.skip=$skip")
	# go test runs a package's tests in its source directory.
	(cd "/mnt/src/tests/$suite" && "/opt/hardened-tests/$suite.test" "${args[@]}") > "$run/$suite.log" 2>&1
	rc=$?
	[ $rc = 0 ] || status=1
	fails=$(grep -c -- '^--- FAIL' "$run/$suite.log")
	passes=$(grep -c -- '^--- PASS' "$run/$suite.log")
	skips=$(grep -c -- '^--- SKIP' "$run/$suite.log")
	printf '%-12s exit %d in %4d s: %d passed, %d skipped, %d failed (top level)\n' \
		"$suite" "$rc" $((SECONDS - start)) "$passes" "$skips" "$fails" | tee -a "$run/summary"
	grep -- '^--- FAIL' "$run/$suite.log" | sed 's/^/    /' >> "$run/summary"
done
echo "$status" > "$run/status"
