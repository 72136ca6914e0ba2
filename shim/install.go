package shim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hardened-runtime/hardened/runtimeconfig"
)

const (
	defaultDockerConfig     = "/etc/docker/daemon.json"
	defaultDockerPidFile    = "/var/run/docker.pid"
	defaultContainerdConfig = "/etc/containerd/config.toml"
	defaultPodmanConfig     = "/etc/containers/containers.conf"
	defaultRuntimeName      = "hardened"
)

func installCommand() *cli.Command {
	return &cli.Command{
		Name:  "install",
		Usage: "register hardened as a runtime of Docker, containerd or Podman",
		Description: `The install command adds hardened to a container engine's configuration,
keeping every other setting, writing the file atomically with its owner and
mode and keeping a timestamped backup beside it.

  hardened install docker       /etc/docker/daemon.json, then reloads dockerd
  hardened install containerd   /etc/containerd/config.toml (restart containerd)
  hardened install podman       /etc/containers/containers.conf (read by every podman command)

Run "hardened install docker --dry-run" to see the new file first.`,
		Subcommands: []*cli.Command{
			dockerEngineCommand(true),
			containerdEngineCommand(true),
			podmanEngineCommand(true),
		},
	}
}

func uninstallCommand() *cli.Command {
	return &cli.Command{
		Name:  "uninstall",
		Usage: "remove hardened from Docker's, containerd's or Podman's configuration",
		Description: `The uninstall command removes what install added: the runtime's entry and,
if it names hardened, the engine's default runtime setting. Every other
setting is kept; the previous file is backed up beside it.`,
		Subcommands: []*cli.Command{
			dockerEngineCommand(false),
			containerdEngineCommand(false),
			podmanEngineCommand(false),
		},
	}
}

// engineOptions are the flags common to every engine.
type engineOptions struct {
	install bool   // install, else uninstall
	config  string // configuration file
	name    string // runtime name in the engine
	path    string // runtime binary (install only)
	dflt    bool   // also make it the default runtime (install only)
	dryRun  bool   // print the new file, write nothing
	// args are the runtime's global flags, after "--" (Docker's
	// runtimeArgs; install docker only).
	args []string
}

// dockerOptions add how to reach dockerd.
type dockerOptions struct {
	engineOptions
	pidFile string        // dockerd's --pidfile, for the SIGHUP
	host    string        // docker -H; empty for the client's default
	reload  bool          // signal dockerd and check `docker info`
	timeout time.Duration // how long to wait for `docker info` to agree
	// notPointed: --config names another file than the default and no
	// --pidfile says which dockerd reads it, so none is signalled.
	notPointed bool
}

// uninstallPolls is how often uninstall asks `docker info` (every 250
// ms) before it concludes that dockerd keeps the removed runtime until
// it restarts, as Docker 20.10 does.
const uninstallPolls = 8

func engineFlags(install bool, config string) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "config", Value: config, Usage: "configuration file to edit"},
		&cli.StringFlag{Name: "name", Value: defaultRuntimeName, Usage: "runtime name (docker run --runtime=NAME, RuntimeClass handler NAME)"},
		&cli.BoolFlag{Name: "dry-run", Usage: "print the new file and what changes; write nothing"},
	}
	if install {
		flags = append(flags,
			&cli.StringFlag{Name: "path", Usage: "absolute path of the runtime binary (default: this binary)"},
			&cli.BoolFlag{Name: "default", Usage: "also make it the engine's default runtime"},
		)
	}
	return flags
}

func readEngineOptions(c *cli.Context, install bool) (engineOptions, error) {
	if err := checkArgs(c, 0, 0); err != nil {
		return engineOptions{}, err
	}
	return readEngineFlags(c, install)
}

