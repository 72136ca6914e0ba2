package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WritePolicy writes a policy file (JSON text) in a temporary directory and
// returns the global flag that selects it. The "--policy=FILE" form keeps
// the runtime wrapper's argument parsing (which tracks created containers
// for the leak checks) pointed at the subcommand.
func WritePolicy(t testing.TB, policy string) (flag, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	return "--policy=" + path, path
}

// PolicyFlags returns the global flags that select policy (JSON text,
// written as WritePolicy does), or none for "": the runtime's default.
func PolicyFlags(t testing.TB, policy string) []string {
	t.Helper()
	if policy == "" {
		return nil
	}
	flag, _ := WritePolicy(t, policy)
	return []string{flag}
}

// RunIn runs the bundle in the foreground under a fresh ID (extra global
// flags first, e.g. a policy) and returns the container's stdout; it fails
// the test unless the container exits 0.
func (rt *Runtime) RunIn(t testing.TB, b *Bundle, global ...string) string {
	t.Helper()
	args := append(append([]string{}, global...), "run", "--bundle", b.Dir, rt.NewID())
	out, errOut, exit := rt.Run(args...)
	if exit != 0 {
		t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, exit, out, errOut)
	}
	return out
}

// ExpectRefused runs `create` for the bundle (extra global flags first)
// and checks the refusal as containerd's shim and a user see it: a
// non-zero exit; stderr and the last log line (level error) both holding
// every string of want; no container (state says it does not exist, no
// state directory); config.json byte for byte as before and no
// config.json.orig. It returns the log message.
func (rt *Runtime) ExpectRefused(t testing.TB, b *Bundle, global []string, want ...string) string {
	t.Helper()
	before, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	id := rt.NewID()
	args := append(append([]string{}, global...), "create", "--bundle", b.Dir, id)
	nLog := len(rt.LogEntries())
	out, errOut, exit := rt.Run(args...)
	if exit == 0 {
		t.Errorf("create %s: exit 0, want a refusal (stdout %q)", id, out)
	}
	es := rt.LogEntries()
	var msg string
	if len(es) <= nLog {
		t.Errorf("create %s: exit %d but no new line in the log", id, exit)
	} else {
		last := es[len(es)-1]
		msg = last.Msg
		if last.Level != "error" {
			t.Errorf("create %s: last log line has level %q, want error: %+v", id, last.Level, last)
		}
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("create %s: last log line lacks %q:\n%s", id, w, msg)
		}
		if !strings.Contains(errOut, w) {
			t.Errorf("create %s: stderr lacks %q:\n%s", id, w, errOut)
		}
	}
	if strings.Count(strings.TrimSpace(msg), "\n") > 0 {
		t.Errorf("create %s: log message spans several lines: %q", id, msg)
	}
	if _, stErr, code := rt.Run("state", id); code == 0 || !strings.Contains(stErr, "does not exist") {
		t.Errorf("state %s after a refused create: exit %d, stderr %q; want a failure saying it does not exist", id, code, stErr)
	}
	if _, err := os.Stat(filepath.Join(rt.Root, id)); !os.IsNotExist(err) {
		t.Errorf("refused create left state directory %s (stat: %v)", filepath.Join(rt.Root, id), err)
	}
	after, err := os.ReadFile(b.ConfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("refused create changed config.json:\nbefore %s\nafter %s", before, after)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, "config.json.orig")); !os.IsNotExist(err) {
		t.Errorf("refused create wrote config.json.orig (stat: %v)", err)
	}
	return msg
}
