package packaging

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// daemon is a dockerd or containerd started by a test with a
// configuration file of its own (testutil's daemons write theirs).
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func startDaemon(t *testing.T, logPath string, ready func() error, argv ...string) *daemon {
	t.Helper()
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// The runtimes it starts write their audit record beside its log,
	// never to the machine's /var/log/hardened.
	cmd.Env = append(os.Environ(), "HARDENED_AUDIT_LOG="+filepath.Join(filepath.Dir(logPath), "audit.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { d.stop(t) })
	deadline := time.Now().Add(90 * time.Second)
	for {
		select {
		case <-d.done:
			t.Fatalf("%s exited during start-up; log:\n%s", argv[0], readLog(logPath))
		default:
		}
		err := ready()
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v; log:\n%s", argv[0], err, readLog(logPath))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *daemon) stop(t *testing.T) {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		t.Errorf("%s ignored SIGTERM; killed", d.cmd.Path)
	}
}

func readLog(path string) string {
	data, _ := os.ReadFile(path)
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// privateDir makes a directory for a daemon and, at cleanup, detaches the
// mounts the daemon left below it and removes it.
func privateDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		testutil.UnmountUnder(dir)
		os.RemoveAll(dir)
	})
	return dir
}

func decodeJSONFile(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, data)
	}
	return m
}

func fileOwnerMode(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%d:%d %v", st.Uid, st.Gid, info.Mode().Perm())
}

