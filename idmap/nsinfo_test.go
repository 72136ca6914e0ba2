package idmap

import "testing"

func TestProcNSPID(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"/proc/123/ns/net":            "123",
		"/proc/1/ns/pid_for_children": "1",
		"/proc/self/ns/net":           "",
		"/proc/12/ns/":                "",
		"/proc//ns/net":               "",
		"/proc/12/ns/net/x":           "",
		"/proc/12/task/3/ns/net":      "",
		"/run/netns/x":                "",
		"proc/12/ns/net":              "",
		"/proc/1a/ns/net":             "",
		"/proc/12/ns/NET":             "",
	} {
		got, ok := procNSPID(path)
		if got != want || ok != (want != "") {
			t.Errorf("procNSPID(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}
