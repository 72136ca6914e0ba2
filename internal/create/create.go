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
	"github.com/hardened-runtime/hardened/internal/learn"
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
	// LogPath and LogJSON are the runtime's log (--log, --log-format
	// json), where a learned-profile recorder logs too.
	LogPath string
	LogJSON bool
	// Start is StartOnly (create), StartAndRun (run) or a restore; root
	// is the state root.
	Start func(root string, ct *libcontainer.Container, p *libcontainer.Process) error
	// Restore says Start restores a checkpoint (CRIU): its time grows
	// with the checkpoint, so learn's watchdog (learnWatchdog) leaves it
	// alone.
	Restore bool
}

// IDs of the conversion's adjustments in the Report's notes. They change
// libcontainer's config, not config.json, so they are notes, not changes.
const (
	// RuleCompat: a field libcontainer 1.2+ refuses and the kernel
	// ignores, cleared (keepOlderConfigsWorking).
	RuleCompat = "libcontainer-compat"
	// RuleSeccompPrune: seccomp rules that add nothing to the filter's
	// program, dropped (pruneSeccomp).
	RuleSeccompPrune = "seccomp-prune"
	// RuleDeferredRlimit: RLIMIT_AS set at start by the runtime, not by
	// libcontainer (rlimit.go).
	RuleDeferredRlimit = "rlimit-as-deferred"
)

// creation is one create on its way through the pipeline: each step
// reads what the steps before it made and adds its own. The plan (the
// checked configuration with its user-namespace plan) is made once, by
// check, and passed on.
type creation struct {
	opts Options
	// load: the host's policy and the bundle.
	pol    *hardening.Policy
	bundle *spec.Bundle
	// harden: the audit record being filled; the rootfs opened once
	// (open while harden runs) and its path as config.json spells it;
	// the host facts; the plan; the stage and the create lock held from
	// staging until the create is over.
	audit   *createAudit
	rootfs  *idmap.Pinned
	written string
	facts   hardening.HostFacts
	checked *hardening.Checked
	report  *hardening.Report
	stage   *userns.Stage
	lock    *createLock
	// convert: libcontainer's config, the init process without its
	// RLIMIT_AS (deferred to start), and the notify socket.
	cfg          *configs.Config
	process      *specs.Process
	addressSpace *configs.Rlimit
	notify       *runner.NotifySocket
	// recorder: the learned-profile recorder started for it (policy key
	// "learn"), nil for none.
	recorder *learn.Recorder
	// create: the container libcontainer made.
	container *libcontainer.Container
}

// Launch is the one door through which a new container is made: load the
// bundle, harden it, convert it for libcontainer, create the container
// and start its init process. create, run and restore all come here. It
// returns the exit status of a foreground init.
func Launch(opts Options) (_ int, retErr error) {
	if err := spec.ValidateID(opts.ID); err != nil {
		return -1, err
	}
	c := &creation{opts: opts}
	if err := c.load(); err != nil {
		return -1, err
	}
	if err := c.harden(); err != nil {
		return -1, err
	}
	// A container that does not outlive this command (failed, or run in
	// the foreground and removed at exit) gives back its ID range and its
	// staged rootfs; the others do at delete.
	defer func() {
		if c.stage != nil && (retErr != nil || (!opts.Detach && !opts.Keep)) {
			if err := userns.Release(opts.Root, opts.ID); err != nil {
				logrus.Warn(err)
			}
		}
		c.lock.release()
	}()
	defer func() {
		if retErr != nil {
			c.recorder.Abort()
		}
	}()
	if err := c.convert(); err != nil {
		return -1, err
	}
	if err := c.create(); err != nil {
		return -1, err
	}
	defer c.notify.Close()
	return c.run()
}

