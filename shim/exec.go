package shim

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/hardening"
	"github.com/hardened-runtime/hardened/internal/execspec"
	"github.com/hardened-runtime/hardened/internal/runner"
	"github.com/hardened-runtime/hardened/internal/userns"
	"github.com/hardened-runtime/hardened/spec"
)

func execCommand() *cli.Command {
	return &cli.Command{
		Name:  "exec",
		Usage: "run a new process inside a running container",
		ArgsUsage: `<container-id> <command> [args...]
   or: hardened exec --process process.json <container-id>`,
		Description: `The exec command runs a process in an existing container. The process is
either read whole from --process (a runtime-spec Process, as containerd
passes it) or taken from the bundle's config.json with the command and the
flags below applied. Either way it is clamped by the host's hardening policy
(capabilities, no-new-privileges) before it runs.

EXAMPLE:
       # hardened exec web1 ps`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "file with the runtime-spec Process to run (the command line then gives only the ID)"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the process once it is started"},
			&cli.StringFlag{Name: "pid-file", Usage: "file to write the process's host PID to"},
			&cli.StringFlag{Name: "console-socket", Usage: "unix socket that receives the pseudoterminal master (with --tty --detach)"},
			&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors (from fd 3) to the process"},
			&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudoterminal"},
			&cli.StringFlag{Name: "cwd", Usage: "working directory in the container"},
			&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "add an environment variable (NAME=value)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "user to run as: <uid>[:<gid>]"},
			&cli.Int64SliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "add a supplementary group ID"},
			&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability (still subject to the hardening policy)"},
			&cli.BoolFlag{Name: "no-new-privs", Usage: "set no_new_privs for the process (the policy may require it anyway)"},
			&cli.StringFlag{Name: "apparmor", Usage: "AppArmor profile for the process"},
			&cli.StringFlag{Name: "process-label", Usage: "SELinux label for the process"},
			&cli.StringFlag{Name: "pidfd-socket", Usage: "unix socket that receives a pidfd of the process"},
			&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an existing sub-cgroup of the container's: <path> (cgroup v2) or <controller>[,<controller>...]:<path> (v1, repeatable)"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, -1); err != nil {
				return err
			}
			status, err := execInContainer(c)
			if err != nil {
				return &exitCodeError{code: execFailedCode, err: wrapFailure("exec", err)}
			}
			return exitWith(status)
		},
	}
}

// execFailedCode is the exit code of an exec that could not run its
// process (runc's): 255, out of the way of the process's own statuses.
const execFailedCode = 255

