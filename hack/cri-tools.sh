#!/bin/sh
# hack/cri-tools.sh: builds what the CRI suite (tests/cri, `make cri`)
# needs besides Debian's packages, and prints the directory that holds it:
#
#   containerd, containerd-shim-runc-v2, ctr  containerd $CONTAINERD_VERSION
#   crictl                                    cri-tools $CRICTL_VERSION
#   runc                                      the reference runc (hack/runc-ref.sh)
#
# all built with `go install <pkg>@<version>` from the Go module proxy (no
# prebuilt binary is downloaded) into $HARDENED_CACHE/cri-tools (default
# /var/cache/hardened-tests/cri-tools, beside the tests' other caches,
# outside the clone). A directory is named by the versions and the Go
# version, so it is built once and rebuilt only when one of them changes.
# Concurrent runs wait for one build (flock). Everything else (containerd
# 1.6, CNI plugins) comes from Debian: hack/install-deps.sh.
set -eu
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}
CRICTL_VERSION=${CRICTL_VERSION:-v1.37.0}
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${HARDENED_CACHE:-/var/cache/hardened-tests}/cri-tools
gover=$(go env GOVERSION)
dir=$cache/containerd-$CONTAINERD_VERSION-crictl-$CRICTL_VERSION-$gover
mkdir -p "$cache"
runc=$("$top/hack/runc-ref.sh")

exec 9>"$cache/.lock"
flock 9
if [ ! -e "$dir/.complete" ]; then
	start=$(date +%s)
	rm -rf "$dir"
	tmp=$(mktemp -d "$cache/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# Outside any module, so go.mod of the clone plays no part; -mod=mod
	# and the workspace would only get in the way.
	cd "$tmp"
	export GOBIN="$tmp/bin" GOFLAGS=-trimpath GOWORK=off
	echo "cri-tools.sh: building containerd $CONTAINERD_VERSION (containerd, containerd-shim-runc-v2, ctr)" >&2
	go install -ldflags "-X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
		"github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
		"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
		"github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
	echo "cri-tools.sh: building crictl $CRICTL_VERSION" >&2
	go install -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
		"sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
	cd /
	mv "$tmp/bin" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	touch "$dir/.complete"
	echo "cri-tools.sh: built in $(($(date +%s) - start)) s into $dir" >&2
fi
ln -sfn "$runc" "$dir/runc"
echo "$dir"