// load reads the policy, then the bundle: the policy comes first because
// it caps how much of config.json is read. Temporary files a killed
// rewrite of config.json left are removed.
func (c *creation) load() error {
	id := c.opts.ID
	pol, err := hardening.LoadPolicy(c.opts.PolicyPath)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	bundle, err := spec.LoadBundleLimit(c.opts.Bundle, pol.MaxConfigSize)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	for _, w := range bundle.Warnings {
		logrus.Warnf("container %s: %s: %s", id, bundle.ConfigPath(), w)
	}
	if err := spec.RemoveInterruptedWrites(bundle.OpenedDir()); err != nil {
		logrus.Warnf("container %s: %v", id, err)
	}
	c.pol, c.bundle = pol, bundle
	return nil
}

// harden applies the policy to the bundle's spec. A rewritten config.json
// is saved (the caller's kept beside it as config.json.orig). The audit
// record of the create is written here when it fails, else once the spec
// is converted (recordOutcome), with the conversion's notes. The steps
// run one way, and the host is touched only after every refusal:
//
//  1. pinRootfs: the rootfs is opened once (idmap.PinDir); the rules see
//     the canonical path of the opened directory, the container gets a
//     clone of that very directory;
//  2. gatherFacts: host facts are gathered once;
//  3. check: hardening.Check picks the effective policy (exceptions
//     applied), plans the user namespace with it and runs every refusal
//     rule;
//  4. stageHost (enforce mode, with a runtime root): only then the host
//     side: ID range, Docker's files given to the mapped root, the rootfs
//     staged (userns.StageRootfs);
//  5. transform: the transforms (Checked.Apply) rewrite the spec;
//  6. pinSources (with a stage): every bind source is opened once,
//     compared with what the rules checked and cloned into the staging
//     directory (Stage.PinBinds), so libcontainer mounts what was
//     checked; so is every host directory of an overlay mount's
//     options (Stage.PinOverlays); in a pod's network namespace owned by the host's user
//     namespace, sysfs is mounted and net.* sysctls written from the host
//     side (Stage.PreparePodNetwork);
//  7. save: the rewritten spec is saved.
//
// On error everything staged is undone.
func (c *creation) harden() (retErr error) {
	c.audit = newCreateAudit(c.pol, c.opts.PolicyPath, c.opts.Root, c.opts.ID, c.bundle)
	defer func() {
		if retErr != nil {
			c.recordOutcome(retErr)
		}
	}()
	if c.pol.Mode == hardening.ModeOff {
		return nil
	}
	if err := c.pinRootfs(); err != nil {
		return err
	}
	defer c.rootfs.Close()
	if err := c.gatherFacts(); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	if c.opts.Root != "" && c.checked.Policy.Mode == hardening.ModeEnforce {
		if err := c.stageHost(); err != nil {
			return err
		}
		defer func() {
			if retErr != nil {
				c.unstage()
			}
		}()
	}
	if err := c.transform(); err != nil {
		return err
	}
	if err := c.pinSources(); err != nil {
		return err
	}
	if err := c.save(); err != nil {
		return err
	}
	// From here the record shows the policy's outcome (effective mode
	// and level, changes); the conversion adds its notes.
	c.audit.rec.FromReport(c.checked.Report)
	return nil
}

// unstage undoes stageHost after a later step failed: the staged rootfs
// and the ID range go back, the create lock is released.
func (c *creation) unstage() {
	if c.stage == nil {
		return
	}
	if err := userns.Release(c.opts.Root, c.opts.ID); err != nil {
		logrus.Warn(err)
	}
	c.lock.release()
	c.stage, c.lock = nil, nil
}

// pinRootfs opens the rootfs once.
func (c *creation) pinRootfs() error {
	c.written = c.bundle.RootfsPath()
	rootfs, err := idmap.PinDir(c.written)
	if err != nil {
		return fmt.Errorf("container %s: rootfs: %w", c.opts.ID, err)
	}
	c.rootfs = rootfs
	return nil
}

