#!/usr/bin/env bash
# Installs what building and testing hardened needs on a fresh Debian 12
# machine (run as root). Go itself is expected at /usr/local/go. qemu boots
# the guest of make test-vm (tests/vm), whose image debootstrap builds.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
# Another apt (unattended-upgrades, a provisioning run) may hold the
# dpkg lock: wait for it instead of failing.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
apt_get update -q
apt_get install -y -q --no-install-recommends \
	build-essential pkg-config libseccomp-dev \
	busybox-static debootstrap \
	runc containerd docker.io podman iptables containernetworking-plugins \
	procps psmisc bsdutils perl git ca-certificates iproute2 \
	lintian binutils time \
	qemu-system-x86 qemu-utils \
	bats jq gawk xz-utils uidmap kmod sshfs

