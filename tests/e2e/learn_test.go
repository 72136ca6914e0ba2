package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// TestDockerLearn learns a Docker container's system calls into a profile
// named after its image (Docker sets no annotations: the workload keys
// come from Docker's own state), then enforces it: the same command
// passes, a call it never made fails with EPERM and leaves an audit
// record naming the profile.
func TestDockerLearn(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	dir := t.TempDir()
	pol, profiles, auditLog := filepath.Join(dir, "policy.json"), filepath.Join(dir, "profiles"), filepath.Join(dir, "audit.log")
	setMode := func(mode string) {
		p := `{"learn": [{"match": {"workload.engine": "docker"}, "mode": "` + mode + `", "keyFrom": ["workload.image"]}]}`
		if err := os.WriteFile(pol, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setMode("learn")
	wrapper := filepath.Join(dir, "hardened-learn")
	script := "#!/bin/sh\nexport HARDENED_PROFILES_DIR=" + profiles + " HARDENED_AUDIT_LOG=" + auditLog + "\nexec " + bin + " --policy=" + pol + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dd := testutil.StartDockerd(t, wrapper)
	img := testutil.DockerImportBusybox(t, dd)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := func(args ...string) (string, string) {
		t.Helper()
		out, errOut, exit := dd.Run(ctx, args...)
		if exit != 0 {
			t.Fatalf("docker %s: exit %d: %s %s", strings.Join(args, " "), exit, out, errOut)
		}
		return out, errOut
	}
	const script0 = "echo hello; cat /etc/hostname >/dev/null; echo done"
	if out, _ := run("run", "--rm", "--runtime=hardened", img, "sh", "-c", script0); out != "hello\ndone\n" {
		t.Fatalf("learning run: %q", out)
	}
	key := strings.NewReplacer(":", "_", "/", "_").Replace(img)
	path := filepath.Join(profiles, key+".json")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(profiles)
			t.Fatalf("no profile %s after the learning run (profiles: %v)", path, entries)
		}
	}

	setMode("enforce")
	if out, _ := run("run", "--rm", "--runtime=hardened", img, "sh", "-c", script0); out != "hello\ndone\n" {
		t.Errorf("under the enforced profile: %q", out)
	}
	out, errOut := run("run", "--rm", "--runtime=hardened", img, "sh", "-c", script0+"; mkdir /tmp/x && echo made || echo refused")
	if !strings.Contains(out, "refused") {
		t.Errorf("mkdir outside the profile: %q %q, want refused", out, errOut)
	}
	var denied bool
	for deadline := time.Now().Add(10 * time.Second); !denied && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		data, _ := os.ReadFile(auditLog)
		for _, line := range strings.Split(string(data), "\n") {
			var r struct{ Event, Syscall, Profile, Engine, Image string }
			if json.Unmarshal([]byte(line), &r) == nil && r.Event == "syscall-denied" && r.Profile == key &&
				(r.Syscall == "mkdir" || r.Syscall == "mkdirat") && r.Engine == "docker" && r.Image == img {
				denied = true
			}
		}
	}
	if !denied {
		data, _ := os.ReadFile(auditLog)
		t.Errorf("no syscall-denied record for mkdir of profile %s, image %s:\n%s", key, img, data)
	}
}