// gatherFacts reads everything the rules need from the host, once.
func (c *creation) gatherFacts() error {
	s := c.bundle.Spec
	facts, err := hardening.GatherHostFactsOf(c.bundle.Dir, c.opts.ID, s, c.pol, c.rootfs.Path)
	if err != nil {
		return fmt.Errorf("container %s: %w", c.opts.ID, err)
	}
	hardening.GatherJoinFacts(c.opts.Root, s, &facts)
	hardening.GatherCgroupFacts(s, &facts)
	c.facts = facts
	return nil
}

// check makes the plan (hardening.Check): the effective policy, the
// user-namespace plan, and every refusal.
func (c *creation) check() error {
	checked, err := hardening.Check(c.bundle.Spec, c.pol, c.facts)
	c.checked = checked
	c.audit.dockerFacts(c.bundle.Spec, c.facts)
	return c.refusalOr(err)
}

// stageHost takes the create lock and carries out the plan's host side
// (lockAndStage), then records the bundle in the lock before config.json
// is rewritten: its temporary files are found from there if this create
// dies.
func (c *creation) stageHost() error {
	root, id := c.opts.Root, c.opts.ID
	stage, lock, err := lockAndStage(root, id, c.bundle.Spec, c.checked, &c.facts, c.rootfs, c.written)
	if err != nil {
		return c.refusalOr(err)
	}
	if err := lock.record(createRecord{Bundle: c.bundle.Dir}); err != nil {
		_ = userns.Release(root, id)
		lock.release()
		return fmt.Errorf("container %s: %w", id, err)
	}
	c.stage, c.lock = stage, lock
	return nil
}

// transform runs the plan's transforms (Checked.Apply) on the spec.
func (c *creation) transform() error {
	report, err := c.checked.Apply(c.bundle.Spec, c.facts)
	if c.facts.IDRange != nil {
		c.audit.rec.UserNamespace = c.facts.IDRange.String()
	}
	if err := c.refusalOr(err); err != nil {
		return err
	}
	c.report = report
	return nil
}

// pinSources pins every bind source and prepares a pod's network
// namespace, for a staged container.
func (c *creation) pinSources() error {
	if c.stage == nil {
		return nil
	}
	if err := c.stage.PinBinds(c.bundle.Spec, c.bundle.Dir, c.facts.MountSources); err != nil {
		return fmt.Errorf("container %s: %w", c.opts.ID, err)
	}
	if err := c.stage.PinOverlays(c.bundle.Spec, c.facts.MountSources); err != nil {
		return fmt.Errorf("container %s: %w", c.opts.ID, err)
	}
	if err := c.stage.PreparePodNetwork(c.bundle.Spec, c.facts); err != nil {
		return fmt.Errorf("container %s: %w", c.opts.ID, err)
	}
	return nil
}

// save writes the rewritten config.json, in enforce mode when something
// changed.
func (c *creation) save() error {
	if c.report.Mode == hardening.ModeEnforce && len(c.report.Changes) > 0 {
		if err := c.bundle.SaveRewritten(c.bundle.Spec); err != nil {
			return fmt.Errorf("container %s: %w", c.opts.ID, err)
		}
	}
	return nil
}

// logSummary writes the one log line of what hardening did (none in off
// mode).
func (c *creation) logSummary() {
	r := c.report
	if r == nil {
		return
	}
	entry := logrus.WithFields(logrus.Fields{"id": c.opts.ID, "policy_mode": r.Mode, "policy_level": r.Level})
	if r.Mode == hardening.ModeAudit && c.opts.WarnAuditFindings {
		// Without --log (Podman) only warnings are written; what audit
		// mode found is what the user asked to see.
		entry.Warn("hardened: " + r.Summary())
	} else {
		entry.Info("hardened: " + r.Summary())
	}
}

// refusalOr wraps an error of the rules: a refusal names the container
// (with its workload) and the policy file whose keys allow it.
func (c *creation) refusalOr(err error) error {
	if errors.Is(err, hardening.ErrRefused) {
		return fmt.Errorf("container %s: %w; set these keys in %s", c.audit.label(), err, c.opts.PolicyPath)
	}
	if err != nil {
		return fmt.Errorf("container %s: %w", c.opts.ID, err)
	}
	return nil
}

