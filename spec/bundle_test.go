package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const minimalConfig = `{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}`

// newBundleDir makes a bundle directory with a rootfs and the given config.
func newBundleDir(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadBundle(t *testing.T) {
	t.Parallel()
	b, err := LoadBundle(newBundleDir(t, minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(b.Dir) || b.RootfsPath() != filepath.Join(b.Dir, "rootfs") {
		t.Errorf("dir %q rootfs %q: want absolute paths", b.Dir, b.RootfsPath())
	}
	if string(b.Raw) != minimalConfig {
		t.Errorf("Raw = %q, want the caller's bytes", b.Raw)
	}
	if len(b.Warnings) != 0 {
		t.Errorf("unexpected warnings %v", b.Warnings)
	}
}

func TestLoadBundleUnknownFieldWarns(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(minimalConfig, `"ociVersion"`, `"futureField":1,"ociVersion"`, 1)
	b, err := LoadBundle(newBundleDir(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "futureField") {
		t.Errorf("warnings = %v, want one naming futureField", b.Warnings)
	}
}

func TestLoadBundleInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		setup  func(t *testing.T) string
		errSub string
	}{
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, "no such file"},
		{"not a dir", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			_ = os.WriteFile(f, nil, 0o600)
			return f
		}, "not a directory"},
		{"no config", func(t *testing.T) string { return t.TempDir() }, "config.json: no such file"},
		{"malformed json", func(t *testing.T) string { return newBundleDir(t, `{"process":`) }, "malformed JSON"},
		{"trailing data", func(t *testing.T) string { return newBundleDir(t, minimalConfig+`{}`) }, "trailing data"},
		{"no root", func(t *testing.T) string {
			return newBundleDir(t, `{"process":{"args":["sh"],"cwd":"/"}}`)
		}, "root.path must be set"},
		{"no process", func(t *testing.T) string { return newBundleDir(t, `{"root":{"path":"rootfs"}}`) }, "process must be set"},
		{"empty args", func(t *testing.T) string {
			return newBundleDir(t, `{"process":{"cwd":"/"},"root":{"path":"rootfs"}}`)
		}, "process.args must not be empty"},
		{"relative cwd", func(t *testing.T) string {
			return newBundleDir(t, `{"process":{"args":["sh"],"cwd":"tmp"},"root":{"path":"rootfs"}}`)
		}, "must be an absolute path"},
		{"missing rootfs", func(t *testing.T) string {
			return newBundleDir(t, strings.Replace(minimalConfig, `"rootfs"`, `"gone"`, 1))
		}, "rootfs: "},
		{"symlinked config", func(t *testing.T) string {
			dir := newBundleDir(t, minimalConfig)
			real := filepath.Join(t.TempDir(), "real.json")
			_ = os.Rename(filepath.Join(dir, ConfigName), real)
			_ = os.Symlink(real, filepath.Join(dir, ConfigName))
			return dir
		}, "is a symlink"},
		{"symlinked rootfs", func(t *testing.T) string {
			dir := newBundleDir(t, minimalConfig)
			_ = os.Remove(filepath.Join(dir, "rootfs"))
			_ = os.Symlink("/", filepath.Join(dir, "rootfs"))
			return dir
		}, "is a symlink"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := tc.setup(t)
			_, err := LoadBundle(dir)
			if err == nil {
				t.Fatal("LoadBundle succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalidBundle) {
				t.Errorf("error %q is not ErrInvalidBundle", err)
			}
			if !strings.Contains(err.Error(), tc.errSub) {
				t.Errorf("error %q does not contain %q", err, tc.errSub)
			}
			if !strings.Contains(err.Error(), filepath.Base(dir)) {
				t.Errorf("error %q does not name the bundle", err)
			}
		})
	}
}

func TestSaveRewrittenKeepsOriginal(t *testing.T) {
	t.Parallel()
	dir := newBundleDir(t, minimalConfig)
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Spec.Root.Readonly = true
	if err := b.SaveRewritten(b.Spec); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(filepath.Join(dir, OriginalConfigName))
	if err != nil {
		t.Fatal(err)
	}
	if string(orig) != minimalConfig {
		t.Errorf("config.json.orig = %q, want the caller's bytes", orig)
	}
	var got specs.Spec
	raw, _ := os.ReadFile(filepath.Join(dir, ConfigName))
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Root.Readonly {
		t.Error("config.json does not hold the rewritten spec")
	}
	fi, _ := os.Stat(filepath.Join(dir, ConfigName))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode %v, want the caller's 0600", fi.Mode().Perm())
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".config.json*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestWriteFileAtomicReplaces(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	for _, content := range []string{"one", "two"} {
		if err := WriteFileAtomic(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(path)
		if string(got) != content {
			t.Errorf("content %q, want %q", got, content)
		}
	}
	if err := WriteFileAtomic(filepath.Join(t.TempDir(), "no", "dir"), nil, 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id string
		ok bool
	}{
		{"abc", true},
		{"3f2a91c0e1", true},
		{"a_b.c-d+e", true},
		{"", false},
		{".", false},
		{"..", false},
		{"../etc", false},
		{"a/b", false},
		{"-x", false},
		{".hidden", false},
		{"a b", false},
		{strings.Repeat("a", maxIDLength+1), false},
	}
	for _, tc := range tests {
		err := ValidateID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) error is not ErrInvalidID", tc.id)
		}
	}
}

func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte(minimalConfig))
	f.Add([]byte(`{"process":{"args":[]}}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"linux":{"seccomp":{}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, _, err := DecodeConfig(raw)
		if err != nil {
			return
		}
		if s == nil {
			t.Fatal("nil spec without an error")
		}
		_ = Validate(s)
	})
}

// validID is the hand-written form of ^[A-Za-z0-9][A-Za-z0-9_+.-]*$.
func FuzzValidIDMatchesPattern(f *testing.F) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_+.-]*$`)
	for _, s := range []string{"", "a", "-a", "a-", "a b", "é", "A_+.-9", ".x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := validID(id), pattern.MatchString(id); got != want {
			t.Errorf("validID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}
