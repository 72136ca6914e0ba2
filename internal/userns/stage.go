package userns

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hardened-runtime/hardened/spec"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
)

// stagingBase holds the rootfs mounts that containers get (idmapped for
// a user namespace, else a plain clone of the checked rootfs). It is not
// under --root: the container's init mounts its
// rootfs from inside the user namespace, so every directory above it must
// be traversable by the mapped root (0711), while --root is 0700.
const stagingBase = "/run/hardened-idmap"

// Files of the host's subordinate ID ranges, which the pool of a policy
// without "pool" comes from.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// stagingDir is where container id of the runtime root root has its
// staged rootfs (stagingDir/rootfs). It depends only on root and id, so
// delete finds it without any saved state, also after a kill -9.
func stagingDir(root, id string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(stagingBase, hex.EncodeToString(sum[:6]), id)
}

// Stage is what StageRootfs did for one container.
type Stage struct {
	// rootfs is the real rootfs (HostFacts.Rootfs, the checked path of
	// the pinned directory); staged is the mount of that directory that
	// the container gets instead: idmapped, a rebuilt overlay, or a plain
	// clone.
	rootfs, staged string
	// written is the rootfs path as config.json spells it (made absolute
	// against the bundle), which named the pinned directory when it was
	// opened but may name anything by the time libcontainer looks.
	written string
	// dir is the staging directory; binds maps the index of each bind
	// mount to the clone of its source there (PinBinds).
	dir   string
	binds map[int]string
	// overlays maps the index of each overlay mount to its options
	// naming the clones of its directories (PinOverlays).
	overlays map[int][]string
	// overlayBinds maps the index of an overlay mount that staging
	// mounted on the host to the bind of it the init gets instead
	// (mountOverlayOnHost).
	overlayBinds map[int]specs.Mount
	// podNet is the sysfs and the sysctls done from the host side in a
	// pod's network namespace (PreparePodNetwork); nil: none.
	podNet *podNetwork
}

// Rewrite points the converted spec at the staged rootfs: root.path and
// every bind source inside the real rootfs or under the rootfs path as
// written (the writable-paths mounts, also those an earlier create saved
// in config.json), so those binds come from the checked directory too
// (and carry the mapping), whatever the bundle's rootfs path names now. config.json keeps the real paths, so it stays valid for the
// next create from the same bundle.
func (u *Stage) Rewrite(s *specs.Spec) {
	if u == nil {
		return
	}
	u.podNet.rewrite(s)
	if u.staged == "" {
		return
	}
	s.Root.Path = u.staged
	for i, m := range s.Mounts {
		if b, ok := u.overlayBinds[i]; ok {
			s.Mounts[i] = b
			continue
		}
		if opts, ok := u.overlays[i]; ok {
			s.Mounts[i].Options = slices.Clone(opts)
			continue
		}
		if !spec.IsBind(m) {
			continue
		}
		if t, ok := u.binds[i]; ok {
			s.Mounts[i].Source = t
			continue
		}
		for _, base := range []string{u.rootfs, u.written} {
			if base == "" {
				continue
			}
			if rel, err := filepath.Rel(base, m.Source); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				s.Mounts[i].Source = filepath.Join(u.staged, rel)
				break
			}
		}
	}
}

// idPool returns the pool the policy's user namespaces allocate from:
// without the engines' remap ranges (RemapRanges), which their containers
// share and no other container may get.
func idPool(u hardening.UserNamespacePolicy) ([]idmap.Range, idmap.PoolSource, error) {
	return idPoolFrom(u, SubUIDFile, SubGIDFile)
}

// idPoolFrom is idPool with the subordinate ID files named.
func idPoolFrom(u hardening.UserNamespacePolicy, subuid, subgid string) ([]idmap.Range, idmap.PoolSource, error) {
	var explicit []idmap.Range
	if u.Pool != nil {
		explicit = []idmap.Range{*u.Pool}
	}
	pool, source, err := idmap.ResolvePool(explicit, subuid, subgid, u.SubIDUser)
	if err != nil {
		return nil, "", err
	}
	remap, err := RemapRanges(u, subuid, subgid)
	if err != nil {
		return nil, "", err
	}
	if len(remap) == 0 {
		return pool, source, nil
	}
	pool = idmap.Subtract(pool, remap)
	if len(pool) == 0 {
		return nil, "", fmt.Errorf("the pool lies wholly in the remap ranges of \"remapSubidUsers\" %v", u.RemapSubIDUsers)
	}
	return pool, source, nil
}

