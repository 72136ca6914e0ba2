package spec

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Temporary files of writes that a kill interrupted are removed, those
// of a live writer (holding their lock) and the engine's files are not.
func TestRemoveInterruptedWrites(t *testing.T) {
	dir := t.TempDir()
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := write(".config.json.tmp-123")
	deadOrig := write(".config.json.orig.tmp-9")
	link := write("config.json.orig.tmp")
	live := write(".config.json.tmp-456")
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	keep := []string{live, write("config.json"), write(".other.tmp-1"), write("log.json")}
	if err := RemoveInterruptedWrites(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dead, deadOrig, link} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s not removed", filepath.Base(p))
		}
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed", filepath.Base(p))
		}
	}
}

// A rewrite killed after config.json.orig was linked but before
// config.json was replaced leaves both names on one file; the next save
// keeps that file as the original and leaves no temporary link.
func TestSaveRewrittenAfterInterruptedSave(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	raw := []byte(`{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`)
	if err := os.WriteFile(filepath.Join(dir, ConfigName), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, ConfigName), filepath.Join(dir, OriginalConfigName)); err != nil {
		t.Fatal(err)
	}
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.Hostname = "rewritten"
	if err := b.SaveRewritten(b.Spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, OriginalConfigName+".tmp")); err == nil {
		t.Error("config.json.orig.tmp left")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, OriginalConfigName)); string(got) != string(raw) {
		t.Errorf("config.json.orig = %s", got)
	}
}
