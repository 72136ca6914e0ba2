package features

import (
	"slices"
	"testing"
)

func TestRuntimeIDMapFollowsTheKernel(t *testing.T) {
	t.Parallel()
	for _, has := range []bool{true, false} {
		f := Runtime("1.0", Host{IDMapMounts: has})
		if got := *f.Linux.MountExtensions.IDMap.Enabled; got != has {
			t.Errorf("kernel mount_setattr %v: idmap enabled = %v", has, got)
		}
		// Listing the user namespace is about libcontainer, not the kernel probe.
		if !slices.Contains(f.Linux.Namespaces, "user") {
			t.Errorf("kernel mount_setattr %v: user namespace not listed", has)
		}
	}
}

func TestRuntimeWithoutUserNamespaces(t *testing.T) {
	t.Parallel()
	f := Runtime("1.0", Host{IDMapMounts: true, UsernsDisabled: true})
	if slices.Contains(f.Linux.Namespaces, "user") {
		t.Error("user namespace listed on a kernel that cannot make one")
	}
	if isTrue(f.Linux.MountExtensions.IDMap.Enabled) {
		t.Error("idmapped mounts listed on a kernel without user namespaces")
	}
	if !slices.Contains(f.Linux.Namespaces, "network") {
		t.Error("other namespaces dropped too")
	}
}

func isTrue(b *bool) bool { return b != nil && *b }