// RemapRanges returns every host ID that the subordinate ID files give a
// user of the policy's remapSubidUsers, uids and gids alike: the engines'
// remap ranges.
func RemapRanges(u hardening.UserNamespacePolicy, subuid, subgid string) ([]idmap.Range, error) {
	var out []idmap.Range
	for _, user := range u.RemapSubIDUsers {
		for _, file := range []string{subuid, subgid} {
			rs, err := idmap.SubIDRanges(file, user)
			if err != nil {
				return nil, fmt.Errorf("remapSubidUsers: %w", err)
			}
			out = append(out, rs...)
		}
	}
	return out, nil
}

// StageRootfs does the host side of create, after every refusal (Check)
// and before the transforms (Apply): it carries out the user-namespace
// plan (allocates the container's ID range for a new user namespace in
// the host registry, or reserves the joined namespace's IDs there; gives
// Docker's per-container files to the mapped root) and mounts the
// rootfs in the staging directory from the pinned directory that the
// rules checked: an idmapped clone, a rebuilt overlay (Docker's and
// containerd's overlay cannot be idmapped), or, without a user namespace
// to stage, a plain recursive clone. libcontainer gets that staging path,
// which only root can change, so a rootfs swapped for a symlink after
// the check is never what the container sees. It fills facts for Apply.
// On error everything it did is undone.
func StageRootfs(root, id string, s *specs.Spec, checked *hardening.Checked, facts *hardening.HostFacts, rootfs *idmap.Pinned, written string) (_ *Stage, retErr error) {
	pol, plan := checked.Policy, checked.Userns
	defer func() {
		if retErr != nil {
			if err := Release(root, id); err != nil {
				logrus.Warnf("container %s: %v", id, err)
			}
		}
	}()
	if plan.Join != "" {
		// The joined namespace's host IDs are recorded so that they are
		// never handed out while this container runs.
		if err := reserveJoined(root, id, s, plan, *facts); err != nil {
			return nil, fmt.Errorf("user namespace: %w", err)
		}
	}
	if plan.Caller {
		// The caller's own mapping (Podman's --userns=auto) is kept; its
		// host IDs are recorded so that no other container gets them,
		// and it may hold none that another live container holds. An
		// engine's remap range is shared by the engine's containers.
		var ranges []idmap.Range
		for _, m := range hardening.CallerMappings(s) {
			if !slices.Contains(ranges, m.Host) {
				ranges = append(ranges, m.Host)
			}
		}
		shares, what := "", "the caller's own mapping"
		if plan.Remap != "" {
			shares, what = idmap.EngineRangeKey(plan.Remap), "the engine's remap range (subordinate IDs of "+plan.Remap+")"
		}
		if err := idmap.NewHostAllocator(nil, 0).Reserve(idmap.Key(root, id), ranges, shares); err != nil {
			return nil, fmt.Errorf("user namespace: %s: %w", what, err)
		}
	}
	var err error
	fs := idmap.FSOther
	var ns *os.File
	if plan.Stage {
		if fs, err = rootfs.Filesystem(); err != nil {
			return nil, fmt.Errorf("user namespace: %w", err)
		}
		if plan.New {
			pool, _, err := idPool(pol.UserNamespace)
			if err != nil {
				return nil, fmt.Errorf("user namespace: %w", err)
			}
			alloc := idmap.NewHostAllocator(pool, pol.UserNamespace.RangeSize)
			rng, err := alloc.Allocate(idmap.Key(root, id), callerRange(s))
			if err != nil {
				return nil, err
			}
			facts.IDRange = &rng
			facts.DockerRoot = hardening.OwnDockerRoot(s, *facts, id)
			facts.PodmanRoot = ownPodmanRoot(s, *facts, id)
			// What compares with the range is checked now, before
			// anything but the registry entry (undone below) is touched.
			if err := checked.Recheck(s, *facts); err != nil {
				return nil, err
			}
			if ns, err = idmap.UsernsFile(idmap.Mapping{ContainerID: 0, Host: rng}); err != nil {
				return nil, err
			}
		} else if ns, err = os.Open(facts.Namespaces.ProcPath(plan.Join)); err != nil {
			return nil, fmt.Errorf("user namespace: %w", err)
		}
		defer ns.Close()
	}
	dir := stagingDir(root, id)
	// Whatever a create or delete killed midway left here is stale: this
	// container does not exist (checked above).
	if err := unstage(kernelMounts{}, dir); err != nil {
		return nil, fmt.Errorf("rootfs staging: %w", err)
	}
	staged := filepath.Join(dir, "rootfs")
	// A delete of the root's last other container may remove the per-root
	// directory between the two mkdirs: try again then.
	for try := 0; ; try++ {
		err := mkdirTraversable(dir)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) || try == 3 {
			return nil, fmt.Errorf("rootfs staging: %w", err)
		}
	}
	// Everything staged goes on one tmpfs, which unstage detaches at once.
	// The rootfs directory exists beneath it too: libcontainer starts
	// each exec's process in the container's rootfs path, and a runtime
	// running in another mount namespace than the create did (Podman
	// execs from the host's a container it created from one of its own)
	// sees that directory, not the tmpfs.
	if err := os.Mkdir(staged, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("rootfs staging: %w", err)
	}
	if err := idmap.MountStagingDir(dir, rootGroup(s, plan, *facts)); err != nil {
		return nil, fmt.Errorf("rootfs staging: %w", err)
	}
	if err := os.Mkdir(staged, 0o755); err != nil {
		return nil, fmt.Errorf("rootfs staging: %w", err)
	}
	if plan.New {
		chownDockerFiles(s, facts, id, *facts.IDRange, pol.UserNamespace.IDMapBindMounts)
	}
	if plan.Stage && fs == idmap.FSOverlay {
		rng := facts.IDRange
		if rng == nil {
			var err error
			if rng, err = joinedRange(plan.Join, *facts); err != nil {
				return nil, fmt.Errorf("user namespace: %w", err)
			}
		}
		rebuild := overlayRebuild{unknown: func(opts []string) {
			if checked.Report != nil {
				checked.Report.Notes = append(checked.Report.Notes, hardening.Note{Rule: hardening.RuleUserNamespace,
					Message: "overlay options " + strings.Join(opts, ",") + " of the rootfs not known to the rebuild, passed through unchanged"})
			}
		}}
		if err := rebuild.stageOverlay(rootfs, dir, ns, *rng); err != nil {
			return nil, fmt.Errorf("user namespace: %w; a host whose container filesystems cannot be idmapped turns user namespaces off with \"userNamespace\": {\"enabled\": false}", err)
		}
		return &Stage{rootfs: rootfs.Path, staged: staged, written: written, dir: dir}, nil
	}
	if err := idmap.ClonePinned(rootfs, staged, ns); err != nil {
		return nil, fmt.Errorf("rootfs staging: %w", err)
	}
	return &Stage{rootfs: rootfs.Path, staged: staged, written: written, dir: dir}, nil
}