// convert makes libcontainer's config of the hardened spec: the notify
// socket added (runtime's own, not saved to the bundle), the spec
// converted (libcontainerConfig), the seccomp filter handed to a
// learned-profile recorder when the policy's "learn" key selects the
// container (learn.Prepare), compiled into the cache, RLIMIT_AS taken
// out to be set at start (withoutAddressSpaceLimit).
func (c *creation) convert() error {
	id := c.opts.ID
	c.notify = runner.NewNotifySocket(c.opts.Root, id, c.opts.NotifySocket)
	c.notify.SetupSpec(c.bundle.Spec)
	cfg, notes, err := libcontainerConfig(c.opts, c.bundle, c.stage)
	if err != nil {
		return c.recordOutcome(fmt.Errorf("container %s: %w", id, err))
	}
	joinCheckedNamespaces(cfg, c.facts.Namespaces)
	if c.pol != nil && len(c.pol.Learn) > 0 {
		var learned learn.Applied
		c.recorder, learned = learn.Prepare(learn.Container{ID: id, Root: c.opts.Root, Annotations: c.bundle.Spec.Annotations,
			Policy: c.pol, Seccomp: cfg.Seccomp, Audit: AuditLog(c.pol), Record: c.audit.rec,
			LogPath: c.opts.LogPath, LogJSON: c.opts.LogJSON})
		c.audit.rec.Profile, c.audit.rec.ProfileMode = learned.Key, learned.Mode
	}
	warmSeccompCache(c.opts.Build, id, cfg)
	c.process, c.addressSpace = withoutAddressSpaceLimit(cfg, c.bundle.Spec.Process)
	c.cfg = cfg
	if l := c.addressSpace; l != nil {
		notes = append(notes, hardening.Note{Rule: RuleDeferredRlimit, Message: fmt.Sprintf("RLIMIT_AS (soft %d, hard %d) set by the runtime on the init at start, once its seccomp filter is installed, instead of by libcontainer before", l.Soft, l.Hard)})
	}
	// What the conversion changed in libcontainer's config joins the
	// Report's notes, after the rules' (off mode has no Report), and the
	// create's audit record is written with them.
	if c.checked != nil && c.checked.Report != nil {
		c.checked.Report.Notes = append(c.checked.Report.Notes, notes...)
	}
	return c.recordOutcome(nil)
}

// recordOutcome writes the audit record of the create with the outcome
// err (nil: hardened and converted), and on success the summary log
// line. It returns err.
func (c *creation) recordOutcome(err error) error {
	var rep *hardening.Report
	if c.checked != nil {
		rep = c.checked.Report
	}
	c.audit.write(rep, err)
	if err == nil {
		c.logSummary()
	}
	return err
}

// joinCheckedNamespaces has the init join the namespace files the rules
// judged, through the descriptors this process opened for them
// (/proc/<pid>/fd/<n>, open until the init has joined), not by opening
// the spec's paths again.
func joinCheckedNamespaces(cfg *configs.Config, files hardening.NamespaceFiles) {
	for i, ns := range cfg.Namespaces {
		if ns.Path != "" {
			cfg.Namespaces[i].Path = files.ProcPath(ns.Path)
		}
	}
}

