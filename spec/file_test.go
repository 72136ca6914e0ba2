package spec

import (
	"bytes"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadRegularFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(t *testing.T, path string)
		limit  int64
		errSub string // "" means it must read "hello"
	}{
		{"regular", func(t *testing.T, p string) { write(t, p, "hello") }, 0, ""},
		{"exactly the limit", func(t *testing.T, p string) { write(t, p, "hello") }, 5, ""},
		{"one byte over", func(t *testing.T, p string) { write(t, p, "hello!") }, 5, `6 bytes, more than the 5 allowed (policy key "maxConfigSize")`},
		{"over the default cap", func(t *testing.T, p string) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(DefaultMaxConfigSize + 1); err != nil {
				t.Fatal(err)
			}
		}, 0, "more than the 4194304 allowed"},
		{"fifo", func(t *testing.T, p string) {
			if err := unix.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		}, 0, "is a FIFO, not a regular file"},
		{"socket", func(t *testing.T, p string) {
			l, err := net.Listen("unix", p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, 0, "is not a regular file"},
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, 0, "is a directory"},
		{"symlink to a regular file", func(t *testing.T, p string) {
			target := filepath.Join(filepath.Dir(p), "target")
			write(t, target, "hello")
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, 0, "is a symlink, which is not allowed"},
		{"symlink to /etc/passwd", func(t *testing.T, p string) {
			if err := os.Symlink("/etc/passwd", p); err != nil {
				t.Fatal(err)
			}
		}, 0, "is a symlink"},
		{"missing", func(*testing.T, string) {}, 0, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "config.json")
			tc.setup(t, p)
			done := make(chan struct{})
			var data []byte
			var err error
			go func() {
				data, err = ReadRegularFile(p, tc.limit)
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("ReadRegularFile blocked")
			}
			if tc.errSub == "" {
				if err != nil || string(data) != "hello" {
					t.Fatalf("got %q, %v; want hello", data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errSub) {
				t.Fatalf("error %v, want one containing %q", err, tc.errSub)
			}
		})
	}
}

func TestReadRegularFileDeviceNodeNotOpened(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	// A character device: opening it for reading could have side effects
	// (a tape rewinds, a watchdog arms); it must be refused unopened.
	p := filepath.Join(t.TempDir(), "config.json")
	if err := unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))); err != nil {
		t.Skip(err)
	}
	_, err := ReadRegularFile(p, 0)
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Fatalf("error %v, want a refusal", err)
	}
}

func TestReadLimited(t *testing.T) {
	t.Parallel()
	if got, err := ReadLimited(strings.NewReader("{}"), "standard input", 2); err != nil || string(got) != "{}" {
		t.Errorf("got %q, %v", got, err)
	}
	_, err := ReadLimited(bytes.NewReader(make([]byte, 3)), "standard input", 2)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "standard input is more than the 2 bytes allowed") {
		t.Errorf("error %v", err)
	}
}

func TestLoadBundleLimit(t *testing.T) {
	t.Parallel()
	dir := newBundleDir(t, minimalConfig)
	if _, err := LoadBundleLimit(dir, int64(len(minimalConfig))); err != nil {
		t.Fatal(err)
	}
	_, err := LoadBundleLimit(dir, int64(len(minimalConfig))-1)
	if !errors.Is(err, ErrInvalidBundle) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrInvalidBundle and ErrTooLarge", err)
	}
}

func write(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
