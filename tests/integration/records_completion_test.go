package integration

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// completionScript is packaging/completion/hardened.bash in this tree,
// found from the working directory (the test binary may run far from
// where it was built: in the test-vm guest, the checkout is a 9p share).
func completionScript(t *testing.T) string {
	t.Helper()
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "packaging", "completion", "hardened.bash")
}

// complete runs the completion function for words (the last one being
// completed) and returns the candidates, one a line.
func complete(t *testing.T, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	script := "source " + completionScript(t) + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" + strconv.Itoa(len(words)-1) + `; _hardened; printf '%s\n' "${COMPREPLY[@]}"`
	out, err := exec.Command("bash", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("completion of %q: %v: %s", words, err, out)
	}
	return strings.Fields(string(out))
}

// TestBashCompletion: container IDs after commands that take one (of the
// --root given), flags of a command, subcommands; a new ID is not offered.
func TestBashCompletion(t *testing.T) {
	rt := testutil.NewRuntime(t)
	b := testutil.NewBundle(t, "sleep", "1000")
	id := rt.NewID()
	rt.MustRun("create", "--bundle", b.Dir, id)
	defer rt.Run("delete", "--force", id)
	bin := rt.Bin

	for _, sub := range []string{"kill", "delete", "state", "exec", "ps", "start"} {
		if got := complete(t, bin, "--root", rt.Root, sub, "ht-"); len(got) != 1 || got[0] != id {
			t.Errorf("%s ID completion: %q, want [%s]", sub, got, id)
		}
	}
	if got := complete(t, bin, "--root", rt.Root, "kill", id, ""); len(got) != 0 && got[0] == id {
		t.Errorf("the signal after the ID was completed with the ID: %q", got)
	}
	if got := complete(t, bin, "containers", "--f"); !contains(got, "--format") {
		t.Errorf("flag completion of containers: %q, want --format", got)
	}
	if got := complete(t, bin, "--root", rt.Root, "ps", "--f"); !contains(got, "--format") {
		t.Errorf("flag completion of ps: %q, want --format", got)
	}
	if got := complete(t, bin, "doc"); len(got) != 1 || got[0] != "doctor" {
		t.Errorf("subcommand completion: %q, want doctor", got)
	}
	if got := complete(t, bin, "--root", rt.Root, "create", "ht-"); contains(got, id) {
		t.Errorf("create offered an existing ID: %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
