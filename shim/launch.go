package shim

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
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/idmap"
	"github.com/hardened-runtime/hardened/internal/audit"
	"github.com/hardened-runtime/hardened/internal/learn"
	"github.com/hardened-runtime/hardened/spec"
)

// launchOptions are what create, run and restore share.
type launchOptions struct {
	id            string
	bundle        string
	consoleSocket string
	pidFile       string
	preserveFDs   int
	noPivot       bool
	noNewKeyring  bool
	detach        bool
	noSubreaper   bool
	// pidfdSocket, listenFDs and notify: see processRun; notifyBind
	// listens on the notify socket now (run) rather than at start.
	pidfdSocket string
	listenFDs   []*os.File
	notifyBind  bool
	// keep leaves a foreground container's state behind after it exits.
	keep bool
	// start is startOnly (create), startAndRun (run) or a Restore closure;
	// root is the state root.
	start func(root string, ct *libcontainer.Container, p *libcontainer.Process) error
}

// launch is the one door through which a new container is made: load the
// bundle, harden it, convert it for libcontainer, create the container
// and start its init process. create, run and restore all come here.
func launch(c *cli.Context, opts launchOptions) (_ int, retErr error) {
	if err := spec.ValidateID(opts.id); err != nil {
		return -1, err
	}
	root, err := stateRoot(c)
	if err != nil {
		return -1, err
	}
	// The policy comes first: it caps how much of config.json is read.
	pol, polPath, err := loadPolicy(c)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	bundle, err := spec.LoadBundleLimit(opts.bundle, pol.MaxConfigSize)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	for _, w := range bundle.Warnings {
		logrus.Warnf("container %s: %s: %s", opts.id, bundle.ConfigPath(), w)
	}
	if err := spec.RemoveInterruptedWrites(bundle.Dir); err != nil {
		logrus.Warnf("container %s: %v", opts.id, err)
	}
	stage, record, err := applyPolicyRoot(pol, polPath, root, opts.id, bundle)
	if err != nil {
		return -1, err
	}
	// A container that does not outlive this command (failed, or run in
	// the foreground and removed at exit) gives back its ID range and its
	// staged rootfs; the others do at delete.
	defer func() {
		if stage != nil && (retErr != nil || (!opts.detach && !opts.keep)) {
			if err := releaseUserns(root, opts.id); err != nil {
				logrus.Warn(err)
			}
		}
		stage.unlock()
	}()
	notify := newNotifySocket(root, opts.id, os.Getenv("NOTIFY_SOCKET"))
	notify.setupSpec(bundle.Spec)
	cfg, err := libcontainerConfig(c, opts, bundle, stage)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	recorder := learn.Prepare(learn.Container{ID: opts.id, Root: root, Annotations: bundle.Spec.Annotations,
		Policy: pol, Seccomp: cfg.Seccomp, Audit: auditLog(pol), Record: *record,
		LogPath: c.String("log"), LogJSON: c.String("log-format") == "json"})
	defer func() {
		if retErr != nil {
			recorder.Abort()
		}
	}()
	warmSeccompCache(c, opts.id, cfg)
	process, addressSpace := withoutAddressSpaceLimit(cfg, bundle.Spec.Process)
	// The cgroup is recorded before libcontainer makes it, so that delete
	// finds it if this create dies before the state is saved.
	lock := stage.createLock()
	if lock == nil {
		if lock, err = lockCreate(root, opts.id); err != nil {
			return -1, fmt.Errorf("container %s: %w", opts.id, err)
		}
		defer lock.release()
	}
	if err := lock.record(createRecord{Bundle: bundle.Dir, Cgroup: cgroupRecord(cfg.Cgroups)}); err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	ct, err := libcontainer.Create(root, opts.id, cfg)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	if err := saveRecord(root, opts.id, record); err != nil {
		_ = ct.Destroy()
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	if err := saveDeferredLimit(root, opts.id, addressSpace); err != nil {
		_ = ct.Destroy()
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	if err := notify.prepare(opts.notifyBind); err != nil {
		_ = ct.Destroy()
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	defer notify.close()
	r := processRun{
		container:     ct,
		init:          true,
		start:         func(p *libcontainer.Process) error { return opts.start(root, ct, p) },
		detach:        opts.detach,
		consoleSocket: opts.consoleSocket,
		pidFile:       opts.pidFile,
		preserveFDs:   opts.preserveFDs,
		subreaper:     !opts.noSubreaper,
		destroy:       !opts.keep,
		pidfdSocket:   opts.pidfdSocket,
		listenFDs:     opts.listenFDs,
		notify:        notify,
	}
	status, err := r.run(process)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", opts.id, err)
	}
	return status, nil
}

// startOnly starts the container's init, which then waits for "start".
func startOnly(_ string, ct *libcontainer.Container, p *libcontainer.Process) error {
	return ct.Start(p)
}

// startAndRun starts the init and lets it run the user's process at once.
func startAndRun(root string, ct *libcontainer.Container, p *libcontainer.Process) error {
	if err := ct.Start(p); err != nil {
		return err
	}
	limit, err := prepareDeferredLimit(root, ct)
	if err != nil {
		return err
	}
	if err := ct.Exec(); err != nil {
		return err
	}
	return limit.afterExec()
}

// applyPolicy hardens the bundle's spec. A rewritten config.json is saved
// (the caller's kept beside it as config.json.orig) and summed up in one
// log line per container. path names the policy file in refusals. It
// stages nothing (no runtime root).
func applyPolicy(pol *hardening.Policy, path, id string, bundle *spec.Bundle) error {
	_, _, err := applyPolicyRoot(pol, path, "", id, bundle)
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
//     mapped root, the rootfs staged (stageRootfs);
//  5. the transforms (Checked.Apply) rewrite the spec, which is saved;
//  6. every bind source is opened once, compared with what the rules
//     checked and cloned into the staging directory (pinBinds), so
//     libcontainer mounts what was checked;
//  7. in a pod's network namespace owned by the host's user namespace,
//     sysfs is mounted and net.* sysctls written from the host side
//     (preparePodNetwork).
func applyPolicyRoot(pol *hardening.Policy, path, root, id string, bundle *spec.Bundle) (_ *rootfsStage, _ *audit.Record, retErr error) {
	rec := newCreateAudit(pol, path, root, id, bundle)
	var rep *hardening.Report
	defer func() { rec.write(rep, retErr) }()
	if pol.Mode == hardening.ModeOff {
		return nil, &rec.rec, nil
	}
	written := bundle.RootfsPath()
	rootfs, err := idmap.PinDir(written)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: rootfs: %w", id, err)
	}
	defer rootfs.Close()
	facts, err := hardening.GatherHostFactsFor(bundle.Dir, bundle.Spec, pol, rootfs.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	hardening.GatherJoinFacts(root, bundle.Spec, &facts)
	hardening.GatherCgroupFacts(bundle.Spec, &facts)
	checked, err := hardening.Check(bundle.Spec, pol, facts)
	if checked != nil {
		rep = checked.Report
	}
	rec.dockerFacts(bundle.Spec, facts)
	if errors.Is(err, hardening.ErrRefused) {
		return nil, nil, fmt.Errorf("container %s: %w; set these keys in %s", rec.label(), err, path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	var stage *rootfsStage
	if root != "" && checked.Policy.Mode == hardening.ModeEnforce {
		if stage, err = stageRootfs(root, id, bundle.Spec, checked, &facts, rootfs, written); errors.Is(err, hardening.ErrRefused) {
			return nil, nil, fmt.Errorf("container %s: %w; set these keys in %s", rec.label(), err, path)
		} else if err != nil {
			return nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
		// Before config.json is rewritten: its temporary files are
		// found from here if this create dies.
		if err := stage.lock.record(createRecord{Bundle: bundle.Dir}); err != nil {
			_ = releaseUserns(root, id)
			stage.unlock()
			return nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
		defer func() {
			if retErr != nil {
				if err := releaseUserns(root, id); err != nil {
					logrus.Warn(err)
				}
				stage.unlock()
			}
		}()
	}
	report, err := checked.Apply(bundle.Spec, facts)
	if facts.IDRange != nil {
		rec.rec.UserNamespace = facts.IDRange.String()
	}
	if errors.Is(err, hardening.ErrRefused) {
		return nil, nil, fmt.Errorf("container %s: %w; set these keys in %s", rec.label(), err, path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("container %s: %w", id, err)
	}
	if stage != nil {
		if err := stage.pinBinds(bundle.Spec, bundle.Dir, facts.MountSources); err != nil {
			return nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
		if err := stage.preparePodNetwork(bundle.Spec, facts); err != nil {
			return nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
	}
	if report.Mode == hardening.ModeEnforce && len(report.Changes) > 0 {
		if err := bundle.SaveRewritten(bundle.Spec); err != nil {
			return nil, nil, fmt.Errorf("container %s: %w", id, err)
		}
	}
	entry := logrus.WithFields(logrus.Fields{"id": id, "policy_mode": report.Mode, "policy_level": report.Level})
	if report.Mode == hardening.ModeAudit && loggingToStderr() {
		// Without --log (Podman) only warnings are written; what audit
		// mode found is what the user asked to see.
		entry.Warn("hardened: " + report.Summary())
	} else {
		entry.Info("hardened: " + report.Summary())
	}
	return stage, &rec.rec, nil
}

// libcontainerConfig converts the (hardened) spec. Paths that specconv
// would resolve against the process's working directory are made absolute
// against the bundle instead, so the runtime never changes directory.
func libcontainerConfig(c *cli.Context, opts launchOptions, bundle *spec.Bundle, stage *rootfsStage) (*configs.Config, error) {
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
	stage.rewrite(&s)
	rootlessCgroups, err := rootlessCgroups(c)
	if err != nil {
		return nil, err
	}
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:       opts.id,
		UseSystemdCgroup: c.Bool("systemd-cgroup"),
		NoPivotRoot:      opts.noPivot,
		NoNewKeyring:     opts.noNewKeyring,
		Spec:             &s,
		RootlessEUID:     os.Geteuid() != 0,
		RootlessCgroups:  rootlessCgroups,
	})
	if err != nil {
		return nil, err
	}
	keepOlderConfigsWorking(opts.id, cfg)
	pruneSeccomp(cfg.Seccomp)
	// specconv labels the bundle with the working directory; it is the bundle.
	for i, l := range cfg.Labels {
		if strings.HasPrefix(l, "bundle=") {
			cfg.Labels[i] = "bundle=" + bundle.Dir
		}
	}
	return cfg, nil
}

// rootlessCgroups interprets --rootless: true, false, or auto (rootless
// only when not running as root).
func rootlessCgroups(c *cli.Context) (bool, error) {
	switch v := c.String("rootless"); v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "", "auto":
		return os.Geteuid() != 0, nil
	default:
		return false, fmt.Errorf("--rootless: %q is not true, false or auto", v)
	}
}