// rootGroup returns the host group that the container's group 0 maps to,
// whose members alone (with the runtime) may traverse the staging
// directory: the allocated range's first ID, the joined namespace's or
// the caller's mapping of group 0, host group 0 without a user namespace.
// -1 when it is not known for certain (the directory then stays
// traversable by everyone).
func rootGroup(s *specs.Spec, plan hardening.UsernsPlan, facts hardening.HostFacts) int64 {
	groupZero := func(ms []idmap.Mapping) int64 {
		for _, m := range ms {
			if m.ContainerID == 0 && m.Host.Size > 0 {
				return int64(m.Host.Start)
			}
		}
		return -1
	}
	switch {
	case facts.IDRange != nil:
		return int64(facts.IDRange.Start)
	case plan.Join != "":
		for path, info := range facts.Usernses {
			if path == plan.Join || info.Path == plan.Join {
				if info.Host {
					return 0
				}
				return groupZero(info.GIDMap)
			}
		}
		return -1
	case s.Linux != nil && len(s.Linux.GIDMappings) > 0:
		for _, m := range s.Linux.GIDMappings {
			if m.ContainerID == 0 && m.Size > 0 {
				return int64(m.HostID)
			}
		}
		return -1
	case plan.New || plan.Caller:
		return -1
	}
	return 0
}

// callerRange returns the caller's mapping as a range to ask the
// allocator for, when it is one entry from container ID 0, the same for
// uids and gids; the allocator takes it only if it lies in the pool, maps
// no host ID 0 and is free.
func callerRange(s *specs.Spec) *idmap.Range {
	if s.Linux == nil || len(s.Linux.UIDMappings) != 1 || len(s.Linux.GIDMappings) != 1 {
		return nil
	}
	u, g := s.Linux.UIDMappings[0], s.Linux.GIDMappings[0]
	if u != g || u.ContainerID != 0 {
		return nil
	}
	return &idmap.Range{Start: u.HostID, Size: u.Size}
}