// TestInstallDocker registers the runtime in a daemon.json that holds
// other settings, with a real dockerd running from it, runs a container
// with --runtime=hardened, and removes the runtime again.
func TestInstallDocker(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	testutil.RemoveCgroupLeftovers(t, testutil.DockerCgroupParent)
	dir := privateDir(t, "hardened-install-docker-")
	host := "unix://" + filepath.Join(dir, "docker.sock")
	cfg := filepath.Join(dir, "daemon.json")
	pidFile := filepath.Join(dir, "docker.pid")
	original := []byte(`{
	"log-level": "warn",
	"max-concurrent-downloads": 2,
	"storage-driver": "overlay2",
	"labels": ["purpose=hardened-install-test"],
	"log-opts": {"max-size": "10m", "max-file": "3"},
	"runtimes": {"runc-debug": {"path": "runc", "runtimeArgs": ["--debug"]}}
}
`)
	if err := os.WriteFile(cfg, original, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfg, 0, 4); err != nil { // group adm: an owner to keep
		t.Fatal(err)
	}
	ownerMode := fileOwnerMode(t, cfg)

	docker := func(args ...string) (string, string, int) {
		cmd := append([]string{"env", "DOCKER_CONFIG=" + filepath.Join(dir, "client"), "docker", "-H", host}, args...)
		return run(t, 2*time.Minute, cmd[0], cmd[1:]...)
	}
	bridge, err := testutil.NewBridge()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bridge.Remove(); err != nil {
			t.Error(err)
		}
	})
	startDaemon(t, filepath.Join(dir, "dockerd.log"), func() error {
		if _, errOut, code := docker("version", "--format", "{{.Server.Version}}"); code != 0 {
			return fmt.Errorf("docker version: %s", errOut)
		}
		return nil
	}, append([]string{"dockerd", "--config-file", cfg, "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "--pidfile", pidFile, "-H", host}, bridge.DockerdArgs()...)...)
	t.Cleanup(func() {
		if out, _, _ := docker("ps", "-aq"); strings.TrimSpace(out) != "" {
			docker(append([]string{"rm", "-f"}, strings.Fields(out)...)...)
		}
	})
	tarball, err := testutil.BusyboxTarball(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := docker("import", "-c", `CMD ["sh"]`, tarball, testutil.BusyboxImage); code != 0 {
		t.Fatalf("docker import: %s", errOut)
	}

	out := mustRun(t, time.Minute, bin, "install", "docker", "--config", cfg, "--pidfile", pidFile, "--host", host, "--path", bin)
	t.Logf("install docker:\n%s", out)
	if !strings.Contains(out, `docker info lists runtime "hardened"`) {
		t.Errorf("install did not confirm through docker info:\n%s", out)
	}
	if got := fileOwnerMode(t, cfg); got != ownerMode {
		t.Errorf("daemon.json owner and mode %s, was %s", got, ownerMode)
	}
	backups, _ := filepath.Glob(cfg + ".bak-*")
	if len(backups) != 1 {
		t.Fatalf("backups %v", backups)
	}
	if data, _ := os.ReadFile(backups[0]); string(data) != string(original) {
		t.Errorf("backup %s is not the original:\n%s", backups[0], data)
	}
	installed := decodeJSONFile(t, cfg)
	want := decodeJSONFile(t, backups[0])
	want["runtimes"].(map[string]any)["hardened"] = map[string]any{"path": bin}
	if !reflect.DeepEqual(installed, want) {
		t.Errorf("installed daemon.json:\n%v\nwant\n%v", installed, want)
	}

	stdout, errOut, code := docker("run", "--rm", "--runtime=hardened", testutil.BusyboxImage, "grep", "NoNewPrivs", "/proc/self/status")
	if code != 0 || !strings.Contains(stdout, "NoNewPrivs:\t1") {
		t.Errorf("docker run --runtime=hardened: exit %d\n%s\n%s", code, stdout, errOut)
	}

	out = mustRun(t, time.Minute, bin, "uninstall", "docker", "--config", cfg, "--pidfile", pidFile, "--host", host)
	if !strings.Contains(out, `docker info no longer lists runtime "hardened"`) {
		t.Errorf("uninstall did not confirm through docker info:\n%s", out)
	}
	if got, want := decodeJSONFile(t, cfg), decodeJSONFile(t, backups[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("after uninstall daemon.json is\n%v\nnot the original\n%v", got, want)
	}
	if got := fileOwnerMode(t, cfg); got != ownerMode {
		t.Errorf("daemon.json owner and mode %s, was %s", got, ownerMode)
	}
	if _, _, code := docker("run", "--rm", "--runtime=hardened", testutil.BusyboxImage, "true"); code == 0 {
		t.Error("docker run --runtime=hardened still works after uninstall")
	}
}

// TestInstallMalformed checks that a configuration that does not parse is
// reported and left exactly as it was, without a backup.
func TestInstallMalformed(t *testing.T) {
	bin := testutil.Binary(t)
	for _, tc := range []struct{ engine, file, content, detail string }{
		{"docker", "daemon.json", "{\"log-level\": \"warn\",\n", "malformed configuration: unexpected end of input"},
		{"docker", "daemon.json", `{"runtimes": ["hardened"]}`, "malformed configuration: must be a JSON object"},
		{"containerd", "config.toml", "version = 2\n[plugins\n", "malformed configuration: line 2"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, tc.file)
		if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := run(t, time.Minute, bin, "install", tc.engine, "--config", path, "--path", bin, "--no-reload")
		if tc.engine == "containerd" {
			_, errOut, code = run(t, time.Minute, bin, "install", tc.engine, "--config", path, "--path", bin)
		}
		if code == 0 || !strings.Contains(errOut, tc.detail) || !strings.Contains(errOut, "left unchanged") {
			t.Errorf("install %s on %q: exit %d, stderr %q; want an error with %q", tc.engine, tc.content, code, errOut, tc.detail)
		}
		if data, _ := os.ReadFile(path); string(data) != tc.content {
			t.Errorf("%s was changed: %q", tc.file, data)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("files beside %s: %v", tc.file, entries)
		}
	}
}

// TestInstallContainerd registers the runtime in a config.toml holding
// other settings and comments, checks that containerd reads it (config
// dump shows the runtime, the daemon starts from it), runs a container
// with ctr through the configured binary, and removes the runtime again.
func TestInstallContainerd(t *testing.T) {
	testutil.RequireRoot(t)
	bin := testutil.Binary(t)
	testutil.RemoveCgroupLeftovers(t, testutil.CtrNamespace)
	dir := privateDir(t, "hardened-install-containerd-")
	sock := filepath.Join(dir, "containerd.sock")
	cfg := filepath.Join(dir, "config.toml")
	original := fmt.Sprintf(`# containerd for the install test
version = 2
root = %q
state = %q
oom_score = 0

[grpc]
  address = %q
  max_recv_message_size = 16777216

[ttrpc]
  address = %q

[debug]
  level = "warn"

[plugins."io.containerd.internal.v1.opt"]
  path = %q

# the CRI plugin, as a Kubernetes node has it
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = false
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "opt"))
	if err := os.WriteFile(cfg, []byte(original), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := run(t, time.Minute, bin, "install", "containerd", "--config", cfg, "--path", bin, "--dry-run")
	// The edit keeps the file's comments: the dry run shows them.
	if code != 0 || !strings.Contains(out, "# the CRI plugin") || !strings.Contains(out, "BinaryName") {
		t.Errorf("dry run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if data, _ := os.ReadFile(cfg); string(data) != original {
		t.Fatal("dry run changed the file")
	}
	out = mustRun(t, time.Minute, bin, "install", "containerd", "--config", cfg, "--path", bin)
	if !strings.Contains(out, "restart") {
		t.Errorf("install does not say to restart containerd:\n%s", out)
	}

	// containerd's own reading of the file.
	dump := mustRun(t, time.Minute, "containerd", "--config", cfg, "config", "dump")
	var dumped map[string]any
	if err := toml.Unmarshal([]byte(dump), &dumped); err != nil {
		t.Fatalf("config dump: %v\n%s", err, dump)
	}
	runtimes := dumped["plugins"].(map[string]any)["io.containerd.grpc.v1.cri"].(map[string]any)["containerd"].(map[string]any)["runtimes"].(map[string]any)
	entry, _ := runtimes["hardened"].(map[string]any)
	options, _ := entry["options"].(map[string]any)
	if entry["runtime_type"] != "io.containerd.runc.v2" || options["BinaryName"] != bin {
		t.Fatalf("containerd config dump shows runtime hardened as %v", entry)
	}
	if _, ok := runtimes["runc"]; !ok {
		t.Errorf("runtime runc lost: %v", runtimes)
	}

	ctr := func(args ...string) (string, string, int) {
		return run(t, 2*time.Minute, "ctr", append([]string{"-a", sock, "-n", testutil.CtrNamespace}, args...)...)
	}
	startDaemon(t, filepath.Join(dir, "containerd.log"), func() error {
		if _, errOut, code := ctr("version"); code != 0 {
			return fmt.Errorf("ctr version: %s", errOut)
		}
		return nil
	}, "containerd", "--config", cfg)
	t.Cleanup(func() {
		out, _, _ := ctr("containers", "ls", "-q")
		for _, id := range strings.Fields(out) {
			ctr("tasks", "kill", "-s", "KILL", id)
			ctr("tasks", "delete", "-f", id)
			ctr("containers", "rm", id)
		}
	})
	image := "docker.io/" + testutil.BusyboxImage
	archive := filepath.Join(dir, "busybox.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.WriteBusyboxOCIArchive(f, image); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, errOut, code := ctr("images", "import", archive); code != 0 {
		t.Fatalf("ctr images import: %s", errOut)
	}
	// ctr does not read the CRI runtimes: it is given the BinaryName that
	// containerd's configuration holds.
	stdout, errOut, code := ctr("run", "--rm", "--runtime", "io.containerd.runc.v2",
		"--runc-binary", options["BinaryName"].(string), "--runc-root", filepath.Join(dir, "runc"),
		image, "hardened-install-ctr", "grep", "NoNewPrivs", "/proc/self/status")
	if code != 0 || !strings.Contains(stdout, "NoNewPrivs:\t1") {
		t.Errorf("ctr run through %s: exit %d\n%s\n%s", options["BinaryName"], code, stdout, errOut)
	}

	mustRun(t, time.Minute, bin, "uninstall", "containerd", "--config", cfg)
	got, want := map[string]any{}, map[string]any{}
	data, _ := os.ReadFile(cfg)
	if err := toml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := toml.Unmarshal([]byte(original), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after uninstall config.toml is\n%s\nnot the original in meaning:\n%s", data, original)
	}
	backups, _ := filepath.Glob(cfg + ".bak-*")
	if len(backups) != 2 {
		t.Errorf("backups %v, want one per edit", backups)
	}
}
