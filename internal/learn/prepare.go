package learn

import (
	"os"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/sirupsen/logrus"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/audit"
)

// Container is what Prepare needs of a container about to be created.
type Container struct {
	// ID and Root are the container's ID and state root.
	ID, Root string
	// Annotations are the (untrusted) config.json annotations, matched
	// against the policy's orchestrator-set keys only, and with Record's
	// Workload against the workload keys.
	Annotations map[string]string
	// Policy is the host policy.
	Policy *hardening.Policy
	// Seccomp is the libcontainer filter, rewritten in place.
	Seccomp *configs.Seccomp
	// Audit and Record: where denials are recorded, and the container's
	// part of each record.
	Audit  audit.Log
	Record audit.Record
	// LogPath and LogJSON: the runtime's log (--log) for the recorder.
	LogPath string
	LogJSON bool
	// Exe is the binary run as recorder ("" for /proc/self/exe) and
	// SocketDir where its socket goes ("" for SocketDir).
	Exe, SocketDir string
	// Store is where profiles are (zero: DefaultStore).
	Store Store
}

// Applied says what Prepare did to a container: Mode is "learn" or
// "enforce" with the profile Key, "" when the container runs under the
// policy alone.
type Applied struct {
	Key, Mode string
}

// Prepare applies the policy's "learn" key to a container: for learn, its
// filter notifies every allowed call to a recorder; for enforce, with a
// learned profile, its filter is narrowed to the profile. It returns the
// started recorder (nil when none), which the caller aborts if the create
// fails, and what it applied. Learning is never a reason to fail a create: what goes wrong
// (a corrupt profile, a recorder that does not start) is logged and the
// container runs under the policy alone, or, for enforce without a
// recorder, with the unlearned calls denied without an audit record.
func Prepare(c Container) (*Recorder, Applied) {
	choice, ok := c.Policy.LearnFor(withWorkload(c.Annotations, c.Record.Workload))
	if !ok || c.Policy.Mode != hardening.ModeEnforce {
		return nil, Applied{}
	}
	log := logrus.WithFields(logrus.Fields{"id": c.ID, "profile": choice.Key, "profile_mode": choice.Mode})
	if c.Seccomp == nil {
		log.Warnf("container %s: no seccomp filter, nothing to learn or enforce for profile %s", c.ID, choice.Key)
		return nil, Applied{}
	}
	if c.Seccomp.ListenerPath != "" || hasNotify(c.Seccomp) {
		log.Warnf("container %s: its seccomp profile has its own notify listener; profile %s ignored", c.ID, choice.Key)
		return nil, Applied{}
	}
	if os.Geteuid() != 0 {
		log.Warnf("container %s: learned profiles need root; profile %s ignored", c.ID, choice.Key)
		return nil, Applied{}
	}
	store := c.Store
	if store.Dir == "" {
		store = DefaultStore()
	}
	learned, err := store.Load(choice.Key)
	if err != nil {
		log.Errorf("container %s: %v; the container runs under the policy alone (fix or delete the file: hardened profile delete %s)", c.ID, err, choice.Key)
		return nil, Applied{}
	}
	exe := c.Exe
	if exe == "" {
		exe = "/proc/self/exe"
	}
	dir := c.SocketDir
	if dir == "" {
		dir = SocketDir
	}
	path := SocketPath(dir, c.Root, c.ID)
	rc := RecorderConfig{
		ID: c.ID, Mode: choice.Mode, Key: choice.Key, Dir: store.Dir,
		Audit: c.Audit, Record: c.Record, LogPath: c.LogPath, LogJSON: c.LogJSON,
	}
	rc.Record.Changes, rc.Record.Refusals, rc.Record.Warnings, rc.Record.Notes = nil, nil, nil, nil
	switch choice.Mode {
	case hardening.LearnModeLearn:
		narrowed := cloneSeccomp(c.Seccomp)
		rc.Args = RewriteForLearning(narrowed, path)
		rec, err := Start(exe, path, rc)
		if err != nil {
			log.Errorf("container %s: %v; not learning profile %s", c.ID, err, choice.Key)
			return nil, Applied{}
		}
		*c.Seccomp = *narrowed
		log.Infof("container %s: learning its system calls into profile %s", c.ID, choice.Key)
		return rec, Applied{Key: choice.Key, Mode: choice.Mode}
	default:
		if learned == nil {
			log.Infof("container %s: no learned profile %s yet; the container runs under the policy alone", c.ID, choice.Key)
			return nil, Applied{}
		}
		narrowed := cloneSeccomp(c.Seccomp)
		denied := RewriteForEnforcing(narrowed, learned, path)
		var rec *Recorder
		if narrowed.ListenerPath != "" {
			if rec, err = Start(exe, path, rc); err != nil {
				log.Errorf("container %s: %v; calls outside profile %s are denied without an audit record", c.ID, err, choice.Key)
				denyWithoutRecorder(narrowed)
			}
		}
		*c.Seccomp = *narrowed
		log.Infof("container %s: learned profile %s enforced (%d system calls of the policy's denied)", c.ID, choice.Key, len(denied))
		return rec, Applied{Key: choice.Key, Mode: choice.Mode}
	}
}

// withWorkload returns the annotations with the workload's keys
// (hardening.LearnWorkloadKeys) added; a caller's annotation of that name
// is replaced.
func withWorkload(ann map[string]string, w audit.Workload) map[string]string {
	out := make(map[string]string, len(ann)+5)
	for k, v := range ann {
		out[k] = v
	}
	for k, v := range map[string]string{
		"workload.engine": w.Engine, "workload.namespace": w.Namespace, "workload.pod": w.Pod,
		"workload.name": w.Name, "workload.image": w.Image,
	} {
		if v != "" {
			out[k] = v
		} else {
			delete(out, k)
		}
	}
	return out
}

// denyWithoutRecorder turns the notify rules into EPERM rules.
func denyWithoutRecorder(cfg *configs.Seccomp) {
	eperm := uint(1)
	for _, sc := range cfg.Syscalls {
		if sc != nil && sc.Action == configs.Notify {
			sc.Action = configs.Errno
			sc.ErrnoRet = &eperm
		}
	}
	cfg.ListenerPath = ""
}

// cloneSeccomp copies a filter deeply enough to rewrite its rules.
func cloneSeccomp(cfg *configs.Seccomp) *configs.Seccomp {
	out := *cfg
	out.Syscalls = make([]*configs.Syscall, len(cfg.Syscalls))
	for i, sc := range cfg.Syscalls {
		if sc == nil {
			continue
		}
		c := *sc
		out.Syscalls[i] = &c
	}
	return &out
}
