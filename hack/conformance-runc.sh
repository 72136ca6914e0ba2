#!/usr/bin/env bash
# hack/conformance-runc.sh: runs runc's own integration suite (the bats files
# of the runc module whose libcontainer hardened embeds, go.mod's version)
# against our binary, and compares the result with a checked-in list of
# expected failures.
#
#   hack/conformance-runc.sh [-p off|default] [-e EXPECTATIONS] [FILE.bats ...]
#
# -p off (the default) runs with {"mode": "off"}: the suite must pass as it
#    does with runc, but for the failures EXPECTATIONS lists (the machine:
#    no criu...; deliberate differences, with the reason).
# -p default runs with the built-in default policy: every extra failure is
#    a refusal or a rewrite, listed with the rule ID.
# FILE.bats restricts the run to some of the suite's files (CONFORMANCE_FILES
# in the environment does the same, space separated).
#
# The runc module comes from the Go module cache (fetched through the module
# proxy when missing) and is copied, with its test helpers built and the two
# test images made here (busybox from Debian's busybox-static, Debian
# bookworm minbase by debootstrap), into ${XDG_CACHE_HOME:-~/.cache}/
# hardened-conformance: none of runc's code enters this repository.
#
# Exit status: 0 when every failure is expected; 1 on a new failure (or a
# harness error). Tests that were expected to fail and passed are listed so
# the file can be trimmed, without failing the run.
set -euo pipefail

# The whole script is one function, parsed before it runs: editing the file
# during a run cannot change the run.
# failure_reason prints what a failed test's TAP block says went wrong:
# the hardening rule when a refusal names one ("rule <id>"), otherwise the
# failed assertion, the first error and the rules that rewrote the config
# (the runtime's "hardened: ..." log line), for the expectations file.
failure_reason() {
	tr -d '\r' <"$1" | awk -v name="$2" '
		/^(not )?ok [0-9]+ / {
			line = $0
			sub(/^(not )?ok [0-9]+ /, "", line)
			sub(/ # in [0-9]+ms$/, "", line)
			inblock = ($0 ~ /^not ok/) && line == name
			next
		}
		!inblock { next }
		match($0, /\(rule [A-Za-z0-9_.-]+, [^)]*\)/) && !rule { rule = substr($0, RSTART + 1, RLENGTH - 2) }
		/level=error/ && !err { err = $0; sub(/.*msg="/, "", err); sub(/".*$/, "", err) }
		/msg="hardened: / && !changes {
			# The rewrite summary: "rule: paths; rule: paths" -> the rules.
			c = $0; sub(/.*msg="hardened: /, "", c); sub(/".*$/, "", c)
			n = split(c, parts, "; ")
			for (i = 1; i <= n; i++) { r = parts[i]; sub(/:.*/, "", r); if (r != "no changes") changes = changes (changes ? ", " : "") r }
		}
		/failed( with status [0-9]+)?$/ && !assert { assert = $0; sub(/^#[ \t]*/, "", assert) }
		END {
			if (rule) print "policy: " rule
			else {
				out = assert
				if (err) out = out "; error: " substr(err, 1, 160)
				if (changes) out = out "; rewritten by rules: " changes
				print out
			}
		}'
}

# cgroup_dirs lists what a run may leave in /sys/fs/cgroup, sorted: on a
# v1 host (a tmpfs there) the directories on it and the top-level cgroups
# of each hierarchy; on a v2 host the top-level cgroups.
cgroup_dirs() {
	local depth=1
	[ "$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)" = tmpfs ] && depth=2
	find /sys/fs/cgroup -mindepth 1 -maxdepth "$depth" -type d 2>/dev/null | sort
}

# remove_new_cgroups removes, deepest first and with rmdir only (an empty
# cgroup or directory; one in use stays and is reported), what cgroup_dirs
# lists now and did not in the file $1.
remove_new_cgroups() {
	local d
	cgroup_dirs | comm -13 "$1" - | while read -r d; do
		[ -d "$d" ] || continue # went with its parent
		mountpoint -q "$d" && continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null ||
			echo "conformance-runc: left in /sys/fs/cgroup (in use?): $d" >&2
	done
}

main() {

top=$(cd "$(dirname "$0")/.." && pwd)
policy=off
expect=
while getopts "p:e:" opt; do
	case $opt in
	p) policy=$OPTARG ;;
	e) expect=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case $policy in
off) : "${expect:=$top/tests/conformance-runc/expected-off.txt}" ;;
default) : "${expect:=$top/tests/conformance-runc/expected-default.txt}" ;;
*)
	echo "conformance-runc: -p takes off or default" >&2
	exit 2
	;;
esac

