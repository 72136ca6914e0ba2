package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDockerLiveMergedNosuid: while a container runs Docker's MergedDir
// is its rebuilt overlay, where its files are owned by host IDs of its
// range; a file the container made set-user-ID must not act as such from
// the host side, so the bind there is nosuid and nodev, and the
// container's own rootfs is not (its set-user-ID file keeps its mode).
func TestDockerLiveMergedNosuid(t *testing.T) {
	c := runDetachedArgs(t, nil, "sh", "-c", `cp /bin/busybox /tmp/suid && chmod 4755 /tmp/suid && touch /tmp/ready && sleep 1000`)
	waitForMergedFile(t, c, "tmp/ready", 10*time.Second, "its set-user-ID file")
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(c.Merged, "tmp", "suid"), &st); err != nil || st.Uid == 0 || st.Mode&syscall.S_ISUID == 0 {
		t.Errorf("/tmp/suid at %s while running: owner %d mode %o (%v), want a host ID of the container's range, set-user-ID", c.Merged, st.Uid, st.Mode, err)
	}
	if opts := mergedMountOptions(t, c); !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") {
		t.Errorf("the running container's overlay at %s is mounted %s, want nosuid,nodev", c.Merged, strings.Join(opts, ","))
	}
	if got := mustDocker(t, "exec", c.Name, "grep", " / / ", "/proc/self/mountinfo"); strings.Contains(got, "nosuid") || strings.Contains(got, "nodev") {
		t.Errorf("the container's rootfs: %q, want neither nosuid nor nodev", got)
	}
}
