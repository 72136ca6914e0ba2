package create

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/cgroups"
)

// The create lock's record names the bundle and then the cgroup; a
// shorter record written over a longer one is read whole, and delete's
// lock waits for no one when the create is gone.
func TestCreateRecordRoundTrip(t *testing.T) {
	root := t.TempDir()
	lock, err := lockCreate(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	long := createRecord{Bundle: "/var/lib/some/very/long/bundle/path/that/is/long"}
	if err := lock.record(long); err != nil {
		t.Fatal(err)
	}
	short := createRecord{Bundle: "/b", Cgroup: cgroupRecord(&cgroups.Cgroup{Path: "/x/c1", Resources: &cgroups.Resources{PidsLimit: ptr(int64(5))}})}
	if err := lock.record(short); err != nil {
		t.Fatal(err)
	}
	// Held: delete does not take it.
	if l, err := takeLeftoverLock(root, "c1", true, 0); err == nil {
		l.release()
		t.Fatal("took a create lock that a create holds")
	}
	// The create dies without releasing: its descriptor goes.
	lock.file.Close()
	lock.file = nil
	l, err := takeLeftoverLock(root, "c1", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l.rec.Bundle != "/b" || l.rec.Cgroup == nil || l.rec.Cgroup.Path != "/x/c1" || l.rec.Cgroup.Resources != nil {
		t.Errorf("record read back: %+v %+v", l.rec, l.rec.Cgroup)
	}
	if err := l.release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, ".c1.creating")); err == nil {
		t.Error("lock file left")
	}
	// No lock file and none wanted: nothing to take.
	if l, err := takeLeftoverLock(root, "c2", false, 0); l != nil || err != nil {
		t.Errorf("lock of a container never created: %v %v", l, err)
	}
}

func ptr[T any](v T) *T { return &v }