// readEngineFlags reads the flags common to every engine.
func readEngineFlags(c *cli.Context, install bool) (engineOptions, error) {
	o := engineOptions{
		install: install,
		config:  c.String("config"),
		name:    c.String("name"),
		dryRun:  c.Bool("dry-run"),
	}
	if o.name == "" || strings.ContainsAny(o.name, "/ \t\n\"'") {
		return o, fmt.Errorf("--name %q: a runtime name must be a non-empty word", o.name)
	}
	if !install {
		return o, nil
	}
	o.dflt = c.Bool("default")
	o.path = c.String("path")
	if o.path == "" {
		self, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find this binary (pass --path): %w", err)
		}
		if o.path, err = filepath.EvalSymlinks(self); err != nil {
			return o, fmt.Errorf("find this binary (pass --path): %w", err)
		}
	}
	if !filepath.IsAbs(o.path) {
		return o, fmt.Errorf("--path %q: must be absolute (the engine starts it from its own directory)", o.path)
	}
	if info, err := os.Stat(o.path); err != nil {
		return o, fmt.Errorf("--path: %w", err)
	} else if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return o, fmt.Errorf("--path %s: not an executable file", o.path)
	}
	return o, nil
}

func dockerEngineCommand(install bool) *cli.Command {
	usage := "add the runtime to Docker's daemon.json and reload dockerd"
	if !install {
		usage = "remove the runtime from Docker's daemon.json and reload dockerd"
	}
	return &cli.Command{
		Name:      "docker",
		Usage:     usage,
		ArgsUsage: " ",
		Description: `Edits "runtimes" (and with --default "default-runtime") in daemon.json,
keeping every other key and its value, then sends SIGHUP to the dockerd
named by --pidfile and waits until "docker info" agrees. When dockerd is not
running, the file is edited and the new setting applies when it starts.

With --config naming another file and no --pidfile, no dockerd is signalled
(the default one does not read that file). When nothing changed, none is.
Docker 20.10 keeps a removed runtime until dockerd restarts: uninstall then
says to restart it. Arguments after "--" are the runtime's global flags,
written as the entry's runtimeArgs, which registers a second runtime with
its own policy beside the default one.

Examples:
       hardened install docker --default --dry-run
       hardened install docker --name hardened-audit -- --policy=/etc/hardened/audit.json`,
		Flags: append(engineFlags(install, defaultDockerConfig),
			&cli.StringFlag{Name: "pidfile", Value: defaultDockerPidFile, Usage: "dockerd's PID file (its --pidfile)"},
			&cli.StringFlag{Name: "host", Aliases: []string{"H"}, Usage: "dockerd's socket for the check, as docker -H (default: the client's default)"},
			&cli.BoolFlag{Name: "no-reload", Usage: "edit the file only: do not signal dockerd or check docker info"},
			&cli.DurationFlag{Name: "timeout", Value: 15 * time.Second, Usage: "how long to wait for docker info to list the change"},
		),
		Action: func(c *cli.Context) error {
			eo, err := readEngineFlags(c, install)
			if err != nil {
				return err
			}
			if eo.args, err = runtimeArgs(c, install); err != nil {
				return err
			}
			o := dockerOptions{
				engineOptions: eo,
				pidFile:       c.String("pidfile"),
				host:          c.String("host"),
				reload:        !c.Bool("no-reload"),
				timeout:       c.Duration("timeout"),
			}
			if o.reload && filepath.Clean(o.config) != defaultDockerConfig && !c.IsSet("pidfile") {
				o.reload, o.notPointed = false, true
			}
			return configureDocker(c.Context, hostEngines(c.App.Writer, c.App.ErrWriter), o)
		},
	}
}

func containerdEngineCommand(install bool) *cli.Command {
	usage := "add the runtime to containerd's config.toml (then restart containerd)"
	if !install {
		usage = "remove the runtime from containerd's config.toml (then restart containerd)"
	}
	return &cli.Command{
		Name:      "containerd",
		Usage:     usage,
		ArgsUsage: " ",
		Description: `Adds a runc-v2 runtime whose options.BinaryName is hardened to the CRI
plugin's runtimes, in the table the file's "version" calls for (1: plugins.cri,
2: plugins."io.containerd.grpc.v1.cri", 3: plugins."io.containerd.cri.v1.runtime").
containerd reads its configuration only at start: restart it afterwards.
The file is edited in place: comments and layout are kept (and a backup of the
previous file is written beside it).`,
		Flags: engineFlags(install, defaultContainerdConfig),
		Action: func(c *cli.Context) error {
			o, err := readEngineOptions(c, install)
			if err != nil {
				return err
			}
			return configureContainerd(hostEngines(c.App.Writer, c.App.ErrWriter), o)
		},
	}
}

