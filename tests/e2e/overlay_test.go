package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Docker on the rebuilt overlay rootfs of a user-namespaced container
// (#15): restart, cp and diff.

// knownFailure skips a test of a limitation not fixed yet, unless
// HARDENED_E2E_KNOWN_FAILURES is set.
func knownFailure(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("HARDENED_E2E_KNOWN_FAILURES") == "" {
		t.Skipf("known limitation (#15): %s (set HARDENED_E2E_KNOWN_FAILURES=1 to run)", why)
	}
}

// TestDockerRestartHttpd: docker restart of a busybox httpd serves its
// page after each restart (it once found an empty rootfs: "exec: httpd:
// executable file not found").
func TestDockerRestartHttpd(t *testing.T) {
	c := runDetachedArgs(t, nil, "sh", "-c", `mkdir -p /tmp/www && echo hello > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www`)
	get := func(when string) {
		t.Helper()
		var out string
		for try := 0; try < 50; try++ {
			var exit int
			if out, _, exit = docker(t, "exec", c.Name, "wget", "-qO-", "http://127.0.0.1:8080/"); exit == 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if out != "hello\n" {
			t.Fatalf("%s: the page is %q, want hello", when, out)
		}
	}
	get("first start")
	for i := 1; i <= 2; i++ {
		mustDocker(t, "restart", "-t", "2", c.Name)
		get("after restart " + string(rune('0'+i)))
	}
}

// TestDockerCpRunning: a file docker cp puts into a running container is
// container root's once the container runs its next process (docker
// exec): it can write and chown it. dockerd writes as host root through
// the container's overlay; the runtime's exec gives such files to the
// container (see the top comment of internal/userns/overlay.go).
func TestDockerCpRunning(t *testing.T) {
	c := runDetachedArgs(t, nil, "sleep", "1000")
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "cp", src, c.Name+":/tmp/f")
	out, errOut, exit := docker(t, "exec", c.Name, "sh", "-c", "echo y >> /tmp/f && chown 5:5 /tmp/f && stat -c %u:%g /tmp/f")
	if exit != 0 || strings.TrimSpace(out) != "5:5" {
		t.Errorf("write and chown as container root: exit %d, %q %s", exit, out, errOut)
	}
}

