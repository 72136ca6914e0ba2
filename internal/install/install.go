// Package install registers hardened with a container engine: it reads
// the engine's configuration file, edits it with runtimeconfig's pure
// editors, writes it (with a backup) and, for Docker, has dockerd reload
// it and waits until "docker info" agrees. Everything it does to the host
// goes through Host, so the flow is tested without root or an engine.
package install

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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hardened-runtime/hardened/runtimeconfig"
)

// Where the engines keep their configuration on Debian and in the
// engines' own defaults, and the runtime name install registers.
const (
	DefaultDockerConfig     = "/etc/docker/daemon.json"
	DefaultDockerPidFile    = "/var/run/docker.pid"
	DefaultContainerdConfig = "/etc/containerd/config.toml"
	DefaultPodmanConfig     = "/etc/containers/containers.conf"
	DefaultRuntimeName      = "hardened"
)

// Options are the flags common to every engine.
type Options struct {
	Install bool   // install, else uninstall
	Config  string // configuration file
	Name    string // runtime name in the engine
	Path    string // runtime binary (install only)
	Default bool   // also make it the default runtime (install only)
	DryRun  bool   // print the new file, write nothing
	// Args are the runtime's global flags, after "--" (Docker's
	// runtimeArgs; install docker only).
	Args []string
}

// DockerOptions add how to reach dockerd.
type DockerOptions struct {
	Options
	PidFile string        // dockerd's --pidfile, for the SIGHUP
	Host    string        // docker -H; empty for the client's default
	Reload  bool          // signal dockerd and check `docker info`
	Timeout time.Duration // how long to wait for `docker info` to agree
	// notPointed: --config names another file than the default and no
	// --pidfile says which dockerd reads it, so none is signalled.
	NotPointed bool
}

// uninstallPolls is how often uninstall asks `docker info` (every 250
// ms) before it concludes that dockerd keeps the removed runtime until
// it restarts, as Docker 20.10 does.
const uninstallPolls = 8

// Podman edits containers.conf.
func Podman(h Host, o Options) error {
	edit, err := editEngineConfig(h, o, "podman", runtimeconfig.InstallPodman, runtimeconfig.UninstallPodman)
	if err != nil {
		return err
	}
	if edit.Changed && o.Install {
		fmt.Fprintf(h.Stdout, "podman run --runtime %s ...; another policy: podman --runtime-flag policy=FILE --runtime %s run ...\n", o.Name, o.Name)
	}
	return nil
}

// editEngineConfig reads an engine's configuration file, installs or
// uninstalls the runtime with the engine's editor, and writes the result
// (or prints it for --dry-run). The edit is returned for the engine's own
// follow-up.
func editEngineConfig[E interface{ FileEdit() runtimeconfig.Edit }](h Host, o Options, engine string,
	install func(data []byte, r runtimeconfig.Runtime) (E, error), uninstall func(data []byte, name string) (E, error)) (runtimeconfig.Edit, error) {
	op := operation(o.Install, engine)
	f, err := h.Read(o.Config)
	if err != nil {
		return runtimeconfig.Edit{}, fmt.Errorf("%s: %w", op, err)
	}
	var e E
	if o.Install {
		e, err = install(f.Data, runtimeconfig.Runtime{Name: o.Name, Path: o.Path, Default: o.Default})
	} else {
		e, err = uninstall(f.Data, o.Name)
	}
	if err != nil {
		return runtimeconfig.Edit{}, fmt.Errorf("%s: %s: %w; the file was left unchanged", op, f.Path, err)
	}
	edit := e.FileEdit()
	if o.DryRun {
		return runtimeconfig.Edit{}, printDryRun(h, f, edit)
	}
	if err := applyEdit(h, f, edit); err != nil {
		return runtimeconfig.Edit{}, fmt.Errorf("%s: %w", op, err)
	}
	return edit, nil
}

// Host is everything install and uninstall do to the host, as
// functions, so that the flow is tested without root, dockerd or files in
// /etc (gVisor's configReaderWriter in runsc install).
type Host struct {
	Stdout, Stderr io.Writer
	Read           func(path string) (*runtimeconfig.File, error)
	Replace        func(f *runtimeconfig.File, data []byte) (backup string, err error)
	// reloadDockerd sends SIGHUP to the dockerd in pidFile; a missing
	// file returns an error wrapping fs.ErrNotExist.
	ReloadDockerd func(pidFile string) (pid int, err error)
	// dockerRuntimes returns `docker info`'s runtimes: name to path.
	DockerRuntimes func(ctx context.Context, host string) (map[string]string, error)
	Sleep          func(time.Duration)
}

// HostEngines is the real host: files read and replaced with a backup,
// dockerd signalled through its PID file and asked with the docker client.
func HostEngines(stdout, stderr io.Writer) Host {
	return Host{
		Stdout:         stdout,
		Stderr:         stderr,
		Read:           runtimeconfig.ReadFile,
		Replace:        func(f *runtimeconfig.File, data []byte) (string, error) { return f.Replace(data, time.Now()) },
		ReloadDockerd:  signalDockerd,
		DockerRuntimes: dockerInfoRuntimes,
		Sleep:          time.Sleep,
	}
}

