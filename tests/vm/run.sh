#!/usr/bin/env bash
# `make test-vm`: runs the test suites inside a Debian 12 guest, the host
# most users have (systemd as PID 1, cgroup v2 only, AppArmor enforcing,
# Debian's Docker and containerd), booted with qemu. See tests/vm/README.md.
#
# The guest image (tests/vm/image.sh) is cached outside the clone under
# $HARDENED_CACHE/vm/<hash of image.sh> and built only when missing; each
# run boots a fresh qcow2 overlay on it. The runtime, the test binaries
# (go test -c) and the helper programs are built here, on the host, and
# shared with the guest over 9p with the checkout (read-only) and the
# tests' cache (the Debian rootfs tarball, the CRI tools). A unit in the
# guest runs tests/vm/job.sh as root, which writes the suites' output and
# the guest's journal back and powers off. The exit status is the suites'.
#
# Environment:
#   HARDENED_VM_SUITES   packages under tests/ to run (default "testutil integration e2e")
#   HARDENED_VM_TIMEOUT  seconds before qemu is stopped (default 3000)
#   HARDENED_VM_ACCEL    kvm or tcg (default: kvm only where it works)
#   HARDENED_VM_OUT      results directory (default _output/vm)
#   HARDENED_VM_MEMORY   guest memory in MiB (default 4096)
#   HARDENED_VM_RUN      a -test.run pattern for every suite (default all)
#   HARDENED_VM_SKIP     a -test.skip pattern for every suite (default
#                        ^(TestPodman.*|TestWorkloads|TestLearnDebianWorkloads)$: the guest image has no podman
#                        yet, and the Debian workloads, run on the host by make test,
#                        take minutes of the guest's ~27 under TCG, which CI's 60-minute
#                        budget cannot spare; set it empty to run them)
set -euo pipefail

