package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDockerPausedViewNosuid: while a container is paused Docker's
// MergedDir shows its layer at rest, where container root's files are
// host root's; a file the container made set-user-ID is set-user-ID
// host root there, so the view is mounted read-only, nosuid and nodev.
// After the unpause the container finds its file as it left it.
func TestDockerPausedViewNosuid(t *testing.T) {
	c := runDetachedArgs(t, nil, "sh", "-c", `cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid && touch /tmp/ready && sleep 1000`)
	waitForMergedFile(t, c, "tmp/ready", 10*time.Second, "its set-user-ID file")
	mustDocker(t, "pause", c.Name)
	var st syscall.Stat_t
	err := syscall.Lstat(filepath.Join(c.Merged, "tmp", "suid"), &st)
	opts := mergedMountOptions(t, c)
	mustDocker(t, "unpause", c.Name)
	if err != nil || st.Uid != 0 || st.Mode&syscall.S_ISUID == 0 {
		t.Errorf("/tmp/suid at %s while paused: owner %d mode %o (%v), want container root's (host 0), set-user-ID", c.Merged, st.Uid, st.Mode, err)
	}
	if !slices.Contains(opts, "ro") || !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") {
		t.Errorf("the view at rest at %s is mounted %s, want ro,nosuid,nodev", c.Merged, strings.Join(opts, ","))
	}
	if got := strings.TrimSpace(mustDocker(t, "exec", c.Name, "stat", "-c", "%u:%a", "/tmp/suid")); got != "0:4755" {
		t.Errorf("/tmp/suid after the unpause: %q, want 0:4755", got)
	}
}
