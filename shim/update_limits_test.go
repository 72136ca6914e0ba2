package shim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/spec"
)

func TestReadResourcesFromLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := readResourcesFrom(fifo, nil, 0); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a FIFO") {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("--resources FIFO blocked")
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, []byte(`{"pids":{"limit":10}}`+strings.Repeat(" ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readResourcesFrom(big, nil, 64); !errors.Is(err, spec.ErrTooLarge) {
		t.Errorf("large file: %v", err)
	}
	if _, err := readResourcesFrom("-", strings.NewReader(`{"pids":{"limit":10}}`+strings.Repeat(" ", 100)), 64); !errors.Is(err, spec.ErrTooLarge) {
		t.Errorf("large stdin: %v", err)
	}
	res, err := readResourcesFrom("-", strings.NewReader(`{"pids":{"limit":10}}`), 64)
	if err != nil || res.Pids == nil || *res.Pids.Limit != 10 {
		t.Errorf("small stdin: %+v %v", res, err)
	}
}

func TestClampUpdateMessages(t *testing.T) {
	t.Parallel()
	res := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: new(int64(100000))}}
	if err := clampUpdate("c1", res, hardening.DefaultPolicy(), "/etc/hardened/policy.json"); err != nil || *res.Pids.Limit != 4096 {
		t.Fatalf("pids %d, %v", *res.Pids.Limit, err)
	}
	res = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}}
	err := clampUpdate("c1", res, hardening.DefaultPolicy(), "/etc/hardened/policy.json")
	for _, want := range []string{"container c1: update: refused by policy", "rule host-devices", `"allowDevices": ["a *:*"]`, "set these keys in /etc/hardened/policy.json"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
