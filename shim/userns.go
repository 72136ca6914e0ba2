package shim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
)

// stagingBase holds the idmapped rootfs mounts of containers in a user
// namespace. It is not under --root: the container's init mounts its
// rootfs from inside the user namespace, so every directory above it must
// be traversable by the mapped root (0711), while --root is 0700.
const stagingBase = "/run/hardened-idmap"

// Files of the host's subordinate ID ranges.
const (
	subUIDFile = "/etc/subuid"
	subGIDFile = "/etc/subgid"
)

// stagingDir is where container id of the runtime root root has its
// idmapped rootfs (stagingDir/rootfs). It depends only on root and id, so
// delete finds it without any saved state, also after a kill -9.
func stagingDir(root, id string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(stagingBase, hex.EncodeToString(sum[:6]), id)
}

// usernsSetup is what prepareUserns did for one container.
type usernsSetup struct {
	// rootfs is the real rootfs (HostFacts.Rootfs); staged is the
	// idmapped mount of it that the container gets instead. Both empty
	// when nothing was staged.
	rootfs, staged string
}

// rewrite points the converted spec at the idmapped rootfs: root.path and
// every bind source inside the real rootfs (the writable-paths mounts),
// so those binds carry the mapping too. config.json keeps the real paths,
// so it stays valid for the next create from the same bundle.
func (u *usernsSetup) rewrite(s *specs.Spec) {
	if u == nil || u.staged == "" {
		return
	}
	s.Root.Path = u.staged
	for i, m := range s.Mounts {
		if !isBind(m) {
			continue
		}
		if rel, err := filepath.Rel(u.rootfs, m.Source); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			s.Mounts[i].Source = filepath.Join(u.staged, rel)
		}
	}
}

// idPool returns the pool the policy's user namespaces allocate from.
func idPool(u hardening.UserNamespacePolicy) ([]idmap.Range, idmap.PoolSource, error) {
	var explicit []idmap.Range
	if u.Pool != nil {
		explicit = []idmap.Range{*u.Pool}
	}
	return idmap.ResolvePool(explicit, subUIDFile, subGIDFile, u.SubIDUser)
}