// mkdirTraversable creates dir and its parents from stagingBase down with
// mode 0711: traversable, not listable.
func mkdirTraversable(dir string) error {
	rel, err := filepath.Rel(stagingBase, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is not under %s", dir, stagingBase)
	}
	cur := stagingBase
	for _, p := range append([]string{"."}, strings.Split(rel, "/")...) {
		cur = filepath.Join(cur, p)
		// Most are there already: a look takes no lock, a mkdir and a
		// chmod take the directories' (shared by every create).
		if fi, err := os.Lstat(cur); err == nil && fi.IsDir() && fi.Mode().Perm() == 0o711 {
			continue
		}
		if err := os.Mkdir(cur, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(cur, 0o711); err != nil {
			return err
		}
	}
	return nil
}

// Release undoes StageRootfs for container id: unstages its
// rootfs and returns its ID range. It needs no state beyond the staging
// directory's own record and does nothing for a container that had none,
// so delete calls it for every container, also after kill -9 of anything.
func Release(root, id string) error {
	var errs []error
	if err := unstage(kernelMounts{}, stagingDir(root, id)); err != nil {
		errs = append(errs, err)
	}
	// The registry is host-wide; a root's own file is the previous
	// version's, which Release moves into the registry. Only what is
	// there is released: a release of nothing touches no file, so delete
	// works on a read-only registry for containers that hold no range.
	alloc := idmap.NewHostAllocator(nil, 0)
	held, lerr := alloc.Holds(idmap.Key(root, id))
	_, legacy := os.Stat(filepath.Join(root, idmap.StateName))
	if held || lerr != nil || legacy == nil {
		if err := alloc.Release(idmap.Key(root, id)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container %s: user namespace cleanup: %w", id, err)
	}
	return nil
}

// reserveJoined records in the host registry the host IDs of the user
// namespace container id joins (plan.Join), which the runtime did not
// allocate: a pod's sandbox namespace, the namespace of the container
// whose network or pid namespace it shares. Held until delete, they are
// never handed out again while this container runs, also when the
// namespace's first owner is deleted first. The reservation shares the
// range of the container the namespace belongs to; a namespace whose
// mapping overlaps any other container's range fails the create.
func reserveJoined(root, id string, s *specs.Spec, plan hardening.UsernsPlan, f hardening.HostFacts) error {
	var info idmap.UsernsInfo
	shares, pinned := "", ""
	for _, ns := range s.Linux.Namespaces {
		ui, ok := f.Usernses[ns.Path]
		if ns.Path == "" || !ok || (ui.Path != plan.Join && ns.Path != plan.Join) {
			continue
		}
		info = ui
		if t := f.Joins[ns.Path]; t.Container != "" {
			shares = idmap.Key(root, t.Container)
		} else if t.PinnedSandbox != "" {
			shares, pinned = idmap.Key(root, t.PinnedSandbox), t.PinnedSandbox
		}
		if shares != "" {
			break
		}
	}
	if plan.Remap != "" {
		// An engine's containers share its remap range, the joined one's
		// included.
		shares, pinned = idmap.EngineRangeKey(plan.Remap), ""
	}
	var ranges []idmap.Range
	for _, m := range append(slices.Clone(info.UIDMap), info.GIDMap...) {
		if m.Host.Size > 0 && !slices.Contains(ranges, m.Host) {
			ranges = append(ranges, m.Host)
		}
	}
	if len(ranges) == 0 {
		// The mapping cannot be read (a pinned namespace file); the
		// user-namespace rule decides whether it may be joined at all.
		logrus.Debugf("container %s: user namespace %s: mapping unknown, not recorded", id, plan.Join)
		return nil
	}
	err := idmap.NewHostAllocator(nil, 0).Reserve(idmap.Key(root, id), ranges, shares)
	if errors.Is(err, idmap.ErrHeld) && pinned != "" {
		return fmt.Errorf("the user namespace of pod sandbox %s (hostUsers: false, the kubelet's mapping %v) maps host IDs that the runtime gave a live container: give the kubelet and the runtime subordinate ID ranges apart (/etc/subuid and /etc/subgid entries \"kubelet\" and the policy's \"subidUser\", by default \"hardened\"): %w", pinned, ranges, err)
	}
	return err
}