// execInContainer assembles the process, clamps it and runs it. It returns
// the process's exit status (0 when detached).
func execInContainer(c *cli.Context) (int, error) {
	ct, err := loadContainer(c)
	if err != nil {
		return -1, err
	}
	if err := checkExecStatus(ct, c.Bool("ignore-paused")); err != nil {
		return -1, err
	}
	pol, _, err := containerPolicy(c, ct)
	if err != nil {
		return -1, err
	}
	p, err := execProcessSpec(c, ct, pol.MaxConfigSize)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	// The one clamp for exec'd processes: whatever the caller asked for,
	// the process gets no more than the policy allows.
	facts := hardening.HostFacts{ProcessLimits: hardening.GatherProcessLimits()}
	rep, err := hardening.ClampProcess(p, pol, facts)
	recordExec(c, ct, pol, p, rep, err)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	subCgroups, err := execspec.SubCgroupPaths(c.StringSlice("cgroup"))
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	// What the engine copied into the container since it last ran a
	// process there is the container's (docker cp, then docker exec).
	// (Not while it is paused: its layer may be at rest then.) A pod's
	// container is skipped: the kubelet writes nothing into its layer
	// (kubectl cp runs tar in the container), and its exec probes would
	// pay for the walk every few seconds.
	if root, err := stateRoot(c); err == nil && !inPod(ct) {
		if status, err := ct.Status(); err == nil && status == libcontainer.Running {
			userns.AdoptEngineWrites(root, ct.ID())
		}
	}
	logrus.Debugf("container %s: exec %q", ct.ID(), p.Args)
	r := runner.Process{
		Container:      ct,
		Init:           false,
		Start:          ct.Run,
		Detach:         c.Bool("detach"),
		ConsoleSocket:  c.String("console-socket"),
		PidFile:        c.String("pid-file"),
		PreserveFDs:    c.Int("preserve-fds"),
		Subreaper:      false,
		Destroy:        false,
		PidfdSocket:    c.String("pidfd-socket"),
		SubCgroupPaths: subCgroups,
	}
	status, err := r.Run(p)
	if err != nil {
		return -1, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	return status, nil
}

// containerPolicy is the policy in effect for the container, with the
// path of the policy file: the host's policy plus the exceptions its
// annotations selected at create, so that exec and update get what init
// got. The annotations come from libcontainer's state under --root
// (written at create from the hardened spec), not from the bundle, whose
// owner may have edited config.json since.
func containerPolicy(c *cli.Context, ct *libcontainer.Container) (*hardening.Policy, string, error) {
	pol, path, err := loadPolicy(c)
	if err != nil {
		return nil, path, fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	_, annotations := utils.Annotations(ct.Config().Labels)
	eff, _ := pol.ForAnnotations(annotations)
	return eff, path, nil
}

// checkExecStatus refuses a container that cannot take a new process. A
// stopped container's error keeps libcontainer.ErrNotRunning in its chain
// ("container not running", which containerd matches).
func checkExecStatus(ct *libcontainer.Container, ignorePaused bool) error {
	status, err := ct.Status()
	if err != nil {
		return fmt.Errorf("container %s: %w", ct.ID(), err)
	}
	switch {
	case status == libcontainer.Stopped:
		return fmt.Errorf("container %s: cannot exec: %w", ct.ID(), libcontainer.ErrNotRunning)
	case status == libcontainer.Paused && !ignorePaused:
		return fmt.Errorf("container %s: cannot exec in a paused container (use --ignore-paused to override)", ct.ID())
	}
	return nil
}

// execProcessSpec returns the process to exec: the --process file as is,
// or the bundle's process with the command line's changes applied. Either
// file is read up to maxSize bytes (the policy's maxConfigSize).
func execProcessSpec(c *cli.Context, ct *libcontainer.Container, maxSize int64) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		if c.NArg() > 1 {
			return nil, errors.New("--process gives the whole process: no command may follow the container ID")
		}
		return readProcessFile(path, maxSize)
	}
	if c.NArg() < 2 {
		return nil, errors.New("no command given (use <container-id> <command> or --process)")
	}
	p, err := execspec.FromBundle(ct, maxSize)
	if err != nil {
		return nil, err
	}
	overrides := execspec.Overrides{
		Args:           c.Args().Slice()[1:],
		Cwd:            c.String("cwd"),
		Env:            c.StringSlice("env"),
		User:           c.String("user"),
		AdditionalGids: c.Int64Slice("additional-gids"),
		Caps:           c.StringSlice("cap"),
		TTY:            c.Bool("tty"),
		Apparmor:       c.String("apparmor"),
		Label:          c.String("process-label"),
	}
	if c.IsSet("no-new-privs") {
		v := c.Bool("no-new-privs")
		overrides.NoNewPrivs = &v
	}
	if err := overrides.Apply(p); err != nil {
		return nil, err
	}
	if err := spec.ValidateProcess(p); err != nil {
		return nil, err
	}
	return p, nil
}

// readProcessFile decodes a runtime-spec Process. Fields this runtime does
// not know are tolerated (newer clients send them first), as for
// config.json; anything after the object is not. It must be a regular
// file or a pipe of at most maxSize bytes (readCallerFile).
func readProcessFile(path string, maxSize int64) (*specs.Process, error) {
	raw, err := readCallerFile(path, maxSize)
	if err != nil {
		return nil, fmt.Errorf("--process: %w", err)
	}
	p, err := execspec.Decode(raw)
	if err != nil {
		return nil, fmt.Errorf("--process %s: %w", path, err)
	}
	return p, nil
}

// inPod reports whether ct belongs to a CRI pod sandbox (its annotations,
// kept in libcontainer's labels, name one).
func inPod(ct *libcontainer.Container) bool {
	for _, l := range ct.Config().Labels {
		if strings.HasPrefix(l, hardening.AnnotationSandboxID+"=") {
			return true
		}
	}
	return false
}