bin=${HARDENED_BIN:-$top/hardened}
[ -x "$bin" ] || {
	echo "conformance-runc: no binary at $bin (make build)" >&2
	exit 1
}
for tool in bats jq gawk xz script gcc debootstrap; do
	command -v "$tool" >/dev/null || {
		echo "conformance-runc: $tool is missing (hack/install-deps.sh)" >&2
		exit 1
	}
done

cd "$top"
version=$(go list -m -f '{{.Version}}' github.com/opencontainers/runc)
src=$(go list -m -f '{{.Dir}}' github.com/opencontainers/runc)
if [ -z "$src" ] || [ ! -d "$src/tests/integration" ]; then
	go mod download github.com/opencontainers/runc
	src=$(go list -m -f '{{.Dir}}' github.com/opencontainers/runc)
fi
cache=${XDG_CACHE_HOME:-$HOME/.cache}/hardened-conformance
tree=$cache/runc-$version
data=$tree/tests/integration/testdata
mkdir -p "$cache"

# The module's tree, writable (the suite writes its images into testdata).
if [ ! -f "$tree/.copied" ]; then
	rm -rf "$tree"
	cp -r "$src" "$tree"
	chmod -R u+w "$tree"
	# Module zips keep no execute bits: the suite runs its own scripts.
	find "$tree" -name '*.sh' -exec chmod +x {} +
	touch "$tree/.copied"
fi

