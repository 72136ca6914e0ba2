#!/usr/bin/env bash
# Installs what building and testing hardened needs on a fresh Debian 12
# machine (run as root). Go itself is expected at /usr/local/go.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential pkg-config libseccomp-dev \
	busybox-static debootstrap \
	runc containerd docker.io iptables \
	procps psmisc bsdutils perl git ca-certificates \
	lintian binutils time
