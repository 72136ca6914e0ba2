#!/bin/sh
# hack/runc-ref.sh: prints the path of the reference runc, the runc whose
# libcontainer hardened embeds (go.mod's version), building it from the
# module cache with the same Go into ${XDG_CACHE_HOME:-~/.cache}/hardened-bench
# on first use: the same code without hardening. Used by hack/bench.sh and
# hack/cri-tools.sh (the CRI suite's "runc" handler).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
version=$(go list -m -f '{{.Version}}' github.com/opencontainers/runc)
out=${XDG_CACHE_HOME:-$HOME/.cache}/hardened-bench/runc-$version
if [ ! -x "$out" ]; then
	src=$(go list -m -f '{{.Dir}}' github.com/opencontainers/runc)
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	cp -r "$src"/. "$work"
	chmod -R u+w "$work"
	mkdir -p "$(dirname "$out")"
	echo "runc-ref.sh: building runc $version from $src" >&2
	(cd "$work" && GOFLAGS=-mod=mod go build -trimpath -tags seccomp -o "$out.tmp" .) || {
		echo "runc-ref.sh: could not build runc $version" >&2
		exit 1
	}
	mv "$out.tmp" "$out"
fi
echo "$out"
