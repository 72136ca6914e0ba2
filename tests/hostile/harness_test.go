package hostile

import (
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// attack is one hostile config.json: tweak makes the bundle hostile (it
// may prepare host files in t's temporary directories), want are the
// fragments the refusal must hold (at least the rule and the policy key
// or the field it names).
type attack struct {
	name  string
	tweak func(t *testing.T, b *testutil.Bundle, s *specs.Spec)
	want  []string
}

// expectAllRefused runs every attack as its own subtest: create is refused
// with a message holding every fragment of want, and nothing is left
// behind (testutil.Runtime's cleanup checks the host).
func expectAllRefused(t *testing.T, attacks []attack, global ...string) {
	t.Helper()
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			rt := testutil.NewRuntime(t)
			b := testutil.NewBundle(t, "true")
			b.Edit(t, func(s *specs.Spec) { a.tweak(t, b, s) })
			msg := rt.ExpectRefused(t, b, global, a.want...)
			if !strings.Contains(msg, "(rule ") {
				t.Errorf("refusal does not name its rule: %s", msg)
			}
		})
	}
}

// runInside runs the bundle in the foreground with sh -c script and
// returns the container's stdout and exit status.
func runInside(t *testing.T, rt *testutil.Runtime, b *testutil.Bundle, script string, global ...string) (string, int) {
	t.Helper()
	b.SetArgs(t, "sh", "-c", script)
	args := append(append([]string{}, global...), "run", "--bundle", b.Dir, rt.NewID())
	out, errOut, exit := rt.Run(args...)
	if exit != 0 && errOut != "" {
		t.Logf("%v: exit %d, stderr: %s", args, exit, errOut)
	}
	return out, exit
}
