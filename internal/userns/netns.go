package userns

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hardened-runtime/hardened/hardening"
)

// podNetwork is what PreparePodNetwork did for a container in a pod's
// network namespace (hardening.PodNetworkPlan): the sysfs it mounted
// there and the sysctls it wrote, which libcontainer must not redo.
type podNetwork struct {
	// sysfsMount is the index of the spec's sysfs mount; sysfs is the
	// sysfs mounted in the pod's network namespace, in the staging
	// directory ("" for none).
	sysfsMount int
	sysfs      string
	// sysctls were written into the pod's network namespace.
	sysctls map[string]string
}

// PreparePodNetwork carries out hardening.PodNetworkPlan for the spec as
// Checked.Apply left it, after every refusal: on a locked OS thread that
// joins the pod's network namespace (opened once, checked to be a
// network namespace and not the runtime's own), it mounts a sysfs
// (read-only, nosuid, nodev, noexec) at <staging dir>/sys, which then
// shows the pod's interfaces, and writes the net.* sysctls. The thread
// is never returned to the Go scheduler. The sysfs mount is in the
// staging directory, so Release (delete, failed create) unmounts
// it with the rootfs.
func (u *Stage) PreparePodNetwork(s *specs.Spec, f hardening.HostFacts) error {
	if u == nil {
		return nil
	}
	plan, ok := hardening.PlanPodNetwork(s, f)
	if !ok {
		return nil
	}
	ns, err := os.Open(plan.Netns)
	if err != nil {
		return fmt.Errorf("pod network namespace: %w", err)
	}
	defer ns.Close()
	if t, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_NSTYPE); err != nil || t != unix.CLONE_NEWNET {
		return fmt.Errorf("pod network namespace %s: not a network namespace file", plan.Netns)
	}
	var nsSt, ownSt unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &nsSt); err != nil {
		return fmt.Errorf("pod network namespace %s: %w", plan.Netns, err)
	}
	if err := unix.Stat("/proc/self/ns/net", &ownSt); err != nil {
		return err
	}
	if nsSt.Dev == ownSt.Dev && nsSt.Ino == ownSt.Ino {
		return nil
	}
	// What is written there as host root is for a namespace the host's
	// user namespace owns, as the rules saw it: a file changed since
	// into another pod's namespace (owned by its user namespace) is not.
	if hostOwned, err := ownedByHostUserns(ns); err != nil || !hostOwned {
		return fmt.Errorf("pod network namespace %s: no longer owned by the host's user namespace (%v)", plan.Netns, err)
	}
	pn := &podNetwork{sysfsMount: plan.Sysfs}
	if plan.Sysfs >= 0 {
		pn.sysfs = filepath.Join(u.dir, "sys")
		if err := os.Mkdir(pn.sysfs, 0o555); err != nil {
			return fmt.Errorf("pod sysfs: %w", err)
		}
	}
	done := make(chan error, 1)
	go func() {
		// The thread leaves the runtime's network namespace: it is never
		// unlocked, so it ends with this goroutine.
		runtime.LockOSThread()
		done <- inPodNetns(int(ns.Fd()), pn.sysfs, plan.Sysctls)
	}()
	if err := <-done; err != nil {
		return fmt.Errorf("pod network namespace %s: %w", plan.Netns, err)
	}
	pn.sysctls = plan.Sysctls
	u.podNet = pn
	return nil
}

// ownedByHostUserns reports whether the namespace file ns is owned by
// the runtime's (the host's) user namespace (NS_GET_USERNS).
func ownedByHostUserns(ns *os.File) (bool, error) {
	fd, err := unix.IoctlRetInt(int(ns.Fd()), unix.NS_GET_USERNS)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	var owner, host unix.Stat_t
	if err := unix.Fstat(fd, &owner); err != nil {
		return false, err
	}
	if err := unix.Stat("/proc/self/ns/user", &host); err != nil {
		return false, err
	}
	return owner.Dev == host.Dev && owner.Ino == host.Ino, nil
}

// inPodNetns runs on a locked thread: joins the network namespace nsFD,
// mounts sysfs at sysfs (unless ""), writes sysctls.
func inPodNetns(nsFD int, sysfs string, sysctls map[string]string) error {
	if err := unix.Setns(nsFD, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("setns: %w", err)
	}
	if sysfs != "" {
		flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if err := unix.Mount("sysfs", sysfs, "sysfs", flags, ""); err != nil {
			return fmt.Errorf("mount sysfs at %s: %w", sysfs, err)
		}
	}
	if len(sysctls) == 0 {
		return nil
	}
	procSys, err := unix.Open("/proc/sys", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(procSys)
	for _, k := range sortedKeys(sysctls) {
		rel := strings.ReplaceAll(k, ".", "/")
		fd, err := unix.Openat2(procSys, rel, &unix.OpenHow{
			Flags:   unix.O_WRONLY | unix.O_TRUNC | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_XDEV,
		})
		if err != nil {
			return fmt.Errorf("sysctl %s: %w", k, err)
		}
		_, err = unix.Write(fd, []byte(sysctls[k]))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("sysctl %s = %q: %w", k, sysctls[k], err)
		}
	}
	return nil
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// rewrite points the converted spec s at what PreparePodNetwork did: the
// sysfs mount becomes a read-only bind of the pod's sysfs, and the
// sysctls already written are left out (s.Linux is copied, the bundle's
// spec keeps them).
func (pn *podNetwork) rewrite(s *specs.Spec) {
	if pn == nil {
		return
	}
	if pn.sysfs != "" && pn.sysfsMount < len(s.Mounts) {
		s.Mounts[pn.sysfsMount] = specs.Mount{
			Destination: "/sys",
			Type:        "bind",
			Source:      pn.sysfs,
			Options:     []string{"bind", "ro", "nosuid", "nodev", "noexec"},
		}
	}
	if len(pn.sysctls) > 0 && s.Linux != nil {
		l := *s.Linux
		l.Sysctl = maps.Clone(l.Sysctl)
		for k := range pn.sysctls {
			delete(l.Sysctl, k)
		}
		s.Linux = &l
	}
}
