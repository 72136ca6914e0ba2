package idmap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Holds answers what Lookup answers about whether an entry is there,
// from the entry file's presence or the previous format's file.
func TestHolds(t *testing.T) {
	t.Parallel()
	a := newTestAllocator(t, 2)
	holds := func(id string) bool {
		t.Helper()
		got, err := a.Holds(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, want, _ := a.Lookup(id); got != want {
			t.Errorf("Holds(%s) = %v, Lookup says %v", id, got, want)
		}
		return got
	}
	if holds("x") {
		t.Error("an empty registry holds x")
	}
	if _, err := a.Allocate("x", nil); err != nil {
		t.Fatal(err)
	}
	if !holds("x") || holds("y") {
		t.Error("after allocating x: want x held, y not")
	}
	if err := a.Release("x"); err != nil {
		t.Fatal(err)
	}
	if holds("x") {
		t.Error("x held after its release")
	}
	data, _ := json.Marshal(state{Version: 1, Ranges: map[string]Entry{"old": {Range: testPool(2)[0]}}})
	if err := os.WriteFile(filepath.Join(a.Dir, StateName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if !holds("old") || holds("x") {
		t.Error("with a registry file of the previous format naming old: want old held, x not")
	}
}