# The suite's helper programs (runc's "make test-binaries").
if [ ! -f "$tree/tests/cmd/_bin/.built" ]; then
	echo "conformance-runc: building runc $version's test helpers" >&2
	mkdir -p "$tree/tests/cmd/_bin"
	(cd "$tree" && for d in tests/cmd/*/; do
		[ -f "$d/main.go" ] || ls "$d"*.go >/dev/null 2>&1 || continue
		GOFLAGS=-mod=mod go build -trimpath -tags seccomp -o tests/cmd/_bin/ "./$d" || exit 1
	done)
	touch "$tree/tests/cmd/_bin/.built"
fi

arch=$(go env GOARCH)
# The suite's busybox image, as docker-library's: static busybox, an applet
# link each, root and nobody.
if [ ! -f "$data/busybox-$arch.tar.xz" ]; then
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	# No proc or sys: docker-library's image has none, and tests plant
	# symlinks there (mask.bats).
	mkdir -p "$tmp"/{bin,etc,dev,tmp,root,home,var/spool/mail,var/www,usr/sbin}
	chmod 1777 "$tmp/tmp"
	cp /bin/busybox "$tmp/bin/busybox"
	for applet in $(/bin/busybox --list); do
		[ "$applet" = busybox ] || ln -s busybox "$tmp/bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$tmp/etc/passwd"
	printf 'root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n' >"$tmp/etc/group"
	tar -C "$tmp" --numeric-owner --owner=0 --group=0 -cJf "$data/busybox-$arch.tar.xz.tmp" .
	mv "$data/busybox-$arch.tar.xz.tmp" "$data/busybox-$arch.tar.xz"
	rm -rf "$tmp"
fi
# The suite's Debian image (buster-slim upstream; bookworm minbase here,
# from the machine's Debian mirror).
if [ ! -f "$data/debian-$arch.tar.xz" ]; then
	mirror=$(sed -n 's/^URIs: *\(.*debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	tmp=$(mktemp -d)
	echo "conformance-runc: debootstrap bookworm (${mirror:-default mirror})" >&2
	debootstrap --variant=minbase bookworm "$tmp/root" ${mirror:+"$mirror"} >"$cache/debootstrap.log" 2>&1 || {
		echo "conformance-runc: debootstrap failed, see $cache/debootstrap.log" >&2
		exit 1
	}
	# Slim, as the upstream image: every test unpacks it.
	rm -rf "$tmp"/root/usr/share/{doc,man,info,locale} "$tmp"/root/var/cache/apt/*.bin \
		"$tmp"/root/var/cache/apt/archives/*.deb "$tmp"/root/var/lib/apt/lists/*_Packages
	tar -C "$tmp/root" --numeric-owner -cJf "$data/debian-$arch.tar.xz.tmp" .
	mv "$data/debian-$arch.tar.xz.tmp" "$data/debian-$arch.tar.xz"
	rm -rf "$tmp"
fi

run=$(mktemp -d "${TMPDIR:-/tmp}/conformance-runc.XXXXXX")
# runc's helpers leave cgroups behind: create_parent (update.bats' pod
# tests) makes the pod's parent in every controller /proc/cgroups lists,
# mounted or not (on a v1 host without a hugetlb, net_cls, net_prio or
# perf_event mount, plain directories on the /sys/fs/cgroup tmpfs), and
# remove_parent removes only the pod's level. What appeared in
# /sys/fs/cgroup during the run goes with the run.
cgroup_dirs >"$run/cgroups-before"
trap 'remove_new_cgroups "$run/cgroups-before"; rm -rf "$run"' EXIT
# A copy named hardened: the suite matches help texts against the
# binary's name, and a rebuild during the run does not change it.
mkdir "$run/bin"
chmod 755 "$run"
cp "$bin" "$run/bin/hardened"
bin=$run/bin/hardened
case $policy in
off) echo '{"mode": "off"}' >"$run/policy.json" ;;
default) env -u HARDENED_POLICY "$bin" --policy "" policy >"$run/policy.json" ;;
esac
export HARDENED_POLICY=$run/policy.json
# The runtime's audit records go with the run, not to the machine's
# /var/log/hardened.
export HARDENED_AUDIT_LOG=$run/audit.log
# runc's helpers.bash makes a $BATS_TMPDIR/losetup.XXXXXX file in every
# test and never removes it: bats and the suite get a temporary directory
# of this run's, removed with it (BATS_TMPDIR follows TMPDIR).
mkdir -m 0755 "$run/tmp"
export TMPDIR=$run/tmp

files=("$@")
if [ ${#files[@]} -eq 0 ] && [ -n "${CONFORMANCE_FILES:-}" ]; then
	read -ra files <<<"$CONFORMANCE_FILES"
fi
if [ ${#files[@]} -eq 0 ]; then
	files=()
	for f in "$tree"/tests/integration/*.bats; do files+=("$(basename "$f")"); done
fi

# One bats run per file, under a pty (some tests want a terminal), TAP out.
# script's input is a pipe that stays open and silent: at the end of its
# input script would send the terminal a NUL, which a foreground container
# with a terminal then echoes ("^@") into the output the tests compare.
results=$run/results
: >"$results"
local hold
exec {hold}<> <(:)
start=$(date +%s)
for f in "${files[@]}"; do
	echo "conformance-runc: $f" >&2
	# A test that leaves a helper behind (a recvtty waiting for a container
	# that was refused) keeps bats waiting: the file gets a time limit.
	RUNC=$bin timeout -k 30 "${CONFORMANCE_FILE_TIMEOUT:-900}" \
		script -qfec "bats --tap $(printf %q "$tree/tests/integration/$f")" /dev/null \
		<&"$hold" >"$run/$f.tap" 2>&1 || true
	tr -d '\r' <"$run/$f.tap" | awk -v file="$f" '
		/^ok [0-9]+ .* # skip/ { sub(/^ok [0-9]+ /, ""); sub(/ # skip.*/, ""); print "skip\t" file "\t" $0; next }
		/^ok [0-9]+ / { sub(/^ok [0-9]+ /, ""); print "pass\t" file "\t" $0; next }
		/^not ok [0-9]+ / { sub(/^not ok [0-9]+ /, ""); sub(/ # in [0-9]+ms$/, ""); print "fail\t" file "\t" $0; next }
	' >>"$results"
	if [ -n "${CONFORMANCE_LOGS:-}" ]; then
		mkdir -p "$CONFORMANCE_LOGS" && cp "$run/$f.tap" "$CONFORMANCE_LOGS/"
	fi
done
elapsed=$(($(date +%s) - start))
exec {hold}>&-

# Expectations: "<file> :: <test name> :: <reason>" a line; a line
# starting with # is a comment.
# A reason starting with "flaky:" accepts a pass or a failure.
expected=$run/expected
sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' "$expect" 2>/dev/null |
	awk -F ' :: ' 'NF >= 2 { print $1 "\t" $2 "\t" $3 }' >"$expected" || true

new=0
while IFS=$'\t' read -r status file name; do
	[ "$status" = fail ] || continue
	if ! awk -F '\t' -v f="$file" -v n="$name" '$1 == f && $2 == n { found = 1 } END { exit !found }' "$expected"; then
		echo "NEW FAILURE: $file :: $name :: $(failure_reason "$run/$file.tap" "$name")"
		new=$((new + 1))
	fi
done <"$results"
while IFS=$'\t' read -r file name reason; do
	if awk -F '\t' -v f="$file" -v n="$name" '$1 == "pass" && $2 == f && $3 == n { found = 1 } END { exit !found }' "$results"; then
		case $reason in flaky:*) ;; *) echo "expected to fail, passed (trim $expect): $file :: $name" ;; esac
	fi
done <"$expected"

count() { awk -F '\t' -v s="$1" '$1 == s' "$results" | wc -l; }
echo "conformance-runc ($policy, runc $version, ${elapsed}s): $(count pass) passed, $(count fail) failed, $(count skip) skipped; $new not expected"
[ -n "${CONFORMANCE_RESULTS:-}" ] && cp "$results" "$CONFORMANCE_RESULTS"
[ "$new" -eq 0 ]
}

main "$@"; exit $?
