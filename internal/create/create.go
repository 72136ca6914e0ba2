package create

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/internal/runner"
	"github.com/hardened-runtime/hardened/internal/userns"
	"github.com/hardened-runtime/hardened/spec"
)

// Options are what create, run and restore share: the command line's
// flags and environment, already read by the CLI.
type Options struct {
	// ID is the container's ID; Bundle its bundle directory.
	ID     string
	Bundle string
	// Root is the runtime's state root (absolute, existing).
	Root string
	// PolicyPath is the host's policy file.
	PolicyPath string
	// SystemdCgroup, NoPivot, NoNewKeyring and RootlessCgroups go to
	// libcontainer's conversion (specconv.CreateOpts).
	SystemdCgroup   bool
	NoPivot         bool
	NoNewKeyring    bool
	RootlessCgroups bool
	// Build names the runtime's build (version+commit) for the compiled
	// seccomp filter cache.
	Build string
	// WarnAuditFindings logs audit mode's summary as a warning: without
	// --log (Podman) only warnings reach the user.
	WarnAuditFindings bool
	// ConsoleSocket, PidFile, PreserveFDs and PidfdSocket: see
	// runner.Process.
	ConsoleSocket string
	PidFile       string
	PreserveFDs   int
	PidfdSocket   string
	// Detach returns once the init is started; NoSubreaper keeps a
	// foreground run from reaping the container's orphans.
	Detach      bool
	NoSubreaper bool
	// ListenFDs are socket-activation fds for the init (runner.ListenFiles).
	ListenFDs []*os.File
	// NotifySocket is the caller's NOTIFY_SOCKET ("" for none);
	// NotifyBind listens on the container's socket now (run) rather than
	// at start.
	NotifySocket string
	NotifyBind   bool
	// Keep leaves a foreground container's state behind after it exits.
	Keep bool
	// Start is StartOnly (create), StartAndRun (run) or a restore; root
	// is the state root.
	Start func(root string, ct *libcontainer.Container, p *libcontainer.Process) error
}

