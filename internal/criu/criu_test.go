package criu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

func TestEmptyNamespaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		names []string
		err   string
	}{
		{names: nil},
		{names: []string{"network"}},
		{names: []string{"network", "network"}},
		{names: []string{"ipc"}, err: `--empty-ns: namespace "ipc" is not supported`},
		{names: []string{"network", "net"}, err: `namespace "net" is not supported`},
	}
	for _, tc := range tests {
		mask, err := EmptyNamespaces(tc.names)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error = %v, want %q", tc.names, err, tc.err)
			}
			continue
		}
		// The network namespace is always left to whoever set it up.
		if err != nil || mask != unix.CLONE_NEWNET {
			t.Errorf("%q: mask %#x, err %v; want CLONE_NEWNET only", tc.names, mask, err)
		}
	}
}

func TestPageServer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want libcontainer.CriuPageServerInfo
		err  string
	}{
		{in: ""},
		{in: "10.0.0.2:2700", want: libcontainer.CriuPageServerInfo{Address: "10.0.0.2", Port: 2700}},
		{in: "[fd00::1]:27", want: libcontainer.CriuPageServerInfo{Address: "fd00::1", Port: 27}},
		{in: "10.0.0.2", err: "want ADDRESS:PORT"},
		{in: ":2700", err: "missing address"},
		{in: "host:0", err: `invalid port "0"`},
		{in: "host:99999", err: `invalid port "99999"`},
		{in: "host:http", err: `invalid port "http"`},
	}
	for _, tc := range tests {
		got, err := PageServer(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--page-server") {
				t.Errorf("%q: error = %v, want one naming --page-server with %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParentImage(t *testing.T) {
	t.Parallel()
	images := t.TempDir()
	if err := os.Mkdir(filepath.Join(images, "pre1"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(images, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ parent, want, err string }{
		{parent: "", want: ""},
		{parent: "pre1", want: "pre1"},
		{parent: "../" + filepath.Base(images) + "/pre1", want: "../" + filepath.Base(images) + "/pre1"},
		{parent: "/abs/pre1", err: "must be relative to --image-path"},
		{parent: "missing", err: "no such file or directory"},
		{parent: "file", err: "not a directory"},
	}
	for _, tc := range tests {
		got, err := ParentImage(images, tc.parent)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error = %v, want %q", tc.parent, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.parent, got, err, tc.want)
		}
	}
}

func TestEnsureCriu(t *testing.T) {
	// Not parallel: Ensure may put --criu's directory into PATH.
	dir := t.TempDir()
	fake := filepath.Join(dir, "criu")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "criu-3.19")
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "/nonexistent")

	err := Ensure("", "checkpoint")
	want := `checkpoint needs criu, which was not found at "criu"; install the criu package`
	if err == nil || err.Error() != want {
		t.Errorf("no criu in PATH: error = %v, want %q", err, want)
	}
	err = Ensure("/opt/none/criu", "restore")
	want = `restore needs criu, which was not found at "/opt/none/criu"; install the criu package`
	if err == nil || err.Error() != want {
		t.Errorf("missing --criu: error = %v, want %q", err, want)
	}
	if err := Ensure(other, "checkpoint"); err == nil || !strings.Contains(err.Error(), `must be named "criu"`) {
		t.Errorf("--criu not named criu: error = %v", err)
	}
	if err := Ensure(fake, "checkpoint"); err != nil {
		t.Fatalf("--criu %s: %v", fake, err)
	}
	if p := os.Getenv("PATH"); !strings.HasPrefix(p, dir+string(os.PathListSeparator)) {
		t.Errorf("PATH = %q, want %s first so libcontainer runs that criu", p, dir)
	}
	// Once it is the criu PATH finds, nothing more is added.
	before := os.Getenv("PATH")
	if err := Ensure(fake, "checkpoint"); err != nil || os.Getenv("PATH") != before {
		t.Errorf("second call: err %v, PATH %q (was %q)", err, os.Getenv("PATH"), before)
	}
}
