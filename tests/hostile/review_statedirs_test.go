package hostile

import (
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// reviewBind adds a bind mount of host path src at /mnt.
func reviewBind(src string, opts ...string) func(*testing.T, *testutil.Bundle, *specs.Spec) {
	return func(_ *testing.T, _ *testutil.Bundle, s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/mnt", Type: "bind", Source: src, Options: append([]string{"rbind"}, opts...)})
	}
}

// TestReviewRuntimeStateDirs: the runtime's own state directories were
// not among the host paths a bind mount may not expose (only
// /run/hardened was). A config.json bound /run/hardened-idmap and read
// other containers' staged root filesystems (their world-readable files:
// the directories are made traversable for the mapped roots); with user
// namespaces off it bound /run/hardened-seccomp read-write and, as root,
// rewrote the compiled seccomp filters later containers load, or
// /var/lib/hardened/profiles, the learned profiles it is held to.
func TestReviewRuntimeStateDirs(t *testing.T) {
	attacks := []attack{
		{name: "other containers' staged rootfs", tweak: reviewBind("/run/hardened-idmap", "ro"),
			want: []string{"bind mount of host path /run/hardened-idmap at /mnt", `(rule host-mounts, allow with "allowHostMounts": ["/run/hardened-idmap"]`}},
		{name: "the seccomp filter cache", tweak: reviewBind("/run/hardened-seccomp", "rw"),
			want: []string{"bind mount of host path /run/hardened-seccomp at /mnt", "rule host-mounts"}},
		{name: "the learn recorders' sockets", tweak: reviewBind("/run/hardened-learn"),
			want: []string{"bind mount of host path /run/hardened-learn at /mnt", "rule host-mounts"}},
		{name: "the learned profiles", tweak: reviewBind("/var/lib/hardened/profiles"),
			want: []string{"bind mount of host path /var/lib/hardened/profiles at /mnt exposes /var/lib/hardened", "rule host-mounts"}},
		{name: "the audit log", tweak: reviewBind("/var/log/hardened"),
			want: []string{"bind mount of host path /var/log/hardened at /mnt", "rule host-mounts"}},
	}
	t.Run("user namespaces on", func(t *testing.T) { expectAllRefused(t, attacks) })
	off, _ := testutil.WritePolicy(t, `{"userNamespace": {"enabled": false}}`)
	t.Run("user namespaces off", func(t *testing.T) {
		expectAllRefused(t, []attack{{name: "seccomp filter cache read-write", tweak: func(t *testing.T, b *testutil.Bundle, s *specs.Spec) {
			reviewUsernsOff(s)
			reviewBind("/run/hardened-seccomp", "rw")(t, b, s)
		}, want: []string{"bind mount of host path /run/hardened-seccomp at /mnt", "rule host-mounts"}}}, off)
	})
}

// reviewUsernsOff removes the user namespace and its mappings from s
// (testutil's bundle has none, but a caller's may).
func reviewUsernsOff(s *specs.Spec) {
	s.Linux.UIDMappings, s.Linux.GIDMappings = nil, nil
	var ns []specs.LinuxNamespace
	for _, n := range s.Linux.Namespaces {
		if n.Type != specs.UserNamespace {
			ns = append(ns, n)
		}
	}
	s.Linux.Namespaces = ns
}
