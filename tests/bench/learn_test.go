package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hardened-runtime/hardened/tests/testutil"
)

// BenchmarkLearn measures what learned profiles (policy key "learn", #18)
// cost: create-start-wait-delete of a busybox container under the
// default policy, under mode learn (every allowed call notified to the
// recorder) and under mode enforce (the learned profile; only unlearned
// calls notified), interleaved. "true" is the start-up cost; "loop" runs
// 300 forked cat commands, a proxy of a request loop's system calls.
// The enforce variant's profile is learned before the timed rounds.
func BenchmarkLearn(b *testing.B) {
	testutil.RequireRoot(b)
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		b.Skip("GNU time measures peak memory: apt-get install time")
	}
	bin := testutil.Binary(b)
	for _, w := range []struct {
		name string
		args []string
	}{
		{"true", []string{"/bin/true"}},
		{"loop", []string{"sh", "-c", "i=0; while [ $i -lt 300 ]; do cat /etc/passwd >/dev/null; i=$((i+1)); done"}},
	} {
		b.Run(w.name, func(b *testing.B) {
			dir := b.TempDir()
			profiles := filepath.Join(dir, "profiles")
			policy := func(name, body string) string {
				p := filepath.Join(dir, name+".json")
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					b.Fatal(err)
				}
				return p
			}
			def := policy("default", `{}`)
			learnP := policy("learn", `{"learn": [{"match": {}, "mode": "learn", "key": "bench"}]}`)
			enforceP := policy("enforce", `{"learn": [{"match": {}, "mode": "enforce", "key": "bench"}]}`)
			auditLog := filepath.Join(dir, "audit.log")
			env := func(p string) []string {
				return []string{"HARDENED_POLICY=" + p, "HARDENED_PROFILES_DIR=" + profiles, "HARDENED_AUDIT_LOG=" + auditLog}
			}
			b.Cleanup(func() {
				if b.Failed() {
					data, _ := os.ReadFile(auditLog)
					for _, line := range strings.Split(string(data), "\n") {
						if strings.Contains(line, "syscall-denied") {
							b.Log(line)
						}
					}
				}
			})
			variants := []runtimeUnderTest{
				{name: "hardened-default", bin: bin, env: env(def)},
				{name: "hardened-learn", bin: bin, env: env(learnP)},
				{name: "hardened-enforce", bin: bin, env: env(enforceP)},
			}
			bundle := testutil.NewBundle(b, w.args...)
			// Learn once before timing, so that enforce has its profile.
			pre := variants[1]
			pre.root = tempRoot(b)
			if _, err := cycle(pre, copyBundle(b, bundle.Dir, nil), "bench-prelearn"); err != nil {
				b.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(filepath.Join(profiles, "bench.json")); err == nil {
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("no learned profile 10 s after the learning run")
				}
				time.Sleep(20 * time.Millisecond)
			}
			fmt.Printf("%s: learned profile ready\n", b.Name())
			runCycles(b, variants, bundle.Dir)
		})
	}
}