func podmanEngineCommand(install bool) *cli.Command {
	usage := "add the runtime to Podman's containers.conf"
	if !install {
		usage = "remove the runtime from Podman's containers.conf"
	}
	return &cli.Command{
		Name:      "podman",
		Usage:     usage,
		ArgsUsage: " ",
		Description: `Adds [engine.runtimes] NAME = ["PATH"] (and with --default [engine] runtime)
to containers.conf; podman reads it at every command, so nothing is restarted.
Debian ships no /etc/containers/containers.conf (only the commented defaults
in /usr/share/containers): it is created then, and Podman reads it over the
defaults. The file is edited in place: comments and layout are kept (and a
backup of the previous file is written beside it). containers.conf has no
per-runtime arguments: another policy file is chosen per command with
"podman --runtime-flag policy=/etc/hardened/audit.json run ...".

Example: hardened install podman --default --dry-run`,
		Flags: engineFlags(install, defaultPodmanConfig),
		Action: func(c *cli.Context) error {
			o, err := readEngineOptions(c, install)
			if err != nil {
				return err
			}
			return configurePodman(hostEngines(c.App.Writer, c.App.ErrWriter), o)
		},
	}
}

// configurePodman edits containers.conf.
func configurePodman(h engineHost, o engineOptions) error {
	edit, err := editEngineConfig(h, o, "podman", runtimeconfig.InstallPodman, runtimeconfig.UninstallPodman)
	if err != nil {
		return err
	}
	if edit.Changed && o.install {
		fmt.Fprintf(h.stdout, "podman run --runtime %s ...; another policy: podman --runtime-flag policy=FILE --runtime %s run ...\n", o.name, o.name)
	}
	return nil
}

// editEngineConfig reads an engine's configuration file, installs or
// uninstalls the runtime with the engine's editor, and writes the result
// (or prints it for --dry-run). The edit is returned for the engine's own
// follow-up.
func editEngineConfig[E interface{ FileEdit() runtimeconfig.Edit }](h engineHost, o engineOptions, engine string,
	install func(data []byte, r runtimeconfig.Runtime) (E, error), uninstall func(data []byte, name string) (E, error)) (runtimeconfig.Edit, error) {
	op := operation(o.install, engine)
	f, err := h.read(o.config)
	if err != nil {
		return runtimeconfig.Edit{}, fmt.Errorf("%s: %w", op, err)
	}
	var e E
	if o.install {
		e, err = install(f.Data, runtimeconfig.Runtime{Name: o.name, Path: o.path, Default: o.dflt})
	} else {
		e, err = uninstall(f.Data, o.name)
	}
	if err != nil {
		return runtimeconfig.Edit{}, fmt.Errorf("%s: %s: %w; the file was left unchanged", op, f.Path, err)
	}
	edit := e.FileEdit()
	if o.dryRun {
		return runtimeconfig.Edit{}, printDryRun(h, f, edit)
	}
	if err := applyEdit(h, f, edit); err != nil {
		return runtimeconfig.Edit{}, fmt.Errorf("%s: %w", op, err)
	}
	return edit, nil
}

// engineHost is everything install and uninstall do to the host, as
// functions, so that the flow is tested without root, dockerd or files in
// /etc (gVisor's configReaderWriter in runsc install).
type engineHost struct {
	stdout, stderr io.Writer
	read           func(path string) (*runtimeconfig.File, error)
	replace        func(f *runtimeconfig.File, data []byte) (backup string, err error)
	// reloadDockerd sends SIGHUP to the dockerd in pidFile; a missing
	// file returns an error wrapping fs.ErrNotExist.
	reloadDockerd func(pidFile string) (pid int, err error)
	// dockerRuntimes returns `docker info`'s runtimes: name to path.
	dockerRuntimes func(ctx context.Context, host string) (map[string]string, error)
	sleep          func(time.Duration)
}

