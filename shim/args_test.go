package shim

import (
	"io"
	"slices"
	"strings"
	"testing"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(BuildInfo{Version: "test"}, io.Discard, io.Discard)
	tests := []struct {
		in, want string
	}{
		{"hardened update ct --cpuset-cpus 1", "hardened update --cpuset-cpus 1 ct"},
		{"hardened --root /r update ct --memory=1G -r f", "hardened --root /r update --memory=1G --resources f ct"},
		{"hardened delete ct --force", "hardened delete --force ct"},
		{"hardened delete ct -f", "hardened delete --force ct"},
		{"hardened kill ct KILL --all", "hardened kill --all ct KILL"},
		{"hardened kill ct KILL -a", "hardened kill --all ct KILL"},
		// Every flag by its long name: v2 refuses two names of one flag.
		{"hardened exec -e A=1 --env B=2 -t ct sh -e", "hardened exec --env A=1 --env B=2 --tty ct sh -e"},
		{"hardened exec -u=1000 ct id", "hardened exec --user=1000 ct id"},
		// A bool flag takes no value: the ID after it stays an argument.
		{"hardened run --detach ct -b b", "hardened run --detach --bundle b ct"},
		{"hardened --debug --log /l state ct", "hardened --debug --log /l state ct"},
		// exec and ps: what follows the ID is the process's, not ours.
		{"hardened exec ct ls --tty", "hardened exec ct ls --tty"},
		{"hardened ps ct -o pid", "hardened ps ct -o pid"},
		// Not a flag of the command, or after "--": left in place.
		{"hardened kill ct -9", "hardened kill ct -9"},
		{"hardened delete ct -- --force", "hardened delete -- ct --force"},
		{"hardened create ct -h", "hardened create -h ct"},
		{"hardened install docker --name x", "hardened install docker --name x"},
		{"hardened", "hardened"},
		{"hardened --version", "hardened --version"},
		{"hardened nosuch ct --force", "hardened nosuch ct --force"},
	}
	for _, tt := range tests {
		got := strings.Join(reorderArgs(app, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestReorderArgsKeepsInput: the caller's slice is not changed.
func TestReorderArgsKeepsInput(t *testing.T) {
	app := newApp(BuildInfo{Version: "test"}, io.Discard, io.Discard)
	in := []string{"hardened", "delete", "ct", "--force"}
	orig := slices.Clone(in)
	reorderArgs(app, in)
	if !slices.Equal(in, orig) {
		t.Errorf("input changed: %q", in)
	}
}
