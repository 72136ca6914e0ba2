package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Bundle is an OCI bundle in a test's temporary directory: config.json and
// a busybox rootfs.
type Bundle struct {
	Dir    string      // absolute bundle directory
	Rootfs string      // Dir/rootfs
	Spec   *specs.Spec // what Write puts in config.json
}

// NewBundle makes a bundle whose config is runc's specconv.Example() (what
// `runc spec` prints) running args without a terminal, root path "rootfs",
// and writes its config.json. With no args the process is `sh`.
// The directories above the bundle are made traversable by others, so a
// container whose root is mapped to an unprivileged host ID can reach it.
func NewBundle(tb testing.TB, args ...string) *Bundle {
	tb.Helper()
	dir := tb.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	b := &Bundle{Dir: dir, Rootfs: filepath.Join(dir, "rootfs"), Spec: specconv.Example()}
	BusyboxRootfs(tb, b.Rootfs)
	b.Spec.Root.Path = "rootfs"
	b.Spec.Process.Terminal = false
	if len(args) > 0 {
		b.Spec.Process.Args = args
	}
	b.Write(tb)
	return b
}

// ConfigPath is Dir/config.json.
func (b *Bundle) ConfigPath() string { return filepath.Join(b.Dir, "config.json") }

// Write writes Spec to config.json.
func (b *Bundle) Write(tb testing.TB) {
	tb.Helper()
	data, err := json.MarshalIndent(b.Spec, "", "\t")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(b.ConfigPath(), data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Edit applies fn to Spec and writes config.json again.
func (b *Bundle) Edit(tb testing.TB, fn func(*specs.Spec)) {
	tb.Helper()
	fn(b.Spec)
	b.Write(tb)
}

// SetArgs sets the process arguments and writes config.json again.
func (b *Bundle) SetArgs(tb testing.TB, args ...string) {
	tb.Helper()
	b.Edit(tb, func(s *specs.Spec) { s.Process.Args = args })
}
