package hardening

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/idmap"
)

// Test fixtures: runc's `runc spec` example and a spec shaped like what
// Docker 20.10 writes for `docker run nginx` with a named volume.

const dockerRootfs = "/var/lib/docker/overlay2/5b1c0f3e9a7d/merged"

// exampleSpec returns runc's example spec with an absolute rootfs.
func exampleSpec() *specs.Spec {
	s := specconv.Example()
	s.Root.Path = "/bundles/example/rootfs"
	return s
}

// dockerSpec returns the Docker 20.10-shaped fixture.
func dockerSpec(t testing.TB) *specs.Spec {
	t.Helper()
	return specFixture(t, "docker-20.10.json")
}

// specFixture returns the config.json testdata/name.
func specFixture(t testing.TB, name string) *specs.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	s := new(specs.Spec)
	if err := json.Unmarshal(b, s); err != nil {
		t.Fatal(err)
	}
	return s
}

// allDirs are host facts in which every default writable path is a real
// directory of the rootfs but /var/run (a symlink, as on Debian).
//
// They carry the ID range the runtime allocates when user namespaces are
// on (the default); rules ignore it otherwise.
func allDirs(rootfs string) HostFacts {
	rng := idmap.Range{Start: 0x70000000, Size: idmap.DefaultRangeSize}
	f := HostFacts{Bundle: "/bundles/example", Rootfs: rootfs, ExistingDirs: map[string]bool{}, IDRange: &rng}
	for _, p := range DefaultWritablePaths() {
		f.ExistingDirs[p] = p != "/var/run"
	}
	return f
}

// dockerFacts are the facts GatherHostFacts would give for the Docker
// fixture on a host where dockerd is /usr/sbin/dockerd.
func dockerFacts() HostFacts {
	f := allDirs(dockerRootfs)
	f.Bundle = "/run/containerd/io.containerd.runtime.v2.task/moby/3f2a91c0d1e2"
	f.HookPaths = map[string]string{"/proc/4242/exe": "/usr/sbin/dockerd", "/usr/sbin/dockerd": "/usr/sbin/dockerd"}
	return f
}

// refusedRules returns the rule IDs of a report's refusals.
func refusedRules(r *Report) []string {
	var out []string
	for _, f := range r.Refusals {
		out = append(out, f.Rule)
	}
	return out
}

// changedPaths returns the field paths of a report's changes.
func changedPaths(r *Report) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Path)
	}
	slices.Sort(out)
	return out
}
