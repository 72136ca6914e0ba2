package runtimeconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestReplaceKeepsModeOwnerAndBacksUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	if err := os.WriteFile(target, []byte(`{"a": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o640); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		uid, gid = 65534, 65534
		if err := os.Chown(target, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "daemon.json")
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(link)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != target || !f.Exists || f.Mode != 0o640 || string(f.Data) != `{"a": 1}` {
		t.Fatalf("read %+v", f)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	backup, err := f.Replace([]byte(`{"a": 2}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if backup != target+".bak-20260102T030405Z" {
		t.Errorf("backup %s", backup)
	}
	for path, want := range map[string]string{target: `{"a": 2}`, backup: `{"a": 1}`} {
		data, err := os.ReadFile(path)
		if err != nil || string(data) != want {
			t.Errorf("%s: %q, %v; want %q", path, data, err, want)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if info.Mode().Perm() != 0o640 || int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s: mode %v owner %d:%d; want 0640 %d:%d", path, info.Mode(), st.Uid, st.Gid, uid, gid)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
}

func TestReplaceCreatesMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "docker", "daemon.json")
	f, err := ReadFile(path)
	if err != nil || f.Exists || f.Mode != 0o644 {
		t.Fatalf("%+v %v", f, err)
	}
	backup, err := f.Replace([]byte("{}\n"), time.Now())
	if err != nil || backup != "" {
		t.Fatalf("backup %q, %v", backup, err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("%v %v", info, err)
	}
}

func TestBackupNeverOverwrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "daemon.json")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, content := range []string{"1", "2", "3"} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		backup, err := f.Replace([]byte("new"), now)
		if err != nil {
			t.Fatal(err)
		}
		want := path + ".bak-20260102T030405Z"
		if i > 0 {
			want += fmt.Sprintf(".%d", i)
		}
		if data, _ := os.ReadFile(backup); backup != want || string(data) != content {
			t.Errorf("edit %d: backup %s holds %q; want %s holding %q", i, backup, data, want, content)
		}
	}
}
