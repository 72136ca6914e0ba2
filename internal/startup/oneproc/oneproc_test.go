//go:build linux && amd64 && cgo

package oneproc

import (
	"debug/elf"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const reportEnv = "ONEPROC_TEST_REPORT"

// The test binary links this package, so it enters through
// hardenedentry too: run it again with a chosen environment and let it
// report what it got (the last argument shows argv survived the copy).
func TestMain(m *testing.M) {
	if os.Getenv(reportEnv) != "" {
		v, set := os.LookupEnv("GOMAXPROCS")
		// Touches what the copied auxiliary vector feeds the runtime:
		// the vDSO clock and the page size.
		if time.Now().IsZero() || os.Getpagesize() <= 0 {
			os.Exit(3)
		}
		os.Stdout.WriteString(strings.Join([]string{
			strconv.Itoa(runtime.GOMAXPROCS(0)), strconv.FormatBool(set), v, strconv.FormatBool(Added()), os.Args[len(os.Args)-1],
		}, " "))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestGOMAXPROCS(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs 2 CPUs to tell 1 from the default")
	}
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"unset: one P, variable gone", nil, "1 false  true last-arg"},
		{"empty: one P, variable gone", []string{"GOMAXPROCS="}, "1 false  true last-arg"},
		{"operator's value kept", []string{"GOMAXPROCS=2"}, "2 true 2 false last-arg"},
		// The runtime's own default then: any number of Ps.
		{"huge environment left alone", manyVars(10000), "* false  false last-arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$", "last-arg")
			cmd.Env = append(withoutGOMAXPROCS(os.Environ()), append(tc.env, reportEnv+"=1")...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			got := string(out)
			if procs, rest, _ := strings.Cut(tc.want, " "); procs == "*" {
				_, gotRest, _ := strings.Cut(got, " ")
				got, tc.want = "* "+gotRest, "* "+rest
			}
			if got != tc.want {
				t.Errorf("child reported %q, want %q", got, tc.want)
			}
		})
	}
}

func manyVars(n int) []string {
	vars := make([]string, n)
	for i := range vars {
		vars[i] = "ONEPROC_FILL_" + strconv.Itoa(i) + "=x"
	}
	return vars
}

func withoutGOMAXPROCS(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") {
			out = append(out, kv)
		}
	}
	return out
}

// Linking with our own entry point must not cost the -no-pie Go asks for:
// a PIE of Go's code carries text relocations.
func TestLinkedAsPlainExecutable(t *testing.T) {
	f, err := elf.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		t.Errorf("test binary is %v, want ET_EXEC", f.Type)
	}
	if uint64(entryAddress()) != f.Entry {
		t.Errorf("entry %#x, want hardenedentry at %#x", f.Entry, entryAddress())
	}
	if tags, _ := f.DynValue(elf.DT_TEXTREL); len(tags) > 0 {
		t.Error("test binary has text relocations")
	}
}
