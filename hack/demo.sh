#!/usr/bin/env bash
# Runs one hardened container from a busybox rootfs made here and prints,
# from inside the container, what confines it.
set -euo pipefail
bin=${1:-./hardened}
bin=$(realpath "$bin")
work=$(mktemp -d /tmp/hardened-demo.XXXXXX)
root="$work/state"
trap '"$bin" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

mkdir -p "$work/bundle/rootfs"
cd "$work/bundle"
rootfs="$work/bundle/rootfs"
mkdir -p "$rootfs"/{bin,dev,proc,sys,etc,tmp,run,var/tmp,var/log,var/cache,var/lib,home,usr/bin,root}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $("$rootfs/bin/busybox" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

"$bin" spec
# The demo's process reports its own confinement, then tries what the
# policy forbids.
cat >"$rootfs/demo.sh" <<'SH'
echo "== inside a hardened container =="
grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status
echo "uid_map: $(tr -s ' ' </proc/self/uid_map)"
if touch /usr/x 2>/dev/null; then echo "write to /usr: allowed"; else echo "write to /usr: refused (read-only rootfs)"; fi
if echo state >/tmp/x; then echo "write to /tmp: allowed (state path)"; fi
if cat /proc/kcore >/dev/null 2>&1; then echo "/proc/kcore: readable"; else echo "/proc/kcore: masked"; fi
SH
sed -i -e 's|"terminal": true|"terminal": false|' -e 's|^\(\s*\)"sh"$|\1"sh", "/demo.sh"|' config.json
echo "== what the host's policy will do to this bundle (hardened explain) =="
"$bin" explain "$work/bundle"
"$bin" --root "$root" run demo
echo "== the caller's config is kept: $(cd "$work/bundle" && ls config.json*)"
