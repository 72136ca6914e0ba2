package hardening

import (
	"regexp"
	"testing"
)

// TestIsHostNamespacePath checks the scan against the regular expression
// it replaced, on the host's own namespace files and near misses.
func TestIsHostNamespacePath(t *testing.T) {
	re := regexp.MustCompile(`^/proc/(1|self|thread-self)(/task/[0-9]+)?/ns/[a-z_]+$`)
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"/proc/1/ns/net", true},
		{"/proc/self/ns/pid_for_children", true},
		{"/proc/thread-self/ns/mnt", true},
		{"/proc/1/task/1/ns/uts", true},
		{"/proc/self/task/4242/ns/ipc", true},
		{"/proc/thread-self/task/7/ns/cgroup", true},
		{"/proc/12/ns/net", false},
		{"/proc/10/ns/net", false},
		{"/proc/selfish/ns/net", false},
		{"/proc/1/ns/", false},
		{"/proc/1/ns", false},
		{"/proc/1", false},
		{"/proc/", false},
		{"/proc/1/ns/net/", false},
		{"/proc/1/ns/Net", false},
		{"/proc/1/ns/net2", false},
		{"/proc/1/task//ns/net", false},
		{"/proc/1/task/x1/ns/net", false},
		{"/proc/1/task/1", false},
		{"/proc/1/tasks/1/ns/net", false},
		{"/proc/1/task/1/task/1/ns/net", false},
		{"proc/1/ns/net", false},
		{"/host/proc/1/ns/net", false},
		{"/proc/1/ns/net\n", false},
		{"/var/run/netns/x", false},
		{"", false},
	} {
		if got := isHostNamespacePath(tc.path); got != tc.want {
			t.Errorf("isHostNamespacePath(%q) = %v, want %v", tc.path, got, tc.want)
		}
		if re.MatchString(tc.path) != tc.want {
			t.Errorf("the table is wrong for %q: the regexp says %v", tc.path, !tc.want)
		}
	}
}
