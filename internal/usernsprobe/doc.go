// Package usernsprobe reads the mappings of a user namespace known only
// by a namespace file, such as containerd's pinned user namespace of a
// `hostUsers: false` pod (.../sandboxes/<id>/pinned-namespaces/user),
// which no process may be in yet.
//
// A user namespace's mappings can be read only through a process inside
// it (/proc/<pid>/uid_map), and only a single-threaded process can
// setns(2) into a user namespace, which a Go program never is. So Read
// runs this binary again with ProbeArg and the namespace as fd 3: a C
// constructor, before the Go runtime starts, joins the namespace, says so
// on stdout and waits on stdin; the caller meanwhile reads the child's
// uid_map and gid_map from the host's user namespace (so the host IDs are
// the host's, whatever the namespace's parent), then lets it exit. The
// child never runs Go code and never executes anything else.
package usernsprobe
