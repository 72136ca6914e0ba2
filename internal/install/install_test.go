package install

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/runtimeconfig"
)

// fakeHost records what install does to the host.
type fakeHost struct {
	file     runtimeconfig.File
	written  [][]byte
	reloadFn func(string) (int, error)
	infos    []map[string]string // successive docker info answers; the last repeats
	polls    int
	reloads  int
	stdout   bytes.Buffer
	stderr   bytes.Buffer
}

func (f *fakeHost) host() Host {
	return Host{
		Stdout: &f.stdout,
		Stderr: &f.stderr,
		Read: func(path string) (*runtimeconfig.File, error) {
			c := f.file
			c.Path = path
			return &c, nil
		},
		Replace: func(_ *runtimeconfig.File, data []byte) (string, error) {
			f.written = append(f.written, data)
			return "/etc/docker/daemon.json.bak-1", nil
		},
		ReloadDockerd: func(pidFile string) (int, error) {
			f.reloads++
			if f.reloadFn != nil {
				return f.reloadFn(pidFile)
			}
			return 4242, nil
		},
		DockerRuntimes: func(context.Context, string) (map[string]string, error) {
			i := min(f.polls, len(f.infos)-1)
			f.polls++
			if i < 0 {
				return nil, fmt.Errorf("no answer")
			}
			return f.infos[i], nil
		},
		Sleep: func(time.Duration) {},
	}
}

func dockerOpts(install bool) DockerOptions {
	return DockerOptions{
		Options: Options{Install: install, Config: "/etc/docker/daemon.json", Name: "hardened", Path: "/usr/bin/hardened"},
		PidFile: "/var/run/docker.pid",
		Reload:  true,
		Timeout: time.Second,
	}
}

func TestConfigureDocker(t *testing.T) {
	t.Parallel()
	runc := map[string]string{"runc": "runc"}
	listed := map[string]string{"runc": "runc", "hardened": "/usr/bin/hardened"}
	tests := []struct {
		name      string
		install   bool
		data      string
		reload    func(string) (int, error)
		infos     []map[string]string
		timeout   time.Duration
		wantErr   string // substring; "" for success
		wantWrite bool
		wantOut   string
		wantPolls int
		// noSignal: dockerd must not be signalled; opts changes the options.
		noSignal bool
		opts     func(*DockerOptions)
	}{
		{
			name: "install, listed after a reload", install: true, data: `{"debug": true}`,
			infos: []map[string]string{runc, runc, listed}, wantWrite: true, wantPolls: 3,
			wantOut: `docker info lists runtime "hardened" (/usr/bin/hardened)`,
		},
		{
			name: "install, dockerd not running", install: true, data: `{}`,
			reload:    func(string) (int, error) { return 0, fs.ErrNotExist },
			wantWrite: true, wantOut: "dockerd is not running",
		},
		{
			name: "install, reload rejected", install: true, data: `{}`,
			infos: []map[string]string{runc}, timeout: time.Nanosecond, wantWrite: true,
			wantErr: `dockerd (pid 4242) signalled, but after 1ns docker info does not list runtime "hardened"`,
		},
		{
			name: "install, stale path listed", install: true, data: `{}`,
			infos: []map[string]string{{"hardened": "/old/hardened"}}, timeout: time.Nanosecond, wantWrite: true,
			wantErr: `docker info lists runtime "hardened" with path "/old/hardened"`,
		},
		{
			name: "install, pid file names another process", install: true, data: `{}`,
			reload:    func(p string) (int, error) { return 0, fmt.Errorf("%s names pid 7, which is \"sshd\", not dockerd", p) },
			wantWrite: true, wantErr: "was written but dockerd was not reloaded",
		},
		{
			name: "malformed file is left alone", install: true, data: `{"debug": true,,}`,
			wantErr: "install docker: /etc/docker/daemon.json: daemon.json: malformed configuration",
		},
		{
			name: "uninstall", install: false, data: `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}}`,
			infos: []map[string]string{listed, runc}, wantWrite: true, wantPolls: 2,
			wantOut: `docker info no longer lists runtime "hardened"`,
		},
		{
			name: "uninstall, nothing to remove", install: false, data: `{"debug": true}`,
			infos: []map[string]string{runc}, noSignal: true, wantOut: "dockerd not signalled: nothing changed",
		},
		{
			name: "install, already installed: no reload", install: true, data: `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}}`,
			infos: []map[string]string{listed}, noSignal: true, wantOut: "dockerd not signalled: nothing changed",
		},
		{
			name: "install, another config without a pid file", install: true, data: `{}`,
			opts:      func(o *DockerOptions) { o.Config, o.Reload, o.NotPointed = "/srv/docker2/daemon.json", false, true },
			wantWrite: true, noSignal: true, wantOut: "no --pidfile names the dockerd that reads /srv/docker2/daemon.json",
		},
		{
			name: "uninstall, dockerd keeps the runtime until restart", install: false, data: `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}}`,
			infos: []map[string]string{listed}, timeout: time.Hour, wantWrite: true, wantPolls: uninstallPolls,
			wantOut: `keeps runtime "hardened" until it restarts (Docker 20.10 does not drop runtimes on reload): restart dockerd`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeHost{file: runtimeconfig.File{Data: []byte(tc.data), Exists: true, Mode: 0o600}, reloadFn: tc.reload, infos: tc.infos}
			o := dockerOpts(tc.install)
			if tc.timeout != 0 {
				o.Timeout = tc.timeout
			}
			if tc.opts != nil {
				tc.opts(&o)
			}
			err := Docker(context.Background(), f.host(), o)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("error %v\nstdout:\n%s", err, f.stdout.String())
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if got := len(f.written) > 0; got != tc.wantWrite {
				t.Fatalf("written %v, want %v", got, tc.wantWrite)
			}
			if !strings.Contains(f.stdout.String(), tc.wantOut) {
				t.Errorf("stdout %q does not contain %q", f.stdout.String(), tc.wantOut)
			}
			if tc.noSignal && (f.reloads != 0 || f.polls != 0) {
				t.Errorf("dockerd signalled %d times, docker info polled %d times, want neither", f.reloads, f.polls)
			}
			if tc.wantPolls != 0 && f.polls != tc.wantPolls {
				t.Errorf("docker info polled %d times, want %d", f.polls, tc.wantPolls)
			}
		})
	}
}

