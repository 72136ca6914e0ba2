package containers

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestStoreIDsAndFind(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []struct {
		id     string
		record bool
	}{{"abcdef01", true}, {"abcdef02", true}, {"bcd00000", true}, {"norecord", false}, {"bad id", true}} {
		dir := filepath.Join(root, d.id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if d.record {
			if err := os.WriteFile(filepath.Join(dir, "record.json"), []byte("{}"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := Store{Roots: []string{root}, RecordFile: "record.json"}
	ids := s.IDs(root)
	slices.Sort(ids)
	if want := []string{"abcdef01", "abcdef02", "bcd00000"}; !slices.Equal(ids, want) {
		t.Errorf("IDs = %v, want %v (no record, invalid ID: skipped)", ids, want)
	}
	for _, tc := range []struct {
		ref  string
		want int
	}{
		{"abcdef01", 1}, // whole ID
		{"abcd", 2},     // prefix of two: ambiguous
		{"bcd0", 1},     // unique prefix
		{"bcd", 0},      // prefix shorter than 4
		{"norecord", 0}, // not hardened's
	} {
		if got := s.Find(tc.ref); len(got) != tc.want {
			t.Errorf("Find(%q) = %v, want %d hits", tc.ref, got, tc.want)
		}
	}
}

func TestGrepAuditLog(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.log")
	files := map[string]string{
		path + ".2": `{"id":"abcdef01","n":1}` + "\n" + `{"id":"other","n":2}` + "\n",
		path + ".1": "not json\n" + `{"id":"abcdef01","n":3}` + "\n",
		path:        `{"id":"abc","n":4}` + "\n" + `{"id":"abcdef01","n":5}` + "\n",
	}
	for name, data := range files {
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	n, err := GrepAuditLog(&out, path, "abcd")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"abcdef01","n":1}` + "\n" + `{"id":"abcdef01","n":3}` + "\n" + `{"id":"abcdef01","n":5}` + "\n"
	if n != 3 || out.String() != want {
		t.Errorf("GrepAuditLog = %d lines:\n%s\nwant 3, oldest first:\n%s", n, out.String(), want)
	}
	if n, err := GrepAuditLog(&out, "", "abcd"); n != 0 || err != nil {
		t.Errorf("GrepAuditLog without a log = %d, %v; want 0, nil", n, err)
	}
}
