package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSaveRewrittenInTheLoadedDirectory: the bundle directory moved away
// and its path made a symlink to another directory after the load, the
// rewrite lands in the directory that was loaded, and nothing in the
// other one.
func TestSaveRewrittenInTheLoadedDirectory(t *testing.T) {
	t.Parallel()
	dir := newBundleDir(t, minimalConfig)
	b, err := LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	moved := dir + ".moved"
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(moved) })
	other := t.TempDir()
	if err := os.Symlink(other, dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	b.Spec.Root.Readonly = true
	if err := b.SaveRewritten(b.Spec); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{ConfigName, OriginalConfigName} {
		if _, err := os.Stat(filepath.Join(moved, name)); err != nil {
			t.Errorf("%s not in the loaded directory: %v", name, err)
		}
	}
	if ents, _ := os.ReadDir(other); len(ents) != 0 {
		t.Errorf("the rewrite wrote into the directory the path was pointed at: %v", ents)
	}
}