# All in one function, read whole before it runs: bash reads a script as it
# goes, and an edit to this file during a run (a long one) would otherwise
# be executed half-way.
main() {
	src=$(cd "$(dirname "$0")/../.." && pwd)
	cd "$src"
	export PATH="$PATH:/usr/local/go/bin"
	GO=${GO:-go}
	BUILDTAGS=${BUILDTAGS:-seccomp urfave_cli_no_docs}
	cache=${HARDENED_CACHE:-/var/cache/hardened-tests}
	suites=${HARDENED_VM_SUITES:-testutil integration e2e}
	limit=${HARDENED_VM_TIMEOUT:-3000}
	out=${HARDENED_VM_OUT:-$src/_output/vm}
	memory=${HARDENED_VM_MEMORY:-4096}
	bin=${HARDENED_BIN:-$src/hardened}

	log() { printf '%s test-vm: %s\n' "$(date -u +%T)" "$*" >&2; }
	die() { log "$*"; exit 1; }

	[ "$(id -u)" = 0 ] || die "needs root (debootstrap, qemu with 9p shares)"
	command -v qemu-system-x86_64 >/dev/null && command -v qemu-img >/dev/null ||
		die "qemu-system-x86_64 / qemu-img missing (apt-get install qemu-system-x86 qemu-utils, or hack/install-deps.sh)"
	[ -x "$bin" ] || die "$bin missing: run make build first (or set HARDENED_BIN)"
	for s in $suites; do [ -d "tests/$s" ] || die "unknown suite $s (no tests/$s)"; done

	# The image: built once per recipe, one build at a time, renamed into
	# place only when complete.
	recipe=$(sha256sum tests/vm/image.sh | cut -c1-16)
	image=$cache/vm/$recipe
	mkdir -p "$cache/vm"
	if [ ! -f "$image/rootfs.raw" ]; then
		exec 9>"$image.lock"
		flock 9
		if [ ! -f "$image/rootfs.raw" ]; then
			log "building the guest image $image (debootstrap, first run for this recipe: a few minutes)"
			start=$SECONDS
			scratch=$cache/vm/.build-$recipe-$$
			rm -rf --one-file-system "$scratch"
			if ! tests/vm/image.sh "$scratch" > "$cache/vm/build-$recipe.log" 2>&1; then
				tail -n 40 "$cache/vm/build-$recipe.log" >&2
				rm -rf --one-file-system "$scratch"
				die "guest image build failed (log: $cache/vm/build-$recipe.log)"
			fi
			mv "$scratch" "$image"
			log "guest image built in $((SECONDS - start)) s"
		fi
		exec 9>&-
	fi

	# What the guest runs, built here: the guest has no Go and TCG compiles slowly.
	rm -rf --one-file-system "$out"
	mkdir -p "$out/bin"
	start=$SECONDS
	cp "$bin" "$out/bin/hardened"
	CGO_ENABLED=0 $GO build -trimpath -o "$out/bin/probe" ./tests/probe
	CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w" -o "$out/bin/pause" ./tests/cri/pause
	for s in $suites; do
		$GO test -c -tags "$BUILDTAGS" -o "$out/bin/$s.test" "./tests/$s"
	done
	# Caches the suites fill on first use, filled here where it is fast.
	if [[ " $suites " == *" e2e "* ]]; then
		$GO run ./tests/vm/prepare >/dev/null
	fi
	if [[ " $suites " == *" cri "* ]]; then
		# Its directory in the cache, which the guest mounts at /mnt/cache.
		tools=$(HARDENED_CACHE=$cache ./hack/cri-tools.sh)
		[[ $tools == "$cache"/* ]] || die "hack/cri-tools.sh built into $tools, outside $cache"
		printf '%s\n' "${tools#"$cache"/}" > "$out/cri-tools.path"
	fi
	cp tests/vm/job.sh "$out/job.sh"
	printf '%s\n' "$suites" > "$out/suites"
	printf '%s\n' "${HARDENED_VM_RUN:-}" > "$out/run-pattern"
	printf '%s\n' "${HARDENED_VM_SKIP-^(TestPodman.*|TestWorkloads|TestLearnDebianWorkloads)$}" > "$out/skip-pattern"
	log "host-side builds took $((SECONDS - start)) s"

	# KVM only where it works: /dev/kvm usable, hardware virtualisation in the
	# CPU flags, and not PVM (kvm_pvm: a guest needs a PVM-built kernel, and
	# Debian's hangs in its decompressor). TCG otherwise.
	accel=${HARDENED_VM_ACCEL:-}
	if [ -z "$accel" ]; then
		accel=tcg
		if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && [ ! -d /sys/module/kvm_pvm ]; then
			accel=kvm
		fi
	fi
	case $accel in
	kvm) accel_args=(-accel kvm -cpu host) ;;
	tcg) accel_args=(-accel tcg,thread=multi -cpu max) ;;
	*) die "HARDENED_VM_ACCEL=$accel: want kvm or tcg" ;;
	esac

	disk=$(mktemp -d "$cache/vm/run-XXXXXX")
	trap 'rm -rf --one-file-system "$disk"' EXIT
	qemu-img create -q -f qcow2 -F raw -b "$image/rootfs.raw" "$disk/overlay.qcow2"
	cmdline="console=ttyS0 root=/dev/vda rw systemd.unified_cgroup_hierarchy=1 apparmor=1 security=apparmor panic=-1 quiet"
	log "booting the guest ($accel, $(nproc) CPUs, ${memory} MiB, timeout ${limit} s; load: $(cut -d' ' -f1-3 /proc/loadavg)); suites: $suites"
	start=$SECONDS
	# qemu exits 0 on SIGTERM: whether the suites ran is in $out/status.
	timeout --kill-after=30 "$limit" qemu-system-x86_64 \
		"${accel_args[@]}" -smp "$(nproc)" -m "$memory" \
		-nodefaults -no-user-config -display none -no-reboot \
		-serial "file:$out/console.log" \
		-kernel "$image/vmlinuz" -initrd "$image/initrd.img" -append "$cmdline" \
		-drive "file=$disk/overlay.qcow2,if=virtio,format=qcow2,cache=unsafe" \
		-virtfs "local,path=$out,mount_tag=run,security_model=none,id=run" \
		-virtfs "local,path=$src,mount_tag=src,security_model=none,readonly=on,id=src" \
		-virtfs "local,path=$cache,mount_tag=cache,security_model=none,readonly=on,id=cache" \
		-netdev user,id=net0 -device virtio-net-pci,netdev=net0 \
		-device virtio-rng-pci || log "qemu exited $?"
	log "guest ran $((SECONDS - start)) s (load: $(cut -d' ' -f1-3 /proc/loadavg))"

	[ -f "$out/platform.txt" ] && sed 's/^/  guest: /' "$out/platform.txt" >&2
	if [ ! -f "$out/status" ]; then
		log "the guest did not finish (timeout or crash); console tail:"
		tail -n 40 "$out/console.log" >&2 || true
		[ -f "$out/job.log" ] && tail -n 40 "$out/job.log" >&2
		exit 1
	fi
	cat "$out/summary" >&2 || true
	log "results in $out (suites' output *.log, journal.txt, console.log)"
	exit "$(cat "$out/status")"
}

main "$@"
exit