// TestDockerCpRunningTree: docker cp -a of a directory into a running
// container keeps the owners of the archive as container IDs (root's
// directory, a file of uid 1000, a set-user-ID file), as runc does.
func TestDockerCpRunningTree(t *testing.T) {
	c := runDetachedArgs(t, nil, "sleep", "1000")
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	user := filepath.Join(tree, "sub", "user")
	suid := filepath.Join(tree, "suid")
	for _, f := range []string{user, suid} {
		if err := os.WriteFile(f, []byte("x\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Lchown(user, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "cp", "-a", tree, c.Name+":/tmp/")
	got := strings.Fields(mustDocker(t, "exec", c.Name, "stat", "-c", "%n=%u:%g:%a", "/tmp/tree", "/tmp/tree/sub/user", "/tmp/tree/suid"))
	want := []string{"/tmp/tree=0:0:755", "/tmp/tree/sub/user=1000:1000:755", "/tmp/tree/suid=0:0:4755"}
	if !slices.Equal(got, want) {
		t.Errorf("owners inside after docker cp -a: %q, want %q", got, want)
	}
	if out, errOut, exit := docker(t, "exec", "-u", "1000", c.Name, "sh", "-c", "echo y >> /tmp/tree/sub/user"); exit != 0 {
		t.Errorf("uid 1000 writes its file: exit %d %s%s", exit, out, errOut)
	}
}

// TestDockerCpRunningNoExec: the container's own processes see a file
// docker cp put there as container root's before any docker exec.
func TestDockerCpRunningNoExec(t *testing.T) {
	knownFailure(t, "a file docker cp writes into a running container is host root's (nobody inside) until the runtime runs again for the container (docker exec, or a restart); no runtime call follows docker cp, and the kernel cannot idmap the overlay the engine writes through; behind dockerd --userns-remap with \"remapSubidUsers\" it is container root's at once (TestDockerRemap)")
	c := runDetachedArgs(t, nil, "sh", "-c", `while [ ! -e /tmp/f ]; do sleep 0.1; done; sleep 0.5; (echo y >> /tmp/f && echo ok || echo denied) > /tmp/result; sleep 1000`)
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustDocker(t, "cp", src, c.Name+":/tmp/f")
	time.Sleep(2 * time.Second)
	if got := strings.TrimSpace(mustDocker(t, "exec", c.Name, "cat", "/tmp/result")); got != "ok" {
		t.Errorf("container root appends to the copied file before any exec: %q", got)
	}
}

// runcReference starts a detached busybox container running script under
// runc on the shared dockerd, removed at the test's end, and returns its
// name: what a hardened container's view is compared with.
func runcReference(t *testing.T, script string) string {
	t.Helper()
	ref := uniqueName("runc")
	mustDocker(t, "run", "-d", "--runtime=runc", "--name", ref, image(t), "sh", "-c", script)
	t.Cleanup(func() { docker(t, "rm", "-f", ref) })
	return ref
}

// TestDockerDiffRunning: docker diff of a running container lists what
// runc's lists for the same writes. (The runc container has a writable
// rootfs: the hardened one's /tmp stays writable under its read-only
// rootfs, in the container's layer.)
func TestDockerDiffRunning(t *testing.T) {
	knownFailure(t, engineViewLimit)
	script := `echo a > /tmp/new; sleep 1000`
	hardened := runDetachedArgs(t, nil, "sh", "-c", script)
	ref := runcReference(t, script)
	time.Sleep(time.Second)
	lines := func(name string) []string { return dockerDiff(t, dockerd, name) }
	if got, want := lines(hardened.Name), lines(ref); !slices.Equal(got, want) {
		t.Errorf("docker diff: %d lines %.300q, runc's %d lines %q", len(got), got, len(want), want)
	}
}

// TestDockerCommitRunning: docker commit of a running container (which
// pauses it) records the owners the container sees (container IDs), as
// after a stop; the container then goes on with its layer as it was.
func TestDockerCommitRunning(t *testing.T) {
	c := runDetachedArgs(t, nil, "sh", "-c", `echo a > /tmp/new; mkdir /tmp/d; echo b > /tmp/d/f; chown -R 5:6 /tmp/d; sleep 1000`)
	time.Sleep(time.Second)
	img := uniqueName("commit")
	mustDocker(t, "commit", c.Name, img)
	t.Cleanup(func() { docker(t, "rmi", img) })
	got := strings.Fields(mustDocker(t, "run", "--rm", "--runtime=runc", img, "stat", "-c", "%n=%u:%g", "/tmp/new", "/tmp/d/f", "/bin/busybox"))
	if want := []string{"/tmp/new=0:0", "/tmp/d/f=5:6", "/bin/busybox=0:0"}; !slices.Equal(got, want) {
		t.Errorf("owners in the committed image: %q, want %q", got, want)
	}
	out, errOut, exit := docker(t, "exec", c.Name, "sh", "-c", "echo c >> /tmp/new && echo d > /tmp/d/g && stat -c %n=%u:%g /tmp/new /tmp/d/f /bin/busybox")
	if want := "/tmp/new=0:0\n/tmp/d/f=5:6\n/bin/busybox=0:0\n"; exit != 0 || out != want {
		t.Errorf("the container after the commit: exit %d, %q %s, want %q", exit, out, errOut, want)
	}
}

// TestDockerDiffPaused: docker diff of a paused container lists what
// runc's lists; after the unpause the container writes on.
func TestDockerDiffPaused(t *testing.T) {
	script := `echo a > /tmp/new; sleep 1000`
	hardened := runDetachedArgs(t, nil, "sh", "-c", script)
	ref := runcReference(t, script)
	time.Sleep(time.Second)
	lines := func(name string) []string { return dockerDiff(t, dockerd, name) }
	mustDocker(t, "pause", hardened.Name)
	got, want := lines(hardened.Name), lines(ref)
	mustDocker(t, "unpause", hardened.Name)
	if !slices.Equal(got, want) {
		t.Errorf("docker diff while paused: %d lines %.300q, runc's %d lines %q", len(got), got, len(want), want)
	}
	if out, errOut, exit := docker(t, "exec", hardened.Name, "sh", "-c", "echo b >> /tmp/new && cat /tmp/new && stat -c %u /tmp/new"); exit != 0 || out != "a\nb\n0\n" {
		t.Errorf("after the unpause: exit %d, %q %s", exit, out, errOut)
	}
}

// engineViewLimit is why the engine's reads of a running container's
// files show mapped owners: see the top comment of
// internal/userns/overlay.go.
const engineViewLimit = "while the container runs, the engine's path (.../merged) is the container's own overlay, whose files show the container's mapped (host) owners to the engine: the kernel cannot idmap an overlay, and a second overlay on the same upperdir for the engine goes stale (measured; see internal/userns/overlay.go); behind dockerd --userns-remap with \"remapSubidUsers\" they are exact (TestDockerRemap)"

// TestDockerRmPaused: docker rm -f of a paused container, whose path
// shows the view of its layer at rest, leaves nothing behind.
func TestDockerRmPaused(t *testing.T) {
	c := runDetachedArgs(t, nil, "sh", "-c", `echo a > /tmp/new; sleep 1000`)
	time.Sleep(time.Second)
	mustDocker(t, "pause", c.Name)
	if got := strings.TrimSpace(mustDocker(t, "diff", c.Name)); got != "C /tmp\nA /tmp/new" {
		t.Errorf("docker diff while paused: %q", got)
	}
	removeAndCheck(t, c)
}
