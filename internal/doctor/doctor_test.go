package doctor

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/hardening"
)

// fakeDoctorHost writes the files doctor reads into a temporary tree.
func fakeDoctorHost(t *testing.T, files map[string]string) Host {
	t.Helper()
	dir := t.TempDir()
	h := Host{
		ProcSys: filepath.Join(dir, "proc/sys"), SubUID: filepath.Join(dir, "etc/subuid"), SubGID: filepath.Join(dir, "etc/subgid"),
		DockerConfig: filepath.Join(dir, "etc/docker/daemon.json"), ContainerdConfig: filepath.Join(dir, "etc/containerd/config.toml"),
		Self: "/usr/bin/hardened", Registry: filepath.Join(dir, "run/hardened/idmap"),
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

func TestDoctorChecks(t *testing.T) {
	t.Parallel()
	pol := hardening.DefaultPolicy()
	tests := []struct {
		name   string
		files  map[string]string
		check  func(Host) []Check
		status []string // one per check returned
		fix    string   // substring of a fix
	}{
		{"userns on", map[string]string{"proc/sys/user/max_user_namespaces": "1000\n"},
			func(h Host) []Check { return []Check{checkUserns(h, pol)} }, []string{OK}, ""},
		{"userns off in the kernel", map[string]string{"proc/sys/user/max_user_namespaces": "0\n"},
			func(h Host) []Check { return []Check{checkUserns(h, pol)} }, []string{Fail}, "sysctl -w user.max_user_namespaces"},
		{"docker registered", map[string]string{"etc/docker/daemon.json": `{"runtimes": {"hardened": {"path": "/usr/bin/hardened"}}, "default-runtime": "hardened"}`},
			func(h Host) []Check { return []Check{checkDockerRegistration(h)} }, []string{OK}, ""},
		{"docker not registered", map[string]string{"etc/docker/daemon.json": `{"runtimes": {"other": {"path": "/usr/bin/other"}}}`},
			func(h Host) []Check { return []Check{checkDockerRegistration(h)} }, []string{Fail}, "hardened install docker"},
		{"docker config broken", map[string]string{"etc/docker/daemon.json": `{"runtimes": `},
			func(h Host) []Check { return []Check{checkDockerRegistration(h)} }, []string{Fail}, "repair"},
		{"containerd registered", map[string]string{"etc/containerd/config.toml": "version = 2\n[x]\n  BinaryName = \"/usr/bin/hardened\"\n"},
			func(h Host) []Check { return []Check{checkContainerdRegistration(h)} }, []string{OK}, ""},
		{"containerd not registered", map[string]string{"etc/containerd/config.toml": "version = 2\n"},
			func(h Host) []Check { return []Check{checkContainerdRegistration(h)} }, []string{Warn}, "hardened install containerd"},
		{"pool from hardened's entries, others apart", map[string]string{
			"etc/subuid": "hardened:300000:131072\nkubelet:100000:65536\n", "etc/subgid": "hardened:300000:131072\nkubelet:100000:65536\n"},
			func(h Host) []Check { return checkPool(h, pol) }, []string{OK}, ""},
		{"builtin pool overlaps dockremap", map[string]string{
			"etc/subuid": "dockremap:1879048192:65536\n", "etc/subgid": "dockremap:1879048192:65536\n"},
			func(h Host) []Check { return checkPool(h, pol) }, []string{OK, Fail}, "give user hardened its own entries"},
		{"hardened's pool overlaps podman's", map[string]string{
			"etc/subuid": "hardened:300000:131072\nalice:365536:65536\n", "etc/subgid": "hardened:300000:131072\nalice:365536:65536\n"},
			func(h Host) []Check { return checkPool(h, pol) }, []string{OK, Fail}, "outside 365536-431071"},
		{"uids and gids disagree", map[string]string{"etc/subuid": "hardened:300000:65536\n", "etc/subgid": "hardened:500000:65536\n"},
			func(h Host) []Check { return checkPool(h, pol) }, []string{Fail}, "same ranges"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.check(fakeDoctorHost(t, tt.files))
			if len(got) != len(tt.status) {
				t.Fatalf("checks %+v, want statuses %v", got, tt.status)
			}
			var fixes []string
			for i, c := range got {
				if c.Status != tt.status[i] {
					t.Errorf("check %d %+v: status %s, want %s", i, c, c.Status, tt.status[i])
				}
				if c.Status == Fail && c.Fix == "" {
					t.Errorf("failed check %+v has no fix", c)
				}
				fixes = append(fixes, c.Fix)
			}
			if tt.fix != "" && !strings.Contains(strings.Join(fixes, "|"), tt.fix) {
				t.Errorf("fixes %q lack %q", fixes, tt.fix)
			}
		})
	}
	if c := checkPolicy(nil, "/etc/hardened/policy.json", errors.New("bad key")); c.Status != Fail || c.Fix == "" {
		t.Errorf("invalid policy: %+v", c)
	}
}