func hostEngines(stdout, stderr io.Writer) engineHost {
	return engineHost{
		stdout:         stdout,
		stderr:         stderr,
		read:           runtimeconfig.ReadFile,
		replace:        func(f *runtimeconfig.File, data []byte) (string, error) { return f.Replace(data, time.Now()) },
		reloadDockerd:  signalDockerd,
		dockerRuntimes: dockerInfoRuntimes,
		sleep:          time.Sleep,
	}
}

// configureDocker edits daemon.json and has dockerd reload it.
func configureDocker(ctx context.Context, h engineHost, o dockerOptions) error {
	op := operation(o.install, "docker")
	f, err := h.read(o.config)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var edit runtimeconfig.Edit
	if o.install {
		edit, err = runtimeconfig.InstallDocker(f.Data, runtimeconfig.Runtime{Name: o.name, Path: o.path, Default: o.dflt, Args: o.args})
	} else {
		edit, err = runtimeconfig.UninstallDocker(f.Data, o.name)
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w; the file was left unchanged", op, f.Path, err)
	}
	if o.dryRun {
		return printDryRun(h, f, edit)
	}
	if err := applyEdit(h, f, edit); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch {
	case !edit.Changed:
		fmt.Fprintln(h.stdout, "dockerd not signalled: nothing changed")
		return nil
	case o.notPointed:
		fmt.Fprintf(h.stdout, "dockerd not signalled: no --pidfile names the dockerd that reads %s; send that one SIGHUP (or pass --pidfile and -H)\n", f.Path)
		return nil
	case !o.reload:
		fmt.Fprintln(h.stdout, "dockerd not reloaded (--no-reload): send it SIGHUP or restart it to apply")
		return nil
	}
	pid, err := h.reloadDockerd(o.pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(h.stdout, "dockerd is not running (no %s): the change applies when it starts\n", o.pidFile)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %s was written but dockerd was not reloaded: %w", op, f.Path, err)
	}
	fmt.Fprintf(h.stdout, "sent SIGHUP to dockerd (pid %d)\n", pid)
	err = waitDockerRuntimes(ctx, h, o)
	if errors.Is(err, errKeptUntilRestart) {
		fmt.Fprintf(h.stdout, "dockerd (pid %d) keeps runtime %q until it restarts (Docker 20.10 does not drop runtimes on reload): restart dockerd (systemctl restart docker) to finish\n", pid, o.name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %s was written and dockerd (pid %d) signalled, but %w; dockerd's log says why a reload failed", op, f.Path, pid, err)
	}
	return nil
}

// errKeptUntilRestart says that dockerd still lists a removed runtime
// after a reload.
var errKeptUntilRestart = errors.New("dockerd keeps the removed runtime until it restarts")

// waitDockerRuntimes polls `docker info` until it shows the runtime with
// our path (install) or no longer shows it (uninstall; after
// uninstallPolls answers that still list it, errKeptUntilRestart).
func waitDockerRuntimes(ctx context.Context, h engineHost, o dockerOptions) error {
	deadline := time.Now().Add(o.timeout)
	var last string
	for polls := 1; ; polls++ {
		runtimes, err := h.dockerRuntimes(ctx, o.host)
		if err != nil {
			last = err.Error()
		} else {
			path, listed := runtimes[o.name]
			switch {
			case o.install && listed && path == o.path:
				fmt.Fprintf(h.stdout, "docker info lists runtime %q (%s): use docker run --runtime=%s\n", o.name, path, o.name)
				return nil
			case !o.install && !listed:
				fmt.Fprintf(h.stdout, "docker info no longer lists runtime %q\n", o.name)
				return nil
			case !o.install && polls >= uninstallPolls:
				return errKeptUntilRestart
			case listed:
				last = fmt.Sprintf("docker info lists runtime %q with path %q", o.name, path)
			default:
				last = fmt.Sprintf("docker info does not list runtime %q", o.name)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("after %s %s", o.timeout, last)
		}
		h.sleep(250 * time.Millisecond)
	}
}

// configureContainerd edits config.toml; containerd must be restarted.
func configureContainerd(h engineHost, o engineOptions) error {
	edit, err := editEngineConfig(h, o, "containerd", runtimeconfig.InstallContainerd, runtimeconfig.UninstallContainerd)
	if err != nil || !edit.Changed {
		return err
	}
	fmt.Fprintln(h.stdout, "containerd reads its configuration only at start: restart it (systemctl restart containerd)")
	if o.install {
		fmt.Fprintf(h.stdout, "Kubernetes: a RuntimeClass with handler %q selects it; ctr: ctr run --runc-binary %s ...\n", o.name, o.path)
	}
	return nil
}

// applyEdit writes an edit and says what changed.
func applyEdit(h engineHost, f *runtimeconfig.File, edit runtimeconfig.Edit) error {
	if !edit.Changed {
		fmt.Fprintf(h.stdout, "%s: nothing to change\n", f.Path)
		return nil
	}
	backup, err := h.replace(f, edit.Data)
	if err != nil {
		return err
	}
	for _, n := range edit.Notes {
		fmt.Fprintf(h.stdout, "%s: %s\n", f.Path, n)
	}
	if backup != "" {
		fmt.Fprintf(h.stdout, "previous content saved as %s\n", backup)
	}
	return nil
}

// printDryRun shows what would change on stderr and the new content on
// stdout, so that `... --dry-run > new.json` captures only the file.
func printDryRun(h engineHost, f *runtimeconfig.File, edit runtimeconfig.Edit) error {
	if !edit.Changed {
		fmt.Fprintf(h.stderr, "dry run: %s: nothing to change\n", f.Path)
		return nil
	}
	fmt.Fprintf(h.stderr, "dry run: would write %s:\n", f.Path)
	for _, n := range edit.Notes {
		fmt.Fprintf(h.stderr, "  %s\n", n)
	}
	_, err := h.stdout.Write(edit.Data)
	return err
}

func operation(install bool, engine string) string {
	if install {
		return "install " + engine
	}
	return "uninstall " + engine
}

// signalDockerd sends SIGHUP to the process in pidFile after checking it
// is a dockerd: a stale PID file must not signal an unrelated process.
func signalDockerd(pidFile string) (int, error) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%s: no PID in %q", pidFile, strings.TrimSpace(string(data)))
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s names pid %d, which is not running: %w", pidFile, pid, fs.ErrNotExist)
	}
	if err != nil {
		return 0, err
	}
	if name := strings.TrimSpace(string(comm)); name != "dockerd" {
		return 0, fmt.Errorf("%s names pid %d, which is %q, not dockerd", pidFile, pid, name)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return 0, fmt.Errorf("signal dockerd (pid %d): %w", pid, err)
	}
	return pid, nil
}

