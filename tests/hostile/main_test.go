// Package hostile is the hostile-bundle suite: config.json written by an
// attacker (an image's or pod's author, a CDI/NRI plugin, anyone who can
// reach the engine), tried against the default policy. Each case asserts
// the refusal (the message names the rule and the key), or, for a
// rewrite, what the running container can and cannot do, checked from
// inside. Every case ends with the runtime's leak check (mounts, state,
// cgroups, processes, ID ranges). Races run in loops. It needs root.
//
//	HARDENED_BIN=/path/to/hardened go test ./tests/hostile -count=1 -v
//
// Without HARDENED_BIN the runtime is built from this module first. The
// threat model the cases come from is docs/threat-model.md.
package hostile

import (
	"os"
	"testing"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Main(m, nil))
}
