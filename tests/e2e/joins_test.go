package e2e

import (
	"strings"
	"testing"
)

// TestDockerContainerJoins: Docker's `--network container:X` and
// `--pid container:X` put /proc/<X's pid>/ns/<type> into config.json; X
// is a container of the same runtime root that neither is in a pod, so
// the namespace-joins rule lets it through, and the second container is
// in X's namespace, as seen from inside both.
func TestDockerContainerJoins(t *testing.T) {
	img := image(t)
	target := uniqueName("join")
	mustDocker(t, "run", "-d", "--runtime=hardened", "--name", target, img, "sleep", "1000")
	t.Cleanup(func() { docker(t, "rm", "-f", target) })
	for _, tc := range []struct{ flag, file string }{{"--network", "net"}, {"--pid", "pid"}} {
		t.Run(tc.flag, func(t *testing.T) {
			want := strings.TrimSpace(mustDocker(t, "exec", target, "readlink", "/proc/self/ns/"+tc.file))
			name := uniqueName("joiner")
			t.Cleanup(func() { docker(t, "rm", "-f", name) })
			out, errOut, exit := docker(t, "run", "--rm", "--runtime=hardened", "--name", name, tc.flag, "container:"+target, img, "readlink", "/proc/self/ns/"+tc.file)
			if exit != 0 || strings.TrimSpace(out) != want {
				t.Errorf("docker run %s container:%s: exit %d, inside %q, want %q\n%s", tc.flag, target, exit, out, want, errOut)
			}
		})
	}
}