// dockerInfoRuntimes asks the docker client for dockerd's runtimes.
func dockerInfoRuntimes(ctx context.Context, host string) (map[string]string, error) {
	args := []string{"info", "--format", "{{json .Runtimes}}"}
	if host != "" {
		args = append([]string{"-H", host}, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return parseDockerRuntimes(out)
}

// parseDockerRuntimes reads `docker info --format '{{json .Runtimes}}'`:
// {"runc":{"path":"runc"},"hardened":{"path":"/usr/bin/hardened"}}.
func parseDockerRuntimes(out []byte) (map[string]string, error) {
	var runtimes map[string]struct {
		Path string `json:"path"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &runtimes); err != nil {
		return nil, fmt.Errorf("docker info: unexpected runtimes %q: %w", bytes.TrimSpace(out), err)
	}
	paths := make(map[string]string, len(runtimes))
	for name, rt := range runtimes {
		paths[name] = rt.Path
	}
	return paths, nil
}

// runtimeArgs returns the arguments after "--" of install docker: the
// runtime's global flags, each starting with "-".
func runtimeArgs(c *cli.Context, install bool) ([]string, error) {
	args := c.Args().Slice()
	if len(args) > 0 && !install {
		return nil, fmt.Errorf("uninstall docker takes no arguments (got %q)", args)
	}
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return nil, fmt.Errorf("runtime argument %q: only hardened's global flags go after \"--\" (e.g. --policy=FILE)", a)
		}
	}
	return args, nil
}