// Launch is the one door through which a new container is made: load the
// bundle, harden it, convert it for libcontainer, create the container
// and start its init process. create, run and restore all come here. It
// returns the exit status of a foreground init.
func Launch(opts Options) (_ int, retErr error) {
	if err := spec.ValidateID(opts.ID); err != nil {
		return -1, err
	}
	root := opts.Root
	// The policy comes first: it caps how much of config.json is read.
	pol, err := hardening.LoadPolicy(opts.PolicyPath)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	polPath := opts.PolicyPath
	bundle, err := spec.LoadBundleLimit(opts.Bundle, pol.MaxConfigSize)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	for _, w := range bundle.Warnings {
		logrus.Warnf("container %s: %s: %s", opts.ID, bundle.ConfigPath(), w)
	}
	if err := spec.RemoveInterruptedWrites(bundle.Dir); err != nil {
		logrus.Warnf("container %s: %v", opts.ID, err)
	}
	stage, stageLock, record, err := applyPolicyRoot(pol, polPath, root, opts.ID, bundle, opts.WarnAuditFindings)
	if err != nil {
		return -1, err
	}
	// A container that does not outlive this command (failed, or run in
	// the foreground and removed at exit) gives back its ID range and its
	// staged rootfs; the others do at delete.
	defer func() {
		if stage != nil && (retErr != nil || (!opts.Detach && !opts.Keep)) {
			if err := userns.Release(root, opts.ID); err != nil {
				logrus.Warn(err)
			}
		}
		stageLock.release()
	}()
	notify := runner.NewNotifySocket(root, opts.ID, opts.NotifySocket)
	notify.SetupSpec(bundle.Spec)
	cfg, err := libcontainerConfig(opts, bundle, stage)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	warmSeccompCache(opts.Build, opts.ID, cfg)
	process, addressSpace := withoutAddressSpaceLimit(cfg, bundle.Spec.Process)
	// The cgroup is recorded before libcontainer makes it, so that delete
	// finds it if this create dies before the state is saved.
	lock := stageLock
	if lock == nil {
		if lock, err = lockCreate(root, opts.ID); err != nil {
			return -1, fmt.Errorf("container %s: %w", opts.ID, err)
		}
		defer lock.release()
	}
	if err := lock.record(createRecord{Bundle: bundle.Dir, Cgroup: cgroupRecord(cfg.Cgroups)}); err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	ct, err := libcontainer.Create(root, opts.ID, cfg)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	if err := saveRecord(root, opts.ID, record); err != nil {
		_ = ct.Destroy()
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	if err := saveDeferredLimit(root, opts.ID, addressSpace); err != nil {
		_ = ct.Destroy()
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	if err := notify.Prepare(opts.NotifyBind); err != nil {
		_ = ct.Destroy()
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	defer notify.Close()
	r := runner.Process{
		Container:     ct,
		Init:          true,
		Start:         func(p *libcontainer.Process) error { return opts.Start(root, ct, p) },
		Detach:        opts.Detach,
		ConsoleSocket: opts.ConsoleSocket,
		PidFile:       opts.PidFile,
		PreserveFDs:   opts.PreserveFDs,
		Subreaper:     !opts.NoSubreaper,
		Destroy:       !opts.Keep,
		PidfdSocket:   opts.PidfdSocket,
		ListenFDs:     opts.ListenFDs,
		Notify:        notify,
	}
	status, err := r.Run(process)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.ID, err)
	}
	return status, nil
}

// StartOnly starts the container's init, which then waits for "start".
func StartOnly(_ string, ct *libcontainer.Container, p *libcontainer.Process) error {
	return ct.Start(p)
}

// StartAndRun starts the init and lets it run the user's process at once.
func StartAndRun(root string, ct *libcontainer.Container, p *libcontainer.Process) error {
	if err := ct.Start(p); err != nil {
		return err
	}
	limit, err := PrepareDeferredLimit(root, ct)
	if err != nil {
		return err
	}
	if err := ct.Exec(); err != nil {
		return err
	}
	return limit.AfterExec()
}

// applyPolicy hardens the bundle's spec. A rewritten config.json is saved
// (the caller's kept beside it as config.json.orig) and summed up in one
// log line per container. path names the policy file in refusals. It
// stages nothing (no runtime root).
func applyPolicy(pol *hardening.Policy, path, id string, bundle *spec.Bundle) error {
	_, _, _, err := applyPolicyRoot(pol, path, "", id, bundle, false)
	return err
}

// applyPolicyRoot is applyPolicy for a container of the runtime root
// root, which gets its rootfs staged in enforce mode. The steps run one
// way, and the host is touched only after every refusal:
//
//  1. the rootfs is opened once (idmap.PinDir); the rules see the
//     canonical path of the opened directory, the container gets a clone
//     of that very directory;
//  2. host facts are gathered once;
//  3. hardening.Check picks the effective policy (exceptions applied),
//     plans the user namespace with it and runs every refusal rule;
//  4. only then the host side: ID range, Docker's files given to the
//     mapped root, the rootfs staged (userns.StageRootfs);
//  5. the transforms (Checked.Apply) rewrite the spec, which is saved;
//  6. every bind source is opened once, compared with what the rules
//     checked and cloned into the staging directory (Stage.PinBinds), so
//     libcontainer mounts what was checked;
//  7. in a pod's network namespace owned by the host's user namespace,
//     sysfs is mounted and net.* sysctls written from the host side
//     (Stage.PreparePodNetwork).
func applyPolicyRoot(pol *hardening.Policy, path, root, id string, bundle *spec.Bundle, warnAudit bool) (_ *userns.Stage, _ *createLock, _ *audit.Record, retErr error) {
	rec := newCreateAudit(pol, path, root, id, bundle)
	var rep *hardening.Report
	defer func() { rec.write(rep, retErr) }()
	if pol.Mode == hardening.ModeOff {
		return nil, nil, &rec.rec, nil
	}
	written := bundle.RootfsPath()
	rootfs, err := idmap.PinDir(written)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("container %s: rootfs: %w", id, err)
	}
	defer rootfs.Close()
	facts, err := hardening.GatherHostFactsFor(bundle.Dir, bundle.Spec, pol, rootfs.Path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	hardening.GatherJoinFacts(root, bundle.Spec, &facts)
	hardening.GatherCgroupFacts(bundle.Spec, &facts)
	checked, err := hardening.Check(bundle.Spec, pol, facts)
	if checked != nil {
		rep = checked.Report
	}
	rec.dockerFacts(bundle.Spec, facts)
	if errors.Is(err, hardening.ErrRefused) {
		return nil, nil, nil, fmt.Errorf("container %s: %w; set these keys in %s", rec.label(), err, path)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	var stage *userns.Stage
	var lock *createLock
	if root != "" && checked.Policy.Mode == hardening.ModeEnforce {
		if stage, lock, err = lockAndStage(root, id, bundle.Spec, checked, &facts, rootfs, written); errors.Is(err, hardening.ErrRefused) {
			return nil, nil, nil, fmt.Errorf("container %s: %w; set these keys in %s", rec.label(), err, path)
		} else if err != nil {
			return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
		// Before config.json is rewritten: its temporary files are
		// found from here if this create dies.
		if err := lock.record(createRecord{Bundle: bundle.Dir}); err != nil {
			_ = userns.Release(root, id)
			lock.release()
			return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
		defer func() {
			if retErr != nil {
				if err := userns.Release(root, id); err != nil {
					logrus.Warn(err)
				}
				lock.release()
			}
		}()
	}
	report, err := checked.Apply(bundle.Spec, facts)
	if facts.IDRange != nil {
		rec.rec.UserNamespace = facts.IDRange.String()
	}
	if errors.Is(err, hardening.ErrRefused) {
		return nil, nil, nil, fmt.Errorf("container %s: %w; set these keys in %s", rec.label(), err, path)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	if stage != nil {
		if err := stage.PinBinds(bundle.Spec, bundle.Dir, facts.MountSources); err != nil {
			return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
		if err := stage.PreparePodNetwork(bundle.Spec, facts); err != nil {
			return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
	}
	if report.Mode == hardening.ModeEnforce && len(report.Changes) > 0 {
		if err := bundle.SaveRewritten(bundle.Spec); err != nil {
			return nil, nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
	}
	entry := logrus.WithFields(logrus.Fields{"id": id, "policy_mode": report.Mode, "policy_level": report.Level})
	if report.Mode == hardening.ModeAudit && warnAudit {
		// Without --log (Podman) only warnings are written; what audit
		// mode found is what the user asked to see.
		entry.Warn("hardened: " + report.Summary())
	} else {
		entry.Info("hardened: " + report.Summary())
	}
	return stage, lock, &rec.rec, nil
}

// libcontainerConfig converts the (hardened) spec. Paths that specconv
// would resolve against the process's working directory are made absolute
// against the bundle instead, so the runtime never changes directory.
func libcontainerConfig(opts Options, bundle *spec.Bundle, stage *userns.Stage) (*configs.Config, error) {
	s := *bundle.Spec
	root := *s.Root
	root.Path = bundle.RootfsPath()
	s.Root = &root
	s.Mounts = make([]specs.Mount, len(bundle.Spec.Mounts))
	for i, m := range bundle.Spec.Mounts {
		if m.Source != "" && !filepath.IsAbs(m.Source) && spec.IsBind(m) {
			m.Source = filepath.Join(bundle.Dir, m.Source)
		}
		s.Mounts[i] = m
	}
	stage.Rewrite(&s)
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       opts.ID,
		UseSystemdCgroup: opts.SystemdCgroup,
		NoPivotRoot:      opts.NoPivot,
		NoNewKeyring:     opts.NoNewKeyring,
		Spec:             &s,
		RootlessEUID:     os.Geteuid() != 0,
		RootlessCgroups:  opts.RootlessCgroups,
	})
	if err != nil {
		return nil, err
	}
	keepOlderConfigsWorking(opts.ID, cfg)
	pruneSeccomp(cfg.Seccomp)
	// specconv labels the bundle with the working directory; it is the bundle.
	for i, l := range cfg.Labels {
		if strings.HasPrefix(l, "bundle=") {
			cfg.Labels[i] = "bundle=" + bundle.Dir
		}
	}
	return cfg, nil
}

// lockAndStage takes the create lock of container id, refuses an ID
// that names an existing container (nothing of it may be touched, nor
// undone: its range and its staging directory are its own), and stages
// the rootfs (userns.StageRootfs). On error the lock is released and
// nothing staged is left.
func lockAndStage(root, id string, s *specs.Spec, checked *hardening.Checked, facts *hardening.HostFacts, rootfs *idmap.Pinned, written string) (*userns.Stage, *createLock, error) {
	lock, err := lockCreate(root, id)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Lstat(filepath.Join(root, id)); err == nil {
		lock.release()
		return nil, nil, libcontainer.ErrExist
	}
	stage, err := userns.StageRootfs(root, id, s, checked, facts, rootfs, written)
	if err != nil {
		lock.release()
		return nil, nil, err
	}
	return stage, lock, nil
}