// create has libcontainer make the container. The cgroup is recorded in
// the create lock before libcontainer makes it, so that delete finds it
// if this create dies before the state is saved; once the container
// exists, its record, deferred RLIMIT_AS and notify socket directory are
// put in its state directory (a failure there destroys it).
func (c *creation) create() error {
	root, id := c.opts.Root, c.opts.ID
	if c.lock == nil {
		lock, err := lockCreate(root, id)
		if err != nil {
			return fmt.Errorf("container %s: %w", id, err)
		}
		c.lock = lock
	}
	if err := c.lock.record(createRecord{Bundle: c.bundle.Dir, Cgroup: cgroupRecord(c.cfg.Cgroups)}); err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	ct, err := libcontainer.Create(root, id, c.cfg)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	if err := saveRecord(root, id, &c.audit.rec); err != nil {
		_ = ct.Destroy()
		return fmt.Errorf("container %s: %w", id, err)
	}
	if err := saveDeferredLimit(root, id, c.addressSpace); err != nil {
		_ = ct.Destroy()
		return fmt.Errorf("container %s: %w", id, err)
	}
	if err := c.notify.Prepare(c.opts.NotifyBind); err != nil {
		_ = ct.Destroy()
		return fmt.Errorf("container %s: %w", id, err)
	}
	c.container = ct
	return nil
}

// run starts the container's init (Options.Start) and, in the
// foreground, waits for it.
func (c *creation) run() (int, error) {
	r := runner.Process{
		Container:     c.container,
		Init:          true,
		Start:         c.start,
		Detach:        c.opts.Detach,
		ConsoleSocket: c.opts.ConsoleSocket,
		PidFile:       c.opts.PidFile,
		PreserveFDs:   c.opts.PreserveFDs,
		Subreaper:     !c.opts.NoSubreaper,
		Destroy:       !c.opts.Keep,
		PidfdSocket:   c.opts.PidfdSocket,
		ListenFDs:     c.opts.ListenFDs,
		Notify:        c.notify,
	}
	status, err := r.Run(c.process)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", c.opts.ID, err)
	}
	return status, nil
}

// start runs Options.Start on the container's init process p; for a
// container with a learned-profile recorder, under learnWatchdog
// (except a restore).
func (c *creation) start(p *libcontainer.Process) error {
	start := func() error { return c.opts.Start(c.opts.Root, c.container, p) }
	if c.recorder == nil || c.opts.Restore {
		return start()
	}
	w := learnWatchdog{key: c.audit.rec.Profile, mode: c.audit.rec.ProfileMode, timeout: learnStartTimeout,
		kill: func() error { return killCgroupProcesses(c.cfg.Cgroups) }}
	return w.run(start)
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

// libcontainerConfig converts the (hardened) spec. Paths that specconv
// would resolve against the process's working directory are made absolute
// against the bundle instead, so the runtime never changes directory.
//
// It also adjusts libcontainer's config where the spec's meaning does not
// change (keepOlderConfigsWorking, pruneSeccomp) and returns a note for
// each adjustment.
func libcontainerConfig(opts Options, bundle *spec.Bundle, stage *userns.Stage) (*configs.Config, []hardening.Note, error) {
	s := *bundle.Spec
	root := *s.Root
	root.Path = bundle.RootfsPath()
	s.Root = &root
	s.Mounts = make([]specs.Mount, len(bundle.Spec.Mounts))
	for i, m := range bundle.Spec.Mounts {
		if m.Source != "" && !filepath.IsAbs(m.Source) && spec.IsBind(m) {
			m.Source = spec.BindSource(m, bundle.Dir)
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
		return nil, nil, err
	}
	notes := keepOlderConfigsWorking(opts.ID, cfg)
	if n := pruneSeccomp(cfg.Seccomp); n > 0 {
		notes = append(notes, hardening.Note{Rule: RuleSeccompPrune, Message: fmt.Sprintf("%d of %d seccomp rules dropped for libcontainer: syscalls the host's libseccomp does not know, or without a number on the only (native) ABI; the filter's program is the same", n, n+len(cfg.Seccomp.Syscalls))})
	}
	// specconv labels the bundle with the working directory; it is the bundle.
	for i, l := range cfg.Labels {
		if strings.HasPrefix(l, "bundle=") {
			cfg.Labels[i] = "bundle=" + bundle.Dir
		}
	}
	return cfg, notes, nil
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
