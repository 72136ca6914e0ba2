package hostile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestHostileLiveOverlaySetuid: while a container on an engine-style
// overlay rootfs runs, the engine's path is its rebuilt overlay, where
// its files are owned by host IDs of its range. A set-user-ID file the
// container makes there (its user 1000's, host ID start+1000) and one of
// its image (container root's, host ID start) must not run with those
// IDs for a host user who reaches the engine's path (the bind there is
// nosuid, nodev). Inside, the container's own rootfs keeps its flags:
// with "allowNewPrivileges" and noNewPrivileges false, the image's
// set-user-ID program still makes the container's user 1000 root.
func TestHostileLiveOverlaySetuid(t *testing.T) {
	rt := testutil.NewRuntime(t)
	v := overlayMountVictim(t)
	openToHostUsers(t, v.merged)
	prog := liveSetuidEuidProbe(t)
	if err := os.WriteFile(filepath.Join(v.lower, "idprobe"), prog, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v.lower, "suid-image"), prog, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Chmod(filepath.Join(v.lower, "suid-image"), 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(v.lower, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	policy, _ := testutil.WritePolicy(t, `{"allowNewPrivileges": true}`)
	b := testutil.NewBundle(t, "sh", "-c", `/suid-image > /tmp/inside && cp /idprobe /tmp/suid && chmod 4755 /tmp/suid && touch /tmp/ready && sleep 1000`)
	b.Edit(t, func(s *specs.Spec) {
		s.Root.Path = v.merged
		s.Process.User = specs.User{UID: 1000, GID: 1000}
		s.Process.NoNewPrivileges = false
	})
	id := rt.NewID()
	rt.MustRun(policy, "run", "--detach", "--bundle", b.Dir, id)
	ready := filepath.Join(v.upper, "tmp", "ready")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Lstat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not make its set-user-ID file (no %s)", ready)
		}
	}
	inside, err := os.ReadFile(filepath.Join(v.merged, "tmp", "inside"))
	if got := strings.TrimSpace(string(inside)); err != nil || got != "0" {
		t.Errorf("the image's set-user-ID program run by the container's user 1000 inside: euid %q (%v), want 0 (the container's rootfs must keep honouring set-user-ID)", got, err)
	}
	for _, name := range []string{"tmp/suid", "suid-image"} {
		p := filepath.Join(v.merged, name)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid < 65536 || st.Mode&syscall.S_ISUID == 0 {
			t.Fatalf("%s while the container runs: owner %d mode %o, want a host ID of its range, set-user-ID", p, st.Uid, st.Mode)
		}
		cmd := exec.Command(p)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); err != nil || got != "65534" {
			t.Errorf("%s (owner %d, set-user-ID), run by host user 65534 at the engine's path: euid %q (%v), want 65534", p, st.Uid, got, err)
		}
	}
}

// liveSetuidEuidProbe returns a static program (busybox drops a
// set-user-ID's privileges, the host's id needs the host's libc) that
// prints its effective user ID.
func liveSetuidEuidProbe(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "euid.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() { fmt.Println(os.Geteuid()) }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "euid")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", src, err, msg)
	}
	prog, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}