// Docker edits daemon.json and has dockerd reload it.
func Docker(ctx context.Context, h Host, o DockerOptions) error {
	op := operation(o.Install, "docker")
	f, err := h.Read(o.Config)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var edit runtimeconfig.Edit
	if o.Install {
		edit, err = runtimeconfig.InstallDocker(f.Data, runtimeconfig.Runtime{Name: o.Name, Path: o.Path, Default: o.Default, Args: o.Args})
	} else {
		edit, err = runtimeconfig.UninstallDocker(f.Data, o.Name)
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w; the file was left unchanged", op, f.Path, err)
	}
	if o.DryRun {
		return printDryRun(h, f, edit)
	}
	if err := applyEdit(h, f, edit); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch {
	case !edit.Changed:
		fmt.Fprintln(h.Stdout, "dockerd not signalled: nothing changed")
		return nil
	case o.NotPointed:
		fmt.Fprintf(h.Stdout, "dockerd not signalled: no --pidfile names the dockerd that reads %s; send that one SIGHUP (or pass --pidfile and -H)\n", f.Path)
		return nil
	case !o.Reload:
		fmt.Fprintln(h.Stdout, "dockerd not reloaded (--no-reload): send it SIGHUP or restart it to apply")
		return nil
	}
	pid, err := h.ReloadDockerd(o.PidFile)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(h.Stdout, "dockerd is not running (no %s): the change applies when it starts\n", o.PidFile)
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %s was written but dockerd was not reloaded: %w", op, f.Path, err)
	}
	fmt.Fprintf(h.Stdout, "sent SIGHUP to dockerd (pid %d)\n", pid)
	err = waitDockerRuntimes(ctx, h, o)
	if errors.Is(err, errKeptUntilRestart) {
		fmt.Fprintf(h.Stdout, "dockerd (pid %d) keeps runtime %q until it restarts (Docker 20.10 does not drop runtimes on reload): restart dockerd (systemctl restart docker) to finish\n", pid, o.Name)
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
func waitDockerRuntimes(ctx context.Context, h Host, o DockerOptions) error {
	deadline := time.Now().Add(o.Timeout)
	var last string
	for polls := 1; ; polls++ {
		runtimes, err := h.DockerRuntimes(ctx, o.Host)
		if err != nil {
			last = err.Error()
		} else {
			path, listed := runtimes[o.Name]
			switch {
			case o.Install && listed && path == o.Path:
				fmt.Fprintf(h.Stdout, "docker info lists runtime %q (%s): use docker run --runtime=%s\n", o.Name, path, o.Name)
				return nil
			case !o.Install && !listed:
				fmt.Fprintf(h.Stdout, "docker info no longer lists runtime %q\n", o.Name)
				return nil
			case !o.Install && polls >= uninstallPolls:
				return errKeptUntilRestart
			case listed:
				last = fmt.Sprintf("docker info lists runtime %q with path %q", o.Name, path)
			default:
				last = fmt.Sprintf("docker info does not list runtime %q", o.Name)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("after %s %s", o.Timeout, last)
		}
		h.Sleep(250 * time.Millisecond)
	}
}

// Containerd edits config.toml; containerd must be restarted.
func Containerd(h Host, o Options) error {
	edit, err := editEngineConfig(h, o, "containerd", runtimeconfig.InstallContainerd, runtimeconfig.UninstallContainerd)
	if err != nil || !edit.Changed {
		return err
	}
	fmt.Fprintln(h.Stdout, "containerd reads its configuration only at start: restart it (systemctl restart containerd)")
	if o.Install {
		fmt.Fprintf(h.Stdout, "Kubernetes: a RuntimeClass with handler %q selects it; ctr: ctr run --runc-binary %s ...\n", o.Name, o.Path)
	}
	return nil
}

// applyEdit writes an edit and says what changed.
func applyEdit(h Host, f *runtimeconfig.File, edit runtimeconfig.Edit) error {
	if !edit.Changed {
		fmt.Fprintf(h.Stdout, "%s: nothing to change\n", f.Path)
		return nil
	}
	backup, err := h.Replace(f, edit.Data)
	if err != nil {
		return err
	}
	for _, n := range edit.Notes {
		fmt.Fprintf(h.Stdout, "%s: %s\n", f.Path, n)
	}
	if backup != "" {
		fmt.Fprintf(h.Stdout, "previous content saved as %s\n", backup)
	}
	return nil
}

// printDryRun shows what would change on stderr and the new content on
// stdout, so that `... --dry-run > new.json` captures only the file.
func printDryRun(h Host, f *runtimeconfig.File, edit runtimeconfig.Edit) error {
	if !edit.Changed {
		fmt.Fprintf(h.Stderr, "dry run: %s: nothing to change\n", f.Path)
		return nil
	}
	fmt.Fprintf(h.Stderr, "dry run: would write %s:\n", f.Path)
	for _, n := range edit.Notes {
		fmt.Fprintf(h.Stderr, "  %s\n", n)
	}
	_, err := h.Stdout.Write(edit.Data)
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
