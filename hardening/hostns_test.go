package hardening

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestHostNamespaceJoinByOtherPath joins the host's network namespace
// through paths the pattern rule cannot see: another host process's
// /proc/<pid>/ns/net and a symlink to it. The facts must catch both.
func TestHostNamespaceJoinByOtherPath(t *testing.T) {
	t.Parallel()
	if _, err := os.Readlink("/proc/self/ns/net"); err != nil {
		t.Skip("no /proc/self/ns/net:", err)
	}
	link := filepath.Join(t.TempDir(), "netns")
	if err := os.Symlink("/proc/self/ns/net", link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fmt.Sprintf("/proc/%d/ns/net", os.Getpid()), link} {
		t.Run(path, func(t *testing.T) {
			s := exampleSpec()
			for i, ns := range s.Linux.Namespaces {
				if ns.Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = path
				}
			}
			facts := HostFacts{HostNamespaces: hostNamespaceJoins(s, OpenNamespaceFiles(s))}
			if !facts.HostNamespaces[path] {
				t.Fatalf("facts do not mark %s as the host's namespace", path)
			}
			rep := &Report{}
			RefuseHostNamespaces(s, DefaultPolicy(), facts, rep)
			if len(rep.Refusals) != 1 || rep.Refusals[0].Rule != RuleHostNamespaces ||
				!strings.Contains(rep.Refusals[0].Reason, "joins the host network namespace at "+path) {
				t.Fatalf("refusals = %+v, want one host-namespaces refusal naming %s", rep.Refusals, path)
			}
		})
	}
	// A namespace of its own (a fresh path that is not a namespace) is not marked.
	s := exampleSpec()
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UTSNamespace, Path: "/run/netns/other"})
	if got := hostNamespaceJoins(s, nil); got["/run/netns/other"] {
		t.Error("a path that is not the host's namespace was marked")
	}
}