// prepareUserns does the host side of the user-namespace rule before
// Harden: it reads which user namespaces own the namespaces the spec
// joins, allocates the container's ID range when it gets a new user
// namespace, and mounts the idmapped rootfs. It fills facts for the rule.
// Nothing is done unless the policy enables user namespaces and enforces.
// On error everything it did is undone.
func prepareUserns(root, id string, s *specs.Spec, pol *hardening.Policy, facts *hardening.HostFacts) (_ *usernsSetup, retErr error) {
	if !pol.UserNamespace.Enabled || pol.Mode != hardening.ModeEnforce {
		return nil, nil
	}
	plan, err := hardening.PlanUserNamespace(s, pol, *facts)
	if err != nil || (plan.Join == "" && !plan.New) || joinsRefused(s, pol, *facts) {
		// A refusal is Harden's to report.
		return nil, nil
	}
	if plan.Join != "" {
		// Nothing of an existing container with this ID may be touched.
		if _, err := os.Lstat(filepath.Join(root, id)); err == nil {
			return nil, libcontainer.ErrExist
		}
		if err := reserveJoined(root, id, s, plan, *facts); err != nil {
			return nil, fmt.Errorf("user namespace: %w", err)
		}
		if !plan.Stage {
			// A caller's own user namespace path comes with a rootfs the
			// caller prepared for it.
			return &usernsSetup{}, nil
		}
		defer func() {
			if retErr != nil {
				if err := releaseUserns(root, id); err != nil {
					logrus.Warnf("container %s: %v", id, err)
				}
			}
		}()
	}
	rootfs := facts.Rootfs
	if rootfs == "" {
		return nil, fmt.Errorf("user namespace: rootfs path unknown")
	}
	fs, err := idmap.FilesystemOf(rootfs)
	if err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	// Nothing of an existing container with this ID may be touched, nor
	// undone below: its range and its staging directory are its own.
	if _, err := os.Lstat(filepath.Join(root, id)); err == nil {
		return nil, libcontainer.ErrExist
	}
	var ns *os.File
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
		defer func() {
			if retErr != nil {
				if err := releaseUserns(root, id); err != nil {
					logrus.Warnf("container %s: %v", id, err)
				}
			}
		}()
		facts.IDRange, facts.IDPool = &rng, pool
		facts.DockerRoot = dockerRoot(s, *facts, id)
		if ns, err = idmap.UsernsFile(idmap.Mapping{ContainerID: 0, Host: rng}); err != nil {
			return nil, err
		}
	} else if ns, err = os.Open(plan.Join); err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	defer ns.Close()
	dir := stagingDir(root, id)
	// Whatever a create or delete killed midway left here is stale: this
	// container does not exist (checked above).
	if err := unstage(dir); err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	staged := filepath.Join(dir, "rootfs")
	// A delete of the root's last other container may remove the per-root
	// directory between the two mkdirs: try again then.
	for try := 0; ; try++ {
		err := mkdirTraversable(dir)
		if err == nil {
			if err = os.Mkdir(staged, 0o755); errors.Is(err, os.ErrExist) {
				err = nil
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrNotExist) || try == 3 {
			return nil, fmt.Errorf("user namespace: staging: %w", err)
		}
	}
	if plan.New {
		chownDockerFiles(s, facts, id, *facts.IDRange, pol.UserNamespace.IDMapBindMounts)
	}
	if fs == idmap.FSOverlay {
		rng := facts.IDRange
		if rng == nil {
			if rng, err = joinedRange(plan.Join); err != nil {
				return nil, fmt.Errorf("user namespace: %w", err)
			}
		}
		if err := stageOverlay(rootfs, dir, ns, *rng); err != nil {
			return nil, fmt.Errorf("user namespace: %w; a host whose container filesystems cannot be idmapped turns user namespaces off with \"userNamespace\": {\"enabled\": false}", err)
		}
		return &usernsSetup{rootfs: rootfs, staged: staged}, nil
	}
	if err := idmap.CloneIDMapped(rootfs, staged, ns); err != nil {
		return nil, fmt.Errorf("user namespace: %w", err)
	}
	return &usernsSetup{rootfs: rootfs, staged: staged}, nil
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
		if err := os.Mkdir(cur, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(cur, 0o711); err != nil {
			return err
		}
	}
	return nil
}

// releaseUserns undoes prepareUserns for container id: unstages its
// rootfs and returns its ID range. It needs no state beyond the staging
// directory's own record and does nothing for a container that had none,
// so delete calls it for every container, also after kill -9 of anything.
func releaseUserns(root, id string) error {
	var errs []error
	if err := unstage(stagingDir(root, id)); err != nil {
		errs = append(errs, err)
	}
	// The registry is host-wide; a root's own file is the previous
	// version's, which Release moves into the registry.
	for _, dir := range []string{idmap.RegistryDir, root} {
		if _, err := os.Stat(filepath.Join(dir, idmap.StateName)); err == nil {
			if err := idmap.NewHostAllocator(nil, 0).Release(idmap.Key(root, id)); err != nil {
				errs = append(errs, err)
			}
			break
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container %s: user namespace cleanup: %w", id, err)
	}
	return nil
}

// joinsRefused reports whether the namespace-joins rule refuses the
// spec's joins, which Harden then reports: no range is reserved for them.
func joinsRefused(s *specs.Spec, pol *hardening.Policy, f hardening.HostFacts) bool {
	eff, _ := pol.ForAnnotations(s.Annotations)
	var r hardening.Report
	hardening.RefuseUnrelatedJoins(s, eff, f, &r)
	return r.Refused()
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
	shares := ""
	for _, ns := range s.Linux.Namespaces {
		ui, ok := f.Usernses[ns.Path]
		if ns.Path == "" || !ok || (ui.Path != plan.Join && ns.Path != plan.Join) {
			continue
		}
		info = ui
		if t := f.Joins[ns.Path]; t.Container != "" {
			shares = idmap.Key(root, t.Container)
		} else if t.PinnedSandbox != "" {
			shares = idmap.Key(root, t.PinnedSandbox)
		}
		if shares != "" {
			break
		}
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
	return idmap.NewHostAllocator(nil, 0).Reserve(idmap.Key(root, id), ranges, shares)
}