func TestConfigureDockerDryRun(t *testing.T) {
	t.Parallel()
	f := &fakeHost{file: runtimeconfig.File{Data: []byte(`{"log-level": "warn"}`), Exists: true}}
	o := dockerOpts(true)
	o.DryRun, o.Default = true, true
	if err := Docker(context.Background(), f.host(), o); err != nil {
		t.Fatal(err)
	}
	if len(f.written) != 0 || f.polls != 0 {
		t.Fatalf("dry run wrote %d files, polled %d times", len(f.written), f.polls)
	}
	var got map[string]any
	if err := json.Unmarshal(f.stdout.Bytes(), &got); err != nil {
		t.Fatalf("stdout is not the new file: %v\n%s", err, f.stdout.String())
	}
	want := map[string]any{
		"log-level":       "warn",
		"runtimes":        map[string]any{"hardened": map[string]any{"path": "/usr/bin/hardened"}},
		"default-runtime": "hardened",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dry run printed %v, want %v", got, want)
	}
	if !strings.Contains(f.stderr.String(), "dry run: would write /etc/docker/daemon.json") {
		t.Errorf("stderr %q", f.stderr.String())
	}
}

func TestConfigureContainerd(t *testing.T) {
	t.Parallel()
	config := "# local settings\nversion = 2\n[grpc]\n  address = \"/run/c.sock\"\n"
	o := Options{Install: true, Config: "/etc/containerd/config.toml", Name: "hardened", Path: "/usr/bin/hardened", DryRun: true}

	dry := &fakeHost{file: runtimeconfig.File{Data: []byte(config), Exists: true}}
	if err := Containerd(dry.host(), o); err != nil {
		t.Fatal(err)
	}
	if len(dry.written) != 0 || !strings.Contains(dry.stdout.String(), "BinaryName = \"/usr/bin/hardened\"") || !strings.Contains(dry.stdout.String(), "# local settings\n") {
		t.Errorf("dry run: written %d, stdout:\n%s", len(dry.written), dry.stdout.String())
	}
	if strings.Contains(dry.stderr.String(), "note:") {
		t.Errorf("dry run warns: %q", dry.stderr.String())
	}

	o.DryRun = false
	real := &fakeHost{file: runtimeconfig.File{Data: []byte(config), Exists: true}}
	if err := Containerd(real.host(), o); err != nil {
		t.Fatal(err)
	}
	if len(real.written) != 1 || !strings.Contains(real.stdout.String(), "restart it") {
		t.Errorf("written %d, stdout:\n%s", len(real.written), real.stdout.String())
	}

	bad := &fakeHost{file: runtimeconfig.File{Data: []byte("version = 2\n[plugins\n"), Exists: true}}
	err := Containerd(bad.host(), o)
	if err == nil || !strings.Contains(err.Error(), "malformed configuration: line 2") || len(bad.written) != 0 {
		t.Errorf("malformed: %v, written %d", err, len(bad.written))
	}
}

func TestParseDockerRuntimes(t *testing.T) {
	t.Parallel()
	got, err := parseDockerRuntimes([]byte(`{"hardened":{"path":"/usr/bin/hardened"},"io.containerd.runc.v2":{"path":"runc"},"runc":{"path":"runc","runtimeArgs":["--debug"]}}` + "\n"))
	want := map[string]string{"hardened": "/usr/bin/hardened", "io.containerd.runc.v2": "runc", "runc": "runc"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := parseDockerRuntimes([]byte("template: info:1: unexpected")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestConfigurePodman(t *testing.T) {
	t.Parallel()
	config := "# local settings\n[engine]\ncgroup_manager = \"cgroupfs\"\n"
	o := Options{Install: true, Config: "/etc/containers/containers.conf", Name: "hardened", Path: "/usr/bin/hardened", Default: true}
	real := &fakeHost{file: runtimeconfig.File{Data: []byte(config), Exists: true}}
	if err := Podman(real.host(), o); err != nil {
		t.Fatal(err)
	}
	if len(real.written) != 1 {
		t.Fatalf("written %d, want 1", len(real.written))
	}
	want := "# local settings\n[engine]\ncgroup_manager = \"cgroupfs\"\nruntime = \"hardened\"\n\n[engine.runtimes]\n  hardened = [\"/usr/bin/hardened\"]\n"
	if got := string(real.written[0]); got != want {
		t.Errorf("wrote\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(real.stdout.String(), "--runtime-flag policy=") {
		t.Errorf("stdout lacks how to pick a policy file:\n%s", real.stdout.String())
	}
	o.Install = false
	un := &fakeHost{file: runtimeconfig.File{Data: real.written[0], Exists: true}}
	if err := Podman(un.host(), o); err != nil {
		t.Fatal(err)
	}
	if len(un.written) != 1 || string(un.written[0]) != config+"\n" && string(un.written[0]) != config {
		t.Errorf("uninstall wrote %q, want the original back", un.written)
	}
}
