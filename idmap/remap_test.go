package idmap

import (
	"errors"
	"slices"
	"testing"
)

func TestSubtract(t *testing.T) {
	t.Parallel()
	r := func(start, size uint32) Range { return Range{Start: start, Size: size} }
	tests := []struct {
		name      string
		pool, cut []Range
		want      []Range
	}{
		{"nothing cut", []Range{r(100, 100)}, nil, []Range{r(100, 100)}},
		{"disjoint", []Range{r(100, 100)}, []Range{r(300, 10), r(0, 100)}, []Range{r(100, 100)}},
		{"middle", []Range{r(100, 100)}, []Range{r(150, 10)}, []Range{r(100, 50), r(160, 40)}},
		{"head and tail", []Range{r(100, 100)}, []Range{r(90, 20), r(190, 20)}, []Range{r(110, 80)}},
		{"whole", []Range{r(100, 100), r(300, 10)}, []Range{r(50, 200)}, []Range{r(300, 10)}},
		{"two cuts in one segment", []Range{r(0, 1000)}, []Range{r(100, 100), r(500, 100)}, []Range{r(0, 100), r(200, 300), r(600, 400)}},
		{"up to the highest ID", []Range{r(MaxID-99, 100)}, []Range{r(MaxID-9, 5)}, []Range{r(MaxID-99, 90), r(MaxID-4, 5)}},
	}
	for _, tc := range tests {
		if got := Subtract(tc.pool, tc.cut); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The containers of an engine that remaps them all to one range share
// it in the registry (EngineRangeKey); a container of its own range, or
// a caller's mapping over it, is refused.
func TestRegistryEngineRange(t *testing.T) {
	t.Parallel()
	a, root, other := newTestRegistry(t, 4)
	engine := []Range{{Start: 420_000_000, Size: DefaultRangeSize}}
	share := EngineRangeKey("dockremap")
	for _, id := range []string{"web", "db", "cache"} {
		if err := a.Reserve(Key(root, id), engine, share); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if err := a.Reserve(Key(other, "podman"), engine, ""); !errors.Is(err, ErrHeld) {
		t.Errorf("a caller's mapping over the engine's range: %v, want ErrHeld", err)
	}
	if err := a.Reserve(Key(other, "other-engine"), engine, EngineRangeKey("other")); !errors.Is(err, ErrHeld) {
		t.Errorf("another engine's user over the range: %v, want ErrHeld", err)
	}
	// Containers joining an engine container's namespace share too.
	if err := a.Reserve(Key(root, "sidecar"), engine, share); err != nil {
		t.Errorf("sidecar: %v", err)
	}
}
